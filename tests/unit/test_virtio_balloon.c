// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon against hand-built rings in real guest memory (an anonymous mapping, as the
 * VMM's): pages the guest inflates read back as zeroes (their memory went back to the host),
 * deflated ones are only counted, page numbers outside guest memory are counted and
 * skipped, a malformed page list puts the device in NEEDS_RESET, and the configuration
 * space carries the host's target and the driver's count.  The statistics queue: figures
 * read (unknown tags, odd sizes and split entries included), the buffer held until the host
 * wants fresh figures; free page reports: whole pages go back, the rest is counted; which
 * queue is which under each set of negotiated features.
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

#define PAGE_SIZE 4096u

struct fx {
	struct ring inflate, deflate;
	struct virtio_dev *dev;
};

/* A device with every queue it may have, each on its own ring, under chosen features. */
struct fx4 {
	struct ring rings[4];
	struct virtio_dev *dev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_transport_clear();
	assert_int_equal(ring_init(&f->inflate, 16), 0);
	assert_int_equal(ring_init(&f->deflate, 16), 0);
	assert_int_equal(virtio_balloon_new(NULL, &f->dev), 0);
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

/* --- queue roles, statistics and free page reporting --------------------------------------- */

static struct fx4 *fx4_new(uint64_t features, bool deflate_on_oom)
{
	struct virtio_balloon_config cfg = { .deflate_on_oom = deflate_on_oom };
	struct fx4 *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_transport_clear();
	assert_int_equal(virtio_balloon_new(&cfg, &f->dev), 0);
	f->dev->mem = &f->rings[0].mem;
	f->dev->features = VIRTIO_F_VERSION_1 | features;
	for (unsigned int q = 0; q < 4; q++) {
		assert_int_equal(ring_init(&f->rings[q], 16), 0);
		assert_int_equal(ring_setup_vq(&f->rings[q], &f->dev->queues[q], false, false), 0);
	}
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	return f;
}

static void fx4_free(struct fx4 *f)
{
	f->dev->ops->free(f->dev);
	for (unsigned int q = 0; q < 4; q++)
		ring_fini(&f->rings[q]);
	free(f);
}

static int setup4(void **state)
{
	*state = fx4_new(VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_REPORTING, false);
	return 0;
}

static int teardown4(void **state)
{
	fx4_free(*state);
	return 0;
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t v)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (unsigned int b = 0; b < 8; b++)
		p[2 + b] = (uint8_t)(v >> (8 * b));
}

/* Publishes one chain of bufs on queue q and lets the device look at it. */
static uint16_t offer(struct fx4 *f, unsigned int q, const struct ring_buf *bufs, unsigned int n)
{
	uint16_t head = ring_add_chain(&f->rings[q], bufs, n);

	ring_publish(&f->rings[q], head);
	f->dev->ops->queue_notify(f->dev, q);
	return head;
}

/* A statistics buffer holding items (10 bytes each), on the ring of queue q. */
static struct ring_buf stats_buf(struct fx4 *f, unsigned int q, const uint8_t *items, uint32_t len)
{
	return (struct ring_buf){ ring_alloc_copy(&f->rings[q], items, len), len, false };
}

static void test_queue_roles_follow_the_negotiated_features(void **state)
{
	const uint64_t stats = VIRTIO_BALLOON_F_STATS_VQ, report = VIRTIO_BALLOON_F_REPORTING,
	               hint = VIRTIO_BALLOON_F_FREE_PAGE_HINT;

	(void)state;
	assert_int_equal(virtio_balloon_queue_role(0, 0), VIRTIO_BALLOON_Q_INFLATE);
	assert_int_equal(virtio_balloon_queue_role(0, 1), VIRTIO_BALLOON_Q_DEFLATE);
	assert_int_equal(virtio_balloon_queue_role(0, 2), VIRTIO_BALLOON_Q_NONE);
	assert_int_equal(virtio_balloon_queue_role(stats, 2), VIRTIO_BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_queue_role(stats, 3), VIRTIO_BALLOON_Q_NONE);
	/* An absent queue takes no index: reporting follows whatever comes before it. */
	assert_int_equal(virtio_balloon_queue_role(report, 2), VIRTIO_BALLOON_Q_REPORTING);
	assert_int_equal(virtio_balloon_queue_role(report, 3), VIRTIO_BALLOON_Q_NONE);
	assert_int_equal(virtio_balloon_queue_role(stats | report, 2), VIRTIO_BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_queue_role(stats | report, 3), VIRTIO_BALLOON_Q_REPORTING);
	assert_int_equal(virtio_balloon_queue_role(stats | hint | report, 3),
	                 VIRTIO_BALLOON_Q_FREE_PAGE);
	assert_int_equal(virtio_balloon_queue_role(stats | hint | report, 4),
	                 VIRTIO_BALLOON_Q_REPORTING);
	assert_int_equal(virtio_balloon_queue_role(hint, 2), VIRTIO_BALLOON_Q_FREE_PAGE);
	assert_int_equal(virtio_balloon_queue_role(stats | report, 7), VIRTIO_BALLOON_Q_NONE);
}

static void test_features_offered(void **state)
{
	struct fx4 *f = fx4_new(0, false), *g = fx4_new(0, true);
	uint64_t plain = f->dev->ops->features(f->dev), oom = g->dev->ops->features(g->dev);

	(void)state;
	assert_true(plain & VIRTIO_BALLOON_F_STATS_VQ);
	assert_true(plain & VIRTIO_BALLOON_F_REPORTING);
	assert_false(plain & VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	/* Never offered: hinting needs a migration to make sense, poisoning a value to keep. */
	assert_false(plain & (VIRTIO_BALLOON_F_FREE_PAGE_HINT | VIRTIO_BALLOON_F_PAGE_POISON));
	assert_int_equal(oom, plain | VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	fx4_free(f);
	fx4_free(g);
}

/* Without STATS_VQ, queue 2 carries reports, and statistics are never asked for. */
static void test_reporting_is_queue_2_without_stats(void **state)
{
	struct fx4 *f = fx4_new(VIRTIO_BALLOON_F_REPORTING, false);
	struct ring_buf b = { 0x40000, 2 * PAGE_SIZE, true };
	struct virtio_balloon_stats st;
	uint32_t id, len;

	(void)state;
	offer(f, 2, &b, 1);
	assert_true(ring_pop_used(&f->rings[2], &id, &len));
	assert_int_equal(len, 0);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.reported_pages, 2);
	assert_int_equal(st.guest_valid, 0);
	/* Queue 3 has no role: a chain there is left alone. */
	offer(f, 3, &b, 1);
	assert_false(ring_pop_used(&f->rings[3], &id, &len));
	virtio_balloon_refresh_stats(f->dev, 0);
	assert_int_equal(fake_transport.kick_calls, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
	fx4_free(f);
}

static void test_stats_are_read_and_held_until_a_refresh(void **state)
{
	struct fx4 *f = *state;
	struct virtio_balloon_stats st;
	uint8_t items[4 * 10];
	struct ring_buf b;
	uint16_t head;
	uint32_t id, len;

	put_stat(items, VIRTIO_BALLOON_S_MEMFREE, 100u << 20);
	put_stat(items + 10, 0x42, 7); /* unknown: ignored */
	put_stat(items + 20, VIRTIO_BALLOON_S_MEMTOT, 1ull << 30);
	put_stat(items + 30, VIRTIO_BALLOON_S_AVAIL, 200u << 20);
	b = stats_buf(f, 2, items, sizeof(items));
	head = offer(f, 2, &b, 1);
	/* Held: not returned until the host wants fresh figures. */
	assert_false(ring_pop_used(&f->rings[2], &id, &len));
	assert_int_equal(f->dev->queues[2].inflight, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid, 1u << VIRTIO_BALLOON_S_MEMFREE |
	                                         1u << VIRTIO_BALLOON_S_MEMTOT |
	                                         1u << VIRTIO_BALLOON_S_AVAIL);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_MEMFREE], 100u << 20);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_MEMTOT], 1ull << 30);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_AVAIL], 200u << 20);
	assert_true(st.guest_age_ms < 1000);

	/* Fresh figures are not asked for again. */
	virtio_balloon_refresh_stats(f->dev, 60000);
	assert_int_equal(fake_transport.kick_calls, 0);
	/* Old enough: the I/O thread is kicked, and hands the buffer back. */
	virtio_balloon_refresh_stats(f->dev, 0);
	assert_int_equal(fake_transport.kick_calls, 1);
	assert_int_equal(fake_transport.last_kick_queue, 2);
	f->dev->ops->queue_notify(f->dev, 2);
	assert_true(ring_pop_used(&f->rings[2], &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(fake_transport.notify_calls, 1);
	assert_int_equal(fake_transport.last_notify_queue, 2);

	/* The driver refills it: the new figures replace the old ones as a whole. */
	put_stat(items, VIRTIO_BALLOON_S_CACHES, 5u << 20);
	b = stats_buf(f, 2, items, 10);
	offer(f, 2, &b, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid, 1u << VIRTIO_BALLOON_S_CACHES);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_CACHES], 5u << 20);
	assert_false(ring_pop_used(&f->rings[2], &id, &len));
	assert_int_equal(fake_transport.needs_reset_calls, 0);

	/* A reset forgets the held buffer (its ring is gone), and no refresh kicks. */
	f->dev->ops->reset(f->dev);
	fake_transport_clear();
	virtio_balloon_refresh_stats(f->dev, 0);
	assert_int_equal(fake_transport.kick_calls, 0);
}

static void test_stats_of_odd_sizes_and_split_entries(void **state)
{
	struct fx4 *f = *state;
	struct virtio_balloon_stats st;
	uint8_t items[3 * 10];
	struct ring_buf b[3];

	put_stat(items, VIRTIO_BALLOON_S_SWAP_IN, 11);
	put_stat(items + 10, VIRTIO_BALLOON_S_MAJFLT, 22);
	put_stat(items + 20, VIRTIO_BALLOON_S_HTLB_PGFAIL, 33);
	/* Entries split across buffers at odd places, and 5 stray bytes at the end. */
	b[0] = stats_buf(f, 2, items, 7);
	b[1] = stats_buf(f, 2, items + 7, 16);
	b[2] = stats_buf(f, 2, items + 23, 2);
	offer(f, 2, b, 3);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid,
	                 1u << VIRTIO_BALLOON_S_SWAP_IN | 1u << VIRTIO_BALLOON_S_MAJFLT);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_SWAP_IN], 11);
	assert_int_equal(st.guest[VIRTIO_BALLOON_S_MAJFLT], 22);
	assert_int_equal(fake_transport.needs_reset_calls, 0);

	/* Shorter than one entry: no figure, but the buffer is held all the same. */
	virtio_balloon_refresh_stats(f->dev, 0);
	f->dev->ops->queue_notify(f->dev, 2);
	b[0] = stats_buf(f, 2, items, 9);
	offer(f, 2, b, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid, 0);
	assert_int_equal(f->dev->queues[2].inflight, 1);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_a_huge_stats_buffer_is_read_in_part(void **state)
{
	struct fx4 *f = *state;
	struct virtio_balloon_stats st;
	static uint8_t items[200 * 10];
	struct ring_buf b;

	/* Only the first entries count: a guest cannot make the device read forever. */
	for (unsigned int i = 0; i < 200; i++)
		put_stat(items + 10 * i, i < 100 ? 0x99 : VIRTIO_BALLOON_S_MEMFREE, i);
	b = stats_buf(f, 2, items, sizeof(items));
	offer(f, 2, &b, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_a_writable_stats_buffer_needs_a_reset(void **state)
{
	struct fx4 *f = *state;
	struct ring_buf b = { ring_alloc(&f->rings[2], 20), 20, true };
	struct virtio_balloon_stats st;

	offer(f, 2, &b, 1);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.guest_valid, 0);
}

static void test_reported_pages_go_back_to_the_host(void **state)
{
	struct fx4 *f = *state;
	struct ring *r = &f->rings[3];
	struct virtio_balloon_stats st;
	uint8_t *mem = ring_ptr(r, 0x40000);
	/* Three whole pages; then a buffer that starts and ends inside pages (one whole). */
	struct ring_buf b[2] = { { 0x40000, 3 * PAGE_SIZE, true },
		                 { 0x50000 - 100, PAGE_SIZE + 200, true } };
	uint32_t id, len;
	uint16_t head;

	memset(mem, 0xab, 0x20000);
	head = offer(f, 3, b, 2);
	assert_true(ring_pop_used(r, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(mem[0], 0);
	assert_int_equal(mem[3 * PAGE_SIZE - 1], 0);
	assert_int_equal(mem[3 * PAGE_SIZE], 0xab);
	/* The partial pages around 0x50000 stay as they were; the whole one is gone. */
	assert_int_equal(mem[0x10000 - 1], 0xab);
	assert_int_equal(mem[0x10000], 0);
	assert_int_equal(mem[0x10000 + PAGE_SIZE - 1], 0);
	assert_int_equal(mem[0x10000 + PAGE_SIZE], 0xab);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.reported_pages, 4);
	assert_int_equal(st.report_partial, 1);
	assert_int_equal(fake_transport.notify_calls, 1);
	assert_int_equal(fake_transport.last_notify_queue, 3);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_a_readable_report_needs_a_reset(void **state)
{
	struct fx4 *f = *state;
	struct ring_buf b = { 0x40000, PAGE_SIZE, false };
	struct virtio_balloon_stats st;

	offer(f, 3, &b, 1);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.reported_pages, 0);
}

static void test_a_report_outside_ram_needs_a_reset(void **state)
{
	struct fx4 *f = *state;
	struct ring_buf b = { RING_MEM_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, true };
	struct virtio_balloon_stats st;

	/* The queue walker refuses the buffer before the device sees it. */
	offer(f, 3, &b, 1);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	virtio_balloon_stats(f->dev, &st);
	assert_int_equal(st.reported_pages, 0);
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
		cmocka_unit_test(test_queue_roles_follow_the_negotiated_features),
		cmocka_unit_test(test_features_offered),
		cmocka_unit_test(test_reporting_is_queue_2_without_stats),
		cmocka_unit_test_setup_teardown(test_stats_are_read_and_held_until_a_refresh,
		                                setup4, teardown4),
		cmocka_unit_test_setup_teardown(test_stats_of_odd_sizes_and_split_entries, setup4,
		                                teardown4),
		cmocka_unit_test_setup_teardown(test_a_huge_stats_buffer_is_read_in_part, setup4,
		                                teardown4),
		cmocka_unit_test_setup_teardown(test_a_writable_stats_buffer_needs_a_reset, setup4,
		                                teardown4),
		cmocka_unit_test_setup_teardown(test_reported_pages_go_back_to_the_host, setup4,
		                                teardown4),
		cmocka_unit_test_setup_teardown(test_a_readable_report_needs_a_reset, setup4,
		                                teardown4),
		cmocka_unit_test_setup_teardown(test_a_report_outside_ram_needs_a_reset, setup4,
		                                teardown4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
