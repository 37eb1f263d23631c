/*
 * og_token.h - signed, encrypted unsubscribe tokens.
 *
 * A token names a recipient (its match key) and a stream, without server
 * state, unreadable to whoever holds only the URL, forgery-proof, and with
 * a key id so keys rotate: every key in the keyring verifies, the last one
 * in the file signs.
 *
 * Wire form (before base64url without padding):
 *   kid(1) | nonce(12) | AES-256-GCM(purpose(1) | stream_id(2) | day(2) |
 *   key) | tag(16)
 * kid is authenticated as AAD.  stream_id is og_token_stream_id(name), a
 * 16-bit hash the config checks for collisions; day counts days since
 * 2020-01-01 UTC.  A 40-byte address gives a 99-character token.
 *
 * Keys file: one key per line, "ID SECRET", ID 1..255, SECRET 32 bytes in
 * base64url (43 chars); '#' starts a comment.  The file must be a regular
 * file without any group or other permission bits (0600 or 0400).
 *
 * LIMITS: tokens longer than OG_TOKEN_MAX characters are rejected before
 * decoding; at most 255 keys.
 * Thread-safe once loaded (the keyring is read-only).  Secrets are wiped
 * with OPENSSL_cleanse on free; tags compare in constant time.
 */
#ifndef OG_TOKEN_H
#define OG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "og_addr.h"

#define OG_TOKEN_MAX 512                  /* longest token accepted */
#define OG_TOKEN_HEADER "X-Optgate-Token" /* our header in sent mail */

typedef struct og_keyring og_keyring;

/* What a token is for: an unsubscribe token never confirms an opt-in. */
#define OG_TOKEN_UNSUB 1
#define OG_TOKEN_CONFIRM 2

typedef struct og_token_info {
	char key[OG_ADDR_MAX + 1]; /* the recipient's match key */
	uint16_t stream_id;        /* og_token_stream_id() of the stream */
	int64_t issued;            /* issue day, as epoch seconds (00:00 UTC) */
	uint8_t kid;               /* key that verified it */
	uint8_t purpose;           /* OG_TOKEN_UNSUB or OG_TOKEN_CONFIRM */
} og_token_info;

/*
 * og_keyring_load - read a keys file.  Returns 0, OG_EIO (cannot open),
 * OG_EINVAL (bad line or permissions; err says "FILE:LINE: reason", or
 * "FILE: reason" for the whole file), OG_ENOKEY (no key in the file).
 * *out is freed with og_keyring_free.
 */
int og_keyring_load(
    const char *path, og_keyring **out, char *err, size_t errlen);
/*
 * The same from a string (tests, fuzzing); no permission check; err names
 * the input "<string>".
 */
int og_keyring_parse(
    const char *text, og_keyring **out, char *err, size_t errlen);
void og_keyring_free(og_keyring *kr);
/* Id of the signing (newest) key. */
uint8_t og_keyring_signing_id(const og_keyring *kr);
/* Whether key id is in the keyring (1) or not (0). */
int og_keyring_has(const og_keyring *kr, uint8_t id);

/*
 * og_keyring_derive - a 32-byte key for another use of key id (0: the
 * signing key), HMAC-SHA256(secret, label), so daemons on several hosts
 * that share the keys file agree on it (optgate-unsubd's form
 * protection).  Returns 0, OG_ENOKEY (no such key), OG_EIO.
 */
int og_keyring_derive(
    const og_keyring *kr, uint8_t id, const char *label, unsigned char out[32]);

/*
 * og_keygen_line - a new random key line "ID SECRET\n" for a keys file.
 * Returns 0, OG_EIO (no randomness), OG_EINVAL (id 0), OG_ETOOBIG
 * (size < 64).
 */
int og_keygen_line(uint8_t id, char *buf, size_t size);

/*
 * og_token_kid - the key id a token names (its first byte, readable
 * without the key), to say which key a token that gave OG_ENOKEY needs.
 * Returns 1..255, or -1 when s cannot be a token's start.
 */
int og_token_kid(const char *s, size_t len);

/* Whether c belongs to the token alphabet (base64url: A-Z a-z 0-9 - _). */
int og_token_char(int c);

/* 16-bit id of a stream name, as carried in tokens. */
uint16_t og_token_stream_id(const char *stream);

/*
 * og_token_make - the token for (key, stream) issued at time now, signed
 * with the newest key.  out gets a NUL-terminated base64url string.
 * Returns 0, OG_ETOOBIG (out too small), OG_EINVAL (key empty or too
 * long, purpose unknown, now before 2020 or after 2199), OG_EIO (no
 * randomness or cipher failure), OG_ENOMEM.
 */
int og_token_make(const og_keyring *kr, int purpose, const char *key,
    const char *stream, int64_t now, char *out, size_t outsize);

/*
 * og_token_open - verify and decode.  s/len need not be NUL-terminated.
 * Returns 0, OG_EBADTOKEN (malformed, forged, tampered), OG_ENOKEY
 * (unknown key id).  Never reveals which part failed beyond that.
 */
int og_token_open(
    const og_keyring *kr, const char *s, size_t len, og_token_info *out);

#endif
