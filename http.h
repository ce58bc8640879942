/* http.h — the agent's Prometheus endpoint (http.c): GET /metrics, over
 * HTTP/1.1 with one request per connection, for anyone who connects
 * (it only reads). Every request is bounded in size, header count and
 * time, since a peer may be hostile. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#define HTTP_MAX_REQUEST 8192 /* request line and headers, in bytes */
#define HTTP_MAX_HEADERS 64
#define HTTP_READ_S 5.0       /* the whole request, from the connection */

struct gf_server;

/* A request's head, as far as the endpoint cares. */
struct http_request {
	char method[16];
	char path[128];
};

/* The head in buf[0..len): GF_OK once it is whole (its blank line seen),
 * GF_EBUSY while more may come, GF_EINVAL if malformed, GF_ENOSPC if it
 * has too many headers or a field too long for http_request. */
int http_parse(const char *buf, size_t len, struct http_request *r);
/* The status and reason answering r: 200, 404 or 405. The listener is
 * gf_transport_http (transport.h). */
int http_status(const struct http_request *r, const char **reason);

#endif
