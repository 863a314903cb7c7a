/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The domain events xend announces on GET /v1/events (docs/api.md, "Events"): created,
 * paused, unpaused, shutdown (with the reason), crashed, restarted and destroyed.  The most
 * recent EVENTS_KEPT are kept in a ring, numbered from 1 in the order they happened; a
 * client gives the number of the last one it saw and gets the ones after it.  The numbers
 * belong to one run of xend: each run has a random stream id, so a client that comes back
 * after a restart learns that it may have missed events (and so does one that fell more than
 * EVENTS_KEPT behind).  Main thread only, like the domain table that feeds it.
 */
#ifndef XEND_EVENTS_H
#define XEND_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define EVENTS_KEPT      1024
#define EVENTS_PER_REPLY 256
#define EVENT_STREAM_LEN 16 /* hex digits of a stream id */

enum event_type {
	EVENT_CREATED,
	EVENT_PAUSED,
	EVENT_UNPAUSED,
	EVENT_SHUTDOWN,  /* the guest powered off or rebooted: reason "poweroff" or "reboot" */
	EVENT_CRASHED,   /* reason: what the VMM reported */
	EVENT_RESTARTED, /* a new VMM runs the domain (on_reboot/on_crash = restart) */
	EVENT_DESTROYED, /* gone from the table */
	EVENT_TYPE_COUNT
};

struct event {
	uint64_t seq;
	double time; /* epoch seconds */
	enum event_type type;
	unsigned int domid;
	char name[65];
	char state[16]; /* the domain's state right after the event */
	char reason[96];
};

struct event_log {
	struct event ring[EVENTS_KEPT];
	uint64_t last; /* seq of the newest event; 0 before the first */
	char stream[EVENT_STREAM_LEN + 1];
};

/* An empty log with a fresh random stream id. */
void event_log_init(struct event_log *log);

/* Appends an event (reason may be NULL or ""); the oldest is dropped when the ring is full. */
void event_log_add(struct event_log *log, enum event_type type, unsigned int domid,
                   const char *name, const char *state, const char *reason);

/*
 * The events after seq `after`, oldest first, at most EVENTS_PER_REPLY, as a JSON array
 * (NULL when out of memory).  *ret_lost is set when events after `after` are no longer kept.
 */
struct json_object *event_log_since(const struct event_log *log, uint64_t after, bool *ret_lost);

/* "created", "paused" ... */
const char *event_type_name(enum event_type type);

#endif
