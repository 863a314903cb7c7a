/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Split virtqueues (virtio 1.2 §2.7): the one walker of descriptor chains.  This is the only
 * code that reads descriptors a guest wrote; every index, length, address and chain is
 * checked here, so device models only ever see host pointers to buffers that lie entirely
 * inside guest RAM.  A queue is used by one thread at a time (its device's I/O thread).
 */
#ifndef XENO_DEVICES_VIRTIO_VIRTQ_H
#define XENO_DEVICES_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE             256u /* largest queue we offer; also the longest chain */
#define VIRTQ_DESC_F_NEXT          1u
#define VIRTQ_DESC_F_WRITE         2u
#define VIRTQ_DESC_F_INDIRECT      4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u

/* One buffer of a chain, already translated: hva is valid for len bytes. */
struct virtq_buf {
	uint8_t *hva;
	uint32_t len;
};

/*
 * A popped chain: the device-readable buffers (out) come first, then the device-writable
 * ones (in), as the spec requires (§2.7.4.2).
 */
struct virtq_elem {
	uint16_t head; /* descriptor index to return in the used ring */
	uint16_t nr_out;
	uint16_t nr_in;
	uint64_t out_len; /* total bytes readable */
	uint64_t in_len;  /* total bytes writable */
	struct virtq_buf bufs[VIRTQ_MAX_SIZE];
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;    /* power of two, <= VIRTQ_MAX_SIZE */
	bool event_idx;   /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;    /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool broken;      /* a guest error was found; nothing more is processed */
	uint32_t budget;  /* pops left in this round (the transport sets it per round) */
	bool over_budget; /* a pop was refused for lack of budget */
	uint8_t *desc;    /* host pointers to the three areas, validated at setup */
	uint8_t *avail;
	uint8_t *used;
	uint16_t last_avail_idx; /* next avail entry to consume */
	uint16_t used_idx;       /* next used entry to fill */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_used_valid;
	/*
	 * Chains popped and not yet pushed.  Devices return chains in the order they popped
	 * them, so these are the last `inflight` pops: a save rewinds last_avail_idx by this
	 * much and the restored device takes them again (issue 7).
	 */
	uint16_t inflight;
};

/*
 * Sets up vq over guest memory from the driver's queue registers.  Returns 0, or -EINVAL if
 * the size is not a power of two in 1..VIRTQ_MAX_SIZE or an area is misaligned or not in RAM.
 */
int virtq_setup(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
                uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
        __attribute__((warn_unused_result));

/*
 * Takes the next available chain.  Returns 1 and fills elem, 0 if the ring is empty or this
 * round's budget is spent (then over_budget is set and the transport comes back later: a
 * guest cannot keep an I/O thread in one device callback forever), or
 * -EINVAL for a malformed chain or ring (the queue is then marked broken, and the device
 * should enter DEVICE_NEEDS_RESET: virtio 1.2 §2.1.2).
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem) __attribute__((warn_unused_result));

/* Returns a chain to the driver with `written` bytes written into its in buffers. */
void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written);

/* After pushes: whether the driver wants an interrupt now (NO_INTERRUPT / used_event). */
bool virtq_should_notify(struct virtq *vq);

/*
 * Tells the driver whether we want notifications (NO_NOTIFY / avail_event).  After enabling,
 * returns true if buffers arrived meanwhile and the caller must look again; false when the
 * round's budget is spent, so that `do { pop... } while (virtq_enable_notify(vq))` ends.
 */
bool virtq_enable_notify(struct virtq *vq);
void virtq_disable_notify(struct virtq *vq);

/* Ring positions of a queue, for diagnosing a stall. */
struct virtq_snapshot {
	uint16_t size, last_avail_idx, used_idx, signalled_used;
	uint16_t avail_idx, avail_flags, used_event; /* the driver's fields */
	uint16_t used_flags, avail_event;            /* ours, as the driver sees them */
	bool event_idx, broken;
};

/*
 * Takes a snapshot of vq from any thread: a diagnostic, racing with the I/O thread (each
 * field is read once, the whole is not consistent).  A queue without rings reads as size 0.
 */
void virtq_snapshot(const struct virtq *vq, struct virtq_snapshot *s);

/* Copies up to len bytes out of / into an element's buffers, from byte offset off. */
size_t virtq_elem_read(const struct virtq_elem *elem, size_t off, void *dst, size_t len);
size_t virtq_elem_write(const struct virtq_elem *elem, size_t off, const void *src, size_t len);

#endif
