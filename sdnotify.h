/* sdnotify.h — systemd's side channels, without libsystemd: the service
 * notification protocol (sd_notify(3): one datagram of NAME=value lines
 * to $NOTIFY_SOCKET) and the journal's priority prefixes on stderr
 * (sd-daemon(3): "<3>" before a line, when $JOURNAL_STREAM says stderr
 * is the journal). Both are documented by systemd for reimplementation.
 */
#ifndef GPUFAS_SDNOTIFY_H
#define GPUFAS_SDNOTIFY_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO */

/* $NOTIFY_SOCKET's address: a path ("/run/...") or an abstract name
 * ("@name"). GF_OK, or GF_EINVAL for anything else (vsock: is not
 * supported). */
int gf_notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len);
/* Sends state ("READY=1", "STATUS=...") to $NOTIFY_SOCKET: 1 sent, 0 not
 * under a service manager, else a GF_E*: GF_EINVAL (no address we
 * support) or GF_EIO (it could not be sent). */
int gf_notify(const char *state);
/* The watchdog's ping period in seconds, half of $WATCHDOG_USEC, when it
 * is set and meant for process self ($WATCHDOG_PID absent or self); else 0. */
double gf_notify_watchdog_s(const char *usec, const char *pid, long self);
/* Whether $JOURNAL_STREAM ("DEV:INO") names this device and inode. */
int gf_notify_journal_match(const char *stream, unsigned long long dev,
			    unsigned long long ino);

/* stderr's lines, "gpufas: " and the message, with the priority prefix
 * when stderr was the journal at gf_notify_log_init(). */
void gf_notify_log_init(void);
void gf_notify_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One such line into buf (always terminated, with its newline). */
void gf_notify_line(char *buf, size_t cap, int journal, int prio,
		    const char *fmt, va_list ap);

#endif
