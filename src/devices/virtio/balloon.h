/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-balloon, the memory balloon (virtio 1.2 §5.5): the host sets a target (num_pages,
 * the pages it wants back); the guest's driver hands pages over on the inflate queue, and
 * the device returns each page's memory to the host (madvise MADV_DONTNEED: the guest's
 * RAM is anonymous memory, so the VMM's RSS drops at once).  Pages given back on the
 * deflate queue need nothing: the guest's next touch faults in a fresh zero page.
 *
 * Features offered: STATS_VQ (the guest's memory figures: free, total, available, caches,
 * swap and faults, refreshed on demand) and REPORTING (free page reporting: the guest lists
 * free blocks of its memory, the device discards them too).  DEFLATE_ON_OOM only on request:
 * with it, Linux leaves ballooned pages in its MemTotal and takes them back under memory
 * pressure, so MemTotal no longer follows the target (a Xen user reads it).
 *
 * Queues run on the device's I/O thread; the target is set and the figures are read from the
 * control thread.
 */
#ifndef XENO_DEVICES_VIRTIO_BALLOON_H
#define XENO_DEVICES_VIRTIO_BALLOON_H

#include "devices/virtio/virtio.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_BALLOON_QUEUE_SIZE 128u
#define VIRTIO_BALLOON_PAGE_SHIFT 12 /* the protocol's page: 4 KiB, whatever the guest's */

/* Feature bits (virtio 1.2 §5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST (1ULL << 0)
#define VIRTIO_BALLOON_F_STATS_VQ       (1ULL << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ULL << 2)
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT (1ULL << 3)
#define VIRTIO_BALLOON_F_PAGE_POISON    (1ULL << 4)
#define VIRTIO_BALLOON_F_REPORTING      (1ULL << 5)

/* Tags of the statistics the driver sends (virtio 1.2 §5.5.6.3); others are ignored. */
enum virtio_balloon_stat_tag {
	VIRTIO_BALLOON_S_SWAP_IN,      /* bytes swapped in */
	VIRTIO_BALLOON_S_SWAP_OUT,     /* bytes swapped out */
	VIRTIO_BALLOON_S_MAJFLT,       /* major page faults */
	VIRTIO_BALLOON_S_MINFLT,       /* minor page faults */
	VIRTIO_BALLOON_S_MEMFREE,      /* bytes of memory nothing uses */
	VIRTIO_BALLOON_S_MEMTOT,       /* bytes of memory the guest manages */
	VIRTIO_BALLOON_S_AVAIL,        /* bytes available for new work without swapping */
	VIRTIO_BALLOON_S_CACHES,       /* bytes of disk caches that can be reclaimed */
	VIRTIO_BALLOON_S_HTLB_PGALLOC, /* huge page allocations */
	VIRTIO_BALLOON_S_HTLB_PGFAIL,  /* huge page allocation failures */
	VIRTIO_BALLOON_S_COUNT,
};

/* What each queue carries: it depends on the negotiated features (§5.5.2). */
enum virtio_balloon_queue {
	VIRTIO_BALLOON_Q_NONE, /* no such queue under these features */
	VIRTIO_BALLOON_Q_INFLATE,
	VIRTIO_BALLOON_Q_DEFLATE,
	VIRTIO_BALLOON_Q_STATS,
	VIRTIO_BALLOON_Q_FREE_PAGE, /* FREE_PAGE_HINT: never offered, never served */
	VIRTIO_BALLOON_Q_REPORTING,
};

struct virtio_balloon_config {
	bool deflate_on_oom; /* offer DEFLATE_ON_OOM */
};

struct virtio_balloon_stats {
	uint32_t target_pages;   /* pages the host asks for (num_pages) */
	uint32_t actual_pages;   /* pages the driver says it holds (actual) */
	uint64_t inflated;       /* pages returned to the host since start */
	uint64_t deflated;       /* pages given back to the guest since start */
	uint64_t bad_pfns;       /* page numbers outside guest RAM, ignored */
	uint64_t reported_pages; /* 4 KiB pages of free page reports returned to the host */
	uint64_t report_partial; /* reported buffers with bytes outside whole pages (kept) */
	uint64_t features;       /* negotiated with the current driver (0 before one starts) */
	/* The guest's latest figures, when its driver has sent some (guest_valid != 0): */
	uint32_t guest_valid;                   /* bit n: guest[n] was in the latest buffer */
	uint64_t guest[VIRTIO_BALLOON_S_COUNT]; /* indexed by tag, units as the tag says */
	uint64_t guest_age_ms;                  /* since the latest buffer arrived */
};

/*
 * A device ready for a transport (freed by (*ret)->ops->free): 0, or -ENOMEM / -errno.
 * Main thread.
 */
int virtio_balloon_new(const struct virtio_balloon_config *cfg, struct virtio_dev **ret)
        __attribute__((warn_unused_result));

/*
 * Asks the guest to hold target_pages 4 KiB pages in the balloon (0: none) and tells it
 * through a configuration change.  Any thread.
 */
void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t target_pages);

/*
 * Asks the driver for fresh figures when the latest are older than max_age_ms: the device
 * hands the statistics buffer it holds back to the driver, which refills it and makes it
 * available again (§5.5.6.3).  Never waits: the figures read just after are the previous
 * ones, and guest_age_ms says how old.  Any thread; does nothing without STATS_VQ.
 */
void virtio_balloon_refresh_stats(struct virtio_dev *dev, uint64_t max_age_ms);

/* Copies the counters and the guest's latest figures.  Any thread. */
void virtio_balloon_stats(struct virtio_dev *dev, struct virtio_balloon_stats *ret);

/* The role of queue q under the negotiated features: inflateq 0, deflateq 1, then the
 * queues of STATS_VQ, FREE_PAGE_HINT and REPORTING in that order, each only if negotiated
 * (§5.5.2; Linux numbers them the same way, skipping absent ones). */
enum virtio_balloon_queue virtio_balloon_queue_role(uint64_t features, unsigned int q);

extern const struct virtio_dev_ops virtio_balloon_ops;

#endif
