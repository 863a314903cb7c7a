// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's console relay: the ring (last 64 KiB, replayed first to each client), live output to
 * every client, input to the VMM, the ring replaced by the VMM's history on adoption, and the
 * client limit.  The "VMM" is a UNIX socket this test listens on; clients are socketpairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/evloop.h"
#include "xend/console.h"

static size_t drain(int fd, char *buf, size_t max)
{
	size_t n = 0;
	ssize_t r;

	while (n < max && (r = recv(fd, buf + n, max - n, MSG_DONTWAIT)) > 0)
		n += (size_t)r;
	return n;
}

static void test_ring_replay_then_live_output(void **state)
{
	struct evloop *loop;
	struct console *con;
	char buf[256];
	int sv[2];

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(console_new(loop, "t", &con), 0);
	console_feed(con, "boot messages\n", 14);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(console_attach(con, sv[0], NULL, NULL, NULL, 0), 0);
	assert_int_equal(drain(sv[1], buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "boot messages\n", 14);
	console_feed(con, "# ", 2);
	assert_int_equal(drain(sv[1], buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "# ", 2);
	console_free(con);
	/* The relay closed its end of the client. */
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 0);
	close(sv[1]);
	evloop_free(loop);
}

static void test_ring_keeps_the_last_64k(void **state)
{
	static char big[100000], out[CONSOLE_RING_SIZE + 10];
	struct evloop *loop;
	struct console *con;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(console_new(loop, "t", &con), 0);
	console_feed(con, big, 30000);
	console_feed(con, big + 30000, sizeof(big) - 30000);
	assert_int_equal(console_ring_copy(con, out, sizeof(out)), CONSOLE_RING_SIZE);
	assert_memory_equal(out, big + sizeof(big) - CONSOLE_RING_SIZE, CONSOLE_RING_SIZE);
	/* One write bigger than the ring keeps its own tail. */
	console_feed(con, big, sizeof(big));
	assert_int_equal(console_ring_copy(con, out, sizeof(out)), CONSOLE_RING_SIZE);
	assert_memory_equal(out, big + sizeof(big) - CONSOLE_RING_SIZE, CONSOLE_RING_SIZE);
	console_free(con);
	evloop_free(loop);
}

static void test_a_slow_client_skips_what_fell_out_of_the_ring(void **state)
{
	static char chunk[32768], buf[4 * CONSOLE_RING_SIZE];
	struct evloop *loop;
	struct console *con;
	int sv[2], small = 4096;
	size_t got;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(console_new(loop, "t", &con), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(console_attach(con, sv[0], NULL, NULL, NULL, 0), 0);
	/* The client reads nothing while 256 KiB go by: the relay never blocks. */
	for (int i = 0; i < 8; i++)
		console_feed(con, chunk, sizeof(chunk));
	console_feed(con, "END", 3);
	got = drain(sv[1], buf, sizeof(buf));
	assert_true(got < 8 * sizeof(chunk));
	console_free(con);
	close(sv[1]);
	evloop_free(loop);
}

static void test_client_limit(void **state)
{
	struct evloop *loop;
	struct console *con;
	int sv[2], keep[CONSOLE_MAX_CLIENTS];

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(console_new(loop, "t", &con), 0);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(console_attach(con, sv[0], NULL, NULL, NULL, 0), 0);
		keep[i] = sv[1];
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(console_attach(con, sv[0], NULL, NULL, NULL, 0), -EBUSY);
	close(sv[1]);
	console_free(con);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		close(keep[i]);
	evloop_free(loop);
}

static void on_timer(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	(void)fd;
	(void)events;
	(void)opaque;
	evloop_quit(loop);
}

static int released;

static void release(void *opaque, int fd)
{
	(void)opaque;
	released++;
	close(fd);
}

static void test_vmm_history_replaces_the_ring_and_input_reaches_the_vmm(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct itimerspec its = { .it_value = { 0, 300 * 1000 * 1000 } };
	struct evloop *loop;
	struct console *con;
	int lfd, vfd, tfd, sv[2];
	char buf[256];
	size_t n;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/xend-test-console-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(console_new(loop, "t", &con), 0);
	console_feed(con, "before xend restarted", 21);
	assert_int_equal(console_connect(con, "/no/such/socket", true), -ENOENT);
	assert_int_equal(console_connect(con, sa.sun_path, true), 0);
	vfd = accept(lfd, NULL, NULL);
	assert_true(vfd >= 0);
	assert_int_equal(console_ring_copy(con, buf, sizeof(buf)), 0);
	/* The VMM replays its history; a client types. */
	assert_int_equal(write(vfd, "history\n", 8), 8);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	released = 0;
	assert_int_equal(console_attach(con, sv[0], release, NULL, "ec", 2), 0);
	assert_int_equal(write(sv[1], "ho hi\n", 6), 6);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
	assert_int_equal(evloop_add(loop, tfd, EPOLLIN, on_timer, NULL), 0);
	assert_int_equal(evloop_run(loop), 0);

	n = console_ring_copy(con, buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "history\n", 8);
	assert_int_equal(drain(sv[1], buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "history\n", 8);
	n = drain(vfd, buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "echo hi\n", 8);
	console_free(con);
	assert_int_equal(released, 1);
	evloop_free(loop);
	close(tfd);
	close(sv[1]);
	close(vfd);
	close(lfd);
	unlink(sa.sun_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_replay_then_live_output),
		cmocka_unit_test(test_ring_keeps_the_last_64k),
		cmocka_unit_test(test_a_slow_client_skips_what_fell_out_of_the_ring),
		cmocka_unit_test(test_client_limit),
		cmocka_unit_test(test_vmm_history_replaces_the_ring_and_input_reaches_the_vmm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
