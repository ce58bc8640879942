/* board.h — what an operator is shown of one target (board.c), and how
 * the dashboard judges its detector board.
 */
#ifndef GPUFAS_BOARD_H
#define GPUFAS_BOARD_H

#include <stddef.h>

#include "core.h"
#include "detect.h"

struct gf_event;
struct watch;

/* Kept beside a watch (board_update each tick, board_note each event), or
 * decoded from a remote agent's answer: the dashboard and `--view` draw
 * from it alone. Fixed-size and pointer-free, so it can travel; the
 * processes travel separately (board_tasks). */
#define GF_BOARD_HISTORY 120 /* one point a second: two minutes */
#define GF_BOARD_EVENTS 32
#define GF_BOARD_LINE 160
#define GF_BOARD_LOG 4096

struct gf_board {
	char target[256];
	char release[65];
	char engine[160];
	char status[512];     /* why it is not attached, or empty */
	uint8_t attached, writable, has_metrics;
	uint8_t host_stalled; /* the GPU sees no heartbeat from the host */
	double sampled;       /* wall-clock time of the newest sample; 0: none */
	double uptime_s;      /* from jiffies, once hz is known */
	uint32_t hz;          /* the kernel's tick rate, as measured */
	uint32_t nprocs;
	struct gf_rates rates; /* over the last second */
	uint64_t mem_total_kib, mem_free_kib, mem_available_kib;
	uint64_t swap_total_kib, swap_free_kib;
	/* sparklines, oldest first */
	uint32_t nhistory;
	float hist_available_pct[GF_BOARD_HISTORY];
	float hist_pswpout[GF_BOARD_HISTORY]; /* pages a second */
	float hist_cpu_pct[GF_BOARD_HISTORY]; /* busy, mean over online CPUs */
	double last_history;
	struct gf_verdict verdict[GF_NCLASSES];
	/* what board_level() judges WARN by: the agent's thresholds, when
	 * each class last cleared (wall clock; 0: never) and the taint mask */
	struct gf_thresholds thresholds;
	double cleared[GF_NCLASSES];
	uint64_t tainted;
	/* the event log, oldest first once full: events[(first + i) % N] */
	uint32_t nevents, first_event;
	char events[GF_BOARD_EVENTS][GF_BOARD_LINE];
	char panic_log[GF_BOARD_LOG]; /* the kernel's last lines, after a panic */
};

/* One process as the board lists it. */
struct gf_board_task {
	struct gf_task t;
	float cpu_pct;   /* of one CPU, over the last second */
	uint8_t culprit; /* named by an active verdict */
};

void board_init(struct gf_board *b, const char *target);
void board_update(struct gf_board *b, const struct watch *w, double now);
void board_note(struct gf_board *b, const struct gf_event *ev);
int board_tasks(const struct watch *w, struct gf_board_task *out, uint32_t cap,
		uint32_t *count);
void board_sanitize(struct gf_board *b);

/* ---- The dashboard's side of the board (board.c, tui.c, terminfo.c) ---- */

/* How the detector board shows a class: FAULT while its verdict is
 * active; WARN while it is not but was within the last minute, or while
 * its first condition holds over the last second and the rest (its window,
 * its second condition) do not yet; else OK. */
enum gf_level { GF_LEVEL_OK, GF_LEVEL_WARN, GF_LEVEL_FAULT };

#define GF_WARN_AFTER_CLEAR_S 60.0

enum gf_level board_level(const struct gf_board *b, enum gf_class cls,
			  double wall_now, char *why, size_t len);

#endif
