/* watch.c — one target under watch, from the host.
 *
 * The host attaches (again after a reboot: KASLR moves everything) and
 * hands the kernel to an engine with a watch loop (loop.c), which samples,
 * judges and recovers: the CPU engine when this watch ticks, the GPU by
 * itself. At each tick the watch reads the loop's events and publication
 * and tells what happened through events of its own. The headless agent,
 * --detect and the dashboard all drive their targets through here, so
 * they see the same verdicts.
 *
 * A kernel is given up on (and looked for again) when its RAM file is
 * replaced, when the loop says it restarted in place (jiffies ran back)
 * or its counters stopped reading true, when the loop itself stops, or
 * when another kernel runs in the same RAM while ours is frozen: a guest
 * rebooting or shutting down goes through these, a live guest through
 * none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "discover.h"
#include "engine.h"
#include "gpufas.h"
#include "helper.h"
#include "loop.h"
#include "recover.h"
#include "signals.h"
#include "target.h"
#include "watch.h"

#define ATTACH_RETRY_S 1.0
#define LOST_MEMORY_S 60.0 /* how long a lost kernel's image is avoided */
#define FROZEN_S 2.0       /* jiffies still this long: look for another kernel */
#define OTHER_LOOK_S 2.0
#define LOOP_STALL_S 5.0   /* a loop whose steps stand still this long died */

void watch_init(struct watch *w, const char *spec, const struct gf_config *cfg,
		gf_emit emit, void *ctx)
{
	memset(w, 0, sizeof *w);
	snprintf(w->spec, sizeof w->spec, "%s", spec);
	w->cfg = cfg;
	w->emit = emit;
	w->ctx = ctx;
	w->t.fd = -1;
}

static void emit(struct watch *w, enum gf_event_kind kind, const char *detail)
{
	struct gf_event ev = { .kind = kind, .w = w, .time = gf_now_wall(),
			       .detail = detail };

	w->emit(w->ctx, &ev);
}

/* Recovery writes only when a policy may act. */
static int needs_write(const struct gf_policy *p)
{
	return !p->dry_run && (p->memory != GF_REPORT || p->cpu_overload != GF_REPORT);
}

static void release(struct watch *w)
{
	if (w->attached) {
		engines_close(&w->e, 1);
		gf_detach(&w->a);
	}
	if (w->opened)
		target_close(&w->t);
	free(w->pub);
	free(w->events);
	w->pub = NULL;
	w->events = NULL;
	w->newest = NULL;
	w->attached = w->opened = 0;
	w->frozen_since = 0;
	w->other_seen = 0;
}

/* Says why the target cannot be attached, once per reason. */
/* The attach event names the in-OS helper where the guest has one; a
 * guest without it attaches as before. */
static void note_helper(const struct gf_kernel *k, char *msg, size_t len)
{
	char helper[160];
	size_t n = strlen(msg);

	if (!gf_helper_describe(k, helper, sizeof helper))
		snprintf(msg + n, len - n, "%s%s", n ? "; " : "", helper);
}

static void unavailable(struct watch *w, const char *why, double now)
{
	if (strcmp(w->why, why)) {
		snprintf(w->why, sizeof w->why, "%s", why);
		emit(w, GF_EV_UNAVAILABLE, why);
	}
	release(w);
	w->next_attach = now + ATTACH_RETRY_S;
}

/* The kernel given up on: not to be taken for the next one. */
static void remember_lost(struct watch *w, double now)
{
	if (!w->attached)
		return;
	w->lost = (struct gf_kernel_id){ w->a.kaslr_offset, w->a.phys_base };
	w->lost_at = now;
}

/* Detaches for why and tries again after ATTACH_RETRY_S; with avoid, the
 * kernel is the one at fault and is not taken again for LOST_MEMORY_S. */
static void detach(struct watch *w, const char *why, double now, int avoid)
{
	snprintf(w->why, sizeof w->why, "%s", why);
	emit(w, GF_EV_DETACH, why);
	if (avoid)
		remember_lost(w, now);
	release(w);
	w->next_attach = now + ATTACH_RETRY_S;
}

static void lose(struct watch *w, const char *why, double now)
{
	detach(w, why, now, 1);
}

static void try_attach(struct watch *w, double now)
{
	struct gf_loop_params lp;
	char msg[512];

	if (target_open(&w->t, w->spec, w->want_write || needs_write(&w->cfg->recover))) {
		unavailable(w, w->t.error, now);
		return;
	}
	w->opened = 1;
	if (gf_attach_except(&w->a, &w->t, w->cfg,
			     w->lost_at && now - w->lost_at < LOST_MEMORY_S ? &w->lost : NULL,
			     msg, sizeof msg)) {
		unavailable(w, msg, now);
		return;
	}
	msg[0] = 0;
	if (loop_params_from(w->cfg, w->spec, &lp, msg, sizeof msg) ||
	    !(w->pub = calloc(1, gf_pub_size(&lp))) ||
	    !(w->events = calloc(GF_EVENT_RING, sizeof *w->events)) ||
	    engines_open(&w->e, 1, w->cfg->engine, w->cfg->gpu, &w->t, &w->a, &lp,
			 w->mailbox.keys ? &w->mailbox : NULL, msg, sizeof msg)) {
		if (!msg[0])
			snprintf(msg, sizeof msg, "out of memory");
		gf_detach(&w->a);
		unavailable(w, msg, now);
		return;
	}
	gf_pub_init(w->pub, &lp);
	if (w->a.note[0]) /* a cached profile not used: why, beside the engine's */
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s",
			 msg[0] ? "; " : "", w->a.note);
	note_helper(&w->a.k, msg, sizeof msg);
	w->attached = 1;
	w->why[0] = 0;
	w->next_event = w->last_steps = 0;
	w->steps_at = w->last_metrics = now;
	w->metrics_then.time = 0;
	emit(w, GF_EV_ATTACH, msg[0] ? msg : NULL);
}

/* Ours frozen and another kernel's clock running in the same RAM: the
 * guest was reset and booted again, leaving our kernel's image whole (no
 * firmware clears RAM). Looked for every OTHER_LOOK_S while ours is
 * frozen; a hung kernel beside an older boot's image is no restart, as
 * that image's clock is still too. 1 when the kernel was given up. */
static int restarted(struct watch *w, double now)
{
	struct gf_kernel_id ours = { w->a.kaslr_offset, w->a.phys_base };
	struct gf_attachment *other;
	uint64_t jiffies;
	char err[256];
	int ticking = 0;

	if (!w->frozen_since || now - w->frozen_since < FROZEN_S ||
	    now < w->next_other_look || !(other = malloc(sizeof *other)))
		return 0;
	w->next_other_look = now + OTHER_LOOK_S;
	if (!gf_attach_except(other, &w->t, w->cfg, &ours, err, sizeof err)) {
		if (other->k.lay.has_metrics &&
		    !gf_read(&other->k, other->k.lay.jiffies, &jiffies, sizeof jiffies)) {
			ticking = w->other_seen && jiffies != w->other_jiffies &&
				  other->kaslr_offset == w->other.kaslr_offset &&
				  other->phys_base == w->other.phys_base;
			w->other = (struct gf_kernel_id){ other->kaslr_offset, other->phys_base };
			w->other_jiffies = jiffies;
			w->other_seen = 1;
		}
		gf_detach(other);
	}
	free(other);
	if (ticking)
		lose(w, "another kernel runs in this RAM (the guest restarted)", now);
	return ticking;
}

/* Has the kernel's clock stood still since the last look? */
static void follow_jiffies(struct watch *w, double now)
{
	uint64_t jiffies = w->newest->s.jiffies;

	if (jiffies != w->last_jiffies)
		w->frozen_since = w->other_seen = 0;
	else if (!w->frozen_since)
		w->frozen_since = now;
	w->last_jiffies = jiffies;
}

/* One event of the loop's, told as ours: its time on our wall clock, and
 * a panic with the kernel's last lines (published before the event). */
static void tell(struct watch *w, const struct gf_loop_event *le)
{
	static const enum gf_event_kind kinds[] = {
		[GF_LE_VERDICT] = GF_EV_VERDICT, [GF_LE_CLEAR] = GF_EV_CLEAR,
		[GF_LE_ACTION] = GF_EV_ACTION, [GF_LE_RESULT] = GF_EV_RESULT,
		[GF_LE_HOST_STALLED] = GF_EV_HOST_STALLED,
		[GF_LE_HOST_RESUMED] = GF_EV_HOST_RESUMED,
		[GF_LE_OPERATOR] = GF_EV_OPERATOR,
	};
	struct gf_event ev = { .w = w, .time = le->time + w->e.clock_offset,
			       .stalled_s = le->stalled_s };
	char detail[160];

	if (le->kind >= sizeof kinds / sizeof *kinds)
		return;
	ev.kind = kinds[le->kind];
	ev.verdict = &le->verdict;
	ev.report = &le->report;
	if (ev.kind == GF_EV_VERDICT && le->verdict.cls == GF_PANIC)
		ev.detail = w->pub->panic_log;
	if (ev.kind == GF_EV_OPERATOR) {
		snprintf(detail, sizeof detail, "GPU mailbox: SIG%s to %d (%.16s): %s",
			 signal_name(le->report.sig), le->report.pid, le->report.comm,
			 le->report.outcome == GF_WRITTEN ? "written"
			 : gf_strerror(le->report.err));
		ev.detail = detail;
	}
	w->emit(w->ctx, &ev);
}

/* The events the loop made since the last look, in order (as many as
 * the ring holds; the rest at the next), and how many were lost (the host
 * stalled longer than the ring holds). */
static uint32_t take_events(struct watch *w)
{
	uint64_t lost;
	uint32_t n = engine_events(&w->e, &w->next_event, w->events, GF_EVENT_RING,
				   &lost);

	if (lost) {
		struct gf_event ev = { .kind = GF_EV_LOST, .w = w, .time = gf_now_wall(),
				       .count = lost };
		w->emit(w->ctx, &ev);
	}
	return n;
}

static const char *loss_reason(const struct gf_pub *p, char *buf, size_t len)
{
	if (p->loss == GF_LOSS_RESTART)
		return "the kernel restarted (jiffies went back)";
	snprintf(buf, len, "the kernel's counters stopped reading true: %s",
		 gf_strerror(p->lost_err));
	return buf;
}

/* The loop's events, then its publication, which is then at least as new
 * as every event (a panic's log is there), then the events told: GF_OK,
 * or, the kernel given up on, GF_ESTALE (it restarted or its counters
 * failed) or GF_EGPU (the loop stopped stepping). */
static int read_loop(struct watch *w, double now)
{
	uint32_t n = take_events(w);
	int stale = engine_read(&w->e, w->pub) != GF_OK; /* the last copy stands */
	char why[160];

	for (uint32_t i = 0; i < n; i++)
		tell(w, &w->events[i]);
	if (stale)
		return GF_OK;
	if (w->pub->loss) {
		lose(w, loss_reason(w->pub, why, sizeof why), now);
		return GF_ESTALE;
	}
	if (w->pub->steps != w->last_steps) {
		w->last_steps = w->pub->steps;
		w->steps_at = now;
		w->newest = &w->pub->newest;
		follow_jiffies(w, now);
	} else if (now - w->steps_at > LOOP_STALL_S) {
		/* the loop failed, not the kernel: attach to it again */
		detach(w, "the watch loop stopped stepping (its GPU monitor failed?)",
		       now, 0);
		return GF_EGPU;
	}
	return GF_OK;
}

/* The periodic metrics event, over the span since the last one. */
static void metrics(struct watch *w, double now)
{
	struct gf_event ev = { .kind = GF_EV_METRICS, .w = w, .time = gf_now_wall() };
	struct gf_rates r;

	if (w->cfg->metrics_s <= 0 || !w->newest || !w->a.k.lay.has_metrics ||
	    now - w->last_metrics < w->cfg->metrics_s - 1e-3)
		return;
	if (w->metrics_then.time) {
		gf_rates_between(&w->metrics_then, w->newest, &r);
		ev.rates = &r;
		w->emit(w->ctx, &ev);
	}
	w->last_metrics = now;
	w->metrics_then = *w->newest;
}

/* Lets go of the kernel, to attach at the next tick to whatever kernel
 * is there then: unlike a kernel lost, the same one is not avoided. */
static void let_go(struct watch *w, const char *why, double now)
{
	if (w->attached)
		read_loop(w, now); /* its last events first */
	if (w->attached)
		emit(w, GF_EV_DETACH, why);
	snprintf(w->why, sizeof w->why, "%s", why);
	release(w);
	w->next_attach = now;
}

void watch_tick(struct watch *w, double now)
{
	if (!w->attached) {
		if (now >= w->next_attach)
			try_attach(w, now);
		return;
	}
	/* the image given up on stays in the old file: the new file's kernel
	 * may be where it was (restored from a save, booted without KASLR) */
	if (target_replaced(&w->t)) {
		let_go(w, "the RAM file was replaced (the guest was restarted)", now);
		return;
	}
	engine_step(&w->e);
	if (read_loop(w, now) || !w->newest || !w->a.k.lay.has_metrics ||
	    restarted(w, now))
		return;
	metrics(w, now);
}

/* New thresholds and policy from a reloaded config: at once, where the
 * loop's tables still fit them; else by attaching again, to the same
 * kernel. */
void watch_retune(struct watch *w)
{
	struct gf_loop_params lp;
	char msg[256];

	if (!w->attached)
		return;
	if (loop_params_from(w->cfg, w->spec, &lp, msg, sizeof msg) ||
	    engine_retune(&w->e, &lp))
		let_go(w, "the reloaded config changes the watch loop's tables: "
		       "attaching again", gf_now_monotonic());
}

const struct gf_verdict *watch_verdicts(const struct watch *w)
{
	static const struct gf_verdict none[GF_NCLASSES];

	return w->attached && w->pub ? w->pub->v : none;
}

void watch_let_go(struct watch *w, const char *why)
{
	let_go(w, why, gf_now_monotonic());
}

void watch_close(struct watch *w)
{
	if (w->attached) {
		read_loop(w, gf_now_monotonic());
		if (w->attached)
			emit(w, GF_EV_DETACH, "the agent stops");
	}
	release(w);
}
