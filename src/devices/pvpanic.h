/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pvpanic port (QEMU's ISA device, ACPI id QEMU0001): a guest kernel that panics writes
 * to it, so a panicked domain is reported as crashed even when its kernel then hangs
 * (panic=0) instead of rebooting.
 */
#ifndef XENO_DEVICES_PVPANIC_H
#define XENO_DEVICES_PVPANIC_H

#include "devices/device.h"

#define PVPANIC_PANICKED     0x1 /* the guest kernel panicked */
#define PVPANIC_CRASH_LOADED 0x2 /* it did, and a kdump kernel takes over */

/* One byte; register with opaque = a struct vm_stopper. */
extern const struct io_ops pvpanic_ops;

#endif
