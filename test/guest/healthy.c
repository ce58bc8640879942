/* healthy [-b BURST_PERIOD_S] [-f FILE]: a guest that is busy but healthy, on which a failure
 * detector must find no fault. It keeps
 *   - half the online CPUs (at least one) busy in user space, one thread each;
 *   - a quarter of RAM allocated, written once, then held;
 *   - small steady I/O: 4 KiB written to FILE (default /tmp/healthy.dat, at offset 0) and
 *     fsync()ed, 10 times a second;
 * prints its ready line, then a small helper process spawns a burst of 200 short-lived
 * processes (each sleeps 20 ms and exits; all 200 exist at once) right away and again every
 * BURST_PERIOD_S seconds (default 30; 0: the one burst only). Runs until killed. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BURST 200

static const char *file = "/tmp/healthy.dat";

static void * __attribute__((noreturn)) burn(void *arg)
{
	volatile unsigned long n = 0;

	(void)arg;
	for (;;)
		n++;
}

static void * __attribute__((noreturn)) io(void *arg)
{
	static char buf[4096];
	struct timespec period = { 0, 100 * 1000 * 1000 };
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)arg;
	if (fd < 0) {
		perror("healthy: open");
		exit(1);
	}
	for (unsigned long i = 0;; i++) {
		memset(buf, (int)i, sizeof(buf));
		if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf) || fsync(fd)) {
			perror("healthy: write");
			exit(1);
		}
		nanosleep(&period, NULL);
	}
}

static void burst(void)
{
	struct timespec life = { 0, 20 * 1000 * 1000 };
	int n = 0;

	for (int i = 0; i < BURST; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			nanosleep(&life, NULL);
			_exit(0);
		}
		n += pid > 0;
	}
	while (n > 0)
		n -= wait(NULL) > 0;
}

/* The bursts come from a small process forked before the memory is
 * taken: a fork copies its parent's page tables, and 200 forks of a
 * process holding a quarter of RAM cost seconds of system time on both
 * vCPUs under TCG (milliseconds on hardware): a fork storm, not the burst
 * of short-lived processes a busy machine sees. It starts on a byte from
 * `go`, and dies with its parent. */
static void launcher(int period, int go)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(go, &c, 1) != 1)
		_exit(0);
	for (;;) {
		burst();
		if (period == 0)
			for (;;)
				pause();
		sleep((unsigned)period);
	}
}

static void start(void *(*fn)(void *))
{
	pthread_t t;
	int err = pthread_create(&t, NULL, fn, NULL);

	if (err) {
		fprintf(stderr, "healthy: pthread_create: %s\n", strerror(err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t mem = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE) / 4;
	int period = 30, opt, go[2];
	pid_t pid;
	char *p;

	while ((opt = getopt(argc, argv, "b:f:")) != -1) {
		if (opt == 'b')
			period = atoi(optarg);
		else if (opt == 'f')
			file = optarg;
		else
			period = -1;
	}
	if (period < 0 || optind != argc) {
		fprintf(stderr, "usage: healthy [-b BURST_PERIOD_S] [-f FILE]\n");
		return 2;
	}
	if (pipe(go)) {
		perror("healthy: pipe");
		return 1;
	}
	if ((pid = fork()) == 0)
		launcher(period, go[0]);
	if (pid < 0) {
		perror("healthy: fork");
		return 1;
	}
	p = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("healthy: mmap");
		return 1;
	}
	memset(p, 0x5a, mem); /* touched once, then held */
	for (long i = 0; i < (ncpu > 1 ? ncpu / 2 : 1); i++)
		start(burn);
	start(io);
	printf("healthy ready pid=%d cpus=%ld mib=%zu\n", getpid(), ncpu > 1 ? ncpu / 2 : 1,
	       mem >> 20);
	fflush(stdout);
	if (write(go[1], "", 1) != 1) {
		perror("healthy: starting the bursts");
		return 1;
	}
	for (;;)
		pause();
}
