/* proto.h — the remote protocol (proto.c): its messages, sessions and
 * keys as the wire carries them, answering a request, and the agent's
 * server that every transport feeds. See README.md, "Remote".
 */
#ifndef GPUFAS_PROTO_H
#define GPUFAS_PROTO_H

#include <stddef.h>
#include <string.h>

#include "board.h"
#include "gpufas.h"

struct gf_remote;
struct hub;

#define GF_PROTO_MAGIC 0x4d524647u /* "GFRM", little-endian */
#define GF_PROTO_VERSION 1
#define GF_KEY_BYTES 32
#define GF_NONCE_BYTES 32
#define GF_MAC_BYTES 32            /* keyed BLAKE2b (crypto_generichash) */
#define GF_MAX_PAYLOAD (16u << 20) /* any longer message is refused */

#define GF_REMOTE_MSG 256          /* an error's text */

enum gf_msg_type {
	GF_MSG_CHALLENGE = 1, /* agent: its nonce (handshake, no MAC) */
	GF_MSG_PROOF,         /* viewer: its nonce; MAC with the shared key */
	GF_MSG_WELCOME,       /* agent: role and targets; session MAC */
	GF_MSG_HEARTBEAT,     /* the rest: session MAC, one sequence number */
	GF_MSG_SNAPSHOT,
	GF_MSG_PS,
	GF_MSG_LOG,
	GF_MSG_DETECT,
	GF_MSG_SIGNAL,
	GF_MSG_TYPES,
	GF_MSG_ANSWER = 0x8000, /* or'ed into an answer's type */
};

/* Every message: this header, then length bytes of payload. The MAC
 * covers the header (with mac zeroed) and the payload. */
struct gf_msg_hdr {
	uint32_t magic;
	uint16_t version, type;
	uint32_t board_size; /* sizeof(struct gf_board) of the sender's build */
	uint32_t length;     /* payload bytes */
	uint64_t seq;        /* the request's number; its answer repeats it */
	int32_t status;      /* answers: GF_OK, or GF_E* with text as payload */
	int32_t target;      /* requests: which of the agent's targets */
	uint8_t mac[GF_MAC_BYTES];
};

/* What msg_check_header() checks, for the GPU's mailbox server too
 * (devbox.c): GF_HDR_OK, or the first field that is wrong. */
enum { GF_HDR_OK, GF_HDR_MAGIC, GF_HDR_VERSION, GF_HDR_BOARD, GF_HDR_LENGTH };

GF_HD static inline int gf_msg_hdr_fault(const struct gf_msg_hdr *h)
{
	if (h->magic != GF_PROTO_MAGIC)
		return GF_HDR_MAGIC;
	if (h->version != GF_PROTO_VERSION)
		return GF_HDR_VERSION;
	if (h->board_size != sizeof(struct gf_board))
		return GF_HDR_BOARD;
	return h->length > GF_MAX_PAYLOAD ? GF_HDR_LENGTH : GF_HDR_OK;
}

/* A header as every sender fills it, mac zeroed. */
GF_HD static inline void gf_msg_hdr_init(struct gf_msg_hdr *h, uint16_t type,
					 uint64_t seq, int32_t target,
					 int32_t status, uint32_t length)
{
	memset(h, 0, sizeof *h);
	h->magic = GF_PROTO_MAGIC;
	h->version = GF_PROTO_VERSION;
	h->type = type;
	h->board_size = sizeof(struct gf_board);
	h->length = length;
	h->seq = seq;
	h->status = status;
	h->target = target;
}

/* A request's payload (every request type: one fixed size). */
struct gf_request {
	int32_t pid, sig;     /* signal */
	uint32_t arg;         /* log: records; detect: the class */
	uint32_t reserved;
	uint64_t start_time;  /* signal: the process seen, 0: any */
	uint64_t beat;        /* heartbeat: the viewer's counter, echoed */
};

struct gf_beat {
	uint64_t beat;   /* the request's, echoed */
	uint64_t rounds; /* the agent loop's rounds: stops if the loop hangs */
};

struct gf_welcome {
	uint32_t role; /* GF_ROLE_* */
	uint32_t ntargets;
};

struct gf_ps_head {
	uint32_t count, total; /* tasks that follow; the target has total */
};

enum { GF_ROLE_READ = 1, GF_ROLE_OPERATOR = 2 };

/* A growable message buffer: header, then payload. */
struct gf_buf {
	uint8_t *data;
	size_t len, cap;
};

/* One authenticated session: a key each way, derived from the pre-shared
 * key and both nonces, and the last sequence number. */
struct gf_session {
	uint8_t tx_key[GF_KEY_BYTES], rx_key[GF_KEY_BYTES];
	uint64_t seq;
	uint32_t role, ntargets;
};

struct gf_keys {
	uint8_t operator_key[GF_KEY_BYTES], read_key[GF_KEY_BYTES];
	int has_operator, has_read;
};

/* proto.c: messages, the mailbox, and answering a request */
int gf_buf_reserve(struct gf_buf *b, size_t len);
void gf_buf_free(struct gf_buf *b);
void *msg_start(struct gf_buf *b, uint16_t type, uint64_t seq, int32_t target,
		int32_t status, uint32_t length);
void msg_text(struct gf_buf *b, uint16_t type, uint64_t seq, int status,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int msg_check_header(const struct gf_msg_hdr *h, char *why, size_t len);
const char *msg_type_name(uint16_t type);
struct hub;
void proto_answer(struct hub *hub, const struct gf_session *s,
		  const struct gf_msg_hdr *req, const struct gf_request *body,
		  struct gf_buf *out);
int proto_answer_check(const struct gf_msg_hdr *h, uint16_t type,
		       uint32_t min, char *why, size_t len);

/* One connection as a transport moves whole messages over it; the
 * sessions above see no other difference between TCP and RDMA. recv
 * waits up to timeout_s for a message to begin, then for the rest of it
 * within GF_MSG_S; it returns GF_OK, GF_EBUSY (nothing came), GF_EFAULT
 * (closed, reset, completion error), GF_EINVAL (malformed, too long) or
 * GF_ENOMEM. */
#define GF_MSG_S 5.0
struct gf_io {
	int (*send)(void *ctx, const struct gf_buf *b);
	int (*recv)(void *ctx, struct gf_buf *b, uint32_t max, double timeout_s,
		    char *why, size_t whylen);
	void (*close)(void *ctx);
	void *ctx;
	char peer[96];
};

/* proto.c: the agent's server, shared by its transports */
struct gf_server;
struct gf_server *server_start(struct hub *hub, const struct gf_remote *r,
			       char *err, size_t errlen);
void server_stop(struct gf_server *srv);
int server_stopping(const struct gf_server *srv);
struct hub *server_hub(const struct gf_server *srv);
int server_add_listener(struct gf_server *srv, void *(*fn)(void *),
			void *arg, char *err, size_t errlen);
int server_admit(struct gf_server *srv, const char *peer);
void server_release(struct gf_server *srv);
void server_session(struct gf_server *srv, struct gf_io *io);
void remote_log(const char *peer, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
