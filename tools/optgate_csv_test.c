/*
 * optgate_csv_test.c - unit tests for the import CSV reader: a table of
 * named inputs with the records (fields joined by '|') or errors they
 * must give, read from memory and through a pipe, plus bounded
 * memory on a long line and the UTF-8 check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_err.h"
#include "optgate_csv.c" /* the reader is part of the CLI, not lib/ */

struct csv_case {
	const char *name;
	const char *in;
	size_t max;       /* 0: default */
	const char *want; /* records: "L:a|b|c" or "L:!error prefix", ';' */
};

static const struct csv_case cases[] = {
    {"simple", "a,b,c\n1,2,3\n", 0, "1:a|b|c;2:1|2|3"},
    {"crlf", "a,b\r\n1,2\r\n", 0, "1:a|b;2:1|2"},
    {"no final newline", "a,b\n1,2", 0, "1:a|b;2:1|2"},
    {"bom skipped",
        "\xEF\xBB\xBF"
        "address\nx@y.z\n",
        0, "1:address;2:x@y.z"},
    {"utf-16 le bom: the first record says so",
        "\xFF\xFE"
        "a,b\nc\n",
        0, "1:!UTF-16 text;2:c"},
    {"utf-16 be bom: the first record says so",
        "\xFE\xFF"
        "a,b\n",
        0, "1:!UTF-16 text"},
    {"blank lines skipped", "a\n\n\r\nb\n", 0, "1:a;4:b"},
    {"empty fields", "a,,\n", 0, "1:a||"},
    {"a spreadsheet's empty rows skipped", "a,b\n,\n\"\",\"\"\r\nc,d\n,\n", 0,
        "1:a|b;4:c|d"},
    {"a row of spaces is not empty", " , \n", 0, "1: | "},
    {"quoted comma", "\"a,b\",c\n", 0, "1:a,b|c"},
    {"doubled quote", "\"say \"\"hi\"\"\",x\n", 0, "1:say \"hi\"|x"},
    {"newline inside quotes", "\"a\nb\",c\nd\n", 0, "1:a\nb|c;3:d"},
    {"spaces around quoted", "  \"a\"  ,b\n", 0, "1:a|b"},
    {"unquoted spaces kept", " a , b \n", 0, "1: a | b "},
    {"quote inside unquoted", "ab\"c,d\nok\n", 0,
        "1:!bad quoting: a quote inside;2:ok"},
    {"text after closing quote", "\"ab\"c,d\nok\n", 0,
        "1:!bad quoting: text after;2:ok"},
    {"unterminated quote at eof", "ok\n\"abc,d\n", 0,
        "1:ok;2:!bad quoting: unterminated"},
    {"unterminated quote resyncs", "\"abc,d\nx,y\n", 16,
        "1:!bad quoting: unterminated;2:x|y"},
    {"unterminated quote in a long input: next line numbers right",
        "\"abc,d\nx,y\n0123456789012345678901\nok\n", 16,
        "1:!bad quoting: unterminated;2:x|y;3:!line too long;4:ok"},
    {"line too long skipped", "0123456789012345678901234567890123\nok\n", 16,
        "1:!line too long;2:ok"},
    {"long line at eof", "ok\n0123456789012345678901234567890123", 16,
        "1:ok;2:!line too long"},
    {"too many columns",
        ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n"
        "a\n",
        0, "1:!more than 64 columns;2:a"},
    {"empty input", "", 0, ""},
    {"only blank lines", "\n\n", 0, ""},
    {"nul byte kept", "a\0b,c\n", 0, "1:a\\0b|c"},
    {"stray quote does not swallow the next line", "a,\"b\nc\"d,e\nf\n", 0,
        "1:!bad quoting: unterminated;2:!bad quoting: a quote inside;3:f"},
    {"lone cr kept", "a\rb\n", 0, "1:a\rb"},
    {"line numbers after quoted newlines", "\"1\n2\n3\"\nx\n", 0,
        "1:1\n2\n3;4:x"},
};

/* Render every record of the input like the want strings. */
static void
render(og_csv *c, og_buf *out)
{
	og_csv_rec r;
	int rc, i;

	while ((rc = og_csv_next(c, &r)) != 0) {
		if (out->len)
			og_buf_addc(out, ';');
		og_buf_printf(out, "%lu:", r.line);
		if (rc < 0) {
			assert_non_null(r.error);
			og_buf_printf(out, "!%s", r.error);
			continue;
		}
		for (i = 0; i < r.nfields; i++) {
			size_t k;

			if (i)
				og_buf_addc(out, '|');
			for (k = 0; k < r.len[i]; k++) {
				if (r.field[i][k] == 0)
					og_buf_adds(out, "\\0");
				else
					og_buf_addc(out, r.field[i][k]);
			}
			assert_int_equal(r.field[i][r.len[i]], 0);
		}
	}
}

/* The want string, with error records cut to the given prefix. */
static int
matches(const char *got, const char *want)
{
	while (*want) {
		const char *we = strchr(want, ';');
		const char *ge = strchr(got, ';');
		size_t wl = we ? (size_t)(we - want) : strlen(want);
		size_t gl = ge ? (size_t)(ge - got) : strlen(got);
		const char *bang = memchr(want, '!', wl);

		if (bang ? gl < wl || memcmp(got, want, wl) != 0
		         : gl != wl || memcmp(got, want, wl) != 0)
			return 0;
		want += wl + (we ? 1 : 0);
		got += gl + (ge ? 1 : 0);
	}
	return *got == 0;
}

static void
test_case(void **state)
{
	const struct csv_case *tc = *state;
	size_t len = strlen(tc->in);
	og_csv *c;
	og_buf out;
	int p[2];

	if (strcmp(tc->name, "nul byte kept") == 0)
		len = 6;
	og_buf_init(&out, 0);
	c = og_csv_new_mem(tc->in, len, tc->max);
	render(c, &out);
	og_csv_free(c);
	if (!matches(out.data ? out.data : "", tc->want))
		fail_msg("%s: got \"%s\", want \"%s\"", tc->name,
		    out.data ? out.data : "", tc->want);
	og_buf_reset(&out);

	/* the same through a pipe, so reads end anywhere */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], tc->in, len), (ssize_t)len);
	close(p[1]);
	c = og_csv_new_fd(p[0], tc->max);
	render(c, &out);
	og_csv_free(c);
	close(p[0]);
	if (!matches(out.data ? out.data : "", tc->want))
		fail_msg("%s (fd): got \"%s\", want \"%s\"", tc->name,
		    out.data ? out.data : "", tc->want);
	og_buf_free(&out);
}

struct feed {
	int fd;
	size_t n;
};

static void *
feeder(void *arg)
{
	struct feed *f = arg;
	static char chunk[65536];
	size_t left = f->n;

	memset(chunk, 'x', sizeof(chunk));
	if (write(f->fd, "head\n", 5) != 5)
		return NULL;
	while (left) {
		size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
		ssize_t w = write(f->fd, chunk, k);

		if (w <= 0)
			break;
		left -= (size_t)w;
	}
	if (write(f->fd, "\nlast,1\n", 8) != 8)
		return NULL;
	close(f->fd);
	return NULL;
}

/*
 * An unterminated quote in a record longer than the limit: the error's
 * raw text is its own line (what the reject file shows, to be fixed and
 * imported again), not the lines the quote swallowed.
 */
static void
test_unterminated_raw(void **state)
{
	static const char in[] = "\"abc,d\r\nx,y\n0123456789012345678901\n";
	og_csv *c = og_csv_new_mem(in, sizeof(in) - 1, 16);
	og_csv_rec r;

	(void)state;
	assert_int_equal(og_csv_next(c, &r), OG_EINVAL);
	assert_int_equal(r.line, 1);
	assert_int_equal(r.rawlen, 6);
	assert_memory_equal(r.raw, "\"abc,d", 6);
	assert_int_equal(og_csv_next(c, &r), 1);
	assert_int_equal(r.line, 2);
	og_csv_free(c);
}

/* A 16 MiB line is skipped without being held; reading goes on. */
static void
test_huge_line(void **state)
{
	struct feed f;
	pthread_t th;
	og_csv_rec r;
	og_csv *c;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	f.fd = p[1];
	f.n = 16u << 20;
	assert_int_equal(pthread_create(&th, NULL, feeder, &f), 0);
	c = og_csv_new_fd(p[0], 0);
	assert_int_equal(og_csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "head");
	assert_int_equal(og_csv_next(c, &r), OG_ETOOBIG);
	assert_int_equal(r.line, 2);
	assert_true(r.rawlen <= 200);
	assert_int_equal(og_csv_next(c, &r), 1);
	assert_int_equal(r.line, 3);
	assert_string_equal(r.field[0], "last");
	assert_int_equal(og_csv_next(c, &r), 0);
	assert_true(c->cap <= OG_CSV_RECORD_MAX + CHUNK);
	assert_true(og_csv_offset(c) == 5 + f.n + 8);
	og_csv_free(c);
	pthread_join(th, NULL);
	close(p[0]);
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		int ok;
		size_t bad;
	} u[] = {
	    {"plain ascii", 1, 0},
	    {"Jo\xC3\xA3o", 1, 0},      /* João */
	    {"\xE2\x82\xAC", 1, 0},     /* euro */
	    {"\xF0\x9F\x98\x80", 1, 0}, /* emoji */
	    {"Jo\xE3o", 0, 2},          /* latin1 */
	    {"\xC0\xAF", 0, 0},         /* overlong */
	    {"\xE0\x80\xAF", 0, 0},     /* overlong 3 */
	    {"\xED\xA0\x80", 0, 0},     /* surrogate */
	    {"\xF4\x90\x80\x80", 0, 0}, /* > U+10FFFF */
	    {"ab\xC3", 0, 2},           /* truncated */
	    {"\xFF", 0, 0},
	};
	size_t i, bad;

	(void)state;
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		bad = 99;
		assert_int_equal(
		    og_csv_utf8_valid(u[i].s, strlen(u[i].s), &bad), u[i].ok);
		if (!u[i].ok)
			assert_int_equal(bad, u[i].bad);
	}
	assert_int_equal(og_csv_utf8_valid("a\0b", 3, &bad), 0);
	assert_int_equal(bad, 1);
}

/* What a spreadsheet pasted from a web page hides in an address. */
static void
test_invisible(void **state)
{
	static const struct {
		const char *s;
		int found;
		size_t off;
		uint32_t cp;
	} u[] = {
	    {"ana@example.com", 0, 0, 0},
	    {"jo\xC3\xA3o@example.com", 0, 0, 0},      /* João */
	    {"\xE2\x82\xAC@example.com", 0, 0, 0},     /* euro */
	    {"\xF0\x9F\x98\x80@example.com", 0, 0, 0}, /* emoji */
	    {"\xD9\x85\xE2\x80\x8C@x.ir", 0, 0, 0},    /* ZWNJ: a word */
	    {"\xC2\xA0"
	     "ana@example.com",
	        1, 0, 0xA0},                               /* no-break sp */
	    {"ana\xE2\x80\x8B@example.com", 1, 3, 0x200B}, /* zero width */
	    {"an\xC2\xAD"
	     "a@example.com",
	        1, 2, 0xAD},                                /* soft hyphen */
	    {"ana@example.com\xE2\x80\x8E", 1, 15, 0x200E}, /* LRM */
	    {"ana\xEF\xBB\xBF@x.com", 1, 3, 0xFEFF},        /* BOM */
	    {"o\xC2\x92"
	     "brien@x.com",
	        1, 1, 0x92}, /* cp1252 read as latin1 */
	    {"a\xE3\x80\x80"
	     "b@x.com",
	        1, 1, 0x3000}, /* ideographic space */
	    {"a\xE2\x80\xAF"
	     "b@x.com",
	        1, 1, 0x202F}, /* narrow no-break */
	    {"a\xE2\x81\xA0"
	     "b@x.com",
	        1, 1, 0x2060}, /* word joiner */
	};
	size_t i, off;
	uint32_t cp;

	(void)state;
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		int len;

		off = 99;
		cp = 0;
		len = og_csv_invisible(u[i].s, strlen(u[i].s), &off, &cp);
		assert_int_equal(len != 0, u[i].found);
		if (u[i].found) {
			assert_int_equal(off, u[i].off);
			assert_int_equal(cp, u[i].cp);
			/* its length in bytes, to skip it */
			assert_int_equal(len, g_unichar_to_utf8(cp, NULL));
		}
	}
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]), i;
	struct CMUnitTest *t = calloc(n + 4, sizeof(*t));
	int rc;

	for (i = 0; i < n; i++) {
		t[i].name = cases[i].name;
		t[i].test_func = test_case;
		t[i].initial_state = (void *)&cases[i];
	}
	t[n].name = "16 MiB line, bounded memory";
	t[n].test_func = test_huge_line;
	t[n + 1].name = "utf-8 check";
	t[n + 1].test_func = test_utf8;
	t[n + 2].name = "unterminated quote: the error shows its own line";
	t[n + 2].test_func = test_unterminated_raw;
	t[n + 3].name = "invisible characters";
	t[n + 3].test_func = test_invisible;
	rc = _cmocka_run_group_tests("optgate_csv", t, n + 4, NULL, NULL);
	free(t);
	return rc;
}
