// SPDX-License-Identifier: GPL-2.0-only
/*
 * One control command to one VMM: connect, send "COMMAND\n", read up to the newline, parse.
 * A fresh connection per command keeps no state that a restarted xend would have to
 * rebuild; the VMM accepts a handful of clients at once and xend is the only regular one.
 */
#include "xend/vmm_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; returns 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *path, long long deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	r = -errno;
	if (r == -EAGAIN || r == -EINPROGRESS) {
		/* A full backlog: the VMM is busy; wait for it to accept. */
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0)
			return fd;
	}
	close(fd);
	return r;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int r;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reads up to the first newline into buf (NUL-terminated, newline removed). */
static int read_line(int fd, char *buf, size_t cap, long long deadline)
{
	size_t len = 0;

	for (;;) {
		ssize_t n;
		char *nl;
		int r;

		if (len + 1 >= cap)
			return -EPROTO;
		n = read(fd, buf + len, cap - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = 0;
			nl = memchr(buf, '\n', len);
			if (nl) {
				*nl = 0;
				return 0;
			}
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

int vmm_control_call(const char *path, const char *command, int timeout_ms,
                     struct json_object **ret, char *err, size_t errlen)
{
	long long deadline = now_ms() + timeout_ms;
	struct json_object *reply = NULL, *ok, *msg;
	char *line = NULL, *buf = NULL;
	int fd, r, len;

	err[0] = 0;
	if (strlen(command) > VMM_CONTROL_LINE_MAX || strchr(command, '\n'))
		return -EINVAL;
	len = asprintf(&line, "%s\n", command);
	if (len < 0)
		return -ENOMEM;
	fd = connect_to(path, deadline);
	if (fd < 0) {
		free(line);
		return fd;
	}
	buf = malloc(VMM_CONTROL_REPLY_MAX);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	r = send_all(fd, line, (size_t)len, deadline);
	if (r == 0)
		r = read_line(fd, buf, VMM_CONTROL_REPLY_MAX, deadline);
	if (r < 0)
		goto out;
	reply = json_tokener_parse(buf);
	if (!json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok)) {
		snprintf(err, errlen, "'%.*s': the VMM's reply is not a JSON object",
		         (int)strcspn(command, " "), command);
		r = -EPROTO;
		goto out;
	}
	if (!json_object_get_boolean(ok)) {
		json_object_object_get_ex(reply, "error", &msg);
		snprintf(err, errlen, "'%.*s': %s", (int)strcspn(command, " "), command,
		         msg ? json_object_get_string(msg) : "the VMM refused");
		r = -EIO;
		goto out;
	}
	*ret = reply;
	reply = NULL;
out:
	json_object_put(reply);
	free(buf);
	free(line);
	close(fd);
	return r;
}
