/*
 * pd_floor.c - the protocol floor for the policyd benchmark: a minimal
 * Postfix policy server that answers every request "action=DUNNO".
 * Same shape as optgate-policyd (one thread, epoll, non-blocking), no
 * parsing beyond finding the blank line, no store.
 *
 *   pd_floor PORT        listen on 127.0.0.1:PORT until killed
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct c {
	int fd;
	char buf[16384];
	size_t len;
};

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1, i, n;

	if (argc != 2) {
		fprintf(stderr, "usage: pd_floor PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 1024) != 0) {
		perror("pd_floor: bind");
		return 1;
	}
	ep = epoll_create1(0);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			struct c *c = evs[i].data.ptr;
			ssize_t r;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
				            SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				r = read(c->fd, c->buf + c->len,
				    sizeof(c->buf) - c->len);
				if (r <= 0)
					break;
				c->len += (size_t)r;
				while (c->len >= 2) {
					char *e =
					    memmem(c->buf, c->len, "\n\n", 2);
					size_t used;

					if (e == NULL)
						break;
					used = (size_t)(e - c->buf) + 2;
					if (write(c->fd, "action=DUNNO\n\n",
					        14) != 14)
						break;
					memmove(c->buf, c->buf + used,
					    c->len - used);
					c->len -= used;
				}
				if (c->len == sizeof(c->buf))
					r = 0;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				close(c->fd);
				free(c);
			}
		}
	}
}
