/* pagehash.c — XXH3-128 of one 4 KiB page, for the CPU and the GPU
 * (pagehash.h). xxHash 0.8's long-input path (xxhash.h:
 * XXH3_hashLong_128b_internal), written out for one length: a 4 096-byte
 * input is three blocks of sixteen 64-byte stripes, each block followed
 * by a scramble, then fifteen stripes and the last stripe, then two
 * merges of the eight accumulators. Words are read in host byte order,
 * which XXH3 reads as little-endian: x86-64's and the GPU's.
 *
 * Compiled twice like blake2b.c, and under the same rules: no libc, no
 * tables at file scope (the default secret is local to the one function
 * that reads it, run once per seed), every name prefixed gf_pagehash or
 * GF_PH.
 */
#include "pagehash.h"

#define GF_PH_STRIPE 64u
#define GF_PH_STRIPES_PER_BLOCK 16u /* (secret size 192 - 64) / 8 */
#define GF_PH_BLOCKS 3u             /* (4096 - 1) / 1024 */
#define GF_PH_TAIL_STRIPES 15u      /* ((4096 - 1) - 3 * 1024) / 64 */

#define GF_PH_PRIME32_1 0x9E3779B1u
#define GF_PH_PRIME32_2 0x85EBCA77u
#define GF_PH_PRIME32_3 0xC2B2AE3Du
#define GF_PH_PRIME64_1 0x9E3779B185EBCA87ull
#define GF_PH_PRIME64_2 0xC2B2AE3D27D4EB4Full
#define GF_PH_PRIME64_3 0x165667B19E3779F9ull
#define GF_PH_PRIME64_4 0x85EBCA77C2B2AE63ull
#define GF_PH_PRIME64_5 0x27D4EB2F165667C5ull
#define GF_PH_PRIME_MX1 0x165667919E3779F9ull /* XXH3_avalanche's */

GF_PAGEHASH_HD static uint64_t gf_pagehash_read64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

GF_PAGEHASH_HD static void gf_pagehash_write64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The low 64 bits of the 128-bit product folded into the high ones. */
GF_PAGEHASH_HD static uint64_t gf_pagehash_mul_fold(uint64_t a, uint64_t b)
{
#ifdef __CUDA_ARCH__
	return a * b ^ __umul64hi(a, b);
#else
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
#endif
}

GF_PAGEHASH_HD static uint64_t gf_pagehash_avalanche(uint64_t h)
{
	h ^= h >> 37;
	h *= GF_PH_PRIME_MX1;
	return h ^ h >> 32;
}

GF_PAGEHASH_HD void gf_pagehash_key(struct gf_pagehash_key *key, uint64_t seed)
{
	/* XXH3_kSecret, the default secret */
	const uint8_t def[192] = {
		0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01,
		0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c, 0xde, 0xd4, 0x6d, 0xe9,
		0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3,
		0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78,
		0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21, 0xb8, 0x08,
		0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6,
		0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3,
		0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
		0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19,
		0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, 0x76, 0x3f,
		0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b,
		0x4f, 0x1d, 0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31,
		0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64, 0xea, 0xc5,
		0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff,
		0xfa, 0x13, 0x63, 0xeb, 0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0,
		0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
		0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8,
		0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f,
		0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b,
		0x40, 0x7e,
	};
	uint8_t secret[sizeof def];

	for (unsigned i = 0; i < sizeof secret; i += 16) {
		gf_pagehash_write64(secret + i, gf_pagehash_read64(def + i) + seed);
		gf_pagehash_write64(secret + i + 8, gf_pagehash_read64(def + i + 8) - seed);
	}
	for (unsigned i = 0; i < 24; i++)
		key->stripe[i] = gf_pagehash_read64(secret + 8 * i);
	for (unsigned i = 0; i < 8; i++) {
		key->last[i] = gf_pagehash_read64(secret + sizeof secret - GF_PH_STRIPE - 7 + 8 * i);
		key->merge_lo[i] = gf_pagehash_read64(secret + 11 + 8 * i);
		key->merge_hi[i] = gf_pagehash_read64(secret + sizeof secret - GF_PH_STRIPE - 11 + 8 * i);
	}
}

/* XXH3_accumulate_512: one stripe of eight words into the accumulators. */
GF_PAGEHASH_HD static void gf_pagehash_stripe(uint64_t acc[8], const uint64_t *w,
				     const uint64_t *k)
{
	for (unsigned i = 0; i < 8; i++) {
		uint64_t d = w[i], dk = d ^ k[i];
		acc[i ^ 1] += d;
		acc[i] += (dk & 0xffffffffu) * (dk >> 32);
	}
}

GF_PAGEHASH_HD static void gf_pagehash_scramble(uint64_t acc[8], const uint64_t *k)
{
	for (unsigned i = 0; i < 8; i++)
		acc[i] = (acc[i] ^ acc[i] >> 47 ^ k[i]) * GF_PH_PRIME32_1;
}

GF_PAGEHASH_HD static uint64_t gf_pagehash_merge(const uint64_t acc[8], const uint64_t k[8],
					uint64_t start)
{
	for (unsigned i = 0; i < 8; i += 2)
		start += gf_pagehash_mul_fold(acc[i] ^ k[i], acc[i + 1] ^ k[i + 1]);
	return gf_pagehash_avalanche(start);
}

GF_PAGEHASH_HD void gf_pagehash(const void *page, const struct gf_pagehash_key *key,
				uint8_t out[GF_PAGEHASH_BYTES])
{
	const uint64_t *w = (const uint64_t *)page;
	uint64_t acc[8] = { GF_PH_PRIME32_3, GF_PH_PRIME64_1, GF_PH_PRIME64_2, GF_PH_PRIME64_3,
			    GF_PH_PRIME64_4, GF_PH_PRIME32_2, GF_PH_PRIME64_5, GF_PH_PRIME32_1 };
	uint64_t lo, hi;

	for (unsigned b = 0; b < GF_PH_BLOCKS; b++, w += GF_PH_STRIPES_PER_BLOCK * 8) {
		for (unsigned n = 0; n < GF_PH_STRIPES_PER_BLOCK; n++)
			gf_pagehash_stripe(acc, w + 8 * n, key->stripe + n);
		gf_pagehash_scramble(acc, key->stripe + GF_PH_STRIPES_PER_BLOCK);
	}
	for (unsigned n = 0; n < GF_PH_TAIL_STRIPES; n++)
		gf_pagehash_stripe(acc, w + 8 * n, key->stripe + n);
	gf_pagehash_stripe(acc, (const uint64_t *)page + (GF_PAGEHASH_PAGE - GF_PH_STRIPE) / 8,
		  key->last);
	lo = gf_pagehash_merge(acc, key->merge_lo, GF_PAGEHASH_PAGE * GF_PH_PRIME64_1);
	hi = gf_pagehash_merge(acc, key->merge_hi, ~(GF_PAGEHASH_PAGE * GF_PH_PRIME64_2));
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(hi >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}
