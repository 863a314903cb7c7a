// SPDX-License-Identifier: GPL-2.0-only
/*
 * Console plumbing between the UART and the host.  Two rings under one lock: `history` keeps
 * the last CONSOLE_HISTORY_SIZE bytes for clients that attach late; `pending` holds output
 * not yet written out.  vCPU threads append and poke an eventfd; the main loop writes.
 */
#include "vmm/console.h"
#include "common/log.h"
#include "common/log_file.h"
#include "common/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#define PENDING_SIZE (64 * 1024)
#define INPUT_SIZE   4096

struct ring {
	uint8_t data[CONSOLE_HISTORY_SIZE];
	size_t start, len;
};

struct console {
	struct evloop *loop;
	pthread_mutex_t lock;
	struct ring history; /* protected by lock */
	struct ring pending; /* protected by lock */
	uint64_t dropped;    /* protected by lock */
	int wake_efd;

	/* Main thread only from here on. */
	struct serial *serial;
	void (*on_escape)(void *);
	void *escape_opaque;
	int in_fd, out_fd; /* stdio mode; -1 in socket mode */
	bool tty_raw;
	struct termios saved_tty;
	int listen_fd;
	const char *socket_path;
	int clients[CONSOLE_MAX_CLIENTS];
	uint8_t input[INPUT_SIZE]; /* host input the UART had no room for yet */
	size_t input_len;
	bool input_paused;
	struct log_file *log; /* NULL: no console log */
	struct log_ratelimit log_ratelimit;
};

static void ring_put(struct ring *r, uint8_t byte)
{
	r->data[(r->start + r->len) % CONSOLE_HISTORY_SIZE] = byte;
	if (r->len < CONSOLE_HISTORY_SIZE)
		r->len++;
	else
		r->start = (r->start + 1) % CONSOLE_HISTORY_SIZE;
}

/* Copies out and empties the ring. */
static size_t ring_take(struct ring *r, uint8_t *out)
{
	size_t n = r->len;

	for (size_t i = 0; i < n; i++)
		out[i] = r->data[(r->start + i) % CONSOLE_HISTORY_SIZE];
	r->start = r->len = 0;
	return n;
}

static size_t ring_copy(const struct ring *r, uint8_t *out)
{
	for (size_t i = 0; i < r->len; i++)
		out[i] = r->data[(r->start + i) % CONSOLE_HISTORY_SIZE];
	return r->len;
}

static void wake(struct console *con)
{
	uint64_t one = 1;

	(void)!write(con->wake_efd, &one, sizeof(one));
}

/* vCPU thread, UART lock held. */
static void output_byte(void *opaque, uint8_t byte)
{
	struct console *con = opaque;
	bool was_empty;

	pthread_mutex_lock(&con->lock);
	ring_put(&con->history, byte);
	was_empty = con->pending.len == 0;
	if (con->pending.len < PENDING_SIZE)
		ring_put(&con->pending, byte);
	else
		con->dropped++;
	pthread_mutex_unlock(&con->lock);
	if (was_empty)
		wake(con);
}

/* vCPU thread: the UART drained its receive FIFO. */
static void rx_ready(void *opaque)
{
	wake(opaque);
}

struct serial_host console_serial_host(struct console *con)
{
	return (struct serial_host){ .output = output_byte, .rx_ready = rx_ready, .opaque = con };
}

/* Writes all of buf to a blocking fd, or as much as fits into a non-blocking one. */
static void write_out(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void set_input_paused(struct console *con, bool paused)
{
	uint32_t ev = paused ? 0 : EPOLLIN;

	if (con->input_paused == paused)
		return;
	con->input_paused = paused;
	if (con->in_fd >= 0)
		(void)evloop_modify(con->loop, con->in_fd, ev);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (con->clients[i] >= 0)
			(void)evloop_modify(con->loop, con->clients[i], ev | EPOLLRDHUP);
}

static void push_input(struct console *con)
{
	size_t n;

	if (!con->serial || !con->input_len)
		return;
	n = serial_receive(con->serial, con->input, con->input_len);
	memmove(con->input, con->input + n, con->input_len - n);
	con->input_len -= n;
	set_input_paused(con, con->input_len > 0);
}

static void on_wake(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	static uint8_t buf[PENDING_SIZE];
	struct console *con = opaque;
	uint64_t counter;
	size_t n;

	(void)loop;
	(void)events;
	(void)!read(fd, &counter, sizeof(counter));
	pthread_mutex_lock(&con->lock);
	n = ring_take(&con->pending, buf);
	pthread_mutex_unlock(&con->lock);
	if (n) {
		if (con->log && log_file_write(con->log, buf, n) < 0)
			log_warn_ratelimited(&con->log_ratelimit,
			                     "console: cannot write the console log, skipping");
		if (con->out_fd >= 0)
			write_out(con->out_fd, buf, n);
		for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
			if (con->clients[i] >= 0)
				write_out(con->clients[i], buf, n);
	}
	push_input(con);
}

/* Takes host input from fd; returns false at end of file or on error. */
static bool read_input(struct console *con, int fd)
{
	ssize_t n = read(fd, con->input + con->input_len, INPUT_SIZE - con->input_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	if (con->tty_raw && fd == con->in_fd &&
	    memchr(con->input + con->input_len, CONSOLE_ESCAPE, (size_t)n)) {
		if (con->on_escape)
			con->on_escape(con->escape_opaque);
		return true;
	}
	con->input_len += (size_t)n;
	push_input(con);
	return true;
}

static void on_stdin(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *con = opaque;

	(void)events;
	if (!read_input(con, fd)) {
		/* No more input (stdin closed): the guest keeps running, output goes on. */
		evloop_remove(loop, fd);
		con->in_fd = -1;
	}
}

static void drop_client(struct console *con, int slot)
{
	evloop_remove(con->loop, con->clients[slot]);
	close(con->clients[slot]);
	con->clients[slot] = -1;
}

static void on_client(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *con = opaque;
	int slot;

	(void)loop;
	for (slot = 0; slot < CONSOLE_MAX_CLIENTS; slot++)
		if (con->clients[slot] == fd)
			break;
	if (slot == CONSOLE_MAX_CLIENTS)
		return;
	if ((events & EPOLLIN) && read_input(con, fd))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		drop_client(con, slot);
}

static void on_accept(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	static uint8_t history[CONSOLE_HISTORY_SIZE];
	struct console *con = opaque;
	int cfd, slot;
	size_t n;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	for (slot = 0; slot < CONSOLE_MAX_CLIENTS; slot++)
		if (con->clients[slot] < 0)
			break;
	if (slot == CONSOLE_MAX_CLIENTS ||
	    evloop_add(loop, cfd, (con->input_paused ? 0 : EPOLLIN) | EPOLLRDHUP, on_client, con) <
	            0) {
		log_warn("console: too many clients, refusing one");
		close(cfd);
		return;
	}
	con->clients[slot] = cfd;
	pthread_mutex_lock(&con->lock);
	n = ring_copy(&con->history, history);
	pthread_mutex_unlock(&con->lock);
	write_out(cfd, history, n);
}

static int setup_stdio(struct console *con)
{
	con->in_fd = STDIN_FILENO;
	con->out_fd = STDOUT_FILENO;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &con->saved_tty) == 0) {
		struct termios raw = con->saved_tty;

		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			con->tty_raw = true;
	}
	if (evloop_add(con->loop, STDIN_FILENO, EPOLLIN, on_stdin, con) < 0) {
		/* /dev/null and regular files cannot be polled: there is simply no input. */
		con->in_fd = -1;
	}
	return 0;
}

int console_new(struct evloop *loop, const char *socket_path, struct console **ret)
{
	struct console *con = calloc(1, sizeof(*con));
	int r;

	if (!con)
		return -ENOMEM;
	con->loop = loop;
	con->log_ratelimit = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	con->in_fd = con->out_fd = con->listen_fd = -1;
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		con->clients[i] = -1;
	pthread_mutex_init(&con->lock, NULL);
	con->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->wake_efd < 0 || evloop_add(loop, con->wake_efd, EPOLLIN, on_wake, con) < 0) {
		r = log_error_errno(-errno, "console: eventfd failed");
		goto fail;
	}
	if (socket_path) {
		con->listen_fd = unix_listen(socket_path);
		if (con->listen_fd < 0) {
			r = log_error_errno(con->listen_fd, "console: cannot listen on '%s'",
			                    socket_path);
			goto fail;
		}
		con->socket_path = socket_path;
		r = evloop_add(loop, con->listen_fd, EPOLLIN, on_accept, con);
		if (r < 0)
			goto fail;
	} else {
		r = setup_stdio(con);
		if (r < 0)
			goto fail;
	}
	*ret = con;
	return 0;
fail:
	console_free(con);
	return r;
}

void console_connect(struct console *con, struct serial *serial, void (*on_escape)(void *),
                     void *opaque)
{
	con->serial = serial;
	con->on_escape = on_escape;
	con->escape_opaque = opaque;
}

int console_open_log(struct console *con, const char *path)
{
	int r = log_file_open(path, CONSOLE_LOG_MAX_BYTES, &con->log);

	if (r < 0)
		return log_error_errno(r, "console: cannot open the console log '%s'", path);
	return 0;
}

size_t console_input_queued_bytes(const struct console *con)
{
	return con->input_len;
}

uint64_t console_dropped_bytes(struct console *con)
{
	uint64_t n;

	pthread_mutex_lock(&con->lock);
	n = con->dropped;
	pthread_mutex_unlock(&con->lock);
	return n;
}

void console_free(struct console *con)
{
	if (!con)
		return;
	if (con->wake_efd >= 0) {
		/* Flush what the guest printed last (its poweroff messages, a panic). */
		on_wake(con->loop, con->wake_efd, EPOLLIN, con);
		evloop_remove(con->loop, con->wake_efd);
		close(con->wake_efd);
	}
	if (con->tty_raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &con->saved_tty);
	if (con->in_fd >= 0)
		evloop_remove(con->loop, con->in_fd);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (con->clients[i] >= 0)
			drop_client(con, i);
	if (con->listen_fd >= 0) {
		evloop_remove(con->loop, con->listen_fd);
		close(con->listen_fd);
		(void)unlink(con->socket_path);
	}
	log_file_close(con->log);
	pthread_mutex_destroy(&con->lock);
	free(con);
}
