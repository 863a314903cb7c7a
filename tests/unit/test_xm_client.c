// SPDX-License-Identifier: GPL-2.0-only
/*
 * libxeno's client against a scripted server on a UNIX socket (a thread of this test that
 * records each request and sends a canned HTTP answer): the requests it makes for each call
 * (method, escaped path, body), how every kind of failure maps to -errno and a message
 * (xend not running, API errors with and without a JSON body, answers that are not JSON or
 * not HTTP), and the console's upgrade, whose first console bytes arrive with the 101.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <xeno/xeno.h>

#define MAX_EXCHANGES 4

struct server {
	char dir[64];
	char path[108];
	int listen_fd;
	pthread_t thread;
	const char *answers[MAX_EXCHANGES];
	int count;
	char requests[MAX_EXCHANGES][8192]; /* headers and body as received */
	char console_input[16];             /* what a console client sent after the 101 */
};

static ssize_t read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;
	char *end = NULL;
	long body = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
		}
		if (end && len >= (size_t)(end + 4 - buf) + (size_t)body)
			return (ssize_t)len;
	}
	return (ssize_t)len;
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (int i = 0; i < s->count; i++) {
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0)
			return NULL;
		read_request(fd, s->requests[i], sizeof(s->requests[i]));
		if (write(fd, s->answers[i], strlen(s->answers[i])) < 0)
			break;
		if (!strncmp(s->answers[i], "HTTP/1.1 101", 12)) {
			ssize_t n = read(fd, s->console_input, sizeof(s->console_input) - 1);

			if (n > 0)
				s->console_input[n] = '\0';
		}
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s, int count, const char *const *answers)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/xeno-test-client.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/xend.sock", s->dir);
	s->count = count;
	for (int i = 0; i < count; i++)
		s->answers[i] = answers[i];
	if (count == 0)
		return; /* nobody listens: xend is not running */
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(s->listen_fd, 8), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	if (s->count) {
		pthread_join(s->thread, NULL);
		close(s->listen_fd);
		unlink(s->path);
	}
	rmdir(s->dir);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* One call against one canned answer: opens a handle, returns it for the checks. */
static struct xeno *open_handle(struct server *s)
{
	struct xeno *h;

	assert_int_equal(xeno_open(s->path, &h), 0);
	return h;
}

#define JSON_HEADERS "Content-Type: application/json\r\nConnection: close\r\n"

/* Answers made by R() live until the end of the test program. */
static char *made[64];
static int made_count;

/* An HTTP answer with a JSON body and its length, as xend sends it. */
static const char *R(const char *status, const char *body)
{
	char *answer;

	assert_true(asprintf(&answer,
	                     "HTTP/1.1 %s\r\n" JSON_HEADERS "Content-Length: %zu\r\n\r\n%s", status,
	                     strlen(body), body) > 0);
	assert_true(made_count < 64);
	made[made_count++] = answer;
	return answer;
}

static int free_made(void **state)
{
	(void)state;
	while (made_count)
		free(made[--made_count]);
	return 0;
}

#define TWO_RECORDS                                                \
	"[{\"id\":0,\"name\":\"Domain-0\",\"state\":\"running\"}," \
	"{\"id\":4,\"name\":\"web\",\"state\":\"paused\",\"vcpus\":1}]   "

static void test_not_running(void **state)
{
	struct xeno_domain_info *list;
	struct server s;
	struct xeno *h;
	char expected[256];
	size_t n;
	int fd;

	(void)state;
	server_start(&s, 0, NULL);
	h = open_handle(&s);
	snprintf(expected, sizeof(expected), "cannot reach xend at %s: is it running? (xend start)",
	         s.path);
	assert_int_equal(xeno_domain_list(h, &list, &n), -ECONNREFUSED);
	assert_string_equal(xeno_errmsg(h), expected);
	assert_int_equal(xeno_console_open(h, "web", &fd), -ECONNREFUSED);
	assert_string_equal(xeno_errmsg(h), expected);
	xeno_close(h);
	server_stop(&s);
}

static void test_list(void **state)
{
	const char *answers[] = { R("200 OK", TWO_RECORDS) };
	struct xeno_domain_info *list;
	struct server s;
	struct xeno *h;
	size_t n;

	(void)state;
	server_start(&s, 1, answers);
	h = open_handle(&s);
	assert_int_equal(xeno_domain_list(h, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "Domain-0");
	assert_int_equal(list[1].id, 4);
	assert_int_equal(list[1].state, XENO_DOMAIN_PAUSED);
	xeno_domain_list_free(list, n);
	xeno_close(h);
	server_stop(&s);
	assert_true(starts_with(s.requests[0], "GET /v1/domains HTTP/1.1\r\n"));
}

static void test_api_errors(void **state)
{
	const char *answers[] = {
		R("404 Not Found",
		  "{\"error\": {\"code\": \"ENOENT\", \"message\": \"no domain 'a b/c'\"}}"),
		R("409 Conflict",
		  "{\"error\": {\"code\": \"EBUSY\", \"message\": \"'web' is paused\"}}  "),
		R("507 Insufficient Storage", "{\"error\": {\"message\": \"not enough memory\"}}"),
		"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
		"Content-Length: 10\r\n\r\noops\nmore!",
	};
	struct server s;
	struct xeno *h;

	(void)state;
	server_start(&s, 4, answers);
	h = open_handle(&s);
	assert_int_equal(xeno_domain_pause(h, "a b/c"), -ENOENT);
	assert_string_equal(xeno_errmsg(h), "no domain 'a b/c'");
	assert_int_equal(xeno_domain_pause(h, "web"), -EBUSY);
	assert_string_equal(xeno_errmsg(h), "'web' is paused");
	/* No code: the status says which errno. */
	assert_int_equal(xeno_domain_unpause(h, "web"), -ENOMEM);
	assert_string_equal(xeno_errmsg(h), "not enough memory");
	assert_int_equal(xeno_domain_destroy(h, "web"), -EIO);
	assert_string_equal(xeno_errmsg(h), "xend answered HTTP 500: oops");
	xeno_close(h);
	server_stop(&s);
	assert_true(starts_with(s.requests[0], "POST /v1/domains/a%20b%2Fc/pause HTTP/1.1\r\n"));
	assert_non_null(strcasestr(s.requests[0], "\r\nContent-Length: 0\r\n"));
	assert_non_null(strcasestr(s.requests[0], "\r\nContent-Type: application/json\r\n"));
	assert_true(starts_with(s.requests[2], "POST /v1/domains/web/unpause HTTP/1.1\r\n"));
	assert_true(starts_with(s.requests[3], "DELETE /v1/domains/web HTTP/1.1\r\n"));
}

static void test_bodies(void **state)
{
	const char *answers[] = {
		R("200 OK", "{}"),
		R("201 Created", "{\"id\":7,\"name\":\"db\",\"state\":\"paused\"}"),
		R("200 OK", "{\"lines\":[\"a\"]}"),
	};
	struct xeno_domain_info info;
	struct server s;
	struct xeno *h;
	char *json;

	(void)state;
	server_start(&s, 3, answers);
	h = open_handle(&s);
	assert_int_equal(xeno_domain_shutdown(h, "web", true, true), 0);
	assert_int_equal(xeno_domain_create(h, "{\"name\":\"db\",\"kernel\":\"/k\"}", true, &info),
	                 0);
	assert_int_equal(info.id, 7);
	assert_string_equal(info.name, "db");
	xeno_domain_info_fini(&info);
	assert_int_equal(xeno_log_lines(h, 20, &json), 0);
	assert_string_equal(json, "{\"lines\":[\"a\"]}");
	free(json);
	xeno_close(h);
	server_stop(&s);
	assert_true(starts_with(s.requests[0], "POST /v1/domains/web/shutdown HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\n\r\n{\"reboot\": true, \"wait\": true}"));
	assert_true(starts_with(s.requests[1], "POST /v1/domains HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[1], "\"start_paused\":true"));
	assert_non_null(strstr(s.requests[1], "\"name\":\"db\""));
	assert_true(starts_with(s.requests[2], "GET /v1/log?lines=20 HTTP/1.1\r\n"));
}

static void test_bad_answers(void **state)
{
	const char *answers[] = {
		R("200 OK", "not json!"),
		R("200 OK", "{}"),
		R("200 OK", "[{\"id\":\"x\"}]"),
		"this is not HTTP at all\r\n\r\n",
	};
	struct xeno_domain_info *list, info;
	struct server s;
	struct xeno *h;
	size_t n;

	(void)state;
	server_start(&s, 4, answers);
	h = open_handle(&s);
	assert_int_equal(xeno_domain_list(h, &list, &n), -EBADMSG);
	assert_non_null(strstr(xeno_errmsg(h), "is not JSON"));
	assert_int_equal(xeno_domain_list(h, &list, &n), -EBADMSG);
	assert_non_null(strstr(xeno_errmsg(h), "is not a JSON array"));
	assert_int_equal(xeno_domain_list(h, &list, &n), -EBADMSG);
	assert_non_null(strstr(xeno_errmsg(h), "xend sent a bad record"));
	assert_true(xeno_domain_get(h, "web", &info) < 0);
	assert_true(strlen(xeno_errmsg(h)) > 0);
	xeno_close(h);
	server_stop(&s);
}

static void test_console(void **state)
{
	const char *answers[] = {
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		"Upgrade: xeno-console\r\n\r\nhello",
		R("404 Not Found",
		  "{\"error\": {\"code\": \"ENOENT\", \"message\": \"no domain 'zz'\"}}"),
	};
	struct server s;
	struct xeno *h;
	char buf[16] = { 0 };
	size_t got = 0;
	int fd = -1;

	(void)state;
	server_start(&s, 2, answers);
	h = open_handle(&s);
	assert_int_equal(xeno_console_open(h, "web", &fd), 0);
	/* The bytes that came with the 101 are the console's, not the header's. */
	while (got < 5) {
		ssize_t n = read(fd, buf + got, 5 - got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_string_equal(buf, "hello");
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(xeno_console_open(h, "zz", &fd), -ENOENT);
	assert_string_equal(xeno_errmsg(h), "no domain 'zz'");
	xeno_close(h);
	server_stop(&s);
	assert_string_equal(s.console_input, "x");
	assert_true(starts_with(s.requests[0], "GET /v1/domains/web/console HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nUpgrade: xeno-console\r\n"));
}

static void test_open(void **state)
{
	char path[200];
	struct xeno *h;

	(void)state;
	setenv("XENO_XEND_SOCKET", "/tmp/elsewhere.sock", 1);
	assert_int_equal(xeno_open(NULL, &h), 0);
	assert_string_equal(xeno_socket_path(h), "/tmp/elsewhere.sock");
	assert_string_equal(xeno_errmsg(h), "");
	xeno_close(h);
	setenv("XENO_XEND_SOCKET", "", 1);
	assert_int_equal(xeno_open(NULL, &h), 0);
	assert_string_equal(xeno_socket_path(h), XENO_XEND_SOCKET_DEFAULT);
	xeno_close(h);
	unsetenv("XENO_XEND_SOCKET");
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(xeno_open(path, &h), -ENAMETOOLONG);
	xeno_close(NULL);
}

static void test_path_escape(void **state)
{
	char *s;

	(void)state;
	s = xeno_path_escape("web-1_x.y~");
	assert_string_equal(s, "web-1_x.y~");
	free(s);
	s = xeno_path_escape("a b/?%\xff");
	assert_string_equal(s, "a%20b%2F%3F%25%FF");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_running), cmocka_unit_test(test_list),
		cmocka_unit_test(test_api_errors),  cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_bad_answers), cmocka_unit_test(test_console),
		cmocka_unit_test(test_open),        cmocka_unit_test(test_path_escape),
	};

	return cmocka_run_group_tests(tests, NULL, free_made);
}
