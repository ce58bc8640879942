/* kernels.cu — the GPU engine's kernels.
 *
 * The introspection logic is not written here: introspect.c is compiled a
 * second time, for the GPU, by including it. These kernels only place that
 * shared code on the device; the host side that loads them through the
 * CUDA Driver API (and the persistent monitor) comes with the GPU engine.
 * Building this file in every `make test` keeps introspect.c GPU-clean.
 */
extern "C" {
#include "introspect.c"
}

/* One snapshot of the task list, by one thread: the walk is a pointer
 * chase, so it is latency-bound, not parallel. */
extern "C" __global__ void gf_snapshot_kernel(const struct gf_kernel *k,
					      int threads, struct gf_task *out,
					      uint32_t cap, uint32_t *count,
					      int *err)
{
	if (blockIdx.x == 0 && threadIdx.x == 0)
		*err = gf_walk_tasks(k, threads, out, cap, count);
}

/* Finds a process and pseudo-sends it a signal, as --kill does. */
extern "C" __global__ void gf_signal_kernel(const struct gf_kernel *k,
					    int32_t pid, int sig,
					    struct gf_task *found, int *result,
					    int *err)
{
	if (blockIdx.x != 0 || threadIdx.x != 0)
		return;
	*err = gf_find_task(k, pid, found);
	if (*err == GF_OK)
		*err = gf_send_signal(k, found, sig, result);
}
