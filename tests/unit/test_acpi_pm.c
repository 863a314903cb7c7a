// SPDX-License-Identifier: GPL-2.0-only
/* ACPI fixed hardware: poweroff through SLP_TYP/SLP_EN, the reset register, the power button. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "vmm/layout.h"

static int requests[8];
static int nr_requests;

static void record(void *vm, enum vm_stop_reason reason)
{
	(void)vm;
	requests[nr_requests++] = reason;
}

static struct acpi_pm *new_pm(void)
{
	struct irq_line sci = { -1, ACPI_SCI_IRQ };
	struct vm_stopper stopper = { record, NULL };
	struct acpi_pm *pm;

	nr_requests = 0;
	assert_int_equal(acpi_pm_new(&sci, &stopper, &pm), 0);
	return pm;
}

static uint16_t rd16(const struct io_ops *ops, struct acpi_pm *pm, uint64_t off)
{
	uint16_t v;

	ops->read(pm, off, &v, 2);
	return v;
}

static void wr16(const struct io_ops *ops, struct acpi_pm *pm, uint64_t off, uint16_t v)
{
	ops->write(pm, off, &v, 2);
}

static void test_poweroff(void **state)
{
	struct acpi_pm *pm = new_pm();

	(void)state;
	assert_int_equal(rd16(&acpi_pm_cnt_ops, pm, 0) & 1, 1);           /* SCI_EN: in ACPI mode */
	wr16(&acpi_pm_cnt_ops, pm, 0, (uint16_t)((3 << 10) | (1 << 13))); /* S3: not supported */
	assert_int_equal(nr_requests, 0);
	wr16(&acpi_pm_cnt_ops, pm, 0, (uint16_t)((ACPI_S5_SLP_TYP << 10) | (1 << 13)));
	assert_int_equal(nr_requests, 1);
	assert_int_equal(requests[0], VM_STOP_POWEROFF);
	assert_int_equal(rd16(&acpi_pm_cnt_ops, pm, 0) & (1 << 13), 0); /* SLP_EN reads 0 */
	acpi_pm_free(pm);
}

static void test_reset_register(void **state)
{
	struct acpi_pm *pm = new_pm();
	uint8_t v = 0;

	(void)state;
	acpi_pm_reset_ops.write(pm, 0, &v, 1);
	assert_int_equal(nr_requests, 0);
	v = ACPI_RESET_VALUE;
	acpi_pm_reset_ops.write(pm, 0, &v, 1);
	assert_int_equal(nr_requests, 1);
	assert_int_equal(requests[0], VM_STOP_REBOOT);
	acpi_pm_free(pm);
}

static void test_power_button_status(void **state)
{
	struct acpi_pm *pm = new_pm();
	uint32_t evt;

	(void)state;
	assert_int_equal(rd16(&acpi_pm_evt_ops, pm, 0), 0);
	wr16(&acpi_pm_evt_ops, pm, 2, 1 << 8); /* PWRBTN_EN */
	assert_int_equal(rd16(&acpi_pm_evt_ops, pm, 2), 1 << 8);
	acpi_pm_power_button(pm);
	assert_int_equal(rd16(&acpi_pm_evt_ops, pm, 0), 1 << 8);
	/* One 32-bit read sees status and enable together. */
	acpi_pm_evt_ops.read(pm, 0, &evt, 4);
	assert_int_equal(evt, (1u << 8) | (1u << 24));
	wr16(&acpi_pm_evt_ops, pm, 0, 0); /* writing 0 changes nothing */
	assert_int_equal(rd16(&acpi_pm_evt_ops, pm, 0), 1 << 8);
	wr16(&acpi_pm_evt_ops, pm, 0, 1 << 8); /* write 1 to clear */
	assert_int_equal(rd16(&acpi_pm_evt_ops, pm, 0), 0);
	assert_int_equal(nr_requests, 0); /* the guest decides what the button does */
	acpi_pm_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poweroff),
		cmocka_unit_test(test_reset_register),
		cmocka_unit_test(test_power_button_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
