/*
 * http_fuzz.c - libFuzzer target for optgate-unsubd's parsers of peer
 * input: the request path, the form body, Accept-Language, a trusted
 * proxy's X-Real-IP and X-Forwarded-For, and the HTML escaping of what
 * they yield.
 *
 * Input: one selector byte, then the text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_buf.h"
#include "unsubd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is s an address (as unsubd writes a peer's)? */
static int
addr_text(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/*
 * A trusted proxy's X-Real-IP (the whole text) and X-Forwarded-For
 * lines (the text's lines): what they yield is an address.
 */
static void
fwd(char *z, size_t len)
{
	static const char *const trusted[] = {
	    "192.0.2.1", "2001:db8::1", "10.0.0.1"};
	const char *xff[16];
	char out[INET6_ADDRSTRLEN], *p, *nl;
	int n = 0;

	if (unsubd_fwd_addr(z, len, out) == 0 && !addr_text(out))
		abort();
	for (p = z; n < 16; p = nl + 1) {
		xff[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	if (unsubd_fwd_client(xff, n, trusted, 3, out) == 0 && !addr_text(out))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t len, toklen;
	const char *tok;
	char *z;
	unsubd_form f;
	og_buf b;
	int i;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	len = size - 1;
	z = malloc(len + 1);
	if (z == NULL)
		return 0;
	memcpy(z, s, len);
	z[len] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (unsubd_route(s, len, &tok, &toklen) != 0 && tok != NULL &&
		    (tok < s || tok + toklen > s + len))
			abort();
		break;
	case 1:
		og_buf_init(&b, 0);
		if (unsubd_form_parse(s, len, &f) == 0) {
			for (i = 0; i < f.n; i++) {
				(void)unsubd_html(&b, f.name[i]);
				(void)unsubd_html(&b, f.value[i]);
			}
			(void)unsubd_form_get(&f, "csrf");
			(void)unsubd_cap_parse(unsubd_form_get(&f, "c.x"));
		}
		unsubd_form_free(&f);
		og_buf_free(&b);
		break;
	case 2:
		if (unsubd_lang_pick(z) >= UNSUBD_NLANG)
			abort();
		(void)unsubd_lang_code(z);
		break;
	default: {
		char out[64];

		unsubd_mask(z, out, sizeof(out));
		unsubd_ua(z, out, sizeof(out));
		(void)og_config_color_ok(z);
		(void)unsubd_color_dark(z);
		(void)og_config_url_ok(z);
		fwd(z, len);
		break;
	}
	}
	free(z);
	return 0;
}
