// SPDX-License-Identifier: GPL-2.0-only
/*
 * The console relay.  Output from the VMM lands in a ring addressed by absolute byte counts:
 * `head` is how many bytes ever arrived, `start` the oldest still held.  Each client only
 * keeps its own position, so one slow client costs no memory and delays nobody: when it falls
 * more than the ring behind, it skips ahead.  Input from clients goes through one small buffer
 * to the VMM; while that buffer is full no client is read (the VMM's own back-pressure,
 * xeno-vmm(1) --console, reaches the clients).  Main thread only.
 */
#include "xend/console.h"
#include "common/evloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define INPUT_MAX 4096

struct console_client {
	struct console *con;
	int fd;
	uint64_t pos; /* absolute position of the next byte to send */
	bool want_out;
	console_release_fn release;
	void *opaque;
};

struct console {
	struct evloop *loop;
	char name[80];
	int vmm_fd;
	int tcp_fd;
	uint16_t tcp_port;
	uint8_t ring[CONSOLE_RING_SIZE];
	uint64_t head, start;
	uint8_t in[INPUT_MAX];
	size_t in_len;
	struct console_client *clients[CONSOLE_MAX_CLIENTS];
};

static void on_client(struct evloop *loop, int fd, uint32_t events, void *opaque);
static void on_vmm(struct evloop *loop, int fd, uint32_t events, void *opaque);
static void update_events(struct console *con);

int console_new(struct evloop *loop, const char *name, struct console **ret)
{
	struct console *con = calloc(1, sizeof(*con));

	if (!con)
		return -ENOMEM;
	con->loop = loop;
	snprintf(con->name, sizeof(con->name), "%s", name);
	con->vmm_fd = -1;
	con->tcp_fd = -1;
	*ret = con;
	return 0;
}

static uint32_t client_events(const struct console *con, const struct console_client *c)
{
	return (con->in_len < INPUT_MAX ? EPOLLIN : 0) | (c->want_out ? EPOLLOUT : 0) | EPOLLRDHUP;
}

static void release_client(struct console *con, size_t i)
{
	struct console_client *c = con->clients[i];

	if (!c)
		return;
	evloop_remove(con->loop, c->fd);
	if (c->release)
		c->release(c->opaque, c->fd);
	else
		close(c->fd);
	free(c);
	con->clients[i] = NULL;
}

void console_detach_all(struct console *con)
{
	for (size_t i = 0; con && i < CONSOLE_MAX_CLIENTS; i++)
		release_client(con, i);
}

void console_disconnect(struct console *con)
{
	if (!con || con->vmm_fd < 0)
		return;
	evloop_remove(con->loop, con->vmm_fd);
	close(con->vmm_fd);
	con->vmm_fd = -1;
	if (con->in_len) {
		con->in_len = 0;
		update_events(con);
	}
}

void console_free(struct console *con)
{
	if (!con)
		return;
	console_detach_all(con);
	console_disconnect(con);
	if (con->tcp_fd >= 0) {
		evloop_remove(con->loop, con->tcp_fd);
		close(con->tcp_fd);
	}
	free(con);
}

/* Input queued for the VMM changes what everyone waits for. */
static void update_events(struct console *con)
{
	if (con->vmm_fd >= 0)
		evloop_modify(con->loop, con->vmm_fd, EPOLLIN | (con->in_len ? EPOLLOUT : 0));
	for (size_t i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (con->clients[i])
			evloop_modify(con->loop, con->clients[i]->fd,
			              client_events(con, con->clients[i]));
}

/* Sends what the client has not seen; returns false if the client is gone. */
static bool flush_client(struct console *con, struct console_client *c)
{
	bool want_out = false;

	if (c->pos < con->start)
		c->pos = con->start; /* fell out of the ring: skip ahead */
	while (c->pos < con->head) {
		size_t off = (size_t)(c->pos % CONSOLE_RING_SIZE);
		size_t len = CONSOLE_RING_SIZE - off;
		ssize_t n;

		if (len > con->head - c->pos)
			len = (size_t)(con->head - c->pos);
		n = send(c->fd, con->ring + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			c->pos += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			want_out = true;
			break;
		}
		return false;
	}
	if (want_out != c->want_out) {
		c->want_out = want_out;
		evloop_modify(con->loop, c->fd, client_events(con, c));
	}
	return true;
}

static void flush_all(struct console *con)
{
	for (size_t i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (con->clients[i] && !flush_client(con, con->clients[i]))
			release_client(con, i);
}

void console_feed(struct console *con, const void *data, size_t len)
{
	const uint8_t *p = data;

	/* Only the last CONSOLE_RING_SIZE bytes of a large write can be kept. */
	if (len > CONSOLE_RING_SIZE) {
		con->head += len - CONSOLE_RING_SIZE;
		p += len - CONSOLE_RING_SIZE;
		len = CONSOLE_RING_SIZE;
	}
	while (len) {
		size_t off = (size_t)(con->head % CONSOLE_RING_SIZE);
		size_t n = CONSOLE_RING_SIZE - off < len ? CONSOLE_RING_SIZE - off : len;

		memcpy(con->ring + off, p, n);
		con->head += n;
		p += n;
		len -= n;
	}
	if (con->head - con->start > CONSOLE_RING_SIZE)
		con->start = con->head - CONSOLE_RING_SIZE;
	flush_all(con);
}

size_t console_ring_copy(const struct console *con, void *buf, size_t max)
{
	uint8_t *out = buf;
	size_t n = 0;

	for (uint64_t pos = con->start; pos < con->head && n < max; pos++)
		out[n++] = con->ring[pos % CONSOLE_RING_SIZE];
	return n;
}

/* Moves queued input to the VMM; input for a VMM that is not there is dropped. */
static void flush_input(struct console *con)
{
	if (con->vmm_fd < 0) {
		con->in_len = 0;
		return;
	}
	while (con->in_len) {
		ssize_t n = send(con->vmm_fd, con->in, con->in_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		memmove(con->in, con->in + n, con->in_len - (size_t)n);
		con->in_len -= (size_t)n;
	}
}

/* After the input buffer changed from `before` bytes: who waits for what may change. */
static void input_settle(struct console *con, size_t before)
{
	if ((before == 0) != (con->in_len == 0) ||
	    (before == INPUT_MAX) != (con->in_len == INPUT_MAX))
		update_events(con);
}

static void queue_input(struct console *con, const void *data, size_t len)
{
	size_t before = con->in_len, room = INPUT_MAX - con->in_len;

	if (len > room)
		len = room;
	memcpy(con->in + con->in_len, data, len);
	con->in_len += len;
	flush_input(con);
	input_settle(con, before);
}

static void on_vmm(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *con = opaque;
	uint8_t buf[16384];
	ssize_t n;

	(void)loop;
	(void)fd;
	if (events & EPOLLOUT) {
		size_t before = con->in_len;

		flush_input(con);
		input_settle(con, before);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(con->vmm_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0) {
		console_feed(con, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* The VMM closed its end: it is exiting; the domain code learns that from its pidfd. */
	console_disconnect(con);
}

int console_connect(struct console *con, const char *path, bool replace_ring)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	console_disconnect(con);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = evloop_add(con->loop, fd, EPOLLIN, on_vmm, con);
	if (r < 0) {
		close(fd);
		return r;
	}
	con->vmm_fd = fd;
	if (replace_ring)
		con->start = con->head;
	return 0;
}

static void on_client(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console_client *c = opaque;
	struct console *con = c->con;
	size_t i;
	ssize_t n;

	(void)loop;
	(void)fd;
	for (i = 0; i < CONSOLE_MAX_CLIENTS && con->clients[i] != c; i++)
		;
	if (i == CONSOLE_MAX_CLIENTS)
		return;
	if ((events & EPOLLOUT) && !flush_client(con, c)) {
		release_client(con, i);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (con->in_len < INPUT_MAX) {
		size_t before = con->in_len;

		n = recv(c->fd, con->in + con->in_len, INPUT_MAX - con->in_len, MSG_DONTWAIT);
		if (n > 0) {
			con->in_len += (size_t)n;
			flush_input(con);
			input_settle(con, before);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	} else if (!(events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
		return;
	}
	release_client(con, i);
}

int console_attach(struct console *con, int fd, console_release_fn release, void *opaque,
                   const void *extra, size_t extra_len)
{
	struct console_client *c = NULL;
	size_t i;
	int flags;

	for (i = 0; i < CONSOLE_MAX_CLIENTS && con->clients[i]; i++)
		;
	if (i < CONSOLE_MAX_CLIENTS)
		c = calloc(1, sizeof(*c));
	flags = fcntl(fd, F_GETFL);
	if (!c || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    evloop_add(con->loop, fd, EPOLLIN | EPOLLRDHUP, on_client, c) < 0) {
		free(c);
		if (release)
			release(opaque, fd);
		else
			close(fd);
		return i < CONSOLE_MAX_CLIENTS ? -ENOMEM : -EBUSY;
	}
	c->con = con;
	c->fd = fd;
	c->pos = con->start;
	c->release = release;
	c->opaque = opaque;
	con->clients[i] = c;
	if (extra_len)
		queue_input(con, extra, extra_len);
	if (con->clients[i] == c && !flush_client(con, c))
		release_client(con, i);
	else if (con->clients[i] == c)
		evloop_modify(con->loop, fd, client_events(con, c));
	return 0;
}

static void on_tcp_accept(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *con = opaque;
	int cfd;

	(void)loop;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd >= 0)
		(void)console_attach(con, cfd, NULL, NULL, NULL, 0);
}

int console_listen_tcp(struct console *con, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, r, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = evloop_add(con->loop, fd, EPOLLIN, on_tcp_accept, con);
	if (r < 0) {
		close(fd);
		return r;
	}
	con->tcp_fd = fd;
	con->tcp_port = port;
	return 0;
}

uint16_t console_tcp_port(const struct console *con)
{
	return con && con->tcp_fd >= 0 ? con->tcp_port : 0;
}
