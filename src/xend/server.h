/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP side of the API: libmicrohttpd on xend's UNIX socket, one thread per connection.
 * Each request is gathered (body capped at 1 MiB), parsed by api.c on its own thread,
 * executed on the main thread through daemon_call(), and answered as JSON; console requests
 * are upgraded and handed to the domain's console relay.  Slow clients are cut off by the
 * connection timeout; the number of connections is capped.
 */
#ifndef XEND_SERVER_H
#define XEND_SERVER_H

struct xend;
struct server;

/*
 * Serves the API on listen_fd (taken over: closed by server_stop).  Timeouts and limits come
 * from xend.conf.  Returns 0 or -errno.  Main thread.
 */
int server_start(struct xend *x, int listen_fd, struct server **ret)
        __attribute__((warn_unused_result));

/* Stops serving and joins every connection thread; NULL is allowed.  Main thread. */
void server_stop(struct server *s);

#endif
