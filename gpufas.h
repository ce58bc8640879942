/* gpufas.h — the types every part of gpufas shares.
 *
 * The logic that reads the guest and decides (introspect.c, metrics.c,
 * detect.c, recover.c and the watch loop, loop.c) is compiled twice: by
 * gcc for the CPU engine and by nvcc, through kernels.cu, for the GPU
 * engine. Everything it touches is therefore plain old data with no host
 * pointers but the RAM bases in struct gf_mem, which the GPU engine swaps
 * for device pointers (and gf_mem's host-only read hook, never followed on
 * the GPU).
 */
#ifndef GPUFAS_H
#define GPUFAS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __CUDACC__
#define GF_HD __host__ __device__
/* A big function kept out of line on the GPU: the whole watch loop
 * inlined into the monitor kernel takes ptxas minutes and gigabytes. */
#define GF_HD_OUTLINE __host__ __device__ __noinline__
#else
#define GF_HD
#define GF_HD_OUTLINE
#endif

#define GPUFAS_VERSION "0.1.0"

/* ---- Errors: every fallible call returns GF_OK or a negative GF_E*. ---- */
enum {
	GF_OK = 0,
	GF_EFAULT = -1,   /* address outside guest RAM or not mapped */
	GF_ECORRUPT = -2, /* guest data inconsistent (broken list, bad value) */
	GF_ENOSPC = -3,   /* caller's buffer too small */
	GF_ESRCH = -4,    /* no such task */
	GF_ESTALE = -5,   /* task changed between lookup and write */
	GF_EINVAL = -6,   /* bad argument */
	GF_EGPU = -7,     /* the GPU monitor failed or stopped answering */
	GF_EBUSY = -8,    /* busy, or no answer in time */
};
const char *gf_strerror(int err);

/* ---- Guest physical memory: a table of RAM ranges mapped into us. ---- */
#define GF_MAX_RANGES 64

struct gf_range {
	uint64_t phys; /* guest-physical start */
	uint64_t size;
	uint8_t *base; /* where that start is mapped (host or device pointer) */
	uint64_t offset; /* where it is in `fd`, for RAM read with `read` */
};

struct gf_mem {
	uint32_t nranges;
	struct gf_range range[GF_MAX_RANGES];
	/* Host only, for RAM that cannot be mapped (/proc/kcore): when set,
	 * every read goes through it, and no range has a base. */
	int (*read)(const struct gf_mem *m, uint64_t pa, void *dst, uint32_t len);
	int fd;
};

/* ---- The kernel's layout: addresses and offsets, found once at attach. ----
 * Offsets are bytes from the start of the named struct. Filled by
 * layout.c from BTF or from a [profile] section; see its field table. */
struct gf_layout {
	/* paging */
	uint64_t cr3;        /* physical address of init_top_pgt */
	uint64_t pte_mask;   /* physical-address bits of a page-table entry */
	uint32_t pt_levels;  /* 4 or 5 */
	uint32_t tif_sigpending; /* bit number in thread_info.flags */

	/* symbols (kernel virtual addresses) */
	uint64_t init_task;
	uint64_t per_cpu_offset; /* __per_cpu_offset[] */
	uint32_t nr_cpu_ids;

	/* task_struct */
	uint32_t task_ti_flags, task_state, task_exit_state, task_flags;
	uint32_t task_tasks, task_pid, task_tgid, task_comm, task_mm;
	uint32_t task_real_parent, task_signal, task_pending, task_blocked;
	uint32_t task_thread_node, task_start_time, task_sum_exec_runtime;
	/* signal_struct */
	uint32_t signal_thread_head, signal_nr_threads, signal_shared_pending;
	uint32_t signal_flags, signal_group_exit_code, signal_group_stop_count;
	uint32_t signal_sum_sched_runtime;
	/* struct sigpending */
	uint32_t sigpending_signal;
	/* mm_struct resident-set counters: either atomic_long_t counters
	 * (rss_percpu == 0, up to 6.1) or struct percpu_counter (from 6.2) */
	uint32_t mm_rss_stat, rss_stride, rss_percpu;
	uint32_t pcpu_count, pcpu_counters;
	uint32_t mm_filepages, mm_anonpages, mm_shmempages; /* enum indexes */

	/* Optional: what metrics.c samples for the detectors, and the
	 * printk ring. A kernel whose BTF or symbols lack any of a group
	 * still attaches; has_metrics / has_printk say which it has. */
	uint32_t has_metrics, has_printk;
	uint32_t mm_swapents;
	uint64_t kernel_cpustat, runqueues, tick_cpu_sched, vm_event_states;
	uint64_t vm_zone_stat, vm_node_stat, nr_swap_pages, total_swap_pages;
	uint64_t totalram_pages, totalreserve_pages, jiffies, panic_cpu;
	uint64_t tainted_mask, cpu_online_mask, prb;
	uint32_t cpustat_user, cpustat_nice, cpustat_system, cpustat_softirq;
	uint32_t cpustat_irq, cpustat_steal, cpustat_idle, cpustat_iowait;
	uint32_t kcs_cpustat; /* kernel_cpustat.cpustat: 0 until 7.x */
	uint32_t rq_nr_running, rq_nr_switches, rq_nr_uninterruptible;
	uint32_t rq_nr_iowait, rq_curr, rq_idle;
	uint32_t ts_idle_sleeptime, ts_iowait_sleeptime;
	uint32_t idle_in_cpustat; /* 7.x: idle time in kernel_cpustat, not tick_sched */
	uint32_t ev_pswpin, ev_pswpout, ev_pgmajfault;
	uint32_t zs_free_pages, ns_active_file, ns_inactive_file;
	uint32_t ns_slab_reclaimable;
	/* printk_ringbuffer, as VMCOREINFO describes it to crash tools */
	uint32_t prb_desc_ring, prb_text_data_ring;
	uint32_t pdr_count_bits, pdr_descs, pdr_infos, pdr_head_id;
	uint32_t desc_size, desc_state_var, desc_text_blk_lpos;
	uint32_t lpos_begin, lpos_next;
	uint32_t info_size, info_seq, info_ts_nsec, info_text_len;
	uint32_t data_size_bits, data_data;
	/* The module list, where helper.c finds kmod/gpufas_helper.c: the
	 * list head `modules`, struct module and its mod_kallsyms. */
	uint32_t has_modules;
	uint64_t modules;
	uint32_t mod_list, mod_name, mod_kallsyms;
	uint32_t mk_symtab, mk_num_symtab, mk_strtab;
};

/* Everything the shared logic needs, flat, so it can be copied to a GPU. */
struct gf_kernel {
	struct gf_mem mem;
	struct gf_layout lay;
	uint32_t writable; /* the target was opened for writing */
	uint64_t helper;   /* the in-OS helper's mailbox, found at attach
			      (helper.c), or 0: none */
};

/* ---- One task as gpufas reports it. ---- */
#define GF_COMM_LEN 16

struct gf_task {
	uint64_t addr;       /* task_struct's kernel virtual address */
	uint64_t start_time; /* ns since boot; identifies the task with pid */
	uint64_t cpu_ns;     /* user + system time consumed */
	uint64_t rss_pages;
	uint64_t swap_pages; /* swapped-out pages (with metrics) */
	int32_t pid, tgid, ppid;
	int32_t threads;
	uint8_t kthread;
	char state;          /* as ps shows it: R S D T t X Z P I */
	char comm[GF_COMM_LEN];
};

/* ---- Shared introspection (introspect.c): CPU and GPU engines. ---- */
/* Where len bytes at guest-physical pa are mapped, or NULL (not RAM, or
 * RAM read through gf_mem's hook, which cannot be written). */
GF_HD volatile uint8_t *gf_phys_ptr(const struct gf_mem *m, uint64_t pa,
				     uint32_t len);
GF_HD int gf_phys_read(const struct gf_mem *m, uint64_t pa, void *dst,
		       uint32_t len);
GF_HD int gf_virt_to_phys(const struct gf_kernel *k, uint64_t va,
			  uint64_t *pa);
GF_HD int gf_read(const struct gf_kernel *k, uint64_t va, void *dst,
		  uint32_t len);
/* The CPU's walk; the GPU's is gf_walk_gang (introspect.h). */
int gf_walk_tasks(const struct gf_kernel *k, int threads, struct gf_task *out,
		  uint32_t cap, uint32_t *count);
GF_HD int gf_find_task(const struct gf_kernel *k, int32_t pid,
		       struct gf_task *out);
GF_HD int gf_send_signal(const struct gf_kernel *k, const struct gf_task *t,
			 int sig, int *delivered_to);
/* The in-OS helper's mailbox at `mailbox` (kmod/gpufas_helper.h): post a
 * batch of requests to send sig to t[0..n) (each by its pid, with its
 * start time; n at most GFH_SLOTS), *seq the batch's number. Then the
 * answers: 1 and answers[0..n), each a GFH_* result, once the helper has
 * answered batch seq, else 0; gf_helper_answer(), the first of them, or
 * GFH_NONE. */
GF_HD int gf_helper_post(const struct gf_kernel *k, uint64_t mailbox,
			 const struct gf_task *t, uint32_t n, int sig,
			 uint32_t *seq);
GF_HD int gf_helper_answers(const struct gf_kernel *k, uint64_t mailbox,
			    uint32_t seq, uint32_t n, int32_t *answers);
GF_HD int gf_helper_answer(const struct gf_kernel *k, uint64_t mailbox,
			   uint32_t seq);

/* ---- Counters (metrics.c): one sample of what the kernel accounts. ----
 * Raw cumulative values; detect.c turns two samples into rates. */
#define GF_MAX_CPUS 256

struct gf_cpu_counters {
	uint64_t user_ns, system_ns, steal_ns; /* kernel_cpustat: user+nice,
						  system+irq+softirq, steal */
	uint64_t idle_ns, iowait_ns; /* tick_sched, added at each idle exit */
	uint64_t switches;           /* rq->nr_switches */
	int64_t uninterruptible;     /* rq->nr_uninterruptible: this CPU's
					share of a sum (may be negative) */
	uint32_t running;            /* rq->nr_running */
	int32_t iowaiters;           /* rq->nr_iowait */
	uint8_t online, idle_now;    /* idle_now: the idle task runs */
};

struct gf_sample {
	uint64_t jiffies;
	uint64_t total_pages, free_pages, available_pages;
	uint64_t swap_total_pages, swap_free_pages;
	uint64_t pswpin, pswpout, pgmajfault; /* vm events, all CPUs */
	uint64_t tainted;  /* tainted_mask: TAINT_DIE (bit 7) after an oops */
	int32_t panic_cpu; /* -1 until the kernel panics */
	uint32_t ncpus;    /* entries in cpu[]: nr_cpu_ids, at most GF_MAX_CPUS */
	struct gf_cpu_counters cpu[GF_MAX_CPUS];
};

/* Pages to KiB: x86's 4 KiB pages, the unit every report uses. */
GF_HD static inline uint64_t pages_kib(uint64_t pages)
{
	return pages * 4;
}

GF_HD int gf_sample_counters(const struct gf_kernel *k, struct gf_sample *s);
/* The kernel log's last records, at most GF_LOG_RECORDS_MAX (a remote
 * request asks for 1 to that). */
#define GF_LOG_RECORDS_MAX 10000
GF_HD int gf_log_tail(const struct gf_kernel *k, uint32_t max, char *buf,
		      uint32_t cap, uint32_t *len);

/* ---- Detection (detect.c): verdicts, each a pure function of samples. ---- */
enum gf_class {
	GF_F1, GF_F2, GF_F3, GF_F4, GF_F5, GF_F6, /* SHFH, as GRASS reads them */
	GF_CPU_OVERLOAD, GF_MEMORY, GF_THRASHING, GF_PANIC,
	GF_NCLASSES
};

/* Defaults: GRASS's thresholds for F1-F6, GPUSentinel's CPU overload;
 * see gf_detect_defaults() and config.ini [detect]. */
struct gf_thresholds {
	double window_s;          /* F1-F6 look at rates over this window */
	double sys_pct, usr_pct;  /* F2, F3, F5: every CPU */
	double cs_per_s;          /* F3, F5: context switches at most */
	double iowait_pct, blocked; /* F4: all CPUs but one; tasks in D */
	double pswpout_per_s, memfree_mib; /* F6 */
	double overload_pct, overload_s;   /* cpu_overload: every CPU busy */
	double available_pct, swap_free_pct; /* memory: both at most */
	double thrash_swap_per_s, thrash_s;  /* thrashing: swap I/O at least,
						with available_pct reached */
};

/* One look at the target's counters. */
struct gf_point {
	double time; /* seconds, on the clock of whoever sampled */
	struct gf_sample s;
};

/* A ring of cap points, newest last (the watch loop's lives in its arena). */
struct gf_history {
	struct gf_point *point;
	uint32_t cap, count, next;
};

/* Rates between two points. */
struct gf_cpu_rates {
	double usr, sys, iowait, idle; /* fractions of the interval, 0..1 */
	double cs;                     /* context switches per second */
	uint8_t online, idle_now;
};

struct gf_rates {
	double seconds;
	uint32_t ncpus, online;
	struct gf_cpu_rates cpu[GF_MAX_CPUS];
	double cs, pswpin, pswpout, majflt; /* per second, all CPUs */
	uint64_t jiffies;                   /* jiffies passed */
	int64_t blocked;                    /* tasks in D (loadavg's count) */
	uint32_t running;
};

#define GF_MAX_EVIDENCE 6
#define GF_MAX_CULPRITS 3

#define GF_EVIDENCE_NAME 24

struct gf_evidence {
	char name[GF_EVIDENCE_NAME]; /* held, not pointed to: verdicts travel */
	double value;
};

struct gf_culprit {
	int32_t pid;
	uint64_t start_time; /* with pid, names the process for recovery */
	char comm[GF_COMM_LEN];
	uint8_t kthread;
	double cpu_pct;      /* of one CPU, over the detector's window */
	uint64_t rss_kib, swap_kib;
	double growth_kib_s; /* resident + swapped, over the window */
};

struct gf_verdict {
	enum gf_class cls;
	int active;
	uint32_t nevidence, nculprits;
	struct gf_evidence evidence[GF_MAX_EVIDENCE];
	struct gf_culprit culprit[GF_MAX_CULPRITS];
};

GF_HD const char *gf_class_name(enum gf_class c);
void gf_detect_defaults(struct gf_thresholds *th);
GF_HD struct gf_point *gf_history_next(struct gf_history *h);
GF_HD void gf_history_commit(struct gf_history *h);
GF_HD void gf_history_push(struct gf_history *h, const struct gf_point *p);
GF_HD const struct gf_point *gf_history_newest(const struct gf_history *h);
GF_HD const struct gf_point *gf_history_back(const struct gf_history *h,
					  double seconds);
GF_HD void gf_rates_between(const struct gf_point *a, const struct gf_point *b,
			 struct gf_rates *r);
/* gf_detect() itself, and what it reads, are in loop.h */

/* ---- Recovery (recover.c): what to do about a verdict. ---- */
enum gf_response {
	GF_REPORT,         /* say so, touch nothing */
	GF_KILL,           /* SIGKILL the culprit */
	GF_TERM_THEN_KILL, /* SIGTERM, then SIGKILL after the grace period */
};

struct gf_policy {
	enum gf_response memory;       /* memory and thrashing verdicts */
	enum gf_response cpu_overload;
	double grace_s;        /* SIGTERM to SIGKILL */
	double cooldown_s;     /* at most one new victim per cool-down */
	double exit_timeout_s; /* a victim not gone by then is given up on */
	int dry_run;           /* decide and report, write nothing */
	char protect[512];     /* comm patterns never signalled: "a,b*,..." */
	int32_t self_pid;      /* our own pid where we run inside the target */
};

/* The process being recovered from, until it is gone. */
struct gf_recovery {
	int active;
	enum gf_class cls;
	int32_t pid;
	uint64_t start_time;
	char comm[GF_COMM_LEN];
	int sig;
	double first_signal, last_signal; /* monotonic seconds */
	double last_action;
	uint32_t path;           /* enum gf_path of the last signal */
	uint32_t helper_seq;     /* its request, while helper_pending */
	int helper_pending;      /* posted, not answered yet */
	char state;              /* as ps shows it, when last signalled */
};

/* What recover_step() did (or an operator's signal), for the caller to
 * log. Plain data: the GPU's watch loop reports through it too. */
enum gf_report_kind { GF_ACTION, GF_RESULT };
/* How a signal went, where the guest has the in-OS helper (without it,
 * always the pseudo-signal, and nothing says so). */
enum gf_path {
	GF_PATH_PLAIN,  /* no helper: the pseudo-signal */
	GF_PATH_HELPER, /* posted to the helper */
	GF_PATH_PSEUDO, /* the pseudo-signal, the helper having failed */
};
enum gf_outcome {
	GF_NO_OUTCOME,
	GF_EXITED, GF_STILL_RUNNING, GF_FAILED, /* a result */
	GF_WRITTEN, GF_REFUSED,                 /* an operator's signal */
};

struct gf_report {
	enum gf_report_kind kind;
	enum gf_class cls;
	int32_t pid;
	char comm[GF_COMM_LEN];
	int sig;            /* action: the signal written */
	int dry_run;        /* action: decided, not written */
	uint32_t path;      /* action: enum gf_path */
	char state;         /* action: the victim's state when signalled (ps's
			       letter), or 0 where not looked up (dry run) */
	enum gf_outcome outcome;
	int err;            /* result: why it failed (GF_E*), or GF_OK */
	double after_s;     /* result: since the first signal */
};

const char *gf_outcome_name(enum gf_outcome o);
void gf_report_detail(const struct gf_report *r, char *buf, size_t len);
void gf_policy_defaults(struct gf_policy *p);
GF_HD const char *gf_unsafe_target(const struct gf_task *t);
GF_HD int gf_protected(const char *patterns, const char *comm);
GF_HD int recover_step(const struct gf_policy *p, struct gf_recovery *rs,
		       const struct gf_kernel *k, const struct gf_verdict *v,
		       double now, struct gf_report *out, int max);

/* ---- Targets (target.c): where guest RAM comes from. ---- */
struct gf_target {
	char spec[256];
	char path[256];      /* the file mapped (vm:, dump:), else empty */
	int fd;
	uint8_t *map;
	uint64_t map_size;
	int writable;
	struct gf_mem mem;
	char error[512];     /* why target_open() failed */
	char read_only[320]; /* why a target asked for writing is not */
	char *vmcoreinfo;    /* the VMCOREINFO text it carries (kcore's note), or NULL */
};

int target_open(struct gf_target *t, const char *spec, int want_write);
/* vm:PATH[,machine=pc|q35][,lowmem=BYTES][,qmp=SOCKET][,vmstate=NODE] in
 * its parts: 0, or -1 with err. */
struct gf_vm_spec {
	char path[256];
	char machine[8];
	uint64_t lowmem;   /* 0: from the machine type */
	char qmp[108];     /* QEMU's QMP socket (snapshot.c), or empty */
	char vmstate[48];  /* the qcow2 node for device state, or empty */
};
int target_vm_spec(const char *spec, struct gf_vm_spec *vs, char *err,
		   size_t errlen);
void target_close(struct gf_target *t);
uint64_t target_ram_size(const struct gf_target *t);
int target_replaced(const struct gf_target *t);

/* ---- Kernel symbols (kallsyms.c): decoded from guest memory. ----
 * Only the names asked for (strings that outlive the table) are looked
 * up; symtab_count() is the kernel's whole count. */
#define KALLSYMS_MAX_WANTED 63
struct gf_symtab;
struct vmcoreinfo;
int kallsyms_load(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		  const char *const *names, uint32_t nnames,
		  struct gf_symtab **out, char *err, size_t errlen);
int symtab_lookup(const struct gf_symtab *s, const char *name, uint64_t *va);
uint32_t symtab_count(const struct gf_symtab *s);
struct gf_symtab *symtab_new(uint32_t count);
int symtab_add(struct gf_symtab *s, const char *name, uint64_t va);
void symtab_free(struct gf_symtab *s);

/* ---- VMCOREINFO (vmcoreinfo.c): the kernel's note about itself. ---- */
#define VMCOREINFO_MAX 4096

struct vmcoreinfo {
	char text[VMCOREINFO_MAX + 1];
	uint64_t phys; /* where it was found */
};

int vmcoreinfo_get(const struct vmcoreinfo *vi, const char *key, char *val,
		   size_t vallen);
int vmcoreinfo_hex(const struct vmcoreinfo *vi, const char *key,
		   uint64_t *out);
int vmcoreinfo_dec(const struct vmcoreinfo *vi, const char *key,
		   int64_t *out);
int vmcoreinfo_is_complete(const char *text, size_t len);
int vmcoreinfo_find(const struct gf_mem *m, struct vmcoreinfo *cands,
		    int max);

/* ---- Configuration (config.c), read with inih. ---- */
#define GF_MAX_PROFILE 64

struct gf_profile_entry {
	char key[64];
	uint64_t value;
};

struct gf_config {
	char target[256];   /* [target] default */
	int signal;         /* [kill] signal */
	char engine[8];     /* [engine] kind: auto, cpu or gpu */
	int gpu;            /* [engine] gpu: which GPU */
	struct gf_thresholds detect; /* [detect] */
	struct gf_policy recover;    /* [recover] */
	double interval_s;  /* [agent] interval_ms: one sample per target */
	char textfile[256]; /* [agent] textfile: metrics for node_exporter */
	double textfile_s;  /* [agent] textfile_ms: how often it is written */
	double metrics_s;   /* [agent] metrics_ms: a metrics event (0: none) */
	double host_stall_s; /* [agent] host_stall_ms: the GPU's word on a
				stalled host (0: never) */
	uint32_t max_tasks; /* [agent] max_tasks: processes a target may have */
	char events[256];   /* [agent] events: a file instead of stdout */
	uint32_t nprofile;  /* [profile] key = value, by hand */
	struct gf_profile_entry profile[GF_MAX_PROFILE];
	int no_cache;       /* --no-cache: no cached profile read or written */
};

void config_defaults(struct gf_config *c);
int config_load(struct gf_config *c, const char *path, char *err,
		size_t errlen);
int config_profile(const struct gf_config *c, const char *key,
		   uint64_t *value);
int config_override(struct gf_config *c, const char *engine, int gpu,
		    char *err, size_t errlen);

/* ---- Attaching (discover.c): from raw RAM to a usable gf_kernel. ---- */
struct gf_attach {
	struct gf_kernel k;
	struct gf_symtab *syms;
	char release[65];
	uint64_t kaslr_offset;
	int64_t phys_base;
	uint32_t ncpus;
	uint64_t ram_bytes;
	char layout_source[32]; /* "btf", "profile", "btf+profile" or
				   "profile-cache" */
	double attach_ms;
	char note[320];         /* why a cached profile was not used, or "" */
};

/* Where a boot put its kernel: what tells one boot's image from another's. */
struct gf_kernel_id {
	uint64_t kaslr_offset;
	int64_t phys_base;
};

int gf_attach(struct gf_attach *a, const struct gf_target *t,
	      const struct gf_config *cfg, char *err, size_t errlen);
int gf_attach_except(struct gf_attach *a, const struct gf_target *t,
		     const struct gf_config *cfg, const struct gf_kernel_id *skip,
		     char *err, size_t errlen);
void gf_detach(struct gf_attach *a);

/* ---- Profiles (profile.c): what discovery derived for one kernel build,
 * kept under its VMCOREINFO BUILD-ID in $GPUFAS_CACHE/profiles (default
 * ~/.cache/gpufas/profiles) and checked against memory before use. ---- */
#define GF_BUILD_ID_MAX 64   /* hex digits: SHA-1's 40, with room */
#define GF_PROFILE_FIELDS 128

struct gf_profile {
	char build_id[GF_BUILD_ID_MAX + 1];
	char release[65];
	uint32_t kallsyms; /* the kernel's symbol count */
	uint32_t nfields, nsyms;
	struct gf_profile_entry field[GF_PROFILE_FIELDS]; /* layout.c's names */
	struct gf_profile_entry sym[KALLSYMS_MAX_WANTED]; /* this boot's addresses */
};

int profile_dir(char *dir, size_t len);
int profile_load(const char *dir, const char *build_id, uint64_t stext,
		 struct gf_profile *p, char *err, size_t errlen);
int profile_save(const char *dir, const struct gf_profile *p, uint64_t stext,
		 char *err, size_t errlen);
int profile_fits(const struct gf_kernel *k, const char *release,
		 uint64_t linux_banner, char *why, size_t whylen);

/* ---- Layout (layout.c): struct offsets from BTF or by hand. ---- */
int layout_from_btf(struct gf_layout *l, const void *btf_data,
		    uint32_t size, char *err, size_t errlen);
int layout_from_profile(struct gf_layout *l, const struct gf_config *c,
			int complete, char *err, size_t errlen);
int layout_from_pairs(struct gf_layout *l, const struct gf_profile_entry *e,
		      uint32_t n, int complete, const char *what, char *err,
		      size_t errlen);
uint32_t layout_to_pairs(const struct gf_layout *l, struct gf_profile_entry *out,
			 uint32_t cap);

/* ---- Signals (signals.c): names and numbers. ---- */
int signal_parse(const char *s);
const char *signal_name(int sig);

/* ---- Output helpers (json.c). ---- */
void json_string(FILE *f, const char *s, size_t maxlen);
void json_task(FILE *f, const struct gf_task *t, const double *cpu_pct);

/* ---- The GPU engine, host side (gpu.c). ---- */
#define GF_MAX_TARGETS 64

struct gpu;
struct gf_loop_params;
struct gf_pub;
struct gf_board;
struct gf_keys;

/* A watch loop's remote mailbox in GPU memory, served by the GPU itself
 * (devbox.h): the keys it answers to, the file its handle is written to
 * ([remote] gpu_mailbox), and the agent's number for the target. */
struct gf_mailbox_opts {
	const struct gf_keys *keys;
	const char *path;
	int32_t target;
};

int gpu_open(struct gpu **g, int index, char *err, size_t errlen);
int gpu_add_target(struct gpu *g, const struct gf_target *t,
		   const struct gf_kernel *k, const struct gf_loop_params *lp,
		   const struct gf_mailbox_opts *mb, char *err, size_t errlen);
void gpu_remove_target(struct gpu *g, int slot);
int gpu_start(struct gpu *g, char *err, size_t errlen);
int gpu_post(struct gpu *g, int slot, uint32_t op, int32_t arg,
	     const struct gf_task *task);
int gpu_wait(struct gpu *g, int slot);
struct gf_pub *gpu_pub(struct gpu *g, int slot);
void gpu_host_beat(struct gpu *g, int slot);
int gpu_retune(struct gpu *g, int slot, const struct gf_loop_params *lp);
void gpu_board(struct gpu *g, int slot, const struct gf_board *b,
	       double clock_offset);
double gpu_clock_offset(const struct gpu *g);
int gpu_snapshot_result(struct gpu *g, int slot, struct gf_task **out,
			uint32_t *count);
int gpu_snapshot(struct gpu *g, int slot, int threads, struct gf_task **out,
		 uint32_t *count);
int gpu_find(struct gpu *g, int slot, int32_t pid, struct gf_task *t);
int gpu_signal(struct gpu *g, int slot, const struct gf_task *t, int sig,
	       int *result);
int gpu_counters(struct gpu *g, int slot, struct gf_sample *s);
int gpu_log_tail(struct gpu *g, int slot, uint32_t records, char *buf,
		 uint32_t cap, uint32_t *len);
const char *gpu_name(const struct gpu *g);
void gpu_close(struct gpu *g);
/* Page hashes of host memory (pagehash.h), for snapshots: a GPU opened
 * for a region of it, then hashing it (16 bytes a page into out) as often
 * as asked; gpu_close ends it. */
struct gf_pagehash_key;
int gpu_hash_open(struct gpu **g, int index, const void *ram, uint64_t npages,
		  char *err, size_t errlen);
int gpu_hash(struct gpu *g, const struct gf_pagehash_key *key, uint8_t (*out)[16],
	     char *err, size_t errlen);

/* ---- Engines (engine.c): where the shared logic runs, with retries. ----
 * The CPU engine calls introspect.c here; the GPU engine asks the monitor
 * kernel. Front ends see no difference. With loop parameters an engine
 * also runs the watch loop (loop.h): the CPU engine when engine_step()
 * is called, the GPU by itself; either publishes to `pub`. */
struct gf_engine {
	const struct gf_kernel *k; /* the CPU engine's view */
	struct gpu *gpu;           /* NULL: the CPU engine */
	int slot;
	char name[160];            /* "CPU" or "GPU 0 (NVIDIA H100...)" */
	struct gf_loop *loop;      /* the CPU engine's watch loop, or NULL */
	struct gf_pub *pub;        /* where the watch loop publishes, or NULL */
	double clock_offset;       /* wall-clock seconds minus the loop's clock */
};

struct gf_loop_event;
int engines_open(struct gf_engine *e, int n, const char *kind, int gpu_index,
		 const struct gf_target *t, const struct gf_attach *a,
		 const struct gf_loop_params *lp, const struct gf_mailbox_opts *mb,
		 char *msg, size_t msglen);
void engines_close(struct gf_engine *e, int n);
void engine_step(const struct gf_engine *e);
int engine_retune(const struct gf_engine *e, const struct gf_loop_params *lp);
void engine_board(const struct gf_engine *e, const struct gf_board *b);
int engine_read(const struct gf_engine *e, struct gf_pub *copy);
uint32_t engine_events(const struct gf_engine *e, uint64_t *next,
		       struct gf_loop_event *out, uint32_t max, uint64_t *lost);
int engine_snapshot(const struct gf_engine *e, int threads,
		    struct gf_task **out, uint32_t *count);
int engine_find(const struct gf_engine *e, int32_t pid, struct gf_task *t);
int engine_signal(const struct gf_engine *e, const struct gf_task *t, int sig,
		  int *result);
int engine_counters(const struct gf_engine *e, struct gf_sample *s);
int engine_log_tail(const struct gf_engine *e, uint32_t records, char *buf,
		    uint32_t cap, uint32_t *len);

/* ---- Watching a target (watch.c): attach, sample, detect, recover. ----
 * What happens is told through events, one callback per event. */
enum gf_event_kind {
	GF_EV_ATTACH,      /* attached (again): release, engine */
	GF_EV_UNAVAILABLE, /* cannot attach (yet): detail says why */
	GF_EV_DETACH,      /* lost the kernel: detail says why */
	GF_EV_VERDICT,     /* a detector found its fault */
	GF_EV_CLEAR,       /* ... and no longer does */
	GF_EV_ACTION,      /* a signal written */
	GF_EV_RESULT,      /* what became of it */
	GF_EV_METRICS,     /* the periodic metrics line */
	GF_EV_OPERATOR,    /* an operator's signal (dashboard, remote viewer):
			      report->pid, sig; detail: written, or why not */
	GF_EV_HOST_STALLED, /* the GPU saw no host heartbeat for stalled_s */
	GF_EV_HOST_RESUMED, /* ... and then one again, after stalled_s */
	GF_EV_LOST,        /* events the host fell too far behind to read:
			      count */
};

struct watch;

struct gf_event {
	enum gf_event_kind kind;
	const struct watch *w;
	double time;                      /* wall clock, when it happened */
	double stalled_s;                 /* host events */
	uint64_t count;                   /* lost */
	const struct gf_verdict *verdict; /* verdict, clear */
	const struct gf_report *report;   /* action, result, operator */
	const struct gf_rates *rates;     /* metrics */
	const char *detail; /* unavailable, detach: why; panic: the log tail */
};

typedef void (*gf_emit)(void *ctx, const struct gf_event *ev);

struct watch {
	char spec[256];
	const struct gf_config *cfg;
	int want_write;
	struct gf_target t;
	struct gf_attach a;
	struct gf_engine e;
	int opened, attached;
	double next_attach;   /* when to try attaching again */
	/* what the watch loop published, as of the last tick (NULL while
	 * detached), and the events read from it */
	struct gf_pub *pub;
	struct gf_loop_event *events; /* room for a ring's worth */
	uint64_t next_event;
	uint64_t last_steps;  /* the loop's heartbeat at the last tick */
	double steps_at;      /* when it last advanced */
	const struct gf_point *newest; /* pub's newest sample, or NULL */
	struct gf_point metrics_then;  /* the last metrics event's sample */
	double last_metrics;
	/* After a restart the stopped kernel's image stays in RAM beside the
	 * new one's: the one given up on is not attached to again for a
	 * while, and while ours is frozen another running one is looked for */
	struct gf_kernel_id lost, other;
	double lost_at;       /* 0: none lost */
	double frozen_since;  /* jiffies still since then, or 0 */
	double next_other_look;
	uint64_t other_jiffies, last_jiffies;
	int other_seen;
	char why[512];        /* the last reason given in an event */
	struct gf_mailbox_opts mailbox; /* keys NULL: no GPU mailbox */
	gf_emit emit;
	void *ctx;
};

void watch_init(struct watch *w, const char *spec, const struct gf_config *cfg,
		gf_emit emit, void *ctx);
void watch_tick(struct watch *w, double now);
void watch_retune(struct watch *w);
/* Lets go of the kernel for `why` (its memory is about to be rolled back),
 * to attach at the next tick to whatever kernel is there then: unlike a
 * kernel lost, the same one is not avoided. */
void watch_let_go(struct watch *w, const char *why);
void watch_close(struct watch *w);
const struct gf_verdict *watch_verdicts(const struct watch *w);
int loop_params_from(const struct gf_config *c, const char *spec,
		     struct gf_loop_params *p, char *err, size_t errlen);

/* ---- The board (board.c): what an operator is shown of one target. ----
 * Kept beside a watch (board_update each tick, board_note each event), or
 * decoded from a remote agent's answer: the dashboard and `--view` draw
 * from it alone. Fixed-size and pointer-free, so it can travel; the
 * processes travel separately (board_tasks). */
#define GF_BOARD_HISTORY 120 /* one point a second: two minutes */
#define GF_BOARD_EVENTS 32
#define GF_BOARD_LINE 160
#define GF_BOARD_LOG 4096

struct gf_board {
	char target[256];
	char release[65];
	char engine[160];
	char status[512];     /* why it is not attached, or empty */
	uint8_t attached, writable, has_metrics;
	uint8_t host_stalled; /* the GPU sees no heartbeat from the host */
	double sampled;       /* wall-clock time of the newest sample; 0: none */
	double uptime_s;      /* from jiffies, once hz is known */
	uint32_t hz;          /* the kernel's tick rate, as measured */
	uint32_t nprocs;
	struct gf_rates rates; /* over the last second */
	uint64_t mem_total_kib, mem_free_kib, mem_available_kib;
	uint64_t swap_total_kib, swap_free_kib;
	/* sparklines, oldest first */
	uint32_t nhistory;
	float hist_available_pct[GF_BOARD_HISTORY];
	float hist_pswpout[GF_BOARD_HISTORY]; /* pages a second */
	float hist_cpu_pct[GF_BOARD_HISTORY]; /* busy, mean over online CPUs */
	double last_history;
	struct gf_verdict verdict[GF_NCLASSES];
	/* what board_level() judges WARN by: the agent's thresholds, when
	 * each class last cleared (wall clock; 0: never) and the taint mask */
	struct gf_thresholds thresholds;
	double cleared[GF_NCLASSES];
	uint64_t tainted;
	/* the event log, oldest first once full: events[(first + i) % N] */
	uint32_t nevents, first_event;
	char events[GF_BOARD_EVENTS][GF_BOARD_LINE];
	char panic_log[GF_BOARD_LOG]; /* the kernel's last lines, after a panic */
};

/* One process as the board lists it. */
struct gf_board_task {
	struct gf_task t;
	float cpu_pct;   /* of one CPU, over the last second */
	uint8_t culprit; /* named by an active verdict */
};

void board_init(struct gf_board *b, const char *target);
void board_update(struct gf_board *b, const struct watch *w, double now);
void board_note(struct gf_board *b, const struct gf_event *ev);
int board_tasks(const struct watch *w, struct gf_board_task *out, uint32_t cap,
		uint32_t *count);
void board_sanitize(struct gf_board *b);

/* ---- The hub (hub.c): what the agent publishes, for its readers. ----
 * The agent's loop owns the watches; after each round it publishes every
 * target's board, processes and event counts here, and carries out the
 * signal requests queued here. Readers in other threads (the dashboard,
 * the remote server, the Prometheus endpoint and textfile) copy out under
 * the hub's lock and never touch a watch. */
struct hub;

/* What the agent counted of one target's events since it started, as it
 * wrote them (prom_count): Prometheus's counters. */
#define GF_NOUTCOMES (GF_REFUSED + 1)
struct gf_counts {
	uint64_t verdicts[GF_NCLASSES], actions[GF_NCLASSES];
	uint64_t results[GF_NCLASSES][GF_NOUTCOMES];
	uint64_t operator_signals[GF_NOUTCOMES];
};

struct hub *hub_new(int ntargets);
void hub_free(struct hub *h);
int hub_targets(const struct hub *h);
/* agent side */
void hub_publish(struct hub *h, int target, const struct gf_board *b,
		 const struct gf_counts *counts,
		 const struct gf_board_task *tasks, uint32_t ntasks);
void hub_round(struct hub *h, double seconds);
void hub_serve(struct hub *h, int target, struct watch *w);
/* reader side: copies, safe from any thread */
int hub_board(struct hub *h, int target, struct gf_board *out);
int hub_counts(struct hub *h, int target, struct gf_counts *out);
double hub_round_s(struct hub *h);
int hub_tasks(struct hub *h, int target, struct gf_board_task *out,
	      uint32_t cap, uint32_t *count);
/* Asks the agent's loop to signal pid (whose start_time the caller saw,
 * 0: any) and waits up to timeout_s for its answer: GF_OK, or a GF_E*
 * with why in msg. */
int hub_signal(struct hub *h, int target, int32_t pid, uint64_t start_time,
	       int sig, double timeout_s, char *msg, size_t msglen);

/* ---- What the dashboard draws from: a local agent's hub, or a remote
 * agent through --view. Every call copies and may be made at any time;
 * a source that cannot answer says why (GF_E*, and link() tells). ---- */
struct gf_source {
	void *ctx;
	int ntargets;
	int (*board)(void *ctx, int target, struct gf_board *out);
	int (*tasks)(void *ctx, int target, struct gf_board_task *out,
		     uint32_t cap, uint32_t *count);
	/* NULL where this session may not signal (a read-only key) */
	int (*signal)(void *ctx, int target, int32_t pid, uint64_t start_time,
		      int sig, char *msg, size_t msglen);
	/* the header's link: "local", or transport, state and heartbeat RTT */
	void (*link)(void *ctx, char *buf, size_t len);
};

void hub_source(struct hub *h, struct gf_source *src);

/* ---- Events as JSON lines (events.c) ---- */
void gf_event_json(FILE *f, const struct gf_event *ev);

/* ---- Front ends ---- */
int rescue_info(const struct gf_attach *a, const struct gf_engine *e,
		int json);
int rescue_ps(const struct gf_engine *e, int json, int threads);
int rescue_log(const struct gf_engine *e, uint32_t records);
int rescue_detect(const char *target, const struct gf_config *cfg, int json);
struct kill_opts {
	int32_t pid;
	int sig;
	int dry_run;
	int force;
};
#define GF_MAX_KILL 4096 /* pids in one --kill: four of the helper's batches */
int rescue_kill(const struct gf_engine *e, const struct gf_target *t,
		const struct kill_opts *o, const int32_t *pids, uint32_t n);
/* Signals the process kill(2) would for o->pid, after the refusals every
 * front end makes; start_time, when not 0, must still match (the process
 * the operator saw, not a successor with its pid). msg says what was
 * written, or why nothing was; read_only_why is the target's reason for
 * being read-only. */
int operator_signal(const struct gf_engine *e, const struct kill_opts *o,
		    uint64_t start_time, const char *read_only_why,
		    char *msg, size_t len);
/* One process of operator_signal_all(), and what became of it. */
struct op_signal {
	int32_t pid;
	uint64_t start_time; /* the process the operator saw, or 0: any */
	int err;             /* GF_OK once sent or written (or, with
				o->dry_run, allowed) */
	char msg[256];       /* what was done, or why nothing was */
};
/* operator_signal() for each of s[0..n) (o->pid unused), together: one
 * walk finds them, and the in-OS helper takes them in batches. */
void operator_signal_all(const struct gf_engine *e, const struct kill_opts *o,
			 const char *read_only_why, struct op_signal *s, uint32_t n);
struct agent_opts {
	const char *targets[GF_MAX_TARGETS];
	int ntargets;
	const char *config, *events, *engine;
	int gpu;       /* -1: from config.ini */
	int dashboard; /* the dashboard on this terminal, else headless */
	const struct gf_remote *remote; /* listeners and keys (view.c) */
};
int agent_run(const struct agent_opts *o, const struct gf_config *cfg);
/* The dashboard, until the operator quits or *stop is set. */
int tui_run(const struct gf_source *src, volatile sig_atomic_t *stop);

/* ---- The dashboard's side of the board (board.c, tui.c, terminfo.c) ---- */

/* How the detector board shows a class: FAULT while its verdict is
 * active; WARN while it is not but was within the last minute, or while
 * its first condition holds over the last second and the rest (its window,
 * its second condition) do not yet; else OK. */
enum gf_level { GF_LEVEL_OK, GF_LEVEL_WARN, GF_LEVEL_FAULT };

#define GF_WARN_AFTER_CLEAR_S 60.0

enum gf_level board_level(const struct gf_board *b, enum gf_class cls,
			  double wall_now, char *why, size_t len);

/* The terminal for newterm(): TERM as found here, else from the entries
 * built into the binary (see terminfo.c). 0, or -1 with why in msg. */
int terminfo_ensure(const char *term, char *msg, size_t len);
void terminfo_cleanup(void);
/* ---- Remote: the GRASS mailbox over TCP and RDMA (proto.c, auth.c,
 * tcp.c, rdma.c, view.c). See README.md, "Remote". ---- */
#define GF_PROTO_MAGIC 0x4d524647u /* "GFRM", little-endian */
#define GF_PROTO_VERSION 1
#define GF_KEY_BYTES 32
#define GF_NONCE_BYTES 32
#define GF_MAC_BYTES 32            /* keyed BLAKE2b (crypto_generichash) */
#define GF_MAX_PAYLOAD (16u << 20) /* any longer message is refused */
#define GF_MAX_LISTEN 8
#define GF_REMOTE_MSG 256          /* an error's text */

/* hub.c: the requests the agent's loop carries out for remote readers */
enum hub_job_kind { HUB_SIGNAL, HUB_LOG, HUB_DETECT };
#define HUB_LOG_MAX 16384

struct hub_job {
	enum hub_job_kind kind;
	int32_t pid;          /* signal */
	uint64_t start_time;
	int sig;
	uint32_t records;     /* log */
	enum gf_class cls;    /* detect */
	int result;           /* GF_OK or GF_E*, with why in msg */
	char msg[256];
	uint32_t loglen;
	char log[HUB_LOG_MAX];
	struct gf_verdict verdict;
};

int hub_request(struct hub *h, int target, struct hub_job *job,
		double timeout_s);
uint64_t hub_rounds(struct hub *h);

enum gf_msg_type {
	GF_MSG_CHALLENGE = 1, /* agent: its nonce (handshake, no MAC) */
	GF_MSG_PROOF,         /* viewer: its nonce; MAC with the shared key */
	GF_MSG_WELCOME,       /* agent: role and targets; session MAC */
	GF_MSG_HEARTBEAT,     /* the rest: session MAC, one sequence number */
	GF_MSG_SNAPSHOT,
	GF_MSG_PS,
	GF_MSG_LOG,
	GF_MSG_DETECT,
	GF_MSG_SIGNAL,
	GF_MSG_TYPES,
	GF_MSG_ANSWER = 0x8000, /* or'ed into an answer's type */
};

/* Every message: this header, then length bytes of payload. The MAC
 * covers the header (with mac zeroed) and the payload. */
struct gf_msg_hdr {
	uint32_t magic;
	uint16_t version, type;
	uint32_t board_size; /* sizeof(struct gf_board) of the sender's build */
	uint32_t length;     /* payload bytes */
	uint64_t seq;        /* the request's number; its answer repeats it */
	int32_t status;      /* answers: GF_OK, or GF_E* with text as payload */
	int32_t target;      /* requests: which of the agent's targets */
	uint8_t mac[GF_MAC_BYTES];
};

/* What msg_check_header() checks, for the GPU's mailbox server too
 * (devbox.c): GF_HDR_OK, or the first field that is wrong. */
enum { GF_HDR_OK, GF_HDR_MAGIC, GF_HDR_VERSION, GF_HDR_BOARD, GF_HDR_LENGTH };

GF_HD static inline int gf_msg_hdr_fault(const struct gf_msg_hdr *h)
{
	if (h->magic != GF_PROTO_MAGIC)
		return GF_HDR_MAGIC;
	if (h->version != GF_PROTO_VERSION)
		return GF_HDR_VERSION;
	if (h->board_size != sizeof(struct gf_board))
		return GF_HDR_BOARD;
	return h->length > GF_MAX_PAYLOAD ? GF_HDR_LENGTH : GF_HDR_OK;
}

/* A header as every sender fills it, mac zeroed. */
GF_HD static inline void gf_msg_hdr_init(struct gf_msg_hdr *h, uint16_t type,
					 uint64_t seq, int32_t target,
					 int32_t status, uint32_t length)
{
	memset(h, 0, sizeof *h);
	h->magic = GF_PROTO_MAGIC;
	h->version = GF_PROTO_VERSION;
	h->type = type;
	h->board_size = sizeof(struct gf_board);
	h->length = length;
	h->seq = seq;
	h->status = status;
	h->target = target;
}

/* A request's payload (every request type: one fixed size). */
struct gf_request {
	int32_t pid, sig;     /* signal */
	uint32_t arg;         /* log: records; detect: the class */
	uint32_t reserved;
	uint64_t start_time;  /* signal: the process seen, 0: any */
	uint64_t beat;        /* heartbeat: the viewer's counter, echoed */
};

struct gf_beat {
	uint64_t beat;   /* the request's, echoed */
	uint64_t rounds; /* the agent loop's rounds: stops if the loop hangs */
};

struct gf_welcome {
	uint32_t role; /* GF_ROLE_* */
	uint32_t ntargets;
};

struct gf_ps_head {
	uint32_t count, total; /* tasks that follow; the target has total */
};

enum { GF_ROLE_READ = 1, GF_ROLE_OPERATOR = 2 };

/* A growable message buffer: header, then payload. */
struct gf_buf {
	uint8_t *data;
	size_t len, cap;
};

/* One authenticated session: a key each way, derived from the pre-shared
 * key and both nonces, and the last sequence number. */
struct gf_session {
	uint8_t tx_key[GF_KEY_BYTES], rx_key[GF_KEY_BYTES];
	uint64_t seq;
	uint32_t role, ntargets;
};

struct gf_keys {
	uint8_t operator_key[GF_KEY_BYTES], read_key[GF_KEY_BYTES];
	int has_operator, has_read;
};

/* [remote] of config.ini, and the command line's say over it. */
struct gf_remote {
	char listen[GF_MAX_LISTEN][128];
	int nlisten;
	char key[256], read_key[256]; /* operator and read-only key files */
	char gpu_mailbox[256]; /* where the GPU engine tells its mailboxes'
				  handles (devbox.h), or empty: none */
	double heartbeat_s, timeout_s;
	int max_clients;
};

void remote_defaults(struct gf_remote *r);
int remote_needs_key(const struct gf_remote *r);
int remote_config_load(struct gf_remote *r, const char *path, char *err,
		       size_t errlen);

/* proto.c: messages, the mailbox, and answering a request */
int gf_buf_reserve(struct gf_buf *b, size_t len);
void gf_buf_free(struct gf_buf *b);
void *msg_start(struct gf_buf *b, uint16_t type, uint64_t seq, int32_t target,
		int32_t status, uint32_t length);
void msg_text(struct gf_buf *b, uint16_t type, uint64_t seq, int status,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int msg_check_header(const struct gf_msg_hdr *h, char *why, size_t len);
const char *msg_type_name(uint16_t type);
struct hub;
void proto_answer(struct hub *hub, const struct gf_session *s,
		  const struct gf_msg_hdr *req, const struct gf_request *body,
		  struct gf_buf *out);
int proto_answer_check(const struct gf_msg_hdr *h, uint16_t type,
		       uint32_t min, char *why, size_t len);

/* auth.c: keys, the handshake, MACs (libsodium) */
int auth_init(void);
int auth_key_load(const char *path, uint8_t key[GF_KEY_BYTES], char *err,
	     size_t errlen);
int auth_keys_load(struct gf_keys *k, const struct gf_remote *r, char *err,
	      size_t errlen);
void auth_keys_wipe(struct gf_keys *k);
void auth_challenge(struct gf_buf *out, uint8_t nonce[GF_NONCE_BYTES]);
void auth_proof(struct gf_buf *out, const uint8_t key[GF_KEY_BYTES],
		const uint8_t server_nonce[GF_NONCE_BYTES],
		struct gf_session *s);
int auth_accept(const struct gf_keys *k, uint8_t *msg, size_t len,
		const uint8_t server_nonce[GF_NONCE_BYTES],
		struct gf_session *s, char *why, size_t whylen);
void auth_seal(const struct gf_session *s, struct gf_buf *b);
int auth_open(struct gf_session *s, uint8_t *msg, size_t len,
	      int request, char *why, size_t whylen);
void auth_mailbox_keys(const uint8_t psk[GF_KEY_BYTES],
		       const uint8_t nonce[GF_NONCE_BYTES],
		       uint8_t request[GF_KEY_BYTES], uint8_t answer[GF_KEY_BYTES]);
void auth_nonce(uint8_t nonce[GF_NONCE_BYTES]);

/* One connection as a transport moves whole messages over it; the
 * sessions above see no other difference between TCP and RDMA. recv
 * waits up to timeout_s for a message to begin, then for the rest of it
 * within GF_MSG_S; it returns GF_OK, GF_EBUSY (nothing came), GF_EFAULT
 * (closed, reset, completion error) or GF_EINVAL (malformed, too long). */
#define GF_MSG_S 5.0
struct gf_io {
	int (*send)(void *ctx, const struct gf_buf *b);
	int (*recv)(void *ctx, struct gf_buf *b, uint32_t max, double timeout_s,
		    char *why, size_t whylen);
	void (*close)(void *ctx);
	void *ctx;
	char peer[96];
};

/* proto.c: the agent's server, shared by its transports */
struct gf_server;
struct gf_server *server_start(struct hub *hub, const struct gf_remote *r,
			       char *err, size_t errlen);
void server_stop(struct gf_server *srv);
int server_stopping(const struct gf_server *srv);
struct hub *server_hub(const struct gf_server *srv);
int server_add_listener(struct gf_server *srv, void *(*fn)(void *),
			void *arg, char *err, size_t errlen);
int server_admit(struct gf_server *srv, const char *peer);
void server_release(struct gf_server *srv);
void server_session(struct gf_server *srv, struct gf_io *io);
void remote_log(const char *peer, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* tcp.c's listener for another protocol (http.c): session runs each
 * admitted connection in a thread of its own, then closes fd and gives
 * its place back (server_release). */
typedef void (*tcp_session_fn)(struct gf_server *srv, int fd, const char *peer);
int tcp_serve(struct gf_server *srv, const char *addr, tcp_session_fn session,
	      char *err, size_t errlen);
int tcp_wait(int fd, short events, double deadline);
/* "HOST:PORT" or "[V6]:PORT" into getaddrinfo's results of that family
 * (AF_UNSPEC, or AF_INET where rdma_cm is only used over IPv4). */
struct addrinfo;
int tcp_resolve(const char *spec, int family, int passive,
		struct addrinfo **out, char *why, size_t whylen);
int tcp_send_all(int fd, const void *p, size_t len, double deadline);

/* rescue.c and events.c, shared with the viewer */
void rescue_ps_print(const struct gf_task *t, uint32_t n, int json);
void gf_verdict_text(const struct gf_verdict *v);
void gf_verdict_json(FILE *f, const struct gf_verdict *v, const char *log);

/* view.c: the viewer */
struct view_opts {
	const char *spec;
	const char *config;
	const char *key;
	enum { VIEW_DASHBOARD, VIEW_ONCE, VIEW_PS, VIEW_KILL, VIEW_LOG,
	       VIEW_DETECT, VIEW_HEARTBEAT, VIEW_RTT } action;
	int json, target, sig, count;
	int32_t pid;
	uint32_t log_records;
};
int view_run(const struct view_opts *o);

#endif
