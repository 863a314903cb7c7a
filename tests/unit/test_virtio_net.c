// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net against hand-built rings in real guest memory and a real TAP, in a network
 * namespace this test process makes for itself (unshare(CLONE_NEWNET), so it needs root and
 * never touches the host's interfaces).  A packet socket bound to the TAP plays the host:
 * it sees what the guest transmits and injects what the guest receives.  A datagram
 * socketpair stands in for the TAP where a test needs to write the header itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "fake_transport.h"
#include "ring_builder.h"

#define ETHERTYPE_TEST 0x88b5 /* IEEE 802 local experimental */
#define HDR            VIRTIO_NET_HDR_SIZE
#define WAIT_MS        2000

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct fx {
	struct ring rx, tx;
	struct virtio_dev *dev;
	char name[IFNAMSIZ];
	int ifindex;
	int pkt;          /* AF_PACKET socket on the TAP: the host's side */
	int peer;         /* the other end, when the device runs on a socketpair */
	int watched;      /* the fd the device asked the transport to watch */
	uint16_t rx_size; /* of the receive ring; 0 for 256 */
	bool rx_posted;   /* send_with_hdr: a receive buffer is out, at rx_gpa */
	uint16_t rx_head;
	uint64_t rx_gpa;
};

/* --- the namespace and the host's side ------------------------------------------------------ */

static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	/* Without IPv6 in the kernel there is nothing to silence. */
	if (fd < 0)
		return;
	assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	close(fd);
}

static int group_setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_virtio_net: unshare(CLONE_NEWNET): %s (root needed)\n",
		        strerror(errno));
		return -1;
	}
	/* No router solicitations or MLD reports: the guest must see only our frames. */
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	/* Room for more than ten datagrams queued on the TAP's socket stand-in. */
	write_sysctl("/proc/sys/net/unix/max_dgram_qlen", "512");
	return 0;
}

static void link_up(const char *name)
{
	struct ifreq ifr = { .ifr_flags = 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP | IFF_NOARP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

static int packet_socket(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
		                   .sll_protocol = htons(ETH_P_ALL),
		                   .sll_ifindex = ifindex };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return s;
}

static bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

/* An Ethernet frame of len bytes to the guest, of our test type, with a payload pattern. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	memcpy(f, guest_mac, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* The host sends a frame out of the TAP, towards the guest. */
static void inject(struct fx *f, const uint8_t *frame, size_t len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
		                   .sll_ifindex = f->ifindex,
		                   .sll_halen = 6 };

	memcpy(sll.sll_addr, frame, 6);
	assert_int_equal(sendto(f->pkt, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)),
	                 (ssize_t)len);
}

/* The next frame of our type the TAP received from the guest; 0 if none came in time. */
static size_t capture(struct fx *f, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct sockaddr_ll from;
	socklen_t fromlen;
	ssize_t n;

	while (wait_readable(f->pkt, timeout_ms)) {
		fromlen = sizeof(from);
		n = recvfrom(f->pkt, buf, cap, 0, (struct sockaddr *)&from, &fromlen);
		assert_true(n >= 0);
		if (from.sll_pkttype != PACKET_OUTGOING && n >= 14 &&
		    buf[12] == ETHERTYPE_TEST >> 8 && buf[13] == (ETHERTYPE_TEST & 0xff))
			return (size_t)n;
	}
	return 0;
}

/* --- fixtures ----------------------------------------------------------------------------- */

/*
 * A notification as the transport delivers it: a round with one queue's worth of pops, and
 * another round while the device leaves work over budget.
 */
static void notify(struct fx *f, unsigned int q)
{
	struct virtq *vq = &f->dev->queues[q];

	for (unsigned int round = 0; round < 1000; round++) {
		vq->budget = vq->size;
		vq->over_budget = false;
		f->dev->ops->queue_notify(f->dev, q);
		if (!vq->over_budget)
			return;
	}
	fail_msg("queue %u still over budget after 1000 rounds", q);
}

static void start(struct fx *f, uint64_t features)
{
	fake_transport_clear();
	assert_int_equal(ring_init(&f->rx, f->rx_size ? f->rx_size : 256), 0);
	assert_int_equal(ring_init(&f->tx, 256), 0);
	f->dev->mem = &f->rx.mem;
	f->dev->features = features | VIRTIO_F_VERSION_1;
	assert_int_equal(ring_setup_vq(&f->rx, &f->dev->queues[VIRTIO_NET_RXQ], false, true), 0);
	assert_int_equal(ring_setup_vq(&f->tx, &f->dev->queues[VIRTIO_NET_TXQ], false, true), 0);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	if (fake_transport.watch_calls)
		f->watched = fake_transport.last_watched_fd;
	/* The transport's first notifications, as after DRIVER_OK. */
	notify(f, VIRTIO_NET_RXQ);
	notify(f, VIRTIO_NET_TXQ);
}

/* A device on a fresh TAP, with the given features negotiated. */
static struct fx *make_tap_fx(uint64_t features)
{
	static unsigned int serial;
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_net_config cfg = { .tap_fd = -1 };

	assert_non_null(f);
	f->peer = -1;
	snprintf(f->name, sizeof(f->name), "xnet%u", serial++);
	memcpy(cfg.tap_name, f->name, sizeof(f->name));
	memcpy(cfg.mac, guest_mac, 6);
	assert_int_equal(virtio_net_new(&cfg, &f->dev), 0);
	link_up(f->name);
	f->ifindex = (int)if_nametoindex(f->name);
	assert_true(f->ifindex > 0);
	f->pkt = packet_socket(f->ifindex);
	start(f, features);
	assert_int_equal(fake_transport.watch_calls, 1);
	return f;
}

/* A device on one end of a datagram socketpair; the test writes frames on the other. */
static struct fx *make_socket_fx(uint64_t features)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_net_config cfg = { .tap_fd = -1 };
	int sv[2];
	int sndbuf = 64 * 1024;

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	/* A small send buffer, so that a test can fill it. */
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	cfg.tap_fd = sv[0];
	memcpy(cfg.mac, guest_mac, 6);
	assert_int_equal(virtio_net_new(&cfg, &f->dev), 0);
	close(sv[0]); /* the device keeps its own duplicate */
	f->peer = sv[1];
	f->pkt = -1;
	start(f, features);
	assert_int_equal(fake_transport.watch_calls, 1);
	return f;
}

static int setup_plain(void **state)
{
	*state = make_tap_fx(0);
	return 0;
}

static int setup_mrg(void **state)
{
	*state = make_tap_fx(VIRTIO_NET_F_MRG_RXBUF);
	return 0;
}

static int setup_socket(void **state)
{
	*state = make_socket_fx(VIRTIO_NET_F_MRG_RXBUF);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->dev->ops->free(f->dev);
	if (f->pkt >= 0)
		close(f->pkt);
	if (f->peer >= 0)
		close(f->peer);
	ring_fini(&f->rx);
	ring_fini(&f->tx);
	free(f);
	return 0;
}

/* --- driver helpers ------------------------------------------------------------------------- */

static uint16_t add_rx_chain(struct fx *f, uint32_t len, uint64_t *ret_gpa)
{
	struct ring_buf b = { ring_alloc(&f->rx, len), len, true };
	uint16_t head = ring_add_chain(&f->rx, &b, 1);

	ring_publish(&f->rx, head);
	if (ret_gpa)
		*ret_gpa = b.gpa;
	return head;
}

/* Publishes a frame for transmission as two buffers: the header, then the frame. */
static uint16_t add_tx_frame(struct fx *f, const uint8_t *frame, uint32_t len)
{
	uint8_t hdr[HDR] = { 0 };
	struct ring_buf b[2] = {
		{ ring_alloc_copy(&f->tx, hdr, HDR), HDR, false },
		{ ring_alloc_copy(&f->tx, frame, len), len, false },
	};
	uint16_t head = ring_add_chain(&f->tx, b, 2);

	ring_publish(&f->tx, head);
	return head;
}

/* The same in one buffer, as a ring with one descriptor per chain needs. */
static uint16_t add_tx_frame_one(struct fx *f, const uint8_t *frame, uint32_t len)
{
	struct ring_buf b = { ring_alloc(&f->tx, HDR + len), HDR + len, false };
	uint16_t head;

	memcpy((uint8_t *)ring_ptr(&f->tx, b.gpa) + HDR, frame, len);
	head = ring_add_chain(&f->tx, &b, 1);
	ring_publish(&f->tx, head);
	return head;
}

static struct virtio_net_stats stats(struct fx *f)
{
	struct virtio_net_stats s;

	virtio_net_stats(f->dev, &s);
	return s;
}

/* Lets the device read what the host sent, as the transport does when epfd is readable. */
static void deliver(struct fx *f)
{
	assert_true(wait_readable(f->watched, WAIT_MS));
	f->dev->ops->fd_ready(f->dev, f->watched);
}

static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_identity_and_config(void **state)
{
	struct fx *f = *state;
	const struct virtio_dev_ops *ops = f->dev->ops;
	uint64_t feat = ops->features(f->dev);
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE + 2];

	assert_int_equal(ops->device_id, VIRTIO_ID_NET);
	assert_int_equal(ops->pci_class, 0x020000);
	assert_int_equal(ops->num_queues, 2);
	assert_int_equal(ops->queue_max_size, 256);
	assert_true(feat & VIRTIO_NET_F_MAC);
	assert_true(feat & VIRTIO_NET_F_STATUS);
	assert_true(feat & VIRTIO_NET_F_MRG_RXBUF);
	/* A TAP takes every offload we would offer. */
	assert_true(feat & VIRTIO_NET_F_CSUM);
	assert_true(feat & VIRTIO_NET_F_GUEST_TSO4);
	assert_true(feat & VIRTIO_NET_F_HOST_TSO6);
	assert_false(feat & VIRTIO_NET_F_GUEST_UFO);
	ops->config_read(f->dev, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, guest_mac, 6);
	assert_int_equal(get_le16(cfg + 6), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(get_le16(cfg + 8), 1);
	assert_int_equal(get_le16(cfg + 10), 0); /* past the end reads as zero */
}

static void test_tx_frame_reaches_tap(void **state)
{
	struct fx *f = *state;
	uint8_t frame[100], got[2048];
	uint32_t id, len;
	uint16_t head;

	make_frame(frame, sizeof(frame), 1);
	memset(frame, 0xff, 6); /* broadcast */
	head = add_tx_frame(f, frame, sizeof(frame));
	notify(f, VIRTIO_NET_TXQ);

	assert_true(ring_pop_used(&f->tx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(fake_transport.last_notify_queue, VIRTIO_NET_TXQ);
	assert_int_equal(capture(f, got, sizeof(got), WAIT_MS), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_int_equal(stats(f).tx_packets, 1);
	assert_int_equal(stats(f).tx_bytes, sizeof(frame));
	assert_int_equal(stats(f).tx_dropped, 0);
}

static void test_tx_drops_oversized_and_short_frames(void **state)
{
	struct fx *f = *state;
	static uint8_t big[VIRTIO_NET_MAX_FRAME + 1];
	uint8_t got[2048];
	struct ring_buf b[2] = {
		{ ring_alloc(&f->tx, 8), 8, false },
		{ ring_alloc_copy(&f->tx, big, sizeof(big) - 12), sizeof(big) - 12, false },
	};
	uint32_t id, len;
	uint16_t short_head, big_head;

	make_frame(big + HDR, sizeof(big) - HDR, 2);
	memcpy(ring_ptr(&f->tx, b[1].gpa), big + HDR, sizeof(big) - 12);
	short_head = ring_add_chain(&f->tx, &b[0], 1);
	ring_publish(&f->tx, short_head);
	b[0] = (struct ring_buf){ ring_alloc(&f->tx, HDR), HDR, false };
	big_head = ring_add_chain(&f->tx, b, 2); /* 12 + 65551: one byte too many */
	ring_publish(&f->tx, big_head);
	notify(f, VIRTIO_NET_TXQ);

	/* Both go back to the driver, neither reaches the TAP. */
	assert_true(ring_pop_used(&f->tx, &id, &len));
	assert_int_equal(id, short_head);
	assert_true(ring_pop_used(&f->tx, &id, &len));
	assert_int_equal(id, big_head);
	assert_int_equal(stats(f).tx_dropped, 2);
	assert_int_equal(stats(f).tx_packets, 0);
	assert_int_equal(capture(f, got, sizeof(got), 100), 0);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_rx_frame_lands_in_one_buffer(void **state)
{
	struct fx *f = *state;
	uint8_t frame[200];
	uint64_t gpa;
	uint32_t id, len;
	uint16_t head;
	uint8_t *buf;

	head = add_rx_chain(f, 2048, &gpa);
	(void)add_rx_chain(f, 2048, NULL);
	notify(f, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 3);
	inject(f, frame, sizeof(frame));
	deliver(f);

	assert_true(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, HDR + sizeof(frame));
	buf = ring_ptr(&f->rx, gpa);
	assert_int_equal(buf[0], 0); /* flags: zero without GUEST_CSUM (§5.1.6.4.1) */
	assert_int_equal(buf[1], VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(get_le16(buf + VIRTIO_NET_HDR_NUM_BUFFERS_OFF), 1);
	assert_memory_equal(buf + HDR, frame, sizeof(frame));
	assert_false(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(fake_transport.last_notify_queue, VIRTIO_NET_RXQ);
	assert_int_equal(stats(f).rx_packets, 1);
	assert_int_equal(stats(f).rx_bytes, sizeof(frame));
}

/* Checks that the next used entries hold frame over n buffers of buf_len bytes at gpas. */
static void check_merged(struct fx *f, const uint8_t *frame, size_t len, const uint16_t *heads,
                         const uint64_t *gpas, unsigned int n, uint32_t buf_len)
{
	size_t off = 0, total = HDR + len;
	uint32_t id, used;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf = ring_ptr(&f->rx, gpas[i]);
		size_t want = total - off < buf_len ? total - off : buf_len;
		size_t skip = i == 0 ? HDR : 0;

		assert_true(ring_pop_used(&f->rx, &id, &used));
		assert_int_equal(id, heads[i]);
		assert_int_equal(used, want);
		if (i == 0)
			assert_int_equal(get_le16(buf + VIRTIO_NET_HDR_NUM_BUFFERS_OFF), n);
		assert_memory_equal(buf + skip, frame + (off + skip - HDR), want - skip);
		off += want;
	}
	assert_int_equal(off, total);
}

static void test_rx_merges_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[250];
	uint64_t gpas[3];
	uint16_t heads[3];
	uint32_t id, len;

	for (unsigned int i = 0; i < 3; i++)
		heads[i] = add_rx_chain(f, 100, &gpas[i]);
	notify(f, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 4);
	inject(f, frame, sizeof(frame));
	deliver(f);

	check_merged(f, frame, sizeof(frame), heads, gpas, 3, 100); /* 100 + 100 + 62 */
	assert_false(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(stats(f).rx_packets, 1);
	assert_int_equal(fake_transport.notify_calls, 1); /* one per batch */
}

/* With no buffer the TAP is left alone (no busy loop), and nothing is lost meanwhile. */
static void test_rx_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[300];
	uint64_t gpa;
	uint32_t id, len;
	uint16_t head;

	/* The first notify found the ring empty: the TAP is not even watched. */
	make_frame(frame, sizeof(frame), 5);
	inject(f, frame, sizeof(frame));
	assert_false(wait_readable(f->watched, 100));
	assert_int_equal(stats(f).rx_dropped, 0);
	assert_false(ring_pop_used(&f->rx, &id, &len));
	/* The driver was asked for a notification: used->flags has no NO_NOTIFY. */
	assert_int_equal(ring_used_flags(&f->rx) & VIRTQ_USED_F_NO_NOTIFY, 0);

	head = add_rx_chain(f, 2048, &gpa);
	notify(f, VIRTIO_NET_RXQ);
	assert_true(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, HDR + sizeof(frame));
	assert_memory_equal((uint8_t *)ring_ptr(&f->rx, gpa) + HDR, frame, sizeof(frame));
}

/* A frame that needs more buffers than there are waits, half placed, for the next notify. */
static void test_rx_merged_frame_waits_for_more_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[250], second[60];
	uint64_t gpas[4];
	uint16_t heads[4];
	uint32_t id, len;

	heads[0] = add_rx_chain(f, 100, &gpas[0]);
	heads[1] = add_rx_chain(f, 100, &gpas[1]);
	notify(f, VIRTIO_NET_RXQ);
	make_frame(frame, sizeof(frame), 6);
	make_frame(second, sizeof(second), 7);
	inject(f, frame, sizeof(frame));
	inject(f, second, sizeof(second));
	deliver(f);
	assert_false(ring_pop_used(&f->rx, &id, &len));
	assert_false(wait_readable(f->watched, 100)); /* the TAP waits with the second frame */

	heads[2] = add_rx_chain(f, 100, &gpas[2]);
	heads[3] = add_rx_chain(f, 100, &gpas[3]);
	notify(f, VIRTIO_NET_RXQ);
	check_merged(f, frame, sizeof(frame), heads, gpas, 3, 100);
	check_merged(f, second, sizeof(second), heads + 3, gpas + 3, 1, 100);
	assert_int_equal(stats(f).rx_packets, 2);
	assert_int_equal(stats(f).rx_dropped, 0);
}

/* Without MRG_RXBUF a frame must fit one chain; one that does not is dropped, not the chain. */
static void test_rx_without_mrg_drops_frame_too_big(void **state)
{
	struct fx *f = *state;
	uint8_t big[250], small[60];
	uint64_t gpa;
	uint32_t id, len;
	uint16_t head;

	head = add_rx_chain(f, 100, &gpa);
	(void)add_rx_chain(f, 100, NULL);
	notify(f, VIRTIO_NET_RXQ);
	make_frame(big, sizeof(big), 8);
	make_frame(small, sizeof(small), 9);
	inject(f, big, sizeof(big));
	inject(f, small, sizeof(small));
	deliver(f);
	if (stats(f).rx_packets == 0)
		deliver(f); /* the second frame may come a little later */

	assert_true(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, HDR + sizeof(small));
	assert_memory_equal((uint8_t *)ring_ptr(&f->rx, gpa) + HDR, small, sizeof(small));
	assert_int_equal(stats(f).rx_dropped, 1);
	assert_int_equal(stats(f).rx_packets, 1);
}

static void test_rx_chain_without_room_for_header_needs_reset(void **state)
{
	struct fx *f = *state;
	uint8_t frame[60];

	make_frame(frame, sizeof(frame), 10);
	inject(f, frame, sizeof(frame));
	(void)add_rx_chain(f, 8, NULL);
	notify(f, VIRTIO_NET_RXQ);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	/* The device went quiet: nothing keeps the transport's loop busy. */
	assert_false(wait_readable(f->watched, 100));
}

static void test_tx_bad_descriptor_needs_reset_then_reset_recovers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[64], got[2048];
	uint32_t id, len;

	ring_set_desc(&f->tx, 0, RING_MEM_SIZE - 8, 64, 0, 0); /* runs off the end of RAM */
	ring_publish(&f->tx, 0);
	notify(f, VIRTIO_NET_TXQ);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	assert_false(ring_pop_used(&f->tx, &id, &len));

	/* The driver resets and starts over on fresh rings; the TAP is watched only once. */
	f->dev->ops->reset(f->dev);
	ring_fini(&f->rx);
	ring_fini(&f->tx);
	memset(f->dev->queues, 0, sizeof(f->dev->queues));
	start(f, 0);
	assert_int_equal(fake_transport.watch_calls, 0);
	make_frame(frame, sizeof(frame), 11);
	(void)add_tx_frame(f, frame, sizeof(frame));
	notify(f, VIRTIO_NET_TXQ);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
	assert_int_equal(capture(f, got, sizeof(got), WAIT_MS), sizeof(frame));
}

/* A round that runs out of budget stops there and leaves the rest to the next round. */
static void test_tx_stops_at_the_round_budget(void **state)
{
	struct fx *f = *state;
	struct virtq *vq = &f->dev->queues[VIRTIO_NET_TXQ];
	uint8_t frame[60];
	uint32_t id, len;
	unsigned int used = 0;

	make_frame(frame, sizeof(frame), 12);
	for (unsigned int i = 0; i < 200; i++)
		(void)add_tx_frame_one(f, frame, sizeof(frame));
	vq->budget = 150;
	vq->over_budget = false;
	f->dev->ops->queue_notify(f->dev, VIRTIO_NET_TXQ);
	assert_true(vq->over_budget);
	while (ring_pop_used(&f->tx, &id, &len))
		used++;
	assert_int_equal(used, 150);
	/* Notifications stayed off: the transport's next round comes without the driver. */
	assert_int_equal(ring_used_flags(&f->tx) & VIRTQ_USED_F_NO_NOTIFY, VIRTQ_USED_F_NO_NOTIFY);
	notify(f, VIRTIO_NET_TXQ);
	while (ring_pop_used(&f->tx, &id, &len))
		used++;
	assert_int_equal(used, 200);
	assert_int_equal(stats(f).tx_packets + stats(f).tx_dropped, 200);
}

/* What the TAP's netdev offloads now (legacy ethtool get, e.g. ETHTOOL_GTSO). */
static uint32_t ethtool_get(const char *name, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr = { .ifr_data = (char *)&ev };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCETHTOOL, &ifr), 0);
	close(s);
	return ev.data;
}

/* The driver resets the device and comes back on fresh rings with other features. */
static void restart(struct fx *f, uint64_t features)
{
	f->dev->ops->reset(f->dev);
	ring_fini(&f->rx);
	ring_fini(&f->tx);
	memset(f->dev->queues, 0, sizeof(f->dev->queues));
	start(f, features);
}

static void test_tap_offloads_follow_negotiation(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ethtool_get(f->name, ETHTOOL_GTSO), 0);
	assert_int_equal(ethtool_get(f->name, ETHTOOL_GTXCSUM), 0);
	restart(f, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |
	                   VIRTIO_NET_F_MRG_RXBUF);
	assert_int_not_equal(ethtool_get(f->name, ETHTOOL_GTSO), 0);
	assert_int_not_equal(ethtool_get(f->name, ETHTOOL_GTXCSUM), 0);
	/* TSO without GUEST_CSUM is not a valid set (§5.1.3.1): the TAP gets nothing. */
	restart(f, VIRTIO_NET_F_GUEST_TSO4);
	assert_int_equal(ethtool_get(f->name, ETHTOOL_GTSO), 0);
	assert_int_equal(ethtool_get(f->name, ETHTOOL_GTXCSUM), 0);
	f->dev->ops->reset(f->dev);
	assert_int_equal(ethtool_get(f->name, ETHTOOL_GTSO), 0);
}

/* --- the socket stand-in: headers the test writes itself ------------------------------------- */

/* The peer sends hdr + a frame of len bytes; returns the used length the guest got, or 0. */
static uint32_t send_with_hdr(struct fx *f, uint8_t flags, uint8_t gso, size_t len,
                              uint8_t *ret_hdr)
{
	static uint8_t msg[HDR + 4096];
	uint32_t id, used;

	assert_true(len <= sizeof(msg) - HDR);
	memset(msg, 0, HDR);
	msg[0] = flags;
	msg[1] = gso;
	msg[10] = 0x77; /* num_buffers: garbage the device must overwrite */
	msg[11] = 0x77;
	make_frame(msg + HDR, len, 13);
	/* One buffer at a time; a dropped frame leaves it to the next. */
	if (!f->rx_posted) {
		f->rx_head = add_rx_chain(f, 2048, &f->rx_gpa);
		f->rx_posted = true;
		notify(f, VIRTIO_NET_RXQ);
	}
	assert_int_equal(send(f->peer, msg, HDR + len, 0), (ssize_t)(HDR + len));
	deliver(f);
	if (!ring_pop_used(&f->rx, &id, &used))
		return 0;
	f->rx_posted = false;
	assert_int_equal(id, f->rx_head);
	memcpy(ret_hdr, ring_ptr(&f->rx, f->rx_gpa), HDR);
	assert_memory_equal((uint8_t *)ring_ptr(&f->rx, f->rx_gpa) + HDR, msg + HDR, used - HDR);
	return used;
}

static void test_rx_header_checked_against_features(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[HDR];
	uint32_t id, len;

	/* DATA_VALID is cleared without GUEST_CSUM; num_buffers is ours. */
	assert_int_equal(send_with_hdr(f, VIRTIO_NET_HDR_F_DATA_VALID, 0, 60, hdr), HDR + 60);
	assert_int_equal(hdr[0], 0);
	assert_int_equal(get_le16(hdr + VIRTIO_NET_HDR_NUM_BUFFERS_OFF), 1);
	/* A partial checksum or a GSO frame the driver did not negotiate is dropped. */
	assert_int_equal(send_with_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 60, hdr), 0);
	assert_int_equal(send_with_hdr(f, 0, VIRTIO_NET_HDR_GSO_TCPV4, 60, hdr), 0);
	assert_int_equal(stats(f).rx_dropped, 2);
	assert_int_equal(stats(f).rx_packets, 1);

	restart(f, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_MRG_RXBUF);
	f->rx_posted = false;
	assert_int_equal(
	        send_with_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1000, hdr),
	        HDR + 1000);
	assert_int_equal(hdr[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(hdr[1], VIRTIO_NET_HDR_GSO_TCPV4);
	/* TCPv6, ECN and UDP were not negotiated; a message shorter than a header is no frame. */
	assert_int_equal(send_with_hdr(f, 0, VIRTIO_NET_HDR_GSO_TCPV6, 60, hdr), 0);
	assert_int_equal(
	        send_with_hdr(f, 0, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 60, hdr), 0);
	assert_int_equal(send_with_hdr(f, 0, VIRTIO_NET_HDR_GSO_UDP, 60, hdr), 0);
	assert_int_equal(send(f->peer, "short", 5, 0), 5);
	deliver(f);
	assert_false(ring_pop_used(&f->rx, &id, &len));
	assert_int_equal(stats(f).rx_dropped, 2 + 4); /* counters outlive a reset */
}

/* Every buffer of the ring is too little for the frame: it is dropped, the buffers returned. */
static void test_rx_frame_larger_than_ring_is_dropped(void **state)
{
	struct fx *f = *state;
	static uint8_t msg[HDR + 4000];
	uint32_t id, len;
	unsigned int n = 0;

	for (unsigned int i = 0; i < 256; i++)
		(void)add_rx_chain(f, HDR, NULL);
	notify(f, VIRTIO_NET_RXQ);
	make_frame(msg + HDR, sizeof(msg) - HDR, 14);
	assert_int_equal(send(f->peer, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	deliver(f);
	while (ring_pop_used(&f->rx, &id, &len)) {
		assert_int_equal(len, 0);
		n++;
	}
	assert_int_equal(n, 256);
	assert_int_equal(stats(f).rx_dropped, 1);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

/*
 * A guest lays its receive buffer over the available ring, so that the header the device
 * writes there (its hdr_len over avail->idx) offers four more chains with every frame: an
 * endless ring.  Each round of the loop gets one queue's worth, and the rest still comes.
 */
static void test_rx_ring_over_its_own_index_is_served_a_round_at_a_time(void **state)
{
	struct fx *f = *state;
	uint8_t msg[HDR + 4] = { 0 };
	unsigned int rounds = 0, used = 0;
	uint32_t id, len;

	f->rx_size = 4;
	restart(f, 0);
	for (uint16_t i = 0; i < 4; i++)
		ring_set_desc(&f->rx, i, RING_AVAIL_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_publish(&f->rx, 0);
	notify(f, VIRTIO_NET_RXQ);
	for (uint16_t k = 0; k < 40; k++) {
		uint16_t idx = htole16((uint16_t)(k + 5)); /* four past the next chain */

		memcpy(msg + 2, &idx, 2);
		memcpy(msg + 4, "\0\0\1\0\2\0", 6); /* heads 0, 1, 2 and num_buffers (1) */
		assert_int_equal(send(f->peer, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	}
	while (wait_readable(f->watched, 0)) {
		unsigned int before = used;

		f->dev->ops->fd_ready(f->dev, f->watched);
		while (ring_pop_used(&f->rx, &id, &len))
			used++;
		assert_true(used - before <= 5); /* a held chain and one queue's worth */
		assert_true(++rounds < 100);
	}
	assert_int_equal(used, 40);
	assert_true(rounds >= 8);
	assert_int_equal(stats(f).rx_packets, 40);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_tx_header_passes_unchanged(void **state)
{
	struct fx *f = *state;
	uint8_t msg[HDR + 64], got[256];
	struct ring_buf b;
	uint16_t head;

	memset(msg, 0, HDR);
	msg[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	msg[6] = 34; /* csum_start */
	msg[8] = 16; /* csum_offset */
	make_frame(msg + HDR, 64, 15);
	b = (struct ring_buf){ ring_alloc_copy(&f->tx, msg, sizeof(msg)), sizeof(msg), false };
	head = ring_add_chain(&f->tx, &b, 1);
	ring_publish(&f->tx, head);
	notify(f, VIRTIO_NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), (ssize_t)sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
}

/* A peer that does not read: frames are dropped and counted, the device never waits. */
static void test_tx_drops_when_backend_full(void **state)
{
	struct fx *f = *state;
	static uint8_t frame[4000];
	uint32_t id, len;
	unsigned int used = 0;

	make_frame(frame, sizeof(frame), 16);
	for (unsigned int i = 0; i < 100; i++)
		(void)add_tx_frame_one(f, frame, sizeof(frame));
	notify(f, VIRTIO_NET_TXQ);
	while (ring_pop_used(&f->tx, &id, &len))
		used++;
	assert_int_equal(used, 100);
	assert_true(stats(f).tx_dropped > 0);
	assert_true(stats(f).tx_packets > 0);
	assert_int_equal(stats(f).tx_packets + stats(f).tx_dropped, 100);
}

/* --- creation --------------------------------------------------------------------------------- */

static int open_tap(const char *name, short flags)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	return fd;
}

static void test_new_checks_its_backend(void **state)
{
	struct virtio_net_config cfg = { .tap_name = "xnew0", .tap_fd = -1 };
	struct virtio_dev *dev = NULL;
	int fd;

	(void)state;
	/* Exactly one of a name and a descriptor. */
	cfg.tap_fd = 0;
	assert_int_equal(virtio_net_new(&cfg, &dev), -EINVAL);
	cfg = (struct virtio_net_config){ .tap_fd = -1 };
	assert_int_equal(virtio_net_new(&cfg, &dev), -EINVAL);
	/* Neither a TAP nor a datagram socket, an unattached tun fd, a TAP without headers. */
	cfg.tap_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_int_equal(virtio_net_new(&cfg, &dev), -EINVAL);
	close(cfg.tap_fd);
	cfg.tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_int_equal(virtio_net_new(&cfg, &dev), -EINVAL);
	close(cfg.tap_fd);
	cfg.tap_fd = open_tap("xnew1", IFF_TAP | IFF_NO_PI);
	assert_int_equal(virtio_net_new(&cfg, &dev), -EINVAL);
	close(cfg.tap_fd);
	/* A TAP opened as we need it, by the caller (as xend does). */
	fd = open_tap("xnew2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	cfg.tap_fd = fd;
	assert_int_equal(virtio_net_new(&cfg, &dev), 0);
	close(fd);
	assert_true(dev->ops->features(dev) & VIRTIO_NET_F_GUEST_CSUM);
	dev->ops->free(dev);
}

/* --- the interface spec ------------------------------------------------------------------- */

static void test_spec_accepts_tap_fd_and_mac(void **state)
{
	struct virtio_net_config c, d;
	char err[128] = "";

	(void)state;
	assert_int_equal(virtio_net_parse_spec("tap=vif1.0", &c, err, sizeof(err)), 0);
	assert_string_equal(c.tap_name, "vif1.0");
	assert_int_equal(c.tap_fd, -1);
	/* The default address: 52:54:00, locally administered and unicast, and stable. */
	assert_memory_equal(c.mac, "\x52\x54\x00", 3);
	assert_int_equal(virtio_net_parse_spec("tap=vif1.0", &d, err, sizeof(err)), 0);
	assert_memory_equal(c.mac, d.mac, 6);
	assert_int_equal(virtio_net_parse_spec("tap=vif2.0", &d, err, sizeof(err)), 0);
	assert_memory_not_equal(c.mac, d.mac, 6);

	assert_int_equal(virtio_net_parse_spec("fd=7,mac=02:AA:bb:cc:dd:0e", &c, err, sizeof(err)),
	                 0);
	assert_int_equal(c.tap_fd, 7);
	assert_string_equal(c.tap_name, "");
	assert_memory_equal(c.mac, "\x02\xaa\xbb\xcc\xdd\x0e", 6);
	assert_int_equal(virtio_net_parse_spec("mac=52:54:00:00:00:01,tap=t", &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.tap_name, "t");
	assert_int_equal(virtio_net_parse_spec("fd=3", &d, err, sizeof(err)), 0);
	assert_memory_equal(d.mac, "\x52\x54\x00", 3);
}

static void expect_spec_error(const char *spec, const char *message)
{
	struct virtio_net_config c = { .tap_fd = 42 };
	char err[160] = "";

	assert_int_equal(virtio_net_parse_spec(spec, &c, err, sizeof(err)), -EINVAL);
	if (!strstr(err, message))
		fail_msg("spec '%s': message '%s' lacks '%s'", spec, err, message);
	assert_int_equal(c.tap_fd, 42); /* untouched on failure */
}

static void test_spec_rejects_with_a_message(void **state)
{
	(void)state;
	expect_spec_error("tap=x,foo=1", "unknown key 'foo' (expected tap, fd or mac)");
	expect_spec_error("bridge=br0", "unknown key 'bridge'");
	expect_spec_error("", "empty option");
	expect_spec_error("tap=x,", "empty option");
	expect_spec_error("tap", "'tap' needs a value");
	expect_spec_error("tap=x,tap=y", "'tap' given twice");
	expect_spec_error("tap=x,fd=3", "expected one of tap=NAME or fd=N");
	expect_spec_error("mac=52:54:00:00:00:01", "expected one of tap=NAME or fd=N");
	expect_spec_error("tap=", "bad TAP name ''");
	expect_spec_error("tap=abcdefghijklmnop", "bad TAP name 'abcdefghijklmnop'");
	expect_spec_error("tap=a/b", "bad TAP name");
	expect_spec_error("tap=..", "bad TAP name");
	expect_spec_error("fd=-1", "bad fd '-1'");
	expect_spec_error("fd=", "bad fd");
	expect_spec_error("fd=3x", "bad fd '3x'");
	expect_spec_error("fd=99999999999", "bad fd");
	expect_spec_error("tap=x,mac=01:00:5e:00:00:01", "bad MAC address '01:00:5e:00:00:01'");
	expect_spec_error("tap=x,mac=00:00:00:00:00:00", "unicast");
	expect_spec_error("tap=x,mac=52:54:00:12:34", "bad MAC address");
	expect_spec_error("tap=x,mac=52-54-00-12-34-56", "bad MAC address");
	expect_spec_error("tap=x,mac=52:54:00:12:34:5g", "bad MAC address");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_config, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_tx_frame_reaches_tap, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_tx_drops_oversized_and_short_frames,
		                                setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame_lands_in_one_buffer, setup_plain,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_rx_merges_buffers, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_merged_frame_waits_for_more_buffers,
		                                setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_without_mrg_drops_frame_too_big,
		                                setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_chain_without_room_for_header_needs_reset,
		                                setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(
		        test_tx_bad_descriptor_needs_reset_then_reset_recovers, setup_plain,
		        teardown),
		cmocka_unit_test_setup_teardown(test_tx_stops_at_the_round_budget, setup_plain,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tap_offloads_follow_negotiation, setup_plain,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_rx_header_checked_against_features,
		                                setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame_larger_than_ring_is_dropped,
		                                setup_socket, teardown),
		cmocka_unit_test_setup_teardown(
		        test_rx_ring_over_its_own_index_is_served_a_round_at_a_time, setup_socket,
		        teardown),
		cmocka_unit_test_setup_teardown(test_tx_header_passes_unchanged, setup_socket,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tx_drops_when_backend_full, setup_socket,
		                                teardown),
		cmocka_unit_test(test_new_checks_its_backend),
		cmocka_unit_test(test_spec_accepts_tap_fd_and_mac),
		cmocka_unit_test(test_spec_rejects_with_a_message),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
