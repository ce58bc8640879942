/* pagehash.h — the hash of one 4 KiB page of guest RAM, for the CPU and
 * the GPU: XXH3-128 with a 64-bit seed (xxHash 0.8), the function that
 * libxxhash's XXH3_128bits_withSeed() computes for a 4 096-byte input,
 * written once so that nvcc compiles it as __host__ __device__ code.
 * Snapshots (snapshot.c) hash every page of a guest with it, on the CPU's
 * threads or on the GPU (gpu.c's gpu_pagehash); both must agree bit for
 * bit with each other and with libxxhash (test/unit_pagehash.c).
 *
 * A leaf: it needs nothing from gpufas.h and nothing from libc, so that
 * kernels.cu can include pagehash.c as it includes introspect.c.
 */
#ifndef GF_PAGEHASH_H
#define GF_PAGEHASH_H

#include <stdint.h>

#ifdef __CUDACC__
#define GF_PAGEHASH_HD __host__ __device__
#else
#define GF_PAGEHASH_HD
#endif

#define GF_PAGEHASH_PAGE 4096u
#define GF_PAGEHASH_BYTES 16 /* XXH128_canonical_t: high half first, big-endian */

/* The seed's secret (XXH3_initCustomSecret of the default secret), as the
 * 64-bit words each step reads: prepared once, then shared by every page
 * hashed with that seed. Plain data: the GPU takes it by value. */
struct gf_pagehash_key {
	uint64_t stripe[24];  /* secret + 8n: stripe n's keys, then the scramble's */
	uint64_t last[8];     /* secret + 121: the last stripe's */
	uint64_t merge_lo[8]; /* secret + 11: the low half's merge */
	uint64_t merge_hi[8]; /* secret + 117: the high half's */
};

GF_PAGEHASH_HD void gf_pagehash_key(struct gf_pagehash_key *key, uint64_t seed);

/* page: 4 096 bytes, 8-byte aligned. */
GF_PAGEHASH_HD void gf_pagehash(const void *page, const struct gf_pagehash_key *key,
				uint8_t out[GF_PAGEHASH_BYTES]);

#endif
