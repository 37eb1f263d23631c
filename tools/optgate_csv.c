/*
 * optgate_csv.c - streaming CSV reader (see optgate_csv.h).
 *
 * Public: og_csv_new_fd, og_csv_new_mem, og_csv_free, og_csv_next,
 * og_csv_offset, og_csv_utf16, og_csv_utf8_valid, og_csv_invisible.
 * The reader keeps a window [pos, end) of raw input.  A record is found
 * first (the first line end outside quotes, quotes toggling a flag: ""
 * toggles twice), then split into fields with the strict rules; so a bad
 * record never costs more than its own bytes.
 * Errors: negative OG_* codes; a bad record is a result the caller
 * reports, and reading goes on.
 *
 * LIMITS: a record holds at most max_record bytes and OG_CSV_FIELDS_MAX
 * fields; memory is about 2 x max_record + 64 KiB per reader.
 */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_err.h"
#include "optgate_csv.h"

#define CHUNK (64 * 1024)

struct og_csv {
	int fd; /* -1: memory */
	const char *mem;
	size_t memlen, memoff;
	char *buf; /* raw window */
	size_t cap, pos, end;
	int eof;
	int started;       /* BOM looked at */
	int utf16;         /* began with a UTF-16 BOM */
	int utf16_told;    /* the first record reported it */
	uint64_t consumed; /* bytes before buf[0] */
	size_t max;
	unsigned long line; /* line number of buf[pos] */
	char *fbuf;         /* unescaped fields */
	char rawcopy[200];  /* start of a skipped too-long line */
};

static og_csv *
csv_new(size_t max)
{
	og_csv *c = og_xcalloc(1, sizeof(*c));

	c->max = max ? max : OG_CSV_RECORD_MAX;
	c->cap = c->max + CHUNK;
	c->buf = og_xmalloc(c->cap);
	c->fbuf = og_xmalloc(c->max + OG_CSV_FIELDS_MAX + 1);
	c->line = 1;
	return c;
}

og_csv *
og_csv_new_fd(int fd, size_t max_record)
{
	og_csv *c = csv_new(max_record);

	c->fd = fd;
	return c;
}

og_csv *
og_csv_new_mem(const char *data, size_t len, size_t max_record)
{
	og_csv *c = csv_new(max_record);

	c->fd = -1;
	c->mem = data;
	c->memlen = len;
	return c;
}

void
og_csv_free(og_csv *c)
{
	if (c == NULL)
		return;
	free(c->buf);
	free(c->fbuf);
	free(c);
}

int
og_csv_utf16(const og_csv *c)
{
	return c->utf16;
}

uint64_t
og_csv_offset(const og_csv *c)
{
	return c->consumed + c->pos;
}

/* Read more input behind end, moving the window to the start first. */
static int
fill(og_csv *c)
{
	size_t room;
	ssize_t n;

	if (c->eof)
		return 0;
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->end - c->pos);
		c->consumed += c->pos;
		c->end -= c->pos;
		c->pos = 0;
	}
	room = c->cap - c->end;
	if (room == 0)
		return 0;
	if (c->fd < 0) {
		n = (ssize_t)(c->memlen - c->memoff < room
		                  ? c->memlen - c->memoff
		                  : room);
		memcpy(c->buf + c->end, c->mem + c->memoff, (size_t)n);
		c->memoff += (size_t)n;
	} else {
		do
			n = read(c->fd, c->buf + c->end, room);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return OG_EIO;
	}
	if (n == 0)
		c->eof = 1;
	c->end += (size_t)n;
	return (int)(n > 0);
}

/* Drop input up to and including the next line end (a too-long line). */
static int
skip_line(og_csv *c)
{
	int rc;

	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->end - c->pos);

		if (nl) {
			c->pos = (size_t)(nl - c->buf) + 1;
			c->line++;
			return 0;
		}
		c->consumed += c->end;
		c->pos = c->end = 0;
		if ((rc = fill(c)) < 0)
			return rc;
		if (rc == 0 && c->eof)
			return 0;
	}
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * A row of empty fields only (",,,", or quoted ""): spreadsheets write
 * one for every empty row they export.  It says nothing, like a blank
 * line, and is skipped the same way.
 */
static int
empty_row(const og_csv_rec *rec)
{
	int i;

	for (i = 0; i < rec->nfields; i++)
		if (rec->len[i] != 0)
			return 0;
	return 1;
}

/*
 * Where a record ends: a quote opens a quoted field only at the start of
 * a field, so a stray quote elsewhere (bad quoting, reported by split())
 * cannot swallow the lines after it.
 */
enum { Q_START, Q_PLAIN, Q_IN, Q_SEEN };

static int
step(int *qs, char ch, size_t *lines)
{
	switch (*qs) {
	case Q_START:
		if (ch == '"')
			*qs = Q_IN;
		else if (ch == '\n')
			return 1;
		else if (ch != ',' && !is_blank((unsigned char)ch))
			*qs = Q_PLAIN;
		break;
	case Q_PLAIN:
		if (ch == ',')
			*qs = Q_START;
		else if (ch == '\n')
			return 1;
		break;
	case Q_IN:
		if (ch == '"')
			*qs = Q_SEEN;
		else if (ch == '\n')
			(*lines)++;
		break;
	case Q_SEEN:
		if (ch == '"')
			*qs = Q_IN;
		else if (ch == ',')
			*qs = Q_START;
		else if (ch == '\n')
			return 1;
		else
			*qs = Q_PLAIN;
		break;
	}
	return 0;
}

/* Split raw[0..n) into rec's fields; 0 or OG_EINVAL with rec->error. */
static int
split(og_csv *c, const char *raw, size_t n, og_csv_rec *rec)
{
	char *out = c->fbuf;
	size_t i = 0;

	rec->nfields = 0;
	for (;;) {
		size_t j = i;

		if (rec->nfields >= OG_CSV_FIELDS_MAX) {
			rec->error = "more than 64 columns";
			return OG_EINVAL;
		}
		rec->field[rec->nfields] = out;
		while (j < n && is_blank((unsigned char)raw[j]))
			j++;
		if (j < n && raw[j] == '"') {
			/* quoted */
			i = j + 1;
			for (;;) {
				if (i >= n) {
					rec->error =
					    "bad quoting: unterminated "
					    "quoted field";
					return OG_EINVAL;
				}
				if (raw[i] == '"') {
					if (i + 1 < n && raw[i + 1] == '"') {
						*out++ = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				*out++ = raw[i++];
			}
			while (i < n && is_blank((unsigned char)raw[i]))
				i++;
			if (i < n && raw[i] != ',') {
				rec->error =
				    "bad quoting: text after a closing "
				    "quote";
				return OG_EINVAL;
			}
		} else {
			while (i < n && raw[i] != ',') {
				if (raw[i] == '"') {
					rec->error =
					    "bad quoting: a quote inside "
					    "an unquoted field (quote the "
					    "field "
					    "and double the quote)";
					return OG_EINVAL;
				}
				*out++ = raw[i++];
			}
		}
		rec->len[rec->nfields] =
		    (size_t)(out - rec->field[rec->nfields]);
		*out++ = 0;
		rec->nfields++;
		if (i >= n)
			return 0;
		i++; /* the comma */
	}
}

int
og_csv_next(og_csv *c, og_csv_rec *rec)
{
	int rc;

	memset(rec, 0, offsetof(og_csv_rec, field));
	rec->raw = "";
	rec->error = NULL;
	for (;;) {
		size_t i, lines = 0, n;
		int inq, found = 0, qs = Q_START;
		char *raw;

		if (!c->started) {
			while (c->end - c->pos < 3 && !c->eof)
				if ((rc = fill(c)) < 0)
					return rc;
			if (c->end - c->pos >= 3 &&
			    memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0)
				c->pos += 3;
			/*
			 * Excel's "Unicode Text" and "CSV UTF-16": every
			 * other byte is NUL, so the header would read as
			 * garbled names.  Say what it is instead.
			 */
			else if (c->end - c->pos >= 2 &&
			         (memcmp(c->buf + c->pos, "\xFF\xFE", 2) == 0 ||
			             memcmp(c->buf + c->pos, "\xFE\xFF", 2) ==
			                 0))
				c->utf16 = 1;
			c->started = 1;
		}
		/* find the record end: a line end outside a quoted field */
		i = c->pos;
		for (;;) {
			/* fast path: the rest of the line has no quote */
			if (qs != Q_IN && qs != Q_SEEN) {
				char *nl = memchr(c->buf + i, '\n', c->end - i);

				if (nl &&
				    memchr(c->buf + i, '"',
				        (size_t)(nl - (c->buf + i))) == NULL) {
					i = (size_t)(nl - c->buf);
					found = 1;
					break;
				}
			}
			for (; i < c->end && !found; i++)
				found = step(&qs, c->buf[i], &lines);
			if (found) {
				i--; /* at the line end */
				break;
			}
			if (c->eof)
				break;
			if (i - c->pos >= c->max)
				break;
			/* fill() moves the window: keep i relative */
			i -= c->pos;
			if ((rc = fill(c)) < 0)
				return rc;
			i += c->pos;
		}
		inq = qs == Q_IN || qs == Q_SEEN;
		rec->line = c->line;
		if (!found && c->pos == c->end && c->eof)
			return 0;
		if (!found && !c->eof) {
			/* over max_record before a line end */
			char *nl =
			    memchr(c->buf + c->pos, '\n', c->end - c->pos);

			rec->raw = c->buf + c->pos;
			rec->rawlen =
			    c->end - c->pos < 200 ? c->end - c->pos : 200;
			if (inq && nl) {
				/*
				 * A quote opened and never closed: report its
				 * own line, not the lines it swallowed (they
				 * are read again).
				 */
				rec->rawlen = (size_t)(nl - rec->raw);
				if (rec->rawlen &&
				    rec->raw[rec->rawlen - 1] == '\r')
					rec->rawlen--;
				if (rec->rawlen > 200)
					rec->rawlen = 200;
				rec->error = "bad quoting: unterminated quoted "
				             "field";
				c->pos = (size_t)(nl - c->buf) + 1;
				c->line++;
				return OG_EINVAL;
			}
			rec->error = "line too long";
			memcpy(c->rawcopy, rec->raw, rec->rawlen);
			rec->raw = c->rawcopy;
			if ((rc = skip_line(c)) < 0)
				return rc;
			return OG_ETOOBIG;
		}
		if (!found && inq) {
			/* end of input inside quotes */
			char *nl =
			    memchr(c->buf + c->pos, '\n', c->end - c->pos);

			rec->raw = c->buf + c->pos;
			rec->rawlen =
			    nl ? (size_t)(nl - rec->raw) : c->end - c->pos;
			if (rec->rawlen > 200)
				rec->rawlen = 200;
			rec->error = "bad quoting: unterminated quoted field";
			if (nl) {
				c->pos = (size_t)(nl - c->buf) + 1;
				c->line++;
			} else {
				c->pos = c->end;
			}
			return OG_EINVAL;
		}
		raw = c->buf + c->pos;
		n = i - c->pos;
		c->pos = found ? i + 1 : i;
		c->line += lines + (found ? 1 : 0);
		if (n > 0 && raw[n - 1] == '\r')
			n--;
		rec->raw = raw;
		rec->rawlen = n;
		if (n > c->max) {
			rec->rawlen = n < 200 ? n : 200;
			rec->error = "line too long";
			return OG_ETOOBIG;
		}
		if (c->utf16 && !c->utf16_told) {
			c->utf16_told = 1;
			rec->rawlen = n < 200 ? n : 200;
			rec->error = "UTF-16 text (it starts with a UTF-16 "
			             "byte order mark), but optgate reads "
			             "UTF-8: convert it with iconv -f utf-16 "
			             "-t utf-8";
			return OG_EINVAL;
		}
		if (n == 0)
			continue; /* blank line */
		if ((rc = split(c, raw, n, rec)) != 0) {
			char *nl = lines ? memchr(raw, '\n', n) : NULL;

			/*
			 * A bad record over several lines is most likely a
			 * stray quote that swallowed the lines after it:
			 * report its first line, read the others again.
			 */
			if (nl) {
				c->pos = (size_t)(nl - c->buf) + 1;
				c->line = rec->line + 1;
				rec->rawlen = (size_t)(nl - raw);
				if (rec->rawlen && raw[rec->rawlen - 1] == '\r')
					rec->rawlen--;
				rec->error = "bad quoting: unterminated quoted "
				             "field";
			}
			return rc;
		}
		if (empty_row(rec))
			continue; /* a spreadsheet's empty row: blank */
		return 1;
	}
}

int
og_csv_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		uint32_t cp;
		size_t k, need;

		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}

		if (c < 0x80) {
			if (c == 0)
				goto fail;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			cp = c & 0x07;
		} else {
			goto fail;
		}
		if (n - i <= need)
			goto fail;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				goto fail;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto fail;
		i += need + 1;
	}
	return 1;
fail:
	if (bad)
		*bad = i;
	return 0;
}

/*
 * Shown as nothing or as a space, by Unicode category (GLib's tables):
 * spaces and separators other than U+0020 (Zs, Zl, Zp), controls (Cc,
 * the C1 ones here), format characters (Cf: zero-width space, soft
 * hyphen, direction marks, the byte order mark) except the joiners
 * U+200C and U+200D, with which some scripts spell words.
 */
static int
invisible_cp(gunichar cp)
{
	switch (g_unichar_type(cp)) {
	case G_UNICODE_SPACE_SEPARATOR:
	case G_UNICODE_LINE_SEPARATOR:
	case G_UNICODE_PARAGRAPH_SEPARATOR:
	case G_UNICODE_CONTROL:
		return cp != ' ';
	case G_UNICODE_FORMAT:
		return cp != 0x200C && cp != 0x200D;
	default:
		return 0;
	}
}

int
og_csv_invisible(const char *s, size_t n, size_t *off, uint32_t *cp)
{
	size_t i = 0, len;
	gunichar c;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		c = g_utf8_get_char_validated(s + i, (gssize)(n - i));
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			i++; /* not well-formed: the caller's to say */
			continue;
		}
		len = (size_t)(g_utf8_next_char(s + i) - (s + i));
		if (invisible_cp(c)) {
			*off = i;
			*cp = c;
			return (int)len;
		}
		i += len;
	}
	return 0;
}
