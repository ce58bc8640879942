/* loop.c — one step of the watch loop (loop.h), on either processor.
 *
 * A step samples the counters into the history ring and walks the
 * processes; keeps process checkpoints at the ages the detectors read;
 * reads the kernel's log when F5 is in question; runs every detector and
 * the recovery; publishes what an operator is shown; and only then makes
 * the step's events visible, so that a host that reads the events first
 * and the publication second always finds the state the events speak of
 * (a panic's log with its verdict).
 *
 * Like introspect.c and metrics.c it is plain C that nvcc also compiles
 * for the GPU: no libc but memset and memcpy, no allocation, no host
 * pointers, nothing big on the stack (a GPU thread's is small), and the
 * runner's clock passed in.
 */
#include <string.h>

#include "board.h"
#include "core.h"
#include "detect.h"
#include "gang.h"
#include "gpufas.h"
#include "introspect.h"
#include "loop.h"
#include "recover.h"

#define LOST_AFTER_S 1.0 /* counters failing this long: the kernel is gone */
#define LOG_LOOK_S 1.0   /* the log is read this often, or while F5 may hold */
#define LOG_RECORDS 64
#define PANIC_LOG_RECORDS 40
#define WALK_ATTEMPTS 3  /* a list changing under the walk: look again */
#define REPORTS 4

#ifdef __CUDA_ARCH__
#define FENCE() __threadfence_system()
#else
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* ---- The arena: struct gf_loop, then its tables ---- */

GF_HD static uint64_t align64(uint64_t v)
{
	return (v + 63) & ~63ull;
}

/* Index slots for one table: a power of two, at least twice the tasks. */
GF_HD static uint32_t index_cap_for(uint32_t task_cap)
{
	uint32_t cap = 16;

	while (cap < 2 * task_cap && cap < (1u << 30))
		cap <<= 1;
	return cap;
}

GF_HD static uint32_t tables(const struct gf_loop_params *p)
{
	return p->nages * GF_CHECKPOINTS;
}

/* Lays the tables out after the header; returns the arena's size. */
GF_HD static uint64_t lay_out(struct gf_loop *l, const struct gf_loop_params *p)
{
	uint64_t at = align64(sizeof *l);
	uint32_t icap = index_cap_for(p->task_cap);

	l->points_off = at;
	at = align64(at + (uint64_t)p->history_cap * sizeof(struct gf_point));
	l->tasks_off = at;
	at = align64(at + (uint64_t)p->task_cap * sizeof(struct gf_task));
	l->marks_off = at;
	at = align64(at + (uint64_t)tables(p) * p->task_cap * sizeof(struct gf_mark));
	l->index_off = at;
	at = align64(at + (uint64_t)tables(p) * icap * sizeof(uint32_t));
	l->log_off = at;
	at = align64(at + GF_LOOP_LOG);
	l->rates_off = at;
	at = align64(at + sizeof(struct gf_rates));
	l->walk_off = at;
	at = align64(at + sizeof(struct gf_walk));
	l->index_cap = icap;
	return at;
}

GF_HD uint64_t gf_loop_size(const struct gf_loop_params *p)
{
	struct gf_loop l;

	return lay_out(&l, p);
}

GF_HD void gf_loop_init(struct gf_loop *l, const struct gf_loop_params *p)
{
	memset(l, 0, sizeof *l);
	l->p = *p;
	l->size = lay_out(l, p);
}

GF_HD int gf_loop_fits(const struct gf_loop_params *have,
		       const struct gf_loop_params *want)
{
	if (have->task_cap != want->task_cap || have->history_cap != want->history_cap ||
	    have->nages != want->nages)
		return 0;
	for (uint32_t i = 0; i < have->nages && i < GF_MAX_AGES; i++)
		if (have->age[i] != want->age[i])
			return 0;
	return 1;
}

GF_HD void gf_loop_retune(struct gf_loop *l, const struct gf_loop_params *p)
{
	l->p.th = p->th;
	l->p.policy = p->policy;
	l->p.interval_s = p->interval_s;
	l->p.host_stall_s = p->host_stall_s;
}

GF_HD static struct gf_history history_of(struct gf_loop *l)
{
	struct gf_history h;

	h.point = (struct gf_point *)((char *)l + l->points_off);
	h.cap = l->p.history_cap;
	h.count = l->hcount;
	h.next = l->hnext;
	return h;
}

GF_HD static struct gf_task *tasks_of(struct gf_loop *l)
{
	return (struct gf_task *)((char *)l + l->tasks_off);
}

GF_HD static struct gf_mark *marks_of(struct gf_loop *l, uint32_t table)
{
	return (struct gf_mark *)((char *)l + l->marks_off) +
	       (uint64_t)table * l->p.task_cap;
}

GF_HD static uint32_t *index_of(struct gf_loop *l, uint32_t table)
{
	return (uint32_t *)((char *)l + l->index_off) + (uint64_t)table * l->index_cap;
}

GF_HD static char *log_of(struct gf_loop *l)
{
	return (char *)l + l->log_off;
}

GF_HD static struct gf_rates *scratch_of(struct gf_loop *l)
{
	return (struct gf_rates *)((char *)l + l->rates_off);
}

GF_HD static struct gf_walk *walk_of(struct gf_loop *l)
{
	return (struct gf_walk *)((char *)l + l->walk_off);
}

/* ---- Publishing ---- */

GF_HD uint64_t gf_pub_size(const struct gf_loop_params *p)
{
	return align64(sizeof(struct gf_pub)) +
	       (uint64_t)p->task_cap * sizeof(struct gf_board_task);
}

GF_HD void gf_pub_init(struct gf_pub *pub, const struct gf_loop_params *p)
{
	memset(pub, 0, sizeof *pub);
	pub->task_cap = p->task_cap;
	pub->tasks_off = align64(sizeof *pub);
	pub->newest.s.panic_cpu = -1;
}

GF_HD struct gf_board_task *gf_pub_tasks(struct gf_pub *pub)
{
	return (struct gf_board_task *)((char *)pub + pub->tasks_off);
}

/* An event goes into the ring at once, but counts only from the end of
 * the step (publish_events): its entry first, then its number. */
GF_HD static struct gf_loop_event *new_event(struct gf_loop *l, struct gf_pub *pub,
					     enum gf_loop_event_kind kind,
					     double now)
{
	uint64_t seq = l->ev_written + l->ev_pending++;
	struct gf_loop_event *ev = &pub->ev[seq % GF_EVENT_RING];

	ev->seq = ~0ull;
	FENCE();
	ev->time = now;
	ev->kind = kind;
	ev->stalled_s = 0;
	return ev;
}

GF_HD static void event_done(struct gf_loop_event *ev, uint64_t seq)
{
	FENCE();
	ev->seq = seq;
}

GF_HD static void verdict_event(struct gf_loop *l, struct gf_pub *pub,
				const struct gf_verdict *v, int now_active,
				double now)
{
	uint64_t seq = l->ev_written + l->ev_pending;
	struct gf_loop_event *ev = new_event(l, pub, now_active ? GF_LE_VERDICT
								: GF_LE_CLEAR, now);

	memcpy(&ev->verdict, v, sizeof *v);
	event_done(ev, seq);
}

GF_HD static void report_event(struct gf_loop *l, struct gf_pub *pub,
			       const struct gf_report *r, double now)
{
	uint64_t seq = l->ev_written + l->ev_pending;
	struct gf_loop_event *ev = new_event(l, pub, r->kind == GF_ACTION
						? GF_LE_ACTION : GF_LE_RESULT, now);

	memcpy(&ev->report, r, sizeof *r);
	event_done(ev, seq);
}

GF_HD static void host_event(struct gf_loop *l, struct gf_pub *pub,
			     enum gf_loop_event_kind kind, double stalled_s,
			     double now)
{
	uint64_t seq = l->ev_written + l->ev_pending;
	struct gf_loop_event *ev = new_event(l, pub, kind, now);

	ev->stalled_s = stalled_s;
	event_done(ev, seq);
}

GF_HD static void publish_events(struct gf_loop *l, struct gf_pub *pub)
{
	l->ev_written += l->ev_pending;
	l->ev_pending = 0;
	FENCE();
	pub->ev_head = l->ev_written;
	FENCE();
}

GF_HD void gf_loop_operator(struct gf_loop *l, struct gf_pub *pub,
			    const struct gf_report *r, double now)
{
	uint64_t seq = l->ev_written + l->ev_pending;
	struct gf_loop_event *ev = new_event(l, pub, GF_LE_OPERATOR, now);

	memcpy(&ev->report, r, sizeof *r);
	event_done(ev, seq);
	publish_events(l, pub);
}

/* ---- The host's heartbeat ---- */

/* The host advances host_beat while it runs; one that stands still for
 * host_stall_s is an event, and so is its coming back. */
GF_HD static void watch_host(struct gf_loop *l, struct gf_pub *pub, double now,
			     uint64_t beat)
{
	if (l->p.host_stall_s <= 0)
		return;
	if (!l->host_beat_at || beat != l->host_beat) {
		if (l->host_stalled)
			host_event(l, pub, GF_LE_HOST_RESUMED, now - l->host_beat_at, now);
		l->host_stalled = 0;
		l->host_beat = beat;
		l->host_beat_at = now;
	} else if (!l->host_stalled && now - l->host_beat_at >= l->p.host_stall_s) {
		l->host_stalled = 1;
		host_event(l, pub, GF_LE_HOST_STALLED, now - l->host_beat_at, now);
	}
}

/* ---- Sampling ---- */

/* The counters into the history's next point: GF_OK; else there is
 * nothing to judge this step: the counters' read failed (its error), or
 * the kernel restarted (GF_ESTALE). l->loss says whether it is lost. */
GF_HD_OUTLINE static int sample(struct gf_loop *l, const struct gf_kernel *k, double now)
{
	struct gf_history h = history_of(l);
	const struct gf_point *prev = gf_history_newest(&h);
	struct gf_point *p = gf_history_next(&h);
	int err = GF_OK;

	if (k->lay.has_metrics)
		err = gf_sample_counters(k, &p->s);
	else
		memset(&p->s, 0, sizeof p->s), p->s.panic_cpu = -1;
	if (err) {
		if (!l->failing_since)
			l->failing_since = now;
		if (now - l->failing_since >= LOST_AFTER_S) {
			l->loss = GF_LOSS_COUNTERS;
			l->lost_err = err;
		}
		return err;
	}
	l->failing_since = 0;
	if (prev && p->s.jiffies < prev->s.jiffies) {
		l->loss = GF_LOSS_RESTART;
		return GF_ESTALE;
	}
	p->time = now;
	gf_history_commit(&h);
	l->hcount = h.count;
	l->hnext = h.next;
	return GF_OK;
}

/* The gang's (gang.h): every rank. */
GF_HD static void walk(struct gf_loop *l, const struct gf_kernel *k)
{
	uint32_t n;
	int err = GF_EFAULT;

	for (int i = 0; i < WALK_ATTEMPTS; i++)
		if ((err = gf_walk_gang(k, 0, tasks_of(l), l->p.task_cap, &n,
					walk_of(l))) != GF_EFAULT &&
		    err != GF_ECORRUPT)
			break;
	if (gf_gang_rank() == 0) {
		l->ntasks = n;
		l->tasks_err = err;
		if (err && err != GF_ENOSPC) /* ENOSPC: the first task_cap stand */
			l->ntasks = 0;
	}
}

/* ---- Checkpoints: the processes at the ages the detectors read ----
 * For an age A a table is taken every A/2, GF_CHECKPOINTS kept: the
 * oldest is then between A and 1.5 A old, so that gf_procs_back(A) always
 * finds one once the loop has run for A. */

/* The processes t[0..n) as marks, indexed by tgid (index_cap: a power of
 * two above n, so a free slot is always found). */
GF_HD_OUTLINE void gf_checkpoint_fill(struct gf_mark *m, uint32_t *index,
			      uint32_t index_cap, const struct gf_task *t,
			      uint32_t n)
{
	uint32_t mask = index_cap - 1;

	memset(index, 0, index_cap * sizeof *index);
	for (uint32_t i = 0; i < n && i < index_cap / 2; i++) {
		uint32_t at = gf_tgid_slot(t[i].tgid, index_cap);
		m[i].tgid = t[i].tgid;
		m[i].start_time = t[i].start_time;
		m[i].cpu_ns = t[i].cpu_ns;
		m[i].pages = t[i].rss_pages + t[i].swap_pages;
		m[i].unused = 0;
		while (index[at])
			at = (at + 1) & mask;
		index[at] = i + 1;
	}
}

GF_HD_OUTLINE static void checkpoints(struct gf_loop *l, double now)
{
	if (l->tasks_err && l->tasks_err != GF_ENOSPC)
		return;
	for (uint32_t a = 0; a < l->p.nages && a < GF_MAX_AGES; a++) {
		uint32_t newest = (l->cp_next[a] + GF_CHECKPOINTS - 1) % GF_CHECKPOINTS;
		struct gf_checkpoint *cp = &l->cp[a][l->cp_next[a]];
		if (l->cp[a][newest].valid &&
		    now - l->cp[a][newest].time < l->p.age[a] / 2 - 1e-6)
			continue;
		gf_checkpoint_fill(marks_of(l, a * GF_CHECKPOINTS + l->cp_next[a]),
				   index_of(l, a * GF_CHECKPOINTS + l->cp_next[a]),
				   l->index_cap, tasks_of(l), l->ntasks);
		cp->time = now;
		cp->count = l->ntasks;
		cp->valid = 1;
		cp->complete = l->tasks_err == GF_OK;
		l->cp_next[a] = (l->cp_next[a] + 1) % GF_CHECKPOINTS;
	}
}

GF_HD static void procs_of(struct gf_loop *l, double now, struct gf_procs *p)
{
	p->task = tasks_of(l);
	p->ntasks = l->ntasks;
	p->time = now;
	p->npast = 0;
	for (uint32_t a = 0; a < l->p.nages && a < GF_MAX_AGES; a++)
		for (uint32_t i = 0; i < GF_CHECKPOINTS; i++) {
			struct gf_past *past = &p->past[p->npast];
			if (!l->cp[a][i].valid)
				continue;
			past->time = l->cp[a][i].time;
			past->mark = marks_of(l, a * GF_CHECKPOINTS + i);
			past->index = index_of(l, a * GF_CHECKPOINTS + i);
			past->count = l->cp[a][i].count;
			past->index_cap = l->index_cap;
			past->complete = l->cp[a][i].complete;
			p->npast++;
		}
}

/* ---- The kernel's log: F5, and a panic's last lines ---- */

GF_HD static int contains(const char *text, uint32_t len, const char *needle)
{
	for (uint32_t i = 0; i < len; i++) {
		uint32_t j = 0;
		while (needle[j] && i + j < len && text[i + j] == needle[j])
			j++;
		if (!needle[j])
			return 1;
	}
	return 0;
}

/* F5 is F3 plus the kernel's own report that a task slept holding a
 * spinlock; once seen it holds until the kernel restarts. The log is read
 * once a second, and at every step while F3's signature holds, so that F5
 * is told from F3 as soon as the counters show either. */
GF_HD_OUTLINE static void look_at_log(struct gf_loop *l, const struct gf_kernel *k,
			      const struct gf_judge *j, double now)
{
	struct gf_judge f5 = *j;
	uint32_t len;

	f5.atomic_sleep = 1;
	if (l->atomic_sleep || !k->lay.has_printk ||
	    (now - l->last_log_look < LOG_LOOK_S && !gf_detect(&f5, GF_F5, &l->probe)))
		return;
	l->last_log_look = now;
	if (!gf_log_tail(k, LOG_RECORDS, log_of(l), GF_LOOP_LOG, &len))
		l->atomic_sleep = contains(log_of(l), len, "scheduling while atomic");
}

/* The last lines, as many as fit, for the panic verdict. */
GF_HD_OUTLINE static void panic_log(struct gf_loop *l, const struct gf_kernel *k,
			    struct gf_pub *pub)
{
	const char *log = log_of(l);
	uint32_t len = 0, from = 0;

	if (!k->lay.has_printk ||
	    gf_log_tail(k, PANIC_LOG_RECORDS, log_of(l), GF_LOOP_LOG, &len))
		len = 0;
	while (len - from >= GF_PANIC_LOG) /* drop whole lines from the front */
		while (from < len && log[from++] != '\n')
			;
	memcpy(pub->panic_log, log + from, len - from);
	pub->panic_log[len - from] = 0;
}

/* ---- Judging and acting ---- */

GF_HD_OUTLINE static void judge(struct gf_loop *l, struct gf_pub *pub,
			const struct gf_judge *j, double now)
{
	for (int i = 0; i < GF_NCLASSES; i++) {
		enum gf_class cls = (enum gf_class)i;
		int was = l->v[cls].active;
		gf_detect(j, cls, &l->v[cls]);
		if (l->v[cls].active == was)
			continue;
		l->panic_pending |= cls == GF_PANIC && !was;
		verdict_event(l, pub, &l->v[cls], l->v[cls].active, now);
	}
}

GF_HD_OUTLINE static void recover(struct gf_loop *l, struct gf_pub *pub,
			  const struct gf_kernel *k, double now)
{
	struct gf_report reports[REPORTS];
	int n = recover_step(&l->p.policy, &l->rec, k, l->v, now, reports, REPORTS);

	for (int i = 0; i < n; i++)
		report_event(l, pub, &reports[i], now);
}

/* ---- The publication ---- */

GF_HD static int is_culprit(const struct gf_verdict *v, const struct gf_task *t)
{
	for (int c = 0; c < GF_NCLASSES; c++)
		for (uint32_t i = 0; v[c].active && i < v[c].nculprits; i++)
			if (v[c].culprit[i].pid == t->tgid &&
			    v[c].culprit[i].start_time == t->start_time)
				return 1;
	return 0;
}

/* The processes with their CPU use since the checkpoint `then`. */
GF_HD_OUTLINE static void publish_tasks(struct gf_loop *l, struct gf_pub *pub,
				const struct gf_past *then, double now)
{
	const struct gf_task *t = tasks_of(l);
	struct gf_board_task *out = gf_pub_tasks(pub);

	for (uint32_t i = 0; i < l->ntasks && i < pub->task_cap; i++) {
		const struct gf_mark *m = then ? gf_past_find(then, t[i].tgid,
							  t[i].start_time) : NULL;
		struct gf_board_task bt;
		memset(&bt, 0, sizeof bt);
		bt.t = t[i];
		if (m && t[i].cpu_ns >= m->cpu_ns && now > then->time)
			bt.cpu_pct = (float)(100e-9 * (double)(t[i].cpu_ns - m->cpu_ns) /
					     (now - then->time));
		bt.culprit = (uint8_t)is_culprit(l->v, &t[i]);
		out[i] = bt;
	}
	pub->ntasks = l->ntasks < pub->task_cap ? l->ntasks : pub->task_cap;
	pub->tasks_err = l->tasks_err;
}

/* Everything but the events, between an odd and an even gen. */
GF_HD_OUTLINE static void publish(struct gf_loop *l, struct gf_pub *pub,
			  const struct gf_kernel *k, const struct gf_procs *procs,
			  double now)
{
	struct gf_history h = history_of(l);
	const struct gf_point *newest = gf_history_newest(&h);
	const struct gf_point *then = gf_history_back(&h, GF_BOARD_RATE_S);
	struct gf_rates *r = scratch_of(l);

	if (then)
		gf_rates_between(then, newest, r);
	else
		memset(r, 0, sizeof *r);
	pub->gen++;
	FENCE();
	pub->steps = l->steps;
	pub->loss = l->loss;
	pub->lost_err = l->lost_err;
	pub->host_stalled = (uint32_t)l->host_stalled;
	pub->clock = now;
	if (newest)
		memcpy(&pub->newest, newest, sizeof *newest);
	memcpy(&pub->rates, r, sizeof *r);
	memcpy(pub->v, l->v, sizeof l->v);
	publish_tasks(l, pub, procs ? gf_procs_back(procs, GF_BOARD_RATE_S) : NULL, now);
	if (l->panic_pending)
		panic_log(l, k, pub);
	l->panic_pending = 0;
	FENCE();
	pub->gen++;
	FENCE();
}

/* A lost kernel is said once, and nothing is read from it any more. */
GF_HD static void publish_loss(struct gf_loop *l, struct gf_pub *pub)
{
	pub->gen++;
	FENCE();
	pub->loss = l->loss;
	pub->lost_err = l->lost_err;
	FENCE();
	pub->gen++;
	FENCE();
}

/* Up to the walk (rank 0): whether the step goes on to it. */
GF_HD_OUTLINE static int step_start(struct gf_loop *l, struct gf_pub *pub,
				    const struct gf_kernel *k, double now,
				    uint64_t host_beat)
{
	if (l->loss)
		return 0;
	watch_host(l, pub, now, host_beat);
	if (sample(l, k, now)) {
		if (l->loss)
			publish_loss(l, pub);
		publish_events(l, pub);
		return 0;
	}
	l->steps++;
	return 1;
}

/* After the walk (rank 0): detect, recover, publish. */
GF_HD_OUTLINE static void step_finish(struct gf_loop *l, struct gf_pub *pub,
				      const struct gf_kernel *k, double now)
{
	struct gf_history h;
	struct gf_procs procs;
	struct gf_judge j;

	checkpoints(l, now);
	procs_of(l, now, &procs);
	h = history_of(l);
	j.th = &l->p.th;
	j.h = &h;
	j.procs = &procs;
	j.atomic_sleep = l->atomic_sleep;
	j.scratch = scratch_of(l);
	if (k->lay.has_metrics) {
		look_at_log(l, k, &j, now);
		j.atomic_sleep = l->atomic_sleep;
		judge(l, pub, &j, now);
		recover(l, pub, k, now);
	}
	publish(l, pub, k, &procs, now);
	publish_events(l, pub);
}

GF_HD_OUTLINE void gf_loop_step(struct gf_loop *l, struct gf_pub *pub,
			const struct gf_kernel *k, double now,
			uint64_t host_beat)
{
	if (gf_gang_rank() == 0)
		l->walking = step_start(l, pub, k, now, host_beat);
	gf_gang_sync();
	if (!l->walking)
		return;
	walk(l, k);
	if (gf_gang_rank() == 0)
		step_finish(l, pub, k, now);
}
