/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xend.conf's address pool (ip-pool): which addresses a domain may be given, and the next
 * free one.  Pure functions over host-byte-order IPv4 addresses; any thread.  Who uses an
 * address is the caller's business: it answers through a callback.
 */
#ifndef XEND_NET_POOL_H
#define XEND_NET_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_pool {
	uint32_t net;        /* network address */
	unsigned int prefix; /* 8 .. 30 */
	uint32_t gateway;    /* Domain-0's address, never handed out */
};

/* Whether addr lies in the pool (network and broadcast included). */
bool net_pool_contains(const struct net_pool *pool, uint32_t addr);

/*
 * The lowest address of the pool that is neither its network, broadcast or gateway address
 * nor in use (in_use(opaque, addr) true).  Returns 0 and *ret, or -ENOSPC when every
 * address is taken.
 */
int net_pool_next(const struct net_pool *pool, bool (*in_use)(void *opaque, uint32_t addr),
                  void *opaque, uint32_t *ret) __attribute__((warn_unused_result));

/*
 * Whether addr may be a domain's address at all: not 0.0.0.0/8, loopback, link-local,
 * multicast, reserved or broadcast, and not the pool's network, broadcast or gateway
 * address.  false with a reason in *ret_why ("is link-local").
 */
bool net_addr_usable(const struct net_pool *pool, uint32_t addr, const char **ret_why);

/* Formats addr as a dotted quad into buf (at least 16 bytes); returns buf. */
char *net_addr_format(uint32_t addr, char *buf);

/* Parses a dotted quad; false if s is not one. */
bool net_addr_parse(const char *s, uint32_t *ret);

#endif
