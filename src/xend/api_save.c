// SPDX-License-Identifier: GPL-2.0-only
/*
 * POST /v1/domains/DOM/save and POST /v1/restore: their body parsers (API threads; no daemon
 * state), the three steps of a save (main thread, then the VMM's long `save` on the API
 * thread, then the main thread again) and the restore, which reads the save file's header and
 * xend's record in it (src/common/savefile.h) before it starts anything.
 *
 * The save runs off the main thread because a VMM may write gigabytes: every other client
 * goes on being served meanwhile.  The restore runs on the main thread as a create does (its
 * VMM start is create's); the VMM checks the memory, so xend only reads the file's state.
 */
#include "xend/api.h"
#include "common/savefile.h"
#include "xend/daemon.h"
#include "xend/domain.h"
#include "xend/net_plan.h"
#include "xend/vmm_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A restore may take this long to load and check its file, besides a boot's minute. */
#define RESTORE_READY_MS        60000
#define RESTORE_MIB_PER_S_FLOOR 8 /* the slowest read we allow for (an emulated test host) */
#define RESTORE_READY_MAX_MS    (30 * 60 * 1000)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Parsers ---- */

/* An absolute path without control characters (the VMM's command is one line). */
static int take_path(struct json_object *v, char *buf, struct api_response *resp)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return api_error(resp, -EINVAL, "field 'path': expected a string, not %s",
		                 json_type_to_name(json_object_get_type(v)));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || s[0] != '/')
		return api_error(resp, -EINVAL,
		                 "field 'path': expected an absolute path, not '%.200s'", s);
	if (len > API_SAVE_PATH_MAX)
		return api_error(resp, -EINVAL, "field 'path': longer than %u bytes",
		                 API_SAVE_PATH_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return api_error(resp, -EINVAL,
			                 "field 'path': control characters are not allowed");
	if (s[len - 1] == '/')
		return api_error(resp, -EINVAL, "field 'path': '%.200s' names a directory", s);
	memcpy(buf, s, len + 1);
	return 0;
}

static int take_bool(struct json_object *v, const char *key, bool *ret, struct api_response *resp)
{
	if (!json_object_is_type(v, json_type_boolean))
		return api_error(resp, -EINVAL, "field '%s': expected true or false, not %s", key,
		                 json_type_to_name(json_object_get_type(v)));
	*ret = json_object_get_boolean(v);
	return 0;
}

static int take_name(struct json_object *v, char *buf, struct api_response *resp)
{
	const char *s = json_object_get_string(v);

	if (!json_object_is_type(v, json_type_string))
		return api_error(resp, -EINVAL, "field 'name': expected a string, not %s",
		                 json_type_to_name(json_object_get_type(v)));
	if (!domain_name_valid(s))
		return api_error(resp, -EINVAL,
		                 "field 'name': '%.80s' is not a domain name (1 to %u of "
		                 "[A-Za-z0-9_.-], not all digits, not Domain-0)",
		                 s, DOMAIN_NAME_MAX);
	snprintf(buf, DOMAIN_NAME_MAX + 1, "%s", s);
	return 0;
}

/* One field of a save or restore body into req->save. */
static int take_field(const char *key, struct json_object *v, struct api_save *sv,
                      struct api_response *resp)
{
	if (!strcmp(key, "path"))
		return take_path(v, sv->path, resp);
	if (!strcmp(key, "name"))
		return take_name(v, sv->name, resp);
	if (!strcmp(key, "checkpoint"))
		return take_bool(v, key, &sv->checkpoint, resp);
	if (!strcmp(key, "paused"))
		return take_bool(v, key, &sv->paused, resp);
	if (!strcmp(key, "fast"))
		return take_bool(v, key, &sv->fast, resp);
	return take_bool(v, key, &sv->copy, resp);
}

static int parse_body(const struct api_input *in, const char *const *keys, const char *expected,
                      struct api_save *sv, struct api_response *resp)
{
	struct json_object *obj = NULL;
	int r = api_parse_fields(in, keys, expected, &obj, resp);

	if (r < 0)
		return r;
	json_object_object_foreach(obj, key, val)
	{
		r = take_field(key, val, sv, resp);
		if (r < 0)
			break;
	}
	json_object_put(obj);
	if (r == 0 && !sv->path[0])
		r = api_error(resp, -EINVAL, "field 'path' is required");
	return r;
}

int api_save_parse(const struct api_input *in, struct api_request *req, struct api_response *resp)
{
	static const char *const keys[] = { "path", "checkpoint", NULL };

	return parse_body(in, keys, "path or checkpoint", &req->save, resp);
}

int api_restore_parse(const struct api_input *in, struct api_request *req,
                      struct api_response *resp)
{
	static const char *const keys[] = { "path", "paused", "name", "fast", "copy", NULL };

	return parse_body(in, keys, "path, paused, name, fast or copy", &req->save, resp);
}

/* ---- Save ---- */

/* The file's directory exists and the path is not one: a 400 now, not a VMM failure later. */
static int check_target(const char *path, struct api_response *resp)
{
	char dir[API_SAVE_PATH_MAX + 1];
	struct stat st;
	char *slash;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return api_error(resp, -EINVAL, "'%s' is a directory", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*(slash == dir ? slash + 1 : slash) = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return api_error(resp, -EINVAL, "cannot save to '%s': no directory '%s'", path,
		                 dir);
	return 0;
}

void api_save_start(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct api_save *sv = &req->save;
	struct domain *dom;
	char err[512];
	int r;

	if (!strcmp(req->dom, "0") || !strcmp(req->dom, "Domain-0")) {
		api_error(resp, -EPERM, "Domain-0 is the host: it cannot be saved");
		return;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom) {
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
		return;
	}
	if (check_target(sv->path, resp) < 0)
		return;
	r = domain_save_begin(dom, sv->meta, sizeof(sv->meta), err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	sv->domid = dom->id;
	snprintf(sv->control, sizeof(sv->control), "%s", dom->paths.control);
	sv->start_ms = now_ms();
	resp->offload = true;
}

/* API thread: the VMM's `save META PATH`, which pauses the vCPUs and writes the file. */
void api_save_call(struct api_request *req, struct api_response *resp)
{
	struct api_save *sv = &req->save;
	char *command = NULL;

	(void)resp;
	if (asprintf(&command, "save %s %s", sv->meta, sv->path) < 0) {
		sv->result = -ENOMEM;
		snprintf(sv->err, sizeof(sv->err), "out of memory");
		return;
	}
	sv->result = vmm_control_call(sv->control, command, API_SAVE_TIMEOUT_MS, &sv->reply,
	                              sv->err, sizeof(sv->err));
	free(command);
	if (sv->result < 0 && !sv->err[0])
		snprintf(sv->err, sizeof(sv->err), "%s", strerror(-sv->result));
}

static int64_t reply_int(struct json_object *reply, const char *key, int64_t fallback)
{
	struct json_object *v;

	return json_object_object_get_ex(reply, key, &v) ? json_object_get_int64(v) : fallback;
}

static void reply_saved(struct api_save *sv, struct api_response *resp)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	json_object_object_add(o, "path", json_object_new_string(sv->path));
	json_object_object_add(o, "file_bytes",
	                       json_object_new_int64(reply_int(sv->reply, "file_bytes", 0)));
	json_object_object_add(o, "memory_bytes",
	                       json_object_new_int64(reply_int(sv->reply, "memory_bytes", 0)));
	json_object_object_add(
	        o, "ms",
	        json_object_new_int64(reply_int(sv->reply, "ms", now_ms() - sv->start_ms)));
	api_reply(resp, 200, o);
}

void api_save_finish(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct api_save *sv = &req->save;
	struct json_object *v;
	bool was_paused = sv->reply && json_object_object_get_ex(sv->reply, "was_paused", &v) &&
	                  json_object_get_boolean(v);
	char err[1024];
	int r;

	snprintf(err, sizeof(err), "cannot save domain %u to '%.300s': %s", sv->domid, sv->path,
	         sv->err);
	r = domain_save_end(&x->domains, sv->domid, sv->meta, sv->path, sv->checkpoint, was_paused,
	                    sv->result, err, sizeof(err));
	if (r < 0)
		api_error(resp, r == -ETIMEDOUT || r == -ENOMEM ? r : -EIO, "%s", err);
	else
		reply_saved(sv, resp);
}

/* ---- Restore ---- */

/* savefile_open()'s refusal as the client's error: the file is bad, or missing. */
static int open_error(int r, const char *path, const char *msg, struct api_response *resp)
{
	int err = r == -ENOENT || r == -ENOMEM ? r : -EINVAL;

	return api_error(resp, err, "save file '%s': %s", path, msg[0] ? msg : strerror(-r));
}

/* The record xend kept in the file: its "config" and "network", and a sanity check. */
static int read_record(const struct savefile *sf, const char *path, struct domain_config *cfg,
                       struct net_plan *net, struct api_response *resp)
{
	struct json_object *rec = NULL, *c, *n;
	uint64_t len = 0;
	const char *text = savefile_section(sf, "domain", 0, &len);
	char err[512];
	int r;

	if (text && len <= API_BODY_MAX) {
		struct json_tokener *tok = json_tokener_new();

		rec = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
		json_tokener_free(tok);
	}
	if (!json_object_is_type(rec, json_type_object) ||
	    !json_object_object_get_ex(rec, "config", &c)) {
		json_object_put(rec);
		return api_error(resp, -EINVAL,
		                 "save file '%s' holds no domain record of xend's (saved by "
		                 "xeno-vmm alone?)",
		                 path);
	}
	r = domain_config_from_json(c, cfg, err, sizeof(err));
	if (r == 0 && json_object_object_get_ex(rec, "network", &n) &&
	    net_plan_from_json(n, net) < 0) {
		domain_config_fini(cfg);
		snprintf(err, sizeof(err), "its network is malformed");
		r = -EINVAL;
	}
	json_object_put(rec);
	if (r < 0)
		return api_error(resp, r == -ENOMEM ? r : -EINVAL,
		                 "save file '%s': its domain record: %s", path, err);
	return 0;
}

/*
 * The VMM would refuse a mismatch too; said here, it names the file's two halves.  The RAM
 * is maxmem's (the save wrote the RAM the VMM ran with there, domain_save_begin()).
 */
static int check_match(const struct savefile *sf, const struct domain_config *cfg, const char *path,
                       struct api_response *resp)
{
	uint64_t ram = cfg->maxmem_mib > cfg->memory_mib ? cfg->maxmem_mib : cfg->memory_mib;

	if (sf->hdr.mem_bytes != ram << 20 || sf->hdr.nr_vcpus != cfg->vcpus)
		return api_error(
		        resp, -EINVAL,
		        "save file '%s': its state (%llu MiB, %u vCPUs) does not match its "
		        "domain record (%u MiB, %u vCPUs)",
		        path, (unsigned long long)(sf->hdr.mem_bytes >> 20), sf->hdr.nr_vcpus,
		        (unsigned int)ram, cfg->vcpus);
	return 0;
}

static int ready_timeout_ms(const struct savefile *sf)
{
	uint64_t ms = RESTORE_READY_MS +
	              sf->hdr.mem_file_bytes / ((uint64_t)RESTORE_MIB_PER_S_FLOOR << 20) * 1000;

	return ms > RESTORE_READY_MAX_MS ? RESTORE_READY_MAX_MS : (int)ms;
}

static void restore(struct xend *x, struct api_save *sv, const struct savefile *sf,
                    struct domain_config *cfg, const struct net_plan *net,
                    struct api_response *resp)
{
	struct domain_restore rs = { sv->path, net,      sv->paused,
		                     sv->fast, sv->copy, ready_timeout_ms(sf) };
	struct domain *dom = NULL;
	char err[1024];
	int r;

	if (sv->name[0]) {
		char *name = strdup(sv->name);

		if (!name) {
			api_error(resp, -ENOMEM, "out of memory");
			return;
		}
		free(cfg->name);
		cfg->name = name;
	}
	r = domain_restore(&x->domains, cfg, &rs, &dom, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	api_reply(resp, 201, domain_to_json(dom, false));
	if (!resp->body)
		api_error(resp, -ENOMEM, "out of memory");
}

void api_restore(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct api_save *sv = &req->save;
	struct domain_config cfg;
	struct net_plan net;
	struct savefile sf;
	char msg[512] = "";
	int r;

	memset(&net, 0, sizeof(net));
	r = savefile_open(sv->path, &sf, msg, sizeof(msg));
	if (r < 0) {
		open_error(r, sv->path, msg, resp);
		return;
	}
	r = read_record(&sf, sv->path, &cfg, &net, resp);
	if (r == 0) {
		if (check_match(&sf, &cfg, sv->path, resp) == 0)
			restore(x, sv, &sf, &cfg, &net, resp);
		domain_config_fini(&cfg);
		net_plan_fini(&net);
	}
	savefile_close(&sf);
}
