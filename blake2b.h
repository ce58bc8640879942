/* blake2b.h — BLAKE2b (RFC 7693), keyed or not, for the CPU and the GPU.
 *
 * The remote protocol's MAC is keyed BLAKE2b (auth.c, through libsodium's
 * crypto_generichash). This is the same function, written so that nvcc
 * can compile it as __host__ __device__ code: the GPU monitor will compute
 * and verify MACs itself. It matches libsodium bit for bit (test/unit_blake2b.c).
 *
 * A leaf: it needs nothing from gpufas.h and nothing from libc, so that
 * kernels.cu can include blake2b.c as it includes introspect.c. The state
 * lives with the caller (216 bytes); nothing is allocated.
 */
#ifndef GF_BLAKE2B_H
#define GF_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define GF_BLAKE2B_HD __host__ __device__
#else
#define GF_BLAKE2B_HD
#endif

#define GF_BLAKE2B_BLOCK 128 /* bytes per compression (RFC 7693 2.1) */
#define GF_BLAKE2B_OUT_MAX 64
#define GF_BLAKE2B_KEY_MAX 64

struct gf_blake2b_state {
	uint64_t h[8];                  /* the chained state */
	uint64_t t[2];                  /* bytes compressed, 128-bit counter */
	uint8_t buf[GF_BLAKE2B_BLOCK];  /* input not yet compressed */
	uint32_t buflen;                /* 0..128: a full block waits, since
					   the last block is compressed
					   differently */
	uint32_t outlen;                /* 1..64 */
};

/* outlen 1..64 bytes of digest; key may be NULL when keylen is 0 (plain
 * hash), keylen 0..64. Returns 0, or -1 on a bad length (state untouched). */
GF_BLAKE2B_HD int gf_blake2b_init(struct gf_blake2b_state *s, size_t outlen,
				  const uint8_t *key, size_t keylen);
GF_BLAKE2B_HD void gf_blake2b_update(struct gf_blake2b_state *s,
				     const void *data, size_t len);
/* Writes s->outlen bytes to out. The state is spent: init it again. */
GF_BLAKE2B_HD void gf_blake2b_final(struct gf_blake2b_state *s, uint8_t *out);

/* All three at once; 0, or -1 on a bad length (out untouched). */
GF_BLAKE2B_HD int gf_blake2b(uint8_t *out, size_t outlen, const void *data,
			     size_t len, const uint8_t *key, size_t keylen);

#endif
