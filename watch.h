/* watch.h — one target under watch, from the host (watch.c), and the
 * events it tells.
 */
#ifndef GPUFAS_WATCH_H
#define GPUFAS_WATCH_H

#include "detect.h"
#include "discover.h"
#include "engine.h"
#include "gpu.h"
#include "recover.h"
#include "target.h"

/* What happens is told through events, one callback per event. */
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
	struct gf_attachment a;
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

#endif
