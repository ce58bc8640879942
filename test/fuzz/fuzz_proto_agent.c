/* test/fuzz/fuzz_proto_agent.c — the agent's side of the remote protocol,
 * as proto.c's session runs it: a proof, then requests, each through the
 * transport's header check, auth_open and proto_answer, with a hub of two
 * targets.
 *
 * The input's first byte picks the key (bit 0: the read-only one) and
 * whether requests are sealed by the viewer's session (bit 1: sent with
 * the MAC they carry); the messages follow. The first message is the
 * proof as it came; since no input forges a MAC, a genuine proof is then
 * made with the chosen key, so that the requests reach proto_answer.
 * Log, detect and signal requests are answered by the agent's loop
 * (hub_serve), which this target does not run: they end the input.
 */
#include <string.h>

#include "fuzz.h"

#include "../../auth.h"
#include "../../hub.h"
#include "../../proto.h"

#define PROOF_MAX (sizeof(struct gf_msg_hdr) + GF_NONCE_BYTES)
#define REQUEST_MAX (sizeof(struct gf_msg_hdr) + sizeof(struct gf_request))

static struct hub *hub;
static struct gf_keys keys = { .has_operator = 1, .has_read = 1 };
static const uint8_t nonce[GF_NONCE_BYTES] = "a fixed challenge";

static void setup(void)
{
	if (hub)
		return;
	FUZZ_CHECK(!auth_init() && (hub = hub_new(2)));
	memset(keys.operator_key, 'o', GF_KEY_BYTES);
	memset(keys.read_key, 'r', GF_KEY_BYTES);
}

/* The hub answers these itself; the rest wait for the agent's loop. */
static int hub_answers(uint16_t type)
{
	return type == GF_MSG_HEARTBEAT || type == GF_MSG_SNAPSHOT ||
	       type == GF_MSG_PS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gf_buf in = { 0 }, out = { 0 }, proof = { 0 };
	struct gf_session agent, viewer;
	const struct gf_msg_hdr *h;
	char why[256];
	uint8_t mode;

	setup();
	if (size < 1)
		return 0;
	mode = *data++, size--;
	if (fuzz_next_msg(&data, &size, PROOF_MAX, &in))
		FUZZ_RESULT(auth_accept(&keys, in.data, in.len, nonce, &agent, why,
					sizeof why));
	auth_proof(&proof, mode & 1 ? keys.read_key : keys.operator_key, nonce,
		   &viewer);
	FUZZ_CHECK(!auth_accept(&keys, proof.data, proof.len, nonce, &agent, why,
				sizeof why));
	FUZZ_CHECK(agent.role == (mode & 1 ? GF_ROLE_READ : GF_ROLE_OPERATOR));
	agent.ntargets = (uint32_t)hub_targets(hub);
	while (fuzz_next_msg(&data, &size, REQUEST_MAX, &in)) {
		if (!(mode & 2))
			auth_seal(&viewer, &in);
		if (auth_open(&agent, in.data, in.len, 1, why, sizeof why))
			break;
		h = (const struct gf_msg_hdr *)in.data;
		/* what the session drops before answering (proto.c's serve_one) */
		if (h->type < GF_MSG_HEARTBEAT || h->type >= GF_MSG_TYPES ||
		    h->length != sizeof(struct gf_request) || !hub_answers(h->type))
			break;
		out.len = 0;
		proto_answer(hub, &agent, h, (const struct gf_request *)(h + 1), &out);
		fuzz_check_answer(&out, h->type, h->seq);
		auth_seal(&agent, &out);
	}
	gf_buf_free(&in);
	gf_buf_free(&out);
	gf_buf_free(&proof);
	return 0;
}
