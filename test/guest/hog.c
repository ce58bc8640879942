/* hog MIB [MIB_PER_SEC]: allocates MIB mebibytes, fills every page (at MIB_PER_SEC if given,
 * else as fast as it can), prints its ready line, then holds the memory forever.
 * Pages get pseudo-random data so that zram or KSM cannot shrink them away, and the hold loop
 * wakes every 100 ms so that a signal marked pending from outside is taken promptly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static void fill(uint64_t *p, size_t words, uint64_t *seed)
{
	uint64_t x = *seed;

	for (size_t i = 0; i < words; i++) { /* xorshift64: cheap and incompressible */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	*seed = x;
}

/* Sleeps until `start` + `sec` seconds (absolute, so the rate does not drift). */
static void sleep_until(const struct timespec *start, double sec)
{
	struct timespec t = *start;
	long ns = (long)((sec - (long)sec) * 1e9) + t.tv_nsec;

	t.tv_sec += (long)sec + ns / 1000000000;
	t.tv_nsec = ns % 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL))
		;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 0;
	double rate = argc > 2 ? atof(argv[2]) : 0;
	uint64_t seed = 88172645463325252ull;
	struct timespec start;
	char *mem;

	if (mib < 1 || rate < 0) {
		fprintf(stderr, "usage: hog MIB [MIB_PER_SEC]\n");
		return 2;
	}
	/* MAP_NORESERVE: the hog must be able to ask for more than RAM + swap and die of it
	 * later, not be refused by the overcommit heuristic up front */
	mem = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("hog: mmap");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < mib; i++) {
		fill((uint64_t *)(mem + i * MIB), MIB / sizeof(uint64_t), &seed);
		if (rate > 0)
			sleep_until(&start, (i + 1) / rate);
	}
	printf("hog ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;)
		usleep(100 * 1000);
}
