/* view.c — the viewer: a remote agent's boards, processes, kernel log and
 * detectors, its signals, and the dashboard over them (--view).
 *
 * One client speaks for every use: it connects (tcp: or rdma:), proves its
 * key, and makes one request at a time. What goes wrong is classified the
 * GRASS way, for the operator to act on:
 *   monitor dead  the link is up but no answer came within the timeout
 *                 (a stopped or hung agent), or the agent answers but its
 *                 loop has stopped completing rounds;
 *   link dead     refused, reset or closed, or an RDMA completion error
 *                 (the agent's host, NIC or link is gone);
 *   refused       the agent said no (wrong key, other build).
 * A failed exchange drops the connection: an answer that comes late must
 * not be taken for the next request's.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "board.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "events.h"
#include "gpufas.h"
#include "hub.h"
#include "json.h"
#include "proto.h"
#include "rescue.h"
#include "transport.h"
#include "tui.h"
#include "view.h"

#define MAX_TASKS 65536

enum gf_link_state {
	GF_LINK_UP,
	GF_LINK_MONITOR_DEAD, /* connected, but no answer within the timeout */
	GF_LINK_DEAD,         /* refused, reset, closed, or a completion error */
	GF_LINK_REFUSED,      /* the agent said no (key, build, protocol) */
};

struct client {
	const char *spec;
	uint8_t key[GF_KEY_BYTES];
	struct gf_remote cfg;
	struct gf_io io;
	int connected;
	struct gf_session s;
	enum gf_link_state state;
	char why[256];
	struct gf_buf req, ans;
	/* heartbeats */
	uint64_t beat, rounds;
	double rtt_ms, rounds_seen, last_snapshot;
};

static const char *const state_names[] = {
	[GF_LINK_UP] = "up", [GF_LINK_MONITOR_DEAD] = "monitor dead",
	[GF_LINK_DEAD] = "link dead", [GF_LINK_REFUSED] = "refused",
};

static void client_drop(struct client *c, enum gf_link_state state,
			const char *why)
{
	if (c->connected)
		c->io.close(c->io.ctx);
	c->connected = 0;
	c->state = state;
	if (why != c->why)
		snprintf(c->why, sizeof c->why, "%s", why);
}

/* A receive failed: which kind of death it tells. */
static enum gf_link_state failure_kind(int rc)
{
	return rc == GF_EBUSY ? GF_LINK_MONITOR_DEAD
	       : rc == GF_EFAULT ? GF_LINK_DEAD : GF_LINK_REFUSED;
}

static int receive(struct client *c, uint32_t max)
{
	int rc = c->io.recv(c->io.ctx, &c->ans, max, c->cfg.timeout_s, c->why,
			    sizeof c->why);

	if (rc == GF_EBUSY)
		snprintf(c->why, sizeof c->why, "no answer within %.1f s", c->cfg.timeout_s);
	if (rc)
		client_drop(c, failure_kind(rc), c->why);
	return rc;
}

/* The agent's refusal of our proof comes as a plain-text answer. GF_OK,
 * or a GF_E* with the link dropped and why in c->why. */
static int handshake(struct client *c)
{
	const struct gf_msg_hdr *h;
	const struct gf_welcome *w;
	int rc;

	if ((rc = receive(c, sizeof *h + GF_NONCE_BYTES)))
		return rc;
	h = (const struct gf_msg_hdr *)c->ans.data;
	if (h->type != GF_MSG_CHALLENGE || h->length != GF_NONCE_BYTES) {
		client_drop(c, GF_LINK_REFUSED, "the agent sent no challenge");
		return GF_EINVAL;
	}
	auth_proof(&c->req, c->key, c->ans.data + sizeof *h, &c->s);
	if ((rc = c->io.send(c->io.ctx, &c->req))) {
		client_drop(c, GF_LINK_DEAD, "cannot send");
		return rc;
	}
	if ((rc = receive(c, sizeof *h + GF_REMOTE_MSG)))
		return rc;
	h = (const struct gf_msg_hdr *)c->ans.data;
	if (h->type == (GF_MSG_PROOF | GF_MSG_ANSWER)) {
		proto_answer_check(h, GF_MSG_PROOF, 0, c->why, sizeof c->why);
		client_drop(c, GF_LINK_REFUSED, c->why);
		return GF_EREFUSED;
	}
	if (auth_open(&c->s, c->ans.data, c->ans.len, 0, c->why, sizeof c->why) ||
	    h->type != GF_MSG_WELCOME || h->length != sizeof *w) {
		client_drop(c, GF_LINK_REFUSED, h->type == GF_MSG_WELCOME ? c->why
				: "no welcome from the agent");
		return GF_EINVAL;
	}
	w = (const struct gf_welcome *)(h + 1);
	c->s.role = w->role;
	c->s.ntargets = w->ntargets;
	return GF_OK;
}

/* Connected and through the handshake: GF_OK, or a GF_E* with c->state
 * and c->why saying what became of the link. */
static int client_connect(struct client *c)
{
	const struct gf_transport *t;
	const char *addr;
	int rc;

	if (c->connected)
		return GF_OK;
	if ((t = gf_transport_find(c->spec, &addr)) && t->connect) {
		rc = t->connect(&c->io, addr, c->cfg.timeout_s, c->why, sizeof c->why);
	} else {
		gf_transport_want(1, c->why, sizeof c->why);
		rc = GF_EINVAL;
	}
	if (rc) {
		c->state = failure_kind(rc);
		return rc;
	}
	c->connected = 1;
	if ((rc = handshake(c)))
		return rc;
	c->state = GF_LINK_UP;
	c->rounds_seen = gf_now_monotonic();
	return GF_OK;
}

/* One request and its answer: GF_OK with the answer's payload of at least
 * min bytes in c->ans, or a GF_E* with why in c->why (the agent's own
 * refusal, or the link's state). */
static int client_call(struct client *c, uint16_t type, int32_t target,
		       const struct gf_request *rq, uint32_t min)
{
	struct gf_request *body;
	int rc;

	if (client_connect(c))
		return GF_EBUSY;
	body = msg_start(&c->req, type, ++c->s.seq, target, GF_OK, sizeof *body);
	if (!body) {
		snprintf(c->why, sizeof c->why, "out of memory");
		return GF_ENOMEM;
	}
	*body = *rq;
	auth_seal(&c->s, &c->req);
	if (c->io.send(c->io.ctx, &c->req)) {
		client_drop(c, GF_LINK_DEAD, "cannot send: the link is down");
		return GF_EBUSY;
	}
	if (receive(c, sizeof(struct gf_msg_hdr) + GF_MAX_PAYLOAD))
		return GF_EBUSY;
	if (auth_open(&c->s, c->ans.data, c->ans.len, 0, c->why, sizeof c->why)) {
		client_drop(c, GF_LINK_REFUSED, c->why);
		return GF_EINVAL;
	}
	rc = proto_answer_check((const struct gf_msg_hdr *)c->ans.data, type, min,
				c->why, sizeof c->why);
	return rc;
}

static const void *payload(const struct client *c)
{
	return c->ans.data + sizeof(struct gf_msg_hdr);
}

static uint32_t payload_len(const struct client *c)
{
	return ((const struct gf_msg_hdr *)c->ans.data)->length;
}

/* A heartbeat: its round trip, and whether the agent's loop still turns
 * (its round counter must move within the timeout). */
static int client_heartbeat(struct client *c)
{
	struct gf_request rq = { .beat = ++c->beat };
	double t0 = gf_now_monotonic(), now;
	const struct gf_beat *b;
	int rc = client_call(c, GF_MSG_HEARTBEAT, 0, &rq, sizeof *b);

	if (rc)
		return rc;
	now = gf_now_monotonic();
	b = payload(c);
	if (b->beat != rq.beat) {
		client_drop(c, GF_LINK_REFUSED, "a heartbeat answered with another's number");
		return GF_EINVAL;
	}
	c->rtt_ms = (now - t0) * 1000;
	if (b->rounds != c->rounds) {
		c->rounds = b->rounds;
		c->rounds_seen = now;
	} else if (now - c->rounds_seen > c->cfg.timeout_s) {
		c->state = GF_LINK_MONITOR_DEAD;
		snprintf(c->why, sizeof c->why, "the agent answers, but its loop has "
			 "completed no round for %.1f s", now - c->rounds_seen);
		return GF_EBUSY;
	}
	c->state = GF_LINK_UP;
	return GF_OK;
}

static int client_board(struct client *c, int target, struct gf_board *out)
{
	struct gf_request rq = { 0 };
	int rc = client_call(c, GF_MSG_SNAPSHOT, target, &rq, sizeof *out);

	if (rc)
		return rc;
	if (payload_len(c) != sizeof *out) {
		snprintf(c->why, sizeof c->why, "a board of %u bytes", payload_len(c));
		return GF_EINVAL;
	}
	memcpy(out, payload(c), sizeof *out);
	board_sanitize(out);
	c->last_snapshot = gf_now_monotonic();
	return GF_OK;
}

/* The process list; every count checked against the payload's size. */
static int client_tasks(struct client *c, int target, struct gf_board_task *out,
			uint32_t cap, uint32_t *count)
{
	struct gf_request rq = { 0 };
	struct gf_ps_head head;
	int rc = client_call(c, GF_MSG_PS, target, &rq, sizeof head);

	*count = 0;
	if (rc)
		return rc;
	memcpy(&head, payload(c), sizeof head);
	if (head.count > (payload_len(c) - sizeof head) / sizeof *out ||
	    sizeof head + (size_t)head.count * sizeof *out != payload_len(c)) {
		snprintf(c->why, sizeof c->why, "%u processes in a %u-byte answer",
			 head.count, payload_len(c));
		return GF_EINVAL;
	}
	*count = head.count < cap ? head.count : cap;
	memcpy(out, (const uint8_t *)payload(c) + sizeof head, *count * sizeof *out);
	for (uint32_t i = 0; i < *count; i++)
		out[i].t.comm[GF_COMM_LEN - 1] = 0;
	return head.count > cap ? GF_ENOSPC : GF_OK;
}

static int client_signal(struct client *c, int target, int32_t pid,
			 uint64_t start_time, int sig)
{
	struct gf_request rq = { .pid = pid, .sig = sig, .start_time = start_time };
	int rc = client_call(c, GF_MSG_SIGNAL, target, &rq, 0);

	if (!rc)
		snprintf(c->why, sizeof c->why, "%.*s", (int)payload_len(c),
			 (const char *)payload(c));
	return rc;
}

static void client_link(const struct client *c, char *buf, size_t len)
{
	double age = c->last_snapshot ? gf_now_monotonic() - c->last_snapshot : -1;

	if (c->state == GF_LINK_UP)
		snprintf(buf, len, "%s up, heartbeat %.2f ms, snapshot %.1f s old", c->spec,
			 c->rtt_ms, age);
	else
		snprintf(buf, len, "%s %s: %s; snapshot %.0f s old", c->spec,
			 state_names[c->state], c->why, age);
}

static int client_open(struct client *c, const struct view_opts *o)
{
	char err[512];

	memset(c, 0, sizeof *c);
	c->spec = o->spec;
	remote_defaults(&c->cfg);
	if (o->config && remote_config_load(&c->cfg, o->config, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 2;
	}
	if (o->key)
		snprintf(c->cfg.key, sizeof c->cfg.key, "%s", o->key);
	if (auth_init()) {
		fprintf(stderr, "gpufas: libsodium did not initialise\n");
		return 1;
	}
	if (!c->cfg.key[0]) {
		fprintf(stderr, "gpufas: --view needs --key FILE (or [remote] key)\n");
		return 2;
	}
	if (auth_key_load(c->cfg.key, c->key, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 1;
	}
	return 0;
}

static void client_close(struct client *c)
{
	if (c->connected)
		c->io.close(c->io.ctx);
	gf_buf_free(&c->req);
	gf_buf_free(&c->ans);
	sodium_memzero(c->key, sizeof c->key);
	sodium_memzero(&c->s, sizeof c->s);
}

static int fail(const struct client *c, const char *what)
{
	if (c->state != GF_LINK_UP)
		fprintf(stderr, "gpufas: %s: %s: %s\n", c->spec, state_names[c->state], c->why);
	else
		fprintf(stderr, "gpufas: %s: %s: %s\n", c->spec, what, c->why);
	return 1;
}

/* ---- One-shot commands ---- */

static void metrics_json(const struct gf_board *b)
{
	const struct gf_rates *r = &b->rates;

	printf(",\"metrics\":{\"uptime_s\":%.1f,\"hz\":%u,\"processes\":%u,\"cpus\":%u,"
	       "\"online\":%u,\"cs_per_s\":%.0f,\"running\":%u,\"blocked\":%" PRId64
	       ",\"pswpin_per_s\":%.0f,\"pswpout_per_s\":%.0f,\"majflt_per_s\":%.0f"
	       ",\"mem_total_kib\":%" PRIu64 ",\"mem_free_kib\":%" PRIu64
	       ",\"mem_available_kib\":%" PRIu64 ",\"swap_total_kib\":%" PRIu64
	       ",\"swap_free_kib\":%" PRIu64 "}", b->uptime_s, b->hz, b->nprocs,
	       r->ncpus, r->online, r->cs, r->running, r->blocked, r->pswpin,
	       r->pswpout, r->majflt, b->mem_total_kib, b->mem_free_kib,
	       b->mem_available_kib, b->swap_total_kib, b->swap_free_kib);
}

static void detectors_json(const struct gf_board *b)
{
	printf(",\"detectors\":[");
	for (int i = 0; i < GF_NCLASSES; i++) {
		printf("%s{\"state\":\"%s\"", i ? "," : "",
		       b->verdict[i].active ? "fault" : "ok");
		gf_verdict_json(stdout, &b->verdict[i], NULL);
		putchar('}');
	}
	putchar(']');
}

static void tasks_json(const struct gf_board_task *t, uint32_t n)
{
	printf(",\"processes\":[");
	for (uint32_t i = 0; i < n; i++) {
		double cpu_pct = t[i].cpu_pct;
		fputs(i ? "," : "", stdout);
		json_task(stdout, &t[i].t, &cpu_pct);
	}
	putchar(']');
}

static void snapshot_json(const struct client *c, const struct gf_board *b,
			  const struct gf_board_task *t, uint32_t n)
{
	printf("{\"target\":");
	json_string(stdout, b->target, sizeof b->target);
	printf(",\"release\":");
	json_string(stdout, b->release, sizeof b->release);
	printf(",\"attached\":%s,\"status\":", b->attached ? "true" : "false");
	json_string(stdout, b->status, sizeof b->status);
	printf(",\"engine\":");
	json_string(stdout, b->engine, sizeof b->engine);
	metrics_json(b);
	detectors_json(b);
	tasks_json(t, n);
	printf(",\"link\":{\"spec\":");
	json_string(stdout, c->spec, 160);
	printf(",\"role\":\"%s\"}}\n", c->s.role == GF_ROLE_OPERATOR ? "operator" : "read");
}

static void snapshot_text(const struct gf_board *b, uint32_t n)
{
	printf("target   %s\nrelease  %s\nstatus   %s\nengine   %s\n"
	       "cpus     %u\nmemory   %" PRIu64 " of %" PRIu64 " MiB available\n"
	       "processes %u\n", b->target, b->release,
	       b->attached ? "attached" : b->status, b->engine, b->rates.ncpus,
	       b->mem_available_kib >> 10, b->mem_total_kib >> 10, n);
	for (int i = 0; i < GF_NCLASSES; i++)
		gf_verdict_text(&b->verdict[i]);
}

/* --once: every target's board and processes. */
static int view_once(struct client *c, int json)
{
	struct gf_board *b = malloc(sizeof *b);
	struct gf_board_task *t = malloc(MAX_TASKS * sizeof *t);
	uint32_t n;
	int rc = 0;

	if (!b || !t) {
		fprintf(stderr, "gpufas: out of memory\n");
		rc = 1;
		goto out;
	}
	for (uint32_t i = 0; i < c->s.ntargets && !rc; i++) {
		if (client_board(c, (int)i, b) ||
		    client_tasks(c, (int)i, t, MAX_TASKS, &n) == GF_EINVAL) {
			rc = fail(c, "snapshot");
			break;
		}
		if (json)
			snapshot_json(c, b, t, n);
		else
			snapshot_text(b, n);
	}
out:
	free(t);
	free(b);
	return rc;
}

static int view_ps(struct client *c, int target, int json)
{
	struct gf_board_task *bt = malloc(MAX_TASKS * sizeof *bt);
	struct gf_task *t = malloc(MAX_TASKS * sizeof *t);
	uint32_t n = 0;
	int rc = 0;

	if (!bt || !t)
		rc = fprintf(stderr, "gpufas: out of memory\n") > 0;
	else if (client_tasks(c, target, bt, MAX_TASKS, &n) == GF_EINVAL ||
		 (!n && c->state != GF_LINK_UP))
		rc = fail(c, "ps");
	for (uint32_t i = 0; !rc && i < n; i++)
		t[i] = bt[i].t;
	if (!rc)
		rescue_ps_print(t, n, json);
	free(t);
	free(bt);
	return rc;
}

static int view_kill(struct client *c, const struct view_opts *o)
{
	if (client_signal(c, o->target, o->pid, 0, o->sig))
		return fail(c, "kill");
	printf("%s\n", c->why);
	return 0;
}

static int view_log(struct client *c, const struct view_opts *o)
{
	struct gf_request rq = { .arg = o->log_records };

	if (client_call(c, GF_MSG_LOG, o->target, &rq, 0))
		return fail(c, "log");
	fwrite(payload(c), 1, payload_len(c), stdout);
	return 0;
}

/* Inline detection, one request per class, answered by the agent's loop
 * on its own history. */
static int view_detect(struct client *c, const struct view_opts *o)
{
	struct gf_verdict v;

	for (uint32_t cls = 0; cls < GF_NCLASSES; cls++) {
		struct gf_request rq = { .arg = cls };
		if (client_call(c, GF_MSG_DETECT, o->target, &rq, sizeof v) ||
		    payload_len(c) != sizeof v)
			return fail(c, "detect");
		memcpy(&v, payload(c), sizeof v);
		if (v.nevidence > GF_MAX_EVIDENCE || v.nculprits > GF_MAX_CULPRITS ||
		    v.cls != (enum gf_class)cls) {
			snprintf(c->why, sizeof c->why, "a malformed verdict");
			return fail(c, "detect");
		}
		for (uint32_t i = 0; i < v.nevidence; i++)
			v.evidence[i].name[GF_EVIDENCE_NAME - 1] = 0;
		for (uint32_t i = 0; i < v.nculprits; i++)
			v.culprit[i].comm[GF_COMM_LEN - 1] = 0;
		if (o->json) {
			printf("{\"state\":\"%s\"", v.active ? "fault" : "ok");
			gf_verdict_json(stdout, &v, NULL);
			printf("}\n");
		} else {
			gf_verdict_text(&v);
		}
	}
	return 0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void print_rtts(const char *what, double *ms, int n)
{
	qsort(ms, (size_t)n, sizeof *ms, by_value);
	printf("%-9s n=%d min %.3f median %.3f p99 %.3f ms\n", what, n, ms[0],
	       ms[n / 2], ms[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1]);
}

/* --rtt: n heartbeats, then n snapshots, back to back on one session:
 * min, median and 99th percentile of their round trips. */
static int view_rtt(struct client *c, int n)
{
	double *ms = malloc((size_t)n * sizeof *ms);
	struct gf_board *b = malloc(sizeof *b);
	int rc = 0;

	if (!ms || !b) {
		rc = fprintf(stderr, "gpufas: out of memory\n") > 0;
		goto out;
	}
	for (int i = 0; i < n && !rc; i++) {
		if (client_heartbeat(c))
			rc = fail(c, "heartbeat");
		ms[i] = c->rtt_ms;
	}
	if (!rc)
		print_rtts("heartbeat", ms, n);
	for (int i = 0; i < n && !rc; i++) {
		double t0 = gf_now_monotonic();
		if (client_board(c, 0, b))
			rc = fail(c, "snapshot");
		ms[i] = (gf_now_monotonic() - t0) * 1000;
	}
	if (!rc)
		print_rtts("snapshot", ms, n);
out:
	free(b);
	free(ms);
	return rc;
}

/* Set by SIGTERM's handler (and by the dashboard's end), read by the
 * heartbeat thread: a lock-free atomic, as agent.c's flags. */
static atomic_int stop_viewing;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "a signal handler stores to atomic_int");

static void on_stop(int sig)
{
	(void)sig;
	stop_viewing = 1;
}

/* --heartbeat: one line a beat, the link's state and round trip; a link
 * that goes down is reconnected at the next beat. count 0: until stopped. */
static int view_heartbeat(struct client *c, int count)
{
	int failures = 0;

	for (int i = 1; (!count || i <= count) && !stop_viewing; i++) {
		double t0 = gf_now_monotonic();
		if (client_heartbeat(c) == GF_OK) {
			printf("beat %d: up, rtt %.3f ms, rounds %" PRIu64 "\n", i, c->rtt_ms,
			       c->rounds);
		} else {
			printf("beat %d: %s: %s\n", i, state_names[c->state], c->why);
			failures++;
		}
		fflush(stdout);
		if (!count || i < count)
			gf_sleep(c->cfg.heartbeat_s - (gf_now_monotonic() - t0));
	}
	return failures ? 1 : 0;
}

/* ---- The dashboard's source: heartbeats in a thread of their own ---- */

struct remote_source {
	struct client c;
	pthread_mutex_t lock; /* one request at a time on the link */
	pthread_t beat;
	atomic_int *stop;
};

static void *beat_loop(void *arg)
{
	struct remote_source *rs = arg;

	while (!*rs->stop) {
		pthread_mutex_lock(&rs->lock);
		client_heartbeat(&rs->c);
		pthread_mutex_unlock(&rs->lock);
		gf_sleep(rs->c.cfg.heartbeat_s);
	}
	return NULL;
}

/* While the link is down the dashboard is answered at once (it keeps
 * showing what it has, and the link line says why): only the heartbeat
 * thread waits on a dead agent, and it reconnects. */
static int source_board(void *ctx, int target, struct gf_board *out)
{
	struct remote_source *rs = ctx;
	int rc = GF_EBUSY;

	pthread_mutex_lock(&rs->lock);
	if (rs->c.state == GF_LINK_UP)
		rc = client_board(&rs->c, target, out);
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

static int source_tasks(void *ctx, int target, struct gf_board_task *out,
			uint32_t cap, uint32_t *count)
{
	struct remote_source *rs = ctx;
	int rc = GF_EBUSY;

	*count = 0;
	pthread_mutex_lock(&rs->lock);
	if (rs->c.state == GF_LINK_UP)
		rc = client_tasks(&rs->c, target, out, cap, count);
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

static int source_signal(void *ctx, int target, int32_t pid,
			 uint64_t start_time, int sig, char *msg, size_t msglen)
{
	struct remote_source *rs = ctx;
	int rc;

	pthread_mutex_lock(&rs->lock);
	rc = client_signal(&rs->c, target, pid, start_time, sig);
	snprintf(msg, msglen, "%s", rs->c.why);
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

static void source_link(void *ctx, char *buf, size_t len)
{
	struct remote_source *rs = ctx;

	pthread_mutex_lock(&rs->lock);
	client_link(&rs->c, buf, len);
	pthread_mutex_unlock(&rs->lock);
}

static int view_dashboard(struct remote_source *rs)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct gf_source src = {
		.ctx = rs, .ntargets = (int)rs->c.s.ntargets, .board = source_board,
		.tasks = source_tasks, .link = source_link,
		.signal = rs->c.s.role == GF_ROLE_OPERATOR ? source_signal : NULL,
	};
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	pthread_mutex_init(&rs->lock, NULL);
	rs->stop = &stop_viewing;
	if ((rc = pthread_create(&rs->beat, NULL, beat_loop, rs))) {
		fprintf(stderr, "gpufas: cannot start heartbeats: %s\n", strerror(rc));
		return 1;
	}
	rc = tui_run(&src, &stop_viewing);
	stop_viewing = 1;
	pthread_join(rs->beat, NULL);
	pthread_mutex_destroy(&rs->lock);
	return rc;
}

int view_run(const struct view_opts *o)
{
	struct remote_source *rs = calloc(1, sizeof *rs);
	struct client *c = &rs->c;
	int rc;

	if (!rs) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	if ((rc = client_open(c, o)))
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if (o->action != VIEW_HEARTBEAT && client_connect(c)) {
		rc = fail(c, "connect");
		goto out_client;
	}
	switch (o->action) {
	case VIEW_ONCE: rc = view_once(c, o->json); break;
	case VIEW_PS: rc = view_ps(c, o->target, o->json); break;
	case VIEW_KILL: rc = view_kill(c, o); break;
	case VIEW_LOG: rc = view_log(c, o); break;
	case VIEW_DETECT: rc = view_detect(c, o); break;
	case VIEW_HEARTBEAT: rc = view_heartbeat(c, o->count); break;
	case VIEW_RTT: rc = view_rtt(c, o->count); break;
	default: rc = view_dashboard(rs); break;
	}
out_client:
	client_close(c);
out:
	free(rs);
	return rc;
}
