/* test/unit_hub.c — unit tests of hub.c's requests: an asker's job queued
 * in its target's slot, carried out by the loop (hub_serve), answered to
 * that asker alone; one at a time per target, and given up on timeout so
 * that the next is not stuck behind it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../detect.h"
#include "../gpufas.h"
#include "../hub.h"
#include "../watch.h"

/* An asker on its own thread, as the remote server's are. */
struct asker {
	pthread_t thread;
	struct hub *h;
	int target;
	double timeout_s;
	struct hub_job job;
	int rc, done;
};

static void *ask(void *arg)
{
	struct asker *a = arg;

	a->rc = hub_request(a->h, a->target, &a->job, a->timeout_s);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void ask_detect(struct asker *a, struct hub *h, int target,
		       enum gf_class cls, double timeout_s)
{
	memset(a, 0, sizeof *a);
	a->h = h, a->target = target, a->timeout_s = timeout_s;
	a->job.kind = HUB_DETECT;
	a->job.cls = cls;
	REQUIRE(pthread_create(&a->thread, NULL, ask, a) == 0);
}

/* The loop's rounds on target `serve` until the asker has its answer. */
static void serve_until_answered(struct asker *a, struct hub *h, int serve,
				 struct watch *w)
{
	double until = now_s() + 4;

	while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE) && now_s() < until) {
		hub_serve(h, serve, w);
		usleep(1000);
	}
	REQUIRE(__atomic_load_n(&a->done, __ATOMIC_ACQUIRE));
	pthread_join(a->thread, NULL);
}

/* A watch the loop would serve: attached, with a published verdict for
 * `cls` told apart by its `mark` (its number of culprits). */
static void watch_attached(struct watch *w, struct rig *r, enum gf_class cls,
			   uint32_t mark)
{
	memset(w, 0, sizeof *w);
	rig_new(r, 0);
	w->attached = 1;
	w->pub = r->pub;
	w->pub->v[cls].nculprits = mark;
}

static void test_hub_request_answered(void)
{
	struct hub *h = hub_new(2);
	struct watch w0, w1;
	struct rig r0, r1;
	struct asker a;

	REQUIRE(h);
	watch_attached(&w0, &r0, GF_MEMORY, 100);
	watch_attached(&w1, &r1, GF_MEMORY, 200);
	/* nothing queued: a round serves nothing */
	hub_serve(h, 1, &w1);
	/* asked of target 1: answered from target 1's watch */
	ask_detect(&a, h, 1, GF_MEMORY, 3);
	serve_until_answered(&a, h, 1, &w1);
	CHECK_EQ(a.rc, GF_OK);
	CHECK_EQ(a.job.verdict.nculprits, 200);
	/* and again: the slot was given back */
	ask_detect(&a, h, 0, GF_MEMORY, 3);
	serve_until_answered(&a, h, 0, &w0);
	CHECK_EQ(a.rc, GF_OK);
	CHECK_EQ(a.job.verdict.nculprits, 100);
	/* a detached target answers why, without running the job */
	w1.attached = 0;
	snprintf(w1.why, sizeof w1.why, "no kernel found yet");
	ask_detect(&a, h, 1, GF_MEMORY, 3);
	serve_until_answered(&a, h, 1, &w1);
	CHECK_EQ(a.rc, GF_ESRCH);
	CHECK_HAS(a.job.msg, "not attached: no kernel found yet");
	rig_free(&r0);
	rig_free(&r1);
	hub_free(h);
}

/* Unserved, an asker gives up at its deadline, and its slot is free. */
static void test_hub_request_expires(void)
{
	struct hub *h = hub_new(2);
	struct watch w0, w1;
	struct rig r0, r1;
	struct asker a;
	double t0;

	REQUIRE(h);
	watch_attached(&w0, &r0, GF_CPU_OVERLOAD, 300);
	watch_attached(&w1, &r1, GF_CPU_OVERLOAD, 400);
	t0 = now_s();
	ask_detect(&a, h, 0, GF_CPU_OVERLOAD, 0.3);
	serve_until_answered(&a, h, 1, &w1); /* another target's rounds */
	CHECK(now_s() - t0 >= 0.29);
	CHECK_EQ(a.rc, GF_EBUSY);
	CHECK_HAS(a.job.msg, "did not answer within 0.3 s");
	CHECK_EQ(a.job.verdict.nculprits, 0);
	ask_detect(&a, h, 0, GF_CPU_OVERLOAD, 3);
	serve_until_answered(&a, h, 0, &w0);
	CHECK_EQ(a.rc, GF_OK);
	CHECK_EQ(a.job.verdict.nculprits, 300);
	rig_free(&r0);
	rig_free(&r1);
	hub_free(h);
}

/* One request at a time per target: a second asker waits for the slot,
 * and is told so if the first holds it past the second's deadline. */
static void test_hub_request_one_at_a_time(void)
{
	struct hub *h = hub_new(1);
	struct hub_job second = { .kind = HUB_DETECT, .cls = GF_MEMORY };
	struct watch w;
	struct rig r;
	struct asker a;

	REQUIRE(h);
	watch_attached(&w, &r, GF_MEMORY, 500);
	ask_detect(&a, h, 0, GF_MEMORY, 4);
	usleep(200 * 1000); /* the first asker's request is queued by now */
	CHECK_EQ(hub_request(h, 0, &second, 0.2), GF_EBUSY);
	CHECK_HAS(second.msg, "another request is in progress");
	serve_until_answered(&a, h, 0, &w);
	CHECK_EQ(a.rc, GF_OK);
	CHECK_EQ(a.job.verdict.nculprits, 500);
	rig_free(&r);
	hub_free(h);
}

static void test_hub_request_bad_target(void)
{
	struct hub *h = hub_new(2);
	struct hub_job job = { .kind = HUB_DETECT };
	char msg[256];

	REQUIRE(h);
	CHECK_EQ(hub_request(h, 2, &job, 0.1), GF_EINVAL);
	CHECK_HAS(job.msg, "no target 2");
	CHECK_EQ(hub_request(h, -1, &job, 0.1), GF_EINVAL);
	CHECK_EQ(hub_signal(h, 5, 1, 0, SIGKILL, 0.1, msg, sizeof msg), GF_EINVAL);
	CHECK_HAS(msg, "no target 5");
	hub_free(h);
}

static const struct test tests[] = {
	T(hub_request_answered),
	T(hub_request_expires),
	T(hub_request_one_at_a_time),
	T(hub_request_bad_target),
};

const struct suite suite_hub = SUITE(tests);
