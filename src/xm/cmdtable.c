// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's command table, and what is made from it: option parsing (getopt_long built from a
 * command's option rows), `xm help`, `xm help CMD`, `xm CMD --help`.  Adding a command is
 * adding a row here and its handler; xm.1 lists every row (a unit test checks it).
 *
 * Runs on xm's main thread.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "xm.h"

static const struct xm_option create_options[] = {
	{ 'f', "defconfig", "FILE", "the config file (default: defaults)" },
	{ XM_OPT_PATH, "path", "DIRS",
	  "where to look for FILE, ':'-separated (default: .:/etc/xeno)" },
	{ 'n', "dryrun", NULL, "print the resolved config; start nothing" },
	{ 'c', "console", NULL, "attach to the console once the domain runs" },
	{ 'p', "paused", NULL, "leave the domain paused" },
	{ 'q', "quiet", NULL, "print nothing but errors" },
	{ 'L', "restore", "SAVEFILE",
	  "restore a saved domain instead (as xm restore; -p applies)" },
	{ 0 },
};

static const struct xm_option list_options[] = {
	{ 'l', "long", NULL, "print the full records as JSON" },
	{ 'w', "watch", NULL, "print the list again at each domain event, until interrupted" },
	{ 0 },
};

static const struct xm_option shutdown_options[] = {
	{ 'a', "all", NULL, "every domain but Domain-0" },
	{ 'w', "wait", NULL, "return once the domain is gone (or has restarted)" },
	{ 'H', "halt", NULL, "power off (the default)" },
	{ 'R', "reboot", NULL, "reboot: the domain starts again with the same id" },
	{ 0 },
};

static const struct xm_option reboot_options[] = {
	{ 'a', "all", NULL, "every domain but Domain-0" },
	{ 'w', "wait", NULL, "return once the domain has restarted" },
	{ 0 },
};

static const struct xm_option destroy_options[] = {
	{ 'R', "restart", NULL, "start the same config again (a new id) after destroying" },
	{ 0 },
};

static const struct xm_option dmesg_options[] = {
	{ 'n', "lines", "N", "the last N lines (default 200)" },
	{ 0 },
};

static const struct xm_option sched_credit_options[] = {
	{ 'd', "domain", "DOM", "the domain to show or change (default: show every domain)" },
	{ 'w', "weight", "W", "its weight, 1 to 65535 (default 256): its share against others" },
	{ 'c', "cap", "C", "its cap in percent of one host CPU, 0 for none" },
	{ 0 },
};

static const struct xm_option top_options[] = {
	{ 'b', "batch", NULL, "print frames one after another instead of a full-screen view" },
	{ 'i', "iterations", "N", "stop after N frames (default: until interrupted, or q)" },
	{ 'd', "delay", "SECONDS", "time between frames (default 3)" },
	{ 0 },
};

static const struct xm_option save_options[] = {
	{ 'c', "checkpoint", NULL, "leave the domain running once saved" },
	{ 0 },
};

static const struct xm_option restore_options[] = {
	{ 'p', "paused", NULL, "leave the restored domain paused" },
	{ 'f', "fast", NULL, "skip the check of the memory's checksums" },
	{ XM_OPT_COPY, "copy", NULL, "read the memory into RAM instead of mapping the file" },
	{ XM_OPT_NAME, "name", "NAME", "restore under another name" },
	{ 0 },
};

static const struct xm_option image_create_options[] = {
	{ 'f', "format", "FORMAT", "raw or qcow2 (default raw; qcow2 with --backing)" },
	{ 'b', "backing", "BASE", "make a qcow2 overlay on BASE (its size by default)" },
	{ 0 },
};

const struct xm_command xm_commands[] = {
	{
	        .name = "create",
	        .run = xm_cmd_create,
	        .min_args = 0,
	        .max_args = -1,
	        .summary = "Create a domain from a config file",
	        .usage =
	                "[-f FILE] [--path DIRS] [-n] [-c] [-p] [-q] [-L SAVEFILE] [var=value ...]",
	        .help = "FILE (or a first argument without '=') is looked up as given, then in each "
	                "directory of DIRS.  Each var=value sets or overrides a config key; a bare "
	                "word is a string.",
	        .options = create_options,
	},
	{
	        .name = "list",
	        .run = xm_cmd_list,
	        .min_args = 0,
	        .max_args = -1,
	        .summary = "List domains",
	        .usage = "[-l | -w] [DOM ...]",
	        .help = "State flags: r running, b blocked, p paused, s shutdown, c crashed, "
	                "d dying.  With -w, each domain event (created, paused, unpaused, "
	                "shutdown, crashed, restarted, destroyed) prints a line and the list "
	                "again.",
	        .options = list_options,
	},
	{
	        .name = "destroy",
	        .run = xm_cmd_destroy,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Terminate a domain immediately",
	        .usage = "[-R] DOM",
	        .options = destroy_options,
	},
	{
	        .name = "shutdown",
	        .run = xm_cmd_shutdown,
	        .variant = XM_HALT,
	        .min_args = 0,
	        .max_args = 1,
	        .summary = "Shut a domain down cleanly (its power button)",
	        .usage = "[-a] [-w] [-H|-R] DOM",
	        .options = shutdown_options,
	},
	{
	        .name = "reboot",
	        .run = xm_cmd_shutdown,
	        .variant = XM_REBOOT,
	        .min_args = 0,
	        .max_args = 1,
	        .summary = "Reboot a domain cleanly (same id, same config)",
	        .usage = "[-a] [-w] DOM",
	        .options = reboot_options,
	},
	{
	        .name = "pause",
	        .run = xm_cmd_pause,
	        .variant = XM_PAUSE,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Pause a domain's vCPUs",
	        .usage = "DOM",
	},
	{
	        .name = "unpause",
	        .run = xm_cmd_pause,
	        .variant = XM_UNPAUSE,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Resume a paused domain",
	        .usage = "DOM",
	},
	{
	        .name = "save",
	        .run = xm_cmd_save,
	        .min_args = 2,
	        .max_args = 2,
	        .summary = "Save a domain's state to a file and end it",
	        .usage = "[-c] DOM FILE",
	        .help = "The domain is paused, its memory and devices are written to FILE "
	                "(FILE.partial until complete; pages it never touched are left out), "
	                "and it ends; with -c it goes on running.  On a terminal the size "
	                "written so far and the rate show while it runs.",
	        .options = save_options,
	},
	{
	        .name = "restore",
	        .run = xm_cmd_restore,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Bring back a domain saved with xm save",
	        .usage = "[-p] [-f|--fast] [--copy] [--name NAME] FILE",
	        .help = "The domain goes on where it was saved, under a new id, with its name, "
	                "disks, console, MACs and addresses.  A file that is truncated, damaged, "
	                "of another version or from a host lacking CPU features the guest uses "
	                "is refused, as is a name, read-write disk or address in use by another "
	                "domain; nothing is started then.",
	        .options = restore_options,
	},
	{
	        .name = "console",
	        .run = xm_cmd_console,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Attach to a domain's console",
	        .usage = "DOM",
	        .help = "Ctrl-] detaches, as does the end of the input when it is not a terminal.",
	},
	{
	        .name = "consoles",
	        .run = xm_cmd_consoles,
	        .min_args = 0,
	        .max_args = 0,
	        .summary = "List the domains' consoles (log file, TCP port)",
	        .usage = "",
	},
	{
	        .name = "domid",
	        .run = xm_cmd_domid,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Print a domain's id",
	        .usage = "NAME",
	},
	{
	        .name = "domname",
	        .run = xm_cmd_domname,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "Print a domain's name",
	        .usage = "ID",
	},
	{
	        .name = "info",
	        .run = xm_cmd_info,
	        .min_args = 0,
	        .max_args = 0,
	        .summary = "Print facts about the host and xend",
	        .usage = "",
	},
	{
	        .name = "dmesg",
	        .aliases = { "log" },
	        .run = xm_cmd_dmesg,
	        .min_args = 0,
	        .max_args = 0,
	        .summary = "Print the end of xend's log",
	        .usage = "[-n N]",
	        .options = dmesg_options,
	},
	{
	        .name = "network-list",
	        .aliases = { "vif-list" },
	        .run = xm_cmd_network_list,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "List a domain's network interfaces and their counters",
	        .usage = "DOM",
	        .help = "RX and TX are the domain's (its TX is what its TAP received); "
	                "Spoof-dropped counts the frames dropped for a source MAC, address or "
	                "ARP sender that is not the domain's.",
	},
	{
	        .name = "block-list",
	        .aliases = { "vbd-list" },
	        .run = xm_cmd_block_list,
	        .min_args = 1,
	        .max_args = 1,
	        .summary = "List a domain's disks and their I/O counters",
	        .usage = "DOM",
	        .help = "Disks are listed in the order the guest sees them (Dev: vda, vdb ...). "
	                "Mode is r (read-only), w (read-write, alone) or w! (read-write, shared "
	                "on purpose); Rd and Wr count the guest's requests and bytes since its "
	                "VMM started.",
	},
	{
	        .name = "vcpu-list",
	        .run = xm_cmd_vcpu_list,
	        .min_args = 0,
	        .max_args = -1,
	        .summary = "List the vCPUs of domains: host CPU, state, time, affinity",
	        .usage = "[DOM ...]",
	        .help = "CPU is the host CPU the vCPU last ran on; State is r (on a host CPU or "
	                "waiting for one), b (blocked: halted, the guest idles) or p (paused); "
	                "Affinity lists the host CPUs it may run on.",
	},
	{
	        .name = "vcpu-pin",
	        .run = xm_cmd_vcpu_pin,
	        .min_args = 3,
	        .max_args = 3,
	        .summary = "Let a vCPU run only on some host CPUs",
	        .usage = "DOM VCPU CPUS",
	        .help = "CPUS is a list such as 0-3,6, or all.  The pin lasts until the domain's "
	                "VMM ends; the config's cpus applies to every start.",
	},
	{
	        .name = "sched-credit",
	        .run = xm_cmd_sched_credit,
	        .min_args = 0,
	        .max_args = 0,
	        .summary = "Show or set domains' CPU weight and cap",
	        .usage = "[-d DOM [-w WEIGHT] [-c CAP]]",
	        .help = "A domain with twice the weight of another gets twice its CPU time when "
	                "both want more than there is; a cap of 50 holds a domain to half of one "
	                "host CPU even when the host is idle.  Applied through the domain's "
	                "cgroup (cgroup v2 or v1).",
	        .options = sched_credit_options,
	},
	{
	        .name = "mem-set",
	        .aliases = { "balloon" },
	        .run = xm_cmd_mem_set,
	        .min_args = 2,
	        .max_args = 2,
	        .summary = "Set how much memory a domain's guest keeps (its balloon)",
	        .usage = "DOM MIB",
	        .help = "From 96 MiB up to the domain's maxmem (its memory without one); what "
	                "the guest gives up goes back to the host at once.  xm top shows the "
	                "target and GET /v1/domains/DOM/stats how far the guest got.",
	},
	{
	        .name = "mem-max",
	        .run = xm_cmd_mem_max,
	        .min_args = 2,
	        .max_args = 2,
	        .summary = "Set the most memory mem-set may give a domain (its maxmem)",
	        .usage = "DOM MIB",
	        .help = "At least the domain's memory and what its guest keeps now, at most the "
	                "RAM it booted with: a domain created with maxmem above memory boots "
	                "with maxmem of RAM, the balloon holding the rest, and mem-set can give "
	                "it back.  The new maxmem is also the RAM of its next boot.",
	},
	{
	        .name = "vcpu-set",
	        .run = xm_cmd_not_yet,
	        .min_args = 2,
	        .max_args = 2,
	        .summary = "Not available: vCPUs cannot be added or removed while running",
	        .usage = "DOM N",
	},
	{
	        .name = "top",
	        .run = xm_cmd_top,
	        .min_args = 0,
	        .max_args = 0,
	        .summary = "Show every domain's CPU, memory, disk and network figures, live",
	        .usage = "[-b] [-i N] [-d SECONDS]",
	        .help = "As xentop: CPU(%) is of one host CPU over the last interval; VBD_RD and "
	                "VBD_WR count disk requests, NETRX and NETTX the bytes the domain "
	                "received and sent.  The figures are xend's GET /v1/stats.",
	        .options = top_options,
	},
	{
	        .name = "image-create",
	        .run = xm_cmd_image_create,
	        .min_args = 1,
	        .max_args = 2,
	        .summary = "Create a raw or qcow2 disk image",
	        .usage = "[-f raw|qcow2] [--backing BASE] PATH [SIZE]",
	        .help = "SIZE is bytes or a number with K, M, G or T (powers of 1024), a "
	                "multiple of 512; it may be left out with --backing (the base's size). "
	                "PATH must not exist.  Runs locally: xend is not needed.",
	        .options = image_create_options,
	},
	{
	        .name = "nat",
	        .run = xm_cmd_nat,
	        .min_args = 0,
	        .max_args = 1,
	        .summary = "Turn NAT and the ssh redirects on or off, or show them",
	        .usage = "[enable|disable|status]",
	        .help = "With NAT on, domain traffic leaving through the uplink is masqueraded and "
	                "host TCP port ssh-port-base + ID (2200 + ID) leads to port 22 of "
	                "domain ID.  The setting survives xend restarts.",
	},
	{
	        .name = "help",
	        .run = xm_cmd_help,
	        .min_args = 0,
	        .max_args = 1,
	        .summary = "Print the commands, or one command's help",
	        .usage = "[COMMAND]",
	},
};

const size_t xm_command_count = sizeof(xm_commands) / sizeof(xm_commands[0]);

const struct xm_command *xm_command_find(const char *name)
{
	for (size_t i = 0; i < xm_command_count; i++) {
		const struct xm_command *c = &xm_commands[i];

		if (!strcmp(c->name, name))
			return c;
		for (int a = 0; a < XM_MAX_ALIASES && c->aliases[a]; a++)
			if (!strcmp(c->aliases[a], name))
				return c;
	}
	return NULL;
}

static int option_count(const struct xm_command *cmd)
{
	int n = 0;

	while (cmd->options && cmd->options[n].key)
		n++;
	return n;
}

static int option_index(const struct xm_command *cmd, int key)
{
	for (int i = 0; cmd->options && cmd->options[i].key; i++)
		if (cmd->options[i].key == key)
			return i;
	return -1;
}

bool xm_opt(const struct xm_args *args, int key)
{
	int i = option_index(args->cmd, key);

	return i >= 0 && args->given[i];
}

const char *xm_optarg(const struct xm_args *args, int key)
{
	int i = option_index(args->cmd, key);

	return i >= 0 ? args->value[i] : NULL;
}

/* getopt_long's optstring and long options for a command, plus -h/--help. */
static void build_getopt(const struct xm_command *cmd, char *optstring, struct option *longopts)
{
	char *s = optstring;
	int n = 0;

	*s++ = ':'; /* ':' for a missing argument, '?' for an unknown option */
	*s++ = 'h';
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (int i = 0; cmd->options && cmd->options[i].key; i++) {
		const struct xm_option *o = &cmd->options[i];

		if (o->key < XM_OPT_LONG_ONLY) {
			*s++ = (char)o->key;
			if (o->arg)
				*s++ = ':';
		}
		if (o->long_name)
			longopts[n++] = (struct option){ o->long_name,
				                         o->arg ? required_argument : no_argument,
				                         NULL, o->key };
	}
	*s = '\0';
	longopts[n] = (struct option){ 0 };
}

/* The option as the user wrote it, for messages. */
static const char *spelled(char **argv, int optind_after, int optopt_key, char *buf, size_t size)
{
	const char *arg = argv[optind_after - 1];

	if (optopt_key > 0 && optopt_key < XM_OPT_LONG_ONLY && !(arg[0] == '-' && arg[1] == '-')) {
		snprintf(buf, size, "-%c", optopt_key);
		return buf;
	}
	return arg;
}

int xm_args_parse(const struct xm_command *cmd, int argc, char **argv, struct xm_args *ret,
                  char *error, size_t error_size)
{
	struct option longopts[XM_MAX_OPTIONS + 2];
	char optstring[2 * XM_MAX_OPTIONS + 3], buf[8];
	int c, i;

	memset(ret, 0, sizeof(*ret));
	ret->cmd = cmd;
	if (option_count(cmd) > XM_MAX_OPTIONS) {
		snprintf(error, error_size, "%s: too many options in xm's table", cmd->name);
		return -EINVAL;
	}
	build_getopt(cmd, optstring, longopts);
	optind = 0; /* glibc: start afresh, including its internal state */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (c == 'h')
			return XM_ARGS_HELP;
		if (c == '?' || c == ':') {
			snprintf(error, error_size, "%s: %s option '%s' (see 'xm help %s')",
			         cmd->name, c == '?' ? "unknown" : "missing the argument of the",
			         spelled(argv, optind, optopt, buf, sizeof(buf)), cmd->name);
			return -EINVAL;
		}
		i = option_index(cmd, c);
		if (i < 0) {
			snprintf(error, error_size, "%s: unexpected option", cmd->name);
			return -EINVAL;
		}
		ret->given[i] = true;
		ret->value[i] = optarg;
	}
	ret->argc = argc - optind;
	ret->argv = argv + optind;
	if (ret->argc < cmd->min_args || (cmd->max_args >= 0 && ret->argc > cmd->max_args)) {
		snprintf(error, error_size, "%s: %s (usage: xm %s%s%s)", cmd->name,
		         ret->argc < cmd->min_args ? "missing arguments" : "too many arguments",
		         cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
		return -EINVAL;
	}
	return 0;
}

static void print_option(FILE *f, const struct xm_option *o)
{
	char left[64];
	int n = 0;

	if (o->key < XM_OPT_LONG_ONLY)
		n += snprintf(left + n, sizeof(left) - (size_t)n, "-%c%s", o->key,
		              o->long_name ? ", " : "");
	else
		n += snprintf(left + n, sizeof(left) - (size_t)n, "    ");
	if (o->long_name)
		n += snprintf(left + n, sizeof(left) - (size_t)n, "--%s", o->long_name);
	if (o->arg && n >= 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
	fprintf(f, "  %-24s %s\n", left, o->help);
}

void xm_print_command_help(FILE *f, const struct xm_command *cmd)
{
	static const struct xm_option help = { 'h', "help", NULL, "print this help" };

	fprintf(f, "Usage: xm %s%s%s\n\n%s.\n", cmd->name, cmd->usage[0] ? " " : "", cmd->usage,
	        cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s\n", cmd->help);
	if (cmd->aliases[0]) {
		fprintf(f, "\nAlso called:");
		for (int a = 0; a < XM_MAX_ALIASES && cmd->aliases[a]; a++)
			fprintf(f, " %s", cmd->aliases[a]);
		fprintf(f, "\n");
	}
	fprintf(f, "\nOptions:\n");
	for (int i = 0; cmd->options && cmd->options[i].key; i++)
		print_option(f, &cmd->options[i]);
	print_option(f, &help);
}

void xm_print_usage(FILE *f)
{
	fprintf(f, "Usage: xm COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < xm_command_count; i++)
		fprintf(f, "  %-10s %s\n", xm_commands[i].name, xm_commands[i].summary);
	fprintf(f, "\nDOM is a domain's name or id.  'xm help COMMAND' or 'xm COMMAND --help' "
	           "prints a command's options.\n");
}

int xm_cmd_help(struct xm *xm, const struct xm_args *args)
{
	const struct xm_command *cmd;

	(void)xm;
	if (args->argc == 0) {
		xm_print_usage(stdout);
		return 0;
	}
	cmd = xm_command_find(args->argv[0]);
	if (!cmd)
		return xm_error("help: '%s' is not an xm command (see 'xm help')", args->argv[0]);
	xm_print_command_help(stdout, cmd);
	return 0;
}
