// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvpanic.  Reading the port tells the guest which events we understand; a write of
 * PVPANIC_PANICKED ends the domain as crashed.  A kdump kernel taking over
 * (PVPANIC_CRASH_LOADED) is the guest handling its own crash, so we let it run.
 * Runs on vCPU threads.
 */
#include "devices/pvpanic.h"

#include <string.h>

static void pvpanic_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, size);
	((uint8_t *)data)[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	const struct vm_stopper *stopper = opaque;
	uint8_t event = ((const uint8_t *)data)[0];

	(void)offset;
	(void)size;
	if ((event & PVPANIC_PANICKED) && !(event & PVPANIC_CRASH_LOADED))
		stopper->request(stopper->vm, VM_STOP_CRASH);
}

const struct io_ops pvpanic_ops = { .name = "pvpanic",
	                            .read = pvpanic_read,
	                            .write = pvpanic_write };
