// SPDX-License-Identifier: GPL-2.0-only
/*
 * libxeno's HTTP client of xend: handles, one request path (libcurl on the UNIX socket, JSON
 * answers checked with json-c), the mapping of every failure to -errno plus one line for
 * humans, and the console's connection upgrade (a plain socket: the connection stops being
 * HTTP after the 101 answer, which is not libcurl's business).
 *
 * Runs in the caller's thread; a handle is used by one thread at a time.  Never prints, never
 * exits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client.h"

/* Answers bigger than this are refused: a domain list of thousands of domains fits. */
#define MAX_ANSWER_BYTES (64u << 20)
/* The console's HTTP answer before the upgrade: status line, headers, an error body. */
#define MAX_UPGRADE_HEADER 16384
#define MAX_UPGRADE_BODY   65536
#define UPGRADE_TIMEOUT_S  30

struct xeno {
	char *socket_path;
	CURL *curl; /* made on the first request, kept for its connection */
	struct curl_slist *headers;
	char errmsg[1024];
};

struct answer {
	char *data;
	size_t len;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int client_fail(struct xeno *h, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
	return r;
}

void client_clear(struct xeno *h)
{
	h->errmsg[0] = '\0';
}

int xeno_open(const char *socket_path, struct xeno **ret)
{
	struct sockaddr_un sun;
	struct xeno *h;

	if (!ret)
		return -EINVAL;
	if (!socket_path) {
		socket_path = getenv("XENO_XEND_SOCKET");
		if (!socket_path || !*socket_path)
			socket_path = XENO_XEND_SOCKET_DEFAULT;
	}
	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->socket_path = strdup(socket_path);
	if (!h->socket_path) {
		free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void xeno_close(struct xeno *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h->socket_path);
	free(h);
}

const char *xeno_errmsg(const struct xeno *h)
{
	return h ? h->errmsg : "no libxeno handle (NULL)";
}

const char *xeno_socket_path(const struct xeno *h)
{
	return h ? h->socket_path : "";
}

char *xeno_path_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = s ? strlen(s) : 0;
	char *out, *p;

	if (!s)
		return NULL;
	out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	p = out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '~' || c == '-') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

char *client_domain_path(const char *dom, const char *suffix)
{
	char *escaped, *path;

	/* "." and ".." would be taken as path steps by anything that normalises URLs. */
	if (!strcmp(dom, ".") || !strcmp(dom, ".."))
		escaped = strdup(dom[1] ? "%2E%2E" : "%2E");
	else
		escaped = xeno_path_escape(dom);
	if (!escaped)
		return NULL;
	if (asprintf(&path, "/v1/domains/%s%s", escaped, suffix) < 0)
		path = NULL;
	free(escaped);
	return path;
}

/* The errno whose name ("ENOENT") xend put in an error's "code"; 0 if none matches. */
static int errno_from_name(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcmp(n, name))
			return e;
	}
	return 0;
}

/* The errno an HTTP status stands for when the body does not say (docs/api.md, Errors). */
static int errno_from_status(long status)
{
	static const struct {
		long status;
		int err;
	} table[] = {
		{ 400, EINVAL }, { 403, EPERM },  { 404, ENOENT },    { 405, EOPNOTSUPP },
		{ 409, EBUSY },  { 411, EINVAL }, { 413, E2BIG },     { 415, EINVAL },
		{ 507, ENOMEM }, { 503, EAGAIN }, { 504, ETIMEDOUT },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].status == status)
			return table[i].err;
	return status >= 500 ? EIO : EPROTO;
}

/*
 * Turns a 4xx/5xx answer into -errno and the message: xend's {"error": {"code", "message"}}
 * when the body is one, else the status and the start of whatever came.
 */
static int fail_http(struct xeno *h, long status, const char *body, size_t len)
{
	struct json_object *obj = NULL, *err, *code, *msg;
	int e = 0;

	if (body && len)
		obj = json_tokener_parse(body);
	if (obj && json_object_object_get_ex(obj, "error", &err) &&
	    json_object_is_type(err, json_type_object) &&
	    json_object_object_get_ex(err, "message", &msg) &&
	    json_object_is_type(msg, json_type_string)) {
		if (json_object_object_get_ex(err, "code", &code) &&
		    json_object_is_type(code, json_type_string))
			e = errno_from_name(json_object_get_string(code));
		if (!e)
			e = errno_from_status(status);
		client_fail(h, -e, "%s", json_object_get_string(msg));
	} else {
		int n = 0;

		/* Only the first line, at most 200 bytes of it. */
		while (body && (size_t)n < len && n < 200 && body[n] != '\n' && body[n] != '\r')
			n++;
		e = errno_from_status(status);
		client_fail(h, -e, "xend answered HTTP %ld%s%.*s", status, n ? ": " : "", n,
		            n ? body : "");
	}
	json_object_put(obj);
	return -e;
}

/* Says why a connection to xend failed, from the errno of connect(). */
static int fail_connect(struct xeno *h, int err)
{
	if (err == EACCES || err == EPERM)
		return client_fail(h, -EACCES,
		                   "cannot reach xend at %s: permission denied (its socket is "
		                   "for root only)",
		                   h->socket_path);
	return client_fail(h, -ECONNREFUSED, "cannot reach xend at %s: is it running? (xend start)",
	                   h->socket_path);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	char *p;

	if (a->len + n > MAX_ANSWER_BYTES) {
		a->too_big = true;
		return 0;
	}
	p = realloc(a->data, a->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + a->len, ptr, n);
	a->data = p;
	a->len += n;
	a->data[a->len] = '\0';
	return n;
}

static int setup_curl(struct xeno *h)
{
	if (!h->curl) {
		h->curl = curl_easy_init();
		if (!h->curl)
			return client_fail(h, -ENOMEM, "out of memory");
	}
	if (!h->headers) {
		struct curl_slist *l = NULL, *n;
		static const char *const lines[] = {
			"Content-Type: application/json", "Accept: application/json",
			"Expect:", /* no 100-continue round trip */
		};

		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			n = curl_slist_append(l, lines[i]);
			if (!n) {
				curl_slist_free_all(l);
				return client_fail(h, -ENOMEM, "out of memory");
			}
			l = n;
		}
		h->headers = l;
	}
	curl_easy_reset(h->curl);
	return 0;
}

/* Maps a libcurl failure of a request to -errno and a message. */
static int fail_curl(struct xeno *h, CURLcode rc, long timeout_ms, const struct answer *a)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
		return fail_connect(h, (int)os_errno);
	case CURLE_OPERATION_TIMEDOUT:
		return client_fail(h, -ETIMEDOUT, "xend at %s did not answer within %ld s",
		                   h->socket_path, timeout_ms / 1000);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return client_fail(h, -ECONNRESET, "xend at %s closed the connection: %s",
		                   h->socket_path, curl_easy_strerror(rc));
	case CURLE_WRITE_ERROR:
		if (a->too_big)
			return client_fail(h, -EMSGSIZE, "xend's answer is over %u MiB",
			                   MAX_ANSWER_BYTES >> 20);
		return client_fail(h, -ENOMEM, "out of memory");
	case CURLE_OUT_OF_MEMORY:
		return client_fail(h, -ENOMEM, "out of memory");
	default:
		return client_fail(h, -EIO, "talking to xend at %s: %s", h->socket_path,
		                   curl_easy_strerror(rc));
	}
}

int client_request(struct xeno *h, const char *method, const char *path, const char *body,
                   long timeout_ms, char **ret_json)
{
	struct answer a = { 0 };
	char *url = NULL;
	long status = 0;
	CURLcode rc;
	int r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!method || !path)
		return client_fail(h, -EINVAL, "a request needs a method and a path");
	if (path[0] != '/')
		return client_fail(h, -EINVAL, "request path '%s' does not start with '/'", path);
	r = setup_curl(h);
	if (r < 0)
		return r;
	if (asprintf(&url, "http://xend%s", path) < 0)
		return client_fail(h, -ENOMEM, "out of memory");
	curl_easy_setopt(h->curl, CURLOPT_UNIX_SOCKET_PATH, h->socket_path);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &a);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(method, "POST") || body) {
		/* A POST always has a body, even an empty one, so that it has a length. */
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(body ? strlen(body) : 0));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(h->curl);
	free(url);
	if (rc != CURLE_OK) {
		r = fail_curl(h, rc, timeout_ms, &a);
	} else {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299)
			r = fail_http(h, status, a.data, a.len);
	}
	if (r < 0) {
		free(a.data);
		return r;
	}
	if (ret_json) {
		*ret_json = a.data ? a.data : strdup("");
		if (!*ret_json)
			return client_fail(h, -ENOMEM, "out of memory");
	} else {
		free(a.data);
	}
	return 0;
}

int client_request_parsed(struct xeno *h, const char *method, const char *path, const char *body,
                          long timeout_ms, enum json_type type, struct json_object **ret)
{
	enum json_tokener_error jerr;
	struct json_object *obj;
	char *text;
	int r;

	r = client_request(h, method, path, body, timeout_ms, &text);
	if (r < 0)
		return r;
	obj = json_tokener_parse_verbose(text, &jerr);
	free(text);
	if (!obj)
		return client_fail(h, -EBADMSG, "xend's answer to %s %s is not JSON: %s", method,
		                   path, json_tokener_error_desc(jerr));
	if (!json_object_is_type(obj, type)) {
		json_object_put(obj);
		return client_fail(h, -EBADMSG, "xend's answer to %s %s is not a JSON %s", method,
		                   path, json_type_to_name(type));
	}
	*ret = obj;
	return 0;
}

int xeno_request(struct xeno *h, const char *method, const char *path, const char *body_json,
                 char **ret_json)
{
	return client_request(h, method, path, body_json, CLIENT_TIMEOUT_MS, ret_json);
}

/* ---- The console's upgraded connection -------------------------------------------------- */

static int connect_xend(struct xeno *h, int *ret_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return client_fail(h, -errno, "socket: %s", strerror(errno));
	memcpy(sun.sun_path, h->socket_path, strlen(h->socket_path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;

		close(fd);
		return fail_connect(h, err);
	}
	*ret_fd = fd;
	return 0;
}

static int set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads the answer's status line and headers, one byte at a time: whatever follows the blank
 * line is console output and must stay in the socket for the caller.  Returns the header
 * length (NUL-terminated in buf) or -errno.
 */
static int read_header(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		len++;
		if (len >= 4 && !memcmp(buf + len - 4, "\r\n\r\n", 4)) {
			buf[len] = '\0';
			return (int)len;
		}
	}
	return -EMSGSIZE;
}

/* The value of header `name` in a header block, as a number; -1 if absent. */
static long header_number(const char *headers, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(headers, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':')
			return strtol(p + 3 + n, NULL, 10);
	}
	return -1;
}

/* Reads the error body of a refused upgrade (Content-Length bytes, else up to EOF). */
static int fail_upgrade(struct xeno *h, int fd, long status, const char *headers)
{
	long want = header_number(headers, "Content-Length");
	size_t len = 0,
	       limit = want >= 0 && want < MAX_UPGRADE_BODY ? (size_t)want : MAX_UPGRADE_BODY;
	char *body = malloc(MAX_UPGRADE_BODY + 1);
	int r;

	if (!body)
		return client_fail(h, -ENOMEM, "out of memory");
	while (len < limit) {
		ssize_t n = recv(fd, body + len, limit - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	body[len] = '\0';
	r = fail_http(h, status, body, len);
	free(body);
	return r;
}

int xeno_console_open(struct xeno *h, const char *dom, int *ret_fd)
{
	char header[MAX_UPGRADE_HEADER], *path, *request = NULL;
	long status = 0;
	int fd = -1, r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!dom || !ret_fd)
		return client_fail(h, -EINVAL,
		                   "xeno_console_open needs a domain and a place for the fd");
	path = client_domain_path(dom, "/console");
	if (!path)
		return client_fail(h, -ENOMEM, "out of memory");
	r = asprintf(&request,
	             "GET %s HTTP/1.1\r\nHost: xend\r\nConnection: Upgrade\r\n"
	             "Upgrade: xeno-console\r\n\r\n",
	             path);
	free(path);
	if (r < 0)
		return client_fail(h, -ENOMEM, "out of memory");
	r = connect_xend(h, &fd);
	if (r < 0) {
		free(request);
		return r;
	}
	r = set_timeouts(fd, UPGRADE_TIMEOUT_S);
	if (r >= 0)
		r = send_all(fd, request, strlen(request));
	free(request);
	if (r >= 0)
		r = read_header(fd, header, sizeof(header));
	if (r < 0) {
		close(fd);
		if (r == -ETIMEDOUT)
			return client_fail(h, r, "xend at %s did not answer within %d s",
			                   h->socket_path, UPGRADE_TIMEOUT_S);
		return client_fail(h, r, "xend at %s: console request failed: %s", h->socket_path,
		                   strerror(-r));
	}
	if (sscanf(header, "HTTP/1.%*[01] %ld", &status) != 1) {
		close(fd);
		return client_fail(h, -EPROTO,
		                   "xend at %s answered the console request with no "
		                   "HTTP status line",
		                   h->socket_path);
	}
	if (status != 101) {
		r = status >= 400 ? fail_upgrade(h, fd, status, header)
		                  : client_fail(h, -EPROTO,
		                                "xend answered HTTP %ld to the console request "
		                                "(expected 101)",
		                                status);
		close(fd);
		return r;
	}
	/* From here the connection is the console: no time limits. */
	r = set_timeouts(fd, 0);
	if (r < 0) {
		close(fd);
		return client_fail(h, r, "setsockopt: %s", strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}
