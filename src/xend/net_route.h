/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Links, addresses, host routes and sysctls of the namespace xend runs in, through
 * rtnetlink (libnl-route-3).  Every call is idempotent: adding what exists replaces it,
 * deleting what is gone succeeds.  Routes carry protocol NET_ROUTE_PROTO so that xend's own
 * are told apart from anyone else's.  Main thread; addresses in host byte order.
 */
#ifndef XEND_NET_ROUTE_H
#define XEND_NET_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* rtnetlink route protocol of xend's routes (`ip route ... proto 249`). */
#define NET_ROUTE_PROTO 249

struct nl_sock;

/* Opens an rtnetlink socket.  Returns 0 and *ret, or -errno. */
int net_route_open(struct nl_sock **ret) __attribute__((warn_unused_result));

/* Closes it; NULL is fine. */
void net_route_close(struct nl_sock *sk);

/*
 * Sets the link ifname up and, if master is not NULL, makes it a port of the bridge master
 * (-ENODEV if master does not exist, -EINVAL if it is not a bridge).  Returns 0 or -errno.
 */
int net_route_link_up(struct nl_sock *sk, const char *ifname, const char *master)
        __attribute__((warn_unused_result));

/* Adds addr/32 noprefixroute to the interface ifindex.  Returns 0 or -errno. */
int net_route_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr)
        __attribute__((warn_unused_result));

/* Adds (or replaces) the route dst/32 dev ifindex src src proto NET_ROUTE_PROTO. */
int net_route_host_add(struct nl_sock *sk, int ifindex, uint32_t dst, uint32_t src)
        __attribute__((warn_unused_result));

/* Deletes xend's route to dst/32 (of any interface); a missing route is fine. */
int net_route_host_del(struct nl_sock *sk, uint32_t dst);

/* Writes value to /proc/sys/PATH ("net/ipv4/ip_forward").  Returns 0 or -errno. */
int net_route_sysctl(const char *path, const char *value) __attribute__((warn_unused_result));

/* The message of the last libnl failure on this thread ("" if none). */
const char *net_route_error(void);

#endif
