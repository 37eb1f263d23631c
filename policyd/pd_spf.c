/*
 * pd_spf.c - SPF evaluation in helper processes (see pd_spf.h).
 *
 * Public: pd_spf_new, pd_spf_free, pd_spf_configure, pd_spf_check,
 * pd_spf_cancel, pd_spf_event, pd_spf_tick, pd_spf_owns, pd_spf_name,
 * pd_spf_helper_main.
 *
 * Daemon side: a FIFO of queries (one per sender local part and domain,
 * with the connections waiting for it), PD_SPF_HELPERS helper slots each
 * busy with at most one query, and a hash cache.  Helper protocol, one
 * line each way:
 *   daemon -> helper   "DOMAIN IP[,IP...] LOCAL[ HELO[ MS]]\n"
 *   helper -> daemon   "RESULT TTL[l] IP DETAIL\n"
 * where LOCAL is the sender's local part, HELO the name records see as
 * %{h} ([spf] helo; "-", or none from a daemon older than it: the
 * helper's host name, see helo_default), MS the milliseconds left before
 * the daemon gives the query up (see eval_all), RESULT a pd_spf_name, TTL the
 * shortest TTL of the SPF records read (the domain's, its includes' and
 * redirects'), in seconds (-1 unknown; 0 is a TTL: not cached), "l"
 * after it says that a record looked at uses the local part (%{l}, %{s}:
 * the result is cached for that sender, not for the domain), IP the
 * egress address the result is about (the first one refused, which ends
 * the evaluation, else the first whose check failed) and DETAIL free
 * text.  A query not answered within the timeout of its
 * arrival is a temperror (its helper, if it has one, is killed); a
 * helper that crashes (SIGSEGV, SIGABRT, ...), exits or says something
 * else is a permerror for that domain, cached briefly so a hostile
 * record cannot make us fork in a loop; one killed by another signal
 * (kill -9, the OOM killer) is a temperror, not cached.
 *
 * Helper side: libspf2 with its caching resolver over res_query, so
 * /etc/resolv.conf decides the DNS server.  The helper runs as the
 * daemon's user with no core dumps, few file descriptors, an address
 * space limit (except under a sanitizer) and SIGKILL when the daemon dies.
 * A helper that cannot be started at all (exec fails: exit 127) is a
 * temperror: that is not the record's fault, and mail must wait, not be
 * refused.
 *
 * LIMITS: PD_SPF_CACHE_MAX cached domains and senders (the cache is
 * emptied when full); domains over 253 bytes are a permerror; a local
 * part over 64 bytes or with a space, '@', '"' or a control character is
 * evaluated as "postmaster" (RFC 7208 4.3's stand-in).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/nameser.h>
#include <resolv.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_resolv.h>

#include "og_buf.h"
#include "og_log.h"
#include "og_time.h"
#include "pd_spf.h"

#define DOMAIN_MAX 253
#define LOCAL_MAX 64
#define KEY_MAX (LOCAL_MAX + 1 + DOMAIN_MAX) /* LOCAL@DOMAIN */
#define LINE_MAX_ 512
/* "DOMAIN IP,... LOCAL HELO MS\n" and its NUL */
#define QUERY_MAX                                                              \
	(DOMAIN_MAX + OG_SPF_EGRESS_TEXT + LOCAL_MAX + DOMAIN_MAX + 21 + 6)
#define CRASH_CACHE_MS (300 * 1000)
/* A "none" (no record, so no TTL) is cached this long at most. */
#define PD_SPF_NONE_MS (300 * 1000)
#define CACHE_BUCKETS 4096
/* Egress addresses evaluated at once, one child each (og_config: 32). */
#define EVAL_MAX 32

/* Sanitizer runtimes map terabytes of shadow: no RLIMIT_AS for them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static const char *const names[] = {
    "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"};

struct waiter {
	void (*done)(void *, const pd_spf_res *);
	void *ctx;
};

struct query {
	char domain[DOMAIN_MAX + 1];
	char local[LOCAL_MAX + 1];
	struct waiter *w;
	int nw, capw;
	int64_t deadline; /* mono ms: arrival + timeout, queue included */
	unsigned gen;     /* pd_spf.gen when sent to a helper */
	struct query *next;
};

struct helper {
	pid_t pid;
	int wfd, rfd;
	char buf[LINE_MAX_];
	size_t len;
	struct query *q;
};

/* Keyed by DOMAIN, or LOCAL@DOMAIN for a record naming the local part. */
struct centry {
	char key[KEY_MAX + 1];
	pd_spf_res res;
	int64_t expires;
	struct centry *next;
};

struct pd_spf {
	int epfd;
	char *exe;
	char egress[OG_SPF_EGRESS_TEXT];
	int negress;
	char helo[DOMAIN_MAX + 1]; /* "": the helper's default */
	int64_t timeout_ms, ttl_ms;
	struct helper h[PD_SPF_HELPERS];
	struct query *qhead, *qtail;
	struct centry *cache[CACHE_BUCKETS];
	int ncache;
	unsigned gen; /* of the settings: one per pd_spf_configure */
};

const char *
pd_spf_name(int result)
{
	if (result < 0 || result > PD_SPF_TEMPERROR)
		return "?";
	return names[result];
}

static int
name_parse(const char *s)
{
	int i;

	for (i = 0; i <= PD_SPF_TEMPERROR; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- */
/* Cache */

static unsigned
dhash(const char *s)
{
	unsigned h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % CACHE_BUCKETS;
}

static void
cache_clear(pd_spf *s)
{
	int i;

	for (i = 0; i < CACHE_BUCKETS; i++)
		while (s->cache[i]) {
			struct centry *e = s->cache[i];

			s->cache[i] = e->next;
			free(e);
		}
	s->ncache = 0;
}

static const struct centry *
cache_get(pd_spf *s, const char *key)
{
	struct centry **pp, *e;
	int64_t now = og_mono_ms();

	for (pp = &s->cache[dhash(key)]; (e = *pp) != NULL;) {
		if (e->expires <= now) {
			*pp = e->next;
			free(e);
			s->ncache--;
			continue;
		}
		if (strcmp(e->key, key) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

/* The cache key of a result: per sender when it used the local part. */
static void
cache_key(char *key, size_t size, const struct query *q, int per_sender)
{
	if (per_sender)
		snprintf(key, size, "%s@%s", q->local, q->domain);
	else
		og_strlcpy(key, q->domain, size);
}

static void
cache_put(pd_spf *s, const char *key, const pd_spf_res *r, int64_t ms)
{
	struct centry *e;
	unsigned h;

	if (ms <= 0 || cache_get(s, key))
		return;
	if (s->ncache >= PD_SPF_CACHE_MAX)
		cache_clear(s);
	e = og_xcalloc(1, sizeof(*e));
	og_strlcpy(e->key, key, sizeof(e->key));
	e->res = *r;
	e->expires = og_mono_ms() + ms;
	h = dhash(key);
	e->next = s->cache[h];
	s->cache[h] = e;
	s->ncache++;
}

/* ---------------------------------------------------------------- */
/* Queries and helpers */

/*
 * Close a helper's pipes and reap it (SIGKILL first with kill_it).
 * Returns its wait status, or -1 when it was reset already: no pid is
 * signalled then (kill(0) or kill(-1) would hit far more than it).
 */
static int
helper_reset(pd_spf *s, struct helper *h, int kill_it)
{
	int st = 0;

	if (h->pid <= 0)
		return -1;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, h->rfd, NULL);
	close(h->rfd);
	close(h->wfd);
	if (kill_it)
		kill(h->pid, SIGKILL);
	while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
		;
	h->pid = 0;
	h->len = 0;
	return st;
}

static int
helper_spawn(pd_spf *s, struct helper *h)
{
	int in[2], out[2];
	pid_t pid;
	struct epoll_event ev;

	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		og_log_err("SPF helper: fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (pid == 0) {
		struct rlimit rl;
		char *argv[] = {"optgate-policyd", PD_SPF_HELPER_ARG, NULL};
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		/* Under spawn(8) stderr is Postfix's socket. */
		if (fcntl(2, F_GETFD) < 0 || !isatty(2)) {
			fd = open("/dev/null", O_WRONLY);
			if (fd >= 0 && fd != 2) {
				dup2(fd, 2);
				close(fd);
			}
		}
		rl.rlim_cur = rl.rlim_max = 0;
		setrlimit(RLIMIT_CORE, &rl);
		rl.rlim_cur = rl.rlim_max = 64;
		setrlimit(RLIMIT_NOFILE, &rl);
#ifndef UNDER_SANITIZER
		rl.rlim_cur = rl.rlim_max = 256UL << 20;
		setrlimit(RLIMIT_AS, &rl);
#endif
		signal(SIGPIPE, SIG_DFL);
		execv(s->exe, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	h->pid = pid;
	h->wfd = in[1];
	h->rfd = out[0];
	h->len = 0;
	fcntl(h->rfd, F_SETFL, fcntl(h->rfd, F_GETFL) | O_NONBLOCK);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = h;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, h->rfd, &ev) != 0) {
		og_log_err("SPF helper: epoll_ctl: %s", strerror(errno));
		helper_reset(s, h, 1);
		return -1;
	}
	return 0;
}

/*
 * Answer everyone waiting for q, then free it.  q is detached already.
 * per_sender: the result is about q's local part, not its whole domain.
 */
static void
finish(pd_spf *s, struct query *q, const pd_spf_res *r, int64_t cache_ms,
    int per_sender)
{
	char key[KEY_MAX + 1];
	int i;

	cache_key(key, sizeof(key), q, per_sender);
	cache_put(s, key, r, cache_ms);
	for (i = 0; i < q->nw; i++)
		if (q->w[i].done)
			q->w[i].done(q->w[i].ctx, r);
	free(q->w);
	free(q);
}

/*
 * Copy src into dst (size bytes); a text too long for it (libspf2's
 * Received-SPF value runs to 200 characters) ends at the last whole word
 * that fits, with "...", not in the middle of an address or a name.
 */
static void
detail_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src), cut;

	if (n < size) {
		memcpy(dst, src, n + 1);
		return;
	}
	cut = size - 4; /* room for "..." */
	while (cut > size / 2 && src[cut] != ' ')
		cut--;
	if (src[cut] != ' ')
		cut = size - 4; /* one long word: cut it */
	memcpy(dst, src, cut);
	memcpy(dst + cut, "...", 4);
}

static void
res_set(pd_spf_res *r, int result, const char *ip, const char *detail)
{
	memset(r, 0, sizeof(*r));
	r->result = result;
	og_strlcpy(r->ip, ip ? ip : "", sizeof(r->ip));
	detail_copy(r->detail, sizeof(r->detail), detail);
}

/* Whether a helper evaluates DOMAIN (for any sender) now. */
static int
in_flight(const pd_spf *s, const char *domain)
{
	int i;

	for (i = 0; i < PD_SPF_HELPERS; i++)
		if (s->h[i].q && s->h[i].q->gen == s->gen &&
		    strcmp(s->h[i].q->domain, domain) == 0)
			return 1;
	return 0;
}

/* Detach queued query q; prev is the one before it (NULL: the head). */
static void
unqueue(pd_spf *s, struct query *prev, struct query *q)
{
	if (prev)
		prev->next = q->next;
	else
		s->qhead = q->next;
	if (s->qtail == q)
		s->qtail = prev;
	q->next = NULL;
}

/*
 * A result about q's whole domain (its record does not name the local
 * part) answers the queries for other senders of the domain that waited
 * for it (dispatch() holds them back), cached or not (a DNS timeout).
 * They are all taken off the queue before any is answered: an answer
 * may start its connection's next request, whose dispatch() would give
 * one of them, still queued, to a helper.
 */
static void
share(pd_spf *s, const struct query *q, const pd_spf_res *r)
{
	struct query *p, *prev = NULL, *next, *mine = NULL, **tail = &mine;

	for (p = s->qhead; p; p = next) {
		next = p->next;
		if (strcmp(p->domain, q->domain) != 0) {
			prev = p;
			continue;
		}
		unqueue(s, prev, p);
		*tail = p;
		tail = &p->next;
	}
	for (p = mine; p; p = next) {
		next = p->next;
		finish(s, p, r, 0, 0);
	}
}

/*
 * Give queued queries to idle helpers, oldest first, but one domain at a
 * time: senders with their own local parts (VERP bounce addresses) of a
 * domain whose DNS does not answer would otherwise take every helper for
 * the whole timeout, and other domains' checks would wait and tempfail.
 */
static void
dispatch(pd_spf *s)
{
	int i;

	for (i = 0; i < PD_SPF_HELPERS && s->qhead; i++) {
		struct helper *h = &s->h[i];
		struct query *q, *prev = NULL;
		char line[QUERY_MAX];
		int64_t left;
		int n;

		if (h->q)
			continue;
		for (q = s->qhead; q && in_flight(s, q->domain); q = q->next)
			prev = q;
		if (q == NULL)
			return;
		if (h->pid <= 0 && helper_spawn(s, h) != 0)
			return; /* queued queries time out in pd_spf_tick */
		left = q->deadline - og_mono_ms();
		n = snprintf(line, sizeof(line), "%s %s %s %s %lld\n",
		    q->domain, s->egress, q->local, s->helo[0] ? s->helo : "-",
		    (long long)(left > 0 ? left : 1));
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    write(h->wfd, line, (size_t)n) != n) {
			/* A helper that cannot take a line is broken. */
			og_log_warn("SPF helper %d: write: %s", (int)h->pid,
			    strerror(errno));
			helper_reset(s, h, 1);
			continue;
		}
		unqueue(s, prev, q);
		/*
		 * The deadline stays the one set at its arrival: time spent
		 * waiting for a free helper counts, or a query queued behind
		 * slow ones (a DNS outage) would be answered only after
		 * twice the timeout, past smtpd_policy_service_timeout.
		 */
		q->gen = s->gen;
		h->q = q;
	}
}

pd_spf *
pd_spf_new(int epfd, const char *exe)
{
	pd_spf *s = og_xcalloc(1, sizeof(*s));

	s->epfd = epfd;
	s->exe = og_xstrdup(exe);
	s->timeout_ms = 5000;
	s->ttl_ms = 3600 * 1000;
	return s;
}

void
pd_spf_free(pd_spf *s)
{
	int i;
	pd_spf_res r;

	if (s == NULL)
		return;
	res_set(&r, PD_SPF_TEMPERROR, "", "shutting down");
	for (i = 0; i < PD_SPF_HELPERS; i++) {
		struct query *q = s->h[i].q;

		helper_reset(s, &s->h[i], 1);
		s->h[i].q = NULL;
		if (q)
			finish(s, q, &r, 0, 0);
	}
	while (s->qhead) {
		struct query *q = s->qhead;

		s->qhead = q->next;
		finish(s, q, &r, 0, 0);
	}
	cache_clear(s);
	free(s->exe);
	free(s);
}

void
pd_spf_configure(pd_spf *s, char *const *egress, int n, const char *helo,
    int64_t timeout, int64_t cache_ttl)
{
	og_buf b;
	int i;

	og_buf_init(&b, sizeof(s->egress) - 1);
	for (i = 0; i < n; i++)
		if (og_buf_printf(&b, "%s%s", i ? "," : "", egress[i]) != 0)
			og_log_err("[spf] egress: too many addresses; using "
			           "the first %d",
			    i);
	og_strlcpy(s->egress, b.data ? b.data : "", sizeof(s->egress));
	og_buf_free(&b);
	s->negress = n;
	/* (og_config checked it: a host name, no blanks, 253 at most) */
	og_strlcpy(s->helo, helo ? helo : "", sizeof(s->helo));
	s->timeout_ms = timeout * 1000;
	s->ttl_ms = cache_ttl * 1000;
	/* New addresses, HELO name or lifetimes: old answers no longer
	 * apply, nor do those of checks under way (about the old ones). */
	cache_clear(s);
	s->gen++;
}

/* A local part the helper line and libspf2 can carry as it is. */
static int
local_ok(const char *local)
{
	const unsigned char *p = (const unsigned char *)local;

	if (local == NULL || *local == 0 || strlen(local) > LOCAL_MAX)
		return 0;
	for (; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '@' || *p == '"')
			return 0;
	return 1;
}

static int
query_is(const struct query *q, const char *domain, const char *local)
{
	return strcmp(q->domain, domain) == 0 && strcmp(q->local, local) == 0;
}

int
pd_spf_check(pd_spf *s, const char *domain, const char *local, pd_spf_res *out,
    void (*done)(void *ctx, const pd_spf_res *r), void *ctx)
{
	const struct centry *e;
	struct query *q = NULL;
	char key[KEY_MAX + 1];
	int i;

	if (strlen(domain) > DOMAIN_MAX || strchr(domain, ' ') ||
	    strchr(domain, '\n')) {
		res_set(out, PD_SPF_PERMERROR, "", "bad domain");
		return 1;
	}
	if (!local_ok(local))
		local = "postmaster";
	snprintf(key, sizeof(key), "%s@%s", local, domain);
	if ((e = cache_get(s, domain)) != NULL ||
	    (e = cache_get(s, key)) != NULL) {
		*out = e->res;
		return 1;
	}
	for (i = 0; i < PD_SPF_HELPERS && q == NULL; i++)
		if (s->h[i].q && s->h[i].q->gen == s->gen &&
		    query_is(s->h[i].q, domain, local))
			q = s->h[i].q;
	if (q == NULL)
		for (q = s->qhead; q && !query_is(q, domain, local);
		     q = q->next)
			;
	if (q == NULL) {
		q = og_xcalloc(1, sizeof(*q));
		og_strlcpy(q->domain, domain, sizeof(q->domain));
		og_strlcpy(q->local, local, sizeof(q->local));
		q->deadline = og_mono_ms() + s->timeout_ms;
		if (s->qtail)
			s->qtail->next = q;
		else
			s->qhead = q;
		s->qtail = q;
	}
	if (q->nw == q->capw) {
		q->capw = q->capw ? q->capw * 2 : 4;
		q->w = og_xrealloc(q->w, (size_t)q->capw * sizeof(*q->w));
	}
	q->w[q->nw].done = done;
	q->w[q->nw].ctx = ctx;
	q->nw++;
	dispatch(s);
	return 0;
}

void
pd_spf_cancel(pd_spf *s, void *ctx)
{
	struct query *q;
	int i, j;

	for (i = 0; i < PD_SPF_HELPERS; i++)
		if ((q = s->h[i].q) != NULL)
			for (j = 0; j < q->nw; j++)
				if (q->w[j].ctx == ctx)
					q->w[j].done = NULL;
	for (q = s->qhead; q; q = q->next)
		for (j = 0; j < q->nw; j++)
			if (q->w[j].ctx == ctx)
				q->w[j].done = NULL;
}

int
pd_spf_owns(const pd_spf *s, const void *tag)
{
	const char *p = tag, *a = (const char *)&s->h[0];

	return p >= a && p < a + sizeof(s->h);
}

/* Signals an evaluation raises itself when it goes wrong. */
static int
crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
	       sig == SIGILL || sig == SIGABRT || sig == SIGSYS ||
	       sig == SIGTRAP;
}

/*
 * The helper crashed or talked nonsense: a permerror for its domain.  It
 * could not start, or was killed from outside: a temperror.  said: it
 * talked nonsense (why), so the SIGKILL that ends it is ours and its
 * end tells nothing more.
 */
static void
helper_failed(pd_spf *s, struct helper *h, const char *why, int said)
{
	struct query *q = h->q;
	int st = 0, sig = 0;
	char detail[160];
	pd_spf_res r;

	if ((st = helper_reset(s, h, 1)) < 0)
		return;
	if (WIFSIGNALED(st) && !said)
		sig = WTERMSIG(st);
	h->q = NULL;
	if (!said && !sig && WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		if (q) {
			og_log_err("SPF helper for %s: cannot start %s",
			    q->domain, s->exe);
			res_set(&r, PD_SPF_TEMPERROR, "",
			    "SPF helper cannot start");
			finish(s, q, &r, 0, 0);
		}
		return;
	}
	/*
	 * Killed from outside (kill -9, the OOM killer, systemd's final
	 * SIGKILL): not the record's fault, so no refusal and nothing
	 * cached; the mail waits and the next check runs again.
	 */
	if (sig && !crash_signal(sig)) {
		if (q) {
			og_log_warn("SPF helper for %s: killed (signal %d)",
			    q->domain, sig);
			res_set(&r, PD_SPF_TEMPERROR, "", "SPF helper killed");
			finish(s, q, &r, 0, 0);
		}
		return;
	}
	if (sig)
		snprintf(detail, sizeof(detail),
		    "SPF evaluation crashed "
		    "(signal %d)",
		    sig);
	else
		snprintf(
		    detail, sizeof(detail), "SPF evaluation failed: %s", why);
	if (q) {
		og_log_warn("SPF helper for %s: %s", q->domain, detail);
		res_set(&r, PD_SPF_PERMERROR, "", detail);
		if (q->gen == s->gen)
			share(s, q, &r);
		finish(s, q, &r,
		    s->ttl_ms < CRASH_CACHE_MS ? s->ttl_ms : CRASH_CACHE_MS, 0);
	}
}

static void
helper_line(pd_spf *s, struct helper *h, char *line)
{
	struct query *q = h->q;
	char *f[4], *p = line;
	int i, result, per_sender = 0;
	long ttl;
	char *end;
	pd_spf_res r;
	int64_t ms;

	for (i = 0; i < 3; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (p == NULL)
			break;
		*p++ = 0;
	}
	f[3] = p;
	if (i < 3 || q == NULL || (result = name_parse(f[0])) < 0) {
		helper_failed(s, h, "garbled answer", 1);
		return;
	}
	errno = 0;
	ttl = strtol(f[1], &end, 10);
	if (*end == 'l') {
		per_sender = 1;
		end++;
	}
	if (errno || *end || ttl < 0)
		ttl = -1;
	res_set(&r, result, f[2], f[3]);
	h->q = NULL;
	if (result == PD_SPF_TEMPERROR || q->gen != s->gen)
		ms = 0;
	else if (ttl >= 0 && ttl * 1000 < s->ttl_ms)
		/* A TTL of 0 is one: use it now, keep it never. */
		ms = ttl * 1000;
	else
		ms = s->ttl_ms;
	if (result == PD_SPF_NONE && ms > PD_SPF_NONE_MS)
		/* No record, so no TTL to honour: a sender who publishes
		 * one after a refusal waits minutes, not cache_ttl. */
		ms = PD_SPF_NONE_MS;
	og_log_debug("SPF %s%s%s: %s for %s (%s), cached %llds",
	    per_sender ? q->local : "", per_sender ? "@" : "", q->domain,
	    pd_spf_name(result), r.ip, r.detail, (long long)(ms / 1000));
	if (!per_sender && q->gen == s->gen)
		share(s, q, &r);
	finish(s, q, &r, ms, per_sender);
}

void
pd_spf_event(pd_spf *s, void *tag, uint32_t events)
{
	struct helper *h = tag;
	ssize_t n;
	char *nl;

	/* An event of this batch for a helper that dispatch() found dead
	 * and reset meanwhile: its fds are closed (or already reused). */
	if (h->pid <= 0)
		return;
	for (;;) {
		n = read(h->rfd, h->buf + h->len, sizeof(h->buf) - 1 - h->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			helper_failed(s, h,
			    n == 0 ? "helper exited" : strerror(errno), 0);
			dispatch(s);
			return;
		}
		h->len += (size_t)n;
		h->buf[h->len] = 0;
		while ((nl = memchr(h->buf, '\n', h->len)) != NULL) {
			size_t used = (size_t)(nl - h->buf) + 1;

			*nl = 0;
			helper_line(s, h, h->buf);
			/*
			 * Reset meanwhile (a garbled line; a write to it that
			 * failed when finish() started a waiting connection's
			 * next check): its buffer is gone, and the slot may
			 * hold a new helper already.
			 */
			if (h->pid <= 0 || h->len < used) {
				dispatch(s);
				return;
			}
			memmove(h->buf, h->buf + used, h->len - used);
			h->len -= used;
		}
		if (h->pid <= 0)
			break;
		if (h->len >= sizeof(h->buf) - 1) {
			helper_failed(s, h, "answer too long", 1);
			break;
		}
	}
	dispatch(s);
}

void
pd_spf_tick(pd_spf *s)
{
	int64_t now = og_mono_ms();
	char detail[160];
	pd_spf_res r;
	int i;

	for (i = 0; i < PD_SPF_HELPERS; i++) {
		struct helper *h = &s->h[i];
		struct query *q = h->q;

		if (q == NULL || now < q->deadline)
			continue;
		og_log_warn("SPF check of %s: no answer within %llds; killing "
		            "the helper",
		    q->domain, (long long)(s->timeout_ms / 1000));
		h->q = NULL;
		helper_reset(s, h, 1);
		snprintf(detail, sizeof(detail), "no DNS answer within %llds",
		    (long long)(s->timeout_ms / 1000));
		res_set(&r, PD_SPF_TEMPERROR, "", detail);
		if (q->gen == s->gen)
			share(s, q, &r);
		finish(s, q, &r, 0, 0);
	}
	while (s->qhead && now >= s->qhead->deadline) {
		struct query *q = s->qhead;

		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		og_log_warn("SPF check of %s: no helper free within %llds",
		    q->domain, (long long)(s->timeout_ms / 1000));
		res_set(&r, PD_SPF_TEMPERROR, "", "SPF helpers busy");
		finish(s, q, &r, 0, 0);
	}
	dispatch(s);
}

/* ---------------------------------------------------------------- */
/* The helper process */

static int
map_result(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return PD_SPF_PASS;
	case SPF_RESULT_FAIL:
		return PD_SPF_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return PD_SPF_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return PD_SPF_NEUTRAL;
	case SPF_RESULT_NONE:
		return PD_SPF_NONE;
	case SPF_RESULT_TEMPERROR:
		return PD_SPF_TEMPERROR;
	default:
		return PD_SPF_PERMERROR;
	}
}

/* One line of free text: printable, no newline. */
static void
clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/*
 * Whether a record the evaluation looked at names the sender's local part
 * (%{l}, %{s}, or %{L}, %{S}): its result is then about this sender only.
 * A DNS layer over libspf2's resolver sees every TXT record it reads.
 */
static int uses_local;

static void
note_local_macros(const char *txt)
{
	const char *p;

	for (p = txt; (p = strchr(p, '%')) != NULL; p++)
		if (p[1] == '{' &&
		    (p[2] == 'l' || p[2] == 'L' || p[2] == 's' || p[2] == 'S'))
			uses_local = 1;
}

/*
 * RFC 7208 4.6.4: at most 10 terms that look DNS up (include, a, mx, ptr,
 * exists, redirect) in the whole evaluation, includes and redirects
 * included; one more is a permerror.  libspf2 1.2.10 counts per record
 * (an include starts again at 0) and one past its limit, so a record
 * that receivers refuse for "too many DNS lookups" passed here.  We
 * count in our DNS layer: a record fetched after the first is an include
 * or redirect; an MX, PTR, A or AAAA lookup is a term, except the
 * address lookups of the host names an MX or PTR answer gave (libspf2
 * makes those at once, in order).  An explanation (exp=) is not fetched
 * as a record and does not count, as the RFC says.  Past the limit every
 * lookup is answered "not found" without asking DNS, and the result is
 * a permerror whatever libspf2 makes of the rest.
 */
#define LOOKUP_MAX 10
#define SUB_MAX 10 /* libspf2's max_dns_mx and max_dns_ptr */

/*
 * RFC 7208 4.6.4 also: at most 2 "void lookups", terms whose lookup
 * finds nothing (NXDOMAIN, or no record of the type asked); a third is
 * a permerror.  libspf2 1.2.10 (RFC 4408) has no such limit, so a
 * record like "a:gone1 a:gone2 a:gone3 ip4:OURS -all" passed here and
 * is a permerror at receivers.  Counted per term (a, mx, ptr, exists
 * lookups), as the RFC says: the addresses of an mx's or ptr's host
 * names are not terms, and a void include or redirect is a permerror
 * of its own.
 */
#define VOID_MAX 2

static int nrecords, nlookups, over_limit, nvoids, over_void;
static char subs[SUB_MAX][DOMAIN_MAX + 2];
static int nsubs, isub;

/* A term's lookup that found nothing, not one that failed (temperror). */
static void
note_void(const SPF_dns_rr_t *rr)
{
	if (rr && rr->num_rr == 0 &&
	    (rr->herrno == HOST_NOT_FOUND || rr->herrno == NO_DATA) &&
	    ++nvoids > VOID_MAX)
		over_void = 1;
}

/*
 * The smallest TTL of the SPF records an evaluation read (-1: none read):
 * the sender domain's, and each include's and redirect's.  A result is
 * only as fresh as the shortest-lived of them: a domain whose record
 * (TTL 1 h) includes its provider's (5 min) sees the provider's change
 * at receivers within 5 minutes, and must here too.
 */
static long rec_ttl;
static long txt_ttl(const char *domain);

/*
 * The records whose TTL this request has read: each egress address is
 * evaluated on its own and reads the same records again, and a TTL is
 * one more TXT query (txt_ttl), asked once per record, not per address.
 */
static char ttl_read[LOOKUP_MAX + 1][DOMAIN_MAX + 2];
static int nttl_read;

static void
note_ttl(const char *domain)
{
	long t;
	int i;

	for (i = 0; i < nttl_read; i++)
		if (strcasecmp(ttl_read[i], domain) == 0)
			return;
	if (nttl_read < LOOKUP_MAX + 1 && strlen(domain) <= DOMAIN_MAX + 1)
		og_strlcpy(ttl_read[nttl_read++], domain, sizeof(ttl_read[0]));
	if ((t = txt_ttl(domain)) >= 0 && (rec_ttl < 0 || t < rec_ttl))
		rec_ttl = t;
}

static SPF_dns_rr_t *
watch_lookup(SPF_dns_server_t *d, const char *domain, ns_type type, int cache)
{
	SPF_dns_rr_t *rr;
	int i, term = 0;

	if (type == ns_t_a || type == ns_t_aaaa) {
		if (isub < nsubs && strcasecmp(domain, subs[isub]) == 0)
			isub++;
		else {
			term = 1;
			if (++nlookups > LOOKUP_MAX)
				over_limit = 1;
		}
	}
	if (type == ns_t_mx || type == ns_t_ptr) {
		nsubs = isub = 0;
		term = 1;
		if (++nlookups > LOOKUP_MAX)
			over_limit = 1;
	}
	if ((over_limit || over_void) && type != ns_t_txt)
		return SPF_dns_rr_new_init(d, domain, type, 0, HOST_NOT_FOUND);
	rr = SPF_dns_lookup(d->layer_below, domain, type, cache);
	if (term)
		note_void(rr);
	if (rr && (type == ns_t_txt || type == ns_t_spf)) {
		for (i = 0; i < rr->num_rr; i++)
			if (rr->rr[i])
				note_local_macros(rr->rr[i]->txt);
		/* (libspf2's resolver layer leaves rr->ttl 0) */
		if (rr->num_rr > 0)
			note_ttl(domain);
	}
	if (rr && (type == ns_t_mx || type == ns_t_ptr))
		for (i = 0; i < rr->num_rr && nsubs < SUB_MAX; i++)
			if (rr->rr[i])
				og_strlcpy(subs[nsubs++],
				    type == ns_t_mx ? rr->rr[i]->mx
				                    : rr->rr[i]->ptr,
				    sizeof(subs[0]));
	return rr;
}

static SPF_dns_server_t watch;

/* Every SPF record libspf2 fetches: the sender domain's, then each
 * include's and redirect's (see LOOKUP_MAX). */
static SPF_errcode_t
watch_get_spf(SPF_server_t *srv, SPF_request_t *rq, SPF_response_t *rs,
    SPF_record_t **rec)
{
	SPF_errcode_t err;

	nsubs = isub = 0;
	if (nrecords++ > 0 && ++nlookups > LOOKUP_MAX)
		over_limit = 1;
	if (over_limit || over_void)
		return SPF_response_add_error(
		    rs, SPF_E_BIG_DNS, "More than %d DNS lookups", LOOKUP_MAX);
	/* libspf2's own fetch, which calls this hook when it is set. */
	watch.get_spf = NULL;
	err = SPF_server_get_record(srv, rq, rs, rec);
	watch.get_spf = watch_get_spf;
	return err;
}

static int
eval_one(SPF_server_t *srv, const char *domain, const char *local,
    const char *helo, const char *ip, char *detail, size_t size)
{
	SPF_request_t *rq;
	SPF_response_t *rs = NULL;
	char from[LOCAL_MAX + DOMAIN_MAX + 2];
	const char *cm;
	int result;

	rq = SPF_request_new(srv);
	if (rq == NULL) {
		snprintf(detail, size, "out of memory");
		return PD_SPF_TEMPERROR;
	}
	if ((strchr(ip, ':')
	            ? SPF_request_set_ipv6_str(rq, ip)
	            : SPF_request_set_ipv4_str(rq, ip)) != SPF_E_SUCCESS) {
		SPF_request_free(rq);
		snprintf(detail, size, "bad egress address %s", ip);
		return PD_SPF_PERMERROR;
	}
	if (strlen(domain) > DOMAIN_MAX ||
	    snprintf(from, sizeof(from), "%s@%s", local, domain) >=
	        (int)sizeof(from) ||
	    SPF_request_set_env_from(rq, from) != 0) {
		SPF_request_free(rq);
		snprintf(detail, size, "bad domain");
		return PD_SPF_PERMERROR;
	}
	/* Without one, libspf2 makes a record's %{h} a temperror
	 * (exists:) or a permerror (include:): never what receivers,
	 * who have our HELO, compute. */
	if (*helo && SPF_request_set_helo_dom(rq, helo) != 0) {
		SPF_request_free(rq);
		snprintf(detail, size, "out of memory (HELO name)");
		return PD_SPF_TEMPERROR;
	}
	nrecords = nlookups = over_limit = nsubs = isub = 0;
	nvoids = over_void = 0;
	SPF_request_query_mailfrom(rq, &rs);
	if (rs == NULL) {
		SPF_request_free(rq);
		snprintf(detail, size, "no SPF response");
		return PD_SPF_TEMPERROR;
	}
	if (over_limit || over_void) {
		SPF_response_free(rs);
		SPF_request_free(rq);
		snprintf(detail, size,
		    "permerror (more than %d %sDNS lookups, RFC 7208 4.6.4)",
		    over_limit ? LOOKUP_MAX : VOID_MAX,
		    over_limit ? "" : "void ");
		return PD_SPF_PERMERROR;
	}
	result = map_result(SPF_response_result(rs));
	/* A DNS failure is temporary, whatever libspf2 calls the result
	 * (1.2.10 says "invalid" for a SERVFAIL). */
	if (result != PD_SPF_PASS) {
		int i, n = SPF_response_messages(rs);

		for (i = 0; i < n; i++) {
			SPF_error_t *e = SPF_response_message(rs, i);

			if (e && SPF_error_code(e) == SPF_E_DNS_ERROR)
				result = PD_SPF_TEMPERROR;
		}
	}
	/*
	 * libspf2's own words first: the SMTP comment of a fail is the
	 * explanation, which exp= lets the sender domain write (RFC 7208
	 * 6.2), and our log lines are not theirs to write.
	 */
	cm = SPF_response_get_received_spf_value(rs);
	if (cm == NULL)
		cm = SPF_response_get_smtp_comment(rs);
	snprintf(detail, size, "%s",
	    cm ? cm : SPF_strresult(SPF_response_result(rs)));
	clean(detail);
	SPF_response_free(rs);
	SPF_request_free(rq);
	return result;
}

/*
 * TTL of the domain's TXT RRset (libspf2's resolver layer leaves it 0),
 * -1 when unknown.
 */
static long
txt_ttl(const char *domain)
{
	/*
	 * The largest DNS message (TCP): an RRset of many TXT records
	 * (site verifications) can pass 4 KiB, and res_query returns the
	 * answer's full length even when it truncated it to fit.
	 */
	static unsigned char ans[65536];
	ns_msg msg;
	ns_rr rr;
	long ttl = -1;
	int n, i;

	n = res_query(domain, ns_c_in, ns_t_txt, ans, sizeof(ans));
	if (n <= 0 || (size_t)n > sizeof(ans) ||
	    ns_initparse(ans, n, &msg) != 0)
		return -1;
	for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
			break;
		if (ns_rr_type(rr) == ns_t_txt &&
		    (ttl < 0 || (long)ns_rr_ttl(rr) < ttl))
			ttl = (long)ns_rr_ttl(rr);
	}
	return ttl;
}

/*
 * The HELO name when [spf] helo is not set: Postfix's $myhostname default
 * (smtp_helo_name's), the name receivers see.  Postfix takes the host
 * name, and appends ".localdomain" when it has no dot: it never asks
 * /etc/hosts or DNS for a canonical name (postconf -d myhostname), so a
 * canonical name here would make %{h} another name than the one sent.
 * ("" when there is none.)
 */
static const char *
helo_default(void)
{
	static char name[DOMAIN_MAX + 1];
	static int done;

	if (done)
		return name;
	done = 1;
	if (gethostname(name, sizeof(name)) != 0) {
		name[0] = 0;
		return name;
	}
	name[sizeof(name) - 1] = 0;
	if (name[0] && !strchr(name, '.') &&
	    strlen(name) + sizeof(".localdomain") <= sizeof(name))
		strcat(name, ".localdomain");
	return name;
}

/*
 * Whether a result for one egress address answers the whole check: every
 * result but pass and temperror refuses (the stream's spf mode says how),
 * and what the other addresses give cannot undo that.  A temperror (a
 * DNS failure) answers only when no address is refused; it is not
 * cached, a refusal is, for its records' TTL.
 */
static int
refuses(int result)
{
	return result != PD_SPF_PASS && result != PD_SPF_TEMPERROR;
}

/*
 * One egress address's evaluation, in a process of its own (see
 * eval_all): its result, or how that process ended without one.
 */
struct sub {
	const char *ip;
	pid_t pid;
	int fd;   /* -1: done */
	int done; /* 1: result in, or ended without one (died) */
	int died; /* its wait status when it ended without a result */
	int result;
	long ttl;
	int uses_local;
	char line[LINE_MAX_];
	size_t len;
};

/* The child's side: evaluate one address, write "RESULT TTL[l] DETAIL". */
static void
sub_main(int fd, pid_t parent, SPF_server_t *srv, const char *domain,
    const char *local, const char *helo, const char *ip)
{
	char detail[200], out[LINE_MAX_];
	int result, n;

	/* It must not outlive the helper the daemon kills at its timeout. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	uses_local = 0;
	rec_ttl = -1;
	nttl_read = 0;
	result = eval_one(srv, domain, local, helo, ip, detail, sizeof(detail));
	n = snprintf(out, sizeof(out), "%s %ld%s %s\n", pd_spf_name(result),
	    result == PD_SPF_TEMPERROR ? -1 : rec_ttl, uses_local ? "l" : "",
	    detail);
	if (n > 0 && (size_t)n >= sizeof(out)) {
		out[sizeof(out) - 2] = '\n';
		n = (int)sizeof(out) - 1;
	}
	if (n > 0 && write(fd, out, (size_t)n) != n)
		_exit(1);
	_exit(0);
}

/* A child's line in: its result, or the end of one that gave none. */
static void
sub_read(struct sub *c)
{
	char *nl, *end, *sp;
	ssize_t n;
	int st = 0;

	n = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
	if (n < 0 && errno == EINTR)
		return;
	if (n > 0) {
		c->len += (size_t)n;
		c->line[c->len] = 0;
		if (c->len < sizeof(c->line) - 1 &&
		    memchr(c->line, '\n', c->len) == NULL)
			return;
	}
	close(c->fd);
	c->fd = -1;
	c->done = 1;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
	if ((nl = memchr(c->line, '\n', c->len)) == NULL ||
	    (sp = strchr(c->line, ' ')) == NULL || sp > nl) {
		/* crashed, killed, or said nothing (an exit 0: as 1) */
		c->died = st != 0 ? st : 1 << 8;
		return;
	}
	*nl = 0;
	*sp++ = 0;
	c->result = name_parse(c->line);
	errno = 0;
	c->ttl = strtol(sp, &end, 10);
	if (*end == 'l') {
		c->uses_local = 1;
		end++;
	}
	if (errno || *end != ' ' || c->ttl < 0)
		c->ttl = -1;
	if (c->result < 0)
		c->died = 1 << 8; /* garbled: cannot be */
	/* the detail, after the TTL, is what c->line keeps */
	if (*end == ' ')
		end++;
	memmove(c->line, end, strlen(end) + 1);
}

/*
 * The helper ends as a child that gave no result ended (a crash is the
 * record's permerror, SIGKILL from outside a temperror, in the daemon:
 * helper_failed), when that address decides the answer.
 */
static void
die_as(int st)
{
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	_exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : 1);
}

/*
 * The answer from the results in, walking the addresses in order as one
 * evaluation after another would: 1 when it is decided (*named: the
 * address it is about, -1 none; *overall), 0 while it waits for one.
 * final: an address whose result is not in yet (its DNS does not answer)
 * is passed over, so that a refusal after it is the answer.
 */
static int
decide(struct sub *c, int n, int final, int *overall, int *named)
{
	int i, pending = 0;

	*overall = PD_SPF_PASS;
	*named = -1;
	for (i = 0; i < n; i++) {
		if (!c[i].done) {
			if (!final)
				return 0;
			pending = 1;
			continue;
		}
		if (c[i].died)
			die_as(c[i].died);
		/* The answer names the address it is about: the one
		 * refused, else the first not checked, else the last (a
		 * pass). */
		if (refuses(c[i].result) ||
		    (c[i].result == PD_SPF_TEMPERROR &&
		        *overall != PD_SPF_TEMPERROR) ||
		    *overall == PD_SPF_PASS)
			*named = i;
		if (c[i].result != PD_SPF_PASS)
			*overall = c[i].result;
		if (refuses(c[i].result))
			return 1;
	}
	return !pending;
}

/*
 * Evaluate every egress address of one query at once, each in a child,
 * and print the answer.  One after another, a lookup that hangs for the
 * first address (a DNS server that does not answer) kept the others
 * unevaluated until the daemon killed the helper at [spf] timeout: a
 * 451 and a retry for ever, where the record refuses another address
 * and no retry can change that.  The answer is the one the addresses in
 * order give, as soon as it is decided; once budget_ms (the daemon's
 * time left, less a margin for the answer to get there; 0: unknown) is
 * spent, an address still waiting is passed over, so that a refusal of
 * another is the answer.  With none, the helper waits on, and the
 * daemon's timeout makes the temperror.
 */
static void
eval_all(SPF_server_t *srv, const char *domain, const char *local,
    const char *helo, char *ips, long long budget_ms)
{
	struct sub c[EVAL_MAX];
	struct pollfd pf[EVAL_MAX];
	int map[EVAL_MAX];
	int n = 0, i, np, overall, named, fd[2], err, decided = 0;
	char *ip, *next;
	int64_t until = 0;
	pid_t self = getpid();
	long ttl = -1;
	int per_sender = 0;

	if (budget_ms > 0)
		until = og_mono_ms() + budget_ms -
		        (budget_ms / 4 < 500 ? budget_ms / 4 : 500);
	for (ip = ips; ip && *ip && n < EVAL_MAX; ip = next) {
		if ((next = strchr(ip, ',')) != NULL)
			*next++ = 0;
		memset(&c[n], 0, sizeof(c[n]));
		c[n].ip = ip;
		c[n].fd = -1;
		c[n].pid = -1;
		if (pipe(fd) == 0 && (c[n].pid = fork()) < 0) {
			err = errno;
			close(fd[0]);
			close(fd[1]);
			errno = err;
		}
		if (c[n].pid < 0) {
			/* not the record's fault: the mail waits */
			c[n].pid = 0;
			c[n].done = 1;
			c[n].result = PD_SPF_TEMPERROR;
			c[n].ttl = -1;
			snprintf(c[n].line, sizeof(c[n].line),
			    "cannot evaluate: %s", strerror(errno));
		} else if (c[n].pid == 0) {
			close(fd[0]);
			sub_main(fd[1], self, srv, domain, local, helo, ip);
		} else {
			close(fd[1]);
			c[n].fd = fd[0];
		}
		n++;
	}
	for (;;) {
		int64_t now = og_mono_ms();

		if ((decided = decide(c, n, until == 0 || now >= until,
		         &overall, &named)) != 0)
			break;
		for (i = np = 0; i < n; i++)
			if (c[i].fd >= 0) {
				pf[np].fd = c[i].fd;
				pf[np].events = POLLIN;
				map[np++] = i;
			}
		if (np == 0)
			break; /* cannot be: nothing pending, undecided */
		if (poll(pf, (nfds_t)np,
		        until && now < until ? (int)(until - now) : -1) < 0 &&
		    errno != EINTR)
			break;
		for (i = 0; i < np; i++)
			if (pf[i].revents)
				sub_read(&c[map[i]]);
	}
	for (i = 0; i < n; i++) {
		if (c[i].pid > 0) {
			kill(c[i].pid, SIGKILL);
			while (waitpid(c[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (c[i].fd >= 0)
			close(c[i].fd);
		if (c[i].done && !c[i].died) {
			per_sender |= c[i].uses_local;
			if (c[i].ttl >= 0 && (ttl < 0 || c[i].ttl < ttl))
				ttl = c[i].ttl;
		}
	}
	if (!decided) {
		/* poll failed: never a pass, nor a refusal not found */
		overall = PD_SPF_TEMPERROR;
		named = -1;
	}
	if (overall == PD_SPF_TEMPERROR)
		ttl = -1;
	printf("%s %ld%s %s %s\n", pd_spf_name(overall), ttl,
	    per_sender ? "l" : "", named >= 0 ? c[named].ip : "-",
	    named >= 0 && c[named].line[0] ? c[named].line : "-");
}

int
pd_spf_helper_main(void)
{
	SPF_server_t *srv;
	char line[QUERY_MAX];

	/* No libspf2 cache: the daemon caches per domain, and the TTL we
	 * read must be the record's, not the cache layer's minimum. */
	watch.layer_below = SPF_dns_resolv_new(NULL, "resolv", 0);
	if (watch.layer_below == NULL)
		return 1;
	watch.lookup = watch_lookup;
	watch.get_spf = watch_get_spf;
	watch.name = "optgate";
	srv = SPF_server_new_dns(&watch, 0);
	if (srv == NULL)
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		char *sp, *hp, *bp, *ips, *nl, *end, *local = "postmaster";
		const char *helo = NULL;
		long long budget = 0;

		if ((nl = strchr(line, '\n')) != NULL)
			*nl = 0;
		if ((sp = strchr(line, ' ')) == NULL)
			return 1;
		*sp = 0;
		ips = sp + 1;
		/* (A daemon older than the local part sends none, one
		 * older than [spf] helo no HELO, one older than the time
		 * left no MS.) */
		if ((sp = strchr(ips, ' ')) != NULL) {
			*sp++ = 0;
			if ((hp = strchr(sp, ' ')) != NULL) {
				*hp++ = 0;
				if ((bp = strchr(hp, ' ')) != NULL) {
					*bp++ = 0;
					errno = 0;
					budget = strtoll(bp, &end, 10);
					if (errno || *end || budget < 0)
						budget = 0;
				}
				if (*hp && strcmp(hp, "-") != 0 &&
				    strlen(hp) <= DOMAIN_MAX)
					helo = hp;
			}
			if (*sp && strlen(sp) <= LOCAL_MAX)
				local = sp;
		}
		if (helo == NULL)
			helo = helo_default();
		eval_all(srv, line, local, helo, ips, budget);
		if (fflush(stdout) != 0)
			return 1;
	}
	SPF_server_free(srv);
	return 0;
}
