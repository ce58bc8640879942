/* loop.h — the watch loop, one implementation for both processors.
 *
 * One step per sample: the kernel's counters and processes read from
 * guest memory, every detector, the recovery decision and its
 * pseudo-signal, and what an operator is shown, published for the host.
 * gcc builds it for the CPU engine, whose agent thread steps it;
 * kernels.cu includes it, and the GPU monitor steps it on the GPU's own
 * clock, needing neither the CPU nor the OS of the host while it runs.
 *
 * Its state is fixed in size and holds no pointers: one arena (struct
 * gf_loop and the tables after it, sized from struct gf_loop_params),
 * owned by whichever processor steps it, and one struct gf_pub, which the
 * host reads while the runner writes it (see "Publishing" below).
 */
#ifndef GPUFAS_LOOP_H
#define GPUFAS_LOOP_H

#include "core.h"
#include "detect.h"
#include "recover.h"

struct gf_board_task;

#define GF_MAX_AGES 4      /* distinct ages the detectors look back to */
#define GF_CHECKPOINTS 3   /* process tables kept for each age */
#define GF_HISTORY_MAX 1024 /* counter samples one loop keeps */
#define GF_EVENT_RING 256  /* events the host may fall behind by */
#define GF_PANIC_LOG 16384 /* the kernel's last lines after a panic */
#define GF_LOOP_LOG (64u << 10) /* log text read at one look */
#define GF_BOARD_RATE_S 1.0 /* the board's rates and CPU %: over this span */

/* What a loop is told at start and on reload. */
struct gf_loop_params {
	struct gf_thresholds th;
	struct gf_policy policy;
	double interval_s;
	double host_stall_s;  /* no host heartbeat for this long: an event
				 (0: the host is not watched, the CPU engine) */
	uint32_t task_cap;    /* processes one sample holds */
	uint32_t history_cap; /* counter samples: the longest window, and some */
	uint32_t nages;       /* the ages the detectors read processes at */
	double age[GF_MAX_AGES];
};

/* A process as a checkpoint keeps it: what the culprits are ranked by. */
struct gf_mark {
	uint64_t start_time, cpu_ns, pages; /* pages: resident + swapped */
	int32_t tgid;
	uint32_t unused;
};

/* The processes as they were at `time`, found by tgid and start time
 * through an open-addressed index of index_cap (a power of two) slots,
 * each a mark's position + 1, or 0. */
struct gf_past {
	double time;
	const struct gf_mark *mark;
	const uint32_t *index;
	uint32_t count, index_cap;
	uint8_t complete; /* every process was read: one missing here is new */
};

/* What the process-level detectors rank: the processes now, and every
 * checkpoint there is, of which gf_procs_back() picks one. */
struct gf_procs {
	const struct gf_task *task;
	uint32_t ntasks;
	double time;
	struct gf_past past[GF_MAX_AGES * GF_CHECKPOINTS];
	uint32_t npast;
};

/* Everything gf_detect() reads, and where it may compute (a struct gf_rates
 * is 12 KB: too big for a GPU thread's stack). */
struct gf_judge {
	const struct gf_thresholds *th;
	const struct gf_history *h;
	const struct gf_procs *procs; /* NULL: counters only */
	int atomic_sleep;
	struct gf_rates *scratch;
};

/* Where a tgid's search starts in an index of cap slots (Knuth's
 * multiplicative hash). */
GF_HD static inline uint32_t gf_tgid_slot(int32_t tgid, uint32_t cap)
{
	return ((uint32_t)tgid * 2654435761u) & (cap - 1);
}

GF_HD void gf_checkpoint_fill(struct gf_mark *m, uint32_t *index,
			      uint32_t index_cap, const struct gf_task *t,
			      uint32_t n);
GF_HD const struct gf_past *gf_procs_back(const struct gf_procs *p,
				       double seconds);
GF_HD const struct gf_mark *gf_past_find(const struct gf_past *p, int32_t tgid,
				      uint64_t start_time);
GF_HD int gf_detect(const struct gf_judge *j, enum gf_class cls,
		 struct gf_verdict *v);

/* ---- Events: what the runner tells the host, in order. ---- */
enum gf_loop_event_kind {
	GF_LE_VERDICT, GF_LE_CLEAR, GF_LE_ACTION, GF_LE_RESULT,
	GF_LE_HOST_STALLED, GF_LE_HOST_RESUMED,
	GF_LE_OPERATOR, /* a remote operator's signal through the GPU mailbox */
};

struct gf_loop_event {
	uint64_t seq;  /* its number; while being written, ~0 */
	double time;   /* the runner's clock */
	uint32_t kind;
	double stalled_s; /* host events: how long no heartbeat came */
	struct gf_verdict verdict; /* verdict, clear */
	struct gf_report report;   /* action, result, operator */
};

/* Why a loop stopped: it no longer reads a live kernel. */
enum gf_loss {
	GF_LOSS_NONE,
	GF_LOSS_COUNTERS, /* reads kept failing (lost_err says how) */
	GF_LOSS_RESTART,  /* jiffies went back: the kernel restarted */
};

/* ---- Publishing: the runner's state as the host reads it. ----
 * The runner makes gen odd, writes, and makes it even; a reader copies
 * between two equal even looks at gen (gf_pub_read). Events go to a ring
 * of their own: each entry is written, then its seq, then ev_head; a
 * reader that fell more than GF_EVENT_RING behind counts what it lost. */
struct gf_pub {
	uint64_t gen;
	uint64_t steps;        /* the runner's heartbeat */
	uint32_t loss;         /* enum gf_loss */
	int32_t lost_err;
	uint32_t host_stalled;
	uint32_t ntasks, task_cap;
	int32_t tasks_err;     /* the newest walk's error: GF_OK or GF_E* */
	double clock;          /* the runner's clock at its newest step */
	struct gf_point newest;
	struct gf_rates rates; /* over GF_BOARD_RATE_S or more */
	struct gf_verdict v[GF_NCLASSES];
	char panic_log[GF_PANIC_LOG];
	uint64_t tasks_off;    /* struct gf_board_task[task_cap] there */
	uint64_t ev_head;      /* events written: the next one's seq */
	struct gf_loop_event ev[GF_EVENT_RING];
};

/* ---- The loop's state (an arena: this struct, then its tables). ---- */
struct gf_checkpoint {
	double time;
	uint32_t count;
	uint8_t valid, complete;
};

struct gf_loop {
	struct gf_loop_params p;
	uint64_t size; /* of the whole arena */
	uint64_t points_off, tasks_off, marks_off, index_off, log_off, rates_off;
	uint64_t walk_off; /* the walk's chunk (introspect.h) */
	uint32_t index_cap;
	uint32_t hcount, hnext; /* the counter history ring */
	uint32_t ntasks;
	int32_t tasks_err;
	struct gf_checkpoint cp[GF_MAX_AGES][GF_CHECKPOINTS];
	uint32_t cp_next[GF_MAX_AGES];
	struct gf_verdict v[GF_NCLASSES];
	struct gf_verdict probe; /* scratch: would F5 hold? */
	int atomic_sleep;
	double last_log_look;
	struct gf_recovery rec;
	double failing_since;
	uint32_t loss;
	int32_t lost_err;
	uint64_t host_beat;
	double host_beat_at;
	int host_stalled;
	int panic_pending;    /* a panic verdict: its log goes out this step */
	uint64_t ev_written;  /* events made visible */
	uint32_t ev_pending;  /* events of this step, visible at its end */
	uint64_t steps;
	int walking; /* rank 0 to the gang: this step walks */
};

GF_HD uint64_t gf_loop_size(const struct gf_loop_params *p);
GF_HD uint64_t gf_pub_size(const struct gf_loop_params *p);
/* Lays out a fresh arena of gf_loop_size(p) bytes (only its header is
 * written) and a pub of gf_pub_size(p) bytes. */
GF_HD void gf_loop_init(struct gf_loop *l, const struct gf_loop_params *p);
GF_HD void gf_pub_init(struct gf_pub *pub, const struct gf_loop_params *p);
/* New thresholds and policy, for a reload: windows that the tables were
 * not sized for are refused by the caller first (gf_loop_fits). */
GF_HD void gf_loop_retune(struct gf_loop *l, const struct gf_loop_params *p);
GF_HD int gf_loop_fits(const struct gf_loop_params *have,
		       const struct gf_loop_params *want);
/* One step at the runner's clock `now` (seconds); host_beat is the host's
 * heartbeat counter (ignored without p.host_stall_s). Does nothing once
 * the loop lost its kernel. Every rank of the gang (gang.h) calls it: the
 * task walk is spread over them, all else is rank 0's. */
GF_HD void gf_loop_step(struct gf_loop *l, struct gf_pub *pub,
			const struct gf_kernel *k, double now,
			uint64_t host_beat);

GF_HD struct gf_board_task *gf_pub_tasks(struct gf_pub *pub);
/* An operator's signal made between steps (devbox.c): an event at once,
 * so that every write to a guest is in the host's log. */
GF_HD void gf_loop_operator(struct gf_loop *l, struct gf_pub *pub,
			    const struct gf_report *r, double now);

#endif
