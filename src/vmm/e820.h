/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The e820 memory map the guest sees (through boot_params or the PVH start info): RAM, the
 * reserved EBDA and BIOS areas (where the ACPI tables live), and RAM above 4 GiB.
 */
#ifndef XENO_VMM_E820_H
#define XENO_VMM_E820_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2

#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills out[] (E820_MAX_ENTRIES long) for mem; returns the number of entries. */
size_t e820_build(const struct guest_mem *mem, struct e820_entry out[E820_MAX_ENTRIES]);

#endif
