// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's host commands: info (host facts and versions) and dmesg/log (the end of xend's log).
 *
 * Runs on xm's main thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "xm.h"

#define LOG_LINES_DEFAULT 200
#define LOG_LINES_MAX     100000

/* Prints a formatter's failure (xend sent something that is not what docs/api.md says). */
static int format_failed(const char *cmd, int r, char *error)
{
	xm_error("%s: %s", cmd, error ? error : strerror(-r));
	free(error);
	return 1;
}

int xm_cmd_info(struct xm *xm, const struct xm_args *args)
{
	char *host = NULL, *version = NULL, *error = NULL;
	int r;

	(void)args;
	r = xeno_host_info_json(xm->h, &host);
	if (r < 0)
		return xm_fail(xm, "info", NULL, r);
	r = xeno_version_json(xm->h, &version);
	if (r < 0) {
		free(host);
		return xm_fail(xm, "info", NULL, r);
	}
	r = output_host_info(stdout, host, version, &error);
	free(host);
	free(version);
	return r < 0 ? format_failed("info", r, error) : 0;
}

int xm_cmd_dmesg(struct xm *xm, const struct xm_args *args)
{
	const char *arg = xm_optarg(args, 'n');
	unsigned long lines = LOG_LINES_DEFAULT;
	char *json = NULL, *error = NULL, *end;
	int r;

	if (arg) {
		errno = 0;
		lines = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || lines == 0 ||
		    lines > LOG_LINES_MAX)
			return xm_error("%s: -n '%s': expected a number of lines, 1 to %d",
			                args->cmd->name, arg, LOG_LINES_MAX);
	}
	r = xeno_log_lines(xm->h, (unsigned int)lines, &json);
	if (r < 0)
		return xm_fail(xm, args->cmd->name, NULL, r);
	r = output_log(stdout, json, &error);
	free(json);
	return r < 0 ? format_failed(args->cmd->name, r, error) : 0;
}
