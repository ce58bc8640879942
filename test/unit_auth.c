/* test/unit_auth.c — unit tests of auth.c: the handshake's roles, and a
 * session's messages opened only if genuine, whole and next in order.
 */
#include <string.h>

#include "unit.h"

#include "../auth.h"
#include "../gpufas.h"
#include "../proto.h"

/* Both ends of one session: a viewer with `psk`, the agent with keys. */
struct pair {
	struct gf_keys keys;
	struct gf_session viewer, agent;
	struct gf_buf msg;
};

static void keys_new(struct gf_keys *k)
{
	REQUIRE(auth_init() == GF_OK);
	memset(k, 0, sizeof *k);
	randombytes_buf(k->operator_key, sizeof k->operator_key);
	randombytes_buf(k->read_key, sizeof k->read_key);
	k->has_operator = k->has_read = 1;
}

/* The handshake with `psk`: GF_OK and both sessions keyed, or why not. */
static int handshake(struct pair *p, const uint8_t psk[GF_KEY_BYTES],
		     char *why, size_t whylen)
{
	uint8_t nonce[GF_NONCE_BYTES];

	auth_challenge(&p->msg, nonce);
	auth_proof(&p->msg, psk, nonce, &p->viewer);
	return auth_accept(&p->keys, p->msg.data, p->msg.len, nonce, &p->agent,
			   why, whylen);
}

static void pair_new(struct pair *p)
{
	char why[160];

	memset(p, 0, sizeof *p);
	keys_new(&p->keys);
	REQUIRE(handshake(p, p->keys.operator_key, why, sizeof why) == GF_OK);
}

/* The viewer's next request, sealed; `text` as its payload. */
static void request(struct pair *p, const char *text)
{
	uint8_t *body = msg_start(&p->msg, GF_MSG_PS, ++p->viewer.seq, 0, GF_OK,
				  (uint32_t)strlen(text));

	REQUIRE(body);
	memcpy(body, text, strlen(text));
	auth_seal(&p->viewer, &p->msg);
}

/* The agent's answer to the last request it opened. */
static void answer(struct pair *p)
{
	REQUIRE(msg_start(&p->msg, GF_MSG_PS, p->agent.seq, 0, GF_OK, 0));
	auth_seal(&p->agent, &p->msg);
}

static int agent_opens(struct pair *p, const struct gf_buf *b, char *why,
		       size_t whylen)
{
	return auth_open(&p->agent, b->data, b->len, 1, why, whylen);
}

static void copy_of(struct gf_buf *dst, const struct gf_buf *src)
{
	REQUIRE(gf_buf_reserve(dst, src->len) == 0);
	memcpy(dst->data, src->data, src->len);
	dst->len = src->len;
}

static void test_auth_roles(void)
{
	struct pair p;
	uint8_t stranger[GF_KEY_BYTES];
	char why[160] = "";

	memset(&p, 0, sizeof p);
	keys_new(&p.keys);
	CHECK_EQ(handshake(&p, p.keys.operator_key, why, sizeof why), GF_OK);
	CHECK_EQ(p.agent.role, GF_ROLE_OPERATOR);
	CHECK(!memcmp(p.agent.rx_key, p.viewer.tx_key, GF_KEY_BYTES));
	CHECK(!memcmp(p.agent.tx_key, p.viewer.rx_key, GF_KEY_BYTES));
	CHECK(memcmp(p.agent.tx_key, p.agent.rx_key, GF_KEY_BYTES));
	CHECK_EQ(handshake(&p, p.keys.read_key, why, sizeof why), GF_OK);
	CHECK_EQ(p.agent.role, GF_ROLE_READ);
	randombytes_buf(stranger, sizeof stranger);
	CHECK_EQ(handshake(&p, stranger, why, sizeof why), GF_EREFUSED);
	CHECK_HAS(why, "wrong key");
	/* a key the agent was not given opens nothing, even if right */
	p.keys.has_read = 0;
	CHECK_EQ(handshake(&p, p.keys.read_key, why, sizeof why), GF_EREFUSED);
	/* a proof cut short is refused before any MAC is computed */
	p.msg.len--;
	CHECK_EQ(auth_accept(&p.keys, p.msg.data, p.msg.len, p.msg.data, &p.agent,
			     why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "where a proof belongs");
	gf_buf_free(&p.msg);
}

/* Requests numbered one past the last, answers repeating it: a message
 * again, one skipped or an answer from before is refused, and a refusal
 * leaves the session where it was. */
static void test_auth_sequence(void)
{
	struct pair p;
	struct gf_buf first = { 0 }, old = { 0 };
	char why[160] = "";

	pair_new(&p);
	request(&p, "one");
	copy_of(&first, &p.msg);
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_OK);
	CHECK_EQ(p.agent.seq, 1);
	answer(&p);
	copy_of(&old, &p.msg);
	CHECK_EQ(auth_open(&p.viewer, p.msg.data, p.msg.len, 0, why, sizeof why),
		 GF_OK);
	/* request 1 replayed */
	CHECK_EQ(agent_opens(&p, &first, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "sequence number 1 where 2 belongs");
	CHECK_EQ(p.agent.seq, 1);
	/* request 3 before 2 */
	p.viewer.seq++;
	request(&p, "three");
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "replayed or reordered");
	p.viewer.seq -= 2;
	request(&p, "two");
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_OK);
	CHECK_EQ(p.agent.seq, 2);
	/* the answer to 1, played again to the viewer waiting for 2's */
	CHECK_EQ(auth_open(&p.viewer, old.data, old.len, 0, why, sizeof why),
		 GF_EINVAL);
	CHECK_HAS(why, "sequence number 1 where 2 belongs");
	answer(&p);
	CHECK_EQ(auth_open(&p.viewer, p.msg.data, p.msg.len, 0, why, sizeof why),
		 GF_OK);
	gf_buf_free(&first);
	gf_buf_free(&old);
	gf_buf_free(&p.msg);
}

/* A bit changed anywhere, another session's key, or the agent's own
 * answer reflected at it as a request: a bad MAC. */
static void test_auth_mac(void)
{
	struct pair p, other;
	char why[160] = "";

	pair_new(&p);
	pair_new(&other);
	request(&p, "payload");
	for (size_t i = 0; i < p.msg.len; i += 7) {
		int before = failures;

		if (i >= offsetof(struct gf_msg_hdr, mac) &&
		    i < offsetof(struct gf_msg_hdr, mac) + GF_MAC_BYTES)
			continue; /* the MAC itself: below */
		p.msg.data[i] ^= 0x10;
		CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_EINVAL);
		p.msg.data[i] ^= 0x10;
		note_case(before, "byte %zu flipped", i);
	}
	p.msg.data[offsetof(struct gf_msg_hdr, mac)] ^= 1;
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "bad MAC");
	p.msg.data[offsetof(struct gf_msg_hdr, mac)] ^= 1;
	CHECK_EQ(auth_open(&other.agent, p.msg.data, p.msg.len, 1, why, sizeof why),
		 GF_EINVAL);
	CHECK_HAS(why, "bad MAC");
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_OK);
	/* the agent's answer to request 1, reflected at it with the agent
	 * wanting 1 again: only the key, one per direction, refuses it */
	answer(&p);
	p.agent.seq = 0;
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "bad MAC");
	gf_buf_free(&p.msg);
	gf_buf_free(&other.msg);
}

/* A message whose length field and size disagree is refused unread. */
static void test_auth_truncated(void)
{
	struct pair p;
	char why[160] = "";

	pair_new(&p);
	request(&p, "twelve bytes");
	CHECK_EQ(auth_open(&p.agent, p.msg.data, p.msg.len - 1, 1, why, sizeof why),
		 GF_EINVAL);
	CHECK_HAS(why, "does not add up");
	CHECK_EQ(auth_open(&p.agent, p.msg.data, sizeof(struct gf_msg_hdr) - 1, 1,
			   why, sizeof why), GF_EINVAL);
	CHECK_EQ(auth_open(&p.agent, p.msg.data, p.msg.len + 1, 1, why, sizeof why),
		 GF_EINVAL);
	CHECK_EQ(p.agent.seq, 0);
	CHECK_EQ(agent_opens(&p, &p.msg, why, sizeof why), GF_OK);
	gf_buf_free(&p.msg);
}

static const struct test tests[] = {
	T(auth_roles),
	T(auth_sequence),
	T(auth_mac),
	T(auth_truncated),
};

const struct suite suite_auth = SUITE(tests);
