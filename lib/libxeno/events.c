// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event watcher (xeno.h, "Events"): long polls on GET /v1/events, each from the cursor
 * (stream, next) of the answer before, handing the events of an answer out one by one.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest one poll asks xend to wait (xend's limit is 300 s). */
#define POLL_MAX_MS 60000
/* Time given to xend beyond the wait it was asked for, before the request counts as lost. */
#define POLL_SLACK_MS 15000

struct xeno_events {
	struct xeno *h;
	char stream[32];
	unsigned long long next;
	struct json_object *batch; /* the events of the last answer */
	size_t pos;                /* the first of them not handed out yet */
	bool lost;                 /* hand out a "lost" event first */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	               ? json_object_get_string(v)
	               : "";
}

/* One poll: waits up to wait_ms for events after the cursor and takes the answer in. */
static int poll_events(struct xeno_events *w, int wait_ms)
{
	struct json_object *answer, *v, *events;
	char path[128];
	int r;

	if (w->stream[0])
		snprintf(path, sizeof(path), "/v1/events?after=%llu&stream=%s&timeout=%d", w->next,
		         w->stream, wait_ms);
	else
		snprintf(path, sizeof(path), "/v1/events?timeout=0");
	r = client_request_parsed(w->h, "GET", path, NULL, (long)wait_ms + POLL_SLACK_MS,
	                          json_type_object, &answer);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(answer, "next", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    !json_object_object_get_ex(answer, "events", &events) ||
	    !json_object_is_type(events, json_type_array) ||
	    strlen(get_string(answer, "stream")) >= sizeof(w->stream)) {
		json_object_put(answer);
		return client_fail(w->h, -EBADMSG,
		                   "xend's answer to GET /v1/events is not a batch "
		                   "of events");
	}
	w->next = json_object_get_uint64(v);
	snprintf(w->stream, sizeof(w->stream), "%s", get_string(answer, "stream"));
	if (json_object_object_get_ex(answer, "lost", &v) && json_object_get_boolean(v))
		w->lost = true;
	json_object_put(w->batch);
	w->batch = json_object_get(events);
	w->pos = 0;
	json_object_put(answer);
	return 0;
}

int xeno_events_open(struct xeno *h, struct xeno_events **ret)
{
	struct xeno_events *w;
	int r;

	if (!h || !ret)
		return -EINVAL;
	client_clear(h);
	w = calloc(1, sizeof(*w));
	if (!w)
		return client_fail(h, -ENOMEM, "out of memory");
	w->h = h;
	r = poll_events(w, 0);
	if (r < 0) {
		xeno_events_close(w);
		return r;
	}
	/* Opening only takes the place: the first answer holds nothing older. */
	w->lost = false;
	*ret = w;
	return 0;
}

static void fill_event(struct json_object *o, struct xeno_event *e)
{
	struct json_object *v;

	memset(e, 0, sizeof(*e));
	if (json_object_object_get_ex(o, "seq", &v))
		e->seq = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "time", &v))
		e->time = json_object_get_double(v);
	if (json_object_object_get_ex(o, "domid", &v))
		e->domid = (unsigned int)json_object_get_int64(v);
	snprintf(e->event, sizeof(e->event), "%s", get_string(o, "event"));
	snprintf(e->name, sizeof(e->name), "%s", get_string(o, "name"));
	snprintf(e->state, sizeof(e->state), "%s", get_string(o, "state"));
	snprintf(e->reason, sizeof(e->reason), "%s", get_string(o, "reason"));
}

/* Hands out what the last answer brought, if anything is left: 1, else 0. */
static int take(struct xeno_events *w, struct xeno_event *ret)
{
	if (w->lost) {
		struct timespec ts;

		w->lost = false;
		clock_gettime(CLOCK_REALTIME, &ts);
		memset(ret, 0, sizeof(*ret));
		ret->time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		snprintf(ret->event, sizeof(ret->event), "lost");
		return 1;
	}
	if (w->batch && w->pos < json_object_array_length(w->batch)) {
		fill_event(json_object_array_get_idx(w->batch, w->pos++), ret);
		return 1;
	}
	return 0;
}

int xeno_events_next(struct xeno_events *w, int timeout_ms, struct xeno_event *ret)
{
	long long deadline;

	if (!w || !ret)
		return -EINVAL;
	client_clear(w->h);
	deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline < 0 ? POLL_MAX_MS : deadline - now_ms();
		int r = take(w, ret);

		if (r)
			return r;
		if (left < 0)
			left = 0;
		r = poll_events(w, left > POLL_MAX_MS ? POLL_MAX_MS : (int)left);
		if (r < 0)
			return r;
		r = take(w, ret);
		if (r)
			return r;
		if (deadline >= 0 && now_ms() >= deadline)
			return 0;
	}
}

void xeno_events_close(struct xeno_events *w)
{
	if (!w)
		return;
	json_object_put(w->batch);
	free(w);
}
