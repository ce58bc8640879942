/* echo — the floor for the remote benchmark: a plain TCP round trip of
 * the same sizes as a gpufas request and its answer, with no protocol and
 * no MAC (test/bench_remote.py drives it).
 *
 *   echo serve PORT                        answers every 96-byte request
 *                                          with as many bytes as its first
 *                                          4 bytes say
 *   echo ping PORT N REQUEST ANSWER        N round trips on 127.0.0.1:
 *                                          prints min median p99 in ms
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST 96
#define MAX_ANSWER (1 << 20)

static int io_all(int fd, void *buf, size_t len, int writing)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = writing ? write(fd, (char *)buf + done, len - done)
				    : read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int serve(int port)
{
	static char buf[MAX_ANSWER];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0), fd;
	uint32_t answer;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) {
		perror("echo: bind");
		return 1;
	}
	puts("ready");
	fflush(stdout);
	while ((fd = accept(s, NULL, NULL)) >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		while (!io_all(fd, buf, REQUEST, 0)) {
			memcpy(&answer, buf, 4);
			if (answer > MAX_ANSWER || io_all(fd, buf, answer, 1))
				break;
		}
		close(fd);
	}
	return 0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ping(int port, int n, uint32_t answer)
{
	static char buf[MAX_ANSWER];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	double *ms = malloc((size_t)n * sizeof *ms);

	if (!ms || answer > MAX_ANSWER || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		perror("echo: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		memcpy(buf, &answer, 4);
		if (io_all(fd, buf, REQUEST, 1) || io_all(fd, buf, answer, 0)) {
			fprintf(stderr, "echo: the server went away\n");
			return 1;
		}
		ms[i] = now_ms() - t0;
	}
	qsort(ms, (size_t)n, sizeof *ms, by_value);
	printf("n=%d min %.3f median %.3f p99 %.3f ms\n", n, ms[0], ms[n / 2],
	       ms[n * 99 / 100]);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "ping") && atoi(argv[4]) == REQUEST)
		return ping(atoi(argv[2]), atoi(argv[3]), (uint32_t)atoi(argv[5]));
	fprintf(stderr, "usage: echo serve PORT | echo ping PORT N 96 ANSWER_BYTES\n");
	return 2;
}
