/*
 * unsubd.c - optgate-unsubd: one-click unsubscribe (RFC 8058) and the
 * preference center, over HTTP(S) with libmicrohttpd.
 *
 *   POST /u/TOKEN         any body: opt out (scope [unsubd] scope,
 *                         default the token's stream); 200 once synced
 *   GET  /u/TOKEN         the page: masked address, one button, the
 *                         preference center; changes nothing
 *   POST /u/TOKEN/prefs   the preference form (CSRF-checked)
 *   GET  /healthz         200 "ok" when the store can be read
 *
 * GET /u/TOKEN/prefs is the page too; /u/TOKEN/ and /u/TOKEN/prefs/
 * (one trailing slash) are the same routes as without it.
 *
 * Threads: libmicrohttpd's poll thread pool runs the callbacks; a POST
 * that changes the store suspends its connection and queues a job for the
 * committer (unsubd_commit.c), which resumes it once the change is on
 * disk; the reaper (unsubd_limit.c) cuts requests past the absolute
 * deadline; the main thread only waits for signals (SIGHUP reloads the
 * config and keys, SIGTERM/SIGINT stop).
 *
 * Config: a refcounted snapshot (config + keyring) pinned by each request;
 * a reload swaps it (og_snap_set).  Listen addresses, TLS files,
 * the user, the store path and max_connections are read once at start.
 *
 * SECURITY: sockets are bound and TLS files read as root, then the
 * process drops to [unsubd] user before it opens the store or reads any
 * request.  A token's text is never logged, and addresses are logged
 * masked unless [log] full_address.  Pages reveal nothing about an
 * address to whoever holds a bad token.  The preference form carries an
 * HMAC of token and time under a key derived from the token keyring (no
 * cookies); client addresses come from X-Real-IP/X-Forwarded-For only
 * when the peer is an [unsubd] trusted_proxy.  Valid one-click POSTs are
 * exempt from the rate limit (providers send everyone's from a few
 * addresses); bad tokens count.
 *
 * LIMITS: body UNSUBD_BODY_MAX; header memory per connection
 * HEADER_MEMORY; [unsubd] max_connections, max_connections_per_client
 * (open at once from one peer address, IPv6 /64, but a trusted proxy),
 * timeout (absolute, per request), rate_limit (per client address per
 * minute).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <idn2.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_config.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_log.h"
#include "og_priv.h"
#include "og_snap.h"
#include "og_store.h"
#include "og_time.h"
#include "og_token.h"
#include "unsubd.h"

#define UNSUBD_VERSION "optgate-unsubd 0.1"
#define HEADER_MEMORY (16 * 1024) /* headers must fit (431 otherwise) */
#define CSRF_MAX_AGE (24 * 3600)  /* a page may stay open a day */
#define LISTEN_MAX OG_MULTI_MAX
/*
 * TLS 1.2 and 1.3 only, as the example nginx config: GnuTLS's NORMAL,
 * libmicrohttpd's default, still offers 1.0 and 1.1 (RFC 8996: not to
 * be used), which scanners flag on the List-Unsubscribe host.
 */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* ---- config snapshot ---- */

static og_snap_cell snaps = OG_SNAP_CELL_INIT;

/* ---- process state ---- */

static og_store *store;
static volatile int stopping;
/* Requests whose changes are queued or written and not yet answered. */
static unsigned long owed;

/* ---- requests ---- */

enum req_kind { K_NONE = 0, K_ONECLICK, K_ALL, K_SAVE };

typedef struct req {
	og_snap *sn;
	int route;
	char tok[OG_TOKEN_MAX + 1];
	size_t badlen; /* length of a malformed token, for the log */
	/* path of [unsubd] base_url, for links */
	char prefix[OG_BASE_PATH_MAX];
	og_buf body;
	int too_big;
	int stale; /* a preference form of an older state: opt-outs only */
	int holds; /* ... asking for what holds now: saved already */
	int state; /* 0 reading, 1 committing, 2 committed */
	struct MHD_Connection *conn;
	unsubd_conn *uc;
	char ip[INET6_ADDRSTRLEN + 8];
	char ua[UNSUBD_UA_MAX + 1];
	char proof[128];
	int lang;
	int kind;
	og_token_info info;
	const og_stream *st;
	unsubd_job job;
	og_change *ch;
	int *results;
	size_t nch;
	og_buf what; /* changes, for the log line */
} req;

static int
lang_for(struct MHD_Connection *c, const char *explicit)
{
	int l = unsubd_lang_code(explicit);

	if (l >= 0)
		return l;
	return unsubd_lang_pick(
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language"));
}

/* Whether addr (text) is one of the trusted proxies. */
static int
trusted_proxy(const og_config *cfg, const char *addr)
{
	return unsubd_listed((const char *const *)cfg->unsubd_trusted_proxy,
	    cfg->nunsubd_trusted_proxy, addr);
}

/* X-Forwarded-For lines read (the last ones): more are padding. */
#define FWD_LINES_MAX 16

/*
 * The last X-Real-IP line of a request, and its last FWD_LINES_MAX
 * X-Forwarded-For lines, in order.
 */
struct fwd_hdrs {
	const char *real_ip;
	const char *xff[FWD_LINES_MAX];
	int nxff;
};

static enum MHD_Result
last_fwd(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct fwd_hdrs *h = cls;

	(void)kind;
	if (value == NULL)
		return MHD_YES;
	if (strcasecmp(key, "X-Real-IP") == 0) {
		h->real_ip = value;
	} else if (strcasecmp(key, "X-Forwarded-For") == 0) {
		if (h->nxff == FWD_LINES_MAX) {
			memmove(h->xff, h->xff + 1,
			    (FWD_LINES_MAX - 1) * sizeof(h->xff[0]));
			h->nxff--;
		}
		h->xff[h->nxff++] = value;
	}
	return MHD_YES;
}

/*
 * A peer's address as text into buf (INET6_ADDRSTRLEN) (unsubd_in6_text).  0,
 * or -1 for another kind of address.
 */
static int
peer_text(const struct sockaddr *sa, char *buf)
{
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, buf, INET6_ADDRSTRLEN);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)(const void *)sa;

		unsubd_in6_text(&sin6->sin6_addr, buf);
	} else {
		return -1;
	}
	return 0;
}

/*
 * The client that trusted proxies name in the X-Forwarded-For lines of
 * h (unsubd_fwd_client).
 */
static int
fwd_client(const og_config *cfg, const struct fwd_hdrs *h, char *out)
{
	return unsubd_fwd_client(h->xff, h->nxff,
	    (const char *const *)cfg->unsubd_trusted_proxy,
	    cfg->nunsubd_trusted_proxy, out);
}

/*
 * The client's address: the peer, or what a trusted proxy says: nginx's
 * X-Real-IP $remote_addr (its last line), else X-Forwarded-For
 * (fwd_client).  An X-Real-IP that is itself a trusted proxy is nginx
 * behind a load balancer ($remote_addr is the balancer): X-Forwarded-For
 * names the client, else the balancer stays.  A request from any other
 * peer names its peer.
 */
static void
client_ip(req *r)
{
	const og_config *cfg = r->sn->cfg;
	const union MHD_ConnectionInfo *ci;
	struct fwd_hdrs h;
	char buf[INET6_ADDRSTRLEN];

	og_strlcpy(r->ip, "unknown", sizeof(r->ip));
	ci = MHD_get_connection_info(
	    r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || peer_text(ci->client_addr, buf) != 0)
		return;
	og_strlcpy(r->ip, buf, sizeof(r->ip));
	if (!trusted_proxy(cfg, buf))
		return;
	memset(&h, 0, sizeof(h));
	(void)MHD_get_connection_values(r->conn, MHD_HEADER_KIND, last_fwd, &h);
	if (h.real_ip != NULL) {
		if (unsubd_fwd_addr(h.real_ip, strlen(h.real_ip), buf) != 0)
			return;
		og_strlcpy(r->ip, buf, sizeof(r->ip));
		if (!trusted_proxy(cfg, buf))
			return;
	}
	if (fwd_client(cfg, &h, buf) == 0)
		og_strlcpy(r->ip, buf, sizeof(r->ip));
}

/* Address as it may appear in logs. */
static void
log_addr(const og_config *cfg, const char *addr, char *out, size_t size)
{
	if (cfg->log_full_address)
		og_strlcpy(out, addr, size);
	else
		unsubd_mask(addr, out, size);
}

/* ---- responses ---- */

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned code, og_buf *b, int lang,
    const char *ctype)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = b->len;
	char *data = og_buf_take(b);

	if (data == NULL) {
		data = og_xstrdup("");
		len = 0;
	}
	resp =
	    MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	    ctype != NULL ? ctype : "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (ctype == NULL) {
		MHD_add_response_header(
		    resp, "Content-Language", unsubd_lang_tag(lang));
		/* The URL holds the token: never send it to a logo host. */
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'; "
		    "img-src https: 'self'; form-action 'self'; "
		    "frame-ancestors 'none'; base-uri 'none'");
	}
	if (code == MHD_HTTP_SERVICE_UNAVAILABLE ||
	    code == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(resp, "Retry-After", "60");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD, POST");
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
respond_short(req *r, unsigned code, const og_stream *st, int title, int text,
    const char *arg, int link)
{
	og_buf b;

	og_buf_init(&b, 0);
	unsubd_page_short(
	    &b, r->lang, st, title, text, arg, r->prefix, link ? r->tok : NULL);
	return respond(r->conn, code, &b, r->lang, NULL);
}

/* The one answer for every token that does not work. */
static enum MHD_Result
respond_bad(req *r, const char *why)
{
	og_log_info("NOQUEUE: optgate: reject: client=[%s], path=/u/(%zu "
	            "chars), reason=%s",
	    r->ip, r->tok[0] != '\0' ? strlen(r->tok) : r->badlen, why);
	return respond_short(
	    r, MHD_HTTP_BAD_REQUEST, NULL, M_BAD_TITLE, M_BAD_TEXT, NULL, 0);
}

static int
rate_limited(req *r)
{
	if (unsubd_rate_hit(
	        r->ip, r->sn->cfg->unsubd_rate_limit, og_time_now()) == 0)
		return 0;
	og_log_debug("rate limit: client=[%s]", r->ip);
	return 1;
}

/* ---- tokens and CSRF ---- */

/* Open r->tok; 0 and r->info, r->st, or a reason for the log. */
static const char *
open_token(req *r)
{
	const og_config *cfg = r->sn->cfg;
	int rc;

	rc = og_token_open(r->sn->kr, r->tok, strlen(r->tok), &r->info);
	if (rc == OG_ENOKEY)
		return "unknown-key";
	if (rc != 0)
		return "bad-token";
	if (r->info.purpose != OG_TOKEN_UNSUB)
		return "wrong-purpose";
	/*
	 * A token knows only its issue day: it may have been made as late
	 * as that day's last second, so it is too old only from then on.
	 * Checked before the stream: an old token of a removed stream
	 * would otherwise opt out of all mail (post_done).
	 */
	if (cfg->unsubd_token_max_age > 0 &&
	    og_time_now() - (r->info.issued + 86399) >
	        cfg->unsubd_token_max_age)
		return "expired";
	r->st = og_config_stream_by_id(cfg, r->info.stream_id);
	if (r->st == NULL)
		return "unknown-stream";
	return NULL;
}

/*
 * The form's protection: "KID.MAC", MAC = HMAC-SHA256 under a key derived
 * from token key KID of "unsubd-csrf|TOKEN|TS", base64url.  Hosts sharing
 * the keys file agree on it; a form stays valid while its key is in the
 * file (and for CSRF_MAX_AGE).  0, or -1 when the key is gone.
 */
static int
csrf_make(const og_keyring *kr, uint8_t kid, const char *tok, int64_t ts,
    char *out, size_t size)
{
	unsigned char key[32], mac[32];
	unsigned int maclen = sizeof(mac);
	char msg[OG_TOKEN_MAX + 64];
	unsigned char b64[64];
	int n, i;

	if (kid == 0)
		kid = og_keyring_signing_id(kr);
	if (og_keyring_derive(kr, kid, "optgate-unsubd csrf v1", key) != 0)
		return -1;
	n = snprintf(
	    msg, sizeof(msg), "unsubd-csrf|%s|%lld", tok, (long long)ts);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	HMAC(EVP_sha256(), key, sizeof(key), (unsigned char *)msg, (size_t)n,
	    mac, &maclen);
	OPENSSL_cleanse(key, sizeof(key));
	n = EVP_EncodeBlock(b64, mac, (int)maclen);
	/* base64url without padding: safe in a form value */
	for (i = 0; i < n; i++) {
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
		else if (b64[i] == '=')
			b64[i] = '\0';
	}
	(void)snprintf(out, size, "%u.%s", (unsigned)kid, (char *)b64);
	return 0;
}

static int
csrf_ok(
    const og_keyring *kr, const char *tok, const char *value, const char *ts_s)
{
	char want[80], kids[4];
	const char *dot;
	uint64_t ts, kid;
	int64_t now = og_time_now();

	if (value == NULL || ts_s == NULL ||
	    og_parse_u64(ts_s, INT64_MAX, &ts) != 0)
		return 0;
	if ((int64_t)ts > now + 60 || now - (int64_t)ts > CSRF_MAX_AGE)
		return 0;
	dot = strchr(value, '.');
	if (dot == NULL || dot == value || dot - value > 3)
		return 0;
	memcpy(kids, value, (size_t)(dot - value));
	kids[dot - value] = '\0';
	if (og_parse_u64(kids, 255, &kid) != 0 || kid == 0)
		return 0;
	if (csrf_make(kr, (uint8_t)kid, tok, (int64_t)ts, want, sizeof(want)) !=
	    0)
		return 0;
	if (strlen(value) != strlen(want))
		return 0;
	return CRYPTO_memcmp(value, want, strlen(want)) == 0;
}

/* ---- the preference center's state ---- */

/* The entry of (scope, name): a partner named in any case, as the gate. */
static const og_entry *
find_entry(const og_record *rec, int scope, const char *name)
{
	int i;

	if (name == NULL)
		name = "";
	for (i = 0; i < rec->nentries; i++)
		if (rec->entries[i].scope == scope &&
		    (scope == OG_SCOPE_PARTNER
		            ? strcasecmp(rec->entries[i].name, name)
		            : strcmp(rec->entries[i].name, name)) == 0)
			return &rec->entries[i];
	return NULL;
}

/* Whether st may mail key at time t (a cap only delays it); v: why. */
static int
stream_on(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *key, int64_t t, og_verdict *v)
{
	int unknown;

	/* as the daemons judge its mail (sender scopes included) */
	(void)og_gate_decide(
	    cfg, tx, st, og_gate_stream_sender(st, &unknown), key, t, v);
	return strcmp(v->rule, "ok") == 0 || strcmp(v->rule, "cap") == 0;
}

/*
 * Whether the partner's offers may come at time t, as the gate judges
 * them: its own decision for a stream of the partner (of) without a name,
 * a sender, consent or caps of its own, so that only what stops all of
 * the partner's mail counts: an opt-out or suppression of the partner
 * (named in any case) or of everything, unless a newer opt-in of the
 * partner lifts it, an erasure, the partner's hashed list.
 */
static int
partner_on(const og_config *cfg, og_rtxn *tx, const og_stream *of,
    const char *key, int64_t t, og_verdict *v)
{
	static char noname[] = "";
	og_stream ps = *of;

	ps.name = noname; /* no stream entry names "" */
	ps.class = OG_CLASS_MARKETING;
	ps.consent = OG_CONSENT_NONE;
	ps.sender = NULL;
	ps.nmatch = 0;
	ps.ncaps = 0;
	ps.nsegcaps = 0;
	(void)og_gate_decide(cfg, tx, &ps, NULL, key, t, v);
	return strcmp(v->rule, "ok") == 0;
}

typedef int (*row_on_fn)(const og_config *, og_rtxn *, const og_stream *,
    const char *, int64_t, og_verdict *);

/*
 * A row's state now and after its pause: on, or off until the first end
 * of a temporary entry after which the gate lets its mail through again
 * (the gate's answer changes only when an entry ends), or off for good.
 * A pause the gate puts down to an opt-out (no suppression holds: those
 * rank first) ends at once with a newer opt-in of the row's own scope,
 * which lifts every opt-out of its scope and broader; a suppression
 * (a soft bounce's, an admin's) only at its end.
 */
static void
row_state(const og_config *cfg, og_rtxn *tx, const og_record *rec, row_on_fn on,
    const og_stream *st, const char *key, int64_t now, unsubd_pref *pr)
{
	og_verdict v, later;
	int64_t t = now, next;
	int i;

	pr->on = on(cfg, tx, st, key, now, &v);
	pr->resume = 0;
	for (; !pr->on;) {
		next = 0;
		for (i = 0; i < rec->nentries; i++) {
			int64_t x = rec->entries[i].expires;

			if (x > t && (next == 0 || x < next))
				next = x;
		}
		if (next == 0)
			break;
		if (on(cfg, tx, st, key, next, &later)) {
			pr->resume = next;
			break;
		}
		t = next;
	}
	pr->later = pr->on || pr->resume != 0;
	pr->resumable = pr->resume != 0 && strcmp(v.rule, "optout") == 0;
}

static int
shown_already(const unsubd_page *p, const og_stream *st, const char *partner)
{
	int i;

	for (i = 0; i < p->nprefs; i++) {
		if (st != NULL && p->prefs[i].st == st)
			return 1;
		if (partner != NULL && p->prefs[i].st == NULL &&
		    strcmp(p->prefs[i].partner, partner) == 0)
			return 1;
	}
	return 0;
}

/*
 * Fill p->prefs: the token's stream, every marketing stream and partner
 * the record names, and the partners of those streams.  rec is NULL when
 * the address has no record yet.
 */
static void
build_prefs(const og_config *cfg, og_rtxn *tx, const og_record *rec,
    const char *key, const og_stream *tst, unsubd_page *p)
{
	static const og_record empty;
	const int max = (int)(sizeof(p->prefs) / sizeof(p->prefs[0]));
	int64_t now = og_time_now();
	int i, n;

	if (rec == NULL)
		rec = &empty;
	p->nprefs = 0;
	for (i = -1; i < cfg->nstreams && p->nprefs < max; i++) {
		const og_stream *st = i < 0 ? tst : &cfg->streams[i];
		const og_entry *e;
		unsubd_pref *pr;

		if (i >= 0) {
			if (st == tst || st->class != OG_CLASS_MARKETING)
				continue;
			if (find_entry(rec, OG_SCOPE_STREAM, st->name) ==
			        NULL &&
			    (st->partner == NULL ||
			        find_entry(rec, OG_SCOPE_PARTNER,
			            st->partner) == NULL))
				continue;
		}
		pr = &p->prefs[p->nprefs++];
		memset(pr, 0, sizeof(*pr));
		pr->st = st;
		row_state(cfg, tx, rec, stream_on, st, key, now, pr);
		e = find_entry(rec, OG_SCOPE_STREAM, st->name);
		pr->cap = e != NULL ? unsubd_cap_choice(e->pref) : 0;
		if (e != NULL)
			pr->own = e->pref;
	}
	n = p->nprefs;
	for (i = 0; i < n && p->nprefs < max; i++) {
		const char *partner = p->prefs[i].st->partner;
		unsubd_pref *pr;

		if (partner == NULL || shown_already(p, NULL, partner))
			continue;
		pr = &p->prefs[p->nprefs++];
		memset(pr, 0, sizeof(*pr));
		pr->partner = partner;
		row_state(
		    cfg, tx, rec, partner_on, p->prefs[i].st, key, now, pr);
	}
}

/*
 * Where in the address's history the page was read: its newest event (an
 * erased address: its erasure's; 0: none).  The form carries it back as
 * "v": a form read before a later change (a one-click in another tab, a
 * complaint, an erasure) would otherwise undo it, since its boxes are
 * compared with the state of now, not with what the person saw.
 */
static uint64_t
address_version(og_rtxn *tx, const char *key, const og_record *rec)
{
	unsigned char h[32];
	og_hashed hs;

	if (rec != NULL)
		return rec->last_event;
	if (og_store_erased(tx, key) > 0 && og_store_hash_of(tx, key, h) == 0 &&
	    og_store_hashed_read(tx, OG_HASH_ERASED, h, NULL, &hs) == 0)
		return hs.event;
	return 0;
}

/*
 * The page of r's address as it holds now: its record (rec, *have; a
 * pause over is its consent again), its rows and where in its history
 * they were read (p).  0, or -1 when the store cannot be read (logged).
 */
static int
read_page(req *r, og_record *rec, int *have, unsubd_page *p)
{
	og_rtxn *tx;
	int rc;

	*have = 0;
	if ((rc = og_store_rbegin(store, &tx)) == 0) {
		rc = og_store_get(tx, r->info.key, rec);
		*have = rc == 0;
		if (rc == 0 || rc == OG_NOTFOUND) {
			if (*have)
				(void)og_record_settle(rec, og_time_now());
			build_prefs(r->sn->cfg, tx, *have ? rec : NULL,
			    r->info.key, r->st, p);
			p->version = address_version(
			    tx, r->info.key, *have ? rec : NULL);
			rc = 0;
		}
		og_store_rend(tx);
	}
	if (rc != 0)
		og_log_warn("store read failed: %s", og_strerror(rc));
	return rc != 0 ? -1 : 0;
}

/* ---- pages ---- */

/*
 * What a one-click of r leaves, as its button and its answer name it:
 * what one_click_changes makes of [unsubd] scope for the token's stream.
 * NULL: all mail.
 */
static const char *
oneclick_label(const req *r, char *buf, size_t size)
{
	const og_stream *st = r->st;
	int scope = r->sn->cfg->unsubd_scope;

	if (scope == OG_SCOPE_ALL)
		return NULL;
	if (scope == OG_SCOPE_PARTNER && st->partner != NULL) {
		unsubd_msg_fmt(
		    r->lang, M_PARTNER_OFFERS, st->partner, buf, size);
		return buf;
	}
	if (scope == OG_SCOPE_SENDER && st->sender != NULL)
		return st->sender;
	if (st->description != NULL && st->description[0] != '\0')
		return st->description;
	return st->name;
}

/*
 * Whether an opt-in r has just written left its row off: a suppression
 * (a complaint, a hard bounce, a partner's list) is lifted only by an
 * admin, so "saved" alone would promise mail that never comes.
 */
static int
optin_held(const req *r, const unsubd_page *p)
{
	size_t i;
	int j;

	for (i = 0; i < r->nch; i++) {
		const og_change *c = &r->ch[i];

		if (c->kind != OG_EV_OPTIN)
			continue;
		for (j = 0; j < p->nprefs; j++) {
			const unsubd_pref *pr = &p->prefs[j];

			if (c->scope == OG_SCOPE_STREAM && pr->st != NULL &&
			    strcmp(pr->st->name, c->name) == 0 && !pr->on)
				return 1;
			if (c->scope == OG_SCOPE_PARTNER && pr->st == NULL &&
			    strcmp(pr->partner, c->name) == 0 && !pr->on)
				return 1;
		}
	}
	return 0;
}

/*
 * An address without a record as its page shows it: its match key,
 * masked, the domain as the person writes it ("exämple.com", not the
 * key's "xn--exmple-cua.com"), as a record's address would show.
 */
static void
key_shown(const char *key, char *out, size_t size)
{
	const char *at = strrchr(key, '@');
	char *u = NULL, buf[OG_ADDR_MAX + 16];

	if (at == NULL || strstr(at, "xn--") == NULL ||
	    idn2_to_unicode_8z8z(at + 1, &u, 0) != IDN2_OK) {
		unsubd_mask(key, out, size);
		return;
	}
	(void)snprintf(buf, sizeof(buf), "%.*s@%s", (int)(at - key), key, u);
	idn2_free(u);
	unsubd_mask(buf, out, size);
}

static enum MHD_Result
render_page(req *r, unsigned code, const char *notice, int notice_error)
{
	unsubd_page *p;
	og_record *rec;
	char masked[OG_ADDR_MAX + 16], csrf[64], label[256];
	og_buf b;
	int have;
	enum MHD_Result ret;

	rec = og_xcalloc(1, sizeof(*rec));
	p = og_xcalloc(1, sizeof(*p));
	if (read_page(r, rec, &have, p) != 0) {
		free(rec);
		free(p);
		return respond_short(r, MHD_HTTP_SERVICE_UNAVAILABLE, r->st,
		    M_ERROR, M_BUSY, NULL, 0);
	}
	if (r->state == 2 && r->kind == K_SAVE && !notice_error &&
	    optin_held(r, p)) {
		notice = unsubd_msg(r->lang, M_HELD);
		notice_error = 1;
	}
	if (have && rec->raw[0] != '\0')
		unsubd_mask(rec->raw, masked, sizeof(masked));
	else
		key_shown(r->info.key, masked, sizeof(masked));
	p->lang = r->lang;
	p->token = r->tok;
	p->prefix = r->prefix;
	p->masked = masked;
	p->st = r->st;
	p->oneclick = oneclick_label(r, label, sizeof(label));
	p->csrf_time = og_time_now();
	if (csrf_make(r->sn->kr, 0, r->tok, p->csrf_time, csrf, sizeof(csrf)) !=
	    0)
		csrf[0] = '\0'; /* not reached: the keyring has a signing key */
	p->csrf = csrf;
	p->notice = notice;
	p->notice_error = notice_error;
	og_buf_init(&b, 0);
	unsubd_page_render(&b, p);
	free(rec);
	free(p);
	ret = respond(r->conn, code, &b, r->lang, NULL);
	return ret;
}

/* ---- changes ---- */

static og_change *
add_change(req *r, size_t max, uint8_t kind, uint8_t scope, const char *name,
    uint8_t state)
{
	og_change *c;

	if (r->nch >= max)
		og_panic("unsubd: change array overflow");
	c = &r->ch[r->nch++];
	memset(c, 0, sizeof(*c));
	c->key = r->info.key;
	c->kind = kind;
	c->scope = scope;
	c->name = name;
	c->state = state;
	c->reason = OG_RS_NONE;
	c->via = r->kind == K_ONECLICK ? OG_VIA_ONECLICK : OG_VIA_PAGE;
	c->time = og_time_now();
	c->f[OG_EVF_IP] = r->ip;
	c->f[OG_EVF_UA] = r->ua;
	c->f[OG_EVF_SOURCE] = "unsubd";
	c->f[OG_EVF_PROOF] = r->proof;
	return c;
}

static void
note_change(req *r, const char *what, int scope, const char *name)
{
	if (r->what.len > 0)
		(void)og_buf_addc(&r->what, ',');
	(void)og_buf_printf(&r->what, "%s(%s%s%s)", what, og_scope_name(scope),
	    name != NULL && name[0] != '\0' ? ":" : "",
	    name != NULL ? name : "");
}

/*
 * Opt row pr of the page out (OG_EV_OPTOUT) or in (OG_EV_OPTIN, a
 * confirmed opt-in: the person asked for it on the page): its stream's
 * or its partner's entry.
 */
static void
row_change(req *r, size_t max, const unsubd_pref *pr, uint8_t kind)
{
	uint8_t scope = pr->st != NULL ? OG_SCOPE_STREAM : OG_SCOPE_PARTNER;
	const char *name = pr->st != NULL ? pr->st->name : pr->partner;

	add_change(r, max, kind, scope, name,
	    kind == OG_EV_OPTIN ? OG_ST_CONFIRMED : OG_ST_OPTOUT);
	note_change(r, kind == OG_EV_OPTIN ? "optin" : "optout", scope, name);
}

static void
one_click_changes(req *r)
{
	const og_config *cfg = r->sn->cfg;
	int scope = cfg->unsubd_scope;
	const char *name = r->st->name;

	if (scope == OG_SCOPE_ALL)
		name = "";
	else if (scope == OG_SCOPE_PARTNER && r->st->partner != NULL)
		name = r->st->partner;
	else if (scope == OG_SCOPE_SENDER && r->st->sender != NULL)
		name = r->st->sender;
	else
		scope = OG_SCOPE_STREAM;
	r->ch = og_xcalloc(1, sizeof(*r->ch));
	add_change(r, 1, OG_EV_OPTOUT, (uint8_t)scope, name, OG_ST_OPTOUT);
	note_change(r, "optout", scope, name);
}

/*
 * Whether the form turns row pr on (an opt-in now): its box ticked where
 * it was off for good, or, on a row paused by opt-outs (shown ticked,
 * "will resume"), its box kept and "resume now" ("r", "rp") ticked.  A
 * paused row's box kept alone changes nothing: the pause ends by itself.
 */
static int
row_turned_on(const unsubd_pref *pr, const unsubd_form *f, int want)
{
	if (!want || pr->on)
		return 0;
	if (!pr->later)
		return 1;
	return pr->resumable &&
	       (pr->st != NULL ? unsubd_form_has(f, "r", pr->st->name)
	                       : unsubd_form_has(f, "rp", pr->partner));
}

/* Whether the form turns partner on (it was off): an opt-in now. */
static int
partner_turned_on(
    const unsubd_page *p, const unsubd_form *f, const char *partner)
{
	int i;

	for (i = 0; i < p->nprefs; i++)
		if (p->prefs[i].st == NULL &&
		    strcmp(p->prefs[i].partner, partner) == 0)
			return row_turned_on(
			    &p->prefs[i], f, unsubd_form_has(f, "p", partner));
	return 0;
}

/* The changes of form f against page p, read as of now (max: room). */
static void
form_changes(req *r, const unsubd_form *f, const unsubd_page *p, size_t max)
{
	int i;

	for (i = 0; i < p->nprefs; i++) {
		const unsubd_pref *pr = &p->prefs[i];
		const char *name = pr->st != NULL ? pr->st->name : pr->partner;
		char fname[OG_STREAM_NAME_MAX + 8];
		int want = unsubd_form_has(f, pr->st != NULL ? "s" : "p", name);
		int cap;

		/*
		 * Unticked, during a pause too (shown ticked, "will resume"):
		 * for good, or the mail would come back when it ends.
		 */
		if (pr->later && !want)
			row_change(r, max, pr, OG_EV_OPTOUT);
		else if (row_turned_on(pr, f, want))
			row_change(r, max, pr, OG_EV_OPTIN);
		else if (!want && pr->st != NULL && pr->st->partner != NULL &&
		         partner_turned_on(p, f, pr->st->partner))
			/* The partner's opt-in would cover this stream, which
			 * the same form left off. */
			row_change(r, max, pr, OG_EV_OPTOUT);
		if (pr->st == NULL)
			continue;
		(void)snprintf(fname, sizeof(fname), "c.%s", pr->st->name);
		cap = unsubd_cap_parse(unsubd_form_get(f, fname));
		if (want && cap >= 0 && cap != pr->cap) {
			og_change *c = add_change(r, max, OG_EV_PREF,
			    OG_SCOPE_STREAM, pr->st->name, OG_ST_NONE);

			c->pref = unsubd_caps[cap];
			note_change(r, unsubd_cap_values[cap], OG_SCOPE_STREAM,
			    pr->st->name);
		}
	}
}

/*
 * Changes of a preference form against the current state.  0 or -1 (store
 * error).  When the address changed since the page was read (its "v"),
 * r->stale is set and only the boxes the person unticked are taken.
 */
static int
pref_changes(req *r, const unsubd_form *f)
{
	unsubd_page *p;
	og_record *rec;
	size_t max;
	uint64_t shown;
	int i, have;

	r->ch = NULL;
	r->nch = 0;
	if (r->kind == K_ALL) {
		r->ch = og_xcalloc(1, sizeof(*r->ch));
		add_change(r, 1, OG_EV_OPTOUT, OG_SCOPE_ALL, "", OG_ST_OPTOUT);
		note_change(r, "optout", OG_SCOPE_ALL, "");
		return 0;
	}
	rec = og_xcalloc(1, sizeof(*rec));
	p = og_xcalloc(1, sizeof(*p));
	if (read_page(r, rec, &have, p) != 0) {
		free(rec);
		free(p);
		return -1;
	}
	/* A form without "v" (from before it was added) counts as stale. */
	r->stale =
	    og_parse_u64(unsubd_form_get(f, "v"), UINT64_MAX, &shown) != 0 ||
	    shown != p->version;
	max = 2 * (size_t)p->nprefs + 1;
	r->ch = og_xcalloc(max, sizeof(*r->ch));
	/*
	 * The address changed after the page was shown (a one-click in
	 * another tab, a complaint, an admin): its boxes may show what is no
	 * longer so, and saving them would undo that.  Only what the person
	 * did on it is taken, and only to stop mail: a box shown ticked
	 * ("ws", "wp") and sent unticked, where that mail still goes or
	 * will go after a pause.  An opt-out is never lost to a stale page.
	 */
	for (i = 0; r->stale && i < p->nprefs; i++) {
		const unsubd_pref *pr = &p->prefs[i];
		const char *name = pr->st != NULL ? pr->st->name : pr->partner;

		if (pr->later &&
		    unsubd_form_has(f, pr->st != NULL ? "ws" : "wp", name) &&
		    !unsubd_form_has(f, pr->st != NULL ? "s" : "p", name))
			row_change(r, max, pr, OG_EV_OPTOUT);
	}
	if (!r->stale) {
		form_changes(r, f, p, max);
	} else if (r->nch == 0) {
		/*
		 * Nothing unticked: a conflict only when the form, read as
		 * a fresh one, would change something.  When all it asks for
		 * holds now, it is most often the person's own save sent
		 * again (a reload of its answer re-posts it): it was saved,
		 * and "changed elsewhere, nothing saved" is wrong.
		 */
		form_changes(r, f, p, max);
		if (r->nch == 0) {
			r->stale = 0;
			r->holds = 1;
		}
		r->nch = 0;
		og_buf_reset(&r->what);
	}
	free(rec);
	free(p);
	return 0;
}

static const char *
result_word(const req *r)
{
	size_t i;
	int applied = 0, skipped = 0;

	if (r->job.rc != 0)
		return "failed";
	for (i = 0; i < r->nch; i++) {
		if (r->results[i] == OG_APPLIED)
			applied = 1;
		else if (r->results[i] == OG_SKIPPED_OLDER ||
		         r->results[i] == OG_SKIPPED_OPTOUT)
			skipped = 1;
	}
	if (skipped)
		return applied ? "partly-applied" : "skipped";
	return applied ? "applied" : "unchanged";
}

/*
 * The decision's log line, once its changes are on disk (or failed).
 * Written here, not with the answer: a client that hangs up while its
 * opt-out is being written never gets one, and libmicrohttpd then
 * closes the connection without calling the handler again.
 */
static void
log_action(const req *r)
{
	char la[OG_ADDR_MAX + 16];
	const char *action = r->kind == K_ONECLICK ? "unsubscribe"
	                     : r->kind == K_ALL    ? "unsubscribe-all"
	                                           : "preferences";

	log_addr(r->sn->cfg, r->info.key, la, sizeof(la));
	og_log_info("NOQUEUE: optgate: %s: to=<%s>, stream=%s, via=%s, "
	            "changes=%s, client=[%s], kid=%u, result=%s%s",
	    action, la, r->st != NULL ? r->st->name : "(not configured)",
	    r->kind == K_ONECLICK ? "one-click" : "page",
	    r->what.data != NULL ? r->what.data : "none", r->ip,
	    (unsigned)r->info.kid, result_word(r),
	    r->stale ? " (stale page: its unticked boxes only)" : "");
}

static void
job_done(unsubd_job *job)
{
	req *r = job->ctx;

	log_action(r);
	r->state = 2;
	unsubd_conn_hold(r->uc, 0);
	MHD_resume_connection(r->conn);
}

/* Whether every change of r is an opt-out. */
static int
only_optouts(const req *r)
{
	size_t i;

	for (i = 0; i < r->nch; i++)
		if (r->ch[i].kind != OG_EV_OPTOUT)
			return 0;
	return 1;
}

static enum MHD_Result committed(req *r);

/* Queue r's changes and suspend the connection until they are synced. */
static enum MHD_Result
commit(req *r)
{
	char pd[16];
	size_t i;

	og_date_fmt(r->info.issued, pd, sizeof(pd));
	r->results = og_xcalloc(r->nch, sizeof(int));
	__atomic_add_fetch(&owed, 1, __ATOMIC_RELEASE);
	/*
	 * An erased address that has not come back: an opt-out writes
	 * nothing (the store would skip it too), the erasure's hash already
	 * stops all her mail.
	 */
	if (only_optouts(r) && og_store_erased_gone(store, r->info.key)) {
		/* Already kept from every stream: nothing to write. */
		for (i = 0; i < r->nch; i++)
			r->results[i] = OG_UNCHANGED;
		r->job.rc = 0;
		r->state = 2;
		log_action(r);
		return committed(r);
	}
	r->job.ch = r->ch;
	r->job.n = r->nch;
	r->job.results = r->results;
	r->job.done = job_done;
	r->job.ctx = r;
	r->state = 1;
	unsubd_conn_hold(r->uc, 1);
	MHD_suspend_connection(r->conn);
	unsubd_commit_submit(&r->job);
	return MHD_YES;
}

/* After the commit: the answer (log_action has logged it). */
static enum MHD_Result
committed(req *r)
{
	if (r->job.rc != 0)
		return respond_short(r, MHD_HTTP_SERVICE_UNAVAILABLE, r->st,
		    M_ERROR, M_BUSY, NULL, 1);
	if (r->kind == K_ONECLICK && r->st == NULL)
		return respond_short(
		    r, MHD_HTTP_OK, NULL, M_TITLE, M_DONE_ALL, NULL, 0);
	if (r->kind == K_ONECLICK) {
		char buf[256];
		const char *label = oneclick_label(r, buf, sizeof(buf));

		if (label == NULL)
			return respond_short(r, MHD_HTTP_OK, r->st, M_TITLE,
			    M_DONE_ALL, NULL, 1);
		return respond_short(
		    r, MHD_HTTP_OK, r->st, M_TITLE, M_DONE_ONE, label, 1);
	}
	if (r->stale)
		return render_page(
		    r, MHD_HTTP_OK, unsubd_msg(r->lang, M_CHANGED_OUT), 1);
	if (strcmp(result_word(r), "partly-applied") == 0 ||
	    strcmp(result_word(r), "skipped") == 0)
		return render_page(
		    r, MHD_HTTP_OK, unsubd_msg(r->lang, M_PARTLY), 1);
	return render_page(r, MHD_HTTP_OK,
	    unsubd_msg(r->lang, r->kind == K_ALL ? M_DONE_ALL : M_SAVED), 0);
}

/* The line of a page save that changed nothing: changes, then result. */
static void
log_page_result(req *r, const char *changes, const char *result)
{
	char la[OG_ADDR_MAX + 16];

	log_addr(r->sn->cfg, r->info.key, la, sizeof(la));
	og_log_info("NOQUEUE: optgate: preferences: to=<%s>, stream=%s, "
	            "via=page, changes=%s, client=[%s], kid=%u, result=%s",
	    la, r->st->name, changes, r->ip, (unsigned)r->info.kid, result);
}

/* The end of a POST body: decide and queue. */
static enum MHD_Result
post_done(req *r)
{
	unsubd_form f;
	const char *why;
	int rc;

	rc = unsubd_form_parse(
	    r->body.data != NULL ? r->body.data : "", r->body.len, &f);
	/* One-click: any body, even one that does not parse. */
	if (rc == 0)
		r->lang = lang_for(r->conn, unsubd_form_get(&f, "lang"));
	why = open_token(r);
	if (why != NULL && r->route == UNSUBD_R_TOKEN &&
	    strcmp(why, "unknown-stream") == 0) {
		/*
		 * An authentic one-click of a stream since renamed or
		 * removed: the token holds only a hash of its name, so the
		 * opt-out cannot name it.  Out of all our mail, rather than
		 * of nothing (a lost unsubscribe).  Not a bad token: no
		 * rate-limit hit (a mailbox provider posts many from one
		 * address).
		 */
		unsubd_form_free(&f);
		(void)snprintf(r->proof, sizeof(r->proof),
		    "token kid=%u stream-id=%u (not in the configuration)",
		    (unsigned)r->info.kid, (unsigned)r->info.stream_id);
		r->kind = K_ONECLICK;
		r->ch = og_xcalloc(1, sizeof(*r->ch));
		add_change(r, 1, OG_EV_OPTOUT, OG_SCOPE_ALL, "", OG_ST_OPTOUT);
		note_change(r, "optout", OG_SCOPE_ALL, "");
		return commit(r);
	}
	if (why != NULL) {
		unsubd_form_free(&f);
		if (r->route == UNSUBD_R_TOKEN && rate_limited(r))
			return respond_short(r, MHD_HTTP_TOO_MANY_REQUESTS,
			    NULL, M_ERROR, M_RATE, NULL, 0);
		return respond_bad(r, why);
	}
	(void)snprintf(r->proof, sizeof(r->proof), "token kid=%u stream=%s",
	    (unsigned)r->info.kid, r->st->name);
	if (r->route == UNSUBD_R_TOKEN) {
		unsubd_form_free(&f);
		r->kind = K_ONECLICK;
		one_click_changes(r);
		return commit(r);
	}
	if (rc != 0) {
		unsubd_form_free(&f);
		og_log_info("NOQUEUE: optgate: reject: client=[%s], "
		            "reason=bad-form",
		    r->ip);
		return respond_short(r, MHD_HTTP_BAD_REQUEST, r->st, M_ERROR,
		    M_EXPIRED, NULL, 1);
	}
	if (!csrf_ok(r->sn->kr, r->tok, unsubd_form_get(&f, "csrf"),
	        unsubd_form_get(&f, "ts"))) {
		unsubd_form_free(&f);
		og_log_info("NOQUEUE: optgate: reject: stream=%s, client=[%s], "
		            "reason=csrf",
		    r->st->name, r->ip);
		return render_page(
		    r, MHD_HTTP_FORBIDDEN, unsubd_msg(r->lang, M_EXPIRED), 1);
	}
	r->kind = unsubd_form_has(&f, "action", "all") ? K_ALL : K_SAVE;
	rc = pref_changes(r, &f);
	unsubd_form_free(&f);
	if (rc == 0 && r->stale && r->nch == 0) {
		log_page_result(r, "none",
		    "stale (the address changed after the page was shown)");
		return render_page(
		    r, MHD_HTTP_CONFLICT, unsubd_msg(r->lang, M_CHANGED), 1);
	}
	if (rc != 0) {
		/* The person's choices are lost: say whose (pref_changes
		 * logged why). */
		log_page_result(
		    r, "unknown", "failed (the store could not be read)");
		return respond_short(r, MHD_HTTP_SERVICE_UNAVAILABLE, r->st,
		    M_ERROR, M_BUSY, NULL, 1);
	}
	if (r->nch == 0)
		return render_page(r, MHD_HTTP_OK,
		    unsubd_msg(r->lang, r->holds ? M_SAVED : M_NOTHING), 0);
	return commit(r);
}

static enum MHD_Result
get_page(req *r)
{
	const char *why = open_token(r);
	char la[OG_ADDR_MAX + 16];

	if (why != NULL)
		return respond_bad(r, why);
	log_addr(r->sn->cfg, r->info.key, la, sizeof(la));
	og_log_info("NOQUEUE: optgate: page: to=<%s>, stream=%s, "
	            "client=[%s], kid=%u",
	    la, r->st->name, r->ip, (unsigned)r->info.kid);
	return render_page(r, MHD_HTTP_OK, NULL, 0);
}

static enum MHD_Result
health(req *r)
{
	og_rtxn *tx;
	og_buf b;
	int rc = og_store_rbegin(store, &tx);

	og_buf_init(&b, 0);
	if (rc == 0) {
		og_store_rend(tx);
		(void)og_buf_adds(&b, "ok\n");
		return respond(
		    r->conn, MHD_HTTP_OK, &b, 0, "text/plain; charset=utf-8");
	}
	(void)og_buf_printf(&b, "store: %s\n", og_strerror(rc));
	return respond(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, &b, 0,
	    "text/plain; charset=utf-8");
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	req *r = *con_cls;
	const char *tok;
	size_t toklen;
	int is_post, is_get;

	(void)cls;
	(void)version;
	if (r == NULL) {
		const union MHD_ConnectionInfo *ci;
		const char *cl, *ua;

		r = og_xcalloc(1, sizeof(*r));
		*con_cls = r;
		r->sn = og_snap_get(&snaps);
		r->conn = conn;
		/* A reloaded timeout applies to idle waits too. */
		(void)MHD_set_connection_option(conn,
		    MHD_CONNECTION_OPTION_TIMEOUT,
		    (unsigned)r->sn->cfg->unsubd_timeout);
		(void)og_config_base_path(
		    r->sn->cfg->unsubd_base_url, r->prefix, sizeof(r->prefix));
		ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci != NULL)
			r->uc = ci->socket_context;
		og_buf_init(&r->body, UNSUBD_BODY_MAX);
		og_buf_init(&r->what, 4096);
		client_ip(r);
		ua = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "User-Agent");
		if (ua != NULL)
			unsubd_ua(ua, r->ua, sizeof(r->ua));
		r->lang = lang_for(conn, MHD_lookup_connection_value(conn,
		                             MHD_GET_ARGUMENT_KIND, "lang"));
		r->route = unsubd_route(url, strlen(url), &tok, &toklen);
		if (tok != NULL) {
			memcpy(r->tok, tok, toklen);
			r->tok[toklen] = '\0';
		} else if (r->route == UNSUBD_R_BADTOKEN) {
			r->badlen = strcspn(url + 3, "/");
		}
		is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		         strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		if (r->route == UNSUBD_R_HEALTH && is_get)
			return health(r);
		if (r->route == UNSUBD_R_NOTFOUND ||
		    r->route == UNSUBD_R_HEALTH)
			return respond_short(r, MHD_HTTP_NOT_FOUND, NULL,
			    M_NOTFOUND, M_NOTFOUND, NULL, 0);
		if (!is_get && !is_post)
			return respond_short(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			    NULL, M_ERROR, M_NOTFOUND, NULL, 0);
		/*
		 * One-click POSTs are counted only when their token fails
		 * (post_done): mailbox providers send everyone's clicks
		 * from a few addresses, and a valid one must always work.
		 */
		if (!(is_post && r->route == UNSUBD_R_TOKEN) && rate_limited(r))
			return respond_short(r, MHD_HTTP_TOO_MANY_REQUESTS,
			    NULL, M_ERROR, M_RATE, NULL, 0);
		if (r->route == UNSUBD_R_BADTOKEN)
			return respond_bad(r, "malformed");
		if (is_get)
			return get_page(r);
		cl = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL) {
			uint64_t n;

			if (og_parse_u64(cl, UINT64_MAX, &n) == 0 &&
			    n > UNSUBD_BODY_MAX)
				r->too_big = 1;
		}
		if (r->too_big)
			return respond_short(r, MHD_HTTP_CONTENT_TOO_LARGE,
			    NULL, M_ERROR, M_TOOBIG, NULL, 0);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/*
		 * Past the cap the rest is read and dropped (libmicrohttpd
		 * cannot answer in the middle of an upload); the deadline
		 * bounds how long that may take.
		 */
		if (!r->too_big &&
		    og_buf_add(&r->body, upload, *upload_size) != 0) {
			r->too_big = 1;
			og_buf_free(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->state == 2)
		return committed(r);
	if (r->state == 1)
		return MHD_YES; /* not reached: suspended */
	if (r->too_big)
		return respond_short(r, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		    M_ERROR, M_TOOBIG, NULL, 0);
	return post_done(r);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	req *r = *con_cls;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	(void)toe;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL)
		unsubd_conn_restart(ci->socket_context);
	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->state != 0)
		__atomic_sub_fetch(&owed, 1, __ATOMIC_RELEASE);
	og_buf_free(&r->body);
	og_buf_free(&r->what);
	free(r->ch);
	free(r->results);
	og_snap_put(r->sn);
	free(r);
}

/* ---- connections per client ---- */

/* [unsubd] max_connections_per_client when not set: set at start. */
static int client_share;

static int
client_limit(const og_config *cfg)
{
	return cfg->unsubd_max_connections_per_client >= 0
	           ? cfg->unsubd_max_connections_per_client
	           : client_share;
}

static void
log_client_full(const char *ip, int limit)
{
	og_log_warn("NOQUEUE: optgate: reject: client=[%s], reason=too many "
	            "connections: %d open from %s (max_connections_per_"
	            "client): its further ones are closed, logged once a "
	            "minute",
	    ip, limit, strchr(ip, ':') != NULL ? "its /64" : "this address");
}

/*
 * Whether the peer at sa may open one more connection (and count it for
 * c when not NULL): every peer but a trusted proxy, behind which all
 * clients share its address, gets client_limit() connections at most.
 */
static int
client_ok(const struct sockaddr *sa, unsubd_conn *c)
{
	char ip[INET6_ADDRSTRLEN];
	og_snap *sn;
	int limit, first = 0, rc = 0;

	if (peer_text(sa, ip) != 0)
		return 1;
	sn = og_snap_get(&snaps);
	limit = client_limit(sn->cfg);
	if (!trusted_proxy(sn->cfg, ip))
		rc = c != NULL ? unsubd_conn_client(c, ip, limit, &first)
		               : unsubd_client_full(ip, limit, &first);
	og_snap_put(sn);
	if (first)
		log_client_full(ip, limit);
	return rc == 0;
}

/*
 * Before the server takes a connection on (no TLS handshake, no slot):
 * a client that has its share already is refused here.  notify_conn
 * counts (the server may still refuse one this let through).
 */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	(void)cls;
	(void)addrlen;
	return client_ok(addr, NULL) ? MHD_YES : MHD_NO;
}

static void
notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context =
		    ci != NULL ? unsubd_conn_add(ci->connect_fd) : NULL;
		ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		/* over its share (several at once through the accept
		 * policy): shut down, the server closes it */
		if (*socket_context != NULL && ci != NULL)
			(void)client_ok(ci->client_addr, *socket_context);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		unsubd_conn_del(*socket_context);
		*socket_context = NULL;
	}
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	og_log_debug("libmicrohttpd: %s", buf);
}

/*
 * At a stop, after the last commit: the answers to changes now on disk
 * are still to be sent by the server's threads.  Stopping the server
 * closes their connections; the change holds, but the client is told
 * nothing and may show an error.  Give them up to 3 s.
 */
static void
send_owed(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	unsigned long n;
	int i;

	for (i = 0; i < 300; i++) {
		if (__atomic_load_n(&owed, __ATOMIC_ACQUIRE) == 0)
			return;
		(void)nanosleep(&ts, NULL);
	}
	n = __atomic_load_n(&owed, __ATOMIC_ACQUIRE);
	if (n > 0)
		og_log_warn("stopping: %lu answer(s) to changes already "
		            "written not sent within 3 s",
		    n);
}

/* ---- setup ---- */

/* Bind "HOST:PORT", "[V6]:PORT" or "PORT"; the socket or -1 (logged). */
static int
bind_listen(const char *spec)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *res = NULL;
	uint64_t pnum;
	int fd = -1, on = 1, rc;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		if ((size_t)(rb - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL) {
			og_strlcpy(host, "0.0.0.0", sizeof(host));
			colon = spec - 1;
		} else {
			if ((size_t)(colon - spec) >= sizeof(host))
				goto bad;
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
			if (host[0] == '\0' || strcmp(host, "*") == 0)
				og_strlcpy(host, "0.0.0.0", sizeof(host));
		}
	}
	if (og_strlcpy(port, colon + 1, sizeof(port)) >= sizeof(port))
		goto bad;
	/* No port, or port 0, would bind one the kernel picks. */
	if (og_parse_u64(port, 65535, &pnum) != 0 || pnum == 0)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		og_log_err("listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		og_log_err("listen %s: socket: %s", spec, strerror(errno));
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(
		    fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 1024) != 0) {
		og_log_err("listen %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	freeaddrinfo(res);
	return fd;
bad:
	og_log_err("listen %s: expected HOST:PORT or [V6]:PORT", spec);
	return -1;
}

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	og_buf b;
	char chunk[4096];
	size_t n;

	if (fp == NULL) {
		og_log_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	og_buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (og_buf_add(&b, chunk, n) != 0) {
			og_log_err("%s: larger than 1 MB", path);
			fclose(fp);
			og_buf_free(&b);
			return NULL;
		}
	fclose(fp);
	return og_buf_take(&b);
}

static void
drop_privileges(const char *user)
{
	char err[256];

	if (og_priv_drop("unsubd", user, err, sizeof(err)) != 0)
		og_log_fatal("%s", err);
}

static void
raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= (rlim_t)want)
		return;
	if (rl.rlim_max < (rlim_t)want && getuid() == 0)
		rl.rlim_max = (rlim_t)want;
	rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static void
usage(void)
{
	fprintf(stderr, "usage: optgate-unsubd [-fvV] [-c FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	int fg = 0, verbose = 0, ch, i, nl = 0, rc, tls = 0;
	int fds[LISTEN_MAX];
	struct MHD_Daemon *d[LISTEN_MAX];
	char *cert = NULL, *key = NULL;
	char err[2048], why[512];
	int dead = 0;
	og_store_opts so;
	og_config *cfg;
	og_snap *sn;
	sigset_t set;
	unsigned threads;
	long ncpu;

	while ((ch = getopt(argc, argv, "c:fvVh")) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("%s (libmicrohttpd %s)\n", UNSUBD_VERSION,
			    MHD_get_version());
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* SIGHUP re-reads it after daemon() went to "/". */
	cfgpath = og_config_abspath(cfgpath);
	og_log_open("optgate-unsubd", fg ? OG_LOG_STDERR : 0);
	og_log_sigbus(OG_STORE_SIGBUS_MSG);
	if ((sn = og_snap_load(cfgpath, OG_SNAP_KEYS)) == NULL)
		og_log_fatal("cannot start: configuration or keys not usable");
	og_snap_set(&snaps, sn);
	cfg = sn->cfg;
	og_log_set_verbose(verbose > cfg->verbose ? verbose : cfg->verbose);
	if (cfg->nunsubd_listen == 0)
		og_log_fatal("[unsubd] listen: no address");
	raise_nofile(cfg->unsubd_max_connections + 64);
	for (i = 0; i < cfg->nunsubd_listen && i < LISTEN_MAX; i++) {
		fds[i] = bind_listen(cfg->unsubd_listen[i]);
		if (fds[i] < 0)
			og_log_fatal(
			    "cannot listen on %s", cfg->unsubd_listen[i]);
		nl++;
	}
	if (cfg->unsubd_tls_cert != NULL && cfg->unsubd_tls_key != NULL) {
		cert = read_file(cfg->unsubd_tls_cert);
		key = read_file(cfg->unsubd_tls_key);
		if (cert == NULL || key == NULL)
			og_log_fatal("cannot read TLS certificate or key");
		tls = 1;
	}
	/* Detach before any thread exists and before the store opens. */
	if (!fg && daemon(0, 0) != 0)
		og_log_fatal("cannot detach: %s", strerror(errno));
	drop_privileges(cfg->unsubd_user);

	og_store_opts_config(&so, cfg, 0);
	rc = og_store_open(cfg->store_path, &so, &store, err, sizeof(err));
	if (rc != 0)
		og_log_fatal("store %s: %s", cfg->store_path,
		    err[0] != '\0' ? err : og_strerror(rc));
	/* Signals are taken by sigwait in this thread only. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (unsubd_commit_start(store) != 0 ||
	    unsubd_reaper_start(cfg->unsubd_timeout * 1000) != 0)
		og_log_fatal("cannot start threads");
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
	/*
	 * max_connections_per_client not set: half of what one listen
	 * address holds (a client reaches one of them: an IPv4 one may fill
	 * the IPv4 address's share), as Postfix's
	 * smtpd_client_connection_count_limit is half its process limit.
	 */
	client_share = cfg->unsubd_max_connections / nl / 2;
	if (client_share < 1)
		client_share = 1;
	for (i = 0; i < nl; i++) {
		/*
		 * poll, not epoll: libmicrohttpd 0.9.75's epoll loop
		 * (MHD_epoll) takes events 128 at a time and, when a batch
		 * fills, waits for more, up to the connection timeout,
		 * before it serves that batch: 128 requests ready at once
		 * stalled until the timeout cut them.  poll scans a
		 * thread's connections on each wake-up, a cost that
		 * max_connections bounds.
		 */
		unsigned flags = MHD_USE_POLL_INTERNAL_THREAD |
		                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
		unsigned limit;

		/*
		 * libmicrohttpd's limit is per listening socket: share
		 * max_connections out so that all of them together stay
		 * within it (a pool thread needs at least one).
		 */
		limit = (unsigned)(cfg->unsubd_max_connections / nl +
		                   (i < cfg->unsubd_max_connections % nl));
		if (limit < threads)
			limit = threads;
		if (tls)
			flags |= MHD_USE_TLS;
		d[i] = MHD_start_daemon(flags, 0, accept_policy, NULL, handler,
		    NULL, MHD_OPTION_LISTEN_SOCKET, fds[i],
		    MHD_OPTION_THREAD_POOL_SIZE, threads,
		    MHD_OPTION_CONNECTION_LIMIT, limit,
		    MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)(cfg->unsubd_timeout > 0 ? cfg->unsubd_timeout
		                                       : 10),
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		    MHD_OPTION_NOTIFY_CONNECTION, notify_conn, NULL,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
		    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
		    TLS_PRIORITIES, MHD_OPTION_END);
		/* libmicrohttpd says why at debug level only: a TLS pair
		 * that does not load is said here, as config check says it */
		if (d[i] == NULL && tls &&
		    og_config_tls_pair(cfg->unsubd_tls_cert,
		        cfg->unsubd_tls_key, (const char *const[]){cert, key},
		        err, sizeof(err)) != 0)
			og_log_fatal("cannot start the HTTP server on %s: %s",
			    cfg->unsubd_listen[i], err);
		if (d[i] == NULL)
			og_log_fatal("cannot start the HTTP server on %s",
			    cfg->unsubd_listen[i]);
	}
	for (i = 1; i < nl; i++)
		og_log_info("also listening on %s%s", cfg->unsubd_listen[i],
		    tls ? " (TLS)" : "");
	og_log_info("started: listen=%s%s, threads=%u, max_connections=%d, "
	            "max_connections_per_client=%d, timeout=%llds, "
	            "rate_limit=%d/min, scope=%s",
	    cfg->unsubd_listen[0], tls ? " (TLS)" : "", threads,
	    cfg->unsubd_max_connections, client_limit(cfg),
	    (long long)cfg->unsubd_timeout, cfg->unsubd_rate_limit,
	    og_scope_name(cfg->unsubd_scope));

	while (!stopping) {
		struct timespec ts = {60, 0};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGHUP) {
			og_snap *old, *ns = og_snap_load(cfgpath, OG_SNAP_KEYS);

			if (ns == NULL) {
				og_log_err("reload failed: keeping the running "
				           "configuration");
				continue;
			}
			/* tokens made with other settings: other keys */
			if (og_store_address_check(store, ns->cfg->address_keys,
			        err, sizeof(err)) != 0) {
				og_log_err("reload: %s; keeping the running "
				           "configuration",
				    err);
				og_snap_put(ns);
				continue;
			}
			og_log_info("reloaded %s (listen, TLS, user, store and "
			            "max_connections apply at restart)",
			    ns->cfg->path != NULL ? ns->cfg->path : "config");
			old = og_snap_get(&snaps);
			og_snap_keys_log(old, ns);
			og_snap_put(old);
			unsubd_reaper_set(ns->cfg->unsubd_timeout * 1000);
			og_snap_set(&snaps, ns);
		} else if (sig == SIGTERM || sig == SIGINT) {
			stopping = 1;
		} else if (og_store_dead(store, why, sizeof(why)) != 0) {
			/* the next write fails too: stop, exit 1 */
			stopping = dead = 1;
		} else {
			(void)og_store_reader_check(store);
			/* counters or consent replaced under us (the
			 * committer also checks consent before each commit:
			 * no opt-out acknowledged into the old) */
			og_store_follow(store);
		}
	}
	og_log_info("stopping: deadline: cut %llu request(s)",
	    (unsigned long long)unsubd_reaper_cut());
	for (i = 0; i < nl; i++)
		(void)MHD_quiesce_daemon(d[i]);
	/* Let queued opt-outs finish: their connections then resume. */
	unsubd_commit_stop();
	send_owed();
	for (i = 0; i < nl; i++)
		MHD_stop_daemon(d[i]);
	unsubd_reaper_stop();
	unsubd_rate_reset();
	og_store_close(store);
	og_snap_set(&snaps, NULL);
	free(cert);
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	if (dead || unsubd_commit_dead(why, sizeof(why)))
		og_log_fatal("%s; stopped, to be started again", why);
	og_log_info("stopped");
	return 0;
}
