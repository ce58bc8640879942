/* kernels.cu — the GPU engine's monitor kernel.
 *
 * The introspection logic is not written here: introspect.c and metrics.c
 * are compiled a second time, for the GPU, by including them. This file only adds the
 * persistent monitor that runs it: one block per target, whose first
 * thread polls that target's mailbox in mapped host memory, runs the
 * request on guest RAM mapped into the GPU, and raises read_permit.
 * The walk is a chain of dependent reads, so one thread per target: more
 * would only wait on the same pointers.
 */
extern "C" {
#include "introspect.c"
#include "metrics.c"
}

/* Mailbox fields are written by the host while we run: read them through
 * volatile, so each look goes to memory. */
template <typename T> __device__ static T look(const T *p)
{
	return *(const volatile T *)p;
}

__device__ static void answer(struct gf_box *box, uint32_t request, int status)
{
	box->status = status;
	__threadfence_system(); /* the answer is visible before the flag */
	*(volatile uint32_t *)&box->read_permit = request;
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
	}
	answer(box, request, status);
}

extern "C" __global__ void gf_monitor(const struct gf_slot *slots, int nslots)
{
	const struct gf_slot *s = &slots[blockIdx.x];
	uint32_t seen = 0; /* the host numbers requests from 1 */

	if (threadIdx.x != 0 || (int)blockIdx.x >= nslots)
		return;
	for (;;) {
		uint32_t request = look(&s->box->write_done);
		if (request == seen) {
			__nanosleep(2000); /* ~2 µs between looks over PCIe */
			continue;
		}
		seen = request;
		if (look(&s->box->op) == GF_OP_QUIT) {
			answer(s->box, request, GF_OK);
			return;
		}
		serve(s, request);
	}
}
