/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the virtio device fuzzers share: guest RAM on the heap (so AddressSanitizer sees any
 * access outside it) filled from the input, and a driver's life in rounds: start the device
 * (again after it asked for a reset), then notify its queues.  Used with the unit tests' fake
 * transport.  Single-threaded, as libFuzzer runs a target.
 */
#ifndef XENO_TESTS_FUZZ_VIRTIO_H
#define XENO_TESTS_FUZZ_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"
#include "vmm/guest_mem.h"

/*
 * Guest RAM of size bytes (a multiple of 4 KiB), allocated on the first call and the same
 * afterwards, holding a copy of data (zeroes past it).  NULL if it cannot be allocated.
 */
struct guest_mem *fuzz_virtio_ram(uint64_t size, const uint8_t *data, size_t len);

/* A run's settings from the header: the queue size, and flags (0x01 EVENT_IDX, 0x02
 * INDIRECT_DESC, the other bits the device's own). */
struct fuzz_virtio_run {
	uint16_t qsize;
	uint8_t flags;
};

/* The features a driver takes: what dev offers but drop, VERSION_1 and the ring features the
 * run's flags ask for. */
uint64_t fuzz_virtio_features(struct virtio_dev *dev, const struct fuzz_virtio_run *run,
                              uint64_t drop);

/*
 * Sets queue q of dev up over the ring at base (descriptors), base + 0x1000 (available) and
 * base + 0x2000 (used), as the transport does for a driver.  0 or -EINVAL.
 */
int fuzz_virtio_queue(struct virtio_dev *dev, unsigned int q, uint16_t size, uint64_t base,
                      uint64_t features);

/*
 * One round of a driver: when fresh, and after a NEEDS_RESET, reset the device, forget the
 * fake transport's calls and call start (which sets the queues up, sets dev->features and
 * activates); then notify queues 0 to nr_queues - 1.  Returns 0, or -1 if start failed
 * (the run ends there).
 */
int fuzz_virtio_round(struct virtio_dev *dev, bool fresh, unsigned int nr_queues,
                      int (*start)(struct virtio_dev *dev, void *opaque), void *opaque);

#endif
