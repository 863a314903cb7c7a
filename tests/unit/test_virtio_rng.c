// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng against hand-built rings in real guest memory: writable buffers come back full
 * of random bytes, device-readable ones come back untouched with nothing written, and a
 * malformed ring puts the device in NEEDS_RESET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/rng.h"
#include "fake_transport.h"
#include "ring_builder.h"

struct fx {
	struct ring ring;
	struct virtio_dev *dev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_transport_clear();
	assert_int_equal(ring_init(&f->ring, 64), 0);
	assert_int_equal(virtio_rng_new(&f->dev), 0);
	f->dev->mem = &f->ring.mem;
	f->dev->features = VIRTIO_F_VERSION_1 | f->dev->ops->features(f->dev);
	assert_int_equal(ring_setup_vq(&f->ring, &f->dev->queues[0], false, false), 0);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->dev->ops->free(f->dev);
	ring_fini(&f->ring);
	free(f);
	return 0;
}

/* Publishes one chain, runs the device, returns the used length. */
static uint32_t run(struct fx *f, const struct ring_buf *bufs, unsigned int n)
{
	uint16_t head = ring_add_chain(&f->ring, bufs, n);
	uint32_t id, len;

	ring_publish(&f->ring, head);
	f->dev->ops->queue_notify(f->dev, 0);
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_int_equal(id, head);
	return len;
}

/* Whether the bytes are not all one value (2^-2040 odds of a false alarm for 256 bytes). */
static bool varied(const uint8_t *p, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (p[i] != p[0])
			return true;
	return false;
}

static void test_ops(void **state)
{
	struct fx *f = *state;

	assert_string_equal(f->dev->ops->name, "virtio-rng");
	assert_int_equal(f->dev->ops->device_id, VIRTIO_ID_RNG);
	assert_int_equal(f->dev->ops->pci_class, 0x00ff00);
	assert_int_equal(f->dev->ops->num_queues, 1);
	assert_int_equal(f->dev->ops->config_size, 0);
}

static void test_fills_buffer(void **state)
{
	struct fx *f = *state;
	uint64_t a = ring_alloc(&f->ring, 256), b = ring_alloc(&f->ring, 256);
	struct ring_buf one[] = { { a, 256, true } };
	struct ring_buf two[] = { { b, 100, true }, { b + 100, 156, true } };

	assert_int_equal(run(f, one, 1), 256);
	assert_true(varied(ring_ptr(&f->ring, a), 256));
	assert_int_equal(run(f, two, 2), 256);
	assert_true(varied(ring_ptr(&f->ring, b), 256));
	/* Two fills differ. */
	assert_memory_not_equal(ring_ptr(&f->ring, a), ring_ptr(&f->ring, b), 256);
	assert_int_equal(fake_transport.notify_calls, 2);
}

static void test_out_only_chain_gets_nothing(void **state)
{
	struct fx *f = *state;
	uint64_t a = ring_alloc(&f->ring, 64);
	struct ring_buf out[] = { { a, 64, false } };

	memset(ring_ptr(&f->ring, a), 0x42, 64);
	assert_int_equal(run(f, out, 1), 0);
	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(((uint8_t *)ring_ptr(&f->ring, a))[i], 0x42);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_large_buffer_is_capped(void **state)
{
	struct fx *f = *state;
	uint32_t len = 2 * VIRTIO_RNG_MAX_REQUEST;
	uint64_t a = ring_alloc(&f->ring, len);
	struct ring_buf big[] = { { a, len, true } };
	uint8_t *p = ring_ptr(&f->ring, a);

	/* The device MAY use less than the whole buffer (§5.4.6.2). */
	assert_int_equal(run(f, big, 1), VIRTIO_RNG_MAX_REQUEST);
	assert_true(varied(p + VIRTIO_RNG_MAX_REQUEST - 256, 256));
	for (uint32_t i = VIRTIO_RNG_MAX_REQUEST; i < len; i++)
		assert_int_equal(p[i], 0);
}

static void test_batch_notifies_once(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	for (unsigned int i = 0; i < 5; i++) {
		struct ring_buf b[] = { { ring_alloc(&f->ring, 32), 32, true } };

		ring_publish(&f->ring, ring_add_chain(&f->ring, b, 1));
	}
	f->dev->ops->queue_notify(f->dev, 0);
	for (unsigned int i = 0; i < 5; i++) {
		assert_true(ring_pop_used(&f->ring, &id, &len));
		assert_int_equal(len, 32);
	}
	assert_int_equal(fake_transport.notify_calls, 1);
}

static void test_malformed_ring_needs_reset(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	ring_set_desc(&f->ring, 0, RING_MEM_SIZE - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	ring_publish(&f->ring, 0);
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	assert_false(ring_pop_used(&f->ring, &id, &len));
	assert_int_equal(fake_transport.notify_calls, 0);
}

static void test_notify_on_disabled_queue_is_ignored(void **state)
{
	struct fx *f = *state;

	memset(&f->dev->queues[0], 0, sizeof(f->dev->queues[0]));
	f->dev->ops->queue_notify(f->dev, 0);
	f->dev->ops->queue_notify(f->dev, 3);
	assert_int_equal(fake_transport.notify_calls, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fills_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_only_chain_gets_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_buffer_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_notifies_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_ring_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_on_disabled_queue_is_ignored, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
