/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The guest-physical memory map, in one place.  Everything the VMM writes into guest memory
 * before the first instruction lives below 1 MiB, except the kernel (at 1 MiB, or where its
 * ELF headers say) and the initrd (as high as the kernel allows).
 */
#ifndef XENO_VMM_LAYOUT_H
#define XENO_VMM_LAYOUT_H

#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* Low memory: real-mode IVT/BDA up to 0x500, then our boot structures. */
/*
 * The BIOS data area's reset flag: Linux writes 0 (cold) or 0x1234 (warm) there on its way to
 * every reset, whichever method it then uses.  We start it at a value Linux never writes, so
 * a triple fault finds out whether a reset was asked for (reboot=t) or not (a crash).
 */
#define LAYOUT_BIOS_RESET_FLAG_GPA 0x472ULL
#define BIOS_RESET_FLAG_NONE       0xffffu

#define LAYOUT_GDT_GPA        0x500ULL  /* 4 descriptors, flat 32/64-bit */
#define LAYOUT_PVH_INFO_GPA   0x6000ULL /* hvm_start_info, module list, memmap */
#define LAYOUT_ZERO_PAGE_GPA  0x7000ULL /* struct boot_params for bzImage boot */
#define LAYOUT_BOOT_STACK_GPA 0x8ff0ULL
#define LAYOUT_PML4_GPA       0x9000ULL /* identity map of the first 4 GiB, 2 MiB pages: */
#define LAYOUT_PDPT_GPA       0xa000ULL /*   one PDPT, */
#define LAYOUT_PD_GPA         0xb000ULL /*   four page directories (0xb000..0xefff) */
#define LAYOUT_CMDLINE_GPA    0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_EBDA_GPA       0x9fc00ULL /* reserved up to 640 KiB */
#define LAYOUT_LOW_RAM_END    0xa0000ULL
#define LAYOUT_BIOS_GPA       0xe0000ULL /* reserved up to 1 MiB: ACPI tables go here */
#define LAYOUT_ACPI_GPA       LAYOUT_BIOS_GPA
#define LAYOUT_ACPI_SIZE      0x10000ULL
#define LAYOUT_HIGH_MEM_GPA   0x100000ULL /* 1 MiB: bzImage protected-mode code */

/* The 32-bit hole for PCI BARs, the IOAPIC and the local APIC; RAM resumes at 4 GiB. */
#define LAYOUT_MMIO_HOLE_GPA    GiB(3)
#define LAYOUT_MMIO_HOLE_END    GiB(4)
#define LAYOUT_PCI_MMIO_GPA     LAYOUT_MMIO_HOLE_GPA /* BARs: from 3 GiB up to the IOAPIC */
#define LAYOUT_PCI_MMIO_SIZE    (0xfec00000ULL - LAYOUT_PCI_MMIO_GPA)
#define LAYOUT_IOAPIC_GPA       0xfec00000ULL
#define LAYOUT_LAPIC_GPA        0xfee00000ULL
#define LAYOUT_TSS_GPA          0xfffbd000ULL /* KVM_SET_TSS_ADDR: three pages, Intel only */
#define LAYOUT_IDENTITY_MAP_GPA 0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR: one page */

/* Legacy I/O ports. */
#define PORT_COM1       0x3f8
#define PORT_PCI_CONFIG 0xcf8 /* CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc */
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD  0x64
#define PORT_PVPANIC    0x505 /* where QEMU has it, so guests' defaults match */
/* ACPI fixed hardware (FADT): PM1a event block (status+enable), PM1a control, reset. */
#define PORT_PM1A_EVT     0x600
#define PORT_PM1A_EVT_LEN 4
#define PORT_PM1A_CNT     0x604
#define PORT_PM1A_CNT_LEN 2
#define PORT_ACPI_RESET   0x608
#define ACPI_RESET_VALUE  0x1
#define ACPI_SCI_IRQ      9
#define ACPI_S5_SLP_TYP   5
#define COM1_IRQ          4

#endif
