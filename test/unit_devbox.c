/* test/unit_devbox.c — unit tests of devbox.c: the GPU's mailbox server,
 * run on the CPU. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../auth.h"
#include "../board.h"
#include "../core.h"
#include "../detect.h"
#include "../devbox.h"
#include "../gpufas.h"
#include "../kmod/gpufas_helper.h"
#include "../loop.h"
#include "../proto.h"
#include "../rdma.h"
#include "../recover.h"

/* ======================================================================
 * The GPU's mailbox server (devbox.c), run on the CPU over host memory:
 * requests made and answers checked with the viewer's own functions
 * (proto.c, auth.c: libsodium's BLAKE2b), so that the GPU's MACs are held
 * against the host's.
 * ====================================================================== */

#define BOX_TARGET 3

struct boxrig {
	struct rig r;
	struct guest *g;
	uint8_t *mem;
	struct gf_devbox_state st;
	struct gf_devbox_board *tmpl;
	uint8_t op_psk[GF_KEY_BYTES], read_psk[GF_KEY_BYTES];
	uint8_t stranger[GF_KEY_BYTES];
	uint64_t posted, seq;
	struct gf_buf req, ans;
};

static void boxrig_new(struct boxrig *b)
{
	struct gf_devbox head;
	uint8_t nonce[GF_NONCE_BYTES];

	memset(b, 0, sizeof *b);
	REQUIRE(auth_init() == GF_OK);
	rig_new(&b->r, 0);
	b->g = world_new(4, 0);
	auth_nonce(nonce);
	randombytes_buf(b->op_psk, GF_KEY_BYTES);
	randombytes_buf(b->read_psk, GF_KEY_BYTES);
	randombytes_buf(b->stranger, GF_KEY_BYTES);
	b->mem = xcalloc(gf_devbox_size(b->r.p.task_cap));
	gf_devbox_init(&head, &b->st, BOX_TARGET, b->r.p.task_cap, nonce);
	memcpy(b->mem, &head, sizeof head);
	auth_mailbox_keys(b->op_psk, nonce, b->st.request[GF_DEVBOX_OPERATOR],
			  b->st.answer[GF_DEVBOX_OPERATOR]);
	auth_mailbox_keys(b->read_psk, nonce, b->st.request[GF_DEVBOX_READ],
			  b->st.answer[GF_DEVBOX_READ]);
	b->st.has[GF_DEVBOX_OPERATOR] = b->st.has[GF_DEVBOX_READ] = 1;
	b->tmpl = xcalloc(sizeof *b->tmpl);
	for (int i = 1; i <= 12; i++)
		gf_loop_step(b->r.l, b->r.pub, &b->g->k, i * 0.1, 0);
}

static void boxrig_free(struct boxrig *b)
{
	gf_buf_free(&b->req);
	gf_buf_free(&b->ans);
	free(b->tmpl);
	free(b->mem);
	guest_free(b->g);
	rig_free(&b->r);
}

static const struct gf_devbox *box_header(const struct boxrig *b)
{
	return (const struct gf_devbox *)b->mem;
}

/* Posts b->req as the NIC would: message, then the number. */
static void box_post(struct boxrig *b)
{
	const struct gf_devbox *h = box_header(b);
	struct gf_req_area *area = (struct gf_req_area *)(b->mem + h->req_off);

	REQUIRE(b->req.len <= GF_SLOT_MSG);
	memset(area->msg, 0, sizeof area->msg);
	memcpy(area->msg, b->req.data, b->req.len);
	area->posted = ++b->posted;
}

static int box_serve(struct boxrig *b, double now)
{
	return gf_devbox_serve(b->mem, &b->st, b->r.l, b->r.pub, b->tmpl, &b->g->k, now);
}

/* The answer to the last request posted, framed as mailbox_answer() wants
 * it, into b->ans. Returns the MAC's verdict under psk's answer key:
 * GF_OK or GF_EINVAL. */
static int box_take(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	const struct gf_devbox *h = box_header(b);
	const uint8_t *resp = b->mem + h->resp_off;
	struct gf_session s = { 0 };
	uint8_t request_key[GF_KEY_BYTES];
	char why[256];
	size_t need;

	CHECK_EQ(h->served, b->posted);
	REQUIRE(mailbox_answer(resp, h->resp_size, b->posted, h->resp_size - 16,
			       &need, why, sizeof why) == GF_OK);
	REQUIRE(need <= h->resp_size);
	REQUIRE(mailbox_answer(resp, need, b->posted, h->resp_size - 16, &need,
			       why, sizeof why) == GF_OK);
	REQUIRE(gf_buf_reserve(&b->ans, need - 16) == GF_OK);
	memcpy(b->ans.data, resp + 8, need - 16);
	b->ans.len = need - 16;
	auth_mailbox_keys(psk, h->nonce, request_key, s.rx_key);
	s.seq = ((const struct gf_msg_hdr *)b->ans.data)->seq;
	return auth_open(&s, b->ans.data, b->ans.len, 0, why, sizeof why);
}

/* Posts b->req and lets the server answer it at once. */
static int box_exchange(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	box_post(b);
	REQUIRE(box_serve(b, 2.0) == 1);
	CHECK_EQ(box_serve(b, 2.0), 0);
	return box_take(b, psk);
}

/* b->req MAC'ed with psk's request key, as test/nic does it. */
static void box_seal(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES])
{
	struct gf_session s = { 0 };
	uint8_t answer_key[GF_KEY_BYTES];

	auth_mailbox_keys(psk, box_header(b)->nonce, s.tx_key, answer_key);
	auth_seal(&s, &b->req);
}

static void box_request(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
			uint16_t type, uint64_t seq, int32_t target,
			const struct gf_request *body)
{
	struct gf_request *p = msg_start(&b->req, type, seq, target, GF_OK, sizeof *p);

	REQUIRE(p);
	*p = *body;
	box_seal(b, psk);
}

/* One exchange with the next sequence number: the answer's status, its
 * MAC required to verify. */
static int box_call(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
		    uint16_t type, const struct gf_request *body)
{
	const struct gf_msg_hdr *h;

	box_request(b, psk, type, ++b->seq, BOX_TARGET, body);
	REQUIRE(box_exchange(b, psk) == GF_OK);
	h = (const struct gf_msg_hdr *)b->ans.data;
	CHECK_EQ(h->type, type | GF_MSG_ANSWER);
	CHECK_EQ(h->seq, b->seq);
	CHECK_EQ(box_header(b)->last_seq, b->seq);
	return h->status;
}

static const void *box_payload(const struct boxrig *b)
{
	return b->ans.data + sizeof(struct gf_msg_hdr);
}

static uint32_t box_length(const struct boxrig *b)
{
	return ((const struct gf_msg_hdr *)b->ans.data)->length;
}

/* An answer's text, NUL-terminated. */
static const char *box_text(const struct boxrig *b)
{
	static char text[GF_REMOTE_MSG + 1];
	uint32_t n = box_length(b) < GF_REMOTE_MSG ? box_length(b) : GF_REMOTE_MSG;

	memcpy(text, box_payload(b), n);
	text[n] = 0;
	return text;
}

/* The answer refuses and says nothing: no MAC, "refused". */
static void box_refused(struct boxrig *b, const uint8_t psk[GF_KEY_BYTES],
			  uint64_t last_seq)
{
	static const uint8_t zero[GF_MAC_BYTES];
	const struct gf_msg_hdr *h;

	CHECK_EQ(box_exchange(b, psk), GF_EINVAL);
	h = (const struct gf_msg_hdr *)b->ans.data;
	CHECK_EQ(h->status, GF_EREFUSED);
	CHECK(!memcmp(h->mac, zero, sizeof zero));
	CHECK_STR(box_text(b), "refused");
	CHECK_EQ(b->st.last_seq, last_seq);
	CHECK_EQ(box_header(b)->last_seq, last_seq);
}

static void test_devbox_layout(void)
{
	struct boxrig b;
	const struct gf_devbox *h;

	boxrig_new(&b);
	h = box_header(&b);
	CHECK_EQ(h->magic, GF_DEVBOX_MAGIC);
	CHECK_EQ(h->target, BOX_TARGET);
	CHECK_EQ(h->req_off % 64, 0);
	CHECK_EQ(h->resp_off % 64, 0);
	CHECK(h->resp_off >= h->req_off + sizeof(struct gf_req_area));
	CHECK_EQ(h->resp_off + h->resp_size, h->size);
	/* a board, and a process list of task_cap, fit */
	CHECK(h->resp_size >= 16 + sizeof(struct gf_msg_hdr) + sizeof(struct gf_board));
	CHECK(h->resp_size >= 16 + sizeof(struct gf_msg_hdr) + sizeof(struct gf_ps_head) +
	      b.r.p.task_cap * sizeof(struct gf_board_task));
	/* nothing posted: nothing answered */
	CHECK_EQ(gf_devbox_serve(b.mem, &b.st, b.r.l, b.r.pub, b.tmpl, &b.g->k, 2.0), 0);
	boxrig_free(&b);
}

/* Each key's pair is its own, and a new nonce makes new ones. */
static void test_devbox_keys(void)
{
	uint8_t psk[GF_KEY_BYTES] = { 1 }, n1[GF_NONCE_BYTES] = { 2 },
		n2[GF_NONCE_BYTES] = { 3 };
	uint8_t rq1[GF_KEY_BYTES], an1[GF_KEY_BYTES], rq2[GF_KEY_BYTES],
		an2[GF_KEY_BYTES], want[GF_KEY_BYTES];
	crypto_generichash_state st;
	static const char label[] = "gpufas gpu-mailbox c2s";

	REQUIRE(auth_init() == GF_OK);
	auth_mailbox_keys(psk, n1, rq1, an1);
	auth_mailbox_keys(psk, n2, rq2, an2);
	CHECK(memcmp(rq1, an1, GF_KEY_BYTES));
	CHECK(memcmp(rq1, rq2, GF_KEY_BYTES));
	CHECK(memcmp(an1, an2, GF_KEY_BYTES));
	/* as documented: BLAKE2b(key=PSK, label | nonce) */
	crypto_generichash_init(&st, psk, GF_KEY_BYTES, GF_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, n1, GF_NONCE_BYTES);
	crypto_generichash_final(&st, want, GF_KEY_BYTES);
	CHECK(!memcmp(rq1, want, GF_KEY_BYTES));
}

static void test_devbox_heartbeat(void)
{
	struct gf_request rq = { .beat = 77 };
	const struct gf_beat *beat;
	struct boxrig b;

	boxrig_new(&b);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof *beat);
	beat = box_payload(&b);
	CHECK_EQ(beat->beat, 77);
	CHECK_EQ(beat->rounds, 12);
	/* the loop steps on: so do the rounds, for either key */
	gf_loop_step(b.r.l, b.r.pub, &b.g->k, 1.3, 0);
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	CHECK_EQ(((const struct gf_beat *)box_payload(&b))->rounds, 13);
	boxrig_free(&b);
}

static void test_devbox_board(void)
{
	struct gf_request rq = { 0 };
	struct gf_board *host = xcalloc(sizeof *host), got;
	struct boxrig b;

	boxrig_new(&b);
	board_init(host, "vm:x");
	snprintf(host->release, sizeof host->release, "6.12.0");
	host->nprocs = 999;   /* the host's, stale: the loop's wins */
	gf_devbox_board_put(b.tmpl, host, 1000.0);
	snprintf(host->release, sizeof host->release, "half-written");
	memcpy(&b.tmpl->b[(b.tmpl->gen + 1) & 1], host, sizeof *host); /* no gen */
	b.r.pub->host_stalled = 1;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_SNAPSHOT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof got);
	memcpy(&got, box_payload(&b), sizeof got);
	CHECK(!memcmp(got.verdict, b.r.pub->v, sizeof got.verdict));
	board_sanitize(&got);
	CHECK_STR(got.target, "vm:x");
	CHECK_STR(got.release, "6.12.0");
	CHECK_EQ(got.attached, 1);
	CHECK_EQ(got.host_stalled, 1);
	CHECK_EQ(got.nprocs, NELEM(WORLD_PROCESSES));
	CHECK(got.sampled > 1001.19 && got.sampled < 1001.21);
	free(host);
	boxrig_free(&b);
}

static void test_devbox_ps(void)
{
	struct gf_request rq = { 0 };
	const struct gf_ps_head *head;
	const struct gf_board_task *t;
	struct boxrig b;

	boxrig_new(&b);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_PS, &rq), GF_OK);
	head = box_payload(&b);
	REQUIRE(head->count == NELEM(WORLD_PROCESSES));
	CHECK_EQ(head->total, NELEM(WORLD_PROCESSES));
	CHECK_EQ(box_length(&b), sizeof *head + head->count * sizeof *t);
	t = (const struct gf_board_task *)(head + 1);
	for (uint32_t i = 0; i < head->count; i++)
		CHECK_EQ(t[i].t.pid, WORLD_PROCESSES[i].pid);
	boxrig_free(&b);
}

static void test_devbox_log(void)
{
	struct gf_request rq = { .arg = 2 };
	struct boxrig b;
	struct ring r;
	char want[4096];
	uint32_t len;

	boxrig_new(&b);
	r = ring_new(b.g);
	ring_add(b.g, &r, 0, SV_FINALIZED, 1000000000ull, "first line");
	ring_add(b.g, &r, 1, SV_FINALIZED, 2000000000ull, "second line");
	ring_add(b.g, &r, 2, SV_FINALIZED, 3000000000ull, "third line");
	REQUIRE(gf_log_tail(&b.g->k, 2, want, sizeof want, &len) == GF_OK);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_OK);
	CHECK_EQ(box_length(&b), len);
	CHECK(!memcmp(box_payload(&b), want, len));
	rq.arg = 0;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_EINVAL);
	CHECK_HAS(box_text(&b), "log records must be 1 to 10000");
	rq.arg = GF_LOG_RECORDS_MAX + 1;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_LOG, &rq), GF_EINVAL);
	boxrig_free(&b);
}

static void test_devbox_detect(void)
{
	struct gf_request rq = { .arg = GF_MEMORY };
	struct boxrig b;

	boxrig_new(&b);
	b.r.pub->v[GF_MEMORY].active = 1;
	b.r.pub->v[GF_MEMORY].nculprits = 1;
	b.r.pub->v[GF_MEMORY].culprit[0].pid = 100;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_DETECT, &rq), GF_OK);
	REQUIRE(box_length(&b) == sizeof(struct gf_verdict));
	CHECK(!memcmp(box_payload(&b), &b.r.pub->v[GF_MEMORY], sizeof(struct gf_verdict)));
	rq.arg = GF_NCLASSES;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_DETECT, &rq), GF_EINVAL);
	CHECK_STR(box_text(&b), "no such detector class");
	boxrig_free(&b);
}

/* The operator's key signals, with operator_signal()'s refusals; the
 * guest is written exactly as gf_send_signal writes it. */
static void test_devbox_signal_operator(void)
{
	static const int32_t tids[] = { 100, 101, 102 };
	struct gf_request rq = { .pid = 100, .sig = 9, .start_time = 999 };
	struct gf_loop_event ev[8];
	uint64_t next = 0, lost;
	struct guest *want;
	struct boxrig b;
	uint32_t n;

	boxrig_new(&b);
	want = guest_clone(b.g);
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_ESTALE);
	CHECK_HAS(box_text(&b), "another process");
	rq.start_time = 0;
	rq.sig = 18;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EREFUSED);
	CHECK_HAS(box_text(&b), "SIGCONT");
	rq = (struct gf_request){ .pid = 1, .sig = 9 };
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EREFUSED);
	CHECK_HAS(box_text(&b), "init");
	rq.pid = 4242;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_ESRCH);
	rq.sig = 0;
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EINVAL);
	CHECK_MEMORY(want, b.g); /* nothing written so far */
	rq = (struct gf_request){ .pid = 100, .sig = 9, .start_time = 200 };
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_OK);
	CHECK_HAS(box_text(&b), "pending");
	expect_kill(want, tids, 3);
	CHECK_MEMORY(want, b.g);
	/* every operator's signal is an event, written or not, in order */
	n = read_events(&b.r, &next, ev, NELEM(ev), &lost);
	REQUIRE(n == 6);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ(ev[i].kind, GF_LE_OPERATOR);
		CHECK(ev[i].time == 2.0);
		CHECK_EQ(ev[i].report.outcome, i < 5 ? GF_REFUSED : GF_WRITTEN);
	}
	CHECK_EQ(ev[0].report.err, GF_ESTALE);
	CHECK_STR(ev[0].report.comm, "app");
	CHECK_EQ(ev[5].report.pid, 100);
	CHECK_EQ(ev[5].report.sig, 9);
	guest_free(want);
	boxrig_free(&b);
}

/* With the in-OS helper in the target: the signal is posted to it and
 * answered once the helper has, nothing written; unanswered for
 * GF_DEVBOX_HELPER_WAIT_S, the pseudo-signal instead. Each is an event
 * with its path. */
/* want's mailbox header and first slot as g's: what the server posted. */
static void same_mailbox(struct guest *want, const struct guest *g, uint64_t mailbox)
{
	uint32_t len = offsetof(struct gfh_mailbox, slot[1]);

	memcpy(host(want, fixture_pa(want, mailbox), len),
	       host(g, fixture_pa(g, mailbox), len), len);
}

static void test_devbox_signal_helper(void)
{
	static const int32_t tids[] = { 100, 101, 102 };
	struct gf_request rq = { .pid = 100, .sig = 9, .start_time = 200 };
	struct gf_loop_event ev[4];
	uint64_t next = 0, lost;
	struct guest *want;
	struct modules m;
	volatile struct gfh_mailbox *mb;
	struct boxrig b;

	boxrig_new(&b);
	m = modules_new(b.g);
	b.g->k.helper = m.mailbox;
	mb = (volatile struct gfh_mailbox *)(void *)
	     host(b.g, fixture_pa(b.g, m.mailbox), offsetof(struct gfh_mailbox, slot[1]));
	want = guest_clone(b.g);
	box_request(&b, b.op_psk, GF_MSG_SIGNAL, ++b.seq, BOX_TARGET, &rq);
	box_post(&b);
	CHECK_EQ(box_serve(&b, 2.0), 0); /* posted to the helper */
	CHECK_EQ(mb->rq_seq, 1);
	CHECK_EQ(mb->slot[0].pid, 100);
	CHECK_EQ(box_serve(&b, 2.1), 0); /* no answer yet */
	mb->slot[0].result = GFH_DONE;
	mb->ans_seq = 1;
	REQUIRE(box_serve(&b, 2.1) == 1);
	REQUIRE(box_take(&b, b.op_psk) == GF_OK);
	CHECK_EQ(((const struct gf_msg_hdr *)b.ans.data)->status, GF_OK);
	CHECK_HAS(box_text(&b), "through the in-OS helper");
	want->k.helper = 0;
	same_mailbox(want, b.g, m.mailbox);
	CHECK_MEMORY(want, b.g); /* the request alone: no pseudo-signal */
	/* the helper silent: after the wait, the pseudo-signal */
	box_request(&b, b.op_psk, GF_MSG_SIGNAL, ++b.seq, BOX_TARGET, &rq);
	box_post(&b);
	CHECK_EQ(box_serve(&b, 3.0), 0);
	CHECK_EQ(mb->rq_seq, 2);
	CHECK_EQ(box_serve(&b, 3.0 + GF_DEVBOX_HELPER_WAIT_S / 2), 0);
	REQUIRE(box_serve(&b, 3.0 + GF_DEVBOX_HELPER_WAIT_S) == 1);
	REQUIRE(box_take(&b, b.op_psk) == GF_OK);
	CHECK_HAS(box_text(&b), "gave no answer: signal marked pending");
	expect_kill(want, tids, 3);
	same_mailbox(want, b.g, m.mailbox);
	CHECK_MEMORY(want, b.g);
	REQUIRE(read_events(&b.r, &next, ev, NELEM(ev), &lost) == 2);
	CHECK_EQ(ev[0].report.path, GF_PATH_HELPER);
	CHECK_EQ(ev[0].report.outcome, GF_WRITTEN);
	CHECK_EQ(ev[1].report.path, GF_PATH_PSEUDO);
	CHECK_EQ(ev[1].report.outcome, GF_WRITTEN);
	guest_free(want);
	boxrig_free(&b);
}

static void test_devbox_signal_read_role(void)
{
	struct gf_request rq = { .pid = 100, .sig = 9 };
	struct guest *want;
	struct boxrig b;

	boxrig_new(&b);
	want = guest_clone(b.g);
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_SIGNAL, &rq), GF_EREFUSED);
	CHECK_HAS(box_text(&b), "read-only");
	CHECK_EQ(b.r.pub->ev_head, 0); /* not the operator's: no event */
	b.g->k.writable = 0; /* and a read-only target, even to the operator */
	CHECK_EQ(box_call(&b, b.op_psk, GF_MSG_SIGNAL, &rq), GF_EREFUSED);
	CHECK_HAS(box_text(&b), "read-only");
	CHECK_MEMORY(want, b.g);
	guest_free(want);
	boxrig_free(&b);
}

/* No key, no answer: a stranger's request, and a genuine one altered. */
static void test_devbox_refuses_strangers(void)
{
	struct gf_request rq = { .pid = 100, .sig = 9 };
	struct guest *want;
	struct boxrig b;

	boxrig_new(&b);
	want = guest_clone(b.g);
	box_request(&b, b.stranger, GF_MSG_SIGNAL, 1, BOX_TARGET, &rq);
	box_refused(&b, b.stranger, 0);
	box_request(&b, b.stranger, GF_MSG_PS, 1, BOX_TARGET, &rq);
	box_refused(&b, b.stranger, 0);
	box_request(&b, b.op_psk, GF_MSG_PS, 1, BOX_TARGET, &rq);
	b.req.data[sizeof(struct gf_msg_hdr)] ^= 1; /* the payload, altered */
	box_refused(&b, b.op_psk, 0);
	/* the read key's MAC is no operator's */
	box_request(&b, b.read_psk, GF_MSG_SIGNAL, 1, BOX_TARGET, &rq);
	CHECK_EQ(box_exchange(&b, b.op_psk), GF_EINVAL);
	CHECK_MEMORY(want, b.g);
	CHECK_EQ(b.r.pub->ev_head, 0);
	guest_free(want);
	boxrig_free(&b);
}

static void test_devbox_replay(void)
{
	struct gf_request rq = { .beat = 1 };
	struct boxrig b;

	boxrig_new(&b);
	b.seq = 5;
	CHECK_EQ(box_call(&b, b.read_psk, GF_MSG_HEARTBEAT, &rq), GF_OK);
	box_refused(&b, b.read_psk, 6); /* the same message again */
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 3, BOX_TARGET, &rq);
	box_refused(&b, b.read_psk, 6);
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 0, BOX_TARGET, &rq);
	box_refused(&b, b.read_psk, 6);
	/* any later number goes */
	box_request(&b, b.read_psk, GF_MSG_HEARTBEAT, 100, BOX_TARGET, &rq);
	CHECK_EQ(box_exchange(&b, b.read_psk), GF_OK);
	CHECK_EQ(b.st.last_seq, 100);
	boxrig_free(&b);
}

/* Malformed requests, each sealed with a good key: refused all the same. */
static void test_devbox_malformed(void)
{
	static const uint16_t types[] = { 0, GF_MSG_CHALLENGE, GF_MSG_PROOF,
					  GF_MSG_WELCOME, GF_MSG_TYPES,
					  GF_MSG_HEARTBEAT | GF_MSG_ANSWER };
	struct gf_request rq = { 0 };
	struct gf_msg_hdr *h;
	struct boxrig b;
	int before;

	boxrig_new(&b);
	for (size_t i = 0; i < NELEM(types); i++) {
		before = failures;
		box_request(&b, b.op_psk, types[i], 1, BOX_TARGET, &rq);
		box_refused(&b, b.op_psk, 0);
		note_case(before, "type %u", types[i]);
	}
	for (int field = 0; field < 5; field++) {
		before = failures;
		box_request(&b, b.op_psk, GF_MSG_HEARTBEAT, 1, BOX_TARGET, &rq);
		h = (struct gf_msg_hdr *)b.req.data;
		if (field == 0)
			h->magic ^= 1;
		else if (field == 1)
			h->version++;
		else if (field == 2)
			h->board_size--;
		else if (field == 3)
			h->length = 0, b.req.len = sizeof *h;
		else
			h->length = GF_MAX_PAYLOAD + 1;
		box_seal(&b, b.op_psk);
		box_refused(&b, b.op_psk, 0);
		note_case(before, "header field %d", field);
	}
	/* well formed, but for another target: told so, under MAC */
	box_request(&b, b.op_psk, GF_MSG_PS, 1, BOX_TARGET + 1, &rq);
	CHECK_EQ(box_exchange(&b, b.op_psk), GF_OK);
	CHECK_EQ(((const struct gf_msg_hdr *)b.ans.data)->status, GF_EINVAL);
	CHECK_STR(box_text(&b), "no such target");
	boxrig_free(&b);
}

static const struct test tests[] = {
	T(devbox_layout),
	T(devbox_keys),
	T(devbox_heartbeat),
	T(devbox_board),
	T(devbox_ps),
	T(devbox_log),
	T(devbox_detect),
	T(devbox_signal_operator),
	T(devbox_signal_helper),
	T(devbox_signal_read_role),
	T(devbox_refuses_strangers),
	T(devbox_replay),
	T(devbox_malformed),
};

const struct suite suite_devbox = SUITE(tests);
