// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI table builder.  Offsets and values follow ACPI 6.4 §5.2 (table layouts) and §4.8
 * (fixed hardware).  We are not hardware-reduced: the fixed power button and the PM1 control
 * register are the simplest way to give a stock kernel power-button, poweroff and reset.
 */
#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/layout.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define ACPI_OEM_ID       "XENO  "
#define ACPI_OEM_TABLE_ID "XENOVMM "
#define ACPI_CREATOR_ID   "XENO"

/* FADT flags (§5.2.9, table 5.10). */
#define FADT_F_WBINVD        (1u << 0)
#define FADT_F_PROC_C1       (1u << 2)
#define FADT_F_SLP_BUTTON    (1u << 5) /* set: no fixed sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
/* IA-PC boot architecture flags (§5.2.9.3). */
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_ABSENT (1u << 5)

#define GAS_SYSTEM_IO 1

struct buf {
	uint8_t *p;
	size_t len;
	size_t used;
	uint64_t base_gpa;
	bool overflow;
};

static void put(uint8_t *p, size_t off, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* Reserves size bytes aligned to align; returns the offset, or 0 on overflow. */
static size_t reserve(struct buf *b, size_t size, size_t align)
{
	size_t off = (b->used + align - 1) & ~(align - 1);

	if (off + size > b->len) {
		b->overflow = true;
		return 0;
	}
	memset(b->p + off, 0, size);
	b->used = off + size;
	return off;
}

static uint64_t gpa_of(const struct buf *b, size_t off)
{
	return b->base_gpa + off;
}

uint8_t acpi_checksum(const uint8_t *buf, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + buf[i]);
	return sum;
}

/* The 36-byte header every table but the RSDP and FACS starts with (§5.2.6). */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put(t, 4, len, 4);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put(t, 24, 1, 4);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put(t, 32, 1, 4);
}

static void finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0 - acpi_checksum(t, len));
}

/* Generic Address Structure (§5.2.3.2) for a System I/O register. */
static void gas_io(uint8_t *p, size_t off, uint8_t bit_width, uint8_t access_size, uint64_t port)
{
	p[off] = GAS_SYSTEM_IO;
	p[off + 1] = bit_width;
	p[off + 2] = 0;
	p[off + 3] = access_size;
	put(p, off + 4, port, 8);
}

/*
 * The DSDT: \_S5 for poweroff (its first two elements are the SLP_TYP values for PM1a/PM1b;
 * writing SLP_TYP=5 with SLP_EN to PM1a_CNT powers off), and the PCI root bridge.  With
 * ACPI on, Linux finds PCI root buses only here; _CRS gives it the config ports, the I/O
 * window and the 32-bit MMIO window our BARs live in.
 */
static void dsdt_body(struct aml *a)
{
	aml_name(a, "_S5_");
	aml_package(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a);

	aml_scope(a, "\\_SB_");
	aml_device(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_buffer(a);
	aml_res_bus_range(a, 0, 0);
	aml_res_io_fixed(a, PORT_PCI_CONFIG, 8);
	aml_res_io_window(a, 0x0000, PORT_PCI_CONFIG - 1);
	aml_res_io_window(a, PORT_PCI_CONFIG + 8, 0xffff);
	aml_res_mem32_window(a, (uint32_t)LAYOUT_PCI_MMIO_GPA,
	                     (uint32_t)(LAYOUT_PCI_MMIO_GPA + LAYOUT_PCI_MMIO_SIZE - 1));
	aml_res_end(a);
	aml_close(a);
	aml_close(a);
	/* pvpanic: Linux's pvpanic-mmio driver binds to QEMU0001 and takes the port from _CRS. */
	aml_device(a, "PEVT");
	aml_name(a, "_HID");
	aml_string(a, "QEMU0001");
	aml_name(a, "_CRS");
	aml_buffer(a);
	aml_res_io_fixed(a, PORT_PVPANIC, 1);
	aml_res_end(a);
	aml_close(a);
	aml_close(a);
	aml_close(a);
}

static size_t build_dsdt(struct buf *b)
{
	struct aml a;
	size_t off = reserve(b, 36, 8);

	if (b->overflow)
		return 0;
	aml_init(&a, b->p + b->used, b->len - b->used);
	dsdt_body(&a);
	if (a.overflow) {
		b->overflow = true;
		return 0;
	}
	b->used += a.len;
	header(b->p + off, "DSDT", (uint32_t)(36 + a.len), 2);
	finish(b->p + off, (uint32_t)(36 + a.len));
	return off;
}

static size_t build_facs(struct buf *b)
{
	size_t off = reserve(b, 64, 64); /* §5.2.10: 64 bytes, 64-byte aligned */

	if (b->overflow)
		return 0;
	memcpy(b->p + off, "FACS", 4);
	put(b->p, off + 4, 64, 4);
	b->p[off + 32] = 2; /* version */
	return off;
}

static size_t build_fadt(struct buf *b, size_t dsdt, size_t facs)
{
	const uint32_t len = 276; /* ACPI 6.x FADT */
	size_t off = reserve(b, len, 8);
	uint8_t *t;

	if (b->overflow)
		return 0;
	t = b->p + off;
	header(t, "FACP", len, 6);
	put(t, 36, gpa_of(b, facs), 4); /* FIRMWARE_CTRL */
	put(t, 40, gpa_of(b, dsdt), 4); /* DSDT */
	put(t, 46, ACPI_SCI_IRQ, 2);    /* SCI_INT */
	put(t, 48, 0, 4);               /* SMI_CMD: none, ACPI mode always on */
	put(t, 56, PORT_PM1A_EVT, 4);   /* PM1a_EVT_BLK */
	put(t, 64, PORT_PM1A_CNT, 4);   /* PM1a_CNT_BLK */
	t[88] = PORT_PM1A_EVT_LEN;      /* PM1_EVT_LEN */
	t[89] = PORT_PM1A_CNT_LEN;      /* PM1_CNT_LEN */
	put(t, 96, 0x0fff, 2);          /* P_LVL2_LAT: C2 not supported */
	put(t, 98, 0x0fff, 2);          /* P_LVL3_LAT: C3 not supported */
	put(t, 109, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_ABSENT, 2);
	put(t, 112, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP, 4);
	gas_io(t, 116, 8, 1, PORT_ACPI_RESET);                   /* RESET_REG */
	t[128] = ACPI_RESET_VALUE;                               /* RESET_VALUE */
	t[131] = 4;                                              /* FADT minor version: 6.4 */
	put(t, 132, gpa_of(b, facs), 8);                         /* X_FIRMWARE_CTRL */
	put(t, 140, gpa_of(b, dsdt), 8);                         /* X_DSDT */
	gas_io(t, 148, PORT_PM1A_EVT_LEN * 8, 2, PORT_PM1A_EVT); /* X_PM1a_EVT_BLK */
	gas_io(t, 172, PORT_PM1A_CNT_LEN * 8, 2, PORT_PM1A_CNT); /* X_PM1a_CNT_BLK */
	memcpy(t + 268, "XENOVMM\0", 8);                         /* Hypervisor Vendor Identity */
	finish(t, len);
	return off;
}

static size_t build_madt(struct buf *b, unsigned int nr_vcpus)
{
	const uint32_t len = 44 + 8 * nr_vcpus + 12 + 10 + 6;
	size_t off = reserve(b, len, 8);
	uint8_t *t, *e;

	if (b->overflow)
		return 0;
	t = b->p + off;
	header(t, "APIC", len, 5);
	put(t, 36, LAYOUT_LAPIC_GPA, 4);
	put(t, 40, 1, 4); /* PCAT_COMPAT: the 8259 PICs exist (KVM's in-kernel irqchip) */
	e = t + 44;
	for (unsigned int i = 0; i < nr_vcpus; i++, e += 8) {
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID, as CPUID reports it */
		put(e, 4, 1, 4);   /* enabled */
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = 0; /* IOAPIC id, as KVM's in-kernel IOAPIC starts with */
	put(e, 4, LAYOUT_IOAPIC_GPA, 4);
	put(e, 8, 0, 4); /* GSI base */
	e += 12;
	/*
	 * SCI: level-triggered, active high (flags 0x000d), the way our PM device drives it;
	 * without this override the kernel would assume active low.  IRQ 0 needs no override:
	 * KVM's default routing sends the PIT to IOAPIC pin 0.
	 */
	e[0] = 2; /* Interrupt Source Override */
	e[1] = 10;
	e[2] = 0; /* ISA */
	e[3] = ACPI_SCI_IRQ;
	put(e, 4, ACPI_SCI_IRQ, 4);
	put(e, 8, 0x000d, 2);
	e += 10;
	e[0] = 4; /* Local APIC NMI on LINT1 of every processor */
	e[1] = 6;
	e[2] = 0xff;
	put(e, 3, 0, 2);
	e[5] = 1;
	finish(t, len);
	return off;
}

static size_t build_xsdt(struct buf *b, const size_t *tables, unsigned int n)
{
	uint32_t len = 36 + 8 * n;
	size_t off = reserve(b, len, 8);

	if (b->overflow)
		return 0;
	header(b->p + off, "XSDT", len, 1);
	for (unsigned int i = 0; i < n; i++)
		put(b->p + off, 36 + 8 * i, gpa_of(b, tables[i]), 8);
	finish(b->p + off, len);
	return off;
}

int acpi_build(uint8_t *out, size_t len, uint64_t base_gpa, unsigned int nr_vcpus)
{
	struct buf b = { .p = out, .len = len, .base_gpa = base_gpa };
	size_t rsdp, xsdt, tables[2];
	uint8_t *r;

	if (nr_vcpus == 0 || nr_vcpus > 255)
		return -EINVAL;
	rsdp = reserve(&b, 36, 16); /* the RSDP is found by scanning 16-byte boundaries */
	size_t dsdt = build_dsdt(&b);
	size_t facs = build_facs(&b);
	tables[0] = build_fadt(&b, dsdt, facs);
	tables[1] = build_madt(&b, nr_vcpus);
	xsdt = build_xsdt(&b, tables, 2);
	if (b.overflow)
		return -ENOSPC;

	/* RSDP (§5.2.5.3), revision 2: the first 20 bytes and all 36 have their own checksums. */
	r = out + rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2;
	put(r, 16, 0, 4); /* no RSDT: XSDT only */
	put(r, 20, 36, 4);
	put(r, 24, gpa_of(&b, xsdt), 8);
	r[8] = (uint8_t)(0 - acpi_checksum(r, 20));
	r[32] = (uint8_t)(0 - acpi_checksum(r, 36));
	return (int)b.used;
}
