/* test/unit_metrics.c — unit tests of metrics.c: the kernel log ring
 * (gf_log_tail). */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../gpufas.h"

/* ======================================================================
 * The kernel log ring (gf_log_tail)
 * ====================================================================== */

/* A printk ring laid out as printk_ringbuffer.h does, with small rings:
 * 8 descriptors, 512 bytes of text. Offsets are this test's own. */
enum {
	RB_DESC_RING = 0, RB_TEXT_RING = 0x40, RB_SIZE = 0x80,
	DR_COUNT_BITS = 0, DR_DESCS = 8, DR_INFOS = 16, DR_HEAD_ID = 24,
	TR_SIZE_BITS = 0, TR_DATA = 8,
	DESC_SV = 0, DESC_LPOS = 8, DESC_SIZE = 24,
	INFO_SEQ = 0, INFO_TS = 8, INFO_LEN = 16, INFO_SIZE = 88,
	RING_COUNT_BITS = 3, RING_SIZE_BITS = 9,
};

struct ring ring_new(struct guest *g)
{
	struct gf_layout *l = &g->k.lay;
	struct ring r = {
		.rb = win_alloc(&g->heap, RB_SIZE, 64),
		.descs = win_alloc(&g->heap, DESC_SIZE << RING_COUNT_BITS, 64),
		.infos = win_alloc(&g->heap, INFO_SIZE << RING_COUNT_BITS, 64),
		.data = win_alloc(&g->heap, 1u << RING_SIZE_BITS, 64),
	};

	l->has_printk = 1;
	l->prb = win_alloc(&g->kimg, 8, 8);
	w64(g, l->prb, r.rb);
	l->prb_desc_ring = RB_DESC_RING;
	l->prb_text_data_ring = RB_TEXT_RING;
	l->pdr_count_bits = DR_COUNT_BITS;
	l->pdr_descs = DR_DESCS;
	l->pdr_infos = DR_INFOS;
	l->pdr_head_id = DR_HEAD_ID;
	l->data_size_bits = TR_SIZE_BITS;
	l->data_data = TR_DATA;
	l->desc_size = DESC_SIZE;
	l->desc_state_var = DESC_SV;
	l->desc_text_blk_lpos = DESC_LPOS;
	l->lpos_begin = 0;
	l->lpos_next = 8;
	l->info_size = INFO_SIZE;
	l->info_seq = INFO_SEQ;
	l->info_ts_nsec = INFO_TS;
	l->info_text_len = INFO_LEN;
	junk(g, r.descs, DESC_SIZE << RING_COUNT_BITS);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, RING_COUNT_BITS);
	w64(g, r.rb + RB_DESC_RING + DR_DESCS, r.descs);
	w64(g, r.rb + RB_DESC_RING + DR_INFOS, r.infos);
	w32(g, r.rb + RB_TEXT_RING + TR_SIZE_BITS, RING_SIZE_BITS);
	w64(g, r.rb + RB_TEXT_RING + TR_DATA, r.data);
	return r;
}

/* Appends record `id` as the kernel does: its text block after the last
 * one, or from the ring's start when it would not fit before the end (the
 * block then "wraps": next is counted in the following lap). */
void ring_add(struct guest *g, struct ring *r, uint64_t id, int state,
		     uint64_t ts, const char *text)
{
	const uint64_t size = 1u << RING_SIZE_BITS;
	uint64_t desc = r->descs + (id & 7) * DESC_SIZE;
	uint64_t info = r->infos + (id & 7) * INFO_SIZE;
	uint64_t len = strlen(text), block = (8 + len + 7) & ~7ull;
	uint64_t begin = r->lpos, at = begin % size, next;

	if (at + block > size) {
		next = begin - at + size + block;
		at = 0;
	} else {
		next = begin + block;
	}
	w64(g, r->data + at, id);
	put(g, r->data + at + 8, text, len);
	w64(g, desc + DESC_SV, SV(state, id));
	w64(g, desc + DESC_LPOS, begin);
	w64(g, desc + DESC_LPOS + 8, next);
	w64(g, info + INFO_SEQ, id);
	w64(g, info + INFO_TS, ts);
	w16(g, info + INFO_LEN, (uint16_t)len);
	w64(g, r->rb + RB_DESC_RING + DR_HEAD_ID, id);
	r->lpos = next;
}

static void test_log_tail(void)
{
	struct guest *g = guest_new(4, 0);
	struct ring r = ring_new(g);
	char buf[4096], text[64];
	uint32_t len;

	/* 13 records through 8 descriptors and 512 bytes: both rings wrap */
	for (uint64_t id = 0; id < 13; id++) {
		snprintf(text, sizeof text, "record %llu %s", (unsigned long long)id,
			 "padding to make the text ring wrap around");
		ring_add(g, &r, id, id == 10 ? SV_REUSABLE : SV_FINALIZED,
			 id * 1000000001ull, text);
	}
	fuzz_seed("fuzz_ram", "log-tail", g, NULL, 1, 8u << 16); /* 8 records */
	CHECK_EQ(gf_log_tail(&g->k, 3, buf, sizeof buf, &len), GF_OK);
	CHECK_STR(buf, "[   11.000000] record 11 padding to make the text ring "
		       "wrap around\n[   12.000000] record 12 padding to make the "
		       "text ring wrap around\n");
	CHECK_EQ(len, strlen(buf));
	/* a record is 16 + 53 bytes as text: a 100-byte buffer holds one */
	CHECK_EQ(gf_log_tail(&g->k, 8, buf, 100, &len), GF_OK);
	CHECK_HAS(buf, "record 12");
	CHECK(!strstr(buf, "record 11"));
	/* guest text is shown, never obeyed */
	ring_add(g, &r, 13, SV_COMMITTED, 5, "bell\a\x1b[2Jend");
	CHECK_EQ(gf_log_tail(&g->k, 1, buf, sizeof buf, &len), GF_OK);
	CHECK_STR(buf, "[    0.000000] bell??[2Jend\n");
	guest_free(g);
}

static void test_log_tail_corrupt(void)
{
	struct guest *g = guest_new(4, 0);
	struct ring r = ring_new(g);
	char buf[256];
	uint32_t len;

	ring_add(g, &r, 0, SV_FINALIZED, 1, "hello");
	/* a descriptor whose id is not the one asked for: skipped */
	w64(g, r.descs + DESC_SV, SV(SV_FINALIZED, 99));
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_OK);
	CHECK_EQ(len, 0);
	/* a text block whose positions make no sense: skipped */
	ring_add(g, &r, 1, SV_FINALIZED, 1, "hello");
	w64(g, r.descs + DESC_SIZE + DESC_LPOS + 8, 1ull << 40);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_OK);
	CHECK_EQ(len, 0);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, 60);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_ECORRUPT);
	w32(g, r.rb + RB_DESC_RING + DR_COUNT_BITS, RING_COUNT_BITS);
	w64(g, r.rb + RB_DESC_RING + DR_DESCS, VMALLOC_VA);
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_EFAULT);
	g->k.lay.has_printk = 0;
	CHECK_EQ(gf_log_tail(&g->k, 4, buf, sizeof buf, &len), GF_EINVAL);
	guest_free(g);
}

static const struct test tests[] = {
	T(log_tail),
	T(log_tail_corrupt),
};

const struct suite suite_metrics = SUITE(tests);
