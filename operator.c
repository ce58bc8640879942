/* operator.c — an operator's signal (--kill, the dashboard, a remote
 * viewer): the refusals every front end makes, the in-OS helper where the
 * guest has one, else the write through the engine, and a sentence saying
 * which path delivered, or why nothing was written.
 */
#include <string.h>

#include "gpufas.h"
#include "helper.h"

#define SIGKILL 9
#define SIGCONT 18

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

/* Through the guest's in-OS helper (kmod/gpufas_helper.c), first: once a
 * pseudo-signal has marked the group exiting, the kernel takes it for one
 * already dying and drops a SIGKILL sent after it without waking anyone
 * (seen on Debian's 5.10, 6.1 and 6.12; in 6.x prepare_signal() drops any
 * signal to a group marked SIGNAL_GROUP_EXIT), and a catchable signal
 * already pending in the shared set is dropped too (legacy_queue()), so
 * the helper must go before the pseudo-signal, not after it. 1 when the
 * helper answered: msg and *err say what it did. 0 when the pseudo-signal
 * must go: no helper, or one that did not answer (note says so). */
static int by_helper(const struct gf_engine *e, const struct gf_task *t,
		     int sig, char *msg, size_t len, char *note, size_t notelen,
		     int *err)
{
	struct gf_helper h;
	int answer, rc;

	if (gf_helper_find(e->k, &h))
		return 0;
	if ((rc = gf_helper_signal(e->k, &h, t, sig, &answer))) {
		snprintf(note, notelen, " (the in-OS helper could not be posted to: %s)",
			 gf_strerror(rc));
		return 0;
	}
	if (answer == GF_HELPER_SILENT) {
		snprintf(note, notelen, " (the in-OS helper gave no answer in %u ms)",
			 gf_helper_wait_ms(&h));
		return 0;
	}
	if (answer == GF_HELPER_DONE) {
		snprintf(msg, len, "SIG%s sent to %d (%.16s) by the guest kernel, "
			 "through the in-OS helper: it wakes a sleeping process",
			 signal_name(sig), t->tgid, t->comm);
		*err = GF_OK;
	} else {
		snprintf(msg, len, "the in-OS helper: %s for %d (%.16s); nothing "
			 "written", gf_helper_answer_name(answer), t->tgid, t->comm);
		*err = answer == GF_HELPER_REFUSED ? GF_EINVAL
		       : answer == GF_HELPER_CHANGED ? GF_ESTALE : GF_ESRCH;
	}
	return 1;
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
	char buf[128], note[128] = "";
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
	if (by_helper(e, &t, o->sig, msg, len, note, sizeof note, &err))
		return err;
	if ((err = engine_signal(e, &t, o->sig, &result))) {
		snprintf(msg, len, "signal %d (%.16s): %s%s", t.tgid, t.comm,
			 gf_strerror(err), note);
		return err;
	}
	tell_written(&t, o->sig, result, msg, len);
	snprintf(msg + strlen(msg), len - strlen(msg), "%s", note);
	return GF_OK;
}
