/* recover.c — acting on a verdict: signal the culprit, then watch it go.
 *
 * The rules a user of an OOM killer expects: one victim at a time (never
 * a second while the first is still exiting), at most one new victim per
 * cool-down, never pid 1, a kernel thread, our own process or a protected
 * name, and every decision reported. The culprit is looked up again by
 * pid and start time, so a pid reused since the verdict is never hit;
 * then the signal goes to the guest's in-OS helper where it has one
 * (which the kernel delivers, waking a sleeper), else it is written with
 * gf_send_signal(): also when the helper does not answer within
 * HELPER_WAIT_S, or answers anything but done. Never both at once: a
 * SIGKILL sent after a pseudo-signal is dropped (operator.c says why).
 * Part of the watch
 * loop (loop.c), so it runs on the CPU and on the GPU alike: no libc, no
 * clock; the loop turns the reports into events.
 */
#include <string.h>

#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "helper.h"
#include "kmod/gpufas_helper.h"
#include "recover.h"

#define SIGKILL 9
#define SIGTERM 15
#define FIND_ATTEMPTS 3 /* a list changing under the walk: look again */
#define HELPER_WAIT_S 0.2 /* the helper polls every 8 ms */

/* Why no automatic or unforced signal may go to this task, or NULL. */
GF_HD const char *gf_unsafe_target(const struct gf_task *t)
{
	if (t->tgid == 1)
		return "pid 1 is init; killing it panics the guest";
	if (t->kthread)
		return "it is a kernel thread";
	return NULL;
}

/* Does the glob pattern pat[0..len) match all of s? '*' matches any run
 * of characters, '?' any one; the rest stand for themselves. Iterative,
 * backtracking to the last '*' only: O(len * strlen(s)). */
GF_HD static int glob_match(const char *pat, uint32_t len, const char *s)
{
	uint32_t p = 0, star = len, resume = 0, i = 0;

	while (s[i]) {
		if (p < len && (pat[p] == '?' || pat[p] == s[i])) {
			p++, i++;
		} else if (p < len && pat[p] == '*') {
			star = p++;
			resume = i;
		} else if (star < len) {
			p = star + 1;
			i = ++resume;
		} else {
			return 0;
		}
	}
	while (p < len && pat[p] == '*')
		p++;
	return p == len;
}

/* Does comm match one of the patterns, separated by commas or spaces? */
GF_HD int gf_protected(const char *patterns, const char *comm)
{
	char name[GF_COMM_LEN];
	uint32_t i = 0;

	for (; i < GF_COMM_LEN - 1 && comm[i]; i++)
		name[i] = comm[i];
	name[i] = 0;
	for (const char *p = patterns; *p;) {
		uint32_t len = 0;
		while (*p == ',' || *p == ' ')
			p++;
		while (p[len] && p[len] != ',' && p[len] != ' ')
			len++;
		if (len && glob_match(p, len, name))
			return 1;
		p += len;
	}
	return 0;
}

GF_HD static struct gf_report *report(struct gf_report *out, int max, int *n,
				      enum gf_report_kind kind,
				      const struct gf_recovery *rs)
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
	r->path = rs->path;
	r->state = rs->state;
	return r;
}

GF_HD static void result(struct gf_report *out, int max, int *n,
			 struct gf_recovery *rs, enum gf_outcome outcome,
			 double now, int err)
{
	struct gf_report *r = report(out, max, n, GF_RESULT, rs);

	if (r) {
		r->outcome = outcome;
		r->err = err;
		r->after_s = now - rs->first_signal;
	}
	rs->active = 0;
}

GF_HD static int find(const struct gf_kernel *k, int32_t pid, struct gf_task *t)
{
	int err = GF_EFAULT;

	for (int i = 0; i < FIND_ATTEMPTS; i++)
		if ((err = gf_find_task(k, pid, t)) != GF_EFAULT && err != GF_ECORRUPT)
			break;
	return err;
}

/* Posts rs->sig to the helper, unless it failed this victim already;
 * else writes it. */
GF_HD static int deliver(const struct gf_kernel *k, struct gf_recovery *rs,
			 const struct gf_task *t)
{
	int ignored;

	if (k->helper && rs->path != GF_PATH_PSEUDO &&
	    !gf_helper_post(k, k->helper, t, 1, rs->sig, &rs->helper_seq)) {
		rs->path = GF_PATH_HELPER;
		rs->helper_pending = 1;
		return GF_OK;
	}
	rs->path = k->helper ? GF_PATH_PSEUDO : GF_PATH_PLAIN;
	return gf_send_signal(k, t, rs->sig, &ignored);
}

/* Signals the victim, looked up afresh; reports the action, or its
 * failure. */
GF_HD static void signal_victim(const struct gf_policy *p, struct gf_recovery *rs,
				const struct gf_kernel *k, double now,
				struct gf_report *out, int max, int *n)
{
	struct gf_task t;
	struct gf_report *r;
	int err;

	err = find(k, rs->pid, &t);
	if (!err && (t.tgid != rs->pid || t.start_time != rs->start_time))
		err = GF_ESTALE;
	rs->state = err ? 0 : t.state;
	if (!err && !p->dry_run)
		err = deliver(k, rs, &t);
	if (err) {
		result(out, max, n, rs, GF_FAILED, now, err);
		return;
	}
	if ((r = report(out, max, n, GF_ACTION, rs)))
		r->dry_run = p->dry_run;
	rs->last_signal = rs->last_action = now;
}

/* The helper's answer to the victim's request: 1 while it is awaited,
 * 0 once it said done; any other answer, or none in time, and the
 * pseudo-signal goes instead. */
GF_HD static int await_helper(const struct gf_policy *p, struct gf_recovery *rs,
			      const struct gf_kernel *k, double now,
			      struct gf_report *out, int max, int *n)
{
	int answer = gf_helper_answer(k, k->helper, rs->helper_seq);

	if (answer == GFH_NONE && now - rs->last_signal < HELPER_WAIT_S)
		return 1;
	rs->helper_pending = 0;
	if (answer == GFH_DONE)
		return 0;
	rs->path = GF_PATH_PSEUDO;
	signal_victim(p, rs, k, now, out, max, n);
	return 1;
}

/* Follows the victim: gone (exited, a zombie, or its pid reused), due
 * for SIGKILL after SIGTERM's grace, or given up on. */
GF_HD static void follow_victim(const struct gf_policy *p, struct gf_recovery *rs,
				const struct gf_kernel *k, double now,
				struct gf_report *out, int max, int *n)
{
	struct gf_task t;
	int err = find(k, rs->pid, &t);

	if (err == GF_ESRCH || (!err && (t.start_time != rs->start_time ||
					 t.state == 'Z' || t.state == 'X'))) {
		result(out, max, n, rs, GF_EXITED, now, GF_OK);
	} else if (rs->helper_pending && await_helper(p, rs, k, now, out, max, n)) {
		return;
	} else if (rs->sig == SIGTERM && now - rs->last_signal >= p->grace_s) {
		rs->sig = SIGKILL;
		signal_victim(p, rs, k, now, out, max, n);
	} else if (now - rs->last_signal >= p->exit_timeout_s) {
		result(out, max, n, rs, GF_STILL_RUNNING, now, err);
	}
}

/* The first culprit of an active verdict that may be signalled. */
GF_HD static const struct gf_culprit *choose(const struct gf_policy *p,
					     const struct gf_verdict *v)
{
	for (uint32_t i = 0; i < v->nculprits; i++) {
		const struct gf_culprit *c = &v->culprit[i];
		struct gf_task t;
		memset(&t, 0, sizeof t);
		t.tgid = c->pid;
		t.kthread = c->kthread;
		if (gf_unsafe_target(&t) || c->pid == p->self_pid ||
		    gf_protected(p->protect, c->comm))
			continue;
		return c;
	}
	return NULL;
}

GF_HD static enum gf_response response_to(const struct gf_policy *p,
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
 * sample, at time `now` (seconds, the runner's clock). Fills out[] with
 * what it did; returns how many. */
GF_HD_OUTLINE int recover_step(const struct gf_policy *p, struct gf_recovery *rs,
		       const struct gf_kernel *k, const struct gf_verdict *v,
		       double now, struct gf_report *out, int max)
{
	int n = 0;

	if (rs->active) {
		follow_victim(p, rs, k, now, out, max, &n);
		return n;
	}
	if (rs->last_action && now - rs->last_action < p->cooldown_s)
		return 0;
	for (int i = 0; i < GF_NCLASSES; i++) {
		enum gf_class cls = (enum gf_class)i;
		enum gf_response response = response_to(p, cls);
		const struct gf_culprit *c;

		if (!v[cls].active || response == GF_REPORT || !(c = choose(p, &v[cls])))
			continue;
		memset(rs, 0, sizeof *rs);
		rs->active = !p->dry_run;
		rs->cls = cls;
		rs->pid = c->pid;
		rs->start_time = c->start_time;
		rs->sig = response == GF_KILL ? SIGKILL : SIGTERM;
		rs->first_signal = now;
		memcpy(rs->comm, c->comm, GF_COMM_LEN);
		signal_victim(p, rs, k, now, out, max, &n);
		rs->last_action = now;
		return n;
	}
	return n;
}
