/* snappages.c — the page passes of snapshots and restores (snappages.h):
 * each is split over the CPU's threads by page ranges; where a GPU hashes,
 * it hashes all of RAM at once and the threads do the rest.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"
#include "gpufas.h"
#include "pagehash.h"
#include "snappages.h"

#define PAGES_MAX_THREADS 8
#define PAGES_RUN 256 /* differing pages read ahead at once, at most */

enum pass { PASS_COPY_HASH, PASS_COPY, PASS_COMPARE, PASS_VERIFY, PASS_WRITE };

/* One thread's share of a pass: pages [first, first + count). */
struct job {
	const struct gf_pages *p;
	enum pass pass;
	uint64_t first, count;
	uint8_t *copy;                           /* copy passes */
	uint8_t (*hashes)[GF_PAGEHASH_BYTES];    /* copy: the pages' hashes */
	const uint8_t (*table)[GF_PAGEHASH_BYTES]; /* the snapshot's hashes */
	const uint8_t (*now)[GF_PAGEHASH_BYTES]; /* compare: the GPU's, or NULL */
	uint8_t *mark;                           /* compare: 1 where one differs */
	const uint8_t *differ;                   /* verify, write: those pages */
	const uint8_t *file;                     /* verify, write */
	int fd;                                  /* compare: read ahead there */
	uint64_t ram_off;
	uint64_t done;                           /* pages that differ, written */
	uint64_t bad;                            /* verify: first mismatch, or ~0 */
};

static const uint8_t *page_at(const uint8_t *base, uint64_t page)
{
	return base + page * GF_PAGEHASH_PAGE;
}

/* Asks the kernel to read the snapshot's copy of pages [first, first + n)
 * into the page cache now, while the compare goes on. */
static void read_ahead(const struct job *j, uint64_t first, uint64_t n)
{
	posix_fadvise(j->fd, (off_t)(j->ram_off + first * GF_PAGEHASH_PAGE),
		      (off_t)(n * GF_PAGEHASH_PAGE), POSIX_FADV_WILLNEED);
}

static int page_differs(const struct job *j, uint64_t page)
{
	uint8_t h[GF_PAGEHASH_BYTES];

	if (j->now)
		return memcmp(j->now[page], j->table[page], GF_PAGEHASH_BYTES) != 0;
	gf_pagehash(page_at(j->p->ram, page), &j->p->key, h);
	return memcmp(h, j->table[page], GF_PAGEHASH_BYTES) != 0;
}

static void compare(struct job *j)
{
	uint64_t run = 0, run_len = 0; /* differing pages not yet read ahead */

	for (uint64_t i = j->first; i < j->first + j->count; i++) {
		j->mark[i] = (uint8_t)page_differs(j, i);
		j->done += j->mark[i];
		if (j->mark[i] && !run_len++)
			run = i;
		if (run_len && (!j->mark[i] || run_len == PAGES_RUN)) {
			read_ahead(j, run, run_len);
			run_len = 0;
		}
	}
	if (run_len)
		read_ahead(j, run, run_len);
}

static void verify(struct job *j)
{
	uint8_t h[GF_PAGEHASH_BYTES];

	for (uint64_t i = j->first; i < j->first + j->count; i++) {
		if (!j->differ[i])
			continue;
		gf_pagehash(page_at(j->file, i), &j->p->key, h);
		if (memcmp(h, j->table[i], GF_PAGEHASH_BYTES)) {
			j->bad = i;
			return;
		}
	}
}

static void *run_job(void *arg)
{
	struct job *j = arg;

	if (j->pass == PASS_COMPARE) {
		compare(j);
		return NULL;
	}
	if (j->pass == PASS_VERIFY) {
		verify(j);
		return NULL;
	}
	for (uint64_t i = j->first; i < j->first + j->count; i++) {
		if (j->pass == PASS_WRITE) {
			if (j->differ[i]) {
				memcpy(j->p->ram + i * GF_PAGEHASH_PAGE, page_at(j->file, i),
				       GF_PAGEHASH_PAGE);
				j->done++;
			}
			continue;
		}
		memcpy(j->copy + i * GF_PAGEHASH_PAGE, page_at(j->p->ram, i),
		       GF_PAGEHASH_PAGE);
		if (j->pass == PASS_COPY_HASH)
			gf_pagehash(page_at(j->copy, i), &j->p->key, j->hashes[i]);
	}
	return NULL;
}

/* Runs a pass over every page, each thread on its range of them; a thread
 * that cannot start is run here. with_gpu (a copy pass): the GPU hashes
 * every page into proto->hashes meanwhile, err saying why it could not.
 * Sums the threads' counts into *done and keeps the lowest bad page. */
static int run_pass(const struct gf_pages *p, const struct job *proto, int with_gpu,
		    uint64_t *done, uint64_t *bad, char *err, size_t errlen)
{
	struct job job[PAGES_MAX_THREADS];
	pthread_t tid[PAGES_MAX_THREADS];
	int started[PAGES_MAX_THREADS] = { 0 }, n = p->threads, rc = 0;
	uint64_t per = (p->npages + (uint64_t)n - 1) / (uint64_t)n;

	*done = 0;
	*bad = UINT64_MAX;
	for (int i = 0; i < n; i++) {
		uint64_t first = per * (uint64_t)i;
		job[i] = *proto;
		job[i].p = p;
		job[i].first = first > p->npages ? p->npages : first;
		job[i].count = p->npages - job[i].first < per ? p->npages - job[i].first : per;
		job[i].bad = UINT64_MAX;
		started[i] = (i > 0 || with_gpu) &&
			     !pthread_create(&tid[i], NULL, run_job, &job[i]);
	}
	if (with_gpu)
		rc = gpu_hash(p->gpu, &p->key, proto->hashes, err, errlen);
	for (int i = 0; i < n; i++) {
		if (!started[i])
			run_job(&job[i]);
		else
			pthread_join(tid[i], NULL);
		*done += job[i].done;
		if (job[i].bad < *bad)
			*bad = job[i].bad;
	}
	return rc;
}

/* A GPU that hashes these pages: GF_OK, or a GF_E* and why not. */
static int open_gpu(struct gf_pages *p, int index, char *err, size_t errlen)
{
	int rc;

	if (!(p->now = malloc(p->npages * GF_PAGEHASH_BYTES))) {
		snprintf(err, errlen, "out of memory for %" PRIu64 " page hashes",
			 p->npages);
		return GF_ENOMEM;
	}
	if ((rc = gpu_hash_open(&p->gpu, index, p->ram, p->npages, err, errlen)))
		return rc;
	snprintf(p->engine, sizeof p->engine, "%s", gpu_name(p->gpu));
	return GF_OK;
}

static void drop_gpu(struct gf_pages *p)
{
	gpu_close(p->gpu);
	p->gpu = NULL;
	free(p->now);
	p->now = NULL;
}

void gf_pages_open(struct gf_pages *p, uint8_t *ram, uint64_t npages, uint64_t seed,
		   const char *kind, int gpu)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char why[160];

	memset(p, 0, sizeof *p);
	p->ram = ram;
	p->npages = npages;
	p->threads = cpus < 1 ? 1 : cpus > PAGES_MAX_THREADS ? PAGES_MAX_THREADS
							    : (int)cpus;
	gf_pagehash_key(&p->key, seed);
	snprintf(p->engine, sizeof p->engine, "CPU (%d threads)", p->threads);
	if (!strcmp(kind, "cpu") || !open_gpu(p, gpu, why, sizeof why))
		return;
	drop_gpu(p);
	snprintf(p->engine, sizeof p->engine, "CPU (%d threads; not GPU %d: %s)",
		 p->threads, gpu, why);
}

void gf_pages_close(struct gf_pages *p)
{
	drop_gpu(p);
}

int gf_pages_save(struct gf_pages *p, uint8_t *copy,
		  uint8_t (*table)[GF_PAGEHASH_BYTES], char *err, size_t errlen)
{
	struct job proto = { .pass = p->gpu ? PASS_COPY : PASS_COPY_HASH,
			     .copy = copy, .hashes = table };
	uint64_t done, bad;

	return run_pass(p, &proto, p->gpu != NULL, &done, &bad, err, errlen);
}

int gf_pages_compare(struct gf_pages *p, const uint8_t (*table)[GF_PAGEHASH_BYTES],
		     uint8_t *differ, int fd, uint64_t ram_off, uint64_t *ndiffer,
		     char *err, size_t errlen)
{
	struct job proto = { .pass = PASS_COMPARE, .table = table, .now = p->now,
			     .mark = differ, .fd = fd, .ram_off = ram_off };
	uint64_t bad;
	int rc;

	if (p->gpu && (rc = gpu_hash(p->gpu, &p->key, p->now, err, errlen)))
		return rc;
	return run_pass(p, &proto, 0, ndiffer, &bad, err, errlen);
}

int gf_pages_verify(const struct gf_pages *p, const uint8_t *file,
		    const uint8_t (*table)[GF_PAGEHASH_BYTES], const uint8_t *differ,
		    uint64_t *bad)
{
	struct job proto = { .pass = PASS_VERIFY, .table = table, .differ = differ,
			     .file = file };
	uint64_t done;

	run_pass(p, &proto, 0, &done, bad, NULL, 0);
	return *bad == UINT64_MAX ? GF_OK : GF_ECORRUPT;
}

uint64_t gf_pages_write(const struct gf_pages *p, const uint8_t *file,
			const uint8_t *differ)
{
	struct job proto = { .pass = PASS_WRITE, .file = file, .differ = differ };
	uint64_t done, bad;

	run_pass(p, &proto, 0, &done, &bad, NULL, 0);
	return done;
}
