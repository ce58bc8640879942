/* transport.h — the ways an agent and a viewer reach each other, as one
 * registered table (transport.c): each transport names its scheme (the
 * part of "tcp:ADDR:PORT" before the colon), whether it carries the
 * authenticated protocol, and its listener and connector. The protocol
 * (proto.c) and the viewer (view.c) find a transport by the spec alone
 * and know none by name. A leaf header: it includes nothing of gpufas.
 */
#ifndef GPUFAS_TRANSPORT_H
#define GPUFAS_TRANSPORT_H

#include <stddef.h>

struct gf_server;
struct gf_io;

struct gf_transport {
	const char *scheme;  /* "tcp" */
	const char *address; /* what follows the colon: "ADDR:PORT" */
	int protocol;        /* carries the protocol, which needs a key; else
				it only reads, for anyone (http) */
	/* Serves srv's agent on addr: GF_OK, or a GF_E* code and err. */
	int (*listen)(struct gf_server *srv, const char *addr, char *err,
		      size_t errlen);
	/* A viewer's connection to addr in *io, within timeout_s; NULL where
	 * viewers do not connect this way. */
	int (*connect)(struct gf_io *io, const char *addr, double timeout_s,
		       char *why, size_t whylen);
};

extern const struct gf_transport gf_transport_tcp, gf_transport_rdma,
	gf_transport_http;

/* The transport of spec ("SCHEME:ADDRESS"), *address pointing after its
 * colon; NULL where no transport has that scheme. */
const struct gf_transport *gf_transport_find(const char *spec,
					     const char **address);
/* "want tcp:ADDR:PORT, rdma:ADDR:PORT or http:ADDR:PORT": the specs of the
 * transports that listen, or (connecting) that viewers connect through. */
void gf_transport_want(int connecting, char *buf, size_t len);

#endif
