// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes the legacy devices as a hostile guest would: any port, any width, any value, in any
 * order, through the same bus dispatch the vCPU threads use.  Each record is 6 bytes:
 * direction+size, port (2), value (3 low bytes, repeated to the access size).
 */
#include <stdint.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"
#include "vmm/bus.h"
#include "vmm/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stops;

static void count_stop(void *vm, enum vm_stop_reason reason)
{
	(void)vm;
	(void)reason;
	stops++;
}

static void discard(void *opaque, uint8_t byte)
{
	(void)opaque;
	(void)byte;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int sizes[4] = { 1, 2, 4, 1 };
	struct irq_line irq = { -1, 4 };
	struct vm_stopper stopper = { count_stop, NULL };
	struct serial_host host = { discard, NULL, NULL };
	struct bus bus = { .name = "pio" };
	struct serial *serial;
	struct acpi_pm *pm;

	if (serial_new(&irq, &host, &serial) < 0)
		return 0;
	if (acpi_pm_new(&irq, &stopper, &pm) < 0) {
		serial_free(serial);
		return 0;
	}
	(void)!bus_register(&bus, PORT_COM1, SERIAL_PORT_COUNT, &serial_io_ops, serial);
	(void)!bus_register(&bus, PORT_PM1A_EVT, PORT_PM1A_EVT_LEN, &acpi_pm_evt_ops, pm);
	(void)!bus_register(&bus, PORT_PM1A_CNT, PORT_PM1A_CNT_LEN, &acpi_pm_cnt_ops, pm);
	(void)!bus_register(&bus, PORT_ACPI_RESET, 1, &acpi_pm_reset_ops, pm);
	(void)!bus_register(&bus, PORT_I8042_DATA, 1, &i8042_data_ops, &stopper);
	(void)!bus_register(&bus, PORT_I8042_CMD, 1, &i8042_cmd_ops, &stopper);
	(void)!bus_register(&bus, PORT_PVPANIC, 1, &pvpanic_ops, &stopper);

	for (size_t off = 0; off + 6 <= size; off += 6) {
		const uint8_t *rec = data + off;
		unsigned int access = sizes[rec[0] & 3];
		/* Bias ports towards the devices so the fuzzer spends its time there. */
		uint16_t port = (rec[0] & 0x80)
		                        ? (uint16_t)(rec[1] | rec[2] << 8)
		                        : (uint16_t)(0x3f8 + (rec[1] & 7) + (rec[2] & 1) * 0x208);
		uint8_t buf[4];

		for (unsigned int i = 0; i < access; i++)
			buf[i] = rec[3 + i % 3];
		if (rec[0] & 4)
			bus_read(&bus, port, buf, access);
		else
			bus_write(&bus, port, buf, access);
		if (rec[0] & 8)
			(void)serial_receive(serial, rec + 3, 3);
		if (rec[0] & 16)
			acpi_pm_power_button(pm);
	}
	acpi_pm_free(pm);
	serial_free(serial);
	return 0;
}
