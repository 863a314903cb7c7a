// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's running life.  The main thread owns the event loop and everything domains are made
 * of; the HTTP library's threads parse requests and hand the work over through a queue
 * (daemon_call/daemon_post) drained by the main loop when its eventfd fires.  Stopping is
 * ordered so that no thread ever waits on one that is gone: refuse new work, fail queued
 * work, release the consoles, stop the HTTP threads, free the table.  VMMs keep running.
 */
#include "xend/daemon.h"
#include "common/mkdir_p.h"
#include "common/evloop.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "xend/conf.h"
#include "xend/host.h"
#include "xend/server.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct daemon_work {
	int (*call)(struct xend *x, void *arg);
	void (*post)(struct xend *x, void *arg, bool cancelled);
	void *arg;
	bool done; /* calls: set by the main thread, under lock */
	int result;
	struct daemon_work *next;
};

static void enqueue(struct xend *x, struct daemon_work *w)
{
	uint64_t one = 1;

	w->next = NULL;
	if (x->work_tail)
		x->work_tail->next = w;
	else
		x->work_head = w;
	x->work_tail = w;
	(void)!write(x->wake_fd, &one, sizeof(one));
}

int daemon_call(struct xend *x, int (*fn)(struct xend *x, void *arg), void *arg)
{
	struct daemon_work w = { .call = fn, .arg = arg };
	int r;

	pthread_mutex_lock(&x->lock);
	if (x->quitting) {
		pthread_mutex_unlock(&x->lock);
		return -ESHUTDOWN;
	}
	enqueue(x, &w);
	while (!w.done)
		pthread_cond_wait(&x->cond, &x->lock);
	r = w.result;
	pthread_mutex_unlock(&x->lock);
	return r;
}

void daemon_post(struct xend *x, void (*fn)(struct xend *x, void *arg, bool cancelled), void *arg)
{
	struct daemon_work *w = calloc(1, sizeof(*w));

	pthread_mutex_lock(&x->lock);
	if (x->quitting || !w) {
		pthread_mutex_unlock(&x->lock);
		free(w);
		fn(x, arg, true);
		return;
	}
	w->post = fn;
	w->arg = arg;
	enqueue(x, w);
	pthread_mutex_unlock(&x->lock);
}

uint64_t daemon_seq(struct xend *x)
{
	uint64_t seq;

	pthread_mutex_lock(&x->lock);
	seq = x->seq;
	pthread_mutex_unlock(&x->lock);
	return seq;
}

int daemon_wait_change(struct xend *x, uint64_t seq, int timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&x->lock);
	while (x->seq == seq && !x->quitting && r == 0)
		r = pthread_cond_timedwait(&x->cond, &x->lock, &deadline);
	if (x->quitting)
		r = -ESHUTDOWN;
	else if (x->seq != seq)
		r = 0;
	else
		r = -ETIMEDOUT;
	pthread_mutex_unlock(&x->lock);
	return r;
}

/* The domain table changed: publish the sequence and wake waiters. */
static void on_domains_changed(void *opaque)
{
	struct xend *x = opaque;

	pthread_mutex_lock(&x->lock);
	x->seq = x->domains.seq;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

/* Runs queued work, one item at a time, without holding the lock while it runs. */
static void run_work(struct xend *x, bool cancel)
{
	for (;;) {
		struct daemon_work *w;

		pthread_mutex_lock(&x->lock);
		w = x->work_head;
		if (w) {
			x->work_head = w->next;
			if (!x->work_head)
				x->work_tail = NULL;
		}
		pthread_mutex_unlock(&x->lock);
		if (!w)
			return;
		if (w->post) {
			w->post(x, w->arg, cancel);
			free(w);
			continue;
		}
		{
			int r = cancel ? -ESHUTDOWN : w->call(x, w->arg);

			pthread_mutex_lock(&x->lock);
			w->result = r;
			w->done = true;
			pthread_cond_broadcast(&x->cond);
			pthread_mutex_unlock(&x->lock);
		}
	}
}

static void on_wake(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t n;

	(void)loop;
	(void)events;
	(void)!read(fd, &n, sizeof(n));
	run_work(opaque, false);
}

static void on_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)opaque;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: nothing to reload (xend.conf is read at start)");
		return;
	}
	log_info("signal %u received, stopping (domains keep running)", si.ssi_signo);
	evloop_quit(loop);
}

static int setup_signals(struct xend *x)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread exists, so that every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -EINVAL;
	x->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (x->signal_fd < 0)
		return -errno;
	return evloop_add(x->loop, x->signal_fd, EPOLLIN, on_signal, x);
}

static int make_dirs(const struct xend_conf *conf)
{
	char sockdir[PATH_MAX];
	const char *slash = strrchr(conf->socket_path, '/');
	int r;

	r = mkdir_p(conf->run_dir, 0755, 0700);
	if (r == 0)
		r = mkdir_p(conf->state_dir, 0755, 0700);
	if (r == 0)
		r = mkdir_p(conf->console_log_dir, 0755, 0750);
	if (r == 0 && slash && slash != conf->socket_path) {
		snprintf(sockdir, sizeof(sockdir), "%.*s", (int)(slash - conf->socket_path),
		         conf->socket_path);
		r = mkdir_p(sockdir, 0755, 0755);
	}
	return r;
}

static void report_ready(int *ready_fd, const char *msg)
{
	if (*ready_fd < 0)
		return;
	(void)!write(*ready_fd, msg, strlen(msg));
	close(*ready_fd);
	*ready_fd = -1;
}

static int setup(struct xend *x, int *ready_fd)
{
	char msg[512];
	int r, listen_fd;

	r = evloop_new(&x->loop);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop");
	r = setup_signals(x);
	if (r < 0)
		return log_error_errno(r, "cannot set up signals");
	x->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->wake_fd < 0 || evloop_add(x->loop, x->wake_fd, EPOLLIN, on_wake, x) < 0)
		return log_error_errno(-errno, "cannot create the wake-up eventfd");
	r = make_dirs(x->conf);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot create xend's directories (%s, %s, %s): %s\n",
		         x->conf->run_dir, x->conf->state_dir, x->conf->console_log_dir,
		         strerror(-r));
		report_ready(ready_fd, msg);
		return log_error("%.*s", (int)strlen(msg) - 1, msg), r;
	}
	domain_table_init(&x->domains, x->conf, x->loop);
	x->domains.changed = on_domains_changed;
	x->domains.changed_opaque = x;
	r = domain_table_load(&x->domains);
	if (r < 0) {
		report_ready(ready_fd, "cannot read the domain records (see the log)\n");
		return r;
	}
	listen_fd = unix_listen(x->conf->socket_path);
	if (listen_fd < 0) {
		snprintf(msg, sizeof(msg), "cannot listen on '%s': %s\n", x->conf->socket_path,
		         strerror(-listen_fd));
		report_ready(ready_fd, msg);
		return log_error("%.*s", (int)strlen(msg) - 1, msg), listen_fd;
	}
	r = server_start(x, listen_fd, &x->server);
	if (r < 0) {
		close(listen_fd);
		report_ready(ready_fd, "cannot start the HTTP server (see the log)\n");
		return log_error_errno(r, "cannot start the HTTP server");
	}
	return 0;
}

/* Stops in the order that leaves no thread waiting on a gone one. */
static void teardown(struct xend *x)
{
	pthread_mutex_lock(&x->lock);
	x->quitting = true;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	if (x->loop && x->wake_fd >= 0)
		run_work(x, true);
	/* Consoles release their upgraded connections before the HTTP server stops. */
	domain_table_fini(&x->domains);
	server_stop(x->server);
	x->server = NULL;
	run_work(x, true);
	if (x->conf->socket_path)
		(void)unlink(x->conf->socket_path);
	if (x->wake_fd >= 0)
		close(x->wake_fd);
	if (x->signal_fd >= 0)
		close(x->signal_fd);
	evloop_free(x->loop);
}

int daemon_run(const struct xend_conf *conf, bool foreground, int ready_fd)
{
	static struct xend xend;
	struct xend *x = &xend;
	int r;

	memset(x, 0, sizeof(*x));
	x->conf = conf;
	x->foreground = foreground;
	x->wake_fd = -1;
	x->signal_fd = -1;
	x->start_time = host_now();
	/* Times and CPU seconds in answers and records: milliseconds are precise enough. */
	json_c_set_serialization_double_format("%.3f", JSON_C_OPTION_GLOBAL);
	pthread_mutex_init(&x->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&x->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = setup(x, &ready_fd);
	if (r == 0) {
		log_info("xend %s started: pid %d, API on '%s', %s", XENO_VERSION, (int)getpid(),
		         conf->socket_path, conf->path ? conf->path : "default configuration");
		report_ready(&ready_fd, "ok\n");
		r = evloop_run(x->loop);
		if (r < 0)
			(void)log_error_errno(r, "the event loop failed");
	} else {
		report_ready(&ready_fd, "xend could not start (see its log)\n");
	}
	teardown(x);
	log_info("xend stopped");
	return r < 0 ? 1 : 0;
}
