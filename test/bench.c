/* test/bench.c — times attach (kernel discovery) and task snapshots on a
 * live target, in this process, so the figures hold no process start-up.
 *
 *   test/bench TARGET [RUNS]
 *
 * Prints one line per measure: name, runs, min, median, max in ms, and the
 * number of tasks seen. Used by test/bench.py, which provides the guest.
 */
#include <stdlib.h>
#include <string.h>
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
	printf("%-20s runs %4d  min %8.3f  median %8.3f  max %8.3f ms",
	       name, runs, ms[0], ms[runs / 2], ms[runs - 1]);
	printf(tasks ? "  tasks %u\n" : "\n", tasks);
}

static int bench_attach(const struct gf_target *t, const struct gf_config *cfg,
			double *ms, int runs)
{
	struct gf_attach a;
	char err[512];

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		if (gf_attach(&a, t, cfg, err, sizeof err)) {
			fprintf(stderr, "bench: attach: %s\n", err);
			return -1;
		}
		ms[i] = now_ms() - t0;
		gf_detach(&a);
	}
	report("attach", ms, runs, 0);
	return 0;
}

static int bench_snapshot(const struct gf_kernel *k, int threads, double *ms,
			  int runs)
{
	uint32_t n = 0;

	for (int i = 0; i < runs; i++) {
		struct gf_task *tasks;
		double t0 = now_ms();
		int err = engine_snapshot(k, threads, &tasks, &n);
		ms[i] = now_ms() - t0;
		if (err) {
			fprintf(stderr, "bench: snapshot: %s\n", gf_strerror(err));
			return -1;
		}
		free(tasks);
	}
	report(threads ? "snapshot threads" : "snapshot processes", ms, runs, n);
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 50;
	struct gf_target t;
	struct gf_config cfg;
	struct gf_attach a;
	char err[512];
	double *ms;
	int rc = 1;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: test/bench TARGET [RUNS]\n");
		return 2;
	}
	config_defaults(&cfg);
	if (!(ms = malloc(runs * sizeof *ms)) || target_open(&t, argv[1], 0))
		return 1;
	if (bench_attach(&t, &cfg, ms, runs) ||
	    gf_attach(&a, &t, &cfg, err, sizeof err))
		goto out;
	if (!bench_snapshot(&a.k, 1, ms, runs) && !bench_snapshot(&a.k, 0, ms, runs))
		rc = 0;
	gf_detach(&a);
out:
	target_close(&t);
	free(ms);
	return rc;
}
