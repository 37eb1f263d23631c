/*
 * og_buf.h - memory that succeeds or exits, bounded string building.
 *
 * og_xmalloc() and friends log and exit(75) on allocation failure, so call
 * sites need no NULL checks (Postfix mymalloc).  og_buf is the one string
 * builder: always NUL-terminated, grows by doubling with the overflow check
 * before the add, and refuses to grow past its max (OG_ETOOBIG), which is
 * how peer input gets an explicit size cap.
 *
 * Thread-safety: an og_buf belongs to one thread at a time.
 */
#ifndef OG_BUF_H
#define OG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *og_xmalloc(size_t n);
void *og_xcalloc(size_t n, size_t size);
void *og_xrealloc(void *p, size_t n);
char *og_xstrdup(const char *s);
char *og_xstrndup(const char *s, size_t n);

/* Copy with truncation; returns strlen(src), like BSD strlcpy. */
size_t og_strlcpy(char *dst, const char *src, size_t size);

/* FNV-1a hash of a string, for in-memory hash tables. */
uint32_t og_str_hash(const char *s);

/*
 * Parse a decimal unsigned integer of the whole string (no sign, no
 * spaces), checking errno, end and range.  Returns 0 or OG_EINVAL.
 */
int og_parse_u64(const char *s, uint64_t max, uint64_t *out);

typedef struct og_buf {
	char *data; /* NUL-terminated; owned by the buf */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* len may never exceed this (0: SIZE_MAX / 2) */
} og_buf;

/* Initialise an empty buffer (no allocation until the first add). */
void og_buf_init(og_buf *b, size_t max);
/* Free the data; the buf may be re-used after og_buf_init. */
void og_buf_free(og_buf *b);
/* Forget the contents, keep the allocation. */
void og_buf_reset(og_buf *b);
/* Append; 0 or OG_ETOOBIG (b unchanged). */
int og_buf_add(og_buf *b, const void *p, size_t n);
int og_buf_adds(og_buf *b, const char *s);
int og_buf_addc(og_buf *b, int c);
int og_buf_printf(og_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int og_buf_vprintf(og_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/*
 * Append s (n bytes) escaped for a log line or a quoted field: printable
 * ASCII kept, '\\' and '"' and everything else as \xHH; at most cap input
 * bytes, then "...".
 */
int og_buf_add_escaped(og_buf *b, const char *s, size_t n, size_t cap);
/*
 * Append template tmpl expanded: every "%t" replaced with tok and "%s"
 * with stream (unsubscribe URLs, the VERP address, the Feedback-ID);
 * "%%" is a percent sign.  0 or OG_ETOOBIG.
 */
int og_buf_subst(
    og_buf *out, const char *tmpl, const char *tok, const char *stream);
/* Take ownership of the data (caller frees); the buf becomes empty. */
char *og_buf_take(og_buf *b);

/* Big-endian helpers for store keys and records. */
void og_put_be16(unsigned char *p, uint16_t v);
void og_put_be32(unsigned char *p, uint32_t v);
void og_put_be64(unsigned char *p, uint64_t v);
uint16_t og_get_be16(const unsigned char *p);
uint32_t og_get_be32(const unsigned char *p);
uint64_t og_get_be64(const unsigned char *p);

#endif
