// SPDX-License-Identifier: GPL-2.0-only
/*
 * libmicrohttpd glue.  Runs on the library's threads (one per connection): gathers a request,
 * lets api.c parse it here, runs it on the main thread with daemon_call(), then answers.  The
 * only state shared with the main thread goes through daemon.c.  A console upgrade hands the
 * socket to the main thread with daemon_post(); the relay releases it through
 * MHD_upgrade_action(), which libmicrohttpd allows from any thread.
 */
#include "xend/server.h"
#include "common/log.h"
#include "xend/api.h"
#include "xend/conf.h"
#include "xend/console.h"
#include "xend/daemon.h"

#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 16

struct server {
	struct xend *x;
	struct MHD_Daemon *mhd;
	int listen_fd;
};

/* Per request, from its first callback to its completion. */
struct request_ctx {
	char *body;
	size_t len, cap;
	bool too_big;
	bool has_length;
	bool answered; /* a response was queued before the body was read */
	unsigned int console_domid;
};

/* Work handed to the main thread. */
struct job {
	struct api_request *req;
	struct api_response *resp;
	bool done;
	bool timed_out;
	uint64_t seq;
};

static enum MHD_Result queue_json(struct MHD_Connection *conn, struct api_response *resp)
{
	const char *text = resp->text ? resp->text
	                   : resp->body
	                           ? json_object_to_json_string_ext(
	                                     resp->body, JSON_C_TO_STRING_PLAIN |
	                                                         JSON_C_TO_STRING_NOSLASHESCAPE)
	                           : "";
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = strlen(text);
	char *buf = malloc(len + 2);

	if (!buf)
		return MHD_NO;
	memcpy(buf, text, len);
	if (!resp->text)
		buf[len++] = '\n';
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        resp->text ? "text/plain; version=0.0.4" : "application/json");
	if (resp->allow[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, int err, const char *msg)
{
	struct api_response resp = { 0 };
	enum MHD_Result ret;

	api_error(&resp, err, "%s", msg);
	ret = queue_json(conn, &resp);
	api_response_fini(&resp);
	return ret;
}

/* ---- Console upgrade ---- */

struct attach {
	unsigned int domid;
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	size_t extra_len;
	char extra[];
};

static void release_upgraded(void *opaque, int fd)
{
	(void)fd;
	MHD_upgrade_action(opaque, MHD_UPGRADE_ACTION_CLOSE);
}

/* Main thread: gives the upgraded socket to the domain's console relay. */
static void attach_console(struct xend *x, void *arg, bool cancelled)
{
	struct attach *a = arg;
	struct domain *dom = cancelled ? NULL : domain_lookup_id(&x->domains, a->domid);

	if (!dom || !dom->con || dom->pidfd < 0)
		release_upgraded(a->urh, a->fd);
	else if (console_attach(dom->con, a->fd, release_upgraded, a->urh, a->extra, a->extra_len) <
	         0)
		log_warn("domain '%s': too many console clients, refusing one", dom->cfg.name);
	free(a);
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct server *s = cls;
	struct request_ctx *ctx = con_cls;
	struct attach *a = malloc(sizeof(*a) + extra_in_size);

	(void)conn;
	if (!a) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	a->domid = ctx->console_domid;
	a->fd = sock;
	a->urh = urh;
	a->extra_len = extra_in_size;
	if (extra_in_size)
		memcpy(a->extra, extra_in, extra_in_size);
	daemon_post(s->x, attach_console, a);
}

static enum MHD_Result queue_upgrade(struct MHD_Connection *conn, struct server *s)
{
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, s);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "xeno-console");
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- Requests ---- */

static int run_job(struct xend *x, void *arg)
{
	struct job *j = arg;

	api_execute(x, j->req, j->resp);
	return 0;
}

static int run_finish(struct xend *x, void *arg)
{
	struct job *j = arg;

	api_finish(x, j->req, j->resp);
	return 0;
}

/*
 * A request with a long part (a save) runs it on this connection's thread, so the main
 * thread serves everyone else meanwhile, and then finishes on the main thread.
 */
static void offload(struct server *s, struct job *j)
{
	int r;

	api_offload(j->req, j->resp);
	r = daemon_call(s->x, run_finish, j);
	if (r < 0)
		api_error(j->resp, r, "xend is stopping");
}

static int check_wait(struct xend *x, void *arg)
{
	struct job *j = arg;

	j->seq = x->domains.seq;
	j->done = api_wait_done(x, j->req, j->resp, j->timed_out);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A response that waits (a shutdown with "wait", GET /v1/events): asks the main thread after
 * each change of the domain table whether it is over, and once more when the time is up.
 */
static void wait_for_change(struct server *s, struct job *j)
{
	long long deadline = now_ms() + (j->resp->wait_ms > 0 ? j->resp->wait_ms : API_WAIT_MAX_MS);

	for (;;) {
		long long left;
		int r = daemon_call(s->x, check_wait, j);

		if (r < 0) {
			api_error(j->resp, r, "xend is stopping");
			return;
		}
		if (j->done)
			return;
		left = deadline - now_ms();
		if (left <= 0) {
			j->timed_out = true;
			continue;
		}
		r = daemon_wait_change(s->x, j->seq, (int)left);
		if (r == -ESHUTDOWN) {
			api_error(j->resp, r, "xend is stopping");
			return;
		}
	}
}

struct args {
	struct api_arg v[MAX_ARGS];
	size_t n;
	bool overflow;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct args *a = cls;

	(void)kind;
	if (a->n == MAX_ARGS) {
		a->overflow = true;
		return MHD_NO;
	}
	a->v[a->n].key = key;
	a->v[a->n].value = value;
	a->n++;
	return MHD_YES;
}

static bool has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; p && *p;) {
		p += strspn(p, " \t,");
		if (strncasecmp(p, token, n) == 0 && strchr(" \t,", p[n]))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static enum MHD_Result answer(struct server *s, struct MHD_Connection *conn, const char *url,
                              const char *method, struct request_ctx *ctx)
{
	const char *conn_hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
	const char *upg = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	struct api_response resp = { 0 };
	struct api_request req;
	struct job j = { &req, &resp, false, false, 0 };
	struct api_input in = { 0 };
	struct args args = { .n = 0 };
	enum MHD_Result ret;
	int r;

	if (ctx->too_big)
		return queue_error(conn, -EMSGSIZE, "the body is over 1 MiB");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
	if (args.overflow)
		return queue_error(conn, -EINVAL, "too many query parameters");
	in.method = method;
	in.path = url;
	in.args = args.v;
	in.nr_args = args.n;
	in.body = ctx->body ? ctx->body : "";
	in.body_len = ctx->len;
	in.has_length = ctx->has_length;
	in.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	in.upgrade = conn_hdr && upg && has_token(conn_hdr, "upgrade") &&
	             strcasecmp(upg, "xeno-console") == 0;
	r = api_request_parse(&in, &req, &resp);
	if (r == 0) {
		r = daemon_call(s->x, run_job, &j);
		if (r < 0)
			api_error(&resp, r, "xend is stopping");
		else if (resp.wait)
			wait_for_change(s, &j);
		else if (resp.offload)
			offload(s, &j);
		api_request_fini(&req);
	}
	log_debug("%s %s: %u", method, url, resp.status);
	if (resp.upgrade && resp.status == 101) {
		ctx->console_domid = resp.console_domid;
		ret = queue_upgrade(conn, s);
	} else {
		ret = queue_json(conn, &resp);
	}
	api_response_fini(&resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct request_ctx *ctx = *con_cls;

	(void)version;
	if (!ctx) {
		const char *cl =
		        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		const char *te =
		        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");

		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		ctx->has_length = cl || (te && has_token(te, "chunked"));
		if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX) {
			/* Refused before a byte of it is read. */
			ctx->answered = true;
			return queue_error(conn, -EMSGSIZE, "the body is over 1 MiB");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (ctx->answered || ctx->too_big)
			return MHD_YES;
		if (ctx->len + n > API_BODY_MAX) {
			ctx->too_big = true;
			free(ctx->body);
			ctx->body = NULL;
			ctx->len = 0;
			return MHD_YES;
		}
		if (ctx->len + n > ctx->cap) {
			size_t cap = ctx->cap ? ctx->cap : 4096;
			char *b;

			while (cap < ctx->len + n)
				cap *= 2;
			b = realloc(ctx->body, cap);
			if (!b)
				return MHD_NO;
			ctx->body = b;
			ctx->cap = cap;
		}
		memcpy(ctx->body + ctx->len, upload_data, n);
		ctx->len += n;
		return MHD_YES;
	}
	if (ctx->answered)
		return MHD_YES;
	ctx->answered = true;
	return answer(cls, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct request_ctx *ctx = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (ctx) {
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	log_debug("http: %s", line);
}

int server_start(struct xend *x, int listen_fd, struct server **ret)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->x = x;
	s->listen_fd = listen_fd;
	s->mhd = MHD_start_daemon(
	        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_ALLOW_UPGRADE |
	                MHD_USE_ERROR_LOG,
	        0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned int)x->conf->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned int)x->conf->request_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	        s, MHD_OPTION_END);
	if (!s->mhd) {
		free(s);
		return -EIO;
	}
	*ret = s;
	return 0;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	/* libmicrohttpd closes the listening socket it was given. */
	MHD_stop_daemon(s->mhd);
	free(s);
}
