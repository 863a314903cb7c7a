// SPDX-License-Identifier: GPL-2.0-only
/*
 * Planning a domain's network: addresses (given or from the pool), TAP names, MACs, the
 * link-local address, the kernel command-line words, and the record form of all of it.
 * Nothing here touches the host: net.c carries a plan out.  Any thread.
 */
#include "xend/net_plan.h"
#include "common/errmsg.h"
#include "xend/conf.h"
#include "xend/domain_config.h"
#include "xend/net_pool.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_plan_fini(struct net_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < NET_VIFS_MAX; i++)
		free(plan->vifs[i].addrs);
	memset(plan, 0, sizeof(*plan));
}

bool net_plan_owns(const struct net_plan *plan, uint32_t addr)
{
	if (plan->linklocal && plan->linklocal == addr)
		return true;
	for (size_t i = 0; i < plan->nr_vifs; i++)
		for (size_t j = 0; j < plan->vifs[i].nr_addrs; j++)
			if (plan->vifs[i].addrs[j] == addr)
				return true;
	return false;
}

static int add_addr(struct net_vif *vif, uint32_t addr)
{
	uint32_t *a;

	if (vif->nr_addrs >= NET_ADDRS_MAX)
		return -E2BIG;
	a = realloc(vif->addrs, (vif->nr_addrs + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[vif->nr_addrs++] = addr;
	vif->addrs = a;
	return 0;
}

struct planner {
	const struct xend_conf *conf;
	struct net_pool pool;
	net_owner_fn owner;
	void *opaque;
	struct net_plan *plan;
	char *err;
	size_t errlen;
};

/* Checks a given address and adds it to vif. */
static int take(struct planner *p, struct net_vif *vif, const char *text, const char *field)
{
	const char *why, *owner;
	char buf[16];
	uint32_t a;
	int r;

	if (!net_addr_parse(text, &a))
		return errmsg(p->err, p->errlen, -EINVAL, "%s: '%.64s' is not an IPv4 address",
		              field, text);
	if (!net_addr_usable(&p->pool, a, &why))
		return errmsg(p->err, p->errlen, -EINVAL, "%s: address %s %s", field,
		              net_addr_format(a, buf), why);
	if (net_plan_owns(p->plan, a))
		return errmsg(p->err, p->errlen, -EINVAL, "%s: address %s is given twice", field,
		              net_addr_format(a, buf));
	owner = p->owner(p->opaque, a);
	if (owner)
		return errmsg(p->err, p->errlen, -EEXIST, "%s: address %s is owned by domain '%s'",
		              field, net_addr_format(a, buf), owner);
	r = add_addr(vif, a);
	if (r == -E2BIG)
		return errmsg(p->err, p->errlen, -EINVAL, "%s: more than %u addresses on one vif",
		              field, NET_ADDRS_MAX);
	return r;
}

static bool taken(void *opaque, uint32_t addr)
{
	struct planner *p = opaque;

	return net_plan_owns(p->plan, addr) || p->owner(p->opaque, addr) != NULL;
}

static int from_pool(struct planner *p, struct net_vif *vif)
{
	uint32_t a;
	int r = net_pool_next(&p->pool, taken, p, &a);

	if (r < 0)
		return errmsg(p->err, p->errlen, -ENOSPC,
		              "pool %s exhausted: every address is taken (give the domain an "
		              "address with ip=, or widen ip-pool in xend.conf)",
		              p->conf->ip_pool);
	return add_addr(vif, a);
}

/* Whether text is an address some vif of cfg names. */
static bool named_by_vif(const struct domain_config *cfg, const char *text)
{
	uint32_t a, b;

	if (!net_addr_parse(text, &a))
		return false;
	for (size_t i = 0; i < cfg->nr_vifs; i++)
		for (size_t j = 0; j < cfg->vifs[i].nr_ip; j++)
			if (net_addr_parse(cfg->vifs[i].ip[j], &b) && a == b)
				return true;
	return false;
}

/* The domain's vif n: name, MAC (given, or 00:16:3e + 21 bits of id and 3 of n), bridge. */
static int name_vif(const struct domain_config *cfg, unsigned int id, size_t n, struct net_vif *vif,
                    char *err, size_t errlen)
{
	const struct domain_vif *v = &cfg->vifs[n];
	uint32_t low = ((id << 3) | (uint32_t)n) & 0xffffff;

	if (snprintf(vif->tap, sizeof(vif->tap), "vif%u.%zu", id, n) >= (int)sizeof(vif->tap))
		return errmsg(err, errlen, -EINVAL, "domain id %u is too large for a TAP name", id);
	if (v->mac)
		snprintf(vif->mac, sizeof(vif->mac), "%s", v->mac);
	else
		snprintf(vif->mac, sizeof(vif->mac), "00:16:3e:%02x:%02x:%02x", low >> 16,
		         (low >> 8) & 0xff, low & 0xff);
	for (char *c = vif->mac; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	if (v->bridge)
		snprintf(vif->bridge, sizeof(vif->bridge), "%s", v->bridge);
	return 0;
}

static int plan_vifs(struct planner *p, const struct domain_config *cfg, unsigned int id)
{
	struct net_plan *plan = p->plan;
	char field[48];
	int r;

	for (size_t i = 0; i < cfg->nr_vifs && i < NET_VIFS_MAX; i++) {
		struct net_vif *vif = &plan->vifs[i];

		r = name_vif(cfg, id, i, vif, p->err, p->errlen);
		plan->nr_vifs = i + 1;
		for (size_t j = 0; r == 0 && j < cfg->vifs[i].nr_ip; j++) {
			snprintf(field, sizeof(field), "vifs[%zu].ip[%zu]", i, j);
			r = take(p, vif, cfg->vifs[i].ip[j], field);
		}
		if (r < 0)
			return r;
	}
	/* ipaddr (and ip): vif 0's, unless a vif names them. */
	for (size_t j = 0; plan->nr_vifs && j < cfg->nr_ipaddr; j++) {
		if (named_by_vif(cfg, cfg->ipaddr[j]))
			continue;
		snprintf(field, sizeof(field), "ipaddr[%zu]", j);
		r = take(p, &plan->vifs[0], cfg->ipaddr[j], field);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < plan->nr_vifs; i++) {
		if (plan->vifs[i].bridge[0] || plan->vifs[i].nr_addrs)
			continue;
		r = from_pool(p, &plan->vifs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int net_plan_make(const struct xend_conf *conf, const struct domain_config *cfg, unsigned int id,
                  net_owner_fn owner, void *opaque, struct net_plan *ret, char *err, size_t errlen)
{
	struct net_plan plan = { .nr_vifs = 0 };
	struct planner p = {
		.conf = conf,
		.pool = { conf->pool_net, conf->pool_prefix, conf->gateway_addr },
		.owner = owner,
		.opaque = opaque,
		.plan = &plan,
		.err = err,
		.errlen = errlen,
	};
	int r;

	if (!conf->net_route || !cfg->nr_vifs) {
		*ret = plan;
		return 0;
	}
	if (cfg->nr_vifs > NET_VIFS_MAX)
		return errmsg(err, errlen, -EINVAL, "more than %u vifs", NET_VIFS_MAX);
	r = plan_vifs(&p, cfg, id);
	if (r == 0 && cfg->linklocal && !plan.vifs[0].bridge[0]) {
		uint32_t ll = conf->linklocal_addr + id;

		/* Within 169.254.0.0/16, short of its last 256 addresses (RFC 3927 §2.1). */
		if ((ll >> 16) == 0xa9fe && (ll & 0xffff) < 0xff00 && ll > conf->linklocal_addr)
			plan.linklocal = ll;
	}
	if (r < 0) {
		net_plan_fini(&plan);
		return r == -ENOMEM ? errmsg(err, errlen, r, "out of memory") : r;
	}
	*ret = plan;
	return 0;
}

/* ---- The kernel command line ---- */

bool net_cmdline_has(const char *cmdline, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = cmdline; p && *p;) {
		p += strspn(p, " \t");
		if (!strncmp(p, key, len) &&
		    (p[len] == '=' || p[len] == ' ' || p[len] == '\t' || p[len] == 0))
			return true;
		p += strcspn(p, " \t");
	}
	return false;
}

/* base64url without padding: a key line as one command-line word. */
static void base64url(const char *in, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i = 0;

	for (; i + 2 < n; i += 3) {
		*out++ = tab[s[i] >> 2];
		*out++ = tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*out++ = tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*out++ = tab[s[i + 2] & 63];
	}
	if (n - i == 1) {
		*out++ = tab[s[i] >> 2];
		*out++ = tab[(s[i] & 3) << 4];
	} else if (n - i == 2) {
		*out++ = tab[s[i] >> 2];
		*out++ = tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*out++ = tab[(s[i + 1] & 15) << 2];
	}
	*out = 0;
}

struct words {
	FILE *f;
	bool any;
};

static void word(struct words *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void word(struct words *w, const char *fmt, ...)
{
	va_list ap;

	if (w->any)
		fputc(' ', w->f);
	va_start(ap, fmt);
	vfprintf(w->f, fmt, ap);
	va_end(ap);
	w->any = true;
}

static void address_words(const struct net_plan *plan, const struct xend_conf *conf,
                          const struct domain_config *cfg, const char *cmdline, struct words *w)
{
	const struct net_vif *v0 = &plan->vifs[0];
	bool routed0 = plan->nr_vifs && !v0->bridge[0];
	char a[16];

	if (routed0 && v0->nr_addrs && !net_cmdline_has(cmdline, "ip"))
		word(w, "ip=%s::%s:255.255.255.255:%s:eth0:off", net_addr_format(v0->addrs[0], a),
		     conf->gateway, cfg->name);
	if (plan->linklocal && !net_cmdline_has(cmdline, "LINKLOCAL"))
		word(w, "LINKLOCAL=%s", net_addr_format(plan->linklocal, a));
	if (net_cmdline_has(cmdline, "xeno.addr"))
		return;
	for (size_t i = 0; i < plan->nr_vifs; i++) {
		if (plan->vifs[i].bridge[0])
			continue;
		for (size_t j = i == 0 ? 1 : 0; j < plan->vifs[i].nr_addrs; j++)
			word(w, "xeno.addr=eth%zu:%s", i,
			     net_addr_format(plan->vifs[i].addrs[j], a));
	}
}

int net_plan_cmdline(const struct net_plan *plan, const struct xend_conf *conf,
                     const struct domain_config *cfg, size_t max, char **ret)
{
	struct words w = { NULL, false };
	char *text = NULL, *b64;
	size_t len = 0;

	w.f = open_memstream(&text, &len);
	if (!w.f)
		return -ENOMEM;
	if (cfg->cmdline && cfg->cmdline[0])
		word(&w, "%s", cfg->cmdline);
	address_words(plan, conf, cfg, cfg->cmdline, &w);
	if (cfg->root_hash && !net_cmdline_has(cfg->cmdline, "xeno.root_hash"))
		word(&w, "xeno.root_hash=%s", cfg->root_hash);
	for (size_t i = 0; i < cfg->nr_ssh_keys && !net_cmdline_has(cfg->cmdline, "xeno.ssh_key");
	     i++) {
		b64 = malloc(strlen(cfg->ssh_keys[i]) / 3 * 4 + 8);
		if (!b64) {
			fclose(w.f);
			free(text);
			return -ENOMEM;
		}
		base64url(cfg->ssh_keys[i], b64);
		word(&w, "xeno.ssh_key=%s", b64);
		free(b64);
	}
	if (fclose(w.f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	if (len > max) {
		free(text);
		return -E2BIG;
	}
	*ret = text;
	return 0;
}

/* ---- Record form ---- */

struct json_object *net_plan_to_json(const struct net_plan *plan)
{
	struct json_object *o = json_object_new_object(), *vifs = json_object_new_array();
	char a[16];

	if (!o || !vifs) {
		json_object_put(o);
		json_object_put(vifs);
		return NULL;
	}
	for (size_t i = 0; i < plan->nr_vifs; i++) {
		const struct net_vif *v = &plan->vifs[i];
		struct json_object *vo = json_object_new_object(), *addrs = json_object_new_array();

		json_object_object_add(vo, "tap", json_object_new_string(v->tap));
		json_object_object_add(vo, "mac", json_object_new_string(v->mac));
		if (v->bridge[0])
			json_object_object_add(vo, "bridge", json_object_new_string(v->bridge));
		for (size_t j = 0; j < v->nr_addrs; j++)
			json_object_array_add(
			        addrs, json_object_new_string(net_addr_format(v->addrs[j], a)));
		json_object_object_add(vo, "addresses", addrs);
		json_object_array_add(vifs, vo);
	}
	json_object_object_add(o, "vifs", vifs);
	if (plan->linklocal)
		json_object_object_add(o, "linklocal",
		                       json_object_new_string(net_addr_format(plan->linklocal, a)));
	return o;
}

static int copy_name(struct json_object *o, const char *key, char *buf, size_t len, bool required)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return required ? -EBADMSG : 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= len)
		return -EBADMSG;
	memcpy(buf, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

static int vif_from_json(struct json_object *vo, struct net_vif *v)
{
	struct json_object *addrs;
	uint32_t a;
	int r;

	if (!json_object_is_type(vo, json_type_object))
		return -EBADMSG;
	r = copy_name(vo, "tap", v->tap, sizeof(v->tap), true);
	r = r ?: copy_name(vo, "mac", v->mac, sizeof(v->mac), true);
	r = r ?: copy_name(vo, "bridge", v->bridge, sizeof(v->bridge), false);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(vo, "addresses", &addrs) ||
	    !json_object_is_type(addrs, json_type_array))
		return -EBADMSG;
	for (size_t j = 0; j < json_object_array_length(addrs); j++) {
		struct json_object *s = json_object_array_get_idx(addrs, j);

		if (!json_object_is_type(s, json_type_string) ||
		    !net_addr_parse(json_object_get_string(s), &a))
			return -EBADMSG;
		r = add_addr(v, a);
		if (r < 0)
			return r == -E2BIG ? -EBADMSG : r;
	}
	return 0;
}

int net_plan_from_json(struct json_object *obj, struct net_plan *ret)
{
	struct net_plan plan = { .nr_vifs = 0 };
	struct json_object *vifs, *ll;
	int r = 0;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "vifs", &vifs) ||
	    !json_object_is_type(vifs, json_type_array) ||
	    json_object_array_length(vifs) > NET_VIFS_MAX)
		return -EBADMSG;
	for (size_t i = 0; r == 0 && i < json_object_array_length(vifs); i++) {
		plan.nr_vifs = i + 1;
		r = vif_from_json(json_object_array_get_idx(vifs, i), &plan.vifs[i]);
	}
	if (r == 0 && json_object_object_get_ex(obj, "linklocal", &ll) &&
	    (!json_object_is_type(ll, json_type_string) ||
	     !net_addr_parse(json_object_get_string(ll), &plan.linklocal)))
		r = -EBADMSG;
	if (r < 0) {
		net_plan_fini(&plan);
		return r;
	}
	*ret = plan;
	return 0;
}
