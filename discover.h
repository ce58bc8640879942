/* discover.h — attaching (discover.c): from raw RAM to a usable
 * struct gf_kernel.
 */
#ifndef GPUFAS_DISCOVER_H
#define GPUFAS_DISCOVER_H

#include <stddef.h>

#include "core.h"

struct gf_config;
struct gf_symtab;
struct gf_target;

struct gf_attachment {
	struct gf_kernel k;
	struct gf_symtab *syms;
	char release[65];
	uint64_t kaslr_offset;
	int64_t phys_base;
	uint32_t ncpus;
	uint64_t ram_bytes;
	char layout_source[32]; /* "btf", "profile", "btf+profile" or
				   "profile-cache" */
	double attach_ms;
	char note[320];         /* why a cached profile was not used, or "" */
};

/* Where a boot put its kernel: what tells one boot's image from another's. */
struct gf_kernel_id {
	uint64_t kaslr_offset;
	int64_t phys_base;
};

int gf_attach(struct gf_attachment *a, const struct gf_target *t,
	      const struct gf_config *cfg, char *err, size_t errlen);
int gf_attach_except(struct gf_attachment *a, const struct gf_target *t,
		     const struct gf_config *cfg, const struct gf_kernel_id *skip,
		     char *err, size_t errlen);
void gf_detach(struct gf_attachment *a);

#endif
