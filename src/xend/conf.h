/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xend.conf: where xend keeps its socket, records, logs and consoles, which xeno-vmm it runs,
 * and its limits.  Read once by main() before anything is served (xl.cfg syntax, through
 * libxeno's generic parser); the result is read-only afterwards, so every thread may read it.
 */
#ifndef XEND_CONF_H
#define XEND_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XEND_CONF_DEFAULT_PATH "/etc/xeno/xend.conf"

struct xend_conf {
	char *path;            /* the file read, or NULL when the default file was absent */
	char *socket_path;     /* xend-socket: the API's UNIX socket */
	char *run_dir;         /* run-dir: pid file, per-domain sockets (tmpfs) */
	char *state_dir;       /* state-dir: domain records (survive xend, not reboots) */
	char *log_file;        /* log-file: xend's log when it runs as a daemon */
	char *console_log_dir; /* console-log-dir: NAME.log per domain, written by each VMM */
	char *vmm_path;        /* vmm-path: the xeno-vmm to run, resolved to an absolute path */
	unsigned int dom0_min_mem_mib;  /* dom0-min-mem: MemAvailable never left below this */
	bool console_tcp;               /* console-tcp: consoles also on 127.0.0.1 */
	unsigned int console_tcp_base;  /* console-tcp-base: port of domain 0; domain N + N */
	unsigned int request_timeout_s; /* request-timeout: idle limit of an API connection */
	unsigned int max_connections;   /* max-connections: API connections at once */

	/* Networking (docs/man/xend.conf.5, NETWORK); addresses in host byte order. */
	char *network;              /* network: "route" or "none" */
	char *ip_pool;              /* ip-pool: "10.0.0.0/24" */
	char *gateway;              /* gateway: Domain-0's address on routed vifs */
	char *linklocal_base;       /* linklocal-base: Domain-0's link-local; domain N: + N */
	bool nat;                   /* nat: masquerade and ssh redirects at start */
	char *nat_uplink;           /* nat-uplink: "" means any interface but the vifs */
	unsigned int ssh_port_base; /* ssh-port-base: host TCP port of domain 0; domain N: + N */
	bool net_route;             /* network == "route" */
	uint32_t pool_net;          /* ip-pool's network address */
	unsigned int pool_prefix;   /* ip-pool's prefix length, 8 .. 30 */
	uint32_t gateway_addr;      /* gateway, parsed */
	uint32_t linklocal_addr;    /* linklocal-base, parsed */
};

/*
 * Reads the file at path, or XEND_CONF_DEFAULT_PATH when path is NULL (a missing default
 * file means "all defaults"; a missing named file is an error).  Applies defaults, checks
 * every key and value, and resolves vmm-path (next to xend's executable, then the install
 * bindir, then $PATH, unless given).  On failure returns -errno and *ret_error holds one
 * malloc'd line "FILE:LINE: message (expected ...)".  conf holds nothing to free then.
 */
int conf_load(const char *path, struct xend_conf *conf, char **ret_error)
        __attribute__((warn_unused_result));

/* The index-th key conf_load() accepts, or NULL past the last (for the documentation check). */
const char *conf_key_name(size_t index);

/* Frees the strings of conf; accepts a zeroed or half-filled conf. */
void conf_fini(struct xend_conf *conf);

#endif
