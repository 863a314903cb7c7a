// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's network commands: network-list (a domain's interfaces and counters) and nat (the
 * host's NAT and ssh redirects).  Each is a libxeno call and a formatter.
 *
 * Runs on xm's main thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "xm.h"

static int printed(const char *cmd, int r, char *error)
{
	if (r < 0) {
		xm_error("%s: %s", cmd, error ? error : strerror(-r));
		free(error);
		return 1;
	}
	return 0;
}

int xm_cmd_network_list(struct xm *xm, const struct xm_args *args)
{
	const char *dom = args->argv[0];
	char *json = NULL, *error = NULL;
	int r = xeno_domain_network_json(xm->h, dom, &json);

	if (r < 0)
		return xm_fail(xm, args->cmd->name, dom, r);
	r = output_network_list(stdout, json, &error);
	free(json);
	return printed(args->cmd->name, r, error);
}

int xm_cmd_nat(struct xm *xm, const struct xm_args *args)
{
	const char *what = args->argc ? args->argv[0] : "status";
	char *json = NULL, *error = NULL;
	int r;

	if (!strcmp(what, "enable") || !strcmp(what, "disable"))
		r = xeno_nat_set(xm->h, !strcmp(what, "enable"), &json);
	else if (!strcmp(what, "status"))
		r = xeno_nat_json(xm->h, &json);
	else
		return xm_error("nat: unknown action '%s' (expected enable, disable or status)",
		                what);
	if (r < 0)
		return xm_fail(xm, args->cmd->name, NULL, r);
	r = output_nat(stdout, json, &error);
	free(json);
	return printed(args->cmd->name, r, error);
}
