/* auth.h — keys, the handshake and every message's MAC (auth.c,
 * libsodium).
 */
#ifndef GPUFAS_AUTH_H
#define GPUFAS_AUTH_H

#include <stddef.h>

#include "proto.h"

struct gf_remote;

int auth_init(void);
int auth_key_load(const char *path, uint8_t key[GF_KEY_BYTES], char *err,
	     size_t errlen);
int auth_keys_load(struct gf_keys *k, const struct gf_remote *r, char *err,
	      size_t errlen);
void auth_keys_wipe(struct gf_keys *k);
void auth_challenge(struct gf_buf *out, uint8_t nonce[GF_NONCE_BYTES]);
void auth_proof(struct gf_buf *out, const uint8_t key[GF_KEY_BYTES],
		const uint8_t server_nonce[GF_NONCE_BYTES],
		struct gf_session *s);
int auth_accept(const struct gf_keys *k, uint8_t *msg, size_t len,
		const uint8_t server_nonce[GF_NONCE_BYTES],
		struct gf_session *s, char *why, size_t whylen);
void auth_seal(const struct gf_session *s, struct gf_buf *b);
int auth_open(struct gf_session *s, uint8_t *msg, size_t len,
	      int request, char *why, size_t whylen);
void auth_mailbox_keys(const uint8_t psk[GF_KEY_BYTES],
		       const uint8_t nonce[GF_NONCE_BYTES],
		       uint8_t request[GF_KEY_BYTES], uint8_t answer[GF_KEY_BYTES]);
void auth_nonce(uint8_t nonce[GF_NONCE_BYTES]);

#endif
