/* vmcoreinfo.h — the kernel's note about itself, found in RAM and read
 * (vmcoreinfo.c).
 */
#ifndef GPUFAS_VMCOREINFO_H
#define GPUFAS_VMCOREINFO_H

#include <stddef.h>

#include "core.h"

#define VMCOREINFO_MAX 4096

struct vmcoreinfo {
	char text[VMCOREINFO_MAX + 1];
	uint64_t phys; /* where it was found */
};

int vmcoreinfo_get(const struct vmcoreinfo *vi, const char *key, char *val,
		   size_t vallen);
int vmcoreinfo_hex(const struct vmcoreinfo *vi, const char *key,
		   uint64_t *out);
int vmcoreinfo_dec(const struct vmcoreinfo *vi, const char *key,
		   int64_t *out);
int vmcoreinfo_is_complete(const char *text, size_t len);
int vmcoreinfo_find(const struct gf_mem *m, struct vmcoreinfo *cands,
		    int max);

#endif
