/*
 * mg_io_test.c - the wrapped socket calls of optgate-milter: what
 * libmilter reads through the input buffer is exactly what the MTA sent,
 * in order, and poll never reports a buffered connection idle (a packet
 * left in the buffer while libmilter waits in poll would hang the MTA).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "mg_io.h"

typedef struct pair {
	int lfd; /* listener */
	int cfd; /* the "MTA" end */
	int sfd; /* the milter end, from __wrap_accept */
} pair;

/* A connected pair over a unix socket (tcp = 0) or loopback TCP. */
static void
pair_open(pair *p, int tcp)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (tcp) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*in);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		un->sun_family = AF_UNIX;
		/* Abstract name: nothing left in the file system. */
		snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1,
		    "optgate-mg-io-test-%d", (int)getpid());
		sl = sizeof(*un);
	}
	p->lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&ss, sl), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&ss, &sl), 0);
	p->cfd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_int_equal(connect(p->cfd, (struct sockaddr *)&ss, sl), 0);
	p->sfd = __wrap_accept(p->lfd, NULL, NULL);
	assert_true(p->sfd >= 0);
}

static void
pair_close(pair *p)
{
	if (p->sfd >= 0)
		__wrap_close(p->sfd);
	close(p->cfd);
	close(p->lfd);
}

static void
send_all(int fd, const void *buf, size_t n)
{
	const char *b = buf;
	ssize_t r;

	while (n > 0) {
		r = write(fd, b, n);
		assert_true(r > 0);
		b += r;
		n -= (size_t)r;
	}
}

/* Read exactly n bytes the way libmilter does: poll, then read. */
static void
recv_all(int fd, void *buf, size_t n)
{
	struct pollfd pfd;
	char *b = buf;
	ssize_t r;

	while (n > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN | POLLPRI;
		pfd.revents = 0;
		assert_int_equal(__wrap_poll(&pfd, 1, 5000), 1);
		r = __wrap_read(fd, b, n);
		assert_true(r > 0);
		b += r;
		n -= (size_t)r;
	}
}

static void
test_packets_in_one_write(void **state)
{
	/* Three milter packets the MTA wrote back to back. */
	static const char wire[] = "\0\0\0\x02"
	                           "DR"
	                           "\0\0\0\x05"
	                           "Rx@y\0"
	                           "\0\0\0\x01"
	                           "E";
	char b[64];
	struct pollfd pfd;
	pair p;

	pair_open(&p, 0);
	send_all(p.cfd, wire, sizeof(wire) - 1);
	recv_all(p.sfd, b, 4);
	assert_memory_equal(b, "\0\0\0\x02", 4);
	/* The rest came in with the first read and waits in the buffer. */
	assert_int_equal(mg_io_buffered(p.sfd), sizeof(wire) - 1 - 4);
	/* Readable at once, even with an infinite timeout. */
	pfd.fd = p.sfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	assert_int_equal(__wrap_poll(&pfd, 1, -1), 1);
	assert_true(pfd.revents & POLLIN);
	recv_all(p.sfd, b, 2);
	assert_memory_equal(b, "DR", 2);
	recv_all(p.sfd, b, 9);
	assert_memory_equal(b, "\0\0\0\x05Rx@y\0", 9);
	/* A zero-length read consumes nothing. */
	assert_int_equal(__wrap_read(p.sfd, b, 0), 0);
	recv_all(p.sfd, b, 5);
	assert_memory_equal(b,
	    "\0\0\0\x01"
	    "E",
	    5);
	assert_int_equal(mg_io_buffered(p.sfd), 0);
	/* Drained: poll asks the kernel again, and nothing is there. */
	assert_int_equal(__wrap_poll(&pfd, 1, 0), 0);
	pair_close(&p);
}

static void
test_poll_set_with_buffered_session(void **state)
{
	struct pollfd pfd[3];
	int pp[2];
	char b[8];
	pair p;

	pair_open(&p, 0);
	assert_int_equal(pipe(pp), 0);
	send_all(p.cfd, "abcdefgh", 8);
	recv_all(p.sfd, b, 2); /* 6 bytes left in the buffer */
	/* libmilter's pool controller: its pipe, the session, a closed slot */
	pfd[0].fd = pp[0];
	pfd[0].events = POLLIN | POLLPRI;
	pfd[1].fd = p.sfd;
	pfd[1].events = POLLIN | POLLPRI;
	pfd[2].fd = -1;
	pfd[2].events = POLLIN;
	pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
	assert_int_equal(__wrap_poll(pfd, 3, -1), 1);
	assert_int_equal(pfd[0].revents, 0);
	assert_true(pfd[1].revents & POLLIN);
	assert_int_equal(pfd[2].revents, 0);
	/* The others are still polled for real. */
	send_all(pp[1], "Z", 1);
	pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
	assert_int_equal(__wrap_poll(pfd, 3, -1), 2);
	assert_true(pfd[0].revents & POLLIN);
	assert_true(pfd[1].revents & POLLIN);
	recv_all(p.sfd, b, 6);
	assert_memory_equal(b, "cdefgh", 6);
	pfd[1].revents = 0;
	assert_int_equal(__wrap_poll(&pfd[1], 1, 0), 0);
	close(pp[0]);
	close(pp[1]);
	pair_close(&p);
}

static void
test_large_reads_keep_order(void **state)
{
	enum { N = 3 * MG_IO_BUF + 123 };
	unsigned char *in = malloc(N), *out = malloc(N);
	size_t i;
	pair p;

	assert_non_null(in);
	assert_non_null(out);
	for (i = 0; i < N; i++)
		in[i] = (unsigned char)(i * 131 + (i >> 8));
	pair_open(&p, 0);
	send_all(p.cfd, in, N);
	/* A small read fills the buffer, a large one drains it first. */
	recv_all(p.sfd, out, 5);
	recv_all(p.sfd, out + 5, N - 5);
	assert_memory_equal(in, out, N);
	assert_int_equal(mg_io_buffered(p.sfd), 0);
	pair_close(&p);
	free(in);
	free(out);
}

static void
test_eof_after_buffered_data(void **state)
{
	char b[8];
	pair p;

	pair_open(&p, 0);
	send_all(p.cfd, "QUIT", 4);
	close(p.cfd);
	p.cfd = socket(AF_UNIX, SOCK_STREAM, 0); /* for pair_close */
	recv_all(p.sfd, b, 1);
	recv_all(p.sfd, b + 1, 3);
	assert_memory_equal(b, "QUIT", 4);
	assert_int_equal(__wrap_read(p.sfd, b, 5), 0);
	pair_close(&p);
}

static void
test_close_drops_buffer(void **state)
{
	char b[4];
	pair p;
	int fd;

	pair_open(&p, 0);
	send_all(p.cfd, "0123456789", 10);
	recv_all(p.sfd, b, 2);
	assert_int_equal(mg_io_buffered(p.sfd), 8);
	fd = p.sfd;
	assert_int_equal(__wrap_close(fd), 0);
	p.sfd = -1;
	assert_int_equal(mg_io_buffered(fd), 0);
	/* A descriptor that was never accepted passes straight through. */
	{
		int pp[2];

		assert_int_equal(pipe(pp), 0);
		send_all(pp[1], "xyz", 3);
		assert_int_equal(__wrap_read(pp[0], b, 1), 1);
		assert_int_equal(mg_io_buffered(pp[0]), 0);
		assert_int_equal(__wrap_read(pp[0], b, 4), 2);
		assert_memory_equal(b, "yz", 2);
		__wrap_close(pp[0]);
		__wrap_close(pp[1]);
	}
	pair_close(&p);
}

static void
test_tcp_nodelay(void **state)
{
	socklen_t ol;
	int v = 0;
	char b[3];
	pair p;

	pair_open(&p, 1);
	ol = sizeof(v);
	assert_int_equal(
	    getsockopt(p.sfd, IPPROTO_TCP, TCP_NODELAY, &v, &ol), 0);
	assert_int_not_equal(v, 0);
	send_all(p.cfd, "abc", 3);
	recv_all(p.sfd, b, 3);
	assert_memory_equal(b, "abc", 3);
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_packets_in_one_write),
	    cmocka_unit_test(test_poll_set_with_buffered_session),
	    cmocka_unit_test(test_large_reads_keep_order),
	    cmocka_unit_test(test_eof_after_buffered_data),
	    cmocka_unit_test(test_close_drops_buffer),
	    cmocka_unit_test(test_tcp_nodelay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
