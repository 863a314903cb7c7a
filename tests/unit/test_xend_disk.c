// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's disk sharing rule as a pure function (disk_share_check), the uses collected from
 * configs (stat, qcow2 backing chains, overlays still to be created), overlay creation, and
 * the guest's disk order by vdev name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "devices/block/image_create.h"
#include "xend/conf.h"
#include "xend/disk.h"
#include "xend/domain_config.h"
#include "xend/supervise.h"

static struct disk_use use(const char *domain, ino_t ino, enum disk_mode mode)
{
	struct disk_use u = {
		.domain = domain, .path = "/x.img", .dev = 1, .ino = ino, .mode = mode
	};

	return u;
}

static void test_readers_share(void **state)
{
	struct disk_use held[] = { use("a", 5, DISK_MODE_RO), use("b", 5, DISK_MODE_RO) };
	struct disk_use want = use("c", 5, DISK_MODE_RO);
	char err[512] = "";

	(void)state;
	assert_int_equal(disk_share_check(held, 2, &want, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void test_writer_refused_names_every_holder(void **state)
{
	struct disk_use held[] = { use("web", 5, DISK_MODE_RO), use("other", 6, DISK_MODE_RW),
		                   use("db", 5, DISK_MODE_RO) };
	struct disk_use want = use("new", 5, DISK_MODE_RW);
	char err[512];

	(void)state;
	assert_int_equal(disk_share_check(held, 3, &want, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "disk '/x.img' is in use by domain 'web' (read-only), domain "
	                         "'db' (read-only); use 'w!' to share it writable anyway");
}

static void test_reader_refused_while_written(void **state)
{
	struct disk_use held[] = { use("web", 5, DISK_MODE_RW) };
	struct disk_use forced[] = { use("web", 5, DISK_MODE_FORCE) };
	struct disk_use want = use("new", 5, DISK_MODE_RO);
	char err[512];

	(void)state;
	assert_int_equal(disk_share_check(held, 1, &want, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "domain 'web' (read-write)"));
	assert_int_equal(disk_share_check(forced, 1, &want, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "(read-write with w!)"));
	/* A second plain writer is refused too. */
	want.mode = DISK_MODE_RW;
	assert_int_equal(disk_share_check(held, 1, &want, err, sizeof(err)), -EBUSY);
}

static void test_force_overrides(void **state)
{
	struct disk_use held[] = { use("web", 5, DISK_MODE_RW), use("db", 5, DISK_MODE_RO) };
	struct disk_use want = use("new", 5, DISK_MODE_FORCE);
	char err[512] = "";

	(void)state;
	assert_int_equal(disk_share_check(held, 2, &want, err, sizeof(err)), 0);
}

static void test_other_files_and_devices_do_not_count(void **state)
{
	struct disk_use held[] = { use("web", 5, DISK_MODE_RW) };
	struct disk_use want = use("new", 5, DISK_MODE_RW);
	char err[512];

	(void)state;
	want.dev = 2; /* same inode number on another file system */
	assert_int_equal(disk_share_check(held, 1, &want, err, sizeof(err)), 0);
	assert_int_equal(disk_share_check(NULL, 0, &want, err, sizeof(err)), 0);
}

static void test_backing_file_is_a_read_only_use(void **state)
{
	struct disk_use held[] = { use("web", 5, DISK_MODE_RO) };
	struct disk_use want = use("new", 5, DISK_MODE_RW);
	char err[512];

	(void)state;
	held[0].path = "/base.img";
	held[0].via = "/web.qcow2";
	want.path = "/base.img";
	assert_int_equal(disk_share_check(held, 1, &want, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "disk '/base.img' is in use by domain 'web' (read-only, the "
	                         "backing file of '/web.qcow2'); use 'w!' to share it writable "
	                         "anyway");
}

static void test_long_messages_are_cut_not_overrun(void **state)
{
	struct disk_use held[40];
	struct disk_use want = use("new", 5, DISK_MODE_RW);
	char err[64];

	(void)state;
	for (size_t i = 0; i < 40; i++)
		held[i] = use("a-domain-with-a-long-name", 5, DISK_MODE_RO);
	assert_int_equal(disk_share_check(held, 40, &want, err, sizeof(err)), -EBUSY);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* ---- With files ---- */

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/xeno-test-disk-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *at(const char *name)
{
	static char buf[4][256];
	static int n;
	char *b = buf[n++ % 4];

	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

static void test_uses_follow_backing_chains(void **state)
{
	struct domain_disk web_disks[1] = { { 0 } }, new_disks[1] = { { 0 } };
	struct domain_config web = { 0 }, cfg = { 0 };
	struct disk_uses held = { 0 }, want = { 0 };
	char err[512], base[256], ov[256];
	bool created[1];

	(void)state;
	snprintf(base, sizeof(base), "%s", at("base.img"));
	snprintf(ov, sizeof(ov), "%s", at("web.qcow2"));
	assert_int_equal(image_create(base, "raw", 1 << 20, NULL, err, sizeof(err)), 0);
	/* A relative backing name resolves against the overlay's directory. */
	assert_int_equal(image_create(ov, "qcow2", 0, "base.img", err, sizeof(err)), 0);
	web_disks[0].path = ov;
	web_disks[0].vdev = (char *)"xvda";
	web_disks[0].format = DOMAIN_DISK_QCOW2;
	web.disks = web_disks;
	web.nr_disks = 1;
	assert_int_equal(disk_uses_add(&held, &web, "web", false, err, sizeof(err)), 0);
	assert_int_equal(held.n, 2);
	assert_int_equal(held.v[1].mode, DISK_MODE_RO);
	assert_string_equal(held.v[1].via, ov);

	/* Writing the base of web's overlay is refused. */
	new_disks[0].path = base;
	new_disks[0].vdev = (char *)"xvda";
	cfg.disks = new_disks;
	cfg.nr_disks = 1;
	assert_int_equal(disk_uses_add(&want, &cfg, "new", true, err, sizeof(err)), 0);
	assert_int_equal(disk_uses_check(&held, &want, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "domain 'web' (read-only, the backing file of"));
	disk_uses_fini(&want);

	/* A new overlay on the same base reads it: allowed, and created by disk_prepare. */
	new_disks[0].path = at("new.qcow2");
	new_disks[0].format = DOMAIN_DISK_QCOW2;
	new_disks[0].backing = base;
	assert_int_equal(disk_uses_add(&want, &cfg, "new", true, err, sizeof(err)), 0);
	assert_int_equal(want.n, 1);
	assert_int_equal(want.v[0].mode, DISK_MODE_RO);
	assert_int_equal(disk_uses_check(&held, &want, err, sizeof(err)), 0);
	assert_int_equal(disk_prepare(&cfg, created, err, sizeof(err)), 0);
	assert_true(created[0]);
	assert_int_equal(access(new_disks[0].path, F_OK), 0);
	/* An existing overlay is the domain's disk: never made again. */
	assert_int_equal(disk_prepare(&cfg, created, err, sizeof(err)), 0);
	assert_false(created[0]);
	created[0] = true;
	disk_unprepare(&cfg, created);
	assert_int_equal(access(new_disks[0].path, F_OK), -1);
	disk_uses_fini(&want);
	disk_uses_fini(&held);
}

static void test_bad_disks_are_clear_errors(void **state)
{
	struct domain_disk disks[1] = { { 0 } };
	struct domain_config cfg = { 0 };
	struct disk_uses want = { 0 };
	char err[512];
	bool created[1];
	FILE *f;

	(void)state;
	disks[0].path = at("missing.img");
	disks[0].vdev = (char *)"xvda";
	cfg.disks = disks;
	cfg.nr_disks = 1;
	assert_int_equal(disk_uses_add(&want, &cfg, "d", true, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing.img': No such file or directory"));
	/* Other domains' missing files are skipped: their VMMs have them open. */
	assert_int_equal(disk_uses_add(&want, &cfg, "d", false, err, sizeof(err)), 0);
	assert_int_equal(want.n, 0);

	/* An overlay on a base that is not there. */
	disks[0].format = DOMAIN_DISK_QCOW2;
	disks[0].backing = at("no-base.img");
	assert_int_equal(disk_uses_add(&want, &cfg, "d", true, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "backing file"));
	assert_int_equal(disk_prepare(&cfg, created, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot create an overlay on"));
	assert_int_equal(access(disks[0].path, F_OK), -1);

	/* A truncated qcow2 header is not followed (the VMM refuses it with its message). */
	f = fopen(at("trunc.qcow2"), "w");
	assert_non_null(f);
	fwrite("QFI\xfb\0\0\0\3", 1, 8, f);
	fclose(f);
	disks[0].path = at("trunc.qcow2");
	disks[0].backing = NULL;
	assert_int_equal(disk_uses_add(&want, &cfg, "d", true, err, sizeof(err)), 0);
	assert_int_equal(want.n, 1);
	disk_uses_fini(&want);
}

static void test_guest_order_follows_vdev_names(void **state)
{
	static char names[][8] = { "xvdc", "hdb", "xvda", "xvdaa", "xvdz", "sda2", "sda1" };
	static const char *const sorted[] = {
		"sda1", "sda2", "xvda", "hdb", "xvdc", "xvdz", "xvdaa"
	};
	struct domain_disk disks[7] = { { 0 } };
	struct domain_config cfg = { 0 };
	size_t order[7];

	(void)state;
	for (size_t i = 0; i < 7; i++)
		disks[i].vdev = names[i];
	cfg.disks = disks;
	cfg.nr_disks = 7;
	disk_order(&cfg, order);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(disks[order[i]].vdev, sorted[i]);
}

static int config_of(const char *json, struct domain_config *cfg)
{
	struct json_object *o = json_tokener_parse(json);
	char err[256];
	int r;

	assert_non_null(o);
	r = domain_config_from_json(o, cfg, err, sizeof(err));
	json_object_put(o);
	return r;
}

static const char three_disks[] =
        "{\"name\": \"w\", \"kernel\": \"/k\", \"disks\": ["
        "{\"path\": \"/b.img\", \"vdev\": \"xvdb\", \"readonly\": true},"
        "{\"path\": \"/s.img\", \"vdev\": \"xvdc\", \"force\": true, \"cache\": \"unsafe\"},"
        "{\"path\": \"/a.qcow2\", \"vdev\": \"xvda\", \"format\": \"qcow2\","
        " \"backing\": \"/base.img\"}]}";

static void test_vmm_gets_disks_in_vdev_order(void **state)
{
	struct xend_conf conf = { 0 };
	struct vmm_paths paths = {
		.control = "/c", .console = "/t", .status = "/s", .log = "/l", .console_log = "/cl"
	};
	struct domain_config cfg;
	char **argv = NULL;
	size_t n = 0;
	const char *disks[3];
	bool rng = false;

	(void)state;
	conf.vmm_path = (char *)"/usr/bin/xeno-vmm";
	assert_int_equal(config_of(three_disks, &cfg), 0);
	assert_int_equal(supervise_argv(&conf, &cfg, NULL, &paths, false, NULL, &argv), 0);
	for (char **a = argv; *a; a++)
		if (!strcmp(*a, "--disk") && n < 3)
			disks[n++] = a[1];
		else if (!strcmp(*a, "--rng"))
			rng = true;
	assert_int_equal(n, 3);
	assert_true(rng); /* every domain gets an entropy source */
	assert_string_equal(disks[0], "/a.qcow2,format=qcow2,serial=xvda");
	assert_string_equal(disks[1], "/b.img,format=raw,serial=xvdb,ro");
	assert_string_equal(disks[2], "/s.img,format=raw,serial=xvdc,lock=off,cache=unsafe");
	supervise_argv_free(argv);
	domain_config_fini(&cfg);
}

static void test_block_json_matches_counters_to_disks(void **state)
{
	static const char stats[] =
	        "{\"devices\": [{\"name\": \"virtio-blk0\", \"reads\": 10, \"read_bytes\": 4096,"
	        " \"writes\": 3, \"write_bytes\": 1536, \"flushes\": 1, \"errors\": 0},"
	        " {\"name\": \"virtio-net0\", \"rx_packets\": 5},"
	        " {\"name\": \"virtio-blk1\", \"reads\": 99, \"read_bytes\": \"bad\"}]}";
	struct json_object *st = json_tokener_parse(stats), *o, *disks, *d, *v;
	struct domain_config cfg;

	(void)state;
	assert_non_null(st);
	assert_int_equal(config_of(three_disks, &cfg), 0);
	o = disk_block_json(&cfg, st);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "disks", &disks));
	assert_int_equal(json_object_array_length(disks), 3);
	d = json_object_array_get_idx(disks, 0);
	assert_true(json_object_object_get_ex(d, "vdev", &v));
	assert_string_equal(json_object_get_string(v), "xvda");
	assert_true(json_object_object_get_ex(d, "read_requests", &v));
	assert_int_equal(json_object_get_int64(v), 10);
	assert_true(json_object_object_get_ex(d, "write_bytes", &v));
	assert_int_equal(json_object_get_int64(v), 1536);
	assert_true(json_object_object_get_ex(d, "backing", &v));
	assert_string_equal(json_object_get_string(v), "/base.img");
	d = json_object_array_get_idx(disks, 1);
	assert_true(json_object_object_get_ex(d, "mode", &v));
	assert_string_equal(json_object_get_string(v), "r");
	assert_true(json_object_object_get_ex(d, "read_requests", &v));
	assert_int_equal(json_object_get_int64(v), 99);
	assert_true(json_object_object_get_ex(d, "read_bytes", &v));
	assert_int_equal(json_object_get_int64(v), 0); /* not a number: 0, not a crash */
	d = json_object_array_get_idx(disks, 2);
	assert_true(json_object_object_get_ex(d, "mode", &v));
	assert_string_equal(json_object_get_string(v), "w!");
	assert_true(json_object_object_get_ex(d, "read_requests", &v));
	assert_int_equal(json_object_get_int64(v), 0); /* no virtio-blk2 */
	json_object_put(o);
	/* Without a VMM: the same rows, zero counters. */
	o = disk_block_json(&cfg, NULL);
	assert_non_null(o);
	json_object_put(o);
	json_object_put(st);
	domain_config_fini(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_share),
		cmocka_unit_test(test_writer_refused_names_every_holder),
		cmocka_unit_test(test_reader_refused_while_written),
		cmocka_unit_test(test_force_overrides),
		cmocka_unit_test(test_other_files_and_devices_do_not_count),
		cmocka_unit_test(test_backing_file_is_a_read_only_use),
		cmocka_unit_test(test_long_messages_are_cut_not_overrun),
		cmocka_unit_test_setup_teardown(test_uses_follow_backing_chains, make_dir,
		                                remove_dir),
		cmocka_unit_test_setup_teardown(test_bad_disks_are_clear_errors, make_dir,
		                                remove_dir),
		cmocka_unit_test(test_guest_order_follows_vdev_names),
		cmocka_unit_test(test_vmm_gets_disks_in_vdev_order),
		cmocka_unit_test(test_block_json_matches_counters_to_disks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
