/* test/fuzz/fuzz_devbox.c — the GPU's mailbox server (devbox.c), run on
 * the CPU as the unit tests run it, over a loop stepped on a kernel with
 * no RAM. Whoever reaches the request area writes any bytes there: the
 * input's first byte picks the role whose key seals each request (bit 0:
 * the read-only one; bit 1: left as sent), then come request slots of
 * GF_SLOT_MSG bytes, each posted and served. Every answer must be framed
 * as mailbox_answer reads it and carry a GF_OK or GF_E* status. */
#include <string.h>

#include "fuzz.h"
#include "../../auth.h"
#include "../../board.h"
#include "../../config.h"
#include "../../core.h"
#include "../../devbox.h"
#include "../../loop.h"
#include "../../proto.h"
#include "../../rdma.h"
#include "../../watch.h"

static struct rig {
	struct gf_loop_params p;
	struct gf_loop *l;
	struct gf_pub *pub;
	struct gf_kernel k;
	struct gf_devbox_board tmpl;
	struct gf_devbox_state st;
	uint8_t *mem;
	uint8_t psk[GF_DEVBOX_ROLES][GF_KEY_BYTES];
	uint8_t nonce[GF_NONCE_BYTES];
} rig;

static void setup(void)
{
	struct gf_config c;
	char err[256];

	if (rig.mem)
		return;
	config_defaults(&c);
	c.max_tasks = 64;
	FUZZ_CHECK(!auth_init() && !loop_params_from(&c, "vm:x", &rig.p, err, sizeof err));
	FUZZ_CHECK(rig.l = calloc(1, gf_loop_size(&rig.p)));
	FUZZ_CHECK(rig.pub = calloc(1, gf_pub_size(&rig.p)));
	FUZZ_CHECK(rig.mem = calloc(1, gf_devbox_size(rig.p.task_cap)));
	gf_loop_init(rig.l, &rig.p);
	gf_pub_init(rig.pub, &rig.p);
	for (int i = 1; i <= 12; i++)
		gf_loop_step(rig.l, rig.pub, &rig.k, i * 0.1, 0);
	memset(rig.psk[GF_DEVBOX_OPERATOR], 'o', GF_KEY_BYTES);
	memset(rig.psk[GF_DEVBOX_READ], 'r', GF_KEY_BYTES);
	board_init(&rig.tmpl.b[0], "vm:x");
}

/* A fresh mailbox, as the GPU monitor lays one out at attach. */
static void mailbox_new(void)
{
	struct gf_devbox head;

	memset(rig.mem, 0, gf_devbox_size(rig.p.task_cap));
	gf_devbox_init(&head, &rig.st, 0, rig.p.task_cap, rig.nonce);
	memcpy(rig.mem, &head, sizeof head);
	for (int r = 0; r < GF_DEVBOX_ROLES; r++) {
		auth_mailbox_keys(rig.psk[r], rig.nonce, rig.st.request[r],
				  rig.st.answer[r]);
		rig.st.has[r] = 1;
	}
}

static void check_answer(const struct gf_devbox *h, uint64_t posted)
{
	const struct gf_msg_hdr *a;
	size_t need;
	char why[256];

	FUZZ_CHECK(h->served == posted);
	FUZZ_CHECK(!mailbox_answer(rig.mem + h->resp_off, h->resp_size, posted,
				   h->resp_size - 16, &need, why, sizeof why));
	FUZZ_CHECK(need >= 16 + sizeof *a && need <= h->resp_size);
	a = (const struct gf_msg_hdr *)(rig.mem + h->resp_off + 8);
	FUZZ_CHECK(!msg_check_header(a, why, sizeof why));
	FUZZ_CHECK(need == 16 + sizeof *a + a->length);
	FUZZ_RESULT(a->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gf_devbox *h;
	struct gf_session s = { 0 };
	struct gf_req_area *area;
	uint8_t mode;

	setup();
	if (size < 1)
		return 0;
	mode = *data++, size--;
	mailbox_new();
	h = (const struct gf_devbox *)rig.mem;
	memcpy(s.tx_key, rig.st.request[mode & 1], GF_KEY_BYTES);
	area = (struct gf_req_area *)(rig.mem + h->req_off);
	for (uint64_t posted = 1; size >= GF_SLOT_MSG; posted++) {
		struct gf_buf b = { .data = area->msg };
		const struct gf_msg_hdr *req = (const struct gf_msg_hdr *)area->msg;

		memcpy(area->msg, data, GF_SLOT_MSG);
		data += GF_SLOT_MSG, size -= GF_SLOT_MSG;
		b.len = b.cap = sizeof *req + req->length;
		if (!(mode & 2) && req->length <= sizeof(struct gf_request))
			auth_seal(&s, &b);
		area->posted = posted;
		FUZZ_CHECK(gf_devbox_serve(rig.mem, &rig.st, rig.l, rig.pub, &rig.tmpl,
					   &rig.k, 2.0) == 1);
		check_answer(h, posted);
	}
	return 0;
}
