// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm console and xm consoles.  `console` relays bytes between the caller's stdin/stdout and
 * the domain's console connection (libxeno's upgraded HTTP connection to xend): in raw mode
 * when stdin is a terminal, as plain pipes otherwise, so that tests and scripts can drive
 * it.  Ctrl-] or the end of the input detaches; the console's end (the domain is gone, xend
 * stopped) ends it too.
 *
 * Runs on xm's main thread.  The terminal is always restored: on detach, on the console's
 * end, and on SIGTERM/SIGHUP/SIGINT.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "output.h"
#include "xm.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-] as in telnet, xl and virsh */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Stops the relay on these signals, without SA_RESTART so that poll() returns. */
static void catch_signals(void)
{
	static const int signals[] = { SIGTERM, SIGHUP, SIGINT };
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

/* Writes all of buf; false when the other side is gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR && !stop_signal)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Input to the console: false to stop (Ctrl-], end of input, console gone). */
static bool relay_input(int console)
{
	char buf[4096], *esc;
	ssize_t n;

	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	esc = memchr(buf, ESCAPE_CHAR, (size_t)n);
	if (esc) {
		write_all(console, buf, (size_t)(esc - buf));
		return false;
	}
	return write_all(console, buf, (size_t)n);
}

/* Console output to stdout: false to stop (the console ended, stdout is closed). */
static bool relay_output(int console)
{
	char buf[65536];
	ssize_t n;

	n = read(console, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	return write_all(STDOUT_FILENO, buf, (size_t)n);
}

static void relay(int console)
{
	struct pollfd fds[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = console, .events = POLLIN },
	};

	while (!stop_signal) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		/* Output first: what the guest printed before a detach still reaches the user. */
		if (fds[1].revents && !relay_output(console))
			return;
		if (fds[0].revents && !relay_input(console))
			return;
	}
}

int xm_console_attach(struct xm *xm, const char *dom)
{
	struct termios saved, raw;
	bool tty = false;
	int fd, r;

	r = xeno_console_open(xm->h, dom, &fd);
	if (r < 0)
		return xm_fail(xm, "console", dom, r);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	if (tty)
		fprintf(stderr, "xm: attached to '%s'; Ctrl-] detaches\r\n", dom);
	catch_signals();
	relay(fd);
	close(fd);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fputc('\n', stderr);
	}
	return 0;
}

int xm_cmd_console(struct xm *xm, const struct xm_args *args)
{
	return xm_console_attach(xm, args->argv[0]);
}

int xm_cmd_consoles(struct xm *xm, const struct xm_args *args)
{
	struct xeno_domain_info *list;
	size_t count;
	int r;

	(void)args;
	r = xeno_domain_list(xm->h, &list, &count);
	if (r < 0)
		return xm_fail(xm, "consoles", NULL, r);
	output_console_list(stdout, list, count);
	xeno_domain_list_free(list, count);
	return 0;
}
