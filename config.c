/* config.c — config.ini, read with inih.
 *
 *   [target]  default = vm:PATH      used when no --target is given (or
 *                                    libvirt:NAME, dump:PATH, host)
 *   [kill]    signal = KILL          the signal --kill sends by default
 *   [engine]  kind = auto            where the introspection runs: auto,
 *             gpu = 0                cpu or gpu; which GPU
 *   [detect]  thresholds of the detectors (numbers; see config.ini)
 *   [recover] memory = kill          kill, term (then kill) or report, for
 *             cpu_overload = report  each process-level verdict; grace,
 *             ... protect, dry_run   cool-down, protected names
 *   [agent]   interval_ms, metrics_ms, events, host_stall_ms, max_tasks,
 *             textfile, textfile_ms
 *   [recover] snapshot_dir, snapshot_keep, disks, qmp_timeout_ms, kernel,
 *             hang_ms, snapshot, ready_ms, ready_process: snapshots and
 *             restores (snapshot.h), read by snap_config_load()
 *   [remote]  listen, key, read_key, gpu_mailbox, heartbeat_ms, timeout_ms,
 *             max_clients:
 *             read by remote_config_load(), which only the agent and the
 *             viewer call
 *   [profile] NAME = VALUE           symbols, offsets and constants by hand,
 *                                    for kernels without BTF (see layout.c)
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <unistd.h>

#include "config.h"
#include "detect.h"
#include "gpufas.h"
#include "loop.h"
#include "recover.h"
#include "signals.h"
#include "snapshot.h"

#define DEFAULT_MAX_TASKS 16384

struct parse_state {
	struct gf_config *c;
	char *err;
	size_t errlen;
	struct gf_remote *r; /* remote_config_load()'s */
	struct gf_snap_config *s; /* snap_config_load()'s */
};

/* [recover]'s settings of snapshots and restores (snap_config_load()). */
static const char *const snap_keys[] = {
	"snapshot_dir", "snapshot_keep", "disks", "qmp_timeout_ms", "kernel",
	"hang_ms", "snapshot", "ready_ms", "ready_process",
};

static int is_snap_key(const char *section, const char *key)
{
	if (strcmp(section, "recover"))
		return 0;
	for (size_t i = 0; i < sizeof snap_keys / sizeof *snap_keys; i++)
		if (!strcmp(key, snap_keys[i]))
			return 1;
	return 0;
}

/* GRASS's thresholds for F1-F6, GPUSentinel's for CPU overload. */
void gf_detect_defaults(struct gf_thresholds *th)
{
	*th = (struct gf_thresholds){
		.window_s = 0.5,
		.sys_pct = 95, .usr_pct = 1, .cs_per_s = 350,
		.iowait_pct = 90, .blocked = 32,
		.pswpout_per_s = 3000, .memfree_mib = 256,
		.overload_pct = 90, .overload_s = 5,
		.available_pct = 10, .swap_free_pct = 10,
		.thrash_swap_per_s = 256, .thrash_s = 1,
	};
}

void gf_policy_defaults(struct gf_policy *p)
{
	*p = (struct gf_policy){
		.memory = GF_KILL,
		.cpu_overload = GF_REPORT,
		.grace_s = 2,
		.cooldown_s = 5,
		.exit_timeout_s = 10,
	};
}

void config_defaults(struct gf_config *c)
{
	memset(c, 0, sizeof *c);
	c->signal = 9;
	strcpy(c->engine, "auto");
	gf_detect_defaults(&c->detect);
	gf_policy_defaults(&c->recover);
	c->interval_s = 0.1;
	c->metrics_s = 1;
	c->textfile_s = 15;
	c->host_stall_s = 2;
	c->max_tasks = DEFAULT_MAX_TASKS;
}

/* Adds an age the detectors read processes at, once. */
static void add_age(struct gf_loop_params *p, double age)
{
	for (uint32_t i = 0; i < p->nages; i++)
		if (p->age[i] == age)
			return;
	p->age[p->nages++] = age;
}

/* The watch loop's parameters for one target: the config's thresholds
 * and policy, and tables sized to cover every window at the interval.
 * A config whose windows need more samples than a loop keeps is refused. */
int loop_params_from(const struct gf_config *c, const char *spec,
		     struct gf_loop_params *p, char *err, size_t errlen)
{
	const struct gf_thresholds *th = &c->detect;
	double longest = GF_BOARD_RATE_S;
	uint64_t points;

	memset(p, 0, sizeof *p);
	p->th = *th;
	p->policy = c->recover;
	/* on `host` the agent runs inside its target: never its own victim */
	if (!strcmp(spec, "host"))
		p->policy.self_pid = getpid();
	p->interval_s = c->interval_s;
	p->host_stall_s = c->host_stall_s;
	p->task_cap = c->max_tasks;
	add_age(p, th->window_s);
	add_age(p, th->thrash_s);
	add_age(p, th->overload_s);
	add_age(p, GF_BOARD_RATE_S);
	for (uint32_t i = 0; i < p->nages; i++)
		if (p->age[i] > longest)
			longest = p->age[i];
	/* the ring must reach the longest window back, sampling late or not */
	points = (uint64_t)(longest / c->interval_s) + 3;
	if (points > GF_HISTORY_MAX) {
		snprintf(err, errlen, "a %.1f s detector window needs %llu samples at "
			 "interval_ms = %.0f, more than the %d a target keeps: raise "
			 "[agent] interval_ms or shorten the window", longest,
			 (unsigned long long)points, c->interval_s * 1000, GF_HISTORY_MAX);
		return GF_EINVAL;
	}
	p->history_cap = (uint32_t)points;
	return GF_OK;
}

/* inih goes on after an error and returns the first one's line number:
 * keep the first message to go with it. */
static int fail(struct parse_state *ps, const char *what, const char *value)
{
	if (!ps->err[0])
		snprintf(ps->err, ps->errlen, "%s '%s'", what, value);
	return 0;
}

/* Decimal, or hex with 0x: no sign, no octal, nothing left over. GF_OK,
 * or GF_EINVAL. */
static int parse_number(const char *s, uint64_t *v)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;

	if (!isdigit((unsigned char)s[0]) || (hex && !isxdigit((unsigned char)s[2])))
		return GF_EINVAL;
	errno = 0;
	*v = strtoull(s, &end, hex ? 16 : 10);
	return errno || *end ? GF_EINVAL : GF_OK;
}

static int add_profile(struct parse_state *ps, const char *key,
		       const char *value)
{
	struct gf_config *c = ps->c;
	struct gf_profile_entry *e;

	if (c->nprofile == GF_MAX_PROFILE || strlen(key) >= sizeof e->key)
		return fail(ps, "too many or too long [profile] keys at", key);
	e = &c->profile[c->nprofile];
	if (parse_number(value, &e->value))
		return fail(ps, "[profile] wants a decimal or 0x number, not", value);
	strcpy(e->key, key);
	c->nprofile++;
	return 1;
}

/* The numeric settings: where each goes, its unit and its range. A
 * setting named *_ms is given in milliseconds and kept in seconds. */
#define AT(member) offsetof(struct gf_config, member)

static const struct number {
	const char *section, *key;
	size_t at; /* a double in struct gf_config */
	double min, max;
} numbers[] = {
	{ "detect", "window_ms", AT(detect.window_s), 100, 60000 },
	{ "detect", "sys_pct", AT(detect.sys_pct), 0, 100 },
	{ "detect", "usr_pct", AT(detect.usr_pct), 0, 100 },
	{ "detect", "cs_per_s", AT(detect.cs_per_s), 0, 1e9 },
	{ "detect", "iowait_pct", AT(detect.iowait_pct), 0, 100 },
	{ "detect", "blocked", AT(detect.blocked), 0, 1e9 },
	{ "detect", "pswpout_per_s", AT(detect.pswpout_per_s), 0, 1e12 },
	{ "detect", "memfree_mib", AT(detect.memfree_mib), 0, 1e12 },
	{ "detect", "overload_pct", AT(detect.overload_pct), 0, 100 },
	{ "detect", "overload_ms", AT(detect.overload_s), 100, 60000 },
	{ "detect", "available_pct", AT(detect.available_pct), 0, 100 },
	{ "detect", "swap_free_pct", AT(detect.swap_free_pct), 0, 100 },
	{ "detect", "thrash_swap_per_s", AT(detect.thrash_swap_per_s), 0, 1e12 },
	{ "detect", "thrash_ms", AT(detect.thrash_s), 100, 60000 },
	{ "recover", "grace_ms", AT(recover.grace_s), 0, 3600000 },
	{ "recover", "cooldown_ms", AT(recover.cooldown_s), 0, 3600000 },
	{ "recover", "exit_timeout_ms", AT(recover.exit_timeout_s), 100, 3600000 },
	{ "agent", "interval_ms", AT(interval_s), 10, 60000 },
	{ "agent", "metrics_ms", AT(metrics_s), 0, 3600000 },
	{ "agent", "host_stall_ms", AT(host_stall_s), 0, 3600000 },
	{ "agent", "textfile_ms", AT(textfile_s), 100, 3600000 },
};

/* [section] key = value, a number from min to max, into *to; a key named
 * *_ms is given in milliseconds and kept in seconds. 1, or fail()'s 0. */
static int parse_in_range(struct parse_state *ps, const char *section,
			  const char *key, const char *value, double min,
			  double max, double *to)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || v < min || v > max) {
		char what[96];
		snprintf(what, sizeof what, "[%s] %s wants a number from %g to %g, not",
			 section, key, min, max);
		return fail(ps, what, value);
	}
	*to = strstr(key, "_ms") ? v / 1000 : v;
	return 1;
}

static int set_number(struct parse_state *ps, const struct number *n,
		      const char *value)
{
	return parse_in_range(ps, n->section, n->key, value, n->min, n->max,
			      (double *)((char *)ps->c + n->at));
}

static int parse_response(struct parse_state *ps, enum gf_response *r,
			  const char *value)
{
	if (!strcmp(value, "kill"))
		*r = GF_KILL;
	else if (!strcmp(value, "term"))
		*r = GF_TERM_THEN_KILL;
	else if (!strcmp(value, "report"))
		*r = GF_REPORT;
	else
		return fail(ps, "a response is kill, term or report, not", value);
	return 1;
}

static int parse_bool(struct parse_state *ps, int *b, const char *value)
{
	if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
		*b = 1;
	else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
		*b = 0;
	else
		return fail(ps, "want true or false, not", value);
	return 1;
}

static int copy_string(struct parse_state *ps, char *dst, size_t size,
		       const char *value)
{
	if (strlen(value) >= size)
		return fail(ps, "value too long", value);
	strcpy(dst, value);
	return 1;
}

/* [recover] and [agent] settings that are not numbers. */
static int other_setting(struct parse_state *ps, const char *section,
			 const char *key, const char *value)
{
	struct gf_config *c = ps->c;

	if (is_snap_key(section, key))
		return 1; /* snap_config_load()'s */
	if (!strcmp(section, "recover") && !strcmp(key, "memory"))
		return parse_response(ps, &c->recover.memory, value);
	if (!strcmp(section, "recover") && !strcmp(key, "cpu_overload"))
		return parse_response(ps, &c->recover.cpu_overload, value);
	if (!strcmp(section, "recover") && !strcmp(key, "dry_run"))
		return parse_bool(ps, &c->recover.dry_run, value);
	if (!strcmp(section, "recover") && !strcmp(key, "protect"))
		return copy_string(ps, c->recover.protect, sizeof c->recover.protect, value);
	if (!strcmp(section, "agent") && !strcmp(key, "events"))
		return copy_string(ps, c->events, sizeof c->events, value);
	if (!strcmp(section, "agent") && !strcmp(key, "textfile"))
		return copy_string(ps, c->textfile, sizeof c->textfile, value);
	if (!strcmp(section, "agent") && !strcmp(key, "max_tasks")) {
		uint64_t n;
		if (parse_number(value, &n) || n < 64 || n > GF_MAX_TASKS)
			return fail(ps, "[agent] max_tasks wants 64 to 4194304, not", value);
		c->max_tasks = (uint32_t)n;
		return 1;
	}
	return fail(ps, "unknown setting", key);
}

static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct parse_state *ps = user;

	for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
		if (!strcmp(section, numbers[i].section) && !strcmp(key, numbers[i].key))
			return set_number(ps, &numbers[i], value);
	if (!strcmp(section, "recover") || !strcmp(section, "agent"))
		return other_setting(ps, section, key, value);
	if (!strcmp(section, "target") && !strcmp(key, "default")) {
		return copy_string(ps, ps->c->target, sizeof ps->c->target, value);
	} else if (!strcmp(section, "kill") && !strcmp(key, "signal")) {
		if ((ps->c->signal = signal_parse(value)) < 0)
			return fail(ps, "unknown signal", value);
	} else if (!strcmp(section, "engine") && !strcmp(key, "kind")) {
		if (strcmp(value, "auto") && strcmp(value, "cpu") && strcmp(value, "gpu"))
			return fail(ps, "engine must be auto, cpu or gpu, not", value);
		strcpy(ps->c->engine, value);
	} else if (!strcmp(section, "engine") && !strcmp(key, "gpu")) {
		uint64_t n;
		if (parse_number(value, &n) || n > 64)
			return fail(ps, "gpu wants a GPU number, not", value);
		ps->c->gpu = (int)n;
	} else if (!strcmp(section, "profile")) {
		return add_profile(ps, key, value);
	} else if (!strcmp(section, "remote")) {
		return 1; /* remote_config_load()'s */
	} else {
		return fail(ps, "unknown setting", key);
	}
	return 1;
}

/* inih's result as one message: the file, the line, what was wrong; and
 * as GF_OK, GF_EIO (the file could not be opened), GF_ENOMEM or GF_EINVAL
 * (a line is wrong). */
static int parse_file(const char *path, ini_handler h, struct parse_state *ps,
		      char *err, size_t errlen)
{
	int rc = ini_parse(path, h, ps);

	if (rc == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return GF_EIO;
	}
	if (rc == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		return GF_ENOMEM;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s: line %d: %s", path, rc,
			 ps->err[0] ? ps->err : "syntax error");
		return GF_EINVAL;
	}
	return GF_OK;
}

int config_load(struct gf_config *c, const char *path, char *err,
		size_t errlen)
{
	char msg[256] = "";
	struct parse_state ps = { c, msg, sizeof msg, NULL, NULL };
	struct gf_loop_params p;
	int rc;

	if ((rc = parse_file(path, handler, &ps, err, errlen)))
		return rc;
	if ((rc = loop_params_from(c, "", &p, msg, sizeof msg)))
		snprintf(err, errlen, "%s: %s", path, msg);
	return rc;
}

/* [profile] key's value: GF_OK, or GF_ENOENT where it gives none. */
int config_profile(const struct gf_config *c, const char *key,
		   uint64_t *value)
{
	for (uint32_t i = 0; i < c->nprofile; i++)
		if (!strcmp(c->profile[i].key, key)) {
			*value = c->profile[i].value;
			return GF_OK;
		}
	return GF_ENOENT;
}

/* The command line's say over the file: the engine, and which GPU (-1:
 * the file's). */
int config_override(struct gf_config *c, const char *engine, int gpu,
		    char *err, size_t errlen)
{
	if (engine && strcmp(engine, "auto") && strcmp(engine, "cpu") &&
	    strcmp(engine, "gpu")) {
		snprintf(err, errlen, "unknown engine '%s' (auto, cpu or gpu)", engine);
		return GF_EINVAL;
	}
	if (engine)
		strcpy(c->engine, engine);
	if (gpu >= 0)
		c->gpu = gpu;
	return GF_OK;
}

/* ---- [remote]: the agent's listeners and keys, the viewer's timing ---- */

void remote_defaults(struct gf_remote *r)
{
	memset(r, 0, sizeof *r);
	r->heartbeat_s = 1;
	r->timeout_s = 3;
	r->max_clients = 32;
}

static int remote_handler(void *user, const char *section, const char *key,
			  const char *value)
{
	struct parse_state *rs = user;
	struct gf_remote *r = rs->r;
	char *end;
	long n;

	if (strcmp(section, "remote"))
		return 1; /* config_load()'s */
	if (!strcmp(key, "listen")) {
		if (r->nlisten == GF_MAX_LISTEN || strlen(value) >= sizeof r->listen[0])
			return fail(rs, "too many or too long [remote] listen at", value);
		strcpy(r->listen[r->nlisten++], value);
	} else if (!strcmp(key, "key") || !strcmp(key, "read_key")) {
		char *dst = !strcmp(key, "key") ? r->key : r->read_key;
		if (strlen(value) >= sizeof r->key)
			return fail(rs, "key file name too long", value);
		strcpy(dst, value);
	} else if (!strcmp(key, "gpu_mailbox")) {
		if (strlen(value) >= sizeof r->gpu_mailbox)
			return fail(rs, "gpu_mailbox file name too long", value);
		strcpy(r->gpu_mailbox, value);
	} else if (!strcmp(key, "heartbeat_ms")) {
		return parse_in_range(rs, section, key, value, 10, 600000, &r->heartbeat_s);
	} else if (!strcmp(key, "timeout_ms")) {
		return parse_in_range(rs, section, key, value, 10, 600000, &r->timeout_s);
	} else if (!strcmp(key, "max_clients")) {
		n = strtol(value, &end, 10);
		if (*end || n < 1 || n > 1024)
			return fail(rs, "[remote] max_clients wants 1 to 1024, not", value);
		r->max_clients = (int)n;
	} else {
		return fail(rs, "unknown setting", key);
	}
	return 1;
}

int remote_config_load(struct gf_remote *r, const char *path, char *err,
		       size_t errlen)
{
	char msg[256] = "";
	struct parse_state ps = { NULL, msg, sizeof msg, r, NULL };

	return parse_file(path, remote_handler, &ps, err, errlen);
}

/* ---- [recover]'s snapshot settings (snapshot.h) ---- */

static int snap_handler(void *user, const char *section, const char *key,
			const char *value)
{
	struct parse_state *ss = user;
	struct gf_snap_config *c = ss->s;
	uint64_t n;
	double s;

	if (!is_snap_key(section, key))
		return 1; /* config_load()'s */
	if (!strcmp(key, "snapshot_dir"))
		return copy_string(ss, c->dir, sizeof c->dir, value);
	if (!strcmp(key, "ready_process"))
		return copy_string(ss, c->ready_process, sizeof c->ready_process, value);
	if (!strcmp(key, "snapshot_keep")) {
		if (parse_number(value, &n) || n < 1 || n > 100)
			return fail(ss, "[recover] snapshot_keep wants 1 to 100, not", value);
		c->keep = (uint32_t)n;
	} else if (!strcmp(key, "disks")) {
		if (strcmp(value, "check") && strcmp(value, "force"))
			return fail(ss, "[recover] disks wants check or force, not", value);
		c->force_disks = !strcmp(value, "force");
	} else if (!strcmp(key, "kernel")) {
		if (!strcmp(value, "report"))
			c->kernel = GF_KERNEL_REPORT;
		else if (!strcmp(value, "restore"))
			c->kernel = GF_KERNEL_RESTORE;
		else if (!strcmp(value, "reset"))
			c->kernel = GF_KERNEL_RESET;
		else
			return fail(ss, "[recover] kernel wants report, restore or reset, "
				    "not", value);
	} else if (!strcmp(key, "snapshot")) {
		if (strcmp(value, "off") && strcmp(value, "ready"))
			return fail(ss, "[recover] snapshot wants off or ready, not", value);
		c->snapshot_ready = !strcmp(value, "ready");
	} else if (!strcmp(key, "qmp_timeout_ms")) {
		if (parse_in_range(ss, section, key, value, 10, 600000, &s) != 1)
			return 0;
		c->timeout_ms = (int)(s * 1000);
	} else if (!strcmp(key, "hang_ms")) {
		return parse_in_range(ss, section, key, value, 0, 3600000, &c->hang_s);
	} else {
		return parse_in_range(ss, section, key, value, 0, 3600000, &c->ready_s);
	}
	return 1;
}

int snap_config_load(struct gf_snap_config *c, const char *path, char *err,
		     size_t errlen)
{
	char msg[256] = "";
	struct parse_state ps = { NULL, msg, sizeof msg, NULL, c };

	return parse_file(path, snap_handler, &ps, err, errlen);
}
