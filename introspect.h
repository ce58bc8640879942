/* introspect.h — the reading primitives that introspect.c (tasks and
 * signals) and metrics.c (counters and the kernel log) share. Both files
 * are compiled for the CPU and, included by kernels.cu, for the GPU.
 */
#ifndef GPUFAS_INTROSPECT_H
#define GPUFAS_INTROSPECT_H

#include "core.h"

#define TLB_ENTRIES 8

/* One walk's view of the kernel: the kernel plus its last page
 * translations. Lives on the stack for one call. */
struct reader {
	const struct gf_kernel *k;
	struct {
		uint64_t tag, pa;
		uint32_t shift; /* 0: empty */
	} tlb[TLB_ENTRIES];
	uint32_t next;
};

/* Reads memory that another party changes under us (the guest's RAM, a
 * mailbox): volatile, in the widest aligned units. */
GF_HD void gf_copy_volatile(void *dst, const volatile uint8_t *src, uint32_t len);
GF_HD struct reader *gf_reader_init(struct reader *r, const struct gf_kernel *k);
GF_HD int gf_read_mem(struct reader *r, uint64_t va, void *dst, uint32_t len);
GF_HD int gf_read_u64(struct reader *r, uint64_t va, uint64_t *v);
GF_HD int gf_read_u32(struct reader *r, uint64_t va, uint32_t *v);

/* ---- The task walk, spread over a gang (gang.h) ----
 * The walk is a chain of dependent reads only along the lists: rank 0
 * chases the next pointers of a chunk of hops, then every rank gathers
 * the fields of its share of them (the back links checked there, as
 * CONFIG_DEBUG_LIST does), and rank 0 folds the chunk into the result in
 * list order, so that the first error met is the one a serial walk meets.
 * From a GPU each read is a PCIe round trip: the chase costs one a task,
 * the gather a dozen, spread over the block. */
#define GF_WALK_CHUNK 256

enum gf_hop_kind {
	GF_HOP_PROCESS,     /* a thread-group leader, on init_task's list */
	GF_HOP_THREAD,      /* a thread of the last process, leader included */
	GF_HOP_THREADS_END, /* back at the head of that process's thread list */
	GF_HOP_END,         /* back at init_task: the walk is complete */
};

struct gf_hop {
	uint64_t node;   /* the list node the hop reached */
	uint64_t prev;   /* the node it came from: node->prev must be it */
	uint64_t signal; /* PROCESS: its signal_struct */
	int32_t process; /* THREAD: its PROCESS hop in this chunk, or -1 */
	uint32_t out;    /* its record: THREAD (threads), THREADS_END (not) */
	int32_t err;     /* of the gather */
	uint32_t kind;
};

struct gf_walk {
	/* the request */
	const struct gf_kernel *k;
	struct gf_task *out;
	uint32_t cap;
	int threads;
	/* the chase (rank 0's) */
	struct reader r;
	uint64_t process_node, thread_node, thread_head;
	uint32_t processes_seen, threads_seen, assigned, hops;
	int32_t process;  /* the current process's hop in this chunk, or -1 */
	int in_threads, chased_all;
	int32_t chase_err; /* met after the chunk's last hop */
	/* the chunk */
	uint32_t n;
	struct gf_hop hop[GF_WALK_CHUNK];
	struct gf_task rec[GF_WALK_CHUNK];
	/* the fold */
	struct gf_task leader; /* the process of the chunk's first hops */
	uint64_t cpu_ns;       /* its threads' time so far */
	uint32_t count;
	int32_t rc;
	int done;
};

/* Every rank of the gang calls it, with the same arguments; `w` is
 * memory every rank sees. */
GF_HD int gf_walk_gang(const struct gf_kernel *k, int threads,
		       struct gf_task *out, uint32_t cap, uint32_t *count,
		       struct gf_walk *w);

#endif
