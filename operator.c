/* operator.c — an operator's signal (--kill, the dashboard, a remote
 * viewer): the refusals every front end makes, the in-OS helper where the
 * guest has one, else the write through the engine, and a sentence saying
 * which path delivered, or why nothing was written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "engine.h"
#include "gpufas.h"
#include "helper.h"
#include "kmod/gpufas_helper.h"
#include "operator.h"
#include "recover.h"
#include "signals.h"

#define SIGKILL 9
#define SIGCONT 18

/* Why we will not signal this task, or NULL. */
static const char *refusal(const struct gf_task *t, const struct kill_opts *o,
			   char *buf, size_t len)
{
	const char *unsafe = gf_unsafe_target(t);

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

/* One process of a batch, while it is signalled. */
struct victim {
	struct gf_task t;
	int pending; /* found and allowed: to be sent */
};

/* Finds each process kill(2) would signal, with one walk where there are
 * many; a pid that is no process's id (a thread's, or one born since) is
 * looked up on its own. */
static void find_all(const struct gf_engine *e, const struct op_signal *s,
		     struct victim *v, int *err, uint32_t n)
{
	struct gf_task *all = NULL;
	uint32_t count = 0;

	if (n > 1 && engine_snapshot(e, 0, &all, &count))
		count = 0;
	for (uint32_t i = 0; i < n; i++) {
		err[i] = GF_ESRCH;
		for (uint32_t j = 0; j < count && err[i]; j++)
			if (all[j].tgid == s[i].pid) {
				v[i].t = all[j];
				err[i] = GF_OK;
			}
		if (err[i])
			err[i] = engine_find(e, s[i].pid, &v[i].t);
	}
	free(all);
}

/* What the refusals every front end makes leave of s: v->pending, or
 * s->msg and s->err say why not. */
static void admit(const struct gf_engine *e, const struct kill_opts *o,
		  const char *read_only_why, struct op_signal *s, struct victim *v,
		  int err)
{
	const struct gf_task *t = &v->t;
	const char *why;
	char buf[128];

	s->err = err;
	if (err)
		snprintf(s->msg, sizeof s->msg, "pid %d: %s", s->pid, gf_strerror(err));
	else if (s->start_time && t->start_time != s->start_time)
		snprintf(s->msg, sizeof s->msg, "pid %d: now another process (%.16s); "
			 "nothing written", s->pid, t->comm), s->err = GF_ESTALE;
	else if ((why = refusal(t, o, buf, sizeof buf)))
		snprintf(s->msg, sizeof s->msg, "refusing to signal %d (%.16s): %s",
			 t->tgid, t->comm, why), s->err = GF_EREFUSED;
	else if (o->dry_run)
		snprintf(s->msg, sizeof s->msg, "would send SIG%s to %d (%.16s, %d "
			 "threads)", signal_name(o->sig), t->tgid, t->comm, t->threads);
	else if (!e->k->writable)
		snprintf(s->msg, sizeof s->msg, "target is read-only (%s); nothing "
			 "written", read_only_why[0] ? read_only_why
						     : "opened for reading only"),
			s->err = GF_EREFUSED;
	else
		v->pending = 1;
}

/* What the helper answered for one victim, in s. */
static void tell_answer(struct op_signal *s, const struct gf_task *t, int sig,
			int answer)
{
	if (answer == GF_HELPER_DONE) {
		snprintf(s->msg, sizeof s->msg, "SIG%s sent to %d (%.16s) by the guest "
			 "kernel, through the in-OS helper: it wakes a sleeping process",
			 signal_name(sig), t->tgid, t->comm);
		s->err = GF_OK;
		return;
	}
	snprintf(s->msg, sizeof s->msg, "the in-OS helper: %s for %d (%.16s); "
		 "nothing written", gf_helper_answer_name(answer), t->tgid, t->comm);
	s->err = answer == GF_HELPER_REFUSED ? GF_EREFUSED
		 : answer == GF_HELPER_CHANGED ? GF_ESTALE : GF_ESRCH;
}

/* Through the guest's in-OS helper (kmod/gpufas_helper.c), first: once a
 * pseudo-signal has marked the group exiting, the kernel takes it for one
 * already dying and drops a SIGKILL sent after it without waking anyone
 * (seen on Debian's 5.10, 6.1 and 6.12; in 6.x prepare_signal() drops any
 * signal to a group marked SIGNAL_GROUP_EXIT), and a catchable signal
 * already pending in the shared set is dropped too (legacy_queue()), so
 * the helper must go before the pseudo-signal, not after it. The pending
 * victims go as batches of GFH_SLOTS; those the helper answered are no
 * longer pending. Where there is no helper, or it did not answer, they
 * stay pending for the pseudo-signal, and note says why. */
static void by_helper(const struct gf_engine *e, int sig, struct op_signal *s,
		      struct victim *v, uint32_t n, char *note, size_t notelen)
{
	uint32_t most = n < GFH_SLOTS ? n : GFH_SLOTS;
	struct gf_task *batch = malloc(most * sizeof *batch);
	uint32_t *index = malloc(most * sizeof *index);
	int32_t answers[GFH_SLOTS];
	struct gf_helper h;
	int rc, silent = 0;

	if (!batch || !index || gf_helper_find(e->k, &h))
		goto out;
	for (uint32_t i = 0; i < n && !silent;) {
		uint32_t m = 0;
		for (; i < n && m < most; i++)
			if (v[i].pending) {
				batch[m] = v[i].t;
				index[m++] = i;
			}
		if (!m)
			break;
		if ((rc = gf_helper_signal(e->k, &h, batch, m, sig, answers))) {
			snprintf(note, notelen, " (the in-OS helper could not be "
				 "posted to: %s)", gf_strerror(rc));
			goto out;
		}
		for (uint32_t j = 0; j < m; j++) {
			if (answers[j] == GF_HELPER_SILENT) {
				snprintf(note, notelen, " (the in-OS helper gave no "
					 "answer in %u ms)", gf_helper_wait_ms(&h));
				silent = 1;
				continue;
			}
			tell_answer(&s[index[j]], &batch[j], sig, answers[j]);
			v[index[j]].pending = 0;
		}
	}
out:
	free(batch);
	free(index);
}

/* The pseudo-signal, written through the engine. */
static void by_write(const struct gf_engine *e, int sig, struct op_signal *s,
		     const struct gf_task *t, const char *note)
{
	int result;

	if ((s->err = engine_signal(e, t, sig, &result))) {
		snprintf(s->msg, sizeof s->msg, "signal %d (%.16s): %s%s", t->tgid,
			 t->comm, gf_strerror(s->err), note);
		return;
	}
	tell_written(t, sig, result, s->msg, sizeof s->msg);
	snprintf(s->msg + strlen(s->msg), sizeof s->msg - strlen(s->msg), "%s", note);
}

void operator_signal_all(const struct gf_engine *e, const struct kill_opts *o,
			 const char *read_only_why, struct op_signal *s, uint32_t n)
{
	struct victim *v = calloc(n ? n : 1, sizeof *v);
	int *err = calloc(n ? n : 1, sizeof *err);
	char note[128] = "";

	if (!v || !err) {
		for (uint32_t i = 0; i < n; i++) {
			s[i].err = GF_ENOMEM;
			snprintf(s[i].msg, sizeof s[i].msg, "pid %d: out of memory", s[i].pid);
		}
		goto out;
	}
	find_all(e, s, v, err, n);
	for (uint32_t i = 0; i < n; i++)
		admit(e, o, read_only_why, &s[i], &v[i], err[i]);
	by_helper(e, o->sig, s, v, n, note, sizeof note);
	for (uint32_t i = 0; i < n; i++)
		if (v[i].pending)
			by_write(e, o->sig, &s[i], &v[i].t, note);
out:
	free(v);
	free(err);
}

int operator_signal(const struct gf_engine *e, const struct kill_opts *o,
		    uint64_t start_time, const char *read_only_why,
		    char *msg, size_t len)
{
	struct op_signal s = { .pid = o->pid, .start_time = start_time };

	operator_signal_all(e, o, read_only_why, &s, 1);
	snprintf(msg, len, "%s", s.msg);
	return s.err;
}
