/* rdma.c — the GRASS mailbox over one-sided RDMA.
 *
 * The agent registers, per connection, only its mailbox: a request area
 * the viewer may RDMA WRITE (struct gf_req_area) and a response area it
 * may only RDMA READ (GF_RESP_AREA bytes), in host memory; nothing of a
 * target's memory is ever registered. Their addresses and rkeys travel in
 * rdma_cm's private data on accept (struct gf_wire). From then on the
 * viewer uses RDMA WRITE and READ alone: no send/recv, no interrupts; an
 * agent thread polls the request area in its own memory and answers into
 * the response area (mailbox_take / mailbox_post, below), so the
 * agent's CPU posts no work request and takes no completion. The session
 * above (handshake, MACs, sequence numbers) is proto.c's, the same as
 * over TCP: the challenge is the mailbox's first answer.
 *
 * libibverbs and librdmacm are opened at run time (dlopen), as gpu.c
 * opens libcuda: the binary runs where they are absent and says so.
 * Registering GPU memory (DMA-BUF, nvidia-peermem) is not done yet: the
 * mailbox is host memory (README.md says what is missing).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "clock.h"
#include "gpufas.h"
#include "proto.h"
#include "rdma.h"
#include "tcp.h"
#include "transport.h"

#define CQ_DEPTH 4
#define RESOLVE_MS 5000
#define FIRST_READ 512 /* heartbeats, the handshake and refusals fit one read */
/* The QP's retransmission timeout, 4.096 us * 2^N: 14 is 67 ms. rdma_cm's
 * default for RoCE is about 1 s, so one lost packet (seen under rxe)
 * stalls a heartbeat for a second; a link that is really gone is still
 * declared dead after retry_count (7) timeouts. */
#define ACK_TIMEOUT 14
#define SPIN_S 0.0002   /* poll without sleeping this long, then back off */
#define NAP_MIN_S 0.00002
#define NAP_BUSY_S 0.00005
#define NAP_MAX_S 0.001
#define BUSY_S 0.1
#define LINGER_S 2.0

/* ---- The libraries, opened once ---- */

static struct verbs {
	int ok;
	char why[256];
	struct rdma_event_channel *(*create_event_channel)(void);
	void (*destroy_event_channel)(struct rdma_event_channel *);
	int (*create_id)(struct rdma_event_channel *, struct rdma_cm_id **, void *,
			 enum rdma_port_space);
	int (*destroy_id)(struct rdma_cm_id *);
	int (*bind_addr)(struct rdma_cm_id *, struct sockaddr *);
	int (*listen)(struct rdma_cm_id *, int);
	int (*resolve_addr)(struct rdma_cm_id *, struct sockaddr *, struct sockaddr *, int);
	int (*resolve_route)(struct rdma_cm_id *, int);
	int (*create_qp)(struct rdma_cm_id *, struct ibv_pd *, struct ibv_qp_init_attr *);
	void (*destroy_qp)(struct rdma_cm_id *);
	int (*connect)(struct rdma_cm_id *, struct rdma_conn_param *);
	int (*accept)(struct rdma_cm_id *, struct rdma_conn_param *);
	int (*reject)(struct rdma_cm_id *, const void *, uint8_t);
	int (*disconnect)(struct rdma_cm_id *);
	int (*get_cm_event)(struct rdma_event_channel *, struct rdma_cm_event **);
	int (*ack_cm_event)(struct rdma_cm_event *);
	const char *(*event_str)(enum rdma_cm_event_type);
	int (*set_option)(struct rdma_cm_id *, int, int, void *, size_t);
	struct ibv_pd *(*alloc_pd)(struct ibv_context *);
	int (*dealloc_pd)(struct ibv_pd *);
	struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *,
				    struct ibv_comp_channel *, int);
	int (*destroy_cq)(struct ibv_cq *);
	struct ibv_mr *(*reg_mr)(struct ibv_pd *, void *, size_t, int);
	int (*dereg_mr)(struct ibv_mr *);
	const char *(*wc_status_str)(enum ibv_wc_status);
} v;

static pthread_once_t verbs_once = PTHREAD_ONCE_INIT;

#define SYM(lib, field, name) { lib, (void **)&v.field, name }

static void open_verbs(void)
{
	void *ib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_GLOBAL);
	void *cm = ib ? dlopen("librdmacm.so.1", RTLD_NOW | RTLD_GLOBAL) : NULL;
	const struct { void **lib; void **at; const char *name; } syms[] = {
		SYM(&cm, create_event_channel, "rdma_create_event_channel"),
		SYM(&cm, destroy_event_channel, "rdma_destroy_event_channel"),
		SYM(&cm, create_id, "rdma_create_id"), SYM(&cm, destroy_id, "rdma_destroy_id"),
		SYM(&cm, bind_addr, "rdma_bind_addr"), SYM(&cm, listen, "rdma_listen"),
		SYM(&cm, resolve_addr, "rdma_resolve_addr"),
		SYM(&cm, resolve_route, "rdma_resolve_route"),
		SYM(&cm, create_qp, "rdma_create_qp"), SYM(&cm, destroy_qp, "rdma_destroy_qp"),
		SYM(&cm, connect, "rdma_connect"), SYM(&cm, accept, "rdma_accept"),
		SYM(&cm, reject, "rdma_reject"), SYM(&cm, disconnect, "rdma_disconnect"),
		SYM(&cm, get_cm_event, "rdma_get_cm_event"),
		SYM(&cm, ack_cm_event, "rdma_ack_cm_event"),
		SYM(&cm, event_str, "rdma_event_str"),
		SYM(&cm, set_option, "rdma_set_option"),
		SYM(&ib, alloc_pd, "ibv_alloc_pd"), SYM(&ib, dealloc_pd, "ibv_dealloc_pd"),
		SYM(&ib, create_cq, "ibv_create_cq"), SYM(&ib, destroy_cq, "ibv_destroy_cq"),
		SYM(&ib, reg_mr, "ibv_reg_mr"), SYM(&ib, dereg_mr, "ibv_dereg_mr"),
		SYM(&ib, wc_status_str, "ibv_wc_status_str"),
	};

	if (!ib || !cm) {
		snprintf(v.why, sizeof v.why, "%s not found (no rdma-core installed)",
			 ib ? "librdmacm.so.1" : "libibverbs.so.1");
		return;
	}
	for (size_t i = 0; i < sizeof syms / sizeof *syms; i++)
		if (!(*syms[i].at = dlsym(*syms[i].lib, syms[i].name))) {
			snprintf(v.why, sizeof v.why, "%s lacks %s", *syms[i].lib == cm
				 ? "librdmacm" : "libibverbs", syms[i].name);
			return;
		}
	v.ok = 1;
}

/* libibverbs and librdmacm, opened once: GF_OK, or GF_ENOLIB with why. */
static int verbs_ready(char *why, size_t whylen)
{
	pthread_once(&verbs_once, open_verbs);
	if (!v.ok)
		snprintf(why, whylen, "%s", v.why);
	return v.ok ? GF_OK : GF_ENOLIB;
}

/* Waits for the next event on ch, up to ms: it, or NULL (why says). */
static struct rdma_cm_event *next_event(struct rdma_event_channel *ch, int ms,
					char *why, size_t whylen)
{
	struct pollfd p = { .fd = ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (poll(&p, 1, ms) <= 0) {
		snprintf(why, whylen, "no rdma_cm event within %d ms", ms);
		return NULL;
	}
	if (v.get_cm_event(ch, &ev)) {
		snprintf(why, whylen, "rdma_get_cm_event: %s", strerror(errno));
		return NULL;
	}
	return ev;
}

/* Waits for one event of the wanted type; any other is a failure, and
 * none at all a peer that does not answer (GF_EBUSY: an agent stopped
 * before it could accept). */
static int expect_event(struct rdma_event_channel *ch, enum rdma_cm_event_type want,
			struct gf_wire *wire, char *why, size_t whylen)
{
	struct rdma_cm_event *ev = next_event(ch, RESOLVE_MS, why, whylen);
	int ok;

	if (!ev)
		return GF_EBUSY;
	ok = ev->event == want && ev->status == 0;
	if (!ok)
		snprintf(why, whylen, "%s (status %d) where %s belongs",
			 v.event_str(ev->event), ev->status, v.event_str(want));
	if (ok && wire) {
		ok = ev->param.conn.private_data_len >= sizeof *wire;
		if (ok)
			memcpy(wire, ev->param.conn.private_data, sizeof *wire);
		else
			snprintf(why, whylen, "no mailbox in the agent's accept");
	}
	v.ack_cm_event(ev);
	return ok ? GF_OK : GF_EFAULT;
}

/* ---- One end of a connection: a QP and its two registered areas ---- */

/* The agent's: [0] the request area, remote-writable, [1] the response
 * area, remote-readable only. The viewer's: [0] what a WRITE sends,
 * [1] where a READ lands. */
struct endpoint {
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	uint8_t *area[2];
	struct ibv_mr *mr[2];
};

static const size_t area_size[2] = { sizeof(struct gf_req_area), GF_RESP_AREA };

static void endpoint_free(struct endpoint *e)
{
	if (e->id && e->id->qp)
		v.destroy_qp(e->id);
	for (int i = 0; i < 2; i++) {
		if (e->mr[i])
			v.dereg_mr(e->mr[i]);
		free(e->area[i]);
	}
	if (e->cq)
		v.destroy_cq(e->cq);
	if (e->pd)
		v.dealloc_pd(e->pd);
	if (e->id)
		v.destroy_id(e->id);
}

static int endpoint_setup(struct endpoint *e, const int access[2], char *why,
			  size_t whylen)
{
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 2, .max_recv_wr = 1, .max_send_sge = 1,
			 .max_recv_sge = 1 },
	};

	if (!(e->pd = v.alloc_pd(e->id->verbs)) ||
	    !(e->cq = v.create_cq(e->id->verbs, CQ_DEPTH, NULL, NULL, 0))) {
		snprintf(why, whylen, "cannot allocate a protection domain or CQ");
		return GF_EFAULT;
	}
	qa.send_cq = qa.recv_cq = e->cq;
	if (v.create_qp(e->id, e->pd, &qa)) {
		snprintf(why, whylen, "rdma_create_qp: %s", strerror(errno));
		return GF_EFAULT;
	}
	for (int i = 0; i < 2; i++) {
		if (posix_memalign((void **)&e->area[i], 4096, area_size[i])) {
			snprintf(why, whylen, "out of memory");
			return GF_ENOMEM;
		}
		memset(e->area[i], 0, i ? 4096 : area_size[i]);
		if (!(e->mr[i] = v.reg_mr(e->pd, e->area[i], area_size[i], access[i]))) {
			snprintf(why, whylen, "ibv_reg_mr: %s", strerror(errno));
			return GF_EFAULT;
		}
	}
	return GF_OK;
}

/* ---- The agent's side: one mailbox per connection ---- */

struct mailbox {
	struct gf_server *srv;
	struct endpoint e;
	uint64_t requests, answers; /* taken, posted */
	atomic_int gone;            /* set by the listener on disconnect, read
				       by the session's thread */
	int refs;                   /* the listener's and the session's */
	pthread_mutex_t *lock;
	struct gf_io io;
};

static void mailbox_free(struct mailbox *m)
{
	endpoint_free(&m->e);
	free(m);
}

/* The listener and the session each let go once; the last frees. */
static void mailbox_put(struct mailbox *m)
{
	int last;

	pthread_mutex_lock(m->lock);
	last = --m->refs == 0;
	pthread_mutex_unlock(m->lock);
	if (last)
		mailbox_free(m);
}

static int mailbox_send(void *ctx, const struct gf_buf *b)
{
	struct mailbox *m = ctx;

	if (b->len + 16 > GF_RESP_AREA)
		return GF_ENOSPC;
	mailbox_post(m->e.area[1], ++m->answers, b);
	return GF_OK;
}

/* Polling: spin SPIN_S, then sleep: NAP_BUSY_S at most while the session
 * is busy (requests come back to back), growing to NAP_MAX_S once it has
 * been idle BUSY_S. A waiter leaves the CPU to the kernel's RDMA work
 * (rxe runs there) and to the other end's poller, and an idle session
 * costs little. */
static void back_off(double start, double *nap)
{
	double idle = gf_now_monotonic() - start;

	if (idle > SPIN_S)
		gf_nap(nap, idle > BUSY_S ? NAP_MAX_S : NAP_BUSY_S);
}

/* Polls the request area: spins briefly, then sleeps ever longer (at most
 * 1 ms), so an idle session costs little CPU. */
static int mailbox_recv(void *ctx, struct gf_buf *b, uint32_t max, double timeout_s,
			char *why, size_t whylen)
{
	struct mailbox *m = ctx;
	double start = gf_now_monotonic(), nap = NAP_MIN_S;

	b->len = 0;
	while (!mailbox_take((struct gf_req_area *)m->e.area[0], m->requests + 1, b)) {
		if (atomic_load_explicit(&m->gone, memory_order_acquire)) {
			snprintf(why, whylen, "disconnected");
			return GF_EFAULT;
		}
		if (gf_now_monotonic() - start > timeout_s)
			return GF_EBUSY;
		back_off(start, &nap);
	}
	m->requests++;
	if (msg_check_header((const struct gf_msg_hdr *)b->data, why, whylen))
		return GF_EINVAL;
	if (((const struct gf_msg_hdr *)b->data)->length + sizeof(struct gf_msg_hdr) !=
	    GF_SLOT_MSG || GF_SLOT_MSG > max) {
		snprintf(why, whylen, "a %u-byte request in the mailbox",
			 ((const struct gf_msg_hdr *)b->data)->length);
		return GF_EINVAL;
	}
	return GF_OK;
}

/* A last answer (a refusal) must stay readable until the viewer has read
 * it: wait, bounded, for the viewer to go first. */
static void mailbox_close(void *ctx)
{
	struct mailbox *m = ctx;
	double start = gf_now_monotonic(), nap = NAP_MIN_S;

	while (!atomic_load_explicit(&m->gone, memory_order_acquire) &&
	       gf_now_monotonic() - start < LINGER_S)
		back_off(start, &nap);
	v.disconnect(m->e.id);
	mailbox_put(m);
}

struct listener {
	struct gf_server *srv;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	pthread_mutex_t lock; /* the mailboxes' reference counts */
};

static void *session_thread(void *arg)
{
	struct mailbox *m = arg;

	server_session(m->srv, &m->io);
	return NULL;
}

/* A connection request: a mailbox, accepted with its addresses in the
 * private data, and a session polling it. */
static void on_connect_request(struct listener *l, struct rdma_cm_id *id)
{
	struct mailbox *m = calloc(1, sizeof *m);
	struct gf_wire wire;
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .private_data = &wire,
				      .private_data_len = sizeof wire };
	pthread_t t;
	char why[256];

	if (!m || !server_admit(l->srv, "rdma")) {
		v.reject(id, NULL, 0);
		free(m);
		return;
	}
	*m = (struct mailbox){ .srv = l->srv, .e.id = id, .refs = 2, .lock = &l->lock };
	id->context = m;
	m->io = (struct gf_io){ .send = mailbox_send, .recv = mailbox_recv,
				.close = mailbox_close, .ctx = m };
	snprintf(m->io.peer, sizeof m->io.peer, "rdma:%s",
		 inet_ntoa(((struct sockaddr_in *)&id->route.addr.dst_addr)->sin_addr));
	v.set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT,
		     &(uint8_t){ ACK_TIMEOUT }, sizeof(uint8_t));
	if (endpoint_setup(&m->e, (const int[2]){
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE,
			IBV_ACCESS_REMOTE_READ }, why, sizeof why))
		goto fail;
	wire = (struct gf_wire){
		.magic = GF_WIRE_MAGIC, .version = GF_PROTO_VERSION,
		.req_addr = (uintptr_t)m->e.area[0], .resp_addr = (uintptr_t)m->e.area[1],
		.req_rkey = m->e.mr[0]->rkey, .resp_rkey = m->e.mr[1]->rkey,
		.resp_size = GF_RESP_AREA,
	};
	if (v.accept(id, &cp)) {
		snprintf(why, sizeof why, "rdma_accept: %s", strerror(errno));
		goto fail;
	}
	if (!pthread_create(&t, NULL, session_thread, m)) {
		pthread_detach(t);
		return;
	}
	snprintf(why, sizeof why, "cannot start a session thread");
fail:
	remote_log(m->io.peer, "dropped: %s", why);
	v.reject(id, NULL, 0);
	mailbox_free(m);
	server_release(l->srv);
}

/* The listener's channel carries every connection's events. */
static void on_event(struct listener *l, struct rdma_cm_event *ev)
{
	struct rdma_cm_id *id = ev->id;
	enum rdma_cm_event_type type = ev->event;
	struct mailbox *m = id->context;

	if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
		v.ack_cm_event(ev);
		on_connect_request(l, id);
		return;
	}
	v.ack_cm_event(ev);
	if (m && (type == RDMA_CM_EVENT_DISCONNECTED ||
		  type == RDMA_CM_EVENT_DEVICE_REMOVAL)) {
		atomic_store_explicit(&m->gone, 1, memory_order_release);
		id->context = NULL;
		mailbox_put(m);
	}
}

static void *listen_loop(void *arg)
{
	struct listener *l = arg;
	struct pollfd p = { .fd = l->ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	while (!server_stopping(l->srv)) {
		if (poll(&p, 1, 250) > 0 && !v.get_cm_event(l->ch, &ev))
			on_event(l, ev);
	}
	v.destroy_id(l->id);
	return NULL; /* the channel stays: sessions may still be ending */
}

static int mailbox_listen(struct gf_server *srv, const char *addr, char *err,
			  size_t errlen)
{
	struct listener *l;
	struct addrinfo *ai;
	int flags, rc;

	if ((rc = verbs_ready(err, errlen)) ||
	    (rc = tcp_resolve(addr, AF_INET, 1, &ai, err, errlen)))
		return rc;
	if (!(l = calloc(1, sizeof *l)) || !(l->ch = v.create_event_channel())) {
		snprintf(err, errlen, "no rdma_cm event channel: %s", strerror(errno));
		rc = l ? GF_EIO : GF_ENOMEM;
		goto out_ai;
	}
	flags = fcntl(l->ch->fd, F_GETFL);
	fcntl(l->ch->fd, F_SETFL, flags | O_NONBLOCK);
	if (v.create_id(l->ch, &l->id, NULL, RDMA_PS_TCP) ||
	    v.bind_addr(l->id, ai->ai_addr) || v.listen(l->id, 16)) {
		snprintf(err, errlen, "rdma_cm cannot listen on %s: %s (no RDMA device "
			 "on that address?)", addr, strerror(errno));
		rc = GF_EIO;
		goto out_id;
	}
	freeaddrinfo(ai);
	l->srv = srv;
	pthread_mutex_init(&l->lock, NULL);
	if ((rc = server_add_listener(srv, listen_loop, l, err, errlen))) {
		v.destroy_id(l->id);
		v.destroy_event_channel(l->ch);
		free(l);
		return rc;
	}
	return GF_OK;
out_id:
	if (l->id)
		v.destroy_id(l->id);
	v.destroy_event_channel(l->ch);
out_ai:
	free(l);
	freeaddrinfo(ai);
	return rc;
}

/* ---- The mailbox's framing (rdma.h), which devbox.c follows too ---- */

/* The monitor's poll: request `number` has been written whole (its flag,
 * written last, says so). 1: copied into out; 0: not yet. */
int mailbox_take(volatile struct gf_req_area *req, uint64_t number,
		 struct gf_buf *out)
{
	if (__atomic_load_n(&req->posted, __ATOMIC_ACQUIRE) != number)
		return 0;
	if (gf_buf_reserve(out, GF_SLOT_MSG))
		return 0;
	memcpy(out->data, (const void *)req->msg, GF_SLOT_MSG);
	out->len = GF_SLOT_MSG;
	return 1;
}

/* The monitor's answer: message and end mark first, the begin mark last,
 * so that a reader seeing both marks equal saw it whole. The caller has
 * checked that msg fits GF_RESP_AREA. */
void mailbox_post(uint8_t *resp, uint64_t number, const struct gf_buf *msg)
{
	uint64_t zero = 0;

	__atomic_store((uint64_t *)resp, &zero, __ATOMIC_RELEASE);
	memcpy(resp + 8, msg->data, msg->len);
	memcpy(resp + 8 + msg->len, &number, 8);
	__atomic_store((uint64_t *)resp, &number, __ATOMIC_RELEASE);
}

/* The viewer's look at what it read of the response area: GF_OK with a
 * whole answer at got + 8; GF_EBUSY not there yet or torn (read again);
 * need > len: read that much and look again; GF_EINVAL malformed. */
int mailbox_answer(const uint8_t *got, size_t len, uint64_t number,
		   uint32_t max, size_t *need, char *why, size_t whylen)
{
	struct gf_msg_hdr h;
	uint64_t begin, end;

	*need = 8 + sizeof h;
	if (len < *need)
		return GF_OK;
	memcpy(&begin, got, 8);
	if (begin != number)
		return GF_EBUSY;
	memcpy(&h, got + 8, sizeof h);
	if (msg_check_header(&h, why, whylen))
		return GF_EINVAL;
	if (h.length > max - sizeof h) {
		snprintf(why, whylen, "a %s answer of %u bytes (at most %zu here)",
			 msg_type_name(h.type), h.length, max - sizeof h);
		return GF_EINVAL;
	}
	*need = 8 + sizeof h + h.length + 8;
	if (len < *need)
		return GF_OK;
	memcpy(&end, got + 8 + sizeof h + h.length, 8);
	return end == number ? GF_OK : GF_EBUSY;
}

/* ---- The viewer's side: WRITE the request, READ the answer ---- */

struct link {
	struct rdma_event_channel *ch;
	struct endpoint e;
	struct gf_wire wire;
	uint64_t posted, answers;
	int broken;
};

static void link_free(struct link *k)
{
	endpoint_free(&k->e);
	if (k->ch)
		v.destroy_event_channel(k->ch);
	free(k);
}

/* A disconnect event: the agent, its NIC or the link went away. */
static int link_down(struct link *k, char *why, size_t whylen)
{
	struct pollfd p = { .fd = k->ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (k->broken)
		return 1;
	if (poll(&p, 1, 0) <= 0 || v.get_cm_event(k->ch, &ev))
		return 0;
	snprintf(why, whylen, "%s", v.event_str(ev->event));
	k->broken = ev->event == RDMA_CM_EVENT_DISCONNECTED ||
		    ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL;
	v.ack_cm_event(ev);
	return k->broken;
}

/* One work request, waited for: a completion error is a dead link. */
static int post_and_wait(struct link *k, enum ibv_wr_opcode op, void *local,
			 uint32_t lkey, uint64_t remote, uint32_t rkey, uint32_t len,
			 char *why, size_t whylen)
{
	struct ibv_sge sge = { .addr = (uintptr_t)local, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED,
				  .wr.rdma = { .remote_addr = remote, .rkey = rkey } };
	struct ibv_send_wr *bad;
	struct ibv_wc wc;
	double start = gf_now_monotonic(), deadline = start + GF_MSG_S, nap = NAP_MIN_S;
	int n;

	if (ibv_post_send(k->e.id->qp, &wr, &bad)) {
		snprintf(why, whylen, "ibv_post_send: %s", strerror(errno));
		return k->broken = 1, GF_EFAULT;
	}
	while (!(n = ibv_poll_cq(k->e.cq, 1, &wc)) && gf_now_monotonic() < deadline)
		back_off(start, &nap);
	if (n <= 0 || wc.status != IBV_WC_SUCCESS) {
		snprintf(why, whylen, "RDMA %s completion: %s", op == IBV_WR_RDMA_READ
			 ? "READ" : "WRITE", n > 0 ? v.wc_status_str(wc.status) : "none");
		return k->broken = 1, GF_EFAULT;
	}
	return GF_OK;
}

static int link_send(void *ctx, const struct gf_buf *b)
{
	struct link *k = ctx;
	struct gf_req_area *out = (struct gf_req_area *)k->e.area[0];
	char why[128];

	if (b->len != GF_SLOT_MSG || link_down(k, why, sizeof why))
		return GF_EFAULT;
	memcpy(out->msg, b->data, b->len);
	out->posted = ++k->posted;
	return post_and_wait(k, IBV_WR_RDMA_WRITE, out, k->e.mr[0]->lkey,
			     k->wire.req_addr, k->wire.req_rkey, sizeof *out, why,
			     sizeof why);
}

/* Reads the response area until it holds answer number `answers + 1`
 * whole: one read usually, a second for a long answer. */
static int link_recv(void *ctx, struct gf_buf *b, uint32_t max, double timeout_s,
		     char *why, size_t whylen)
{
	struct link *k = ctx;
	uint8_t *in = k->e.area[1];
	double start = gf_now_monotonic(), nap = NAP_MIN_S;
	size_t have = 0, need = FIRST_READ;
	int rc;

	b->len = 0;
	for (;;) {
		if (need > k->wire.resp_size)
			need = k->wire.resp_size;
		if (link_down(k, why, whylen))
			return GF_EFAULT;
		if ((rc = post_and_wait(k, IBV_WR_RDMA_READ, in + have, k->e.mr[1]->lkey,
					k->wire.resp_addr + have, k->wire.resp_rkey,
					(uint32_t)(need - have), why, whylen)))
			return rc;
		have = need;
		rc = mailbox_answer(in, have, k->answers + 1, max, &need, why, whylen);
		if (rc == GF_EINVAL)
			return rc;
		if (rc == GF_OK && need <= have)
			break;
		if (rc == GF_EBUSY) { /* not there yet, or torn: from the start */
			have = 0;
			need = FIRST_READ;
			if (gf_now_monotonic() - start > timeout_s)
				return GF_EBUSY;
			back_off(start, &nap);
		}
	}
	k->answers++;
	if ((rc = gf_buf_reserve(b, need - 16)))
		return rc;
	memcpy(b->data, in + 8, need - 16); /* between the marks */
	b->len = need - 16;
	return GF_OK;
}

static void link_close(void *ctx)
{
	struct link *k = ctx;

	v.disconnect(k->e.id);
	link_free(k);
}

/* Resolve, route, queue pair, connect: the mailbox's addresses arrive
 * with the accept. */
static int link_open(struct link *k, const char *addr, char *why, size_t whylen)
{
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 7 };
	struct addrinfo *ai;
	int rc;

	if (tcp_resolve(addr, AF_INET, 0, &ai, why, whylen))
		return GF_EINVAL;
	if (!(k->ch = v.create_event_channel()) ||
	    v.create_id(k->ch, &k->e.id, k, RDMA_PS_TCP)) {
		snprintf(why, whylen, "rdma_cm: %s", strerror(errno));
		freeaddrinfo(ai);
		return GF_EFAULT;
	}
	rc = v.resolve_addr(k->e.id, NULL, ai->ai_addr, RESOLVE_MS);
	freeaddrinfo(ai);
	if (rc || (rc = expect_event(k->ch, RDMA_CM_EVENT_ADDR_RESOLVED, NULL, why,
				     whylen)))
		return rc ? rc : GF_EFAULT;
	v.set_option(k->e.id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT,
		     &(uint8_t){ ACK_TIMEOUT }, sizeof(uint8_t));
	if (v.resolve_route(k->e.id, RESOLVE_MS))
		return GF_EFAULT;
	if ((rc = expect_event(k->ch, RDMA_CM_EVENT_ROUTE_RESOLVED, NULL, why, whylen)) ||
	    (rc = endpoint_setup(&k->e, (const int[2]){ IBV_ACCESS_LOCAL_WRITE,
						    IBV_ACCESS_LOCAL_WRITE }, why, whylen)))
		return rc;
	if (v.connect(k->e.id, &cp)) {
		snprintf(why, whylen, "rdma_connect: %s", strerror(errno));
		return GF_EFAULT;
	}
	if ((rc = expect_event(k->ch, RDMA_CM_EVENT_ESTABLISHED, &k->wire, why, whylen)))
		return rc;
	if (k->wire.magic != GF_WIRE_MAGIC || k->wire.version != GF_PROTO_VERSION ||
	    k->wire.resp_size < FIRST_READ || k->wire.resp_size > GF_RESP_AREA) {
		snprintf(why, whylen, "the agent's mailbox description is not ours");
		return GF_EINVAL;
	}
	return GF_OK;
}

static int mailbox_connect(struct gf_io *io, const char *addr, double timeout_s,
			   char *why, size_t whylen)
{
	struct link *k;
	int rc;

	(void)timeout_s; /* rdma_cm's steps have their own timeouts */
	if ((rc = verbs_ready(why, whylen)))
		return rc;
	if (!(k = calloc(1, sizeof *k))) {
		snprintf(why, whylen, "out of memory");
		return GF_ENOMEM;
	}
	if ((rc = link_open(k, addr, why, whylen))) {
		link_free(k);
		return rc;
	}
	*io = (struct gf_io){ .send = link_send, .recv = link_recv, .close = link_close,
			      .ctx = k };
	snprintf(io->peer, sizeof io->peer, "rdma:%s", addr);
	return GF_OK;
}

const struct gf_transport gf_transport_rdma = {
	.scheme = "rdma", .address = "ADDR:PORT", .protocol = 1,
	.listen = mailbox_listen, .connect = mailbox_connect,
};
