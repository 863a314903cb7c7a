// SPDX-License-Identifier: GPL-2.0-only
/*
 * The network routes: a domain's interfaces (`xm network-list`) and the host's NAT
 * (`xm nat`).  Parsers on the API threads, executors on the main thread.
 */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/domain.h"
#include "xend/net.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

int api_net_parse_nat(const struct api_input *in, struct api_request *req,
                      struct api_response *resp)
{
	static const char *const keys[] = { "enabled", NULL };
	struct json_object *obj = NULL, *v;
	int r = api_parse_fields(in, keys, "enabled", &obj, resp);

	if (r < 0)
		return r;
	if (!json_object_object_get_ex(obj, "enabled", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		r = api_error(resp, -EINVAL, "field 'enabled': expected true or false");
		goto out;
	}
	req->nat_enabled = json_object_get_boolean(v);
out:
	json_object_put(obj);
	return r;
}

void api_net_domain(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *o;
	struct domain *dom;

	if (!strcmp(req->dom, "0") || !strcmp(req->dom, "Domain-0")) {
		api_error(resp, -EPERM, "Domain-0 is the host: see `ip addr` for its interfaces");
		return;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom) {
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
		return;
	}
	o = net_domain_json(dom);
	if (!o)
		api_error(resp, -ENOMEM, "out of memory");
	else
		api_reply(resp, 200, o);
}

void api_net_nat_get(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = net_nat_json(&x->domains);

	(void)req;
	if (!o)
		api_error(resp, -ENOMEM, "out of memory");
	else
		api_reply(resp, 200, o);
}

void api_net_nat_put(struct xend *x, struct api_request *req, struct api_response *resp)
{
	char err[512];
	int r = net_nat_set(&x->domains, req->nat_enabled, err, sizeof(err));

	if (r < 0) {
		api_error(resp, r, "%s", err);
		return;
	}
	api_net_nat_get(x, req, resp);
}
