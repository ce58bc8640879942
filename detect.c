/* detect.c — from samples of the kernel's counters to verdicts.
 *
 * Each detector is a pure function of what struct gf_judge holds (the
 * history of samples, the processes now and at checkpoints, and, for F5,
 * whether the kernel's log has reported a task sleeping in atomic
 * context): no I/O, no clock, no allocation, so the unit tests feed it
 * made-up samples, and the watch loop (loop.c) runs it on the CPU and on
 * the GPU alike. Hence no libc either, but memset and memcpy, which CUDA
 * provides on the device too.
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
#include <string.h>

#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "loop.h"

#define NS 1e9
#define PANIC_CPU_INVALID (-1)

GF_HD const char *gf_class_name(enum gf_class c)
{
	switch (c) {
	case GF_F1:           return "F1";
	case GF_F2:           return "F2";
	case GF_F3:           return "F3";
	case GF_F4:           return "F4";
	case GF_F5:           return "F5";
	case GF_F6:           return "F6";
	case GF_CPU_OVERLOAD: return "cpu_overload";
	case GF_MEMORY:       return "memory";
	case GF_THRASHING:    return "thrashing";
	case GF_PANIC:        return "panic";
	default:              return "?";
	}
}

/* ---- History: a ring of counter samples, newest last. ---- */

GF_HD struct gf_point *gf_history_next(struct gf_history *h)
{
	return &h->point[h->next];
}

/* Keeps the point gf_history_next() returned, filled in. */
GF_HD void gf_history_commit(struct gf_history *h)
{
	if (h->count < h->cap)
		h->count++;
	h->next = (h->next + 1) % h->cap;
}

GF_HD void gf_history_push(struct gf_history *h, const struct gf_point *p)
{
	*gf_history_next(h) = *p;
	gf_history_commit(h);
}

GF_HD static const struct gf_point *history_at(const struct gf_history *h,
					       uint32_t age)
{
	return age < h->count
		? &h->point[(h->next + h->cap - 1 - age) % h->cap] : NULL;
}

GF_HD const struct gf_point *gf_history_newest(const struct gf_history *h)
{
	return history_at(h, 0);
}

/* The newest point at least `seconds` older than the newest one, or NULL
 * while the history does not reach that far back. */
GF_HD const struct gf_point *gf_history_back(const struct gf_history *h,
					  double seconds)
{
	const struct gf_point *now = history_at(h, 0), *p;

	for (uint32_t age = 1; now && (p = history_at(h, age)); age++)
		if (now->time - p->time >= seconds - 1e-6)
			return p;
	return NULL;
}

/* ---- Rates ---- */

GF_HD static double delta(uint64_t from, uint64_t to)
{
	return to >= from ? (double)(to - from) : 0;
}

GF_HD static double clamp01(double v)
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
GF_HD static void cpu_rates(const struct gf_cpu_counters *a,
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

GF_HD_OUTLINE void gf_rates_between(const struct gf_point *a, const struct gf_point *b,
			 struct gf_rates *r)
{
	const struct gf_sample *x = &a->s, *y = &b->s;

	memset(r, 0, sizeof *r);
	r->seconds = b->time - a->time;
	if (r->seconds <= 0)
		return;
	r->ncpus = x->ncpus < y->ncpus ? x->ncpus : y->ncpus;
	if (r->ncpus > GF_MAX_CPUS)
		r->ncpus = GF_MAX_CPUS;
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

GF_HD static void evidence(struct gf_verdict *v, const char *name, double value)
{
	struct gf_evidence *e;
	uint32_t i = 0;

	if (v->nevidence == GF_MAX_EVIDENCE)
		return;
	e = &v->evidence[v->nevidence++];
	for (; name[i] && i < GF_EVIDENCE_NAME - 1; i++)
		e->name[i] = name[i];
	e->name[i] = 0;
	e->value = value;
}

struct cpu_extremes {
	double sys_min, usr_max, busy_min, iowait_min;
	uint32_t iowait_cpus; /* CPUs at or above the F4 threshold */
	uint32_t busy_now;    /* CPUs not running their idle task */
};

GF_HD static struct cpu_extremes extremes(const struct gf_rates *r,
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
GF_HD static int kernel_bound(const struct gf_thresholds *th,
			      const struct gf_rates *r,
			      const struct cpu_extremes *e)
{
	return r->online && r->jiffies && e->sys_min >= th->sys_pct / 100 &&
	       e->usr_max <= th->usr_pct / 100;
}

GF_HD static void cpu_evidence(struct gf_verdict *v, const struct gf_rates *r,
			       const struct cpu_extremes *e)
{
	evidence(v, "sys_min_pct", 100 * e->sys_min);
	evidence(v, "usr_max_pct", 100 * e->usr_max);
	evidence(v, "cs_per_s", r->cs);
}

/* The classes read from the counters alone over the short window. */
GF_HD_OUTLINE static int system_fault(const struct gf_thresholds *th,
			      const struct gf_rates *r,
			      const struct gf_sample *now, int atomic_sleep,
			      enum gf_class cls, struct gf_verdict *v)
{
	struct cpu_extremes e = extremes(r, th->iowait_pct / 100);
	double free_mib = pages_kib(now->free_pages) / 1024.0;

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

/* ---- The processes at a checkpoint ---- */

/* The process with this tgid and start time at the checkpoint, or NULL. */
GF_HD const struct gf_mark *gf_past_find(const struct gf_past *p, int32_t tgid,
				      uint64_t start_time)
{
	uint32_t at = gf_tgid_slot(tgid, p->index_cap);

	for (uint32_t probe = 0; probe < p->index_cap; probe++) {
		uint32_t slot = p->index[(at + probe) & (p->index_cap - 1)];
		const struct gf_mark *m;
		if (!slot)
			return NULL;
		if (slot > p->count)
			continue;
		m = &p->mark[slot - 1];
		if (m->tgid == tgid && m->start_time == start_time)
			return m;
	}
	return NULL;
}

/* The newest checkpoint at least `seconds` older than the processes now. */
GF_HD const struct gf_past *gf_procs_back(const struct gf_procs *p, double seconds)
{
	const struct gf_past *best = NULL;

	for (uint32_t i = 0; i < p->npast; i++)
		if (p->time - p->past[i].time >= seconds - 1e-6 &&
		    (!best || p->past[i].time > best->time))
			best = &p->past[i];
	return best;
}

/* ---- Culprits: the processes behind a process-level verdict ---- */

/* A process missing from a complete checkpoint was born since: all it
 * used and holds came after. */
GF_HD static struct gf_culprit culprit_of(const struct gf_task *t,
					  const struct gf_past *then,
					  double now)
{
	const struct gf_mark *old = gf_past_find(then, t->tgid, t->start_time);
	const struct gf_mark unborn = { 0, 0, 0, 0, 0 };
	double seconds = now - then->time;
	struct gf_culprit c;

	memset(&c, 0, sizeof c);
	c.pid = t->tgid;
	c.start_time = t->start_time;
	c.kthread = t->kthread;
	c.rss_kib = pages_kib(t->rss_pages);
	c.swap_kib = pages_kib(t->swap_pages);
	memcpy(c.comm, t->comm, GF_COMM_LEN);
	if (!old && then->complete)
		old = &unborn;
	if (old && seconds > 0) {
		c.cpu_pct = 100 * delta(old->cpu_ns, t->cpu_ns) / NS / seconds;
		c.growth_kib_s = ((double)pages_kib(t->rss_pages + t->swap_pages) -
				  (double)pages_kib(old->pages)) / seconds;
	}
	return c;
}

enum rank_key { BY_CPU, BY_SIZE, BY_GROWTH };

GF_HD static double key_of(const struct gf_culprit *c, enum rank_key key)
{
	switch (key) {
	case BY_CPU:  return c->cpu_pct;
	case BY_SIZE: return c->kthread ? -1 : (double)(c->rss_kib + c->swap_kib);
	default:      return c->kthread ? -1 : c->growth_kib_s;
	}
}

/* Inserts c into the top list (largest key first) if it belongs there. */
GF_HD static void rank(struct gf_culprit *top, uint32_t *n, uint32_t max,
		       const struct gf_culprit *c, enum rank_key key)
{
	double k = key_of(c, key);
	uint32_t at = *n;

	if (k <= 0)
		return;
	while (at > 0 && key_of(&top[at - 1], key) < k)
		at--;
	if (at >= max)
		return;
	if (*n < max)
		(*n)++;
	for (uint32_t i = *n - 1; i > at; i--)
		top[i] = top[i - 1];
	top[at] = *c;
}

/* The processes now ranked by `key`, each with its rates since the
 * checkpoint `then`. */
GF_HD_OUTLINE static uint32_t ranked(const struct gf_procs *p, const struct gf_past *then,
			     enum rank_key key, struct gf_culprit *top,
			     uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->ntasks; i++) {
		struct gf_culprit c = culprit_of(&p->task[i], then, p->time);
		rank(top, &n, max, &c, key);
	}
	return n;
}

GF_HD static int same_process(const struct gf_culprit *a,
			      const struct gf_culprit *b)
{
	return a->pid == b->pid && a->start_time == b->start_time;
}

/* GPUSentinel's memory culprits: the largest resident (and swapped)
 * process first, then the fastest-growing ones not already named. */
GF_HD static void memory_culprits(const struct gf_procs *p, double window_s,
				  struct gf_verdict *v)
{
	const struct gf_past *then = p ? gf_procs_back(p, window_s) : NULL;
	struct gf_culprit growing[GF_MAX_CULPRITS];
	uint32_t ngrowing;

	if (!then)
		return;
	ngrowing = ranked(p, then, BY_GROWTH, growing, GF_MAX_CULPRITS);
	v->nculprits = ranked(p, then, BY_SIZE, v->culprit, 1);
	for (uint32_t i = 0; i < ngrowing && v->nculprits < GF_MAX_CULPRITS; i++)
		if (!v->nculprits || !same_process(&growing[i], &v->culprit[0]))
			v->culprit[v->nculprits++] = growing[i];
}

/* ---- The process-level classes ---- */

GF_HD static double pct_of(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* Memory is exhausted when what could still be given out is low, and so
 * is free swap (no swap at all counts as none free). */
GF_HD static int memory_low(const struct gf_thresholds *th,
			    const struct gf_sample *s)
{
	return pct_of(s->available_pages, s->total_pages) <= th->available_pct;
}

GF_HD static int swap_low(const struct gf_thresholds *th,
			  const struct gf_sample *s)
{
	return pct_of(s->swap_free_pages, s->swap_total_pages) <= th->swap_free_pct;
}

GF_HD static void memory_evidence(struct gf_verdict *v, const struct gf_sample *s)
{
	evidence(v, "available_pct", pct_of(s->available_pages, s->total_pages));
	evidence(v, "swap_free_pct", pct_of(s->swap_free_pages, s->swap_total_pages));
	evidence(v, "available_mib", pages_kib(s->available_pages) / 1024.0);
}

GF_HD_OUTLINE static int process_fault(const struct gf_judge *j, enum gf_class cls,
			       struct gf_verdict *v)
{
	const struct gf_thresholds *th = j->th;
	const struct gf_point *now = gf_history_newest(j->h), *then;
	struct gf_rates *r = j->scratch;

	switch (cls) {
	case GF_CPU_OVERLOAD: {
		const struct gf_past *past;
		struct cpu_extremes e;
		if (!(then = gf_history_back(j->h, th->overload_s)))
			return 0;
		gf_rates_between(then, now, r);
		e = extremes(r, 1);
		if (!r->online || !r->jiffies || e.busy_min < th->overload_pct / 100)
			return 0;
		evidence(v, "busy_min_pct", 100 * e.busy_min);
		evidence(v, "seconds", r->seconds);
		if (j->procs && (past = gf_procs_back(j->procs, th->overload_s)))
			v->nculprits = ranked(j->procs, past, BY_CPU, v->culprit,
					      GF_MAX_CULPRITS);
		return 1;
	}
	case GF_MEMORY:
		if (!gf_history_back(j->h, th->window_s) ||
		    !memory_low(th, &now->s) || !swap_low(th, &now->s))
			return 0;
		memory_evidence(v, &now->s);
		memory_culprits(j->procs, th->window_s, v);
		return 1;
	case GF_THRASHING:
		if (!(then = gf_history_back(j->h, th->thrash_s)) ||
		    !now->s.swap_total_pages || !memory_low(th, &now->s) ||
		    swap_low(th, &now->s))
			return 0;
		gf_rates_between(then, now, r);
		if (r->pswpin + r->pswpout < th->thrash_swap_per_s)
			return 0;
		memory_evidence(v, &now->s);
		evidence(v, "pswpin_per_s", r->pswpin);
		evidence(v, "pswpout_per_s", r->pswpout);
		memory_culprits(j->procs, th->thrash_s, v);
		return 1;
	default:
		return 0;
	}
}

/* Runs the detector of one class; v->active says whether it finds that
 * fault now, with the evidence and culprits if so. */
GF_HD_OUTLINE int gf_detect(const struct gf_judge *j, enum gf_class cls,
		 struct gf_verdict *v)
{
	const struct gf_point *now = gf_history_newest(j->h), *then;

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
		v->active = process_fault(j, cls, v);
	} else if ((then = gf_history_back(j->h, j->th->window_s))) {
		gf_rates_between(then, now, j->scratch);
		v->active = system_fault(j->th, j->scratch, &now->s, j->atomic_sleep,
					 cls, v);
	}
	return v->active;
}
