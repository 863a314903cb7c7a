// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-balloon (virtio 1.2 §5.5), see balloon.h.  Queue 0 inflates, queue 1 deflates;
 * each chain's device-readable buffers are arrays of le32 page frame numbers (4 KiB pages).
 * With STATS_VQ the next queue carries the guest's statistics, and with REPORTING the one
 * after it (or queue 2 without STATS_VQ) its free page reports.  Configuration space: le32
 * num_pages (device-written, the target) and le32 actual (driver-written).
 *
 * A page number outside guest RAM is counted and skipped, as is the part of a reported
 * buffer that is not whole pages: either can only hurt the guest itself.  A chain whose
 * buffers go the wrong way (writable page lists or statistics, readable reports), or a page
 * list whose length is not a multiple of 4, breaks the protocol: the device asks for a
 * reset, as the others do.  Buffers outside guest RAM never get here: the queue walker
 * (virtq.c) refuses them, with the same result.
 *
 * Threads: the queues are served on the device's I/O thread.  The control thread sets the
 * target, asks for fresh statistics (a kick of the statistics queue, served on the I/O
 * thread) and reads the counters (atomics) and the guest's figures (under stats_lock).
 */
#include "devices/virtio/balloon.h"
#include "vmm/guest_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE            (1ULL << VIRTIO_BALLOON_PAGE_SHIFT)
#define STAT_SIZE       10u /* le16 tag, le64 value, packed (§5.5.6.3) */
#define STATS_MAX_ITEMS 64u /* entries read from one buffer; the rest are ignored */
#define NO_QUEUE        (-1)

struct balloon {
	struct virtio_dev dev; /* dev.priv points back here */
	bool deflate_on_oom;
	bool broken;
	uint8_t role[VIRTIO_MAX_QUEUES]; /* enum virtio_balloon_queue; I/O thread, at activate */
	uint32_t target;                 /* num_pages (atomic: set by the control thread) */
	uint32_t actual;                 /* as the driver wrote it (atomic) */
	/* Atomic counters: the I/O thread adds, the control thread reads. */
	uint64_t inflated, deflated, bad_pfns, reported_pages, report_partial;
	uint64_t features; /* atomic: negotiated, for the control thread (0 after a reset) */

	/* Statistics (§5.5.6.3): the driver's buffer is held until the host wants fresh ones. */
	int stats_q;         /* atomic: the statistics queue, NO_QUEUE without one */
	bool stats_held;     /* I/O thread: stats_elem popped and not returned */
	bool refresh_wanted; /* atomic: the control thread wants stats_elem handed back */
	uint64_t refresh_ns; /* atomic: when the last refresh was asked (CLOCK_MONOTONIC) */
	pthread_mutex_t stats_lock;
	uint32_t guest_valid;                   /* protected by stats_lock */
	uint64_t guest[VIRTIO_BALLOON_S_COUNT]; /* protected by stats_lock */
	uint64_t guest_ns;                      /* protected by stats_lock: arrival, 0 never */

	/* Scratch of the I/O thread, too large for its stack. */
	struct virtq_elem elem;
	struct virtq_elem stats_elem;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* --- the model ------------------------------------------------------------------------------ */

enum virtio_balloon_queue virtio_balloon_queue_role(uint64_t features, unsigned int q)
{
	static const struct {
		uint64_t feature;
		enum virtio_balloon_queue role;
	} optional[] = {
		{ VIRTIO_BALLOON_F_STATS_VQ, VIRTIO_BALLOON_Q_STATS },
		{ VIRTIO_BALLOON_F_FREE_PAGE_HINT, VIRTIO_BALLOON_Q_FREE_PAGE },
		{ VIRTIO_BALLOON_F_REPORTING, VIRTIO_BALLOON_Q_REPORTING },
	};
	unsigned int next = 2;

	if (q < 2)
		return q == 0 ? VIRTIO_BALLOON_Q_INFLATE : VIRTIO_BALLOON_Q_DEFLATE;
	for (unsigned int i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		if (!(features & optional[i].feature))
			continue;
		if (q == next)
			return optional[i].role;
		next++;
	}
	return VIRTIO_BALLOON_Q_NONE;
}

/*
 * Returns the host memory behind [hva, hva + len) of guest RAM; the next guest touch reads
 * zeroes.  After a restore, RAM may be a MAP_PRIVATE mapping of the save file (snapshot.c):
 * there MADV_DONTNEED drops the private copy and the page reads as the file has it again,
 * which is as good: the guest gave the page away and does not expect any contents in it.
 */
static void discard(uint8_t *hva, uint64_t len)
{
	(void)madvise(hva, len, MADV_DONTNEED);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One page list: its page numbers, contiguous runs discarded together on inflate. */
static int serve_pages(struct balloon *s, const struct virtq_elem *e, bool inflate)
{
	uint64_t run_start = 0, run_len = 0, pages = 0;

	if (e->nr_in || e->out_len % 4)
		return -EINVAL;
	for (unsigned int i = 0; i < e->nr_out; i++) {
		const uint8_t *p = e->bufs[i].hva;

		for (uint32_t off = 0; off + 4 <= e->bufs[i].len; off += 4) {
			uint64_t gpa = (uint64_t)le32(p + off) << VIRTIO_BALLOON_PAGE_SHIFT;

			if (!guest_mem_ptr(s->dev.mem, gpa, PAGE)) {
				count(&s->bad_pfns, 1);
				continue;
			}
			pages++;
			if (!inflate)
				continue;
			if (run_len && gpa == run_start + run_len) {
				run_len += PAGE;
				continue;
			}
			if (run_len)
				discard(guest_mem_ptr(s->dev.mem, run_start, run_len), run_len);
			run_start = gpa;
			run_len = PAGE;
		}
	}
	if (run_len)
		discard(guest_mem_ptr(s->dev.mem, run_start, run_len), run_len);
	count(inflate ? &s->inflated : &s->deflated, pages);
	return 0;
}

/*
 * One free page report (§5.5.6.7): device-writable buffers, each a block of free guest
 * memory (Linux: 2 MiB and larger, up to 32 to a chain).  The whole pages inside each go
 * back to the host; nothing is written, the guest takes the buffers back as they are.
 */
static int serve_report(struct balloon *s, const struct virtq_elem *e)
{
	uint64_t pages = 0;

	if (e->nr_out)
		return -EINVAL;
	for (unsigned int i = 0; i < e->nr_in; i++) {
		uintptr_t start = (uintptr_t)e->bufs[i].hva, end = start + e->bufs[i].len;
		/* RAM's mapping is page aligned, so host and guest addresses share an offset. */
		uintptr_t first = (start + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
		uintptr_t last = end & ~(uintptr_t)(PAGE - 1);

		if (first != start || last != end)
			count(&s->report_partial, 1);
		if (last <= first)
			continue;
		discard((uint8_t *)first, last - first);
		pages += (last - first) / PAGE;
	}
	count(&s->reported_pages, pages);
	return 0;
}

/*
 * Reads a statistics buffer: packed {le16 tag, le64 value} entries in any order; unknown
 * tags and a trailing partial entry are ignored (§5.5.6.3).  The figures replace the
 * previous ones as a whole.
 */
static int read_stats(struct balloon *s, const struct virtq_elem *e)
{
	uint64_t vals[VIRTIO_BALLOON_S_COUNT] = { 0 };
	uint64_t n = e->out_len / STAT_SIZE;
	uint32_t valid = 0;
	uint8_t item[STAT_SIZE];

	if (e->nr_in)
		return -EINVAL;
	if (n > STATS_MAX_ITEMS)
		n = STATS_MAX_ITEMS;
	for (uint64_t i = 0; i < n; i++) {
		unsigned int tag;
		uint64_t v = 0;

		(void)virtq_elem_read(e, i * STAT_SIZE, item, sizeof(item));
		tag = (unsigned int)item[0] | (unsigned int)item[1] << 8;
		if (tag >= VIRTIO_BALLOON_S_COUNT)
			continue;
		for (unsigned int b = 0; b < 8; b++)
			v |= (uint64_t)item[2 + b] << (8 * b);
		vals[tag] = v;
		valid |= 1u << tag;
	}
	pthread_mutex_lock(&s->stats_lock);
	memcpy(s->guest, vals, sizeof(vals));
	s->guest_valid = valid;
	s->guest_ns = now_ns();
	pthread_mutex_unlock(&s->stats_lock);
	return 0;
}

/* --- queues (I/O thread) ------------------------------------------------------------------- */

/*
 * The statistics queue: hand the held buffer back if the host asked for fresh figures,
 * then take (and read) the next one and hold it.  At most one chain is held, so chains go
 * back in the order they came, which a save's rewind of in-flight chains relies on (virtq.h).
 */
static int serve_stats(struct balloon *s, struct virtq *vq, bool *pushed)
{
	bool wanted = __atomic_exchange_n(&s->refresh_wanted, false, __ATOMIC_RELAXED);
	int r;

	if (wanted && s->stats_held) {
		virtq_push(vq, &s->stats_elem, 0);
		s->stats_held = false;
		*pushed = true;
	}
	while (!s->stats_held) {
		r = virtq_pop(vq, &s->stats_elem);
		if (r < 0)
			return r;
		if (r == 0) {
			if (!virtq_enable_notify(vq))
				break;
			continue;
		}
		r = read_stats(s, &s->stats_elem);
		if (r < 0)
			return r;
		s->stats_held = true;
	}
	return 0;
}

/* The other queues: every chain is served and returned at once. */
static int serve_all(struct balloon *s, struct virtq *vq, enum virtio_balloon_queue role,
                     bool *pushed)
{
	int r;

	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &s->elem)) > 0) {
			r = role == VIRTIO_BALLOON_Q_REPORTING
			            ? serve_report(s, &s->elem)
			            : serve_pages(s, &s->elem, role == VIRTIO_BALLOON_Q_INFLATE);
			if (r < 0)
				return r;
			virtq_push(vq, &s->elem, 0);
			*pushed = true;
		}
		if (r < 0)
			return r;
	} while (virtq_enable_notify(vq));
	return 0;
}

static void balloon_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct balloon *s = dev->priv;
	struct virtq *vq = &dev->queues[q];
	enum virtio_balloon_queue role = q < VIRTIO_MAX_QUEUES ? s->role[q] : VIRTIO_BALLOON_Q_NONE;
	bool pushed = false;
	int r;

	if (s->broken || vq->broken || vq->size == 0)
		return;
	switch (role) {
	case VIRTIO_BALLOON_Q_INFLATE:
	case VIRTIO_BALLOON_Q_DEFLATE:
	case VIRTIO_BALLOON_Q_REPORTING:
		r = serve_all(s, vq, role, &pushed);
		break;
	case VIRTIO_BALLOON_Q_STATS:
		r = serve_stats(s, vq, &pushed);
		break;
	default:
		return; /* a queue the negotiated features do not have */
	}
	if (r < 0) {
		s->broken = true;
		virtio_set_needs_reset(dev,
		                       "virtio-balloon: malformed descriptor chain, ring, page "
		                       "list, report or statistics");
		return;
	}
	if (pushed)
		virtio_notify_used(dev, q);
}

/* --- configuration space and lifecycle ------------------------------------------------------ */

static uint64_t balloon_features(struct virtio_dev *dev)
{
	struct balloon *s = dev->priv;

	return VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_REPORTING |
	       (s->deflate_on_oom ? VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void balloon_config_read(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len)
{
	struct balloon *s = dev->priv;
	uint8_t cfg[8];

	put_le32(cfg, __atomic_load_n(&s->target, __ATOMIC_RELAXED));
	put_le32(cfg + 4, __atomic_load_n(&s->actual, __ATOMIC_RELAXED));
	memset(data, 0, len);
	if (offset < sizeof(cfg))
		memcpy(data, cfg + offset, len < sizeof(cfg) - offset ? len : sizeof(cfg) - offset);
}

static void balloon_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
                                 uint32_t len)
{
	struct balloon *s = dev->priv;
	uint8_t cfg[8] = { 0 };

	/* Only actual (bytes 4..7) is the driver's to write. */
	if (offset < 4 || offset >= sizeof(cfg) || len > sizeof(cfg) - offset)
		return;
	put_le32(cfg + 4, __atomic_load_n(&s->actual, __ATOMIC_RELAXED));
	memcpy(cfg + offset, data, len);
	__atomic_store_n(&s->actual, le32(cfg + 4), __ATOMIC_RELAXED);
}

static int balloon_activate(struct virtio_dev *dev)
{
	struct balloon *s = dev->priv;
	int stats_q = NO_QUEUE;

	s->broken = false;
	s->stats_held = false;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		s->role[q] = (uint8_t)(q < dev->ops->num_queues
		                               ? virtio_balloon_queue_role(dev->features, q)
		                               : VIRTIO_BALLOON_Q_NONE);
		if (s->role[q] == VIRTIO_BALLOON_Q_STATS)
			stats_q = (int)q;
	}
	__atomic_store_n(&s->features, dev->features, __ATOMIC_RELAXED);
	__atomic_store_n(&s->stats_q, stats_q, __ATOMIC_RELAXED);
	return 0;
}

static void balloon_reset(struct virtio_dev *dev)
{
	struct balloon *s = dev->priv;

	s->broken = false;
	/* A held statistics buffer belongs to rings the driver has just torn down. */
	s->stats_held = false;
	memset(s->role, 0, sizeof(s->role));
	__atomic_store_n(&s->stats_q, NO_QUEUE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->features, 0, __ATOMIC_RELAXED);
	/* A driver that starts again holds no page; the target stays the host's wish. */
	__atomic_store_n(&s->actual, 0, __ATOMIC_RELAXED);
}

static void balloon_free(struct virtio_dev *dev)
{
	struct balloon *s;

	if (!dev)
		return;
	s = dev->priv;
	pthread_mutex_destroy(&s->stats_lock);
	free(s);
}

int virtio_balloon_new(const struct virtio_balloon_config *cfg, struct virtio_dev **ret)
{
	struct balloon *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dev.ops = &virtio_balloon_ops;
	s->dev.priv = s;
	s->deflate_on_oom = cfg && cfg->deflate_on_oom;
	s->stats_q = NO_QUEUE;
	pthread_mutex_init(&s->stats_lock, NULL);
	*ret = &s->dev;
	return 0;
}

void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t target_pages)
{
	struct balloon *s = dev->priv;

	__atomic_store_n(&s->target, target_pages, __ATOMIC_RELAXED);
	virtio_config_changed(dev);
}

void virtio_balloon_refresh_stats(struct virtio_dev *dev, uint64_t max_age_ms)
{
	struct balloon *s = dev->priv;
	int q = __atomic_load_n(&s->stats_q, __ATOMIC_RELAXED);
	uint64_t now = now_ns(), max_age_ns = max_age_ms * 1000000ull, arrived;

	if (q == NO_QUEUE)
		return;
	pthread_mutex_lock(&s->stats_lock);
	arrived = s->guest_ns;
	pthread_mutex_unlock(&s->stats_lock);
	/* Fresh enough, or asked for lately and the driver has not answered yet. */
	if ((arrived && now - arrived < max_age_ns) ||
	    now - __atomic_load_n(&s->refresh_ns, __ATOMIC_RELAXED) < max_age_ns)
		return;
	__atomic_store_n(&s->refresh_ns, now, __ATOMIC_RELAXED);
	__atomic_store_n(&s->refresh_wanted, true, __ATOMIC_RELAXED);
	virtio_queue_kick(dev, (unsigned int)q);
}

void virtio_balloon_stats(struct virtio_dev *dev, struct virtio_balloon_stats *ret)
{
	struct balloon *s = dev->priv;

	ret->target_pages = __atomic_load_n(&s->target, __ATOMIC_RELAXED);
	ret->actual_pages = __atomic_load_n(&s->actual, __ATOMIC_RELAXED);
	ret->inflated = __atomic_load_n(&s->inflated, __ATOMIC_RELAXED);
	ret->deflated = __atomic_load_n(&s->deflated, __ATOMIC_RELAXED);
	ret->bad_pfns = __atomic_load_n(&s->bad_pfns, __ATOMIC_RELAXED);
	ret->reported_pages = __atomic_load_n(&s->reported_pages, __ATOMIC_RELAXED);
	ret->report_partial = __atomic_load_n(&s->report_partial, __ATOMIC_RELAXED);
	ret->features = __atomic_load_n(&s->features, __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->stats_lock);
	ret->guest_valid = s->guest_valid;
	memcpy(ret->guest, s->guest, sizeof(ret->guest));
	ret->guest_age_ms = s->guest_ns ? (now_ns() - s->guest_ns) / 1000000ull : 0;
	pthread_mutex_unlock(&s->stats_lock);
}

/* --- saved state ---------------------------------------------------------------------------- */

/*
 * The target and the driver's count survive a save; the counters start again.  A held
 * statistics buffer needs nothing here: the queue's rewind hands it to the restored device,
 * which reads it again (virtq.h, inflight).
 */
static uint32_t balloon_save(struct virtio_dev *dev, uint8_t *buf)
{
	struct balloon *s = dev->priv;
	uint32_t v[2] = { __atomic_load_n(&s->target, __ATOMIC_RELAXED),
		          __atomic_load_n(&s->actual, __ATOMIC_RELAXED) };

	memcpy(buf, v, sizeof(v));
	return sizeof(v);
}

static int balloon_load(struct virtio_dev *dev, const uint8_t *buf, uint32_t len)
{
	struct balloon *s = dev->priv;
	uint32_t v[2];

	if (len != sizeof(v))
		return -EINVAL;
	memcpy(v, buf, sizeof(v));
	__atomic_store_n(&s->target, v[0], __ATOMIC_RELAXED);
	__atomic_store_n(&s->actual, v[1], __ATOMIC_RELAXED);
	return 0;
}

const struct virtio_dev_ops virtio_balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.pci_class = 0x058000, /* memory controller, other */
	/* inflateq, deflateq, statsq, reporting_vq: the driver enables those it negotiated. */
	.num_queues = 4,
	.queue_max_size = VIRTIO_BALLOON_QUEUE_SIZE,
	.config_size = 8,
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.free = balloon_free,
	.save = balloon_save,
	.load = balloon_load,
};
