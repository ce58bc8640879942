/* test/unit_introspect.c — unit tests of introspect.c on the synthetic
 * guest: paging, the task walk, corrupted lists, gf_find_task and
 * gf_send_signal. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../gpufas.h"

/* ======================================================================
 * Paging: gf_virt_to_phys, gf_read, gf_phys_read
 * ====================================================================== */

static void test_virt_4k_pages(void)
{
	struct guest *g = guest_new(4, 0);
	uint64_t pa, v = 0x1122334455667788ull, got = 0;

	for (uint32_t i = 0; i < HEAP_PAGES; i += 97) {
		uint64_t va = g->heap.va + i * PAGE + (i * 40) % PAGE;
		CHECK_EQ(gf_virt_to_phys(&g->k, va, &pa), GF_OK);
		CHECK_EQ(pa, g->heap.pa[i] + va % PAGE);
	}
	memcpy(host(g, g->heap.pa[5] + 0x128, 8), &v, 8);
	CHECK_EQ(gf_read(&g->k, g->heap.va + 5 * PAGE + 0x128, &got, 8), GF_OK);
	CHECK_EQ(got, v);
	guest_free(g);
}

/* 2 MiB and 1 GiB pages, with the PAT and NX bits set in their entries. */
static void check_large_pages(unsigned levels)
{
	struct guest *g = guest_new(levels, 0);
	uint64_t pa, v = 0xfeedfacecafebeefull, got = 0;
	uint64_t big = g->dmap + BIG_PA, gig = g->dmap + GiB;

	map_large(g, big, BIG_PA, 2);
	map_large(g, gig, 2 * GiB, 3);
	CHECK_EQ(gf_virt_to_phys(&g->k, big + 0x1abcde, &pa), GF_OK);
	CHECK_EQ(pa, BIG_PA + 0x1abcde);
	memcpy(host(g, BIG_PA + 0x1ffff8, 8), &v, 8);
	CHECK_EQ(gf_read(&g->k, big + 0x1ffff8, &got, 8), GF_OK);
	CHECK_EQ(got, v);
	/* the next 2 MiB are not mapped */
	CHECK_EQ(gf_read(&g->k, big + 0x1ffff8, &got, 9), GF_EFAULT);
	/* a 1 GiB page: translation only, its RAM is not there */
	CHECK_EQ(gf_virt_to_phys(&g->k, gig + 0x2345678, &pa), GF_OK);
	CHECK_EQ(pa, 2 * GiB + 0x2345678);
	CHECK_EQ(gf_virt_to_phys(&g->k, gig + GiB - 1, &pa), GF_OK);
	CHECK_EQ(pa, 3 * GiB - 1);
	CHECK_EQ(gf_read(&g->k, gig, &got, 8), GF_EFAULT);
	guest_free(g);
}

static void test_virt_large_pages(void)
{
	check_large_pages(4);
}

static void test_virt_not_present(void)
{
	struct guest *g = guest_new(4, 0);
	uint64_t pa = 0x1234, va = g->dmap + SPARE_OFF;

	CHECK_EQ(gf_virt_to_phys(&g->k, VMALLOC_VA, &pa), GF_EFAULT);      /* PML4 */
	CHECK_EQ(gf_virt_to_phys(&g->k, g->dmap + 3 * GiB, &pa), GF_EFAULT); /* PDPT */
	CHECK_EQ(gf_virt_to_phys(&g->k, g->heap.va + 512 * MiB, &pa),
		 GF_EFAULT);                                                   /* PD */
	CHECK_EQ(gf_virt_to_phys(&g->k, KIMG_VA + KIMG_PAGES * PAGE, &pa),
		 GF_EFAULT);                                                   /* PTE */
	/* an entry with its address but no present bit (swapped, PROT_NONE) */
	map_page(g, va, DATA_PA);
	*pte_slot(g, va, 1) &= ~PTE_P;
	CHECK_EQ(gf_virt_to_phys(&g->k, va, &pa), GF_EFAULT);
	/* ... and a not-present table entry holding a table's address */
	map_page(g, va + 2 * MiB, DATA_PA);
	*pte_slot(g, va + 2 * MiB, 2) &= ~PTE_P;
	CHECK_EQ(gf_virt_to_phys(&g->k, va + 2 * MiB, &pa), GF_EFAULT);
	CHECK_EQ(pa, 0x1234); /* untouched on failure */
	guest_free(g);
}

static void test_virt_5level(void)
{
	struct guest *g = guest_new(5, 0);
	uint64_t pa;

	for (uint32_t i = 0; i < HEAP_PAGES; i += 131) {
		CHECK_EQ(gf_virt_to_phys(&g->k, g->heap.va + i * PAGE + 8, &pa), GF_OK);
		CHECK_EQ(pa, g->heap.pa[i] + 8);
	}
	CHECK_EQ(gf_virt_to_phys(&g->k, KIMG_VA + 3 * PAGE, &pa), GF_OK);
	CHECK_EQ(pa, g->kimg.pa[3]);
	/* the same VA but another level-5 index: a 4-level walk would alias */
	CHECK_EQ(gf_virt_to_phys(&g->k, g->heap.va ^ (1ull << 48), &pa), GF_EFAULT);
	guest_free(g);
	check_large_pages(5);
}

/* Hardware faults on a non-canonical address (#GP); translating it with
 * the bits above 47 (56 with 5 levels) ignored reads whatever its
 * canonical twin maps. */
static void test_virt_rejects_noncanonical(void)
{
	struct guest *g4 = guest_new(4, 0), *g5 = guest_new(5, 0);
	uint64_t pa;

	CHECK_EQ(gf_virt_to_phys(&g4->k, g4->heap.va & 0x0000ffffffffffffull, &pa),
		 GF_EFAULT);
	CHECK_EQ(gf_virt_to_phys(&g4->k, g4->heap.va ^ (1ull << 52), &pa),
		 GF_EFAULT);
	CHECK_EQ(gf_virt_to_phys(&g5->k, g5->heap.va ^ (1ull << 60), &pa),
		 GF_EFAULT);
	guest_free(g4);
	guest_free(g5);
}

/* Reads across pages that lie in different RAM ranges. */
static void test_read_cross_page(void)
{
	struct guest *g = guest_new(4, 0);
	static uint8_t want[3 * PAGE + 200], got[sizeof want];
	uint64_t va = g->heap.va + 10 * PAGE - 100, v;

	CHECK(g->heap.pa[10] - g->heap.pa[9] != PAGE);
	for (size_t i = 0; i < sizeof want; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	put(g, va, want, sizeof want);
	CHECK_EQ(gf_read(&g->k, va, got, sizeof got), GF_OK);
	CHECK(!memcmp(got, want, sizeof got));
	/* one u64 straddling a boundary */
	CHECK_EQ(gf_read(&g->k, g->heap.va + 10 * PAGE - 3, &v, 8), GF_OK);
	CHECK(!memcmp(&v, want + 97, 8));
	guest_free(g);
}

static void test_read_past_range(void)
{
	struct guest *g = guest_new(4, 0);
	uint64_t va = g->dmap + SPARE_OFF, v;

	map_page(g, va, LOW_SIZE - PAGE);            /* the last page of RAM */
	map_page(g, va + PAGE, LOW_SIZE);            /* just past it */
	map_page(g, va + 2 * PAGE, HOLE_PA);         /* in the PCI hole */
	map_page(g, va + 3 * PAGE, HIGH_PA + HIGH_SIZE - PAGE);
	CHECK_EQ(gf_read(&g->k, va + PAGE - 8, &v, 8), GF_OK);
	CHECK_EQ(gf_read(&g->k, va + PAGE - 8, &v, 9), GF_EFAULT);
	CHECK_EQ(gf_read(&g->k, va + PAGE, &v, 1), GF_EFAULT);
	CHECK_EQ(gf_read(&g->k, va + 2 * PAGE, &v, 8), GF_EFAULT);
	CHECK_EQ(gf_read(&g->k, va + 4 * PAGE - 8, &v, 8), GF_OK);
	CHECK_EQ(gf_read(&g->k, va + 4 * PAGE - 8, &v, 16), GF_EFAULT);
	guest_free(g);
}

static void test_phys_read_bounds(void)
{
	struct guest *g = guest_new(4, 0);
	const struct gf_mem *m = &g->k.mem;
	static uint8_t buf[0x200];
	struct gf_mem top = { .nranges = 1, .range = { { .phys = 0xfffffffffffff000ull,
						  .size = PAGE, .base = g->low } } };
	struct gf_mem near_top = { .nranges = 1, .range = { { .phys = 0xffffffff00000000ull,
						       .size = PAGE, .base = g->low } } };
	struct gf_mem two = { .nranges = 2, .range = {
		{ .phys = 0, .size = PAGE, .base = g->low },
		{ .phys = PAGE, .size = PAGE, .base = g->high } } };
	struct gf_mem *many;
	int r;

	CHECK_EQ(gf_phys_read(m, LOW_SIZE - 8, buf, 8), GF_OK);
	CHECK_EQ(gf_phys_read(m, LOW_SIZE - 8, buf, 9), GF_EFAULT);
	CHECK_EQ(gf_phys_read(m, LOW_SIZE, buf, 1), GF_EFAULT);
	CHECK_EQ(gf_phys_read(m, HIGH_PA - 1, buf, 2), GF_EFAULT);
	CHECK_EQ(gf_phys_read(m, HIGH_PA, buf, 8), GF_OK);
	CHECK_EQ(gf_phys_read(m, HIGH_PA + HIGH_SIZE - 4, buf, 4), GF_OK);
	CHECK_EQ(gf_phys_read(m, HIGH_PA + HIGH_SIZE - 4, buf, 5), GF_EFAULT);
	CHECK_EQ(gf_phys_read(m, 0, buf, UINT32_MAX), GF_EFAULT);
	/* pa + len past 2^64 must not wrap into the range */
	CHECK_EQ(gf_phys_read(&top, 0xffffffffffffff00ull, buf, 0x100), GF_OK);
	CHECK_EQ(gf_phys_read(&top, 0xffffffffffffff00ull, buf, 0x101), GF_EFAULT);
	CHECK_EQ(gf_phys_read(&top, 0xfffffffffffffff0ull, buf, 0x20), GF_EFAULT);
	CHECK_EQ(gf_phys_read(&top, 0, buf, 8), GF_EFAULT);
	CHECK_EQ(gf_phys_read(&near_top, 0xffffffff00000010ull, buf, UINT32_MAX),
		 GF_EFAULT);
	/* adjacent ranges in different buffers: either refused, or both parts */
	memset(g->low + PAGE - 4, 'L', 4);
	memset(g->high, 'H', 4);
	memset(buf, 0, 8);
	r = gf_phys_read(&two, PAGE - 4, buf, 8);
	CHECK(r == GF_EFAULT || (r == GF_OK && !memcmp(buf, "LLLLHHHH", 8)));
	/* a count beyond the table is not followed past it */
	many = malloc(sizeof *many);
	REQUIRE(many);
	memset(many, 0, sizeof *many);
	many->nranges = 1000;
	CHECK_EQ(gf_phys_read(many, 0x1000, buf, 8), GF_EFAULT);
	free(many);
	guest_free(g);
}

/* ======================================================================
 * gf_walk_tasks
 * ====================================================================== */

static void walk_world(unsigned levels, int percpu, int threads)
{
	struct guest *g = world_new(levels, percpu);
	struct gf_task out[16];
	uint32_t n = 99;
	char name[64];

	snprintf(name, sizeof name, "world-%ulevel%s%s", levels,
		 percpu ? "-percpu" : "", threads ? "-threads" : "");
	/* SIGKILL to the process `app` */
	fuzz_seed("fuzz_ram", name, g, NULL, 100, (threads ? IMAGE_THREADS : 0) |
		  IMAGE_WRITABLE | 9 << 8);
	CHECK_EQ(gf_walk_tasks(&g->k, threads, out, NELEM(out), &n), GF_OK);
	if (threads)
		check_tasks(g, out, n, WORLD_THREADS, NELEM(WORLD_THREADS), percpu);
	else
		check_tasks(g, out, n, WORLD_PROCESSES, NELEM(WORLD_PROCESSES),
			    percpu);
	guest_free(g);
}

static void test_walk_processes(void)
{
	CHECK_EQ(mm_expected(&MM_SYSTEMD, 0), 307); /* the fixture's own sums */
	CHECK_EQ(mm_expected(&MM_APP, 0), 13);
	walk_world(4, 0, 0);
}

static void test_walk_threads(void)
{
	walk_world(4, 0, 1);
}

static void test_walk_rss_percpu(void)
{
	CHECK_EQ(mm_expected(&MM_SYSTEMD, 1), 102 + 220 + 0);
	CHECK_EQ(mm_expected(&MM_APP, 1), 9 + 3 + 53);
	walk_world(4, 1, 0);
	walk_world(4, 1, 1);
}

static void test_walk_5level(void)
{
	walk_world(5, 0, 0);
	walk_world(5, 1, 1);
}

static void test_walk_empty(void)
{
	struct guest *g = guest_new(4, 0);
	struct gf_task out[1];
	uint32_t n = 99;

	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, 1, &n), GF_OK);
	CHECK_EQ(n, 0);
	guest_free(g);
}

struct state_case {
	uint32_t state, exit_state;
	char letter;
};

static void check_states(const struct state_case *c, uint32_t n)
{
	struct guest *g = guest_new(4, 0);
	struct gf_task out[32];
	uint32_t count = 0;

	for (uint32_t i = 0; i < n; i++)
		process_new(g, &(struct tspec){ .pid = 10 + (int32_t)i,
			.comm = "s", .state = c[i].state,
			.exit_state = c[i].exit_state }, g->init_task, 0);
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &count), GF_OK);
	CHECK_EQ(count, n);
	for (uint32_t i = 0; i < n && i < count; i++)
		if (out[i].state != c[i].letter)
			report(__FILE__, __LINE__, "state %#x exit_state %#x: "
			       "'%c', want '%c'", c[i].state, c[i].exit_state,
			       out[i].state, c[i].letter);
	guest_free(g);
}

/* The letters of fs/proc/array.c, for the values of 4.14 to 6.0. */
static void test_walk_states(void)
{
	static const struct state_case c[] = {
		{ 0x0000, 0, 'R' }, { 0x0001, 0, 'S' }, { 0x0002, 0, 'D' },
		{ 0x0004, 0, 'T' }, { 0x0104, 0, 'T' } /* TASK_STOPPED */,
		{ 0x0008, 0, 't' }, { 0x0000, 0x10, 'X' }, { 0x0000, 0x20, 'Z' },
		{ 0x0001, 0x20, 'Z' }, { 0x0040, 0, 'P' }, { 0x0402, 0, 'I' },
		{ 0x0102, 0, 'D' } /* TASK_KILLABLE */,
		{ 0x1000, 0, 'D' } /* TASK_RTLOCK_WAIT */,
		{ 0x2001, 0, 'S' } /* TASK_INTERRUPTIBLE | TASK_FREEZABLE */,
	};

	check_states(c, NELEM(c));
}

/* From 6.1 (the freezer rewrite) __task_state_index() tests
 * (state & TASK_IDLE) == TASK_IDLE, and reports TASK_FROZEN (0x8000) as D. */
static void test_walk_states_since_6_1(void)
{
	static const struct state_case c[] = {
		{ 0x2402, 0, 'I' } /* TASK_IDLE | TASK_FREEZABLE */,
		{ 0x8000, 0, 'D' } /* TASK_FROZEN */,
	};

	check_states(c, NELEM(c));
}

static void test_walk_comm_unterminated(void)
{
	struct guest *g = guest_new(4, 0);
	struct gf_task out[2];
	uint32_t n = 0;

	process_new(g, &(struct tspec){ .pid = 7, .comm = "0123456789abcdefXYZ" },
		    g->init_task, 0);
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &n), GF_OK);
	CHECK_EQ(n, 1);
	CHECK_STR(out[0].comm, "0123456789abcde");
	guest_free(g);
}

/* A buffer too small: GF_ENOSPC, and nothing written past its end. */
static void check_capacity(struct guest *g, int threads, uint32_t fits)
{
	struct gf_task out[16];
	uint8_t sentinel[sizeof out[0]];
	uint32_t n;

	memset(out, 0xa5, sizeof out);
	memset(sentinel, 0xa5, sizeof sentinel);
	CHECK_EQ(gf_walk_tasks(&g->k, threads, out, fits - 1, &n), GF_ENOSPC);
	CHECK(!memcmp(&out[fits - 1], sentinel, sizeof sentinel));
	CHECK_EQ(gf_walk_tasks(&g->k, threads, out, 0, &n), GF_ENOSPC);
	CHECK_EQ(gf_walk_tasks(&g->k, threads, out, fits, &n), GF_OK);
	CHECK_EQ(n, fits);
}

static void test_walk_enospc(void)
{
	struct guest *g = world_new(4, 0);

	check_capacity(g, 0, NELEM(WORLD_PROCESSES));
	check_capacity(g, 1, NELEM(WORLD_THREADS));
	guest_free(g);
}

/* A walk longer than a chunk of hops (GF_WALK_CHUNK): a process of
 * CHUNKY_THREADS threads, then CHUNKY_PROCESSES more, after the world. */
#define CHUNKY_THREADS 600
#define CHUNKY_PROCESSES 200

static struct guest *chunky_world(uint64_t *many, uint64_t *thread_550)
{
	struct guest *g = world_new(4, 1);

	*many = process_new(g, &(struct tspec){ .pid = 1000, .comm = "many",
		.flags = USER_FLAGS, .start_time = 500, .runtime = 7 },
		g->init_task, 0);
	for (int i = 1; i < CHUNKY_THREADS; i++) {
		uint64_t t = thread_new(g, *many, &(struct tspec){ .pid = 1000 + i,
			.comm = "many-worker", .flags = USER_FLAGS,
			.start_time = 500 + (uint64_t)i, .runtime = (uint64_t)i });
		if (i == 550)
			*thread_550 = t;
	}
	for (int i = 0; i < CHUNKY_PROCESSES; i++)
		process_new(g, &(struct tspec){ .pid = 5000 + i, .comm = "single",
			.flags = USER_FLAGS, .start_time = 900 }, g->init_task, 0);
	return g;
}

static void test_walk_chunks(void)
{
	static struct gf_task out[1024];
	uint32_t world_procs = NELEM(WORLD_PROCESSES), world_threads = NELEM(WORLD_THREADS);
	uint64_t many, t550 = 0, sum = 7;
	struct guest *g = chunky_world(&many, &t550);
	uint32_t n;

	for (int i = 1; i < CHUNKY_THREADS; i++)
		sum += (uint64_t)i;
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &n), GF_OK);
	CHECK_EQ(n, world_procs + 1 + CHUNKY_PROCESSES);
	check_tasks(g, out, world_procs, WORLD_PROCESSES, world_procs, 1);
	CHECK_EQ(out[world_procs].pid, 1000);
	CHECK_EQ(out[world_procs].threads, CHUNKY_THREADS);
	CHECK_EQ(out[world_procs].cpu_ns, sum);
	CHECK_EQ(out[n - 1].pid, 5000 + CHUNKY_PROCESSES - 1);

	CHECK_EQ(gf_walk_tasks(&g->k, 1, out, NELEM(out), &n), GF_OK);
	CHECK_EQ(n, world_threads + CHUNKY_THREADS + CHUNKY_PROCESSES);
	check_tasks(g, out, world_threads, WORLD_THREADS, world_threads, 1);
	for (uint32_t i = 0; i < CHUNKY_THREADS; i++) {
		const struct gf_task *t = &out[world_threads + i];
		CHECK_EQ(t->pid, 1000 + (int32_t)i);
		CHECK_EQ(t->tgid, 1000);
		CHECK_EQ(t->threads, CHUNKY_THREADS); /* the leader's, past chunks */
		CHECK_EQ(t->cpu_ns, i ? i : 7);
	}

	/* full in the middle of a chunk: the first 500 stand */
	memset(out, 0xa5, sizeof out);
	CHECK_EQ(gf_walk_tasks(&g->k, 1, out, 500, &n), GF_ENOSPC);
	CHECK_EQ(n, 500);
	CHECK_EQ(out[499].pid, 1000 + 499 - (int32_t)world_threads);
	CHECK_EQ(out[500].pid, (int32_t)0xa5a5a5a5);

	/* a thread two chunks on, of another group, then with a bad link */
	w32(g, t550 + T_TGID, 5000);
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &n), GF_ECORRUPT);
	CHECK_EQ(gf_walk_tasks(&g->k, 1, out, NELEM(out), &n), GF_ECORRUPT);
	w32(g, t550 + T_TGID, 1000);
	w64(g, t550 + T_THREAD_NODE + 8, many + T_THREAD_NODE);
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &n), GF_ECORRUPT);
	CHECK_EQ(gf_walk_tasks(&g->k, 1, out, NELEM(out), &n), GF_ECORRUPT);
	guest_free(g);
}

/* ======================================================================
 * Corrupted guest data: every walk ends, with an error, quickly.
 * ====================================================================== */

struct corruption {
	const char *what;
	void (*apply)(struct guest *g);
	int procs, threads, find; /* gf_walk_tasks x2, gf_find_task(999) */
};

static uint64_t tasks_of(const struct guest *g, int32_t pid)
{
	return task_va(g, pid) + T_TASKS;
}

static uint64_t node_of(const struct guest *g, int32_t pid)
{
	return task_va(g, pid) + T_THREAD_NODE;
}

void bad_back_link(struct guest *g)
{
	w64(g, tasks_of(g, 100) + 8, tasks_of(g, 2));
}

static void bad_head_back_link(struct guest *g)
{
	w64(g, g->init_task + T_TASKS + 8, tasks_of(g, 1));
}

static void bad_thread_back_link(struct guest *g)
{
	w64(g, node_of(g, 102) + 8, node_of(g, 100));
}

static void tasks_cycle(struct guest *g)
{
	w64(g, tasks_of(g, 300), tasks_of(g, 100));
}

static void tasks_cycle_relinked(struct guest *g)
{
	tasks_cycle(g);
	w64(g, tasks_of(g, 100) + 8, tasks_of(g, 300));
}

static void tasks_self_loop(struct guest *g)
{
	list_init(g, tasks_of(g, 1));
}

static void threads_cycle(struct guest *g)
{
	w64(g, node_of(g, 102), node_of(g, 101));
}

static void wild_next(struct guest *g)
{
	w64(g, tasks_of(g, 3), g->dmap + 0xdead00000ull);
}

static void null_next(struct guest *g)
{
	w64(g, tasks_of(g, 3), 0);
}

static void hole_next(struct guest *g)
{
	map_page(g, g->dmap + SPARE_OFF, HOLE_PA);
	w64(g, tasks_of(g, 3), g->dmap + SPARE_OFF + 0x40);
}

static void poisoned_signal(struct guest *g)
{
	w64(g, task_va(g, 100) + T_SIGNAL, LIST_POISON1);
}

static void wild_thread_node(struct guest *g)
{
	w64(g, node_of(g, 101), VMALLOC_VA + 0x1000);
}

static void null_parent(struct guest *g)
{
	w64(g, task_va(g, 200) + T_REAL_PARENT, 0);
}

static void foreign_thread(struct guest *g)
{
	task_new(g, &(struct tspec){ .pid = 5000, .tgid = 1, .comm = "intruder" },
		 signal_of(g, 100), task_va(g, 1), 0);
}

static void negative_pid(struct guest *g)
{
	w32(g, task_va(g, 200) + T_PID, (uint32_t)-5);
}

static void negative_tgid(struct guest *g)
{
	w32(g, task_va(g, 102) + T_TGID, (uint32_t)-100);
}

static void run_corruptions(const struct corruption *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct guest *g = world_new(4, 0);
		struct gf_task out[16], t;
		uint32_t count;
		int before = failures;
		double t0;

		c[i].apply(g);
		t0 = now_s();
		CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &count), c[i].procs);
		CHECK_EQ(gf_walk_tasks(&g->k, 1, out, NELEM(out), &count), c[i].threads);
		CHECK_EQ(gf_find_task(&g->k, 999, &t), c[i].find);
		CHECK(now_s() - t0 < 0.5);
		note_case(before, "with %s", c[i].what);
		guest_free(g);
	}
}

static void test_corrupt_back_links(void)
{
	static const struct corruption c[] = {
		{ "a wrong tasks.prev", bad_back_link,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
		{ "a wrong prev in the head", bad_head_back_link,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
		{ "a wrong thread_node.prev", bad_thread_back_link,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
	};

	run_corruptions(c, NELEM(c));
}

static void test_corrupt_cycles(void)
{
	static const struct corruption c[] = {
		{ "a tasks cycle missing the head", tasks_cycle,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
		{ "a tasks cycle with its back link patched", tasks_cycle_relinked,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
		{ "a task linked to itself", tasks_self_loop,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
		{ "a thread-list cycle", threads_cycle,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
	};

	run_corruptions(c, NELEM(c));
}

static void test_corrupt_wild_pointers(void)
{
	static const struct corruption c[] = {
		{ "tasks.next unmapped", wild_next, GF_EFAULT, GF_EFAULT, GF_EFAULT },
		{ "tasks.next NULL", null_next, GF_EFAULT, GF_EFAULT, GF_EFAULT },
		{ "tasks.next in no RAM", hole_next, GF_EFAULT, GF_EFAULT, GF_EFAULT },
		{ "signal LIST_POISON1", poisoned_signal,
		  GF_EFAULT, GF_EFAULT, GF_EFAULT },
		{ "thread_node.next unmapped", wild_thread_node,
		  GF_EFAULT, GF_EFAULT, GF_EFAULT },
		{ "real_parent NULL", null_parent, GF_EFAULT, GF_EFAULT, GF_EFAULT },
	};

	run_corruptions(c, NELEM(c));
}

static void test_corrupt_foreign_thread(void)
{
	static const struct corruption c[] = {
		{ "a thread of tgid 1 in pid 100's list", foreign_thread,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ESRCH },
		{ "a thread with a negative tgid", negative_tgid,
		  GF_ECORRUPT, GF_ECORRUPT, GF_ESRCH },
	};

	run_corruptions(c, NELEM(c));
}

static void test_corrupt_negative_pid(void)
{
	static const struct corruption c[] = {
		{ "pid -5", negative_pid, GF_ECORRUPT, GF_ECORRUPT, GF_ECORRUPT },
	};

	run_corruptions(c, NELEM(c));
}

/* A bad mm is not worth failing a listing for: that process shows 0. */
static void test_corrupt_mm_tolerated(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_task out[16];
	uint32_t n = 0;

	w64(g, task_va(g, 1) + T_MM, VMALLOC_VA);
	w64(g, r64(g, task_va(g, 100) + T_MM) + MM_RSS_STAT + PC_COUNTERS,
	    LIST_POISON1);
	CHECK_EQ(gf_walk_tasks(&g->k, 0, out, NELEM(out), &n), GF_OK);
	REQUIRE(n == NELEM(WORLD_PROCESSES));
	CHECK_EQ(out[0].rss_pages, 0);
	/* app: its file counter is unreadable, anon and shmem still count */
	CHECK_EQ(out[3].rss_pages, 3 + 53);
	guest_free(g);
}

/* ======================================================================
 * gf_find_task
 * ====================================================================== */

static void test_find_task(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_task t;
	static const struct { int32_t pid, leader; } found[] = {
		{ 1, 1 }, { 3, 3 }, { 100, 100 }, { 101, 100 }, { 102, 100 },
		{ 300, 300 },
	};

	for (uint32_t i = 0; i < NELEM(found); i++) {
		memset(&t, 0, sizeof t);
		CHECK_EQ(gf_find_task(&g->k, found[i].pid, &t), GF_OK);
		CHECK_EQ(t.pid, found[i].leader);
		CHECK_EQ(t.tgid, found[i].leader);
		CHECK_EQ(t.addr, task_va(g, found[i].leader));
	}
	CHECK_EQ(gf_find_task(&g->k, 102, &t), GF_OK);
	CHECK_EQ(t.threads, 3);
	CHECK_EQ(t.ppid, 1);
	CHECK_EQ(t.start_time, 200);
	guest_free(g);
}

static void test_find_task_errors(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_task t;

	CHECK_EQ(gf_find_task(&g->k, 999, &t), GF_ESRCH);
	CHECK_EQ(gf_find_task(&g->k, 5000, &t), GF_ESRCH);
	CHECK_EQ(gf_find_task(&g->k, 0, &t), GF_EINVAL);
	CHECK_EQ(gf_find_task(&g->k, -1, &t), GF_EINVAL);
	CHECK_EQ(gf_find_task(&g->k, INT32_MIN, &t), GF_EINVAL);
	guest_free(g);
}

/* ======================================================================
 * gf_send_signal: exactly the expected bytes change, or none.
 * ====================================================================== */

/* The world with some state a signal must preserve, and `pid`'s process
 * looked up as the front end does. */
static struct guest *signal_world(int32_t pid, struct gf_task *t)
{
	struct guest *g = world_new(4, 0);
	uint64_t sig = signal_of(g, 100);

	or64(g, task_va(g, 100) + T_PENDING + SP_SIGNAL, SIGBIT(12));
	or64(g, task_va(g, 101) + T_TI_FLAGS, 1ull << TIF_NEED_RESCHED);
	w32(g, sig + S_FLAGS, SIGNAL_STOP_CONTINUED);
	w32(g, sig + S_GROUP_STOP_COUNT, 1);
	REQUIRE(gf_find_task(&g->k, pid, t) == GF_OK);
	return g;
}

static void set_blocked(struct guest *g, int32_t pid, uint64_t mask)
{
	w64(g, task_va(g, pid) + T_BLOCKED, mask);
}

/* What SIGKILL of process 100 must write, applied to `want`. */
void expect_kill(struct guest *want, const int32_t *tids, int n)
{
	uint64_t sig = signal_of(want, 100);

	for (int i = 0; i < n; i++) {
		or64(want, task_va(want, tids[i]) + T_PENDING + SP_SIGNAL,
		     SIGBIT(9));
		or64(want, task_va(want, tids[i]) + T_TI_FLAGS,
		     1ull << TIF_SIGPENDING);
	}
	w32(want, sig + S_FLAGS, SIGNAL_GROUP_EXIT);
	w32(want, sig + S_GROUP_EXIT_CODE, 9);
	w32(want, sig + S_GROUP_STOP_COUNT, 0);
}

static void test_signal_kill(void)
{
	static const int32_t tids[] = { 100, 101, 102 };
	struct gf_task t;
	struct guest *g = signal_world(101, &t), *want = guest_clone(g);
	int res = -1;

	CHECK_EQ(t.pid, 100);
	CHECK_EQ(gf_send_signal(&g->k, &t, 9, &res), GF_OK);
	CHECK_EQ(res, 3);
	expect_kill(want, tids, 3);
	CHECK_MEMORY(want, g);
	guest_free(want);
	guest_free(g);
}

/* A catchable signal: the shared pending bit, and TIF_SIGPENDING in the
 * first thread not blocking it (`tid`, 0 for none). */
static void check_catchable(int sig, const uint64_t blocked[3], int32_t tid)
{
	struct gf_task t;
	struct guest *g = signal_world(100, &t), *want;
	int res = -1;

	for (int i = 0; i < 3; i++)
		set_blocked(g, 100 + i, blocked[i]);
	want = guest_clone(g);
	CHECK_EQ(gf_send_signal(&g->k, &t, sig, &res), GF_OK);
	CHECK_EQ(res, tid);
	or64(want, signal_of(want, 100) + S_SHARED_PENDING + SP_SIGNAL,
	     SIGBIT(sig));
	if (tid)
		or64(want, task_va(want, tid) + T_TI_FLAGS, 1ull << TIF_SIGPENDING);
	CHECK_MEMORY(want, g);
	guest_free(want);
	guest_free(g);
}

static void test_signal_catchable(void)
{
	const uint64_t usr = SIGBIT(10) | SIGBIT(12);

	check_catchable(10, (const uint64_t[3]){ usr, SIGBIT(2), 0 }, 101);
	check_catchable(10, (const uint64_t[3]){ usr, usr, 0 }, 102);
	check_catchable(15, (const uint64_t[3]){ usr, usr, usr }, 100);
}

static void test_signal_all_blocked(void)
{
	const uint64_t all = ~(SIGBIT(9) | SIGBIT(19));

	check_catchable(10, (const uint64_t[3]){ all, all, all }, 0);
	check_catchable(1, (const uint64_t[3]){ all, all, all }, 0);
}

#define ANY_ERROR 1 /* for check_refused: any GF_E* will do */

/* Sends `sig` and expects `err`, with not one byte of the guest changed. */
static void check_refused(struct guest *g, const struct gf_task *t, int sig,
			  int err)
{
	struct guest *want = guest_clone(g);
	int res = 0, got = gf_send_signal(&g->k, t, sig, &res);

	if (err == ANY_ERROR)
		CHECK(got < 0);
	else
		CHECK_EQ(got, err);
	CHECK_MEMORY(want, g);
	guest_free(want);
}

static void test_signal_stale(void)
{
	static const struct { uint32_t off, size; uint64_t value; } change[] = {
		{ T_START_TIME, 8, 201 }, /* the pid was reused */
		{ T_PID, 4, 555 },
		{ T_TGID, 4, 555 },
	};

	for (uint32_t i = 0; i < NELEM(change); i++) {
		struct gf_task t;
		struct guest *g = signal_world(100, &t);
		put(g, t.addr + change[i].off, &change[i].value, change[i].size);
		check_refused(g, &t, 9, GF_ESTALE);
		check_refused(g, &t, 10, GF_ESTALE);
		guest_free(g);
	}
}

static void test_signal_gone(void)
{
	struct gf_task t;
	struct guest *g = signal_world(100, &t);

	t.addr = VMALLOC_VA;
	check_refused(g, &t, 9, GF_EFAULT);
	guest_free(g);
}

static void test_signal_readonly(void)
{
	struct gf_task t;
	struct guest *g = signal_world(100, &t), *want = guest_clone(g);
	int res;

	g->k.writable = 0;
	CHECK(gf_send_signal(&g->k, &t, 9, &res) < 0);
	CHECK(gf_send_signal(&g->k, &t, 10, &res) < 0);
	CHECK_MEMORY(want, g);
	guest_free(want);
	guest_free(g);
}

static void test_signal_bad_number(void)
{
	static const int bad[] = { 0, 32, 33, 64, -1, -9, INT_MAX, INT_MIN };
	struct gf_task t;
	struct guest *g = signal_world(100, &t);

	for (uint32_t i = 0; i < NELEM(bad); i++)
		check_refused(g, &t, bad[i], GF_EINVAL);
	guest_free(g);
}

/* A corruption of process 100's thread list: init's thread_node moved
 * onto it, after 100's own three threads. */
static void splice_init_thread(struct guest *g)
{
	list_del(g, node_of(g, 1));
	list_add_tail(g, node_of(g, 1), signal_of(g, 100) + S_THREAD_HEAD);
}

/* gf_walk_tasks refuses a thread list holding a task of another thread
 * group; a signal must too, or a corrupted list gets an unrelated process
 * (here init, whose death panics the guest) signalled. */
static void test_signal_checks_thread_tgid(void)
{
	struct gf_task t;
	struct guest *g = signal_world(100, &t), *want;
	const uint64_t all = ~(SIGBIT(9) | SIGBIT(19));
	uint8_t a[TASK_SIZE], b[TASK_SIZE];
	int res;

	splice_init_thread(g);
	want = guest_clone(g);
	CHECK(gf_send_signal(&g->k, &t, 9, &res) < 0);
	get(want, task_va(want, 1), a, TASK_SIZE);
	get(g, task_va(g, 1), b, TASK_SIZE);
	CHECK(!memcmp(a, b, TASK_SIZE)); /* init untouched */
	guest_free(want);
	guest_free(g);
	/* the first thread not blocking SIGUSR1 is init's */
	g = signal_world(100, &t);
	splice_init_thread(g);
	for (int i = 0; i < 3; i++)
		set_blocked(g, 100 + i, all);
	check_refused(g, &t, 10, ANY_ERROR);
	guest_free(g);
}

/* A thread list found bad midway through a SIGKILL: nothing written,
 * rather than SIGKILL left pending in the threads before the bad one with
 * neither the group exit nor TIF_SIGPENDING (and GF_ESTALE's message says
 * "nothing written"). */
static void test_signal_no_partial_write(void)
{
	static const struct {
		const char *what;
		void (*apply)(struct guest *g);
	} c[] = {
		{ "init's thread spliced in last", splice_init_thread },
		{ "thread 102's back link broken", bad_thread_back_link },
	};

	for (uint32_t i = 0; i < NELEM(c); i++) {
		struct gf_task t;
		struct guest *g = signal_world(100, &t);
		int before = failures;

		c[i].apply(g);
		check_refused(g, &t, 9, ANY_ERROR);
		note_case(before, "with %s", c[i].what);
		guest_free(g);
	}
}

static const struct test tests[] = {
	T(virt_4k_pages),
	T(virt_large_pages),
	T(virt_not_present),
	T(virt_5level),
	T(virt_rejects_noncanonical),
	T(read_cross_page),
	T(read_past_range),
	T(phys_read_bounds),
	T(walk_processes),
	T(walk_threads),
	T(walk_rss_percpu),
	T(walk_5level),
	T(walk_empty),
	T(walk_states),
	T(walk_states_since_6_1),
	T(walk_comm_unterminated),
	T(walk_enospc),
	T(walk_chunks),
	T(corrupt_back_links),
	T(corrupt_cycles),
	T(corrupt_wild_pointers),
	T(corrupt_foreign_thread),
	T(corrupt_negative_pid),
	T(corrupt_mm_tolerated),
	T(find_task),
	T(find_task_errors),
	T(signal_kill),
	T(signal_catchable),
	T(signal_all_blocked),
	T(signal_stale),
	T(signal_gone),
	T(signal_readonly),
	T(signal_bad_number),
	T(signal_checks_thread_tgid),
	T(signal_no_partial_write),
};

const struct suite suite_introspect = SUITE(tests);
