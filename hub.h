/* hub.h — where the agent's loop meets its readers (hub.c): boards,
 * processes, counts, and the requests carried out for them.
 */
#ifndef GPUFAS_HUB_H
#define GPUFAS_HUB_H

#include <stddef.h>

#include "detect.h"
#include "recover.h"

struct gf_board;
struct gf_board_task;
struct watch;

/* The agent's loop owns the watches; after each round it publishes every
 * target's board, processes and event counts here, and carries out the
 * signal requests queued here. Readers in other threads (the dashboard,
 * the remote server, the Prometheus endpoint and textfile) copy out under
 * the hub's lock and never touch a watch. */
struct hub;

/* What the agent counted of one target's events since it started, as it
 * wrote them (prom_count): Prometheus's counters. */
#define GF_NOUTCOMES (GF_REFUSED + 1)
struct gf_counts {
	uint64_t verdicts[GF_NCLASSES], actions[GF_NCLASSES];
	uint64_t results[GF_NCLASSES][GF_NOUTCOMES];
	uint64_t operator_signals[GF_NOUTCOMES];
};

struct hub *hub_new(int ntargets);
void hub_free(struct hub *h);
int hub_targets(const struct hub *h);
/* agent side */
void hub_publish(struct hub *h, int target, const struct gf_board *b,
		 const struct gf_counts *counts,
		 const struct gf_board_task *tasks, uint32_t ntasks);
void hub_round(struct hub *h, double seconds);
void hub_serve(struct hub *h, int target, struct watch *w);
/* reader side: copies, safe from any thread */
int hub_board(struct hub *h, int target, struct gf_board *out);
int hub_counts(struct hub *h, int target, struct gf_counts *out);
double hub_round_s(struct hub *h);
int hub_tasks(struct hub *h, int target, struct gf_board_task *out,
	      uint32_t cap, uint32_t *count);
/* Asks the agent's loop to signal pid (whose start_time the caller saw,
 * 0: any) and waits up to timeout_s for its answer: GF_OK, or a GF_E*
 * with why in msg. */
int hub_signal(struct hub *h, int target, int32_t pid, uint64_t start_time,
	       int sig, double timeout_s, char *msg, size_t msglen);

/* ---- What the dashboard draws from: a local agent's hub, or a remote
 * agent through --view. Every call copies and may be made at any time;
 * a source that cannot answer says why (GF_E*, and link() tells). ---- */
struct gf_source {
	void *ctx;
	int ntargets;
	int (*board)(void *ctx, int target, struct gf_board *out);
	int (*tasks)(void *ctx, int target, struct gf_board_task *out,
		     uint32_t cap, uint32_t *count);
	/* NULL where this session may not signal (a read-only key) */
	int (*signal)(void *ctx, int target, int32_t pid, uint64_t start_time,
		      int sig, char *msg, size_t msglen);
	/* the header's link: "local", or transport, state and heartbeat RTT */
	void (*link)(void *ctx, char *buf, size_t len);
};

void hub_source(struct hub *h, struct gf_source *src);

/* hub.c: the requests the agent's loop carries out for remote readers */
enum hub_job_kind { HUB_SIGNAL, HUB_LOG, HUB_DETECT };
#define HUB_LOG_MAX 16384

struct hub_job {
	enum hub_job_kind kind;
	int32_t pid;          /* signal */
	uint64_t start_time;
	int sig;
	uint32_t records;     /* log */
	enum gf_class cls;    /* detect */
	int result;           /* GF_OK or GF_E*, with why in msg */
	char msg[256];
	uint32_t loglen;
	char log[HUB_LOG_MAX];
	struct gf_verdict verdict;
};

int hub_request(struct hub *h, int target, struct hub_job *job,
		double timeout_s);
uint64_t hub_rounds(struct hub *h);

#endif
