/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one queue whose device-writable buffers
 * it fills from the host kernel's getrandom().  Runs on the device's I/O thread and never
 * blocks it: at most VIRTIO_RNG_MAX_REQUEST bytes per buffer chain, without waiting for
 * entropy.
 */
#ifndef XENO_DEVICES_VIRTIO_RNG_H
#define XENO_DEVICES_VIRTIO_RNG_H

#include "devices/virtio/virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE  256u
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024) /* bytes filled per chain; the spec allows fewer */

/*
 * Makes a device ready for a transport.  Returns 0 and *ret (freed by (*ret)->ops->free) or
 * -ENOMEM.  Main thread.
 */
int virtio_rng_new(struct virtio_dev **ret) __attribute__((warn_unused_result));

extern const struct virtio_dev_ops virtio_rng_ops;

#endif
