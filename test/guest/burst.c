/* burst N SLEEP_US [BURST_US]: the GPUfas paper's victims for make bench-signals. N children
 * named "burst-child", each looping "sleep SLEEP_US, then spin BURST_US (default 100)", the
 * way a service waits for work and handles it. The children start together once all are
 * forked (each waits for the parent to close a pipe), so that forking the last ones does not
 * compete with the first ones' bursts. The parent then prints "burst: ready N", reaps the
 * children as they die, and prints "burst: all N dead" when the last one is gone; it is never
 * the victim (its name is "burst"). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) child(int go, long sleep_us, long burst_us)
{
	struct timespec nap = { sleep_us / 1000000, sleep_us % 1000000 * 1000 };
	char byte;

	prctl(PR_SET_NAME, "burst-child");
	while (read(go, &byte, 1) < 0 && errno == EINTR) /* 0 once the parent closed it */
		;
	close(go);
	for (;;) {
		double end;

		nanosleep(&nap, NULL);
		for (end = now() + burst_us / 1e6; now() < end;)
			;
	}
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[1]) : 0, sleep_us = argc > 2 ? atol(argv[2]) : -1;
	long burst_us = argc > 3 ? atol(argv[3]) : 100, reaped = 0;

	if (n < 1 || sleep_us < 0 || burst_us < 0) {
		fprintf(stderr, "usage: burst N SLEEP_US [BURST_US]\n");
		return 2;
	}
	pid_t *pids = calloc(n, sizeof *pids);
	int go[2];

	if (!pids || pipe(go)) {
		perror("burst");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		if ((pids[i] = fork()) < 0) {
			perror("burst: fork");
			while (i--)
				kill(pids[i], SIGKILL);
			return 1;
		}
		if (pids[i] == 0) {
			close(go[1]);
			child(go[0], sleep_us, burst_us);
		}
	}
	close(go[0]);
	close(go[1]); /* they all start */
	printf("burst: ready %ld\n", n);
	fflush(stdout);
	while (reaped < n) {
		if (wait(NULL) > 0)
			reaped++;
		else if (errno != EINTR)
			break;
	}
	printf("burst: all %ld dead\n", reaped);
	free(pids);
	return reaped == n ? 0 : 1;
}
