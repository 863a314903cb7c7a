// SPDX-License-Identifier: GPL-2.0-only
/*
 * libxeno against a real xend (the one just built), started by this test in a temporary root
 * and in a network namespace of its own (unshare(CLONE_NEWNET) in the child: xend sets up
 * nftables tables and sysctls when it starts, and the host's must not change; root needed).
 * No guest runs here (this machine has no usable KVM): what is tested is everything that
 * does not need one.  Calls answered by xend; xend's errors arriving with its message; the
 * event watcher waiting and timing out; xend stopped, killed and restarted in the middle of
 * a call; a socket nobody listens on; NULL arguments.  Every failure must be a -errno with
 * a message, never a crash (this test also runs in the ASan build).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xeno/cfg.h>
#include <xeno/xeno.h>

#define START_TIMEOUT_MS 30000

struct xend {
	char dir[64];
	char socket[128];
	char conf[128];
	char log[128];
	pid_t pid;
};

static struct xend xend;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a call returns when no xend listens (the socket is missing or stale). */
static bool unreachable(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED;
}

static void write_conf(void)
{
	FILE *f = fopen(xend.conf, "w");

	assert_non_null(f);
	fprintf(f,
	        "xend-socket = \"%s\"\nrun-dir = \"%s/run\"\nstate-dir = \"%s/state\"\n"
	        "log-file = \"%s/xend.log\"\nconsole-log-dir = \"%s/console\"\n"
	        "vmm-path = \"%s\"\n",
	        xend.socket, xend.dir, xend.dir, xend.dir, xend.dir, XENO_VMM_PATH);
	fclose(f);
}

/* Starts xend and waits until its API answers. */
static void start_xend(void)
{
	struct xeno *h;
	long long deadline = now_ms() + START_TIMEOUT_MS;
	int r;

	xend.pid = fork();
	assert_true(xend.pid >= 0);
	if (xend.pid == 0) {
		int fd = open(xend.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %s (root needed)\n",
			        strerror(errno));
			_exit(126);
		}
		execl(XEND_PATH, "xend", "-F", "--config", xend.conf, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", XEND_PATH, strerror(errno));
		_exit(127);
	}
	assert_int_equal(xeno_open(xend.socket, &h), 0);
	for (;;) {
		int status;

		r = xeno_version_json(h, NULL);
		if (r == 0)
			break;
		if (waitpid(xend.pid, &status, WNOHANG) == xend.pid)
			fail_msg("xend exited (status %d) before answering; see %s", status,
			         xend.log);
		if (now_ms() > deadline)
			fail_msg("xend did not answer within %d ms: %s", START_TIMEOUT_MS,
			         xeno_errmsg(h));
		usleep(20000);
	}
	xeno_close(h);
}

static void stop_xend(int sig)
{
	int status;

	if (xend.pid <= 0)
		return;
	kill(xend.pid, sig);
	assert_int_equal(waitpid(xend.pid, &status, 0), xend.pid);
	xend.pid = 0;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(xend.dir, sizeof(xend.dir), "/tmp/xeno-libxeno-XXXXXX");
	if (!mkdtemp(xend.dir))
		return -1;
	snprintf(xend.socket, sizeof(xend.socket), "%s/run/xend.sock", xend.dir);
	snprintf(xend.conf, sizeof(xend.conf), "%s/xend.conf", xend.dir);
	snprintf(xend.log, sizeof(xend.log), "%s/xend.stderr", xend.dir);
	write_conf();
	start_xend();
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	stop_xend(SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xend.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct xeno *handle(void)
{
	struct xeno *h;

	assert_int_equal(xeno_open(xend.socket, &h), 0);
	return h;
}

static void test_calls_answer_from_a_real_xend(void **state)
{
	struct xeno *h = handle();
	struct xeno_domain_info *list, dom0;
	size_t count;
	char *json;

	(void)state;
	assert_int_equal(xeno_version_json(h, &json), 0);
	assert_non_null(strstr(json, "\"version\""));
	free(json);
	assert_int_equal(xeno_host_info_json(h, &json), 0);
	assert_non_null(strstr(json, "\"xend_pid\""));
	free(json);
	assert_int_equal(xeno_domain_list(h, &list, &count), 0);
	assert_true(count >= 1);
	assert_int_equal(list[0].id, 0);
	assert_string_equal(list[0].name, "Domain-0");
	xeno_domain_list_free(list, count);
	assert_int_equal(xeno_domain_get(h, "Domain-0", &dom0), 0);
	assert_int_equal(dom0.id, 0);
	assert_int_equal(dom0.state, XENO_DOMAIN_RUNNING);
	xeno_domain_info_fini(&dom0);
	assert_int_equal(xeno_log_lines(h, 5, &json), 0);
	assert_non_null(strstr(json, "\"lines\""));
	free(json);
	assert_int_equal(xeno_nat_json(h, &json), 0);
	assert_non_null(strstr(json, "\"enabled\""));
	free(json);
	xeno_close(h);
}

/* xend's message, as xend put it in its JSON error, is what xeno_errmsg() gives. */
static void test_xend_errors_arrive_with_its_message(void **state)
{
	struct xeno *h = handle();
	struct xeno_domain_info info;

	(void)state;
	assert_int_equal(xeno_domain_get(h, "nosuch", &info), -ENOENT);
	assert_non_null(strstr(xeno_errmsg(h), "nosuch"));
	assert_int_equal(xeno_domain_pause(h, "nosuch"), -ENOENT);
	assert_int_equal(xeno_request(h, "GET", "/v1/nowhere", NULL, NULL), -ENOENT);
	assert_int_equal(xeno_request(h, "PUT", "/v1/domains", "{}", NULL), -EOPNOTSUPP);
	assert_int_equal(xeno_request(h, "POST", "/v1/domains", "{not json", NULL), -EINVAL);
	assert_true(strlen(xeno_errmsg(h)) > 0);

	/* A create refused before any VMM: the missing kernel is named. */
	assert_int_equal(xeno_domain_create(h,
	                                    "{\"name\": \"t\", \"kernel\": "
	                                    "\"/nonexistent/vmlinuz\", \"memory_mib\": 128}",
	                                    false, NULL),
	                 -EINVAL);
	assert_non_null(strstr(xeno_errmsg(h), "/nonexistent/vmlinuz"));
	/* Nothing was left behind. */
	assert_int_equal(xeno_domain_get(h, "t", &info), -ENOENT);
	xeno_close(h);
}

static void test_the_event_watcher_waits_and_times_out(void **state)
{
	struct xeno *h = handle();
	struct xeno_events *w;
	struct xeno_event e;
	long long t0;

	(void)state;
	assert_int_equal(xeno_events_open(h, &w), 0);
	assert_int_equal(xeno_events_next(w, 0, &e), 0);
	t0 = now_ms();
	assert_int_equal(xeno_events_next(w, 300, &e), 0);
	assert_true(now_ms() - t0 >= 290);
	xeno_events_close(w);
	xeno_close(h);
}

struct delayed_signal {
	int sig;
	int delay_ms;
};

/* On a thread of its own: no cmocka assertion here; the test checks that xend is gone. */
static void *send_later(void *arg)
{
	struct delayed_signal *d = arg;

	usleep((useconds_t)d->delay_ms * 1000);
	kill(xend.pid, d->sig);
	return NULL;
}

/*
 * xend goes away while a call waits on it (stopped, then killed), and comes back: each call
 * in between fails with a message, and the watcher reports the gap as a "lost" event.
 */
static void test_xend_going_away_in_the_middle_of_a_call(void **state)
{
	static const int sigs[] = { SIGTERM, SIGKILL };
	struct xeno *h = handle();
	struct xeno_events *w;
	struct xeno_event e;

	(void)state;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct delayed_signal d = { sigs[i], 300 };
		pthread_t t;
		int r;

		assert_int_equal(xeno_events_open(h, &w), 0);
		assert_int_equal(pthread_create(&t, NULL, send_later, &d), 0);
		r = xeno_events_next(w, 10000, &e);
		assert_true(r < 0);
		assert_true(strlen(xeno_errmsg(h)) > 0);
		pthread_join(t, NULL);
		stop_xend(SIGKILL); /* reaps it; a SIGTERM'd xend may still be finishing */
		/* Nobody listens now. */
		r = xeno_events_next(w, 1000, &e);
		assert_true(unreachable(r));
		assert_non_null(strstr(xeno_errmsg(h), "is it running?"));
		assert_int_equal(xeno_version_json(h, NULL), r);

		start_xend();
		assert_int_equal(xeno_events_next(w, 5000, &e), 1);
		assert_string_equal(e.event, "lost");
		assert_int_equal(xeno_events_next(w, 0, &e), 0);
		xeno_events_close(w);
	}
	xeno_close(h);
}

static void test_a_socket_nobody_listens_on(void **state)
{
	struct xeno_domain_info *list;
	struct xeno_events *w = NULL;
	struct xeno *h;
	size_t count;
	char path[160];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/nobody.sock", xend.dir);
	assert_int_equal(xeno_open(path, &h), 0);
	assert_true(unreachable(xeno_domain_list(h, &list, &count)));
	assert_non_null(strstr(xeno_errmsg(h), "is it running? (xend start)"));
	assert_true(unreachable(xeno_console_open(h, "1", &fd)));
	assert_true(unreachable(xeno_events_open(h, &w)));
	assert_null(w);
	xeno_close(h);
}

/* NULL where a pointer belongs: -EINVAL (with a message when there is a handle). */
static void test_null_arguments_are_refused(void **state)
{
	struct xeno *h = handle();
	struct xeno_domain_info info, *list;
	struct xeno_event e;
	struct xeno_cfg *cfg;
	char *json, *err = NULL;
	size_t count;
	int fd;

	(void)state;
	assert_int_equal(xeno_open(NULL, NULL), -EINVAL);
	assert_non_null(xeno_errmsg(NULL));
	assert_string_equal(xeno_socket_path(NULL), "");
	assert_null(xeno_path_escape(NULL));
	xeno_close(NULL);
	xeno_events_close(NULL);
	xeno_domain_info_fini(NULL);
	xeno_domain_list_free(NULL, 0);

	assert_int_equal(xeno_request(NULL, "GET", "/v1/version", NULL, NULL), -EINVAL);
	assert_int_equal(xeno_request(h, NULL, "/v1/version", NULL, NULL), -EINVAL);
	assert_int_equal(xeno_request(h, "GET", NULL, NULL, NULL), -EINVAL);
	assert_true(strlen(xeno_errmsg(h)) > 0);
	assert_int_equal(xeno_domain_list(NULL, &list, &count), -EINVAL);
	assert_int_equal(xeno_domain_list(h, NULL, &count), -EINVAL);
	assert_int_equal(xeno_domain_list_json(NULL, &json), -EINVAL);
	assert_int_equal(xeno_domain_get(h, NULL, &info), -EINVAL);
	assert_int_equal(xeno_domain_get(h, "Domain-0", NULL), -EINVAL);
	assert_int_equal(xeno_domain_get_json(NULL, "0", &json), -EINVAL);
	assert_int_equal(xeno_domain_create(h, NULL, false, NULL), -EINVAL);
	assert_int_equal(xeno_domain_create(NULL, "{}", false, NULL), -EINVAL);
	assert_int_equal(xeno_domain_pause(h, NULL), -EINVAL);
	assert_int_equal(xeno_domain_unpause(NULL, "1"), -EINVAL);
	assert_int_equal(xeno_domain_destroy(h, NULL), -EINVAL);
	assert_int_equal(xeno_domain_shutdown(h, NULL, false, false), -EINVAL);
	assert_int_equal(xeno_console_open(h, NULL, &fd), -EINVAL);
	assert_int_equal(xeno_console_open(h, "0", NULL), -EINVAL);
	assert_int_equal(xeno_console_open(NULL, "0", &fd), -EINVAL);
	assert_int_equal(xeno_domain_network_json(h, NULL, &json), -EINVAL);
	assert_int_equal(xeno_domain_block_json(NULL, "0", &json), -EINVAL);
	assert_int_equal(xeno_host_info_json(NULL, &json), -EINVAL);
	assert_int_equal(xeno_version_json(NULL, &json), -EINVAL);
	assert_int_equal(xeno_log_lines(NULL, 1, &json), -EINVAL);
	assert_int_equal(xeno_nat_json(NULL, &json), -EINVAL);
	assert_int_equal(xeno_nat_set(NULL, false, &json), -EINVAL);
	assert_int_equal(xeno_events_open(NULL, NULL), -EINVAL);
	assert_int_equal(xeno_events_open(h, NULL), -EINVAL);
	assert_int_equal(xeno_events_next(NULL, 0, &e), -EINVAL);
	assert_int_equal(xeno_domain_info_parse(NULL, &info, NULL), -EINVAL);
	assert_int_equal(xeno_domain_info_parse("{}", NULL, NULL), -EINVAL);

	assert_int_equal(xeno_cfg_parse_string("x", NULL, 0, &cfg, &err), -EINVAL);
	free(err);
	assert_int_equal(xeno_cfg_parse_string("x", "", 0, NULL, NULL), -EINVAL);
	assert_int_equal(xeno_cfg_parse_file(NULL, &cfg, NULL), -EINVAL);
	assert_int_equal(xeno_cfg_set(NULL, "a=1", NULL), -EINVAL);
	assert_int_equal(xeno_cfg_domain_json(NULL, &json, NULL), -EINVAL);
	assert_int_equal(xeno_cfg_check_keys(NULL, NULL, NULL), -EINVAL);
	xeno_cfg_free(NULL);
	xeno_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calls_answer_from_a_real_xend),
		cmocka_unit_test(test_xend_errors_arrive_with_its_message),
		cmocka_unit_test(test_the_event_watcher_waits_and_times_out),
		cmocka_unit_test(test_xend_going_away_in_the_middle_of_a_call),
		cmocka_unit_test(test_a_socket_nobody_listens_on),
		cmocka_unit_test(test_null_arguments_are_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
