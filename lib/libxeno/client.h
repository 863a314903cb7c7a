/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside libxeno's client: the handle and the one request path every call goes through
 * (client.c), shared with domain.c.  Never installed.  Runs in the caller's thread.
 */
#ifndef XENO_LIBXENO_CLIENT_H
#define XENO_LIBXENO_CLIENT_H

#include <json-c/json.h>

#include <xeno/xeno.h>

/* The default time limit of one request; a shutdown that waits has none. */
#define CLIENT_TIMEOUT_MS 120000

/*
 * Records a failure on h: formats the message, returns r (a -errno) so that callers fail in
 * one statement: return client_fail(h, -EINVAL, "...").
 */
int client_fail(struct xeno *h, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clears the message at the start of a call. */
void client_clear(struct xeno *h);

/*
 * One request: body may be NULL; timeout_ms 0 means none.  On a 2xx answer returns 0 and the
 * body text in *ret_json (if not NULL).  Failures as xeno_request().
 */
int client_request(struct xeno *h, const char *method, const char *path, const char *body,
                   long timeout_ms, char **ret_json);

/*
 * As client_request(), and parses the answer: *ret is a new json-c reference (put it) of type
 * `type` (json_type_object, json_type_array); anything else is -EBADMSG.
 */
int client_request_parsed(struct xeno *h, const char *method, const char *path, const char *body,
                          long timeout_ms, enum json_type type, struct json_object **ret);

/* "/v1/domains/DOM" + suffix ("" or "/pause" ...) with DOM escaped; NULL if out of memory. */
char *client_domain_path(const char *dom, const char *suffix);

#endif
