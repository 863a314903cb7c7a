// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host routes: /v1/version, /v1/host (`xm info`) and /v1/log (`xm log`).  Parsers on the
 * API threads, executors on the main thread.
 */
#include "xend/api.h"
#include "xend/conf.h"
#include "xend/daemon.h"
#include "xend/host.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef XENO_VERSION
#define XENO_VERSION "0"
#endif

/* The end of the log read at most: enough for API_LOG_MAX long lines. */
#define LOG_TAIL_BYTES (4 * 1024 * 1024)

int api_host_parse_log(const struct api_input *in, struct api_request *req,
                       struct api_response *resp)
{
	int r = api_parse_no_body(in, req, resp);

	if (r < 0)
		return r;
	req->lines = API_LOG_LINES;
	for (size_t i = 0; i < in->nr_args; i++) {
		const char *v = in->args[i].value;
		char *end;
		long n;

		if (strcmp(in->args[i].key, "lines") != 0)
			return api_error(resp, -EINVAL,
			                 "unknown query parameter '%.64s' (expected lines)",
			                 in->args[i].key);
		n = v && *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : -1;
		if (n < 1 || n > API_LOG_MAX || *end)
			return api_error(resp, -EINVAL, "lines: expected a count from 1 to %d",
			                 API_LOG_MAX);
		req->lines = (unsigned int)n;
	}
	return 0;
}

void api_host_version(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = json_object_new_object();

	(void)x;
	(void)req;
	if (!o) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	json_object_object_add(o, "version", json_object_new_string(XENO_VERSION));
	json_object_object_add(o, "api", json_object_new_int(1));
	api_reply(resp, 200, o);
}

void api_host_info(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = json_object_new_object();
	struct host_mem mem = { 0, 0 };
	uint64_t committed = domain_table_committed_mib(&x->domains);
	struct utsname u;
	unsigned int n = 0;

	(void)req;
	if (!o) {
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	if (host_meminfo(&mem) < 0)
		mem.total_mib = mem.available_mib = 0;
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	for (struct domain *d = x->domains.list; d; d = d->next)
		n++;
	json_object_object_add(o, "hostname", json_object_new_string(u.nodename));
	json_object_object_add(o, "kernel", json_object_new_string(u.release));
	json_object_object_add(o, "cpus", json_object_new_int64(host_cpus()));
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)mem.total_mib));
	json_object_object_add(
	        o, "free_memory_mib",
	        json_object_new_int64(mem.available_mib > committed
	                                      ? (int64_t)(mem.available_mib - committed)
	                                      : 0));
	json_object_object_add(o, "dom0_min_mem_mib",
	                       json_object_new_int64(x->conf->dom0_min_mem_mib));
	json_object_object_add(o, "domains", json_object_new_int64(n));
	json_object_object_add(o, "next_domid", json_object_new_int64(x->domains.next_id));
	json_object_object_add(o, "xend_pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "xend_start_time", json_object_new_double(x->start_time));
	json_object_object_add(o, "xend_version", json_object_new_string(XENO_VERSION));
	api_reply(resp, 200, o);
}

/* Appends the last `want` lines of the text in buf[0..len) to the array a. */
static void add_last_lines(struct json_object *a, const char *buf, size_t len, unsigned int want)
{
	size_t end = len && buf[len - 1] == '\n' ? len - 1 : len, start = end;
	unsigned int found = 0;

	while (start > 0) {
		if (buf[start - 1] == '\n' && ++found == want)
			break;
		start--;
	}
	for (const char *p = buf + start, *stop = buf + end; p < stop;) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(stop - p);

		json_object_array_add(a, json_object_new_string_len(p, (int)n));
		p += n + 1;
	}
}

void api_host_log(struct xend *x, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	char *buf = NULL;
	ssize_t n = 0;
	off_t size;
	int fd;

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		api_error(resp, -ENOMEM, "out of memory");
		return;
	}
	fd = open(x->conf->log_file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		size = lseek(fd, 0, SEEK_END);
		buf = malloc(LOG_TAIL_BYTES);
		if (buf && size > 0)
			n = pread(fd, buf, LOG_TAIL_BYTES,
			          size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0);
		close(fd);
	}
	if (buf && n > 0)
		add_last_lines(a, buf, (size_t)n, req->lines);
	free(buf);
	json_object_object_add(o, "lines", a);
	json_object_object_add(o, "file", json_object_new_string(x->conf->log_file));
	api_reply(resp, 200, o);
}
