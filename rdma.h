/* rdma.h — the GRASS mailbox: the memory layout through which a viewer
 * talks to an agent with one-sided RDMA (rdma.c registers it and serves
 * it; devbox.c serves the same layout from GPU memory), and its framing
 * functions (rdma.c). The transport itself is gf_transport_rdma
 * (transport.h). Plain data and declarations: devbox.h, compiled for the
 * GPU too, includes it.
 */
#ifndef GPUFAS_RDMA_H
#define GPUFAS_RDMA_H

#include "proto.h"

/* The request area (remote-writable) holds one request, written whole by
 * one RDMA WRITE whose last 8 bytes are the request number (the
 * write-done flag). The response area (remote-readable only) holds
 * begin mark | message | end mark, both marks the answer's number: the
 * monitor writes the message and the end mark, then the begin mark; a
 * viewer whose read finds the marks unequal read a torn answer, and
 * reads again. The viewer never writes the response area: a new request
 * number is the "I have read it". */
#define GF_SLOT_MSG (sizeof(struct gf_msg_hdr) + sizeof(struct gf_request))
struct gf_req_area {
	uint8_t msg[GF_SLOT_MSG];
	uint64_t posted; /* the write-done flag: the request's number */
};
#define GF_RESP_AREA (8 + sizeof(struct gf_msg_hdr) + GF_MAX_PAYLOAD + 8)
#define GF_WIRE_MAGIC 0x57524647u /* "GFRW" */

/* What the agent tells a viewer in rdma_cm's private data on accept. */
struct gf_wire {
	uint32_t magic, version;
	uint64_t req_addr, resp_addr;
	uint32_t req_rkey, resp_rkey;
	uint64_t resp_size;
};

int mailbox_take(volatile struct gf_req_area *req, uint64_t number,
		 struct gf_buf *out);
void mailbox_post(uint8_t *resp, uint64_t number, const struct gf_buf *msg);
int mailbox_answer(const uint8_t *got, size_t len, uint64_t number,
		   uint32_t max, size_t *need, char *why, size_t whylen);

#endif
