/*
 * og_store_test.c - the store: changes and their rules, events, damaged
 * and foreign files, schema versions, a map that fills, soft counters,
 * maps grown by other processes.
 * Every test gets its own temporary store folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h> /* only to forge a newer schema */

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"
#include "og_store.h"
#include "og_testfx.h"

#define T0 1800000000LL

/*
 * Hooks on LMDB (-Wl,--wrap, Makefile) that stop this process where the
 * store has looked at the size of a file mapped writable and LMDB has
 * not yet set the file to the map: in the next mdb_env_open() with
 * MDB_WRITEMAP (HOLD_OPEN), or the next mdb_env_set_mapsize() of an open
 * environment (HOLD_RESIZE); or where the next mdb_env_open() has mapped
 * the file and the store has begun no transaction yet (HOLD_OPENED).  It
 * says so on hold_tell, then waits for hold_go, for a second at most (a
 * lock held there must not hang the test), once.
 */
enum { HOLD_NONE, HOLD_OPEN, HOLD_RESIZE, HOLD_OPENED };
static int hold_at = HOLD_NONE, hold_tell = -1, hold_go = -1;
static int hold_timed_out; /* the second passed without hold_go */

int __real_mdb_env_open(MDB_env *, const char *, unsigned, mdb_mode_t);
int __wrap_mdb_env_open(MDB_env *, const char *, unsigned, mdb_mode_t);
int __real_mdb_env_set_mapsize(MDB_env *, size_t);
int __wrap_mdb_env_set_mapsize(MDB_env *, size_t);
int __real_close(int);
int __wrap_close(int);

/*
 * close(2) as this process calls it (-Wl,--wrap=close), counting the
 * descriptors closed twice (EBADF): in a daemon's threads the number may
 * already name another thread's file or connection, which it would close.
 */
static int closed_twice;

int
__wrap_close(int fd)
{
	int rc = __real_close(fd);

	if (rc != 0 && errno == EBADF)
		closed_twice++;
	return rc;
}

static void
hold(int at)
{
	struct pollfd p = {.fd = hold_go, .events = POLLIN};

	if (hold_at != at)
		return;
	hold_at = HOLD_NONE;
	if (write(hold_tell, "h", 1) == 1)
		hold_timed_out = poll(&p, 1, 1000) != 1;
}

int
__wrap_mdb_env_open(
    MDB_env *env, const char *path, unsigned flags, mdb_mode_t mode)
{
	int rc;

	if (flags & MDB_WRITEMAP)
		hold(HOLD_OPEN);
	rc = __real_mdb_env_open(env, path, flags, mode);
	hold(HOLD_OPENED);
	return rc;
}

int
__wrap_mdb_env_set_mapsize(MDB_env *env, size_t size)
{
	int fd;

	if (mdb_env_get_fd(env, &fd) == 0 && fd >= 0)
		hold(HOLD_RESIZE);
	return __real_mdb_env_set_mapsize(env, size);
}

struct fx {
	char dir[96];
	og_store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (og_testfx_open(f->dir, sizeof(f->dir), "og_store_test", &f->st) !=
	    0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (og_testfx_close(f->dir, f->st) != 0)
		return -1;
	free(f);
	return 0;
}

/* The record of key, as a reader sees it now (asserting it exists). */
static void
read_record(struct fx *f, const char *key, og_record *rec)
{
	og_rtxn *tx;

	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_get(tx, key, rec), 0);
	og_store_rend(tx);
}

static void
optin_idempotent(void **state)
{
	struct fx *f = *state;
	og_change ch = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_store_info info;

	ch.f[OG_EVF_IP] = "192.0.2.1";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_UNCHANGED);
	ch.flags = OG_CH_IF_NEWER;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_UNCHANGED);
	og_store_info_get(f->st, &info);
	assert_int_equal(info.records, 1);
	assert_int_equal(info.events, 1);
}

static void
older_optin_never_lifts_optout(void **state)
{
	struct fx *f = *state;
	og_change out = og_testfx_change(
	    "a@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 100);
	og_change in = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0 + 50);

	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	in.flags = OG_CH_IF_NEWER;
	assert_int_equal(og_testfx_apply(f->st, in), OG_SKIPPED_OLDER);
	in.flags = 0;
	assert_int_equal(og_testfx_apply(f->st, in), OG_SKIPPED_OPTOUT);
	in.time = T0 + 200;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
}

/*
 * An opt-out dated when its mail arrived (OG_CH_NOT_OVER_OPTIN) does not
 * take back an opt-in given after that, also one a pause keeps; it still
 * replaces an older one, and a double opt-in only asked since.  Without
 * the flag the opt-out replaces the entry whatever its time.
 */
static void
late_optout_keeps_newer_optin(void **state)
{
	struct fx *f = *state;
	og_change in = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_OPTIN, T0 + 100);
	og_change out = og_testfx_change(
	    "a@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 50);
	og_change pause = out;
	og_record rec;

	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	out.flags = OG_CH_NOT_OVER_OPTIN;
	assert_int_equal(og_testfx_apply(f->st, out), OG_SKIPPED_OLDER);
	read_record(f, "a@x.example", &rec);
	assert_int_equal(rec.entries[0].state, OG_ST_OPTIN);
	assert_int_equal(rec.entries[0].time, T0 + 100);
	/* written after the opt-in: it goes in */
	out.time = T0 + 150;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);

	/* a request asked since is no consent: the opt-out goes in */
	in.key = out.key = "b@x.example";
	in.state = OG_ST_PENDING;
	out.time = T0 + 50;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);

	/* the consent under a pause, given after the mail: it stands */
	in.key = out.key = pause.key = "c@x.example";
	in.state = OG_ST_CONFIRMED;
	pause.time = T0 + 200;
	pause.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, pause), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_SKIPPED_OLDER);
	/* a consent older than the mail, paused since: the opt-out holds */
	out.time = T0 + 150;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);

	/* without the flag, as before: the opt-out replaces the opt-in */
	in.key = out.key = "d@x.example";
	out.flags = 0;
	out.time = T0 + 50;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
}

static void
suppression_needs_admin(void **state)
{
	struct fx *f = *state;
	og_change s = og_testfx_change(
	    "b@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	og_change in = og_testfx_change("b@x.example", OG_EV_OPTIN,
	    OG_SCOPE_ALL, NULL, OG_ST_CONFIRMED, T0 + 100);
	og_change un = og_testfx_change(
	    "b@x.example", OG_EV_UNSUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 200);

	s.reason = OG_RS_HARD_BOUNCE;
	assert_int_equal(og_testfx_apply(f->st, s), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, s), OG_UNCHANGED);
	assert_int_equal(og_testfx_apply(f->st, in), OG_SKIPPED_OPTOUT);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_UNCHANGED);
	in.time = T0 + 300;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
}

static void
optout_outlives_temporary_suppression(void **state)
{
	struct fx *f = *state;
	og_change soft = og_testfx_change(
	    "o@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	og_change out = og_testfx_change(
	    "o@x.example", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0 + 100);
	og_record *rec = og_xmalloc(sizeof(*rec));

	soft.reason = OG_RS_SOFT_BOUNCE;
	soft.expires = T0 + 30 * 86400;
	assert_int_equal(og_testfx_apply(f->st, soft), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	read_record(f, "o@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].expires, 0);
	free(rec);
}

/*
 * An opt-out for good over a temporary one (an imported pause) replaces
 * it: kept as "unchanged", the unsubscribe would end with the pause.  A
 * temporary one never shortens either.
 */
static void
optout_outlives_temporary_optout(void **state)
{
	struct fx *f = *state;
	og_change pause = og_testfx_change(
	    "p@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0);
	og_change out = og_testfx_change(
	    "p@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 100);
	og_record *rec = og_xmalloc(sizeof(*rec));

	pause.expires = T0 + 10 * 86400;
	assert_int_equal(og_testfx_apply(f->st, pause), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, pause), OG_UNCHANGED);
	/* a shorter pause changes nothing; a longer one extends it */
	out.expires = T0 + 5 * 86400;
	assert_int_equal(og_testfx_apply(f->st, out), OG_UNCHANGED);
	out.expires = T0 + 20 * 86400;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	out.expires = 0;
	out.via = OG_VIA_ONECLICK;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].expires, 0);
	assert_int_equal(rec->entries[0].via, OG_VIA_ONECLICK);
	/* and is not shortened by a pause after it */
	pause.time = T0 + 200;
	assert_int_equal(og_testfx_apply(f->st, pause), OG_UNCHANGED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->entries[0].expires, 0);
	free(rec);
}

/*
 * A temporary manual suppression over an opt-out that outlasts it is
 * refused: in its place, the opt-out would be gone at its end.
 */
static void
temporary_suppression_keeps_optout(void **state)
{
	struct fx *f = *state;
	og_change out = og_testfx_change(
	    "k@x.example", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0);
	og_change man = og_testfx_change(
	    "k@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 100);
	og_record *rec = og_xmalloc(sizeof(*rec));

	man.reason = OG_RS_MANUAL;
	man.expires = T0 + 100 + 30 * 86400;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, man), OG_SKIPPED_OPTOUT);
	read_record(f, "k@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].expires, 0);
	/* for good, it goes in */
	man.expires = 0;
	assert_int_equal(og_testfx_apply(f->st, man), OG_APPLIED);
	free(rec);
}

/*
 * And the other way round: an opt-out over a temporary manual suppression
 * (an admin's pause) replaces it when it outlasts it, or the person's
 * opt-out would be gone at the pause's end (it was "unchanged", and mail
 * came back); one that ends first changes nothing, and a suppression for
 * good stays.
 */
static void
optout_outlives_manual_pause(void **state)
{
	struct fx *f = *state;
	og_change man = og_testfx_change(
	    "m@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	og_change out = og_testfx_change(
	    "m@x.example", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0 + 100);
	og_record *rec = og_xmalloc(sizeof(*rec));

	man.reason = OG_RS_MANUAL;
	man.expires = T0 + 30 * 86400;
	assert_int_equal(og_testfx_apply(f->st, man), OG_APPLIED);
	/* one that ends before the pause: kept in the history only */
	out.expires = T0 + 10 * 86400;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_UNCHANGED);
	read_record(f, "m@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_SUPPRESSED);
	out.expires = 0;
	out.via = OG_VIA_ONECLICK;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	read_record(f, "m@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].expires, 0);
	assert_int_equal(rec->entries[0].via, OG_VIA_ONECLICK);
	/* a hard bounce for good is not replaced */
	man = og_testfx_change(
	    "h@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	man.reason = OG_RS_HARD_BOUNCE;
	assert_int_equal(og_testfx_apply(f->st, man), OG_APPLIED);
	out.key = "h@x.example";
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_UNCHANGED);
	read_record(f, "h@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_SUPPRESSED);
	free(rec);
}

/*
 * One entry per scope holds a suppression or an opt-out.  An opt-out
 * under a suppression (given while it held, or before it replaced it)
 * is not lost when an admin lifts the suppression: the entry becomes the
 * opt-out again, with its own time, and the opt-out given while the
 * suppression held is in the history.  A consent under a bounce's or an
 * admin's suppression comes back too; under a complaint it does not.
 */
static void
optout_survives_unsuppress(void **state)
{
	struct fx *f = *state;
	og_change sup = og_testfx_change(
	    "u@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	og_change out = og_testfx_change(
	    "u@x.example", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0 + 100);
	og_change un = og_testfx_change(
	    "u@x.example", OG_EV_UNSUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 200);
	og_record *rec = og_xmalloc(sizeof(*rec));
	og_store_info i0, i1;

	/* opted out while a manual suppression held */
	sup.reason = OG_RS_MANUAL;
	out.via = OG_VIA_ONECLICK;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	og_store_info_get(f->st, &i0);
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	og_store_info_get(f->st, &i1);
	assert_int_equal(i1.events, i0.events + 1);
	read_record(f, "u@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_SUPPRESSED);
	/* said again: nothing new */
	out.time = T0 + 150;
	assert_int_equal(og_testfx_apply(f->st, out), OG_UNCHANGED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "u@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].time, T0 + 100);
	assert_int_equal(rec->entries[0].via, OG_VIA_ONECLICK);
	/* lifting what is now an opt-out lifts it (an admin's choice) */
	un.time = T0 + 300;
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "u@x.example", rec);
	assert_int_equal(rec->nentries, 0);

	/* opted out first, then a complaint replaced the entry */
	out.key = sup.key = un.key = "v@x.example";
	out.time = T0;
	sup.time = T0 + 100;
	sup.reason = OG_RS_COMPLAINT;
	un.time = T0 + 200;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_UNCHANGED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "v@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].time, T0);

	/* a hard bounce over consent, lifted: the consent, as it was */
	sup = og_testfx_change(
	    "w@x.example", OG_EV_OPTIN, OG_SCOPE_ALL, NULL, OG_ST_OPTIN, T0);
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	sup.kind = OG_EV_SUPPRESS;
	sup.reason = OG_RS_HARD_BOUNCE;
	sup.time = T0 + 100;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	un.key = "w@x.example";
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "w@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTIN);
	assert_int_equal(rec->entries[0].time, T0);
	/* a complaint over consent (the person's stop): nothing is left */
	sup = og_testfx_change(
	    "x@x.example", OG_EV_OPTIN, OG_SCOPE_ALL, NULL, OG_ST_OPTIN, T0);
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	sup.kind = OG_EV_SUPPRESS;
	sup.reason = OG_RS_COMPLAINT;
	sup.time = T0 + 100;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	un.key = "x@x.example";
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "x@x.example", rec);
	assert_int_equal(rec->nentries, 0);

	/* a temporary opt-out under it that has ended: nothing to restore */
	out = og_testfx_change(
	    "t@x.example", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0);
	out.expires = T0 + 50;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	sup = og_testfx_change(
	    "t@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 10);
	sup.reason = OG_RS_MANUAL;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	un.key = "t@x.example";
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "t@x.example", rec);
	assert_int_equal(rec->nentries, 0);
	free(rec);
}

/*
 * A record with OG_ENTRIES_MAX entries refuses one more opt-in, but an
 * opt-out or a suppression still goes in: the oldest opt-in makes room
 * (an expired entry first).  An unsubscribe is never lost for want of room.
 */
static void
full_record_takes_optout(void **state)
{
	struct fx *f = *state;
	og_change ch;
	og_record *rec = og_xmalloc(sizeof(*rec));
	char name[16];
	int i, res;

	for (i = 0; i < OG_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ch = og_testfx_change("full@x.example", OG_EV_OPTIN,
		    OG_SCOPE_STREAM, name, OG_ST_CONFIRMED, T0 + i);
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	}
	ch = og_testfx_change("full@x.example", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "one-more", OG_ST_CONFIRMED, T0 + 100);
	assert_int_equal(og_store_apply(f->st, &ch, 1, &res), OG_ETOOBIG);
	/* a hard bounce for all streams: in, in place of s0's opt-in */
	ch = og_testfx_change(
	    "full@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 200);
	ch.reason = OG_RS_HARD_BOUNCE;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	/* an opt-out of a stream: in, in place of s1's */
	ch = og_testfx_change("full@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "other", 0, T0 + 300);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	read_record(f, "full@x.example", rec);
	assert_int_equal(rec->nentries, OG_ENTRIES_MAX);
	for (i = 0; i < rec->nentries; i++) {
		assert_string_not_equal(rec->entries[i].name, "s0");
		assert_string_not_equal(rec->entries[i].name, "s1");
	}
	assert_int_equal(
	    rec->entries[OG_ENTRIES_MAX - 2].state, OG_ST_SUPPRESSED);
	assert_int_equal(rec->entries[OG_ENTRIES_MAX - 1].state, OG_ST_OPTOUT);
	free(rec);
}

/*
 * The room a full record makes for a stop never costs the person a cap she
 * chose on the preference page: an opt-in or an expired entry that carries
 * one is passed over for the oldest opt-in without one.  Without her cap,
 * the stream's mail under a broader consent came at the stream's full
 * rate.  A record whose only candidates carry caps still takes the stop,
 * in place of the oldest opt-in: a stop refused would be worse.
 */
static void
full_record_keeps_caps(void **state)
{
	struct fx *f = *state;
	og_change ch;
	og_record *rec = og_xmalloc(sizeof(*rec));
	char name[16];
	int i, res, found;

	/* s0: the oldest opt-in, with her cap */
	ch = og_testfx_change("cap@x.example", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "s0", OG_ST_CONFIRMED, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change(
	    "cap@x.example", OG_EV_PREF, OG_SCOPE_STREAM, "s0", 0, T0 + 1);
	ch.pref.limit = 1;
	ch.pref.period = 7 * 86400;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	/* s1: an opt-out that has ended, with her cap */
	ch = og_testfx_change(
	    "cap@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "s1", 0, T0 + 2);
	ch.expires = T0 + 50;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change(
	    "cap@x.example", OG_EV_PREF, OG_SCOPE_STREAM, "s1", 0, T0 + 3);
	ch.pref.limit = 2;
	ch.pref.period = 7 * 86400;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	for (i = 2; i < OG_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ch = og_testfx_change("cap@x.example", OG_EV_OPTIN,
		    OG_SCOPE_STREAM, name, OG_ST_CONFIRMED, T0 + 10 + i);
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	}
	/* an unsubscribe from another stream: in, in place of s2 */
	ch = og_testfx_change("cap@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "other", 0, T0 + 300);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	read_record(f, "cap@x.example", rec);
	assert_int_equal(rec->nentries, OG_ENTRIES_MAX);
	found = 0;
	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		assert_string_not_equal(e->name, "s2");
		if (strcmp(e->name, "s0") == 0) {
			assert_int_equal(e->state, OG_ST_CONFIRMED);
			assert_int_equal(e->pref.limit, 1);
			found |= 1;
		} else if (strcmp(e->name, "s1") == 0) {
			assert_int_equal(e->pref.limit, 2);
			found |= 2;
		} else if (strcmp(e->name, "other") == 0) {
			assert_int_equal(e->state, OG_ST_OPTOUT);
			found |= 4;
		}
	}
	assert_int_equal(found, 7);

	/* every opt-in with her cap: the stop goes in all the same, in
	 * place of the oldest (s0); the others keep their caps */
	for (i = 0; i < OG_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ch = og_testfx_change("caps@x.example", OG_EV_OPTIN,
		    OG_SCOPE_STREAM, name, OG_ST_CONFIRMED, T0 + i);
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
		ch = og_testfx_change("caps@x.example", OG_EV_PREF,
		    OG_SCOPE_STREAM, name, 0, T0 + 100 + i);
		ch.pref.limit = 3;
		ch.pref.period = 7 * 86400;
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	}
	ch = og_testfx_change("caps@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "other", 0, T0 + 300);
	assert_int_equal(og_store_apply(f->st, &ch, 1, &res), 0);
	assert_int_equal(res, OG_APPLIED);
	read_record(f, "caps@x.example", rec);
	assert_int_equal(rec->nentries, OG_ENTRIES_MAX);
	found = 0;
	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		assert_string_not_equal(e->name, "s0");
		if (strcmp(e->name, "other") == 0) {
			assert_int_equal(e->state, OG_ST_OPTOUT);
			found++;
			continue;
		}
		assert_int_equal(e->state, OG_ST_CONFIRMED);
		assert_int_equal(e->pref.limit, 3);
	}
	assert_int_equal(found, 1);
	free(rec);
}

static void
temporary_never_shortens_suppression(void **state)
{
	struct fx *f = *state;
	og_change hard = og_testfx_change(
	    "t@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	og_change soft = og_testfx_change(
	    "t@x.example", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 100);
	og_record *rec = og_xmalloc(sizeof(*rec));

	hard.reason = OG_RS_HARD_BOUNCE;
	soft.reason = OG_RS_SOFT_BOUNCE;
	soft.expires = T0 + 100 + 30 * 86400;
	assert_int_equal(og_testfx_apply(f->st, hard), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, soft), OG_UNCHANGED);
	read_record(f, "t@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].reason, OG_RS_HARD_BOUNCE);
	assert_int_equal(rec->entries[0].expires, 0);
	free(rec);
}

static void
confirm_needs_pending(void **state)
{
	struct fx *f = *state;
	og_change c = og_testfx_change(
	    "c@x.example", OG_EV_CONFIRM, OG_SCOPE_STREAM, "news", 0, T0);
	og_change p = og_testfx_change("c@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_PENDING, T0);

	assert_int_equal(og_testfx_apply(f->st, c), OG_SKIPPED_OLDER);
	assert_int_equal(og_testfx_apply(f->st, p), OG_APPLIED);
	c.time = T0 + 10;
	assert_int_equal(og_testfx_apply(f->st, c), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, c), OG_UNCHANGED);
	/* a new pending never downgrades a confirmation */
	assert_int_equal(og_testfx_apply(f->st, p), OG_UNCHANGED);
}

/*
 * A double opt-in asked after an opt-out of its scope is not consent:
 * the opt-out holds (the request is in the history) until the person
 * confirms.  Before, the pending entry replaced the opt-out, and a
 * consent = none stream mailed her again on a request anyone can make.
 */
static void
pending_keeps_optout(void **state)
{
	struct fx *f = *state;
	og_change out = og_testfx_change(
	    "p@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0);
	og_change p = og_testfx_change("p@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_PENDING, T0 + 100);
	og_change c = og_testfx_change(
	    "p@x.example", OG_EV_CONFIRM, OG_SCOPE_STREAM, "news", 0, T0 + 50);
	og_record *rec = og_xmalloc(sizeof(*rec));

	c.via = OG_VIA_CONFIRM;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	/* nothing asked since the opt-out: nothing to confirm */
	assert_int_equal(og_testfx_apply(f->st, c), OG_SKIPPED_OLDER);
	assert_int_equal(og_testfx_apply(f->st, p), OG_APPLIED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->nentries, 1);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].time, T0);
	p.time = T0 + 150;
	assert_int_equal(og_testfx_apply(f->st, p), OG_UNCHANGED);
	c.time = T0 + 200;
	assert_int_equal(og_testfx_apply(f->st, c), OG_APPLIED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec->entries[0].time, T0 + 200);
	assert_int_equal(rec->entries[0].expires, 0);
	assert_int_equal(rec->entries[0].via, OG_VIA_CONFIRM);
	/* unsubscribed again: an old confirmation does not undo it */
	out.time = T0 + 300;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	c.time = T0 + 400;
	assert_int_equal(og_testfx_apply(f->st, c), OG_SKIPPED_OLDER);
	/* a request, then a suppression lifted: the opt-out is still there */
	p.time = T0 + 410;
	assert_int_equal(og_testfx_apply(f->st, p), OG_APPLIED);
	c = og_testfx_change("p@x.example", OG_EV_SUPPRESS, OG_SCOPE_STREAM,
	    "news", 0, T0 + 420);
	c.reason = OG_RS_MANUAL;
	assert_int_equal(og_testfx_apply(f->st, c), OG_APPLIED);
	c.kind = OG_EV_UNSUPPRESS;
	c.time = T0 + 430;
	assert_int_equal(og_testfx_apply(f->st, c), OG_APPLIED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].time, T0 + 300);
	/* a single opt-in is the person's own word: it lifts as before */
	p.state = OG_ST_OPTIN;
	p.time = T0 + 500;
	assert_int_equal(og_testfx_apply(f->st, p), OG_APPLIED);
	read_record(f, "p@x.example", rec);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTIN);
	free(rec);
}

struct evs {
	int n;
	int kinds[16];
	char ip[64];
};

static int
collect(const og_event *ev, void *ctx)
{
	struct evs *e = ctx;

	if (e->n < 16)
		e->kinds[e->n] = ev->kind;
	if (ev->f[OG_EVF_IP][0])
		og_strlcpy(e->ip, ev->f[OG_EVF_IP], sizeof(e->ip));
	e->n++;
	return 0;
}

/*
 * A cap the person chooses later keeps the event of the entry's state: its
 * proof (the ip and user agent export writes, status's why), also under a
 * pause laid over it later, and the pause's own event during the pause.
 * An entry that holds only a cap points to the cap's event, until a state
 * comes.
 */
static void
cap_keeps_state_proof(void **state)
{
	struct fx *f = *state;
	og_change in = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_change cap = og_testfx_change(
	    "a@x.example", OG_EV_PREF, OG_SCOPE_STREAM, "news", 0, T0 + 10);
	og_change pause = og_testfx_change(
	    "a@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 20);
	og_record rec;
	uint64_t proof;

	in.f[OG_EVF_IP] = "192.0.2.1";
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	proof = rec.last_event;
	cap.pref.limit = 1;
	cap.pref.period = 7 * 86400;
	cap.f[OG_EVF_IP] = "203.0.113.9";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	assert_int_equal(rec.entries[0].pref.limit, 1);
	assert_int_equal(rec.entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].time, T0);
	assert_true(rec.last_event > proof);
	assert_int_equal(rec.entries[0].event, proof);

	/* a pause over it: the consent under it keeps its proof */
	pause.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, pause), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	assert_int_equal(rec.entries[0].resume_event, proof);
	/* a cap during the pause: the pause stays the entry's event */
	proof = rec.entries[0].event;
	cap.time = T0 + 30;
	cap.pref.limit = 2;
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	assert_int_equal(rec.entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec.entries[0].event, proof);

	/* a cap alone: its event is the entry's, until an opt-in */
	cap.key = in.key = "b@x.example";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "b@x.example", &rec);
	assert_int_equal(rec.entries[0].state, OG_ST_NONE);
	assert_int_equal(rec.entries[0].event, rec.last_event);
	in.time = T0 + 40;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	read_record(f, "b@x.example", &rec);
	assert_int_equal(rec.entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].pref.limit, 2);
	assert_int_equal(rec.entries[0].event, rec.last_event);
}

/*
 * key's entry after an admin lifted a stop: only the cap the person chose
 * (1/7d), no state, time or channel, pointing to the cap's event cap_ev
 * (export's proof, status's chosen cap).
 */
static void
assert_cap_only(struct fx *f, const char *key, uint64_t cap_ev)
{
	og_record rec;

	read_record(f, key, &rec);
	assert_int_equal(rec.nentries, 1);
	assert_int_equal(rec.entries[0].state, OG_ST_NONE);
	assert_int_equal(rec.entries[0].pref.limit, 1);
	assert_int_equal(rec.entries[0].pref.period, 7 * 86400);
	assert_int_equal(rec.entries[0].time, 0);
	assert_int_equal(rec.entries[0].expires, 0);
	assert_int_equal(rec.entries[0].resume, 0);
	assert_int_equal(rec.entries[0].event, cap_ev);
}

/*
 * A suppression or opt-out lifted by an admin (unsuppress), or ended
 * (expire), leaves the cap the person chose: with the consent it brings
 * back, else held alone, as the preference page left it.
 */
static void
unsuppress_keeps_cap(void **state)
{
	struct fx *f = *state;
	og_change in = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_change cap = og_testfx_change(
	    "a@x.example", OG_EV_PREF, OG_SCOPE_STREAM, "news", 0, T0 + 10);
	og_change sup = og_testfx_change(
	    "a@x.example", OG_EV_SUPPRESS, OG_SCOPE_STREAM, "news", 0, T0 + 20);
	og_change out = og_testfx_change(
	    "a@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 20);
	og_change un = og_testfx_change("a@x.example", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "news", 0, T0 + 30);
	og_verify_stats vs;
	og_record rec;
	uint64_t proof, cap_ev;
	og_event *ev = og_xmalloc(sizeof(*ev));
	og_rtxn *tx;

	cap.pref.limit = 1;
	cap.pref.period = 7 * 86400;
	cap.f[OG_EVF_SOURCE] = "preference-page";

	/* a manual suppression over a consent: the consent and the cap */
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	proof = rec.last_event;
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	sup.reason = OG_RS_MANUAL;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	read_record(f, "a@x.example", &rec);
	assert_int_equal(rec.nentries, 1);
	assert_int_equal(rec.entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].event, proof);
	assert_int_equal(rec.entries[0].pref.limit, 1);

	/* a complaint over a consent: her own stop, only the cap stays */
	in.key = cap.key = sup.key = un.key = "b@x.example";
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "b@x.example", &rec);
	cap_ev = rec.last_event;
	sup.reason = OG_RS_COMPLAINT;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	assert_cap_only(f, "b@x.example", cap_ev);
	/* her proof is the cap's; lifted again: nothing to lift */
	read_record(f, "b@x.example", &rec);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(
	    og_store_entry_event(tx, &rec, &rec.entries[0], ev), 0);
	og_store_rend(tx);
	assert_int_equal(ev->kind, OG_EV_PREF);
	assert_string_equal(ev->f[OG_EVF_SOURCE], "preference-page");
	un.time = T0 + 40;
	assert_int_equal(og_testfx_apply(f->st, un), OG_UNCHANGED);
	/* a new opt-in over it keeps the cap */
	in.time = T0 + 50;
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	read_record(f, "b@x.example", &rec);
	assert_int_equal(rec.entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].pref.limit, 1);

	/* a cap alone, a manual suppression for good, lifted */
	cap.key = sup.key = un.key = "c@x.example";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "c@x.example", &rec);
	cap_ev = rec.last_event;
	sup.reason = OG_RS_MANUAL;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	un.time = T0 + 30;
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	assert_cap_only(f, "c@x.example", cap_ev);

	/* an opt-out over a cap alone, lifted by an admin */
	cap.key = out.key = un.key = "d@x.example";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "d@x.example", &rec);
	cap_ev = rec.last_event;
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	assert_cap_only(f, "d@x.example", cap_ev);

	/* a temporary suppression over a cap alone, ended (expire) */
	cap.key = sup.key = un.key = "e@x.example";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	read_record(f, "e@x.example", &rec);
	cap_ev = rec.last_event;
	sup.expires = T0 + 25;
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	un.via = OG_VIA_EXPIRE;
	un.flags = OG_CH_IF_EXPIRED;
	assert_int_equal(og_testfx_apply(f->st, un), OG_APPLIED);
	assert_cap_only(f, "e@x.example", cap_ev);

	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.problems, 0);
	free(ev);
}

/*
 * Make key's record (one entry, named by name) as an optgate before a cap
 * kept the entry's event wrote it: the entry names the record's last
 * event (the cap's), flagged (0x04), not stored.
 */
static void
forge_cap_event(struct fx *f, const char *key, const char *name)
{
	char path[128];
	unsigned char kb[64], vb[512];
	size_t n = strlen(name), at = 23 + n + 4;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	og_record rec;

	og_store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/consent", f->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	mdb_env_set_mapsize(env, 1 << 24);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "main", 0, &dbi), 0);
	kb[0] = 'A';
	memcpy(kb + 1, key, strlen(key));
	k.mv_data = kb;
	k.mv_size = 1 + strlen(key);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(vb) && v.mv_size > at + 8);
	memcpy(vb, v.mv_data, v.mv_size);
	/* one entry of that name, its event stored */
	assert_int_equal(vb[16], 1);
	assert_int_equal(vb[22], n);
	assert_int_equal(memcmp(vb + 23, name, n), 0);
	assert_int_equal(vb[21] & 0x04, 0);
	vb[21] |= 0x04;
	memmove(vb + at, vb + at + 8, v.mv_size - at - 8);
	v.mv_data = vb;
	v.mv_size -= 8;
	assert_int_equal(og_record_decode(vb, v.mv_size, key, &rec), 0);
	assert_int_equal(rec.entries[0].event, rec.last_event);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * A store written before: an entry with a state names the cap's event.
 * Its proof is still found down the chain (what export and status read):
 * the opt-in's ip, the suppression's note; not an opt-out kept under the
 * suppression.  An entry that holds only a cap gets the cap's event.
 */
static void
older_store_cap_finds_proof(void **state)
{
	struct fx *f = *state;
	og_store_opts o = {0, 0, 0, 0, NULL};
	og_change in = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_change cap = og_testfx_change(
	    "a@x.example", OG_EV_PREF, OG_SCOPE_STREAM, "news", 0, T0 + 10);
	og_change sup = og_testfx_change(
	    "b@x.example", OG_EV_SUPPRESS, OG_SCOPE_STREAM, "news", 0, T0 + 20);
	og_change out = og_testfx_change(
	    "b@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 30);
	og_event *ev = malloc(sizeof(*ev));
	og_record rec;
	og_rtxn *tx;
	char err[512];

	in.f[OG_EVF_IP] = "192.0.2.1";
	assert_int_equal(og_testfx_apply(f->st, in), OG_APPLIED);
	cap.pref.limit = 1;
	cap.pref.period = 7 * 86400;
	cap.f[OG_EVF_IP] = "203.0.113.9";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	sup.reason = OG_RS_MANUAL;
	sup.f[OG_EVF_NOTE] = "ticket 42";
	assert_int_equal(og_testfx_apply(f->st, sup), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, out), OG_APPLIED);
	cap.key = "b@x.example";
	cap.time = T0 + 40;
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	cap.key = "c@x.example";
	assert_int_equal(og_testfx_apply(f->st, cap), OG_APPLIED);
	forge_cap_event(f, "a@x.example", "news");
	forge_cap_event(f, "b@x.example", "news");
	assert_int_equal(
	    og_store_open(f->dir, &o, &f->st, err, sizeof(err)), 0);

	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_get(tx, "a@x.example", &rec), 0);
	assert_int_equal(og_store_event_get(tx, rec.entries[0].event, ev), 0);
	assert_int_equal(ev->kind, OG_EV_PREF); /* as written before */
	assert_int_equal(
	    og_store_entry_event(tx, &rec, &rec.entries[0], ev), 0);
	assert_int_equal(ev->kind, OG_EV_OPTIN);
	assert_string_equal(ev->f[OG_EVF_IP], "192.0.2.1");

	assert_int_equal(og_store_get(tx, "b@x.example", &rec), 0);
	assert_int_equal(rec.entries[0].state, OG_ST_SUPPRESSED);
	assert_int_equal(
	    og_store_entry_event(tx, &rec, &rec.entries[0], ev), 0);
	assert_int_equal(ev->kind, OG_EV_SUPPRESS);
	assert_string_equal(ev->f[OG_EVF_NOTE], "ticket 42");

	assert_int_equal(og_store_get(tx, "c@x.example", &rec), 0);
	assert_int_equal(
	    og_store_entry_event(tx, &rec, &rec.entries[0], ev), 0);
	assert_int_equal(ev->kind, OG_EV_PREF);
	assert_int_equal(ev->seq, rec.entries[0].event);
	og_store_rend(tx);
	free(ev);
}

/* The request of a confirmed entry of key (its first entry): 0 or not. */
static int
request_of(struct fx *f, const char *key, int unpause, og_event *req)
{
	og_event *conf = malloc(sizeof(*conf));
	og_record rec;
	og_entry e;
	og_rtxn *tx;
	int rc;

	assert_non_null(conf);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_get(tx, key, &rec), 0);
	e = rec.entries[0];
	if (unpause)
		og_entry_unpause(&e); /* the consent under it, as export */
	assert_int_equal(og_store_entry_event(tx, &rec, &e, conf), 0);
	rc = og_store_entry_request(tx, &rec, &e, conf, req);
	og_store_rend(tx);
	free(conf);
	return rc;
}

/*
 * A double opt-in's request is found behind its confirmation (past other
 * scopes' changes and a pause over it); an admin's vouching confirms no
 * request; an import's request and confirmation of one second go in
 * together (OG_CH_REQUESTED), once.
 */
static void
request_of_confirmation(void **state)
{
	struct fx *f = *state;
	og_change ask = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_PENDING, T0);
	og_change conf = og_testfx_change(
	    "a@x.example", OG_EV_CONFIRM, OG_SCOPE_STREAM, "news", 0, T0 + 20);
	og_change other = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "offers", OG_ST_OPTIN, T0 + 10);
	og_change pause = og_testfx_change(
	    "b@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 10);
	og_change vouch = og_testfx_change("c@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0 + 20);
	og_change imp[2];
	og_event *req = malloc(sizeof(*req));
	int res[2];

	assert_non_null(req);
	ask.f[OG_EVF_IP] = "192.0.2.1";
	assert_int_equal(og_testfx_apply(f->st, ask), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, other), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, conf), OG_APPLIED);
	assert_int_equal(request_of(f, "a@x.example", 0, req), 0);
	assert_int_equal(req->time, T0);
	assert_string_equal(req->f[OG_EVF_IP], "192.0.2.1");

	/* confirmed during a pause over the request */
	ask.key = pause.key = conf.key = "b@x.example";
	pause.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, ask), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, pause), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, conf), OG_APPLIED);
	assert_int_equal(request_of(f, "b@x.example", 1, req), 0);
	assert_int_equal(req->time, T0);

	/* asked, then vouched for by an admin: no double opt-in */
	ask.key = "c@x.example";
	assert_int_equal(og_testfx_apply(f->st, ask), OG_APPLIED);
	assert_int_equal(og_testfx_apply(f->st, vouch), OG_APPLIED);
	assert_int_equal(request_of(f, "c@x.example", 0, req), OG_NOTFOUND);

	/* an import's line: request and confirmation of one second */
	imp[0] = og_testfx_change("d@x.example", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "news", OG_ST_PENDING, T0 + 30);
	imp[0].via = OG_VIA_IMPORT;
	imp[0].flags = OG_CH_IF_NEWER;
	imp[0].f[OG_EVF_SOURCE] = "form";
	imp[1] = imp[0];
	imp[1].state = OG_ST_CONFIRMED;
	imp[1].f[OG_EVF_SOURCE] = "confirmation";
	assert_int_equal(og_store_apply(f->st, imp, 2, res), 0);
	assert_int_equal(res[0], OG_APPLIED);
	assert_int_equal(res[1], OG_SKIPPED_OLDER); /* newer wins, without */
	imp[0].key = imp[1].key = "e@x.example";
	imp[1].flags |= OG_CH_REQUESTED;
	assert_int_equal(og_store_apply(f->st, imp, 2, res), 0);
	assert_int_equal(res[0], OG_APPLIED);
	assert_int_equal(res[1], OG_APPLIED);
	assert_int_equal(request_of(f, "e@x.example", 0, req), 0);
	assert_string_equal(req->f[OG_EVF_SOURCE], "form");
	/* again: nothing written */
	assert_int_equal(og_store_apply(f->st, imp, 2, res), 0);
	assert_int_equal(res[0], OG_SKIPPED_OLDER);
	assert_int_equal(res[1], OG_UNCHANGED);
	free(req);
}

static void
events_chain(void **state)
{
	struct fx *f = *state;
	og_change ch = og_testfx_change("d@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_PENDING, T0);
	struct evs e;

	memset(&e, 0, sizeof(e));
	ch.f[OG_EVF_IP] = "198.51.100.9";
	og_testfx_apply(f->st, ch);
	og_testfx_apply(f->st, og_testfx_change("other@x.example", OG_EV_OPTOUT,
	                           OG_SCOPE_ALL, NULL, 0, T0 + 1));
	og_testfx_apply(f->st, og_testfx_change("d@x.example", OG_EV_CONFIRM,
	                           OG_SCOPE_STREAM, "news", 0, T0 + 2));
	og_testfx_apply(f->st, og_testfx_change("d@x.example", OG_EV_OPTOUT,
	                           OG_SCOPE_ALL, NULL, 0, T0 + 3));
	assert_int_equal(
	    og_store_foreach_event(f->st, "d@x.example", collect, &e), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.kinds[0], OG_EV_OPTOUT); /* newest first */
	assert_int_equal(e.kinds[1], OG_EV_CONFIRM);
	assert_int_equal(e.kinds[2], OG_EV_OPTIN);
	assert_string_equal(e.ip, "198.51.100.9");
}

static int
count_rec(const og_record *rec, void *ctx)
{
	static char last[OG_ADDR_MAX + 1];
	int *n = ctx;

	if (*n > 0 && strcmp(last, rec->key) >= 0)
		return -99;
	og_strlcpy(last, rec->key, sizeof(last));
	(*n)++;
	return 0;
}

static void
group_commit_and_foreach(void **state)
{
	struct fx *f = *state;
	enum { N = 2500 };
	og_change *ch = calloc(N, sizeof(*ch));
	int *res = calloc(N, sizeof(int));
	char(*keys)[32] = calloc(N, 32);
	int i, n = 0;

	for (i = 0; i < N; i++) {
		snprintf(keys[i], 32, "u%05d@x.example", (i * 7919) % N);
		ch[i] = og_testfx_change(keys[i], OG_EV_OPTIN, OG_SCOPE_STREAM,
		    "news", OG_ST_CONFIRMED, T0);
	}
	assert_int_equal(og_store_apply(f->st, ch, N, res), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(res[i], OG_APPLIED);
	assert_int_equal(og_store_foreach(f->st, NULL, count_rec, &n), 0);
	assert_int_equal(n, N);
	free(ch);
	free(res);
	free(keys);
}

static void
sends_saturate(void **state)
{
	struct fx *f = *state;
	const char *k = "e@x.example";
	int64_t times[OG_SENDS_MAX + 4];
	og_rtxn *tx;
	int i, n = -1;

	for (i = 0; i < OG_SENDS_MAX + 5; i++)
		assert_int_equal(
		    og_store_count_sends(f->st, &k, 1, "news", T0 + i), 0);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(
	    og_store_get_sends(tx, k, "news", times, OG_SENDS_MAX + 4, &n), 0);
	og_store_rend(tx);
	assert_int_equal(n, OG_SENDS_MAX);
	/* the newest OG_SENDS_MAX times, newest first, each one kept */
	for (i = 0; i < n; i++)
		assert_int_equal(times[i], T0 + OG_SENDS_MAX + 4 - i);
}

/*
 * Held sends shared between processes (og_store_hold): a hold counts
 * until it is given back, its time is past, or its process is gone;
 * verify reads the records and expire drops the stale ones.
 */
static void
holds_shared(void **state)
{
	struct fx *f = *state;
	const char *k = "h@x.example";
	og_verify_stats vs;
	uint64_t dropped = 0;
	og_rtxn *tx;
	pid_t gone;
	int n = -1;

	if ((gone = fork()) == 0)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	assert_int_equal(
	    og_store_hold(f->st, k, "news", getpid(), T0 + 60, T0, 1), 0);
	assert_int_equal(
	    og_store_hold(f->st, k, "news", getppid(), T0 + 60, T0, 1), 0);
	assert_int_equal(
	    og_store_hold(f->st, k, "news", gone, T0 + 60, T0, 1), 0);
	assert_int_equal(
	    og_store_hold(f->st, k, "other", getppid(), T0 + 30, T0, 1), 0);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_holds(tx, k, "news", T0 + 1, &n), 0);
	assert_int_equal(n, 2); /* not the gone process's */
	assert_int_equal(og_store_holds(tx, k, "other", T0 + 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(og_store_holds(tx, k, "news", T0 + 60, &n), 0);
	assert_int_equal(n, 0); /* past their time */
	assert_int_equal(og_store_holds(tx, "x@x.example", "news", T0, &n), 0);
	assert_int_equal(n, 0);
	og_store_rend(tx);
	/* given back: one of this process's, then the other process's */
	assert_int_equal(
	    og_store_hold(f->st, k, "news", getpid(), T0 + 60, T0 + 2, -1), 0);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_holds(tx, k, "news", T0 + 2, &n), 0);
	assert_int_equal(n, 1);
	og_store_rend(tx);
	assert_int_equal(
	    og_store_hold(f->st, k, "news", getppid(), T0 + 60, T0 + 3, -1), 0);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_holds(tx, k, "news", T0 + 3, &n), 0);
	assert_int_equal(n, 0);
	og_store_rend(tx);
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.counters, 1); /* "other" only: "news" is gone */
	/* expire: a hold past its time goes */
	setenv("OPTGATE_NOW", "1800000100", 1);
	assert_int_equal(og_store_expire_counters(
	                     f->st, T0 - 86400, T0 - 86400, 0, &dropped),
	    0);
	unsetenv("OPTGATE_NOW");
	assert_int_equal(dropped, 1);
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.counters, 0);
}

/*
 * A clock stepped back between sends: the list stays newest first, and
 * a full list drops its oldest send, not the one counted last.
 */
static void
sends_stay_in_order(void **state)
{
	struct fx *f = *state;
	const char *k = "e@x.example";
	int64_t times[OG_SENDS_MAX];
	og_rtxn *tx;
	int i, n = -1;

	for (i = 0; i < OG_SENDS_MAX; i++)
		assert_int_equal(
		    og_store_count_sends(f->st, &k, 1, "news", T0 + 100 + i),
		    0);
	/* the clock went back 1000 seconds, then on */
	assert_int_equal(
	    og_store_count_sends(f->st, &k, 1, "news", T0 - 900), 0);
	assert_int_equal(
	    og_store_count_sends(f->st, &k, 1, "news", T0 + 110), 0);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(
	    og_store_get_sends(tx, k, "news", times, OG_SENDS_MAX, &n), 0);
	og_store_rend(tx);
	assert_int_equal(n, OG_SENDS_MAX);
	for (i = 1; i < n; i++)
		assert_true(times[i - 1] >= times[i]);
	/* the two oldest were dropped: T0 - 900 and T0 + 100 */
	assert_int_equal(times[0], T0 + 100 + OG_SENDS_MAX - 1);
	assert_int_equal(times[n - 1], T0 + 101);
}

static void
codec_rejects_garbage(void **state)
{
	og_record rec;
	og_event ev;
	unsigned char v2[] = {2, 0, 0, 0, 0, 0};
	unsigned char v3[] = {3, 0, 0, 0, 0, 0};
	unsigned char trunc[] = {1, 0, 0, 0, 0};
	/* version 2: a stream entry paused (optout until 200) over a
	 * confirmed opt-in of time 50, event 7 */
	unsigned char pause[] = {2, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 9, 0,
	    0, 1, OG_SCOPE_STREAM, OG_ST_OPTOUT, 0, 0, 0x0d, 1, 'n', 0, 0, 0,
	    150, 0, 0, 0, 200, OG_ST_CONFIRMED, 0, 0, 0, 0, 50, 0, 0, 0, 0, 0,
	    0, 0, 7};

	(void)state;
	assert_int_equal(
	    og_record_decode(v3, sizeof(v3), "k", &rec), OG_EVERSION);
	assert_int_equal(og_record_decode(pause, sizeof(pause), "k", &rec), 0);
	assert_int_equal(rec.entries[0].resume, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].resume_event, 7);
	assert_int_equal(og_record_settle(&rec, 199), 0);
	assert_int_equal(og_record_settle(&rec, 200), 1);
	assert_int_equal(rec.entries[0].state, OG_ST_CONFIRMED);
	assert_int_equal(rec.entries[0].time, 50);
	assert_int_equal(rec.entries[0].expires, 0);
	/* a pause's consent in a version 1 record is damage */
	pause[0] = 1;
	assert_int_equal(
	    og_record_decode(pause, sizeof(pause), "k", &rec), OG_ECORRUPT);
	assert_int_equal(
	    og_record_decode(trunc, sizeof(trunc), "k", &rec), OG_ECORRUPT);
	assert_int_equal(og_event_decode(v2, sizeof(v2), 1, &ev), OG_EVERSION);
	assert_int_equal(
	    og_event_decode(trunc, sizeof(trunc), 1, &ev), OG_ECORRUPT);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
refuses_garbage_file(void **state)
{
	char dir[] = "/tmp/og_store_bad.XXXXXX", path[128], err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st = NULL;
	char *before, *after;
	size_t l1, l2;
	FILE *fp;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/consent", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/consent/data.mdb", dir);
	fp = fopen(path, "wb");
	for (i = 0; i < 20000; i++)
		fputc((i * 31 + 7) & 0xff, fp);
	fclose(fp);
	before = slurp(path, &l1);
	assert_int_equal(
	    og_store_open(dir, &o, &st, err, sizeof(err)), OG_ECORRUPT);
	assert_null(st);
	assert_non_null(strstr(err, "not an LMDB file"));
	after = slurp(path, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
	free(before);
	free(after);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void
refuses_truncated_file(void **state)
{
	struct fx *f = *state;
	char path[128], err[512];
	og_store_opts o = {0, 0, 0, 0, NULL};
	og_store *st = NULL;
	og_change ch[3000];
	char keys[3000][24];
	struct stat sb;
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "t%d@x.example", i);
		ch[i] = og_testfx_change(
		    keys[i], OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0);
	}
	assert_int_equal(og_store_apply(f->st, ch, 3000, NULL), 0);
	og_store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/consent/data.mdb", f->dir);
	/* WRITEMAP files are sparse at map size: cut below the last page */
	assert_int_equal(truncate(path, 16384), 0);
	assert_int_equal(
	    og_store_open(f->dir, &o, &st, err, sizeof(err)), OG_ECORRUPT);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 16384);
	/* a fresh store for teardown; this one goes now */
	assert_int_equal(og_testfx_close(f->dir, NULL), 0);
	assert_int_equal(
	    og_testfx_open(f->dir, sizeof(f->dir), "og_store_test", &f->st), 0);
}

static void
refuses_newer_schema(void **state)
{
	struct fx *f = *state;
	char path[128], err[512];
	og_store_opts o = {0, 0, 0, 0, NULL};
	og_store *st = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	unsigned char kb[] = "Mschema", vb[4];

	og_store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/consent", f->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	mdb_env_set_mapsize(env, 1 << 24);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "main", 0, &dbi), 0);
	og_put_be32(vb, 99);
	k.mv_data = kb;
	k.mv_size = 7;
	v.mv_data = vb;
	v.mv_size = 4;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(
	    og_store_open(f->dir, &o, &st, err, sizeof(err)), OG_EVERSION);
	assert_non_null(strstr(err, "newer"));
	/* a fresh store for teardown; this one goes now */
	assert_int_equal(og_testfx_close(f->dir, NULL), 0);
	assert_int_equal(
	    og_testfx_open(f->dir, sizeof(f->dir), "og_store_test", &f->st), 0);
}

static void
missing_store(void **state)
{
	og_store_opts o = {0, 0, 0, 0, NULL};
	og_store *st = NULL;
	char err[512];

	(void)state;
	assert_int_equal(og_store_open("/tmp/og-no-such-store-here", &o, &st,
	                     err, sizeof(err)),
	    OG_ENOSTORE);
	assert_non_null(strstr(err, "optgate init"));
}

/* Wait for the child pid, which must have exited with status 0. */
static void
child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* rm -rf dir (a test's own mkdtemp folder). */
static void
remove_tree(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Close st, open dir again (without OG_STORE_CREATE): it holds want records. */
static void
assert_records_after_reopen(
    og_store *st, const char *dir, og_store_opts o, uint64_t want)
{
	og_store_info info;
	char err[512];

	og_store_close(st);
	o.flags = 0;
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_info_get(st, &info);
	assert_int_equal(info.records, want);
	og_store_close(st);
}

static void
map_full_grows_then_fails_cleanly(void **state)
{
	char dir[] = "/tmp/og_store_full.XXXXXX", err[512];
	og_store_opts o = {4 << 20, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_store_info info;
	uint64_t first_map;
	enum { B = 500 };
	og_change ch[B];
	char keys[B][64];
	int i, batch, rc = 0, ok_batches = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_info_get(st, &info);
	first_map = info.map_size;
	assert_true(first_map < (4 << 20));
	for (batch = 0; batch < 200 && rc == 0; batch++) {
		for (i = 0; i < B; i++) {
			snprintf(keys[i], sizeof(keys[i]),
			    "someone.with.a.long.name.%d.%d@x.example", batch,
			    i);
			ch[i] = og_testfx_change(keys[i], OG_EV_OPTIN,
			    OG_SCOPE_STREAM, "newsletter", OG_ST_CONFIRMED, T0);
			ch[i].f[OG_EVF_UA] = "Mozilla/5.0 (X11; Linux x86_64)";
		}
		rc = og_store_apply(st, ch, B, NULL);
		if (rc == 0)
			ok_batches++;
	}
	assert_int_equal(rc, OG_EFULL);
	og_store_info_get(st, &info);
	assert_true(info.map_size > first_map);
	assert_int_equal(info.map_size, 4 << 20);
	/* nothing half-written: exactly the acknowledged batches */
	assert_int_equal(info.records, (uint64_t)ok_batches * B);
	assert_records_after_reopen(st, dir, o, (uint64_t)ok_batches * B);
	remove_tree(dir);
}

static void
broken_counters_rebuilt(void **state)
{
	struct fx *f = *state;
	char path[128], err[512];
	og_store_opts o = {0, 0, 0, 0, NULL};
	FILE *fp;
	int i;

	og_store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/counters/data.mdb", f->dir);
	fp = fopen(path, "wb");
	for (i = 0; i < 9000; i++)
		fputc(i & 0xff, fp);
	fclose(fp);
	assert_int_equal(
	    og_store_open(f->dir, &o, &f->st, err, sizeof(err)), 0);
}

/*
 * A counters file that is not LMDB's (garbage, or a copy cut short)
 * found at open, or put in place under a running daemon (a restore):
 * refused and rebuilt, its descriptor closed once.  A second close of a
 * number another thread has opened meanwhile (libmilter's workers accept
 * connections all the time) closes that thread's connection or file.
 */
static void
foreign_counters_closed_once(void **state)
{
	struct fx *f = *state;
	char path[160], err[512], cmd[800];
	og_store_opts o = {0, 0, 0, 0, NULL};
	FILE *fp;
	int i;

	og_store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/counters/data.mdb", f->dir);
	fp = fopen(path, "wb");
	for (i = 0; i < 9000; i++)
		fputc(i & 0xff, fp);
	fclose(fp);
	closed_twice = 0;
	assert_int_equal(
	    og_store_open(f->dir, &o, &f->st, err, sizeof(err)), 0);
	assert_int_equal(closed_twice, 0);

	/* a backup's counters cut short, moved in under the running store */
	snprintf(cmd, sizeof(cmd),
	    "rm -r %s/counters.broken-* && mkdir %s/new && "
	    "head -c 5000 /dev/urandom >%s/new/data.mdb && "
	    "mv %s/counters %s/old && mv %s/new %s/counters",
	    f->dir, f->dir, f->dir, f->dir, f->dir, f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	closed_twice = 0;
	assert_int_equal(og_store_counters_check(f->st), 1);
	assert_int_equal(closed_twice, 0);
}

/*
 * Counters rebuilt by root (an admin's command after a crash) in a store
 * the daemons own: the new counters belong to the store's owner, or the
 * daemons, no longer root, cannot open the store at all.
 */
static void
rebuilt_counters_keep_store_owner(void **state)
{
	struct fx *f = *state;
	char path[160], err[512], cmd[256];
	og_store_opts o = {0, 0, 0, 0, NULL};
	struct stat sb;
	FILE *fp;
	int i;

	if (geteuid() != 0)
		skip();
	og_store_close(f->st);
	f->st = NULL;
	snprintf(cmd, sizeof(cmd), "chown -R 65534:65534 '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/counters/data.mdb", f->dir);
	fp = fopen(path, "wb");
	for (i = 0; i < 9000; i++)
		fputc(i & 0xff, fp);
	fclose(fp);
	assert_int_equal(
	    og_store_open(f->dir, &o, &f->st, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/counters", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
	snprintf(path, sizeof(path), "%s/counters/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	snprintf(path, sizeof(path), "%s/counters/lock.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
}

/*
 * Root gives files it made in a folder the daemons' user owns (lock
 * files, a rebuilt counters folder, quarantine entries) to that user.
 * That user may put a link in their place between the making and the
 * giving: the link, and a file with another name (a hard link to
 * /etc/shadow, say), must never pass the ownership on.
 */
static void
give_never_follows_links(void **state)
{
	char dir[] = "/tmp/og-give.XXXXXX", p[128], q[128];
	struct stat sb;
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(q, sizeof(q), "%s/precious", dir);
	fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);

	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	og_testfx_refuses_links(og_store_give, p, q);

	/* what it is for: a file and a folder of its own */
	assert_int_equal(og_store_give(q, 65534, 65534), 0);
	assert_int_equal(stat(q, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
	assert_int_equal(og_store_give(dir, 65534, 65534), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(og_store_give(p, 65534, 65534), OG_NOTFOUND);
	assert_int_equal(unlink(q), 0);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * A store the user may not read (made by the daemons' user): the error
 * says which file and why, and does not send the admin to optgate init.
 */
static void
unreadable_store_says_why(void **state)
{
	struct fx *f = *state;
	char err[512], cmd[256];
	og_store_opts o = {0, 0, 0, 0, NULL};
	og_store *st;
	int p[2];
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	og_store_close(f->st);
	f->st = NULL;
	snprintf(cmd, sizeof(cmd), "chmod 755 '%s' && chmod 700 '%s/consent'",
	    f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		err[0] = 0;
		if (og_store_open(f->dir, &o, &st, err, sizeof(err)) == 0)
			_exit(3);
		if (write(p[1], err, strlen(err) + 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], err, sizeof(err) - 1);
	close(p[0]);
	child_ok(pid);
	assert_true(n > 0);
	err[n] = 0;
	assert_non_null(strstr(err, "consent"));
	assert_non_null(strstr(err, "Permission denied"));
	assert_null(strstr(err, "optgate init"));

	/* a store path the user cannot even look up */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		err[0] = 0;
		snprintf(cmd, sizeof(cmd), "%s/consent/x", f->dir);
		if (og_store_open(cmd, &o, &st, err, sizeof(err)) == 0)
			_exit(3);
		if (write(p[1], err, strlen(err) + 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], err, sizeof(err) - 1);
	close(p[0]);
	child_ok(pid);
	assert_true(n > 0);
	err[n] = 0;
	assert_non_null(strstr(err, "Permission denied"));
	assert_null(strstr(err, "optgate init"));
	assert_int_equal(
	    og_store_open(f->dir, &o, &f->st, err, sizeof(err)), 0);
}

/* mkdtemp dir and mount a tmpfs of that size on it; skip without root. */
static void
small_disk(char *dir, const char *size)
{
	assert_non_null(mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, size) != 0) {
		rmdir(dir);
		skip(); /* needs root, as make check has */
	}
}

/*
 * A daemon's write on a full disk is an error it can answer (OG_ENOSPC ->
 * tempfail), not a SIGBUS: consent goes through write(2) (only bulk
 * writers map it writable), and so do the counters (counters_disk_full).
 */
static void
disk_full_is_an_error(void **state)
{
	char dir[] = "/tmp/og_store_disk.XXXXXX", err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	enum { B = 500 };
	og_change ch[B];
	char keys[B][64];
	int i, batch, rc = 0, ok_batches = 0;

	(void)state;
	small_disk(dir, "size=1m");
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	for (batch = 0; batch < 400 && rc == 0; batch++) {
		for (i = 0; i < B; i++) {
			snprintf(keys[i], sizeof(keys[i]),
			    "someone.with.a.long.name.%d.%d@x.example", batch,
			    i);
			ch[i] = og_testfx_change(
			    keys[i], OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0);
		}
		rc = og_store_apply(st, ch, B, NULL);
		if (rc == 0)
			ok_batches++;
	}
	assert_int_equal(rc, OG_ENOSPC);
	assert_true(ok_batches > 0);
	assert_records_after_reopen(st, dir, o, (uint64_t)ok_batches * B);
	assert_int_equal(umount(dir), 0);
	rmdir(dir);
}

/* Count one send each for keys n0..n0+n-1 ("c<i>@x.example"). */
static int
count_range(og_store *st, int n0, int n)
{
	char buf[200][32];
	const char *keys[200];
	int i;

	assert_true(n <= 200);
	for (i = 0; i < n; i++) {
		snprintf(buf[i], sizeof(buf[i]), "c%d@x.example", n0 + i);
		keys[i] = buf[i];
	}
	return og_store_count_sends(st, keys, (size_t)n, "news", T0);
}

static int
sends_of(og_store *st, int i)
{
	char key[32];
	int64_t times[4];
	og_rtxn *tx;
	int n = -1;

	snprintf(key, sizeof(key), "c%d@x.example", i);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	assert_int_equal(og_store_get_sends(tx, key, "news", times, 4, &n), 0);
	og_store_rend(tx);
	return n;
}

/*
 * The counters go through write(2): their file takes the pages in use,
 * not the map's 64 MiB reserved on disk (as when they were written in
 * place).
 */
static void
counters_file_as_used(void **state)
{
	struct fx *f = *state;
	char path[160];
	struct stat sb;

	assert_int_equal(count_range(f->st, 0, 100), 0);
	assert_int_equal(sends_of(f->st, 99), 1);
	snprintf(path, sizeof(path), "%s/counters/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size < 1 << 20);
	assert_true((uint64_t)sb.st_blocks * 512 < 1 << 20);
}

/*
 * A full disk while the counters grow: counting is refused with an
 * error (the daemons log it and go on), never a SIGBUS; what was counted
 * stays; with room again, counting resumes.  And a disk without room for
 * a whole first map (1 MiB): counting works, the file takes what it
 * uses.
 */
static void
counters_disk_full(void **state)
{
	char dir[] = "/tmp/og_store_kfull.XXXXXX", err[512];
	og_store_opts o = {4 << 20, 4 << 20, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	struct stat sb;
	char path[160];
	int b, rc = 0, done = 0;

	(void)state;
	small_disk(dir, "size=3m");
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	for (b = 0; b < 1000 && rc == 0; b++)
		if ((rc = count_range(st, b * 200, 200)) == 0)
			done = (b + 1) * 200;
	assert_int_equal(rc, OG_ENOSPC);
	assert_true(done > 0);
	assert_int_equal(sends_of(st, 0), 1);
	assert_int_equal(sends_of(st, done - 1), 1);
	assert_int_equal(sends_of(st, done), 0);
	assert_int_equal(
	    mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=32m"), 0);
	assert_int_equal(count_range(st, done, 200), 0);
	assert_int_equal(sends_of(st, done), 1);
	og_store_close(st);
	assert_int_equal(umount(dir), 0);

	/* No room for the first map (1 MiB, a quarter of the ceiling). */
	assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, "size=900k"), 0);
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(count_range(st, 0, 100), 0);
	assert_int_equal(sends_of(st, 99), 1);
	og_store_close(st);
	snprintf(path, sizeof(path), "%s/counters/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size < 1 << 20);
	assert_int_equal(umount(dir), 0);
	rmdir(dir);
}

/*
 * A process that opens the store after another grew the counters map
 * beyond a quarter of a small counter_map_size, or with a ceiling
 * lowered since: opening must not cut the counters file, and the
 * running process counts on into its whole map.
 */
static void
open_keeps_grown_counters_file(void **state)
{
	char dir[] = "/tmp/og_store_kceil.XXXXXX", err[512];
	char path[160];
	og_store_opts o = {0, 16 << 20, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_store_info info;
	struct stat sb;
	off_t size;
	int b;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	info.cmap_size = 0;
	for (b = 0; b < 2000 && info.cmap_size < (16 << 20); b++) {
		assert_int_equal(count_range(st, b * 200, 200), 0);
		og_store_info_get(st, &info);
	}
	assert_int_equal(info.cmap_size, 16 << 20);
	snprintf(path, sizeof(path), "%s/counters/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	size = sb.st_size;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;

		o.flags = 0;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(2);
		og_store_close(st2);
		o.counter_map_size = 4 << 20; /* lowered */
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(3);
		og_store_close(st2);
		_exit(0);
	}
	child_ok(pid);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size >= size);
	/* and the running process counts on into its whole map */
	for (; b < 4000; b++)
		if (count_range(st, b * 200, 200) != 0)
			break;
	assert_int_equal(sends_of(st, 0), 1);
	og_store_close(st);
	remove_tree(dir);
}

/*
 * A process that adopts a counters map another process grew (its write
 * transaction met MDB_MAP_RESIZED) must not cut the file to the size the
 * other last committed: that process may have grown the map again and be
 * writing there before its next commit (SIGBUS).  Here the other process
 * grows the map to 16 MiB and holds it, uncommitted, while this one
 * adopts.
 */
static void
adopt_keeps_grown_counters_file(void **state)
{
	char dir[] = "/tmp/og_store_kadopt.XXXXXX", err[512];
	char path[160], kdir[160], c;
	og_store_opts o = {0, 32 << 20, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_store_info info;
	struct stat sb;
	int b, go[2], done[2];
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/counters/data.mdb", dir);
	snprintf(kdir, sizeof(kdir), "%s/counters", dir);
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(count_range(st, 0, 10), 0);
	og_store_info_get(st, &info);
	assert_int_equal(info.cmap_size, 8 << 20);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;
		og_store_info i2;
		MDB_env *env;

		close(go[0]);
		close(done[1]);
		/* past our 8 MiB: the map grows to 16 MiB, committed */
		o.flags = 0;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(2);
		i2.cmap_size = 0;
		for (b = 0; b < 4000 && i2.cmap_size < (16 << 20); b++) {
			if (count_range(st2, b * 200, 200) != 0)
				_exit(3);
			og_store_info_get(st2, &i2);
		}
		og_store_close(st2);
		/* grown again to 32 MiB, not committed yet */
		if (mdb_env_create(&env) != 0 ||
		    mdb_env_set_mapsize(env, 32 << 20) != 0 ||
		    mdb_env_open(env, kdir,
		        MDB_WRITEMAP | MDB_NOSYNC | MDB_NOTLS, 0640) != 0)
			_exit(4);
		if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(5);
		mdb_env_close(env);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	if (read(go[0], &c, 1) != 1) { /* the child failed: say where */
		child_ok(pid);
	}
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 32 << 20);
	/* our next write transaction adopts the grown map */
	assert_int_equal(count_range(st, 0, 10), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size >= 32 << 20);
	assert_int_equal(write(done[1], "d", 1), 1);
	close(go[0]);
	close(done[1]);
	child_ok(pid);
	assert_int_equal(sends_of(st, 0), 3); /* 2 here, 1 there */
	og_store_close(st);
	remove_tree(dir);
}

/* Consent that one process grows while another opens or adopts it. */
enum { OPTIN_BATCH = 250 };

/* Opt in keys n0..n0+n-1 ("a<i>@x.example"), in one commit. */
static int
optin_range(og_store *st, int n0, int n)
{
	char buf[OPTIN_BATCH][32];
	og_change ch[OPTIN_BATCH];
	int i;

	assert_true(n <= OPTIN_BATCH);
	for (i = 0; i < n; i++) {
		snprintf(buf[i], sizeof(buf[i]), "a%d@x.example", n0 + i);
		ch[i] = og_testfx_change(buf[i], OG_EV_OPTIN, OG_SCOPE_STREAM,
		    "news", OG_ST_CONFIRMED, T0);
		ch[i].f[OG_EVF_UA] = "Mozilla/5.0 (X11; Linux x86_64)";
	}
	return og_store_apply(st, ch, (size_t)n, NULL);
}

/*
 * Whether "a<i>@x.example" has a record, as a reader sees it now: 1 or
 * 0, -1 when no read could begin (no assert: a child calls it too).
 */
static int
has_optin(og_store *st, int i)
{
	char key[32];
	og_record rec;
	og_rtxn *tx;
	int rc;

	snprintf(key, sizeof(key), "a%d@x.example", i);
	if (og_store_rbegin(st, &tx) != 0)
		return -1;
	rc = og_store_get(tx, key, &rec);
	og_store_rend(tx);
	return rc == 0;
}

/*
 * Opt in, batch after batch from *b, until the consent map has grown to
 * size (grow), or until less than 1 MiB of it is left unused (the next
 * batches will grow it).
 */
static void
optin_until(og_store *st, int *b, uint64_t size, int grow)
{
	og_store_info info;

	og_store_info_get(st, &info);
	while (grow ? info.map_size < size
	            : info.map_used + (1 << 20) < info.map_size) {
		assert_int_equal(
		    optin_range(st, *b * OPTIN_BATCH, OPTIN_BATCH), 0);
		++*b;
		og_store_info_get(st, &info);
	}
	assert_true(info.map_size == size);
}

/*
 * A process opening the store (a daemon starting, an optgate command)
 * while another grows the consent map: the other commits beyond the map
 * the opener has just set up, before the opener's first transaction,
 * which meets MDB_MAP_RESIZED.  The opener adopts the grown map and
 * opens, seeing what the other committed; it does not refuse to open.
 */
static void
open_meeting_growth_opens(void **state)
{
	char dir[] = "/tmp/og_store_wmeet.XXXXXX", err[512];
	char c;
	og_store_opts o = {32 << 20, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	int b = 0, last, tell[2], go[2];
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	optin_until(st, &b, 8 << 20, 0); /* a quarter of the ceiling */
	assert_int_equal(pipe(tell), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;
		og_store_info i2;

		hold_at = HOLD_OPENED;
		hold_tell = tell[1];
		hold_go = go[0];
		o.flags = 0;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0) {
			fprintf(stderr, "child: %s\n", err);
			_exit(2);
		}
		/* the go the hold saw, then the parent's last batch */
		if (hold_at != HOLD_NONE || hold_timed_out ||
		    read(go[0], &c, 1) != 1 ||
		    read(go[0], &last, sizeof(last)) != sizeof(last))
			_exit(3);
		og_store_info_get(st2, &i2);
		if (has_optin(st2, last * OPTIN_BATCH) != 1 ||
		    i2.map_size < (16 << 20))
			_exit(4);
		og_store_close(st2);
		_exit(0);
	}
	close(tell[1]);
	if (read(tell[0], &c, 1) != 1) { /* the child failed: say where */
		child_ok(pid);
	}
	/* the child has its 8 MiB map: commit beyond it */
	optin_until(st, &b, 16 << 20, 1);
	last = b - 1;
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(write(go[1], &last, sizeof(last)), sizeof(last));
	child_ok(pid);
	og_store_close(st);
	close(tell[0]);
	close(go[0]);
	close(go[1]);
	remove_tree(dir);
}

/*
 * Bulk writers (OG_STORE_BULK: optgate import, og_bench load) map
 * consent writable, and nothing keeps two of them apart: two imports may
 * run at once.  With MDB_WRITEMAP, LMDB sets the file to the map of the
 * process that opens or resizes, so that process must not go by a file
 * size another grew past meanwhile (wmap_lock).
 */
/*
 * The end of a race: the held child has looked at the consent file;
 * grow this process's map to size, past what the child saw, and write
 * there, then let the child go on (go) and check that the file was not
 * cut under this map: it is size, this process writes on in its whole
 * map, and every opt-in it was told was stored is there.
 */
static void
race_grow_past(
    og_store *st, int *b, uint64_t size, int go, pid_t pid, const char *path)
{
	struct stat sb;

	optin_until(st, b, size, 1);
	assert_int_equal(optin_range(st, (*b)++ * OPTIN_BATCH, OPTIN_BATCH), 0);
	assert_int_equal(write(go, "g", 1), 1);
	child_ok(pid);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, size);
	optin_until(st, b, size, 0);
	assert_int_equal(has_optin(st, 0), 1);
	assert_int_equal(has_optin(st, *b * OPTIN_BATCH - 1), 1);
}

/*
 * Two imports, the second starting while the first grows the consent
 * map: the second looked at the file's size before the growth, and its
 * mdb_env_open() sets the file to a map of that size, after it.  The
 * file must not end smaller than the first's map (its next write there:
 * SIGBUS, the import killed).  Here the opening process is held between
 * the two; the parent grows its map meanwhile and writes there.
 */
static void
open_racing_growth_keeps_consent_file(void **state)
{
	char dir[] = "/tmp/og_store_wopen.XXXXXX", err[512];
	char path[160], c;
	og_store_opts o = {
	    32 << 20, 0, 0, OG_STORE_CREATE | OG_STORE_BULK, NULL};
	og_store *st;
	og_store_info info;
	int b = 0, tell[2], go[2];
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/consent/data.mdb", dir);
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	optin_until(st, &b, 8 << 20, 0); /* a quarter of the ceiling */
	assert_int_equal(pipe(tell), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;

		hold_at = HOLD_OPEN;
		hold_tell = tell[1];
		hold_go = go[0];
		o.flags = OG_STORE_BULK;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(2);
		og_store_close(st2);
		_exit(hold_at == HOLD_NONE ? 0 : 3);
	}
	close(tell[1]);
	if (read(tell[0], &c, 1) != 1) { /* the child failed: say where */
		child_ok(pid);
	}
	/* the child has looked at the file (8 MiB): grow past it */
	race_grow_past(st, &b, 16 << 20, go[1], pid, path);
	og_store_info_get(st, &info);
	assert_int_equal(info.records, (uint64_t)b * OPTIN_BATCH);
	assert_records_after_reopen(st, dir, o, (uint64_t)b * OPTIN_BATCH);
	close(tell[0]);
	close(go[0]);
	close(go[1]);
	remove_tree(dir);
}

/*
 * The same race at a resize: an import adopting a map another grew (its
 * next transaction, here a read, met MDB_MAP_RESIZED) looks at the
 * file's size, then sets its map to it; the other grows its map again in
 * between and writes there.
 */
static void
adopt_racing_growth_keeps_consent_file(void **state)
{
	char dir[] = "/tmp/og_store_wadopt.XXXXXX", err[512];
	char path[160], c;
	og_store_opts o = {
	    32 << 20, 0, 0, OG_STORE_CREATE | OG_STORE_BULK, NULL};
	og_store *st;
	int b = 1, tell[2], go[2];
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/consent/data.mdb", dir);
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(optin_range(st, 0, OPTIN_BATCH), 0);
	assert_int_equal(pipe(tell), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;

		/* an 8 MiB map, then told (c) the parent's is 16 MiB */
		o.flags = OG_STORE_BULK;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(2);
		if (optin_range(st2, 1000000, 10) != 0 ||
		    write(tell[1], "o", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		hold_at = HOLD_RESIZE;
		hold_tell = tell[1];
		hold_go = go[0];
		if (has_optin(st2, 1000009) != 1)
			_exit(4);
		og_store_close(st2);
		_exit(hold_at == HOLD_NONE ? 0 : 5);
	}
	close(tell[1]);
	if (read(tell[0], &c, 1) != 1) {
		child_ok(pid);
	}
	optin_until(st, &b, 16 << 20, 1);
	optin_until(st, &b, 16 << 20, 0);
	assert_int_equal(write(go[1], "c", 1), 1);
	if (read(tell[0], &c, 1) != 1) {
		child_ok(pid);
	}
	/* the child has looked at the file (16 MiB): grow past it */
	race_grow_past(st, &b, 32 << 20, go[1], pid, path);
	assert_int_equal(has_optin(st, 1000009), 1);
	assert_records_after_reopen(st, dir, o, (uint64_t)b * OPTIN_BATCH + 10);
	close(tell[0]);
	close(go[0]);
	close(go[1]);
	remove_tree(dir);
}

/* The [address] key text of a config of text (the test owns it). */
static char *
address_keys_of(const char *text)
{
	og_config *cfg = NULL;
	char err[512], *k;

	if (og_config_parse_string(
	        text, "t.conf", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("%s", err);
	k = og_xstrdup(cfg->address_keys);
	og_config_unref(cfg);
	return k;
}

/*
 * A store remembers the [address] settings it was made with: reopened
 * with settings that make other keys, it is refused, naming what
 * differs and the ways out; settings that make the same keys (order,
 * case, gmail.com beside gmail_dots) are the same.
 */
static void
address_settings_kept(void **state)
{
	char dir[] = "/tmp/og_store_addr.XXXXXX", err[2048];
	char *a = address_keys_of("[address]\nplus_tags = Outlook.com, "
	                          "example.org\n");
	char *same = address_keys_of("[address]\nplus_tags = example.org, "
	                             "outlook.com, gmail.com, outlook.com\n");
	char *plus = address_keys_of("[address]\nplus_tags = outlook.com\n");
	char *cs = address_keys_of("[address]\nplus_tags = outlook.com, "
	                           "example.org\nlocal_part = sensitive\n");
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, a};
	og_store *st = NULL;

	(void)state;
	assert_string_equal(a, same);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);

	o.flags = 0;
	o.address_keys = same;
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(og_store_address_check(st, a, err, sizeof(err)), 0);
	assert_int_equal(
	    og_store_address_check(st, cs, err, sizeof(err)), OG_EADDRESS);
	assert_non_null(strstr(err, "local_part: store insensitive, config "
	                            "sensitive"));
	og_store_close(st);

	st = NULL;
	o.address_keys = plus;
	assert_int_equal(
	    og_store_open(dir, &o, &st, err, sizeof(err)), OG_EADDRESS);
	assert_null(st);
	assert_non_null(strstr(err, "plus_tags: removed example.org"));
	assert_non_null(strstr(err, "Put [address] back as it was: "
	                            "gmail_dots = yes; local_part = "
	                            "insensitive; plus_tags = example.org, "
	                            "outlook.com; or move the store"));
	assert_non_null(strstr(err, "optgate export, init, import"));
	o.flags = OG_STORE_RDONLY; /* read-only opens compare too */
	assert_int_equal(
	    og_store_open(dir, &o, &st, err, sizeof(err)), OG_EADDRESS);
	o.flags = OG_STORE_CREATE; /* and init of a store already there */
	assert_int_equal(
	    og_store_open(dir, &o, &st, err, sizeof(err)), OG_EADDRESS);
	o.flags = OG_STORE_RDONLY; /* NULL: not compared (backup, export) */
	o.address_keys = NULL;
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);
	remove_tree(dir);
	free(a);
	free(same);
	free(plus);
	free(cs);
}

/*
 * A store made before optgate kept them (the fixture's: no settings
 * given) has none: a read-only open leaves it so, the first open that
 * may write consent records its own, and from then on they count.
 */
static void
address_settings_recorded_once(void **state)
{
	struct fx *f = *state;
	char err[2048];
	char *a = address_keys_of("");
	char *b = address_keys_of("[address]\nlocal_part = sensitive\n");
	og_store_opts o = {0, 0, 0, OG_STORE_RDONLY, b};
	og_store *st = NULL;

	og_store_close(f->st);
	f->st = NULL;
	assert_int_equal(og_store_open(f->dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);
	o.flags = 0;
	o.address_keys = a;
	assert_int_equal(og_store_open(f->dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);
	st = NULL;
	o.flags = OG_STORE_RDONLY;
	o.address_keys = b;
	assert_int_equal(
	    og_store_open(f->dir, &o, &st, err, sizeof(err)), OG_EADDRESS);
	o.flags = 0;
	assert_int_equal(
	    og_store_open(f->dir, &o, &st, err, sizeof(err)), OG_EADDRESS);
	assert_null(st);
	free(a);
	free(b);
}

/* chmod every lock.mdb of the store at dir to mode. */
static void
lock_files_mode(const char *dir, mode_t mode)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/consent/lock.mdb", dir);
	assert_int_equal(chmod(p, mode), 0);
	snprintf(p, sizeof(p), "%s/counters/lock.mdb", dir);
	assert_int_equal(chmod(p, mode), 0);
}

/*
 * A reader (OG_STORE_READ) of a store whose lock.mdb it may not write (a
 * copy made read-only: chmod a-w) reads it without LMDB's lock while no
 * process has it open, and writes nothing there; it is refused, naming
 * the process, while one has (a writer could reuse the pages it reads);
 * and og_store_read_check tells a read that a writer overtook (two
 * commits since the open) from one that holds (one).  og_store_writable
 * says what is missing before a command that changes the store opens
 * it.
 */
static void
reader_without_lock(void **state)
{
	struct fx *f = *state;
	og_store_opts o = {0, 0, 0, OG_STORE_READ, NULL};
	og_change ch = og_testfx_change("a@x.example", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_store *r = NULL, *w = NULL;
	char err[2048], lock[256], go;
	og_record rec;
	og_rtxn *tx;
	struct stat before, after;
	int tell[2], wait_go[2];
	pid_t pid;

	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	og_store_close(f->st);
	f->st = NULL;
	assert_int_equal(og_store_writable(f->dir, err, sizeof(err)), 0);
	lock_files_mode(f->dir, 0440);
	assert_int_equal(
	    og_store_writable(f->dir, err, sizeof(err)), OG_EACCES);
	assert_non_null(strstr(err, "/consent/lock.mdb: made read-only for "
	                            "everyone (mode 0440)"));
	snprintf(lock, sizeof(lock), "%s/consent/lock.mdb", f->dir);
	assert_int_equal(stat(lock, &before), 0);

	assert_int_equal(og_store_open(f->dir, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(og_store_rbegin(r, &tx), 0);
	assert_int_equal(og_store_get(tx, "a@x.example", &rec), 0);
	og_store_rend(tx);
	assert_int_not_equal(og_store_apply(r, &ch, 1, NULL), 0);
	assert_int_equal(stat(lock, &after), 0);
	assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

	/* a writer comes (this process: F_GETLK would not see it) */
	lock_files_mode(f->dir, 0640);
	o.flags = 0;
	assert_int_equal(og_store_open(f->dir, &o, &w, err, sizeof(err)), 0);
	ch = og_testfx_change(
	    "a@x.example", OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, T0 + 1);
	assert_int_equal(og_testfx_apply(w, ch), OG_APPLIED);
	assert_int_equal(og_store_read_check(r, err, sizeof(err)), 0);
	ch.key = "b@x.example";
	assert_int_equal(og_testfx_apply(w, ch), OG_APPLIED);
	assert_int_equal(og_store_read_check(r, err, sizeof(err)), OG_ESTORE);
	assert_non_null(strstr(err, "/consent: written 2 times while read "
	                            "without lock.mdb"));
	og_store_close(r);
	og_store_close(w);

	/* while another process has it open: refused */
	assert_int_equal(pipe(tell), 0);
	assert_int_equal(pipe(wait_go), 0);
	if ((pid = fork()) == 0) {
		og_store_opts wo = {0, 0, 0, 0, NULL};
		og_store *c = NULL;

		go = og_store_open(f->dir, &wo, &c, err, sizeof(err)) == 0;
		if (write(tell[1], &go, 1) != 1 || read(wait_go[0], &go, 1) < 0)
			_exit(1);
		og_store_close(c);
		_exit(0);
	}
	assert_int_equal(read(tell[0], &go, 1), 1);
	assert_int_equal(go, 1);
	lock_files_mode(f->dir, 0440);
	o.flags = OG_STORE_READ;
	r = NULL;
	assert_int_equal(
	    og_store_open(f->dir, &o, &r, err, sizeof(err)), OG_EACCES);
	assert_null(r);
	assert_non_null(strstr(err, "has the store open"));
	assert_int_equal(write(wait_go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* gone: read again */
	assert_int_equal(og_store_open(f->dir, &o, &r, err, sizeof(err)), 0);
	og_store_close(r);
	lock_files_mode(f->dir, 0640);
	close(tell[0]);
	close(tell[1]);
	close(wait_go[0]);
	close(wait_go[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(optin_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        older_optin_never_lifts_optout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        late_optout_keeps_newer_optin, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        suppression_needs_admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        temporary_never_shortens_suppression, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        full_record_takes_optout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        full_record_keeps_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        temporary_suppression_keeps_optout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        optout_outlives_temporary_suppression, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        optout_outlives_temporary_optout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        optout_outlives_manual_pause, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        confirm_needs_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        pending_keeps_optout, setup, teardown),
	    cmocka_unit_test_setup_teardown(events_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        cap_keeps_state_proof, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        older_store_cap_finds_proof, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        request_of_confirmation, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        unsuppress_keeps_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        group_commit_and_foreach, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        optout_survives_unsuppress, setup, teardown),
	    cmocka_unit_test_setup_teardown(sends_saturate, setup, teardown),
	    cmocka_unit_test_setup_teardown(holds_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        sends_stay_in_order, setup, teardown),
	    cmocka_unit_test(codec_rejects_garbage),
	    cmocka_unit_test(refuses_garbage_file),
	    cmocka_unit_test_setup_teardown(
	        refuses_truncated_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        refuses_newer_schema, setup, teardown),
	    cmocka_unit_test(missing_store),
	    cmocka_unit_test(map_full_grows_then_fails_cleanly),
	    cmocka_unit_test_setup_teardown(
	        broken_counters_rebuilt, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        foreign_counters_closed_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        rebuilt_counters_keep_store_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        unreadable_store_says_why, setup, teardown),
	    cmocka_unit_test(disk_full_is_an_error),
	    cmocka_unit_test_setup_teardown(
	        counters_file_as_used, setup, teardown),
	    cmocka_unit_test(counters_disk_full),
	    cmocka_unit_test(open_keeps_grown_counters_file),
	    cmocka_unit_test(adopt_keeps_grown_counters_file),
	    cmocka_unit_test(open_meeting_growth_opens),
	    cmocka_unit_test(open_racing_growth_keeps_consent_file),
	    cmocka_unit_test(adopt_racing_growth_keeps_consent_file),
	    cmocka_unit_test(give_never_follows_links),
	    cmocka_unit_test(address_settings_kept),
	    cmocka_unit_test_setup_teardown(
	        reader_without_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        address_settings_recorded_once, setup, teardown),
	};

	og_log_open("og_store_test", OG_LOG_STDERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
