/* test/fuzz/record.c — a real guest's kernel as seeds of the RAM fuzz
 * targets (image.h). It attaches to vm:PATH as gpufas does (target.c,
 * discover.c), then makes fuzz_ram's calls (ram.c) on a private,
 * copy-on-write map of the guest's RAM, each read through gf_mem's read
 * hook (the one /proc/kcore's RAM is read with), which logs it; the
 * ranges stay mapped for the signal among the calls, which so writes into
 * this process's copy, never into the guest. A seed holds exactly the
 * bytes its calls read, as the guest (paused by the caller) holds them,
 * and its head asks for the same calls; loaded as the targets load it, it
 * must make them read the same bytes again.
 *
 *	record vm:PATH PID OUT
 *
 * writes OUT-processes (the walk of processes, SIGKILL to PID) and
 * OUT-threads (the walk of threads, SIGTERM to PID), both writable and
 * with a log tail of LOG_RECORDS records, and says what each holds.
 * test/fuzz/record.py boots the guests and runs it (make fuzz-record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "image.h"

#include "../../config.h"
#include "../../core.h"
#include "../../discover.h"
#include "../../introspect.h"
#include "../../target.h"

#define LOG_RECORDS 8
#define PAGE 4096u
#define RANGES_MOST 48
#define SIGKILL 9
#define SIGTERM 15

/* A read, as the kernel made it. */
struct span {
	uint64_t pa;
	uint32_t len;
};

static struct {
	struct span *s;
	size_t n, cap;
} reads;

static int logged_read(const struct gf_mem *m, uint64_t pa, void *dst,
		       uint32_t len)
{
	volatile uint8_t *p = gf_phys_ptr(m, pa, len);

	if (!p)
		return GF_EFAULT;
	if (reads.n == reads.cap) {
		reads.cap = reads.cap ? 2 * reads.cap : 4096;
		if (!(reads.s = realloc(reads.s, reads.cap * sizeof *reads.s))) {
			fprintf(stderr, "record: out of memory\n");
			exit(1);
		}
	}
	reads.s[reads.n++] = (struct span){ pa, len };
	gf_copy_volatile(dst, p, len);
	return GF_OK;
}

/* k's RAM, mapped again privately (copy-on-write over t's file) and read
 * through logged_read. */
static uint8_t *private_map(const struct gf_target *t, const struct gf_kernel *k,
			    struct gf_kernel *copy)
{
	uint8_t *map = mmap(NULL, t->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			    t->fd, 0);

	if (map == MAP_FAILED)
		return NULL;
	*copy = *k;
	for (uint32_t i = 0; i < k->mem.nranges; i++)
		copy->mem.range[i].base = map + (k->mem.range[i].base - t->map);
	copy->mem.read = logged_read;
	copy->writable = 1;
	return map;
}

static void append(FILE *f, const void *p, size_t len)
{
	if (fwrite(p, 1, len, f) != len) {
		perror("record");
		exit(1);
	}
}

static int by_address(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->pa < y->pa ? -1 : x->pa > y->pa;
}

/* The logged reads in address order, those that overlap or touch made
 * one. */
static void merge_reads(void)
{
	size_t m = 0;

	qsort(reads.s, reads.n, sizeof *reads.s, by_address);
	for (size_t i = 1; i < reads.n; i++) {
		struct span *last = &reads.s[m], *s = &reads.s[i];

		if (s->pa <= last->pa + last->len) {
			if (s->pa + s->len > last->pa + last->len)
				last->len = (uint32_t)(s->pa + s->len - last->pa);
		} else {
			reads.s[++m] = *s;
		}
	}
	reads.n = reads.n ? m + 1 : 0;
}

/* The image of the bytes read, from k (the guest's own RAM): a record for
 * each run of them within a page. */
static void write_image(FILE *f, const struct image_head *head,
			const struct gf_kernel *k)
{
	append(f, head, sizeof *head);
	for (size_t i = 0; i < reads.n; i++)
		for (uint64_t pa = reads.s[i].pa, end = pa + reads.s[i].len; pa < end;) {
			uint64_t page_end = (pa | (PAGE - 1)) + 1;
			uint16_t len = (uint16_t)((end < page_end ? end : page_end) - pa);

			append(f, &pa, sizeof pa);
			append(f, &len, sizeof len);
			append(f, (const void *)gf_phys_ptr(&k->mem, pa, len), len);
			pa += len;
		}
}

static int by_width(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->len != y->len ? (x->len < y->len ? -1 : 1) : by_address(a, b);
}

/* The pages between runs of pages read, as empty records that name them
 * RAM: across the narrowest gaps first, until at most RANGES_MOST runs
 * remain. The test guests' reads land in 45 to 61 runs, near the
 * GF_MAX_RANGES ranges image.c gives an image: joined, a boot with more
 * still gives one, and the ranges left take the pages a fuzzer adds. */
static void join_runs(FILE *f)
{
	struct span *gap = calloc(reads.n ? reads.n : 1, sizeof *gap);
	uint64_t last = 0;
	size_t n = 0;

	if (!gap) {
		fprintf(stderr, "record: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < reads.n; i++) {
		uint64_t first = reads.s[i].pa / PAGE;

		if (i && first > last + 1)
			gap[n++] = (struct span){ last + 1, (uint32_t)(first - last - 1) };
		last = (reads.s[i].pa + reads.s[i].len - 1) / PAGE;
	}
	qsort(gap, n, sizeof *gap, by_width);
	for (size_t i = 0; n + 1 - i > RANGES_MOST; i++)
		for (uint64_t page = gap[i].pa; page < gap[i].pa + gap[i].len; page++) {
			uint64_t pa = page * PAGE;
			uint16_t none = 0;

			append(f, &pa, sizeof pa);
			append(f, &none, sizeof none);
		}
	free(gap);
}

/* Whether the seed's kernel, loaded as the fuzz targets load it, makes
 * the calls read what the guest's did (reads, merged): the same bytes, so
 * the same path through them. */
static int replays(const uint8_t *seed, size_t size, struct gf_kernel *k)
{
	struct span *recorded = reads.s;
	size_t n = reads.n;
	struct image_head head;
	struct gf_task task;
	int same;

	if (image_load(seed, size, &head, k))
		return 0;
	reads.s = NULL;
	reads.n = reads.cap = 0;
	k->mem.read = logged_read;
	fuzz_ram_calls(k, &head, &task);
	merge_reads();
	same = reads.n == n;
	for (size_t i = 0; same && i < n; i++)
		same = reads.s[i].pa == recorded[i].pa && reads.s[i].len == recorded[i].len;
	free(reads.s);
	reads.s = recorded;
	reads.n = reads.cap = n;
	return same;
}

/* What a seed holds: the pages read and their bytes, its pages (those
 * read and those joining them) in ranges, and its size. */
static void report(const char *path, const struct gf_kernel *k, size_t size)
{
	uint64_t pages = 0, read = 0, bytes = 0, last = 0;

	for (uint32_t i = 0; i < k->mem.nranges; i++)
		pages += k->mem.range[i].size / PAGE;
	for (size_t i = 0; i < reads.n; i++) {
		uint64_t first = reads.s[i].pa / PAGE, end = reads.s[i].pa + reads.s[i].len - 1;

		read += end / PAGE - first + (!i || first != last);
		last = end / PAGE;
		bytes += reads.s[i].len;
	}
	printf("%s: %llu pages read (%llu bytes), %llu pages in %u ranges, %zu bytes\n",
	       path, (unsigned long long)read, (unsigned long long)bytes,
	       (unsigned long long)pages, k->mem.nranges, size);
}

/* One seed: the calls on a fresh private map, the image of what they
 * read, checked to replay them. */
static int record(const struct gf_target *t, const struct gf_kernel *k,
		  const struct image_head *head, const char *path)
{
	struct gf_kernel rec, loaded = { 0 };
	struct gf_task task;
	uint8_t *map = private_map(t, k, &rec);
	char *seed = NULL;
	size_t size = 0;
	FILE *f;
	int rc = -1;

	reads.n = 0;
	if (!map) {
		perror("record: mmap");
		return -1;
	}
	if (!fuzz_ram_calls(&rec, head, &task))
		fprintf(stderr, "record: %s: no task %d\n", path, head->pid);
	else if (!(f = open_memstream(&seed, &size)))
		perror("record");
	else if ((merge_reads(), write_image(f, head, k), join_runs(f), fclose(f)))
		perror("record");
	else if (!replays((const uint8_t *)seed, size, &loaded))
		fprintf(stderr, "record: %s: the image does not replay the calls' reads "
			"(or image.c does not load it)\n", path);
	else if (!(f = fopen(path, "wb")) || (append(f, seed, size), fclose(f)))
		perror(path);
	else
		rc = 0;
	if (!rc)
		report(path, &loaded, size);
	image_free(&loaded);
	free(seed);
	munmap(map, t->map_size);
	return rc;
}

int main(int argc, char **argv)
{
	static struct gf_attachment a;
	static struct gf_target t;
	struct image_head head = { 0 };
	struct gf_config cfg;
	char err[512], path[4096];
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: record vm:PATH PID OUT\n");
		return 2;
	}
	config_defaults(&cfg);
	cfg.no_cache = 1;
	if (target_open(&t, argv[1], 0)) {
		fprintf(stderr, "record: %s\n", t.error);
		return 1;
	}
	if (gf_attach(&a, &t, &cfg, err, sizeof err)) {
		fprintf(stderr, "record: %s: %s\n", argv[1], err);
		return 1;
	}
	head.lay = a.k.lay;
	head.pid = atoi(argv[2]);
	head.flags = IMAGE_WRITABLE | SIGKILL << 8 | LOG_RECORDS << 16;
	snprintf(path, sizeof path, "%s-processes", argv[3]);
	rc = record(&t, &a.k, &head, path);
	head.flags = IMAGE_THREADS | IMAGE_WRITABLE | SIGTERM << 8 | LOG_RECORDS << 16;
	snprintf(path, sizeof path, "%s-threads", argv[3]);
	rc |= record(&t, &a.k, &head, path);
	gf_detach(&a);
	target_close(&t);
	return rc ? 1 : 0;
}
