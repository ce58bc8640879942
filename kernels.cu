/* kernels.cu — the GPU engine's monitor kernel, and the page hashing of
 * snapshots.
 *
 * No logic is written here: introspect.c, metrics.c, detect.c, recover.c,
 * loop.c and pagehash.c are compiled a second time, for the GPU, by
 * including them. This file only adds the kernels that run them: a thread
 * per page for a snapshot's hashes (gpu.c's gpu_hash), and the persistent
 * monitor: one block
 * per target, whose first thread steps that target's watch loop on the
 * GPU's own clock every interval, and between steps polls the target's
 * mailbox in mapped host memory, runs the request on guest RAM mapped
 * into the GPU, and raises read_permit; and, where the target has one,
 * answers its remote mailbox in device memory (devbox.c), so that a
 * remote operator is answered while the host process cannot run. The
 * task walk's pointer chase is one thread's, its reads of the tasks'
 * fields are spread over the block's (gang.h, introspect.h).
 */
extern "C" {
#include "introspect.c"
#include "metrics.c"
#include "detect.c"
#include "recover.c"
#include "loop.c"
#include "blake2b.c"
#include "pagehash.c"
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
	gf_copy_volatile(&p, (const volatile uint8_t *)&s->box->params, sizeof p);
	if (!gf_loop_fits(&s->loop->p, &p))
		return GF_EINVAL;
	gf_loop_retune(s->loop, &p);
	return GF_OK;
}

/* What the block does next: rank 0 looks, every rank follows. */
enum plan_kind { PLAN_IDLE, PLAN_SERVE, PLAN_STEP, PLAN_QUIT };

struct plan {
	uint32_t kind, request, op;
	int32_t arg;
	double now;
	uint64_t host_beat;
};

/* Rank 0: a new request first, then a watch-loop step when it is due, on
 * a fixed beat as the agent's own loop keeps (a slow step shortens the
 * next wait, never shifts the beat). */
__device__ static void look_ahead(const struct gf_slot *s, uint32_t *seen,
				  double *next, struct plan *p)
{
	uint32_t request = look(&s->box->write_done);
	double now;

	if (request != *seen) {
		*seen = p->request = request;
		p->op = look(&s->box->op);
		p->arg = look(&s->box->arg);
		p->kind = p->op == GF_OP_QUIT ? PLAN_QUIT : PLAN_SERVE;
		return;
	}
	now = gpu_ns() / 1e9;
	if (!s->loop || now < *next) {
		p->kind = PLAN_IDLE;
		return;
	}
	p->kind = PLAN_STEP;
	p->now = now;
	p->host_beat = look(&s->box->host_beat);
	*next += s->loop->p.interval_s;
	if (*next < now)
		*next = now;
}

/* Rank 0's requests. Results are built in registers and local memory and
 * stored once: every access to the mailbox is a PCIe transaction. */
__device__ static void serve_alone(const struct gf_slot *s, const struct plan *p)
{
	struct gf_box *box = s->box;
	struct gf_task task;
	uint32_t count = 0;
	int result = 0, status = GF_EINVAL;

	switch (p->op) {
	case GF_OP_FIND:
		status = gf_find_task(&s->k, p->arg, &task);
		box->found = task;
		break;
	case GF_OP_SIGNAL:
		gf_copy_volatile(&task, (const volatile uint8_t *)&box->task, sizeof task);
		status = gf_send_signal(&s->k, &task, p->arg, &result);
		box->result = result;
		break;
	case GF_OP_COUNTERS:
		status = gf_sample_counters(&s->k, (struct gf_sample *)s->data);
		break;
	case GF_OP_LOG:
		status = gf_log_tail(&s->k, (uint32_t)p->arg, (char *)s->data,
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
	answer(box, p->request, status);
}

/* Every rank: a snapshot is the block's walk, the rest rank 0's. */
__device__ static void serve(const struct gf_slot *s, const struct plan *p)
{
	uint32_t count;
	int status;

	if (p->op != GF_OP_SNAPSHOT) {
		if (threadIdx.x == 0)
			serve_alone(s, p);
		return;
	}
	status = gf_walk_gang(&s->k, p->arg, s->data, s->cap, &count, s->walk);
	if (threadIdx.x == 0) {
		s->box->count = count;
		answer(s->box, p->request, status);
	}
}

/* A block per target, GF_MONITOR_THREADS threads: rank 0 polls, serves
 * and steps; the task walks of snapshots and steps are the block's. */
extern "C" __global__ void gf_monitor(const struct gf_slot *slots, int nslots)
{
	__shared__ struct plan plan;
	const struct gf_slot *s = &slots[blockIdx.x];
	uint32_t seen = 0;
	double next = 0;

	if ((int)blockIdx.x >= nslots || !s->box)
		return;
	/* a monitor launched again goes on from the last answered request */
	if (threadIdx.x == 0)
		seen = look(&s->box->read_permit);
	for (;;) {
		if (threadIdx.x == 0)
			look_ahead(s, &seen, &next, &plan);
		__syncthreads();
		if (plan.kind == PLAN_QUIT) {
			if (threadIdx.x == 0)
				answer(s->box, plan.request, GF_OK);
			return;
		}
		if (plan.kind == PLAN_SERVE)
			serve(s, &plan);
		else if (plan.kind == PLAN_STEP)
			gf_loop_step(s->loop, s->pub, &s->k, plan.now, plan.host_beat);
		else if (threadIdx.x == 0) {
			if (s->devbox)
				gf_devbox_serve(s->devbox, s->devstate, s->loop, s->pub,
						s->board, &s->k, gpu_ns() / 1e9);
			__nanosleep(2000); /* ~2 µs between looks over PCIe */
		}
		__syncthreads(); /* the plan is rank 0's again */
	}
}

/* A page's hash per thread (pagehash.c), for snapshots and restores
 * (gpu.c's gpu_hash): npages of RAM copied to device memory, their hashes
 * to out. */
extern "C" __global__ void gf_pagehash_pages(const uint8_t *ram, uint64_t npages,
					     struct gf_pagehash_key key,
					     uint8_t (*out)[GF_PAGEHASH_BYTES])
{
	uint64_t p = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;

	if (p < npages)
		gf_pagehash(ram + p * GF_PAGEHASH_PAGE, &key, out[p]);
}
