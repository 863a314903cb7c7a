// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend.conf: defaults, every key, and the errors a mistyped file gets (file:line, the key,
 * what was expected).  Files are written to a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xend/conf.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/xend-conf-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/xend.conf", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Writes text as dir/xend.conf and loads it. */
static int load(const char *text, struct xend_conf *conf, char **err)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/xend.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return conf_load(path, conf, err);
}

static void test_defaults_with_only_vmm_path(void **state)
{
	struct xend_conf conf;
	char *err = NULL;

	(void)state;
	assert_int_equal(load("vmm-path = '/bin/true'\n", &conf, &err), 0);
	assert_null(err);
	assert_string_equal(conf.socket_path, "/run/xeno/xend.sock");
	assert_string_equal(conf.run_dir, "/run/xeno");
	assert_string_equal(conf.state_dir, "/var/lib/xeno");
	assert_string_equal(conf.log_file, "/var/log/xeno/xend.log");
	assert_string_equal(conf.console_log_dir, "/var/log/xeno/console");
	assert_string_equal(conf.vmm_path, "/bin/true");
	assert_int_equal(conf.dom0_min_mem_mib, 256);
	assert_false(conf.console_tcp);
	assert_int_equal(conf.console_tcp_base, 9600);
	assert_int_equal(conf.request_timeout_s, 30);
	assert_int_equal(conf.max_connections, 64);
	assert_non_null(strstr(conf.path, "xend.conf"));
	conf_fini(&conf);
}

static void test_every_key(void **state)
{
	struct xend_conf conf;
	char *err = NULL;

	(void)state;
	assert_int_equal(load("# all of them\n"
	                      "xend-socket = '/tmp/x/xend.sock'\n"
	                      "run-dir = \"/tmp/x/run\"\n"
	                      "state-dir = '/tmp/x/state'\n"
	                      "log-file = '/tmp/x/xend.log'\n"
	                      "console-log-dir = '/tmp/x/console'\n"
	                      "vmm-path = '/bin/true'\n"
	                      "dom0-min-mem = 512\n"
	                      "console-tcp = 'yes'\n"
	                      "console-tcp-base = 9700\n"
	                      "request-timeout = 5\n"
	                      "max-connections = 16\n",
	                      &conf, &err),
	                 0);
	assert_string_equal(conf.socket_path, "/tmp/x/xend.sock");
	assert_string_equal(conf.run_dir, "/tmp/x/run");
	assert_int_equal(conf.dom0_min_mem_mib, 512);
	assert_true(conf.console_tcp);
	assert_int_equal(conf.console_tcp_base, 9700);
	assert_int_equal(conf.request_timeout_s, 5);
	assert_int_equal(conf.max_connections, 16);
	conf_fini(&conf);
	for (size_t i = 0; conf_key_name(i); i++)
		assert_true(strlen(conf_key_name(i)) > 0);
}

static const struct {
	const char *text;
	const char *words;
} bad[] = {
	{ "vmm-path = '/bin/true'\ndom0-min-men = 5\n",
	  "xend.conf:2: unknown key 'dom0-min-men' (did you mean 'dom0-min-mem'?)" },
	{ "vmm-path = '/bin/true'\ndom0-min-mem = 'lots'\n", "xend.conf:2: dom0-min-mem" },
	{ "vmm-path = '/bin/true'\ndom0-min-mem = -1\n", "dom0-min-mem" },
	{ "vmm-path = '/bin/true'\nrun-dir = 'relative'\n", "run-dir: expected an absolute path" },
	{ "vmm-path = '/bin/true'\nstate-dir = 3\n", "state-dir" },
	{ "vmm-path = '/bin/true'\nconsole-tcp = 'maybe'\n", "console-tcp" },
	{ "vmm-path = '/bin/true'\nconsole-tcp-base = 80\n", "console-tcp-base" },
	{ "vmm-path = '/bin/true'\nrequest-timeout = 0\n", "request-timeout" },
	{ "vmm-path = '/no/such/xeno-vmm'\n",
	  "vmm-path: '/no/such/xeno-vmm' is not an executable" },
	{ "vmm-path = '/bin/true'\nxend-socket = '/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock'\n",
	  "xend-socket: expected a socket path of at most 107 bytes" },
	{ "vmm-path = '/bin/true\n", "xend.conf:1:" },
	{ "vmm-path = '/bin/true'\nrun-dir = '/a'\nrun-dir = '/b'\n", "run-dir" },
};

static void test_bad_files_say_where_and_what(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xend_conf conf;
		char *err = NULL;
		int r = load(bad[i].text, &conf, &err);

		if (r >= 0 || !err || !strstr(err, bad[i].words))
			fail_msg("%s: got %d '%s', expected '%s'", bad[i].text, r, err ? err : "",
			         bad[i].words);
		free(err);
	}
}

static void test_a_named_file_must_exist(void **state)
{
	struct xend_conf conf;
	char *err = NULL;

	(void)state;
	assert_int_equal(conf_load("/no/such/xend.conf", &conf, &err), -ENOENT);
	assert_non_null(err);
	assert_non_null(strstr(err, "/no/such/xend.conf"));
	free(err);
}

/* Every key is documented in xend.conf(5) and in the installed etc/xeno/xend.conf. */
static void test_every_key_is_documented(void **state)
{
	static char man[65536];
	char row[128];
	FILE *f = fopen(XEND_CONF_MAN, "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(man, 1, sizeof(man) - 1, f);
	fclose(f);
	man[n] = 0;
	for (size_t i = 0; conf_key_name(i); i++) {
		snprintf(row, sizeof(row), ".It Cm %s No = ", conf_key_name(i));
		if (!strstr(man, row))
			fail_msg("xend.conf(5) does not document '%s'", conf_key_name(i));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_with_only_vmm_path),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_files_say_where_and_what),
		cmocka_unit_test(test_a_named_file_must_exist),
		cmocka_unit_test(test_every_key_is_documented),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
