/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A 16550A UART (COM1 for the guest's ttyS0).  Register accesses arrive on vCPU threads; host
 * input arrives on the main thread through serial_receive().  Transmission is instant: every
 * byte the guest writes goes to the output callback at once, which must not block.
 */
#ifndef XENO_DEVICES_SERIAL_H
#define XENO_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"

#define SERIAL_PORT_COUNT 8
#define SERIAL_RX_FIFO    64

struct serial_host {
	/* A byte the guest transmitted; called with the UART's lock held, must not block. */
	void (*output)(void *opaque, uint8_t byte);
	/* The receive FIFO has room again after being full; called on a vCPU thread. */
	void (*rx_ready)(void *opaque);
	void *opaque;
};

struct serial;

int serial_new(const struct irq_line *irq, const struct serial_host *host, struct serial **ret)
        __attribute__((warn_unused_result));
void serial_free(struct serial *s);

/* Queues host input for the guest; returns how many bytes fit (the rest: wait for rx_ready). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* A snapshot of the registers and FIFO, for the control socket's stats. */
struct serial_state {
	uint8_t ier, mcr;
	unsigned int rx_count;
	bool irq_level, thr_interrupt;
};

void serial_get_state(struct serial *s, struct serial_state *ret_state);

/* What a save file keeps of the UART: registers and the input not yet read (issue 7). */
struct serial_saved {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thr_interrupt;
	uint32_t rx_count;
	uint32_t rx_was_full;
	uint8_t rx[SERIAL_RX_FIFO];
};

void serial_save(struct serial *s, struct serial_saved *ret);
/* Loads a saved UART and raises its interrupt if one is due.  0, or -EINVAL. */
int serial_load(struct serial *s, const struct serial_saved *saved);

extern const struct io_ops serial_io_ops;

#endif
