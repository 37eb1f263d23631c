/*
 * unsubd.h - internals of optgate-unsubd, the one-click unsubscribe
 * (RFC 8058) and preference-center HTTP service.
 *
 * Modules (all static to the daemon, prefix unsubd_):
 *   unsubd_parse.c   pure parsers of peer input: the request path, the
 *                    form body, Accept-Language, cap choices; address
 *                    masking; HTML escaping.  Fuzzed by
 *                    tests/fuzz/http_fuzz.c.
 *   unsubd_page.c    the HTML pages in en, pt-BR and es.
 *   unsubd_commit.c  group commit: jobs from every HTTP thread are
 *                    applied by one committer thread in one
 *                    og_store_apply() call (one fsync) per batch.
 *   unsubd_limit.c   per-IP rate limit (fixed windows, as anvil), open
 *                    connections per client, and the absolute
 *                    per-request deadline (reaper).
 *   unsubd.c         options, config snapshot, MHD callbacks, signals.
 */
#ifndef UNSUBD_H
#define UNSUBD_H

#include <stddef.h>
#include <stdint.h>

#include "og_buf.h"
#include "og_config.h"
#include "og_store.h"

#define UNSUBD_BODY_MAX 8192  /* request body cap (issue 8) */
#define UNSUBD_FIELDS_MAX 256 /* form fields per body */
#define UNSUBD_UA_MAX 256     /* user agent kept as proof */

/* Routes of the request path. */
enum unsubd_route {
	UNSUBD_R_NOTFOUND = 0,
	UNSUBD_R_HEALTH,  /* /healthz */
	UNSUBD_R_TOKEN,   /* /u/TOKEN */
	UNSUBD_R_PREFS,   /* /u/TOKEN/prefs */
	UNSUBD_R_BADTOKEN /* under /u/, but cannot be a token */
};

/*
 * unsubd_route - classify path (len bytes, already %-decoded by the
 * server).  For TOKEN and PREFS, tok and toklen get the token span inside
 * path: base64url characters only, 1..OG_TOKEN_MAX of them.
 */
int unsubd_route(
    const char *path, size_t len, const char **tok, size_t *toklen);

/* A parsed application/x-www-form-urlencoded body. */
typedef struct unsubd_form {
	char *buf;                           /* decoded copy; owned */
	const char *name[UNSUBD_FIELDS_MAX]; /* point into buf */
	const char *value[UNSUBD_FIELDS_MAX];
	int n;
} unsubd_form;

/*
 * unsubd_form_parse - decode body (len bytes, at most UNSUBD_BODY_MAX).
 * '+' is a space, %HH a byte; a bad escape, a NUL byte or more than
 * UNSUBD_FIELDS_MAX fields is OG_EINVAL; a longer body OG_ETOOBIG.
 * Returns 0; free with unsubd_form_free (also after an error).
 */
int unsubd_form_parse(const char *body, size_t len, unsubd_form *f);
void unsubd_form_free(unsubd_form *f);
/* First value of name, or NULL. */
const char *unsubd_form_get(const unsubd_form *f, const char *name);
/* Whether some field name has exactly this value. */
int unsubd_form_has(const unsubd_form *f, const char *name, const char *value);

/* Page languages. */
enum unsubd_lang { UNSUBD_EN = 0, UNSUBD_PT, UNSUBD_ES, UNSUBD_NLANG };
/* Best language for an Accept-Language value (NULL: English). */
int unsubd_lang_pick(const char *accept);
/* Language of an explicit "?lang=" or form value; -1 when unknown. */
int unsubd_lang_code(const char *s);
/* BCP 47 tag of a language: "en", "pt-BR", "es". */
const char *unsubd_lang_tag(int lang);

/*
 * unsubd_mask - "c*****e@yahoo.com" from an address: first and last
 * character of the local part, always five stars (the length stays
 * hidden), the domain as is.  out gets at most size-1 bytes.
 */
void unsubd_mask(const char *addr, char *out, size_t size);

/*
 * unsubd_ua - a User-Agent header as kept for proof, into out (at most
 * size-1 bytes): as sent when it is UTF-8 (optgate audit shows a quote
 * or an accent so, and escapes controls itself), else its bytes as
 * ISO-8859-1 (RFC 9110's obs-text); cut at a character with "...".
 */
void unsubd_ua(const char *ua, char *out, size_t size);

/* Append s escaped for HTML text and attribute values. */
int unsubd_html(og_buf *b, const char *s);

/*
 * Frequency choices of the preference center: index 0 is "as the sender
 * plans" (no personal cap).  unsubd_cap_choice maps a cap to its index
 * (-1: none of the choices), unsubd_cap_parse a form value to one.
 */
#define UNSUBD_NCAPS 4
extern const og_cap unsubd_caps[UNSUBD_NCAPS];
extern const char *const unsubd_cap_values[UNSUBD_NCAPS];
int unsubd_cap_choice(og_cap cap);
int unsubd_cap_parse(const char *s);

/*
 * unsubd_color_dark - whether white text is readable on a brand colour
 * (og_config_color_ok checks it; og_config_url_ok a logo URL,
 * og_config_base_path reads base_url).
 */
int unsubd_color_dark(const char *s);

/* ---- group commit (unsubd_commit.c) ---- */

typedef struct unsubd_job unsubd_job;
struct unsubd_job {
	og_change *ch; /* changes; owned by the submitter */
	size_t n;
	int *results; /* n results, filled by the committer */
	int rc;       /* og_store_apply's return for this job */
	void (*done)(unsubd_job *job); /* called by the committer thread */
	void *ctx;
	unsubd_job *next;
};

/* Start the committer thread on st.  0 or OG_EIO. */
int unsubd_commit_start(og_store *st);
/*
 * Queue a job.  done() is called from the committer thread after the
 * job's changes are on disk (rc 0) or failed (rc < 0); the job must
 * stay alive until then.
 */
void unsubd_commit_submit(unsubd_job *job);
/* Finish queued jobs, stop the thread, log the statistics. */
void unsubd_commit_stop(void);
/*
 * 1 when a write failed and LMDB stopped the store in this process
 * (og_store_dead; the committer then sent SIGTERM to stop it), with why
 * in why (size n); else 0.
 */
int unsubd_commit_dead(char *why, size_t n);

typedef struct unsubd_commit_stats {
	uint64_t batches, jobs, changes;
	uint64_t apply_ns, apply_max_ns; /* time in og_store_apply */
} unsubd_commit_stats;
void unsubd_commit_stats_get(unsubd_commit_stats *s);

/* ---- limits (unsubd_limit.c) ---- */

/*
 * unsubd_rate_hit - count one request of ip at now (an IPv6 address
 * counts for its /64); 0 when allowed, OG_EBUSY when over limit per
 * minute (limit 0: no limit).
 */
int unsubd_rate_hit(const char *ip, int limit, int64_t now);
void unsubd_rate_reset(void);

/*
 * The absolute deadline: every connection is registered with its socket;
 * a reaper thread shuts down the socket of a request older than the
 * deadline, whatever bytes trickle in.  A request waiting for its commit
 * is held (never cut: its opt-out is being written).
 */
typedef struct unsubd_conn unsubd_conn;
unsubd_conn *unsubd_conn_add(int fd);
void unsubd_conn_del(unsubd_conn *c);
void unsubd_conn_restart(unsubd_conn *c); /* a new request begins */
void unsubd_conn_hold(unsubd_conn *c, int hold);
/*
 * Connections per client: unsubd_conn_client counts c for the client ip
 * (its unit as the rate limit's: an IPv4 address, an IPv6 /64) until
 * unsubd_conn_del.  When that client already has limit connections it
 * returns OG_EBUSY, shuts c's socket down (the server then closes it) and
 * does not count it; limit <= 0: no limit.  unsubd_client_full only asks
 * (for the accept policy, before the server takes the connection on).
 * Both set *first on a client's first refusal in a minute: the one to
 * log.
 */
int unsubd_conn_client(unsubd_conn *c, const char *ip, int limit, int *first);
int unsubd_client_full(const char *ip, int limit, int *first);
int unsubd_reaper_start(int64_t deadline_ms);
void unsubd_reaper_set(int64_t deadline_ms); /* a reloaded [unsubd] timeout */
void unsubd_reaper_stop(void);
uint64_t unsubd_reaper_cut(void); /* connections cut so far */

/* ---- pages (unsubd_page.c) ---- */

/* One stream or partner line of the preference center. */
typedef struct unsubd_pref {
	const og_stream *st; /* stream, or NULL for a partner line */
	const char *partner; /* partner name for a partner line */
	int on;              /* currently receiving */
	int later;           /* receiving now or once temporary opt-outs
	                        and suppressions end (a pause) */
	int64_t resume;      /* off now: when its pause ends by itself (0:
	                        not paused) */
	int resumable;       /* paused by opt-outs only: the row's own
	                        opt-in ends the pause now, as the gate
	                        judges (not a suppression) */
	int cap;             /* unsubd_caps index of the person's cap, -1:
	                        none of them (own, shown as is) */
	og_cap own;          /* the person's cap (limit 0: none) */
} unsubd_pref;

typedef struct unsubd_page {
	int lang;
	const char *token;    /* base64url: safe in paths */
	const char *prefix;   /* unsubd_base_path() of base_url */
	const char *masked;   /* masked address */
	const og_stream *st;  /* the token's stream: branding */
	const char *oneclick; /* what the one-click button leaves; NULL: all */
	unsubd_pref prefs[OG_ENTRIES_MAX + 8];
	int nprefs;
	const char *csrf; /* form protection value */
	int64_t csrf_time;
	uint64_t version; /* the address's newest event when read (form "v") */
	const char *notice; /* message key shown on top, or NULL */
	int notice_error;
} unsubd_page;

/* Message keys. */
enum unsubd_msg {
	M_TITLE,
	M_FOR,
	M_UNSUB_ONE,
	M_PREFS,
	M_PARTNERS,
	M_PARTNER_OFFERS,
	M_FREQ,
	M_FREQ_0,
	M_FREQ_1,
	M_FREQ_2,
	M_FREQ_3,
	M_SAVE,
	M_UNSUB_ALL,
	M_DONE_ONE,
	M_DONE_ALL,
	M_SAVED,
	M_BAD_TITLE,
	M_BAD_TEXT,
	M_EXPIRED,
	M_BUSY,
	M_RATE,
	M_LANG,
	M_OPTIN_NOTE,
	M_NOTFOUND,
	M_TOOBIG,
	M_MANAGE,
	M_RECEIVE,
	M_NOTHING,
	M_ERROR,
	M_PARTLY,
	M_HELD,
	M_CHANGED,
	M_CHANGED_OUT,
	M_FREQ_OWN,
	M_PAUSED,
	M_RESUME,
	M_NMSG
};
const char *unsubd_msg(int lang, int msg);
/* Message msg as plain text, its one "%s" replaced by arg, into out. */
void unsubd_msg_fmt(int lang, int msg, const char *arg, char *out, size_t size);

struct in6_addr;
/*
 * unsubd_in6_text - an IPv6 address as text into buf (INET6_ADDRSTRLEN),
 * one that maps an IPv4 address as that IPv4 address.
 */
void unsubd_in6_text(const struct in6_addr *a, char *buf);
/*
 * unsubd_fwd_addr - one forwarded address, the n bytes at s (an X-Real-IP
 * value or one X-Forwarded-For entry: blanks, a port, brackets allowed)
 * as a peer's address is written, into out (INET6_ADDRSTRLEN): 0; 1 for
 * an empty entry; -1 for no address.
 */
int unsubd_fwd_addr(const char *s, size_t n, char *out);
/* unsubd_listed - whether addr is one of the n addresses of list. */
int unsubd_listed(const char *const *list, int n, const char *addr);
/*
 * unsubd_fwd_client - the client that trusted proxies (the ntrusted
 * addresses of trusted) name in the nxff X-Forwarded-For lines xff, in
 * order, into out (INET6_ADDRSTRLEN): the right-most entry, of the last
 * line first, that is not a trusted proxy (with only those, the
 * left-most).  0, or -1 when there is no entry or that entry is no
 * address.
 */
int unsubd_fwd_client(const char *const *xff, int nxff,
    const char *const *trusted, int ntrusted, char *out);

/* The preference page. */
void unsubd_page_render(og_buf *b, const unsubd_page *p);
/*
 * A short page: title and text (message keys), formatted with arg
 * (NULL: none), branded by st (NULL: neutral), with a link back to the
 * preference page (under prefix) when token is not NULL.
 */
void unsubd_page_short(og_buf *b, int lang, const og_stream *st, int title,
    int text, const char *arg, const char *prefix, const char *token);

#endif
