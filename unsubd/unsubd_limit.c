/*
 * unsubd_limit.c - per-IP rate limit and the absolute request deadline.
 *
 * Rate limit: a table of client addresses (IPv6: their /64), each with a
 * count in a fixed
 * one-minute window (Postfix anvil's way: the count saturates in its
 * window and the window is forgotten when it ends).  Expired entries are
 * swept when the table is full; when it is still full, new addresses are
 * refused rather than letting the table grow without bound.
 *
 * Deadline: libmicrohttpd's connection timeout, like evhttp's, restarts
 * on every byte, so a client sending one byte a second holds a connection
 * for ever.  Every connection is registered here with its socket and the
 * time its current request began; a reaper thread shuts down (shutdown(2),
 * never close(2): the server still owns the descriptor) the socket of any
 * request older than the deadline.  The server then sees end-of-file and
 * closes the connection itself.  A connection whose opt-out is being
 * written is held and never cut.
 *
 * Connections per client: each connection is counted for its client (the
 * rate limit's unit: an IPv4 address, an IPv6 /64) while it is open, so
 * that one client cannot hold every connection max_connections allows:
 * one over its share is shut down as soon as it is seen.  An entry lives
 * while its client has connections, and a minute after its last logged
 * refusal (one log line per client per minute, however many are
 * refused).
 *
 * Public: unsubd_rate_*, unsubd_conn_*, unsubd_client_*,
 * unsubd_reaper_*.  Thread-safe: one mutex per table (conn_lock is
 * never held while client_lock is taken, nor the other way round).
 *
 * LIMITS: RATE_MAX addresses tracked at once; the reaper looks every
 * REAP_TICK_MS; per-client entries are bounded by the open connections
 * plus the clients refused in the last minute.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"
#include "og_time.h"
#include "unsubd.h"

#define RATE_BUCKETS 4096
#define RATE_MAX 65536
#define RATE_WINDOW 60
#define REAP_TICK_MS 100
#define CLIENT_LOG_MS 60000 /* one refusal line per client this often */

typedef struct rate_ent {
	char ip[48];
	int64_t window; /* start of the current window */
	int count;
	struct rate_ent *next;
} rate_ent;

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static rate_ent *rate_tab[RATE_BUCKETS];
static size_t rate_n;

static void
rate_sweep(int64_t now)
{
	int i;

	for (i = 0; i < RATE_BUCKETS; i++) {
		rate_ent **pp = &rate_tab[i];

		while (*pp != NULL) {
			if (now - (*pp)->window >= RATE_WINDOW) {
				rate_ent *dead = *pp;

				*pp = dead->next;
				free(dead);
				rate_n--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/*
 * The unit an address is counted in: an IPv4 address, or an IPv6 /64
 * (one subscriber's network; counting single IPv6 addresses would let
 * one client fill the table from its own /64).
 */
static const char *
rate_unit(const char *ip, char *buf, size_t size)
{
	unsigned char a[16];
	char t[INET6_ADDRSTRLEN];

	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, a) != 1)
		return ip;
	memset(a + 8, 0, 8);
	if (inet_ntop(AF_INET6, a, t, sizeof(t)) == NULL)
		return ip;
	snprintf(buf, size, "%s/64", t);
	return buf;
}

int
unsubd_rate_hit(const char *addr, int limit, int64_t now)
{
	char ub[INET6_ADDRSTRLEN + 4];
	const char *ip = rate_unit(addr, ub, sizeof(ub));
	unsigned h;
	rate_ent *e;
	int rc = 0;

	if (limit <= 0)
		return 0;
	h = og_str_hash(ip) % RATE_BUCKETS;
	pthread_mutex_lock(&rate_lock);
	for (e = rate_tab[h]; e != NULL; e = e->next)
		if (strcmp(e->ip, ip) == 0)
			break;
	if (e == NULL) {
		if (rate_n >= RATE_MAX)
			rate_sweep(now);
		if (rate_n >= RATE_MAX) {
			rc = OG_EBUSY;
			goto out;
		}
		e = og_xcalloc(1, sizeof(*e));
		og_strlcpy(e->ip, ip, sizeof(e->ip));
		e->window = now;
		e->next = rate_tab[h];
		rate_tab[h] = e;
		rate_n++;
	}
	if (now - e->window >= RATE_WINDOW || now < e->window) {
		e->window = now;
		e->count = 0;
	}
	if (e->count >= limit)
		rc = OG_EBUSY;
	else
		e->count++;
out:
	pthread_mutex_unlock(&rate_lock);
	return rc;
}

void
unsubd_rate_reset(void)
{
	pthread_mutex_lock(&rate_lock);
	rate_sweep(INT64_MAX);
	pthread_mutex_unlock(&rate_lock);
}

typedef struct client_ent {
	char unit[48];
	int n;      /* open connections counted */
	int logged; /* a refusal was logged, at logged_ms */
	uint64_t logged_ms;
	struct client_ent *next;
} client_ent;

struct unsubd_conn {
	int fd;
	int held;
	int cut;
	uint64_t start_ms;
	client_ent *client; /* counted for this client; NULL: not counted */
	unsubd_conn *prev, *next;
};

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cond; /* on the monotonic clock */
static pthread_once_t reap_once = PTHREAD_ONCE_INIT;

/*
 * The reaper's tick is timed on the monotonic clock: on the wall clock,
 * a clock set back an hour (an NTP step, date -s) put it to sleep for
 * that hour, and slow clients kept their connections.
 */
static void
reap_cond_init(void)
{
	(void)og_cond_init_monotonic(&reap_cond);
}
static unsubd_conn *conn_head;
static uint64_t reap_deadline_ms;
static uint64_t reap_cut;
static int reap_stop;
static int reap_running;
static pthread_t reap_thread;

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
static client_ent *client_tab[RATE_BUCKETS];
static uint64_t client_swept_ms;

/* Whether e may go: no connections, no refusal logged this minute. */
static int
client_idle(const client_ent *e, uint64_t now)
{
	return e->n == 0 && (!e->logged || now - e->logged_ms >= CLIENT_LOG_MS);
}

/* Under client_lock: drop the idle entries, at most once a minute. */
static void
client_sweep(uint64_t now)
{
	int i;

	if (now - client_swept_ms < CLIENT_LOG_MS)
		return;
	client_swept_ms = now;
	for (i = 0; i < RATE_BUCKETS; i++) {
		client_ent **pp = &client_tab[i];

		while (*pp != NULL) {
			if (client_idle(*pp, now)) {
				client_ent *dead = *pp;

				*pp = dead->next;
				free(dead);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/* Under client_lock: the entry of ip's unit; NULL when none (and !make). */
static client_ent *
client_find(const char *ip, int make)
{
	char ub[INET6_ADDRSTRLEN + 4];
	const char *unit = rate_unit(ip, ub, sizeof(ub));
	unsigned h = og_str_hash(unit) % RATE_BUCKETS;
	client_ent *e;

	for (e = client_tab[h]; e != NULL; e = e->next)
		if (strcmp(e->unit, unit) == 0)
			return e;
	if (!make)
		return NULL;
	e = og_xcalloc(1, sizeof(*e));
	og_strlcpy(e->unit, unit, sizeof(e->unit));
	e->next = client_tab[h];
	client_tab[h] = e;
	return e;
}

/* Under client_lock: e is full; whether this refusal is to be logged. */
static int
client_refusal(client_ent *e, uint64_t now)
{
	if (e->logged && now - e->logged_ms < CLIENT_LOG_MS)
		return 0;
	e->logged = 1;
	e->logged_ms = now;
	return 1;
}

int
unsubd_client_full(const char *ip, int limit, int *first)
{
	uint64_t now = og_mono_ms();
	client_ent *e;
	int rc = 0;

	*first = 0;
	if (limit <= 0)
		return 0;
	pthread_mutex_lock(&client_lock);
	e = client_find(ip, 0);
	if (e != NULL && e->n >= limit) {
		*first = client_refusal(e, now);
		rc = OG_EBUSY;
	}
	pthread_mutex_unlock(&client_lock);
	return rc;
}

int
unsubd_conn_client(unsubd_conn *c, const char *ip, int limit, int *first)
{
	uint64_t now = og_mono_ms();
	client_ent *e;
	int rc = 0;

	*first = 0;
	if (c == NULL || limit <= 0)
		return 0;
	pthread_mutex_lock(&client_lock);
	client_sweep(now);
	e = client_find(ip, 1);
	if (e->n >= limit) {
		*first = client_refusal(e, now);
		rc = OG_EBUSY;
	} else {
		e->n++;
		c->client = e;
	}
	pthread_mutex_unlock(&client_lock);
	if (rc != 0) {
		/* As the reaper does: the server sees end-of-file, closes. */
		pthread_mutex_lock(&conn_lock);
		(void)shutdown(c->fd, SHUT_RDWR);
		c->cut = 1;
		pthread_mutex_unlock(&conn_lock);
	}
	return rc;
}

/* One connection of e closed. */
static void
client_release(client_ent *e)
{
	uint64_t now = og_mono_ms();

	pthread_mutex_lock(&client_lock);
	e->n--;
	if (client_idle(e, now)) {
		client_ent **pp =
		    &client_tab[og_str_hash(e->unit) % RATE_BUCKETS];

		while (*pp != NULL && *pp != e)
			pp = &(*pp)->next;
		if (*pp == e) {
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&client_lock);
}

unsubd_conn *
unsubd_conn_add(int fd)
{
	unsubd_conn *c = og_xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->start_ms = og_mono_ms();
	pthread_mutex_lock(&conn_lock);
	c->next = conn_head;
	if (conn_head != NULL)
		conn_head->prev = c;
	conn_head = c;
	pthread_mutex_unlock(&conn_lock);
	return c;
}

void
unsubd_conn_del(unsubd_conn *c)
{
	if (c == NULL)
		return;
	/* Under the lock: the reaper never touches a closed descriptor. */
	pthread_mutex_lock(&conn_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conn_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&conn_lock);
	if (c->client != NULL)
		client_release(c->client);
	free(c);
}

void
unsubd_conn_restart(unsubd_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&conn_lock);
	c->start_ms = og_mono_ms();
	pthread_mutex_unlock(&conn_lock);
}

void
unsubd_conn_hold(unsubd_conn *c, int hold)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&conn_lock);
	c->held = hold;
	if (!hold)
		c->start_ms = og_mono_ms();
	pthread_mutex_unlock(&conn_lock);
}

static void *
reaper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&conn_lock);
	while (!reap_stop) {
		struct timespec ts;
		uint64_t now = og_mono_ms();
		unsubd_conn *c;

		for (c = conn_head; c != NULL; c = c->next) {
			if (c->held || c->cut ||
			    now - c->start_ms < reap_deadline_ms)
				continue;
			(void)shutdown(c->fd, SHUT_RDWR);
			c->cut = 1;
			reap_cut++;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += REAP_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&reap_cond, &conn_lock, &ts);
	}
	pthread_mutex_unlock(&conn_lock);
	return NULL;
}

int
unsubd_reaper_start(int64_t deadline_ms)
{
	reap_deadline_ms = deadline_ms > 0 ? (uint64_t)deadline_ms : 10000;
	reap_stop = 0;
	pthread_once(&reap_once, reap_cond_init);
	if (pthread_create(&reap_thread, NULL, reaper, NULL) != 0)
		return OG_EIO;
	reap_running = 1;
	return 0;
}

void
unsubd_reaper_set(int64_t deadline_ms)
{
	pthread_mutex_lock(&conn_lock);
	reap_deadline_ms = deadline_ms > 0 ? (uint64_t)deadline_ms : 10000;
	pthread_mutex_unlock(&conn_lock);
}

void
unsubd_reaper_stop(void)
{
	if (!reap_running)
		return;
	pthread_mutex_lock(&conn_lock);
	reap_stop = 1;
	pthread_cond_signal(&reap_cond);
	pthread_mutex_unlock(&conn_lock);
	pthread_join(reap_thread, NULL);
	reap_running = 0;
}

uint64_t
unsubd_reaper_cut(void)
{
	uint64_t n;

	pthread_mutex_lock(&conn_lock);
	n = reap_cut;
	pthread_mutex_unlock(&conn_lock);
	return n;
}
