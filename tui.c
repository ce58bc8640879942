/* tui.c — the live view: the target's processes, refreshed, busiest first.
 *
 * ncurses through newterm(), which reports a missing terminal as an error
 * where initscr() would exit. Each refresh re-reads guest memory; when the
 * kernel goes away (reboot, shutdown) the view says so and re-attaches.
 */
#include <curses.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpufas.h"

struct view {
	const char *spec, *engine_kind;
	int gpu;
	const struct gf_config *cfg;
	struct gf_target target;
	struct gf_attach attach;
	struct gf_engine engine;
	char engine_note[512]; /* why not the GPU, when auto chose the CPU */
	int attached;
	struct gf_task *now, *before;
	uint32_t nnow, nbefore;
	double t_now, t_before;
	double *cpu_pct; /* per entry of now */
	char status[600];
};

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int by_pid(const void *a, const void *b)
{
	const struct gf_task *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void detach(struct view *v)
{
	if (!v->attached)
		return;
	engines_close(&v->engine, 1);
	gf_detach(&v->attach);
	target_close(&v->target);
	v->attached = 0;
}

static int attach(struct view *v)
{
	char err[512];

	if (target_open(&v->target, v->spec, 0)) {
		snprintf(v->status, sizeof v->status, "%s", v->target.error);
		return -1;
	}
	if (gf_attach(&v->attach, &v->target, v->cfg, err, sizeof err)) {
		snprintf(v->status, sizeof v->status, "%s", err);
		target_close(&v->target);
		return -1;
	}
	if (engines_open(&v->engine, 1, v->engine_kind, v->gpu, &v->target,
			 &v->attach, v->engine_note, sizeof v->engine_note)) {
		snprintf(v->status, sizeof v->status, "%s", v->engine_note);
		gf_detach(&v->attach);
		target_close(&v->target);
		return -1;
	}
	v->attached = 1;
	return 0;
}

/* CPU % of each process since the last sample, matched by pid and start
 * time, so a reused pid starts from zero. */
static void compute_cpu(struct view *v)
{
	double dt = v->t_now - v->t_before;

	for (uint32_t i = 0; i < v->nnow; i++) {
		const struct gf_task *t = &v->now[i];
		const struct gf_task *p = v->before
			? bsearch(t, v->before, v->nbefore, sizeof *t, by_pid) : NULL;
		v->cpu_pct[i] = 0;
		if (p && p->start_time == t->start_time && dt > 0 &&
		    t->cpu_ns >= p->cpu_ns)
			v->cpu_pct[i] = (double)(t->cpu_ns - p->cpu_ns) / 1e7 / dt;
	}
}

static int sample(struct view *v)
{
	struct gf_task *tasks;
	uint32_t n;
	int err;

	if (!v->attached && attach(v))
		return -1;
	if ((err = engine_snapshot(&v->engine, 0, &tasks, &n))) {
		snprintf(v->status, sizeof v->status, "lost the kernel (%s); "
			 "re-attaching", gf_strerror(err));
		detach(v);
		return -1;
	}
	qsort(tasks, n, sizeof *tasks, by_pid);
	free(v->before);
	v->before = v->now;
	v->nbefore = v->nnow;
	v->t_before = v->t_now;
	v->now = tasks;
	v->nnow = n;
	v->t_now = seconds();
	free(v->cpu_pct);
	v->cpu_pct = calloc(n ? n : 1, sizeof *v->cpu_pct);
	if (v->cpu_pct)
		compute_cpu(v);
	v->status[0] = 0;
	return 0;
}

static const struct view *sort_view;

/* Busiest first, then largest, then by pid. */
static int by_load(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct view *v = sort_view;
	double d = v->cpu_pct[j] - v->cpu_pct[i];

	if (d != 0)
		return d > 0 ? 1 : -1;
	if (v->now[i].rss_pages != v->now[j].rss_pages)
		return v->now[j].rss_pages > v->now[i].rss_pages ? 1 : -1;
	return v->now[i].pid - v->now[j].pid;
}

static void draw_header(const struct view *v)
{
	const struct gf_attach *a = &v->attach;

	attron(A_BOLD);
	mvprintw(0, 0, "gpufas %s", v->spec);
	attroff(A_BOLD);
	if (v->attached)
		mvprintw(1, 0, "Linux %s  %u CPUs  %" PRIu64 " MiB  %u processes  "
			 "engine: %s", a->release, a->ncpus, a->ram_bytes >> 20,
			 v->nnow, v->engine.name);
	if (v->status[0] || v->engine_note[0]) {
		attron(A_REVERSE);
		mvprintw(2, 0, "%.*s", COLS, v->status[0] ? v->status : v->engine_note);
		attroff(A_REVERSE);
	}
}

static void draw_table(const struct view *v)
{
	uint32_t *order = malloc((v->nnow ? v->nnow : 1) * sizeof *order);
	int rows = LINES - 5;

	if (!order || !v->cpu_pct)
		goto out;
	for (uint32_t i = 0; i < v->nnow; i++)
		order[i] = i;
	sort_view = v;
	qsort(order, v->nnow, sizeof *order, by_load);
	attron(A_REVERSE);
	mvprintw(3, 0, "%7s %7s S %6s %9s %4s %-16s", "PID", "PPID", "CPU%",
		 "RSS_KB", "THR", "COMM");
	attroff(A_REVERSE);
	for (int r = 0; r < rows && (uint32_t)r < v->nnow; r++) {
		const struct gf_task *t = &v->now[order[r]];
		mvprintw(4 + r, 0, "%7d %7d %c %6.1f %9" PRIu64 " %4d %s%.16s%s",
			 t->pid, t->ppid, t->state, v->cpu_pct[order[r]],
			 t->rss_pages * 4, t->threads, t->kthread ? "[" : "",
			 t->comm, t->kthread ? "]" : "");
	}
out:
	free(order);
}

static void draw(const struct view *v)
{
	erase();
	draw_header(v);
	draw_table(v);
	attron(A_REVERSE);
	mvprintw(LINES - 1, 0, "q quit");
	attroff(A_REVERSE);
	refresh();
}

int tui_run(const char *spec, const char *engine, int gpu,
	    const struct gf_config *cfg, double interval)
{
	struct view v = { .spec = spec, .engine_kind = engine, .gpu = gpu,
			  .cfg = cfg };
	SCREEN *scr;
	int key = 0;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "gpufas: the live view needs a terminal "
				"(use --ps for a one-shot listing)\n");
		return 1;
	}
	if (!(scr = newterm(NULL, stdout, stdin))) {
		fprintf(stderr, "gpufas: cannot use terminal type '%s'\n",
			getenv("TERM") ? getenv("TERM") : "(unset)");
		return 1;
	}
	cbreak();
	noecho();
	curs_set(0);
	timeout((int)(interval * 1000));
	while (key != 'q' && key != 'Q') {
		sample(&v);
		draw(&v);
		key = getch();
	}
	endwin();
	delscreen(scr);
	detach(&v);
	free(v.now);
	free(v.before);
	free(v.cpu_pct);
	return 0;
}
