/*
 * pd_load.c - load generator for the policyd benchmark: what Postfix's
 * smtpd processes do to a policy service, over C persistent connections
 * (one request in flight on each, as smtpd does).  Each message is an
 * RCPT request for a random address of the N that og_bench loaded (the
 * same address function), then an END-OF-MESSAGE request for the same
 * instance.
 *
 *   pd_load PORT CONNS SECONDS N [SENDER]
 *
 * Prints one line: requests= seconds= rate= p50_us= p99_us= errors=
 * dunno= refused=.  Bounded by SECONDS (and 4M latency samples).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#define MAXLAT (4u << 20)

struct conn {
	int fd, id;
	unsigned long msg;
	int eom; /* next request is the END-OF-MESSAGE */
	double sent;
	char buf[4096];
	size_t len;
};

static uint32_t *lat;
static size_t nlat;
static uint64_t seed = 88172645463325252ULL, nreq, nerr, ndunno, nrefused;
static uint64_t nreconnect;
static uint64_t N;
static const char *sender = "news@example.com";

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static int
send_req(struct conn *c)
{
	char req[1024], rcpt[128];
	int n;

	if (!c->eom) {
		c->msg++;
		addr(rnd() % N, rcpt, sizeof(rcpt));
		n = snprintf(req, sizeof(req),
		    "request=smtpd_access_policy\n"
		    "protocol_state=RCPT\nprotocol_name=ESMTP\n"
		    "client_address=127.0.0.1\nclient_name=localhost\n"
		    "helo_name=app.example\nsender=%s\nrecipient=%s\n"
		    "recipient_count=0\nqueue_id=\ninstance=%d.%lu\n"
		    "size=0\nsasl_username=\n\n",
		    sender, rcpt, c->id, c->msg);
	} else {
		n = snprintf(req, sizeof(req),
		    "request=smtpd_access_policy\n"
		    "protocol_state=END-OF-MESSAGE\nprotocol_name=ESMTP\n"
		    "client_address=127.0.0.1\nclient_name=localhost\n"
		    "helo_name=app.example\nsender=%s\nrecipient=\n"
		    "recipient_count=1\nqueue_id=Q%dX%lu\ninstance=%d.%lu\n"
		    "size=500\nsasl_username=\n\n",
		    sender, c->id, c->msg, c->id, c->msg);
	}
	c->sent = now_s();
	return write(c->fd, req, (size_t)n) == n ? 0 : -1;
}

static int
dial(struct conn *c, int port, int ep)
{
	struct sockaddr_in sin;
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("pd_load: connect");
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int
cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int port, nc, i, ep;
	double secs, t0, end, t;
	struct conn *cs;
	struct epoll_event evs[256];

	if (argc < 5) {
		fprintf(
		    stderr, "usage: pd_load PORT CONNS SECONDS N [SENDER]\n");
		return 2;
	}
	port = atoi(argv[1]);
	nc = atoi(argv[2]);
	secs = atof(argv[3]);
	N = strtoull(argv[4], NULL, 10);
	if (argc > 5)
		sender = argv[5];
	if (nc < 1 || nc > 2000 || N == 0 || secs <= 0 || secs > 600)
		return 2;
	/* A new sample of recipients each run: caps counted by an earlier
	 * run must not turn this one into a run of refusals. */
	seed ^= (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	lat = malloc(MAXLAT * sizeof(*lat));
	cs = calloc((size_t)nc, sizeof(*cs));
	ep = epoll_create1(0);
	for (i = 0; i < nc; i++) {
		cs[i].id = i;
		if (dial(&cs[i], port, ep) != 0)
			return 1;
	}
	t0 = now_s();
	end = t0 + secs;
	for (i = 0; i < nc; i++)
		send_req(&cs[i]);
	while ((t = now_s()) < end) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - 1 - c->len);

			if (r <= 0) {
				/* The server closed (postfwd's children end
				 * after a number of requests): reconnect and
				 * ask again, as smtpd does. */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				if (dial(c, port, ep) != 0)
					return 1;
				nreconnect++;
				c->len = 0;
				c->eom = 0;
				if (send_req(c) != 0)
					return 1;
				continue;
			}
			c->len += (size_t)r;
			c->buf[c->len] = 0;
			if (c->len < 2 ||
			    memcmp(c->buf + c->len - 2, "\n\n", 2) != 0)
				continue;
			t = now_s();
			if (nlat < MAXLAT)
				lat[nlat++] = (uint32_t)((t - c->sent) * 1e6);
			nreq++;
			if (strncmp(c->buf, "action=", 7) != 0)
				nerr++;
			else if (strncmp(c->buf + 7, "DUNNO", 5) == 0 ||
			         strncmp(c->buf + 7, "dunno", 5) == 0 ||
			         strncmp(c->buf + 7, "OK", 2) == 0)
				ndunno++;
			else
				nrefused++;
			c->len = 0;
			c->eom = !c->eom;
			if (t < end && send_req(c) != 0) {
				perror("pd_load: write");
				return 1;
			}
		}
	}
	t = now_s() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("requests=%llu seconds=%.2f rate=%.0f p50_us=%u p99_us=%u "
	       "errors=%llu dunno=%llu refused=%llu reconnects=%llu\n",
	    (unsigned long long)nreq, t, nreq / t, nlat ? lat[nlat / 2] : 0,
	    nlat ? lat[nlat * 99 / 100] : 0, (unsigned long long)nerr,
	    (unsigned long long)ndunno, (unsigned long long)nrefused,
	    (unsigned long long)nreconnect);
	for (i = 0; i < nc; i++)
		close(cs[i].fd);
	free(cs);
	free(lat);
	return 0;
}
