/* sdnotify.c — systemd's notification protocol and journal prefixes
 * (sdnotify.h), in a few lines each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpufas.h"
#include "sdnotify.h"

int gf_notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || n < 2 || n >= sizeof sa->sun_path)
		return GF_EINVAL;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: the length says where it ends */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return GF_OK;
}

int gf_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	ssize_t sent;
	int fd, rc;

	if (!name || !name[0])
		return 0;
	if ((rc = gf_notify_addr(name, &sa, &len)))
		return rc;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return GF_EIO;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
	return sent == (ssize_t)strlen(state) ? 1 : GF_EIO;
}

double gf_notify_watchdog_s(const char *usec, const char *pid, long self)
{
	char *end;
	unsigned long long us;

	if (!usec || !usec[0])
		return 0;
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno || *end || !us || usec[0] == '-')
		return 0;
	if (pid && pid[0] && (strtol(pid, &end, 10) != self || *end))
		return 0;
	return us / 2e6;
}

int gf_notify_journal_match(const char *stream, unsigned long long dev,
			    unsigned long long ino)
{
	unsigned long long d, i;
	int n = 0;

	return stream && sscanf(stream, "%llu:%llu%n", &d, &i, &n) == 2 &&
	       !stream[n] && d == dev && i == ino;
}

static int to_journal; /* set once, before the agent's threads start */

void gf_notify_log_init(void)
{
	struct stat st;

	to_journal = !fstat(STDERR_FILENO, &st) &&
		  gf_notify_journal_match(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

void gf_notify_line(char *buf, size_t cap, int journal, int prio,
		    const char *fmt, va_list ap)
{
	int n = journal ? snprintf(buf, cap, "<%d>gpufas: ", prio)
			: snprintf(buf, cap, "gpufas: ");

	if (n >= 0 && (size_t)n < cap)
		vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
	n = (int)strlen(buf);
	if ((size_t)n + 1 >= cap) /* cut short: the newline still ends it */
		n = (int)cap - 2;
	buf[n] = '\n';
	buf[n + 1] = '\0';
}

/* One write a line, so that the agent's threads do not interleave. */
void gf_notify_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	gf_notify_line(line, sizeof line, to_journal, prio, fmt, ap);
	va_end(ap);
	fputs(line, stderr);
}
