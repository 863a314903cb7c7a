// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes the split-virtqueue walker as a hostile guest would.  The input is the queue
 * registers a driver writes, then the first bytes of guest RAM, so descriptor tables, rings,
 * indirect tables and buffers are all the fuzzer's.  Header (10 bytes):
 *   [0]    bits 0-3: log2 of the queue size (mod 9, so 1..256); 0x10 EVENT_IDX;
 *          0x20 INDIRECT_DESC; 0x40 leave the ring addresses unaligned
 *   [1-6]  guest-physical addresses of the descriptor table, avail ring, used ring (le16)
 *   [7-8]  the indexes the queue starts from (le16), as after that many chains
 *   [9]    how many bytes the "device" claims to write per chain, in units of 16
 * Every popped chain is checked: its buffers must lie inside guest RAM.
 */
#include <stdint.h>
#include <string.h>

#include "devices/virtio/virtq.h"

#define RAM_SIZE    (64u * 1024)
#define HEADER_SIZE 10u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static struct virtq_elem elem;
static uint8_t scratch[4096];

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* What the walker promises devices; a broken promise is a crash the fuzzer reports. */
static void check_elem(const struct virtq *vq)
{
	uint64_t out = 0, in = 0;

	if (elem.head >= vq->size || elem.nr_out + elem.nr_in > vq->size)
		__builtin_trap();
	for (unsigned int i = 0; i < elem.nr_out + elem.nr_in; i++) {
		const struct virtq_buf *b = &elem.bufs[i];

		if (b->len == 0 || b->len > RAM_SIZE || b->hva < mem.base ||
		    (size_t)(b->hva - mem.base) > RAM_SIZE - b->len)
			__builtin_trap();
		if (i < elem.nr_out)
			out += b->len;
		else
			in += b->len;
	}
	if (out != elem.out_len || in != elem.in_len)
		__builtin_trap();
}

/* Does with one chain what a device might: read it, write it, return it, notify. */
static void serve(struct virtq *vq, unsigned int n, uint8_t written)
{
	size_t off = (size_t)written * n;

	check_elem(vq);
	(void)virtq_elem_read(&elem, off % 64, scratch, sizeof(scratch));
	(void)virtq_elem_write(&elem, off % 32, scratch, 1 + off % sizeof(scratch));
	virtq_push(vq, &elem, (uint32_t)written * 16);
	(void)virtq_should_notify(vq);
	if (n & 1)
		virtq_disable_notify(vq);
	else
		(void)virtq_enable_notify(vq);
}

static int setup(struct virtq *vq, const uint8_t *hdr)
{
	uint16_t qsize = (uint16_t)(1u << ((hdr[0] & 0x0f) % 9));
	uint64_t desc = le16(hdr + 1), avail = le16(hdr + 3), used = le16(hdr + 5);
	int r;

	if (!(hdr[0] & 0x40)) {
		desc &= ~15ull;
		avail &= ~1ull;
		used &= ~3ull;
	}
	r = virtq_setup(vq, &mem, qsize, desc, avail, used, hdr[0] & 0x10, hdr[0] & 0x20);
	if (r < 0)
		return r;
	vq->last_avail_idx = vq->used_idx = le16(hdr + 7);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	size_t ram_bytes;

	if (!mem.base && guest_mem_init(&mem, RAM_SIZE) < 0)
		return 0;
	if (size < HEADER_SIZE)
		return 0;
	ram_bytes = size - HEADER_SIZE < RAM_SIZE ? size - HEADER_SIZE : RAM_SIZE;
	memcpy(mem.base, data + HEADER_SIZE, ram_bytes);
	memset(mem.base + ram_bytes, 0, RAM_SIZE - ram_bytes);
	if (setup(&vq, data) < 0)
		return 0;
	/*
	 * Bounded: our own used-ring writes may land on avail->idx (a guest may overlap the
	 * rings) and keep the queue non-empty for ever.
	 */
	for (unsigned int n = 0; n < 4 * VIRTQ_MAX_SIZE; n++) {
		if (virtq_pop(&vq, &elem) != 1)
			break;
		serve(&vq, n, data[9]);
	}
	return 0;
}
