/*
 * mg-tokdecode - test helper: decode tokens found in delivered mail.
 *
 *   mg-tokdecode KEYSFILE TOKEN     prints "KEY STREAM_ID PURPOSE"
 *
 * Exit 0, or 1 when the token does not open (forged, unknown key).
 * LIMITS: test tool; keys file permissions are not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_err.h"
#include "og_token.h"

int
main(int argc, char **argv)
{
	og_keyring *kr = NULL;
	og_token_info ti;
	char err[256], *text;
	FILE *f;
	long n;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: mg-tokdecode KEYSFILE TOKEN\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || n > 65536) {
		fclose(f);
		return 2;
	}
	text = calloc(1, (size_t)n + 1);
	if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(text);
		return 2;
	}
	fclose(f);
	rc = og_keyring_parse(text, &kr, err, sizeof(err));
	free(text);
	if (rc < 0) {
		fprintf(stderr, "mg-tokdecode: %s\n", err);
		return 2;
	}
	rc = og_token_open(kr, argv[2], strlen(argv[2]), &ti);
	if (rc < 0) {
		fprintf(stderr, "mg-tokdecode: %s\n", og_strerror(rc));
		og_keyring_free(kr);
		return 1;
	}
	printf(
	    "%s %u %u\n", ti.key, (unsigned)ti.stream_id, (unsigned)ti.purpose);
	og_keyring_free(kr);
	return 0;
}
