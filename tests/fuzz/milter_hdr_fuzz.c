/*
 * milter_hdr_fuzz.c - libFuzzer target for optgate-milter's handling of
 * peer header text: unfolding a header value, making text safe for an
 * SMTP reply, and folding a List-Unsubscribe built from it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_hdr.h"
#include "og_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, reply[300];
	const char *items[2];
	og_buf b, f;

	if (size > 65536)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	og_buf_init(&b, 131072);
	(void)mg_hdr_unfold(&b, s);
	mg_reply_text(reply, sizeof(reply), s);
	og_buf_init(&f, 262144);
	items[0] = b.data ? b.data : "";
	items[1] = s;
	(void)mg_hdr_fold_list(&f, "List-Unsubscribe", items, 2);
	og_buf_free(&f);
	og_buf_init(&f, 262144);
	(void)og_buf_subst(&f, s, "TOKEN", "stream");
	og_buf_free(&f);
	og_buf_free(&b);
	free(s);
	return 0;
}
