/* tui.c — the dashboard: an htop-class view of every target an agent
 * watches, drawn from a gf_source (the local agent's hub, or a remote
 * agent through --view), so it never reads guest memory itself.
 *
 * This file holds the loop, the keys and the process list (filter, sort,
 * a selection that follows its process); tui_draw.c draws. The source is
 * asked at 10 Hz; a source that cannot answer is shown as such and asked
 * again, the dashboard never stops for it. Signals go through the source,
 * which may refuse them (a read-only session has none to offer).
 */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "clock.h"
#include "core.h"
#include "detect.h"
#include "gpu.h"
#include "gpufas.h"
#include "hub.h"
#include "tui.h"
#include "tui_draw.h"

#define TICK_S 0.1        /* 10 Hz */
#define TABS_EVERY_S 1.0  /* other targets' state, for the tab line */
#define MESSAGE_S 6.0
#define FIRST_CAP 1024
#define MAX_CAP (1u << 20) /* processes: the task walk's own bound */
#define ESC 27

const int tui_signals[] = { SIGKILL, SIGTERM, SIGHUP, SIGINT, SIGQUIT,
			    SIGUSR1, SIGUSR2, SIGSTOP };
const int tui_nsignals = sizeof tui_signals / sizeof *tui_signals;

static void say(struct tui *v, int bad, const char *msg)
{
	snprintf(v->message, sizeof v->message, "%s", msg);
	v->message_bad = bad;
	v->message_until = gf_now_monotonic() + MESSAGE_S;
}

/* ---- The process list: filtered, sorted, with a selection ---- */

static void comm_of(const struct gf_task *t, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", GF_COMM_LEN, t->comm);
}

/* A name holding the text (any case), or a pid starting with it. */
static int matches(const struct gf_task *t, const char *text)
{
	char comm[GF_COMM_LEN + 1], pid[16];

	comm_of(t, comm, sizeof comm);
	snprintf(pid, sizeof pid, "%d", t->pid);
	return strcasestr(comm, text) || !strncmp(pid, text, strlen(text));
}

static int compare_numbers(double a, double b)
{
	return (a > b) - (a < b);
}

static int compare_tasks(const void *pa, const void *pb, void *ctx)
{
	const struct tui *v = ctx;
	const struct gf_board_task *x = &v->tasks[*(const uint32_t *)pa];
	const struct gf_board_task *y = &v->tasks[*(const uint32_t *)pb];
	char cx[GF_COMM_LEN + 1], cy[GF_COMM_LEN + 1];
	int d;

	switch (v->sort) {
	case COL_PPID: d = compare_numbers(x->t.ppid, y->t.ppid); break;
	case COL_STATE: d = compare_numbers(x->t.state, y->t.state); break;
	case COL_CPU: d = compare_numbers(x->cpu_pct, y->cpu_pct); break;
	case COL_MEM:
	case COL_RSS: d = compare_numbers((double)x->t.rss_pages, (double)y->t.rss_pages); break;
	case COL_THREADS: d = compare_numbers(x->t.threads, y->t.threads); break;
	case COL_COMM:
		comm_of(&x->t, cx, sizeof cx);
		comm_of(&y->t, cy, sizeof cy);
		d = strcasecmp(cx, cy);
		break;
	default: d = compare_numbers(x->t.pid, y->t.pid); break;
	}
	if (!v->ascending)
		d = -d;
	/* ties by pid, low first in either order, so equal rows keep still */
	return d ? d : compare_numbers(x->t.pid, y->t.pid);
}

/* Names and pids read low to high; amounts, the largest first. */
static int ascending_by_default(enum column c)
{
	return c == COL_PID || c == COL_PPID || c == COL_STATE || c == COL_COMM;
}

static void remember_selection(struct tui *v)
{
	const struct gf_board_task *t = tui_selected_task(v);

	v->sel_pid = t ? t->t.pid : 0;
	v->sel_start = t ? t->t.start_time : 0;
}

static void select_row(struct tui *v, int row)
{
	v->sel = row >= (int)v->nrows ? (int)v->nrows - 1 : row;
	if (v->sel < 0)
		v->sel = 0;
	remember_selection(v);
}

/* The shown rows anew, the selection kept on its process if still shown. */
static void rebuild_rows(struct tui *v)
{
	v->nrows = 0;
	for (uint32_t i = 0; i < v->ntasks; i++)
		if (!v->filter[0] || matches(&v->tasks[i].t, v->filter))
			v->rows[v->nrows++] = i;
	qsort_r(v->rows, v->nrows, sizeof *v->rows, compare_tasks, v);
	for (uint32_t r = 0; r < v->nrows && v->sel_pid; r++) {
		const struct gf_task *t = &v->tasks[v->rows[r]].t;
		if (t->pid == v->sel_pid && t->start_time == v->sel_start) {
			v->sel = (int)r;
			return;
		}
	}
	select_row(v, v->sel);
}

/* The first row from `from` on (wrapping) whose process matches. */
static void search_from(struct tui *v, int from)
{
	for (uint32_t i = 0; i < v->nrows && v->search[0]; i++) {
		int r = (int)(((uint32_t)from + i) % v->nrows);
		if (matches(&v->tasks[v->rows[r]].t, v->search)) {
			select_row(v, r);
			return;
		}
	}
}

/* ---- Asking the source ---- */

/* Counts and numbers as the table can trust them: a count within what
 * was asked for, CPU % a finite non-negative number (sorting needs it). */
static void sanitize_tasks(struct tui *v, uint32_t n)
{
	v->ntasks = n < v->cap ? n : v->cap;
	for (uint32_t i = 0; i < v->ntasks; i++)
		if (!isfinite(v->tasks[i].cpu_pct) || v->tasks[i].cpu_pct < 0)
			v->tasks[i].cpu_pct = 0;
}

/* Room for cap processes: GF_OK, or GF_ENOMEM with the room as it was. */
static int grow(struct tui *v, uint32_t cap)
{
	struct gf_board_task *t = realloc(v->tasks, cap * sizeof *t);
	uint32_t *r;

	if (!t)
		return GF_ENOMEM;
	v->tasks = t;
	if (!(r = realloc(v->rows, cap * sizeof *r)))
		return GF_ENOMEM;
	v->rows = r;
	v->cap = cap;
	return GF_OK;
}

static void fetch_tasks(struct tui *v)
{
	uint32_t n = 0;

	v->tasks_err = v->src->tasks ? v->src->tasks(v->src->ctx, v->target, v->tasks,
						      v->cap, &n) : GF_EINVAL;
	sanitize_tasks(v, n);
	/* a list that did not fit shows what did, and the next one fits */
	if (v->tasks_err == GF_ENOSPC && v->cap < MAX_CAP)
		grow(v, v->cap * 2);
}

static enum gf_level worst_level(const struct gf_board *b, double now)
{
	enum gf_level worst = GF_LEVEL_OK;
	char why[8];

	for (int c = 0; c < GF_NCLASSES; c++) {
		enum gf_level l = board_level(b, c, now, why, sizeof why);
		if (l > worst)
			worst = l;
	}
	return worst;
}

static int fetch_board(const struct tui *v, int target, struct gf_board *b)
{
	int err = v->src->board ? v->src->board(v->src->ctx, target, b) : GF_EINVAL;

	if (!err)
		board_sanitize(b);
	return err;
}

/* A target that does not answer keeps the name it last had. */
static void name_tab(struct tab *tab, const struct gf_board *b, int err, double now)
{
	if (!err || !tab->name[0])
		snprintf(tab->name, sizeof tab->name, "%.47s", err ? "?" : b->target);
	tab->level = err ? GF_LEVEL_WARN : worst_level(b, now);
}

/* The other targets' names and states, for the tab line. */
static void fetch_tabs(struct tui *v)
{
	double now = gf_now_wall();

	for (int i = 0; i < v->ntargets; i++)
		if (i != v->target)
			name_tab(&v->tab[i], &v->scratch, fetch_board(v, i, &v->scratch), now);
}

static void fetch(struct tui *v)
{
	int err = fetch_board(v, v->target, &v->scratch);

	v->board_err = err;
	if (!err)
		v->board = v->scratch;
	name_tab(&v->tab[v->target], &v->board, err, gf_now_wall());
	if (v->src->link)
		v->src->link(v->src->ctx, v->link, sizeof v->link);
	else
		snprintf(v->link, sizeof v->link, "-");
	v->link[sizeof v->link - 1] = 0;
	fetch_tasks(v);
	rebuild_rows(v);
}

static void switch_target(struct tui *v, int target)
{
	if (target < 0 || target >= v->ntargets || target == v->target)
		return;
	v->target = target;
	v->sel = v->top = 0;
	v->sel_pid = 0;
	memset(&v->board, 0, sizeof v->board);
	fetch(v);
}

/* ---- Signalling the selected process ---- */

static void open_signal_menu(struct tui *v)
{
	const struct gf_board_task *t = tui_selected_task(v);

	if (!v->src->signal) {
		say(v, 1, "read-only session: this dashboard may not signal processes");
		return;
	}
	if (!t) {
		say(v, 1, "no process selected");
		return;
	}
	v->pending = (struct pending_signal){ .pid = t->t.pid, .start_time = t->t.start_time };
	comm_of(&t->t, v->pending.comm, sizeof v->pending.comm);
	v->menu_cursor = 0; /* SIGKILL: a rescue is for what no longer listens */
	v->mode = MODE_SIGNAL_MENU;
}

/* The confirmed signal, through the source; its answer on the status line.
 * The agent may take a moment (it writes at its next round): say so first. */
static void send_pending(struct tui *v)
{
	const struct pending_signal *p = &v->pending;
	char msg[256];
	int err;

	say(v, 0, "sending...");
	tui_draw(v);
	err = v->src->signal(v->src->ctx, v->target, p->pid, p->start_time, p->sig, msg,
			     sizeof msg);
	msg[sizeof msg - 1] = 0;
	if (!msg[0])
		snprintf(msg, sizeof msg, "%s", err ? gf_strerror(err) : "sent");
	say(v, err != GF_OK, msg);
}

/* ---- Keys ---- */

static void edit_text(char *text, size_t cap, int key)
{
	size_t len = strlen(text);

	if ((key == KEY_BACKSPACE || key == 127 || key == 8) && len)
		text[len - 1] = 0;
	else if (key >= 0x20 && key < 0x7f && len + 1 < cap) {
		text[len] = (char)key;
		text[len + 1] = 0;
	}
}

static int is_enter(int key)
{
	return key == '\n' || key == '\r' || key == KEY_ENTER;
}

static void key_search(struct tui *v, int key)
{
	if (key == ESC || is_enter(key))
		v->mode = MODE_NORMAL;
	else if (key == KEY_F(3))
		search_from(v, v->sel + 1);
	else {
		edit_text(v->search, sizeof v->search, key);
		search_from(v, v->sel);
	}
}

static void key_filter(struct tui *v, int key)
{
	if (key == ESC)
		v->filter[0] = 0;
	if (key == ESC || is_enter(key))
		v->mode = MODE_NORMAL;
	else
		edit_text(v->filter, sizeof v->filter, key);
	rebuild_rows(v);
}

static void set_sort(struct tui *v, int c)
{
	v->sort = (enum column)((c + NCOLUMNS) % NCOLUMNS);
	v->ascending = ascending_by_default(v->sort);
	rebuild_rows(v);
}

static void key_menu(struct tui *v, int key)
{
	int n = v->mode == MODE_SORT_MENU ? NCOLUMNS : tui_nsignals;

	if (key == KEY_UP && v->menu_cursor > 0)
		v->menu_cursor--;
	else if (key == KEY_DOWN && v->menu_cursor < n - 1)
		v->menu_cursor++;
	else if (key == ESC || key == 'q')
		v->mode = MODE_NORMAL;
	else if (is_enter(key) && v->mode == MODE_SORT_MENU) {
		set_sort(v, v->menu_cursor);
		v->mode = MODE_NORMAL;
	} else if (is_enter(key)) {
		v->pending.sig = tui_signals[v->menu_cursor];
		v->mode = MODE_CONFIRM;
	}
}

static void key_confirm(struct tui *v, int key)
{
	v->mode = MODE_NORMAL;
	if (key == 'y' || key == 'Y')
		send_pending(v);
	else
		say(v, 0, "cancelled: nothing sent");
}

static void move_selection(struct tui *v, int key)
{
	int page = v->page > 0 ? v->page : 1;

	switch (key) {
	case KEY_UP: select_row(v, v->sel - 1); break;
	case KEY_DOWN: select_row(v, v->sel + 1); break;
	case KEY_PPAGE: select_row(v, v->sel - page); break;
	case KEY_NPAGE: select_row(v, v->sel + page); break;
	case KEY_HOME: select_row(v, 0); break;
	case KEY_END: select_row(v, (int)v->nrows - 1); break;
	default: break;
	}
}

static void open_screen(struct tui *v, enum page_kind s)
{
	v->screen = v->screen == s ? SCREEN_MAIN : s;
	v->scroll = 0;
}

/* Keys of the dashboard itself; 1 when the operator quits. */
static int key_normal(struct tui *v, int key)
{
	switch (key) {
	case 'q': case KEY_F(10): return 1;
	case KEY_F(1): case 'h': case '?': open_screen(v, SCREEN_HELP); break;
	case 'e': open_screen(v, SCREEN_EVIDENCE); break;
	case 'l': open_screen(v, SCREEN_LOG); break;
	case KEY_F(3): case '/': v->mode = MODE_SEARCH; v->search[0] = 0; break;
	case KEY_F(4): case '\\': v->mode = MODE_FILTER; break;
	case KEY_F(6): v->mode = MODE_SORT_MENU; v->menu_cursor = v->sort; break;
	case '<': set_sort(v, v->sort - 1); break;
	case '>': set_sort(v, v->sort + 1); break;
	case 'I': v->ascending = !v->ascending; rebuild_rows(v); break;
	case KEY_F(9): case 'k': open_signal_menu(v); break;
	case 'p': v->paused = !v->paused; break;
	case '\t': switch_target(v, (v->target + 1) % v->ntargets); break;
	case KEY_BTAB: switch_target(v, (v->target + v->ntargets - 1) % v->ntargets); break;
	case ESC: v->message[0] = 0; break;
	default:
		if (key >= '1' && key <= '9')
			switch_target(v, key - '1');
		else
			move_selection(v, key);
	}
	return 0;
}

/* Help, evidence and log: scrolled, left with q or Esc, or for another. */
static int key_page(struct tui *v, int key)
{
	switch (key) {
	case KEY_F(10): return 1;
	case 'q': case ESC: v->screen = SCREEN_MAIN; break;
	case KEY_UP: v->scroll--; break;
	case KEY_DOWN: v->scroll++; break;
	case KEY_PPAGE: v->scroll -= LINES - 2; break;
	case KEY_NPAGE: v->scroll += LINES - 2; break;
	case KEY_HOME: v->scroll = 0; break;
	case KEY_F(1): case 'h': case '?': case 'e': case 'l': return key_normal(v, key);
	default: break; /* the table's keys wait for the table */
	}
	return 0;
}

static int handle_key(struct tui *v, int key)
{
	if (key == ERR || key == KEY_RESIZE)
		return 0; /* a tick; or ncurses has the new size, which the next frame fits */
	switch (v->mode) {
	case MODE_SEARCH: key_search(v, key); return 0;
	case MODE_FILTER: key_filter(v, key); return 0;
	case MODE_SORT_MENU:
	case MODE_SIGNAL_MENU: key_menu(v, key); return 0;
	case MODE_CONFIRM: key_confirm(v, key); return 0;
	default: break;
	}
	return v->screen == SCREEN_MAIN ? key_normal(v, key) : key_page(v, key);
}

/* ---- The terminal ---- */

/* newterm(), not initscr(): a terminal it cannot use is an error we
 * report, where initscr() would print its own and exit. */
static SCREEN *open_terminal(void)
{
	char msg[512];
	SCREEN *scr;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "gpufas: the dashboard needs a terminal (--agent "
				"--headless runs without one; --ps lists once)\n");
		return NULL;
	}
	if (terminfo_ensure(getenv("TERM"), msg, sizeof msg)) {
		fprintf(stderr, "gpufas: %s\n", msg);
		return NULL;
	}
	scr = newterm(NULL, stdout, stdin);
	terminfo_cleanup();
	if (!scr) {
		fprintf(stderr, "gpufas: cannot open terminal type '%s'\n", getenv("TERM"));
		return NULL;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	return scr;
}

static int view_init(struct tui *v, const struct gf_source *src)
{
	memset(v, 0, sizeof *v);
	v->src = src;
	v->ntargets = src->ntargets < 1 ? 1 : src->ntargets > GF_MAX_TARGETS
		? GF_MAX_TARGETS : src->ntargets;
	v->sort = COL_CPU;
	/* only the LC_CTYPE part: numbers in the agent's events stay "1.5" */
	setlocale(LC_CTYPE, "");
	v->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	return grow(v, FIRST_CAP);
}

/* A frame whenever a key arrives, and at least every tick; the source is
 * asked once a tick unless paused. */
int tui_run(const struct gf_source *src, atomic_int *stop)
{
	struct tui v;
	double next = 0, next_tabs = 0, now;
	int quit = 0;
	SCREEN *scr;

	if (view_init(&v, src) || !(scr = open_terminal())) {
		if (!v.cap)
			fprintf(stderr, "gpufas: out of memory\n");
		free(v.tasks);
		free(v.rows);
		return 1;
	}
	tui_draw_init();
	while (!quit && !*stop) {
		now = gf_now_monotonic();
		if (now >= next && !v.paused) {
			fetch(&v);
			next = now + TICK_S;
		}
		if (now >= next_tabs && v.ntargets > 1 && !v.paused) {
			fetch_tabs(&v);
			next_tabs = now + TABS_EVERY_S;
		}
		if (v.message[0] && now > v.message_until)
			v.message[0] = 0;
		tui_draw(&v);
		timeout(v.paused || next <= now ? (int)(TICK_S * 1000)
			: (int)((next - now) * 1000) + 1);
		quit = handle_key(&v, getch());
	}
	endwin();
	delscreen(scr);
	free(v.tasks);
	free(v.rows);
	return 0;
}
