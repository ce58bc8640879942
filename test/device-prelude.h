/* test/device-prelude.h — what nvcc gives device code, stood in for on
 * the host, so that test/device-safe.sh can compile the shared files down
 * their __CUDACC__ and __CUDA_ARCH__ paths without a CUDA toolkit. The
 * stand-ins are inline: none leaves an undefined symbol of its own.
 */
#define __host__
#define __device__
#define __noinline__

struct gf_dim3 { unsigned x, y, z; };
static const struct gf_dim3 threadIdx = { 0, 0, 0 }, blockDim = { 1, 1, 1 };

static inline void __syncthreads(void) {}
static inline void __threadfence_system(void) {}
static inline unsigned long long atomicOr_system(unsigned long long *p,
						 unsigned long long v)
{
	unsigned long long old = *p;

	*p = old | v;
	return old;
}
static inline unsigned long long __umul64hi(unsigned long long a,
					    unsigned long long b)
{
	return (unsigned long long)((unsigned __int128)a * b >> 64);
}
