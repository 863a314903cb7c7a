/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The part of the PC keyboard controller a guest uses without a keyboard: the CPU reset line
 * (command 0xfe on port 0x64), Linux's fallback when the ACPI reset register does not work.
 */
#ifndef XENO_DEVICES_I8042_H
#define XENO_DEVICES_I8042_H

#include "devices/device.h"

/* Register with opaque = a struct vm_stopper; ports 0x60 and 0x64 (one byte each). */
extern const struct io_ops i8042_data_ops;
extern const struct io_ops i8042_cmd_ops;

#endif
