/* test/unit_engine.c — unit tests of engine.c: the CPU engine (no GPU) and
 * the error strings. */
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../engine.h"
#include "../gpufas.h"

/* ======================================================================
 * The CPU engine (gf_engine with no GPU) and error strings
 * ====================================================================== */

static void test_engine_snapshot_grows(void)
{
	struct guest *g = world_new(4, 0);
	uint64_t leader = task_va(g, 300);
	struct gf_task *out = NULL;
	uint32_t n = 0;
	const uint32_t extra = 1100; /* past the engine's first 1024 */
	struct gf_engine e = { .k = &g->k };

	for (uint32_t i = 0; i < extra; i++)
		thread_new(g, leader, &(struct tspec){ .pid = 1000 + (int32_t)i,
			.comm = "worker", .runtime = 1 });
	REQUIRE(engine_snapshot(&e, 1, &out, &n) == GF_OK);
	CHECK_EQ(n, NELEM(WORLD_THREADS) + extra);
	CHECK_EQ(out[n - 1].pid, 1000 + extra - 1);
	CHECK_EQ(out[n - 1].tgid, 300);
	free(out);
	REQUIRE(engine_snapshot(&e, 0, &out, &n) == GF_OK);
	CHECK_EQ(n, NELEM(WORLD_PROCESSES));
	CHECK_EQ(out[n - 1].threads, 1 + extra);
	CHECK_EQ(out[n - 1].cpu_ns, 60 + extra);
	free(out);
	guest_free(g);
}

static void test_engine_errors(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_task *out = (struct gf_task *)1, t;
	struct gf_engine e = { .k = &g->k };
	uint32_t n;

	CHECK_EQ(engine_find(&e, 999, &t), GF_ESRCH);
	CHECK_EQ(engine_find(&e, 0, &t), GF_EINVAL);
	CHECK_EQ(engine_find(&e, 101, &t), GF_OK);
	CHECK_EQ(t.pid, 100);
	bad_back_link(g);
	CHECK_EQ(engine_snapshot(&e, 0, &out, &n), GF_ECORRUPT);
	CHECK(out == (struct gf_task *)1);
	CHECK_EQ(engine_find(&e, 999, &t), GF_ECORRUPT);
	guest_free(g);
}

/* Every code, GF_OK down to the last, says what it is in its own words;
 * anything else gets the generic message. */
static void test_strerror(void)
{
	for (int i = GF_OK; i >= GF_ELAST; i--) {
		CHECK(gf_strerror(i) && *gf_strerror(i));
		CHECK(strcmp(gf_strerror(i), "unknown error"));
		for (int j = GF_OK; j > i; j--)
			CHECK(strcmp(gf_strerror(i), gf_strerror(j)));
	}
	CHECK_STR(gf_strerror(GF_ELAST - 1), "unknown error");
	CHECK_STR(gf_strerror(1), "unknown error");
	CHECK_STR(gf_strerror(-99), "unknown error");
}

static const struct test tests[] = {
	T(engine_snapshot_grows),
	T(engine_errors),
	T(strerror),
};

const struct suite suite_engine = SUITE(tests);
