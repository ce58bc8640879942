/* sigcatch [sleep]: counts SIGUSR1 and logs each change of the count to /tmp/sigcatch.log.
 * The main loop busy-spins so that the task is running (not sleeping) when a signal is
 * marked pending from outside: delivery then happens on its next return to user mode.
 * With "sleep" it sleeps in pause() instead, so that only a signal the kernel sends (which
 * wakes it) runs the handler at once. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG "/tmp/sigcatch.log"

static volatile sig_atomic_t count;

static void on_usr1(int sig)
{
	(void)sig;
	count++;
}

static void log_count(int c)
{
	FILE *f = fopen(LOG, "a");

	if (!f) {
		perror("sigcatch: " LOG);
		return;
	}
	fprintf(f, "sigcatch got SIGUSR1 count=%d\n", c);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	int sleeping = argc > 1 && !strcmp(argv[1], "sleep"), seen = 0;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		perror("sigcatch: sigaction");
		return 1;
	}
	printf("sigcatch ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;) {
		int c;

		if (sleeping)
			pause();
		c = count;
		if (c != seen) {
			seen = c;
			log_count(c);
		}
	}
}
