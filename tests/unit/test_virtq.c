// SPDX-License-Identifier: GPL-2.0-only
/*
 * The split-virtqueue walker against hand-built rings in real guest memory: normal chains,
 * index wraparound, the used ring, notification suppression, and every malformed chain or
 * ring a hostile guest can write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtq.h"
#include "vmm/layout.h"

/* Where the tests put things in their 1 MiB of guest RAM. */
#define RAM_SIZE  MiB(1)
#define DESC_GPA  0x1000u /* up to 256 descriptors: 4 KiB */
#define AVAIL_GPA 0x3000u
#define USED_GPA  0x4000u
#define TABLE_GPA 0x8000u /* an indirect table */
#define BUF_GPA   0x10000u

struct fx {
	struct guest_mem mem;
	struct virtq vq;
	struct virtq_elem elem;
	uint16_t avail_idx; /* the driver's copy of avail->idx */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || guest_mem_init(&f->mem, RAM_SIZE) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_fini(&f->mem);
	free(f);
	return 0;
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	assert_int_equal(guest_mem_write(&f->mem, gpa, &v, sizeof(v)), 0);
}

static void put32(struct fx *f, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	assert_int_equal(guest_mem_write(&f->mem, gpa, &v, sizeof(v)), 0);
}

static void put64(struct fx *f, uint64_t gpa, uint64_t v)
{
	v = htole64(v);
	assert_int_equal(guest_mem_write(&f->mem, gpa, &v, sizeof(v)), 0);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, guest_mem_ptr(&f->mem, gpa, sizeof(v)), sizeof(v));
	return le16toh(v);
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, guest_mem_ptr(&f->mem, gpa, sizeof(v)), sizeof(v));
	return le32toh(v);
}

static void desc_in(struct fx *f, uint64_t table_gpa, unsigned int i, uint64_t addr, uint32_t len,
                    uint16_t flags, uint16_t next)
{
	uint64_t gpa = table_gpa + 16u * i;

	put64(f, gpa, addr);
	put32(f, gpa + 8, len);
	put16(f, gpa + 12, flags);
	put16(f, gpa + 14, next);
}

/* Descriptor i of the main table. */
static void desc(struct fx *f, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	desc_in(f, DESC_GPA, i, addr, len, flags, next);
}

/* Descriptor i of the indirect table at TABLE_GPA. */
static void idesc(struct fx *f, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
	desc_in(f, TABLE_GPA, i, addr, len, flags, next);
}

static void start(struct fx *f, uint16_t size, bool event_idx, bool indirect)
{
	assert_int_equal(virtq_setup(&f->vq, &f->mem, size, DESC_GPA, AVAIL_GPA, USED_GPA,
	                             event_idx, indirect),
	                 0);
}

/* Starts every index (ours and the driver's) at idx, as after 'idx' chains went through. */
static void start_at(struct fx *f, uint16_t idx)
{
	f->vq.last_avail_idx = f->vq.used_idx = idx;
	f->avail_idx = idx;
	put16(f, AVAIL_GPA + 2, idx);
	put16(f, USED_GPA + 2, idx);
}

/* The driver makes the chain at head available. */
static void offer(struct fx *f, uint16_t head)
{
	put16(f, AVAIL_GPA + 4 + 2u * (f->avail_idx & (f->vq.size - 1)), head);
	f->avail_idx++;
	put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static uint8_t *hva(struct fx *f, uint64_t gpa)
{
	return guest_mem_ptr(&f->mem, gpa, 1);
}

static void assert_breaks(struct fx *f)
{
	assert_int_equal(virtq_pop(&f->vq, &f->elem), -EINVAL);
	assert_true(f->vq.broken);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), -EINVAL);
}

/* Setup */

static void test_setup_rejects_bad_sizes(void **state)
{
	static const uint16_t bad[] = { 0, 3, 6, 100, 257, 512, 65535 };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(virtq_setup(&f->vq, &f->mem, bad[i], DESC_GPA, AVAIL_GPA, USED_GPA,
		                             false, false),
		                 -EINVAL);
	for (uint16_t size = 1; size <= VIRTQ_MAX_SIZE; size *= 2)
		start(f, size, false, false);
}

static void test_setup_rejects_misaligned_areas(void **state)
{
	struct fx *f = *state;
	const struct guest_mem *m = &f->mem;

	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0, 0),
	                 -EINVAL);
	/* The smallest alignments allowed are enough. */
	assert_int_equal(
	        virtq_setup(&f->vq, m, 8, DESC_GPA + 16, AVAIL_GPA + 2, USED_GPA + 4, 0, 0), 0);
}

static void test_setup_rejects_areas_outside_ram(void **state)
{
	struct fx *f = *state;
	const struct guest_mem *m = &f->mem;

	/* Each area must fit, event word included: 16 * 8, 6 + 2 * 8 and 6 + 8 * 8 bytes. */
	assert_int_equal(virtq_setup(&f->vq, m, 8, RAM_SIZE - 128, AVAIL_GPA, USED_GPA, 0, 0), 0);
	assert_int_equal(virtq_setup(&f->vq, m, 8, RAM_SIZE - 112, AVAIL_GPA, USED_GPA, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, RAM_SIZE - 22, USED_GPA, 0, 0), 0);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, RAM_SIZE - 20, USED_GPA, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 68, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, 0, 0),
	                 -EINVAL);
	assert_int_equal(virtq_setup(&f->vq, m, 8, UINT64_MAX - 15, AVAIL_GPA, USED_GPA, 0, 0),
	                 -EINVAL);
}

/* Normal chains */

static void test_empty_ring_pops_nothing(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	assert_false(f->vq.broken);
}

static void test_direct_chain_out_then_in(void **state)
{
	struct fx *f = *state;
	struct virtq_elem *e = &f->elem;

	start(f, 8, false, false);
	desc(f, 5, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA + 0x100, 32, VIRTQ_DESC_F_NEXT, 7);
	desc(f, 7, BUF_GPA + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 5);
	assert_int_equal(virtq_pop(&f->vq, e), 1);
	assert_int_equal(e->head, 5);
	assert_int_equal(e->nr_out, 2);
	assert_int_equal(e->nr_in, 1);
	assert_int_equal(e->out_len, 48);
	assert_int_equal(e->in_len, 64);
	assert_ptr_equal(e->bufs[0].hva, hva(f, BUF_GPA));
	assert_int_equal(e->bufs[0].len, 16);
	assert_ptr_equal(e->bufs[1].hva, hva(f, BUF_GPA + 0x100));
	assert_ptr_equal(e->bufs[2].hva, hva(f, BUF_GPA + 0x200));
	assert_int_equal(e->bufs[2].len, 64);
	assert_int_equal(virtq_pop(&f->vq, e), 0);
	assert_int_equal(f->vq.last_avail_idx, 1);
}

static void test_indirect_chain(void **state)
{
	struct fx *f = *state;
	struct virtq_elem *e = &f->elem;

	start(f, 8, false, true);
	/* The WRITE flag of the descriptor pointing to the table is ignored (§2.7.5.3.2). */
	desc(f, 3, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	idesc(f, 0, BUF_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
	idesc(f, 2, BUF_GPA + 0x100, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	idesc(f, 1, BUF_GPA + 0x200, 30, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(virtq_pop(&f->vq, e), 1);
	assert_int_equal(e->head, 3);
	assert_int_equal(e->nr_out, 1);
	assert_int_equal(e->nr_in, 2);
	assert_int_equal(e->out_len, 10);
	assert_int_equal(e->in_len, 50);
	assert_ptr_equal(e->bufs[0].hva, hva(f, BUF_GPA));
	assert_ptr_equal(e->bufs[1].hva, hva(f, BUF_GPA + 0x100));
	assert_ptr_equal(e->bufs[2].hva, hva(f, BUF_GPA + 0x200));
	assert_int_equal(e->bufs[2].len, 30);
}

static void test_direct_descriptors_then_indirect_table(void **state)
{
	struct fx *f = *state;
	struct virtq_elem *e = &f->elem;

	start(f, 8, false, true);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA + 0x100, 100, VIRTQ_DESC_F_NEXT, 1);
	idesc(f, 1, BUF_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, e), 1);
	assert_int_equal(e->nr_out, 2);
	assert_int_equal(e->nr_in, 1);
	assert_int_equal(e->out_len, 108);
	assert_int_equal(e->in_len, 1);
	assert_ptr_equal(e->bufs[1].hva, hva(f, BUF_GPA + 0x100));
}

static void test_zero_length_buffers_are_skipped(void **state)
{
	struct fx *f = *state;
	struct virtq_elem *e = &f->elem;

	start(f, 8, false, false);
	/* An empty buffer's address is never used, so it is not checked either. */
	desc(f, 0, UINT64_MAX, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	desc(f, 2, 0, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, e), 1);
	assert_int_equal(e->nr_out, 1);
	assert_int_equal(e->nr_in, 0);
	assert_int_equal(e->out_len, 4);
	assert_ptr_equal(e->bufs[0].hva, hva(f, BUF_GPA));
}

static void test_chain_of_queue_size_is_accepted(void **state)
{
	struct fx *f = *state;

	start(f, 4, false, true);
	for (unsigned int i = 0; i < 4; i++)
		desc(f, i, BUF_GPA, 1, i < 3 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.nr_out, 4);
	/* Direct and indirect descriptors together: 1 + 3. */
	desc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned int i = 0; i < 3; i++)
		idesc(f, i, BUF_GPA, 1, i < 2 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.nr_out, 4);
}

static void test_largest_indirect_table_is_accepted(void **state)
{
	struct fx *f = *state;

	start(f, VIRTQ_MAX_SIZE, false, true);
	desc(f, 9, TABLE_GPA, VIRTQ_MAX_SIZE * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++)
		idesc(f, i, BUF_GPA + i, 2, i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0,
		      (uint16_t)(i + 1));
	offer(f, 9);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.nr_out, VIRTQ_MAX_SIZE);
	assert_int_equal(f->elem.out_len, 2 * VIRTQ_MAX_SIZE);
}

static void test_lengths_summed_beyond_32_bits(void **state)
{
	struct fx *f = *state;
	const uint32_t len = MiB(32);

	/* 256 buffers of 32 MiB, all over the same lazily mapped RAM: 8 GiB in total. */
	guest_mem_fini(&f->mem);
	assert_int_equal(guest_mem_init(&f->mem, len), 0);
	start(f, 256, false, false);
	for (unsigned int i = 0; i < 256; i++)
		desc(f, i, 0, len, (i < 255 ? VIRTQ_DESC_F_NEXT : 0) | (i >= 200 ? 2 : 0),
		     (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.nr_out, 200);
	assert_int_equal(f->elem.nr_in, 56);
	assert_true(f->elem.out_len == 200ull * len);
	assert_true(f->elem.in_len == 56ull * len);
}

/* Indexes, used ring, copies */

static void test_indexes_wrap_around(void **state)
{
	struct fx *f = *state;

	start(f, 4, false, false);
	start_at(f, 65534);
	for (uint16_t i = 0; i < 4; i++) {
		desc(f, i, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
		offer(f, (uint16_t)(3 - i));
	}
	assert_int_equal(get16(f, AVAIL_GPA + 2), 2);
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
		assert_int_equal(f->elem.head, 3 - i);
		virtq_push(&f->vq, &f->elem, i);
	}
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	assert_int_equal(f->vq.last_avail_idx, 2);
	assert_int_equal(get16(f, USED_GPA + 2), 2);
	/* 65534 and 65535 went to slots 2 and 3, 0 and 1 to slots 0 and 1. */
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 2), 3);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 3), 2);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 0), 1);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 0 + 4), 2);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 1), 0);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 1 + 4), 3);
}

static void test_pop_stops_when_the_round_budget_is_spent(void **state)
{
	struct fx *f = *state;

	start(f, 4, false, false);
	for (uint16_t i = 0; i < 3; i++) {
		desc(f, i, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
		offer(f, i);
	}
	f->vq.budget = 2;
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_false(f->vq.over_budget);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
	assert_true(f->vq.over_budget);
	/* A device's pop loop ends even though chains are pending: the transport comes back. */
	assert_false(virtq_enable_notify(&f->vq));
	/* The next round picks up where this one stopped. */
	f->vq.budget = 2;
	f->vq.over_budget = false;
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(f->elem.head, 2);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
}

static void test_push_fills_used_ring(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 6, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 4);
	desc(f, 4, BUF_GPA + 4, 100, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 6);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, &f->elem, 40);
	assert_int_equal(get16(f, USED_GPA + 2), 1);
	assert_int_equal(get32(f, USED_GPA + 4), 6);
	assert_int_equal(get32(f, USED_GPA + 8), 40);
	/* A device never reports more than the chain could take. */
	virtq_push(&f->vq, &f->elem, 1000);
	assert_int_equal(get16(f, USED_GPA + 2), 2);
	assert_int_equal(get32(f, USED_GPA + 12), 6);
	assert_int_equal(get32(f, USED_GPA + 16), 100);
}

static void test_elem_copies_cross_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16];

	start(f, 8, false, false);
	memcpy(hva(f, BUF_GPA), "abc", 3);
	memcpy(hva(f, BUF_GPA + 0x100), "defgh", 5);
	desc(f, 0, BUF_GPA, 3, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA + 0x200, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	desc(f, 3, BUF_GPA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(virtq_elem_read(&f->elem, 2, buf, 4), 4);
	assert_memory_equal(buf, "cdef", 4);
	assert_int_equal(virtq_elem_write(&f->elem, 3, "wxyz", 4), 4);
	assert_memory_equal(hva(f, BUF_GPA + 0x203), "w", 1);
	assert_memory_equal(hva(f, BUF_GPA + 0x300), "xyz", 3);
}

static void test_elem_copies_stop_at_buffer_end(void **state)
{
	struct fx *f = *state;
	uint8_t buf[17] = "0123456789abcdef";

	start(f, 8, false, false);
	memcpy(hva(f, BUF_GPA), "abc", 3);
	desc(f, 0, BUF_GPA, 3, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA + 0x100, 5, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_int_equal(virtq_elem_read(&f->elem, 1, buf, 16), 2);
	assert_memory_equal(buf, "bc23", 4);
	assert_int_equal(virtq_elem_read(&f->elem, 3, buf, 16), 0);
	assert_int_equal(virtq_elem_read(&f->elem, SIZE_MAX, buf, 16), 0);
	assert_int_equal(virtq_elem_write(&f->elem, 0, buf, 16), 5);
	assert_int_equal(virtq_elem_write(&f->elem, 4, buf, 16), 1);
	assert_int_equal(virtq_elem_write(&f->elem, 5, buf, 16), 0);
	/* The out buffer was not written, and nothing past the in buffer was. */
	assert_memory_equal(hva(f, BUF_GPA), "abc", 3);
	assert_int_equal(*hva(f, BUF_GPA + 0x105), 0);
}

/* Notifications */

static void push_one(struct fx *f)
{
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	virtq_push(&f->vq, &f->elem, 8);
}

static void test_should_notify_honours_no_interrupt(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
	/* Without EVENT_IDX, used_event means nothing. */
	put16(f, AVAIL_GPA + 4 + 2 * 8, 1);
	assert_false(virtq_should_notify(&f->vq));
	put16(f, AVAIL_GPA, 0);
	assert_true(virtq_should_notify(&f->vq));
}

static void test_should_notify_follows_used_event(void **state)
{
	struct fx *f = *state;
	const uint64_t used_event = AVAIL_GPA + 4 + 2 * 8;

	start(f, 8, true, false);
	/* The first call always notifies, and flags are ignored with EVENT_IDX. */
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(f, used_event, 100);
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	/* The driver wants an interrupt once the entry at index 1 is written. */
	put16(f, used_event, 1);
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	/* Nothing new since: no interrupt. */
	assert_false(virtq_should_notify(&f->vq));
	put16(f, used_event, 4);
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
	push_one(f);
	push_one(f);
	/* used->idx went 3 -> 5, passing entry 4. */
	assert_true(virtq_should_notify(&f->vq));
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
}

static void test_should_notify_used_event_wraps(void **state)
{
	struct fx *f = *state;
	const uint64_t used_event = AVAIL_GPA + 4 + 2 * 8;

	start(f, 8, true, false);
	start_at(f, 65533);
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	/* The driver wants an interrupt once entry 0 is written, after entry 65535. */
	put16(f, used_event, 0);
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
	push_one(f);
	push_one(f);
	assert_int_equal(f->vq.used_idx, 1);
	assert_true(virtq_should_notify(&f->vq));
}

static void test_notify_flag_without_event_idx(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	virtq_disable_notify(&f->vq);
	assert_int_equal(get16(f, USED_GPA), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(get16(f, USED_GPA), 0);
	virtq_disable_notify(&f->vq);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_true(virtq_enable_notify(&f->vq));
	assert_int_equal(get16(f, USED_GPA), 0);
}

static void test_avail_event_with_event_idx(void **state)
{
	struct fx *f = *state;
	const uint64_t avail_event = USED_GPA + 4 + 8 * 8;

	start(f, 8, true, false);
	start_at(f, 10);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(get16(f, avail_event), 10);
	/* The driver's next index is 10: one behind is never passed while disabled. */
	virtq_disable_notify(&f->vq);
	assert_int_equal(get16(f, avail_event), 9);
	assert_int_equal(get16(f, USED_GPA), 0);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_true(virtq_enable_notify(&f->vq));
	assert_int_equal(get16(f, avail_event), 10);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(get16(f, avail_event), 11);
}

/* Hostile rings: every one breaks the queue */

static void test_head_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 8);
	assert_breaks(f);
}

static void test_next_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 8);
	offer(f, 0);
	assert_breaks(f);
}

static void test_chain_loop_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_self_loop_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 1, false, false);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_chain_longer_than_queue_breaks_queue(void **state)
{
	struct fx *f = *state;

	/* Two direct descriptors and a table of three: five buffers in a queue of four. */
	start(f, 4, false, true);
	desc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 2);
	desc(f, 2, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned int i = 0; i < 3; i++)
		idesc(f, i, BUF_GPA, 1, i < 2 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_table_longer_than_queue_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 4, false, true);
	desc(f, 0, TABLE_GPA, 5 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned int i = 0; i < 5; i++)
		idesc(f, i, BUF_GPA, 1, i < 4 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_loop_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 256, false, true);
	desc(f, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	idesc(f, 1, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_next_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	desc(f, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 2);
	/* Descriptor 2 of the table's memory is there, but the table's length ends before it. */
	idesc(f, 2, BUF_GPA, 1, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_inside_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	desc(f, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	idesc(f, 1, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_without_feature_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 1, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_with_next_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA, 1, 0, 0);
	idesc(f, 0, BUF_GPA, 1, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void indirect_table_of_len(struct fx *f, uint64_t gpa, uint32_t len)
{
	start(f, 8, false, true);
	desc(f, 0, gpa, len, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 1, 0, 0);
	offer(f, 0);
}

static void test_indirect_table_of_length_zero_breaks_queue(void **state)
{
	indirect_table_of_len(*state, TABLE_GPA, 0);
	assert_breaks(*state);
}

static void test_indirect_table_length_not_multiple_of_16_breaks_queue(void **state)
{
	indirect_table_of_len(*state, TABLE_GPA, 24);
	assert_breaks(*state);
}

static void test_indirect_table_over_max_size_breaks_queue(void **state)
{
	indirect_table_of_len(*state, TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16);
	assert_breaks(*state);
}

static void test_indirect_table_outside_ram_breaks_queue(void **state)
{
	indirect_table_of_len(*state, RAM_SIZE - 16, 32);
	assert_breaks(*state);
}

static void test_buffer_outside_ram_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, RAM_SIZE - 8, 16, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_buffer_address_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, UINT64_MAX - 7, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_indirect_buffer_outside_ram_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, RAM_SIZE, 1, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_readable_after_writable_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_readable_in_table_after_writable_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, true);
	desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_breaks(f);
}

static void test_avail_index_jump_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	put16(f, AVAIL_GPA + 2, 9);
	assert_breaks(f);
}

static void test_avail_index_moving_back_breaks_queue(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
	put16(f, AVAIL_GPA + 2, 0);
	assert_breaks(f);
}

static void test_broken_queue_stays_broken(void **state)
{
	struct fx *f = *state;

	start(f, 8, false, false);
	offer(f, 8);
	assert_breaks(f);
	/* The guest repairs the ring: the queue still waits for a reset. */
	put16(f, AVAIL_GPA + 4, 0);
	desc(f, 0, BUF_GPA, 8, 0, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), -EINVAL);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(f->vq.last_avail_idx, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_setup_rejects_bad_sizes),
		T(test_setup_rejects_misaligned_areas),
		T(test_setup_rejects_areas_outside_ram),
		T(test_empty_ring_pops_nothing),
		T(test_direct_chain_out_then_in),
		T(test_indirect_chain),
		T(test_direct_descriptors_then_indirect_table),
		T(test_zero_length_buffers_are_skipped),
		T(test_chain_of_queue_size_is_accepted),
		T(test_largest_indirect_table_is_accepted),
		T(test_lengths_summed_beyond_32_bits),
		T(test_indexes_wrap_around),
		T(test_pop_stops_when_the_round_budget_is_spent),
		T(test_push_fills_used_ring),
		T(test_elem_copies_cross_buffers),
		T(test_elem_copies_stop_at_buffer_end),
		T(test_should_notify_honours_no_interrupt),
		T(test_should_notify_follows_used_event),
		T(test_should_notify_used_event_wraps),
		T(test_notify_flag_without_event_idx),
		T(test_avail_event_with_event_idx),
		T(test_head_out_of_range_breaks_queue),
		T(test_next_out_of_range_breaks_queue),
		T(test_chain_loop_breaks_queue),
		T(test_self_loop_breaks_queue),
		T(test_chain_longer_than_queue_breaks_queue),
		T(test_indirect_table_longer_than_queue_breaks_queue),
		T(test_indirect_loop_breaks_queue),
		T(test_indirect_next_out_of_range_breaks_queue),
		T(test_indirect_inside_indirect_breaks_queue),
		T(test_indirect_without_feature_breaks_queue),
		T(test_indirect_with_next_breaks_queue),
		T(test_indirect_table_of_length_zero_breaks_queue),
		T(test_indirect_table_length_not_multiple_of_16_breaks_queue),
		T(test_indirect_table_over_max_size_breaks_queue),
		T(test_indirect_table_outside_ram_breaks_queue),
		T(test_buffer_outside_ram_breaks_queue),
		T(test_buffer_address_overflow_breaks_queue),
		T(test_indirect_buffer_outside_ram_breaks_queue),
		T(test_readable_after_writable_breaks_queue),
		T(test_readable_in_table_after_writable_breaks_queue),
		T(test_avail_index_jump_breaks_queue),
		T(test_avail_index_moving_back_breaks_queue),
		T(test_broken_queue_stays_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
