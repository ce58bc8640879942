/* test/bench_pagehash.c — a restore's compare (snappages.c) on the CPU's
 * threads against the GPU, with the outcome checked.
 *
 *   test/bench_pagehash [--gib N] [--runs R] [--changed PCT] [--gpu I]
 *
 * A RAM file as QEMU's (a memfd, shared), N GiB (default 4), 60 % of its
 * pages holding data and the rest zero, is "snapshotted" by the CPU
 * (gf_pages_save: every page copied and hashed); then PCT % (default 5) of
 * its pages are changed, and each engine compares the RAM with the table
 * R times (default 5). Every run must find exactly the pages changed, and
 * the GPU's snapshot table must equal the CPU's bit for bit. Prints one
 * line per engine: median and range of the compare, GB/s, pages found;
 * exit 1 on a wrong answer, 0 otherwise (the GPU part is skipped, and
 * said so, where no GPU can be used).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../clock.h"
#include "../pagehash.h"
#include "../snappages.h"

#define MAX_RUNS 64

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ z >> 27) * 0x94d049bb133111ebull;
	return z ^ z >> 31;
}

static uint8_t *ram_file(uint64_t bytes)
{
	int fd = memfd_create("bench-pagehash", 0);
	void *m;

	if (fd < 0 || ftruncate(fd, (off_t)bytes))
		return NULL;
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static void fill(uint8_t *ram, uint64_t npages)
{
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t *w = (uint64_t *)(ram + p * GF_PAGEHASH_PAGE);
		int data = next_rand() % 100 < 60;
		/* zeros written too: every page allocated, as a guest's RAM file
		 * is once snapshot.c has faulted it in */
		for (unsigned i = 0; i < GF_PAGEHASH_PAGE / 8; i++)
			w[i] = data ? next_rand() : 0;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* runs compares on p; 0 if every one found exactly the changed pages */
static int measure(struct gf_pages *p, const uint8_t (*table)[GF_PAGEHASH_BYTES],
		   const uint8_t *changed, uint64_t nchanged, int runs)
{
	uint8_t *differ = calloc(p->npages, 1);
	double ms[MAX_RUNS], gb = p->npages * (double)GF_PAGEHASH_PAGE / 1e9;
	char err[256];
	int wrong = 0;

	if (!differ)
		return -1;
	for (int r = 0; r < runs; r++) {
		uint64_t found = 0;
		double t = gf_now_monotonic();
		if (gf_pages_compare(p, table, differ, -1, 0, &found, err, sizeof err)) {
			fprintf(stderr, "bench_pagehash: %s\n", err);
			free(differ);
			return -1;
		}
		ms[r] = (gf_now_monotonic() - t) * 1e3;
		wrong += found != nchanged || memcmp(differ, changed, p->npages) != 0;
	}
	qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
	printf("%-40s compare %7.1f ms (%.1f-%.1f)  %6.1f GB/s  %s\n", p->engine,
	       ms[runs / 2], ms[0], ms[runs - 1], gb / (ms[runs / 2] / 1e3),
	       wrong ? "WRONG pages found" : "found every changed page, no other");
	free(differ);
	return wrong ? -1 : 0;
}

/* a snapshot's pass: every page copied and hashed, timed */
static int save(struct gf_pages *p, uint8_t *copy, uint8_t (*table)[GF_PAGEHASH_BYTES])
{
	double t = gf_now_monotonic();
	char err[256];

	if (gf_pages_save(p, copy, table, err, sizeof err)) {
		fprintf(stderr, "bench_pagehash: %s\n", err);
		return -1;
	}
	printf("%-40s snapshot (copy + hash) %7.1f ms\n", p->engine,
	       (gf_now_monotonic() - t) * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gib", required_argument, NULL, 'g' },
		{ "runs", required_argument, NULL, 'r' },
		{ "changed", required_argument, NULL, 'c' },
		{ "gpu", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	double gib = 4, pct = 5;
	int runs = 5, gpu = 0, c, rc = 0;
	uint64_t npages, nchanged = 0, seed;
	uint8_t *ram, *copy, *changed;
	uint8_t (*table)[GF_PAGEHASH_BYTES], (*gpu_table)[GF_PAGEHASH_BYTES];
	struct gf_pages cpu, dev;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'g')
			gib = atof(optarg);
		else if (c == 'r')
			runs = atoi(optarg);
		else if (c == 'c')
			pct = atof(optarg);
		else if (c == 'i')
			gpu = atoi(optarg);
		else
			return 2;
	}
	if (gib <= 0 || gib > 1024 || runs < 1 || runs > MAX_RUNS || pct < 0 || pct > 100) {
		fprintf(stderr, "bench_pagehash: --gib 0-1024, --runs 1-%d, --changed 0-100\n",
			MAX_RUNS);
		return 2;
	}
	npages = (uint64_t)(gib * (1 << 18));
	ram = ram_file(npages * GF_PAGEHASH_PAGE);
	copy = mmap(NULL, npages * GF_PAGEHASH_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0); /* as snapshot.c's */
	changed = calloc(npages, 1);
	table = malloc(npages * GF_PAGEHASH_BYTES);
	gpu_table = malloc(npages * GF_PAGEHASH_BYTES);
	if (!ram || copy == MAP_FAILED || !changed || !table || !gpu_table) {
		fprintf(stderr, "bench_pagehash: out of memory for %.1f GiB twice\n", gib);
		return 2;
	}
	fill(ram, npages);
	seed = next_rand();
	gf_pages_open(&cpu, ram, npages, seed, "cpu", 0);
	if (save(&cpu, copy, table))
		return 2;
	for (uint64_t p = 0; p < npages; p++)
		if (next_rand() % 10000 < pct * 100) {
			ram[p * GF_PAGEHASH_PAGE + next_rand() % GF_PAGEHASH_PAGE] ^= 1;
			changed[p] = 1;
			nchanged++;
		}
	printf("%.1f GiB of RAM, %" PRIu64 " pages, %" PRIu64 " changed (%.1f %%), "
	       "%d runs each\n", gib, npages, nchanged, pct, runs);
	rc |= measure(&cpu, table, changed, nchanged, runs);
	gf_pages_open(&dev, ram, npages, seed, "gpu", gpu);
	if (!dev.gpu) {
		printf("GPU: skipped: %s\n", dev.engine);
	} else {
		rc |= measure(&dev, table, changed, nchanged, runs);
		/* a snapshot of the RAM as it is now, by each: the same table */
		if (save(&cpu, copy, table) || save(&dev, copy, gpu_table))
			rc = -1;
		else if (memcmp(table, gpu_table, npages * GF_PAGEHASH_BYTES)) {
			printf("the GPU's page hashes differ from the CPU's\n");
			rc = -1;
		} else {
			printf("the GPU's %" PRIu64 " page hashes equal the CPU's\n", npages);
		}
	}
	gf_pages_close(&dev);
	gf_pages_close(&cpu);
	return rc ? 1 : 0;
}
