/*
 * og_store_admin_test.c - the store's admin transactions and the gate's
 * use of them: erasure (chain stripped, record gone, hash refuses, bulk
 * re-import skipped, counters gone), partner hashed lists (only the
 * partner's streams, key mismatch refused, drop), counter expiry, the
 * OG_CH_NO_LIFT / OG_CH_IF_EXPIRED flags, renewed opt-ins, verify.
 * Every test gets its own temporary store folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_config.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_store.h"
#include "og_testfx.h"

#define T0 1800000000LL

static const char conf[] = "[stream news]\n"
                           "match = header:X-Optgate-Stream=news\n"
                           "class = marketing\n"
                           "consent = none\n"
                           "caps = 1/1d\n"
                           "[stream offers]\n"
                           "match = header:X-Optgate-Stream=offers\n"
                           "class = marketing\n"
                           "consent = none\n"
                           "partner = acme\n"
                           "[stream digest]\n"
                           "match = header:X-Optgate-Stream=digest\n"
                           "class = marketing\n"
                           "consent = optin\n";

struct fx {
	char dir[96];
	og_store *st;
	og_config *cfg;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	if (og_testfx_open(
	        f->dir, sizeof(f->dir), "og_store_admin_test", &f->st) != 0)
		return -1;
	if (og_config_parse_string(conf, "test.conf", &f->cfg, err, sizeof(err),
	        NULL, NULL) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	og_config_unref(f->cfg);
	if (og_testfx_close(f->dir, f->st) != 0)
		return -1;
	free(f);
	return 0;
}

/* The gate's rule for addr on stream name at now. */
static const char *
rule(struct fx *f, const char *stream, const char *addr, int64_t now)
{
	static og_verdict v;
	og_rtxn *tx;

	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	og_gate_decide(
	    f->cfg, tx, og_config_stream(f->cfg, stream), NULL, addr, now, &v);
	og_store_rend(tx);
	return v.rule;
}

static int
count_ev(const og_event *ev, void *ctx)
{
	int *n = ctx;
	int i;

	/* after an erasure only time, kind and scope name remain */
	for (i = 1; i < OG_EVF_NFIELDS; i++)
		if (i != OG_EVF_NAME && i != OG_EVF_STATUS &&
		    i != OG_EVF_STREAM && ev->f[i][0] &&
		    ev->kind != OG_EV_ERASE)
			fail_msg("event %llu keeps field %d: %s",
			    (unsigned long long)ev->seq, i, ev->f[i]);
	assert_true(ev->time > 0);
	(*n)++;
	return 0;
}

/*
 * An erase after another process grew the counters map (a daemon
 * counting while the admin erases): the erase adopts the new size.
 */
static void
erase_after_counters_grew_elsewhere(void **state)
{
	char dir[64], err[512], cmd[96];
	og_store_opts o = {0, 4 << 20, 0, OG_STORE_CREATE, NULL};
	const char *ana = "ana@example.com";
	og_store *st;
	og_change ch = og_testfx_change(
	    ana, OG_EV_OPTIN, OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	og_store_info info;
	uint64_t before;
	int status;
	pid_t pid;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/og_store_kgrow.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(og_testfx_apply(st, ch), OG_APPLIED);
	assert_int_equal(og_store_count_sends(st, &ana, 1, "news", T0), 0);
	og_store_info_get(st, &info);
	before = info.cmap_size;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		og_store *st2;
		char b[200][32];
		const char *k[200];
		int i, j;

		o.flags = 0;
		if (og_store_open(dir, &o, &st2, err, sizeof(err)) != 0)
			_exit(2);
		for (j = 0; j < 150; j++) {
			for (i = 0; i < 200; i++) {
				snprintf(b[i], sizeof(b[i]), "g%d.%d@x.example",
				    j, i);
				k[i] = b[i];
			}
			if (og_store_count_sends(st2, k, 200, "news", T0) != 0)
				_exit(3);
		}
		og_store_info_get(st2, &info);
		og_store_close(st2);
		_exit(info.cmap_size > before ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(og_store_erase(st, ana, T0 + 10, NULL, NULL), 0);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_erase(void **state)
{
	struct fx *f = *state;
	og_change ch = og_testfx_change("ana@example.com", OG_EV_OPTIN,
	    OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, T0);
	const char *keys[] = {"ana@example.com"};
	og_verify_stats vs;
	unsigned char h[32];
	og_hashed hs;
	og_rtxn *tx;
	og_record rec;
	uint64_t nev = 0;
	int64_t times[4];
	int n = 0;

	ch.f[OG_EVF_IP] = "203.0.113.9";
	ch.f[OG_EVF_SOURCE] = "form";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change(
	    "ana@example.com", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0 + 10);
	ch.f[OG_EVF_UA] = "Mozilla";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_int_equal(og_store_count_sends(f->st, keys, 1, "news", T0), 0);
	/* no erasure yet: the gate needs no HMAC for unknown addresses */
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_hashed_any(tx, OG_HASH_ERASED), 0);
	og_store_rend(tx);

	assert_int_equal(
	    og_store_erase(f->st, "ana@example.com", T0 + 20, "ticket 7", &nev),
	    0);
	assert_int_equal(nev, 2);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_hashed_any(tx, OG_HASH_ERASED), 1);
	assert_int_equal(og_store_hashed_any(tx, OG_HASH_PARTNER), 0);
	assert_int_equal(
	    og_store_get(tx, "ana@example.com", &rec), OG_NOTFOUND);
	assert_int_equal(og_store_hash_of(tx, "ana@example.com", h), 0);
	assert_int_equal(
	    og_store_hashed_read(tx, OG_HASH_ERASED, h, NULL, &hs), 0);
	assert_int_equal(hs.time, T0 + 20);
	assert_int_equal(
	    og_store_get_sends(tx, "ana@example.com", "news", times, 4, &n), 0);
	assert_int_equal(n, 0);
	og_store_rend(tx);
	/* the chain from the erase event: erase + the two stripped ones */
	n = 0;
	assert_int_equal(
	    og_store_foreach_event_from(f->st, hs.event, count_ev, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(
	    rule(f, "news", "ana@example.com", T0 + 30), "erased");
	/* a second erase finds nothing */
	assert_int_equal(
	    og_store_erase(f->st, "ana@example.com", T0 + 40, NULL, NULL),
	    OG_NOTFOUND);
	/* bulk paths do not bring the person back ... */
	ch = og_testfx_change("ana@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "news", OG_ST_CONFIRMED, T0 + 50);
	ch.flags = OG_CH_IF_NEWER;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_SKIPPED_ERASED);
	/* ... nor do their opt-out and suppression lines, which would
	 * store her address again and end the erasure's refusal */
	{
		og_change o = og_testfx_change("ana@example.com", OG_EV_OPTOUT,
		    OG_SCOPE_STREAM, "news", 0, T0 + 50);

		o.flags = OG_CH_IF_NEWER;
		assert_int_equal(og_testfx_apply(f->st, o), OG_SKIPPED_ERASED);
		o.kind = OG_EV_SUPPRESS;
		o.scope = OG_SCOPE_ALL;
		o.name = NULL;
		o.reason = OG_RS_COMPLAINT;
		assert_int_equal(og_testfx_apply(f->st, o), OG_SKIPPED_ERASED);
		assert_string_equal(
		    rule(f, "offers", "ana@example.com", T0 + 55), "erased");
	}
	/* ... an explicit new opt-in does */
	ch.flags = 0;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(rule(f, "news", "ana@example.com", T0 + 60), "ok");
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.records, 1);
	assert_int_equal(vs.hashes, 1);
}

/*
 * Erasure takes the person's counters and nobody else's: also when only
 * counters exist (transactional mail, no consent record: the erasure is
 * kept then too, her hash, and a second erase finds it), and not the
 * soft bounces of an address that merely starts with hers.
 */
static void
test_erase_counters(void **state)
{
	struct fx *f = *state;
	const char *cy = "cy@example.com", *bo = "bo@example.co";
	og_rtxn *tx;
	int64_t times[4], already = 0;
	int n = 0, cnt = 0;

	assert_int_equal(og_store_count_sends(f->st, &cy, 1, "news", T0), 0);
	assert_int_equal(
	    og_store_soft_bounce(f->st, cy, T0, 86400, 0, &cnt, &already), 0);
	assert_int_equal(
	    og_store_hold(f->st, cy, "news", getpid(), T0 + 60, T0, 1), 0);
	/* erased without a record: the erasure is kept (its hash) */
	assert_int_equal(og_store_erase(f->st, cy, T0 + 10, NULL, NULL), 1);
	assert_int_equal(
	    og_store_erase(f->st, cy, T0 + 11, NULL, NULL), OG_NOTFOUND);
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_erased(tx, cy), 1);
	assert_int_equal(og_store_get_sends(tx, cy, "news", times, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(og_store_holds(tx, cy, "news", T0 + 11, &n), 0);
	og_store_rend(tx);
	assert_int_equal(n, 0); /* held sends name her too */
	assert_int_equal(
	    og_store_soft_bounce(f->st, cy, T0 + 20, 86400, 0, &cnt, &already),
	    0);
	assert_int_equal(cnt, 1);

	/* bo@example.com keeps her soft bounces when bo@example.co goes */
	assert_int_equal(og_testfx_apply(f->st,
	                     og_testfx_change(bo, OG_EV_OPTIN, OG_SCOPE_STREAM,
	                         "news", OG_ST_CONFIRMED, T0)),
	    OG_APPLIED);
	assert_int_equal(og_store_soft_bounce(f->st, "bo@example.com", T0,
	                     86400, 0, &cnt, &already),
	    0);
	assert_int_equal(og_store_erase(f->st, bo, T0 + 10, NULL, NULL), 0);
	assert_int_equal(og_store_soft_bounce(f->st, "bo@example.com", T0 + 20,
	                     86400, 0, &cnt, &already),
	    0);
	assert_int_equal(cnt, 2);
}

/*
 * A soft bounce counts once per report: the same report again within the
 * period (Postfix's retry after an exit 75, a duplicate delivery) writes
 * nothing and says when it was counted; another report counts.  The
 * records verify, and expire drops them past the period like before.
 */
static void
test_soft_bounce_once_per_report(void **state)
{
	struct fx *f = *state;
	const char *k = "sb@example.com";
	og_verify_stats vs;
	uint64_t dropped = 0;
	int64_t already = -1;
	int cnt = 0;

	assert_int_equal(
	    og_store_soft_bounce(f->st, k, T0, 86400, 111, &cnt, &already), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(already, 0);
	/* the same report an hour later: not counted again */
	assert_int_equal(og_store_soft_bounce(
	                     f->st, k, T0 + 3600, 86400, 111, &cnt, &already),
	    0);
	assert_int_equal(cnt, 1);
	assert_int_equal(already, T0);
	/* another report counts */
	assert_int_equal(og_store_soft_bounce(
	                     f->st, k, T0 + 7200, 86400, 222, &cnt, &already),
	    0);
	assert_int_equal(cnt, 2);
	assert_int_equal(already, 0);
	/* no identity known: every one counts */
	assert_int_equal(
	    og_store_soft_bounce(f->st, k, T0 + 7300, 86400, 0, &cnt, &already),
	    0);
	assert_int_equal(
	    og_store_soft_bounce(f->st, k, T0 + 7400, 86400, 0, &cnt, &already),
	    0);
	assert_int_equal(cnt, 4);
	/* past the period the first report is no longer there to match */
	assert_int_equal(og_store_soft_bounce(f->st, k, T0 + 86400 + 10, 86400,
	                     111, &cnt, &already),
	    0);
	assert_int_equal(already, 0);
	assert_int_equal(cnt, 4);
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.problems, 0);
	assert_int_equal(vs.counters, 1);
	assert_int_equal(og_store_expire_counters(
	                     f->st, T0 + 3 * 86400, T0 + 86400, 0, &dropped),
	    0);
	assert_int_equal(dropped, 0);
	assert_int_equal(og_store_expire_counters(f->st, T0 + 3 * 86400,
	                     T0 + 86400 + 11, 0, &dropped),
	    0);
	assert_int_equal(dropped, 1);
}

/*
 * A temporary soft-bounce suppression and an opt-out of the same scope
 * share one entry: whichever comes second, the opt-out must outlive the
 * suppression's expiry (transactional mail keeps going to people who
 * opted out, so their soft bounces keep coming).
 */
static void
test_optout_outlives_soft_bounce(void **state)
{
	struct fx *f = *state;
	const int64_t days30 = 30 * 86400;
	og_change ch;

	/* opted out of everything, then soft bounces suppress for 30 days */
	ch = og_testfx_change(
	    "ana@example.com", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change(
	    "ana@example.com", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 10);
	ch.reason = OG_RS_SOFT_BOUNCE;
	ch.via = OG_VIA_BOUNCE;
	ch.expires = T0 + 10 + days30;
	og_testfx_apply(f->st, ch);
	assert_string_not_equal(
	    rule(f, "news", "ana@example.com", T0 + 20 + days30), "ok");

	/* suppressed for 30 days by soft bounces, then opts out of all */
	ch = og_testfx_change(
	    "bo@example.com", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	ch.reason = OG_RS_SOFT_BOUNCE;
	ch.via = OG_VIA_BOUNCE;
	ch.expires = T0 + days30;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change(
	    "bo@example.com", OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, T0 + 10);
	ch.via = OG_VIA_PAGE;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_not_equal(
	    rule(f, "news", "bo@example.com", T0 + 20 + days30), "ok");
}

/*
 * Soft bounces of mail sent before a permanent suppression (a DSN comes
 * days later) end in a temporary suppression of the same scope: it must
 * not replace the permanent one, which would be gone at its expiry.
 */
static void
test_soft_bounce_keeps_permanent_suppression(void **state)
{
	struct fx *f = *state;
	const int64_t days30 = 30 * 86400;
	const char *who[] = {"ana@example.com", "bo@example.com"};
	const int why[] = {OG_RS_COMPLAINT, OG_RS_MANUAL};
	og_change ch;
	int i;

	for (i = 0; i < 2; i++) {
		ch = og_testfx_change(
		    who[i], OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
		ch.reason = (uint8_t)why[i];
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
		ch = og_testfx_change(
		    who[i], OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0 + 10);
		ch.reason = OG_RS_SOFT_BOUNCE;
		ch.via = OG_VIA_BOUNCE;
		ch.expires = T0 + 10 + days30;
		og_testfx_apply(f->st, ch);
		assert_string_not_equal(
		    rule(f, "news", who[i], T0 + 20 + days30), "ok");
	}
}

static void
hmac(const unsigned char *k, size_t kl, const char *s, unsigned char *out)
{
	unsigned int n = 32;

	assert_non_null(HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)s,
	    strlen(s), out, &n));
}

static void
test_partner(void **state)
{
	struct fx *f = *state;
	unsigned char key[32], other[32], hs[2][32];
	og_verify_stats vs;
	uint64_t dropped = 0;
	size_t added = 9;

	memset(key, 0x42, sizeof(key));
	memset(other, 0x43, sizeof(other));
	hmac(key, 32, "bob@example.com", hs[0]);
	hmac(key, 32, "cy@example.com", hs[1]);
	assert_string_equal(rule(f, "offers", "bob@example.com", T0), "ok");
	assert_int_equal(
	    og_store_import_hashed(f->st, "acme", key, 32,
	        (const unsigned char(*)[32])hs, 2, T0, "list.csv", &added),
	    0);
	assert_int_equal(added, 2);
	{
		og_rtxn *tx;

		/* partner hashes sort after erased ones: none of those */
		assert_int_equal(og_store_rbegin(f->st, &tx), 0);
		assert_int_equal(og_store_hashed_any(tx, OG_HASH_ERASED), 0);
		assert_int_equal(og_store_hashed_any(tx, OG_HASH_PARTNER), 1);
		og_store_rend(tx);
	}
	assert_int_equal(
	    og_store_import_hashed(f->st, "acme", key, 32,
	        (const unsigned char(*)[32])hs, 2, T0, "list.csv", &added),
	    0);
	assert_int_equal(added, 0);
	assert_string_equal(
	    rule(f, "offers", "bob@example.com", T0), "partner-list");
	assert_string_equal(
	    rule(f, "offers", "BOB@example.com", T0), "partner-list");
	assert_string_equal(rule(f, "news", "bob@example.com", T0), "ok");
	assert_string_equal(rule(f, "offers", "dee@example.com", T0), "ok");
	/* another key for the same partner is refused */
	assert_int_equal(og_store_import_hashed(f->st, "acme", other, 32,
	                     (const unsigned char(*)[32])hs, 1, T0, NULL, NULL),
	    OG_EINVAL);
	assert_int_equal(og_store_import_hashed(f->st, "acme", key, 8,
	                     (const unsigned char(*)[32])hs, 1, T0, NULL, NULL),
	    OG_EINVAL);
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.hashes, 2);
	assert_int_equal(vs.keys, 1);
	assert_int_equal(og_store_partner_drop(f->st, "acme", T0, &dropped), 0);
	assert_int_equal(dropped, 2);
	assert_string_equal(rule(f, "offers", "bob@example.com", T0), "ok");
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.hashes, 0);
}

static void
test_expire_counters(void **state)
{
	struct fx *f = *state;
	const char *old[] = {"old@example.com"};
	const char *fresh[] = {"new@example.com"};
	og_rtxn *tx;
	int64_t times[4];
	uint64_t dropped = 0, d;
	int n;

	assert_int_equal(
	    og_store_count_sends(f->st, old, 1, "news", T0 - 100 * 86400), 0);
	assert_int_equal(og_store_count_sends(f->st, fresh, 1, "news", T0), 0);
	assert_int_equal(
	    og_store_expire_counters(f->st, T0 - 90 * 86400, T0 - 90 * 86400,
	        (uint32_t)((T0 - 99 * 86400) / 86400), &dropped),
	    0);
	assert_int_equal(dropped, 2); /* the old list and its day total */
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(
	    og_store_get_sends(tx, "old@example.com", "news", times, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    og_store_get_sends(tx, "new@example.com", "news", times, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	    og_store_day_sends(tx, "news", (uint32_t)(T0 / 86400), &d), 0);
	assert_int_equal(d, 1);
	og_store_rend(tx);
}

static void
test_flags(void **state)
{
	struct fx *f = *state;
	og_change ch;

	/* opt-in without time or proof does not lift an opt-out */
	assert_int_equal(og_testfx_apply(f->st,
	                     og_testfx_change("eva@example.com", OG_EV_OPTOUT,
	                         OG_SCOPE_ALL, NULL, 0, T0)),
	    OG_APPLIED);
	ch = og_testfx_change("eva@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "news", OG_ST_CONFIRMED, T0 + 10);
	ch.flags = OG_CH_IF_NEWER | OG_CH_NO_LIFT;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_SKIPPED_OPTOUT);
	/* with proof and a newer time it does */
	ch.flags = OG_CH_IF_NEWER;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(rule(f, "news", "eva@example.com", T0 + 20), "ok");
	/* a renewed opt-in after a newer opt-out is news */
	assert_int_equal(og_testfx_apply(f->st,
	                     og_testfx_change("eva@example.com", OG_EV_OPTOUT,
	                         OG_SCOPE_ALL, NULL, 0, T0 + 30)),
	    OG_APPLIED);
	assert_string_equal(
	    rule(f, "news", "eva@example.com", T0 + 35), "optout");
	ch.time = T0 + 40;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(rule(f, "news", "eva@example.com", T0 + 45), "ok");
	assert_int_equal(og_testfx_apply(f->st, ch), OG_UNCHANGED);

	/* expiry only takes an entry that is still expired */
	ch = og_testfx_change(
	    "fio@example.com", OG_EV_SUPPRESS, OG_SCOPE_ALL, NULL, 0, T0);
	ch.reason = OG_RS_MANUAL;
	ch.expires = T0 + 100;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change("fio@example.com", OG_EV_UNSUPPRESS, OG_SCOPE_ALL,
	    NULL, 0, T0 + 50);
	ch.flags = OG_CH_IF_EXPIRED;
	ch.via = OG_VIA_EXPIRE;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_UNCHANGED);
	assert_string_equal(
	    rule(f, "news", "fio@example.com", T0 + 50), "manual");
	ch.time = T0 + 200;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(rule(f, "news", "fio@example.com", T0 + 200), "ok");

	/* segments: the same list again is no change */
	ch = og_testfx_change("gil@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "news", OG_ST_CONFIRMED, T0);
	ch.segments = "vip, br";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch.time = T0 + 1;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_UNCHANGED);
	ch.segments = "vip";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
}

/* The entry of stream name in key's record, as stored. */
static og_entry
stored_entry(struct fx *f, const char *key, const char *name)
{
	og_record *rec = malloc(sizeof(*rec));
	og_entry e;
	og_rtxn *tx;
	int i;

	memset(&e, 0, sizeof(e));
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_get(tx, key, rec), 0);
	og_store_rend(tx);
	for (i = 0; i < rec->nentries; i++)
		if (strcmp(rec->entries[i].name, name) == 0)
			e = rec->entries[i];
	free(rec);
	return e;
}

/*
 * A pause (temporary opt-out or suppression) of a stream the person
 * opted in to at the same scope: the consent holds again at its end,
 * for the gate, for expire's event, after another pause over it; not
 * after a lasting opt-out; and an admin lifting it brings the consent
 * back.
 */
static void
test_pause_resumes(void **state)
{
	struct fx *f = *state;
	og_change ch;
	og_entry e;

	ch = og_testfx_change("pia@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "digest", OG_ST_CONFIRMED, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change("pia@example.com", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "digest", 0, T0 + 100);
	ch.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	e = stored_entry(f, "pia@example.com", "digest");
	assert_int_equal(e.state, OG_ST_OPTOUT);
	assert_int_equal(e.resume, OG_ST_CONFIRMED);
	assert_int_equal(e.resume_time, T0);
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 999), "optout");
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 1000), "ok");

	/* another pause over it, once it ended: the consent stays under */
	ch.time = T0 + 2000;
	ch.expires = T0 + 3000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 2500), "optout");
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 3000), "ok");
	/* ...and while it runs: a longer one */
	ch.time = T0 + 2600;
	ch.expires = T0 + 4000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 3500), "optout");
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 4000), "ok");

	/* expire's unsuppress: the consent is stored back, with an event */
	ch = og_testfx_change("pia@example.com", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 5000);
	ch.flags = OG_CH_IF_EXPIRED;
	ch.via = OG_VIA_EXPIRE;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	e = stored_entry(f, "pia@example.com", "digest");
	assert_int_equal(e.state, OG_ST_CONFIRMED);
	assert_int_equal(e.resume, 0);
	assert_int_equal(e.expires, 0);
	assert_int_equal(e.time, T0);
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 5000), "ok");

	/* a lasting opt-out over a pause: no consent under it any more */
	ch = og_testfx_change("pia@example.com", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "digest", 0, T0 + 6000);
	ch.expires = T0 + 7000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch.expires = 0;
	ch.time = T0 + 6100;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_int_equal(
	    stored_entry(f, "pia@example.com", "digest").resume, 0);
	assert_string_equal(
	    rule(f, "digest", "pia@example.com", T0 + 9000), "optout");

	/* a temporary suppression lifted by an admin: consent again */
	ch = og_testfx_change("rui@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "digest", OG_ST_OPTIN, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change("rui@example.com", OG_EV_SUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 10);
	ch.reason = OG_RS_MANUAL;
	ch.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	assert_string_equal(
	    rule(f, "digest", "rui@example.com", T0 + 20), "manual");
	ch = og_testfx_change("rui@example.com", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 30);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	e = stored_entry(f, "rui@example.com", "digest");
	assert_int_equal(e.state, OG_ST_OPTIN);
	assert_string_equal(
	    rule(f, "digest", "rui@example.com", T0 + 40), "ok");
	{
		og_verify_stats vs;

		assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
		assert_int_equal(vs.problems, 0);
	}
}

/*
 * A pause ended by a suppression for good (a hard bounce during it),
 * which an admin lifts (the bounce was a mistake): the pause comes back
 * with the opt-in under it while it runs, the opt-in once it is over.
 * The opt-in was lost: lifted during the pause, it ended with "no
 * opt-in on record"; lifted after it, nothing was left.
 */
static void
test_unsuppress_pause_consent(void **state)
{
	struct fx *f = *state;
	static const char *const who[] = {"lia@example.com", "max@example.com"};
	og_change ch;
	og_entry e;
	int k;

	for (k = 0; k < 2; k++) {
		ch = og_testfx_change(who[k], OG_EV_OPTIN, OG_SCOPE_STREAM,
		    "digest", OG_ST_CONFIRMED, T0);
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
		ch = og_testfx_change(who[k], OG_EV_OPTOUT, OG_SCOPE_STREAM,
		    "digest", 0, T0 + 100);
		ch.expires = T0 + 1000;
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
		ch = og_testfx_change(who[k], OG_EV_SUPPRESS, OG_SCOPE_STREAM,
		    "digest", 0, T0 + 200);
		ch.reason = OG_RS_HARD_BOUNCE;
		ch.via = OG_VIA_BOUNCE;
		assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
		assert_string_equal(
		    rule(f, "digest", who[k], T0 + 2000), "hard-bounce");
	}

	/* lifted during the pause: the pause, the opt-in under it */
	ch = og_testfx_change("lia@example.com", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 300);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	e = stored_entry(f, "lia@example.com", "digest");
	assert_int_equal(e.state, OG_ST_OPTOUT);
	assert_int_equal(e.expires, T0 + 1000);
	assert_int_equal(e.resume, OG_ST_CONFIRMED);
	assert_int_equal(e.resume_time, T0);
	assert_string_equal(
	    rule(f, "digest", "lia@example.com", T0 + 999), "optout");
	assert_string_equal(
	    rule(f, "digest", "lia@example.com", T0 + 1000), "ok");

	/* lifted after it: the opt-in, with its own time */
	ch = og_testfx_change("max@example.com", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 2000);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	e = stored_entry(f, "max@example.com", "digest");
	assert_int_equal(e.state, OG_ST_CONFIRMED);
	assert_int_equal(e.time, T0);
	assert_int_equal(e.expires, 0);
	assert_string_equal(
	    rule(f, "digest", "max@example.com", T0 + 2000), "ok");
	{
		og_verify_stats vs;

		assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
		assert_int_equal(vs.problems, 0);
	}
}

struct evlist {
	int n;
	struct {
		int kind, old_state, new_state, via;
		char name[OG_STREAM_NAME_MAX + 1];
	} e[16];
};

/* An address's events, oldest first. */
static int
list_ev(const og_event *ev, void *ctx)
{
	struct evlist *l = ctx;

	assert_true(l->n < 16);
	memmove(&l->e[1], &l->e[0], (size_t)l->n * sizeof(l->e[0]));
	l->n++;
	l->e[0].kind = ev->kind;
	l->e[0].old_state = ev->old_state;
	l->e[0].new_state = ev->new_state;
	l->e[0].via = ev->via;
	og_strlcpy(l->e[0].name, ev->f[OG_EVF_NAME], sizeof(l->e[0].name));
	return 0;
}

static void
events_of(struct fx *f, const char *key, struct evlist *l)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(og_store_foreach_event(f->st, key, list_ev, l), 0);
}

/*
 * A pause over comes back as its consent on the chain, whichever write
 * settles it: another change of the address before expire ran (it was
 * stored back with no event: audit showed the opt-out, then the consent
 * in force from nowhere), and expire over two pauses of one address (the
 * first change settled both, the second found nothing: one event, "1
 * pause over").
 */
static void
test_pause_over_on_chain(void **state)
{
	struct fx *f = *state;
	og_change ch, two[2];
	struct evlist l;
	int res[2];

	ch = og_testfx_change("ivo@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "digest", OG_ST_CONFIRMED, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change("ivo@example.com", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "digest", 0, T0 + 100);
	ch.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	/* after its end, before expire: an opt-in to another stream */
	ch = og_testfx_change("ivo@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "news", OG_ST_OPTIN, T0 + 2000);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	events_of(f, "ivo@example.com", &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.e[2].kind, OG_EV_UNSUPPRESS);
	assert_string_equal(l.e[2].name, "digest");
	assert_int_equal(l.e[2].old_state, OG_ST_OPTOUT);
	assert_int_equal(l.e[2].new_state, OG_ST_CONFIRMED);
	assert_int_equal(l.e[2].via, OG_VIA_EXPIRE);
	assert_int_equal(l.e[3].kind, OG_EV_OPTIN);
	assert_string_equal(l.e[3].name, "news");
	assert_int_equal(stored_entry(f, "ivo@example.com", "digest").state,
	    OG_ST_CONFIRMED);

	/* expire over two pauses of one address: an event each */
	ch = og_testfx_change("eva@example.com", OG_EV_OPTIN, OG_SCOPE_STREAM,
	    "digest", OG_ST_CONFIRMED, T0);
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch.name = "news";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch = og_testfx_change("eva@example.com", OG_EV_OPTOUT, OG_SCOPE_STREAM,
	    "digest", 0, T0 + 100);
	ch.expires = T0 + 1000;
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	ch.name = "news";
	assert_int_equal(og_testfx_apply(f->st, ch), OG_APPLIED);
	two[0] = og_testfx_change("eva@example.com", OG_EV_UNSUPPRESS,
	    OG_SCOPE_STREAM, "digest", 0, T0 + 2000);
	two[0].flags = OG_CH_IF_EXPIRED;
	two[0].via = OG_VIA_EXPIRE;
	two[1] = two[0];
	two[1].name = "news";
	assert_int_equal(og_store_apply(f->st, two, 2, res), 0);
	assert_int_equal(res[0], OG_APPLIED);
	assert_int_equal(res[1], OG_APPLIED);
	events_of(f, "eva@example.com", &l);
	assert_int_equal(l.n, 6);
	assert_int_equal(l.e[4].kind, OG_EV_UNSUPPRESS);
	assert_string_equal(l.e[4].name, "digest");
	assert_int_equal(l.e[5].kind, OG_EV_UNSUPPRESS);
	assert_string_equal(l.e[5].name, "news");
	assert_int_equal(l.e[5].new_state, OG_ST_CONFIRMED);
	{
		og_verify_stats vs;

		assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
		assert_int_equal(vs.problems, 0);
	}
}

static int
count_all(const og_event *ev, void *ctx)
{
	uint64_t *n = ctx;

	assert_int_equal(ev->seq, *n + 1);
	(*n)++;
	return 0;
}

static void
test_verify_and_scan(void **state)
{
	struct fx *f = *state;
	og_verify_stats vs;
	og_store_info info;
	uint64_t n = 0;
	char key[64];
	int i;

	for (i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "u%d@example.com", i);
		assert_int_equal(
		    og_testfx_apply(f->st,
		        og_testfx_change(key, OG_EV_OPTIN, OG_SCOPE_STREAM,
		            "news", OG_ST_OPTIN, T0 + i)),
		    OG_APPLIED);
	}
	assert_int_equal(
	    og_store_foreach_event_all(f->st, 1, count_all, &n), 0);
	assert_int_equal(n, 2500);
	assert_int_equal(og_store_verify(f->st, NULL, NULL, &vs), 0);
	assert_int_equal(vs.records, 2500);
	assert_int_equal(vs.events, 2500);
	assert_int_equal(vs.chained, 2500);
	assert_int_equal(vs.problems, 0);
	assert_int_equal(og_store_info_get(f->st, &info), 0);
	assert_int_equal(info.records, 2500);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
	    cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
	    cmocka_unit_test(erase_after_counters_grew_elsewhere),
	    cmocka_unit_test_setup_teardown(
	        test_erase_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_soft_bounce_once_per_report, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_optout_outlives_soft_bounce, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_soft_bounce_keeps_permanent_suppression, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partner, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_expire_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_pause_resumes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_pause_over_on_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unsuppress_pause_consent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_verify_and_scan, setup, teardown),
	};

	return cmocka_run_group_tests_name("og_store_admin", t, NULL, NULL);
}
