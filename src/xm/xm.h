/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xm, the command line of xeno: what its parts share.  One table of commands (cmdtable.c)
 * drives option parsing, `xm help`, `xm help CMD`, `xm CMD --help` and the usage xm prints
 * when run alone; each handler (cmd_*.c) is a few lines over libxeno.
 *
 * xm is single-threaded except for `shutdown -a -w`, which waits for several domains at once
 * with one thread (and one libxeno handle) per domain.  Handlers print their results on
 * stdout and at most one line on stderr ("xm: pause 'web': no such domain"); they return the
 * exit status (0 or 1).  Only main() exits.
 */
#ifndef XENO_XM_XM_H
#define XENO_XM_XM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xeno/xeno.h>

#define XM_MAX_ALIASES 4
#define XM_MAX_OPTIONS 16

/* Keys of options that have no one-letter form: above every char. */
#define XM_OPT_LONG_ONLY 0x100
/* create's --path, long only as in Xen 2.0's xm create. */
#define XM_OPT_PATH (XM_OPT_LONG_ONLY + 1)
/* restore's --copy and --name. */
#define XM_OPT_COPY (XM_OPT_LONG_ONLY + 2)
#define XM_OPT_NAME (XM_OPT_LONG_ONLY + 3)

struct xm {
	struct xeno *h; /* opened by main() before the handler runs */
};

/* One option of a command: its rows are both the parser's input and the --help text. */
struct xm_option {
	int key;               /* the letter of -X, or XM_OPT_LONG_ONLY + n; 0 ends a list */
	const char *long_name; /* --NAME, or NULL */
	const char *arg;       /* the argument's name ("FILE"), or NULL for a flag */
	const char *help;      /* one line */
};

struct xm_args;

/* One command.  Adding a command is adding one of these to cmdtable.c. */
struct xm_command {
	const char *name;
	const char *aliases[XM_MAX_ALIASES]; /* other names (Xen 2.0's), NULL-padded */
	int (*run)(struct xm *xm, const struct xm_args *args);
	int variant;                     /* told to a handler shared by several rows */
	int min_args;                    /* positional arguments */
	int max_args;                    /* -1: any number */
	const char *summary;             /* one line for `xm help` */
	const char *usage;               /* what follows "xm NAME " */
	const char *help;                /* a paragraph for `xm help NAME`, or NULL */
	const struct xm_option *options; /* ends with key 0; NULL for none */
};

/* A command line parsed against a command's row. */
struct xm_args {
	const struct xm_command *cmd;
	bool given[XM_MAX_OPTIONS];        /* by index in cmd->options */
	const char *value[XM_MAX_OPTIONS]; /* the option's argument (the last one given) */
	int argc;                          /* positional arguments */
	char **argv;
};

/* Variants of shared handlers. */
enum { XM_PAUSE, XM_UNPAUSE };
enum { XM_HALT, XM_REBOOT };

/* ---- The table (cmdtable.c) --------------------------------------------------------------- */

extern const struct xm_command xm_commands[];
extern const size_t xm_command_count;

/* The row named name or with an alias name; NULL if none. */
const struct xm_command *xm_command_find(const char *name);

/* Result of xm_args_parse() when -h/--help was given: print the help, exit 0. */
#define XM_ARGS_HELP 1

/*
 * Parses argv (argv[0] is the command's name) against cmd's options and argument counts.
 * Options and positional arguments may mix; "--" ends the options.  Returns 0, XM_ARGS_HELP,
 * or -EINVAL with one line in error ("list: unknown option '-x'").  argv is permuted (getopt).
 */
int xm_args_parse(const struct xm_command *cmd, int argc, char **argv, struct xm_args *ret,
                  char *error, size_t error_size);

/* Whether option key was given, and its argument (NULL if not given or a flag). */
bool xm_opt(const struct xm_args *args, int key);
const char *xm_optarg(const struct xm_args *args, int key);

/* `xm help CMD`: usage line, summary, help paragraph, options. */
void xm_print_command_help(FILE *f, const struct xm_command *cmd);

/* `xm help` and `xm` alone: every command with its summary. */
void xm_print_usage(FILE *f);

/* ---- Reporting (report.c) ------------------------------------------------------------------- */

/* Prints "xm: MESSAGE" on stderr; returns 1, the exit status of a failure. */
int xm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reports a failed libxeno call r made by command cmd on domain dom (NULL if none): xend's
 * message from the handle, "no such domain" for -ENOENT on a domain, and the connection
 * problem alone when xend could not be reached.  Returns 1.
 */
int xm_fail(struct xm *xm, const char *cmd, const char *dom, int r);

/* As xm_fail() with the handle's message given (for calls made on another handle). */
int xm_fail_msg(const char *cmd, const char *dom, int r, const char *msg);

/* ---- Handlers ----------------------------------------------------------------------------- */

int xm_cmd_create(struct xm *xm, const struct xm_args *args); /* cmd_domain.c */
int xm_cmd_list(struct xm *xm, const struct xm_args *args);
int xm_cmd_pause(struct xm *xm, const struct xm_args *args);    /* pause, unpause */
int xm_cmd_shutdown(struct xm *xm, const struct xm_args *args); /* shutdown, reboot */
int xm_cmd_destroy(struct xm *xm, const struct xm_args *args);
int xm_cmd_domid(struct xm *xm, const struct xm_args *args);
int xm_cmd_domname(struct xm *xm, const struct xm_args *args);
int xm_cmd_console(struct xm *xm, const struct xm_args *args); /* cmd_console.c */
int xm_cmd_consoles(struct xm *xm, const struct xm_args *args);
int xm_cmd_info(struct xm *xm, const struct xm_args *args); /* cmd_host.c */
int xm_cmd_dmesg(struct xm *xm, const struct xm_args *args);
int xm_cmd_network_list(struct xm *xm, const struct xm_args *args); /* cmd_net.c */
int xm_cmd_nat(struct xm *xm, const struct xm_args *args);
int xm_cmd_block_list(struct xm *xm, const struct xm_args *args); /* cmd_block.c */
int xm_cmd_vcpu_list(struct xm *xm, const struct xm_args *args);  /* cmd_cpu.c */
int xm_cmd_vcpu_pin(struct xm *xm, const struct xm_args *args);
int xm_cmd_sched_credit(struct xm *xm, const struct xm_args *args);
int xm_cmd_mem_set(struct xm *xm, const struct xm_args *args);
int xm_cmd_mem_max(struct xm *xm, const struct xm_args *args);
int xm_cmd_not_yet(struct xm *xm, const struct xm_args *args); /* vcpu-set */
int xm_cmd_top(struct xm *xm, const struct xm_args *args);     /* cmd_top.c */
int xm_cmd_save(struct xm *xm, const struct xm_args *args);    /* cmd_save.c */
int xm_cmd_restore(struct xm *xm, const struct xm_args *args);
int xm_cmd_image_create(struct xm *xm, const struct xm_args *args);

/*
 * A size such as "10G", "512M", "64KiB" or "1048576" (bytes; K, M, G and T are powers of
 * 1024, any case) into *ret_bytes.  Returns 0, -EINVAL for anything else, -ERANGE past 2^64.
 */
int xm_parse_size(const char *text, uint64_t *ret_bytes);
int xm_cmd_help(struct xm *xm, const struct xm_args *args); /* cmdtable.c */

/*
 * Restores the domain saved in file (relative to xm's directory) with opts and prints
 * "restored NAME as domain ID in T ms"; restore and create -L share it.  Returns the exit
 * status.
 */
int xm_restore(struct xm *xm, const char *file, const struct xeno_restore_opts *opts);

/* Attaches the terminal (or stdin/stdout pipes) to dom's console until Ctrl-], end of input
 * or the console's end.  Returns the exit status. */
int xm_console_attach(struct xm *xm, const char *dom);

#endif
