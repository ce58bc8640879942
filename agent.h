/* agent.h — the headless agent and the dashboard beside it (agent.c).
 */
#ifndef GPUFAS_AGENT_H
#define GPUFAS_AGENT_H

#include "gpufas.h"

struct gf_config;
struct gf_remote;

struct agent_opts {
	const char *targets[GF_MAX_TARGETS];
	int ntargets;
	const char *config, *events, *engine;
	int gpu;       /* -1: from config.ini */
	int dashboard; /* the dashboard on this terminal, else headless */
	const struct gf_remote *remote; /* listeners and keys (view.c) */
};
int agent_run(const struct agent_opts *o, const struct gf_config *cfg);

#endif
