/* tcp.h — the protocol over TCP (tcp.c), and its helpers that other
 * transports use.
 */
#ifndef GPUFAS_TCP_H
#define GPUFAS_TCP_H

#include <stddef.h>

struct gf_server;

/* tcp.c's listener for another protocol (http.c): session runs each
 * admitted connection in a thread of its own, then closes fd and gives
 * its place back (server_release). */
typedef void (*tcp_session_fn)(struct gf_server *srv, int fd, const char *peer);
int tcp_serve(struct gf_server *srv, const char *addr, tcp_session_fn session,
	      char *err, size_t errlen);
int tcp_wait(int fd, short events, double deadline);
/* "HOST:PORT" or "[V6]:PORT" into getaddrinfo's results of that family
 * (AF_UNSPEC, or AF_INET where rdma_cm is only used over IPv4). */
struct addrinfo;
int tcp_resolve(const char *spec, int family, int passive,
		struct addrinfo **out, char *why, size_t whylen);
int tcp_send_all(int fd, const void *p, size_t len, double deadline);

#endif
