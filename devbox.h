/* devbox.h — the remote mailbox in GPU memory, answered by the GPU.
 *
 * GRASS's setting: while the agent's host process cannot run (stopped,
 * or its OS hung), a remote operator still reads heartbeats, the board,
 * the processes and the kernel log, and may signal, through a mailbox
 * that the GPU monitor serves from what its watch loop published. The
 * messages are the remote protocol's (proto.h): a 64-byte
 * header whose MAC is keyed BLAKE2b over header (mac zeroed) and payload,
 * a struct gf_request as payload, answers as proto.c gives them.
 *
 * One device allocation, the only one exported (cuIpcGetMemHandle, which
 * test/nic opens to play the NIC; no RDMA NIC registers it yet), laid out
 * as
 *   struct gf_devbox        header: magic, sizes, the key nonce, the last
 *                           accepted sequence number
 *   struct gf_req_area      at req_off: message, then `posted` (written
 *                           last: the request's number)
 *   response area           at resp_off, resp_size bytes:
 *                           begin mark | message | end mark, both marks
 *                           the posted number (as mailbox_post writes it)
 * The server's own state (struct gf_devbox_state) is in another
 * allocation, never exported: the layout, the counters and, per role, a
 * request key and an answer key, BLAKE2b(key=PSK, label | nonce) with a
 * fresh nonce per attach (auth_mailbox_keys, auth.c). There is no
 * handshake: a request is accepted when its MAC verifies under the
 * operator's request key or the read role's, and its sequence number is
 * above last_seq; the answer is MAC'ed with that role's answer key. A
 * request that fails any of this is answered "refused", status GF_EREFUSED,
 * with a zero MAC, and changes nothing.
 *
 * The server (devbox.c) is plain C that nvcc also compiles, like loop.c:
 * the GPU monitor's thread 0 calls it between watch-loop steps; the unit
 * tests call it on the CPU over host memory.
 */
#ifndef GPUFAS_DEVBOX_H
#define GPUFAS_DEVBOX_H

#include "board.h"
#include "loop.h"
#include "rdma.h"

#define GF_DEVBOX_MAGIC 0x42444647u /* "GFDB", little-endian */
#define GF_DEVBOX_VERSION 1
#define GF_DEVBOX_LOG 16384         /* a log answer's text, at most */

/* The exported header, for whoever opens the mailbox; the server writes
 * it and never reads it back (whoever can write the request area may be
 * able to write this too): its own copy is struct gf_devbox_state. */
struct gf_devbox {
	uint32_t magic, version;
	int32_t target;     /* the agent's number for the target served */
	uint32_t resp_size; /* bytes of the response area */
	uint64_t req_off, resp_off, size; /* from the header's start; size: all */
	uint64_t last_seq;  /* the newest accepted request's: the next must
			       be above (a viewer reads it to pick its own) */
	uint64_t served;    /* the newest posted number answered */
	uint8_t nonce[GF_NONCE_BYTES]; /* what the keys are derived with */
};

enum { GF_DEVBOX_OPERATOR, GF_DEVBOX_READ, GF_DEVBOX_ROLES };

/* An operator's signal posted to the guest's in-OS helper, answered once
 * the helper has (or, after GF_DEVBOX_HELPER_WAIT_S, written as a
 * pseudo-signal): the request as accepted, and what it was for. */
#define GF_DEVBOX_HELPER_WAIT_S 0.2 /* the helper polls every 8 ms */
struct gf_devbox_wait {
	uint32_t active;
	int32_t role;
	uint64_t number;    /* the request's posted number */
	uint32_t helper_seq;
	double posted;      /* the loop's clock */
	struct gf_msg_hdr h;
	struct gf_request body;
	struct gf_task task;
};

/* What the server goes by, in memory no one else can reach (on the GPU:
 * an allocation that is not exported): the layout, the keys, and where
 * the conversation stands. */
struct gf_devbox_state {
	struct gf_devbox layout; /* as the header was written at init */
	uint8_t request[GF_DEVBOX_ROLES][GF_KEY_BYTES];
	uint8_t answer[GF_DEVBOX_ROLES][GF_KEY_BYTES];
	uint32_t has[GF_DEVBOX_ROLES];
	uint64_t last_seq, served;
	struct gf_devbox_wait wait;
};

/* The host's latest board, for the fields the GPU does not publish
 * (target, release, engine, sparklines, the event log): two copies, the
 * host writing the one gen does not point at and then advancing gen, so
 * that a host stopped mid-write leaves the other whole. clock_offset
 * turns the loop's clock into wall-clock seconds (struct gf_engine's). */
struct gf_devbox_board {
	uint64_t gen;
	double clock_offset;
	struct gf_board b[2];
};

/* The allocation's size for a loop of task_cap processes. */
GF_HD uint64_t gf_devbox_size(uint32_t task_cap);
/* Lays out a mailbox: its header (to be copied to the allocation's
 * start, whose response area's begin mark must read 0) and the server's
 * state, keys not yet set (has[] 0). */
GF_HD void gf_devbox_init(struct gf_devbox *box, struct gf_devbox_state *st,
			  int32_t target, uint32_t task_cap,
			  const uint8_t nonce[GF_NONCE_BYTES]);

/* The host's side of the template: b written into the copy not in use. */
void gf_devbox_board_put(struct gf_devbox_board *t, const struct gf_board *b,
			 double clock_offset);

/* Serves the request posted in the mailbox at mem since the last, if
 * any: 1 if one was answered, 0 if none waits or the one taken waits for
 * the in-OS helper (k->helper), whose answer a later call gives. l and
 * pub are the watch
 * loop and its publication, stable for the call (the GPU calls this
 * between steps; an operator's signal becomes a loop event at `now`, the
 * loop's clock); k is the target, for the log and signals; tmpl may be
 * NULL (no board yet). */
GF_HD_OUTLINE int gf_devbox_serve(uint8_t *mem, struct gf_devbox_state *st,
				  struct gf_loop *l, struct gf_pub *pub,
				  const struct gf_devbox_board *tmpl,
				  const struct gf_kernel *k, double now);

#endif
