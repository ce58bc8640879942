/* detect.c — from samples of the kernel's counters to verdicts.
 *
 * Each detector is a pure function of the history of samples (and, for
 * F5, of whether the kernel's log has reported a task sleeping in atomic
 * context): no I/O, no clock, so the unit tests feed it made-up samples
 * and the agent, the dashboard and --detect share it.
 *
 * The classes are SHFH's, with GRASS's signatures and thresholds:
 *   F1 interrupts off everywhere: jiffies stop, CPUs busy, no switches
 *   F2 a kernel loop on every CPU, preemptible: sys high, usr low
 *   F3 the same with preemption off: context switches stop too
 *   F4 an endless wait: iowait high, blocked tasks pile up
 *   F5 a task sleeps holding a spinlock that every CPU spins on: F3's
 *      metrics, told apart by the kernel's own "scheduling while atomic"
 *   F6 memory going too slowly: pswpout high, free memory low
 * and GPUSentinel's process-level ones: CPU overload (every CPU busy for
 * seconds: the top CPU users), memory exhaustion (available memory and
 * free swap both low: the largest and fastest-growing tasks), thrashing
 * (memory exhausted while swap still has room: swap I/O instead of
 * progress, which rules that wait for swap to fill never see), and panic.
 */
#include <stdlib.h>
#include <string.h>

#include "gpufas.h"

#define NS 1e9
#define PANIC_CPU_INVALID (-1)

static const char *const names[GF_NCLASSES] = {
	"F1", "F2", "F3", "F4", "F5", "F6",
	"cpu_overload", "memory", "thrashing", "panic",
};

const char *class_name(enum gf_class c)
{
	return c < GF_NCLASSES ? names[c] : "?";
}

void detect_defaults(struct gf_thresholds *th)
{
	*th = (struct gf_thresholds){
		.window_s = 0.5,
		.sys_pct = 95, .usr_pct = 1, .cs_per_s = 350,
		.iowait_pct = 90, .blocked = 32,
		.pswpout_per_s = 3000, .memfree_mib = 256,
		.overload_pct = 90, .overload_s = 5,
		.available_pct = 10, .swap_free_pct = 10,
		.thrash_swap_per_s = 256, .thrash_s = 1,
	};
}

/* ---- History: a ring of points, newest last. ---- */

void history_push(struct gf_history *h, const struct gf_point *p)
{
	struct gf_point *slot = &h->point[h->next];

	if (h->count == GF_HISTORY)
		free(slot->tasks);
	else
		h->count++;
	*slot = *p;
	h->next = (h->next + 1) % GF_HISTORY;
}

static const struct gf_point *history_at(const struct gf_history *h,
					 uint32_t age)
{
	return age < h->count
		? &h->point[(h->next + GF_HISTORY - 1 - age) % GF_HISTORY] : NULL;
}

const struct gf_point *history_newest(const struct gf_history *h)
{
	return history_at(h, 0);
}

/* The newest point at least `seconds` older than the newest one, or NULL
 * while the history does not reach that far back. */
const struct gf_point *history_back(const struct gf_history *h,
				    double seconds)
{
	const struct gf_point *now = history_at(h, 0), *p;

	for (uint32_t age = 1; now && (p = history_at(h, age)); age++)
		if (now->time - p->time >= seconds - 1e-6)
			return p;
	return NULL;
}

void history_clear(struct gf_history *h)
{
	for (uint32_t i = 0; i < h->count; i++)
		free(h->point[i].tasks);
	memset(h, 0, sizeof *h);
}

/* ---- Rates ---- */

static double delta(uint64_t from, uint64_t to)
{
	return to >= from ? (double)(to - from) : 0;
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* A CPU's share of the interval, as top computes it: over the time the
 * kernel accounted to this CPU, not over the wall clock, since a CPU
 * whose tick interrupts were late or lost (an overcommitted host, TCG)
 * is charged fewer ticks than the time that passed. User and system
 * time come from kernel_cpustat; idle and iowait from tick_sched, which
 * charges an idle period when it ends. A CPU idle right now has an idle
 * period not charged yet: the wall clock measures it, and it is iowait if
 * tasks wait for I/O on this CPU, as the kernel will decide when it
 * wakes. */
static void cpu_rates(const struct gf_cpu_counters *a,
		      const struct gf_cpu_counters *b, double seconds,
		      struct gf_cpu_rates *r)
{
	double wall = seconds * NS;
	double usr = delta(a->user_ns, b->user_ns);
	double sys = delta(a->system_ns, b->system_ns);
	double steal = delta(a->steal_ns, b->steal_ns);
	double idle = delta(a->idle_ns, b->idle_ns);
	double iowait = delta(a->iowait_ns, b->iowait_ns);
	double accounted = usr + sys + steal + idle + iowait;
	double span = b->idle_now || accounted <= 0 || accounted > wall ? wall : accounted;
	double rest;

	r->usr = clamp01(usr / span);
	r->sys = clamp01(sys / span);
	rest = clamp01(1 - r->usr - r->sys - steal / span);
	r->iowait = clamp01(iowait / span);
	if (r->iowait > rest)
		r->iowait = rest;
	if (b->idle_now && b->iowaiters > 0)
		r->iowait = clamp01(rest - (idle / span < rest ? idle / span : rest));
	r->idle = clamp01(rest - r->iowait);
	r->cs = delta(a->switches, b->switches) / seconds;
	r->online = b->online;
	r->idle_now = b->idle_now;
}

void rates_between(const struct gf_point *a, const struct gf_point *b,
		   struct gf_rates *r)
{
	const struct gf_sample *x = &a->s, *y = &b->s;

	memset(r, 0, sizeof *r);
	r->seconds = b->time - a->time;
	if (r->seconds <= 0)
		return;
	r->ncpus = x->ncpus < y->ncpus ? x->ncpus : y->ncpus;
	for (uint32_t c = 0; c < r->ncpus; c++) {
		cpu_rates(&x->cpu[c], &y->cpu[c], r->seconds, &r->cpu[c]);
		if (!r->cpu[c].online)
			continue;
		r->online++;
		r->cs += r->cpu[c].cs;
		r->blocked += y->cpu[c].uninterruptible;
		r->running += y->cpu[c].running;
	}
	r->pswpin = delta(x->pswpin, y->pswpin) / r->seconds;
	r->pswpout = delta(x->pswpout, y->pswpout) / r->seconds;
	r->majflt = delta(x->pgmajfault, y->pgmajfault) / r->seconds;
	r->jiffies = (uint64_t)delta(x->jiffies, y->jiffies);
	if (r->blocked < 0)
		r->blocked = 0;
}

/* ---- Verdicts ---- */

static void evidence(struct gf_verdict *v, const char *name, double value)
{
	struct gf_evidence *e;

	if (v->nevidence == GF_MAX_EVIDENCE)
		return;
	e = &v->evidence[v->nevidence++];
	snprintf(e->name, sizeof e->name, "%s", name);
	e->value = value;
}

struct cpu_extremes {
	double sys_min, usr_max, busy_min, iowait_min;
	uint32_t iowait_cpus; /* CPUs at or above the F4 threshold */
	uint32_t busy_now;    /* CPUs not running their idle task */
};

static struct cpu_extremes extremes(const struct gf_rates *r,
				    double iowait_threshold)
{
	struct cpu_extremes e = { 1, 0, 1, 1, 0, 0 };

	for (uint32_t c = 0; c < r->ncpus; c++) {
		const struct gf_cpu_rates *cpu = &r->cpu[c];
		if (!cpu->online)
			continue;
		if (cpu->sys < e.sys_min)
			e.sys_min = cpu->sys;
		if (cpu->usr > e.usr_max)
			e.usr_max = cpu->usr;
		if (cpu->usr + cpu->sys < e.busy_min)
			e.busy_min = cpu->usr + cpu->sys;
		if (cpu->iowait < e.iowait_min)
			e.iowait_min = cpu->iowait;
		e.iowait_cpus += cpu->iowait >= iowait_threshold;
		e.busy_now += !cpu->idle_now;
	}
	return e;
}

/* Every CPU in the kernel, with user space starved: F2, F3 and F5. */
static int kernel_bound(const struct gf_thresholds *th,
			const struct gf_rates *r, const struct cpu_extremes *e)
{
	return r->online && r->jiffies && e->sys_min >= th->sys_pct / 100 &&
	       e->usr_max <= th->usr_pct / 100;
}

static void cpu_evidence(struct gf_verdict *v, const struct gf_rates *r,
			 const struct cpu_extremes *e)
{
	evidence(v, "sys_min_pct", 100 * e->sys_min);
	evidence(v, "usr_max_pct", 100 * e->usr_max);
	evidence(v, "cs_per_s", r->cs);
}

/* The classes read from the counters alone over the short window. */
static int system_fault(const struct gf_thresholds *th, const struct gf_rates *r,
			const struct gf_sample *now, int atomic_sleep,
			enum gf_class cls, struct gf_verdict *v)
{
	struct cpu_extremes e = extremes(r, th->iowait_pct / 100);
	double free_mib = now->free_pages * 4096.0 / (1 << 20);

	switch (cls) {
	case GF_F1:
		/* No tick anywhere while the CPUs are not idle: an idle
		 * tickless kernel may also leave jiffies alone, a hung one
		 * does not run its idle task. */
		if (r->jiffies || !r->online || e.busy_now < r->online || r->cs > 0)
			return 0;
		evidence(v, "jiffies_passed", 0);
		evidence(v, "frozen_s", r->seconds);
		evidence(v, "cs_per_s", 0);
		return 1;
	case GF_F2:
		if (!kernel_bound(th, r, &e) || r->cs <= th->cs_per_s)
			return 0;
		cpu_evidence(v, r, &e);
		return 1;
	case GF_F3:
	case GF_F5:
		if (!kernel_bound(th, r, &e) || r->cs > th->cs_per_s ||
		    (cls == GF_F5) != (atomic_sleep != 0))
			return 0;
		cpu_evidence(v, r, &e);
		if (cls == GF_F5)
			evidence(v, "atomic_sleep_reported", 1);
		return 1;
	case GF_F4:
		if (r->blocked < th->blocked || !r->online ||
		    e.iowait_cpus + 1 < r->online || e.iowait_cpus == 0)
			return 0;
		evidence(v, "blocked", (double)r->blocked);
		evidence(v, "iowait_cpus", e.iowait_cpus);
		evidence(v, "iowait_min_pct", 100 * e.iowait_min);
		return 1;
	case GF_F6:
		if (r->pswpout < th->pswpout_per_s || free_mib > th->memfree_mib)
			return 0;
		evidence(v, "pswpout_per_s", r->pswpout);
		evidence(v, "memfree_mib", free_mib);
		return 1;
	default:
		return 0;
	}
}

/* ---- Culprits: the processes behind a process-level verdict ---- */

static int by_pid(const void *a, const void *b)
{
	const struct gf_task *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The same process in an older snapshot (sorted by pid), or NULL. */
static const struct gf_task *earlier(const struct gf_task *sorted, uint32_t n,
				     const struct gf_task *t)
{
	const struct gf_task *old = n ? bsearch(t, sorted, n, sizeof *t, by_pid)
				      : NULL;

	return old && old->start_time == t->start_time ? old : NULL;
}

/* A process with no earlier self was born within the window (when the
 * earlier snapshot exists at all): all it used and holds came in it. */
static struct gf_culprit culprit_of(const struct gf_task *t,
				    const struct gf_task *old, int born,
				    double seconds)
{
	static const struct gf_task unborn;
	struct gf_culprit c = {
		.pid = t->tgid, .start_time = t->start_time, .kthread = t->kthread,
		.rss_kib = t->rss_pages * 4, .swap_kib = t->swap_pages * 4,
	};

	memcpy(c.comm, t->comm, GF_COMM_LEN);
	if (!old && born)
		old = &unborn;
	if (old && seconds > 0) {
		c.cpu_pct = 100 * delta(old->cpu_ns, t->cpu_ns) / NS / seconds;
		c.growth_kib_s = ((double)(t->rss_pages + t->swap_pages) -
				  (double)(old->rss_pages + old->swap_pages)) * 4 / seconds;
	}
	return c;
}

static double cpu_key(const struct gf_culprit *c)
{
	return c->cpu_pct;
}

static double size_key(const struct gf_culprit *c)
{
	return c->kthread ? -1 : (double)(c->rss_kib + c->swap_kib);
}

static double growth_key(const struct gf_culprit *c)
{
	return c->kthread ? -1 : c->growth_kib_s;
}

/* Inserts c into the top list (largest key first) if it belongs there. */
static void rank(struct gf_culprit *top, uint32_t *n, uint32_t max,
		 const struct gf_culprit *c, double (*key)(const struct gf_culprit *))
{
	uint32_t at = *n;

	if (key(c) <= 0)
		return;
	while (at > 0 && key(&top[at - 1]) < key(c))
		at--;
	if (at >= max)
		return;
	if (*n < max)
		(*n)++;
	memmove(&top[at + 1], &top[at], (*n - 1 - at) * sizeof *top);
	top[at] = *c;
}

/* The processes of `now` ranked by `key`, each with its rates since
 * `then` (which may lack tasks: rates are then 0, as nobody can be told
 * to be new). */
static uint32_t ranked(const struct gf_point *then, const struct gf_point *now,
		       double (*key)(const struct gf_culprit *),
		       struct gf_culprit *top, uint32_t max)
{
	struct gf_task *old = NULL;
	uint32_t nold = 0, n = 0;

	if (then->tasks && (old = malloc((then->ntasks + 1) * sizeof *old))) {
		nold = then->ntasks;
		memcpy(old, then->tasks, nold * sizeof *old);
		qsort(old, nold, sizeof *old, by_pid);
	}
	for (uint32_t i = 0; i < now->ntasks; i++) {
		struct gf_culprit c = culprit_of(&now->tasks[i],
						 earlier(old, nold, &now->tasks[i]),
						 old != NULL, now->time - then->time);
		rank(top, &n, max, &c, key);
	}
	free(old);
	return n;
}

static int same_process(const struct gf_culprit *a, const struct gf_culprit *b)
{
	return a->pid == b->pid && a->start_time == b->start_time;
}

/* GPUSentinel's memory culprits: the largest resident (and swapped)
 * process first, then the fastest-growing ones not already named. */
static void memory_culprits(const struct gf_point *then,
			    const struct gf_point *now, struct gf_verdict *v)
{
	struct gf_culprit growing[GF_MAX_CULPRITS];
	uint32_t ngrowing = ranked(then, now, growth_key, growing, GF_MAX_CULPRITS);

	v->nculprits = ranked(then, now, size_key, v->culprit, 1);
	for (uint32_t i = 0; i < ngrowing && v->nculprits < GF_MAX_CULPRITS; i++)
		if (!v->nculprits || !same_process(&growing[i], &v->culprit[0]))
			v->culprit[v->nculprits++] = growing[i];
}

/* ---- The process-level classes ---- */

static double pct_of(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* Memory is exhausted when what could still be given out is low, and so
 * is free swap (no swap at all counts as none free). */
static int memory_low(const struct gf_thresholds *th, const struct gf_sample *s)
{
	return pct_of(s->available_pages, s->total_pages) <= th->available_pct;
}

static int swap_low(const struct gf_thresholds *th, const struct gf_sample *s)
{
	return pct_of(s->swap_free_pages, s->swap_total_pages) <= th->swap_free_pct;
}

static void memory_evidence(struct gf_verdict *v, const struct gf_sample *s)
{
	evidence(v, "available_pct", pct_of(s->available_pages, s->total_pages));
	evidence(v, "swap_free_pct", pct_of(s->swap_free_pages, s->swap_total_pages));
	evidence(v, "available_mib", s->available_pages * 4096.0 / (1 << 20));
}

static int process_fault(const struct gf_thresholds *th,
			 const struct gf_history *h, enum gf_class cls,
			 struct gf_verdict *v)
{
	const struct gf_point *now = history_newest(h), *then;
	struct gf_rates r;

	switch (cls) {
	case GF_CPU_OVERLOAD: {
		struct cpu_extremes e;
		if (!(then = history_back(h, th->overload_s)))
			return 0;
		rates_between(then, now, &r);
		e = extremes(&r, 1);
		if (!r.online || !r.jiffies || e.busy_min < th->overload_pct / 100)
			return 0;
		evidence(v, "busy_min_pct", 100 * e.busy_min);
		evidence(v, "seconds", r.seconds);
		v->nculprits = ranked(then, now, cpu_key, v->culprit, GF_MAX_CULPRITS);
		return 1;
	}
	case GF_MEMORY:
		if (!(then = history_back(h, th->window_s)) ||
		    !memory_low(th, &now->s) || !swap_low(th, &now->s))
			return 0;
		memory_evidence(v, &now->s);
		memory_culprits(then, now, v);
		return 1;
	case GF_THRASHING:
		if (!(then = history_back(h, th->thrash_s)) || !now->s.swap_total_pages ||
		    !memory_low(th, &now->s) || swap_low(th, &now->s))
			return 0;
		rates_between(then, now, &r);
		if (r.pswpin + r.pswpout < th->thrash_swap_per_s)
			return 0;
		memory_evidence(v, &now->s);
		evidence(v, "pswpin_per_s", r.pswpin);
		evidence(v, "pswpout_per_s", r.pswpout);
		memory_culprits(then, now, v);
		return 1;
	default:
		return 0;
	}
}

/* Runs the detector of one class on the history; v->active says whether
 * it finds that fault now, with the evidence and culprits if so. */
int detect(const struct gf_thresholds *th, const struct gf_history *h,
	   int atomic_sleep, enum gf_class cls, struct gf_verdict *v)
{
	const struct gf_point *now = history_newest(h), *then;
	struct gf_rates r;

	memset(v, 0, sizeof *v);
	v->cls = cls;
	if (!now)
		return 0;
	if (now->s.panic_cpu != PANIC_CPU_INVALID) {
		/* a panicked kernel is stopped: that is the one verdict */
		if (cls == GF_PANIC) {
			evidence(v, "panic_cpu", now->s.panic_cpu);
			v->active = 1;
		}
	} else if (cls == GF_PANIC) {
		v->active = 0;
	} else if (cls >= GF_CPU_OVERLOAD) {
		v->active = process_fault(th, h, cls, v);
	} else if ((then = history_back(h, th->window_s))) {
		rates_between(then, now, &r);
		v->active = system_fault(th, &r, &now->s, atomic_sleep, cls, v);
	}
	return v->active;
}
