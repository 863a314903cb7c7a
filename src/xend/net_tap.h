/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TAP devices for domains: created by xend (the privileged side), handed to the VMM as an
 * open file descriptor.  Non-persistent: a TAP lives as long as some process holds its fd,
 * so it vanishes with the VMM.  Main thread.
 */
#ifndef XEND_NET_TAP_H
#define XEND_NET_TAP_H

/* The lowest fd number xend keeps TAP fds at, above the ones the VMM receives them as. */
#define NET_TAP_FD_MIN 64

/* Domain-0's MAC on every vif, as Xen's vif scripts set it (fe:ff:ff:ff:ff:ff). */
#define NET_TAP_HOST_MAC "\xfe\xff\xff\xff\xff\xff"

/*
 * Creates the TAP name (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, as xeno-vmm's virtio-net needs
 * it).  Returns 0 and a close-on-exec fd >= NET_TAP_FD_MIN in *ret_fd, or -EEXIST (an
 * interface of that name exists), or another -errno.
 */
int net_tap_create(const char *name, int *ret_fd) __attribute__((warn_unused_result));

#endif
