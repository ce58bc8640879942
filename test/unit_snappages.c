/* test/unit_snappages.c — unit tests of snappages.c: a restore's passes
 * over a small RAM, on the CPU's threads. */
#include <string.h>
#include <sys/mman.h>

#include "unit.h"
#include "../pagehash.h"
#include "../snappages.h"

#define SP_PAGES 96

struct sp_world {
	uint8_t *ram, *snap; /* the guest's RAM; the snapshot's copy of it */
	uint8_t (*table)[GF_PAGEHASH_BYTES];
	uint8_t differ[SP_PAGES], changed[SP_PAGES];
	struct gf_pages p;
};

/* RAM of distinct pages, snapshotted: its copy and table taken. */
static void sp_world(struct sp_world *w)
{
	char err[128];

	memset(w, 0, sizeof *w);
	w->ram = mmap(NULL, SP_PAGES * GF_PAGEHASH_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->snap = mmap(NULL, SP_PAGES * GF_PAGEHASH_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->table = calloc(SP_PAGES, GF_PAGEHASH_BYTES);
	CHECK(w->ram != MAP_FAILED && w->snap != MAP_FAILED && w->table);
	for (unsigned i = 0; i < SP_PAGES; i++)
		if (i % 3)
			memset(w->ram + i * GF_PAGEHASH_PAGE, (int)i, GF_PAGEHASH_PAGE);
	gf_pages_open(&w->p, w->ram, SP_PAGES, 7, "cpu", 0);
	CHECK_EQ(gf_pages_save(&w->p, w->snap, w->table, err, sizeof err), 0);
	CHECK(!memcmp(w->ram, w->snap, SP_PAGES * GF_PAGEHASH_PAGE));
}

static void sp_free(struct sp_world *w)
{
	gf_pages_close(&w->p);
	munmap(w->ram, SP_PAGES * GF_PAGEHASH_PAGE);
	munmap(w->snap, SP_PAGES * GF_PAGEHASH_PAGE);
	free(w->table);
}

/* The guest moves on: one byte of some pages, all of another. */
static void sp_change(struct sp_world *w)
{
	static const unsigned pages[] = { 0, 1, 47, 48, 95 };

	for (unsigned i = 0; i < NELEM(pages); i++) {
		w->ram[pages[i] * GF_PAGEHASH_PAGE + 100 * i] ^= 0x80;
		w->changed[pages[i]] = 1;
	}
	memset(w->ram + 60 * GF_PAGEHASH_PAGE, 0xee, GF_PAGEHASH_PAGE);
	w->changed[60] = 1;
}

static void test_snappages_restore(void)
{
	struct sp_world w;
	uint64_t n = 0, bad = 0;
	char err[128];

	sp_world(&w);
	CHECK_EQ(gf_pages_compare(&w.p, w.table, w.differ, -1, 0, &n, err, sizeof err), 0);
	CHECK_EQ(n, 0);
	sp_change(&w);
	CHECK_EQ(gf_pages_compare(&w.p, w.table, w.differ, -1, 0, &n, err, sizeof err), 0);
	CHECK_EQ(n, 6);
	CHECK(!memcmp(w.differ, w.changed, SP_PAGES));
	CHECK_EQ(gf_pages_verify(&w.p, w.snap, w.table, w.differ, &bad), 0);
	CHECK_EQ(gf_pages_write(&w.p, w.snap, w.differ), 6);
	CHECK(!memcmp(w.ram, w.snap, SP_PAGES * GF_PAGEHASH_PAGE));
	CHECK_EQ(gf_pages_compare(&w.p, w.table, w.differ, -1, 0, &n, err, sizeof err), 0);
	CHECK_EQ(n, 0);
	sp_free(&w);
}

/* A damaged copy of a page to be written is found before anything is;
 * damage to a page that is not written does not matter. */
static void test_snappages_damaged_copy(void)
{
	struct sp_world w;
	uint64_t n = 0, bad = 0;
	char err[128];

	sp_world(&w);
	sp_change(&w);
	w.snap[2 * GF_PAGEHASH_PAGE] ^= 1;  /* not changed: never read */
	w.snap[48 * GF_PAGEHASH_PAGE + 9] ^= 1;
	w.snap[95 * GF_PAGEHASH_PAGE + 9] ^= 1;
	CHECK_EQ(gf_pages_compare(&w.p, w.table, w.differ, -1, 0, &n, err, sizeof err), 0);
	CHECK_EQ(gf_pages_verify(&w.p, w.snap, w.table, w.differ, &bad), GF_ECORRUPT);
	CHECK_EQ(bad, 48); /* the first of them */
	sp_free(&w);
}

static void test_snappages_no_gpu(void)
{
	struct gf_pages p;
	static uint8_t ram[GF_PAGEHASH_PAGE];

	/* "auto" where there is none falls back, and says why */
	setenv("CUDA_VISIBLE_DEVICES", "", 1);
	gf_pages_open(&p, ram, 1, 0, "auto", 0);
	CHECK(!p.gpu);
	CHECK(!strncmp(p.engine, "CPU (", 5) && strstr(p.engine, "not GPU 0: "));
	gf_pages_close(&p);
	gf_pages_open(&p, ram, 1, 0, "cpu", 0);
	CHECK(!p.gpu && !strstr(p.engine, "GPU"));
	gf_pages_close(&p);
}

static const struct test tests[] = {
	T(snappages_restore),
	T(snappages_damaged_copy),
	T(snappages_no_gpu),
};

const struct suite suite_snappages = SUITE(tests);
