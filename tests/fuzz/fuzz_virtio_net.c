// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes virtio-net as a hostile guest would, with the host side feeding it frames: the
 * input is a few settings and then guest RAM, which holds both queues and every buffer they
 * point to.  The TAP is one end of a datagram socketpair (the device's TAP stand-in); the
 * fuzzer holds the other end, injects frames there and drains what the guest transmitted.
 * Layout: receive queue at 0x0000 (descriptors), 0x1000 (available), 0x2000 (used);
 * transmit queue at 0x3000, 0x4000, 0x5000.  Header (21 bytes):
 *   [0]     log2 of the receive queue size (mod 9, so 1..256); [1] the same for transmit
 *   [2]     0x01 EVENT_IDX, 0x02 INDIRECT_DESC, 0x04 MRG_RXBUF, 0x08 GUEST_CSUM,
 *           0x10 GUEST_TSO4, 0x20 GUEST_TSO6, 0x40 GUEST_ECN (negotiated, offered or not)
 *   [3]     bits 0-1: rounds - 1; bit 2: receive before transmit in a round; bit 3: 64
 *           more bytes in every injected frame (so that some are too long); bits 4-7: the
 *           offset of one config-space read
 *   [4]     frames injected per round (mod 4)
 *   [5..8]  two frame lengths, le16 each, header included
 *   [9..20] the virtio-net header the injected frames carry
 * Guest RAM is heap memory, so AddressSanitizer sees any access outside it.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/fake_transport.h"
#include "devices/virtio/net.h"

#define RAM_SIZE    (128u * 1024)
#define HEADER_SIZE 21u
#define MAX_INJECT  (65535u + 64u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static struct virtio_dev *dev;
static int sv[2] = { -1, -1 }; /* sv[0]: the device's end (it holds a duplicate) */
static int watched = -1;
static uint8_t frame[MAX_INJECT];

static int init_once(void)
{
	struct virtio_net_config cfg = { .tap_fd = -1, .mac = { 0x52, 0x54, 0, 0, 0, 1 } };

	if (dev)
		return 0;
	/* Not guest_mem_init(): a heap buffer puts ASan's redzones around guest RAM. */
	mem.base = aligned_alloc(4096, RAM_SIZE);
	if (!mem.base || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	guest_mem_layout(&mem, RAM_SIZE);
	cfg.tap_fd = sv[0];
	if (virtio_net_new(&cfg, &dev) < 0)
		return -1;
	dev->mem = &mem;
	return 0;
}

static uint64_t features(uint8_t flags)
{
	static const uint64_t bits[] = {
		VIRTIO_F_EVENT_IDX,      VIRTIO_F_INDIRECT_DESC,  VIRTIO_NET_F_MRG_RXBUF,
		VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
		VIRTIO_NET_F_GUEST_ECN,
	};
	uint64_t f = VIRTIO_F_VERSION_1;

	for (unsigned int i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (flags & (1u << i))
			f |= bits[i];
	return f;
}

/* What a driver does at start and after NEEDS_RESET: reset, set the queues up, DRIVER_OK. */
static int start(const uint8_t *h)
{
	uint64_t f = features(h[2]);
	bool event_idx = f & VIRTIO_F_EVENT_IDX, indirect = f & VIRTIO_F_INDIRECT_DESC;

	dev->ops->reset(dev);
	memset(dev->queues, 0, sizeof(dev->queues));
	fake_transport_clear();
	dev->features = f;
	if (virtq_setup(&dev->queues[VIRTIO_NET_RXQ], &mem, (uint16_t)(1u << (h[0] % 9)), 0x0000,
	                0x1000, 0x2000, event_idx, indirect) < 0 ||
	    virtq_setup(&dev->queues[VIRTIO_NET_TXQ], &mem, (uint16_t)(1u << (h[1] % 9)), 0x3000,
	                0x4000, 0x5000, event_idx, indirect) < 0 ||
	    dev->ops->activate(dev) < 0)
		return -1;
	if (fake_transport.watch_calls)
		watched = fake_transport.last_watched_fd;
	return 0;
}

/* Whether the transport would still call the device: not after NEEDS_RESET. */
static bool live(void)
{
	return !fake_transport.needs_reset_calls;
}

/* A notification as the transport delivers it: a round of one queue's worth of pops. */
static void notify(unsigned int q)
{
	struct virtq *vq = &dev->queues[q];

	for (unsigned int round = 0; round < 4 && live(); round++) {
		vq->budget = vq->size;
		vq->over_budget = false;
		dev->ops->queue_notify(dev, q);
		if (!vq->over_budget)
			break;
	}
}

/* The host sends frames towards the guest; the device reads them when its fd says so. */
static void inject(const uint8_t *h, unsigned int round)
{
	for (unsigned int i = 0; i < h[4] % 4u; i++) {
		const uint8_t *l = h + 5 + 2 * ((round + i) % 2);
		size_t len = (size_t)(l[0] | l[1] << 8) + (h[3] & 8u ? 64u : 0u);

		memcpy(frame, h + 9, len < VIRTIO_NET_HDR_SIZE ? len : VIRTIO_NET_HDR_SIZE);
		for (size_t j = VIRTIO_NET_HDR_SIZE; j < len; j++)
			frame[j] = (uint8_t)j;
		(void)!send(sv[1], frame, len, MSG_DONTWAIT);
	}
	if (watched >= 0 && live())
		dev->ops->fd_ready(dev, watched);
}

/* Empties both directions of the socketpair, so that no input leaks into the next. */
static void drain(void)
{
	while (recv(sv[1], frame, sizeof(frame), MSG_DONTWAIT) >= 0)
		;
	while (recv(sv[0], frame, sizeof(frame), MSG_DONTWAIT) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *h = data;
	unsigned int rounds;
	bool rx_first;
	uint8_t cfg_buf[16];

	if (size < HEADER_SIZE || init_once() < 0)
		return 0;
	rounds = 1u + (h[3] & 3u);
	rx_first = h[3] & 4u;
	data += HEADER_SIZE;
	size -= HEADER_SIZE;
	memset(mem.base, 0, RAM_SIZE);
	memcpy(mem.base, data, size < RAM_SIZE ? size : RAM_SIZE);

	dev->ops->config_read(dev, h[3] >> 4, cfg_buf, sizeof(cfg_buf));
	for (unsigned int i = 0; i < rounds; i++) {
		if ((i == 0 || fake_transport.needs_reset_calls) && start(h) < 0)
			break;
		if (rx_first)
			inject(h, i);
		notify(VIRTIO_NET_TXQ);
		notify(VIRTIO_NET_RXQ);
		if (!rx_first)
			inject(h, i);
		/* What a receive round over budget left for the device's own fd. */
		if (watched >= 0 && live())
			dev->ops->fd_ready(dev, watched);
		(void)recv(sv[1], frame, sizeof(frame), MSG_DONTWAIT);
	}
	dev->ops->reset(dev);
	drain();
	return 0;
}
