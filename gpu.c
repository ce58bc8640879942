/* gpu.c — the GPU engine's host side: the NVIDIA driver opened at run time,
 * guest RAM registered with the GPU, the persistent monitor (kernels.cu)
 * launched with a block of GF_MONITOR_THREADS per target, and requests
 * passed to it through per-target mailboxes. A target with a watch loop
 * has its loop's arena in device memory and its publication in pinned
 * host memory: from then on the GPU samples, judges and recovers by
 * itself.
 *
 * Targets come and go while the monitor runs (an agent's guests reboot):
 * the monitor is stopped, the slot set up or torn down, and the monitor
 * launched again, its other slots' loops going on where they were, as
 * their arenas stay in device memory. A slot with a remote mailbox
 * (devbox.h) has it in device memory of its own, exported through CUDA
 * IPC and its handle written to the [remote] gpu_mailbox file; its keys,
 * derived from a fresh nonce at each set-up, in device memory that is not
 * exported; and the host's board template in pinned memory. Registering
 * and freeing memory
 * while a persistent kernel runs may wait on that kernel for ever, so it
 * is never done then.
 *
 * libcuda.so.1 is dlopen()ed, and every entry point fetched with
 * cuGetProcAddress at an explicit ABI version (CUDA 12.0), so the binary
 * links against nothing of NVIDIA's and runs unchanged where there is no
 * driver. The few driver types and constants used are declared here. The
 * kernels travel inside the binary as a fatbin (SASS for sm_75 to sm_90,
 * plus PTX for newer chips), embedded at build time when nvcc is present.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "board.h"
#include "clock.h"
#include "core.h"
#include "devbox.h"
#include "gpu.h"
#include "gpufas.h"
#include "introspect.h"
#include "loop.h"
#include "monitor.h"
#include "pagehash.h"
#include "proto.h"
#include "target.h"

#ifdef GPUFAS_FATBIN
__asm__(".section .rodata\n"
	".balign 64\n"
	"gf_fatbin:\n"
	".incbin \"" GPUFAS_FATBIN "\"\n"
	".byte 0\n"
	".previous\n");
extern const unsigned char gf_fatbin[];
#endif

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct { unsigned char reserved[64]; } CUipcMemHandle;

#define CUDA_SUCCESS 0
#define CUDA_ERROR_NOT_READY 600
#define CUDA_ABI 12000 /* the entry-point versions we are written against */
#define CU_MEMHOSTALLOC_PORTABLE 0x01
#define CU_MEMHOSTALLOC_DEVICEMAP 0x02
#define CU_MEMHOSTREGISTER_DEVICEMAP 0x02
#define CU_MEMHOSTREGISTER_READ_ONLY 0x08
#define CU_STREAM_NON_BLOCKING 0x1
#define ATTR_CC_MAJOR 75
#define ATTR_CC_MINOR 76

#define REQUEST_TIMEOUT_S 10
#define QUIT_TIMEOUT_S 1 /* a quit monitor ends in microseconds */
#define SLOT_CAPACITY (1u << 17) /* tasks one snapshot can return (more:
				    engine_snapshot walks on the CPU) */
#define LOOP_SLOT_CAPACITY 1024  /* a watch loop's slot: its answers are a
				    sample or a log tail, never a snapshot */
#define DEVBOX_ALIGN (2u << 20)  /* an exported mailbox owns whole 2 MiB
				    pages: nothing else shares them */
#define HASH_CHUNK (256u << 20)  /* bytes of RAM copied to the GPU, then
				    hashed there, at a time */

/* Monitors launched by this process and not known to have ended, on any
 * struct gpu: they share the device's primary context, where registering
 * memory could wait on them for ever (gpu_hash_setup). */
static atomic_int monitors_running;

/* Every driver entry point we use: name, return type, arguments. */
#define CUDA_FUNCS(X)                                                      \
	X(cuInit, (unsigned flags))                                        \
	X(cuGetErrorString, (CUresult err, const char **str))              \
	X(cuDeviceGetCount, (int *count))                                  \
	X(cuDeviceGet, (CUdevice *dev, int ordinal))                       \
	X(cuDeviceGetName, (char *name, int len, CUdevice dev))            \
	X(cuDeviceGetAttribute, (int *v, int attr, CUdevice dev))          \
	X(cuDevicePrimaryCtxRetain, (CUcontext *ctx, CUdevice dev))        \
	X(cuDevicePrimaryCtxRelease, (CUdevice dev))                       \
	X(cuCtxSetCurrent, (CUcontext ctx))                                \
	X(cuModuleLoadData, (CUmodule *mod, const void *image))            \
	X(cuModuleUnload, (CUmodule mod))                                  \
	X(cuModuleGetFunction, (CUfunction *f, CUmodule mod, const char *name)) \
	X(cuMemHostRegister, (void *p, size_t size, unsigned flags))       \
	X(cuMemHostUnregister, (void *p))                                  \
	X(cuMemHostAlloc, (void **p, size_t size, unsigned flags))         \
	X(cuMemFreeHost, (void *p))                                        \
	X(cuMemHostGetDevicePointer, (CUdeviceptr *d, void *p, unsigned flags)) \
	X(cuMemAlloc, (CUdeviceptr *d, size_t size))                       \
	X(cuMemFree, (CUdeviceptr d))                                      \
	X(cuMemcpyHtoD, (CUdeviceptr d, const void *src, size_t size))     \
	X(cuMemcpyDtoH, (void *dst, CUdeviceptr s, size_t size))           \
	X(cuMemsetD8, (CUdeviceptr d, unsigned char v, size_t n))          \
	X(cuIpcGetMemHandle, (CUipcMemHandle *h, CUdeviceptr d))           \
	X(cuStreamCreate, (CUstream *s, unsigned flags))                   \
	X(cuStreamDestroy, (CUstream s))                                   \
	X(cuStreamQuery, (CUstream s))                                     \
	X(cuStreamSynchronize, (CUstream s))                               \
	X(cuLaunchKernel, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, \
			   unsigned bx, unsigned by, unsigned bz, unsigned shmem, \
			   CUstream s, void **params, void **extra))

struct cuda {
	void *lib;
#define DECLARE(name, args) CUresult (*name) args;
	CUDA_FUNCS(DECLARE)
#undef DECLARE
};

/* One target the monitor serves: the host's view of its slot. */
struct target_slot {
	int used;
	void *ram;          /* the registered mapping */
	struct gf_box *box; /* host view of the mailbox */
	struct gf_task *data;
	struct gf_pub *pub; /* host view of the watch loop's publication */
	CUdeviceptr walk;   /* the snapshots' walk state */
	CUdeviceptr loop;   /* its arena */
	uint32_t request;
	uint64_t beat;
	/* the remote mailbox, if any */
	CUdeviceptr devbox, devstate;
	struct gf_devbox_board *board; /* host view of the template */
	uint64_t devbox_size;
	int32_t box_target;
	char handle[2 * sizeof(CUipcMemHandle) + 1]; /* in hex */
};

/* Host memory hashed page by page (gpu_hash_setup): registered, so that
 * the copy engines read it at the link's speed, and hashed from a chunk
 * of device memory. */
struct hash_region {
	const uint8_t *ram;
	uint64_t npages;
	CUdeviceptr chunk, out; /* HASH_CHUNK of RAM; a chunk's hashes */
};

struct gpu {
	struct cuda cu;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction monitor, pagehash;
	struct hash_region hash;
	CUstream stream;
	CUdeviceptr dslots;
	int launched; /* the monitor kernel was started */
	int running;  /* ... and answers */
	int wedged;   /* ... and then would not stop: nothing more to do */
	int nslots;   /* slots in use are below this */
	struct gf_slot slot[GF_MAX_TARGETS];  /* device view, copied at start */
	struct target_slot host[GF_MAX_TARGETS];
	char name[128];
	int index;           /* the GPU's ordinal */
	double clock_offset; /* wall clock minus the GPU's */
	char mailbox_path[256]; /* where the mailboxes' handles are told */
};

/* A driver call that failed, said in err: GF_EGPU. */
static int fail(char *err, size_t errlen, const struct gpu *g, CUresult rc,
		const char *what)
{
	const char *why = NULL;

	if (g && g->cu.cuGetErrorString)
		g->cu.cuGetErrorString(rc, &why);
	snprintf(err, errlen, "%s: %s", what, why ? why : "CUDA error");
	return GF_EGPU;
}

typedef CUresult (*get_proc_fn)(const char *symbol, void **pfn, int version,
				unsigned long long flags, int *status);

/* libcuda and its entry points: GF_OK, or GF_ENOLIB. */
static int load_driver(struct cuda *cu, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t at;
	} entries[] = {
#define ENTRY(name, args) { #name, offsetof(struct cuda, name) },
		CUDA_FUNCS(ENTRY)
#undef ENTRY
	};
	get_proc_fn get_proc;

	if (!(cu->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL))) {
		snprintf(err, errlen, "libcuda.so.1 not found (no NVIDIA driver)");
		return GF_ENOLIB;
	}
	/* the five-argument form, from CUDA 12.0 drivers on */
	if (!(get_proc = (get_proc_fn)dlsym(cu->lib, "cuGetProcAddress_v2"))) {
		snprintf(err, errlen, "NVIDIA driver older than CUDA 12");
		return GF_ENOLIB;
	}
	for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
		void **fn = (void **)((char *)cu + entries[i].at);
		int status = 0;
		if (get_proc(entries[i].name, fn, CUDA_ABI, 0, &status) || !*fn) {
			snprintf(err, errlen, "NVIDIA driver lacks %s", entries[i].name);
			return GF_ENOLIB;
		}
	}
	return GF_OK;
}

/* GF_OK; GF_ENOENT (no GPU), GF_EINVAL (no GPU of that index) or GF_EGPU
 * (one gpufas cannot use, or a driver call failed). */
static int open_device(struct gpu *g, int index, char *err, size_t errlen)
{
	struct cuda *cu = &g->cu;
	int count = 0, major = 0, minor = 0;
	CUresult rc;

	if ((rc = cu->cuInit(0)))
		return fail(err, errlen, g, rc, "cuInit");
	if ((rc = cu->cuDeviceGetCount(&count)) || count == 0) {
		snprintf(err, errlen, "no NVIDIA GPU visible");
		return GF_ENOENT;
	}
	if (index < 0 || index >= count) {
		snprintf(err, errlen, "no GPU %d (this machine has %d)", index, count);
		return GF_EINVAL;
	}
	g->index = index;
	if ((rc = cu->cuDeviceGet(&g->dev, index)) ||
	    (rc = cu->cuDeviceGetName(g->name, sizeof g->name, g->dev)) ||
	    (rc = cu->cuDeviceGetAttribute(&major, ATTR_CC_MAJOR, g->dev)) ||
	    (rc = cu->cuDeviceGetAttribute(&minor, ATTR_CC_MINOR, g->dev)))
		return fail(err, errlen, g, rc, "GPU query");
	if (major < 7 || (major == 7 && minor < 5)) {
		snprintf(err, errlen, "%s is sm_%d%d; gpufas needs sm_75 or newer",
			 g->name, major, minor);
		return GF_EGPU;
	}
	if ((rc = cu->cuDevicePrimaryCtxRetain(&g->ctx, g->dev)))
		return fail(err, errlen, g, rc, "primary context");
	if ((rc = cu->cuCtxSetCurrent(g->ctx)))
		return fail(err, errlen, g, rc, "cuCtxSetCurrent");
	return GF_OK;
}

/* GF_OK, GF_EGPU, or GF_ENOLIB in a build without the kernels. */
static int load_kernels(struct gpu *g, char *err, size_t errlen)
{
#ifdef GPUFAS_FATBIN
	CUresult rc;

	if ((rc = g->cu.cuModuleLoadData(&g->mod, gf_fatbin)))
		return fail(err, errlen, g, rc, "loading the GPU kernels");
	if ((rc = g->cu.cuModuleGetFunction(&g->monitor, g->mod, "gf_monitor")))
		return fail(err, errlen, g, rc, "gf_monitor");
	if ((rc = g->cu.cuModuleGetFunction(&g->pagehash, g->mod, "gf_pagehash_pages")))
		return fail(err, errlen, g, rc, "gf_pagehash_pages");
	return GF_OK;
#else
	(void)g;
	snprintf(err, errlen, "this gpufas was built without GPU kernels "
		 "(no nvcc at build time)");
	return GF_ENOLIB;
#endif
}

/* The device's copy of the slots, and the monitor's stream. */
static int alloc_slots(struct gpu *g, char *err, size_t errlen)
{
	CUresult rc;

	if ((rc = g->cu.cuMemAlloc(&g->dslots, sizeof g->slot)) ||
	    (rc = g->cu.cuStreamCreate(&g->stream, CU_STREAM_NON_BLOCKING)))
		return fail(err, errlen, g, rc, "monitor state");
	return GF_OK;
}

/* GF_OK with *out, or the GF_E* of the step that failed, with why in err. */
int gpu_open(struct gpu **out, int index, char *err, size_t errlen)
{
	struct gpu *g = calloc(1, sizeof *g);
	int rc;

	*out = NULL;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return GF_ENOMEM;
	}
	if ((rc = load_driver(&g->cu, err, errlen)) ||
	    (rc = open_device(g, index, err, errlen)) ||
	    (rc = load_kernels(g, err, errlen)) || (rc = alloc_slots(g, err, errlen))) {
		gpu_close(g);
		return rc;
	}
	*out = g;
	return GF_OK;
}

/* Pinned host memory the GPU sees too: the mailbox and the answer area. */
static int alloc_mapped(struct gpu *g, size_t size, void **host,
			CUdeviceptr *dev, char *err, size_t errlen)
{
	CUresult rc;

	if ((rc = g->cu.cuMemHostAlloc(host, size, CU_MEMHOSTALLOC_PORTABLE |
						       CU_MEMHOSTALLOC_DEVICEMAP)))
		return fail(err, errlen, g, rc, "pinned memory");
	memset(*host, 0, size);
	if ((rc = g->cu.cuMemHostGetDevicePointer(dev, *host, 0)))
		return fail(err, errlen, g, rc, "mapping pinned memory");
	return GF_OK;
}

/* Posts a request to one target's mailbox: the fields first, then the new
 * request number in write_done, which the monitor polls. */
int gpu_post(struct gpu *g, int slot, uint32_t op, int32_t arg,
	     const struct gf_task *task)
{
	struct target_slot *h = &g->host[slot];

	if (!g->running)
		return GF_EGPU;
	h->box->op = op;
	h->box->arg = arg;
	if (task)
		h->box->task = *task;
	__atomic_store_n(&h->box->write_done, ++h->request, __ATOMIC_RELEASE);
	return GF_OK;
}

/* Waits for the answer to the last request: spin briefly (a short answer
 * comes in microseconds), then sleep between looks, twice as long each
 * time up to 1 ms, so a host waiting on a long walk costs next to no CPU.
 * GF_EGPU if the monitor died or went silent. */
int gpu_wait(struct gpu *g, int slot)
{
	struct target_slot *h = &g->host[slot];
	double deadline = gf_now_monotonic() + REQUEST_TIMEOUT_S;
	double nap = 10e-6;

	for (int looks = 0; g->running; looks++) {
		if (__atomic_load_n(&h->box->read_permit, __ATOMIC_ACQUIRE) == h->request)
			return h->box->status;
		if (looks < 1000)
			continue;
		if (g->cu.cuStreamQuery(g->stream) != CUDA_ERROR_NOT_READY ||
		    gf_now_monotonic() > deadline) {
			g->running = 0;
		} else {
			gf_nap(&nap, 1e-3);
		}
	}
	return GF_EGPU;
}

static int request(struct gpu *g, int slot, uint32_t op, int32_t arg,
		   const struct gf_task *task)
{
	int err = gpu_post(g, slot, op, arg, task);

	return err ? err : gpu_wait(g, slot);
}

/* The tasks of a finished snapshot, copied out of the answer area. */
int gpu_snapshot_result(struct gpu *g, int slot, struct gf_task **out,
			uint32_t *count)
{
	*count = g->host[slot].box->count;
	if (*count > g->slot[slot].cap)
		return GF_ECORRUPT;
	if (!(*out = malloc((*count ? *count : 1) * sizeof **out)))
		return GF_ENOMEM;
	memcpy(*out, g->host[slot].data, *count * sizeof **out);
	return GF_OK;
}

int gpu_snapshot(struct gpu *g, int slot, int threads, struct gf_task **out,
		 uint32_t *count)
{
	int err = request(g, slot, GF_OP_SNAPSHOT, threads, NULL);

	return err ? err : gpu_snapshot_result(g, slot, out, count);
}

int gpu_find(struct gpu *g, int slot, int32_t pid, struct gf_task *t)
{
	int err = request(g, slot, GF_OP_FIND, pid, NULL);

	if (!err)
		*t = g->host[slot].box->found;
	return err;
}

int gpu_signal(struct gpu *g, int slot, const struct gf_task *t, int sig,
	       int *result)
{
	int err = request(g, slot, GF_OP_SIGNAL, sig, t);

	*result = g->host[slot].box->result;
	return err;
}

int gpu_counters(struct gpu *g, int slot, struct gf_sample *s)
{
	int err = request(g, slot, GF_OP_COUNTERS, 0, NULL);

	if (!err)
		memcpy(s, g->host[slot].data, sizeof *s);
	return err;
}

int gpu_log_tail(struct gpu *g, int slot, uint32_t records, char *buf,
		 uint32_t cap, uint32_t *len)
{
	int err = request(g, slot, GF_OP_LOG, (int32_t)records, NULL);
	uint32_t n = g->host[slot].box->count;

	if (err || cap == 0)
		return err ? err : GF_EINVAL;
	*len = n < cap - 1 ? n : cap - 1;
	memcpy(buf, g->host[slot].data, *len);
	buf[*len] = 0;
	return GF_OK;
}

const char *gpu_name(const struct gpu *g)
{
	return g->name;
}

struct gf_pub *gpu_pub(struct gpu *g, int slot)
{
	return g->host[slot].pub;
}

double gpu_clock_offset(const struct gpu *g)
{
	return g->clock_offset;
}

/* The host is alive: the watch loop on the GPU sees this advance. */
void gpu_host_beat(struct gpu *g, int slot)
{
	struct target_slot *h = &g->host[slot];

	__atomic_store_n(&h->box->host_beat, ++h->beat, __ATOMIC_RELEASE);
}

int gpu_retune(struct gpu *g, int slot, const struct gf_loop_params *lp)
{
	if (!g->host[slot].pub)
		return GF_EINVAL;
	g->host[slot].box->params = *lp;
	return request(g, slot, GF_OP_RETUNE, 0, NULL);
}

/* The host's newest board, for the slot's mailbox to answer with. */
void gpu_board(struct gpu *g, int slot, const struct gf_board *b,
	       double clock_offset)
{
	if (g->host[slot].board)
		gf_devbox_board_put(g->host[slot].board, b, clock_offset);
}

/* Has the monitor kernel ended (its stream idle, or failed)? Asked for up
 * to `timeout` seconds: a block that answered its quit still has to
 * return. */
static int monitor_ended(struct gpu *g, double timeout)
{
	double deadline = gf_now_monotonic() + timeout;

	while (g->cu.cuStreamQuery(g->stream) == CUDA_ERROR_NOT_READY) {
		if (gf_now_monotonic() > deadline)
			return 0;
		gf_sleep(1e-3);
	}
	return 1;
}

/* Stops the monitor, each block on its own quit request. One still
 * running after that stopped answering and cannot be stopped from here:
 * any further driver call could wait on it for ever, so the GPU is given
 * up on (wedged: GF_EGPU) and left to the driver's clean-up at process
 * exit. */
static int stop(struct gpu *g)
{
	if (g->launched) {
		for (int i = 0; i < g->nslots && g->running; i++)
			if (g->host[i].used)
				request(g, i, GF_OP_QUIT, 0, NULL);
		g->running = g->launched = 0;
		if (!monitor_ended(g, QUIT_TIMEOUT_S))
			g->wedged = 1;
		else
			atomic_fetch_sub(&monitors_running, 1);
	}
	return g->wedged ? GF_EGPU : GF_OK;
}

/* The GPU's clock against ours: read between two looks at the wall clock. */
static void calibrate(struct gpu *g, int slot)
{
	double before = gf_now_wall(), after;

	if (request(g, slot, GF_OP_CLOCK, 0, NULL))
		return;
	after = gf_now_wall();
	g->clock_offset = (before + after) / 2 - g->host[slot].box->clock_ns / 1e9;
}

/* Launches the monitor: a block per slot, running until told to quit. */
int gpu_start(struct gpu *g, char *err, size_t errlen)
{
	void *params[] = { &g->dslots, &g->nslots };
	CUresult rc;

	if (g->running || g->nslots == 0)
		return GF_OK;
	if (g->wedged) {
		snprintf(err, errlen, "the GPU monitor stopped answering");
		return GF_EGPU;
	}
	if ((rc = g->cu.cuMemcpyHtoD(g->dslots, g->slot, g->nslots * sizeof *g->slot)))
		return fail(err, errlen, g, rc, "monitor state");
	if ((rc = g->cu.cuLaunchKernel(g->monitor, g->nslots, 1, 1,
				       GF_MONITOR_THREADS, 1, 1, 0,
				       g->stream, params, NULL)))
		return fail(err, errlen, g, rc, "launching the monitor");
	g->launched = g->running = 1;
	atomic_fetch_add(&monitors_running, 1);
	for (int i = 0; i < g->nslots; i++)
		if (g->host[i].used) {
			calibrate(g, i);
			break;
		}
	return GF_OK;
}

static int write_mailboxes(const struct gpu *g, char *err, size_t errlen);

/* Frees what a slot holds; the monitor is not running. A mailbox gone
 * goes from the mailbox file too. */
static void free_slot(struct gpu *g, int slot)
{
	struct target_slot *h = &g->host[slot];
	int had_devbox = h->devbox != 0;
	char err[256];

	if (h->ram)
		g->cu.cuMemHostUnregister(h->ram);
	if (h->box)
		g->cu.cuMemFreeHost(h->box);
	if (h->data)
		g->cu.cuMemFreeHost(h->data);
	if (h->pub)
		g->cu.cuMemFreeHost(h->pub);
	if (h->walk)
		g->cu.cuMemFree(h->walk);
	if (h->loop)
		g->cu.cuMemFree(h->loop);
	if (h->devbox)
		g->cu.cuMemFree(h->devbox);
	if (h->devstate)
		g->cu.cuMemFree(h->devstate);
	if (h->board)
		g->cu.cuMemFreeHost(h->board);
	memset(h, 0, sizeof *h);
	memset(&g->slot[slot], 0, sizeof g->slot[slot]);
	while (g->nslots > 0 && !g->host[g->nslots - 1].used)
		g->nslots--;
	if (had_devbox)
		write_mailboxes(g, err, sizeof err);
}

/* A fresh watch loop in device memory: its header laid out here, copied
 * over; its tables need no clearing, as its counts say what is valid. */
static int new_loop(struct gpu *g, struct target_slot *h,
		    const struct gf_loop_params *lp, char *err, size_t errlen)
{
	struct gf_loop *head = malloc(sizeof *head);
	CUdeviceptr pub;
	CUresult rc;
	int err_rc;

	if (!head) {
		snprintf(err, errlen, "out of memory");
		return GF_ENOMEM;
	}
	gf_loop_init(head, lp);
	rc = g->cu.cuMemAlloc(&h->loop, head->size);
	if (!rc)
		rc = g->cu.cuMemcpyHtoD(h->loop, head, sizeof *head);
	free(head);
	if (rc)
		return fail(err, errlen, g, rc, "the watch loop's memory on the GPU");
	if ((err_rc = alloc_mapped(g, gf_pub_size(lp), (void **)&h->pub, &pub, err,
				   errlen)))
		return err_rc;
	gf_pub_init(h->pub, lp);
	return GF_OK;
}

/* The mailbox file ([remote] gpu_mailbox, mode 0600), rewritten whole
 * whenever a mailbox comes or goes, one line per mailbox:
 *   target N gpu G pid P size BYTES handle HEX
 * N the agent's number for the target (a request's header.target), G the
 * GPU's ordinal, P the agent's pid, BYTES the allocation's size and HEX
 * the 64-byte CUipcMemHandle, to open with cuIpcOpenMemHandle. Written to
 * a temporary file and renamed over, so a reader sees one whole version.
 * GF_OK, or GF_EIO. */
static int write_mailboxes(const struct gpu *g, char *err, size_t errlen)
{
	char tmp[300];
	FILE *f;
	int fd, bad;

	if (!g->mailbox_path[0])
		return GF_OK;
	snprintf(tmp, sizeof tmp, "%s.tmp", g->mailbox_path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		       0600)) < 0 || fchmod(fd, 0600) || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "gpu_mailbox %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return GF_EIO;
	}
	fprintf(f, "# gpufas GPU mailboxes (devbox.h)\n");
	for (int i = 0; i < g->nslots; i++)
		if (g->host[i].used && g->host[i].devbox)
			fprintf(f, "target %d gpu %d pid %d size %llu handle %s\n",
				g->host[i].box_target, g->index, (int)getpid(),
				(unsigned long long)g->host[i].devbox_size,
				g->host[i].handle);
	bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, g->mailbox_path)) {
		snprintf(err, errlen, "gpu_mailbox %s: %s", g->mailbox_path,
			 strerror(errno ? errno : EIO));
		unlink(tmp);
		return GF_EIO;
	}
	return GF_OK;
}

/* The server's state: layout, and a request and an answer key per role
 * the agent holds, from a nonce of this set-up's. */
static void devbox_keys(struct gf_devbox *head, struct gf_devbox_state *st,
			const struct gf_mailbox_opts *mb, uint32_t task_cap)
{
	uint8_t nonce[GF_NONCE_BYTES];

	auth_nonce(nonce);
	gf_devbox_init(head, st, mb->target, task_cap, nonce);
	if ((st->has[GF_DEVBOX_OPERATOR] = (uint32_t)mb->keys->has_operator))
		auth_mailbox_keys(mb->keys->operator_key, nonce,
				  st->request[GF_DEVBOX_OPERATOR],
				  st->answer[GF_DEVBOX_OPERATOR]);
	if ((st->has[GF_DEVBOX_READ] = (uint32_t)mb->keys->has_read))
		auth_mailbox_keys(mb->keys->read_key, nonce,
				  st->request[GF_DEVBOX_READ],
				  st->answer[GF_DEVBOX_READ]);
}

/* The remote mailbox: the exported allocation (zeroed, then its header),
 * the keys beside it, the board template, and the handle in hex. */
static int new_devbox(struct gpu *g, struct target_slot *h, struct gf_slot *s,
		      const struct gf_loop_params *lp,
		      const struct gf_mailbox_opts *mb, char *err, size_t errlen)
{
	struct gf_devbox head;
	struct gf_devbox_state *st = calloc(1, sizeof *st);
	CUipcMemHandle handle;
	CUdeviceptr board;
	CUresult rc;
	int err_rc;

	if (!st || auth_init()) {
		snprintf(err, errlen, "out of memory, or libsodium did not initialise");
		err_rc = st ? GF_EIO : GF_ENOMEM;
		free(st);
		return err_rc;
	}
	devbox_keys(&head, st, mb, lp->task_cap);
	h->devbox_size = (head.size + DEVBOX_ALIGN - 1) / DEVBOX_ALIGN * DEVBOX_ALIGN;
	h->box_target = mb->target;
	rc = g->cu.cuMemAlloc(&h->devbox, h->devbox_size);
	if (!rc)
		rc = g->cu.cuMemsetD8(h->devbox, 0, h->devbox_size);
	if (!rc)
		rc = g->cu.cuMemcpyHtoD(h->devbox, &head, sizeof head);
	if (!rc)
		rc = g->cu.cuMemAlloc(&h->devstate, sizeof *st);
	if (!rc)
		rc = g->cu.cuMemcpyHtoD(h->devstate, st, sizeof *st);
	if (!rc)
		rc = g->cu.cuIpcGetMemHandle(&handle, h->devbox);
	explicit_bzero(st, sizeof *st);
	free(st);
	if (rc)
		return fail(err, errlen, g, rc, "the GPU mailbox");
	for (size_t i = 0; i < sizeof handle.reserved; i++)
		snprintf(h->handle + 2 * i, 3, "%02x", handle.reserved[i]);
	if ((err_rc = alloc_mapped(g, sizeof *h->board, (void **)&h->board, &board,
				   err, errlen)))
		return err_rc;
	s->devbox = (uint8_t *)(uintptr_t)h->devbox;
	s->devstate = (struct gf_devbox_state *)(uintptr_t)h->devstate;
	s->board = (const struct gf_devbox_board *)(uintptr_t)board;
	snprintf(g->mailbox_path, sizeof g->mailbox_path, "%s", mb->path);
	return GF_OK;
}

/* Sets up a slot: the target's RAM registered with the GPU, a mailbox, an
 * answer area, and with lp a watch loop (and with mb its remote mailbox);
 * the monitor's copy of the kernel description has its RAM bases as
 * device pointers. GF_OK, or the GF_E* of the step that failed. */
static int set_up_slot(struct gpu *g, int i, const struct gf_target *t,
		       const struct gf_kernel *k, const struct gf_loop_params *lp,
		       const struct gf_mailbox_opts *mb, char *err, size_t errlen)
{
	size_t size = (t->map_size + 4095) & ~(size_t)4095;
	uint32_t cap = lp ? LOOP_SLOT_CAPACITY : SLOT_CAPACITY;
	struct target_slot *h = &g->host[i];
	struct gf_slot *s = &g->slot[i];
	CUdeviceptr ram, box, data;
	CUresult rc;
	int err_rc;

	h->used = 1;
	rc = g->cu.cuMemHostRegister(t->map, size, CU_MEMHOSTREGISTER_DEVICEMAP |
				     (t->writable ? 0 : CU_MEMHOSTREGISTER_READ_ONLY));
	if (rc)
		return fail(err, errlen, g, rc, "registering guest RAM with the GPU");
	h->ram = t->map;
	if ((rc = g->cu.cuMemHostGetDevicePointer(&ram, t->map, 0)))
		return fail(err, errlen, g, rc, "guest RAM device pointer");
	if ((err_rc = alloc_mapped(g, sizeof *h->box, (void **)&h->box, &box, err,
				   errlen)) ||
	    (err_rc = alloc_mapped(g, cap * sizeof *h->data, (void **)&h->data, &data,
				   err, errlen)) ||
	    (lp && (err_rc = new_loop(g, h, lp, err, errlen))))
		return err_rc;
	if ((rc = g->cu.cuMemAlloc(&h->walk, sizeof(struct gf_walk))))
		return fail(err, errlen, g, rc, "the walk's memory on the GPU");
	s->k = *k;
	for (uint32_t r = 0; r < s->k.mem.nranges; r++)
		s->k.mem.range[r].base = (uint8_t *)(uintptr_t)ram +
					 (k->mem.range[r].base - t->map);
	s->box = (struct gf_box *)(uintptr_t)box;
	s->data = (struct gf_task *)(uintptr_t)data;
	s->cap = cap;
	s->walk = (struct gf_walk *)(uintptr_t)h->walk;
	s->loop = (struct gf_loop *)(uintptr_t)h->loop;
	if (h->pub && (rc = g->cu.cuMemHostGetDevicePointer(&data, h->pub, 0)))
		return fail(err, errlen, g, rc, "mapping the publication");
	s->pub = h->pub ? (struct gf_pub *)(uintptr_t)data : NULL;
	if (lp && mb && ((err_rc = new_devbox(g, h, s, lp, mb, err, errlen)) ||
			 (err_rc = write_mailboxes(g, err, errlen))))
		return err_rc;
	return GF_OK;
}

/* Adds a target to the monitor, which is stopped for it if it runs and
 * launched again after. Returns its slot, or a GF_E* with why in err. */
int gpu_add_target(struct gpu *g, const struct gf_target *t,
		   const struct gf_kernel *k, const struct gf_loop_params *lp,
		   const struct gf_mailbox_opts *mb, char *err, size_t errlen)
{
	int was_running = g->running, i, rc;

	for (i = 0; i < GF_MAX_TARGETS && g->host[i].used; i++)
		;
	if (i == GF_MAX_TARGETS) {
		snprintf(err, errlen, "too many targets for one GPU monitor (%d)",
			 GF_MAX_TARGETS);
		return GF_ENOSPC;
	}
	if ((rc = stop(g))) {
		snprintf(err, errlen, "the GPU monitor stopped answering");
		return rc;
	}
	if (i >= g->nslots)
		g->nslots = i + 1;
	if ((rc = set_up_slot(g, i, t, k, lp, mb, err, errlen))) {
		free_slot(g, i);
		i = rc;
	}
	if (was_running && (rc = gpu_start(g, err, errlen)) && i >= 0) {
		free_slot(g, i);
		i = rc;
	}
	return i;
}

/* Takes a target out; the monitor goes on with the others. */
void gpu_remove_target(struct gpu *g, int slot)
{
	char err[256];

	if (slot < 0 || slot >= g->nslots || !g->host[slot].used || stop(g))
		return;
	free_slot(g, slot);
	gpu_start(g, err, sizeof err);
}

/* ---- Page hashes (snapshot.c): pagehash.c run by the GPU ---- */

static void hash_release(struct gpu *g)
{
	struct hash_region *h = &g->hash;

	if (h->ram)
		g->cu.cuMemHostUnregister((void *)h->ram);
	if (h->chunk)
		g->cu.cuMemFree(h->chunk);
	if (h->out)
		g->cu.cuMemFree(h->out);
	memset(h, 0, sizeof *h);
}

/* A GPU that hashes npages of host memory at ram (page-aligned) with
 * gpu_hash: opened, the memory registered and device memory taken now, as
 * pinning costs time in proportion and is done before a guest is paused.
 * Not while a monitor of this process runs: loading the kernels and
 * registering memory in the context it runs in may wait on it for ever. */
int gpu_hash_open(struct gpu **out, int index, const void *ram, uint64_t npages,
		  char *err, size_t errlen)
{
	struct hash_region *h;
	struct gpu *g;
	CUresult rc;
	int err_rc;

	*out = NULL;
	if (atomic_load(&monitors_running)) {
		snprintf(err, errlen, "the GPU engine's monitor runs in this process");
		return GF_EBUSY;
	}
	if ((err_rc = gpu_open(&g, index, err, errlen)))
		return err_rc;
	h = &g->hash;
	if ((rc = g->cu.cuMemHostRegister((void *)ram, npages * GF_PAGEHASH_PAGE,
					  CU_MEMHOSTREGISTER_READ_ONLY))) {
		err_rc = fail(err, errlen, g, rc, "registering guest RAM with the GPU");
		gpu_close(g);
		return err_rc;
	}
	h->ram = ram;
	h->npages = npages;
	if ((rc = g->cu.cuMemAlloc(&h->chunk, HASH_CHUNK)) ||
	    (rc = g->cu.cuMemAlloc(&h->out, HASH_CHUNK / GF_PAGEHASH_PAGE *
					    GF_PAGEHASH_BYTES))) {
		err_rc = fail(err, errlen, g, rc, "GPU memory for hashing pages");
		gpu_close(g);
		return err_rc;
	}
	*out = g;
	return GF_OK;
}

/* The hash of every page of gpu_hash_open's region, in out: each chunk
 * copied to the GPU and hashed there by a thread per page. */
int gpu_hash(struct gpu *g, const struct gf_pagehash_key *key,
	     uint8_t (*out)[GF_PAGEHASH_BYTES], char *err, size_t errlen)
{
	const struct hash_region *h = &g->hash;
	const uint64_t per_chunk = HASH_CHUNK / GF_PAGEHASH_PAGE;
	struct gf_pagehash_key k = *key;
	CUresult rc = 0;

	for (uint64_t first = 0; first < h->npages && !rc; first += per_chunk) {
		uint64_t n = h->npages - first < per_chunk ? h->npages - first : per_chunk;
		void *params[] = { (void *)&h->chunk, &n, &k, (void *)&h->out };
		unsigned blocks = (unsigned)((n + 255) / 256);

		if (!(rc = g->cu.cuMemcpyHtoD(h->chunk, h->ram + first * GF_PAGEHASH_PAGE,
					      n * GF_PAGEHASH_PAGE)) &&
		    !(rc = g->cu.cuLaunchKernel(g->pagehash, blocks, 1, 1, 256, 1, 1, 0,
						g->stream, params, NULL)) &&
		    !(rc = g->cu.cuStreamSynchronize(g->stream)))
			rc = g->cu.cuMemcpyDtoH(out + first, h->out, n * GF_PAGEHASH_BYTES);
	}
	return rc ? fail(err, errlen, g, rc, "hashing pages on the GPU") : GF_OK;
}

/* Stops the monitor, then frees everything; a monitor that would not stop
 * leaves its memory to the driver's clean-up at process exit (a
 * registration left behind only matters to this process). */
void gpu_close(struct gpu *g)
{
	if (!g)
		return;
	if (stop(g)) {
		free(g);
		return;
	}
	for (int i = g->nslots - 1; i >= 0; i--)
		if (g->host[i].used)
			free_slot(g, i);
	hash_release(g);
	if (g->stream)
		g->cu.cuStreamDestroy(g->stream);
	if (g->dslots)
		g->cu.cuMemFree(g->dslots);
	if (g->mod)
		g->cu.cuModuleUnload(g->mod);
	if (g->ctx)
		g->cu.cuDevicePrimaryCtxRelease(g->dev);
	if (g->cu.lib)
		dlclose(g->cu.lib);
	free(g);
}
