/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xend's nftables rules, through libnftables: the script text is built from a domain's plan
 * (or from every domain, for the shared tables) and applied as one transaction, so a change
 * is all there or not at all.  Every script is idempotent: tables, chains, sets and counters
 * are added (a no-op when present), chains and sets flushed and refilled, so applying one
 * twice leaves one copy of each rule and keeps the counters.
 *
 *   table netdev xeno_d<ID>  per domain: one ingress chain per vif, policy drop, accepting
 *                            only the vif's MAC with its addresses (ARP and IPv4); the rest
 *                            counts in spoof_<n>.  IPv6 is dropped: domains have no IPv6
 *                            address.
 *   table inet xeno          shared: the forward chain (169.254/16 stays on the vifs; domain
 *                            traffic leaves through another interface only with NAT on)
 *   table ip xeno_nat        shared, while NAT is on: masquerade, and the ssh redirects
 *                            (host port -> domain:22) in the map `ssh`
 *
 * The *_text functions are pure (any thread); the others use one libnftables context and run
 * on the main thread.
 */
#ifndef XEND_NET_NFT_H
#define XEND_NET_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_plan;

/* One ssh redirect: host TCP port -> addr:22. */
struct net_nat_redirect {
	unsigned int port;
	uint32_t addr;
};

/* What the shared tables are built from. */
struct net_nft_shared {
	bool nat;
	const char *uplink; /* "" for any interface but the vifs */
	const struct net_nat_redirect *redirects;
	size_t nr_redirects;
	const uint32_t *sources; /* the domains' routed addresses: masqueraded */
	size_t nr_sources;
};

/* The script of domain id's table; malloc'd, NULL if out of memory. */
char *net_nft_domain_text(unsigned int id, const struct net_plan *plan);

/* The script that removes domain id's table (whether or not it exists). */
char *net_nft_domain_remove_text(unsigned int id);

/* The script of the shared tables; malloc'd, NULL if out of memory. */
char *net_nft_shared_text(const struct net_nft_shared *s);

/* Runs a script as one transaction.  Returns 0, or -EINVAL with nft's message in err. */
int net_nft_run(const char *script, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Builds and runs the scripts above.  Return 0 or -errno with a message in err. */
int net_nft_domain_apply(unsigned int id, const struct net_plan *plan, char *err, size_t errlen)
        __attribute__((warn_unused_result));
int net_nft_domain_remove(unsigned int id, char *err, size_t errlen);
int net_nft_shared_apply(const struct net_nft_shared *s, char *err, size_t errlen)
        __attribute__((warn_unused_result));
/* Removes table inet xeno and table ip xeno_nat. */
int net_nft_shared_remove(char *err, size_t errlen);

/*
 * The packets counted by spoof_<n> of each vif of domain id, into packets[0 .. n) (0 where
 * there is no counter).  Returns 0 or -errno.
 */
int net_nft_spoof_counters(unsigned int id, uint64_t *packets, size_t n)
        __attribute__((warn_unused_result));

/* Frees the libnftables contexts (at xend's exit). */
void net_nft_close(void);

#endif
