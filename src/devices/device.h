/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a device is to the VMM, and what the VMM offers a device.
 *
 * A legacy device registers port or MMIO ranges with the bus; its callbacks run on the vCPU
 * thread that made the access, so a device protects its own state with its own lock.  A
 * device never exits the process on guest input: it ignores, fails the request, or puts
 * itself into an error state.
 */
#ifndef XENO_DEVICES_DEVICE_H
#define XENO_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

/* One port-I/O or MMIO range.  offset is relative to the range's base; size is 1, 2, 4 or 8. */
struct io_ops {
	const char *name;
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned int size);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned int size);
};

/* An interrupt line of the in-kernel irqchip (a GSI); setting it is thread-safe. */
struct irq_line {
	int vm_fd;
	unsigned int gsi;
};

void irq_line_set(const struct irq_line *line, bool level);

/* Why a guest asked the VMM to stop; also its exit status (see xeno-vmm(1)). */
enum vm_stop_reason {
	VM_STOP_NONE = -1,
	VM_STOP_POWEROFF = 0,
	VM_STOP_ERROR = 1,
	VM_STOP_REBOOT = 2,
	VM_STOP_CRASH = 3,
	VM_STOP_HOST = 4,
};

/* How a device asks the VMM to stop the domain; callable from any thread. */
struct vm_stopper {
	void (*request)(void *vm, enum vm_stop_reason reason);
	void *vm;
};

#endif
