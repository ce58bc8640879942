/* test/unit.c — unit tests for gpufas's core (everything but the front ends).
 *
 * Most tests run against a synthetic guest held in malloc'd buffers: RAM
 * in two ranges (at guest-physical 0 and at 4 GiB), x86-64 page tables
 * written here, and a small Linux kernel (task_structs, signal_structs,
 * mm_structs, kallsyms tables) laid out with offsets chosen here and
 * linked the way the kernel links them.
 *
 * Each test runs in a child process under an alarm, so that a crash or a
 * hang fails that test alone. The last line of output is "N passed, M
 * failed" (tests, not checks); the exit status is 1 if any test failed.
 *
 *   make test/unit && ./test/unit [TEST...]
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../loop.h"
#include "../blake2b.h"
#include "../devbox.h"
#include "../helper.h"
#include "../http.h"
#include "../prom.h"
#include "../sdnotify.h"
#include "fuzz/image.h"

/* ======================================================================
 * The harness: CHECK records a failed check and goes on, REQUIRE ends
 * the test. Tests run in a forked child; the parent reports ok or FAIL.
 * ====================================================================== */

#define TEST_TIMEOUT_S 5

static int failures;      /* failed checks of the running test */
static char scratch[64];  /* this run's temporary directory */

static void report(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("    %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures++;
}

static _Noreturn void end_test(void)
{
	fflush(stdout);
	_exit(failures ? 1 : 0);
}

static void check_eq(const char *file, int line, const char *a, const char *b,
		     uint64_t va, uint64_t vb)
{
	if (va != vb)
		report(file, line, "%s == %s: %#llx (%lld) != %#llx (%lld)", a, b,
		       (unsigned long long)va, (long long)va,
		       (unsigned long long)vb, (long long)vb);
}

static void check_str(const char *file, int line, const char *a,
		      const char *got, const char *want)
{
	if (!got || strcmp(got, want))
		report(file, line, "%s: \"%s\" != \"%s\"", a, got ? got : "(null)",
		       want);
}

static void check_has(const char *file, int line, const char *a,
		      const char *s, const char *sub)
{
	if (!strstr(s, sub))
		report(file, line, "%s: \"%s\" lacks \"%s\"", a, s, sub);
}

/* After a batch of checks: names the case they were about, if any failed. */
static void note_case(int before, const char *fmt, ...)
{
	va_list ap;

	if (failures == before)
		return;
	printf("      (");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(")\n");
}

#define CHECK(c) \
	do { if (!(c)) report(__FILE__, __LINE__, "CHECK(%s)", #c); } while (0)
#define REQUIRE(c) \
	do { if (!(c)) { report(__FILE__, __LINE__, "REQUIRE(%s)", #c); \
			 end_test(); } } while (0)
#define CHECK_EQ(a, b) \
	check_eq(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))
#define CHECK_STR(a, b) check_str(__FILE__, __LINE__, #a, (a), (b))
#define CHECK_HAS(s, sub) check_has(__FILE__, __LINE__, #s, (s), (sub))

/* A mistake in a test's own setup: ends the test as failed. */
static _Noreturn void fixture_bug(const char *what, uint64_t value)
{
	report(__FILE__, __LINE__, "fixture: %s (%#llx)", what,
	       (unsigned long long)value);
	end_test();
}

static void *xcalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		fixture_bug("out of memory", n);
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Temporary files live in `scratch`, which main() removes at the end
 * even if a test crashed before its own unlink. */
static int tmp_open(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/XXXXXX", scratch);
	if ((fd = mkstemp(path)) < 0)
		fixture_bug("mkstemp failed", (uint64_t)errno);
	return fd;
}

static void tmp_file(char *path, size_t size, const void *data, size_t len)
{
	int fd = tmp_open(path, size);

	if (write(fd, data, len) != (ssize_t)len)
		fixture_bug("short write", len);
	close(fd);
}

static void tmp_text(char *path, size_t size, const char *text)
{
	tmp_file(path, size, text, strlen(text));
}

/* A sparse file: no disk or memory used for its holes. */
static void tmp_resize(const char *path, uint64_t bytes)
{
	if (truncate(path, (off_t)bytes))
		fixture_bug("truncate failed", bytes);
}

static void quiet_stderr(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ======================================================================
 * A synthetic guest: RAM, page tables, and windows of kernel virtual
 * memory that tests allocate from.
 *
 * Guest-physical RAM:
 *   [0, 8 MiB)          "low":  1-2 MiB page tables, 2-4 MiB backs a 2 MiB
 *                       page, 4-8 MiB 4 KiB data pages
 *   [4 GiB, 4 GiB+4 MiB) "high": 4 KiB data pages
 * The heap window (the direct map) maps its pages alternately to low and
 * high RAM, so no two neighbouring heap pages are physically adjacent and
 * every page crossing changes range. The kimg window stands for the kernel
 * image (.data, kallsyms tables), in low RAM.
 * ====================================================================== */

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PAGE 4096ull

#define LOW_SIZE (8 * MiB)
#define HIGH_PA (4 * GiB)
#define HIGH_SIZE (4 * MiB)
#define PT_PA (1 * MiB)
#define PT_END (2 * MiB)
#define BIG_PA (2 * MiB)
#define DATA_PA (4 * MiB)
#define NDATA_LOW ((LOW_SIZE - DATA_PA) / PAGE)
#define NDATA_HIGH (HIGH_SIZE / PAGE)
#define HOLE_PA (3 * GiB + 256 * MiB) /* neither range: QEMU's PCI hole */
enum { R_HIGH, R_LOW };               /* index in gf_mem: unsorted on purpose */

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_PAT_LARGE 0x1000ull /* PAT bit of a large page: not address */
#define PTE_SOFT (1ull << 58)   /* ignored by the MMU: not address */
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define PTE_LEAF (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_NX)
#define PTE_TABLE (PTE_P | PTE_RW | PTE_A | PTE_SOFT)

#define DMAP4 0xffff888000000000ull /* page_offset_base, 4-level */
#define DMAP5 0xff11000000000000ull /* page_offset_base, 5-level */
#define HEAP_OFF (4 * GiB)          /* the heap window within the direct map */
#define SPARE_OFF (16 * MiB)        /* free direct-map VAs for odd mappings */
#define KIMG_VA 0xffffffff82000000ull
#define VMALLOC_VA 0xffffc90000000000ull /* never mapped here */
#define LIST_POISON1 0xdead000000000100ull
#define HEAP_PAGES 1536u
#define KIMG_PAGES 128u

#define NCPUS 4
#define PCPU_BASE 0x2a000ull /* where per-CPU pointers point before offsetting */

struct window {
	uint64_t va, next; /* start, and the bump allocator */
	uint32_t npages;
	uint64_t pa[HEAP_PAGES];
};

struct guest {
	struct gf_kernel k;
	uint8_t *low, *high;
	uint64_t pt_next;
	uint32_t low_used, high_used;
	struct window heap, kimg;
	uint64_t dmap;
	uint64_t pcpu_area[NCPUS];
	uint32_t pcpu_used;
	uint64_t init_task;
	uint32_t ntasks;
	struct { int32_t pid; uint64_t va; } task[64]; /* the first 64 made */
};

/* Where guest-physical [pa, pa+len) lies in this process. */
static uint8_t *host(const struct guest *g, uint64_t pa, uint64_t len)
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
static uint64_t *pte_slot(struct guest *g, uint64_t va, unsigned leaf)
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

static void map_page(struct guest *g, uint64_t va, uint64_t pa)
{
	*pte_slot(g, va, 1) = pa | PTE_LEAF;
}

static void map_large(struct guest *g, uint64_t va, uint64_t pa, unsigned level)
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

static uint64_t win_alloc(struct window *w, uint64_t size, uint64_t align)
{
	uint64_t va = (w->next + align - 1) & ~(align - 1);

	if (va + size > w->va + w->npages * PAGE)
		fixture_bug("window full", size);
	w->next = va + size;
	return va;
}

/* The test's own translation, from its record of the windows: fixtures
 * never depend on the code under test. */
static uint64_t fixture_pa(const struct guest *g, uint64_t va)
{
	const struct window *ws[] = { &g->heap, &g->kimg };

	for (int i = 0; i < 2; i++)
		if (va - ws[i]->va < ws[i]->npages * PAGE)
			return ws[i]->pa[(va - ws[i]->va) / PAGE] + va % PAGE;
	fixture_bug("address outside the windows", va);
}

static void put(struct guest *g, uint64_t va, const void *src, uint64_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint64_t n = PAGE - va % PAGE < len ? PAGE - va % PAGE : len;
		memcpy(host(g, fixture_pa(g, va), n), s, n);
		va += n, s += n, len -= n;
	}
}

static void get(const struct guest *g, uint64_t va, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	while (len) {
		uint64_t n = PAGE - va % PAGE < len ? PAGE - va % PAGE : len;
		memcpy(d, host(g, fixture_pa(g, va), n), n);
		va += n, d += n, len -= n;
	}
}

static void w64(struct guest *g, uint64_t va, uint64_t v) { put(g, va, &v, 8); }
static void w32(struct guest *g, uint64_t va, uint32_t v) { put(g, va, &v, 4); }
static void w16(struct guest *g, uint64_t va, uint16_t v) { put(g, va, &v, 2); }
static uint64_t r64(const struct guest *g, uint64_t va)
{
	uint64_t v;
	get(g, va, &v, 8);
	return v;
}
static uint32_t r32(const struct guest *g, uint64_t va)
{
	uint32_t v;
	get(g, va, &v, 4);
	return v;
}
static void or64(struct guest *g, uint64_t va, uint64_t bits)
{
	w64(g, va, r64(g, va) | bits);
}

/* Fills fresh kernel objects with junk, so that a reader relying on
 * zeroed memory is caught. */
static void junk(struct guest *g, uint64_t va, uint64_t len)
{
	uint8_t pattern[64];

	memset(pattern, 0x5a, sizeof pattern);
	for (uint64_t off = 0; off < len; off += sizeof pattern)
		put(g, va + off, pattern,
		    len - off < sizeof pattern ? len - off : sizeof pattern);
}

/* With GPUFAS_FUZZ_SEEDS=DIR (make fuzz-seeds), a fixture's kernel is
 * also a seed of a RAM fuzz target: DIR/target/name holds `text` and its
 * NUL if there is one (fuzz_kallsyms's VMCOREINFO), then g's image. */
/* The same for a file a fixture wrote (a cached profile, a dump). */
static void fuzz_seed_file(const char *target, const char *name, const char *from)
{
	const char *dir = getenv("GPUFAS_FUZZ_SEEDS");
	char cmd[3 * PATH_MAX];

	if (!dir)
		return;
	snprintf(cmd, sizeof cmd, "cp '%s' '%s/%s/%s'", from, dir, target, name);
	if (system(cmd))
		fixture_bug("cannot copy a seed", 0);
}

static void fuzz_seed(const char *target, const char *name, const struct guest *g,
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

/* ======================================================================
 * The synthetic kernel: struct layouts, lists, tasks, mms.
 * ====================================================================== */

enum {
	/* task_struct */
	T_TI_FLAGS = 0x000, T_STATE = 0x018, T_FLAGS = 0x02c, T_SUM_EXEC = 0x0c8,
	T_MM = 0x498, T_TASKS = 0x4a8, T_EXIT_STATE = 0x4e0, T_PID = 0x5a0,
	T_TGID = 0x5a4, T_REAL_PARENT = 0x5b0, T_THREAD_NODE = 0x628,
	T_START_TIME = 0x660, T_SIGNAL = 0x6d0, T_BLOCKED = 0x6e8,
	T_PENDING = 0x700, T_COMM = 0x7b8, TASK_SIZE = 0xa40,
	/* signal_struct */
	S_NR_THREADS = 0x0c, S_THREAD_HEAD = 0x10, S_SHARED_PENDING = 0x38,
	S_GROUP_EXIT_CODE = 0x58, S_GROUP_STOP_COUNT = 0x60, S_FLAGS = 0x64,
	S_SUM_SCHED = 0x2f0, SIGNAL_SIZE = 0x400,
	/* struct sigpending */
	SP_SIGNAL = 0x10,
	/* mm_struct; struct percpu_counter */
	MM_RSS_STAT = 0x2c0, MM_SIZE = 0x500,
	PC_COUNT = 8, PC_COUNTERS = 32, PC_SIZE = 40,
};

/* From include/linux/sched.h and signal.h */
#define TASK_INTERRUPTIBLE 0x1u
#define TASK_UNINTERRUPTIBLE 0x2u
#define TASK_STOPPED 0x104u
#define TASK_IDLE 0x402u
#define EXIT_ZOMBIE 0x20u
#define PF_KTHREAD 0x00200000u
#define KTHREAD_FLAGS (PF_KTHREAD | 0x8040u)  /* with PF_NOFREEZE, PF_FORKNOEXEC */
#define USER_FLAGS 0x00400140u                /* PF_RANDOMIZE, PF_SUPERPRIV... */
#define SIGNAL_STOP_CONTINUED 0x2u
#define SIGNAL_GROUP_EXIT 0x4u
#define TIF_SIGPENDING 2
#define TIF_NEED_RESCHED 3
#define SIGBIT(s) (1ull << ((s) - 1))

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
static void list_init(struct guest *g, uint64_t head)
{
	w64(g, head, head);
	w64(g, head + 8, head);
}

static void list_add_tail(struct guest *g, uint64_t node, uint64_t head)
{
	uint64_t prev = r64(g, head + 8);

	w64(g, node, head);
	w64(g, node + 8, prev);
	w64(g, prev, node);
	w64(g, head + 8, node);
}

static void list_del(struct guest *g, uint64_t node)
{
	uint64_t next = r64(g, node), prev = r64(g, node + 8);

	w64(g, prev, next);
	w64(g, next + 8, prev);
}

struct tspec {
	int32_t pid, tgid; /* tgid 0: the pid */
	const char *comm;
	uint32_t state, exit_state, flags;
	uint64_t start_time, runtime, blocked;
};

static void remember(struct guest *g, int32_t pid, uint64_t va)
{
	if (g->ntasks < sizeof g->task / sizeof *g->task) {
		g->task[g->ntasks].pid = pid;
		g->task[g->ntasks++].va = va;
	}
}

static uint64_t task_va(const struct guest *g, int32_t pid)
{
	for (uint32_t i = 0; i < g->ntasks; i++)
		if (g->task[i].pid == pid)
			return g->task[i].va;
	fixture_bug("no task with that pid", (uint64_t)pid);
}

static uint64_t signal_of(const struct guest *g, int32_t pid)
{
	return r64(g, task_va(g, pid) + T_SIGNAL);
}

static uint64_t signal_new(struct guest *g)
{
	uint64_t s = win_alloc(&g->heap, SIGNAL_SIZE, 64);

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

static uint64_t task_new(struct guest *g, const struct tspec *s,
			 uint64_t signal, uint64_t parent, uint64_t mm)
{
	return task_init(g, win_alloc(&g->heap, TASK_SIZE, 64), s, signal,
			 parent, mm);
}

/* A thread-group leader with its own signal_struct, on init_task.tasks. */
static uint64_t process_new(struct guest *g, const struct tspec *s,
			    uint64_t parent, uint64_t mm)
{
	uint64_t t = task_new(g, s, signal_new(g), parent, mm);

	list_add_tail(g, t + T_TASKS, g->init_task + T_TASKS);
	return t;
}

/* Another thread of `leader`'s group: shares its signal, parent and mm. */
static uint64_t thread_new(struct guest *g, uint64_t leader,
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

/* rss_stat: counts (atomic_long_t or percpu_counter.count) and, for
 * percpu_counters, each CPU's s32 delta; indexed by enum mm_counter_type. */
struct mmspec {
	int64_t count[4];
	int32_t delta[4][NCPUS];
};

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
		slot = g->pcpu_used;
		g->pcpu_used += 4;
		w64(g, c + PC_COUNT, (uint64_t)m->count[i]);
		w64(g, c + PC_COUNTERS, PCPU_BASE + slot);
		for (int cpu = 0; cpu < NCPUS; cpu++)
			w32(g, g->pcpu_area[cpu] + slot, (uint32_t)m->delta[i][cpu]);
	}
	return mm;
}

/* What ps shows as RSS, in pages: file + anon + shmem, each at least 0. */
static uint64_t mm_expected(const struct mmspec *m, int percpu)
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

static struct guest *guest_new(unsigned levels, int percpu)
{
	struct guest *g = xcalloc(sizeof *g);
	uint64_t init;

	g->low = xcalloc(LOW_SIZE);
	g->high = xcalloc(HIGH_SIZE);
	g->k.mem.nranges = 2;
	g->k.mem.range[R_HIGH] = (struct gf_range){ .phys = HIGH_PA, .size = HIGH_SIZE, .base = g->high };
	g->k.mem.range[R_LOW] = (struct gf_range){ .phys = 0, .size = LOW_SIZE, .base = g->low };
	g->k.writable = 1;
	g->pt_next = PT_PA;
	set_layout(&g->k.lay, levels, percpu);
	g->k.lay.cr3 = pt_alloc(g);
	g->dmap = levels == 5 ? DMAP5 : DMAP4;
	window_init(g, &g->heap, g->dmap + HEAP_OFF, HEAP_PAGES, 1);
	window_init(g, &g->kimg, KIMG_VA, KIMG_PAGES, 0);
	percpu_init(g);
	/* init_task, pid 0, lives in the kernel image and heads the tasks list */
	init = task_init(g, win_alloc(&g->kimg, TASK_SIZE, 64),
			 &(struct tspec){ .pid = 0, .comm = "swapper/0",
					  .flags = KTHREAD_FLAGS },
			 signal_new(g), 0, 0);
	w64(g, init + T_REAL_PARENT, init);
	g->init_task = g->k.lay.init_task = init;
	return g;
}

static void guest_free(struct guest *g)
{
	free(g->low);
	free(g->high);
	free(g);
}

/* A copy with its own RAM: to build the expected memory after a write. */
static struct guest *guest_clone(const struct guest *g)
{
	struct guest *c = xcalloc(sizeof *c);

	*c = *g;
	c->low = xcalloc(LOW_SIZE);
	c->high = xcalloc(HIGH_SIZE);
	memcpy(c->low, g->low, LOW_SIZE);
	memcpy(c->high, g->high, HIGH_SIZE);
	c->k.mem.range[R_LOW].base = c->low;
	c->k.mem.range[R_HIGH].base = c->high;
	return c;
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

static void check_memory(const char *file, int line, const struct guest *want,
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

#define CHECK_MEMORY(want, got) check_memory(__FILE__, __LINE__, want, got)

/* ---- The standard world: a few processes, one with three threads ---- */

static const struct mmspec MM_SYSTEMD = {
	.count = { 100, 200, 999, 7 },
	.delta = { { 1, -2, 3, 0 }, { 5, 5, 5, 5 }, { 9, 9, 9, 9 },
		   { -10, 0, 0, 0 } },
};
static const struct mmspec MM_APP = {
	.count = { 10, -5, 0, 3 },
	.delta = { { 0, 0, 0, -1 }, { 2, 2, 2, 2 }, { 0 }, { 100, -50, 0, 0 } },
};

static struct guest *world_new(unsigned levels, int percpu)
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

struct expect {
	int32_t pid, tgid, ppid, threads;
	char state;
	uint8_t kthread;
	const char *comm;
	uint64_t cpu_ns, start_time;
	const struct mmspec *mm;
};

static const struct expect WORLD_PROCESSES[] = {
	{ 1, 1, 0, 1, 'S', 0, "systemd", 5000, 100, &MM_SYSTEMD },
	{ 2, 2, 0, 1, 'S', 1, "kthreadd", 700, 110, NULL },
	{ 3, 3, 2, 1, 'I', 1, "kworker/0:0", 300, 120, NULL },
	{ 100, 100, 1, 3, 'R', 0, "app", 1000 + 2000 + 3000 + 500, 200, &MM_APP },
	{ 200, 200, 1, 1, 'Z', 0, "zombie", 40, 300, NULL },
	{ 300, 300, 1, 1, 'T', 0, "stopped", 60, 400, NULL },
};

static const struct expect WORLD_THREADS[] = {
	{ 1, 1, 0, 1, 'S', 0, "systemd", 5000, 100, &MM_SYSTEMD },
	{ 2, 2, 0, 1, 'S', 1, "kthreadd", 700, 110, NULL },
	{ 3, 3, 2, 1, 'I', 1, "kworker/0:0", 300, 120, NULL },
	{ 100, 100, 1, 3, 'R', 0, "app", 1000, 200, &MM_APP },
	{ 101, 100, 1, 3, 'D', 0, "app-worker", 2000, 201, &MM_APP },
	{ 102, 100, 1, 3, 'S', 0, "app-io", 3000, 202, &MM_APP },
	{ 200, 200, 1, 1, 'Z', 0, "zombie", 40, 300, NULL },
	{ 300, 300, 1, 1, 'T', 0, "stopped", 60, 400, NULL },
};

#define NELEM(a) (sizeof (a) / sizeof *(a))

static void check_tasks(const struct guest *g, const struct gf_task *got,
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

/* ======================================================================
 * 1. Paging: gf_virt_to_phys, gf_read, gf_phys_read
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
 * 2. gf_walk_tasks
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
 * 3. Corrupted guest data: every walk ends, with an error, quickly.
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

static void bad_back_link(struct guest *g)
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
 * 4. gf_find_task
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
 * 5. gf_send_signal: exactly the expected bytes change, or none.
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
static void expect_kill(struct guest *want, const int32_t *tids, int n)
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

/* ======================================================================
 * 6. kallsyms_load on synthetic tables
 * ====================================================================== */

#define RELBASE 0xffffffff81000000ull /* kallsyms_relative_base (_text) */
#define STEXT 0xffffffff81001000ull

/* Token byte -> string: three multi-character tokens, then one token per
 * printable character, empty tokens for the rest. */
static const char *const MULTI_TOKENS[] = { NULL, "init_", "_task", "cpu_" };

static char LONG_NAME[201]; /* 't' + 199 'a': 200 tokens, a two-byte length */

struct ksym {
	const char *name; /* with its type letter */
	uint64_t addr;
};

static const struct ksym KSYMS[] = {
	{ "Tstartup_64", RELBASE },
	{ "T_stext", STEXT },
	{ "Tstart_kernel", 0xffffffff83a1b2c0ull },
	{ "Dinit_task", 0xffffffff82a0c940ull },
	{ "texit_task_stack_account", 0xffffffff810a1230ull },
	{ "Dnr_cpu_ids", 0xffffffff82b01234ull },
	{ LONG_NAME, 0xffffffff81234560ull },
	{ "Dcpu_number", 0x2a018 }, /* per-CPU, absolute: rule 0 only, last */
};

/* What the tests look up: every name of KSYMS and of the image tables
 * below, and one that no table has, so that every name is decoded. */
static const char *const WANTED[] = {
	"startup_64", "_stext", "start_kernel", "init_task", "exit_task_stack_account",
	"nr_cpu_ids", LONG_NAME + 1, "cpu_number", "fn_299", "nonexistent",
};

struct ktables {
	struct guest *g;
	uint32_t nsyms, table_len;
	uint64_t num, names, token_table, token_index, offsets, relative_base;
	struct vmcoreinfo vi;
};

static const char *token_of(unsigned b, char one[2])
{
	if (b > 0 && b < NELEM(MULTI_TOKENS))
		return MULTI_TOKENS[b];
	one[0] = b > 0x20 && b < 0x7f ? (char)b : 0;
	one[1] = 0;
	return one;
}

/* A name as scripts/kallsyms writes it: a length in tokens (two bytes
 * from 128: low 7 bits | 0x80, then the rest), then the tokens. */
static uint32_t encode_name(const char *name, uint8_t *out)
{
	uint8_t tok[600];
	uint32_t n = 0;

	while (*name) {
		unsigned b = (uint8_t)*name;
		size_t len = 1;
		for (unsigned m = 1; m < NELEM(MULTI_TOKENS); m++)
			if (!strncmp(name, MULTI_TOKENS[m], strlen(MULTI_TOKENS[m]))) {
				b = m;
				len = strlen(MULTI_TOKENS[m]);
				break;
			}
		tok[n++] = (uint8_t)b;
		name += len;
	}
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		memcpy(out + 1, tok, n);
		return n + 1;
	}
	out[0] = (uint8_t)(0x80 | (n & 0x7f));
	out[1] = (uint8_t)(n >> 7);
	memcpy(out + 2, tok, n);
	return n + 2;
}

static int32_t encode_offset(int rule, uint64_t addr, uint64_t entry)
{
	switch (rule) {
	case 0: /* absolute per-CPU */
		return addr < RELBASE ? (int32_t)addr : (int32_t)(RELBASE - 1 - addr);
	case 1: /* base-relative */
		return (int32_t)(uint32_t)(addr - RELBASE);
	default: /* place-relative */
		return (int32_t)(addr - entry);
	}
}

/* VMCOREINFO naming the tables, less the key `omit`. */
static void ktables_vmcoreinfo(struct ktables *kt, const char *omit,
			       uint64_t stext)
{
	const struct { const char *name; uint64_t va; } syms[] = {
		{ "kallsyms_num_syms", kt->num },
		{ "kallsyms_names", kt->names },
		{ "kallsyms_token_table", kt->token_table },
		{ "kallsyms_token_index", kt->token_index },
		{ "kallsyms_offsets", kt->offsets },
		{ "kallsyms_relative_base", kt->relative_base },
		{ "_stext", stext },
	};
	size_t len = (size_t)snprintf(kt->vi.text, sizeof kt->vi.text,
				      "OSRELEASE=6.8.0\nPAGESIZE=4096\n");

	for (uint32_t i = 0; i < NELEM(syms); i++)
		if (!omit || strcmp(omit, syms[i].name))
			len += (size_t)snprintf(kt->vi.text + len,
				sizeof kt->vi.text - len, "SYMBOL(%s)=%llx\n",
				syms[i].name, (unsigned long long)syms[i].va);
}

/* Writes the tables for address rule `rule` into a fresh guest. The token
 * table goes at the start of kimg's last page, unmapped memory after. */
static void ktables_build(struct ktables *kt, int rule)
{
	static uint8_t names[4096];
	char table[2048], one[2];
	uint16_t index[256];
	uint32_t len = 0;
	struct guest *g;

	memset(kt, 0, sizeof *kt);
	g = kt->g = guest_new(4, 0);
	LONG_NAME[0] = 't';
	memset(LONG_NAME + 1, 'a', sizeof LONG_NAME - 2);
	kt->nsyms = rule == 0 ? NELEM(KSYMS) : NELEM(KSYMS) - 1;
	for (uint32_t i = 0; i < kt->nsyms; i++)
		len += encode_name(KSYMS[i].name, names + len);
	for (unsigned b = 0; b < 256; b++) {
		const char *tok = token_of(b, one);
		index[b] = (uint16_t)kt->table_len;
		strcpy(table + kt->table_len, tok);
		kt->table_len += (uint32_t)strlen(tok) + 1;
	}
	kt->num = win_alloc(&g->kimg, 4, 8);
	kt->relative_base = win_alloc(&g->kimg, 8, 8);
	kt->offsets = win_alloc(&g->kimg, 4 * kt->nsyms, 8);
	kt->names = win_alloc(&g->kimg, len, 8);
	kt->token_index = win_alloc(&g->kimg, sizeof index, 8);
	kt->token_table = KIMG_VA + (KIMG_PAGES - 1) * PAGE + 0x100;
	w32(g, kt->num, kt->nsyms);
	w64(g, kt->relative_base, RELBASE);
	for (uint32_t i = 0; i < kt->nsyms; i++)
		w32(g, kt->offsets + 4 * i, (uint32_t)encode_offset(rule,
			KSYMS[i].addr, kt->offsets + 4 * i));
	put(g, kt->names, names, len);
	put(g, kt->token_index, index, sizeof index);
	put(g, kt->token_table, table, kt->table_len);
	ktables_vmcoreinfo(kt, NULL, STEXT);
}

/* kallsyms_load expected to fail, with `needle` in its message. */
static void check_load_fails(struct ktables *kt, const char *needle)
{
	struct gf_symtab *s = (struct gf_symtab *)1;
	char err[256] = "";

	CHECK_EQ(kallsyms_load(&kt->g->k, &kt->vi, WANTED, NELEM(WANTED), &s, err, sizeof err), -1);
	CHECK(s == NULL);
	CHECK_HAS(err, needle);
}

static void test_kallsyms_rules(void)
{
	for (int rule = 0; rule < 3; rule++) {
		struct ktables kt;
		struct gf_symtab *s = NULL;
		char err[256] = "";
		int before = failures;

		ktables_build(&kt, rule);
		snprintf(err, sizeof err, "rule-%d", rule);
		fuzz_seed("fuzz_kallsyms", err, kt.g, kt.vi.text, 0, 0);
		CHECK_EQ(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
		if (!s) {
			printf("      (rule %d: %s)\n", rule, err);
			guest_free(kt.g);
			continue;
		}
		CHECK_EQ(symtab_count(s), kt.nsyms);
		for (uint32_t i = 0; i < kt.nsyms; i++) {
			uint64_t va = 0;
			CHECK_EQ(symtab_lookup(s, KSYMS[i].name + 1, &va), 0);
			CHECK_EQ(va, KSYMS[i].addr);
		}
		note_case(before, "with address rule %d", rule);
		symtab_free(s);
		guest_free(kt.g);
	}
}

static void test_kallsyms_unknown_name(void)
{
	static const char *const unknown[] = {
		"nonexistent", "", "_stex", "_stext2", "T_stext", "init", "a",
	};
	struct ktables kt;
	struct gf_symtab *s = NULL;
	char err[256] = "";
	uint64_t va = 0x1234;

	ktables_build(&kt, 1);
	REQUIRE(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err) == 0);
	for (uint32_t i = 0; i < NELEM(unknown); i++)
		CHECK_EQ(symtab_lookup(s, unknown[i], &va), -1);
	CHECK_EQ(va, 0x1234);
	CHECK_EQ(symtab_lookup(s, "startup_64", &va), 0);
	symtab_free(s);
	guest_free(kt.g);
}

static void test_kallsyms_corrupt_names(void)
{
	struct ktables kt;
	const uint64_t kimg_end = KIMG_VA + KIMG_PAGES * PAGE;
	uint8_t xs[256];

	/* a token index beyond the (readable) token table */
	ktables_build(&kt, 1);
	w16(kt.g, kt.token_index + 2 * 's', 0x2000);
	check_load_fails(&kt, "corrupt");
	guest_free(kt.g);
	/* a token running to the end of what is mapped, unterminated */
	ktables_build(&kt, 1);
	memset(xs, 'x', sizeof xs);
	for (uint64_t va = kt.token_table + kt.table_len; va < kimg_end;
	     va += sizeof xs)
		put(kt.g, va, xs, kimg_end - va < sizeof xs ? kimg_end - va
							    : sizeof xs);
	w16(kt.g, kt.token_index + 2 * 's', (uint16_t)kt.table_len);
	check_load_fails(&kt, "corrupt");
	guest_free(kt.g);
	/* fewer names than kallsyms_num_syms says */
	ktables_build(&kt, 1);
	w32(kt.g, kt.num, kt.nsyms + 50);
	check_load_fails(&kt, "names");
	guest_free(kt.g);
	/* the names table not mapped */
	ktables_build(&kt, 1);
	kt.names = VMALLOC_VA;
	ktables_vmcoreinfo(&kt, NULL, STEXT);
	check_load_fails(&kt, "names");
	guest_free(kt.g);
}

static void test_kallsyms_bad_count(void)
{
	static const uint32_t bad[] = { 0, (1u << 21) + 1, 0x7fffffff, UINT32_MAX };

	for (uint32_t i = 0; i < NELEM(bad); i++) {
		struct ktables kt;
		ktables_build(&kt, 1);
		w32(kt.g, kt.num, bad[i]);
		check_load_fails(&kt, "implausible");
		guest_free(kt.g);
	}
}

static void test_kallsyms_missing(void)
{
	static const char *const keys[] = {
		"kallsyms_num_syms", "kallsyms_names", "kallsyms_token_table",
		"kallsyms_token_index", "kallsyms_offsets", "kallsyms_relative_base",
		"_stext",
	};
	struct ktables kt;

	for (uint32_t i = 0; i < NELEM(keys); i++) {
		ktables_build(&kt, 1);
		ktables_vmcoreinfo(&kt, keys[i], STEXT);
		check_load_fails(&kt, i + 1 < NELEM(keys) ? "kallsyms" : "_stext");
		guest_free(kt.g);
	}
	/* _stext where no rule puts it */
	ktables_build(&kt, 1);
	ktables_vmcoreinfo(&kt, NULL, STEXT + 4);
	check_load_fails(&kt, "no known address encoding");
	guest_free(kt.g);
	/* the offsets table not mapped */
	ktables_build(&kt, 1);
	kt.offsets = VMALLOC_VA;
	ktables_vmcoreinfo(&kt, NULL, STEXT);
	check_load_fails(&kt, "not readable");
	guest_free(kt.g);
}

/* 7.0's place-relative offsets need no base: VMCOREINFO names none, and
 * only that rule may be tried then. */
static void test_kallsyms_no_relative_base(void)
{
	for (int rule = 0; rule < 3; rule++) {
		struct ktables kt;
		struct gf_symtab *s = NULL;
		char err[256] = "";
		uint64_t va = 0;

		ktables_build(&kt, rule);
		ktables_vmcoreinfo(&kt, "kallsyms_relative_base", STEXT);
		if (rule < 2) {
			check_load_fails(&kt, "no known address encoding");
		} else {
			CHECK_EQ(kallsyms_load(&kt.g->k, &kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
			CHECK_EQ(s ? symtab_lookup(s, "init_task", &va) : -1, 0);
			CHECK_EQ(va, 0xffffffff82a0c940ull);
			symtab_free(s);
		}
		guest_free(kt.g);
	}
}

/* Before 6.0 VMCOREINFO names no table: they are found in the image, laid
 * out as scripts/kallsyms.c did before 6.4 (5.10): offsets, relative
 * base, count, names, markers, token table and index, each 8-aligned.
 * IMG_SYMS symbols need two markers; the first is _stext, where the
 * image starts. */
#define IMG_SYMS 300u

struct kimage {
	struct ktables kt;
	uint64_t stext, markers;
};

static uint64_t img_sym_addr(const struct kimage *ki, uint32_t i)
{
	return ki->stext + 16ull * i;
}

static void kimage_build(struct kimage *ki)
{
	static uint8_t names[IMG_SYMS * 16];
	char table[2048], one[2], name[32];
	uint32_t len = 0, markers[2] = { 0 };
	uint16_t index[256];
	struct ktables *kt = &ki->kt;
	struct guest *g;

	memset(ki, 0, sizeof *ki);
	g = kt->g = guest_new(4, 0);
	kt->nsyms = IMG_SYMS;
	for (uint32_t i = 0; i < IMG_SYMS; i++) {
		if (i == 256)
			markers[1] = len;
		snprintf(name, sizeof name, i ? "tfn_%u" : "T_stext", i);
		len += encode_name(name, names + len);
	}
	for (unsigned b = 0; b < 256; b++) {
		const char *tok = token_of(b, one);
		index[b] = (uint16_t)kt->table_len;
		strcpy(table + kt->table_len, tok);
		kt->table_len += (uint32_t)strlen(tok) + 1;
	}
	/* the image's first page holds a decoy: the digits with no index */
	ki->stext = win_alloc(&g->kimg, PAGE, PAGE);
	put(g, ki->stext + 64, "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0"
	    "8\0" "9", 20);
	kt->offsets = win_alloc(&g->kimg, 4 * IMG_SYMS, 8);
	kt->relative_base = win_alloc(&g->kimg, 8, 8);
	kt->num = win_alloc(&g->kimg, 4, 8);
	kt->names = win_alloc(&g->kimg, len, 8);
	ki->markers = win_alloc(&g->kimg, sizeof markers, 8);
	kt->token_table = win_alloc(&g->kimg, kt->table_len, 8);
	kt->token_index = win_alloc(&g->kimg, sizeof index, 8);
	for (uint32_t i = 0; i < IMG_SYMS; i++)
		w32(g, kt->offsets + 4 * i,
		    (uint32_t)(int32_t)(RELBASE - 1 - img_sym_addr(ki, i)));
	w64(g, kt->relative_base, RELBASE);
	w32(g, kt->num, IMG_SYMS);
	put(g, kt->names, names, len);
	put(g, ki->markers, markers, sizeof markers);
	put(g, kt->token_table, table, kt->table_len);
	put(g, kt->token_index, index, sizeof index);
	snprintf(kt->vi.text, sizeof kt->vi.text,
		 "OSRELEASE=5.10.0\nPAGESIZE=4096\nSYMBOL(_stext)=%llx\n",
		 (unsigned long long)ki->stext);
}

static void test_kallsyms_from_image(void)
{
	struct kimage ki;
	struct gf_symtab *s = NULL;
	char err[256] = "";
	uint64_t va = 0;

	kimage_build(&ki);
	fuzz_seed("fuzz_kallsyms", "from-image", ki.kt.g, ki.kt.vi.text, 0, 0);
	CHECK_EQ(kallsyms_load(&ki.kt.g->k, &ki.kt.vi, WANTED, NELEM(WANTED), &s, err, sizeof err), 0);
	if (s) {
		CHECK_EQ(symtab_count(s), IMG_SYMS);
		CHECK_EQ(symtab_lookup(s, "_stext", &va), 0);
		CHECK_EQ(va, ki.stext);
		CHECK_EQ(symtab_lookup(s, "fn_299", &va), 0);
		CHECK_EQ(va, img_sym_addr(&ki, 299));
	} else {
		printf("      (%s)\n", err);
	}
	symtab_free(s);
	guest_free(ki.kt.g);
}

/* Tables that do not hang together are not taken. */
static void test_kallsyms_image_broken(void)
{
	struct kimage ki;

	/* a token the index does not point at */
	kimage_build(&ki);
	w16(ki.kt.g, ki.kt.token_index + 2 * 'q', 0);
	check_load_fails(&ki.kt, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* a count the markers disagree with */
	kimage_build(&ki);
	w32(ki.kt.g, ki.kt.num, 600);
	check_load_fails(&ki.kt, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* a marker off by one */
	kimage_build(&ki);
	w32(ki.kt.g, ki.markers + 4, 77);
	check_load_fails(&ki.kt, "nor found in the kernel image");
	guest_free(ki.kt.g);
	/* _stext not where the scan can start */
	kimage_build(&ki);
	snprintf(ki.kt.vi.text, sizeof ki.kt.vi.text,
		 "OSRELEASE=5.10.0\nSYMBOL(_stext)=%llx\n", (unsigned long long)VMALLOC_VA);
	check_load_fails(&ki.kt, "nor found in the kernel image");
	guest_free(ki.kt.g);
}

/* ======================================================================
 * 7. VMCOREINFO
 * ====================================================================== */

#define VI_TEXT "OSRELEASE=6.8.0-gpufas\nPAGESIZE=4096\n" \
	"KERNELOFFSET=1e000000\nNUMBER(phys_base)=-123456\n" \
	"SYMBOL(init_top_pgt)=ffffffff83a2e000\n"

static int complete(const char *text)
{
	return vmcoreinfo_is_complete(text, strlen(text) + 1);
}

static void test_vmcoreinfo_complete(void)
{
	CHECK_EQ(complete(VI_TEXT), 1);
	CHECK_EQ(complete(VI_TEXT "SYMBOL(init_task)=ffffffff82a0c940\n"), 1);
	CHECK_EQ(vmcoreinfo_is_complete(VI_TEXT "\0garbage", sizeof VI_TEXT + 8), 1);
	/* no NUL within the length */
	CHECK_EQ(vmcoreinfo_is_complete(VI_TEXT, strlen(VI_TEXT)), 0);
	/* keys missing, empty, or only as a prefix of another key */
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1e000000\n"
			  "NUMBER(phys_base)=0\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=\nNUMBER(phys_base)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1\nNUMBER(phys_base_x)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	CHECK_EQ(complete("OSRELEASE=6.8.0\nKERNELOFFSET=1\nXNUMBER(phys_base)=0\n"
			  "SYMBOL(init_top_pgt)=ffffffff83a2e000\n"), 0);
	/* not at the start, too short, not printable */
	CHECK_EQ(complete("X" VI_TEXT), 0);
	CHECK_EQ(complete("OSREL"), 0);
	CHECK_EQ(complete(""), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\x01\n"), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\x80\n"), 0);
	CHECK_EQ(complete(VI_TEXT "BUILD-ID=\tx\n"), 0);
	CHECK_EQ(complete(VI_TEXT "\x7f"), 0);
}

/* A text longer than struct vmcoreinfo holds: the kernel's is at most a
 * page, so it is not VMCOREINFO; answering must not overflow anything. */
static void test_vmcoreinfo_long_text(void)
{
	size_t len = 3 * VMCOREINFO_MAX;
	char *text = xcalloc(len);
	size_t n = strlen(VI_TEXT);
	int r;

	memcpy(text, VI_TEXT, n);
	while (n + 16 < 2 * VMCOREINFO_MAX)
		n += (size_t)sprintf(text + n, "NUMBER(x%05zu)=1\n", n);
	r = vmcoreinfo_is_complete(text, len);
	CHECK(r == 0 || r == 1);
	free(text);
}

static void test_vmcoreinfo_values(void)
{
	struct vmcoreinfo vi = { .phys = 0 };
	char val[16];
	uint64_t h = 7;
	int64_t d = 7;

	snprintf(vi.text, sizeof vi.text, "%s",
		 "OSRELEASE_X=5\nKERNELOFFSET_OLD=deadbeef\n"
		 VI_TEXT
		 "SYMBOL(init_task_x)=1111\n"
		 "SYMBOL(init_task)=ffffffff82a0c940\n"
		 "NUMBER(phys_base_x)=77\n"
		 "OFFSET(task_struct.pid)=2464\n"
		 "SYMBOL(bad)=12zz\n"
		 "SYMBOL(empty)=\n"
		 "SYMBOL(long)=0000000000000000000000000000000000000001\n"
		 "NUMBER(hexy)=0x10\n"
		 "NUMBER(last)=42");
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task)", &h), 0);
	CHECK_EQ(h, 0xffffffff82a0c940ull);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task_x)", &h), 0);
	CHECK_EQ(h, 0x1111);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_tas)", &h), -1);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_task", &h), -1);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(init_top_pgt)", &h), 0);
	CHECK_EQ(h, 0xffffffff83a2e000ull);
	CHECK_EQ(vmcoreinfo_hex(&vi, "KERNELOFFSET", &h), 0);
	CHECK_EQ(h, 0x1e000000);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(phys_base)", &d), 0);
	CHECK_EQ(d, -123456);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(phys_base_x)", &d), 0);
	CHECK_EQ(d, 77);
	CHECK_EQ(vmcoreinfo_dec(&vi, "OFFSET(task_struct.pid)", &d), 0);
	CHECK_EQ(d, 2464);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(last)", &d), 0);
	CHECK_EQ(d, 42);
	/* bad, empty, overlong, wrong base, missing */
	h = 5;
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(bad)", &h), -1);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(empty)", &h), -1);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(long)", &h), -1);
	CHECK_EQ(vmcoreinfo_hex(&vi, "SYMBOL(nowhere)", &h), -1);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(hexy)", &d), -1);
	CHECK_EQ(vmcoreinfo_dec(&vi, "SYMBOL(init_task)", &d), -1);
	CHECK_EQ(vmcoreinfo_dec(&vi, "NUMBER(nowhere)", &d), -1);
	/* vmcoreinfo_get: the value must fit with its NUL */
	CHECK_EQ(vmcoreinfo_get(&vi, "KERNELOFFSET", val, 8), -1);
	CHECK_EQ(vmcoreinfo_get(&vi, "KERNELOFFSET", val, 9), 0);
	CHECK_STR(val, "1e000000");
	CHECK_EQ(vmcoreinfo_get(&vi, "OSRELEASE", val, sizeof val), 0);
	CHECK_STR(val, "6.8.0-gpufas");
}

/* Guest RAM for vmcoreinfo_find: two ranges of our own. */
struct vmem {
	struct gf_mem m;
	uint8_t *a, *b;
};

#define VA_PHYS 0x1000000ull
#define VA_SIZE (64 * KiB)
#define VB_PHYS 0x100000000ull
#define VB_SIZE (32 * KiB)

static void vmem_init(struct vmem *v)
{
	v->a = xcalloc(VA_SIZE);
	v->b = xcalloc(VB_SIZE);
	memset(&v->m, 0, sizeof v->m);
	v->m.nranges = 2;
	v->m.range[0] = (struct gf_range){ .phys = VA_PHYS, .size = VA_SIZE, .base = v->a };
	v->m.range[1] = (struct gf_range){ .phys = VB_PHYS, .size = VB_SIZE, .base = v->b };
}

static void vmem_free(struct vmem *v)
{
	free(v->a);
	free(v->b);
}

/* The note form: Elf64_Nhdr, "VMCOREINFO\0" padded, then the text. */
static void put_note(uint8_t *at, const char *text)
{
	static const uint8_t nhdr[24] = { 11, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0,
		'V', 'M', 'C', 'O', 'R', 'E', 'I', 'N', 'F', 'O', 0, 0 };

	memcpy(at, nhdr, sizeof nhdr);
	strcpy((char *)at + sizeof nhdr, text);
}

#define VI_OTHER "OSRELEASE=5.15.0-old\nKERNELOFFSET=8000000\n" \
	"NUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffffffff8260a000\n"

/* The candidate holding `text`, or -1: the scan order is the finder's
 * business (top-down, as it happens), so tests do not depend on it. */
static int cand_index(const struct vmcoreinfo *c, int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].text, text))
			return i;
	return -1;
}

static void test_vmcoreinfo_find(void)
{
	struct vmem v;
	struct vmcoreinfo *c = xcalloc(4 * sizeof *c);
	int i, j;

	vmem_init(&v);
	strcpy((char *)v.a + 0x2000, VI_TEXT);                  /* the data page */
	put_note(v.a + 0x5000, VI_TEXT);                        /* its note copy */
	strcpy((char *)v.a + 0x7000, "OSRELEASE=6.8.0\nKERNELOFFSET=1e0"); /* stale */
	memset(v.a + 0xf000, 'x', 0x1000);                      /* no NUL to the end */
	memcpy(v.a + 0xf000, VI_TEXT, strlen(VI_TEXT));
	put_note(v.b + 0x1000, VI_OTHER);                       /* another kernel's */

	REQUIRE(vmcoreinfo_find(&v.m, c, 4) == 2);
	i = cand_index(c, 2, VI_TEXT);
	j = cand_index(c, 2, VI_OTHER);
	REQUIRE(i >= 0 && j >= 0);
	CHECK(c[i].phys == VA_PHYS + 0x2000 || c[i].phys == VA_PHYS + 0x5000 + 24);
	CHECK_EQ(c[j].phys, VB_PHYS + 0x1000 + 24);
	/* room for one: one of them */
	memset(c, 0, 4 * sizeof *c);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 1), 1);
	CHECK(cand_index(c, 1, VI_TEXT) == 0 || cand_index(c, 1, VI_OTHER) == 0);
	CHECK_EQ(c[1].text[0], 0);
	vmem_free(&v);
	free(c);
}

/* Anywhere but a page start or offset 24: found by the full scan, which
 * runs only when the quick one found nothing. */
static void test_vmcoreinfo_find_anywhere(void)
{
	struct vmem v;
	struct vmcoreinfo *c = xcalloc(4 * sizeof *c);

	vmem_init(&v);
	strcpy((char *)v.a + 0x1000, "OSRELEASE=partial\n");
	strcpy((char *)v.a + 0x3100, VI_TEXT);
	strcpy((char *)v.b + 0x4321, VI_TEXT);                  /* a duplicate */
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 1);
	CHECK(c[0].phys == VA_PHYS + 0x3100 || c[0].phys == VB_PHYS + 0x4321);
	CHECK_STR(c[0].text, VI_TEXT);
	/* with one at a page start, the odd place is not looked at */
	strcpy((char *)v.b + 0x2000, VI_OTHER);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 1);
	CHECK_EQ(c[0].phys, VB_PHYS + 0x2000);
	/* nothing at all */
	memset(v.a, 0, VA_SIZE);
	memset(v.b, 0, VB_SIZE);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 0);
	/* a magic right at the end of a range, cut short */
	memcpy(v.b + VB_SIZE - 10, "OSRELEASE=", 10);
	CHECK_EQ(vmcoreinfo_find(&v.m, c, 4), 0);
	vmem_free(&v);
	free(c);
}

/* ======================================================================
 * 8. target_open: ELF cores, raw dumps, QEMU RAM files
 * ====================================================================== */

struct seg {
	uint32_t type;
	uint64_t paddr, offset, filesz;
};

#define CORE_SIZE 0x6000

static const struct seg CORE_SEGS[] = {
	{ PT_NOTE, 0, 0x200, 0x40 },
	{ PT_LOAD, 0, 0x1000, 0x2000 },
	{ PT_LOAD, 0x100000000ull, 0x3000, 0x3000 },
	{ PT_LOAD, 0x200000000ull, CORE_SIZE, 0 }, /* no file bytes: skipped */
};

static void elf_core(uint8_t *img, const struct seg *s, int n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof *eh);

	memset(img, 0, CORE_SIZE);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof *eh;
	eh->e_ehsize = sizeof *eh;
	eh->e_phentsize = sizeof *ph;
	eh->e_phnum = (uint16_t)n;
	for (int i = 0; i < n; i++) {
		ph[i].p_type = s[i].type;
		ph[i].p_paddr = s[i].paddr;
		ph[i].p_vaddr = DMAP4 + s[i].paddr;
		ph[i].p_offset = s[i].offset;
		ph[i].p_filesz = ph[i].p_memsz = s[i].filesz;
		ph[i].p_flags = PF_R | PF_W | PF_X;
	}
	memcpy(img + 0x1010, "low marker", 11);
	memcpy(img + 0x3020, "high marker", 12);
}

static void check_range(const struct gf_target *t, uint32_t i, uint64_t phys,
			uint64_t size, uint64_t file_off)
{
	int before = failures;

	REQUIRE(i < t->mem.nranges);
	CHECK_EQ(t->mem.range[i].phys, phys);
	CHECK_EQ(t->mem.range[i].size, size);
	CHECK(t->mem.range[i].base == t->map + file_off);
	note_case(before, "range %u of %s", i, t->spec);
}

/* target_open expected to fail: -1, and nothing left mapped or open. */
static void check_open_fails(const char *spec)
{
	struct gf_target t;
	int fds = count_fds();

	if (target_open(&t, spec, 0) != -1) {
		report(__FILE__, __LINE__, "target_open(\"%s\") succeeded", spec);
		target_close(&t);
		return;
	}
	CHECK(t.map == NULL);
	CHECK_EQ(t.fd, -1);
	CHECK_EQ(count_fds(), fds);
}

static void test_target_elf_core(void)
{
	uint8_t *img = xcalloc(CORE_SIZE);
	char path[128], spec[160], buf[16];
	struct gf_target t;

	elf_core(img, CORE_SEGS, NELEM(CORE_SEGS));
	tmp_file(path, sizeof path, img, CORE_SIZE);
	fuzz_seed_file("fuzz_elfcore", "two-segments", path);
	snprintf(spec, sizeof spec, "dump:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.mem.nranges, 2);
	check_range(&t, 0, 0, 0x2000, 0x1000);
	check_range(&t, 1, 0x100000000ull, 0x3000, 0x3000);
	CHECK_EQ(target_ram_size(&t), 0x5000);
	CHECK_EQ(t.writable, 0); /* dumps are never written */
	CHECK_EQ(gf_phys_read(&t.mem, 0x10, buf, 11), GF_OK);
	CHECK_STR(buf, "low marker");
	CHECK_EQ(gf_phys_read(&t.mem, 0x100000020ull, buf, 12), GF_OK);
	CHECK_STR(buf, "high marker");
	CHECK_EQ(gf_phys_read(&t.mem, 0x2000, buf, 1), GF_EFAULT);
	target_close(&t);
	CHECK(t.map == NULL);
	CHECK_EQ(t.fd, -1);
	unlink(path);
	free(img);
}

static void test_target_elf_bad(void)
{
	const size_t ph2 = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	const struct { const char *what; size_t at, size; uint64_t v; } edit[] = {
		{ "segment past the end", ph2 + offsetof(Elf64_Phdr, p_filesz), 8, 0x4000 },
		{ "offset past the end", ph2 + offsetof(Elf64_Phdr, p_offset), 8, 0x10000 },
		{ "filesz wrapping", ph2 + offsetof(Elf64_Phdr, p_filesz), 8,
		  0xfffffffffffff000ull },
		{ "e_phnum too big", offsetof(Elf64_Ehdr, e_phnum), 2, 0xffff },
		{ "e_phoff past the end", offsetof(Elf64_Ehdr, e_phoff), 8, 0x7000 },
		{ "e_phoff wrapping", offsetof(Elf64_Ehdr, e_phoff), 8,
		  0xffffffffffffffc0ull },
		{ "wrong e_phentsize", offsetof(Elf64_Ehdr, e_phentsize), 2, 32 },
		{ "not a core", offsetof(Elf64_Ehdr, e_type), 2, ET_EXEC },
		{ "ELF32", EI_CLASS, 1, ELFCLASS32 },
		{ "no PT_LOAD", offsetof(Elf64_Ehdr, e_phnum), 2, 1 },
	};
	uint8_t *img = xcalloc(CORE_SIZE);
	char path[128], spec[160];

	quiet_stderr();
	for (uint32_t i = 0; i < NELEM(edit); i++) {
		int before = failures;
		elf_core(img, CORE_SEGS, NELEM(CORE_SEGS));
		memcpy(img + edit[i].at, &edit[i].v, edit[i].size); /* LE */
		tmp_file(path, sizeof path, img, CORE_SIZE);
		snprintf(spec, sizeof spec, "dump:%s", path);
		check_open_fails(spec);
		note_case(before, "%s", edit[i].what);
		unlink(path);
	}
	free(img);
}

/* A raw copy of RAM as a dump, and a RAM file written through. */
static void test_target_raw(void)
{
	static uint8_t data[3 * PAGE];
	char path[128], spec[160];
	struct gf_target t;
	uint8_t b = 0;
	int fd;

	memcpy(data, "\x7f" "ELX", 4); /* almost ELF */
	tmp_file(path, sizeof path, data, sizeof data);
	snprintf(spec, sizeof spec, "dump:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.mem.nranges, 1);
	check_range(&t, 0, 0, sizeof data, 0);
	CHECK_EQ(t.writable, 0);
	target_close(&t);

	snprintf(spec, sizeof spec, "vm:%s", path);
	REQUIRE(target_open(&t, spec, 1) == 0);
	CHECK_EQ(t.writable, 1);
	check_range(&t, 0, 0, sizeof data, 0);
	t.mem.range[0].base[PAGE + 5] = 0x42; /* reaches the file: MAP_SHARED */
	target_close(&t);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &b, 1, PAGE + 5) == 1);
	CHECK_EQ(b, 0x42);
	close(fd);

	REQUIRE(target_open(&t, spec, 0) == 0);
	CHECK_EQ(t.writable, 0);
	target_close(&t);
	unlink(path);
}

/* QEMU's RAM split (hw/i386/pc_piix.c, pc_q35.c), on sparse files. */
static void test_target_vm_layout(void)
{
	static const struct { const char *opts; uint64_t size, low; } c[] = {
		{ "", 4 * GiB + 512 * MiB, 3 * GiB },
		{ ",machine=pc", 4 * GiB + 512 * MiB, 3 * GiB },
		{ ",machine=q35", 4 * GiB + 512 * MiB, 2 * GiB },
		{ ",lowmem=0x80000000", 4 * GiB + 512 * MiB, 2 * GiB },
		{ ",machine=q35,lowmem=1073741824", 4 * GiB + 512 * MiB, 1 * GiB },
		{ ",lowmem=0x200000000", 4 * GiB + 512 * MiB, 4 * GiB + 512 * MiB },
		{ "", 0xe0000000ull, 3 * GiB },
		{ "", 0xe0000000ull - PAGE, 0xe0000000ull - PAGE },
		{ ",machine=q35", 0xb0000000ull, 2 * GiB },
		{ ",machine=q35", 0xb0000000ull - PAGE, 0xb0000000ull - PAGE },
		{ "", 1 * GiB, 1 * GiB },
		{ ",", 1 * GiB, 1 * GiB },
	};
	char path[128], spec[192];
	int fd = tmp_open(path, sizeof path);

	close(fd);
	for (uint32_t i = 0; i < NELEM(c); i++) {
		struct gf_target t;
		tmp_resize(path, c[i].size);
		snprintf(spec, sizeof spec, "vm:%s%s", path, c[i].opts);
		if (target_open(&t, spec, 0)) {
			report(__FILE__, __LINE__, "target_open(\"%s\") failed", spec);
			continue;
		}
		CHECK_EQ(t.mem.nranges, c[i].low < c[i].size ? 2 : 1);
		check_range(&t, 0, 0, c[i].low, 0);
		if (c[i].low < c[i].size)
			check_range(&t, 1, 4 * GiB, c[i].size - c[i].low, c[i].low);
		CHECK_EQ(target_ram_size(&t), c[i].size);
		target_close(&t);
	}
	unlink(path);
}

static void test_target_errors(void)
{
	static const char *const opts[] = {
		",machine=foo", ",machine=", ",lowmem=0", ",lowmem=12x", ",lowmem=",
		",cache=1", ",machine=pc,bogus",
	};
	static uint8_t small[PAGE];
	char path[128], spec[256], big[300];
	struct gf_target t;

	quiet_stderr();
	check_open_fails("foo:x");
	check_open_fails("");
	check_open_fails("vm:");
	check_open_fails("dump:");
	check_open_fails("vm:/nonexistent/gpufas-unit.ram");
	snprintf(spec, sizeof spec, "vm:%s", scratch); /* a directory */
	check_open_fails(spec);
	snprintf(spec, sizeof spec, "dump:%s", scratch);
	check_open_fails(spec);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	memcpy(big, "vm:/", 4);
	check_open_fails(big);

	tmp_file(path, sizeof path, small, PAGE - 1); /* smaller than a page */
	snprintf(spec, sizeof spec, "vm:%s", path);
	check_open_fails(spec);
	tmp_resize(path, PAGE);
	for (uint32_t i = 0; i < NELEM(opts); i++) {
		snprintf(spec, sizeof spec, "vm:%s%s", path, opts[i]);
		check_open_fails(spec);
	}
	snprintf(spec, sizeof spec, "dump:%s,machine=q35", path); /* no options */
	check_open_fails(spec);
	snprintf(spec, sizeof spec, "vm:%s", path);               /* a page: fine */
	CHECK_EQ(target_open(&t, spec, 0), 0);
	target_close(&t);
	unlink(path);
}

/* ======================================================================
 * 9. config_load, signal_parse, json_string
 * ====================================================================== */

/* Loads `text` as config.ini into *c; returns config_load's result. */
static int load_ini(const char *text, struct gf_config *c, char *err,
		    size_t errlen, char *path, size_t pathlen)
{
	int rc;

	tmp_text(path, pathlen, text);
	config_defaults(c);
	err[0] = 0;
	rc = config_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static void test_config_load(void)
{
	struct gf_config c;
	char err[512], path[128];
	uint64_t v = 0;

	config_defaults(&c);
	CHECK_EQ(c.signal, 9);
	CHECK_EQ(c.nprofile, 0);
	CHECK_EQ(load_ini("; gpufas\n[target]\ndefault = vm:/tmp/g.ram,machine=q35\n"
			  "\n[kill]\nsignal = TERM\n\n[profile]\n"
			  "init_task = 0xffffffff82a0c940\n"
			  "task_struct.pid = 2464\n"
			  "# a comment\nTIF_SIGPENDING = 2\n",
			  &c, err, sizeof err, path, sizeof path), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.target, "vm:/tmp/g.ram,machine=q35");
	CHECK_EQ(c.signal, 15);
	CHECK_EQ(c.nprofile, 3);
	CHECK_EQ(config_profile(&c, "init_task", &v), 0);
	CHECK_EQ(v, 0xffffffff82a0c940ull);
	CHECK_EQ(config_profile(&c, "task_struct.pid", &v), 0);
	CHECK_EQ(v, 2464);
	CHECK_EQ(config_profile(&c, "TIF_SIGPENDING", &v), 0);
	CHECK_EQ(v, 2);
	CHECK_EQ(config_profile(&c, "task_struct", &v), -1);
	CHECK_EQ(load_ini("[kill]\nsignal = sigusr1\n", &c, err, sizeof err, path,
			  sizeof path), 0);
	CHECK_EQ(c.signal, 10);
}

static void check_ini_error(const char *text, int line, const char *needle)
{
	struct gf_config c;
	char err[512], path[128], want[32];
	int before = failures;

	CHECK_EQ(load_ini(text, &c, err, sizeof err, path, sizeof path), -1);
	snprintf(want, sizeof want, "line %d:", line);
	CHECK_HAS(err, path);
	CHECK_HAS(err, want);
	CHECK_HAS(err, needle);
	note_case(before, "config: \"%s\"", text);
}

static void test_config_errors(void)
{
	char many[4096], key[128];
	size_t n = 0;

	check_ini_error("[target]\ndefault = x\n[kill]\nsignal = TERM\nbogus = 1\n",
			5, "bogus");
	check_ini_error("[target]\ndefault = x\n[nope]\na = 1\n", 4, "'a'");
	/* the first of two errors, its line and its message */
	check_ini_error("[target]\ndefault = x\nbogus = y\n[kill]\nsignal = nope\n",
			3, "bogus");
	check_ini_error("[profile]\nok = 1\nbad = 12abc\n", 3, "12abc");
	check_ini_error("[profile]\nempty =\n", 2, "number");
	check_ini_error("[profile]\nbig = 0x1ffffffffffffffff\n", 2, "number");
	check_ini_error("[kill]\nsignal = SIGFOO\n", 2, "SIGFOO");
	check_ini_error("[kill]\nsignal = 0\n", 2, "signal");
	check_ini_error("[target]\nno equals sign here\n", 2, "syntax");
	memset(key, 'k', 64);
	snprintf(key + 64, sizeof key - 64, " = 1\n");
	snprintf(many, sizeof many, "[profile]\n%s", key);
	check_ini_error(many, 2, "long");
	n = (size_t)snprintf(many, sizeof many, "[profile]\n");
	for (int i = 0; i <= GF_MAX_PROFILE; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "k%d = %d\n", i, i);
	check_ini_error(many, GF_MAX_PROFILE + 2, "too many");
}

static void test_config_missing_file(void)
{
	struct gf_config c;
	char err[512] = "";
	const char *path = "/nonexistent/gpufas-unit/config.ini";

	config_defaults(&c);
	CHECK_EQ(config_load(&c, path, err, sizeof err), -1);
	CHECK_HAS(err, path);
	CHECK_HAS(err, strerror(ENOENT));
}

/* strtoull() takes "-5" as 2^64 - 5 without an error: an offset or
 * address typed with a sign must not load as a huge number. */
static void test_config_profile_negative(void)
{
	check_ini_error("[profile]\ntask_struct.pid = -8\n", 2, "-8");
}

static void test_signal_parse(void)
{
	static const struct { const char *s; int sig; } c[] = {
		{ "9", 9 }, { "KILL", 9 }, { "kill", 9 }, { "sigkill", 9 },
		{ "SIGKILL", 9 }, { "SigKill", 9 }, { "SIGUSR1", 10 }, { "usr1", 10 },
		{ "TERM", 15 }, { "1", 1 }, { "31", 31 }, { "SYS", 31 }, { "HUP", 1 },
		{ "0", -1 }, { "32", -1 }, { "-9", -1 }, { "9x", -1 }, { " 9", -1 },
		{ "abc", -1 }, { "", -1 }, { "SIG", -1 }, { "SIGSIGKILL", -1 },
		{ "KILLX", -1 }, { "99999999999999999999", -1 }, { "SIG9", -1 },
	};

	for (uint32_t i = 0; i < NELEM(c); i++)
		if (signal_parse(c[i].s) != c[i].sig)
			report(__FILE__, __LINE__, "signal_parse(\"%s\") = %d, want %d",
			       c[i].s, signal_parse(c[i].s), c[i].sig);
	for (int s = 1; s < 32; s++)
		CHECK_EQ(signal_parse(signal_name(s)), s);
	CHECK_STR(signal_name(9), "KILL");
	CHECK_STR(signal_name(0), "?");
	CHECK_STR(signal_name(32), "?");
	CHECK_STR(signal_name(-1), "?");
}

static char *json_of(const char *s, size_t maxlen)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		fixture_bug("open_memstream failed", (uint64_t)errno);
	json_string(f, s, maxlen);
	fclose(f);
	return out;
}

static void check_json(const char *s, size_t maxlen, const char *want)
{
	char *got = json_of(s, maxlen);

	CHECK_STR(got, want);
	free(got);
}

static void test_json_string(void)
{
	check_json("plain text", 64, "\"plain text\"");
	check_json("", 64, "\"\"");
	check_json("a\"b\\c", 64, "\"a\\\"b\\\\c\"");
	check_json("\x01\n\x1f \x7f", 64, "\"\\u0001\\u000a\\u001f \\u007f\"");
	check_json("\xc3\xa9\xff", 64, "\"\\u00c3\\u00a9\\u00ff\"");
	check_json("abcdef", 3, "\"abc\"");
	check_json("0123456789abcdefNOT", 16, "\"0123456789abcdef\"");
	check_json("</script>", 64, "\"</script>\"");
}

/* ======================================================================
 * 10. layout_from_profile
 * ====================================================================== */

#define LF(name, field) { name, offsetof(struct gf_layout, field) }

static const struct { const char *name; size_t at; } PROFILE_FIELDS[] = {
	LF("task_struct.thread_info.flags", task_ti_flags),
	LF("task_struct.__state", task_state),
	LF("task_struct.exit_state", task_exit_state),
	LF("task_struct.flags", task_flags),
	LF("task_struct.tasks", task_tasks),
	LF("task_struct.pid", task_pid),
	LF("task_struct.tgid", task_tgid),
	LF("task_struct.comm", task_comm),
	LF("task_struct.mm", task_mm),
	LF("task_struct.real_parent", task_real_parent),
	LF("task_struct.signal", task_signal),
	LF("task_struct.pending", task_pending),
	LF("task_struct.blocked", task_blocked),
	LF("task_struct.thread_node", task_thread_node),
	LF("task_struct.start_time", task_start_time),
	LF("task_struct.se.sum_exec_runtime", task_sum_exec_runtime),
	LF("signal_struct.thread_head", signal_thread_head),
	LF("signal_struct.nr_threads", signal_nr_threads),
	LF("signal_struct.shared_pending", signal_shared_pending),
	LF("signal_struct.flags", signal_flags),
	LF("signal_struct.group_exit_code", signal_group_exit_code),
	LF("signal_struct.group_stop_count", signal_group_stop_count),
	LF("signal_struct.sum_sched_runtime", signal_sum_sched_runtime),
	LF("sigpending.signal", sigpending_signal),
	LF("percpu_counter.count", pcpu_count),
	LF("percpu_counter.counters", pcpu_counters),
	LF("MM_FILEPAGES", mm_filepages),
	LF("MM_ANONPAGES", mm_anonpages),
	LF("MM_SHMEMPAGES", mm_shmempages),
	LF("mm_struct.rss_stat", mm_rss_stat),
	LF("rss_stride", rss_stride),
	LF("rss_percpu", rss_percpu),
};

static uint32_t field_value(const struct gf_layout *l, size_t at)
{
	uint32_t v;

	memcpy(&v, (const char *)l + at, 4);
	return v;
}

/* A [profile] giving every field (field i = 0x100 + 8 i) but `skip`. */
static void profile_all(struct gf_config *c, const char *skip,
			const char *state_name)
{
	config_defaults(c);
	for (uint32_t i = 0; i < NELEM(PROFILE_FIELDS); i++) {
		const char *name = i == 1 ? state_name : PROFILE_FIELDS[i].name;
		if (skip && !strcmp(skip, PROFILE_FIELDS[i].name))
			continue;
		snprintf(c->profile[c->nprofile].key, sizeof c->profile[0].key,
			 "%s", name);
		c->profile[c->nprofile++].value = 0x100 + 8 * i;
	}
}

static void check_profile_fields(const struct gf_layout *l, const char *skip)
{
	for (uint32_t i = 0; i < NELEM(PROFILE_FIELDS); i++) {
		uint32_t want = skip && !strcmp(skip, PROFILE_FIELDS[i].name)
			? 0xeeeeeeee : 0x100 + 8 * i;
		if (field_value(l, PROFILE_FIELDS[i].at) != want)
			report(__FILE__, __LINE__, "%s = %#x, want %#x",
			       PROFILE_FIELDS[i].name,
			       field_value(l, PROFILE_FIELDS[i].at), want);
	}
}

static void test_layout_profile_all(void)
{
	static const char *const state_names[] = {
		"task_struct.__state", "task_struct.state",
	};
	struct gf_config *c = xcalloc(sizeof *c);
	struct gf_layout l;
	char err[256] = "";

	for (int i = 0; i < 2; i++) {
		profile_all(c, NULL, state_names[i]);
		memset(&l, 0xee, sizeof l);
		CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), 0);
		check_profile_fields(&l, NULL);
		CHECK_EQ(l.cr3, 0xeeeeeeeeeeeeeeeeull); /* not a profile field */
		CHECK_EQ(l.init_task, 0xeeeeeeeeeeeeeeeeull);
	}
	free(c);
}

static void test_layout_profile_missing(void)
{
	struct gf_config *c = xcalloc(sizeof *c);
	struct gf_layout l;
	char err[256] = "";

	profile_all(c, "signal_struct.flags", "task_struct.__state");
	memset(&l, 0xee, sizeof l);
	CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), -1);
	CHECK_HAS(err, "signal_struct.flags");
	/* over BTF, missing keys just keep their values */
	memset(&l, 0xee, sizeof l);
	CHECK_EQ(layout_from_profile(&l, c, 0, err, sizeof err), 0);
	check_profile_fields(&l, "signal_struct.flags");
	/* nothing given at all */
	config_defaults(c);
	CHECK_EQ(layout_from_profile(&l, c, 1, err, sizeof err), -1);
	CHECK_HAS(err, "task_struct.thread_info.flags");
	free(c);
}

/* ======================================================================
 * 11. The CPU engine (gf_engine with no GPU) and error strings
 * ====================================================================== */

static void test_engine_snapshot_grows(void)
{
	struct guest *g = world_new(4, 0);
	uint64_t leader = task_va(g, 300);
	struct gf_task *out = NULL;
	uint32_t n = 0;
	const uint32_t extra = 1100; /* past the engine's first 1024 */
	struct gf_engine e = { .k = &g->k };

	for (uint32_t i = 0; i < extra; i++)
		thread_new(g, leader, &(struct tspec){ .pid = 1000 + (int32_t)i,
			.comm = "worker", .runtime = 1 });
	REQUIRE(engine_snapshot(&e, 1, &out, &n) == GF_OK);
	CHECK_EQ(n, NELEM(WORLD_THREADS) + extra);
	CHECK_EQ(out[n - 1].pid, 1000 + extra - 1);
	CHECK_EQ(out[n - 1].tgid, 300);
	free(out);
	REQUIRE(engine_snapshot(&e, 0, &out, &n) == GF_OK);
	CHECK_EQ(n, NELEM(WORLD_PROCESSES));
	CHECK_EQ(out[n - 1].threads, 1 + extra);
	CHECK_EQ(out[n - 1].cpu_ns, 60 + extra);
	free(out);
	guest_free(g);
}

static void test_engine_errors(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_task *out = (struct gf_task *)1, t;
	struct gf_engine e = { .k = &g->k };
	uint32_t n;

	CHECK_EQ(engine_find(&e, 999, &t), GF_ESRCH);
	CHECK_EQ(engine_find(&e, 0, &t), GF_EINVAL);
	CHECK_EQ(engine_find(&e, 101, &t), GF_OK);
	CHECK_EQ(t.pid, 100);
	bad_back_link(g);
	CHECK_EQ(engine_snapshot(&e, 0, &out, &n), GF_ECORRUPT);
	CHECK(out == (struct gf_task *)1);
	CHECK_EQ(engine_find(&e, 999, &t), GF_ECORRUPT);
	guest_free(g);
}

static void test_strerror(void)
{
	static const int codes[] = { GF_OK, GF_EFAULT, GF_ECORRUPT, GF_ENOSPC,
				     GF_ESRCH, GF_ESTALE, GF_EINVAL, GF_EGPU };

	for (uint32_t i = 0; i < NELEM(codes); i++) {
		CHECK(gf_strerror(codes[i]) && *gf_strerror(codes[i]));
		CHECK(strcmp(gf_strerror(codes[i]), "unknown error"));
		for (uint32_t j = 0; j < i; j++)
			CHECK(strcmp(gf_strerror(codes[i]), gf_strerror(codes[j])));
	}
	CHECK_STR(gf_strerror(-99), "unknown error");
}

/* ======================================================================
 * The list, and main
 * ====================================================================== */

/* ======================================================================
 * 10. The kernel log ring, detectors and recovery
 * ====================================================================== */

/* A printk ring laid out as printk_ringbuffer.h does, with small rings:
 * 8 descriptors, 512 bytes of text. Offsets are this test's own. */
enum {
	RB_DESC_RING = 0, RB_TEXT_RING = 0x40, RB_SIZE = 0x80,
	DR_COUNT_BITS = 0, DR_DESCS = 8, DR_INFOS = 16, DR_HEAD_ID = 24,
	TR_SIZE_BITS = 0, TR_DATA = 8,
	DESC_SV = 0, DESC_LPOS = 8, DESC_SIZE = 24,
	INFO_SEQ = 0, INFO_TS = 8, INFO_LEN = 16, INFO_SIZE = 88,
	RING_COUNT_BITS = 3, RING_SIZE_BITS = 9,
};

#define SV(state, id) (((uint64_t)(state) << 62) | (id))
enum { SV_COMMITTED = 1, SV_FINALIZED = 2, SV_REUSABLE = 3 };

struct ring {
	uint64_t rb, descs, infos, data;
	uint64_t lpos; /* where the next text block goes */
};

static struct ring ring_new(struct guest *g)
{
	struct gf_layout *l = &g->k.lay;
	struct ring r = {
		.rb = win_alloc(&g->heap, RB_SIZE, 64),
		.descs = win_alloc(&g->heap, DESC_SIZE << RING_COUNT_BITS, 64),
		.infos = win_alloc(&g->heap, INFO_SIZE << RING_COUNT_BITS, 64),
		.data = win_alloc(&g->heap, 1u << RING_SIZE_BITS, 64),
	};

	l->has_printk = 1;
	l->prb = win_alloc(&g->kimg, 8, 8);
	w64(g, l->prb, r.rb);
	l->prb_desc_ring = RB_DESC_RING;
	l->prb_text_data_ring = RB_TEXT_RING;
	l->pdr_count_bits = DR_COUNT_BITS;
	l->pdr_descs = DR_DESCS;
	l->pdr_infos = DR_INFOS;
	l->pdr_head_id = DR_HEAD_ID;
	l->data_size_bits = TR_SIZE_BITS;
	l->data_data = TR_DATA;
	l->desc_size = DESC_SIZE;
	l->desc_state_var = DESC_SV;
	l->desc_text_blk_lpos = DESC_LPOS;
	l->lpos_begin = 0;
	l->lpos_next = 8;
	l->info_size = INFO_SIZE;
	l->info_seq = INFO_SEQ;
	l->info_ts_nsec = INFO_TS;
	l->info_text_len = INFO_LEN;
	junk(g, r.descs, DESC_SIZE << RING_COUNT_BITS);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, RING_COUNT_BITS);
	w64(g, r.rb + RB_DESC_RING + DR_DESCS, r.descs);
	w64(g, r.rb + RB_DESC_RING + DR_INFOS, r.infos);
	w32(g, r.rb + RB_TEXT_RING + TR_SIZE_BITS, RING_SIZE_BITS);
	w64(g, r.rb + RB_TEXT_RING + TR_DATA, r.data);
	return r;
}

/* Appends record `id` as the kernel does: its text block after the last
 * one, or from the ring's start when it would not fit before the end (the
 * block then "wraps": next is counted in the following lap). */
static void ring_add(struct guest *g, struct ring *r, uint64_t id, int state,
		     uint64_t ts, const char *text)
{
	const uint64_t size = 1u << RING_SIZE_BITS;
	uint64_t desc = r->descs + (id & 7) * DESC_SIZE;
	uint64_t info = r->infos + (id & 7) * INFO_SIZE;
	uint64_t len = strlen(text), block = (8 + len + 7) & ~7ull;
	uint64_t begin = r->lpos, at = begin % size, next;

	if (at + block > size) {
		next = begin - at + size + block;
		at = 0;
	} else {
		next = begin + block;
	}
	w64(g, r->data + at, id);
	put(g, r->data + at + 8, text, len);
	w64(g, desc + DESC_SV, SV(state, id));
	w64(g, desc + DESC_LPOS, begin);
	w64(g, desc + DESC_LPOS + 8, next);
	w64(g, info + INFO_SEQ, id);
	w64(g, info + INFO_TS, ts);
	w16(g, info + INFO_LEN, (uint16_t)len);
	w64(g, r->rb + RB_DESC_RING + DR_HEAD_ID, id);
	r->lpos = next;
}

static void test_log_tail(void)
{
	struct guest *g = guest_new(4, 0);
	struct ring r = ring_new(g);
	char buf[4096], text[64];
	uint32_t len;

	/* 13 records through 8 descriptors and 512 bytes: both rings wrap */
	for (uint64_t id = 0; id < 13; id++) {
		snprintf(text, sizeof text, "record %llu %s", (unsigned long long)id,
			 "padding to make the text ring wrap around");
		ring_add(g, &r, id, id == 10 ? SV_REUSABLE : SV_FINALIZED,
			 id * 1000000001ull, text);
	}
	fuzz_seed("fuzz_ram", "log-tail", g, NULL, 1, 8u << 16); /* 8 records */
	CHECK_EQ(gf_log_tail(&g->k, 3, buf, sizeof buf, &len), GF_OK);
	CHECK_STR(buf, "[   11.000000] record 11 padding to make the text ring "
		       "wrap around\n[   12.000000] record 12 padding to make the "
		       "text ring wrap around\n");
	CHECK_EQ(len, strlen(buf));
	/* a record is 16 + 53 bytes as text: a 100-byte buffer holds one */
	CHECK_EQ(gf_log_tail(&g->k, 8, buf, 100, &len), GF_OK);
	CHECK_HAS(buf, "record 12");
	CHECK(!strstr(buf, "record 11"));
	/* guest text is shown, never obeyed */
	ring_add(g, &r, 13, SV_COMMITTED, 5, "bell\a\x1b[2Jend");
	CHECK_EQ(gf_log_tail(&g->k, 1, buf, sizeof buf, &len), GF_OK);
	CHECK_STR(buf, "[    0.000000] bell??[2Jend\n");
	guest_free(g);
}

static void test_log_tail_corrupt(void)
{
	struct guest *g = guest_new(4, 0);
	struct ring r = ring_new(g);
	char buf[256];
	uint32_t len;

	ring_add(g, &r, 0, SV_FINALIZED, 1, "hello");
	/* a descriptor whose id is not the one asked for: skipped */
	w64(g, r.descs + DESC_SV, SV(SV_FINALIZED, 99));
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_OK);
	CHECK_EQ(len, 0);
	/* a text block whose positions make no sense: skipped */
	ring_add(g, &r, 1, SV_FINALIZED, 1, "hello");
	w64(g, r.descs + DESC_SIZE + DESC_LPOS + 8, 1ull << 40);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_OK);
	CHECK_EQ(len, 0);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, 60);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_ECORRUPT);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, RING_COUNT_BITS);
	w64(g, r.rb + RB_DESC_RING + DR_DESCS, VMALLOC_VA);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_EFAULT);
	g->k.lay.has_printk = 0;
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_EINVAL);
	guest_free(g);
}

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
	const struct gf_point *last = history_newest(h);
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
		history_push(h, &p);
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

	detect_defaults(&th);
	for (int c = 0; c < GF_NCLASSES; c++)
		if (detect(&j, (enum gf_class)c, &v[c]))
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
	CHECK(history_newest(h)->time == t);
	REQUIRE(history_back(h, 5) != NULL);
	CHECK(t - history_back(h, 5)->time >= 5 - 1e-6);
	CHECK(t - history_back(h, 5)->time < 5.1);
	CHECK(history_back(h, 25.6) == NULL); /* beyond the oldest kept */
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

/* ---- Recovery, against the synthetic kernel ---- */

static struct gf_verdict memory_verdict(int32_t pid, uint64_t start_time,
					const char *comm)
{
	struct gf_verdict v = { .cls = GF_MEMORY, .active = 1, .nculprits = 1 };

	v.culprit[0].pid = pid;
	v.culprit[0].start_time = start_time;
	snprintf(v.culprit[0].comm, GF_COMM_LEN, "%s", comm);
	return v;
}

static uint64_t pending(const struct guest *g, int32_t pid)
{
	return r64(g, task_va(g, pid) + T_PENDING + SP_SIGNAL);
}

static void test_recover_kills_and_follows(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	policy_defaults(&p);
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 10, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].pid, 100);
	CHECK_EQ(out[0].sig, 9);
	CHECK(pending(g, 100) & SIGBIT(9));
	CHECK(pending(g, 101) & SIGBIT(9));
	/* still there: no second victim, no new write */
	v[GF_MEMORY] = memory_verdict(300, 400, "stopped");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.5, out, 4), 0);
	CHECK_EQ(pending(g, 300), 0);
	/* gone (a zombie): the result, then the cool-down holds */
	w32(g, task_va(g, 100) + T_EXIT_STATE, EXIT_ZOMBIE);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 11, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_RESULT);
	CHECK_EQ(out[0].outcome, GF_EXITED);
	CHECK(out[0].after_s > 0.99 && out[0].after_s < 1.01);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 12, out, 4), 0);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 15.5, out, 4), 1);
	CHECK(pending(g, 300) & SIGBIT(9));
	guest_free(g);
}

static void test_recover_refuses(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];
	char detail[160];

	policy_defaults(&p);
	snprintf(p.protect, sizeof p.protect, "sys*, ap?");
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* protected */
	v[GF_MEMORY] = memory_verdict(1, 100, "init");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* pid 1 */
	p.protect[0] = 0;
	p.self_pid = 100;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* ourselves */
	p.self_pid = 0;
	/* the pid now names another process: nothing written */
	v[GF_MEMORY] = memory_verdict(100, 999, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 1, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_RESULT);
	CHECK_EQ(out[0].outcome, GF_FAILED);
	report_detail(&out[0], detail, sizeof detail);
	CHECK_HAS(detail, "changed under us");
	CHECK_EQ(pending(g, 100), 0);
	/* report-only and dry-run write nothing either */
	memset(&rs, 0, sizeof rs);
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	p.memory = GF_REPORT;
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 100, out, 4), 0);
	p.memory = GF_KILL;
	p.dry_run = 1;
	REQUIRE(recover_step(&p, &rs, &g->k, v, 200, out, 4) == 1);
	CHECK(out[0].dry_run);
	CHECK_EQ(pending(g, 100), 0);
	guest_free(g);
}

static void test_recover_term_then_kill(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	policy_defaults(&p);
	p.memory = GF_TERM_THEN_KILL;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 1, out, 4) == 1);
	CHECK_EQ(out[0].sig, 15);
	CHECK(r64(g, signal_of(g, 100) + S_SHARED_PENDING + SP_SIGNAL) & SIGBIT(15));
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 2, out, 4), 0);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 3.1, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].sig, 9);
	CHECK(pending(g, 100) & SIGBIT(9));
	/* not gone within the exit timeout: given up on, and said so */
	REQUIRE(recover_step(&p, &rs, &g->k, v, 13.2, out, 4) == 1);
	CHECK_EQ(out[0].outcome, GF_STILL_RUNNING);
	guest_free(g);
}

/* The protect list: comma or space separated globs of '*' and '?'. */
static void test_recover_protect_globs(void)
{
	static const struct {
		const char *patterns, *comm;
		int protected_;
	} cases[] = {
		{ "sshd, systemd*", "systemd-journal", 1 },
		{ "sshd, systemd*", "sshd", 1 },
		{ "sshd, systemd*", "ssh", 0 },
		{ "sys*, ap?", "app", 1 },
		{ "ap?", "apps", 0 },
		{ "*d", "sshd", 1 },
		{ "a*b*c", "aXbYbZc", 1 },
		{ "a*b*c", "aXbYbZ", 0 },
		{ "", "anything", 0 },
		{ " , ,", "x", 0 },
		{ "*", "", 1 },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		int before = failures;
		CHECK_EQ(gf_protected(cases[i].patterns, cases[i].comm),
			 cases[i].protected_);
		note_case(before, "'%s' vs '%s'", cases[i].patterns, cases[i].comm);
	}
}

/* ---- The in-OS helper, found in the synthetic kernel's module list ---- */

enum { /* struct module, struct mod_kallsyms: made-up offsets */
	M_LIST = 0x08, M_NAME = 0x18, M_KALLSYMS = 0x340, MODULE_SIZE = 0x400,
	MK_SYMTAB = 0x00, MK_NUM = 0x08, MK_STRTAB = 0x10, MK_SIZE = 0x20,
};

struct modules {
	uint64_t head, ext4, helper, kallsyms, symtab, strtab, mailbox;
};

/* One struct module named `name` on the list, with no symbols. */
static uint64_t module_new(struct guest *g, uint64_t head, const char *name)
{
	uint64_t mod = win_alloc(&g->heap, MODULE_SIZE, 64);

	put(g, mod + M_NAME, name, strlen(name) + 1);
	list_add_tail(g, mod + M_LIST, head);
	return mod;
}

static void put_sym(struct guest *g, uint64_t at, uint32_t name, uint64_t value)
{
	w32(g, at, name);
	w64(g, at + 8, value);
	w64(g, at + 16, 0);
}

/* The modules ext4 and gpufas_helper; the helper's symbols are
 * helper_exit, then its mailbox, whose page holds what the loaded module
 * writes there. */
static struct modules modules_new(struct guest *g)
{
	static const char strtab[] = "\0helper_exit\0" GFH_SYMBOL;
	struct gf_layout *l = &g->k.lay;
	struct modules m;

	l->has_modules = 1;
	l->mod_list = M_LIST, l->mod_name = M_NAME, l->mod_kallsyms = M_KALLSYMS;
	l->mk_symtab = MK_SYMTAB, l->mk_num_symtab = MK_NUM, l->mk_strtab = MK_STRTAB;
	m.head = l->modules = win_alloc(&g->kimg, 16, 8);
	list_init(g, m.head);
	m.ext4 = module_new(g, m.head, "ext4");
	m.helper = module_new(g, m.head, GFH_MODULE);
	m.kallsyms = win_alloc(&g->heap, MK_SIZE, 8);
	m.symtab = win_alloc(&g->heap, 2 * 24, 8);
	m.strtab = win_alloc(&g->heap, sizeof strtab, 1);
	m.mailbox = win_alloc(&g->heap, sizeof(struct gfh_mailbox), PAGE);
	put(g, m.strtab, strtab, sizeof strtab);
	put_sym(g, m.symtab, 1, 0xffffffffc0000010ull);
	put_sym(g, m.symtab + 24, sizeof "\0helper_exit" , m.mailbox);
	w64(g, m.helper + M_KALLSYMS, m.kallsyms);
	w64(g, m.kallsyms + MK_SYMTAB, m.symtab);
	w32(g, m.kallsyms + MK_NUM, 2);
	w64(g, m.kallsyms + MK_STRTAB, m.strtab);
	w64(g, m.mailbox + offsetof(struct gfh_mailbox, magic), GFH_MAGIC);
	w64(g, m.mailbox + offsetof(struct gfh_mailbox, self), m.mailbox);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, version), GFH_VERSION);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, period_ms), 4);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, hz), 250);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, slots), GFH_SLOTS);
	return m;
}

static void test_helper_found(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct gf_helper h;
	char line[160];

	CHECK_EQ(gf_helper_find(&g->k, &h), GF_OK);
	CHECK_EQ(h.va, m.mailbox);
	CHECK_EQ(h.version, 2);
	CHECK_EQ(h.period_ms, 4);
	CHECK_EQ(h.hz, 250);
	CHECK_EQ(gf_helper_wait_ms(&h), 140);
	CHECK_EQ(gf_helper_describe(&g->k, line, sizeof line), GF_OK);
	CHECK_STR(line, "in-OS helper gpufas_helper version 2, polled every 4 ms");
	guest_free(g);
}

/* Each way the list, the table or the page can fail to be the helper's. */
static void test_helper_not_found(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct guest *c;
	struct gf_helper h;
	char line[160];

#define FAILS_WITH(err, ...) do { c = guest_clone(g); __VA_ARGS__; \
	CHECK_EQ(gf_helper_find(&c->k, &h), err); CHECK_EQ(h.va, 0); guest_free(c); } while (0)
	FAILS_WITH(GF_ESRCH, put(c, m.helper + M_NAME, "gpufas_helpe", 13));
	FAILS_WITH(GF_ESRCH, put(c, m.strtab + 13, "gpufas_helper_mailbo", 21));
	FAILS_WITH(GF_EINVAL, c->k.lay.has_modules = 0);
	FAILS_WITH(GF_ECORRUPT, w64(c, m.helper + M_LIST + 8, m.head + 64)); /* back link */
	FAILS_WITH(GF_ECORRUPT, w64(c, m.ext4 + M_LIST, m.ext4 + M_LIST)); /* a loop */
	FAILS_WITH(GF_EFAULT, w64(c, m.helper + M_KALLSYMS, VMALLOC_VA));
	FAILS_WITH(GF_ECORRUPT, w32(c, m.kallsyms + MK_NUM, 1u << 20));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.mailbox, GFH_MAGIC + 1));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.mailbox + 8, m.mailbox + PAGE));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.symtab + 24 + 8, m.mailbox + 8));
	FAILS_WITH(GF_EINVAL, w32(c, m.mailbox + 16, GFH_VERSION + 1));
	FAILS_WITH(GF_EINVAL, w32(c, m.mailbox + 28, GFH_SLOTS / 2)); /* slots */
#undef FAILS_WITH
	/* a name off the map is skipped, not an error */
	c = guest_clone(g);
	w32(c, m.symtab, 0x40000000u);
	CHECK_EQ(gf_helper_find(&c->k, &h), GF_OK);
	guest_free(c);
	c = guest_clone(g);
	list_del(c, m.helper + M_LIST);
	gf_helper_describe(&c->k, line, sizeof line);
	CHECK_STR(line, "no in-OS helper (gpufas_helper not loaded)");
	guest_free(c);
	guest_free(g);
}

/* Plays the module: waits for a new rq_seq, checks the batch (through the
 * fixture's own translation: its pages are not physically adjacent) and
 * answers it, as answer_batch() does. */
struct fake_helper {
	struct guest *g;
	uint64_t va;                 /* the mailbox */
	volatile struct gfh_mailbox *mb; /* its header */
	uint32_t seq;                /* the last batch seen */
	int result, ok;
};

static void *fake_helper(void *arg)
{
	struct fake_helper *f = arg;
	uint32_t n;

	for (int i = 0; i < 100000 && f->mb->rq_seq == f->seq; i++)
		usleep(10);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	n = f->mb->rq_count;
	f->ok = f->mb->rq_magic == GFH_RQ_MAGIC && n >= 1 && n <= GFH_SLOTS;
	for (uint32_t i = 0; f->ok && i < n; i++) {
		uint64_t at = f->va + offsetof(struct gfh_mailbox, slot[i]);
		struct gfh_slot rq;
		get(f->g, at, &rq, sizeof rq);
		f->ok = rq.pid == (int32_t)(42 + i) && rq.sig == 9 &&
			rq.start_time == 777 + i && rq.result == GFH_NONE;
		w32(f->g, at + offsetof(struct gfh_slot, result),
		    (uint32_t)(i % 2 ? GFH_NO_TASK : f->result));
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	f->mb->ans_seq = f->mb->rq_seq;
	return NULL;
}

/* n victims, pid 42 + i and start time 777 + i. */
static struct gf_task *victims(uint32_t n)
{
	struct gf_task *t = xcalloc(n * sizeof *t);

	for (uint32_t i = 0; i < n; i++)
		t[i] = (struct gf_task){ .pid = (int32_t)(42 + i),
					 .tgid = (int32_t)(42 + i), .start_time = 777 + i };
	return t;
}

/* One batch through the fake module: its answers, and whether it checked
 * out. */
static int post_batch(struct fake_helper *f, const struct gf_helper *h,
		      const struct gf_task *t, uint32_t n, int result,
		      int32_t *answers)
{
	pthread_t th;
	int err;

	f->result = result;
	f->seq = f->mb->rq_seq;
	f->ok = 0;
	CHECK_EQ(pthread_create(&th, NULL, fake_helper, f), 0);
	err = gf_helper_signal(&f->g->k, h, t, n, 9, answers);
	pthread_join(th, NULL);
	CHECK(f->ok);
	return err;
}

static void test_helper_request(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct gf_task *t = victims(GFH_SLOTS + 1);
	struct fake_helper f = {
		.g = g, .va = m.mailbox,
		.mb = (volatile struct gfh_mailbox *)(void *)
		      host(g, fixture_pa(g, m.mailbox), GFH_HEADER_BYTES),
	};
	static int32_t answers[GFH_SLOTS + 1];
	struct gf_helper h;

	CHECK_EQ(gf_helper_find(&g->k, &h), GF_OK);
	for (int result = GF_HELPER_DONE; result <= GF_HELPER_REFUSED; result++) {
		CHECK_EQ(post_batch(&f, &h, t, 1, result, answers), GF_OK);
		CHECK_EQ(answers[0], result);
	}
	CHECK_EQ(f.mb->rq_seq, 4);
	/* a full batch, over all seven pages: every request read back, every
	 * answer its own */
	CHECK_EQ(post_batch(&f, &h, t, GFH_SLOTS, GF_HELPER_DONE, answers), GF_OK);
	CHECK_EQ(f.mb->rq_count, GFH_SLOTS);
	CHECK_EQ(answers[0], GF_HELPER_DONE);
	CHECK_EQ(answers[1], GF_HELPER_NO_TASK);
	CHECK_EQ(answers[GFH_SLOTS - 2], GF_HELPER_DONE);
	CHECK_EQ(answers[GFH_SLOTS - 1], GF_HELPER_NO_TASK);
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, GFH_SLOTS + 1, 9, answers), GF_EINVAL);
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 0, 9, answers), GF_EINVAL);
	CHECK_EQ(f.mb->rq_seq, 5);
	/* an answer out of range is no answer */
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, slot[0].result), 77);
	CHECK_EQ(gf_helper_answer(&g->k, m.mailbox, 5), GFH_NONE);
	/* nobody answers: silent after the wait, the batch left posted */
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 2, 9, answers), GF_OK);
	CHECK_EQ(answers[0], GF_HELPER_SILENT);
	CHECK_EQ(answers[1], GF_HELPER_SILENT);
	CHECK_EQ(f.mb->rq_seq, 6);
	/* a read-only target posts nothing; nor where the mailbox is no longer
	 * the helper's (unloaded since it was found) */
	g->k.writable = 0;
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 1, 9, answers), GF_EINVAL);
	g->k.writable = 1;
	f.mb->magic = 0;
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 1, 9, answers), GF_EFAULT);
	CHECK_EQ(f.mb->rq_seq, 6);
	free(t);
	guest_free(g);
}

/* --kill of a list (operator_signal_all): one walk finds the processes,
 * each gets its own line; with a helper that never answers, the
 * pseudo-signal goes after the wait and says so. */
static void test_operator_signal_all(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_engine e = { .k = &g->k };
	struct kill_opts o = { .sig = 9 };
	struct op_signal s[4] = { { .pid = 100 }, { .pid = 1 }, { .pid = 4242 },
				  { .pid = 300 } };
	struct modules m;

	operator_signal_all(&e, &o, "", s, 4);
	CHECK_EQ(s[0].err, GF_OK);
	CHECK_HAS(s[0].msg, "SIGKILL marked in 100 (app): 3 threads");
	CHECK_EQ(s[1].err, GF_EINVAL);
	CHECK_HAS(s[1].msg, "refusing to signal 1 (systemd)");
	CHECK_EQ(s[2].err, GF_ESRCH);
	CHECK_HAS(s[2].msg, "pid 4242: ");
	CHECK_EQ(s[3].err, GF_OK);
	CHECK(pending(g, 300) & SIGBIT(9));
	guest_free(g);
	g = world_new(4, 0);
	e.k = &g->k;
	m = modules_new(g);
	o.dry_run = 1;
	operator_signal_all(&e, &o, "", s, 1);
	CHECK_HAS(s[0].msg, "would send SIGKILL to 100");
	CHECK_EQ(pending(g, 100), 0);
	o.dry_run = 0;
	operator_signal_all(&e, &o, "", s, 1);
	CHECK_EQ(s[0].err, GF_OK);
	CHECK_HAS(s[0].msg, "(the in-OS helper gave no answer in 140 ms)");
	CHECK(pending(g, 100) & SIGBIT(9));
	CHECK_EQ(r32(g, m.mailbox + offsetof(struct gfh_mailbox, rq_seq)), 1);
	guest_free(g);
}

/* The watch loop's recovery through the helper: posted, nothing written;
 * answered done, followed as ever; unanswered for HELPER_WAIT_S (0.2 s),
 * the pseudo-signal instead. */
static void test_recover_through_helper(void)
{
	struct guest *g = world_new(4, 0);
	struct modules m = modules_new(g);
	volatile struct gfh_mailbox *mb = (volatile struct gfh_mailbox *)(void *)
		host(g, fixture_pa(g, m.mailbox), offsetof(struct gfh_mailbox, slot[1]));
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	policy_defaults(&p);
	g->k.helper = m.mailbox;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 10, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].path, GF_PATH_HELPER);
	CHECK_EQ(out[0].state, 'R'); /* the victim's state, as the walk read it */
	CHECK_EQ(mb->rq_magic, GFH_RQ_MAGIC);
	CHECK_EQ(mb->rq_count, 1);
	CHECK_EQ(mb->slot[0].pid, 100);
	CHECK_EQ(mb->slot[0].sig, 9);
	CHECK_EQ(mb->slot[0].start_time, 200);
	CHECK_EQ(mb->rq_seq, 1);
	CHECK_EQ(pending(g, 100), 0);
	mb->slot[0].result = GFH_DONE;
	mb->ans_seq = 1;
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.1, out, 4), 0);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.5, out, 4), 0);
	CHECK_EQ(pending(g, 100), 0);
	w32(g, task_va(g, 100) + T_EXIT_STATE, EXIT_ZOMBIE);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 11, out, 4) == 1);
	CHECK_EQ(out[0].outcome, GF_EXITED);
	v[GF_MEMORY] = memory_verdict(300, 400, "stopped");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 20, out, 4) == 1);
	CHECK_EQ(out[0].path, GF_PATH_HELPER);
	CHECK_EQ(mb->rq_seq, 2);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 20.1, out, 4), 0);
	CHECK_EQ(pending(g, 300), 0);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 20.25, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].path, GF_PATH_PSEUDO);
	CHECK(pending(g, 300) & SIGBIT(9));
	CHECK_EQ(mb->rq_seq, 2);
	guest_free(g);
}

/* ---- The watch loop, stepped on the synthetic kernel ---- */

/* A loop, its publication, and an engine that reads them as the host does. */
struct rig {
	struct gf_loop_params p;
	struct gf_loop *l;
	struct gf_pub *pub, *copy;
	struct gf_engine e;
};

static void rig_new(struct rig *r, double host_stall_s)
{
	struct gf_config c;
	char err[256];

	config_defaults(&c);
	c.max_tasks = 64;
	c.host_stall_s = host_stall_s;
	REQUIRE(loop_params_from(&c, "vm:x", &r->p, err, sizeof err) == 0);
	r->l = xcalloc(gf_loop_size(&r->p));
	r->pub = xcalloc(gf_pub_size(&r->p));
	r->copy = xcalloc(gf_pub_size(&r->p));
	gf_loop_init(r->l, &r->p);
	gf_pub_init(r->pub, &r->p);
	memset(&r->e, 0, sizeof r->e);
	r->e.pub = r->pub;
}

static void rig_free(struct rig *r)
{
	free(r->l);
	free(r->pub);
	free(r->copy);
}

/* Every event from *next on, checked to come in order. */
static uint32_t read_events(struct rig *r, uint64_t *next, struct gf_loop_event *ev,
			    uint32_t max, uint64_t *lost)
{
	uint64_t first = *next;
	uint32_t n = engine_events(&r->e, next, ev, max, lost);

	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(ev[i].seq, first + *lost + i);
	return n;
}

static void test_loop_publishes_processes(void)
{
	struct guest *g = world_new(4, 0);
	struct rig r;
	struct gf_board_task *t;
	uint64_t runtime = 5000;

	rig_new(&r, 0);
	/* systemd runs half of the time: 50 ms of CPU each 100 ms step */
	for (int i = 1; i <= 15; i++) {
		w64(g, task_va(g, 1) + T_SUM_EXEC, runtime += 50000000);
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, 0);
	}
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->steps, 15);
	CHECK_EQ(r.copy->loss, GF_LOSS_NONE);
	REQUIRE(r.copy->ntasks == NELEM(WORLD_PROCESSES));
	t = gf_pub_tasks(r.copy);
	for (uint32_t i = 0; i < r.copy->ntasks; i++)
		CHECK_EQ(t[i].t.pid, WORLD_PROCESSES[i].pid);
	CHECK(t[0].cpu_pct > 49 && t[0].cpu_pct < 51);
	CHECK(t[3].cpu_pct == 0);
	/* no counters in this kernel: nothing judged, no event */
	CHECK_EQ(r.pub->ev_head, 0);
	CHECK_EQ(r.copy->v[GF_PANIC].active, 0);
	rig_free(&r);
	guest_free(g);
}

/* The GPU watches the host: a heartbeat that stands still is an event,
 * and so is its coming back, each once. */
static void test_loop_host_stall(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_loop_event ev[8];
	struct rig r;
	uint64_t next = 0, lost, beat = 0;
	uint32_t n;

	rig_new(&r, 0.5);
	for (int i = 1; i <= 30; i++) {
		if (i <= 10 || i > 20)
			beat++;
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, beat);
		if (i == 20) {
			REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
			CHECK_EQ(r.copy->host_stalled, 1);
		}
	}
	n = read_events(&r, &next, ev, 8, &lost);
	CHECK_EQ(lost, 0);
	REQUIRE(n == 2);
	CHECK_EQ(ev[0].kind, GF_LE_HOST_STALLED);
	CHECK(ev[0].time > 1.49 && ev[0].time < 1.51);
	CHECK(ev[0].stalled_s > 0.49 && ev[0].stalled_s < 0.51);
	CHECK_EQ(ev[1].kind, GF_LE_HOST_RESUMED);
	CHECK(ev[1].stalled_s > 1.09 && ev[1].stalled_s < 1.11);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->host_stalled, 0);
	rig_free(&r);
	guest_free(g);
}

/* A reader that keeps up gets every event once, in order; one that fell
 * behind (a frozen host) is told how many it lost, gets the newest
 * GF_EVENT_RING in order, and then catches up with none lost. */
static void test_loop_event_ring(void)
{
	enum { STEPS = 600 };
	struct guest *g = world_new(4, 0);
	struct gf_loop_event *ev = xcalloc(GF_EVENT_RING * sizeof *ev);
	struct rig r;
	uint64_t quick = 0, slow = 0, lost, total;
	uint32_t n, got = 0;

	rig_new(&r, 0.05);
	/* the beat moves every other step: a stall and a resume each time */
	for (int i = 1; i <= STEPS; i++) {
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, (uint64_t)i / 2);
		n = read_events(&r, &quick, ev, GF_EVENT_RING, &lost);
		CHECK_EQ(lost, 0);
		for (uint32_t k = 0; k < n; k++, got++)
			CHECK_EQ(ev[k].kind, got % 2 ? GF_LE_HOST_RESUMED : GF_LE_HOST_STALLED);
	}
	total = r.pub->ev_head;
	CHECK_EQ(got, total);
	CHECK(total > GF_EVENT_RING + 100);
	n = read_events(&r, &slow, ev, GF_EVENT_RING, &lost);
	CHECK_EQ(lost, total - GF_EVENT_RING);
	CHECK_EQ(n, GF_EVENT_RING);
	CHECK_EQ(ev[n - 1].seq, total - 1);
	for (int i = STEPS + 1; i <= STEPS + 10; i++)
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, (uint64_t)i / 2);
	n = read_events(&r, &slow, ev, GF_EVENT_RING, &lost);
	CHECK_EQ(lost, 0);
	CHECK_EQ(n, r.pub->ev_head - total);
	free(ev);
	rig_free(&r);
	guest_free(g);
}

/* Counters that stop reading true for a second: the kernel is lost, said
 * once, and nothing more is read from it. */
static void test_loop_loses_kernel(void)
{
	struct guest *g = world_new(4, 0);
	struct rig r;

	rig_new(&r, 0);
	g->k.lay.has_metrics = 1; /* but none of what they name is mapped */
	for (int i = 0; i < 9; i++)
		gf_loop_step(r.l, r.pub, &g->k, 1 + i * 0.1, 0);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->loss, GF_LOSS_NONE);
	gf_loop_step(r.l, r.pub, &g->k, 2.0, 0);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->loss, GF_LOSS_COUNTERS);
	CHECK_EQ(r.copy->lost_err, GF_EFAULT);
	CHECK_EQ(r.copy->steps, 0);
	gf_loop_step(r.l, r.pub, &g->k, 3.0, 0);
	CHECK_EQ(r.pub->gen, r.copy->gen);
	rig_free(&r);
	guest_free(g);
}

/* The CPU engine's loop runs in the host's thread: it never says the host
 * stalled, whatever host_stall_ms says. */
static void test_loop_cpu_engine_has_no_host(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_attach a = { .k = g->k };
	struct gf_loop_event ev[4];
	struct gf_engine e;
	struct gf_config c;
	struct gf_loop_params p;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	char msg[256];
	uint64_t next = 0, lost;

	config_defaults(&c);
	c.max_tasks = 64;
	c.host_stall_s = 0.1;
	REQUIRE(loop_params_from(&c, "vm:x", &p, msg, sizeof msg) == 0);
	REQUIRE(engines_open(&e, 1, "cpu", 0, NULL, &a, &p, NULL, msg, sizeof msg) == 0);
	for (int i = 0; i < 8; i++) {
		engine_step(&e);
		nanosleep(&nap, NULL);
	}
	CHECK_EQ(engine_events(&e, &next, ev, 4, &lost), 0);
	CHECK_EQ(e.loop->steps, 8);
	engines_close(&e, 1);
	guest_free(g);
}

/* Tables sized from the config; a config whose windows they cannot cover
 * is refused, and a reload that changes their size is told apart. */
static void test_loop_sized_from_config(void)
{
	struct gf_config c;
	struct gf_loop_params p, q;
	char err[256], path[128];

	config_defaults(&c);
	REQUIRE(loop_params_from(&c, "host", &p, err, sizeof err) == 0);
	CHECK_EQ(p.nages, 3); /* 0.5 s, 1 s (thrashing and the board), 5 s */
	CHECK_EQ(p.history_cap, 53);
	CHECK_EQ(p.policy.self_pid, getpid());
	CHECK(gf_loop_size(&p) < (16u << 20));
	c.interval_s = 0.01;
	c.detect.overload_s = 60;
	CHECK(loop_params_from(&c, "vm:x", &q, err, sizeof err) < 0);
	CHECK_HAS(err, "interval_ms");
	CHECK(load_ini("[agent]\ninterval_ms = 10\n[detect]\noverload_ms = 60000\n",
		       &c, err, sizeof err, path, sizeof path) < 0);
	CHECK_HAS(err, "60.0 s detector window");
	config_defaults(&c);
	c.detect.sys_pct = 50;
	REQUIRE(loop_params_from(&c, "vm:x", &q, err, sizeof err) == 0);
	CHECK(gf_loop_fits(&p, &q));
	c.detect.window_s = 0.7;
	REQUIRE(loop_params_from(&c, "vm:x", &q, err, sizeof err) == 0);
	CHECK(!gf_loop_fits(&p, &q));
}

static int load_text(struct gf_config *c, const char *text, char *err,
		     size_t errlen)
{
	char path[128];

	return load_ini(text, c, err, errlen, path, sizeof path);
}

static void test_config_detect_recover(void)
{
	struct gf_config c;
	char err[256];

	CHECK_EQ(load_text(&c, "[detect]\nwindow_ms = 800\nblocked = 8\n"
			   "[recover]\nmemory = term\ncpu_overload = kill\n"
			   "protect = sshd, systemd*\ndry_run = yes\n"
			   "grace_ms = 500\n[agent]\ninterval_ms = 50\n",
			   err, sizeof err), 0);
	CHECK(c.detect.window_s > 0.799 && c.detect.window_s < 0.801);
	CHECK(c.detect.blocked == 8);
	CHECK(c.detect.sys_pct == 95); /* the default stays */
	CHECK_EQ(c.recover.memory, GF_TERM_THEN_KILL);
	CHECK_EQ(c.recover.cpu_overload, GF_KILL);
	CHECK_STR(c.recover.protect, "sshd, systemd*");
	CHECK(c.recover.dry_run);
	CHECK(c.recover.grace_s == 0.5);
	CHECK(c.interval_s == 0.05);
	CHECK_EQ(load_text(&c, "[detect]\nsys_pct = 101\n", err, sizeof err), -1);
	CHECK_HAS(err, "sys_pct wants a number from 0 to 100");
	CHECK_EQ(load_text(&c, "[recover]\nmemory = maybe\n", err, sizeof err), -1);
	CHECK_HAS(err, "kill, term or report");
	CHECK_EQ(load_text(&c, "[agent]\ninterval_ms = 1x\n", err, sizeof err), -1);
	CHECK_EQ(load_text(&c, "[recover]\ndry_run = perhaps\n", err, sizeof err), -1);
}

struct test {
	const char *name;
	void (*fn)(void);
};

/* ======================================================================
 * The board's OK / WARN / FAULT (board_level) and a hostile board.
 * ====================================================================== */

static struct gf_board *attached_board(void)
{
	struct gf_board *b = xcalloc(sizeof *b);

	board_init(b, "vm:test");
	b->attached = b->has_metrics = 1;
	detect_defaults(&b->thresholds);
	b->mem_total_kib = b->mem_available_kib = 512 << 10;
	b->rates = (struct gf_rates){ .seconds = 1, .ncpus = 2, .online = 2,
				      .jiffies = 250 };
	for (int c = 0; c < 2; c++)
		b->rates.cpu[c] = (struct gf_cpu_rates){ .online = 1, .idle = 1 };
	return b;
}

static enum gf_level level(const struct gf_board *b, enum gf_class c, double now)
{
	char why[128];

	return board_level(b, c, now, why, sizeof why);
}

static void test_board_level(void)
{
	struct gf_board *b = attached_board();
	char why[128];

	for (int c = 0; c < GF_NCLASSES; c++)
		CHECK_EQ(level(b, c, 1000), GF_LEVEL_OK);
	b->verdict[GF_MEMORY].active = 1;
	CHECK_EQ(board_level(b, GF_MEMORY, 1000, why, sizeof why), GF_LEVEL_FAULT);
	/* cleared 30 s ago: WARN for the rest of the minute */
	b->verdict[GF_MEMORY].active = 0;
	b->cleared[GF_MEMORY] = 970;
	CHECK_EQ(board_level(b, GF_MEMORY, 1000, why, sizeof why), GF_LEVEL_WARN);
	CHECK_HAS(why, "cleared 30 s ago");
	CHECK_EQ(level(b, GF_MEMORY, 1031), GF_LEVEL_OK);
	/* every CPU busy over the last second: cpu_overload waits its 5 s */
	for (int c = 0; c < 2; c++)
		b->rates.cpu[c] = (struct gf_cpu_rates){ .online = 1, .usr = 0.97 };
	CHECK_EQ(board_level(b, GF_CPU_OVERLOAD, 1000, why, sizeof why), GF_LEVEL_WARN);
	CHECK_HAS(why, "busy");
	CHECK_EQ(level(b, GF_F2, 1000), GF_LEVEL_OK); /* user time, not the kernel */
	/* memory nearly gone, no swap: memory warns, thrashing needs swap */
	b->mem_available_kib = 20 << 10;
	CHECK_EQ(level(b, GF_MEMORY, 1031), GF_LEVEL_WARN);
	CHECK_EQ(level(b, GF_THRASHING, 1000), GF_LEVEL_OK);
	/* an oops taints the kernel: panic warns */
	b->tainted = 1 << 7;
	CHECK_EQ(level(b, GF_PANIC, 1000), GF_LEVEL_WARN);
	/* not attached: only verdicts and recent clears count */
	b->attached = 0;
	CHECK_EQ(level(b, GF_PANIC, 1000), GF_LEVEL_OK);
	CHECK_EQ(level(b, GF_NCLASSES, 1000), GF_LEVEL_OK);
	free(b);
}

/* Bytes from a hostile peer: after board_sanitize every string ends and
 * every count fits its array, and board_level does not trip on NaNs. */
static void test_board_sanitize(void)
{
	struct gf_board *b = xcalloc(sizeof *b);
	char why[128];

	memset(b, 0xff, sizeof *b);
	board_sanitize(b);
	CHECK(strlen(b->target) < sizeof b->target);
	CHECK(strlen(b->panic_log) < sizeof b->panic_log);
	CHECK(b->nhistory <= GF_BOARD_HISTORY);
	CHECK(b->nevents <= GF_BOARD_EVENTS && b->first_event < GF_BOARD_EVENTS);
	CHECK(b->rates.ncpus <= GF_MAX_CPUS);
	for (int c = 0; c < GF_NCLASSES; c++) {
		CHECK(b->verdict[c].nevidence <= GF_MAX_EVIDENCE);
		CHECK(b->verdict[c].nculprits <= GF_MAX_CULPRITS);
		CHECK(strlen(b->verdict[c].culprit[0].comm) < GF_COMM_LEN);
		board_level(b, c, 1000, why, sizeof why);
		CHECK(strlen(why) < sizeof why);
	}
	free(b);
}

/* ======================================================================
 * BLAKE2b (blake2b.c), held against RFC 7693 and libsodium's, which
 * computes the remote protocol's MAC on the host (auth.c).
 * ====================================================================== */

/* splitmix64, seeded: a failure repeats on the next run. */
static uint64_t b2_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t b2_rand(void)
{
	uint64_t z = (b2_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ z >> 27) * 0x94d049bb133111ebULL;
	return z ^ z >> 31;
}

static void b2_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)b2_rand();
}

/* Ours and libsodium's on one input: 1 if they agree. */
static int b2_agrees(size_t outlen, const uint8_t *msg, size_t len,
		     const uint8_t *key, size_t keylen)
{
	uint8_t ours[64], theirs[64];

	if (gf_blake2b(ours, outlen, msg, len, key, keylen) ||
	    crypto_generichash(theirs, outlen, msg, len, key, keylen))
		return 0;
	return !memcmp(ours, theirs, outlen);
}

/* RFC 7693 Appendix A: BLAKE2b-512("abc"). */
static void test_blake2b_rfc7693(void)
{
	static const uint8_t want[64] = {
		0xba, 0x80, 0xa5, 0x3f, 0x98, 0x1c, 0x4d, 0x0d, 0x6a, 0x27,
		0x97, 0xb6, 0x9f, 0x12, 0xf6, 0xe9, 0x4c, 0x21, 0x2f, 0x14,
		0x68, 0x5a, 0xc4, 0xb7, 0x4b, 0x12, 0xbb, 0x6f, 0xdb, 0xff,
		0xa2, 0xd1, 0x7d, 0x87, 0xc5, 0x39, 0x2a, 0xab, 0x79, 0x2d,
		0xc2, 0x52, 0xd5, 0xde, 0x45, 0x33, 0xcc, 0x95, 0x18, 0xd3,
		0x8a, 0xa8, 0xdb, 0xf1, 0x92, 0x5a, 0xb9, 0x23, 0x86, 0xed,
		0xd4, 0x00, 0x99, 0x23,
	};
	uint8_t out[64];

	CHECK_EQ(gf_blake2b(out, 64, "abc", 3, NULL, 0), 0);
	CHECK(!memcmp(out, want, sizeof want));
}

/* Every key length 0..64, with the MAC's 32 bytes, on messages around
 * the block size (128) and beyond; every output length on one. */
static void test_blake2b_keyed(void)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 127, 128, 129,
				       255, 256, 1000, 70000 };
	uint8_t *msg = xcalloc(70000), key[GF_BLAKE2B_KEY_MAX];
	int before;

	b2_fill(msg, 70000);
	b2_fill(key, sizeof key);
	for (size_t keylen = 0; keylen <= GF_BLAKE2B_KEY_MAX; keylen++)
		for (size_t i = 0; i < NELEM(lens); i++) {
			before = failures;
			CHECK(b2_agrees(GF_MAC_BYTES, msg, lens[i], key, keylen));
			note_case(before, "key %zu bytes, message %zu", keylen,
				  lens[i]);
		}
	for (size_t outlen = 1; outlen <= GF_BLAKE2B_OUT_MAX; outlen++) {
		before = failures;
		CHECK(b2_agrees(outlen, msg, 200, key, GF_KEY_BYTES));
		CHECK(b2_agrees(outlen, msg, 200, NULL, 0));
		note_case(before, "output %zu bytes", outlen);
	}
	free(msg);
}

/* 1000 random messages, 0..4096 bytes, under random 32-byte keys. */
static void test_blake2b_random(void)
{
	uint8_t *msg = xcalloc(4096), key[GF_KEY_BYTES];
	int before;

	for (int n = 0; n < 1000; n++) {
		size_t len = b2_rand() % 4097;

		b2_fill(msg, len);
		b2_fill(key, sizeof key);
		before = failures;
		CHECK(b2_agrees(GF_MAC_BYTES, msg, len, key, sizeof key));
		note_case(before, "message %d, %zu bytes", n, len);
	}
	free(msg);
}

/* Fed in random pieces (empty ones too), the same MAC as all at once. */
static void test_blake2b_incremental(void)
{
	uint8_t *msg = xcalloc(5000), key[GF_KEY_BYTES];
	uint8_t whole[GF_MAC_BYTES], pieces[GF_MAC_BYTES];
	struct gf_blake2b_state s;
	int before;

	for (int n = 0; n < 200; n++) {
		size_t len = b2_rand() % 5001, keylen = n % 2 ? sizeof key : 0;
		size_t done = 0, piece;

		b2_fill(msg, len);
		b2_fill(key, sizeof key);
		CHECK_EQ(gf_blake2b(whole, sizeof whole, msg, len, key, keylen), 0);
		CHECK_EQ(gf_blake2b_init(&s, sizeof pieces, key, keylen), 0);
		while (done < len) {
			/* Mostly small, now and then past a block or two. */
			piece = b2_rand() % (b2_rand() % 4 ? 20 : 300);
			if (piece > len - done)
				piece = len - done;
			gf_blake2b_update(&s, msg + done, piece);
			done += piece;
		}
		gf_blake2b_update(&s, NULL, 0);
		gf_blake2b_final(&s, pieces);
		before = failures;
		CHECK(!memcmp(whole, pieces, sizeof whole));
		note_case(before, "message %d, %zu bytes, key %zu", n, len,
			  keylen);
	}
	free(msg);
}

/* Lengths outside 1..64 (output) and 0..64 (key) are refused, and a key
 * length without a key; nothing is written then. */
static void test_blake2b_bad_lengths(void)
{
	uint8_t key[GF_BLAKE2B_KEY_MAX + 1] = { 0 }, out[GF_BLAKE2B_OUT_MAX + 1];
	struct gf_blake2b_state s, before;

	memset(out, 0xa5, sizeof out);
	memset(&s, 0x5a, sizeof s);
	before = s;
	CHECK_EQ(gf_blake2b(out, 0, "x", 1, NULL, 0), -1);
	CHECK_EQ(gf_blake2b(out, GF_BLAKE2B_OUT_MAX + 1, "x", 1, NULL, 0), -1);
	CHECK_EQ(gf_blake2b(out, 32, "x", 1, key, GF_BLAKE2B_KEY_MAX + 1), -1);
	CHECK_EQ(gf_blake2b(out, 32, "x", 1, NULL, 1), -1);
	for (size_t i = 0; i < sizeof out; i++)
		CHECK_EQ(out[i], 0xa5);
	CHECK_EQ(gf_blake2b_init(&s, 0, NULL, 0), -1);
	CHECK_EQ(gf_blake2b_init(&s, 65, NULL, 0), -1);
	CHECK_EQ(gf_blake2b_init(&s, 32, key, 65), -1);
	CHECK_EQ(gf_blake2b_init(&s, 32, NULL, 32), -1);
	CHECK(!memcmp(&s, &before, sizeof s));
	/* The edges are accepted. */
	CHECK_EQ(gf_blake2b(out, 1, "x", 1, key, 0), 0);
	CHECK_EQ(gf_blake2b(out, 64, "x", 1, key, 64), 0);
	CHECK_EQ(gf_blake2b(out, 32, NULL, 0, NULL, 0), 0);
}

/* ======================================================================
 * The GPU's mailbox server (devbox.c), run on the CPU over host memory:
 * requests made and answers checked with the viewer's own functions
 * (proto.c, auth.c: libsodium's BLAKE2b), so that the GPU's MACs are held
 * against the host's.
 * ====================================================================== */

#define BOX_TARGET 3

struct boxrig {
	struct rig r;
	struct guest *g;
	uint8_t *mem;
	struct gf_devbox_state st;
	struct gf_devbox_board *tmpl;
	uint8_t op_psk[GF_KEY_BYTES], read_psk[GF_KEY_BYTES];
	uint8_t stranger[GF_KEY_BYTES];
	uint64_t posted, seq;
	struct gf_buf req, ans;
};

static void boxrig_new(struct boxrig *b)
{
	struct gf_devbox head;
	uint8_t nonce[GF_NONCE_BYTES];

	memset(b, 0, sizeof *b);
	REQUIRE(auth_init() == GF_OK);
	rig_new(&b->r, 0);
	b->g = world_new(4, 0);
	auth_nonce(nonce);
	randombytes_buf(b->op_psk, GF_KEY_BYTES);
	randombytes_buf(b->read_psk, GF_KEY_BYTES);
	randombytes_buf(b->stranger, GF_KEY_BYTES);
	b->mem = xcalloc(gf_devbox_size(b->r.p.task_cap));
	gf_devbox_init(&head, &b->st, BOX_TARGET, b->r.p.task_cap, nonce);
	memcpy(b->mem, &head, sizeof head);
	auth_mailbox_keys(b->op_psk, nonce, b->st.request[GF_DEVBOX_OPERATOR],
			  b->st.answer[GF_DEVBOX_OPERATOR]);
	auth_mailbox_keys(b->read_psk, nonce, b->st.request[GF_DEVBOX_READ],
			  b->st.answer[GF_DEVBOX_READ]);
	b->st.has[GF_DEVBOX_OPERATOR] = b->st.has[GF_DEVBOX_READ] = 1;
	b->tmpl = xcalloc(sizeof *b->tmpl);
	for (int i = 1; i <= 12; i++)
		gf_loop_step(b->r.l, b->r.pub, &b->g->k, i * 0.1, 0);
}

static void boxrig_free(struct boxrig *b)
{
	buf_free(&b->req);
	buf_free(&b->ans);
	free(b->tmpl);
	free(b->mem);
	guest_free(b->g);
	rig_free(&b->r);
}

static const struct gf_devbox *box_header(const struct boxrig *b)
{
	return (const struct gf_devbox *)b->mem;
}

/* Posts b->req as the NIC would: message, then the number. */
static void box_post(struct boxrig *b)
{
	const struct gf_devbox *h = box_header(b);
	struct gf_req_area *area = (struct gf_req_area *)(b->mem + h->req_off);

	REQUIRE(b->req.len <= GF_SLOT_MSG);
	memset(area->msg, 0, sizeof area->msg);
	memcpy(area->msg, b->req.data, b->req.len);
	area->posted = ++b->posted;
}

static int box_serve(struct boxrig *b, double now)
{
	return gf_devbox_serve(b->mem, &b->st, b->r.l, b->r.pub, b->tmpl, &b->g->k, now);
}

/* The answer to the last request posted, framed as mailbox_answer() wants
 * it, into b->ans. Returns the MAC's verdict under psk's answer key:
 * GF_OK or GF_EINVAL. */
static int box_take(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	const struct gf_devbox *h = box_header(b);
	const uint8_t *resp = b->mem + h->resp_off;
	struct gf_session s = { 0 };
	uint8_t request_key[GF_KEY_BYTES];
	char why[256];
	size_t need;

	CHECK_EQ(h->served, b->posted);
	REQUIRE(mailbox_answer(resp, h->resp_size, b->posted, h->resp_size - 16,
			       &need, why, sizeof why) == GF_OK);
	REQUIRE(need <= h->resp_size);
	REQUIRE(mailbox_answer(resp, need, b->posted, h->resp_size - 16, &need,
			       why, sizeof why) == GF_OK);
	REQUIRE(buf_reserve(&b->ans, need - 16) == GF_OK);
	memcpy(b->ans.data, resp + 8, need - 16);
	b->ans.len = need - 16;
	auth_mailbox_keys(psk, h->nonce, request_key, s.rx_key);
	s.seq = ((const struct gf_msg_hdr *)b->ans.data)->seq;
	return auth_open(&s, b->ans.data, b->ans.len, 0, why, sizeof why);
}

/* Posts b->req and lets the server answer it at once. */
static int box_exchange(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	box_post(b);
	REQUIRE(box_serve(b, 2.0) == 1);
	CHECK_EQ(box_serve(b, 2.0), 0);
	return box_take(b, psk);
}

/* b->req MAC'ed with psk's request key, as test/nic does it. */
static void box_seal(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	struct gf_session s = { 0 };
	uint8_t answer_key[GF_KEY_BYTES];

	auth_mailbox_keys(psk, box_header(b)->nonce, s.tx_key, answer_key);
	auth_seal(&s, &b->req);
}

static void box_request(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
			uint16_t type, uint64_t seq, int32_t target,
			const struct gf_request *body)
{
	struct gf_request *p = msg_start(&b->req, type, seq, target, GF_OK, sizeof *p);

	REQUIRE(p);
	*p = *body;
	box_seal(b, psk);
}

/* One exchange with the next sequence number: the answer's status, its
 * MAC required to verify. */
static int box_call(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
		    uint16_t type, const struct gf_request *body)
{
	const struct gf_msg_hdr *h;

	box_request(b, psk, type, ++b->seq, BOX_TARGET, body);
	REQUIRE(box_exchange(b, psk) == GF_OK);
	h = (const struct gf_msg_hdr *)b->ans.data;
	CHECK_EQ(h->type, type | GF_MSG_ANSWER);
	CHECK_EQ(h->seq, b->seq);
	CHECK_EQ(box_header(b)->last_seq, b->seq);
	return h->status;
}

static const void *box_payload(const struct boxrig *b)
{
	return b->ans.data + sizeof(struct gf_msg_hdr);
}

static uint32_t box_length(const struct boxrig *b)
{
	return ((const struct gf_msg_hdr *)b->ans.data)->length;
}

/* An answer's text, NUL-terminated. */
static const char *box_text(const struct boxrig *b)
{
	static char text[GF_REMOTE_MSG + 1];
	uint32_t n = box_length(b) < GF_REMOTE_MSG ? box_length(b) : GF_REMOTE_MSG;

	memcpy(text, box_payload(b), n);
	text[n] = 0;
	return text;
}

/* The answer refuses and says nothing: no MAC, "refused". */
static void box_refused(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
			  uint64_t last_seq)
{
	static const uint8_t zero[GF_MAC_BYTES];
	const struct gf_msg_hdr *h;

	CHECK_EQ(box_exchange(b, psk), GF_EINVAL);
	h = (const struct gf_msg_hdr *)b->ans.data;
	CHECK_EQ(h->status, GF_EINVAL);
	CHECK(!memcmp(h->mac, zero, sizeof zero));
	CHECK_STR(box_text(b), "refused");
	CHECK_EQ(b->st.last_seq, last_seq);
	CHECK_EQ(box_header(b)->last_seq, last_seq);
}

static void test_devbox_layout(void)
{
	struct boxrig b;
	const struct gf_devbox *h;

	boxrig_new(&b);
	h = box_header(&b);
	CHECK_EQ(h->magic, GF_DEVBOX_MAGIC);
	CHECK_EQ(h->target, BOX_TARGET);
	CHECK_EQ(h->req_off % 64, 0);
	CHECK_EQ(h->resp_off % 64, 0);
	CHECK(h->resp_off >= h->req_off + sizeof(struct gf_req_area));
	CHECK_EQ(h->resp_off + h->resp_size, h->size);
	/* a board, and a process list of task_cap, fit */
	CHECK(h->resp_size >= 16 + sizeof(struct gf_msg_hdr) + sizeof(struct gf_board));
	CHECK(h->resp_size >= 16 + sizeof(struct gf_msg_hdr) + sizeof(struct gf_ps_head) +
	      b.r.p.task_cap * sizeof(struct gf_board_task));
	/* nothing posted: nothing answered */
	CHECK_EQ(gf_devbox_serve(b.mem, &b.st, b.r.l, b.r.pub, b.tmpl, &b.g->k, 2.0), 0);
	boxrig_free(&b);
}

/* Each key's pair is its own, and a new nonce makes new ones. */
static void test_devbox_keys(void)
{
	uint8_t psk[GF_KEY_BYTES] = { 1 }, n1[GF_NONCE_BYTES] = { 2 },
		n2[GF_NONCE_BYTES] = { 3 };
	uint8_t rq1[GF_KEY_BYTES], an1[GF_KEY_BYTES], rq2[GF_KEY_BYTES],
		an2[GF_KEY_BYTES], want[GF_KEY_BYTES];
	crypto_generichash_state st;
	static const char label[] = "gpufas gpu-mailbox c2s";

	REQUIRE(auth_init() == GF_OK);
	auth_mailbox_keys(psk, n1, rq1, an1);
	auth_mailbox_keys(psk, n2, rq2, an2);
	CHECK(memcmp(rq1, an1, GF_KEY_BYTES));
	CHECK(memcmp(rq1, rq2, GF_KEY_BYTES));
	CHECK(memcmp(an1, an2, GF_KEY_BYTES));
	/* as documented: BLAKE2b(key=PSK, label | nonce) */
	crypto_generichash_init(&st, psk, GF_KEY_BYTES, GF_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, n1, GF_NONCE_BYTES);
	crypto_generichash_final(&st, want, GF_KEY_BYTES);
	CHECK(!memcmp(rq1, want, GF_KEY_BYTES));
}

static void test_devbox_heartbeat(void)
{
	struct gf_request rq = { .beat = 77 };
	const struct gf_beat *beat;
	struct boxrig b;

	boxrig_new(&b);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof *beat);
	beat = box_payload(&b);
	CHECK_EQ(beat->beat, 77);
	CHECK_EQ(beat->rounds, 12);
	/* the loop steps on: so do the rounds, for either key */
	gf_loop_step(b.r.l, b.r.pub, &b.g->k, 1.3, 0);
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	CHECK_EQ(((const struct gf_beat *)box_payload(&b))->rounds, 13);
	boxrig_free(&b);
}

static void test_devbox_board(void)
{
	struct gf_request rq = { 0 };
	struct gf_board *host = xcalloc(sizeof *host), got;
	struct boxrig b;

	boxrig_new(&b);
	board_init(host, "vm:x");
	snprintf(host->release, sizeof host->release, "6.12.0");
	host->nprocs = 999;   /* the host's, stale: the loop's wins */
	gf_devbox_board_put(b.tmpl, host, 1000.0);
	snprintf(host->release, sizeof host->release, "half-written");
	memcpy(&b.tmpl->b[(b.tmpl->gen + 1) & 1], host, sizeof *host); /* no gen */
	b.r.pub->host_stalled = 1;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_SNAPSHOT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof got);
	memcpy(&got, box_payload(&b), sizeof got);
	CHECK(!memcmp(got.verdict, b.r.pub->v, sizeof got.verdict));
	board_sanitize(&got);
	CHECK_STR(got.target, "vm:x");
	CHECK_STR(got.release, "6.12.0");
	CHECK_EQ(got.attached, 1);
	CHECK_EQ(got.host_stalled, 1);
	CHECK_EQ(got.nprocs, NELEM(WORLD_PROCESSES));
	CHECK(got.sampled > 1001.19 && got.sampled < 1001.21);
	free(host);
	boxrig_free(&b);
}

static void test_devbox_ps(void)
{
	struct gf_request rq = { 0 };
	const struct gf_ps_head *head;
	const struct gf_board_task *t;
	struct boxrig b;

	boxrig_new(&b);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_PS, &rq), GF_OK);
	head = box_payload(&b);
	REQUIRE(head->count == NELEM(WORLD_PROCESSES));
	CHECK_EQ(head->total, NELEM(WORLD_PROCESSES));
	CHECK_EQ(box_length(&b), sizeof *head + head->count * sizeof *t);
	t = (const struct gf_board_task *)(head + 1);
	for (uint32_t i = 0; i < head->count; i++)
		CHECK_EQ(t[i].t.pid, WORLD_PROCESSES[i].pid);
	boxrig_free(&b);
}

static void test_devbox_log(void)
{
	struct gf_request rq = { .arg = 2 };
	struct boxrig b;
	struct ring r;
	char want[4096];
	uint32_t len;

	boxrig_new(&b);
	r = ring_new(b.g);
	ring_add(b.g, &r, 0, SV_FINALIZED, 1000000000ull, "first line");
	ring_add(b.g, &r, 1, SV_FINALIZED, 2000000000ull, "second line");
	ring_add(b.g, &r, 2, SV_FINALIZED, 3000000000ull, "third line");
	REQUIRE(gf_log_tail(&b.g->k, 2, want, sizeof want, &len) == GF_OK);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_OK);
	CHECK_EQ(box_length(&b), len);
	CHECK(!memcmp(box_payload(&b), want, len));
	rq.arg = 0;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "log records must be 1 to 10000");
	rq.arg = GF_LOG_RECORDS_MAX + 1;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_EINVAL);
	boxrig_free(&b);
}

static void test_devbox_detect(void)
{
	struct gf_request rq = { .arg = GF_MEMORY };
	struct boxrig b;

	boxrig_new(&b);
	b.r.pub->v[GF_MEMORY].active = 1;
	b.r.pub->v[GF_MEMORY].nculprits = 1;
	b.r.pub->v[GF_MEMORY].culprit[0].pid = 100;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_DETECT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof(struct gf_verdict));
	CHECK(!memcmp(box_payload(&b), &b.r.pub->v[GF_MEMORY], sizeof(struct gf_verdict)));
	rq.arg = GF_NCLASSES;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_DETECT, &rq), GF_EINVAL);
	CHECK_STR(box_text(&b), "no such detector class");
	boxrig_free(&b);
}

/* The operator's key signals, with operator_signal()'s refusals; the
 * guest is written exactly as gf_send_signal writes it. */
static void test_devbox_signal_operator(void)
{
	static const int32_t tids[] = { 100, 101, 102 };
	struct gf_request rq = { .pid = 100, .sig = 9, .start_time = 999 };
	struct gf_loop_event ev[8];
	uint64_t next = 0, lost;
	struct guest *want;
	struct boxrig b;
	uint32_t n;

	boxrig_new(&b);
	want = guest_clone(b.g);
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_ESTALE);
	CHECK_HAS(box_text(&b), "another process");
	rq.start_time = 0;
	rq.sig = 18;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "SIGCONT");
	rq = (struct gf_request){ .pid = 1, .sig = 9 };
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "init");
	rq.pid = 4242;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_ESRCH);
	rq.sig = 0;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_MEMORY(want, b.g); /* nothing written so far */
	rq = (struct gf_request){ .pid = 100, .sig = 9, .start_time = 200 };
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_OK);
	CHECK_HAS(box_text(&b), "pending");
	expect_kill(want, tids, 3);
	CHECK_MEMORY(want, b.g);
	/* every operator's signal is an event, written or not, in order */
	n = read_events(&b.r, &next, ev, NELEM(ev), &lost);
	REQUIRE(n == 6);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ(ev[i].kind, GF_LE_OPERATOR);
		CHECK(ev[i].time == 2.0);
		CHECK_EQ(ev[i].report.outcome, i < 5 ? GF_REFUSED : GF_WRITTEN);
	}
	CHECK_EQ(ev[0].report.err, GF_ESTALE);
	CHECK_STR(ev[0].report.comm, "app");
	CHECK_EQ(ev[5].report.pid, 100);
	CHECK_EQ(ev[5].report.sig, 9);
	guest_free(want);
	boxrig_free(&b);
}

/* With the in-OS helper in the target: the signal is posted to it and
 * answered once the helper has, nothing written; unanswered for
 * GF_DEVBOX_HELPER_WAIT_S, the pseudo-signal instead. Each is an event
 * with its path. */
static void test_devbox_signal_helper(void)
{
	static const int32_t tids[] = { 100, 101, 102 };
	struct gf_request rq = { .pid = 100, .sig = 9, .start_time = 200 };
	struct gf_loop_event ev[4];
	uint64_t next = 0, lost;
	struct guest *want;
	struct modules m;
	volatile struct gfh_mailbox *mb;
	struct boxrig b;

	boxrig_new(&b);
	m = modules_new(b.g);
	b.g->k.helper = m.mailbox;
	mb = (volatile struct gfh_mailbox *)(void *)
	     host(b.g, fixture_pa(b.g, m.mailbox), offsetof(struct gfh_mailbox, slot[1]));
	want = guest_clone(b.g);
	box_request(&b, b.op_psk, GF_MSG_SIGNAL, ++b.seq, BOX_TARGET, &rq);
	box_post(&b);
	CHECK_EQ(box_serve(&b, 2.0), 0); /* posted to the helper */
	CHECK_EQ(mb->rq_seq, 1);
	CHECK_EQ(mb->slot[0].pid, 100);
	CHECK_EQ(box_serve(&b, 2.1), 0); /* no answer yet */
	mb->slot[0].result = GFH_DONE;
	mb->ans_seq = 1;
	REQUIRE(box_serve(&b, 2.1) == 1);
	REQUIRE(box_take(&b, b.op_psk) == GF_OK);
	CHECK_EQ(((const struct gf_msg_hdr *)b.ans.data)->status, GF_OK);
	CHECK_HAS(box_text(&b), "through the in-OS helper");
	want->k.helper = 0;
	memcpy(host(want, fixture_pa(want, m.mailbox), GFH_HEADER_BYTES),
	       (const void *)mb, GFH_HEADER_BYTES);
	memcpy(host(want, fixture_pa(want, m.mailbox + GFH_HEADER_BYTES), sizeof mb->slot[0]),
	       (const void *)&mb->slot[0], sizeof mb->slot[0]);
	CHECK_MEMORY(want, b.g); /* the request alone: no pseudo-signal */
	/* the helper silent: after the wait, the pseudo-signal */
	box_request(&b, b.op_psk, GF_MSG_SIGNAL, ++b.seq, BOX_TARGET, &rq);
	box_post(&b);
	CHECK_EQ(box_serve(&b, 3.0), 0);
	CHECK_EQ(mb->rq_seq, 2);
	CHECK_EQ(box_serve(&b, 3.0 + GF_DEVBOX_HELPER_WAIT_S / 2), 0);
	REQUIRE(box_serve(&b, 3.0 + GF_DEVBOX_HELPER_WAIT_S) == 1);
	REQUIRE(box_take(&b, b.op_psk) == GF_OK);
	CHECK_HAS(box_text(&b), "gave no answer: signal marked pending");
	expect_kill(want, tids, 3);
	memcpy(host(want, fixture_pa(want, m.mailbox), GFH_HEADER_BYTES),
	       (const void *)mb, GFH_HEADER_BYTES);
	memcpy(host(want, fixture_pa(want, m.mailbox + GFH_HEADER_BYTES), sizeof mb->slot[0]),
	       (const void *)&mb->slot[0], sizeof mb->slot[0]);
	CHECK_MEMORY(want, b.g);
	REQUIRE(read_events(&b.r, &next, ev, NELEM(ev), &lost) == 2);
	CHECK_EQ(ev[0].report.path, GF_PATH_HELPER);
	CHECK_EQ(ev[0].report.outcome, GF_WRITTEN);
	CHECK_EQ(ev[1].report.path, GF_PATH_PSEUDO);
	CHECK_EQ(ev[1].report.outcome, GF_WRITTEN);
	guest_free(want);
	boxrig_free(&b);
}

static void test_devbox_signal_read_role(void)
{
	struct gf_request rq = { .pid = 100, .sig = 9 };
	struct guest *want;
	struct boxrig b;

	boxrig_new(&b);
	want = guest_clone(b.g);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "read-only");
	CHECK_EQ(b.r.pub->ev_head, 0); /* not the operator's: no event */
	b.g->k.writable = 0; /* and a read-only target, even to the operator */
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "read-only");
	CHECK_MEMORY(want, b.g);
	guest_free(want);
	boxrig_free(&b);
}

/* No key, no answer: a stranger's request, and a genuine one altered. */
static void test_devbox_refuses_strangers(void)
{
	struct gf_request rq = { .pid = 100, .sig = 9 };
	struct guest *want;
	struct boxrig b;

	boxrig_new(&b);
	want = guest_clone(b.g);
	box_request(&b, b.stranger, GF_MSG_SIGNAL, 1, BOX_TARGET, &rq);
	box_refused(&b, b.stranger, 0);
	box_request(&b, b.stranger, GF_MSG_PS, 1, BOX_TARGET, &rq);
	box_refused(&b, b.stranger, 0);
	box_request(&b, b.op_psk, GF_MSG_PS, 1, BOX_TARGET, &rq);
	b.req.data[sizeof(struct gf_msg_hdr)] ^= 1; /* the payload, altered */
	box_refused(&b, b.op_psk, 0);
	/* the read key's MAC is no operator's */
	box_request(&b, b.read_psk, GF_MSG_SIGNAL, 1, BOX_TARGET, &rq);
	CHECK_EQ(box_exchange(&b, b.op_psk), GF_EINVAL);
	CHECK_MEMORY(want, b.g);
	CHECK_EQ(b.r.pub->ev_head, 0);
	guest_free(want);
	boxrig_free(&b);
}

static void test_devbox_replay(void)
{
	struct gf_request rq = { .beat = 1 };
	struct boxrig b;

	boxrig_new(&b);
	b.seq = 5;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	box_refused(&b, b.read_psk, 6); /* the same message again */
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 3, BOX_TARGET, &rq);
	box_refused(&b, b.read_psk, 6);
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 0, BOX_TARGET, &rq);
	box_refused(&b, b.read_psk, 6);
	/* any later number goes */
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 100, BOX_TARGET, &rq);
	CHECK_EQ(box_exchange(&b, b.read_psk), GF_OK);
	CHECK_EQ(b.st.last_seq, 100);
	boxrig_free(&b);
}

/* Malformed requests, each sealed with a good key: refused all the same. */
static void test_devbox_malformed(void)
{
	static const uint16_t types[] = { 0, GF_MSG_CHALLENGE, GF_MSG_PROOF,
					  GF_MSG_WELCOME, GF_MSG_TYPES,
					  GF_MSG_HEARTBEAT | GF_MSG_ANSWER };
	struct gf_request rq = { 0 };
	struct gf_msg_hdr *h;
	struct boxrig b;
	int before;

	boxrig_new(&b);
	for (size_t i = 0; i < NELEM(types); i++) {
		before = failures;
		box_request(&b, b.op_psk, types[i], 1, BOX_TARGET, &rq);
		box_refused(&b, b.op_psk, 0);
		note_case(before, "type %u", types[i]);
	}
	for (int field = 0; field < 5; field++) {
		before = failures;
		box_request(&b, b.op_psk, GF_MSG_HEARTBEAT, 1, BOX_TARGET, &rq);
		h = (struct gf_msg_hdr *)b.req.data;
		if (field == 0)
			h->magic ^= 1;
		else if (field == 1)
			h->version++;
		else if (field == 2)
			h->board_size--;
		else if (field == 3)
			h->length = 0, b.req.len = sizeof *h;
		else
			h->length = GF_MAX_PAYLOAD + 1;
		box_seal(&b, b.op_psk);
		box_refused(&b, b.op_psk, 0);
		note_case(before, "header field %d", field);
	}
	/* well formed, but for another target: told so, under MAC */
	box_request(&b, b.op_psk, GF_MSG_PS, 1, BOX_TARGET + 1, &rq);
	CHECK_EQ(box_exchange(&b, b.op_psk), GF_OK);
	CHECK_EQ(((const struct gf_msg_hdr *)b.ans.data)->status, GF_EINVAL);
	CHECK_STR(box_text(&b), "no such target");
	boxrig_free(&b);
}

/* ---- Cached profiles (profile.c) ---- */

#define BUILD_A "8a55a05d35a15fe072cfd7e22593672daae112af"
#define BUILD_B "0123456789abcdef0123456789abcdef01234567"
#define PF_RELEASE "6.8.0-gpufas"
#define PF_STEXT 0xffffffff81000000ull
#define PF_PERCPU 0x33b00ull /* a zero-based per-CPU symbol: never moves */

/* A profile of the synthetic kernel, as discovery would keep it: its
 * layout, init_task and linux_banner in the image, one per-CPU symbol. */
static void profile_of(struct guest *g, struct gf_profile *p)
{
	static const char banner[] = "Linux version " PF_RELEASE " (gcc) #1 SMP";
	uint64_t at = win_alloc(&g->kimg, sizeof banner, 8);

	put(g, at, banner, sizeof banner);
	memset(p, 0, sizeof *p);
	strcpy(p->build_id, BUILD_A);
	strcpy(p->release, PF_RELEASE);
	p->kallsyms = 150000;
	p->nfields = layout_to_pairs(&g->k.lay, p->field, GF_PROFILE_FIELDS);
	p->sym[0] = (struct gf_profile_entry){ "init_task", g->init_task };
	p->sym[1] = (struct gf_profile_entry){ "linux_banner", at };
	p->sym[2] = (struct gf_profile_entry){ "runqueues", PF_PERCPU };
	p->nsyms = 3;
}

static char *profile_path(const char *id)
{
	static char path[256];

	snprintf(path, sizeof path, "%s/%s.profile", scratch, id);
	return path;
}

/* The layout that p's fields give, on g's paging and symbols. */
static struct gf_kernel kernel_from(const struct guest *g, const struct gf_profile *p)
{
	struct gf_kernel k = g->k;
	char err[256] = "";
	int rc;

	memset((char *)&k.lay + offsetof(struct gf_layout, task_ti_flags), 0,
	       sizeof k.lay - offsetof(struct gf_layout, task_ti_flags));
	rc = layout_from_pairs(&k.lay, p->field, p->nfields, 1, "cached profile",
			       err, sizeof err);
	if (rc)
		fixture_bug(err, (uint64_t)rc);
	return k;
}

static void test_profile_round_trip(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p), *got = xcalloc(sizeof *got);
	const uint64_t moved = PF_STEXT + 0x2a00000; /* the next boot's KASLR */
	char err[256] = "";
	struct gf_kernel k;
	struct stat st;

	profile_of(g, p);
	REQUIRE(profile_save(scratch, p, PF_STEXT, err, sizeof err) == 0);
	REQUIRE(stat(profile_path(BUILD_A), &st) == 0);
	fuzz_seed_file("fuzz_config", "profile", profile_path(BUILD_A));
	CHECK_EQ(st.st_mode & 0777, 0600);
	REQUIRE(profile_load(scratch, BUILD_A, moved, got, err, sizeof err) == 0);
	CHECK_STR(got->release, PF_RELEASE);
	CHECK_EQ(got->kallsyms, 150000);
	CHECK_EQ(got->nfields, p->nfields);
	CHECK_EQ(got->nsyms, 3);
	CHECK_STR(got->sym[0].key, "init_task");
	CHECK_EQ(got->sym[0].value, g->init_task + (moved - PF_STEXT));
	CHECK_EQ(got->sym[2].value, PF_PERCPU);
	/* every offset comes back as it was, groups included */
	k = kernel_from(g, got);
	CHECK(!memcmp(&k.lay, &g->k.lay, sizeof k.lay));
	CHECK_EQ(profile_fits(&k, PF_RELEASE, p->sym[1].value, err, sizeof err), 0);
	free(got);
	free(p);
	guest_free(g);
}

static void write_mode(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(text, 1, len, f) != len || fclose(f) || chmod(path, mode))
		fixture_bug("cannot write a profile", (uint64_t)errno);
}

static void check_profile_refused(const char *text, size_t len, mode_t mode,
				  const char *needle)
{
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	int before = failures;

	write_mode(profile_path(BUILD_A), text, len, mode);
	CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), -1);
	CHECK_HAS(err, "refused");
	CHECK_HAS(err, needle);
	CHECK(!strchr(err, '\n'));
	note_case(before, "profile %.40s...", text);
	free(p);
}

#define PF_HEAD "gpufas-profile 2\nbuild-id = " BUILD_A "\nrelease = 6.8.0\nkallsyms = 9\n"
#define REFUSED(text, needle) check_profile_refused(text, strlen(text), 0600, needle)

static void test_profile_corrupt_refused(void)
{
	char *big = xcalloc(64 << 10);

	REFUSED("gpufas-profile 3\nend\n", "not a gpufas profile");
	REFUSED("gpufas-profile 1\nend\n", "not a gpufas profile"); /* no module fields */
	REFUSED(PF_HEAD "field task_struct.pid = 2464\n", "truncated");
	REFUSED(PF_HEAD "end", "truncated");
	REFUSED(PF_HEAD "end\nfield x = 1\n", "after end");
	REFUSED(PF_HEAD "field task_struct.pid = -8\nend\n", "bad value");
	REFUSED(PF_HEAD "field task_struct.pid = 99999999999\nend\n", "bad value");
	REFUSED(PF_HEAD "field task_struct.pid = 1\nfield task_struct.pid = 2\nend\n",
		"repeated");
	REFUSED(PF_HEAD "field ../../x = 1\nend\n", "bad name");
	REFUSED(PF_HEAD "symbol init_task = 0xffffffff82000000\nend\n", "bad value");
	REFUSED(PF_HEAD "symbol init_task = _stext+0x80000000\nend\n", "bad value");
	REFUSED(PF_HEAD "symbol init_task = _stext*2\nend\n", "bad value");
	REFUSED(PF_HEAD "owner = mallory\nend\n", "unknown key");
	REFUSED(PF_HEAD "release = 6.9.0\nend\n", "bad release");
	REFUSED("gpufas-profile 2\nbuild-id = " BUILD_B "\nend\n", "another build");
	REFUSED("gpufas-profile 2\nend\n", "no release");
	REFUSED(PF_HEAD "field task_struct.pid\t= 1\nend\n", "not text");
	check_profile_refused(PF_HEAD "\0end\n", sizeof PF_HEAD + 4, 0600, "not text");
	check_profile_refused(PF_HEAD "end\n", strlen(PF_HEAD "end\n"), 0622, "private");
	memset(big, 'x', (64 << 10) - 1);
	REFUSED(big, "size");
	unlink(profile_path(BUILD_A));
	REQUIRE(symlink("/etc/passwd", profile_path(BUILD_A)) == 0);
	{
		struct gf_profile *p = xcalloc(sizeof *p);
		char err[256] = "";
		CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), -1);
		CHECK_HAS(err, "refused");
		free(p);
	}
	unlink(profile_path(BUILD_A));
	free(big);
}

static void test_profile_wrong_build_ignored(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";

	profile_of(g, p);
	REQUIRE(profile_save(scratch, p, PF_STEXT, err, sizeof err) == 0);
	/* another build has no profile; nor does a build id that is no name */
	CHECK_EQ(profile_load(scratch, BUILD_B, PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, "../" BUILD_A, PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, "", PF_STEXT, p, err, sizeof err), 1);
	CHECK_EQ(profile_load(scratch, BUILD_A, PF_STEXT, p, err, sizeof err), 0);
	unlink(profile_path(BUILD_A));
	free(p);
	guest_free(g);
}

/* A profile whose values do not fit the memory it is used on. */
static void check_stale(const struct guest *g, const struct gf_profile *good,
			const char *field, int32_t by, const char *needle)
{
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	struct gf_kernel k;
	int before = failures;

	*p = *good;
	for (uint32_t i = 0; i < p->nfields; i++)
		if (!strcmp(p->field[i].key, field))
			p->field[i].value += (uint64_t)(int64_t)by;
	k = kernel_from(g, p);
	if (!strcmp(field, "init_task"))
		k.lay.init_task += (uint64_t)(int64_t)by;
	CHECK_EQ(profile_fits(&k, PF_RELEASE, good->sym[1].value, err, sizeof err), -1);
	CHECK_HAS(err, needle);
	note_case(before, "%s %+d", field, by);
	free(p);
}

static void test_profile_stale_caught(void)
{
	struct guest *g = world_new(4, 1);
	struct gf_profile *p = xcalloc(sizeof *p);
	char err[256] = "";
	struct gf_kernel k;

	profile_of(g, p);
	check_stale(g, p, "task_struct.pid", 8, "swapper/0");
	check_stale(g, p, "task_struct.comm", -16, "swapper/0");
	check_stale(g, p, "task_struct.real_parent", 8, "swapper/0");
	check_stale(g, p, "task_struct.tasks", 16, "tasks list");
	check_stale(g, p, "task_struct.thread_node", 16, "thread group");
	check_stale(g, p, "signal_struct.thread_head", 8, "thread group");
	check_stale(g, p, "init_task", 64, "init_task");
	/* a release other than the banner's: a profile of another build */
	k = kernel_from(g, p);
	CHECK_EQ(profile_fits(&k, "6.8.1-other", p->sym[1].value, err, sizeof err), -1);
	CHECK_HAS(err, "linux_banner");
	free(p);
	guest_free(g);
}

/* ======================================================================
 * Prometheus: the exposition (prom.c) and the endpoint's parser (http.c).
 * ====================================================================== */

static char *exposition(const struct prom_target *t, int n, double now)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		fixture_bug("open_memstream failed", (uint64_t)errno);
	prom_format(f, t, n, 0.0125, now);
	fclose(f);
	return out;
}

/* Every family once, HELP then TYPE then its samples, each sample line
 * a name, labels and a value. */
static void check_families(const char *text)
{
	char seen[64][64];
	int nseen = 0;

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		char name[64];
		CHECK(nl != NULL);
		if (!nl)
			return;
		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%63s", name);
			for (int i = 0; i < nseen; i++)
				CHECK(strcmp(seen[i], name));
			if (nseen < 64)
				strcpy(seen[nseen++], name);
			CHECK(!strncmp(nl + 1, "# TYPE ", 7));
			CHECK(!strncmp(nl + 8, name, strlen(name)));
		} else if (line[0] != '#') {
			CHECK(nseen > 0 && !strncmp(line, seen[nseen - 1],
						    strlen(seen[nseen - 1])));
		}
		line = nl + 1;
	}
	CHECK(nseen >= 20);
}

static void test_prom_format(void)
{
	struct gf_board *a = attached_board(), *d = xcalloc(sizeof *d);
	struct gf_counts ca = { 0 }, cd = { 0 };
	struct gf_verdict v = { .cls = GF_MEMORY, .active = 1 };
	struct gf_report act = { .kind = GF_ACTION, .cls = GF_MEMORY, .sig = 9 };
	struct gf_report res = { .kind = GF_RESULT, .cls = GF_MEMORY,
				 .outcome = GF_STILL_RUNNING };
	struct gf_report op = { .kind = GF_ACTION, .outcome = GF_REFUSED };
	const struct gf_event evs[] = {
		{ .kind = GF_EV_VERDICT, .verdict = &v },
		{ .kind = GF_EV_ACTION, .report = &act },
		{ .kind = GF_EV_RESULT, .report = &res },
		{ .kind = GF_EV_OPERATOR, .report = &op },
		{ .kind = GF_EV_METRICS },
	};
	struct prom_target t[2] = { { a, &ca }, { d, &cd } };
	char *text;

	board_init(d, "vm:/dir/with \"quote\" and \\ and\nnewline");
	snprintf(a->engine, sizeof a->engine, "CPU");
	a->sampled = 1000;
	a->mem_available_kib = 1;
	a->rates.cpu[1].online = 0;
	a->verdict[GF_MEMORY].active = 1;
	for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
		prom_count(&ca, &evs[i]);
	prom_count(&ca, &evs[0]);
	text = exposition(t, 2, 1002.5);
	check_families(text);
	CHECK_HAS(text, "gpufas_attached{target=\"vm:test\"} 1\n");
	CHECK_HAS(text, "gpufas_attached{target=\"vm:/dir/with \\\"quote\\\" and "
		  "\\\\ and\\nnewline\"} 0\n");
	CHECK_HAS(text, "gpufas_sample_age_seconds{target=\"vm:test\"} 2.5\n");
	CHECK_HAS(text, "gpufas_engine_info{target=\"vm:test\",engine=\"CPU\"} 1\n");
	CHECK_HAS(text, "gpufas_cpu_ratio{target=\"vm:test\",cpu=\"0\",mode=\"idle\"} 1\n");
	CHECK(!strstr(text, "cpu=\"1\"")); /* offline */
	CHECK_HAS(text, "gpufas_memory_available_bytes{target=\"vm:test\"} 1024\n");
	CHECK_HAS(text, "gpufas_detector_state{target=\"vm:test\",class=\"memory\"} 2\n");
	CHECK_HAS(text, "gpufas_detector_state{target=\"vm:test\",class=\"F1\"} 0\n");
	CHECK_HAS(text, "gpufas_verdicts_total{target=\"vm:test\",class=\"memory\"} 2\n");
	CHECK_HAS(text, "gpufas_actions_total{target=\"vm:test\",class=\"memory\"} 1\n");
	CHECK_HAS(text, "gpufas_results_total{target=\"vm:test\",class=\"memory\","
		  "outcome=\"still_running\"} 1\n");
	CHECK_HAS(text, "gpufas_operator_signals_total{target=\"vm:test\","
		  "outcome=\"refused\"} 1\n");
	CHECK_HAS(text, "gpufas_round_seconds 0.0125\n");
	/* the detached target: its state and counters, no readings */
	CHECK(!strstr(text, "gpufas_memory_total_bytes{target=\"vm:/dir"));
	CHECK(!strstr(text, "gpufas_detector_state{target=\"vm:/dir"));
	CHECK_HAS(text, "gpufas_verdicts_total{target=\"vm:/dir");
	free(text);
	free(d);
	free(a);
}

static void test_http_parse(void)
{
	static const struct { const char *req; int rc; } cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", GF_OK },
		{ "GET /metrics HTTP/1.0\n\n", GF_OK },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", GF_EBUSY },
		{ "GET /met", GF_EBUSY },
		{ "\r\n\r\n", GF_EINVAL },
		{ "GET /metrics\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/2.0\r\n\r\n", GF_EINVAL },
		{ "GET metrics HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "get /metrics HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", GF_EINVAL },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "\x16\x03\x01\x02\xfc\x03\x03\n\n", GF_EINVAL }, /* TLS */
		{ "VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", GF_ENOSPC },
	};
	struct http_request r;
	const char *reason;
	char *big = xcalloc(HTTP_MAX_REQUEST + 64);
	size_t len;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		CHECK_EQ(http_parse(cases[i].req, strlen(cases[i].req), &r), cases[i].rc);
	CHECK_EQ(http_parse("GET /m\0 HTTP/1.1\r\n\r\n", 21, &r), GF_EINVAL);
	CHECK_EQ(http_parse("POST /metrics?x=1 HTTP/1.1\r\n\r\n", 31, &r), GF_OK);
	CHECK_STR(r.method, "POST");
	CHECK_STR(r.path, "/metrics?x=1");
	CHECK_EQ(http_status(&r, &reason), 405);
	snprintf(r.method, sizeof r.method, "GET");
	CHECK_EQ(http_status(&r, &reason), 200);
	snprintf(r.path, sizeof r.path, "/metricsx");
	CHECK_EQ(http_status(&r, &reason), 404);
	snprintf(r.path, sizeof r.path, "/");
	CHECK_EQ(http_status(&r, &reason), 404);
	/* a path longer than the request can hold */
	len = (size_t)snprintf(big, HTTP_MAX_REQUEST, "GET /%0200d HTTP/1.1\r\n\r\n", 0);
	CHECK_EQ(http_parse(big, len, &r), GF_ENOSPC);
	/* one header too many, and a head that never ends */
	len = (size_t)snprintf(big, HTTP_MAX_REQUEST, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(big + len, HTTP_MAX_REQUEST - len, "H%d: v\r\n", i);
	CHECK_EQ(http_parse(big, len, &r), GF_EBUSY);
	len += (size_t)snprintf(big + len, HTTP_MAX_REQUEST - len, "X: v\r\n");
	CHECK_EQ(http_parse(big, len, &r), GF_ENOSPC);
	memset(big, 'a', HTTP_MAX_REQUEST);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_EQ(http_parse(big, HTTP_MAX_REQUEST - 1, &r), GF_EBUSY);
	CHECK_EQ(http_parse(big, HTTP_MAX_REQUEST, &r), GF_ENOSPC);
	/* random heads, bytes drawn mostly from HTTP's own: one of the four
	 * answers, and a whole head's fields terminated within bounds */
	srand(16);
	for (int round = 0; round < 20000; round++) {
		static const char alphabet[] = "GET /metrics HTTP/1.1\r\n: \0\xff";
		int rc;
		len = (size_t)(rand() % 300);
		for (size_t i = 0; i < len; i++)
			big[i] = rand() % 8 ? alphabet[rand() % (sizeof alphabet - 1)]
					    : (char)rand();
		memset(&r, 0x55, sizeof r);
		rc = http_parse(big, len, &r);
		CHECK(rc == GF_OK || rc == GF_EBUSY || rc == GF_EINVAL || rc == GF_ENOSPC);
		if (rc == GF_OK)
			CHECK(memchr(r.method, 0, sizeof r.method) &&
			      memchr(r.path, 0, sizeof r.path) && r.path[0] == '/');
	}
	free(big);
}

/* $NOTIFY_SOCKET's two forms: a path keeps its bytes, an abstract name
 * starts with a NUL and its length ends it; anything else is refused. */
static void test_notify_addr(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	char big[sizeof sa.sun_path + 1];
	size_t base = offsetof(struct sockaddr_un, sun_path);

	CHECK_EQ(gf_notify_addr("/run/systemd/notify", &sa, &len), 0);
	CHECK_EQ(sa.sun_family, AF_UNIX);
	CHECK_STR(sa.sun_path, "/run/systemd/notify");
	CHECK_EQ(len, base + strlen("/run/systemd/notify"));
	CHECK_EQ(gf_notify_addr("@gf/notify", &sa, &len), 0);
	CHECK(sa.sun_path[0] == '\0' && !memcmp(sa.sun_path + 1, "gf/notify", 9));
	CHECK_EQ(len, base + 10);
	CHECK_EQ(gf_notify_addr("", &sa, &len), -1);
	CHECK_EQ(gf_notify_addr("@", &sa, &len), -1);
	CHECK_EQ(gf_notify_addr("relative", &sa, &len), -1);
	CHECK_EQ(gf_notify_addr("vsock:2:1234", &sa, &len), -1);
	memset(big, 'a', sizeof big - 1);
	big[0] = '/';
	big[sizeof big - 1] = '\0';
	CHECK_EQ(gf_notify_addr(big, &sa, &len), -1);
}

/* Half of $WATCHDOG_USEC, for this process only. */
static void test_notify_watchdog(void)
{
	CHECK(gf_notify_watchdog_s("30000000", NULL, 42) == 15.0);
	CHECK(gf_notify_watchdog_s("1000000", "42", 42) == 0.5);
	CHECK(gf_notify_watchdog_s("1000000", "", 42) == 0.5);
	CHECK(gf_notify_watchdog_s("1000000", "43", 42) == 0);
	CHECK(gf_notify_watchdog_s("1000000", "42x", 42) == 0);
	CHECK(gf_notify_watchdog_s(NULL, NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("0", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("-5", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("10s", NULL, 42) == 0);
}

static void line_of(char *buf, size_t cap, int journal, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gf_notify_line(buf, cap, journal, prio, fmt, ap);
	va_end(ap);
}

/* $JOURNAL_STREAM names stderr exactly, or the lines go unprefixed. */
static void test_notify_journal(void)
{
	char line[32];

	CHECK(gf_notify_journal_match("66306:1234567", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306:1234567", 66306, 1234568));
	CHECK(!gf_notify_journal_match("66307:1234567", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306:1234567x", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306", 66306, 0));
	CHECK(!gf_notify_journal_match("", 0, 0));
	CHECK(!gf_notify_journal_match(NULL, 0, 0));
	line_of(line, sizeof line, 1, LOG_ERR, "events file %s", "x");
	CHECK_STR(line, "<3>gpufas: events file x\n");
	line_of(line, sizeof line, 0, LOG_ERR, "events file %s", "x");
	CHECK_STR(line, "gpufas: events file x\n");
	line_of(line, sizeof line, 1, LOG_NOTICE, "note: %d", 5);
	CHECK_STR(line, "<5>gpufas: note: 5\n");
	line_of(line, sizeof line, 1, LOG_WARNING, "%s", "a message far longer than the line");
	CHECK_EQ(strlen(line), sizeof line - 1);
	CHECK(!strncmp(line, "<4>gpufas: a message", 20) && line[sizeof line - 2] == '\n');
}

#define T(f) { #f, test_##f }

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
	T(kallsyms_rules),
	T(kallsyms_unknown_name),
	T(kallsyms_corrupt_names),
	T(kallsyms_bad_count),
	T(kallsyms_missing),
	T(kallsyms_no_relative_base),
	T(kallsyms_from_image),
	T(kallsyms_image_broken),
	T(vmcoreinfo_complete),
	T(vmcoreinfo_long_text),
	T(vmcoreinfo_values),
	T(vmcoreinfo_find),
	T(vmcoreinfo_find_anywhere),
	T(target_elf_core),
	T(target_elf_bad),
	T(target_raw),
	T(target_vm_layout),
	T(target_errors),
	T(config_load),
	T(config_errors),
	T(config_missing_file),
	T(config_profile_negative),
	T(signal_parse),
	T(json_string),
	T(layout_profile_all),
	T(layout_profile_missing),
	T(engine_snapshot_grows),
	T(engine_errors),
	T(strerror),
	T(log_tail),
	T(log_tail_corrupt),
	T(detect_signatures),
	T(detect_needs_a_window),
	T(detect_history_ring),
	T(detect_memory_culprits),
	T(detect_cpu_overload_newborn),
	T(detect_thrashing),
	T(detect_cpu_overload),
	T(recover_kills_and_follows),
	T(recover_refuses),
	T(recover_term_then_kill),
	T(recover_protect_globs),
	T(helper_found),
	T(helper_not_found),
	T(helper_request),
	T(operator_signal_all),
	T(recover_through_helper),
	T(loop_publishes_processes),
	T(loop_host_stall),
	T(loop_event_ring),
	T(loop_loses_kernel),
	T(loop_cpu_engine_has_no_host),
	T(loop_sized_from_config),
	T(devbox_layout),
	T(devbox_keys),
	T(devbox_heartbeat),
	T(devbox_board),
	T(devbox_ps),
	T(devbox_log),
	T(devbox_detect),
	T(devbox_signal_operator),
	T(devbox_signal_helper),
	T(devbox_signal_read_role),
	T(devbox_refuses_strangers),
	T(devbox_replay),
	T(devbox_malformed),
	T(profile_round_trip),
	T(profile_corrupt_refused),
	T(profile_wrong_build_ignored),
	T(profile_stale_caught),
	T(prom_format),
	T(http_parse),
	T(notify_addr),
	T(notify_watchdog),
	T(notify_journal),
	T(config_detect_recover),
	T(board_level),
	T(board_sanitize),
	T(blake2b_rfc7693),
	T(blake2b_keyed),
	T(blake2b_random),
	T(blake2b_incremental),
	T(blake2b_bad_lengths),
};

/* Runs one test in a child: 1 if it passed. */
static int run_test(const struct test *t)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		printf("FAIL %s (fork: %s)\n", t->name, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		alarm(TEST_TIMEOUT_S);
		t->fn();
		end_test();
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("FAIL %s (waitpid: %s)\n", t->name, strerror(errno));
			return 0;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s\n", t->name);
		return 1;
	}
	if (WIFSIGNALED(status))
		printf("    killed by signal %d (%s)%s\n", WTERMSIG(status),
		       strsignal(WTERMSIG(status)),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	printf("FAIL %s\n", t->name);
	return 0;
}

static int selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static void remove_scratch(void)
{
	DIR *d = opendir(scratch);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(scratch);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(scratch, sizeof scratch, "/tmp/gpufas-unit.XXXXXX");
	if (!mkdtemp(scratch)) {
		printf("mkdtemp: %s\n0 passed, 1 failed\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < NELEM(tests); i++)
		if (selected(argc, argv, tests[i].name)) {
			if (run_test(&tests[i]))
				passed++;
			else
				failed++;
		}
	remove_scratch();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
