// SPDX-License-Identifier: GPL-2.0-only
/*
 * libxeno's calls on domains and on the host: one small function per route of docs/api.md,
 * and the parser of a domain record into struct xeno_domain_info.
 *
 * Runs in the caller's thread.  Never prints, never exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static const char *const state_names[XENO_DOMAIN_STATE_COUNT] = {
	[XENO_DOMAIN_RUNNING] = "running",   [XENO_DOMAIN_PAUSED] = "paused",
	[XENO_DOMAIN_SHUTDOWN] = "shutdown", [XENO_DOMAIN_CRASHED] = "crashed",
	[XENO_DOMAIN_DYING] = "dying",       [XENO_DOMAIN_UNKNOWN] = "unknown",
};

const char *xeno_domain_state_name(enum xeno_domain_state state)
{
	if ((unsigned int)state >= XENO_DOMAIN_STATE_COUNT)
		return state_names[XENO_DOMAIN_UNKNOWN];
	return state_names[state];
}

static enum xeno_domain_state state_from_name(const char *name)
{
	for (int s = 0; s < XENO_DOMAIN_UNKNOWN; s++)
		if (!strcmp(state_names[s], name))
			return (enum xeno_domain_state)s;
	return XENO_DOMAIN_UNKNOWN;
}

/* A member that is a number (int or double); false if absent or of another type. */
static bool get_number(struct json_object *obj, const char *key, double *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return false;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*ret = json_object_get_double(v);
	return true;
}

static uint64_t get_u64(struct json_object *obj, const char *key)
{
	double d;

	if (!get_number(obj, key, &d) || d < 0 || d > 1e18)
		return 0;
	return (uint64_t)d;
}

static int record_fail(char **error, const char *msg)
{
	if (error)
		*error = strdup(msg);
	return -EINVAL;
}

static int info_from_object(struct json_object *obj, struct xeno_domain_info *ret, char **error)
{
	struct json_object *v, *console;
	double id;

	memset(ret, 0, sizeof(*ret));
	ret->console_tcp_port = -1;
	if (!json_object_is_type(obj, json_type_object))
		return record_fail(error, "a domain record is not a JSON object");
	if (!get_number(obj, "id", &id) || id < 0 || id > 4294967295.0)
		return record_fail(error, "a domain record has no valid \"id\"");
	ret->id = (unsigned int)id;
	if (!json_object_object_get_ex(obj, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return record_fail(error, "a domain record has no \"name\"");
	snprintf(ret->name, sizeof(ret->name), "%s", json_object_get_string(v));
	ret->state = XENO_DOMAIN_UNKNOWN;
	if (json_object_object_get_ex(obj, "state", &v) && json_object_is_type(v, json_type_string))
		ret->state = state_from_name(json_object_get_string(v));
	ret->blocked = json_object_object_get_ex(obj, "blocked", &v) &&
	               json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
	ret->memory_mib = get_u64(obj, "memory_mib");
	ret->maxmem_mib = get_u64(obj, "maxmem_mib");
	ret->vcpus = (unsigned int)get_u64(obj, "vcpus");
	if (!get_number(obj, "cpu_time_s", &ret->cpu_time_s) || ret->cpu_time_s < 0)
		ret->cpu_time_s = 0;
	if (!get_number(obj, "start_time", &ret->start_time))
		ret->start_time = 0;
	ret->vmm_pid = (int)get_u64(obj, "vmm_pid");
	if (json_object_object_get_ex(obj, "console", &console) &&
	    json_object_is_type(console, json_type_object)) {
		double port;

		if (json_object_object_get_ex(console, "log", &v) &&
		    json_object_is_type(v, json_type_string)) {
			ret->console_log = strdup(json_object_get_string(v));
			if (!ret->console_log)
				return record_fail(error, "out of memory");
		}
		if (get_number(console, "tcp_port", &port) && port > 0 && port < 65536)
			ret->console_tcp_port = (int)port;
	}
	return 0;
}

int xeno_domain_info_parse(const char *json, struct xeno_domain_info *ret, char **error)
{
	struct json_object *obj;
	int r;

	if (!ret)
		return record_fail(error, "no record to fill (NULL)");
	obj = json ? json_tokener_parse(json) : NULL;
	if (!obj) {
		memset(ret, 0, sizeof(*ret));
		ret->console_tcp_port = -1;
		return record_fail(error, "a domain record is not JSON");
	}
	r = info_from_object(obj, ret, error);
	json_object_put(obj);
	return r;
}

void xeno_domain_info_fini(struct xeno_domain_info *info)
{
	if (!info)
		return;
	free(info->console_log);
	info->console_log = NULL;
}

void xeno_domain_list_free(struct xeno_domain_info *list, size_t count)
{
	if (!list)
		return;
	for (size_t i = 0; i < count; i++)
		xeno_domain_info_fini(&list[i]);
	free(list);
}

/* Parses a record xend sent; a bad one is xend's fault: -EBADMSG with the reason on h. */
static int info_from_answer(struct xeno *h, struct json_object *obj, struct xeno_domain_info *ret)
{
	char *error = NULL;
	int r;

	r = info_from_object(obj, ret, &error);
	if (r < 0) {
		r = client_fail(h, -EBADMSG, "xend sent a bad record: %s",
		                error ? error : "out of memory");
		free(error);
		xeno_domain_info_fini(ret);
	}
	return r;
}

int xeno_domain_list(struct xeno *h, struct xeno_domain_info **ret, size_t *ret_count)
{
	struct xeno_domain_info *list;
	struct json_object *arr;
	size_t n;
	int r;

	if (!h)
		return -EINVAL;
	if (!ret || !ret_count)
		return client_fail(h, -EINVAL,
		                   "xeno_domain_list needs places for the list and count");
	r = client_request_parsed(h, "GET", "/v1/domains", NULL, CLIENT_TIMEOUT_MS, json_type_array,
	                          &arr);
	if (r < 0)
		return r;
	n = json_object_array_length(arr);
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		json_object_put(arr);
		return client_fail(h, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		r = info_from_answer(h, json_object_array_get_idx(arr, i), &list[i]);
		if (r < 0) {
			xeno_domain_list_free(list, i);
			json_object_put(arr);
			return r;
		}
	}
	json_object_put(arr);
	*ret = list;
	*ret_count = n;
	return 0;
}

int xeno_domain_list_json(struct xeno *h, char **ret_json)
{
	return client_request(h, "GET", "/v1/domains", NULL, CLIENT_TIMEOUT_MS, ret_json);
}

/* One request on /v1/domains/DOM + suffix. */
static int domain_request(struct xeno *h, const char *method, const char *dom, const char *suffix,
                          const char *body, long timeout_ms, char **ret_json)
{
	char *path;
	int r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!dom)
		return client_fail(h, -EINVAL, "no domain given (NULL)");
	path = client_domain_path(dom, suffix);
	if (!path)
		return client_fail(h, -ENOMEM, "out of memory");
	r = client_request(h, method, path, body, timeout_ms, ret_json);
	free(path);
	return r;
}

int xeno_domain_get_json(struct xeno *h, const char *dom, char **ret_json)
{
	return domain_request(h, "GET", dom, "", NULL, CLIENT_TIMEOUT_MS, ret_json);
}

/* Parses an answer that must be a record. */
static int info_from_text(struct xeno *h, const char *text, struct xeno_domain_info *ret)
{
	struct json_object *obj;
	int r;

	obj = json_tokener_parse(text);
	if (!obj) {
		memset(ret, 0, sizeof(*ret));
		return client_fail(h, -EBADMSG, "xend sent a record that is not JSON");
	}
	r = info_from_answer(h, obj, ret);
	json_object_put(obj);
	return r;
}

int xeno_domain_get(struct xeno *h, const char *dom, struct xeno_domain_info *ret)
{
	char *text;
	int r;

	if (h && !ret)
		return client_fail(h, -EINVAL, "xeno_domain_get needs a record to fill");
	r = xeno_domain_get_json(h, dom, &text);
	if (r < 0)
		return r;
	r = info_from_text(h, text, ret);
	free(text);
	return r;
}

int xeno_domain_create(struct xeno *h, const char *config_json, bool paused,
                       struct xeno_domain_info *ret_info)
{
	const char *body = config_json;
	struct json_object *config = NULL;
	char *text = NULL;
	int r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!config_json)
		return client_fail(h, -EINVAL, "no domain config given (NULL)");
	if (paused) {
		config = json_tokener_parse(config_json);
		if (!config || !json_object_is_type(config, json_type_object)) {
			json_object_put(config);
			return client_fail(h, -EINVAL, "the domain config is not a JSON object");
		}
		if (json_object_object_add(config, "start_paused", json_object_new_boolean(1)) <
		    0) {
			json_object_put(config);
			return client_fail(h, -ENOMEM, "out of memory");
		}
		body = json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN);
	}
	r = client_request(h, "POST", "/v1/domains", body, CLIENT_TIMEOUT_MS,
	                   ret_info ? &text : NULL);
	json_object_put(config);
	if (r < 0 || !ret_info)
		return r;
	r = info_from_text(h, text, ret_info);
	free(text);
	return r;
}

int xeno_domain_pause(struct xeno *h, const char *dom)
{
	return domain_request(h, "POST", dom, "/pause", NULL, CLIENT_TIMEOUT_MS, NULL);
}

int xeno_domain_unpause(struct xeno *h, const char *dom)
{
	return domain_request(h, "POST", dom, "/unpause", NULL, CLIENT_TIMEOUT_MS, NULL);
}

int xeno_domain_destroy(struct xeno *h, const char *dom)
{
	return domain_request(h, "DELETE", dom, "", NULL, CLIENT_TIMEOUT_MS, NULL);
}

int xeno_domain_shutdown(struct xeno *h, const char *dom, bool reboot, bool wait)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"reboot\": %s, \"wait\": %s}", reboot ? "true" : "false",
	         wait ? "true" : "false");
	return domain_request(h, "POST", dom, "/shutdown", body, wait ? 0 : CLIENT_TIMEOUT_MS,
	                      NULL);
}

int xeno_host_info_json(struct xeno *h, char **ret_json)
{
	return client_request(h, "GET", "/v1/host", NULL, CLIENT_TIMEOUT_MS, ret_json);
}

int xeno_version_json(struct xeno *h, char **ret_json)
{
	return client_request(h, "GET", "/v1/version", NULL, CLIENT_TIMEOUT_MS, ret_json);
}

int xeno_log_lines(struct xeno *h, unsigned int lines, char **ret_json)
{
	char path[64];

	snprintf(path, sizeof(path), "/v1/log?lines=%u", lines);
	return client_request(h, "GET", path, NULL, CLIENT_TIMEOUT_MS, ret_json);
}

/* GET /v1/domains/DOM/WHAT: one of a domain's resources. */
static int domain_get(struct xeno *h, const char *dom, const char *what, char **ret_json)
{
	char *esc, *path = NULL;
	int r;

	if (!h)
		return -EINVAL;
	if (!dom)
		return client_fail(h, -EINVAL, "no domain given (NULL)");
	esc = xeno_path_escape(dom);
	if (!esc || asprintf(&path, "/v1/domains/%s/%s", esc, what) < 0) {
		free(esc);
		return client_fail(h, -ENOMEM, "out of memory");
	}
	free(esc);
	r = client_request(h, "GET", path, NULL, CLIENT_TIMEOUT_MS, ret_json);
	free(path);
	return r;
}

int xeno_domain_network_json(struct xeno *h, const char *dom, char **ret_json)
{
	return domain_get(h, dom, "network", ret_json);
}

int xeno_domain_block_json(struct xeno *h, const char *dom, char **ret_json)
{
	return domain_get(h, dom, "block", ret_json);
}

int xeno_domain_vcpus_json(struct xeno *h, const char *dom, char **ret_json)
{
	return domain_get(h, dom, "vcpus", ret_json);
}

int xeno_domain_vcpu_pin(struct xeno *h, const char *dom, unsigned int vcpu, const char *cpus)
{
	struct json_object *body;
	int r;

	if (h && !cpus)
		return client_fail(h, -EINVAL, "no CPU list given (NULL)");
	body = json_object_new_object();
	if (!body || json_object_object_add(body, "vcpu", json_object_new_int64(vcpu)) < 0 ||
	    json_object_object_add(body, "cpus", json_object_new_string(cpus ? cpus : "")) < 0) {
		json_object_put(body);
		return h ? client_fail(h, -ENOMEM, "out of memory") : -EINVAL;
	}
	r = domain_request(h, "POST", dom, "/vcpu-pin",
	                   json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
	                   CLIENT_TIMEOUT_MS, NULL);
	json_object_put(body);
	return r;
}

int xeno_domain_sched_json(struct xeno *h, const char *dom, char **ret_json)
{
	return domain_get(h, dom, "sched", ret_json);
}

int xeno_domain_sched_set(struct xeno *h, const char *dom, unsigned int weight, int cap)
{
	char body[96];
	int n = 0;

	n += snprintf(body + n, sizeof(body) - (size_t)n, "{");
	if (weight)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "\"weight\": %u", weight);
	if (cap >= 0)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"cap\": %d",
		              weight ? ", " : "", cap);
	snprintf(body + n, sizeof(body) - (size_t)n, "}");
	return domain_request(h, "PUT", dom, "/sched", body, CLIENT_TIMEOUT_MS, NULL);
}

/* PUT {"key": value} to the domain's sub-resource. */
static int put_one_uint(struct xeno *h, const char *dom, const char *sub, const char *key,
                        unsigned int value)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"%s\": %u}", key, value);
	return domain_request(h, "PUT", dom, sub, body, CLIENT_TIMEOUT_MS, NULL);
}

int xeno_domain_mem_set(struct xeno *h, const char *dom, unsigned int target_mib)
{
	return put_one_uint(h, dom, "/memory", "target_mib", target_mib);
}

int xeno_domain_mem_max(struct xeno *h, const char *dom, unsigned int maxmem_mib)
{
	return put_one_uint(h, dom, "/maxmem", "maxmem_mib", maxmem_mib);
}

int xeno_nat_json(struct xeno *h, char **ret_json)
{
	return client_request(h, "GET", "/v1/host/nat", NULL, CLIENT_TIMEOUT_MS, ret_json);
}

int xeno_nat_set(struct xeno *h, bool enabled, char **ret_json)
{
	return client_request(h, "PUT", "/v1/host/nat",
	                      enabled ? "{\"enabled\": true}" : "{\"enabled\": false}",
	                      CLIENT_TIMEOUT_MS, ret_json);
}

/* ---- Save and restore ---- */

/* A save writes the whole RAM a domain touched: as long as xend lets its VMM take, and more. */
#define CLIENT_SAVE_TIMEOUT_MS (35 * 60 * 1000)

int xeno_domain_save(struct xeno *h, const char *dom, const char *path, unsigned int flags,
                     struct xeno_save_info *ret_info)
{
	struct json_object *body, *answer = NULL;
	char *text = NULL;
	int r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!path)
		return client_fail(h, -EINVAL, "no save file given (NULL)");
	if (flags & ~XENO_SAVE_CHECKPOINT)
		return client_fail(h, -EINVAL, "unknown save flags 0x%x", flags);
	body = json_object_new_object();
	if (!body || json_object_object_add(body, "path", json_object_new_string(path)) < 0 ||
	    json_object_object_add(body, "checkpoint",
	                           json_object_new_boolean(flags & XENO_SAVE_CHECKPOINT)) < 0) {
		json_object_put(body);
		return client_fail(h, -ENOMEM, "out of memory");
	}
	r = domain_request(h, "POST", dom, "/save",
	                   json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
	                   CLIENT_SAVE_TIMEOUT_MS, &text);
	json_object_put(body);
	if (r < 0)
		return r;
	answer = json_tokener_parse(text);
	free(text);
	if (!json_object_is_type(answer, json_type_object)) {
		json_object_put(answer);
		return client_fail(h, -EBADMSG, "xend's answer to a save is not a JSON object");
	}
	if (ret_info) {
		ret_info->file_bytes = get_u64(answer, "file_bytes");
		ret_info->memory_bytes = get_u64(answer, "memory_bytes");
		ret_info->ms = get_u64(answer, "ms");
	}
	json_object_put(answer);
	return 0;
}

static struct json_object *restore_body(const char *path, const struct xeno_restore_opts *opts)
{
	struct json_object *body = json_object_new_object();
	int r;

	if (!body)
		return NULL;
	r = json_object_object_add(body, "path", json_object_new_string(path));
	if (opts) {
		r = r
		            ?: json_object_object_add(body, "paused",
		                                      json_object_new_boolean(opts->paused));
		r = r ?: json_object_object_add(body, "fast", json_object_new_boolean(opts->fast));
		r = r ?: json_object_object_add(body, "copy", json_object_new_boolean(opts->copy));
		if (opts->name)
			r = r
			            ?: json_object_object_add(body, "name",
			                                      json_object_new_string(opts->name));
	}
	if (r < 0) {
		json_object_put(body);
		return NULL;
	}
	return body;
}

int xeno_domain_restore(struct xeno *h, const char *path, const struct xeno_restore_opts *opts,
                        struct xeno_domain_info *ret_info)
{
	struct json_object *body;
	char *text = NULL;
	int r;

	if (!h)
		return -EINVAL;
	client_clear(h);
	if (!path)
		return client_fail(h, -EINVAL, "no save file given (NULL)");
	body = restore_body(path, opts);
	if (!body)
		return client_fail(h, -ENOMEM, "out of memory");
	r = client_request(h, "POST", "/v1/restore",
	                   json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
	                   CLIENT_SAVE_TIMEOUT_MS, ret_info ? &text : NULL);
	json_object_put(body);
	if (r < 0 || !ret_info)
		return r;
	r = info_from_text(h, text, ret_info);
	free(text);
	return r;
}
