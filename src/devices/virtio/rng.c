// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng (virtio 1.2 §5.4).  Model: each chain's device-writable buffers are filled with
 * getrandom(GRND_NONBLOCK), up to VIRTIO_RNG_MAX_REQUEST bytes, and returned with the count;
 * the device MAY use less than the whole buffer (§5.4.6.2).  Event wiring: queue_notify on
 * the device's I/O thread only.  Saved state: none.  The guest never makes this code wait:
 * no blocking read, no entropy-pool wait.
 */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct rng {
	struct virtio_dev dev;  /* dev.priv points back here */
	bool broken;            /* NEEDS_RESET reported; nothing is served until reset */
	struct virtq_elem elem; /* scratch of the I/O thread, too large for its stack */
};

/*
 * Fills up to len bytes at p.  Returns the count, which is short only if the host's pool is
 * not initialised yet (EAGAIN): the guest then gets what there is, possibly nothing.
 */
static size_t fill(uint8_t *p, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = getrandom(p + done, len - done, GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/*
 * Returns the bytes written from the start of the in buffers.  A chain without any (the
 * driver MUST NOT send device-readable buffers, §5.4.6.1) goes back with 0.
 */
static uint32_t serve(const struct virtq_elem *e)
{
	size_t left = VIRTIO_RNG_MAX_REQUEST, done = 0;

	for (unsigned int i = e->nr_out; i < e->nr_out + e->nr_in && left > 0; i++) {
		size_t want = e->bufs[i].len < left ? e->bufs[i].len : left;
		size_t n = fill(e->bufs[i].hva, want);

		done += n;
		left -= n;
		if (n < want)
			break;
	}
	return (uint32_t)done;
}

static void rng_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct rng *s = dev->priv;
	struct virtq *vq = &dev->queues[0];
	bool pushed = false;
	int r;

	/* A queue the driver never enabled has size 0 and no rings: nothing to serve. */
	if (q != 0 || s->broken || vq->broken || vq->size == 0)
		return;
	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &s->elem)) > 0) {
			virtq_push(vq, &s->elem, serve(&s->elem));
			pushed = true;
		}
		if (r < 0) {
			s->broken = true;
			virtio_set_needs_reset(dev,
			                       "virtio-rng: malformed descriptor chain or ring");
			break;
		}
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_notify_used(dev, 0);
}

static uint64_t rng_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0;
}

/* No configuration space (§5.4.4): reads are zeroes, writes are ignored. */
static void rng_config_read(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	memset(data, 0, len);
}

static void rng_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
                             uint32_t len)
{
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

static int rng_activate(struct virtio_dev *dev)
{
	((struct rng *)dev->priv)->broken = false;
	return 0;
}

static void rng_reset(struct virtio_dev *dev)
{
	((struct rng *)dev->priv)->broken = false;
}

static void rng_free(struct virtio_dev *dev)
{
	if (dev)
		free(dev->priv);
}

int virtio_rng_new(struct virtio_dev **ret)
{
	struct rng *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dev.ops = &virtio_rng_ops;
	s->dev.priv = s;
	*ret = &s->dev;
	return 0;
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0x00ff00, /* unclassified */
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.features = rng_features,
	.config_read = rng_config_read,
	.config_write = rng_config_write,
	.activate = rng_activate,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.free = rng_free,
};
