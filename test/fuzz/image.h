/* test/fuzz/image.h — a guest's RAM as the RAM fuzz targets take it, and
 * as test/unit writes their seeds (./test/unit --seeds DIR).
 *
 * An image is a struct image_head (the kernel's layout and a few
 * arguments), then records until the end of the input:
 *
 *	u64 pa, u16 len, len bytes: the bytes at guest-physical pa,
 *	                            within one 4 KiB page
 *
 * A page that some record names is RAM (zeros where none wrote); any
 * other address is outside RAM. So a mutated image is a mutated kernel:
 * its page tables, task lists and counters are bytes the fuzzer changes.
 */
#ifndef GPUFAS_FUZZ_IMAGE_H
#define GPUFAS_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdio.h>

#include "../../core.h"

struct image_head {
	struct gf_layout lay;
	int32_t pid;    /* the task fuzz_ram looks up and signals */
	uint32_t flags; /* IMAGE_*; bits 8-15: the signal (mod 33); 16-31: the
			   log records fuzz_ram asks for */
};

enum { IMAGE_THREADS = 1, IMAGE_WRITABLE = 2 };

static inline int image_signal(const struct image_head *h)
{
	return (int)((h->flags >> 8) & 0xff) % 33;
}

/* The kernel an image describes: each run of adjacent pages is one RAM
 * range in its own allocation, so that a read past a range's end is
 * ASan's to catch. 0, or -1 for an input that is no image (too short,
 * more ranges than gf_mem holds, too much RAM). */
int image_load(const uint8_t *data, size_t size, struct image_head *head,
	       struct gf_kernel *k);
void image_free(struct gf_kernel *k);
/* A copy of k (its layout and every RAM range, each in an allocation of
 * its own), to hold beside k as it was; image_free frees it. 0, or -1 out
 * of memory. */
int image_copy(const struct gf_kernel *k, struct gf_kernel *copy);

/* Writes the image of k's RAM (the non-zero bytes of each page). */
int image_write(FILE *f, const struct image_head *head,
		const struct gf_kernel *k);

/* ram.c: fuzz_ram's calls on k as head asks them: the walk, the lookup
 * of head->pid into *t and, where it is found (1), the signal; the
 * counters, the log tail and the in-OS helper's lookup. */
int fuzz_ram_calls(struct gf_kernel *k, const struct image_head *head,
		   struct gf_task *t);

#endif
