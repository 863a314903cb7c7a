// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tests' guest driver: writes descriptors and rings in little-endian guest memory exactly
 * where a driver would, so the device under test reads them through the real virtq walker.
 */
#include "ring_builder.h"

#include <assert.h>
#include <endian.h>
#include <string.h>

static void put16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint16_t get16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

int ring_init(struct ring *r, uint16_t size)
{
	*r = (struct ring){ .size = size, .data_next = RING_DATA_GPA };
	return guest_mem_init(&r->mem, RING_MEM_SIZE);
}

void ring_fini(struct ring *r)
{
	guest_mem_fini(&r->mem);
}

int ring_setup_vq(struct ring *r, struct virtq *vq, bool event_idx, bool indirect)
{
	return virtq_setup(vq, &r->mem, r->size, RING_DESC_GPA, RING_AVAIL_GPA, RING_USED_GPA,
	                   event_idx, indirect);
}

void *ring_ptr(struct ring *r, uint64_t gpa)
{
	void *p = guest_mem_ptr(&r->mem, gpa, 0);

	assert(p);
	return p;
}

uint64_t ring_alloc(struct ring *r, uint32_t len)
{
	uint64_t gpa = r->data_next;

	assert(gpa + len <= RING_MEM_SIZE);
	r->data_next = (gpa + len + 15) & ~(uint64_t)15;
	memset(ring_ptr(r, gpa), 0, len);
	return gpa;
}

uint64_t ring_alloc_copy(struct ring *r, const void *src, uint32_t len)
{
	uint64_t gpa = ring_alloc(r, len);

	memcpy(ring_ptr(r, gpa), src, len);
	return gpa;
}

void ring_set_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                   uint16_t next)
{
	uint8_t *d = ring_ptr(r, RING_DESC_GPA + 16u * i);

	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

uint16_t ring_add_chain(struct ring *r, const struct ring_buf *bufs, unsigned int n)
{
	uint16_t head = r->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t cur = r->next_desc;
		uint16_t next = (uint16_t)((cur + 1) % r->size);
		uint16_t flags = (uint16_t)((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
		                            (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		ring_set_desc(r, cur, bufs[i].gpa, bufs[i].len, flags, next);
		r->next_desc = next;
	}
	return head;
}

uint16_t ring_add_indirect(struct ring *r, const struct ring_buf *bufs, unsigned int n)
{
	uint64_t table = ring_alloc(r, 16u * n);
	uint16_t head = r->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *d = ring_ptr(r, table + 16u * i);
		uint16_t flags = (uint16_t)((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
		                            (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		put64(d, bufs[i].gpa);
		put32(d + 8, bufs[i].len);
		put16(d + 12, flags);
		put16(d + 14, (uint16_t)(i + 1));
	}
	ring_set_desc(r, head, table, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
	r->next_desc = (uint16_t)((head + 1) % r->size);
	return head;
}

void ring_publish(struct ring *r, uint16_t head)
{
	uint8_t *avail = ring_ptr(r, RING_AVAIL_GPA);

	put16(avail + 4 + 2u * (r->avail_idx % r->size), head);
	r->avail_idx++;
	put16(avail + 2, r->avail_idx);
}

bool ring_pop_used(struct ring *r, uint32_t *ret_id, uint32_t *ret_len)
{
	uint8_t *used = ring_ptr(r, RING_USED_GPA);
	uint8_t *elem;

	if (get16(used + 2) == r->used_seen)
		return false;
	elem = used + 4 + 8u * (r->used_seen % r->size);
	*ret_id = get32(elem);
	*ret_len = get32(elem + 4);
	r->used_seen++;
	return true;
}

uint16_t ring_used_flags(struct ring *r)
{
	return get16(ring_ptr(r, RING_USED_GPA));
}
