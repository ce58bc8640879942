/* events.c — each event of a watched target as one line of JSON:
 *
 *   {"time":1732290000.123,"target":"vm:/dev/shm/g.ram","event":"verdict",
 *    "class":"memory","evidence":{"available_pct":4.2,...},
 *    "culprits":[{"pid":412,"comm":"hog",...}]}
 *
 * Every line has time (Unix seconds), target and event; the rest depends
 * on the event (README.md, "The headless agent", lists them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "detect.h"
#include "events.h"
#include "gpufas.h"
#include "json.h"
#include "loop.h"
#include "recover.h"
#include "signals.h"
#include "watch.h"

static const char *const kinds[] = {
	[GF_EV_ATTACH] = "attach", [GF_EV_UNAVAILABLE] = "unavailable",
	[GF_EV_DETACH] = "detach", [GF_EV_VERDICT] = "verdict",
	[GF_EV_CLEAR] = "clear",   [GF_EV_ACTION] = "action",
	[GF_EV_RESULT] = "result", [GF_EV_METRICS] = "metrics",
	[GF_EV_OPERATOR] = "operator", [GF_EV_HOST_STALLED] = "host_stalled",
	[GF_EV_HOST_RESUMED] = "host_resumed", [GF_EV_LOST] = "lost",
};

const char *gf_outcome_name(enum gf_outcome o)
{
	switch (o) {
	case GF_EXITED:        return "exited";
	case GF_STILL_RUNNING: return "still running";
	case GF_FAILED:        return "failed";
	case GF_WRITTEN:       return "written";
	case GF_REFUSED:       return "refused";
	default:               return "?";
	}
}

/* Why a result came out as it did, or "" where nothing needs saying. */
void gf_report_detail(const struct gf_report *r, char *buf, size_t len)
{
	const char *why = "";

	if (r->err)
		why = gf_strerror(r->err);
	else if (r->outcome == GF_STILL_RUNNING)
		why = "not gone after the exit timeout";
	snprintf(buf, len, "%s", why);
}

static void key_string(FILE *f, const char *key, const char *value, size_t max)
{
	fprintf(f, ",\"%s\":", key);
	json_string(f, value, max);
}

/* Text lines as a JSON array of strings. */
static void lines(FILE *f, const char *key, const char *text)
{
	const char *nl;
	int first = 1;

	fprintf(f, ",\"%s\":[", key);
	for (; *text; text = nl + 1) {
		nl = strchr(text, '\n');
		if (!nl)
			nl = text + strlen(text) - 1;
		if (!first)
			fputc(',', f);
		json_string(f, text, (size_t)(nl - text) + (*nl != '\n'));
		first = 0;
	}
	fputc(']', f);
}

static void attach(FILE *f, const struct watch *w, const char *note)
{
	key_string(f, "release", w->a.release, sizeof w->a.release);
	fprintf(f, ",\"kaslr_offset\":\"0x%" PRIx64 "\",\"cpus\":%u,"
		"\"attach_ms\":%.1f,\"metrics\":%s,\"kernel_log\":%s",
		w->a.kaslr_offset, w->a.ncpus, w->a.attach_ms,
		w->a.k.lay.has_metrics ? "true" : "false",
		w->a.k.lay.has_printk ? "true" : "false");
	key_string(f, "engine", w->e.name, sizeof w->e.name);
	key_string(f, "mode", w->t.writable ? "read-write" : "read-only", 16);
	if (note)
		key_string(f, "note", note, 512);
}

static void culprits(FILE *f, const struct gf_verdict *v)
{
	fputs(",\"culprits\":[", f);
	for (uint32_t i = 0; i < v->nculprits; i++) {
		const struct gf_culprit *c = &v->culprit[i];
		fprintf(f, "%s{\"pid\":%d,\"comm\":", i ? "," : "", c->pid);
		json_string(f, c->comm, GF_COMM_LEN);
		fprintf(f, ",\"cpu_pct\":%.1f,\"rss_kib\":%" PRIu64 ",\"swap_kib\":%"
			PRIu64 ",\"growth_kib_s\":%.0f,\"kthread\":%s}",
			c->cpu_pct, c->rss_kib, c->swap_kib, c->growth_kib_s,
			c->kthread ? "true" : "false");
	}
	fputc(']', f);
}

void gf_verdict_json(FILE *f, const struct gf_verdict *v, const char *log)
{
	fprintf(f, ",\"class\":\"%s\",\"evidence\":{", gf_class_name(v->cls));
	for (uint32_t i = 0; i < v->nevidence; i++)
		fprintf(f, "%s\"%s\":%.6g", i ? "," : "", v->evidence[i].name,
			v->evidence[i].value);
	fputc('}', f);
	culprits(f, v);
	if (log)
		lines(f, "log", log);
}

static void report(FILE *f, const struct gf_report *r)
{
	char detail[160];

	fprintf(f, ",\"class\":\"%s\",\"pid\":%d,\"comm\":", gf_class_name(r->cls),
		r->pid);
	json_string(f, r->comm, GF_COMM_LEN);
	fprintf(f, ",\"signal\":\"SIG%s\"", signal_name(r->sig));
	if (r->kind == GF_ACTION) {
		fprintf(f, ",\"dry_run\":%s", r->dry_run ? "true" : "false");
		if (r->path) /* only where the guest has the in-OS helper */
			fprintf(f, ",\"path\":\"%s\"", r->path == GF_PATH_HELPER
				? "helper" : "pseudo-signal");
		if (r->state)
			fprintf(f, ",\"state\":\"%c\"", r->state);
		return;
	}
	fprintf(f, ",\"outcome\":\"%s\",\"after_ms\":%.0f", gf_outcome_name(r->outcome),
		r->after_s * 1000);
	gf_report_detail(r, detail, sizeof detail);
	if (detail[0])
		key_string(f, "detail", detail, sizeof detail);
}

static void metrics(FILE *f, const struct watch *w, const struct gf_rates *r)
{
	const struct gf_sample *s = &w->newest->s;

	fputs(",\"cpus\":[", f);
	for (uint32_t c = 0; c < r->ncpus; c++)
		fprintf(f, "%s{\"usr\":%.1f,\"sys\":%.1f,\"iowait\":%.1f,\"idle\":%.1f,"
			"\"online\":%s}", c ? "," : "", 100 * r->cpu[c].usr,
			100 * r->cpu[c].sys, 100 * r->cpu[c].iowait, 100 * r->cpu[c].idle,
			r->cpu[c].online ? "true" : "false");
	fprintf(f, "],\"cs_per_s\":%.0f,\"running\":%u,\"blocked\":%" PRId64
		",\"pswpin_per_s\":%.0f,\"pswpout_per_s\":%.0f,\"majflt_per_s\":%.0f"
		",\"mem_total_kib\":%" PRIu64 ",\"mem_free_kib\":%" PRIu64
		",\"mem_available_kib\":%" PRIu64 ",\"swap_total_kib\":%" PRIu64
		",\"swap_free_kib\":%" PRIu64 ",\"jiffies\":%" PRIu64
		",\"processes\":%u,\"tainted\":%" PRIu64,
		r->cs, r->running, r->blocked, r->pswpin, r->pswpout, r->majflt,
		pages_kib(s->total_pages), pages_kib(s->free_pages), pages_kib(s->available_pages),
		pages_kib(s->swap_total_pages), pages_kib(s->swap_free_pages), s->jiffies,
		w->pub->ntasks, s->tainted);
}

void gf_event_json(FILE *f, const struct gf_event *ev)
{
	fprintf(f, "{\"time\":%.3f", ev->time);
	key_string(f, "target", ev->w->spec, sizeof ev->w->spec);
	fprintf(f, ",\"event\":\"%s\"", kinds[ev->kind]);
	switch (ev->kind) {
	case GF_EV_ATTACH:
		attach(f, ev->w, ev->detail);
		break;
	case GF_EV_UNAVAILABLE:
	case GF_EV_DETACH:
		key_string(f, "reason", ev->detail, 512);
		break;
	case GF_EV_VERDICT:
	case GF_EV_CLEAR:
		gf_verdict_json(f, ev->verdict, ev->detail);
		break;
	case GF_EV_ACTION:
	case GF_EV_RESULT:
		report(f, ev->report);
		break;
	case GF_EV_METRICS:
		metrics(f, ev->w, ev->rates);
		break;
	case GF_EV_OPERATOR:
		fprintf(f, ",\"pid\":%d,\"signal\":\"SIG%s\",\"outcome\":\"%s\"",
			ev->report->pid, signal_name(ev->report->sig),
			gf_outcome_name(ev->report->outcome));
		key_string(f, "detail", ev->detail, 256);
		break;
	case GF_EV_HOST_STALLED:
	case GF_EV_HOST_RESUMED:
		fprintf(f, ",\"stalled_ms\":%.0f", ev->stalled_s * 1000);
		break;
	case GF_EV_LOST:
		fprintf(f, ",\"count\":%" PRIu64, ev->count);
		break;
	}
	fputs("}\n", f);
	fflush(f);
}
