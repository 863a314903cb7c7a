// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake transport: records what a device model asks of its transport.  Linked into the
 * device tests and fuzzers in place of virtio-pci, whose definitions of these functions are
 * then never pulled out of the library.
 */
#include "fake_transport.h"

struct fake_transport fake_transport = { .last_watched_fd = -1 };

void fake_transport_clear(void)
{
	fake_transport = (struct fake_transport){ .last_watched_fd = -1 };
}

void virtio_notify_used(struct virtio_dev *dev, unsigned int q)
{
	(void)dev;
	fake_transport.notify_calls++;
	fake_transport.last_notify_queue = q;
}

void virtio_set_needs_reset(struct virtio_dev *dev, const char *why)
{
	(void)dev;
	fake_transport.needs_reset_calls++;
	fake_transport.last_reset_why = why;
}

int virtio_watch_fd(struct virtio_dev *dev, int fd)
{
	(void)dev;
	fake_transport.watch_calls++;
	fake_transport.last_watched_fd = fd;
	return 0;
}

void virtio_config_changed(struct virtio_dev *dev)
{
	(void)dev;
	fake_transport.config_changed_calls++;
}

void virtio_queue_kick(struct virtio_dev *dev, unsigned int q)
{
	(void)dev;
	fake_transport.kick_calls++;
	fake_transport.last_kick_queue = q;
}
