// SPDX-License-Identifier: GPL-2.0-only
/*
 * How xm reports a failure: one line on stderr, "xm: WHAT: WHY", and exit status 1.
 *
 * Runs on xm's main thread (xm_fail_msg() also after `shutdown -a -w` joined its threads).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xm.h"

int xm_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("xm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int xm_fail(struct xm *xm, const char *cmd, const char *dom, int r)
{
	return xm_fail_msg(cmd, dom, r, xeno_errmsg(xm->h));
}

int xm_fail_msg(const char *cmd, const char *dom, int r, const char *msg)
{
	if (r == -ECONNREFUSED || r == -EACCES)
		return xm_error("%s", msg);
	if (!msg[0])
		msg = strerror(-r);
	if (!dom)
		return xm_error("%s: %s", cmd, msg);
	if (r == -ENOENT)
		msg = "no such domain";
	return xm_error("%s '%s': %s", cmd, dom, msg);
}
