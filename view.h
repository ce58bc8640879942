/* view.h — the remote viewer (view.c).
 */
#ifndef GPUFAS_VIEW_H
#define GPUFAS_VIEW_H

#include <stdint.h>

struct view_opts {
	const char *spec;
	const char *config;
	const char *key;
	enum { VIEW_DASHBOARD, VIEW_ONCE, VIEW_PS, VIEW_KILL, VIEW_LOG,
	       VIEW_DETECT, VIEW_HEARTBEAT, VIEW_RTT } action;
	int json, target, sig, count;
	int32_t pid;
	uint32_t log_records;
};
int view_run(const struct view_opts *o);

#endif
