/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-balloon, the memory balloon (virtio 1.2 §5.5): the host sets a target (num_pages,
 * the pages it wants back); the guest's driver hands pages over on the inflate queue, and
 * the device returns each page's memory to the host (madvise MADV_DONTNEED: the guest's
 * RAM is anonymous memory, so the VMM's RSS drops at once).  Pages given back on the
 * deflate queue need nothing: the guest's next touch faults in a fresh zero page.  No
 * feature is offered, so the driver takes the ballooned pages out of the guest's MemTotal
 * (with DEFLATE_ON_OOM it would not).  Queues run on the device's I/O thread; the target
 * is set from the control thread.
 */
#ifndef XENO_DEVICES_VIRTIO_BALLOON_H
#define XENO_DEVICES_VIRTIO_BALLOON_H

#include "devices/virtio/virtio.h"

#include <stdint.h>

#define VIRTIO_BALLOON_QUEUE_SIZE 128u
#define VIRTIO_BALLOON_PAGE_SHIFT 12 /* the protocol's page: 4 KiB, whatever the guest's */

struct virtio_balloon_stats {
	uint32_t target_pages; /* pages the host asks for (num_pages) */
	uint32_t actual_pages; /* pages the driver says it holds (actual) */
	uint64_t inflated;     /* pages returned to the host since start */
	uint64_t deflated;     /* pages given back to the guest since start */
	uint64_t bad_pfns;     /* page numbers outside guest RAM, ignored */
};

/* A device ready for a transport (freed by (*ret)->ops->free), or -ENOMEM.  Main thread. */
int virtio_balloon_new(struct virtio_dev **ret) __attribute__((warn_unused_result));

/*
 * Asks the guest to hold target_pages 4 KiB pages in the balloon (0: none) and tells it
 * through a configuration change.  Any thread.
 */
void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t target_pages);

void virtio_balloon_stats(struct virtio_dev *dev, struct virtio_balloon_stats *ret);

extern const struct virtio_dev_ops virtio_balloon_ops;

#endif
