/* core.h — the device-safe core: guest memory, the kernel's layout, a
 * task, and the calls that read them (introspect.c, metrics.c). Compiled
 * for the CPU and, through kernels.cu, for the GPU: plain data only, no
 * host pointer but the RAM bases in struct gf_mem (which the GPU engine
 * swaps for device pointers) and gf_mem's host-only read hook, never
 * followed on the GPU.
 */
#ifndef GPUFAS_CORE_H
#define GPUFAS_CORE_H

#include "gpufas.h"

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
/* The most tasks a kernel can have: PID_MAX_LIMIT on 64-bit
 * (include/linux/threads.h, 4 Mi), the bound of every walk and table of
 * tasks (introspect.c, engine.c, the agent's max_tasks). */
#define GF_MAX_TASKS (1u << 22)

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

#endif
