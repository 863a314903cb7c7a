// SPDX-License-Identifier: GPL-2.0-only
/*
 * Port and MMIO dispatch, called on vCPU threads.  A linear scan: a PC has a dozen ranges, and
 * the hot virtio paths bypass this bus entirely through ioeventfd.
 */
#include "vmm/bus.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct io_ops *ops,
                 void *opaque)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	for (unsigned int i = 0; i < bus->nr_ranges; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (bus->nr_ranges == BUS_MAX_RANGES)
		return -ENOSPC;
	bus->ranges[bus->nr_ranges++] = (struct bus_range){ base, len, ops, opaque };
	return 0;
}

static const struct bus_range *find(const struct bus *bus, uint64_t addr, unsigned int size)
{
	for (unsigned int i = 0; i < bus->nr_ranges; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr - r->base < r->len && size <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}

static struct log_ratelimit unhandled_rl = LOG_RATELIMIT_INIT;

static void unhandled(struct bus *bus, const char *what, uint64_t addr, unsigned int size)
{
	__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
	if (log_ratelimit_allow(&unhandled_rl))
		log_debug("%s: unhandled %u-byte %s at %#llx, ignoring", bus->name, size, what,
		          (unsigned long long)addr);
}

void bus_read(struct bus *bus, uint64_t addr, void *data, unsigned int size)
{
	const struct bus_range *r = find(bus, addr, size);

	if (!r || !r->ops->read) {
		memset(data, 0xff, size);
		unhandled(bus, "read", addr, size);
		return;
	}
	r->ops->read(r->opaque, addr - r->base, data, size);
}

void bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned int size)
{
	const struct bus_range *r = find(bus, addr, size);

	if (!r || !r->ops->write) {
		unhandled(bus, "write", addr, size);
		return;
	}
	r->ops->write(r->opaque, addr - r->base, data, size);
}
