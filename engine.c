/* engine.c — the CPU engine: runs the shared introspection (introspect.c)
 * in this process, with what a live guest needs around it: buffers that
 * grow, and a retry when a list changed under the walk.
 */
#include <stdlib.h>
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

int engine_snapshot(const struct gf_kernel *k, int threads,
		    struct gf_task **out, uint32_t *count)
{
	uint32_t cap = 1024;
	struct gf_task *buf = NULL;
	int err = GF_OK;

	for (int attempt = 0; attempt < ATTEMPTS;) {
		if (!buf && !(buf = malloc(cap * sizeof *buf)))
			return GF_ENOSPC;
		err = gf_walk_tasks(k, threads, buf, cap, count);
		if (err == GF_ENOSPC && cap < MAX_TASKS) {
			free(buf);
			buf = NULL;
			cap *= 4;
			continue;
		}
		if (!transient(err))
			break;
		attempt++;
		pause_briefly();
	}
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return GF_OK;
}

int engine_find(const struct gf_kernel *k, int32_t pid, struct gf_task *t)
{
	int err = GF_OK;

	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		if (!transient(err = gf_find_task(k, pid, t)))
			break;
		pause_briefly();
	}
	return err;
}
