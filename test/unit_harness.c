/* test/unit_harness.c — the unit tests' runner and checks.
 *
 * Most tests run against a synthetic guest held in malloc'd buffers
 * (test/unit_fixture.c). Each test runs in a child process under an
 * alarm, so that a crash or a hang fails that test alone. The last line
 * of output is "N passed, M failed" (tests, not checks); the exit status
 * is 1 if any test failed.
 *
 *   make test/unit && ./test/unit [TEST...]
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#define TEST_TIMEOUT_S 5

int failures;      /* failed checks of the running test */
char scratch[64];  /* this run's temporary directory */

void report(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("    %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures++;
}

_Noreturn void end_test(void)
{
	fflush(stdout);
	_exit(failures ? 1 : 0);
}

void check_eq(const char *file, int line, const char *a, const char *b,
	      uint64_t va, uint64_t vb)
{
	if (va != vb)
		report(file, line, "%s == %s: %#llx (%lld) != %#llx (%lld)", a, b,
		       (unsigned long long)va, (long long)va,
		       (unsigned long long)vb, (long long)vb);
}

void check_str(const char *file, int line, const char *a,
	       const char *got, const char *want)
{
	if (!got || strcmp(got, want))
		report(file, line, "%s: \"%s\" != \"%s\"", a, got ? got : "(null)",
		       want);
}

void check_has(const char *file, int line, const char *a,
	       const char *s, const char *sub)
{
	if (!strstr(s, sub))
		report(file, line, "%s: \"%s\" lacks \"%s\"", a, s, sub);
}

/* After a batch of checks: names the case they were about, if any failed. */
void note_case(int before, const char *fmt, ...)
{
	va_list ap;

	if (failures == before)
		return;
	printf("      (");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(")\n");
}

/* A mistake in a test's own setup: ends the test as failed. */
_Noreturn void fixture_bug(const char *what, uint64_t value)
{
	report(__FILE__, __LINE__, "fixture: %s (%#llx)", what,
	       (unsigned long long)value);
	end_test();
}

void *xcalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		fixture_bug("out of memory", n);
	return p;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Temporary files live in `scratch`, which main() removes at the end
 * even if a test crashed before its own unlink. */
int tmp_open(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/XXXXXX", scratch);
	if ((fd = mkstemp(path)) < 0)
		fixture_bug("mkstemp failed", (uint64_t)errno);
	return fd;
}

void tmp_file(char *path, size_t size, const void *data, size_t len)
{
	int fd = tmp_open(path, size);

	if (write(fd, data, len) != (ssize_t)len)
		fixture_bug("short write", len);
	close(fd);
}

void tmp_text(char *path, size_t size, const char *text)
{
	tmp_file(path, size, text, strlen(text));
}

/* A sparse file: no disk or memory used for its holes. */
void tmp_resize(const char *path, uint64_t bytes)
{
	if (truncate(path, (off_t)bytes))
		fixture_bug("truncate failed", bytes);
}

void quiet_stderr(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Each module's table (test/unit_<module>.c), in the order they run. */
extern const struct suite suite_introspect, suite_kallsyms, suite_vmcoreinfo,
	suite_target, suite_config, suite_layout, suite_engine, suite_metrics,
	suite_detect, suite_recover, suite_helper, suite_loop, suite_devbox,
	suite_profile, suite_watch, suite_prom, suite_notify, suite_board,
	suite_blake2b, suite_pagehash, suite_snappages, suite_proto, suite_auth,
	suite_hub;

static const struct suite *const suites[] = {
	&suite_introspect,
	&suite_kallsyms,
	&suite_vmcoreinfo,
	&suite_target,
	&suite_config,
	&suite_layout,
	&suite_engine,
	&suite_metrics,
	&suite_detect,
	&suite_recover,
	&suite_helper,
	&suite_loop,
	&suite_devbox,
	&suite_profile,
	&suite_watch,
	&suite_prom,
	&suite_notify,
	&suite_board,
	&suite_blake2b,
	&suite_pagehash,
	&suite_snappages,
	&suite_proto,
	&suite_auth,
	&suite_hub,
};

/* Runs one test in a child: 1 if it passed. */
static int run_test(const struct test *t)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		printf("FAIL %s (fork: %s)\n", t->name, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		alarm(TEST_TIMEOUT_S);
		t->fn();
		end_test();
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("FAIL %s (waitpid: %s)\n", t->name, strerror(errno));
			return 0;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s\n", t->name);
		return 1;
	}
	if (WIFSIGNALED(status))
		printf("    killed by signal %d (%s)%s\n", WTERMSIG(status),
		       strsignal(WTERMSIG(status)),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	printf("FAIL %s\n", t->name);
	return 0;
}

static int selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static void remove_scratch(void)
{
	DIR *d = opendir(scratch);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(scratch);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(scratch, sizeof scratch, "/tmp/gpufas-unit.XXXXXX");
	if (!mkdtemp(scratch)) {
		printf("mkdtemp: %s\n0 passed, 1 failed\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < NELEM(suites); i++)
		for (size_t j = 0; j < suites[i]->n; j++) {
			const struct test *t = &suites[i]->test[j];

			if (!selected(argc, argv, t->name))
				continue;
			if (run_test(t))
				passed++;
			else
				failed++;
		}
	remove_scratch();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
