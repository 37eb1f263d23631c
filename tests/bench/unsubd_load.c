/*
 * unsubd_load.c - a small bounded HTTP/1.1 load generator for
 * tests/bench/unsubd.sh: C keep-alive clients, each sending its share of
 * N requests (POST one-click or GET page) to paths from a file, one per
 * line, recording every latency.  Prints requests/s, p50, p99, max and
 * the status counts.
 *
 *   unsubd_load -p PORT -c CLIENTS -n REQUESTS [-t SECONDS] [-g] PATHFILE
 *   unsubd_load -k KEYSFILE -s STREAM -m N [-f FIRST]
 *                           print N token paths for userFIRST..@bench.example
 * Built by the bench script against liboptgate (for the tokens).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "og_token.h"

static int port, clients, total, get_mode;
static double limit_s = 60;
static char **paths;
static int npaths;
static double *lat;
static int next_req;
static int st2xx, st4xx, st5xx, errs;
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static double t_start;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dial(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request on fd; status or -1 (connection to be redone). */
static int
one(int fd, const char *path, int *keep)
{
	char req[1024], buf[65536];
	size_t have = 0;
	int n, status = -1;
	long clen = -1;
	char *hend = NULL;

	if (get_mode)
		n = snprintf(req, sizeof(req),
		    "GET %s HTTP/1.1\r\nHost: bench\r\n"
		    "Accept-Language: pt-BR\r\n\r\n",
		    path);
	else
		n = snprintf(req, sizeof(req),
		    "POST %s HTTP/1.1\r\nHost: bench\r\n"
		    "Content-Type: application/x-www-form-urlencoded\r\n"
		    "Content-Length: 26\r\n\r\nList-Unsubscribe=One-Click",
		    path);
	if (write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (hend == NULL && (hend = strstr(buf, "\r\n\r\n")) != NULL) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			status = atoi(buf + 9);
			clen = cl != NULL && cl < hend ? atol(cl + 17) : 0;
			*keep =
			    strcasestr(buf, "\r\nConnection: close") == NULL;
		}
		if (hend != NULL &&
		    have >= (size_t)(hend + 4 - buf) + (size_t)clen)
			return status;
		if (have >= sizeof(buf) - 1)
			return -1;
	}
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *
worker(void *arg)
{
	int fd = -1, keep = 1;

	(void)arg;
	for (;;) {
		int i, st;
		double t0;

		pthread_mutex_lock(&lk);
		i = next_req < total && now() - t_start < limit_s ? next_req++
		                                                  : -1;
		pthread_mutex_unlock(&lk);
		if (i < 0)
			break;
		if (fd < 0 && (fd = dial()) < 0) {
			__atomic_add_fetch(&errs, 1, __ATOMIC_SEQ_CST);
			lat[i] = -1;
			continue;
		}
		t0 = now();
		st = one(fd, paths[i % npaths], &keep);
		lat[i] = now() - t0;
		if (st < 0) {
			__atomic_add_fetch(&errs, 1, __ATOMIC_SEQ_CST);
			lat[i] = -1;
		} else if (st < 300) {
			__atomic_add_fetch(&st2xx, 1, __ATOMIC_SEQ_CST);
		} else if (st < 500) {
			__atomic_add_fetch(&st4xx, 1, __ATOMIC_SEQ_CST);
		} else {
			__atomic_add_fetch(&st5xx, 1, __ATOMIC_SEQ_CST);
		}
		if (st < 0 || !keep) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	int ch, i, n = 0;
	pthread_t *th;
	FILE *fp;
	char line[1024];
	double el, *ok;

	const char *keys = NULL, *stream = NULL;
	int make = 0, first = 0;

	while ((ch = getopt(argc, argv, "p:c:n:t:gk:s:m:f:")) != -1) {
		switch (ch) {
		case 'k':
			keys = optarg;
			break;
		case 's':
			stream = optarg;
			break;
		case 'm':
			make = atoi(optarg);
			break;
		case 'f':
			first = atoi(optarg);
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			clients = atoi(optarg);
			break;
		case 'n':
			total = atoi(optarg);
			break;
		case 't':
			limit_s = atof(optarg);
			break;
		case 'g':
			get_mode = 1;
			break;
		default:
			return 2;
		}
	}
	if (keys != NULL && stream != NULL && make > 0) {
		og_keyring *kr;
		char err[256], tok[OG_TOKEN_MAX + 1], key[64];

		if (og_keyring_load(keys, &kr, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		for (i = 0; i < make; i++) {
			snprintf(key, sizeof(key), "user%d@bench.example",
			    first + i);
			if (og_token_make(kr, OG_TOKEN_UNSUB, key, stream,
			        time(NULL), tok, sizeof(tok)) != 0)
				return 2;
			printf("/u/%s\n", tok);
		}
		og_keyring_free(kr);
		return 0;
	}
	if (optind >= argc || port <= 0 || clients <= 0 || total <= 0 ||
	    clients > 2000) {
		fprintf(stderr, "usage: unsubd_load -p PORT -c CLIENTS "
		                "-n REQUESTS [-t SECONDS] [-g] PATHFILE\n");
		return 2;
	}
	fp = fopen(argv[optind], "r");
	if (fp == NULL)
		return 2;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		paths = realloc(paths, sizeof(*paths) * (size_t)(npaths + 1));
		paths[npaths++] = strdup(line);
	}
	fclose(fp);
	if (npaths == 0)
		return 2;
	lat = calloc((size_t)total, sizeof(*lat));
	th = calloc((size_t)clients, sizeof(*th));
	t_start = now();
	for (i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	el = now() - t_start;
	ok = calloc((size_t)total, sizeof(*ok));
	for (i = 0; i < next_req; i++)
		if (lat[i] >= 0)
			ok[n++] = lat[i];
	qsort(ok, (size_t)n, sizeof(*ok), cmpd);
	printf("requests=%d seconds=%.2f rate=%.0f/s p50_ms=%.2f p99_ms=%.2f "
	       "max_ms=%.2f 2xx=%d 4xx=%d 5xx=%d errors=%d\n",
	    next_req, el, next_req / el, n ? ok[n / 2] * 1e3 : 0,
	    n ? ok[(int)(n * 0.99)] * 1e3 : 0, n ? ok[n - 1] * 1e3 : 0, st2xx,
	    st4xx, st5xx, errs);
	return errs > 0 || st5xx > 0;
}
