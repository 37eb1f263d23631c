/*
 * optgate-milter - the per-message gate for Postfix and Sendmail.
 *
 * For every recipient of a message of a configured stream it asks
 * og_gate_decide(); refused recipients are refused at RCPT when the
 * stream is known then (envelope sender, SASL user, client address) and
 * removed at end of message (smfi_delrcpt) otherwise; a message that
 * passes gets the stream's one-click unsubscribe headers (RFC 8058) with
 * the recipient's token, optionally Feedback-ID and a VERP envelope
 * sender; accepted sends are counted at end of message.
 *
 * Structure: main() parses options and sets up; the xxfi_* callbacks are
 * thin: protocol in, og_gate_decide(), protocol out.  Connection state
 * (mg_conn) lives in smfi_setpriv and pins one config snapshot (og_snap:
 * config + keyring, refcounted, immutable) for its whole life; the
 * message state (mg_msg) inside it is reset at eom/abort.
 *
 * Threads: libmilter may run one session's callbacks on different worker
 * threads, so no LMDB read handle outlives a callback (og_store_rbegin and
 * og_store_rend inside each callback).  The store is opened once per
 * process, after the privilege drop; when it cannot be opened the milter
 * still answers (marketing streams tempfail, transactional streams follow
 * on_store_error) and the housekeeping thread retries every few seconds.
 *
 * Signals: libmilter's own signal thread sigwaits on SIGHUP, SIGTERM and
 * SIGINT and stops the milter on SIGHUP.  We link libmilter statically and
 * wrap its sigwait (-Wl,--wrap=sigwait): SIGHUP then reloads the config in
 * that thread (mg_reload) and every other signal goes to libmilter as
 * before.  Its accept, read, poll and close are wrapped too (mg_io.c): an
 * input buffer per MTA connection saves most of the five system calls
 * libmilter spends per packet, and TCP_NODELAY / TCP_QUICKACK keep a
 * loopback TCP connection from the ~40-90 ms per message stall of a
 * plain libmilter milter.
 *
 * Who decides: see mg_policyd_owns() ([milter] policyd = yes) and
 * mg_detect_non_smtpd() (mail from sendmail(1) is never refused at RCPT).
 *
 * LIMITS: MG_RCPT_MAX recipients per message (more are tempfailed with
 * 452 4.5.3; sendmail(1) stream mail with more is refused at end of
 * message); MG_HDR_KEEP_MAX bytes of the headers we keep for matching
 * (further ones are not used for matching, with a warning); tokens and
 * List-Unsubscribe only for a message left with one person (one match
 * key, however many times named); Feedback-ID for any.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "mg_hdr.h"
#include "og_addr.h"
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

#define MG_NAME "optgate-milter"
#define MG_RCPT_MAX 1000
#define MG_HDR_KEEP_MAX (256 * 1024)
#define MG_TOKEN_BUF 600
#define MG_HDR_VALUE_MAX 4096
#define MG_STORE_RETRY 5 /* seconds between attempts to open the store */

#define LU_NAME "List-Unsubscribe"
#define LUP_NAME "List-Unsubscribe-Post"
#define FBID_NAME "Feedback-ID"

/* ---------------------------------------------------------------- */
/* Config snapshots                                                  */

static og_snap_cell snaps = OG_SNAP_CELL_INIT;
static const char *conf_path; /* -c FILE, or NULL */
static int cli_verbose;       /* -v count: a floor for [log] verbose */

/*
 * Load config and keys; the -v of the command line is a floor for the
 * config's verbose, at start and on every reload.  NULL when it fails
 * (logged).
 */
static og_snap *
mg_load(void)
{
	og_snap *s = og_snap_load(conf_path, OG_SNAP_KEYS_IF_LISTS);
	const char *why;
	int i;

	if (s == NULL)
		return NULL;
	if (cli_verbose > s->cfg->verbose)
		s->cfg->verbose = cli_verbose;
	/* A config that loads but loses one-click at Gmail and Yahoo. */
	for (i = 0; i < s->cfg->nstreams; i++)
		if (!og_stream_one_click(&s->cfg->streams[i], &why) &&
		    why != NULL)
			og_log_warn("%s:%d: stream %s: unsubscribe has %s: "
			            "its mail gets no List-Unsubscribe-Post, "
			            "so receivers offer no one-click "
			            "unsubscribe",
			    s->cfg->path, s->cfg->streams[i].unsubscribe_line,
			    s->cfg->streams[i].name, why);
	return s;
}

static int
mg_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void
mg_add(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);

	(void)og_strlcpy(buf + n, s, size - n);
}

/*
 * Settings applied once, at the start (the socket, the user, libmilter's
 * timeout) or when the store opens: a reload that changes them says they
 * wait for a restart rather than ignore them.
 */
static void
mg_reload_restart_note(const og_config *o, const og_config *n)
{
	char what[200] = "";

	if (!mg_same(o->milter_socket, n->milter_socket))
		mg_add(what, sizeof(what), ", [milter] socket");
	if (!mg_same(o->milter_user, n->milter_user))
		mg_add(what, sizeof(what), ", [milter] user");
	if (o->milter_timeout != n->milter_timeout)
		mg_add(what, sizeof(what), ", [milter] timeout");
	if (!mg_same(o->store_path, n->store_path))
		mg_add(what, sizeof(what), ", [store] path");
	if (o->map_size != n->map_size ||
	    o->counter_map_size != n->counter_map_size ||
	    o->max_readers != n->max_readers)
		mg_add(what, sizeof(what),
		    ", [store] map_size, counter_map_size or max_readers");
	if (what[0] != '\0')
		og_log_warn(
		    "reload: %s changed: takes effect at restart", what + 2);
}

/*
 * The one function that applies a reload.  A config that does not load
 * is logged and the old one kept; connections keep the snapshot they
 * pinned until they close.
 */
static og_store *mg_store(void);

static void
mg_reload(void)
{
	og_snap *s, *old;
	og_store *st;
	char err[2048];

	if ((s = mg_load()) == NULL) {
		og_log_err("reload failed: keeping the old configuration");
		return;
	}
	/* keys made with other settings would not find the records */
	if ((st = mg_store()) != NULL &&
	    og_store_address_check(
	        st, s->cfg->address_keys, err, sizeof(err)) != 0) {
		og_log_err("reload: %s; keeping the old configuration", err);
		og_snap_put(s);
		return;
	}
	old = og_snap_get(&snaps);
	mg_reload_restart_note(old->cfg, s->cfg);
	og_snap_keys_log(old, s);
	og_snap_put(old);
	og_log_set_verbose(s->cfg->verbose);
	/* Log while s is still ours alone: once published it may go. */
	og_log_info("configuration reloaded from %s",
	    s->cfg->path ? s->cfg->path : OG_CONFIG_DEFAULT);
	og_snap_set(&snaps, s);
}

/* ---------------------------------------------------------------- */
/* libmilter wrappers (see the header comment)                       */

int __real_sigwait(const sigset_t *set, int *sig);
int __wrap_sigwait(const sigset_t *set, int *sig);

int
__wrap_sigwait(const sigset_t *set, int *sig)
{
	int rc;

	for (;;) {
		rc = __real_sigwait(set, sig);
		if (rc != 0 || *sig != SIGHUP)
			return rc;
		mg_reload();
	}
}

/*
 * The unix socket we listen on, as created (st_dev, st_ino).  At exit
 * libmilter removes whatever socket is at its path; when another
 * optgate-milter has started since (a restart that did not wait for this
 * one to go: it stops up to 5 s after SIGTERM), that is the new daemon's
 * socket, and Postfix then tempfails every message ("connect to Milter
 * service ...: No such file or directory") until it is restarted again.
 */
static const char *sock_path;
static dev_t sock_dev;
static ino_t sock_ino;

int __real_unlink(const char *path);
int __wrap_unlink(const char *path);

int
__wrap_unlink(const char *path)
{
	struct stat sb;

	if (sock_path != NULL && strcmp(path, sock_path) == 0 &&
	    lstat(path, &sb) == 0 &&
	    (sb.st_dev != sock_dev || sb.st_ino != sock_ino)) {
		og_log_info(
		    "%s is another process's socket now: left in place", path);
		return 0;
	}
	return __real_unlink(path);
}

/* mg_sock_remember: note the unix socket libmilter just created */
static void
mg_sock_remember(const char *sock)
{
	struct stat sb;
	const char *path = NULL;

	if (strncmp(sock, "unix:", 5) == 0)
		path = sock + 5;
	else if (strncmp(sock, "local:", 6) == 0)
		path = sock + 6;
	if (path == NULL || lstat(path, &sb) != 0)
		return;
	sock_dev = sb.st_dev;
	sock_ino = sb.st_ino;
	sock_path = path;
}

/* ---------------------------------------------------------------- */
/* The store                                                         */

static og_store *g_store; /* __atomic; NULL while it cannot be opened */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t store_tried;

static og_store *
mg_store(void)
{
	return __atomic_load_n(&g_store, __ATOMIC_ACQUIRE);
}

/* Try to open the store (at most every MG_STORE_RETRY seconds). */
static void
mg_store_try_open(const og_config *cfg, int force)
{
	og_store_opts o;
	og_store *st = NULL;
	char err[2048];
	time_t now;
	int rc;

	/* monotonic: a clock set back must not stop the retries */
	now = (time_t)(og_mono_ms() / 1000);
	pthread_mutex_lock(&store_lock);
	if (mg_store() != NULL ||
	    (!force && now - store_tried < MG_STORE_RETRY)) {
		pthread_mutex_unlock(&store_lock);
		return;
	}
	store_tried = now;
	og_store_opts_config(&o, cfg, 0);
	err[0] = '\0';
	rc = og_store_open(cfg->store_path, &o, &st, err, sizeof(err));
	/* at the start: the config is wrong for this store, say it now */
	if (rc == OG_EADDRESS && force)
		og_log_fatal("cannot start: %s", err);
	if (rc < 0)
		og_log_err("store %s: %s; marketing mail is tempfailed until "
		           "it opens",
		    cfg->store_path, err[0] ? err : og_strerror(rc));
	else {
		__atomic_store_n(&g_store, st, __ATOMIC_RELEASE);
		if (!force)
			og_log_info("store %s opened", cfg->store_path);
	}
	pthread_mutex_unlock(&store_lock);
}

/*
 * This callback's read handle, or NULL (logged) when the store cannot be
 * read now: the gate then gives the store-error verdict.
 */
static const char *mg_logid(SMFICTX *ctx);

static og_rtxn *
mg_rbegin(SMFICTX *ctx)
{
	og_store *store = mg_store();
	og_rtxn *tx = NULL;
	int rc;

	if (store == NULL)
		return NULL;
	if ((rc = og_store_rbegin(store, &tx)) < 0) {
		og_log_warn("%s: cannot read the store: %s", mg_logid(ctx),
		    og_strerror(rc));
		return NULL;
	}
	return tx;
}

/* ---------------------------------------------------------------- */
/* Per-connection and per-message state                              */

enum { MG_R_PENDING = 0, MG_R_ACCEPTED, MG_R_DROP };

typedef struct mg_rcpt {
	char *given; /* argument of RCPT TO exactly as received */
	char *addr;  /* the mailbox it names (mg_envaddr) */
	int state;   /* MG_R_* */
	char key[OG_ADDR_MAX + 1];
	const char *hstream;  /* its send is held in this stream (mg_hold) */
	struct mg_said *said; /* its decision, logged when the message's
	                       * fate is known (mg_log_rcpts) */
} mg_rcpt;

/* A decision kept for its log line (mg_log_rcpt, mg_log_rcpts). */
typedef struct mg_said {
	const og_stream *st;
	int action, refuse;
	char reason[sizeof(((og_verdict *)0)->reason)];
} mg_said;

/* The copies of one header name kept for matching, in message order. */
typedef struct mg_hdr {
	char *name;
	char **value; /* unfolded */
	int n, a;
} mg_hdr;

typedef struct mg_msg {
	char *sender; /* mg_envaddr; "" for the null sender */
	char *sasl;
	mg_rcpt *rcpt;
	int nrcpt, arcpt;
	const og_stream *st_env; /* stream found without headers */
	int st_final;            /* st_env cannot change at end of header */
	const og_stream *st;     /* the message's stream (after eoh) */
	int naccepted_rcpt;      /* accepted at RCPT (list-stream limit) */
	mg_hdr *hdr;             /* headers kept for matching, by name */
	int nhdr, ahdr;
	size_t hdr_bytes;
	int n_lu, n_lup, n_stream_hdr, n_token_hdr, n_fbid;
	int hdr_dropped;
	int overflow; /* recipients past MG_RCPT_MAX (sendmail(1) only) */
} mg_msg;

typedef struct mg_conn {
	og_snap *snap;
	char client_name[256];
	char client_addr[INET6_ADDRSTRLEN + 8];
	int non_smtpd; /* mail from sendmail(1)/pickup: never refuse at RCPT */
	unsigned long nr; /* SMFIP_NR_* negotiated: those events get no reply */
	mg_msg msg;
} mg_conn;

/*
 * Whether a and b name one person: the same match key (<Bob@example.com>
 * and <bob@example.com>), or the same address when one has no key.
 */
static int
mg_same_person(const mg_rcpt *a, const mg_rcpt *b)
{
	if (a->key[0] != '\0' && b->key[0] != '\0')
		return strcmp(a->key, b->key) == 0;
	return strcmp(a->addr, b->addr) == 0;
}

/*
 * The people among the recipients still in the message (not dropped),
 * and in *one the first of them.  Tokens are per person, so a person
 * named twice (Postfix's cleanup drops an exact repeat; <Bob@x> and
 * <bob@x> reach one mailbox) takes one set of headers, like one
 * recipient.  Fills in the match keys not known yet (recipients not
 * decided here: policyd's, or those before the end of message).
 */
static int
mg_people(mg_msg *m, const og_config *cfg, mg_rcpt **one)
{
	og_addr_rules rules = cfg->rules;
	og_addr a;
	int i, j, n = 0;

	rules.skip_typo = 1;
	for (i = 0; i < m->nrcpt; i++) {
		mg_rcpt *r = &m->rcpt[i];

		if (r->state == MG_R_DROP)
			continue;
		if (r->key[0] == '\0' &&
		    og_addr_parse(r->addr, strlen(r->addr), &rules, &a) == 0)
			og_strlcpy(r->key, a.key, sizeof(r->key));
		for (j = 0; j < i; j++)
			if (m->rcpt[j].state != MG_R_DROP &&
			    mg_same_person(&m->rcpt[j], r))
				break;
		if (j < i)
			continue;
		if (n++ == 0 && one != NULL)
			*one = r;
	}
	return n;
}

/* Whether a recipient accepted at RCPT has this match key. */
static int
mg_key_accepted(const mg_msg *m, const char *key)
{
	int i;

	for (i = 0; key[0] != '\0' && i < m->nrcpt; i++)
		if (m->rcpt[i].state == MG_R_ACCEPTED &&
		    strcmp(m->rcpt[i].key, key) == 0)
			return 1;
	return 0;
}

/* Give back r's held send (mg_hold). */
static void
mg_unhold(mg_rcpt *r)
{
	if (r->hstream == NULL)
		return;
	og_gate_hold(r->hstream, r->key, -1);
	r->hstream = NULL;
}

/*
 * After a pass (v) of r in stream st: when sends that other messages hold
 * (passed, not accepted yet) reach a cap, v becomes a deferral; else r's
 * send is held until the message is over (mg_msg_reset, after counting),
 * so messages in parallel cannot all pass a cap.  A recipient given twice
 * holds once.  The stream's name lives in the connection's snapshot,
 * which outlives its messages.
 */
static void
mg_hold(mg_msg *m, mg_rcpt *r, const og_config *cfg, og_rtxn *tx,
    const og_stream *st, int64_t now, og_verdict *v)
{
	int i;

	mg_unhold(r);
	if (v->action != OG_ACCEPT || v->key[0] == '\0')
		return;
	for (i = 0; i < m->nrcpt; i++)
		if (&m->rcpt[i] != r && m->rcpt[i].hstream != NULL &&
		    strcmp(m->rcpt[i].hstream, st->name) == 0 &&
		    strcmp(m->rcpt[i].key, v->key) == 0)
			return;
	/*
	 * Hold first, then look at the others' holds (less our own): two
	 * sessions deciding at once on other threads each see the other's
	 * hold.  Looking first left a moment where both saw none and both
	 * passed the cap.
	 */
	og_strlcpy(r->key, v->key, sizeof(r->key));
	og_gate_hold(st->name, r->key, 1);
	r->hstream = st->name;
	if (og_gate_held_check(cfg, tx, st, m->sender, r->addr, now, 1, v))
		mg_unhold(r);
}

static void mg_log_rcpts(struct mg_conn *c, const char *qid, int fate);

static void
mg_msg_reset(mg_msg *m)
{
	int i, j;

	free(m->sender);
	free(m->sasl);
	for (i = 0; i < m->nrcpt; i++) {
		mg_unhold(&m->rcpt[i]);
		free(m->rcpt[i].given);
		free(m->rcpt[i].addr);
		free(m->rcpt[i].said);
	}
	free(m->rcpt);
	for (i = 0; i < m->nhdr; i++) {
		for (j = 0; j < m->hdr[i].n; j++)
			free(m->hdr[i].value[j]);
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	free(m->hdr);
	memset(m, 0, sizeof(*m));
}

static const char *
mg_macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

static const char *
mg_qid(SMFICTX *ctx)
{
	return mg_macro(ctx, "i");
}

/* The queue id for a log line: NOQUEUE before Postfix assigned one. */
static const char *
mg_logid(SMFICTX *ctx)
{
	const char *q = mg_qid(ctx);

	return q != NULL ? q : "NOQUEUE";
}

/* Which copy of each header mg_header_fn gives (mg_find). */
typedef struct mg_hdr_pass {
	mg_msg *m;
	int nth;
} mg_hdr_pass;

/* The kept copies of a header name, or NULL. */
static mg_hdr *
mg_hdr_get(mg_msg *m, const char *name)
{
	int i;

	for (i = 0; i < m->nhdr; i++)
		if (strcasecmp(m->hdr[i].name, name) == 0)
			return &m->hdr[i];
	return NULL;
}

/* Header lookup for og_config_find_stream: this pass's copy. */
static const char *
mg_header_fn(void *vctx, const char *name)
{
	const mg_hdr_pass *p = vctx;
	const mg_hdr *h;

	if (p == NULL || (h = mg_hdr_get(p->m, name)) == NULL || p->nth >= h->n)
		return NULL;
	return h->value[p->nth];
}

/* Whether any stream's match lines name this header. */
static int
mg_header_wanted(const og_config *cfg, const char *name)
{
	int i, j;

	for (i = 0; i < cfg->nstreams; i++)
		for (j = 0; j < cfg->streams[i].nmatch; j++)
			if (cfg->streams[i].match[j].kind == OG_MATCH_HEADER &&
			    strcasecmp(cfg->streams[i].match[j].name, name) ==
			        0)
				return 1;
	return 0;
}

/*
 * The message's stream: the first in config order with a rule that
 * matches, a header rule matching when any copy of its header does.  Tag
 * headers come once per tag, and an upstream list's List-Id can come
 * before ours: with only the first copy looked at, such a stream's mail
 * went out ungated.  og_config_find_stream sees one copy of each name, so
 * it is asked once per copy (the nth of every name), and the stream
 * earliest in config order of those it names is the one.
 */
static const og_stream *
mg_find(mg_conn *c, int with_headers)
{
	const og_config *cfg = c->snap->cfg;
	const og_stream *st, *best = NULL;
	og_msginfo mi;
	mg_hdr_pass p;
	int i, copies = 1;

	memset(&mi, 0, sizeof(mi));
	mi.sender = c->msg.sender;
	mi.sasl_user = c->msg.sasl;
	mi.client_addr = c->client_addr[0] ? c->client_addr : NULL;
	mi.header = mg_header_fn;
	if (!with_headers)
		return og_config_find_stream(cfg, &mi);
	for (i = 0; i < c->msg.nhdr; i++)
		if (c->msg.hdr[i].n > copies)
			copies = c->msg.hdr[i].n;
	p.m = &c->msg;
	mi.header_ctx = &p;
	for (p.nth = 0; p.nth < copies; p.nth++)
		if ((st = og_config_find_stream(cfg, &mi)) != NULL &&
		    (best == NULL || st < best))
			best = st;
	return best;
}

/*
 * Whether the stream found without headers is final: no stream before it
 * in config order has a header rule that could still match at end of
 * header (og_config_find_stream takes the first match in order).
 */
static int
mg_env_final(const og_config *cfg, const og_stream *st)
{
	int i, j;

	for (i = 0; i < cfg->nstreams && &cfg->streams[i] != st; i++)
		for (j = 0; j < cfg->streams[i].nmatch; j++)
			if (cfg->streams[i].match[j].kind == OG_MATCH_HEADER)
				return 0;
	return 1;
}

/*
 * With [milter] policyd = yes, optgate-policyd decides and counts every
 * recipient of a stream found without headers (it asks the same
 * og_config_find_stream at RCPT and counts at END-OF-MESSAGE) when no
 * header rule comes before that stream (policyd answers DUNNO then, as
 * the stream is not known before the headers); the milter then only adds
 * headers.  A stream that only a header rule finds
 * is decided and counted here.  So each recipient is decided once and
 * counted once, whichever of the two daemons sees it.
 */
static int
mg_policyd_owns(const mg_conn *c, const og_stream *st)
{
	/* sendmail(1)/pickup mail never meets the policy service. */
	return c->snap->cfg->milter_policyd && !c->non_smtpd && st != NULL &&
	       c->msg.st_final && st == c->msg.st_env;
}

/* ---------------------------------------------------------------- */
/* Logging and replies                                               */

static void
mg_log_decision(SMFICTX *ctx, mg_conn *c, const char *rcpt, const og_stream *st,
    const og_verdict *v)
{
	og_buf b;

	og_buf_init(&b, 4096);
	og_gate_logline(&b, mg_qid(ctx), rcpt, c->msg.sender,
	    c->client_name[0] ? c->client_name : NULL,
	    c->client_addr[0] ? c->client_addr : NULL, st, v);
	og_log_info("%s", b.data ? b.data : "");
	og_buf_free(&b);
}

/*
 * Keep the decision v of r, a recipient that stays in the message
 * (accepted, or to remove at end of message), for its log line.  What
 * becomes of r is known only once the message's fate is: an accepted
 * recipient of a message then tempfailed, rejected, discarded or aborted
 * got nothing, and a refused one removed from a message delivered to
 * the others was never told no (mg_log_rcpts).  The line comes then,
 * with the queue id, which Postfix knows only after the first accepted
 * RCPT (smtpd_delay_open_until_valid_rcpt): grepping it finds every
 * recipient.  A refusal at RCPT is logged at once (mg_log_decision), like
 * Postfix's own NOQUEUE reject: it never enters a queue file.
 */
static void
mg_log_rcpt(mg_rcpt *r, const og_stream *st, const og_verdict *v)
{
	if (r->said == NULL)
		r->said = og_xcalloc(1, sizeof(*r->said));
	r->said->st = st;
	r->said->action = v->action;
	r->said->refuse = v->refuse;
	og_strlcpy(r->said->reason, v->reason[0] ? v->reason : v->rule,
	    sizeof(r->said->reason));
}

/*
 * The kept decisions' lines, once the message's fate is known: fate is
 * the milter's answer for the whole message (SMFIS_CONTINUE: it went on
 * with the recipients left in it), or -1 for a transaction aborted
 * before end of message.  A line says what became of its recipient: one
 * that passed in a message tempfailed, rejected or discarded as a whole
 * has the message's action; one refused at end of message and removed
 * from a message that went on to the others, "discard" (the sender was
 * not told).  The reason keeps the recipient's own, and says why when
 * the action is not.  qid NULL: NOQUEUE.
 */
static void
mg_log_rcpts(mg_conn *c, const char *qid, int fate)
{
	mg_msg *m = &c->msg;
	og_verdict v;
	og_buf b;
	int i;

	for (i = 0; i < m->nrcpt; i++) {
		mg_rcpt *r = &m->rcpt[i];
		const char *note = "";

		if (r->said == NULL)
			continue;
		memset(&v, 0, sizeof(v));
		v.action = r->said->action;
		v.refuse = r->said->refuse;
		if (v.action == OG_ACCEPT && fate == -1) {
			note = " (transaction aborted before end of message: "
			       "nothing sent)";
		} else if (v.action == OG_ACCEPT && fate != SMFIS_CONTINUE) {
			note = " (passed; whole message refused)";
			v.action =
			    fate == SMFIS_TEMPFAIL ? OG_TEMPFAIL : OG_REFUSE;
			v.refuse = fate == SMFIS_DISCARD ? OG_REFUSE_DROP
			                                 : OG_REFUSE_REJECT;
		} else if (fate == SMFIS_CONTINUE && r->state == MG_R_DROP &&
		           v.action == OG_REFUSE) {
			note = v.refuse == OG_REFUSE_DROP
			           ? ""
			           : " (removed from the message)";
			v.refuse = OG_REFUSE_DROP;
		}
		/* (a reason cut at its size, as og_gate_decide's are) */
		if (snprintf(v.reason, sizeof(v.reason), "%s%s",
		        r->said->reason, note) < 0)
			v.reason[0] = '\0';
		og_buf_init(&b, 4096);
		og_gate_logline(&b, qid, r->addr, m->sender,
		    c->client_name[0] ? c->client_name : NULL,
		    c->client_addr[0] ? c->client_addr : NULL, r->said->st, &v);
		og_log_info("%s", b.data ? b.data : "");
		og_buf_free(&b);
		free(r->said);
		r->said = NULL;
	}
}

/* One line for a message-level decision that is not one recipient's. */
static void mg_log_msg(SMFICTX *ctx, mg_conn *c, const char *action,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
mg_log_msg(SMFICTX *ctx, mg_conn *c, const char *action, const char *fmt, ...)
{
	og_buf b, r;
	va_list ap;

	og_buf_init(&b, 4096);
	og_buf_init(&r, 1024);
	va_start(ap, fmt);
	(void)og_buf_vprintf(&r, fmt, ap);
	va_end(ap);
	(void)og_buf_printf(&b, "%s: from=<", mg_logid(ctx));
	if (c->msg.sender)
		(void)og_buf_add_escaped(
		    &b, c->msg.sender, strlen(c->msg.sender), 256);
	(void)og_buf_printf(&b, ">, nrcpt=%d, client=", c->msg.nrcpt);
	(void)og_buf_add_escaped(
	    &b, c->client_name, strlen(c->client_name), 128);
	(void)og_buf_addc(&b, '[');
	(void)og_buf_adds(&b, c->client_addr);
	(void)og_buf_printf(&b, "], stream=%s, action=%s, reason=%s",
	    c->msg.st ? c->msg.st->name : "-", action, r.data ? r.data : "");
	og_log_info("%s", b.data);
	og_buf_free(&r);
	og_buf_free(&b);
}

static void
mg_setreply(SMFICTX *ctx, int code, const char *dsn, const char *text)
{
	char codes[8], dsns[16], t[300];

	snprintf(codes, sizeof(codes), "%d", code);
	mg_reply_text(dsns, sizeof(dsns), dsn);
	mg_reply_text(t, sizeof(t), text);
	if (smfi_setreply(ctx, codes, dsns[0] ? dsns : NULL, t) != MI_SUCCESS)
		og_log_warn("%s: smfi_setreply %s %s failed", mg_logid(ctx),
		    codes, dsns);
}

/* The milter answer for a refused or tempfailed verdict at RCPT. */
static sfsistat
mg_refuse_rcpt(SMFICTX *ctx, const og_verdict *v)
{
	int code = v->code;

	if (v->action == OG_TEMPFAIL || v->refuse == OG_REFUSE_DEFER) {
		if (code < 400 || code > 499)
			code = v->action == OG_TEMPFAIL ? 451 : 450;
		mg_setreply(ctx, code, v->dsn[0] ? v->dsn : "4.7.1", v->text);
		return SMFIS_TEMPFAIL;
	}
	if (code < 500 || code > 599)
		code = 550;
	mg_setreply(ctx, code, v->dsn[0] ? v->dsn : "5.7.1", v->text);
	return SMFIS_REJECT;
}

/*
 * Whether this config can refuse a recipient at RCPT: a stream with an
 * envelope rule that no header-rule stream precedes (mg_env_final), and
 * not left to optgate-policyd.  When it cannot, the milter negotiates
 * "no reply" for RCPT and saves the MTA a round trip per recipient.
 */
static int
mg_cfg_rcpt_answers(const og_config *cfg)
{
	int i, j, env, hdr;

	if (cfg->milter_policyd)
		return 0;
	for (i = 0; i < cfg->nstreams; i++) {
		env = hdr = 0;
		for (j = 0; j < cfg->streams[i].nmatch; j++) {
			if (cfg->streams[i].match[j].kind == OG_MATCH_HEADER)
				hdr = 1;
			else
				env = 1;
		}
		if (env)
			return 1;
		if (hdr)
			return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Callbacks                                                         */

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	mg_conn *c;
	unsigned long want =
	    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGFROM;
	/*
	 * No end-of-header event either: the stream is found at end of
	 * message, from the headers kept on the way.
	 */
	unsigned long skip = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
	                     SMFIP_NODATA | SMFIP_NOEOH;
	/*
	 * "No reply" for the events that always continue saves a round trip
	 * each.  Over TCP the MTA then writes small packets back to back;
	 * __wrap_read's TCP_QUICKACK keeps Nagle from holding them.
	 */
	unsigned long noreply =
	    SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH;

	if ((f0 & want) != want) {
		og_log_err("the MTA does not offer the actions optgate needs "
		           "(offered 0x%lx, need 0x%lx)",
		    f0, want);
		return SMFIS_REJECT;
	}
	*pf0 = want;
	*pf1 = (f1 & skip) | (f1 & noreply);
	*pf2 = 0;
	*pf3 = 0;
	/*
	 * Connection state starts here: it must know what needs no reply,
	 * and RCPT needs none when this config never refuses there.
	 */
	c = og_xcalloc(1, sizeof(*c));
	c->snap = og_snap_get(&snaps);
	if (!mg_cfg_rcpt_answers(c->snap->cfg) && (f1 & SMFIP_NR_RCPT)) {
		*pf1 |= SMFIP_NR_RCPT;
		noreply |= SMFIP_NR_RCPT;
	}
	c->nr = *pf1 & noreply;
	smfi_setpriv(ctx, c);
	/* Ask only for the macros used; Postfix then sends no others. */
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		(void)smfi_setsymlist(ctx, SMFIM_CONNECT,
		    "{daemon_name} {client_addr} {client_name} {client_port} "
		    "{daemon_addr} j _");
		(void)smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
		(void)smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		(void)smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/*
 * Mail from sendmail(1)/pickup (Postfix non_smtpd_milters): Postfix's
 * cleanup emulates the SMTP connect with client "localhost", an Internet
 * address 127.0.0.1 and port 0, and sends no {daemon_addr} and no
 * {client_port} of a real connection.  A real SMTP client over TCP always
 * has a port (smtpd sends {client_port}), so port 0 marks the emulated
 * connection.  An smtpd on a UNIX-domain socket also says port 0, but
 * gives no address (SMFIA_UNKNOWN: sa is NULL): that is an SMTP session,
 * whose RCPT can be refused and whose recipients optgate-policyd sees.
 */
static int
mg_detect_non_smtpd(SMFICTX *ctx, const struct sockaddr *sa)
{
	const char *port = mg_macro(ctx, "{client_port}");

	if (sa == NULL ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	if (port != NULL)
		return strcmp(port, "0") == 0;
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_port == 0;
	return ((const struct sockaddr_in6 *)sa)->sin6_port == 0;
}

/*
 * For an event negotiated as "no reply" libmilter wants SMFIS_NOREPLY
 * (it logs an error for anything else, and then sends no reply anyway).
 */
static sfsistat
mg_nr(SMFICTX *ctx, unsigned long bit, sfsistat r)
{
	mg_conn *c = smfi_getpriv(ctx);

	if (r == SMFIS_CONTINUE && c != NULL && (c->nr & bit) != 0)
		return SMFIS_NOREPLY;
	return r;
}

static sfsistat
mg_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	mg_conn *c = smfi_getpriv(ctx);
	const char *a;
	struct in6_addr a6;

	if (c == NULL) /* an MTA that does not negotiate */
		c = og_xcalloc(1, sizeof(*c));
	if (c->snap == NULL)
		c->snap = og_snap_get(&snaps);
	/*
	 * A client without a name comes as "[addr]" (Sendmail's form, which
	 * Postfix copies for milters); log it as Postfix and policyd do,
	 * unknown[addr], not [addr][addr].
	 */
	og_strlcpy(c->client_name,
	    hostname != NULL && hostname[0] != '\0' && hostname[0] != '['
	        ? hostname
	        : "unknown",
	    sizeof(c->client_name));
	if ((a = mg_macro(ctx, "{client_addr}")) != NULL) {
		/*
		 * Sendmail writes an IPv6 client as "IPv6:" and the address
		 * (often uncompressed): client: rules and the log want the
		 * address, as Postfix sends it.
		 */
		if (strncasecmp(a, "IPv6:", 5) == 0 &&
		    inet_pton(AF_INET6, a + 5, &a6) == 1)
			inet_ntop(AF_INET6, &a6, c->client_addr,
			    sizeof(c->client_addr));
		else
			og_strlcpy(c->client_addr, a, sizeof(c->client_addr));
	} else if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    c->client_addr, sizeof(c->client_addr));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    c->client_addr, sizeof(c->client_addr));
	c->non_smtpd = mg_detect_non_smtpd(ctx, sa);
	if (og_log_verbose() > 1)
		og_log_debug("connect %s[%s] %s", c->client_name,
		    c->client_addr, c->non_smtpd ? "non-smtpd" : "smtpd");
	smfi_setpriv(ctx, c);
	if (mg_store() == NULL)
		mg_store_try_open(c->snap->cfg, 0);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	return mg_nr(ctx, SMFIP_NR_CONN, mg_connect(ctx, hostname, sa));
}

/*
 * The mailbox an envelope argument names, as og_addr_envelope reads it:
 * Postfix and Sendmail pass the client's text, e.g.
 * <@relay.example:"promo"@example.com.> for promo@example.com.
 */
static char *
mg_envaddr(const char *arg)
{
	size_t size = 2 * strlen(arg) + 3;
	char *buf = og_xmalloc(size);
	const char *a = og_addr_envelope(arg, buf, size);

	if (a == buf)
		return buf;
	free(buf);
	return og_xstrdup(a);
}

/*
 * Remove a recipient.  Postfix matches the argument against the recipient
 * as smtpd stored it: a trailing dot kept, a source route removed, so
 * <@relay.example:a@example.com> matches only as <a@example.com>.  Both
 * forms name the same mailbox.
 */
static int
mg_delrcpt(SMFICTX *ctx, const mg_rcpt *r)
{
	og_buf b;
	int rc = 0;

	if (smfi_delrcpt(ctx, r->given) != MI_SUCCESS)
		return -1;
	og_buf_init(&b, 1024);
	if (og_buf_printf(&b, "<%s>", r->addr) == 0 &&
	    strcmp(b.data, r->given) != 0 &&
	    smfi_delrcpt(ctx, b.data) != MI_SUCCESS)
		rc = -1;
	og_buf_free(&b);
	return rc;
}

static sfsistat
mg_envfrom(SMFICTX *ctx, char **argv)
{
	mg_conn *c = smfi_getpriv(ctx);
	const char *sasl;

	if (c == NULL || c->snap == NULL)
		return SMFIS_TEMPFAIL;
	mg_log_rcpts(c, NULL, -1); /* a transaction with no abort seen */
	mg_msg_reset(&c->msg);
	c->msg.sender = mg_envaddr(argv[0] ? argv[0] : "");
	if ((sasl = mg_macro(ctx, "{auth_authen}")) != NULL)
		c->msg.sasl = og_xstrdup(sasl);
	c->msg.st_env = mg_find(c, 0);
	c->msg.st_final =
	    c->msg.st_env != NULL && mg_env_final(c->snap->cfg, c->msg.st_env);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	return mg_nr(ctx, SMFIP_NR_MAIL, mg_envfrom(ctx, argv));
}

static sfsistat
mg_envrcpt(SMFICTX *ctx, char **argv)
{
	mg_conn *c = smfi_getpriv(ctx);
	mg_msg *m;
	mg_rcpt *r;
	const og_stream *st;
	og_verdict v;
	og_rtxn *tx = NULL;
	int64_t now;
	char t[200], *addr;

	if (c == NULL || c->snap == NULL || argv[0] == NULL)
		return SMFIS_TEMPFAIL;
	m = &c->msg;
	st = m->st_final ? m->st_env : NULL;
	if (m->nrcpt >= MG_RCPT_MAX) {
		/*
		 * Postfix and Sendmail send the rest in a new transaction.
		 * sendmail(1) mail may not be refused here, nor can we
		 * answer without RCPT replies: stream mail is then refused
		 * at end of message.
		 */
		if (c->non_smtpd || (c->nr & SMFIP_NR_RCPT)) {
			m->overflow = 1;
			return SMFIS_CONTINUE;
		}
		snprintf(t, sizeof(t),
		    "Too many recipients: optgate takes "
		    "at most %d per message",
		    MG_RCPT_MAX);
		memset(&v, 0, sizeof(v));
		v.action = OG_REFUSE;
		v.refuse = OG_REFUSE_DEFER;
		snprintf(v.reason, sizeof(v.reason), "too-many-recipients(%d)",
		    MG_RCPT_MAX);
		addr = mg_envaddr(argv[0]);
		mg_log_decision(ctx, c, addr, st, &v);
		free(addr);
		mg_setreply(ctx, 452, "4.5.3", t);
		return SMFIS_TEMPFAIL;
	}
	if (m->nrcpt == m->arcpt) {
		m->arcpt = m->arcpt ? m->arcpt * 2 : 4;
		m->rcpt = og_xrealloc(m->rcpt, m->arcpt * sizeof(*m->rcpt));
	}
	r = &m->rcpt[m->nrcpt];
	memset(r, 0, sizeof(*r));
	r->given = og_xstrdup(argv[0]);
	r->addr = mg_envaddr(argv[0]);
	r->state = MG_R_PENDING;

	if (st == NULL || c->non_smtpd || mg_policyd_owns(c, st)) {
		m->nrcpt++;
		if (st != NULL)
			m->naccepted_rcpt++;
		return SMFIS_CONTINUE;
	}
	/* Known now: decide now, with the reason, like the policy service. */
	tx = mg_rbegin(ctx);
	now = og_time_now();
	og_gate_decide(c->snap->cfg, tx, st, m->sender, r->addr, now, &v);
	/*
	 * A list stream takes one recipient per transaction (each gets its
	 * own unsubscribe link).  A second one that would pass comes back
	 * in a new transaction; one refused anyway hears why now, and one
	 * to drop is removed at end of message like any other.
	 */
	if (st->list && m->naccepted_rcpt >= 1 && v.action == OG_ACCEPT &&
	    !mg_key_accepted(m, v.key)) {
		if (tx != NULL)
			og_store_rend(tx);
		og_gate_one_rcpt(&v, st);
		snprintf(v.text, sizeof(v.text),
		    "Stream %s takes one recipient per "
		    "message (each gets its own unsubscribe link): send this "
		    "one in a new transaction",
		    st->name);
		mg_log_decision(ctx, c, r->addr, st, &v);
		free(r->given);
		free(r->addr);
		return mg_refuse_rcpt(ctx, &v);
	}
	mg_hold(m, r, c->snap->cfg, tx, st, now, &v);
	if (tx != NULL)
		og_store_rend(tx);
	if (v.action == OG_ACCEPT ||
	    (v.action == OG_REFUSE && v.refuse == OG_REFUSE_DROP))
		mg_log_rcpt(r, st, &v);
	else
		mg_log_decision(ctx, c, r->addr, st, &v);
	if (v.action == OG_ACCEPT) {
		/* The same person again is no second recipient (mg_people). */
		if (!mg_key_accepted(m, v.key))
			m->naccepted_rcpt++;
		r->state = MG_R_ACCEPTED;
		og_strlcpy(r->key, v.key, sizeof(r->key));
		m->nrcpt++;
		return SMFIS_CONTINUE;
	}
	if (v.action == OG_REFUSE && v.refuse == OG_REFUSE_DROP) {
		/* Silently dropped: removed at end of message. */
		r->state = MG_R_DROP;
		m->nrcpt++;
		return SMFIS_CONTINUE;
	}
	free(r->given);
	free(r->addr);
	return mg_refuse_rcpt(ctx, &v);
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	return mg_nr(ctx, SMFIP_NR_RCPT, mg_envrcpt(ctx, argv));
}

static sfsistat
mg_header(SMFICTX *ctx, char *name, char *value)
{
	mg_conn *c = smfi_getpriv(ctx);
	mg_msg *m;
	const og_config *cfg;
	mg_hdr *h;
	og_buf b;
	size_t sz;

	if (c == NULL || c->snap == NULL)
		return SMFIS_CONTINUE;
	m = &c->msg;
	cfg = c->snap->cfg;
	if (strcasecmp(name, LU_NAME) == 0)
		m->n_lu++;
	else if (strcasecmp(name, LUP_NAME) == 0)
		m->n_lup++;
	else if (strcasecmp(name, OG_TOKEN_HEADER) == 0)
		m->n_token_hdr++;
	else if (strcasecmp(name, FBID_NAME) == 0)
		m->n_fbid++;
	if (cfg->milter_stream_header != NULL &&
	    strcasecmp(name, cfg->milter_stream_header) == 0)
		m->n_stream_hdr++;
	if (!mg_header_wanted(cfg, name))
		return SMFIS_CONTINUE;
	sz = strlen(name) + strlen(value) + 2;
	if (m->hdr_bytes + sz > MG_HDR_KEEP_MAX) {
		if (!m->hdr_dropped)
			og_log_warn("%s: headers over %d bytes: %s not used to "
			            "find the stream",
			    mg_logid(ctx), MG_HDR_KEEP_MAX, name);
		m->hdr_dropped = 1;
		return SMFIS_CONTINUE;
	}
	og_buf_init(&b, MG_HDR_KEEP_MAX);
	if (mg_hdr_unfold(&b, value) < 0) {
		og_buf_free(&b);
		return SMFIS_CONTINUE;
	}
	if ((h = mg_hdr_get(m, name)) == NULL) {
		if (m->nhdr == m->ahdr) {
			m->ahdr = m->ahdr ? m->ahdr * 2 : 4;
			m->hdr = og_xrealloc(m->hdr, m->ahdr * sizeof(*m->hdr));
		}
		h = &m->hdr[m->nhdr++];
		memset(h, 0, sizeof(*h));
		h->name = og_xstrdup(name);
	}
	if (h->n == h->a) {
		h->a = h->a ? h->a * 2 : 2;
		h->value = og_xrealloc(h->value, h->a * sizeof(*h->value));
	}
	h->value[h->n++] = b.data ? og_buf_take(&b) : og_xstrdup("");
	m->hdr_bytes += sz;
	og_buf_free(&b);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	return mg_nr(ctx, SMFIP_NR_HDR, mg_header(ctx, name, value));
}

static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	mg_conn *c = smfi_getpriv(ctx);

	if (c != NULL && c->snap != NULL)
		c->msg.st = mg_find(c, 1);
	return mg_nr(ctx, SMFIP_NR_EOH, SMFIS_CONTINUE);
}

/* Remove every copy of a header, from the last index down. */
static int
mg_del_all(SMFICTX *ctx, const char *name, int n)
{
	for (; n > 0; n--)
		if (smfi_chgheader(ctx, (char *)name, n, NULL) != MI_SUCCESS)
			return -1;
	return 0;
}

/* Headers and envelope changes for the one accepted recipient r. */
static int
mg_inject(
    SMFICTX *ctx, mg_conn *c, const og_stream *st, mg_rcpt *r, int64_t now)
{
	mg_msg *m = &c->msg;
	char tok[MG_TOKEN_BUF];
	const char *items[OG_MULTI_MAX];
	og_buf u[OG_MULTI_MAX], h, f;
	int i, n = 0, rc = 0, https_first, one_click = 0;

	/* A token header of the sender's would map complaints wrongly. */
	if (m->n_token_hdr > 0 &&
	    mg_del_all(ctx, OG_TOKEN_HEADER, m->n_token_hdr) < 0)
		return -1;
	if (!st->list)
		return 0;
	tok[0] = '\0';
	if (st->list && c->snap->kr != NULL) {
		rc = og_token_make(c->snap->kr, OG_TOKEN_UNSUB, r->key,
		    st->name, now, tok, sizeof(tok));
		if (rc < 0) {
			og_log_err("%s: token for %s: %s", mg_logid(ctx),
			    r->addr, og_strerror(rc));
			return -1;
		}
	} else if (st->list) {
		og_log_err("%s: stream %s: no token keys loaded", mg_logid(ctx),
		    st->name);
		return -1;
	}

	if (st->nunsubscribe > 0 &&
	    !(m->n_lu > 0 && st->existing == OG_EXISTING_KEEP)) {
		if (mg_del_all(ctx, LU_NAME, m->n_lu) < 0 ||
		    mg_del_all(ctx, LUP_NAME, m->n_lup) < 0)
			return -1;
		/*
		 * HTTPS first, then the others in config order.  One-click
		 * (RFC 8058 3.1) is a POST to the one HTTPS URI of this
		 * header: with none, two, or an http: one beside it,
		 * List-Unsubscribe-Post is not allowed (receivers then
		 * offer no one-click; config check and the start say why).
		 */
		one_click = og_stream_one_click(st, NULL);
		for (https_first = 1; https_first >= 0; https_first--)
			for (i = 0; i < st->nunsubscribe; i++) {
				int is_https = strncasecmp(st->unsubscribe[i],
				                   "https:", 6) == 0;
				if (is_https != https_first)
					continue;
				og_buf_init(&u[n], 2048);
				(void)og_buf_addc(&u[n], '<');
				(void)og_buf_subst(
				    &u[n], st->unsubscribe[i], tok, st->name);
				(void)og_buf_addc(&u[n], '>');
				items[n] = u[n].data;
				n++;
			}
		og_buf_init(&h, 8192);
		rc = mg_hdr_fold_list(&h, LU_NAME, items, (size_t)n);
		for (i = 0; i < n; i++)
			og_buf_free(&u[i]);
		if (rc == 0 &&
		    smfi_addheader(ctx, LU_NAME, h.data) != MI_SUCCESS)
			rc = -1;
		og_buf_free(&h);
		if (rc == 0 && one_click &&
		    smfi_addheader(ctx, LUP_NAME,
		        "List-Unsubscribe=One-Click") != MI_SUCCESS)
			rc = -1;
		if (rc < 0)
			return -1;
	}
	if (tok[0] != '\0' &&
	    smfi_addheader(ctx, OG_TOKEN_HEADER, tok) != MI_SUCCESS)
		return -1;
	if (st->verp_address != NULL && m->sender[0] != '\0') {
		og_buf_init(&f, 1024);
		(void)og_buf_addc(&f, '<');
		(void)og_buf_subst(&f, st->verp_address, tok, st->name);
		(void)og_buf_addc(&f, '>');
		if (smfi_chgfrom(ctx, f.data, NULL) != MI_SUCCESS)
			rc = -1;
		og_buf_free(&f);
	}
	return rc;
}

/*
 * Feedback-ID: a:b:c:SenderId (Gmail's FBL form) names the stream, not a
 * recipient, so every passing message of the stream gets it, whatever
 * its number of recipients; a sender's own is kept.  The stream's
 * template (%s: stream name) gives the first fields, [milter]
 * feedback_id_sender the last.
 */
static int
mg_feedback_id(SMFICTX *ctx, const mg_conn *c, const og_stream *st)
{
	const og_config *cfg = c->snap->cfg;
	og_buf f;
	int rc = 0;

	if (st->feedback_id == NULL || c->msg.n_fbid > 0)
		return 0;
	og_buf_init(&f, 1024);
	(void)og_buf_subst(&f, st->feedback_id, "", st->name);
	if (cfg->feedback_id_sender != NULL)
		(void)og_buf_printf(&f, ":%s", cfg->feedback_id_sender);
	if (smfi_addheader(ctx, FBID_NAME, f.data) != MI_SUCCESS)
		rc = -1;
	og_buf_free(&f);
	return rc;
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	mg_conn *c = smfi_getpriv(ctx);
	const og_config *cfg;
	const og_stream *st;
	mg_msg *m;
	og_verdict v, first_refusal, first_tempfail;
	og_rtxn *tx = NULL;
	og_store *store;
	int64_t now = og_time_now();
	int i, nleft = 0, nlive = 0, tempfail = 0, decide, have_refusal = 0;
	const char **keys = NULL;
	size_t nkeys = 0;
	mg_rcpt *last = NULL;
	char t[300], why[512];
	sfsistat ret = SMFIS_CONTINUE;

	if (c == NULL || c->snap == NULL)
		return SMFIS_TEMPFAIL;
	why[0] = '\0';
	memset(&first_refusal, 0, sizeof(first_refusal));
	memset(&first_tempfail, 0, sizeof(first_tempfail));
	cfg = c->snap->cfg;
	m = &c->msg;
	/* (SMFIP_NOEOH: an MTA that still sends end of header found it.) */
	if (m->st == NULL)
		m->st = mg_find(c, 1);
	st = m->st;

	if (m->n_stream_hdr > 0 &&
	    mg_del_all(ctx, cfg->milter_stream_header, m->n_stream_hdr) < 0) {
		snprintf(why, sizeof(why), "cannot remove the %s header",
		    cfg->milter_stream_header);
		goto tempfail;
	}
	if (st == NULL) {
		/* Not a stream of ours: a token header would lie. */
		if (m->n_token_hdr > 0 &&
		    mg_del_all(ctx, OG_TOKEN_HEADER, m->n_token_hdr) < 0) {
			snprintf(why, sizeof(why),
			    "cannot remove the " OG_TOKEN_HEADER " header");
			goto tempfail;
		}
		goto out;
	}
	if (m->overflow) {
		/* Recipients we never saw must not go out unchecked. */
		snprintf(t, sizeof(t),
		    "Too many recipients: optgate takes at most %d per "
		    "message of stream %s",
		    MG_RCPT_MAX, st->name);
		mg_setreply(ctx, 550, "5.5.3", t);
		snprintf(why, sizeof(why), "over %d recipients", MG_RCPT_MAX);
		ret = SMFIS_REJECT;
		goto out;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state != MG_R_DROP)
			nlive++;
	if (st->list && nlive > 1 && (nlive = mg_people(m, cfg, NULL)) > 1) {
		snprintf(t, sizeof(t),
		    "Stream %s takes one recipient per "
		    "message (each gets its own unsubscribe link); this one "
		    "has %d: send one message per recipient",
		    st->name, nlive);
		mg_setreply(ctx, 550, "5.5.3", t);
		snprintf(
		    why, sizeof(why), "list stream with %d recipients", nlive);
		ret = SMFIS_REJECT;
		goto out;
	}

	/* Decide what was not decided at RCPT. */
	decide = !mg_policyd_owns(c, st);
	if (decide && st != m->st_env) {
		/* A header rule chose another stream than RCPT assumed. */
		for (i = 0; i < m->nrcpt; i++)
			if (m->rcpt[i].state == MG_R_ACCEPTED)
				m->rcpt[i].state = MG_R_PENDING;
	}
	if (decide) {
		tx = mg_rbegin(ctx);
		for (i = 0; i < m->nrcpt; i++) {
			mg_rcpt *r = &m->rcpt[i];

			if (r->state != MG_R_PENDING)
				continue;
			og_gate_decide(
			    cfg, tx, st, m->sender, r->addr, now, &v);
			og_strlcpy(r->key, v.key, sizeof(r->key));
			mg_hold(m, r, cfg, tx, st, now, &v);
			if (v.action == OG_ACCEPT) {
				r->state = MG_R_ACCEPTED;
			} else if (v.action == OG_TEMPFAIL ||
			           v.refuse == OG_REFUSE_DEFER) {
				/*
				 * No per-recipient tempfail at end of data.
				 * The reply is this verdict's (a 4xx code
				 * with a 4.x.x status), not that of an
				 * earlier rejected recipient.
				 */
				if (!tempfail) {
					first_tempfail = v;
					snprintf(why, sizeof(why), "<%s>: %s",
					    r->addr,
					    v.reason[0] ? v.reason : v.rule);
				}
				tempfail = 1;
				r->state = MG_R_DROP;
			} else {
				if (!have_refusal)
					first_refusal = v;
				have_refusal = 1;
				r->state = MG_R_DROP;
			}
			mg_log_rcpt(r, st, &v);
		}
		if (tx != NULL)
			og_store_rend(tx);
	}
	if (tempfail) {
		mg_setreply(ctx,
		    first_tempfail.code >= 400 && first_tempfail.code < 500
		        ? first_tempfail.code
		        : 451,
		    first_tempfail.dsn[0] == '4' ? first_tempfail.dsn : "4.3.0",
		    first_tempfail.text);
		ret = SMFIS_TEMPFAIL;
		goto out;
	}

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state != MG_R_DROP) {
			nleft++;
			last = &m->rcpt[i];
		}
	if (nleft == 0) {
		/* Every recipient refused: the stream's refuse action. */
		snprintf(why, sizeof(why), "every recipient refused");
		if (!have_refusal || st->refuse == OG_REFUSE_DROP) {
			ret = SMFIS_DISCARD;
		} else {
			mg_setreply(ctx,
			    first_refusal.code >= 500 &&
			            first_refusal.code < 600
			        ? first_refusal.code
			        : 550,
			    first_refusal.dsn[0] ? first_refusal.dsn : "5.7.1",
			    first_refusal.text);
			ret = SMFIS_REJECT;
		}
		goto out;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == MG_R_DROP &&
		    mg_delrcpt(ctx, &m->rcpt[i]) < 0) {
			og_log_err("%s: smfi_delrcpt %s failed", mg_logid(ctx),
			    m->rcpt[i].addr);
			snprintf(why, sizeof(why),
			    "cannot remove refused recipient <%s>",
			    m->rcpt[i].addr);
			goto tempfail;
		}
	/* One person left (a list stream has no more by now): headers. */
	if (nleft == 1 || st->list) {
		(void)mg_people(m, cfg, &last);
		if (last->key[0] != '\0' &&
		    mg_inject(ctx, c, st, last, now) < 0) {
			snprintf(why, sizeof(why),
			    "cannot add the unsubscribe headers");
			goto tempfail;
		}
	} else if (m->n_token_hdr > 0) {
		if (mg_del_all(ctx, OG_TOKEN_HEADER, m->n_token_hdr) < 0) {
			snprintf(why, sizeof(why),
			    "cannot remove the " OG_TOKEN_HEADER " header");
			goto tempfail;
		}
	}
	if (mg_feedback_id(ctx, c, st) < 0) {
		snprintf(why, sizeof(why), "cannot add the Feedback-ID header");
		goto tempfail;
	}

	/* Count once per accepted recipient (see mg_policyd_owns). */
	if (decide && (store = mg_store()) != NULL) {
		keys = og_xcalloc((size_t)nleft, sizeof(*keys));
		for (i = 0; i < m->nrcpt; i++) {
			size_t k;

			if (m->rcpt[i].state == MG_R_DROP ||
			    m->rcpt[i].key[0] == '\0')
				continue;
			/* A repeated recipient is delivered once (Postfix's
			 * cleanup, sendmail's queue): counted once. */
			for (k = 0; k < nkeys; k++)
				if (strcmp(keys[k], m->rcpt[i].key) == 0)
					break;
			if (k == nkeys)
				keys[nkeys++] = m->rcpt[i].key;
		}
		if (nkeys > 0 &&
		    (i = og_gate_count(store, st, keys, nkeys, now)) < 0)
			og_log_warn("%s: counting sends: %s", mg_logid(ctx),
			    og_strerror(i));
		free(keys);
	}
	goto out;

tempfail:
	mg_setreply(ctx, 451, "4.3.0", "optgate: temporary failure, try again");
	ret = SMFIS_TEMPFAIL;
out:
	/* Each recipient's line, then the message's when it went no further. */
	mg_log_rcpts(c, mg_qid(ctx), ret);
	if (ret != SMFIS_CONTINUE)
		mg_log_msg(ctx, c,
		    ret == SMFIS_TEMPFAIL  ? "tempfail"
		    : ret == SMFIS_DISCARD ? "discard"
		                           : "reject",
		    "%s", why[0] ? why : "-");
	mg_msg_reset(m);
	return ret;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	mg_conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		mg_log_rcpts(c, mg_qid(ctx), -1);
		mg_msg_reset(&c->msg);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	mg_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	smfi_setpriv(ctx, NULL);
	mg_log_rcpts(c, NULL, -1);
	mg_msg_reset(&c->msg);
	og_snap_put(c->snap);
	free(c);
	return SMFIS_CONTINUE;
}

static struct smfiDesc mg_desc = {
    MG_NAME,
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGFROM,
    mlfi_connect,
    NULL, /* helo */
    mlfi_envfrom,
    mlfi_envrcpt,
    mlfi_header,
    mlfi_eoh,
    NULL, /* body */
    mlfi_eom,
    mlfi_abort,
    mlfi_close,
    NULL, /* unknown */
    NULL, /* data */
    mlfi_negotiate,
};

/* ---------------------------------------------------------------- */
/* Housekeeping: counter sync, stale readers, store retries          */

static volatile sig_atomic_t hk_stop;
static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond; /* on the monotonic clock (main) */

/*
 * Timed on the monotonic clock: on the wall clock, a clock set back an
 * hour (an NTP step, date -s) stopped the counter flushes, and the
 * following of replaced counters, for that hour.
 */
static void *
mg_housekeeping(void *arg)
{
	struct timespec ts;
	og_snap *s;
	og_store *st;
	int64_t sync_every;
	int rc;
	time_t last_sync, last_check, now;

	last_sync = last_check = (time_t)(og_mono_ms() / 1000);
	pthread_mutex_lock(&hk_lock);
	while (!hk_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&hk_cond, &hk_lock, &ts);
		if (hk_stop)
			break;
		pthread_mutex_unlock(&hk_lock);
		s = og_snap_get(&snaps);
		now = (time_t)(og_mono_ms() / 1000);
		sync_every =
		    s->cfg->counter_sync > 0 ? s->cfg->counter_sync : 1;
		if ((st = mg_store()) == NULL) {
			mg_store_try_open(s->cfg, 0);
		} else {
			/* LMDB stopped it after a failed write: restart */
			og_store_exit_if_dead(st);
			if (now - last_sync >= sync_every) {
				/* counts lost if the disk loses them: say so */
				if ((rc = og_store_sync_counters(st)) != 0)
					og_log_warn("syncing counters: %s",
					    og_strerror(rc));
				/* counters or consent replaced under us */
				og_store_follow(st);
				last_sync = now;
			}
			if (now - last_check >= 60) {
				(void)og_store_reader_check(st);
				last_check = now;
			}
		}
		og_snap_put(s);
		pthread_mutex_lock(&hk_lock);
	}
	pthread_mutex_unlock(&hk_lock);
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Setup                                                             */

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-f] [-v] [-c FILE]\n", MG_NAME);
	exit(2);
}

/* Drop root for the configured user, after the socket exists. */
static void
mg_drop_privileges(const char *user, const char *sock)
{
	struct passwd *pw;
	char err[256];

	/* The socket becomes the user's, so it can remove it at exit. */
	if (geteuid() == 0 && user != NULL && *user != '\0' &&
	    (pw = getpwnam(user)) != NULL) {
		const char *path = NULL;
		int rc;

		if (sock != NULL && strncmp(sock, "unix:", 5) == 0)
			path = sock + 5;
		else if (sock != NULL && strncmp(sock, "local:", 6) == 0)
			path = sock + 6;
		/* never through a link the user put in its folder */
		if (path != NULL && (rc = og_priv_chown_socket(
		                         path, pw->pw_uid, pw->pw_gid)) != 0)
			og_log_fatal("chown %s: %s", path,
			    rc == OG_EINVAL ? "not our socket any more (a link "
			                      "or another file in its place)"
			                    : strerror(errno));
	}
	if (og_priv_drop("milter", user, err, sizeof(err)) != 0)
		og_log_fatal("%s", err);
}

int
main(int argc, char **argv)
{
	int ch, fg = 0, rc;
	og_snap *s;
	pthread_t hk;
	sigset_t set;
	char *sock;
	og_store *st;

	while ((ch = getopt(argc, argv, "c:fvV")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'v':
			cli_verbose++;
			break;
		case 'V':
			printf("%s 0.1\n", MG_NAME);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* SIGHUP re-reads it after daemon() went to "/". */
	conf_path = og_config_abspath(conf_path);
	og_log_open(MG_NAME, fg ? OG_LOG_STDERR : 0);
	og_log_sigbus(OG_STORE_SIGBUS_MSG);

	if ((s = mg_load()) == NULL)
		og_log_fatal("cannot start without a valid configuration");
	og_log_set_verbose(s->cfg->verbose);
	og_snap_set(&snaps, s);

	sock = og_xstrdup(s->cfg->milter_socket);
	if (smfi_setconn(sock) != MI_SUCCESS)
		og_log_fatal("[milter] socket: cannot use %s", sock);
	if (s->cfg->milter_timeout > 0)
		smfi_settimeout((int)s->cfg->milter_timeout);
	if (smfi_register(mg_desc) != MI_SUCCESS)
		og_log_fatal("smfi_register failed");
	/* The MTA (postfix or its group) connects to the unix socket. */
	umask(0117);
	if (smfi_opensocket(true) != MI_SUCCESS)
		og_log_fatal("cannot listen on %s: %s", sock, strerror(errno));
	umask(0077);
	mg_sock_remember(sock);
	mg_drop_privileges(s->cfg->milter_user, sock);
	if (!fg && daemon(0, 0) < 0)
		og_log_fatal("daemon: %s", strerror(errno));

	/* After the fork: one store environment per process. */
	mg_store_try_open(s->cfg, 1);

	/* Threads we start must leave these signals to libmilter. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = og_cond_init_monotonic(&hk_cond)) != 0)
		og_log_fatal("pthread_cond_init: %s", strerror(rc));
	if ((rc = pthread_create(&hk, NULL, mg_housekeeping, NULL)) != 0)
		og_log_fatal("pthread_create: %s", strerror(rc));

	og_log_info("listening on %s", sock);
	rc = smfi_main();

	pthread_mutex_lock(&hk_lock);
	hk_stop = 1;
	pthread_cond_signal(&hk_cond);
	pthread_mutex_unlock(&hk_lock);
	pthread_join(hk, NULL);
	/*
	 * smfi_main does not wait for the sessions' threads: one may still
	 * be counting.  Flush the counters, but leave the store open (the
	 * exit releases it); closing it under a session would crash that
	 * session at the last moment.
	 */
	if ((st = mg_store()) != NULL)
		(void)og_store_sync_counters(st);
	og_snap_set(&snaps, NULL);
	og_log_info("stopped");
	free(sock);
	return rc == MI_SUCCESS ? 0 : 1;
}
