/* agent.c — the headless agent: watches its targets at a fixed interval,
 * writes every event as a JSON line, and recovers by policy.
 *
 *   SIGTERM, SIGINT  stop cleanly (a detach event per target, exit 0)
 *   SIGHUP           read config.ini again, and reopen the events file
 *
 * It runs until told to stop: a target that cannot be attached (not
 * there yet, still booting, rebooting, shut down) is tried again every
 * second, and says why once per reason.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpufas.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct agent {
	const struct agent_opts *o;
	struct gf_config cfg;
	FILE *events;
	struct watch *w;
};

static void write_event(void *ctx, const struct gf_event *ev)
{
	struct agent *ag = ctx;

	event_json(ag->events, ev);
}

/* --events over [agent] events over stdout; appended to, never truncated. */
static int open_events(struct agent *ag)
{
	const char *path = ag->o->events ? ag->o->events : ag->cfg.events;
	FILE *f;

	if (!path[0]) {
		ag->events = stdout;
		return 0;
	}
	if (!(f = fopen(path, "a"))) {
		fprintf(stderr, "gpufas: events file %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (ag->events && ag->events != stdout)
		fclose(ag->events);
	ag->events = f;
	return 0;
}

/* Settings take effect at once; a changed engine or write access at the
 * next attach. A config that does not load leaves the old one running. */
static void reload(struct agent *ag)
{
	struct gf_config cfg;
	char err[512];

	reload_requested = 0;
	config_defaults(&cfg);
	if ((ag->o->config && config_load(&cfg, ag->o->config, err, sizeof err)) ||
	    config_override(&cfg, ag->o->engine, ag->o->gpu, err, sizeof err)) {
		fprintf(stderr, "gpufas: reload: %s; keeping the running config\n", err);
		return;
	}
	ag->cfg = cfg;
	open_events(ag);
}

static void sleep_until(double t)
{
	struct timespec ts = { (time_t)t, (long)((t - (time_t)t) * 1e9) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int agent_run(const struct agent_opts *o, const struct gf_config *cfg)
{
	struct agent ag = { .o = o, .cfg = *cfg };
	double next;
	int i;

	if (!(ag.w = calloc((size_t)o->ntargets, sizeof *ag.w))) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	if (open_events(&ag)) {
		free(ag.w);
		return 1;
	}
	handle_signals();
	for (i = 0; i < o->ntargets; i++)
		watch_init(&ag.w[i], o->targets[i], &ag.cfg, write_event, &ag);
	/* a fixed beat: a slow tick shortens the next wait, never shifts it */
	for (next = now_monotonic(); !stop_requested;) {
		if (reload_requested)
			reload(&ag);
		for (i = 0; i < o->ntargets && !stop_requested; i++)
			watch_tick(&ag.w[i], now_monotonic());
		next += ag.cfg.interval_s;
		if (next < now_monotonic())
			next = now_monotonic();
		sleep_until(next);
	}
	for (i = 0; i < o->ntargets; i++)
		watch_close(&ag.w[i]);
	if (ag.events != stdout)
		fclose(ag.events);
	free(ag.w);
	return 0;
}
