// SPDX-License-Identifier: GPL-2.0-only
/*
 * What xm prints, golden-checked: xl's state flags, the `xm list` and `xm consoles` tables,
 * the `xm create -n` dump, `xm info`, `xm dmesg`, and libxeno's parser of domain records
 * (good records, and answers that are not records).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xm/output.h"
#include "xm/xm.h"

/* Output of one formatter call into a string. */
struct capture {
	char *text;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static char *capture_end(struct capture *c)
{
	fclose(c->f);
	return c->text;
}

static void test_state_flags(void **state)
{
	static const struct {
		enum xeno_domain_state state;
		bool blocked;
		const char *flags;
	} table[] = {
		{ XENO_DOMAIN_RUNNING, false, "r-----" },
		{ XENO_DOMAIN_RUNNING, true, "-b----" },
		{ XENO_DOMAIN_PAUSED, false, "--p---" },
		{ XENO_DOMAIN_PAUSED, true, "--p---" },
		{ XENO_DOMAIN_SHUTDOWN, false, "---s--" },
		{ XENO_DOMAIN_CRASHED, false, "----c-" },
		{ XENO_DOMAIN_DYING, false, "-----d" },
		{ XENO_DOMAIN_UNKNOWN, true, "------" },
		{ (enum xeno_domain_state)99, false, "------" },
	};
	char flags[7];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		output_state_flags(table[i].state, table[i].blocked, flags);
		assert_string_equal(flags, table[i].flags);
	}
}

static const struct xeno_domain_info domains[] = {
	{ .id = 0,
	  .name = "Domain-0",
	  .state = XENO_DOMAIN_RUNNING,
	  .memory_mib = 24000,
	  .vcpus = 2,
	  .cpu_time_s = 1234.56,
	  .console_tcp_port = -1 },
	{ .id = 3,
	  .name = "web",
	  .state = XENO_DOMAIN_PAUSED,
	  .memory_mib = 128,
	  .vcpus = 1,
	  .cpu_time_s = 1.52,
	  .console_log = (char[]){ "/var/log/xeno/console/web.log" },
	  .console_tcp_port = 9603 },
	{ .id = 12,
	  .name = "a-rather-long-domain-name",
	  .state = XENO_DOMAIN_CRASHED,
	  .memory_mib = 1048576,
	  .vcpus = 240,
	  .cpu_time_s = 0,
	  .console_tcp_port = -1 },
};

static void test_list_table(void **state)
{
	struct capture c;
	char *text;

	(void)state;
	output_domain_list(capture_start(&c), domains, 3);
	text = capture_end(&c);
	assert_string_equal(text,
	                    "Name                         ID Mem(MiB) VCPUs State    Time(s)\n"
	                    "Domain-0                      0    24000     2 r-----    1234.6\n"
	                    "web                           3      128     1 --p---       1.5\n"
	                    "a-rather-long-domain-name    12  1048576   240 ----c-       0.0\n");
	free(text);

	/* The Name column is never narrower than its heading. */
	output_domain_list(capture_start(&c), &domains[1], 1);
	text = capture_end(&c);
	assert_string_equal(text, "Name        ID Mem(MiB) VCPUs State    Time(s)\n"
	                          "web          3      128     1 --p---       1.5\n");
	free(text);
}

static void test_console_table(void **state)
{
	struct capture c;
	char *text;

	(void)state;
	output_console_list(capture_start(&c), domains, 3);
	text = capture_end(&c);
	assert_string_equal(text,
	                    "Name                         ID   TCP  Console log\n"
	                    "web                           3  9603  /var/log/xeno/console/web.log\n"
	                    "a-rather-long-domain-name    12     -  -\n");
	free(text);
}

static void test_dryrun(void **state)
{
	static const char config[] =
	        "{\"name\":\"web\",\"kernel\":\"/var/cache/xeno/guest/vmlinuz\","
	        "\"ramdisk\":\"/var/cache/xeno/guest/initrd.img\","
	        "\"cmdline\":\"console=ttyS0 quiet ip=10.0.0.3:1.2.3.4:10.0.0.1:255.0.0.0::eth0:off\","
	        "\"memory_mib\":256,\"maxmem_mib\":256,\"vcpus\":1,"
	        "\"disks\":[{\"path\":\"/srv/web.img\",\"vdev\":\"xvda\",\"readonly\":false},"
	        "{\"path\":\"/srv/iso\",\"vdev\":\"xvdb\",\"readonly\":true}],"
	        "\"vifs\":[{\"mac\":\"00:16:3e:00:00:01\",\"ip\":[\"10.0.0.3\"]}],"
	        "\"ipaddr\":[\"10.0.0.3\",\"10.0.0.4\"]}";
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	assert_int_equal(output_dryrun(capture_start(&c), config, &error), 0);
	text = capture_end(&c);
	assert_string_equal(text, "VM name            : \"web\"\n"
	                          "VM image           : \"/var/cache/xeno/guest/vmlinuz\"\n"
	                          "VM ramdisk         : \"/var/cache/xeno/guest/initrd.img\"\n"
	                          "VM memory (MB)     : \"256\"\n"
	                          "VM IP address(es)  : \"10.0.0.3; 10.0.0.4\"\n"
	                          "VM block device(s) : \"/srv/web.img,xvda,w; /srv/iso,xvdb,r\"\n"
	                          "VM cmdline         : \"console=ttyS0 quiet "
	                          "ip=10.0.0.3:1.2.3.4:10.0.0.1:255.0.0.0::eth0:off\"\n");
	free(text);
}

static void test_dryrun_storage_disks(void **state)
{
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	assert_int_equal(
	        output_dryrun(capture_start(&c),
	                      "{\"name\":\"s\",\"kernel\":\"/k\",\"disks\":["
	                      "{\"path\":\"/o.qcow2\",\"vdev\":\"xvda\",\"readonly\":false,"
	                      "\"format\":\"qcow2\",\"backing\":\"/base.img\"},"
	                      "{\"path\":\"/s.img\",\"vdev\":\"xvdb\",\"readonly\":false,"
	                      "\"format\":\"raw\",\"force\":true},"
	                      "{\"path\":\"/cd.iso\",\"vdev\":\"hdc\",\"readonly\":true,"
	                      "\"format\":\"raw\",\"devtype\":\"cdrom\"}]}",
	                      &error),
	        0);
	text = capture_end(&c);
	assert_non_null(strstr(text,
	                       "VM block device(s) : \"/o.qcow2,qcow2,xvda,w,backing=/base.img; "
	                       "/s.img,xvdb,w!; /cd.iso,hdc,r,devtype=cdrom\"\n"));
	free(text);
}

static void test_dryrun_minimal_and_bad(void **state)
{
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	/* Without ipaddr the vifs' addresses are shown; absent keys print as "". */
	assert_int_equal(output_dryrun(capture_start(&c),
	                               "{\"name\":\"domain-${vmid}\",\"kernel\":\"/k\","
	                               "\"vifs\":[{\"ip\":[\"10.1.1.1\"]},{\"mac\":\"x\"}]}",
	                               &error),
	                 0);
	text = capture_end(&c);
	assert_string_equal(text, "VM name            : \"domain-${vmid}\"\n"
	                          "VM image           : \"/k\"\n"
	                          "VM ramdisk         : \"\"\n"
	                          "VM memory (MB)     : \"\"\n"
	                          "VM IP address(es)  : \"10.1.1.1\"\n"
	                          "VM block device(s) : \"\"\n"
	                          "VM cmdline         : \"\"\n");
	free(text);

	assert_int_equal(output_dryrun(capture_start(&c), "[1,2]", &error), -EINVAL);
	free(capture_end(&c));
	assert_string_equal(error, "the domain config is not a JSON object");
	free(error);
	error = NULL;
	assert_int_equal(output_dryrun(capture_start(&c), "{\"name\":", &error), -EINVAL);
	free(capture_end(&c));
	assert_non_null(strstr(error, "the domain config is not JSON"));
	free(error);
}

static void test_host_info(void **state)
{
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	assert_int_equal(output_host_info(capture_start(&c),
	                                  "{\"hostname\":\"h\",\"cpus\":2,\"memory_mib\":24000}",
	                                  "{\"version\":\"0.1.0\",\"api\":1}", &error),
	                 0);
	text = capture_end(&c);
	assert_string_equal(text, "hostname               : h\n"
	                          "cpus                   : 2\n"
	                          "memory_mib             : 24000\n"
	                          "xend_version           : 0.1.0\n"
	                          "xend_api               : 1\n"
	                          "xm_version             : " XENO_VERSION "\n");
	free(text);

	assert_int_equal(output_host_info(capture_start(&c), "nonsense", NULL, &error), -EINVAL);
	free(capture_end(&c));
	assert_non_null(error);
	free(error);
}

static void test_log(void **state)
{
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	assert_int_equal(output_log(capture_start(&c), "{\"lines\":[\"one\",\"two\"]}", &error), 0);
	text = capture_end(&c);
	assert_string_equal(text, "one\ntwo\n");
	free(text);

	assert_int_equal(output_log(capture_start(&c), "{\"lines\":3}", &error), -EINVAL);
	free(capture_end(&c));
	assert_string_equal(error, "xend's \"lines\" is not a JSON array");
	free(error);
}

static void test_json_pretty(void **state)
{
	struct capture c;
	char *text, *error = NULL;

	(void)state;
	assert_int_equal(
	        output_json_pretty(capture_start(&c), "[{\"id\":0,\"p\":\"/a/b\"}]", &error), 0);
	text = capture_end(&c);
	assert_string_equal(text, "[\n  {\n    \"id\": 0,\n    \"p\": \"/a/b\"\n  }\n]\n");
	free(text);
}

static void test_block_list(void **state)
{
	static const char json[] =
	        "{\"disks\": [{\"vdev\": \"xvda\", \"guest_device\": \"vda\", \"path\": "
	        "\"/var/lib/xeno/images/web-root.qcow2\", \"format\": \"qcow2\", \"mode\": \"w\","
	        " \"devtype\": \"disk\", \"backing\": \"/base.img\", \"read_requests\": 120, "
	        "\"read_bytes\": 4915200, \"write_requests\": 7, \"write_bytes\": 28672, "
	        "\"flush_requests\": 2, \"errors\": 0},"
	        " {\"vdev\": \"xvdb\", \"guest_device\": \"vdb\", \"path\": \"/srv/shared.img\","
	        " \"format\": \"raw\", \"mode\": \"r\", \"devtype\": \"disk\", \"backing\": null,"
	        " \"read_requests\": 0, \"read_bytes\": 0, \"write_requests\": 0, "
	        "\"write_bytes\": 0}]}";
	static const char expected[] =
	        "Vdev   Dev  Path                                     Format Mode    Rd-reqs     "
	        "Rd-bytes    Wr-reqs     Wr-bytes\n"
	        "xvda   vda  /var/lib/xeno/images/web-root.qcow2      qcow2  w           120      "
	        "4915200          7        28672\n"
	        "xvdb   vdb  /srv/shared.img                          raw    r             0         "
	        "   0          0            0\n";
	struct capture c;
	char *error = NULL;

	(void)state;
	assert_int_equal(output_block_list(capture_start(&c), json, &error), 0);
	assert_string_equal(capture_end(&c), expected);
	free(c.text);
	/* A domain without disks: the header alone. */
	assert_int_equal(output_block_list(capture_start(&c), "{\"disks\": []}", &error), 0);
	assert_non_null(strstr(capture_end(&c), "Vdev"));
	free(c.text);
	assert_int_equal(output_block_list(capture_start(&c), "{\"disks\": 3}", &error), -EINVAL);
	capture_end(&c);
	free(c.text);
	assert_non_null(error);
	free(error);
	error = NULL;
	assert_int_equal(output_block_list(capture_start(&c), "[1", &error), -EINVAL);
	capture_end(&c);
	free(c.text);
	free(error);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t bytes;
	} table[] = {
		{ "1048576", 0, 1048576 },
		{ "512M", 0, 512ULL << 20 },
		{ "10G", 0, 10ULL << 30 },
		{ "10g", 0, 10ULL << 30 },
		{ "64KiB", 0, 65536 },
		{ "2T", 0, 2ULL << 40 },
		{ "1b", 0, 1 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "-1G", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "10X", -EINVAL, 0 },
		{ "10 G", -EINVAL, 0 },
		{ "99999999999T", -ERANGE, 0 },
		{ "999999999999999999999", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint64_t bytes = 0;
		int r = xm_parse_size(table[i].text, &bytes);

		if (r != table[i].r || (r == 0 && bytes != table[i].bytes))
			fail_msg("'%s': got %d, %llu", table[i].text, r, (unsigned long long)bytes);
	}
}

static void test_record_parse(void **state)
{
	struct xeno_domain_info info;
	char *error = NULL;

	(void)state;
	assert_int_equal(
	        xeno_domain_info_parse(
	                "{\"id\":3,\"name\":\"web\",\"state\":\"running\",\"blocked\":true,"
	                "\"memory_mib\":128,"
	                "\"maxmem_mib\":256,\"vcpus\":2,\"cpu_time_s\":1.5,\"start_time\":17.25,"
	                "\"vmm_pid\":4242,\"console\":{\"log\":\"/l/web.log\",\"tcp_port\":9603},"
	                "\"config\":{}}",
	                &info, &error),
	        0);
	assert_int_equal(info.id, 3);
	assert_string_equal(info.name, "web");
	assert_int_equal(info.state, XENO_DOMAIN_RUNNING);
	assert_true(info.blocked);
	assert_int_equal(info.memory_mib, 128);
	assert_int_equal(info.maxmem_mib, 256);
	assert_int_equal(info.vcpus, 2);
	assert_true(info.cpu_time_s == 1.5);
	assert_true(info.start_time == 17.25);
	assert_int_equal(info.vmm_pid, 4242);
	assert_string_equal(info.console_log, "/l/web.log");
	assert_int_equal(info.console_tcp_port, 9603);
	xeno_domain_info_fini(&info);

	/* Domain-0: no VMM, no console; an unknown state is not an error. */
	assert_int_equal(
	        xeno_domain_info_parse("{\"id\":0,\"name\":\"Domain-0\",\"state\":\"zzz\"}", &info,
	                               &error),
	        0);
	assert_int_equal(info.state, XENO_DOMAIN_UNKNOWN);
	assert_false(info.blocked);
	assert_null(info.console_log);
	assert_int_equal(info.console_tcp_port, -1);
	assert_string_equal(xeno_domain_state_name(info.state), "unknown");
	xeno_domain_info_fini(&info);
}

static void test_record_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"name\":\"x\"}",
		"{\"id\":\"3\",\"name\":\"x\"}",
		"{\"id\":-1,\"name\":\"x\"}",
		"{\"id\":1e20,\"name\":\"x\"}",
		"{\"id\":1}",
		"{\"id\":1,\"name\":7}",
	};
	struct xeno_domain_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *error = NULL;

		assert_int_equal(xeno_domain_info_parse(bad[i], &info, &error), -EINVAL);
		assert_non_null(error);
		free(error);
		xeno_domain_info_fini(&info);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_flags),
		cmocka_unit_test(test_list_table),
		cmocka_unit_test(test_console_table),
		cmocka_unit_test(test_dryrun),
		cmocka_unit_test(test_dryrun_minimal_and_bad),
		cmocka_unit_test(test_host_info),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_json_pretty),
		cmocka_unit_test(test_dryrun_storage_disks),
		cmocka_unit_test(test_block_list),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_record_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
