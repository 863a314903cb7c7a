// SPDX-License-Identifier: GPL-2.0-only
/*
 * The 16550A as Linux's 8250 driver probes and uses it: scratch, loopback, FIFO detection,
 * transmit, receive with back-pressure, and interrupt identification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "devices/serial.h"

static uint8_t out[256];
static size_t out_len;
static int rx_ready_calls;

static void capture(void *opaque, uint8_t byte)
{
	(void)opaque;
	out[out_len++] = byte;
}

static void rx_ready(void *opaque)
{
	(void)opaque;
	rx_ready_calls++;
}

static struct serial *new_uart(void)
{
	/* vm_fd -1: the interrupt ioctl fails harmlessly, the register model is what is tested. */
	struct irq_line irq = { -1, 4 };
	struct serial_host host = { capture, rx_ready, NULL };
	struct serial *s;

	out_len = 0;
	rx_ready_calls = 0;
	assert_int_equal(serial_new(&irq, &host, &s), 0);
	return s;
}

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v;

	serial_io_ops.read(s, reg, &v, 1);
	return v;
}

static void wr(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_io_ops.write(s, reg, &v, 1);
}

static void test_probe_like_linux(void **state)
{
	struct serial *s = new_uart();

	(void)state;
	wr(s, 7, 0xa5);
	assert_int_equal(rd(s, 7), 0xa5);
	/* autoconfig's loopback test: MCR = LOOP | OUT2 | RTS must read MSR[7:4] = 0x9. */
	wr(s, 4, 0x1a);
	assert_int_equal(rd(s, 6) & 0xf0, 0x90);
	wr(s, 4, 0x08);
	assert_int_equal(rd(s, 6) & 0xf0, 0xb0);
	/* FIFO enabled: IIR bits 7:6 read 11 (a 16550A). */
	wr(s, 2, 0x01);
	assert_int_equal(rd(s, 2) & 0xc0, 0xc0);
	/* Divisor latch. */
	wr(s, 3, 0x80);
	wr(s, 0, 0x01);
	wr(s, 1, 0x00);
	assert_int_equal(rd(s, 0), 0x01);
	wr(s, 3, 0x03);
	serial_free(s);
}

static void test_transmit(void **state)
{
	struct serial *s = new_uart();

	(void)state;
	wr(s, 3, 0x03);
	wr(s, 0, 'o');
	wr(s, 0, 'k');
	assert_int_equal(out_len, 2);
	assert_memory_equal(out, "ok", 2);
	assert_int_equal(rd(s, 5) & 0x60, 0x60); /* THRE and TEMT: always ready */
	serial_free(s);
}

static void test_loopback_does_not_transmit(void **state)
{
	struct serial *s = new_uart();

	(void)state;
	wr(s, 4, 0x10);
	wr(s, 0, 'x');
	assert_int_equal(out_len, 0);
	assert_int_equal(rd(s, 5) & 1, 1);
	assert_int_equal(rd(s, 0), 'x');
	serial_free(s);
}

static void test_receive_with_backpressure(void **state)
{
	struct serial *s = new_uart();
	uint8_t big[SERIAL_RX_FIFO + 10];

	(void)state;
	assert_int_equal(rd(s, 5) & 1, 0);
	assert_int_equal(serial_receive(s, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(rd(s, 5) & 1, 1);
	assert_int_equal(rd(s, 0), 'h');
	assert_int_equal(rd(s, 0), 'i');
	assert_int_equal(rd(s, 5) & 1, 0);

	memset(big, 'z', sizeof(big));
	assert_int_equal(serial_receive(s, big, sizeof(big)), SERIAL_RX_FIFO);
	for (int i = 0; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(rd(s, 0), 'z');
	/* The host is told once that there is room again. */
	assert_int_equal(rx_ready_calls, 1);
	serial_free(s);
}

static void test_fifo_clear_lets_host_send_more(void **state)
{
	struct serial *s = new_uart();
	uint8_t big[SERIAL_RX_FIFO + 10];

	(void)state;
	memset(big, 'z', sizeof(big));
	assert_int_equal(serial_receive(s, big, sizeof(big)), SERIAL_RX_FIFO);
	wr(s, 2, 0x03); /* FCR: enable, clear the receive FIFO */
	assert_int_equal(rd(s, 5) & 1, 0);
	/* Otherwise the rest of the host's input would wait for a drain that never comes. */
	assert_int_equal(rx_ready_calls, 1);
	assert_int_equal(serial_receive(s, (const uint8_t *)"ok", 2), 2);
	assert_int_equal(rd(s, 0), 'o');
	serial_free(s);
}

static void test_interrupt_identification(void **state)
{
	struct serial *s = new_uart();

	(void)state;
	assert_int_equal(rd(s, 2) & 0x0f, 0x01); /* nothing pending */
	wr(s, 1, 0x02);                          /* enable THRI: THR is empty, so it fires */
	assert_int_equal(rd(s, 2) & 0x0f, 0x02);
	assert_int_equal(rd(s, 2) & 0x0f, 0x01); /* reading IIR acknowledged it */
	wr(s, 0, 'a');
	assert_int_equal(rd(s, 2) & 0x0f, 0x02); /* empty again after transmitting */
	wr(s, 1, 0x03);
	serial_receive(s, (const uint8_t *)"q", 1);
	assert_int_equal(rd(s, 2) & 0x0f, 0x04); /* received data outranks THRE */
	rd(s, 0);
	serial_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_like_linux),
		cmocka_unit_test(test_transmit),
		cmocka_unit_test(test_loopback_does_not_transmit),
		cmocka_unit_test(test_receive_with_backpressure),
		cmocka_unit_test(test_fifo_clear_lets_host_send_more),
		cmocka_unit_test(test_interrupt_identification),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
