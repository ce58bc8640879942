/* test/nic.c — plays the NIC for the GPU's remote mailbox (devbox.h).
 *
 *   test/nic --mailbox FILE --key FILE [--target N] [--timeout S]
 *            heartbeat | snapshot | ps | log [RECORDS] | kill PID [SIG]
 *
 * No RDMA NIC sits beside a GPU here, so this process does what a remote
 * viewer's RDMA WRITEs and READs would: it opens the agent's mailbox
 * allocation through CUDA IPC (the handle from the [remote] gpu_mailbox
 * file) and makes the same accesses with plain copies. The request is the
 * viewer's own (proto.c's msg_start, auth.c's MAC with the keys
 * auth_mailbox_keys derives from the key file and the mailbox's nonce);
 * the message is written first, the request number last, and the response
 * area is read until both marks carry that number (mailbox_answer). The
 * answer's MAC is checked, and one JSON line printed:
 *   {"op":"heartbeat","seq":S,"beat":B,"steps":N}
 *   {"op":"snapshot","seq":S,"target":"...","nprocs":N,"host_stalled":0|1,
 *    "sampled":T,"active":["memory",...]}
 *   {"op":"ps","seq":S,"count":N,"total":N,"pids":[...]}
 *   {"op":"log","seq":S,"text":"..."}
 *   {"op":"kill","seq":S,"status":E,"text":"..."}
 *   {"op":"...","refused":true}          (no key the agent holds: exit 3)
 *   {"op":"...","status":E,"error":"..."} (the agent said no: exit 1)
 * Exit 2: no answer, or no mailbox to talk to.
 *
 * libcuda.so.1 is dlopen()ed as gpu.c does it, for the few entry points
 * needed.
 */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../auth.h"
#include "../board.h"
#include "../detect.h"
#include "../devbox.h"
#include "../gpufas.h"
#include "../json.h"
#include "../proto.h"
#include "../rdma.h"
#include "../signals.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct { unsigned char reserved[64]; } CUipcMemHandle;

#define CUDA_ABI 12000
#define CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS 0x1

#define NIC_FUNCS(X)                                                        \
	X(cuInit, (unsigned flags))                                         \
	X(cuDeviceGet, (CUdevice *dev, int ordinal))                        \
	X(cuDevicePrimaryCtxRetain, (CUcontext *ctx, CUdevice dev))         \
	X(cuCtxSetCurrent, (CUcontext ctx))                                 \
	X(cuIpcOpenMemHandle, (CUdeviceptr *d, CUipcMemHandle h, unsigned flags)) \
	X(cuIpcCloseMemHandle, (CUdeviceptr d))                             \
	X(cuMemcpyHtoD, (CUdeviceptr d, const void *src, size_t n))         \
	X(cuMemcpyDtoH, (void *dst, CUdeviceptr s, size_t n))

static struct nic_cuda {
#define DECLARE(name, args) CUresult (*name) args;
	NIC_FUNCS(DECLARE)
#undef DECLARE
} cu;

typedef CUresult (*get_proc_fn)(const char *symbol, void **pfn, int version,
				unsigned long long flags, int *status);

static void die(int rc, const char *op, const char *fmt, const char *what)
	__attribute__((format(printf, 3, 0), noreturn));

/* One JSON line saying why, and out. */
static void die(int rc, const char *op, const char *fmt, const char *what)
{
	char why[640];

	snprintf(why, sizeof why, fmt, what);
	printf("{\"op\":\"%s\",\"error\":", op);
	json_string(stdout, why, sizeof why);
	printf("}\n");
	exit(rc);
}

static void load_cuda(const char *op)
{
	static const struct {
		const char *name;
		size_t at;
	} entries[] = {
#define ENTRY(name, args) { #name, offsetof(struct nic_cuda, name) },
		NIC_FUNCS(ENTRY)
#undef ENTRY
	};
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	get_proc_fn get_proc;

	if (!lib || !(get_proc = (get_proc_fn)dlsym(lib, "cuGetProcAddress_v2")))
		die(2, op, "%s", "no CUDA 12 driver (libcuda.so.1)");
	for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
		void **fn = (void **)((char *)&cu + entries[i].at);
		int status = 0;
		if (get_proc(entries[i].name, fn, CUDA_ABI, 0, &status) || !*fn)
			die(2, op, "the driver lacks %s", entries[i].name);
	}
}

/* The mailbox file's line for target (gpu.c, write_mailboxes). */
struct line {
	int gpu;
	unsigned long long size;
	CUipcMemHandle handle;
};

static int find_line(const char *path, int target, struct line *out)
{
	char text[512], hex[160];
	FILE *f = fopen(path, "r");
	int t, pid, found = 0;

	if (!f)
		return -1;
	while (!found && fgets(text, sizeof text, f)) {
		if (sscanf(text, "target %d gpu %d pid %d size %llu handle %159s", &t,
			   &out->gpu, &pid, &out->size, hex) != 5 || t != target ||
		    strlen(hex) != 2 * sizeof out->handle.reserved)
			continue;
		for (size_t i = 0; i < sizeof out->handle.reserved; i++) {
			unsigned v;
			sscanf(hex + 2 * i, "%2x", &v);
			out->handle.reserved[i] = (unsigned char)v;
		}
		found = 1;
	}
	fclose(f);
	return found ? 0 : -1;
}

struct nic {
	const char *op;
	CUdeviceptr base;
	struct gf_devbox head;
	struct gf_session s;   /* tx: the request key; rx: the answer key */
	struct gf_buf req, ans;
	double timeout_s;
};

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_mailbox(struct nic *n, const char *path, int target,
			 const uint8_t psk[GF_KEY_BYTES])
{
	struct line l;
	CUdevice dev;
	CUcontext ctx;
	uint8_t request_key[GF_KEY_BYTES];

	if (find_line(path, target, &l))
		die(2, n->op, "no mailbox for the target in %s", path);
	load_cuda(n->op);
	if (cu.cuInit(0) || cu.cuDeviceGet(&dev, l.gpu) ||
	    cu.cuDevicePrimaryCtxRetain(&ctx, dev) || cu.cuCtxSetCurrent(ctx))
		die(2, n->op, "%s", "cannot open the GPU");
	if (cu.cuIpcOpenMemHandle(&n->base, l.handle, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS))
		die(2, n->op, "%s", "cannot open the mailbox's IPC handle (agent gone?)");
	if (cu.cuMemcpyDtoH(&n->head, n->base, sizeof n->head) ||
	    n->head.magic != GF_DEVBOX_MAGIC || n->head.version != GF_DEVBOX_VERSION ||
	    n->head.target != target || n->head.size > l.size ||
	    n->head.resp_off + n->head.resp_size > n->head.size)
		die(2, n->op, "%s", "not a gpufas GPU mailbox of this build");
	auth_mailbox_keys(psk, n->head.nonce, request_key, n->s.rx_key);
	memcpy(n->s.tx_key, request_key, GF_KEY_BYTES);
}

/* The request written as an RDMA WRITE would leave it: message, then the
 * number (the write-done flag). */
static void post(struct nic *n, uint16_t type, const struct gf_request *body)
{
	struct gf_request *p;
	uint64_t number = n->head.served + 1;

	n->s.seq = n->head.last_seq + 1;
	if (!(p = msg_start(&n->req, type, n->s.seq, n->head.target, GF_OK, sizeof *p)))
		die(2, n->op, "%s", "out of memory");
	*p = *body;
	auth_seal(&n->s, &n->req);
	if (cu.cuMemcpyHtoD(n->base + n->head.req_off, n->req.data, n->req.len) ||
	    cu.cuMemcpyHtoD(n->base + n->head.req_off + offsetof(struct gf_req_area, posted),
			    &number, sizeof number))
		die(2, n->op, "%s", "cannot write the request area");
	n->head.served = number;
}

/* Reads the response area until the answer is whole (RDMA READs). */
static void await(struct nic *n)
{
	uint32_t max = n->head.resp_size - 16;
	double deadline = seconds() + n->timeout_s;
	size_t need = 8 + sizeof(struct gf_msg_hdr), got = 0;
	struct timespec nap = { 0, 200000 };
	char why[256];
	int rc;

	if (gf_buf_reserve(&n->ans, n->head.resp_size))
		die(2, n->op, "%s", "out of memory");
	for (;;) {
		if (got < need) {
			if (cu.cuMemcpyDtoH(n->ans.data, n->base + n->head.resp_off, need))
				die(2, n->op, "%s", "cannot read the response area");
			got = need;
		}
		rc = mailbox_answer(n->ans.data, got, n->head.served, max, &need, why,
				    sizeof why);
		if (rc == GF_EINVAL)
			die(2, n->op, "malformed answer: %s", why);
		if (rc == GF_OK && need <= got)
			break;
		if (rc == GF_EBUSY) {
			got = 0;
			need = 8 + sizeof(struct gf_msg_hdr);
		}
		if (seconds() > deadline)
			die(2, n->op, "%s", "no answer in time (monitor dead?)");
		if (rc == GF_EBUSY)
			nanosleep(&nap, NULL);
	}
	memmove(n->ans.data, n->ans.data + 8, need - 16);
	n->ans.len = need - 16;
}

static void print_board(const struct gf_board *b)
{
	int first = 1;

	printf(",\"target\":");
	json_string(stdout, b->target, sizeof b->target);
	printf(",\"nprocs\":%u,\"host_stalled\":%u,\"sampled\":%.3f,\"active\":[",
	       b->nprocs, b->host_stalled, b->sampled);
	for (int c = 0; c < GF_NCLASSES; c++)
		if (b->verdict[c].active) {
			printf("%s\"%s\"", first ? "" : ",",
			       gf_class_name((enum gf_class)c));
			first = 0;
		}
	printf("]");
}

static void print_ps(const uint8_t *p, uint32_t len)
{
	const struct gf_ps_head *head = (const struct gf_ps_head *)p;
	const struct gf_board_task *t = (const struct gf_board_task *)(head + 1);
	uint32_t n = head->count;

	if ((len - sizeof *head) / sizeof *t < n)
		n = (len - sizeof *head) / sizeof *t;
	printf(",\"count\":%u,\"total\":%u,\"pids\":[", n, head->total);
	for (uint32_t i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", t[i].t.pid);
	printf("]");
}

/* The answer verified and printed: the exit status. */
static int report(struct nic *n, uint16_t type)
{
	static const uint32_t least[GF_MSG_TYPES] = {
		[GF_MSG_HEARTBEAT] = sizeof(struct gf_beat),
		[GF_MSG_SNAPSHOT] = sizeof(struct gf_board),
		[GF_MSG_PS] = sizeof(struct gf_ps_head),
		[GF_MSG_DETECT] = sizeof(struct gf_verdict),
	};
	const struct gf_msg_hdr *h = (const struct gf_msg_hdr *)n->ans.data;
	const uint8_t *p = n->ans.data + sizeof *h;
	char why[256];

	if (auth_open(&n->s, n->ans.data, n->ans.len, 0, why, sizeof why)) {
		if (h->status == GF_EREFUSED && h->length == 7 && !memcmp(p, "refused", 7)) {
			printf("{\"op\":\"%s\",\"refused\":true}\n", n->op);
			return 3;
		}
		die(2, n->op, "%s", why);
	}
	if (proto_answer_check(h, type, least[type], why, sizeof why)) {
		printf("{\"op\":\"%s\",\"seq\":%llu,\"status\":%d,\"error\":", n->op,
		       (unsigned long long)h->seq, h->status);
		json_string(stdout, why, sizeof why);
		printf("}\n");
		return 1;
	}
	printf("{\"op\":\"%s\",\"seq\":%llu", n->op, (unsigned long long)h->seq);
	if (type == GF_MSG_HEARTBEAT)
		printf(",\"beat\":%llu,\"steps\":%llu",
		       (unsigned long long)((const struct gf_beat *)p)->beat,
		       (unsigned long long)((const struct gf_beat *)p)->rounds);
	else if (type == GF_MSG_SNAPSHOT) {
		struct gf_board *b = malloc(sizeof *b);
		if (!b)
			die(2, n->op, "%s", "out of memory");
		memcpy(b, p, sizeof *b);
		board_sanitize(b);
		print_board(b);
		free(b);
	} else if (type == GF_MSG_PS)
		print_ps(p, h->length);
	else {
		printf(",\"status\":%d,\"text\":", h->status);
		json_string(stdout, (const char *)p, h->length);
	}
	printf("}\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: test/nic --mailbox FILE --key FILE [--target N] "
		"[--timeout S] heartbeat|snapshot|ps|log [RECORDS]|kill PID [SIG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mailbox", required_argument, NULL, 'm' },
		{ "key", required_argument, NULL, 'k' },
		{ "target", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mailbox = NULL, *key = NULL;
	struct nic n = { .timeout_s = 5 };
	struct gf_request rq = { .beat = 1 };
	uint8_t psk[GF_KEY_BYTES];
	uint16_t type;
	char err[512];
	int target = 0, c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			mailbox = optarg;
		else if (c == 'k')
			key = optarg;
		else if (c == 't')
			target = atoi(optarg);
		else if (c == 'T')
			n.timeout_s = atof(optarg);
		else
			usage();
	}
	if (!mailbox || !key || optind >= argc)
		usage();
	n.op = argv[optind];
	if (!strcmp(n.op, "heartbeat"))
		type = GF_MSG_HEARTBEAT;
	else if (!strcmp(n.op, "snapshot"))
		type = GF_MSG_SNAPSHOT;
	else if (!strcmp(n.op, "ps"))
		type = GF_MSG_PS;
	else if (!strcmp(n.op, "log")) {
		type = GF_MSG_LOG;
		rq.arg = optind + 1 < argc ? (uint32_t)atoi(argv[optind + 1]) : 20;
	} else if (!strcmp(n.op, "kill") && optind + 1 < argc) {
		type = GF_MSG_SIGNAL;
		rq.pid = atoi(argv[optind + 1]);
		rq.sig = optind + 2 < argc ? signal_parse(argv[optind + 2]) : 9;
	} else
		usage();
	if (auth_init())
		die(2, n.op, "%s", "libsodium did not initialise");
	if (auth_key_load(key, psk, err, sizeof err))
		die(2, n.op, "%s", err);
	open_mailbox(&n, mailbox, target, psk);
	post(&n, type, &rq);
	await(&n);
	rc = report(&n, type);
	cu.cuIpcCloseMemHandle(n.base);
	return rc;
}
