// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables as a guest kernel reads them: find the RSDP, follow the XSDT, check every
 * checksum, and read the MADT's CPUs and the FADT's power-control registers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/layout.h"

#define BASE 0xe0000ULL

static uint8_t tables[ACPI_TABLES_MAX_SIZE];

static uint64_t get(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const uint8_t *at(uint64_t gpa)
{
	assert_true(gpa >= BASE && gpa < BASE + sizeof(tables));
	return tables + (gpa - BASE);
}

/* Returns the table the XSDT lists with signature sig, checking its checksum. */
static const uint8_t *find_table(const char *sig)
{
	const uint8_t *rsdp = tables, *xsdt = at(get(rsdp + 24, 8));
	uint32_t n = ((uint32_t)get(xsdt + 4, 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = at(get(xsdt + 36 + 8 * i, 8));

		if (memcmp(t, sig, 4) == 0) {
			assert_int_equal(acpi_checksum(t, (uint32_t)get(t + 4, 4)), 0);
			return t;
		}
	}
	return NULL;
}

static void build(unsigned int nr_vcpus)
{
	memset(tables, 0xaa, sizeof(tables));
	assert_true(acpi_build(tables, sizeof(tables), BASE, nr_vcpus) > 0);
}

static void test_rsdp_and_xsdt(void **state)
{
	const uint8_t *xsdt;

	(void)state;
	build(1);
	assert_memory_equal(tables, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(tables, 20), 0);
	assert_int_equal(acpi_checksum(tables, 36), 0);
	assert_int_equal(tables[15], 2);
	xsdt = at(get(tables + 24, 8));
	assert_memory_equal(xsdt, "XSDT", 4);
	assert_int_equal(acpi_checksum(xsdt, (uint32_t)get(xsdt + 4, 4)), 0);
	assert_non_null(find_table("FACP"));
	assert_non_null(find_table("APIC"));
}

static void check_madt(unsigned int nr_vcpus)
{
	const uint8_t *madt, *e, *end;
	unsigned int cpus = 0, ioapics = 0, sci_override = 0;

	build(nr_vcpus);
	madt = find_table("APIC");
	assert_non_null(madt);
	assert_int_equal(get(madt + 36, 4), LAYOUT_LAPIC_GPA);
	end = madt + get(madt + 4, 4);
	for (e = madt + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[3], cpus); /* APIC ids 0..N-1, as CPUID says */
			assert_int_equal(get(e + 4, 4) & 1, 1);
			cpus++;
			break;
		case 1:
			assert_int_equal(get(e + 4, 4), LAYOUT_IOAPIC_GPA);
			ioapics++;
			break;
		case 2:
			if (e[3] == ACPI_SCI_IRQ && get(e + 4, 4) == ACPI_SCI_IRQ &&
			    get(e + 8, 2) == 0x000d)
				sci_override++;
			break;
		default:
			break;
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(cpus, nr_vcpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(sci_override, 1);
}

static void test_madt_lists_every_cpu(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(4);
	check_madt(240);
}

static void test_fadt_power_control(void **state)
{
	const uint8_t *fadt, *dsdt, *facs;
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12 };

	(void)state;
	build(2);
	fadt = find_table("FACP");
	assert_int_equal(get(fadt + 46, 2), ACPI_SCI_IRQ);
	assert_int_equal(get(fadt + 48, 4), 0); /* no SMI_CMD: always in ACPI mode */
	assert_int_equal(get(fadt + 56, 4), PORT_PM1A_EVT);
	assert_int_equal(get(fadt + 64, 4), PORT_PM1A_CNT);
	assert_int_equal(fadt[88], 4);
	assert_int_equal(fadt[89], 2);
	assert_int_equal(get(fadt + 112, 4) & (1u << 4), 0); /* fixed power button present */
	assert_int_equal(get(fadt + 112, 4) & (1u << 10), 1u << 10); /* reset register supported */
	assert_int_equal(get(fadt + 112, 4) & (1u << 20), 0);        /* not hardware-reduced */
	assert_int_equal(fadt[116], 1);                              /* reset reg in system I/O */
	assert_int_equal(get(fadt + 120, 8), PORT_ACPI_RESET);
	assert_int_equal(fadt[128], ACPI_RESET_VALUE);
	assert_int_equal(get(fadt + 152, 8), PORT_PM1A_EVT);
	assert_int_equal(get(fadt + 176, 8), PORT_PM1A_CNT);

	dsdt = at(get(fadt + 140, 8));
	assert_int_equal(get(fadt + 40, 4), get(fadt + 140, 8));
	assert_memory_equal(dsdt, "DSDT", 4);
	assert_int_equal(acpi_checksum(dsdt, (uint32_t)get(dsdt + 4, 4)), 0);
	assert_non_null(memmem(dsdt + 36, get(dsdt + 4, 4) - 36, s5, sizeof(s5)));

	facs = at(get(fadt + 132, 8));
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal((get(fadt + 132, 8)) % 64, 0);
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(acpi_build(tables, 64, BASE, 1), -ENOSPC);
	assert_int_equal(acpi_build(tables, sizeof(tables), BASE, 0), -EINVAL);
	assert_int_equal(acpi_build(tables, sizeof(tables), BASE, 256), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_and_xsdt),
		cmocka_unit_test(test_madt_lists_every_cpu),
		cmocka_unit_test(test_fadt_power_control),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
