// SPDX-License-Identifier: GPL-2.0-only
/*
 * TAP creation through /dev/net/tun.  xend opens the TAP and passes the fd; xeno-vmm never
 * needs the privilege to create one.  Main thread.
 */
#include "xend/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int net_tap_create(const char *name, int *ret_fd)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd, high, r;

	/* TUNSETIFF attaches to an existing TAP of that name: refuse to take over one. */
	if (if_nametoindex(name))
		return -EEXIST;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/*
	 * Xen's vif MAC on Domain-0's side of every vif: the guest's gateway keeps its MAC
	 * across a save and restore (a new TAP), so its ARP cache stays right and its TCP
	 * connections go on at once.  Each vif is a link of its own, so they may all share it.
	 */
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, NET_TAP_HOST_MAC, 6);
	if (ioctl(fd, SIOCSIFHWADDR, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Out of the way of the numbers the VMM receives TAPs as (3, 4 ...). */
	high = fcntl(fd, F_DUPFD_CLOEXEC, NET_TAP_FD_MIN);
	r = high < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	*ret_fd = high;
	return 0;
}
