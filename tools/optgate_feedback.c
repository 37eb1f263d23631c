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
 *   soft bounce  counted; [feedback] soft_bounce within its period gives
 *                a temporary suppression of soft_bounce_suppress;
 *   complaint    suppression, scope [feedback] complaint_scope, once per
 *                report (a report id already in the address's history is
 *                a duplicate);
 *   unsubscribe  opt-out, scope [unsubd] scope, proof From + Message-ID.
 * What cannot be used is kept in [feedback] quarantine with the reason.
 *
 * Exit codes follow Postfix pipe(8): 0 when recorded, ignored or
 * quarantined; 75 (EX_TEMPFAIL) when the store cannot be opened or
 * written, or the quarantine cannot be written, so Postfix keeps the
 * message and retries.  A processor of bounces never bounces: usage
 * errors are the only other exit (2).
 *
 * Every decision is one log line:
 *   optgate: bounce: to=<a> class=hard status=5.1.1 action=suppressed
 *   scope=all reason=user-unknown report=<id>
 *
 * LIMITS: one message at most OG_REPORT_INPUT_MAX bytes (larger ones are
 * quarantined unread past the cap); quarantine file names are generated,
 * never taken from input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const char *rcpt;   /* envelope recipient (pipe ${original_recipient}) */
	const char *client; /* client hostname or address (FBL trust) */
	const char *retry_file; /* set by quarantine retry: do not re-save */
} fb_opts;

typedef struct fb_result {
	char why[1024];     /* quarantine reason or log detail */
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

static int
mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t n;

	if (og_strlcpy(tmp, dir, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	n = strlen(tmp);
	for (size_t i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		tmp[i] = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -1;
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
 * Keep the message in the quarantine folder: NAME (the message, as
 * received) and NAME.reason ("mode: ...\nreason: ...\n").  The message
 * is written first and renamed into place last, so a listed entry is
 * always complete.  Returns 0 or -1 (errno kept).
 */
static int
quarantine_save(og_cli *cli, int mode, const char *data, size_t len,
    const char *reason, const char *rcpt, char *name, size_t namesize)
{
	static unsigned seq;
	char tmp[PATH_MAX], fin[PATH_MAX], rs[PATH_MAX];
	og_buf r;
	const char *dir = cli->cfg->quarantine;
	struct timespec ts;
	int rc;

	if (mkdir_p(dir) != 0)
		return -1;
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
	og_buf_init(&r, 0);
	og_buf_printf(&r, "mode: %s\nreason: ", mode_names[mode]);
	og_buf_add_escaped(&r, reason, strlen(reason), 200);
	og_buf_adds(&r, "\n");
	if (rcpt != NULL && rcpt[0] != '\0') {
		og_buf_adds(&r, "rcpt: ");
		og_buf_add_escaped(&r, rcpt, strlen(rcpt), 320);
		og_buf_adds(&r, "\n");
	}
	rc = write_file(tmp, data, len);
	if (rc == 0 && write_file(rs, r.data, r.len) != 0) {
		unlink(tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, fin) != 0) {
		unlink(tmp);
		unlink(rs);
		rc = -1;
	}
	og_buf_free(&r);
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

		if (og_store_get_sends(tx, key, cli->cfg->streams[i].name, t, 1,
		    &n) == 0 && n > 0)
			found = 1;
	}
	og_store_rend(tx);
	free(rec);
	return found;
}

typedef struct who {
	og_addr addr;            /* parsed recipient (when from an address) */
	char key[OG_ADDR_MAX + 1];
	char display[OG_ADDR_MAX + 1];
	const og_stream *stream; /* from the token, or NULL */
	int by_token;
	int forged;              /* a token-shaped candidate failed */
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

		if (og_token_open(cli->keys, r->tokens[i],
		    strlen(r->tokens[i]), &ti) != 0)
			continue;
		if (ti.purpose != OG_TOKEN_UNSUB)
			continue;
		og_strlcpy(w->key, ti.key, sizeof(w->key));
		og_strlcpy(w->display, ti.key, sizeof(w->display));
		w->stream = og_config_stream_by_id(cli->cfg, ti.stream_id);
		w->by_token = 1;
		return 1;
	}
	return 0;
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

/* The domain part of an address, or NULL. */
static const char *
domain_of(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* Scope name for a suppression of the given scope, or NULL for ALL. */
static int
scope_name(const og_report *r, const who *w, int scope, char *name,
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
		/* The gate names a sender by its envelope domain. */
		d = domain_of(r->orig_mail_from);
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
 * A reporter is trusted when the report's From domain, its Reporting-MTA
 * or the SMTP client (pipe ${client_hostname} / ${client_address}) is,
 * or is under, a [feedback] trusted_reporters entry.  The From domain is
 * only as good as the DMARC check in front of this transport.
 */
static int
trusted(og_cli *cli, const fb_opts *o, const og_report *r)
{
	const char *fd = domain_of(r->from);

	for (int i = 0; i < cli->cfg->ntrusted_reporters; i++) {
		const char *e = cli->cfg->trusted_reporters[i];

		if (host_in(fd, e) || host_in(r->reporting_mta, e) ||
		    host_in(o->client, e))
			return 1;
	}
	return 0;
}

/* ---------- applying ---------- */

static void
logline(const fb_opts *o, const char *to, const og_report *r,
    const char *action, const char *detail)
{
	og_buf b;
	const og_report_rcpt *rc = r->nrcpt > 0 ? &r->rcpt[0] : NULL;

	og_buf_init(&b, 0);
	og_buf_printf(&b, "%s: to=<", mode_names[o->mode]);
	og_buf_add_escaped(&b, to, strlen(to), 320);
	og_buf_printf(&b, "> class=%s", og_report_class_name(r->class));
	if (rc != NULL && rc->status[0] != '\0')
		og_buf_printf(&b, " status=%s", rc->status);
	og_buf_printf(&b, " action=%s", action);
	if (detail != NULL && detail[0] != '\0') {
		og_buf_adds(&b, " ");
		og_buf_add_escaped(&b, detail, strlen(detail), 300);
	}
	og_buf_printf(&b, " reason=%s", r->reason != NULL ? r->reason : "-");
	if (r->message_id[0] != '\0') {
		og_buf_adds(&b, " report=");
		og_buf_add_escaped(&b, r->message_id, strlen(r->message_id),
		    200);
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

static int
apply_one(og_cli *cli, og_change *ch, int *result)
{
	int rc = og_store_apply(cli->store, ch, 1, result);

	if (rc != 0)
		og_log_err("store write failed: %s", og_strerror(rc));
	return rc;
}

/* The proof fields every change from a report carries. */
static void
report_fields(og_change *ch, const og_report *r, char *note, size_t nsize)
{
	const og_report_rcpt *rc = r->nrcpt > 0 ? &r->rcpt[0] : NULL;

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
	snprintf(note, nsize, "format=%s reason=%s%s%s%s%s", r->format,
	    r->reason != NULL ? r->reason : "-",
	    r->feedback_type[0] ? " feedback-type=" : "", r->feedback_type,
	    r->arrival_date[0] ? " arrival-date=" : "", r->arrival_date);
	ch->f[OG_EVF_NOTE] = note;
}

static int
handle_bounce_or_fbl(og_cli *cli, const fb_opts *o, const og_report *r,
    fb_result *res)
{
	og_change ch;
	who w;
	int result = 0, rc, err, klass = r->class;
	char name[OG_STREAM_NAME_MAX + 1], note[OG_EVF_MAX + 1];
	int64_t now = og_time_now();

	memset(&w, 0, sizeof(w));
	if (klass == OG_RC_IGNORE) {
		logline(o, r->nrcpt ? r->rcpt[0].addr : "", r, "ignored", NULL);
		og_strlcpy(res->action, "ignored", sizeof(res->action));
		return O_DONE;
	}
	if (klass == OG_RC_UNKNOWN) {
		snprintf(res->why, sizeof(res->why), "not a report: %.200s",
		    r->reason != NULL ? r->reason : "unknown");
		return O_QUARANTINE;
	}
	if (o->mode == M_FBL && klass != OG_RC_COMPLAINT) {
		snprintf(res->why, sizeof(res->why),
		    "not a complaint (%s) at the FBL address",
		    og_report_class_name(klass));
		return O_QUARANTINE;
	}
	if (klass == OG_RC_COMPLAINT && !trusted(cli, o, r)) {
		snprintf(res->why, sizeof(res->why),
		    "reporter not trusted: from=%.200s mta=%.200s client=%.200s "
		    "(see [feedback] trusted_reporters)", r->from,
		    r->reporting_mta, o->client ? o->client : "");
		return O_QUARANTINE;
	}
	if (!who_by_token(cli, r, &w)) {
		int ok = 0;

		for (int i = 0; i < r->nrcpt && !ok; i++)
			ok = who_by_addr(cli, r->rcpt[i].addr, &w);
		if (!ok) {
			snprintf(res->why, sizeof(res->why),
			    "no recipient found (%s)",
			    r->ntokens ? "no token verified" : "no token");
			return O_QUARANTINE;
		}
		/* Without our token, only act on addresses we mail: a
		 * report about anyone else is backscatter or forgery. */
		if (!known_address(cli, w.key, &err)) {
			if (err != 0) {
				og_log_err("store read failed: %s",
				    og_strerror(err));
				return O_TEMPFAIL;
			}
			og_strlcpy(res->addr, w.display, sizeof(res->addr));
			logline(o, w.display, r, "ignored",
			    "detail=unknown-address");
			og_strlcpy(res->action, "ignored-unknown",
			    sizeof(res->action));
			return O_DONE;
		}
	}
	og_strlcpy(res->addr, w.display, sizeof(res->addr));

	memset(&ch, 0, sizeof(ch));
	ch.key = w.key;
	ch.raw = w.by_token ? NULL : w.addr.raw;
	ch.kind = OG_EV_SUPPRESS;
	ch.state = OG_ST_SUPPRESSED;
	ch.time = now;
	ch.f[OG_EVF_SOURCE] = mode_names[o->mode];
	report_fields(&ch, r, note, sizeof(note));

	if (klass == OG_RC_COMPLAINT) {
		if (duplicate(cli, w.key, r->message_id)) {
			logline(o, w.display, r, "duplicate", NULL);
			og_strlcpy(res->action, "duplicate",
			    sizeof(res->action));
			return O_DONE;
		}
		ch.scope = (uint8_t)scope_name(r, &w, cli->cfg->complaint_scope,
		    name, sizeof(name));
		ch.reason = OG_RS_COMPLAINT;
		ch.via = OG_VIA_FBL;
	} else if (klass == OG_RC_HARD) {
		ch.scope = (uint8_t)scope_name(r, &w,
		    cli->cfg->hard_bounce_scope, name, sizeof(name));
		ch.reason = OG_RS_HARD_BOUNCE;
		ch.via = OG_VIA_BOUNCE;
	} else {
		int count = 0;
		char det[96];

		rc = og_store_soft_bounce(cli->store, w.key, now,
		    (int64_t)cli->cfg->soft_bounce.period, &count);
		if (rc != 0) {
			og_log_err("store write failed: %s", og_strerror(rc));
			return O_TEMPFAIL;
		}
		snprintf(det, sizeof(det), "soft_bounces=%d/%u", count,
		    cli->cfg->soft_bounce.limit);
		if ((unsigned)count < cli->cfg->soft_bounce.limit) {
			logline(o, w.display, r, "counted", det);
			og_strlcpy(res->action, "counted", sizeof(res->action));
			return O_DONE;
		}
		ch.scope = OG_SCOPE_ALL;
		ch.reason = OG_RS_SOFT_BOUNCE;
		ch.via = OG_VIA_BOUNCE;
		ch.expires = now + cli->cfg->soft_bounce_suppress;
	}
	ch.name = name[0] ? name : NULL;
	if (apply_one(cli, &ch, &result) != 0)
		return O_TEMPFAIL;
	{
		char det[OG_STREAM_NAME_MAX + 32];

		snprintf(det, sizeof(det), "scope=%s%s%s%s",
		    og_scope_name(ch.scope), name[0] ? ":" : "", name,
		    w.by_token ? " by=token" : "");
		logline(o, w.display, r, result == OG_APPLIED ? "suppressed" :
		    "unchanged", det);
	}
	og_strlcpy(res->action, result == OG_APPLIED ? "suppressed" :
	    "unchanged", sizeof(res->action));
	return O_DONE;
}

static int
handle_unsub(og_cli *cli, const fb_opts *o, og_report *r, fb_result *res)
{
	og_change ch;
	who w;
	int result = 0;
	char proof[OG_REPORT_FIELD_MAX + 8];

	memset(&w, 0, sizeof(w));
	/* Some clients put the token in the subject or the body. */
	og_report_add_tokens(r, r->subject, strlen(r->subject));
	og_report_add_tokens(r, r->body, strlen(r->body));
	if (!who_by_token(cli, r, &w)) {
		snprintf(res->why, sizeof(res->why), "%s",
		    r->ntokens ? "bad token" : "no token");
		return O_QUARANTINE;
	}
	og_strlcpy(res->addr, w.display, sizeof(res->addr));
	memset(&ch, 0, sizeof(ch));
	ch.key = w.key;
	ch.kind = OG_EV_OPTOUT;
	ch.state = OG_ST_OPTOUT;
	ch.via = OG_VIA_MAIL;
	ch.time = og_time_now();
	ch.scope = (uint8_t)cli->cfg->unsubd_scope;
	ch.name = NULL;
	if (ch.scope == OG_SCOPE_STREAM && w.stream != NULL)
		ch.name = w.stream->name;
	else if (ch.scope == OG_SCOPE_PARTNER && w.stream != NULL &&
	    w.stream->partner != NULL)
		ch.name = w.stream->partner;
	else if (ch.scope == OG_SCOPE_SENDER && w.stream != NULL &&
	    w.stream->sender != NULL)
		ch.name = w.stream->sender;
	else
		ch.scope = OG_SCOPE_ALL;
	snprintf(proof, sizeof(proof), "from=%s", r->from);
	ch.f[OG_EVF_SOURCE] = "unsub-mail";
	ch.f[OG_EVF_PROOF] = proof;
	if (r->message_id[0] != '\0')
		ch.f[OG_EVF_MESSAGE_ID] = r->message_id;
	if (apply_one(cli, &ch, &result) != 0)
		return O_TEMPFAIL;
	{
		char det[OG_STREAM_NAME_MAX + 32];

		snprintf(det, sizeof(det), "scope=%s%s%s",
		    og_scope_name(ch.scope), ch.name ? ":" : "",
		    ch.name ? ch.name : "");
		r->reason = "unsubscribe";
		logline(o, w.display, r, result == OG_APPLIED ? "unsubscribed" :
		    "unchanged", det);
	}
	og_strlcpy(res->action, result == OG_APPLIED ? "unsubscribed" :
	    "unchanged", sizeof(res->action));
	return O_DONE;
}

/* ---------- one message ---------- */

static void
print_json(og_cli *cli, const char *file, const og_report *r, int prc,
    const fb_result *res)
{
	og_buf b;
	const og_report_rcpt *rc = r->nrcpt > 0 ? &r->rcpt[0] : NULL;

	og_buf_init(&b, 0);
	og_buf_adds(&b, "{\"file\":");
	og_json_str(&b, file);
	og_buf_adds(&b, ",\"class\":");
	og_json_str(&b, og_report_class_name(prc == 0 ? r->class :
	    OG_RC_UNKNOWN));
	og_buf_adds(&b, ",\"recipient\":");
	og_json_str(&b, res != NULL && res->addr[0] ? res->addr :
	    rc != NULL ? rc->addr : "");
	og_buf_adds(&b, ",\"status\":");
	og_json_str(&b, rc != NULL ? rc->status : "");
	og_buf_adds(&b, ",\"reason\":");
	og_json_str(&b, r->reason != NULL ? r->reason : "");
	og_buf_adds(&b, ",\"format\":");
	og_json_str(&b, r->format != NULL ? r->format : "none");
	if (rc != NULL && rc->diag[0] != '\0') {
		og_buf_adds(&b, ",\"diagnostic\":");
		og_json_str(&b, rc->diag);
	}
	if (r->nrcpt > 1) {
		og_buf_adds(&b, ",\"recipients\":[");
		for (int i = 0; i < r->nrcpt; i++) {
			if (i)
				og_buf_addc(&b, ',');
			og_json_str(&b, r->rcpt[i].addr);
		}
		og_buf_addc(&b, ']');
	}
	if (res != NULL && res->action[0] != '\0') {
		og_buf_adds(&b, ",\"action\":");
		og_json_str(&b, res->action);
	}
	if (res != NULL && res->why[0] != '\0') {
		og_buf_adds(&b, ",\"quarantine\":");
		og_json_str(&b, res->why);
	}
	og_buf_adds(&b, "}");
	(void)cli;
	og_cli_flush(&b);
	og_buf_free(&b);
}

/*
 * Process one message; returns an outcome.  label names it in output
 * ("-" for stdin).
 */
static int
process(og_cli *cli, const fb_opts *o, const char *label, const char *data,
    size_t len)
{
	og_report *r = og_xcalloc(1, sizeof(*r));
	fb_result res;
	int prc, out;
	char qname[128];

	memset(&res, 0, sizeof(res));
	prc = og_report_parse(data, len, o->rcpt, r);
	if (o->dry_run) {
		/* Acts on nothing: the token is still tried when keys are
		 * there, as it decides the recipient. */
		if (prc == 0 && cli->keys != NULL) {
			who w;

			memset(&w, 0, sizeof(w));
			if (who_by_token(cli, r, &w))
				og_strlcpy(res.addr, w.display,
				    sizeof(res.addr));
		}
		if (cli->json)
			print_json(cli, label, r, prc, &res);
		else
			printf("%s: %s %s %s %s\n", label,
			    og_report_class_name(prc == 0 ? r->class :
			    OG_RC_UNKNOWN), res.addr[0] ? res.addr :
			    r->nrcpt ? r->rcpt[0].addr : "-",
			    r->nrcpt && r->rcpt[0].status[0] ?
			    r->rcpt[0].status : "-",
			    r->reason != NULL ? r->reason : "-");
		free(r);
		return O_DONE;
	}
	if (prc != 0) {
		snprintf(res.why, sizeof(res.why), "unparseable: %.200s",
		    r->reason != NULL ? r->reason : og_strerror(prc));
		out = O_QUARANTINE;
	} else if (o->mode == M_UNSUB) {
		out = handle_unsub(cli, o, r, &res);
	} else {
		out = handle_bounce_or_fbl(cli, o, r, &res);
	}
	if (out == O_QUARANTINE) {
		if (o->retry_file != NULL) {
			og_log_info("%s: %s: still quarantined: %s",
			    mode_names[o->mode], o->retry_file, res.why);
		} else if (quarantine_save(cli, o->mode, data, len, res.why,
		    o->rcpt, qname, sizeof(qname)) != 0) {
			og_log_err("%s: cannot write quarantine %s: %s",
			    mode_names[o->mode], cli->cfg->quarantine,
			    strerror(errno));
			out = O_TEMPFAIL;
		} else {
			og_log_warn("%s: quarantined as %s: %s",
			    mode_names[o->mode], qname, res.why);
		}
	}
	if (cli->json && out != O_TEMPFAIL)
		print_json(cli, label, r, prc, &res);
	free(r);
	return out;
}

static int
process_file(og_cli *cli, const fb_opts *o, const char *path)
{
	og_buf b;
	int out;

	og_buf_init(&b, 0);
	if (read_file(path, &b) != 0) {
		og_log_err("%s: cannot read: %s", path, strerror(errno));
		og_buf_free(&b);
		return O_TEMPFAIL;
	}
	out = process(cli, o, path, b.data ? b.data : "", b.len);
	og_buf_free(&b);
	return out;
}

/* Every file of DIR/new and DIR/cur; processed ones move to DIR/.done
 * unless dry-run; quarantined ones too (their copy is in quarantine). */
static int
process_maildir(og_cli *cli, const fb_opts *o, const char *dir, int *worst)
{
	static const char *const subs[] = {"new", "cur"};
	char done[PATH_MAX];

	snprintf(done, sizeof(done), "%s/.done", dir);
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
			char f[PATH_MAX], to[PATH_MAX];
			int out;

			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(f, sizeof(f), "%s/%s", path,
			    de->d_name) >= sizeof(f))
				continue;
			out = process_file(cli, o, f);
			if (out > *worst)
				*worst = out;
			if (out == O_TEMPFAIL || o->dry_run)
				continue;
			if (mkdir_p(done) == 0 &&
			    (size_t)snprintf(to, sizeof(to), "%s/%s", done,
			    de->d_name) < sizeof(to))
				(void)rename(f, to);
		}
		closedir(d);
	}
	return 0;
}

static int
feedback_main(og_cli *cli, int mode, int argc, char **argv)
{
	static const struct option lo[] = {{"dry-run", 0, NULL, 'n'},
	    {"maildir", 1, NULL, 'm'}, {"rcpt", 1, NULL, 'r'},
	    {"client", 1, NULL, 'C'}, {NULL, 0, NULL, 0}};
	char usage[160];
	const char *maildir = NULL;
	fb_opts o;
	int c, rc, worst = O_DONE;

	snprintf(usage, sizeof(usage), "%s [--dry-run] [--json] [--rcpt ADDR] "
	    "[--client HOST] [--maildir DIR | FILE...]", mode_names[mode]);
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
		default:
			return og_cli_usage(usage);
		}
	}
	if (maildir != NULL && optind < argc)
		return og_cli_usage(usage);
	og_report_init();
	if (o.dry_run) {
		/* Without a config, dry runs still parse (defaults). */
		if ((rc = og_cli_config(cli)) != 0)
			return rc;
		if (access(cli->cfg->keys_file, R_OK) == 0)
			(void)og_cli_keys(cli);
	} else {
		/* Pipe semantics: anything that keeps us from recording
		 * is a temporary failure, so Postfix retries. */
		if (og_cli_config(cli) != 0)
			return OG_EXIT_TEMPFAIL;
		if (og_cli_store(cli, 0) != 0)
			return OG_EXIT_TEMPFAIL;
		if (access(cli->cfg->keys_file, R_OK) == 0 &&
		    og_cli_keys(cli) != 0)
			return OG_EXIT_TEMPFAIL;
	}
	if (maildir != NULL) {
		if (process_maildir(cli, &o, maildir, &worst) != 0)
			return OG_EXIT_TEMPFAIL;
	} else if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			int out = process_file(cli, &o, argv[i]);

			if (out > worst)
				worst = out;
		}
	} else {
		og_buf b;

		og_buf_init(&b, 0);
		if (read_all(0, &b, OG_REPORT_INPUT_MAX) != 0) {
			og_log_err("%s: cannot read stdin: %s",
			    mode_names[mode], strerror(errno));
			og_buf_free(&b);
			return OG_EXIT_TEMPFAIL;
		}
		worst = process(cli, &o, "-", b.data ? b.data : "", b.len);
		og_buf_free(&b);
	}
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

	return name[0] != '.' && !(n > 7 && strcmp(name + n - 7, ".reason")
	    == 0);
}

/* Read NAME.reason into mode / reason / rcpt. */
static void
read_reason(const char *dir, const char *name, char *mode, size_t ms,
    char *reason, size_t rs, char *rcpt, size_t rcs)
{
	char path[PATH_MAX], line[1024];
	FILE *fp;

	mode[0] = reason[0] = rcpt[0] = '\0';
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
	}
	fclose(fp);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of the quarantine; *n gets the count. */
static char **
list_entries(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	int cap = 0;

	*n = 0;
	if (d == NULL)
		return NULL;
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
	return v;
}

int
cmd_quarantine(og_cli *cli, int argc, char **argv)
{
	const char *usage = "quarantine list | quarantine retry [NAME...]";
	const char *dir;
	char **names;
	int n, rc, retried = 0, left = 0, tempfail = 0;
	og_buf b;

	if (argc < 2)
		return og_cli_usage(usage);
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	dir = cli->cfg->quarantine;
	og_buf_init(&b, 0);
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return og_cli_usage(usage);
		names = list_entries(dir, &n);
		for (int i = 0; i < n; i++) {
			char mode[32], reason[512], rcpt[400], path[PATH_MAX];
			struct stat sb;

			read_reason(dir, names[i], mode, sizeof(mode), reason,
			    sizeof(reason), rcpt, sizeof(rcpt));
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			if (stat(path, &sb) != 0)
				sb.st_size = 0;
			if (cli->json) {
				og_buf_adds(&b, "{\"name\":");
				og_json_str(&b, names[i]);
				og_buf_adds(&b, ",\"mode\":");
				og_json_str(&b, mode);
				og_buf_printf(&b, ",\"size\":%lld,\"reason\":",
				    (long long)sb.st_size);
				og_json_str(&b, reason);
				og_buf_adds(&b, "}");
				og_cli_flush(&b);
			} else {
				printf("%s  %s  %lld bytes  %s\n", names[i],
				    mode, (long long)sb.st_size, reason);
			}
			free(names[i]);
		}
		free(names);
		if (!cli->json)
			printf("%d quarantined in %s\n", n, dir);
		og_buf_free(&b);
		return OG_EXIT_OK;
	}
	if (strcmp(argv[1], "retry") != 0)
		return og_cli_usage(usage);
	if ((rc = og_cli_store(cli, 0)) != 0)
		return OG_EXIT_TEMPFAIL;
	if (access(cli->cfg->keys_file, R_OK) == 0 &&
	    og_cli_keys(cli) != 0)
		return OG_EXIT_TEMPFAIL;
	og_report_init();
	names = list_entries(dir, &n);
	for (int i = 0; i < n; i++) {
		char mode[32], reason[512], rcpt[400], path[PATH_MAX];
		char rpath[PATH_MAX];
		fb_opts o;
		int out, want = argc == 2;

		for (int j = 2; j < argc; j++)
			if (strcmp(argv[j], names[i]) == 0)
				want = 1;
		if (!want) {
			free(names[i]);
			continue;
		}
		read_reason(dir, names[i], mode, sizeof(mode), reason,
		    sizeof(reason), rcpt, sizeof(rcpt));
		memset(&o, 0, sizeof(o));
		o.mode = strcmp(mode, "fbl") == 0 ? M_FBL :
		    strcmp(mode, "unsub-mail") == 0 ? M_UNSUB : M_BOUNCE;
		o.rcpt = rcpt[0] ? rcpt : NULL;
		o.retry_file = names[i];
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
	if (!cli->json)
		printf("%d retried, %d processed, %d still quarantined\n",
		    retried, retried - left, left);
	return tempfail ? OG_EXIT_TEMPFAIL : OG_EXIT_OK;
}
