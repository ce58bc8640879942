/* agent.c — the headless agent: watches its targets at a fixed interval,
 * writes every event as a JSON line, and recovers by policy.
 *
 *   SIGTERM, SIGINT  stop cleanly (a detach event per target, exit 0)
 *   SIGHUP           headless: read config.ini again, and reopen the
 *                    events file; with the dashboard: stop (hang-up)
 *
 * It runs until told to stop: a target that cannot be attached (not
 * there yet, still booting, rebooting, shut down) is tried again every
 * second, and says why once per reason.
 *
 * Kernel failures ([recover] kernel, snapshot; snapshot.h): with
 * snapshot = ready it snapshots a target healthy for ready_ms (with
 * ready_process running), once per boot; with kernel = restore a panic,
 * or an F1/F3/F5 hang lasting hang_ms, is undone by restoring the newest
 * snapshot, the watch attaching afresh to the restored kernel; kernel =
 * reset boots the guest again instead (QMP system_reset).
 *
 * Under systemd (sdnotify.h) it says READY=1 once every target was
 * attached or said why not, pings the watchdog from its loop, keeps a
 * one-line STATUS=, and announces reloads and its stop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "auth.h"
#include "board.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "engine.h"
#include "events.h"
#include "gpu.h"
#include "gpufas.h"
#include "hub.h"
#include "prom.h"
#include "proto.h"
#include "sdnotify.h"
#include "snapshot.h"
#include "tui.h"
#include "watch.h"

/* Set by the signal handlers (stop also when the dashboard ends), read by
 * the loop's thread and the dashboard's: atomics, which a handler may
 * store to when they are lock-free (C11 7.14.1.1), where a volatile
 * sig_atomic_t is only good within one thread. */
static atomic_int stop_requested, reload_requested;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal handlers store to atomic_int");

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

/* SIGHUP reloads a headless agent; to one with a dashboard it means what
 * it says, that the terminal hung up, and it stops. */
static void handle_signals(int dashboard)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!dashboard)
		sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One target's kernel, as [recover] kernel and snapshot see it. */
struct kernel_state {
	double healthy_since; /* attached with no verdict active since; 0: not */
	double hang_since;    /* F1, F3 or F5 active since; 0: none */
	int acted;            /* restored or reset: nothing more until attached */
	int failed;           /* ... and it failed: nothing more for this boot */
	uint64_t acted_kaslr; /* the boot acted on */
	int snapped;          /* a snapshot was taken (or tried) of ... */
	uint64_t snap_kaslr;  /* ... the boot with this KASLR offset */
};

struct agent {
	const struct agent_opts *o;
	struct gf_config cfg;
	struct gf_snap_config snap;   /* [recover]'s kernel and snapshot settings */
	struct kernel_state *kernel;  /* one per watch */
	FILE *events;
	struct watch *w;
	struct gf_board *boards;      /* one per watch, kept across rounds */
	struct gf_counts *counts;     /* one per watch: its events, counted */
	struct gf_board_task *tasks;  /* scratch for publishing */
	uint32_t task_cap;
	struct hub *hub;
	struct gf_server *server; /* --listen's, or NULL */
	struct textfile *textfile; /* [agent] textfile's writer, or NULL */
	struct gf_keys keys;      /* the GPU mailboxes' ([remote] gpu_mailbox) */
	/* systemd's side (sdnotify.h) */
	uint8_t reported[GF_MAX_TARGETS]; /* attached, or said why not, once */
	int ready;                /* READY=1 sent */
	double watchdog_s;        /* ping period; 0: no watchdog */
	double next_ping;
	char status[256];         /* the last STATUS= sent */
};

static void write_event(void *ctx, const struct gf_event *ev)
{
	struct agent *ag = ctx;

	board_note(&ag->boards[ev->w - ag->w], ev);
	prom_count(&ag->counts[ev->w - ag->w], ev);
	if (ev->kind == GF_EV_ATTACH || ev->kind == GF_EV_UNAVAILABLE)
		ag->reported[ev->w - ag->w] = 1;
	if (ev->kind == GF_EV_ATTACH) {
		struct kernel_state *ks = &ag->kernel[ev->w - ag->w];
		if (!ks->failed || ks->acted_kaslr != ev->w->a.kaslr_offset)
			ks->acted = ks->failed = 0;
	}
	if (ag->events)
		gf_event_json(ag->events, ev);
}

/* Room for the largest process list seen so far, and some; a round that
 * did not fit publishes what did and the next one fits. */
static void grow_tasks(struct agent *ag)
{
	uint32_t cap = ag->task_cap ? 2 * ag->task_cap : 1024;
	struct gf_board_task *t = realloc(ag->tasks, cap * sizeof *t);

	if (t) {
		ag->tasks = t;
		ag->task_cap = cap;
	}
}

/* After a round: each board brought up to date and published. */
static void publish(struct agent *ag, double now)
{
	for (int i = 0; i < ag->o->ntargets; i++) {
		struct gf_board *b = &ag->boards[i];
		uint32_t n = 0;
		board_update(b, &ag->w[i], now);
		if (ag->w[i].attached)
			engine_board(&ag->w[i].e, b);
		if (board_tasks(&ag->w[i], ag->tasks, ag->task_cap, &n) == GF_ENOSPC)
			grow_tasks(ag);
		hub_publish(ag->hub, i, b, &ag->counts[i], ag->tasks, n);
	}
}

/* --events over [agent] events over stdout; appended to, never truncated.
 * With the dashboard on the terminal, events go to a file or nowhere.
 * GF_OK, or GF_EIO (logged). */
static int open_events(struct agent *ag)
{
	const char *path = ag->o->events ? ag->o->events : ag->cfg.events;
	FILE *f;

	if (!path[0]) {
		ag->events = ag->o->dashboard ? NULL : stdout;
		return GF_OK;
	}
	if (!(f = fopen(path, "a"))) {
		gf_notify_log(LOG_ERR, "events file %s: %s", path, strerror(errno));
		return GF_EIO;
	}
	if (ag->events && ag->events != stdout)
		fclose(ag->events);
	ag->events = f;
	return GF_OK;
}

/* Settings take effect at once; a changed engine or write access at the
 * next attach. A config that does not load leaves the old one running. */
static void reload(struct agent *ag)
{
	struct gf_snap_config snap;
	struct gf_config cfg;
	char err[512];

	reload_requested = 0;
	config_defaults(&cfg);
	if ((ag->o->config && config_load(&cfg, ag->o->config, err, sizeof err)) ||
	    config_override(&cfg, ag->o->engine, ag->o->gpu, err, sizeof err)) {
		gf_notify_log(LOG_WARNING, "reload: %s; keeping the running config", err);
		return;
	}
	snap_config_defaults(&snap);
	if (ag->o->config && snap_config_load(&snap, ag->o->config, err, sizeof err)) {
		gf_notify_log(LOG_WARNING, "reload: %s; keeping the running config", err);
		return;
	}
	cfg.no_cache = ag->cfg.no_cache; /* the command line's, as --engine */
	ag->cfg = cfg;
	ag->snap = snap;
	for (int i = 0; i < ag->o->ntargets; i++)
		watch_retune(&ag->w[i]);
	open_events(ag);
}

/* systemd is told of a reload before it begins and after it ends. */
static void reload_announced(struct agent *ag)
{
	char msg[64];

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)(gf_now_monotonic() * 1e6));
	gf_notify(msg);
	reload(ag);
	if (ag->ready)
		gf_notify("READY=1");
}

/* READY=1 once every target was attached or reported unavailable. */
static void notify_ready(struct agent *ag)
{
	for (int i = 0; i < ag->o->ntargets; i++)
		if (!ag->reported[i])
			return;
	if (gf_notify("READY=1") < 0)
		gf_notify_log(LOG_WARNING, "cannot notify $NOTIFY_SOCKET: %s",
			      strerror(errno));
	ag->ready = 1;
}

/* STATUS=, sent when it changes: targets attached, active faults, and
 * the engine of the first attached target (else the one configured). */
static void notify_status(struct agent *ag)
{
	const char *engine = ag->cfg.engine;
	int attached = 0, faults = 0;
	char status[sizeof ag->status];

	for (int i = ag->o->ntargets - 1; i >= 0; i--) {
		const struct gf_board *b = &ag->boards[i];
		if (!b->attached)
			continue;
		attached++;
		engine = b->engine;
		for (int c = 0; c < GF_NCLASSES; c++)
			faults += b->verdict[c].active != 0;
	}
	snprintf(status, sizeof status, "STATUS=%d/%d targets attached, %d active "
		 "fault%s, engine %s", attached, ag->o->ntargets, faults,
		 faults == 1 ? "" : "s", engine);
	if (strcmp(status, ag->status) && gf_notify(status) >= 0)
		memcpy(ag->status, status, sizeof status);
}

/* WATCHDOG=1 from the loop only, so that a loop that hangs stops it. */
static void ping_watchdog(struct agent *ag, double now)
{
	if (ag->watchdog_s && now >= ag->next_ping) {
		gf_notify("WATCHDOG=1");
		ag->next_ping = now + ag->watchdog_s;
	}
}

/* A long interval is slept in pieces, between the watchdog's pings; a
 * signal (to stop, to reload) ends the sleep, for the loop to act on it. */
static void sleep_until(struct agent *ag, double t)
{
	double until;

	do {
		until = ag->watchdog_s && ag->next_ping < t ? ag->next_ping : t;
		if (stop_requested || reload_requested || gf_sleep_until(until))
			return;
		ping_watchdog(ag, gf_now_monotonic());
	} while (until < t);
}

/* The watch lets go of the kernel (its loop must not run on memory being
 * rolled back), then the restore; the watch attaches again at the next
 * round, its loop with no history from before. */
static int kernel_restore(struct agent *ag, int i)
{
	struct gf_snap_stats st;
	int rc;

	watch_let_go(&ag->w[i], "restoring the kernel from a snapshot");
	rc = gf_snap_restore(ag->o->targets[i], NULL, &ag->snap, &ag->cfg, 0, &st);
	if (ag->events)
		gf_snap_json(ag->events, ag->o->targets[i], "restore", &st);
	return rc;
}

static int kernel_reset(struct agent *ag, int i)
{
	struct gf_snap_stats st = { .outcome = "reset", .disk_dropped = -1 };
	double t = gf_now_monotonic();
	int rc = gf_snap_reset(ag->o->targets[i], &ag->snap, st.error, sizeof st.error);

	if (rc)
		st.outcome = "failed";
	st.ms_total = (gf_now_monotonic() - t) * 1e3;
	if (ag->events)
		gf_snap_json(ag->events, ag->o->targets[i], "reset", &st);
	return rc;
}

/* Whether [recover] ready_process (if set) runs in the target. */
static int ready_process_runs(struct agent *ag, int i)
{
	uint32_t n = 0;

	if (!ag->snap.ready_process[0])
		return 1;
	if (board_tasks(&ag->w[i], ag->tasks, ag->task_cap, &n) == GF_ENOSPC)
		grow_tasks(ag);
	for (uint32_t k = 0; k < n; k++)
		if (!strncmp(ag->tasks[k].t.comm, ag->snap.ready_process, GF_COMM_LEN))
			return 1;
	return 0;
}

static void kernel_snapshot(struct agent *ag, int i)
{
	struct kernel_state *ks = &ag->kernel[i];
	struct gf_snap_stats st;

	ks->snapped = 1;
	ks->snap_kaslr = ag->w[i].a.kaslr_offset;
	gf_snap_save(ag->o->targets[i], NULL, &ag->snap, &ag->cfg, &st);
	if (ag->events)
		gf_snap_json(ag->events, ag->o->targets[i], "snapshot", &st);
}

/* After a target's tick: how long its kernel has been healthy or hung,
 * and what [recover] kernel and snapshot say to do about it. */
static void kernel_tick(struct agent *ag, int i, double now)
{
	struct kernel_state *ks = &ag->kernel[i];
	const struct gf_verdict *v = watch_verdicts(&ag->w[i]);
	int active = 0, hang = v[GF_F1].active || v[GF_F3].active || v[GF_F5].active;

	for (int c = 0; c < GF_NCLASSES; c++)
		active |= v[c].active;
	ks->healthy_since = !ag->w[i].attached || active ? 0 :
			    ks->healthy_since ? ks->healthy_since : now;
	ks->hang_since = !hang ? 0 : ks->hang_since ? ks->hang_since : now;
	if (!ks->acted && ag->snap.kernel != GF_KERNEL_REPORT &&
	    (v[GF_PANIC].active || (hang && now - ks->hang_since >= ag->snap.hang_s))) {
		ks->acted = 1;
		ks->acted_kaslr = ag->w[i].a.kaslr_offset;
		ks->failed = ag->snap.kernel == GF_KERNEL_RESTORE ? kernel_restore(ag, i)
								 : kernel_reset(ag, i);
		return;
	}
	if (ag->snap.snapshot_ready && ks->healthy_since &&
	    now - ks->healthy_since >= ag->snap.ready_s &&
	    !(ks->snapped && ks->snap_kaslr == ag->w[i].a.kaslr_offset) &&
	    ready_process_runs(ag, i))
		kernel_snapshot(ag, i);
}

/* The agent's loop: every target once a round, on a fixed beat (a slow
 * round shortens the next wait, never shifts the beat). */
static void *run_loop(void *arg)
{
	struct agent *ag = arg;
	double next;

	for (next = gf_now_monotonic(); !stop_requested;) {
		double began = gf_now_monotonic();
		if (reload_requested)
			reload_announced(ag);
		for (int i = 0; i < ag->o->ntargets && !stop_requested; i++) {
			hub_serve(ag->hub, i, &ag->w[i]);
			watch_tick(&ag->w[i], gf_now_monotonic());
			kernel_tick(ag, i, gf_now_monotonic());
		}
		hub_round(ag->hub, gf_now_monotonic() - began);
		publish(ag, gf_now_monotonic());
		if (!ag->ready)
			notify_ready(ag);
		notify_status(ag);
		ping_watchdog(ag, gf_now_monotonic());
		next += ag->cfg.interval_s;
		if (next < gf_now_monotonic())
			next = gf_now_monotonic();
		sleep_until(ag, next);
	}
	gf_notify("STOPPING=1");
	return NULL;
}

/* The dashboard in this thread, the loop in another, until either stops. */
static int run_with_dashboard(struct agent *ag)
{
	struct gf_source src;
	pthread_t loop;
	int rc;

	hub_source(ag->hub, &src);
	if ((rc = pthread_create(&loop, NULL, run_loop, ag))) {
		gf_notify_log(LOG_ERR, "cannot start the agent's loop: %s", strerror(rc));
		return 1;
	}
	rc = tui_run(&src, &stop_requested);
	stop_requested = 1;
	pthread_join(loop, NULL);
	return rc;
}

static void agent_free(struct agent *ag)
{
	if (ag->events && ag->events != stdout)
		fclose(ag->events);
	hub_free(ag->hub);
	auth_keys_wipe(&ag->keys);
	free(ag->tasks);
	free(ag->counts);
	free(ag->kernel);
	free(ag->boards);
	free(ag->w);
}

/* An agent on `host` lives in the OS it watches: under the memory pressure
 * it is there to end, its own pages must not be the ones evicted, or it
 * stalls on refaults with everything else. Locked, as earlyoom is. (The
 * RAM mapping itself is remap_pfn_range()d, which mlock leaves alone.) */
static void lock_if_inside(const struct agent_opts *o)
{
	for (int i = 0; i < o->ntargets; i++)
		if (!strcmp(o->targets[i], "host")) {
			if (mlockall(MCL_CURRENT | MCL_FUTURE))
				gf_notify_log(LOG_NOTICE, "note: cannot lock the agent "
					      "in memory (%s): it may stall under "
					      "memory pressure", strerror(errno));
			return;
		}
}

/* With [remote] gpu_mailbox, each target's GPU watch loop gets a mailbox
 * of its own that the GPU answers (devbox.h), under the agent's keys:
 * GF_OK, or auth_keys_load()'s error. */
static int gpu_mailboxes(struct agent *ag, char *err, size_t errlen)
{
	const struct gf_remote *r = ag->o->remote;
	int rc;

	if (!r->gpu_mailbox[0])
		return GF_OK;
	if ((rc = auth_keys_load(&ag->keys, r, err, errlen)))
		return rc;
	for (int i = 0; i < ag->o->ntargets; i++)
		ag->w[i].mailbox = (struct gf_mailbox_opts){
			.keys = &ag->keys, .path = r->gpu_mailbox, .target = i };
	return GF_OK;
}

int agent_run(const struct agent_opts *o, const struct gf_config *cfg)
{
	struct agent ag = { .o = o, .cfg = *cfg };
	char err[512];
	int rc = 0;

	gf_notify_log_init();
	ag.watchdog_s = gf_notify_watchdog_s(getenv("WATCHDOG_USEC"),
					     getenv("WATCHDOG_PID"), (long)getpid());
	ag.w = calloc((size_t)o->ntargets, sizeof *ag.w);
	ag.boards = calloc((size_t)o->ntargets, sizeof *ag.boards);
	ag.counts = calloc((size_t)o->ntargets, sizeof *ag.counts);
	ag.kernel = calloc((size_t)o->ntargets, sizeof *ag.kernel);
	ag.hub = hub_new(o->ntargets);
	if (!ag.w || !ag.boards || !ag.counts || !ag.kernel || !ag.hub) {
		gf_notify_log(LOG_ERR, "out of memory");
		agent_free(&ag);
		return 1;
	}
	snap_config_defaults(&ag.snap);
	if (o->config && snap_config_load(&ag.snap, o->config, err, sizeof err)) {
		gf_notify_log(LOG_ERR, "%s", err);
		agent_free(&ag);
		return 1;
	}
	if (open_events(&ag)) {
		agent_free(&ag);
		return 1;
	}
	grow_tasks(&ag);
	lock_if_inside(o);
	handle_signals(o->dashboard);
	for (int i = 0; i < o->ntargets; i++) {
		board_init(&ag.boards[i], o->targets[i]);
		watch_init(&ag.w[i], o->targets[i], &ag.cfg, write_event, &ag);
		/* an operator may signal: at the dashboard, or remotely */
		ag.w[i].want_write = o->dashboard || remote_needs_key(o->remote) ||
				     o->remote->gpu_mailbox[0];
	}
	if (gpu_mailboxes(&ag, err, sizeof err)) {
		gf_notify_log(LOG_ERR, "%s", err);
		rc = 1;
	} else if (o->remote->nlisten && !(ag.server = server_start(ag.hub, o->remote,
								       err, sizeof err))) {
		gf_notify_log(LOG_ERR, "%s", err);
		rc = 1;
	} else if (ag.cfg.textfile[0] &&
		   !(ag.textfile = textfile_start(ag.hub, ag.cfg.textfile,
						  ag.cfg.textfile_s, err, sizeof err))) {
		gf_notify_log(LOG_ERR, "%s", err);
		rc = 1;
	} else if (o->dashboard) {
		rc = run_with_dashboard(&ag);
	} else {
		run_loop(&ag);
	}
	textfile_stop(ag.textfile);
	server_stop(ag.server);
	for (int i = 0; i < o->ntargets; i++)
		watch_close(&ag.w[i]);
	agent_free(&ag);
	return rc;
}
