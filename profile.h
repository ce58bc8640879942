/* profile.h — what discovery derived for one kernel build, cached
 * (profile.c).
 */
#ifndef GPUFAS_PROFILE_H
#define GPUFAS_PROFILE_H

#include <stddef.h>

#include "config.h"
#include "core.h"
#include "kallsyms.h"

/* A profile is kept under its kernel's VMCOREINFO BUILD-ID in
 * $GPUFAS_CACHE/profiles (default ~/.cache/gpufas/profiles) and checked
 * against memory before use. */
#define GF_BUILD_ID_MAX 64   /* hex digits: SHA-1's 40, with room */
#define GF_PROFILE_FIELDS 128

struct gf_profile {
	char build_id[GF_BUILD_ID_MAX + 1];
	char release[65];
	uint32_t kallsyms; /* the kernel's symbol count */
	uint32_t nfields, nsyms;
	struct gf_profile_entry field[GF_PROFILE_FIELDS]; /* layout.c's names */
	struct gf_profile_entry sym[KALLSYMS_MAX_WANTED]; /* this boot's addresses */
};

int profile_dir(char *dir, size_t len);
int profile_load(const char *dir, const char *build_id, uint64_t stext,
		 struct gf_profile *p, char *err, size_t errlen);
int profile_save(const char *dir, const struct gf_profile *p, uint64_t stext,
		 char *err, size_t errlen);
int profile_fits(const struct gf_kernel *k, const char *release,
		 uint64_t linux_banner, char *why, size_t whylen);

#endif
