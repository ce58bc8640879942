/* tui_draw.c — the dashboard's screen, drawn from a view (tui.h).
 *
 * Top to bottom, as htop and nvtop lay theirs out: the targets and the
 * link; meters (per-CPU bars, memory and swap, counts, sparklines); the
 * detector board; the process table; the event log (the kernel's last
 * lines after a panic); a status line; the keys. Every frame is drawn
 * whole into ncurses' buffer, which sends the terminal only what changed:
 * no flicker at 10 Hz.
 *
 * Nothing drawn is trusted: the board may come from a remote peer, and
 * process names from whoever ran prctl(PR_SET_NAME) in the guest. Text is
 * shown as printable ASCII only (a name cannot move the cursor or retitle
 * the terminal), and every count is clamped to what its array holds.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "clock.h"
#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "signals.h"
#include "tui_draw.h"

/* ---- Looks: a colour pair where there are colours, attributes where not ---- */

enum role {
	ROLE_NORMAL, ROLE_TITLE, ROLE_HEADER, ROLE_SORTED, ROLE_OK, ROLE_WARN,
	ROLE_FAULT, ROLE_USR, ROLE_SYS, ROLE_IOWAIT, ROLE_MEM_USED,
	ROLE_MEM_CACHE, ROLE_SWAP, ROLE_CULPRIT, ROLE_SELECTED, ROLE_KEY,
	ROLE_DIM, ROLE_SPARK, NROLES
};

static const struct look {
	short fg, bg;
	attr_t with_colour, mono;
} looks[NROLES] = {
	[ROLE_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
	[ROLE_TITLE] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
	[ROLE_HEADER] = { COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_REVERSE },
	[ROLE_SORTED] = { COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD },
	[ROLE_OK] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[ROLE_WARN] = { COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_BOLD | A_UNDERLINE },
	[ROLE_FAULT] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
	[ROLE_USR] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[ROLE_SYS] = { COLOR_RED, -1, A_NORMAL, A_BOLD },
	[ROLE_IOWAIT] = { COLOR_BLUE, -1, A_BOLD, A_DIM },
	[ROLE_MEM_USED] = { COLOR_GREEN, -1, A_NORMAL, A_BOLD },
	[ROLE_MEM_CACHE] = { COLOR_YELLOW, -1, A_NORMAL, A_DIM },
	[ROLE_SWAP] = { COLOR_RED, -1, A_NORMAL, A_BOLD },
	[ROLE_CULPRIT] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[ROLE_SELECTED] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[ROLE_KEY] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[ROLE_DIM] = { -1, -1, A_DIM, A_DIM },
	[ROLE_SPARK] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
};

static int in_colour; /* else monochrome: attributes only */

static attr_t look(enum role r)
{
	return in_colour ? COLOR_PAIR(r) | looks[r].with_colour : looks[r].mono;
}

void tui_draw_init(void)
{
	in_colour = has_colors() && start_color() == OK;
	if (!in_colour)
		return;
	use_default_colors();
	for (int r = 1; r < NROLES; r++)
		init_pair((short)r, looks[r].fg, looks[r].bg);
}

static enum role level_role(enum gf_level l)
{
	return l == GF_LEVEL_FAULT ? ROLE_FAULT : l == GF_LEVEL_WARN ? ROLE_WARN : ROLE_OK;
}

static const char *level_word(enum gf_level l)
{
	return l == GF_LEVEL_FAULT ? "FAULT" : l == GF_LEVEL_WARN ? "WARN" : "ok";
}

/* ---- Text ---- */

/* s as printable ASCII, cut to width columns, at (y, x). Returns the
 * columns used. */
static int put(int y, int x, int width, enum role r, const char *s)
{
	char clean[512];
	int n = 0;

	if (y < 0 || y >= LINES || x < 0 || x >= COLS || width <= 0)
		return 0;
	if (width > COLS - x)
		width = COLS - x;
	for (; s[n] && n < width && n < (int)sizeof clean - 1; n++)
		clean[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	clean[n] = 0;
	attrset(look(r));
	mvaddstr(y, x, clean);
	attrset(A_NORMAL);
	return n;
}

static int putf(int y, int x, int width, enum role r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int putf(int y, int x, int width, enum role r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return put(y, x, width, r, buf);
}

/* A whole line in one look (the table's header, a selected row). */
static void fill_line(int y, enum role r)
{
	attrset(look(r));
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
}

/* A comm as the kernel holds it: 16 bytes, maybe without its NUL. */
static void comm_text(char *buf, size_t len, const struct gf_task *t)
{
	snprintf(buf, len, t->kthread ? "[%.*s]" : "%.*s", GF_COMM_LEN, t->comm);
}

static void kib_text(char *buf, size_t len, double kib)
{
	if (!(kib >= 0))
		snprintf(buf, len, "?");
	else if (kib < 100000)
		snprintf(buf, len, "%.0fK", kib);
	else if (kib < 100000.0 * 1024)
		snprintf(buf, len, "%.0fM", kib / 1024);
	else
		snprintf(buf, len, "%.1fG", kib / (1024 * 1024));
}

static void duration_text(char *buf, size_t len, double s)
{
	if (!(s >= 0 && s < 1e9))
		snprintf(buf, len, "?");
	else if (s < 86400)
		snprintf(buf, len, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
	else
		snprintf(buf, len, "%dd %02d:%02d", (int)(s / 86400), (int)s / 3600 % 24,
			 (int)s / 60 % 60);
}

/* ---- Header: the targets, then the one shown ---- */

static void draw_tabs(const struct tui *v, int y)
{
	int x = put(y, 0, COLS, ROLE_TITLE, "gpufas ");

	for (int i = 0; i < v->ntargets && x < COLS; i++) {
		char label[64];
		if (v->ntargets > 1)
			snprintf(label, sizeof label, " %d:%s ", i + 1, v->tab[i].name);
		else
			snprintf(label, sizeof label, " %s ", v->tab[i].name);
		x += put(y, x, COLS - x, i == v->target ? ROLE_SELECTED : ROLE_NORMAL, label);
		if (v->tab[i].level != GF_LEVEL_OK)
			x += put(y, x, COLS - x, level_role(v->tab[i].level),
				 level_word(v->tab[i].level));
	}
	if (v->paused)
		put(y, COLS - 8, 8, ROLE_WARN, " PAUSED ");
}

static enum role age_role(double age)
{
	return age > 10 ? ROLE_FAULT : age > 2 ? ROLE_WARN : ROLE_NORMAL;
}

static void draw_target_line(const struct tui *v, int y)
{
	const struct gf_board *b = &v->board;
	double age = gf_now_wall() - b->sampled;
	char up[32], ago[32];
	int x;

	if (v->board_err) {
		putf(y, 0, COLS, ROLE_FAULT, "no answer from the agent (%s); link: %s",
		     gf_strerror(v->board_err), v->link);
		return;
	}
	if (!b->attached) {
		putf(y, 0, COLS, ROLE_WARN, "not attached: %s  link: %s",
		     b->status[0] ? b->status : "waiting for the first sample", v->link);
		return;
	}
	/* most telling first: a narrow terminal cuts the engine's name */
	duration_text(up, sizeof up, b->hz ? b->uptime_s : -1);
	x = putf(y, 0, COLS, ROLE_NORMAL, "Linux %s  up %s  ", b->release, up);
	if (b->sampled > 0)
		snprintf(ago, sizeof ago, "sample %.1fs ago", age > 0 ? age : 0);
	else
		snprintf(ago, sizeof ago, "no sample yet");
	x += put(y, x, COLS - x, age_role(b->sampled > 0 ? age : 0), ago);
	if (b->host_stalled) /* the GPU saw this host stop scheduling its agent */
		x += put(y, x, COLS - x, ROLE_FAULT, "  host stalled");
	putf(y, x, COLS - x, ROLE_NORMAL, "  link %s  engine %s", v->link, b->engine);
}

/* ---- Meters ---- */

struct segment {
	double fraction;
	enum role role;
};

/* htop's bar: label[|||||||      text], each segment in its colour. */
static void bar(int y, int x, int width, const char *label,
		const struct segment *seg, int nseg, const char *text)
{
	int inner, at, used = 0;

	at = x + put(y, x, width, ROLE_TITLE, label);
	inner = width - (at - x) - 2;
	if (inner < 1)
		return;
	put(y, at, 1, ROLE_NORMAL, "[");
	for (int s = 0; s < nseg; s++) {
		double f = seg[s].fraction > 1 ? 1 : seg[s].fraction; /* NaN: none */
		int n = f > 0 ? (int)lround(f * inner) : 0;
		if (n > inner - used)
			n = inner - used;
		attrset(look(seg[s].role));
		mvhline(y, at + 1 + used, '|', n);
		used += n;
	}
	attrset(A_NORMAL);
	putf(y, at + 1 + inner - (int)strlen(text), (int)strlen(text), ROLE_DIM, "%s", text);
	put(y, at + 1 + inner, 1, ROLE_NORMAL, "]");
}

static void cpu_bar(const struct gf_cpu_rates *c, int y, int x, int width,
		    const char *label)
{
	struct segment seg[] = {
		{ c->usr, ROLE_USR }, { c->sys, ROLE_SYS }, { c->iowait, ROLE_IOWAIT },
	};
	char text[16];

	if (!c->online)
		snprintf(text, sizeof text, "off");
	else
		snprintf(text, sizeof text, "%.1f%%", 100 * (c->usr + c->sys));
	bar(y, x, width, label, seg, 3, text);
}

static uint32_t cpu_count(const struct gf_board *b)
{
	return b->rates.ncpus < GF_MAX_CPUS ? b->rates.ncpus : GF_MAX_CPUS;
}

/* Every CPU in as many columns as `rows` lines need; where they would be
 * too narrow to read, one bar of their mean instead. */
static void draw_cpus(const struct gf_board *b, int y, int x, int width, int rows)
{
	uint32_t n = cpu_count(b);
	int columns = rows > 0 ? ((int)n + rows - 1) / rows : 0;
	char label[16];

	if (n == 0 || rows < 1)
		return;
	if (width / columns < 14) {
		struct gf_cpu_rates mean = { .online = 1 };
		for (uint32_t c = 0; c < n; c++) {
			mean.usr += b->rates.cpu[c].usr / n;
			mean.sys += b->rates.cpu[c].sys / n;
			mean.iowait += b->rates.cpu[c].iowait / n;
		}
		snprintf(label, sizeof label, "%uCPU", n);
		cpu_bar(&mean, y, x, width, label);
		return;
	}
	for (uint32_t c = 0; c < n; c++) {
		int col = (int)c / rows, w = width / columns;
		snprintf(label, sizeof label, "%3u", c);
		cpu_bar(&b->rates.cpu[c], y + (int)c % rows, x + col * w, w - 1, label);
	}
}

static void draw_memory(const struct gf_board *b, int y, int x, int width)
{
	double total = (double)b->mem_total_kib, swap = (double)b->swap_total_kib;
	double used = total - (double)b->mem_available_kib;
	double cache = (double)b->mem_available_kib - (double)b->mem_free_kib;
	struct segment mem[] = {
		{ total > 0 ? used / total : 0, ROLE_MEM_USED },
		{ total > 0 ? cache / total : 0, ROLE_MEM_CACHE },
	};
	struct segment sw[] = {
		{ swap > 0 ? (swap - (double)b->swap_free_kib) / swap : 0, ROLE_SWAP },
	};
	char a[16], t[16], text[40];

	kib_text(a, sizeof a, used);
	kib_text(t, sizeof t, total);
	snprintf(text, sizeof text, "%s/%s", a, t);
	bar(y, x, width, "Mem", mem, 2, text);
	kib_text(a, sizeof a, swap - (double)b->swap_free_kib);
	kib_text(t, sizeof t, swap);
	snprintf(text, sizeof text, swap > 0 ? "%s/%s" : "none", a, t);
	bar(y + 1, x, width, "Swp", sw, 1, text);
}

/* The newest `width` points of a history, scaled to `top`. */
static void sparkline(int y, int x, int width, const float *hist, uint32_t n,
		      double top, int utf8)
{
	static const char *const blocks[] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = " ._-=+*#@";
	uint32_t first = n > (uint32_t)width ? n - (uint32_t)width : 0;

	attrset(look(ROLE_SPARK));
	move(y, x);
	for (uint32_t i = first; i < n; i++) {
		double f = top > 0 && hist[i] > 0 ? hist[i] / top : 0;
		int level = f >= 1 ? 8 : f > 0 ? 1 + (int)(f * 7) : 0; /* any: visible */
		if (utf8)
			addstr(blocks[level]);
		else
			addch((chtype)ascii[level]);
	}
	attrset(A_NORMAL);
}

static double peak(const float *hist, uint32_t n)
{
	double top = 0;

	for (uint32_t i = 0; i < n; i++)
		if (hist[i] > top)
			top = hist[i];
	return top;
}

static void draw_counts(const struct tui *v, int y, int x, int width)
{
	const struct gf_board *b = &v->board;
	const struct gf_rates *r = &b->rates;
	uint32_t n = b->nhistory < GF_BOARD_HISTORY ? b->nhistory : GF_BOARD_HISTORY;
	double swpout_peak = peak(b->hist_pswpout, n);
	int lx = x + 17, lw = width - 17;

	putf(y, x, width, ROLE_NORMAL, "Tasks %u  run %u  blocked %lld", b->nprocs,
	     r->running, (long long)r->blocked);
	putf(y + 1, x, width, ROLE_NORMAL, "cs/s %.0f  swpin/s %.0f  swpout/s %.0f",
	     r->cs, r->pswpin, r->pswpout);
	putf(y + 2, x, 17, ROLE_TITLE, "avail %5.1f%%",
	     n ? b->hist_available_pct[n - 1] : 0.0);
	putf(y + 3, x, 17, ROLE_TITLE, "swpout %6.0f/s", swpout_peak);
	putf(y + 4, x, 17, ROLE_TITLE, "cpu   %5.1f%%", n ? b->hist_cpu_pct[n - 1] : 0.0);
	if (lw < 1)
		return;
	sparkline(y + 2, lx, lw, b->hist_available_pct, n, 100, v->utf8);
	sparkline(y + 3, lx, lw, b->hist_pswpout, n, swpout_peak, v->utf8);
	sparkline(y + 4, lx, lw, b->hist_cpu_pct, n, 100, v->utf8);
}

#define COUNT_LINES 5

/* Lines the meters take: the CPU bars and two for memory beside the five
 * of counts and sparklines, at most a third of the screen. */
static int meter_lines(const struct gf_board *b)
{
	int want = (int)cpu_count(b) + 2, most = LINES / 3;

	if (want > most)
		want = most;
	return want > COUNT_LINES ? want : COUNT_LINES;
}

static void draw_meters(const struct tui *v, int y, int lines)
{
	int half = COLS / 2;

	draw_cpus(&v->board, y, 0, half, lines - 2);
	draw_memory(&v->board, y + lines - 2, 0, half - 1);
	draw_counts(v, y, half + 1, COLS - half - 1);
}

/* ---- The detector board ---- */

static const char *const short_names[GF_NCLASSES] = {
	"F1", "F2", "F3", "F4", "F5", "F6", "cpu", "mem", "thrash", "panic",
};

static void draw_detectors(const struct tui *v, int y)
{
	double now = gf_now_wall();
	char why[128];
	int x = 0;

	for (int c = 0; c < GF_NCLASSES && x < COLS; c++) {
		enum gf_level l = board_level(&v->board, c, now, why, sizeof why);
		x += put(y, x, COLS - x, ROLE_TITLE, short_names[c]);
		x += put(y, x, COLS - x, ROLE_NORMAL, " ");
		x += put(y, x, COLS - x, level_role(l), level_word(l));
		x += put(y, x, COLS - x, ROLE_NORMAL, "  ");
	}
}

/* ---- The process table ---- */

static const struct {
	const char *title;
	int width; /* 0: the rest of the line */
} columns[NCOLUMNS] = {
	[COL_PID] = { "PID", 7 }, [COL_PPID] = { "PPID", 7 },
	[COL_STATE] = { "S", 1 }, [COL_CPU] = { "CPU%", 5 },
	[COL_MEM] = { "MEM%", 5 }, [COL_RSS] = { "RSS", 6 },
	[COL_THREADS] = { "THR", 4 }, [COL_COMM] = { "COMM", 0 },
};

const char *tui_column_title(enum column c)
{
	return c < NCOLUMNS ? columns[c].title : "?";
}

#define FLAG_WIDTH 2 /* "! " marks a culprit, readable without colour */

static void draw_table_header(const struct tui *v, int y)
{
	int x = FLAG_WIDTH;

	fill_line(y, ROLE_HEADER);
	for (int c = 0; c < NCOLUMNS && x < COLS; c++) {
		int w = columns[c].width ? columns[c].width : COLS - x;
		enum role r = (enum column)c == v->sort ? ROLE_SORTED : ROLE_HEADER;
		putf(y, x, w, r, c == COL_COMM || c == COL_STATE ? "%-*s" : "%*s", w,
		     columns[c].title);
		x += w + 1;
	}
}

static void cell_text(const struct tui *v, const struct gf_board_task *bt,
		      enum column c, char *buf, size_t len)
{
	const struct gf_task *t = &bt->t;
	double total = (double)v->board.mem_total_kib, rss = (double)pages_kib(t->rss_pages);

	switch (c) {
	case COL_PID: snprintf(buf, len, "%d", t->pid); break;
	case COL_PPID: snprintf(buf, len, "%d", t->ppid); break;
	case COL_STATE: snprintf(buf, len, "%c", t->state); break;
	case COL_CPU: snprintf(buf, len, "%.1f", bt->cpu_pct); break;
	case COL_MEM: snprintf(buf, len, "%.1f", total > 0 ? 100 * rss / total : 0); break;
	case COL_RSS: kib_text(buf, len, rss); break;
	case COL_THREADS: snprintf(buf, len, "%d", t->threads); break;
	default: comm_text(buf, len, t); break;
	}
}

static void draw_row(const struct tui *v, int y, const struct gf_board_task *bt,
		     int selected)
{
	enum role r = selected ? ROLE_SELECTED : bt->culprit ? ROLE_CULPRIT : ROLE_NORMAL;
	int x = FLAG_WIDTH;
	char text[64];

	if (selected)
		fill_line(y, ROLE_SELECTED);
	if (bt->culprit)
		put(y, 0, 1, selected ? ROLE_SELECTED : ROLE_FAULT, "!");
	for (int c = 0; c < NCOLUMNS && x < COLS; c++) {
		int w = columns[c].width ? columns[c].width : COLS - x;
		cell_text(v, bt, c, text, sizeof text);
		putf(y, x, w, r, c == COL_COMM ? "%-*s" : "%*s", w, text);
		x += w + 1;
	}
}

const struct gf_board_task *tui_selected_task(const struct tui *v)
{
	if (v->sel < 0 || (uint32_t)v->sel >= v->nrows || v->rows[v->sel] >= v->ntasks)
		return NULL;
	return &v->tasks[v->rows[v->sel]];
}

static void draw_table(struct tui *v, int y, int lines)
{
	draw_table_header(v, y);
	v->page = lines - 1 > 1 ? lines - 1 : 1;
	if (v->sel < v->top)
		v->top = v->sel;
	if (v->sel >= v->top + v->page)
		v->top = v->sel - v->page + 1;
	if (v->top < 0)
		v->top = 0;
	for (int i = 0; i < lines - 1 && (uint32_t)(v->top + i) < v->nrows; i++) {
		uint32_t at = v->rows[v->top + i];
		if (at < v->ntasks)
			draw_row(v, y + 1 + i, &v->tasks[at], v->top + i == v->sel);
	}
	if (v->nrows || lines < 2)
		return;
	if (v->ntasks)
		put(y + 1, FLAG_WIDTH, COLS, ROLE_DIM, "no process matches the filter");
	else
		putf(y + 1, FLAG_WIDTH, COLS, ROLE_DIM, "no processes%s%s",
		     v->tasks_err ? ": " : "", v->tasks_err ? gf_strerror(v->tasks_err) : "");
}

/* ---- The event log, or the kernel's last lines after a panic ---- */

static const char *event_line(const struct gf_board *b, uint32_t i)
{
	uint32_t n = b->nevents < GF_BOARD_EVENTS ? b->nevents : GF_BOARD_EVENTS;

	return i < n ? b->events[(b->first_event % GF_BOARD_EVENTS + i) % GF_BOARD_EVENTS] : "";
}

/* The start of line `i` of a text block and its length, counted from its
 * last line backwards (i = 0: the last). NULL past its first line. */
static const char *text_line_back(const char *text, uint32_t i, int *len)
{
	const char *end = text + strlen(text), *start;

	while (end > text && end[-1] == '\n')
		end--;
	for (;;) {
		start = end;
		while (start > text && start[-1] != '\n')
			start--;
		if (i-- == 0)
			break;
		if (start == text)
			return NULL;
		end = start - 1;
	}
	*len = (int)(end - start);
	return start;
}

static int panicked(const struct gf_board *b)
{
	return b->verdict[GF_PANIC].active && b->panic_log[0];
}

static void draw_log(const struct tui *v, int y, int lines)
{
	const struct gf_board *b = &v->board;
	uint32_t n = b->nevents < GF_BOARD_EVENTS ? b->nevents : GF_BOARD_EVENTS;
	int body = lines - 1;

	if (panicked(b)) {
		put(y, 0, COLS, ROLE_FAULT, "Kernel panic: its last lines (l: all of them)");
		for (int i = 0; i < body; i++) {
			int len;
			const char *line = text_line_back(b->panic_log, (uint32_t)(body - 1 - i), &len);
			if (line)
				putf(y + 1 + i, 0, COLS, ROLE_NORMAL, "%.*s", len, line);
		}
		return;
	}
	put(y, 0, COLS, ROLE_TITLE, "Events (l: all of them)");
	for (int i = 0; i < body; i++)
		if (n >= (uint32_t)(body - i))
			put(y + 1 + i, 0, COLS, ROLE_NORMAL, event_line(b, n - (uint32_t)(body - i)));
}

/* ---- Bottom: the status line and the keys ---- */

static void draw_status(const struct tui *v, int y)
{
	if (v->message[0])
		put(y, 0, COLS, v->message_bad ? ROLE_FAULT : ROLE_OK, v->message);
	else if (v->filter[0])
		putf(y, 0, COLS, ROLE_DIM, "filter: %s  (F4 then Esc clears it)", v->filter);
}

static void draw_prompt(const struct tui *v, int y)
{
	const struct pending_signal *p = &v->pending;

	switch (v->mode) {
	case MODE_SEARCH:
		putf(y, 0, COLS, ROLE_NORMAL, "Search: %s_   (Enter/Esc done, F3 next)", v->search);
		break;
	case MODE_FILTER:
		putf(y, 0, COLS, ROLE_NORMAL, "Filter: %s_   (Enter done, Esc clears)", v->filter);
		break;
	default:
		putf(y, 0, COLS, ROLE_WARN, "Send SIG%s to %d (%s)? y/N", signal_name(p->sig),
		     p->pid, p->comm);
		break;
	}
}

static void draw_keys(const struct tui *v, int y)
{
	static const char *const keys[][2] = {
		{ "F1", "Help" }, { "F3", "Search" }, { "F4", "Filter" },
		{ "F6", "SortBy" }, { "F9", "Kill" }, { "F10", "Quit" },
		{ "Tab", "Target" }, { "p", "Pause" }, { "e", "Why" }, { "l", "Log" },
	};
	int x = 0;

	if (v->mode == MODE_SEARCH || v->mode == MODE_FILTER || v->mode == MODE_CONFIRM) {
		draw_prompt(v, y);
		return;
	}
	for (size_t i = 0; i < sizeof keys / sizeof *keys && x < COLS; i++) {
		int read_only = !strcmp(keys[i][0], "F9") && !v->src->signal;
		x += put(y, x, COLS - x, ROLE_NORMAL, keys[i][0]);
		x += putf(y, x, COLS - x, read_only ? ROLE_DIM : ROLE_KEY, "%-6s ",
			  read_only ? "(read-only)" : keys[i][1]);
	}
}

/* ---- Menus: sort column, signal ---- */

#define MENU_WIDTH 18

static void draw_menu(const struct tui *v, int y, int lines)
{
	int sorting = v->mode == MODE_SORT_MENU;
	int n = sorting ? NCOLUMNS : tui_nsignals;

	put(y, 0, MENU_WIDTH, ROLE_HEADER, sorting ? "Sort by           " : "Send signal       ");
	for (int i = 0; i < n && i < lines - 1; i++) {
		enum role r = i == v->menu_cursor ? ROLE_SELECTED : ROLE_NORMAL;
		if (sorting)
			putf(y + 1 + i, 0, MENU_WIDTH, r, " %-*s", MENU_WIDTH - 1,
			     tui_column_title(i));
		else
			putf(y + 1 + i, 0, MENU_WIDTH, r, " %2d SIG%-*s", tui_signals[i],
			     MENU_WIDTH - 8, signal_name(tui_signals[i]));
	}
}

/* ---- Full screens: help, evidence, log ---- */

#define PAGE_LINES 256

struct page {
	int n;
	enum role role[PAGE_LINES];
	char line[PAGE_LINES][200];
};

static void add(struct page *p, enum role r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct page *p, enum role r, const char *fmt, ...)
{
	va_list ap;

	if (p->n == PAGE_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(p->line[p->n], sizeof p->line[0], fmt, ap);
	va_end(ap);
	p->role[p->n++] = r;
}

static void help_page(const struct tui *v, struct page *p)
{
	static const char *const lines[] = {
		"F1 h ?         this help",
		"F3 /           search processes by name (F3 again: next match)",
		"F4 \\           filter processes by name or pid (Esc clears)",
		"F6 < >         sort column (menu, previous, next); I inverts the order",
		"F9 k           signal the selected process: pick a signal, then confirm",
		"F10 q          quit (q in a full screen: back to the dashboard)",
		"Tab 1..9       next target, or target N",
		"p              pause: the screen stops changing, the agent goes on",
		"e              why: every detector's state, evidence and culprits",
		"l              the event log, and the kernel's last lines after a panic",
		"arrows PgUp PgDn Home End   move in the table or scroll a page",
		"",
		"! and colour mark a process that an active verdict names as a culprit.",
		"Detectors: FAULT = verdict active; WARN = cleared within the last",
		"minute, or its first condition holds and its window has not yet passed.",
		"CPU bars: green user, red system, blue iowait. Mem: green used, yellow",
		"reclaimable cache. Sparklines: two minutes, one point a second.",
	};

	add(p, ROLE_TITLE, "gpufas %s dashboard: keys", GPUFAS_VERSION);
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
		add(p, ROLE_NORMAL, "%s", lines[i]);
	if (!v->src->signal)
		add(p, ROLE_WARN, "This session is read-only: signalling is not allowed.");
}

static void evidence_lines(struct page *p, const struct gf_verdict *vd)
{
	char line[200];
	size_t len = 0;
	uint32_t ne = vd->nevidence < GF_MAX_EVIDENCE ? vd->nevidence : GF_MAX_EVIDENCE;
	uint32_t nc = vd->nculprits < GF_MAX_CULPRITS ? vd->nculprits : GF_MAX_CULPRITS;

	line[0] = 0;
	for (uint32_t i = 0; i < ne && len < sizeof line; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, "%.*s=%.4g  ",
					GF_EVIDENCE_NAME, vd->evidence[i].name, vd->evidence[i].value);
	if (ne)
		add(p, ROLE_NORMAL, "      evidence: %s", line);
	for (uint32_t i = 0; i < nc; i++) {
		const struct gf_culprit *c = &vd->culprit[i];
		add(p, ROLE_CULPRIT, "      culprit: %d %.*s  cpu %.1f%%  rss %llu KiB  swap %llu KiB"
		    "  growth %.0f KiB/s", c->pid, GF_COMM_LEN, c->comm, c->cpu_pct,
		    (unsigned long long)c->rss_kib, (unsigned long long)c->swap_kib,
		    c->growth_kib_s);
	}
}

static void evidence_page(const struct tui *v, struct page *p)
{
	const struct gf_board *b = &v->board;
	double now = gf_now_wall();
	char why[128];

	add(p, ROLE_TITLE, "Detectors of %s", b->target);
	for (int c = 0; c < GF_NCLASSES; c++) {
		enum gf_level l = board_level(b, c, now, why, sizeof why);
		add(p, level_role(l), "%-13s %-5s %s", gf_class_name(c), level_word(l), why);
		evidence_lines(p, &b->verdict[c]);
	}
	add(p, ROLE_NORMAL, "%s", "");
	add(p, ROLE_DIM, "thresholds: sys >= %.0f%%, usr <= %.0f%%, cs <= %.0f/s, "
	    "iowait >= %.0f%%, blocked >= %.0f, swpout >= %.0f/s, free <= %.0f MiB",
	    b->thresholds.sys_pct, b->thresholds.usr_pct, b->thresholds.cs_per_s,
	    b->thresholds.iowait_pct, b->thresholds.blocked, b->thresholds.pswpout_per_s,
	    b->thresholds.memfree_mib);
	add(p, ROLE_DIM, "            overload >= %.0f%% for %.0f s, available <= %.0f%%, "
	    "swap free <= %.0f%%", b->thresholds.overload_pct, b->thresholds.overload_s,
	    b->thresholds.available_pct, b->thresholds.swap_free_pct);
}

static void log_page(const struct tui *v, struct page *p)
{
	const struct gf_board *b = &v->board;
	uint32_t n = b->nevents < GF_BOARD_EVENTS ? b->nevents : GF_BOARD_EVENTS;
	const char *s = b->panic_log;

	add(p, ROLE_TITLE, "Events of %s, oldest first", b->target);
	for (uint32_t i = 0; i < n; i++)
		add(p, ROLE_NORMAL, "%s", event_line(b, i));
	if (!*s)
		return;
	add(p, ROLE_NORMAL, "%s", "");
	add(p, ROLE_FAULT, "%s", "The kernel's last lines at its panic:");
	while (*s) {
		int len = (int)strcspn(s, "\n");
		add(p, ROLE_NORMAL, "%.*s", len, s);
		s += len + (s[len] == '\n');
	}
}

static void draw_page(struct tui *v)
{
	static struct page p;
	int body = LINES - 2;

	p.n = 0;
	if (v->screen == SCREEN_HELP)
		help_page(v, &p);
	else if (v->screen == SCREEN_EVIDENCE)
		evidence_page(v, &p);
	else
		log_page(v, &p);
	if (v->scroll > p.n - body)
		v->scroll = p.n - body;
	if (v->scroll < 0)
		v->scroll = 0;
	for (int i = 0; i < body && v->scroll + i < p.n; i++)
		put(i, 0, COLS, p.role[v->scroll + i], p.line[v->scroll + i]);
	put(LINES - 1, 0, COLS, ROLE_KEY, " q/Esc back   arrows PgUp PgDn scroll   F10 quit ");
}

/* ---- The whole screen ---- */

#define TOP_LINES 2

static int log_lines(void)
{
	int n = LINES / 8;

	return 1 + (n < 2 ? 2 : n > 8 ? 8 : n);
}

static void draw_main(struct tui *v)
{
	int meters = meter_lines(&v->board), log = log_lines();
	int table_y = TOP_LINES + meters + 1;
	int table = LINES - table_y - log - 2;

	draw_tabs(v, 0);
	draw_target_line(v, 1);
	draw_meters(v, TOP_LINES, meters);
	draw_detectors(v, TOP_LINES + meters);
	draw_table(v, table_y, table);
	if (v->mode == MODE_SORT_MENU || v->mode == MODE_SIGNAL_MENU)
		draw_menu(v, table_y, table);
	draw_log(v, LINES - log - 2, log);
	draw_status(v, LINES - 2);
	draw_keys(v, LINES - 1);
}

void tui_draw(struct tui *v)
{
	erase();
	if (v->screen == SCREEN_MAIN)
		draw_main(v);
	else
		draw_page(v);
	refresh();
}
