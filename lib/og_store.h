/*
 * og_store.h - the LMDB store of consent, suppressions, events and sends.
 *
 * Only og_store.c includes lmdb.h.  A store is a folder with two LMDB
 * environments:
 *
 *   PATH/consent/   durable: every write transaction is committed with sync
 *                   on, and og_store_apply() returns only after that, so an
 *                   acknowledged opt-out survives kill -9 and power loss.
 *   PATH/counters/  soft state: per-recipient send times and per-stream
 *                   daily totals, written with MDB_NOSYNC and flushed by
 *                   og_store_sync_counters() (daemons call it every
 *                   [store] counter_sync seconds).  If it does not open
 *                   cleanly after a crash it is moved aside and rebuilt
 *                   empty, with a warning.
 *
 * Record layout (database "main" in each environment, plus "events" in
 * consent, so that appended events fill their pages; every key starts
 * with a namespace byte; integers are big-endian so ranges scan in order;
 * every value starts with a version byte and unknown versions are refused):
 *
 * consent:
 *   'M' name            meta: "schema" u32, "seq" u64 (next event),
 *                       "origin" u32 (host id), "secret" 32 bytes (keyed
 *                       hashes), "created" u64, "address" v1 | text (the
 *                       [address] settings the keys are made with; not in
 *                       stores made before optgate kept it)
 *   'A' key             address record (og_record), one per match key:
 *                       v1 | flags u8 | created u32 | last_event u64 |
 *                       rawlen u8 [raw] | nseg u8 {len u8, seg} |
 *                       nent u8 {scope u8, state u8, reason u8, via u8,
 *                       flags u8, namelen u8 name, time u32,
 *                       [event u64], [expires u32],
 *                       [cap_limit u16, cap_period u32]}
 *                       (raw is stored only when it differs from key;
 *                       flags say which optional fields are present:
 *                       event is left out when it is last_event)
 *   'E' seq u64         event (og_event), append-only:
 *                       v1 | flags u8 | time u32 | kind u8 | scope u8 |
 *                       old u8 | new u8 | reason u8 | via u8 |
 *                       [prev u64] | [expires u32] |
 *                       [origin u32, origin_seq u64] |
 *                       {tag u8, len (1 byte < 128, else 2 with the top
 *                       bit set), bytes}...  (tags: OG_EVF_*)
 *                       prev links the events of one address newest to
 *                       oldest, so audit needs no second index.
 *   'H' ns u8 hash[32] [name]  keyed-hash suppressions (erasure, partner
 *                       lists): v1 | time u32 | event u64 | reason u8
 *   'K' name            keys for partner hashes: v1 | key bytes
 *                       (an 'H' OG_HASH_PARTNER name record exists only
 *                       with its 'K' name record, so the gate computes a
 *                       partner HMAC only for partners that have hashes)
 *
 * counters:
 *   'S' key 0x00 stream  send times, newest first: v1 | n u8 | {u32}
 *                       (at most OG_SENDS_MAX kept: windows saturate)
 *   'D' stream 0x00 day u32   accepted sends of a stream that day: u64
 *   'B' key             soft bounces, newest first: v2 | n u8 |
 *                       {time u32, report u64} (report: the identity of
 *                       the report counted, 0 none); v1 | n u8 | {u32}
 *                       (before reports were told apart) is still read
 *   'P' key 0x00 stream  sends held by transactions of other processes
 *                       (og_store_hold): v1 | n u8 | {pid u32, until u32}
 *
 * Thread-safety: one og_store per process, opened after fork, shared by
 * threads.  Both environments are opened with MDB_NOTLS; read handles are
 * cached per thread (og_store_rbegin resets and renews them) and never
 * outlive one callback.  Map resizes (MDB_MAP_FULL: double up to
 * map_size; MDB_MAP_RESIZED: adopt) take every thread's lock, so they
 * never run beside a transaction of this process.  Stale reader slots are
 * cleared at open and by og_store_reader_check().
 *
 * LIMITS: keys <= 511 bytes; OG_ENTRIES_MAX entries and OG_SEGMENTS_MAX
 * segments per address (in a full record, a new opt-out or suppression
 * takes the place of an expired entry or the oldest opt-in; anything else
 * is OG_ETOOBIG); event text fields are capped (OG_EVF_MAX).
 */
#ifndef OG_STORE_H
#define OG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "og_addr.h"
#include "og_config.h"

#define OG_SCHEMA_VERSION 1
/*
 * What a daemon logs when a read of the store's map meets a SIGBUS
 * (og_log_sigbus): the file is shorter than the map, or the disk failed.
 */
#define OG_STORE_SIGBUS_MSG                                                    \
	"SIGBUS reading the store's map: a data.mdb under [store] path "       \
	"was truncated or replaced while open, or its disk failed; stopped. "  \
	"Check it with optgate verify; if it is damaged, stop the daemons "    \
	"and restore a backup (README, Backup and restore)"
#define OG_ENTRIES_MAX 64
#define OG_SEGMENTS_MAX 8
#define OG_SEGMENT_LEN 32
#define OG_SENDS_MAX 32
#define OG_EVF_MAX 512

/* State of one scope entry of an address. */
enum og_state {
	OG_ST_NONE = 0,
	OG_ST_PENDING = 1,   /* double opt-in asked, not confirmed */
	OG_ST_OPTIN = 2,     /* single opt-in */
	OG_ST_CONFIRMED = 3, /* confirmed (double) opt-in, or admin-vouched */
	OG_ST_OPTOUT = 4,    /* the person unsubscribed */
	OG_ST_SUPPRESSED = 5 /* bounce, complaint, admin: see reason */
};

/* An opt-in of any strength: asked (pending), single or confirmed. */
static inline int
og_state_optin(int state)
{
	return state == OG_ST_PENDING || state == OG_ST_OPTIN ||
	       state == OG_ST_CONFIRMED;
}

/* Why a suppression (or opt-out) exists. */
enum og_reason {
	OG_RS_NONE = 0,
	OG_RS_HARD_BOUNCE = 1,
	OG_RS_COMPLAINT = 2,
	OG_RS_MANUAL = 3,
	OG_RS_SOFT_BOUNCE = 4, /* too many soft bounces: temporary */
	OG_RS_ERASED = 5,
	OG_RS_PARTNER = 6 /* on a partner's shared suppression list */
};

/* How a change arrived. */
enum og_via {
	OG_VIA_ADMIN = 0,
	OG_VIA_IMPORT = 1,
	OG_VIA_ONECLICK = 2,
	OG_VIA_PAGE = 3,
	OG_VIA_MAIL = 4,
	OG_VIA_FBL = 5,
	OG_VIA_BOUNCE = 6,
	OG_VIA_CONFIRM = 7,
	OG_VIA_EXPIRE = 8
};

/* Kinds of event. */
enum og_evkind {
	OG_EV_OPTIN = 1, /* new state OPTIN/CONFIRMED/PENDING */
	OG_EV_OPTOUT = 2,
	OG_EV_SUPPRESS = 3,
	OG_EV_UNSUPPRESS = 4,
	OG_EV_CONFIRM = 5,
	OG_EV_ERASE = 6,
	OG_EV_SEGMENT = 7, /* segments replaced */
	OG_EV_PREF = 8     /* person chose a lower cap for a stream */
};

/* Event text fields (tags). */
enum og_evf {
	OG_EVF_KEY = 1,
	OG_EVF_RAW,
	OG_EVF_NAME,
	OG_EVF_SOURCE,
	OG_EVF_IP,
	OG_EVF_UA,
	OG_EVF_PROOF,
	OG_EVF_REPORT_ID,
	OG_EVF_MESSAGE_ID,
	OG_EVF_STATUS,
	OG_EVF_DIAG,
	OG_EVF_MTA,
	OG_EVF_NOTE,
	OG_EVF_SEGMENT,
	OG_EVF_STREAM, /* the stream of the mail a report was about */
	OG_EVF_NFIELDS
};

typedef struct og_entry {
	uint8_t scope;                     /* enum og_scope */
	uint8_t state;                     /* enum og_state */
	uint8_t reason;                    /* enum og_reason */
	uint8_t via;                       /* enum og_via */
	char name[OG_STREAM_NAME_MAX + 1]; /* stream/partner/sender; "" = all */
	int64_t time;
	int64_t expires; /* 0: never */
	uint64_t event;  /* event that set this entry */
	og_cap pref;     /* person's own cap for the stream (limit 0: none) */
	/*
	 * A pause: the consent (OG_ST_PENDING..OG_ST_CONFIRMED) that a
	 * temporary opt-out or suppression of this scope replaced, which
	 * holds again at its end (og_record_settle).  0: none.
	 */
	uint8_t resume;
	uint8_t resume_via;
	int64_t resume_time;
	uint64_t resume_event;
} og_entry;

/*
 * The consent entry e holds, also under a pause (its resume): 1 when it
 * is a single or confirmed opt-in, with *since (NULL: not wanted) when it
 * was given; 0 for none, or one only asked (no consent yet).
 */
static inline int
og_entry_consent(const og_entry *e, int64_t *since)
{
	int s = e->resume ? e->resume : e->state;

	if (s != OG_ST_OPTIN && s != OG_ST_CONFIRMED)
		return 0;
	if (since != NULL)
		*since = e->resume ? e->resume_time : e->time;
	return 1;
}

typedef struct og_record {
	char key[OG_ADDR_MAX + 1];
	char raw[OG_ADDR_MAX + 1];
	unsigned flags;
	int64_t created;
	uint64_t last_event;
	char segments[OG_SEGMENTS_MAX][OG_SEGMENT_LEN + 1];
	int nsegments;
	og_entry entries[OG_ENTRIES_MAX];
	int nentries;
} og_record;

typedef struct og_event {
	uint64_t seq;
	int64_t time;
	uint8_t kind, scope, old_state, new_state, reason, via;
	uint64_t prev;
	uint32_t origin;
	uint64_t origin_seq;
	int64_t expires;
	/* text fields, indexed by enum og_evf; "" when absent */
	char f[OG_EVF_NFIELDS][OG_EVF_MAX + 1];
} og_event;

/* One logical change: one event, and the record updated to match. */
typedef struct og_change {
	const char *key;  /* match key (required) */
	const char *raw;  /* address as given (display) */
	uint8_t kind;     /* enum og_evkind */
	uint8_t scope;    /* enum og_scope */
	const char *name; /* scope name; NULL/"" for ALL */
	uint8_t state;    /* new state (OPTIN kinds, OPTOUT, SUPPRESSED) */
	uint8_t reason, via;
	int64_t time;
	int64_t expires;      /* 0: never */
	og_cap pref;          /* OG_EV_PREF */
	const char *segments; /* OG_EV_SEGMENT or with an opt-in: "a,b" */
	const char *f[OG_EVF_NFIELDS]; /* proof fields; NULL = absent */
	unsigned flags;                /* OG_CH_* */
} og_change;

#define OG_CH_IF_NEWER                                                         \
	0x01 /* skip when the entry is as new or newer;                        \
	      * an opt-in that would create the record of an                   \
	      * erased address (OG_HASH_ERASED) is skipped                     \
	      * (OG_SKIPPED_ERASED), as is, with or without                    \
	      * this flag, an opt-out, suppression or cap:                     \
	      * bulk paths never bring an erased person back;                  \
	      * once back by a new opt-in, an opt-in dated at or               \
	      * before the erasure, or with OG_CH_NO_LIFT, is                  \
	      * skipped too (OG_SKIPPED_ERASED); an OG_EV_PREF                 \
	      * is skipped (OG_SKIPPED_OLDER) where the entry                  \
	      * has another cap already;                                       \
	      * a suppression that would replace a live hard-bounce            \
	      * or manual one with one that lets transactional mail            \
	      * through is skipped (OG_SKIPPED_OPTOUT) */
#define OG_CH_NO_LIFT                                                          \
	0x02 /* opt-in without time or proof: skipped                          \
	      * (OG_SKIPPED_OPTOUT) when an opt-out of the same                \
	      * or a broader scope exists, whatever its time */
#define OG_CH_IF_EXPIRED                                                       \
	0x04 /* unsuppress only an entry whose expires                         \
	      * is set and <= time (expire from cron races                     \
	      * with a renewed suppression) */
#define OG_CH_NOT_OVER_OPTIN                                                   \
	0x08 /* opt-out dated in the past (a request that waited in a          \
	      * queue): skipped (OG_SKIPPED_OLDER) when the entry of its       \
	      * scope holds a single or confirmed opt-in newer than it (or     \
	      * one under a pause): the consent given since stands */
#define OG_CH_REQUESTED                                                        \
	0x10 /* a confirmed opt-in (OG_EV_OPTIN, OG_ST_CONFIRMED) whose        \
	      * request is the change before it (an import line's              \
	      * requested column): with OG_CH_IF_NEWER, a pending entry        \
	      * of the same second is that request, and it confirms it */

/* Result of one change in og_store_apply(). */
/*
 * An opt-out under a live suppression of its scope (which the entry
 * keeps) is OG_APPLIED: its event is written, and an unsuppress of that
 * entry later turns it into the opt-out again (also one the suppression
 * replaced), rather than dropping the entry.  Likewise a double opt-in
 * (OG_ST_PENDING) asked over an opt-out of its scope leaves the opt-out
 * and writes its event; OG_EV_CONFIRM then confirms over the opt-out.
 */
#define OG_APPLIED 0
#define OG_UNCHANGED 1      /* state already so: no event written */
#define OG_SKIPPED_OLDER 2  /* an equal or newer entry exists */
#define OG_SKIPPED_OPTOUT 3 /* an opt-in may not lift this opt-out */
#define OG_SKIPPED_ERASED 4 /* the address was erased (see OG_CH_IF_NEWER) */

typedef struct og_store og_store;
typedef struct og_rtxn og_rtxn;

#define OG_STORE_RDONLY 0x01 /* consent read-only (counters still writable) */
#define OG_STORE_CREATE 0x02 /* create an empty store (optgate init) */
/*
 * Bulk writer (imports): MDB_WRITEMAP, so large batches cost page cache
 * rather than anonymous memory; a full disk is then a SIGBUS, not
 * OG_ENOSPC.
 */
#define OG_STORE_BULK 0x04
/*
 * Check (optgate verify): the store as found.  Damaged counters are an
 * error, not moved aside and rebuilt.  Nothing is to be written through
 * such a handle.
 */
#define OG_STORE_CHECK 0x08
/*
 * Reader (the CLI's status, explain, audit, export, stats, backup,
 * verify, config check): nothing is written, in either environment.
 * Both are opened MDB_RDONLY without a write transaction; the counters
 * are never rebuilt or marked walked (damaged ones are an error, as with
 * OG_STORE_CHECK); the [address] settings are never recorded.  Implies
 * OG_STORE_RDONLY.  Works where this user may only read the files: LMDB's
 * readers write lock.mdb (their reader slot), and where this user may
 * not (read access only, a read-only mount, a copy made read-only with
 * chmod a-w) the environment is read without it (MDB_NOLOCK), which is
 * safe only while nothing writes it: so only when no process has it open
 * (else OG_EACCES, err naming the file, the process and the ways out),
 * and og_store_read_check says afterwards whether a writer came.
 */
#define OG_STORE_READ 0x10

typedef struct og_store_opts {
	uint64_t map_size;         /* consent ceiling (0: 4 GiB) */
	uint64_t counter_map_size; /* counters ceiling (0: 1 GiB) */
	int max_readers;           /* 0: 512, [store] max_readers' default */
	unsigned flags;            /* OG_STORE_* */
	/*
	 * og_config's address_keys: the [address] settings that make match
	 * keys.  init records them; any other open compares them with the
	 * store's (OG_EADDRESS, err naming what differs, when they are not
	 * the same), and one that may write consent records them in a store
	 * made before they were kept.  NULL: not compared (backups, export).
	 */
	const char *address_keys;
} og_store_opts;

/*
 * og_store_opts_config - opts as the config's [store] and [address]
 * settings make them, with flags: what every program that opens the
 * store named by cfg passes.
 */
void og_store_opts_config(
    og_store_opts *o, const og_config *cfg, unsigned flags);

/*
 * og_store_open - open the store folder.  Returns 0, OG_ENOSTORE (no
 * store here: run optgate init), OG_ECORRUPT (damaged; nothing was
 * changed; restore a backup), OG_EVERSION (made by a newer optgate),
 * OG_EADDRESS (opts->address_keys differ from the store's), OG_EACCES
 * (this user may not read the files, or write what LMDB writes; for
 * OG_STORE_READ see there), OG_EIO.
 * err gets a sentence for the admin.  Never overwrites an existing file
 * that is not an optgate store.
 */
int og_store_open(const char *path, const og_store_opts *opts, og_store **out,
    char *err, size_t errlen);
void og_store_close(og_store *st);
/*
 * og_store_read_check - after reading a store opened OG_STORE_READ
 * without LMDB's lock (see there): 0 when what was read holds (no
 * environment so read was committed to more than once since the open:
 * LMDB reuses a page only from the second commit after the one that
 * freed it); OG_ESTORE, err saying so, when a writer came meanwhile and
 * what was read may be wrong (read again).  0 for any other store.
 */
int og_store_read_check(og_store *st, char *err, size_t errlen);
/*
 * og_store_writable - may this process change the store at path (both
 * environments: folders, data.mdb, lock.mdb)?  0, or OG_EACCES with err
 * naming the first file and what is missing: write permission for this
 * user (and whose the store is), a read-only file system, or a file made
 * read-only for everyone (chmod a-w: root could write it, but it was
 * made so on purpose).
 * Files not there yet are not judged (opening the store says why).
 */
int og_store_writable(const char *path, char *err, size_t errlen);
/*
 * og_store_address_check - compare a config's address_keys with the
 * [address] settings the store was made with (a daemon's reload).
 * 0 when they are the same or the store has none recorded yet;
 * OG_EADDRESS with err naming what differs and the ways out.
 */
int og_store_address_check(
    og_store *st, const char *want, char *err, size_t errlen);

/* Flush the counters environment (MDB_NOSYNC) to disk. */
int og_store_sync_counters(og_store *st);
/* Clear stale reader slots; returns how many were cleared. */
int og_store_reader_check(og_store *st);
/*
 * Follow counters removed or replaced under this process (rm -rf of
 * PATH/counters, a restore): open the ones now at the path (made empty
 * when missing) and switch every thread to them, with one warning line.
 * Two stat(2)s when nothing changed; daemons call it on their counters
 * timer.  1 switched, 0 unchanged, else an OG_* code (said once; the old
 * counters stay in use).
 */
int og_store_counters_check(og_store *st);
/*
 * Follow consent removed or replaced under this process (a restore with
 * the daemons running, policyd under spawn(8)): open the store now at
 * PATH/consent when it is a copy of this one (same secret) and switch
 * every thread to it, with one warning line.  Two stat(2)s when nothing
 * changed; the read-only daemons call it on their counters timer, and
 * every consent write (og_store_apply, erase, ...) does it first, so no
 * change is acknowledged into a file nobody will read.  1 switched, 0
 * unchanged, else OG_EREPLACED (not followed, said once: data.mdb
 * replaced under the same lock.mdb, nothing there yet, another store;
 * the old store stays in use for reads, writes fail).
 */
int og_store_consent_check(og_store *st);
/*
 * The daemons' look at the store's files on their counters timer:
 * counters and consent removed or replaced under this process are
 * followed (og_store_counters_check, og_store_consent_check; each says
 * once what it could not follow).
 */
void og_store_follow(og_store *st);

/*
 * og_store_dead - has LMDB stopped either environment in this process?
 * After a failed write of its meta page (EIO; ENOSPC on btrfs), LMDB
 * refuses every later transaction there (MDB_PANIC, OG_EDEAD), until the
 * process opens the store again, which it cannot do with the dead
 * environment open: a daemon calls this on its timer and exits when it
 * returns OG_EDEAD (err says which, for one fatal line), to be started
 * again.  0 when both work.  Two read transactions begun and ended.
 */
int og_store_dead(og_store *st, char *err, size_t errlen);
/*
 * og_store_exit_if_dead - a daemon's timer: when og_store_dead says so,
 * one fatal line and _exit(1), to be started again (systemd; Postfix
 * tempfails meanwhile): every answer would be a tempfail until then.
 */
void og_store_exit_if_dead(og_store *st);

/*
 * og_store_apply - apply n changes in one durable transaction (group
 * commit), then sync.  results[i] (may be NULL) gets OG_APPLIED,
 * OG_UNCHANGED, OG_SKIPPED_OLDER, OG_SKIPPED_OPTOUT or OG_SKIPPED_ERASED.
 * Returns 0 after the commit is on disk, or an error with nothing written
 * (OG_EFULL when map_size is reached, OG_ENOSPC when the disk is full).
 */
int og_store_apply(og_store *st, const og_change *ch, size_t n, int *results);

/*
 * Read handles.  og_store_rbegin gives this thread's cached snapshot of
 * both environments; og_store_rend must be called before the callback or
 * loop turn ends.  Returns 0, OG_EBUSY (reader slots full), OG_ESTORE.
 */
int og_store_rbegin(og_store *st, og_rtxn **out);
void og_store_rend(og_rtxn *tx);

/* 0, OG_NOTFOUND, or an error.  rec is a copy (valid after rend). */
int og_store_get(og_rtxn *tx, const char *key, og_record *rec);
/*
 * Recent send times for (key, stream), newest first, at most max.
 * *n gets the count (0 when none).  Returns 0 or an error.  A damaged
 * counter or counters page reads as no sends (soft state; logged once).
 */
int og_store_get_sends(og_rtxn *tx, const char *key, const char *stream,
    int64_t *times, int max, int *n);
/* Event by sequence number: 0, OG_NOTFOUND or an error. */
int og_store_event_get(og_rtxn *tx, uint64_t seq, og_event *ev);
/*
 * The event that set entry e of rec, its proof (the source, ip, user agent
 * and note that export writes and status shows).  A store written before
 * a cap kept it names the cap's event for an entry that holds a state:
 * then the newest change of that entry down rec's chain that gives its
 * state (else the cap's event).  0, OG_NOTFOUND or an error.
 */
int og_store_entry_event(
    og_rtxn *tx, const og_record *rec, const og_entry *e, og_event *ev);
/*
 * The request of a double opt-in: for entry e of rec, confirmed by conf
 * (its event, og_store_entry_event), the opt-in asked (pending, or asked
 * over an opt-out, which held) that conf confirmed: the newest change of
 * that entry before conf, past the pauses laid over the request.  conf
 * is a confirmation (OG_EV_CONFIRM), or an import's confirmed opt-in
 * whose request came with it (an import's).  req gets it (its proof:
 * when and where the person asked).  0, OG_NOTFOUND (none: a single
 * opt-in, one an admin vouched for, a request the chain does not hold)
 * or an error.
 */
int og_store_entry_request(og_rtxn *tx, const og_record *rec, const og_entry *e,
    const og_event *conf, og_event *req);
/*
 * Whether a keyed-hash suppression exists in namespace ns for hash
 * (32 bytes) and name (NULL or ""): 0 found, OG_NOTFOUND, error.
 */
int og_store_hashed_get(
    og_rtxn *tx, int ns, const unsigned char *hash, const char *name);
#define OG_HASH_ERASED 1
#define OG_HASH_PARTNER 2
/*
 * Whether namespace ns holds any hash at all: 1, 0, or an error.  One
 * seek, so a decision skips computing the HMAC in a store without
 * erasures (most stores).
 */
int og_store_hashed_any(og_rtxn *tx, int ns);
/*
 * Whether key was erased (its OG_HASH_ERASED hash is kept): 1, 0, or an
 * error.  The HMAC is computed only when the store has erasures at all.
 */
int og_store_erased(og_rtxn *tx, const char *key);
/*
 * Whether key was erased and has not come back (no record, the erasure's
 * hash kept): 1, else 0, also when the store cannot be read.  Nothing is
 * to be written for such a person but a new opt-in.
 */
int og_store_erased_gone(og_store *st, const char *key);

/* HMAC-SHA256 of key under this store's secret (erasure hashes). */
int og_store_hash(og_store *st, const char *key, unsigned char out[32]);
/* The same through a read handle. */
int og_store_hash_of(og_rtxn *tx, const char *key, unsigned char out[32]);

/*
 * og_store_count_sends - record one accepted send at now for each of the
 * n keys of stream (one NOSYNC transaction).  0 or an error.
 */
int og_store_count_sends(og_store *st, const char *const *keys, size_t n,
    const char *stream, int64_t now);

/*
 * og_store_soft_bounce - record a soft bounce of key at now (counters
 * environment, 'B' record, at most OG_SENDS_MAX kept) from the report
 * whose identity is report (0: none known), and set *count to the soft
 * bounces within the last period seconds, this one included.  A report
 * already counted for key within the period (Postfix delivered it again:
 * the retry after an exit 75, a duplicate after a crash) is not counted
 * again and nothing is written: *already gets the time it was counted
 * (> 0), else 0.  0 or an error.
 */
int og_store_soft_bounce(og_store *st, const char *key, int64_t now,
    int64_t period, uint64_t report, int *count, int64_t *already);

/*
 * Held sends shared between processes: optgate-policyd under spawn(8)
 * runs one process per smtpd connection, so a process-wide table
 * (og_gate_hold) sees none of the others' transactions.  A hold is an
 * entry (process id, until) in the counters environment ("P key 0
 * stream", soft state written without sync, like the counts);
 * at most OG_SENDS_MAX per key (caps above that are not enforced).
 *
 * og_store_hold - take (delta > 0) or give back (delta < 0) one hold of
 * process pid on (key, stream), kept until `until` at the latest.
 * Entries past their time or of a process that is gone are dropped on
 * the way.  0 or an error.
 * og_store_holds - *n gets the holds on (key, stream) in tx that are
 * neither past their time at now nor of a process that is gone; the
 * caller's own count too.  0 or an error; a damaged entry reads as none.
 */
int og_store_hold(og_store *st, const char *key, const char *stream, pid_t pid,
    int64_t until, int64_t now, int delta);
int og_store_holds(
    og_rtxn *tx, const char *key, const char *stream, int64_t now, int *n);

/*
 * Iterate records in key order from start (NULL: first).  fn returns 0 to
 * go on, anything else stops (and is returned).  The record is a copy.
 * Runs in read transactions of at most OG_ITER_BATCH records each, so a
 * long export does not pin old pages.
 */
int og_store_foreach(og_store *st, const char *start,
    int (*fn)(const og_record *rec, void *ctx), void *ctx);
/* Events of one address, newest first (the prev chain). */
int og_store_foreach_event(og_store *st, const char *key,
    int (*fn)(const og_event *ev, void *ctx), void *ctx);

/* Store facts for status/stats. */
typedef struct og_store_info {
	uint64_t records, events, next_seq;
	uint64_t map_size, map_used;   /* consent */
	uint64_t cmap_size, cmap_used; /* counters */
	uint32_t schema;
} og_store_info;
int og_store_info_get(og_store *st, og_store_info *info);

/*
 * og_store_give - give path, a file or folder root made in a folder the
 * daemons' user owns (a lock file, a rebuilt counters folder, a backup,
 * a quarantine entry), to uid:gid, through a descriptor, never through
 * a link: that user could have put one in its place, and root would have
 * given them the file it names.  Returns 0, OG_NOTFOUND, OG_EINVAL (a
 * symbolic link, neither a regular file nor a folder, or a regular file
 * with other names), OG_EIO (errno says why); the last two are logged
 * as warnings, naming path.
 */
int og_store_give(const char *path, uid_t uid, gid_t gid);

/*
 * og_sync_path - fsync a file, or a folder (the names in it), by path;
 * og_sync_parent - fsync the folder that names path ("." for a bare
 * name): a file made or renamed is on disk only once its name is.  Both
 * 0, or -1 with errno.
 */
int og_sync_path(const char *path);
int og_sync_parent(const char *path);

/*
 * og_record_settle - end the pauses of rec that are over at now: an
 * entry whose temporary opt-out or suppression has ended and that holds
 * a consent under it (resume) becomes that consent again, with its own
 * time, channel and event.  Returns how many entries changed.  Readers
 * that judge a record (the gate, the page, status, export) settle it
 * first; the store settles a record it writes.
 */
int og_record_settle(og_record *rec, int64_t now);
/* og_entry_unpause - make pause e (resume set) its consent. */
void og_entry_unpause(og_entry *e);

/* The record codec, exposed for the fuzz target and tests. */
int og_record_decode(
    const void *val, size_t len, const char *key, og_record *rec);
int og_event_decode(const void *val, size_t len, uint64_t seq, og_event *ev);

/* Names for logs and output. */
const char *og_state_name(int state);
const char *og_reason_name(int reason);
const char *og_via_name(int via);
const char *og_evkind_name(int kind);
int og_reason_parse(const char *s);

/*
 * og_store_copy - consistent compacted copy of the consent environment
 * (and counters) into dest folder, while others keep writing.  info, if
 * not NULL, gets the copy's own records, events, next_seq and schema
 * (read back from it: the live store may have changed meanwhile; the map
 * fields stay 0).  Returns 0 or OG_EIO (err says why; what it made in
 * dest is removed).
 */
int og_store_copy(og_store *st, const char *dest, og_store_info *info,
    char *err, size_t errlen);

/* ---------- admin (optgate erase, import-hashed, audit, stats, verify,
 * expire) ---------- */

/* A keyed-hash suppression ('H' value). */
typedef struct og_hashed {
	int ns; /* OG_HASH_ERASED, OG_HASH_PARTNER */
	unsigned char hash[32];
	char name[OG_STREAM_NAME_MAX + 1]; /* partner, "" for erased */
	int64_t time;
	uint64_t event; /* the event that wrote it */
	int reason;     /* enum og_reason */
} og_hashed;

/* The 'H' record for (ns, hash, name): 0, OG_NOTFOUND or an error. */
int og_store_hashed_read(og_rtxn *tx, int ns, const unsigned char *hash,
    const char *name, og_hashed *out);

/*
 * og_store_erase - right to erasure, in one durable transaction: every
 * event of key's chain is rewritten keeping time, kind, scope, states,
 * reason, via and the scope name (every other field, address and proofs,
 * is dropped); the 'A' record is deleted; an 'H' OG_HASH_ERASED record of
 * og_store_hash(key) is written; an OG_EV_ERASE event (note: NULL or a
 * request reference, not personal data) ends the chain.  Then the
 * address's send and bounce counters are deleted, also when there is no
 * record (so a repeated erase finishes one whose counters step failed).
 * *nevents (may be NULL) gets the number of events stripped.  Without a
 * record (mail of consent = none or transactional streams only), the
 * erasure is kept all the same: its event (the chain's first) and hash,
 * so no mail goes to key until a new opt-in.  Returns 0, 1 (erased
 * without a record), OG_NOTFOUND (erased already: nothing changed but
 * the counters, deleted) or an error (from the counters step: consent
 * already erased; run it again).
 */
int og_store_erase(og_store *st, const char *key, int64_t now, const char *note,
    uint64_t *nevents);

/*
 * Events from seq along the prev chain (newest first): as
 * og_store_foreach_event, starting at an event (e.g. og_hashed.event).
 */
int og_store_foreach_event_from(og_store *st, uint64_t seq,
    int (*fn)(const og_event *ev, void *ctx), void *ctx);
/* Every event in sequence order from seq, in read batches. */
int og_store_foreach_event_all(og_store *st, uint64_t seq,
    int (*fn)(const og_event *ev, void *ctx), void *ctx);
/* Every 'H' record, in key order, in read batches. */
int og_store_foreach_hashed(
    og_store *st, int (*fn)(const og_hashed *h, void *ctx), void *ctx);

/*
 * The HMAC key of a partner's hashed list ('K'): copies at most size
 * bytes into key, *len gets the length.  0, OG_NOTFOUND or an error.
 */
int og_store_partner_key_get(og_rtxn *tx, const char *partner,
    unsigned char *key, size_t size, size_t *len);

#define OG_PARTNER_KEY_MIN 16
#define OG_PARTNER_KEY_MAX 64

/*
 * og_store_import_hashed - suppress n hashes (HMAC-SHA256 of match keys
 * under key) for partner in one durable transaction, storing key as the
 * partner's 'K' record.  Hashes already present count as unchanged; one
 * OG_EV_SUPPRESS event (scope partner, reason partner-list, via import,
 * note) records the batch when something was added.  *added (may be
 * NULL) gets the number of new hashes.  Returns 0, OG_EINVAL (the
 * partner already has a different key: og_store_partner_drop first) or
 * an error with nothing changed.
 */
int og_store_import_hashed(og_store *st, const char *partner,
    const unsigned char *key, size_t keylen, const unsigned char (*hashes)[32],
    size_t n, int64_t now, const char *note, size_t *added);
/*
 * og_store_partner_drop - delete a partner's key and every hash of it
 * (one durable transaction, one OG_EV_UNSUPPRESS event when something was
 * dropped).  *dropped (may be NULL) gets the number of hashes.
 */
int og_store_partner_drop(
    og_store *st, const char *partner, int64_t now, uint64_t *dropped);

/* Accepted sends of stream on day (days since the epoch, UTC): 'D'. */
int og_store_day_sends(
    og_rtxn *tx, const char *stream, uint32_t day, uint64_t *n);

/*
 * og_store_expire_counters - delete, in short NOSYNC write transactions
 * (daemons keep counting in between), send lists ('S') whose newest send
 * is before sends_before, bounce lists ('B') whose newest is before
 * bounces_before and day totals ('D') of days before days_before (days
 * since the epoch); then sync.  *dropped (may be NULL) gets the count.
 */
int og_store_expire_counters(og_store *st, int64_t sends_before,
    int64_t bounces_before, uint32_t days_before, uint64_t *dropped);

/* What og_store_verify found. */
typedef struct og_verify_stats {
	uint64_t records, events, chained, hashes, keys, counters, meta;
	uint64_t problems;
} og_verify_stats;

/*
 * og_store_verify - check the store: meta (schema, seq, records count,
 * secret), every record decodes and its event chain is intact (each
 * event exists, decodes, names the record's key, prev strictly
 * decreasing, every entry's event on the chain), every event decodes and
 * its sequence is below the next one, the event count matches, every
 * 'H' and 'K' record decodes and 'H' names an existing event and partner
 * key, every counter decodes.  report() gets one sentence per problem (at
 * most 100 reported; all counted).  Reads in batches (safe while daemons
 * write).  Returns 0 when clean, OG_ECORRUPT when problems were found, or
 * the error that stopped the walk.
 */
int og_store_verify(og_store *st, void (*report)(const char *msg, void *ctx),
    void *ctx, og_verify_stats *vs);

#endif
