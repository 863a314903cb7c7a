/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-net (virtio 1.2 §5.1) over a TAP device: one receive and one transmit queue whose
 * frames pass between the guest and the TAP with the 12-byte virtio_net_hdr_v1 in front,
 * which the TAP (IFF_VNET_HDR) reads and writes itself, so no packet is ever parsed here.
 * Everything runs on the device's I/O thread, except virtio_net_parse_spec and
 * virtio_net_new (main thread, before the VM runs) and virtio_net_stats (any thread).  The
 * device never exits the VMM and never blocks on the TAP: a guest error puts it in
 * DEVICE_NEEDS_RESET, a frame that cannot be passed on is dropped and counted.
 */
#ifndef XENO_DEVICES_VIRTIO_NET_H
#define XENO_DEVICES_VIRTIO_NET_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

/* Feature bits (§5.1.3). */
#define VIRTIO_NET_F_CSUM       (1ULL << 0) /* device takes frames with a partial checksum */
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1) /* driver takes frames with a partial checksum */
#define VIRTIO_NET_F_MAC        (1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_GUEST_ECN  (1ULL << 9)
#define VIRTIO_NET_F_GUEST_UFO  (1ULL << 10)
#define VIRTIO_NET_F_HOST_TSO4  (1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6  (1ULL << 12)
#define VIRTIO_NET_F_HOST_ECN   (1ULL << 13)
#define VIRTIO_NET_F_MRG_RXBUF  (1ULL << 15)
#define VIRTIO_NET_F_STATUS     (1ULL << 16)

/* struct virtio_net_hdr_v1 (§5.1.6): flags, gso_type and the num_buffers field. */
#define VIRTIO_NET_HDR_SIZE            12u
#define VIRTIO_NET_HDR_F_NEEDS_CSUM    1u
#define VIRTIO_NET_HDR_F_DATA_VALID    2u
#define VIRTIO_NET_HDR_GSO_NONE        0u
#define VIRTIO_NET_HDR_GSO_TCPV4       1u
#define VIRTIO_NET_HDR_GSO_UDP         3u
#define VIRTIO_NET_HDR_GSO_TCPV6       4u
#define VIRTIO_NET_HDR_GSO_ECN         0x80u
#define VIRTIO_NET_HDR_NUM_BUFFERS_OFF 10u

#define VIRTIO_NET_S_LINK_UP 1u /* config status (§5.1.4) */

#define VIRTIO_NET_RXQ        0u
#define VIRTIO_NET_TXQ        1u
#define VIRTIO_NET_QUEUE_SIZE 256u
/* mac[6], status, max_virtqueue_pairs (§5.1.4); mtu and later fields are not offered. */
#define VIRTIO_NET_CONFIG_SIZE 10u
/*
 * The largest frame, header included, in either direction: 64 KiB of GSO payload and
 * headers plus an Ethernet and a VLAN header and ours (the 65562 bytes of §5.1.6.3).
 */
#define VIRTIO_NET_MAX_FRAME 65562u

struct virtio_net_config {
	char tap_name[IFNAMSIZ]; /* attach to (or create) this TAP; "" when tap_fd is used */
	int tap_fd;              /* an open TAP or datagram socket, -1 if none (see below) */
	uint8_t mac[6];          /* the guest's address, offered with VIRTIO_NET_F_MAC */
};

/* Counters; frames and bytes exclude the virtio-net header. */
struct virtio_net_stats {
	uint64_t rx_packets; /* frames given to the guest */
	uint64_t rx_bytes;
	uint64_t rx_dropped; /* read from the TAP, not delivered: too large, bad header, error */
	uint64_t tx_packets; /* frames written to the TAP */
	uint64_t tx_bytes;
	uint64_t tx_dropped; /* shorter than the header, over VIRTIO_NET_MAX_FRAME, TAP full */
};

/* --- configuration ------------------------------------------------------------------------ */

/*
 * Parses an interface spec: "tap=NAME" or "fd=N", then optionally ",mac=xx:xx:xx:xx:xx:xx".
 * Without mac= the address is 52:54:00 followed by three bytes of a hash of the tap name or
 * fd number: stable across runs, distinct for different TAPs.  Returns 0 and fills *ret, or
 * -EINVAL with a one-line message in err (naming the offending key or value, without the
 * spec itself, which the caller prints).  Any thread; opens nothing.
 */
int virtio_net_parse_spec(const char *spec, struct virtio_net_config *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* --- the device ------------------------------------------------------------------------------ */

/*
 * Makes a device on cfg->tap_name (opened on /dev/net/tun with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, created if it does not exist) or on a duplicate of cfg->tap_fd (the caller
 * keeps its fd and may close it).  A passed TAP must have been set up with those three
 * flags; a passed datagram socket (SOCK_DGRAM or SOCK_SEQPACKET) is taken as a TAP stand-in
 * carrying one header-prefixed frame per message, without offloads.  The descriptor is made
 * non-blocking.  Returns 0 and *ret (freed by (*ret)->ops->free), -EINVAL if both or neither
 * of tap_name and tap_fd are given or the fd is neither, or the -errno of the TAP set-up.
 * Main thread.
 */
int virtio_net_new(const struct virtio_net_config *cfg, struct virtio_dev **ret)
        __attribute__((warn_unused_result));

/* A snapshot of dev's counters (dev made by virtio_net_new).  Any thread. */
void virtio_net_stats(const struct virtio_dev *dev, struct virtio_net_stats *ret_stats);

extern const struct virtio_dev_ops virtio_net_ops;

#endif
