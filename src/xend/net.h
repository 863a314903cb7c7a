/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A domain's network, carried out: plan it at creation (addresses from the pool, the guest's
 * command-line words), set it up before each VMM start (TAPs, Domain-0's addresses, host
 * routes, proxy ARP, the anti-spoofing table), tear it down when the VMM is gone, and rebuild
 * it for the domains a starting xend adopts.  The host side: forwarding, the shared nftables
 * tables, NAT and its ssh redirects.  Everything runs on xend's main thread, inside the
 * network namespace xend was started in; nothing here touches another namespace.
 */
#ifndef XEND_NET_H
#define XEND_NET_H

#include "xend/net_plan.h"

#include <stdbool.h>
#include <stddef.h>

struct domain;
struct domain_table;
struct json_object;

/* The fd number the VMM receives vif n's TAP as (`--net fd=N`). */
#define NET_VMM_FD_BASE 3

/*
 * Plans dom's network (dom->id and dom->cfg set, dom not yet in t): addresses, MACs, TAP
 * names into dom->net, and dom->cfg.cmdline with the guest's words appended.  Returns 0, or
 * -EINVAL, -EEXIST (an address another domain holds), -ENOSPC (pool exhausted), -ENOMEM
 * with a message in err.
 */
int net_domain_plan(struct domain_table *t, struct domain *dom, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Takes the network of a saved domain for dom (restore): the same MACs, addresses and
 * link-local address, TAPs named for dom's id; the guest keeps what it configured.  -EEXIST
 * with err naming the domain when another one holds a MAC or an address, -EINVAL, -ENOMEM.
 */
int net_domain_plan_restored(struct domain_table *t, struct domain *dom,
                             const struct net_plan *saved, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Sets up dom's network before its VMM starts: for each vif a TAP, its anti-spoofing chain,
 * the link up, Domain-0's addresses and the routes to the domain's addresses (or the bridge).
 * On success fds[0 .. nr_vifs) hold the TAPs (close them with net_fds_close() once the VMM
 * has them) and dom->network_setup_us the time it took.  On failure nothing is left behind
 * and err says why.
 */
int net_domain_setup(struct domain *dom, int *fds, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Closes the fds net_domain_setup() returned; -1 entries are skipped and set. */
void net_fds_close(int *fds, size_t n);

/* Removes dom's routes and table (its TAPs go with its VMM).  Idempotent. */
void net_domain_teardown(struct domain *dom);

/* Rebuilds dom's network around the TAPs its running VMM holds (adoption).  Idempotent. */
void net_domain_rebuild(struct domain *dom);

/* GET /v1/domains/DOM/network: {"interfaces": [...]}; NULL if out of memory. */
struct json_object *net_domain_json(struct domain *dom);

/*
 * xend's start: forwarding on, the NAT setting (its record in state-dir, else xend.conf),
 * the shared tables.  Failures are logged; domains without network still work.
 */
void net_host_start(struct domain_table *t);

/* Re-applies the shared tables from the domain table (NAT redirects and sources). */
void net_host_sync(struct domain_table *t);

/*
 * xend's stop: the domains keep their network; the shared tables go only when no domain is
 * left.  Releases the netlink socket and nftables contexts.
 */
void net_host_stop(struct domain_table *t);

/* Turns NAT on or off (and records it).  Returns 0 or -errno with a message in err. */
int net_nat_set(struct domain_table *t, bool on, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* GET /v1/host/nat: {"enabled", "uplink", "redirects": [...]}; NULL if out of memory. */
struct json_object *net_nat_json(struct domain_table *t);

#endif
