/* test/unit_helper.c — unit tests of helper.c and operator.c: the in-OS
 * helper, found in the synthetic kernel's module list. */
#include <signal.h>
#include <string.h>

#include "unit.h"

#include "../core.h"
#include "../detect.h"
#include "../engine.h"
#include "../gpufas.h"
#include "../helper.h"
#include "../kmod/gpufas_helper.h"
#include "../operator.h"
#include "../recover.h"

/* ---- The in-OS helper, found in the synthetic kernel's module list ---- */

enum { /* struct module, struct mod_kallsyms: made-up offsets */
	M_LIST = 0x08, M_NAME = 0x18, M_KALLSYMS = 0x340, MODULE_SIZE = 0x400,
	MK_SYMTAB = 0x00, MK_NUM = 0x08, MK_STRTAB = 0x10, MK_SIZE = 0x20,
};

/* One struct module named `name` on the list, with no symbols. */
static uint64_t module_new(struct guest *g, uint64_t head, const char *name)
{
	uint64_t mod = win_alloc(&g->heap, MODULE_SIZE, 64);

	put(g, mod + M_NAME, name, strlen(name) + 1);
	list_add_tail(g, mod + M_LIST, head);
	return mod;
}

static void put_sym(struct guest *g, uint64_t at, uint32_t name, uint64_t value)
{
	w32(g, at, name);
	w64(g, at + 8, value);
	w64(g, at + 16, 0);
}

/* The modules ext4 and gpufas_helper; the helper's symbols are
 * helper_exit, then its mailbox, whose page holds what the loaded module
 * writes there. */
struct modules modules_new(struct guest *g)
{
	static const char strtab[] = "\0helper_exit\0" GFH_SYMBOL;
	struct gf_layout *l = &g->k.lay;
	struct modules m;

	l->has_modules = 1;
	l->mod_list = M_LIST, l->mod_name = M_NAME, l->mod_kallsyms = M_KALLSYMS;
	l->mk_symtab = MK_SYMTAB, l->mk_num_symtab = MK_NUM, l->mk_strtab = MK_STRTAB;
	m.head = l->modules = win_alloc(&g->kimg, 16, 8);
	list_init(g, m.head);
	m.ext4 = module_new(g, m.head, "ext4");
	m.helper = module_new(g, m.head, GFH_MODULE);
	m.kallsyms = win_alloc(&g->heap, MK_SIZE, 8);
	m.symtab = win_alloc(&g->heap, 2 * 24, 8);
	m.strtab = win_alloc(&g->heap, sizeof strtab, 1);
	m.mailbox = win_alloc(&g->heap, sizeof(struct gfh_mailbox), PAGE);
	put(g, m.strtab, strtab, sizeof strtab);
	put_sym(g, m.symtab, 1, 0xffffffffc0000010ull);
	put_sym(g, m.symtab + 24, sizeof "\0helper_exit" , m.mailbox);
	w64(g, m.helper + M_KALLSYMS, m.kallsyms);
	w64(g, m.kallsyms + MK_SYMTAB, m.symtab);
	w32(g, m.kallsyms + MK_NUM, 2);
	w64(g, m.kallsyms + MK_STRTAB, m.strtab);
	w64(g, m.mailbox + offsetof(struct gfh_mailbox, magic), GFH_MAGIC);
	w64(g, m.mailbox + offsetof(struct gfh_mailbox, self), m.mailbox);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, version), GFH_VERSION);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, period_ms), 4);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, hz), 250);
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, slots), GFH_SLOTS);
	return m;
}

static void test_helper_found(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct gf_helper h;
	char line[160];

	CHECK_EQ(gf_helper_find(&g->k, &h), GF_OK);
	CHECK_EQ(h.va, m.mailbox);
	CHECK_EQ(h.version, 2);
	CHECK_EQ(h.period_ms, 4);
	CHECK_EQ(h.hz, 250);
	CHECK_EQ(gf_helper_wait_ms(&h), 140);
	/* the guest's period, not its wait: at most a second */
	h.period_ms = 89;
	CHECK_EQ(gf_helper_wait_ms(&h), 990);
	h.period_ms = 429496719; /* 10x of it wraps 32 bits */
	CHECK_EQ(gf_helper_wait_ms(&h), 1000);
	CHECK_EQ(gf_helper_describe(&g->k, line, sizeof line), GF_OK);
	CHECK_STR(line, "in-OS helper gpufas_helper version 2, polled every 4 ms");
	guest_free(g);
}

/* Each way the list, the table or the page can fail to be the helper's. */
static void test_helper_not_found(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct guest *c;
	struct gf_helper h;
	char line[160];

#define FAILS_WITH(err, ...) do { c = guest_clone(g); __VA_ARGS__; \
	CHECK_EQ(gf_helper_find(&c->k, &h), err); CHECK_EQ(h.va, 0); guest_free(c); } while (0)
	FAILS_WITH(GF_ESRCH, put(c, m.helper + M_NAME, "gpufas_helpe", 13));
	FAILS_WITH(GF_ESRCH, put(c, m.strtab + 13, "gpufas_helper_mailbo", 21));
	FAILS_WITH(GF_EINVAL, c->k.lay.has_modules = 0);
	FAILS_WITH(GF_ECORRUPT, w64(c, m.helper + M_LIST + 8, m.head + 64)); /* back link */
	FAILS_WITH(GF_ECORRUPT, w64(c, m.ext4 + M_LIST, m.ext4 + M_LIST)); /* a loop */
	FAILS_WITH(GF_EFAULT, w64(c, m.helper + M_KALLSYMS, VMALLOC_VA));
	FAILS_WITH(GF_ECORRUPT, w32(c, m.kallsyms + MK_NUM, 1u << 20));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.mailbox, GFH_MAGIC + 1));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.mailbox + 8, m.mailbox + PAGE));
	FAILS_WITH(GF_ECORRUPT, w64(c, m.symtab + 24 + 8, m.mailbox + 8));
	FAILS_WITH(GF_EINVAL, w32(c, m.mailbox + 16, GFH_VERSION + 1));
	FAILS_WITH(GF_EINVAL, w32(c, m.mailbox + 28, GFH_SLOTS / 2)); /* slots */
#undef FAILS_WITH
	/* a name off the map is skipped, not an error */
	c = guest_clone(g);
	w32(c, m.symtab, 0x40000000u);
	CHECK_EQ(gf_helper_find(&c->k, &h), GF_OK);
	guest_free(c);
	c = guest_clone(g);
	list_del(c, m.helper + M_LIST);
	gf_helper_describe(&c->k, line, sizeof line);
	CHECK_STR(line, "no in-OS helper (gpufas_helper not loaded)");
	guest_free(c);
	guest_free(g);
}

/* Plays the module: waits for a new rq_seq, checks the batch (through the
 * fixture's own translation: its pages are not physically adjacent) and
 * answers it, as answer_batch() does. */
struct fake_helper {
	struct guest *g;
	uint64_t va;                 /* the mailbox */
	volatile struct gfh_mailbox *mb; /* its header */
	uint32_t seq;                /* the last batch seen */
	int result, ok;
};

static void *fake_helper(void *arg)
{
	struct fake_helper *f = arg;
	uint32_t n;

	for (int i = 0; i < 100000 && f->mb->rq_seq == f->seq; i++)
		usleep(10);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	n = f->mb->rq_count;
	f->ok = f->mb->rq_magic == GFH_RQ_MAGIC && n >= 1 && n <= GFH_SLOTS;
	for (uint32_t i = 0; f->ok && i < n; i++) {
		uint64_t at = f->va + offsetof(struct gfh_mailbox, slot[i]);
		struct gfh_slot rq;
		get(f->g, at, &rq, sizeof rq);
		f->ok = rq.pid == (int32_t)(42 + i) && rq.sig == 9 &&
			rq.start_time == 777 + i && rq.result == GFH_NONE;
		w32(f->g, at + offsetof(struct gfh_slot, result),
		    (uint32_t)(i % 2 ? GFH_NO_TASK : f->result));
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	f->mb->ans_seq = f->mb->rq_seq;
	return NULL;
}

/* n victims, pid 42 + i and start time 777 + i. */
static struct gf_task *victims(uint32_t n)
{
	struct gf_task *t = xcalloc(n * sizeof *t);

	for (uint32_t i = 0; i < n; i++)
		t[i] = (struct gf_task){ .pid = (int32_t)(42 + i),
					 .tgid = (int32_t)(42 + i), .start_time = 777 + i };
	return t;
}

/* One batch through the fake module: its answers, and whether it checked
 * out. */
static int post_batch(struct fake_helper *f, const struct gf_helper *h,
		      const struct gf_task *t, uint32_t n, int result,
		      int32_t *answers)
{
	pthread_t th;
	int err;

	f->result = result;
	f->seq = f->mb->rq_seq;
	f->ok = 0;
	CHECK_EQ(pthread_create(&th, NULL, fake_helper, f), 0);
	err = gf_helper_signal(&f->g->k, h, t, n, 9, answers);
	pthread_join(th, NULL);
	CHECK(f->ok);
	return err;
}

static void test_helper_request(void)
{
	struct guest *g = guest_new(4, 1);
	struct modules m = modules_new(g);
	struct gf_task *t = victims(GFH_SLOTS + 1);
	struct fake_helper f = {
		.g = g, .va = m.mailbox,
		.mb = (volatile struct gfh_mailbox *)(void *)
		      host(g, fixture_pa(g, m.mailbox), GFH_HEADER_BYTES),
	};
	static int32_t answers[GFH_SLOTS + 1];
	struct gf_helper h;

	CHECK_EQ(gf_helper_find(&g->k, &h), GF_OK);
	for (int result = GF_HELPER_DONE; result <= GF_HELPER_REFUSED; result++) {
		CHECK_EQ(post_batch(&f, &h, t, 1, result, answers), GF_OK);
		CHECK_EQ(answers[0], result);
	}
	CHECK_EQ(f.mb->rq_seq, 4);
	/* a full batch, over all seven pages: every request read back, every
	 * answer its own */
	CHECK_EQ(post_batch(&f, &h, t, GFH_SLOTS, GF_HELPER_DONE, answers), GF_OK);
	CHECK_EQ(f.mb->rq_count, GFH_SLOTS);
	CHECK_EQ(answers[0], GF_HELPER_DONE);
	CHECK_EQ(answers[1], GF_HELPER_NO_TASK);
	CHECK_EQ(answers[GFH_SLOTS - 2], GF_HELPER_DONE);
	CHECK_EQ(answers[GFH_SLOTS - 1], GF_HELPER_NO_TASK);
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, GFH_SLOTS + 1, 9, answers), GF_EINVAL);
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 0, 9, answers), GF_EINVAL);
	CHECK_EQ(f.mb->rq_seq, 5);
	/* an answer out of range is no answer */
	w32(g, m.mailbox + offsetof(struct gfh_mailbox, slot[0].result), 77);
	CHECK_EQ(gf_helper_answer(&g->k, m.mailbox, 5), GFH_NONE);
	/* nobody answers: silent after the wait, the batch left posted */
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 2, 9, answers), GF_OK);
	CHECK_EQ(answers[0], GF_HELPER_SILENT);
	CHECK_EQ(answers[1], GF_HELPER_SILENT);
	CHECK_EQ(f.mb->rq_seq, 6);
	/* a read-only target posts nothing; nor where the mailbox is no longer
	 * the helper's (unloaded since it was found) */
	g->k.writable = 0;
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 1, 9, answers), GF_EINVAL);
	g->k.writable = 1;
	f.mb->magic = 0;
	CHECK_EQ(gf_helper_signal(&g->k, &h, t, 1, 9, answers), GF_EFAULT);
	CHECK_EQ(f.mb->rq_seq, 6);
	free(t);
	guest_free(g);
}

/* --kill of a list (operator_signal_all): one walk finds the processes,
 * each gets its own line; with a helper that never answers, the
 * pseudo-signal goes after the wait and says so. */
static void test_operator_signal_all(void)
{
	struct guest *g = world_new(4, 0);
	struct gf_engine e = { .k = &g->k };
	struct kill_opts o = { .sig = 9 };
	struct op_signal s[4] = { { .pid = 100 }, { .pid = 1 }, { .pid = 4242 },
				  { .pid = 300 } };
	struct modules m;

	operator_signal_all(&e, &o, "", s, 4);
	CHECK_EQ(s[0].err, GF_OK);
	CHECK_HAS(s[0].msg, "SIGKILL marked in 100 (app): 3 threads");
	CHECK_EQ(s[1].err, GF_EREFUSED);
	CHECK_HAS(s[1].msg, "refusing to signal 1 (systemd)");
	CHECK_EQ(s[2].err, GF_ESRCH);
	CHECK_HAS(s[2].msg, "pid 4242: ");
	CHECK_EQ(s[3].err, GF_OK);
	CHECK(pending(g, 300) & SIGBIT(9));
	guest_free(g);
	g = world_new(4, 0);
	e.k = &g->k;
	m = modules_new(g);
	/* SIGKILL to `app`, past a helper that never answers */
	fuzz_seed("fuzz_ram", "world-helper", g, NULL, 100, IMAGE_WRITABLE | 9 << 8);
	o.dry_run = 1;
	operator_signal_all(&e, &o, "", s, 1);
	CHECK_HAS(s[0].msg, "would send SIGKILL to 100");
	CHECK_EQ(pending(g, 100), 0);
	o.dry_run = 0;
	operator_signal_all(&e, &o, "", s, 1);
	CHECK_EQ(s[0].err, GF_OK);
	CHECK_HAS(s[0].msg, "(the in-OS helper gave no answer in 140 ms)");
	CHECK(pending(g, 100) & SIGBIT(9));
	CHECK_EQ(r32(g, m.mailbox + offsetof(struct gfh_mailbox, rq_seq)), 1);
	guest_free(g);
}

/* The watch loop's recovery through the helper: posted, nothing written;
 * answered done, followed as ever; unanswered for HELPER_WAIT_S (0.2 s),
 * the pseudo-signal instead. */
static void test_recover_through_helper(void)
{
	struct guest *g = world_new(4, 0);
	struct modules m = modules_new(g);
	volatile struct gfh_mailbox *mb = (volatile struct gfh_mailbox *)(void *)
		host(g, fixture_pa(g, m.mailbox), offsetof(struct gfh_mailbox, slot[1]));
	struct gf_verdict v[GF_NCLASSES] = { 0 };
	struct gf_policy p;
	struct gf_recovery rs = { 0 };
	struct gf_report out[4];

	gf_policy_defaults(&p);
	g->k.helper = m.mailbox;
	v[GF_MEMORY] = memory_verdict(100, 200, "app");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 10, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].path, GF_PATH_HELPER);
	CHECK_EQ(out[0].state, 'R'); /* the victim's state, as the walk read it */
	CHECK_EQ(mb->rq_magic, GFH_RQ_MAGIC);
	CHECK_EQ(mb->rq_count, 1);
	CHECK_EQ(mb->slot[0].pid, 100);
	CHECK_EQ(mb->slot[0].sig, 9);
	CHECK_EQ(mb->slot[0].start_time, 200);
	CHECK_EQ(mb->rq_seq, 1);
	CHECK_EQ(pending(g, 100), 0);
	mb->slot[0].result = GFH_DONE;
	mb->ans_seq = 1;
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.1, out, 4), 0);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 10.5, out, 4), 0);
	CHECK_EQ(pending(g, 100), 0);
	w32(g, task_va(g, 100) + T_EXIT_STATE, EXIT_ZOMBIE);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 11, out, 4) == 1);
	CHECK_EQ(out[0].outcome, GF_EXITED);
	v[GF_MEMORY] = memory_verdict(300, 400, "stopped");
	REQUIRE(recover_step(&p, &rs, &g->k, v, 20, out, 4) == 1);
	CHECK_EQ(out[0].path, GF_PATH_HELPER);
	CHECK_EQ(mb->rq_seq, 2);
	CHECK_EQ(recover_step(&p, &rs, &g->k, v, 20.1, out, 4), 0);
	CHECK_EQ(pending(g, 300), 0);
	REQUIRE(recover_step(&p, &rs, &g->k, v, 20.25, out, 4) == 1);
	CHECK_EQ(out[0].kind, GF_ACTION);
	CHECK_EQ(out[0].path, GF_PATH_PSEUDO);
	CHECK(pending(g, 300) & SIGBIT(9));
	CHECK_EQ(mb->rq_seq, 2);
	guest_free(g);
}

static const struct test tests[] = {
	T(helper_found),
	T(helper_not_found),
	T(helper_request),
	T(operator_signal_all),
	T(recover_through_helper),
};

const struct suite suite_helper = SUITE(tests);
