/*
 * optgate_admin.c - the admin commands of the optgate CLI: import,
 * audit, export, import-hashed, erase, stats, backup, verify, expire.
 *
 * Every change goes through the store's durable writes (og_store_apply,
 * og_store_erase, og_store_import_hashed): a command that printed success
 * has its change on disk.  Bulk commands stream: memory does not grow
 * with the input or the store.
 *
 * LIMITS: an import record is at most OG_CSV_RECORD_MAX bytes; an import
 * batch holds at most IMP_BATCH lines (one durable commit each).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "og_addr.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_log.h"
#include "og_time.h"
#include "optgate.h"
#include "optgate_csv.h"

/* ---------- small helpers ---------- */

static void
hexenc(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly n hex digits into n/2 bytes: 0 or -1. */
static int
hexdec(const char *s, size_t n, unsigned char *out)
{
	size_t i;

	if (n % 2)
		return -1;
	for (i = 0; i < n; i += 2) {
		int a = hexval((unsigned char)s[i]);
		int b = hexval((unsigned char)s[i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i / 2] = (unsigned char)(a << 4 | b);
	}
	return 0;
}

/* Append s as a CSV field, quoted when it needs to be. */
static void
csv_field(og_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (strpbrk(s, ",\"\r\n") == NULL &&
	    (n == 0 || (s[0] != ' ' && s[n - 1] != ' ' && s[0] != '\t'))) {
		og_buf_add(b, s, n);
		return;
	}
	og_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			og_buf_addc(b, '"');
		og_buf_addc(b, *s);
	}
	og_buf_addc(b, '"');
}

/*
 * A partner key file: the first line that is not empty or a comment
 * holds the key in hex (32 to 128 digits: 16 to 64 bytes), as made by
 * `openssl rand -hex 32`.  Returns 0 or an exit code (message printed).
 */
static int
read_keyfile(const char *path, unsigned char *key, size_t *len)
{
	char line[512];
	FILE *fp;
	struct stat sb;
	int rc = OG_EXIT_USAGE;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "optgate: %s: %s\n", path, strerror(errno));
		return OG_EXIT_SYSTEM;
	}
	if (fstat(fileno(fp), &sb) == 0 && (sb.st_mode & 077))
		fprintf(stderr,
		    "optgate: warning: %s is readable by others "
		    "(chmod 600 it)\n",
		    path);
	while (fgets(line, sizeof(line), fp)) {
		size_t n = strlen(line);

		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		                line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (n < 2 * OG_PARTNER_KEY_MIN || n > 2 * OG_PARTNER_KEY_MAX ||
		    hexdec(line, n, key) != 0) {
			fprintf(stderr,
			    "optgate: %s: the key must be %d to %d "
			    "hex digits (make one with: openssl rand -hex "
			    "32)\n",
			    path, 2 * OG_PARTNER_KEY_MIN,
			    2 * OG_PARTNER_KEY_MAX);
			break;
		}
		*len = n / 2;
		rc = 0;
		break;
	}
	if (rc != 0 && feof(fp))
		fprintf(stderr, "optgate: %s: no key in the file\n", path);
	OPENSSL_cleanse(line, sizeof(line));
	fclose(fp);
	return rc;
}

static int
hmac_key(
    const unsigned char *k, size_t kl, const char *key, unsigned char out[32])
{
	unsigned int n = 32;

	return HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)key,
	           strlen(key), out, &n) == NULL
	           ? -1
	           : 0;
}

/* Whether path names the file of in (an fstat of the input). */
static int
same_file(const char *path, const struct stat *in)
{
	struct stat sb;

	return stat(path, &sb) == 0 && sb.st_dev == in->st_dev &&
	       sb.st_ino == in->st_ino;
}

/*
 * Open an output file (truncating); prints the error.  Its name is often
 * made from the input's (FILE.rejects), in a folder others may write (an
 * upload folder, /tmp): a symbolic or hard link planted there is refused,
 * never truncated and written through (as root, any file on the system).
 */
static FILE *
open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	struct stat sb;
	FILE *fp;

	if (fd < 0 && errno == ELOOP) {
		fprintf(stderr,
		    "optgate: %s: a symbolic link: not written through "
		    "(remove it, or name another file)\n",
		    path);
		return NULL;
	}
	if (fd >= 0 && fstat(fd, &sb) != 0) {
		fprintf(stderr, "optgate: %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (fd >= 0 && S_ISREG(sb.st_mode) && sb.st_nlink > 1) {
		fprintf(stderr,
		    "optgate: %s: has other links (another name of another "
		    "file): not written (remove it, or name another file)\n",
		    path);
		close(fd);
		return NULL;
	}
	/* /dev/null and the like are written, not truncated */
	if (fd < 0 || (S_ISREG(sb.st_mode) && ftruncate(fd, 0) != 0) ||
	    (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "optgate: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return fp;
}

/*
 * Text from outside (a line of input, a proof, a report's diagnostic)
 * for an admin to read, at most cap bytes: as it was when it is valid
 * UTF-8, so that "formulário" reads as written and a rejected line can
 * be fixed and imported again; a backslash, control characters and the
 * characters that show as nothing or a space (og_csv_invisible: a
 * direction override could reorder what is read) escaped as \xNN of
 * their bytes.  Not UTF-8: every byte outside printable ASCII escaped.
 */
static void
add_text(og_buf *b, const char *s, size_t n, size_t cap)
{
	size_t i, k, len, off, m = n < cap ? n : cap;
	uint32_t cp;

	/* cut at a character boundary */
	while (m < n && m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80)
		m--;
	if (!og_csv_utf8_valid(s, m, NULL)) {
		og_buf_add_escaped(b, s, n, cap);
		return;
	}
	for (i = 0; i < m; i += len) {
		unsigned char c = (unsigned char)s[i];

		for (len = 1;
		     i + len < m && ((unsigned char)s[i + len] & 0xC0) == 0x80;
		     len++)
			;
		if (c == '\\')
			og_buf_adds(b, "\\\\");
		else if (c < 0x20 || c == 0x7f ||
		         (c >= 0x80 && og_csv_invisible(s + i, len, &off, &cp)))
			for (k = 0; k < len; k++)
				og_buf_printf(
				    b, "\\x%02x", (unsigned char)s[i + k]);
		else
			og_buf_add(b, s + i, len);
	}
	if (m < n)
		og_buf_adds(b, "...");
}

static void
put_escaped(FILE *fp, const char *s, size_t n, size_t cap)
{
	og_buf b;

	og_buf_init(&b, 0);
	add_text(&b, s, n, cap);
	fputs(b.data ? b.data : "", fp);
	og_buf_free(&b);
}

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---------- import ---------- */

enum {
	C_ADDRESS,
	C_STREAM,
	C_STATE,
	C_TIME,
	C_SOURCE,
	C_IP,
	C_UA,
	C_SEGMENT,
	C_PARTNER,
	C_REASON,
	C_SENDER,
	C_EXPIRES,
	C_CAP,
	C_NOTE,
	C_REQUESTED, /* a double opt-in's request: when, and its proof */
	C_RQ_SOURCE,
	C_RQ_IP,
	C_RQ_UA,
	NCOLS
};

static const char *const colnames[NCOLS] = {"address", "stream", "state",
    "time", "source", "ip", "user_agent", "segment", "partner", "reason",
    "sender", "expires", "cap", "note", "requested", "requested_source",
    "requested_ip", "requested_user_agent"};

/*
 * Lines per durable commit (--batch).  Big commits matter: each one
 * writes every page it touched, and random addresses touch a page per
 * line, so 100000-line commits write about 40% less than 50000-line ones.
 * Two batches are in memory (one parsed, one committed): about 220 bytes
 * a line plus the strings.
 */
#define IMP_BATCH_MAX 200000
#define IMP_BATCH_DEFAULT 100000
#define IMP_BATCH_MIN 100
#define IMP_ARENA (16u << 20) /* strings of one batch */
#define FUTURE_SKEW 300 /* a row time may be this far ahead of our clock */

/*
 * One batch: the changes parsed, their strings, and scratch for the
 * commit.  Each change's line number sits in the arena just before its
 * key (see line_of), so the changes can be sorted in place.
 */
struct batch {
	og_change *ch;
	int *order, *results;
	size_t n, used;
	char *arena;
};

/*
 * The reader thread parses into one batch while the writer thread sorts
 * and commits the other, so parsing and the durable commit overlap.
 */
struct import {
	og_cli *cli;
	const char *input;
	int col[NCOLS];
	int ncols;
	struct batch bt[2], *cb; /* cb: the batch being filled */
	size_t batch;
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *todo; /* handed to the writer */
	int quit, werr, started;
	size_t lost; /* lines of a batch that failed */
	char source[300];
	int64_t now;
	uint64_t lines, imported, unchanged, skipped, rejected, warned;
	FILE *rej, *warn;
	const char *rej_path, *warn_path;
	/* progress */
	int tty;
	uint64_t total_bytes;
	double t0, last_draw;
	og_csv *csv;
};

static char *
arena_dup(struct import *im, const char *s, size_t n)
{
	struct batch *b = im->cb;
	char *p;

	if (b->used + n + 1 > IMP_ARENA)
		og_panic("import arena overflow");
	p = b->arena + b->used;
	memcpy(p, s, n);
	p[n] = 0;
	b->used += n + 1;
	return p;
}

/* Count and list a rejected line; cut: raw is only its start. */
static void
reject_line(struct import *im, unsigned long line, const char *why,
    const char *raw, size_t rawlen, int cut)
{
	im->rejected++;
	if (im->rej == NULL)
		return;
	/* one line: the writer thread may write a warning to this file */
	flockfile(im->rej);
	fprintf(im->rej, "%lu: %s: ", line, why);
	put_escaped(im->rej, raw, rawlen, 200);
	fputs(cut ? "...\n" : "\n", im->rej);
	funlockfile(im->rej);
}

static void
reject(struct import *im, unsigned long line, const char *why, const char *raw,
    size_t rawlen)
{
	reject_line(im, line, why, raw, rawlen, 0);
}

static void
draw_progress(struct import *im, int final)
{
	double t = og_mono_ms() / 1e3, el = t - im->t0, rate;
	uint64_t done;

	if (!im->tty || (!final && t - im->last_draw < 0.25))
		return;
	im->last_draw = t;
	rate = el > 0 ? (double)im->lines / el : 0;
	done = og_csv_offset(im->csv);
	if (final) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	if (im->total_bytes > 0) {
		int pct = (int)(done * 100 / im->total_bytes), i;
		double bps = el > 0 ? (double)done / el : 0;
		long eta = bps > 0
		               ? (long)((double)(im->total_bytes - done) / bps)
		               : 0;
		char bar[31];

		for (i = 0; i < 30; i++)
			bar[i] = i < pct * 30 / 100 ? '#' : '-';
		bar[30] = 0;
		fprintf(stderr,
		    "\r[%s] %3d%% %llu %s %.0f lines/s ETA "
		    "%ld:%02ld \033[K",
		    bar, pct, (unsigned long long)im->lines,
		    og_noun(im->lines, "line", "lines"), rate, eta / 60,
		    eta % 60);
	} else {
		fprintf(stderr, "\r%llu %s %.0f lines/s\033[K",
		    (unsigned long long)im->lines,
		    og_noun(im->lines, "line", "lines"), rate);
	}
	fflush(stderr);
}

/* Copy the key into the arena behind its line number. */
static char *
arena_key(struct import *im, unsigned long line, const char *key)
{
	struct batch *b = im->cb;
	uint64_t l = line;

	b->used = (b->used + 7) & ~(size_t)7;
	if (b->used + 8 > IMP_ARENA)
		og_panic("import arena overflow");
	memcpy(b->arena + b->used, &l, 8);
	b->used += 8;
	return arena_dup(im, key, strlen(key));
}

static unsigned long
line_of(const og_change *c)
{
	uint64_t l;

	memcpy(&l, c->key - 8, 8);
	return (unsigned long)l;
}

static int
cmp_rows(const void *a, const void *b, void *ctx)
{
	const og_change *ch = ctx;
	int x = *(const int *)a, y = *(const int *)b;
	int c = strcmp(ch[x].key, ch[y].key);

	if (c != 0)
		return c;
	return (x > y) - (x < y); /* same address: file order */
}

static const char *
skip_text(const og_change *c, int result)
{
	if (result == OG_SKIPPED_OPTOUT && c->kind == OG_EV_SUPPRESS &&
	    c->expires)
		return "not imported: an opt-out that lasts longer holds (a "
		       "temporary suppression in its place would end it)";
	if (result == OG_SKIPPED_OPTOUT && c->kind == OG_EV_SUPPRESS)
		return "not imported: a hard-bounce or manual suppression "
		       "holds (it also stops transactional mail)";
	if (result == OG_SKIPPED_OLDER && c->kind == OG_EV_PREF)
		return "cap not imported: the person chose another cap (on the "
		       "preference page), which an import never replaces";
	if (result == OG_SKIPPED_ERASED)
		return "not imported: the address was erased (optgate "
		       "erase); an import never brings her back: a new "
		       "opt-in of her own does (optgate optin, a confirmed "
		       "double opt-in), and then only opt-in lines dated "
		       "after the erasure, with proof, go in";
	return result == OG_SKIPPED_OLDER
	           ? "not imported: the store has an entry for this scope "
	             "as new or newer (an earlier line of this file "
	             "counts; a line without a time has the import's)"
	           : "not imported: an opt-out or "
	             "suppression holds (an opt-in lifts an opt-out only with "
	             "a newer "
	             "time and proof: source, ip or user_agent)";
}

/*
 * Is change i of the line of change i - 1?  A line is one change, after
 * its request (a confirmed line's requested) and before its cap; they
 * share the line's one copy of the key (arena_key).
 */
static int
same_line(const struct batch *b, size_t i)
{
	return i > 0 && b->ch[i].key == b->ch[i - 1].key;
}

/* The end of the line whose changes start at i (of n). */
static size_t
line_end(const struct batch *b, size_t i, size_t n)
{
	for (i++; i < n && same_line(b, i); i++)
		;
	return i;
}

/* Why a confirmation went in without its request (result r). */
static const char *
request_text(int r)
{
	if (r == OG_UNCHANGED)
		return "the store had this scope asked or confirmed before "
		       "(its history keeps when)";
	if (r == OG_SKIPPED_ERASED)
		return "it is dated before the address's erasure";
	if (r == OG_SKIPPED_OLDER)
		return "the store has a change of this scope newer than the "
		       "request (and older than the confirmation)";
	return "an opt-out holds for it";
}

/*
 * Count the line of changes [i, j) of the range starting at from (the
 * results are the range's): its own change's result, a cap that went in
 * over an unchanged one makes it imported; a cap or a request that did
 * not go in beside it is a warning.
 */
static void
count_line(
    struct import *im, const struct batch *b, size_t from, size_t i, size_t j)
{
	size_t m = i; /* the line's own change */
	const og_change *c;
	int r, rcap;

	if (j - i > 1 && (b->ch[from + i + 1].flags & OG_CH_REQUESTED))
		m = i + 1;
	c = &b->ch[from + m];
	r = b->results[m];
	rcap = m + 1 < j ? b->results[m + 1] : OG_UNCHANGED;
	if (r == OG_UNCHANGED && rcap == OG_APPLIED)
		r = OG_APPLIED;
	if (m > i && b->results[m] == OG_APPLIED &&
	    b->results[i] != OG_APPLIED) {
		im->warned++;
		if (im->warn)
			fprintf(im->warn,
			    "%lu: %s: confirmed, but its request (requested) "
			    "not recorded: %s\n",
			    line_of(c), c->raw, request_text(b->results[i]));
	}
	switch (r) {
	case OG_APPLIED:
		im->imported++;
		break;
	case OG_UNCHANGED:
		im->unchanged++;
		break;
	default:
		im->skipped++;
		if (im->warn)
			fprintf(im->warn, "%lu: %s: %s\n", line_of(c), c->raw,
			    skip_text(c, r));
	}
	if (rcap != OG_APPLIED && rcap != OG_UNCHANGED) {
		/* the line went in, its cap did not: a warning the summary
		 * counts and points to */
		if (r == OG_APPLIED || r == OG_UNCHANGED)
			im->warned++;
		if (im->warn)
			fprintf(im->warn, "%lu: %s: %s\n", line_of(c), c->raw,
			    skip_text(&b->ch[from + m + 1], rcap));
	}
}

/*
 * Apply rows [from, from+n) of the sorted order in one durable commit;
 * a transaction too big for LMDB (OG_EBUSY) is split in halves, and so
 * is one with a line the store cannot take (OG_ETOOBIG: the address's
 * record is full), down to that line, which is skipped with its number.
 */
static int
apply_range(struct import *im, struct batch *b, size_t from, size_t n)
{
	size_t i, j;
	int rc;

	rc = og_store_apply(im->cli->store, b->ch + from, n, b->results);
	if (rc == OG_ETOOBIG && line_end(b, from, from + n) == from + n) {
		const og_change *c = &b->ch[from];

		im->skipped++;
		if (im->warn)
			fprintf(im->warn,
			    "%lu: %s: not imported: the address's record is "
			    "full (%d entries, one per scope with a state or "
			    "a cap); an opt-out or suppression goes in only "
			    "in place of an expired entry or an opt-in\n",
			    line_of(c), c->raw, OG_ENTRIES_MAX);
		return 0;
	}
	if ((rc == OG_EBUSY || rc == OG_ETOOBIG) &&
	    line_end(b, from, from + n) < from + n) {
		size_t mid = n / 2;

		/*
		 * The changes of a line stay in one range (one commit, one
		 * count): its request, it and its cap.
		 */
		while (mid < n && same_line(b, from + mid))
			mid++;
		if (mid == n)
			mid = line_end(b, from, from + n) - from;
		if ((rc = apply_range(im, b, from, mid)) != 0)
			return rc;
		return apply_range(im, b, from + mid, n - mid);
	}
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i = j) {
		j = line_end(b, from + i, from + n) - from;
		count_line(im, b, from, i, j);
	}
	return 0;
}

/*
 * Sort a batch by address (file order within one), in place: commits
 * then walk the B-tree in order.  Done by the reader thread, which
 * otherwise waits for the writer.
 */
static void
sort_batch(struct batch *b)
{
	og_change tmp;
	size_t i, j, k;

	for (i = 0; i < b->n; i++)
		b->order[i] = (int)i;
	qsort_r(b->order, b->n, sizeof(int), cmp_rows, b->ch);
	/* put ch[order[i]] at i, cycle by cycle */
	for (i = 0; i < b->n; i++) {
		if (b->order[i] < 0 || (size_t)b->order[i] == i)
			continue;
		tmp = b->ch[i];
		for (j = i; (size_t)b->order[j] != i; j = k) {
			k = (size_t)b->order[j];
			b->ch[j] = b->ch[k];
			b->order[j] = -1;
		}
		b->ch[j] = tmp;
		b->order[j] = -1;
	}
}

static int
commit_batch(struct import *im, struct batch *b)
{
	return apply_range(im, b, 0, b->n);
}

/*
 * The lines of the first n changes of batch b: a line is up to three
 * changes (its request, it, its cap), and the admin counts lines.
 */
static size_t
batch_lines(const struct batch *b, size_t n)
{
	size_t i, lines = 0;

	for (i = 0; i < n; i = line_end(b, i, n))
		lines++;
	return lines;
}

static void *
writer_main(void *arg)
{
	struct import *im = arg;
	struct batch *b;
	uint64_t counted;
	int rc;

	pthread_mutex_lock(&im->mu);
	for (;;) {
		while (im->todo == NULL && !im->quit)
			pthread_cond_wait(&im->cv, &im->mu);
		if ((b = im->todo) == NULL)
			break;
		pthread_mutex_unlock(&im->mu);
		counted = im->imported + im->unchanged + im->skipped;
		rc = commit_batch(im, b);
		pthread_mutex_lock(&im->mu);
		if (rc != 0) {
			/* its lines less those a range committed before
			 * the failure counted */
			im->werr = rc;
			im->lost += batch_lines(b, b->n) -
			            (size_t)(im->imported + im->unchanged +
			                     im->skipped - counted);
		}
		b->n = 0;
		b->used = 0;
		im->todo = NULL;
		pthread_cond_broadcast(&im->cv);
	}
	pthread_mutex_unlock(&im->mu);
	return NULL;
}

/*
 * Hand the batch being filled to the writer (after the previous one is
 * committed) and fill the other.  Returns the writer's error, if any.
 */
static int
flush_batch(struct import *im)
{
	int rc;

	sort_batch(im->cb);
	pthread_mutex_lock(&im->mu);
	while (im->todo != NULL)
		pthread_cond_wait(&im->cv, &im->mu);
	rc = im->werr;
	if (rc == 0 && im->cb->n) {
		im->todo = im->cb;
		im->cb = im->cb == &im->bt[0] ? &im->bt[1] : &im->bt[0];
		pthread_cond_broadcast(&im->cv);
	}
	pthread_mutex_unlock(&im->mu);
	return rc;
}

/* Wait for the writer to finish everything handed over; stop it. */
static int
writer_stop(struct import *im)
{
	int rc;

	if (!im->started)
		return 0;
	pthread_mutex_lock(&im->mu);
	while (im->todo != NULL)
		pthread_cond_wait(&im->cv, &im->mu);
	im->quit = 1;
	pthread_cond_broadcast(&im->cv);
	rc = im->werr;
	pthread_mutex_unlock(&im->mu);
	pthread_join(im->writer, NULL);
	im->started = 0;
	return rc;
}

/* Trim spaces and tabs around a field, in place. */
static const char *
trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

/* Field i of the row, trimmed ("" when the column is absent). */
static const char *
fld(const struct import *im, const og_csv_rec *r, int col, size_t *n)
{
	int i = im->col[col];

	if (i < 0) {
		*n = 0;
		return "";
	}
	*n = r->len[i];
	return trim(r->field[i], n);
}

/*
 * Excel in many locales writes ';', its "Text" export a tab: say so when
 * the header line has one, whatever its commas and quotes made of it.
 */
static void
separator_hint(const struct import *im, const char *raw, size_t n)
{
	const char *semi = memchr(raw, ';', n), *tab = memchr(raw, '\t', n);

	if (semi == NULL && tab == NULL)
		return;
	fprintf(stderr,
	    "optgate: %s: the columns are separated by %s, optgate reads "
	    "commas: export the file as CSV with commas\n",
	    im->input, semi != NULL ? "';'" : "tabs");
}

static int
parse_header(struct import *im, const og_csv_rec *r)
{
	char unknown[1024] = "";
	int i, j, bad = 0;

	for (i = 0; i < NCOLS; i++)
		im->col[i] = -1;
	im->ncols = r->nfields;
	/*
	 * Excel's "CSV (Macintosh)" ends lines with CR alone: the whole
	 * file reads as one line, and the column names as garbage.
	 */
	for (i = 0; i < r->nfields; i++)
		if (memchr(r->field[i], '\r', r->len[i]) != NULL) {
			fprintf(stderr,
			    "optgate: %s:%lu: the lines end with a carriage "
			    "return alone (a Macintosh CSV), optgate reads "
			    "LF or CRLF: convert it with tr '\\r' '\\n' < "
			    "FILE > NEW\n",
			    im->input, r->line);
			return OG_EXIT_USAGE;
		}
	/*
	 * UTF-16 without its byte order mark (every other byte NUL): the
	 * names end at their first NUL and read as "a" and nameless
	 * columns.  Say what the file is, as for UTF-16 with the mark.
	 */
	if (memchr(r->raw, '\0', r->rawlen) != NULL) {
		fprintf(stderr,
		    "optgate: %s:%lu: a NUL byte in the header: UTF-16 text "
		    "without its byte order mark, or not a text file; optgate "
		    "reads UTF-8: convert UTF-16 with iconv -f %s -t utf-8\n",
		    im->input, r->line,
		    r->rawlen && r->raw[0] == '\0' ? "utf-16be" : "utf-16le");
		return OG_EXIT_USAGE;
	}
	for (i = 0; i < r->nfields; i++) {
		size_t n = r->len[i];
		const char *s = trim(r->field[i], &n);
		char name[64];

		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, s, n);
		name[n] = 0;
		for (j = 0; name[j]; j++) {
			name[j] = (char)tolower((unsigned char)name[j]);
			if (name[j] == '-')
				name[j] = '_';
		}
		if (strcmp(name, "email") == 0 || strcmp(name, "e_mail") == 0)
			og_strlcpy(name, "address", sizeof(name));
		for (j = 0; j < NCOLS; j++)
			if (strcmp(name, colnames[j]) == 0)
				break;
		if (j == NCOLS) {
			size_t ul = strlen(unknown);

			/* a spreadsheet's trailing empty columns: '""' would
			 * not say which */
			if (name[0] == '\0')
				snprintf(unknown + ul, sizeof(unknown) - ul,
				    "%s(column %d has no name)", ul ? ", " : "",
				    i + 1);
			else
				snprintf(unknown + ul, sizeof(unknown) - ul,
				    "%s\"%s\"", ul ? ", " : "", name);
			continue;
		}
		if (im->col[j] >= 0) {
			fprintf(stderr,
			    "optgate: %s:%lu: column %s appears "
			    "twice\n",
			    im->input, r->line, colnames[j]);
			bad = 1;
		}
		im->col[j] = i;
	}
	if (unknown[0]) {
		fprintf(stderr,
		    "optgate: %s:%lu: unknown column%s %s (known: ", im->input,
		    r->line, strchr(unknown, ',') ? "s" : "", unknown);
		for (j = 0; j < NCOLS; j++)
			fprintf(stderr, "%s%s", j ? ", " : "", colnames[j]);
		fprintf(stderr, ")\n");
		separator_hint(im, r->raw, r->rawlen);
		bad = 1;
	}
	if (im->col[C_ADDRESS] < 0 || im->col[C_STATE] < 0) {
		fprintf(stderr,
		    "optgate: %s:%lu: the header needs the columns "
		    "address and state\n",
		    im->input, r->line);
		bad = 1;
	}
	return bad ? OG_EXIT_USAGE : 0;
}

/* An RFC 3339 time in a field of n bytes: 0, or -1 when it is none. */
static int
field_time(const char *s, size_t n, int64_t *t)
{
	char tb[64];

	if (n >= sizeof(tb))
		return -1;
	memcpy(tb, s, n);
	tb[n] = 0;
	return og_time_parse_rfc3339(tb, t) != 0 ? -1 : 0;
}

/* Is the field of n bytes an IPv4 or IPv6 address? */
static int
field_ip(const char *s, size_t n)
{
	char ib[64];
	unsigned char bin[16];

	if (n >= sizeof(ib))
		return 0;
	memcpy(ib, s, n);
	ib[n] = 0;
	return inet_pton(strchr(ib, ':') ? AF_INET6 : AF_INET, ib, bin) == 1;
}

/*
 * The note of a line: its note column, after the reason of a line that
 * is not suppressed (files before the note column gave a note there),
 * joined by "; " when both are given.  The caller checked the length.
 */
static const char *
import_note(struct import *im, const char *reason, size_t nreason,
    const char *note, size_t nnote)
{
	char b[OG_EVF_MAX + 1];

	if (nreason == 0)
		return arena_dup(im, note, nnote);
	if (nnote == 0)
		return arena_dup(im, reason, nreason);
	if (nreason + 2 + nnote >= sizeof(b))
		og_panic("import_note: note of %zu bytes", nreason + 2 + nnote);
	memcpy(b, reason, nreason);
	memcpy(b + nreason, "; ", 2);
	memcpy(b + nreason + 2, note, nnote);
	return arena_dup(im, b, nreason + 2 + nnote);
}

/*
 * The requested column of a line (s, n bytes; n is 0 when only its proof
 * was given): the time the person asked for the double opt-in that the
 * line's confirmation (state st, time t; 0: the import's start) answered.
 * *treq gets it.  0, or -1 with the line rejected.
 */
static int
import_request(struct import *im, const og_csv_rec *r, int st, int64_t t,
    const char *s, size_t n, int64_t *treq)
{
	const char *why = NULL;

	if (st != OG_ST_CONFIRMED)
		why = "requested is the request of a double opt-in: for a "
		      "confirmed line only";
	else if (n == 0)
		why = "requested_source, requested_ip and requested_user_agent "
		      "need requested (when the person asked)";
	else if (field_time(s, n, treq) != 0 || *treq <= 0)
		why = "bad requested (expected RFC 3339, e.g. "
		      "2026-11-01T10:00:00Z)";
	else if (*treq > im->now + FUTURE_SKEW)
		why = "requested is in the future";
	else if (*treq > (t ? t : im->now))
		why =
		    t ? "requested is after the confirmation (the line's time)"
		      : "requested is after the confirmation (the line has "
		        "no time: the import's start)";
	if (why == NULL)
		return 0;
	reject(im, r->line, why, r->raw, r->rawlen);
	return -1;
}

/* Validate one record and add it to the batch; rejects are reported. */
static void
import_row(struct import *im, const og_csv_rec *r)
{
	const og_config *cfg = im->cli->cfg;
	const og_stream *ost = NULL;
	og_change *ch;
	og_addr a;
	const char *s, *stream, *partner, *sender, *src, *ip, *ua, *seg;
	const char *reason, *note, *rsrc, *rip, *rua;
	size_t n, nstream, npartner, nsender, nsrc, nip, nua, nseg, nreason;
	size_t nnote, nrsrc, nrip, nrua;
	char why[256], state[16], sndr[OG_DOMAIN_MAX + 1];
	og_cap cap = {0, 0};
	uint32_t cp;
	int i, st, rs = OG_RS_NONE;
	int64_t t = 0, exp = 0, treq = 0;

	if (r->nfields != im->ncols) {
		snprintf(why, sizeof(why),
		    "wrong column count: %d %s, the "
		    "header has %d",
		    r->nfields, og_noun(r->nfields, "field", "fields"),
		    im->ncols);
		reject(im, r->line, why, r->raw, r->rawlen);
		return;
	}
	for (i = 0; i < r->nfields; i++) {
		size_t bad;

		if (!og_csv_utf8_valid(r->field[i], r->len[i], &bad)) {
			int j;

			for (j = 0; j < NCOLS && im->col[j] != i; j++)
				;
			/*
			 * A NUL is no Latin-1: iconv would not help.  Other
			 * bytes: Excel's "CSV" on Windows is Windows-1252;
			 * read as Latin-1, its ' and euro (0x92, 0x80) would
			 * become invisible C1 controls.  For Latin-1 text the
			 * two give the same.
			 */
			if (r->field[i][bad] == 0)
				snprintf(why, sizeof(why),
				    "a NUL byte in column %s (offset %zu): not "
				    "a text file, or UTF-16 without its byte "
				    "order mark (iconv -f utf-16 -t utf-8)",
				    j < NCOLS ? colnames[j] : "?", bad);
			else
				snprintf(why, sizeof(why),
				    "not valid UTF-8 in column %s (byte 0x%02x "
				    "at offset %zu; convert the file with "
				    "iconv -f windows-1252 -t utf-8)",
				    j < NCOLS ? colnames[j] : "?",
				    (unsigned char)r->field[i][bad], bad);
			reject(im, r->line, why, r->raw, r->rawlen);
			return;
		}
		/*
		 * U+FEFF, invisible: a file with a BOM joined to another
		 * (cat a.csv b.csv).  The address rules take it as part of
		 * the local part, so the line would stop or allow a
		 * mailbox no mail goes to.
		 */
		if (memmem(r->field[i], r->len[i], "\xEF\xBB\xBF", 3)) {
			reject(im, r->line,
			    "a byte order mark (U+FEFF) inside the line (files "
			    "joined together? remove it)",
			    r->raw, r->rawlen);
			return;
		}
	}
	s = fld(im, r, C_ADDRESS, &n);
	if (og_addr_parse(s, n, &cfg->rules, &a) != 0) {
		snprintf(why, sizeof(why), "invalid address: %s",
		    a.error ? a.error : "syntax");
		reject(im, r->line, why, r->raw, r->rawlen);
		return;
	}
	/*
	 * A no-break or zero-width space pasted with the address stays in
	 * its match key: the line would stop or allow a mailbox no mail
	 * goes to, and the person herself would still get mail.
	 */
	if (og_csv_invisible(a.key, strlen(a.key), &n, &cp)) {
		snprintf(why, sizeof(why),
		    "invisible character U+%04X in the address (a no-break, "
		    "zero-width or other space, or a format mark; pasted from "
		    "a web page? remove it)",
		    (unsigned)cp);
		reject(im, r->line, why, r->raw, r->rawlen);
		return;
	}
	s = fld(im, r, C_STATE, &n);
	if (n >= sizeof(state))
		n = sizeof(state) - 1;
	for (i = 0; (size_t)i < n; i++)
		state[i] = (char)tolower((unsigned char)s[i]);
	state[n] = 0;
	if (strcmp(state, "optin") == 0)
		st = OG_ST_OPTIN;
	else if (strcmp(state, "confirmed") == 0)
		st = OG_ST_CONFIRMED;
	else if (strcmp(state, "optout") == 0)
		st = OG_ST_OPTOUT;
	else if (strcmp(state, "suppressed") == 0)
		st = OG_ST_SUPPRESSED;
	else if (strcmp(state, "pending") == 0)
		st = OG_ST_PENDING;
	else if (strcmp(state, "none") == 0)
		st = OG_ST_NONE; /* a cap only (checked below) */
	else {
		reject(im, r->line,
		    "unknown state (expected optin, confirmed, "
		    "optout, suppressed, pending, or none with a cap)",
		    r->raw, r->rawlen);
		return;
	}
	stream = fld(im, r, C_STREAM, &nstream);
	partner = fld(im, r, C_PARTNER, &npartner);
	sender = fld(im, r, C_SENDER, &nsender);
	if (nstream) {
		char sname[OG_STREAM_NAME_MAX + 1];

		if (nstream < sizeof(sname)) {
			memcpy(sname, stream, nstream);
			sname[nstream] = 0;
			ost = og_config_stream(cfg, sname);
		}
	}
	if (nstream && ost == NULL) {
		reject(im, r->line, "unknown stream (not in the configuration)",
		    r->raw, r->rawlen);
		return;
	}
	if (npartner > OG_STREAM_NAME_MAX || nsender > OG_STREAM_NAME_MAX) {
		reject(im, r->line, "partner or sender longer than 64 bytes",
		    r->raw, r->rawlen);
		return;
	}
	s = fld(im, r, C_TIME, &n);
	if (n) {
		if (field_time(s, n, &t) != 0) {
			reject(im, r->line,
			    "bad time (expected RFC 3339, e.g. "
			    "2026-11-02T10:00:00Z)",
			    r->raw, r->rawlen);
			return;
		}
		if (t > im->now + FUTURE_SKEW) {
			reject(im, r->line, "time is in the future", r->raw,
			    r->rawlen);
			return;
		}
		if (t <= 0) {
			reject(im, r->line, "bad time (before 1970)", r->raw,
			    r->rawlen);
			return;
		}
	}
	ip = fld(im, r, C_IP, &nip);
	if (nip && !field_ip(ip, nip)) {
		reject(im, r->line, "bad ip (expected an IPv4 or IPv6 address)",
		    r->raw, r->rawlen);
		return;
	}
	src = fld(im, r, C_SOURCE, &nsrc);
	ua = fld(im, r, C_UA, &nua);
	if (nsrc > OG_EVF_MAX || nua > OG_EVF_MAX) {
		reject(im, r->line,
		    "source or user_agent longer than 512 "
		    "bytes",
		    r->raw, r->rawlen);
		return;
	}
	s = fld(im, r, C_EXPIRES, &n);
	if (n) {
		if (field_time(s, n, &exp) != 0 || exp <= 0) {
			reject(im, r->line,
			    "bad expires (expected RFC 3339, e.g. "
			    "2026-12-02T10:00:00Z)",
			    r->raw, r->rawlen);
			return;
		}
		if (st != OG_ST_OPTOUT && st != OG_ST_SUPPRESSED) {
			reject(im, r->line,
			    "expires is for an optout or suppressed line",
			    r->raw, r->rawlen);
			return;
		}
	}
	reason = fld(im, r, C_REASON, &nreason);
	if (nreason > OG_EVF_MAX) {
		reject(im, r->line, "reason longer than 512 bytes", r->raw,
		    r->rawlen);
		return;
	}
	if (st == OG_ST_SUPPRESSED) {
		char rb[32];

		rs = OG_RS_MANUAL;
		if (nreason) {
			if (nreason >= sizeof(rb))
				nreason = sizeof(rb) - 1;
			for (i = 0; (size_t)i < nreason; i++)
				rb[i] = (char)tolower((unsigned char)reason[i]);
			rb[nreason] = 0;
			rs = og_reason_parse(rb);
			if (rs == OG_RS_SOFT_BOUNCE && exp == 0) {
				reject(im, r->line,
				    "a soft-bounce suppression needs "
				    "expires (it is temporary)",
				    r->raw, r->rawlen);
				return;
			}
			if (rs != OG_RS_HARD_BOUNCE && rs != OG_RS_COMPLAINT &&
			    rs != OG_RS_MANUAL && rs != OG_RS_SOFT_BOUNCE) {
				reject(im, r->line,
				    "unknown reason (expected "
				    "hard-bounce, complaint, manual or "
				    "soft-bounce)",
				    r->raw, r->rawlen);
				return;
			}
			nreason = 0; /* not a note */
		}
	}
	note = fld(im, r, C_NOTE, &nnote);
	/* a reason that is no suppression's is a note too (older files) */
	if (nnote + (nreason && nnote ? 2 : 0) + nreason > OG_EVF_MAX) {
		reject(im, r->line,
		    "note longer than 512 bytes (with the reason of a line "
		    "that is not suppressed: it is kept as a note too)",
		    r->raw, r->rawlen);
		return;
	}
	seg = fld(im, r, C_SEGMENT, &nseg);
	if (nseg && og_cli_segments(seg, nseg, NULL, 0) != 0) {
		reject(im, r->line,
		    "bad segment list (at most 8 "
		    "segments of 1 to 32 bytes, separated by , ; or |)",
		    r->raw, r->rawlen);
		return;
	}
	s = fld(im, r, C_CAP, &n);
	if (n || st == OG_ST_NONE) {
		char cb[64];

		if (n == 0 || n >= sizeof(cb) ||
		    (memcpy(cb, s, n), cb[n] = 0,
		        og_config_parse_caps(cb, &cap, 1) != 1)) {
			reject(im, r->line,
			    st == OG_ST_NONE && n == 0
			        ? "state none needs a cap (it sets only the "
			          "person's cap)"
			        : "bad cap (expected one cap, e.g. 1/7d; count "
			          "1 to 32)",
			    r->raw, r->rawlen);
			return;
		}
		if (!nstream) {
			reject(im, r->line,
			    "a cap is the person's cap for a stream: give the "
			    "stream",
			    r->raw, r->rawlen);
			return;
		}
	}
	if (nsender && !nstream && !npartner) {
		char in[OG_STREAM_NAME_MAX + 1];

		memcpy(in, sender, nsender);
		in[nsender] = 0;
		if (og_config_sender_name(cfg, in, sndr, sizeof(sndr)) != 0 ||
		    strlen(sndr) > OG_STREAM_NAME_MAX) {
			reject(im, r->line,
			    "bad sender (expected a domain, an address or a "
			    "stream's sender name)",
			    r->raw, r->rawlen);
			return;
		}
	}
	if (og_state_optin(st) && !nstream && !npartner) {
		reject(im, r->line, "an opt-in needs a stream or a partner",
		    r->raw, r->rawlen);
		return;
	}
	s = fld(im, r, C_REQUESTED, &n);
	rsrc = fld(im, r, C_RQ_SOURCE, &nrsrc);
	rip = fld(im, r, C_RQ_IP, &nrip);
	rua = fld(im, r, C_RQ_UA, &nrua);
	if ((n || nrsrc || nrip || nrua) &&
	    import_request(im, r, st, t, s, n, &treq) != 0)
		return;
	if (nrip && !field_ip(rip, nrip)) {
		reject(im, r->line,
		    "bad requested_ip (expected an IPv4 or IPv6 address)",
		    r->raw, r->rawlen);
		return;
	}
	if (nrsrc > OG_EVF_MAX || nrua > OG_EVF_MAX) {
		reject(im, r->line,
		    "requested_source or requested_user_agent longer than "
		    "512 bytes",
		    r->raw, r->rawlen);
		return;
	}

	/* Valid: into the batch. */
	ch = &im->cb->ch[im->cb->n];
	memset(ch, 0, sizeof(*ch));
	ch->key = arena_key(im, r->line, a.key);
	ch->raw = strcmp(a.raw, a.key) == 0
	              ? ch->key
	              : arena_dup(im, a.raw, strlen(a.raw));
	if (nstream) {
		ch->scope = OG_SCOPE_STREAM;
		ch->name = ost->name; /* the config outlives the import */
	} else if (npartner) {
		ch->scope = OG_SCOPE_PARTNER;
		ch->name = og_config_partner(cfg, partner, npartner);
		if (ch->name == NULL) {
			ch->name = arena_dup(im, partner, npartner);
			im->warned++;
			if (im->warn)
				fprintf(im->warn,
				    "%lu: %s: no stream in the configuration "
				    "has partner = %s: stored, it stops "
				    "nothing until one does\n",
				    r->line, a.raw, ch->name);
		}
	} else if (nsender) {
		/* named as the gate names it: see og_config_sender_name */
		ch->scope = OG_SCOPE_SENDER;
		ch->name = arena_dup(im, sndr, strlen(sndr));
	} else {
		ch->scope = OG_SCOPE_ALL;
	}
	switch (st) {
	case OG_ST_NONE:
		ch->kind = OG_EV_PREF;
		ch->pref = cap;
		break;
	case OG_ST_OPTIN:
	case OG_ST_CONFIRMED:
	case OG_ST_PENDING:
		ch->kind = OG_EV_OPTIN;
		ch->state = (uint8_t)st;
		break;
	case OG_ST_OPTOUT:
		ch->kind = OG_EV_OPTOUT;
		break;
	default:
		ch->kind = OG_EV_SUPPRESS;
		ch->reason = (uint8_t)rs;
	}
	ch->via = OG_VIA_IMPORT;
	ch->expires = exp;
	/*
	 * A time ahead of our clock (allowed: the exporting host's clock
	 * may run fast) is taken as the import's start: stored as given,
	 * it would outrank an opt-out made after the import but before
	 * that time, and an opt-in would lift it.
	 */
	ch->time = t && t < im->now ? t : im->now;
	ch->flags = OG_CH_IF_NEWER;
	if (ch->kind == OG_EV_OPTIN &&
	    (t == 0 || (nsrc == 0 && nip == 0 && nua == 0)))
		ch->flags |= OG_CH_NO_LIFT;
	ch->f[OG_EVF_SOURCE] = nsrc ? arena_dup(im, src, nsrc) : im->source;
	if (nip)
		ch->f[OG_EVF_IP] = arena_dup(im, ip, nip);
	if (nua)
		ch->f[OG_EVF_UA] = arena_dup(im, ua, nua);
	if (nreason || nnote)
		ch->f[OG_EVF_NOTE] =
		    import_note(im, reason, nreason, note, nnote);
	if (nseg) {
		char *d = arena_dup(im, seg, nseg);

		for (i = 0; d[i]; i++)
			if (d[i] == ';' || d[i] == '|')
				d[i] = ',';
		ch->segments = d;
	}
	if (a.typo[0]) {
		im->warned++;
		if (im->warn)
			fprintf(im->warn,
			    "%lu: %s: the domain looks like a typo "
			    "of %s (imported as given)\n",
			    r->line, a.raw, a.typo);
	}
	im->cb->n++;
	if (treq) {
		/*
		 * The double opt-in's request goes in first, as its own
		 * change of the line (pending, with its time and proof),
		 * then the confirmation, which confirms it also at the same
		 * second.  A rerun finds the entry confirmed: the request
		 * is older, the line unchanged, no second request.
		 */
		og_change *mc = &im->cb->ch[im->cb->n++];

		*mc = *ch;
		mc->flags |= OG_CH_REQUESTED;
		ch->state = OG_ST_PENDING;
		ch->time = treq < im->now ? treq : im->now; /* as time's */
		ch->segments = NULL;
		memset(ch->f, 0, sizeof(ch->f));
		ch->f[OG_EVF_SOURCE] =
		    nrsrc ? arena_dup(im, rsrc, nrsrc) : im->source;
		if (nrip)
			ch->f[OG_EVF_IP] = arena_dup(im, rip, nrip);
		if (nrua)
			ch->f[OG_EVF_UA] = arena_dup(im, rua, nrua);
		ch = mc;
	}
	if (cap.limit && st != OG_ST_NONE) {
		/* the cap follows its line's change (cmp_rows keeps them
		 * together) as a change of its own */
		og_change *pc = &im->cb->ch[im->cb->n++];

		*pc = *ch;
		pc->kind = OG_EV_PREF;
		pc->state = 0;
		pc->reason = 0;
		pc->expires = 0;
		pc->segments = NULL;
		pc->flags = OG_CH_IF_NEWER;
		/*
		 * (its source, ip, user agent and note too: the cap's own
		 * event says where it came from; the entry keeps the line's
		 * state change as its proof, for status and export)
		 */
		pc->pref = cap;
	}
}

static void
import_summary(struct import *im, int rc, double secs)
{
	double rate = secs > 0 ? (double)im->lines / secs : 0;
	og_buf l;

	/* one line a run, not one an address: a list is millions */
	og_buf_init(&l, 0);
	og_buf_adds(&l, "import: file=\"");
	og_buf_add_escaped(&l, im->input, strlen(im->input), 256);
	og_buf_printf(&l,
	    "\", lines=%llu, imported=%llu, unchanged=%llu, skipped=%llu, "
	    "rejected=%llu, warned=%llu, complete=%s",
	    (unsigned long long)im->lines, (unsigned long long)im->imported,
	    (unsigned long long)im->unchanged, (unsigned long long)im->skipped,
	    (unsigned long long)im->rejected, (unsigned long long)im->warned,
	    rc == 0 ? "yes" : "no");
	og_cli_log_text(&l, "source", im->source);
	og_cli_log(&l);
	if (im->cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"file\":");
		og_json_str(&b, im->input);
		og_buf_printf(&b,
		    ",\"lines\":%llu,\"imported\":%llu,"
		    "\"unchanged\":%llu,\"skipped\":%llu,\"rejected\":%llu,"
		    "\"warned\":%llu,\"seconds\":%.3f,\"lines_per_second\":%."
		    "0f",
		    (unsigned long long)im->lines,
		    (unsigned long long)im->imported,
		    (unsigned long long)im->unchanged,
		    (unsigned long long)im->skipped,
		    (unsigned long long)im->rejected,
		    (unsigned long long)im->warned, secs, rate);
		og_buf_adds(&b, ",\"rejects\":");
		og_json_str(&b, im->rej_path);
		og_buf_adds(&b, ",\"warnings\":");
		og_json_str(&b, im->warn_path);
		og_buf_printf(
		    &b, ",\"complete\":%s}", rc == 0 ? "true" : "false");
		og_cli_flush(&b);
		og_buf_free(&b);
		return;
	}
	printf("import %s: %llu %s: %llu imported, %llu unchanged, %llu "
	       "skipped, %llu rejected, %llu warned (%.1f s, %.0f lines/s)\n",
	    im->input, (unsigned long long)im->lines,
	    og_noun(im->lines, "line", "lines"),
	    (unsigned long long)im->imported, (unsigned long long)im->unchanged,
	    (unsigned long long)im->skipped, (unsigned long long)im->rejected,
	    (unsigned long long)im->warned, secs, rate);
	if (im->rejected)
		printf("rejected lines (line number and reason): %s\n",
		    im->rej_path);
	if (im->warned || im->skipped)
		printf("warnings and skipped lines: %s\n", im->warn_path);
	if (rc != 0)
		printf(
		    "import incomplete: every line up to the last commit is "
		    "in the store; run the same import again to finish (lines "
		    "already imported count as unchanged)\n");
}

/*
 * The warnings file, or the rejects file again when both name one file
 * (--rejects out.txt --warnings out.txt): a second open truncated it and
 * its own buffer wrote over the rejects, which were then lost while the
 * summary pointed to them.
 */
static FILE *
open_warnings(struct import *im)
{
	struct stat rs, ws;

	/* lstat: a symbolic link is refused by open_out, as ever */
	if (fstat(fileno(im->rej), &rs) == 0 &&
	    lstat(im->warn_path, &ws) == 0 && rs.st_dev == ws.st_dev &&
	    rs.st_ino == ws.st_ino)
		return im->rej;
	return open_out(im->warn_path);
}

int
cmd_import(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"rejects", 1, NULL, 'r'},
	    {"warnings", 1, NULL, 'w'}, {"source", 1, NULL, 's'},
	    {"batch", 1, NULL, 'b'}, {NULL, 0, NULL, 0}};
	const char *usage = "import FILE|- [--rejects FILE] [--warnings FILE] "
	                    "[--source TEXT] [--batch LINES]";
	uint64_t batch = IMP_BATCH_DEFAULT;
	const char *rej = NULL, *warn = NULL, *source = NULL;
	char rejbuf[4200], warnbuf[4200];
	struct import *im;
	og_csv_rec *r;
	struct sigaction sa;
	struct stat sb;
	int c, rc, fd, i, ret = OG_EXIT_OK, header = 0, wrc = 0;
	double t0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			rej = optarg;
			break;
		case 'w':
			warn = optarg;
			break;
		case 's':
			source = optarg;
			break;
		case 'b':
			if (og_parse_u64(optarg, IMP_BATCH_MAX, &batch) != 0 ||
			    batch < IMP_BATCH_MIN)
				return og_cli_usage(usage);
			break;
		default:
			return og_cli_usage(usage);
		}
	}
	if (optind + 1 != argc)
		return og_cli_usage(usage);
	if (source && strlen(source) > 256)
		return og_cli_usage(usage);
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	im = og_xcalloc(1, sizeof(*im));
	im->cli = cli;
	im->input = argv[optind];
	if (strcmp(im->input, "-") == 0) {
		fd = STDIN_FILENO;
		im->input = "stdin";
	} else if ((fd = open(im->input, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(
		    stderr, "optgate: %s: %s\n", im->input, strerror(errno));
		free(im);
		return OG_EXIT_SYSTEM;
	}
	snprintf(rejbuf, sizeof(rejbuf), "%s.rejects",
	    fd == STDIN_FILENO ? "import" : im->input);
	snprintf(warnbuf, sizeof(warnbuf), "%s.warnings",
	    fd == STDIN_FILENO ? "import" : im->input);
	im->rej_path = rej ? rej : rejbuf;
	im->warn_path = warn ? warn : warnbuf;
	if (source) {
		og_strlcpy(im->source, source, sizeof(im->source));
	} else {
		const char *base = strrchr(im->input, '/');

		snprintf(im->source, sizeof(im->source), "import:%s",
		    base ? base + 1 : im->input);
	}
	im->now = og_time_now();
	if (fstat(fd, &sb) != 0)
		memset(&sb, 0, sizeof(sb)); /* same_file: matches nothing */
	if (S_ISREG(sb.st_mode))
		im->total_bytes = (uint64_t)sb.st_size;
	im->tty = !cli->json && isatty(STDERR_FILENO);
	im->csv = og_csv_new_fd(fd, 0);
	r = og_xmalloc(sizeof(*r));
	im->batch = batch;
	for (i = 0; i < 2; i++) {
		/* + 2: a line is up to three changes (request, cap) */
		im->bt[i].ch = og_xcalloc(batch + 2, sizeof(og_change));
		im->bt[i].order = og_xcalloc(batch + 2, sizeof(int));
		im->bt[i].results = og_xcalloc(batch + 2, sizeof(int));
		im->bt[i].arena = og_xmalloc(IMP_ARENA);
	}
	im->cb = &im->bt[0];
	pthread_mutex_init(&im->mu, NULL);
	pthread_cond_init(&im->cv, NULL);

	/* The header first: a file we cannot understand changes nothing. */
	for (;;) {
		rc = og_csv_next(im->csv, r);
		if (rc == 0) {
			fprintf(stderr,
			    "optgate: %s: empty file: no header line "
			    "(expected e.g. address,stream,state,time)\n",
			    im->input);
			ret = OG_EXIT_USAGE;
			goto out;
		}
		if (rc == OG_EIO) {
			fprintf(stderr, "optgate: %s: read: %s\n", im->input,
			    strerror(errno));
			ret = OG_EXIT_SYSTEM;
			goto out;
		}
		if (rc < 0) {
			fprintf(stderr, "optgate: %s:%lu: header: %s\n",
			    im->input, r->line, r->error);
			separator_hint(im, r->raw, r->rawlen);
			ret = OG_EXIT_USAGE;
			goto out;
		}
		break;
	}
	if ((ret = parse_header(im, r)) != 0)
		goto out;
	header = 1;
	if (same_file(im->rej_path, &sb) || same_file(im->warn_path, &sb)) {
		fprintf(stderr,
		    "optgate: %s: the rejects or warnings file is the input "
		    "itself (it would be emptied): name another with "
		    "--rejects/--warnings\n",
		    im->input);
		ret = OG_EXIT_USAGE;
		goto out;
	}
	if ((ret = og_cli_store(cli, OG_STORE_BULK)) != 0)
		goto out;
	if ((im->rej = open_out(im->rej_path)) == NULL ||
	    (im->warn = open_warnings(im)) == NULL) {
		ret = OG_EXIT_SYSTEM;
		goto out;
	}
	if (pthread_create(&im->writer, NULL, writer_main, im) != 0) {
		fprintf(stderr, "optgate: import: cannot start a thread\n");
		ret = OG_EXIT_SYSTEM;
		goto out;
	}
	im->started = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	im->t0 = t0 = og_mono_ms() / 1e3;
	for (;;) {
		if (interrupted)
			break;
		rc = og_csv_next(im->csv, r);
		if (rc == 0)
			break;
		if (rc == OG_EIO) {
			fprintf(stderr, "optgate: %s: read: %s\n", im->input,
			    strerror(errno));
			ret = OG_EXIT_SYSTEM;
			break;
		}
		im->lines++;
		if (rc < 0) {
			char why[128];

			if (rc == OG_ETOOBIG)
				snprintf(why, sizeof(why),
				    "line longer than "
				    "%d bytes",
				    OG_CSV_RECORD_MAX);
			reject_line(im, r->line,
			    rc == OG_ETOOBIG ? why : r->error, r->raw,
			    r->rawlen, rc == OG_ETOOBIG);
		} else {
			import_row(im, r);
		}
		if (im->cb->n >= im->batch ||
		    im->cb->used + 4 * OG_CSV_RECORD_MAX > IMP_ARENA) {
			if ((wrc = flush_batch(im)) != 0)
				break;
		}
		if ((im->lines & 4095) == 0)
			draw_progress(im, 0);
	}
	/* What was read and is valid goes in, also when interrupted. */
	if (wrc == 0)
		wrc = flush_batch(im);
	if ((rc = writer_stop(im)) != 0 && wrc == 0)
		wrc = rc;
	draw_progress(im, 1);
	if (wrc != 0) {
		fprintf(stderr,
		    "optgate: %s: store write failed near line %lu:"
		    " %s%s\n",
		    im->input, r->line, og_strerror(wrc),
		    wrc == OG_EFULL ? " (raise [store] map_size)"
		    : wrc == OG_EIO ? " (I/O error)"
		                    : "");
		fprintf(stderr,
		    "optgate: the last %zu lines read were not "
		    "imported; the store is consistent: fix the cause and run "
		    "the same import again\n",
		    im->lost + batch_lines(im->cb, im->cb->n));
		ret = og_cli_exit_for(wrc);
		if (ret < OG_EXIT_STORE)
			ret = OG_EXIT_WRITE;
	}
	if (interrupted && ret == OG_EXIT_OK) {
		fprintf(stderr,
		    "optgate: interrupted after line %lu; run the "
		    "same import again to finish\n",
		    r->line);
		ret = 130;
	}
	if (im->rej && fflush(im->rej) != 0) {
		fprintf(
		    stderr, "optgate: %s: %s\n", im->rej_path, strerror(errno));
		if (ret == OG_EXIT_OK)
			ret = OG_EXIT_SYSTEM;
	}
	if (im->warn && im->warn != im->rej && fflush(im->warn) != 0) {
		fprintf(stderr, "optgate: %s: %s\n", im->warn_path,
		    strerror(errno));
		if (ret == OG_EXIT_OK)
			ret = OG_EXIT_SYSTEM;
	}
	import_summary(im, ret, og_mono_ms() / 1e3 - t0);
out:
	(void)header;
	if (im->rej)
		fclose(im->rej);
	if (im->warn && im->warn != im->rej)
		fclose(im->warn);
	if (fd != STDIN_FILENO)
		close(fd);
	og_csv_free(im->csv);
	free(r);
	writer_stop(im);
	for (i = 0; i < 2; i++) {
		free(im->bt[i].ch);
		free(im->bt[i].order);
		free(im->bt[i].results);
		free(im->bt[i].arena);
	}
	pthread_mutex_destroy(&im->mu);
	pthread_cond_destroy(&im->cv);
	free(im);
	return ret;
}

/* ---------- audit ---------- */

struct seqs {
	uint64_t *v;
	size_t n, cap;
};

static int
collect_seq(const og_event *ev, void *ctx)
{
	struct seqs *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = og_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ev->seq;
	return 0;
}

static int
cmp_seq_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y) - (x > y);
}

static const char *const evf_names[OG_EVF_NFIELDS] = {"", "key", "address",
    "scope_name", "source", "ip", "user_agent", "proof", "report_id",
    "message_id", "status", "diagnostic", "mta", "note", "segments", "stream"};

void
og_cli_event_fields(og_buf *b, const og_event *ev, int from, int json)
{
	int i;

	for (i = from; i < OG_EVF_NFIELDS; i++) {
		if (i == OG_EVF_NAME || ev->f[i][0] == 0)
			continue;
		if (json) {
			og_buf_printf(b, ",\"%s\":", evf_names[i]);
			og_json_str(b, ev->f[i]);
		} else {
			og_buf_printf(b, " %s=", evf_names[i]);
			add_text(b, ev->f[i], strlen(ev->f[i]), 300);
		}
	}
}

static void
scope_str(int scope, const char *name, char *buf, size_t size)
{
	if (scope == OG_SCOPE_ALL || scope == 0)
		snprintf(buf, size, "all");
	else
		snprintf(buf, size, "%s %.64s", og_scope_name(scope), name);
}

/* The scope column of an audit line: "-" for a segment change. */
static void
audit_scope(const og_event *ev, char *sc, size_t size)
{
	if (ev->kind == OG_EV_SEGMENT)
		snprintf(sc, size, "-");
	else
		scope_str(ev->scope, ev->f[OG_EVF_NAME], sc, size);
}

static void
audit_print(og_cli *cli, const og_event *ev, const char *addr, int w, int sw)
{
	char t[32], x[32], sc[96];
	og_buf b;

	og_buf_init(&b, 0);
	audit_scope(ev, sc, sizeof(sc));
	og_time_fmt(ev->time, t, sizeof(t));
	if (cli->json) {
		og_buf_adds(&b, "{\"address\":");
		og_json_str(&b, addr);
		og_buf_printf(&b, ",\"event\":%llu,\"time\":\"%s\",\"kind\":",
		    (unsigned long long)ev->seq, t);
		og_json_str(&b, og_evkind_name(ev->kind));
		og_buf_adds(&b, ",\"scope\":");
		og_json_str(&b, ev->scope ? og_scope_name(ev->scope) : "");
		og_buf_adds(&b, ",\"name\":");
		og_json_str(&b, ev->f[OG_EVF_NAME]);
		og_buf_adds(&b, ",\"old_state\":");
		og_json_str(&b, og_state_name(ev->old_state));
		og_buf_adds(&b, ",\"new_state\":");
		og_json_str(&b, og_state_name(ev->new_state));
		og_buf_adds(&b, ",\"reason\":");
		og_json_str(&b, ev->reason ? og_reason_name(ev->reason) : "");
		og_buf_adds(&b, ",\"via\":");
		og_json_str(&b, og_via_name(ev->via));
		if (ev->expires)
			og_buf_printf(&b, ",\"expires\":\"%s\"",
			    og_time_fmt(ev->expires, x, sizeof(x)));
		og_cli_event_fields(&b, ev, OG_EVF_RAW, 1);
		og_buf_adds(&b, "}");
		og_cli_flush(&b);
		og_buf_free(&b);
		return;
	}
	printf("%s  #%-*llu %-10s %-*s %s -> %s", t, sw,
	    (unsigned long long)ev->seq, og_evkind_name(ev->kind), w, sc,
	    og_state_name(ev->old_state), og_state_name(ev->new_state));
	if (ev->reason)
		printf(" (%s)", og_reason_name(ev->reason));
	printf(" via %s", og_via_name(ev->via));
	if (ev->expires)
		printf(", until %s", og_time_fmt(ev->expires, x, sizeof(x)));
	printf("\n");
	og_cli_event_fields(&b, ev, OG_EVF_RAW, 0);
	if (b.len)
		printf("%22s%s\n", "", b.data);
	og_buf_free(&b);
}

int
cmd_audit(og_cli *cli, int argc, char **argv)
{
	struct seqs s = {NULL, 0, 0};
	og_record *rec;
	og_event *ev;
	og_hashed h;
	og_rtxn *tx;
	og_addr a;
	unsigned char hash[32];
	char tb[16];
	int rc, erased = 0, found, w = 24, sw = 8;
	size_t i;

	if (argc != 2)
		return og_cli_usage("audit ADDR [--json]");
	/* as the daemons read RCPT TO: a trailing dot, a route */
	if ((rc = og_cli_addr_lookup(cli, argv[1], &a)) != 0)
		return rc;
	if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
		return rc;
	rec = og_xmalloc(sizeof(*rec));
	ev = og_xmalloc(sizeof(*ev));
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0)
		goto fail;
	rc = og_store_get(tx, a.key, rec);
	found = rc == 0;
	if (rc == 0 || rc == OG_NOTFOUND) {
		/* an erased address may have come back with a new opt-in */
		og_store_hash_of(tx, a.key, hash);
		rc = og_store_hashed_read(tx, OG_HASH_ERASED, hash, NULL, &h);
		erased = rc == 0;
		if (rc == OG_NOTFOUND && found)
			rc = 0;
	}
	og_store_rend(tx);
	if (rc == OG_NOTFOUND) {
		if (cli->json) {
			og_buf b;

			og_buf_init(&b, 0);
			og_buf_adds(&b, "{\"address\":");
			og_json_str(&b, a.norm);
			og_buf_adds(&b, ",\"events\":0}");
			og_cli_flush(&b);
			og_buf_free(&b);
		} else
			printf("%s: no history (never recorded)\n", a.norm);
		free(rec);
		free(ev);
		return OG_EXIT_NO;
	}
	if (rc != 0)
		goto fail;
	rc = 0;
	if (erased)
		rc = og_store_foreach_event_from(
		    cli->store, h.event, collect_seq, &s);
	if (rc == 0 && found)
		rc = og_store_foreach_event(cli->store, a.key, collect_seq, &s);
	if (rc != 0)
		goto fail;
	qsort(s.v, s.n, sizeof(*s.v), cmp_seq_desc);
	if (!cli->json) {
		/* recorded order: an imported line keeps its own time */
		printf("history of %s (match key %s): %zu event%s, in the "
		       "order recorded\n",
		    found ? rec->raw : a.norm, a.key, s.n, s.n == 1 ? "" : "s");
		if (erased)
			printf("erased at the person's request on %s: earlier "
			       "events keep only their time and kind; a keyed "
			       "hash "
			       "keeps the address suppressed%s\n",
			    og_date_fmt(h.time, tb, sizeof(tb)),
			    found ? " (it came back later with the events "
			            "after the "
			            "erasure)"
			          : "");
	}
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0)
		goto fail;
	/* the scope column fits the longest scope shown, at least 24 */
	for (i = s.n; !cli->json && i-- > 0;) {
		char sc[96];

		if ((rc = og_store_event_get(tx, s.v[i], ev)) != 0)
			break;
		audit_scope(ev, sc, sizeof(sc));
		w = og_width(w, sc);
	}
	/* the event numbers too: the newest is the longest (at least 8) */
	if (s.n > 0) {
		char nb[24];

		snprintf(nb, sizeof(nb), "%llu", (unsigned long long)s.v[0]);
		sw = og_width(sw, nb);
	}
	for (i = s.n; rc == 0 && i-- > 0;) {
		if ((rc = og_store_event_get(tx, s.v[i], ev)) != 0)
			break;
		audit_print(cli, ev, found ? rec->raw : a.norm, w, sw);
	}
	og_store_rend(tx);
	if (rc != 0)
		goto fail;
	free(s.v);
	free(rec);
	free(ev);
	return OG_EXIT_OK;
fail:
	fprintf(stderr, "optgate: audit: %s\n", og_strerror(rc));
	free(s.v);
	free(rec);
	free(ev);
	return og_cli_exit_for(rc) == OG_EXIT_NO ? OG_EXIT_STORE
	                                         : og_cli_exit_for(rc);
}

/* ---------- export ---------- */

/*
 * Records are exported in groups of EXPORT_RECS: the iteration's read
 * transaction is ended after each group (og_store_foreach stops at
 * EXPORT_MORE) so that a second one can read each entry's event, which
 * holds the proof (source, ip, user agent) an import needs to keep.
 */
#define EXPORT_RECS 64
#define EXPORT_MORE 1

struct export
{
	og_cli *cli;
	const og_stream *stream;
	unsigned states; /* bit per og_state */
	int hashed;
	unsigned char key[OG_PARTNER_KEY_MAX];
	size_t keylen;
	og_buf b;
	uint64_t rows;
	int werr;
	og_record *recs; /* a group, waiting for its events */
	size_t nrec;
	char skip[OG_ADDR_MAX + 1]; /* the last key of the previous group */
	og_event *ev, *req;         /* an entry's event, its request's */
	int64_t now; /* pauses over by now are their consent again */
};

/*
 * Is name the sender scope of (some of) st's mail?  The gate names it by
 * the stream's sender key, else by the envelope sender's domain: for a
 * stream matched by sender: lines, their domains.  (A stream matched by
 * a header or a SASL user takes any sender: none is named here.)
 */
static int
sender_covers(const og_config *cfg, const og_stream *st, const char *name)
{
	char nb[OG_DOMAIN_MAX + 1];
	int i;

	if (st->sender)
		return strcasecmp(name, st->sender) == 0;
	for (i = 0; i < st->nmatch; i++) {
		const char *v = st->match[i].value;

		if (st->match[i].kind != OG_MATCH_SENDER)
			continue;
		if (*v == '@')
			v++;
		if (og_config_sender_name(cfg, v, nb, sizeof(nb)) == 0 &&
		    strcmp(nb, name) == 0)
			return 1;
	}
	return 0;
}

/* Does entry e apply to stream st (the gate's "covers")? */
static int
entry_covers(const og_config *cfg, const og_entry *e, const og_stream *st)
{
	/* a sender scope of any of its mail; the rest as the gate has it */
	if (e->scope == OG_SCOPE_SENDER)
		return sender_covers(cfg, st, e->name);
	return og_gate_covers(e, st, "");
}

/* Is e a temporary opt-out or suppression (a pause too) past its end? */
static int
export_over(const og_entry *e, int64_t now)
{
	return (e->state == OG_ST_OPTOUT || e->state == OG_ST_SUPPRESSED) &&
	       e->expires != 0 && e->expires <= now;
}

/*
 * The record as the gate reads it now: a pause over is its consent
 * again, and any other opt-out or suppression over stops nothing (the
 * gate skips it until expire drops it): only the cap the person chose
 * there stays.
 */
static void
export_settle(og_record *rec, int64_t now)
{
	int i;

	(void)og_record_settle(rec, now);
	for (i = 0; i < rec->nentries; i++) {
		og_entry *e = &rec->entries[i];

		if (export_over(e, now)) {
			e->state = OG_ST_NONE;
			e->reason = OG_RS_NONE;
			e->time = e->expires = 0;
		}
	}
}

static int
export_wanted(const struct export *x, const og_entry *e)
{
	/* an entry of no state holds only the person's cap */
	if (e->state == OG_ST_NONE && e->pref.limit == 0)
		return 0;
	return (x->states & (1u << e->state)) &&
	       (x->stream == NULL || entry_covers(x->cli->cfg, e, x->stream));
}

/*
 * The proof of entry e from the event that set it: its source (else the
 * channel), ip, user agent and note (an admin's why, status shows it).
 * An event that cannot be read, or that is not this address's, gives
 * none (verify reports it).  For a confirmed double opt-in, the request
 * too (when the person asked, and from where: both halves are its
 * proof): x->req, returned, else NULL.
 */
static const og_event *
export_proof(struct export *x, og_rtxn *tx, const og_record *rec,
    const og_entry *e, const char **src, const char **ip, const char **ua,
    const char **note)
{
	*src = og_via_name(e->via);
	*ip = *ua = *note = "";
	if (tx == NULL || e->event == 0 ||
	    og_store_entry_event(tx, rec, e, x->ev) != 0 ||
	    strcmp(x->ev->f[OG_EVF_KEY], rec->key) != 0)
		return NULL;
	if (x->ev->f[OG_EVF_SOURCE][0])
		*src = x->ev->f[OG_EVF_SOURCE];
	*ip = x->ev->f[OG_EVF_IP];
	*ua = x->ev->f[OG_EVF_UA];
	*note = x->ev->f[OG_EVF_NOTE];
	if (og_store_entry_request(tx, rec, e, x->ev, x->req) != 0)
		return NULL;
	if (x->req->f[OG_EVF_SOURCE][0] == '\0')
		og_strlcpy(x->req->f[OG_EVF_SOURCE], og_via_name(x->req->via),
		    sizeof(x->req->f[OG_EVF_SOURCE]));
	return x->req;
}

/*
 * One row: entry e of rec (segs: its segments, joined; paused: the end
 * of the pause over this consent, 0 for none).
 */
static void
export_row(struct export *x, og_rtxn *tx, const og_record *rec,
    const og_entry *e, const char *segs, int64_t paused)
{
	og_buf *b = &x->b;
	char t[32], rt[32] = "";
	const char *src, *ip, *ua, *note;
	const og_event *rq;
	char cap[32], per[16];

	if (!export_wanted(x, e))
		return;
	rq = export_proof(x, tx, rec, e, &src, &ip, &ua, &note);
	if (rq)
		og_time_fmt(rq->time, rt, sizeof(rt));
	/* an entry that holds only a cap has no time of its own */
	if (e->time > 0)
		og_time_fmt(e->time, t, sizeof(t));
	else
		t[0] = 0;
	cap[0] = 0;
	if (e->pref.limit)
		snprintf(cap, sizeof(cap), "%u/%s", e->pref.limit,
		    og_duration_fmt(e->pref.period, per, sizeof(per)));
	if (x->cli->json) {
		og_buf_adds(b, "{\"address\":");
		og_json_str(b, rec->raw);
		og_buf_adds(b, ",\"key\":");
		og_json_str(b, rec->key);
		og_buf_adds(b, ",\"scope\":");
		og_json_str(b, og_scope_name(e->scope));
		og_buf_adds(b, ",\"name\":");
		og_json_str(b, e->name);
		og_buf_adds(b, ",\"state\":");
		og_json_str(b, og_state_name(e->state));
		og_buf_printf(b, ",\"time\":\"%s\",\"reason\":", t);
		og_json_str(b, e->reason ? og_reason_name(e->reason) : "");
		og_buf_adds(b, ",\"via\":");
		og_json_str(b, og_via_name(e->via));
		og_buf_adds(b, ",\"source\":");
		og_json_str(b, src);
		og_buf_adds(b, ",\"ip\":");
		og_json_str(b, ip);
		og_buf_adds(b, ",\"user_agent\":");
		og_json_str(b, ua);
		og_buf_adds(b, ",\"segment\":");
		og_json_str(b, segs);
		og_buf_adds(b, ",\"note\":");
		og_json_str(b, note);
		if (cap[0])
			og_buf_printf(b, ",\"cap\":\"%s\"", cap);
		if (rq) {
			og_buf_printf(b, ",\"requested\":\"%s\"", rt);
			og_buf_adds(b, ",\"requested_source\":");
			og_json_str(b, rq->f[OG_EVF_SOURCE]);
			og_buf_adds(b, ",\"requested_ip\":");
			og_json_str(b, rq->f[OG_EVF_IP]);
			og_buf_adds(b, ",\"requested_user_agent\":");
			og_json_str(b, rq->f[OG_EVF_UA]);
		}
		if (e->expires)
			og_buf_printf(b, ",\"expires\":\"%s\"",
			    og_time_fmt(e->expires, t, sizeof(t)));
		/* (the next object is the pause itself) */
		if (paused)
			og_buf_printf(b, ",\"paused_until\":\"%s\"",
			    og_time_fmt(paused, t, sizeof(t)));
		og_buf_adds(b, "}\n");
	} else {
		/* address,stream,partner,sender,state,time,reason,
		 * source,segment,expires,ip,user_agent,cap,note,
		 * requested,requested_source,requested_ip,
		 * requested_user_agent: what import reads back */
		csv_field(b, rec->raw);
		og_buf_addc(b, ',');
		if (e->scope == OG_SCOPE_STREAM)
			csv_field(b, e->name);
		og_buf_addc(b, ',');
		if (e->scope == OG_SCOPE_PARTNER)
			csv_field(b, e->name);
		og_buf_addc(b, ',');
		if (e->scope == OG_SCOPE_SENDER)
			csv_field(b, e->name);
		og_buf_printf(b, ",%s,%s,%s,", og_state_name(e->state), t,
		    e->state == OG_ST_SUPPRESSED ? og_reason_name(e->reason)
		                                 : "");
		csv_field(b, src);
		og_buf_addc(b, ',');
		csv_field(b, segs);
		og_buf_addc(b, ',');
		if (e->expires)
			og_buf_adds(b, og_time_fmt(e->expires, t, sizeof(t)));
		og_buf_addc(b, ',');
		csv_field(b, ip);
		og_buf_addc(b, ',');
		csv_field(b, ua);
		og_buf_addc(b, ',');
		og_buf_adds(b, cap);
		og_buf_addc(b, ',');
		csv_field(b, note);
		og_buf_addc(b, ',');
		og_buf_adds(b, rt);
		og_buf_addc(b, ',');
		csv_field(b, rq ? rq->f[OG_EVF_SOURCE] : "");
		og_buf_addc(b, ',');
		csv_field(b, rq ? rq->f[OG_EVF_IP] : "");
		og_buf_addc(b, ',');
		csv_field(b, rq ? rq->f[OG_EVF_UA] : "");
		og_buf_addc(b, '\n');
	}
	x->rows++;
}

/*
 * The rows of one record (not --hashed), as they hold now: a pause that
 * is over is its consent again, and one still running comes after its
 * consent, so that an import of the file gives the same pause.
 */
static void
export_rows(struct export *x, og_rtxn *tx, og_record *rec)
{
	char segs[OG_SEGMENTS_MAX * (OG_SEGMENT_LEN + 1) + 1] = "";
	og_entry under;
	int i;

	for (i = 0; i < rec->nsegments; i++) {
		if (i)
			og_strlcpy(segs + strlen(segs), ";",
			    sizeof(segs) - strlen(segs));
		og_strlcpy(segs + strlen(segs), rec->segments[i],
		    sizeof(segs) - strlen(segs));
	}
	export_settle(rec, x->now);
	for (i = 0; i < rec->nentries; i++) {
		/* (the consent only with its pause: alone it would hold) */
		if (rec->entries[i].resume &&
		    export_wanted(x, &rec->entries[i])) {
			under = rec->entries[i];
			og_entry_unpause(&under);
			export_row(
			    x, tx, rec, &under, segs, rec->entries[i].expires);
		}
		export_row(x, tx, rec, &rec->entries[i], segs, 0);
	}
}

/* Write out what is buffered once it is big (or at the end: force). */
static int
export_write(struct export *x, int force)
{
	og_buf *b = &x->b;

	if (b->len == 0 || (!force && b->len < (1u << 20)))
		return 0;
	if (fwrite(b->data, 1, b->len, stdout) != b->len) {
		x->werr = errno;
		return OG_EIO;
	}
	og_buf_reset(b);
	return 0;
}

/* The rows of the group waiting, with their events' proof. */
static int
export_group(struct export *x)
{
	og_rtxn *tx;
	size_t i;
	int rc;

	if (x->nrec == 0)
		return 0;
	if ((rc = og_store_rbegin(x->cli->store, &tx)) != 0)
		return rc;
	for (i = 0; i < x->nrec; i++)
		export_rows(x, tx, &x->recs[i]);
	og_store_rend(tx);
	og_strlcpy(x->skip, x->recs[x->nrec - 1].key, sizeof(x->skip));
	x->nrec = 0;
	return export_write(x, 0);
}

static int
export_one(const og_record *rec, void *ctx)
{
	struct export *x = ctx;
	int i;

	if (x->skip[0] && strcmp(rec->key, x->skip) == 0)
		return 0; /* the previous group's last */
	/* chosen by its entries as they hold now: a pause over is its
	 * consent again, an opt-out or suppression over stops nothing
	 * (settled in the next slot, scratch when hashed) */
	for (i = 0; i < rec->nentries; i++)
		if (export_over(&rec->entries[i], x->now))
			break;
	if (i < rec->nentries) {
		memcpy(&x->recs[x->nrec], rec, sizeof(*rec));
		rec = &x->recs[x->nrec];
		export_settle(&x->recs[x->nrec], x->now);
	}
	for (i = 0; i < rec->nentries; i++)
		if (export_wanted(x, &rec->entries[i]))
			break;
	if (!x->hashed) {
		if (i == rec->nentries)
			return 0;
		if (rec != &x->recs[x->nrec])
			memcpy(&x->recs[x->nrec], rec, sizeof(*rec));
		x->nrec++;
		return x->nrec == EXPORT_RECS ? EXPORT_MORE : 0;
	}
	if (i < rec->nentries) {
		unsigned char h[32];
		char hx[65];

		if (hmac_key(x->key, x->keylen, rec->key, h) != 0)
			return OG_EIO;
		hexenc(h, 32, hx);
		if (x->cli->json)
			og_buf_printf(&x->b, "{\"hash\":\"%s\"}\n", hx);
		else
			og_buf_printf(&x->b, "%s\n", hx);
		x->rows++;
	}
	return export_write(x, 0);
}

/* Keyed hashes by namespace: erasures [0], partners' lists [1]. */
static int
count_hashed(const og_hashed *h, void *ctx)
{
	uint64_t *n = ctx;

	if (h->ns == OG_HASH_ERASED)
		n[0]++;
	else if (h->ns == OG_HASH_PARTNER)
		n[1]++;
	return 0;
}

/*
 * Erasures and partners' lists are keyed hashes, with no address to
 * write: an export cannot carry them, and a store made from it would
 * mail an erased person again (consent = none and transactional
 * streams).  Say so, so that a move uses backup or keeps the old store.
 */
static int
export_hashed_note(og_cli *cli)
{
	uint64_t n[2] = {0, 0};
	int rc;

	if ((rc = og_store_foreach_hashed(cli->store, count_hashed, n)) != 0)
		return rc;
	if (n[0] || n[1])
		fprintf(stderr,
		    "optgate: export: not in the export (kept as keyed "
		    "hashes, without addresses): %llu erased address%s, "
		    "%llu hash%s of partners' lists; a store imported from "
		    "it does not stop them: to move a store, use "
		    "optgate backup\n",
		    (unsigned long long)n[0], n[0] == 1 ? "" : "es",
		    (unsigned long long)n[1], n[1] == 1 ? "" : "es");
	return 0;
}

/* "optin,confirmed": bit set of states, or 0 when a name is unknown. */
static unsigned
parse_states(const char *s)
{
	static const char *const names[] = {
	    "none", "pending", "optin", "confirmed", "optout", "suppressed"};
	unsigned set = 0;

	while (*s) {
		size_t n = strcspn(s, ", ");
		int i;

		for (i = 1; n && i < 6; i++)
			if (strlen(names[i]) == n &&
			    strncasecmp(s, names[i], n) == 0)
				break;
		if (n && i == 6)
			return 0;
		if (n)
			set |= 1u << i;
		s += n;
		while (*s == ',' || *s == ' ')
			s++;
	}
	return set;
}

int
cmd_export(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"stream", 1, NULL, 'S'},
	    {"state", 1, NULL, 's'}, {"hashed", 1, NULL, 'H'},
	    {NULL, 0, NULL, 0}};
	const char *usage =
	    "export [--stream S] [--state optin,confirmed,"
	    "pending,optout,suppressed] [--hashed KEYFILE] [--json]";
	const char *stream = NULL, *states = NULL, *keyfile = NULL;
	struct export x;
	double t0 = og_mono_ms() / 1e3;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'S':
			stream = optarg;
			break;
		case 's':
			states = optarg;
			break;
		case 'H':
			keyfile = optarg;
			break;
		default:
			return og_cli_usage(usage);
		}
	}
	if (optind != argc)
		return og_cli_usage(usage);
	memset(&x, 0, sizeof(x));
	x.cli = cli;
	x.now = og_time_now();
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	if (stream && (x.stream = og_cli_stream(cli, stream)) == NULL)
		return OG_EXIT_USAGE;
	if (states) {
		if ((x.states = parse_states(states)) == 0) {
			fprintf(stderr,
			    "optgate: --state: expected a list of "
			    "optin, confirmed, pending, optout, suppressed\n");
			return OG_EXIT_USAGE;
		}
	} else {
		/* a hashed list is a suppression list */
		x.states = keyfile
		               ? (1u << OG_ST_OPTOUT) | (1u << OG_ST_SUPPRESSED)
		               : 0x3f; /* none: entries holding a cap */
	}
	if (keyfile) {
		if ((rc = read_keyfile(keyfile, x.key, &x.keylen)) != 0)
			return rc;
		x.hashed = 1;
	}
	cli->any_address = 1; /* records by their stored keys */
	if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
		goto out;
	og_buf_init(&x.b, 0);
	if (!cli->json)
		og_buf_adds(&x.b,
		    keyfile ? "hash\n"
		            : "address,stream,partner,sender,state,time,reason,"
		              "source,segment,expires,ip,user_agent,cap,note,"
		              "requested,requested_source,requested_ip,"
		              "requested_user_agent\n");
	x.recs = og_xmalloc(EXPORT_RECS * sizeof(*x.recs));
	x.ev = og_xmalloc(sizeof(*x.ev));
	x.req = og_xmalloc(sizeof(*x.req));
	do {
		rc = og_store_foreach(
		    cli->store, x.skip[0] ? x.skip : NULL, export_one, &x);
		if (rc == 0 || rc == EXPORT_MORE) {
			int grc = export_group(&x);

			if (grc != 0)
				rc = grc;
		}
	} while (rc == EXPORT_MORE);
	if (rc == 0)
		rc = export_write(&x, 1);
	if (rc == 0 && !x.hashed && (x.states & (1u << OG_ST_SUPPRESSED)))
		rc = export_hashed_note(cli);
	free(x.recs);
	free(x.ev);
	free(x.req);
	og_buf_free(&x.b);
	if (rc == 0 && fflush(stdout) != 0) {
		x.werr = errno;
		rc = OG_EIO;
	}
	if (rc != 0) {
		fprintf(stderr, "optgate: export: %s\n",
		    x.werr ? strerror(x.werr) : og_strerror(rc));
		rc = x.werr ? OG_EXIT_SYSTEM : og_cli_exit_for(rc);
		goto out;
	}
	if (cli->verbose)
		fprintf(stderr, "optgate: exported %llu %s in %.1f s\n",
		    (unsigned long long)x.rows, og_noun(x.rows, "row", "rows"),
		    og_mono_ms() / 1e3 - t0);
out:
	OPENSSL_cleanse(x.key, sizeof(x.key));
	return rc;
}

/* ---------- import-hashed ---------- */

#define HASH_BATCH 50000

/*
 * Store one batch of a partner's hashes.  With *replace set, the
 * partner's old list is dropped first (and *replace cleared): only once
 * the new file has given a valid hash, so a wrong file keeps the list.
 */
static int
hashed_batch(og_cli *cli, const char *partner, const unsigned char *key,
    size_t keylen, unsigned char (*hashes)[32], size_t n, const char *note,
    int *replace, uint64_t *dropped, uint64_t *total)
{
	size_t added = 0;
	int rc;

	if (*replace) {
		rc = og_store_partner_drop(
		    cli->store, partner, og_time_now(), dropped);
		if (rc != 0)
			return rc;
		*replace = 0;
	}
	rc = og_store_import_hashed(cli->store, partner, key, keylen,
	    (const unsigned char(*)[32])hashes, n, og_time_now(), note, &added);
	if (rc == 0)
		*total += added;
	return rc;
}

int
cmd_import_hashed(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"partner", 1, NULL, 'p'},
	    {"key", 1, NULL, 'k'}, {"replace", 0, NULL, 'R'},
	    {"rejects", 1, NULL, 'r'}, {NULL, 0, NULL, 0}};
	const char *usage = "import-hashed FILE|- --partner P --key KEYFILE "
	                    "[--replace] [--rejects FILE]";
	const char *partner = NULL, *keyfile = NULL, *input, *rej = NULL, *cp;
	unsigned char key[OG_PARTNER_KEY_MAX], old[OG_PARTNER_KEY_MAX];
	unsigned char(*hashes)[32] = NULL;
	size_t keylen = 0, oldlen = 0, n = 0;
	uint64_t lines = 0, total_added = 0, rejected = 0, dropped = 0;
	int c, rc, fd = -1, replace = 0, col = 0, first = 1, i, ret = 0;
	int drop; /* --replace: the old list is still to be dropped */
	char rejbuf[4200], note[300];
	og_csv *csv = NULL;
	og_csv_rec *r = NULL;
	FILE *rf = NULL;
	og_rtxn *tx;
	struct stat sb;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			partner = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'R':
			replace = 1;
			break;
		case 'r':
			rej = optarg;
			break;
		default:
			return og_cli_usage(usage);
		}
	}
	if (optind + 1 != argc || partner == NULL || keyfile == NULL ||
	    *partner == 0 || strlen(partner) > OG_STREAM_NAME_MAX)
		return og_cli_usage(usage);
	input = argv[optind];
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	if ((rc = read_keyfile(keyfile, key, &keylen)) != 0)
		return rc;
	/*
	 * The gate looks the list up under its stream's spelling of the
	 * partner: --partner ACME for partner = acme is that partner (as for
	 * optout --partner and import's partner column), not a list of a
	 * partner no stream has.
	 */
	if ((cp = og_config_partner(cli->cfg, partner, strlen(partner))) !=
	    NULL)
		partner = cp;
	else
		fprintf(stderr,
		    "optgate: warning: no configured stream has "
		    "partner = %s: these hashes stop nothing until one does\n",
		    partner);
	if ((ret = og_cli_store(cli, 0)) != 0)
		goto out;
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0) {
		ret = og_cli_exit_for(rc);
		goto out;
	}
	rc = og_store_partner_key_get(tx, partner, old, sizeof(old), &oldlen);
	og_store_rend(tx);
	if (rc != 0 && rc != OG_NOTFOUND) {
		fprintf(stderr, "optgate: partner %s: %s\n", partner,
		    og_strerror(rc));
		ret = og_cli_exit_for(rc);
		goto out;
	}
	if (rc == 0 &&
	    (oldlen != keylen || CRYPTO_memcmp(old, key, keylen) != 0) &&
	    !replace) {
		fprintf(stderr,
		    "optgate: partner %s already has hashes made "
		    "with another key; to drop them and start over with this "
		    "key, add --replace\n",
		    partner);
		ret = OG_EXIT_NO;
		goto out;
	}
	if (strcmp(input, "-") == 0) {
		fd = STDIN_FILENO;
	} else if ((fd = open(input, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "optgate: %s: %s\n", input, strerror(errno));
		ret = OG_EXIT_SYSTEM;
		goto out;
	}
	snprintf(rejbuf, sizeof(rejbuf), "%s.rejects",
	    fd == STDIN_FILENO ? "import-hashed" : input);
	/* as import: --rejects naming the list would empty it unread */
	if (fstat(fd, &sb) == 0 && same_file(rej ? rej : rejbuf, &sb)) {
		fprintf(stderr,
		    "optgate: %s: the rejects file is the input itself (it "
		    "would be emptied): name another with --rejects\n",
		    fd == STDIN_FILENO ? "stdin" : input);
		ret = OG_EXIT_USAGE;
		goto out;
	}
	if ((rf = open_out(rej ? rej : rejbuf)) == NULL) {
		ret = OG_EXIT_SYSTEM;
		goto out;
	}
	drop = replace;
	snprintf(note, sizeof(note), "partner list %s",
	    fd == STDIN_FILENO ? "stdin" : input);
	csv = og_csv_new_fd(fd, 4096);
	r = og_xmalloc(sizeof(*r));
	hashes = og_xmalloc(HASH_BATCH * sizeof(*hashes));
	for (;;) {
		size_t len;
		const char *s;

		rc = og_csv_next(csv, r);
		if (rc == 0)
			break;
		if (rc == OG_EIO) {
			fprintf(stderr, "optgate: %s: read: %s\n", input,
			    strerror(errno));
			ret = OG_EXIT_SYSTEM;
			break;
		}
		if (rc < 0 && og_csv_utf16(csv)) {
			/* not one line of it can be read: stop before
			 * anything is written, like import's header */
			fprintf(stderr, "optgate: %s: %s\n",
			    fd == STDIN_FILENO ? "stdin" : input, r->error);
			ret = OG_EXIT_USAGE;
			break;
		}
		if (rc < 0) {
			lines++;
			rejected++;
			fprintf(rf, "%lu: %s\n", r->line, r->error);
			continue;
		}
		if (first) {
			/* an optional header naming a "hash" column */
			first = 0;
			for (i = 0; i < r->nfields; i++)
				if (strcasecmp(r->field[i], "hash") == 0)
					break;
			if (i < r->nfields) {
				col = i;
				continue;
			}
		}
		lines++;
		len = col < r->nfields ? r->len[col] : 0;
		s = col < r->nfields ? trim(r->field[col], &len) : "";
		if (len != 64 || hexdec(s, 64, hashes[n]) != 0) {
			rejected++;
			fprintf(rf,
			    "%lu: not a hex HMAC-SHA256 (64 hex "
			    "digits): ",
			    r->line);
			put_escaped(rf, r->raw, r->rawlen, 100);
			fputc('\n', rf);
			continue;
		}
		if (++n == HASH_BATCH) {
			rc = hashed_batch(cli, partner, key, keylen, hashes, n,
			    note, &drop, &dropped, &total_added);
			if (rc != 0)
				break;
			n = 0;
		}
		rc = 0;
	}
	if (rc >= 0 && ret == 0 && n)
		rc = hashed_batch(cli, partner, key, keylen, hashes, n, note,
		    &drop, &dropped, &total_added);
	if (rc >= 0 && ret == 0 && drop) {
		/* not one valid hash: the old list stays */
		fprintf(stderr,
		    "optgate: %s: no valid hash; partner %s's list was "
		    "kept\n",
		    fd == STDIN_FILENO ? "stdin" : input, partner);
		ret = OG_EXIT_NO;
	}
	if (rc < 0 && ret == 0) {
		fprintf(stderr, "optgate: import-hashed: %s%s\n",
		    og_strerror(rc),
		    rc == OG_EINVAL ? " (the partner's key "
		                      "changed meanwhile)"
		                    : "");
		ret = og_cli_exit_for(rc);
		if (ret < OG_EXIT_STORE)
			ret = OG_EXIT_WRITE;
	}
	if (ret != OG_EXIT_USAGE) { /* UTF-16: refused, nothing written */
		const char *f = fd == STDIN_FILENO ? "stdin" : input;
		og_buf l;

		og_buf_init(&l, 0);
		og_buf_adds(&l, "import-hashed: file=\"");
		og_buf_add_escaped(&l, f, strlen(f), 256);
		og_buf_adds(&l, "\", partner=");
		og_buf_add_escaped(&l, partner, strlen(partner), 128);
		og_buf_printf(&l,
		    ", lines=%llu, added=%llu, unchanged=%llu, rejected=%llu, "
		    "dropped=%llu, complete=%s",
		    (unsigned long long)lines, (unsigned long long)total_added,
		    (unsigned long long)(lines - rejected - total_added),
		    (unsigned long long)rejected, (unsigned long long)dropped,
		    ret == 0 ? "yes" : "no");
		og_cli_log(&l);
	}
	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"partner\":");
		og_json_str(&b, partner);
		og_buf_printf(&b,
		    ",\"lines\":%llu,\"added\":%llu,"
		    "\"unchanged\":%llu,\"rejected\":%llu,\"dropped\":%llu}",
		    (unsigned long long)lines, (unsigned long long)total_added,
		    (unsigned long long)(lines - rejected - total_added),
		    (unsigned long long)rejected, (unsigned long long)dropped);
		og_cli_flush(&b);
		og_buf_free(&b);
	} else {
		printf("import-hashed %s for partner %s: %llu %s: %llu added, "
		       "%llu unchanged, %llu rejected%s\n",
		    fd == STDIN_FILENO ? "stdin" : input, partner,
		    (unsigned long long)lines, og_noun(lines, "line", "lines"),
		    (unsigned long long)total_added,
		    (unsigned long long)(lines - rejected - total_added),
		    (unsigned long long)rejected,
		    replace && !drop ? " (previous list dropped)" : "");
	}
	if (rejected && !cli->json)
		printf("rejected lines: %s\n", rej ? rej : rejbuf);
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(old, sizeof(old));
	if (rf)
		fclose(rf);
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
	og_csv_free(csv);
	free(r);
	free(hashes);
	return ret;
}

/* ---------- erase ---------- */

/*
 * The quarantine part of an erasure: what was removed and kept, on
 * stdout (the per-report lines are in the log).  Returns 0, or -1 when
 * the quarantine could not be searched or cleaned all through.
 */
static int
erase_quarantine(og_cli *cli, const og_addr *a, int drop_shared, og_qerase *q)
{
	int rc = og_quarantine_erase(cli, a, drop_shared, q);

	if (cli->json)
		return rc;
	if (q->removed > 0 || q->kept > 0)
		printf("quarantine: %d report%s that named the address "
		       "removed, %d kept (%s)\n",
		    q->removed, q->removed == 1 ? "" : "s", q->kept,
		    q->kept == 0 ? "none left"
		                 : "they name other people too: see the log "
		                   "lines above; --drop-shared removes them");
	if (rc != 0)
		printf("quarantine: not searched or not cleaned all through: "
		       "fix what the log lines above say, then run this erase "
		       "again\n");
	return rc;
}

static void
erase_json_quarantine(const og_qerase *q, int rc)
{
	printf(",\"quarantine_removed\":%d,\"quarantine_kept\":%d,"
	       "\"quarantine_complete\":%s}\n",
	    q->removed, q->kept, rc == 0 ? "true" : "false");
}

int
cmd_erase(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"note", 1, NULL, 'n'},
	    {"drop-shared", 0, NULL, 's'}, {NULL, 0, NULL, 0}};
	const char *usage = "erase ADDR [--note REFERENCE] [--drop-shared]";
	const char *note = NULL;
	unsigned char h[32];
	uint64_t nev = 0;
	og_hashed hs;
	og_qerase q;
	og_rtxn *tx;
	og_addr a;
	char date[16];
	int c, rc, qrc, drop_shared = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'n')
			note = optarg;
		else if (c == 's')
			drop_shared = 1;
		else
			return og_cli_usage(usage);
	}
	if (optind + 1 != argc)
		return og_cli_usage(usage);
	if ((rc = og_cli_addr(cli, argv[optind], &a)) != 0)
		return rc;
	if ((rc = og_cli_store(cli, 0)) != 0)
		return rc;
	/* what it removed goes to the mail log, never with the address */
	og_log_open("optgate", OG_LOG_BOTH);
	rc = og_store_erase(cli->store, a.key, og_time_now(), note, &nev);
	if (rc == OG_NOTFOUND) {
		if ((rc = og_store_rbegin(cli->store, &tx)) != 0)
			goto fail;
		og_store_hash_of(tx, a.key, h);
		rc = og_store_hashed_read(tx, OG_HASH_ERASED, h, NULL, &hs);
		og_store_rend(tx);
		if (rc == 0) {
			og_date_fmt(hs.time, date, sizeof(date));
			if (cli->json)
				printf("{\"result\":\"already-erased\","
				       "\"erased\":\"%s\"",
				    date);
			else
				printf(
				    "%s: already erased on %s\n", a.norm, date);
			/* reports quarantined since, or before this erase
			 * looked at the quarantine */
			qrc = erase_quarantine(cli, &a, drop_shared, &q);
			if (cli->json)
				erase_json_quarantine(&q, qrc);
			return qrc != 0 ? OG_EXIT_SYSTEM : OG_EXIT_OK;
		}
		if (rc != OG_NOTFOUND)
			goto fail;
		/* no record (her unsubscribe mail with a bad token may be
		 * all there is of her), but the quarantine may name her */
		if (cli->json)
			printf("{\"result\":\"not-found\"");
		else
			printf("%s: no record to erase\n", a.norm);
		qrc = erase_quarantine(cli, &a, drop_shared, &q);
		if (cli->json)
			erase_json_quarantine(&q, qrc);
		if (!cli->json && q.kept > 0)
			printf("quarantine: with no record, no keyed hash "
			       "stops a retry of those from recording the "
			       "address again\n");
		return qrc != 0    ? OG_EXIT_SYSTEM
		       : q.removed ? OG_EXIT_OK
		                   : OG_EXIT_NO;
	}
	if (rc < 0)
		goto fail;
	{
		og_buf l;

		og_buf_init(&l, 0);
		if (rc == 1)
			og_buf_adds(&l, "erase: no record, send counters "
			                "removed, keyed hash kept");
		else
			og_buf_printf(&l,
			    "erase: record removed, %llu event%s stripped, "
			    "send counters removed, keyed hash kept",
			    (unsigned long long)nev, nev == 1 ? "" : "s");
		og_cli_log(&l);
	}
	if (cli->json)
		printf("{\"result\":\"erased\",\"record\":%s,"
		       "\"events_stripped\":%llu",
		    rc == 1 ? "false" : "true", (unsigned long long)nev);
	else if (rc == 1)
		/* mail of consent = none or transactional streams only */
		printf("%s: erased: no record (no opt-in or opt-out was "
		       "recorded), send counters removed; a keyed hash keeps "
		       "it suppressed: no mail goes to it until a new opt-in\n",
		    a.norm);
	else
		printf(
		    "%s: erased: record removed, %llu event%s stripped of "
		    "personal data, send counters removed; a keyed hash keeps "
		    "it suppressed\n",
		    a.norm, (unsigned long long)nev, nev == 1 ? "" : "s");
	qrc = erase_quarantine(cli, &a, drop_shared, &q);
	if (cli->json)
		erase_json_quarantine(&q, qrc);
	return qrc != 0 ? OG_EXIT_SYSTEM : OG_EXIT_OK;
fail:
	fprintf(stderr, "optgate: erase: %s\n", og_strerror(rc));
	rc = og_cli_exit_for(rc);
	return rc < OG_EXIT_STORE ? OG_EXIT_WRITE : rc;
}

/* ---------- backup, verify ---------- */

int
cmd_backup(og_cli *cli, int argc, char **argv)
{
	og_store_info info;
	char err[1024];
	int rc;

	/*
	 * An option it does not take (`backup --dest /x`) is not a folder
	 * name: it made a folder "--dest" in the working directory and
	 * said "written".  ./-x names such a folder on purpose.
	 */
	if (argc != 2 || argv[1][0] == '-')
		return og_cli_usage("backup DEST (a folder that does not "
		                    "exist yet)");
	cli->any_address = 1; /* records by their stored keys */
	if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
		return rc;
	/* the counts the copy holds: the store may take writes meanwhile */
	if ((rc = og_store_copy(
	         cli->store, argv[1], &info, err, sizeof(err))) != 0) {
		fprintf(stderr, "optgate: backup: %s\n",
		    err[0] ? err : og_strerror(rc));
		return OG_EXIT_SYSTEM;
	}
	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"backup\":");
		og_json_str(&b, argv[1]);
		og_buf_printf(&b, ",\"records\":%llu,\"events\":%llu}",
		    (unsigned long long)info.records,
		    (unsigned long long)info.events);
		og_cli_flush(&b);
		og_buf_free(&b);
	} else
		printf("backup %s: consistent compacted copy written (about "
		       "%llu %s, %llu %s); check it with: optgate verify %s\n",
		    argv[1], (unsigned long long)info.records,
		    og_noun(info.records, "address", "addresses"),
		    (unsigned long long)info.events,
		    og_noun(info.events, "event", "events"), argv[1]);
	return OG_EXIT_OK;
}

static void
verify_report(const char *msg, void *ctx)
{
	og_cli *cli = ctx;

	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"problem\":");
		og_json_str(&b, msg);
		og_buf_adds(&b, "}");
		og_cli_flush(&b);
		og_buf_free(&b);
	} else {
		printf("problem: %s\n", msg);
	}
}

int
cmd_verify(og_cli *cli, int argc, char **argv)
{
	og_verify_stats vs;
	og_store_opts o;
	og_store *st = NULL;
	const char *path;
	char err[1024];
	int rc;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return og_cli_usage("verify [PATH]");
	if (argc == 2) {
		path = argv[1];
		memset(&o, 0, sizeof(o));
		if (og_cli_config(cli) == 0)
			og_store_opts_config(&o, cli->cfg, 0);
		/* a backup is checked as it is, never repaired, whatever
		 * [address] it was made with */
		o.flags = OG_STORE_READ | OG_STORE_CHECK;
		o.address_keys = NULL;
		rc = og_store_open(path, &o, &st, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "optgate: verify: %s\n",
			    err[0] ? err : og_strerror(rc));
			return OG_EXIT_STORE;
		}
	} else {
		cli->any_address = 1; /* records by their stored keys */
		if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
			return rc;
		st = cli->store;
		path = cli->cfg->store_path;
	}
	rc = og_store_verify(st, verify_report, cli, &vs);
	if (rc != 0 && rc != OG_ECORRUPT) {
		fprintf(stderr, "optgate: verify %s: stopped: %s\n", path,
		    og_strerror(rc));
		if (st != cli->store)
			og_store_close(st);
		return og_cli_exit_for(rc) == OG_EXIT_NO ? OG_EXIT_STORE
		                                         : og_cli_exit_for(rc);
	}
	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"path\":");
		og_json_str(&b, path);
		og_buf_printf(&b,
		    ",\"ok\":%s,\"problems\":%llu,"
		    "\"records\":%llu,\"events\":%llu,\"chained\":%llu,"
		    "\"hashes\":%llu,\"partner_keys\":%llu,\"counters\":%llu}",
		    vs.problems ? "false" : "true",
		    (unsigned long long)vs.problems,
		    (unsigned long long)vs.records,
		    (unsigned long long)vs.events,
		    (unsigned long long)vs.chained,
		    (unsigned long long)vs.hashes, (unsigned long long)vs.keys,
		    (unsigned long long)vs.counters);
		og_cli_flush(&b);
		og_buf_free(&b);
	} else {
		printf("%s: %s: schema %d, %llu %s, %llu %s (%llu on address "
		       "chains), %llu %s, %llu %s, %llu %s\n",
		    path, vs.problems ? "PROBLEMS" : "ok", OG_SCHEMA_VERSION,
		    (unsigned long long)vs.records,
		    og_noun(vs.records, "address record", "address records"),
		    (unsigned long long)vs.events,
		    og_noun(vs.events, "event", "events"),
		    (unsigned long long)vs.chained,
		    (unsigned long long)vs.hashes,
		    og_noun(vs.hashes, "keyed hash", "keyed hashes"),
		    (unsigned long long)vs.keys,
		    og_noun(vs.keys, "partner key", "partner keys"),
		    (unsigned long long)vs.counters,
		    og_noun(vs.counters, "counter", "counters"));
	}
	if (vs.problems && !cli->json)
		printf("%llu problem%s found%s; restore a backup or ask for "
		       "help with the output above\n",
		    (unsigned long long)vs.problems,
		    vs.problems == 1 ? "" : "s",
		    vs.problems > 100 ? " (the first 100 shown)" : "");
	if (st != cli->store)
		og_store_close(st);
	return vs.problems ? OG_EXIT_NO : OG_EXIT_OK;
}

/* ---------- stats ---------- */

#define STAT_NAMES 1000
#define DAYS 30
#define RATE_DAYS 7
#define RATE_WARN 0.001
#define RATE_ALARM 0.003

struct stat_name {
	int scope;
	char name[OG_STREAM_NAME_MAX + 1];
	uint64_t n[OG_ST_SUPPRESSED + 1];
};

struct stats {
	og_cli *cli;
	struct stat_name *names;
	int nnames;
	uint64_t other[OG_ST_SUPPRESSED + 1]; /* past STAT_NAMES */
	uint64_t reasons[8], optout_via[9];
	uint64_t erased_hashes, partner_hashes;
	struct {
		char name[OG_STREAM_NAME_MAX + 1];
		uint64_t n;
	} partners[64];
	int npartners;
	int64_t now, today; /* now, in days since the epoch */
	uint64_t days[DAYS];
	/* per configured stream, plus one for the other scopes */
	uint64_t *complaints, *bounces;
};

static int
stats_record(const og_record *rec, void *ctx)
{
	struct stats *x = ctx;
	int i, j;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];
		og_entry over;

		/*
		 * Counted as the gate reads it now: a pause over counts as
		 * its consent, any other suppression or opt-out over
		 * stops nothing (until expire drops it), so counts nowhere.
		 */
		if (e->resume && e->expires && e->expires <= x->now) {
			over = *e;
			og_entry_unpause(&over);
			e = &over;
		} else if (export_over(e, x->now)) {
			continue;
		}
		for (j = 0; j < x->nnames; j++)
			if (x->names[j].scope == e->scope &&
			    strcmp(x->names[j].name, e->name) == 0)
				break;
		if (j == x->nnames && j < STAT_NAMES) {
			x->names[j].scope = e->scope;
			og_strlcpy(x->names[j].name, e->name,
			    sizeof(x->names[j].name));
			x->nnames++;
		}
		if (e->state > OG_ST_SUPPRESSED)
			continue;
		if (j < x->nnames)
			x->names[j].n[e->state]++;
		else
			x->other[e->state]++;
		if (e->state == OG_ST_SUPPRESSED && e->reason < 8)
			x->reasons[e->reason]++;
		if (e->state == OG_ST_OPTOUT && e->via < 9)
			x->optout_via[e->via]++;
	}
	return 0;
}

static int
stats_hashed(const og_hashed *h, void *ctx)
{
	struct stats *x = ctx;
	int i;

	if (h->ns == OG_HASH_ERASED) {
		x->erased_hashes++;
		return 0;
	}
	x->partner_hashes++;
	for (i = 0; i < x->npartners; i++)
		if (strcmp(x->partners[i].name, h->name) == 0)
			break;
	if (i == x->npartners && i < 64) {
		og_strlcpy(
		    x->partners[i].name, h->name, sizeof(x->partners[i].name));
		x->npartners++;
	}
	if (i < x->npartners)
		x->partners[i].n++;
	return 0;
}

/* Which configured stream an event is about: index, or nstreams. */
static int
event_stream(const og_config *cfg, const og_event *ev)
{
	int i, hit = -1;

	/* Reports that named the mail (a token, our headers) say so. */
	if (ev->f[OG_EVF_STREAM][0])
		for (i = 0; i < cfg->nstreams; i++)
			if (strcmp(cfg->streams[i].name,
			        ev->f[OG_EVF_STREAM]) == 0)
				return i;
	for (i = 0; i < cfg->nstreams; i++) {
		const og_stream *st = &cfg->streams[i];
		int m = 0;

		switch (ev->scope) {
		case OG_SCOPE_STREAM:
			m = strcmp(st->name, ev->f[OG_EVF_NAME]) == 0;
			break;
		case OG_SCOPE_PARTNER:
			m = st->partner &&
			    strcmp(st->partner, ev->f[OG_EVF_NAME]) == 0;
			break;
		case OG_SCOPE_SENDER:
			m = st->sender &&
			    strcasecmp(st->sender, ev->f[OG_EVF_NAME]) == 0;
			break;
		}
		if (m) {
			if (hit >= 0)
				return cfg->nstreams; /* ambiguous */
			hit = i;
		}
	}
	return hit >= 0 ? hit : cfg->nstreams;
}

static int
stats_event(const og_event *ev, void *ctx)
{
	struct stats *x = ctx;
	int64_t d = ev->time / 86400;

	if (d > x->today - DAYS && d <= x->today)
		x->days[x->today - d]++;
	if (ev->kind == OG_EV_SUPPRESS && d > x->today - RATE_DAYS &&
	    d <= x->today &&
	    (ev->reason == OG_RS_COMPLAINT ||
	        ev->reason == OG_RS_HARD_BOUNCE)) {
		int s = event_stream(x->cli->cfg, ev);

		if (ev->reason == OG_RS_COMPLAINT)
			x->complaints[s]++;
		else
			x->bounces[s]++;
	}
	return 0;
}

static const char *
rate_level(double r)
{
	return r >= RATE_ALARM ? "alarm" : r >= RATE_WARN ? "warning" : "ok";
}

/*
 * The width of the rates table's stream column: the longest stream name,
 * at least 20 (the width it always had), so the numbers stay in their
 * columns.
 */
static int
stats_rate_width(const og_config *cfg)
{
	int i, w = 20;

	for (i = 0; i < cfg->nstreams; i++)
		w = og_width(w, cfg->streams[i].name);
	return w;
}

static void
stats_rate_row(og_cli *cli, int w, const char *name, uint64_t sends,
    uint64_t cpl, uint64_t hb)
{
	double cr = sends ? (double)cpl / (double)sends : 0;
	double hr = sends ? (double)hb / (double)sends : 0;
	const char *lv = sends ? rate_level(cr) : "no-sends";

	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"type\":\"rate\",\"stream\":");
		og_json_str(&b, name);
		og_buf_printf(&b,
		    ",\"days\":%d,\"sends\":%llu,\"complaints\":"
		    "%llu,\"complaint_rate\":%.6f,\"hard_bounces\":%llu,"
		    "\"hard_bounce_rate\":%.6f,\"level\":\"%s\"}",
		    RATE_DAYS, (unsigned long long)sends,
		    (unsigned long long)cpl, cr, (unsigned long long)hb, hr,
		    lv);
		og_cli_flush(&b);
		og_buf_free(&b);
		return;
	}
	printf("  %-*s %10llu %10llu %8.3f%% %10llu %8.3f%%  %s\n", w, name,
	    (unsigned long long)sends, (unsigned long long)cpl, cr * 100,
	    (unsigned long long)hb, hr * 100,
	    !sends             ? "(no sends counted)"
	    : cr >= RATE_ALARM ? "ALARM: complaint rate at or above 0.3%"
	    : cr >= RATE_WARN  ? "WARNING: complaint rate at or above 0.1%"
	                       : "ok");
}

static double
mib(uint64_t n)
{
	return (double)n / (1024.0 * 1024.0);
}

int
cmd_stats(og_cli *cli, int argc, char **argv)
{
	static const int states[] = {OG_ST_CONFIRMED, OG_ST_OPTIN,
	    OG_ST_PENDING, OG_ST_OPTOUT, OG_ST_SUPPRESSED};
	struct stats x;
	og_store_info info;
	og_rtxn *tx;
	og_buf b;
	uint64_t tsends = 0, tc = 0, th = 0;
	int rc, i, j, k, ns, w, rw;
	int64_t now;

	if (argc != 1)
		return og_cli_usage("stats [--json]");
	cli->any_address = 1; /* records by their stored keys */
	if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.cli = cli;
	now = og_time_now();
	x.now = now;
	x.today = now / 86400;
	ns = cli->cfg->nstreams;
	x.names = og_xcalloc(STAT_NAMES, sizeof(*x.names));
	x.complaints = og_xcalloc((size_t)ns + 1, sizeof(uint64_t));
	x.bounces = og_xcalloc((size_t)ns + 1, sizeof(uint64_t));
	if ((rc = og_store_info_get(cli->store, &info)) != 0 ||
	    (rc = og_store_foreach(cli->store, NULL, stats_record, &x)) != 0 ||
	    (rc = og_store_foreach_hashed(cli->store, stats_hashed, &x)) != 0 ||
	    (rc = og_store_foreach_event_all(cli->store, 1, stats_event, &x)) !=
	        0) {
		fprintf(stderr, "optgate: stats: %s\n", og_strerror(rc));
		rc = og_cli_exit_for(rc);
		goto out;
	}
	og_buf_init(&b, 0);
	if (cli->json) {
		og_buf_adds(&b, "{\"type\":\"store\",\"path\":");
		og_json_str(&b, cli->cfg->store_path);
		og_buf_printf(&b,
		    ",\"schema\":%u,\"addresses\":%llu,"
		    "\"events\":%llu,\"map_used\":%llu,\"map_size\":%llu,"
		    "\"map_max\":%llu,\"counters_used\":%llu,"
		    "\"counters_size\":%llu,\"erased_hashes\":%llu,"
		    "\"partner_hashes\":%llu}",
		    info.schema, (unsigned long long)info.records,
		    (unsigned long long)info.events,
		    (unsigned long long)info.map_used,
		    (unsigned long long)info.map_size,
		    (unsigned long long)cli->cfg->map_size,
		    (unsigned long long)info.cmap_used,
		    (unsigned long long)info.cmap_size,
		    (unsigned long long)x.erased_hashes,
		    (unsigned long long)x.partner_hashes);
		og_cli_flush(&b);
	} else {
		printf("store %s: schema %u, %llu %s, %llu %s\n",
		    cli->cfg->store_path, info.schema,
		    (unsigned long long)info.records,
		    og_noun(info.records, "address", "addresses"),
		    (unsigned long long)info.events,
		    og_noun(info.events, "event", "events"));
		printf("  consent map: %.1f MiB used of %.1f MiB mapped "
		       "(%.0f%%), may grow to %.0f MiB; counters: %.1f MiB of "
		       "%.1f MiB\n",
		    mib(info.map_used), mib(info.map_size),
		    info.map_size
		        ? 100.0 * (double)info.map_used / (double)info.map_size
		        : 0,
		    mib(cli->cfg->map_size), mib(info.cmap_used),
		    mib(info.cmap_size));
		printf("addresses by scope and state:\n");
	}
	/* the scope column fits the longest scope, at least 28 */
	for (i = 0, w = 28; i < x.nnames; i++) {
		char sc[96];

		scope_str(x.names[i].scope, x.names[i].name, sc, sizeof(sc));
		w = og_width(w, sc);
	}
	for (i = 0; i <= x.nnames; i++) {
		const uint64_t *n = i < x.nnames ? x.names[i].n : x.other;
		char sc[96];

		if (i == x.nnames) {
			for (k = 0; k <= OG_ST_SUPPRESSED && !n[k]; k++)
				;
			if (k > OG_ST_SUPPRESSED)
				break;
			og_strlcpy(sc, "(other scopes)", sizeof(sc));
		} else {
			scope_str(
			    x.names[i].scope, x.names[i].name, sc, sizeof(sc));
		}
		if (cli->json) {
			for (j = 0; j < 5; j++) {
				if (!n[states[j]])
					continue;
				og_buf_adds(
				    &b, "{\"type\":\"state\",\"scope\":");
				og_json_str(
				    &b, i < x.nnames
				            ? og_scope_name(x.names[i].scope)
				            : "other");
				og_buf_adds(&b, ",\"name\":");
				og_json_str(
				    &b, i < x.nnames ? x.names[i].name : "");
				og_buf_printf(&b,
				    ",\"state\":\"%s\",\"count\":"
				    "%llu}",
				    og_state_name(states[j]),
				    (unsigned long long)n[states[j]]);
				og_cli_flush(&b);
			}
			continue;
		}
		printf("  %-*s", w, sc);
		for (j = 0; j < 5; j++)
			if (n[states[j]])
				printf(" %s %llu", og_state_name(states[j]),
				    (unsigned long long)n[states[j]]);
		printf("\n");
	}
	if (cli->json) {
		og_buf_adds(&b, "{\"type\":\"suppressions\"");
		/* erased people are hashes, not records: "erased" below */
		for (i = 1; i <= OG_RS_PARTNER; i++)
			if (i != OG_RS_ERASED)
				og_buf_printf(&b, ",\"%s\":%llu",
				    og_reason_name(i),
				    (unsigned long long)x.reasons[i]);
		og_buf_adds(&b, ",\"optout_via\":{");
		for (i = 0, k = 0; i < 9; i++)
			if (x.optout_via[i])
				og_buf_printf(&b, "%s\"%s\":%llu",
				    k++ ? "," : "", og_via_name(i),
				    (unsigned long long)x.optout_via[i]);
		og_buf_adds(&b, "},\"partner_hashes\":{");
		for (i = 0; i < x.npartners; i++) {
			if (i)
				og_buf_addc(&b, ',');
			og_json_str(&b, x.partners[i].name);
			og_buf_printf(
			    &b, ":%llu", (unsigned long long)x.partners[i].n);
		}
		og_buf_printf(&b, "},\"erased\":%llu}",
		    (unsigned long long)x.erased_hashes);
		og_cli_flush(&b);
	} else {
		printf("suppressions by reason:");
		for (i = 1, k = 0; i <= OG_RS_PARTNER; i++)
			if (i != OG_RS_ERASED && i != OG_RS_PARTNER)
				printf("%s %s %llu", k++ ? "," : "",
				    og_reason_name(i),
				    (unsigned long long)x.reasons[i]);
		printf(", erased %llu (%s), partner lists %llu %s",
		    (unsigned long long)x.erased_hashes,
		    og_noun(x.erased_hashes, "keyed hash", "keyed hashes"),
		    (unsigned long long)x.partner_hashes,
		    og_noun(x.partner_hashes, "hash", "hashes"));
		for (i = 0; i < x.npartners; i++)
			printf("%s%s %llu", i ? ", " : " (", x.partners[i].name,
			    (unsigned long long)x.partners[i].n);
		printf("%s\n", x.npartners ? ")" : "");
		printf("opt-outs by channel:");
		for (i = 0, k = 0; i < 9; i++)
			if (x.optout_via[i])
				printf("%s %s %llu", k++ ? "," : "",
				    og_via_name(i),
				    (unsigned long long)x.optout_via[i]);
		printf("%s\n", k ? "" : " none");
		printf("events per day, last %d days (by event time):\n", DAYS);
	}
	for (i = DAYS - 1; i >= 0; i--) {
		char d[16];

		og_date_fmt((x.today - i) * 86400, d, sizeof(d));
		if (cli->json) {
			og_buf_printf(&b,
			    "{\"type\":\"day\",\"date\":\"%s\","
			    "\"events\":%llu}",
			    d, (unsigned long long)x.days[i]);
			og_cli_flush(&b);
		} else if (x.days[i]) {
			printf(
			    "  %s %10llu\n", d, (unsigned long long)x.days[i]);
		}
	}
	/* rates over the last 7 days from accepted-send day totals */
	rw = stats_rate_width(cli->cfg);
	if (!cli->json)
		printf("complaint and hard-bounce rates, last %d days (warning "
		       "at 0.1%%, alarm at 0.3%% complaints):\n"
		       "  %-*s %10s %10s %9s %10s %9s\n",
		    RATE_DAYS, rw, "stream", "sends", "complaints", "rate",
		    "hard-bnc", "rate");
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0) {
		fprintf(stderr, "optgate: stats: %s\n", og_strerror(rc));
		rc = og_cli_exit_for(rc);
		og_buf_free(&b);
		goto out;
	}
	for (i = 0; i < ns; i++) {
		uint64_t sends = 0, d;

		for (j = 0; j < RATE_DAYS; j++)
			if (og_store_day_sends(tx, cli->cfg->streams[i].name,
			        (uint32_t)(x.today - j), &d) == 0)
				sends += d;
		tsends += sends;
		tc += x.complaints[i];
		th += x.bounces[i];
		stats_rate_row(cli, rw, cli->cfg->streams[i].name, sends,
		    x.complaints[i], x.bounces[i]);
	}
	og_store_rend(tx);
	tc += x.complaints[ns];
	th += x.bounces[ns];
	if (ns != 1 || x.complaints[ns] || x.bounces[ns])
		stats_rate_row(cli, rw, "(all streams)", tsends, tc, th);
	og_buf_free(&b);
	rc = OG_EXIT_OK;
out:
	free(x.names);
	free(x.complaints);
	free(x.bounces);
	return rc;
}

/* ---------- expire ---------- */

#define EXPIRE_BATCH 1000

struct expire {
	int64_t now;
	char start[OG_ADDR_MAX + 1];
	int skip_start;
	og_change *ch;
	char (*keys)[OG_ADDR_MAX + 1];
	char (*names)[OG_STREAM_NAME_MAX + 1];
	char *pause; /* per change: a pause over an opt-in ends */
	int n, records;
	int64_t own_cap; /* the longest window of a cap a person chose */
};

static int
expire_record(const og_record *rec, void *ctx)
{
	struct expire *x = ctx;
	int i;

	if (x->skip_start && strcmp(rec->key, x->start) == 0)
		return 0;
	if (x->n + rec->nentries > EXPIRE_BATCH)
		return 1; /* batch full: apply, then resume here */
	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];
		og_change *c;

		if (e->pref.limit && (int64_t)e->pref.period > x->own_cap)
			x->own_cap = e->pref.period;
		if (!e->expires || e->expires > x->now ||
		    (e->state != OG_ST_SUPPRESSED && e->state != OG_ST_OPTOUT))
			continue;
		c = &x->ch[x->n];
		memset(c, 0, sizeof(*c));
		og_strlcpy(x->keys[x->n], rec->key, sizeof(x->keys[0]));
		og_strlcpy(x->names[x->n], e->name, sizeof(x->names[0]));
		c->key = x->keys[x->n];
		c->raw = NULL;
		c->kind = OG_EV_UNSUPPRESS;
		c->scope = e->scope;
		c->name = x->names[x->n];
		c->via = OG_VIA_EXPIRE;
		c->reason = e->reason;
		c->time = x->now;
		c->flags = OG_CH_IF_EXPIRED;
		c->f[OG_EVF_SOURCE] = "expire";
		x->pause[x->n] = e->resume != 0;
		x->n++;
	}
	og_strlcpy(x->start, rec->key, sizeof(x->start));
	return 0;
}

/*
 * --keep may shorten the 90 days, not the windows the gate counts in: a
 * counter dropped inside a cap's window lets through the mail that cap
 * refuses, and a soft bounce dropped inside [feedback] soft_bounce's
 * period is never counted towards its suppression.  0 or OG_EXIT_USAGE.
 */
static int
keep_check(og_cli *cli, int64_t keep)
{
	const char *what = NULL, *who = "";
	int64_t need = 0;
	char d[32], k[32];

	if (og_cli_config(cli) != 0)
		return OG_EXIT_USAGE;
	for (int i = 0; i < cli->cfg->nstreams; i++) {
		const og_stream *st = &cli->cfg->streams[i];

		for (int j = 0; j < st->ncaps; j++)
			if (st->caps[j].period > need) {
				need = st->caps[j].period;
				what = "the cap window of stream ";
				who = st->name;
			}
		for (int j = 0; j < st->nsegcaps; j++)
			for (int m = 0; m < st->segcaps[j].ncaps; m++)
				if (st->segcaps[j].caps[m].period > need) {
					need = st->segcaps[j].caps[m].period;
					what =
					    "a segment cap window of stream ";
					who = st->name;
				}
	}
	if ((int64_t)cli->cfg->soft_bounce.period > need) {
		need = (int64_t)cli->cfg->soft_bounce.period;
		what = "[feedback] soft_bounce's period";
		who = "";
	}
	if (keep >= need)
		return 0;
	fprintf(stderr,
	    "optgate: expire: --keep %s is shorter than %s%s (%s): the "
	    "counts in it would be forgotten; keep at least %s\n",
	    og_duration_fmt(keep, k, sizeof(k)), what, who,
	    og_duration_fmt(need, d, sizeof(d)), d);
	return OG_EXIT_USAGE;
}

int
cmd_expire(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"keep", 1, NULL, 'k'}, {NULL, 0, NULL, 0}};
	const char *usage = "expire [--keep DURATION]";
	struct expire x;
	int64_t keep = 0, horizon, bhorizon;
	uint64_t dropped = 0, suppressions = 0, pauses = 0;
	int c, rc, i, j, *res;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'k')
			return og_cli_usage(usage);
		if (og_cli_duration(
		        "--keep", optarg, 10LL * 366 * 86400, &keep) != 0)
			return OG_EXIT_USAGE;
	}
	if (optind != argc)
		return og_cli_usage(usage);
	if (keep && (rc = keep_check(cli, keep)) != 0)
		return rc;
	if ((rc = og_cli_store(cli, 0)) != 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.now = og_time_now();
	x.ch = og_xcalloc(EXPIRE_BATCH + OG_ENTRIES_MAX, sizeof(*x.ch));
	x.keys = og_xcalloc(EXPIRE_BATCH + OG_ENTRIES_MAX, sizeof(*x.keys));
	x.names = og_xcalloc(EXPIRE_BATCH + OG_ENTRIES_MAX, sizeof(*x.names));
	x.pause = og_xcalloc(EXPIRE_BATCH + OG_ENTRIES_MAX, 1);
	res = og_xcalloc(EXPIRE_BATCH + OG_ENTRIES_MAX, sizeof(int));
	/*
	 * Temporary suppressions and opt-outs past their end: each goes
	 * with an event.  Batches resume after the last record looked at;
	 * an entry renewed meanwhile stays (OG_CH_IF_EXPIRED).
	 */
	for (;;) {
		int more;

		x.n = 0;
		rc = og_store_foreach(cli->store, x.skip_start ? x.start : NULL,
		    expire_record, &x);
		if (rc < 0)
			goto fail;
		more = rc == 1;
		if (x.n) {
			if ((rc = og_store_apply(
			         cli->store, x.ch, (size_t)x.n, res)) != 0)
				goto fail;
			for (i = 0; i < x.n; i++)
				if (res[i] == OG_APPLIED && x.pause[i])
					pauses++;
				else if (res[i] == OG_APPLIED)
					suppressions++;
		}
		if (!more)
			break;
		x.skip_start = 1;
	}
	/* Counters: the longest configured cap window, at least 90 days. */
	horizon = 90LL * 86400;
	for (i = 0; i < cli->cfg->nstreams; i++) {
		const og_stream *st = &cli->cfg->streams[i];

		for (j = 0; j < st->ncaps; j++)
			if (st->caps[j].period > horizon)
				horizon = st->caps[j].period;
		for (j = 0; j < st->nsegcaps; j++) {
			int k;

			for (k = 0; k < st->segcaps[j].ncaps; k++)
				if (st->segcaps[j].caps[k].period > horizon)
					horizon = st->segcaps[j].caps[k].period;
		}
	}
	if (keep)
		horizon = keep;
	/* a cap a person chose (an import's can be 1/180d) counts in
	 * these counters as the stream's own do, --keep or not */
	if (x.own_cap > horizon)
		horizon = x.own_cap;
	bhorizon = cli->cfg->soft_bounce.period > 0
	               ? (int64_t)cli->cfg->soft_bounce.period
	               : horizon;
	if (keep)
		bhorizon = keep;
	rc = og_store_expire_counters(cli->store, x.now - horizon,
	    x.now - bhorizon, (uint32_t)((x.now - 400LL * 86400) / 86400),
	    &dropped);
	if (rc != 0)
		goto fail;
	/* an hourly cron job: a line when it changed something */
	if (suppressions + pauses + dropped > 0) {
		og_buf l;

		og_buf_init(&l, 0);
		og_buf_printf(&l,
		    "expire: suppressions_dropped=%llu, pauses_ended=%llu, "
		    "counters_dropped=%llu",
		    (unsigned long long)suppressions,
		    (unsigned long long)pauses, (unsigned long long)dropped);
		og_cli_log(&l);
	}
	if (cli->json)
		printf("{\"suppressions_dropped\":%llu,\"pauses_ended\":%llu,"
		       "\"counters_dropped\":%llu}\n",
		    (unsigned long long)suppressions,
		    (unsigned long long)pauses, (unsigned long long)dropped);
	else
		printf("expire: %llu expired suppression%s and opt-out%s "
		       "dropped, %llu pause%s over (the opt-in under %s "
		       "holds again; each recorded as an event), %llu "
		       "counter record%s dropped\n",
		    (unsigned long long)suppressions,
		    suppressions == 1 ? "" : "s", suppressions == 1 ? "" : "s",
		    (unsigned long long)pauses, pauses == 1 ? "" : "s",
		    pauses == 1 ? "it" : "each", (unsigned long long)dropped,
		    dropped == 1 ? "" : "s");
	rc = OG_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "optgate: expire: %s\n", og_strerror(rc));
	rc = og_cli_exit_for(rc);
	if (rc < OG_EXIT_STORE)
		rc = OG_EXIT_WRITE;
out:
	free(x.ch);
	free(x.keys);
	free(x.names);
	free(x.pause);
	free(res);
	return rc;
}
