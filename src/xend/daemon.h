/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The running daemon: its main thread's event loop (signals, VMM pidfds, consoles), the
 * domain table it alone touches, and the doorway through which the API threads reach it:
 * daemon_call() runs a function on the main thread and waits for it, daemon_post() queues
 * one without waiting, daemon_wait_change() sleeps until any domain changes.
 */
#ifndef XEND_DAEMON_H
#define XEND_DAEMON_H

#include "xend/domain.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct xend_conf;
struct server;
struct daemon_work;

struct xend {
	const struct xend_conf *conf;
	struct evloop *loop;
	struct domain_table domains; /* main thread only */
	struct server *server;
	double start_time; /* epoch seconds */
	bool foreground;   /* logging to stderr, not to log-file */

	/* Shared with the API threads, under lock: */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct daemon_work *work_head, *work_tail;
	uint64_t seq;  /* domains.seq as last published */
	bool quitting; /* no more calls are run */
	int wake_fd;   /* eventfd: work was queued */
	int signal_fd;
};

/*
 * Runs fn(x, arg) on the main thread and returns its result.  Any API thread; never the
 * main thread.  Returns -ESHUTDOWN without running fn if xend is stopping.
 */
int daemon_call(struct xend *x, int (*fn)(struct xend *x, void *arg), void *arg);

/*
 * Queues fn(x, arg, false) for the main thread without waiting; if xend stops first,
 * fn(x, arg, true) runs instead so that arg can be released.  Any thread.
 */
void daemon_post(struct xend *x, void (*fn)(struct xend *x, void *arg, bool cancelled), void *arg);

/* The current change sequence (for daemon_wait_change).  Any thread. */
uint64_t daemon_seq(struct xend *x);

/*
 * Waits until the change sequence moves past seq, for at most timeout_ms.  Returns 0,
 * -ETIMEDOUT, or -ESHUTDOWN.  API threads only.
 */
int daemon_wait_change(struct xend *x, uint64_t seq, int timeout_ms);

/*
 * The whole life of the daemon after main() has read its configuration and taken the lock:
 * directories, adoption of the running VMMs, the API socket, the event loop, and an orderly
 * stop on SIGTERM/SIGINT that leaves every VMM running.  ready_fd (if >= 0) receives "ok\n"
 * once the API answers, or the error line; then it is closed.  Returns main()'s exit status.
 */
int daemon_run(const struct xend_conf *conf, bool foreground, int ready_fd);

#endif
