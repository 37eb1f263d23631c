/*
 * og_log_test.c - a log call writes one line: peer text with a newline,
 * a carriage return or another control character in it cannot start a
 * line of its own (a forged decision line), whatever the call site did.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og_log.h"

/* What one og_log_info(fmt, arg) wrote to stderr. */
static void
logged(const char *arg, char *out, size_t size)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	og_log_info("NOQUEUE: optgate: reject: to=<%s>, reason=optout", arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, size - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void
test_one_line(void **state)
{
	static const char *const peer[] = {
	    ("a@b.example>, reason=x\nog[1]: NOQUEUE: optgate: accept: "
	     "to=<victim@b.example"),
	    "a@b.example\r\nog[1]: forged",
	    "a@b.example\rog[1]: forged over the line on a terminal",
	    "a@b.example\033[2K\033[1Gforged",
	    "a@b.example\x7f\x01\x1f",
	};
	char out[4096];

	(void)state;
	og_log_open("og_log_test", OG_LOG_STDERR);
	for (size_t i = 0; i < sizeof(peer) / sizeof(peer[0]); i++) {
		size_t len;

		logged(peer[i], out, sizeof(out));
		len = strlen(out);
		assert_true(len > 0);
		assert_int_equal(out[len - 1], '\n');
		for (size_t j = 0; j + 1 < len; j++)
			if ((unsigned char)out[j] < 0x20 ||
			    (unsigned char)out[j] == 0x7f)
				fail_msg("case %zu: control byte 0x%02x at %zu "
				         "in %s",
				    i, (unsigned char)out[j], j, out);
	}
	/* The escape says what was there. */
	logged("x\ny", out, sizeof(out));
	assert_non_null(strstr(out, "to=<x\\x0ay>"));
}

static void
test_plain_text_unchanged(void **state)
{
	char out[4096];

	(void)state;
	og_log_open("og_log_test", OG_LOG_STDERR);
	/* UTF-8 (an SMTPUTF8 address) and escapes made upstream stay. */
	logged("jos\xc3\xa9@exemplo.com.br \\x0a", out, sizeof(out));
	assert_non_null(strstr(
	    out, "to=<jos\xc3\xa9@exemplo.com.br \\x0a>, reason=optout\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_line),
	    cmocka_unit_test(test_plain_text_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
