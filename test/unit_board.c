/* test/unit_board.c — unit tests of board.c: the board's levels, and a
 * hostile board. */
#include <string.h>

#include "unit.h"

#include "../board.h"
#include "../core.h"
#include "../detect.h"

/* ======================================================================
 * The board's OK / WARN / FAULT (board_level) and a hostile board.
 * ====================================================================== */

struct gf_board *attached_board(void)
{
	struct gf_board *b = xcalloc(sizeof *b);

	board_init(b, "vm:test");
	b->attached = b->has_metrics = 1;
	gf_detect_defaults(&b->thresholds);
	b->mem_total_kib = b->mem_available_kib = 512 << 10;
	b->rates = (struct gf_rates){ .seconds = 1, .ncpus = 2, .online = 2,
				      .jiffies = 250 };
	for (int c = 0; c < 2; c++)
		b->rates.cpu[c] = (struct gf_cpu_rates){ .online = 1, .idle = 1 };
	return b;
}

static enum gf_level level(const struct gf_board *b, enum gf_class c, double now)
{
	char why[128];

	return board_level(b, c, now, why, sizeof why);
}

static void test_board_level(void)
{
	struct gf_board *b = attached_board();
	char why[128];

	for (int c = 0; c < GF_NCLASSES; c++)
		CHECK_EQ(level(b, c, 1000), GF_LEVEL_OK);
	b->verdict[GF_MEMORY].active = 1;
	CHECK_EQ(board_level(b, GF_MEMORY, 1000, why, sizeof why), GF_LEVEL_FAULT);
	/* cleared 30 s ago: WARN for the rest of the minute */
	b->verdict[GF_MEMORY].active = 0;
	b->cleared[GF_MEMORY] = 970;
	CHECK_EQ(board_level(b, GF_MEMORY, 1000, why, sizeof why), GF_LEVEL_WARN);
	CHECK_HAS(why, "cleared 30 s ago");
	CHECK_EQ(level(b, GF_MEMORY, 1031), GF_LEVEL_OK);
	/* every CPU busy over the last second: cpu_overload waits its 5 s */
	for (int c = 0; c < 2; c++)
		b->rates.cpu[c] = (struct gf_cpu_rates){ .online = 1, .usr = 0.97 };
	CHECK_EQ(board_level(b, GF_CPU_OVERLOAD, 1000, why, sizeof why), GF_LEVEL_WARN);
	CHECK_HAS(why, "busy");
	CHECK_EQ(level(b, GF_F2, 1000), GF_LEVEL_OK); /* user time, not the kernel */
	/* memory nearly gone, no swap: memory warns, thrashing needs swap */
	b->mem_available_kib = 20 << 10;
	CHECK_EQ(level(b, GF_MEMORY, 1031), GF_LEVEL_WARN);
	CHECK_EQ(level(b, GF_THRASHING, 1000), GF_LEVEL_OK);
	/* an oops taints the kernel: panic warns */
	b->tainted = 1 << 7;
	CHECK_EQ(level(b, GF_PANIC, 1000), GF_LEVEL_WARN);
	/* not attached: only verdicts and recent clears count */
	b->attached = 0;
	CHECK_EQ(level(b, GF_PANIC, 1000), GF_LEVEL_OK);
	CHECK_EQ(level(b, GF_NCLASSES, 1000), GF_LEVEL_OK);
	free(b);
}

/* Bytes from a hostile peer: after board_sanitize every string ends and
 * every count fits its array, and board_level does not trip on NaNs. */
static void test_board_sanitize(void)
{
	struct gf_board *b = xcalloc(sizeof *b);
	char why[128];

	memset(b, 0xff, sizeof *b);
	board_sanitize(b);
	CHECK(strlen(b->target) < sizeof b->target);
	CHECK(strlen(b->panic_log) < sizeof b->panic_log);
	CHECK(b->nhistory <= GF_BOARD_HISTORY);
	CHECK(b->nevents <= GF_BOARD_EVENTS && b->first_event < GF_BOARD_EVENTS);
	CHECK(b->rates.ncpus <= GF_MAX_CPUS);
	for (int c = 0; c < GF_NCLASSES; c++) {
		CHECK(b->verdict[c].nevidence <= GF_MAX_EVIDENCE);
		CHECK(b->verdict[c].nculprits <= GF_MAX_CULPRITS);
		CHECK(strlen(b->verdict[c].culprit[0].comm) < GF_COMM_LEN);
		board_level(b, c, 1000, why, sizeof why);
		CHECK(strlen(why) < sizeof why);
	}
	free(b);
}

static const struct test tests[] = {
	T(board_level),
	T(board_sanitize),
};

const struct suite suite_board = SUITE(tests);
