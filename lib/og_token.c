/*
 * og_token.c - signed, encrypted unsubscribe tokens (AES-256-GCM).
 *
 * Public: og_keyring_load, og_keyring_parse, og_keyring_free,
 * og_keyring_signing_id, og_keyring_has, og_keygen_line, og_token_kid,
 * og_token_stream_id, og_token_make, og_token_open.  The wire form is in
 * og_token.h.
 *
 * Ownership: a keyring is allocated by load/parse (in a mapping left out
 * of core dumps) and freed (secrets wiped) by og_keyring_free.  Tokens are
 * written into caller buffers.
 *
 * Thread-safety: a loaded keyring is never written again; make and open
 * build their own EVP_CIPHER_CTX per call, so any number of threads may
 * share one keyring.  The fetched EVP_CIPHER is immutable and shareable.
 *
 * Errors: 0 or a negative OG_E* code; parse errors fill err with
 * "FILE:LINE: reason" (or "FILE: reason" for the whole file).  open never
 * says which check failed beyond OG_EBADTOKEN / OG_ENOKEY.
 *
 * Base64url is our own strict codec: no padding, only the 64 alphabet
 * characters, and the unused low bits of the last character must be zero,
 * so each token has exactly one text form.
 *
 * LIMITS: tokens over OG_TOKEN_MAX characters are refused before decoding;
 * keys files over OG_TOKEN_KEYS_FILE_MAX bytes or with lines over
 * KEYS_LINE_MAX bytes are refused; at most 255 keys (ids are unique).
 * Nonces are random (96 bits), so one key should sign fewer than 2^32
 * tokens: rotate well before that (at 10 million a day, within a year).
 * Issue days run from 2020-01-01 to 2199 (16 bits of days).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "og_addr.h"
#include "og_err.h"
#include "og_token.h"

/*
 * LeakSanitizer does not look into anonymous mappings: told of the
 * keyring's, it still sees the cipher the keyring holds.
 */
#if defined(__SANITIZE_ADDRESS__)
#define OG_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OG_LSAN 1
#endif
#endif
#ifdef OG_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define SECRET_LEN 32
#define SECRET_B64_LEN 43
#define NONCE_LEN 12
#define TAG_LEN 16
#define HDR_LEN (1 + NONCE_LEN) /* kid, nonce */
#define INNER_FIXED 5           /* purpose, stream id, day */
#define MIN_RAW (HDR_LEN + INNER_FIXED + 1 + TAG_LEN)
#define MAX_RAW (HDR_LEN + INNER_FIXED + OG_ADDR_MAX + TAG_LEN)
#define EPOCH_2020 1577836800LL /* 2020-01-01T00:00:00Z */
#define DAY 86400LL
#define KEYS_FILE_MAX (1024 * 1024)
#define KEYS_LINE_MAX 1024

struct og_keyring_key {
	uint8_t id;
	unsigned char secret[SECRET_LEN];
};

struct og_keyring {
	EVP_CIPHER *cipher;
	size_t n;
	struct og_keyring_key keys[255];
	uint8_t slot[256]; /* id -> index + 1, 0 = unknown */
};

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Length of the base64url text (no padding) of n bytes. */
static size_t
b64_enc_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Encode; out must hold b64_enc_len(n) + 1 bytes. */
static void
b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 |
		                  (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alpha[v >> 18 & 63];
		out[o++] = b64_alpha[v >> 12 & 63];
		out[o++] = b64_alpha[v >> 6 & 63];
		out[o++] = b64_alpha[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64_alpha[in[i] >> 2];
		out[o++] = b64_alpha[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = b64_alpha[in[i] >> 2];
		out[o++] = b64_alpha[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = b64_alpha[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
og_token_char(int c)
{
	return c >= 0 && c <= 255 && b64_val((unsigned char)c) >= 0;
}

int
og_token_kid(const char *s, size_t len)
{
	int a, b;

	if (len < 2 || (a = b64_val((unsigned char)s[0])) < 0 ||
	    (b = b64_val((unsigned char)s[1])) < 0 || (a << 2 | b >> 4) == 0)
		return -1;
	return a << 2 | b >> 4;
}

/*
 * Strict decode of len characters into out (capacity cap).  Returns the
 * byte count, or -1 for a bad character, an impossible length, non-zero
 * trailing bits or an output over cap.
 */
static long
b64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	size_t i, o = 0, full = len / 4 * 4, rest = len % 4;
	int v[4];

	if (rest == 1 || len / 4 * 3 + (rest ? rest - 1 : 0) > cap)
		return -1;
	for (i = 0; i < full; i += 4) {
		for (int k = 0; k < 4; k++)
			if ((v[k] = b64_val((unsigned char)s[i + k])) < 0)
				return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	if (rest == 0)
		return (long)o;
	for (size_t k = 0; k < rest; k++)
		if ((v[k] = b64_val((unsigned char)s[full + k])) < 0)
			return -1;
	out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	if (rest == 2) {
		if (v[1] & 15)
			return -1;
	} else {
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[2] & 3)
			return -1;
	}
	return (long)o;
}

/* ---- keyring ---- */

/*
 * The keyring gets a mapping of its own, left out of core dumps
 * (MADV_DONTDUMP): a daemon's or a pipe(8) command's core, kept by
 * systemd-coredump or attached to a bug report, would otherwise carry
 * every secret, and with them the power to forge opt-outs and read
 * addresses from tokens.  Where the kernel lacks the advice the mapping
 * is still used (a core then holds the keys, as a heap copy would).
 */
static og_keyring *
keyring_alloc(void)
{
	void *p = mmap(NULL, sizeof(og_keyring), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, sizeof(og_keyring), MADV_DONTDUMP);
#ifdef OG_LSAN
	__lsan_register_root_region(p, sizeof(og_keyring));
#endif
	return p; /* zero-filled */
}

void
og_keyring_free(og_keyring *kr)
{
	if (kr == NULL)
		return;
	EVP_CIPHER_free(kr->cipher);
	OPENSSL_cleanse(kr, sizeof *kr);
#ifdef OG_LSAN
	__lsan_unregister_root_region(kr, sizeof *kr);
#endif
	(void)munmap(kr, sizeof *kr);
}

uint8_t
og_keyring_signing_id(const og_keyring *kr)
{
	return kr->keys[kr->n - 1].id;
}

int
og_keyring_has(const og_keyring *kr, uint8_t id)
{
	return kr != NULL && kr->slot[id] != 0;
}

int
og_keyring_derive(
    const og_keyring *kr, uint8_t id, const char *label, unsigned char out[32])
{
	const struct og_keyring_key *k;
	unsigned int len = 32;

	if (kr == NULL || kr->n == 0)
		return OG_ENOKEY;
	if (id == 0)
		id = og_keyring_signing_id(kr);
	if (kr->slot[id] == 0)
		return OG_ENOKEY;
	k = &kr->keys[kr->slot[id] - 1];
	if (HMAC(EVP_sha256(), k->secret, SECRET_LEN,
	        (const unsigned char *)label, strlen(label), out,
	        &len) == NULL ||
	    len != 32)
		return OG_EIO;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (without '\n'), comment and surrounding blanks included. */
static const char *
parse_line(og_keyring *kr, const char *p, size_t len)
{
	size_t i = 0, j;
	unsigned id = 0;
	unsigned char secret[SECRET_LEN + 3];
	long n;

	if (len > KEYS_LINE_MAX)
		return "line too long";
	if (memchr(p, '\0', len) != NULL)
		return "NUL byte in line";
	for (j = 0; j < len; j++)
		if (p[j] == '#')
			break;
	len = j;
	while (i < len && is_space(p[i]))
		i++;
	while (len > i && is_space(p[len - 1]))
		len--;
	if (i == len)
		return NULL; /* blank or comment */

	for (j = i; j < len && p[j] >= '0' && p[j] <= '9'; j++) {
		id = id * 10 + (unsigned)(p[j] - '0');
		if (id > 255)
			return "key id must be 1..255";
	}
	if (j == i || (j < len && !is_space(p[j])))
		return "key id must be a number 1..255";
	if (id == 0)
		return "key id must be 1..255";
	if (p[i] == '0')
		return "key id has a leading zero";
	if (kr->slot[id] != 0)
		return "duplicate key id";
	while (j < len && is_space(p[j]))
		j++;
	if (j == len)
		return "missing secret after key id";
	i = j;
	while (j < len && !is_space(p[j]))
		j++;
	if (j != len)
		return "unexpected text after the secret";
	if (j - i != SECRET_B64_LEN)
		return "secret must be 43 base64url characters (32 bytes)";
	n = b64_decode(p + i, j - i, secret, sizeof secret);
	if (n != SECRET_LEN) {
		OPENSSL_cleanse(secret, sizeof secret);
		return "secret is not valid base64url";
	}
	kr->keys[kr->n].id = (uint8_t)id;
	memcpy(kr->keys[kr->n].secret, secret, SECRET_LEN);
	OPENSSL_cleanse(secret, sizeof secret);
	kr->n++;
	kr->slot[id] = (uint8_t)kr->n;
	return NULL;
}

static int
keyring_parse(const char *text, size_t size, const char *name, og_keyring **out,
    char *err, size_t errlen)
{
	og_keyring *kr;
	const char *p = text, *end = text + size, *nl, *why;
	unsigned long line = 0;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((kr = keyring_alloc()) == NULL)
		return OG_ENOMEM;
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if ((why = parse_line(kr, p, (size_t)(nl - p))) != NULL) {
			if (err != NULL && errlen > 0)
				snprintf(
				    err, errlen, "%s:%lu: %s", name, line, why);
			og_keyring_free(kr);
			return OG_EINVAL;
		}
		p = nl + 1;
	}
	if (kr->n == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: no key in the file", name);
		og_keyring_free(kr);
		return OG_ENOKEY;
	}
	if ((kr->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) ==
	    NULL) {
		if (err != NULL && errlen > 0)
			snprintf(
			    err, errlen, "%s: AES-256-GCM not available", name);
		og_keyring_free(kr);
		return OG_EIO;
	}
	*out = kr;
	return 0;
}

int
og_keyring_parse(const char *text, og_keyring **out, char *err, size_t errlen)
{
	return keyring_parse(text, strlen(text), "<string>", out, err, errlen);
}

int
og_keyring_load(const char *path, og_keyring **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, rc = OG_EIO;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return OG_EIO;
	}
	if (fstat(fd, &st) < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = OG_EINVAL;
	if (!S_ISREG(st.st_mode)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Group or other access would let them read or replace the keys. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "%s: mode %04o lets group or others access the "
			    "keys; chmod 600",
			    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > KEYS_FILE_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    KEYS_FILE_MAX);
		goto out;
	}
	rc = OG_ENOMEM;
	if ((buf = malloc(KEYS_FILE_MAX + 1)) == NULL)
		goto out;
	rc = OG_EIO;
	for (;;) {
		r = read(fd, buf + got, KEYS_FILE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s: %s", path,
				    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > KEYS_FILE_MAX) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen,
				    "%s: larger than %d bytes", path,
				    KEYS_FILE_MAX);
			rc = OG_EINVAL;
			goto out;
		}
	}
	rc = keyring_parse(buf, got, path, out, err, errlen);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}

int
og_keygen_line(uint8_t id, char *buf, size_t size)
{
	unsigned char secret[SECRET_LEN];
	char text[SECRET_B64_LEN + 1];
	int n;

	if (id == 0)
		return OG_EINVAL;
	if (size < 64)
		return OG_ETOOBIG;
	if (RAND_bytes(secret, sizeof secret) != 1)
		return OG_EIO;
	b64_encode(secret, sizeof secret, text);
	n = snprintf(buf, size, "%u %s\n", (unsigned)id, text);
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(text, sizeof text);
	return n > 0 && (size_t)n < size ? 0 : OG_ETOOBIG;
}

/* ---- tokens ---- */

/*
 * Key the context with secret and the nonce at raw + 1, and feed the kid
 * byte raw[0] as AAD.  Returns 1 on success.
 */
static int
gcm_start(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher,
    const unsigned char *secret, const unsigned char *raw, int enc)
{
	int n;

	return EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) == 1 &&
	       EVP_CIPHER_CTX_ctrl(
	           ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	       EVP_CipherInit_ex(ctx, NULL, NULL, secret, raw + 1, enc) == 1 &&
	       EVP_CipherUpdate(ctx, NULL, &n, raw, 1) == 1;
}

uint16_t
og_token_stream_id(const char *stream)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (stream == NULL)
		stream = "";
	SHA256((const unsigned char *)stream, strlen(stream), md);
	return (uint16_t)(md[0] << 8 | md[1]);
}

int
og_token_make(const og_keyring *kr, int purpose, const char *key,
    const char *stream, int64_t now, char *out, size_t outsize)
{
	unsigned char plain[INNER_FIXED + OG_ADDR_MAX];
	unsigned char raw[MAX_RAW];
	const struct og_keyring_key *k;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t klen, plen, rawlen;
	int64_t day;
	uint16_t sid;
	int n, rc = OG_EIO;

	if (outsize > 0)
		out[0] = '\0';
	if (kr == NULL || kr->n == 0 || key == NULL || stream == NULL)
		return OG_EINVAL;
	if (purpose != OG_TOKEN_UNSUB && purpose != OG_TOKEN_CONFIRM)
		return OG_EINVAL;
	klen = strnlen(key, OG_ADDR_MAX + 1);
	if (klen == 0 || klen > OG_ADDR_MAX)
		return OG_EINVAL;
	if (now < EPOCH_2020)
		return OG_EINVAL;
	day = (now - EPOCH_2020) / DAY;
	if (day > 0xffff)
		return OG_EINVAL;
	plen = INNER_FIXED + klen;
	rawlen = HDR_LEN + plen + TAG_LEN;
	if (outsize < b64_enc_len(rawlen) + 1)
		return OG_ETOOBIG;

	k = &kr->keys[kr->n - 1];
	sid = og_token_stream_id(stream);
	plain[0] = (unsigned char)purpose;
	plain[1] = (unsigned char)(sid >> 8);
	plain[2] = (unsigned char)sid;
	plain[3] = (unsigned char)(day >> 8);
	plain[4] = (unsigned char)day;
	memcpy(plain + INNER_FIXED, key, klen);

	raw[0] = k->id;
	if (RAND_bytes(raw + 1, NONCE_LEN) != 1)
		goto done;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = OG_ENOMEM;
		goto done;
	}
	if (!gcm_start(ctx, kr->cipher, k->secret, raw, 1) ||
	    EVP_EncryptUpdate(ctx, raw + HDR_LEN, &n, plain, (int)plen) != 1 ||
	    (size_t)n != plen ||
	    EVP_EncryptFinal_ex(ctx, raw + HDR_LEN + plen, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(
	        ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + HDR_LEN + plen) != 1)
		goto done;
	b64_encode(raw, rawlen, out);
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(plain, sizeof plain);
	return rc;
}

int
og_token_open(
    const og_keyring *kr, const char *s, size_t len, og_token_info *out)
{
	unsigned char raw[MAX_RAW + 3];
	unsigned char plain[INNER_FIXED + OG_ADDR_MAX];
	const struct og_keyring_key *k;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t plen, klen;
	long rawlen;
	int n, rc = OG_EBADTOKEN;

	memset(out, 0, sizeof *out);
	if (kr == NULL || kr->n == 0 || s == NULL || len > OG_TOKEN_MAX)
		return OG_EBADTOKEN;
	rawlen = b64_decode(s, len, raw, sizeof raw);
	if (rawlen < MIN_RAW || rawlen > MAX_RAW)
		return OG_EBADTOKEN;
	if (kr->slot[raw[0]] == 0)
		return OG_ENOKEY;
	k = &kr->keys[kr->slot[raw[0]] - 1];
	plen = (size_t)rawlen - HDR_LEN - TAG_LEN;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return OG_EBADTOKEN;
	/* GCM's Final compares the tag in constant time. */
	if (!gcm_start(ctx, kr->cipher, k->secret, raw, 0) ||
	    EVP_DecryptUpdate(ctx, plain, &n, raw + HDR_LEN, (int)plen) != 1 ||
	    (size_t)n != plen ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	        raw + HDR_LEN + plen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, plain + plen, &n) != 1)
		goto done;

	/* Authentic, so ours; still refuse what make never writes. */
	klen = plen - INNER_FIXED;
	if ((plain[0] != OG_TOKEN_UNSUB && plain[0] != OG_TOKEN_CONFIRM) ||
	    memchr(plain + INNER_FIXED, '\0', klen) != NULL)
		goto done;
	out->purpose = plain[0];
	out->stream_id = (uint16_t)(plain[1] << 8 | plain[2]);
	out->issued = EPOCH_2020 + (int64_t)(plain[3] << 8 | plain[4]) * DAY;
	out->kid = raw[0];
	memcpy(out->key, plain + INNER_FIXED, klen);
	out->key[klen] = '\0';
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(plain, sizeof plain);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}
