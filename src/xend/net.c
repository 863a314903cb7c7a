// SPDX-License-Identifier: GPL-2.0-only
/*
 * Networking of domains, in Xen's "vif-route" model: one TAP vif<id>.<n> per interface,
 * Domain-0's gateway and link-local addresses (/32, no prefix route) on each routed vif, a
 * /32 host route per domain address, proxy ARP, forwarding; a netdev table per domain that
 * drops what the domain did not send as itself.  Main thread only.  Every step is
 * idempotent, so set-up, teardown and rebuild may run any number of times.
 */
#include "xend/net.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "xend/conf.h"
#include "xend/domain.h"
#include "xend/net_nft.h"
#include "xend/net_pool.h"
#include "xend/net_route.h"
#include "xend/net_tap.h"
#include "xend/store.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- Planning ---- */

struct owner_ctx {
	struct domain_table *t;
	const struct domain *self;
};

static const char *owner(void *opaque, uint32_t addr)
{
	struct owner_ctx *c = opaque;

	for (struct domain *d = c->t->list; d; d = d->next)
		if (d != c->self && net_plan_owns(&d->net, addr))
			return d->cfg.name;
	return NULL;
}

int net_domain_plan(struct domain_table *t, struct domain *dom, char *err, size_t errlen)
{
	struct owner_ctx c = { t, dom };
	struct net_plan plan;
	char *cmdline = NULL;
	int r;

	r = net_plan_make(t->conf, &dom->cfg, dom->id, owner, &c, &plan, err, errlen);
	if (r < 0)
		return r;
	r = net_plan_cmdline(&plan, t->conf, &dom->cfg, DOMAIN_CMDLINE_MAX, &cmdline);
	if (r < 0) {
		net_plan_fini(&plan);
		return r == -E2BIG ? errmsg(err, errlen, -EINVAL,
		                            "the kernel command line is longer than %u bytes with "
		                            "the network's words",
		                            DOMAIN_CMDLINE_MAX)
		                   : errmsg(err, errlen, r, "out of memory");
	}
	free(dom->cfg.cmdline);
	dom->cfg.cmdline = cmdline;
	net_plan_fini(&dom->net);
	dom->net = plan;
	return 0;
}

/* Another domain's name if it has a vif with mac; NULL if none. */
static const char *mac_owner(struct owner_ctx *c, const char *mac)
{
	for (struct domain *d = c->t->list; d; d = d->next)
		for (size_t i = 0; d != c->self && i < d->net.nr_vifs; i++)
			if (strcasecmp(d->net.vifs[i].mac, mac) == 0)
				return d->cfg.name;
	return NULL;
}

static int held(const char *what, const char *value, const char *by, char *err, size_t errlen)
{
	return errmsg(err, errlen, -EEXIST,
	              "the saved domain's %s %s is in use by domain '%s' (the guest keeps its "
	              "addresses: destroy or save '%s' first)",
	              what, value, by, by);
}

/* Copies vif n of saved, renamed for dom, if no other domain holds its MAC or addresses. */
static int restore_vif(struct owner_ctx *c, const struct net_vif *sv, size_t n, struct net_vif *v,
                       char *err, size_t errlen)
{
	const char *who = mac_owner(c, sv->mac);
	char a[16];

	if (who)
		return held("MAC", sv->mac, who, err, errlen);
	for (size_t i = 0; i < sv->nr_addrs; i++) {
		who = owner(c, sv->addrs[i]);
		if (who)
			return held("address", net_addr_format(sv->addrs[i], a), who, err, errlen);
	}
	if (snprintf(v->tap, sizeof(v->tap), "vif%u.%zu", c->self->id, n) >= (int)sizeof(v->tap))
		return errmsg(err, errlen, -EINVAL, "domain id %u is too large for a TAP name",
		              c->self->id);
	memcpy(v->mac, sv->mac, sizeof(v->mac));
	memcpy(v->bridge, sv->bridge, sizeof(v->bridge));
	if (!sv->nr_addrs)
		return 0;
	v->addrs = malloc(sv->nr_addrs * sizeof(*v->addrs));
	if (!v->addrs)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	memcpy(v->addrs, sv->addrs, sv->nr_addrs * sizeof(*v->addrs));
	v->nr_addrs = sv->nr_addrs;
	return 0;
}

int net_domain_plan_restored(struct domain_table *t, struct domain *dom,
                             const struct net_plan *saved, char *err, size_t errlen)
{
	struct owner_ctx c = { t, dom };
	struct net_plan plan;
	const char *who;
	char a[16];
	int r = 0;

	memset(&plan, 0, sizeof(plan));
	if (saved->nr_vifs > NET_VIFS_MAX)
		return errmsg(err, errlen, -EINVAL, "the saved domain has %zu vifs (at most %u)",
		              saved->nr_vifs, NET_VIFS_MAX);
	who = saved->linklocal ? owner(&c, saved->linklocal) : NULL;
	if (who)
		return held("link-local address", net_addr_format(saved->linklocal, a), who, err,
		            errlen);
	plan.linklocal = saved->linklocal;
	for (size_t n = 0; r == 0 && n < saved->nr_vifs; n++) {
		r = restore_vif(&c, &saved->vifs[n], n, &plan.vifs[n], err, errlen);
		plan.nr_vifs = n + 1;
	}
	if (r < 0) {
		net_plan_fini(&plan);
		return r;
	}
	net_plan_fini(&dom->net);
	dom->net = plan;
	return 0;
}

/* ---- One domain ---- */

static struct nl_sock *nl(struct domain_table *t, char *err, size_t errlen)
{
	int r;

	if (!t->nl) {
		r = net_route_open(&t->nl);
		if (r < 0) {
			errmsg(err, errlen, r, "cannot open rtnetlink: %s", strerror(-r));
			return NULL;
		}
	}
	return t->nl;
}

static int vif_sysctls(const char *tap)
{
	char path[96];
	int r;

	snprintf(path, sizeof(path), "net/ipv4/conf/%s/proxy_arp", tap);
	r = net_route_sysctl(path, "1");
	/* Domains have no IPv6: the host has nothing to say to them in it either. */
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", tap);
	if (net_route_sysctl(path, "1") < 0)
		log_debug("%s: cannot disable IPv6 on it, skipping", tap);
	return r;
}

/* Links, addresses and routes of one vif whose TAP exists. */
static int wire_vif(struct domain *dom, size_t n, char *err, size_t errlen)
{
	const struct xend_conf *conf = dom->table->conf;
	const struct net_vif *v = &dom->net.vifs[n];
	struct nl_sock *sk = nl(dom->table, err, errlen);
	int idx = (int)if_nametoindex(v->tap), r;
	char a[16];

	if (!sk)
		return -EIO;
	if (!idx)
		return errmsg(err, errlen, -ENODEV, "TAP '%s' is gone", v->tap);
	if (v->bridge[0]) {
		r = net_route_link_up(sk, v->tap, v->bridge);
		if (r == -ENODEV || r == -EINVAL)
			return errmsg(err, errlen, -EINVAL, "vif %zu: bridge '%s' %s", n, v->bridge,
			              r == -ENODEV ? "does not exist" : "is not a bridge");
		if (r < 0)
			return errmsg(err, errlen, r, "%s: cannot join bridge '%s': %s", v->tap,
			              v->bridge, strerror(-r));
		return 0;
	}
	r = vif_sysctls(v->tap);
	if (r < 0)
		return errmsg(err, errlen, r, "%s: cannot turn proxy ARP on: %s", v->tap,
		              strerror(-r));
	r = net_route_link_up(sk, v->tap, NULL);
	r = r ?: net_route_addr_add(sk, idx, conf->gateway_addr);
	r = r ?: net_route_addr_add(sk, idx, conf->linklocal_addr);
	if (r < 0)
		return errmsg(err, errlen, r, "%s: cannot set it up: %s (%s)", v->tap, strerror(-r),
		              net_route_error());
	for (size_t j = 0; j < v->nr_addrs; j++) {
		r = net_route_host_add(sk, idx, v->addrs[j], conf->gateway_addr);
		if (r < 0)
			return errmsg(err, errlen, r, "%s: cannot route %s to it: %s (%s)", v->tap,
			              net_addr_format(v->addrs[j], a), strerror(-r),
			              net_route_error());
	}
	if (n == 0 && dom->net.linklocal) {
		r = net_route_host_add(sk, idx, dom->net.linklocal, conf->linklocal_addr);
		if (r < 0)
			return errmsg(err, errlen, r, "%s: cannot route %s to it: %s", v->tap,
			              net_addr_format(dom->net.linklocal, a), strerror(-r));
	}
	return 0;
}

void net_fds_close(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int net_domain_setup(struct domain *dom, int *fds, char *err, size_t errlen)
{
	const struct net_plan *p = &dom->net;
	long long t0 = now_us();
	int r = 0;

	for (size_t i = 0; i < p->nr_vifs; i++)
		fds[i] = -1;
	if (!p->nr_vifs)
		return 0;
	for (size_t i = 0; r == 0 && i < p->nr_vifs; i++) {
		r = net_tap_create(p->vifs[i].tap, &fds[i]);
		if (r < 0)
			r = errmsg(err, errlen, r, "cannot create TAP '%s': %s%s", p->vifs[i].tap,
			           strerror(-r),
			           r == -EEXIST ? " (an interface of that name exists)" : "");
	}
	/* The anti-spoofing chains exist before the domain can send anything. */
	if (r == 0)
		r = net_nft_domain_apply(dom->id, p, err, errlen);
	for (size_t i = 0; r == 0 && i < p->nr_vifs; i++)
		r = wire_vif(dom, i, err, errlen);
	if (r < 0) {
		net_fds_close(fds, p->nr_vifs);
		net_domain_teardown(dom);
		return r;
	}
	dom->network_setup_us = now_us() - t0;
	log_debug("domain '%s': network set up in %lld us (%zu vif%s)", dom->cfg.name,
	          dom->network_setup_us, p->nr_vifs, p->nr_vifs == 1 ? "" : "s");
	return 0;
}

void net_domain_teardown(struct domain *dom)
{
	const struct net_plan *p = &dom->net;
	char err[256], a[16];
	struct nl_sock *sk;
	int r;

	if (!p->nr_vifs)
		return;
	r = net_nft_domain_remove(dom->id, err, sizeof(err));
	if (r < 0)
		log_warn("domain '%s': cannot remove table netdev xeno_d%u: %s", dom->cfg.name,
		         dom->id, err);
	sk = nl(dom->table, err, sizeof(err));
	if (!sk)
		return;
	/* Mostly gone with the TAPs already; what a TAP still alive would keep goes here. */
	for (size_t i = 0; i < p->nr_vifs; i++) {
		if (p->vifs[i].bridge[0])
			continue;
		for (size_t j = 0; j < p->vifs[i].nr_addrs; j++) {
			r = net_route_host_del(sk, p->vifs[i].addrs[j]);
			if (r < 0)
				(void)log_warn_errno(
				        r, "domain '%s': cannot remove the route to %s",
				        dom->cfg.name, net_addr_format(p->vifs[i].addrs[j], a));
		}
	}
	if (p->linklocal)
		(void)net_route_host_del(sk, p->linklocal);
}

void net_domain_rebuild(struct domain *dom)
{
	const struct net_plan *p = &dom->net;
	char err[512];
	int r;

	if (!p->nr_vifs)
		return;
	r = net_nft_domain_apply(dom->id, p, err, sizeof(err));
	for (size_t i = 0; r == 0 && i < p->nr_vifs; i++)
		r = wire_vif(dom, i, err, sizeof(err));
	if (r < 0)
		log_error("domain '%s': cannot rebuild its network: %s", dom->cfg.name, err);
	else
		log_info("domain '%s': network rebuilt (%zu vif%s)", dom->cfg.name, p->nr_vifs,
		         p->nr_vifs == 1 ? "" : "s");
}

static uint64_t stat_of(const char *tap, const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", tap, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtoull(buf, NULL, 10);
}

struct json_object *net_domain_json(struct domain *dom)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	const struct net_plan *p = &dom->net;
	uint64_t spoof[NET_VIFS_MAX] = { 0 };
	char buf[16];

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	if (p->nr_vifs && dom->pid > 0 && net_nft_spoof_counters(dom->id, spoof, NET_VIFS_MAX) < 0)
		log_debug("domain '%s': no spoof counters to read", dom->cfg.name);
	for (size_t i = 0; i < p->nr_vifs; i++) {
		const struct net_vif *v = &p->vifs[i];
		struct json_object *vo = json_object_new_object(), *addrs = json_object_new_array();
		bool up = dom->pid > 0 && if_nametoindex(v->tap);

		json_object_object_add(vo, "index", json_object_new_int64((int64_t)i));
		json_object_object_add(vo, "mac", json_object_new_string(v->mac));
		json_object_object_add(vo, "tap", json_object_new_string(v->tap));
		json_object_object_add(vo, "bridge",
		                       v->bridge[0] ? json_object_new_string(v->bridge) : NULL);
		for (size_t j = 0; j < v->nr_addrs; j++)
			json_object_array_add(
			        addrs, json_object_new_string(net_addr_format(v->addrs[j], buf)));
		if (i == 0 && p->linklocal)
			json_object_array_add(
			        addrs, json_object_new_string(net_addr_format(p->linklocal, buf)));
		json_object_object_add(vo, "addresses", addrs);
		/* As the domain sees it: what it receives is what the TAP sends. */
		json_object_object_add(
		        vo, "rx_packets",
		        json_object_new_int64(up ? (int64_t)stat_of(v->tap, "tx_packets") : 0));
		json_object_object_add(
		        vo, "rx_bytes",
		        json_object_new_int64(up ? (int64_t)stat_of(v->tap, "tx_bytes") : 0));
		json_object_object_add(
		        vo, "tx_packets",
		        json_object_new_int64(up ? (int64_t)stat_of(v->tap, "rx_packets") : 0));
		json_object_object_add(
		        vo, "tx_bytes",
		        json_object_new_int64(up ? (int64_t)stat_of(v->tap, "rx_bytes") : 0));
		json_object_object_add(vo, "spoof_dropped",
		                       json_object_new_int64((int64_t)spoof[i]));
		json_object_array_add(a, vo);
	}
	json_object_object_add(o, "interfaces", a);
	return o;
}

/* ---- The host ---- */

static int nat_record_path(const struct xend_conf *conf, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/network.json", conf->state_dir) < len ? 0
	                                                                            : -ENAMETOOLONG;
}

/* The NAT setting last chosen with `xm nat`, or xend.conf's when there is none. */
static bool nat_load(const struct xend_conf *conf)
{
	struct json_object *o, *v;
	char path[1024];
	bool on = conf->nat;

	if (nat_record_path(conf, path, sizeof(path)) < 0)
		return on;
	o = json_object_from_file(path);
	if (o && json_object_object_get_ex(o, "nat", &v) &&
	    json_object_is_type(v, json_type_boolean))
		on = json_object_get_boolean(v);
	json_object_put(o);
	return on;
}

static int nat_save(const struct xend_conf *conf, bool on)
{
	char path[1024], text[32];
	int n = snprintf(text, sizeof(text), "{\"nat\": %s}\n", on ? "true" : "false");

	if (nat_record_path(conf, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	return store_write_atomic(path, text, (size_t)n);
}

/* The ssh redirect of dom: port and target, if it has a VMM and a routed first vif. */
static bool redirect_of(const struct domain *dom, struct net_nat_redirect *ret)
{
	const struct xend_conf *conf = dom->table->conf;
	const struct net_plan *p = &dom->net;

	if (dom->pid <= 0 || !p->nr_vifs || p->vifs[0].bridge[0] ||
	    conf->ssh_port_base + dom->id > 65535)
		return false;
	ret->port = conf->ssh_port_base + dom->id;
	if (p->linklocal)
		ret->addr = p->linklocal;
	else if (p->vifs[0].nr_addrs)
		ret->addr = p->vifs[0].addrs[0];
	else
		return false;
	return true;
}

void net_host_sync(struct domain_table *t)
{
	struct net_nat_redirect *redirects = NULL;
	uint32_t *sources = NULL;
	size_t nr = 0, ns = 0, cap = 0;
	struct net_nft_shared s;
	char err[512];
	int r;

	if (!t->conf->net_route)
		return;
	for (struct domain *d = t->list; d; d = d->next) {
		cap++;
		for (size_t i = 0; i < d->net.nr_vifs; i++)
			ns += d->net.vifs[i].bridge[0] ? 0 : d->net.vifs[i].nr_addrs;
	}
	redirects = calloc(cap + 1, sizeof(*redirects));
	sources = calloc(ns + 1, sizeof(*sources));
	if (!redirects || !sources) {
		log_error("no memory to update the NAT rules");
		goto out;
	}
	ns = 0;
	for (struct domain *d = t->list; d; d = d->next) {
		if (redirect_of(d, &redirects[nr]))
			nr++;
		for (size_t i = 0; i < d->net.nr_vifs; i++)
			for (size_t j = 0; !d->net.vifs[i].bridge[0] && j < d->net.vifs[i].nr_addrs;
			     j++)
				sources[ns++] = d->net.vifs[i].addrs[j];
	}
	s = (struct net_nft_shared){ t->nat, t->conf->nat_uplink, redirects, nr, sources, ns };
	r = net_nft_shared_apply(&s, err, sizeof(err));
	if (r < 0)
		log_error("cannot apply the shared nftables tables: %s", err);
out:
	free(redirects);
	free(sources);
}

void net_host_start(struct domain_table *t)
{
	int r;

	if (!t->conf->net_route) {
		log_info("network = \"none\": domains get no network from xend");
		return;
	}
	r = net_route_sysctl("net/ipv4/ip_forward", "1");
	if (r < 0)
		(void)log_error_errno(r, "cannot turn IPv4 forwarding on; domains will reach "
		                         "only Domain-0");
	t->nat = nat_load(t->conf);
	net_host_sync(t);
	log_info("network: routed, pool %s, gateway %s, link-local base %s, NAT %s%s%s",
	         t->conf->ip_pool, t->conf->gateway, t->conf->linklocal_base, t->nat ? "on" : "off",
	         t->conf->nat_uplink[0] ? " via " : "", t->conf->nat_uplink);
}

void net_host_stop(struct domain_table *t)
{
	char err[256];

	if (t->conf->net_route && !t->list) {
		if (net_nft_shared_remove(err, sizeof(err)) < 0)
			log_warn("cannot remove the shared nftables tables: %s", err);
		else
			log_info("no domain left: shared nftables tables removed");
	}
	net_route_close(t->nl);
	t->nl = NULL;
	net_nft_close();
}

int net_nat_set(struct domain_table *t, bool on, char *err, size_t errlen)
{
	int r;

	if (!t->conf->net_route)
		return errmsg(err, errlen, -EOPNOTSUPP,
		              "xend runs with network = \"none\": there is no NAT to turn %s",
		              on ? "on" : "off");
	r = nat_save(t->conf, on);
	if (r < 0)
		return errmsg(err, errlen, r, "cannot record the NAT setting: %s", strerror(-r));
	t->nat = on;
	net_host_sync(t);
	log_info("NAT turned %s", on ? "on" : "off");
	return 0;
}

struct json_object *net_nat_json(struct domain_table *t)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	char buf[16];

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	json_object_object_add(o, "enabled", json_object_new_boolean(t->nat));
	json_object_object_add(o, "uplink", json_object_new_string(t->conf->nat_uplink));
	for (struct domain *d = t->nat ? t->list : NULL; d; d = d->next) {
		struct net_nat_redirect rd;
		struct json_object *ro;

		if (!redirect_of(d, &rd))
			continue;
		ro = json_object_new_object();
		json_object_object_add(ro, "port", json_object_new_int64(rd.port));
		json_object_object_add(ro, "domain", json_object_new_string(d->cfg.name));
		json_object_object_add(ro, "address",
		                       json_object_new_string(net_addr_format(rd.addr, buf)));
		json_object_array_add(a, ro);
	}
	json_object_object_add(o, "redirects", a);
	return o;
}
