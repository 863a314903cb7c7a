/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The I/O bus: which device answers a port or MMIO address.  Ranges are registered on the main
 * thread before the vCPUs start and are read-only afterwards, so dispatch takes no lock.
 */
#ifndef XENO_VMM_BUS_H
#define XENO_VMM_BUS_H

#include <stdint.h>

#include "devices/device.h"

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *opaque;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	unsigned int nr_ranges;
	struct bus_range ranges[BUS_MAX_RANGES];
	uint64_t unhandled; /* accesses nobody answered, counted for stats */
};

/* Adds [base, base+len); -EEXIST if it overlaps a registered range, -ENOSPC if full. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct io_ops *ops,
                 void *opaque) __attribute__((warn_unused_result));

/*
 * Dispatches one access.  An access nobody claims reads as all ones and its writes are
 * dropped, as on a PC with nothing decoding the address.
 */
void bus_read(struct bus *bus, uint64_t addr, void *data, unsigned int size);
void bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned int size);

#endif
