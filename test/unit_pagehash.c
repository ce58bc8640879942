/* test/unit_pagehash.c — unit tests of pagehash.c, held against
 * libxxhash's XXH3_128bits_withSeed, the function it writes out. */
#include <string.h>
#include <xxhash.h>

#include "unit.h"
#include "../pagehash.h"

static uint64_t ph_rng = 0x2545f4914f6cdd1dULL; /* unit_rand's */

/* Ours and libxxhash's on one page: 1 if they agree. */
static int ph_agrees(const uint64_t *page, uint64_t seed)
{
	struct gf_pagehash_key key;
	uint8_t ours[GF_PAGEHASH_BYTES];
	XXH128_canonical_t theirs;

	gf_pagehash_key(&key, seed);
	gf_pagehash(page, &key, ours);
	XXH128_canonicalFromHash(&theirs, XXH3_128bits_withSeed(page, GF_PAGEHASH_PAGE,
								seed));
	return !memcmp(ours, theirs.digest, sizeof ours);
}

static void test_pagehash_matches_xxh3(void)
{
	static uint64_t page[GF_PAGEHASH_PAGE / 8];
	int agree = 0;

	/* a zero page, seed 0 (the default secret) and the extremes */
	CHECK(ph_agrees(page, 0));
	CHECK(ph_agrees(page, UINT64_MAX));
	for (int i = 0; i < 500; i++) {
		for (unsigned w = 0; w < GF_PAGEHASH_PAGE / 8; w++)
			page[w] = i % 5 ? unit_rand(&ph_rng) : (w == (unsigned)i ? 1 : 0);
		agree += ph_agrees(page, unit_rand(&ph_rng));
	}
	CHECK_EQ(agree, 500);
}

/* Every one of a page's 32 768 bits changes its hash: the property a
 * restore relies on to find a page that changed. */
static void test_pagehash_every_bit(void)
{
	static uint8_t page[GF_PAGEHASH_PAGE];
	struct gf_pagehash_key key;
	uint8_t clean[GF_PAGEHASH_BYTES], flipped[GF_PAGEHASH_BYTES];
	int same = 0;

	gf_pagehash_key(&key, 42);
	gf_pagehash(page, &key, clean);
	for (unsigned bit = 0; bit < GF_PAGEHASH_PAGE * 8; bit++) {
		page[bit / 8] ^= (uint8_t)(1u << bit % 8);
		gf_pagehash(page, &key, flipped);
		same += !memcmp(clean, flipped, sizeof clean);
		page[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	CHECK_EQ(same, 0);
}

static const struct test tests[] = {
	T(pagehash_matches_xxh3),
	T(pagehash_every_bit),
};

const struct suite suite_pagehash = SUITE(tests);
