/* rescue.c — the one-shot commands: --info, --ps, --log, --detect and
 * --kill. Each prints its answer (text or JSON) and returns the process
 * exit code. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "core.h"
#include "detect.h"
#include "discover.h"
#include "engine.h"
#include "gpufas.h"
#include "helper.h"
#include "json.h"
#include "kallsyms.h"
#include "operator.h"
#include "recover.h"
#include "rescue.h"
#include "target.h"
#include "watch.h"

#define LOG_BYTES (1u << 20)

static void print_hex(FILE *f, int64_t v)
{
	fprintf(f, "%s0x%" PRIx64, v < 0 ? "-" : "", v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* The in-OS helper in --info --json: where its page is (virtual and
 * physical: the page can be looked at in the RAM file), or why none. */
static void helper_json(const struct gf_kernel *k)
{
	struct gf_helper h;
	uint64_t pa = 0;
	char why[160];

	if (gf_helper_find(k, &h)) {
		gf_helper_describe(k, why, sizeof why);
		printf("{\"found\":false,\"why\":");
		json_string(stdout, why, sizeof why);
		printf("}");
		return;
	}
	gf_virt_to_phys(k, h.va, &pa);
	printf("{\"found\":true,\"version\":%u,\"period_ms\":%u,\"hz\":%u,"
	       "\"mailbox\":\"0x%" PRIx64 "\",\"mailbox_phys\":\"0x%" PRIx64 "\"}",
	       h.version, h.period_ms, h.hz, h.va, pa);
}

int rescue_info(const struct gf_attachment *a, const struct gf_engine *e,
		int json)
{
	const char *fmt = json ? "{\"release\":" : "release       %s\n";
	char helper[160];

	if (json) {
		printf("%s", fmt);
		json_string(stdout, a->release, sizeof a->release);
		printf(",\"kaslr_offset\":\"0x%" PRIx64 "\",\"phys_base\":\"",
		       a->kaslr_offset);
		print_hex(stdout, a->phys_base);
		printf("\",\"page_table_levels\":%u,\"cpus\":%u,\"ram_bytes\":%"
		       PRIu64 ",\"symbols\":%u,\"layout\":\"%s\","
		       "\"attach_ms\":%.3f,\"metrics\":%s,\"kernel_log\":%s,"
		       "\"engine\":",
		       a->k.lay.pt_levels, a->ncpus, a->ram_bytes,
		       symtab_count(a->syms), a->layout_source, a->attach_ms,
		       a->k.lay.has_metrics ? "true" : "false",
		       a->k.lay.has_printk ? "true" : "false");
		json_string(stdout, e->name, sizeof e->name);
		printf(",\"helper\":");
		helper_json(&a->k);
		printf("}\n");
		return 0;
	}
	printf(fmt, a->release);
	printf("kaslr_offset  0x%" PRIx64 "\nphys_base     ", a->kaslr_offset);
	print_hex(stdout, a->phys_base);
	printf("\npage_tables   %u levels\ncpus          %u\n"
	       "ram           %" PRIu64 " MiB\nsymbols       %u (kallsyms)\n"
	       "layout        %s\nattach        %.1f ms\nmetrics       %s\n"
	       "kernel_log    %s\nengine        %s\n",
	       a->k.lay.pt_levels, a->ncpus, a->ram_bytes >> 20,
	       symtab_count(a->syms), a->layout_source, a->attach_ms,
	       a->k.lay.has_metrics ? "yes" : "no (detectors off)",
	       a->k.lay.has_printk ? "yes" : "no", e->name);
	gf_helper_describe(&a->k, helper, sizeof helper);
	printf("helper        %s\n", helper);
	return 0;
}

static void ps_json(const struct gf_task *t, uint32_t n)
{
	putchar('[');
	for (uint32_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "", stdout);
		json_task(stdout, &t[i], NULL);
	}
	printf("]\n");
}

/* comm as ps shows it: kernel threads in brackets, controls as '?'. */
static void ps_comm(const struct gf_task *t, char *out)
{
	char *p = out;

	if (t->kthread)
		*p++ = '[';
	for (int i = 0; i < GF_COMM_LEN && t->comm[i]; i++)
		*p++ = (t->comm[i] < 0x20 || t->comm[i] > 0x7e) ? '?' : t->comm[i];
	if (t->kthread)
		*p++ = ']';
	*p = 0;
}

static void ps_text(const struct gf_task *t, uint32_t n)
{
	char comm[GF_COMM_LEN + 3];

	printf("%7s %7s %7s S %9s %5s %10s COMM\n", "PID", "TGID", "PPID",
	       "RSS_KB", "THR", "CPU_MS");
	for (uint32_t i = 0; i < n; i++) {
		ps_comm(&t[i], comm);
		printf("%7d %7d %7d %c %9" PRIu64 " %5d %10" PRIu64 " %s\n",
		       t[i].pid, t[i].tgid, t[i].ppid, t[i].state,
		       pages_kib(t[i].rss_pages), t[i].threads, t[i].cpu_ns / 1000000,
		       comm);
	}
}

void rescue_ps_print(const struct gf_task *t, uint32_t n, int json)
{
	if (json)
		ps_json(t, n);
	else
		ps_text(t, n);
}

int rescue_ps(const struct gf_engine *e, int json, int threads)
{
	struct gf_task *tasks;
	uint32_t n;
	int err = engine_snapshot(e, threads, &tasks, &n);

	if (err) {
		fprintf(stderr, "gpufas: task list: %s\n", gf_strerror(err));
		return 1;
	}
	rescue_ps_print(tasks, n, json);
	free(tasks);
	return 0;
}

/* The kernel's log as dmesg would print it, read from its printk ring:
 * what a hung or panicked kernel last said, when nothing inside it can
 * say it any more. */
int rescue_log(const struct gf_engine *e, uint32_t records)
{
	char *buf = malloc(LOG_BYTES);
	uint32_t len;
	int err;

	if (!buf) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	if ((err = engine_log_tail(e, records, buf, LOG_BYTES, &len)))
		fprintf(stderr, "gpufas: kernel log: %s\n", err == GF_EINVAL
			? "this kernel's BTF or symbols do not describe its printk ring"
			: gf_strerror(err));
	else
		fwrite(buf, 1, len, stdout);
	free(buf);
	return err ? 1 : 0;
}

/* --detect: what made the watch give up, if it did. */
static void note_failure(void *ctx, const struct gf_event *ev)
{
	char *why = ctx;

	if (ev->kind == GF_EV_UNAVAILABLE || ev->kind == GF_EV_DETACH)
		snprintf(why, 512, "%s", ev->detail);
}

void gf_verdict_text(const struct gf_verdict *v)
{
	printf("%-13s %s", gf_class_name(v->cls), v->active ? "FAULT" : "ok");
	for (uint32_t i = 0; i < v->nevidence; i++)
		printf("%s%s=%.4g", i ? " " : "  ", v->evidence[i].name,
		       v->evidence[i].value);
	for (uint32_t i = 0; i < v->nculprits; i++)
		printf("%s%d %.16s", i ? ", " : "  culprits: ", v->culprit[i].pid,
		       v->culprit[i].comm);
	putchar('\n');
}

static void board_json(const struct watch *w)
{
	printf("{\"release\":");
	json_string(stdout, w->a.release, sizeof w->a.release);
	printf(",\"detectors\":[");
	for (int c = 0; c < GF_NCLASSES; c++) {
		const struct gf_verdict *v = &watch_verdicts(w)[c];
		printf("%s{\"class\":\"%s\",\"state\":\"%s\",\"culprits\":[",
		       c ? "," : "", gf_class_name(c), v->active ? "fault" : "ok");
		for (uint32_t i = 0; i < v->nculprits; i++) {
			printf("%s{\"pid\":%d,\"comm\":", i ? "," : "", v->culprit[i].pid);
			json_string(stdout, v->culprit[i].comm, GF_COMM_LEN);
			putchar('}');
		}
		printf("]}");
	}
	printf("]}\n");
}

static double longest_window(const struct gf_thresholds *th)
{
	double s = th->window_s;

	if (th->thrash_s > s)
		s = th->thrash_s;
	return th->overload_s > s ? th->overload_s : s;
}

/* Inline detection: watches the target for the longest detector window,
 * reporting only (nothing is written), then prints every verdict. */
int rescue_detect(const char *target, const struct gf_config *cfg, int json)
{
	struct gf_config quiet = *cfg;
	struct watch *w = malloc(sizeof *w);
	char why[512] = "";
	double start, end;
	int rc = 1;

	if (!w) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	quiet.recover.memory = quiet.recover.cpu_overload = GF_REPORT;
	watch_init(w, target, &quiet, note_failure, why);
	start = gf_now_monotonic();
	end = start + longest_window(&cfg->detect) + cfg->interval_s;
	for (double t = start; t <= end && !why[0]; t += cfg->interval_s) {
		gf_sleep_until(t);
		watch_tick(w, gf_now_monotonic());
	}
	if (why[0]) {
		fprintf(stderr, "gpufas: %s: %s\n", target, why);
	} else if (!w->a.k.lay.has_metrics) {
		fprintf(stderr, "gpufas: %s: this kernel's BTF or symbols lack the "
			"counters the detectors read\n", target);
	} else {
		if (json)
			board_json(w);
		for (int c = 0; !json && c < GF_NCLASSES; c++)
			gf_verdict_text(&watch_verdicts(w)[c]);
		rc = 0;
	}
	watch_close(w);
	free(w);
	return rc;
}

/* One line per pid: what was sent or written on stdout, why nothing was
 * on stderr; 0 only when every one was sent or written. */
int rescue_kill(const struct gf_engine *e, const struct gf_target *target,
		const struct kill_opts *o, const int32_t *pids, uint32_t n)
{
	const char *why = target->read_only[0] ? target->read_only
					       : "dumps are never written";
	struct op_signal *s = calloc(n, sizeof *s);
	int rc = 0;

	if (!s) {
		fprintf(stderr, "gpufas: out of memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < n; i++)
		s[i].pid = pids[i];
	operator_signal_all(e, o, why, s, n);
	for (uint32_t i = 0; i < n; i++) {
		if (s[i].err)
			fprintf(stderr, "gpufas: %s\n", s[i].msg);
		else
			printf("%s\n", s[i].msg);
		rc |= s[i].err != GF_OK;
	}
	free(s);
	return rc;
}
