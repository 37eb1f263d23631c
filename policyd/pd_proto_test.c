/*
 * pd_proto_test.c - table-driven tests of the policy request parser and
 * reply writer: complete, incomplete and malformed requests, caps.  One
 * cmocka test per named case; run with CMOCKA_MESSAGE_OUTPUT=TAP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "og_buf.h"
#include "pd_proto.h"

#define RQ "request=smtpd_access_policy\n"

enum gen { G_NONE, G_LONGVAL, G_MANYATTRS, G_BIGREQ, G_LINE_OK };

struct tcase {
	const char *name;
	const char *in;
	size_t len;        /* 0: strlen(in) */
	int want;          /* PD_OK, PD_MORE, PD_BAD */
	const char *why;   /* PD_BAD: reason */
	size_t used;       /* PD_OK: bytes consumed (0: whole input) */
	const char *rcpt;  /* PD_OK: recipient (NULL: absent) */
	const char *state; /* PD_OK: protocol_state */
	enum gen gen;
};

static const struct tcase cases[] = {
    {"minimal request", RQ "\n", 0, PD_OK, NULL, 0, NULL, NULL, G_NONE},
    {"full RCPT request",
        RQ "protocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=192.0.2.1\nclient_name=mail.example\n"
           "sender=news@example.com\nrecipient=ana@example.org\n"
           "instance=12.34.5\nqueue_id=\nsize=0\n\n",
        0, PD_OK, NULL, 0, "ana@example.org", "RCPT", G_NONE},
    {"empty value kept", RQ "recipient=\n\n", 0, PD_OK, NULL, 0, "", NULL,
        G_NONE},
    {"value with '=' and spaces", RQ "recipient=a=b c@d\n\n", 0, PD_OK, NULL, 0,
        "a=b c@d", NULL, G_NONE},
    {"unknown attributes ignored", RQ "future_attr=x\nccert_subject=y\n\n", 0,
        PD_OK, NULL, 0, NULL, NULL, G_NONE},
    {"CRLF tolerated",
        "request=smtpd_access_policy\r\nrecipient=x@y\r\n"
        "\r\n",
        0, PD_OK, NULL, 0, "x@y", NULL, G_NONE},
    {"second request left in buffer", RQ "recipient=a@b\n\n" RQ, 0, PD_OK, NULL,
        sizeof(RQ "recipient=a@b\n\n") - 1, "a@b", NULL, G_NONE},
    {"UTF-8 value", RQ "recipient=jos\xc3\xa9@example.org\n\n", 0, PD_OK, NULL,
        0, "jos\xc3\xa9@example.org", NULL, G_NONE},
    {"line at the cap", NULL, 0, PD_OK, NULL, 0, NULL, NULL, G_LINE_OK},

    {"empty input", "", 0, PD_MORE, NULL, 0, NULL, NULL, G_NONE},
    {"no blank line yet", RQ "recipient=a@b\n", 0, PD_MORE, NULL, 0, NULL, NULL,
        G_NONE},
    {"half a line", RQ "recip", 0, PD_MORE, NULL, 0, NULL, NULL, G_NONE},

    {"no request attribute", "recipient=a@b\n\n", 0, PD_BAD,
        "no request= attribute", 0, NULL, NULL, G_NONE},
    {"blank line only", "\n", 0, PD_BAD, "no request= attribute", 0, NULL, NULL,
        G_NONE},
    {"unknown request type", "request=junk\n\n", 0, PD_BAD,
        "unknown request type", 0, NULL, NULL, G_NONE},
    {"line without =", RQ "garbage\n\n", 0, PD_BAD, "line without '='", 0, NULL,
        NULL, G_NONE},
    {"line without = before the end", RQ "garbage\n", 0, PD_BAD,
        "line without '='", 0, NULL, NULL, G_NONE},
    {"empty name", RQ "=value\n\n", 0, PD_BAD, "empty attribute name", 0, NULL,
        NULL, G_NONE},
    {"upper-case name", RQ "Recipient=a@b\n\n", 0, PD_BAD, "bad attribute name",
        0, NULL, NULL, G_NONE},
    {"space in name", RQ "reci pient=a@b\n\n", 0, PD_BAD, "bad attribute name",
        0, NULL, NULL, G_NONE},
    {"NUL in value", RQ "recipient=a\0b@c\n\n",
        sizeof(RQ "recipient=a\0b@c\n\n") - 1, PD_BAD, "NUL byte in request", 0,
        NULL, NULL, G_NONE},
    {"NUL in name", RQ "reci\0pient=a@b\n\n",
        sizeof(RQ "reci\0pient=a@b\n\n") - 1, PD_BAD, "NUL byte in request", 0,
        NULL, NULL, G_NONE},
    {"repeated known attribute", RQ "recipient=a@b\nrecipient=c@d\n\n", 0,
        PD_BAD, "repeated attribute", 0, NULL, NULL, G_NONE},
    {"100 KB value", NULL, 0, PD_BAD, "line too long", 0, NULL, NULL,
        G_LONGVAL},
    {"10,000 attributes", NULL, 0, PD_BAD, "too many attributes", 0, NULL, NULL,
        G_MANYATTRS},
    {"request over the cap", NULL, 0, PD_BAD, "request too long", 0, NULL, NULL,
        G_BIGREQ},
};

static char *
gen_input(const struct tcase *c, size_t *len)
{
	og_buf b;
	int i;

	og_buf_init(&b, 0);
	switch (c->gen) {
	case G_LONGVAL:
		og_buf_adds(&b, RQ "recipient=");
		for (i = 0; i < 100 * 1024; i++)
			og_buf_addc(&b, 'x');
		og_buf_adds(&b, "\n\n");
		break;
	case G_MANYATTRS:
		og_buf_adds(&b, RQ);
		for (i = 0; i < 10000; i++)
			og_buf_printf(&b, "a%d=1\n", i);
		og_buf_adds(&b, "\n");
		break;
	case G_BIGREQ:
		og_buf_adds(&b, RQ);
		for (i = 0; i < 100; i++) {
			int j;

			og_buf_printf(&b, "x%d=", i);
			for (j = 0; j < 300; j++)
				og_buf_addc(&b, 'v');
			og_buf_addc(&b, '\n');
		}
		og_buf_adds(&b, "\n");
		break;
	case G_LINE_OK:
		og_buf_adds(&b, RQ "x=");
		for (i = 0; i < PD_LINE_MAX - 2; i++)
			og_buf_addc(&b, 'v');
		og_buf_adds(&b, "\n\n");
		break;
	default:
		og_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return og_buf_take(&b);
}

static void
run_case(void **state)
{
	const struct tcase *c = *state;
	char *buf;
	size_t len = 0, used = 0;
	pd_req r;
	const char *why = NULL;
	int rc;

	if (c->gen != G_NONE) {
		buf = gen_input(c, &len);
	} else {
		len = c->len ? c->len : strlen(c->in);
		buf = malloc(len + 1);
		memcpy(buf, c->in, len);
		buf[len] = 0;
	}
	rc = pd_proto_parse(buf, len, &r, &used, &why);
	assert_int_equal(rc, c->want);
	if (rc == PD_BAD)
		assert_string_equal(why, c->why);
	if (rc == PD_OK) {
		assert_int_equal(used, c->used ? c->used : len);
		if (c->rcpt)
			assert_string_equal(r.a[PD_A_RECIPIENT], c->rcpt);
		else
			assert_null(r.a[PD_A_RECIPIENT]);
		if (c->state)
			assert_string_equal(r.a[PD_A_STATE], c->state);
		assert_string_equal(r.a[PD_A_REQUEST], "smtpd_access_policy");
	}
	free(buf);
}

/* Byte by byte: PD_MORE until the blank line, then the same request. */
static void
test_incremental(void **state)
{
	const char *in = RQ "protocol_state=RCPT\nrecipient=a@b\n\n";
	size_t n = strlen(in), i, used;
	char buf[256];
	pd_req r;
	const char *why;

	for (i = 0; i < n; i++) {
		memcpy(buf, in, i);
		assert_int_equal(
		    pd_proto_parse(buf, i, &r, &used, &why), PD_MORE);
	}
	memcpy(buf, in, n);
	assert_int_equal(pd_proto_parse(buf, n, &r, &used, &why), PD_OK);
	assert_int_equal(used, n);
	assert_string_equal(r.a[PD_A_RECIPIENT], "a@b");
}

static void
test_reply(void **state)
{
	og_buf b;

	og_buf_init(&b, 4096);
	assert_int_equal(pd_proto_reply(&b, "DUNNO"), 0);
	assert_string_equal(b.data, "action=DUNNO\n\n");
	og_buf_reset(&b);
	/* A newline in reply text could inject a second reply. */
	assert_int_equal(pd_proto_reply(&b, "550 5.7.1 <a\n@b>\r"), 0);
	assert_string_equal(b.data, "action=550 5.7.1 <a?@b>?\n\n");
	og_buf_free(&b);
}

int
main(void)
{
	struct CMUnitTest t[sizeof(cases) / sizeof(cases[0]) + 2];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&t[n], 0, sizeof(t[n]));
		t[n].name = cases[i].name;
		t[n].test_func = run_case;
		t[n].initial_state = (void *)&cases[i];
		n++;
	}
	t[n++] = (struct CMUnitTest)cmocka_unit_test(test_incremental);
	t[n++] = (struct CMUnitTest)cmocka_unit_test(test_reply);
	return _cmocka_run_group_tests("pd_proto", t, n, NULL, NULL);
}
