/*
 * unsubd_parse_test.c - table-driven tests of optgate-unsubd's parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "og_err.h"
#include "og_token.h"
#include "unsubd.h"

static void
test_route(void **state)
{
	static const struct {
		const char *name, *path;
		int route;
		const char *tok;
	} t[] = {
	    {"health", "/healthz", UNSUBD_R_HEALTH, NULL},
	    {"health slash", "/healthz/", UNSUBD_R_NOTFOUND, NULL},
	    {"root", "/", UNSUBD_R_NOTFOUND, NULL},
	    {"empty", "", UNSUBD_R_NOTFOUND, NULL},
	    {"no token", "/u/", UNSUBD_R_BADTOKEN, NULL},
	    {"u only", "/u", UNSUBD_R_NOTFOUND, NULL},
	    {"token", "/u/AbC-_09", UNSUBD_R_TOKEN, "AbC-_09"},
	    {"token slash", "/u/AbC/", UNSUBD_R_TOKEN, "AbC"},
	    {"prefs", "/u/AbC/prefs", UNSUBD_R_PREFS, "AbC"},
	    {"prefs slash", "/u/AbC/prefs/", UNSUBD_R_PREFS, "AbC"},
	    {"token two slashes", "/u/AbC//", UNSUBD_R_NOTFOUND, NULL},
	    {"prefs two slashes", "/u/AbC/prefs//", UNSUBD_R_NOTFOUND, NULL},
	    {"prefs longer", "/u/AbC/prefsx", UNSUBD_R_NOTFOUND, NULL},
	    {"other sub", "/u/AbC/x", UNSUBD_R_NOTFOUND, NULL},
	    {"plus", "/u/ab+c", UNSUBD_R_BADTOKEN, NULL},
	    {"equals", "/u/abc=", UNSUBD_R_BADTOKEN, NULL},
	    {"dot", "/u/a.b", UNSUBD_R_BADTOKEN, NULL},
	    {"space", "/u/a b", UNSUBD_R_BADTOKEN, NULL},
	    {"percent", "/u/a%41", UNSUBD_R_BADTOKEN, NULL},
	    {"double slash", "/u//x", UNSUBD_R_BADTOKEN, NULL},
	    {"other prefix", "/x/abc", UNSUBD_R_NOTFOUND, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *tok;
		size_t toklen;
		int r =
		    unsubd_route(t[i].path, strlen(t[i].path), &tok, &toklen);

		if (r != t[i].route)
			fail_msg(
			    "%s: route %d, want %d", t[i].name, r, t[i].route);
		if (t[i].tok != NULL && (toklen != strlen(t[i].tok) ||
		                            memcmp(tok, t[i].tok, toklen) != 0))
			fail_msg("%s: wrong token span", t[i].name);
	}
}

static void
test_route_long(void **state)
{
	char path[OG_TOKEN_MAX + 16];
	const char *tok;
	size_t toklen;

	(void)state;
	memcpy(path, "/u/", 3);
	memset(path + 3, 'A', OG_TOKEN_MAX);
	assert_int_equal(unsubd_route(path, 3 + OG_TOKEN_MAX, &tok, &toklen),
	    UNSUBD_R_TOKEN);
	assert_int_equal(toklen, OG_TOKEN_MAX);
	path[3 + OG_TOKEN_MAX] = 'A';
	assert_int_equal(unsubd_route(path, 4 + OG_TOKEN_MAX, &tok, &toklen),
	    UNSUBD_R_BADTOKEN);
}

static void
test_form(void **state)
{
	static const struct {
		const char *name, *body;
		int rc, n;
		const char *f0, *v0, *f1, *v1;
	} t[] = {
	    {"rfc8058", "List-Unsubscribe=One-Click", 0, 1, "List-Unsubscribe",
	        "One-Click", NULL, NULL},
	    {"empty", "", 0, 0, NULL, NULL, NULL, NULL},
	    {"two", "a=1&b=2", 0, 2, "a", "1", "b", "2"},
	    {"plus space", "a=x+y", 0, 1, "a", "x y", NULL, NULL},
	    {"escape", "c.news=1%2F7d", 0, 1, "c.news", "1/7d", NULL, NULL},
	    {"utf8", "n=%C3%A9", 0, 1, "n", "\xc3\xa9", NULL, NULL},
	    {"no value", "flag&b=2", 0, 2, "flag", "", "b", "2"},
	    {"empty value", "a=&b=", 0, 2, "a", "", "b", ""},
	    {"equals in value", "a=b=c", 0, 1, "a", "b=c", NULL, NULL},
	    {"trailing amp", "a=1&", 0, 1, "a", "1", NULL, NULL},
	    {"bad escape", "a=%G1", OG_EINVAL, 0, NULL, NULL, NULL, NULL},
	    {"short escape", "a=%4", OG_EINVAL, 0, NULL, NULL, NULL, NULL},
	    {"nul escape", "a=%00", OG_EINVAL, 0, NULL, NULL, NULL, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsubd_form f;
		int rc = unsubd_form_parse(t[i].body, strlen(t[i].body), &f);

		if (rc != t[i].rc)
			fail_msg("%s: rc %d want %d", t[i].name, rc, t[i].rc);
		if (rc == 0) {
			if (f.n != t[i].n)
				fail_msg(
				    "%s: n %d want %d", t[i].name, f.n, t[i].n);
			if (t[i].f0 != NULL &&
			    (strcmp(f.name[0], t[i].f0) != 0 ||
			        strcmp(f.value[0], t[i].v0) != 0))
				fail_msg("%s: field 0 %s=%s", t[i].name,
				    f.name[0], f.value[0]);
			if (t[i].f1 != NULL &&
			    (strcmp(f.name[1], t[i].f1) != 0 ||
			        strcmp(f.value[1], t[i].v1) != 0))
				fail_msg("%s: field 1 %s=%s", t[i].name,
				    f.name[1], f.value[1]);
		}
		unsubd_form_free(&f);
	}
}

static void
test_form_limits(void **state)
{
	static char body[UNSUBD_BODY_MAX + 2];
	unsubd_form f;
	int i;
	size_t n = 0;

	(void)state;
	memset(body, 'a', sizeof(body));
	assert_int_equal(
	    unsubd_form_parse(body, UNSUBD_BODY_MAX + 1, &f), OG_ETOOBIG);
	unsubd_form_free(&f);
	for (i = 0; i < UNSUBD_FIELDS_MAX + 1; i++) {
		body[n++] = 'x';
		body[n++] = '&';
	}
	assert_int_equal(unsubd_form_parse(body, n, &f), OG_EINVAL);
	unsubd_form_free(&f);
	assert_int_equal(unsubd_form_parse("s=a&s=b&c.a=0", 13, &f), 0);
	assert_true(unsubd_form_has(&f, "s", "b"));
	assert_false(unsubd_form_has(&f, "s", "c"));
	assert_string_equal(unsubd_form_get(&f, "s"), "a");
	assert_null(unsubd_form_get(&f, "x"));
	unsubd_form_free(&f);
}

static void
test_lang(void **state)
{
	static const struct {
		const char *accept;
		int lang;
	} t[] = {
	    {NULL, UNSUBD_EN},
	    {"", UNSUBD_EN},
	    {"pt-BR,pt;q=0.9,en;q=0.8", UNSUBD_PT},
	    {"es-419,es;q=0.9", UNSUBD_ES},
	    {"de-DE,de;q=0.9,es;q=0.5,en;q=0.4", UNSUBD_ES},
	    {"fr", UNSUBD_EN},
	    {"en;q=0.1, pt;q=0.2", UNSUBD_PT},
	    {"es;q=0", UNSUBD_EN},
	    {"PT_br", UNSUBD_PT},
	    {"es;q=garbage, pt", UNSUBD_PT},
	    {"*", UNSUBD_EN},
	    {"en-US,en;q=0.9,pt-BR;q=0.8", UNSUBD_EN},
	    {",,,;;;q=", UNSUBD_EN},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int l = unsubd_lang_pick(t[i].accept);

		if (l != t[i].lang)
			fail_msg("%s: got %d want %d",
			    t[i].accept ? t[i].accept : "(null)", l, t[i].lang);
	}
	assert_int_equal(unsubd_lang_code("pt-BR"), UNSUBD_PT);
	assert_int_equal(unsubd_lang_code("es"), UNSUBD_ES);
	assert_int_equal(unsubd_lang_code("xx"), -1);
	assert_int_equal(unsubd_lang_code(NULL), -1);
	assert_string_equal(unsubd_lang_tag(UNSUBD_PT), "pt-BR");
}

/*
 * A trusted proxy's X-Real-IP and X-Forwarded-For: the client is the
 * right-most entry that is not a trusted proxy, written as a peer's
 * address is (no port, no brackets, a mapped IPv4 address as IPv4).
 */
static void
test_fwd(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} a[] = {
	    {"192.0.2.1:1234", 0, "192.0.2.1"},
	    {"[2001:db8::1]:443", 0, "2001:db8::1"},
	    {"[2001:DB8:0::1]", 0, "2001:db8::1"},
	    {" \t198.51.100.7 ", 0, "198.51.100.7"},
	    {"::ffff:203.0.113.7", 0, "203.0.113.7"},
	    {"", 1, NULL},
	    {" \t ", 1, NULL},
	    {"unknown", -1, NULL},
	    {"[2001:db8::1", -1, NULL},
	    {"fe80::1%eth0", -1, NULL},
	    {"192.0.2.300", -1, NULL},
	};
	static const char *const trusted[] = {"10.0.0.1", "2001:db8::a"};
	static const struct {
		const char *l1, *l2;
		int rc;
		const char *out;
	} c[] = {
	    /* a balancer (trusted) before the proxy: the client, not it */
	    {"198.51.100.7, 10.0.0.1", NULL, 0, "198.51.100.7"},
	    /* what is left of the client's entry is hers to forge */
	    {"203.0.113.9, 198.51.100.7", "10.0.0.1", 0, "198.51.100.7"},
	    {"1.2.3.4,,  [2001:db8::7]:8443 , 10.0.0.1,", NULL, 0,
	        "2001:db8::7"},
	    {"10.0.0.1", "2001:db8::a", 0, "10.0.0.1"},
	    {"bogus, 10.0.0.1", NULL, -1, NULL},
	    {"198.51.100.7, bogus", NULL, -1, NULL},
	    {"", NULL, -1, NULL},
	    {" , ,", NULL, -1, NULL},
	};
	const char *xff[2];
	char out[64], *big;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		assert_int_equal(
		    unsubd_fwd_addr(a[i].in, strlen(a[i].in), out), a[i].rc);
		if (a[i].out)
			assert_string_equal(out, a[i].out);
	}
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		xff[0] = c[i].l1;
		xff[1] = c[i].l2;
		assert_int_equal(
		    unsubd_fwd_client(xff, c[i].l2 ? 2 : 1, trusted, 2, out),
		    c[i].rc);
		if (c[i].out)
			assert_string_equal(out, c[i].out);
	}
	/* a long chain of proxies: the client left of them all */
	big = malloc(14 + 10 * 5000 + 1);
	assert_non_null(big);
	strcpy(big, "198.51.100.7, ");
	for (k = 0; k < 5000; k++)
		strcat(big + 14 + 10 * k, "10.0.0.1, ");
	xff[0] = big;
	assert_int_equal(unsubd_fwd_client(xff, 1, trusted, 2, out), 0);
	assert_string_equal(out, "198.51.100.7");
	free(big);
}

static void
test_mask(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"cliente@yahoo.com", "c*****e@yahoo.com"},
	    {"ab@x.org", "a*****@x.org"},
	    {"a@x.org", "a*****@x.org"},
	    {"abc@x.org", "a*****c@x.org"},
	    {"noat", "*****"},
	    {"@x.org", "*****@x.org"},
	    /* SMTPUTF8 local parts: whole characters, never half of one. */
	    {"jos\xc3\xa9@x.org", "j*****\xc3\xa9@x.org"},
	    {"\xc3\xa9mile@x.org", "\xc3\xa9*****e@x.org"},
	    {"j\xc3\xa9@x.org", "j*****@x.org"},
	    {"\xe7\x94\xb0\xe4\xb8\xad@x.org", "\xe7\x94\xb0*****@x.org"},
	    {"\xf0\x9f\x98\x80x\xf0\x9f\x98\x80@x.org",
	        "\xf0\x9f\x98\x80*****\xf0\x9f\x98\x80@x.org"},
	};
	size_t i;
	char out[64];

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsubd_mask(t[i].in, out, sizeof(out));
		assert_string_equal(out, t[i].out);
	}
	/* The length of the local part is never shown. */
	unsubd_mask("averyveryverylongname@x.org", out, sizeof(out));
	assert_string_equal(out, "a*****e@x.org");
}

/* The user agent kept as proof: as sent, whole characters, bounded. */
static void
test_ua(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"Mozilla/5.0", "Mozilla/5.0"},
	    {"", ""},
	    /* quotes, a backslash and UTF-8 as sent (audit escapes) */
	    {"UA \"q\" \\ f\xc3\xbcr", "UA \"q\" \\ f\xc3\xbcr"},
	    {"tab\there", "tab\there"},
	    /* not UTF-8: its bytes as ISO-8859-1 */
	    {"f\xfcr \xe9", "f\xc3\xbcr \xc3\xa9"},
	    {"\xc3(", "\xc3\x83("},
	    {"\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80"},
	    /* 15 bytes fit in 16 */
	    {"123456789012345", "123456789012345"},
	    {"1234567890123456", "123456789012..."},
	    /* cut at a character, never inside one */
	    {"12345678901\xc3\xa9xyz", "12345678901..."},
	    {"1234567890\xc3\xa9xyzw", "1234567890\xc3\xa9..."},
	};
	size_t i;
	char out[16];

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsubd_ua(t[i].in, out, sizeof(out));
		assert_string_equal(out, t[i].out);
	}
}

static void
test_html_color_url(void **state)
{
	og_buf b;

	(void)state;
	og_buf_init(&b, 0);
	assert_int_equal(unsubd_html(&b, "<a href=\"x\">&'</a>"), 0);
	assert_string_equal(
	    b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
	og_buf_free(&b);
	assert_true(og_config_color_ok("#fff"));
	assert_true(og_config_color_ok("#1A2b3c"));
	assert_false(og_config_color_ok("red"));
	assert_false(og_config_color_ok("#ff;background:url(x)"));
	assert_false(og_config_color_ok(NULL));
	assert_true(unsubd_color_dark("#000000"));
	assert_true(unsubd_color_dark("#1f3a5f"));
	assert_false(unsubd_color_dark("#ffffff"));
	assert_false(unsubd_color_dark("#ffeb3b"));
	assert_true(og_config_url_ok("https://cdn.example.com/logo.png"));
	assert_true(og_config_url_ok("/logo.png"));
	assert_false(og_config_url_ok("//evil.example/x.png"));
	assert_false(og_config_url_ok("javascript:alert(1)"));
	assert_false(og_config_url_ok("http://x/y.png"));
	assert_false(og_config_url_ok("https://x/\"onerror=\"y"));
	assert_false(og_config_url_ok(""));
}

static void
test_base_path(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {NULL, ""},
	    {"", ""},
	    {"https://unsub.example.com", ""},
	    {"https://unsub.example.com/", ""},
	    {"https://www.example.com/optout", "/optout"},
	    {"https://www.example.com/optout/", "/optout"},
	    {"http://x.example/a/b-c_d.e~f/", "/a/b-c_d.e~f"},
	    {"https://x.example/a\"><script>", ""},
	    {"https://x.example/a b", ""},
	    {"ftp://x.example/a", ""},
	    {"/relative", ""},
	    /* "//host/..." in an href is another site: never a prefix */
	    {"https://www.example.com//optout", "/optout"},
	    {"https://www.example.com//evil.example/x/", "/evil.example/x"},
	    {"https://www.example.com///", ""},
	};
	size_t i;
	char out[128];

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		(void)og_config_base_path(t[i].in, out, sizeof(out));
		if (strcmp(out, t[i].out) != 0)
			fail_msg("%s: got '%s' want '%s'",
			    t[i].in ? t[i].in : "(null)", out, t[i].out);
	}
}

static void
test_caps(void **state)
{
	og_cap week = {1, 7 * 86400}, odd = {3, 86400}, none = {0, 0};

	(void)state;
	assert_int_equal(unsubd_cap_choice(none), 0);
	assert_int_equal(unsubd_cap_choice(week), 1);
	assert_int_equal(unsubd_cap_choice(odd), -1);
	assert_int_equal(unsubd_cap_parse("1/7d"), 1);
	assert_int_equal(unsubd_cap_parse("0"), 0);
	assert_int_equal(unsubd_cap_parse("5/1d"), -1);
	assert_int_equal(unsubd_cap_parse(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),
	    cmocka_unit_test(test_route_long),
	    cmocka_unit_test(test_form),
	    cmocka_unit_test(test_form_limits),
	    cmocka_unit_test(test_lang),
	    cmocka_unit_test(test_fwd),
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_ua),
	    cmocka_unit_test(test_html_color_url),
	    cmocka_unit_test(test_base_path),
	    cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
