/* devbox.c — the GPU's mailbox server (devbox.h), on either processor.
 *
 * One request at a time, in the order of the checks that guard it: taken
 * whole out of the request area (a NIC may overwrite it while we work),
 * its header as msg_check_header() wants it and of a request's type and
 * length, its MAC under a role's request key (compared in constant time),
 * its sequence number above the last accepted. Only then is anything read
 * for it; the answer is built in place in the response area, MAC'ed with
 * that role's answer key and framed as mailbox_post() frames it (rdma.c):
 * begin mark zeroed, message and end mark, a fence, then the begin mark.
 *
 * Answers come from the watch loop's publication, which the caller holds
 * still (on the GPU: the thread that steps the loop serves between
 * steps), and the host's board template; the log and signals read and
 * write the target itself, as the loop does. Texts are fixed strings.
 *
 * Like loop.c: no libc but memset/memcpy, no allocation, no host
 * pointers, a small stack; every static name starts with devbox_, as
 * kernels.cu includes this beside loop.c in one unit.
 */
#include <string.h>

#include "blake2b.h"
#include "board.h"
#include "core.h"
#include "detect.h"
#include "devbox.h"
#include "gpufas.h"
#include "helper.h"
#include "introspect.h"
#include "kmod/gpufas_helper.h"
#include "loop.h"
#include "proto.h"
#include "rdma.h"
#include "recover.h"

#ifdef __CUDA_ARCH__
#define DEVBOX_FENCE() __threadfence_system()
#else
#define DEVBOX_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

#define DEVBOX_SIGCONT 18
#define DEVBOX_STR_(x) #x
#define DEVBOX_STR(x) DEVBOX_STR_(x)
#define DEVBOX_BOARD_TRIES 4 /* the host rewriting the template: look again */

/* A request as the request area holds it (GF_SLOT_MSG bytes). */
struct devbox_request {
	struct gf_msg_hdr h;
	struct gf_request body;
};

GF_HD static uint64_t devbox_align64(uint64_t v)
{
	return (v + 63) & ~63ull;
}

/* The longest answer: a board, a process list of task_cap, or a log
 * tail; never more than the protocol's largest payload. */
GF_HD static uint64_t devbox_payload_max(uint32_t task_cap)
{
	uint64_t most = sizeof(struct gf_board);
	uint64_t ps = sizeof(struct gf_ps_head) +
		      (uint64_t)task_cap * sizeof(struct gf_board_task);

	if (ps > most)
		most = ps;
	if (GF_DEVBOX_LOG > most)
		most = GF_DEVBOX_LOG;
	return most < GF_MAX_PAYLOAD ? most : GF_MAX_PAYLOAD;
}

GF_HD uint64_t gf_devbox_size(uint32_t task_cap)
{
	uint64_t req = devbox_align64(sizeof(struct gf_devbox));
	uint64_t resp = devbox_align64(req + sizeof(struct gf_req_area));

	return resp + 8 + sizeof(struct gf_msg_hdr) + devbox_payload_max(task_cap) + 8;
}

GF_HD void gf_devbox_init(struct gf_devbox *box, struct gf_devbox_state *st,
			  int32_t target, uint32_t task_cap,
			  const uint8_t nonce[GF_NONCE_BYTES])
{
	memset(box, 0, sizeof *box);
	box->magic = GF_DEVBOX_MAGIC;
	box->version = GF_DEVBOX_VERSION;
	box->target = target;
	box->req_off = devbox_align64(sizeof *box);
	box->resp_off = devbox_align64(box->req_off + sizeof(struct gf_req_area));
	box->size = gf_devbox_size(task_cap);
	box->resp_size = (uint32_t)(box->size - box->resp_off);
	memcpy(box->nonce, nonce, GF_NONCE_BYTES);
	memset(st, 0, sizeof *st);
	st->layout = *box;
}

void gf_devbox_board_put(struct gf_devbox_board *t, const struct gf_board *b,
			 double clock_offset)
{
	uint64_t gen = __atomic_load_n(&t->gen, __ATOMIC_RELAXED);

	memcpy(&t->b[(gen + 1) & 1], b, sizeof *b);
	t->clock_offset = clock_offset;
	__atomic_store_n(&t->gen, gen + 1, __ATOMIC_RELEASE);
}

/* ---- MACs: keyed BLAKE2b over the header, mac zeroed, and payload ---- */

GF_HD static void devbox_mac(uint8_t mac[GF_MAC_BYTES],
			     const struct gf_msg_hdr *h, const void *payload,
			     const uint8_t key[GF_KEY_BYTES])
{
	struct gf_blake2b_state st;
	struct gf_msg_hdr zeroed = *h;

	memset(zeroed.mac, 0, sizeof zeroed.mac);
	gf_blake2b_init(&st, GF_MAC_BYTES, key, GF_KEY_BYTES);
	gf_blake2b_update(&st, &zeroed, sizeof zeroed);
	gf_blake2b_update(&st, payload, h->length);
	gf_blake2b_final(&st, mac);
}

/* Equal, in time that does not depend on where they differ. */
GF_HD static int devbox_equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	uint8_t diff = 0;

	for (uint32_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The role whose request key made this request, or -1; both tried, so
 * that the time taken does not say which. */
GF_HD static int devbox_role(const struct gf_devbox_state *keys,
			     const struct devbox_request *rq)
{
	uint8_t mac[GF_MAC_BYTES];
	int role = -1;

	for (int r = GF_DEVBOX_ROLES - 1; r >= 0; r--) {
		devbox_mac(mac, &rq->h, &rq->body, keys->request[r]);
		if (keys->has[r] && devbox_equal(mac, rq->h.mac, GF_MAC_BYTES))
			role = r;
	}
	return role;
}

/* Who sent a well-formed, genuine, new request: its role, or
 * GF_EREFUSED. */
GF_HD static int devbox_accept(const struct gf_devbox_state *st,
			       const struct devbox_request *rq)
{
	const struct gf_msg_hdr *h = &rq->h;
	int role;

	if (gf_msg_hdr_fault(h) != GF_HDR_OK || h->length != sizeof rq->body ||
	    h->type < GF_MSG_HEARTBEAT || h->type >= GF_MSG_TYPES)
		return GF_EREFUSED;
	role = devbox_role(st, rq);
	return role >= 0 && h->seq > st->last_seq ? role : GF_EREFUSED;
}

/* ---- Answers, written in place after the begin mark ---- */

GF_HD static void *devbox_start(uint8_t *resp, const struct gf_msg_hdr *req,
				int32_t target, int32_t status, uint32_t length)
{
	struct gf_msg_hdr *h = (struct gf_msg_hdr *)(resp + 8);

	gf_msg_hdr_init(h, req->type | GF_MSG_ANSWER, req->seq, target, status,
			length);
	return h + 1;
}

/* One line of text, as msg_text() answers (target 0). */
GF_HD static void devbox_text(uint8_t *resp, const struct gf_msg_hdr *req,
			      int32_t status, const char *text)
{
	uint32_t n = 0;

	while (text[n] && n < GF_REMOTE_MSG - 1)
		n++;
	memcpy(devbox_start(resp, req, 0, status, n), text, n);
}

/* The host's latest board, copied whole from the half gen names, then
 * what the loop knows newer. */
GF_HD static void devbox_board(struct gf_board *b,
			       const struct gf_devbox_board *t,
			       const struct gf_pub *pub,
			       const struct gf_kernel *k)
{
	const struct gf_point *p = &pub->newest;
	double offset = 0;

	memset(b, 0, sizeof *b);
	for (int i = 0; t && i < DEVBOX_BOARD_TRIES; i++) {
		uint64_t gen = *(const volatile uint64_t *)&t->gen;
		DEVBOX_FENCE();
		gf_copy_volatile(b, (const volatile uint8_t *)&t->b[gen & 1], sizeof *b);
		offset = *(const volatile double *)&t->clock_offset;
		DEVBOX_FENCE();
		if (*(const volatile uint64_t *)&t->gen == gen)
			break;
	}
	b->attached = !pub->loss;
	b->writable = (uint8_t)k->writable;
	b->has_metrics = (uint8_t)k->lay.has_metrics;
	b->host_stalled = (uint8_t)pub->host_stalled;
	b->nprocs = pub->ntasks;
	memcpy(b->verdict, pub->v, sizeof b->verdict);
	if (pub->steps) {
		b->sampled = p->time + offset;
		b->tainted = p->s.tainted;
		b->mem_total_kib = pages_kib(p->s.total_pages);
		b->mem_free_kib = pages_kib(p->s.free_pages);
		b->mem_available_kib = pages_kib(p->s.available_pages);
		b->swap_total_kib = pages_kib(p->s.swap_total_pages);
		b->swap_free_kib = pages_kib(p->s.swap_free_pages);
	}
	if (pub->rates.seconds > 0 && b->has_metrics)
		b->rates = pub->rates;
	if (pub->v[GF_PANIC].active) { /* its head, as board_note keeps it */
		uint32_t n = 0;
		while (n < GF_BOARD_LOG - 1 && pub->panic_log[n])
			n++;
		memcpy(b->panic_log, pub->panic_log, n);
		b->panic_log[n] = 0;
	}
}

/* The processes the loop published, as many as the area holds. */
GF_HD static uint32_t devbox_ps(uint8_t *payload, uint32_t room,
				const struct gf_pub *pub)
{
	struct gf_ps_head *head = (struct gf_ps_head *)payload;
	uint32_t fit = (room - sizeof *head) / sizeof(struct gf_board_task);
	uint32_t n = pub->ntasks < pub->task_cap ? pub->ntasks : pub->task_cap;

	if (n > fit)
		n = fit;
	head->count = n;
	head->total = pub->ntasks;
	memcpy(head + 1, (const uint8_t *)pub + pub->tasks_off,
	       n * sizeof(struct gf_board_task));
	return sizeof *head + n * sizeof(struct gf_board_task);
}

/* The refusals operator_signal() makes, for an operator's signal: *text
 * says why not; t is the process found. */
GF_HD static int devbox_admit(const struct gf_kernel *k,
			      const struct gf_request *rq, struct gf_task *t,
			      const char **text)
{
	const char *unsafe;
	int err;

	*text = "bad signal or pid";
	if (rq->sig < 1 || rq->sig > 31 || rq->pid <= 0)
		return GF_EINVAL;
	*text = "SIGCONT must wake stopped threads, which a memory write cannot do";
	if (rq->sig == DEVBOX_SIGCONT)
		return GF_EREFUSED;
	*text = "target is read-only; nothing written";
	if (!k->writable)
		return GF_EREFUSED;
	*text = "no such process";
	if ((err = gf_find_task(k, rq->pid, t)))
		return err;
	*text = "the pid is now another process; nothing written";
	if (rq->start_time && t->start_time != rq->start_time)
		return GF_ESTALE;
	if ((unsafe = gf_unsafe_target(t))) {
		*text = unsafe;
		return GF_EREFUSED;
	}
	return GF_OK;
}

/* The pseudo-signal to the process admitted; *text is `done` once
 * written. */
GF_HD static int devbox_write(const struct gf_kernel *k, const struct gf_request *rq,
			      const struct gf_task *t, const char *done,
			      const char **text)
{
	int err, result;

	*text = "the process changed or could not be read; nothing written";
	if ((err = gf_send_signal(k, t, rq->sig, &result)))
		return err;
	*text = done;
	return GF_OK;
}

/* An operator's signal, told as a loop event whatever came of it, as the
 * agent tells the ones its hub carries out; path is how it went (enum
 * gf_path). */
GF_HD static void devbox_tell(struct gf_loop *l, struct gf_pub *pub,
			      const struct gf_request *rq, const struct gf_task *t,
			      int err, uint32_t path, double now)
{
	struct gf_report r;

	memset(&r, 0, sizeof r);
	r.kind = GF_ACTION;
	r.pid = rq->pid;
	r.sig = rq->sig;
	r.path = path;
	r.outcome = err ? GF_REFUSED : GF_WRITTEN;
	r.err = err;
	memcpy(r.comm, t->comm, sizeof r.comm);
	gf_loop_operator(l, pub, &r, now);
}

/* An operator's signal where there is no helper: admitted, then written. */
GF_HD static int devbox_signal(struct gf_loop *l, struct gf_pub *pub,
			       const struct gf_kernel *k,
			       const struct gf_request *rq, double now,
			       const char **text)
{
	struct gf_task t;
	int err;

	memset(&t, 0, sizeof t);
	if (!(err = devbox_admit(k, rq, &t, text)))
		err = devbox_write(k, rq, &t, "signal marked pending; the guest kernel "
				   "delivers it at the process's next return to user "
				   "mode", text);
	devbox_tell(l, pub, rq, &t, err, GF_PATH_PLAIN, now);
	return err;
}

/* Answers an accepted request of role into resp; returns its length. */
GF_HD static uint32_t devbox_answer(const struct gf_devbox *box, uint8_t *resp,
				    const struct devbox_request *rq, int role,
				    struct gf_loop *l, struct gf_pub *pub,
				    const struct gf_devbox_board *tmpl,
				    const struct gf_kernel *k, double now)
{
	const struct gf_msg_hdr *h = &rq->h;
	const struct gf_request *a = &rq->body;
	uint32_t room = box->resp_size - 16 - sizeof *h, len;
	uint8_t *p = resp + 8 + sizeof *h;
	const char *text;
	int err;

	if (h->type != GF_MSG_HEARTBEAT && h->target != box->target)
		devbox_text(resp, h, GF_EINVAL, "no such target");
	else if (h->type == GF_MSG_HEARTBEAT) {
		struct gf_beat *b = (struct gf_beat *)devbox_start(resp, h, h->target,
								   GF_OK, sizeof *b);
		b->beat = a->beat;
		b->rounds = pub->steps;
	} else if (h->type == GF_MSG_SNAPSHOT) {
		devbox_start(resp, h, h->target, GF_OK, sizeof(struct gf_board));
		devbox_board((struct gf_board *)p, tmpl, pub, k);
	} else if (h->type == GF_MSG_PS) {
		len = devbox_ps(p, room, pub);
		devbox_start(resp, h, h->target, GF_OK, len);
	} else if (h->type == GF_MSG_LOG) {
		if (a->arg < 1 || a->arg > GF_LOG_RECORDS_MAX)
			devbox_text(resp, h, GF_EINVAL, "log records must be 1 to "
				    DEVBOX_STR(GF_LOG_RECORDS_MAX));
		else if ((err = gf_log_tail(k, a->arg, (char *)p, GF_DEVBOX_LOG, &len)))
			devbox_text(resp, h, err, "cannot read the kernel log");
		else
			devbox_start(resp, h, h->target, GF_OK, len);
	} else if (h->type == GF_MSG_DETECT) {
		if (a->arg >= GF_NCLASSES)
			devbox_text(resp, h, GF_EINVAL, "no such detector class");
		else
			memcpy(devbox_start(resp, h, h->target, GF_OK,
					    sizeof(struct gf_verdict)),
			       &pub->v[a->arg], sizeof(struct gf_verdict));
	} else if (role != GF_DEVBOX_OPERATOR) { /* a signal */
		devbox_text(resp, h, GF_EREFUSED, "this key is read-only: signals "
			    "need the operator key");
	} else {
		err = devbox_signal(l, pub, k, a, now, &text);
		devbox_text(resp, h, err, text);
	}
	return sizeof *h + ((struct gf_msg_hdr *)(resp + 8))->length;
}

/* Frames the answer of `len` bytes built in the response area for the
 * request posted as `number`, as mailbox_post() frames it. */
GF_HD static void devbox_post(uint8_t *mem, struct gf_devbox_state *st,
			      uint32_t len, uint64_t number)
{
	uint8_t *resp = mem + st->layout.resp_off;
	struct gf_devbox *shown = (struct gf_devbox *)mem;

	memcpy(resp + 8 + len, &number, 8);
	DEVBOX_FENCE();
	memcpy(resp, &number, 8);
	st->served = number;
	shown->last_seq = st->last_seq;
	shown->served = number;
	DEVBOX_FENCE();
}

/* Takes an operator's signal to the in-OS helper, where the target has
 * one and the signal passes the refusals: 1 when posted, st->wait holding
 * it. Else 0, and it is answered as ever (refused, or written). */
GF_HD static int devbox_to_helper(struct gf_devbox_state *st,
				  const struct devbox_request *rq, int role,
				  uint64_t number, const struct gf_kernel *k,
				  double now)
{
	struct gf_devbox_wait *w = &st->wait;
	const char *text;

	if (!k->helper || role != GF_DEVBOX_OPERATOR || rq->h.type != GF_MSG_SIGNAL ||
	    rq->h.target != st->layout.target ||
	    devbox_admit(k, &rq->body, &w->task, &text) ||
	    gf_helper_post(k, k->helper, &w->task, 1, rq->body.sig, &w->helper_seq))
		return 0;
	w->active = 1;
	w->role = role;
	w->number = number;
	w->posted = now;
	w->h = rq->h;
	w->body = rq->body;
	return 1;
}

/* The helper's answer to the signal in st->wait, or once it is
 * GF_DEVBOX_HELPER_WAIT_S late, the pseudo-signal (never both: a SIGKILL
 * after a pseudo-signal is dropped, operator.c says why); then the answer
 * goes out as any other. 1 once answered. */
GF_HD static int devbox_await(uint8_t *mem, struct gf_devbox_state *st,
			      struct gf_loop *l, struct gf_pub *pub,
			      const struct gf_kernel *k, double now)
{
	struct gf_devbox_wait *w = &st->wait;
	struct gf_msg_hdr *out = (struct gf_msg_hdr *)(mem + st->layout.resp_off + 8);
	int answer = gf_helper_answer(k, k->helper, w->helper_seq), err;
	uint32_t path = GF_PATH_HELPER;
	const char *text;

	if (answer == GFH_NONE && now - w->posted < GF_DEVBOX_HELPER_WAIT_S)
		return 0;
	switch (answer) {
	case GFH_DONE:
		err = GF_OK;
		text = "signal sent by the guest kernel, through the in-OS helper: "
		       "it wakes a sleeping process";
		break;
	case GFH_NO_TASK:
		err = GF_ESRCH;
		text = "the in-OS helper: no such task; nothing written";
		break;
	case GFH_CHANGED:
		err = GF_ESTALE;
		text = "the in-OS helper: the task changed (pid reused); nothing written";
		break;
	case GFH_REFUSED:
		err = GF_EREFUSED;
		text = "the in-OS helper: refused; nothing written";
		break;
	default:
		path = GF_PATH_PSEUDO;
		err = devbox_write(k, &w->body, &w->task, "the in-OS helper gave no "
				   "answer: signal marked pending; the guest kernel "
				   "delivers it at the process's next return to user "
				   "mode", &text);
	}
	devbox_tell(l, pub, &w->body, &w->task, err, path, now);
	w->active = 0;
	devbox_text(mem + st->layout.resp_off, &w->h, err, text);
	devbox_mac(out->mac, out, out + 1, st->answer[w->role]);
	devbox_post(mem, st, sizeof *out + out->length, w->number);
	return 1;
}

GF_HD_OUTLINE int gf_devbox_serve(uint8_t *mem, struct gf_devbox_state *st,
				  struct gf_loop *l, struct gf_pub *pub,
				  const struct gf_devbox_board *tmpl,
				  const struct gf_kernel *k, double now)
{
	const struct gf_devbox *box = &st->layout;
	struct gf_req_area *area = (struct gf_req_area *)(mem + box->req_off);
	uint64_t number, zero = 0;
	uint8_t *resp = mem + box->resp_off;
	struct gf_msg_hdr *out = (struct gf_msg_hdr *)(resp + 8);
	struct devbox_request rq;
	uint32_t len;
	int role;

	if (st->wait.active)
		return devbox_await(mem, st, l, pub, k, now);
	number = *(volatile uint64_t *)&area->posted;
	if (number == st->served)
		return 0;
	DEVBOX_FENCE(); /* the flag before the message it flags */
	gf_copy_volatile(&rq, area->msg, sizeof rq);
	memcpy(resp, &zero, 8);
	DEVBOX_FENCE();
	if ((role = devbox_accept(st, &rq)) < 0) {
		devbox_text(resp, &rq.h, GF_EREFUSED, "refused"); /* mac stays 0 */
		len = sizeof *out + out->length;
	} else {
		st->last_seq = rq.h.seq;
		if (devbox_to_helper(st, &rq, role, number, k, now))
			return 0;
		len = devbox_answer(box, resp, &rq, role, l, pub, tmpl, k, now);
		devbox_mac(out->mac, out, out + 1, st->answer[role]);
	}
	devbox_post(mem, st, len, number);
	return 1;
}
