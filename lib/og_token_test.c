/*
 * og_token_test.c - unit tests for og_token: round trips, tampering,
 * rotation, keys files, the address staying unreadable, threads.
 *
 * The test's own base64url helpers go through OpenSSL's EVP_EncodeBlock /
 * EVP_DecodeBlock, so the module's codec is checked against another one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "og_err.h"
#include "og_token.h"

#define S1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define S2 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
#define S3 "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc"
#define T2020 1577836800LL
#define NOW (T2020 + 2500 * 86400LL + 12345) /* 2026-11-04 03:25:45 */
#define ADDR40 "marketing.reader.one@mail.example-isp.br"

static og_keyring *
ring(const char *text)
{
	og_keyring *kr = NULL;
	char err[256];
	int rc = og_keyring_parse(text, &kr, err, sizeof err);

	if (rc != 0)
		print_error("keyring: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(kr);
	return kr;
}

/* base64url without padding, through OpenSSL's standard codec. */
static size_t
ref_encode(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return (size_t)len;
}

static size_t
ref_decode(const char *s, unsigned char *out)
{
	char tmp[1024];
	size_t n = strlen(s), pad = (4 - n % 4) % 4;
	int len;

	assert_true(n + pad < sizeof tmp);
	for (size_t i = 0; i < n; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(tmp + n, '=', pad);
	len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)(n + pad));
	assert_true(len >= 0);
	return (size_t)len - pad;
}

static int
is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static int
open_str(const og_keyring *kr, const char *tok, og_token_info *info)
{
	return og_token_open(kr, tok, strlen(tok), info);
}

/* ---- round trips ---- */

static void
test_round_trip(void **state)
{
	static char longkey[OG_ADDR_MAX + 1];
	static const struct {
		const char *name;
		int purpose;
		const char *key;
		const char *stream;
		int64_t now;
	} cases[] = {
	    {"plain", OG_TOKEN_UNSUB, "ana@example.com", "newsletter", NOW},
	    {"one char", OG_TOKEN_UNSUB, "a", "s", NOW},
	    {"40 chars", OG_TOKEN_UNSUB, ADDR40, "offers", NOW},
	    {"confirm", OG_TOKEN_CONFIRM, "bob@example.org", "news", NOW},
	    {"utf8 local", OG_TOKEN_UNSUB, "jos\xc3\xa9@exemplo.com.br", "n",
	        NOW},
	    {"quoted", OG_TOKEN_UNSUB, "\"a b\"@example.com", "n", NOW},
	    {"first day", OG_TOKEN_UNSUB, "x@y.z", "n", T2020},
	    {"last day", OG_TOKEN_UNSUB, "x@y.z", "n",
	        T2020 + 65535 * 86400LL + 86399},
	    {"empty stream", OG_TOKEN_UNSUB, "x@y.z", "", NOW},
	    {"longest key", OG_TOKEN_UNSUB, longkey, "n", NOW},
	};
	og_keyring *kr = ring("7 " S1 "\n");
	char tok[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	memset(longkey, 'k', OG_ADDR_MAX);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# round trip: %s\n", cases[i].name);
		assert_int_equal(
		    og_token_make(kr, cases[i].purpose, cases[i].key,
		        cases[i].stream, cases[i].now, tok, sizeof tok),
		    0);
		assert_true(strlen(tok) <= OG_TOKEN_MAX);
		assert_int_equal(open_str(kr, tok, &info), 0);
		assert_string_equal(info.key, cases[i].key);
		assert_int_equal(
		    info.stream_id, og_token_stream_id(cases[i].stream));
		assert_int_equal(info.purpose, cases[i].purpose);
		assert_int_equal(info.kid, 7);
		assert_int_equal(
		    info.issued, cases[i].now - cases[i].now % 86400);
	}
	og_keyring_free(kr);
}

static void
test_make_rejects(void **state)
{
	static char toolong[OG_ADDR_MAX + 2];
	static const struct {
		const char *name;
		int purpose;
		const char *key;
		int64_t now;
		size_t outsize;
		int rc;
	} cases[] = {
	    {"purpose 0", 0, "a@b.c", NOW, 200, OG_EINVAL},
	    {"purpose 3", 3, "a@b.c", NOW, 200, OG_EINVAL},
	    {"empty key", OG_TOKEN_UNSUB, "", NOW, 200, OG_EINVAL},
	    {"key too long", OG_TOKEN_UNSUB, toolong, NOW, 600, OG_EINVAL},
	    {"before 2020", OG_TOKEN_UNSUB, "a@b.c", T2020 - 1, 200, OG_EINVAL},
	    {"after day 65535", OG_TOKEN_UNSUB, "a@b.c",
	        T2020 + 65536 * 86400LL, 200, OG_EINVAL},
	    /* "a@b.c": 39 bytes -> 52 characters + NUL */
	    {"no room for NUL", OG_TOKEN_UNSUB, "a@b.c", NOW, 52, OG_ETOOBIG},
	    {"exact fit", OG_TOKEN_UNSUB, "a@b.c", NOW, 53, 0},
	};
	og_keyring *kr = ring("1 " S1);
	char tok[600];

	(void)state;
	memset(toolong, 'k', OG_ADDR_MAX + 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# make: %s\n", cases[i].name);
		assert_int_equal(
		    og_token_make(kr, cases[i].purpose, cases[i].key, "n",
		        cases[i].now, tok, cases[i].outsize),
		    cases[i].rc);
		if (cases[i].rc != 0)
			assert_string_equal(tok, "");
	}
	og_keyring_free(kr);
}

/* The 40-character address of the issue fits in 100 characters. */
static void
test_length(void **state)
{
	og_keyring *kr = ring("1 " S1);
	char tok[OG_TOKEN_MAX + 1];

	(void)state;
	assert_int_equal(strlen(ADDR40), 40);
	assert_int_equal(og_token_make(kr, OG_TOKEN_UNSUB, ADDR40, "newsletter",
	                     NOW, tok, sizeof tok),
	    0);
	print_message("# 40-char address -> %zu-char token\n", strlen(tok));
	assert_true(strlen(tok) <= 100);
	assert_int_equal(strlen(tok), 99);
	/* URL-safe as is: no escaping in a URL path, query or mailto. */
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                             "abcdefghijklmnopqrstuvwxyz0123456789-_"),
	    strlen(tok));
	og_keyring_free(kr);
}

static void
test_nonce_fresh(void **state)
{
	og_keyring *kr = ring("1 " S1);
	char a[OG_TOKEN_MAX + 1], b[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	assert_int_equal(
	    og_token_make(kr, 1, "a@b.c", "n", NOW, a, sizeof a), 0);
	assert_int_equal(
	    og_token_make(kr, 1, "a@b.c", "n", NOW, b, sizeof b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(open_str(kr, a, &info), 0);
	assert_int_equal(open_str(kr, b, &info), 0);
	og_keyring_free(kr);
}

/* s/len need not be NUL-terminated; bytes after len are not read. */
static void
test_open_uses_len(void **state)
{
	og_keyring *kr = ring("1 " S1);
	char tok[OG_TOKEN_MAX + 1], url[OG_TOKEN_MAX + 32];
	og_token_info info;
	size_t n;

	(void)state;
	assert_int_equal(
	    og_token_make(kr, 1, "a@b.c", "n", NOW, tok, sizeof tok), 0);
	n = strlen(tok);
	snprintf(url, sizeof url, "%s?x=1 HTTP/1.1", tok);
	assert_int_equal(og_token_open(kr, url, n, &info), 0);
	assert_string_equal(info.key, "a@b.c");
	assert_int_equal(og_token_open(kr, url, n + 1, &info), OG_EBADTOKEN);
	og_keyring_free(kr);
}

static void
test_purpose_preserved(void **state)
{
	og_keyring *kr = ring("1 " S1);
	char u[OG_TOKEN_MAX + 1], c[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	assert_int_equal(
	    og_token_make(kr, OG_TOKEN_UNSUB, "a@b.c", "n", NOW, u, sizeof u),
	    0);
	assert_int_equal(
	    og_token_make(kr, OG_TOKEN_CONFIRM, "a@b.c", "n", NOW, c, sizeof c),
	    0);
	assert_int_equal(open_str(kr, u, &info), 0);
	assert_int_equal(info.purpose, OG_TOKEN_UNSUB);
	assert_int_equal(open_str(kr, c, &info), 0);
	assert_int_equal(info.purpose, OG_TOKEN_CONFIRM);
	og_keyring_free(kr);
}

/* ---- tampering ---- */

static void
test_every_bit_flip(void **state)
{
	/* kid 1 and 3: a flip of bit 1 in the kid byte lands on the other
	 * valid key, which must fail authentication, not just lookup. */
	og_keyring *kr = ring("1 " S1 "\n3 " S2 "\n");
	char tok[OG_TOKEN_MAX + 1], bad[OG_TOKEN_MAX + 1];
	unsigned char raw[OG_TOKEN_MAX];
	og_token_info info;
	size_t n, flips = 0, nokey = 0;
	int rc;

	(void)state;
	assert_int_equal(
	    og_token_make(kr, 1, ADDR40, "newsletter", NOW, tok, sizeof tok),
	    0);
	n = ref_decode(tok, raw);
	assert_int_equal(n, 1 + 12 + 5 + 40 + 16);
	assert_int_equal(raw[0], 3);
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++) {
			raw[i] ^= (unsigned char)(1u << b);
			ref_encode(raw, n, bad);
			raw[i] ^= (unsigned char)(1u << b);
			memset(&info, 0xa5, sizeof info);
			rc = open_str(kr, bad, &info);
			if (rc != OG_EBADTOKEN && rc != OG_ENOKEY)
				fail_msg("byte %zu bit %d: rc %d", i, b, rc);
			assert_true(is_zero(&info, sizeof info));
			nokey += rc == OG_ENOKEY;
			flips++;
		}
	}
	assert_int_equal(flips, n * 8);
	assert_int_equal(nokey, 7); /* kid flips except 3 -> 1 */
	assert_int_equal(open_str(kr, tok, &info), 0);
	og_keyring_free(kr);
}

/*
 * Every other byte value at every position of the text.  The three key
 * lengths give all three base64 tails (2, 3 and 4 characters in the last
 * group), so unused low bits of a last character are covered.
 */
static void
test_char_substitutions(void **state)
{
	static const char *const keys[] = {"a@b.cd", "a@b.cde", "a@b.cdef"};
	og_keyring *kr = ring("1 " S1);
	char tok[OG_TOKEN_MAX + 1], bad[OG_TOKEN_MAX + 1];
	og_token_info info;
	size_t n;

	(void)state;
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		assert_int_equal(og_token_make(kr, 1, keys[k], "newsletter",
		                     NOW, tok, sizeof tok),
		    0);
		n = strlen(tok);
		assert_int_equal(n % 4, (k + 2) % 4);
		for (size_t i = 0; i < n; i++) {
			for (int c = 0; c < 256; c++) {
				if (c == (unsigned char)tok[i])
					continue;
				memcpy(bad, tok, n + 1);
				bad[i] = (char)c;
				if (og_token_open(kr, bad, n, &info) == 0)
					fail_msg("%s: pos %zu char %d accepted",
					    keys[k], i, c);
			}
		}
		assert_int_equal(og_token_open(kr, tok, n, &info), 0);
	}
	og_keyring_free(kr);
}

/* Truncated, extended, padded, standard-alphabet and garbage tokens. */
static void
test_malformed(void **state)
{
	og_keyring *kr = ring("1 " S1);
	char tok[OG_TOKEN_MAX + 1], bad[OG_TOKEN_MAX * 2 + 8];
	og_token_info info;
	size_t n;
	static const char *const suffixes[] = {
	    "=", "==", "A", "AA", "AAA", "AAAA", " ", "\n", "%3D"};

	(void)state;
	assert_int_equal(
	    og_token_make(kr, 1, ADDR40, "newsletter", NOW, tok, sizeof tok),
	    0);
	n = strlen(tok);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    og_token_open(kr, tok, i, &info), OG_EBADTOKEN);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(bad, sizeof bad, "%s%s", tok, suffixes[i]);
		assert_int_equal(open_str(kr, bad, &info), OG_EBADTOKEN);
		snprintf(bad, sizeof bad, "%s%s", suffixes[i], tok);
		assert_int_not_equal(open_str(kr, bad, &info), 0);
	}
	/* The same bytes in the standard alphabet ('+' '/') are refused. */
	memcpy(bad, tok, n + 1);
	for (size_t i = 0; i < n; i++)
		bad[i] = bad[i] == '-' ? '+' : bad[i] == '_' ? '/' : bad[i];
	if (strcmp(bad, tok) != 0)
		assert_int_equal(open_str(kr, bad, &info), OG_EBADTOKEN);
	/* Over OG_TOKEN_MAX: refused before decoding. */
	memset(bad, 'A', OG_TOKEN_MAX + 4);
	bad[OG_TOKEN_MAX + 4] = '\0';
	assert_int_equal(open_str(kr, bad, &info), OG_EBADTOKEN);
	assert_int_equal(og_token_open(kr, NULL, 0, &info), OG_EBADTOKEN);
	assert_int_equal(og_token_open(kr, "", 0, &info), OG_EBADTOKEN);
	og_keyring_free(kr);
}

/* ---- keys ---- */

static void
test_wrong_key(void **state)
{
	og_keyring *a = ring("1 " S1), *b = ring("1 " S2);
	char tok[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	assert_int_equal(
	    og_token_make(a, 1, "a@b.c", "n", NOW, tok, sizeof tok), 0);
	assert_int_equal(open_str(b, tok, &info), OG_EBADTOKEN);
	assert_true(is_zero(&info, sizeof info));
	og_keyring_free(a);
	og_keyring_free(b);
}

static void
test_rotation(void **state)
{
	og_keyring *old = ring("1 " S1 "\n");
	og_keyring *cur = ring("# rotated 2026-11\n1 " S1 "\n2 " S2 "\n");
	og_keyring *rev = ring("2 " S2 "\n1 " S1 "\n");
	char t_old[OG_TOKEN_MAX + 1], t_new[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	assert_int_equal(og_keyring_signing_id(old), 1);
	assert_int_equal(og_keyring_signing_id(cur), 2);
	assert_int_equal(og_keyring_signing_id(rev), 1); /* last line signs */
	assert_true(og_keyring_has(cur, 1) && og_keyring_has(cur, 2));
	assert_false(og_keyring_has(old, 2) || og_keyring_has(cur, 3) ||
	             og_keyring_has(cur, 0) || og_keyring_has(NULL, 1));
	assert_int_equal(
	    og_token_make(old, 1, "a@b.c", "n", NOW, t_old, sizeof t_old), 0);
	assert_int_equal(
	    og_token_make(cur, 1, "a@b.c", "n", NOW, t_new, sizeof t_new), 0);
	/* The old key still verifies what it signed before the rotation. */
	assert_int_equal(open_str(cur, t_old, &info), 0);
	assert_int_equal(info.kid, 1);
	assert_string_equal(info.key, "a@b.c");
	assert_int_equal(open_str(cur, t_new, &info), 0);
	assert_int_equal(info.kid, 2);
	assert_int_equal(open_str(rev, t_new, &info), 0);
	/* A host that has not got the new key yet: unknown key id. */
	assert_int_equal(open_str(old, t_new, &info), OG_ENOKEY);
	assert_true(is_zero(&info, sizeof info));
	/* ... which can say which key the token needs. */
	assert_int_equal(og_token_kid(t_new, strlen(t_new)), 2);
	assert_int_equal(og_token_kid(t_old, strlen(t_old)), 1);
	assert_int_equal(og_token_kid("AA", 2), -1);
	assert_int_equal(og_token_kid("A", 1), -1);
	assert_int_equal(og_token_kid("!A", 2), -1);
	assert_int_equal(og_token_kid("__", 2), 255);
	og_keyring_free(old);
	og_keyring_free(cur);
	og_keyring_free(rev);
}

static void
test_unknown_kid(void **state)
{
	og_keyring *a = ring("9 " S1), *b = ring("8 " S1 "\n10 " S3);
	char tok[OG_TOKEN_MAX + 1];
	og_token_info info;

	(void)state;
	assert_int_equal(
	    og_token_make(a, 1, "a@b.c", "n", NOW, tok, sizeof tok), 0);
	/* Same secret under another id: the id alone decides. */
	assert_int_equal(open_str(b, tok, &info), OG_ENOKEY);
	og_keyring_free(a);
	og_keyring_free(b);
}

/* Two ids with one secret: only the AAD tells the kid was changed. */
static void
test_kid_authenticated(void **state)
{
	og_keyring *kr = ring("1 " S1 "\n3 " S1);
	char tok[OG_TOKEN_MAX + 1];
	unsigned char raw[OG_TOKEN_MAX];
	og_token_info info;
	size_t n;

	(void)state;
	assert_int_equal(
	    og_token_make(kr, 1, "a@b.c", "n", NOW, tok, sizeof tok), 0);
	n = ref_decode(tok, raw);
	assert_int_equal(raw[0], 3);
	raw[0] = 1;
	ref_encode(raw, n, tok);
	assert_int_equal(open_str(kr, tok, &info), OG_EBADTOKEN);
	og_keyring_free(kr);
}

static void
test_keyring_parse_good(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		uint8_t signer;
	} cases[] = {
	    {"one", "1 " S1, 1},
	    {"newline", "1 " S1 "\n", 1},
	    {"crlf", "1 " S1 "\r\n2 " S2 "\r\n", 2},
	    {"comments", "# keys\n\n  # indented\n5 " S1 " # in use\n", 5},
	    {"tabs", "\t200\t" S2 "\t\n", 200},
	    {"max id last", "1 " S2 "\n255 " S1, 255},
	};
	og_keyring *kr;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# keys ok: %s\n", cases[i].name);
		assert_int_equal(
		    og_keyring_parse(cases[i].text, &kr, err, sizeof err), 0);
		assert_int_equal(og_keyring_signing_id(kr), cases[i].signer);
		og_keyring_free(kr);
	}
}

static void
test_keyring_parse_bad(void **state)
{
	static char longline[2100];
	static const struct {
		const char *name;
		const char *text;
		const char *err; /* exact message */
	} cases[] = {
	    {"id 0", "0 " S1, "<string>:1: key id must be 1..255"},
	    {"id 256", "1 " S1 "\n256 " S2,
	        "<string>:2: key id must be 1..255"},
	    {"id word", "# c\n\nabc " S1,
	        "<string>:3: key id must be a number 1..255"},
	    {"id sign", "+1 " S1, "<string>:1: key id must be a number 1..255"},
	    {"id minus", "-1 " S1,
	        "<string>:1: key id must be a number 1..255"},
	    {"id glued", "1x " S1,
	        "<string>:1: key id must be a number 1..255"},
	    {"leading zero", "01 " S1, "<string>:1: key id has a leading zero"},
	    {"no secret", "1", "<string>:1: missing secret after key id"},
	    {"no secret, comment", "1 # " S1,
	        "<string>:1: missing secret after key id"},
	    {"short secret",
	        "1 " S1 "\n2 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
	        "<string>:2: secret must be 43 base64url characters (32 "
	        "bytes)"},
	    {"long secret", "1 " S1 "A",
	        "<string>:1: secret must be 43 base64url characters (32 "
	        "bytes)"},
	    {"padded secret", "1 " S1 "=",
	        "<string>:1: secret must be 43 base64url characters (32 "
	        "bytes)"},
	    {"std alphabet", "1 yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5uc",
	        "<string>:1: secret is not valid base64url"},
	    {"non-canonical", "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",
	        "<string>:1: secret is not valid base64url"},
	    {"extra field", "1 " S1 " x",
	        "<string>:1: unexpected text after the secret"},
	    {"duplicate", "1 " S1 "\n2 " S2 "\n1 " S3,
	        "<string>:3: duplicate key id"},
	    {"long line", longline, "<string>:1: line too long"},
	};
	og_keyring *kr = (og_keyring *)&kr;
	char err[256];

	(void)state;
	memset(longline, ' ', sizeof longline - 1);
	memcpy(longline, "1 " S1, strlen("1 " S1));
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# keys bad: %s\n", cases[i].name);
		assert_int_equal(
		    og_keyring_parse(cases[i].text, &kr, err, sizeof err),
		    OG_EINVAL);
		assert_null(kr);
		assert_string_equal(err, cases[i].err);
	}
	assert_int_equal(og_keyring_parse("", &kr, err, sizeof err), OG_ENOKEY);
	assert_string_equal(err, "<string>: no key in the file");
	assert_int_equal(
	    og_keyring_parse("# none yet\n\n", &kr, err, sizeof err),
	    OG_ENOKEY);
	assert_null(kr);
}

static char tmpdir[64];

static int
setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/og_token_test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

#define NULCASE "1 " S1 "\n2\0 " S2 "\n"

static void
test_keyring_load(void **state)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len; /* 0: strlen */
		mode_t mode;
		int rc;
		const char *err; /* after "PATH" */
	} cases[] = {
	    {"0600", "1 " S1 "\n2 " S2 "\n", 0, 0600, 0, ""},
	    {"0400", "1 " S1 "\n", 0, 0400, 0, ""},
	    {"0640", "1 " S1 "\n", 0, 0640, OG_EINVAL,
	        ": mode 0640 lets group or others access the keys; chmod "
	        "600"},
	    {"0604", "1 " S1 "\n", 0, 0604, OG_EINVAL,
	        ": mode 0604 lets group or others access the keys; chmod "
	        "600"},
	    {"0620", "1 " S1 "\n", 0, 0620, OG_EINVAL,
	        ": mode 0620 lets group or others access the keys; chmod "
	        "600"},
	    {"bad line 3", "# keys\n1 " S1 "\n2 nope\n", 0, 0600, OG_EINVAL,
	        ":3: secret must be 43 base64url characters (32 bytes)"},
	    {"NUL byte", NULCASE, sizeof NULCASE - 1, 0600, OG_EINVAL,
	        ":2: NUL byte in line"},
	    {"empty", "", 0, 0600, OG_ENOKEY, ": no key in the file"},
	};
	char path[128], want[256], err[256];
	og_keyring *kr;
	int rc;

	(void)state;
	snprintf(path, sizeof path, "%s/keys", tmpdir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		print_message("# load: %s\n", cases[i].name);
		write_file(path, cases[i].data,
		    cases[i].len ? cases[i].len : strlen(cases[i].data),
		    cases[i].mode);
		rc = og_keyring_load(path, &kr, err, sizeof err);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(err, "");
			og_keyring_free(kr);
			continue;
		}
		assert_null(kr);
		snprintf(want, sizeof want, "%s%s", path, cases[i].err);
		assert_string_equal(err, want);
	}
	snprintf(path, sizeof path, "%s/missing", tmpdir);
	assert_int_equal(og_keyring_load(path, &kr, err, sizeof err), OG_EIO);
	snprintf(want, sizeof want, "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	assert_int_equal(
	    og_keyring_load(tmpdir, &kr, err, sizeof err), OG_EINVAL);
	snprintf(want, sizeof want, "%s: not a regular file", tmpdir);
	assert_string_equal(err, want);
}

static void
test_keygen(void **state)
{
	char a[64], b[64], err[256], two[160];
	og_keyring *kr;
	unsigned id;
	char secret[64];

	(void)state;
	assert_int_equal(og_keygen_line(42, a, sizeof a), 0);
	assert_int_equal(og_keygen_line(43, b, sizeof b), 0);
	assert_int_equal(strlen(a), 3 + 43 + 1);
	assert_int_equal(a[strlen(a) - 1], '\n');
	assert_int_equal(sscanf(a, "%u %63s", &id, secret), 2);
	assert_int_equal(id, 42);
	assert_string_not_equal(a + 3, b + 3);
	snprintf(two, sizeof two, "%s%s", a, b);
	assert_int_equal(og_keyring_parse(two, &kr, err, sizeof err), 0);
	assert_int_equal(og_keyring_signing_id(kr), 43);
	og_keyring_free(kr);
	assert_int_equal(og_keygen_line(0, a, sizeof a), OG_EINVAL);
	assert_int_equal(og_keygen_line(1, a, 63), OG_ETOOBIG);
	assert_int_equal(og_keygen_line(255, a, sizeof a), 0);
	assert_int_equal(strncmp(a, "255 ", 4), 0);
}

static void
test_stream_id(void **state)
{
	static const char *const names[] = {"newsletter", "offers", "", "a"};
	unsigned char md[32];
	unsigned mdlen;

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		assert_int_equal(EVP_Digest(names[i], strlen(names[i]), md,
		                     &mdlen, EVP_sha256(), NULL),
		    1);
		assert_int_equal(
		    og_token_stream_id(names[i]), (md[0] << 8) | md[1]);
	}
	assert_int_not_equal(
	    og_token_stream_id("newsletter"), og_token_stream_id("offers"));
}

/* ---- the address stays unreadable ---- */

static int
contains(const void *hay, size_t hn, const void *needle, size_t nn)
{
	return nn > 0 && memmem(hay, hn, needle, nn) != NULL;
}

static int
contains_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

/*
 * Whether a reader could spot s: as text (any case) or bytes, or as the
 * stable middle of its base64url or standard base64 at each of the three
 * byte alignments, in the token text or its decoded bytes.
 */
static int
readable(const char *tok, const unsigned char *raw, size_t rawn, const char *s)
{
	char buf[256], b64[400];
	size_t n = strlen(s), m, tn = strlen(tok);

	if (contains_ci(tok, s) || contains(raw, rawn, s, n))
		return 1;
	for (size_t shift = 0; shift < 3; shift++) {
		memset(buf, 0, shift);
		memcpy(buf + shift, s, n);
		m = ref_encode((unsigned char *)buf, shift + n, b64);
		/* Drop the characters that mix in the neighbours' bits. */
		b64[m - 2] = '\0';
		if (contains(tok, tn, b64 + 4, strlen(b64 + 4)) ||
		    contains(raw, rawn, b64 + 4, strlen(b64 + 4)))
			return 1;
		for (char *p = b64; *p; p++)
			*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
		if (contains(tok, tn, b64 + 4, strlen(b64 + 4)) ||
		    contains(raw, rawn, b64 + 4, strlen(b64 + 4)))
			return 1;
	}
	return 0;
}

static void
test_address_unreadable(void **state)
{
	static const char *const parts[] = {ADDR40, "marketing.reader.one",
	    "mail.example-isp.br", "@mail.example-isp.br"};
	og_keyring *kr = ring("1 " S1);
	char tok[OG_TOKEN_MAX + 1];
	unsigned char raw[OG_TOKEN_MAX];
	size_t n;

	(void)state;
	/* The check itself: a token that merely encoded the address (the
	 * wire layout without encryption) is caught. */
	memset(raw, 0x5a, 18);
	memcpy(raw + 18, ADDR40, 40);
	memset(raw + 58, 0x5a, 16);
	ref_encode(raw, 74, tok);
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		assert_true(
		    readable(tok, (const unsigned char *)"", 0, parts[i]));
		for (size_t shift = 1; shift < 3; shift++) {
			ref_encode(raw + shift, 74 - shift, tok);
			assert_true(readable(
			    tok, (const unsigned char *)"", 0, parts[i]));
		}
		ref_encode(raw, 74, tok);
	}

	for (int round = 0; round < 50; round++) {
		assert_int_equal(og_token_make(kr, 1, ADDR40, "newsletter", NOW,
		                     tok, sizeof tok),
		    0);
		n = ref_decode(tok, raw);
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
			if (readable(tok, raw, n, parts[i]))
				fail_msg("%s readable in %s", parts[i], tok);
	}
	og_keyring_free(kr);
}

/* ---- threads ---- */

struct worker {
	const og_keyring *kr;
	int id;
	int failures;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char key[64], tok[OG_TOKEN_MAX + 1];
	og_token_info info;

	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "t%d.n%d@example.com", w->id, i);
		if (og_token_make(w->kr, 1 + i % 2, key, "newsletter", NOW, tok,
		        sizeof tok) != 0 ||
		    og_token_open(w->kr, tok, strlen(tok), &info) != 0 ||
		    strcmp(info.key, key) != 0 || info.purpose != 1 + i % 2)
			w->failures++;
		tok[i % strlen(tok)] ^= 1;
		if (og_token_open(w->kr, tok, strlen(tok), &info) == 0)
			w->failures++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	og_keyring *kr = ring("1 " S1 "\n2 " S2);
	struct worker w[2] = {{kr, 0, 0}, {kr, 1, 0}};
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(w[0].failures, 0);
	assert_int_equal(w[1].failures, 0);
	og_keyring_free(kr);
}

/*
 * The secrets stay out of core dumps: the keyring lives in a mapping
 * marked MADV_DONTDUMP ("dd" in its VmFlags), not on the heap.
 */
static void
test_keys_not_dumped(void **state)
{
	og_keyring *kr = ring("1 " S1 "\n2 " S2);
	uintptr_t a = (uintptr_t)kr, lo, hi;
	char line[512];
	int in = 0, found = 0, dd = 0;
	FILE *fp;

	(void)state;
	fp = fopen("/proc/self/smaps", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		/* a mapping's first line; field lines are "Name: ..." */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			found |= in;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
		}
	}
	fclose(fp);
	assert_true(found);
	assert_true(dd);
	og_keyring_free(kr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_make_rejects),
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_nonce_fresh),
	    cmocka_unit_test(test_open_uses_len),
	    cmocka_unit_test(test_purpose_preserved),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_char_substitutions),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_rotation),
	    cmocka_unit_test(test_unknown_kid),
	    cmocka_unit_test(test_kid_authenticated),
	    cmocka_unit_test(test_keyring_parse_good),
	    cmocka_unit_test(test_keyring_parse_bad),
	    cmocka_unit_test_setup_teardown(
	        test_keyring_load, setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test(test_keygen),
	    cmocka_unit_test(test_stream_id),
	    cmocka_unit_test(test_address_unreadable),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_keys_not_dumped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
