// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's route table and request validation, without a socket or a daemon: route matching,
 * 404/405 with Allow, the errno -> status table, length/type/body checks, and the parsers of
 * each route's body and query.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "xend/api.h"

static const char create_body[] = "{\"name\": \"web\", \"kernel\": \"/boot/vmlinuz\"}";

/* Parses a request; returns the result, leaving req/resp for inspection. */
static int parse(const char *method, const char *path, const char *body, struct api_request *req,
                 struct api_response *resp)
{
	struct api_input in = {
		.method = method,
		.path = path,
		.body = body ? body : "",
		.body_len = body ? strlen(body) : 0,
		.has_length = body != NULL,
		.content_type = body ? "application/json" : NULL,
	};

	memset(resp, 0, sizeof(*resp));
	return api_request_parse(&in, req, resp);
}

static const char *error_code(const struct api_response *resp)
{
	struct json_object *e, *code;

	if (!json_object_object_get_ex(resp->body, "error", &e) ||
	    !json_object_object_get_ex(e, "code", &code))
		return "";
	return json_object_get_string(code);
}

static const char *error_message(const struct api_response *resp)
{
	struct json_object *e, *msg;

	if (!json_object_object_get_ex(resp->body, "error", &e) ||
	    !json_object_object_get_ex(e, "message", &msg))
		return "";
	return json_object_get_string(msg);
}

static void expect_error(const char *method, const char *path, const char *body,
                         unsigned int status, const char *code, const char *words)
{
	struct api_response resp;
	struct api_request req;
	int r = parse(method, path, body, &req, &resp);

	if (r == 0 || resp.status != status || strcmp(error_code(&resp), code) != 0 ||
	    !strstr(error_message(&resp), words))
		fail_msg("%s %s %s: got %d, status %u, %s: '%s' (expected %u %s '%s')", method,
		         path, body ? body : "", r, resp.status, error_code(&resp),
		         error_message(&resp), status, code, words);
	api_response_fini(&resp);
}

static void test_routes_match_and_capture_the_domain(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	assert_int_equal(parse("GET", "/v1/version", NULL, &req, &resp), 0);
	assert_int_equal(parse("GET", "/v1/domains", NULL, &req, &resp), 0);
	assert_int_equal(parse("POST", "/v1/domains/web-1/pause", NULL, &req, &resp), 0);
	assert_string_equal(req.dom, "web-1");
	assert_int_equal(parse("DELETE", "/v1/domains/7", NULL, &req, &resp), 0);
	assert_string_equal(req.dom, "7");
	assert_int_equal(parse("POST", "/v1/domains/x/reboot", NULL, &req, &resp), 0);
	assert_true(req.reboot);
	assert_false(req.wait);
	api_request_fini(&req);
}

static void test_unknown_paths_are_404_and_wrong_methods_405_with_allow(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	expect_error("GET", "/v1/nope", NULL, 404, "ENOENT", "no route '/v1/nope'");
	expect_error("GET", "/v1/domains/", NULL, 404, "ENOENT", "no route");
	expect_error("GET", "/v1/domains//pause", NULL, 404, "ENOENT", "no route");
	expect_error("GET", "/v1/domains/a/b/c", NULL, 404, "ENOENT", "no route");
	expect_error("GET", "", NULL, 404, "ENOENT", "no route");
	expect_error("GET", "v1/version", NULL, 404, "ENOENT", "no route");
	expect_error("GET", "/v1/version/", NULL, 404, "ENOENT", "no route");
	assert_int_equal(parse("PUT", "/v1/domains", NULL, &req, &resp), -EOPNOTSUPP);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "GET, POST");
	api_response_fini(&resp);
	assert_int_equal(parse("GET", "/v1/domains/web/pause", NULL, &req, &resp), -EOPNOTSUPP);
	assert_string_equal(resp.allow, "POST");
	api_response_fini(&resp);
	assert_int_equal(parse("PATCH", "/v1/domains/web", NULL, &req, &resp), -EOPNOTSUPP);
	assert_string_equal(resp.allow, "GET, DELETE");
	api_response_fini(&resp);
}

static void test_a_domain_segment_over_64_bytes_is_no_domain(void **state)
{
	char path[200];

	(void)state;
	snprintf(path, sizeof(path), "/v1/domains/%065d", 1);
	expect_error("GET", path, NULL, 404, "ENOENT", "no domain");
}

static void test_errno_table(void **state)
{
	static const struct {
		int err;
		unsigned int status;
		const char *name;
	} rows[] = {
		{ -EINVAL, 400, "EINVAL" },       { -EPERM, 403, "EPERM" },
		{ -ENOENT, 404, "ENOENT" },       { -EOPNOTSUPP, 405, "EOPNOTSUPP" },
		{ -EEXIST, 409, "EEXIST" },       { -EBUSY, 409, "EBUSY" },
		{ -EALREADY, 409, "EALREADY" },   { -ENODATA, 411, "ENODATA" },
		{ -EMSGSIZE, 413, "EMSGSIZE" },   { -EMEDIUMTYPE, 415, "EMEDIUMTYPE" },
		{ -ENOMEM, 507, "ENOMEM" },       { -EIO, 500, "EIO" },
		{ -ESHUTDOWN, 503, "ESHUTDOWN" }, { -ETIMEDOUT, 504, "ETIMEDOUT" },
		{ -EXDEV, 500, "EIO" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(api_status_of(rows[i].err), rows[i].status);
		assert_string_equal(api_errno_name(rows[i].err), rows[i].name);
	}
}

static void test_length_type_and_size_checks(void **state)
{
	struct api_input in = { .method = "POST", .path = "/v1/domains", .body = create_body };
	struct api_response resp = { 0 };
	struct api_request req;

	(void)state;
	/* No Content-Length on a create: 411. */
	assert_int_equal(api_request_parse(&in, &req, &resp), -ENODATA);
	assert_int_equal(resp.status, 411);
	api_response_fini(&resp);
	/* Over 1 MiB: 413. */
	in.has_length = true;
	in.body_len = API_BODY_MAX + 1;
	assert_int_equal(api_request_parse(&in, &req, &resp), -EMSGSIZE);
	assert_int_equal(resp.status, 413);
	api_response_fini(&resp);
	/* Not JSON: 415; JSON with a charset is fine (the kernel is not checked here). */
	in.body_len = strlen(create_body);
	in.content_type = "text/plain";
	assert_int_equal(api_request_parse(&in, &req, &resp), -EMEDIUMTYPE);
	assert_int_equal(resp.status, 415);
	api_response_fini(&resp);
	in.content_type = "application/json; charset=utf-8";
	assert_int_equal(api_request_parse(&in, &req, &resp), 0);
	assert_true(req.has_config);
	assert_string_equal(req.config.name, "web");
	assert_int_equal(req.config.memory_mib, 128);
	api_request_fini(&req);
	in.content_type = "application/jsonx";
	assert_int_equal(api_request_parse(&in, &req, &resp), -EMEDIUMTYPE);
	api_response_fini(&resp);
}

static void test_bodies_are_strict_json_objects(void **state)
{
	(void)state;
	expect_error("POST", "/v1/domains", "", 400, "EINVAL", "empty");
	expect_error("POST", "/v1/domains", "{", 400, "EINVAL", "ends early");
	expect_error("POST", "/v1/domains", "{'name': 'x'}", 400, "EINVAL", "malformed JSON");
	expect_error("POST", "/v1/domains", "{\"name\": \"x\",}", 400, "EINVAL", "malformed");
	expect_error("POST", "/v1/domains", "[1]", 400, "EINVAL", "expected a JSON object");
	expect_error("POST", "/v1/domains", "{} {}", 400, "EINVAL", "trailing data");
	expect_error("POST", "/v1/domains", "\"str\"", 400, "EINVAL", "object");
	expect_error("POST", "/v1/domains", "{\"name\": \"\xc3\x28\"}", 400, "EINVAL", "utf-8");
	expect_error(
	        "POST", "/v1/domains",
	        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	        400, "EINVAL", "too deep");
	expect_error("POST", "/v1/domains", "{\"name\": \"x\"}", 400, "EINVAL",
	             "'kernel' is required");
	expect_error("POST", "/v1/domains", "{\"name\": \"x\", \"kernel\": \"/k\", \"memroy\": 1}",
	             400, "EINVAL", "did you mean 'memory_mib'");
}

static void test_requests_without_fields_refuse_fields(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	assert_int_equal(parse("POST", "/v1/domains/x/pause", "{}", &req, &resp), 0);
	assert_int_equal(parse("POST", "/v1/domains/x/pause", " { } \n", &req, &resp), 0);
	expect_error("POST", "/v1/domains/x/pause", "{\"now\": true}", 400, "EINVAL", "'now'");
	expect_error("GET", "/v1/domains", "{\"a\": 1}", 400, "EINVAL", "'a'");
	expect_error("POST", "/v1/domains/x/unpause", "x", 400, "EINVAL", "malformed");
}

static void test_shutdown_and_reboot_bodies(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	assert_int_equal(parse("POST", "/v1/domains/x/shutdown", NULL, &req, &resp), 0);
	assert_false(req.reboot);
	assert_false(req.wait);
	assert_int_equal(parse("POST", "/v1/domains/x/shutdown",
	                       "{\"reboot\": true, \"wait\": true}", &req, &resp),
	                 0);
	assert_true(req.reboot);
	assert_true(req.wait);
	assert_int_equal(parse("POST", "/v1/domains/x/reboot", "{\"wait\": true}", &req, &resp), 0);
	assert_true(req.reboot);
	assert_true(req.wait);
	expect_error("POST", "/v1/domains/x/shutdown", "{\"reboot\": 1}", 400, "EINVAL",
	             "'reboot': expected true or false");
	expect_error("POST", "/v1/domains/x/reboot", "{\"reboot\": false}", 400, "EINVAL",
	             "'reboot'");
	expect_error("POST", "/v1/domains/x/shutdown", "{\"halt\": true}", 400, "EINVAL", "'halt'");
}

static void test_save_bodies(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	assert_int_equal(
	        parse("POST", "/v1/domains/web/save", "{\"path\": \"/srv/web save\"}", &req, &resp),
	        0);
	assert_string_equal(req.dom, "web");
	assert_string_equal(req.save.path, "/srv/web save");
	assert_false(req.save.checkpoint);
	api_request_fini(&req);
	assert_int_equal(parse("POST", "/v1/domains/3/save",
	                       "{\"checkpoint\": true, \"path\": \"/a\"}", &req, &resp),
	                 0);
	assert_true(req.save.checkpoint);
	api_request_fini(&req);
	expect_error("POST", "/v1/domains/web/save", "{}", 400, "EINVAL", "'path' is required");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"web.save\"}", 400, "EINVAL",
	             "expected an absolute path");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"\"}", 400, "EINVAL",
	             "expected an absolute path");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": 7}", 400, "EINVAL",
	             "expected a string");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"/a\\nquit\"}", 400, "EINVAL",
	             "control characters");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"/a\\u0000b\"}", 400, "EINVAL",
	             "control characters");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"/tmp/\"}", 400, "EINVAL",
	             "names a directory");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"/a\", \"checkpoint\": 1}", 400,
	             "EINVAL", "'checkpoint': expected true or false");
	expect_error("POST", "/v1/domains/web/save", "{\"path\": \"/a\", \"paused\": true}", 400,
	             "EINVAL", "unknown field 'paused'");
	expect_error("POST", "/v1/domains/web/save", NULL, 411, "ENODATA", "needs a body");
	expect_error("GET", "/v1/domains/web/save", NULL, 405, "EOPNOTSUPP", "allowed: POST");
}

static void test_save_paths_are_bounded(void **state)
{
	char body[API_SAVE_PATH_MAX + 64], path[API_SAVE_PATH_MAX + 2];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	snprintf(body, sizeof(body), "{\"path\": \"%s\"}", path);
	expect_error("POST", "/v1/restore", body, 400, "EINVAL", "longer than 4000 bytes");
	path[sizeof(path) - 2] = 0;
	snprintf(body, sizeof(body), "{\"path\": \"%s\"}", path);
	{
		struct api_response resp;
		struct api_request req;

		assert_int_equal(parse("POST", "/v1/restore", body, &req, &resp), 0);
		assert_int_equal(strlen(req.save.path), API_SAVE_PATH_MAX);
		api_request_fini(&req);
	}
}

static void test_restore_bodies(void **state)
{
	struct api_response resp;
	struct api_request req;

	(void)state;
	assert_int_equal(parse("POST", "/v1/restore", "{\"path\": \"/srv/web.save\"}", &req, &resp),
	                 0);
	assert_string_equal(req.save.path, "/srv/web.save");
	assert_false(req.save.paused || req.save.fast || req.save.copy);
	assert_string_equal(req.save.name, "");
	api_request_fini(&req);
	assert_int_equal(parse("POST", "/v1/restore",
	                       "{\"path\": \"/s\", \"paused\": true, \"fast\": true, "
	                       "\"copy\": true, \"name\": \"web-2\"}",
	                       &req, &resp),
	                 0);
	assert_true(req.save.paused && req.save.fast && req.save.copy);
	assert_string_equal(req.save.name, "web-2");
	api_request_fini(&req);
	expect_error("POST", "/v1/restore", "{\"paused\": true}", 400, "EINVAL",
	             "'path' is required");
	expect_error("POST", "/v1/restore", "{\"path\": \"../web.save\"}", 400, "EINVAL",
	             "absolute path");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"name\": \"42\"}", 400, "EINVAL",
	             "not a domain name");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"name\": \"Domain-0\"}", 400,
	             "EINVAL", "not a domain name");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"name\": \"a b\"}", 400, "EINVAL",
	             "not a domain name");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"name\": null}", 400, "EINVAL",
	             "expected a string");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"fast\": \"yes\"}", 400, "EINVAL",
	             "'fast': expected true or false");
	expect_error("POST", "/v1/restore", "{\"path\": \"/s\", \"checkpoint\": true}", 400,
	             "EINVAL", "unknown field 'checkpoint'");
	expect_error("POST", "/v1/restore", "[\"/s\"]", 400, "EINVAL", "expected a JSON object");
	expect_error("POST", "/v1/restore", NULL, 411, "ENODATA", "needs a body");
}

static void test_console_needs_the_upgrade_headers(void **state)
{
	struct api_input in = { .method = "GET", .path = "/v1/domains/web/console" };
	struct api_response resp = { 0 };
	struct api_request req;

	(void)state;
	assert_int_equal(api_request_parse(&in, &req, &resp), -EINVAL);
	assert_int_equal(resp.status, 400);
	api_response_fini(&resp);
	in.upgrade = true;
	assert_int_equal(api_request_parse(&in, &req, &resp), 0);
	assert_string_equal(req.dom, "web");
}

static void test_query_parameters(void **state)
{
	struct api_arg lines = { "lines", "25" }, bad = { "lines", "0" },
	               huge = { "lines", "99999" }, junk = { "lines", "12x" },
	               other = { "follow", "1" };
	struct api_input in = { .method = "GET", .path = "/v1/log", .args = &lines, .nr_args = 1 };
	struct api_response resp = { 0 };
	struct api_request req;

	(void)state;
	assert_int_equal(api_request_parse(&in, &req, &resp), 0);
	assert_int_equal(req.lines, 25);
	in.nr_args = 0;
	assert_int_equal(api_request_parse(&in, &req, &resp), 0);
	assert_int_equal(req.lines, API_LOG_LINES);
	in.nr_args = 1;
	for (const struct api_arg *a = &bad; a; a = a == &bad ? &huge : a == &huge ? &junk : NULL) {
		in.args = a;
		assert_int_equal(api_request_parse(&in, &req, &resp), -EINVAL);
		assert_int_equal(resp.status, 400);
		api_response_fini(&resp);
	}
	in.args = &other;
	assert_int_equal(api_request_parse(&in, &req, &resp), -EINVAL);
	assert_non_null(strstr(error_message(&resp), "'follow'"));
	api_response_fini(&resp);
	/* A route without query parameters refuses them. */
	in.path = "/v1/domains";
	assert_int_equal(api_request_parse(&in, &req, &resp), -EINVAL);
	assert_non_null(strstr(error_message(&resp), "unknown query parameter 'follow'"));
	api_response_fini(&resp);
}

/* Every route of the table is documented in docs/api.md, with {dom} written as DOM. */
static void test_every_route_is_in_the_api_document(void **state)
{
	char doc[65536], row[256], pattern[128];
	FILE *f = fopen(XEND_API_DOC, "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = 0;
	for (size_t i = 0; i < api_route_count(); i++) {
		const char *method, *p;
		char *o = pattern;

		api_route_info(i, &method, &p);
		for (; *p && o < pattern + sizeof(pattern) - 4; p++) {
			if (strncmp(p, "{dom}", 5) == 0) {
				memcpy(o, "DOM", 3);
				o += 3;
				p += 4;
			} else {
				*o++ = *p;
			}
		}
		*o = 0;
		snprintf(row, sizeof(row), "| %s | %s", method, pattern);
		if (!strstr(doc, row))
			fail_msg("docs/api.md has no row '%s'", row);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_and_capture_the_domain),
		cmocka_unit_test(test_unknown_paths_are_404_and_wrong_methods_405_with_allow),
		cmocka_unit_test(test_a_domain_segment_over_64_bytes_is_no_domain),
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_length_type_and_size_checks),
		cmocka_unit_test(test_bodies_are_strict_json_objects),
		cmocka_unit_test(test_requests_without_fields_refuse_fields),
		cmocka_unit_test(test_shutdown_and_reboot_bodies),
		cmocka_unit_test(test_save_bodies),
		cmocka_unit_test(test_save_paths_are_bounded),
		cmocka_unit_test(test_restore_bodies),
		cmocka_unit_test(test_console_needs_the_upgrade_headers),
		cmocka_unit_test(test_query_parameters),
		cmocka_unit_test(test_every_route_is_in_the_api_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
