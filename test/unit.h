/* test/unit.h — what the unit tests share: the harness (checks, the
 * registration of tests) and the synthetic guest and kernel that most
 * tests run against (test/unit_fixture.c).
 *
 * Each test/unit_<module>.c holds the tests of one module and their own
 * helpers, and ends with its table: a `struct suite` that the runner
 * (test/unit_harness.c) lists. The names here are the tests' own
 * vocabulary, linked into test/unit only.
 */
#ifndef GPUFAS_TEST_UNIT_H
#define GPUFAS_TEST_UNIT_H

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

#include "../board.h"
#include "../config.h"
#include "../core.h"
#include "../detect.h"
#include "../engine.h"
#include "../loop.h"
#include "../vmcoreinfo.h"
#include "fuzz/image.h"

#define NELEM(a) (sizeof (a) / sizeof *(a))

/* ======================================================================
 * The harness: CHECK records a failed check and goes on, REQUIRE ends
 * the test. Tests run in a forked child; the parent reports ok or FAIL.
 * ====================================================================== */

struct test {
	const char *name;
	void (*fn)(void);
};

/* One module's tests, in the order they run. */
struct suite {
	const struct test *test;
	size_t n;
};

#define T(f) { #f, test_##f }
#define SUITE(tests) { tests, NELEM(tests) }

extern int failures;     /* failed checks of the running test */
extern char scratch[64]; /* this run's temporary directory */

void report(const char *file, int line, const char *fmt, ...);
_Noreturn void end_test(void);
void check_eq(const char *file, int line, const char *a, const char *b,
	      uint64_t va, uint64_t vb);
void check_str(const char *file, int line, const char *a, const char *got,
	       const char *want);
void check_has(const char *file, int line, const char *a, const char *s,
	       const char *sub);
/* After a batch of checks: names the case they were about, if any failed. */
void note_case(int before, const char *fmt, ...);

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
_Noreturn void fixture_bug(const char *what, uint64_t value);
void *xcalloc(size_t n);
double now_s(void);
/* Temporary files live in `scratch`, which the runner removes at the end
 * even if a test crashed before its own unlink. */
int tmp_open(char *path, size_t size);
void tmp_file(char *path, size_t size, const void *data, size_t len);
void tmp_text(char *path, size_t size, const char *text);
/* A sparse file: no disk or memory used for its holes. */
void tmp_resize(const char *path, uint64_t bytes);
void quiet_stderr(void);
int count_fds(void);

/* ======================================================================
 * A synthetic guest: RAM, page tables, and windows of kernel virtual
 * memory that tests allocate from.
 *
 * Guest-physical RAM:
 *   [0, 8 MiB)          "low":  below 1 MiB pages that tests place
 *                       themselves, 1-2 MiB page tables, 2-4 MiB backs a
 *                       2 MiB page, 4-8 MiB 4 KiB data pages
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
	enum { RAM_OWN, RAM_FILE, RAM_SHARED } ram; /* low and high: malloc'd,
		a file mapped (guest_to_file), another guest's (guest_reboot) */
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
uint8_t *host(const struct guest *g, uint64_t pa, uint64_t len);
/* The entry that maps `va` at `leaf` level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB),
 * creating the tables above it. */
uint64_t *pte_slot(struct guest *g, uint64_t va, unsigned leaf);
void map_page(struct guest *g, uint64_t va, uint64_t pa);
void map_large(struct guest *g, uint64_t va, uint64_t pa, unsigned level);
uint64_t win_alloc(struct window *w, uint64_t size, uint64_t align);
/* The test's own translation, from its record of the windows: fixtures
 * never depend on the code under test. */
uint64_t fixture_pa(const struct guest *g, uint64_t va);
void put(struct guest *g, uint64_t va, const void *src, uint64_t len);
void get(const struct guest *g, uint64_t va, void *dst, uint64_t len);
void w64(struct guest *g, uint64_t va, uint64_t v);
void w32(struct guest *g, uint64_t va, uint32_t v);
void w16(struct guest *g, uint64_t va, uint16_t v);
uint64_t r64(const struct guest *g, uint64_t va);
uint32_t r32(const struct guest *g, uint64_t va);
void or64(struct guest *g, uint64_t va, uint64_t bits);
/* Fills fresh kernel objects with junk, so that a reader relying on
 * zeroed memory is caught. */
void junk(struct guest *g, uint64_t va, uint64_t len);
/* splitmix64 over *state: a seeded sequence, the same on every run */
uint64_t unit_rand(uint64_t *state);
/* With GPUFAS_FUZZ_SEEDS=DIR (make fuzz-seeds), a fixture's kernel is
 * also a seed of a RAM fuzz target: DIR/target/name holds `text` and its
 * NUL if there is one (fuzz_kallsyms's VMCOREINFO), then g's image. */
void fuzz_seed(const char *target, const char *name, const struct guest *g,
	       const char *text, int32_t pid, uint32_t flags);
/* The same for a file a fixture wrote (a cached profile, a dump). */
void fuzz_seed_file(const char *target, const char *name, const char *from);

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

/* struct list_head { next, prev }, as include/linux/list.h handles it */
void list_init(struct guest *g, uint64_t head);
void list_add_tail(struct guest *g, uint64_t node, uint64_t head);
void list_del(struct guest *g, uint64_t node);

struct tspec {
	int32_t pid, tgid; /* tgid 0: the pid */
	const char *comm;
	uint32_t state, exit_state, flags;
	uint64_t start_time, runtime, blocked;
};

uint64_t task_va(const struct guest *g, int32_t pid);
uint64_t signal_of(const struct guest *g, int32_t pid);
uint64_t task_new(struct guest *g, const struct tspec *s, uint64_t signal,
		  uint64_t parent, uint64_t mm);
/* A thread-group leader with its own signal_struct, on init_task.tasks. */
uint64_t process_new(struct guest *g, const struct tspec *s, uint64_t parent,
		     uint64_t mm);
/* Another thread of `leader`'s group: shares its signal, parent and mm. */
uint64_t thread_new(struct guest *g, uint64_t leader, const struct tspec *s);

/* rss_stat: counts (atomic_long_t or percpu_counter.count) and, for
 * percpu_counters, each CPU's s32 delta; indexed by enum mm_counter_type. */
struct mmspec {
	int64_t count[4];
	int32_t delta[4][NCPUS];
};

/* What ps shows as RSS, in pages: file + anon + shmem, each at least 0. */
uint64_t mm_expected(const struct mmspec *m, int percpu);

/* The counters metrics.c samples (the layout's metrics group), of an idle
 * machine: every CPU online and running its idle task, nothing counted
 * yet, half of RAM free and no swap, jiffies_64 (at lay.jiffies) at
 * INITIAL_JIFFIES. */
void counters_new(struct guest *g);

struct guest *guest_new(unsigned levels, int percpu);
void guest_free(struct guest *g);
/* A copy with its own RAM: to build the expected memory after a write. */
struct guest *guest_clone(const struct guest *g);
/* g's RAM into a new file at `path` as QEMU's memory-backend-file holds
 * it, low RAM then high RAM (which a target maps with lowmem=LOW_SIZE),
 * and g's RAM that file from then on: what the test writes there, the
 * target reads. */
void guest_to_file(struct guest *g, const char *path);
/* The kernel booted again in g's RAM, as a reset leaves it (no firmware
 * clears RAM): its image copied to free pages, mapped `delta` higher
 * (KASLR moves it by 2 MiB steps) by page tables of its own that share
 * g's direct map, the heap with the old boot's tasks and the per-CPU
 * areas, which only g allocates from; init_task alone on its lists. The
 * layout's symbols in the image move with it. */
struct guest *guest_reboot(struct guest *g, uint64_t delta);
void check_memory(const char *file, int line, const struct guest *want,
		  const struct guest *got);
#define CHECK_MEMORY(want, got) check_memory(__FILE__, __LINE__, want, got)

/* ---- The standard world: a few processes, one with three threads ---- */

struct expect {
	int32_t pid, tgid, ppid, threads;
	char state;
	uint8_t kthread;
	const char *comm;
	uint64_t cpu_ns, start_time;
	const struct mmspec *mm;
};

extern const struct mmspec MM_SYSTEMD, MM_APP;
extern const struct expect WORLD_PROCESSES[6], WORLD_THREADS[8];

struct guest *world_new(unsigned levels, int percpu);
void check_tasks(const struct guest *g, const struct gf_task *got, uint32_t n,
		 const struct expect *want, uint32_t nwant, int percpu);

/* ======================================================================
 * What one suite lends others: defined in test/unit_<module>.c, named
 * here so that each is written once.
 * ====================================================================== */

/* test/unit_introspect.c */
void bad_back_link(struct guest *g);
/* What SIGKILL of process 100 must write, applied to `want`. */
void expect_kill(struct guest *want, const int32_t *tids, int n);

/* test/unit_kallsyms.c */
#define RELBASE 0xffffffff81000000ull /* kallsyms_relative_base (_text) */
struct ksym {
	const char *name; /* with its type letter */
	uint64_t addr;
};
/* A kernel's kallsyms tables, as 6.0 on names them in VMCOREINFO. */
struct ktables {
	struct guest *g;
	uint32_t nsyms, table_len;
	uint64_t num, names, token_table, token_index, offsets, relative_base;
	struct vmcoreinfo vi; /* OSRELEASE=6.8.0, the tables and _stext */
};
/* The tables of syms[0..n) as scripts/kallsyms writes them for address
 * rule `rule` (kallsyms.c's sym_address: 0 absolute per-CPU, 1
 * base-relative, 2 place-relative; RELBASE the base), in g's kimg after
 * what it holds, the token table at `token_table` (0: after the others);
 * VMCOREINFO naming them, _stext at `stext`. */
void ktables_put(struct ktables *kt, struct guest *g, const struct ksym *syms,
		 uint32_t n, int rule, uint64_t stext, uint64_t token_table);
/* kt->vi anew: VMCOREINFO naming the tables, less the key `omit`. */
void ktables_vmcoreinfo(struct ktables *kt, const char *omit, uint64_t stext);

/* test/unit_metrics.c */
#define SV(state, id) (((uint64_t)(state) << 62) | (id))
enum { SV_COMMITTED = 1, SV_FINALIZED = 2, SV_REUSABLE = 3 };
struct ring {
	uint64_t rb, descs, infos, data;
	uint64_t lpos; /* where the next text block goes */
};
struct ring ring_new(struct guest *g);
/* Appends record `id` as the kernel does: its text block after the last
 * one, or from the ring's start when it would not fit before the end (the
 * block then "wraps": next is counted in the following lap). */
void ring_add(struct guest *g, struct ring *r, uint64_t id, int state,
	      uint64_t ts, const char *text);

/* test/unit_helper.c */
struct modules {
	uint64_t head, ext4, helper, kallsyms, symtab, strtab, mailbox;
};
/* The modules ext4 and gpufas_helper; the helper's symbols are
 * helper_exit, then its mailbox, whose page holds what the loaded module
 * writes there. */
struct modules modules_new(struct guest *g);

/* test/unit_loop.c */
/* A loop, its publication, and an engine that reads them as the host does. */
struct rig {
	struct gf_loop_params p;
	struct gf_loop *l;
	struct gf_pub *pub, *copy;
	struct gf_engine e;
};
void rig_new(struct rig *r, double host_stall_s);
void rig_free(struct rig *r);
/* Every event from *next on, checked to come in order. */
uint32_t read_events(struct rig *r, uint64_t *next, struct gf_loop_event *ev,
		     uint32_t max, uint64_t *lost);

/* test/unit_recover.c */
struct gf_verdict memory_verdict(int32_t pid, uint64_t start_time,
				 const char *comm);
uint64_t pending(const struct guest *g, int32_t pid);

/* test/unit_board.c */
struct gf_board *attached_board(void);

/* test/unit_config.c */
/* Loads `text` as config.ini into *c; returns config_load's result. */
int load_ini(const char *text, struct gf_config *c, char *err, size_t errlen,
	     char *path, size_t pathlen);

#endif
