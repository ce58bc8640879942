/* rescue.c — the one-shot commands: --info, --ps and --kill. Each prints
 * its answer (text or JSON) and returns the process exit code. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gpufas.h"

#define SIGCONT 18

static void print_hex(FILE *f, int64_t v)
{
	fprintf(f, "%s0x%" PRIx64, v < 0 ? "-" : "", v < 0 ? -(uint64_t)v : (uint64_t)v);
}

int rescue_info(const struct gf_attach *a, const struct gf_engine *e,
		int json)
{
	const char *fmt = json ? "{\"release\":" : "release       %s\n";

	if (json) {
		printf("%s", fmt);
		json_string(stdout, a->release, sizeof a->release);
		printf(",\"kaslr_offset\":\"0x%" PRIx64 "\",\"phys_base\":\"",
		       a->kaslr_offset);
		print_hex(stdout, a->phys_base);
		printf("\",\"page_table_levels\":%u,\"cpus\":%u,\"ram_bytes\":%"
		       PRIu64 ",\"symbols\":%u,\"layout\":\"%s\","
		       "\"attach_ms\":%.3f,\"engine\":",
		       a->k.lay.pt_levels, a->ncpus, a->ram_bytes,
		       symtab_count(a->syms), a->layout_source, a->attach_ms);
		json_string(stdout, e->name, sizeof e->name);
		printf("}\n");
		return 0;
	}
	printf(fmt, a->release);
	printf("kaslr_offset  0x%" PRIx64 "\nphys_base     ", a->kaslr_offset);
	print_hex(stdout, a->phys_base);
	printf("\npage_tables   %u levels\ncpus          %u\n"
	       "ram           %" PRIu64 " MiB\nsymbols       %u (kallsyms)\n"
	       "layout        %s\nattach        %.1f ms\nengine        %s\n",
	       a->k.lay.pt_levels, a->ncpus, a->ram_bytes >> 20,
	       symtab_count(a->syms), a->layout_source, a->attach_ms, e->name);
	return 0;
}

static void ps_json(const struct gf_task *t, uint32_t n)
{
	putchar('[');
	for (uint32_t i = 0; i < n; i++) {
		printf("%s{\"pid\":%d,\"tgid\":%d,\"ppid\":%d,\"comm\":",
		       i ? ",\n" : "", t[i].pid, t[i].tgid, t[i].ppid);
		json_string(stdout, t[i].comm, GF_COMM_LEN);
		printf(",\"state\":\"%c\",\"rss_kb\":%" PRIu64 ",\"threads\":%d,"
		       "\"cpu_ms\":%" PRIu64 ",\"kthread\":%s}",
		       t[i].state, t[i].rss_pages * 4, t[i].threads,
		       t[i].cpu_ns / 1000000, t[i].kthread ? "true" : "false");
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
		       t[i].rss_pages * 4, t[i].threads, t[i].cpu_ns / 1000000,
		       comm);
	}
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
	if (json)
		ps_json(tasks, n);
	else
		ps_text(tasks, n);
	free(tasks);
	return 0;
}

/* Why we will not signal this task, or NULL. */
static const char *refusal(const struct gf_task *t, const struct kill_opts *o)
{
	if (o->sig == SIGCONT)
		return "SIGCONT must wake stopped threads, which a memory write "
		       "cannot do";
	if (o->force)
		return NULL;
	if (t->tgid == 1)
		return "pid 1 is init; killing it panics the guest (--force "
		       "to insist)";
	if (t->kthread)
		return "it is a kernel thread (--force to insist)";
	return NULL;
}

int rescue_kill(const struct gf_engine *e, const struct gf_target *target,
		const struct kill_opts *o)
{
	struct gf_task t;
	const char *why;
	int err, result;

	if ((err = engine_find(e, o->pid, &t))) {
		fprintf(stderr, "gpufas: pid %d: %s\n", o->pid, gf_strerror(err));
		return 1;
	}
	if ((why = refusal(&t, o))) {
		fprintf(stderr, "gpufas: refusing to signal %d (%.16s): %s\n",
			t.tgid, t.comm, why);
		return 1;
	}
	if (o->dry_run) {
		printf("would send SIG%s to %d (%.16s, %d threads)\n",
		       signal_name(o->sig), t.tgid, t.comm, t.threads);
		return 0;
	}
	if (!e->k->writable) {
		fprintf(stderr, "gpufas: target is read-only (%s); nothing written\n",
			target->read_only[0] ? target->read_only : "dumps are never written");
		return 1;
	}
	if ((err = engine_signal(e, &t, o->sig, &result))) {
		fprintf(stderr, "gpufas: signal %d (%.16s): %s\n", t.tgid, t.comm,
			gf_strerror(err));
		return 1;
	}
	if (o->sig == 9)
		printf("SIGKILL marked in %d (%.16s): %d threads; the guest kernel "
		       "ends them at their next return to user mode\n",
		       t.tgid, t.comm, result);
	else if (result)
		printf("SIG%s pending for %d (%.16s), signalled to thread %d\n",
		       signal_name(o->sig), t.tgid, t.comm, result);
	else
		printf("SIG%s pending for %d (%.16s); every thread blocks it\n",
		       signal_name(o->sig), t.tgid, t.comm);
	return 0;
}
