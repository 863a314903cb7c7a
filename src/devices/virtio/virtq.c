// SPDX-License-Identifier: GPL-2.0-only
/*
 * Split virtqueues (virtio 1.2 §2.7): the one walker of the descriptor chains a guest writes.
 * Every index, length, address range and chain length is checked here; device models only
 * see host pointers to buffers that lie wholly inside guest RAM.
 *
 * Thread: a queue is used by one thread at a time, its device's I/O thread.  The guest's
 * vCPUs write the same memory concurrently, so this file must never read a guest-written
 * value twice: each descriptor and each index is copied once into a local, then checked and
 * used from the copy.  It must never touch guest memory outside the ranges
 * guest_mem_ptr() returned, and never exit on guest input: a violation marks the queue
 * broken and the device asks for a reset (§2.1.2).
 */
#include "devices/virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"

#define DESC_SIZE      16u /* le64 addr, le32 len, le16 flags, le16 next (§2.7.5) */
#define USED_ELEM_SIZE 8u  /* le32 id, le32 len (§2.7.8) */
#define RING_IDX       2u  /* avail->idx and used->idx */
#define RING_ENTRIES   4u  /* avail->ring[] and used->ring[] */

/* A descriptor copied out of guest memory: from here on the guest cannot change it. */
struct desc {
	uint64_t addr; /* guest-physical */
	uint32_t len;  /* bytes */
	uint16_t flags;
	uint16_t next;
};

/* State of one chain walk. */
struct walk {
	const struct virtq *vq;
	struct virtq_elem *elem;
	unsigned int count; /* buffer descriptors so far, direct and indirect */
	bool writable_seen;
	const char *why; /* what the guest got wrong, for the debug log */
};

/*
 * Keeps the compiler from replacing a local copy of guest data by a second load from guest
 * memory (it may otherwise do so, since it assumes nobody else writes that memory).
 */
static inline void compiler_barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * The two ring indexes are the words the other side polls: one 16-bit access each, never
 * torn.  They are 2-byte aligned because setup checked the rings' alignment.
 */
static uint16_t load_idx(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED));
}

static void store_idx(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELAXED);
}

/* avail->used_event and used->avail_event follow the rings (§2.7.6, §2.7.8). */
static uint8_t *used_event(const struct virtq *vq)
{
	return vq->avail + RING_ENTRIES + 2u * vq->size;
}

static uint8_t *avail_event(const struct virtq *vq)
{
	return vq->used + RING_ENTRIES + USED_ELEM_SIZE * vq->size;
}

int virtq_setup(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
                uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
{
	struct virtq q = { .mem = mem,
		           .size = size,
		           .event_idx = event_idx,
		           .indirect = indirect,
		           .budget = UINT32_MAX };

	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	/* Alignments of §2.7, table "Virtqueue Part Alignment". */
	if (desc_gpa % 16 || avail_gpa % 2 || used_gpa % 4)
		return -EINVAL;
	/* The event words are counted even without EVENT_IDX: the areas' sizes are fixed. */
	q.desc = guest_mem_ptr(mem, desc_gpa, (uint64_t)DESC_SIZE * size);
	q.avail = guest_mem_ptr(mem, avail_gpa, 6u + 2u * size);
	q.used = guest_mem_ptr(mem, used_gpa, 6u + (uint64_t)USED_ELEM_SIZE * size);
	if (!q.desc || !q.avail || !q.used)
		return -EINVAL;
	*vq = q;
	return 0;
}

static struct desc read_desc(const uint8_t *table, unsigned int i)
{
	uint8_t raw[DESC_SIZE];
	struct desc d;

	memcpy(raw, table + (size_t)DESC_SIZE * i, sizeof(raw));
	compiler_barrier();
	d.addr = ld64(raw);
	d.len = ld32(raw + 8);
	d.flags = ld16(raw + 12);
	d.next = ld16(raw + 14);
	return d;
}

static int bad(struct walk *w, const char *why)
{
	w->why = why;
	return -EINVAL;
}

/*
 * Appends one buffer descriptor to the element.  Zero-length buffers are checked for order
 * and counted, but not kept: there is nothing to access, and devices never see an empty
 * buffer (or its address, which may be anything).
 */
static int add_buf(struct walk *w, const struct desc *d)
{
	struct virtq_elem *elem = w->elem;
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *hva;

	/* §2.7.5.3.1: no chain longer than the queue; this also ends any loop. */
	if (++w->count > w->vq->size)
		return bad(w, "descriptor chain loops or is longer than the queue");
	/* §2.7.4.2: device-writable descriptors come after the device-readable ones. */
	if (!writable && w->writable_seen)
		return bad(w, "device-readable descriptor after a device-writable one");
	w->writable_seen |= writable;
	if (d->len == 0)
		return 0;
	hva = guest_mem_ptr(w->vq->mem, d->addr, d->len);
	if (!hva)
		return bad(w, "buffer outside guest RAM");
	elem->bufs[elem->nr_out + elem->nr_in] = (struct virtq_buf){ .hva = hva, .len = d->len };
	if (writable) {
		elem->nr_in++;
		elem->in_len += d->len;
	} else {
		elem->nr_out++;
		elem->out_len += d->len;
	}
	return 0;
}

/* Checks a descriptor with INDIRECT and returns the table it points to. */
static int indirect_table(struct walk *w, const struct desc *ind, const uint8_t **ret_table)
{
	const uint8_t *table;

	if (!w->vq->indirect)
		return bad(w, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	/* §2.7.5.3.1: an indirect descriptor ends the chain in the main table. */
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return bad(w, "indirect descriptor with NEXT");
	if (ind->len == 0 || ind->len % DESC_SIZE || ind->len / DESC_SIZE > VIRTQ_MAX_SIZE)
		return bad(w, "bad indirect table length");
	table = guest_mem_ptr(w->vq->mem, ind->addr, ind->len);
	if (!table)
		return bad(w, "indirect table outside guest RAM");
	*ret_table = table;
	return 0;
}

/* Walks an indirect table (§2.7.5.3); its descriptors count towards the chain's length. */
static int walk_indirect(struct walk *w, const struct desc *ind)
{
	unsigned int nr = ind->len / DESC_SIZE;
	const uint8_t *table;
	unsigned int i = 0;
	struct desc d;
	int r;

	r = indirect_table(w, ind, &table);
	if (r < 0)
		return r;
	for (;;) {
		if (i >= nr)
			return bad(w, "indirect descriptor index out of range");
		d = read_desc(table, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return bad(w, "indirect descriptor inside an indirect table");
		r = add_buf(w, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/*
 * Walks the chain that starts at head.  Every pass either ends the walk or adds one to
 * w->count, which add_buf() bounds by the queue size: loops end there.  The descriptor that
 * points to an indirect table is not a buffer and is not counted; it is always the last one.
 */
static int walk_chain(struct walk *w, uint16_t head)
{
	const struct virtq *vq = w->vq;
	unsigned int i = head;
	struct desc d;
	int r;

	for (;;) {
		if (i >= vq->size)
			return bad(w, "descriptor index out of range");
		d = read_desc(vq->desc, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(w, &d);
		r = add_buf(w, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static int fail(struct virtq *vq, const char *why)
{
	vq->broken = true;
	log_debug("virtq: %s; queue broken", why);
	return -EINVAL;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	struct walk w = { .vq = vq, .elem = elem };
	uint16_t pending, head;

	if (vq->broken)
		return -EINVAL;
	pending = (uint16_t)(load_idx(vq->avail + RING_IDX) - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	if (vq->budget == 0) {
		vq->over_budget = true;
		return 0;
	}
	if (pending > vq->size)
		return fail(vq, "available index jumps by more than the queue size");
	/* §2.7.13.3: the driver wrote ring entry and descriptors before the index. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ld16(vq->avail + RING_ENTRIES + 2u * (vq->last_avail_idx & (vq->size - 1u)));
	compiler_barrier();
	/* Only the header: clearing bufs[] would cost 4 KiB of stores per chain. */
	elem->head = head;
	elem->nr_out = elem->nr_in = 0;
	elem->out_len = elem->in_len = 0;
	if (walk_chain(&w, head) < 0)
		return fail(vq, w.why);
	vq->last_avail_idx++;
	vq->budget--;
	vq->inflight++;
	return 1;
}

void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written)
{
	uint8_t *slot = vq->used + RING_ENTRIES + USED_ELEM_SIZE * (vq->used_idx & (vq->size - 1u));

	/* len counts bytes written into the in buffers (§2.7.8): never more than they hold. */
	if (written > elem->in_len)
		written = (uint32_t)elem->in_len;
	st32(slot, elem->head);
	st32(slot + 4, written);
	vq->used_idx++;
	vq->inflight--;
	/* §2.7.8.2: the element is visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store_idx(vq->used + RING_IDX, vq->used_idx);
}

/* Whether moving from old to new_idx crossed event (include/uapi/linux/virtio_ring.h). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1u) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used;
	bool valid = vq->signalled_used_valid;

	/*
	 * Our used->idx store must be visible before we read what the driver asked for: the
	 * driver writes used_event (or flags), then reads used->idx (§2.7.7).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	return need_event(ld16(used_event(vq)), vq->used_idx, old);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		st16(avail_event(vq), vq->last_avail_idx);
	else
		st16(vq->used, 0);
	/*
	 * §2.7.10: the driver writes avail->idx, then reads our field; we write our field, then
	 * read avail->idx.  Without a full fence both could miss the other's write, and the
	 * queue would stall with buffers in it.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/*
	 * Over budget, the caller must leave its loop whatever is pending: the transport has
	 * already arranged to come back to this queue.
	 */
	if (vq->over_budget)
		return false;
	return load_idx(vq->avail + RING_IDX) != vq->last_avail_idx;
}

void virtq_disable_notify(struct virtq *vq)
{
	/*
	 * With EVENT_IDX the driver notifies when avail->idx passes avail_event; one behind what
	 * we consumed is a point it cannot pass while at most a queue's worth is pending.
	 */
	if (vq->event_idx)
		st16(avail_event(vq), (uint16_t)(vq->last_avail_idx - 1u));
	else
		st16(vq->used, VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_snapshot(const struct virtq *vq, struct virtq_snapshot *s)
{
	*s = (struct virtq_snapshot){
		.size = __atomic_load_n(&vq->size, __ATOMIC_RELAXED),
		.last_avail_idx = __atomic_load_n(&vq->last_avail_idx, __ATOMIC_RELAXED),
		.used_idx = __atomic_load_n(&vq->used_idx, __ATOMIC_RELAXED),
		.signalled_used = __atomic_load_n(&vq->signalled_used, __ATOMIC_RELAXED),
		.event_idx = vq->event_idx,
		.broken = __atomic_load_n(&vq->broken, __ATOMIC_RELAXED),
	};
	if (!s->size || !vq->avail || !vq->used)
		return;
	s->avail_flags = ld16(vq->avail);
	s->avail_idx = load_idx(vq->avail + RING_IDX);
	s->used_flags = ld16(vq->used);
	if (s->event_idx) {
		s->used_event = ld16(used_event(vq));
		s->avail_event = ld16(avail_event(vq));
	}
}

/*
 * How many bytes of b to copy, at most want, once the first *off bytes are skipped; *start
 * is where in b the copy begins.  Consumes *off.
 */
static size_t span(const struct virtq_buf *b, size_t *off, size_t want, size_t *start)
{
	size_t n;

	if (*off >= b->len) {
		*off -= b->len;
		return 0;
	}
	*start = *off;
	n = b->len - *off;
	*off = 0;
	return n < want ? n : want;
}

size_t virtq_elem_read(const struct virtq_elem *elem, size_t off, void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t done = 0;

	for (unsigned int i = 0; i < elem->nr_out && done < len; i++) {
		size_t start = 0, n = span(&elem->bufs[i], &off, len - done, &start);

		if (n)
			memcpy(out + done, elem->bufs[i].hva + start, n);
		done += n;
	}
	return done;
}

size_t virtq_elem_write(const struct virtq_elem *elem, size_t off, const void *src, size_t len)
{
	const struct virtq_buf *bufs = elem->bufs + elem->nr_out;
	const uint8_t *in = src;
	size_t done = 0;

	for (unsigned int i = 0; i < elem->nr_in && done < len; i++) {
		size_t start = 0, n = span(&bufs[i], &off, len - done, &start);

		if (n)
			memcpy(bufs[i].hva + start, in + done, n);
		done += n;
	}
	return done;
}
