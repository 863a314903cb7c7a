// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI PM1 registers.  The event block is status (write 1 to clear) then enable, 16 bits each;
 * accesses of any width are split into bytes so a guest may use 8, 16 or 32-bit accesses.
 */
#include "devices/acpi_pm.h"
#include "vmm/layout.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PM1_PWRBTN         (1u << 8) /* PWRBTN_STS / PWRBTN_EN */
#define PM1_CNT_SCI_EN     (1u << 0)
#define PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)
#define PM1_CNT_SLP_EN     (1u << 13)

struct acpi_pm {
	pthread_mutex_t lock;
	struct irq_line sci;
	struct vm_stopper stopper;
	uint16_t sts, en, cnt;
	bool sci_level;
};

int acpi_pm_new(const struct irq_line *sci, const struct vm_stopper *stopper, struct acpi_pm **ret)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -ENOMEM;
	pthread_mutex_init(&pm->lock, NULL);
	pm->sci = *sci;
	pm->stopper = *stopper;
	/* No SMI_CMD in the FADT: the platform is always in ACPI mode (§4.8.2.5). */
	pm->cnt = PM1_CNT_SCI_EN;
	*ret = pm;
	return 0;
}

void acpi_pm_free(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static void update_sci_locked(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en & PM1_PWRBTN) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(&pm->sci, level);
	}
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_saved *ret)
{
	pthread_mutex_lock(&pm->lock);
	*ret = (struct acpi_pm_saved){ .sts = pm->sts, .en = pm->en, .cnt = pm->cnt };
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_saved *saved)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts = saved->sts;
	pm->en = saved->en;
	pm->cnt = saved->cnt;
	pm->sci_level = false;
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
}

static uint8_t byte_of(uint16_t v, unsigned int i)
{
	return (uint8_t)(v >> (8 * i));
}

static void evt_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < size; i++) {
		uint64_t off = offset + i;

		out[i] = off < 2   ? byte_of(pm->sts, (unsigned int)off)
		         : off < 4 ? byte_of(pm->en, (unsigned int)off - 2)
		                   : 0xff;
	}
	pthread_mutex_unlock(&pm->lock);
}

static void evt_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *in = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < size; i++) {
		uint64_t off = offset + i;
		unsigned int shift = 8 * (unsigned int)(off & 1);

		if (off < 2)
			pm->sts &= (uint16_t) ~((uint16_t)in[i] << shift); /* write 1 to clear */
		else if (off < 4)
			pm->en = (uint16_t)((pm->en & ~(0xffu << shift)) |
			                    ((uint16_t)in[i] << shift));
	}
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void cnt_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < size; i++)
		out[i] = offset + i < 2 ? byte_of(pm->cnt, (unsigned int)(offset + i)) : 0xff;
	pthread_mutex_unlock(&pm->lock);
}

static void cnt_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *in = data;
	bool poweroff = false;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < size && offset + i < 2; i++) {
		unsigned int shift = 8 * (unsigned int)(offset + i);

		pm->cnt = (uint16_t)((pm->cnt & ~(0xffu << shift)) | ((uint16_t)in[i] << shift));
	}
	if (pm->cnt & PM1_CNT_SLP_EN) {
		/* SLP_EN is write-only: it triggers the transition and reads back as 0. */
		poweroff = PM1_CNT_SLP_TYP(pm->cnt) == ACPI_S5_SLP_TYP;
		pm->cnt &= (uint16_t)~PM1_CNT_SLP_EN;
	}
	pm->cnt |= PM1_CNT_SCI_EN;
	pthread_mutex_unlock(&pm->lock);
	if (poweroff)
		pm->stopper.request(pm->stopper.vm, VM_STOP_POWEROFF);
}

static void reset_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;

	(void)offset;
	(void)size;
	if (((const uint8_t *)data)[0] == ACPI_RESET_VALUE)
		pm->stopper.request(pm->stopper.vm, VM_STOP_REBOOT);
}

const struct io_ops acpi_pm_evt_ops = { .name = "pm1-evt", .read = evt_read, .write = evt_write };
const struct io_ops acpi_pm_cnt_ops = { .name = "pm1-cnt", .read = cnt_read, .write = cnt_write };
const struct io_ops acpi_pm_reset_ops = { .name = "acpi-reset", .write = reset_write };
