/* recmeter [-p PCT] [-t TIMEOUT] [-s SETTLE] [-b HEARTBEAT_STATE] -- PROGRAM [ARG...]
 * The recovery benchmark's stopwatch, inside the guest. It locks itself in memory
 * (mlockall) and protects itself from OOM killers (oom_score_adj -1000), so it keeps measuring
 * while everything else thrashes; then it starts PROGRAM (the memory hog, with its own
 * oom_score_adj 0) and, on CLOCK_MONOTONIC:
 *   - records when PROGRAM started and when it ended (a pidfd: the exact moment) and how;
 *   - samples /proc/meminfo at 10 Hz and records the first sample where MemAvailable is below
 *     PCT % of MemTotal (default 10): the moment a detector could first decide;
 *   - samples PROGRAM's own state at 100 Hz from the moment a SIGKILL is pending for it
 *     (/proc/PID/status: SigPnd or ShdPnd) until it ends: where it sleeps while the signal
 *     waits, as its state letter and wait channel (/proc/PID/wchan);
 *   - kills PROGRAM after TIMEOUT seconds (default 240) and reports status=timeout;
 *   - SETTLE seconds (default 3) after PROGRAM ended, checks which processes survived: every
 *     user process that was at least 1 s old when PROGRAM started, and the heartbeat, whose
 *     state file (heartbeat.c) gives its longest gap; a heartbeat still stalled then is waited
 *     for up to 30 s more, and its ongoing gap counts.
 * Then it prints one line:
 *   RECMETER status=killed|exited|timeout sig=NAME|- code=N start=T exit=T cross=T|none pct=P
 *     memtotal_kb=N min_avail_kb=N max_swap_used_kb=N hb_maxgap=S|none hb_maxgap_end=T|none
 *     hb_beating=0|1 watched=N lost=COMM:PID,...|- kill_seen=T|none
 *     kill_states=STATE:WCHAN:SAMPLES,...|-
 * (on one line; times in seconds of the guest's CLOCK_MONOTONIC). Exit status 0, or 2 on a
 * usage error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_WATCH 512
#define MIN_AGE 1.0 /* seconds: younger processes are transient (a loop's sleep, a cat) */

struct proc {
	int pid;
	unsigned long long starttime;
	char comm[32];
};

static struct proc watch[MAX_WATCH];
static int nwatch;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec t = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

/* Reads /proc/PID/stat: comm, state, task flags and start time (clock ticks after boot).
 * Returns 0, or -1 where the process is gone. */
static int read_stat(int pid, char *comm, size_t commsz, char *state, unsigned long *flags,
		     unsigned long long *starttime)
{
	char path[64], buf[1024], *open_paren, *close_paren, *p;
	int fd, n, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	n = close_paren - open_paren - 1;
	if (n >= (int)commsz)
		n = commsz - 1;
	memcpy(comm, open_paren + 1, n);
	comm[n] = 0;
	/* after ") ": field 3 (state) onwards */
	p = close_paren + 2;
	*state = *p;
	for (field = 3; field < 22 && p; field++) {
		if (field == 9)
			*flags = strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	*starttime = strtoull(p, NULL, 10);
	return 0;
}

static double uptime(void)
{
	char buf[64];
	int fd = open("/proc/uptime", O_RDONLY), n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return atof(buf);
}

/* Every user process old enough to be a bystander (not kernel threads, not this one). */
static void snapshot(void)
{
	double up = uptime();
	long hz = sysconf(_SC_CLK_TCK);
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) && nwatch < MAX_WATCH) {
		int pid = atoi(e->d_name);
		struct proc *w = &watch[nwatch];
		unsigned long flags = 0;
		char state;

		if (pid <= 0 || pid == getpid())
			continue;
		if (read_stat(pid, w->comm, sizeof(w->comm), &state, &flags, &w->starttime))
			continue;
		if (flags & 0x00200000 /* PF_KTHREAD */ || state == 'Z')
			continue;
		if (up - (double)w->starttime / hz < MIN_AGE)
			continue;
		w->pid = pid;
		nwatch++;
	}
	if (d)
		closedir(d);
}

static int still_alive(const struct proc *w)
{
	char comm[32], state;
	unsigned long flags;
	unsigned long long starttime;

	return !read_stat(w->pid, comm, sizeof(comm), &state, &flags, &starttime) &&
	       starttime == w->starttime && state != 'Z' && state != 'X';
}

/* PROGRAM's samples from the moment its SIGKILL is pending: how often each state and wait
 * channel was seen, in the order first seen. */
#define MAX_STATES 16
static struct { char state; char wchan[48]; int samples; } states[MAX_STATES];
static int nstates;
static double kill_seen = -1;

/* Whether a SIGKILL is pending for pid: bit 8 of SigPnd or ShdPnd in /proc/PID/status. */
static int sigkill_pending(int pid)
{
	char path[64], buf[4096], *line;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if ((!strncmp(line, "SigPnd:", 7) || !strncmp(line, "ShdPnd:", 7)) &&
		    strtoull(line + 7, NULL, 16) & (1ull << (SIGKILL - 1)))
			return 1;
	return 0;
}

/* One sample of pid's state and wait channel, once its SIGKILL is pending. */
static void sample_dying(int pid, double t)
{
	char path[64], wchan[48] = "", comm[32], state;
	unsigned long flags;
	unsigned long long starttime;
	int fd, n, i;

	if (kill_seen < 0 && !sigkill_pending(pid))
		return;
	if (kill_seen < 0)
		kill_seen = t;
	if (read_stat(pid, comm, sizeof(comm), &state, &flags, &starttime))
		return;
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	if ((fd = open(path, O_RDONLY)) >= 0) {
		n = read(fd, wchan, sizeof(wchan) - 1);
		wchan[n > 0 ? n : 0] = 0;
		close(fd);
	}
	if (!wchan[0])
		strcpy(wchan, "0");
	for (i = 0; i < nstates; i++)
		if (states[i].state == state && !strcmp(states[i].wchan, wchan))
			break;
	if (i == nstates && nstates < MAX_STATES) {
		states[nstates].state = state;
		snprintf(states[nstates].wchan, sizeof(states[nstates].wchan), "%s", wchan);
		nstates++;
	}
	if (i < nstates)
		states[i].samples++;
}

struct meminfo {
	long total, avail, swap_total, swap_free;
};

static int read_meminfo(int fd, struct meminfo *m)
{
	char buf[4096], *line;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	memset(m, 0, sizeof(*m));
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (!strncmp(line, "MemTotal:", 9))
			m->total = atol(line + 9);
		else if (!strncmp(line, "MemAvailable:", 13))
			m->avail = atol(line + 13);
		else if (!strncmp(line, "SwapTotal:", 10))
			m->swap_total = atol(line + 10);
		else if (!strncmp(line, "SwapFree:", 9))
			m->swap_free = atol(line + 9);
	}
	return m->total ? 0 : -1;
}

/* The heartbeat's state line: its longest gap, when that ended, its last beat. */
static int read_heartbeat(const char *path, double *maxgap, double *maxgap_end, double *last)
{
	char buf[256];
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return sscanf(buf, "beats=%*u maxgap=%lf maxgap_end=%lf last=%lf", maxgap, maxgap_end,
		      last) == 3 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: recmeter [-p PCT] [-t TIMEOUT] [-s SETTLE] [-b HEARTBEAT_STATE]"
			" -- PROGRAM [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double pct = 10, timeout = 240, settle = 3, start, exit_t = -1, cross = -1, next, next_mem;
	double hb_maxgap = -1, hb_maxgap_end = -1, hb_last = -1;
	const char *hb_path = NULL;
	long min_avail = -1, max_swap_used = 0, memtotal = 0;
	int opt, pidfd, mfd, status = 0, timed_out = 0, hb_beating = 0;
	struct meminfo m;
	pid_t child;
	char lost[4096] = "";
	size_t lostlen = 0;

	while ((opt = getopt(argc, argv, "+p:t:s:b:")) != -1) {
		switch (opt) {
		case 'p': pct = atof(optarg); break;
		case 't': timeout = atof(optarg); break;
		case 's': settle = atof(optarg); break;
		case 'b': hb_path = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || pct <= 0 || pct >= 100 || timeout <= 0)
		usage();
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		perror("recmeter: mlockall");
		return 1;
	}
	if (write_file("/proc/self/oom_score_adj", "-1000"))
		perror("recmeter: oom_score_adj");
	mfd = open("/proc/meminfo", O_RDONLY);
	if (mfd < 0 || read_meminfo(mfd, &m)) {
		perror("recmeter: /proc/meminfo");
		return 1;
	}
	memtotal = m.total;
	snapshot();

	start = now();
	child = fork();
	if (child < 0) {
		perror("recmeter: fork");
		return 1;
	}
	if (child == 0) {
		write_file("/proc/self/oom_score_adj", "0"); /* an ordinary process again */
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	printf("recmeter: %s started, pid %d, at %.6f\n", argv[optind], child, start);
	fflush(stdout);
	pidfd = syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0) {
		perror("recmeter: pidfd_open");
		return 1;
	}

	/* 100 Hz on a fixed beat, meminfo at 10 Hz; the pidfd wakes us the moment the child
	 * ends */
	for (next = next_mem = start;;) {
		double t = now();
		struct pollfd pfd = {pidfd, POLLIN, 0};
		struct timespec wait;
		double left;

		if (t >= next) {
			sample_dying(child, t);
			while (next <= t)
				next += 0.01;
		}
		if (t >= next_mem) {
			if (!read_meminfo(mfd, &m)) {
				if (min_avail < 0 || m.avail < min_avail)
					min_avail = m.avail;
				if (m.swap_total - m.swap_free > max_swap_used)
					max_swap_used = m.swap_total - m.swap_free;
				if (cross < 0 && m.avail * 100.0 < pct * m.total)
					cross = t;
			}
			while (next_mem <= t)
				next_mem += 0.1;
		}
		if (!timed_out && t - start >= timeout) {
			timed_out = 1;
			kill(child, SIGKILL);
		}
		if (timed_out && t - start >= timeout + 120)
			break; /* not even SIGKILL ended it: report that, exit_t stays -1 */
		left = next - now();
		if (left < 0)
			left = 0;
		wait.tv_sec = (time_t)left;
		wait.tv_nsec = (long)((left - (time_t)left) * 1e9);
		if (ppoll(&pfd, 1, &wait, NULL) > 0 && (pfd.revents & POLLIN)) {
			exit_t = now();
			break;
		}
	}
	if (exit_t >= 0)
		waitpid(child, &status, 0);

	sleep_s(settle);
	for (int i = 0; i < nwatch; i++) {
		if (!still_alive(&watch[i]) && lostlen < sizeof(lost) - 64)
			lostlen += snprintf(lost + lostlen, sizeof(lost) - lostlen, "%s%s:%d",
					    lostlen ? "," : "", watch[i].comm, watch[i].pid);
	}
	if (hb_path) {
		double deadline = now() + 30;

		while (!read_heartbeat(hb_path, &hb_maxgap, &hb_maxgap_end, &hb_last)) {
			double t = now();

			if (t - hb_last < 1.0 && hb_last > exit_t) {
				hb_beating = 1;
				break;
			}
			if (t >= deadline) { /* still stalled (or dead): the ongoing gap counts */
				if (t - hb_last > hb_maxgap) {
					hb_maxgap = t - hb_last;
					hb_maxgap_end = t;
				}
				break;
			}
			sleep_s(0.1);
		}
	}

	printf("RECMETER status=%s sig=%s code=%d start=%.6f exit=%.6f cross=",
	       timed_out ? "timeout" : exit_t < 0 ? "running" :
	       WIFSIGNALED(status) ? "killed" : "exited",
	       exit_t >= 0 && WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "-",
	       exit_t >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, start, exit_t);
	if (cross >= 0)
		printf("%.6f", cross);
	else
		printf("none");
	printf(" pct=%g memtotal_kb=%ld min_avail_kb=%ld max_swap_used_kb=%ld hb_maxgap=", pct,
	       memtotal, min_avail, max_swap_used);
	if (hb_maxgap >= 0)
		printf("%.6f hb_maxgap_end=%.6f", hb_maxgap, hb_maxgap_end);
	else
		printf("none hb_maxgap_end=none");
	printf(" hb_beating=%d watched=%d lost=%s kill_seen=", hb_beating, nwatch,
	       lostlen ? lost : "-");
	if (kill_seen >= 0)
		printf("%.6f", kill_seen);
	else
		printf("none");
	printf(" kill_states=");
	for (int i = 0; i < nstates; i++)
		printf("%s%c:%s:%d", i ? "," : "", states[i].state, states[i].wchan,
		       states[i].samples);
	printf("%s\n", nstates ? "" : "-");
	fflush(stdout);
	return 0;
}
