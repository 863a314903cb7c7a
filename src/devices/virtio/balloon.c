// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon (virtio 1.2 §5.5), see balloon.h.  Queue 0 inflates, queue 1 deflates;
 * each chain's device-readable buffers are arrays of le32 page frame numbers (4 KiB pages).
 * Configuration space: le32 num_pages (device-written, the target) and le32 actual
 * (driver-written).  A page number outside guest RAM is counted and skipped: it can only
 * hurt the guest itself.  A chain with device-writable buffers, or a length that is not a
 * multiple of 4, breaks the protocol: the device asks for a reset, as the others do.
 */
#include "devices/virtio/balloon.h"
#include "vmm/guest_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE (1ULL << VIRTIO_BALLOON_PAGE_SHIFT)

struct balloon {
	struct virtio_dev dev; /* dev.priv points back here */
	bool broken;
	uint32_t target;                       /* num_pages (atomic: set by the control thread) */
	uint32_t actual;                       /* as the driver wrote it (atomic) */
	uint64_t inflated, deflated, bad_pfns; /* atomic: read by the control thread */
	struct virtq_elem elem;
};

/* Returns [gpa, gpa + len) of guest RAM to the host; the next guest touch reads zeroes. */
static void discard(struct balloon *s, uint64_t gpa, uint64_t len)
{
	void *hva = guest_mem_ptr(s->dev.mem, gpa, len);

	if (hva)
		(void)madvise(hva, len, MADV_DONTNEED);
}

/* One chain: its page numbers, contiguous runs discarded together on inflate. */
static int serve(struct balloon *s, const struct virtq_elem *e, bool inflate)
{
	uint64_t run_start = 0, run_len = 0, pages = 0;

	if (e->nr_in || e->out_len % 4)
		return -EINVAL;
	for (unsigned int i = 0; i < e->nr_out; i++) {
		const uint8_t *p = e->bufs[i].hva;

		for (uint32_t off = 0; off + 4 <= e->bufs[i].len; off += 4) {
			uint32_t pfn = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
			               (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
			uint64_t gpa = (uint64_t)pfn << VIRTIO_BALLOON_PAGE_SHIFT;

			if (!guest_mem_ptr(s->dev.mem, gpa, PAGE)) {
				__atomic_add_fetch(&s->bad_pfns, 1, __ATOMIC_RELAXED);
				continue;
			}
			pages++;
			if (!inflate)
				continue;
			if (run_len && gpa == run_start + run_len) {
				run_len += PAGE;
				continue;
			}
			if (run_len)
				discard(s, run_start, run_len);
			run_start = gpa;
			run_len = PAGE;
		}
	}
	if (run_len)
		discard(s, run_start, run_len);
	__atomic_add_fetch(inflate ? &s->inflated : &s->deflated, pages, __ATOMIC_RELAXED);
	return 0;
}

static void balloon_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct balloon *s = dev->priv;
	struct virtq *vq = &dev->queues[q];
	bool pushed = false;
	int r;

	if (q > 1 || s->broken || vq->broken || vq->size == 0)
		return;
	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &s->elem)) > 0) {
			if (serve(s, &s->elem, q == 0) < 0) {
				r = -EINVAL;
				break;
			}
			virtq_push(vq, &s->elem, 0);
			pushed = true;
		}
		if (r < 0) {
			s->broken = true;
			virtio_set_needs_reset(dev, "virtio-balloon: malformed descriptor chain, "
			                            "ring or page list");
			break;
		}
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_notify_used(dev, q);
}

static uint64_t balloon_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void balloon_config_read(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len)
{
	struct balloon *s = dev->priv;
	uint8_t cfg[8];

	put_le32(cfg, __atomic_load_n(&s->target, __ATOMIC_RELAXED));
	put_le32(cfg + 4, __atomic_load_n(&s->actual, __ATOMIC_RELAXED));
	memset(data, 0, len);
	if (offset < sizeof(cfg))
		memcpy(data, cfg + offset, len < sizeof(cfg) - offset ? len : sizeof(cfg) - offset);
}

static void balloon_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
                                 uint32_t len)
{
	struct balloon *s = dev->priv;
	uint8_t cfg[8] = { 0 };
	uint32_t actual;

	/* Only actual (bytes 4..7) is the driver's to write. */
	if (offset < 4 || offset >= sizeof(cfg) || len > sizeof(cfg) - offset)
		return;
	put_le32(cfg + 4, __atomic_load_n(&s->actual, __ATOMIC_RELAXED));
	memcpy(cfg + offset, data, len);
	actual = (uint32_t)cfg[4] | (uint32_t)cfg[5] << 8 | (uint32_t)cfg[6] << 16 |
	         (uint32_t)cfg[7] << 24;
	__atomic_store_n(&s->actual, actual, __ATOMIC_RELAXED);
}

static int balloon_activate(struct virtio_dev *dev)
{
	((struct balloon *)dev->priv)->broken = false;
	return 0;
}

static void balloon_reset(struct virtio_dev *dev)
{
	struct balloon *s = dev->priv;

	s->broken = false;
	/* A driver that starts again holds no page; the target stays the host's wish. */
	__atomic_store_n(&s->actual, 0, __ATOMIC_RELAXED);
}

static void balloon_free(struct virtio_dev *dev)
{
	if (dev)
		free(dev->priv);
}

int virtio_balloon_new(struct virtio_dev **ret)
{
	struct balloon *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dev.ops = &virtio_balloon_ops;
	s->dev.priv = s;
	*ret = &s->dev;
	return 0;
}

void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t target_pages)
{
	struct balloon *s = dev->priv;

	__atomic_store_n(&s->target, target_pages, __ATOMIC_RELAXED);
	virtio_config_changed(dev);
}

void virtio_balloon_stats(struct virtio_dev *dev, struct virtio_balloon_stats *ret)
{
	struct balloon *s = dev->priv;

	ret->target_pages = __atomic_load_n(&s->target, __ATOMIC_RELAXED);
	ret->actual_pages = __atomic_load_n(&s->actual, __ATOMIC_RELAXED);
	ret->inflated = __atomic_load_n(&s->inflated, __ATOMIC_RELAXED);
	ret->deflated = __atomic_load_n(&s->deflated, __ATOMIC_RELAXED);
	ret->bad_pfns = __atomic_load_n(&s->bad_pfns, __ATOMIC_RELAXED);
}

/* The target and the driver's count survive a save; the counters start again. */
static uint32_t balloon_save(struct virtio_dev *dev, uint8_t *buf)
{
	struct balloon *s = dev->priv;
	uint32_t v[2] = { __atomic_load_n(&s->target, __ATOMIC_RELAXED),
		          __atomic_load_n(&s->actual, __ATOMIC_RELAXED) };

	memcpy(buf, v, sizeof(v));
	return sizeof(v);
}

static int balloon_load(struct virtio_dev *dev, const uint8_t *buf, uint32_t len)
{
	struct balloon *s = dev->priv;
	uint32_t v[2];

	if (len != sizeof(v))
		return -EINVAL;
	memcpy(v, buf, sizeof(v));
	__atomic_store_n(&s->target, v[0], __ATOMIC_RELAXED);
	__atomic_store_n(&s->actual, v[1], __ATOMIC_RELAXED);
	return 0;
}

const struct virtio_dev_ops virtio_balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.pci_class = 0x058000, /* memory controller, other */
	.num_queues = 2,
	.queue_max_size = VIRTIO_BALLOON_QUEUE_SIZE,
	.config_size = 8,
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.free = balloon_free,
	.save = balloon_save,
	.load = balloon_load,
};
