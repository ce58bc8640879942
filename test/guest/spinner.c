/* spinner N: N threads (main included) busy-looping in user space forever.
 * The CPU-overload workload: every thread stays runnable and never enters the kernel. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) spin_forever(void)
{
	volatile unsigned long n = 0; /* volatile: keeps the loop from being optimised away */

	for (;;)
		n++;
}

static void *spin(void *arg)
{
	(void)arg;
	spin_forever();
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;

	if (n < 1) {
		fprintf(stderr, "usage: spinner N (N >= 1 threads)\n");
		return 2;
	}
	for (int i = 1; i < n; i++) {
		pthread_t t;
		int err = pthread_create(&t, NULL, spin, NULL);

		if (err) {
			fprintf(stderr, "spinner: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	printf("spinner ready pid=%d\n", getpid());
	fflush(stdout); /* stdout is usually a log file: make the line visible now */
	spin_forever();
}
