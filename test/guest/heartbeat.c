/* heartbeat [STATEFILE]: an ordinary process beating at 10 Hz, for the recovery benchmark.
 * Sleeps 100 ms, wakes, touches its small working set, and measures the gap between two
 * wakeups; it keeps in STATEFILE (default /tmp/heartbeat.state) one line, rewritten in place
 * after every beat:
 *     beats=N maxgap=SECONDS maxgap_end=T last=T
 * T are CLOCK_MONOTONIC seconds (the guest's clock), maxgap_end the wakeup that ended the
 * longest gap. Deliberately NOT mlocked: like any process, its code (on the guest's disk) and
 * its data may be evicted under memory pressure, and its gaps show what thrashing does to an
 * ordinary program. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKING_SET (256 * 1024)

static char work[WORKING_SET];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/heartbeat.state";
	const struct timespec beat = {0, 100 * 1000 * 1000};
	double last, maxgap = 0, maxgap_end = 0;
	unsigned long beats = 0;
	char line[160];
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	last = now();
	printf("heartbeat ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;) {
		double t, gap;
		int n;

		nanosleep(&beat, NULL);
		t = now();
		gap = t - last;
		last = t;
		beats++;
		if (gap > maxgap) {
			maxgap = gap;
			maxgap_end = t;
		}
		for (size_t i = 0; i < sizeof(work); i += 4096) /* one write per page */
			work[i] = (char)beats;
		/* fixed width: the line is rewritten in place and never shrinks */
		n = snprintf(line, sizeof(line),
			     "beats=%-10lu maxgap=%-12.6f maxgap_end=%-16.6f last=%-16.6f\n",
			     beats, maxgap, maxgap_end, t);
		if (pwrite(fd, line, n, 0) != n) {
			perror("heartbeat: pwrite");
			return 1;
		}
	}
}
