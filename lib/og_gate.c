/*
 * og_gate.c - the decision (see og_gate.h for the rules and their order).
 *
 * Public: og_gate_decide, og_gate_caps, og_gate_count, og_gate_logline,
 * og_gate_action_name, og_gate_reject.
 * The decision reads one address record and, for capped marketing
 * streams, one counter; it never writes.  Every refusal names the record
 * it came from, in a reply text for the sender and a reason for the log.
 * Errors: a store error never becomes an accept for marketing streams
 * (451 4.3.0); transactional streams follow on_store_error.
 * Thread-safe: no state.
 *
 * LIMITS: reply text and reason are cut at their buffer sizes; peer text in log
 * lines is escaped and capped at 256 bytes per field.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "og_addr.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_time.h"

_Static_assert(OG_CAP_LIMIT_MAX == OG_SENDS_MAX,
    "a cap's count must be one the kept send times can reach");

/*
 * The enhanced status a rejection by this rule carries: one place, so
 * that refuse = reject and a drop turned into a rejection (og_gate_reject)
 * say the same.
 */
static const char *
reject_dsn(const char *rule)
{
	if (strcmp(rule, "hard-bounce") == 0)
		return "5.1.1"; /* bad destination mailbox */
	if (strcmp(rule, "invalid") == 0)
		return "5.1.3"; /* bad destination mailbox address syntax */
	return "5.7.1";         /* delivery not authorized */
}

static void
set_refuse(og_verdict *v, const og_stream *st, const char *rule)
{
	v->action = OG_REFUSE;
	v->refuse = st->refuse;
	og_strlcpy(v->rule, rule, sizeof(v->rule));
	switch (st->refuse) {
	case OG_REFUSE_REJECT:
		v->code = 550;
		og_strlcpy(v->dsn, reject_dsn(rule), sizeof(v->dsn));
		break;
	case OG_REFUSE_DEFER:
		v->code = 450;
		og_strlcpy(v->dsn, "4.7.1", sizeof(v->dsn));
		break;
	default: /* drop: the sender sees success */
		v->code = 250;
		og_strlcpy(v->dsn, "2.0.0", sizeof(v->dsn));
		break;
	}
}

/* Printable ASCII only, for SMTP reply text. */
static void
safe_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = 0;
}

static void
store_error(og_verdict *v, const og_stream *st, int rc)
{
	og_strlcpy(v->rule, "store-error", sizeof(v->rule));
	snprintf(
	    v->reason, sizeof(v->reason), "store-error: %s", og_strerror(rc));
	if (st->class == OG_CLASS_TRANSACTIONAL &&
	    st->on_store_error == OG_ONERR_ACCEPT) {
		v->action = OG_ACCEPT;
		v->code = 250;
		og_strlcpy(v->dsn, "2.0.0", sizeof(v->dsn));
		snprintf(v->text, sizeof(v->text),
		    "accepted without consent "
		    "check (store unavailable)");
		return;
	}
	v->action = OG_TEMPFAIL;
	v->refuse = OG_REFUSE_DEFER;
	v->code = 451;
	og_strlcpy(v->dsn, "4.3.0", sizeof(v->dsn));
	snprintf(v->text, sizeof(v->text),
	    "consent store unavailable, try "
	    "again later");
}

/* Does an entry of (scope, name) apply to this stream? */
int
og_gate_covers(const og_entry *e, const og_stream *st, const char *sender_scope)
{
	switch (e->scope) {
	case OG_SCOPE_ALL:
		return 1;
	case OG_SCOPE_SENDER:
		return *sender_scope && strcasecmp(e->name, sender_scope) == 0;
	case OG_SCOPE_PARTNER:
		return st->partner && strcasecmp(e->name, st->partner) == 0;
	case OG_SCOPE_STREAM:
		return strcmp(e->name, st->name) == 0;
	}
	return 0;
}

static void
scope_words(const og_entry *e, char *buf, size_t size, int log)
{
	if (log) {
		if (e->scope == OG_SCOPE_ALL)
			snprintf(buf, size, "all");
		else
			snprintf(buf, size, "%s:%s", og_scope_name(e->scope),
			    e->name);
	} else {
		switch (e->scope) {
		case OG_SCOPE_ALL:
			snprintf(buf, size, "all streams");
			break;
		case OG_SCOPE_SENDER:
			snprintf(buf, size, "all mail from %s", e->name);
			break;
		case OG_SCOPE_PARTNER:
			snprintf(buf, size, "all mail of partner %s", e->name);
			break;
		default:
			snprintf(buf, size, "%s", e->name);
		}
	}
}

/* Precedence of a blocking entry: lower wins. */
static int
rank(const og_entry *e)
{
	if (e->state == OG_ST_SUPPRESSED) {
		switch (e->reason) {
		case OG_RS_HARD_BOUNCE:
			return 0;
		case OG_RS_COMPLAINT:
			return 1;
		case OG_RS_MANUAL:
			return 2;
		case OG_RS_ERASED:
			return 3;
		case OG_RS_PARTNER:
			return 4;
		default:
			return 5;
		}
	}
	return 6 + e->scope; /* opt-outs, broadest scope first */
}

/*
 * Whether blocking entry a, rather than b, names a refusal: the stop that
 * holds longest (one for good before a temporary one, a later end before
 * an earlier), as a cap refusal names the cap that holds longest; then by
 * rank.  Naming a pause of everything over an opt-out of the stream for
 * good, or a temporary hard bounce over a complaint, told the sender and
 * the admin a date ("until ...") after which the mail was still refused.
 */
static int
outranks(const og_entry *a, const og_entry *b)
{
	if (a->expires != b->expires) {
		if (a->expires == 0 || b->expires == 0)
			return a->expires == 0;
		return a->expires > b->expires;
	}
	return rank(a) < rank(b);
}

static void
refuse_entry(
    og_verdict *v, const og_stream *st, const og_entry *e, const char *addr)
{
	char date[16], words[160], lw[100];
	const char *rule;

	og_date_fmt(e->time, date, sizeof(date));
	scope_words(e, words, sizeof(words), 0);
	scope_words(e, lw, sizeof(lw), 1);
	if (e->state == OG_ST_OPTOUT) {
		char until[32] = "";

		rule = "optout";
		/* A temporary one (a pause) says when it ends, as a
		 * temporary suppression does. */
		if (e->expires) {
			og_strlcpy(until, " until ", sizeof(until));
			og_date_fmt(e->expires, until + 7, sizeof(until) - 7);
		}
		snprintf(v->text, sizeof(v->text),
		    "<%s>: unsubscribed from %s "
		    "on %s via %s%s",
		    addr, words, date, og_via_name(e->via), until);
		snprintf(v->reason, sizeof(v->reason), "unsubscribed(%s) %s %s",
		    lw, date, og_via_name(e->via));
	} else {
		char until[16] = "";

		rule = og_reason_name(e->reason);
		/* A temporary one (suppress --expires, an import's expires
		 * column) ends: "not mailed again" would be untrue. */
		if (e->expires)
			og_date_fmt(e->expires, until, sizeof(until));
		if (e->reason == OG_RS_HARD_BOUNCE) {
			snprintf(v->text, sizeof(v->text),
			    "<%s>: address "
			    "hard-bounced on %s; not mailed %s%s",
			    addr, date, *until ? "until " : "again", until);
		} else if (e->reason == OG_RS_COMPLAINT) {
			snprintf(v->text, sizeof(v->text),
			    "<%s>: recipient "
			    "complained about %s on %s%s%s",
			    addr, words, date,
			    *until ? "; not mailed until " : "", until);
		} else if (e->expires) {
			snprintf(v->text, sizeof(v->text),
			    "<%s>: suppressed "
			    "(%s) for %s until %s",
			    addr, og_reason_name(e->reason), words, until);
		} else {
			snprintf(v->text, sizeof(v->text),
			    "<%s>: suppressed "
			    "(%s) for %s since %s",
			    addr, og_reason_name(e->reason), words, date);
		}
		snprintf(v->reason, sizeof(v->reason), "%s(%s) %s %s", rule, lw,
		    date, og_via_name(e->via));
	}
	set_refuse(v, st, rule);
	v->event = e->event;
}

/*
 * Whether a record says the person came back after an erasure: an erasure
 * deletes the record, so every entry is newer than it, and only an opt-in
 * brings the person back.  An opt-out by an old link, a complaint or a
 * bounce about an old message does not.  A double opt-in only asked
 * (pending) lets transactional mail through, so that its confirmation
 * goes out, but not marketing: anyone can type an address into a form,
 * and for a consent = none stream the erasure is all that stops it.
 * This looks at the entries only (no read): see came_back_since.
 */
static int
came_back(const og_record *rec, const og_stream *st)
{
	int i, s;

	for (i = 0; i < rec->nentries; i++) {
		s = rec->entries[i].state;
		if (s == OG_ST_OPTIN || s == OG_ST_CONFIRMED ||
		    (s == OG_ST_PENDING && st->class == OG_CLASS_TRANSACTIONAL))
			return 1;
	}
	return 0;
}

/*
 * Whether rec's history since the erasure holds the opt-in that brought
 * the person back (1), also when no entry shows it any more: she came
 * back, then unsubscribed from that stream, paused it or complained about
 * it, and the entry that held the opt-in holds that now.  That stop is
 * about its scope; it is no new erasure, and her other mail (password
 * resets above all) goes as for anyone.  The chain ends at the erasure's
 * event (what is older is her life before it).  0, or a store error.
 * Read only for an erased address with a record, which is rare.
 */
static int
came_back_since(og_rtxn *tx, const og_record *rec, const og_stream *st)
{
	og_event *ev = og_xmalloc(sizeof(*ev));
	uint64_t seq = rec->last_event;
	int rc = 0;

	while (seq != 0) {
		if ((rc = og_store_event_get(tx, seq, ev)) != 0) {
			/* a record names only events that exist */
			rc = rc == OG_NOTFOUND ? OG_ECORRUPT : rc;
			break;
		}
		if (ev->kind == OG_EV_ERASE)
			break;
		if ((ev->kind == OG_EV_OPTIN || ev->kind == OG_EV_CONFIRM) &&
		    (ev->new_state == OG_ST_OPTIN ||
		        ev->new_state == OG_ST_CONFIRMED ||
		        (ev->new_state == OG_ST_PENDING &&
		            st->class == OG_CLASS_TRANSACTIONAL))) {
			rc = 1;
			break;
		}
		if (ev->prev >= seq) {
			rc = OG_ECORRUPT;
			break;
		}
		seq = ev->prev;
	}
	free(ev);
	return rc;
}

/*
 * Whether the person of key (record rec, NULL: none) was erased and has
 * not come back for stream st: 1, 0 or a store error.
 */
static int
erased(og_rtxn *tx, const char *key, const og_record *rec, const og_stream *st)
{
	int rc;

	if (rec && came_back(rec, st))
		return 0;
	if ((rc = og_store_erased(tx, key)) <= 0 || rec == NULL)
		return rc;
	rc = came_back_since(tx, rec, st);
	return rc < 0 ? rc : !rc;
}

/*
 * Whether opt-out o is lifted for st: a newer single or confirmed opt-in
 * of a scope o covers (o's or a narrower one) that covers st.  Also one
 * under a pause of its scope: it is the person's consent still, given
 * after o, and the pause is the stop to name (until its end).  Not o's
 * own: a double opt-in confirmed during a pause is under it, newer than
 * it, and the pause holds until its end.
 */
static int
lifted(const og_record *rec, const og_entry *o, const og_stream *st,
    const char *sscope)
{
	int i;
	int64_t t;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		if (e != o && og_entry_consent(e, &t) && t > o->time &&
		    og_gate_covers(e, st, sscope) && e->scope >= o->scope)
			return 1;
	}
	return 0;
}

/*
 * The later opt-out that took back the consent of opt-in e (NULL: none): one
 * that covers the stream, of e's scope or a broader one, as new as e or newer,
 * and still in force.  A newer opt-in of a narrower scope lifts that
 * opt-out (rule 2) but brings back only its own consent: someone who
 * confirmed once, unsubscribed from everything and later gave a single
 * opt-in has a single opt-in.
 */
const og_entry *
og_gate_revoked(const og_record *rec, const og_entry *e, const og_stream *st,
    const char *sscope, int64_t now)
{
	int i;

	for (i = 0; i < rec->nentries; i++) {
		const og_entry *o = &rec->entries[i];

		if (o->state == OG_ST_OPTOUT && o->scope <= e->scope &&
		    o->time >= e->time &&
		    (o->expires == 0 || o->expires > now) &&
		    og_gate_covers(o, st, sscope))
			return o;
	}
	return NULL;
}

const char *
og_gate_stream_sender(const og_stream *st, int *unknown)
{
	const char *dom = NULL, *val = NULL, *at;
	int i;

	*unknown = 0;
	if (st->sender)
		return NULL;
	for (i = 0; i < st->nmatch; i++) {
		if (st->match[i].kind != OG_MATCH_SENDER ||
		    (at = strrchr(st->match[i].value, '@')) == NULL)
			continue;
		if (dom && strcasecmp(dom, at + 1) != 0) {
			*unknown = 1;
			return NULL;
		}
		dom = at + 1;
		val = st->match[i].value;
	}
	/* a stream matched by anything else takes any sender */
	for (i = 0; i < st->nmatch; i++)
		if (st->match[i].kind != OG_MATCH_SENDER)
			val = NULL;
	*unknown = val == NULL;
	return val;
}

const og_cap *
og_gate_caps(const og_stream *st, const og_record *rec, int *n)
{
	int i, j;

	/*
	 * The stream's caps.segment lines in file order: with several of
	 * them on a person, the config decides, not the order the tags came
	 * in an import.  Tags are compared without case, as a sender's
	 * data spells them ("VIP", "Fragile").
	 */
	if (rec)
		for (j = 0; j < st->nsegcaps; j++)
			for (i = 0; i < rec->nsegments; i++)
				if (strcasecmp(rec->segments[i],
				        st->segcaps[j].segment) == 0) {
					*n = st->segcaps[j].ncaps;
					return st->segcaps[j].caps;
				}
	*n = st->ncaps;
	return st->caps;
}

/*
 * Check one cap against send times (n <= OG_SENDS_MAX, newest first as
 * the store keeps them, but not trusted to be: a clock stepped back
 * leaves a newer send behind an older one).  The window is
 * (now - period, now].  Returns 1 and sets *next when the cap is reached.
 */
static int
cap_reached(
    const og_cap *c, const int64_t *times, int n, int64_t now, int64_t *next)
{
	int64_t in[OG_SENDS_MAX], t;
	int cnt = 0, i, j;

	for (i = 0; i < n && cnt < OG_SENDS_MAX; i++) {
		if (times[i] <= now - (int64_t)c->period)
			continue;
		/* insertion, newest first */
		for (t = times[i], j = cnt++; j > 0 && in[j - 1] < t; j--)
			in[j] = in[j - 1];
		in[j] = t;
	}
	if (cnt < (int)c->limit)
		return 0;
	/* the limit-th newest send must leave the window */
	*next = in[c->limit - 1] + c->period;
	return 1;
}

static int decide(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int held, og_verdict *v);

int
og_gate_decide(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, og_verdict *v)
{
	return decide(cfg, tx, st, sender, rcpt, now, 0, v);
}

int
og_gate_held_check(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int own, og_verdict *v)
{
	if (v->action != OG_ACCEPT || v->key[0] == '\0')
		return 0;
	return og_gate_held_check_n(cfg, tx, st, sender, rcpt, now,
	    og_gate_held(st->name, v->key) - (own ? 1 : 0), v);
}

int
og_gate_held_check_n(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int held, og_verdict *v)
{
	og_verdict h;

	if (v->action != OG_ACCEPT || v->key[0] == '\0' || held <= 0)
		return 0;
	(void)decide(cfg, tx, st, sender, rcpt, now, held, &h);
	if (h.action != OG_REFUSE)
		return 0;
	*v = h;
	return 1;
}

/*
 * Sends held: a chained hash of "stream\0key" -> count, under one mutex
 * (a lookup per passed recipient; the daemons' other work dwarfs it).
 */
#define HOLD_BUCKETS 4096

struct hold {
	struct hold *next;
	int n;
	size_t len;
	char k[]; /* stream, NUL, key, NUL */
};

static struct hold *holds[HOLD_BUCKETS];
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;

static struct hold **
hold_find(const char *stream, const char *key, char *k, size_t *len)
{
	size_t sl = strlen(stream), kl = strlen(key);
	uint32_t h = og_str_hash(key) * 31u + og_str_hash(stream);
	struct hold **pp;

	memcpy(k, stream, sl + 1);
	memcpy(k + sl + 1, key, kl + 1);
	*len = sl + kl + 2;
	for (pp = &holds[h % HOLD_BUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->len == *len && memcmp((*pp)->k, k, *len) == 0)
			break;
	return pp;
}

void
og_gate_hold(const char *stream, const char *key, int delta)
{
	char k[OG_STREAM_NAME_MAX + OG_ADDR_MAX + 4];
	struct hold **pp, *e;
	size_t len;

	if (strlen(stream) > OG_STREAM_NAME_MAX || strlen(key) > OG_ADDR_MAX)
		return;
	pthread_mutex_lock(&hold_lock);
	pp = hold_find(stream, key, k, &len);
	if ((e = *pp) == NULL && delta > 0) {
		e = og_xcalloc(1, sizeof(*e) + len);
		memcpy(e->k, k, len);
		e->len = len;
		*pp = e;
	}
	if (e != NULL && (e->n += delta) <= 0) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&hold_lock);
}

int
og_gate_held(const char *stream, const char *key)
{
	char k[OG_STREAM_NAME_MAX + OG_ADDR_MAX + 4];
	struct hold **pp;
	size_t len;
	int n;

	if (strlen(stream) > OG_STREAM_NAME_MAX || strlen(key) > OG_ADDR_MAX)
		return 0;
	pthread_mutex_lock(&hold_lock);
	pp = hold_find(stream, key, k, &len);
	n = *pp ? (*pp)->n : 0;
	pthread_mutex_unlock(&hold_lock);
	return n;
}

static int
decide(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int held, og_verdict *v)
{
	og_addr_rules rules;
	og_addr a;
	og_record rec;
	const og_entry *block = NULL;
	char sscope[OG_DOMAIN_MAX + 1] = "";
	char addr[200];
	int rc, i, have = 0, best = OG_ST_NONE;
	int64_t best_time = 0;

	memset(v, 0, offsetof(og_verdict, key));
	v->key[0] = 0;
	v->action = OG_ACCEPT;
	v->refuse = st->refuse;
	v->code = 250;
	og_strlcpy(v->dsn, "2.0.0", sizeof(v->dsn));
	og_strlcpy(v->rule, "ok", sizeof(v->rule));

	rules = cfg->rules;
	rules.skip_typo = 1; /* a suggestion is for imports, not decisions */
	if (og_addr_parse(rcpt, strlen(rcpt), &rules, &a) != 0) {
		safe_copy(addr, sizeof(addr), rcpt);
		set_refuse(v, st, "invalid");
		snprintf(v->text, sizeof(v->text),
		    "<%s>: invalid recipient "
		    "address: %s",
		    addr, a.error ? a.error : "syntax");
		snprintf(v->reason, sizeof(v->reason), "invalid-address: %s",
		    a.error ? a.error : "syntax");
		return 0;
	}
	og_strlcpy(v->key, a.key, sizeof(v->key));
	safe_copy(addr, sizeof(addr), a.norm);
	if (tx == NULL) {
		store_error(v, st, OG_ESTORE);
		return OG_ESTORE;
	}

	if (st->sender) {
		og_strlcpy(sscope, st->sender, sizeof(sscope));
	} else if (sender && *sender && strchr(sender, '@')) {
		/* named as the edges name it (og_config_sender_name) */
		(void)og_addr_sender_scope(sender, sscope, sizeof(sscope));
	}

	rc = og_store_get(tx, a.key, &rec);
	if (rc == 0) {
		have = 1;
		(void)og_record_settle(&rec, now);
	} else if (rc != OG_NOTFOUND) {
		store_error(v, st, rc);
		return rc;
	}

	/* 2. suppressions and opt-outs */
	for (i = 0; have && i < rec.nentries; i++) {
		const og_entry *e = &rec.entries[i];

		if (!og_gate_covers(e, st, sscope))
			continue;
		if (e->state == OG_ST_SUPPRESSED) {
			if (e->expires && e->expires <= now)
				continue;
			if (st->class == OG_CLASS_TRANSACTIONAL &&
			    e->reason != OG_RS_HARD_BOUNCE &&
			    e->reason != OG_RS_MANUAL)
				continue;
		} else if (e->state == OG_ST_OPTOUT) {
			if (st->class == OG_CLASS_TRANSACTIONAL)
				continue;
			if (e->expires && e->expires <= now)
				continue;
			/* A newer opt-in of a scope it covers lifts it. */
			if (lifted(&rec, e, st, sscope))
				continue;
		} else {
			continue;
		}
		if (block == NULL || outranks(e, block))
			block = e;
	}
	if (block) {
		refuse_entry(v, st, block, addr);
		return 0;
	}
	/* An erased person keeps only a keyed hash. */
	if ((rc = erased(tx, a.key, have ? &rec : NULL, st)) != 0) {
		if (rc < 0) {
			store_error(v, st, rc);
			return rc;
		}
		set_refuse(v, st, "erased");
		snprintf(v->text, sizeof(v->text),
		    "<%s>: address "
		    "erased at the person's request; not mailed again",
		    addr);
		snprintf(v->reason, sizeof(v->reason), "erased(all)");
		return 0;
	}
	if (st->class == OG_CLASS_TRANSACTIONAL)
		return 0;

	/*
	 * 2b. the partner's hashed suppression list: the HMAC is computed
	 * only when the store holds a key (and so hashes) for the partner.
	 */
	if (st->partner) {
		unsigned char pk[OG_PARTNER_KEY_MAX], h[32];
		unsigned int hl = sizeof(h);
		size_t pkl = 0;
		og_hashed hs;

		rc = og_store_partner_key_get(
		    tx, st->partner, pk, sizeof(pk), &pkl);
		if (rc == 0) {
			if (HMAC(EVP_sha256(), pk, (int)pkl,
			        (const unsigned char *)a.key, strlen(a.key), h,
			        &hl) == NULL)
				rc = OG_EIO;
			else
				rc = og_store_hashed_read(
				    tx, OG_HASH_PARTNER, h, st->partner, &hs);
			OPENSSL_cleanse(pk, sizeof(pk));
			if (rc == 0) {
				char date[16];

				set_refuse(v, st, "partner-list");
				og_date_fmt(hs.time, date, sizeof(date));
				snprintf(v->text, sizeof(v->text),
				    "<%s>: on "
				    "partner %s's suppression list (shared %s)",
				    addr, st->partner, date);
				snprintf(v->reason, sizeof(v->reason),
				    "partner-list(partner:%s) %s", st->partner,
				    date);
				return 0;
			}
		}
		if (rc != OG_NOTFOUND) {
			store_error(v, st, rc);
			return rc;
		}
	}

	/* 3. consent */
	for (i = 0; have && i < rec.nentries; i++) {
		const og_entry *e = &rec.entries[i];

		if (og_state_optin(e->state) && og_gate_covers(e, st, sscope) &&
		    e->state > best &&
		    og_gate_revoked(&rec, e, st, sscope, now) == NULL) {
			best = e->state;
			best_time = e->time;
		}
	}
	if (st->consent != OG_CONSENT_NONE) {
		int need = st->consent == OG_CONSENT_CONFIRMED ? OG_ST_CONFIRMED
		                                               : OG_ST_OPTIN;

		if (best < need) {
			char date[16];

			if (best == OG_ST_PENDING) {
				set_refuse(v, st, "pending");
				snprintf(v->text, sizeof(v->text),
				    "<%s>: double "
				    "opt-in for %s not confirmed yet",
				    addr, st->name);
				snprintf(v->reason, sizeof(v->reason),
				    "pending(%s) asked %s", st->name,
				    og_date_fmt(best_time, date, sizeof(date)));
			} else if (best == OG_ST_OPTIN) {
				set_refuse(v, st, "no-consent");
				snprintf(v->text, sizeof(v->text),
				    "<%s>: only a "
				    "single opt-in; %s needs a confirmed "
				    "opt-in",
				    addr, st->name);
				snprintf(v->reason, sizeof(v->reason),
				    "no-consent(%s) single-optin-only",
				    st->name);
			} else {
				set_refuse(v, st, "no-consent");
				snprintf(v->text, sizeof(v->text),
				    "<%s>: no "
				    "opt-in on record for %s",
				    addr, st->name);
				snprintf(v->reason, sizeof(v->reason),
				    "no-consent(%s)", st->name);
			}
			return 0;
		}
	}

	/* 4. frequency caps */
	{
		int ncaps, n = 0, hit = 0;
		const og_cap *caps =
		    og_gate_caps(st, have ? &rec : NULL, &ncaps);
		og_cap pref = {0, 0};
		int64_t times[OG_SENDS_MAX], next = 0, nx;
		const og_cap *which = NULL;

		for (i = 0; have && i < rec.nentries; i++)
			if (rec.entries[i].scope == OG_SCOPE_STREAM &&
			    rec.entries[i].pref.limit &&
			    strcmp(rec.entries[i].name, st->name) == 0)
				pref = rec.entries[i].pref;
		if (ncaps == 0 && pref.limit == 0)
			return 0;
		rc = og_store_get_sends(
		    tx, a.key, st->name, times, OG_SENDS_MAX, &n);
		if (rc != 0) {
			store_error(v, st, rc);
			return rc;
		}
		/* Sends held (og_gate_held_check): newest of all, now. */
		if (held > 0) {
			int k = held < OG_SENDS_MAX ? held : OG_SENDS_MAX;

			n = n + k < OG_SENDS_MAX ? n : OG_SENDS_MAX - k;
			memmove(times + k, times, (size_t)n * sizeof(*times));
			for (i = 0; i < k; i++)
				times[i] = now;
			n += k;
		}
		for (i = 0; i < ncaps; i++)
			if (caps[i].limit <= OG_SENDS_MAX &&
			    cap_reached(&caps[i], times, n, now, &nx)) {
				hit = 1;
				if (nx > next) {
					next = nx;
					which = &caps[i];
				}
			}
		if (pref.limit && pref.limit <= OG_SENDS_MAX &&
		    cap_reached(&pref, times, n, now, &nx) && nx > next) {
			hit = 1;
			next = nx;
			which = &pref;
		}
		if (hit && held > 0) {
			/* Reached only with the held sends (the caller
			 * decided without them first): they may still be
			 * aborted, so a deferral whatever the refuse action. */
			char per[16];

			og_duration_fmt(which->period, per, sizeof(per));
			set_refuse(v, st, "cap");
			v->refuse = OG_REFUSE_DEFER;
			v->code = 450;
			og_strlcpy(v->dsn, "4.7.1", sizeof(v->dsn));
			snprintf(v->text, sizeof(v->text),
			    "<%s>: %d other message%s to this recipient "
			    "for %s not accepted yet would reach frequency "
			    "cap %u/%s%s; try again later",
			    addr, held, held == 1 ? "" : "s", st->name,
			    which->limit, per,
			    which == &pref ? " (recipient's choice)" : "");
			snprintf(v->reason, sizeof(v->reason),
			    "cap(%s) %u/%s%s held=%d", st->name, which->limit,
			    per, which == &pref ? " pref" : "", held);
		} else if (hit) {
			char per[16], nt[32];

			og_duration_fmt(which->period, per, sizeof(per));
			og_time_fmt(next, nt, sizeof(nt));
			set_refuse(v, st, "cap");
			v->next_allowed = next;
			snprintf(v->text, sizeof(v->text),
			    "<%s>: frequency cap "
			    "%u/%s for %s reached%s; next send allowed from "
			    "%s",
			    addr, which->limit, per, st->name,
			    which == &pref ? " (recipient's choice)" : "", nt);
			snprintf(v->reason, sizeof(v->reason),
			    "cap(%s) %u/%s%s "
			    "next=%s",
			    st->name, which->limit, per,
			    which == &pref ? " pref" : "", nt);
		}
	}
	return 0;
}

void
og_gate_reject(og_verdict *v)
{
	if (v->action != OG_REFUSE || v->refuse == OG_REFUSE_REJECT)
		return;
	v->refuse = OG_REFUSE_REJECT;
	v->code = 550;
	og_strlcpy(v->dsn, reject_dsn(v->rule), sizeof(v->dsn));
}

void
og_gate_one_rcpt(og_verdict *v, const og_stream *st)
{
	memset(v, 0, sizeof(*v));
	v->action = OG_REFUSE;
	v->refuse = OG_REFUSE_DEFER;
	v->code = 452;
	og_strlcpy(v->dsn, "4.5.3", sizeof(v->dsn));
	og_strlcpy(v->rule, "one-rcpt", sizeof(v->rule));
	snprintf(v->reason, sizeof(v->reason),
	    "one-recipient-per-transaction(%s)", st->name);
}

int
og_gate_count(og_store *store, const og_stream *st, const char *const *keys,
    size_t n, int64_t now)
{
	if (n == 0)
		return 0;
	return og_store_count_sends(store, keys, n, st->name, now);
}

const char *
og_gate_action_name(const og_verdict *v)
{
	if (v->action == OG_ACCEPT)
		return "accept";
	if (v->action == OG_TEMPFAIL)
		return "tempfail";
	switch (v->refuse) {
	case OG_REFUSE_DROP:
		return "discard";
	case OG_REFUSE_DEFER:
		return "defer";
	}
	return "reject";
}

void
og_gate_logline(og_buf *b, const char *queueid, const char *rcpt,
    const char *sender, const char *client_name, const char *client_addr,
    const og_stream *st, const og_verdict *v)
{
	const char *q = queueid && *queueid ? queueid : "NOQUEUE";

	og_buf_add_escaped(b, q, strlen(q), 64);
	og_buf_adds(b, ": to=<");
	og_buf_add_escaped(b, rcpt ? rcpt : "", rcpt ? strlen(rcpt) : 0, 256);
	og_buf_adds(b, ">, from=<");
	og_buf_add_escaped(
	    b, sender ? sender : "", sender ? strlen(sender) : 0, 256);
	og_buf_adds(b, ">");
	if (client_name || client_addr) {
		og_buf_adds(b, ", client=");
		og_buf_add_escaped(b, client_name ? client_name : "unknown",
		    client_name ? strlen(client_name) : 7, 256);
		og_buf_addc(b, '[');
		og_buf_add_escaped(b, client_addr ? client_addr : "",
		    client_addr ? strlen(client_addr) : 0, 64);
		og_buf_addc(b, ']');
	}
	og_buf_printf(b, ", stream=%s, action=%s, reason=%s",
	    st ? st->name : "none", og_gate_action_name(v),
	    v->reason[0] ? v->reason : v->rule);
}
