/* test/unit_loop.c — unit tests of loop.c: the watch loop, stepped on the
 * synthetic kernel. */
#include <string.h>

#include "unit.h"

#include "../board.h"
#include "../config.h"
#include "../detect.h"
#include "../discover.h"
#include "../engine.h"
#include "../gpufas.h"
#include "../loop.h"
#include "../watch.h"

/* ---- The watch loop, stepped on the synthetic kernel ---- */

void rig_new(struct rig *r, double host_stall_s)
{
	struct gf_config c;
	char err[256];

	config_defaults(&c);
	c.max_tasks = 64;
	c.host_stall_s = host_stall_s;
	REQUIRE(loop_params_from(&c, "vm:x", &r->p, err, sizeof err) == 0);
	r->l = xcalloc(gf_loop_size(&r->p));
	r->pub = xcalloc(gf_pub_size(&r->p));
	r->copy = xcalloc(gf_pub_size(&r->p));
	gf_loop_init(r->l, &r->p);
	gf_pub_init(r->pub, &r->p);
	memset(&r->e, 0, sizeof r->e);
	r->e.pub = r->pub;
}

void rig_free(struct rig *r)
{
	free(r->l);
	free(r->pub);
	free(r->copy);
}

/* Every event from *next on, checked to come in order. */
uint32_t read_events(struct rig *r, uint64_t *next, struct gf_loop_event *ev,
			    uint32_t max, uint64_t *lost)
{
	uint64_t first = *next;
	uint32_t n = engine_events(&r->e, next, ev, max, lost);

	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(ev[i].seq, first + *lost + i);
	return n;
}

static void test_loop_publishes_processes(void)
{
	struct guest *g = world_new(4, 0);
	struct rig r;
	struct gf_board_task *t;
	uint64_t runtime = 5000;

	rig_new(&r, 0);
	/* systemd runs half of the time: 50 ms of CPU each 100 ms step */
	for (int i = 1; i <= 15; i++) {
		w64(g, task_va(g, 1) + T_SUM_EXEC, runtime += 50000000);
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, 0);
	}
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->steps, 15);
	CHECK_EQ(r.copy->loss, GF_LOSS_NONE);
	REQUIRE(r.copy->ntasks == NELEM(WORLD_PROCESSES));
	t = gf_pub_tasks(r.copy);
	for (uint32_t i = 0; i < r.copy->ntasks; i++)
		CHECK_EQ(t[i].t.pid, WORLD_PROCESSES[i].pid);
	CHECK(t[0].cpu_pct > 49 && t[0].cpu_pct < 51);
	CHECK(t[3].cpu_pct == 0);
	/* no counters in this kernel: nothing judged, no event */
	CHECK_EQ(r.pub->ev_head, 0);
	CHECK_EQ(r.copy->v[GF_PANIC].active, 0);
	rig_free(&r);
	guest_free(g);
}

/* The GPU watches the host: a heartbeat that stands still is an event,
 * and so is its coming back, each once. */
static void test_loop_host_stall(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_loop_event ev[8];
	struct rig r;
	uint64_t next = 0, lost, beat = 0;
	uint32_t n;

	rig_new(&r, 0.5);
	for (int i = 1; i <= 30; i++) {
		if (i <= 10 || i > 20)
			beat++;
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, beat);
		if (i == 20) {
			REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
			CHECK_EQ(r.copy->host_stalled, 1);
		}
	}
	n = read_events(&r, &next, ev, 8, &lost);
	CHECK_EQ(lost, 0);
	REQUIRE(n == 2);
	CHECK_EQ(ev[0].kind, GF_LE_HOST_STALLED);
	CHECK(ev[0].time > 1.49 && ev[0].time < 1.51);
	CHECK(ev[0].stalled_s > 0.49 && ev[0].stalled_s < 0.51);
	CHECK_EQ(ev[1].kind, GF_LE_HOST_RESUMED);
	CHECK(ev[1].stalled_s > 1.09 && ev[1].stalled_s < 1.11);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->host_stalled, 0);
	rig_free(&r);
	guest_free(g);
}

/* A reader that keeps up gets every event once, in order; one that fell
 * behind (a frozen host) is told how many it lost, gets the newest
 * GF_EVENT_RING in order, and then catches up with none lost. */
static void test_loop_event_ring(void)
{
	enum { STEPS = 600 };
	struct guest *g = world_new(4, 0);
	struct gf_loop_event *ev = xcalloc(GF_EVENT_RING * sizeof *ev);
	struct rig r;
	uint64_t quick = 0, slow = 0, lost, total;
	uint32_t n, got = 0;

	rig_new(&r, 0.05);
	/* the beat moves every other step: a stall and a resume each time */
	for (int i = 1; i <= STEPS; i++) {
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, (uint64_t)i / 2);
		n = read_events(&r, &quick, ev, GF_EVENT_RING, &lost);
		CHECK_EQ(lost, 0);
		for (uint32_t k = 0; k < n; k++, got++)
			CHECK_EQ(ev[k].kind, got % 2 ? GF_LE_HOST_RESUMED : GF_LE_HOST_STALLED);
	}
	total = r.pub->ev_head;
	CHECK_EQ(got, total);
	CHECK(total > GF_EVENT_RING + 100);
	n = read_events(&r, &slow, ev, GF_EVENT_RING, &lost);
	CHECK_EQ(lost, total - GF_EVENT_RING);
	CHECK_EQ(n, GF_EVENT_RING);
	CHECK_EQ(ev[n - 1].seq, total - 1);
	for (int i = STEPS + 1; i <= STEPS + 10; i++)
		gf_loop_step(r.l, r.pub, &g->k, i * 0.1, (uint64_t)i / 2);
	n = read_events(&r, &slow, ev, GF_EVENT_RING, &lost);
	CHECK_EQ(lost, 0);
	CHECK_EQ(n, r.pub->ev_head - total);
	free(ev);
	rig_free(&r);
	guest_free(g);
}

/* Counters that stop reading true for a second: the kernel is lost, said
 * once, and nothing more is read from it. */
static void test_loop_loses_kernel(void)
{
	struct guest *g = world_new(4, 0);
	struct rig r;

	rig_new(&r, 0);
	g->k.lay.has_metrics = 1; /* but none of what they name is mapped */
	for (int i = 0; i < 9; i++)
		gf_loop_step(r.l, r.pub, &g->k, 1 + i * 0.1, 0);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->loss, GF_LOSS_NONE);
	gf_loop_step(r.l, r.pub, &g->k, 2.0, 0);
	REQUIRE(engine_read(&r.e, r.copy) == GF_OK);
	CHECK_EQ(r.copy->loss, GF_LOSS_COUNTERS);
	CHECK_EQ(r.copy->lost_err, GF_EFAULT);
	CHECK_EQ(r.copy->steps, 0);
	gf_loop_step(r.l, r.pub, &g->k, 3.0, 0);
	CHECK_EQ(r.pub->gen, r.copy->gen);
	rig_free(&r);
	guest_free(g);
}

/* The CPU engine's loop runs in the host's thread: it never says the host
 * stalled, whatever host_stall_ms says. */
static void test_loop_cpu_engine_has_no_host(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_attachment a = { .k = g->k };
	struct gf_loop_event ev[4];
	struct gf_engine e;
	struct gf_config c;
	struct gf_loop_params p;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	char msg[256];
	uint64_t next = 0, lost;

	config_defaults(&c);
	c.max_tasks = 64;
	c.host_stall_s = 0.1;
	REQUIRE(loop_params_from(&c, "vm:x", &p, msg, sizeof msg) == 0);
	REQUIRE(engines_open(&e, 1, "cpu", 0, NULL, &a, &p, NULL, msg, sizeof msg) == 0);
	for (int i = 0; i < 8; i++) {
		engine_step(&e);
		nanosleep(&nap, NULL);
	}
	CHECK_EQ(engine_events(&e, &next, ev, 4, &lost), 0);
	CHECK_EQ(e.loop->steps, 8);
	engines_close(&e, 1);
	guest_free(g);
}

/* Tables sized from the config; a config whose windows they cannot cover
 * is refused, and a reload that changes their size is told apart. */
static void test_loop_sized_from_config(void)
{
	struct gf_config c;
	struct gf_loop_params p, q;
	char err[256], path[128];

	config_defaults(&c);
	REQUIRE(loop_params_from(&c, "host", &p, err, sizeof err) == 0);
	CHECK_EQ(p.nages, 3); /* 0.5 s, 1 s (thrashing and the board), 5 s */
	CHECK_EQ(p.history_cap, 53);
	CHECK_EQ(p.policy.self_pid, getpid());
	CHECK(gf_loop_size(&p) < (16u << 20));
	c.interval_s = 0.01;
	c.detect.overload_s = 60;
	CHECK(loop_params_from(&c, "vm:x", &q, err, sizeof err) < 0);
	CHECK_HAS(err, "interval_ms");
	CHECK(load_ini("[agent]\ninterval_ms = 10\n[detect]\noverload_ms = 60000\n",
		       &c, err, sizeof err, path, sizeof path) < 0);
	CHECK_HAS(err, "60.0 s detector window");
	config_defaults(&c);
	c.detect.sys_pct = 50;
	REQUIRE(loop_params_from(&c, "vm:x", &q, err, sizeof err) == 0);
	CHECK(gf_loop_fits(&p, &q));
	c.detect.window_s = 0.7;
	REQUIRE(loop_params_from(&c, "vm:x", &q, err, sizeof err) == 0);
	CHECK(!gf_loop_fits(&p, &q));
}

static const struct test tests[] = {
	T(loop_publishes_processes),
	T(loop_host_stall),
	T(loop_event_ring),
	T(loop_loses_kernel),
	T(loop_cpu_engine_has_no_host),
	T(loop_sized_from_config),
};

const struct suite suite_loop = SUITE(tests);
