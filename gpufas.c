/* gpufas.c — the command line: which role, which target, which action.
 *
 * gpufas watches a Linux system from outside its operating system, by
 * reading the kernel's own data in the system's RAM, and repairs it by
 * writing that data (see README.md). This file only parses flags and hands
 * over to the room that does the work.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "discover.h"
#include "engine.h"
#include "gpu.h"
#include "gpufas.h"
#include "operator.h"
#include "rescue.h"
#include "signals.h"
#include "snapshot.h"
#include "target.h"
#include "view.h"

enum action { LIVE, INFO, PS, LOG, DETECT, KILL, AGENT, SNAPSHOT, RESTORE, RESET };

struct options {
	enum action action;
	const char *target, *config, *engine, *events;
	const char *targets[GF_MAX_TARGETS];
	int ntargets, headless;
	int gpu;
	int json, threads, no_cache;
	uint32_t log_records;
	struct kill_opts kill;
	int32_t *pids; /* --kill's list; kill.pid is its first */
	uint32_t npids;
	const char *signal;
	const char *snap_name; /* --name */
	/* remote */
	const char *listen[GF_MAX_LISTEN];
	int nlisten;
	const char *key, *read_key, *view;
	int once, heartbeat, rtt;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: gpufas [--target SPEC] [--config FILE] [ACTION]\n"
"       gpufas --agent [--headless] --target SPEC [--target SPEC...]\n"
"       gpufas --view tcp:HOST:PORT|rdma:HOST:PORT --key FILE [ACTION]\n"
"\n"
"Reads a Linux kernel's data from outside it, from its RAM, and repairs it\n"
"by writing that data. No action: the agent with its dashboard.\n"
"\n"
"Actions (one-shot rescue commands):\n"
"  --info              kernel release, KASLR offset, page tables, CPUs, RAM,\n"
"                      how the layout was found, attach time\n"
"  --ps                every process: pid, tgid, ppid, state, RSS, threads,\n"
"                      CPU time, comm (--threads: every thread)\n"
"  --log[=N]           the last N kernel log records (default 50), as dmesg\n"
"                      prints them, read from the kernel's printk ring\n"
"  --detect            sample for a few seconds and run every detector once:\n"
"                      F1-F6, cpu_overload, memory, thrashing, panic\n"
"  --kill PID[,PID...] signal processes: through the guest's in-OS helper\n"
"                      where it has one (kmod/gpufas_helper.c), else written\n"
"                      into the guest kernel's pending-signal state so that\n"
"                      the kernel delivers it (a pseudo-signal)\n"
"    --signal SIG      name or number (default KILL, or [kill] signal)\n"
"    --dry-run         say what would be written, write nothing\n"
"    --force           also signal pid 1 or a kernel thread\n"
"  --snapshot          (vm:PATH,qmp=SOCKET targets) save the guest: its RAM\n"
"                      with a hash per page, QEMU's device state and its\n"
"                      qcow2 disks, at one short pause ([recover] snapshot_dir)\n"
"  --restore           pause the guest, write back only the pages that differ\n"
"                      from the snapshot, load its devices and disks, resume\n"
"    --name N          which snapshot (default: a timestamp; --restore: the\n"
"                      newest of the target)\n"
"    --force           restore even where a writable non-qcow2 disk moved on\n"
"  --reset             QMP system_reset: a full boot of the guest\n"
"\n"
"Agent:\n"
"  --agent --headless  watch the targets until SIGTERM/SIGINT: detect, recover\n"
"                      by config.ini's [recover] policy, and write every event\n"
"                      as a JSON line (attach, unavailable, detach, verdict,\n"
"                      clear, action, result, metrics); SIGHUP reloads config.\n"
"                      Without --headless, on a terminal: the dashboard\n"
"    --events FILE     append events there instead of stdout\n"
"    --listen SPEC     (repeatable) serve remote viewers on tcp:ADDR:PORT or\n"
"                      rdma:ADDR:PORT, Prometheus on http:ADDR:PORT (GET\n"
"                      /metrics, no key) (also [remote] listen; README.md)\n"
"    --key FILE        the operator key (64 hex digits, mode 0600); also\n"
"    --read-key FILE   a read-only key ([remote] key, read_key)\n"
"\n"
"Viewer (a remote agent, authenticated with --key FILE):\n"
"  --view SPEC         tcp:HOST:PORT or rdma:HOST:PORT: the dashboard, or\n"
"    --once [--json]   one snapshot of every target: release, metrics,\n"
"                      detectors, processes\n"
"    --ps [--json], --log[=N], --detect, --kill PID [--signal SIG]\n"
"                      as above, answered by the agent (target 0)\n"
"    --heartbeat[=N]   N heartbeats (default: until stopped), one line each:\n"
"                      up with the round trip, monitor dead, or link dead\n"
"    --rtt[=N]         N heartbeats, then N snapshots (default 1000): min,\n"
"                      median and p99 of their round trips\n"
"\n"
"Options:\n"
"  --target SPEC       (repeatable with --agent) vm:PATH[,machine=pc|q35][,lowmem=BYTES]  a QEMU\n"
"                      guest's RAM file (memory-backend-file, share=on);\n"
"                      [,qmp=SOCKET][,vmstate=NODE]: its QMP socket and the\n"
"                      qcow2 node for snapshots' device state\n"
"                      libvirt:NAME  a running libvirt domain's RAM file\n"
"                      (qemu:///system; the domain needs <memoryBacking>\n"
"                      <source type='file'/><access mode='shared'/>), found\n"
"                      again at each attach, its machine type from the domain;\n"
"                      dump:PATH  an ELF core or a raw RAM copy (read-only);\n"
"                      host  this machine's RAM (/dev/mem, kmod/gpufas_pmem.ko)\n"
"  --config FILE       config.ini: [target] default, [kill] signal, [engine],\n"
"                      [detect], [recover], [agent], [profile]\n"
"  --engine KIND       where the introspection runs: gpu (a persistent\n"
"                      monitor kernel reading guest RAM mapped into the GPU),\n"
"                      cpu (this process), or auto (default: gpu when one is\n"
"                      usable, else cpu, saying why on stderr)\n"
"  --gpu N             which GPU (default 0)\n"
"  --json              machine-readable output for --info and --ps\n"
"  --threads           --ps lists threads, not processes\n"
"  --no-cache          neither use nor keep a cached kernel profile (what\n"
"                      discovery derived for a kernel build, kept in\n"
"                      $GPUFAS_CACHE/profiles, default ~/.cache/gpufas/profiles)\n"
"  --help, --version\n"
"\n"
"Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.\n");
}

/* --kill PID[,PID...]: at most GF_MAX_KILL pids, each > 0. GF_OK, or
 * GF_ENOMEM or GF_EINVAL, said on stderr. */
static int parse_pids(struct options *o, const char *list)
{
	const char *p = list;
	char *end;

	free(o->pids);
	o->npids = 0;
	if (!(o->pids = malloc(GF_MAX_KILL * sizeof *o->pids))) {
		fprintf(stderr, "gpufas: out of memory\n");
		return GF_ENOMEM;
	}
	do {
		long pid = strtol(p, &end, 10);
		if (end == p || (*end && *end != ',') || pid <= 0 || pid > INT32_MAX) {
			fprintf(stderr, "gpufas: --kill wants a pid or a list of pids "
				"separated by commas, not '%s'\n", list);
			return GF_EINVAL;
		}
		if (o->npids == GF_MAX_KILL) {
			fprintf(stderr, "gpufas: --kill takes at most %d pids\n",
				GF_MAX_KILL);
			return GF_EINVAL;
		}
		o->pids[o->npids++] = (int32_t)pid;
		p = end + 1;
	} while (*end);
	o->kill.pid = o->pids[0];
	return GF_OK;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "engine", required_argument, NULL, 'e' },
		{ "gpu", required_argument, NULL, 'g' },
		{ "info", no_argument, NULL, 'i' },
		{ "ps", no_argument, NULL, 'p' },
		{ "detect", no_argument, NULL, 'd' },
		{ "agent", no_argument, NULL, 'a' },
		{ "headless", no_argument, NULL, 'H' },
		{ "events", required_argument, NULL, 'E' },
		{ "log", optional_argument, NULL, 'l' },
		{ "kill", required_argument, NULL, 'k' },
		{ "signal", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "threads", no_argument, NULL, 'T' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "listen", required_argument, NULL, 'L' },
		{ "key", required_argument, NULL, 'K' },
		{ "read-key", required_argument, NULL, 'R' },
		{ "view", required_argument, NULL, 'v' },
		{ "once", no_argument, NULL, 'o' },
		{ "heartbeat", optional_argument, NULL, 'B' },
		{ "rtt", optional_argument, NULL, 'r' },
		{ "snapshot", no_argument, NULL, 'S' },
		{ "restore", no_argument, NULL, 'P' },
		{ "reset", no_argument, NULL, 'Z' },
		{ "name", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof *o);
	o->gpu = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (o->ntargets == GF_MAX_TARGETS) {
				fprintf(stderr, "gpufas: at most %d targets\n",
					GF_MAX_TARGETS);
				return 2;
			}
			o->targets[o->ntargets++] = optarg;
			break;
		case 'c': o->config = optarg; break;
		case 'e': o->engine = optarg; break;
		case 'g':
			o->gpu = (int)strtol(optarg, &end, 10);
			if (*end || o->gpu < 0) {
				fprintf(stderr, "gpufas: --gpu wants a GPU number, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'i': o->action = INFO; break;
		case 'p': o->action = PS; break;
		case 'd': o->action = DETECT; break;
		case 'a': o->action = AGENT; break;
		case 'H': o->headless = 1; break;
		case 'E': o->events = optarg; break;
		case 'l':
			o->action = LOG;
			o->log_records = optarg ? (uint32_t)strtoul(optarg, &end, 10) : 50;
			if ((optarg && (*end || !*optarg)) || o->log_records == 0) {
				fprintf(stderr, "gpufas: --log wants a number of "
					"records, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'k':
			o->action = KILL;
			if (parse_pids(o, optarg))
				return 2;
			break;
		case 's': o->signal = optarg; break;
		case 'n': o->kill.dry_run = 1; break;
		case 'f': o->kill.force = 1; break;
		case 'j': o->json = 1; break;
		case 'T': o->threads = 1; break;
		case 'N': o->no_cache = 1; break;
		case 'L':
			if (o->nlisten == GF_MAX_LISTEN) {
				fprintf(stderr, "gpufas: at most %d --listen\n", GF_MAX_LISTEN);
				return 2;
			}
			o->listen[o->nlisten++] = optarg;
			break;
		case 'K': o->key = optarg; break;
		case 'R': o->read_key = optarg; break;
		case 'v': o->view = optarg; break;
		case 'o': o->once = 1; break;
		case 'B':
			o->heartbeat = optarg ? (int)strtol(optarg, &end, 10) : -1;
			if (optarg && (*end || o->heartbeat <= 0)) {
				fprintf(stderr, "gpufas: --heartbeat wants a count, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			o->rtt = optarg ? (int)strtol(optarg, &end, 10) : 1000;
			if ((optarg && *end) || o->rtt <= 0 || o->rtt > 1000000) {
				fprintf(stderr, "gpufas: --rtt wants a count, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S': o->action = SNAPSHOT; break;
		case 'P': o->action = RESTORE; break;
		case 'Z': o->action = RESET; break;
		case 'M': o->snap_name = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("gpufas %s\n", GPUFAS_VERSION); exit(0);
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gpufas: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->ntargets > 1 && o->action != AGENT) {
		fprintf(stderr, "gpufas: several targets are for --agent only\n");
		return 2;
	}
	if ((o->headless || o->events) && o->action != AGENT) {
		fprintf(stderr, "gpufas: --headless and --events go with --agent\n");
		return 2;
	}
	if (o->view && (o->ntargets || o->action == AGENT || o->nlisten)) {
		fprintf(stderr, "gpufas: --view talks to an agent: no --target, "
			"--agent or --listen with it\n");
		return 2;
	}
	if (!o->view && (o->once || o->heartbeat || o->rtt)) {
		fprintf(stderr, "gpufas: --once, --heartbeat and --rtt go with --view\n");
		return 2;
	}
	if (o->nlisten && o->action != AGENT && o->action != LIVE) {
		fprintf(stderr, "gpufas: --listen goes with --agent\n");
		return 2;
	}
	if (o->snap_name && o->action != SNAPSHOT && o->action != RESTORE) {
		fprintf(stderr, "gpufas: --name goes with --snapshot or --restore\n");
		return 2;
	}
	if (o->view && (o->action == SNAPSHOT || o->action == RESTORE ||
			o->action == RESET)) {
		fprintf(stderr, "gpufas: --snapshot, --restore and --reset are local "
			"only: give --target, not --view\n");
		return 2;
	}
	o->target = o->ntargets ? o->targets[0] : NULL;
	return 0;
}

/* Command line over config over built-in defaults. */
static int resolve(struct options *o, struct gf_config *cfg)
{
	char err[512];

	config_defaults(cfg);
	if (o->config && config_load(cfg, o->config, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 1;
	}
	if (!o->target && cfg->target[0])
		o->target = o->targets[o->ntargets++] = cfg->target;
	if (!o->target) {
		fprintf(stderr, "gpufas: no target: give --target vm:PATH, "
				"libvirt:NAME, dump:PATH or host (see --help)\n");
		return 2;
	}
	if (config_override(cfg, o->engine, o->gpu, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 2;
	}
	cfg->no_cache = o->no_cache;
	o->kill.sig = o->signal ? signal_parse(o->signal) : cfg->signal;
	if (o->kill.sig < 0) {
		fprintf(stderr, "gpufas: unknown signal '%s'\n", o->signal);
		return 2;
	}
	return 0;
}

static int run_action(const struct options *o, const struct gf_config *cfg)
{
	struct gf_target t;
	struct gf_attachment a;
	struct gf_engine e;
	char msg[512];
	int rc = 1;

	if (target_open(&t, o->target, o->action == KILL && !o->kill.dry_run)) {
		fprintf(stderr, "gpufas: %s\n", t.error);
		return 1;
	}
	if (gf_attach(&a, &t, cfg, msg, sizeof msg)) {
		fprintf(stderr, "gpufas: %s: %s\n", o->target, msg);
		goto out_target;
	}
	if (a.note[0])
		fprintf(stderr, "gpufas: note: %s\n", a.note);
	if (engines_open(&e, 1, cfg->engine, cfg->gpu, &t, &a, NULL, NULL, msg,
			 sizeof msg)) {
		fprintf(stderr, "gpufas: %s\n", msg);
		goto out_attach;
	}
	if (msg[0])
		fprintf(stderr, "gpufas: note: %s\n", msg);
	switch (o->action) {
	case INFO: rc = rescue_info(&a, &e, o->json); break;
	case PS: rc = rescue_ps(&e, o->json, o->threads); break;
	case LOG: rc = rescue_log(&e, o->log_records); break;
	default: rc = rescue_kill(&e, &t, &o->kill, o->pids, o->npids); break;
	}
	engines_close(&e, 1);
out_attach:
	gf_detach(&a);
out_target:
	target_close(&t);
	return rc;
}

/* --snapshot, --restore, --reset: QEMU driven through its QMP socket;
 * one JSON line on stdout for the first two, one error line on stderr. */
static int run_snapshot(const struct options *o, const struct gf_config *cfg)
{
	struct gf_snap_config sc;
	struct gf_snap_stats st;
	char err[512];
	int rc;

	snap_config_defaults(&sc);
	if (o->config && snap_config_load(&sc, o->config, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 1;
	}
	if (!gf_snap_has_qmp(o->target, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 1;
	}
	if (o->action == RESET) {
		if ((rc = gf_snap_reset(o->target, &sc, err, sizeof err)))
			fprintf(stderr, "gpufas: %s\n", err);
		return rc ? 1 : 0;
	}
	if (o->action == SNAPSHOT)
		rc = gf_snap_save(o->target, o->snap_name, &sc, cfg, &st);
	else
		rc = gf_snap_restore(o->target, o->snap_name, &sc, cfg, o->kill.force, &st);
	gf_snap_json(stdout, o->target, o->action == SNAPSHOT ? "snapshot" : "restore",
		     &st);
	if (rc)
		fprintf(stderr, "gpufas: %s\n", st.error);
	return rc ? 1 : 0;
}

/* [remote] with the command line's --listen (all of them, if any), --key
 * and --read-key over it. */
static int remote_settings(const struct options *o, struct gf_remote *r)
{
	char err[512];

	remote_defaults(r);
	if (o->config && remote_config_load(r, o->config, err, sizeof err)) {
		fprintf(stderr, "gpufas: %s\n", err);
		return 1;
	}
	if (o->nlisten)
		r->nlisten = 0;
	for (int i = 0; i < o->nlisten; i++) {
		if (strlen(o->listen[i]) >= sizeof r->listen[0]) {
			fprintf(stderr, "gpufas: --listen %s: too long\n", o->listen[i]);
			return 2;
		}
		strcpy(r->listen[r->nlisten++], o->listen[i]);
	}
	if (o->key)
		snprintf(r->key, sizeof r->key, "%s", o->key);
	if (o->read_key)
		snprintf(r->read_key, sizeof r->read_key, "%s", o->read_key);
	return 0;
}

/* The agent shows its dashboard on a terminal unless told --headless;
 * with no terminal it runs headless. With no action the dashboard is what
 * was asked for: without a terminal that is an error, which it reports. */
static int run_agent(const struct options *o, const struct gf_config *cfg)
{
	struct gf_remote remote;
	struct agent_opts ao = {
		.ntargets = o->ntargets, .config = o->config, .events = o->events,
		.engine = o->engine, .gpu = o->gpu, .remote = &remote,
		.dashboard = o->action == LIVE ||
			     (!o->headless && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)),
	};
	int rc;

	if ((rc = remote_settings(o, &remote)))
		return rc;

	memcpy(ao.targets, o->targets, sizeof ao.targets);
	return agent_run(&ao, cfg);
}

/* --view: the action asked for, answered by a remote agent. */
static int run_view(const struct options *o)
{
	struct view_opts v = {
		.spec = o->view, .config = o->config, .key = o->key, .json = o->json,
		.pid = o->kill.pid, .log_records = o->log_records, .count = o->heartbeat,
		.sig = o->signal ? signal_parse(o->signal) : SIGKILL,
	};

	if (v.sig < 0) {
		fprintf(stderr, "gpufas: unknown signal '%s'\n", o->signal);
		return 2;
	}
	if (v.count < 0)
		v.count = 0;
	if (o->npids > 1) {
		fprintf(stderr, "gpufas: --view --kill takes one pid\n");
		return 2;
	}
	switch (o->action) {
	case PS: v.action = VIEW_PS; break;
	case KILL: v.action = VIEW_KILL; break;
	case LOG: v.action = VIEW_LOG; break;
	case DETECT: v.action = VIEW_DETECT; break;
	default:
		v.action = o->once ? VIEW_ONCE : o->heartbeat ? VIEW_HEARTBEAT
			   : o->rtt ? VIEW_RTT : VIEW_DASHBOARD;
		if (o->rtt)
			v.count = o->rtt;
		break;
	}
	return view_run(&v);
}

int main(int argc, char **argv)
{
	struct options o;
	struct gf_config cfg;
	int rc;

	if ((rc = parse_args(argc, argv, &o)))
		;
	else if (o.view)
		rc = run_view(&o);
	else if ((rc = resolve(&o, &cfg)))
		;
	else if (o.action == AGENT || o.action == LIVE)
		rc = run_agent(&o, &cfg);
	else if (o.action == DETECT)
		rc = rescue_detect(o.target, &cfg, o.json);
	else if (o.action == SNAPSHOT || o.action == RESTORE || o.action == RESET)
		rc = run_snapshot(&o, &cfg);
	else
		rc = run_action(&o, &cfg);
	free(o.pids);
	return rc;
}
