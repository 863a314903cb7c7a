/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake virtio transport for device-model tests and fuzzers: the functions virtio.h says a
 * transport provides, recording their calls instead of raising interrupts or setting
 * DEVICE_NEEDS_RESET.  Single-threaded use only.
 */
#ifndef XENO_TESTS_FAKE_TRANSPORT_H
#define XENO_TESTS_FAKE_TRANSPORT_H

#include "devices/virtio/virtio.h"

struct fake_transport {
	unsigned int notify_calls; /* virtio_notify_used() */
	unsigned int last_notify_queue;
	unsigned int needs_reset_calls; /* virtio_set_needs_reset() */
	const char *last_reset_why;
	unsigned int watch_calls;          /* virtio_watch_fd() */
	unsigned int config_changed_calls; /* virtio_config_changed() */
	int last_watched_fd;
	unsigned int kick_calls; /* virtio_queue_kick() */
	unsigned int last_kick_queue;
};

extern struct fake_transport fake_transport;

/* Forgets every recorded call. */
void fake_transport_clear(void);

#endif
