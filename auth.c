/* auth.c — who may talk to the agent, and proof that every message is
 * theirs (libsodium, linked statically; nothing hand-written).
 *
 * Keys are pre-shared: 32 random bytes as 64 hex digits in a file that
 * only its owner may read (a key any other user can read is refused). The
 * agent holds an operator key and/or a read-only key; a viewer holds one.
 *
 * The handshake, in three messages:
 *   agent  -> viewer  CHALLENGE  sn, 32 fresh random bytes
 *   viewer -> agent   PROOF      cn, 32 fresh random bytes; MAC with
 *                                K_proof = BLAKE2b(key=PSK, "gpufas proof" | sn | cn)
 *   agent  -> viewer  WELCOME    role, targets; MAC with the agent's
 *                                session key (proves the agent holds PSK)
 * The agent tries its operator key, then its read-only key: the one that
 * verifies gives the session's role. Session keys, one per direction:
 * BLAKE2b(key=PSK, "gpufas c2s" | sn | cn) and "gpufas s2c"; every later
 * message is MAC'ed over its header, which holds its sequence number, and
 * its payload. The MAC is keyed BLAKE2b (crypto_generichash with a key,
 * BLAKE2's own MAC mode), 32 bytes: three times as fast as HMAC-SHA-512
 * (crypto_auth) here, which took 100 us of a 28 KB snapshot's round trip
 * at each end. Requests must come numbered
 * 1, 2, 3, ...; an answer must repeat its request's number. A replayed,
 * reordered, reflected (the other direction's key) or altered message
 * fails, and the connection is dropped. Fresh nonces on both sides make a
 * recorded session worthless in the next one. Confidentiality is not
 * provided: snapshots travel in clear (see README.md).
 *
 * The GPU's mailbox (devbox.h) has no handshake: see auth_mailbox_keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "config.h"
#include "gpufas.h"
#include "proto.h"

#define KEY_FILE_MAX 256 /* 64 hex digits, a newline, and some slack */

/* GF_OK, or GF_EIO: libsodium found no source of randomness. */
int auth_init(void)
{
	return sodium_init() < 0 ? GF_EIO : GF_OK;
}

/* The key file must be a regular file no one but its owner can read:
 * GF_OK, GF_EINVAL (not a regular file) or GF_EREFUSED (readable by
 * others). */
static int key_file_private(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s is not a regular file", path);
		return GF_EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "key file %s may be read by others (mode %03o): "
			 "refusing it; chmod 600 %s", path,
			 (unsigned)(st.st_mode & 0777), path);
		return GF_EREFUSED;
	}
	return GF_OK;
}

int auth_key_load(const char *path, uint8_t key[GF_KEY_BYTES], char *err,
	     size_t errlen)
{
	char text[KEY_FILE_MAX + 1];
	size_t bin_len = 0;
	const char *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return GF_EIO;
	}
	if ((rc = key_file_private(fd, path, err, errlen))) {
		close(fd);
		return rc;
	}
	n = read(fd, text, KEY_FILE_MAX);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	if (n <= 0 || sodium_hex2bin(key, GF_KEY_BYTES, text, (size_t)n, NULL, &bin_len,
				     &end) || bin_len != GF_KEY_BYTES ||
	    strspn(end, " \t\r\n") != strlen(end)) {
		sodium_memzero(text, sizeof text);
		snprintf(err, errlen, "key file %s: want 64 hex digits (32 random bytes, "
			 "e.g. head -c32 /dev/urandom | od -An -tx1 | tr -d ' \\n')", path);
		return GF_EINVAL;
	}
	sodium_memzero(text, sizeof text);
	return GF_OK;
}

int auth_keys_load(struct gf_keys *k, const struct gf_remote *r, char *err,
	      size_t errlen)
{
	int rc;

	memset(k, 0, sizeof *k);
	if (!r->key[0] && !r->read_key[0]) {
		snprintf(err, errlen, "no key: give --key FILE, or [remote] key or "
			 "read_key in config.ini");
		return GF_EINVAL;
	}
	if (r->key[0] && (rc = auth_key_load(r->key, k->operator_key, err, errlen)))
		return rc;
	if (r->read_key[0] && (rc = auth_key_load(r->read_key, k->read_key, err, errlen)))
		return rc;
	k->has_operator = r->key[0] != 0;
	k->has_read = r->read_key[0] != 0;
	return GF_OK;
}

void auth_keys_wipe(struct gf_keys *k)
{
	sodium_memzero(k, sizeof *k);
}

/* BLAKE2b keyed with the pre-shared key over label | sn | cn (cn NULL:
 * label | sn). */
static void derive(uint8_t out[GF_KEY_BYTES], const uint8_t psk[GF_KEY_BYTES],
		   const char *label, const uint8_t *sn, const uint8_t *cn)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, psk, GF_KEY_BYTES, GF_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, sn, GF_NONCE_BYTES);
	if (cn)
		crypto_generichash_update(&st, cn, GF_NONCE_BYTES);
	crypto_generichash_final(&st, out, GF_KEY_BYTES);
}

/* The GPU mailbox's keys (devbox.h): no handshake there, so one nonce,
 * the agent's, published in the mailbox at attach; requests are MAC'ed
 * with BLAKE2b(key=PSK, "gpufas gpu-mailbox c2s" | nonce), answers with
 * "... s2c". The agent derives them for each of its keys, a viewer for
 * its own. */
void auth_mailbox_keys(const uint8_t psk[GF_KEY_BYTES],
		       const uint8_t nonce[GF_NONCE_BYTES],
		       uint8_t request[GF_KEY_BYTES], uint8_t answer[GF_KEY_BYTES])
{
	derive(request, psk, "gpufas gpu-mailbox c2s", nonce, NULL);
	derive(answer, psk, "gpufas gpu-mailbox s2c", nonce, NULL);
}

void auth_nonce(uint8_t nonce[GF_NONCE_BYTES])
{
	randombytes_buf(nonce, GF_NONCE_BYTES);
}

static void session_keys(struct gf_session *s, const uint8_t psk[GF_KEY_BYTES],
			 const uint8_t *sn, const uint8_t *cn, int agent)
{
	derive(agent ? s->rx_key : s->tx_key, psk, "gpufas c2s", sn, cn);
	derive(agent ? s->tx_key : s->rx_key, psk, "gpufas s2c", sn, cn);
	s->seq = 0;
}

/* The MAC of a whole message, computed with its mac field zeroed (and
 * put back as it was). */
static void mac_of(uint8_t mac[GF_MAC_BYTES], uint8_t *msg, size_t len,
		   const uint8_t key[GF_KEY_BYTES])
{
	struct gf_msg_hdr *h = (struct gf_msg_hdr *)msg;
	uint8_t saved[GF_MAC_BYTES];

	memcpy(saved, h->mac, sizeof saved);
	memset(h->mac, 0, sizeof h->mac);
	crypto_generichash(mac, GF_MAC_BYTES, msg, len, key, GF_KEY_BYTES);
	memcpy(h->mac, saved, sizeof saved);
}

/* Writes the message's MAC into its header. */
static void mac_set(uint8_t *msg, size_t len, const uint8_t key[GF_KEY_BYTES])
{
	uint8_t mac[GF_MAC_BYTES];

	mac_of(mac, msg, len, key);
	memcpy(((struct gf_msg_hdr *)msg)->mac, mac, sizeof mac);
}

static int mac_valid(uint8_t *msg, size_t len, const uint8_t key[GF_KEY_BYTES])
{
	uint8_t mac[GF_MAC_BYTES];

	mac_of(mac, msg, len, key);
	return sodium_memcmp(mac, ((struct gf_msg_hdr *)msg)->mac, GF_MAC_BYTES) == 0;
}

void auth_challenge(struct gf_buf *out, uint8_t nonce[GF_NONCE_BYTES])
{
	uint8_t *p = msg_start(out, GF_MSG_CHALLENGE, 0, 0, GF_OK, GF_NONCE_BYTES);

	randombytes_buf(nonce, GF_NONCE_BYTES);
	if (p)
		memcpy(p, nonce, GF_NONCE_BYTES);
}

/* The viewer's answer to a challenge; s gets the session keys. */
void auth_proof(struct gf_buf *out, const uint8_t key[GF_KEY_BYTES],
		const uint8_t server_nonce[GF_NONCE_BYTES], struct gf_session *s)
{
	uint8_t proof_key[GF_KEY_BYTES];
	uint8_t *cn = msg_start(out, GF_MSG_PROOF, 0, 0, GF_OK, GF_NONCE_BYTES);

	if (!cn)
		return;
	randombytes_buf(cn, GF_NONCE_BYTES);
	derive(proof_key, key, "gpufas proof", server_nonce, cn);
	mac_set(out->data, out->len, proof_key);
	session_keys(s, key, server_nonce, cn, 0);
	sodium_memzero(proof_key, sizeof proof_key);
}

/* Does the proof verify under this key? */
static int proof_by(const uint8_t psk[GF_KEY_BYTES], uint8_t *msg, size_t len,
		    const uint8_t *sn, const uint8_t *cn)
{
	uint8_t proof_key[GF_KEY_BYTES];
	int ok;

	derive(proof_key, psk, "gpufas proof", sn, cn);
	ok = mac_valid(msg, len, proof_key);
	sodium_memzero(proof_key, sizeof proof_key);
	return ok;
}

/* The agent's check of a proof: the role of the key that made it. GF_OK,
 * GF_EINVAL (no proof) or GF_EREFUSED (no key of ours made it). */
int auth_accept(const struct gf_keys *k, uint8_t *msg, size_t len,
		const uint8_t server_nonce[GF_NONCE_BYTES],
		struct gf_session *s, char *why, size_t whylen)
{
	const struct gf_msg_hdr *h = (const struct gf_msg_hdr *)msg;
	const uint8_t *cn = msg + sizeof *h;

	if (len != sizeof *h + GF_NONCE_BYTES || h->type != GF_MSG_PROOF ||
	    h->length != GF_NONCE_BYTES) {
		snprintf(why, whylen, "a %s message of %u bytes where a proof belongs",
			 msg_type_name(h->type), h->length);
		return GF_EINVAL;
	}
	memset(s, 0, sizeof *s);
	if (k->has_operator && proof_by(k->operator_key, msg, len, server_nonce, cn)) {
		s->role = GF_ROLE_OPERATOR;
		session_keys(s, k->operator_key, server_nonce, cn, 1);
	} else if (k->has_read && proof_by(k->read_key, msg, len, server_nonce, cn)) {
		s->role = GF_ROLE_READ;
		session_keys(s, k->read_key, server_nonce, cn, 1);
	} else {
		snprintf(why, whylen, "wrong key");
		return GF_EREFUSED;
	}
	return GF_OK;
}

void auth_seal(const struct gf_session *s, struct gf_buf *b)
{
	mac_set(b->data, b->len, s->tx_key);
}

/* A received message (its header checked by the transport) is genuine
 * and in order: a request numbered one past the last, or an answer
 * repeating the request's number. */
int auth_open(struct gf_session *s, uint8_t *msg, size_t len, int request,
	      char *why, size_t whylen)
{
	const struct gf_msg_hdr *h = (const struct gf_msg_hdr *)msg;
	uint64_t want = request ? s->seq + 1 : s->seq;

	if (len < sizeof *h || len != sizeof *h + h->length) {
		snprintf(why, whylen, "a message whose length does not add up");
		return GF_EINVAL;
	}
	if (!mac_valid(msg, len, s->rx_key)) {
		snprintf(why, whylen, "a %s message with a bad MAC (altered, or not "
			 "of this session)", msg_type_name(h->type));
		return GF_EINVAL;
	}
	if (h->seq != want) {
		snprintf(why, whylen, "sequence number %llu where %llu belongs "
			 "(replayed or reordered)", (unsigned long long)h->seq,
			 (unsigned long long)want);
		return GF_EINVAL;
	}
	s->seq = h->seq;
	return GF_OK;
}
