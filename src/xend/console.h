/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A domain's console relay: one connection to the VMM's console socket, a 64 KiB ring of
 * recent output for late attachers, and any number of clients (upgraded API connections and,
 * when xend.conf asks, TCP connections on 127.0.0.1).  Output goes to every client; input
 * from any client goes to the guest.  The VMM writes the console log itself, so nothing here
 * is needed for the log to be complete while xend is down.  Main thread only; never blocks:
 * a client that cannot keep up skips what fell out of the ring.
 */
#ifndef XEND_CONSOLE_H
#define XEND_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evloop;
struct console;

#define CONSOLE_RING_SIZE   (64 * 1024)
#define CONSOLE_MAX_CLIENTS 32

/* Releases a client's socket when the relay is done with it (the API's upgrade handle). */
typedef void (*console_release_fn)(void *opaque, int fd);

/* A relay for domain `name`, not yet connected.  Returns 0 or -ENOMEM. */
int console_new(struct evloop *loop, const char *name, struct console **ret)
        __attribute__((warn_unused_result));

/* Detaches every client, disconnects from the VMM, closes the TCP listener, frees. */
void console_free(struct console *con);

/*
 * Connects to the VMM's console socket at path.  The VMM first replays its last 64 KiB:
 * with replace_ring (xend adopting a running VMM) that history replaces the ring; without
 * (a new VMM of the same domain after a reboot) output is appended and clients stay.
 * Returns 0 or -errno.
 */
int console_connect(struct console *con, const char *path, bool replace_ring)
        __attribute__((warn_unused_result));

/* Drops the VMM connection (the VMM is gone); clients stay attached. */
void console_disconnect(struct console *con);

/*
 * Listens on 127.0.0.1:port; each connection is a client.  Returns 0 or -errno (the port
 * is taken ...).
 */
int console_listen_tcp(struct console *con, uint16_t port) __attribute__((warn_unused_result));

/* The TCP port listened on, or 0. */
uint16_t console_tcp_port(const struct console *con);

/*
 * Adds a client on fd (made non-blocking here): it first gets the ring, then live output.
 * extra holds input the client sent before the relay took over (may be NULL).  The relay
 * owns fd from now on and gives it to release(opaque, fd) when done (close() if release is
 * NULL).  Returns 0, or -EBUSY (too many clients; fd was released).
 */
int console_attach(struct console *con, int fd, console_release_fn release, void *opaque,
                   const void *extra, size_t extra_len);

/* Releases every client (the domain stopped for good). */
void console_detach_all(struct console *con);

/* Copies the ring's content, oldest first, into buf; returns the byte count (tests). */
size_t console_ring_copy(const struct console *con, void *buf, size_t max);

/* Appends output as if the VMM had sent it (the VMM path and tests). */
void console_feed(struct console *con, const void *data, size_t len);

#endif
