/*
 * token_fuzz.c - libFuzzer target for og_token: the input is tried as a
 * token (og_token_open on a fixed keyring, og_token_kid), as a keys file
 * (og_keyring_parse, and a keyring that parses must sign and verify), and
 * as a match key (og_token_make then og_token_open must give it back).
 * Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_err.h"
#include "og_token.h"

#define NOW 1793762745LL /* 2026-11-04 */

static og_keyring *ring;

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
round_trip(const og_keyring *kr, const char *key, uint8_t kid)
{
	char tok[OG_TOKEN_MAX + 1];
	og_token_info info;

	check(og_token_make(kr, OG_TOKEN_CONFIRM, key, "newsletter", NOW, tok,
	          sizeof tok) == 0);
	check(og_token_open(kr, tok, strlen(tok), &info) == 0);
	check(strcmp(info.key, key) == 0);
	check(info.kid == kid && info.purpose == OG_TOKEN_CONFIRM);
	check(info.stream_id == og_token_stream_id("newsletter"));
	check(info.issued == NOW - NOW % 86400);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[4096], err[256];
	og_keyring *kr;
	og_token_info info;
	int rc;

	if (ring == NULL &&
	    og_keyring_parse("1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
	                     "2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n",
	        &ring, err, sizeof err) != 0)
		abort();

	rc = og_token_open(ring, (const char *)data, size, &info);
	check(rc == 0 || rc == OG_EBADTOKEN || rc == OG_ENOKEY);
	if (rc == 0)
		check(memchr(info.key, '\0', sizeof info.key) != NULL);
	/* the key id a token names, read without the key: the one it has */
	{
		int kid = og_token_kid((const char *)data, size);

		check(kid == -1 || (kid >= 1 && kid <= 255));
		if (rc == 0)
			check(kid == info.kid);
	}

	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	rc = og_keyring_parse(text, &kr, err, sizeof err);
	check(rc == 0 || rc == OG_EINVAL || rc == OG_ENOKEY);
	check(rc == 0 ? kr != NULL : kr == NULL && err[0] != '\0');
	if (rc == 0) {
		round_trip(kr, "fuzz@example.com", og_keyring_signing_id(kr));
		og_keyring_free(kr);
	}

	if (size > 0 && size <= OG_ADDR_MAX && strlen(text) == size)
		round_trip(ring, text, 2);
	return 0;
}
