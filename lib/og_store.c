/*
 * og_store.c - the LMDB store (see og_store.h for the record layout).
 *
 * Public: og_store_open/close, og_store_apply (durable group commit),
 * og_store_rbegin/rend and the readers, og_store_count_sends (soft
 * state), iteration, info, copy, and the record/event codecs; for the
 * admin CLI: og_store_erase, the keyed-hash lists (og_store_hashed_read,
 * og_store_import_hashed, og_store_partner_key_get/_drop), batched scans
 * (og_store_foreach_event_from/_all, og_store_foreach_hashed),
 * og_store_day_sends, og_store_expire_counters and og_store_verify;
 * og_store_give (root giving files to the store's owner, never through a
 * link).
 *
 * Ownership: records and events handed out are copies in caller memory;
 * nothing returned points into the LMDB map.
 * Thread-safety: one og_store per process, shared by threads.  Writers in
 * this process are serialised by a mutex (LMDB allows one writer anyway);
 * map resizes are kept apart from every transaction by per-thread mutexes
 * that a resize takes all of (readers never contend with each other).  Read
 * handles are per thread (pthread key), reset after each use and renewed on the
 * next.  Across processes, a map written in place is sized under an flock
 * of its data.mdb (wmap_lock).
 * Errors: LMDB codes are mapped to OG_* codes; "not found" is OG_NOTFOUND.
 *
 * Durability: the consent environment is opened without MDB_NOSYNC, so
 * mdb_txn_commit() returns after fsync; og_store_apply() returns only
 * then.  The counters environment uses MDB_NOSYNC; og_store_sync_counters()
 * flushes it.  Daemons and small commands write consent through write(2),
 * so a full disk is an error (OG_ENOSPC) that they answer with a
 * tempfail.
 * The counters, written on every accepted message, go through write(2)
 * as well, in every process: a full disk fails the commit (OG_ENOSPC),
 * and a flush (counter_sync) write-protects no mapped pages, whose next
 * writes would each be a page fault and a TLB shootdown on the other
 * cores (docs/design.md, "The counters go through write(2)").  Bulk
 * writers (OG_STORE_BULK: imports) map consent writable (MDB_WRITEMAP),
 * so that the dirty pages of large batches live in the file mapping
 * (page cache), not in anonymous memory: a 10M-line import keeps a
 * bounded RSS; the price is that a full disk is a SIGBUS there (the CLI
 * turns it into a message; the last commit stays intact).
 *
 * LIMITS: times are stored as unsigned 32-bit seconds (until 2106); a map
 * starts at 64 MiB (a quarter of a smaller ceiling, or the file's size)
 * and doubles up to its ceiling.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"
#include "og_store.h"
#include "og_time.h"

#define INITIAL_MAP (64ULL << 20)
#define OG_ITER_BATCH 1000
#define REC_MAX 16384
#define EV_MAX 16384
#define LMDB_MAGIC 0xBEEFC0DEU
#define LMDB_DATA_VERSION 1 /* MDB_DATA_VERSION of LMDB 0.9 */

/*
 * A thread's handle: its cached read transactions, and its share of the
 * resize lock.  Every transaction of a thread holds the thread's own
 * mutex (uncontended: no cache line bounces between cores); a resize
 * takes every thread's mutex.  held counts nesting, so a thread may write
 * from inside its own read loop.
 */
struct og_rtxn {
	og_store *st;
	MDB_txn *c, *k;
	int active;
	int held;
	pthread_mutex_t lk;
	struct og_rtxn *next; /* registry, for close and resize */
} __attribute__((aligned(64)));

struct og_store {
	MDB_env *cenv, *kenv;
	MDB_dbi cdbi, kdbi;
	MDB_dbi edbi; /* events: own B-tree so appends fill pages */
	uint64_t cmax, kmax;
	unsigned flags;
	char *path;
	unsigned char secret[32];
	uint32_t origin;
	pthread_mutex_t wlock;
	pthread_mutex_t reglock;
	pthread_key_t tkey;
	struct og_rtxn *reg;
	int kdamaged; /* a counters page was found damaged (said once) */
	/* for og_store_counters_check: how they were opened, which files */
	int maxr;
	dev_t kdev[2]; /* data.mdb, lock.mdb */
	ino_t kino[2];
	int kstuck; /* replaced but not followed (said once) */
	/* for consent_follow: the consent files open here (writer's lock) */
	unsigned cflags;
	dev_t cdev[2]; /* data.mdb, lock.mdb */
	ino_t cino[2];
	int cstuck;     /* replaced but not followed (said once) */
	uint64_t cfile; /* consent data.mdb's size, as commit_uncut saw it */
	/* a reader without LMDB's lock (consent, counters): nolock_mark */
	int nolock[2];
	uint64_t nolock_txn[2];
};

static void rd_lock(og_store *st);
static void rd_unlock(og_store *st);
static void threads_stop(og_store *st);
static void threads_go(og_store *st);
static struct og_rtxn *thread_handle(og_store *st);

/* ---------- error mapping ---------- */

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return OG_NOTFOUND;
	case MDB_MAP_FULL:
		return OG_EFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return OG_ECORRUPT;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
		return OG_EBUSY;
	case MDB_PANIC:
		return OG_EDEAD;
	case ENOMEM:
		return OG_ENOMEM;
	case ENOSPC:
	case EDQUOT:
		return OG_ENOSPC;
	case EIO:
	case EACCES:
	case EROFS:
		return OG_EIO;
	}
	return OG_ESTORE;
}

/* ---------- names ---------- */

const char *
og_state_name(int s)
{
	static const char *const n[] = {
	    "none", "pending", "optin", "confirmed", "optout", "suppressed"};

	return s >= 0 && s <= 5 ? n[s] : "?";
}

static const char *const reason_names[] = {"none", "hard-bounce", "complaint",
    "manual", "soft-bounce", "erased", "partner-list"};

const char *
og_reason_name(int r)
{
	return r >= 0 && r <= 6 ? reason_names[r] : "?";
}

int
og_reason_parse(const char *s)
{
	int i;

	for (i = 1; i <= 6; i++)
		if (strcmp(s, reason_names[i]) == 0)
			return i;
	return -1;
}

const char *
og_via_name(int v)
{
	static const char *const n[] = {"admin", "import", "one-click",
	    "preference-page", "mail", "fbl", "bounce", "confirmation",
	    "expiry"};

	return v >= 0 && v <= 8 ? n[v] : "?";
}

const char *
og_evkind_name(int k)
{
	static const char *const n[] = {"?", "optin", "optout", "suppress",
	    "unsuppress", "confirm", "erase", "segment", "preference"};

	return k >= 1 && k <= 8 ? n[k] : "?";
}

/* ---------- codecs ---------- */

struct rd {
	const unsigned char *p, *end;
	int bad;
};

static int
rd_need(struct rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	return 1;
}

static unsigned
rd_u8(struct rd *r)
{
	return rd_need(r, 1) ? *r->p++ : 0;
}

static uint32_t
rd_u16(struct rd *r)
{
	uint32_t v = 0;

	if (rd_need(r, 2)) {
		v = og_get_be16(r->p);
		r->p += 2;
	}
	return v;
}

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t v = 0;

	if (rd_need(r, 4)) {
		v = og_get_be32(r->p);
		r->p += 4;
	}
	return v;
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t v = 0;

	if (rd_need(r, 8)) {
		v = og_get_be64(r->p);
		r->p += 8;
	}
	return v;
}

/* Copy n bytes as a string into dst (size dsz); too long is bad. */
static void
rd_str(struct rd *r, size_t n, char *dst, size_t dsz)
{
	if (n >= dsz || !rd_need(r, n)) {
		r->bad = 1;
		if (dsz)
			dst[0] = 0;
		return;
	}
	memcpy(dst, r->p, n);
	dst[n] = 0;
	if (memchr(dst, 0, n) != NULL)
		r->bad = 1;
	r->p += n;
}

struct wr {
	unsigned char *p, *end;
	int bad;
};

static void
wr_bytes(struct wr *w, const void *s, size_t n)
{
	if (w->bad || (size_t)(w->end - w->p) < n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

static void
wr_u8(struct wr *w, unsigned v)
{
	unsigned char b = (unsigned char)v;

	wr_bytes(w, &b, 1);
}

static void
wr_u16(struct wr *w, uint32_t v)
{
	unsigned char b[2];

	og_put_be16(b, (uint16_t)v);
	wr_bytes(w, b, 2);
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	unsigned char b[4];

	og_put_be32(b, v);
	wr_bytes(w, b, 4);
}

static void
wr_u64(struct wr *w, uint64_t v)
{
	unsigned char b[8];

	og_put_be64(b, v);
	wr_bytes(w, b, 8);
}

static uint32_t
t32(int64_t t)
{
	if (t < 0)
		return 0;
	if (t > (int64_t)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)t;
}

/* The consent under pause e: its state (0: none), channel, time, event. */
static void
set_resume(og_entry *e, int state, int via, int64_t time, uint64_t event)
{
	e->resume = (uint8_t)state;
	e->resume_via = (uint8_t)via;
	e->resume_time = time;
	e->resume_event = event;
}

#define ENT_EXPIRES 0x01
#define ENT_PREF 0x02
#define ENT_EVLAST 0x04 /* event == the record's last_event: not stored */
#define ENT_RESUME 0x08 /* a pause's consent: state, via, time, event */

int
og_record_decode(const void *val, size_t len, const char *key, og_record *rec)
{
	struct rd r = {val, (const unsigned char *)val + len, 0};
	unsigned n, i, ver;

	memset(rec, 0, offsetof(og_record, entries));
	rec->nentries = 0;
	og_strlcpy(rec->key, key ? key : "", sizeof(rec->key));
	/* 2: holds a pause's consent (ENT_RESUME), which 1 cannot */
	ver = rd_u8(&r);
	if (ver != 1 && ver != 2)
		return OG_EVERSION;
	rec->flags = rd_u8(&r);
	rec->created = rd_u32(&r);
	rec->last_event = rd_u64(&r);
	n = rd_u8(&r);
	if (n)
		rd_str(&r, n, rec->raw, sizeof(rec->raw));
	else
		og_strlcpy(rec->raw, rec->key, sizeof(rec->raw));
	n = rd_u8(&r);
	if (n > OG_SEGMENTS_MAX)
		return OG_ECORRUPT;
	for (i = 0; i < n; i++)
		rd_str(&r, rd_u8(&r), rec->segments[i], OG_SEGMENT_LEN + 1);
	rec->nsegments = (int)n;
	n = rd_u8(&r);
	if (n > OG_ENTRIES_MAX)
		return OG_ECORRUPT;
	for (i = 0; i < n && !r.bad; i++) {
		og_entry *e = &rec->entries[i];
		unsigned fl;

		e->scope = (uint8_t)rd_u8(&r);
		e->state = (uint8_t)rd_u8(&r);
		e->reason = (uint8_t)rd_u8(&r);
		e->via = (uint8_t)rd_u8(&r);
		fl = rd_u8(&r);
		rd_str(&r, rd_u8(&r), e->name, sizeof(e->name));
		e->time = rd_u32(&r);
		e->event = fl & ENT_EVLAST ? rec->last_event : rd_u64(&r);
		e->expires = fl & ENT_EXPIRES ? rd_u32(&r) : 0;
		if (fl & ENT_PREF) {
			e->pref.limit = rd_u16(&r);
			e->pref.period = rd_u32(&r);
		} else {
			e->pref.limit = e->pref.period = 0;
		}
		if ((fl & ENT_RESUME) && ver < 2)
			r.bad = 1;
		if (fl & ENT_RESUME) {
			e->resume = (uint8_t)rd_u8(&r);
			e->resume_via = (uint8_t)rd_u8(&r);
			e->resume_time = rd_u32(&r);
			e->resume_event = rd_u64(&r);
			/* only under a temporary opt-out or suppression */
			if (!og_state_optin(e->resume) || e->expires == 0 ||
			    (e->state != OG_ST_OPTOUT &&
			        e->state != OG_ST_SUPPRESSED))
				r.bad = 1;
		} else {
			set_resume(e, 0, 0, 0, 0);
		}
		if (e->scope < OG_SCOPE_ALL || e->scope > OG_SCOPE_STREAM ||
		    e->state > OG_ST_SUPPRESSED)
			r.bad = 1;
	}
	rec->nentries = (int)n;
	if (r.bad || r.p != r.end)
		return OG_ECORRUPT;
	return 0;
}

static int
record_encode(
    const og_record *rec, unsigned char *buf, size_t size, size_t *len)
{
	struct wr w = {buf, buf + size, 0};
	int i, ver = 1;

	/*
	 * Version 2 only where a pause keeps a consent: an earlier optgate
	 * then says "made by a newer optgate" instead of "damaged".
	 */
	for (i = 0; i < rec->nentries; i++)
		if (rec->entries[i].resume && rec->entries[i].expires)
			ver = 2;
	wr_u8(&w, (unsigned)ver);
	wr_u8(&w, rec->flags);
	wr_u32(&w, t32(rec->created));
	wr_u64(&w, rec->last_event);
	if (strcmp(rec->raw, rec->key) != 0 && strlen(rec->raw) < 256) {
		wr_u8(&w, (unsigned)strlen(rec->raw));
		wr_bytes(&w, rec->raw, strlen(rec->raw));
	} else {
		wr_u8(&w, 0);
	}
	wr_u8(&w, (unsigned)rec->nsegments);
	for (i = 0; i < rec->nsegments; i++) {
		wr_u8(&w, (unsigned)strlen(rec->segments[i]));
		wr_bytes(&w, rec->segments[i], strlen(rec->segments[i]));
	}
	wr_u8(&w, (unsigned)rec->nentries);
	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];
		unsigned fl = (e->expires ? ENT_EXPIRES : 0) |
		              (e->pref.limit ? ENT_PREF : 0) |
		              (e->event == rec->last_event ? ENT_EVLAST : 0) |
		              (e->resume && e->expires ? ENT_RESUME : 0);
		size_t nl = strlen(e->name);

		wr_u8(&w, e->scope);
		wr_u8(&w, e->state);
		wr_u8(&w, e->reason);
		wr_u8(&w, e->via);
		wr_u8(&w, fl);
		wr_u8(&w, (unsigned)nl);
		wr_bytes(&w, e->name, nl);
		wr_u32(&w, t32(e->time));
		if (!(fl & ENT_EVLAST))
			wr_u64(&w, e->event);
		if (fl & ENT_EXPIRES)
			wr_u32(&w, t32(e->expires));
		if (fl & ENT_PREF) {
			wr_u16(&w, e->pref.limit);
			wr_u32(&w, e->pref.period);
		}
		if (fl & ENT_RESUME) {
			wr_u8(&w, e->resume);
			wr_u8(&w, e->resume_via);
			wr_u32(&w, t32(e->resume_time));
			wr_u64(&w, e->resume_event);
		}
	}
	if (w.bad)
		return OG_ETOOBIG;
	*len = (size_t)(w.p - buf);
	return 0;
}

#define EVF_FOREIGN 0x01 /* origin/origin_seq present */
#define EVF_EXPIRES 0x02
#define EVF_PREV 0x04 /* prev present (else 0: first event) */

int
og_event_decode(const void *val, size_t len, uint64_t seq, og_event *ev)
{
	struct rd r = {val, (const unsigned char *)val + len, 0};
	unsigned fl, i;

	for (i = 0; i < OG_EVF_NFIELDS; i++)
		ev->f[i][0] = 0;
	ev->seq = seq;
	if (rd_u8(&r) != 1)
		return OG_EVERSION;
	fl = rd_u8(&r);
	ev->time = rd_u32(&r);
	ev->kind = (uint8_t)rd_u8(&r);
	ev->scope = (uint8_t)rd_u8(&r);
	ev->old_state = (uint8_t)rd_u8(&r);
	ev->new_state = (uint8_t)rd_u8(&r);
	ev->reason = (uint8_t)rd_u8(&r);
	ev->via = (uint8_t)rd_u8(&r);
	ev->prev = fl & EVF_PREV ? rd_u64(&r) : 0;
	ev->expires = fl & EVF_EXPIRES ? rd_u32(&r) : 0;
	if (fl & EVF_FOREIGN) {
		ev->origin = rd_u32(&r);
		ev->origin_seq = rd_u64(&r);
	} else {
		ev->origin = 0;
		ev->origin_seq = seq;
	}
	while (!r.bad && r.p < r.end) {
		unsigned tag = rd_u8(&r);
		unsigned n = rd_u8(&r);

		if (n & 0x80) /* lengths >= 128 take two bytes */
			n = (n & 0x7f) << 8 | rd_u8(&r);

		if (tag == 0 || tag >= OG_EVF_NFIELDS) {
			r.bad = 1;
			break;
		}
		rd_str(&r, n, ev->f[tag], OG_EVF_MAX + 1);
	}
	return r.bad ? OG_ECORRUPT : 0;
}

static int
event_encode(const og_event *ev, unsigned char *buf, size_t size, size_t *len)
{
	struct wr w = {buf, buf + size, 0};
	unsigned fl = (ev->expires ? EVF_EXPIRES : 0) |
	              (ev->origin ? EVF_FOREIGN : 0) |
	              (ev->prev ? EVF_PREV : 0);
	int i;

	wr_u8(&w, 1);
	wr_u8(&w, fl);
	wr_u32(&w, t32(ev->time));
	wr_u8(&w, ev->kind);
	wr_u8(&w, ev->scope);
	wr_u8(&w, ev->old_state);
	wr_u8(&w, ev->new_state);
	wr_u8(&w, ev->reason);
	wr_u8(&w, ev->via);
	if (fl & EVF_PREV)
		wr_u64(&w, ev->prev);
	if (fl & EVF_EXPIRES)
		wr_u32(&w, t32(ev->expires));
	if (fl & EVF_FOREIGN) {
		wr_u32(&w, ev->origin);
		wr_u64(&w, ev->origin_seq);
	}
	for (i = 1; i < OG_EVF_NFIELDS; i++) {
		size_t n = strlen(ev->f[i]);

		if (n == 0)
			continue;
		wr_u8(&w, (unsigned)i);
		if (n < 128)
			wr_u8(&w, (unsigned)n);
		else
			wr_u16(&w, (uint32_t)n | 0x8000);
		wr_bytes(&w, ev->f[i], n);
	}
	if (w.bad)
		return OG_ETOOBIG;
	*len = (size_t)(w.p - buf);
	return 0;
}

/* ---------- keys ---------- */

static size_t
mkkey(unsigned char *buf, char ns, const char *a, const char *b)
{
	size_t n = 1, la = strlen(a);

	buf[0] = (unsigned char)ns;
	memcpy(buf + 1, a, la);
	n += la;
	if (b) {
		size_t lb = strlen(b);

		buf[n++] = 0;
		memcpy(buf + n, b, lb);
		n += lb;
	}
	return n;
}

/* ---------- environments ---------- */

/*
 * Check data.mdb looks like an LMDB file before LMDB touches it, so a
 * garbage or foreign file is refused and never written to.
 */
/* Little-endian readers for LMDB's on-disk meta page (x86-64 layout). */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * Read data.mdb's two meta pages (magic, page size in the free DB's
 * md_pad) into m0 and m1: the newest of them, or NULL when the file is
 * not an LMDB file (short, no magic, an odd page size).  *psize gets the
 * page size, *last the newest's last page.
 */
static unsigned char *
meta_newest(int fd, const struct stat *sb, unsigned char m0[160],
    unsigned char m1[160], uint64_t *psize, uint64_t *last)
{
	unsigned char *m;

	if (sb->st_size < 2 * 4096 || pread(fd, m0, 160, 0) != 160 ||
	    (uint32_t)le64(m0 + 16) != LMDB_MAGIC)
		return NULL;
	*psize = (uint32_t)le64(m0 + 40);
	if (*psize < 4096 || *psize > 65536 || (*psize & (*psize - 1)) ||
	    (uint64_t)sb->st_size < 2 * *psize ||
	    pread(fd, m1, 160, (off_t)*psize) != 160 ||
	    (uint32_t)le64(m1 + 16) != LMDB_MAGIC)
		return NULL;
	m = le64(m1 + 144) > le64(m0 + 144) ? m1 : m0;
	*last = le64(m + 136);
	return m;
}

/*
 * Check data.mdb before LMDB touches it, so that a garbage, foreign or
 * truncated file is refused and never written to (with MDB_WRITEMAP,
 * mdb_env_open() would extend a short file).  Reads the two meta pages:
 * magic, page size (in the free DB's md_pad), last page of the newest.
 */
static int
precheck_file(const char *file, char *err, size_t errlen)
{
	unsigned char m0[160], m1[160], *m;
	struct stat sb;
	uint64_t psize, last, need;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return OG_NOTFOUND;
		snprintf(
		    err, errlen, "%s: cannot read: %s", file, strerror(errno));
		return OG_EIO;
	}
	if (fstat(fd, &sb) != 0) {
		close(fd);
		snprintf(
		    err, errlen, "%s: cannot read: %s", file, strerror(errno));
		return OG_EIO;
	}
	m = meta_newest(fd, &sb, m0, m1, &psize, &last);
	close(fd);
	if (m == NULL)
		goto foreign;
	need = (last + 1) * psize;
	if (need > (uint64_t)sb.st_size) {
		snprintf(err, errlen,
		    "%s: truncated (%lld bytes, needs "
		    "%llu); nothing was changed: restore a backup (optgate "
		    "backup)",
		    file, (long long)sb.st_size, (unsigned long long)need);
		return OG_ECORRUPT;
	}
	return 0;
foreign:
	snprintf(err, errlen,
	    "%s: not an LMDB file (damaged or "
	    "foreign); nothing was changed: move it away and restore "
	    "a backup (optgate backup), or run optgate init in an "
	    "empty folder",
	    file);
	return OG_ECORRUPT;
}

/*
 * The B-trees of data.mdb, walked page by page from the newest meta page
 * without LMDB: every page reachable from the free and main trees (and
 * from the named databases and big values they hold) must carry its own
 * page number and the kind its parent expects, lie below the last page
 * and be reached once.  The counters are written without sync, so a power
 * cut can leave a meta page that names pages which never reached the disk
 * (zeros in a reserved file); LMDB opens such a file and then fails on
 * the reads that reach those pages, or asserts (abort) in a cursor walk.
 * Reads each used page once.  0, OG_NOTFOUND (no file), OG_EIO, or
 * OG_ECORRUPT with the page in err.
 */
#define PG_BRANCH 0x01
#define PG_LEAF 0x02
#define PG_OVERFLOW 0x04
#define PG_LEAF2 0x20
#define ND_BIGDATA 0x01
#define ND_SUBDATA 0x02
#define ND_DUPDATA 0x04
#define PG_INVALID UINT64_MAX

typedef struct tree_walk {
	int fd;
	uint64_t psize, last;
	unsigned char *seen; /* one bit per page */
	unsigned char *pg;   /* one buffer per depth */
	uint64_t bad;        /* the page found wrong */
	const char *why;
} tree_walk;

static unsigned
le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static int walk_page(tree_walk *w, uint64_t pgno, int depth);

static int
walk_fail(tree_walk *w, uint64_t pgno, const char *why)
{
	w->bad = pgno;
	w->why = why;
	return -1;
}

/* Mark pgno..pgno+n-1 seen; -1 when one is past the end or seen already. */
static int
walk_mark(tree_walk *w, uint64_t pgno, uint64_t n)
{
	if (pgno < 2 || pgno > w->last || n > w->last - pgno + 1)
		return walk_fail(w, pgno, "points past the last page");
	for (uint64_t i = pgno; i < pgno + n; i++) {
		if (w->seen[i >> 3] & (1u << (i & 7)))
			return walk_fail(w, i, "is reached twice");
		w->seen[i >> 3] |= (unsigned char)(1u << (i & 7));
	}
	return 0;
}

/* The root of an MDB_db (48 bytes: root at 40), walked if any. */
static int
walk_db(tree_walk *w, const unsigned char *db, int depth)
{
	uint64_t root = le64(db + 40);

	return root == PG_INVALID ? 0 : walk_page(w, root, depth);
}

static int
walk_leaf(tree_walk *w, const unsigned char *p, const unsigned char *nd,
    uint64_t pgno, int depth)
{
	unsigned flags = le16(nd + 4), ksize = le16(nd + 6);
	uint64_t dsize = le16(nd) | (uint64_t)le16(nd + 2) << 16;
	const unsigned char *d = nd + 8 + ksize;
	unsigned char oh[16];

	if (flags & ND_BIGDATA) {
		uint64_t op, n;

		if (d + 8 > p + w->psize)
			return walk_fail(w, pgno, "has a node past its end");
		op = le64(d);
		if (op < 2 || op > w->last)
			return walk_fail(w, op, "points past the last page");
		if (pread(w->fd, oh, sizeof(oh), (off_t)(op * w->psize)) !=
		    (ssize_t)sizeof(oh))
			return walk_fail(w, op, "cannot be read");
		n = (uint32_t)(le16(oh + 12) | (uint32_t)le16(oh + 14) << 16);
		if (le64(oh) != op || !(le16(oh + 10) & PG_OVERFLOW) || n == 0)
			return walk_fail(w, op,
			    "is not the big value it should "
			    "be");
		return walk_mark(w, op, n);
	}
	if (flags & ND_SUBDATA) {
		if (d + 48 > p + w->psize)
			return walk_fail(w, pgno, "has a node past its end");
		return walk_db(w, d, depth + 1);
	}
	if (d + dsize > p + w->psize)
		return walk_fail(w, pgno, "has a node past its end");
	return 0;
}

static int
walk_page(tree_walk *w, uint64_t pgno, int depth)
{
	unsigned char *p = w->pg + (size_t)depth * w->psize;
	unsigned flags, lower, upper, n;

	if (depth >= 32)
		return walk_fail(w, pgno, "is too deep");
	if (walk_mark(w, pgno, 1) != 0)
		return -1;
	if (pread(w->fd, p, w->psize, (off_t)(pgno * w->psize)) !=
	    (ssize_t)w->psize)
		return walk_fail(w, pgno, "cannot be read");
	flags = le16(p + 10);
	lower = le16(p + 12);
	upper = le16(p + 14);
	if (le64(p) != pgno)
		return walk_fail(w, pgno, "holds another page (or zeros)");
	if (!(flags & (PG_BRANCH | PG_LEAF)) || lower < 16 || lower > upper ||
	    upper > w->psize)
		return walk_fail(w, pgno, "has a bad header");
	if (flags & PG_LEAF2)
		return 0;
	n = (lower - 16) / 2;
	for (unsigned i = 0; i < n; i++) {
		unsigned off = le16(p + 16 + 2 * i);
		const unsigned char *nd = p + off;

		if (off < upper || off + 8 > w->psize ||
		    off + 8 + le16(nd + 6) > w->psize)
			return walk_fail(w, pgno, "has a node past its end");
		if (flags & PG_BRANCH) {
			uint64_t child = le16(nd) |
			                 (uint64_t)le16(nd + 2) << 16 |
			                 (uint64_t)le16(nd + 4) << 32;

			if (walk_page(w, child, depth + 1) != 0)
				return -1;
		} else if (walk_leaf(w, p, nd, pgno, depth) != 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * Read the first end bytes of fd in order, into the page cache.  The walk
 * reads in tree order, which copy-on-write scatters over the file: after
 * a reboot that was a random read per page (3.6 s for 235 MiB of
 * counters here, 0.3-0.7 s with this).  posix_fadvise(WILLNEED) would
 * not do: Linux reads ahead at most its readahead window per call.
 * Errors are the walk's to report.
 */
static void
preread(int fd, off_t end)
{
	size_t n = 1 << 20;
	char *buf = og_xmalloc(n);
	off_t o;

	for (o = 0; o < end; o += (off_t)n)
		if (pread(fd, buf, n, o) <= 0)
			break;
	free(buf);
}

static int
tree_check(const char *file, char *err, size_t errlen)
{
	unsigned char m0[160], m1[160], *m;
	struct stat sb;
	tree_walk w;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	if ((w.fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return OG_NOTFOUND;
		snprintf(
		    err, errlen, "%s: cannot read: %s", file, strerror(errno));
		return OG_EIO;
	}
	if (fstat(w.fd, &sb) != 0) {
		snprintf(
		    err, errlen, "%s: cannot read: %s", file, strerror(errno));
		close(w.fd);
		return OG_EIO;
	}
	/*
	 * A foreign, short or truncated file is precheck_file()'s to
	 * refuse; the walk knows LMDB 0.9's page layout (data version 1)
	 * only, and leaves another alone rather than call it damaged.
	 */
	if ((m = meta_newest(w.fd, &sb, m0, m1, &w.psize, &w.last)) == NULL ||
	    le64(m0 + 16) >> 32 != LMDB_DATA_VERSION ||
	    (w.last + 1) * w.psize > (uint64_t)sb.st_size) {
		close(w.fd);
		return 0;
	}
	preread(w.fd, (off_t)((w.last + 1) * w.psize));
	w.seen = og_xcalloc((size_t)(w.last / 8 + 1), 1);
	w.pg = og_xmalloc((size_t)(w.psize * 33));
	/* the free tree (dbs[0] at 40) and the main tree (dbs[1] at 88) */
	if (walk_db(&w, m + 40, 0) != 0 || walk_db(&w, m + 88, 0) != 0) {
		snprintf(err, errlen,
		    "%s: damaged: page %llu %s (a write lost to a crash "
		    "or a bad disk)",
		    file, (unsigned long long)w.bad, w.why);
		rc = OG_ECORRUPT;
	}
	free(w.seen);
	free(w.pg);
	close(w.fd);
	return rc;
}

/*
 * Which process has the environment in dir open?  LMDB holds a read lock
 * on the first byte of lock.mdb in every process that has it open (the
 * first to open takes it exclusively), so nobody holds one after a
 * reboot or once all users have exited; F_GETLK sees it through any
 * mount of the file and needs only read access.  Returns 0 (nobody), the
 * pid of one that has it, -1 when lock.mdb cannot be opened (errno: no
 * such file, no permission), -2 when the lock cannot be asked.  Call
 * before this process opens dir (closing the descriptor drops this
 * process's locks on the file).
 */
static pid_t
env_user(const char *dir)
{
	char file[4200];
	struct flock fl;
	int fd, rc;

	snprintf(file, sizeof(file), "%s/lock.mdb", dir);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	rc = fcntl(fd, F_GETLK, &fl);
	close(fd);
	if (rc != 0)
		return -2;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid > 0 ? fl.l_pid : 1;
}

/* Is no other process using the environment in dir?  (env_user) */
static int
env_unused(const char *dir)
{
	pid_t p = env_user(dir);

	return p == 0 || p == -1;
}

/*
 * May this process write path?  Root may write anything, but a file or
 * folder made read-only for everyone (chmod a-w: a snapshot, a copy
 * for reading) was made so on purpose, and is not written either.
 * 1, or 0 with why in buf and errno set (0: the mode).
 */
static int
may_write(const char *path, char *why, size_t size)
{
	struct stat sb;

	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) {
		snprintf(why, size, "%s", strerror(errno));
		return 0;
	}
	if (stat(path, &sb) == 0 && (sb.st_mode & 0222) == 0) {
		snprintf(why, size, "made read-only for everyone (mode %04o)",
		    (unsigned)(sb.st_mode & 07777));
		errno = 0;
		return 0;
	}
	return 1;
}

/* "user NAME" (or "uid N") of this process, for messages on permissions. */
static void
who(char *buf, size_t size)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(buf, size, "user %s", pw->pw_name);
	else
		snprintf(buf, size, "uid %u", (unsigned)geteuid());
}

static int absent(const char *dir, const char *name);

/*
 * A reader's way to dir's lock file (OG_STORE_READ): 0 with *extra as it
 * was, LMDB's lock (MDB_RDONLY still writes lock.mdb: its reader slot
 * keeps writers off the pages it reads), when this process may write
 * lock.mdb, or make it; 0 with MDB_NOLOCK added when it may not and no
 * process has the environment open; else OG_EACCES, err saying why.
 * LMDB itself reads a read-only file system without the lock, without
 * asking whether a writer has the same files open through another mount
 * (a read-only bind mount of the live store): it is asked here.
 */
static int
read_lock_mode(const char *dir, unsigned *extra, char *err, size_t errlen)
{
	char lock[4200], why[128], user[128], way[256], name[64] = "";
	pid_t p;
	int e, fd;
	ssize_t n;

	snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
	if (absent(dir, "lock.mdb") ? may_write(dir, why, sizeof(why))
	                            : may_write(lock, why, sizeof(why)))
		return 0;
	e = errno;
	p = env_user(dir);
	if (p == 0 || (p == -1 && errno == ENOENT)) {
		*extra |= MDB_NOLOCK;
		return 0;
	}
	if (p == -1 || p == -2) {
		snprintf(err, errlen,
		    "%s: not writable here (%s), and whether a process has "
		    "the store open cannot be told (%s): reading it without "
		    "a reader slot is safe only when none has",
		    lock, why, p == -1 ? strerror(errno) : "F_GETLK failed");
		return OG_EACCES;
	}
	/* the process by name: an admin knows which daemon that is */
	snprintf(way, sizeof(way), "/proc/%ld/comm", (long)p);
	if ((fd = open(way, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, name + 2, sizeof(name) - 4);
		close(fd);
		if (n > 1) {
			name[0] = ' ', name[1] = '(';
			name[n + 1] = ')', name[n + 2] = 0;
		}
	}
	who(user, sizeof(user));
	if (e == EROFS)
		snprintf(way, sizeof(way),
		    "read it through a mount where lock.mdb can be written, "
		    "or read a backup");
	else if (e == 0)
		snprintf(way, sizeof(way),
		    "make lock.mdb writable (chmod u+w), or read a backup");
	else
		snprintf(way, sizeof(way),
		    "give %s write access to lock.mdb alone (README, "
		    "\"Read-only access\"), or read a backup",
		    user);
	snprintf(err, errlen,
	    "%s: not writable by %s (%s), and process %ld%s has the store "
	    "open: read without a reader slot in lock.mdb, pages that "
	    "process rewrites could be read as the store's; %s",
	    lock, user, why, (long)p, name, way);
	return OG_EACCES;
}

/*
 * The counters lose writes only to a crash of the machine (a killed
 * process leaves them in the page cache), and a crash means a new boot.
 * So once walked clean, or made, in this boot, a first open need not walk
 * them again (a daemon restarted, policyd under spawn(8) started for each
 * connection).  counters/walked holds the kernel's boot id and the
 * identity of data.mdb, so a copy or a restored file is walked again.
 * The mark is made under the store folder's flock (og_store_open).
 */
static int
boot_mark(const char *dir, char *buf, size_t size)
{
	char bid[64], file[4200];
	struct statx sx;
	struct stat sb;
	ssize_t n;
	int fd;

	if ((fd = open(
	         "/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, bid, sizeof(bid) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	bid[n] = '\0';
	bid[strcspn(bid, "\n")] = '\0';
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &sb) != 0)
		return -1;
	/*
	 * The inode number alone does not tell a copy: ext4 gives a file
	 * made after rm -r the number just freed (rm -r and cp -a of a
	 * folder with its mark).  Its birth time does, where the file
	 * system keeps one.
	 */
	if (statx(AT_FDCWD, file, 0, STATX_BTIME, &sx) != 0 ||
	    !(sx.stx_mask & STATX_BTIME))
		sx.stx_btime.tv_sec = 0, sx.stx_btime.tv_nsec = 0;
	snprintf(buf, size, "%s %llu %llu %lld.%09u\n", bid,
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
	    (long long)sx.stx_btime.tv_sec, (unsigned)sx.stx_btime.tv_nsec);
	return 0;
}

static int
walked_this_boot(const char *dir)
{
	char want[160], have[160], file[4200];
	ssize_t n;
	int fd;

	if (boot_mark(dir, want, sizeof(want)) != 0)
		return 0;
	snprintf(file, sizeof(file), "%s/walked", dir);
	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, have, sizeof(have) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	have[n] = '\0';
	return strcmp(have, want) == 0;
}

/*
 * Soft: without the mark, the next first open walks again.  Root makes
 * it the store owner's, as the rest of the folder.
 */
static void
mark_walked(const char *dir, const struct stat *owner)
{
	char mark[160], tmp[4200], file[4200];
	size_t len;
	int fd, ok;

	if (boot_mark(dir, mark, sizeof(mark)) != 0)
		return;
	len = strlen(mark);
	snprintf(tmp, sizeof(tmp), "%s/walked.%ld", dir, (long)getpid());
	snprintf(file, sizeof(file), "%s/walked", dir);
	/* never through a link someone put there (root makes it too) */
	(void)unlink(tmp);
	if ((fd = open(tmp,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) <
	    0)
		return;
	ok = write(fd, mark, len) == (ssize_t)len;
	if (ok && geteuid() == 0 && (owner->st_uid != 0 || owner->st_gid != 0))
		ok = fchown(fd, owner->st_uid, owner->st_gid) == 0;
	close(fd);
	if (!ok || rename(tmp, file) != 0)
		(void)unlink(tmp);
}

/*
 * LMDB reports a short write during a commit as EIO, which is what a full
 * disk gives for a commit of many pages (ENOSPC comes only when not one
 * byte could be written).  Call it what it is when the disk of path has
 * no room left, so the admin reads "disk full", not "input/output error".
 * rc is an OG_* code.
 */
static int
disk_err(const char *path, int rc)
{
	struct statvfs sv;
	uint64_t room;

	if (rc != OG_EIO || statvfs(path, &sv) != 0)
		return rc;
	room =
	    (uint64_t)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
	return room < (1ULL << 20) ? OG_ENOSPC : rc;
}

/*
 * A write to the store at path failed with LMDB's (or errno's) mdb: say
 * so in err ("path: [what: ]why", a full disk as one), and return its
 * OG_* code.
 */
static int
write_err(const char *path, const char *what, int mdb, char *err, size_t errlen)
{
	int rc = disk_err(path, map_err(mdb));

	snprintf(err, errlen, "%s: %s%s%s", path, what ? what : "",
	    what ? ": " : "",
	    rc == OG_ENOSPC ? og_strerror(rc) : mdb_strerror(mdb));
	return rc;
}

/*
 * With MDB_WRITEMAP, LMDB sets the data file to this process's map size
 * (mdb_env_open, mdb_env_set_mapsize): if another process grew its map
 * after we looked at the file's size, the file is cut under that map, and
 * that process's next write beyond the cut is a SIGBUS.  So the look and
 * LMDB's setting are made under an flock of data.mdb (open_env, resize);
 * LMDB never flocks it (it locks lock.mdb, with fcntl).  Only consent is
 * mapped writable, and only by bulk writers (optgate import, og_bench
 * load); without MDB_WRITEMAP LMDB never sets the file's size (it only
 * grows by the pages written), so the others cannot cut it; they only
 * write pages past its end, which a bulk writer's setting would cut: their
 * commits take the lock shared meanwhile (commit_uncut).  And nothing
 * keeps two bulk writers apart (two imports may run at once), hence the
 * lock (og_store_test: open_racing_growth_keeps_consent_file,
 * adopt_racing_growth_keeps_consent_file).  Held briefly, by
 * a process in none of its transactions, so never with LMDB's writer
 * lock; the holder waits at most, in mdb_env_open(), for the fcntl lock
 * a first opener holds within its own mdb_env_open(), where it waits for
 * no lock of ours.  A killed holder's flock goes with its descriptor.
 */
static void
wmap_lock(int fd)
{
	while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
		;
}

/*
 * When env maps its data file writable (MDB_WRITEMAP: every process that
 * maps it sets the file to its map size), lock the file until the map is
 * set (wmap_lock) and say its size in *size; returns the descriptor to
 * unlock.  Else -1, and *size 0.
 */
static int
wmap_file_size(MDB_env *env, uint64_t *size)
{
	unsigned flags = 0;
	struct stat sb;
	int fd;

	*size = 0;
	if (mdb_env_get_flags(env, &flags) != 0 || !(flags & MDB_WRITEMAP) ||
	    mdb_env_get_fd(env, &fd) != 0)
		return -1;
	wmap_lock(fd);
	if (fstat(fd, &sb) == 0)
		*size = (uint64_t)sb.st_size;
	return fd;
}

/*
 * mdb_txn_commit of a write transaction on consent by a process that
 * writes it through write(2) (no MDB_WRITEMAP): the commit writes its
 * pages, past the file's end where its map has grown beyond the file,
 * syncs them, and only then writes the meta page that names them.  A bulk
 * writer opening or growing its map meanwhile has LMDB set the file to
 * the size it saw (ftruncate in mdb_env_open, mdb_env_set_mapsize): seen
 * before those pages and set after them, they are cut, and the meta page
 * names pages that are gone (an acknowledged opt-out lost, a damaged
 * store).  So such a commit holds a shared flock of data.mdb, which
 * keeps it out of the bulk writer's look and setting (wmap_lock); the
 * holder has LMDB's writer lock, which no holder of wmap_lock waits for.
 * The file never shrinks otherwise: once it was seen (*seen) to cover the
 * map, none of our pages can lie past its end, and no lock is taken until
 * the map grows (store_bulk_cut.sh).
 */
static int
commit_uncut(MDB_env *env, MDB_txn *txn, uint64_t *seen)
{
	MDB_envinfo info;
	unsigned flags = 0;
	struct stat sb;
	int fd = -1, rc;

	if (mdb_env_get_flags(env, &flags) != 0 || (flags & MDB_WRITEMAP) ||
	    mdb_env_info(env, &info) != 0 || info.me_mapsize <= *seen ||
	    mdb_env_get_fd(env, &fd) != 0)
		fd = -1;
	else
		while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
			;
	rc = mdb_txn_commit(txn);
	if (fd >= 0) {
		if (fstat(fd, &sb) == 0)
			*seen = (uint64_t)sb.st_size;
		(void)flock(fd, LOCK_UN);
	}
	return rc;
}

/*
 * mdb_txn_begin for a store being opened (or followed), before any other
 * thread has its environment: a process may have grown its map since our
 * mdb_env_open() and committed beyond ours (MDB_MAP_RESIZED), which is
 * no reason to refuse to open; adopt its map, as resize() does, and
 * begin again.
 */
static int
begin_adopting(MDB_env *env, unsigned flags, MDB_txn **txn)
{
	uint64_t fs;
	int rc, fd, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED || tries == 10)
			return rc;
		fd = wmap_file_size(env, &fs);
		rc = mdb_env_set_mapsize(env, fs);
		if (fd >= 0)
			(void)flock(fd, LOCK_UN);
		if (rc != 0)
			return rc;
	}
}

/*
 * open_env's end for a reader (MDB_RDONLY): the databases' handles from
 * a read transaction, committed to keep them (aborted, they would go);
 * a database missing is a store not made by optgate.  Closes env on
 * failure.
 */
static int
open_databases(MDB_env *env, const char *dir, MDB_dbi *dbi, MDB_dbi *edbi,
    MDB_env **envp, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	int rc;

	if ((rc = begin_adopting(env, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "main", 0, dbi)) != 0 ||
	    (edbi && (rc = mdb_dbi_open(txn, "events", 0, edbi)) != 0)) {
		if (txn)
			mdb_txn_abort(txn);
		mdb_env_close(env);
		if (rc == MDB_NOTFOUND) {
			snprintf(err, errlen,
			    "%s: an LMDB file but not an optgate store; "
			    "nothing was changed",
			    dir);
			return OG_ECORRUPT;
		}
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		return map_err(rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		mdb_env_close(env);
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		return map_err(rc);
	}
	*envp = env;
	return 0;
}

/*
 * An environment whose making failed (a full disk) before LMDB wrote its
 * two meta pages: nobody can open that file, and the next optgate init
 * would call it damaged (or the next open move the counters aside as
 * broken), so remove it.  A file with both pages is left alone: another
 * process may have made it meanwhile.
 */
static void
drop_unmade(const char *file)
{
	struct stat sb;

	if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_size < 2 * (off_t)sysconf(_SC_PAGESIZE))
		(void)unlink(file);
}

/*
 * LMDB sizes a new lock.mdb with ftruncate(2), a file without blocks, and
 * writes it through its map: on a full disk that first write is a SIGBUS,
 * which stops a daemon with the words for a store cut under it.  Made
 * here first with its blocks (posix_fallocate) and linked in whole, a
 * full disk is an error like any other write's.  The size is at least
 * what LMDB asks for maxreaders (a reader slot is a 64-byte cache line,
 * its header three): LMDB takes a bigger file's extra room as more slots.
 * A filesystem without fallocate is left to LMDB, as before.  0 or an
 * OG_* code with err set.
 */
static int absent(const char *dir, const char *name);

static int
lock_reserve(const char *dir, int maxreaders, char *err, size_t errlen)
{
	static unsigned long made; /* names this process's own, per thread */
	char file[4200], tmp[4200];
	int fd, rc;

	if (!absent(dir, "lock.mdb"))
		return 0;
	snprintf(file, sizeof(file), "%s/lock.mdb", dir);
	snprintf(tmp, sizeof(tmp), "%s/.lock.mdb.%ld.%lu", dir, (long)getpid(),
	    __atomic_add_fetch(&made, 1, __ATOMIC_RELAXED));
	(void)unlink(tmp); /* a dead process's, whose pid this one has */
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0)
		return 0; /* LMDB says why it cannot make its own */
	rc = posix_fallocate(fd, 0, ((off_t)maxreaders + 3) * 64);
	(void)close(fd);
	/* whole or not at all: another opener may be making it too */
	if (rc == 0 && link(tmp, file) != 0 && errno != EEXIST)
		rc = errno;
	(void)unlink(tmp);
	if (rc == 0 || rc == EOPNOTSUPP || rc == EINVAL)
		return 0;
	return write_err(dir, "lock.mdb", rc, err, errlen);
}

/*
 * mdb_env_open under an flock of the environment's folder, held by one
 * opening process at a time.  The first process to open an environment
 * nobody has open takes lock.mdb exclusively and sets up its lock table:
 * mutexes, then the number of the last transaction, which LMDB 0.9.24
 * sets from the meta pages only at the end of mdb_env_open
 * (mdb_env_setup_locks, mdb_env_share_locks).  Killed in between, its
 * exclusive lock went, and a process waiting in its own mdb_env_open
 * for a shared one took the table as it was left, the number 0: its
 * first commit was based on the older meta page and written over the
 * newest, so its own acknowledged opt-out and the one before were gone
 * (store_open_killed.sh; tests/bench/crash.py's optout scenario lost one
 * in about 80 rounds, and so does LMDB alone).  Opened one at a time,
 * nobody waits in LMDB's lock while another sets it up: after a killed
 * opener the next finds lock.mdb unheld and sets it up itself.  A killed
 * holder's flock goes with its descriptor, and it is held for an open
 * only.  Not for MDB_NOLOCK, which has no lock table.
 */
static int
locked_env_open(MDB_env *env, const char *dir, unsigned flags)
{
	int fd = -1, rc;

	if (!(flags & MDB_NOLOCK) &&
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
			;
	rc = mdb_env_open(env, dir, flags, 0640);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
open_env(const char *dir, uint64_t max, int maxreaders, unsigned extra,
    int create, MDB_env **envp, MDB_dbi *dbi, MDB_dbi *edbi, char *err,
    size_t errlen)
{
	char file[4096];
	struct stat sb;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	uint64_t size = INITIAL_MAP, seen = 0;
	int rc, lk = -1, making;

	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	rc = precheck_file(file, err, errlen);
	making = rc == OG_NOTFOUND;
	if (rc == OG_NOTFOUND && !create) {
		snprintf(err, errlen,
		    "%s: no optgate store here (run optgate "
		    "init)",
		    dir);
		return OG_ENOSTORE;
	}
	if (rc != 0 && rc != OG_NOTFOUND)
		return rc;
	if (rc == OG_NOTFOUND && mkdir(dir, 0750) != 0 && errno != EEXIST) {
		snprintf(
		    err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		return OG_EIO;
	}
	/*
	 * Until mdb_env_open() has set the file to the map (see wmap_lock).
	 * A file not there is nobody's map: the counters are made under the
	 * store folder's flock, the consent by init.
	 */
	if ((extra & MDB_WRITEMAP) &&
	    (lk = open(file, O_RDONLY | O_CLOEXEC)) >= 0)
		wmap_lock(lk);
	if (stat(file, &sb) != 0)
		sb.st_size = 0;
	if ((uint64_t)sb.st_size > size)
		size = (uint64_t)sb.st_size;
	if (size > max / 4 && size == INITIAL_MAP)
		size = max / 4 > (1 << 20) ? max / 4 : (1 << 20);
	if (size > max)
		size = max;
	/*
	 * Never a map smaller than the file (grown by another process, or
	 * a ceiling lowered since): with MDB_WRITEMAP, LMDB would cut the
	 * file to it under the other processes' writable maps, and their
	 * next write there is a SIGBUS.  The ceiling still stops growth.
	 */
	if (size < (uint64_t)sb.st_size)
		size = (uint64_t)sb.st_size;
	if ((extra & MDB_RDONLY) &&
	    (rc = read_lock_mode(dir, &extra, err, errlen)) != 0)
		return rc;
	if (!(extra & MDB_NOLOCK) &&
	    (rc = lock_reserve(dir, maxreaders, err, errlen)) != 0) {
		if (lk >= 0)
			close(lk);
		if (making)
			drop_unmade(file);
		return rc;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, (unsigned)maxreaders)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, size)) != 0)
		goto fail;
	rc = locked_env_open(env, dir, MDB_NOTLS | extra);
	if (lk >= 0)
		close(lk);
	lk = -1;
	if (rc != 0)
		goto fail;
	{
		int dead = 0;

		mdb_reader_check(env, &dead);
		if (dead)
			og_log_warn(
			    "%s: cleared %d stale reader slots", dir, dead);
	}
	if (extra & MDB_RDONLY)
		return open_databases(env, dir, dbi, edbi, envp, err, errlen);
	/*
	 * Writes only when it makes the databases (a new store).  A damaged
	 * page fails mdb_dbi_open: the transaction is aborted (fail), for
	 * left open it keeps LMDB's writer lock, which mdb_env_close unmaps
	 * held, so our exit never frees it and every later writer of the
	 * store (every command's open) hangs.
	 */
	if ((rc = begin_adopting(env, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "main", MDB_CREATE, dbi)) != 0 ||
	    (edbi && (rc = mdb_dbi_open(txn, "events", MDB_CREATE, edbi)) != 0))
		goto fail;
	rc = commit_uncut(env, txn, &seen);
	txn = NULL; /* committed, or freed by the failed commit */
	if (rc != 0)
		goto fail;
	*envp = env;
	return 0;
fail:
	if (lk >= 0)
		close(lk);
	if (txn)
		mdb_txn_abort(txn);
	if (rc == EACCES || rc == EROFS) {
		/* which user, for the admin who gives the permission */
		char user[128];

		who(user, sizeof(user));
		snprintf(
		    err, errlen, "%s: %s (%s)", dir, mdb_strerror(rc), user);
		rc = OG_EACCES;
	} else
		rc = write_err(dir, NULL, rc, err, errlen);
	if (env)
		mdb_env_close(env);
	if (making)
		drop_unmade(file);
	return rc;
}

static int
meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, void *out, size_t n)
{
	unsigned char kb[64];
	MDB_val k, v;
	int rc;

	k.mv_size = mkkey(kb, 'M', name, NULL);
	k.mv_data = kb;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return map_err(rc);
	if (v.mv_size != n)
		return OG_ECORRUPT;
	memcpy(out, v.mv_data, n);
	return 0;
}

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *val, size_t n)
{
	unsigned char kb[64];
	MDB_val k, v;

	k.mv_size = mkkey(kb, 'M', name, NULL);
	k.mv_data = kb;
	v.mv_size = n;
	v.mv_data = (void *)val;
	return mdb_put(txn, dbi, &k, &v, 0);
}

static uint32_t
host_origin(void)
{
	char host[256] = "localhost";
	unsigned char md[32];
	unsigned int mdlen = 0;

	gethostname(host, sizeof(host) - 1);
	EVP_Digest(host, strlen(host), md, &mdlen, EVP_sha256(), NULL);
	return og_get_be32(md) | 1; /* never 0: 0 means "this host" */
}

static int address_put(MDB_txn *txn, MDB_dbi dbi, const char *text);

static int
init_meta(
    og_store *st, int create, const char *address, char *err, size_t errlen)
{
	MDB_txn *txn;
	unsigned char b[8];
	uint32_t schema;
	int rc;

	/* a reader's environment has no write transaction */
	if ((rc = begin_adopting(st->cenv,
	         (st->flags & OG_STORE_READ) ? MDB_RDONLY : 0, &txn)) != 0)
		return map_err(rc);
	rc = meta_get(txn, st->cdbi, "schema", b, 4);
	if (rc == OG_NOTFOUND) {
		MDB_stat ms;

		mdb_stat(txn, st->cdbi, &ms);
		if (!create || ms.ms_entries != 0) {
			mdb_txn_abort(txn);
			snprintf(err, errlen,
			    "%s: an LMDB file but not an "
			    "optgate store; nothing was changed",
			    st->path);
			return OG_ECORRUPT;
		}
		og_put_be32(b, OG_SCHEMA_VERSION);
		if ((rc = meta_put(txn, st->cdbi, "schema", b, 4)) != 0)
			goto fail;
		og_put_be64(b, 1);
		if ((rc = meta_put(txn, st->cdbi, "seq", b, 8)) != 0)
			goto fail;
		og_put_be64(b, 0);
		if ((rc = meta_put(txn, st->cdbi, "records", b, 8)) != 0)
			goto fail;
		og_put_be32(b, host_origin());
		if ((rc = meta_put(txn, st->cdbi, "origin", b, 4)) != 0)
			goto fail;
		og_put_be64(b, (uint64_t)time(NULL));
		if ((rc = meta_put(txn, st->cdbi, "created", b, 8)) != 0)
			goto fail;
		if (RAND_bytes(st->secret, sizeof(st->secret)) != 1) {
			mdb_txn_abort(txn);
			snprintf(err, errlen,
			    "no randomness for the store "
			    "secret");
			return OG_EIO;
		}
		if ((rc = meta_put(txn, st->cdbi, "secret", st->secret, 32)) !=
		    0)
			goto fail;
		if (address != NULL &&
		    (rc = address_put(txn, st->cdbi, address)) != 0)
			goto fail;
		if ((rc = commit_uncut(st->cenv, txn, &st->cfile)) != 0)
			return write_err(st->path, NULL, rc, err, errlen);
		if ((rc = begin_adopting(st->cenv, MDB_RDONLY, &txn)) != 0)
			return map_err(rc);
	} else if (rc != 0) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "%s: meta record damaged: %s", st->path,
		    og_strerror(rc));
		return OG_ECORRUPT;
	}
	meta_get(txn, st->cdbi, "schema", b, 4);
	schema = og_get_be32(b);
	if (schema > OG_SCHEMA_VERSION || schema == 0) {
		mdb_txn_abort(txn);
		snprintf(err, errlen,
		    "%s: store schema %u is newer than this "
		    "optgate understands (%u): upgrade optgate",
		    st->path, schema, OG_SCHEMA_VERSION);
		return OG_EVERSION;
	}
	if (meta_get(txn, st->cdbi, "secret", st->secret, 32) != 0 ||
	    meta_get(txn, st->cdbi, "origin", b, 4) != 0) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "%s: meta record damaged", st->path);
		return OG_ECORRUPT;
	}
	st->origin = og_get_be32(b);
	mdb_txn_abort(txn);
	return 0;
fail:
	mdb_txn_abort(txn);
	return write_err(st->path, NULL, rc, err, errlen);
}

/*
 * The [address] settings the store's match keys were made with: meta
 * "address", v1 | og_config's address_keys text ("gmail_dots = yes\n
 * local_part = insensitive\nplus_tags = a, b\n").  An optgate that does
 * not know it never reads it.
 */
#define ADDRESS_V1 1

static int
address_put(MDB_txn *txn, MDB_dbi dbi, const char *text)
{
	size_t n = strlen(text);
	unsigned char *b = og_xmalloc(n + 1);
	int rc;

	b[0] = ADDRESS_V1;
	memcpy(b + 1, text, n);
	rc = meta_put(txn, dbi, "address", b, n + 1);
	free(b);
	return rc;
}

/* 0 and *out (malloc'd), OG_NOTFOUND, OG_EVERSION, OG_ECORRUPT. */
static int
address_get(MDB_txn *txn, MDB_dbi dbi, char **out)
{
	unsigned char kb[64];
	MDB_val k, v;
	int rc;

	k.mv_size = mkkey(kb, 'M', "address", NULL);
	k.mv_data = kb;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return map_err(rc);
	if (v.mv_size < 1)
		return OG_ECORRUPT;
	if (((const unsigned char *)v.mv_data)[0] != ADDRESS_V1)
		return OG_EVERSION;
	*out = og_xstrndup((const char *)v.mv_data + 1, v.mv_size - 1);
	return 0;
}

/* The value of line "name = value" in text, and its length; or NULL. */
static const char *
address_value(const char *text, const char *name, size_t nlen, size_t *len)
{
	const char *p = text, *e;

	while (*p) {
		e = strchrnul(p, '\n');
		if ((size_t)(e - p) >= nlen + 2 && memcmp(p, name, nlen) == 0 &&
		    p[nlen] == ' ' && p[nlen + 1] == '=') {
			p += nlen + 2;
			if (*p == ' ')
				p++;
			*len = (size_t)(e - p);
			return p;
		}
		p = *e ? e + 1 : e;
	}
	return NULL;
}

/* Is item (n bytes) one of list's ", "-separated items? */
static int
address_listed(const char *list, size_t llen, const char *item, size_t n)
{
	const char *p = list, *end = list + llen, *e;

	while (p < end) {
		for (e = p; e < end && *e != ','; e++)
			;
		if ((size_t)(e - p) == n && memcmp(p, item, n) == 0)
			return 1;
		p = e < end ? e + 2 : end;
	}
	return 0;
}

/* The items of list a that b lacks, after what, to out; how many. */
static int
address_missing(og_buf *out, const char *what, const char *a, size_t alen,
    const char *b, size_t blen)
{
	const char *p = a, *end = a + alen, *e;
	int n = 0;

	while (p < end) {
		for (e = p; e < end && *e != ','; e++)
			;
		if (e > p && !address_listed(b, blen, p, (size_t)(e - p)))
			og_buf_printf(
			    out, "%s%.*s", n++ ? ", " : what, (int)(e - p), p);
		p = e < end ? e + 2 : end;
	}
	return n;
}

/*
 * The admin's sentence for a store made with [address] settings have
 * whose config says want: which settings differ, and the two ways out.
 */
static void
address_mismatch(const char *path, const char *have, const char *want,
    char *err, size_t errlen)
{
	og_buf b;
	const char *p, *e, *hv, *wv;
	size_t nlen, hl, wl;
	int n = 0;

	og_buf_init(&b, 0);
	og_buf_printf(&b,
	    "%s: the [address] settings differ from those the store was "
	    "made with (",
	    path);
	/* every setting of either text, once */
	for (int pass = 0; pass < 2; pass++) {
		for (p = pass ? want : have; *p; p = *e ? e + 1 : e) {
			e = strchrnul(p, '\n');
			for (nlen = 0; p + nlen < e && p[nlen] != ' '; nlen++)
				;
			if (nlen == 0)
				continue;
			hv = address_value(have, p, nlen, &hl);
			wv = address_value(want, p, nlen, &wl);
			if (pass && hv != NULL)
				continue; /* said in the first pass */
			if (hv != NULL && wv != NULL && hl == wl &&
			    memcmp(hv, wv, hl) == 0)
				continue;
			og_buf_printf(
			    &b, "%s%.*s: ", n++ ? "; " : "", (int)nlen, p);
			if (hv != NULL && wv != NULL && nlen == 9 &&
			    memcmp(p, "plus_tags", 9) == 0) {
				int added = address_missing(
				    &b, "added ", wv, wl, hv, hl);

				address_missing(&b,
				    added ? ", removed " : "removed ", hv, hl,
				    wv, wl);
				continue;
			}
			og_buf_printf(&b, "store %.*s, config %.*s",
			    hv ? (int)hl : 4, hv ? hv : "none",
			    wv ? (int)wl : 4, wv ? wv : "none");
		}
	}
	og_buf_adds(&b, "): its records would not be found (who unsubscribed "
	                "would get mail). Put [address] back as it was: ");
	for (p = have; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, '\n');
		og_buf_printf(
		    &b, "%.*s%s", (int)(e - p), p, *e && e[1] ? "; " : "");
	}
	og_buf_adds(&b, "; or move the store to the new settings: optgate "
	                "export, init, import (hashed lists and erasures "
	                "cannot move)");
	og_strlcpy(err, b.data, errlen);
	og_buf_free(&b);
}

/*
 * Compare want with the store's [address] text in txn.  When the store
 * has none (made by an earlier optgate): with write set, txn (a write
 * transaction) records want; else OG_NOTFOUND.  0, OG_EADDRESS, or an
 * error; err says it.
 */
static int
address_match(og_store *st, MDB_txn *txn, const char *want, int write,
    char *err, size_t errlen)
{
	char *have = NULL;
	int rc;

	rc = address_get(txn, st->cdbi, &have);
	if (rc == OG_NOTFOUND) {
		if (!write)
			return rc;
		if ((rc = map_err(address_put(txn, st->cdbi, want))) != 0)
			snprintf(err, errlen,
			    "%s: recording the [address] "
			    "settings: %s",
			    st->path, og_strerror(rc));
		return rc;
	}
	if (rc == OG_EVERSION) {
		snprintf(err, errlen,
		    "%s: the store records its [address] settings in a form "
		    "newer than this optgate understands: upgrade optgate",
		    st->path);
		return rc;
	}
	if (rc != 0) {
		snprintf(err, errlen,
		    "%s: meta record damaged: [address] "
		    "settings: %s",
		    st->path, og_strerror(rc));
		return rc;
	}
	rc = strcmp(have, want) == 0 ? 0 : OG_EADDRESS;
	if (rc != 0)
		address_mismatch(st->path, have, want, err, errlen);
	free(have);
	return rc;
}

/* At open: compare, and record want in a store that has none yet. */
static int
address_open(og_store *st, const char *want, char *err, size_t errlen)
{
	int write = !(st->flags & (OG_STORE_RDONLY | OG_STORE_CHECK));
	MDB_txn *txn;
	int rc;

	/* a read first: the writer's lock only for a store without them */
	if ((rc = begin_adopting(st->cenv, MDB_RDONLY, &txn)) == 0) {
		rc = address_match(st, txn, want, 0, err, errlen);
		mdb_txn_abort(txn);
		if (rc != OG_NOTFOUND)
			return rc;
		if (!write)
			return 0;
		rc = begin_adopting(st->cenv, 0, &txn);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", st->path, mdb_strerror(rc));
		return map_err(rc);
	}
	/* another process may have recorded its own meanwhile */
	if ((rc = address_match(st, txn, want, 1, err, errlen)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = commit_uncut(st->cenv, txn, &st->cfile)) != 0)
		return write_err(st->path, "recording the [address] settings",
		    rc, err, errlen);
	return 0;
}

int
og_store_address_check(og_store *st, const char *want, char *err, size_t errlen)
{
	og_rtxn *tx;
	int rc;

	if (err && errlen)
		*err = 0;
	if ((rc = og_store_rbegin(st, &tx)) != 0) {
		snprintf(err, errlen, "%s: %s", st->path, og_strerror(rc));
		return rc;
	}
	rc = address_match(st, tx->c, want, 0, err, errlen);
	og_store_rend(tx);
	return rc == OG_NOTFOUND ? 0 : rc;
}

/*
 * A thread that ends gives its handle back: with MDB_NOTLS a reset read
 * transaction keeps its reader slot, so daemons that run a thread per
 * connection (libmilter) would otherwise fill the reader table
 * (MDB_READERS_FULL after max_readers connections) and leak the handles.
 */
static void
tkey_free(void *p)
{
	struct og_rtxn *tx = p, **pp;
	og_store *st = tx->st;

	pthread_mutex_lock(&st->reglock);
	for (pp = &st->reg; *pp != NULL; pp = &(*pp)->next)
		if (*pp == tx) {
			*pp = tx->next;
			break;
		}
	pthread_mutex_unlock(&st->reglock);
	if (tx->c)
		mdb_txn_abort(tx->c);
	if (tx->k)
		mdb_txn_abort(tx->k);
	pthread_mutex_destroy(&tx->lk);
	free(tx);
}

int
og_sync_path(const char *path)
{
	int fd, rc, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int
og_sync_parent(const char *path)
{
	char dir[4200], *slash;

	og_strlcpy(dir, path, sizeof(dir));
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir &&
	       slash[1] == '\0')
		*slash = '\0';
	if ((slash = strrchr(dir, '/')) == NULL)
		return og_sync_path(".");
	if (slash == dir) /* "/store": the root folder */
		slash[1] = '\0';
	else
		*slash = '\0';
	return og_sync_path(dir);
}

/*
 * fsync the store's folders and the folder the store is in: 0, or OG_EIO
 * with err filled.
 */
static int
sync_names(og_store *st, char *err, size_t errlen)
{
	static const char *const sub[] = {"/consent", "/counters", ""};
	char dir[4200];

	for (size_t i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s%s", st->path, sub[i]);
		if (og_sync_path(dir) != 0)
			goto fail;
	}
	if (og_sync_parent(st->path) == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/..", st->path);
fail:
	snprintf(err, errlen, "%s: sync: %s", dir, strerror(errno));
	return OG_EIO;
}

int
og_store_give(const char *path, uid_t uid, gid_t gid)
{
	struct stat sb;
	int fd, rc = 0, e;

	/* O_NONBLOCK: a FIFO put there must not hang the open */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		rc = errno == ENOENT  ? OG_NOTFOUND
		     : errno == ELOOP ? OG_EINVAL
		                      : OG_EIO;
	else if (fstat(fd, &sb) != 0)
		rc = OG_EIO;
	else if (!S_ISDIR(sb.st_mode) &&
	         (!S_ISREG(sb.st_mode) || sb.st_nlink > 1))
		rc = OG_EINVAL;
	else if (fchown(fd, uid, gid) != 0)
		rc = OG_EIO;
	e = errno;
	if (fd >= 0)
		close(fd);
	if (rc == OG_EINVAL)
		og_log_warn("%s: not given to the store's owner (uid %u): a "
		            "link, or not a file of its own",
		    path, (unsigned)uid);
	else if (rc == OG_EIO)
		og_log_warn("%s: cannot give it to the store's owner (uid "
		            "%u): %s",
		    path, (unsigned)uid, strerror(e));
	errno = e;
	return rc;
}

/*
 * Give an environment folder whose files this process made (a counters
 * folder rebuilt, a lock file LMDB created, a backup) to the store
 * folder's owner: root (an admin's command after a crash, a restore or a
 * verify) making them in a store the daemons own would otherwise lock
 * the daemons and the pipe transports out of the whole store.  A file
 * that is not there (no lock file in a backup) is skipped.
 */
static void
give_to_owner(const char *dir, const struct stat *owner)
{
	static const char *const names[] = {"", "/data.mdb", "/lock.mdb"};
	char p[4200];
	size_t i;

	if (geteuid() != 0 || (owner->st_uid == 0 && owner->st_gid == 0))
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dir, names[i]);
		(void)og_store_give(p, owner->st_uid, owner->st_gid);
	}
}

/*
 * Counters made again (an admin's rm -rf to reset the caps, damaged ones
 * moved aside) take the consent environment's modes and groups, folder
 * and file by file.  They were made under the maker's umask: the
 * milter's is 077, so a support group given read access to the store
 * (README, "Read-only access", with group write on the lock files) lost
 * the counters, and with them status, at the first reset.
 */
static void
like_consent(const char *path, const char *dir)
{
	static const char *const names[] = {"", "/data.mdb", "/lock.mdb"};
	char ref[4200], p[4200];
	struct stat sb;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(ref, sizeof(ref), "%s/consent%s", path, names[i]);
		snprintf(p, sizeof(p), "%s%s", dir, names[i]);
		if (stat(ref, &sb) != 0)
			continue;
		/* the group first (chown(2) may clear a set-group-ID bit);
		 * one that is not this process's to give is left as made */
		if (chown(p, (uid_t)-1, sb.st_gid) == 0 || errno == EPERM)
			(void)chmod(p, sb.st_mode & 07777);
	}
}

/* The device and inode of DIR/data.mdb and DIR/lock.mdb (0 if none). */
static void
file_ids(const char *dir, dev_t dev[2], ino_t ino[2])
{
	static const char *const names[2] = {"data.mdb", "lock.mdb"};
	char file[4200];
	struct stat fs;
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, names[i]);
		if (stat(file, &fs) != 0)
			fs.st_dev = 0, fs.st_ino = 0;
		dev[i] = fs.st_dev;
		ino[i] = fs.st_ino;
	}
}

/* Does DIR/NAME not exist (so that opening the environment makes it)? */
static int
absent(const char *dir, const char *name)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) != 0 && errno == ENOENT;
}

/*
 * A store or backup checked as it is (verify PATH) has both data files:
 * a backup cut short (Ctrl-C, kill -9) may lack one, which opening would
 * make empty, and the copy would then pass for a whole one.
 */
static int
check_whole(const char *dir, char *err, size_t errlen)
{
	if (!absent(dir, "data.mdb"))
		return 0;
	snprintf(err, errlen,
	    "%s/data.mdb: missing: not a whole store (an interrupted "
	    "backup?); nothing was changed",
	    dir);
	return OG_ENOSTORE;
}

/* May this process keep the counters in dir: write, rebuild, mark? */
static int
counters_writable(const char *dir)
{
	static const char *const names[] = {"", "/data.mdb", "/lock.mdb"};
	char p[4200], why[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dir, names[i]);
		if (access(p, F_OK) == 0 && !may_write(p, why, sizeof(why)))
			return 0;
	}
	return 1;
}

/*
 * Open PATH/counters into *envp, *dbi (og_store_open, and
 * og_store_counters_check for counters removed or replaced under a
 * running process).  Processes starting together (the daemons at boot)
 * check and rebuild the counters one at a time: the second then finds
 * them in use, rather than moving aside those the first just made.  The
 * counters are written without sync: after a power cut (the first open
 * since, when no process has them open and none walked them in this
 * boot), their pages are walked, which LMDB itself does not do; damaged
 * ones are moved aside and rebuilt empty (not with check: verify of a
 * copy walks every time, and marks nothing; nor by a reader that may not
 * write them, OG_STORE_READ: it opens them read-only and makes nothing
 * but, where it may, the lock file LMDB makes).  *made: the files were
 * made here.  Records which files were opened (st->kdev, st->kino).
 */
static int
counters_open(og_store *st, const struct stat *owner, int check, MDB_env **envp,
    MDB_dbi *dbi, int *made, char *err, size_t errlen)
{
	char dir[4096], file[4200];
	int read = (st->flags & OG_STORE_READ) != 0;
	int rc, lk, walked, nolock;

	snprintf(dir, sizeof(dir), "%s/counters", st->path);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	/*
	 * Soft state: a reader that may write them (root, the store's
	 * owner) keeps them as any first open does (walks them after a
	 * crash, rebuilds damaged ones, marks them walked); one that may
	 * not (may only read the store, a read-only mount or copy) opens
	 * them read-only, and damaged ones are an error.
	 */
	if (read && counters_writable(dir))
		read = 0;
	if ((check || read) && (rc = check_whole(dir, err, errlen)) != 0)
		return rc;
	if ((lk = open(st->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		(void)flock(lk, LOCK_EX);
	nolock = absent(dir, "lock.mdb");
	*made = access(file, F_OK) != 0 || nolock;
	walked = env_unused(dir) && (check || !walked_this_boot(dir));
	rc = walked ? tree_check(file, err, errlen) : 0;
	if (read && rc == 0)
		/* made or moved aside only by a process that may write */
		rc = open_env(dir, st->kmax, st->maxr, MDB_NOSYNC | MDB_RDONLY,
		    0, envp, dbi, NULL, err, errlen);
	else if (rc == 0 || rc == OG_NOTFOUND)
		rc = open_env(dir, st->kmax, st->maxr, MDB_NOSYNC, 1, envp, dbi,
		    NULL, err, errlen);
	if (!check && !read && (rc == OG_ECORRUPT || rc == OG_ESTORE)) {
		/* Soft state: rebuild empty rather than refuse to run. */
		char aside[4200];

		snprintf(aside, sizeof(aside), "%s.broken-%lld", dir,
		    (long long)time(NULL));
		og_log_warn("%s; counters moved to %s and rebuilt empty "
		            "(frequency caps restart from zero)",
		    err, aside);
		if (rename(dir, aside) != 0) {
			snprintf(err, errlen, "%s: cannot move aside: %s", dir,
			    strerror(errno));
			rc = OG_EIO;
		} else {
			rc = open_env(dir, st->kmax, st->maxr, MDB_NOSYNC, 1,
			    envp, dbi, NULL, err, errlen);
			*made = 1;
		}
	}
	if (rc == 0 && !check && !read && (walked || *made))
		mark_walked(dir, owner);
	/* a reader made at most the lock file LMDB makes for its slot */
	if (read)
		*made = rc == 0 && nolock && !absent(dir, "lock.mdb");
	/* the files LMDB has open now, while no other opener moves them */
	if (rc == 0)
		file_ids(dir, st->kdev, st->kino);
	if (lk >= 0)
		close(lk);
	if (rc == 0 && *made) {
		give_to_owner(dir, owner);
		like_consent(st->path, dir);
	}
	return rc;
}

void
og_store_opts_config(og_store_opts *o, const og_config *cfg, unsigned flags)
{
	memset(o, 0, sizeof(*o));
	o->map_size = cfg->map_size;
	o->counter_map_size = cfg->counter_map_size;
	/* the first process to open a store sizes its reader table for
	 * everyone until the last one closes it */
	o->max_readers = cfg->max_readers;
	o->flags = flags;
	o->address_keys = cfg->address_keys;
}

static void nolock_mark(og_store *st);

int
og_store_open(const char *path, const og_store_opts *opts, og_store **out,
    char *err, size_t errlen)
{
	og_store *st;
	char dir[4096], file[4200];
	struct stat sb;
	int made;
	int create = opts && (opts->flags & OG_STORE_CREATE);
	int bulk = opts && (opts->flags & OG_STORE_BULK);
	unsigned wmap = bulk ? MDB_WRITEMAP : 0;
	int check = opts && (opts->flags & OG_STORE_CHECK);
	int read = opts && (opts->flags & OG_STORE_READ);
	int maxr = opts && opts->max_readers ? opts->max_readers : 512;
	int rc;

	*out = NULL;
	if (err && errlen)
		*err = 0;
	if (stat(path, &sb) != 0) {
		if (!create || mkdir(path, 0750) != 0) {
			int e = errno;

			/* init is the cure for a missing live store, not
			 * for a backup path that verify was given */
			snprintf(err, errlen, "%s: %s%s", path, strerror(e),
			    !create && !check && e == ENOENT
			        ? " (run optgate init)"
			        : "");
			return e == ENOENT ? OG_ENOSTORE : OG_EIO;
		}
		sb.st_uid = geteuid();
		sb.st_gid = getegid();
	}
	st = og_xcalloc(1, sizeof(*st));
	st->path = og_xstrdup(path);
	st->flags = opts ? opts->flags : 0;
	if (read) /* and the writes that check RDONLY refuse */
		st->flags = (st->flags | OG_STORE_RDONLY) & ~OG_STORE_CREATE;
	st->cmax = opts && opts->map_size ? opts->map_size : 4ULL << 30;
	st->kmax = opts && opts->counter_map_size ? opts->counter_map_size
	                                          : 1ULL << 30;
	st->maxr = maxr;
	pthread_mutex_init(&st->wlock, NULL);
	pthread_mutex_init(&st->reglock, NULL);
	pthread_key_create(&st->tkey, tkey_free);

	snprintf(dir, sizeof(dir), "%s/consent", path);
	if (check && (rc = check_whole(dir, err, errlen)) != 0)
		goto fail;
	/* a restored backup has no lock file: the first to open makes it */
	made = absent(dir, "lock.mdb");
	/*
	 * verify says which page is damaged where LMDB would abort; not of
	 * an environment in use, whose writers change pages under the walk
	 */
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (check && env_unused(dir) &&
	    (rc = tree_check(file, err, errlen)) == OG_ECORRUPT)
		goto fail;
	rc = open_env(dir, st->cmax, maxr, read ? MDB_RDONLY : wmap,
	    create && !read, &st->cenv, &st->cdbi, &st->edbi, err, errlen);
	if (rc != 0)
		goto fail;
	st->cflags = read ? 0 : wmap;
	file_ids(dir, st->cdev, st->cino);
	/* a reader without the lock made none */
	if (made && !absent(dir, "lock.mdb"))
		give_to_owner(dir, &sb);
	if ((rc = init_meta(st, create, opts ? opts->address_keys : NULL, err,
	         errlen)) != 0)
		goto fail;
	/* init on a store already there compares too */
	if (opts && opts->address_keys &&
	    (rc = address_open(st, opts->address_keys, err, errlen)) != 0)
		goto fail;

	rc = counters_open(
	    st, &sb, check, &st->kenv, &st->kdbi, &made, err, errlen);
	if (rc != 0)
		goto fail;
	nolock_mark(st);
	/*
	 * LMDB syncs data.mdb, never the names leading to it: a store made
	 * here (init) or counters moved aside and made again are on disk
	 * only once their folders are, or a power cut can take the folder
	 * with the opt-outs acknowledged since.
	 */
	if (create && (rc = sync_names(st, err, errlen)) != 0)
		goto fail;
	/* counters made again: soft state, at worst rebuilt again */
	if (!create && made && sync_names(st, err, errlen) != 0 && errlen)
		*err = 0;
	*out = st;
	return 0;
fail:
	og_store_close(st);
	return rc;
}

/*
 * For og_store_read_check: which environments a reader opened without
 * LMDB's lock, and the last transaction committed there when it did.
 */
static void
nolock_mark(og_store *st)
{
	MDB_env *env[2] = {st->cenv, st->kenv};
	MDB_envinfo info;
	unsigned f;
	int i;

	for (i = 0; i < 2; i++) {
		st->nolock[i] = mdb_env_get_flags(env[i], &f) == 0 &&
		                (f & MDB_NOLOCK) &&
		                mdb_env_info(env[i], &info) == 0;
		st->nolock_txn[i] = st->nolock[i] ? info.me_last_txnid : 0;
	}
}

int
og_store_read_check(og_store *st, char *err, size_t errlen)
{
	static const char *const names[2] = {"consent", "counters"};
	MDB_env *env[2] = {st->cenv, st->kenv};
	MDB_envinfo info;
	int i;

	if (err && errlen)
		*err = 0;
	for (i = 0; i < 2; i++) {
		/* the meta pages, read from the map: current */
		if (!st->nolock[i] || mdb_env_info(env[i], &info) != 0 ||
		    info.me_last_txnid <= st->nolock_txn[i] + 1)
			continue;
		snprintf(err, errlen,
		    "%s/%s: written %llu times while read without "
		    "lock.mdb (a daemon or command started meanwhile): what "
		    "was read may be wrong; run the command again",
		    st->path, names[i],
		    (unsigned long long)(info.me_last_txnid -
		                         st->nolock_txn[i]));
		return OG_ESTORE;
	}
	return 0;
}

int
og_store_writable(const char *path, char *err, size_t errlen)
{
	static const char *const envs[] = {"consent", "counters"};
	char dir[4096], file[4200], why[128], user[128];
	struct passwd *pw;
	struct stat sb;
	size_t i;
	int e;

	if (err && errlen)
		*err = 0;
	for (i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", path, envs[i]);
		snprintf(file, sizeof(file), "%s/data.mdb", dir);
		if (!absent(dir, "data.mdb") &&
		    !may_write(file, why, sizeof(why)))
			goto no;
		/* what LMDB writes: lock.mdb, or the folder it makes it in */
		snprintf(file, sizeof(file), "%s/lock.mdb", dir);
		if (absent(dir, "lock.mdb"))
			snprintf(file, sizeof(file), "%s", dir);
		if (access(file, F_OK) == 0 &&
		    !may_write(file, why, sizeof(why)))
			goto no;
	}
	return 0;
no:
	e = errno;
	who(user, sizeof(user));
	/* the way out depends on what is missing */
	if (e == EROFS)
		snprintf(err, errlen, "%s: not writable (%s)", file, why);
	else if (e == 0)
		snprintf(err, errlen,
		    "%s: %s; make it writable first (chmod -R u+w %s) if it "
		    "is to be changed",
		    file, why, path);
	else if (stat(path, &sb) == 0 && (pw = getpwuid(sb.st_uid)) != NULL)
		snprintf(err, errlen,
		    "%s: not writable by %s (%s; the store belongs to user "
		    "%s)",
		    file, user, why, pw->pw_name);
	else
		snprintf(err, errlen, "%s: not writable by %s (%s)", file, user,
		    why);
	return OG_EACCES;
}

void
og_store_close(og_store *st)
{
	struct og_rtxn *tx, *next;

	if (st == NULL)
		return;
	for (tx = st->reg; tx; tx = next) {
		next = tx->next;
		if (tx->c)
			mdb_txn_abort(tx->c);
		if (tx->k)
			mdb_txn_abort(tx->k);
		pthread_mutex_destroy(&tx->lk);
		free(tx);
	}
	if (st->kenv) {
		mdb_env_sync(st->kenv, 1);
		mdb_env_close(st->kenv);
	}
	if (st->cenv)
		mdb_env_close(st->cenv);
	pthread_key_delete(st->tkey);
	pthread_mutex_destroy(&st->wlock);
	pthread_mutex_destroy(&st->reglock);
	OPENSSL_cleanse(st->secret, sizeof(st->secret));
	free(st->path);
	free(st);
}

/* Under this thread's lock: og_store_counters_check may replace kenv. */
int
og_store_sync_counters(og_store *st)
{
	int rc;

	rd_lock(st);
	rc = map_err(mdb_env_sync(st->kenv, 1));
	rd_unlock(st);
	return rc;
}

int
og_store_reader_check(og_store *st)
{
	int a = 0, b = 0;

	rd_lock(st);
	mdb_reader_check(st->cenv, &a);
	mdb_reader_check(st->kenv, &b);
	rd_unlock(st);
	return a + b;
}

/*
 * Counters removed or replaced under a running process (rm -rf of
 * counters/, a restore, counters moved aside): LMDB keeps the file it
 * opened, so this process went on counting where no process opened since
 * looks, and two processes kept caps apart.  Called by the daemons on
 * their counters timer (two stat(2)s): when counters/ holds other files
 * than the ones open here, open those (made empty when missing, walked
 * when nobody has them open, as at a start), switch every thread to them
 * between its transactions, and close the old ones.  data.mdb replaced
 * under the same lock.mdb (only data.mdb removed) cannot be followed: a
 * process must not have one lock file open twice (closing either drops
 * its locks), so that is said once, for a restart.  1 when switched, 0
 * when nothing changed, else an OG_* code (the old counters stay).
 */
int
og_store_counters_check(og_store *st)
{
	char dir[4096], err[512];
	struct og_rtxn *tx;
	struct stat owner;
	MDB_env *env = NULL, *old;
	MDB_txn *t;
	MDB_stat ms;
	MDB_dbi dbi;
	dev_t dev[2];
	ino_t ino[2];
	int same[2], i, rc, made, fresh;

	snprintf(dir, sizeof(dir), "%s/counters", st->path);
	file_ids(dir, dev, ino);
	for (i = 0; i < 2; i++)
		same[i] = dev[i] != 0 && dev[i] == st->kdev[i] &&
		          ino[i] == st->kino[i];
	if (same[0] && same[1]) {
		st->kstuck = 0;
		return 0;
	}
	if (same[1]) {
		if (!st->kstuck)
			og_log_warn("%s/counters/data.mdb was removed or "
			            "replaced, its lock.mdb kept: this process "
			            "still counts in the old file; remove the "
			            "whole counters folder, or restart the "
			            "daemons",
			    st->path);
		st->kstuck = 1;
		return OG_ESTORE;
	}
	if (stat(st->path, &owner) != 0) {
		og_log_warn("%s: %s", st->path, strerror(errno));
		return OG_EIO;
	}
	err[0] = 0;
	rc = counters_open(st, &owner, 0, &env, &dbi, &made, err, sizeof(err));
	if (rc != 0) {
		if (!st->kstuck)
			og_log_warn(
			    "%s/counters were removed or replaced: "
			    "cannot open the new ones: %s; still "
			    "counting in the old ones (tried again every "
			    "flush)",
			    st->path, err[0] ? err : og_strerror(rc));
		st->kstuck = 1;
		return rc;
	}
	if (made && sync_names(st, err, sizeof(err)) != 0)
		err[0] = 0;
	/* removed: made empty here, or by a process that followed first */
	fresh = 0;
	if (begin_adopting(env, MDB_RDONLY, &t) == 0) {
		fresh = mdb_stat(t, dbi, &ms) == 0 && ms.ms_entries == 0;
		mdb_txn_abort(t);
	}
	/* every thread between transactions: then none has the old env */
	threads_stop(st);
	for (tx = st->reg; tx; tx = tx->next)
		if (tx->k) {
			mdb_txn_abort(tx->k);
			tx->k = NULL;
		}
	old = st->kenv;
	st->kenv = env;
	st->kdbi = dbi;
	st->kdamaged = 0;
	st->kstuck = 0;
	threads_go(st);
	if (fresh)
		og_log_warn("%s/counters/data.mdb was removed under this "
		            "process: counting in new empty counters "
		            "(frequency caps restart from zero)",
		    st->path);
	else
		og_log_warn("%s/counters/data.mdb was replaced under this "
		            "process: counting in the file now there "
		            "(frequency caps count the sends it holds)",
		    st->path);
	mdb_env_close(old);
	return 1;
}

/*
 * LMDB marks an environment dead (MDB_FATAL_ERROR) when writing a meta
 * page fails (EIO, or ENOSPC on a copy-on-write file system): every later
 * transaction of this process in it fails with MDB_PANIC, even once the
 * disk works again.  A failed write or sync of data pages only fails
 * that commit.  LMDB does not say which; a read transaction begun and
 * ended does.  The environment cannot be opened again in this process
 * while the dead one is open (one lock.mdb open twice loses its locks),
 * so the daemons exit and are started again.
 */
int
og_store_dead(og_store *st, char *err, size_t errlen)
{
	static const char *const names[2] = {"consent", "counters"};
	MDB_env *env[2];
	MDB_txn *t;
	int i, rc = 0;

	if (err && errlen)
		*err = 0;
	/* under this thread's lock: the follow functions switch them */
	rd_lock(st);
	env[0] = st->cenv;
	env[1] = st->kenv;
	for (i = 0; i < 2 && rc == 0; i++) {
		int r = mdb_txn_begin(env[i], NULL, MDB_RDONLY, &t);

		if (r == 0)
			mdb_txn_abort(t);
		else if (r == MDB_PANIC) {
			rc = OG_EDEAD;
			if (err && errlen)
				snprintf(err, errlen,
				    "%s/%s: a write to the disk failed and "
				    "LMDB stopped this environment "
				    "(MDB_PANIC): this process can read and "
				    "write nothing more in it; a new process "
				    "can (check the disk: dmesg)",
				    st->path, names[i]);
		}
	}
	rd_unlock(st);
	return rc;
}

void
og_store_exit_if_dead(og_store *st)
{
	char why[512];

	if (og_store_dead(st, why, sizeof(why)) != 0)
		og_log_fatal_now("%s; exiting to be started again", why);
}

/*
 * Is env (a consent store consent_follow opened) a copy of the one this
 * process has open: a schema it reads, the same secret and origin (keyed
 * hashes and tokens' records depend on them)?  0, or an OG_* code and
 * why in err.
 */
static int
same_store(og_store *st, MDB_env *env, MDB_dbi dbi, char *err, size_t errlen)
{
	MDB_txn *txn;
	unsigned char b[4], secret[32];
	uint32_t schema = 0;
	int rc;

	if ((rc = begin_adopting(env, MDB_RDONLY, &txn)) != 0) {
		snprintf(err, errlen, "%s", mdb_strerror(rc));
		return map_err(rc);
	}
	if ((rc = meta_get(txn, dbi, "schema", b, 4)) == 0)
		schema = og_get_be32(b);
	if (rc != 0 || meta_get(txn, dbi, "secret", secret, 32) != 0 ||
	    meta_get(txn, dbi, "origin", b, 4) != 0) {
		snprintf(err, errlen,
		    "not an optgate store, or its meta "
		    "record is damaged");
		rc = OG_ECORRUPT;
	} else if (schema == 0 || schema > OG_SCHEMA_VERSION) {
		snprintf(err, errlen,
		    "store schema %u is newer than this optgate understands "
		    "(%u)",
		    schema, OG_SCHEMA_VERSION);
		rc = OG_EVERSION;
	} else if (CRYPTO_memcmp(secret, st->secret, 32) != 0 ||
	           og_get_be32(b) != st->origin) {
		snprintf(err, errlen,
		    "another store, not a copy of the one open here (its "
		    "secret differs)");
		rc = OG_EREPLACED;
	}
	mdb_txn_abort(txn);
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

/*
 * Consent removed or replaced under a running process: a restore done
 * without stopping the daemons, or policyd under spawn(8), which no
 * systemctl stop reaches.  LMDB keeps the file it opened, so the process
 * went on reading the old, unlinked store (opt-outs recorded in the
 * restored one not enforced) and unsubd acknowledged opt-outs into it,
 * lost at its restart.  Two stat(2)s: when consent/ holds other files
 * than the ones open here, open those as at a start (never made: a
 * folder still empty is waited for), check that they are a copy of this
 * store (same secret), switch every thread to them between its
 * transactions, close the old ones, and say so once.  Not followed
 * (data.mdb replaced under the same lock.mdb, which one process must not
 * open twice; nothing there yet; another store): said once, and
 * OG_EREPLACED, which the writers return rather than write where nobody
 * will look.  With the writer lock held (so no consent write is open in
 * this process) and none of the thread locks.  1 when switched, 0 when
 * nothing changed.
 */
static int
consent_follow(og_store *st)
{
	char dir[4096], err[1024], why[512];
	struct og_rtxn *tx;
	struct stat owner, fs;
	dev_t dev[2];
	ino_t ino[2];
	MDB_env *env = NULL, *old;
	MDB_dbi dbi, edbi;
	int made, rc, fd;

	snprintf(dir, sizeof(dir), "%s/consent", st->path);
	file_ids(dir, dev, ino);
	if (dev[0] == st->cdev[0] && ino[0] == st->cino[0] &&
	    dev[1] == st->cdev[1] && ino[1] == st->cino[1]) {
		st->cstuck = 0;
		return 0;
	}
	if (dev[1] == st->cdev[1] && ino[1] == st->cino[1]) {
		if (!st->cstuck)
			og_log_warn(
			    "%s/data.mdb was removed or replaced, its "
			    "lock.mdb kept: this process cannot follow "
			    "it, still reads the old file and writes no "
			    "consent; restart the daemons (or move the "
			    "whole consent folder aside and put the "
			    "restored one in its place)",
			    dir);
		st->cstuck = 1;
		return OG_EREPLACED;
	}
	/* a thread writing from inside its own read: cannot switch here */
	if (thread_handle(st)->held)
		return OG_EREPLACED;
	err[0] = 0;
	if (stat(st->path, &owner) != 0) {
		snprintf(err, sizeof(err), "%s: %s", st->path, strerror(errno));
		rc = OG_EIO;
	} else {
		made = absent(dir, "lock.mdb");
		rc = open_env(dir, st->cmax, st->maxr, st->cflags, 0, &env,
		    &dbi, &edbi, err, sizeof(err));
		if (rc == 0 &&
		    (rc = same_store(st, env, dbi, why, sizeof(why))) != 0) {
			snprintf(err, sizeof(err), "%s", why);
			mdb_env_close(env);
		}
	}
	if (rc != 0) {
		if (!st->cstuck)
			og_log_warn(
			    "%s was removed or replaced: cannot open the "
			    "store now there: %s; this process still "
			    "reads the old one and writes no consent "
			    "(tried again at each check and write)",
			    dir, err[0] ? err : og_strerror(rc));
		st->cstuck = 1;
		return OG_EREPLACED;
	}
	if (made)
		give_to_owner(dir, &owner);
	/* the files LMDB has open now */
	file_ids(dir, dev, ino);
	if (mdb_env_get_fd(env, &fd) == 0 && fstat(fd, &fs) == 0)
		dev[0] = fs.st_dev, ino[0] = fs.st_ino;
	/* every thread between transactions: then none has the old env */
	threads_stop(st);
	for (tx = st->reg; tx; tx = tx->next)
		if (tx->c) {
			mdb_txn_abort(tx->c);
			tx->c = NULL;
		}
	old = st->cenv;
	st->cenv = env;
	st->cdbi = dbi;
	st->edbi = edbi;
	threads_go(st);
	memcpy(st->cdev, dev, sizeof(dev));
	memcpy(st->cino, ino, sizeof(ino));
	st->cstuck = 0;
	st->cfile = 0; /* another file */
	og_log_warn("%s was replaced under this process: using the store now "
	            "there",
	    dir);
	mdb_env_close(old);
	return 1;
}

int
og_store_consent_check(og_store *st)
{
	int rc;

	pthread_mutex_lock(&st->wlock);
	rc = consent_follow(st);
	pthread_mutex_unlock(&st->wlock);
	return rc;
}

void
og_store_follow(og_store *st)
{
	(void)og_store_counters_check(st);
	(void)og_store_consent_check(st);
}

/*
 * Adopt a map grown by another process (MDB_MAP_RESIZED), or grow ours
 * (MDB_MAP_FULL), with every transaction of this process kept out.
 * A full map may only be pinned: the slot of a reader killed in its
 * transaction (a backup, a verify) keeps every page freed since from
 * reuse until a reader check, so clear such slots first and retry
 * without growing.  Called with none of the thread locks held.  Returns
 * 0 to retry, or an error.
 */
static int
resize(og_store *st, MDB_env *env, uint64_t max, int full)
{
	MDB_envinfo info;
	uint64_t fs;
	int rc = 0, dead = 0, fd;

	/* env is still ours: counters may have been switched meanwhile */
	rd_lock(st);
	if (full && (env == st->cenv || env == st->kenv) &&
	    mdb_reader_check(env, &dead) != 0)
		dead = 0;
	rd_unlock(st);
	if (dead > 0) {
		og_log_warn("%s%s: map full: cleared %d stale reader slots",
		    st->path, env == st->kenv ? "/counters" : "/consent", dead);
		return 0;
	}
	threads_stop(st);
	if (env != st->cenv && env != st->kenv) {
		/* counters replaced meanwhile (og_store_counters_check) */
		threads_go(st);
		return 0;
	}
	fd = wmap_file_size(env, &fs);
	mdb_env_info(env, &info);
	if (full) {
		if (info.me_mapsize >= max && fs <= info.me_mapsize) {
			rc = OG_EFULL;
		} else {
			uint64_t n = (uint64_t)info.me_mapsize * 2;

			if (n > max)
				n = max;
			if (n < fs) /* grown meanwhile by another process */
				n = fs;
			rc = map_err(mdb_env_set_mapsize(env, n));
			if (rc == 0 && n > fs)
				og_log_warn("%s: store map grown to %llu MiB "
				            "(ceiling %llu MiB)",
				    st->path, (unsigned long long)(n >> 20),
				    (unsigned long long)(max >> 20));
		}
	} else {
		/*
		 * The size the other process last committed, or, with
		 * MDB_WRITEMAP (which cuts the file to the map), the file's:
		 * that process may have grown its map again and be writing
		 * there before its next commit, and a file cut under it
		 * would be its SIGBUS.
		 */
		rc = map_err(mdb_env_set_mapsize(env, fs));
	}
	if (fd >= 0)
		(void)flock(fd, LOCK_UN);
	threads_go(st);
	return rc;
}

/* ---------- reads ---------- */

static struct og_rtxn *
thread_handle(og_store *st)
{
	struct og_rtxn *tx = pthread_getspecific(st->tkey);

	if (tx == NULL) {
		if (posix_memalign((void **)&tx, 64, sizeof(*tx)) != 0)
			og_panic("out of memory for a read handle");
		memset(tx, 0, sizeof(*tx));
		tx->st = st;
		pthread_mutex_init(&tx->lk, NULL);
		pthread_mutex_lock(&st->reglock);
		tx->next = st->reg;
		st->reg = tx;
		pthread_mutex_unlock(&st->reglock);
		pthread_setspecific(st->tkey, tx);
	}
	return tx;
}

/* Keep resizes out while this thread has a transaction open. */
static void
rd_lock(og_store *st)
{
	struct og_rtxn *tx = thread_handle(st);

	if (tx->held++ == 0)
		pthread_mutex_lock(&tx->lk);
}

static void
rd_unlock(og_store *st)
{
	struct og_rtxn *tx = thread_handle(st);

	if (--tx->held == 0)
		pthread_mutex_unlock(&tx->lk);
}

/*
 * Every thread between its transactions, none beginning one: the
 * registry's lock and each thread's, taken to resize or switch an
 * environment under them.  threads_go lets them go again.
 */
static void
threads_stop(og_store *st)
{
	struct og_rtxn *tx;

	pthread_mutex_lock(&st->reglock);
	for (tx = st->reg; tx; tx = tx->next)
		pthread_mutex_lock(&tx->lk);
}

static void
threads_go(og_store *st)
{
	struct og_rtxn *tx;

	for (tx = st->reg; tx; tx = tx->next)
		pthread_mutex_unlock(&tx->lk);
	pthread_mutex_unlock(&st->reglock);
}

int
og_store_rbegin(og_store *st, og_rtxn **out)
{
	struct og_rtxn *tx = thread_handle(st);
	MDB_env *ce, *ke;
	int rc, tries, checked = 0;
	if (tx->active)
		og_panic("og_store_rbegin: read handle already active");
	for (tries = 0; tries < 3; tries++) {
		rd_lock(st);
		rc = tx->c ? mdb_txn_renew(tx->c)
		           : mdb_txn_begin(st->cenv, NULL, MDB_RDONLY, &tx->c);
		if (rc == 0) {
			rc = tx->k ? mdb_txn_renew(tx->k)
			           : mdb_txn_begin(
			                 st->kenv, NULL, MDB_RDONLY, &tx->k);
			if (rc != 0)
				mdb_txn_reset(tx->c);
		}
		if (rc == MDB_READERS_FULL && !checked) {
			/* slots of a killed process: clear them, once */
			int dead;

			checked = 1;
			rd_unlock(st);
			if ((dead = og_store_reader_check(st)) > 0) {
				og_log_warn("%s: reader table full: cleared %d "
				            "stale reader slots",
				    st->path, dead);
				continue;
			}
			rd_lock(st);
		}
		if (rc != MDB_MAP_RESIZED)
			break;
		/* under the lock: consent_follow and og_store_counters_check
		 * switch them */
		ce = st->cenv;
		ke = st->kenv;
		rd_unlock(st);
		/* A failed begin leaves no handle; forget it. */
		if (tx->c) {
			mdb_txn_abort(tx->c);
			tx->c = NULL;
		}
		if (tx->k) {
			mdb_txn_abort(tx->k);
			tx->k = NULL;
		}
		resize(st, ce, st->cmax, 0);
		resize(st, ke, st->kmax, 0);
	}
	if (rc != 0) {
		if (rc != MDB_MAP_RESIZED)
			rd_unlock(st);
		if (tx->c && rc != 0) {
			mdb_txn_abort(tx->c);
			tx->c = NULL;
		}
		if (tx->k) {
			mdb_txn_abort(tx->k);
			tx->k = NULL;
		}
		return map_err(rc);
	}
	tx->active = 1;
	*out = tx;
	return 0;
}

void
og_store_rend(og_rtxn *tx)
{
	if (tx == NULL || !tx->active)
		return;
	mdb_txn_reset(tx->c);
	mdb_txn_reset(tx->k);
	tx->active = 0;
	rd_unlock(tx->st);
}

static int
get_record(MDB_txn *txn, MDB_dbi dbi, const char *key, og_record *rec)
{
	unsigned char kb[OG_ADDR_MAX + 2];
	MDB_val k, v;
	int rc;

	if (strlen(key) > OG_ADDR_MAX || *key == 0)
		return OG_EINVAL;
	k.mv_size = mkkey(kb, 'A', key, NULL);
	k.mv_data = kb;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return map_err(rc);
	return og_record_decode(v.mv_data, v.mv_size, key, rec);
}

int
og_store_get(og_rtxn *tx, const char *key, og_record *rec)
{
	return get_record(tx->c, tx->st->cdbi, key, rec);
}

static int
decode_sends(const MDB_val *v, int64_t *times, int max, int *n)
{
	const unsigned char *p = v->mv_data;
	int cnt, i;

	*n = 0;
	if (v->mv_size < 2 || p[0] != 1)
		return OG_ECORRUPT;
	cnt = p[1];
	if (v->mv_size != 2 + (size_t)cnt * 4)
		return OG_ECORRUPT;
	for (i = 0; i < cnt && i < max; i++)
		times[i] = og_get_be32(p + 2 + 4 * i);
	*n = i;
	return 0;
}

int
og_store_get_sends(og_rtxn *tx, const char *key, const char *stream,
    int64_t *times, int max, int *n)
{
	unsigned char kb[OG_ADDR_MAX + OG_STREAM_NAME_MAX + 3];
	MDB_val k, v;
	int rc;

	*n = 0;
	if (strlen(key) > OG_ADDR_MAX || strlen(stream) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	k.mv_size = mkkey(kb, 'S', key, stream);
	k.mv_data = kb;
	rc = mdb_get(tx->k, tx->st->kdbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	/*
	 * A damaged page too (a bad disk, or a power cut the first open
	 * did not see): the counters are soft state, lost sends are what a
	 * rebuild would give; tempfailing the recipients on that page until
	 * someone restored a backup (of consent too) would be worse.
	 */
	if ((rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND) &&
	    __atomic_exchange_n(&tx->st->kdamaged, 1, __ATOMIC_RELAXED) == 0)
		og_log_err("%s/counters: damaged (%s): sends on the damaged "
		           "pages read as none; stop every optgate process and "
		           "start them again to rebuild the counters empty",
		    tx->st->path, mdb_strerror(rc));
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	/* A damaged counter is soft state: treat as no sends, say so. */
	if (decode_sends(&v, times, max, n) != 0) {
		og_log_warn("counter for %s/%s damaged: ignored", key, stream);
		*n = 0;
	}
	return 0;
}

int
og_store_event_get(og_rtxn *tx, uint64_t seq, og_event *ev)
{
	unsigned char kb[9];
	MDB_val k, v;
	int rc;

	kb[0] = 'E';
	og_put_be64(kb + 1, seq);
	k.mv_size = 9;
	k.mv_data = kb;
	if ((rc = mdb_get(tx->c, tx->st->edbi, &k, &v)) != 0)
		return map_err(rc);
	return og_event_decode(v.mv_data, v.mv_size, seq, ev);
}

static int of_entry(const og_event *ev, int scope, const char *name);

/* Could change ev have left its entry in state?  (the entry's event) */
static int
gives_state(const og_event *ev, int state)
{
	if (ev->new_state != state)
		return 0;
	switch (ev->kind) {
	case OG_EV_OPTIN:
	case OG_EV_CONFIRM:
		return og_state_optin(state);
	case OG_EV_OPTOUT:
		return state == OG_ST_OPTOUT;
	case OG_EV_SUPPRESS:
		return state == OG_ST_SUPPRESSED;
	case OG_EV_UNSUPPRESS:
		/* what it brought back: a consent, an opt-out under it */
		return state != OG_ST_SUPPRESSED;
	}
	return 0;
}

int
og_store_entry_event(
    og_rtxn *tx, const og_record *rec, const og_entry *e, og_event *ev)
{
	uint64_t seq;
	int rc;

	if ((rc = og_store_event_get(tx, e->event, ev)) != 0)
		return rc;
	if (ev->kind != OG_EV_PREF || e->state == OG_ST_NONE)
		return 0;
	/*
	 * Written before a cap kept the entry's event: the history still
	 * has the change that set its state, older than the cap.  An
	 * opt-out kept under a suppression, an opt-in during a pause, a
	 * pause over: none gives the entry's state, the walk goes on.
	 */
	for (seq = ev->prev; seq != 0; seq = ev->prev) {
		if ((rc = og_store_event_get(tx, seq, ev)) != 0 ||
		    strcmp(ev->f[OG_EVF_KEY], rec->key) != 0 || ev->prev >= seq)
			break; /* (verify says so) */
		if (of_entry(ev, e->scope, e->name) &&
		    gives_state(ev, e->state))
			return 0;
	}
	return og_store_event_get(tx, e->event, ev);
}

/* Does ev ask for a double opt-in of its entry (as the store keeps it)? */
static int
asks(const og_event *ev)
{
	/* (over an opt-out the opt-out held: the event says optout) */
	return ev->kind == OG_EV_OPTIN && (ev->new_state == OG_ST_PENDING ||
	                                      ev->new_state == OG_ST_OPTOUT);
}

/* Is ev a pause laid over a request, or its end giving it back? */
static int
pause_of_request(const og_event *ev)
{
	return ((ev->kind == OG_EV_OPTOUT || ev->kind == OG_EV_SUPPRESS) &&
	           ev->expires != 0) ||
	       (ev->kind == OG_EV_UNSUPPRESS && ev->new_state == OG_ST_PENDING);
}

int
og_store_entry_request(og_rtxn *tx, const og_record *rec, const og_entry *e,
    const og_event *conf, og_event *req)
{
	uint64_t seq;
	int rc, import;

	if (e->state != OG_ST_CONFIRMED || conf->new_state != OG_ST_CONFIRMED)
		return OG_NOTFOUND;
	/*
	 * An admin's or the page's confirmed opt-in confirms no request;
	 * an import's does when the request came in from its file too (not
	 * one this store had of its own).
	 */
	import = conf->kind == OG_EV_OPTIN && conf->via == OG_VIA_IMPORT;
	if (conf->kind != OG_EV_CONFIRM && !import)
		return OG_NOTFOUND;
	for (seq = conf->prev; seq != 0; seq = req->prev) {
		if ((rc = og_store_event_get(tx, seq, req)) != 0)
			return rc;
		if (strcmp(req->f[OG_EVF_KEY], rec->key) != 0 ||
		    req->prev >= seq)
			return OG_NOTFOUND; /* (verify says so) */
		if (!of_entry(req, e->scope, e->name) || pause_of_request(req))
			continue;
		return asks(req) && (!import || req->via == OG_VIA_IMPORT)
		           ? 0
		           : OG_NOTFOUND;
	}
	return OG_NOTFOUND;
}

int
og_store_hashed_get(
    og_rtxn *tx, int ns, const unsigned char *hash, const char *name)
{
	unsigned char kb[2 + 32 + OG_STREAM_NAME_MAX + 1];
	size_t n = 34;
	MDB_val k, v;

	kb[0] = 'H';
	kb[1] = (unsigned char)ns;
	memcpy(kb + 2, hash, 32);
	if (name && *name) {
		size_t l = strlen(name);

		if (l > OG_STREAM_NAME_MAX)
			return OG_EINVAL;
		memcpy(kb + n, name, l);
		n += l;
	}
	k.mv_size = n;
	k.mv_data = kb;
	return map_err(mdb_get(tx->c, tx->st->cdbi, &k, &v));
}

int
og_store_hash(og_store *st, const char *key, unsigned char out[32])
{
	unsigned int len = 32;

	if (HMAC(EVP_sha256(), st->secret, sizeof(st->secret),
	        (const unsigned char *)key, strlen(key), out, &len) == NULL)
		return OG_EIO;
	return 0;
}

int
og_store_hash_of(og_rtxn *tx, const char *key, unsigned char out[32])
{
	return og_store_hash(tx->st, key, out);
}

/* ---------- writes ---------- */

/* Find the entry for (scope, name), or -1. */
static int
find_entry(const og_record *rec, int scope, const char *name)
{
	int i;

	for (i = 0; i < rec->nentries; i++)
		if (rec->entries[i].scope == scope &&
		    strcmp(rec->entries[i].name, name) == 0)
			return i;
	return -1;
}

static int
parse_segments(char out[][OG_SEGMENT_LEN + 1], const char *segs)
{
	const char *p = segs;
	int k = 0;

	while (*p && k < OG_SEGMENTS_MAX) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n && n <= OG_SEGMENT_LEN) {
			memcpy(out[k], p, n);
			out[k][n] = 0;
			k++;
		}
		if (!c)
			break;
		p = c + 1;
	}
	return k;
}

static void
set_segments(og_record *rec, const char *segs)
{
	rec->nsegments = parse_segments(rec->segments, segs);
}

/* Would set_segments(rec, segs) leave rec as it is? */
static int
same_segments(const og_record *rec, const char *segs)
{
	char tmp[OG_SEGMENTS_MAX][OG_SEGMENT_LEN + 1];
	int n = parse_segments(tmp, segs), i;

	if (n != rec->nsegments)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(tmp[i], rec->segments[i]) != 0)
			return 0;
	return 1;
}

/* Is there an opt-out that an opt-in of (scope, name) could lift? */
static int
liftable_optout(const og_record *rec, int scope, const char *name)
{
	int i;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		if (e->state != OG_ST_OPTOUT)
			continue;
		if (e->scope < scope ||
		    (e->scope == scope && strcmp(e->name, name) == 0))
			return 1;
	}
	return 0;
}

struct wctx;
/*
 * Is there an opt-out an opt-in of (scope, name) could lift that is
 * newer than the entry's time but older than now?  Then a repeated
 * opt-in is news: it renews the entry's time (and lifts the opt-out).
 */
static int
optout_between(const og_record *rec, int scope, const char *name, int64_t since,
    int64_t now)
{
	int i;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		if (e->state == OG_ST_OPTOUT && e->time >= since &&
		    e->time < now &&
		    (e->scope < scope ||
		        (e->scope == scope && strcmp(e->name, name) == 0)))
			return 1;
	}
	return 0;
}

/*
 * Is there an opt-in of a scope an opt-out of this scope covers (the same
 * or narrower) newer than the opt-out's time and older than now?
 */
static int
optin_between(const og_record *rec, int scope, int64_t since, int64_t now)
{
	int i;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		if ((e->state == OG_ST_OPTIN || e->state == OG_ST_CONFIRMED) &&
		    e->scope >= scope && e->time > since && e->time <= now)
			return 1;
	}
	return 0;
}

/*
 * Does a suppression for this reason stop no more than an opt-out of its
 * scope (marketing only: the gate lets transactional mail pass it)?
 */
static int
weak_suppression(int reason)
{
	return reason != OG_RS_HARD_BOUNCE && reason != OG_RS_MANUAL;
}

/*
 * Does lifting suppression e bring back the consent under it?  A hard
 * bounce or an admin's, for good (a bounce found wrong): yes.  A
 * complaint is the person's own stop, like an opt-out: no.
 */
static int
consent_back(const og_entry *e)
{
	return e->state == OG_ST_SUPPRESSED && e->expires == 0 &&
	       !weak_suppression(e->reason);
}

/* A pause over: the consent under it holds again. */
void
og_entry_unpause(og_entry *e)
{
	e->state = e->resume;
	e->via = e->resume_via;
	e->time = e->resume_time;
	e->event = e->resume_event;
	e->reason = OG_RS_NONE;
	e->expires = 0;
	set_resume(e, 0, 0, 0, 0);
}

static int
pause_over(const og_entry *e, int64_t now)
{
	return e->resume && e->expires != 0 && e->expires <= now;
}

int
og_record_settle(og_record *rec, int64_t now)
{
	int i, n = 0;

	for (i = 0; i < rec->nentries; i++)
		if (pause_over(&rec->entries[i], now)) {
			og_entry_unpause(&rec->entries[i]);
			n++;
		}
	return n;
}

/*
 * A full record (OG_ENTRIES_MAX) must still take an opt-out or a
 * suppression: drop an entry that no longer acts (expired), else the
 * oldest consent (asked, single or confirmed opt-in; its event stays in
 * the history).  Losing a consent can only stop mail, never start it.
 * Opt-outs and suppressions are kept, and so are a person's own caps
 * where anything else can go: an entry that carries her cap (pref) is
 * dropped last, since without it the stream's mail under a broader
 * consent comes at the full rate she asked to lower (turning it into her
 * cap alone would free no room).  When every candidate carries one, the
 * oldest opt-in goes all the same: a stop refused would let the mail she
 * stopped go on, which is worse than a cap lost.
 */
static int
room_victim(const og_record *rec, int64_t now, int capped)
{
	const og_entry *e;
	int i, victim = -1;

	for (i = 0; i < rec->nentries && victim < 0; i++) {
		e = &rec->entries[i];
		if (e->expires != 0 && e->expires <= now &&
		    (capped || e->pref.limit == 0))
			victim = i;
	}
	if (victim < 0)
		for (i = 0; i < rec->nentries; i++) {
			e = &rec->entries[i];
			if (og_state_optin(e->state) &&
			    (capped || e->pref.limit == 0) &&
			    (victim < 0 || e->time < rec->entries[victim].time))
				victim = i;
		}
	return victim;
}

static void
make_room(og_record *rec, int64_t now)
{
	int victim = room_victim(rec, now, 0);

	if (victim < 0)
		victim = room_victim(rec, now, 1);
	if (victim < 0)
		return;
	memmove(&rec->entries[victim], &rec->entries[victim + 1],
	    (size_t)(rec->nentries - victim - 1) * sizeof(og_entry));
	rec->nentries--;
}

static int erased_hash_exists(
    og_store *st, struct wctx *w, const char *key, int64_t *when);
struct wctx;
static int optout_under(struct wctx *w, const og_record *rec, int scope,
    const char *name, int64_t now, og_event *ev);

/* Per-apply scratch, kept off the stack (records are large). */
struct wctx {
	MDB_txn *txn;
	MDB_dbi dbi, edbi;
	uint64_t seq;
	uint64_t records;
	int have_erased; /* -1: not looked yet */
	og_record rec;
	og_event ev;
	unsigned char buf[REC_MAX > EV_MAX ? REC_MAX : EV_MAX];
};

/*
 * The next event of a record's chain, in a write transaction: *seq is
 * the one to read (0: the chain is over); ev gets it and *seq its
 * predecessor.  1 when an event was read, 0 at the chain's end or at an
 * erasure (what comes before it is another life of the address), or an
 * error.
 */
static int
chain_next(struct wctx *w, uint64_t *seq, og_event *ev)
{
	unsigned char kb[9];
	MDB_val k, v;
	int rc;

	if (*seq == 0)
		return 0;
	kb[0] = 'E';
	og_put_be64(kb + 1, *seq);
	k.mv_size = 9;
	k.mv_data = kb;
	if ((rc = mdb_get(w->txn, w->edbi, &k, &v)) != 0)
		return map_err(rc);
	if ((rc = og_event_decode(v.mv_data, v.mv_size, *seq, ev)) != 0)
		return rc;
	if (ev->prev >= *seq)
		return OG_ECORRUPT;
	*seq = ev->prev;
	return ev->kind != OG_EV_ERASE;
}

/*
 * One entry per scope holds a suppression or an opt-out, so an opt-out
 * given while a suppression of its scope holds, or one a suppression
 * replaced, lives on in the history only.  optout_under - walk rec's
 * chain, newest first, for the state of (scope, name) under its
 * suppressions: an opt-out still in force (1, *ev is its event), or
 * consent, an admin's lifting or nothing (0); or an error.  Suppressions,
 * caps and segments are passed over, and so is an unsuppress that
 * brought an opt-out back (the opt-out is further down).
 */
static int
optout_under(struct wctx *w, const og_record *rec, int scope, const char *name,
    int64_t now, og_event *ev)
{
	uint64_t seq = rec->last_event;
	int rc;

	while ((rc = chain_next(w, &seq, ev)) == 1) {
		if (ev->scope != scope || strcmp(ev->f[OG_EVF_NAME], name) != 0)
			continue;
		switch (ev->kind) {
		case OG_EV_OPTOUT:
			return ev->expires == 0 || ev->expires > now;
		case OG_EV_OPTIN:
			/* a double opt-in asked over the opt-out left it */
			if (ev->new_state == OG_ST_OPTOUT)
				break;
			return 0;
		case OG_EV_CONFIRM:
			return 0;
		case OG_EV_UNSUPPRESS:
			if (ev->new_state != OG_ST_OPTOUT)
				return 0;
			break;
		}
	}
	return rc;
}

/* Is ev a change of the entry (scope, name)?  Caps and segments are not. */
static int
of_entry(const og_event *ev, int scope, const char *name)
{
	return ev->kind != OG_EV_SEGMENT && ev->kind != OG_EV_PREF &&
	       ev->scope == scope && strcmp(ev->f[OG_EVF_NAME], name) == 0;
}

/*
 * consent_under - the consent that a suppression for good of (scope, name)
 * replaced, found down rec's chain: one laid over a pause ended it and
 * dropped the consent the pause kept, one laid over a consent replaced
 * it.  Walking past suppressions, pauses and what an admin brought back,
 * the newest opt-in or confirmation, unless an opt-out for good, an
 * admin's lifting that left nothing, or a change over an empty entry
 * comes first.  1 (*c gets its state, way, time and event), 0 or an
 * error; ev is scratch.
 */
static int
consent_under(struct wctx *w, const og_record *rec, int scope, const char *name,
    og_entry *c, og_event *ev)
{
	uint64_t seq = rec->last_event;
	int rc;

	while ((rc = chain_next(w, &seq, ev)) == 1) {
		if (!of_entry(ev, scope, name))
			continue;
		switch (ev->kind) {
		case OG_EV_OPTIN:
		case OG_EV_CONFIRM:
			if (og_state_optin(ev->new_state)) {
				c->state = ev->new_state;
				c->via = ev->via;
				c->time = ev->time;
				c->event = ev->seq;
				return 1;
			}
			break; /* asked under an opt-out: that one decides */
		case OG_EV_OPTOUT:
			if (ev->expires == 0 || ev->old_state == OG_ST_NONE)
				return 0;
			break;
		case OG_EV_SUPPRESS:
			if (ev->old_state == OG_ST_NONE)
				return 0;
			break;
		case OG_EV_UNSUPPRESS:
			if (ev->new_state == OG_ST_NONE)
				return 0;
			break;
		}
	}
	return rc;
}

/*
 * cap_event - the event of the cap the entry (scope, name) holds: the
 * newest cap change of it down rec's chain (only one sets a cap; other
 * changes carry it over).  1 (*seq gets it), 0 when the chain has none
 * (it ends at an erasure), or an error; ev is scratch.
 */
static int
cap_event(struct wctx *w, const og_record *rec, int scope, const char *name,
    uint64_t *found, og_event *ev)
{
	uint64_t seq = rec->last_event;
	int rc;

	while ((rc = chain_next(w, &seq, ev)) == 1)
		if (ev->kind == OG_EV_PREF && ev->scope == scope &&
		    strcmp(ev->f[OG_EVF_NAME], name) == 0) {
			*found = ev->seq;
			return 1;
		}
	return rc;
}

/*
 * asked_since_optout - whether the newest event of (scope, name) on rec's
 * chain (caps and segments passed over) is a double opt-in asked over its
 * opt-out: an OG_EV_OPTIN event that left the entry an opt-out.  1, 0 or
 * an error; ev is scratch.
 */
static int
asked_since_optout(struct wctx *w, const og_record *rec, int scope,
    const char *name, og_event *ev)
{
	uint64_t seq = rec->last_event;
	int rc;

	while ((rc = chain_next(w, &seq, ev)) == 1) {
		if (!of_entry(ev, scope, name))
			continue;
		return ev->kind == OG_EV_OPTIN && ev->new_state == OG_ST_OPTOUT;
	}
	return rc;
}

/*
 * imported_before - whether rec's chain holds the temporary opt-out or
 * suppression ch (its kind, scope, time, end and reason) already: a
 * file imported again after its pause ended (expire gave the consent
 * back, or dropped it) must not lay that pause again.  1, 0 or an
 * error; ev is scratch.
 */
static int
imported_before(struct wctx *w, const og_record *rec, const og_change *ch,
    const char *name, int64_t now, og_event *ev)
{
	uint64_t seq = rec->last_event;
	int rc;

	while ((rc = chain_next(w, &seq, ev)) == 1)
		if (ev->kind == ch->kind && ev->scope == ch->scope &&
		    ev->time == now && ev->expires == ch->expires &&
		    ev->reason == ch->reason &&
		    strcmp(ev->f[OG_EVF_NAME], name) == 0)
			return 1;
	return rc;
}

/* Append ev (its seq is w->seq) to the events. */
static int
append_event(struct wctx *w, const og_event *ev)
{
	unsigned char ek[9];
	MDB_val k, v;
	size_t len;
	int rc;

	if ((rc = event_encode(ev, w->buf, sizeof(w->buf), &len)) != 0)
		return rc;
	ek[0] = 'E';
	og_put_be64(ek + 1, w->seq);
	k.mv_size = 9;
	k.mv_data = ek;
	v.mv_size = len;
	v.mv_data = w->buf;
	if ((rc = mdb_put(w->txn, w->edbi, &k, &v, MDB_APPEND)) != 0 &&
	    rc != MDB_KEYEXIST)
		return map_err(rc);
	if (rc == MDB_KEYEXIST)
		return OG_ECORRUPT; /* sequence went backwards */
	w->seq++;
	return 0;
}

/*
 * The events of the pauses over that apply_one turned back into their
 * consent (over[n]: the entry's index, and its state and reason before):
 * each an unsuppress via expiry, as optgate expire writes, so that the
 * consent's return is on the chain whichever write came first.
 */
struct over {
	int idx;
	uint8_t state, reason;
};

static int
append_pauses_over(struct wctx *w, og_record *rec, const og_change *ch,
    const struct over *over, int n, int64_t now)
{
	og_event *ev = &w->ev;
	int i, j, rc;

	for (j = 0; j < n; j++) {
		const og_entry *x = &rec->entries[over[j].idx];

		memset(ev, 0, offsetof(og_event, f));
		for (i = 0; i < OG_EVF_NFIELDS; i++)
			ev->f[i][0] = 0;
		og_strlcpy(ev->f[OG_EVF_KEY], ch->key, OG_EVF_MAX + 1);
		if (strcmp(rec->raw, ch->key) != 0)
			og_strlcpy(ev->f[OG_EVF_RAW], rec->raw, OG_EVF_MAX + 1);
		og_strlcpy(ev->f[OG_EVF_NAME], x->name, OG_EVF_MAX + 1);
		og_strlcpy(ev->f[OG_EVF_SOURCE], "pause over", OG_EVF_MAX + 1);
		ev->seq = w->seq;
		ev->time = now;
		ev->kind = OG_EV_UNSUPPRESS;
		ev->scope = x->scope;
		ev->old_state = over[j].state;
		ev->new_state = x->state;
		ev->reason = over[j].reason;
		ev->via = OG_VIA_EXPIRE;
		ev->prev = rec->last_event;
		if ((rc = append_event(w, ev)) != 0)
			return rc;
		rec->last_event = ev->seq;
	}
	return 0;
}

/*
 * An import's confirmed line over the pending entry its own request set
 * at the same second (OG_CH_REQUESTED): a confirmation as quick as the
 * request (a script; times kept to the second) confirms it all the same.
 */
static int
confirms_request(const og_entry *e, const og_change *ch, int64_t now)
{
	return (ch->flags & OG_CH_REQUESTED) && ch->state == OG_ST_CONFIRMED &&
	       e->state == OG_ST_PENDING && e->time == now;
}

static int
apply_one(og_store *st, struct wctx *w, const og_change *ch, int *result)
{
	og_record *rec = &w->rec;
	og_event *ev = &w->ev;
	const char *name =
	    ch->name && ch->scope != OG_SCOPE_ALL ? ch->name : "";
	unsigned char kb[OG_ADDR_MAX + 2];
	MDB_val k, v;
	og_entry *e = NULL, under, c;
	int rc, i, isnew = 0, old_state = OG_ST_NONE;
	int keep = 0;    /* opt-out under a suppression: event only */
	int restore = 0; /* unsuppress: the opt-out under it comes back */
	int ended = 0;   /* the state of this scope's pause that is over */
	int paused = 0;  /* confirm: the request under a pause, which stays */
	struct over over[OG_ENTRIES_MAX];
	int j, nover = 0;
	size_t len;
	int64_t now = ch->time ? ch->time : (int64_t)time(NULL), since;

	*result = OG_APPLIED;
	if (ch->key == NULL || *ch->key == 0 || strlen(ch->key) > OG_ADDR_MAX ||
	    strlen(name) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	if (ch->kind != OG_EV_SEGMENT && ch->kind != OG_EV_ERASE &&
	    (ch->scope < OG_SCOPE_ALL || ch->scope > OG_SCOPE_STREAM))
		return OG_EINVAL;
	rc = get_record(w->txn, w->dbi, ch->key, rec);
	if (rc == OG_NOTFOUND) {
		memset(rec, 0, offsetof(og_record, entries));
		rec->nentries = 0;
		og_strlcpy(rec->key, ch->key, sizeof(rec->key));
		og_strlcpy(rec->raw, ch->raw && *ch->raw ? ch->raw : ch->key,
		    sizeof(rec->raw));
		rec->created = now;
		isnew = 1;
	} else if (rc != 0) {
		return rc;
	}
	i = ch->kind == OG_EV_SEGMENT ? -1 : find_entry(rec, ch->scope, name);
	/*
	 * Pauses over by now: their consent holds again, stored so, each
	 * with its event (an unsuppress of this scope is that event).
	 * expire's change of an entry settles that one only: it has a
	 * change of its own for each other (and counts them).
	 */
	if (i >= 0 && pause_over(&rec->entries[i], now))
		ended = rec->entries[i].state;
	for (j = 0; j < rec->nentries; j++) {
		og_entry *x = &rec->entries[j];

		if (!pause_over(x, now) ||
		    ((ch->flags & OG_CH_IF_EXPIRED) && j != i))
			continue;
		if (ch->kind != OG_EV_UNSUPPRESS || j != i) {
			over[nover].idx = j;
			over[nover].state = x->state;
			over[nover].reason = x->reason;
			nover++;
		}
		og_entry_unpause(x);
	}
	if (i >= 0) {
		e = &rec->entries[i];
		old_state = e->state;
	}

	/*
	 * A bulk line of any kind for an erased person is skipped: a new
	 * record would hold her address again.  So is an opt-out, a
	 * suppression or a cap from anywhere (a late bounce or complaint
	 * about mail sent before the erasure, an admin): the erasure's hash
	 * already stops all her mail.  Only a new opt-in brings her back.
	 */
	if (isnew &&
	    (((ch->flags & OG_CH_IF_NEWER) && ch->kind == OG_EV_OPTIN) ||
	        ch->kind == OG_EV_OPTOUT || ch->kind == OG_EV_SUPPRESS ||
	        ch->kind == OG_EV_PREF)) {
		if ((rc = erased_hash_exists(st, w, ch->key, NULL)) < 0)
			return rc;
		if (rc) {
			*result = OG_SKIPPED_ERASED;
			return 0;
		}
	}
	/*
	 * Back after an erasure by a new opt-in: a bulk opt-in dated
	 * before the erasure (an old list imported again), or without a
	 * time or proof, must not opt her in to what she left.
	 */
	if (!isnew && (ch->flags & OG_CH_IF_NEWER) && ch->kind == OG_EV_OPTIN) {
		int64_t when = 0;

		if ((rc = erased_hash_exists(st, w, ch->key, &when)) < 0)
			return rc;
		if (rc && (now <= when || (ch->flags & OG_CH_NO_LIFT))) {
			*result = OG_SKIPPED_ERASED;
			return 0;
		}
	}

	switch (ch->kind) {
	case OG_EV_OPTIN:
		if (!og_state_optin(ch->state))
			return OG_EINVAL;
		if (e && (ch->flags & OG_CH_IF_NEWER) && e->time >= now &&
		    !confirms_request(e, ch, now)) {
			/* (or the consent under a pause: already in) */
			*result =
			    e->state == ch->state || (e->resume == ch->state &&
			                                 e->resume_time == now)
			        ? OG_UNCHANGED
			        : OG_SKIPPED_OLDER;
			return 0;
		}
		if ((ch->flags & OG_CH_NO_LIFT) && !isnew &&
		    liftable_optout(rec, ch->scope, name)) {
			*result = OG_SKIPPED_OPTOUT;
			return 0;
		}
		if (e && e->state == OG_ST_SUPPRESSED) {
			/* Bounces and complaints are lifted by an admin. */
			*result = OG_SKIPPED_OPTOUT;
			return 0;
		}
		if (e && e->state == OG_ST_OPTOUT && e->time >= now) {
			*result = OG_SKIPPED_OPTOUT;
			return 0;
		}
		if (e && e->state == OG_ST_OPTOUT &&
		    ch->state == OG_ST_PENDING) {
			/*
			 * Asked, not confirmed: anyone can type an address
			 * into a form, so the opt-out holds (for a stream
			 * without consent rule too) and the request goes
			 * into the history, for OG_EV_CONFIRM to find.
			 */
			if ((rc = asked_since_optout(
			         w, rec, ch->scope, name, &w->ev)) < 0)
				return rc;
			if (rc) {
				*result = OG_UNCHANGED;
				return 0;
			}
			keep = 1;
			break;
		}
		if (e && (e->state == ch->state ||
		             (ch->state == OG_ST_PENDING &&
		                 e->state == OG_ST_CONFIRMED) ||
		             (ch->state == OG_ST_OPTIN &&
		                 e->state == OG_ST_CONFIRMED))) {
			if ((ch->segments == NULL ||
			        same_segments(rec, ch->segments)) &&
			    !optout_between(
			        rec, ch->scope, name, e->time, now)) {
				*result = OG_UNCHANGED;
				return 0;
			}
		}
		break;
	case OG_EV_CONFIRM:
		if (e && e->resume) {
			/* a pause over the request: confirmed under it */
			if (e->resume != OG_ST_PENDING) {
				*result = e->resume == OG_ST_CONFIRMED
				              ? OG_UNCHANGED
				              : OG_SKIPPED_OLDER;
				return 0;
			}
			old_state = e->resume;
			paused = 1;
			break;
		}
		if (e && e->state == OG_ST_OPTOUT) {
			/* a double opt-in asked since the opt-out */
			if ((rc = asked_since_optout(
			         w, rec, ch->scope, name, &w->ev)) < 0)
				return rc;
			if (!rc) {
				*result = OG_SKIPPED_OLDER;
				return 0;
			}
			break;
		}
		if (e == NULL || (e->state != OG_ST_PENDING &&
		                     e->state != OG_ST_CONFIRMED)) {
			*result = OG_SKIPPED_OLDER;
			return 0;
		}
		if (e->state == OG_ST_CONFIRMED) {
			*result = OG_UNCHANGED;
			return 0;
		}
		break;
	case OG_EV_OPTOUT:
	case OG_EV_SUPPRESS:
		if (e && ch->kind == OG_EV_OPTOUT &&
		    (ch->flags & OG_CH_NOT_OVER_OPTIN) &&
		    og_entry_consent(e, &since) && since > now) {
			*result = OG_SKIPPED_OLDER;
			return 0;
		}
		/*
		 * Newer wins, except that a bulk hard-bounce or manual
		 * suppression for good, older than an opt-out, a complaint
		 * or a temporary suppression of its scope, still goes in:
		 * those do not stop transactional mail (or end), and the
		 * order of the files must not decide (imported the other
		 * way round, the suppression holds and the newer opt-out
		 * goes under it, as below).  The opt-out stays in the
		 * history and comes back if an admin lifts the suppression.
		 */
		if (e && (ch->flags & OG_CH_IF_NEWER) && e->time > now &&
		    !(ch->kind == OG_EV_SUPPRESS && ch->expires == 0 &&
		        !weak_suppression(ch->reason) &&
		        (e->state == OG_ST_OPTOUT ||
		            (e->state == OG_ST_SUPPRESSED &&
		                (e->expires != 0 ||
		                    weak_suppression(e->reason)))))) {
			*result = OG_SKIPPED_OLDER;
			return 0;
		}
		if (!isnew && (ch->flags & OG_CH_IF_NEWER) && ch->expires) {
			if ((rc = imported_before(
			         w, rec, ch, name, now, &w->ev)) < 0)
				return rc;
			if (rc) {
				*result = OG_UNCHANGED;
				return 0;
			}
		}
		if (e && ch->kind == OG_EV_OPTOUT && e->state == OG_ST_OPTOUT &&
		    !optin_between(rec, ch->scope, e->time, now) &&
		    (e->expires == 0 ||
		        (ch->expires != 0 && ch->expires <= e->expires))) {
			/*
			 * (an opt-in since lifted it: then this is news; so
			 * is one that outlasts a temporary opt-out, which
			 * would otherwise end with it)
			 */
			*result = OG_UNCHANGED;
			return 0;
		}
		if (e && ch->kind == OG_EV_SUPPRESS &&
		    (ch->flags & OG_CH_IF_NEWER) &&
		    e->state == OG_ST_SUPPRESSED &&
		    (e->expires == 0 || e->expires > now) &&
		    !weak_suppression(e->reason) &&
		    weak_suppression(ch->reason)) {
			/*
			 * A bulk line does not trade a suppression that
			 * also stops transactional mail for one that does
			 * not (a complaint).
			 */
			*result = OG_SKIPPED_OPTOUT;
			return 0;
		}
		if (e && ch->kind == OG_EV_SUPPRESS &&
		    e->state == OG_ST_SUPPRESSED && e->reason == ch->reason &&
		    (e->expires == 0 ||
		        (ch->expires && e->expires >= ch->expires))) {
			*result = OG_UNCHANGED;
			return 0;
		}
		/*
		 * A temporary suppression never replaces an opt-out or a
		 * suppression of its scope that lasts longer: that one
		 * would be gone at the temporary one's end (a hard bounce
		 * stays for good).  Over an opt-out, one that also stops
		 * transactional mail is refused, so that the admin hears of
		 * it (one entry per scope holds one of them: make it
		 * permanent, or name another scope).
		 */
		if (e && ch->kind == OG_EV_SUPPRESS && ch->expires != 0 &&
		    (e->state == OG_ST_SUPPRESSED ||
		        e->state == OG_ST_OPTOUT) &&
		    (e->expires == 0 || e->expires >= ch->expires)) {
			*result = e->state == OG_ST_OPTOUT &&
			                  !weak_suppression(ch->reason)
			              ? OG_SKIPPED_OPTOUT
			              : OG_UNCHANGED;
			return 0;
		}
		if (e && ch->kind == OG_EV_OPTOUT &&
		    e->state == OG_ST_SUPPRESSED &&
		    (e->expires == 0 || (e->expires > now && ch->expires != 0 &&
		                            ch->expires <= e->expires))) {
			/*
			 * A live suppression already stops mail; keep it,
			 * unless it ends before the opt-out: the opt-out
			 * then replaces it, or it would end with it.  One
			 * that also stopped transactional mail (a manual
			 * pause, a hard bounce with an end) stops it no
			 * longer: one entry per scope holds one of the two,
			 * and an opt-out lost is the worse loss.  The
			 * opt-out goes into the history (once), and comes
			 * back when an admin lifts the suppression.
			 */
			if ((rc = optout_under(
			         w, rec, ch->scope, name, now, &w->ev)) < 0)
				return rc;
			if (rc) {
				*result = OG_UNCHANGED;
				return 0;
			}
			keep = 1;
		}
		break;
	case OG_EV_UNSUPPRESS:
		if (e && ended) {
			/* a pause over (expire): its consent is back */
			old_state = ended;
			under = *e;
			restore = 1;
			break;
		}
		if (e == NULL || (e->state != OG_ST_SUPPRESSED &&
		                     e->state != OG_ST_OPTOUT)) {
			*result = OG_UNCHANGED;
			return 0;
		}
		if ((ch->flags & OG_CH_IF_EXPIRED) &&
		    (e->expires == 0 || e->expires > now)) {
			*result = OG_UNCHANGED;
			return 0;
		}
		if (e->state == OG_ST_SUPPRESSED) {
			if ((rc = optout_under(
			         w, rec, ch->scope, name, now, &w->ev)) < 0)
				return rc;
			if (rc) {
				memset(&under, 0, sizeof(under));
				under.scope = ch->scope;
				og_strlcpy(
				    under.name, name, sizeof(under.name));
				under.state = OG_ST_OPTOUT;
				under.reason = w->ev.reason;
				under.via = w->ev.via;
				under.time = w->ev.time;
				under.expires = w->ev.expires;
				under.pref = e->pref;
				under.event = w->seq; /* this event */
				if (under.expires && e->resume) {
					/* a pause: the consent under both */
					set_resume(&under, e->resume,
					    e->resume_via, e->resume_time,
					    e->resume_event);
				} else if (under.expires && consent_back(e)) {
					/* one for good ended the pause */
					if ((rc = consent_under(w, rec,
					         ch->scope, name, &c, &w->ev)) <
					    0)
						return rc;
					if (rc)
						set_resume(&under, c.state,
						    c.via, c.time, c.event);
				}
				restore = 1;
			}
		}
		if (!restore && e->resume) {
			/* a pause lifted: the consent under it holds */
			under = *e;
			og_entry_unpause(&under);
			restore = 1;
		} else if (!restore && consent_back(e)) {
			/* the consent it replaced (or its pause's) holds */
			if ((rc = consent_under(
			         w, rec, ch->scope, name, &c, &w->ev)) < 0)
				return rc;
			if (rc) {
				memset(&under, 0, sizeof(under));
				under.scope = ch->scope;
				og_strlcpy(
				    under.name, name, sizeof(under.name));
				under.state = c.state;
				under.via = c.via;
				under.time = c.time;
				under.event = c.event; /* its proof */
				under.pref = e->pref;
				restore = 1;
			}
		}
		if (!restore && e->pref.limit) {
			/*
			 * Nothing under it, but the cap the person chose
			 * stays: lifting a stop is not her asking for more
			 * mail.  Held alone, as the preference page leaves
			 * it: no state, time or channel, and the cap's own
			 * event (export's proof), else this one.
			 */
			memset(&under, 0, sizeof(under));
			under.scope = ch->scope;
			og_strlcpy(under.name, name, sizeof(under.name));
			under.state = OG_ST_NONE;
			under.pref = e->pref;
			under.event = w->seq;
			if ((rc = cap_event(w, rec, ch->scope, name,
			         &under.event, &w->ev)) < 0)
				return rc;
			restore = 1;
		}
		break;
	case OG_EV_SEGMENT:
		break;
	case OG_EV_PREF:
		if (e && e->pref.limit == ch->pref.limit &&
		    e->pref.period == ch->pref.period) {
			*result = OG_UNCHANGED;
			return 0;
		}
		/* the person's own choice is never replaced by a file's */
		if (e && e->pref.limit && (ch->flags & OG_CH_IF_NEWER)) {
			*result = OG_SKIPPED_OLDER;
			return 0;
		}
		break;
	default:
		return OG_EINVAL;
	}

	if ((rc = append_pauses_over(w, rec, ch, over, nover, now)) != 0)
		return rc;
	/* The event first: it is the record of truth. */
	memset(ev, 0, offsetof(og_event, f));
	for (i = 0; i < OG_EVF_NFIELDS; i++) {
		ev->f[i][0] = 0;
		if (ch->f[i])
			og_strlcpy(ev->f[i], ch->f[i], OG_EVF_MAX + 1);
	}
	og_strlcpy(ev->f[OG_EVF_KEY], ch->key, OG_EVF_MAX + 1);
	if (strcmp(rec->raw, ch->key) != 0)
		og_strlcpy(ev->f[OG_EVF_RAW], rec->raw, OG_EVF_MAX + 1);
	og_strlcpy(ev->f[OG_EVF_NAME], name, OG_EVF_MAX + 1);
	if (ch->segments)
		og_strlcpy(ev->f[OG_EVF_SEGMENT], ch->segments, OG_EVF_MAX + 1);
	ev->seq = w->seq;
	ev->time = now;
	ev->kind = ch->kind;
	ev->scope = ch->kind == OG_EV_SEGMENT ? 0 : ch->scope;
	ev->old_state = (uint8_t)old_state;
	ev->reason = ch->reason;
	ev->via = ch->via;
	ev->prev = rec->last_event;
	ev->expires = ch->expires;
	ev->origin = 0;

	/* Then the record. */
	if (ch->segments)
		set_segments(rec, ch->segments);
	if (ch->kind == OG_EV_UNSUPPRESS && restore) {
		i = find_entry(rec, ch->scope, name);
		/* (a consent keeps its own event: its proof) */
		rec->entries[i] = under;
		ev->new_state = under.state;
	} else if (ch->kind == OG_EV_UNSUPPRESS) {
		i = find_entry(rec, ch->scope, name);
		memmove(&rec->entries[i], &rec->entries[i + 1],
		    (size_t)(rec->nentries - i - 1) * sizeof(og_entry));
		rec->nentries--;
		ev->new_state = OG_ST_NONE;
	} else if (keep) {
		/* the entry stays (a suppression, an opt-out): the event
		 * says so */
		ev->new_state = e->state;
	} else if (paused) {
		/* the pause stays; its consent is the confirmed one now */
		set_resume(e, OG_ST_CONFIRMED, ch->via, now, w->seq);
		ev->new_state = OG_ST_CONFIRMED;
	} else if (ch->kind != OG_EV_SEGMENT) {
		if (e == NULL) {
			if (rec->nentries >= OG_ENTRIES_MAX &&
			    (ch->kind == OG_EV_OPTOUT ||
			        ch->kind == OG_EV_SUPPRESS))
				make_room(rec, now);
			if (rec->nentries >= OG_ENTRIES_MAX)
				return OG_ETOOBIG;
			e = &rec->entries[rec->nentries++];
			memset(e, 0, sizeof(*e));
			e->scope = ch->scope;
			og_strlcpy(e->name, name, sizeof(e->name));
		}
		/*
		 * A temporary opt-out or suppression over a consent is a
		 * pause: the consent holds again at its end.  One over a
		 * pause keeps the consent under it; anything else ends it.
		 */
		if ((ch->kind == OG_EV_OPTOUT || ch->kind == OG_EV_SUPPRESS) &&
		    ch->expires != 0) {
			if (og_state_optin(e->state))
				set_resume(
				    e, e->state, e->via, e->time, e->event);
		} else if (ch->kind != OG_EV_PREF) {
			set_resume(e, 0, 0, 0, 0);
		}
		switch (ch->kind) {
		case OG_EV_OPTIN:
			e->state = ch->state;
			e->reason = OG_RS_NONE;
			e->expires = 0;
			break;
		case OG_EV_CONFIRM:
			e->state = OG_ST_CONFIRMED;
			e->reason = OG_RS_NONE; /* from an opt-out */
			e->expires = 0;
			break;
		case OG_EV_OPTOUT:
			e->state = OG_ST_OPTOUT;
			e->reason = ch->reason;
			e->expires = ch->expires;
			break;
		case OG_EV_SUPPRESS:
			e->state = OG_ST_SUPPRESSED;
			e->reason = ch->reason;
			e->expires = ch->expires;
			break;
		case OG_EV_PREF:
			e->pref = ch->pref;
			break;
		}
		/*
		 * The entry's event is its state's proof (export's source,
		 * ip, user agent and note; status's why): a cap chosen
		 * later keeps it, as it keeps the time and channel.  An
		 * entry that holds only a cap points to the cap's event.
		 */
		if (ch->kind != OG_EV_PREF) {
			e->time = now;
			e->via = ch->via;
			e->event = w->seq;
		} else if (e->state == OG_ST_NONE) {
			e->event = w->seq;
		}
		ev->new_state = e->state;
	}
	rec->last_event = w->seq;

	if ((rc = append_event(w, ev)) != 0)
		return rc;
	if ((rc = record_encode(rec, w->buf, sizeof(w->buf), &len)) != 0)
		return rc;
	k.mv_size = mkkey(kb, 'A', ch->key, NULL);
	k.mv_data = kb;
	v.mv_size = len;
	v.mv_data = w->buf;
	if ((rc = mdb_put(w->txn, w->dbi, &k, &v, 0)) != 0)
		return map_err(rc);
	if (isnew)
		w->records++;
	return 0;
}

static int
commit_err(og_store *st, int rc)
{
	return disk_err(st->path, rc);
}

int
og_store_apply(og_store *st, const og_change *ch, size_t n, int *results)
{
	struct wctx *w;
	unsigned char b[8];
	int rc = 0, tries, dummy;
	size_t i;

	if (st->flags & OG_STORE_RDONLY)
		return OG_EINVAL;
	w = og_xmalloc(sizeof(*w));
	pthread_mutex_lock(&st->wlock);
	/* never acknowledge a change into a store replaced under us */
	if ((rc = consent_follow(st)) > 0)
		rc = 0;
	for (tries = 0; rc == 0 && tries < 40; tries++) {
		rd_lock(st);
		rc = mdb_txn_begin(st->cenv, NULL, 0, &w->txn);
		if (rc == MDB_MAP_RESIZED) {
			rd_unlock(st);
			if ((rc = resize(st, st->cenv, st->cmax, 0)) != 0)
				break;
			continue;
		}
		if (rc != 0) {
			rd_unlock(st);
			rc = map_err(rc);
			break;
		}
		w->dbi = st->cdbi;
		w->edbi = st->edbi;
		w->have_erased = -1;
		if ((rc = meta_get(w->txn, w->dbi, "seq", b, 8)) == 0) {
			w->seq = og_get_be64(b);
			rc = meta_get(w->txn, w->dbi, "records", b, 8);
			w->records = og_get_be64(b);
		}
		for (i = 0; rc == 0 && i < n; i++)
			rc = apply_one(
			    st, w, &ch[i], results ? &results[i] : &dummy);
		if (rc == 0) {
			og_put_be64(b, w->seq);
			rc = map_err(meta_put(w->txn, w->dbi, "seq", b, 8));
		}
		if (rc == 0) {
			og_put_be64(b, w->records);
			rc = map_err(meta_put(w->txn, w->dbi, "records", b, 8));
		}
		if (rc == 0)
			rc = commit_err(st, map_err(commit_uncut(
			                        st->cenv, w->txn, &st->cfile)));
		else
			mdb_txn_abort(w->txn);
		rd_unlock(st);
		if (rc != OG_EFULL)
			break;
		if ((rc = resize(st, st->cenv, st->cmax, 1)) != 0)
			break;
	}
	pthread_mutex_unlock(&st->wlock);
	free(w);
	return rc;
}

static int
count_one(
    MDB_txn *txn, MDB_dbi dbi, const char *key, const char *stream, int64_t now)
{
	unsigned char kb[OG_ADDR_MAX + OG_STREAM_NAME_MAX + 3];
	unsigned char vb[2 + 4 * OG_SENDS_MAX];
	int64_t times[OG_SENDS_MAX];
	MDB_val k, v;
	int n = 0, i, j, rc, put = 0;

	if (strlen(key) > OG_ADDR_MAX || *key == 0)
		return OG_EINVAL;
	k.mv_size = mkkey(kb, 'S', key, stream);
	k.mv_data = kb;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && decode_sends(&v, times, OG_SENDS_MAX, &n) != 0)
		n = 0;
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	/*
	 * Newest first, now in its place: after the clock stepped back it
	 * is not the newest, and a full list drops its oldest send.
	 */
	vb[0] = 1;
	for (i = 0, j = 0; j < OG_SENDS_MAX && (i < n || !put); j++) {
		int64_t t;

		if (!put && (i == n || times[i] <= t32(now))) {
			t = t32(now);
			put = 1;
		} else {
			t = times[i++];
		}
		og_put_be32(vb + 2 + 4 * j, t32(t));
	}
	vb[1] = (unsigned char)j;
	v.mv_size = 2 + 4 * (size_t)j;
	v.mv_data = vb;
	return map_err(mdb_put(txn, dbi, &k, &v, 0));
}

/*
 * Begin a write transaction on the counters, holding this thread's share
 * of the resize lock (rd_unlock after the commit or abort): adopts a map
 * another process grew.  0 or an OG_* code (nothing held then).
 */
static int
kwrite_begin(og_store *st, MDB_txn **txn)
{
	int rc, tries;

	for (tries = 0; tries < 3; tries++) {
		rd_lock(st);
		rc = mdb_txn_begin(st->kenv, NULL, 0, txn);
		if (rc == 0)
			return 0;
		rd_unlock(st);
		if (rc != MDB_MAP_RESIZED)
			return map_err(rc);
		if ((rc = resize(st, st->kenv, st->kmax, 0)) != 0)
			return rc;
	}
	return map_err(MDB_MAP_RESIZED);
}

/* The counters' ceiling is counter_map_size, not map_size: say which. */
static int
kfull(int rc)
{
	return rc == OG_EFULL ? OG_EKFULL : rc;
}

/*
 * Run fn in a counters write transaction and commit it.  When the map is
 * full, grow it and run fn again on a new transaction.  fn returns 0 or
 * an OG_ error.  0 or an error.
 */
static int
kwrite(og_store *st, int (*fn)(MDB_txn *, MDB_dbi, void *), void *ctx)
{
	MDB_txn *txn;
	int rc = 0, tries;

	for (tries = 0; tries < 40; tries++) {
		if ((rc = kwrite_begin(st, &txn)) != 0)
			return rc;
		if ((rc = fn(txn, st->kdbi, ctx)) == 0)
			rc = commit_err(st, map_err(mdb_txn_commit(txn)));
		else
			mdb_txn_abort(txn);
		rd_unlock(st);
		if (rc != OG_EFULL)
			return rc;
		if ((rc = resize(st, st->kenv, st->kmax, 1)) != 0)
			break;
	}
	return kfull(rc);
}

struct count_ctx {
	const char *const *keys;
	size_t n;
	const char *stream;
	int64_t now;
};

static int
count_txn(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
	const struct count_ctx *c = ctx;
	unsigned char kb[OG_STREAM_NAME_MAX + 6], tb[8];
	uint64_t total = 0;
	MDB_val k, v;
	size_t i, kl;
	int rc = 0;

	for (i = 0; rc == 0 && i < c->n; i++)
		rc = count_one(txn, dbi, c->keys[i], c->stream, c->now);
	if (rc != 0)
		return rc;
	kl = mkkey(kb, 'D', c->stream, "");
	og_put_be32(kb + kl, t32(c->now / 86400));
	k.mv_size = kl + 4;
	k.mv_data = kb;
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
		total = og_get_be64(v.mv_data);
	og_put_be64(tb, total + c->n);
	v.mv_size = 8;
	v.mv_data = tb;
	return map_err(mdb_put(txn, dbi, &k, &v, 0));
}

int
og_store_count_sends(og_store *st, const char *const *keys, size_t n,
    const char *stream, int64_t now)
{
	struct count_ctx c = {keys, n, stream, now};

	if (strlen(stream) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	return kwrite(st, count_txn, &c);
}

/*
 * A soft-bounce record ('B'), newest first: version 1 has times only,
 * version 2 each time with the identity of the report it counted (0: none
 * known).  Up to max entries go to times and ids.  0 or OG_ECORRUPT.
 */
static int
decode_bounces(const MDB_val *v, int64_t *times, uint64_t *ids, int max, int *n)
{
	const unsigned char *p = v->mv_data;
	size_t w;
	int cnt, i;

	*n = 0;
	if (v->mv_size < 2 || (p[0] != 1 && p[0] != 2))
		return OG_ECORRUPT;
	w = p[0] == 1 ? 4 : 12;
	cnt = p[1];
	if (cnt > OG_SENDS_MAX || v->mv_size != 2 + (size_t)cnt * w)
		return OG_ECORRUPT;
	for (i = 0; i < cnt && i < max; i++) {
		times[i] = og_get_be32(p + 2 + w * i);
		ids[i] = w == 12 ? og_get_be64(p + 6 + w * i) : 0;
	}
	*n = i;
	return 0;
}

struct soft_ctx {
	const char *key;
	int64_t now, period;
	uint64_t report;
	int *count;
	int64_t *already;
};

static int
soft_txn(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
	const struct soft_ctx *c = ctx;
	unsigned char kb[OG_ADDR_MAX + 2];
	unsigned char vb[2 + 12 * OG_SENDS_MAX];
	int64_t times[OG_SENDS_MAX];
	uint64_t ids[OG_SENDS_MAX];
	MDB_val k, v;
	int n = 0, i, rc;

	k.mv_size = mkkey(kb, 'B', c->key, NULL);
	k.mv_data = kb;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && decode_bounces(&v, times, ids, OG_SENDS_MAX, &n) != 0)
		n = 0;
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	*c->count = 0;
	*c->already = 0;
	/* The same report again within the period is counted once. */
	for (i = 0; c->report != 0 && i < n; i++)
		if (ids[i] == c->report && times[i] > c->now - c->period) {
			*c->already = times[i] > 0 ? times[i] : 1;
			break;
		}
	if (*c->already != 0) {
		for (i = 0; i < n; i++)
			if (times[i] > c->now - c->period)
				(*c->count)++;
		return 0;
	}
	vb[0] = 2;
	og_put_be32(vb + 2, t32(c->now));
	og_put_be64(vb + 6, c->report);
	*c->count = 1;
	for (i = 0; i < n && i + 1 < OG_SENDS_MAX; i++) {
		og_put_be32(vb + 2 + 12 * (i + 1), t32(times[i]));
		og_put_be64(vb + 6 + 12 * (i + 1), ids[i]);
		if (times[i] > c->now - c->period)
			(*c->count)++;
	}
	vb[1] = (unsigned char)(i + 1);
	v.mv_size = 2 + 12 * (size_t)(i + 1);
	v.mv_data = vb;
	return map_err(mdb_put(txn, dbi, &k, &v, 0));
}

int
og_store_soft_bounce(og_store *st, const char *key, int64_t now, int64_t period,
    uint64_t report, int *count, int64_t *already)
{
	struct soft_ctx c = {key, now, period, report, count, already};

	*count = 0;
	*already = 0;
	if (strlen(key) > OG_ADDR_MAX || *key == 0)
		return OG_EINVAL;
	return kwrite(st, soft_txn, &c);
}

/* ---------- held sends shared between processes ---------- */

/* Is process pid still there?  Its holds die with it. */
static int
pid_alive(uint32_t pid)
{
	return pid != 0 && pid <= INT32_MAX &&
	       (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/*
 * A hold record: version 1, a count, then count times (pid, until), both
 * big-endian 32 bits.  The live entries (until after now, process there)
 * go to pids and untils.  Their number, or -1 when the record is damaged.
 */
static int
holds_decode(const MDB_val *v, int64_t now, uint32_t *pids, uint32_t *untils)
{
	const unsigned char *p = v->mv_data;
	int cnt, i, n = 0;

	if (v->mv_size < 2 || p[0] != 1)
		return -1;
	cnt = p[1];
	if (cnt > OG_SENDS_MAX || v->mv_size != 2 + (size_t)cnt * 8)
		return -1;
	for (i = 0; i < cnt; i++) {
		uint32_t pid = og_get_be32(p + 2 + 8 * i);
		uint32_t until = og_get_be32(p + 6 + 8 * i);

		if ((int64_t)until <= now || !pid_alive(pid))
			continue;
		pids[n] = pid;
		untils[n++] = until;
	}
	return n;
}

static int
hold_one(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *stream,
    uint32_t pid, int64_t until, int64_t now, int delta)
{
	unsigned char kb[OG_ADDR_MAX + OG_STREAM_NAME_MAX + 3];
	unsigned char vb[2 + 8 * OG_SENDS_MAX];
	uint32_t pids[OG_SENDS_MAX], untils[OG_SENDS_MAX];
	MDB_val k, v;
	int n = 0, i, rc;

	k.mv_size = mkkey(kb, 'P', key, stream);
	k.mv_data = kb;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && (n = holds_decode(&v, now, pids, untils)) < 0)
		n = 0; /* damaged: soft state, start again */
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (delta > 0 && n < OG_SENDS_MAX) {
		/* full: OG_SENDS_MAX holds already reach any enforced cap */
		pids[n] = pid;
		untils[n++] = t32(until);
	} else if (delta < 0) {
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i < n) {
			memmove(pids + i, pids + i + 1,
			    (size_t)(n - i - 1) * sizeof(*pids));
			memmove(untils + i, untils + i + 1,
			    (size_t)(n - i - 1) * sizeof(*untils));
			n--;
		}
	}
	if (n == 0) {
		rc = mdb_del(txn, dbi, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : map_err(rc);
	}
	vb[0] = 1;
	vb[1] = (unsigned char)n;
	for (i = 0; i < n; i++) {
		og_put_be32(vb + 2 + 8 * i, pids[i]);
		og_put_be32(vb + 6 + 8 * i, untils[i]);
	}
	v.mv_size = 2 + 8 * (size_t)n;
	v.mv_data = vb;
	return map_err(mdb_put(txn, dbi, &k, &v, 0));
}

struct hold_ctx {
	const char *key, *stream;
	uint32_t pid;
	int64_t until, now;
	int delta;
};

static int
hold_txn(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
	const struct hold_ctx *c = ctx;

	return hold_one(
	    txn, dbi, c->key, c->stream, c->pid, c->until, c->now, c->delta);
}

int
og_store_hold(og_store *st, const char *key, const char *stream, pid_t pid,
    int64_t until, int64_t now, int delta)
{
	struct hold_ctx c = {key, stream, (uint32_t)pid, until, now, delta};

	if (*key == 0 || strlen(key) > OG_ADDR_MAX ||
	    strlen(stream) > OG_STREAM_NAME_MAX || pid <= 0 || delta == 0)
		return OG_EINVAL;
	return kwrite(st, hold_txn, &c);
}

int
og_store_holds(
    og_rtxn *tx, const char *key, const char *stream, int64_t now, int *n)
{
	unsigned char kb[OG_ADDR_MAX + OG_STREAM_NAME_MAX + 3];
	uint32_t pids[OG_SENDS_MAX], untils[OG_SENDS_MAX];
	MDB_val k, v;
	int rc;

	*n = 0;
	if (strlen(key) > OG_ADDR_MAX || strlen(stream) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	k.mv_size = mkkey(kb, 'P', key, stream);
	k.mv_data = kb;
	rc = mdb_get(tx->k, tx->st->kdbi, &k, &v);
	/* not there, or on a damaged page (og_store_get_sends says so) */
	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ||
	    rc == MDB_PAGE_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	if ((rc = holds_decode(&v, now, pids, untils)) > 0)
		*n = rc;
	return 0;
}

/* ---------- iteration ---------- */

int
og_store_foreach(og_store *st, const char *start,
    int (*fn)(const og_record *, void *), void *ctx)
{
	unsigned char kb[OG_ADDR_MAX + 2];
	char last[OG_ADDR_MAX + 1];
	og_record *rec = og_xmalloc(sizeof(*rec));
	int rc = 0, skip_eq = 0;

	og_strlcpy(last, start ? start : "", sizeof(last));
	for (;;) {
		og_rtxn *tx;
		MDB_cursor *cur;
		MDB_val k, v;
		int n = 0, mrc;

		if ((rc = og_store_rbegin(st, &tx)) != 0)
			break;
		if ((mrc = mdb_cursor_open(tx->c, st->cdbi, &cur)) != 0) {
			og_store_rend(tx);
			rc = map_err(mrc);
			break;
		}
		k.mv_size = mkkey(kb, 'A', last, NULL);
		k.mv_data = kb;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		while (mrc == 0 && rc == 0) {
			const char *key = (const char *)k.mv_data + 1;
			size_t kl = k.mv_size - 1;

			if (((const char *)k.mv_data)[0] != 'A' ||
			    kl > OG_ADDR_MAX)
				break;
			if (skip_eq && kl == strlen(last) &&
			    memcmp(key, last, kl) == 0) {
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
				continue;
			}
			if (n >= OG_ITER_BATCH)
				break;
			memcpy(last, key, kl);
			last[kl] = 0;
			rc = og_record_decode(v.mv_data, v.mv_size, last, rec);
			if (rc == 0)
				rc = fn(rec, ctx);
			n++;
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		og_store_rend(tx);
		skip_eq = 1;
		if (rc != 0 || n < OG_ITER_BATCH)
			break;
	}
	free(rec);
	return rc;
}

int
og_store_foreach_event(og_store *st, const char *key,
    int (*fn)(const og_event *, void *), void *ctx)
{
	og_record *rec = og_xmalloc(sizeof(*rec));
	og_event *ev = og_xmalloc(sizeof(*ev));
	uint64_t seq;
	og_rtxn *tx;
	int rc;

	if ((rc = og_store_rbegin(st, &tx)) != 0)
		goto out;
	rc = og_store_get(tx, key, rec);
	seq = rc == 0 ? rec->last_event : 0;
	while (rc == 0 && seq != 0) {
		if ((rc = og_store_event_get(tx, seq, ev)) != 0)
			break;
		if ((rc = fn(ev, ctx)) != 0)
			break;
		if (ev->prev >= seq) {
			rc = OG_ECORRUPT;
			break;
		}
		seq = ev->prev;
	}
	og_store_rend(tx);
out:
	free(rec);
	free(ev);
	return rc;
}

/* The counts a consent environment's meta keys hold (og_store_info). */
static void
info_counts(MDB_txn *txn, MDB_dbi dbi, og_store_info *info)
{
	unsigned char b[8];

	if (meta_get(txn, dbi, "records", b, 8) == 0)
		info->records = og_get_be64(b);
	if (meta_get(txn, dbi, "seq", b, 8) == 0)
		info->next_seq = og_get_be64(b);
	info->events = info->next_seq ? info->next_seq - 1 : 0;
	if (meta_get(txn, dbi, "schema", b, 4) == 0)
		info->schema = og_get_be32(b);
}

int
og_store_info_get(og_store *st, og_store_info *info)
{
	MDB_envinfo ei;
	MDB_stat ms;
	og_rtxn *tx;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = og_store_rbegin(st, &tx)) != 0)
		return rc;
	info_counts(tx->c, st->cdbi, info);
	mdb_env_info(st->cenv, &ei);
	mdb_env_stat(st->cenv, &ms);
	info->map_size = ei.me_mapsize;
	info->map_used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	mdb_env_info(st->kenv, &ei);
	mdb_env_stat(st->kenv, &ms);
	info->cmap_size = ei.me_mapsize;
	info->cmap_used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	og_store_rend(tx);
	return 0;
}

/*
 * Remove what a failed og_store_copy made in DEST (a folder it made
 * itself): the partial copy would keep its disk full, often the store's
 * own, and every opt-out would fail until someone found it.
 */
static void
copy_undo(const char *dest, char *err, size_t errlen)
{
	static const char *const parts[] = {"consent", "counters"};
	char p[4200];
	size_t i, n;

	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s/data.mdb", dest, parts[i]);
		(void)unlink(p);
		snprintf(p, sizeof(p), "%s/%s", dest, parts[i]);
		(void)rmdir(p);
	}
	(void)rmdir(dest);
	n = strlen(err);
	if (n < errlen)
		snprintf(err + n, errlen - n,
		    access(dest, F_OK) == 0 ? "; partial copy not removed"
		                            : "; partial copy removed");
}

/*
 * The counts of the consent copy in dir, read from the copy itself: the
 * live store may have taken writes since LMDB's copy read it.  The copy
 * is this process's own new folder, which nothing else opens, so it is
 * read without a lock file (none is made in the backup).
 */
static int
copy_info(const char *dir, og_store_info *info, char *err, size_t errlen)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 4)) != 0 ||
	    (rc = mdb_env_open(
	         env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0640)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "main", 0, &dbi)) != 0) {
		snprintf(err, errlen, "%s: cannot read the copy back: %s", dir,
		    mdb_strerror(rc));
		rc = map_err(rc);
		goto out;
	}
	info_counts(txn, dbi, info);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return rc;
}

int
og_store_copy(og_store *st, const char *dest, og_store_info *info, char *err,
    size_t errlen)
{
	static const char *const parts[] = {"consent", "counters"};
	MDB_env *envs[2];
	char dir[4096], file[4200];
	struct stat owner;
	size_t i;
	int rc;

	envs[0] = st->cenv;
	envs[1] = st->kenv;
	if (stat(st->path, &owner) != 0) {
		snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
		return OG_EIO;
	}
	if (mkdir(dest, 0750) != 0) {
		int e = errno;

		/* the hint must fit the failure: a missing parent folder
		 * is ENOENT too, and then the destination indeed does not
		 * exist */
		snprintf(err, errlen, "%s: %s%s", dest, strerror(e),
		    e == EEXIST   ? " (the destination must not exist)"
		    : e == ENOENT ? " (the folder it goes in must exist: "
		                    "mkdir -p it first)"
		                  : "");
		return OG_EIO;
	}
	for (i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", dest, parts[i]);
		snprintf(file, sizeof(file), "%s/data.mdb", dir);
		if (mkdir(dir, 0750) != 0) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			goto fail;
		}
		if ((rc = mdb_env_copy2(envs[i], dir, MDB_CP_COMPACT)) != 0) {
			snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
			goto fail;
		}
		/*
		 * LMDB makes the copy 0666 less the umask; it holds what
		 * the store holds, so it gets the store's modes, and its
		 * owner, so that moving it into place is a restore.
		 */
		if (chmod(file, 0640) != 0) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			goto fail;
		}
		give_to_owner(dir, &owner);
		/* A backup is one only once it is on disk: LMDB's copy
		 * does not sync the file or its name. */
		if (og_sync_path(file) != 0 || og_sync_path(dir) != 0) {
			snprintf(
			    err, errlen, "%s: sync: %s", dir, strerror(errno));
			goto fail;
		}
		if (i == 0 && info != NULL &&
		    copy_info(dir, info, err, errlen) != 0)
			goto fail;
	}
	give_to_owner(dest, &owner);
	if (og_sync_path(dest) != 0 || og_sync_parent(dest) != 0) {
		snprintf(err, errlen, "%s: sync: %s", dest, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	copy_undo(dest, err, errlen);
	return OG_EIO;
}

/* ---------- admin: erasure, hashed lists, scans, expiry, verify ---------- */

#define HV_LEN 14 /* 'H' value: v1 | time u32 | event u64 | reason u8 */

static size_t
hkey(unsigned char *kb, int ns, const unsigned char *hash, const char *name)
{
	size_t n = 34, l = name ? strlen(name) : 0;

	kb[0] = 'H';
	kb[1] = (unsigned char)ns;
	memcpy(kb + 2, hash, 32);
	memcpy(kb + n, name ? name : "", l);
	return n + l;
}

static void
hval(unsigned char *vb, int64_t t, uint64_t event, int reason)
{
	vb[0] = 1;
	og_put_be32(vb + 1, t32(t));
	og_put_be64(vb + 5, event);
	vb[13] = (unsigned char)reason;
}

/* Decode an 'H' key and value into h: 0 or OG_ECORRUPT. */
static int
hashed_decode(const MDB_val *k, const MDB_val *v, og_hashed *h)
{
	const unsigned char *kp = k->mv_data, *vp = v->mv_data;
	size_t nl;

	if (k->mv_size < 34 || k->mv_size > 34 + OG_STREAM_NAME_MAX ||
	    v->mv_size != HV_LEN || vp[0] != 1)
		return OG_ECORRUPT;
	h->ns = kp[1];
	memcpy(h->hash, kp + 2, 32);
	nl = k->mv_size - 34;
	memcpy(h->name, kp + 34, nl);
	h->name[nl] = 0;
	h->time = og_get_be32(vp + 1);
	h->event = og_get_be64(vp + 5);
	h->reason = vp[13];
	if ((h->ns != OG_HASH_ERASED && h->ns != OG_HASH_PARTNER) ||
	    (h->ns == OG_HASH_PARTNER) != (nl > 0) ||
	    memchr(h->name, 0, nl) != NULL)
		return OG_ECORRUPT;
	return 0;
}

int
og_store_hashed_read(og_rtxn *tx, int ns, const unsigned char *hash,
    const char *name, og_hashed *out)
{
	unsigned char kb[34 + OG_STREAM_NAME_MAX];
	MDB_val k, v;
	int rc;

	if (name && strlen(name) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	k.mv_size = hkey(kb, ns, hash, name);
	k.mv_data = kb;
	if ((rc = mdb_get(tx->c, tx->st->cdbi, &k, &v)) != 0)
		return map_err(rc);
	return hashed_decode(&k, &v, out);
}

/* Whether dbi holds any 'H' hash of namespace ns: 1, 0, or an error. */
static int
hash_ns_any(MDB_txn *txn, MDB_dbi dbi, int ns)
{
	unsigned char kb[2] = {'H', (unsigned char)ns};
	const unsigned char *p;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return map_err(rc);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	p = k.mv_data;
	return k.mv_size > 2 && p[0] == 'H' && p[1] == (unsigned char)ns;
}

/*
 * Whether dbi holds key's erasure hash: 1, 0 or an error.  *when (may
 * be NULL) gets the erasure's time (the largest time when it cannot be
 * read: erased for good).
 */
static int
erased_key(
    og_store *st, MDB_txn *txn, MDB_dbi dbi, const char *key, int64_t *when)
{
	unsigned char kb[34], h[32];
	og_hashed hd;
	MDB_val k, v;
	int rc;

	if ((rc = og_store_hash(st, key, h)) != 0)
		return rc;
	k.mv_size = hkey(kb, OG_HASH_ERASED, h, NULL);
	k.mv_data = kb;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	if (when)
		*when = hashed_decode(&k, &v, &hd) == 0 ? hd.time : INT64_MAX;
	return 1;
}

int
og_store_hashed_any(og_rtxn *tx, int ns)
{
	return hash_ns_any(tx->c, tx->st->cdbi, ns);
}

int
og_store_erased(og_rtxn *tx, const char *key)
{
	int rc = hash_ns_any(tx->c, tx->st->cdbi, OG_HASH_ERASED);

	return rc <= 0 ? rc
	               : erased_key(tx->st, tx->c, tx->st->cdbi, key, NULL);
}

int
og_store_erased_gone(og_store *st, const char *key)
{
	og_rtxn *tx;
	og_record *rec;
	int rc, gone;

	if (og_store_rbegin(st, &tx) != 0)
		return 0;
	rec = og_xcalloc(1, sizeof(*rec));
	rc = og_store_get(tx, key, rec);
	free(rec);
	gone = rc == OG_NOTFOUND && og_store_erased(tx, key) > 0;
	og_store_rend(tx);
	return gone;
}

/*
 * Whether the store holds any erased hash (looked up once per apply) and
 * then whether key's is one: 1, 0 or an error.
 */
static int
erased_hash_exists(og_store *st, struct wctx *w, const char *key, int64_t *when)
{
	if (w->have_erased < 0 &&
	    (w->have_erased = hash_ns_any(w->txn, w->dbi, OG_HASH_ERASED)) < 0)
		return w->have_erased;
	return w->have_erased ? erased_key(st, w->txn, w->dbi, key, when) : 0;
}

/*
 * Run fn in one durable write transaction of the consent environment,
 * with the writer lock, map growth and adoption handled as in
 * og_store_apply.  fn must be repeatable (it may run again after
 * MDB_MAP_FULL grew the map).
 */
static int
cwrite(og_store *st, int (*fn)(og_store *, MDB_txn *, void *), void *ctx)
{
	MDB_txn *txn;
	int rc = 0, tries;

	if (st->flags & OG_STORE_RDONLY)
		return OG_EINVAL;
	pthread_mutex_lock(&st->wlock);
	if ((rc = consent_follow(st)) > 0)
		rc = 0;
	for (tries = 0; rc == 0 && tries < 40; tries++) {
		rd_lock(st);
		rc = mdb_txn_begin(st->cenv, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			rd_unlock(st);
			if ((rc = resize(st, st->cenv, st->cmax, 0)) != 0)
				break;
			continue;
		}
		if (rc != 0) {
			rd_unlock(st);
			rc = map_err(rc);
			break;
		}
		rc = fn(st, txn, ctx);
		if (rc == 0)
			rc = commit_err(st,
			    map_err(commit_uncut(st->cenv, txn, &st->cfile)));
		else
			mdb_txn_abort(txn);
		rd_unlock(st);
		if (rc != OG_EFULL)
			break;
		if ((rc = resize(st, st->cenv, st->cmax, 1)) != 0)
			break;
	}
	pthread_mutex_unlock(&st->wlock);
	return rc;
}

static int
meta_get64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v)
{
	unsigned char b[8];
	int rc;

	if ((rc = meta_get(txn, dbi, name, b, 8)) != 0)
		return rc;
	*v = og_get_be64(b);
	return 0;
}

static int
meta_put64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v)
{
	unsigned char b[8];

	og_put_be64(b, v);
	return map_err(meta_put(txn, dbi, name, b, 8));
}

/* Append ev as event number seq. */
static int
event_append(og_store *st, MDB_txn *txn, og_event *ev, uint64_t seq,
    unsigned char *buf, size_t size)
{
	unsigned char ek[9];
	MDB_val k, v;
	size_t len;
	int rc;

	ev->seq = seq;
	if ((rc = event_encode(ev, buf, size, &len)) != 0)
		return rc;
	ek[0] = 'E';
	og_put_be64(ek + 1, seq);
	k.mv_size = 9;
	k.mv_data = ek;
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_put(txn, st->edbi, &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		return OG_ECORRUPT;
	return map_err(rc);
}

static void
event_clear(og_event *ev)
{
	int i;

	memset(ev, 0, offsetof(og_event, f));
	for (i = 0; i < OG_EVF_NFIELDS; i++)
		ev->f[i][0] = 0;
}

struct erase_ctx {
	const char *key;
	int64_t now;
	const char *note;
	uint64_t nevents;
	int norecord; /* erased without a record */
	og_record rec;
	og_event ev;
	unsigned char buf[EV_MAX];
};

static int
erase_txn(og_store *st, MDB_txn *txn, void *vctx)
{
	struct erase_ctx *x = vctx;
	unsigned char kb[OG_ADDR_MAX + 40], h[32], vb[HV_LEN];
	uint64_t seq, records, s;
	MDB_val k, v;
	size_t len;
	int rc, i;

	x->nevents = 0;
	x->norecord = 0;
	if ((rc = get_record(txn, st->cdbi, x->key, &x->rec)) != 0) {
		if (rc != OG_NOTFOUND)
			return rc;
		/*
		 * No record: erased already (its hash is kept), or never
		 * recorded (mail of a consent = none or transactional
		 * stream only).  She asked to be forgotten all the same: the
		 * erasure is kept, so no mail goes to her until a new
		 * opt-in (the gate reads the hash where it finds no record).
		 */
		if ((rc = og_store_hash(st, x->key, h)) != 0)
			return rc;
		k.mv_size = hkey(kb, OG_HASH_ERASED, h, NULL);
		k.mv_data = kb;
		if ((rc = mdb_get(txn, st->cdbi, &k, &v)) == 0)
			return OG_NOTFOUND;
		if (rc != MDB_NOTFOUND)
			return map_err(rc);
		memset(&x->rec, 0, sizeof(x->rec));
		x->norecord = 1;
	}
	if ((rc = meta_get64(txn, st->cdbi, "seq", &seq)) != 0 ||
	    (rc = meta_get64(txn, st->cdbi, "records", &records)) != 0)
		return rc;
	/* Strip the chain: keep what says when and what, not who. */
	for (s = x->rec.last_event; s != 0; s = x->ev.prev) {
		og_put_be64(kb + 1, s);
		kb[0] = 'E';
		k.mv_size = 9;
		k.mv_data = kb;
		if ((rc = mdb_get(txn, st->edbi, &k, &v)) != 0)
			return map_err(rc);
		if ((rc = og_event_decode(v.mv_data, v.mv_size, s, &x->ev)) !=
		    0)
			return rc;
		for (i = 1; i < OG_EVF_NFIELDS; i++)
			if (i != OG_EVF_NAME && i != OG_EVF_STATUS &&
			    i != OG_EVF_STREAM)
				x->ev.f[i][0] = 0;
		if ((rc = event_encode(&x->ev, x->buf, sizeof(x->buf), &len)) !=
		    0)
			return rc;
		v.mv_size = len;
		v.mv_data = x->buf;
		if ((rc = mdb_put(txn, st->edbi, &k, &v, 0)) != 0)
			return map_err(rc);
		x->nevents++;
		if (x->ev.prev >= s)
			return OG_ECORRUPT;
	}
	k.mv_size = mkkey(kb, 'A', x->key, NULL);
	k.mv_data = kb;
	if (!x->norecord && (rc = mdb_del(txn, st->cdbi, &k, NULL)) != 0)
		return map_err(rc);
	/* The erase event continues the (stripped) chain. */
	event_clear(&x->ev);
	x->ev.time = x->now;
	x->ev.kind = OG_EV_ERASE;
	x->ev.scope = OG_SCOPE_ALL;
	x->ev.new_state = OG_ST_SUPPRESSED;
	x->ev.reason = OG_RS_ERASED;
	x->ev.via = OG_VIA_ADMIN;
	x->ev.prev = x->rec.last_event;
	if (x->note)
		og_strlcpy(x->ev.f[OG_EVF_NOTE], x->note, OG_EVF_MAX + 1);
	if ((rc = event_append(st, txn, &x->ev, seq, x->buf, sizeof(x->buf))) !=
	    0)
		return rc;
	/* (without a record, h was computed above) */
	if (!x->norecord && (rc = og_store_hash(st, x->key, h)) != 0)
		return rc;
	k.mv_size = hkey(kb, OG_HASH_ERASED, h, NULL);
	k.mv_data = kb;
	hval(vb, x->now, seq, OG_RS_ERASED);
	v.mv_size = HV_LEN;
	v.mv_data = vb;
	if ((rc = mdb_put(txn, st->cdbi, &k, &v, 0)) != 0)
		return map_err(rc);
	if ((rc = meta_put64(txn, st->cdbi, "seq", seq + 1)) != 0)
		return rc;
	if (x->norecord)
		return 0;
	return meta_put64(txn, st->cdbi, "records", records ? records - 1 : 0);
}

/*
 * Delete the counter records whose key starts with prefix (n bytes), or
 * with exact, only the one whose key is prefix.
 */
static int
counters_del(og_store *st, const unsigned char *prefix, size_t n, int exact)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = kwrite_begin(st, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, st->kdbi, &cur)) != 0)
		goto out;
	k.mv_size = n;
	k.mv_data = (void *)prefix;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && (exact ? k.mv_size == n : k.mv_size >= n) &&
	       memcmp(k.mv_data, prefix, n) == 0) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		/* after a delete, NEXT yields the item now current */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	rd_unlock(st);
	return kfull(commit_err(st, map_err(rc)));
}

int
og_store_erase(og_store *st, const char *key, int64_t now, const char *note,
    uint64_t *nevents)
{
	struct erase_ctx *x;
	unsigned char kb[OG_ADDR_MAX + 3];
	size_t kl;
	int rc, krc, norecord;

	if (key == NULL || *key == 0 || strlen(key) > OG_ADDR_MAX)
		return OG_EINVAL;
	x = og_xcalloc(1, sizeof(*x));
	x->key = key;
	x->now = now;
	x->note = note;
	rc = cwrite(st, erase_txn, x);
	if (nevents)
		*nevents = rc == 0 ? x->nevents : 0;
	norecord = rc == 0 && x->norecord;
	free(x);
	if (rc != 0 && rc != OG_NOTFOUND)
		return rc;
	/*
	 * Send and bounce times are personal data too.  Also without a
	 * record (only transactional mail was counted, or an earlier erase
	 * stopped after its commit): the counters go all the same.
	 */
	kl = mkkey(kb, 'S', key, "");
	if ((krc = counters_del(st, kb, kl, 0)) != 0)
		return krc;
	kl = mkkey(kb, 'P', key, "");
	if ((krc = counters_del(st, kb, kl, 0)) != 0)
		return krc;
	/* 'B' key has no terminator: delete exactly it, not a prefix */
	kl = mkkey(kb, 'B', key, NULL);
	if ((krc = counters_del(st, kb, kl, 1)) == 0)
		krc = og_store_sync_counters(st);
	return krc != 0 ? krc : norecord ? 1 : rc;
}

int
og_store_foreach_event_from(
    og_store *st, uint64_t seq, int (*fn)(const og_event *, void *), void *ctx)
{
	og_event *ev = og_xmalloc(sizeof(*ev));
	og_rtxn *tx;
	int rc;

	if ((rc = og_store_rbegin(st, &tx)) != 0)
		goto out;
	while (seq != 0) {
		if ((rc = og_store_event_get(tx, seq, ev)) != 0)
			break;
		if ((rc = fn(ev, ctx)) != 0)
			break;
		if (ev->prev >= seq) {
			rc = OG_ECORRUPT;
			break;
		}
		seq = ev->prev;
	}
	og_store_rend(tx);
out:
	free(ev);
	return rc;
}

/*
 * Walk the keys of one database (counters main, consent events or consent
 * main) from start (slen bytes) while they begin with prefix (plen
 * bytes), OG_ITER_BATCH per read transaction, so a long walk does not pin
 * old pages.  fn gets key and value (valid during the call only).
 */
enum { DB_MAIN, DB_EVENTS, DB_COUNTERS };

static int
scan(og_store *st, int db, const unsigned char *start, size_t slen,
    const unsigned char *prefix, size_t plen,
    int (*fn)(og_rtxn *, const MDB_val *, const MDB_val *, void *), void *ctx)
{
	unsigned char last[600];
	size_t llen = slen;
	int rc = 0, skip_eq = 0;

	if (slen > sizeof(last))
		return OG_EINVAL;
	memcpy(last, start, slen);
	for (;;) {
		og_rtxn *tx;
		MDB_cursor *cur;
		MDB_val k, v;
		int n = 0, mrc;

		if ((rc = og_store_rbegin(st, &tx)) != 0)
			break;
		mrc = mdb_cursor_open(db == DB_COUNTERS ? tx->k : tx->c,
		    db == DB_COUNTERS ? st->kdbi
		    : db == DB_EVENTS ? st->edbi
		                      : st->cdbi,
		    &cur);
		if (mrc != 0) {
			og_store_rend(tx);
			rc = map_err(mrc);
			break;
		}
		k.mv_size = llen;
		k.mv_data = last;
		mrc = mdb_cursor_get(
		    cur, &k, &v, llen ? MDB_SET_RANGE : MDB_FIRST);
		while (mrc == 0 && rc == 0) {
			if (k.mv_size < plen ||
			    memcmp(k.mv_data, prefix, plen) != 0) {
				mrc = MDB_NOTFOUND;
				break;
			}
			if (skip_eq && k.mv_size == llen &&
			    memcmp(k.mv_data, last, llen) == 0) {
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
				continue;
			}
			if (n >= OG_ITER_BATCH)
				break;
			if (k.mv_size > sizeof(last)) {
				rc = OG_ECORRUPT;
				break;
			}
			memcpy(last, k.mv_data, k.mv_size);
			llen = k.mv_size;
			rc = fn(tx, &k, &v, ctx);
			n++;
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		if (mrc != 0 && mrc != MDB_NOTFOUND && rc == 0)
			rc = map_err(mrc);
		mdb_cursor_close(cur);
		og_store_rend(tx);
		skip_eq = 1;
		if (rc != 0 || n < OG_ITER_BATCH)
			break;
	}
	return rc;
}

struct evall_ctx {
	int (*fn)(const og_event *, void *);
	void *ctx;
	og_event ev;
};

static int
evall_one(og_rtxn *tx, const MDB_val *k, const MDB_val *v, void *vctx)
{
	struct evall_ctx *x = vctx;
	int rc;

	(void)tx;
	if (k->mv_size != 9)
		return OG_ECORRUPT;
	rc = og_event_decode(v->mv_data, v->mv_size,
	    og_get_be64((const unsigned char *)k->mv_data + 1), &x->ev);
	return rc != 0 ? rc : x->fn(&x->ev, x->ctx);
}

int
og_store_foreach_event_all(
    og_store *st, uint64_t seq, int (*fn)(const og_event *, void *), void *ctx)
{
	struct evall_ctx *x = og_xmalloc(sizeof(*x));
	unsigned char kb[9];
	int rc;

	x->fn = fn;
	x->ctx = ctx;
	kb[0] = 'E';
	og_put_be64(kb + 1, seq);
	rc = scan(st, DB_EVENTS, kb, 9, kb, 1, evall_one, x);
	free(x);
	return rc;
}

struct hall_ctx {
	int (*fn)(const og_hashed *, void *);
	void *ctx;
	og_hashed h;
};

static int
hall_one(og_rtxn *tx, const MDB_val *k, const MDB_val *v, void *vctx)
{
	struct hall_ctx *x = vctx;
	int rc;

	(void)tx;
	if ((rc = hashed_decode(k, v, &x->h)) != 0)
		return rc;
	return x->fn(&x->h, x->ctx);
}

int
og_store_foreach_hashed(
    og_store *st, int (*fn)(const og_hashed *, void *), void *ctx)
{
	struct hall_ctx x;
	unsigned char kb[1] = {'H'};

	x.fn = fn;
	x.ctx = ctx;
	return scan(st, DB_MAIN, kb, 1, kb, 1, hall_one, &x);
}

int
og_store_partner_key_get(og_rtxn *tx, const char *partner, unsigned char *key,
    size_t size, size_t *len)
{
	unsigned char kb[OG_STREAM_NAME_MAX + 2];
	MDB_val k, v;
	int rc;

	*len = 0;
	if (partner == NULL || *partner == 0 ||
	    strlen(partner) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	k.mv_size = mkkey(kb, 'K', partner, NULL);
	k.mv_data = kb;
	if ((rc = mdb_get(tx->c, tx->st->cdbi, &k, &v)) != 0)
		return map_err(rc);
	if (v.mv_size < 1 + OG_PARTNER_KEY_MIN ||
	    v.mv_size > 1 + OG_PARTNER_KEY_MAX ||
	    ((const unsigned char *)v.mv_data)[0] != 1)
		return OG_ECORRUPT;
	if (v.mv_size - 1 > size)
		return OG_ETOOBIG;
	memcpy(key, (const unsigned char *)v.mv_data + 1, v.mv_size - 1);
	*len = v.mv_size - 1;
	return 0;
}

struct hashimp_ctx {
	const char *partner;
	const unsigned char *key;
	size_t keylen;
	const unsigned char (*hashes)[32];
	size_t n, added;
	int64_t now;
	const char *note;
	og_event ev;
	unsigned char buf[EV_MAX];
};

static int
hashimp_txn(og_store *st, MDB_txn *txn, void *vctx)
{
	struct hashimp_ctx *x = vctx;
	unsigned char kb[34 + OG_STREAM_NAME_MAX], vb[1 + OG_PARTNER_KEY_MAX];
	unsigned char hv[HV_LEN];
	uint64_t seq;
	MDB_val k, v;
	size_t i;
	int rc;

	x->added = 0;
	if ((rc = meta_get64(txn, st->cdbi, "seq", &seq)) != 0)
		return rc;
	k.mv_size = mkkey(kb, 'K', x->partner, NULL);
	k.mv_data = kb;
	rc = mdb_get(txn, st->cdbi, &k, &v);
	if (rc == 0) {
		if (v.mv_size != 1 + x->keylen ||
		    CRYPTO_memcmp((const unsigned char *)v.mv_data + 1, x->key,
		        x->keylen) != 0)
			return OG_EINVAL;
	} else if (rc == MDB_NOTFOUND) {
		vb[0] = 1;
		memcpy(vb + 1, x->key, x->keylen);
		v.mv_size = 1 + x->keylen;
		v.mv_data = vb;
		if ((rc = mdb_put(txn, st->cdbi, &k, &v, 0)) != 0)
			return map_err(rc);
	} else {
		return map_err(rc);
	}
	hval(hv, x->now, seq, OG_RS_PARTNER);
	for (i = 0; i < x->n; i++) {
		k.mv_size = hkey(kb, OG_HASH_PARTNER, x->hashes[i], x->partner);
		k.mv_data = kb;
		v.mv_size = HV_LEN;
		v.mv_data = hv;
		rc = mdb_put(txn, st->cdbi, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			continue;
		if (rc != 0)
			return map_err(rc);
		x->added++;
	}
	if (x->added == 0)
		return 0;
	event_clear(&x->ev);
	x->ev.time = x->now;
	x->ev.kind = OG_EV_SUPPRESS;
	x->ev.scope = OG_SCOPE_PARTNER;
	x->ev.new_state = OG_ST_SUPPRESSED;
	x->ev.reason = OG_RS_PARTNER;
	x->ev.via = OG_VIA_IMPORT;
	og_strlcpy(x->ev.f[OG_EVF_NAME], x->partner, OG_EVF_MAX + 1);
	snprintf(x->ev.f[OG_EVF_NOTE], OG_EVF_MAX + 1, "%zu hashes%s%s",
	    x->added, x->note ? ": " : "", x->note ? x->note : "");
	if ((rc = event_append(st, txn, &x->ev, seq, x->buf, sizeof(x->buf))) !=
	    0)
		return rc;
	return meta_put64(txn, st->cdbi, "seq", seq + 1);
}

int
og_store_import_hashed(og_store *st, const char *partner,
    const unsigned char *key, size_t keylen, const unsigned char (*hashes)[32],
    size_t n, int64_t now, const char *note, size_t *added)
{
	struct hashimp_ctx *x;
	int rc;

	if (added)
		*added = 0;
	if (partner == NULL || *partner == 0 ||
	    strlen(partner) > OG_STREAM_NAME_MAX ||
	    keylen < OG_PARTNER_KEY_MIN || keylen > OG_PARTNER_KEY_MAX)
		return OG_EINVAL;
	x = og_xcalloc(1, sizeof(*x));
	x->partner = partner;
	x->key = key;
	x->keylen = keylen;
	x->hashes = hashes;
	x->n = n;
	x->now = now;
	x->note = note;
	rc = cwrite(st, hashimp_txn, x);
	if (rc == 0 && added)
		*added = x->added;
	free(x);
	return rc;
}

struct pdrop_ctx {
	const char *partner;
	int64_t now;
	uint64_t dropped;
	og_event ev;
	unsigned char buf[EV_MAX];
};

static int
pdrop_txn(og_store *st, MDB_txn *txn, void *vctx)
{
	struct pdrop_ctx *x = vctx;
	unsigned char kb[34 + OG_STREAM_NAME_MAX];
	size_t pl = strlen(x->partner);
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t seq;
	int rc;

	x->dropped = 0;
	if ((rc = meta_get64(txn, st->cdbi, "seq", &seq)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, st->cdbi, &cur)) != 0)
		return map_err(rc);
	kb[0] = 'H';
	kb[1] = OG_HASH_PARTNER;
	k.mv_size = 2;
	k.mv_data = kb;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= 34 && memcmp(k.mv_data, kb, 2) == 0) {
		if (k.mv_size == 34 + pl &&
		    memcmp((const char *)k.mv_data + 34, x->partner, pl) == 0) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			x->dropped++;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	k.mv_size = mkkey(kb, 'K', x->partner, NULL);
	k.mv_data = kb;
	rc = mdb_del(txn, st->cdbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (x->dropped == 0)
		return 0;
	event_clear(&x->ev);
	x->ev.time = x->now;
	x->ev.kind = OG_EV_UNSUPPRESS;
	x->ev.scope = OG_SCOPE_PARTNER;
	x->ev.old_state = OG_ST_SUPPRESSED;
	x->ev.reason = OG_RS_PARTNER;
	x->ev.via = OG_VIA_ADMIN;
	og_strlcpy(x->ev.f[OG_EVF_NAME], x->partner, OG_EVF_MAX + 1);
	snprintf(x->ev.f[OG_EVF_NOTE], OG_EVF_MAX + 1,
	    "partner list dropped: %llu hashes",
	    (unsigned long long)x->dropped);
	if ((rc = event_append(st, txn, &x->ev, seq, x->buf, sizeof(x->buf))) !=
	    0)
		return rc;
	return meta_put64(txn, st->cdbi, "seq", seq + 1);
}

int
og_store_partner_drop(
    og_store *st, const char *partner, int64_t now, uint64_t *dropped)
{
	struct pdrop_ctx *x;
	int rc;

	if (partner == NULL || *partner == 0 ||
	    strlen(partner) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	x = og_xcalloc(1, sizeof(*x));
	x->partner = partner;
	x->now = now;
	rc = cwrite(st, pdrop_txn, x);
	if (dropped)
		*dropped = rc == 0 ? x->dropped : 0;
	free(x);
	return rc;
}

int
og_store_day_sends(og_rtxn *tx, const char *stream, uint32_t day, uint64_t *n)
{
	unsigned char kb[OG_STREAM_NAME_MAX + 6];
	size_t kl;
	MDB_val k, v;
	int rc;

	*n = 0;
	if (strlen(stream) > OG_STREAM_NAME_MAX)
		return OG_EINVAL;
	kl = mkkey(kb, 'D', stream, "");
	og_put_be32(kb + kl, day);
	k.mv_size = kl + 4;
	k.mv_data = kb;
	rc = mdb_get(tx->k, tx->st->kdbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	if (v.mv_size != 8)
		return OG_ECORRUPT;
	*n = og_get_be64(v.mv_data);
	return 0;
}

/* Is this counter record past its horizon?  1 yes, 0 no. */
static int
counter_expired(const MDB_val *k, const MDB_val *v, int64_t sends_before,
    int64_t bounces_before, uint32_t days_before)
{
	const unsigned char *kp = k->mv_data, *vp = v->mv_data;

	switch (kp[0]) {
	case 'S':
	case 'B':
		/* newest first; a damaged one goes too ('B' has a version 2:
		 * its first time is where version 1 has it) */
		if (v->mv_size < 6 || vp[1] == 0 ||
		    !(vp[0] == 1 || (vp[0] == 2 && kp[0] == 'B')))
			return 1;
		return (int64_t)og_get_be32(vp + 2) <
		       (kp[0] == 'S' ? sends_before : bounces_before);
	case 'D':
		return k->mv_size >= 6 &&
		       og_get_be32(kp + k->mv_size - 4) < days_before;
	case 'P': {
		/* held sends: none left when none is live now */
		uint32_t pids[OG_SENDS_MAX], untils[OG_SENDS_MAX];

		return holds_decode(v, og_time_now(), pids, untils) <= 0;
	}
	}
	return 0;
}

int
og_store_expire_counters(og_store *st, int64_t sends_before,
    int64_t bounces_before, uint32_t days_before, uint64_t *dropped)
{
	unsigned char last[600], from[600];
	size_t llen = 0, flen;
	uint64_t total = 0, before;
	int rc = 0, done = 0, lim = 5000;

	while (!done) {
		MDB_txn *txn;
		MDB_cursor *cur;
		MDB_val k, v;
		int n = 0, mrc;

		if ((rc = kwrite_begin(st, &txn)) != 0)
			break;
		if ((mrc = mdb_cursor_open(txn, st->kdbi, &cur)) != 0) {
			mdb_txn_abort(txn);
			rd_unlock(st);
			rc = map_err(mrc);
			break;
		}
		/* where this transaction starts, to start again from */
		memcpy(from, last, llen);
		flen = llen;
		before = total;
		k.mv_size = llen;
		k.mv_data = last;
		mrc = mdb_cursor_get(
		    cur, &k, &v, llen ? MDB_SET_RANGE : MDB_FIRST);
		/* Up to 5000 records a transaction: writers wait little. */
		while (mrc == 0 && n < lim) {
			if (k.mv_size > sizeof(last)) {
				mrc = MDB_NOTFOUND; /* not ours: stop */
				break;
			}
			memcpy(last, k.mv_data, k.mv_size);
			llen = k.mv_size;
			if (counter_expired(&k, &v, sends_before,
			        bounces_before, days_before)) {
				if ((mrc = mdb_cursor_del(cur, 0)) != 0)
					break;
				total++;
				/* NEXT after a delete: the item now current */
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			} else {
				mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			}
			n++;
		}
		mdb_cursor_close(cur);
		if (mrc == MDB_NOTFOUND) {
			done = 1;
			mrc = 0;
		}
		if (mrc == 0)
			mrc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		rd_unlock(st);
		if (mrc == MDB_MAP_FULL) {
			/*
			 * A delete copies the pages it changes, and a full
			 * map has few free: the same records again in
			 * smaller transactions (each one frees pages for
			 * the next), growing the map only when one record
			 * does not fit.
			 */
			memcpy(last, from, flen);
			llen = flen;
			total = before;
			done = 0;
			if (lim > 1) {
				lim = lim > 16 ? 16 : 1;
				continue;
			}
			if ((rc = resize(st, st->kenv, st->kmax, 1)) != 0)
				break;
			continue;
		}
		if (mrc != 0) {
			rc = commit_err(st, map_err(mrc));
			break;
		}
	}
	if (rc == 0)
		rc = og_store_sync_counters(st);
	if (dropped)
		*dropped = total;
	return kfull(rc);
}

#define VERIFY_REPORT_MAX 100
#define CHAIN_MAX 4096

struct verify_ctx {
	og_store *st;
	void (*report)(const char *, void *);
	void *rctx;
	og_verify_stats *vs;
	uint64_t next_seq;
	og_record rec;
	og_event ev;
	uint64_t chain[CHAIN_MAX];
};

static void problem(struct verify_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct verify_ctx *x, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (x->vs->problems++ >= VERIFY_REPORT_MAX || x->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->report(msg, x->rctx);
}

static void
hex8(const unsigned char *h, char *out)
{
	int i;

	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Whether seq is one of the n events of a record's chain. */
static int
on_chain(const uint64_t *chain, int n, uint64_t seq)
{
	int j;

	for (j = 0; j < n; j++)
		if (chain[j] == seq)
			return 1;
	return 0;
}

static void
verify_record(
    struct verify_ctx *x, og_rtxn *tx, const MDB_val *k, const MDB_val *v)
{
	char key[OG_ADDR_MAX + 1];
	size_t kl = k->mv_size - 1;
	uint64_t s;
	int rc, n = 0, i;

	x->vs->records++;
	if (kl == 0 || kl > OG_ADDR_MAX) {
		problem(x, "record with a key of %zu bytes", kl);
		return;
	}
	memcpy(key, (const char *)k->mv_data + 1, kl);
	key[kl] = 0;
	if (memchr(key, 0, kl) != NULL) {
		problem(x, "record key with a NUL byte");
		return;
	}
	if ((rc = og_record_decode(v->mv_data, v->mv_size, key, &x->rec)) !=
	    0) {
		problem(
		    x, "record %s does not decode: %s", key, og_strerror(rc));
		return;
	}
	if (x->rec.last_event == 0 || x->rec.last_event >= x->next_seq) {
		problem(x, "record %s: last event %llu out of range", key,
		    (unsigned long long)x->rec.last_event);
		return;
	}
	for (s = x->rec.last_event; s != 0; s = x->ev.prev) {
		if ((rc = og_store_event_get(tx, s, &x->ev)) != 0) {
			problem(x, "record %s: event %llu on its chain: %s",
			    key, (unsigned long long)s,
			    rc == OG_NOTFOUND ? "missing" : og_strerror(rc));
			return;
		}
		if (strcmp(x->ev.f[OG_EVF_KEY], key) != 0) {
			problem(x, "record %s: event %llu belongs to \"%s\"",
			    key, (unsigned long long)s, x->ev.f[OG_EVF_KEY]);
			return;
		}
		if (x->ev.prev >= s) {
			problem(x,
			    "record %s: event %llu links forward to "
			    "%llu",
			    key, (unsigned long long)s,
			    (unsigned long long)x->ev.prev);
			return;
		}
		if (n < CHAIN_MAX)
			x->chain[n] = s;
		n++;
		x->vs->chained++;
	}
	if (n > CHAIN_MAX)
		return;
	for (i = 0; i < x->rec.nentries; i++) {
		const og_entry *e = &x->rec.entries[i];

		if (!on_chain(x->chain, n, e->event))
			problem(x,
			    "record %s: entry %s/%s names event %llu, "
			    "not on its chain",
			    key, og_scope_name(e->scope), e->name,
			    (unsigned long long)e->event);
		if (e->resume && !on_chain(x->chain, n, e->resume_event))
			problem(x,
			    "record %s: pause %s/%s resumes event %llu, "
			    "not on its chain",
			    key, og_scope_name(e->scope), e->name,
			    (unsigned long long)e->resume_event);
	}
}

static int
verify_main(og_rtxn *tx, const MDB_val *k, const MDB_val *v, void *vctx)
{
	struct verify_ctx *x = vctx;
	const unsigned char *kp = k->mv_data;
	og_hashed h;
	char hx[17];
	int rc;

	if (k->mv_size == 0) {
		problem(x, "empty key in the consent database");
		return 0;
	}
	switch (kp[0]) {
	case 'M':
		x->vs->meta++;
		break;
	case 'A':
		verify_record(x, tx, k, v);
		break;
	case 'H':
		x->vs->hashes++;
		if (hashed_decode(k, v, &h) != 0) {
			problem(x,
			    "keyed-hash record of %zu/%zu bytes does "
			    "not decode",
			    k->mv_size, v->mv_size);
			break;
		}
		hex8(h.hash, hx);
		if (h.event == 0 || h.event >= x->next_seq ||
		    (rc = og_store_event_get(tx, h.event, &x->ev)) != 0)
			problem(x,
			    "keyed hash %s...: its event %llu is "
			    "missing",
			    hx, (unsigned long long)h.event);
		if (h.ns == OG_HASH_PARTNER) {
			unsigned char key[OG_PARTNER_KEY_MAX];
			size_t len;

			if (og_store_partner_key_get(
			        tx, h.name, key, sizeof(key), &len) != 0)
				problem(x,
				    "keyed hash %s... of partner %s: "
				    "no usable partner key",
				    hx, h.name);
			OPENSSL_cleanse(key, sizeof(key));
		}
		break;
	case 'K':
		x->vs->keys++;
		{
			const unsigned char *vp = v->mv_data;

			if (v->mv_size < 1 + OG_PARTNER_KEY_MIN ||
			    v->mv_size > 1 + OG_PARTNER_KEY_MAX || vp[0] != 1)
				problem(x,
				    "partner key record %.*s does not "
				    "decode",
				    (int)(k->mv_size - 1),
				    (const char *)kp + 1);
		}
		break;
	default:
		problem(x,
		    "unknown record type 0x%02x in the consent "
		    "database",
		    kp[0]);
	}
	return 0;
}

static int
verify_event(og_rtxn *tx, const MDB_val *k, const MDB_val *v, void *vctx)
{
	struct verify_ctx *x = vctx;
	uint64_t seq;
	int rc;

	(void)tx;
	x->vs->events++;
	if (k->mv_size != 9 || ((const unsigned char *)k->mv_data)[0] != 'E') {
		problem(x, "event with a bad key (%zu bytes)", k->mv_size);
		return 0;
	}
	seq = og_get_be64((const unsigned char *)k->mv_data + 1);
	if (seq == 0 || seq >= x->next_seq)
		problem(x, "event %llu beyond the next sequence number %llu",
		    (unsigned long long)seq, (unsigned long long)x->next_seq);
	if ((rc = og_event_decode(v->mv_data, v->mv_size, seq, &x->ev)) != 0) {
		problem(x, "event %llu does not decode: %s",
		    (unsigned long long)seq, og_strerror(rc));
		return 0;
	}
	if (x->ev.kind < OG_EV_OPTIN || x->ev.kind > OG_EV_PREF ||
	    x->ev.scope > OG_SCOPE_STREAM ||
	    x->ev.old_state > OG_ST_SUPPRESSED ||
	    x->ev.new_state > OG_ST_SUPPRESSED || x->ev.prev >= seq)
		problem(x,
		    "event %llu has impossible fields (kind %u, "
		    "scope %u, states %u>%u, prev %llu)",
		    (unsigned long long)seq, x->ev.kind, x->ev.scope,
		    x->ev.old_state, x->ev.new_state,
		    (unsigned long long)x->ev.prev);
	return 0;
}

static int
verify_counter(og_rtxn *tx, const MDB_val *k, const MDB_val *v, void *vctx)
{
	struct verify_ctx *x = vctx;
	const unsigned char *kp = k->mv_data, *vp = v->mv_data;
	int64_t times[OG_SENDS_MAX];
	uint64_t ids[OG_SENDS_MAX];
	int n;

	(void)tx;
	x->vs->counters++;
	if (k->mv_size == 0) {
		problem(x, "empty key in the counters database");
		return 0;
	}
	switch (kp[0]) {
	case 'S':
	case 'B':
		if ((kp[0] == 'S' ? decode_sends(v, times, OG_SENDS_MAX, &n)
		                  : decode_bounces(
		                        v, times, ids, OG_SENDS_MAX, &n)) != 0)
			problem(x, "counter %c%.*s does not decode", kp[0],
			    (int)(k->mv_size > 60 ? 60 : k->mv_size - 1),
			    (const char *)kp + 1);
		break;
	case 'P':
		if (v->mv_size < 2 || vp[0] != 1 || vp[1] > OG_SENDS_MAX ||
		    v->mv_size != 2 + 8 * (size_t)vp[1])
			problem(x, "held sends %.*s do not decode",
			    (int)(k->mv_size > 60 ? 60 : k->mv_size - 1),
			    (const char *)kp + 1);
		break;
	case 'D':
		if (v->mv_size != 8 || k->mv_size < 6)
			problem(x, "day total %.*s does not decode",
			    (int)(k->mv_size > 60 ? 60 : k->mv_size - 1),
			    (const char *)kp + 1);
		break;
	default:
		problem(x,
		    "unknown record type 0x%02x in the counters "
		    "database",
		    kp[0]);
	}
	return 0;
}

int
og_store_verify(og_store *st, void (*report)(const char *, void *), void *ctx,
    og_verify_stats *vs)
{
	struct verify_ctx *x;
	unsigned char none[1] = {0};
	uint64_t records0 = 0, seq0 = 0, records1 = 0, seq1 = 0;
	og_rtxn *tx;
	int rc;

	memset(vs, 0, sizeof(*vs));
	x = og_xcalloc(1, sizeof(*x));
	x->st = st;
	x->report = report;
	x->rctx = ctx;
	x->vs = vs;
	if ((rc = og_store_rbegin(st, &tx)) != 0)
		goto out;
	{
		unsigned char b[32];

		if (meta_get(tx->c, st->cdbi, "schema", b, 4) != 0)
			problem(x, "meta: schema version missing");
		else if (og_get_be32(b) == 0 ||
		         og_get_be32(b) > OG_SCHEMA_VERSION)
			problem(x, "meta: schema version %u unknown",
			    og_get_be32(b));
		if (meta_get64(tx->c, st->cdbi, "seq", &seq0) != 0 || seq0 == 0)
			problem(x, "meta: event sequence missing");
		if (meta_get64(tx->c, st->cdbi, "records", &records0) != 0)
			problem(x, "meta: record count missing");
		if (meta_get(tx->c, st->cdbi, "secret", b, 32) != 0)
			problem(x, "meta: store secret missing");
		if (meta_get(tx->c, st->cdbi, "origin", b, 4) != 0)
			problem(x, "meta: origin missing");
		OPENSSL_cleanse(b, sizeof(b));
	}
	og_store_rend(tx);
	/* Concurrent writers only add: the end value bounds everything. */
	x->next_seq = UINT64_MAX;
	if ((rc = scan(st, DB_EVENTS, none, 0, none, 0, verify_event, x)) != 0)
		goto out;
	if ((rc = og_store_rbegin(st, &tx)) != 0)
		goto out;
	meta_get64(tx->c, st->cdbi, "seq", &seq1);
	og_store_rend(tx);
	x->next_seq = seq1 ? seq1 : UINT64_MAX;
	if ((rc = scan(st, DB_MAIN, none, 0, none, 0, verify_main, x)) != 0)
		goto out;
	if ((rc = scan(st, DB_COUNTERS, none, 0, none, 0, verify_counter, x)) !=
	    0)
		goto out;
	if ((rc = og_store_rbegin(st, &tx)) != 0)
		goto out;
	meta_get64(tx->c, st->cdbi, "records", &records1);
	meta_get64(tx->c, st->cdbi, "seq", &seq1);
	og_store_rend(tx);
	/* Counts are only comparable when nobody wrote meanwhile. */
	if (records0 == records1 && seq0 == seq1) {
		if (vs->records != records1)
			problem(x,
			    "meta says %llu address records, found "
			    "%llu",
			    (unsigned long long)records1,
			    (unsigned long long)vs->records);
		if (seq1 && vs->events != seq1 - 1)
			problem(x, "meta says %llu events, found %llu",
			    (unsigned long long)(seq1 - 1),
			    (unsigned long long)vs->events);
	}
	rc = vs->problems ? OG_ECORRUPT : 0;
out:
	free(x);
	return rc;
}
