/* board.c — what an operator is shown of one target, kept beside its watch.
 *
 * The watch loop keeps only the last seconds of raw samples, for the
 * detectors, and publishes the newest with the rates of the last second;
 * the board keeps what a person reads: those rates, two minutes of
 * sparklines, the detector board, the event log and, after a panic, the
 * kernel's last words. The local dashboard fills it from a watch; a remote
 * viewer receives it whole, so it holds no pointers and board_sanitize()
 * makes a received one safe to print.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "loop.h"
#include "recover.h"
#include "signals.h"
#include "watch.h"

#define HISTORY_STEP_S 1.0

void board_init(struct gf_board *b, const char *target)
{
	memset(b, 0, sizeof *b);
	snprintf(b->target, sizeof b->target, "%s", target);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static double busy_pct(const struct gf_rates *r)
{
	double sum = 0;

	for (uint32_t c = 0; c < r->ncpus; c++)
		if (r->cpu[c].online)
			sum += r->cpu[c].usr + r->cpu[c].sys;
	return r->online ? 100 * sum / r->online : 0;
}

static void push_history(struct gf_board *b, double now)
{
	uint32_t n = b->nhistory;

	if (b->last_history && now - b->last_history < HISTORY_STEP_S)
		return;
	b->last_history = now;
	if (n == GF_BOARD_HISTORY) {
		n--;
		memmove(b->hist_available_pct, b->hist_available_pct + 1,
			n * sizeof *b->hist_available_pct);
		memmove(b->hist_pswpout, b->hist_pswpout + 1, n * sizeof *b->hist_pswpout);
		memmove(b->hist_cpu_pct, b->hist_cpu_pct + 1, n * sizeof *b->hist_cpu_pct);
	}
	b->hist_available_pct[n] = (float)pct(b->mem_available_kib, b->mem_total_kib);
	b->hist_pswpout[n] = (float)b->rates.pswpout;
	b->hist_cpu_pct[n] = (float)busy_pct(&b->rates);
	b->nhistory = n + 1;
}

/* The kernel publishes no HZ, so it is read off the clock: the tick rate
 * seen over a second, snapped to a rate kernels are built with. Jiffies
 * start 300 s short of a 32-bit wrap (INITIAL_JIFFIES) to catch overflow
 * bugs early; uptime counts from there. */
static void estimate_uptime(struct gf_board *b, const struct gf_rates *r,
			    uint64_t jiffies)
{
	static const uint32_t rates[] = { 100, 250, 300, 1000 };
	double seen = r->seconds > 0 ? (double)r->jiffies / r->seconds : 0;

	for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
		if (fabs(seen - rates[i]) < 0.2 * rates[i])
			b->hz = rates[i];
	if (b->hz)
		b->uptime_s = (double)(jiffies - ((1ull << 32) - 300ull * b->hz)) / b->hz;
}

void board_update(struct gf_board *b, const struct watch *w, double now)
{
	const struct gf_point *p = w->newest;

	snprintf(b->release, sizeof b->release, "%s", w->attached ? w->a.release : "");
	snprintf(b->engine, sizeof b->engine, "%s", w->attached ? w->e.name : "");
	snprintf(b->status, sizeof b->status, "%s", w->attached ? "" : w->why);
	b->attached = (uint8_t)w->attached;
	b->writable = (uint8_t)(w->attached && w->t.writable);
	b->has_metrics = (uint8_t)(w->attached && w->a.k.lay.has_metrics);
	b->host_stalled = (uint8_t)(w->attached && w->pub->host_stalled);
	memcpy(b->verdict, watch_verdicts(w), sizeof b->verdict);
	b->thresholds = w->cfg->detect;
	if (!w->attached || !p)
		return;
	b->tainted = p->s.tainted;
	b->sampled = p->time + w->e.clock_offset;
	b->nprocs = w->pub->ntasks;
	b->mem_total_kib = pages_kib(p->s.total_pages);
	b->mem_free_kib = pages_kib(p->s.free_pages);
	b->mem_available_kib = pages_kib(p->s.available_pages);
	b->swap_total_kib = pages_kib(p->s.swap_total_pages);
	b->swap_free_kib = pages_kib(p->s.swap_free_pages);
	if (w->pub->rates.seconds > 0 && b->has_metrics) {
		b->rates = w->pub->rates;
		estimate_uptime(b, &b->rates, p->s.jiffies);
		push_history(b, now);
	}
}

/* ---- The event log ---- */

static char *next_line(struct gf_board *b)
{
	char *line;

	if (b->nevents < GF_BOARD_EVENTS)
		return b->events[b->nevents++];
	line = b->events[b->first_event];
	b->first_event = (b->first_event + 1) % GF_BOARD_EVENTS;
	return line;
}

/* More of the line at buf + *len; nothing once it is full. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	*len = n < 0 ? cap : *len + (size_t)n;
}

static void describe_verdict(char *buf, size_t cap, size_t *len,
			     const struct gf_verdict *v)
{
	for (uint32_t i = 0; i < v->nevidence; i++)
		append(buf, cap, len, " %s=%.4g", v->evidence[i].name,
		       v->evidence[i].value);
	for (uint32_t i = 0; i < v->nculprits; i++)
		append(buf, cap, len, "%s%s[%d]", i ? ", " : "; culprit ",
		       v->culprit[i].comm, v->culprit[i].pid);
}

static void describe(char *buf, size_t cap, const struct gf_event *ev)
{
	const struct gf_report *r = ev->report;
	size_t len = 0;

	switch (ev->kind) {
	case GF_EV_ATTACH:
		append(buf, cap, &len, "attached: Linux %s, %s engine",
		       ev->w->a.release, ev->w->e.name);
		break;
	case GF_EV_UNAVAILABLE:
		append(buf, cap, &len, "unavailable: %s", ev->detail);
		break;
	case GF_EV_DETACH:
		append(buf, cap, &len, "detached: %s", ev->detail);
		break;
	case GF_EV_VERDICT:
	case GF_EV_CLEAR:
		append(buf, cap, &len, "%s %s%s", ev->kind == GF_EV_VERDICT ?
		       "FAULT" : "clear", gf_class_name(ev->verdict->cls),
		       ev->verdict->nevidence ? ":" : "");
		describe_verdict(buf, cap, &len, ev->verdict);
		break;
	case GF_EV_ACTION:
		append(buf, cap, &len, "%s SIG%s to %s[%d] (%s)",
		       r->dry_run ? "would send" : "sent", signal_name(r->sig),
		       r->comm, r->pid, gf_class_name(r->cls));
		break;
	case GF_EV_RESULT: {
		char detail[160];
		gf_report_detail(r, detail, sizeof detail);
		append(buf, cap, &len, "%s[%d] %s after %.0f ms%s%s", r->comm, r->pid,
		       gf_outcome_name(r->outcome), r->after_s * 1000,
		       detail[0] ? ": " : "", detail);
		break;
	}
	case GF_EV_OPERATOR:
		append(buf, cap, &len, "operator: %s", ev->detail);
		break;
	case GF_EV_HOST_STALLED:
		append(buf, cap, &len, "host stalled: no heartbeat for %.1f s; the "
		       "GPU watches on", ev->stalled_s);
		break;
	case GF_EV_HOST_RESUMED:
		append(buf, cap, &len, "host resumed after %.1f s", ev->stalled_s);
		break;
	case GF_EV_LOST:
		append(buf, cap, &len, "%llu events lost: the host fell behind",
		       (unsigned long long)ev->count);
		break;
	case GF_EV_METRICS:
		break;
	}
}

void board_note(struct gf_board *b, const struct gf_event *ev)
{
	time_t t = (time_t)ev->time;
	struct tm tm;
	char *line;
	size_t len;

	if (ev->kind == GF_EV_METRICS)
		return;
	if (ev->kind == GF_EV_VERDICT && ev->verdict->cls == GF_PANIC && ev->detail)
		snprintf(b->panic_log, sizeof b->panic_log, "%s", ev->detail);
	if (ev->kind == GF_EV_CLEAR && ev->verdict->cls < GF_NCLASSES)
		b->cleared[ev->verdict->cls] = ev->time;
	line = next_line(b);
	localtime_r(&t, &tm);
	len = strftime(line, GF_BOARD_LINE, "%H:%M:%S ", &tm);
	describe(line + len, GF_BOARD_LINE - len, ev);
}

/* ---- OK, WARN, FAULT ---- */

#define TAINT_DIE (1ull << 7) /* the kernel oopsed and killed a task */

struct cpu_floor {
	double sys, busy; /* the least of any online CPU, 0..1 */
};

static struct cpu_floor cpu_floor(const struct gf_rates *r)
{
	struct cpu_floor f = { 1, 1 };
	uint32_t n = r->ncpus < GF_MAX_CPUS ? r->ncpus : GF_MAX_CPUS;

	for (uint32_t c = 0; c < n; c++) {
		const struct gf_cpu_rates *cpu = &r->cpu[c];
		if (!cpu->online)
			continue;
		if (cpu->sys < f.sys)
			f.sys = cpu->sys;
		if (cpu->usr + cpu->sys < f.busy)
			f.busy = cpu->usr + cpu->sys;
	}
	return f;
}

static int any_cpu_busy_now(const struct gf_rates *r)
{
	uint32_t n = r->ncpus < GF_MAX_CPUS ? r->ncpus : GF_MAX_CPUS;

	for (uint32_t c = 0; c < n; c++)
		if (r->cpu[c].online && !r->cpu[c].idle_now)
			return 1;
	return 0;
}

/* A class's first condition over the last second, as its detector would
 * read it, without the window or the second condition that make it a
 * verdict: what is about to become a fault, or is one held back. */
static int approaching(const struct gf_board *b, enum gf_class cls,
		       char *why, size_t len)
{
	const struct gf_thresholds *th = &b->thresholds;
	const struct gf_rates *r = &b->rates;
	struct cpu_floor f = cpu_floor(r);
	double available = pct(b->mem_available_kib, b->mem_total_kib);
	int online = r->online > 0 && r->seconds > 0;

	switch (cls) {
	case GF_F1:
		if (!online || r->jiffies || !any_cpu_busy_now(r))
			return 0;
		snprintf(why, len, "no tick in the last second while CPUs run");
		return 1;
	case GF_F2:
	case GF_F3:
	case GF_F5:
		if (!online || f.sys < th->sys_pct / 100)
			return 0;
		snprintf(why, len, "every CPU in the kernel: sys >= %.0f %%", th->sys_pct);
		return 1;
	case GF_F4:
		if (!online || (double)r->blocked < th->blocked)
			return 0;
		snprintf(why, len, "%lld tasks blocked (D), threshold %.0f",
			 (long long)r->blocked, th->blocked);
		return 1;
	case GF_F6:
		if (!online || r->pswpout < th->pswpout_per_s)
			return 0;
		snprintf(why, len, "%.0f pages/s swapped out", r->pswpout);
		return 1;
	case GF_CPU_OVERLOAD:
		if (!online || f.busy < th->overload_pct / 100)
			return 0;
		snprintf(why, len, "every CPU >= %.0f %% busy; a verdict after %.0f s",
			 th->overload_pct, th->overload_s);
		return 1;
	case GF_MEMORY:
	case GF_THRASHING:
		if (!b->mem_total_kib || available > th->available_pct ||
		    (cls == GF_THRASHING && !b->swap_total_kib))
			return 0;
		snprintf(why, len, "available memory %.1f %% <= %.0f %%", available,
			 th->available_pct);
		return 1;
	case GF_PANIC:
		if (!(b->tainted & TAINT_DIE))
			return 0;
		snprintf(why, len, "the kernel oopsed (taint D) and runs on");
		return 1;
	default:
		return 0;
	}
}

enum gf_level board_level(const struct gf_board *b, enum gf_class cls,
			  double wall_now, char *why, size_t len)
{
	double since;

	why[0] = 0;
	if (cls >= GF_NCLASSES)
		return GF_LEVEL_OK;
	if (b->verdict[cls].active) {
		snprintf(why, len, "detected");
		return GF_LEVEL_FAULT;
	}
	since = wall_now - b->cleared[cls];
	if (b->cleared[cls] > 0 && since >= 0 && since < GF_WARN_AFTER_CLEAR_S) {
		snprintf(why, len, "cleared %.0f s ago", since);
		return GF_LEVEL_WARN;
	}
	if (b->attached && b->has_metrics && approaching(b, cls, why, len))
		return GF_LEVEL_WARN;
	return GF_LEVEL_OK;
}

/* ---- Processes ---- */

/* The newest processes with their CPU use over the last second, as the
 * watch loop published them. */
int board_tasks(const struct watch *w, struct gf_board_task *out, uint32_t cap,
		uint32_t *count)
{
	const struct gf_pub *p = w->pub;

	*count = 0;
	if (!w->attached || !w->newest)
		return GF_ESRCH;
	*count = p->ntasks < cap ? p->ntasks : cap;
	memcpy(out, gf_pub_tasks((struct gf_pub *)p), *count * sizeof *out);
	return *count < p->ntasks ? GF_ENOSPC : GF_OK;
}

/* ---- A board from elsewhere ---- */

#define TERMINATE(s) ((s)[sizeof(s) - 1] = 0)

/* Makes a board decoded from the wire safe to print and index: strings
 * end, counts stay within their arrays. Values are shown as they came. */
void board_sanitize(struct gf_board *b)
{
	TERMINATE(b->target);
	TERMINATE(b->release);
	TERMINATE(b->engine);
	TERMINATE(b->status);
	TERMINATE(b->panic_log);
	if (b->nhistory > GF_BOARD_HISTORY)
		b->nhistory = GF_BOARD_HISTORY;
	if (b->nevents > GF_BOARD_EVENTS)
		b->nevents = GF_BOARD_EVENTS;
	b->first_event %= GF_BOARD_EVENTS;
	for (int i = 0; i < GF_BOARD_EVENTS; i++)
		TERMINATE(b->events[i]);
	if (b->rates.ncpus > GF_MAX_CPUS)
		b->rates.ncpus = GF_MAX_CPUS;
	for (int c = 0; c < GF_NCLASSES; c++) {
		struct gf_verdict *v = &b->verdict[c];
		v->cls = (enum gf_class)c;
		if (v->nevidence > GF_MAX_EVIDENCE)
			v->nevidence = GF_MAX_EVIDENCE;
		if (v->nculprits > GF_MAX_CULPRITS)
			v->nculprits = GF_MAX_CULPRITS;
		for (int i = 0; i < GF_MAX_EVIDENCE; i++)
			TERMINATE(v->evidence[i].name);
		for (int i = 0; i < GF_MAX_CULPRITS; i++)
			TERMINATE(v->culprit[i].comm);
	}
}
