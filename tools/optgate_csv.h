/*
 * optgate_csv.h - a streaming CSV reader for optgate import.
 *
 * RFC 4180 with what real exports need: LF or CRLF line ends, a UTF-8 BOM
 * at the start skipped (a UTF-16 one makes the first record an error that
 * says so), quoted fields ("" for a quote, line breaks
 * allowed inside), spaces or tabs around a quoted field ignored, blank
 * lines and rows of empty fields (a spreadsheet's empty rows) skipped.  It is strict where a lenient reader would guess: a
 * quote inside an unquoted field or text after a closing quote is bad
 * quoting, and the record is reported, not repaired.
 *
 * Memory is bounded whatever the input: a record longer than max_record
 * bytes is reported (OG_ETOOBIG) and skipped to the next line end without
 * being held; an unterminated quote is reported and reading resumes at
 * the line after the one where the record began.
 *
 * One reader belongs to one thread.  Returned pointers live until the
 * next og_csv_next() call.
 */
#ifndef OPTGATE_CSV_H
#define OPTGATE_CSV_H

#include <stddef.h>
#include <stdint.h>

#define OG_CSV_RECORD_MAX (64 * 1024) /* default max_record */
#define OG_CSV_FIELDS_MAX 64

typedef struct og_csv og_csv;

typedef struct og_csv_rec {
	unsigned long line; /* physical line the record starts on (1-based) */
	int nfields;
	const char *field[OG_CSV_FIELDS_MAX]; /* unescaped, NUL-terminated */
	size_t len[OG_CSV_FIELDS_MAX];        /* may contain NUL bytes */
	const char *raw; /* the record as read (no line end), capped */
	size_t rawlen;
	const char *error; /* static reason after OG_EINVAL / OG_ETOOBIG */
} og_csv_rec;

/*
 * Readers over a file descriptor (not closed by og_csv_free) or over
 * memory (not copied: data must outlive the reader).  max_record 0 means
 * OG_CSV_RECORD_MAX.  Never NULL (allocation exits on failure).
 */
og_csv *og_csv_new_fd(int fd, size_t max_record);
og_csv *og_csv_new_mem(const char *data, size_t len, size_t max_record);
void og_csv_free(og_csv *c);

/*
 * og_csv_next - the next record.  Returns 1 (rec filled), 0 at the end
 * of input, OG_EINVAL (bad quoting, too many fields) or OG_ETOOBIG
 * (record over max_record) with rec->line, rec->error and rec->raw set
 * (reading may go on), or OG_EIO when read() failed (errno kept).
 */
int og_csv_next(og_csv *c, og_csv_rec *rec);

/*
 * og_csv_utf16 - 1 when the input began with a UTF-16 byte order mark
 * (known once og_csv_next() was called): its first record was the error
 * that says so, and the rest is not text this reader can split.
 */
int og_csv_utf16(const og_csv *c);

/* Input bytes consumed so far (for progress). */
uint64_t og_csv_offset(const og_csv *c);

/*
 * og_csv_utf8_valid - 1 when s[0..n) is well-formed UTF-8 (no overlong
 * forms, surrogates or code points above U+10FFFF, no NUL), else 0 with
 * *bad (may be NULL) set to the offset of the first bad byte.
 */
int og_csv_utf8_valid(const char *s, size_t n, size_t *bad);

/*
 * og_csv_invisible - when well-formed UTF-8 s[0..n) holds a character
 * that shows as nothing or as a space (a no-break or other Unicode space,
 * a zero-width space, a soft hyphen, a direction mark, a byte order mark,
 * a C1 control): the first one's length in bytes (1-4), with *off and *cp
 * set to it; else 0.  Copied from
 * a web page into a spreadsheet, one in an address names a mailbox no
 * mail goes to.  The joiners U+200C and U+200D are not counted: some
 * scripts spell words with them.
 */
int og_csv_invisible(const char *s, size_t n, size_t *off, uint32_t *cp);

#endif
