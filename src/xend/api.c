// SPDX-License-Identifier: GPL-2.0-only
/*
 * The route table of xend's API and the one errno -> status table.  A route is a row: method,
 * path pattern ({dom} matches one segment), the parser of its body or query, the function
 * that executes it, and flags.  404 and 405 answers, the Allow header and the docs/api.md
 * coverage test all come from the same rows.  Parsing runs on the API threads (or a fuzzer);
 * execution on the main thread.
 */
#include "xend/api.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTE_ARGS          0x1 /* takes query parameters (its parser reads them) */
#define ROUTE_BODY_REQUIRED 0x2 /* a body must be announced (411 otherwise) */

typedef int (*route_parse_fn)(const struct api_input *in, struct api_request *req,
                              struct api_response *resp);
typedef void (*route_exec_fn)(struct xend *x, struct api_request *req, struct api_response *resp);
typedef void (*route_offload_fn)(struct api_request *req, struct api_response *resp);

struct api_route {
	const char *method;
	const char *pattern;
	route_parse_fn parse; /* NULL: no body, no query */
	route_exec_fn exec;
	unsigned int flags;
	/* A long part run off the main thread when exec asks for it, and its end on it: */
	route_offload_fn offload;
	route_exec_fn finish;
};

static const struct api_route routes[] = {
	{ "GET", "/v1/version", NULL, api_host_version, 0 },
	{ "GET", "/v1/host", NULL, api_host_info, 0 },
	{ "GET", "/v1/log", api_host_parse_log, api_host_log, ROUTE_ARGS },
	{ "GET", "/v1/events", api_events_parse, api_events_get, ROUTE_ARGS },
	{ "GET", "/v1/domains", NULL, api_domain_list, 0 },
	{ "POST", "/v1/domains", api_domain_parse_create, api_domain_create, ROUTE_BODY_REQUIRED },
	{ "GET", "/v1/domains/{dom}", NULL, api_domain_get, 0 },
	{ "DELETE", "/v1/domains/{dom}", NULL, api_domain_destroy, 0 },
	{ "POST", "/v1/domains/{dom}/pause", api_parse_no_body, api_domain_pause, 0 },
	{ "POST", "/v1/domains/{dom}/unpause", api_parse_no_body, api_domain_unpause, 0 },
	{ "POST", "/v1/domains/{dom}/shutdown", api_domain_parse_shutdown, api_domain_shutdown, 0 },
	{ "POST", "/v1/domains/{dom}/reboot", api_domain_parse_reboot, api_domain_shutdown, 0 },
	{ "GET", "/v1/domains/{dom}/console", api_domain_parse_console, api_domain_console, 0 },
	{ "GET", "/v1/domains/{dom}/network", NULL, api_net_domain, 0 },
	{ "GET", "/v1/domains/{dom}/block", NULL, api_block_domain, 0 },
	{ "GET", "/v1/domains/{dom}/vcpus", NULL, api_cpu_vcpus, 0 },
	{ "GET", "/v1/domains/{dom}/stats", NULL, api_stats_domain, 0 },
	{ "GET", "/v1/stats", NULL, api_stats_all, 0 },
	{ "GET", "/metrics", NULL, api_stats_metrics, 0 },
	{ "POST", "/v1/domains/{dom}/vcpu-pin", api_cpu_parse_pin, api_cpu_pin,
	  ROUTE_BODY_REQUIRED },
	{ "GET", "/v1/domains/{dom}/sched", NULL, api_cpu_sched_get, 0 },
	{ "PUT", "/v1/domains/{dom}/memory", api_cpu_parse_memory, api_cpu_memory,
	  ROUTE_BODY_REQUIRED },
	{ "PUT", "/v1/domains/{dom}/maxmem", api_cpu_parse_maxmem, api_cpu_maxmem,
	  ROUTE_BODY_REQUIRED },
	{ "PUT", "/v1/domains/{dom}/sched", api_cpu_parse_sched, api_cpu_sched_put,
	  ROUTE_BODY_REQUIRED },
	{ "GET", "/v1/host/nat", NULL, api_net_nat_get, 0 },
	{ "PUT", "/v1/host/nat", api_net_parse_nat, api_net_nat_put, ROUTE_BODY_REQUIRED },
	{ "POST", "/v1/domains/{dom}/save", api_save_parse, api_save_start, ROUTE_BODY_REQUIRED,
	  api_save_call, api_save_finish },
	{ "POST", "/v1/restore", api_restore_parse, api_restore, ROUTE_BODY_REQUIRED },
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

size_t api_route_count(void)
{
	return ROUTE_COUNT;
}

void api_route_info(size_t i, const char **ret_method, const char **ret_pattern)
{
	*ret_method = i < ROUTE_COUNT ? routes[i].method : NULL;
	*ret_pattern = i < ROUTE_COUNT ? routes[i].pattern : NULL;
}

/* ---- Errors ---- */

static const struct {
	int err;
	const char *name;
	unsigned int status;
} errnos[] = {
	{ EINVAL, "EINVAL", 400 },
	{ EBADMSG, "EBADMSG", 400 },
	{ ERANGE, "ERANGE", 400 },
	{ EPERM, "EPERM", 403 },
	{ EACCES, "EACCES", 403 },
	{ ENOENT, "ENOENT", 404 },
	{ EOPNOTSUPP, "EOPNOTSUPP", 405 },
	{ EEXIST, "EEXIST", 409 },
	{ EBUSY, "EBUSY", 409 },
	{ EALREADY, "EALREADY", 409 },
	{ ENODATA, "ENODATA", 411 },
	{ EMSGSIZE, "EMSGSIZE", 413 },
	{ EMEDIUMTYPE, "EMEDIUMTYPE", 415 },
	{ ENOMEM, "ENOMEM", 507 },
	{ ENOSPC, "ENOSPC", 507 },
	{ ENODEV, "ENODEV", 400 },
	{ EIO, "EIO", 500 },
	{ ENAMETOOLONG, "ENAMETOOLONG", 500 },
	{ ESHUTDOWN, "ESHUTDOWN", 503 },
	{ ETIMEDOUT, "ETIMEDOUT", 504 },
};

#define ERRNO_COUNT (sizeof(errnos) / sizeof(errnos[0]))

unsigned int api_status_of(int err)
{
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		if (errnos[i].err == -err)
			return errnos[i].status;
	return 500;
}

const char *api_errno_name(int err)
{
	for (size_t i = 0; i < ERRNO_COUNT; i++)
		if (errnos[i].err == -err)
			return errnos[i].name;
	return "EIO";
}

void api_reply(struct api_response *resp, unsigned int status, struct json_object *body)
{
	free(resp->text);
	resp->text = NULL;
	json_object_put(resp->body);
	resp->status = status;
	resp->body = body;
}

int api_error(struct api_response *resp, int err, const char *fmt, ...)
{
	struct json_object *body = json_object_new_object(), *e = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (body && e) {
		json_object_object_add(e, "code", json_object_new_string(api_errno_name(err)));
		json_object_object_add(e, "message", json_object_new_string(msg));
		json_object_object_add(body, "error", e);
		e = NULL;
	}
	json_object_put(e);
	api_reply(resp, api_status_of(err), body);
	return err;
}

void api_response_fini(struct api_response *resp)
{
	json_object_put(resp->body);
	resp->body = NULL;
	free(resp->text);
	resp->text = NULL;
}

/* ---- Matching ---- */

/*
 * Matches path against pattern.  A {dom} segment is copied to dom (API_DOM_MAX + 1 bytes);
 * if it is longer, *ret_long points at it in path and dom is left alone.
 */
static bool match(const char *pattern, const char *path, char *dom, const char **ret_long)
{
	*ret_long = NULL;
	while (*pattern && *path) {
		size_t plen = strcspn(pattern + 1, "/") + 1, len = strcspn(path + 1, "/") + 1;

		if (*pattern != '/' || *path != '/')
			return false;
		if (plen == 6 && strncmp(pattern, "/{dom}", 6) == 0) {
			if (len < 2)
				return false;
			if (len - 1 > API_DOM_MAX) {
				*ret_long = path + 1;
			} else {
				memcpy(dom, path + 1, len - 1);
				dom[len - 1] = 0;
			}
		} else if (plen != len || strncmp(pattern, path, len) != 0) {
			return false;
		}
		pattern += plen;
		path += len;
	}
	return !*pattern && !*path;
}

static bool json_type_ok(const char *content_type)
{
	size_t n = strlen("application/json");

	return !content_type ||
	       (strncasecmp(content_type, "application/json", n) == 0 &&
	        (content_type[n] == 0 || content_type[n] == ';' || content_type[n] == ' '));
}

/* Which route in the table, or a 404/405 answer. */
static const struct api_route *find_route(const struct api_input *in, struct api_request *req,
                                          struct api_response *resp)
{
	char allow[64] = "", dom[API_DOM_MAX + 1];
	const char *too_long;
	bool path_known = false;

	for (size_t i = 0; i < ROUTE_COUNT; i++) {
		if (!match(routes[i].pattern, in->path, dom, &too_long))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, in->method) == 0) {
			if (too_long) {
				api_error(resp, -ENOENT,
				          "no domain '%.*s...' (names have at most %u "
				          "characters)",
				          API_DOM_MAX, too_long, API_DOM_MAX);
				return NULL;
			}
			memcpy(req->dom, dom, sizeof(req->dom));
			return &routes[i];
		}
		if (!strstr(allow, routes[i].method))
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
			         allow[0] ? ", " : "", routes[i].method);
	}
	if (!path_known) {
		api_error(resp, -ENOENT, "no route '%.200s' (see docs/api.md)", in->path);
		return NULL;
	}
	api_error(resp, -EOPNOTSUPP, "'%.200s' does not take %.16s (allowed: %s)", in->path,
	          in->method, allow);
	snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
	return NULL;
}

int api_request_parse(const struct api_input *in, struct api_request *req,
                      struct api_response *resp)
{
	const struct api_route *route;
	int r;

	memset(req, 0, sizeof(*req));
	route = find_route(in, req, resp);
	if (!route)
		return resp->status == 405 ? -EOPNOTSUPP : -ENOENT;
	req->route = route;
	if (in->nr_args && !(route->flags & ROUTE_ARGS))
		return api_error(resp, -EINVAL, "unknown query parameter '%.64s' (%s takes none)",
		                 in->args[0].key, route->pattern);
	if (in->body_len > API_BODY_MAX)
		return api_error(resp, -EMSGSIZE, "the body is over %u bytes", API_BODY_MAX);
	if ((route->flags & ROUTE_BODY_REQUIRED) && !in->has_length)
		return api_error(resp, -ENODATA,
		                 "%s %s needs a body with a Content-Length (or chunked)",
		                 route->method, route->pattern);
	if (in->body_len && !json_type_ok(in->content_type))
		return api_error(resp, -EMEDIUMTYPE,
		                 "the body is '%.64s', expected application/json",
		                 in->content_type);
	if (!route->parse)
		r = api_parse_no_body(in, req, resp);
	else
		r = route->parse(in, req, resp);
	if (r < 0)
		api_request_fini(req);
	return r;
}

void api_request_fini(struct api_request *req)
{
	if (req->has_config)
		domain_config_fini(&req->config);
	req->has_config = false;
	json_object_put(req->save.reply);
	req->save.reply = NULL;
}

void api_execute(struct xend *x, struct api_request *req, struct api_response *resp)
{
	req->route->exec(x, req, resp);
	if (resp->offload && !req->route->offload)
		resp->offload = false;
}

void api_offload(struct api_request *req, struct api_response *resp)
{
	req->route->offload(req, resp);
}

void api_finish(struct xend *x, struct api_request *req, struct api_response *resp)
{
	req->route->finish(x, req, resp);
}

bool api_wait_done(struct xend *x, struct api_request *req, struct api_response *resp,
                   bool timed_out)
{
	if (req->route->exec == api_events_get)
		return api_events_wait_done(x, req, resp, timed_out);
	if (api_domain_wait_done(x, req, resp))
		return true;
	if (timed_out)
		api_error(resp, -ETIMEDOUT, "domain %u did not shut down within %d s",
		          resp->wait_domid, API_WAIT_MAX_MS / 1000);
	return timed_out;
}

/* ---- Body helpers shared by the handlers ---- */

int api_parse_fields(const struct api_input *in, const char *const *keys, const char *expected,
                     struct json_object **ret, struct api_response *resp)
{
	int r = api_parse_json(in, ret, resp);

	if (r < 0)
		return r;
	json_object_object_foreach(*ret, key, val)
	{
		size_t i = 0;

		(void)val;
		while (keys[i] && strcmp(keys[i], key) != 0)
			i++;
		if (!keys[i]) {
			r = api_error(resp, -EINVAL, "unknown field '%.64s' (expected %s)", key,
			              expected);
			json_object_put(*ret);
			*ret = NULL;
			return r;
		}
	}
	return 0;
}

int api_parse_json(const struct api_input *in, struct json_object **ret, struct api_response *resp)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t off;

	if (in->body_len == 0)
		return api_error(resp, -EINVAL, "the body is empty (expected a JSON object)");
	if (memchr(in->body, 0, in->body_len))
		return api_error(resp, -EINVAL, "the body holds a NUL byte (expected JSON text)");
	tok = json_tokener_new_ex(32);
	if (!tok)
		return api_error(resp, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
	                                    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, in->body, (int)in->body_len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return api_error(resp, -EINVAL, "the JSON body ends early (at byte %zu)",
		                 in->body_len);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		return api_error(resp, -EINVAL, "malformed JSON at byte %zu: %s", off,
		                 json_tokener_error_desc(jerr));
	}
	/* Whitespace may follow the value; nothing else may. */
	for (; off < in->body_len; off++) {
		if (!strchr(" \t\r\n", in->body[off])) {
			json_object_put(obj);
			return api_error(resp, -EINVAL,
			                 "trailing data after the JSON value at byte %zu", off);
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		int r = api_error(resp, -EINVAL, "expected a JSON object, not %s",
		                  json_type_to_name(json_object_get_type(obj)));

		json_object_put(obj);
		return r;
	}
	*ret = obj;
	return 0;
}

int api_parse_no_body(const struct api_input *in, struct api_request *req,
                      struct api_response *resp)
{
	struct json_object *obj = NULL;
	int r;

	(void)req;
	if (in->body_len == 0)
		return 0;
	r = api_parse_json(in, &obj, resp);
	if (r < 0)
		return r;
	/* An empty object is the same as no body; anything in it is unknown here. */
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		r = api_error(resp, -EINVAL, "unknown field '%.64s' (this request takes no fields)",
		              key);
		break;
	}
	json_object_put(obj);
	return r;
}
