/* monitor.h — what the GPU monitor (kernels.cu) and its host side (gpu.c)
 * share: a mailbox per target, and the slot that says where everything
 * of that target is in device address space.
 */
#ifndef GPUFAS_MONITOR_H
#define GPUFAS_MONITOR_H

#include "devbox.h"

/* The mailbox, one per target (GRASS's layout). The requester fills
 * op/arg/task (or params), then sets write_done to a new request number;
 * the monitor answers in status/count/result/found (and the task array),
 * then sets read_permit to that number. Lives in pinned host memory
 * mapped into the GPU, as does host_beat, which the host advances while
 * it runs and the watch loop watches. */
enum gf_op {
	GF_OP_SNAPSHOT = 1, /* arg: threads; answer: count tasks in data */
	GF_OP_FIND,         /* arg: pid; answer: found */
	GF_OP_SIGNAL,       /* arg: signal, task: the process; answer: result */
	GF_OP_COUNTERS,     /* answer: a struct gf_sample in data */
	GF_OP_LOG,          /* arg: records; answer: count bytes of text in data */
	GF_OP_CLOCK,        /* answer: the GPU's clock in clock_ns */
	GF_OP_RETUNE,       /* params: the watch loop's new thresholds, policy */
	GF_OP_QUIT,
};

struct gf_box {
	uint32_t write_done;
	uint32_t op;
	int32_t arg;
	struct gf_task task;
	struct gf_loop_params params;
	uint32_t read_permit;
	int32_t status;
	uint32_t count;
	int32_t result;
	struct gf_task found;
	uint64_t clock_ns;
	uint64_t host_beat;
};

/* The monitor's block: its threads spread the task walks (gang.h). */
#define GF_MONITOR_THREADS 128

struct gf_walk;

/* One target as the monitor kernel sees it (device pointers only). `walk`
 * is the snapshots' walk state, in device memory. With
 * a watch loop, `loop` is its arena in device memory and `pub` where it
 * publishes, in pinned host memory; without, both are NULL. With a remote
 * mailbox (devbox.h), `devbox` is the exported allocation, `devstate` its
 * server's layout and keys (device memory, not exported) and `board` the
 * host's board template (pinned host memory); else all three are NULL. */
struct gf_slot {
	struct gf_kernel k;
	struct gf_box *box;
	struct gf_task *data;
	uint32_t cap;
	struct gf_walk *walk;
	struct gf_loop *loop;
	struct gf_pub *pub;
	uint8_t *devbox;
	struct gf_devbox_state *devstate;
	const struct gf_devbox_board *board;
};

#endif
