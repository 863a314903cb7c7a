// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /v1/domains routes: parsers (API threads; no daemon state) and executors (main thread,
 * through daemon_call), one pair per row of the route table in api.c.  Domain-0 can be read
 * but every operation on it is refused.
 */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/domain.h"
#include "xend/host.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Parsers ---- */

int api_domain_parse_create(const struct api_input *in, struct api_request *req,
                            struct api_response *resp)
{
	struct json_object *obj = NULL;
	char err[512];
	int r = api_parse_json(in, &obj, resp);

	if (r < 0)
		return r;
	r = domain_config_from_json(obj, &req->config, err, sizeof(err));
	json_object_put(obj);
	if (r < 0)
		return api_error(resp, r, "%s", r == -ENOMEM ? "out of memory" : err);
	req->has_config = true;
	return 0;
}

/* Reads the optional booleans of a shutdown or reboot body. */
static int parse_flags(const struct api_input *in, struct api_request *req,
                       struct api_response *resp, bool reboot_allowed)
{
	struct json_object *obj = NULL;
	int r;

	if (in->body_len == 0)
		return 0;
	r = api_parse_json(in, &obj, resp);
	if (r < 0)
		return r;
	json_object_object_foreach(obj, key, val)
	{
		bool *slot = NULL;

		if (strcmp(key, "wait") == 0)
			slot = &req->wait;
		else if (strcmp(key, "reboot") == 0 && reboot_allowed)
			slot = &req->reboot;
		if (!slot) {
			r = api_error(resp, -EINVAL, "unknown field '%.64s' (expected %s)", key,
			              reboot_allowed ? "reboot or wait" : "wait");
			break;
		}
		if (!json_object_is_type(val, json_type_boolean)) {
			r = api_error(resp, -EINVAL, "field '%s': expected true or false, not %s",
			              key, json_type_to_name(json_object_get_type(val)));
			break;
		}
		*slot = json_object_get_boolean(val);
	}
	json_object_put(obj);
	return r;
}

int api_domain_parse_shutdown(const struct api_input *in, struct api_request *req,
                              struct api_response *resp)
{
	return parse_flags(in, req, resp, true);
}

int api_domain_parse_reboot(const struct api_input *in, struct api_request *req,
                            struct api_response *resp)
{
	req->reboot = true;
	return parse_flags(in, req, resp, false);
}

int api_domain_parse_console(const struct api_input *in, struct api_request *req,
                             struct api_response *resp)
{
	int r = api_parse_no_body(in, req, resp);

	if (r < 0)
		return r;
	if (!in->upgrade)
		return api_error(resp, -EINVAL,
		                 "the console needs 'Connection: Upgrade' and "
		                 "'Upgrade: xeno-console' headers");
	return 0;
}

/* ---- Executors (main thread) ---- */

static bool is_dom0(const char *dom)
{
	return strcmp(dom, "0") == 0 || strcmp(dom, "Domain-0") == 0;
}

/* The domain a request names; NULL with resp set (404, or 403 for Domain-0). */
static struct domain *resolve(struct xend *x, struct api_request *req, struct api_response *resp,
                              const char *op)
{
	struct domain *dom;

	if (is_dom0(req->dom)) {
		api_error(resp, -EPERM, "Domain-0 is the host: it cannot be %s", op);
		return NULL;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom)
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
	return dom;
}

static struct json_object *dom0_json(void)
{
	struct json_object *o = json_object_new_object();
	struct host_mem mem = { 0, 0 };

	if (!o)
		return NULL;
	if (host_meminfo(&mem) < 0)
		mem.total_mib = mem.available_mib = 0;
	json_object_object_add(o, "id", json_object_new_int64(0));
	json_object_object_add(o, "name", json_object_new_string("Domain-0"));
	json_object_object_add(o, "state", json_object_new_string("running"));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)mem.total_mib));
	json_object_object_add(o, "maxmem_mib", json_object_new_int64((int64_t)mem.total_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64(host_cpus()));
	json_object_object_add(o, "cpu_time_s", json_object_new_double(host_cpu_time_s()));
	json_object_object_add(o, "start_time", json_object_new_double(host_boot_time()));
	return o;
}

static void reply_record(struct api_response *resp, unsigned int status, struct json_object *rec)
{
	if (!rec) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	api_reply(resp, status, rec);
}

void api_domain_list(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *a = json_object_new_array();

	(void)req;
	if (!a) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	json_object_array_add(a, dom0_json());
	for (struct domain *d = x->domains.list; d; d = d->next)
		json_object_array_add(a, domain_to_json(d, true));
	api_reply(resp, 200, a);
}

void api_domain_get(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom;

	if (is_dom0(req->dom)) {
		reply_record(resp, 200, dom0_json());
		return;
	}
	dom = resolve(x, req, resp, "read");
	if (dom)
		reply_record(resp, 200, domain_to_json(dom, true));
}

void api_domain_create(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = NULL;
	char err[1024];
	int r = domain_create(&x->domains, &req->config, &dom, err, sizeof(err));

	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	reply_record(resp, 201, domain_to_json(dom, false));
}

void api_domain_destroy(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *rec = NULL;
	struct domain *dom = resolve(x, req, resp, "destroyed");

	if (!dom)
		return;
	domain_destroy(dom, &rec);
	reply_record(resp, 200, rec);
}

static void simple_op(struct xend *x, struct api_request *req, struct api_response *resp,
                      int (*op)(struct domain *dom, char *err, size_t errlen), const char *what)
{
	struct domain *dom = resolve(x, req, resp, what);
	char err[512];
	int r;

	if (!dom)
		return;
	r = op(dom, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	reply_record(resp, 200, domain_to_json(dom, false));
}

void api_domain_pause(struct xend *x, struct api_request *req, struct api_response *resp)
{
	simple_op(x, req, resp, domain_pause, "paused");
}

void api_domain_unpause(struct xend *x, struct api_request *req, struct api_response *resp)
{
	simple_op(x, req, resp, domain_unpause, "unpaused");
}

void api_domain_shutdown(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = resolve(x, req, resp, req->reboot ? "rebooted" : "shut down");
	char err[512];
	int r;

	if (!dom)
		return;
	r = domain_shutdown(dom, req->reboot, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	reply_record(resp, 200, domain_to_json(dom, false));
	if (req->wait && resp->status == 200) {
		resp->wait = true;
		resp->wait_domid = dom->id;
		resp->wait_boots = dom->boots;
	}
}

bool api_domain_wait_done(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = domain_lookup_id(&x->domains, resp->wait_domid);

	(void)req;
	if (!dom) {
		/* Gone (on_* destroy): the answer is the last record, marked as shut down. */
		if (resp->body)
			json_object_object_add(resp->body, "state",
			                       json_object_new_string("shutdown"));
		json_object_object_del(resp->body, "vmm_pid");
		return true;
	}
	if (dom->boots != resp->wait_boots || dom->state == DOMAIN_SHUTDOWN ||
	    dom->state == DOMAIN_CRASHED) {
		reply_record(resp, 200, domain_to_json(dom, false));
		return true;
	}
	return false;
}

void api_domain_console(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = resolve(x, req, resp, "attached to (it has no console)");

	if (!dom)
		return;
	if (dom->pidfd < 0 || !dom->con) {
		api_error(resp, -EBUSY, "domain '%s' is %s: its console is gone", dom->cfg.name,
		          domain_state_name(dom->state));
		return;
	}
	api_reply(resp, 101, NULL);
	resp->upgrade = true;
	resp->console_domid = dom->id;
}
