/* ticker [USEC]: sleeps USEC microseconds (default 1000) in a loop, forever: a steady rate of
 * context switches (two per period: to the idle task and back) from a task that uses almost no
 * CPU. Prints its ready line once running. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long usec = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec t = { .tv_sec = usec / 1000000, .tv_nsec = usec % 1000000 * 1000 };

	if (usec < 1) {
		fprintf(stderr, "usage: ticker [USEC] (USEC >= 1, default 1000)\n");
		return 2;
	}
	printf("ticker ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;)
		nanosleep(&t, NULL);
}
