/* watch.c — one target under watch.
 *
 * At each tick: attach if not attached (again after a reboot: KASLR moves
 * everything), sample the kernel's counters and processes into a history,
 * run every detector, step the recovery, and tell what happened through
 * events. The headless agent, --detect and the dashboard all drive their
 * targets through here, so they see the same verdicts.
 *
 * A kernel is given up on (and looked for again) when its RAM file is
 * replaced, when jiffies run backwards (it restarted in place), or when
 * reads keep failing for LOST_AFTER_S: a guest rebooting or shutting
 * down goes through all of these, a live guest through none.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpufas.h"

#define ATTACH_RETRY_S 1.0
#define LOST_AFTER_S 1.0
#define LOST_MEMORY_S 60.0 /* how long a lost kernel's image is avoided */
#define FROZEN_S 2.0       /* jiffies still this long: look for another kernel */
#define OTHER_LOOK_S 2.0
#define LOG_LOOK_S 1.0
#define LOG_RECORDS 64
#define PANIC_LOG_RECORDS 40
#define LOG_BYTES (64u << 10)

static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double now_monotonic(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* Events and the board tell time in Unix seconds, for people to read. */
double now_wall(void)
{
	return clock_seconds(CLOCK_REALTIME);
}

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
	struct gf_event ev = { .kind = kind, .w = w, .detail = detail };

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
	history_clear(&w->h);
	memset(w->v, 0, sizeof w->v);
	memset(&w->rec, 0, sizeof w->rec);
	w->attached = w->opened = w->atomic_sleep = 0;
	w->failing_since = w->frozen_since = 0;
	w->other_seen = 0;
}

/* Says why the target cannot be attached, once per reason. */
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

static void lose(struct watch *w, const char *why, double now)
{
	snprintf(w->why, sizeof w->why, "%s", why);
	emit(w, GF_EV_DETACH, why);
	remember_lost(w, now);
	release(w);
	w->next_attach = now + ATTACH_RETRY_S;
}

static void try_attach(struct watch *w, double now)
{
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
	if (engines_open(&w->e, 1, w->cfg->engine, w->cfg->gpu, &w->t, &w->a,
			 msg, sizeof msg)) {
		gf_detach(&w->a);
		unavailable(w, msg, now);
		return;
	}
	w->attached = 1;
	w->why[0] = 0;
	w->last_metrics = now;
	emit(w, GF_EV_ATTACH, msg[0] ? msg : NULL);
}

/* One point of history; 0, or -1 when the kernel was lost. */
static int sample(struct watch *w, double now)
{
	struct gf_point p = { .time = now };
	const struct gf_point *prev = history_newest(&w->h);
	char why[160];
	int err = GF_OK;

	if (w->a.k.lay.has_metrics)
		err = engine_counters(&w->e, &p.s);
	if (err) {
		if (!w->failing_since)
			w->failing_since = now;
		if (now - w->failing_since < LOST_AFTER_S)
			return 0;
		snprintf(why, sizeof why, "the kernel's counters stopped reading "
			 "true: %s", gf_strerror(err));
		lose(w, why, now);
		return -1;
	}
	w->failing_since = 0;
	if (prev && p.s.jiffies < prev->s.jiffies) {
		lose(w, "the kernel restarted (jiffies went back)", now);
		return -1;
	}
	if (engine_snapshot(&w->e, 0, &p.tasks, &p.ntasks))
		p.tasks = NULL, p.ntasks = 0; /* counters alone still judge */
	history_push(&w->h, &p);
	if (!prev || p.s.jiffies != prev->s.jiffies)
		w->frozen_since = w->other_seen = 0;
	else if (!w->frozen_since)
		w->frozen_since = now;
	return 0;
}

/* Ours frozen and another kernel's clock running in the same RAM: the
 * guest was reset and booted again, leaving our kernel's image whole (no
 * firmware clears RAM). Looked for every OTHER_LOOK_S while ours is
 * frozen; a hung kernel beside an older boot's image is no restart, as
 * that image's clock is still too. 1 when the kernel was given up. */
static int restarted(struct watch *w, double now)
{
	struct gf_kernel_id ours = { w->a.kaslr_offset, w->a.phys_base };
	struct gf_attach *other;
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

/* Would the counters say F5 if the log said a task slept in atomic
 * context? Then the log is worth reading now rather than at its turn. */
static int f5_suspected(const struct watch *w)
{
	struct gf_verdict v;

	return detect(&w->cfg->detect, &w->h, 1, GF_F5, &v);
}

/* F5 is F3 plus the kernel's own report that a task slept holding a
 * spinlock; once seen it holds until the kernel restarts. The log is read
 * once a second, and at every sample while F3's signature holds, so that
 * F5 is told from F3 as soon as the counters show either. */
static void look_at_log(struct watch *w, double now)
{
	char *buf;
	uint32_t len;

	if (w->atomic_sleep || !w->a.k.lay.has_printk ||
	    (now - w->last_log_look < LOG_LOOK_S && !f5_suspected(w)) ||
	    !(buf = malloc(LOG_BYTES)))
		return;
	w->last_log_look = now;
	if (!engine_log_tail(&w->e, LOG_RECORDS, buf, LOG_BYTES, &len))
		w->atomic_sleep = strstr(buf, "scheduling while atomic") != NULL;
	free(buf);
}

static void announce(struct watch *w, const struct gf_verdict *v,
		     enum gf_event_kind kind)
{
	struct gf_event ev = { .kind = kind, .w = w, .verdict = v };
	char *log = NULL;
	uint32_t len;

	if (kind == GF_EV_VERDICT && v->cls == GF_PANIC && (log = malloc(LOG_BYTES)) &&
	    !engine_log_tail(&w->e, PANIC_LOG_RECORDS, log, LOG_BYTES, &len))
		ev.detail = log;
	w->emit(w->ctx, &ev);
	free(log);
}

static void judge(struct watch *w)
{
	const struct gf_thresholds *th = &w->cfg->detect;

	for (int cls = 0; cls < GF_NCLASSES; cls++) {
		int was = w->v[cls].active;
		detect(th, &w->h, w->atomic_sleep, cls, &w->v[cls]);
		if (w->v[cls].active != was)
			announce(w, &w->v[cls], was ? GF_EV_CLEAR : GF_EV_VERDICT);
	}
}

static void recover(struct watch *w, double now)
{
	struct gf_policy policy = w->cfg->recover;
	struct gf_report reports[4];
	int n;

	/* on `host` the agent runs inside its target: never its own victim */
	if (!strcmp(w->spec, "host"))
		policy.self_pid = getpid();
	n = recover_step(&policy, &w->rec, &w->e, w->v, now, reports, 4);

	for (int i = 0; i < n; i++) {
		struct gf_event ev = {
			.kind = reports[i].kind == GF_ACTION ? GF_EV_ACTION : GF_EV_RESULT,
			.w = w, .report = &reports[i],
		};
		w->emit(w->ctx, &ev);
	}
}

static void metrics(struct watch *w, double now)
{
	const struct gf_point *then = history_back(&w->h, w->cfg->metrics_s);
	struct gf_event ev = { .kind = GF_EV_METRICS, .w = w };
	struct gf_rates r;

	if (w->cfg->metrics_s <= 0 || now - w->last_metrics < w->cfg->metrics_s - 1e-3 ||
	    !then || !w->a.k.lay.has_metrics)
		return;
	w->last_metrics = now;
	rates_between(then, history_newest(&w->h), &r);
	ev.rates = &r;
	w->emit(w->ctx, &ev);
}

void watch_tick(struct watch *w, double now)
{
	if (!w->attached) {
		if (now >= w->next_attach)
			try_attach(w, now);
		return;
	}
	if (target_replaced(&w->t)) {
		lose(w, "the RAM file was replaced (the guest was restarted)", now);
		return;
	}
	if (sample(w, now) || !history_newest(&w->h) || !w->a.k.lay.has_metrics ||
	    restarted(w, now))
		return;
	look_at_log(w, now);
	judge(w);
	recover(w, now);
	metrics(w, now);
}

void watch_close(struct watch *w)
{
	if (w->attached)
		emit(w, GF_EV_DETACH, "the agent stops");
	release(w);
}
