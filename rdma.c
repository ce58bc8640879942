/* rdma.c — the GRASS mailbox over one-sided RDMA (in progress). */
#include <stdio.h>

#include "gpufas.h"

int rdma_listen(struct gf_server *srv, const char *addr, char *err,
		size_t errlen)
{
	(void)srv;
	(void)addr;
	snprintf(err, errlen, "RDMA is not built yet");
	return GF_EINVAL;
}

int rdma_connect(struct gf_io *io, const char *addr, double timeout_s,
		 char *why, size_t whylen)
{
	(void)io;
	(void)addr;
	(void)timeout_s;
	snprintf(why, whylen, "RDMA is not built yet");
	return GF_EINVAL;
}
