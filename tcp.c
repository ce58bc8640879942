/* tcp.c — the remote protocol over a TCP stream, for hosts without an
 * RDMA NIC (a hypervisor watching its guests): the agent's listener, one
 * thread per session, and the viewer's connection.
 *
 * Messages are sent whole, header then payload; a receiver reads the
 * fixed header first and checks it (magic, version, board size, length
 * against what it expects) before it reads a byte of payload, so a hostile
 * length costs nothing. Every wait is bounded: a message must arrive whole
 * within GF_MSG_S of its first byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "gpufas.h"
#include "proto.h"
#include "tcp.h"
#include "transport.h"

#define BACKLOG 64
#define ACCEPT_POLL_MS 250

/* ---- One connection: a gf_io over a socket ---- */

struct conn {
	struct gf_server *srv; /* the agent's side; NULL for the viewer */
	int fd;
	struct gf_io io;
};

static int ms_until(double deadline)
{
	double left = deadline - gf_now_monotonic();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* Waits for fd to be ready for events before deadline: 1 ready, 0 not. */
int tcp_wait(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, ms_until(deadline));
	while (n < 0 && errno == EINTR);
	return n > 0;
}

/* All of p, sent before deadline: GF_OK or GF_EFAULT. */
int tcp_send_all(int fd, const void *p, size_t len, double deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const uint8_t *)p + done, len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN && tcp_wait(fd, POLLOUT, deadline))
			continue;
		else
			return GF_EFAULT;
	}
	return GF_OK;
}

static int conn_send(void *ctx, const struct gf_buf *b)
{
	struct conn *c = ctx;

	return tcp_send_all(c->fd, b->data, b->len, gf_now_monotonic() + GF_MSG_S);
}

/* Reads exactly len bytes before deadline. */
static int read_exact(int fd, uint8_t *p, size_t len, double deadline,
		      char *why, size_t whylen)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, p + done, len - done, MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0) {
			snprintf(why, whylen, "connection closed by the peer");
			return GF_EFAULT;
		} else if (errno == EINTR) {
			continue;
		} else if (errno != EAGAIN) {
			snprintf(why, whylen, "%s", strerror(errno));
			return GF_EFAULT;
		} else if (!tcp_wait(fd, POLLIN, deadline)) {
			snprintf(why, whylen, "%s within %.0f s", done ? "a message cut short"
				 : "no message", GF_MSG_S);
			return done ? GF_EINVAL : GF_EBUSY;
		}
	}
	return GF_OK;
}

static int conn_recv(void *ctx, struct gf_buf *b, uint32_t max, double timeout_s,
		     char *why, size_t whylen)
{
	struct conn *c = ctx;
	struct gf_msg_hdr h;
	double deadline;
	int rc;

	b->len = 0;
	if (!tcp_wait(c->fd, POLLIN, gf_now_monotonic() + timeout_s))
		return GF_EBUSY;
	deadline = gf_now_monotonic() + GF_MSG_S;
	if ((rc = read_exact(c->fd, (uint8_t *)&h, sizeof h, deadline, why, whylen)))
		return rc == GF_EBUSY ? GF_EINVAL : rc;
	if ((rc = msg_check_header(&h, why, whylen)))
		return rc;
	if (h.length > max - sizeof h) {
		snprintf(why, whylen, "a %s message of %u bytes (at most %zu here)",
			 msg_type_name(h.type), h.length, max - sizeof h);
		return GF_EINVAL;
	}
	if ((rc = gf_buf_reserve(b, sizeof h + h.length))) {
		snprintf(why, whylen, "out of memory");
		return rc;
	}
	memcpy(b->data, &h, sizeof h);
	rc = read_exact(c->fd, b->data + sizeof h, h.length, deadline, why, whylen);
	if (rc)
		return rc == GF_EBUSY ? GF_EINVAL : rc;
	b->len = sizeof h + h.length;
	return GF_OK;
}

static void conn_close(void *ctx)
{
	struct conn *c = ctx;

	close(c->fd);
	free(c);
}

static struct conn *conn_new(struct gf_server *srv, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	int one = 1;

	if (!c)
		return NULL;
	/* requests and answers are single small writes: no Nagle delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	*c = (struct conn){ .srv = srv, .fd = fd };
	c->io = (struct gf_io){ .send = conn_send, .recv = conn_recv,
				.close = conn_close, .ctx = c };
	return c;
}

/* ---- Addresses ---- */

int tcp_resolve(const char *spec, int family, int passive,
		struct addrinfo **out, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	char host[128];
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon ? (size_t)(colon - spec) : 0;
	int rc;

	if (!colon || !colon[1] || hlen >= sizeof host) {
		snprintf(why, whylen, "want ADDR:PORT, not '%s'", spec);
		return GF_EINVAL;
	}
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	memcpy(host, spec, hlen);
	host[hlen] = 0;
	if ((rc = getaddrinfo(host, colon + 1, &hints, out))) {
		snprintf(why, whylen, "%s: %s", host, gai_strerror(rc));
		return GF_EINVAL;
	}
	return GF_OK;
}

static void peer_name(const struct sockaddr_storage *sa, socklen_t len,
		      char *out, size_t outlen)
{
	char host[64], port[16];

	if (getnameinfo((const struct sockaddr *)sa, len, host, sizeof host, port,
			sizeof port, NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, outlen, "tcp:?");
	else
		snprintf(out, outlen, "tcp:%s:%s", host, port);
}

/* ---- The agent's listener ---- */

struct listener {
	struct gf_server *srv;
	int fd;
	tcp_session_fn session;
};

struct accepted {
	struct gf_server *srv;
	int fd;
	tcp_session_fn session;
	char peer[96];
};

static void *accepted_thread(void *arg)
{
	struct accepted a = *(struct accepted *)arg;

	free(arg);
	a.session(a.srv, a.fd, a.peer);
	return NULL;
}

/* An admitted connection, served in a thread of its own. */
static void start_session(const struct listener *l, int fd, const char *peer)
{
	struct accepted *a;
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;

	if (!server_admit(l->srv, peer)) {
		close(fd);
		return;
	}
	if ((a = malloc(sizeof *a))) {
		*a = (struct accepted){ .srv = l->srv, .fd = fd, .session = l->session };
		snprintf(a->peer, sizeof a->peer, "%s", peer);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, accepted_thread, a);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		remote_log(peer, "dropped: cannot start a session thread");
		free(a);
		close(fd);
		server_release(l->srv);
	}
}

static void *accept_loop(void *arg)
{
	struct listener *l = arg;

	while (!server_stopping(l->srv)) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		char peer[96];
		int fd;

		if (!tcp_wait(l->fd, POLLIN, gf_now_monotonic() + ACCEPT_POLL_MS / 1000.0))
			continue;
		fd = accept4(l->fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* the peer gave up, or out of descriptors: next */
		peer_name(&sa, len, peer, sizeof peer);
		start_session(l, fd, peer);
	}
	close(l->fd);
	free(l);
	return NULL;
}

/* A socket bound to the first address that takes it, listening: its fd,
 * or -1 with why. */
static int bind_first(const struct addrinfo *ai, char *why, size_t whylen)
{
	int one = 1, fd = -1;

	for (; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, BACKLOG))
			return fd;
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

int tcp_serve(struct gf_server *srv, const char *addr, tcp_session_fn session,
	      char *err, size_t errlen)
{
	struct addrinfo *ai;
	struct listener *l;
	int fd, rc;

	if ((rc = tcp_resolve(addr, AF_UNSPEC, 1, &ai, err, errlen)))
		return rc;
	snprintf(err, errlen, "no address to listen on");
	fd = bind_first(ai, err, errlen);
	freeaddrinfo(ai);
	if (fd < 0)
		return GF_EIO;
	if (!(l = malloc(sizeof *l))) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return GF_ENOMEM;
	}
	*l = (struct listener){ .srv = srv, .fd = fd, .session = session };
	if ((rc = server_add_listener(srv, accept_loop, l, err, errlen))) {
		close(fd);
		free(l);
		return rc;
	}
	return GF_OK;
}

/* A protocol session (proto.c) over the connection. */
static void proto_session(struct gf_server *srv, int fd, const char *peer)
{
	struct conn *c = conn_new(srv, fd);

	if (!c) {
		remote_log(peer, "dropped: out of memory");
		close(fd);
		server_release(srv);
		return;
	}
	snprintf(c->io.peer, sizeof c->io.peer, "%s", peer);
	server_session(srv, &c->io);
}

static int tcp_listen(struct gf_server *srv, const char *addr, char *err,
		      size_t errlen)
{
	return tcp_serve(srv, addr, proto_session, err, errlen);
}

/* ---- The viewer's connection ---- */

/* A non-blocking connect that gives up at the deadline: the fd, or -1
 * with why. */
static int connect_by(const struct addrinfo *ai, double deadline, char *why,
		      size_t whylen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t len = sizeof err;

	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
		err = errno;
	else if (!tcp_wait(fd, POLLOUT, deadline))
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		snprintf(why, whylen, "%s", strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

static int tcp_connect(struct gf_io *io, const char *addr, double timeout_s,
		       char *why, size_t whylen)
{
	double deadline = gf_now_monotonic() + timeout_s;
	struct addrinfo *ai, *a;
	struct conn *c;
	int fd = -1, rc;

	if ((rc = tcp_resolve(addr, AF_UNSPEC, 0, &ai, why, whylen)))
		return rc;
	for (a = ai; a && fd < 0; a = a->ai_next)
		fd = connect_by(a, deadline, why, whylen);
	freeaddrinfo(ai);
	if (fd < 0)
		return GF_EFAULT;
	if (!(c = conn_new(NULL, fd))) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return GF_ENOMEM;
	}
	*io = c->io;
	snprintf(io->peer, sizeof io->peer, "tcp:%s", addr);
	return GF_OK;
}

const struct gf_transport gf_transport_tcp = {
	.scheme = "tcp", .address = "ADDR:PORT", .protocol = 1,
	.listen = tcp_listen, .connect = tcp_connect,
};
