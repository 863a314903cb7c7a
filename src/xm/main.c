// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's entry point: finds the command in the table, parses its options, opens the libxeno
 * handle (xend's socket from $XENO_XEND_SOCKET, default /run/xeno/xend.sock), runs the
 * handler and exits with its status.
 *
 * Runs on xm's main thread; the only place xm exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xm.h"

static int run(const struct xm_command *cmd, int argc, char **argv)
{
	struct xm xm = { 0 };
	struct xm_args args;
	char error[256];
	int r;

	r = xm_args_parse(cmd, argc, argv, &args, error, sizeof(error));
	if (r == XM_ARGS_HELP) {
		xm_print_command_help(stdout, cmd);
		return 0;
	}
	if (r < 0)
		return xm_error("%s", error);
	r = xeno_open(NULL, &xm.h);
	if (r < 0)
		return xm_error("cannot use xend's socket path: %s", strerror(-r));
	r = cmd->run(&xm, &args);
	xeno_close(xm.h);
	return r;
}

int main(int argc, char **argv)
{
	const struct xm_command *cmd;
	int status;

	/* A closed stdout (xm list | head) is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		xm_print_usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		xm_print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("xm %s\n", XENO_VERSION);
		return 0;
	}
	cmd = xm_command_find(argv[1]);
	if (!cmd)
		return xm_error("'%s' is not an xm command (see 'xm help')", argv[1]);
	/* `xm save help`, as `xm help save`: a domain named "help" is reached by its id. */
	if (argc == 3 && !strcmp(argv[2], "help") && strcmp(cmd->name, "help")) {
		xm_print_command_help(stdout, cmd);
		return 0;
	}
	status = run(cmd, argc - 1, argv + 1);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			return xm_error("writing the output: %s", strerror(errno));
		return 1;
	}
	return status;
}
