/* sleeper [N]: N threads (main included, default 1) sleeping forever in pause().
 * Used with N=1000 for the many-threads benchmark, hence the small stacks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) pause_forever(void)
{
	for (;;)
		pause();
}

static void *sleep_forever(void *arg)
{
	(void)arg;
	pause_forever();
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	pthread_attr_t attr;

	if (n < 1) {
		fprintf(stderr, "usage: sleeper [N] (N >= 1 threads)\n");
		return 2;
	}
	/* 64 KiB instead of the 8 MiB default: 1000 threads fit in a small guest */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 1; i < n; i++) {
		pthread_t t;
		int err = pthread_create(&t, &attr, sleep_forever, NULL);

		if (err) {
			fprintf(stderr, "sleeper: thread %d: pthread_create: %s\n", i, strerror(err));
			return 1;
		}
	}
	printf("sleeper ready pid=%d\n", getpid());
	fflush(stdout);
	pause_forever();
}
