/* hub.c — where the agent's loop meets its readers.
 *
 * The loop owns the watches and is the only thread that reads or writes a
 * target (the GPU engine's mailbox takes one request at a time). It
 * publishes a copy of each target's board, processes and event counts here
 * after every round; the dashboard, the remote server and the Prometheus
 * exposition copy them out under the lock.
 * An operator's signal goes the other way: queued here, carried out by the
 * loop at its next round (hub_serve), answered through a condition
 * variable, so the writer of guest memory stays one thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "clock.h"
#include "engine.h"
#include "gpufas.h"
#include "hub.h"
#include "operator.h"
#include "recover.h"
#include "watch.h"

/* One request at a time per target: a signal, a kernel log tail or an
 * inline detection, each carried out by the loop on the target's watch
 * (the loop alone touches guest memory). A second request waits for the
 * first. */
struct request {
	int pending, done;
	uint64_t ticket;       /* which asker the answer is for */
	struct hub_job job;
};

struct slot {
	struct gf_board board;
	struct gf_counts counts;
	struct gf_board_task *tasks;
	uint32_t ntasks, cap;
	struct request req;
};

struct hub {
	pthread_mutex_t lock;
	pthread_cond_t answered;
	uint64_t tickets;
	uint64_t rounds; /* boards published: a heartbeat that stops with the loop */
	double round_s;  /* how long the loop's last round took */
	int n;
	struct slot slot[];
};

struct hub *hub_new(int ntargets)
{
	struct hub *h = calloc(1, sizeof *h + (size_t)ntargets * sizeof h->slot[0]);

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->answered, NULL);
	h->n = ntargets;
	return h;
}

void hub_free(struct hub *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->n; i++)
		free(h->slot[i].tasks);
	pthread_cond_destroy(&h->answered);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int hub_targets(const struct hub *h)
{
	return h->n;
}

void hub_publish(struct hub *h, int target, const struct gf_board *b,
		 const struct gf_counts *counts,
		 const struct gf_board_task *tasks, uint32_t ntasks)
{
	struct slot *s = &h->slot[target];

	pthread_mutex_lock(&h->lock);
	s->board = *b;
	s->counts = *counts;
	if (ntasks > s->cap) {
		struct gf_board_task *grown = realloc(s->tasks, ntasks * sizeof *grown);
		if (grown) {
			s->tasks = grown;
			s->cap = ntasks;
		}
	}
	s->ntasks = ntasks <= s->cap ? ntasks : s->cap;
	h->rounds++;
	if (s->ntasks)
		memcpy(s->tasks, tasks, s->ntasks * sizeof *tasks);
	pthread_mutex_unlock(&h->lock);
}

int hub_board(struct hub *h, int target, struct gf_board *out)
{
	if (target < 0 || target >= h->n)
		return GF_EINVAL;
	pthread_mutex_lock(&h->lock);
	*out = h->slot[target].board;
	pthread_mutex_unlock(&h->lock);
	return GF_OK;
}

int hub_counts(struct hub *h, int target, struct gf_counts *out)
{
	if (target < 0 || target >= h->n)
		return GF_EINVAL;
	pthread_mutex_lock(&h->lock);
	*out = h->slot[target].counts;
	pthread_mutex_unlock(&h->lock);
	return GF_OK;
}

void hub_round(struct hub *h, double seconds)
{
	pthread_mutex_lock(&h->lock);
	h->round_s = seconds;
	pthread_mutex_unlock(&h->lock);
}

double hub_round_s(struct hub *h)
{
	double s;

	pthread_mutex_lock(&h->lock);
	s = h->round_s;
	pthread_mutex_unlock(&h->lock);
	return s;
}

int hub_tasks(struct hub *h, int target, struct gf_board_task *out,
	      uint32_t cap, uint32_t *count)
{
	struct slot *s;
	int err = GF_OK;

	*count = 0;
	if (target < 0 || target >= h->n)
		return GF_EINVAL;
	s = &h->slot[target];
	pthread_mutex_lock(&h->lock);
	*count = s->ntasks < cap ? s->ntasks : cap;
	if (*count)
		memcpy(out, s->tasks, *count * sizeof *out);
	if (s->ntasks > cap)
		err = GF_ENOSPC;
	pthread_mutex_unlock(&h->lock);
	return err;
}

uint64_t hub_rounds(struct hub *h)
{
	uint64_t n;

	pthread_mutex_lock(&h->lock);
	n = h->rounds;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* An operator's signal goes into the watch's events like the policy's
 * own actions: whoever reads the agent's log sees every write to a guest. */
static void tell_operator_signal(struct watch *w, const struct hub_job *j)
{
	struct gf_report r = { .kind = GF_ACTION, .pid = j->pid, .sig = j->sig,
			       .outcome = j->result ? GF_REFUSED : GF_WRITTEN };
	struct gf_event ev = { .kind = GF_EV_OPERATOR, .w = w, .report = &r,
			       .time = gf_now_wall(),
			       .detail = j->msg };

	w->emit(w->ctx, &ev);
}

/* Carries out one job on an attached watch. */
static void run_job(struct hub_job *j, struct watch *w)
{
	struct kill_opts o = { .pid = j->pid, .sig = j->sig };

	switch (j->kind) {
	case HUB_SIGNAL:
		j->result = operator_signal(&w->e, &o, j->start_time, w->t.read_only,
					    j->msg, sizeof j->msg);
		tell_operator_signal(w, j);
		break;
	case HUB_LOG:
		j->result = engine_log_tail(&w->e, j->records, j->log, sizeof j->log,
					    &j->loglen);
		if (j->result)
			snprintf(j->msg, sizeof j->msg, "cannot read the kernel log: %s",
				 gf_strerror(j->result));
		break;
	case HUB_DETECT: /* the watch loop's verdict of its newest sample */
		j->verdict = watch_verdicts(w)[j->cls];
		j->result = GF_OK;
		break;
	}
}

/* The loop's side: one queued request, carried out on the watch. */
void hub_serve(struct hub *h, int target, struct watch *w)
{
	struct request *r = &h->slot[target].req;
	struct hub_job *job;
	uint64_t ticket;
	int waiting;

	pthread_mutex_lock(&h->lock);
	waiting = r->pending && !r->done;
	ticket = r->ticket;
	pthread_mutex_unlock(&h->lock);
	/* 16 KiB of log: not on the stack, and only when asked */
	if (!waiting || !(job = malloc(sizeof *job)))
		return;
	pthread_mutex_lock(&h->lock);
	*job = r->job;
	pthread_mutex_unlock(&h->lock);
	if (!w->attached) {
		job->result = GF_ESRCH;
		snprintf(job->msg, sizeof job->msg, "the target is not attached: %.200s",
			 w->why);
	} else {
		run_job(job, w);
	}
	pthread_mutex_lock(&h->lock);
	if (r->pending && r->ticket == ticket) {
		r->job = *job;
		r->done = 1;
		pthread_cond_broadcast(&h->answered);
	}
	pthread_mutex_unlock(&h->lock);
	free(job);
}

/* Waits for the slot to be free, then for our answer; gives the slot up
 * on timeout so that a later request is not stuck behind ours. */
int hub_request(struct hub *h, int target, struct hub_job *job,
		double timeout_s)
{
	struct timespec until = gf_wall_deadline(timeout_s);
	struct request *r;
	uint64_t ticket;
	int rc = 0;

	if (target < 0 || target >= h->n) {
		snprintf(job->msg, sizeof job->msg, "no target %d", target);
		return job->result = GF_EINVAL;
	}
	r = &h->slot[target].req;
	pthread_mutex_lock(&h->lock);
	while (r->pending && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&h->answered, &h->lock, &until);
	if (r->pending) {
		pthread_mutex_unlock(&h->lock);
		snprintf(job->msg, sizeof job->msg, "another request is in progress");
		return job->result = GF_EBUSY;
	}
	ticket = ++h->tickets;
	r->pending = 1;
	r->done = 0;
	r->ticket = ticket;
	r->job = *job;
	while (!r->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&h->answered, &h->lock, &until);
	if (r->done) {
		*job = r->job;
	} else {
		job->result = GF_EBUSY;
		snprintf(job->msg, sizeof job->msg,
			 "the agent did not answer within %.1f s", timeout_s);
	}
	r->pending = 0;
	pthread_cond_broadcast(&h->answered);
	pthread_mutex_unlock(&h->lock);
	return job->result;
}

int hub_signal(struct hub *h, int target, int32_t pid, uint64_t start_time,
	       int sig, double timeout_s, char *msg, size_t msglen)
{
	struct hub_job *job = calloc(1, sizeof *job);
	int rc;

	if (!job) {
		snprintf(msg, msglen, "out of memory");
		return GF_ENOMEM;
	}
	*job = (struct hub_job){ .kind = HUB_SIGNAL, .pid = pid,
				 .start_time = start_time, .sig = sig };
	rc = hub_request(h, target, job, timeout_s);
	snprintf(msg, msglen, "%s", job->msg);
	free(job);
	return rc;
}

/* ---- The hub as the dashboard's source ---- */

#define SIGNAL_TIMEOUT_S 5.0

static int source_board(void *ctx, int target, struct gf_board *out)
{
	return hub_board(ctx, target, out);
}

static int source_tasks(void *ctx, int target, struct gf_board_task *out,
			uint32_t cap, uint32_t *count)
{
	return hub_tasks(ctx, target, out, cap, count);
}

static int source_signal(void *ctx, int target, int32_t pid,
			 uint64_t start_time, int sig, char *msg, size_t msglen)
{
	return hub_signal(ctx, target, pid, start_time, sig, SIGNAL_TIMEOUT_S,
			  msg, msglen);
}

static void source_link(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	snprintf(buf, len, "local");
}

void hub_source(struct hub *h, struct gf_source *src)
{
	*src = (struct gf_source){
		.ctx = h, .ntargets = h->n, .board = source_board,
		.tasks = source_tasks, .signal = source_signal, .link = source_link,
	};
}
