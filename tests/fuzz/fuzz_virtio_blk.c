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
#include "fuzz_virtio.h"

#define RAM_SIZE    (64u * 1024)
#define DISK_SIZE   (64u * 1024)
#define HEADER_SIZE 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int disk_fd = -1;
static char disk_path[64];

static int init_once(void)
{
	if (disk_fd >= 0)
		return 0;
	disk_fd = memfd_create("xeno-fuzz-disk", MFD_CLOEXEC);
	if (disk_fd < 0)
		return -1;
	snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", disk_fd);
	return 0;
}

static int start(struct virtio_dev *dev, void *opaque)
{
	const struct fuzz_virtio_run *run = opaque;
	uint64_t drop = (run->flags & 0x08 ? VIRTIO_BLK_F_FLUSH : 0) |
	                (run->flags & 0x10 ? VIRTIO_BLK_F_DISCARD : 0) |
	                (run->flags & 0x20 ? VIRTIO_BLK_F_WRITE_ZEROES : 0);

	dev->features = fuzz_virtio_features(dev, run, drop);
	if (fuzz_virtio_queue(dev, 0, run->qsize, 0, dev->features) < 0)
		return -1;
	return dev->ops->activate(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_blk_config cfg = { .path = disk_path, .format = "raw", .serial = "fuzz" };
	char err[BLK_ERR_MAX];
	struct fuzz_virtio_run run;
	unsigned int rounds;
	uint8_t cfg_off, cfg_buf[8];
	struct guest_mem *mem;
	struct virtio_dev *dev;

	if (size < HEADER_SIZE || init_once() < 0)
		return 0;
	run.qsize = (uint16_t)(1u << (data[0] % 9));
	run.flags = data[1];
	rounds = 1 + data[2] % 4u;
	cfg_off = data[3];
	mem = fuzz_virtio_ram(RAM_SIZE, data + HEADER_SIZE, size - HEADER_SIZE);
	if (!mem || ftruncate(disk_fd, 0) < 0 || ftruncate(disk_fd, DISK_SIZE) < 0)
		return 0;
	cfg.read_only = run.flags & 0x04;
	if (virtio_blk_new(&cfg, &dev, err, sizeof(err)) < 0)
		return 0;
	dev->mem = mem;
	fake_transport_clear();

	dev->ops->config_read(dev, cfg_off, cfg_buf, sizeof(cfg_buf));
	for (unsigned int i = 0; i < rounds; i++)
		if (fuzz_virtio_round(dev, i == 0, 1, start, &run) < 0)
			break;
	dev->ops->free(dev);
	return 0;
}
