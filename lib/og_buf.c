/*
 * og_buf.c - memory that succeeds or exits, the string builder, integer
 * parsing and big-endian helpers.
 *
 * Public: og_x*alloc, og_strlcpy, og_parse_u64, og_buf_*, og_put/get_be*.
 * Ownership: og_buf owns its data until og_buf_take().
 * Errors: allocation failure logs and exits 75 (EX_TEMPFAIL, so a Postfix
 * pipe retries); og_buf_* return OG_ETOOBIG and leave the buf unchanged.
 *
 * LIMITS: an og_buf never grows past its max (default SIZE_MAX / 2); the
 * overflow check comes before every addition.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"

static void
oom(size_t n)
{
	og_log_err("out of memory allocating %zu bytes", n);
	exit(75);
}

void *
og_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
og_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
og_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
og_xstrdup(const char *s)
{
	return og_xstrndup(s, strlen(s));
}

char *
og_xstrndup(const char *s, size_t n)
{
	char *p;
	size_t len = strnlen(s, n);

	p = og_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

uint32_t
og_str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

size_t
og_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}

int
og_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return OG_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || v > max)
		return OG_EINVAL;
	*out = v;
	return 0;
}

void
og_buf_init(og_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

void
og_buf_free(og_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
og_buf_reset(og_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

/* Make room for n more bytes plus the NUL. */
static int
reserve(og_buf *b, size_t n)
{
	size_t need, cap;

	if (n > b->max || b->len > b->max - n)
		return OG_ETOOBIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return OG_ETOOBIG;
		cap *= 2;
	}
	b->data = og_xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int
og_buf_add(og_buf *b, const void *p, size_t n)
{
	int rc;

	if ((rc = reserve(b, n)) != 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int
og_buf_adds(og_buf *b, const char *s)
{
	return og_buf_add(b, s, strlen(s));
}

int
og_buf_addc(og_buf *b, int c)
{
	char ch = (char)c;

	return og_buf_add(b, &ch, 1);
}

int
og_buf_vprintf(og_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, rc;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return OG_EINVAL;
	if ((rc = reserve(b, (size_t)n)) != 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
og_buf_printf(og_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = og_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
og_buf_add_escaped(og_buf *b, const char *s, size_t n, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, lim = n < cap ? n : cap;
	size_t start = b->len;
	int rc = 0;

	for (i = 0; i < lim && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			rc = og_buf_addc(b, c);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			rc = og_buf_add(b, e, 4);
		}
	}
	if (rc == 0 && lim < n)
		rc = og_buf_adds(b, "...");
	if (rc != 0) {
		b->len = start;
		if (b->data)
			b->data[start] = 0;
	}
	return rc;
}

int
og_buf_subst(og_buf *out, const char *tmpl, const char *tok, const char *stream)
{
	const char *p;
	int rc = 0;

	for (p = tmpl; *p != '\0' && rc == 0; p++) {
		if (p[0] == '%' && p[1] == 't') {
			rc = og_buf_adds(out, tok);
			p++;
		} else if (p[0] == '%' && p[1] == 's') {
			rc = og_buf_adds(out, stream);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			rc = og_buf_addc(out, '%');
			p++;
		} else {
			rc = og_buf_addc(out, (unsigned char)*p);
		}
	}
	return rc;
}

char *
og_buf_take(og_buf *b)
{
	char *p = b->data ? b->data : og_xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
og_put_be16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void
og_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

void
og_put_be64(unsigned char *p, uint64_t v)
{
	og_put_be32(p, (uint32_t)(v >> 32));
	og_put_be32(p + 4, (uint32_t)v);
}

uint16_t
og_get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
og_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

uint64_t
og_get_be64(const unsigned char *p)
{
	return (uint64_t)og_get_be32(p) << 32 | og_get_be32(p + 4);
}
