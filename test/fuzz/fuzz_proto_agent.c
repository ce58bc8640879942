/* test/fuzz/fuzz_proto_agent.c — the agent's side of the remote protocol,
 * as proto.c's session and the agent's loop run it: a proof, then
 * requests of every type, each through the transport's header check,
 * auth_open and proto_answer, with a hub of two targets whose jobs (log,
 * detect, signal) the loop carries out on its watches (hub_serve).
 *
 * The input:
 *
 *	u8 mode:     bit 0: the read-only key, else the operator's;
 *	             bit 1: requests left as sent, else sealed by the
 *	             viewer's session (with the MAC they carry)
 *	u32 length, then that many bytes: an image (image.h), the RAM of
 *	             target 0's kernel (no image: a kernel without RAM)
 *	messages:    the first the proof as it came, then requests, up to
 *	             REQUESTS_MAX and the SIGNALS_MAX-th signal: a job may
 *	             take the engine's pauses between its looks at a kernel
 *	             that reads false, a signal the in-OS helper's wait for
 *	             its answer too (at most a second)
 *
 * Since no input forges a MAC, a genuine proof is made with the chosen
 * key after the one that came, so that the requests reach proto_answer.
 * Each request is answered on a session thread of its own while this one
 * plays the agent's loop, serving both targets until the answer is made.
 * Target 0's watch is attached to the image's kernel through the CPU
 * engine; target 1's watch tried to attach to a file that is not there.
 * After each request the image differs from before it only where the
 * signal it asked for may write (fuzz_check_writes; the pid's task as the
 * engine finds it), and not at all for a read-only key or image.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"

#include "../../auth.h"
#include "../../config.h"
#include "../../core.h"
#include "../../engine.h"
#include "../../events.h"
#include "../../hub.h"
#include "../../loop.h"
#include "../../proto.h"
#include "../../watch.h"

#define PROOF_MAX (sizeof(struct gf_msg_hdr) + GF_NONCE_BYTES)
#define REQUEST_MAX (sizeof(struct gf_msg_hdr) + sizeof(struct gf_request))
#define REQUESTS_MAX 16
#define SIGNALS_MAX 2

static struct hub *hub;
static struct gf_keys keys = { .has_operator = 1, .has_read = 1 };
static const uint8_t nonce[GF_NONCE_BYTES] = "a fixed challenge";
static struct gf_config cfg;
static struct watch w[2];
static FILE *events;

/* The watches' events, written as the agent writes its event log. */
static void write_event(void *ctx, const struct gf_event *ev)
{
	(void)ctx;
	gf_event_json(events, ev);
}

static void setup(void)
{
	struct gf_loop_params lp;
	char msg[512];

	if (hub)
		return;
	FUZZ_CHECK(!auth_init() && (hub = hub_new(2)));
	memset(keys.operator_key, 'o', GF_KEY_BYTES);
	memset(keys.read_key, 'r', GF_KEY_BYTES);
	FUZZ_CHECK(events = fopen("/dev/null", "w"));
	config_defaults(&cfg);
	/* as try_attach (watch.c) leaves a watch, but that the kernel is the
	 * image's (loaded into w[0].a.k for each input) and no watch loop
	 * runs: the CPU engine on it, and a publication (of no verdicts) */
	watch_init(&w[0], "fuzz:image", &cfg, write_event, NULL);
	FUZZ_CHECK(!loop_params_from(&cfg, w[0].spec, &lp, msg, sizeof msg));
	FUZZ_CHECK(!engines_open(&w[0].e, 1, "cpu", 0, &w[0].t, &w[0].a, NULL, NULL,
				 msg, sizeof msg));
	FUZZ_CHECK(w[0].pub = calloc(1, gf_pub_size(&lp)));
	gf_pub_init(w[0].pub, &lp);
	w[0].attached = 1;
	watch_init(&w[1], "dump:/nonexistent/gpufas-fuzz", &cfg, write_event, NULL);
	watch_tick(&w[1], 0);
	FUZZ_CHECK(!w[1].attached);
}

/* A request answered on its own thread, as a session answers it. */
struct asking {
	const struct gf_session *s;
	const struct gf_msg_hdr *h;
	struct gf_buf *out;
	int done;
};

static void *ask(void *arg)
{
	struct asking *a = arg;

	proto_answer(hub, a->s, a->h, (const struct gf_request *)(a->h + 1), a->out);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The loop's rounds until the answer is made. */
static void answer(const struct gf_session *s, const struct gf_msg_hdr *h,
		   struct gf_buf *out)
{
	struct asking a = { s, h, out, 0 };
	pthread_t session;

	out->len = 0;
	FUZZ_CHECK(!pthread_create(&session, NULL, ask, &a));
	while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE)) {
		hub_serve(hub, 0, &w[0]);
		hub_serve(hub, 1, &w[1]);
		sched_yield();
	}
	pthread_join(session, NULL);
}

/* What a request may have written into target 0's RAM. */
static void check_writes(struct gf_kernel *before, const struct gf_session *s,
			 const struct gf_msg_hdr *h)
{
	const struct gf_request *r = (const struct gf_request *)(h + 1);
	int signal = h->type == GF_MSG_SIGNAL && h->target == 0 &&
		     s->role == GF_ROLE_OPERATOR;
	struct gf_task t;

	fuzz_check_writes(before, &w[0].a.k,
			  signal && !gf_find_task(before, r->pid, &t) ? &t : NULL,
			  r->sig, signal);
}

/* Target 0's kernel: the image of the input's next len bytes (at most
 * what is left). */
static void load_kernel(const uint8_t **data, size_t *size, uint32_t len)
{
	struct image_head head;

	if (len > *size)
		len = (uint32_t)*size;
	image_load(*data, len, &head, &w[0].a.k);
	*data += len;
	*size -= len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gf_buf in = { 0 }, out = { 0 }, proof = { 0 };
	struct gf_session agent, viewer;
	const struct gf_msg_hdr *h;
	struct gf_kernel before;
	char why[256];
	uint32_t len;
	uint8_t mode;

	setup();
	if (size < 1 + sizeof len)
		return 0;
	mode = *data++, size--;
	memcpy(&len, data, sizeof len);
	data += sizeof len, size -= sizeof len;
	load_kernel(&data, &size, len);
	FUZZ_CHECK(!image_copy(&w[0].a.k, &before));
	if (fuzz_next_msg(&data, &size, PROOF_MAX, &in))
		FUZZ_RESULT(auth_accept(&keys, in.data, in.len, nonce, &agent, why,
					sizeof why));
	auth_proof(&proof, mode & 1 ? keys.read_key : keys.operator_key, nonce,
		   &viewer);
	FUZZ_CHECK(!auth_accept(&keys, proof.data, proof.len, nonce, &agent, why,
				sizeof why));
	FUZZ_CHECK(agent.role == (mode & 1 ? GF_ROLE_READ : GF_ROLE_OPERATOR));
	agent.ntargets = (uint32_t)hub_targets(hub);
	for (int i = 0, signals = 0; i < REQUESTS_MAX &&
	     fuzz_next_msg(&data, &size, REQUEST_MAX, &in); i++) {
		if (!(mode & 2))
			auth_seal(&viewer, &in);
		if (auth_open(&agent, in.data, in.len, 1, why, sizeof why))
			break;
		h = (const struct gf_msg_hdr *)in.data;
		/* what the session drops before answering (proto.c's serve_one) */
		if (h->type < GF_MSG_HEARTBEAT || h->type >= GF_MSG_TYPES ||
		    h->length != sizeof(struct gf_request))
			break;
		if (h->type == GF_MSG_SIGNAL && ++signals > SIGNALS_MAX)
			break;
		answer(&agent, h, &out);
		fuzz_check_answer(&out, h->type, h->seq);
		check_writes(&before, &agent, h);
		auth_seal(&agent, &out);
	}
	image_free(&before);
	image_free(&w[0].a.k);
	gf_buf_free(&in);
	gf_buf_free(&out);
	gf_buf_free(&proof);
	return 0;
}
