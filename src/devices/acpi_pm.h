/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ACPI fixed hardware (ACPI 6.4 §4.8): the PM1a event block (status and enable, with the
 * fixed power button), the PM1a control block (SLP_TYP/SLP_EN for poweroff) and the FADT
 * reset register.  Registers are accessed on vCPU threads; the power button is pressed from
 * the main thread.
 */
#ifndef XENO_DEVICES_ACPI_PM_H
#define XENO_DEVICES_ACPI_PM_H

#include "devices/device.h"

struct acpi_pm;

int acpi_pm_new(const struct irq_line *sci, const struct vm_stopper *stopper, struct acpi_pm **ret)
        __attribute__((warn_unused_result));
void acpi_pm_free(struct acpi_pm *pm);

/* Presses the fixed power button: sets PWRBTN_STS and raises the SCI if the guest enabled it. */
void acpi_pm_power_button(struct acpi_pm *pm);

/* The PM1 registers, for a save file (issue 7). */
struct acpi_pm_saved {
	uint16_t sts, en, cnt, reserved;
};

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_saved *ret);
void acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_saved *saved);

extern const struct io_ops acpi_pm_evt_ops;   /* PM1a_EVT_BLK, 4 ports */
extern const struct io_ops acpi_pm_cnt_ops;   /* PM1a_CNT_BLK, 2 ports */
extern const struct io_ops acpi_pm_reset_ops; /* RESET_REG, 1 port */

#endif
