/* transport.c — the table of transports (transport.h), in one place: a new
 * transport is a struct gf_transport in its own file, and a line here. */
#include <stdio.h>
#include <string.h>

#include "transport.h"

static const struct gf_transport *const transports[] = {
	&gf_transport_tcp,
	&gf_transport_rdma,
	&gf_transport_http,
};
#define NTRANSPORTS (sizeof transports / sizeof transports[0])

const struct gf_transport *gf_transport_find(const char *spec,
					     const char **address)
{
	for (size_t i = 0; i < NTRANSPORTS; i++) {
		size_t n = strlen(transports[i]->scheme);
		if (!strncmp(spec, transports[i]->scheme, n) && spec[n] == ':') {
			*address = spec + n + 1;
			return transports[i];
		}
	}
	return NULL;
}

void gf_transport_want(int connecting, char *buf, size_t len)
{
	const struct gf_transport *t[NTRANSPORTS];
	size_t n = 0, at;

	for (size_t i = 0; i < NTRANSPORTS; i++)
		if (!connecting || transports[i]->connect)
			t[n++] = transports[i];
	at = (size_t)snprintf(buf, len, "want");
	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s:%s",
				       !i ? " " : i + 1 < n ? ", " : " or ",
				       t[i]->scheme, t[i]->address);
}
