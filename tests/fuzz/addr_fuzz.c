/*
 * addr_fuzz.c - libFuzzer target for og_addr_parse() and og_addr_typo().
 *
 * Feeds the input as one address under two rule sets, checks the
 * invariants a caller relies on (NUL-terminated forms within their
 * limits, domain inside norm, error set exactly on failure) and runs the
 * typo check on every parsed domain and on the raw input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_addr.h"

static const char *const plus[] = {"outlook.com", "hotmail.com"};

static void
check(const og_addr *a, int rc)
{
	if (rc != 0) {
		if (a->error == NULL || a->norm[0] != 0 || a->key[0] != 0)
			abort();
		return;
	}
	if (a->error != NULL || strlen(a->norm) > 254 ||
	    strlen(a->key) > strlen(a->norm) || a->domain < a->norm ||
	    a->domain > a->norm + strlen(a->norm) || a->domain[-1] != '@')
		abort();
	if (og_addr_domain_valid(a->domain, strlen(a->domain)) != 0)
		abort();
	(void)og_addr_typo(a->domain);
}

/*
 * The forms the store keeps name the same person: the norm form parses
 * to itself, and raw (what export writes, import reads back) to the same
 * norm and key.
 */
static void
fixed_point(const og_addr *a, const og_addr_rules *r)
{
	static og_addr b;

	if (og_addr_parse(a->norm, strlen(a->norm), r, &b) != 0 ||
	    strcmp(a->norm, b.norm) != 0 || strcmp(a->key, b.key) != 0)
		abort();
	if (og_addr_parse(a->raw, strlen(a->raw), r, &b) != 0 ||
	    strcmp(a->norm, b.norm) != 0 || strcmp(a->key, b.key) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static og_addr a;
	og_addr_rules r = {0, 1, plus, 2};
	char d[OG_DOMAIN_MAX + 1];
	size_t n = size < OG_DOMAIN_MAX ? size : OG_DOMAIN_MAX;

	if (og_addr_parse((const char *)data, size, NULL, &a) == 0)
		fixed_point(&a, NULL);
	check(&a, og_addr_parse((const char *)data, size, NULL, &a));
	if (og_addr_parse((const char *)data, size, &r, &a) == 0)
		fixed_point(&a, &r);
	check(&a, og_addr_parse((const char *)data, size, &r, &a));
	if (size <= OG_ADDR_INPUT_MAX && memchr(data, 0, size) == NULL) {
		static char in[OG_ADDR_INPUT_MAX + 1],
		    env[2 * OG_ADDR_INPUT_MAX + 3];
		const char *e;

		memcpy(in, data, size);
		in[size] = 0;
		e = og_addr_envelope(in, env, sizeof(env));
		if ((e != in && e != env) || strlen(e) > 2 * size + 2)
			abort();
		check(&a, og_addr_parse(e, strlen(e), NULL, &a));
	}
	memcpy(d, data, n);
	d[n] = 0;
	(void)og_addr_typo(d);
	(void)og_addr_domain_valid((const char *)data, size);
	return 0;
}
