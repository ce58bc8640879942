/* json.c — the little JSON that gpufas writes. */
#include <inttypes.h>
#include <stdio.h>

#include "core.h"
#include "json.h"

/* Writes s as a JSON string. Guest strings are untrusted bytes: controls,
 * quotes and anything outside printable ASCII are escaped, so the output
 * is always valid JSON (non-ASCII bytes read as Latin-1). */
void json_string(FILE *f, const char *s, size_t maxlen)
{
	fputc('"', f);
	for (size_t i = 0; i < maxlen && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One process as --ps --json prints it (and --view's snapshot, with the
 * loop's cpu_pct where cpu_pct is not NULL). */
void json_task(FILE *f, const struct gf_task *t, const double *cpu_pct)
{
	fprintf(f, "{\"pid\":%d,\"tgid\":%d,\"ppid\":%d,\"comm\":", t->pid,
		t->tgid, t->ppid);
	json_string(f, t->comm, GF_COMM_LEN);
	fprintf(f, ",\"state\":\"%c\",\"rss_kb\":%" PRIu64 ",\"threads\":%d,"
		"\"cpu_ms\":%" PRIu64, t->state, pages_kib(t->rss_pages), t->threads,
		t->cpu_ns / 1000000);
	if (cpu_pct)
		fprintf(f, ",\"cpu_pct\":%.1f", *cpu_pct);
	fprintf(f, ",\"kthread\":%s}", t->kthread ? "true" : "false");
}
