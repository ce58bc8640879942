/* test/unit_config.c — unit tests of config.c, signals.c and json.c: the
 * config file, signal names, JSON strings. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../config.h"
#include "../json.h"
#include "../recover.h"
#include "../signals.h"

/* ======================================================================
 * config_load, signal_parse, json_string
 * ====================================================================== */

/* Loads `text` as config.ini into *c; returns config_load's result. */
int load_ini(const char *text, struct gf_config *c, char *err,
		    size_t errlen, char *path, size_t pathlen)
{
	int rc;

	tmp_text(path, pathlen, text);
	config_defaults(c);
	err[0] = 0;
	rc = config_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static void test_config_load(void)
{
	struct gf_config c;
	char err[512], path[128];
	uint64_t v = 0;

	config_defaults(&c);
	CHECK_EQ(c.signal, 9);
	CHECK_EQ(c.nprofile, 0);
	CHECK_EQ(load_ini("; gpufas\n[target]\ndefault = vm:/tmp/g.ram,machine=q35\n"
			  "\n[kill]\nsignal = TERM\n\n[profile]\n"
			  "init_task = 0xffffffff82a0c940\n"
			  "task_struct.pid = 2464\n"
			  "# a comment\nTIF_SIGPENDING = 2\n",
			  &c, err, sizeof err, path, sizeof path), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.target, "vm:/tmp/g.ram,machine=q35");
	CHECK_EQ(c.signal, 15);
	CHECK_EQ(c.nprofile, 3);
	CHECK_EQ(config_profile(&c, "init_task", &v), 0);
	CHECK_EQ(v, 0xffffffff82a0c940ull);
	CHECK_EQ(config_profile(&c, "task_struct.pid", &v), 0);
	CHECK_EQ(v, 2464);
	CHECK_EQ(config_profile(&c, "TIF_SIGPENDING", &v), 0);
	CHECK_EQ(v, 2);
	CHECK_EQ(config_profile(&c, "task_struct", &v), GF_ENOENT);
	CHECK_EQ(load_ini("[kill]\nsignal = sigusr1\n", &c, err, sizeof err, path,
			  sizeof path), 0);
	CHECK_EQ(c.signal, 10);
}

static void check_ini_error(const char *text, int line, const char *needle)
{
	struct gf_config c;
	char err[512], path[128], want[32];
	int before = failures;

	CHECK_EQ(load_ini(text, &c, err, sizeof err, path, sizeof path), GF_EINVAL);
	snprintf(want, sizeof want, "line %d:", line);
	CHECK_HAS(err, path);
	CHECK_HAS(err, want);
	CHECK_HAS(err, needle);
	note_case(before, "config: \"%s\"", text);
}

static void test_config_errors(void)
{
	char many[4096], key[128];
	size_t n = 0;

	check_ini_error("[target]\ndefault = x\n[kill]\nsignal = TERM\nbogus = 1\n",
			5, "bogus");
	check_ini_error("[target]\ndefault = x\n[nope]\na = 1\n", 4, "'a'");
	/* the first of two errors, its line and its message */
	check_ini_error("[target]\ndefault = x\nbogus = y\n[kill]\nsignal = nope\n",
			3, "bogus");
	check_ini_error("[profile]\nok = 1\nbad = 12abc\n", 3, "12abc");
	check_ini_error("[profile]\nempty =\n", 2, "number");
	check_ini_error("[profile]\nbig = 0x1ffffffffffffffff\n", 2, "number");
	check_ini_error("[kill]\nsignal = SIGFOO\n", 2, "SIGFOO");
	check_ini_error("[kill]\nsignal = 0\n", 2, "signal");
	check_ini_error("[target]\nno equals sign here\n", 2, "syntax");
	memset(key, 'k', 64);
	snprintf(key + 64, sizeof key - 64, " = 1\n");
	snprintf(many, sizeof many, "[profile]\n%s", key);
	check_ini_error(many, 2, "long");
	n = (size_t)snprintf(many, sizeof many, "[profile]\n");
	for (int i = 0; i <= GF_MAX_PROFILE; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "k%d = %d\n", i, i);
	check_ini_error(many, GF_MAX_PROFILE + 2, "too many");
}

static void test_config_missing_file(void)
{
	struct gf_config c;
	char err[512] = "";
	const char *path = "/nonexistent/gpufas-unit/config.ini";

	config_defaults(&c);
	CHECK_EQ(config_load(&c, path, err, sizeof err), GF_EIO);
	CHECK_HAS(err, path);
	CHECK_HAS(err, strerror(ENOENT));
}

/* strtoull() takes "-5" as 2^64 - 5 without an error: an offset or
 * address typed with a sign must not load as a huge number. */
static void test_config_profile_negative(void)
{
	check_ini_error("[profile]\ntask_struct.pid = -8\n", 2, "-8");
}

static void test_signal_parse(void)
{
	static const struct { const char *s; int sig; } c[] = {
		{ "9", 9 }, { "KILL", 9 }, { "kill", 9 }, { "sigkill", 9 },
		{ "SIGKILL", 9 }, { "SigKill", 9 }, { "SIGUSR1", 10 }, { "usr1", 10 },
		{ "TERM", 15 }, { "1", 1 }, { "31", 31 }, { "SYS", 31 }, { "HUP", 1 },
		{ "0", -1 }, { "32", -1 }, { "-9", -1 }, { "9x", -1 }, { " 9", -1 },
		{ "abc", -1 }, { "", -1 }, { "SIG", -1 }, { "SIGSIGKILL", -1 },
		{ "KILLX", -1 }, { "99999999999999999999", -1 }, { "SIG9", -1 },
	};

	for (uint32_t i = 0; i < NELEM(c); i++)
		if (signal_parse(c[i].s) != c[i].sig)
			report(__FILE__, __LINE__, "signal_parse(\"%s\") = %d, want %d",
			       c[i].s, signal_parse(c[i].s), c[i].sig);
	for (int s = 1; s < 32; s++)
		CHECK_EQ(signal_parse(signal_name(s)), s);
	CHECK_STR(signal_name(9), "KILL");
	CHECK_STR(signal_name(0), "?");
	CHECK_STR(signal_name(32), "?");
	CHECK_STR(signal_name(-1), "?");
}

static char *json_of(const char *s, size_t maxlen)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		fixture_bug("open_memstream failed", (uint64_t)errno);
	json_string(f, s, maxlen);
	fclose(f);
	return out;
}

static void check_json(const char *s, size_t maxlen, const char *want)
{
	char *got = json_of(s, maxlen);

	CHECK_STR(got, want);
	free(got);
}

static void test_json_string(void)
{
	check_json("plain text", 64, "\"plain text\"");
	check_json("", 64, "\"\"");
	check_json("a\"b\\c", 64, "\"a\\\"b\\\\c\"");
	check_json("\x01\n\x1f \x7f", 64, "\"\\u0001\\u000a\\u001f \\u007f\"");
	check_json("\xc3\xa9\xff", 64, "\"\\u00c3\\u00a9\\u00ff\"");
	check_json("abcdef", 3, "\"abc\"");
	check_json("0123456789abcdefNOT", 16, "\"0123456789abcdef\"");
	check_json("</script>", 64, "\"</script>\"");
}

static int load_text(struct gf_config *c, const char *text, char *err,
		     size_t errlen)
{
	char path[128];

	return load_ini(text, c, err, errlen, path, sizeof path);
}

static void test_config_detect_recover(void)
{
	struct gf_config c;
	char err[256];

	CHECK_EQ(load_text(&c, "[detect]\nwindow_ms = 800\nblocked = 8\n"
			   "[recover]\nmemory = term\ncpu_overload = kill\n"
			   "protect = sshd, systemd*\ndry_run = yes\n"
			   "grace_ms = 500\n[agent]\ninterval_ms = 50\n",
			   err, sizeof err), 0);
	CHECK(c.detect.window_s > 0.799 && c.detect.window_s < 0.801);
	CHECK(c.detect.blocked == 8);
	CHECK(c.detect.sys_pct == 95); /* the default stays */
	CHECK_EQ(c.recover.memory, GF_TERM_THEN_KILL);
	CHECK_EQ(c.recover.cpu_overload, GF_KILL);
	CHECK_STR(c.recover.protect, "sshd, systemd*");
	CHECK(c.recover.dry_run);
	CHECK(c.recover.grace_s == 0.5);
	CHECK(c.interval_s == 0.05);
	CHECK_EQ(load_text(&c, "[detect]\nsys_pct = 101\n", err, sizeof err), GF_EINVAL);
	CHECK_HAS(err, "sys_pct wants a number from 0 to 100");
	CHECK_EQ(load_text(&c, "[recover]\nmemory = maybe\n", err, sizeof err), GF_EINVAL);
	CHECK_HAS(err, "kill, term or report");
	CHECK_EQ(load_text(&c, "[agent]\ninterval_ms = 1x\n", err, sizeof err), GF_EINVAL);
	CHECK_EQ(load_text(&c, "[recover]\ndry_run = perhaps\n", err, sizeof err), GF_EINVAL);
}

static const struct test tests[] = {
	T(config_load),
	T(config_errors),
	T(config_missing_file),
	T(config_profile_negative),
	T(signal_parse),
	T(json_string),
	T(config_detect_recover),
};

const struct suite suite_config = SUITE(tests);
