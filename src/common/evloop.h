/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small epoll event loop: one callback per file descriptor, level-triggered.  Used by one
 * thread only (the main thread of each program).
 */
#ifndef XENO_COMMON_EVLOOP_H
#define XENO_COMMON_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;

/* Called with the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLHUP ...). */
typedef void (*evloop_fn)(struct evloop *loop, int fd, uint32_t events, void *opaque);

int evloop_new(struct evloop **ret) __attribute__((warn_unused_result));
void evloop_free(struct evloop *loop);

/* Watches fd for events; a fd is watched at most once.  Returns 0 or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
        __attribute__((warn_unused_result));
/* Changes the events watched on fd. */
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
/* Stops watching fd (before the caller closes it). */
void evloop_remove(struct evloop *loop, int fd);

/* Runs until evloop_quit(); returns 0, or -errno if epoll itself failed. */
int evloop_run(struct evloop *loop);
void evloop_quit(struct evloop *loop);

#endif
