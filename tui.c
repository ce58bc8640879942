/* tui.c — the dashboard: one target's processes, refreshed, busiest first.
 *
 * It draws from a gf_source (a local agent's hub, or a remote agent), so
 * it never reads guest memory itself. ncurses through newterm(), which
 * reports a missing terminal as an error where initscr() would exit.
 */
#include <curses.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpufas.h"

#define REFRESH_MS 1000
#define MAX_TASKS 65536

struct view {
	const struct gf_source *src;
	struct gf_board board;
	struct gf_board_task *tasks;
	uint32_t ntasks;
};

/* Busiest first, then largest, then by pid. */
static int by_load(const void *a, const void *b)
{
	const struct gf_board_task *x = a, *y = b;

	if (x->cpu_pct != y->cpu_pct)
		return x->cpu_pct < y->cpu_pct ? 1 : -1;
	if (x->t.rss_pages != y->t.rss_pages)
		return x->t.rss_pages < y->t.rss_pages ? 1 : -1;
	return x->t.pid - y->t.pid;
}

static void sample(struct view *v)
{
	if (v->src->board(v->src->ctx, 0, &v->board))
		return;
	v->src->tasks(v->src->ctx, 0, v->tasks, MAX_TASKS, &v->ntasks);
	qsort(v->tasks, v->ntasks, sizeof *v->tasks, by_load);
}

static void draw_header(const struct view *v)
{
	const struct gf_board *b = &v->board;

	attron(A_BOLD);
	mvprintw(0, 0, "gpufas %s", b->target);
	attroff(A_BOLD);
	if (b->attached)
		mvprintw(1, 0, "Linux %s  %u CPUs  %" PRIu64 " MiB  %u processes  "
			 "engine: %s", b->release, b->rates.ncpus,
			 b->mem_total_kib >> 10, b->nprocs, b->engine);
	if (b->status[0]) {
		attron(A_REVERSE);
		mvprintw(2, 0, "%.*s", COLS, b->status);
		attroff(A_REVERSE);
	}
}

static void draw_table(const struct view *v)
{
	int rows = LINES - 5;

	attron(A_REVERSE);
	mvprintw(3, 0, "%7s %7s S %6s %9s %4s %-16s", "PID", "PPID", "CPU%",
		 "RSS_KB", "THR", "COMM");
	attroff(A_REVERSE);
	for (int r = 0; r < rows && (uint32_t)r < v->ntasks; r++) {
		const struct gf_board_task *bt = &v->tasks[r];
		const struct gf_task *t = &bt->t;
		mvprintw(4 + r, 0, "%7d %7d %c %6.1f %9" PRIu64 " %4d %s%.16s%s",
			 t->pid, t->ppid, t->state, bt->cpu_pct, t->rss_pages * 4,
			 t->threads, t->kthread ? "[" : "", t->comm,
			 t->kthread ? "]" : "");
	}
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

int tui_run(const struct gf_source *src, volatile sig_atomic_t *stop)
{
	struct view v = { .src = src };
	SCREEN *scr;
	int key = 0;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "gpufas: the dashboard needs a terminal "
				"(--headless for the agent without one, --ps for a "
				"one-shot listing)\n");
		return 1;
	}
	if (!(v.tasks = malloc(MAX_TASKS * sizeof *v.tasks))) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	if (!(scr = newterm(NULL, stdout, stdin))) {
		fprintf(stderr, "gpufas: cannot use terminal type '%s'\n",
			getenv("TERM") ? getenv("TERM") : "(unset)");
		free(v.tasks);
		return 1;
	}
	cbreak();
	noecho();
	curs_set(0);
	timeout(REFRESH_MS);
	while (key != 'q' && key != 'Q' && !*stop) {
		sample(&v);
		draw(&v);
		key = getch();
	}
	endwin();
	delscreen(scr);
	free(v.tasks);
	return 0;
}
