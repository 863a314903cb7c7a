/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What xm prints: the domain table with xl's state flags, the console list, the `create -n`
 * dump, host facts, xend's log, JSON pretty-printed.  Pure formatting: each function writes
 * to the FILE it is given from data it is given (unit-tested without xend).
 *
 * Runs on xm's main thread.
 */
#ifndef XENO_XM_OUTPUT_H
#define XENO_XM_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <xeno/xeno.h>

/* xl's six state flags "rbpscd": "r-----", "-b----" (running, blocked), "--p---", ... */
void output_state_flags(enum xeno_domain_state state, bool blocked, char flags[7]);

/* The table of `xm list`: Name, ID, Mem(MiB), VCPUs, State, Time(s). */
void output_domain_list(FILE *f, const struct xeno_domain_info *list, size_t count);

/*
 * One line for `xm list --watch`: "[HH:MM:SS] NAME (id N): EVENT (REASON) -> STATE", or for
 * a "lost" event that events may have been missed.
 */
void output_event(FILE *f, const struct xeno_event *e);

/* The line `xm list --watch` prints once when xend stops answering. */
void output_event_gap(FILE *f, const char *why);

/* The table of `xm consoles`: every domain but Domain-0, its console log and TCP port. */
void output_console_list(FILE *f, const struct xeno_domain_info *list, size_t count);

/*
 * The `xm create -n` dump of a domain config (JSON text, docs/api.md "Domain config"): the
 * "VM name : ..." lines of Xen's create.  Returns 0, or -EINVAL (message in *error, malloc'd)
 * if the text is not a JSON object.
 */
int output_dryrun(FILE *f, const char *config_json, char **error);

/*
 * `xm info`: each field of the host object as "name : value", then xend's version.
 * version_json may be NULL.  Returns 0 or -EINVAL (message in *error) for bad JSON.
 */
int output_host_info(FILE *f, const char *host_json, const char *version_json, char **error);

/* `xm dmesg`: the strings of {"lines": [...]}, one per line.  0 or -EINVAL (*error). */
int output_log(FILE *f, const char *log_json, char **error);

/*
 * `xm network-list`: one row per interface of {"interfaces": [...]} (GET
 * /v1/domains/DOM/network): Idx MAC TAP Addresses RX-pkts TX-pkts Spoof-dropped.
 * 0 or -EINVAL (*error).
 */
int output_network_list(FILE *f, const char *net_json, char **error);

/*
 * `xm block-list`: one row per disk of {"disks": [...]} (GET /v1/domains/DOM/block): Vdev
 * Dev Path Format Mode Rd-reqs Rd-bytes Wr-reqs Wr-bytes.  0 or -EINVAL (*error).
 */
int output_block_list(FILE *f, const char *block_json, char **error);

/*
 * `xm nat status`: "NAT: on|off", the uplink, then one "PORT -> ADDRESS:22 (domain NAME)"
 * line per redirect.  0 or -EINVAL (*error).
 */
int output_nat(FILE *f, const char *nat_json, char **error);

/* JSON text pretty-printed (two-space indent) with a final newline.  0 or -EINVAL. */
int output_json_pretty(FILE *f, const char *json, char **error);

#endif
