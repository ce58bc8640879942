/* events.h — events and verdicts as JSON lines (events.c).
 */
#ifndef GPUFAS_EVENTS_H
#define GPUFAS_EVENTS_H

#include <stdio.h>

struct gf_event;
struct gf_verdict;

void gf_event_json(FILE *f, const struct gf_event *ev);

void gf_verdict_json(FILE *f, const struct gf_verdict *v, const char *log);

#endif
