/* test/unit_blake2b.c — unit tests of blake2b.c, held against RFC 7693 and
 * libsodium. */
#include <string.h>

#include "unit.h"

#include "../blake2b.h"
#include "../proto.h"

/* ======================================================================
 * BLAKE2b (blake2b.c), held against RFC 7693 and libsodium's, which
 * computes the remote protocol's MAC on the host (auth.c).
 * ====================================================================== */

static uint64_t b2_rng = 0x9e3779b97f4a7c15ULL; /* unit_rand's */

static void b2_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)unit_rand(&b2_rng);
}

/* Ours and libsodium's on one input: 1 if they agree. */
static int b2_agrees(size_t outlen, const uint8_t *msg, size_t len,
		     const uint8_t *key, size_t keylen)
{
	uint8_t ours[64], theirs[64];

	if (gf_blake2b(ours, outlen, msg, len, key, keylen) ||
	    crypto_generichash(theirs, outlen, msg, len, key, keylen))
		return 0;
	return !memcmp(ours, theirs, outlen);
}

/* RFC 7693 Appendix A: BLAKE2b-512("abc"). */
static void test_blake2b_rfc7693(void)
{
	static const uint8_t want[64] = {
		0xba, 0x80, 0xa5, 0x3f, 0x98, 0x1c, 0x4d, 0x0d, 0x6a, 0x27,
		0x97, 0xb6, 0x9f, 0x12, 0xf6, 0xe9, 0x4c, 0x21, 0x2f, 0x14,
		0x68, 0x5a, 0xc4, 0xb7, 0x4b, 0x12, 0xbb, 0x6f, 0xdb, 0xff,
		0xa2, 0xd1, 0x7d, 0x87, 0xc5, 0x39, 0x2a, 0xab, 0x79, 0x2d,
		0xc2, 0x52, 0xd5, 0xde, 0x45, 0x33, 0xcc, 0x95, 0x18, 0xd3,
		0x8a, 0xa8, 0xdb, 0xf1, 0x92, 0x5a, 0xb9, 0x23, 0x86, 0xed,
		0xd4, 0x00, 0x99, 0x23,
	};
	uint8_t out[64];

	CHECK_EQ(gf_blake2b(out, 64, "abc", 3, NULL, 0), 0);
	CHECK(!memcmp(out, want, sizeof want));
}

/* Every key length 0..64, with the MAC's 32 bytes, on messages around
 * the block size (128) and beyond; every output length on one. */
static void test_blake2b_keyed(void)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 127, 128, 129,
				       255, 256, 1000, 70000 };
	uint8_t *msg = xcalloc(70000), key[GF_BLAKE2B_KEY_MAX];
	int before;

	b2_fill(msg, 70000);
	b2_fill(key, sizeof key);
	for (size_t keylen = 0; keylen <= GF_BLAKE2B_KEY_MAX; keylen++)
		for (size_t i = 0; i < NELEM(lens); i++) {
			before = failures;
			CHECK(b2_agrees(GF_MAC_BYTES, msg, lens[i], key, keylen));
			note_case(before, "key %zu bytes, message %zu", keylen,
				  lens[i]);
		}
	for (size_t outlen = 1; outlen <= GF_BLAKE2B_OUT_MAX; outlen++) {
		before = failures;
		CHECK(b2_agrees(outlen, msg, 200, key, GF_KEY_BYTES));
		CHECK(b2_agrees(outlen, msg, 200, NULL, 0));
		note_case(before, "output %zu bytes", outlen);
	}
	free(msg);
}

/* 1000 random messages, 0..4096 bytes, under random 32-byte keys. */
static void test_blake2b_random(void)
{
	uint8_t *msg = xcalloc(4096), key[GF_KEY_BYTES];
	int before;

	for (int n = 0; n < 1000; n++) {
		size_t len = unit_rand(&b2_rng) % 4097;

		b2_fill(msg, len);
		b2_fill(key, sizeof key);
		before = failures;
		CHECK(b2_agrees(GF_MAC_BYTES, msg, len, key, sizeof key));
		note_case(before, "message %d, %zu bytes", n, len);
	}
	free(msg);
}

/* Fed in random pieces (empty ones too), the same MAC as all at once. */
static void test_blake2b_incremental(void)
{
	uint8_t *msg = xcalloc(5000), key[GF_KEY_BYTES];
	uint8_t whole[GF_MAC_BYTES], pieces[GF_MAC_BYTES];
	struct gf_blake2b_state s;
	int before;

	for (int n = 0; n < 200; n++) {
		size_t len = unit_rand(&b2_rng) % 5001, keylen = n % 2 ? sizeof key : 0;
		size_t done = 0, piece;

		b2_fill(msg, len);
		b2_fill(key, sizeof key);
		CHECK_EQ(gf_blake2b(whole, sizeof whole, msg, len, key, keylen), 0);
		CHECK_EQ(gf_blake2b_init(&s, sizeof pieces, key, keylen), 0);
		while (done < len) {
			/* Mostly small, now and then past a block or two. */
			piece = unit_rand(&b2_rng) % (unit_rand(&b2_rng) % 4 ? 20 : 300);
			if (piece > len - done)
				piece = len - done;
			gf_blake2b_update(&s, msg + done, piece);
			done += piece;
		}
		gf_blake2b_update(&s, NULL, 0);
		gf_blake2b_final(&s, pieces);
		before = failures;
		CHECK(!memcmp(whole, pieces, sizeof whole));
		note_case(before, "message %d, %zu bytes, key %zu", n, len,
			  keylen);
	}
	free(msg);
}

/* Lengths outside 1..64 (output) and 0..64 (key) are refused, and a key
 * length without a key; nothing is written then. */
static void test_blake2b_bad_lengths(void)
{
	uint8_t key[GF_BLAKE2B_KEY_MAX + 1] = { 0 }, out[GF_BLAKE2B_OUT_MAX + 1];
	struct gf_blake2b_state s, before;

	memset(out, 0xa5, sizeof out);
	memset(&s, 0x5a, sizeof s);
	before = s;
	CHECK_EQ(gf_blake2b(out, 0, "x", 1, NULL, 0), -1);
	CHECK_EQ(gf_blake2b(out, GF_BLAKE2B_OUT_MAX + 1, "x", 1, NULL, 0), -1);
	CHECK_EQ(gf_blake2b(out, 32, "x", 1, key, GF_BLAKE2B_KEY_MAX + 1), -1);
	CHECK_EQ(gf_blake2b(out, 32, "x", 1, NULL, 1), -1);
	for (size_t i = 0; i < sizeof out; i++)
		CHECK_EQ(out[i], 0xa5);
	CHECK_EQ(gf_blake2b_init(&s, 0, NULL, 0), -1);
	CHECK_EQ(gf_blake2b_init(&s, 65, NULL, 0), -1);
	CHECK_EQ(gf_blake2b_init(&s, 32, key, 65), -1);
	CHECK_EQ(gf_blake2b_init(&s, 32, NULL, 32), -1);
	CHECK(!memcmp(&s, &before, sizeof s));
	/* The edges are accepted. */
	CHECK_EQ(gf_blake2b(out, 1, "x", 1, key, 0), 0);
	CHECK_EQ(gf_blake2b(out, 64, "x", 1, key, 64), 0);
	CHECK_EQ(gf_blake2b(out, 32, NULL, 0, NULL, 0), 0);
}

static const struct test tests[] = {
	T(blake2b_rfc7693),
	T(blake2b_keyed),
	T(blake2b_random),
	T(blake2b_incremental),
	T(blake2b_bad_lengths),
};

const struct suite suite_blake2b = SUITE(tests);
