/* engine.c — where the shared introspection runs: in this process (the
 * CPU engine) or in the GPU monitor (the GPU engine, gpu.c), behind one
 * interface, with what a live guest needs around it: a retry when a list
 * changed under the walk.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpufas.h"

/* A task exiting or forking mid-walk breaks a list link for an instant;
 * a second look usually succeeds. A list still broken after this many
 * looks is really corrupted. */
#define ATTEMPTS 5
#define MAX_TASKS (1u << 22)

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
	default:          return "unknown error";
	}
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static int transient(int err)
{
	return err == GF_EFAULT || err == GF_ECORRUPT;
}

/* One walk on the CPU, into a buffer that grows until the tasks fit. */
static int cpu_snapshot(const struct gf_kernel *k, int threads,
			struct gf_task **out, uint32_t *count)
{
	for (uint32_t cap = 1024; cap <= MAX_TASKS; cap *= 4) {
		struct gf_task *buf = malloc(cap * sizeof *buf);
		int err;

		if (!buf)
			return GF_ENOSPC;
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

/* One GPU monitor serving all n targets, one slot each. */
static int open_gpu(struct gf_engine *e, int n, int index,
		    const struct gf_target *t, const struct gf_attach *a,
		    char *err, size_t errlen)
{
	struct gpu *g;

	if (gpu_open(&g, index, err, errlen))
		return -1;
	for (int i = 0; i < n; i++) {
		e[i].gpu = g;
		if ((e[i].slot = gpu_add_target(g, &t[i], &a[i].k, err, errlen)) < 0)
			goto fail;
		snprintf(e[i].name, sizeof e[i].name, "GPU %d (%s)", index,
			 gpu_name(g));
	}
	if (gpu_start(g, err, errlen))
		goto fail;
	return 0;
fail:
	gpu_close(g);
	for (int i = 0; i < n; i++)
		e[i].gpu = NULL;
	return -1;
}

/* kind: "cpu", "gpu", or "auto": the GPU when one is usable, else the CPU,
 * with the reason left in msg for the caller to show. On failure msg says
 * why. */
int engines_open(struct gf_engine *e, int n, const char *kind, int gpu_index,
		 const struct gf_target *t, const struct gf_attach *a,
		 char *msg, size_t msglen)
{
	char why[256];

	msg[0] = 0;
	for (int i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof e[i]);
		e[i].k = &a[i].k;
		strcpy(e[i].name, "CPU");
	}
	if (!strcmp(kind, "cpu"))
		return 0;
	if (!strcmp(kind, "gpu"))
		return open_gpu(e, n, gpu_index, t, a, msg, msglen);
	if (strcmp(kind, "auto")) {
		snprintf(msg, msglen, "unknown engine '%s' (auto, cpu or gpu)", kind);
		return -1;
	}
	if (open_gpu(e, n, gpu_index, t, a, why, sizeof why))
		snprintf(msg, msglen, "CPU engine, as the GPU engine is out: %s", why);
	return 0;
}

void engines_close(struct gf_engine *e, int n)
{
	if (n > 0 && e[0].gpu)
		gpu_close(e[0].gpu);
	for (int i = 0; i < n; i++)
		e[i].gpu = NULL;
}
