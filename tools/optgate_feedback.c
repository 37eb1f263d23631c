/*
 * optgate_feedback.c - what comes back: `optgate bounce`, `optgate fbl`,
 * `optgate unsub-mail` (Postfix pipe transports or files / a Maildir) and
 * `optgate quarantine list|retry`.
 *
 * Each message is parsed by og_report, its recipient found (our token
 * first: the VERP address it came to, our header or List-Unsubscribe in
 * the returned original; then the report's own fields; then the body),
 * and the result applied to the store as one durable change:
 *   hard bounce  suppression, scope [feedback] hard_bounce_scope;
 *   soft bounce  counted, once per report (Postfix's retry after exit
 *                75 and a duplicate delivery are not counted again);
 *                [feedback] soft_bounce within its period gives a
 *                temporary suppression of soft_bounce_suppress;
 *   complaint    suppression, scope [feedback] complaint_scope, once per
 *                report (a report id already in the address's history is
 *                a duplicate);
 *   unsubscribe  opt-out, scope [unsubd] scope, proof From + Message-ID,
 *                judged and dated as of the mail's arrival (arrival()).
 * A bounce without our token is acted on only when [feedback]
 * bounce_token allows it (auto: not when a stream has verp).
 * What cannot be used is kept in [feedback] quarantine with the reason.
 *
 * Exit codes follow Postfix pipe(8): 0 when recorded, ignored or
 * quarantined; 75 (EX_TEMPFAIL) when the store cannot be opened or
 * written, the keys file is there but cannot be read, the quarantine
 * cannot be written, or the configuration or the command line (master.cf's
 * argv) cannot be used, so Postfix keeps the message and retries.  A
 * processor of bounces never bounces: pipe(8) bounces on any other
 * non-zero exit.
 *
 * Every decision is one log line:
 *   optgate: bounce: to=<a> class=hard status=5.1.1 action=suppressed
 *   scope=all reason=user-unknown report=<id>
 *
 * LIMITS: one message at most OG_REPORT_INPUT_MAX bytes (larger ones are
 * quarantined unread past the cap); quarantine file names are generated,
 * never taken from input.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "og_addr.h"
#include "og_err.h"
#include "og_log.h"
#include "og_report.h"
#include "og_time.h"
#include "optgate.h"

enum mode { M_BOUNCE, M_FBL, M_UNSUB };

static const char *const mode_names[] = {"bounce", "fbl", "unsub-mail"};

/* What happened to one message. */
enum outcome {
	O_DONE = 0,       /* recorded, ignored or duplicate */
	O_QUARANTINE = 1, /* keep for a human */
	O_TEMPFAIL = 2    /* store trouble: retry later */
};

typedef struct fb_opts {
	int mode;
	int dry_run;
	const char *rcpt; /* envelope recipient (pipe ${original_recipient}) */
	const char *client;     /* client hostname or address (FBL trust) */
	const char *queue_id;   /* Postfix ${queue_id}, for the log line */
	const char *retry_file; /* set by quarantine retry: do not re-save */
	int64_t upto; /* the latest it can have arrived: when a retried entry
	               * was quarantined; 0: now */
} fb_opts;

typedef struct fb_result {
	char why[1024]; /* quarantine reason or log detail */
	char action[32];
	char addr[OG_ADDR_MAX + 1];
} fb_result;

/* ---------- reading input ---------- */

/*
 * Read all of fd, at most cap + 1 bytes (so "too big" is seen).  Returns
 * 0 or OG_EIO.
 */
static int
read_all(int fd, og_buf *b, size_t cap)
{
	char tmp[65536];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return OG_EIO;
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > cap + 1)
			n = (ssize_t)(cap + 1 - b->len);
		if (og_buf_add(b, tmp, (size_t)n) != 0)
			return OG_EIO;
		if (b->len > cap)
			return 0;
	}
}

static int
read_file(const char *path, og_buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return OG_EIO;
	rc = read_all(fd, b, OG_REPORT_INPUT_MAX);
	close(fd);
	return rc;
}

/* ---------- quarantine ---------- */

/*
 * Give a quarantine folder or file root made to the store's owner: the
 * pipe transports run as that user (README: it owns the store and the
 * quarantine), and one root-owned quarantine made by an admin's
 * "optgate bounce FILE" would turn every later report that needs it
 * into a temporary failure, until Postfix gives up on it.
 */
static void
give_to_store_owner(og_cli *cli, const char *path)
{
	struct stat sb;

	if (geteuid() != 0 || stat(cli->cfg->store_path, &sb) != 0 ||
	    sb.st_uid == 0)
		return;
	/* never through a link the store's owner put in its place */
	(void)og_store_give(path, sb.st_uid, sb.st_gid);
}

/* mkdir -p; each folder made is synced into its parent.  0 or -1. */
static int
mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t n, i;

	if (og_strlcpy(tmp, dir, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	for (i = 1; i <= n; i++) {
		if (i < n && tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0750) != 0) {
			if (errno != EEXIST)
				return -1;
		} else if (og_sync_parent(tmp) != 0) {
			return -1;
		}
		if (i < n)
			tmp[i] = '/';
	}
	return 0;
}

static int
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

/*
 * The NAME.reason text: "mode: ...\nreason: ...\n", then the envelope
 * recipient, the client and Postfix's queue id when known, for a retry
 * (whose log line then names the queue id the report came with).
 */
static void
reason_text(og_buf *r, int mode, const char *reason, const fb_opts *o)
{
	og_buf_printf(r, "mode: %s\nreason: ", mode_names[mode]);
	og_buf_add_escaped(r, reason, strlen(reason), 200);
	og_buf_adds(r, "\n");
	if (o->rcpt != NULL && o->rcpt[0] != '\0') {
		og_buf_adds(r, "rcpt: ");
		og_buf_add_escaped(r, o->rcpt, strlen(o->rcpt), 320);
		og_buf_adds(r, "\n");
	}
	/* A reporter trusted by its SMTP client stays trusted on retry. */
	if (o->client != NULL && o->client[0] != '\0') {
		og_buf_adds(r, "client: ");
		og_buf_add_escaped(r, o->client, strlen(o->client), 255);
		og_buf_adds(r, "\n");
	}
	if (o->queue_id != NULL && o->queue_id[0] != '\0') {
		og_buf_adds(r, "queue_id: ");
		og_buf_add_escaped(r, o->queue_id, strlen(o->queue_id), 32);
		og_buf_adds(r, "\n");
	}
}

/*
 * Write NAME.reason (reason_text) in the quarantine folder through a
 * temporary file renamed into place, so that it is whole, old or new.
 * Returns 0 or -1 (errno kept).
 */
static int
reason_save(og_cli *cli, int mode, const char *name, const char *reason,
    const fb_opts *o)
{
	char tmp[PATH_MAX], rs[PATH_MAX];
	const char *dir = cli->cfg->quarantine;
	og_buf r;
	int rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.reason", dir,
	        name) >= sizeof(tmp) ||
	    (size_t)snprintf(rs, sizeof(rs), "%s/%s.reason", dir, name) >=
	        sizeof(rs)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	og_buf_init(&r, 0);
	reason_text(&r, mode, reason, o);
	(void)unlink(tmp);
	if (write_file(tmp, r.data, r.len) == 0) {
		give_to_store_owner(cli, tmp);
		rc = rename(tmp, rs);
		if (rc != 0)
			unlink(tmp);
	}
	og_buf_free(&r);
	return rc;
}

/*
 * Keep the message in the quarantine folder: NAME (the message, as
 * received) and NAME.reason (reason_save).  The message is written first
 * and renamed into place last, so a listed entry is always complete.
 * Returns 0 or -1 (errno kept).
 */
static int
quarantine_save(og_cli *cli, int mode, const char *data, size_t len,
    const char *reason, const fb_opts *o, char *name, size_t namesize)
{
	static unsigned seq;
	char tmp[PATH_MAX], fin[PATH_MAX], rs[PATH_MAX];
	const char *dir = cli->cfg->quarantine;
	struct timespec ts;
	int rc;

	if (access(dir, F_OK) != 0) {
		if (mkdir_p(dir) != 0)
			return -1;
		give_to_store_owner(cli, dir);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, namesize, "%lld.%09ld.%ld_%u.%s", (long long)ts.tv_sec,
	    ts.tv_nsec, (long)getpid(), seq++, mode_names[mode]);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp.%s", dir, name) >=
	        sizeof(tmp) ||
	    (size_t)snprintf(fin, sizeof(fin), "%s/%s", dir, name) >=
	        sizeof(fin) ||
	    (size_t)snprintf(rs, sizeof(rs), "%s/%s.reason", dir, name) >=
	        sizeof(rs)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	rc = write_file(tmp, data, len);
	if (rc == 0)
		give_to_store_owner(cli, tmp);
	if (rc == 0 && reason_save(cli, mode, name, reason, o) != 0) {
		unlink(tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, fin) != 0) {
		unlink(tmp);
		unlink(rs);
		rc = -1;
	}
	/*
	 * Exit 0 lets Postfix delete its copy: the names must be on disk
	 * first, or a power cut loses the report the data of which was
	 * synced.  A failure here is a retry (75), at worst a second entry.
	 */
	if (rc == 0 && og_sync_path(dir) != 0)
		rc = -1;
	return rc;
}

/* ---------- resolving the recipient ---------- */

/* Is this address one we know: a record, or sends in any stream? */
static int
known_address(og_cli *cli, const char *key, int *err)
{
	og_rtxn *tx;
	og_record *rec;
	int rc, found = 0;

	*err = 0;
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0) {
		*err = rc;
		return 0;
	}
	rec = og_xmalloc(sizeof(*rec));
	rc = og_store_get(tx, key, rec);
	if (rc == 0)
		found = 1;
	else if (rc != OG_NOTFOUND)
		*err = rc;
	for (int i = 0; !found && *err == 0 && i < cli->cfg->nstreams; i++) {
		int64_t t[1];
		int n = 0;

		if (og_store_get_sends(
		        tx, key, cli->cfg->streams[i].name, t, 1, &n) == 0 &&
		    n > 0)
			found = 1;
	}
	og_store_rend(tx);
	free(rec);
	return found;
}

struct hdrctx {
	const og_report *r;
	char buf[1024];
};

static const char *
orig_hdr(void *ctx, const char *name)
{
	struct hdrctx *h = ctx;

	return og_report_orig_header(h->r, name, h->buf, sizeof(h->buf));
}

/*
 * The stream of the returned original, when it is mail of ours: the
 * configured stream rules applied to its headers and envelope sender
 * (its Return-Path, the complaint's Original-Mail-From, or the address
 * the report was sent to).  NULL when it is nobody's we know.
 */
static const og_stream *
original_stream(og_cli *cli, const og_report *r)
{
	struct hdrctx h;
	og_msginfo mi;

	if (r->orig_headers[0] == '\0' && r->orig_return_path[0] == '\0' &&
	    r->orig_mail_from[0] == '\0')
		return NULL;
	memset(&mi, 0, sizeof(mi));
	h.r = r;
	mi.sender = r->orig_return_path[0] ? r->orig_return_path
	            : r->orig_mail_from[0] ? r->orig_mail_from
	                                   : r->to;
	mi.header = orig_hdr;
	mi.header_ctx = &h;
	return og_config_find_stream(cli->cfg, &mi);
}

typedef struct who {
	og_addr addr; /* parsed recipient (when from an address) */
	char key[OG_ADDR_MAX + 1];
	char display[OG_ADDR_MAX + 1];
	const og_stream *stream; /* from the token, or NULL */
	int64_t issued;          /* the token's issue day */
	int by_token;
} who;

/*
 * Try the candidate tokens; the first that verifies names the person.
 * purpose: OG_TOKEN_UNSUB (every token we put in mail is one).
 */
static int
who_by_token(og_cli *cli, const og_report *r, who *w)
{
	if (cli->keys == NULL)
		return 0;
	for (int i = 0; i < r->ntokens; i++) {
		og_token_info ti;

		if (og_token_open(cli->keys, r->tokens[i], strlen(r->tokens[i]),
		        &ti) != 0)
			continue;
		if (ti.purpose != OG_TOKEN_UNSUB)
			continue;
		og_strlcpy(w->key, ti.key, sizeof(w->key));
		og_strlcpy(w->display, ti.key, sizeof(w->display));
		w->stream = og_config_stream_by_id(cli->cfg, ti.stream_id);
		w->issued = ti.issued;
		w->by_token = 1;
		return 1;
	}
	return 0;
}

/*
 * Why none of r's tokens verified, when one was signed with a key the
 * keys file does not have (retired, or not on this host yet): said in
 * the quarantine reason, since "forged" or "bad token" sends the admin
 * looking the wrong way and the entry retries once the key is back.
 * "" when no token is of an unknown key.  The text lives in a static
 * buffer until the next call.
 */
static const char *
unknown_key(og_cli *cli, const og_report *r)
{
	static char buf[1200];

	buf[0] = '\0';
	for (int i = 0; cli->keys != NULL && i < r->ntokens; i++) {
		og_token_info ti;
		const char *t = r->tokens[i];

		/* Key ids run 1..255: a token naming none (id 0, such as a
		 * made-up bounce+AAAA...) was never signed by a key of
		 * ours, retired or not. */
		if (og_token_open(cli->keys, t, strlen(t), &ti) != OG_ENOKEY ||
		    og_token_kid(t, strlen(t)) < 1)
			continue;
		snprintf(buf, sizeof(buf),
		    " (it names key %d, which %.1000s lacks: a key retired, "
		    "or not on this host yet; or no token of ours)",
		    og_token_kid(t, strlen(t)), cli->cfg->keys_file);
		break;
	}
	return buf;
}

static int
who_by_addr(og_cli *cli, const char *s, who *w)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	if (og_addr_parse(s, strlen(s), &cli->cfg->rules, &w->addr) != 0)
		return 0;
	og_strlcpy(w->key, w->addr.key, sizeof(w->key));
	og_strlcpy(w->display, w->addr.norm, sizeof(w->display));
	return 1;
}

/*
 * Whom recipient rc of a report names.  A DSN's Original-Recipient is the
 * address as our mail gave it (ORCPT), its Final-Recipient the mailbox
 * the receiver ended at after forwarding or rewriting: the person to stop
 * mailing is the original one, unless the store knows the final address
 * and not the original (then the original field names something else).
 * 0 when no address parses.
 */
static int
who_by_rcpt(og_cli *cli, const og_report_rcpt *rc, who *w)
{
	who *o = og_xcalloc(1, sizeof(*o));
	int kf, ko, ef = 0, eo = 0;

	if (rc->orig[0] == '\0' || !who_by_addr(cli, rc->orig, o)) {
		free(o);
		return who_by_addr(cli, rc->addr, w);
	}
	if (!who_by_addr(cli, rc->addr, w)) {
		*w = *o;
	} else {
		kf = known_address(cli, w->key, &ef);
		ko = known_address(cli, o->key, &eo);
		/* a read error: the final one, whose check reports it */
		if (ef == 0 && eo == 0 && (ko || !kf))
			*w = *o;
	}
	free(o);
	return 1;
}

/* The domain part of an address, or NULL. */
static const char *
domain_of(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/*
 * Is a the envelope sender optgate-milter gave the mail (a stream's
 * verp address)?  The gate judged that mail by the sender it came with,
 * not by this one.
 */
static int
our_verp(og_cli *cli, const char *a)
{
	const char *d = domain_of(a);

	if (d == NULL)
		return 0;
	for (int i = 0; i < cli->cfg->nstreams; i++) {
		const char *v = domain_of(cli->cfg->streams[i].verp_address);

		if (v != NULL && strcasecmp(v, d) == 0)
			return 1;
	}
	return 0;
}

/* Scope name for a suppression of the given scope, or NULL for ALL. */
static int
scope_name(og_cli *cli, const og_report *r, const who *w, int scope, char *name,
    size_t size)
{
	const char *d;

	name[0] = '\0';
	switch (scope) {
	case OG_SCOPE_STREAM:
		if (w->stream != NULL) {
			og_strlcpy(name, w->stream->name, size);
			return OG_SCOPE_STREAM;
		}
		break;
	case OG_SCOPE_PARTNER:
		if (w->stream != NULL && w->stream->partner != NULL) {
			og_strlcpy(name, w->stream->partner, size);
			return OG_SCOPE_PARTNER;
		}
		break;
	case OG_SCOPE_SENDER:
		if (w->stream != NULL && w->stream->sender != NULL) {
			og_strlcpy(name, w->stream->sender, size);
			return OG_SCOPE_SENDER;
		}
		/* The gate names a sender by its envelope domain; after a
		 * VERP rewrite only the From: is left of it. */
		d = our_verp(cli, r->orig_mail_from)
		        ? NULL
		        : domain_of(r->orig_mail_from);
		if (d == NULL)
			d = domain_of(r->orig_from);
		if (d != NULL) {
			og_strlcpy(name, d, size);
			for (char *p = name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			return OG_SCOPE_SENDER;
		}
		break;
	}
	/* Not enough known for a narrower scope: the broader one is safe. */
	return OG_SCOPE_ALL;
}

/*
 * Must a bounce carry our token to be acted on?  With verp, every bounce
 * of our mail comes back to bounce+TOKEN@ (or quotes our X-Optgate-Token
 * header): one without a token that verifies is forged, or about mail
 * that is not ours.  NULL when not; else the setting, for the reason.
 */
static const char *
bounce_token_required(og_cli *cli)
{
	switch (cli->cfg->bounce_token) {
	case OG_BOUNCETOKEN_REQUIRED:
		return "bounce_token = required";
	case OG_BOUNCETOKEN_OPTIONAL:
		return NULL;
	}
	for (int i = 0; i < cli->cfg->nstreams; i++)
		if (cli->cfg->streams[i].verp_address != NULL)
			return "bounce_token = auto, verp configured";
	return NULL;
}

/* ---------- trust ---------- */

static int
host_in(const char *host, const char *entry)
{
	size_t hl, el;

	if (host == NULL || host[0] == '\0')
		return 0;
	hl = strlen(host);
	el = strlen(entry);
	if (hl == el)
		return strcasecmp(host, entry) == 0;
	return hl > el && host[hl - el - 1] == '.' &&
	       strcasecmp(host + hl - el, entry) == 0;
}

/*
 * A trusted_reporters entry as the name it stands for: "*.senderscore.net"
 * and ".senderscore.net" (how DNS, and Postfix's parent domain matches,
 * write "that domain's hosts") and "senderscore.net." are
 * "senderscore.net", which already covers the names below it.  Taken
 * literally they matched no report, and config check said ok: every
 * complaint of the loop was quarantined "reporter not trusted".  In
 * place; returns e.
 */
static char *
reporter_name(char *e)
{
	size_t n;

	if (e[0] == '*' && e[1] == '.')
		memmove(e, e + 2, strlen(e + 2) + 1);
	else if (e[0] == '.')
		memmove(e, e + 1, strlen(e + 1) + 1);
	n = strlen(e);
	if (n > 0 && e[n - 1] == '.')
		e[n - 1] = '\0';
	return e;
}

/*
 * A reporter is trusted when the report's From domain or the SMTP client
 * (pipe ${client_hostname}, which Postfix verified) is, or is under, a
 * [feedback] trusted_reporters entry.  The From domain is only as good as
 * the DMARC check in front of this transport.  Not its Reporting-MTA: the
 * report's author writes that field and nothing checks it, so anyone's
 * report naming a trusted loop there suppressed whom it named.
 */
static int
trusted(og_cli *cli, const fb_opts *o, const og_report *r)
{
	const char *fd = domain_of(r->from);

	for (int i = 0; i < cli->cfg->ntrusted_reporters; i++) {
		/* One name per line, or several separated by commas. */
		const char *p = cli->cfg->trusted_reporters[i];

		while (*p != '\0') {
			char e[256];
			size_t n = strcspn(p, ", \t");

			if (n > 0 && n < sizeof(e)) {
				memcpy(e, p, n);
				e[n] = '\0';
				if (reporter_name(e)[0] != '\0' &&
				    (host_in(fd, e) || host_in(o->client, e)))
					return 1;
			}
			p += n;
			p += strspn(p, ", \t");
		}
	}
	return 0;
}

/* ---------- deciding ---------- */

/* One log line: rc is the report recipient it is about (or -1). */
/*
 * The report's queue id for a log line (Postfix's ${queue_id}: letters
 * and digits, at most 32 kept), or NOQUEUE: every line about a report,
 * quarantined or failed too, starts with it, so that grepping the mail
 * log for a queue id finds what became of the report.
 */
static const char *
qid(const fb_opts *o, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = o->queue_id; p != NULL && *p != '\0'; p++)
		if (isalnum((unsigned char)*p) && n + 1 < size && n < 32)
			buf[n++] = *p;
	buf[n] = '\0';
	return n > 0 ? buf : "NOQUEUE";
}

static void
logline(const fb_opts *o, const char *to, const og_report *r, int rc,
    const char *action, const char *detail)
{
	og_buf b;
	const og_report_rcpt *rp = rc >= 0 && rc < r->nrcpt ? &r->rcpt[rc]
	                           : r->nrcpt > 0           ? &r->rcpt[0]
	                                                    : NULL;
	int klass =
	    rp != NULL && rp->class != OG_RC_UNKNOWN ? rp->class : r->class;
	const char *why = rp != NULL && rp->reason != NULL ? rp->reason
	                  : r->reason != NULL              ? r->reason
	                                                   : "-";

	og_buf_init(&b, 0);
	/* Postfix style: the queue id of the report first. */
	if (o->queue_id != NULL && o->queue_id[0] != '\0')
		og_buf_add_escaped(&b, o->queue_id, strlen(o->queue_id), 32);
	else
		og_buf_adds(&b, "NOQUEUE");
	og_buf_printf(&b, ": %s: to=<", mode_names[o->mode]);
	og_buf_add_escaped(&b, to, strlen(to), 320);
	/* A person's own unsubscribe mail is no report of a class (Apple
	 * Mail's is parsed as a complaint); unsub-mail acts on no other. */
	og_buf_printf(&b, "> class=%s",
	    o->mode == M_UNSUB ? "unsubscribe" : og_report_class_name(klass));
	if (rp != NULL && rp->status[0] != '\0')
		og_buf_printf(&b, " status=%s", rp->status);
	og_buf_printf(&b, " action=%s", action);
	if (detail != NULL && detail[0] != '\0') {
		og_buf_adds(&b, " ");
		og_buf_add_escaped(&b, detail, strlen(detail), 300);
	}
	og_buf_printf(&b, " reason=%s", why);
	if (r->message_id[0] != '\0') {
		og_buf_adds(&b, " report=");
		og_buf_add_escaped(
		    &b, r->message_id, strlen(r->message_id), 200);
	}
	og_log_info("%s", b.data);
	og_buf_free(&b);
}

struct dupctx {
	const char *id;
	int found;
};

static int
dup_cb(const og_event *ev, void *ctx)
{
	struct dupctx *d = ctx;

	if (strcmp(ev->f[OG_EVF_REPORT_ID], d->id) == 0) {
		d->found = 1;
		return 1;
	}
	return 0;
}

/* Has a report with this id been applied to key already? */
static int
duplicate(og_cli *cli, const char *key, const char *id)
{
	struct dupctx d = {id, 0};

	if (id[0] == '\0')
		return 0;
	(void)og_store_foreach_event(cli->store, key, dup_cb, &d);
	return d.found;
}

/* One store change a report asks for, waiting for the batch commit. */
typedef struct slot {
	og_change ch;
	char key[OG_ADDR_MAX + 1];
	char raw[OG_ADDR_INPUT_MAX + 1];
	char display[OG_ADDR_MAX + 1];
	char name[OG_STREAM_NAME_MAX + 1];
	char note[OG_EVF_MAX + 1];
	char proof[OG_EVF_MAX + 1];
	char note_soft[96]; /* the soft bounces that suppress, for the log */
	char detail[OG_STREAM_NAME_MAX + 160];
	const char *done_word; /* action word once applied */
	int rcpt;              /* index into r->rcpt */
	int pending;
} slot;

/*
 * One message on its way through a batch.  Its changes wait in slots
 * (pointing into the item) until the batch is committed in one durable
 * transaction, so a Maildir of reports costs one sync, not one each.
 */
typedef struct item {
	const char *label; /* file name, or "-" */
	og_report *r;
	int prc;     /* og_report_parse result */
	slot *slots; /* at most OG_REPORT_RCPT_MAX */
	int nslots;
	char proof[OG_REPORT_FIELD_MAX + 8];
	fb_result res;
	int out;         /* O_* */
	uint64_t rid;    /* report_identity() */
	int64_t arrived; /* arrival() */
} item;

static slot *
slot_new(item *it)
{
	slot *s;

	if (it->slots == NULL)
		it->slots = og_xcalloc(OG_REPORT_RCPT_MAX, sizeof(*it->slots));
	if (it->nslots >= OG_REPORT_RCPT_MAX)
		return NULL;
	s = &it->slots[it->nslots++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* Copy the person into the slot: the change points into it. */
static void
slot_who(slot *s, const who *w)
{
	og_strlcpy(s->key, w->key, sizeof(s->key));
	og_strlcpy(s->display, w->display, sizeof(s->display));
	if (!w->by_token)
		og_strlcpy(s->raw, w->addr.raw, sizeof(s->raw));
	s->ch.key = s->key;
	s->ch.raw = s->raw[0] ? s->raw : NULL;
}

/* The proof fields every change from a report carries. */
static void
report_fields(slot *s, const og_report *r)
{
	const og_report_rcpt *rc =
	    s->rcpt < r->nrcpt ? &r->rcpt[s->rcpt] : NULL;
	og_change *ch = &s->ch;

	if (rc != NULL && rc->status[0] != '\0')
		ch->f[OG_EVF_STATUS] = rc->status;
	if (rc != NULL && rc->diag[0] != '\0')
		ch->f[OG_EVF_DIAG] = rc->diag;
	if (r->reporting_mta[0] != '\0')
		ch->f[OG_EVF_MTA] = r->reporting_mta;
	else if (rc != NULL && rc->remote_mta[0] != '\0')
		ch->f[OG_EVF_MTA] = rc->remote_mta;
	if (r->message_id[0] != '\0')
		ch->f[OG_EVF_REPORT_ID] = r->message_id;
	if (r->orig_message_id[0] != '\0')
		ch->f[OG_EVF_MESSAGE_ID] = r->orig_message_id;
	if (r->user_agent[0] != '\0')
		ch->f[OG_EVF_UA] = r->user_agent;
	if (r->source_ip[0] != '\0')
		ch->f[OG_EVF_IP] = r->source_ip;
	snprintf(s->note, sizeof(s->note), "format=%s reason=%s%s%s%s%.200s",
	    r->format,
	    rc != NULL && rc->reason != NULL ? rc->reason
	    : r->reason != NULL              ? r->reason
	                                     : "-",
	    r->feedback_type[0] ? " feedback-type=" : "", r->feedback_type,
	    r->arrival_date[0] ? " arrival-date=" : "", r->arrival_date);
	ch->f[OG_EVF_NOTE] = s->note;
}

/*
 * The identity of a report, so that a soft bounce counts once per report:
 * Postfix delivers the same message again after an exit 75, or twice
 * after a crash, and a remote MTA that timed out after its DATA sends the
 * same report again, with the same Message-ID, Date and body.  What
 * pipe(8) or our MTA adds (Delivered-To, Return-Path, Received, a From_
 * line) is in the header block, so only those two are taken from there
 * (Date tells apart two bare reports without a Message-ID).  A 64-bit
 * FNV-1a digest, never 0.
 */
static uint64_t
report_identity(const og_report *r, const char *data, size_t len)
{
	const char *end = data + len, *body = end, *date = "", *p;
	size_t dlen = 0;
	uint64_t h = 1469598103934665603ULL;

	/* the header block ends at the first empty line */
	for (p = data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;

		if (eol == p || (eol == p + 1 && *p == '\r')) {
			body = nl != NULL ? nl + 1 : end;
			break;
		}
		if (dlen == 0 && eol - p > 5 &&
		    strncasecmp(p, "Date:", 5) == 0) {
			date = p + 5;
			dlen = (size_t)(eol - date);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	for (p = r->message_id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffU) * 1099511628211ULL; /* a field ends here */
	for (p = date; p < date + dlen; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffU) * 1099511628211ULL;
	for (p = body; p < end; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

struct softctx {
	int64_t since;
	int found;
};

static int
soft_supp_cb(const og_event *ev, void *ctx)
{
	struct softctx *c = ctx;

	if (ev->time < c->since)
		return 1; /* newest first: no later one */
	if (ev->kind == OG_EV_SUPPRESS && ev->reason == OG_RS_SOFT_BOUNCE) {
		c->found = 1;
		return 1;
	}
	return 0;
}

/*
 * Was a soft-bounce suppression of key recorded at or after since (the
 * time a report was counted)?  Then that report's suppression is in the
 * store; else its run failed after the count (exit 75) and this retry
 * still owes it.
 */
static int
soft_suppressed_since(og_cli *cli, const char *key, int64_t since)
{
	struct softctx c = {since, 0};

	(void)og_store_foreach_event(cli->store, key, soft_supp_cb, &c);
	return c.found;
}

/*
 * The change for one person and one class: hard and complaint suppress,
 * soft counts (and suppresses for a while at the threshold).  Returns
 * O_DONE or O_TEMPFAIL; a pending change is left in a new slot.
 */
static int
decide_one(
    og_cli *cli, const fb_opts *o, item *it, const who *w, int ri, int klass)
{
	const og_report *r = it->r;
	int64_t now = og_time_now();
	slot *s;
	og_change *ch;

	if (klass == OG_RC_COMPLAINT && duplicate(cli, w->key, r->message_id)) {
		logline(o, w->display, r, ri, "duplicate", NULL);
		og_strlcpy(it->res.action, "duplicate", sizeof(it->res.action));
		return O_DONE;
	}
	/* Erased: the hash stops all her mail; a record or a soft-bounce
	 * count would hold her address again. */
	if (og_store_erased_gone(cli->store, w->key)) {
		logline(o, w->display, r, ri, "unchanged", "address=erased");
		og_strlcpy(it->res.action, "unchanged", sizeof(it->res.action));
		return O_DONE;
	}
	if ((s = slot_new(it)) == NULL)
		return O_DONE;
	s->rcpt = ri;
	slot_who(s, w);
	ch = &s->ch;
	ch->kind = OG_EV_SUPPRESS;
	ch->state = OG_ST_SUPPRESSED;
	ch->time = now;
	ch->f[OG_EVF_SOURCE] = mode_names[o->mode];
	report_fields(s, r);
	if (w->stream != NULL) /* for per-stream complaint and bounce rates */
		ch->f[OG_EVF_STREAM] = w->stream->name;
	if (klass == OG_RC_COMPLAINT) {
		ch->scope = (uint8_t)scope_name(cli, r, w,
		    cli->cfg->complaint_scope, s->name, sizeof(s->name));
		ch->reason = OG_RS_COMPLAINT;
		ch->via = OG_VIA_FBL;
		/*
		 * Which feedback loop: what trusted() judged the reporter by.
		 * ARF reports seldom carry a Reporting-MTA (the mta field).
		 */
		snprintf(s->proof, sizeof(s->proof), "from=%.200s%s%.200s",
		    r->from, o->client && o->client[0] ? " client=" : "",
		    o->client ? o->client : "");
		ch->f[OG_EVF_PROOF] = s->proof;
	} else if (klass == OG_RC_HARD) {
		ch->scope = (uint8_t)scope_name(cli, r, w,
		    cli->cfg->hard_bounce_scope, s->name, sizeof(s->name));
		ch->reason = OG_RS_HARD_BOUNCE;
		ch->via = OG_VIA_BOUNCE;
	} else {
		int count = 0, rc;
		int64_t already = 0;
		const char *act;
		char det[96], per[24], until[32];

		rc = og_store_soft_bounce(cli->store, w->key, now,
		    (int64_t)cli->cfg->soft_bounce.period, it->rid, &count,
		    &already);
		if (rc != 0) {
			char qb[40];

			og_log_err("%s: %s: store write failed: %s",
			    qid(o, qb, sizeof(qb)), mode_names[o->mode],
			    og_strerror(rc));
			it->nslots--;
			return O_TEMPFAIL;
		}
		/*
		 * This report was counted before (Postfix delivered it
		 * again): below the limit nothing more is owed; at it, the
		 * suppression unless it was recorded since the count.
		 */
		act = already != 0 ? "duplicate" : "counted";
		snprintf(det, sizeof(det), "soft_bounces=%d/%u%s", count,
		    cli->cfg->soft_bounce.limit,
		    already != 0 ? " detail=already-counted" : "");
		if ((unsigned)count < cli->cfg->soft_bounce.limit ||
		    (already != 0 &&
		        soft_suppressed_since(cli, w->key, already))) {
			logline(o, w->display, r, ri, act, det);
			og_strlcpy(it->res.action, act, sizeof(it->res.action));
			it->nslots--;
			return O_DONE;
		}
		ch->scope = OG_SCOPE_ALL;
		ch->reason = OG_RS_SOFT_BOUNCE;
		ch->via = OG_VIA_BOUNCE;
		ch->expires = now + cli->cfg->soft_bounce_suppress;
		/* the line that suppresses says why and for how long */
		snprintf(s->note_soft, sizeof(s->note_soft),
		    " soft_bounces=%d/%u within=%s until=%s", count,
		    cli->cfg->soft_bounce.limit,
		    og_duration_fmt((int64_t)cli->cfg->soft_bounce.period, per,
		        sizeof(per)),
		    og_time_fmt(ch->expires, until, sizeof(until)));
	}
	ch->name = s->name[0] ? s->name : NULL;
	snprintf(s->detail, sizeof(s->detail), "scope=%s%s%s%s%s",
	    og_scope_name(ch->scope), s->name[0] ? ":" : "", s->name,
	    s->note_soft, w->by_token ? " by=token" : "");
	s->done_word = "suppressed";
	s->pending = 1;
	return O_DONE;
}

/* A delay notice is soft by class but no failure yet: the MTA is still
 * trying, and its final word will come as its own report. */
static int
delayed(const og_report_rcpt *rc)
{
	return rc->class == OG_RC_SOFT && rc->reason != NULL &&
	       strcmp(rc->reason, "delayed") == 0;
}

/*
 * The first recipient of a report that it asks us to act on (a failure
 * or a complaint), or -1.  One DSN may list delivered, delayed and failed
 * recipients together (RFC 3464): the first one does not speak for all.
 */
static int
first_failed(const og_report *r)
{
	for (int i = 0; i < r->nrcpt; i++) {
		int k = r->rcpt[i].class;

		if ((k == OG_RC_HARD || k == OG_RC_SOFT ||
		        k == OG_RC_COMPLAINT) &&
		    !delayed(&r->rcpt[i]))
			return i;
	}
	return -1;
}

static void
decide_bounce_or_fbl(og_cli *cli, const fb_opts *o, item *it)
{
	const og_report *r = it->r;
	fb_result *res = &it->res;
	int err, klass = r->class, acted = 0, known = 0;
	int first = first_failed(r);
	const char *need;
	who *w = og_xcalloc(1, sizeof(*w));

	if (first >= 0)
		klass = r->rcpt[first].class;
	it->out = O_DONE;
	if (klass == OG_RC_IGNORE) {
		logline(
		    o, r->nrcpt ? r->rcpt[0].addr : "", r, 0, "ignored", NULL);
		og_strlcpy(res->action, "ignored", sizeof(res->action));
		goto out;
	}
	if (first < 0 && klass == OG_RC_SOFT && r->reason != NULL &&
	    strcmp(r->reason, "delayed") == 0) {
		logline(o, r->nrcpt ? r->rcpt[0].addr : "", r, 0, "ignored",
		    "detail=delay-notice");
		og_strlcpy(res->action, "ignored", sizeof(res->action));
		goto out;
	}
	it->out = O_QUARANTINE;
	if (klass == OG_RC_UNKNOWN) {
		/* said once: "not a report: not a report" */
		if (r->reason != NULL && strcmp(r->reason, "not a report") == 0)
			og_strlcpy(res->why, r->reason, sizeof(res->why));
		else
			snprintf(res->why, sizeof(res->why),
			    "not a report: %.200s",
			    r->reason != NULL ? r->reason : "unknown");
		goto out;
	}
	if (o->mode == M_FBL && klass != OG_RC_COMPLAINT) {
		snprintf(res->why, sizeof(res->why),
		    "not a complaint (%s) at the FBL address",
		    og_report_class_name(klass));
		goto out;
	}
	if (klass == OG_RC_COMPLAINT && !trusted(cli, o, r)) {
		/* what it is judged by: a name to list is one of these */
		snprintf(res->why, sizeof(res->why),
		    "reporter not trusted: from=%.200s client=%.200s (see "
		    "[feedback] trusted_reporters)",
		    r->from, o->client ? o->client : "");
		goto out;
	}
	it->out = O_DONE;
	/* Our token names exactly one person, whatever the report says. */
	if (who_by_token(cli, r, w)) {
		og_strlcpy(res->addr, w->display, sizeof(res->addr));
		it->out =
		    decide_one(cli, o, it, w, first < 0 ? 0 : first, klass);
		goto out;
	}
	/* Otherwise each failed recipient of the report, by its own class;
	 * a complaint is about one person (the first named). */
	for (int i = 0; i < r->nrcpt && it->out == O_DONE; i++) {
		int k = klass == OG_RC_COMPLAINT ? OG_RC_COMPLAINT
		                                 : r->rcpt[i].class;

		if (k != OG_RC_HARD && k != OG_RC_SOFT && k != OG_RC_COMPLAINT)
			continue;
		if (k != OG_RC_COMPLAINT && delayed(&r->rcpt[i])) {
			logline(o, r->rcpt[i].addr, r, i, "ignored",
			    "detail=delay-notice");
			continue;
		}
		memset(w, 0, sizeof(*w));
		if (!who_by_rcpt(cli, &r->rcpt[i], w))
			continue;
		acted++;
		if (res->addr[0] == '\0')
			og_strlcpy(res->addr, w->display, sizeof(res->addr));
		/* Without our token, act on addresses we know, or on a
		 * report whose returned original is mail of one of our
		 * streams: anything else is backscatter or forgery. */
		w->stream = original_stream(cli, r);
		if (w->stream == NULL && !known_address(cli, w->key, &err)) {
			if (err != 0) {
				char qb[40];

				og_log_err("%s: %s: store read failed: %s",
				    qid(o, qb, sizeof(qb)), mode_names[o->mode],
				    og_strerror(err));
				it->out = O_TEMPFAIL;
				break;
			}
			logline(o, w->display, r, i, "ignored",
			    "detail=unknown-address");
			if (res->action[0] == '\0')
				og_strlcpy(res->action, "ignored-unknown",
				    sizeof(res->action));
			continue;
		}
		/*
		 * A forged DSN for a customer's address would suppress her
		 * (a hard bounce stops transactional mail too): where our
		 * bounces carry the token, keep it for a human instead.
		 * Nothing is written for any recipient of it.
		 */
		if (k != OG_RC_COMPLAINT &&
		    (need = bounce_token_required(cli)) != NULL) {
			snprintf(res->why, sizeof(res->why),
			    "bounce without our token for <%.200s>: forged, "
			    "or not about our mail (%s; %s)%s",
			    w->display, need,
			    cli->keys == NULL ? "no keys file to verify one"
			    : r->ntokens > 0  ? "none of its tokens verifies"
			                      : "it has none",
			    unknown_key(cli, r));
			it->out = O_QUARANTINE;
			break;
		}
		known++;
		it->out = decide_one(cli, o, it, w, i, k);
		if (klass == OG_RC_COMPLAINT)
			break;
	}
	if (acted == 0) {
		snprintf(res->why, sizeof(res->why),
		    "no recipient found (%s)%s",
		    r->ntokens ? "no token verified" : "no token",
		    unknown_key(cli, r));
		it->out = O_QUARANTINE;
	}
out:
	free(w);
}

/*
 * How long before its processing a mail may have reached us: Postfix's
 * default maximal_queue_lifetime, after which it returns what it could
 * not deliver.  Bounds how far a date we cannot trust moves a decision.
 */
#define ARRIVAL_MAX_DELAY ((int64_t)5 * 86400)

/*
 * When the mail reached us.  Postfix keeps an unsubscribe mail it could
 * not hand over (exit 75: the store busy or unreadable) and the
 * quarantine one it could not use, and a request written in time must be
 * judged as of then: its token's age, and its place among the person's
 * later opt-ins.  The date is that of the topmost Received field, which
 * our Postfix prepends above anything the sender wrote; from a pipe
 * (--queue-id) only when it names this message's queue id.  It is never
 * later than the time it was with us anyway (now, or when a retried entry
 * was quarantined) and never more than ARRIVAL_MAX_DELAY earlier: a date
 * the sender wrote (a file without our Received) then moves the token's
 * age by that much at most, and an opt-out dated earlier only loses to
 * more opt-ins (docs/design.md, "Tokens").
 */
static int64_t
arrival(const fb_opts *o, const og_report *r)
{
	int64_t now = og_time_now();
	int64_t upto = o->upto > 0 && o->upto < now ? o->upto : now;
	int64_t t = r->received;

	if (t <= 0 || (o->queue_id != NULL && o->queue_id[0] != '\0' &&
	                  strcmp(r->received_id, o->queue_id) != 0))
		return upto;
	if (t > upto)
		return upto;
	return t < upto - ARRIVAL_MAX_DELAY ? upto - ARRIVAL_MAX_DELAY : t;
}

/*
 * [unsubd] token_max_age holds for a mailed token as for a clicked one
 * (an old link from a leaked archive; one of a stream since removed would
 * opt the person out of all mail), at the mail's arrival (at).  A token
 * may have been made as late as its issue day's last second.
 */
static const char *
unsub_expired(og_cli *cli, const who *w, int64_t at)
{
	int64_t max = cli->cfg->unsubd_token_max_age;

	if (max > 0 && at - (w->issued + 86399) > max)
		return "expired token (token_max_age)";
	return NULL;
}

/*
 * Whether a (an address) is a configured mailto: unsubscribe target whose
 * address holds no %t (the token goes in its subject or body): a local
 * part of 40 or more letters, digits, '-' and '_'
 * ("marketing-newsletter-unsubscribe-requests@") reads as a token
 * candidate, and one that does not verify names nobody, so every mail
 * to that address was quarantined.
 */
static int
bare_unsub_address(const og_config *cfg, const char *a)
{
	for (int i = 0; i < cfg->nstreams; i++) {
		const og_stream *st = &cfg->streams[i];

		for (int j = 0; j < st->nunsubscribe; j++) {
			const char *u = st->unsubscribe[j];
			size_t n;

			if (strncasecmp(u, "mailto:", 7) != 0)
				continue;
			u += 7;
			n = strcspn(u, "?");
			if (n == strlen(a) && strncasecmp(u, a, n) == 0 &&
			    memmem(u, n, "%t", 2) == NULL)
				return 1;
		}
	}
	return 0;
}

/*
 * Who an unsubscribe mail is from, by token; NULL, or why it names nobody.
 *
 * The address the mail came to (unsub+TOKEN@) is the person's own click:
 * when it holds a token candidate, that alone counts, and one that does
 * not verify (a system on the way changed its case, its key was removed)
 * names nobody: the body may quote someone else's mail (a forwarded
 * newsletter and its links) and would opt out the wrong person.  Only a
 * mail to an address without a token (a client that dropped it) is read
 * further (the subject, the body, a message it attaches), and there every
 * verifying token must name one person, its sender (From).  The token's
 * age is taken at arrived (arrival()).
 */
static const char *
unsub_who(og_cli *cli, const fb_opts *o, og_report *r, int64_t arrived, who *w)
{
	static char bad[1300]; /* a reason, until the next call */
	og_report *env = og_xcalloc(1, sizeof(*env));
	const char *why = NULL, *a, *at;

	/*
	 * Without --rcpt (a file), the To it was written to; its local part
	 * only (a long domain label is no token).
	 */
	a = o->rcpt != NULL && o->rcpt[0] != '\0' ? o->rcpt : r->to;
	at = strrchr(a, '@');
	if (!bare_unsub_address(cli->cfg, a))
		og_report_add_tokens(
		    env, a, at != NULL ? (size_t)(at - a) : strlen(a));
	if (env->ntokens > 0) {
		if (cli->keys == NULL)
			why = "no keys file: tokens not verified";
		else if (!who_by_token(cli, env, w)) {
			snprintf(bad, sizeof(bad),
			    "bad token in the address it came to%s",
			    unknown_key(cli, env));
			why = bad;
		}
		free(env);
		return why != NULL ? why : unsub_expired(cli, w, arrived);
	}
	free(env);
	/* Some clients put the token in the subject or the body. */
	og_report_add_tokens(r, r->subject, strlen(r->subject));
	og_report_add_tokens(r, r->body, strlen(r->body));
	if (r->ntokens == 0)
		return "no token";
	if (cli->keys == NULL)
		return "no keys file: tokens not verified";
	if (!who_by_token(cli, r, w)) {
		snprintf(bad, sizeof(bad), "bad token%s", unknown_key(cli, r));
		return bad;
	}
	for (int i = 0; i < r->ntokens; i++) {
		og_token_info ti;

		if (og_token_open(cli->keys, r->tokens[i], strlen(r->tokens[i]),
		        &ti) == 0 &&
		    ti.purpose == OG_TOKEN_UNSUB && strcmp(ti.key, w->key) != 0)
			return "tokens of different people";
	}
	/* A token the text quotes is the sender's own or nobody's. */
	{
		og_addr *from = og_xcalloc(1, sizeof(*from));
		int same = og_addr_parse(r->from, strlen(r->from),
		               &cli->cfg->rules, from) == 0 &&
		           strcmp(from->key, w->key) == 0;

		free(from);
		if (!same)
			return "the token in the text is not the sender's";
	}
	return unsub_expired(cli, w, arrived);
}

/*
 * A report in a machine's form (a DSN, an ARF report, a read receipt, an
 * auto-reply) at the unsubscribe address is no person's request: it
 * answers mail someone sent with our address as its sender (spam forging
 * an unsub+TOKEN@ address harvested from an archive), and its token would
 * opt out a person who asked nothing.  NULL, or why.
 */
static const char *
unsub_machine_report(const og_report *r)
{
	static const char *const forms[] = {
	    "rfc3464", "arf", "mdn", "dmarc-or-tls-report"};

	/*
	 * Bounces in the text formats too (qmail's "Hi. This is the
	 * qmail-send program", Exim's X-Failed-Recipients, Sendmail's
	 * transcript): what a mail system says.  A person's note whose
	 * subject only says "bounce" or "failure" is still read.
	 */
	if (r->kind == OG_RK_ARF ||
	    (r->kind == OG_RK_DSN &&
	        (r->mail_system || strcmp(r->format, "text") != 0)))
		return "a machine's report, not an unsubscribe mail";
	/*
	 * An auto-reply (a vacation notice, a challenge-response request)
	 * answers the spam that forged our address as its sender just as
	 * a bounce does: it opted out whoever the token names.  Only by
	 * its header (the parser's auto_reply): a person's subject may say
	 * "out of office" or "please confirm".  Apple Mail's own
	 * unsubscribe mail is a request whatever else it says.
	 */
	if (r->auto_reply && r->kind != OG_RK_UNSUB)
		return "an auto-reply (its header says so), not an "
		       "unsubscribe mail";
	for (size_t i = 0;
	     r->format != NULL && i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strcmp(r->format, forms[i]) == 0)
			return "a machine's report, not an unsubscribe mail";
	return NULL;
}

static void
decide_unsub(og_cli *cli, const fb_opts *o, item *it)
{
	og_report *r = it->r;
	const og_stream *st;
	const char *why;
	og_change *ch;
	slot *s;
	who *w = og_xcalloc(1, sizeof(*w));

	if ((why = unsub_machine_report(r)) == NULL)
		why = unsub_who(cli, o, r, it->arrived, w);
	if (why != NULL) {
		snprintf(it->res.why, sizeof(it->res.why), "%s", why);
		it->out = O_QUARANTINE;
		free(w);
		return;
	}
	it->out = O_DONE;
	st = w->stream;
	og_strlcpy(it->res.addr, w->display, sizeof(it->res.addr));
	s = slot_new(it);
	slot_who(s, w);
	ch = &s->ch;
	ch->kind = OG_EV_OPTOUT;
	ch->state = OG_ST_OPTOUT;
	ch->via = OG_VIA_MAIL;
	/* dated when it came: an opt-in given since stands */
	ch->time = it->arrived;
	ch->flags = OG_CH_NOT_OVER_OPTIN;
	ch->scope = (uint8_t)cli->cfg->unsubd_scope;
	if (ch->scope == OG_SCOPE_PARTNER && st != NULL && st->partner)
		og_strlcpy(s->name, st->partner, sizeof(s->name));
	else if (ch->scope == OG_SCOPE_SENDER && st != NULL && st->sender)
		og_strlcpy(s->name, st->sender, sizeof(s->name));
	else if (ch->scope != OG_SCOPE_ALL && st != NULL) {
		/* the stream itself, as optgate-unsubd's one-click does when
		 * it has no partner or sender to name */
		ch->scope = OG_SCOPE_STREAM;
		og_strlcpy(s->name, st->name, sizeof(s->name));
	} else
		ch->scope = OG_SCOPE_ALL;
	ch->name = s->name[0] ? s->name : NULL;
	snprintf(it->proof, sizeof(it->proof), "from=%s", r->from);
	ch->f[OG_EVF_SOURCE] = "unsub-mail";
	if (st != NULL)
		ch->f[OG_EVF_STREAM] = st->name;
	ch->f[OG_EVF_PROOF] = it->proof;
	if (r->message_id[0] != '\0')
		ch->f[OG_EVF_MESSAGE_ID] = r->message_id;
	snprintf(s->detail, sizeof(s->detail), "scope=%s%s%s",
	    og_scope_name(ch->scope), s->name[0] ? ":" : "", s->name);
	/* one that waited says since when it is dated */
	if (og_time_now() - it->arrived >= 60) {
		char at[32];
		size_t n = strlen(s->detail);

		snprintf(s->detail + n, sizeof(s->detail) - n, " arrived=%s",
		    og_time_fmt(it->arrived, at, sizeof(at)));
	}
	r->reason = "unsubscribe";
	s->done_word = "unsubscribed";
	s->pending = 1;
	free(w);
}

/* ---------- one batch ---------- */

/*
 * What a run decides about one message.  unsub-mail's answer is about
 * the person its token names, never the report's own recipient (Apple
 * Mail's unsubscribe mail names its sender there, a bounce someone else).
 */
static void
print_json(og_cli *cli, const fb_opts *o, const item *it)
{
	og_buf b;
	const og_report *r = it->r;
	const og_report_rcpt *rc =
	    r->nrcpt > 0 && o->mode != M_UNSUB ? &r->rcpt[0] : NULL;

	og_buf_init(&b, 0);
	og_buf_adds(&b, "{\"file\":");
	og_json_str(&b, it->label);
	og_buf_adds(&b, ",\"class\":");
	og_json_str(&b, o->mode == M_UNSUB
	                    ? "unsubscribe"
	                    : og_report_class_name(
	                          it->prc == 0 ? r->class : OG_RC_UNKNOWN));
	og_buf_adds(&b, ",\"recipient\":");
	og_json_str(&b, it->res.addr[0] ? it->res.addr
	                : rc != NULL    ? rc->addr
	                                : "");
	og_buf_adds(&b, ",\"status\":");
	og_json_str(&b, rc != NULL ? rc->status : "");
	og_buf_adds(&b, ",\"reason\":");
	og_json_str(&b, o->mode == M_UNSUB && it->res.addr[0] ? "unsubscribe"
	                : r->reason != NULL                   ? r->reason
	                                                      : "");
	og_buf_adds(&b, ",\"format\":");
	og_json_str(&b, r->format != NULL ? r->format : "none");
	if (rc != NULL && rc->diag[0] != '\0') {
		og_buf_adds(&b, ",\"diagnostic\":");
		og_json_str(&b, rc->diag);
	}
	if (r->nrcpt > 1 && o->mode != M_UNSUB) {
		og_buf_adds(&b, ",\"recipients\":[");
		for (int i = 0; i < r->nrcpt; i++) {
			if (i)
				og_buf_addc(&b, ',');
			og_buf_adds(&b, "{\"recipient\":");
			og_json_str(&b, r->rcpt[i].addr);
			og_buf_adds(&b, ",\"class\":");
			og_json_str(&b, og_report_class_name(r->rcpt[i].class));
			og_buf_adds(&b, ",\"status\":");
			og_json_str(&b, r->rcpt[i].status);
			if (r->rcpt[i].diag[0] != '\0') {
				og_buf_adds(&b, ",\"diagnostic\":");
				og_json_str(&b, r->rcpt[i].diag);
			}
			og_buf_adds(&b, "}");
		}
		og_buf_addc(&b, ']');
	}
	if (it->res.action[0] != '\0') {
		og_buf_adds(&b, ",\"action\":");
		og_json_str(&b, it->res.action);
	}
	if (it->out == O_QUARANTINE) {
		og_buf_adds(&b, ",\"quarantine\":");
		og_json_str(&b, it->res.why);
	}
	og_buf_adds(&b, "}");
	(void)cli;
	og_cli_flush(&b);
	og_buf_free(&b);
}

/* Parse and decide one message; quarantine it at once if need be. */
static void
decide(og_cli *cli, const fb_opts *o, item *it, const char *data, size_t len)
{
	char qname[128], qb[40];

	it->r = og_xcalloc(1, sizeof(*it->r));
	it->prc = og_report_parse(data, len, o->rcpt, it->r);
	it->arrived = arrival(o, it->r);
	if (o->dry_run) {
		/* Acts on nothing; the token still decides the recipient
		 * when the keys are there.  An unsubscribe mail is read as
		 * the real run reads it: whom it opts out, or why it would
		 * be kept. */
		who *w = og_xcalloc(1, sizeof(*w));
		const char *why = NULL;

		it->out = O_DONE;
		if (it->prc == 0 && o->mode == M_UNSUB) {
			if ((why = unsub_machine_report(it->r)) == NULL)
				why = unsub_who(cli, o, it->r, it->arrived, w);
			if (why != NULL) {
				snprintf(it->res.why, sizeof(it->res.why), "%s",
				    why);
				it->out = O_QUARANTINE;
			}
		}
		if (it->prc == 0 && cli->keys != NULL && why == NULL &&
		    (o->mode == M_UNSUB || who_by_token(cli, it->r, w)))
			og_strlcpy(
			    it->res.addr, w->display, sizeof(it->res.addr));
		free(w);
		return;
	}
	it->rid = report_identity(it->r, data, len);
	if (it->prc != 0) {
		snprintf(it->res.why, sizeof(it->res.why),
		    "unparseable: %.200s",
		    it->r->reason != NULL ? it->r->reason
		                          : og_strerror(it->prc));
		it->out = O_QUARANTINE;
	} else if (o->mode == M_UNSUB) {
		decide_unsub(cli, o, it);
	} else {
		decide_bounce_or_fbl(cli, o, it);
	}
	if (it->out != O_QUARANTINE)
		return;
	if (o->retry_file != NULL) {
		og_log_info("%s: %s: still quarantined as %s: %s",
		    qid(o, qb, sizeof(qb)), mode_names[o->mode], o->retry_file,
		    it->res.why);
		/* the reason it has now: the old one may be what the admin
		 * just fixed */
		if (reason_save(cli, o->mode, o->retry_file, it->res.why, o) !=
		    0)
			og_log_warn("%s: %s: cannot update its reason: %s",
			    mode_names[o->mode], o->retry_file,
			    strerror(errno));
	} else if (quarantine_save(cli, o->mode, data, len, it->res.why, o,
	               qname, sizeof(qname)) != 0) {
		og_log_err("%s: %s: cannot write quarantine %s: %s",
		    qid(o, qb, sizeof(qb)), mode_names[o->mode],
		    cli->cfg->quarantine, strerror(errno));
		it->out = O_TEMPFAIL;
	} else {
		og_log_warn("%s: %s: quarantined as %s: %s",
		    qid(o, qb, sizeof(qb)), mode_names[o->mode], qname,
		    it->res.why);
	}
}

/*
 * Commit the pending changes of n items in one durable transaction, then
 * log and print each.  A failed commit turns every item with a pending
 * change into a temporary failure (nothing of the batch was written).
 */
static void
commit_batch(og_cli *cli, const fb_opts *o, item *its, size_t n)
{
	size_t total = 0, k = 0;
	char qb[40];
	og_change *chs;
	int *results, *irc; /* irc: each report's own result */
	int rc = 0;
	size_t nwith = 0; /* reports with changes */

	/* A report that is to be retried is applied on its retry. */
	for (size_t i = 0; i < n; i++)
		if (its[i].out == O_TEMPFAIL)
			for (int j = 0; j < its[i].nslots; j++)
				its[i].slots[j].pending = 0;
	/* The same report twice in one batch counts once, too. */
	for (size_t i = 0; i < n; i++) {
		item *a = &its[i];
		slot *sa = a->nslots > 0 ? &a->slots[0] : NULL;

		total += (size_t)a->nslots;
		if (sa == NULL || !sa->pending ||
		    sa->ch.reason != OG_RS_COMPLAINT ||
		    a->r->message_id[0] == '\0')
			continue;
		for (size_t j = 0; j < i; j++) {
			item *b = &its[j];
			slot *sb = b->nslots > 0 ? &b->slots[0] : NULL;

			if (sb != NULL && sb->pending &&
			    sb->ch.reason == OG_RS_COMPLAINT &&
			    strcmp(sa->key, sb->key) == 0 &&
			    strcmp(a->r->message_id, b->r->message_id) == 0) {
				sa->pending = 0;
				logline(o, sa->display, a->r, sa->rcpt,
				    "duplicate", NULL);
				og_strlcpy(a->res.action, "duplicate",
				    sizeof(a->res.action));
				break;
			}
		}
	}
	chs = og_xcalloc(total ? total : 1, sizeof(*chs));
	results = og_xcalloc(total ? total : 1, sizeof(*results));
	irc = og_xcalloc(n ? n : 1, sizeof(*irc));
	for (size_t i = 0; i < n; i++) {
		size_t k0 = k;

		for (int j = 0; j < its[i].nslots; j++)
			if (its[i].slots[j].pending)
				chs[k++] = its[i].slots[j].ch;
		nwith += k > k0;
	}
	if (k > 0 && (rc = og_store_apply(cli->store, chs, k, results)) != 0)
		og_log_err("%s: %s: store write failed: %s (%zu changes%s)",
		    qid(o, qb, sizeof(qb)), mode_names[o->mode],
		    og_strerror(rc), k,
		    nwith > 1 ? ": each report again alone"
		              : " kept for a retry");
	/*
	 * One change that cannot go in (a damaged record, a record full)
	 * must not hold back the other reports of a maildir run on every
	 * run: each report alone, and only those that fail are retried.
	 */
	for (size_t i = 0, off = 0; i < n; i++) {
		size_t cnt = 0;

		for (int j = 0; j < its[i].nslots; j++)
			cnt += its[i].slots[j].pending != 0;
		if (rc != 0 && nwith > 1 && cnt > 0 &&
		    (irc[i] = og_store_apply(
		         cli->store, chs + off, cnt, results + off)) != 0)
			og_log_err("%s: %s: %s: store write failed: %s (kept "
			           "for a retry)",
			    qid(o, qb, sizeof(qb)), mode_names[o->mode],
			    its[i].label, og_strerror(irc[i]));
		else if (rc != 0 && nwith <= 1)
			irc[i] = rc;
		off += cnt;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		item *it = &its[i];

		for (int j = 0; j < it->nslots; j++) {
			slot *s = &it->slots[j];
			const char *w;

			if (!s->pending)
				continue;
			if (irc[i] != 0) {
				it->out = O_TEMPFAIL;
				k++;
				continue;
			}
			w = results[k] == OG_APPLIED ? s->done_word
			                             : "unchanged";
			/* (older: an unsubscribe mail that waited, and an
			 * opt-in given since) */
			if (results[k] == OG_SKIPPED_OLDER) {
				size_t dn = strlen(s->detail);

				snprintf(s->detail + dn, sizeof(s->detail) - dn,
				    " detail=newer-optin");
			}
			logline(o, s->display, it->r, s->rcpt, w,
			    results[k] == OG_SKIPPED_ERASED ? "address=erased"
			                                    : s->detail);
			k++;
			og_strlcpy(it->res.action, w, sizeof(it->res.action));
		}
		if (cli->json && it->out != O_TEMPFAIL)
			print_json(cli, o, it);
		else if (o->dry_run && !cli->json && o->mode == M_UNSUB) {
			printf("%s: unsubscribe %s - %s%s\n", it->label,
			    it->res.addr[0] ? it->res.addr : "-",
			    it->out == O_QUARANTINE ? "quarantine: "
			                            : "unsubscribe",
			    it->out == O_QUARANTINE ? it->res.why : "");
		} else if (o->dry_run && !cli->json) {
			const og_report *r = it->r;

			printf("%s: %s %s %s %s\n", it->label,
			    og_report_class_name(
			        it->prc == 0 ? r->class : OG_RC_UNKNOWN),
			    it->res.addr[0] ? it->res.addr
			    : r->nrcpt      ? r->rcpt[0].addr
			                    : "-",
			    r->nrcpt && r->rcpt[0].status[0] ? r->rcpt[0].status
			                                     : "-",
			    r->reason != NULL ? r->reason : "-");
		}
	}
	free(chs);
	free(results);
	free(irc);
}

#define BATCH_MAX 256

typedef struct batch {
	item its[BATCH_MAX];
	char *paths[BATCH_MAX]; /* maildir files to move when done */
	size_t n;
	int worst;
	char done_dir[PATH_MAX];
} batch;

static void
batch_flush(og_cli *cli, const fb_opts *o, batch *bt)
{
	commit_batch(cli, o, bt->its, bt->n);
	for (size_t i = 0; i < bt->n; i++) {
		item *it = &bt->its[i];

		if (it->out > bt->worst)
			bt->worst = it->out;
		if (bt->paths[i] != NULL && it->out != O_TEMPFAIL &&
		    !o->dry_run && mkdir_p(bt->done_dir) == 0) {
			char to[PATH_MAX];
			const char *base = strrchr(bt->paths[i], '/');

			base = base != NULL ? base + 1 : bt->paths[i];
			if ((size_t)snprintf(to, sizeof(to), "%s/%s",
			        bt->done_dir, base) < sizeof(to))
				(void)rename(bt->paths[i], to);
		}
		free(bt->paths[i]);
		bt->paths[i] = NULL;
		free(it->r);
		free(it->slots);
		free((char *)it->label);
		memset(it, 0, sizeof(*it));
	}
	bt->n = 0;
}

/* Add one message to the batch (flushing it when full). */
static void
batch_add(og_cli *cli, const fb_opts *o, batch *bt, const char *label,
    const char *path, const char *data, size_t len)
{
	item *it;

	if (bt->n == BATCH_MAX)
		batch_flush(cli, o, bt);
	it = &bt->its[bt->n];
	memset(it, 0, sizeof(*it));
	it->label = og_xstrdup(label);
	bt->paths[bt->n] = path != NULL ? og_xstrdup(path) : NULL;
	bt->n++;
	decide(cli, o, it, data, len);
}

static void
batch_file(og_cli *cli, const fb_opts *o, batch *bt, const char *path, int move)
{
	og_buf b;

	og_buf_init(&b, 0);
	if (read_file(path, &b) != 0) {
		og_log_err("%s: cannot read: %s", path, strerror(errno));
		bt->worst = O_TEMPFAIL;
	} else {
		batch_add(cli, o, bt, path, move ? path : NULL,
		    b.data ? b.data : "", b.len);
	}
	og_buf_free(&b);
}

/* Every file of DIR/new and DIR/cur; processed ones move to DIR/.done
 * (their copy is in the quarantine when they were kept for a human). */
static int
batch_maildir(og_cli *cli, const fb_opts *o, batch *bt, const char *dir)
{
	static const char *const subs[] = {"new", "cur"};

	snprintf(bt->done_dir, sizeof(bt->done_dir), "%s/.done", dir);
	for (size_t s = 0; s < 2; s++) {
		char path[PATH_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", dir, subs[s]);
		if ((d = opendir(path)) == NULL) {
			if (errno == ENOENT)
				continue;
			og_log_err("%s: %s", path, strerror(errno));
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			char f[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(f, sizeof(f), "%s/%s", path,
			        de->d_name) >= sizeof(f))
				continue;
			batch_file(cli, o, bt, f, 1);
		}
		closedir(d);
		batch_flush(cli, o, bt);
	}
	return 0;
}

/* One file on its own (quarantine retry): its outcome. */
static int
process_file(og_cli *cli, const fb_opts *o, const char *path)
{
	batch *bt = og_xcalloc(1, sizeof(*bt));
	int out;

	batch_file(cli, o, bt, path, 0);
	batch_flush(cli, o, bt);
	out = bt->worst;
	free(bt);
	return out;
}

/*
 * Load the token keys when there is a keys file.  One that is there but
 * cannot be read (not owned by the pipe's user=) is trouble to fix, not
 * a setup without tokens: every genuine token would be taken for a bad
 * one.  Returns 0 or -1 (logged).
 */
static int
keys_or_log(og_cli *cli, const char *what)
{
	if (access(cli->cfg->keys_file, F_OK) != 0 && errno == ENOENT)
		return 0;
	if (og_cli_keys(cli) != 0) {
		og_log_err("%s: cannot load the keys file %s, so no token "
		           "can be verified (see above)",
		    what, cli->cfg->keys_file);
		return -1;
	}
	return 0;
}

static int
feedback_main(og_cli *cli, int mode, int argc, char **argv)
{
	static const struct option lo[] = {{"dry-run", 0, NULL, 'n'},
	    {"maildir", 1, NULL, 'm'}, {"rcpt", 1, NULL, 'r'},
	    {"client", 1, NULL, 'C'}, {"queue-id", 1, NULL, 'q'},
	    {NULL, 0, NULL, 0}};
	char usage[200];
	const char *maildir = NULL;
	batch *bt;
	fb_opts o;
	int c, worst;

	snprintf(usage, sizeof(usage),
	    "%s [--dry-run] [--json] [--rcpt ADDR] [--client HOST] "
	    "[--queue-id ID] [--maildir DIR | FILE...]",
	    mode_names[mode]);
	memset(&o, 0, sizeof(o));
	o.mode = mode;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.dry_run = 1;
			break;
		case 'm':
			maildir = optarg;
			break;
		case 'r':
			o.rcpt = optarg;
			break;
		case 'C':
			o.client = optarg;
			break;
		case 'q':
			o.queue_id = optarg;
			break;
		default:
			/* a typo in master.cf's argv: an exit 2 would bounce
			 * every report (pipe(8) bounces on an exit status
			 * that is not EX_TEMPFAIL), an unsubscribe mail back
			 * to its sender; Postfix keeps them on 75 */
			og_cli_usage(usage);
			return OG_EXIT_TEMPFAIL;
		}
	}
	if (maildir != NULL && optind < argc) {
		og_cli_usage(usage);
		return OG_EXIT_TEMPFAIL;
	}
	og_report_init();
	/* Run by Postfix's pipe, stderr goes nowhere: the mail log is
	 * where an admin looks.  A copy stays on stderr for a terminal. */
	if (!o.dry_run)
		og_log_open("optgate", OG_LOG_BOTH);
	if (o.dry_run) {
		/* Without a config, dry runs still parse (defaults). */
		if (og_cli_config(cli) != 0)
			return OG_EXIT_USAGE;
		if (access(cli->cfg->keys_file, R_OK) == 0)
			(void)og_cli_keys(cli);
	} else {
		/* Pipe semantics: anything that keeps us from recording
		 * is a temporary failure, so Postfix retries.  Each says so
		 * in the mail log with the report's queue id (stderr alone
		 * reaches only pipe's status= text). */
		char qb[40], what[80];

		snprintf(what, sizeof(what), "%s: %s", qid(&o, qb, sizeof(qb)),
		    mode_names[mode]);
		if (og_cli_config(cli) != 0) {
			og_log_err(
			    "%s: the configuration cannot be used (optgate "
			    "config check says why); left in the queue "
			    "for a retry",
			    what);
			return OG_EXIT_TEMPFAIL;
		}
		if (og_cli_store(cli, 0) != 0) {
			og_log_err(
			    "%s: store cannot be opened: %s; left in the "
			    "queue for a retry",
			    what, cli->err);
			return OG_EXIT_TEMPFAIL;
		}
		if (keys_or_log(cli, what) != 0)
			return OG_EXIT_TEMPFAIL;
	}
	bt = og_xcalloc(1, sizeof(*bt));
	if (maildir != NULL) {
		if (batch_maildir(cli, &o, bt, maildir) != 0)
			bt->worst = O_TEMPFAIL;
	} else if (optind < argc) {
		for (int i = optind; i < argc; i++)
			batch_file(cli, &o, bt, argv[i], 0);
	} else {
		og_buf b;

		og_buf_init(&b, 0);
		if (read_all(0, &b, OG_REPORT_INPUT_MAX) != 0) {
			char qb[40];

			og_log_err("%s: %s: cannot read stdin: %s",
			    qid(&o, qb, sizeof(qb)), mode_names[mode],
			    strerror(errno));
			bt->worst = O_TEMPFAIL;
		} else {
			batch_add(cli, &o, bt, "-", NULL, b.data ? b.data : "",
			    b.len);
		}
		og_buf_free(&b);
	}
	batch_flush(cli, &o, bt);
	worst = bt->worst;
	free(bt);
	return worst == O_TEMPFAIL ? OG_EXIT_TEMPFAIL : OG_EXIT_OK;
}

int
cmd_bounce(og_cli *cli, int argc, char **argv)
{
	return feedback_main(cli, M_BOUNCE, argc, argv);
}

int
cmd_fbl(og_cli *cli, int argc, char **argv)
{
	return feedback_main(cli, M_FBL, argc, argv);
}

int
cmd_unsub_mail(og_cli *cli, int argc, char **argv)
{
	return feedback_main(cli, M_UNSUB, argc, argv);
}

/* ---------- quarantine list | retry ---------- */

static int
is_entry(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' &&
	       !(n > 7 && strcmp(name + n - 7, ".reason") == 0);
}

/* Read NAME.reason into mode / reason / rcpt / client / queue id (the
 * last two may be NULL). */
static void
read_reason(const char *dir, const char *name, char *mode, size_t ms,
    char *reason, size_t rs, char *rcpt, size_t rcs, char *client, size_t cs,
    char *queue_id, size_t qs)
{
	char path[PATH_MAX], line[1024];
	FILE *fp;

	mode[0] = reason[0] = rcpt[0] = '\0';
	if (client != NULL)
		client[0] = '\0';
	if (queue_id != NULL)
		queue_id[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s.reason", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "mode: ", 6) == 0)
			og_strlcpy(mode, line + 6, ms);
		else if (strncmp(line, "reason: ", 8) == 0)
			og_strlcpy(reason, line + 8, rs);
		else if (strncmp(line, "rcpt: ", 6) == 0)
			og_strlcpy(rcpt, line + 6, rcs);
		else if (client != NULL && strncmp(line, "client: ", 8) == 0)
			og_strlcpy(client, line + 8, cs);
		else if (queue_id != NULL &&
		         strncmp(line, "queue_id: ", 10) == 0)
			og_strlcpy(queue_id, line + 10, qs);
	}
	fclose(fp);
}

/*
 * When an entry was quarantined: its name starts with that time
 * (quarantine_save).  0 when it does not (a name given by hand).
 */
static int64_t
entry_time(const char *name)
{
	char *end;
	long long t;

	errno = 0;
	t = strtoll(name, &end, 10);
	return errno == 0 && end != name && *end == '.' && t > 0 ? (int64_t)t
	                                                         : 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Sorted entry names of the quarantine; *n gets the count.  A folder
 * that does not exist yet holds nothing (nothing was ever quarantined);
 * one that cannot be read is an error (-1, reported on stderr), since
 * "0 quarantined" would tell the admin there is nothing to look at.
 */
static int
list_entries(const char *dir, char ***names, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	int cap = 0;

	*n = 0;
	*names = NULL;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr,
		    "optgate: quarantine %s: %s (run optgate as the user= "
		    "of the pipe transports, e.g. runuser -u optgate -- "
		    "optgate quarantine list)\n",
		    dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_entry(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = og_xrealloc(v, (size_t)cap * sizeof(*v));
		}
		v[(*n)++] = og_xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 0)
		qsort(v, (size_t)*n, sizeof(*v), name_cmp);
	*names = v;
	return 0;
}

/*
 * The entry a retry argument names: NAME as listed, and also the path
 * to it or to its NAME.reason (what ls or a copied path gives).  Points
 * into arg, or into buf for a name without ".reason".
 */
static const char *
entry_arg(const char *arg, char *buf, size_t bufsize)
{
	const char *base = strrchr(arg, '/');
	size_t n;

	base = base != NULL ? base + 1 : arg;
	n = strlen(base);
	if (n > 7 && strcmp(base + n - 7, ".reason") == 0 && n - 7 < bufsize) {
		memcpy(buf, base, n - 7);
		buf[n - 7] = '\0';
		return buf;
	}
	return base;
}

/* One quarantined report as list shows it. */
struct qentry {
	char *name;
	char mode[32];
	char reason[512];
	long long size;
};

static int
digits(long long v)
{
	int d = 1;

	while (v >= 10 || v <= -10) {
		v /= 10;
		d++;
	}
	return d;
}

/*
 * optgate quarantine list: one line per report, name, kind, size and
 * reason, each column as wide as its widest entry (as ls -l aligns its
 * sizes), so that a long list reads down its columns.
 */
static int
quarantine_list(og_cli *cli, const char *dir)
{
	struct qentry *q;
	char **names;
	int n, i, wn = 0, wm = 0, ws = 1;
	og_buf b;

	if (list_entries(dir, &names, &n) != 0)
		return OG_EXIT_SYSTEM;
	q = og_xcalloc(n ? (size_t)n : 1, sizeof(*q));
	for (i = 0; i < n; i++) {
		char rcpt[400], path[PATH_MAX];
		struct stat sb;

		q[i].name = names[i];
		read_reason(dir, names[i], q[i].mode, sizeof(q[i].mode),
		    q[i].reason, sizeof(q[i].reason), rcpt, sizeof(rcpt), NULL,
		    0, NULL, 0);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		q[i].size = stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
		wn = og_width(wn, q[i].name);
		wm = og_width(wm, q[i].mode);
		if (digits(q[i].size) > ws)
			ws = digits(q[i].size);
	}
	og_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (cli->json) {
			og_buf_adds(&b, "{\"name\":");
			og_json_str(&b, q[i].name);
			og_buf_adds(&b, ",\"mode\":");
			og_json_str(&b, q[i].mode);
			og_buf_printf(
			    &b, ",\"size\":%lld,\"reason\":", q[i].size);
			og_json_str(&b, q[i].reason);
			og_buf_adds(&b, "}");
			og_cli_flush(&b);
		} else {
			printf("%-*s  %-*s  %*lld %-5s  %s\n", wn, q[i].name,
			    wm, q[i].mode, ws, q[i].size,
			    og_noun(
			        (unsigned long long)q[i].size, "byte", "bytes"),
			    q[i].reason);
		}
		free(q[i].name);
	}
	free(q);
	free(names);
	if (!cli->json)
		printf("%d quarantined in %s\n", n, dir);
	og_buf_free(&b);
	return OG_EXIT_OK;
}

int
cmd_quarantine(og_cli *cli, int argc, char **argv)
{
	const char *usage = "quarantine list | quarantine retry [NAME...]";
	const char *dir;
	char **names, *found = NULL;
	int n, rc, retried = 0, left = 0, tempfail = 0, missing = 0;
	og_buf b;

	if (argc < 2)
		return og_cli_usage(usage);
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	dir = cli->cfg->quarantine;
	og_buf_init(&b, 0);
	if (strcmp(argv[1], "list") == 0) {
		og_buf_free(&b);
		if (argc != 2)
			return og_cli_usage(usage);
		return quarantine_list(cli, dir);
	}
	if (strcmp(argv[1], "retry") != 0)
		return og_cli_usage(usage);
	if ((rc = og_cli_store(cli, 0)) != 0)
		return OG_EXIT_TEMPFAIL;
	/* What a retry decides goes where the pipe's decisions go, the mail
	 * log (a copy on stderr): a complaint acted on at retry was in no
	 * log at all, and an admin reading mail.log for a report's queue id
	 * found only its quarantine. */
	og_log_open("optgate", OG_LOG_BOTH);
	if (keys_or_log(cli, "quarantine retry") != 0)
		return OG_EXIT_TEMPFAIL;
	og_report_init();
	if (list_entries(dir, &names, &n) != 0)
		return OG_EXIT_SYSTEM;
	found = og_xcalloc((size_t)argc, 1);
	for (int i = 0; i < n; i++) {
		char mode[32], reason[512], rcpt[400], path[PATH_MAX];
		char rpath[PATH_MAX], client[300], eb[PATH_MAX], queue_id[40];
		fb_opts o;
		int out, want = argc == 2;

		for (int j = 2; j < argc; j++)
			if (strcmp(entry_arg(argv[j], eb, sizeof(eb)),
			        names[i]) == 0)
				want = found[j] = 1;
		if (!want) {
			free(names[i]);
			continue;
		}
		read_reason(dir, names[i], mode, sizeof(mode), reason,
		    sizeof(reason), rcpt, sizeof(rcpt), client, sizeof(client),
		    queue_id, sizeof(queue_id));
		memset(&o, 0, sizeof(o));
		o.mode = strcmp(mode, "fbl") == 0          ? M_FBL
		         : strcmp(mode, "unsub-mail") == 0 ? M_UNSUB
		                                           : M_BOUNCE;
		o.rcpt = rcpt[0] ? rcpt : NULL;
		o.client = client[0] ? client : NULL;
		o.queue_id = queue_id[0] ? queue_id : NULL;
		o.retry_file = names[i];
		/* it was with us by then: judged as of then at the latest */
		o.upto = entry_time(names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(rpath, sizeof(rpath), "%s/%s.reason", dir, names[i]);
		out = process_file(cli, &o, path);
		retried++;
		if (out == O_DONE) {
			unlink(path);
			unlink(rpath);
		} else if (out == O_TEMPFAIL) {
			tempfail++;
			left++;
		} else {
			left++;
		}
		free(names[i]);
	}
	free(names);
	og_buf_free(&b);
	/* A mistyped name must not look like a retry that worked. */
	for (int j = 2; j < argc; j++) {
		if (found[j])
			continue;
		fprintf(stderr,
		    "optgate: quarantine retry: %s: not in the quarantine %s "
		    "(optgate quarantine list names what is there)\n",
		    argv[j], dir);
		missing++;
	}
	free(found);
	if (!cli->json)
		printf("%d retried, %d processed, %d still quarantined\n",
		    retried, retried - left, left);
	return tempfail ? OG_EXIT_TEMPFAIL : missing ? OG_EXIT_NO : OG_EXIT_OK;
}

/* ---------- erase: the quarantined reports that name a person ---------- */

/*
 * Who a quarantined report is about, as the processors would see it, and
 * whether it names the person being erased anywhere in it.
 */
#define QE_OTHERS_MAX 64
typedef struct qe_scan {
	og_cli *cli;
	const char *key; /* the erased person's match key */
	og_addr *a;      /* scratch */
	int names;       /* the report or its reason names her */
	char (*others)[OG_ADDR_MAX + 1]; /* other people it is about */
	int nothers;
} qe_scan;

static void
qe_key(qe_scan *q, const char *key)
{
	if (key[0] == '\0')
		return;
	if (strcmp(key, q->key) == 0) {
		q->names = 1;
		return;
	}
	for (int i = 0; i < q->nothers; i++)
		if (strcmp(q->others[i], key) == 0)
			return;
	if (q->nothers < QE_OTHERS_MAX)
		og_strlcpy(q->others[q->nothers++], key, OG_ADDR_MAX + 1);
}

/* A person the report is about: the recipient of a bounce or complaint,
 * the sender of an unsubscribe mail. */
static void
qe_subject(qe_scan *q, const char *s)
{
	if (s != NULL && s[0] != '\0' &&
	    og_addr_parse(s, strlen(s), &q->cli->cfg->rules, q->a) == 0)
		qe_key(q, q->a->key);
}

static int
qe_local_char(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c);
}

static int
qe_domain_char(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || c == '.' || c == '-';
}

/*
 * Does the text hold her address in any form that matches her key (case,
 * provider rules, Unicode or A-label domain)?  Every "local@domain" run is
 * parsed as the store parses addresses.
 */
static int
qe_text(qe_scan *q, const char *s, size_t n)
{
	const char *p = s, *end = s + n;

	while ((p = memchr(p, '@', (size_t)(end - p))) != NULL) {
		const char *l = p, *r = p + 1;

		while (
		    l > s && p - l < 64 && qe_local_char((unsigned char)l[-1]))
			l--;
		while (r < end && r - p <= 255 &&
		       qe_domain_char((unsigned char)*r))
			r++;
		while (r > p + 1 && r[-1] == '.')
			r--;
		while (l < p && *l == '.')
			l++;
		if (l < p && r > p + 1 &&
		    og_addr_parse(
		        l, (size_t)(r - l), &q->cli->cfg->rules, q->a) == 0 &&
		    strcmp(q->a->key, q->key) == 0)
			return 1;
		p++;
	}
	return 0;
}

/*
 * The text as it is, then as GMime reads it (encoded words, quoted-
 * printable and base64 parts, charsets, attached messages decoded:
 * og_report_text).
 */
static int
qe_views(qe_scan *q, const char *s, size_t n)
{
	og_buf d;
	int hit;

	if (qe_text(q, s, n))
		return 1;
	og_buf_init(&d, (size_t)16 << 20);
	og_report_text(s, n, &d);
	hit = d.len > 0 && qe_text(q, d.data, d.len);
	og_buf_free(&d);
	return hit;
}

/* Add every token of the local part of address a (unsub+TOKEN@). */
static void
qe_local_tokens(og_report *r, const char *a)
{
	const char *at = strrchr(a, '@');

	og_report_add_tokens(r, a, at != NULL ? (size_t)(at - a) : strlen(a));
}

/*
 * Look at one entry: q->names says whether it names her, q->others whom
 * else it is about.  Returns 0, or -1 when it cannot be read (errno).
 */
static int
qe_entry(qe_scan *q, const char *dir, const char *name)
{
	char mode[32], reason[512], rcpt[400], path[PATH_MAX];
	og_report *r;
	og_buf m, rt;
	int rc = 0, unsub;

	read_reason(dir, name, mode, sizeof(mode), reason, sizeof(reason), rcpt,
	    sizeof(rcpt), NULL, 0, NULL, 0);
	unsub = strcmp(mode, "unsub-mail") == 0;
	og_buf_init(&m, 0);
	og_buf_init(&rt, 0);
	snprintf(path, sizeof(path), "%s/%s.reason", dir, name);
	/* the reason file names the recipient of a bounce without a token,
	 * and the envelope address it came to (a VERP token) */
	if (read_file(path, &rt) != 0 && errno != ENOENT)
		rc = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rc == 0 && read_file(path, &m) != 0)
		rc = -1;
	if (rc != 0) {
		int e = errno;

		og_buf_free(&m);
		og_buf_free(&rt);
		errno = e;
		return -1;
	}
	q->names = 0;
	q->nothers = 0;
	r = og_xcalloc(1, sizeof(*r));
	(void)og_report_parse(m.data, m.len, rcpt[0] ? rcpt : NULL, r);
	if (unsub) {
		/* a person's own mail: its sender, and the tokens unsub-mail
		 * reads (the address it came to, the subject, the body) */
		qe_subject(q, r->from);
		qe_local_tokens(r, rcpt[0] ? rcpt : r->to);
		og_report_add_tokens(r, r->subject, strlen(r->subject));
		og_report_add_tokens(r, r->body, strlen(r->body));
	} else {
		for (int i = 0; i < r->nrcpt; i++) {
			qe_subject(q, r->rcpt[i].addr);
			qe_subject(q, r->rcpt[i].orig);
		}
		qe_subject(q, r->orig_to);
	}
	/* a token names its person whatever else the report says, also an
	 * expired one or one of a stream since removed */
	for (int i = 0; q->cli->keys != NULL && i < r->ntokens; i++) {
		og_token_info ti;

		if (og_token_open(q->cli->keys, r->tokens[i],
		        strlen(r->tokens[i]), &ti) == 0)
			qe_key(q, ti.key);
	}
	if (!q->names) {
		const char *f[] = {r->from, r->to, r->subject, r->body,
		    r->orig_to, r->orig_from, r->orig_return_path,
		    r->orig_mail_from, r->orig_headers};

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && !q->names;
		     i++)
			q->names = qe_text(q, f[i], strlen(f[i]));
		if (!q->names)
			q->names = qe_text(q, rt.data, rt.len) ||
			           qe_views(q, m.data, m.len);
	}
	free(r);
	og_buf_free(&m);
	og_buf_free(&rt);
	return 0;
}

int
og_quarantine_erase(
    og_cli *cli, const og_addr *a, int drop_shared, og_qerase *res)
{
	const char *dir = cli->cfg->quarantine;
	char **names;
	qe_scan q;
	int n, rc = 0;

	memset(res, 0, sizeof(*res));
	if (list_entries(dir, &names, &n) != 0)
		return -1;
	if (n == 0) {
		free(names);
		return 0;
	}
	/* Without the keys, a report that names her only by her token
	 * (a VERP address, a List-Unsubscribe link) would be missed. */
	if (access(cli->cfg->keys_file, F_OK) == 0 && og_cli_keys(cli) != 0) {
		og_log_err("erase: quarantine %s not searched: cannot load the "
		           "keys file %s, so the reports that name the address "
		           "only by its token cannot be told",
		    dir, cli->cfg->keys_file);
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return -1;
	}
	og_report_init();
	memset(&q, 0, sizeof(q));
	q.cli = cli;
	q.key = a->key;
	q.a = og_xcalloc(1, sizeof(*q.a));
	q.others = og_xcalloc(QE_OTHERS_MAX, sizeof(*q.others));
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], rpath[PATH_MAX];

		if (qe_entry(&q, dir, names[i]) != 0) {
			if (errno != ENOENT) {
				og_log_err("erase: quarantine %s/%s: cannot "
				           "read it: %s",
				    dir, names[i], strerror(errno));
				res->errors++;
				rc = -1;
			}
		} else if (!q.names) {
			/* not hers */
		} else if (q.nothers > 0 && !drop_shared) {
			og_log_warn("erase: quarantine: kept %s: it names the "
			            "erased address and %d other person%s; "
			            "optgate erase --drop-shared removes it",
			    names[i], q.nothers, q.nothers == 1 ? "" : "s");
			res->kept++;
		} else {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			snprintf(rpath, sizeof(rpath), "%s/%s.reason", dir,
			    names[i]);
			/* the reason first: a leftover message is still
			 * listed, and found again by the next erase */
			if ((unlink(rpath) != 0 && errno != ENOENT) ||
			    unlink(path) != 0) {
				og_log_err("erase: quarantine: cannot remove "
				           "%s: %s",
				    names[i], strerror(errno));
				res->errors++;
				rc = -1;
			} else {
				og_log_info("erase: quarantine: removed %s: "
				            "it named the erased address%s",
				    names[i],
				    q.nothers > 0 ? " (and other people: "
				                    "--drop-shared)"
				                  : "");
				res->removed++;
			}
		}
		free(names[i]);
	}
	free(names);
	free(q.a);
	free(q.others);
	if (res->removed > 0 && og_sync_path(dir) != 0) {
		og_log_err("erase: quarantine %s: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}
