// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net (virtio 1.2 §5.1) over a TAP.  Model: the TAP is opened with IFF_VNET_HDR and a
 * 12-byte header (struct virtio_net_hdr_v1), so a frame crosses between a guest buffer and
 * the TAP with its header as is: transmit writes the chain's buffers to the TAP with one
 * writev, receive reads a frame straight into the first receive chain.  When a received
 * frame is longer than that chain (a GSO frame with VIRTIO_NET_F_MRG_RXBUF), the read puts
 * the rest into a 64 KiB bounce buffer behind it, from which it is copied into as many
 * further chains as it needs; all of them go back to the driver in one batch, with
 * num_buffers in the first header.  No packet is parsed here; of the header only flags and
 * gso_type are checked on receive, against what the driver negotiated (§5.1.6.4.1).
 *
 * Event wiring: everything runs on the device's I/O thread.  The transport's loop watches
 * one epoll descriptor of ours (epfd), which holds the TAP while receive can make progress
 * and an eventfd that resumes receive after a round ran out of its budget of pops.  When
 * the receive ring is empty the TAP leaves epfd, so frames wait in the TAP's own queue (and
 * beyond its length the kernel drops them) until the driver adds buffers and notifies: no
 * busy loop, and no frame is read before there is a buffer for it.  Saved state: none yet.
 *
 * Never: block (the TAP is non-blocking; transmit drops a frame the TAP refuses), exit, or
 * trust a guest length (frames are bounded by VIRTIO_NET_MAX_FRAME, chains by the walker).
 * A malformed chain puts the device in DEVICE_NEEDS_RESET.
 */
#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"

#define RX_BUDGET 256u /* frames per call before the I/O thread serves anything else */

/* Offered when the TAP takes them (TUNSETOFFLOAD), with the dependencies of §5.1.3.1. */
#define OFFLOAD_FEATURES                                                             \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |     \
	 VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 | \
	 VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN)
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/* A receive chain of the frame being returned: its head and the bytes written into it. */
struct rx_used {
	uint16_t head;
	uint32_t len;
};

/* Receive state between calls: a chain held for the next frame, or a frame half placed. */
struct rx {
	bool have_head;       /* head popped and not returned yet */
	bool notify_on;       /* the driver was asked to notify new buffers */
	bool spilling;        /* the frame overflowed head; its tail is in bounce */
	uint32_t len;         /* the frame, header included */
	uint32_t tail;        /* bytes of it in bounce */
	uint32_t tail_done;   /* bytes of bounce already copied into further chains */
	unsigned int nr_used; /* chains of the frame so far, head first (when spilling) */
	uint8_t hdr[VIRTIO_NET_HDR_SIZE]; /* the frame's header, read apart from the data */
	struct rx_used used[VIRTQ_MAX_SIZE];
	struct virtq_elem head; /* the first chain of the next frame */
};

struct net {
	struct virtio_dev dev; /* dev.priv points back here */
	int fd;                /* the TAP, or a datagram socket standing in for one */
	int epfd;      /* watched by the transport: fd (while receive can progress), resume_fd */
	int resume_fd; /* eventfd: receive work left when a round ran out of budget */
	bool is_socket;
	bool offloads;     /* the TAP took TUNSETOFFLOAD: OFFLOAD_FEATURES are offered */
	bool watched;      /* epfd handed to the transport (once per device lifetime) */
	bool fd_polled;    /* fd is in epfd */
	bool fd_dead;      /* the TAP went away: receive stops for good */
	bool broken;       /* NEEDS_RESET reported; nothing is served until reset */
	uint64_t features; /* offered */
	uint8_t config[VIRTIO_NET_CONFIG_SIZE]; /* little-endian, fixed at creation */
	struct virtio_net_stats stats; /* I/O thread writes, anyone reads (relaxed atomics) */
	struct log_ratelimit rl;
	/* Scratch and state of the I/O thread, too large for its stack. */
	struct rx rx;
	struct virtq_elem elem; /* transmit chains, and receive chains after a frame's first */
	struct iovec iov[VIRTQ_MAX_SIZE + 2];
	uint8_t bounce[VIRTIO_NET_MAX_FRAME];
};

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static struct virtq *rxq(struct net *n)
{
	return &n->dev.queues[VIRTIO_NET_RXQ];
}

static struct virtq *txq(struct net *n)
{
	return &n->dev.queues[VIRTIO_NET_TXQ];
}

/* --- event wiring --------------------------------------------------------------------------- */

/* Starts or stops reading the TAP: adds it to epfd or takes it out. */
static void poll_fd(struct net *n, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = n->fd };
	int err = 0;

	if (on == n->fd_polled || (on && n->fd_dead))
		return;
	/* DEL rather than an empty event mask: EPOLLERR and EPOLLHUP cannot be masked. */
	if (epoll_ctl(n->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, n->fd, &ev) < 0)
		err = -errno;
	if (err == 0)
		n->fd_polled = on;
	else if (log_ratelimit_allow(&n->rl))
		log_msg(LOG_LEVEL_WARN, err, "virtio-net: cannot %s the TAP",
		        on ? "watch" : "unwatch");
}

static void resume_later(struct net *n)
{
	uint64_t one = 1;

	(void)!write(n->resume_fd, &one, sizeof(one));
}

static void take_resume(struct net *n)
{
	uint64_t v;

	(void)!read(n->resume_fd, &v, sizeof(v));
}

/* Leaves epfd idle: the transport's loop must not see it ready while we serve nothing. */
static void quiesce(struct net *n)
{
	poll_fd(n, false);
	take_resume(n);
}

static void guest_error(struct net *n, const char *why)
{
	n->broken = true;
	quiesce(n);
	virtio_set_needs_reset(&n->dev, why);
}

/* --- receive ------------------------------------------------------------------------------ */

/*
 * Takes the next receive chain.  Returns 1, 0 when the ring is empty (the TAP is then
 * unwatched and the driver asked to notify) or the round's budget is spent (over_budget:
 * the round's owner comes back), or -EINVAL after a guest error.
 */
static int rx_pop(struct net *n, struct virtq_elem *elem)
{
	struct virtq *vq = rxq(n);
	int r;

	for (;;) {
		r = virtq_pop(vq, elem);
		if (r < 0) {
			guest_error(n, "virtio-net: malformed receive chain or ring");
			return r;
		}
		if (r > 0)
			break;
		if (vq->over_budget)
			return 0;
		poll_fd(n, false);
		n->rx.notify_on = true;
		if (!virtq_enable_notify(vq))
			return 0;
	}
	if (n->rx.notify_on) {
		virtq_disable_notify(vq);
		n->rx.notify_on = false;
	}
	/* §5.1.6.3.1: every receive buffer is writable and holds at least a header. */
	if (elem->nr_out || elem->in_len < VIRTIO_NET_HDR_SIZE) {
		guest_error(n,
		            "virtio-net: receive chain shorter than a header or device-readable");
		return -EINVAL;
	}
	return 1;
}

/*
 * iov for one read: our header buffer, the head chain's buffers after its first 12 bytes,
 * then the bounce buffer.  The header is read apart so that it can be checked in our memory.
 */
static int rx_iov(struct net *n)
{
	const struct virtq_elem *e = &n->rx.head;
	size_t skip = VIRTIO_NET_HDR_SIZE;
	int cnt = 0;

	n->iov[cnt++] = (struct iovec){ n->rx.hdr, VIRTIO_NET_HDR_SIZE };
	for (unsigned int i = 0; i < e->nr_in; i++) {
		const struct virtq_buf *b = &e->bufs[i];

		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		n->iov[cnt++] = (struct iovec){ b->hva + skip, b->len - skip };
		skip = 0;
	}
	n->iov[cnt++] = (struct iovec){ n->bounce, sizeof(n->bounce) };
	return cnt;
}

/*
 * Reads one frame.  Returns its length with header, or -EAGAIN (nothing to read), -EPIPE
 * (the TAP is gone: receive stops), or another -errno for a frame lost on the way.
 */
static ssize_t rx_read(struct net *n)
{
	struct msghdr msg = { .msg_iov = n->iov };
	ssize_t len;

	msg.msg_iovlen = (size_t)rx_iov(n);
	do {
		len = n->is_socket ? recvmsg(n->fd, &msg, MSG_DONTWAIT)
		                   : readv(n->fd, n->iov, (int)msg.msg_iovlen);
	} while (len < 0 && errno == EINTR);
	if (len >= 0)
		return (msg.msg_flags & MSG_TRUNC) ? -EMSGSIZE : len;
	switch (errno) {
	case EAGAIN:
		return -EAGAIN;
	/* The frame was consumed but could not be copied out: this frame only. */
	case EFAULT:
	case EINVAL:
	case EMSGSIZE:
	case ENOBUFS:
	case ENOMEM:
		return -errno;
	default:
		/* EBADFD (detached), EIO (unregistering): nothing more will come. */
		log_msg(LOG_LEVEL_WARN, -errno,
		        "virtio-net: TAP read failed; receive stops for good");
		n->fd_dead = true;
		poll_fd(n, false);
		return -EPIPE;
	}
}

/*
 * Checks the header the TAP wrote against the negotiated features (§5.1.6.4.1): no GSO the
 * driver did not ask for, and flags zero without VIRTIO_NET_F_GUEST_CSUM (the TAP may set
 * DATA_VALID on its own).  Returns false for a frame the driver could not take.
 */
static bool rx_hdr_ok(struct net *n)
{
	uint64_t f = n->dev.features;
	uint8_t *hdr = n->rx.hdr;
	uint8_t gso = hdr[1] & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (!(f & VIRTIO_NET_F_GUEST_CSUM)) {
		if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		hdr[0] = 0;
	}
	if ((hdr[1] & VIRTIO_NET_HDR_GSO_ECN) && !(f & VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return f & VIRTIO_NET_F_GUEST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return f & VIRTIO_NET_F_GUEST_TSO6;
	default:
		return false; /* UDP fragmentation and segmentation are never offered */
	}
}

/*
 * Returns a merged frame's chains in one go: every used element first, then used->idx once,
 * so that a driver polling the ring never finds the first buffer without the num_buffers - 1
 * that follow it (Linux drops the frame then, and misreads the rest as frames).  The ring
 * pointers were checked by virtq_setup; this writes nothing else.
 * TODO: move into virtq.c as virtq_push_batch() when the walker grows one.
 */
static void push_batch(struct virtq *vq, const struct rx_used *used, unsigned int nr)
{
	uint16_t idx = vq->used_idx;

	for (unsigned int i = 0; i < nr; i++, idx++) {
		uint8_t *slot = vq->used + 4u + 8u * (idx & (vq->size - 1u));
		uint32_t id = htole32(used[i].head), len = htole32(used[i].len);

		memcpy(slot, &id, sizeof(id));
		memcpy(slot + 4, &len, sizeof(len));
	}
	vq->used_idx = idx;
	vq->inflight = (uint16_t)(vq->inflight - nr);
	/* §2.7.8.2: the elements are visible before the index that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n((uint16_t *)(void *)(vq->used + 2), htole16(idx), __ATOMIC_RELAXED);
}

/* Hands the frame to the driver: header with num_buffers, then its chains. */
static void rx_complete(struct net *n, bool *pushed)
{
	struct rx *rx = &n->rx;
	uint16_t nb = htole16((uint16_t)(rx->spilling ? rx->nr_used : 1));

	memcpy(rx->hdr + VIRTIO_NET_HDR_NUM_BUFFERS_OFF, &nb, sizeof(nb));
	(void)virtq_elem_write(&rx->head, 0, rx->hdr, VIRTIO_NET_HDR_SIZE);
	if (rx->spilling)
		push_batch(rxq(n), rx->used, rx->nr_used);
	else
		virtq_push(rxq(n), &rx->head, rx->len);
	count(&n->stats.rx_packets, 1);
	count(&n->stats.rx_bytes, rx->len - VIRTIO_NET_HDR_SIZE);
	rx->have_head = rx->spilling = false;
	*pushed = true;
}

/*
 * Every chain the ring can hold is ours and the frame still does not fit: drop it and
 * return the chains empty (a driver discards a used buffer shorter than a header).
 */
static void rx_abandon(struct net *n, bool *pushed)
{
	struct rx *rx = &n->rx;

	for (unsigned int i = 0; i < rx->nr_used; i++)
		rx->used[i].len = 0;
	push_batch(rxq(n), rx->used, rx->nr_used);
	count(&n->stats.rx_dropped, 1);
	rx->have_head = rx->spilling = false;
	*pushed = true;
}

/*
 * Copies the frame's tail from bounce into further chains (§5.1.6.4, merged buffers).
 * Returns 1 when the frame is done, 0 when the ring ran dry or the round's budget is spent
 * (we go on at the next round, holding what we have), or -EINVAL after a guest error.
 */
static int rx_spill(struct net *n, bool *pushed)
{
	struct rx *rx = &n->rx;
	size_t w;
	int r;

	while (rx->tail_done < rx->tail) {
		if (rx->nr_used >= rxq(n)->size) {
			rx_abandon(n, pushed);
			return 1;
		}
		r = rx_pop(n, &n->elem);
		if (r <= 0)
			return r;
		w = virtq_elem_write(&n->elem, 0, n->bounce + rx->tail_done,
		                     rx->tail - rx->tail_done);
		rx->used[rx->nr_used++] = (struct rx_used){ n->elem.head, (uint32_t)w };
		rx->tail_done += (uint32_t)w;
	}
	rx_complete(n, pushed);
	return 1;
}

/*
 * Moves one frame from the TAP to the guest.  Returns 1 to go on, 0 to stop (the TAP is
 * empty; or the ring is, and the TAP is unwatched; or the round's budget is spent), or
 * -EINVAL after a guest error.
 */
static int rx_frame(struct net *n, bool *pushed)
{
	struct rx *rx = &n->rx;
	ssize_t len;
	int r;

	if (rx->spilling)
		return rx_spill(n, pushed);
	if (!rx->have_head) {
		r = rx_pop(n, &rx->head);
		if (r <= 0)
			return r;
		rx->have_head = true;
	}
	len = rx_read(n);
	if (len == -EAGAIN) {
		poll_fd(n, true);
		return 0;
	}
	if (len == -EPIPE)
		return 0;
	/* A frame the driver cannot take is dropped; the head waits for the next one. */
	if (len < (ssize_t)VIRTIO_NET_HDR_SIZE || !rx_hdr_ok(n)) {
		count(&n->stats.rx_dropped, 1);
		return 1;
	}
	rx->len = (uint32_t)len;
	if (len <= (ssize_t)rx->head.in_len) {
		rx_complete(n, pushed);
		return 1;
	}
	/* §5.1.6.4.1: without MRG_RXBUF a frame uses a single chain. */
	if (!(n->dev.features & VIRTIO_NET_F_MRG_RXBUF)) {
		count(&n->stats.rx_dropped, 1);
		return 1;
	}
	rx->spilling = true;
	rx->tail = rx->len - (uint32_t)rx->head.in_len;
	rx->tail_done = 0;
	rx->used[0] = (struct rx_used){ rx->head.head, (uint32_t)rx->head.in_len };
	rx->nr_used = 1;
	return rx_spill(n, pushed);
}

static void rx_run(struct net *n)
{
	bool pushed = false;
	int r = 1;

	if (n->broken)
		return;
	/* Receive stopped for good, or the driver did not set its queue up: nothing to wait for. */
	if (n->fd_dead || rxq(n)->size == 0) {
		poll_fd(n, false);
		return;
	}
	for (unsigned int i = 0; i < RX_BUDGET && r > 0; i++)
		r = rx_frame(n, &pushed);
	/* Out of budget, not out of work: come back when the loop has served the others. */
	if (r > 0)
		poll_fd(n, true);
	if (pushed)
		virtio_notify_used(&n->dev, VIRTIO_NET_RXQ);
}

/* --- transmit ----------------------------------------------------------------------------- */

/* Writes one chain's frame to the TAP, or drops and counts it (§5.1.6.2). */
static void tx_frame(struct net *n, const struct virtq_elem *e)
{
	ssize_t w;
	int cnt = 0;

	if (e->out_len < VIRTIO_NET_HDR_SIZE || e->out_len > VIRTIO_NET_MAX_FRAME) {
		count(&n->stats.tx_dropped, 1);
		return;
	}
	/* Device-writable buffers of a transmit chain have no use (§5.1.6.2): ignored. */
	for (unsigned int i = 0; i < e->nr_out; i++)
		n->iov[cnt++] = (struct iovec){ e->bufs[i].hva, e->bufs[i].len };
	do {
		w = writev(n->fd, n->iov, cnt);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		int err = -errno;

		/* The TAP's queue is full (EAGAIN) or it refused the header: never wait. */
		if (err != -EAGAIN && log_ratelimit_allow(&n->rl))
			log_msg(LOG_LEVEL_WARN, err,
			        "virtio-net: TAP write failed; dropping the frame");
		count(&n->stats.tx_dropped, 1);
		return;
	}
	count(&n->stats.tx_packets, 1);
	count(&n->stats.tx_bytes, e->out_len - VIRTIO_NET_HDR_SIZE);
}

static void tx_run(struct net *n)
{
	struct virtq *vq = txq(n);
	bool pushed = false;
	int r;

	if (n->broken || vq->size == 0)
		return;
	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &n->elem)) > 0) {
			tx_frame(n, &n->elem);
			virtq_push(vq, &n->elem, 0);
			pushed = true;
		}
		if (r < 0) {
			guest_error(n, "virtio-net: malformed transmit chain or ring");
			break;
		}
		/* Out of the round's budget: notifications stay off, the transport comes back. */
		if (vq->over_budget)
			break;
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_notify_used(&n->dev, VIRTIO_NET_TXQ);
}

/* --- virtio_dev_ops ------------------------------------------------------------------------ */

static void net_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct net *n = dev->priv;

	if (q == VIRTIO_NET_RXQ)
		rx_run(n);
	else if (q == VIRTIO_NET_TXQ)
		tx_run(n);
}

/* The TAP is readable, or a receive round asked to resume: either way, receive. */
static void net_fd_ready(struct virtio_dev *dev, int fd)
{
	struct net *n = dev->priv;
	struct virtq *vq = rxq(n);

	if (fd != n->epfd || n->broken)
		return;
	take_resume(n);
	/*
	 * A round of the loop that the transport does not budget: it gets one queue's worth of
	 * pops, as a notification does, so that a ring laid over its own indexes cannot keep
	 * the I/O thread here; the rest resumes after the loop's other events.
	 */
	vq->budget = vq->size;
	vq->over_budget = false;
	rx_run(n);
	if (vq->over_budget)
		resume_later(n);
}

static uint64_t net_features(struct virtio_dev *dev)
{
	return ((struct net *)dev->priv)->features;
}

static void net_config_read(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len)
{
	const struct net *n = dev->priv;

	memset(data, 0, len);
	if (offset < sizeof(n->config))
		memcpy(data, n->config + offset,
		       len < sizeof(n->config) - offset ? len : sizeof(n->config) - offset);
}

/* mac is read-only for a modern driver (§5.1.4.2), and nothing else is writable. */
static void net_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
                             uint32_t len)
{
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

/* The TAP offloads that let the TAP hand us what the driver negotiated, and nothing more. */
static unsigned int tun_offloads(uint64_t f)
{
	unsigned int t;

	if (!(f & VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	t = TUN_F_CSUM;
	if (f & VIRTIO_NET_F_GUEST_TSO4)
		t |= TUN_F_TSO4;
	if (f & VIRTIO_NET_F_GUEST_TSO6)
		t |= TUN_F_TSO6;
	if ((f & VIRTIO_NET_F_GUEST_ECN) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
		t |= TUN_F_TSO_ECN;
	return t;
}

static void rx_clear(struct net *n)
{
	n->rx.have_head = n->rx.notify_on = n->rx.spilling = false;
	n->rx.nr_used = 0;
}

static int net_activate(struct virtio_dev *dev)
{
	struct net *n = dev->priv;
	int r;

	rx_clear(n);
	n->broken = false;
	if (n->offloads &&
	    ioctl(n->fd, TUNSETOFFLOAD, (unsigned long)tun_offloads(dev->features)) < 0)
		return -errno;
	if (!n->watched) {
		r = virtio_watch_fd(dev, n->epfd);
		if (r < 0)
			return r;
		n->watched = true;
	}
	/* The first frame pops the first receive chain, or finds none and waits for one. */
	poll_fd(n, true);
	return 0;
}

/* Held chains belong to rings the driver has just torn down: they are forgotten. */
static void net_reset(struct virtio_dev *dev)
{
	struct net *n = dev->priv;

	rx_clear(n);
	n->broken = false;
	quiesce(n);
	/* The next driver may negotiate less: the TAP hands over plain frames meanwhile. */
	if (n->offloads)
		(void)ioctl(n->fd, TUNSETOFFLOAD, 0UL);
}

static void net_free(struct virtio_dev *dev)
{
	struct net *n;

	if (!dev)
		return;
	n = dev->priv;
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->resume_fd >= 0)
		close(n->resume_fd);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}

/* --- set-up --------------------------------------------------------------------------------- */

static int tap_open(const char *name, int *ret_fd)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Duplicates fd and says what it is: a TAP set up as we need it, or a datagram socket. */
static int adopt_fd(int fd, int *ret_fd, bool *ret_is_socket)
{
	const short need = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	struct ifreq ifr = { .ifr_flags = 0 };
	socklen_t len = sizeof(int);
	int dup_fd, type = 0;

	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	if (ioctl(dup_fd, TUNGETIFF, &ifr) == 0) {
		if ((ifr.ifr_flags & need) != need)
			goto err_close;
		*ret_is_socket = false;
	} else if (getsockopt(dup_fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	           type == SOCK_DGRAM) {
		*ret_is_socket = true;
	} else {
		goto err_close;
	}
	*ret_fd = dup_fd;
	return 0;
err_close:
	close(dup_fd);
	return -EINVAL;
}

/* Header size, non-blocking mode, and whether the TAP takes the offloads we would offer. */
static int backend_setup(struct net *n)
{
	int hdr_size = VIRTIO_NET_HDR_SIZE, flags;

	/* The TAP's header follows the host's byte order by default: little-endian on x86. */
	if (!n->is_socket && ioctl(n->fd, TUNSETVNETHDRSZ, &hdr_size) < 0)
		return -errno;
	flags = fcntl(n->fd, F_GETFL);
	if (flags < 0 || fcntl(n->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	if (!n->is_socket && ioctl(n->fd, TUNSETOFFLOAD, (unsigned long)TUN_OFFLOADS) == 0) {
		n->offloads = true;
		/* Until a driver negotiates them (activate). */
		if (ioctl(n->fd, TUNSETOFFLOAD, 0UL) < 0)
			return -errno;
	}
	return 0;
}

static int wiring_setup(struct net *n)
{
	struct epoll_event ev = { .events = EPOLLIN };

	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0)
		return -errno;
	n->resume_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->resume_fd < 0)
		return -errno;
	ev.data.fd = n->resume_fd;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->resume_fd, &ev) < 0)
		return -errno;
	return 0;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

int virtio_net_new(const struct virtio_net_config *cfg, struct virtio_dev **ret)
{
	bool by_name = cfg->tap_name[0] != '\0';
	struct net *n;
	int r;

	if (by_name == (cfg->tap_fd >= 0) || memchr(cfg->tap_name, 0, IFNAMSIZ) == NULL)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->dev.ops = &virtio_net_ops;
	n->dev.priv = n;
	n->fd = n->epfd = n->resume_fd = -1;
	r = by_name ? tap_open(cfg->tap_name, &n->fd)
	            : adopt_fd(cfg->tap_fd, &n->fd, &n->is_socket);
	if (r == 0)
		r = backend_setup(n);
	if (r == 0)
		r = wiring_setup(n);
	if (r < 0) {
		net_free(&n->dev);
		return r;
	}
	n->features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
	              (n->offloads ? OFFLOAD_FEATURES : 0);
	memcpy(n->config, cfg->mac, 6);
	put_le16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + 8, 1); /* max_virtqueue_pairs */
	n->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	*ret = &n->dev;
	return 0;
}

void virtio_net_stats(const struct virtio_dev *dev, struct virtio_net_stats *ret_stats)
{
	const struct net *n = dev->priv;

	*ret_stats = (struct virtio_net_stats){
		.rx_packets = __atomic_load_n(&n->stats.rx_packets, __ATOMIC_RELAXED),
		.rx_bytes = __atomic_load_n(&n->stats.rx_bytes, __ATOMIC_RELAXED),
		.rx_dropped = __atomic_load_n(&n->stats.rx_dropped, __ATOMIC_RELAXED),
		.tx_packets = __atomic_load_n(&n->stats.tx_packets, __ATOMIC_RELAXED),
		.tx_bytes = __atomic_load_n(&n->stats.tx_bytes, __ATOMIC_RELAXED),
		.tx_dropped = __atomic_load_n(&n->stats.tx_dropped, __ATOMIC_RELAXED),
	};
}

/* --- the interface spec ------------------------------------------------------------------- */

struct spec_key {
	const char *name;
	int (*parse)(struct virtio_net_config *c, const char *val, size_t len, char *err,
	             size_t errlen);
};

static int spec_fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int spec_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The kernel's rule for interface names (dev_valid_name). */
static int parse_tap(struct virtio_net_config *c, const char *val, size_t len, char *err,
                     size_t errlen)
{
	bool dots = (len == 1 && val[0] == '.') || (len == 2 && val[0] == '.' && val[1] == '.');
	bool ok = len > 0 && len < IFNAMSIZ && !dots;

	for (size_t i = 0; i < len && ok; i++)
		ok = val[i] != '/' && val[i] != ':' && (unsigned char)val[i] > ' ';
	if (!ok)
		return spec_fail(err, errlen,
		                 "bad TAP name '%.*s' (1 to %d characters, no '/', ':' or spaces)",
		                 (int)len, val, IFNAMSIZ - 1);
	memcpy(c->tap_name, val, len);
	c->tap_name[len] = '\0';
	return 0;
}

static int parse_fd(struct virtio_net_config *c, const char *val, size_t len, char *err,
                    size_t errlen)
{
	long v = 0;

	for (size_t i = 0; i < len && v <= INT_MAX; i++)
		v = (val[i] >= '0' && val[i] <= '9') ? v * 10 + (val[i] - '0') : LONG_MAX;
	if (len == 0 || v > INT_MAX)
		return spec_fail(err, errlen, "bad fd '%.*s' (expected a descriptor number)",
		                 (int)len, val);
	c->tap_fd = (int)v;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_mac(struct virtio_net_config *c, const char *val, size_t len, char *err,
                     size_t errlen)
{
	uint8_t mac[6], any = 0;
	bool ok = len == 17;

	for (unsigned int i = 0; i < 6 && ok; i++) {
		int hi = hex_digit(val[3 * i]), lo = hex_digit(val[3 * i + 1]);

		ok = hi >= 0 && lo >= 0 && (i == 5 || val[3 * i + 2] == ':');
		mac[i] = (uint8_t)(hi << 4 | lo);
		any |= mac[i];
	}
	/* A station address is unicast and not all zeroes. */
	if (!ok || (mac[0] & 1) || !any)
		return spec_fail(err, errlen,
		                 "bad MAC address '%.*s' (expected xx:xx:xx:xx:xx:xx, unicast)",
		                 (int)len, val);
	memcpy(c->mac, mac, sizeof(mac));
	return 0;
}

static const struct spec_key spec_keys[] = {
	{ "tap", parse_tap },
	{ "fd", parse_fd },
	{ "mac", parse_mac },
};

#define NR_SPEC_KEYS (sizeof(spec_keys) / sizeof(spec_keys[0]))

/* 52:54:00 (locally administered, unicast) and 24 bits of FNV-1a over what names the TAP. */
static void default_mac(struct virtio_net_config *c)
{
	char id[32];
	uint32_t h = 2166136261u;

	if (c->tap_name[0])
		snprintf(id, sizeof(id), "tap=%s", c->tap_name);
	else
		snprintf(id, sizeof(id), "fd=%d", c->tap_fd);
	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	c->mac[0] = 0x52;
	c->mac[1] = 0x54;
	c->mac[2] = 0x00;
	c->mac[3] = (uint8_t)(h >> 16);
	c->mac[4] = (uint8_t)(h >> 8);
	c->mac[5] = (uint8_t)h;
}

static int parse_option(struct virtio_net_config *c, const char *opt, size_t len, bool *seen,
                        char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', len);
	size_t klen = eq ? (size_t)(eq - opt) : len;

	if (len == 0)
		return spec_fail(err, errlen, "empty option (expected tap=NAME, fd=N or mac=MAC)");
	for (unsigned int i = 0; i < NR_SPEC_KEYS; i++) {
		if (strlen(spec_keys[i].name) != klen || strncmp(spec_keys[i].name, opt, klen))
			continue;
		if (!eq)
			return spec_fail(err, errlen, "'%s' needs a value (%s=...)",
			                 spec_keys[i].name, spec_keys[i].name);
		if (seen[i])
			return spec_fail(err, errlen, "'%s' given twice", spec_keys[i].name);
		seen[i] = true;
		return spec_keys[i].parse(c, eq + 1, len - klen - 1, err, errlen);
	}
	return spec_fail(err, errlen, "unknown key '%.*s' (expected tap, fd or mac)", (int)klen,
	                 opt);
}

int virtio_net_parse_spec(const char *spec, struct virtio_net_config *ret, char *err, size_t errlen)
{
	struct virtio_net_config c = { .tap_fd = -1 };
	bool seen[NR_SPEC_KEYS] = { false };
	const char *p = spec;
	int r;

	for (;;) {
		const char *end = strchrnul(p, ',');

		r = parse_option(&c, p, (size_t)(end - p), seen, err, errlen);
		if (r < 0)
			return r;
		if (!*end)
			break;
		p = end + 1;
	}
	if (!c.tap_name[0] == (c.tap_fd < 0))
		return spec_fail(err, errlen, "expected one of tap=NAME or fd=N");
	if (!seen[2])
		default_mac(&c);
	*ret = c;
	return 0;
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x020000, /* network, Ethernet */
	.num_queues = 2,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.features = net_features,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.fd_ready = net_fd_ready,
	.reset = net_reset,
	.free = net_free,
};
