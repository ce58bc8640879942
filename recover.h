/* recover.h — acting on a verdict (recover.c): the policy, the state of
 * one recovery, and the reports of what was done. Device-safe, like
 * core.h.
 */
#ifndef GPUFAS_RECOVER_H
#define GPUFAS_RECOVER_H

#include "core.h"
#include "detect.h"

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

#endif
