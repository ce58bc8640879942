/* test/fuzz/btf_types.c — not built into gpufas: the seed of fuzz_btf.
 * clang -g -target bpf turns these kernel-shaped types into BTF, which
 * `make fuzz-seeds` extracts (.BTF). Every type layout.c looks for is
 * here, in 6.12's shape (mm_struct.rss_stat a percpu_counter array). */
typedef long long s64;
typedef int s32;
typedef unsigned long long u64;
typedef unsigned int u32;

struct list_head { struct list_head *next, *prev; };
struct thread_info { unsigned long flags; u32 status; };
struct sigpending { struct list_head list; struct { unsigned long sig[1]; } signal; };
struct sched_entity { u64 exec_start, sum_exec_runtime; };
struct percpu_counter { s64 count; struct list_head list; s32 *counters; };
struct mm_struct { void *mmap; struct percpu_counter rss_stat[4]; };
struct signal_struct {
	int sigcnt, live, nr_threads;
	struct list_head thread_head;
	struct sigpending shared_pending;
	int group_exit_code, group_stop_count;
	unsigned int flags;
	u64 sum_sched_runtime;
};
struct task_struct {
	struct thread_info thread_info;
	unsigned int __state;
	unsigned int flags;
	struct sched_entity se;
	struct list_head tasks;
	struct mm_struct *mm;
	int exit_state;
	int pid, tgid;
	struct task_struct *real_parent;
	struct list_head thread_node;
	u64 start_time;
	struct signal_struct *signal;
	struct { unsigned long sig[1]; } blocked;
	struct sigpending pending;
	char comm[16];
};
enum mm_counter { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES };
enum cpu_usage_stat {
	CPUTIME_USER, CPUTIME_NICE, CPUTIME_SYSTEM, CPUTIME_SOFTIRQ, CPUTIME_IRQ,
	CPUTIME_IDLE, CPUTIME_IOWAIT, CPUTIME_STEAL,
};
struct kernel_cpustat { u64 cpustat[10]; };
struct rq {
	unsigned int nr_running; u64 nr_switches; unsigned int nr_uninterruptible;
	int nr_iowait; struct task_struct *curr, *idle;
};
struct tick_sched { u64 idle_sleeptime, iowait_sleeptime; };
struct prb_data_blk_lpos { unsigned long begin, next; };
struct prb_desc { long state_var; struct prb_data_blk_lpos text_blk_lpos; };
struct printk_info { u64 seq, ts_nsec; unsigned short text_len; char pad[70]; };
struct prb_desc_ring {
	unsigned int count_bits; struct prb_desc *descs; struct printk_info *infos;
	long head_id, tail_id;
};
struct prb_data_ring { unsigned int size_bits; char *data; };
struct printk_ringbuffer {
	struct prb_desc_ring desc_ring; struct prb_data_ring text_data_ring;
};

struct task_struct task;
struct signal_struct signal;
struct mm_struct mm;
struct sigpending sigpending;
struct kernel_cpustat cpustat;
struct rq rq;
struct tick_sched ts;
struct printk_ringbuffer prb;
struct prb_desc desc;
struct printk_info info;
struct prb_data_blk_lpos lpos;
enum mm_counter mm_counter;
enum cpu_usage_stat cpu_usage_stat;
enum { PSWPIN, PSWPOUT, PGMAJFAULT } vm_event_item;
enum { NR_FREE_PAGES } zone_stat_item;
enum { NR_ACTIVE_FILE, NR_INACTIVE_FILE, NR_SLAB_RECLAIMABLE_B } node_stat_item;
