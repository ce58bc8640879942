/* recover.c — acting on a verdict: pseudo-signal the culprit, then watch
 * it go.
 *
 * The rules a user of an OOM killer expects: one victim at a time (never
 * a second while the first is still exiting), at most one new victim per
 * cool-down, never pid 1, a kernel thread, our own process or a protected
 * name, and every decision reported. The signal is written by the engine
 * (gf_send_signal), after the culprit is looked up again by pid and start
 * time, so a pid reused since the verdict is never hit. No I/O here: the
 * caller logs the reports.
 */
#include <fnmatch.h>
#include <string.h>

#include "gpufas.h"

#define SIGKILL 9
#define SIGTERM 15
#define SIGCONT 18

void policy_defaults(struct gf_policy *p)
{
	*p = (struct gf_policy){
		.memory = GF_KILL,
		.cpu_overload = GF_REPORT,
		.grace_s = 2,
		.cooldown_s = 5,
		.exit_timeout_s = 10,
	};
}

/* Why no automatic or unforced signal may go to this task, or NULL. */
const char *unsafe_target(const struct gf_task *t)
{
	if (t->tgid == 1)
		return "pid 1 is init; killing it panics the guest";
	if (t->kthread)
		return "it is a kernel thread";
	return NULL;
}

/* Does comm match one of the comma-separated patterns? */
static int protected_name(const char *patterns, const char *comm)
{
	char buf[sizeof ((struct gf_policy *)0)->protect], *save = NULL, *pat;

	strcpy(buf, patterns);
	for (pat = strtok_r(buf, ", ", &save); pat; pat = strtok_r(NULL, ", ", &save))
		if (!fnmatch(pat, comm, 0))
			return 1;
	return 0;
}

static struct gf_report *report(struct gf_report *out, int max, int *n,
				enum gf_report_kind kind, const struct gf_recovery *rs)
{
	struct gf_report *r;

	if (*n >= max)
		return NULL;
	r = &out[(*n)++];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->cls = rs->cls;
	r->pid = rs->pid;
	memcpy(r->comm, rs->comm, GF_COMM_LEN);
	r->sig = rs->sig;
	return r;
}

static void result(struct gf_report *out, int max, int *n,
		   struct gf_recovery *rs, const char *outcome, double now,
		   const char *detail)
{
	struct gf_report *r = report(out, max, n, GF_RESULT, rs);

	if (r) {
		r->outcome = outcome;
		r->after_s = now - rs->first_signal;
		snprintf(r->detail, sizeof r->detail, "%s", detail);
	}
	rs->active = 0;
}

/* Writes rs->sig into the victim, looked up afresh; reports the action,
 * or its failure. */
static int signal_victim(const struct gf_policy *p, struct gf_recovery *rs,
			 const struct gf_engine *e, double now,
			 struct gf_report *out, int max, int *n)
{
	struct gf_task t;
	struct gf_report *r;
	int err, ignored;

	err = engine_find(e, rs->pid, &t);
	if (!err && (t.tgid != rs->pid || t.start_time != rs->start_time))
		err = GF_ESTALE;
	if (!err && !p->dry_run)
		err = engine_signal(e, &t, rs->sig, &ignored);
	if (err) {
		result(out, max, n, rs, "failed", now, gf_strerror(err));
		return -1;
	}
	if ((r = report(out, max, n, GF_ACTION, rs)))
		r->dry_run = p->dry_run;
	rs->last_signal = rs->last_action = now;
	return 0;
}

/* Follows the victim: gone (exited, a zombie, or its pid reused), due
 * for SIGKILL after SIGTERM's grace, or given up on. */
static void follow_victim(const struct gf_policy *p, struct gf_recovery *rs,
			  const struct gf_engine *e, double now,
			  struct gf_report *out, int max, int *n)
{
	struct gf_task t;
	int err = engine_find(e, rs->pid, &t);

	if (err == GF_ESRCH || (!err && (t.start_time != rs->start_time ||
					 t.state == 'Z' || t.state == 'X'))) {
		result(out, max, n, rs, "exited", now, "");
	} else if (rs->sig == SIGTERM && now - rs->last_signal >= p->grace_s) {
		rs->sig = SIGKILL;
		signal_victim(p, rs, e, now, out, max, n);
	} else if (now - rs->last_signal >= p->exit_timeout_s) {
		result(out, max, n, rs, "still running", now,
		       err ? gf_strerror(err) : "not gone after the exit timeout");
	}
}

/* The first culprit of an active verdict that may be signalled. */
static const struct gf_culprit *choose(const struct gf_policy *p,
				       const struct gf_verdict *v)
{
	for (uint32_t i = 0; i < v->nculprits; i++) {
		const struct gf_culprit *c = &v->culprit[i];
		struct gf_task t = { .tgid = c->pid, .kthread = c->kthread };
		if (unsafe_target(&t) || c->pid == p->self_pid ||
		    protected_name(p->protect, c->comm))
			continue;
		return c;
	}
	return NULL;
}

static enum gf_response response_to(const struct gf_policy *p,
				    enum gf_class cls)
{
	switch (cls) {
	case GF_MEMORY:
	case GF_THRASHING:    return p->memory;
	case GF_CPU_OVERLOAD: return p->cpu_overload;
	default:              return GF_REPORT; /* system-wide faults */
	}
}

/* One step of recovery against the verdicts v[GF_NCLASSES] of one
 * sample, at monotonic time `now`. Fills out[] with what it did; returns
 * how many. */
int recover_step(const struct gf_policy *p, struct gf_recovery *rs,
		 const struct gf_engine *e, const struct gf_verdict *v,
		 double now, struct gf_report *out, int max)
{
	int n = 0;

	if (rs->active) {
		follow_victim(p, rs, e, now, out, max, &n);
		return n;
	}
	if (rs->last_action && now - rs->last_action < p->cooldown_s)
		return 0;
	for (int cls = 0; cls < GF_NCLASSES; cls++) {
		enum gf_response response = response_to(p, cls);
		const struct gf_culprit *c;

		if (!v[cls].active || response == GF_REPORT || !(c = choose(p, &v[cls])))
			continue;
		*rs = (struct gf_recovery){
			.active = !p->dry_run, .cls = cls, .pid = c->pid,
			.start_time = c->start_time,
			.sig = response == GF_KILL ? SIGKILL : SIGTERM,
			.first_signal = now,
		};
		memcpy(rs->comm, c->comm, GF_COMM_LEN);
		signal_victim(p, rs, e, now, out, max, &n);
		rs->last_action = now;
		return n;
	}
	return n;
}

/* ---- An operator's signal (--kill, the dashboard, a remote viewer) ---- */

/* Why we will not signal this task, or NULL. */
static const char *refusal(const struct gf_task *t, const struct kill_opts *o,
			   char *buf, size_t len)
{
	const char *unsafe = unsafe_target(t);

	if (o->sig == SIGCONT)
		return "SIGCONT must wake stopped threads, which a memory write "
		       "cannot do";
	if (o->force || !unsafe)
		return NULL;
	snprintf(buf, len, "%s (--force to insist)", unsafe);
	return buf;
}

static void tell_written(const struct gf_task *t, int sig, int result,
			 char *msg, size_t len)
{
	if (sig == SIGKILL)
		snprintf(msg, len, "SIGKILL marked in %d (%.16s): %d threads; the "
			 "guest kernel ends them at their next return to user mode",
			 t->tgid, t->comm, result);
	else if (result)
		snprintf(msg, len, "SIG%s pending for %d (%.16s), signalled to "
			 "thread %d", signal_name(sig), t->tgid, t->comm, result);
	else
		snprintf(msg, len, "SIG%s pending for %d (%.16s); every thread "
			 "blocks it", signal_name(sig), t->tgid, t->comm);
}

/* Signals the process kill(2) would for o->pid, after the refusals every
 * front end makes; start_time, when not 0, must still match (the process
 * the operator saw, not a successor with its pid). msg says what was
 * written, or why nothing was; read_only_why is the target's reason for
 * being read-only. */
int operator_signal(const struct gf_engine *e, const struct kill_opts *o,
		    uint64_t start_time, const char *read_only_why,
		    char *msg, size_t len)
{
	struct gf_task t;
	const char *why;
	char buf[128];
	int err, result;

	if ((err = engine_find(e, o->pid, &t))) {
		snprintf(msg, len, "pid %d: %s", o->pid, gf_strerror(err));
		return err;
	}
	if (start_time && t.start_time != start_time) {
		snprintf(msg, len, "pid %d: now another process (%.16s); nothing "
			 "written", o->pid, t.comm);
		return GF_ESTALE;
	}
	if ((why = refusal(&t, o, buf, sizeof buf))) {
		snprintf(msg, len, "refusing to signal %d (%.16s): %s", t.tgid,
			 t.comm, why);
		return GF_EINVAL;
	}
	if (o->dry_run) {
		snprintf(msg, len, "would send SIG%s to %d (%.16s, %d threads)",
			 signal_name(o->sig), t.tgid, t.comm, t.threads);
		return GF_OK;
	}
	if (!e->k->writable) {
		snprintf(msg, len, "target is read-only (%s); nothing written",
			 read_only_why[0] ? read_only_why : "opened for reading only");
		return GF_EINVAL;
	}
	if ((err = engine_signal(e, &t, o->sig, &result))) {
		snprintf(msg, len, "signal %d (%.16s): %s", t.tgid, t.comm,
			 gf_strerror(err));
		return err;
	}
	tell_written(&t, o->sig, result, msg, len);
	return GF_OK;
}
