/* prom.c — boards to Prometheus's text exposition format (version 0.0.4):
 *
 *   # HELP gpufas_attached 1 while the agent reads the target's kernel.
 *   # TYPE gpufas_attached gauge
 *   gpufas_attached{target="vm:/dev/shm/g.ram"} 1
 *
 * Every family is written whole, its HELP and TYPE first and then one
 * sample per target (and per label), as the format asks. Samples that
 * the board does not have (no metrics, not attached, nothing sampled) are
 * left out rather than written as zero. Counters come from the agent's
 * count of its own events (prom_count), kept since it started.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "board.h"
#include "clock.h"
#include "core.h"
#include "detect.h"
#include "gpufas.h"
#include "hub.h"
#include "prom.h"
#include "recover.h"
#include "watch.h"

void prom_count(struct gf_counts *c, const struct gf_event *ev)
{
	const struct gf_report *r = ev->report;

	switch (ev->kind) {
	case GF_EV_VERDICT:
		if (ev->verdict->cls < GF_NCLASSES)
			c->verdicts[ev->verdict->cls]++;
		break;
	case GF_EV_ACTION:
		if (r->cls < GF_NCLASSES)
			c->actions[r->cls]++;
		break;
	case GF_EV_RESULT:
		if (r->cls < GF_NCLASSES && r->outcome < GF_NOUTCOMES)
			c->results[r->cls][r->outcome]++;
		break;
	case GF_EV_OPERATOR:
		if (r->outcome < GF_NOUTCOMES)
			c->operator_signals[r->outcome]++;
		break;
	default:
		break;
	}
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP gpufas_%s %s\n# TYPE gpufas_%s %s\n", name, help,
		name, type);
}

/* A label value as the format escapes it: backslash, quote, newline. */
static void label_value(FILE *f, const char *s, size_t max)
{
	fputc('"', f);
	for (size_t i = 0; i < max && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fputc('\\', f);
		if (s[i] == '\n')
			fputs("\\n", f);
		else
			fputc(s[i], f);
	}
	fputc('"', f);
}

/* One sample: the target's label, then up to two more (key NULL: none),
 * whose values are no longer than the board's engine name. */
static void sample(FILE *f, const char *name, const struct gf_board *b,
		   const char *k1, const char *v1, const char *k2,
		   const char *v2, double value)
{
	fprintf(f, "gpufas_%s{target=", name);
	label_value(f, b->target, sizeof b->target);
	if (k1) {
		fprintf(f, ",%s=", k1);
		label_value(f, v1, sizeof b->engine);
	}
	if (k2) {
		fprintf(f, ",%s=", k2);
		label_value(f, v2, sizeof b->engine);
	}
	fprintf(f, "} %.15g\n", value);
}

/* ---- Gauges of one value per target ---- */

static int has_sample(const struct gf_board *b)
{
	return b->attached && b->has_metrics && b->sampled > 0;
}

static double kib_bytes(uint64_t kib)
{
	return (double)kib * 1024;
}

static double g_total(const struct gf_board *b) { return kib_bytes(b->mem_total_kib); }
static double g_free(const struct gf_board *b) { return kib_bytes(b->mem_free_kib); }
static double g_available(const struct gf_board *b) { return kib_bytes(b->mem_available_kib); }
static double g_swap_total(const struct gf_board *b) { return kib_bytes(b->swap_total_kib); }
static double g_swap_free(const struct gf_board *b) { return kib_bytes(b->swap_free_kib); }
static double g_running(const struct gf_board *b) { return b->rates.running; }
static double g_blocked(const struct gf_board *b) { return (double)b->rates.blocked; }
static double g_cs(const struct gf_board *b) { return b->rates.cs; }
static double g_swapin(const struct gf_board *b) { return b->rates.pswpin; }
static double g_swapout(const struct gf_board *b) { return b->rates.pswpout; }

static const struct gauge {
	const char *name, *help;
	double (*value)(const struct gf_board *b);
} gauges[] = {
	{ "memory_total_bytes", "The guest's RAM, as its kernel counts it.", g_total },
	{ "memory_free_bytes", "RAM the guest's kernel has free.", g_free },
	{ "memory_available_bytes", "RAM available to the guest's processes "
	  "(MemAvailable).", g_available },
	{ "swap_total_bytes", "The guest's swap space.", g_swap_total },
	{ "swap_free_bytes", "The guest's free swap space.", g_swap_free },
	{ "tasks_running", "Tasks runnable on the guest's CPUs.", g_running },
	{ "tasks_blocked", "Tasks in uninterruptible sleep (D).", g_blocked },
	{ "context_switches_per_second", "Context switches a second, all CPUs, "
	  "over the last second.", g_cs },
	{ "swap_in_pages_per_second", "Pages swapped in a second, over the last "
	  "second.", g_swapin },
	{ "swap_out_pages_per_second", "Pages swapped out a second, over the last "
	  "second.", g_swapout },
};

static void gauges_of(FILE *f, const struct prom_target *t, int n)
{
	for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
		family(f, gauges[g].name, "gauge", gauges[g].help);
		for (int i = 0; i < n; i++)
			if (has_sample(t[i].board))
				sample(f, gauges[g].name, t[i].board, NULL, NULL, NULL,
				       NULL, gauges[g].value(t[i].board));
	}
}

/* ---- Families with labels of their own ---- */

static void state(FILE *f, const struct prom_target *t, int n, double wall_now)
{
	family(f, "attached", "gauge", "1 while the agent reads the target's kernel.");
	for (int i = 0; i < n; i++)
		sample(f, "attached", t[i].board, NULL, NULL, NULL, NULL,
		       t[i].board->attached);
	family(f, "sample_age_seconds", "gauge", "Seconds since the target's "
	       "newest sample.");
	for (int i = 0; i < n; i++)
		if (t[i].board->sampled > 0)
			sample(f, "sample_age_seconds", t[i].board, NULL, NULL, NULL,
			       NULL, wall_now - t[i].board->sampled);
	family(f, "engine_info", "gauge", "Where the target's watch loop runs "
	       "(CPU, or a GPU).");
	for (int i = 0; i < n; i++)
		if (t[i].board->engine[0])
			sample(f, "engine_info", t[i].board, "engine",
			       t[i].board->engine, NULL, NULL, 1);
}

static void cpus(FILE *f, const struct prom_target *t, int n)
{
	static const char *const modes[] = { "usr", "sys", "iowait", "idle" };

	family(f, "cpu_ratio", "gauge", "Each online CPU's time by mode, as a "
	       "fraction of the last second.");
	for (int i = 0; i < n; i++) {
		const struct gf_rates *r = &t[i].board->rates;
		if (!has_sample(t[i].board))
			continue;
		for (uint32_t c = 0; c < r->ncpus && c < GF_MAX_CPUS; c++) {
			const struct gf_cpu_rates *cr = &r->cpu[c];
			const double v[] = { cr->usr, cr->sys, cr->iowait, cr->idle };
			char cpu[16];
			if (!cr->online)
				continue;
			snprintf(cpu, sizeof cpu, "%u", c);
			for (int m = 0; m < 4; m++)
				sample(f, "cpu_ratio", t[i].board, "cpu", cpu, "mode",
				       modes[m], v[m]);
		}
	}
}

static void detectors(FILE *f, const struct prom_target *t, int n,
		      double wall_now)
{
	char why[128];

	family(f, "detector_state", "gauge", "Each detector as the dashboard "
	       "shows it: 0 ok, 1 warn, 2 fault.");
	for (int i = 0; i < n; i++)
		if (t[i].board->attached)
			for (int c = 0; c < GF_NCLASSES; c++)
				sample(f, "detector_state", t[i].board, "class",
				       gf_class_name(c), NULL, NULL,
				       board_level(t[i].board, c, wall_now, why,
						   sizeof why));
}

/* A label value without spaces ("still running" is still_running). */
static void outcome_label(enum gf_outcome o, char *buf, size_t len)
{
	snprintf(buf, len, "%s", gf_outcome_name(o));
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '_';
}

static void counters(FILE *f, const struct prom_target *t, int n)
{
	static const enum gf_outcome results[] = { GF_EXITED, GF_STILL_RUNNING,
						   GF_FAILED };
	static const enum gf_outcome operator[] = { GF_WRITTEN, GF_REFUSED };
	char o[32];

	family(f, "verdicts_total", "counter", "Faults detected, by class.");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < GF_NCLASSES; c++)
			sample(f, "verdicts_total", t[i].board, "class", gf_class_name(c),
			       NULL, NULL, (double)t[i].counts->verdicts[c]);
	family(f, "actions_total", "counter", "Signals the recovery policy "
	       "decided on, by class (dry runs too).");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < GF_NCLASSES; c++)
			sample(f, "actions_total", t[i].board, "class", gf_class_name(c),
			       NULL, NULL, (double)t[i].counts->actions[c]);
	family(f, "results_total", "counter", "What became of the recovery's "
	       "signals, by class and outcome.");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < GF_NCLASSES; c++)
			for (size_t k = 0; k < sizeof results / sizeof *results; k++) {
				outcome_label(results[k], o, sizeof o);
				sample(f, "results_total", t[i].board, "class",
				       gf_class_name(c), "outcome", o,
				       (double)t[i].counts->results[c][results[k]]);
			}
	family(f, "operator_signals_total", "counter", "Operators' signals, by "
	       "outcome.");
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof operator / sizeof *operator; k++) {
			outcome_label(operator[k], o, sizeof o);
			sample(f, "operator_signals_total", t[i].board, "outcome", o,
			       NULL, NULL,
			       (double)t[i].counts->operator_signals[operator[k]]);
		}
}

void prom_format(FILE *f, const struct prom_target *t, int n, double round_s,
		 double wall_now)
{
	state(f, t, n, wall_now);
	cpus(f, t, n);
	gauges_of(f, t, n);
	detectors(f, t, n, wall_now);
	counters(f, t, n);
	family(f, "round_seconds", "gauge", "How long the agent's last round "
	       "over its targets took.");
	fprintf(f, "gpufas_round_seconds %.9g\n", round_s);
}

int prom_hub(FILE *f, struct hub *h)
{
	int n = hub_targets(h);
	struct gf_board *boards = calloc((size_t)n, sizeof *boards);
	struct gf_counts *counts = calloc((size_t)n, sizeof *counts);
	struct prom_target *t = calloc((size_t)n, sizeof *t);
	int rc = GF_ENOMEM;

	if (boards && counts && t) {
		for (int i = 0; i < n; i++) {
			hub_board(h, i, &boards[i]);
			hub_counts(h, i, &counts[i]);
			t[i] = (struct prom_target){ &boards[i], &counts[i] };
		}
		prom_format(f, t, n, hub_round_s(h), gf_now_wall());
		rc = GF_OK;
	}
	free(t);
	free(counts);
	free(boards);
	return rc;
}
