/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xend's HTTP API (docs/api.md) without the HTTP: one route table, request parsing and
 * validation into a struct api_request (on the API threads, or a fuzzer: no socket, no
 * daemon), and execution of a parsed request against the domain table (main thread only,
 * through daemon_call).  Every failure becomes a status from one errno table and a JSON body
 * {"error": {"code": "EINVAL", "message": "..."}}.
 */
#ifndef XEND_API_H
#define XEND_API_H

#include "xend/domain_config.h"
#include "xend/events.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct xend;

#define API_BODY_MAX              (1024 * 1024)    /* bytes of a request body */
#define API_DOM_MAX               64               /* bytes of the {dom} path segment */
#define API_LOG_LINES             100              /* default of GET /v1/log */
#define API_LOG_MAX               10000            /* most lines GET /v1/log returns */
#define API_WAIT_MAX_MS           (600 * 1000)     /* longest a shutdown with "wait" waits */
#define API_EVENTS_TIMEOUT_MS     (30 * 1000)      /* default wait of GET /v1/events */
#define API_EVENTS_TIMEOUT_MAX_MS (300 * 1000)     /* the longest it may be asked to wait */
#define API_SAVE_PATH_MAX         4000             /* bytes of a save file's path */
#define API_SAVE_TIMEOUT_MS       (30 * 60 * 1000) /* the longest a VMM may take to save */

/* One query parameter (already %-decoded). */
struct api_arg {
	const char *key;
	const char *value;
};

/* What the HTTP layer knows of a request. */
struct api_input {
	const char *method;
	const char *path; /* without the query */
	const struct api_arg *args;
	size_t nr_args;
	const char *body; /* body_len bytes, not NUL-terminated */
	size_t body_len;
	bool has_length;          /* Content-Length or chunked: a body was announced */
	const char *content_type; /* NULL if absent */
	bool upgrade;             /* Connection: Upgrade and Upgrade: xeno-console */
};

struct api_route;

/*
 * POST /v1/domains/DOM/save and POST /v1/restore (api_save.c).  A save runs in three steps:
 * its executor (main thread) marks the domain, the VMM's `save` runs on the API thread
 * (api_offload), and its end is applied on the main thread again (api_finish).
 */
struct api_save {
	char path[API_SAVE_PATH_MAX + 1]; /* absolute */
	bool checkpoint;                  /* save: the domain goes on running */
	bool paused, fast, copy;          /* restore: stay paused, no memory check, copy RAM */
	char name[DOMAIN_NAME_MAX + 1];   /* restore: a new name, or "" */
	/* Carried from the executor to api_finish: */
	unsigned int domid;
	char control[1024], meta[1024];
	long long start_ms;
	int result;                /* of the VMM's `save` */
	struct json_object *reply; /* its answer when result is 0 */
	char err[512];
};

/* A request that passed the route table and validation. */
struct api_request {
	const struct api_route *route;
	char dom[API_DOM_MAX + 1]; /* the {dom} segment, if the route has one */
	struct domain_config config;
	bool has_config;
	bool reboot, wait;
	unsigned int lines;
	bool nat_enabled; /* PUT /v1/host/nat */
	/* GET /v1/events: the cursor (after, in stream), how long to wait, and whether the
	 * cursor turned out to be from another run of xend. */
	uint64_t events_after;
	bool events_has_after, events_lost;
	char events_stream[EVENT_STREAM_LEN + 1];
	int events_timeout_ms;
	/* vcpu-pin and sched */
	unsigned int vcpu;
	char cpus[64];
	unsigned int weight, cap;
	bool has_weight, has_cap;
	unsigned int target_mib; /* PUT /memory */
	unsigned int maxmem_mib; /* PUT /maxmem */
	struct api_save save;
};

/* The answer, built by parsing (errors) or execution. */
struct api_response {
	unsigned int status;
	struct json_object *body; /* owned; NULL for no body */
	char *text;               /* owned; instead of body: a text/plain answer (/metrics) */
	char allow[64];           /* the Allow header of a 405 */
	/* Follow-ups that the HTTP layer does after execution, off the main thread: */
	bool upgrade; /* switch to the console of console_domid */
	unsigned int console_domid;
	bool wait; /* wait (for wait_ms; 0: API_WAIT_MAX_MS) until api_wait_done() says so */
	int wait_ms;
	unsigned int wait_domid; /* a shutdown's: until the domain stops or restarts */
	unsigned int wait_boots;
	bool offload; /* run api_offload() on the API thread, then api_finish() */
};

/*
 * Matches in against the route table and validates it: method, path, query, headers, length,
 * content type, JSON body.  Returns 0 with req filled (api_request_fini() it), or -errno with
 * resp holding the error (status, body, Allow).  Any thread; never touches the daemon.
 */
int api_request_parse(const struct api_input *in, struct api_request *req,
                      struct api_response *resp) __attribute__((warn_unused_result));

/* Frees what a parsed request holds. */
void api_request_fini(struct api_request *req);

/* Executes a parsed request.  Main thread only.  Always fills resp. */
void api_execute(struct xend *x, struct api_request *req, struct api_response *resp);

/*
 * After a request whose response asked to wait: is it over?  Fills resp with the final
 * answer when it is (returns true), as it always does once timed_out.  Main thread only.
 */
bool api_wait_done(struct xend *x, struct api_request *req, struct api_response *resp,
                   bool timed_out);

/*
 * A request whose execution asked for offload: its long part, on the API thread (it touches no
 * daemon state), then its end on the main thread, which fills resp with the final answer.
 */
void api_offload(struct api_request *req, struct api_response *resp);
void api_finish(struct xend *x, struct api_request *req, struct api_response *resp);

/* Sets resp to the error err (negative errno) with a formatted message.  Returns err. */
int api_error(struct api_response *resp, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Sets resp to status with body (taking ownership of body). */
void api_reply(struct api_response *resp, unsigned int status, struct json_object *body);

/* Releases the body of resp. */
void api_response_fini(struct api_response *resp);

/* The HTTP status for a negative errno (docs/api.md, Errors); 500 for unknown ones. */
unsigned int api_status_of(int err);

/* The errno's name ("EINVAL"); "EIO" for unknown ones. */
const char *api_errno_name(int err);

/* Number of routes, and the i-th route's method and path pattern (docs check, tests). */
size_t api_route_count(void);
void api_route_info(size_t i, const char **ret_method, const char **ret_pattern);

/* ---- Handlers, in api_domain.c and api_host.c (rows of the route table) ---- */

int api_parse_json(const struct api_input *in, struct json_object **ret, struct api_response *resp);
/*
 * A JSON object body whose fields are all among keys (NULL-terminated); expected names them
 * for the message.  Returns 0 and *ret (put it), or -errno with resp set.
 */
int api_parse_fields(const struct api_input *in, const char *const *keys, const char *expected,
                     struct json_object **ret, struct api_response *resp);
int api_parse_no_body(const struct api_input *in, struct api_request *req,
                      struct api_response *resp);

int api_domain_parse_create(const struct api_input *in, struct api_request *req,
                            struct api_response *resp);
int api_domain_parse_shutdown(const struct api_input *in, struct api_request *req,
                              struct api_response *resp);
int api_domain_parse_reboot(const struct api_input *in, struct api_request *req,
                            struct api_response *resp);
int api_domain_parse_console(const struct api_input *in, struct api_request *req,
                             struct api_response *resp);
void api_domain_list(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_create(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_get(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_destroy(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_pause(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_unpause(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_shutdown(struct xend *x, struct api_request *req, struct api_response *resp);
void api_domain_console(struct xend *x, struct api_request *req, struct api_response *resp);
bool api_domain_wait_done(struct xend *x, struct api_request *req, struct api_response *resp);

int api_host_parse_log(const struct api_input *in, struct api_request *req,
                       struct api_response *resp);
void api_host_version(struct xend *x, struct api_request *req, struct api_response *resp);
void api_host_info(struct xend *x, struct api_request *req, struct api_response *resp);
void api_host_log(struct xend *x, struct api_request *req, struct api_response *resp);

int api_events_parse(const struct api_input *in, struct api_request *req,
                     struct api_response *resp);
void api_events_get(struct xend *x, struct api_request *req, struct api_response *resp);
bool api_events_wait_done(struct xend *x, struct api_request *req, struct api_response *resp,
                          bool timed_out);

int api_cpu_parse_pin(const struct api_input *in, struct api_request *req,
                      struct api_response *resp);
int api_cpu_parse_sched(const struct api_input *in, struct api_request *req,
                        struct api_response *resp);
void api_cpu_vcpus(struct xend *x, struct api_request *req, struct api_response *resp);
void api_cpu_pin(struct xend *x, struct api_request *req, struct api_response *resp);
void api_cpu_sched_get(struct xend *x, struct api_request *req, struct api_response *resp);
void api_cpu_sched_put(struct xend *x, struct api_request *req, struct api_response *resp);
int api_cpu_parse_memory(const struct api_input *in, struct api_request *req,
                         struct api_response *resp);
void api_cpu_memory(struct xend *x, struct api_request *req, struct api_response *resp);
int api_cpu_parse_maxmem(const struct api_input *in, struct api_request *req,
                         struct api_response *resp);
void api_cpu_maxmem(struct xend *x, struct api_request *req, struct api_response *resp);

int api_save_parse(const struct api_input *in, struct api_request *req, struct api_response *resp);
int api_restore_parse(const struct api_input *in, struct api_request *req,
                      struct api_response *resp);
void api_save_start(struct xend *x, struct api_request *req, struct api_response *resp);
void api_save_call(struct api_request *req, struct api_response *resp);
void api_save_finish(struct xend *x, struct api_request *req, struct api_response *resp);
void api_restore(struct xend *x, struct api_request *req, struct api_response *resp);

void api_stats_domain(struct xend *x, struct api_request *req, struct api_response *resp);
void api_stats_all(struct xend *x, struct api_request *req, struct api_response *resp);
void api_stats_metrics(struct xend *x, struct api_request *req, struct api_response *resp);

int api_net_parse_nat(const struct api_input *in, struct api_request *req,
                      struct api_response *resp);
void api_net_domain(struct xend *x, struct api_request *req, struct api_response *resp);
void api_block_domain(struct xend *x, struct api_request *req, struct api_response *resp);
void api_net_nat_get(struct xend *x, struct api_request *req, struct api_response *resp);
void api_net_nat_put(struct xend *x, struct api_request *req, struct api_response *resp);

#endif
