/* gang.h — the workers that run one piece of shared code together: on
 * the CPU a single worker, on the GPU the threads of one block. Shared
 * code (introspect.c, loop.c) is written once for any gang size: work
 * that must be done once runs on rank 0, independent work is spread over
 * the ranks, and gf_gang_sync() separates the phases. Every rank must
 * reach every gf_gang_sync(), so the control flow around one may depend
 * only on data that all ranks read after the previous one.
 */
#ifndef GPUFAS_GANG_H
#define GPUFAS_GANG_H

#include <stdint.h>

#ifdef __CUDA_ARCH__
static __device__ inline uint32_t gf_gang_rank(void) { return threadIdx.x; }
static __device__ inline uint32_t gf_gang_size(void) { return blockDim.x; }
/* also a fence: rank 0's writes are visible to every rank after it */
static __device__ inline void gf_gang_sync(void) { __syncthreads(); }
#else
static inline uint32_t gf_gang_rank(void) { return 0; }
static inline uint32_t gf_gang_size(void) { return 1; }
static inline void gf_gang_sync(void) {}
#endif

#endif
