/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A domain's network as xend plans it before anything is created: its TAPs (vif<id>.<n>),
 * MACs, bridges, the addresses routed to each vif (given, or taken from ip-pool), its
 * link-local address, and the kernel command-line words that tell the guest about them
 * (docs/man/xeno.cfg.5).  The plan is kept in the domain's record so that a restarted xend
 * rebuilds the same network.  Pure functions: no file, no socket, no global state; any
 * thread.
 */
#ifndef XEND_NET_PLAN_H
#define XEND_NET_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct xend_conf;
struct domain_config;

#define NET_VIFS_MAX  8u
#define NET_ADDRS_MAX 256u
#define NET_IFNAME    16u /* IFNAMSIZ */

struct net_vif {
	char tap[NET_IFNAME];    /* vif<id>.<n> */
	char mac[18];            /* xx:xx:xx:xx:xx:xx */
	char bridge[NET_IFNAME]; /* "" when routed */
	uint32_t *addrs;         /* the domain's addresses on it, host byte order */
	size_t nr_addrs;
};

struct net_plan {
	struct net_vif vifs[NET_VIFS_MAX];
	size_t nr_vifs;
	uint32_t linklocal; /* on vif 0 (routed); 0: none */
};

/*
 * Answers whether another domain holds addr: its name (borrowed), or NULL.  Planning asks
 * this for every address it gives or is given.
 */
typedef const char *(*net_owner_fn)(void *opaque, uint32_t addr);

/*
 * Plans the network of domain id with config cfg under conf.  Routed vifs without an address
 * get the next free one of ip-pool; ipaddr addresses not named by a vif go to vif 0; vif 0,
 * when routed and cfg->linklocal, gets linklocal-base + id.  With network = "none" the plan
 * is empty.  Returns 0 and *ret (net_plan_fini() it), or -EINVAL (an unusable or repeated
 * address), -EEXIST (another domain holds an address: err names it), -ENOSPC (the pool is
 * exhausted), -ENOMEM; err holds the message then.
 */
int net_plan_make(const struct xend_conf *conf, const struct domain_config *cfg, unsigned int id,
                  net_owner_fn owner, void *opaque, struct net_plan *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Frees the address arrays and zeroes plan; accepts a zeroed plan. */
void net_plan_fini(struct net_plan *plan);

/* Whether addr is one of the plan's addresses (link-local included). */
bool net_plan_owns(const struct net_plan *plan, uint32_t addr);

/*
 * cmdline (may be NULL) with the words the guest reads appended: ip=, LINKLOCAL=,
 * xeno.addr=, xeno.root_hash=, xeno.ssh_key= — each only when cmdline has no word with the
 * same key.  Returns 0 and a malloc'd string in *ret, -E2BIG when the result would exceed
 * max bytes, or -ENOMEM.
 */
int net_plan_cmdline(const struct net_plan *plan, const struct xend_conf *conf,
                     const struct domain_config *cfg, size_t max, char **ret)
        __attribute__((warn_unused_result));

/* Whether the kernel command line has a word KEY=... or KEY. */
bool net_cmdline_has(const char *cmdline, const char *key);

/* The plan as the domain's record keeps it; NULL if out of memory. */
struct json_object *net_plan_to_json(const struct net_plan *plan);

/* Reads a plan back from its record form; -EBADMSG if malformed, -ENOMEM. */
int net_plan_from_json(struct json_object *obj, struct net_plan *ret)
        __attribute__((warn_unused_result));

#endif
