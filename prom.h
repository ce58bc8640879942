/* prom.h — the agent's state in Prometheus's text exposition format:
 * formatted by prom.c from published boards, served by http.c (--listen
 * http:) and written for node_exporter's textfile collector by textfile.c
 * ([agent] textfile). README.md, "Prometheus", lists the metrics. */
#ifndef PROM_H
#define PROM_H

#include <stdio.h>

#include "hub.h"

struct gf_board;
struct gf_event;

/* One target as the exposition shows it. */
struct prom_target {
	const struct gf_board *board;
	const struct gf_counts *counts;
};

/* Counts one event (called where the agent writes its events). */
void prom_count(struct gf_counts *c, const struct gf_event *ev);
/* The exposition of n targets and of the agent's last round (round_s
 * seconds), with ages and detector levels judged at wall_now. */
void prom_format(FILE *f, const struct prom_target *t, int n, double round_s,
		 double wall_now);
/* The same of every target the hub publishes, from copies: GF_OK, or
 * GF_ENOSPC out of memory. */
int prom_hub(FILE *f, struct hub *h);

/* textfile.c: the exposition written to path every period_s, by a
 * thread of its own (a slow disk never stalls the agent's loop). */
struct textfile;
int textfile_write(struct hub *h, const char *path, char *err, size_t errlen);
struct textfile *textfile_start(struct hub *h, const char *path,
				double period_s, char *err, size_t errlen);
void textfile_stop(struct textfile *t);

#endif
