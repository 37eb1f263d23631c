/*
 * policy_fuzz.c - libFuzzer target for the Postfix policy request parser
 * (policyd/pd_proto.c): any input is parsed request by request, the way
 * optgate-policyd consumes its input buffer, and is either answered,
 * waited for, or refused; never a crash or a read outside the buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_buf.h"
#include "pd_proto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	size_t len = size, used;
	pd_req r;
	const char *why;
	og_buf out;
	int rc, i;

	if (size > 4 * PD_REQ_MAX)
		return 0;
	/* Exactly size bytes: ASan sees any read past the input. */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	og_buf_init(&out, 4096);
	while (len > 0) {
		rc = pd_proto_parse(buf + (size - len), len, &r, &used, &why);
		if (rc != PD_OK)
			break;
		if (used == 0 || used > len)
			abort();
		for (i = 0; i < PD_A_N; i++)
			if (r.a[i])
				(void)strlen(r.a[i]);
		og_buf_reset(&out);
		pd_proto_reply(
		    &out, r.a[PD_A_RECIPIENT] ? r.a[PD_A_RECIPIENT] : "DUNNO");
		len -= used;
	}
	og_buf_free(&out);
	free(buf);
	return 0;
}
