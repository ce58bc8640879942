/* test/fuzz/image.c — guest RAM images for the RAM fuzz targets (image.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#include "../../core.h"

#define PAGE 4096u
#define MAX_PAGES 4096u /* 16 MiB of RAM: beyond it, no image */

struct record {
	uint64_t pa;
	uint16_t len;
} __attribute__((packed));

/* The next whole record at *at, its bytes in *bytes; 0 at the end. */
static int next_record(const uint8_t *data, size_t size, size_t *at,
		       struct record *r, const uint8_t **bytes)
{
	if (size - *at < sizeof *r)
		return 0;
	memcpy(r, data + *at, sizeof *r);
	if (r->len > PAGE - r->pa % PAGE || size - *at - sizeof *r < r->len)
		return 0;
	*bytes = data + *at + sizeof *r;
	*at += sizeof *r + r->len;
	return 1;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted, distinct page addresses of the records; -1 past MAX_PAGES. */
static int pages_of(const uint8_t *data, size_t size, uint64_t *pages,
		    uint32_t *n)
{
	size_t at = sizeof(struct image_head);
	const uint8_t *bytes;
	struct record r;
	uint32_t m = 0;

	*n = 0;
	while (next_record(data, size, &at, &r, &bytes)) {
		if (*n == MAX_PAGES)
			return -1;
		pages[(*n)++] = r.pa - r.pa % PAGE;
	}
	if (!*n)
		return 0;
	qsort(pages, *n, sizeof *pages, by_value);
	for (uint32_t i = 1; i < *n; i++)
		if (pages[i] != pages[m])
			pages[++m] = pages[i];
	*n = m + 1;
	return 0;
}

/* One range per run of adjacent pages. */
static int map_runs(const uint64_t *pages, uint32_t n, struct gf_mem *m)
{
	for (uint32_t i = 0, end; i < n; i = end) {
		struct gf_range *r = &m->range[m->nranges];

		for (end = i + 1; end < n && pages[end] == pages[end - 1] + PAGE; end++)
			;
		if (m->nranges == GF_MAX_RANGES)
			return -1;
		r->phys = pages[i];
		r->size = (uint64_t)(end - i) * PAGE;
		if (!(r->base = calloc(1, r->size)))
			return -1;
		m->nranges++;
	}
	return 0;
}

static uint8_t *where(const struct gf_mem *m, uint64_t pa)
{
	for (uint32_t i = 0; i < m->nranges; i++)
		if (pa - m->range[i].phys < m->range[i].size)
			return m->range[i].base + (pa - m->range[i].phys);
	return NULL;
}

int image_load(const uint8_t *data, size_t size, struct image_head *head,
	       struct gf_kernel *k)
{
	uint64_t *pages = malloc(MAX_PAGES * sizeof *pages);
	size_t at = sizeof *head;
	const uint8_t *bytes;
	struct record r;
	uint32_t n;
	int rc = -1;

	memset(k, 0, sizeof *k);
	k->mem.fd = -1;
	if (!pages || size < sizeof *head)
		goto out;
	memcpy(head, data, sizeof *head);
	/* what discover.c lets through at attach */
	if (head->lay.nr_cpu_ids == 0 || head->lay.nr_cpu_ids > 8192 ||
	    head->lay.tif_sigpending > 63)
		goto out;
	k->lay = head->lay;
	k->writable = !!(head->flags & IMAGE_WRITABLE);
	if (pages_of(data, size, pages, &n) || map_runs(pages, n, &k->mem))
		goto out;
	while (next_record(data, size, &at, &r, &bytes))
		memcpy(where(&k->mem, r.pa), bytes, r.len);
	rc = 0;
out:
	free(pages);
	if (rc)
		image_free(k);
	return rc;
}

void image_free(struct gf_kernel *k)
{
	for (uint32_t i = 0; i < k->mem.nranges; i++)
		free(k->mem.range[i].base);
	k->mem.nranges = 0;
}

int image_copy(const struct gf_kernel *k, struct gf_kernel *copy)
{
	*copy = *k;
	for (uint32_t i = 0; i < k->mem.nranges; i++) {
		struct gf_range *r = &copy->mem.range[i];

		if (!(r->base = malloc(r->size))) {
			copy->mem.nranges = i;
			image_free(copy);
			return -1;
		}
		memcpy(r->base, k->mem.range[i].base, r->size);
	}
	return 0;
}

int image_write(FILE *f, const struct image_head *head,
		const struct gf_kernel *k)
{
	fwrite(head, sizeof *head, 1, f);
	for (uint32_t i = 0; i < k->mem.nranges; i++) {
		const struct gf_range *g = &k->mem.range[i];

		for (uint64_t off = 0; off + PAGE <= g->size; off += PAGE) {
			const uint8_t *p = g->base + off;
			uint32_t lo = 0, hi = PAGE;

			while (lo < PAGE && !p[lo])
				lo++;
			while (hi > lo && !p[hi - 1])
				hi--;
			if (lo == hi)
				continue;
			struct record r = { g->phys + off + lo, (uint16_t)(hi - lo) };
			fwrite(&r, sizeof r, 1, f);
			fwrite(p + lo, 1, hi - lo, f);
		}
	}
	return ferror(f) ? -1 : 0;
}
