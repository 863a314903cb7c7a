/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A guest driver in miniature, for device-model tests: 1 MiB of real guest memory holding one
 * split virtqueue (virtio 1.2 §2.7) and a bump allocator for request buffers.  Tests write
 * descriptors and the available ring as a driver would, hostile ones included, and read the
 * used ring back.  Guest-physical layout: descriptors at 0x1000, available ring at 0x3000,
 * used ring at 0x4000, buffers from 0x8000.  Single-threaded.
 */
#ifndef XENO_TESTS_RING_BUILDER_H
#define XENO_TESTS_RING_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtq.h"
#include "vmm/guest_mem.h"

#define RING_MEM_SIZE  (1u << 20)
#define RING_DESC_GPA  0x1000u
#define RING_AVAIL_GPA 0x3000u
#define RING_USED_GPA  0x4000u
#define RING_DATA_GPA  0x8000u

struct ring {
	struct guest_mem mem;
	uint16_t size;
	uint16_t next_desc; /* next free descriptor (wraps) */
	uint16_t avail_idx; /* driver's avail->idx */
	uint16_t used_seen; /* used entries already read back */
	uint64_t data_next; /* bump allocator, guest-physical */
};

/* One buffer of a chain to build: guest-physical address, length, device-writable or not. */
struct ring_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Maps the guest memory and clears the queue.  Returns 0 or -errno. */
int ring_init(struct ring *r, uint16_t size);
void ring_fini(struct ring *r);

/* Sets up vq over the ring, as the transport does when the driver enables the queue. */
int ring_setup_vq(struct ring *r, struct virtq *vq, bool event_idx, bool indirect);

/* Allocates len bytes of guest memory (16-byte aligned, zeroed); returns its gpa. */
uint64_t ring_alloc(struct ring *r, uint32_t len);

/* Host pointer to gpa; the tests' view of what the guest sees. */
void *ring_ptr(struct ring *r, uint64_t gpa);

/* Allocates a buffer holding a copy of src (len bytes). */
uint64_t ring_alloc_copy(struct ring *r, const void *src, uint32_t len);

/* Writes descriptor i as given (hostile values welcome). */
void ring_set_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                   uint16_t next);

/* Writes n buffers as a chain of consecutive free descriptors; returns its head. */
uint16_t ring_add_chain(struct ring *r, const struct ring_buf *bufs, unsigned int n);

/* Writes n buffers as an indirect table, and one descriptor pointing to it; returns it. */
uint16_t ring_add_indirect(struct ring *r, const struct ring_buf *bufs, unsigned int n);

/* Makes head available to the device (avail->ring entry, then avail->idx). */
void ring_publish(struct ring *r, uint16_t head);

/* Reads the next used entry.  Returns true and the id and length, or false if none. */
bool ring_pop_used(struct ring *r, uint32_t *ret_id, uint32_t *ret_len);

/* The used ring's flags word (VIRTQ_USED_F_NO_NOTIFY). */
uint16_t ring_used_flags(struct ring *r);

#endif
