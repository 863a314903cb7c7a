// SPDX-License-Identifier: GPL-2.0-only
/* xeno-vmm's command line: every option, its limits, and the messages for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "vmm/config.h"

static char err[256];

static int parse(struct vm_config *cfg, int argc, char **argv)
{
	err[0] = 0;
	return vm_config_parse(argc, argv, cfg, err, sizeof(err));
}

#define PARSE(cfg, ...)                                                     \
	({                                                                  \
		char *argv_[] = { "xeno-vmm", __VA_ARGS__ };                \
		parse(cfg, (int)(sizeof(argv_) / sizeof(argv_[0])), argv_); \
	})

static void test_defaults(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "/k"), VM_CONFIG_RUN);
	assert_string_equal(cfg.kernel_path, "/k");
	assert_null(cfg.initrd_path);
	assert_string_equal(cfg.cmdline, "");
	assert_string_equal(cfg.name, "xeno");
	assert_int_equal(cfg.mem_mib, VM_MEM_MIB_DEFAULT);
	assert_int_equal(cfg.vcpus, 1);
	assert_null(cfg.console_path);
	assert_null(cfg.control_path);
	assert_null(cfg.console_log_path);
	assert_null(cfg.status_path);
	assert_false(cfg.start_paused);
	assert_false(cfg.rng);
}

static void test_all_options(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel=/k", "--initrd", "/i", "--cmdline", "console=ttyS0",
	                       "--memory", "512", "--vcpus=4", "--name", "web-1", "--control",
	                       "/run/c.sock", "--console", "/run/con.sock", "--log", "/l",
	                       "--debug", "--console-log", "/var/log/c.log", "--status-file=/s",
	                       "--paused", "--rng"),
	                 VM_CONFIG_RUN);
	assert_string_equal(cfg.initrd_path, "/i");
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_int_equal(cfg.mem_mib, 512);
	assert_int_equal(cfg.vcpus, 4);
	assert_string_equal(cfg.name, "web-1");
	assert_string_equal(cfg.control_path, "/run/c.sock");
	assert_string_equal(cfg.console_path, "/run/con.sock");
	assert_string_equal(cfg.log_path, "/l");
	assert_true(cfg.debug);
	assert_string_equal(cfg.console_log_path, "/var/log/c.log");
	assert_string_equal(cfg.status_path, "/s");
	assert_true(cfg.start_paused);
	assert_true(cfg.rng);
}

static void test_console_stdio(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--console", "stdio"), VM_CONFIG_RUN);
	assert_null(cfg.console_path);
}

static void test_help_and_version(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--help"), VM_CONFIG_HELP);
	assert_int_equal(PARSE(&cfg, "--version"), VM_CONFIG_VERSION);
}

struct bad_case {
	char *opt, *value;
	const char *message;
};

static const struct bad_case bad_cases[] = {
	{ "--memory", "0", "--memory '0': expected MiB from 16 to 1048576" },
	{ "--memory", "-5", "--memory '-5': expected MiB from 16 to 1048576" },
	{ "--memory", "12abc", "--memory '12abc': expected MiB from 16 to 1048576" },
	{ "--memory", "99999999999999999999", "--memory '99999999999999999999': expected MiB" },
	{ "--vcpus", "0", "--vcpus '0': expected a count from 1 to 240" },
	{ "--vcpus", "1000", "--vcpus '1000': expected a count from 1 to 240" },
	{ "--vcpus", "", "--vcpus '': expected a count" },
	{ "--name", "a b", "--name 'a b': expected 1 to 64 letters" },
	{ "--name", "", "--name '': expected" },
	{ "--kernel", "", "--kernel: empty path" },
	{ "--console", "", "--console '': expected 'stdio' or a socket path" },
	{ "--console-log", "", "--console-log: empty path" },
	{ "--status-file", "", "--status-file: empty path" },
	{ "--disk", "", "--disk '': expected PATH[,ro][,serial=S]..." },
	{ "--disk", ",ro", "--disk ',ro': expected PATH" },
	{ "--disk", "/d,format=vmdk",
	  "--disk '/d,format=vmdk': bad format value 'vmdk' "
	  "(expected raw or qcow2)" },
	{ "--disk", "/d,cache=directsync",
	  "--disk '/d,cache=directsync': bad cache value "
	  "'directsync' (expected writeback, none or unsafe)" },
	{ "--disk", "/d,lock=maybe",
	  "--disk '/d,lock=maybe': bad lock value 'maybe' (expected "
	  "on or off)" },
	{ "--disk", "/d,serial=123456789012345678901",
	  "--disk '/d,serial=123456789012345678901': "
	  "bad serial value" },
	{ "--disk", "/d,serial=", "--disk '/d,serial=': bad serial value '' (expected at most" },
	{ "--disk", "/d,rox",
	  "--disk '/d,rox': unknown option 'rox' (expected ro, rw, serial=S, "
	  "format=raw|qcow2, cache=writeback|none|unsafe or lock=on|off)" },
	{ "--disk", "/d,,ro", "--disk '/d,,ro': unknown option ''" },
};

static void test_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct vm_config cfg;
		char *argv[] = { "xeno-vmm", "--kernel", "/k", bad_cases[i].opt,
			         bad_cases[i].value };

		assert_int_equal(parse(&cfg, 5, argv), -EINVAL);
		if (strncmp(err, bad_cases[i].message, strlen(bad_cases[i].message)) != 0)
			fail_msg("case %zu: got '%s', expected '%s...'", i, err,
			         bad_cases[i].message);
	}
}

static void test_structural_errors(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--memory", "64"), -EINVAL);
	assert_string_equal(err, "--kernel PATH is required");
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--frobnicate"), -EINVAL);
	assert_string_equal(err, "unknown option '--frobnicate' (see --help)");
	assert_int_equal(PARSE(&cfg, "--kernel"), -EINVAL);
	assert_string_equal(err, "--kernel needs an argument (PATH)");
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--paused=yes"), -EINVAL);
	assert_string_equal(err, "--paused takes no argument");
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "stray"), -EINVAL);
	assert_string_equal(err, "unexpected argument 'stray' (options start with --)");
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--debug=yes"), -EINVAL);
	assert_string_equal(err, "--debug takes no argument");
}

static void test_disk_options(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--disk", "/a.img", "--disk",
	                       "/b.qcow2,ro,serial=xvdb,format=qcow2,cache=none,lock=off",
	                       "--disk=/c,cache=unsafe,format=raw,rw,lock=on"),
	                 VM_CONFIG_RUN);
	assert_int_equal(cfg.nr_disks, 3);
	assert_string_equal(cfg.disks[0].path, "/a.img");
	assert_null(cfg.disks[0].format); /* probed */
	assert_int_equal(cfg.disks[0].cache, BLK_CACHE_WRITEBACK);
	assert_false(cfg.disks[0].read_only);
	assert_false(cfg.disks[0].no_lock);
	assert_string_equal(cfg.disks[0].serial, "");
	assert_string_equal(cfg.disks[1].path, "/b.qcow2");
	assert_true(cfg.disks[1].read_only);
	assert_string_equal(cfg.disks[1].serial, "xvdb");
	assert_string_equal(cfg.disks[1].format, "qcow2");
	assert_int_equal(cfg.disks[1].cache, BLK_CACHE_NONE);
	assert_true(cfg.disks[1].no_lock);
	assert_string_equal(cfg.disks[2].format, "raw");
	assert_int_equal(cfg.disks[2].cache, BLK_CACHE_UNSAFE);
	assert_false(cfg.disks[2].read_only);
	assert_false(cfg.disks[2].no_lock);
}

/* Issue 7 and 8: restoring needs no kernel; the restore and balloon options need their base. */
static void test_restore_and_memory_target(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--restore", "/s", "--restore-copy", "--restore-no-verify"),
	                 VM_CONFIG_RUN);
	assert_string_equal(cfg.restore_path, "/s");
	assert_null(cfg.kernel_path);
	assert_true(cfg.restore_copy);
	assert_true(cfg.restore_no_verify);
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--restore-copy"), -EINVAL);
	assert_string_equal(err, "--restore-copy and --restore-no-verify need --restore");
	assert_int_equal(PARSE(&cfg, "--restore="), -EINVAL);

	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--memory", "512", "--balloon",
	                       "--memory-target", "256"),
	                 VM_CONFIG_RUN);
	assert_int_equal(cfg.mem_target_mib, 256);
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--memory-target", "64"), -EINVAL);
	assert_string_equal(err, "--memory-target needs --balloon and at most --memory MiB (128)");
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--balloon", "--memory-target", "256"),
	                 -EINVAL);
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--memory-target", "8"), -EINVAL);
}

static void test_cmdline_limit(void **state)
{
	static char long_cmdline[VM_CMDLINE_MAX + 2];
	struct vm_config cfg;

	(void)state;
	memset(long_cmdline, 'x', VM_CMDLINE_MAX + 1);
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--cmdline", long_cmdline), -EINVAL);
	long_cmdline[VM_CMDLINE_MAX] = 0;
	assert_int_equal(PARSE(&cfg, "--kernel", "/k", "--cmdline", long_cmdline), VM_CONFIG_RUN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_console_stdio),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_structural_errors),
		cmocka_unit_test(test_cmdline_limit),
		cmocka_unit_test(test_disk_options),
		cmocka_unit_test(test_restore_and_memory_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
