/* test/unit_prom.c — unit tests of prom.c and http.c: the Prometheus
 * exposition and the endpoint's parser. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../board.h"
#include "../detect.h"
#include "../gpufas.h"
#include "../http.h"
#include "../hub.h"
#include "../prom.h"
#include "../recover.h"
#include "../watch.h"

/* ======================================================================
 * Prometheus: the exposition (prom.c) and the endpoint's parser (http.c).
 * ====================================================================== */

static char *exposition(const struct prom_target *t, int n, double now)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		fixture_bug("open_memstream failed", (uint64_t)errno);
	prom_format(f, t, n, 0.0125, now);
	fclose(f);
	return out;
}

/* Every family once, HELP then TYPE then its samples, each sample line
 * a name, labels and a value. */
static void check_families(const char *text)
{
	char seen[64][64];
	int nseen = 0;

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		char name[64];
		CHECK(nl != NULL);
		if (!nl)
			return;
		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%63s", name);
			for (int i = 0; i < nseen; i++)
				CHECK(strcmp(seen[i], name));
			if (nseen < 64)
				strcpy(seen[nseen++], name);
			CHECK(!strncmp(nl + 1, "# TYPE ", 7));
			CHECK(!strncmp(nl + 8, name, strlen(name)));
		} else if (line[0] != '#') {
			CHECK(nseen > 0 && !strncmp(line, seen[nseen - 1],
						    strlen(seen[nseen - 1])));
		}
		line = nl + 1;
	}
	CHECK(nseen >= 20);
}

static void test_prom_format(void)
{
	struct gf_board *a = attached_board(), *d = xcalloc(sizeof *d);
	struct gf_counts ca = { 0 }, cd = { 0 };
	struct gf_verdict v = { .cls = GF_MEMORY, .active = 1 };
	struct gf_report act = { .kind = GF_ACTION, .cls = GF_MEMORY, .sig = 9 };
	struct gf_report res = { .kind = GF_RESULT, .cls = GF_MEMORY,
				 .outcome = GF_STILL_RUNNING };
	struct gf_report op = { .kind = GF_ACTION, .outcome = GF_REFUSED };
	const struct gf_event evs[] = {
		{ .kind = GF_EV_VERDICT, .verdict = &v },
		{ .kind = GF_EV_ACTION, .report = &act },
		{ .kind = GF_EV_RESULT, .report = &res },
		{ .kind = GF_EV_OPERATOR, .report = &op },
		{ .kind = GF_EV_METRICS },
	};
	struct prom_target t[2] = { { a, &ca }, { d, &cd } };
	char *text;

	board_init(d, "vm:/dir/with \"quote\" and \\ and\nnewline");
	snprintf(a->engine, sizeof a->engine, "CPU");
	a->sampled = 1000;
	a->mem_available_kib = 1;
	a->rates.cpu[1].online = 0;
	a->verdict[GF_MEMORY].active = 1;
	for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
		prom_count(&ca, &evs[i]);
	prom_count(&ca, &evs[0]);
	text = exposition(t, 2, 1002.5);
	check_families(text);
	CHECK_HAS(text, "gpufas_attached{target=\"vm:test\"} 1\n");
	CHECK_HAS(text, "gpufas_attached{target=\"vm:/dir/with \\\"quote\\\" and "
		  "\\\\ and\\nnewline\"} 0\n");
	CHECK_HAS(text, "gpufas_sample_age_seconds{target=\"vm:test\"} 2.5\n");
	CHECK_HAS(text, "gpufas_engine_info{target=\"vm:test\",engine=\"CPU\"} 1\n");
	CHECK_HAS(text, "gpufas_cpu_ratio{target=\"vm:test\",cpu=\"0\",mode=\"idle\"} 1\n");
	CHECK(!strstr(text, "cpu=\"1\"")); /* offline */
	CHECK_HAS(text, "gpufas_memory_available_bytes{target=\"vm:test\"} 1024\n");
	CHECK_HAS(text, "gpufas_detector_state{target=\"vm:test\",class=\"memory\"} 2\n");
	CHECK_HAS(text, "gpufas_detector_state{target=\"vm:test\",class=\"F1\"} 0\n");
	CHECK_HAS(text, "gpufas_verdicts_total{target=\"vm:test\",class=\"memory\"} 2\n");
	CHECK_HAS(text, "gpufas_actions_total{target=\"vm:test\",class=\"memory\"} 1\n");
	CHECK_HAS(text, "gpufas_results_total{target=\"vm:test\",class=\"memory\","
		  "outcome=\"still_running\"} 1\n");
	CHECK_HAS(text, "gpufas_operator_signals_total{target=\"vm:test\","
		  "outcome=\"refused\"} 1\n");
	CHECK_HAS(text, "gpufas_round_seconds 0.0125\n");
	/* the detached target: its state and counters, no readings */
	CHECK(!strstr(text, "gpufas_memory_total_bytes{target=\"vm:/dir"));
	CHECK(!strstr(text, "gpufas_detector_state{target=\"vm:/dir"));
	CHECK_HAS(text, "gpufas_verdicts_total{target=\"vm:/dir");
	free(text);
	free(d);
	free(a);
}

static void test_http_parse(void)
{
	static const struct { const char *req; int rc; } cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", GF_OK },
		{ "GET /metrics HTTP/1.0\n\n", GF_OK },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", GF_EBUSY },
		{ "GET /met", GF_EBUSY },
		{ "\r\n\r\n", GF_EINVAL },
		{ "GET /metrics\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/2.0\r\n\r\n", GF_EINVAL },
		{ "GET metrics HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "get /metrics HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", GF_EINVAL },
		{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", GF_EINVAL },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", GF_EINVAL },
		{ "\x16\x03\x01\x02\xfc\x03\x03\n\n", GF_EINVAL }, /* TLS */
		{ "VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", GF_ENOSPC },
	};
	struct http_request r;
	const char *reason;
	char *big = xcalloc(HTTP_MAX_REQUEST + 64);
	size_t len;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		CHECK_EQ(http_parse(cases[i].req, strlen(cases[i].req), &r), cases[i].rc);
	CHECK_EQ(http_parse("GET /m\0 HTTP/1.1\r\n\r\n", 21, &r), GF_EINVAL);
	CHECK_EQ(http_parse("POST /metrics?x=1 HTTP/1.1\r\n\r\n", 31, &r), GF_OK);
	CHECK_STR(r.method, "POST");
	CHECK_STR(r.path, "/metrics?x=1");
	CHECK_EQ(http_status(&r, &reason), 405);
	snprintf(r.method, sizeof r.method, "GET");
	CHECK_EQ(http_status(&r, &reason), 200);
	snprintf(r.path, sizeof r.path, "/metricsx");
	CHECK_EQ(http_status(&r, &reason), 404);
	snprintf(r.path, sizeof r.path, "/");
	CHECK_EQ(http_status(&r, &reason), 404);
	/* a path longer than the request can hold */
	len = (size_t)snprintf(big, HTTP_MAX_REQUEST, "GET /%0200d HTTP/1.1\r\n\r\n", 0);
	CHECK_EQ(http_parse(big, len, &r), GF_ENOSPC);
	/* one header too many, and a head that never ends */
	len = (size_t)snprintf(big, HTTP_MAX_REQUEST, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(big + len, HTTP_MAX_REQUEST - len, "H%d: v\r\n", i);
	CHECK_EQ(http_parse(big, len, &r), GF_EBUSY);
	len += (size_t)snprintf(big + len, HTTP_MAX_REQUEST - len, "X: v\r\n");
	CHECK_EQ(http_parse(big, len, &r), GF_ENOSPC);
	memset(big, 'a', HTTP_MAX_REQUEST);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_EQ(http_parse(big, HTTP_MAX_REQUEST - 1, &r), GF_EBUSY);
	CHECK_EQ(http_parse(big, HTTP_MAX_REQUEST, &r), GF_ENOSPC);
	/* random heads, bytes drawn mostly from HTTP's own: one of the four
	 * answers, and a whole head's fields terminated within bounds */
	srand(16);
	for (int round = 0; round < 20000; round++) {
		static const char alphabet[] = "GET /metrics HTTP/1.1\r\n: \0\xff";
		int rc;
		len = (size_t)(rand() % 300);
		for (size_t i = 0; i < len; i++)
			big[i] = rand() % 8 ? alphabet[rand() % (sizeof alphabet - 1)]
					    : (char)rand();
		memset(&r, 0x55, sizeof r);
		rc = http_parse(big, len, &r);
		CHECK(rc == GF_OK || rc == GF_EBUSY || rc == GF_EINVAL || rc == GF_ENOSPC);
		if (rc == GF_OK)
			CHECK(memchr(r.method, 0, sizeof r.method) &&
			      memchr(r.path, 0, sizeof r.path) && r.path[0] == '/');
	}
	free(big);
}

static const struct test tests[] = {
	T(prom_format),
	T(http_parse),
};

const struct suite suite_prom = SUITE(tests);
