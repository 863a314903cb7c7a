// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPU and memory routes of a domain (docs/api.md): its vCPUs, pinning one, its credit
 * scheduler weight and cap, and its balloon target.  Bodies are parsed on the API threads;
 * the rest runs on the main thread (domain_cpu.c does the work).
 */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/domain.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define SCHED_WEIGHT_MAX 65535
#define SCHED_CAP_MAX    (100 * 240) /* 100% of each of the most vCPUs a domain has */

static int take_uint(struct json_object *v, const char *key, long long max, unsigned int *ret,
                     struct api_response *resp)
{
	long long n;

	errno = 0;
	n = json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : -1;
	if (errno || n < 0 || n > max)
		return api_error(resp, -EINVAL, "field '%s': expected an integer from 0 to %lld",
		                 key, max);
	*ret = (unsigned int)n;
	return 0;
}

int api_cpu_parse_pin(const struct api_input *in, struct api_request *req,
                      struct api_response *resp)
{
	static const char *const keys[] = { "vcpu", "cpus", NULL };
	struct json_object *obj = NULL, *v;
	int r = api_parse_fields(in, keys, "vcpu and cpus", &obj, resp);

	if (r < 0)
		return r;
	if (!json_object_object_get_ex(obj, "vcpu", &v)) {
		r = api_error(resp, -EINVAL, "field 'vcpu' is required");
		goto out;
	}
	r = take_uint(v, "vcpu", 239, &req->vcpu, resp);
	if (r < 0)
		goto out;
	if (!json_object_object_get_ex(obj, "cpus", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) >= sizeof(req->cpus) ||
	    !json_object_get_string(v)[0]) {
		r = api_error(resp, -EINVAL,
		              "field 'cpus': expected a CPU list such as \"0-3,6\" or \"all\"");
		goto out;
	}
	snprintf(req->cpus, sizeof(req->cpus), "%s", json_object_get_string(v));
out:
	json_object_put(obj);
	return r;
}

int api_cpu_parse_sched(const struct api_input *in, struct api_request *req,
                        struct api_response *resp)
{
	struct json_object *obj = NULL;
	int r = api_parse_json(in, &obj, resp);

	if (r < 0)
		return r;
	json_object_object_foreach(obj, key, val)
	{
		if (strcmp(key, "weight") == 0) {
			r = take_uint(val, key, SCHED_WEIGHT_MAX, &req->weight, resp);
			if (r == 0 && req->weight == 0)
				r = api_error(resp, -EINVAL,
				              "field 'weight': expected an integer from 1 to %d",
				              SCHED_WEIGHT_MAX);
			req->has_weight = true;
		} else if (strcmp(key, "cap") == 0) {
			r = take_uint(val, key, SCHED_CAP_MAX, &req->cap, resp);
			req->has_cap = true;
		} else {
			r = api_error(resp, -EINVAL,
			              "unknown field '%.64s' (expected weight or cap)", key);
		}
		if (r < 0)
			break;
	}
	json_object_put(obj);
	return r;
}

/* A body of one required field: a number of MiB. */
static int parse_one_mib(const struct api_input *in, const char *key, unsigned int *ret,
                         struct api_response *resp)
{
	const char *const keys[] = { key, NULL };
	struct json_object *obj = NULL, *v;
	int r = api_parse_fields(in, keys, key, &obj, resp);

	if (r < 0)
		return r;
	if (json_object_object_get_ex(obj, key, &v))
		r = take_uint(v, key, 1048576, ret, resp);
	else
		r = api_error(resp, -EINVAL, "field '%s' is required", key);
	json_object_put(obj);
	return r;
}

int api_cpu_parse_memory(const struct api_input *in, struct api_request *req,
                         struct api_response *resp)
{
	return parse_one_mib(in, "target_mib", &req->target_mib, resp);
}

int api_cpu_parse_maxmem(const struct api_input *in, struct api_request *req,
                         struct api_response *resp)
{
	return parse_one_mib(in, "maxmem_mib", &req->maxmem_mib, resp);
}

static struct domain *find(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom;

	if (!strcmp(req->dom, "0") || !strcmp(req->dom, "Domain-0")) {
		api_error(resp, -EPERM,
		          "Domain-0 is the host: its CPUs are the host's (see `taskset`, `chrt`)");
		return NULL;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom)
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
	return dom;
}

void api_cpu_vcpus(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);
	struct json_object *list, *o;
	char err[512];

	if (!dom)
		return;
	list = domain_vcpus_json(dom, err, sizeof(err));
	if (!list) {
		api_error(resp, dom->pidfd < 0 ? -EBUSY : -EIO, "%s", err);
		return;
	}
	o = json_object_new_object();
	if (!o) {
		json_object_put(list);
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	json_object_object_add(o, "vcpus", list);
	api_reply(resp, 200, o);
}

void api_cpu_pin(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);
	char err[512];
	int r;

	if (!dom)
		return;
	r = domain_vcpu_pin(dom, req->vcpu, req->cpus, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	api_cpu_vcpus(x, req, resp);
}

static void reply_sched(struct domain *dom, struct api_response *resp)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	json_object_object_add(o, "weight",
	                       json_object_new_int64(domain_config_cpu_weight(&dom->cfg)));
	json_object_object_add(o, "cap", json_object_new_int64(dom->cfg.cpu_cap));
	json_object_object_add(o, "cgroups",
	                       json_object_new_string(cgroup_mode_name(&dom->table->cgroups)));
	api_reply(resp, 200, o);
}

void api_cpu_sched_get(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);

	if (dom)
		reply_sched(dom, resp);
}

void api_cpu_sched_put(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);
	char err[512];
	int r;

	if (!dom)
		return;
	r = domain_sched_set(dom, req->has_weight ? req->weight : dom->cfg.cpu_weight,
	                     req->has_cap ? req->cap : dom->cfg.cpu_cap, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	reply_sched(dom, resp);
}

void api_cpu_maxmem(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);
	char err[512];
	int r;

	if (!dom)
		return;
	r = domain_mem_max(dom, req->maxmem_mib, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	api_stats_domain(x, req, resp);
}

void api_cpu_memory(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom = find(x, req, resp);
	char err[512];
	int r;

	if (!dom)
		return;
	r = domain_mem_set(dom, req->target_mib, err, sizeof(err));
	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	api_stats_domain(x, req, resp);
}
