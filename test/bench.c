/* test/bench.c — times attach (kernel discovery) and task snapshots on
 * live targets, in this process, so the figures hold no process start-up.
 *
 *   test/bench [--gpu] [--runs N] TARGET
 *       attach cold (full discovery) and warm (from the cached profile, in
 *       $GPUFAS_CACHE); snapshots of every thread and every process with
 *       the CPU engine and, with --gpu, the GPU engine in the same run
 *   test/bench --monitor SECONDS TARGET...
 *       the GPU running the watch loop of every target by itself, the host
 *       only reading what it publishes: the steps each loop makes a second
 *       (10: kept at 10 Hz) and the host CPU time it costs
 *
 * Prints one line per measure: name, runs, min, median, max (ms) and the
 * number of tasks seen. Used by test/bench.py, which provides the guests.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../config.h"
#include "../core.h"
#include "../discover.h"
#include "../engine.h"
#include "../gpu.h"
#include "../gpufas.h"
#include "../loop.h"
#include "../target.h"
#include "../watch.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *name, double *ms, int runs, uint32_t tasks)
{
	qsort(ms, runs, sizeof *ms, by_value);
	printf("%-28s runs %4d  min %9.3f  median %9.3f  max %9.3f ms",
	       name, runs, ms[0], ms[runs / 2], ms[runs - 1]);
	printf(tasks ? "  tasks %u\n" : "\n", tasks);
}

/* Attach runs, cold (full discovery: --no-cache) or warm (from the
 * profile that a first attach keeps in $GPUFAS_CACHE). */
static int bench_attach(const struct gf_target *t, int warm, double *ms, int runs)
{
	struct gf_config cfg;
	struct gf_attachment a;
	char err[512];

	config_defaults(&cfg);
	cfg.no_cache = !warm;
	for (int i = -warm; i < runs; i++) { /* warm: one more first, to keep it */
		double t0 = now_ms();
		if (gf_attach(&a, t, &cfg, err, sizeof err)) {
			fprintf(stderr, "bench: attach: %s\n", err);
			return -1;
		}
		if (i >= 0)
			ms[i] = now_ms() - t0;
		if (a.note[0])
			fprintf(stderr, "bench: note: %s\n", a.note);
		if (i >= 0 && warm && strcmp(a.layout_source, "profile-cache")) {
			fprintf(stderr, "bench: attach did not use the profile\n");
			gf_detach(&a);
			return -1;
		}
		gf_detach(&a);
	}
	report(warm ? "attach warm" : "attach cold", ms, runs, 0);
	return 0;
}

static int bench_snapshot(const struct gf_engine *e, int threads, double *ms,
			  int runs)
{
	char name[64];
	uint32_t n = 0;

	for (int i = 0; i < runs; i++) {
		struct gf_task *tasks;
		double t0 = now_ms();
		int err = engine_snapshot(e, threads, &tasks, &n);
		ms[i] = now_ms() - t0;
		if (err) {
			fprintf(stderr, "bench: snapshot: %s\n", gf_strerror(err));
			return -1;
		}
		free(tasks);
	}
	snprintf(name, sizeof name, "%s snapshot %s", e->gpu ? "gpu" : "cpu",
		 threads ? "threads" : "processes");
	report(name, ms, runs, n);
	return 0;
}

/* Opens and attaches every target; the caller closes them. */
static int open_targets(char **specs, int n, struct gf_target *t,
			struct gf_attachment *a)
{
	struct gf_config cfg;
	char err[512];

	config_defaults(&cfg);
	for (int i = 0; i < n; i++) {
		if (target_open(&t[i], specs[i], 0)) {
			fprintf(stderr, "bench: %s\n", t[i].error);
			return -1;
		}
		if (gf_attach(&a[i], &t[i], &cfg, err, sizeof err)) {
			fprintf(stderr, "bench: %s: %s\n", specs[i], err);
			return -1;
		}
	}
	return 0;
}

static int snapshots(const struct gf_target *t, const struct gf_attachment *a,
		     int gpu, double *ms, int runs)
{
	struct gf_engine e;
	char msg[512];
	int rc;

	if (engines_open(&e, 1, "cpu", 0, t, a, NULL, NULL, msg, sizeof msg))
		return -1;
	rc = bench_snapshot(&e, 1, ms, runs) || bench_snapshot(&e, 0, ms, runs);
	if (rc || !gpu)
		return rc ? -1 : 0;
	if (engines_open(&e, 1, "gpu", 0, t, a, NULL, NULL, msg, sizeof msg)) {
		fprintf(stderr, "bench: GPU engine: %s\n", msg);
		return -1;
	}
	printf("gpu: %s\n", e.name);
	rc = bench_snapshot(&e, 1, ms, runs) || bench_snapshot(&e, 0, ms, runs);
	engines_close(&e, 1);
	return rc ? -1 : 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sleep_until(struct timespec *beat, long ns)
{
	beat->tv_nsec += ns;
	while (beat->tv_nsec >= 1000 * 1000 * 1000) {
		beat->tv_sec++;
		beat->tv_nsec -= 1000 * 1000 * 1000;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, beat, NULL);
}

/* The GPU running the watch loop of every target at [agent] interval_ms,
 * the host doing what the agent's loop does every 100 ms: a heartbeat,
 * the events read and a copy of each publication. Prints the host CPU
 * that costs, and the steps each target's loop made a second. */
static int monitor(const struct gf_target *t, const struct gf_attachment *a, int n,
		   int seconds)
{
	struct gf_engine *e = calloc(n, sizeof *e);
	uint64_t *next = calloc(n, sizeof *next), *steps = calloc(n, sizeof *steps);
	double *rate = calloc(n, sizeof *rate), cpu0 = 0, wall0 = 0, wall;
	struct gf_loop_event *ev = calloc(GF_EVENT_RING, sizeof *ev);
	struct gf_loop_params lp;
	struct gf_config cfg;
	struct gf_pub *copy;
	struct timespec beat;
	char msg[512];
	uint64_t lost;

	config_defaults(&cfg);
	if (!e || !next || !steps || !rate || !ev ||
	    loop_params_from(&cfg, "dump", &lp, msg, sizeof msg) ||
	    !(copy = malloc(gf_pub_size(&lp))) ||
	    engines_open(e, n, "gpu", 0, t, a, &lp, NULL, msg, sizeof msg)) {
		fprintf(stderr, "bench: GPU engine: %s\n", msg);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &beat);
	for (int round = -10; round < seconds * 10; round++) { /* 1 s to settle */
		if (round == 0) {
			cpu0 = cpu_seconds();
			wall0 = now_ms();
			for (int i = 0; i < n; i++)
				steps[i] = engine_read(&e[i], copy) ? 0 : copy->steps;
		}
		for (int i = 0; i < n; i++) {
			engine_step(&e[i]);
			engine_events(&e[i], &next[i], ev, GF_EVENT_RING, &lost);
			engine_read(&e[i], copy);
		}
		sleep_until(&beat, 100 * 1000 * 1000);
	}
	wall = (now_ms() - wall0) / 1e3;
	for (int i = 0; i < n; i++)
		rate[i] = engine_read(&e[i], copy) ? 0 : (copy->steps - steps[i]) / wall;
	qsort(rate, n, sizeof *rate, by_value);
	printf("monitor, %d targets at %.0f ms: steps/s min %.1f median %.1f max %.1f; "
	       "host CPU %.3f %% of one core; %u tasks each\n", n, lp.interval_s * 1e3,
	       rate[0], rate[n / 2], rate[n - 1],
	       100 * (cpu_seconds() - cpu0) / wall, copy->ntasks);
	engines_close(e, n);
	free(copy);
	free(ev);
	free(rate);
	free(steps);
	free(next);
	free(e);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gpu", no_argument, NULL, 'g' },
		{ "runs", required_argument, NULL, 'r' },
		{ "monitor", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int gpu = 0, runs = 50, watch = 0, n, c, rc = 1;
	struct gf_target *t;
	struct gf_attachment *a;
	double *ms;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': gpu = 1; break;
		case 'r': runs = atoi(optarg); break;
		case 'm': watch = atoi(optarg); break;
		default: return 2;
		}
	}
	n = argc - optind;
	if (n < 1 || runs < 1 || (n > 1 && !watch) || n > GF_MAX_TARGETS) {
		fprintf(stderr, "usage: see the top of test/bench.c\n");
		return 2;
	}
	t = calloc(n, sizeof *t);
	a = calloc(n, sizeof *a);
	ms = malloc(runs * sizeof *ms);
	if (!t || !a || !ms || open_targets(argv + optind, n, t, a))
		return 1;
	if (watch)
		rc = monitor(t, a, n, watch);
	else
		rc = bench_attach(t, 0, ms, runs) || bench_attach(t, 1, ms, runs) ||
		     snapshots(t, a, gpu, ms, runs);
	for (int i = 0; i < n; i++) {
		gf_detach(&a[i]);
		target_close(&t[i]);
	}
	free(t);
	free(a);
	free(ms);
	return rc ? 1 : 0;
}
