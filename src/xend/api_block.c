// SPDX-License-Identifier: GPL-2.0-only
/*
 * The block route: a domain's disks with their I/O counters (`xm block-list`).  The
 * executor runs on the main thread and asks the domain's VMM for its `stats`.
 */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/disk.h"
#include "xend/domain.h"
#include "xend/vmm_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

void api_block_domain(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *stats = NULL, *o;
	struct domain *dom;
	char err[256];

	if (!strcmp(req->dom, "0") || !strcmp(req->dom, "Domain-0")) {
		api_error(resp, -EPERM, "Domain-0 is the host: it has no virtual block devices");
		return;
	}
	dom = domain_lookup(&x->domains, req->dom);
	if (!dom) {
		api_error(resp, -ENOENT, "no domain '%s'", req->dom);
		return;
	}
	/*
	 * Without a VMM (a preserved domain), a VMM busy saving, or an answer, the counters read
	 * zero.
	 */
	if (dom->pidfd >= 0 && !dom->saving &&
	    vmm_control_call(dom->paths.control, "stats", 2000, &stats, err, sizeof(err)) < 0)
		stats = NULL;
	o = disk_block_json(&dom->cfg, stats);
	json_object_put(stats);
	if (!o)
		api_error(resp, -ENOMEM, "out of memory");
	else
		api_reply(resp, 200, o);
}
