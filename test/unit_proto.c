/* test/unit_proto.c — unit tests of proto.c's mailbox (rdma.c's memory
 * layout): a request taken only once its flag says it is whole, and an
 * answer framed begin mark, message, end mark, that the viewer accepts
 * whole only and bounded in length, whatever half of it it read.
 */
#include <string.h>

#include "unit.h"

#include "../gpufas.h"
#include "../proto.h"
#include "../rdma.h"

#define HDR sizeof(struct gf_msg_hdr)
#define BODY 40u /* the answers' payload here */

/* An answer numbered `number`, its payload all `fill`. */
static void answer_new(struct gf_buf *b, uint64_t number, uint8_t fill)
{
	uint8_t *p = msg_start(b, GF_MSG_PS, number, 0, GF_OK, BODY);

	REQUIRE(p);
	memset(p, fill, BODY);
}

/* What mailbox_answer says of the first `len` bytes of the area. */
static int look(const uint8_t *resp, size_t len, uint64_t number, size_t *need,
		char *why, size_t whylen)
{
	return mailbox_answer(resp, len, number, GF_MAX_PAYLOAD, need, why, whylen);
}

static void test_mailbox_answer_whole(void)
{
	uint8_t *resp = xcalloc(GF_RESP_AREA);
	struct gf_buf b = { 0 };
	size_t need = 0, whole = 8 + HDR + BODY + 8;
	char why[160] = "";

	answer_new(&b, 7, 0xab);
	mailbox_post(resp, 7, &b);
	/* too little read to judge: asks for the header, then the rest */
	CHECK_EQ(look(resp, 4, 7, &need, why, sizeof why), GF_OK);
	CHECK_EQ(need, 8 + HDR);
	CHECK_EQ(look(resp, 8 + HDR, 7, &need, why, sizeof why), GF_OK);
	CHECK_EQ(need, whole);
	CHECK_EQ(look(resp, whole - 1, 7, &need, why, sizeof why), GF_OK);
	CHECK_EQ(need, whole);
	/* all of it: whole, and the message is where the caller looks */
	CHECK_EQ(look(resp, whole, 7, &need, why, sizeof why), GF_OK);
	CHECK_EQ(need, whole);
	CHECK(!memcmp(resp + 8, b.data, b.len));
	/* the next answer replaces it whole */
	answer_new(&b, 8, 0xcd);
	mailbox_post(resp, 8, &b);
	CHECK_EQ(look(resp, whole, 8, &need, why, sizeof why), GF_OK);
	CHECK_EQ(resp[8 + HDR], 0xcd);
	gf_buf_free(&b);
	free(resp);
}

/* Reads that caught the monitor mid-write, or an old answer: never whole. */
static void test_mailbox_answer_torn(void)
{
	uint8_t *resp = xcalloc(GF_RESP_AREA);
	struct gf_buf b = { 0 };
	size_t need, whole = 8 + HDR + BODY + 8;
	uint64_t v;
	char why[160];

	answer_new(&b, 6, 0x11);
	mailbox_post(resp, 6, &b);
	/* the previous answer is not this one's */
	CHECK_EQ(look(resp, whole, 7, &need, why, sizeof why), GF_EBUSY);
	/* mid-post: the begin mark cleared first */
	v = 0;
	memcpy(resp, &v, 8);
	CHECK_EQ(look(resp, whole, 6, &need, why, sizeof why), GF_EBUSY);
	/* begin mark of answer 7 read with answer 6's body and end mark:
	 * the end mark gives the tear away */
	v = 7;
	memcpy(resp, &v, 8);
	CHECK_EQ(look(resp, whole, 7, &need, why, sizeof why), GF_EBUSY);
	/* the end mark right, the begin mark not yet: still not whole */
	answer_new(&b, 7, 0x22);
	mailbox_post(resp, 7, &b);
	v = 6;
	memcpy(resp, &v, 8);
	CHECK_EQ(look(resp, whole, 7, &need, why, sizeof why), GF_EBUSY);
	/* both marks right: whole */
	v = 7;
	memcpy(resp, &v, 8);
	CHECK_EQ(look(resp, whole, 7, &need, why, sizeof why), GF_OK);
	gf_buf_free(&b);
	free(resp);
}

/* A header that is not ours, or a length past what the reader can hold,
 * is malformed, not "read again": the viewer must not loop or overrun. */
static void test_mailbox_answer_bounded(void)
{
	uint8_t *resp = xcalloc(GF_RESP_AREA);
	struct gf_buf b = { 0 };
	struct gf_msg_hdr *h;
	size_t need;
	char why[160] = "";

	answer_new(&b, 9, 0);
	mailbox_post(resp, 9, &b);
	CHECK_EQ(mailbox_answer(resp, GF_RESP_AREA, 9, HDR + BODY, &need, why,
				sizeof why), GF_OK);
	CHECK_EQ(mailbox_answer(resp, GF_RESP_AREA, 9, HDR + BODY - 1, &need, why,
				sizeof why), GF_EINVAL);
	CHECK_HAS(why, "at most 39 here");
	h = (struct gf_msg_hdr *)(resp + 8);
	h->length = GF_MAX_PAYLOAD + 1;
	CHECK_EQ(look(resp, GF_RESP_AREA, 9, &need, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "payload");
	h->length = BODY;
	h->magic ^= 1;
	CHECK_EQ(look(resp, GF_RESP_AREA, 9, &need, why, sizeof why), GF_EINVAL);
	CHECK_HAS(why, "not a gpufas message");
	gf_buf_free(&b);
	free(resp);
}

/* The monitor takes request n only once its flag, written last, says n. */
static void test_mailbox_take(void)
{
	struct gf_req_area *req = xcalloc(sizeof *req);
	struct gf_buf out = { 0 };

	memset(req->msg, 0x5a, sizeof req->msg);
	CHECK_EQ(mailbox_take(req, 1, &out), 0);
	CHECK_EQ(out.len, 0);
	req->posted = 1;
	CHECK_EQ(mailbox_take(req, 2, &out), 0); /* the next is not there yet */
	CHECK_EQ(mailbox_take(req, 1, &out), 1);
	CHECK_EQ(out.len, GF_SLOT_MSG);
	CHECK(!memcmp(out.data, req->msg, GF_SLOT_MSG));
	gf_buf_free(&out);
	free(req);
}

static const struct test tests[] = {
	T(mailbox_answer_whole),
	T(mailbox_answer_torn),
	T(mailbox_answer_bounded),
	T(mailbox_take),
};

const struct suite suite_proto = SUITE(tests);
