// SPDX-License-Identifier: GPL-2.0-only
/*
 * The address pool: sequential allocation from ip-pool, as Xen 2.0's defaults handed out
 * 10.0.0.N in turn, skipping the network, broadcast and gateway addresses and whatever a
 * domain holds already.  Pure functions; any thread.
 */
#include "xend/net_pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

static uint32_t mask_of(unsigned int prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

bool net_pool_contains(const struct net_pool *pool, uint32_t addr)
{
	return (addr & mask_of(pool->prefix)) == pool->net;
}

int net_pool_next(const struct net_pool *pool, bool (*in_use)(void *opaque, uint32_t addr),
                  void *opaque, uint32_t *ret)
{
	uint32_t bcast = pool->net | ~mask_of(pool->prefix);

	for (uint32_t a = pool->net + 1; a < bcast; a++) {
		if (a == pool->gateway || in_use(opaque, a))
			continue;
		*ret = a;
		return 0;
	}
	return -ENOSPC;
}

bool net_addr_usable(const struct net_pool *pool, uint32_t addr, const char **ret_why)
{
	uint32_t bcast = pool->net | ~mask_of(pool->prefix);

	*ret_why = NULL;
	if ((addr >> 24) == 0)
		*ret_why = "is in 0.0.0.0/8";
	else if ((addr >> 24) == 127)
		*ret_why = "is a loopback address";
	else if ((addr >> 16) == 0xa9fe)
		*ret_why = "is link-local (xend gives each domain its own: 169.254.1.ID)";
	else if ((addr >> 28) >= 14)
		*ret_why = "is a multicast or reserved address";
	else if (addr == pool->gateway)
		*ret_why = "is Domain-0's gateway address";
	else if (net_pool_contains(pool, addr) && (addr == pool->net || addr == bcast))
		*ret_why = addr == pool->net ? "is the pool's network address"
		                             : "is the pool's broadcast address";
	return *ret_why == NULL;
}

char *net_addr_format(uint32_t addr, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
	         addr & 0xff);
	return buf;
}

bool net_addr_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}
