/* http.c — the Prometheus endpoint: GET /metrics over HTTP/1.1, one
 * request per connection (Connection: close), answered with prom.c's
 * exposition of the hub's copies. It never touches a watch or guest
 * memory, so a scrape cannot hold up the agent's loop.
 *
 * A peer may be hostile: the request's head must arrive whole, within
 * HTTP_MAX_REQUEST bytes and HTTP_MAX_HEADERS lines, within HTTP_READ_S
 * of the connection; anything else is answered 400, 408 or 431 and
 * closed. Connections count against [remote] max_clients with the
 * protocol's sessions (tcp.c admits them). A body is never read: what a
 * peer sends after its head is drained, bounded, after the answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "gpufas.h"
#include "http.h"
#include "prom.h"
#include "proto.h"
#include "tcp.h"
#include "transport.h"

#define POLL_S 0.25       /* how often a waiting session looks at the stop flag */
#define WRITE_S 5.0       /* the answer, sent whole */
#define DRAIN_S 1.0       /* what the peer sent beyond its head, read and */
#define DRAIN_MAX 65536   /* dropped, so that closing does not reset the answer */

/* ---- The request's head ---- */

/* The request line, "METHOD SP PATH SP HTTP/1.x", into r. */
static int request_line(const char *p, size_t len, struct http_request *r)
{
	const char *sp1 = memchr(p, ' ', len), *sp2;
	size_t mlen, plen;

	if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p))))
		return GF_EINVAL;
	mlen = (size_t)(sp1 - p);
	plen = (size_t)(sp2 - sp1 - 1);
	if (!mlen || !plen || sp1[1] != '/')
		return GF_EINVAL;
	if (mlen >= sizeof r->method || plen >= sizeof r->path)
		return GF_ENOSPC;
	for (size_t i = 0; i < mlen; i++)
		if (p[i] < 'A' || p[i] > 'Z')
			return GF_EINVAL;
	for (size_t i = 0; i < plen; i++)
		if (sp1[1 + i] <= ' ' || sp1[1 + i] > '~')
			return GF_EINVAL;
	if ((size_t)(p + len - sp2 - 1) != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) && memcmp(sp2 + 1, "HTTP/1.0", 8)))
		return GF_EINVAL;
	memcpy(r->method, p, mlen);
	r->method[mlen] = 0;
	memcpy(r->path, sp1 + 1, plen);
	r->path[plen] = 0;
	return GF_OK;
}

/* A header line: a name of visible characters, then a colon. */
static int header_line(const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);

	if (!colon || colon == p)
		return GF_EINVAL;
	for (const char *c = p; c < colon; c++)
		if (*c <= ' ' || *c > '~')
			return GF_EINVAL;
	return GF_OK;
}

int http_parse(const char *buf, size_t len, struct http_request *r)
{
	size_t start = 0, lines = 0;

	for (size_t i = 0; i < len; i++) {
		size_t n;
		int rc;
		if (!buf[i])
			return GF_EINVAL;
		if (buf[i] != '\n')
			continue;
		n = i - start - (i > start && buf[i - 1] == '\r');
		if (!n) /* the blank line: the head is whole */
			return lines ? GF_OK : GF_EINVAL;
		if (++lines > HTTP_MAX_HEADERS + 1)
			return GF_ENOSPC;
		rc = lines == 1 ? request_line(buf + start, n, r)
				: header_line(buf + start, n);
		if (rc)
			return rc;
		start = i + 1;
	}
	return len >= HTTP_MAX_REQUEST ? GF_ENOSPC : GF_EBUSY;
}

int http_status(const struct http_request *r, const char **reason)
{
	size_t plen = strcspn(r->path, "?");

	if (plen != strlen("/metrics") || strncmp(r->path, "/metrics", plen)) {
		*reason = "Not Found";
		return 404;
	}
	if (strcmp(r->method, "GET")) {
		*reason = "Method Not Allowed";
		return 405;
	}
	*reason = "OK";
	return 200;
}

/* ---- One connection ---- */

/* Reads the head before HTTP_READ_S is up: http_parse()'s answer, or
 * GF_EBUSY when time ran out, GF_EFAULT when the peer closed or the agent
 * stops. */
static int read_head(struct gf_server *srv, int fd, char *buf,
		     struct http_request *r)
{
	double deadline = gf_now_monotonic() + HTTP_READ_S;
	size_t len = 0;

	while (gf_now_monotonic() < deadline) {
		double slice = gf_now_monotonic() + POLL_S;
		ssize_t n;
		int rc;
		if (server_stopping(srv))
			return GF_EFAULT;
		if (!tcp_wait(fd, POLLIN, slice < deadline ? slice : deadline))
			continue;
		n = recv(fd, buf + len, HTTP_MAX_REQUEST - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return GF_EFAULT;
		len += (size_t)n;
		if ((rc = http_parse(buf, len, r)) != GF_EBUSY)
			return rc;
	}
	return GF_EBUSY;
}

static void answer(int fd, int status, const char *reason, const char *type,
		   const char *body, size_t len)
{
	double deadline = gf_now_monotonic() + WRITE_S;
	char head[256];
	int n;

	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
		     reason, type, len, status == 405 ? "Allow: GET\r\n" : "");
	if (!tcp_send_all(fd, head, (size_t)n, deadline))
		tcp_send_all(fd, body, len, deadline);
}

static void answer_text(int fd, int status, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%s\n", reason);

	answer(fd, status, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

static void answer_metrics(struct gf_server *srv, int fd)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = f ? prom_hub(f, server_hub(srv)) : GF_ENOMEM;

	if (f && fclose(f)) /* a memory stream: out of memory */
		rc = GF_ENOMEM;
	if (rc)
		answer_text(fd, 500, "Internal Server Error");
	else
		answer(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
		       text, len);
	free(text);
}

/* Shuts our side, then drops what the peer still sends, bounded. */
static void finish(int fd)
{
	double deadline = gf_now_monotonic() + DRAIN_S;
	char sink[4096];
	size_t dropped = 0;

	shutdown(fd, SHUT_WR);
	while (dropped < DRAIN_MAX && tcp_wait(fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
			break;
		if (n > 0)
			dropped += (size_t)n;
	}
	close(fd);
}

static void session(struct gf_server *srv, int fd, const char *peer)
{
	static const struct { int rc, status; const char *reason; } refusals[] = {
		{ GF_EINVAL, 400, "Bad Request" },
		{ GF_EBUSY, 408, "Request Timeout" },
		{ GF_ENOSPC, 431, "Request Header Fields Too Large" },
	};
	char *buf = malloc(HTTP_MAX_REQUEST);
	struct http_request r;
	const char *reason;
	int rc = buf ? read_head(srv, fd, buf, &r) : GF_ENOMEM;

	if (rc == GF_OK) {
		int status = http_status(&r, &reason);
		if (status == 200)
			answer_metrics(srv, fd);
		else
			answer_text(fd, status, reason);
	}
	for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++)
		if (rc == refusals[i].rc) {
			remote_log(peer, "http: %d %s", refusals[i].status,
				   refusals[i].reason);
			answer_text(fd, refusals[i].status, refusals[i].reason);
		}
	free(buf);
	finish(fd);
	server_release(srv);
}

static int http_listen(struct gf_server *srv, const char *addr, char *err,
		       size_t errlen)
{
	return tcp_serve(srv, addr, session, err, errlen);
}

const struct gf_transport gf_transport_http = {
	.scheme = "http", .address = "ADDR:PORT", .protocol = 0,
	.listen = http_listen, .connect = NULL,
};
