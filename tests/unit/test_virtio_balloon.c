// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon against hand-built rings in real guest memory (an anonymous mapping, as the
 * VMM's): pages the guest inflates read back as zeroes (their memory went back to the host),
 * deflated ones are only counted, page numbers outside guest memory are counted and
 * skipped, a malformed page list puts the device in NEEDS_RESET, and the configuration
 * space carries the host's target and the driver's count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/balloon.h"
#include "fake_transport.h"
#include "ring_builder.h"

struct fx {
	struct ring inflate, deflate;
	struct virtio_dev *dev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_transport_clear();
	assert_int_equal(ring_init(&f->inflate, 16), 0);
	assert_int_equal(ring_init(&f->deflate, 16), 0);
	assert_int_equal(virtio_balloon_new(&f->dev), 0);
	/* Both queues see the inflate ring's memory: the deflate ring is its own queue there. */
	f->dev->mem = &f->inflate.mem;
	f->dev->features = VIRTIO_F_VERSION_1 | f->dev->ops->features(f->dev);
	assert_int_equal(ring_setup_vq(&f->inflate, &f->dev->queues[0], false, false), 0);
	assert_int_equal(ring_setup_vq(&f->deflate, &f->dev->queues[1], false, false), 0);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->dev->ops->free(f->dev);
	ring_fini(&f->inflate);
	ring_fini(&f->deflate);
	free(f);
	return 0;
}

/* Sends one page list on queue q (0 inflate, 1 deflate); returns whether it came back. */
static bool send(struct fx *f, unsigned int q, const uint32_t *pfns, uint32_t bytes)
{
	struct ring *r = q ? &f->deflate : &f->inflate;
	struct ring_buf b = { ring_alloc_copy(r, pfns, bytes), bytes, false };
	uint16_t head = ring_add_chain(r, &b, 1);
	uint32_t id, len;

	ring_publish(r, head);
	f->dev->ops->queue_notify(f->dev, q);
	return ring_pop_used(r, &id, &len) && id == head && len == 0;
}

static void test_inflated_pages_go_back_to_the_host(void **state)
{
	struct fx *f = *state;
	struct virtio_balloon_stats st;
	uint8_t *page = ring_ptr(&f->inflate, 0x80000);
	uint32_t pfns[] = { 0x80, 0x81, 0x83, RING_MEM_SIZE >> 12, 0xffffffffu };

	memset(page, 0xab, 4 * 4096);
	assert_true(send(f, 0, pfns, sizeof(pfns)));
	/* 0x80, 0x81 (one run) and 0x83 are zero now; 0x82 was not given. */
	assert_int_equal(page[0], 0);
	assert_int_equal(page[4096 + 4095], 0);
	assert_int_equal(page[2 * 4096], 0xab);
	assert_int_equal(page[3 * 4096], 0);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.inflated, 3);
	assert_int_equal(st.bad_pfns, 2);
	assert_int_equal(fake_transport.needs_reset_calls, 0);

	assert_true(send(f, 1, pfns, 2 * sizeof(pfns[0])));
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.deflated, 2);
}

static void test_a_malformed_page_list_needs_a_reset(void **state)
{
	struct fx *f = *state;
	uint32_t pfns[] = { 0x80, 0x81 };
	struct ring_buf b = { ring_alloc_copy(&f->inflate, pfns, sizeof(pfns)), 6, false };

	ring_publish(&f->inflate, ring_add_chain(&f->inflate, &b, 1));
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	/* Nothing more is served until a reset. */
	assert_false(send(f, 0, pfns, sizeof(pfns)));
	f->dev->ops->reset(f->dev);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
}

static void test_a_writable_buffer_needs_a_reset(void **state)
{
	struct fx *f = *state;
	struct ring_buf b = { ring_alloc(&f->inflate, 8), 8, true };

	ring_publish(&f->inflate, ring_add_chain(&f->inflate, &b, 1));
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
}

static void test_config_space_has_target_and_actual(void **state)
{
	struct fx *f = *state;
	struct virtio_balloon_stats st;
	uint8_t cfg[8], actual[4] = { 0x00, 0x01, 0, 0 };
	uint8_t junk[4] = { 1, 2, 3, 4 };

	virtio_balloon_set_target(f->dev, 0x12345);
	assert_int_equal(fake_transport.config_changed_calls, 1);
	f->dev->ops->config_read(f->dev, 0, cfg, sizeof(cfg));
	assert_int_equal(cfg[0] | cfg[1] << 8 | cfg[2] << 16 | cfg[3] << 24, 0x12345);
	/* The driver writes actual; num_pages is the device's, and stays. */
	f->dev->ops->config_write(f->dev, 4, actual, 4);
	f->dev->ops->config_write(f->dev, 0, junk, 4);
	f->dev->ops->config_write(f->dev, 6, junk, 8);
	f->dev->ops->config_read(f->dev, 0, cfg, sizeof(cfg));
	assert_int_equal(cfg[0] | cfg[1] << 8 | cfg[2] << 16 | cfg[3] << 24, 0x12345);
	assert_int_equal(cfg[4] | cfg[5] << 8, 0x100);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.target_pages, 0x12345);
	assert_int_equal(st.actual_pages, 0x100);
	/* Reads past the end are zeroes. */
	f->dev->ops->config_read(f->dev, 6, cfg, sizeof(cfg));
	assert_int_equal(cfg[2], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inflated_pages_go_back_to_the_host, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_a_malformed_page_list_needs_a_reset, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_a_writable_buffer_needs_a_reset, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_config_space_has_target_and_actual, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
