// SPDX-License-Identifier: GPL-2.0-only
/*
 * GET /v1/events: a long poll on the event log (events.h, docs/api.md "Events").  Without
 * `after` it starts from now; with `after` (and the `stream` it came from) it answers at
 * once when newer events exist, else waits up to `timeout` ms for one and then answers with
 * none.  Each answer gives the cursor for the next call.
 */
#include "xend/api.h"
#include "xend/daemon.h"
#include "xend/domain.h"
#include "xend/events.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int parse_number(const char *v, unsigned long long max, unsigned long long *ret)
{
	char *end;
	unsigned long long n;

	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

int api_events_parse(const struct api_input *in, struct api_request *req, struct api_response *resp)
{
	int r = api_parse_no_body(in, req, resp);
	unsigned long long n;

	if (r < 0)
		return r;
	req->events_timeout_ms = API_EVENTS_TIMEOUT_MS;
	for (size_t i = 0; i < in->nr_args; i++) {
		const char *k = in->args[i].key, *v = in->args[i].value;

		if (strcmp(k, "after") == 0) {
			if (parse_number(v, UINT64_MAX, &n) < 0)
				return api_error(
				        resp, -EINVAL,
				        "after: expected the number of the last event seen");
			req->events_after = n;
			req->events_has_after = true;
		} else if (strcmp(k, "stream") == 0) {
			if (!v || strlen(v) != EVENT_STREAM_LEN ||
			    strspn(v, "0123456789abcdef") != EVENT_STREAM_LEN)
				return api_error(resp, -EINVAL,
				                 "stream: expected the %d hex digits of an earlier "
				                 "answer's \"stream\"",
				                 EVENT_STREAM_LEN);
			memcpy(req->events_stream, v, EVENT_STREAM_LEN + 1);
		} else if (strcmp(k, "timeout") == 0) {
			if (parse_number(v, API_EVENTS_TIMEOUT_MAX_MS, &n) < 0)
				return api_error(resp, -EINVAL,
				                 "timeout: expected milliseconds from 0 to %d",
				                 API_EVENTS_TIMEOUT_MAX_MS);
			req->events_timeout_ms = (int)n;
		} else {
			return api_error(
			        resp, -EINVAL,
			        "unknown query parameter '%.64s' (expected after, stream or "
			        "timeout)",
			        k);
		}
	}
	if (req->events_stream[0] && !req->events_has_after)
		return api_error(resp, -EINVAL, "stream needs after (the cursor of that stream)");
	return 0;
}

static uint64_t cursor_after(struct json_object *list, uint64_t fallback)
{
	size_t n = json_object_array_length(list);
	struct json_object *seq;

	if (!n || !json_object_object_get_ex(json_object_array_get_idx(list, n - 1), "seq", &seq))
		return fallback;
	return json_object_get_uint64(seq);
}

/* Answers with the events after req's cursor; false (and no answer) when there are none. */
static bool reply_events(struct xend *x, struct api_request *req, struct api_response *resp,
                         bool even_if_none)
{
	const struct event_log *log = &x->domains.events;
	struct json_object *o, *list;
	bool lost;

	list = event_log_since(log, req->events_after, &lost);
	if (!list) {
		api_error(resp, -ENOMEM, "out of memory");
		return true;
	}
	lost = lost || req->events_lost;
	if (!even_if_none && !lost && json_object_array_length(list) == 0) {
		json_object_put(list);
		return false;
	}
	o = json_object_new_object();
	if (!o) {
		json_object_put(list);
		api_error(resp, -ENOMEM, "out of memory");
		return true;
	}
	json_object_object_add(o, "stream", json_object_new_string(log->stream));
	json_object_object_add(o, "lost", json_object_new_boolean(lost));
	json_object_object_add(o, "events", list);
	/* The cursor: the last event answered, or where the client already was. */
	json_object_object_add(
	        o, "next",
	        json_object_new_uint64(cursor_after(list, lost ? log->last : req->events_after)));
	api_reply(resp, 200, o);
	return true;
}

void api_events_get(struct xend *x, struct api_request *req, struct api_response *resp)
{
	const struct event_log *log = &x->domains.events;

	if (!req->events_has_after) {
		req->events_after = log->last;
	} else if (req->events_stream[0] && strcmp(req->events_stream, log->stream) != 0) {
		/* Another run of xend numbered those: everything this one kept is news. */
		req->events_after = 0;
		req->events_lost = true;
	}
	if (reply_events(x, req, resp, req->events_timeout_ms == 0))
		return;
	resp->wait = true;
	resp->wait_ms = req->events_timeout_ms;
}

bool api_events_wait_done(struct xend *x, struct api_request *req, struct api_response *resp,
                          bool timed_out)
{
	return reply_events(x, req, resp, timed_out);
}
