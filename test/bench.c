/* test/bench.c — times attach (kernel discovery) and task snapshots on
 * live targets, in this process, so the figures hold no process start-up.
 *
 *   test/bench [--gpu] [--runs N] TARGET
 *       attach; snapshots of every thread and every process with the CPU
 *       engine and, with --gpu, the GPU engine in the same run
 *   test/bench --monitor SECONDS TARGET
 *       the GPU engine snapshotting at 10 Hz: host CPU time it costs
 *   test/bench --fleet [--runs N] TARGET...
 *       one GPU monitor serving every target: the time of a round in which
 *       all of them are snapshotted at once (under 100 ms: kept at 10 Hz)
 *
 * Prints one line per measure: name, runs, min, median, max (ms) and the
 * number of tasks seen. Used by test/bench.py, which provides the guests.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../gpufas.h"

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

static int bench_attach(const struct gf_target *t, double *ms, int runs)
{
	struct gf_config cfg;
	struct gf_attach a;
	char err[512];

	config_defaults(&cfg);
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		if (gf_attach(&a, t, &cfg, err, sizeof err)) {
			fprintf(stderr, "bench: attach: %s\n", err);
			return -1;
		}
		ms[i] = now_ms() - t0;
		gf_detach(&a);
	}
	report("attach", ms, runs, 0);
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
			struct gf_attach *a)
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

static int snapshots(const struct gf_target *t, const struct gf_attach *a,
		     int gpu, double *ms, int runs)
{
	struct gf_engine e;
	char msg[512];
	int rc;

	if (engines_open(&e, 1, "cpu", 0, t, a, msg, sizeof msg))
		return -1;
	rc = bench_snapshot(&e, 1, ms, runs) || bench_snapshot(&e, 0, ms, runs);
	if (rc || !gpu)
		return rc ? -1 : 0;
	if (engines_open(&e, 1, "gpu", 0, t, a, msg, sizeof msg)) {
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

/* What the host pays while the GPU monitors: one snapshot request every
 * 100 ms (on a fixed beat, not 100 ms after the last answer), its answer
 * copied out, nothing else. */
static int monitor(const struct gf_target *t, const struct gf_attach *a,
		   int seconds)
{
	struct timespec beat;
	struct gf_engine e;
	char msg[512];
	double cpu0, wall0;
	int n = seconds * 10;

	if (engines_open(&e, 1, "gpu", 0, t, a, msg, sizeof msg)) {
		fprintf(stderr, "bench: GPU engine: %s\n", msg);
		return -1;
	}
	cpu0 = cpu_seconds();
	wall0 = now_ms();
	clock_gettime(CLOCK_MONOTONIC, &beat);
	for (int i = 0; i < n; i++) {
		struct gf_task *tasks;
		uint32_t count;
		if (engine_snapshot(&e, 1, &tasks, &count))
			break;
		free(tasks);
		beat.tv_nsec += 100 * 1000 * 1000;
		if (beat.tv_nsec >= 1000 * 1000 * 1000) {
			beat.tv_sec++;
			beat.tv_nsec -= 1000 * 1000 * 1000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &beat, NULL);
	}
	printf("monitor 10 Hz: %d snapshots in %.1f s, host CPU %.3f s = %.3f %% "
	       "of one core\n", n, (now_ms() - wall0) / 1e3, cpu_seconds() - cpu0,
	       100 * (cpu_seconds() - cpu0) / ((now_ms() - wall0) / 1e3));
	engines_close(&e, 1);
	return 0;
}

/* All targets snapshotted at once, each by its own block of the monitor. */
static int fleet(const struct gf_target *t, const struct gf_attach *a, int n,
		 double *ms, int runs)
{
	struct gf_engine *e = calloc(n, sizeof *e);
	char msg[512], name[64];
	uint32_t tasks = 0;
	int rc = -1;

	if (!e || engines_open(e, n, "gpu", 0, t, a, msg, sizeof msg)) {
		fprintf(stderr, "bench: GPU engine: %s\n", e ? msg : "no memory");
		free(e);
		return -1;
	}
	for (int r = 0; r < runs; r++) {
		double t0 = now_ms();
		tasks = 0;
		for (int i = 0; i < n; i++)
			gpu_post(e[i].gpu, e[i].slot, GF_OP_SNAPSHOT, 1, NULL);
		for (int i = 0; i < n; i++) {
			struct gf_task *out;
			uint32_t count;
			if (gpu_wait(e[i].gpu, e[i].slot) ||
			    gpu_snapshot_result(e[i].gpu, e[i].slot, &out, &count))
				goto out;
			tasks += count;
			free(out);
		}
		ms[r] = now_ms() - t0;
	}
	snprintf(name, sizeof name, "fleet round, %d targets", n);
	report(name, ms, runs, tasks);
	rc = 0;
out:
	engines_close(e, n);
	free(e);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gpu", no_argument, NULL, 'g' },
		{ "runs", required_argument, NULL, 'r' },
		{ "monitor", required_argument, NULL, 'm' },
		{ "fleet", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int gpu = 0, runs = 50, watch = 0, many = 0, n, c, rc = 1;
	struct gf_target *t;
	struct gf_attach *a;
	double *ms;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': gpu = 1; break;
		case 'r': runs = atoi(optarg); break;
		case 'm': watch = atoi(optarg); break;
		case 'f': many = 1; break;
		default: return 2;
		}
	}
	n = argc - optind;
	if (n < 1 || runs < 1 || (n > 1 && !many) || n > GF_MAX_TARGETS) {
		fprintf(stderr, "usage: see the top of test/bench.c\n");
		return 2;
	}
	t = calloc(n, sizeof *t);
	a = calloc(n, sizeof *a);
	ms = malloc(runs * sizeof *ms);
	if (!t || !a || !ms || open_targets(argv + optind, n, t, a))
		return 1;
	if (many)
		rc = fleet(t, a, n, ms, runs);
	else if (watch)
		rc = monitor(t, a, watch);
	else
		rc = bench_attach(t, ms, runs) || snapshots(t, a, gpu, ms, runs);
	for (int i = 0; i < n; i++) {
		gf_detach(&a[i]);
		target_close(&t[i]);
	}
	free(t);
	free(a);
	free(ms);
	return rc ? 1 : 0;
}
