// SPDX-License-Identifier: GPL-2.0-only
/*
 * 16550A UART, as the Linux 8250 driver probes and drives it (drivers/tty/serial/8250):
 * scratch register, the loopback test of autoconfig (MCR 0x1a must read back as MSR 0x90),
 * FIFO identification through IIR bits 6-7, and interrupts for received data and an empty
 * transmit holding register.  Runs on vCPU threads (registers) and the main thread (input).
 */
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets. */
enum { RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI  0x01 /* received data available */
#define IER_THRI 0x02 /* transmit holding register empty */
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI  0x40
#define MSR_DCD 0x80

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct serial_host host;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_interrupt; /* the "THR empty" interrupt is pending */
	bool irq_level;
	bool rx_was_full;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_count;
};

static uint8_t iir_locked(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thr_interrupt)
		return IIR_THRI | fifo;
	return IIR_NO_INT | fifo;
}

static void update_irq_locked(struct serial *s)
{
	bool level = !(iir_locked(s) & IIR_NO_INT);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

int serial_new(const struct irq_line *irq, const struct serial_host *host, struct serial **ret)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->irq = *irq;
	s->host = *host;
	s->mcr = MCR_OUT2;
	s->dll = 0x0c; /* 9600 baud, as firmware leaves it */
	*ret = s;
	return 0;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void rx_push_locked(struct serial *s, uint8_t byte)
{
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = byte;
	s->rx_count++;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the UART is disconnected from the line (16550 datasheet, MCR bit 4). */
	if (!(s->mcr & MCR_LOOP)) {
		while (n < len && s->rx_count < SERIAL_RX_FIFO)
			rx_push_locked(s, buf[n++]);
		if (n < len)
			s->rx_was_full = true;
		update_irq_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static uint8_t rx_pop_locked(struct serial *s)
{
	uint8_t byte = 0;

	if (s->rx_count) {
		byte = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
		s->rx_count--;
	}
	return byte;
}

static uint8_t msr_locked(const struct serial *s)
{
	uint8_t msr = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback wires the modem control outputs back to the status inputs. */
	if (s->mcr & MCR_DTR)
		msr |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		msr |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		msr |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		msr |= MSR_DCD;
	return msr;
}

static uint8_t read_reg_locked(struct serial *s, unsigned int reg)
{
	uint8_t iir;

	switch (reg) {
	case RBR_THR_DLL:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		return rx_pop_locked(s);
	case IER_DLM:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case IIR_FCR:
		iir = iir_locked(s);
		/* Reading IIR while it reports THRI acknowledges that interrupt. */
		if ((iir & 0x0f) == IIR_THRI)
			s->thr_interrupt = false;
		return iir;
	case LCR:
		return s->lcr;
	case MCR:
		return s->mcr;
	case LSR:
		return (s->rx_count ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
	case MSR:
		return msr_locked(s);
	default:
		return s->scr;
	}
}

static void write_reg_locked(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR_DLL:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & MCR_LOOP) {
			if (s->rx_count < SERIAL_RX_FIFO)
				rx_push_locked(s, v);
		} else {
			s->host.output(s->host.opaque, v);
		}
		/* Transmission is instant, so the holding register is empty again at once. */
		s->thr_interrupt = true;
		break;
	case IER_DLM:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises the interrupt (16550 behaviour). */
		if (!(s->ier & IER_THRI) && (v & IER_THRI))
			s->thr_interrupt = true;
		s->ier = v & IER_MASK;
		break;
	case IIR_FCR:
		if (v & FCR_CLEAR_RX) {
			s->rx_count = 0;
			s->rx_head = 0;
		}
		s->fcr = v & FCR_ENABLE;
		break;
	case LCR:
		s->lcr = v;
		break;
	case MCR:
		s->mcr = v & MCR_MASK;
		break;
	case LSR:
	case MSR:
		break; /* read-only */
	default:
		s->scr = v;
		break;
	}
}

/* Clearing the FIFO drains it as surely as reading it does: the host may send more. */
static bool take_drained_locked(struct serial *s)
{
	if (s->rx_count || !s->rx_was_full)
		return false;
	s->rx_was_full = false;
	return true;
}

static void serial_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct serial *s = opaque;
	bool drained;

	memset(data, 0, size);
	pthread_mutex_lock(&s->lock);
	((uint8_t *)data)[0] = read_reg_locked(s, (unsigned int)offset);
	update_irq_locked(s);
	drained = take_drained_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (drained && s->host.rx_ready)
		s->host.rx_ready(s->host.opaque);
}

static void serial_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct serial *s = opaque;
	bool drained;

	(void)size;
	pthread_mutex_lock(&s->lock);
	write_reg_locked(s, (unsigned int)offset, ((const uint8_t *)data)[0]);
	update_irq_locked(s);
	drained = take_drained_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (drained && s->host.rx_ready)
		s->host.rx_ready(s->host.opaque);
}

void serial_get_state(struct serial *s, struct serial_state *ret_state)
{
	pthread_mutex_lock(&s->lock);
	*ret_state = (struct serial_state){
		.ier = s->ier,
		.mcr = s->mcr,
		.rx_count = s->rx_count,
		.irq_level = s->irq_level,
		.thr_interrupt = s->thr_interrupt,
	};
	pthread_mutex_unlock(&s->lock);
}

const struct io_ops serial_io_ops = {
	.name = "serial",
	.read = serial_read,
	.write = serial_write,
};

void serial_save(struct serial *s, struct serial_saved *ret)
{
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&s->lock);
	*ret = (struct serial_saved){
		.ier = s->ier,
		.lcr = s->lcr,
		.mcr = s->mcr,
		.scr = s->scr,
		.fcr = s->fcr,
		.dll = s->dll,
		.dlm = s->dlm,
		.thr_interrupt = s->thr_interrupt,
		.rx_count = s->rx_count,
		.rx_was_full = s->rx_was_full,
	};
	for (unsigned int i = 0; i < s->rx_count; i++)
		ret->rx[i] = s->rx[(s->rx_head + i) % SERIAL_RX_FIFO];
	pthread_mutex_unlock(&s->lock);
}

int serial_load(struct serial *s, const struct serial_saved *saved)
{
	if (saved->rx_count > SERIAL_RX_FIFO)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = saved->ier;
	s->lcr = saved->lcr;
	s->mcr = saved->mcr;
	s->scr = saved->scr;
	s->fcr = saved->fcr;
	s->dll = saved->dll;
	s->dlm = saved->dlm;
	s->thr_interrupt = saved->thr_interrupt != 0;
	s->rx_was_full = saved->rx_was_full != 0;
	s->rx_head = 0;
	s->rx_count = saved->rx_count;
	memcpy(s->rx, saved->rx, sizeof(s->rx));
	s->irq_level = false;
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
