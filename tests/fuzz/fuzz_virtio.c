// SPDX-License-Identifier: GPL-2.0-only
/* The virtio device fuzzers' shared set-up (fuzz_virtio.h). */
#include "fuzz_virtio.h"
#include "../unit/fake_transport.h"

#include <stdlib.h>
#include <string.h>

static struct guest_mem mem;

struct guest_mem *fuzz_virtio_ram(uint64_t size, const uint8_t *data, size_t len)
{
	if (!mem.base) {
		/* Not guest_mem_init(): a heap buffer puts ASan's redzones around guest RAM. */
		mem.base = aligned_alloc(4096, size);
		if (!mem.base)
			return NULL;
		guest_mem_layout(&mem, size);
	}
	memset(mem.base, 0, mem.size);
	memcpy(mem.base, data, len < mem.size ? len : mem.size);
	return &mem;
}

uint64_t fuzz_virtio_features(struct virtio_dev *dev, const struct fuzz_virtio_run *run,
                              uint64_t drop)
{
	return (dev->ops->features(dev) & ~drop) | VIRTIO_F_VERSION_1 |
	       (run->flags & 0x01 ? VIRTIO_F_EVENT_IDX : 0) |
	       (run->flags & 0x02 ? VIRTIO_F_INDIRECT_DESC : 0);
}

int fuzz_virtio_queue(struct virtio_dev *dev, unsigned int q, uint16_t size, uint64_t base,
                      uint64_t features)
{
	return virtq_setup(&dev->queues[q], dev->mem, size, base, base + 0x1000, base + 0x2000,
	                   features & VIRTIO_F_EVENT_IDX, features & VIRTIO_F_INDIRECT_DESC);
}

int fuzz_virtio_round(struct virtio_dev *dev, bool fresh, unsigned int nr_queues,
                      int (*start)(struct virtio_dev *dev, void *opaque), void *opaque)
{
	if (fresh || fake_transport.needs_reset_calls) {
		/* What a driver does after NEEDS_RESET: reset, set the queues up again. */
		dev->ops->reset(dev);
		memset(dev->queues, 0, sizeof(dev->queues));
		fake_transport_clear();
		if (start(dev, opaque) < 0)
			return -1;
	}
	for (unsigned int q = 0; q < nr_queues; q++)
		dev->ops->queue_notify(dev, q);
	return 0;
}
