/* test/unit_detect.c — unit tests of detect.c: the detectors, fed with
 * made-up samples. */
#include "unit.h"

#include "../core.h"
#include "../detect.h"
#include "../loop.h"

/* ---- Detectors, fed with made-up samples ---- */

/* What a guest does for a while, per second (CPU shares per CPU). */
struct load {
	double usr, sys;     /* every CPU */
	double cs;           /* context switches, every CPU */
	double jiffies;      /* 250 normally; 0 when ticks stop */
	int idle_now, iowaiters;
	int64_t blocked;
	double pswpin, pswpout;
	uint64_t total, free, available, swap_total, swap_free; /* pages */
	int32_t panic_cpu;
};

#define NCPU_SAMPLE 2
#define PAGES_MIB 256ull

static const struct load IDLE = {
	.cs = 20, .jiffies = 250, .idle_now = 1, .total = 512 * PAGES_MIB,
	.free = 400 * PAGES_MIB, .available = 420 * PAGES_MIB, .panic_cpu = -1,
};

/* Idle time not charged yet: tick_sched charges an idle period when the
 * CPU wakes. One history per test. */
static uint64_t uncharged_idle[NCPU_SAMPLE];

#define HISTORY_POINTS 256

static struct gf_history *history_new(void)
{
	struct gf_history *h = xcalloc(sizeof *h);

	h->point = xcalloc(HISTORY_POINTS * sizeof *h->point);
	h->cap = HISTORY_POINTS;
	return h;
}

static void history_free(struct gf_history *h)
{
	free(h->point);
	free(h);
}

/* Appends `seconds` of `ld` to the history, a sample each 100 ms, the
 * counters going on from the newest sample. */
static double feed(struct gf_history *h, double seconds, const struct load *ld)
{
	const struct gf_point *last = gf_history_newest(h);
	struct gf_point p = { 0 };

	if (last) {
		p.s = last->s;
		p.time = last->time;
	} else {
		p.s.jiffies = 1000;
	}
	for (double t = 0; t < seconds - 1e-9; t += 0.1) {
		p.time += 0.1;
		p.s.ncpus = NCPU_SAMPLE;
		for (int c = 0; c < NCPU_SAMPLE; c++) {
			struct gf_cpu_counters *cpu = &p.s.cpu[c];
			cpu->online = 1;
			cpu->user_ns += (uint64_t)(ld->usr * 1e8);
			cpu->system_ns += (uint64_t)(ld->sys * 1e8);
			cpu->switches += (uint64_t)(ld->cs * 0.1);
			uncharged_idle[c] += (uint64_t)((1 - ld->usr - ld->sys) * 1e8);
			if (!ld->idle_now) {
				cpu->idle_ns += uncharged_idle[c];
				uncharged_idle[c] = 0;
			}
			cpu->idle_now = (uint8_t)ld->idle_now;
			cpu->iowaiters = ld->iowaiters;
			cpu->uninterruptible = c ? 0 : ld->blocked;
		}
		p.s.jiffies += (uint64_t)(ld->jiffies * 0.1);
		p.s.pswpin += (uint64_t)(ld->pswpin * 0.1);
		p.s.pswpout += (uint64_t)(ld->pswpout * 0.1);
		p.s.total_pages = ld->total;
		p.s.free_pages = ld->free;
		p.s.available_pages = ld->available;
		p.s.swap_total_pages = ld->swap_total;
		p.s.swap_free_pages = ld->swap_free;
		p.s.panic_cpu = ld->panic_cpu;
		gf_history_push(h, &p);
	}
	return p.time;
}

/* Processes now and at checkpoints, as the watch loop keeps them. */
struct world_procs {
	struct gf_procs p;
	struct gf_task now[8];
	struct gf_mark mark[GF_MAX_AGES * GF_CHECKPOINTS][8];
	uint32_t index[GF_MAX_AGES * GF_CHECKPOINTS][16];
};

/* A growing hog, a CPU spinner, a bystander. */
static void three_tasks(struct gf_task *t, uint64_t hog_pages, uint64_t spin_ns)
{
	t[0] = (struct gf_task){ .pid = 50, .tgid = 50, .start_time = 7,
				 .rss_pages = hog_pages, .comm = "hog" };
	t[1] = (struct gf_task){ .pid = 60, .tgid = 60, .start_time = 8,
				 .cpu_ns = spin_ns, .rss_pages = 100, .comm = "spin" };
	t[2] = (struct gf_task){ .pid = 70, .tgid = 70, .start_time = 9,
				 .rss_pages = 9000, .comm = "db" };
}

/* The processes at `time`: a checkpoint of the first n of three_tasks(). */
static void checkpoint_at(struct world_procs *w, double time, uint32_t n,
			  uint64_t hog_pages, uint64_t spin_ns)
{
	struct gf_past *past = &w->p.past[w->p.npast];
	struct gf_task t[3];

	three_tasks(t, hog_pages, spin_ns);
	gf_checkpoint_fill(w->mark[w->p.npast], w->index[w->p.npast], 16, t, n);
	*past = (struct gf_past){ .time = time, .mark = w->mark[w->p.npast],
				  .index = w->index[w->p.npast], .count = n,
				  .index_cap = 16, .complete = 1 };
	w->p.npast++;
}

static void tasks_now(struct world_procs *w, double time, uint64_t hog_pages,
		      uint64_t spin_ns)
{
	three_tasks(w->now, hog_pages, spin_ns);
	w->p.task = w->now;
	w->p.ntasks = 3;
	w->p.time = time;
}

/* Which classes the detectors find on h, as a bit set. */
static unsigned judged(const struct gf_history *h, const struct gf_procs *procs,
		       int atomic_sleep, struct gf_verdict *v)
{
	struct gf_thresholds th;
	struct gf_rates *scratch = xcalloc(sizeof *scratch);
	struct gf_judge j = { &th, h, procs, atomic_sleep, scratch };
	unsigned found = 0;

	gf_detect_defaults(&th);
	for (int c = 0; c < GF_NCLASSES; c++)
		if (gf_detect(&j, (enum gf_class)c, &v[c]))
			found |= 1u << c;
	free(scratch);
	return found;
}

static unsigned verdicts(const struct gf_history *h, int atomic_sleep,
			 struct gf_verdict *v)
{
	return judged(h, NULL, atomic_sleep, v);
}

#define ONLY(c) (1u << (c))

static void test_detect_signatures(void)
{
	const struct { /* automatic: clang takes no IDLE in a static initializer */
		const char *name;
		struct load ld;
		int atomic_sleep;
		unsigned want;
	} cases[] = {
		{ "idle", IDLE, 0, 0 },
		{ "F1: no ticks, busy, no switches",
		  { .total = 1, .available = 1, .panic_cpu = -1 }, 0, ONLY(GF_F1) },
		{ "F2: kernel loop, switching",
		  { .sys = 1, .cs = 600, .jiffies = 250, .total = 1, .available = 1,
		    .panic_cpu = -1 }, 0, ONLY(GF_F2) },
		{ "F3: kernel loop, no switches",
		  { .sys = 1, .cs = 0, .jiffies = 250, .total = 1, .available = 1,
		    .panic_cpu = -1 }, 0, ONLY(GF_F3) },
		{ "F5: F3 and the log's atomic sleep",
		  { .sys = 1, .cs = 0, .jiffies = 250, .total = 1, .available = 1,
		    .panic_cpu = -1 }, 1, ONLY(GF_F5) },
		{ "F4: blocked and waiting for I/O",
		  { .cs = 50, .jiffies = 250, .idle_now = 1, .iowaiters = 3,
		    .blocked = 40, .total = 1, .available = 1, .panic_cpu = -1 },
		  0, ONLY(GF_F4) },
		{ "F4 needs 32 blocked",
		  { .cs = 50, .jiffies = 250, .idle_now = 1, .iowaiters = 3,
		    .blocked = 31, .total = 1, .available = 1, .panic_cpu = -1 },
		  0, 0 },
		{ "F6: swapping out, little free",
		  { .cs = 50, .jiffies = 250, .idle_now = 1, .pswpout = 5000,
		    .total = 512 * PAGES_MIB, .free = 100 * PAGES_MIB,
		    .available = 200 * PAGES_MIB, .swap_total = 1,
		    .swap_free = 1, .panic_cpu = -1 }, 0, ONLY(GF_F6) },
		{ "busy user space is none of them",
		  { .usr = 0.5, .sys = 0.2, .cs = 2000, .jiffies = 250,
		    .total = 1, .available = 1, .panic_cpu = -1 }, 0, 0 },
		{ "panic hides the rest",
		  { .sys = 1, .jiffies = 0, .total = 1, .panic_cpu = 1 }, 0,
		  ONLY(GF_PANIC) },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		struct gf_history *h = history_new();
		struct gf_verdict v[GF_NCLASSES];
		int before = failures;

		feed(h, 1, &cases[i].ld);
		CHECK_EQ(verdicts(h, cases[i].atomic_sleep, v), cases[i].want);
		note_case(before, "%s", cases[i].name);
		history_free(h);
	}
}

static void test_detect_needs_a_window(void)
{
	struct gf_history *h = history_new();
	struct gf_verdict v[GF_NCLASSES];
	struct load f3 = { .sys = 1, .jiffies = 250, .total = 1, .available = 1,
			   .panic_cpu = -1 };

	/* 0.3 s of F3 after a quiet second: the 0.5 s window is not full */
	feed(h, 1, &IDLE);
	feed(h, 0.3, &f3);
	CHECK_EQ(verdicts(h, 0, v), 0);
	feed(h, 0.3, &f3);
	CHECK_EQ(verdicts(h, 0, v), ONLY(GF_F3));
	CHECK_EQ(v[GF_F3].nevidence, 3);
	CHECK_STR(v[GF_F3].evidence[0].name, "sys_min_pct");
	history_free(h);
}

/* The ring keeps its newest cap points, and looks back by time. */
static void test_detect_history_ring(void)
{
	struct gf_history *h = history_new();
	double t;

	t = feed(h, 40, &IDLE); /* 400 points into 256 */
	CHECK_EQ(h->count, HISTORY_POINTS);
	CHECK(gf_history_newest(h)->time == t);
	REQUIRE(gf_history_back(h, 5) != NULL);
	CHECK(t - gf_history_back(h, 5)->time >= 5 - 1e-6);
	CHECK(t - gf_history_back(h, 5)->time < 5.1);
	CHECK(gf_history_back(h, 25.6) == NULL); /* beyond the oldest kept */
	history_free(h);
}

static void test_detect_memory_culprits(void)
{
	struct gf_history *h = history_new();
	struct world_procs *w = xcalloc(sizeof *w);
	struct gf_verdict v[GF_NCLASSES];
	struct load low = IDLE;
	double t;

	t = feed(h, 1, &IDLE);
	checkpoint_at(w, t, 3, 1000, 0);
	low.available = low.free = 20 * PAGES_MIB; /* 4 % of 512 MiB, no swap */
	t = feed(h, 0.5, &low);
	tasks_now(w, t, 1000 + 50 * PAGES_MIB, 0);
	CHECK_EQ(judged(h, &w->p, 0, v), ONLY(GF_MEMORY));
	REQUIRE(v[GF_MEMORY].nculprits == 1); /* nothing else grew */
	CHECK_EQ(v[GF_MEMORY].culprit[0].pid, 50); /* the largest */
	CHECK_STR(v[GF_MEMORY].culprit[0].comm, "hog");
	CHECK_EQ(v[GF_MEMORY].culprit[0].start_time, 7);
	CHECK(v[GF_MEMORY].culprit[0].growth_kib_s > 100 * 1024 - 1);
	/* a smaller hog: the largest (db) first, then the one growing */
	checkpoint_at(w, t + 0.5, 3, 2000, 0);
	t = feed(h, 1, &low);
	tasks_now(w, t, 4000, 0);
	CHECK_EQ(judged(h, &w->p, 0, v), ONLY(GF_MEMORY));
	REQUIRE(v[GF_MEMORY].nculprits == 2);
	CHECK_EQ(v[GF_MEMORY].culprit[0].pid, 70);
	CHECK_EQ(v[GF_MEMORY].culprit[1].pid, 50);
	/* the newest checkpoint old enough is the one read: 0.5 s, not 1.5 s */
	CHECK(v[GF_MEMORY].culprit[1].growth_kib_s > 2000 * 4 / 0.5 - 1);
	free(w);
	history_free(h);
}

static void test_detect_thrashing(void)
{
	struct gf_history *h = history_new();
	struct world_procs *w = xcalloc(sizeof *w);
	struct gf_verdict v[GF_NCLASSES];
	struct load thrash = IDLE;
	double t;

	thrash.available = 10 * PAGES_MIB;
	thrash.swap_total = 1024 * PAGES_MIB;
	thrash.swap_free = 900 * PAGES_MIB; /* plenty left: earlyoom waits */
	thrash.pswpout = 2000;
	checkpoint_at(w, 0.1, 3, 50000, 0);
	t = feed(h, 1.5, &thrash);
	tasks_now(w, t, 100000, 0);
	CHECK_EQ(judged(h, &w->p, 0, v), ONLY(GF_THRASHING));
	CHECK_EQ(v[GF_THRASHING].culprit[0].pid, 50);
	/* the same memory state with swap idle is no thrashing */
	thrash.pswpout = 10;
	feed(h, 1.5, &thrash);
	CHECK_EQ(judged(h, &w->p, 0, v), 0);
	free(w);
	history_free(h);
}

/* CPU overload, blamed on three_tasks()'s spinner at more than min_pct. */
static void check_spinner_blamed(const struct gf_history *h,
				 const struct gf_procs *p, double min_pct)
{
	struct gf_verdict v[GF_NCLASSES];

	CHECK_EQ(judged(h, p, 0, v), ONLY(GF_CPU_OVERLOAD));
	REQUIRE(v[GF_CPU_OVERLOAD].nculprits >= 1);
	CHECK_EQ(v[GF_CPU_OVERLOAD].culprit[0].pid, 60);
	CHECK(v[GF_CPU_OVERLOAD].culprit[0].cpu_pct > min_pct);
}

static void test_detect_cpu_overload(void)
{
	struct gf_history *h = history_new();
	struct world_procs *w = xcalloc(sizeof *w);
	struct gf_verdict v[GF_NCLASSES];
	struct load busy = { .usr = 0.97, .cs = 300, .jiffies = 250,
			     .total = 1, .available = 1, .panic_cpu = -1 };
	double t;

	t = feed(h, 0.1, &busy);
	checkpoint_at(w, t, 3, 100, 0);
	t = feed(h, 4.5, &busy);
	tasks_now(w, t, 100, 4500000000ull);
	CHECK_EQ(judged(h, &w->p, 0, v), 0); /* not yet 5 s */
	t = feed(h, 0.5, &busy);
	tasks_now(w, t, 100, 5000000000ull); /* spin: 5 s of CPU in 5 s */
	check_spinner_blamed(h, &w->p, 99);
	free(w);
	history_free(h);
}

/* A spinner started within the window is the culprit: a complete
 * checkpoint lacks it, so all of its CPU time was spent since. */
static void test_detect_cpu_overload_newborn(void)
{
	struct gf_history *h = history_new();
	struct world_procs *w = xcalloc(sizeof *w);
	struct load busy = { .usr = 0.97, .cs = 300, .jiffies = 250,
			     .total = 1, .available = 1, .panic_cpu = -1 };
	double t;

	t = feed(h, 0.1, &busy);
	checkpoint_at(w, t, 1, 100, 0); /* only the hog: no spinner yet */
	t = feed(h, 5, &busy);
	tasks_now(w, t, 100, 4000000000ull);
	check_spinner_blamed(h, &w->p, 79);
	free(w);
	history_free(h);
}

static const struct test tests[] = {
	T(detect_signatures),
	T(detect_needs_a_window),
	T(detect_history_ring),
	T(detect_memory_culprits),
	T(detect_cpu_overload_newborn),
	T(detect_thrashing),
	T(detect_cpu_overload),
};

const struct suite suite_detect = SUITE(tests);
