/* layout.h — struct offsets from BTF or by hand (layout.c).
 */
#ifndef GPUFAS_LAYOUT_H
#define GPUFAS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

struct gf_config;
struct gf_layout;
struct gf_profile_entry;

int layout_from_btf(struct gf_layout *l, const void *btf_data,
		    uint32_t size, char *err, size_t errlen);
int layout_from_profile(struct gf_layout *l, const struct gf_config *c,
			int complete, char *err, size_t errlen);
int layout_from_pairs(struct gf_layout *l, const struct gf_profile_entry *e,
		      uint32_t n, int complete, const char *what, char *err,
		      size_t errlen);
uint32_t layout_to_pairs(const struct gf_layout *l, struct gf_profile_entry *out,
			 uint32_t cap);

#endif
