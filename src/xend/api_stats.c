// SPDX-License-Identifier: GPL-2.0-only
/* The monitoring routes (docs/api.md): a domain's stats, every domain's, and /metrics. */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/domain.h"
#include "xend/stats.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

static void reply(struct api_response *resp, struct json_object *o)
{
	if (!o)
		api_error(resp, -ENOMEM, "out of memory");
	else
		api_reply(resp, 200, o);
}

void api_stats_domain(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct domain *dom;

	if (!strcmp(req->dom, "0") || !strcmp(req->dom, "Domain-0")) {
		api_error(resp, -EPERM, "Domain-0 is the host: see GET /v1/host for its figures");
		return;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom) {
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
		return;
	}
	reply(resp, stats_domain_json(dom));
}

void api_stats_all(struct xend *x, struct api_request *req, struct api_response *resp)
{
	(void)req;
	reply(resp, stats_all_json(&x->domains));
}

void api_stats_metrics(struct xend *x, struct api_request *req, struct api_response *resp)
{
	char *text = stats_prometheus(&x->domains);

	(void)req;
	if (!text) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	api_reply(resp, 200, NULL);
	resp->text = text;
}
