// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes virtio-balloon's page lists as a hostile guest would: the input is a few settings
 * and then guest RAM, which holds both queues (inflate: descriptors at 0x0, available ring
 * at 0x1000, used ring at 0x2000; deflate at 0x3000, 0x4000, 0x5000) and the page lists
 * they point to.  Inflated pages of guest RAM are discarded for real.  Header (4 bytes):
 *   [0]  log2 of the queue sizes (mod 8, so 1..128)
 *   [1]  0x01 EVENT_IDX, 0x02 INDIRECT_DESC
 *   [2]  rounds of queue_notify on both queues (1..4); a round after NEEDS_RESET resets
 *   [3]  offset of one config-space read and write
 * Guest RAM is heap memory, so AddressSanitizer sees any access outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fake_transport.h"
#include "devices/virtio/balloon.h"

#define RAM_SIZE    (64u * 1024)
#define HEADER_SIZE 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags, rounds, cfg_off, cfg_buf[8];
	struct virtio_dev *dev;
	uint16_t qsize;

	if (size < HEADER_SIZE)
		return 0;
	if (!mem.base) {
		/* Not guest_mem_init(): a heap buffer puts ASan's redzones around guest RAM. */
		mem.base = aligned_alloc(4096, RAM_SIZE);
		if (!mem.base)
			return 0;
		guest_mem_layout(&mem, RAM_SIZE);
	}
	qsize = (uint16_t)(1u << (data[0] % 8));
	flags = data[1];
	rounds = (uint8_t)(1 + data[2] % 4);
	cfg_off = data[3];
	data += HEADER_SIZE;
	size -= HEADER_SIZE;
	memset(mem.base, 0, RAM_SIZE);
	memcpy(mem.base, data, size < RAM_SIZE ? size : RAM_SIZE);
	if (virtio_balloon_new(&dev) < 0)
		return 0;
	dev->mem = &mem;
	fake_transport_clear();
	dev->ops->config_read(dev, cfg_off, cfg_buf, sizeof(cfg_buf));
	dev->ops->config_write(dev, cfg_off, cfg_buf, cfg_off % 8 + 1);
	virtio_balloon_set_target(dev, (uint32_t)cfg_off << 8);
	for (unsigned int i = 0; i < rounds; i++) {
		if (i == 0 || fake_transport.needs_reset_calls) {
			dev->ops->reset(dev);
			fake_transport_clear();
			if (virtq_setup(&dev->queues[0], &mem, qsize, 0x0000, 0x1000, 0x2000,
			                flags & 0x01, flags & 0x02) < 0 ||
			    virtq_setup(&dev->queues[1], &mem, qsize, 0x3000, 0x4000, 0x5000,
			                flags & 0x01, flags & 0x02) < 0)
				break;
			dev->features = VIRTIO_F_VERSION_1 |
			                (flags & 0x01 ? VIRTIO_F_EVENT_IDX : 0) |
			                (flags & 0x02 ? VIRTIO_F_INDIRECT_DESC : 0);
			if (dev->ops->activate(dev) < 0)
				break;
		}
		dev->ops->queue_notify(dev, 0);
		dev->ops->queue_notify(dev, 1);
	}
	dev->ops->free(dev);
	return 0;
}
