// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes xend's API request handling without a socket or a daemon: the route table, query
 * parameters, length/type checks and every route's body parser (the domain config above
 * all).  Input: a flags byte, then "METHOD\nPATH[?QUERY]\nCONTENT-TYPE\n" and the body.
 * A config that passes is formatted back, substituted and copied, as xend would.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xend/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits the next line off *p (NUL-terminating it in the copy). */
static char *line(char **p, char *end)
{
	char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return NULL;
	*nl = 0;
	*p = nl + 1;
	return s;
}

/* Splits "a=1&b=2" into args, in place. */
static size_t split_query(char *q, struct api_arg *args, size_t max)
{
	size_t n = 0;

	while (q && *q && n < max) {
		char *amp = strchr(q, '&'), *eq;

		if (amp)
			*amp = 0;
		eq = strchr(q, '=');
		if (eq)
			*eq = 0;
		args[n].key = q;
		args[n].value = eq ? eq + 1 : "";
		n++;
		q = amp ? amp + 1 : NULL;
	}
	return n;
}

static void exercise_config(const struct domain_config *cfg)
{
	struct domain_config copy;
	struct json_object *obj;
	char err[256];

	obj = domain_config_to_json(cfg);
	if (!obj)
		return;
	(void)json_object_to_json_string(obj);
	json_object_put(obj);
	if (domain_config_copy(&copy, cfg) == 0) {
		(void)domain_config_substitute(&copy, 12345, err, sizeof(err));
		domain_config_fini(&copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_response resp = { 0 };
	struct api_arg args[8];
	struct api_request req;
	struct api_input in = { 0 };
	char *copy, *p, *end, *method, *path, *type, *q;
	uint8_t flags;

	if (size < 1 || size > API_BODY_MAX + 4096)
		return 0;
	flags = data[0];
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	p = copy;
	end = copy + size - 1;
	method = line(&p, end);
	path = line(&p, end);
	type = line(&p, end);
	if (!method || !path || !type) {
		free(copy);
		return 0;
	}
	q = strchr(path, '?');
	if (q)
		*q++ = 0;
	in.method = method;
	in.path = path;
	in.args = args;
	in.nr_args = split_query(q, args, 8);
	in.content_type = *type ? type : NULL;
	in.body = p;
	in.body_len = (size_t)(end - p);
	in.has_length = flags & 1;
	in.upgrade = flags & 2;
	if (api_request_parse(&in, &req, &resp) == 0) {
		if (resp.body)
			__builtin_trap(); /* a success leaves the answer to execution */
		if (req.has_config)
			exercise_config(&req.config);
		api_request_fini(&req);
	} else if (resp.status < 400 || !resp.body) {
		__builtin_trap(); /* every failure is an error status with a JSON body */
	}
	api_response_fini(&resp);
	free(copy);
	return 0;
}
