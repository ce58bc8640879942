/* gpufas.h — the types every part of gpufas shares.
 *
 * The introspection logic (introspect.c) is compiled twice: by gcc for the
 * CPU engine and by nvcc, through kernels.cu, for the GPU engine. Everything
 * it touches is therefore plain old data with no host pointers but the RAM
 * bases in struct gf_mem, which the GPU engine swaps for device pointers.
 */
#ifndef GPUFAS_H
#define GPUFAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __CUDACC__
#define GF_HD __host__ __device__
#else
#define GF_HD
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
};
const char *gf_strerror(int err);

/* ---- Guest physical memory: a table of RAM ranges mapped into us. ---- */
#define GF_MAX_RANGES 64

struct gf_range {
	uint64_t phys; /* guest-physical start */
	uint64_t size;
	uint8_t *base; /* where that start is mapped (host or device pointer) */
};

struct gf_mem {
	uint32_t nranges;
	struct gf_range range[GF_MAX_RANGES];
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
};

/* Everything the shared logic needs, flat, so it can be copied to a GPU. */
struct gf_kernel {
	struct gf_mem mem;
	struct gf_layout lay;
	uint32_t writable; /* the target was opened for writing */
};

/* ---- One task as gpufas reports it. ---- */
#define GF_COMM_LEN 16

struct gf_task {
	uint64_t addr;       /* task_struct's kernel virtual address */
	uint64_t start_time; /* ns since boot; identifies the task with pid */
	uint64_t cpu_ns;     /* user + system time consumed */
	uint64_t rss_pages;
	int32_t pid, tgid, ppid;
	int32_t threads;
	uint8_t kthread;
	char state;          /* as ps shows it: R S D T t X Z P I */
	char comm[GF_COMM_LEN];
};

/* ---- The GPU monitor's mailbox, one per target (GRASS's layout). ----
 * The requester fills op/arg/task, then sets write_done to a new request
 * number; the monitor answers in status/count/result/found (and the task
 * array), then sets read_permit to that number. Lives in pinned host
 * memory mapped into the GPU. */
enum gf_op {
	GF_OP_SNAPSHOT = 1, /* arg: threads; answer: count tasks in data */
	GF_OP_FIND,         /* arg: pid; answer: found */
	GF_OP_SIGNAL,       /* arg: signal, task: the process; answer: result */
	GF_OP_QUIT,
};

struct gf_box {
	uint32_t write_done;
	uint32_t op;
	int32_t arg;
	struct gf_task task;
	uint32_t read_permit;
	int32_t status;
	uint32_t count;
	int32_t result;
	struct gf_task found;
};

/* One target as the monitor kernel sees it (device pointers only). */
struct gf_slot {
	struct gf_kernel k;
	struct gf_box *box;
	struct gf_task *data;
	uint32_t cap;
};

/* ---- Shared introspection (introspect.c): CPU and GPU engines. ---- */
GF_HD int gf_phys_read(const struct gf_mem *m, uint64_t pa, void *dst,
		       uint32_t len);
GF_HD int gf_virt_to_phys(const struct gf_kernel *k, uint64_t va,
			  uint64_t *pa);
GF_HD int gf_read(const struct gf_kernel *k, uint64_t va, void *dst,
		  uint32_t len);
GF_HD int gf_walk_tasks(const struct gf_kernel *k, int threads,
			struct gf_task *out, uint32_t cap, uint32_t *count);
GF_HD int gf_find_task(const struct gf_kernel *k, int32_t pid,
		       struct gf_task *out);
GF_HD int gf_send_signal(const struct gf_kernel *k, const struct gf_task *t,
			 int sig, int *delivered_to);

/* ---- Targets (target.c): where guest RAM comes from. ---- */
struct gf_target {
	char spec[256];
	int fd;
	uint8_t *map;
	uint64_t map_size;
	int writable;
	struct gf_mem mem;
	char error[512];     /* why target_open() failed */
	char read_only[320]; /* why a target asked for writing is not */
};

int target_open(struct gf_target *t, const char *spec, int want_write);
void target_close(struct gf_target *t);
uint64_t target_ram_size(const struct gf_target *t);

/* ---- Kernel symbols (kallsyms.c): decoded from guest memory. ---- */
struct gf_symtab;
struct vmcoreinfo;
int kallsyms_load(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		  struct gf_symtab **out, char *err, size_t errlen);
int symtab_lookup(const struct gf_symtab *s, const char *name, uint64_t *va);
uint32_t symtab_count(const struct gf_symtab *s);
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
	uint32_t nprofile;  /* [profile] key = value, by hand */
	struct gf_profile_entry profile[GF_MAX_PROFILE];
};

void config_defaults(struct gf_config *c);
int config_load(struct gf_config *c, const char *path, char *err,
		size_t errlen);
int config_profile(const struct gf_config *c, const char *key,
		   uint64_t *value);

/* ---- Attaching (discover.c): from raw RAM to a usable gf_kernel. ---- */
struct gf_attach {
	struct gf_kernel k;
	struct gf_symtab *syms;
	char release[65];
	uint64_t kaslr_offset;
	int64_t phys_base;
	uint32_t ncpus;
	uint64_t ram_bytes;
	char layout_source[32]; /* "btf", "profile" or "btf+profile" */
	double attach_ms;
};

int gf_attach(struct gf_attach *a, const struct gf_target *t,
	      const struct gf_config *cfg, char *err, size_t errlen);
void gf_detach(struct gf_attach *a);

/* ---- Layout (layout.c): struct offsets from BTF or by hand. ---- */
int layout_from_btf(struct gf_layout *l, const void *btf_data,
		    uint32_t size, char *err, size_t errlen);
int layout_from_profile(struct gf_layout *l, const struct gf_config *c,
			int complete, char *err, size_t errlen);

/* ---- Signals (signals.c): names and numbers. ---- */
int signal_parse(const char *s);
const char *signal_name(int sig);

/* ---- Output helpers (json.c). ---- */
void json_string(FILE *f, const char *s, size_t maxlen);

/* ---- The GPU engine, host side (gpu.c). ---- */
#define GF_MAX_TARGETS 64

struct gpu;
int gpu_open(struct gpu **g, int index, char *err, size_t errlen);
int gpu_add_target(struct gpu *g, const struct gf_target *t,
		   const struct gf_kernel *k, char *err, size_t errlen);
int gpu_start(struct gpu *g, char *err, size_t errlen);
int gpu_post(struct gpu *g, int slot, uint32_t op, int32_t arg,
	     const struct gf_task *task);
int gpu_wait(struct gpu *g, int slot);
int gpu_snapshot_result(struct gpu *g, int slot, struct gf_task **out,
			uint32_t *count);
int gpu_snapshot(struct gpu *g, int slot, int threads, struct gf_task **out,
		 uint32_t *count);
int gpu_find(struct gpu *g, int slot, int32_t pid, struct gf_task *t);
int gpu_signal(struct gpu *g, int slot, const struct gf_task *t, int sig,
	       int *result);
const char *gpu_name(const struct gpu *g);
int gpu_host_atomics(const struct gpu *g);
void gpu_close(struct gpu *g);

/* ---- Engines (engine.c): where the shared logic runs, with retries. ----
 * The CPU engine calls introspect.c here; the GPU engine asks the monitor
 * kernel. Front ends see no difference. */
struct gf_engine {
	const struct gf_kernel *k; /* the CPU engine's view */
	struct gpu *gpu;           /* NULL: the CPU engine */
	int slot;
	char name[160];            /* "CPU" or "GPU 0 (NVIDIA H100...)" */
};

int engines_open(struct gf_engine *e, int n, const char *kind, int gpu_index,
		 const struct gf_target *t, const struct gf_attach *a,
		 char *msg, size_t msglen);
void engines_close(struct gf_engine *e, int n);
int engine_snapshot(const struct gf_engine *e, int threads,
		    struct gf_task **out, uint32_t *count);
int engine_find(const struct gf_engine *e, int32_t pid, struct gf_task *t);
int engine_signal(const struct gf_engine *e, const struct gf_task *t, int sig,
		  int *result);

/* ---- Front ends ---- */
int rescue_info(const struct gf_attach *a, const struct gf_engine *e,
		int json);
int rescue_ps(const struct gf_engine *e, int json, int threads);
struct kill_opts {
	int32_t pid;
	int sig;
	int dry_run;
	int force;
};
int rescue_kill(const struct gf_engine *e, const struct gf_target *t,
		const struct kill_opts *o);
int tui_run(const char *spec, const char *engine, int gpu,
	    const struct gf_config *cfg, double interval);

#endif
