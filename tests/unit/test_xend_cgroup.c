// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's CPU weight and cap (src/xend/cgroup.c) and the CPU lists (src/common/cpulist.c).
 * The cgroup side writes into a directory laid out as each kind of host has it (cgroup v2's
 * cgroup.controllers at the root, or a v1 cpu hierarchy, or neither), so what is checked is
 * the mapping and the files written; the integration tests run the real thing in the test
 * host (cgroup v2) and measure CPU shares there.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cpulist.h"
#include "xend/cgroup.h"

static char root[64];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/xeno-cgroup-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int remove_root(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void touch(const char *rel)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void expect_file(const char *rel, const char *text)
{
	char path[256], buf[128] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s is missing", path);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	assert_string_equal(buf, text);
}

static void test_weight_mapping(void **state)
{
	(void)state;
	assert_int_equal(cgroup_weight_v2(256), 100);
	assert_int_equal(cgroup_weight_v2(512), 200);
	assert_int_equal(cgroup_weight_v2(1), 1);
	assert_int_equal(cgroup_weight_v2(65535), 10000);
	assert_int_equal(cgroup_shares_v1(256), 1024);
	assert_int_equal(cgroup_shares_v1(512), 2048);
	assert_int_equal(cgroup_shares_v1(1), 4);
	assert_int_equal(cgroup_shares_v1(65535), 262140);
}

static void test_v2_layout(void **state)
{
	struct cgroup_host h;
	char err[256], dir[PATH_MAX], want[PATH_MAX];

	(void)state;
	touch("cgroup.controllers");
	cgroup_host_init(&h, root);
	assert_string_equal(cgroup_mode_name(&h), "v2");
	assert_int_equal(cgroup_domain_prepare(&h, 3, 512, 50, dir, sizeof(dir), err, sizeof(err)),
	                 0);
	snprintf(want, sizeof(want), "%s/xeno/dom3", root);
	assert_string_equal(dir, want);
	expect_file("cgroup.subtree_control", "+cpu");
	expect_file("xeno/cgroup.subtree_control", "+cpu");
	expect_file("xeno/dom3/cpu.weight", "200");
	expect_file("xeno/dom3/cpu.max", "50000 100000");
	/* Changed at run time; no cap is "max". */
	assert_int_equal(cgroup_domain_set(&h, 3, 256, 0, err, sizeof(err)), 0);
	expect_file("xeno/dom3/cpu.weight", "100");
	expect_file("xeno/dom3/cpu.max", "max 100000");
	/* A cap above one CPU for a domain with several vCPUs. */
	assert_int_equal(cgroup_domain_set(&h, 3, 256, 150, err, sizeof(err)), 0);
	expect_file("xeno/dom3/cpu.max", "150000 100000");
}

static void test_v1_layout(void **state)
{
	struct cgroup_host h;
	char err[256], dir[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cpu", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	touch("cpu/cpu.shares");
	cgroup_host_init(&h, root);
	assert_string_equal(cgroup_mode_name(&h), "v1");
	assert_int_equal(cgroup_domain_prepare(&h, 7, 512, 25, dir, sizeof(dir), err, sizeof(err)),
	                 0);
	assert_non_null(strstr(dir, "/cpu/xeno/dom7"));
	expect_file("cpu/xeno/dom7/cpu.shares", "2048");
	expect_file("cpu/xeno/dom7/cpu.cfs_period_us", "100000");
	expect_file("cpu/xeno/dom7/cpu.cfs_quota_us", "25000");
	assert_int_equal(cgroup_domain_set(&h, 7, 256, 0, err, sizeof(err)), 0);
	expect_file("cpu/xeno/dom7/cpu.shares", "1024");
	expect_file("cpu/xeno/dom7/cpu.cfs_quota_us", "-1");
}

static void test_no_cpu_controller(void **state)
{
	struct cgroup_host h;
	char err[256], dir[PATH_MAX] = "x";

	(void)state;
	cgroup_host_init(&h, root);
	assert_string_equal(cgroup_mode_name(&h), "none");
	/* The defaults need nothing: the domain runs as it is, in no cgroup of ours. */
	assert_int_equal(cgroup_domain_prepare(&h, 1, CGROUP_WEIGHT_UNSET, 0, dir, sizeof(dir), err,
	                                       sizeof(err)),
	                 0);
	assert_string_equal(dir, "");
	assert_int_equal(cgroup_domain_prepare(&h, 1, 256, 0, dir, sizeof(dir), err, sizeof(err)),
	                 0);
	assert_string_equal(dir, "");
	assert_int_equal(cgroup_domain_prepare(&h, 1, 512, 0, dir, sizeof(dir), err, sizeof(err)),
	                 -EOPNOTSUPP);
	assert_non_null(strstr(err, "no cpu cgroup controller"));
	assert_int_equal(cgroup_domain_set(&h, 1, 256, 10, err, sizeof(err)), -EOPNOTSUPP);
}

/*
 * Domains given no weight nor cap get no cgroup; one given a weight later is moved into its
 * own, and one given the default weight at its start gets one too.
 */
static void test_default_domains_stay_out_until_given_a_weight(void **state)
{
	struct cgroup_host h;
	char err[256], dir[PATH_MAX] = "x", pid[16];

	(void)state;
	touch("cgroup.controllers");
	cgroup_host_init(&h, root);
	assert_int_equal(cgroup_domain_prepare(&h, 5, CGROUP_WEIGHT_UNSET, 0, dir, sizeof(dir), err,
	                                       sizeof(err)),
	                 0);
	assert_string_equal(dir, "");
	assert_false(cgroup_domain_exists(&h, 5));
	assert_int_equal(cgroup_domain_prepare(&h, 6, 256, 0, dir, sizeof(dir), err, sizeof(err)),
	                 0);
	assert_non_null(strstr(dir, "xeno/dom6"));
	expect_file("xeno/dom6/cpu.weight", "100");
	expect_file("xeno/dom6/cpu.max", "max 100000");
	assert_int_equal(cgroup_domain_attach(&h, 5, getpid(), 512, 0, err, sizeof(err)), 0);
	assert_true(cgroup_domain_exists(&h, 5));
	expect_file("xeno/dom5/cpu.weight", "200");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	expect_file("xeno/dom5/cgroup.procs", pid);
}

/* A cgroup tree we cannot write (here: "xeno" is a file): a cap is refused, saying where. */
static void test_an_unwritable_tree_refuses_only_real_settings(void **state)
{
	struct cgroup_host h;
	char err[256], dir[PATH_MAX] = "x";

	(void)state;
	touch("cgroup.controllers");
	touch("xeno");
	cgroup_host_init(&h, root);
	assert_true(cgroup_domain_prepare(&h, 4, 256, 10, dir, sizeof(dir), err, sizeof(err)) < 0);
	assert_string_equal(dir, "");
	assert_non_null(strstr(err, "xeno"));
}

static void test_cpu_lists(void **state)
{
	cpu_set_t set;
	unsigned int bad = 0;
	char buf[64];

	(void)state;
	assert_int_equal(cpulist_parse("0-3,6", 8, &set, NULL), 0);
	assert_string_equal(cpulist_format(&set, buf, sizeof(buf)), "0-3,6");
	assert_int_equal(CPU_COUNT(&set), 5);
	assert_int_equal(cpulist_parse("all", 2, &set, NULL), 0);
	assert_string_equal(cpulist_format(&set, buf, sizeof(buf)), "0-1");
	assert_int_equal(cpulist_parse("1", 2, &set, NULL), 0);
	assert_string_equal(cpulist_format(&set, buf, sizeof(buf)), "1");
	assert_int_equal(cpulist_parse("0,1,2,5-5", 8, &set, NULL), 0);
	assert_string_equal(cpulist_format(&set, buf, sizeof(buf)), "0-2,5");
	assert_int_equal(cpulist_parse("2", 2, &set, &bad), -ERANGE);
	assert_int_equal(bad, 2);
	assert_int_equal(cpulist_parse("0-9", 4, &set, &bad), -ERANGE);
	assert_int_equal(bad, 4);
	static const char *const bad_lists[] = { "",   "3-1", "x",   "1,",       ",1",   "1-",
		                                 "-1", "1 2", "1;2", "99999999", "0-1-2" };
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++)
		if (cpulist_parse(bad_lists[i], 8, &set, NULL) != -EINVAL)
			fail_msg("'%s' was taken as a CPU list", bad_lists[i]);
	CPU_ZERO(&set);
	assert_string_equal(cpulist_format(&set, buf, sizeof(buf)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weight_mapping),
		cmocka_unit_test_setup_teardown(test_v2_layout, make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_v1_layout, make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_no_cpu_controller, make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_default_domains_stay_out_until_given_a_weight,
		                                make_root, remove_root),
		cmocka_unit_test_setup_teardown(test_an_unwritable_tree_refuses_only_real_settings,
		                                make_root, remove_root),
		cmocka_unit_test(test_cpu_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
