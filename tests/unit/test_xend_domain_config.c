// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain config as xend checks it: defaults, every field's type and range, nested disks
 * and vifs, the JSON round trip used by records, ${vmid} substitution and deep copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "xend/domain_config.h"

static int from_text(const char *text, struct domain_config *cfg, char *err, size_t errlen)
{
	struct json_object *obj = json_tokener_parse(text);
	int r;

	assert_non_null(obj);
	r = domain_config_from_json(obj, cfg, err, errlen);
	json_object_put(obj);
	return r;
}

static void test_defaults(void **state)
{
	struct domain_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(
	        from_text("{\"name\": \"web\", \"kernel\": \"/k\"}", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "web");
	assert_string_equal(cfg.kernel, "/k");
	assert_null(cfg.ramdisk);
	assert_null(cfg.cmdline);
	assert_int_equal(cfg.memory_mib, 128);
	assert_int_equal(cfg.maxmem_mib, 128);
	assert_int_equal(cfg.vcpus, 1);
	assert_int_equal(cfg.on_poweroff, DOMAIN_ACTION_DESTROY);
	assert_int_equal(cfg.on_reboot, DOMAIN_ACTION_RESTART);
	assert_int_equal(cfg.on_crash, DOMAIN_ACTION_DESTROY);
	assert_int_equal(cfg.cpu, -1);
	assert_int_equal(cfg.cpu_weight, 0); /* not given */
	assert_int_equal(domain_config_cpu_weight(&cfg), 256);
	assert_false(cfg.start_paused);
	domain_config_fini(&cfg);
}

static const struct {
	const char *json;
	const char *words;
} bad[] = {
	{ "{\"kernel\": \"/k\"}", "field 'name' is required" },
	{ "{\"name\": \"a\"}", "field 'kernel' is required" },
	{ "{\"name\": 1, \"kernel\": \"/k\"}", "field 'name': expected a string, not int" },
	{ "{\"name\": \"\", \"kernel\": \"/k\"}", "field 'name': expected 1 to 64" },
	{ "{\"name\": \"a/b\", \"kernel\": \"/k\"}", "field 'name'" },
	{ "{\"name\": \"a\", \"kernel\": \"k\"}", "field 'kernel': expected an absolute path" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\\n\"}", "control character 0x0a" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\\u0000x\"}", "control character 0x00" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"ramdisk\": 3}", "field 'ramdisk'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": 95}",
	  "expected an integer from 96 to 1048576 (the guest kernel" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": 0}", "from 96" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": -5}", "from 96" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": 99999999999999999999}",
	  "from 96" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": 128.0}", "expected an integer" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": \"128\"}", "expected an integer" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"memory_mib\": 256, \"maxmem_mib\": 128}",
	  "less than memory_mib" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vcpus\": 0}", "field 'vcpus'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vcpus\": 241}", "from 1 to 240" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vcpus\": null}", "not null" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"on_reboot\": \"again\"}", "field 'on_reboot'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"start_paused\": 1}", "expected true or false" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"cpu\": -2}", "field 'cpu'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"cpu_cap\": 200}", "more than 1 vCPUs" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": {}}",
	  "field 'disks': expected a list" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [7]}", "field 'disks[0]'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{}]}", "'disks[0].path' is required" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a,b\"}]}", "','" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"mode\": \"w\"}]}",
	  "unknown field 'mode'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"vdev\": \"X!\"}]}",
	  "'disks[0].vdev'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"readonly\": "
	  "\"yes\"}]}",
	  "'disks[0].readonly'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"format\": "
	  "\"vhd\"}]}",
	  "'disks[0].format': expected \"raw\" or \"qcow2\"" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"format\": 2}]}",
	  "'disks[0].format'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"devtype\": "
	  "\"floppy\"}]}",
	  "'disks[0].devtype': expected \"disk\" or \"cdrom\"" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"devtype\": "
	  "\"cdrom\", \"readonly\": false}]}",
	  "a cdrom is read-only" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"force\": "
	  "\"yes\"}]}",
	  "'disks[0].force': expected true or false" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"force\": "
	  "true, \"readonly\": true}]}",
	  "only a writable disk can be forced" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"backing\": "
	  "\"/b\"}]}",
	  "'disks[0].backing': needs format \"qcow2\"" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"backing\": "
	  "\"b\", \"format\": \"qcow2\"}]}",
	  "'disks[0].backing': expected an absolute path" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"backing\": "
	  "\"/b\", \"format\": \"qcow2\", \"readonly\": true}]}",
	  "'disks[0].backing': needs a writable disk" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"cache\": "
	  "\"sometimes\"}]}",
	  "'disks[0].cache': expected \"writeback\", \"none\" or \"unsafe\"" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"script\": "
	  "\"block\"}]}",
	  "unknown field 'script' (expected path, vdev, readonly, format, force, devtype, backing "
	  "or cache)" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vifs\": [{\"mac\": \"01:00:00:00:00:00\"}]}",
	  "unicast MAC" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vifs\": [{\"mac\": \"00:16:3e:00:00:0g\"}]}",
	  "MAC" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vifs\": [{\"ip\": [\"10.0.0.300\"]}]}",
	  "'vifs[0].ip[0]': '10.0.0.300' is not an IPv4 address" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vifs\": [{\"script\": \"vif-bridge\"}]}",
	  "unknown field 'script'" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"ipaddr\": \"10.0.0.1\"}", "expected a list" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"vcpu\": 2}",
	  "unknown field 'vcpu' (did you mean "
	  "'vcpus'?)" },
	{ "{\"name\": \"a\", \"kernel\": \"/k\", \"zzzzzz\": 2}", "unknown field 'zzzzzz'" },
};

static void test_bad_configs_name_the_field(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct domain_config cfg;
		int r;

		err[0] = 0;
		r = from_text(bad[i].json, &cfg, err, sizeof(err));
		if (r != -EINVAL || !strstr(err, bad[i].words))
			fail_msg("%s: got %d '%s', expected '%s'", bad[i].json, r, err,
			         bad[i].words);
	}
}

static const char full[] =
        "{\"name\": \"web-${vmid}\", \"kernel\": \"/boot/vmlinuz\", \"ramdisk\": \"/boot/initrd\","
        " \"cmdline\": \"console=ttyS0 xeno.id=${vmid}\", \"memory_mib\": 256, \"maxmem_mib\": 512,"
        " \"vcpus\": 2, \"disks\": [{\"path\": \"/srv/${vmid}.img\", \"vdev\": \"xvda\","
        " \"readonly\": true}, {\"path\": \"/srv/b.img\"}], \"vifs\": [{\"mac\": "
        "\"00:16:3e:00:00:01\", \"ip\": [\"10.0.0.3\", \"10.0.0.4\"]}, {}], \"ipaddr\": "
        "[\"10.0.0.3\"], \"on_poweroff\": \"preserve\", \"on_reboot\": \"destroy\", \"on_crash\":"
        " \"restart\", \"cpu\": 1, \"cpu_weight\": 512, \"cpu_cap\": 50, \"start_paused\": true}";

static void test_round_trip_through_json(void **state)
{
	struct domain_config a, b, c;
	struct json_object *ja, *jb;
	char err[256];

	(void)state;
	assert_int_equal(from_text(full, &a, err, sizeof(err)), 0);
	assert_int_equal(a.nr_disks, 2);
	assert_string_equal(a.disks[1].vdev, "xvdb");
	assert_true(a.disks[0].readonly);
	assert_int_equal(a.nr_vifs, 2);
	assert_int_equal(a.vifs[0].nr_ip, 2);
	assert_null(a.vifs[1].mac);
	ja = domain_config_to_json(&a);
	assert_int_equal(domain_config_from_json(ja, &b, err, sizeof(err)), 0);
	jb = domain_config_to_json(&b);
	assert_string_equal(json_object_to_json_string(ja), json_object_to_json_string(jb));
	assert_int_equal(domain_config_copy(&c, &b), 0);
	json_object_put(jb);
	jb = domain_config_to_json(&c);
	assert_string_equal(json_object_to_json_string(ja), json_object_to_json_string(jb));
	json_object_put(ja);
	json_object_put(jb);
	domain_config_fini(&a);
	domain_config_fini(&b);
	domain_config_fini(&c);
}

static void test_disk_fields(void **state)
{
	static const char text[] =
	        "{\"name\": \"s\", \"kernel\": \"/k\", \"disks\": ["
	        "{\"path\": \"/o-${vmid}.qcow2\", \"vdev\": \"xvda\", \"format\": \"qcow2\","
	        " \"backing\": \"/base-${vmid}\"},"
	        "{\"path\": \"/shared.img\", \"vdev\": \"xvdb\", \"force\": true,"
	        " \"cache\": \"none\"},"
	        "{\"path\": \"/cd.iso\", \"vdev\": \"hdc\", \"devtype\": \"cdrom\"},"
	        "{\"path\": \"/plain.img\"}]}";
	struct domain_config a, b;
	struct json_object *ja, *jb;
	char err[256];

	(void)state;
	assert_int_equal(from_text(text, &a, err, sizeof(err)), 0);
	assert_int_equal(a.disks[0].format, DOMAIN_DISK_QCOW2);
	assert_string_equal(a.disks[0].backing, "/base-${vmid}");
	assert_true(a.disks[1].force);
	assert_false(a.disks[1].readonly);
	assert_int_equal(a.disks[1].cache, DOMAIN_CACHE_NONE);
	assert_int_equal(a.disks[0].cache, DOMAIN_CACHE_WRITEBACK);
	assert_string_equal(domain_disk_cache_name(a.disks[1].cache), "none");
	/* A cdrom is read-only without saying so. */
	assert_true(a.disks[2].cdrom);
	assert_true(a.disks[2].readonly);
	assert_int_equal(a.disks[3].format, DOMAIN_DISK_RAW);
	assert_null(a.disks[3].backing);
	assert_false(a.disks[3].force || a.disks[3].cdrom || a.disks[3].readonly);
	assert_string_equal(domain_disk_format_name(a.disks[0].format), "qcow2");
	/* Records keep every field: a restarted xend applies the same rules. */
	ja = domain_config_to_json(&a);
	assert_int_equal(domain_config_from_json(ja, &b, err, sizeof(err)), 0);
	jb = domain_config_to_json(&b);
	assert_string_equal(json_object_to_json_string(ja), json_object_to_json_string(jb));
	json_object_put(ja);
	json_object_put(jb);
	assert_int_equal(domain_config_substitute(&b, 7, err, sizeof(err)), 0);
	assert_string_equal(b.disks[0].path, "/o-7.qcow2");
	assert_string_equal(b.disks[0].backing, "/base-7");
	domain_config_fini(&a);
	domain_config_fini(&b);
}

static void test_vmid_is_substituted_everywhere(void **state)
{
	struct domain_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(from_text(full, &cfg, err, sizeof(err)), 0);
	assert_int_equal(domain_config_substitute(&cfg, 42, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "web-42");
	assert_string_equal(cfg.cmdline, "console=ttyS0 xeno.id=42");
	assert_string_equal(cfg.disks[0].path, "/srv/42.img");
	domain_config_fini(&cfg);
}

static void test_names_after_substitution(void **state)
{
	struct domain_config cfg;
	char err[256];

	(void)state;
	assert_true(domain_name_valid("web.1_a-b"));
	assert_false(domain_name_valid("123"));
	assert_false(domain_name_valid("Domain-0"));
	assert_false(domain_name_valid(""));
	assert_false(domain_name_valid("${vmid}x"));
	/* A name that is only ${vmid} becomes all digits: refused once substituted. */
	assert_int_equal(
	        from_text("{\"name\": \"${vmid}\", \"kernel\": \"/k\"}", &cfg, err, sizeof(err)),
	        0);
	assert_int_equal(domain_config_substitute(&cfg, 3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not all digits"));
	domain_config_fini(&cfg);
	/* 64 characters with ${vmid} counted as one may grow past 64. */
	assert_int_equal(
	        from_text("{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                  "aaaaaaaaaaaa${vmid}\", \"kernel\": \"/k\"}",
	                  &cfg, err, sizeof(err)),
	        0);
	assert_int_equal(domain_config_substitute(&cfg, 12345, err, sizeof(err)), -EINVAL);
	domain_config_fini(&cfg);
}

static void test_actions_have_names(void **state)
{
	(void)state;
	assert_string_equal(domain_action_name(DOMAIN_ACTION_DESTROY), "destroy");
	assert_string_equal(domain_action_name(DOMAIN_ACTION_RESTART), "restart");
	assert_string_equal(domain_action_name(DOMAIN_ACTION_PRESERVE), "preserve");
	assert_string_equal(domain_action_name((enum domain_action)99), "destroy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_configs_name_the_field),
		cmocka_unit_test(test_round_trip_through_json),
		cmocka_unit_test(test_disk_fields),
		cmocka_unit_test(test_vmid_is_substituted_everywhere),
		cmocka_unit_test(test_names_after_substitution),
		cmocka_unit_test(test_actions_have_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
