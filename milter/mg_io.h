/*
 * mg_io.h - the socket calls of libmilter, wrapped (ld --wrap).
 *
 * libmilter is linked statically and its accept, read, poll and close go
 * through these wrappers:
 *
 * accept: TCP_NODELAY on each accepted TCP connection, so our replies go
 *	out at once (Postfix does not set it for milters).
 * read:   a per-connection input buffer.  libmilter reads each packet
 *	with two reads (length, then body) and polls before each, and the
 *	MTA writes a macro packet before every command (and every header):
 *	about five system calls per packet.  The wrapper reads what the
 *	socket has (up to MG_IO_BUF bytes) and serves libmilter's reads
 *	from it.  On TCP it re-arms TCP_QUICKACK after each real read (the
 *	MTA's back-to-back small writes are not held by Nagle waiting for
 *	our delayed ACK).
 * poll:   a connection with buffered input is readable without asking
 *	the kernel; in a set of several descriptors (libmilter's pool
 *	controller) the others are polled with a zero timeout.
 * close:  drops the connection's buffer.
 *
 * Only descriptors returned by the wrapped accept are buffered; every
 * other descriptor passes straight through.  libmilter runs one session
 * on one thread at a time (its pool hands a session over under a mutex),
 * so a buffer has one user at a time.
 *
 * LIMITS: descriptors below MG_IO_FD_MAX are buffered, others pass
 * through unbuffered.
 */
#ifndef MG_IO_H
#define MG_IO_H

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MG_IO_FD_MAX 65536
#define MG_IO_BUF 4096

int __wrap_accept(int fd, struct sockaddr *sa, socklen_t *len);
ssize_t __wrap_read(int fd, void *buf, size_t n);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __wrap_close(int fd);

int __real_accept(int fd, struct sockaddr *sa, socklen_t *len);
ssize_t __real_read(int fd, void *buf, size_t n);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __real_close(int fd);

/* Bytes buffered for fd (tests). */
size_t mg_io_buffered(int fd);

#endif
