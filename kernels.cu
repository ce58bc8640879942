/* kernels.cu — the GPU engine's monitor kernel.
 *
 * No logic is written here: introspect.c, metrics.c, detect.c, recover.c
 * and loop.c are compiled a second time, for the GPU, by including them.
 * This file only adds the persistent monitor that runs them: one block
 * per target, whose first thread steps that target's watch loop on the
 * GPU's own clock every interval, and between steps polls the target's
 * mailbox in mapped host memory, runs the request on guest RAM mapped
 * into the GPU, and raises read_permit; and, where the target has one,
 * answers its remote mailbox in device memory (devbox.c), so that a
 * remote operator is answered while the host process cannot run. The
 * walk is a chain of dependent reads, so one thread per target: more
 * would only wait on the same pointers.
 */
extern "C" {
#include "introspect.c"
#include "metrics.c"
#include "detect.c"
#include "recover.c"
#include "loop.c"
#include "blake2b.c"
#include "devbox.c"
}
#include "monitor.h"

/* Mailbox fields are written by the host while we run: read them through
 * volatile, so each look goes to memory. */
template <typename T> __device__ static T look(const T *p)
{
	return *(const volatile T *)p;
}

/* %globaltimer: nanoseconds, the same on every SM. */
__device__ static uint64_t gpu_ns(void)
{
	uint64_t t;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

__device__ static void answer(struct gf_box *box, uint32_t request, int status)
{
	box->status = status;
	__threadfence_system(); /* the answer is visible before the flag */
	*(volatile uint32_t *)&box->read_permit = request;
}

__device__ static int retune(const struct gf_slot *s)
{
	struct gf_loop_params p;

	if (!s->loop)
		return GF_EINVAL;
	copy_volatile(&p, (const volatile uint8_t *)&s->box->params, sizeof p);
	if (!gf_loop_fits(&s->loop->p, &p))
		return GF_EINVAL;
	gf_loop_retune(s->loop, &p);
	return GF_OK;
}

/* Results are built in registers and local memory and stored once: every
 * access to the mailbox is a PCIe transaction. */
__device__ static void serve(const struct gf_slot *s, uint32_t request)
{
	struct gf_box *box = s->box;
	int32_t arg = look(&box->arg);
	struct gf_task task;
	uint32_t count = 0;
	int result = 0, status = GF_EINVAL;

	switch (look(&box->op)) {
	case GF_OP_SNAPSHOT:
		status = gf_walk_tasks(&s->k, arg, s->data, s->cap, &count);
		box->count = count;
		break;
	case GF_OP_FIND:
		status = gf_find_task(&s->k, arg, &task);
		box->found = task;
		break;
	case GF_OP_SIGNAL:
		copy_volatile(&task, (const volatile uint8_t *)&box->task, sizeof task);
		status = gf_send_signal(&s->k, &task, arg, &result);
		box->result = result;
		break;
	case GF_OP_COUNTERS:
		status = gf_sample_counters(&s->k, (struct gf_sample *)s->data);
		break;
	case GF_OP_LOG:
		status = gf_log_tail(&s->k, (uint32_t)arg, (char *)s->data,
				     s->cap * (uint32_t)sizeof *s->data, &count);
		box->count = count;
		break;
	case GF_OP_CLOCK:
		box->clock_ns = gpu_ns();
		status = GF_OK;
		break;
	case GF_OP_RETUNE:
		status = retune(s);
		break;
	}
	answer(box, request, status);
}

/* One watch-loop step when it is due; on a fixed beat, as the agent's own
 * loop keeps (a slow step shortens the next wait, never shifts the beat). */
__device__ static void step_if_due(const struct gf_slot *s, double *next)
{
	double now = gpu_ns() / 1e9;

	if (!s->loop || now < *next)
		return;
	gf_loop_step(s->loop, s->pub, &s->k, now, look(&s->box->host_beat));
	*next += s->loop->p.interval_s;
	if (*next < now)
		*next = now;
}

extern "C" __global__ void gf_monitor(const struct gf_slot *slots, int nslots)
{
	const struct gf_slot *s = &slots[blockIdx.x];
	uint32_t seen;
	double next = 0;

	if (threadIdx.x != 0 || (int)blockIdx.x >= nslots || !s->box)
		return;
	/* a monitor launched again goes on from the last answered request */
	seen = look(&s->box->read_permit);
	for (;;) {
		uint32_t request = look(&s->box->write_done);
		if (request != seen) {
			seen = request;
			if (look(&s->box->op) == GF_OP_QUIT) {
				answer(s->box, request, GF_OK);
				return;
			}
			serve(s, request);
			continue;
		}
		step_if_due(s, &next);
		if (s->devbox)
			gf_devbox_serve(s->devbox, s->devstate, s->loop, s->pub,
					s->board, &s->k, gpu_ns() / 1e9);
		__nanosleep(2000); /* ~2 µs between looks over PCIe */
	}
}
