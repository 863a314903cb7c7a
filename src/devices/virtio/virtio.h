/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtio device interface: what a device model (blk, net, rng, ...) implements, and what
 * the transport (virtio-pci) gives it.  The transport owns feature negotiation, status, the
 * queues' registers, notifications (ioeventfd) and interrupts (MSI-X through irqfd); the
 * device owns its config space and what its queues mean.
 *
 * Threads: each device has one I/O thread, started by the transport, on which queue_notify
 * and every call into the device's queues run; config_read/config_write run on the vCPU
 * thread that made the access, under the transport's lock.
 */
#ifndef XENO_DEVICES_VIRTIO_VIRTIO_H
#define XENO_DEVICES_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtq.h"

#define VIRTIO_MAX_QUEUES 8

/* Device ids (virtio 1.2 §5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5

/* Feature bits every device may offer (§6). */
#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_EVENT_IDX     (1ULL << 29)
#define VIRTIO_F_VERSION_1     (1ULL << 32)

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;   /* "virtio-blk" */
	uint16_t device_id; /* VIRTIO_ID_* */
	uint32_t pci_class; /* PCI class code (24 bits) */
	unsigned int num_queues;
	uint16_t queue_max_size;
	uint32_t config_size;
	/* Device-specific features offered, besides VERSION_1, INDIRECT_DESC and EVENT_IDX. */
	uint64_t (*features)(struct virtio_dev *dev);
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const void *data,
	                     uint32_t len);
	/* The driver set DRIVER_OK: the queues are set up.  Returns 0 or -errno. */
	int (*activate)(struct virtio_dev *dev);
	/* The driver notified queue q (I/O thread). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	/* Another fd of the device's own became readable (I/O thread), e.g. a TAP. */
	void (*fd_ready)(struct virtio_dev *dev, int fd);
	/* The driver reset the device: drop in-flight state (I/O thread stopped). */
	void (*reset)(struct virtio_dev *dev);
	/* Frees the device's own state at exit. */
	void (*free)(struct virtio_dev *dev);
	/*
	 * Optional, for save files (issue 7): the device model's own state beyond its queues,
	 * at most VIRTIO_DEV_STATE_MAX bytes (save returns the length), and loading it back
	 * (0 or -EINVAL), both on the I/O thread before the queues run.
	 */
	uint32_t (*save)(struct virtio_dev *dev, uint8_t *buf);
	int (*load)(struct virtio_dev *dev, const uint8_t *buf, uint32_t len);
};

#define VIRTIO_DEV_STATE_MAX 256u

/* What the transport provides; the device reads these fields and calls the functions below. */
struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv; /* the device model's own state */
	const struct guest_mem *mem;
	struct virtq queues[VIRTIO_MAX_QUEUES]; /* valid after activate */
	uint64_t features;                      /* negotiated; valid after activate */
	void *transport;                        /* the transport's private state */
};

/* The device's configuration space changed: tells the driver (its config interrupt). */
void virtio_config_changed(struct virtio_dev *dev);

/* Returns used buffers of queue q to the driver: interrupts if the driver wants one. */
void virtio_notify_used(struct virtio_dev *dev, unsigned int q);

/*
 * Makes the device's I/O thread call queue_notify(q) soon, as a notification from the
 * driver would (nothing happens unless the queue is running).  Any thread: this is how
 * another thread hands a device work that belongs with a queue.
 */
void virtio_queue_kick(struct virtio_dev *dev, unsigned int q);

/*
 * The guest broke the protocol (bad descriptors, bad request): the device stops processing
 * and sets DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2).  The VMM and other devices go on.
 */
void virtio_set_needs_reset(struct virtio_dev *dev, const char *why);

/* Watches fd on the device's I/O thread; ops->fd_ready is called when it is readable. */
int virtio_watch_fd(struct virtio_dev *dev, int fd) __attribute__((warn_unused_result));

#endif
