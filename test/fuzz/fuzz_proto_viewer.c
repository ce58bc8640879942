/* test/fuzz/fuzz_proto_viewer.c — the viewer's side of the remote
 * protocol: answers from an agent that holds the key but not our trust.
 * The input's first byte is the request type each answer answers; the
 * answers follow. Each goes through the transport's header check and
 * proto_answer_check (with the least payload view.c asks of its type); a
 * board is decoded as view.c decodes it, board_sanitize'd, then judged
 * and read the way the dashboard reads it. */
#include <string.h>

#include "fuzz.h"

#include "../../board.h"
#include "../../core.h"
#include "../../detect.h"
#include "../../proto.h"

/* The least payload view.c asks of each answer. */
static uint32_t least(uint16_t type)
{
	switch (type) {
	case GF_MSG_WELCOME: return sizeof(struct gf_welcome);
	case GF_MSG_HEARTBEAT: return sizeof(struct gf_beat);
	case GF_MSG_SNAPSHOT: return sizeof(struct gf_board);
	case GF_MSG_PS: return sizeof(struct gf_ps_head);
	case GF_MSG_DETECT: return sizeof(struct gf_verdict);
	default: return 0;
	}
}

#define ENDS(s) FUZZ_CHECK(memchr((s), 0, sizeof(s)) != NULL)

static void read_board(struct gf_board *b)
{
	char why[256];
	size_t n = 0;

	board_sanitize(b);
	ENDS(b->target);
	ENDS(b->release);
	ENDS(b->engine);
	ENDS(b->status);
	ENDS(b->panic_log);
	FUZZ_CHECK(b->nhistory <= GF_BOARD_HISTORY && b->nevents <= GF_BOARD_EVENTS &&
		   b->first_event < GF_BOARD_EVENTS && b->rates.ncpus <= GF_MAX_CPUS);
	for (uint32_t i = 0; i < b->nevents; i++)
		n += strlen(b->events[(b->first_event + i) % GF_BOARD_EVENTS]);
	for (int c = 0; c < GF_NCLASSES; c++) {
		const struct gf_verdict *v = &b->verdict[c];

		FUZZ_CHECK(v->nevidence <= GF_MAX_EVIDENCE &&
			   v->nculprits <= GF_MAX_CULPRITS);
		for (uint32_t i = 0; i < v->nevidence; i++)
			n += strlen(v->evidence[i].name);
		for (uint32_t i = 0; i < v->nculprits; i++)
			n += strlen(v->culprit[i].comm);
		FUZZ_CHECK(board_level(b, (enum gf_class)c, b->sampled, why,
				       sizeof why) <= GF_LEVEL_FAULT);
		FUZZ_CHECK(strlen(why) < sizeof why);
	}
	FUZZ_CHECK(n < sizeof *b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gf_board board;
	struct gf_buf in = { 0 };
	char why[256];
	uint16_t type;

	if (size < 1)
		return 0;
	type = *data++ % GF_MSG_TYPES, size--;
	while (fuzz_next_msg(&data, &size, sizeof(struct gf_msg_hdr) + GF_MAX_PAYLOAD,
			     &in)) {
		const struct gf_msg_hdr *h = (const struct gf_msg_hdr *)in.data;
		int rc;

		why[0] = 0;
		rc = proto_answer_check(h, type, least(type), why, sizeof why);

		FUZZ_RESULT(rc);
		FUZZ_CHECK(strlen(why) < sizeof why);
		if (!rc && type == GF_MSG_SNAPSHOT && h->length == sizeof board) {
			memcpy(&board, h + 1, sizeof board);
			read_board(&board);
		}
	}
	gf_buf_free(&in);
	return 0;
}
