/* test/fuzz/wire.c — messages off a fuzz input, as a transport takes
 * them off a connection (tcp.c's recv, the mailbox's take). */
#include <string.h>

#include "fuzz.h"

#include "../../proto.h"

int fuzz_next_msg(const uint8_t **data, size_t *size, size_t max,
		  struct gf_buf *b)
{
	struct gf_msg_hdr h;
	char why[256];

	if (*size < sizeof h)
		return 0;
	memcpy(&h, *data, sizeof h);
	if (msg_check_header(&h, why, sizeof why)) {
		FUZZ_CHECK(strlen(why) < sizeof why);
		return 0;
	}
	if (h.length > max - sizeof h || *size - sizeof h < h.length ||
	    gf_buf_reserve(b, sizeof h + h.length))
		return 0;
	memcpy(b->data, *data, sizeof h + h.length);
	b->len = sizeof h + h.length;
	*data += b->len;
	*size -= b->len;
	return 1;
}

void fuzz_check_answer(const struct gf_buf *out, uint16_t type, uint64_t seq)
{
	const struct gf_msg_hdr *h = (const struct gf_msg_hdr *)out->data;
	char why[256];

	FUZZ_CHECK(out->len >= sizeof *h);
	FUZZ_CHECK(!msg_check_header(h, why, sizeof why));
	FUZZ_CHECK(out->len == sizeof *h + h->length);
	FUZZ_CHECK(h->type == (type | GF_MSG_ANSWER) && h->seq == seq);
	FUZZ_RESULT(h->status);
}
