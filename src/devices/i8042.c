// SPDX-License-Identifier: GPL-2.0-only
/*
 * i8042 reset.  The status register reads as 0 (both buffers empty), so a guest's
 * wait-for-input-buffer-empty loops end at once.
 */
#include "devices/i8042.h"

#include <string.h>

#define I8042_CMD_RESET 0xfe

static void read_zero(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, size);
}

static void ignore_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)size;
}

static void cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	const struct vm_stopper *stopper = opaque;

	(void)offset;
	(void)size;
	if (((const uint8_t *)data)[0] == I8042_CMD_RESET)
		stopper->request(stopper->vm, VM_STOP_REBOOT);
}

const struct io_ops i8042_data_ops = { .name = "i8042-data",
	                               .read = read_zero,
	                               .write = ignore_write };
const struct io_ops i8042_cmd_ops = { .name = "i8042-cmd", .read = read_zero, .write = cmd_write };
