/* proto.c — the remote protocol: messages, answering them, and the agent's
 * server that both transports (tcp.c, rdma.c) hand their connections to.
 *
 * Every message is a fixed 64-byte header (struct gf_msg_hdr: magic,
 * version, the sender's sizeof(struct gf_board), payload length, sequence
 * number, status, target, MAC) and a payload whose length is checked
 * against what its type allows before a byte of it is read. A session
 * starts with the agent's challenge (auth.c); every later message carries a
 * MAC over header and payload and the session's next sequence number. An
 * answer repeats its request's number, with GF_MSG_ANSWER or'ed into the
 * type; a failed request is answered with a GF_E* status and one line of
 * text.
 *
 * The agent's loop is the only thread that touches guest memory: answers
 * come from what it published in the hub (board, processes, heartbeat
 * rounds) or from a job it carries out at its next round (log tail,
 * inline detection, signal: hub_request).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "board.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "hub.h"
#include "proto.h"
#include "transport.h"

#define HANDSHAKE_S 5.0   /* a proof later than this: half-open, dropped */
#define IDLE_S 600.0      /* a session silent this long is dropped */
#define POLL_S 0.25       /* how often a session looks at the stop flag */
#define HUB_TIMEOUT_S 5.0 /* the loop's answer to a job */

/* ---- Buffers and headers ---- */

int gf_buf_reserve(struct gf_buf *b, size_t len)
{
	uint8_t *grown;

	if (len <= b->cap)
		return GF_OK;
	if (!(grown = realloc(b->data, len)))
		return GF_ENOMEM;
	b->data = grown;
	b->cap = len;
	return GF_OK;
}

void gf_buf_free(struct gf_buf *b)
{
	free(b->data);
	*b = (struct gf_buf){ 0 };
}

/* Starts a message of `length` payload bytes in b and returns where the
 * payload goes (NULL: out of memory, b left empty). */
void *msg_start(struct gf_buf *b, uint16_t type, uint64_t seq, int32_t target,
		int32_t status, uint32_t length)
{
	struct gf_msg_hdr *h;

	b->len = 0;
	if (gf_buf_reserve(b, sizeof *h + length))
		return NULL;
	h = (struct gf_msg_hdr *)b->data;
	gf_msg_hdr_init(h, type, seq, target, status, length);
	b->len = sizeof *h + length;
	return b->data + sizeof *h;
}

/* An answer of one line of text: why not (a GF_E* status), or what was
 * done (GF_OK, a signal's outcome). */
void msg_text(struct gf_buf *b, uint16_t type, uint64_t seq, int status,
	       const char *fmt, ...)
{
	char text[GF_REMOTE_MSG];
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof text)
		n = sizeof text - 1;
	if ((p = msg_start(b, type | GF_MSG_ANSWER, seq, 0, status, (uint32_t)n)))
		memcpy(p, text, (size_t)n);
}

/* What every header must hold, whoever sent it. */
int msg_check_header(const struct gf_msg_hdr *h, char *why, size_t len)
{
	switch (gf_msg_hdr_fault(h)) {
	case GF_HDR_OK:
		return GF_OK;
	case GF_HDR_MAGIC:
		snprintf(why, len, "not a gpufas message (magic 0x%08x)", h->magic);
		break;
	case GF_HDR_VERSION:
		snprintf(why, len, "protocol version %u, this gpufas speaks %u",
			 h->version, GF_PROTO_VERSION);
		break;
	case GF_HDR_BOARD:
		snprintf(why, len, "the peer's board is %u bytes, ours %zu: both ends "
			 "must run the same gpufas build", h->board_size,
			 sizeof(struct gf_board));
		break;
	default:
		snprintf(why, len, "a %u-byte payload (at most %u)", h->length,
			 GF_MAX_PAYLOAD);
		break;
	}
	return GF_EINVAL;
}

const char *msg_type_name(uint16_t type)
{
	static const char *const names[GF_MSG_TYPES] = {
		[GF_MSG_CHALLENGE] = "challenge", [GF_MSG_PROOF] = "proof",
		[GF_MSG_WELCOME] = "welcome", [GF_MSG_HEARTBEAT] = "heartbeat",
		[GF_MSG_SNAPSHOT] = "snapshot", [GF_MSG_PS] = "ps",
		[GF_MSG_LOG] = "log", [GF_MSG_DETECT] = "detect",
		[GF_MSG_SIGNAL] = "signal",
	};
	uint16_t t = type & ~GF_MSG_ANSWER;

	return t < GF_MSG_TYPES && names[t] ? names[t] : "unknown";
}

/* The viewer's look at an answer before it reads the payload: of the
 * request's type, a success carrying at least min bytes, or a failure with
 * its text in why. */
int proto_answer_check(const struct gf_msg_hdr *h, uint16_t type,
		       uint32_t min, char *why, size_t len)
{
	if (h->type != (type | GF_MSG_ANSWER)) {
		snprintf(why, len, "a %s answer to a %s request",
			 msg_type_name(h->type), msg_type_name(type));
		return GF_EINVAL;
	}
	if (h->status) {
		int n = h->length < len ? (int)h->length : (int)len - 1;
		snprintf(why, len, "%.*s", n, (const char *)(h + 1));
		/* the peer's status, if it is one of ours */
		return h->status < 0 && h->status >= GF_ELAST ? h->status : GF_EINVAL;
	}
	if (h->length < min) {
		snprintf(why, len, "a %u-byte %s answer (at least %u)", h->length,
			 msg_type_name(type), min);
		return GF_EINVAL;
	}
	return GF_OK;
}

/* ---- Answers ---- */

static void answer_beat(struct hub *hub, const struct gf_msg_hdr *req,
			const struct gf_request *body, struct gf_buf *out)
{
	struct gf_beat *b = msg_start(out, req->type | GF_MSG_ANSWER, req->seq,
				      req->target, GF_OK, sizeof *b);

	if (b)
		*b = (struct gf_beat){ .beat = body->beat, .rounds = hub_rounds(hub) };
}

static void answer_board(struct hub *hub, const struct gf_msg_hdr *req,
			 struct gf_buf *out)
{
	struct gf_board *b = msg_start(out, req->type | GF_MSG_ANSWER, req->seq,
				       req->target, GF_OK, sizeof *b);

	if (b)
		hub_board(hub, req->target, b);
}

/* The process list, as many as the hub holds: room grows until it fits,
 * bounded by the largest payload. */
static void answer_ps(struct hub *hub, const struct gf_msg_hdr *req,
		      struct gf_buf *out)
{
	const uint32_t most = (GF_MAX_PAYLOAD - sizeof(struct gf_ps_head)) /
			      sizeof(struct gf_board_task);
	uint32_t cap = 1024, count = 0;
	struct gf_ps_head *head;
	int err;

	do {
		head = msg_start(out, req->type | GF_MSG_ANSWER, req->seq, req->target,
				 GF_OK, sizeof *head + cap * sizeof(struct gf_board_task));
		if (!head) {
			msg_text(out, req->type, req->seq, GF_ENOMEM, "out of memory");
			return;
		}
		err = hub_tasks(hub, req->target, (struct gf_board_task *)(head + 1),
				cap, &count);
	} while (err == GF_ENOSPC && cap < most && (cap = cap * 4 < most ? cap * 4 : most));
	*head = (struct gf_ps_head){ .count = count, .total = count };
	((struct gf_msg_hdr *)out->data)->length =
		sizeof *head + count * sizeof(struct gf_board_task);
	out->len = sizeof(struct gf_msg_hdr) + sizeof *head +
		   count * sizeof(struct gf_board_task);
}

/* A job for the agent's loop: log tail, inline detection or signal. */
static void answer_job(struct hub *hub, const struct gf_msg_hdr *req,
		       const struct gf_request *body, struct gf_buf *out)
{
	struct hub_job *job = calloc(1, sizeof *job);
	uint16_t type = req->type | GF_MSG_ANSWER;
	void *p;

	if (!job) {
		msg_text(out, req->type, req->seq, GF_ENOMEM, "out of memory");
		return;
	}
	*job = (struct hub_job){ .pid = body->pid, .sig = body->sig,
				 .start_time = body->start_time,
				 .records = body->arg, .cls = body->arg };
	job->kind = req->type == GF_MSG_LOG ? HUB_LOG
		    : req->type == GF_MSG_DETECT ? HUB_DETECT : HUB_SIGNAL;
	if (hub_request(hub, req->target, job, HUB_TIMEOUT_S))
		msg_text(out, req->type, req->seq, job->result, "%s", job->msg);
	else if (job->kind == HUB_LOG && (p = msg_start(out, type, req->seq, req->target,
							 GF_OK, job->loglen)))
		memcpy(p, job->log, job->loglen);
	else if (job->kind == HUB_DETECT && (p = msg_start(out, type, req->seq, req->target,
							    GF_OK, sizeof job->verdict)))
		memcpy(p, &job->verdict, sizeof job->verdict);
	else if (job->kind == HUB_SIGNAL)
		msg_text(out, req->type, req->seq, GF_OK, "%s", job->msg);
	free(job);
}

/* Arguments a request of its type may carry; why not, in out. */
static int request_valid(struct hub *hub, const struct gf_session *s,
			 const struct gf_msg_hdr *req,
			 const struct gf_request *body, struct gf_buf *out)
{
	if (req->type != GF_MSG_HEARTBEAT &&
	    (req->target < 0 || req->target >= hub_targets(hub)))
		msg_text(out, req->type, req->seq, GF_EINVAL, "no target %d (the agent "
			  "has %d)", req->target, hub_targets(hub));
	else if (req->type == GF_MSG_LOG && (body->arg < 1 || body->arg > GF_LOG_RECORDS_MAX))
		msg_text(out, req->type, req->seq, GF_EINVAL, "log records must be 1 to %d",
			  GF_LOG_RECORDS_MAX);
	else if (req->type == GF_MSG_DETECT && body->arg >= GF_NCLASSES)
		msg_text(out, req->type, req->seq, GF_EINVAL, "no detector class %u",
			  body->arg);
	else if (req->type == GF_MSG_SIGNAL && s->role != GF_ROLE_OPERATOR)
		msg_text(out, req->type, req->seq, GF_EREFUSED, "this key is read-only: "
			  "signals need the operator key");
	else if (req->type == GF_MSG_SIGNAL && (body->sig < 1 || body->sig > 31 ||
						body->pid <= 0))
		msg_text(out, req->type, req->seq, GF_EINVAL, "bad signal %d or pid %d",
			  body->sig, body->pid);
	else
		return 1;
	return 0;
}

/* Answers one authenticated request (its header checked, its payload a
 * gf_request) into out, unsealed. */
void proto_answer(struct hub *hub, const struct gf_session *s,
		  const struct gf_msg_hdr *req, const struct gf_request *body,
		  struct gf_buf *out)
{
	if (!request_valid(hub, s, req, body, out))
		return;
	switch (req->type) {
	case GF_MSG_HEARTBEAT: answer_beat(hub, req, body, out); break;
	case GF_MSG_SNAPSHOT: answer_board(hub, req, out); break;
	case GF_MSG_PS: answer_ps(hub, req, out); break;
	default: answer_job(hub, req, body, out); break;
	}
}

/* ---- The agent's server ---- */

struct gf_server {
	struct hub *hub;
	struct gf_keys keys;
	int max_clients;
	pthread_mutex_t lock;
	pthread_cond_t left;
	int clients;
	double last_refusal_log;
	atomic_int stopping; /* every listener and session thread reads it */
	int nlisteners;
	pthread_t listener[GF_MAX_LISTEN];
};

void remote_log(const char *peer, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "gpufas: remote: %s: %s\n", peer, line);
}

int server_stopping(const struct gf_server *srv)
{
	return atomic_load_explicit(&srv->stopping, memory_order_acquire);
}

struct hub *server_hub(const struct gf_server *srv)
{
	return srv->hub;
}

int server_add_listener(struct gf_server *srv, void *(*fn)(void *),
			void *arg, char *err, size_t errlen)
{
	int rc;

	if (srv->nlisteners == GF_MAX_LISTEN) {
		snprintf(err, errlen, "at most %d listeners", GF_MAX_LISTEN);
		return GF_EINVAL;
	}
	if ((rc = pthread_create(&srv->listener[srv->nlisteners], NULL, fn, arg))) {
		snprintf(err, errlen, "cannot start a listener: %s", strerror(rc));
		return GF_EIO;
	}
	srv->nlisteners++;
	return GF_OK;
}

/* A session may start while fewer than max_clients run: a flood of
 * connections is refused (and logged at most once a second) while the
 * sessions already running go on. The caller ends an admitted session
 * with server_session(), or gives its place back with server_release(). */
int server_admit(struct gf_server *srv, const char *peer)
{
	int ok;
	double now = gf_now_monotonic();

	pthread_mutex_lock(&srv->lock);
	ok = !server_stopping(srv) && srv->clients < srv->max_clients;
	if (ok)
		srv->clients++;
	else if (now - srv->last_refusal_log >= 1.0)
		srv->last_refusal_log = now;
	else
		peer = NULL;
	pthread_mutex_unlock(&srv->lock);
	if (!ok && peer)
		remote_log(peer, "refused: %d sessions already (max_clients)",
			   srv->max_clients);
	return ok;
}

/* An admitted session's place, given back. */
void server_release(struct gf_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->clients--;
	pthread_cond_broadcast(&srv->left);
	pthread_mutex_unlock(&srv->lock);
}

static int send_sealed(struct gf_io *io, const struct gf_session *s,
		       struct gf_buf *b)
{
	auth_seal(s, b);
	return io->send(io->ctx, b);
}

/* Challenge, proof, welcome, s->role set: GF_OK, or the GF_E* that ended
 * it (logged). */
static int handshake(struct gf_server *srv, struct gf_io *io,
		     struct gf_session *s, struct gf_buf *in, struct gf_buf *out)
{
	uint8_t nonce[GF_NONCE_BYTES];
	struct gf_welcome *w;
	char why[256];
	int rc;

	auth_challenge(out, nonce);
	if ((rc = io->send(io->ctx, out)))
		return rc;
	rc = io->recv(io->ctx, in, sizeof(struct gf_msg_hdr) + GF_NONCE_BYTES,
		      HANDSHAKE_S, why, sizeof why);
	if (rc == GF_EBUSY)
		snprintf(why, sizeof why, "no proof within %.0f s (half-open)", HANDSHAKE_S);
	if (rc) {
		remote_log(io->peer, "refused: %s", why);
		return rc;
	}
	if ((rc = auth_accept(&srv->keys, in->data, in->len, nonce, s, why, sizeof why))) {
		remote_log(io->peer, "refused: %s", why);
		/* said in clear: a viewer with the wrong key is told so */
		msg_text(out, GF_MSG_PROOF, 0, rc, "%s", why);
		io->send(io->ctx, out);
		return rc;
	}
	s->ntargets = (uint32_t)hub_targets(srv->hub);
	if (!(w = msg_start(out, GF_MSG_WELCOME, 0, 0, GF_OK, sizeof *w)))
		return GF_ENOMEM;
	*w = (struct gf_welcome){ .role = s->role, .ntargets = s->ntargets };
	if ((rc = send_sealed(io, s, out)))
		return rc;
	remote_log(io->peer, "session opened (%s key)",
		   s->role == GF_ROLE_OPERATOR ? "operator" : "read-only");
	return GF_OK;
}

/* One request: read, authenticated, answered. GF_OK: go on; 1: nothing
 * came; a GF_E*: the session ends (logged). */
static int serve_one(struct gf_server *srv, struct gf_io *io,
		     struct gf_session *s, struct gf_buf *in, struct gf_buf *out)
{
	const struct gf_msg_hdr *h;
	char why[256];
	int rc;

	rc = io->recv(io->ctx, in, sizeof(struct gf_msg_hdr) + sizeof(struct gf_request),
		      POLL_S, why, sizeof why);
	if (rc == GF_EBUSY)
		return 1;
	if (rc == GF_EFAULT || rc == GF_ENOMEM)
		remote_log(io->peer, "closed: %s", why);
	if (rc == GF_EINVAL)
		remote_log(io->peer, "dropped: %s", why);
	if (rc)
		return rc;
	if ((rc = auth_open(s, in->data, in->len, 1, why, sizeof why))) {
		remote_log(io->peer, "dropped: %s", why);
		return rc;
	}
	h = (const struct gf_msg_hdr *)in->data;
	if (h->type < GF_MSG_HEARTBEAT || h->type >= GF_MSG_TYPES ||
	    h->length != sizeof(struct gf_request)) {
		remote_log(io->peer, "dropped: a %u-byte message of type %u is no request",
			   h->length, h->type);
		return GF_EINVAL;
	}
	proto_answer(srv->hub, s, h, (const struct gf_request *)(h + 1), out);
	if (!out->len || send_sealed(io, s, out)) {
		remote_log(io->peer, "closed: cannot answer");
		return GF_EFAULT;
	}
	return GF_OK;
}

/* Runs an admitted session to its end, then closes the connection and
 * lets its place go. */
void server_session(struct gf_server *srv, struct gf_io *io)
{
	struct gf_session s;
	struct gf_buf in = { 0 }, out = { 0 };
	double last = gf_now_monotonic();
	int rc = 0;

	if (handshake(srv, io, &s, &in, &out))
		goto out;
	while (!server_stopping(srv) && rc >= 0) {
		rc = serve_one(srv, io, &s, &in, &out);
		if (rc == 0)
			last = gf_now_monotonic();
		else if (rc == 1 && gf_now_monotonic() - last > IDLE_S) {
			remote_log(io->peer, "closed: idle for %.0f s", IDLE_S);
			break;
		}
	}
out:
	gf_buf_free(&in);
	gf_buf_free(&out);
	io->close(io->ctx);
	server_release(srv);
}

static int start_listener(struct gf_server *srv, const char *spec, char *err,
			  size_t errlen)
{
	const struct gf_transport *t;
	const char *addr;
	char why[256];
	int rc;

	if ((t = gf_transport_find(spec, &addr))) {
		rc = t->listen(srv, addr, why, sizeof why);
	} else {
		gf_transport_want(0, why, sizeof why);
		rc = GF_EINVAL;
	}
	if (rc)
		snprintf(err, errlen, "--listen %s: %s", spec, why);
	return rc;
}

/* Whether any of r's listeners serves the protocol, which needs a key
 * (http: only reads, for anyone). */
int remote_needs_key(const struct gf_remote *r)
{
	const struct gf_transport *t;
	const char *addr;

	for (int i = 0; i < r->nlisten; i++)
		if (!(t = gf_transport_find(r->listen[i], &addr)) || t->protocol)
			return 1;
	return 0;
}

/* The listeners of r, serving hub; NULL with why in err. */
struct gf_server *server_start(struct hub *hub, const struct gf_remote *r,
			       char *err, size_t errlen)
{
	struct gf_server *srv = calloc(1, sizeof *srv);

	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->hub = hub;
	srv->max_clients = r->max_clients;
	atomic_init(&srv->stopping, 0);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->left, NULL);
	if (auth_init()) {
		snprintf(err, errlen, "libsodium did not initialise");
		goto fail;
	}
	if (remote_needs_key(r) && auth_keys_load(&srv->keys, r, err, errlen))
		goto fail;
	for (int i = 0; i < r->nlisten; i++)
		if (start_listener(srv, r->listen[i], err, errlen))
			goto fail;
	return srv;
fail:
	server_stop(srv);
	return NULL;
}

/* Stops the listeners, then waits (bounded) for the sessions, which look
 * at the stop flag every POLL_S. */
void server_stop(struct gf_server *srv)
{
	struct timespec until;

	if (!srv)
		return;
	atomic_store_explicit(&srv->stopping, 1, memory_order_release);
	for (int i = 0; i < srv->nlisteners; i++)
		pthread_join(srv->listener[i], NULL);
	until = gf_wall_deadline(GF_MSG_S + 1);
	pthread_mutex_lock(&srv->lock);
	while (srv->clients > 0 &&
	       pthread_cond_timedwait(&srv->left, &srv->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&srv->lock);
	if (srv->clients > 0)
		return; /* a session stuck in a transport: leave it its memory */
	auth_keys_wipe(&srv->keys);
	pthread_cond_destroy(&srv->left);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
