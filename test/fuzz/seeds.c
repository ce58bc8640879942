/* test/fuzz/seeds.c — writes the seeds of the targets that read text or
 * messages (the RAM targets' seeds come from test/unit's fixtures and
 * from recordings of real guests, record.c): run by `make fuzz-seeds` and
 * `make fuzz-record` as  seeds DIR, once the RAM seeds are in
 * DIR/fuzz_ram. */
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"

#include "../../board.h"
#include "../../detect.h"
#include "../../gpufas.h"
#include "../../proto.h"

static const char *dir;

/* DIR/target/name: the byte `first`, then msgs. */
static void save(const char *target, const char *name, uint8_t first,
		 const struct gf_buf *msgs)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(&first, 1, 1, f) != 1 ||
	    fwrite(msgs->data, 1, msgs->len, f) != msgs->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void append(struct gf_buf *all, const void *p, size_t len)
{
	if (gf_buf_reserve(all, all->len + len))
		exit(1);
	memcpy(all->data + all->len, p, len);
	all->len += len;
}

/* Appends one message, as msg_start lays it out, to all. */
static void *add(struct gf_buf *all, uint16_t type, uint64_t seq,
		 int32_t target, int32_t status, uint32_t length)
{
	struct gf_buf one = { 0 };
	void *p = msg_start(&one, type, seq, target, status, length);
	size_t at = all->len;

	if (!p)
		exit(1);
	append(all, one.data, one.len);
	gf_buf_free(&one);
	return all->data + at + sizeof(struct gf_msg_hdr);
}

/* A whole file, or none. */
static struct gf_buf slurp(const char *path)
{
	struct gf_buf b = { 0 };
	uint8_t chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(1);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)))
		append(&b, chunk, n);
	fclose(f);
	return b;
}

/* A proof, then a request of each type: those the hub answers, a log
 * tail, a detection and a signal to the image's own pid and signal (or
 * SIGKILL to 100 without one), then for target 1 (not attached) and for
 * a target the agent lacks. */
static void agent_requests(struct gf_buf *m, const struct gf_buf *image)
{
	struct image_head head = { .pid = 100, .flags = 9u << 8 };
	struct gf_request *r;

	if (image->len >= sizeof head)
		memcpy(&head, image->data, sizeof head);
	add(m, GF_MSG_PROOF, 0, 0, GF_OK, GF_NONCE_BYTES);
	r = add(m, GF_MSG_HEARTBEAT, 1, 0, GF_OK, sizeof *r);
	r->beat = 7;
	add(m, GF_MSG_SNAPSHOT, 2, 0, GF_OK, sizeof *r);
	add(m, GF_MSG_PS, 3, 0, GF_OK, sizeof *r);
	r = add(m, GF_MSG_LOG, 4, 0, GF_OK, sizeof *r);
	r->arg = 8;
	r = add(m, GF_MSG_DETECT, 5, 0, GF_OK, sizeof *r);
	r->arg = GF_F2;
	r = add(m, GF_MSG_SIGNAL, 6, 0, GF_OK, sizeof *r);
	*r = (struct gf_request){ .pid = head.pid, .sig = image_signal(&head) };
	r = add(m, GF_MSG_LOG, 7, 1, GF_OK, sizeof *r);
	r->arg = 8;
	add(m, GF_MSG_SNAPSHOT, 8, 5, GF_OK, sizeof *r);
}

/* fuzz_proto_agent's input: mode, the image's length and bytes, the
 * requests. */
static void save_agent(const char *name, uint8_t mode, const struct gf_buf *image)
{
	struct gf_buf all = { 0 }, requests = { 0 };
	uint32_t len = (uint32_t)image->len;

	agent_requests(&requests, image); /* aligned, as msg_start lays them out */
	append(&all, &len, sizeof len);
	if (len)
		append(&all, image->data, len);
	append(&all, requests.data, requests.len);
	save("fuzz_proto_agent", name, mode, &all);
	gf_buf_free(&requests);
	gf_buf_free(&all);
}

/* The requests on the synthetic world with the operator's key and with
 * the read-only one, on the world with the in-OS helper loaded (which
 * never answers), unsealed on a kernel without RAM, and with the
 * operator's key on each real kernel recorded (fuzz_ram/linux-KVER-
 * processes: SIGKILL to a spinner), as linux-KVER. */
static void agent_seeds(void)
{
	static const char recorded[] = "-processes";
	struct gf_buf world, helper, none = { 0 };
	char path[512];
	glob_t g;

	snprintf(path, sizeof path, "%s/fuzz_ram/world-4level-threads", dir);
	world = slurp(path);
	save_agent("world", 0, &world);
	save_agent("read-only", 1, &world);
	snprintf(path, sizeof path, "%s/fuzz_ram/world-helper", dir);
	helper = slurp(path);
	save_agent("world-helper", 0, &helper);
	save_agent("unsealed", 2, &none);
	gf_buf_free(&world);
	gf_buf_free(&helper);
	snprintf(path, sizeof path, "%s/fuzz_ram/linux-*%s", dir, recorded);
	if (glob(path, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct gf_buf image = slurp(g.gl_pathv[i]);
		char name[256];

		snprintf(name, sizeof name, "%.*s", (int)(strlen(strrchr(g.gl_pathv[i], '/') + 1) -
						       strlen(recorded)),
			 strrchr(g.gl_pathv[i], '/') + 1);
		save_agent(name, 0, &image);
		gf_buf_free(&image);
	}
	globfree(&g);
}

/* Request slots for the GPU's mailbox: one of each type. */
static void devbox_seeds(void)
{
	struct gf_buf m = { 0 };
	struct gf_request *r;

	r = add(&m, GF_MSG_HEARTBEAT, 1, 0, GF_OK, sizeof *r);
	r->beat = 7;
	add(&m, GF_MSG_SNAPSHOT, 2, 0, GF_OK, sizeof *r);
	add(&m, GF_MSG_PS, 3, 0, GF_OK, sizeof *r);
	r = add(&m, GF_MSG_LOG, 4, 0, GF_OK, sizeof *r);
	r->arg = 8;
	r = add(&m, GF_MSG_DETECT, 5, 0, GF_OK, sizeof *r);
	r->arg = GF_F2;
	r = add(&m, GF_MSG_SIGNAL, 6, 0, GF_OK, sizeof *r);
	*r = (struct gf_request){ .pid = 100, .sig = 9 };
	save("fuzz_devbox", "operator", 0, &m);
	save("fuzz_devbox", "read-only", 1, &m);
	gf_buf_free(&m);
}

static void viewer_seeds(void)
{
	static struct gf_board b;
	struct gf_buf m = { 0 };
	struct gf_ps_head *ps;
	struct gf_beat *beat;

	board_init(&b, "vm:/dev/shm/guest.ram");
	b.nevents = 2;
	snprintf(b.events[0], sizeof b.events[0], "attached");
	b.rates.ncpus = 4;
	memcpy(add(&m, GF_MSG_SNAPSHOT | GF_MSG_ANSWER, 2, 0, GF_OK, sizeof b), &b,
	       sizeof b);
	save("fuzz_proto_viewer", "snapshot", GF_MSG_SNAPSHOT, &m);
	m.len = 0;
	beat = add(&m, GF_MSG_HEARTBEAT | GF_MSG_ANSWER, 1, 0, GF_OK, sizeof *beat);
	beat->beat = 7;
	save("fuzz_proto_viewer", "heartbeat", GF_MSG_HEARTBEAT, &m);
	m.len = 0;
	ps = add(&m, GF_MSG_PS | GF_MSG_ANSWER, 3, 0, GF_OK, sizeof *ps +
		 2 * sizeof(struct gf_board_task));
	ps->count = ps->total = 2;
	save("fuzz_proto_viewer", "ps", GF_MSG_PS, &m);
	m.len = 0;
	msg_text(&m, GF_MSG_SIGNAL, 4, GF_ESRCH, "no process 4242");
	save("fuzz_proto_viewer", "refused", GF_MSG_SIGNAL, &m);
	gf_buf_free(&m);
}

/* The text as 6.12 writes it (shortened), alone and in its ELF note. */
static void vmcoreinfo_seeds(void)
{
	static const char text[] =
		"OSRELEASE=6.12.0-gpufas\nBUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
		"PAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a15fe0\n"
		"OFFSET(uts_namespace.name)=0\nSYMBOL(_stext)=ffffffff81000000\n"
		"SYMBOL(init_top_pgt)=ffffffff82a2e000\nNUMBER(pgtable_l5_enabled)=0\n"
		"SYMBOL(kallsyms_names)=ffffffff8267e2a8\nNUMBER(phys_base)=-1040187392\n"
		"NUMBER(sme_mask)=0\nKERNELOFFSET=1e000000\nCRASHTIME=1764626400\n";
	struct gf_buf m = { .data = (uint8_t *)text + 1, .len = sizeof text - 1 };
	static uint8_t note[24 + sizeof text] = "\x0b\0\0\0\0\x04\0\0\0\0\0\0VMCOREINFO";

	save("fuzz_vmcoreinfo", "text", (uint8_t)text[0], &m);
	memcpy(note + 24, text, sizeof text);
	m = (struct gf_buf){ .data = note + 1, .len = sizeof note - 1 };
	save("fuzz_vmcoreinfo", "note", note[0], &m);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	agent_seeds();
	viewer_seeds();
	devbox_seeds();
	vmcoreinfo_seeds();
	return 0;
}
