/* blake2b.c — BLAKE2b as RFC 7693 specifies it (see blake2b.h).
 *
 * Compiled twice like introspect.c: by gcc for the CPU, and by nvcc as
 * __host__ __device__ code when a .cu file includes it. Hence no libc
 * (byte loops instead of memcpy/memset) and no tables at file scope: a
 * host static array cannot be read on the device, nor a __constant__ one
 * on the host. The IV is literal constants; the message schedule (sigma)
 * is a local const array indexed only by constants, which both compilers
 * fold into the code, so it costs neither memory nor stack.
 *
 * Every name, static ones too, starts with gf_blake2b or GF_B2: a .cu
 * file includes this beside introspect.c and metrics.c in one unit.
 */
#include "blake2b.h"

/* The IV (RFC 7693 2.6): SHA-512's, the fractional parts of the square
 * roots of the first eight primes. */
#define GF_B2_IV0 0x6a09e667f3bcc908ULL
#define GF_B2_IV1 0xbb67ae8584caa73bULL
#define GF_B2_IV2 0x3c6ef372fe94f82bULL
#define GF_B2_IV3 0xa54ff53a5f1d36f1ULL
#define GF_B2_IV4 0x510e527fade682d1ULL
#define GF_B2_IV5 0x9b05688c2b3e6c1fULL
#define GF_B2_IV6 0x1f83d9abfb41bd6bULL
#define GF_B2_IV7 0x5be0cd19137e2179ULL

/* Words are little-endian (RFC 7693 2.4). Written out byte by byte: gcc
 * turns this into one load or store on x86; no alignment is assumed. */
static GF_BLAKE2B_HD inline uint64_t gf_blake2b_load64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static GF_BLAKE2B_HD inline uint64_t gf_blake2b_rotr64(uint64_t x, int n)
{
	return x >> n | x << (64 - n);
}

/* G, the mixing function (RFC 7693 3.1), rotations R1..R4 = 32, 24, 16, 63. */
#define GF_B2_G(a, b, c, d, x, y)                                    \
	do {                                                         \
		v[a] = v[a] + v[b] + (x);                            \
		v[d] = gf_blake2b_rotr64(v[d] ^ v[a], 32);           \
		v[c] = v[c] + v[d];                                  \
		v[b] = gf_blake2b_rotr64(v[b] ^ v[c], 24);           \
		v[a] = v[a] + v[b] + (y);                            \
		v[d] = gf_blake2b_rotr64(v[d] ^ v[a], 16);           \
		v[c] = v[c] + v[d];                                  \
		v[b] = gf_blake2b_rotr64(v[b] ^ v[c], 63);           \
	} while (0)

/* One round of F (RFC 7693 3.2): columns, then diagonals. r is a literal,
 * so every sigma[r][i] is a constant. */
#define GF_B2_ROUND(r)                                                   \
	do {                                                             \
		GF_B2_G(0, 4, 8, 12, m[sigma[r][0]], m[sigma[r][1]]);    \
		GF_B2_G(1, 5, 9, 13, m[sigma[r][2]], m[sigma[r][3]]);    \
		GF_B2_G(2, 6, 10, 14, m[sigma[r][4]], m[sigma[r][5]]);   \
		GF_B2_G(3, 7, 11, 15, m[sigma[r][6]], m[sigma[r][7]]);   \
		GF_B2_G(0, 5, 10, 15, m[sigma[r][8]], m[sigma[r][9]]);   \
		GF_B2_G(1, 6, 11, 12, m[sigma[r][10]], m[sigma[r][11]]); \
		GF_B2_G(2, 7, 8, 13, m[sigma[r][12]], m[sigma[r][13]]);  \
		GF_B2_G(3, 4, 9, 14, m[sigma[r][14]], m[sigma[r][15]]);  \
	} while (0)

/* F, the compression function (RFC 7693 3.2), on one 128-byte block; the
 * counter s->t already counts this block's bytes. */
static GF_BLAKE2B_HD void gf_blake2b_compress(struct gf_blake2b_state *s,
					      const uint8_t *block, int last)
{
	/* The message schedule (RFC 7693 2.7); rounds 10 and 11 use rows 0
	 * and 1 again, written out so that the round needs no "mod 10". */
	const uint8_t sigma[12][16] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
		{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
		{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
		{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
		{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
		{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
		{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
		{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
		{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
		{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
		{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	};
	uint64_t m[16], v[16];
	int i;

	for (i = 0; i < 16; i++)
		m[i] = gf_blake2b_load64(block + 8 * i);
	for (i = 0; i < 8; i++)
		v[i] = s->h[i];
	v[8] = GF_B2_IV0;
	v[9] = GF_B2_IV1;
	v[10] = GF_B2_IV2;
	v[11] = GF_B2_IV3;
	v[12] = GF_B2_IV4 ^ s->t[0];
	v[13] = GF_B2_IV5 ^ s->t[1];
	v[14] = last ? ~GF_B2_IV6 : GF_B2_IV6; /* the final block flag */
	v[15] = GF_B2_IV7;
	GF_B2_ROUND(0);
	GF_B2_ROUND(1);
	GF_B2_ROUND(2);
	GF_B2_ROUND(3);
	GF_B2_ROUND(4);
	GF_B2_ROUND(5);
	GF_B2_ROUND(6);
	GF_B2_ROUND(7);
	GF_B2_ROUND(8);
	GF_B2_ROUND(9);
	GF_B2_ROUND(10);
	GF_B2_ROUND(11);
	for (i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
}

/* Adds n bytes to the 128-bit counter t (RFC 7693 3.3). */
static GF_BLAKE2B_HD inline void gf_blake2b_count(struct gf_blake2b_state *s,
						  uint64_t n)
{
	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

GF_BLAKE2B_HD int gf_blake2b_init(struct gf_blake2b_state *s, size_t outlen,
				  const uint8_t *key, size_t keylen)
{
	size_t i;

	if (outlen < 1 || outlen > GF_BLAKE2B_OUT_MAX ||
	    keylen > GF_BLAKE2B_KEY_MAX || (keylen && !key))
		return -1;
	/* The parameter block (RFC 7693 2.5, 3.3): digest length, key
	 * length, fanout 1, depth 1; no salt, no personalization. */
	s->h[0] = GF_B2_IV0 ^ 0x01010000 ^ (uint64_t)keylen << 8 ^ outlen;
	s->h[1] = GF_B2_IV1;
	s->h[2] = GF_B2_IV2;
	s->h[3] = GF_B2_IV3;
	s->h[4] = GF_B2_IV4;
	s->h[5] = GF_B2_IV5;
	s->h[6] = GF_B2_IV6;
	s->h[7] = GF_B2_IV7;
	s->t[0] = s->t[1] = 0;
	s->outlen = (uint32_t)outlen;
	s->buflen = 0;
	/* A key is the first block, zero-padded (RFC 7693 3.3); with an
	 * empty message it is also the last. */
	for (i = 0; i < GF_BLAKE2B_BLOCK; i++)
		s->buf[i] = i < keylen ? key[i] : 0;
	if (keylen)
		s->buflen = GF_BLAKE2B_BLOCK;
	return 0;
}

GF_BLAKE2B_HD void gf_blake2b_update(struct gf_blake2b_state *s,
				     const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *)data;

	while (len) {
		/* A full buffer is compressed only when more input comes: the
		 * last block, full or not, is final's. */
		if (s->buflen == GF_BLAKE2B_BLOCK) {
			gf_blake2b_count(s, GF_BLAKE2B_BLOCK);
			gf_blake2b_compress(s, s->buf, 0);
			s->buflen = 0;
		}
		/* Whole blocks straight from the input, all but the last. */
		if (s->buflen == 0) {
			while (len > GF_BLAKE2B_BLOCK) {
				gf_blake2b_count(s, GF_BLAKE2B_BLOCK);
				gf_blake2b_compress(s, p, 0);
				p += GF_BLAKE2B_BLOCK;
				len -= GF_BLAKE2B_BLOCK;
			}
		}
		while (len && s->buflen < GF_BLAKE2B_BLOCK) {
			s->buf[s->buflen++] = *p++;
			len--;
		}
	}
}

GF_BLAKE2B_HD void gf_blake2b_final(struct gf_blake2b_state *s, uint8_t *out)
{
	uint32_t i;

	gf_blake2b_count(s, s->buflen);
	for (i = s->buflen; i < GF_BLAKE2B_BLOCK; i++)
		s->buf[i] = 0;
	gf_blake2b_compress(s, s->buf, 1);
	for (i = 0; i < s->outlen; i++)
		out[i] = (uint8_t)(s->h[i / 8] >> 8 * (i % 8));
}

GF_BLAKE2B_HD int gf_blake2b(uint8_t *out, size_t outlen, const void *data,
			     size_t len, const uint8_t *key, size_t keylen)
{
	struct gf_blake2b_state s;

	if (gf_blake2b_init(&s, outlen, key, keylen))
		return -1;
	gf_blake2b_update(&s, data, len);
	gf_blake2b_final(&s, out);
	return 0;
}

#undef GF_B2_ROUND
#undef GF_B2_G
#undef GF_B2_IV0
#undef GF_B2_IV1
#undef GF_B2_IV2
#undef GF_B2_IV3
#undef GF_B2_IV4
#undef GF_B2_IV5
#undef GF_B2_IV6
#undef GF_B2_IV7
