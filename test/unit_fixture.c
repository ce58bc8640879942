/* test/unit_fixture.c — the synthetic guest and kernel that the unit
 * tests run against (test/unit.h describes its RAM and windows): page
 * tables written here, and task_structs, signal_structs and mm_structs
 * laid out with offsets chosen here and linked the way Linux links them.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "unit.h"

#include "../core.h"

/* Where guest-physical [pa, pa+len) lies in this process. */
uint8_t *host(const struct guest *g, uint64_t pa, uint64_t len)
{
	for (uint32_t i = 0; i < g->k.mem.nranges; i++) {
		const struct gf_range *r = &g->k.mem.range[i];
		if (pa >= r->phys && pa - r->phys <= r->size &&
		    len <= r->size - (pa - r->phys))
			return r->base + (pa - r->phys);
	}
	fixture_bug("guest-physical address is not RAM", pa);
}

static uint64_t pt_alloc(struct guest *g)
{
	if (g->pt_next >= PT_END)
		fixture_bug("out of page-table pages", g->pt_next);
	g->pt_next += PAGE;
	return g->pt_next - PAGE;
}

/* The entry that maps `va` at `leaf` level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB),
 * creating the tables above it. */
uint64_t *pte_slot(struct guest *g, uint64_t va, unsigned leaf)
{
	uint64_t table = g->k.lay.cr3;

	for (unsigned level = g->k.lay.pt_levels;; level--) {
		uint64_t *e = (uint64_t *)host(g, table +
			((va >> (12 + 9 * (level - 1))) & 511) * 8, 8);
		if (level == leaf)
			return e;
		if (!(*e & PTE_P))
			*e = pt_alloc(g) | PTE_TABLE;
		table = *e & PTE_ADDR;
	}
}

void map_page(struct guest *g, uint64_t va, uint64_t pa)
{
	*pte_slot(g, va, 1) = pa | PTE_LEAF;
}

void map_large(struct guest *g, uint64_t va, uint64_t pa, unsigned level)
{
	*pte_slot(g, va, level) = pa | PTE_LEAF | PTE_PS | PTE_PAT_LARGE;
}

static uint64_t data_page(struct guest *g, int high)
{
	if (high ? g->high_used >= NDATA_HIGH : g->low_used >= NDATA_LOW)
		fixture_bug("out of data pages", (uint64_t)high);
	return high ? HIGH_PA + PAGE * g->high_used++
		    : DATA_PA + PAGE * g->low_used++;
}

static void window_init(struct guest *g, struct window *w, uint64_t va,
			uint32_t npages, int alternate)
{
	w->va = w->next = va;
	w->npages = npages;
	for (uint32_t i = 0; i < npages; i++) {
		w->pa[i] = data_page(g, alternate && (i & 1));
		map_page(g, va + i * PAGE, w->pa[i]);
	}
}

uint64_t win_alloc(struct window *w, uint64_t size, uint64_t align)
{
	uint64_t va = (w->next + align - 1) & ~(align - 1);

	if (va + size > w->va + w->npages * PAGE)
		fixture_bug("window full", size);
	w->next = va + size;
	return va;
}

/* The test's own translation, from its record of the windows: fixtures
 * never depend on the code under test. */
uint64_t fixture_pa(const struct guest *g, uint64_t va)
{
	const struct window *ws[] = { &g->heap, &g->kimg };

	for (int i = 0; i < 2; i++)
		if (va - ws[i]->va < ws[i]->npages * PAGE)
			return ws[i]->pa[(va - ws[i]->va) / PAGE] + va % PAGE;
	fixture_bug("address outside the windows", va);
}

void put(struct guest *g, uint64_t va, const void *src, uint64_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint64_t n = PAGE - va % PAGE < len ? PAGE - va % PAGE : len;
		memcpy(host(g, fixture_pa(g, va), n), s, n);
		va += n, s += n, len -= n;
	}
}

void get(const struct guest *g, uint64_t va, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	while (len) {
		uint64_t n = PAGE - va % PAGE < len ? PAGE - va % PAGE : len;
		memcpy(d, host(g, fixture_pa(g, va), n), n);
		va += n, d += n, len -= n;
	}
}

void w64(struct guest *g, uint64_t va, uint64_t v) { put(g, va, &v, 8); }
	 void w32(struct guest *g, uint64_t va, uint32_t v) { put(g, va, &v, 4); }
	 void w16(struct guest *g, uint64_t va, uint16_t v) { put(g, va, &v, 2); }
	 uint64_t r64(const struct guest *g, uint64_t va)
{
	uint64_t v;
	get(g, va, &v, 8);
	return v;
}
uint32_t r32(const struct guest *g, uint64_t va)
{
	uint32_t v;
	get(g, va, &v, 4);
	return v;
}
void or64(struct guest *g, uint64_t va, uint64_t bits)
{
	w64(g, va, r64(g, va) | bits);
}

/* Fills fresh kernel objects with junk, so that a reader relying on
 * zeroed memory is caught. */
void junk(struct guest *g, uint64_t va, uint64_t len)
{
	uint8_t pattern[64];

	memset(pattern, 0x5a, sizeof pattern);
	for (uint64_t off = 0; off < len; off += sizeof pattern)
		put(g, va + off, pattern,
		    len - off < sizeof pattern ? len - off : sizeof pattern);
}

/* splitmix64: the next of a seeded sequence, so that a failure repeats on
 * the next run. */
uint64_t unit_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ z >> 27) * 0x94d049bb133111ebULL;
	return z ^ z >> 31;
}

/* With GPUFAS_FUZZ_SEEDS=DIR (make fuzz-seeds), a file a fixture wrote
 * (a cached profile, a dump) is also a seed: copied to DIR/target/name. */
void fuzz_seed_file(const char *target, const char *name, const char *from)
{
	const char *dir = getenv("GPUFAS_FUZZ_SEEDS");
	char cmd[3 * PATH_MAX];

	if (!dir)
		return;
	snprintf(cmd, sizeof cmd, "cp '%s' '%s/%s/%s'", from, dir, target, name);
	if (system(cmd))
		fixture_bug("cannot copy a seed", 0);
}

/* ... and a fixture's kernel a seed of a RAM fuzz target: DIR/target/name
 * holds `text` and its NUL if there is one (fuzz_kallsyms's VMCOREINFO),
 * then g's image. */
void fuzz_seed(const char *target, const char *name, const struct guest *g,
	       const char *text, int32_t pid, uint32_t flags)
{
	const char *dir = getenv("GPUFAS_FUZZ_SEEDS");
	struct image_head head = { .lay = g->k.lay, .pid = pid, .flags = flags };
	char path[PATH_MAX];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
	if (!(f = fopen(path, "wb")))
		fixture_bug("cannot write a seed", (uint64_t)errno);
	if (text)
		fwrite(text, 1, strlen(text) + 1, f);
	if (image_write(f, &head, &g->k) | fclose(f))
		fixture_bug("cannot write a seed", (uint64_t)errno);
}

/* From include/linux/sched.h and signal.h */

static void set_layout(struct gf_layout *l, unsigned levels, int percpu)
{
	memset(l, 0, sizeof *l);
	l->pte_mask = PTE_ADDR;
	l->pt_levels = levels;
	l->tif_sigpending = TIF_SIGPENDING;
	l->task_ti_flags = T_TI_FLAGS;
	l->task_state = T_STATE;
	l->task_exit_state = T_EXIT_STATE;
	l->task_flags = T_FLAGS;
	l->task_tasks = T_TASKS;
	l->task_pid = T_PID;
	l->task_tgid = T_TGID;
	l->task_comm = T_COMM;
	l->task_mm = T_MM;
	l->task_real_parent = T_REAL_PARENT;
	l->task_signal = T_SIGNAL;
	l->task_pending = T_PENDING;
	l->task_blocked = T_BLOCKED;
	l->task_thread_node = T_THREAD_NODE;
	l->task_start_time = T_START_TIME;
	l->task_sum_exec_runtime = T_SUM_EXEC;
	l->signal_thread_head = S_THREAD_HEAD;
	l->signal_nr_threads = S_NR_THREADS;
	l->signal_shared_pending = S_SHARED_PENDING;
	l->signal_flags = S_FLAGS;
	l->signal_group_exit_code = S_GROUP_EXIT_CODE;
	l->signal_group_stop_count = S_GROUP_STOP_COUNT;
	l->signal_sum_sched_runtime = S_SUM_SCHED;
	l->sigpending_signal = SP_SIGNAL;
	l->mm_rss_stat = MM_RSS_STAT;
	l->rss_stride = percpu ? PC_SIZE : 8;
	l->rss_percpu = (uint32_t)percpu;
	l->pcpu_count = PC_COUNT;
	l->pcpu_counters = PC_COUNTERS;
	l->mm_filepages = 0; /* MM_FILEPAGES */
	l->mm_anonpages = 1; /* MM_ANONPAGES; 2 is MM_SWAPENTS, not resident */
	l->mm_shmempages = 3;
}

/* struct list_head { next, prev }, as include/linux/list.h handles it */
void list_init(struct guest *g, uint64_t head)
{
	w64(g, head, head);
	w64(g, head + 8, head);
}

void list_add_tail(struct guest *g, uint64_t node, uint64_t head)
{
	uint64_t prev = r64(g, head + 8);

	w64(g, node, head);
	w64(g, node + 8, prev);
	w64(g, prev, node);
	w64(g, head + 8, node);
}

void list_del(struct guest *g, uint64_t node)
{
	uint64_t next = r64(g, node), prev = r64(g, node + 8);

	w64(g, prev, next);
	w64(g, next + 8, prev);
}

static void remember(struct guest *g, int32_t pid, uint64_t va)
{
	if (g->ntasks < sizeof g->task / sizeof *g->task) {
		g->task[g->ntasks].pid = pid;
		g->task[g->ntasks++].va = va;
	}
}

uint64_t task_va(const struct guest *g, int32_t pid)
{
	for (uint32_t i = 0; i < g->ntasks; i++)
		if (g->task[i].pid == pid)
			return g->task[i].va;
	fixture_bug("no task with that pid", (uint64_t)pid);
}

uint64_t signal_of(const struct guest *g, int32_t pid)
{
	return r64(g, task_va(g, pid) + T_SIGNAL);
}

static uint64_t signal_init(struct guest *g, uint64_t s)
{
	junk(g, s, SIGNAL_SIZE);
	w32(g, s + S_NR_THREADS, 0);
	list_init(g, s + S_THREAD_HEAD);
	list_init(g, s + S_SHARED_PENDING);
	w64(g, s + S_SHARED_PENDING + SP_SIGNAL, 0);
	w32(g, s + S_FLAGS, 0);
	w32(g, s + S_GROUP_EXIT_CODE, 0);
	w32(g, s + S_GROUP_STOP_COUNT, 0);
	w64(g, s + S_SUM_SCHED, 0);
	return s;
}

static uint64_t signal_new(struct guest *g)
{
	return signal_init(g, win_alloc(&g->heap, SIGNAL_SIZE, 64));
}

/* Fills the task_struct at `t` and puts it on its signal's thread list. */
static uint64_t task_init(struct guest *g, uint64_t t, const struct tspec *s,
			  uint64_t signal, uint64_t parent, uint64_t mm)
{
	char comm[GF_COMM_LEN] = { 0 };
	size_t n = strlen(s->comm);

	junk(g, t, TASK_SIZE);
	memcpy(comm, s->comm, n < GF_COMM_LEN ? n : GF_COMM_LEN);
	put(g, t + T_COMM, comm, GF_COMM_LEN);
	w64(g, t + T_TI_FLAGS, 0);
	w32(g, t + T_PID, (uint32_t)s->pid);
	w32(g, t + T_TGID, (uint32_t)(s->tgid ? s->tgid : s->pid));
	w32(g, t + T_STATE, s->state);
	w32(g, t + T_EXIT_STATE, s->exit_state);
	w32(g, t + T_FLAGS, s->flags);
	w64(g, t + T_START_TIME, s->start_time);
	w64(g, t + T_SUM_EXEC, s->runtime);
	w64(g, t + T_BLOCKED, s->blocked);
	w64(g, t + T_SIGNAL, signal);
	w64(g, t + T_REAL_PARENT, parent);
	w64(g, t + T_MM, mm);
	list_init(g, t + T_PENDING);
	w64(g, t + T_PENDING + SP_SIGNAL, 0);
	list_init(g, t + T_TASKS);
	list_add_tail(g, t + T_THREAD_NODE, signal + S_THREAD_HEAD);
	w32(g, signal + S_NR_THREADS, r32(g, signal + S_NR_THREADS) + 1);
	remember(g, s->pid, t);
	return t;
}

uint64_t task_new(struct guest *g, const struct tspec *s,
		  uint64_t signal, uint64_t parent, uint64_t mm)
{
	return task_init(g, win_alloc(&g->heap, TASK_SIZE, 64), s, signal,
			 parent, mm);
}

/* A thread-group leader with its own signal_struct, on init_task.tasks. */
uint64_t process_new(struct guest *g, const struct tspec *s,
		     uint64_t parent, uint64_t mm)
{
	uint64_t t = task_new(g, s, signal_new(g), parent, mm);

	list_add_tail(g, t + T_TASKS, g->init_task + T_TASKS);
	return t;
}

/* Another thread of `leader`'s group: shares its signal, parent and mm. */
uint64_t thread_new(struct guest *g, uint64_t leader,
		    const struct tspec *s)
{
	struct tspec ts = *s;

	if (!ts.tgid)
		ts.tgid = (int32_t)r32(g, leader + T_TGID);
	return task_new(g, &ts, r64(g, leader + T_SIGNAL),
			r64(g, leader + T_REAL_PARENT), r64(g, leader + T_MM));
}

/* __per_cpu_offset[] in kimg, and a page of per-CPU area for each CPU in
 * the heap (so in both RAM ranges). */
static void percpu_init(struct guest *g)
{
	g->k.lay.nr_cpu_ids = NCPUS;
	g->k.lay.per_cpu_offset = win_alloc(&g->kimg, 8 * NCPUS, 64);
	for (int cpu = 0; cpu < NCPUS; cpu++) {
		g->pcpu_area[cpu] = win_alloc(&g->heap, PAGE, PAGE);
		w64(g, g->k.lay.per_cpu_offset + 8 * cpu,
		    g->pcpu_area[cpu] - PCPU_BASE);
	}
}

/* `size` bytes in every CPU's per-CPU area: their offset there, which
 * the per-CPU symbol PCPU_BASE + offset names. */
static uint32_t pcpu_alloc(struct guest *g, uint32_t size, uint32_t align)
{
	uint32_t at = (g->pcpu_used + align - 1) & ~(align - 1);

	if (at + size > PAGE)
		fixture_bug("per-CPU areas full", at + size);
	g->pcpu_used = at + size;
	return at;
}

/* rss_stat: counts (atomic_long_t or percpu_counter.count) and, for
 * percpu_counters, each CPU's s32 delta; indexed by enum mm_counter_type. */

static uint64_t mm_new(struct guest *g, const struct mmspec *m)
{
	const struct gf_layout *l = &g->k.lay;
	uint64_t mm = win_alloc(&g->heap, MM_SIZE, 64);

	junk(g, mm, MM_SIZE);
	for (uint32_t i = 0; i < 4; i++) {
		uint64_t c = mm + MM_RSS_STAT + i * l->rss_stride, slot;
		if (!l->rss_percpu) {
			w64(g, c, (uint64_t)m->count[i]);
			continue;
		}
		slot = pcpu_alloc(g, 4, 4);
		w64(g, c + PC_COUNT, (uint64_t)m->count[i]);
		w64(g, c + PC_COUNTERS, PCPU_BASE + slot);
		for (int cpu = 0; cpu < NCPUS; cpu++)
			w32(g, g->pcpu_area[cpu] + slot, (uint32_t)m->delta[i][cpu]);
	}
	return mm;
}

/* What ps shows as RSS, in pages: file + anon + shmem, each at least 0. */
uint64_t mm_expected(const struct mmspec *m, int percpu)
{
	static const int resident[] = { 0, 1, 3 };
	uint64_t total = 0;

	for (int i = 0; i < 3; i++) {
		int64_t v = m->count[resident[i]];
		for (int cpu = 0; percpu && cpu < NCPUS; cpu++)
			v += m->delta[resident[i]][cpu];
		total += v > 0 ? (uint64_t)v : 0;
	}
	return total;
}

/* ---- The kernel's counters ---- */

/* struct rq and struct tick_sched, and the lengths of the arrays of
 * counters, laid out here */
enum {
	RQ_NR_RUNNING = 0x04, RQ_NR_SWITCHES = 0x10, RQ_NR_UNINTERRUPTIBLE = 0x18,
	RQ_NR_IOWAIT = 0x20, RQ_CURR = 0x28, RQ_IDLE = 0x30, RQ_SIZE = 0x100,
	TS_IDLE_SLEEPTIME = 0x10, TS_IOWAIT_SLEEPTIME = 0x18, TS_SIZE = 0x40,
	NR_CPUTIME = 10, NR_VM_EVENTS = 16, NR_ZONE_STATS = 12, NR_NODE_STATS = 8,
};
#define INITIAL_JIFFIES 4294892296ull /* 300 s before 32 bits wrap, at HZ=250 */
#define RAM_PAGES 262144ull            /* _totalram_pages: 1 GiB */

static void counters_layout(struct gf_layout *l)
{
	l->has_metrics = 1;
	l->mm_swapents = 2; /* MM_SWAPENTS */
	/* enum cpu_usage_stat; kernel_cpustat.cpustat at 0 (before 7.x) */
	l->cpustat_user = 0, l->cpustat_nice = 1, l->cpustat_system = 2;
	l->cpustat_softirq = 3, l->cpustat_irq = 4, l->cpustat_idle = 5;
	l->cpustat_iowait = 6, l->cpustat_steal = 7, l->kcs_cpustat = 0;
	l->rq_nr_running = RQ_NR_RUNNING, l->rq_nr_switches = RQ_NR_SWITCHES;
	l->rq_nr_uninterruptible = RQ_NR_UNINTERRUPTIBLE;
	l->rq_nr_iowait = RQ_NR_IOWAIT, l->rq_curr = RQ_CURR, l->rq_idle = RQ_IDLE;
	l->ts_idle_sleeptime = TS_IDLE_SLEEPTIME;
	l->ts_iowait_sleeptime = TS_IOWAIT_SLEEPTIME;
	l->idle_in_cpustat = 0;
	/* enum vm_event_item (PGMAJFAULT later in the kernel's),
	 * zone_stat_item, node_stat_item */
	l->ev_pswpin = 2, l->ev_pswpout = 3, l->ev_pgmajfault = 9;
	l->zs_free_pages = 0;
	l->ns_inactive_file = 2, l->ns_active_file = 3, l->ns_slab_reclaimable = 5;
}

/* A global of `size` bytes in the kernel image, its first (up to 8)
 * bytes v: its symbol. */
static uint64_t global(struct guest *g, uint64_t size, uint64_t v)
{
	uint64_t va = win_alloc(&g->kimg, size, 8);

	put(g, va, &v, size < 8 ? size : 8);
	return va;
}

/* A per-CPU variable of `size` bytes, zero on every CPU: its symbol. */
static uint64_t per_cpu_var(struct guest *g, uint32_t size)
{
	return PCPU_BASE + pcpu_alloc(g, size, 64);
}

/* The counters metrics.c samples, of an idle machine: every CPU online
 * and running its idle task (init_task), nothing counted yet, half of
 * RAM free and no swap, jiffies_64 at INITIAL_JIFFIES. */
void counters_new(struct guest *g)
{
	struct gf_layout *l = &g->k.lay;

	counters_layout(l);
	l->kernel_cpustat = per_cpu_var(g, 8 * NR_CPUTIME);
	l->runqueues = per_cpu_var(g, RQ_SIZE);
	l->tick_cpu_sched = per_cpu_var(g, TS_SIZE);
	l->vm_event_states = per_cpu_var(g, 8 * NR_VM_EVENTS);
	for (int cpu = 0; cpu < NCPUS; cpu++) {
		uint64_t rq = g->pcpu_area[cpu] + (l->runqueues - PCPU_BASE);
		w64(g, rq + RQ_CURR, g->init_task);
		w64(g, rq + RQ_IDLE, g->init_task);
	}
	l->vm_zone_stat = global(g, 8 * NR_ZONE_STATS, RAM_PAGES / 2); /* NR_FREE_PAGES */
	l->vm_node_stat = global(g, 8 * NR_NODE_STATS, 0);
	l->nr_swap_pages = global(g, 8, 0);
	l->total_swap_pages = global(g, 8, 0);
	l->totalram_pages = global(g, 8, RAM_PAGES);
	l->totalreserve_pages = global(g, 8, RAM_PAGES / 256);
	l->jiffies = global(g, 8, INITIAL_JIFFIES);
	l->panic_cpu = global(g, 4, (uint32_t)-1); /* PANIC_CPU_INVALID */
	l->tainted_mask = global(g, 8, 0);
	l->cpu_online_mask = global(g, 8, (1u << NCPUS) - 1);
}

/* g's RAM at low and high, of the kind `ram`. */
static void ram_at(struct guest *g, uint8_t *low, uint8_t *high, int ram)
{
	g->low = low;
	g->high = high;
	g->ram = ram;
	g->k.mem.range[R_LOW].base = low;
	g->k.mem.range[R_HIGH].base = high;
}

static void ram_free(struct guest *g)
{
	if (g->ram == RAM_OWN) {
		free(g->low);
		free(g->high);
	} else if (g->ram == RAM_FILE) {
		munmap(g->low, LOW_SIZE + HIGH_SIZE);
	}
}

/* init_task, pid 0, at va in the kernel image, heading the tasks list. */
static void init_task_at(struct guest *g, uint64_t va, uint64_t signal)
{
	uint64_t init = task_init(g, va, &(struct tspec){ .pid = 0,
		.comm = "swapper/0", .flags = KTHREAD_FLAGS }, signal, 0, 0);

	w64(g, init + T_REAL_PARENT, init);
	g->init_task = g->k.lay.init_task = init;
}

struct guest *guest_new(unsigned levels, int percpu)
{
	struct guest *g = xcalloc(sizeof *g);

	g->k.mem.nranges = 2;
	g->k.mem.range[R_HIGH] = (struct gf_range){ .phys = HIGH_PA, .size = HIGH_SIZE };
	g->k.mem.range[R_LOW] = (struct gf_range){ .phys = 0, .size = LOW_SIZE };
	ram_at(g, xcalloc(LOW_SIZE), xcalloc(HIGH_SIZE), RAM_OWN);
	g->k.writable = 1;
	g->pt_next = PT_PA;
	set_layout(&g->k.lay, levels, percpu);
	g->k.lay.cr3 = pt_alloc(g);
	g->dmap = levels == 5 ? DMAP5 : DMAP4;
	window_init(g, &g->heap, g->dmap + HEAP_OFF, HEAP_PAGES, 1);
	window_init(g, &g->kimg, KIMG_VA, KIMG_PAGES, 0);
	percpu_init(g);
	init_task_at(g, win_alloc(&g->kimg, TASK_SIZE, 64), signal_new(g));
	return g;
}

void guest_free(struct guest *g)
{
	ram_free(g);
	free(g);
}

/* A copy with its own RAM: to build the expected memory after a write. */
struct guest *guest_clone(const struct guest *g)
{
	struct guest *c = xcalloc(sizeof *c);

	*c = *g;
	ram_at(c, xcalloc(LOW_SIZE), xcalloc(HIGH_SIZE), RAM_OWN);
	memcpy(c->low, g->low, LOW_SIZE);
	memcpy(c->high, g->high, HIGH_SIZE);
	return c;
}

/* g's RAM into a new file at `path`, low RAM then high RAM, and g's RAM
 * that file from then on. */
void guest_to_file(struct guest *g, const char *path)
{
	uint8_t *ram;
	int fd;

	if (g->ram == RAM_SHARED)
		fixture_bug("a guest sharing another's RAM moved to a file", 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, LOW_SIZE + HIGH_SIZE))
		fixture_bug("cannot write a RAM file", (uint64_t)errno);
	ram = mmap(NULL, LOW_SIZE + HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	close(fd);
	if (ram == MAP_FAILED)
		fixture_bug("cannot map a RAM file", (uint64_t)errno);
	memcpy(ram, g->low, LOW_SIZE);
	memcpy(ram + LOW_SIZE, g->high, HIGH_SIZE);
	ram_free(g);
	ram_at(g, ram, ram + LOW_SIZE, RAM_FILE);
}

/* The layout's symbols that lie in `image` move with it; per-CPU ones,
 * offsets into each CPU's area, do not. */
static void move_symbols(struct gf_layout *l, const struct window *image,
			 uint64_t delta)
{
	uint64_t *sym[] = {
		&l->init_task, &l->per_cpu_offset, &l->kernel_cpustat,
		&l->runqueues, &l->tick_cpu_sched, &l->vm_event_states,
		&l->vm_zone_stat, &l->vm_node_stat, &l->nr_swap_pages,
		&l->total_swap_pages, &l->totalram_pages, &l->totalreserve_pages,
		&l->jiffies, &l->panic_cpu, &l->tainted_mask, &l->cpu_online_mask,
		&l->prb, &l->modules,
	};

	for (size_t i = 0; i < NELEM(sym); i++)
		if (*sym[i] - image->va < image->npages * PAGE)
			*sym[i] += delta;
}

/* The kernel booted again in g's RAM, its image `delta` higher. */
struct guest *guest_reboot(struct guest *g, uint64_t delta)
{
	struct guest *n = xcalloc(sizeof *n);
	unsigned top = 12 + 9 * (g->k.lay.pt_levels - 1);

	if (delta % (2 * MiB))
		fixture_bug("KASLR moves the kernel by 2 MiB steps", delta);
	*n = *g;
	n->ram = RAM_SHARED;
	/* the old tables' top level, but for the image's entry */
	n->k.lay.cr3 = pt_alloc(n);
	memcpy(host(n, n->k.lay.cr3, PAGE), host(g, g->k.lay.cr3, PAGE), PAGE);
	*(uint64_t *)host(n, n->k.lay.cr3 + ((g->kimg.va >> top) & 511) * 8, 8) = 0;
	window_init(n, &n->kimg, g->kimg.va + delta, g->kimg.npages, 0);
	for (uint32_t i = 0; i < g->kimg.npages; i++)
		memcpy(host(n, n->kimg.pa[i], PAGE), host(g, g->kimg.pa[i], PAGE), PAGE);
	n->kimg.next = g->kimg.next + delta;
	move_symbols(&n->k.lay, &g->kimg, delta);
	/* a new boot's init_task, its signal_struct in the image
	 * (init_signals) */
	n->ntasks = 0;
	init_task_at(n, n->k.lay.init_task,
		     signal_init(n, win_alloc(&n->kimg, SIGNAL_SIZE, 64)));
	/* g allocates the shared heap and per-CPU areas, and pages and page
	 * tables after n's */
	n->heap.next = n->heap.va + n->heap.npages * PAGE;
	n->pcpu_used = PAGE;
	g->pt_next = n->pt_next;
	g->low_used = n->low_used;
	g->high_used = n->high_used;
	return n;
}

/* Names a guest-physical address for a failure message. */
static void describe_pa(const struct guest *g, uint64_t pa, char *buf,
			size_t len)
{
	snprintf(buf, len, "pa %#llx", (unsigned long long)pa);
	for (uint32_t i = 0; i < g->heap.npages; i++) {
		uint64_t va;
		if (g->heap.pa[i] != (pa & ~(PAGE - 1)))
			continue;
		va = g->heap.va + i * PAGE + pa % PAGE;
		for (uint32_t t = 0; t < g->ntasks; t++)
			if (va - g->task[t].va < TASK_SIZE) {
				snprintf(buf, len, "task %d + %#llx", g->task[t].pid,
					 (unsigned long long)(va - g->task[t].va));
				return;
			}
		snprintf(buf, len, "va %#llx", (unsigned long long)va);
	}
}

void check_memory(const char *file, int line, const struct guest *want,
		  const struct guest *got)
{
	const struct { const uint8_t *w, *g; uint64_t phys, size; } r[] = {
		{ want->low, got->low, 0, LOW_SIZE },
		{ want->high, got->high, HIGH_PA, HIGH_SIZE },
	};
	uint64_t ndiff = 0, first = 0;
	uint8_t wb = 0, gb = 0;
	char where[64];

	for (int i = 0; i < 2; i++)
		for (uint64_t off = 0; off < r[i].size; off++)
			if (r[i].w[off] != r[i].g[off] && !ndiff++) {
				first = r[i].phys + off;
				wb = r[i].w[off];
				gb = r[i].g[off];
			}
	if (!ndiff)
		return;
	describe_pa(got, first, where, sizeof where);
	report(file, line, "guest memory differs from the expected in %llu "
	       "bytes, first at %s: %#x, want %#x", (unsigned long long)ndiff,
	       where, gb, wb);
}

/* ---- The standard world: a few processes, one with three threads ---- */

const struct mmspec MM_SYSTEMD = {
	.count = { 100, 200, 999, 7 },
	.delta = { { 1, -2, 3, 0 }, { 5, 5, 5, 5 }, { 9, 9, 9, 9 },
		   { -10, 0, 0, 0 } },
};
const struct mmspec MM_APP = {
	.count = { 10, -5, 0, 3 },
	.delta = { { 0, 0, 0, -1 }, { 2, 2, 2, 2 }, { 0 }, { 100, -50, 0, 0 } },
};

struct guest *world_new(unsigned levels, int percpu)
{
	struct guest *g = guest_new(levels, percpu);
	uint64_t init = g->init_task, mm1, mm2, p1, p2, app;

	mm1 = mm_new(g, &MM_SYSTEMD);
	mm2 = mm_new(g, &MM_APP);
	p1 = process_new(g, &(struct tspec){ .pid = 1, .comm = "systemd",
		.state = TASK_INTERRUPTIBLE, .flags = USER_FLAGS,
		.start_time = 100, .runtime = 5000 }, init, mm1);
	p2 = process_new(g, &(struct tspec){ .pid = 2, .comm = "kthreadd",
		.state = TASK_INTERRUPTIBLE, .flags = KTHREAD_FLAGS,
		.start_time = 110, .runtime = 700 }, init, 0);
	process_new(g, &(struct tspec){ .pid = 3, .comm = "kworker/0:0",
		.state = TASK_IDLE, .flags = KTHREAD_FLAGS, .start_time = 120,
		.runtime = 300 }, p2, 0);
	app = process_new(g, &(struct tspec){ .pid = 100, .comm = "app",
		.flags = USER_FLAGS, .start_time = 200, .runtime = 1000 }, p1, mm2);
	thread_new(g, app, &(struct tspec){ .pid = 101, .comm = "app-worker",
		.state = TASK_UNINTERRUPTIBLE, .flags = USER_FLAGS,
		.start_time = 201, .runtime = 2000 });
	thread_new(g, app, &(struct tspec){ .pid = 102, .comm = "app-io",
		.state = TASK_INTERRUPTIBLE, .flags = USER_FLAGS,
		.start_time = 202, .runtime = 3000 });
	w64(g, signal_of(g, 100) + S_SUM_SCHED, 500); /* from exited threads */
	process_new(g, &(struct tspec){ .pid = 200, .comm = "zombie",
		.exit_state = EXIT_ZOMBIE, .flags = USER_FLAGS, .start_time = 300,
		.runtime = 40 }, p1, 0);
	process_new(g, &(struct tspec){ .pid = 300, .comm = "stopped",
		.state = TASK_STOPPED, .flags = USER_FLAGS, .start_time = 400,
		.runtime = 60 }, p1, 0);
	return g;
}

const struct expect WORLD_PROCESSES[] = {
	{ 1, 1, 0, 1, 'S', 0, "systemd", 5000, 100, &MM_SYSTEMD },
	{ 2, 2, 0, 1, 'S', 1, "kthreadd", 700, 110, NULL },
	{ 3, 3, 2, 1, 'I', 1, "kworker/0:0", 300, 120, NULL },
	{ 100, 100, 1, 3, 'R', 0, "app", 1000 + 2000 + 3000 + 500, 200, &MM_APP },
	{ 200, 200, 1, 1, 'Z', 0, "zombie", 40, 300, NULL },
	{ 300, 300, 1, 1, 'T', 0, "stopped", 60, 400, NULL },
};

const struct expect WORLD_THREADS[] = {
	{ 1, 1, 0, 1, 'S', 0, "systemd", 5000, 100, &MM_SYSTEMD },
	{ 2, 2, 0, 1, 'S', 1, "kthreadd", 700, 110, NULL },
	{ 3, 3, 2, 1, 'I', 1, "kworker/0:0", 300, 120, NULL },
	{ 100, 100, 1, 3, 'R', 0, "app", 1000, 200, &MM_APP },
	{ 101, 100, 1, 3, 'D', 0, "app-worker", 2000, 201, &MM_APP },
	{ 102, 100, 1, 3, 'S', 0, "app-io", 3000, 202, &MM_APP },
	{ 200, 200, 1, 1, 'Z', 0, "zombie", 40, 300, NULL },
	{ 300, 300, 1, 1, 'T', 0, "stopped", 60, 400, NULL },
};

void check_tasks(const struct guest *g, const struct gf_task *got,
		 uint32_t n, const struct expect *want, uint32_t nwant,
		 int percpu)
{
	CHECK_EQ(n, nwant);
	for (uint32_t i = 0; i < n && i < nwant; i++) {
		const struct gf_task *t = &got[i];
		const struct expect *e = &want[i];
		int before = failures;

		CHECK_EQ(t->pid, e->pid);
		CHECK_EQ(t->tgid, e->tgid);
		CHECK_EQ(t->ppid, e->ppid);
		CHECK_EQ(t->threads, e->threads);
		CHECK_EQ(t->state, e->state);
		CHECK_EQ(t->kthread, e->kthread);
		CHECK_STR(t->comm, e->comm);
		CHECK_EQ(t->cpu_ns, e->cpu_ns);
		CHECK_EQ(t->start_time, e->start_time);
		CHECK_EQ(t->rss_pages, e->mm ? mm_expected(e->mm, percpu) : 0);
		CHECK_EQ(t->addr, task_va(g, e->pid));
		note_case(before, "record %u, pid %d expected", i, e->pid);
	}
}
