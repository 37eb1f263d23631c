/*
 * mg_hdr.h - header text helpers of optgate-milter (no libmilter here, so
 * they are unit-tested on their own).
 */
#ifndef MG_HDR_H
#define MG_HDR_H

#include <stddef.h>

#include "og_buf.h"

#define MG_FOLD_WIDTH 78 /* RFC 5322 2.1.1: SHOULD be no more than 78 */

/*
 * mg_hdr_fold_list - a header value made of comma-separated items (the
 * URIs of List-Unsubscribe), folded for a header named name: items are
 * kept whole (a URI must not be broken), and a new line ("\n\t", the form
 * libmilter and the MTA turn into CRLF TAB) starts before an item that
 * would take the line past MG_FOLD_WIDTH.  items[i] are appended as given.
 * Returns 0 or OG_ETOOBIG.
 */
int mg_hdr_fold_list(
    og_buf *out, const char *name, const char *const *items, size_t n);

/*
 * mg_hdr_unfold - copy a header value as the milter received it into out
 * with folding removed (each line break, with the white space around it,
 * becomes one space) and leading and trailing white space skipped, the
 * form header match lines are compared with.  Returns 0 or OG_ETOOBIG.
 */
int mg_hdr_unfold(og_buf *out, const char *value);

/*
 * mg_reply_text - make peer or config text safe for smfi_setreply: no
 * CR/LF or control bytes (replaced by a space), '%' doubled, at most
 * max - 1 bytes.  Returns dst.
 */
char *mg_reply_text(char *dst, size_t max, const char *src);

#endif
