/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ACPI tables for the guest (ACPI 6.4 §5.2): RSDP, XSDT, FADT, FACS, DSDT and MADT.  The MADT
 * is how Debian's kernel (no MP-table support) finds its CPUs; the FADT's fixed-hardware PM1
 * registers and reset register, and the DSDT's \_S5, are how it powers off and reboots.
 * Pure: builds bytes into a buffer; the caller copies them into guest memory.
 */
#ifndef XENO_VMM_ACPI_H
#define XENO_VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_TABLES_MAX_SIZE 0x4000

/*
 * Builds the tables for nr_vcpus CPUs into buf, as if buf sat at guest-physical base_gpa
 * (16-byte aligned).  Returns the number of bytes used, or -ENOSPC if len is too small.  The
 * RSDP is at base_gpa.
 */
int acpi_build(uint8_t *buf, size_t len, uint64_t base_gpa, unsigned int nr_vcpus);

/* Sum of len bytes; a valid ACPI table sums to 0 (mod 256). */
uint8_t acpi_checksum(const uint8_t *buf, size_t len);

#endif
