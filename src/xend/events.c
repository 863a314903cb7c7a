// SPDX-License-Identifier: GPL-2.0-only
/* The ring of recent domain events behind GET /v1/events (events.h). */
#include "xend/events.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char *const type_names[EVENT_TYPE_COUNT] = {
	[EVENT_CREATED] = "created",     [EVENT_PAUSED] = "paused",
	[EVENT_UNPAUSED] = "unpaused",   [EVENT_SHUTDOWN] = "shutdown",
	[EVENT_CRASHED] = "crashed",     [EVENT_RESTARTED] = "restarted",
	[EVENT_DESTROYED] = "destroyed",
};

const char *event_type_name(enum event_type type)
{
	return (size_t)type < EVENT_TYPE_COUNT ? type_names[type] : "unknown";
}

void event_log_init(struct event_log *log)
{
	uint64_t id = 0;
	struct timespec ts;

	memset(log, 0, sizeof(*log));
	/* Without randomness, time and pid still tell two runs of xend apart. */
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		id = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
	}
	snprintf(log->stream, sizeof(log->stream), "%016llx", (unsigned long long)id);
}

void event_log_add(struct event_log *log, enum event_type type, unsigned int domid,
                   const char *name, const char *state, const char *reason)
{
	struct event *e = &log->ring[log->last % EVENTS_KEPT];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(e, 0, sizeof(*e));
	e->seq = ++log->last;
	e->time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	e->type = type;
	e->domid = domid;
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	snprintf(e->state, sizeof(e->state), "%s", state ? state : "");
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
}

static struct json_object *event_json(const struct event *e)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "seq", json_object_new_uint64(e->seq));
	json_object_object_add(o, "time", json_object_new_double(e->time));
	json_object_object_add(o, "event", json_object_new_string(event_type_name(e->type)));
	json_object_object_add(o, "domid", json_object_new_int64(e->domid));
	json_object_object_add(o, "name", json_object_new_string(e->name));
	if (e->state[0])
		json_object_object_add(o, "state", json_object_new_string(e->state));
	if (e->reason[0])
		json_object_object_add(o, "reason", json_object_new_string(e->reason));
	return o;
}

struct json_object *event_log_since(const struct event_log *log, uint64_t after, bool *ret_lost)
{
	uint64_t oldest = log->last > EVENTS_KEPT ? log->last - EVENTS_KEPT + 1 : 1;
	struct json_object *list = json_object_new_array();
	size_t n = 0;

	*ret_lost = after > log->last || after + 1 < oldest;
	if (!list)
		return NULL;
	if (after > log->last || after + 1 < oldest)
		after = oldest - 1;
	for (uint64_t seq = after + 1; seq <= log->last && n < EVENTS_PER_REPLY; seq++, n++) {
		struct json_object *o = event_json(&log->ring[(seq - 1) % EVENTS_KEPT]);

		if (!o || json_object_array_add(list, o) < 0) {
			json_object_put(o);
			json_object_put(list);
			return NULL;
		}
	}
	return list;
}
