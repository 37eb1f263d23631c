/*
 * mg_io.c - libmilter's socket calls, wrapped: an input buffer per MTA
 * connection, TCP_NODELAY and TCP_QUICKACK (see mg_io.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mg_io.h"
#include "og_log.h"

typedef struct mg_in {
	int tcp;    /* re-arm TCP_QUICKACK after each real read */
	size_t off; /* buf[off..len) not yet given to libmilter */
	size_t len;
	unsigned char buf[MG_IO_BUF];
} mg_in;

/*
 * The buffers, by descriptor.  An entry is set by the listener thread at
 * accept, before libmilter starts the session, and cleared by the thread
 * that closes the session; between the two only the thread running the
 * session (or libmilter's pool controller, while no worker runs it) uses
 * it, and libmilter hands a session over under its mutex.
 */
static mg_in *mg_in_tab[MG_IO_FD_MAX];

static mg_in *
mg_in_get(int fd)
{
	if (fd < 0 || fd >= MG_IO_FD_MAX)
		return NULL;
	return __atomic_load_n(&mg_in_tab[fd], __ATOMIC_ACQUIRE);
}

static int
mg_in_ready(int fd)
{
	mg_in *in = mg_in_get(fd);

	return in != NULL && in->off < in->len;
}

size_t
mg_io_buffered(int fd)
{
	mg_in *in = mg_in_get(fd);

	return in != NULL ? in->len - in->off : 0;
}

int
__wrap_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	mg_in *in, *old;
	int s, one = 1;

	if ((s = __real_accept(fd, sa, len)) < 0)
		return s;
	in = calloc(1, sizeof(*in));
	if (getsockname(s, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) <
		    0)
			og_log_warn(
			    "setsockopt TCP_NODELAY: %s", strerror(errno));
		else if (og_log_verbose() > 1)
			og_log_debug("accepted fd %d: TCP_NODELAY on", s);
		if (in != NULL)
			in->tcp = 1;
	}
	/* Out of memory or a descriptor past the table: unbuffered. */
	if (s >= MG_IO_FD_MAX) {
		free(in);
		return s;
	}
	old = __atomic_exchange_n(&mg_in_tab[s], in, __ATOMIC_ACQ_REL);
	free(old);
	return s;
}

static void
mg_quickack(mg_in *in, int fd)
{
	int one = 1;

	if (in->tcp &&
	    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)) < 0)
		in->tcp = 0;
}

ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	mg_in *in = mg_in_get(fd);
	ssize_t r;
	size_t k;

	if (in == NULL)
		return __real_read(fd, buf, n);
	if (n == 0)
		return 0;
	if (in->off == in->len) {
		in->off = in->len = 0;
		/* A read as large as the buffer goes straight to the caller. */
		if (n >= MG_IO_BUF) {
			if ((r = __real_read(fd, buf, n)) > 0)
				mg_quickack(in, fd);
			return r;
		}
		if ((r = __real_read(fd, in->buf, MG_IO_BUF)) <= 0)
			return r;
		mg_quickack(in, fd);
		in->len = (size_t)r;
	}
	k = in->len - in->off;
	if (k > n)
		k = n;
	memcpy(buf, in->buf + in->off, k);
	in->off += k;
	return (ssize_t)k;
}

int
__wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	const short rd = POLLIN | POLLRDNORM;
	nfds_t i;
	int nbuf = 0, r;

	for (i = 0; i < nfds; i++)
		if ((fds[i].events & rd) != 0 && mg_in_ready(fds[i].fd))
			nbuf++;
	if (nbuf == 0)
		return __real_poll(fds, nfds, timeout);
	/* Buffered input is there now: do not wait for the others. */
	if (nfds == 1) {
		fds[0].revents = fds[0].events & rd;
		return 1;
	}
	if (__real_poll(fds, nfds, 0) < 0)
		for (i = 0; i < nfds; i++)
			fds[i].revents = 0;
	r = 0;
	for (i = 0; i < nfds; i++) {
		if ((fds[i].events & rd) != 0 && mg_in_ready(fds[i].fd))
			fds[i].revents |= fds[i].events & rd;
		if (fds[i].revents != 0)
			r++;
	}
	return r;
}

int
__wrap_close(int fd)
{
	if (fd >= 0 && fd < MG_IO_FD_MAX)
		free(__atomic_exchange_n(
		    &mg_in_tab[fd], NULL, __ATOMIC_ACQ_REL));
	return __real_close(fd);
}
