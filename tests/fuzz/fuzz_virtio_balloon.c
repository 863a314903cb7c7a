// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes virtio-balloon's page lists, statistics and free page reports as a hostile guest
 * would: the input is a few settings and then guest RAM, which holds every queue (inflate:
 * descriptors at 0x0, available ring at 0x1000, used ring at 0x2000; deflate at 0x3000,
 * statistics or reporting at 0x6000, reporting at 0x9000, whichever the features make them)
 * and the buffers they point to.  Inflated and reported pages of guest RAM are discarded for
 * real.  Header (4 bytes):
 *   [0]  log2 of the queue sizes (mod 8, so 1..128)
 *   [1]  0x01 EVENT_IDX, 0x02 INDIRECT_DESC, 0x04 no STATS_VQ, 0x08 no REPORTING,
 *        0x10 DEFLATE_ON_OOM offered and taken, 0x20 FREE_PAGE_HINT forced on (never
 *        offered: a queue index for nothing), 0x40 ask for fresh statistics every round
 *   [2]  rounds of queue_notify on every queue (1..4); a round after NEEDS_RESET resets
 *   [3]  offset of one config-space read and write
 * Guest RAM is heap memory, so AddressSanitizer sees any access outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fake_transport.h"
#include "devices/virtio/balloon.h"
#include "fuzz_virtio.h"

#define RAM_SIZE    (64u * 1024)
#define HEADER_SIZE 4u
#define NR_QUEUES   4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int start(struct virtio_dev *dev, void *opaque)
{
	const struct fuzz_virtio_run *run = opaque;
	uint64_t drop = (run->flags & 0x04 ? VIRTIO_BALLOON_F_STATS_VQ : 0) |
	                (run->flags & 0x08 ? VIRTIO_BALLOON_F_REPORTING : 0);

	dev->features = fuzz_virtio_features(dev, run, drop) |
	                (run->flags & 0x20 ? VIRTIO_BALLOON_F_FREE_PAGE_HINT : 0);
	for (unsigned int q = 0; q < NR_QUEUES; q++)
		if (fuzz_virtio_queue(dev, q, run->qsize, 0x3000u * q, dev->features) < 0)
			return -1;
	return dev->ops->activate(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_balloon_config bc;
	struct virtio_balloon_stats st;
	uint8_t cfg_off, cfg_buf[8];
	struct guest_mem *mem;
	struct virtio_dev *dev;
	unsigned int rounds;
	struct fuzz_virtio_run run;

	if (size < HEADER_SIZE)
		return 0;
	run.qsize = (uint16_t)(1u << (data[0] % 8));
	run.flags = data[1];
	rounds = 1 + data[2] % 4u;
	cfg_off = data[3];
	mem = fuzz_virtio_ram(RAM_SIZE, data + HEADER_SIZE, size - HEADER_SIZE);
	bc.deflate_on_oom = run.flags & 0x10;
	if (!mem || virtio_balloon_new(&bc, &dev) < 0)
		return 0;
	dev->mem = mem;
	fake_transport_clear();
	dev->ops->config_read(dev, cfg_off, cfg_buf, sizeof(cfg_buf));
	dev->ops->config_write(dev, cfg_off, cfg_buf, cfg_off % 8 + 1);
	virtio_balloon_set_target(dev, (uint32_t)cfg_off << 8);
	for (unsigned int i = 0; i < rounds; i++) {
		if (fuzz_virtio_round(dev, i == 0, NR_QUEUES, start, &run) < 0)
			break;
		if (run.flags & 0x40) {
			virtio_balloon_refresh_stats(dev, 0);
			if (fake_transport.kick_calls)
				dev->ops->queue_notify(dev, fake_transport.last_kick_queue);
		}
		virtio_balloon_stats(dev, &st);
	}
	dev->ops->free(dev);
	return 0;
}
