/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libxeno, the client half: every call xm (and the Python bindings) make to xend, over
 * HTTP/1.1 with JSON bodies on xend's UNIX socket (docs/api.md is the contract).
 *
 * Runs in the caller's process and thread.  A handle is one connection configuration; it may
 * be used by one thread at a time (give each thread its own handle).  Nothing here prints or
 * exits: every function returns 0 or -errno, and on failure leaves a one-line message on the
 * handle (xeno_errmsg()).  For an API error the message is xend's own and the errno is the
 * one named by its "code"; when xend cannot be reached it reads "cannot reach xend at PATH:
 * is it running? (xend start)".  Strings and arrays returned through ret_ pointers are
 * malloc'd and owned by the caller.
 */
#ifndef XENO_XENO_H
#define XENO_XENO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The socket xend listens on when neither the caller nor $XENO_XEND_SOCKET names one. */
#define XENO_XEND_SOCKET_DEFAULT "/run/xeno/xend.sock"

/* The longest domain name xend accepts (docs/api.md: [A-Za-z0-9_.-], 1..64 characters). */
#define XENO_NAME_MAX 64

/* ---- Handles ----------------------------------------------------------------------------- */

struct xeno;

/*
 * Makes a handle for the xend listening on socket_path (NULL: $XENO_XEND_SOCKET if set and
 * not empty, else XENO_XEND_SOCKET_DEFAULT).  Does not connect: each call connects anew, so a
 * handle survives xend restarts.  Returns 0 and *ret, or -ENOMEM / -ENAMETOOLONG (no handle
 * exists then to carry a message).
 */
int xeno_open(const char *socket_path, struct xeno **ret);

/* Frees the handle; NULL is allowed. */
void xeno_close(struct xeno *h);

/* The message of the last failed call on h ("" if none); valid until the next call. */
const char *xeno_errmsg(const struct xeno *h);

/* The socket path the handle uses. */
const char *xeno_socket_path(const struct xeno *h);

/*
 * Any route: method ("GET", "POST", "DELETE"), path ("/v1/..."; the caller escapes it, see
 * xeno_path_escape()), body_json (NULL for none).  On a 2xx answer returns 0 and the body in
 * *ret_json (NULL allowed: the body is dropped; "" if xend sent none).  A 4xx/5xx answer is
 * a failure with xend's code and message.
 */
int xeno_request(struct xeno *h, const char *method, const char *path, const char *body_json,
                 char **ret_json);

/*
 * Percent-encodes s for use as one path segment (everything but [A-Za-z0-9._~-]).  Returns a
 * malloc'd string or NULL when out of memory.
 */
char *xeno_path_escape(const char *s);

/* ---- Domains ----------------------------------------------------------------------------- */

enum xeno_domain_state {
	XENO_DOMAIN_RUNNING,
	XENO_DOMAIN_PAUSED,
	XENO_DOMAIN_SHUTDOWN,
	XENO_DOMAIN_CRASHED,
	XENO_DOMAIN_DYING,
	XENO_DOMAIN_UNKNOWN, /* a state this library does not know (a newer xend) */
	XENO_DOMAIN_STATE_COUNT,
};

/* The fields of a domain record (docs/api.md, "Domain record") that xm shows. */
struct xeno_domain_info {
	unsigned int id;              /* 0 is Domain-0, the host */
	char name[XENO_NAME_MAX + 1]; /* truncated if xend ever sent a longer one */
	enum xeno_domain_state state;
	uint64_t memory_mib;
	uint64_t maxmem_mib;
	unsigned int vcpus;
	double cpu_time_s;    /* guest vCPU time, all vCPUs */
	double start_time;    /* seconds since the epoch; 0 if absent */
	int vmm_pid;          /* 0 for Domain-0 or if absent */
	char *console_log;    /* malloc'd; NULL if the record has none */
	int console_tcp_port; /* -1 when console ports are off */
	bool blocked;         /* running, but no vCPU on a host CPU when xend looked (idle) */
};

/* "running", "paused", ... for a state; "unknown" for XENO_DOMAIN_UNKNOWN or out of range. */
const char *xeno_domain_state_name(enum xeno_domain_state state);

/*
 * Parses one domain record (a JSON object text) into *ret.  Returns 0, or -EINVAL when the
 * text is not a record (id and name are required; other fields default to 0 / unknown).
 * Needs no handle: a message, if error is not NULL, goes to *error (malloc'd).
 */
int xeno_domain_info_parse(const char *json, struct xeno_domain_info *ret, char **error);

/* Frees what a struct xeno_domain_info owns (not the struct itself). */
void xeno_domain_info_fini(struct xeno_domain_info *info);

/* Every domain, Domain-0 first.  Free with xeno_domain_list_free(). */
int xeno_domain_list(struct xeno *h, struct xeno_domain_info **ret, size_t *ret_count);

/* Frees an array returned by xeno_domain_list(); NULL is allowed. */
void xeno_domain_list_free(struct xeno_domain_info *list, size_t count);

/* Every domain record as xend sent it: a JSON array text. */
int xeno_domain_list_json(struct xeno *h, char **ret_json);

/* One domain by name or id (dom): as a record text, or parsed (free with _info_fini()). */
int xeno_domain_get_json(struct xeno *h, const char *dom, char **ret_json);
int xeno_domain_get(struct xeno *h, const char *dom, struct xeno_domain_info *ret);

/*
 * Creates a domain from a domain config (a JSON object text in the shape of docs/api.md
 * "Domain config", as xeno_cfg_domain_json() makes it); paused sets "start_paused".  On
 * success the new record goes to *ret_info if it is not NULL (free with _info_fini()).
 */
int xeno_domain_create(struct xeno *h, const char *config_json, bool paused,
                       struct xeno_domain_info *ret_info);

/* Pause, unpause, destroy (at once) one domain by name or id. */
int xeno_domain_pause(struct xeno *h, const char *dom);
int xeno_domain_unpause(struct xeno *h, const char *dom);
int xeno_domain_destroy(struct xeno *h, const char *dom);

/*
 * Presses the domain's power button (reboot: and restarts it afterwards, same id).  With
 * wait the call returns only once the domain is gone or has restarted, which may be long:
 * no time limit applies then.
 */
int xeno_domain_shutdown(struct xeno *h, const char *dom, bool reboot, bool wait);

/*
 * Attaches to a domain's console: connects, asks xend to upgrade the connection
 * (docs/api.md) and checks the 101 answer.  Returns 0 and in *ret_fd a connected stream
 * socket (close-on-exec, blocking) carrying the console's raw bytes both ways, the last
 * 64 KiB of output first.  The caller closes it.
 */
int xeno_console_open(struct xeno *h, const char *dom, int *ret_fd);

/* ---- Save and restore ---------------------------------------------------------------------- */

/* xeno_domain_save() flags. */
#define XENO_SAVE_CHECKPOINT 0x1u /* leave the domain running (xm save -c) */

/* What a save wrote. */
struct xeno_save_info {
	uint64_t file_bytes;   /* the save file's size */
	uint64_t memory_bytes; /* guest RAM in it: pages never touched or all zero are left out */
	uint64_t ms;           /* how long the save took */
};

/*
 * Saves dom's state to path (absolute, on xend's host; path.partial while it is written):
 * the domain is paused, written, and then ends (event "destroyed", reason "saved"), or with
 * XENO_SAVE_CHECKPOINT goes on as it was.  May take minutes for a large domain: the call
 * waits up to 35 minutes.  ret_info may be NULL.  Unknown flags are -EINVAL.
 */
int xeno_domain_save(struct xeno *h, const char *dom, const char *path, unsigned int flags,
                     struct xeno_save_info *ret_info);

/* How xeno_domain_restore() brings a domain back; all false/NULL is the default. */
struct xeno_restore_opts {
	bool paused;      /* stay paused (xm restore -p) */
	bool fast;        /* skip the check of the memory's checksums */
	bool copy;        /* read the memory into RAM instead of mapping the file */
	const char *name; /* a new name; NULL: the saved domain's */
};

/*
 * Restores the domain saved in path (absolute): a new id, the saved config, disks, MACs and
 * addresses.  Refused with xend's message when the file is bad (truncated, checksum, version,
 * another host's CPU), the name is taken, a read-write disk or an address is in use by another
 * domain, or memory is short.  opts may be NULL.  The new record goes to *ret_info if it is
 * not NULL (free with _info_fini()).
 */
int xeno_domain_restore(struct xeno *h, const char *path, const struct xeno_restore_opts *opts,
                        struct xeno_domain_info *ret_info);

/* ---- CPUs --------------------------------------------------------------------------------- */

/*
 * GET /v1/domains/DOM/vcpus: {"vcpus": [{"vcpu", "cpu" (the host CPU it last ran on),
 * "state" ("running", "blocked" or "paused"), "time_s", "affinity" (a CPU list)}]}.
 */
int xeno_domain_vcpus_json(struct xeno *h, const char *dom, char **ret_json);

/* Lets vCPU vcpu of dom run only on the host CPUs of cpus ("0-3,6"; "all": on any). */
int xeno_domain_vcpu_pin(struct xeno *h, const char *dom, unsigned int vcpu, const char *cpus);

/* GET /v1/domains/DOM/sched: {"weight", "cap", "cgroups" ("v2", "v1" or "none")}. */
int xeno_domain_sched_json(struct xeno *h, const char *dom, char **ret_json);

/*
 * Sets dom's credit scheduler weight (1 to 65535, default 256; 0 leaves it) and cap (percent
 * of one host CPU, 0 for none; -1 leaves it), at once and for the rest of its life.
 */
int xeno_domain_sched_set(struct xeno *h, const char *dom, unsigned int weight, int cap);

/*
 * Moves dom's balloon so that the guest keeps target_mib of its memory (up to the memory it
 * was created with); the rest goes back to the host.  Its stats' memory_target_mib and
 * memory_actual_mib show the target and how far the guest got.
 */
int xeno_domain_mem_set(struct xeno *h, const char *dom, unsigned int target_mib);

/*
 * Sets dom's maxmem, the most mem-set may give it: at least its memory and what it keeps
 * now, at most the RAM it booted with (its maxmem then).  It is also the RAM of its next
 * boot.
 */
int xeno_domain_mem_max(struct xeno *h, const char *dom, unsigned int maxmem_mib);

/* ---- Events ------------------------------------------------------------------------------- */

/*
 * A watcher of domain events (GET /v1/events, docs/api.md "Events"), so that a tool waits for
 * changes instead of polling.  It sees the events that happen after xeno_events_open(), in
 * the order they happened, and keeps its place across calls and across xend restarts.
 */
struct xeno_events;

/* One event; fixed-size fields, nothing to free. */
struct xeno_event {
	uint64_t seq; /* xend's number for it (0 for "lost") */
	double time;  /* seconds since the epoch */
	/*
	 * "created", "paused", "unpaused", "shutdown" (the guest powered off or rebooted: reason
	 * "poweroff" or "reboot"), "crashed" (reason: what happened), "restarted" (a new VMM runs
	 * it), "destroyed" (gone); or "lost": events may have been missed (xend restarted, or
	 * the watcher fell more than xend keeps behind): read the domain list again.
	 */
	char event[16];
	unsigned int domid;
	char name[XENO_NAME_MAX + 1];
	char state[16]; /* the domain's state right after the event ("" if it is gone) */
	char reason[96];
};

/*
 * Starts watching from now.  The watcher uses h for its requests (and h's message for its
 * failures): use both from one thread.  Free with xeno_events_close().
 */
int xeno_events_open(struct xeno *h, struct xeno_events **ret);

/*
 * Waits for the next event for at most timeout_ms (-1: no limit; 0: only what has already
 * happened).  Returns 1 with *ret filled, 0 when the time ran out, or -errno (xend cannot be
 * reached, for one: the watcher keeps its place, so call again once it is back).
 */
int xeno_events_next(struct xeno_events *w, int timeout_ms, struct xeno_event *ret);

/* Frees the watcher; NULL is allowed. */
void xeno_events_close(struct xeno_events *w);

/* ---- Host and xend ------------------------------------------------------------------------ */

/* GET /v1/host: host facts (a JSON object text). */
int xeno_host_info_json(struct xeno *h, char **ret_json);

/* GET /v1/version: {"version": "...", "api": N}. */
int xeno_version_json(struct xeno *h, char **ret_json);

/* GET /v1/log?lines=N: {"lines": [...]}, the end of xend's log. */
int xeno_log_lines(struct xeno *h, unsigned int lines, char **ret_json);

/* ---- Network ------------------------------------------------------------------------------ */

/*
 * GET /v1/domains/DOM/network: {"interfaces": [{"index", "mac", "tap", "bridge",
 * "addresses", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "spoof_dropped"}]}.
 */
int xeno_domain_network_json(struct xeno *h, const char *dom, char **ret_json);

/* ---- Storage ------------------------------------------------------------------------------ */

/*
 * GET /v1/domains/DOM/block: {"disks": [{"vdev", "guest_device", "path", "format", "mode",
 * "devtype", "backing", "read_requests", "read_bytes", "write_requests", "write_bytes",
 * "flush_requests", "errors"}]}, in the order the guest sees the disks.
 */
int xeno_domain_block_json(struct xeno *h, const char *dom, char **ret_json);

/* GET /v1/host/nat: {"enabled", "uplink", "redirects": [{"port", "domain", "address"}]}. */
int xeno_nat_json(struct xeno *h, char **ret_json);

/* PUT /v1/host/nat: turns NAT and the ssh redirects on or off; the new state in *ret_json. */
int xeno_nat_set(struct xeno *h, bool enabled, char **ret_json);

#endif
