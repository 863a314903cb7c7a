// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink through libnl-route-3: bring a TAP up (and into a bridge), give Domain-0's
 * addresses to it, route each domain address to it, and set the per-interface sysctls.  One
 * request and its acknowledgement per call, on the caller's socket.  Main thread.
 */
#include "xend/net_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static __thread char last_error[128];

const char *net_route_error(void)
{
	return last_error;
}

/* libnl's error codes are not errnos: the ones that matter, and EIO for the rest. */
static int to_errno(int nlerr)
{
	static const struct {
		int nle, err;
	} map[] = {
		{ NLE_EXIST, EEXIST },         { NLE_OBJ_NOTFOUND, ESRCH }, { NLE_NODEV, ENODEV },
		{ NLE_PERM, EPERM },           { NLE_NOMEM, ENOMEM },       { NLE_INVAL, EINVAL },
		{ NLE_NOADDR, EADDRNOTAVAIL }, { NLE_BUSY, EBUSY },         { NLE_RANGE, ERANGE },
		{ NLE_OPNOTSUPP, EOPNOTSUPP },
	};
	int e = nlerr < 0 ? -nlerr : nlerr;

	if (!e)
		return 0;
	snprintf(last_error, sizeof(last_error), "%s", nl_geterror(e));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nle == e)
			return -map[i].err;
	return -EIO;
}

int net_route_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return to_errno(r);
	}
	*ret = sk;
	return 0;
}

void net_route_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

static struct nl_addr *host_addr(uint32_t addr)
{
	uint32_t be = htonl(addr);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));

	if (a)
		nl_addr_set_prefixlen(a, 32);
	return a;
}

static bool is_bridge(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
	return stat(path, &st) == 0;
}

int net_route_link_up(struct nl_sock *sk, const char *ifname, const char *master)
{
	struct rtnl_link *orig = NULL, *chg = NULL;
	int idx = (int)if_nametoindex(ifname), midx = 0, r;

	if (!idx)
		return -ENODEV;
	if (master) {
		midx = (int)if_nametoindex(master);
		if (!midx)
			return -ENODEV;
		if (!is_bridge(master))
			return -EINVAL;
	}
	orig = rtnl_link_alloc();
	chg = rtnl_link_alloc();
	if (!orig || !chg) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_link_set_ifindex(orig, idx);
	rtnl_link_set_flags(chg, IFF_UP);
	if (midx)
		rtnl_link_set_master(chg, midx);
	r = to_errno(rtnl_link_change(sk, orig, chg, 0));
out:
	rtnl_link_put(orig);
	rtnl_link_put(chg);
	return r;
}

int net_route_addr_add(struct nl_sock *sk, int ifindex, uint32_t addr)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = host_addr(addr);
	int r = -ENOMEM;

	if (a && local) {
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_family(a, AF_INET);
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, 32);
		rtnl_addr_set_flags(a, IFA_F_NOPREFIXROUTE);
		r = to_errno(rtnl_addr_add(sk, a, NLM_F_REPLACE));
	}
	nl_addr_put(local);
	rtnl_addr_put(a);
	return r;
}

static struct rtnl_route *host_route(int ifindex, uint32_t dst)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *d = host_addr(dst);
	struct rtnl_nexthop *nh = NULL;

	if (!rt || !d)
		goto fail;
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, NET_ROUTE_PROTO);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	if (rtnl_route_set_dst(rt, d) < 0)
		goto fail;
	nl_addr_put(d);
	d = NULL;
	if (ifindex) {
		nh = rtnl_route_nh_alloc();
		if (!nh)
			goto fail;
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_add_nexthop(rt, nh);
	}
	return rt;
fail:
	nl_addr_put(d);
	rtnl_route_put(rt);
	return NULL;
}

int net_route_host_add(struct nl_sock *sk, int ifindex, uint32_t dst, uint32_t src)
{
	struct rtnl_route *rt = host_route(ifindex, dst);
	struct nl_addr *s = host_addr(src);
	int r = -ENOMEM;

	if (rt && s && rtnl_route_set_pref_src(rt, s) == 0)
		r = to_errno(rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE));
	nl_addr_put(s);
	rtnl_route_put(rt);
	return r;
}

int net_route_host_del(struct nl_sock *sk, uint32_t dst)
{
	struct rtnl_route *rt = host_route(0, dst);
	int r;

	if (!rt)
		return -ENOMEM;
	rtnl_route_set_scope(rt, RT_SCOPE_NOWHERE); /* any scope */
	r = to_errno(rtnl_route_delete(sk, rt, 0));
	rtnl_route_put(rt);
	return r == -ESRCH || r == -ENODEV ? 0 : r;
}

int net_route_sysctl(const char *path, const char *value)
{
	char full[256];
	size_t len = strlen(value);
	ssize_t n;
	int fd, r = 0;

	if ((size_t)snprintf(full, sizeof(full), "/proc/sys/%s", path) >= sizeof(full))
		return -ENAMETOOLONG;
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}
