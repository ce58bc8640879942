/* test/unit_notify.c — unit tests of sdnotify.c: the systemd notify socket,
 * the watchdog, journal lines. */
#include <string.h>

#include "unit.h"

#include "../sdnotify.h"

/* $NOTIFY_SOCKET's two forms: a path keeps its bytes, an abstract name
 * starts with a NUL and its length ends it; anything else is refused. */
static void test_notify_addr(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	char big[sizeof sa.sun_path + 1];
	size_t base = offsetof(struct sockaddr_un, sun_path);

	CHECK_EQ(gf_notify_addr("/run/systemd/notify", &sa, &len), 0);
	CHECK_EQ(sa.sun_family, AF_UNIX);
	CHECK_STR(sa.sun_path, "/run/systemd/notify");
	CHECK_EQ(len, base + strlen("/run/systemd/notify"));
	CHECK_EQ(gf_notify_addr("@gf/notify", &sa, &len), 0);
	CHECK(sa.sun_path[0] == '\0' && !memcmp(sa.sun_path + 1, "gf/notify", 9));
	CHECK_EQ(len, base + 10);
	CHECK_EQ(gf_notify_addr("", &sa, &len), GF_EINVAL);
	CHECK_EQ(gf_notify_addr("@", &sa, &len), GF_EINVAL);
	CHECK_EQ(gf_notify_addr("relative", &sa, &len), GF_EINVAL);
	CHECK_EQ(gf_notify_addr("vsock:2:1234", &sa, &len), GF_EINVAL);
	memset(big, 'a', sizeof big - 1);
	big[0] = '/';
	big[sizeof big - 1] = '\0';
	CHECK_EQ(gf_notify_addr(big, &sa, &len), GF_EINVAL);
}

/* Half of $WATCHDOG_USEC, for this process only. */
static void test_notify_watchdog(void)
{
	CHECK(gf_notify_watchdog_s("30000000", NULL, 42) == 15.0);
	CHECK(gf_notify_watchdog_s("1000000", "42", 42) == 0.5);
	CHECK(gf_notify_watchdog_s("1000000", "", 42) == 0.5);
	CHECK(gf_notify_watchdog_s("1000000", "43", 42) == 0);
	CHECK(gf_notify_watchdog_s("1000000", "42x", 42) == 0);
	CHECK(gf_notify_watchdog_s(NULL, NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("0", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("-5", NULL, 42) == 0);
	CHECK(gf_notify_watchdog_s("10s", NULL, 42) == 0);
}

static void line_of(char *buf, size_t cap, int journal, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gf_notify_line(buf, cap, journal, prio, fmt, ap);
	va_end(ap);
}

/* $JOURNAL_STREAM names stderr exactly, or the lines go unprefixed. */
static void test_notify_journal(void)
{
	char line[32];

	CHECK(gf_notify_journal_match("66306:1234567", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306:1234567", 66306, 1234568));
	CHECK(!gf_notify_journal_match("66307:1234567", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306:1234567x", 66306, 1234567));
	CHECK(!gf_notify_journal_match("66306", 66306, 0));
	CHECK(!gf_notify_journal_match("", 0, 0));
	CHECK(!gf_notify_journal_match(NULL, 0, 0));
	line_of(line, sizeof line, 1, LOG_ERR, "events file %s", "x");
	CHECK_STR(line, "<3>gpufas: events file x\n");
	line_of(line, sizeof line, 0, LOG_ERR, "events file %s", "x");
	CHECK_STR(line, "gpufas: events file x\n");
	line_of(line, sizeof line, 1, LOG_NOTICE, "note: %d", 5);
	CHECK_STR(line, "<5>gpufas: note: 5\n");
	line_of(line, sizeof line, 1, LOG_WARNING, "%s", "a message far longer than the line");
	CHECK_EQ(strlen(line), sizeof line - 1);
	CHECK(!strncmp(line, "<4>gpufas: a message", 20) && line[sizeof line - 2] == '\n');
}

static const struct test tests[] = {
	T(notify_addr),
	T(notify_watchdog),
	T(notify_journal),
};

const struct suite suite_notify = SUITE(tests);
