/* mg_hdr_test.c - table-driven tests of the milter's header helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mg_hdr.h"
#include "og_err.h"

static void
test_fold(void **state)
{
	static const struct {
		const char *name;
		const char *items[3];
		size_t n;
		const char *want;
	} cases[] = {
	    {"one short item", {"<https://u.example/x>"}, 1,
	        "<https://u.example/x>"},
	    {"two short items stay on one line",
	        {"<https://a.example/1>", "<mailto:u@a.example>"}, 2,
	        "<https://a.example/1>, <mailto:u@a.example>"},
	    {"second item folds when the line would pass 78",
	        {"<https://unsub.example.com/u/"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>",
	            "<mailto:unsub+BBBBBBBBBBBBBBBBBBBBBB@example.com>"},
	        2,
	        "<https://unsub.example.com/u/"
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>,"
	        "\n\t<mailto:unsub+BBBBBBBBBBBBBBBBBBBBBB@example.com>"},
	    {"a long single item is never broken",
	        {"<https://unsub.example.com/u/"
	         "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
	         "CCCCCCC>"},
	        1,
	        "<https://unsub.example.com/u/"
	        "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
	        "CCCCCC>"},
	    {"three items, the last two folded",
	        {"<https://unsub.example.com/u/"
	         "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD>",
	            "<mailto:unsub+"
	            "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE@example."
	            "com>",
	            "<https://b.example/F>"},
	        3,
	        "<https://unsub.example.com/u/"
	        "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD>,"
	        "\n\t<mailto:unsub+"
	        "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE@example.com>,"
	        "\n\t<https://b.example/F>"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		og_buf b;
		const char *line, *nl;

		og_buf_init(&b, 4096);
		assert_int_equal(mg_hdr_fold_list(&b, "List-Unsubscribe",
		                     cases[i].items, cases[i].n),
		    0);
		print_message("# %s\n", cases[i].name);
		assert_string_equal(b.data, cases[i].want);
		/* A line passes 78 only when it holds one long item. */
		for (line = b.data; line; line = nl ? nl + 1 : NULL) {
			size_t len;
			char seg[512];

			nl = strchr(line, '\n');
			len = nl ? (size_t)(nl - line) : strlen(line);
			assert_true(len < sizeof(seg));
			memcpy(seg, line, len);
			seg[len] = '\0';
			if (line == b.data)
				len += strlen("List-Unsubscribe: ");
			if (len > MG_FOLD_WIDTH)
				assert_null(strstr(seg, ", "));
		}
		og_buf_free(&b);
	}
}

static void
test_fold_cap(void **state)
{
	og_buf b;
	const char *items[] = {
	    "<https://a.example/1>", "<https://a.example/2>"};

	og_buf_init(&b, 30);
	assert_int_equal(
	    mg_hdr_fold_list(&b, "List-Unsubscribe", items, 2), OG_ETOOBIG);
	og_buf_free(&b);
}

static void
test_unfold(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {" newsletter", "newsletter"},
	    {"\tNews <news.example.com>", "News <news.example.com>"},
	    {" a\r\n\tb", "a b"},
	    {" a\n b  ", "a b"},
	    {"Weekly digest\n        <d.example>", "Weekly digest <d.example>"},
	    {"Weekly digest \r\n <d.example>", "Weekly digest <d.example>"},
	    {"a\tb\r\n", "a\tb"},
	    {"", ""},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		og_buf b;

		og_buf_init(&b, 1024);
		assert_int_equal(mg_hdr_unfold(&b, cases[i].in), 0);
		assert_string_equal(b.data ? b.data : "", cases[i].want);
		og_buf_free(&b);
	}
}

static void
test_reply_text(void **state)
{
	char out[16];

	assert_string_equal(
	    mg_reply_text(out, sizeof(out), "100% sure"), "100%% sure");
	assert_string_equal(mg_reply_text(out, sizeof(out), "a\r\nb"), "a  b");
	assert_string_equal(
	    mg_reply_text(out, sizeof(out), "0123456789abcdefghij"),
	    "0123456789abcde");
	assert_string_equal(mg_reply_text(out, 4, "a%%"), "a%%");
}

static void
test_subst(void **state)
{
	og_buf b;

	og_buf_init(&b, 1024);
	assert_int_equal(og_buf_subst(&b, "https://u.example/%t?s=%s&p=100%%",
	                     "TOK", "news"),
	    0);
	assert_string_equal(b.data, "https://u.example/TOK?s=news&p=100%");
	og_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_fold_cap),
	    cmocka_unit_test(test_unfold),
	    cmocka_unit_test(test_reply_text),
	    cmocka_unit_test(test_subst),
	};
	return cmocka_run_group_tests_name("mg_hdr", tests, NULL, NULL);
}
