// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's network planning without touching the host: pool allocation (order, skipping what
 * is in use, exhaustion), address checks and conflicts, vif specs, the guest's command-line
 * words, the record form, the nftables scripts, xend.conf's network keys and root_password
 * hashing.  Nothing here needs privileges or a network namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xend/conf.h"
#include "xend/domain_config.h"
#include "xend/net_nft.h"
#include "xend/net_plan.h"
#include "xend/net_pool.h"

/* A conf with the network defaults of xend.conf(5). */
static void conf_defaults(struct xend_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->net_route = true;
	c->ip_pool = (char *)"10.0.0.0/24";
	c->gateway = (char *)"10.0.0.1";
	c->linklocal_base = (char *)"169.254.1.0";
	c->nat_uplink = (char *)"";
	c->ssh_port_base = 2200;
	c->pool_net = 0x0a000000;
	c->pool_prefix = 24;
	c->gateway_addr = 0x0a000001;
	c->linklocal_addr = 0xa9fe0100;
}

/* Other domains' addresses, as the domain table would answer. */
struct others {
	uint32_t addr[300];
	size_t n;
};

static const char *owner(void *opaque, uint32_t addr)
{
	struct others *o = opaque;

	for (size_t i = 0; o && i < o->n; i++)
		if (o->addr[i] == addr)
			return "web";
	return NULL;
}

static void config(const char *json, struct domain_config *cfg)
{
	struct json_object *o = json_tokener_parse(json);
	char err[256];

	assert_non_null(o);
	if (domain_config_from_json(o, cfg, err, sizeof(err)) < 0)
		fail_msg("config %s: %s", json, err);
	json_object_put(o);
}

static int plan(const char *json, unsigned int id, struct others *o, struct net_plan *p, char *err,
                size_t errlen)
{
	struct xend_conf conf;
	struct domain_config cfg;
	int r;

	conf_defaults(&conf);
	config(json, &cfg);
	r = net_plan_make(&conf, &cfg, id, owner, o, p, err, errlen);
	domain_config_fini(&cfg);
	return r;
}

static char *fmt(uint32_t a)
{
	static char buf[16];

	return net_addr_format(a, buf);
}

static void test_pool_takes_the_lowest_free_address(void **state)
{
	struct others o = { { 0x0a000002, 0x0a000004 }, 2 };
	struct net_plan p;
	char err[256];

	(void)state;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{},{}]}", 7, &o, &p, err,
	                      sizeof(err)),
	                 0);
	assert_int_equal(p.nr_vifs, 2);
	assert_string_equal(fmt(p.vifs[0].addrs[0]), "10.0.0.3"); /* .1 gateway, .2 taken */
	assert_string_equal(fmt(p.vifs[1].addrs[0]), "10.0.0.5"); /* .4 taken */
	assert_string_equal(p.vifs[0].tap, "vif7.0");
	assert_string_equal(p.vifs[1].tap, "vif7.1");
	assert_string_equal(p.vifs[0].mac, "00:16:3e:00:00:38");
	assert_string_equal(fmt(p.linklocal), "169.254.1.7");
	net_plan_fini(&p);
}

static void test_pool_exhausted(void **state)
{
	struct others o = { .n = 0 };
	struct net_plan p;
	char err[256];

	(void)state;
	for (uint32_t a = 0x0a000002; a < 0x0a0000ff; a++)
		o.addr[o.n++] = a;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{}]}", 1, &o, &p, err,
	                      sizeof(err)),
	                 -ENOSPC);
	assert_non_null(strstr(err, "pool 10.0.0.0/24 exhausted"));
}

static void test_given_addresses_and_conflicts(void **state)
{
	static const struct {
		const char *json;
		int r;
		const char *msg;
	} cases[] = {
		{ "\"ipaddr\":[\"10.0.0.9\"]", -EEXIST, "owned by domain 'web'" },
		{ "\"ipaddr\":[\"10.0.0.1\"]", -EINVAL, "Domain-0's gateway" },
		{ "\"ipaddr\":[\"169.254.1.5\"]", -EINVAL, "link-local" },
		{ "\"ipaddr\":[\"127.0.0.1\"]", -EINVAL, "loopback" },
		{ "\"ipaddr\":[\"224.0.0.1\"]", -EINVAL, "multicast" },
		{ "\"ipaddr\":[\"10.0.0.255\"]", -EINVAL, "broadcast" },
		{ "\"ipaddr\":[\"10.0.0.0\"]", -EINVAL, "network address" },
		{ "\"ipaddr\":[\"10.0.0.7\",\"10.0.0.7\"]", -EINVAL, "given twice" },
	};
	struct others o = { { 0x0a000009 }, 1 };
	char json[256], err[256];
	struct net_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{}],%s}",
		         cases[i].json);
		err[0] = 0;
		assert_int_equal(plan(json, 3, &o, &p, err, sizeof(err)), cases[i].r);
		if (!strstr(err, cases[i].msg))
			fail_msg("%s: '%s' lacks '%s'", cases[i].json, err, cases[i].msg);
	}
	/* Outside the pool is fine: it is routed all the same. */
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{}],\"ipaddr\":"
	                      "[\"192.168.5.5\"]}",
	                      3, &o, &p, err, sizeof(err)),
	                 0);
	assert_string_equal(fmt(p.vifs[0].addrs[0]), "192.168.5.5");
	net_plan_fini(&p);
}

static void test_ipaddr_goes_to_vif0_unless_a_vif_names_it(void **state)
{
	struct net_plan p;
	char err[256];

	(void)state;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"ipaddr\":[\"10.0.0.5\","
	                      "\"10.0.0.9\"],\"vifs\":[{},{\"ip\":[\"10.0.0.9\"]}]}",
	                      2, NULL, &p, err, sizeof(err)),
	                 0);
	assert_int_equal(p.vifs[0].nr_addrs, 1);
	assert_string_equal(fmt(p.vifs[0].addrs[0]), "10.0.0.5");
	assert_int_equal(p.vifs[1].nr_addrs, 1);
	assert_string_equal(fmt(p.vifs[1].addrs[0]), "10.0.0.9");
	net_plan_fini(&p);
}

static void test_bridged_and_linklocal_off(void **state)
{
	struct net_plan p;
	char err[256];

	(void)state;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{\"bridge\":\"br0\","
	                      "\"mac\":\"00:16:3E:AA:00:01\"}]}",
	                      2, NULL, &p, err, sizeof(err)),
	                 0);
	assert_string_equal(p.vifs[0].bridge, "br0");
	assert_string_equal(p.vifs[0].mac, "00:16:3e:aa:00:01");
	assert_int_equal(p.vifs[0].nr_addrs, 0); /* bridged: nothing from the pool */
	assert_int_equal(p.linklocal, 0);        /* the link-local network is routed */
	net_plan_fini(&p);
	assert_int_equal(
	        plan("{\"name\":\"a\",\"kernel\":\"/k\",\"linklocal\":false,\"vifs\":[{}]}", 2,
	             NULL, &p, err, sizeof(err)),
	        0);
	assert_int_equal(p.linklocal, 0);
	net_plan_fini(&p);
	/* No vif, no network. */
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\"}", 2, NULL, &p, err, sizeof(err)),
	                 0);
	assert_int_equal(p.nr_vifs, 0);
}

static void test_cmdline_words(void **state)
{
	struct xend_conf conf;
	struct domain_config cfg;
	struct net_plan p;
	char err[256], *line = NULL;

	(void)state;
	conf_defaults(&conf);
	config("{\"name\":\"web\",\"kernel\":\"/k\",\"cmdline\":\"console=ttyS0 quiet\","
	       "\"ipaddr\":[\"10.0.0.5\",\"10.0.0.6\"],\"vifs\":[{},{\"ip\":[\"10.0.0.9\"]}],"
	       "\"root_hash\":\"$6$salt$hash\",\"ssh_authorized_keys\":[\"ssh-ed25519 AAAA u@h\"]}",
	       &cfg);
	assert_int_equal(net_plan_make(&conf, &cfg, 1, owner, NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(net_plan_cmdline(&p, &conf, &cfg, 4095, &line), 0);
	assert_string_equal(line, "console=ttyS0 quiet ip=10.0.0.5::10.0.0.1:255.255.255.255:web:"
	                          "eth0:off LINKLOCAL=169.254.1.1 xeno.addr=eth0:10.0.0.6 "
	                          "xeno.addr=eth1:10.0.0.9 xeno.root_hash=$6$salt$hash "
	                          "xeno.ssh_key=c3NoLWVkMjU1MTkgQUFBQSB1QGg");
	/* Applied again (a restart): the words are there, nothing is added twice. */
	free(cfg.cmdline);
	cfg.cmdline = line;
	line = NULL;
	assert_int_equal(net_plan_cmdline(&p, &conf, &cfg, 4095, &line), 0);
	assert_string_equal(line, cfg.cmdline);
	free(line);
	/* The user's own ip= wins. */
	free(cfg.cmdline);
	cfg.cmdline = strdup("ip=dhcp");
	assert_int_equal(net_plan_cmdline(&p, &conf, &cfg, 4095, &line), 0);
	assert_null(strstr(line, "ip=10.0.0.5"));
	free(line);
	assert_int_equal(net_plan_cmdline(&p, &conf, &cfg, 20, &line), -E2BIG);
	assert_true(net_cmdline_has("a LINKLOCAL=1 b", "LINKLOCAL"));
	assert_false(net_cmdline_has("xip=1", "ip"));
	net_plan_fini(&p);
	domain_config_fini(&cfg);
}

static void test_record_round_trip(void **state)
{
	struct net_plan p, q;
	struct json_object *o;
	char err[256];

	(void)state;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{\"ip\":[\"10.0.0.8\","
	                      "\"10.0.0.9\"]},{\"bridge\":\"br0\"}]}",
	                      4, NULL, &p, err, sizeof(err)),
	                 0);
	o = net_plan_to_json(&p);
	assert_int_equal(net_plan_from_json(o, &q), 0);
	assert_int_equal(q.nr_vifs, 2);
	assert_int_equal(q.vifs[0].nr_addrs, 2);
	assert_int_equal(q.vifs[0].addrs[1], p.vifs[0].addrs[1]);
	assert_string_equal(q.vifs[1].bridge, "br0");
	assert_string_equal(q.vifs[1].tap, "vif4.1");
	assert_int_equal(q.linklocal, p.linklocal);
	assert_true(net_plan_owns(&q, 0x0a000009));
	json_object_put(o);
	net_plan_fini(&q);
	o = json_tokener_parse("{\"vifs\":[{\"tap\":\"vif1.0\",\"mac\":\"x\",\"addresses\":"
	                       "[\"10.0.0.300\"]}]}");
	assert_int_equal(net_plan_from_json(o, &q), -EBADMSG);
	json_object_put(o);
	net_plan_fini(&p);
}

static void test_nft_scripts(void **state)
{
	struct net_nat_redirect rd = { 2201, 0xa9fe0101 };
	uint32_t src = 0x0a000002;
	struct net_nft_shared s = { true, "", &rd, 1, &src, 1 };
	struct net_plan p;
	char err[256], *t;

	(void)state;
	assert_int_equal(plan("{\"name\":\"a\",\"kernel\":\"/k\",\"vifs\":[{}]}", 1, NULL, &p, err,
	                      sizeof(err)),
	                 0);
	t = net_nft_domain_text(1, &p);
	assert_non_null(strstr(t, "add chain netdev xeno_d1 vif_0 { type filter hook ingress "
	                          "device \"vif1.0\" priority -500; policy drop; }\n"
	                          "flush chain netdev xeno_d1 vif_0\n"));
	assert_non_null(strstr(t, "add element netdev xeno_d1 addrs_0 { 169.254.1.1 }"));
	assert_non_null(strstr(t, "ether saddr != 00:16:3e:00:00:08 counter name \"spoof_0\" "
	                          "drop"));
	assert_non_null(strstr(t, "arp saddr ether 00:16:3e:00:00:08 arp saddr ip @addrs_0 "
	                          "accept"));
	/* Idempotent: nothing is added without a flush first, no rule outside a flushed chain. */
	assert_null(strstr(t, "insert"));
	free(t);
	net_plan_fini(&p);
	t = net_nft_shared_text(&s);
	assert_non_null(strstr(t, "add element ip xeno_nat ssh { 2201 : 169.254.1.1 }"));
	assert_non_null(strstr(t, "ct status dnat accept\nadd rule inet xeno forward oifname != "
	                          "\"vif*\" ip saddr 169.254.0.0/16 drop"));
	assert_non_null(strstr(t, "iifname \"vif*\" oifname != \"vif*\" accept"));
	free(t);
	s.nat = false;
	t = net_nft_shared_text(&s);
	assert_non_null(strstr(t, "add table ip xeno_nat\ndelete table ip xeno_nat\n"));
	assert_non_null(strstr(t, "iifname \"vif*\" oifname != \"vif*\" drop"));
	free(t);
}

static void test_root_password_is_hashed(void **state)
{
	struct domain_config cfg;
	struct json_object *o;
	const char *text;

	(void)state;
	config("{\"name\":\"a\",\"kernel\":\"/k\",\"root_password\":\"hunter2\"}", &cfg);
	assert_non_null(cfg.root_hash);
	assert_memory_equal(cfg.root_hash, "$6$", 3);
	o = domain_config_to_json(&cfg);
	text = json_object_to_json_string(o);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "\"root_hash\""));
	assert_null(strstr(text, "root_password"));
	json_object_put(o);
	assert_true(cfg.linklocal);
	domain_config_fini(&cfg);
}

/* xend.conf: the network keys' defaults and errors (file:line, the key, what was expected). */
static void test_conf_network_keys(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "ip-pool = '10.0.0.1/24'\n", ":2: ip-pool: '10.0.0.1/24' (expected a network" },
		{ "ip-pool = '10.0.0.0/31'\n", ":2: ip-pool:" },
		{ "network = 'bridge'\n",
		  ":2: network: 'bridge' (expected \"route\" or \"none\")" },
		{ "linklocal-base = '10.0.0.1'\n", ":2: linklocal-base:" },
		{ "gateway = '10.0.0.255'\n",
		  ":2: gateway: '10.0.0.255' (expected a host address" },
		{ "nat-uplink = 'eth0/1'\n", ":2: nat-uplink:" },
	};
	char path[] = "/tmp/xend-net-conf-XXXXXX", *err = NULL, text[256];
	struct xend_conf c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(path, "w");

		snprintf(text, sizeof(text), "vmm-path = '/bin/true'\n%s",
		         i < sizeof(bad) / sizeof(bad[0]) ? bad[i].text
		                                          : "ip-pool = '192.168.7.0/28'\n");
		fputs(text, f);
		fclose(f);
		if (i == sizeof(bad) / sizeof(bad[0])) {
			assert_int_equal(conf_load(path, &c, &err), 0);
			assert_true(c.net_route);
			assert_string_equal(c.gateway, "192.168.7.1");
			assert_int_equal(c.pool_prefix, 28);
			assert_int_equal(c.ssh_port_base, 2200);
			assert_false(c.nat);
			assert_string_equal(c.linklocal_base, "169.254.1.0");
			conf_fini(&c);
			break;
		}
		assert_int_equal(conf_load(path, &c, &err), -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: '%s' lacks '%s'", bad[i].text, err, bad[i].msg);
		free(err);
		err = NULL;
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_takes_the_lowest_free_address),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_given_addresses_and_conflicts),
		cmocka_unit_test(test_ipaddr_goes_to_vif0_unless_a_vif_names_it),
		cmocka_unit_test(test_bridged_and_linklocal_off),
		cmocka_unit_test(test_cmdline_words),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_nft_scripts),
		cmocka_unit_test(test_root_password_is_hashed),
		cmocka_unit_test(test_conf_network_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
