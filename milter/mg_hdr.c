/*
 * mg_hdr.c - header text helpers of optgate-milter: folding the headers we
 * add, unfolding the ones we read, and making text safe for SMTP replies.
 *
 * Public: mg_hdr_fold_list, mg_hdr_unfold, mg_reply_text.  Pure
 * functions over og_buf; thread-safe.
 *
 * LIMITS: one item is never broken, so a line can exceed 78 characters
 * when a single URI does (RFC 5322 allows up to 998); the caller's og_buf
 * max caps the result.
 */
#include "mg_hdr.h"

#include <string.h>

#include "og_err.h"

int
mg_hdr_fold_list(
    og_buf *out, const char *name, const char *const *items, size_t n)
{
	size_t col, i, len;
	int rc;

	/* "Name: " is on the first line. */
	col = strlen(name) + 2;
	for (i = 0; i < n; i++) {
		len = strlen(items[i]);
		if (i > 0) {
			/* ", " or ",\n\t" */
			if (col + 2 + len > MG_FOLD_WIDTH) {
				if ((rc = og_buf_adds(out, ",\n\t")) < 0)
					return rc;
				col = 1;
			} else {
				if ((rc = og_buf_adds(out, ", ")) < 0)
					return rc;
				col += 2;
			}
		}
		if ((rc = og_buf_add(out, items[i], len)) < 0)
			return rc;
		col += len;
	}
	return 0;
}

int
mg_hdr_unfold(og_buf *out, const char *value)
{
	const char *p = value;
	int rc;

	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p != '\0'; p++) {
		if (*p != '\r' && *p != '\n') {
			if ((rc = og_buf_addc(out, (unsigned char)*p)) < 0)
				return rc;
			continue;
		}
		/*
		 * A fold is where the sender's software broke the line: it
		 * stands for one space, whether it indented with a tab or
		 * eight spaces, or left a space before the break.  Kept as
		 * written, "Weekly digest\n\t<id>" never equalled a match
		 * line's "Weekly digest <id>" and the stream's mail went out
		 * ungated.
		 */
		while (out->len > 0 && (out->data[out->len - 1] == ' ' ||
		                           out->data[out->len - 1] == '\t'))
			out->data[--out->len] = '\0';
		while (
		    p[1] == '\r' || p[1] == '\n' || p[1] == ' ' || p[1] == '\t')
			p++;
		if (out->len > 0 && (rc = og_buf_addc(out, ' ')) < 0)
			return rc;
	}
	/* Trailing white space is not part of the value either. */
	while (out->len > 0 && (out->data[out->len - 1] == ' ' ||
	                           out->data[out->len - 1] == '\t'))
		out->data[--out->len] = '\0';
	return 0;
}

char *
mg_reply_text(char *dst, size_t max, const char *src)
{
	size_t o = 0;
	unsigned char c;

	if (max == 0)
		return dst;
	for (; *src != '\0' && o + 1 < max; src++) {
		c = (unsigned char)*src;
		if (c == '%') {
			if (o + 2 >= max)
				break;
			dst[o++] = '%';
			dst[o++] = '%';
		} else if (c < 0x20 || c == 0x7f) {
			dst[o++] = ' ';
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return dst;
}
