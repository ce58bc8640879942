/* test/unit_watch.c — unit tests of watch.c: one target under watch,
 * attached, given up and attached again, on a RAM file that discovery
 * (discover.c) attaches to as it would to a guest's, with the CPU engine,
 * the watch's clock driven through watch_tick's `now`. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../config.h"
#include "../layout.h"
#include "../watch.h"

/* watch.c's times, restated */
#define RETRY_S 1.0        /* ATTACH_RETRY_S: a target not attached */
#define FROZEN_S 2.0       /* our jiffies still this long: look for another */
#define LOOK_S 2.0         /* OTHER_LOOK_S: how often */
#define LOST_MEMORY_S 60.0 /* how long a lost kernel is avoided */

#define STEP_S 0.1 /* the agent's interval_ms */
#define HZ 250
#define DELTA (30 * MiB)           /* where KASLR puts the next boot */
#define START_KERNEL_MAP 0xffffffff80000000ull
#define VMCOREINFO_PA (64 * KiB)   /* each boot's, a page apart */
#define RELEASE "6.8.0"            /* ktables_vmcoreinfo's OSRELEASE */
#define UTS_LEN 65

/* ======================================================================
 * A kernel that discovery attaches to from its RAM alone: VMCOREINFO
 * (as from 6.1: it names the kallsyms tables and where init_uts_ns keeps
 * its name) in a page of low RAM, kallsyms in the image naming every
 * symbol an attach looks up, the counters the watch loop samples, and
 * the struct layout in the config's [profile], as for a kernel without
 * BTF.
 * ====================================================================== */

/* One boot of the synthetic kernel, as its VMCOREINFO describes it. */
struct boot {
	struct guest *g;
	struct ktables kt;
	uint64_t uts;        /* init_uts_ns */
	uint64_t kaslr;      /* KERNELOFFSET */
	uint64_t vmcoreinfo; /* where its VMCOREINFO is */
};

/* init_uts_ns, its name first (OFFSET(uts_namespace.name)=0). */
static uint64_t uts_new(struct guest *g)
{
	static const char *const name[] = { "Linux", "watched", RELEASE };
	uint64_t uts = win_alloc(&g->kimg, 6 * UTS_LEN, 8);

	for (uint32_t i = 0; i < NELEM(name); i++)
		put(g, uts + i * UTS_LEN, name[i], strlen(name[i]) + 1);
	return uts;
}

/* The image maps linearly, va - __START_KERNEL_map + phys_base. */
static int64_t phys_base(const struct guest *g)
{
	for (uint32_t i = 0; i < g->kimg.npages; i++)
		if (g->kimg.pa[i] != g->kimg.pa[0] + i * PAGE)
			fixture_bug("the kernel image is not linear", i);
	return (int64_t)(g->kimg.pa[0] - (g->kimg.va - START_KERNEL_MAP));
}

/* b's VMCOREINFO, in the page at b->vmcoreinfo. */
static void vmcoreinfo_put(const struct boot *b)
{
	struct vmcoreinfo vi = b->kt.vi;
	size_t len = strlen(vi.text);
	int64_t base = phys_base(b->g);

	len += (size_t)snprintf(vi.text + len, sizeof vi.text - len,
		"SYMBOL(init_uts_ns)=%llx\nOFFSET(uts_namespace.name)=0\n"
		"SYMBOL(init_top_pgt)=%llx\nNUMBER(pgtable_l5_enabled)=0\n"
		"NUMBER(phys_base)=%lld\nKERNELOFFSET=%llx\n",
		(unsigned long long)b->uts,
		(unsigned long long)(b->g->k.lay.cr3 + START_KERNEL_MAP - (uint64_t)base),
		(long long)base, (unsigned long long)b->kaslr);
	if (len >= PAGE)
		fixture_bug("VMCOREINFO longer than its page", len);
	memcpy(host(b->g, b->vmcoreinfo, len + 1), vi.text, len + 1);
}

/* kallsyms naming every symbol an attach looks up (discover.c), with
 * _stext at kallsyms' base, as a boot without KASLR has it. */
static void kallsyms_new(struct boot *b, uint64_t nr_cpu_ids)
{
	const struct gf_layout *l = &b->g->k.lay;
	const struct ksym syms[] = {
		{ "T_stext", RELBASE }, { "Dinit_task", l->init_task },
		{ "D__per_cpu_offset", l->per_cpu_offset },
		{ "Dnr_cpu_ids", nr_cpu_ids },
		{ "Dkernel_cpustat", l->kernel_cpustat },
		{ "Drunqueues", l->runqueues },
		{ "Dtick_cpu_sched", l->tick_cpu_sched },
		{ "Dvm_event_states", l->vm_event_states },
		{ "Dvm_zone_stat", l->vm_zone_stat },
		{ "Dvm_node_stat", l->vm_node_stat },
		{ "Dnr_swap_pages", l->nr_swap_pages },
		{ "Dtotal_swap_pages", l->total_swap_pages },
		{ "D_totalram_pages", l->totalram_pages },
		{ "Dtotalreserve_pages", l->totalreserve_pages },
		{ "Djiffies_64", l->jiffies }, { "Dpanic_cpu", l->panic_cpu },
		{ "Dtainted_mask", l->tainted_mask },
		{ "D__cpu_online_mask", l->cpu_online_mask },
	};

	ktables_put(&b->kt, b->g, syms, NELEM(syms), 0, RELBASE, 0);
}

/* The standard world with its counters, booted without KASLR. */
static void boot_new(struct boot *b)
{
	struct guest *g = b->g = world_new(4, 1);
	uint64_t nr_cpu_ids;

	counters_new(g);
	nr_cpu_ids = win_alloc(&g->kimg, 4, 8);
	w32(g, nr_cpu_ids, NCPUS);
	kallsyms_new(b, nr_cpu_ids);
	b->uts = uts_new(g);
	b->kaslr = 0;
	b->vmcoreinfo = VMCOREINFO_PA;
	vmcoreinfo_put(b);
}

/* The next boot in b's RAM, its image DELTA higher, kallsyms_relative_base
 * relocated with it; its VMCOREINFO a page above b's, so found after. */
static void boot_again(struct boot *next, const struct boot *b)
{
	struct ktables *kt = &next->kt;

	*next = *b;
	next->g = kt->g = guest_reboot(b->g, DELTA);
	kt->num += DELTA, kt->names += DELTA, kt->token_table += DELTA;
	kt->token_index += DELTA, kt->offsets += DELTA, kt->relative_base += DELTA;
	w64(next->g, kt->relative_base, RELBASE + DELTA);
	ktables_vmcoreinfo(kt, NULL, RELBASE + DELTA);
	next->uts += DELTA;
	next->kaslr += DELTA;
	next->vmcoreinfo += PAGE;
	vmcoreinfo_put(next);
}

/* The CPU engine, the layout in [profile], no metrics events. */
static void config_for(struct gf_config *c, const struct guest *g)
{
	config_defaults(c);
	strcpy(c->engine, "cpu");
	c->metrics_s = 0;
	c->max_tasks = 64;
	c->nprofile = layout_to_pairs(&g->k.lay, c->profile, GF_MAX_PROFILE);
	if (c->nprofile == GF_MAX_PROFILE)
		fixture_bug("the layout fills [profile]", c->nprofile);
}

/* ======================================================================
 * A watch on the RAM file, and what it told
 * ====================================================================== */

struct told {
	uint32_t n, seen;
	struct {
		enum gf_event_kind kind;
		int has_detail;
		char detail[512];
	} ev[16];
};

static void record(void *ctx, const struct gf_event *ev)
{
	struct told *t = ctx;

	if (t->n == NELEM(t->ev)) {
		report(__FILE__, __LINE__, "more than %u events told: %d \"%s\"",
		       t->n, ev->kind, ev->detail ? ev->detail : "(none)");
		return;
	}
	t->ev[t->n].kind = ev->kind;
	t->ev[t->n].has_detail = ev->detail != NULL;
	snprintf(t->ev[t->n++].detail, sizeof t->ev[0].detail, "%s",
		 ev->detail ? ev->detail : "");
}

/* The next event told is `kind`, for `why` (NULL: none given). */
static void check_told(const char *file, int line, struct told *t,
		       enum gf_event_kind kind, const char *why)
{
	if (t->seen == t->n) {
		report(file, line, "no event told, want %d \"%s\"", kind,
		       why ? why : "(none)");
		return;
	}
	if (t->ev[t->seen].kind != kind || t->ev[t->seen].has_detail != !!why ||
	    (why && strcmp(t->ev[t->seen].detail, why)))
		report(file, line, "event %u: %d \"%s\", want %d \"%s\"", t->seen,
		       t->ev[t->seen].kind, t->ev[t->seen].has_detail ?
		       t->ev[t->seen].detail : "(none)", kind, why ? why : "(none)");
	t->seen++;
}

/* ... and none told after those looked at. */
static void check_quiet(const char *file, int line, struct told *t)
{
	for (; t->seen < t->n; t->seen++)
		report(file, line, "event %u told: %d \"%s\"", t->seen,
		       t->ev[t->seen].kind, t->ev[t->seen].detail);
}

#define TOLD(b, kind, why) check_told(__FILE__, __LINE__, &(b)->told, kind, why)
#define QUIET(b) check_quiet(__FILE__, __LINE__, &(b)->told)

struct bench {
	struct boot ours, other; /* other.g: the next boot, or NULL */
	int ours_runs, other_runs; /* whose jiffies tick */
	struct gf_config cfg;
	struct watch w;
	struct told told;
	char path[PATH_MAX], spec[PATH_MAX + 32];
	double start, now;
};

/* A watch on a RAM file of ours that is not there yet. Its clock starts
 * at the host's monotonic one, which watch_let_go and watch_retune read. */
static struct bench *bench_new(void)
{
	struct bench *b = xcalloc(sizeof *b);

	boot_new(&b->ours);
	b->ours_runs = 1;
	config_for(&b->cfg, b->ours.g);
	snprintf(b->path, sizeof b->path, "%s/watch-%d.ram", scratch, (int)getpid());
	snprintf(b->spec, sizeof b->spec, "vm:%s,lowmem=%llu", b->path, LOW_SIZE);
	watch_init(&b->w, b->spec, &b->cfg, record, &b->told);
	b->start = b->now = now_s();
	return b;
}

static void bench_free(struct bench *b)
{
	watch_close(&b->w);
	if (b->other.g)
		guest_free(b->other.g);
	guest_free(b->ours.g);
	unlink(b->path);
	free(b);
}

static void advance_jiffies(struct guest *g, double seconds)
{
	w64(g, g->k.lay.jiffies, r64(g, g->k.lay.jiffies) + (uint64_t)(HZ * seconds + 0.5));
}

/* One tick at `at` seconds from the start, the running kernels' clocks
 * advanced to it first. */
static void tick_at(struct bench *b, double at)
{
	double seconds = b->start + at - b->now;

	if (b->ours_runs)
		advance_jiffies(b->ours.g, seconds);
	if (b->other_runs)
		advance_jiffies(b->other.g, seconds);
	b->now = b->start + at;
	watch_tick(&b->w, b->now);
}

static double elapsed(const struct bench *b)
{
	return b->now - b->start;
}

/* Ticks every STEP_S for `seconds`. */
static void run(struct bench *b, double seconds)
{
	double from = elapsed(b);

	for (int i = 1; i * STEP_S <= seconds + 1e-9; i++)
		tick_at(b, from + i * STEP_S);
}

/* The watch loop's newest sample read g's clock as it is now. */
static void check_sampled(const struct bench *b, const struct guest *g)
{
	REQUIRE(b->w.newest);
	CHECK_EQ(b->w.newest->s.jiffies, r64(g, g->k.lay.jiffies));
}

/* Attached to ours, its RAM file there from the start. */
static struct bench *bench_attached(void)
{
	struct bench *b = bench_new();

	guest_to_file(b->ours.g, b->path);
	tick_at(b, 0);
	TOLD(b, GF_EV_ATTACH, NULL);
	REQUIRE(b->w.attached);
	CHECK_STR(b->w.a.release, RELEASE);
	CHECK_STR(b->w.a.layout_source, "profile");
	CHECK_EQ(b->w.a.ncpus, NCPUS);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	REQUIRE(b->w.a.k.lay.has_metrics); /* without, the watch never looks */
	return b;
}

/* ======================================================================
 * The tests
 * ====================================================================== */

/* A target that cannot be attached is tried again every second, its
 * reason told once each time it changes. */
static void test_watch_unavailable_retried(void)
{
	struct bench *b = bench_new();
	char why[PATH_MAX + 64];

	tick_at(b, 0);
	snprintf(why, sizeof why, "%s: No such file or directory", b->path);
	TOLD(b, GF_EV_UNAVAILABLE, why);
	REQUIRE(close(open(b->path, O_CREAT | O_WRONLY, 0600)) == 0); /* QEMU starting */
	tick_at(b, RETRY_S - 0.1); /* not tried again yet */
	QUIET(b);
	tick_at(b, RETRY_S + 0.1);
	snprintf(why, sizeof why, "%s: not a RAM file or dump (too small)", b->path);
	TOLD(b, GF_EV_UNAVAILABLE, why);
	tick_at(b, 2 * RETRY_S + 0.2); /* tried: the same reason, not told */
	QUIET(b);
	guest_to_file(b->ours.g, b->path);
	tick_at(b, 3 * RETRY_S + 0.1); /* a second after that try, not before */
	QUIET(b);
	tick_at(b, 3 * RETRY_S + 0.3);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	bench_free(b);
}

/* A QEMU started again has a new RAM file: the kernel in it, the same
 * build at the same place (restored from a save, say, or booted without
 * KASLR), is attached to at once, its image not the old file's. */
static void test_watch_ram_file_replaced(void)
{
	struct bench *b = bench_attached();
	char next[PATH_MAX + 8];

	run(b, 1);
	QUIET(b);
	snprintf(next, sizeof next, "%s.next", b->path);
	guest_to_file(b->ours.g, next);
	REQUIRE(rename(next, b->path) == 0);
	run(b, STEP_S);
	TOLD(b, GF_EV_DETACH, "the RAM file was replaced (the guest was restarted)");
	run(b, RETRY_S + STEP_S);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	run(b, 1);
	QUIET(b);
	check_sampled(b, b->ours.g); /* from the new file, where it runs on */
	bench_free(b);
}

/* Jiffies that go back are a restart in place, told by the loop
 * (pub->loss): the kernel there, at the same place, is avoided for a
 * minute, then attached to again. */
static void test_watch_jiffies_went_back(void)
{
	struct bench *b = bench_attached();
	struct guest *g = b->ours.g;
	double lost;

	run(b, 1);
	QUIET(b);
	w64(g, g->k.lay.jiffies, r64(g, g->k.lay.jiffies) - 10 * HZ);
	run(b, STEP_S);
	TOLD(b, GF_EV_DETACH, "the kernel restarted (jiffies went back)");
	lost = elapsed(b);
	run(b, RETRY_S + STEP_S);
	TOLD(b, GF_EV_UNAVAILABLE, "VMCOREINFO found but its page tables do not "
	     "resolve (wrong machine=/lowmem= for this RAM file?)");
	run(b, lost + LOST_MEMORY_S - STEP_S - elapsed(b));
	QUIET(b);
	run(b, RETRY_S + 2 * STEP_S);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	bench_free(b);
}

/* Ours frozen while another kernel's clock runs in the same RAM: the
 * guest restarted. The next attach takes the new kernel, though the old
 * one's VMCOREINFO comes first. */
static void test_watch_another_kernel(void)
{
	struct bench *b = bench_attached();
	double frozen;

	run(b, 1);
	boot_again(&b->other, &b->ours);
	b->ours_runs = 0;
	b->other_runs = 1;
	frozen = elapsed(b);
	/* ours still from the next tick on: a look at the other FROZEN_S
	 * later, and LOOK_S after that one that finds its clock moved */
	run(b, FROZEN_S + LOOK_S - STEP_S);
	QUIET(b);
	CHECK(b->w.other_seen);
	run(b, frozen + FROZEN_S + LOOK_S + 5 * STEP_S - elapsed(b));
	TOLD(b, GF_EV_DETACH, "another kernel runs in this RAM (the guest restarted)");
	run(b, RETRY_S + STEP_S);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, DELTA);
	CHECK_EQ(b->w.a.phys_base, phys_base(b->other.g));
	run(b, 1);
	QUIET(b);
	check_sampled(b, b->other.g);
	bench_free(b);
}

/* A hung kernel beside an older boot's image, whose clock stands still
 * too, is no restart. */
static void test_watch_hung_kernel(void)
{
	struct bench *b = bench_attached();

	boot_again(&b->other, &b->ours);
	run(b, 1);
	b->ours_runs = 0;
	run(b, 3 * (FROZEN_S + LOOK_S));
	QUIET(b);
	CHECK(b->w.attached);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	CHECK(b->w.frozen_since > 0);
	CHECK(b->w.other_seen); /* it looked, and saw that image */
	CHECK_EQ(b->w.other.kaslr_offset, DELTA);
	bench_free(b);
}

/* Let go (its memory about to be rolled back), the kernel is attached to
 * again at the next tick: itself, not the other image in its RAM. */
static void test_watch_let_go(void)
{
	struct bench *b = bench_attached();
	double host;

	boot_again(&b->other, &b->ours);
	run(b, STEP_S);
	QUIET(b);
	watch_let_go(&b->w, "restoring the kernel from a snapshot");
	host = now_s() - b->start; /* the clock watch_let_go read */
	TOLD(b, GF_EV_DETACH, "restoring the kernel from a snapshot");
	tick_at(b, (host > elapsed(b) ? host : elapsed(b)) + STEP_S);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	bench_free(b);
}

/* A reloaded config is taken at once where the loop's tables fit it,
 * else by attaching again: to the same kernel. */
static void test_watch_retune(void)
{
	struct bench *b = bench_attached();

	run(b, 1);
	b->cfg.detect.sys_pct = 50;
	watch_retune(&b->w);
	run(b, STEP_S);
	QUIET(b);
	CHECK_EQ(b->w.e.loop->p.th.sys_pct, 50);
	b->cfg.detect.window_s = 0.7;
	watch_retune(&b->w);
	TOLD(b, GF_EV_DETACH, "the reloaded config changes the watch loop's "
	     "tables: attaching again");
	run(b, RETRY_S + STEP_S);
	TOLD(b, GF_EV_ATTACH, NULL);
	CHECK_EQ(b->w.a.kaslr_offset, 0);
	bench_free(b);
}

static const struct test tests[] = {
	T(watch_unavailable_retried),
	T(watch_ram_file_replaced),
	T(watch_jiffies_went_back),
	T(watch_another_kernel),
	T(watch_hung_kernel),
	T(watch_let_go),
	T(watch_retune),
};

const struct suite suite_watch = SUITE(tests);
