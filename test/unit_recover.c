/* test/unit_recover.c — unit tests of recover.c: recovery, against the
 * synthetic kernel. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../detect.h"
#include "../recover.h"

/* ---- Recovery, against the synthetic kernel ---- */

struct gf_verdict memory_verdict(int32_t pid, uint64_t start_time,
					const char *comm)
{
	struct gf_verdict v = { .cls = GF_MEMORY, .active = 1, .nculprits = 1 };

	v.culprit[0].pid = pid;
	v.culprit[0].start_time = start_time;
	snprintf(v.culprit[0].comm, GF_COMM_LEN, "%s", comm);
	return v;
}

uint64_t pending(const struct guest *g, int32_t pid)
{
	return r64(g, task_va(g, pid) + T_PENDING + SP_SIGNAL);
}

static void test_recover_kills_and_follows(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	gf_policy_defaults(&p);
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 10, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].pid, 100);
	CHECK_EQ(out[0].sig, 9);
	CHECK(pending(g, 100) & SIGBIT(9));
	CHECK(pending(g, 101) & SIGBIT(9));
	/* still there: no second victim, no new write */
	v[GF_MEMORY] = memory_verdict(300, 400, "stopped");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.5, out, 4), 0);
	CHECK_EQ(pending(g, 300), 0);
	/* gone (a zombie): the result, then the cool-down holds */
	w32(g, task_va(g, 100) + T_EXIT_STATE, EXIT_ZOMBIE);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 11, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_RESULT);
	CHECK_EQ(out[0].outcome, GF_EXITED);
	CHECK(out[0].after_s > 0.99 && out[0].after_s < 1.01);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 12, out, 4), 0);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 15.5, out, 4), 1);
	CHECK(pending(g, 300) & SIGBIT(9));
	guest_free(g);
}

static void test_recover_refuses(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];
	char detail[160];

	gf_policy_defaults(&p);
	snprintf(p.protect, sizeof p.protect, "sys*, ap?");
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* protected */
	v[GF_MEMORY] = memory_verdict(1, 100, "init");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* pid 1 */
	p.protect[0] = 0;
	p.self_pid = 100;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 1, out, 4), 0); /* ourselves */
	p.self_pid = 0;
	/* the pid now names another process: nothing written */
	v[GF_MEMORY] = memory_verdict(100, 999, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 1, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_RESULT);
	CHECK_EQ(out[0].outcome, GF_FAILED);
	gf_report_detail(&out[0], detail, sizeof detail);
	CHECK_HAS(detail, "changed under us");
	CHECK_EQ(pending(g, 100), 0);
	/* report-only and dry-run write nothing either */
	memset(&rs, 0, sizeof rs);
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	p.memory = GF_REPORT;
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 100, out, 4), 0);
	p.memory = GF_KILL;
	p.dry_run = 1;
	REQUIRE(recover_step(&p, &rs, &g->k, v, 200, out, 4) == 1);
	CHECK(out[0].dry_run);
	CHECK_EQ(pending(g, 100), 0);
	guest_free(g);
}

static void test_recover_term_then_kill(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	gf_policy_defaults(&p);
	p.memory = GF_TERM_THEN_KILL;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 1, out, 4) == 1);
	CHECK_EQ(out[0].sig, 15);
	CHECK(r64(g, signal_of(g, 100) + S_SHARED_PENDING + SP_SIGNAL) & SIGBIT(15));
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 2, out, 4), 0);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 3.1, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].sig, 9);
	CHECK(pending(g, 100) & SIGBIT(9));
	/* not gone within the exit timeout: given up on, and said so */
	REQUIRE(recover_step(&p, &rs, &g->k, v, 13.2, out, 4) == 1);
	CHECK_EQ(out[0].outcome, GF_STILL_RUNNING);
	guest_free(g);
}

/* The protect list: comma or space separated globs of '*' and '?'. */
static void test_recover_protect_globs(void)
{
	static const struct {
		const char *patterns, *comm;
		int protected_;
	} cases[] = {
		{ "sshd, systemd*", "systemd-journal", 1 },
		{ "sshd, systemd*", "sshd", 1 },
		{ "sshd, systemd*", "ssh", 0 },
		{ "sys*, ap?", "app", 1 },
		{ "ap?", "apps", 0 },
		{ "*d", "sshd", 1 },
		{ "a*b*c", "aXbYbZc", 1 },
		{ "a*b*c", "aXbYbZ", 0 },
		{ "", "anything", 0 },
		{ " , ,", "x", 0 },
		{ "*", "", 1 },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		int before = failures;
		CHECK_EQ(gf_protected(cases[i].patterns, cases[i].comm),
			 cases[i].protected_);
		note_case(before, "'%s' vs '%s'", cases[i].patterns, cases[i].comm);
	}
}

static const struct test tests[] = {
	T(recover_kills_and_follows),
	T(recover_refuses),
	T(recover_term_then_kill),
	T(recover_protect_globs),
};

const struct suite suite_recover = SUITE(tests);
