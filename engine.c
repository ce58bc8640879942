/* engine.c — where the shared introspection runs: in this process (the
 * CPU engine) or in the GPU monitor (the GPU engine, gpu.c), behind one
 * interface, with what a live guest needs around it: a retry when a list
 * changed under the walk. With loop parameters, the same for the watch
 * loop: the CPU engine steps it when asked, the GPU steps it by itself,
 * and either way the host reads what it publishes through here.
 *
 * A process has one GPU monitor at most, however many targets it
 * watches: each target is a slot of it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "clock.h"
#include "core.h"
#include "discover.h"
#include "engine.h"
#include "gpu.h"
#include "gpufas.h"
#include "loop.h"
#include "target.h"

/* A task exiting or forking mid-walk breaks a list link for an instant;
 * a second look usually succeeds. A list still broken after this many
 * looks is really corrupted. */
#define ATTEMPTS 5
#define READ_ATTEMPTS 100 /* a publication being written: look again */

const char *gf_strerror(int err)
{
	switch (err) {
	case GF_OK:       return "success";
	case GF_EFAULT:   return "address not in guest RAM or not mapped";
	case GF_ECORRUPT: return "kernel data inconsistent (corrupted task list?)";
	case GF_ENOSPC:   return "too many tasks";
	case GF_ESRCH:    return "no such process";
	case GF_ESTALE:   return "the task changed under us (pid reused, or exiting)";
	case GF_EINVAL:   return "invalid argument";
	case GF_EGPU:     return "the GPU monitor failed or stopped answering";
	case GF_EBUSY:    return "busy, or no answer in time";
	case GF_ENOMEM:   return "out of memory";
	case GF_EREFUSED: return "refused";
	case GF_ENOLIB:   return "a library or driver it needs is not present";
	case GF_EIO:      return "an I/O or system call failed";
	case GF_ENOENT:   return "not found";
	default:          return "unknown error";
	}
}

static void pause_briefly(void)
{
	gf_sleep(2e-3);
}

static int transient(int err)
{
	return err == GF_EFAULT || err == GF_ECORRUPT;
}

/* One walk on the CPU, into a buffer that grows until the tasks fit. */
static int cpu_snapshot(const struct gf_kernel *k, int threads,
			struct gf_task **out, uint32_t *count)
{
	for (uint32_t cap = 1024; cap <= GF_MAX_TASKS; cap *= 4) {
		struct gf_task *buf = malloc(cap * sizeof *buf);
		int err;

		if (!buf)
			return GF_ENOMEM;
		err = gf_walk_tasks(k, threads, buf, cap, count);
		if (err == GF_OK) {
			*out = buf;
			return GF_OK;
		}
		free(buf);
		if (err != GF_ENOSPC)
			return err;
	}
	return GF_ENOSPC;
}

/* Runs `call`, a read-only request, until it succeeds or fails for a
 * reason a second look cannot cure; leaves its result in `err`. */
#define RETRIED(err, call)                                         \
	for (int attempt_ = 0; attempt_ < ATTEMPTS; attempt_++) {   \
		if (!transient(err = (call)))                      \
			break;                                     \
		pause_briefly();                                   \
	}

int engine_snapshot(const struct gf_engine *e, int threads,
		    struct gf_task **out, uint32_t *count)
{
	int err;

	RETRIED(err, e->gpu ? gpu_snapshot(e->gpu, e->slot, threads, out, count)
			    : cpu_snapshot(e->k, threads, out, count));
	/* more tasks than the GPU's answer area holds: the CPU walks them,
	 * up to GF_MAX_TASKS like any walk */
	if (err == GF_ENOSPC && e->gpu)
		RETRIED(err, cpu_snapshot(e->k, threads, out, count));
	return err;
}

int engine_find(const struct gf_engine *e, int32_t pid, struct gf_task *t)
{
	int err;

	RETRIED(err, e->gpu ? gpu_find(e->gpu, e->slot, pid, t)
			    : gf_find_task(e->k, pid, t));
	return err;
}

int engine_counters(const struct gf_engine *e, struct gf_sample *s)
{
	int err;

	RETRIED(err, e->gpu ? gpu_counters(e->gpu, e->slot, s)
			    : gf_sample_counters(e->k, s));
	return err;
}

int engine_log_tail(const struct gf_engine *e, uint32_t records, char *buf,
		    uint32_t cap, uint32_t *len)
{
	int err;

	RETRIED(err, e->gpu ? gpu_log_tail(e->gpu, e->slot, records, buf, cap, len)
			    : gf_log_tail(e->k, records, buf, cap, len));
	return err;
}

/* Never retried: a write half done must be looked at, not repeated. */
int engine_signal(const struct gf_engine *e, const struct gf_task *t, int sig,
		  int *result)
{
	return e->gpu ? gpu_signal(e->gpu, e->slot, t, sig, result)
		      : gf_send_signal(e->k, t, sig, result);
}

/* ---- The process's GPU monitor ---- */

static struct {
	struct gpu *g;
	int index, users;
} service;

/* The process's GPU monitor, on GPU index, in *g: GF_OK, GF_EBUSY (it
 * runs on another GPU) or gpu_open()'s error. */
static int service_get(int index, struct gpu **g, char *err, size_t errlen)
{
	int rc;

	if (service.g && service.index != index) {
		snprintf(err, errlen, "GPU %d already watches this process's other "
			 "targets: one GPU per process", service.index);
		return GF_EBUSY;
	}
	if (!service.g && (rc = gpu_open(&service.g, index, err, errlen)))
		return rc;
	service.index = index;
	service.users++;
	*g = service.g;
	return GF_OK;
}

static void service_put(void)
{
	if (service.users > 0 && --service.users == 0) {
		gpu_close(service.g);
		service.g = NULL;
	}
}

/* n targets as slots of the GPU monitor, which then runs. */
static int open_gpu(struct gf_engine *e, int n, int index,
		    const struct gf_target *t, const struct gf_attachment *a,
		    const struct gf_loop_params *lp, const struct gf_mailbox_opts *mb,
		    char *err, size_t errlen)
{
	struct gpu *g = NULL;
	int i, rc;

	for (i = 0; i < n; i++) {
		if ((rc = service_get(index, &g, err, errlen)))
			goto fail;
		e[i].gpu = g;
		if ((e[i].slot = gpu_add_target(g, &t[i], &a[i].k, lp,
						   mb ? &mb[i] : NULL, err, errlen)) < 0) {
			rc = e[i].slot;
			e[i].gpu = NULL;
			service_put();
			goto fail;
		}
		snprintf(e[i].name, sizeof e[i].name, "GPU %d (%s)", index, gpu_name(g));
		e[i].pub = lp ? gpu_pub(g, e[i].slot) : NULL;
	}
	if ((rc = gpu_start(g, err, errlen)))
		goto fail;
	for (i = 0; i < n; i++)
		e[i].clock_offset = gpu_clock_offset(g);
	return GF_OK;
fail:
	engines_close(e, n);
	return rc;
}

/* The CPU engine's loop runs in the host's own thread: it has no host
 * to watch. */
static struct gf_loop_params on_cpu(const struct gf_loop_params *lp)
{
	struct gf_loop_params p = *lp;

	p.host_stall_s = 0;
	return p;
}

/* The CPU engine's watch loop: its arena and publication, in our heap. */
static int open_cpu_loop(struct gf_engine *e, const struct gf_loop_params *lp,
			 char *msg, size_t msglen)
{
	struct gf_loop_params p = on_cpu(lp);

	if (!(e->loop = malloc(gf_loop_size(&p))) || !(e->pub = malloc(gf_pub_size(&p)))) {
		snprintf(msg, msglen, "out of memory for the watch loop (%llu bytes)",
			 (unsigned long long)(gf_loop_size(&p) + gf_pub_size(&p)));
		return GF_ENOMEM;
	}
	gf_loop_init(e->loop, &p);
	gf_pub_init(e->pub, &p);
	e->clock_offset = gf_now_wall() - gf_now_monotonic();
	return GF_OK;
}

static void cpu_engines(struct gf_engine *e, int n, const struct gf_attachment *a)
{
	for (int i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof e[i]);
		e[i].k = &a[i].k;
		strcpy(e[i].name, "CPU");
	}
}

/* kind: "cpu", "gpu", or "auto": the GPU when one is usable, else the CPU,
 * with the reason left in msg for the caller to show. GF_OK, or a GF_E*
 * (GF_EINVAL: no such kind) and msg says why. lp: the watch loop's
 * parameters, or NULL for none; mb: with lp, a
 * GPU mailbox per target, or NULL (the CPU engine has none: its remote
 * viewers are the agent's listeners'). */
int engines_open(struct gf_engine *e, int n, const char *kind, int gpu_index,
		 const struct gf_target *t, const struct gf_attachment *a,
		 const struct gf_loop_params *lp, const struct gf_mailbox_opts *mb,
		 char *msg, size_t msglen)
{
	char why[256];
	int rc;

	msg[0] = 0;
	cpu_engines(e, n, a);
	if (!strcmp(kind, "gpu"))
		return open_gpu(e, n, gpu_index, t, a, lp, mb, msg, msglen);
	if (strcmp(kind, "cpu") && strcmp(kind, "auto")) {
		snprintf(msg, msglen, "unknown engine '%s' (auto, cpu or gpu)", kind);
		return GF_EINVAL;
	}
	if (!strcmp(kind, "auto")) {
		if (!open_gpu(e, n, gpu_index, t, a, lp, mb, why, sizeof why))
			return GF_OK;
		snprintf(msg, msglen, "CPU engine, as the GPU engine is out: %s", why);
		cpu_engines(e, n, a);
	}
	for (int i = 0; lp && i < n; i++)
		if ((rc = open_cpu_loop(&e[i], lp, msg, msglen))) {
			engines_close(e, n);
			return rc;
		}
	return GF_OK;
}

void engines_close(struct gf_engine *e, int n)
{
	for (int i = 0; i < n; i++) {
		if (e[i].gpu) {
			gpu_remove_target(e[i].gpu, e[i].slot);
			service_put();
		} else {
			free(e[i].loop);
			free(e[i].pub);
		}
		e[i].gpu = NULL;
		e[i].loop = NULL;
		e[i].pub = NULL;
	}
}

/* ---- The watch loop, seen from the host ---- */

/* The CPU engine's step; for the GPU engine, which steps by itself, the
 * host's heartbeat, which the GPU watches. */
void engine_step(const struct gf_engine *e)
{
	if (e->gpu)
		gpu_host_beat(e->gpu, e->slot);
	else if (e->loop)
		gf_loop_step(e->loop, e->pub, e->k, gf_now_monotonic(), 0);
}

int engine_retune(const struct gf_engine *e, const struct gf_loop_params *lp)
{
	struct gf_loop_params p = on_cpu(lp);

	if (e->gpu)
		return gpu_retune(e->gpu, e->slot, lp);
	if (!e->loop || !gf_loop_fits(&e->loop->p, &p))
		return GF_EINVAL;
	gf_loop_retune(e->loop, &p);
	return GF_OK;
}

/* The host's board, for the GPU's mailbox to answer with while the host
 * cannot (the CPU engine has no such mailbox). */
void engine_board(const struct gf_engine *e, const struct gf_board *b)
{
	if (e->gpu)
		gpu_board(e->gpu, e->slot, b, e->clock_offset);
}

/* A consistent copy of the publication (but its events) into `copy`, of
 * gf_pub_size() bytes: between two equal even looks at gen. */
int engine_read(const struct gf_engine *e, struct gf_pub *copy)
{
	const struct gf_pub *pub = e->pub;

	for (int i = 0; i < READ_ATTEMPTS; i++) {
		uint64_t gen = __atomic_load_n(&pub->gen, __ATOMIC_ACQUIRE);
		if (!(gen & 1)) {
			memcpy(copy, pub, offsetof(struct gf_pub, ev_head));
			if (copy->ntasks > copy->task_cap)
				copy->ntasks = 0;
			memcpy(gf_pub_tasks(copy), (const char *)pub + pub->tasks_off,
			       copy->ntasks * sizeof(struct gf_board_task));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&pub->gen, __ATOMIC_ACQUIRE) == gen)
				return GF_OK;
		}
		gf_sleep(20e-6);
	}
	return GF_EBUSY;
}

/* The events from *next on, at most max of them, in order; *lost says
 * how many were overwritten before they could be read. */
uint32_t engine_events(const struct gf_engine *e, uint64_t *next,
		       struct gf_loop_event *out, uint32_t max, uint64_t *lost)
{
	const struct gf_pub *pub = e->pub;
	uint64_t head = __atomic_load_n(&pub->ev_head, __ATOMIC_ACQUIRE);
	uint32_t n = 0;

	*lost = 0;
	if (head - *next > GF_EVENT_RING && head > *next) {
		*lost = head - GF_EVENT_RING - *next;
		*next = head - GF_EVENT_RING;
	}
	for (; *next < head && n < max; ++*next) {
		const struct gf_loop_event *ev = &pub->ev[*next % GF_EVENT_RING];
		if (__atomic_load_n(&ev->seq, __ATOMIC_ACQUIRE) != *next) {
			++*lost;
			continue;
		}
		memcpy(&out[n], ev, sizeof *ev);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&ev->seq, __ATOMIC_ACQUIRE) == *next)
			n++;
		else
			++*lost;
	}
	return n;
}
