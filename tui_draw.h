/* tui_draw.h — the dashboard's state, shared by its loop (tui.c) and its
 * drawing (tui_draw.c) and by nothing else. */
#ifndef GPUFAS_TUI_DRAW_H
#define GPUFAS_TUI_DRAW_H

#include <curses.h>

#include "board.h"
#include "hub.h"

/* The process table's columns, in screen order; each is a sort key. */
enum column {
	COL_PID, COL_PPID, COL_STATE, COL_CPU, COL_MEM, COL_RSS, COL_THREADS,
	COL_COMM, NCOLUMNS
};

enum page_kind { SCREEN_MAIN, SCREEN_HELP, SCREEN_EVIDENCE, SCREEN_LOG };

/* What the keyboard is talking to. */
enum mode {
	MODE_NORMAL, MODE_SEARCH, MODE_FILTER, MODE_SORT_MENU,
	MODE_SIGNAL_MENU, MODE_CONFIRM,
};

#define TUI_TEXT 32

struct tab {
	char name[48];
	enum gf_level level; /* the worst of its classes */
};

/* The process a signal is about to go to, as the operator confirmed it. */
struct pending_signal {
	int32_t pid;
	uint64_t start_time;
	char comm[GF_COMM_LEN + 1];
	int sig;
};

struct tui {
	const struct gf_source *src;
	int ntargets, target;
	struct tab tab[GF_MAX_TARGETS];
	struct gf_board board, scratch; /* scratch: other targets' boards */
	int board_err, tasks_err;       /* the source's last answers */
	char link[160];
	struct gf_board_task *tasks;    /* as the source gave them */
	uint32_t ntasks, cap;
	uint32_t *rows, nrows;          /* shown: indexes into tasks */
	int sel, top, page;             /* selected row, first shown, rows shown */
	int32_t sel_pid;                /* the selection follows its process */
	uint64_t sel_start;
	enum column sort;
	int ascending;
	char filter[TUI_TEXT], search[TUI_TEXT];
	int paused;
	enum page_kind screen;
	enum mode mode;
	int menu_cursor, scroll;
	struct pending_signal pending;
	char message[256];
	int message_bad;
	double message_until;
	int utf8; /* the locale's: sparklines in block characters */
};

/* The signals offered by F9, in menu order. */
extern const int tui_signals[];
extern const int tui_nsignals;
const char *tui_column_title(enum column c);

void tui_draw_init(void);
void tui_draw(struct tui *v);
const struct gf_board_task *tui_selected_task(const struct tui *v);

#endif
