/*
 * report_fuzz.c - libFuzzer target for og_report_parse() and
 * og_report_text() (what optgate erase searches a quarantined report by):
 * arbitrary bytes as a bounce / complaint / unsubscribe mail.  Seeds:
 * tests/fuzz/seeds/ report/ (messages from the bounce corpus, one per MTA
 * format).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static og_report *r;
	const char *why = NULL;

	if (r == NULL) {
		og_report_init();
		r = malloc(sizeof(*r));
		if (r == NULL)
			abort();
	}
	(void)og_report_parse(
	    (const char *)data, size, "bounce+x@example.com", r);
	{
		og_buf t;

		og_buf_init(&t, (size_t)1 << 20);
		og_report_text((const char *)data, size, &t);
		og_buf_free(&t);
	}
	/* The classifier alone, on the same bytes as a diagnostic. */
	if (size < 2048) {
		char d[2048];

		memcpy(d, data, size);
		d[size] = '\0';
		(void)og_report_classify(size > 5 ? d : "", 0, d, &why);
	}
	return 0;
}
