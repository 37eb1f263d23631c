/*
 * optgate-policyd - the Postfix policy service: consent, caps and SPF
 * verdicts at RCPT time.
 *
 * Postfix's smtpd asks about every recipient (check_policy_service in
 * smtpd_recipient_restrictions) and, when also listed in
 * smtpd_end_of_data_restrictions, once more when a message has been
 * received.  RCPT: find the stream from the envelope, ask og_gate_decide,
 * answer DUNNO for a pass or the verdict's refusal; remember passed
 * recipients per transaction ("instance").  END-OF-MESSAGE: count those
 * recipients as sent (in groups, see pend_in and writer_main).  A
 * list stream (one token per recipient) gets 452 4.5.3 for a second
 * recipient that would pass, so the client sends it in a new transaction
 * (one refused anyway gets its refusal).
 *
 * One thread, one epoll loop, non-blocking sockets, capped buffers, idle
 * timeouts.  A second thread writes the counters (writer_main): the sends
 * the loop hands over, and the flush to disk every [store] counter_sync
 * seconds, so that neither a commit nor an fsync stalls the loop.  Modes:
 * listeners from [policyd] listen (unix:PATH, inet:HOST:PORT), or -s: one
 * connection on stdin/stdout (spawn(8)). SPF runs in helper processes
 * (pd_spf.c).  SIGHUP reloads the config (a bad one is logged and the old one
 * kept); SIGTERM/SIGINT stop.
 *
 * Errors: a malformed request is logged and its connection closed
 * without a reply (Postfix then retries); a store that cannot be read
 * gives the gate's store-error verdict (marketing: 451 4.3.0); nothing
 * ever turns a failure into an accept.
 *
 * LIMITS: request caps in pd_proto.h; PD_IN_MAX input bytes buffered per
 * connection; PD_INST_MAX open transactions and PD_INST_RCPTS recipients
 * each (more are not remembered, so not counted: logged); connections
 * capped by [policyd] max_connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "og_addr.h"
#include "og_buf.h"
#include "og_config.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_log.h"
#include "og_priv.h"
#include "og_store.h"
#include "og_time.h"
#include "pd_proto.h"
#include "pd_spf.h"

#define PD_IN_MAX (PD_REQ_MAX + PD_LINE_MAX)
#define PD_INST_MAX 100000
#define PD_INST_RCPTS 1000
#define PD_LISTEN_MAX OG_MULTI_MAX
#define PD_STORE_RETRY 5  /* seconds between store open attempts */
#define PD_COUNT_BATCH 16 /* sends that make a counters commit at once */
#define PD_COUNT_DELAY 2  /* ms a send waits at most for its commit */

enum ev_type { EV_LISTEN = 1, EV_CONN, EV_SIGNAL };

struct ev {
	int type;
};

struct listener {
	struct ev ev;
	int fd;
	char name[128];
};

enum conn_state { C_READ = 0, C_SPF, C_DEAD };

struct conn {
	struct ev ev;
	int rfd, wfd; /* the same socket, or stdin/stdout */
	int state;
	char *in;
	size_t inlen, incap;
	og_buf out;
	size_t outoff;
	uint32_t evmask; /* registered epoll events */
	int64_t last;    /* monotonic ms of the last activity */
	int64_t started; /* monotonic ms the pending request began */
	char peer[160];
	pd_req req; /* the request waiting for SPF */
	size_t req_used;
	/* its sender and recipient in external form (og_addr_envelope) */
	char sender[OG_ADDR_INPUT_MAX + 1], rcpt[OG_ADDR_INPUT_MAX + 1];
	/* the address whose domain its SPF check judges (spf_sender) */
	char spf_from[OG_ADDR_INPUT_MAX + 1];
	char inst[64]; /* the instance of its last request */
	int eom_seen;  /* it carried END-OF-MESSAGE: that check is wired */
	int in_txn;    /* its last request's transaction has not ended */
	/* on the turn's lists (TQ_DECIDE, TQ_WRITE), and its next there */
	int queued[2];
	struct conn *qnext[2];
	struct conn *prev, *next;
};

/* A send to count: a recipient's key in a stream. */
struct pend {
	char stream[OG_STREAM_NAME_MAX + 1];
	char *key;
	uint32_t h; /* og_str_hash(key) */
};

/*
 * A turn of the loop reads, then decides, then writes (turn_end): the
 * connections whose input waits to be decided, then those whose replies
 * wait to be written, each list FIFO.
 */
enum { TQ_DECIDE, TQ_WRITE };
struct turnq {
	struct conn *head, **tail;
};

/* One open SMTP transaction: recipients passed, waiting for EOM. */
struct inst {
	char id[64];
	char stream[OG_STREAM_NAME_MAX + 1];
	char **keys;
	int nkeys, capkeys;
	int dropped;              /* recipients over PD_INST_RCPTS */
	int discarded;            /* a list stream's recipient is dropped */
	char *discard;            /* DISCARD text owed at END-OF-MESSAGE */
	char *discard_key;        /* ... for this recipient */
	char *discard_log;        /* its line past "NOQUEUE: ", logged at EOM */
	char *last_rcpt;          /* the recipient it passed last, as given */
	int held;                 /* its keys are held (og_gate_hold) */
	int64_t born;             /* monotonic ms */
	struct inst *hnext;       /* hash chain */
	struct inst *prev, *next; /* age list, oldest first */
};

#define INST_BUCKETS 16384

static struct {
	const char *config_path;
	og_config *cfg;
	og_store *store;
	int64_t store_retry_at;
	int epfd;
	int sigfd;
	struct ev sigev;
	struct listener listeners[PD_LISTEN_MAX];
	int nlisteners;
	struct conn *conns; /* list head */
	struct conn *dead;  /* closed, freed after the event batch */
	int in_turn;        /* a turn's events are being read (turn_end) */
	struct turnq tq[2];
	int nconns;
	int spawn_mode;
	int stop;
	pd_spf *spf;
	char exe[4096];
	struct inst *buckets[INST_BUCKETS];
	struct inst *ihead, *itail;
	int ninst;
	int64_t last_readers, last_tick;
	int64_t last_overload_log;
	int conn_cap; /* max_connections, or what open files allow */
	int64_t accept_paused_at; /* out of fds: listeners off since (ms) */
	struct pend *pend;        /* sends waiting to be handed to the writer */
	int npend, cappend;
	int64_t pend_since; /* monotonic ms of the oldest */
	unsigned long served;
	/*
	 * The writer thread (writer_main) and what it shares with the
	 * loop, under sync_lock: a batch of sends handed over (busy until
	 * committed), the counter_sync period, and g.store (written by
	 * the loop under the lock, so the loop itself reads it without).
	 */
	pthread_t sync_thread;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond; /* to the writer: work, or stop (monotonic) */
	pthread_cond_t done_cond; /* to the loop: batch committed */
	int sync_stop;
	int64_t sync_every; /* seconds */
	struct pend *batch;
	int nbatch, capbatch;
	int busy;
	int64_t batch_now; /* og_time_now() of the hand-over */
} g = {.sync_lock = PTHREAD_MUTEX_INITIALIZER,
    .done_cond = PTHREAD_COND_INITIALIZER};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: optgate-policyd [-c FILE] [-f] [-s] [-v] "
	    "[-V]\n"
	    "  -c FILE  config (default " OG_CONFIG_DEFAULT ")\n"
	    "  -f       stay in the foreground, log to stderr (default:\n"
	    "           detach, log to syslog, mail facility)\n"
	    "  -s       serve one connection on stdin/stdout "
	    "(Postfix spawn(8))\n"
	    "  -v       verbose (repeat for more)\n"
	    "  -V       print the version\n");
	exit(2);
}

/* ---------------------------------------------------------------- */
/* Transactions (instances) */

static unsigned
inst_hash(const char *s)
{
	return og_str_hash(s) % INST_BUCKETS;
}

static struct inst *
inst_find(const char *id)
{
	struct inst *i;

	for (i = g.buckets[inst_hash(id)]; i; i = i->hnext)
		if (strcmp(i->id, id) == 0)
			return i;
	return NULL;
}

/*
 * Take (+1) or give back (-1) the hold of a passed recipient.  Under
 * spawn(8) every smtpd connection has a process of its own, which would
 * see none of the others' holds in og_gate_hold's table: the holds go to
 * the store then (og_store_hold), where each process sees the others'.
 * They last instance_timeout at most, and die with their process.
 */
static void
hold(const char *stream, const char *key, int delta)
{
	int64_t now;
	int rc;

	if (!g.spawn_mode) {
		og_gate_hold(stream, key, delta);
		return;
	}
	if (g.store == NULL)
		return;
	now = og_time_now();
	if ((rc = og_store_hold(g.store, key, stream, getpid(),
	         now + g.cfg->policyd_instance_timeout, now, delta)) != 0)
		og_log_warn("%s a send of %s to <%s>: %s",
		    delta > 0 ? "holding" : "giving back", stream, key,
		    og_strerror(rc));
}

/* The sends held for key in stream, this process's too. */
static int
held(og_rtxn *tx, const char *stream, const char *key, int64_t now)
{
	int n = 0;

	if (!g.spawn_mode)
		return og_gate_held(stream, key);
	if (tx == NULL || og_store_holds(tx, key, stream, now, &n) != 0)
		return 0;
	return n;
}

/* Give back the sends the transaction holds (hold()). */
static void
inst_unhold(struct inst *in)
{
	int k;

	if (!in->held)
		return;
	for (k = 0; k < in->nkeys; k++)
		hold(in->stream, in->keys[k], -1);
	in->held = 0;
}

static void
inst_free(struct inst *in)
{
	struct inst **pp;
	int k;

	for (pp = &g.buckets[inst_hash(in->id)]; *pp; pp = &(*pp)->hnext)
		if (*pp == in) {
			*pp = in->hnext;
			break;
		}
	if (in->prev)
		in->prev->next = in->next;
	else
		g.ihead = in->next;
	if (in->next)
		in->next->prev = in->prev;
	else
		g.itail = in->prev;
	inst_unhold(in);
	for (k = 0; k < in->nkeys; k++)
		free(in->keys[k]);
	free(in->keys);
	/* Its transaction ended without END-OF-MESSAGE: no queue id. */
	if (in->discard_log != NULL)
		og_log_info("NOQUEUE: %s", in->discard_log);
	free(in->discard);
	free(in->discard_key);
	free(in->discard_log);
	free(in->last_rcpt);
	free(in);
	g.ninst--;
}

static struct inst *
inst_get(const char *id, const char *stream)
{
	struct inst *in;
	unsigned h;

	if (id == NULL || *id == 0 || strlen(id) >= sizeof(in->id))
		return NULL;
	if ((in = inst_find(id)) != NULL)
		return in;
	if (g.ninst >= PD_INST_MAX) {
		og_log_warn("%d open transactions: forgetting the oldest "
		            "(instance %s) uncounted",
		    g.ninst, g.ihead->id);
		inst_free(g.ihead);
	}
	in = og_xcalloc(1, sizeof(*in));
	og_strlcpy(in->id, id, sizeof(in->id));
	og_strlcpy(in->stream, stream, sizeof(in->stream));
	in->born = og_mono_ms();
	in->held = 1;
	h = inst_hash(id);
	in->hnext = g.buckets[h];
	g.buckets[h] = in;
	in->prev = g.itail;
	if (g.itail)
		g.itail->next = in;
	else
		g.ihead = in;
	g.itail = in;
	g.ninst++;
	return in;
}

/* The index of key among the recipients the transaction passed, or -1. */
static int
inst_key_index(const struct inst *in, const char *key)
{
	int k;

	for (k = 0; k < in->nkeys; k++)
		if (strcmp(in->keys[k], key) == 0)
			return k;
	return -1;
}

static void
inst_add_key(struct inst *in, const char *key)
{
	/* Postfix's cleanup delivers a repeated recipient once: count once. */
	if (inst_key_index(in, key) >= 0)
		return;
	if (in->nkeys >= PD_INST_RCPTS) {
		if (in->dropped++ == 0)
			og_log_warn("instance %s: over %d recipients; the rest "
			            "are not counted",
			    in->id, PD_INST_RCPTS);
		return;
	}
	if (in->nkeys == in->capkeys) {
		in->capkeys = in->capkeys ? in->capkeys * 2 : 4;
		in->keys = og_xrealloc(
		    in->keys, (size_t)in->capkeys * sizeof(*in->keys));
	}
	in->keys[in->nkeys++] = og_xstrdup(key);
	if (in->held)
		hold(in->stream, key, 1);
}

/*
 * A connection's requests come from one smtpd process, one transaction
 * after the other: a request of another instance means the previous
 * transaction is over.  One that never reached END-OF-MESSAGE was
 * aborted (RSET, QUIT, a lost client): forget it uncounted, and give
 * back its held sends now rather than at instance_timeout.
 */
static void
inst_switch(struct conn *c, const char *id)
{
	struct inst *old;

	if (id == NULL || *id == 0 || strcmp(c->inst, id) == 0)
		return;
	if (c->inst[0] && (old = inst_find(c->inst)) != NULL) {
		og_log_debug("%s: instance %s ended without END-OF-MESSAGE: "
		             "%d recipients not counted",
		    c->peer, old->id, old->nkeys);
		inst_free(old);
	}
	og_strlcpy(c->inst, id, sizeof(c->inst));
}

static void
inst_expire(int64_t now)
{
	int64_t max = g.cfg->policyd_instance_timeout * 1000;
	int n = 0;

	while (g.ihead && now - g.ihead->born > max) {
		inst_free(g.ihead);
		n++;
	}
	if (n)
		og_log_debug("forgot %d unfinished transactions", n);
}

/* ---------------------------------------------------------------- */
/* Store */

static void
store_open(int start)
{
	og_store_opts o;
	og_store *st = NULL;
	char err[2048] = "";
	int rc;

	/* Consent read-only: policyd writes counters only. */
	og_store_opts_config(&o, g.cfg, OG_STORE_RDONLY);
	rc = og_store_open(g.cfg->store_path, &o, &st, err, sizeof(err));
	/* at the start: the config is wrong for this store, say it now */
	if (rc == OG_EADDRESS && start)
		og_log_fatal("cannot start: %s", err);
	if (rc != 0) {
		og_log_err("store %s: %s; marketing mail is tempfailed until "
		           "it opens (retry every %ds)",
		    g.cfg->store_path, err[0] ? err : og_strerror(rc),
		    PD_STORE_RETRY);
		g.store_retry_at = og_mono_ms() + PD_STORE_RETRY * 1000;
		return;
	}
	pthread_mutex_lock(&g.sync_lock);
	g.store = st;
	pthread_mutex_unlock(&g.sync_lock);
	og_log_info("store %s open", g.cfg->store_path);
}

/*
 * Commit n sends, one transaction per stream.  Reads p only: the loop
 * may look at it meanwhile (pend_has).
 */
static void
count_commit(og_store *store, const struct pend *p, int n, int64_t now)
{
	static int failing; /* the writer thread's only */
	const char **keys;
	char *done;
	int i, j, k, rc;

	keys = og_xcalloc((size_t)n, sizeof(*keys));
	done = og_xcalloc((size_t)n, 1);
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		k = 0;
		for (j = i; j < n; j++)
			if (!done[j] && strcmp(p[j].stream, p[i].stream) == 0) {
				keys[k++] = p[j].key;
				done[j] = 1;
			}
		if (store == NULL)
			og_log_warn("store not open: %d sends of %s not "
			            "counted",
			    k, p[i].stream);
		else if ((rc = og_store_count_sends(
		              store, keys, (size_t)k, p[i].stream, now)) != 0) {
			/* a full disk fails every batch: said once */
			if (rc != failing)
				og_log_warn("counting %d sends of %s: %s (said "
				            "once until counting works again)",
				    k, p[i].stream, og_strerror(rc));
			failing = rc;
		} else {
			if (failing != 0)
				og_log_info("counting sends again");
			failing = 0;
			og_log_debug("counted %d sends of %s", k, p[i].stream);
		}
	}
	free(done);
	free(keys);
}

/*
 * The writer thread: commits the batches of sends the loop hands over
 * (count_handover), and flushes the counters environment (written
 * without sync: soft state) every counter_sync seconds.  Both off the
 * event loop, so a commit never delays an answer.  It works outside the
 * lock; the loop only waits for it when a recipient's earlier send is in
 * the batch being committed (rcpt_gate).
 */
static void *
writer_main(void *arg)
{
	struct timespec ts, now;
	og_store *st;
	int64_t t;
	int i, rc;

	pthread_mutex_lock(&g.sync_lock);
	/*
	 * Timed on the monotonic clock (writer_start): on the wall clock, a
	 * clock set back an hour stopped the flushes, and the following of
	 * a replaced store, for that hour.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += g.sync_every > 0 ? g.sync_every : 1;
	while (!g.sync_stop || g.busy) {
		if (!g.busy)
			pthread_cond_timedwait(&g.sync_cond, &g.sync_lock, &ts);
		if (g.busy) {
			st = g.store;
			t = g.batch_now;
			pthread_mutex_unlock(&g.sync_lock);
			count_commit(st, g.batch, g.nbatch, t);
			pthread_mutex_lock(&g.sync_lock);
			for (i = 0; i < g.nbatch; i++)
				free(g.batch[i].key);
			g.nbatch = 0;
			g.busy = 0;
			pthread_cond_broadcast(&g.done_cond);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < ts.tv_sec ||
		    (now.tv_sec == ts.tv_sec && now.tv_nsec < ts.tv_nsec))
			continue;
		ts = now;
		ts.tv_sec += g.sync_every > 0 ? g.sync_every : 1;
		if ((st = g.store) == NULL)
			continue;
		pthread_mutex_unlock(&g.sync_lock);
		/* LMDB stopped it after a failed write: restart */
		og_store_exit_if_dead(st);
		if ((rc = og_store_sync_counters(st)) != 0)
			og_log_warn("syncing counters: %s", og_strerror(rc));
		/* counters or consent replaced under us (rm -rf, a restore) */
		og_store_follow(st);
		pthread_mutex_lock(&g.sync_lock);
	}
	pthread_mutex_unlock(&g.sync_lock);
	return NULL;
}

/* Start writer_main, its timed waits on the monotonic clock. */
static void
writer_start(void)
{
	if ((errno = og_cond_init_monotonic(&g.sync_cond)) != 0)
		og_log_fatal("pthread_cond_init: %s", strerror(errno));
	if ((errno = pthread_create(&g.sync_thread, NULL, writer_main, NULL)) !=
	    0)
		og_log_fatal("pthread_create: %s", strerror(errno));
}

/* ---------------------------------------------------------------- */
/* Connections */

static void
conn_events(struct conn *c, uint32_t want)
{
	struct epoll_event ev;

	if (c->evmask == want)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.data.ptr = c;
	ev.events = c->wfd == c->rfd ? want : want & EPOLLIN;
	if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->rfd, &ev) != 0)
		og_log_warn("epoll_ctl: %s", strerror(errno));
	if (c->wfd != c->rfd) {
		/* spawn(8): stdin and stdout are two fds of one socket */
		ev.events = want & EPOLLOUT;
		if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->wfd, &ev) != 0)
			og_log_warn("epoll_ctl: %s", strerror(errno));
	}
	c->evmask = want;
}

/*
 * Closed connections are freed after the current batch of events, which
 * may still name them.
 */
static void
conn_close(struct conn *c)
{
	struct inst *in;

	if (c->state == C_DEAD)
		return;
	/*
	 * Its last transaction is most often over with it (the smtpd
	 * process ended), or its client went away: its held sends are given
	 * back now, not at instance_timeout.  When it goes on over another
	 * connection (Postfix reconnects after a request limit or TTL), its
	 * END-OF-MESSAGE there still counts it.
	 */
	if (c->inst[0] && (in = inst_find(c->inst)) != NULL)
		inst_unhold(in);
	if (c->state == C_SPF && g.spf)
		pd_spf_cancel(g.spf, c);
	c->state = C_DEAD;
	epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->rfd, NULL);
	if (c->wfd != c->rfd)
		epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->wfd, NULL);
	close(c->rfd);
	if (c->wfd != c->rfd)
		close(c->wfd);
	if (c->prev)
		c->prev->next = c->next;
	else
		g.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = g.dead;
	g.dead = c;
	g.nconns--;
	if (g.spawn_mode)
		g.stop = 1;
}

static void
conn_reap(void)
{
	struct conn *c;

	while ((c = g.dead) != NULL) {
		g.dead = c->next;
		free(c->in);
		og_buf_free(&c->out);
		free(c);
	}
}

static struct conn *
conn_new(int rfd, int wfd, const char *peer)
{
	struct conn *c = og_xcalloc(1, sizeof(*c));
	struct epoll_event ev;

	c->ev.type = EV_CONN;
	c->rfd = rfd;
	c->wfd = wfd;
	og_strlcpy(c->peer, peer, sizeof(c->peer));
	og_buf_init(&c->out, 4096);
	c->last = og_mono_ms();
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, rfd, &ev) != 0) {
		og_log_err("epoll_ctl add: %s", strerror(errno));
		close(rfd);
		og_buf_free(&c->out);
		free(c);
		return NULL;
	}
	if (wfd != rfd) {
		ev.events = 0;
		epoll_ctl(g.epfd, EPOLL_CTL_ADD, wfd, &ev);
	}
	c->evmask = EPOLLIN;
	c->next = g.conns;
	if (g.conns)
		g.conns->prev = c;
	g.conns = c;
	g.nconns++;
	return c;
}

/* Write what is pending; 0 or -1 when the connection was closed. */
static int
conn_flush(struct conn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = write(
		    c->wfd, c->out.data + c->outoff, c->out.len - c->outoff);

		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_events(c, EPOLLOUT);
			return 0;
		}
		og_log_info("%s: connection lost before the reply was sent: %s",
		    c->peer, n < 0 ? strerror(errno) : "closed");
		conn_close(c);
		return -1;
	}
	og_buf_reset(&c->out);
	c->outoff = 0;
	return 0;
}

static void conn_input(struct conn *c);

/* Queue c on the turn's list q (once), for turn_end. */
static void
turn_add(int q, struct conn *c)
{
	if (c->queued[q])
		return;
	c->queued[q] = 1;
	c->qnext[q] = NULL;
	*g.tq[q].tail = c;
	g.tq[q].tail = &c->qnext[q];
}

/* The first connection on the turn's list q, taken off; NULL: none. */
static struct conn *
turn_take(int q)
{
	struct conn *c = g.tq[q].head;

	if (c == NULL)
		return NULL;
	if ((g.tq[q].head = c->qnext[q]) == NULL)
		g.tq[q].tail = &g.tq[q].head;
	c->queued[q] = 0;
	return c;
}

static void
reply(struct conn *c, const char *action)
{
	if (pd_proto_reply(&c->out, action) != 0)
		og_panic("reply buffer full for %s", c->peer);
	g.served++;
}

/* ---------------------------------------------------------------- */
/* Decisions */

/* The one line of a decision (valid until the next call). */
static const char *
decision_line(const pd_req *r, const og_stream *st, const og_verdict *v)
{
	/* Event-loop thread only: one buffer, kept between decisions. */
	static og_buf b = {NULL, 0, 0, 4096};

	og_buf_reset(&b);
	og_gate_logline(&b, r->a[PD_A_QUEUE_ID], r->a[PD_A_RECIPIENT],
	    r->a[PD_A_SENDER], r->a[PD_A_CLIENT_NAME], r->a[PD_A_CLIENT_ADDR],
	    st, v);
	return b.data ? b.data : "";
}

/* Log the one line of a decision. */
static void
log_decision(const pd_req *r, const og_stream *st, const og_verdict *v)
{
	og_log_info("%s", decision_line(r, st, v));
}

/*
 * The stream of a transaction from its envelope alone.  An earlier
 * stream that could match on a header makes the answer unknown here:
 * policyd then leaves the message to the milter (DUNNO) rather than
 * judge it by the wrong stream.
 */
static const og_stream *
find_stream(const og_config *cfg, const pd_req *r)
{
	og_msginfo mi;
	const og_stream *st;
	int i, j;

	memset(&mi, 0, sizeof(mi));
	mi.sender = r->a[PD_A_SENDER] ? r->a[PD_A_SENDER] : "";
	mi.sasl_user = r->a[PD_A_SASL_USER];
	mi.client_addr = r->a[PD_A_CLIENT_ADDR];
	st = og_config_find_stream(cfg, &mi);
	if (st == NULL)
		return NULL;
	for (i = 0; i < cfg->nstreams && &cfg->streams[i] != st; i++)
		for (j = 0; j < cfg->streams[i].nmatch; j++)
			if (cfg->streams[i].match[j].kind == OG_MATCH_HEADER)
				return NULL;
	return st;
}

static void
verdict_set(og_verdict *v, int action, int refuse, int code, const char *dsn,
    const char *rule)
{
	memset(v, 0, sizeof(*v));
	v->action = action;
	v->refuse = refuse;
	v->code = code;
	og_strlcpy(v->dsn, dsn, sizeof(v->dsn));
	og_strlcpy(v->rule, rule, sizeof(v->rule));
}

/* The Postfix action for a verdict. */
static void
verdict_action(const og_stream *st, og_verdict *v, char *buf, size_t size)
{
	size_t n;

	if (v->action == OG_ACCEPT) {
		snprintf(buf, size, "DUNNO");
		return;
	}
	if (v->action == OG_REFUSE && v->refuse == OG_REFUSE_DROP) {
		/*
		 * DISCARD drops the whole message.  A list stream has one
		 * recipient per transaction, so that is this recipient
		 * only; otherwise it would lose the other recipients'
		 * copies, and a rejection is the honest answer.
		 */
		if (st->list) {
			snprintf(buf, size, "DISCARD %s", v->text);
			return;
		}
		/* With the rule's own status: 5.1.1 for a hard bounce. */
		og_gate_reject(v);
		n = strlen(v->reason);
		snprintf(v->reason + n, sizeof(v->reason) - n,
		    " (drop needs "
		    "one recipient per transaction: rejected)");
	}
	snprintf(buf, size, "%d %s %s", v->code, v->dsn, v->text);
}

/* SPF outcome for a stream: 0 go on to the gate, 1 answered. */
static int
spf_verdict(struct conn *c, const pd_req *r, const og_stream *st,
    const char *from, const pd_spf_res *res)
{
	og_verdict v;
	char act[600], about[64] = "";
	const char *dom;
	int verp;

	if (res->result == PD_SPF_PASS)
		return 0;
	/* from: the address checked, the verp one if the stream has it */
	dom = strrchr(from, '@');
	dom = dom ? dom + 1 : from;
	verp = strcmp(from, r->a[PD_A_SENDER]) != 0;
	/* A helper that crashed has no address to name. */
	if (res->ip[0])
		snprintf(about, sizeof(about), " for %s", res->ip);
	if (res->result == PD_SPF_TEMPERROR && st->spf != OG_SPF_WARN) {
		verdict_set(&v, OG_TEMPFAIL, OG_REFUSE_DEFER, 451, "4.4.3",
		    "spf-temperror");
		snprintf(v.text, sizeof(v.text),
		    "SPF check of %.100s could "
		    "not be completed, try again later",
		    dom);
	} else if (st->spf == OG_SPF_WARN) {
		og_log_warn("%s: from=<%.256s> stream=%s: spf=%s%s: %s "
		            "(warn only%s%.255s)",
		    r->a[PD_A_QUEUE_ID] && *r->a[PD_A_QUEUE_ID]
		        ? r->a[PD_A_QUEUE_ID]
		        : "NOQUEUE",
		    r->a[PD_A_SENDER], st->name, pd_spf_name(res->result),
		    about, res->detail, verp ? ", of the verp domain " : "",
		    verp ? dom : "");
		return 0;
	} else {
		/*
		 * RFC 7372: X.7.24 when the evaluation ended in an error (a
		 * broken record: syntax, too many lookups; it may well list
		 * this server), X.7.23 when the record does not authorize it.
		 */
		int perm = res->result == PD_SPF_PERMERROR;
		int defer = st->spf == OG_SPF_DEFER;

		verdict_set(&v, OG_REFUSE,
		    defer ? OG_REFUSE_DEFER : OG_REFUSE_REJECT,
		    defer ? 450 : 550,
		    perm ? (defer ? "4.7.24" : "5.7.24")
		         : (defer ? "4.7.23" : "5.7.23"),
		    "spf");
		snprintf(v.text, sizeof(v.text),
		    "SPF record of %.100s %s (%s%s)", dom,
		    perm ? "cannot be evaluated"
		         : "does not authorize this server",
		    pd_spf_name(res->result), about);
	}
	/* (the detail is at most 159 characters, cut at a word: pd_spf.c) */
	snprintf(v.reason, sizeof(v.reason), "spf(%s) %.100s%s%s%s %s",
	    pd_spf_name(res->result), dom, verp ? " (verp domain)" : "",
	    res->ip[0] ? " ip=" : "", res->ip, res->detail);
	snprintf(act, sizeof(act), "%d %s %s", v.code, v.dsn, v.text);
	log_decision(r, st, &v);
	reply(c, act);
	return 1;
}

static void rcpt_gate(struct conn *c, const pd_req *r, const og_stream *st);
static int pend_has(const char *stream, const char *key);
static void count_handover(int wait);

static void
spf_done(void *ctx, const pd_spf_res *res)
{
	struct conn *c = ctx;
	const og_stream *st;

	c->state = C_READ;
	c->last = og_mono_ms();
	/* The config may have been reloaded meanwhile (SPF off, even). */
	st = find_stream(g.cfg, &c->req);
	if (st == NULL) {
		reply(c, "DUNNO");
	} else if (st->spf == OG_SPF_OFF ||
	           spf_verdict(c, &c->req, st, c->spf_from, res) == 0) {
		rcpt_gate(c, &c->req, st);
	}
	memmove(c->in, c->in + c->req_used, c->inlen - c->req_used);
	c->inlen -= c->req_used;
	if (conn_flush(c) == 0)
		conn_input(c);
}

static void
rcpt_gate(struct conn *c, const pd_req *r, const og_stream *st)
{
	og_verdict v;
	og_rtxn *tx = NULL;
	char act[600];
	const char *rcpt = r->a[PD_A_RECIPIENT];
	struct inst *in = NULL;
	int64_t now;
	int rc, again;

	if (r->a[PD_A_INSTANCE])
		in = inst_find(r->a[PD_A_INSTANCE]);
	for (;;) {
		if (g.store && (rc = og_store_rbegin(g.store, &tx)) != 0) {
			og_log_warn("store read: %s", og_strerror(rc));
			tx = NULL;
		}
		now = og_time_now();
		og_gate_decide(g.cfg, tx, st, r->a[PD_A_SENDER], rcpt, now, &v);
		/* Passed: unless sends other transactions hold reach a cap. */
		if (v.action == OG_ACCEPT && v.key[0])
			og_gate_held_check_n(g.cfg, tx, st, r->a[PD_A_SENDER],
			    rcpt, now,
			    held(tx, st->name, v.key, now) -
			        (in && in->held &&
			            strcmp(in->stream, st->name) == 0 &&
			            inst_key_index(in, v.key) >= 0),
			    &v);
		if (tx)
			og_store_rend(tx);
		tx = NULL;
		/* Its last send still waits for the commit: commit, decide
		 * again (after count_handover(1) nothing waits: once at most).
		 */
		if (v.action != OG_ACCEPT || !v.key[0] ||
		    !pend_has(st->name, v.key))
			break;
		count_handover(1);
	}
	/*
	 * The same recipient asked again is no second one: Postfix asks
	 * once per restriction list that names the service (both
	 * smtpd_relay_restrictions and smtpd_recipient_restrictions), and
	 * a client may repeat a RCPT (Postfix delivers it once).
	 */
	again = in && v.key[0] && strcmp(in->stream, st->name) == 0 &&
	        (inst_key_index(in, v.key) >= 0 ||
	            (in->discard_key && strcmp(in->discard_key, v.key) == 0));
	/*
	 * A list stream's second recipient: one that would pass (or be
	 * dropped: DISCARD drops the whole message) comes back in its own
	 * transaction; one refused anyway hears why now.  After a DISCARD
	 * a recipient accepted now would lose its copy (and be counted).
	 */
	if (st->list && in && !again && (in->nkeys > 0 || in->discarded) &&
	    strcmp(in->stream, st->name) == 0 &&
	    (v.action == OG_ACCEPT || v.refuse == OG_REFUSE_DROP)) {
		og_gate_one_rcpt(&v, st);
		snprintf(v.text, sizeof(v.text),
		    "Too many recipients: %s "
		    "takes one recipient per transaction, send this one "
		    "separately",
		    st->name);
		snprintf(act, sizeof(act), "%d %s %s", v.code, v.dsn, v.text);
		log_decision(r, st, &v);
		reply(c, act);
		return;
	}
	verdict_action(st, &v, act, sizeof(act));
	if (v.action == OG_REFUSE && v.refuse == OG_REFUSE_DROP &&
	    (in = inst_get(r->a[PD_A_INSTANCE], st->name)) != NULL) {
		in->discarded = 1;
		/*
		 * After a DISCARD at RCPT, Postfix asks no policy about the
		 * transaction's further recipients: it accepts them and
		 * drops their copies with the message, so the client's
		 * next recipients would get 250 and nothing.  Where this
		 * connection has carried END-OF-MESSAGE (that check is
		 * wired), the DISCARD waits for it: the next recipients
		 * are asked and get 452 4.5.3.  Its line waits too, for
		 * the queue id of the message Postfix discards then
		 * (do_eom); asked again, it is logged once.
		 */
		if (c->eom_seen && (in->discard == NULL || again)) {
			if (in->discard == NULL) {
				const char *l = decision_line(r, st, &v);

				in->discard = og_xstrdup(act);
				in->discard_key = og_xstrdup(v.key);
				if (strncmp(l, "NOQUEUE: ", 9) == 0)
					in->discard_log = og_xstrdup(l + 9);
				else
					og_log_info("%s", l);
			}
			reply(c, "DUNNO");
			return;
		}
	}
	/*
	 * Asked again about the recipient it just passed (check_policy_
	 * service in smtpd_relay_restrictions as well): one decision, one
	 * line.
	 */
	if (!(again && v.action == OG_ACCEPT && in->last_rcpt != NULL &&
	        strcmp(in->last_rcpt, rcpt) == 0))
		log_decision(r, st, &v);
	reply(c, act);
	if (v.action == OG_ACCEPT && v.key[0]) {
		in = inst_get(r->a[PD_A_INSTANCE], st->name);
		if (in == NULL)
			og_log_debug("no instance attribute: send to <%s> not "
			             "counted",
			    v.key);
		else {
			inst_add_key(in, v.key);
			free(in->last_rcpt);
			in->last_rcpt = og_xstrdup(rcpt);
		}
	}
}

/*
 * The domain whose SPF record a sender's mail is judged by: 0 with a
 * filled, 1 for an address literal, -1 for a domain that cannot have a
 * record.  A local part og_addr refuses (too long, say) does not stop
 * the check: receivers judge the domain alone.
 */
static int
spf_domain(const char *sender, og_addr *a)
{
	char pm[OG_ADDR_INPUT_MAX + 16];
	const char *at;

	if (og_addr_parse(sender, strlen(sender), &g.cfg->rules, a) != 0) {
		if ((at = strrchr(sender, '@')) == NULL ||
		    (size_t)snprintf(pm, sizeof(pm), "postmaster%s", at) >=
		        sizeof(pm) ||
		    og_addr_parse(pm, strlen(pm), &g.cfg->rules, a) != 0)
			return -1;
	}
	return (a->flags & OG_ADDR_LITERAL) ? 1 : 0;
}

/*
 * The envelope sender receivers judge by SPF: with verp, optgate-milter
 * rewrites the sender (a non-null one) to the stream's verp address, so
 * that address's domain is checked, not the one the application gave.
 * Its token (%t) is the recipient's, not known here: it is left out
 * ("bounce+" for bounce+%t@...), so a record that expands %{l} sees the
 * local part without it.  NULL: no address to check (null sender, or
 * a sender without a domain and no verp).
 */
static const char *
spf_sender(const og_stream *st, const char *sender, char *buf, size_t size)
{
	og_buf b;

	if (sender == NULL || *sender == 0)
		return NULL;
	if (st->verp_address == NULL)
		return strchr(sender, '@') ? sender : NULL;
	/* expanded as the milter expands it, with no token */
	og_buf_init(&b, 0);
	(void)og_buf_subst(&b, st->verp_address, "", st->name);
	/* (one too long for buf is cut: judged by that name, not passed) */
	og_strlcpy(buf, b.data ? b.data : "", size);
	og_buf_free(&b);
	return strchr(buf, '@') ? buf : NULL;
}

/* Returns 1 when the request is waiting for SPF. */
static int
do_rcpt(struct conn *c, pd_req *r)
{
	const og_stream *st;
	const char *sender, *from;
	pd_spf_res res;

	if (r->a[PD_A_RECIPIENT] == NULL || *r->a[PD_A_RECIPIENT] == 0) {
		reply(c, "DUNNO");
		return 0;
	}
	r->a[PD_A_RECIPIENT] =
	    og_addr_envelope(r->a[PD_A_RECIPIENT], c->rcpt, sizeof(c->rcpt));
	if (r->a[PD_A_SENDER])
		r->a[PD_A_SENDER] = og_addr_envelope(
		    r->a[PD_A_SENDER], c->sender, sizeof(c->sender));
	sender = r->a[PD_A_SENDER];
	st = find_stream(g.cfg, r);
	if (st == NULL) {
		og_log_debug("%s: to=<%.256s>: no stream from the envelope",
		    c->peer, r->a[PD_A_RECIPIENT]);
		reply(c, "DUNNO");
		return 0;
	}
	if (st->spf != OG_SPF_OFF && g.spf &&
	    (from = spf_sender(st, sender, c->spf_from, sizeof(c->spf_from))) !=
	        NULL) {
		og_addr a;
		int rc;

		if (from != c->spf_from)
			og_strlcpy(c->spf_from, from, sizeof(c->spf_from));
		from = c->spf_from;
		/* Its trailing dot is gone (og_addr_envelope): checked
		 * too. */
		if ((rc = spf_domain(from, &a)) == 0) {
			char local[OG_ADDR_INPUT_MAX];
			const char *at = strrchr(from, '@');

			/* As given: receivers expand %{l} from it. */
			snprintf(local, sizeof(local), "%.*s", (int)(at - from),
			    from);
			if (pd_spf_check(g.spf, a.domain, local, &res, spf_done,
			        c) == 0) {
				c->state = C_SPF;
				return 1;
			}
		} else {
			/*
			 * A domain no SPF record can be published for (an
			 * address literal, one label, a malformed name):
			 * receivers' check_host() says "none" (RFC 7208
			 * 4.3), and so do we, rather than skip the check.
			 */
			memset(&res, 0, sizeof(res));
			res.result = PD_SPF_NONE;
			og_strlcpy(res.ip,
			    g.cfg->nspf_egress ? g.cfg->spf_egress[0] : "",
			    sizeof(res.ip));
			og_strlcpy(res.detail,
			    rc == 1 ? "an address literal has no SPF record"
			            : "no SPF record possible for this domain",
			    sizeof(res.detail));
		}
		if (spf_verdict(c, r, st, from, &res))
			return 0;
	}
	/* (A sender without a domain gets $myorigin from Postfix later:
	 * not known here, not checked, unless verp replaces it.) */
	rcpt_gate(c, r, st);
	return 0;
}

/*
 * Counting is a write transaction on the counters environment (no sync:
 * soft state), made by the writer thread.  Sends wait in g.pend until
 * PD_COUNT_BATCH are waiting or the oldest has waited PD_COUNT_DELAY ms
 * (loop()), then go to the writer in one batch, one transaction per
 * stream; while it commits, the next batch gathers.  A recipient whose
 * send still waits (here or in the writer's batch) is committed before
 * its next decision (rcpt_gate), so caps see every send; a kill -9
 * loses at most the sends of the last few ms (a crash of the machine
 * loses up to [store] counter_sync seconds anyway).
 */
static int
pend_in(const struct pend *p, int n, const char *stream, const char *key,
    uint32_t h)
{
	int i;

	for (i = 0; i < n; i++)
		if (p[i].h == h && strcmp(p[i].key, key) == 0 &&
		    strcmp(p[i].stream, stream) == 0)
			return 1;
	return 0;
}

/* Whether a send of key in stream waits: here or in the writer's batch. */
static int
pend_has(const char *stream, const char *key)
{
	uint32_t h = og_str_hash(key);
	int r;

	if (pend_in(g.pend, g.npend, stream, key, h))
		return 1;
	pthread_mutex_lock(&g.sync_lock);
	r = g.busy && pend_in(g.batch, g.nbatch, stream, key, h);
	pthread_mutex_unlock(&g.sync_lock);
	return r;
}

/*
 * Hand the waiting sends to the writer thread, if it is idle (when it is
 * busy they stay, and the batch grows meanwhile).  wait: also wait until
 * the writer has committed everything.
 */
static void
count_handover(int wait)
{
	struct pend *t;
	int c;

	pthread_mutex_lock(&g.sync_lock);
	while (wait && g.busy)
		pthread_cond_wait(&g.done_cond, &g.sync_lock);
	if (!g.busy && g.npend > 0) {
		t = g.batch;
		c = g.capbatch;
		g.batch = g.pend;
		g.capbatch = g.cappend;
		g.nbatch = g.npend;
		g.pend = t;
		g.cappend = c;
		g.npend = 0;
		g.batch_now = og_time_now();
		g.busy = 1;
		pthread_cond_signal(&g.sync_cond);
	}
	while (wait && g.busy)
		pthread_cond_wait(&g.done_cond, &g.sync_lock);
	pthread_mutex_unlock(&g.sync_lock);
}

/*
 * A later restriction may refuse a recipient passed here.  When Postfix
 * accepted exactly one, END-OF-MESSAGE names it (recipient_count=1,
 * recipient=): the index of its key, to count that one alone.  Else -1:
 * all passed are counted (a send counted for a recipient refused later
 * makes a cap stricter, never looser).
 */
static int
eom_only(struct conn *c, const pd_req *r, const struct inst *in)
{
	const char *rc = r->a[PD_A_RCPT_COUNT], *one = r->a[PD_A_RECIPIENT];
	const char *e;
	og_addr a;

	if (in->nkeys < 2 || rc == NULL || strcmp(rc, "1") != 0 ||
	    one == NULL || *one == 0)
		return -1;
	e = og_addr_envelope(one, c->rcpt, sizeof(c->rcpt));
	if (og_addr_parse(e, strlen(e), &g.cfg->rules, &a) != 0)
		return -1;
	return inst_key_index(in, a.key);
}

static void
do_eom(struct conn *c, const pd_req *r)
{
	const char *qid = r->a[PD_A_QUEUE_ID] && *r->a[PD_A_QUEUE_ID]
	                      ? r->a[PD_A_QUEUE_ID]
	                      : "NOQUEUE";
	struct inst *in = NULL;
	int k, n, only;

	if (r->a[PD_A_INSTANCE])
		in = inst_find(r->a[PD_A_INSTANCE]);
	if (in && in->discard_log) {
		og_log_info("%s: %s", qid, in->discard_log);
		free(in->discard_log);
		in->discard_log = NULL;
	}
	if (in && in->discard) {
		og_log_debug("%s: %s", qid, in->discard);
		reply(c, in->discard);
	} else {
		reply(c, "DUNNO");
	}
	if (in == NULL)
		return;
	only = eom_only(c, r, in);
	/*
	 * Counted from now on: this process's decisions see g.pend
	 * (pend_has), so the holds in its own table can go now.
	 */
	if (!g.spawn_mode)
		inst_unhold(in);
	if (g.npend == 0 && in->nkeys > 0)
		g.pend_since = og_mono_ms();
	for (k = 0; k < in->nkeys; k++) {
		if (only >= 0 && k != only)
			continue;
		if (g.npend == g.cappend) {
			g.cappend = g.cappend ? g.cappend * 2 : 64;
			g.pend = og_xrealloc(
			    g.pend, (size_t)g.cappend * sizeof(*g.pend));
		}
		og_strlcpy(g.pend[g.npend].stream, in->stream,
		    sizeof(g.pend[g.npend].stream));
		g.pend[g.npend].h = og_str_hash(in->keys[k]);
		g.pend[g.npend++].key = og_xstrdup(in->keys[k]);
	}
	n = only >= 0 ? 1 : in->nkeys;
	og_log_debug("%s: message accepted: %d sends of %s to count", qid, n,
	    in->stream);
	/*
	 * Under spawn(8) the other processes see the store only: the holds
	 * there are given back once the sends are committed.  The other
	 * order left a moment in which another session's decision saw
	 * neither, and passed a cap this send had reached.
	 */
	if (g.spawn_mode) {
		count_handover(1);
		inst_unhold(in);
	}
	inst_free(in);
}

/* Returns 1 when the request is waiting for SPF. */
static int
handle(struct conn *c, pd_req *r)
{
	const char *state = r->a[PD_A_STATE];

	inst_switch(c, r->a[PD_A_INSTANCE]);
	c->in_txn = r->a[PD_A_INSTANCE] && *r->a[PD_A_INSTANCE] &&
	            !(state && strcmp(state, "END-OF-MESSAGE") == 0);
	if (state && strcmp(state, "RCPT") == 0)
		return do_rcpt(c, r);
	if (state && strcmp(state, "END-OF-MESSAGE") == 0) {
		c->eom_seen = 1;
		do_eom(c, r);
	} else
		reply(c, "DUNNO");
	return 0;
}

/* Parse and answer every complete request in the input buffer. */
static void
conn_input(struct conn *c)
{
	pd_req r;
	size_t used;
	const char *why;
	int rc;

	while (c->state == C_READ && c->inlen > 0) {
		/*
		 * Requests sent ahead of their answers: room for one more
		 * reply first, else wait until the client has read (the
		 * EPOLLOUT event comes back here).
		 */
		if (c->out.max - c->out.len < PD_REPLY_MAX &&
		    (conn_flush(c) != 0 || c->out.len > 0))
			return;
		rc = pd_proto_parse(c->in, c->inlen, &r, &used, &why);
		if (rc == PD_MORE)
			break;
		if (rc == PD_BAD) {
			og_log_warn("%s: bad policy request: %s; closing the "
			            "connection",
			    c->peer, why);
			conn_close(c);
			return;
		}
		if (handle(c, &r)) {
			c->req = r;
			c->req_used = used;
			return; /* resumed by spf_done */
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		c->started = og_mono_ms(); /* of what is left, if anything */
	}
	if (g.in_turn && c->state != C_DEAD && c->outoff < c->out.len)
		turn_add(TQ_WRITE, c);
	else
		conn_flush(c);
}

/*
 * One read per readiness event: the loop is level-triggered, so what is
 * left is reported again, and a busy client cannot starve the others.
 */
static void
conn_readable(struct conn *c)
{
	ssize_t n;

	if (c->inlen == c->incap) {
		/* A request waiting for SPF points into c->in: no realloc
		 * now.  Postfix never sends before it has its answer. */
		if (c->state == C_SPF) {
			og_log_warn("%s: more input while a request waits for "
			            "SPF; closing",
			    c->peer);
			conn_close(c);
			return;
		}
		if (c->incap >= PD_IN_MAX) {
			/* Full: the parser names what is wrong. */
			if (c->state == C_READ) {
				conn_input(c);
				if (c->state != C_READ || c->inlen < c->incap)
					return;
			}
			og_log_warn("%s: input over %d bytes; closing", c->peer,
			    PD_IN_MAX);
			conn_close(c);
			return;
		}
		c->incap = c->incap ? c->incap * 2 : 2048;
		if (c->incap > PD_IN_MAX)
			c->incap = PD_IN_MAX;
		c->in = og_xrealloc(c->in, c->incap);
	}
	n = read(c->rfd, c->in + c->inlen, c->incap - c->inlen);
	if (n > 0) {
		c->last = og_mono_ms();
		if (c->inlen == 0)
			c->started = c->last;
		c->inlen += (size_t)n;
		if (c->state != C_READ)
			return; /* buffered until SPF answers */
		if (g.in_turn)
			turn_add(TQ_DECIDE, c);
		else
			conn_input(c);
		return;
	}
	if (n < 0 &&
	    (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == 0) {
		if (c->inlen > 0 && c->state == C_READ)
			og_log_warn("%s: connection closed in the middle of a "
			            "request",
			    c->peer);
		else
			og_log_debug("%s: disconnect", c->peer);
	} else {
		og_log_info("%s: read: %s", c->peer, strerror(errno));
	}
	conn_close(c);
}

/* ---------------------------------------------------------------- */
/* Listeners */

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static int
listen_unix(const char *path, struct listener *l)
{
	struct sockaddr_un sun;
	struct stat sb;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct passwd *pw;
	struct group *gr;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		og_log_fatal("listen unix:%s: path too long", path);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			og_log_fatal("listen unix:%s: exists and is not a "
			             "socket",
			    path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		og_log_fatal("socket: %s", strerror(errno));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	og_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	/*
	 * The mode comes from the umask at bind: a chmod(2) by name after
	 * it would follow a link put in the socket's place.  Nobody can
	 * connect before listen(2), after the owner is set.
	 */
	old = umask(~(mode_t)g.cfg->policyd_socket_mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		og_log_fatal("bind unix:%s: %s", path, strerror(errno));
	umask(old);
	if (g.cfg->policyd_socket_owner && *g.cfg->policyd_socket_owner) {
		if ((pw = getpwnam(g.cfg->policyd_socket_owner)) == NULL)
			og_log_fatal("[policyd] socket_owner: no user %s",
			    g.cfg->policyd_socket_owner);
		uid = pw->pw_uid;
	}
	if (g.cfg->policyd_socket_group && *g.cfg->policyd_socket_group) {
		if ((gr = getgrnam(g.cfg->policyd_socket_group)) == NULL)
			og_log_fatal("[policyd] socket_group: no group %s",
			    g.cfg->policyd_socket_group);
		gid = gr->gr_gid;
	}
	/* never through a link put in its place (lchown, one name) */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    (rc = og_priv_chown_socket(path, uid, gid)) != 0)
		og_log_warn("chown unix:%s to %s:%s: %s", path,
		    g.cfg->policyd_socket_owner, g.cfg->policyd_socket_group,
		    rc == OG_EINVAL ? "not our socket any more (a link or "
		                      "another file in its place)"
		                    : strerror(errno));
	if (listen(fd, 1024) != 0)
		og_log_fatal("listen unix:%s: %s", path, strerror(errno));
	l->fd = fd;
	snprintf(l->name, sizeof(l->name), "unix:%s", path);
	return 0;
}

static int
listen_inet(const char *spec, struct listener *l)
{
	char host[256];
	const char *port, *h = spec;
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int fd, one = 1, rc;

	if (*h == '[') {
		const char *e = strchr(h, ']');

		if (e == NULL || e[1] != ':')
			og_log_fatal(
			    "listen inet:%s: expected [ADDR]:PORT", spec);
		hl = (size_t)(e - h - 1);
		h++;
		port = e + 2;
	} else {
		const char *e = strrchr(h, ':');

		if (e == NULL)
			og_log_fatal(
			    "listen inet:%s: expected HOST:PORT", spec);
		hl = (size_t)(e - h);
		port = e + 1;
	}
	if (hl >= sizeof(host))
		og_log_fatal("listen inet:%s: host too long", spec);
	memcpy(host, h, hl);
	host[hl] = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0)
		og_log_fatal("listen inet:%s: %s", spec, gai_strerror(rc));
	fd = socket(
	    res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		og_log_fatal("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
		og_log_fatal("bind inet:%s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	if (listen(fd, 1024) != 0)
		og_log_fatal("listen inet:%s: %s", spec, strerror(errno));
	l->fd = fd;
	snprintf(l->name, sizeof(l->name), "inet:%s", spec);
	return 0;
}

static void
open_listeners(void)
{
	int i;
	struct epoll_event ev;

	if (g.cfg->npolicyd_listen > PD_LISTEN_MAX)
		og_log_fatal("too many [policyd] listen lines");
	for (i = 0; i < g.cfg->npolicyd_listen; i++) {
		const char *s = g.cfg->policyd_listen[i];
		struct listener *l = &g.listeners[g.nlisteners];

		l->ev.type = EV_LISTEN;
		if (strncmp(s, "unix:", 5) == 0)
			listen_unix(s + 5, l);
		else if (strncmp(s, "inet:", 5) == 0)
			listen_inet(s + 5, l);
		else
			og_log_fatal(
			    "[policyd] listen = %s: expected unix:PATH "
			    "or inet:HOST:PORT",
			    s);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = l;
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0)
			og_log_fatal("epoll_ctl: %s", strerror(errno));
		g.nlisteners++;
		og_log_info("listening on %s", l->name);
	}
	if (g.nlisteners == 0)
		og_log_fatal("no [policyd] listen address");
}

/* Whether an overload warning is due: one a second at most. */
static int
overload_log_due(void)
{
	int64_t now = og_mono_ms();

	if (now - g.last_overload_log < 1000)
		return 0;
	g.last_overload_log = now;
	return 1;
}

/* Stop (1) or resume (0) watching the listeners for connections. */
static void
listeners_pause(int pause)
{
	struct epoll_event ev;
	int i;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < g.nlisteners; i++) {
		ev.events = pause ? 0 : EPOLLIN;
		ev.data.ptr = &g.listeners[i];
		if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, g.listeners[i].fd, &ev) !=
		    0)
			og_log_warn("epoll_ctl: %s", strerror(errno));
	}
	g.accept_paused_at = pause ? og_mono_ms() : 0;
}

static void
accept_all(struct listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char peer[160], host[64], serv[16];
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/*
			 * Out of file descriptors (or memory): the connection
			 * stays in the backlog and the listener readable, so
			 * accepting again at once would spin and flood the
			 * log.  Stop listening for a second (timers()).
			 */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				listeners_pause(1);
				if (overload_log_due())
					og_log_warn(
					    "accept on %s: %s (%d "
					    "connections); not accepting "
					    "for a second",
					    l->name, strerror(errno), g.nconns);
				return;
			}
			og_log_warn(
			    "accept on %s: %s", l->name, strerror(errno));
			return;
		}
		if (g.nconns >= g.conn_cap) {
			if (overload_log_due())
				og_log_warn("%d connections: refusing more "
				            "([policyd] max_connections%s)",
				    g.nconns,
				    g.conn_cap < g.cfg->policyd_max_connections
				        ? ", as far as the open files limit "
				          "allows"
				        : "");
			close(fd);
			continue;
		}
		if (ss.ss_family == AF_UNIX ||
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
		        serv, sizeof(serv),
		        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			snprintf(peer, sizeof(peer), "%s#%d", l->name, fd);
		else
			snprintf(peer, sizeof(peer), "%s:%s", host, serv);
		if (conn_new(fd, fd, peer))
			og_log_debug("%s: connect", peer);
	}
}

/* ---------------------------------------------------------------- */
/* Setup */

static void
drop_privileges(void)
{
	char err[256];

	if (og_priv_drop("policyd", g.cfg->policyd_user, err, sizeof(err)) != 0)
		og_log_fatal("%s", err);
}

/*
 * Open files for max_connections and 64 more (listeners, the store, SPF
 * helpers' pipes, the log); connections past what the limit allows are
 * refused like those past max_connections, not left to fail accept(2).
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)g.cfg->policyd_max_connections + 64;

	g.conn_cap = g.cfg->policyd_max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < want) {
		struct rlimit n = rl;

		n.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (geteuid() == 0 && rl.rlim_max < want)
			n.rlim_cur = n.rlim_max = want;
		if (setrlimit(RLIMIT_NOFILE, &n) == 0)
			rl = n;
		if (rl.rlim_cur < want)
			og_log_warn("cannot raise the open files limit to %lu "
			            "(it is %lu): at most %lu connections",
			    (unsigned long)want, (unsigned long)rl.rlim_cur,
			    rl.rlim_cur > 64 ? (unsigned long)rl.rlim_cur - 64
			                     : 0UL);
	}
	if (rl.rlim_cur < want)
		g.conn_cap = rl.rlim_cur > 64 ? (int)(rl.rlim_cur - 64) : 0;
}

static void
config_report(const char *msg, void *ctx)
{
	og_log_err("%s", msg);
}

/*
 * What the config loads with but ignores (og_config.h), once per load.
 * Not under spawn(8): a process per smtpd connection would repeat them
 * on every connection (config check says them).
 */
static void
config_warnings(const og_config *cfg)
{
	char shadow[512];
	int i;

	for (i = 0; i < cfg->nwarnings && !g.spawn_mode; i++)
		og_log_warn("%s", cfg->warnings[i]);
	for (i = 0; i < cfg->nstreams && !g.spawn_mode; i++)
		if (og_stream_rcpt_shadow(
		        cfg, &cfg->streams[i], shadow, sizeof(shadow)))
			og_log_warn("%s", shadow);
}

/* Policy-specific checks a config must pass before policyd uses it. */
static int
config_usable(const og_config *cfg)
{
	int i;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].spf != OG_SPF_OFF &&
		    cfg->nspf_egress == 0) {
			og_log_err(
			    "%s: [stream %s] spf = on needs [spf] egress "
			    "(this server's sending addresses)",
			    cfg->path, cfg->streams[i].name);
			return 0;
		}
	return 1;
}

static void
apply_config(void)
{
	og_log_set_verbose(g.cfg->verbose > og_log_verbose()
	                       ? g.cfg->verbose
	                       : og_log_verbose());
	if (g.spf)
		pd_spf_configure(g.spf, g.cfg->spf_egress, g.cfg->nspf_egress,
		    g.cfg->spf_helo, g.cfg->spf_timeout, g.cfg->spf_cache_ttl);
	pthread_mutex_lock(&g.sync_lock);
	g.sync_every = g.cfg->counter_sync;
	pthread_mutex_unlock(&g.sync_lock);
}

/* Two optional strings are the same (NULL and "" alike). */
static int
str_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void
reload(void)
{
	og_config *n = NULL;
	char err[2048] = "";
	int rc, i, newmax;

	/* config_report has logged each error: the line here only says what
	 * became of the reload, so that no error is logged twice */
	rc = og_config_load(
	    g.config_path, &n, err, sizeof(err), config_report, NULL);
	if (rc != 0) {
		og_log_err("reload: keeping the running config");
		return;
	}
	if (!config_usable(n)) {
		og_log_err("reload: keeping the running config");
		og_config_unref(n);
		return;
	}
	config_warnings(n);
	/* keys made with other settings would not find the records */
	if (g.store != NULL && og_store_address_check(g.store, n->address_keys,
	                           err, sizeof(err)) != 0) {
		og_log_err("reload: %s; keeping the running config", err);
		og_config_unref(n);
		return;
	}
	if (n->npolicyd_listen != g.cfg->npolicyd_listen)
		og_log_warn("reload: [policyd] listen changed: takes effect at "
		            "restart");
	else
		for (i = 0; i < n->npolicyd_listen; i++)
			if (strcmp(n->policyd_listen[i],
			        g.cfg->policyd_listen[i]) != 0) {
				og_log_warn("reload: [policyd] listen changed: "
				            "takes effect at restart");
				break;
			}
	if (strcmp(n->store_path, g.cfg->store_path) != 0)
		og_log_warn("reload: [store] path changed: takes effect at "
		            "restart");
	/* Given to og_store_open only: the open store keeps the old ones. */
	if (n->map_size != g.cfg->map_size ||
	    n->counter_map_size != g.cfg->counter_map_size ||
	    n->max_readers != g.cfg->max_readers)
		og_log_warn("reload: [store] map_size, counter_map_size or "
		            "max_readers changed: takes effect at restart");
	/* Applied once, as root, at the start: say so rather than ignore. */
	if (!str_same(n->policyd_user, g.cfg->policyd_user))
		og_log_warn("reload: [policyd] user changed: takes effect at "
		            "restart");
	if (!str_same(n->policyd_socket_owner, g.cfg->policyd_socket_owner) ||
	    !str_same(n->policyd_socket_group, g.cfg->policyd_socket_group) ||
	    n->policyd_socket_mode != g.cfg->policyd_socket_mode)
		og_log_warn("reload: [policyd] socket_owner, socket_group or "
		            "socket_mode changed: takes effect at restart");
	newmax = n->policyd_max_connections != g.cfg->policyd_max_connections;
	og_config_unref(g.cfg);
	g.cfg = n;
	if (newmax && !g.spawn_mode)
		raise_nofile();
	apply_config();
	og_log_info("reloaded %s (%d streams)", g.cfg->path, g.cfg->nstreams);
}

static void
timers(void)
{
	int64_t now = og_mono_ms();
	int64_t idle = g.cfg->policyd_idle_timeout * 1000;
	int64_t txn = g.cfg->policyd_instance_timeout * 1000, limit;
	struct conn *c, *next;

	if (now - g.last_tick < 200)
		return;
	g.last_tick = now;
	for (c = g.conns; c; c = next) {
		next = c->next;
		/*
		 * Idle, or a request dripping in for longer than that.  In
		 * the middle of a transaction smtpd is not idle: it keeps
		 * its connection through a DATA of any length (its own
		 * max_idle runs only between sessions) and needs it at
		 * END-OF-MESSAGE; that wait is bounded by instance_timeout.
		 */
		limit = c->in_txn && c->inlen == 0 && txn > idle ? txn : idle;
		if (c->state == C_SPF ||
		    (now - c->last < limit &&
		        (c->inlen == 0 || now - c->started < idle)))
			continue;
		if (c->inlen > 0)
			og_log_warn("%s: timeout in the middle of a request; "
			            "closing",
			    c->peer);
		else if (c->outoff < c->out.len)
			og_log_warn(
			    "%s: timeout sending a reply; closing", c->peer);
		else
			og_log_debug("%s: idle timeout", c->peer);
		conn_close(c);
	}
	if (g.accept_paused_at && now - g.accept_paused_at >= 1000)
		listeners_pause(0);
	if (g.spf)
		pd_spf_tick(g.spf);
	inst_expire(now);
	if (g.store == NULL && now >= g.store_retry_at)
		store_open(0);
	if (g.store && now - g.last_readers >= 60000) {
		og_store_reader_check(g.store);
		g.last_readers = now;
	}
}

static void
signals_setup(void)
{
	sigset_t set;
	struct epoll_event ev;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		og_log_fatal("sigprocmask: %s", strerror(errno));
	g.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g.sigfd < 0)
		og_log_fatal("signalfd: %s", strerror(errno));
	g.sigev.type = EV_SIGNAL;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &g.sigev;
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.sigfd, &ev) != 0)
		og_log_fatal("epoll_ctl: %s", strerror(errno));
}

static void
signal_event(void)
{
	struct signalfd_siginfo si;

	while (read(g.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload();
		else
			g.stop = 1;
	}
}

/*
 * The end of a turn: the requests read in it are decided in a row, then
 * their replies written in a row.  Read, decide and write one connection
 * after the other, each decision began with the consent tree's pages and
 * the gate's code pushed out of the CPU's caches by the network stack's
 * work for the one before; in a row they stay, and the load generator
 * (smtpd) is woken once for several replies.  Measured at 8 connections
 * on a 10M store: about 10% more requests a second, p99 down by as much.
 * A connection closed meanwhile is still in memory (conn_reap comes
 * after): its state says to skip it.
 */
static void
turn_end(void)
{
	struct conn *c;

	while ((c = turn_take(TQ_DECIDE)) != NULL)
		if (c->state == C_READ)
			conn_input(c);
	g.in_turn = 0;
	while ((c = turn_take(TQ_WRITE)) != NULL)
		if (c->state != C_DEAD)
			conn_flush(c);
}

static void
loop(void)
{
	struct epoll_event evs[128];
	int64_t left;
	int i, n, timeout;

	while (!g.stop) {
		/* Log lines of the last turn leave in one write. */
		fflush(stderr);
		timeout = 200;
		if (g.npend > 0) {
			/* Due, but the writer was busy: look again in 1 ms. */
			left = g.pend_since + PD_COUNT_DELAY - og_mono_ms();
			timeout = left > 0 ? (int)left : 1;
		}
		n = epoll_wait(g.epfd, evs, 128, timeout);
		if (n < 0 && errno != EINTR)
			og_log_fatal("epoll_wait: %s", strerror(errno));
		g.in_turn = 1;
		for (i = 0; i < n && !g.stop; i++) {
			void *p = evs[i].data.ptr;
			uint32_t e = evs[i].events;

			if (g.spf && pd_spf_owns(g.spf, p)) {
				pd_spf_event(g.spf, p, e);
				continue;
			}
			switch (((struct ev *)p)->type) {
			case EV_LISTEN:
				accept_all(p);
				break;
			case EV_SIGNAL:
				signal_event();
				break;
			case EV_CONN: {
				struct conn *c = p;

				if (c->state == C_DEAD)
					break;
				if (e & EPOLLOUT) {
					if (conn_flush(c) != 0)
						break;
					if (c->outoff == c->out.len) {
						conn_events(c, EPOLLIN);
						conn_input(c);
					}
					break;
				}
				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
					conn_readable(c);
				break;
			}
			}
		}
		turn_end();
		if (g.npend > 0 &&
		    (g.spawn_mode || g.npend >= PD_COUNT_BATCH ||
		        og_mono_ms() - g.pend_since >= PD_COUNT_DELAY))
			count_handover(g.spawn_mode);
		timers();
		conn_reap();
	}
}

int
main(int argc, char **argv)
{
	int ch, fg = 0, verbose = 0;
	char err[1024] = "";
	ssize_t n;

	if (argc == 2 && strcmp(argv[1], PD_SPF_HELPER_ARG) == 0)
		return pd_spf_helper_main();
	while ((ch = getopt(argc, argv, "c:fsvV")) != -1) {
		switch (ch) {
		case 'c':
			g.config_path = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 's':
			g.spawn_mode = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("optgate-policyd %s\n", OG_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* SIGHUP re-reads it after daemon() went to "/". */
	g.config_path = og_config_abspath(g.config_path);
	/* Under spawn(8) stderr is the Postfix connection: syslog only. */
	og_log_open("optgate-policyd", fg && !g.spawn_mode ? OG_LOG_STDERR : 0);
	og_log_sigbus(OG_STORE_SIGBUS_MSG);
	og_log_set_verbose(verbose);
	/*
	 * In the foreground the decision lines go to stderr (journald under
	 * systemd): buffer them and write once per loop turn instead of a
	 * write per decision.  loop() flushes before it waits.
	 */
	if (fg && !g.spawn_mode)
		setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	/* config_report logs each error once; the fatal line says the end */
	if (og_config_load(g.config_path, &g.cfg, err, sizeof(err),
	        config_report, NULL) != 0)
		og_log_fatal("cannot start without a valid configuration");
	if (!config_usable(g.cfg))
		og_log_fatal("cannot start with this config");
	config_warnings(g.cfg);
	n = readlink("/proc/self/exe", g.exe, sizeof(g.exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(g.exe) - 1)
		og_strlcpy(g.exe, argv[0], sizeof(g.exe));
	else
		g.exe[n] = 0;

	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.epfd < 0)
		og_log_fatal("epoll_create1: %s", strerror(errno));
	g.tq[TQ_DECIDE].tail = &g.tq[TQ_DECIDE].head;
	g.tq[TQ_WRITE].tail = &g.tq[TQ_WRITE].head;
	if (g.spawn_mode) {
		if (set_nonblock(0) != 0 || set_nonblock(1) != 0)
			og_log_fatal("stdin/stdout: %s", strerror(errno));
		if (conn_new(0, 1, "spawn") == NULL)
			og_log_fatal("cannot serve stdin");
	} else {
		raise_nofile();
		open_listeners();
		/* Detach once binding worked, so bind errors still show. */
		if (!fg && daemon(0, 0) != 0)
			og_log_fatal("daemon: %s", strerror(errno));
	}
	/*
	 * After daemon(): a signalfd wakes the epoll of the process that
	 * registered it, so one set up before the fork would never report
	 * a SIGTERM or SIGHUP sent to the daemon.
	 */
	signals_setup();
	drop_privileges();
	g.spf = pd_spf_new(g.epfd, g.exe);
	apply_config();
	store_open(1);
	g.last_readers = og_mono_ms();
	writer_start();
	og_log_info("optgate-policyd %s started (%d streams)", OG_VERSION,
	    g.cfg->nstreams);

	loop();

	while (g.conns)
		conn_close(g.conns);
	conn_reap();
	count_handover(1);
	while (g.ihead)
		inst_free(g.ihead);
	pd_spf_free(g.spf);
	pthread_mutex_lock(&g.sync_lock);
	g.sync_stop = 1;
	pthread_cond_signal(&g.sync_cond);
	pthread_mutex_unlock(&g.sync_lock);
	pthread_join(g.sync_thread, NULL);
	free(g.pend);
	free(g.batch);
	if (g.store) {
		og_store_sync_counters(g.store);
		og_store_close(g.store);
	}
	og_config_unref(g.cfg);
	if (!g.spawn_mode)
		og_log_info("stopped after %lu requests", g.served);
	return 0;
}
