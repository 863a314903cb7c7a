// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes virtio-blk's request parser as a hostile guest would: the input is a few settings
 * and then guest RAM, which holds the queue (descriptors at 0x0, available ring at 0x1000,
 * used ring at 0x2000) and every header, segment list and buffer the requests point to.
 * The disk is a 64 KiB memfd, reset for every input.  Header (4 bytes):
 *   [0]  log2 of the queue size (mod 9, so 1..256)
 *   [1]  0x01 EVENT_IDX, 0x02 INDIRECT_DESC, 0x04 read-only disk, 0x08 drop FLUSH,
 *        0x10 drop DISCARD, 0x20 drop WRITE_ZEROES (from the negotiated features)
 *   [2]  rounds of queue_notify (1..4); a round after NEEDS_RESET resets and reactivates
 *   [3]  offset of one config-space read
 * Guest RAM is heap memory, so AddressSanitizer sees any access outside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../unit/fake_transport.h"
#include "devices/virtio/blk.h"

#define RAM_SIZE    (64u * 1024)
#define DISK_SIZE   (64u * 1024)
#define HEADER_SIZE 4u
#define DESC_GPA    0x0000u
#define AVAIL_GPA   0x1000u
#define USED_GPA    0x2000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static int disk_fd = -1;
static char disk_path[64];

static int init_once(void)
{
	if (mem.base)
		return 0;
	/* Not guest_mem_init(): a heap buffer puts ASan's redzones around guest RAM. */
	mem.base = aligned_alloc(4096, RAM_SIZE);
	disk_fd = memfd_create("xeno-fuzz-disk", MFD_CLOEXEC);
	if (!mem.base || disk_fd < 0)
		return -1;
	guest_mem_layout(&mem, RAM_SIZE);
	snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", disk_fd);
	return 0;
}

static int start(struct virtio_dev *dev, uint8_t flags)
{
	bool event_idx = flags & 0x01, indirect = flags & 0x02;
	uint64_t drop = (flags & 0x08 ? VIRTIO_BLK_F_FLUSH : 0) |
	                (flags & 0x10 ? VIRTIO_BLK_F_DISCARD : 0) |
	                (flags & 0x20 ? VIRTIO_BLK_F_WRITE_ZEROES : 0);

	dev->features = (dev->ops->features(dev) & ~drop) | VIRTIO_F_VERSION_1 |
	                (event_idx ? VIRTIO_F_EVENT_IDX : 0) |
	                (indirect ? VIRTIO_F_INDIRECT_DESC : 0);
	return dev->ops->activate(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_blk_config cfg = { .path = disk_path, .format = "raw", .serial = "fuzz" };
	char err[BLK_ERR_MAX];
	uint16_t qsize;
	uint8_t flags, rounds, cfg_off, cfg_buf[8];
	struct virtio_dev *dev;

	if (size < HEADER_SIZE || init_once() < 0)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 9));
	flags = data[1];
	rounds = (uint8_t)(1 + data[2] % 4);
	cfg_off = data[3];
	data += HEADER_SIZE;
	size -= HEADER_SIZE;

	memset(mem.base, 0, RAM_SIZE);
	memcpy(mem.base, data, size < RAM_SIZE ? size : RAM_SIZE);
	if (ftruncate(disk_fd, 0) < 0 || ftruncate(disk_fd, DISK_SIZE) < 0)
		return 0;
	cfg.read_only = flags & 0x04;
	if (virtio_blk_new(&cfg, &dev, err, sizeof(err)) < 0)
		return 0;
	dev->mem = &mem;
	fake_transport_clear();

	dev->ops->config_read(dev, cfg_off, cfg_buf, sizeof(cfg_buf));
	for (unsigned int i = 0; i < rounds; i++) {
		if (i == 0 || fake_transport.needs_reset_calls) {
			/* What a driver does after NEEDS_RESET: reset, set the queue up again. */
			dev->ops->reset(dev);
			fake_transport_clear();
			if (virtq_setup(&dev->queues[0], &mem, qsize, DESC_GPA, AVAIL_GPA, USED_GPA,
			                flags & 0x01, flags & 0x02) < 0 ||
			    start(dev, flags) < 0)
				break;
		}
		dev->ops->queue_notify(dev, 0);
	}
	dev->ops->free(dev);
	return 0;
}
