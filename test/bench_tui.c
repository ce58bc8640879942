/* test/bench_tui.c — the real tui_run on a synthetic source, for the
 * benchmark and for the dashboard's tests of sources no guest gives.
 *
 *   test/bench_tui [OPTIONS] SECONDS RESULT_FILE
 *     --targets N   N targets (default 1); the second says it cannot attach
 *     --read-only   no signal(): a read-only session
 *     --fail-after N  board() and tasks() fail from the Nth call on, as a
 *                   remote agent that went away
 *     --panic       the first target has panicked, its last log lines kept
 *     --garbage     boards and processes of random bytes, as a hostile peer
 *                   could send (board_sanitize() is all they get)
 *
 * By default: 1 000 processes on 4 CPUs at the dashboard's 10 Hz, in
 * whatever terminal it is started in (test/bench.py gives it a tmux pane),
 * for SECONDS; then the CPU time this process used, from getrusage. Every
 * tick the source changes what a live one would (CPU %, memory, rates,
 * sparklines), so each frame redraws for real. RESULT_FILE gets one line:
 * "seconds S cpu_s C ticks T processes N".
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../board.h"
#include "../clock.h"
#include "../detect.h"
#include "../gpufas.h"
#include "../hub.h"
#include "../signals.h"
#include "../tui.h"

#define NPROCS 1000
#define NCPUS 4

static atomic_int stop; /* lock-free: SIGALRM's handler sets it */
static unsigned long calls;
static unsigned long fail_after; /* 0: never */
static int panicked, garbage;

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

/* A cheap, repeatable wobble in [0, 1). */
static double wobble(unsigned long seed)
{
	seed = seed * 6364136223846793005ul + 1442695040888963407ul;
	return (double)(seed >> 11) / (double)(1ul << 53);
}

static void random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)random();
}

static int failing(void)
{
	return fail_after && calls >= fail_after;
}

/* The second target and on: a guest that is not there. */
static void absent(struct gf_board *b, int target)
{
	char name[64];

	snprintf(name, sizeof name, "vm:/dev/shm/absent-%d.ram", target);
	board_init(b, name);
	snprintf(b->status, sizeof b->status, "%s: No such file or directory", name + 3);
}

static void panic(struct gf_board *b)
{
	b->verdict[GF_PANIC].active = 1;
	snprintf(b->panic_log, sizeof b->panic_log, "sysrq: Trigger a crash\n"
		 "Kernel panic - not syncing: sysrq triggered crash\n"
		 "CPU: 0 PID: 1 Comm: sh Not tainted 6.12.0-synthetic\n");
}

static int synthetic_board(void *ctx, int target, struct gf_board *b)
{
	(void)ctx;
	if (failing())
		return GF_EBUSY;
	if (garbage) {
		random_bytes(b, sizeof *b);
		return GF_OK;
	}
	if (target > 0) {
		absent(b, target);
		return GF_OK;
	}
	board_init(b, "vm:/dev/shm/synthetic.ram");
	snprintf(b->release, sizeof b->release, "6.12.0-synthetic");
	snprintf(b->engine, sizeof b->engine, "CPU");
	b->attached = b->has_metrics = 1;
	b->sampled = gf_now_wall();
	b->hz = 250;
	b->uptime_s = 3600 + calls / 10.0;
	b->nprocs = NPROCS;
	b->rates = (struct gf_rates){ .seconds = 1, .ncpus = NCPUS, .online = NCPUS,
				      .jiffies = 250, .running = 3 };
	for (int c = 0; c < NCPUS; c++)
		b->rates.cpu[c] = (struct gf_cpu_rates){ .online = 1,
			.usr = 0.5 * wobble(calls + c), .sys = 0.2 * wobble(calls * 7 + c) };
	b->rates.cs = 1000 + 500 * wobble(calls);
	b->mem_total_kib = 4 << 20;
	b->mem_available_kib = (uint64_t)((1 << 20) * (1 + wobble(calls)));
	b->mem_free_kib = b->mem_available_kib / 2;
	b->nhistory = GF_BOARD_HISTORY;
	for (int i = 0; i < GF_BOARD_HISTORY; i++) {
		b->hist_available_pct[i] = (float)(100 * wobble(calls / 10 + i));
		b->hist_cpu_pct[i] = (float)(100 * wobble(calls / 10 + 2 * i));
	}
	gf_detect_defaults(&b->thresholds);
	if (panicked)
		panic(b);
	calls++;
	return GF_OK;
}

static int synthetic_tasks(void *ctx, int target, struct gf_board_task *out,
			   uint32_t cap, uint32_t *count)
{
	(void)ctx;
	*count = 0;
	if (failing())
		return GF_EBUSY;
	if (target > 0)
		return GF_ESRCH;
	if (garbage) {
		random_bytes(out, (cap < NPROCS ? cap : NPROCS) * sizeof *out);
		random_bytes(count, sizeof *count); /* a count past cap, too */
		return GF_OK;
	}
	*count = cap < NPROCS ? cap : NPROCS;
	for (uint32_t i = 0; i < *count; i++) {
		struct gf_board_task *t = &out[i];
		memset(t, 0, sizeof *t);
		t->t.pid = t->t.tgid = (int32_t)i + 1;
		t->t.ppid = 1;
		t->t.state = i % 7 ? 'S' : 'R';
		t->t.threads = 1 + (int32_t)(i % 5);
		t->t.rss_pages = 100 + i * 37;
		t->t.start_time = i;
		snprintf(t->t.comm, sizeof t->t.comm, "worker-%u", (uint16_t)i);
		t->cpu_pct = (float)(10 * wobble(calls + i));
		t->culprit = i == 500;
	}
	return *count < NPROCS ? GF_ENOSPC : GF_OK;
}

static void synthetic_link(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	snprintf(buf, len, failing() ? "tcp synthetic:7070 down (no heartbeat for 3 s)"
				     : "tcp synthetic:7070 up, rtt 0.4 ms");
}

static int synthetic_signal(void *ctx, int target, int32_t pid, uint64_t start_time,
			    int sig, char *msg, size_t len)
{
	(void)ctx;
	(void)start_time;
	snprintf(msg, len, "synthetic: SIG%s to %d on target %d", signal_name(sig), pid,
		 target + 1);
	return GF_OK;
}

static int parse(int argc, char **argv, struct gf_source *src, int *seconds)
{
	static const struct option longopts[] = {
		{ "targets", required_argument, NULL, 't' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "fail-after", required_argument, NULL, 'f' },
		{ "panic", no_argument, NULL, 'p' },
		{ "garbage", no_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': src->ntargets = atoi(optarg); break;
		case 'r': src->signal = NULL; break;
		case 'f': fail_after = strtoul(optarg, NULL, 10); break;
		case 'p': panicked = 1; break;
		case 'g': garbage = 1; break;
		default: return -1;
		}
	}
	if (argc - optind != 2 || (*seconds = atoi(argv[optind])) < 1)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct gf_source src = {
		.ntargets = 1, .board = synthetic_board, .tasks = synthetic_tasks,
		.signal = synthetic_signal, .link = synthetic_link,
	};
	struct sigaction sa = { .sa_handler = on_alarm };
	struct rusage ru;
	int seconds, rc;
	double cpu;
	FILE *f;

	if (parse(argc, argv, &src, &seconds)) {
		fprintf(stderr, "usage: test/bench_tui [--targets N] [--read-only] "
			"[--fail-after N] [--panic] [--garbage] SECONDS RESULT_FILE\n");
		return 2;
	}
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)seconds);
	rc = tui_run(&src, &stop);
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	      ru.ru_stime.tv_usec / 1e6;
	if (rc || !(f = fopen(argv[argc - 1], "w")))
		return 1;
	fprintf(f, "seconds %d cpu_s %.3f ticks %lu processes %d\n", seconds, cpu, calls,
		NPROCS);
	fclose(f);
	return 0;
}
