// SPDX-License-Identifier: GPL-2.0-only
/*
 * nftables scripts for the tables described in net_nft.h, and libnftables to apply them.
 * Building text keeps the rules readable (they read as `nft list ruleset` prints them back)
 * and the transaction atomic: nft_run_cmd_from_buffer() commits a whole script or nothing.
 * Script builders: any thread.  Contexts: main thread.
 */
#include "xend/net_nft.h"
#include "xend/net_plan.h"
#include "xend/net_pool.h"

#include <errno.h>
#include <json-c/json.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below every other ingress hook: spoofed frames go before anyone else sees them. */
#define INGRESS_PRIORITY (-500)

static struct nft_ctx *run_ctx, *json_ctx;

static void vif_rules(FILE *f, const char *t, size_t n, const struct net_vif *v)
{
	char a[16];

	fprintf(f, "add counter netdev %s spoof_%zu\n", t, n);
	fprintf(f, "add set netdev %s addrs_%zu { type ipv4_addr; }\n", t, n);
	fprintf(f, "flush set netdev %s addrs_%zu\n", t, n);
	for (size_t j = 0; j < v->nr_addrs; j++)
		fprintf(f, "add element netdev %s addrs_%zu { %s }\n", t, n,
		        net_addr_format(v->addrs[j], a));
	fprintf(f,
	        "add chain netdev %s vif_%zu { type filter hook ingress device \"%s\" "
	        "priority %d; policy drop; }\n",
	        t, n, v->tap, INGRESS_PRIORITY);
	fprintf(f, "flush chain netdev %s vif_%zu\n", t, n);
	fprintf(f, "add rule netdev %s vif_%zu ether saddr != %s counter name \"spoof_%zu\" drop\n",
	        t, n, v->mac, n);
	if (v->nr_addrs || !v->bridge[0]) {
		fprintf(f,
		        "add rule netdev %s vif_%zu ether type arp arp htype 1 arp ptype ip "
		        "arp hlen 6 arp plen 4 arp saddr ether %s arp saddr ip @addrs_%zu accept\n",
		        t, n, v->mac, n);
		fprintf(f, "add rule netdev %s vif_%zu ether type ip ip saddr @addrs_%zu accept\n",
		        t, n, n);
	} else {
		/* Bridged without addresses: the MAC is all there is to check. */
		fprintf(f, "add rule netdev %s vif_%zu ether type arp arp saddr ether %s accept\n",
		        t, n, v->mac);
		fprintf(f, "add rule netdev %s vif_%zu ether type ip accept\n", t, n);
	}
	fprintf(f, "add rule netdev %s vif_%zu counter name \"spoof_%zu\" drop\n", t, n, n);
}

char *net_nft_domain_text(unsigned int id, const struct net_plan *plan)
{
	char *text = NULL, table[32];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	snprintf(table, sizeof(table), "xeno_d%u", id);
	fprintf(f, "add table netdev %s\n", table);
	for (size_t i = 0; i < plan->nr_vifs; i++) {
		struct net_vif v = plan->vifs[i];

		/* The link-local address is vif 0's too (not in v.addrs: it has other routes). */
		if (i == 0 && plan->linklocal) {
			v.addrs = malloc((v.nr_addrs + 1) * sizeof(*v.addrs));
			if (!v.addrs) {
				fclose(f);
				free(text);
				return NULL;
			}
			if (plan->vifs[0].nr_addrs)
				memcpy(v.addrs, plan->vifs[0].addrs, v.nr_addrs * sizeof(*v.addrs));
			v.addrs[v.nr_addrs++] = plan->linklocal;
		}
		vif_rules(f, table, i, &v);
		if (v.addrs != plan->vifs[i].addrs)
			free(v.addrs);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

char *net_nft_domain_remove_text(unsigned int id)
{
	char *text;

	if (asprintf(&text, "add table netdev xeno_d%u\ndelete table netdev xeno_d%u\n", id, id) <
	    0)
		return NULL;
	return text;
}

static void forward_rules(FILE *f, const struct net_nft_shared *s)
{
	const char *r = "add rule inet xeno forward";

	fputs("add table inet xeno\n"
	      "add chain inet xeno forward { type filter hook forward priority filter; "
	      "policy accept; }\n"
	      "flush chain inet xeno forward\n",
	      f);
	/* A DNAT'd ssh reply still has its link-local source here (restored in postrouting). */
	fprintf(f, "%s ct status dnat accept\n", r);
	fprintf(f, "%s oifname != \"vif*\" ip saddr 169.254.0.0/16 drop\n", r);
	fprintf(f, "%s iifname != \"vif*\" ip daddr 169.254.0.0/16 drop\n", r);
	fprintf(f, "%s ct state established,related accept\n", r);
	if (s->nat && s->uplink[0])
		fprintf(f, "%s iifname \"vif*\" oifname \"%s\" accept\n", r, s->uplink);
	fprintf(f, "%s iifname \"vif*\" oifname != \"vif*\" %s\n", r,
	        s->nat && !s->uplink[0] ? "accept" : "drop");
}

static void nat_rules(FILE *f, const struct net_nft_shared *s)
{
	const char *t = "ip xeno_nat";
	char a[16], out[48];

	if (!s->nat) {
		fprintf(f, "add table %s\ndelete table %s\n", t, t);
		return;
	}
	if (s->uplink[0])
		snprintf(out, sizeof(out), "oifname \"%s\"", s->uplink);
	else
		snprintf(out, sizeof(out), "oifname != \"vif*\"");
	fprintf(f, "add table %s\n", t);
	fprintf(f, "add set %s sources { type ipv4_addr; }\nflush set %s sources\n", t, t);
	for (size_t i = 0; i < s->nr_sources; i++)
		fprintf(f, "add element %s sources { %s }\n", t, net_addr_format(s->sources[i], a));
	fprintf(f, "add map %s ssh { type inet_service : ipv4_addr; }\nflush map %s ssh\n", t, t);
	for (size_t i = 0; i < s->nr_redirects; i++)
		fprintf(f, "add element %s ssh { %u : %s }\n", t, s->redirects[i].port,
		        net_addr_format(s->redirects[i].addr, a));
	fprintf(f,
	        "add chain %s prerouting { type nat hook prerouting priority dstnat; policy "
	        "accept; }\n"
	        "add chain %s output { type nat hook output priority -100; policy accept; }\n"
	        "add chain %s postrouting { type nat hook postrouting priority srcnat; policy "
	        "accept; }\n"
	        "flush chain %s prerouting\nflush chain %s output\nflush chain %s postrouting\n",
	        t, t, t, t, t, t);
	fprintf(f, "add rule %s prerouting fib daddr type local dnat to tcp dport map @ssh : 22\n",
	        t);
	fprintf(f, "add rule %s output fib daddr type local dnat to tcp dport map @ssh : 22\n", t);
	fprintf(f, "add rule %s postrouting ip saddr @sources %s masquerade\n", t, out);
}

char *net_nft_shared_text(const struct net_nft_shared *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	forward_rules(f, s);
	nat_rules(f, s);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static struct nft_ctx *context(bool json)
{
	struct nft_ctx **slot = json ? &json_ctx : &run_ctx;

	if (!*slot) {
		*slot = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!*slot)
			return NULL;
		nft_ctx_buffer_output(*slot);
		nft_ctx_buffer_error(*slot);
		if (json)
			nft_ctx_output_set_flags(*slot, NFT_CTX_OUTPUT_JSON);
	}
	return *slot;
}

void net_nft_close(void)
{
	if (run_ctx)
		nft_ctx_free(run_ctx);
	if (json_ctx)
		nft_ctx_free(json_ctx);
	run_ctx = json_ctx = NULL;
}

int net_nft_run(const char *script, char *err, size_t errlen)
{
	struct nft_ctx *ctx = context(false);
	const char *msg;
	size_t len;

	if (!ctx) {
		snprintf(err, errlen, "cannot create an nftables context");
		return -ENOMEM;
	}
	if (nft_run_cmd_from_buffer(ctx, script) == 0)
		return 0;
	msg = nft_ctx_get_error_buffer(ctx);
	/* nft's message: the first line says what, the next ones point into the script. */
	len = msg ? strcspn(msg, "\n") : 0;
	snprintf(err, errlen, "nftables: %.*s", (int)len, msg ? msg : "failed");
	return -EINVAL;
}

static int run_text(char *text, char *err, size_t errlen)
{
	int r;

	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = net_nft_run(text, err, errlen);
	free(text);
	return r;
}

int net_nft_domain_apply(unsigned int id, const struct net_plan *plan, char *err, size_t errlen)
{
	return run_text(net_nft_domain_text(id, plan), err, errlen);
}

int net_nft_domain_remove(unsigned int id, char *err, size_t errlen)
{
	return run_text(net_nft_domain_remove_text(id), err, errlen);
}

int net_nft_shared_apply(const struct net_nft_shared *s, char *err, size_t errlen)
{
	return run_text(net_nft_shared_text(s), err, errlen);
}

int net_nft_shared_remove(char *err, size_t errlen)
{
	return run_text(strdup("add table inet xeno\ndelete table inet xeno\n"
	                       "add table ip xeno_nat\ndelete table ip xeno_nat\n"),
	                err, errlen);
}

int net_nft_spoof_counters(unsigned int id, uint64_t *packets, size_t n)
{
	struct nft_ctx *ctx = context(true);
	struct json_object *root, *items;
	char cmd[64];
	int r = 0;

	memset(packets, 0, n * sizeof(*packets));
	if (!ctx)
		return -ENOMEM;
	snprintf(cmd, sizeof(cmd), "list counters table netdev xeno_d%u", id);
	if (nft_run_cmd_from_buffer(ctx, cmd) != 0)
		return -ENOENT;
	root = json_tokener_parse(nft_ctx_get_output_buffer(ctx));
	if (!json_object_object_get_ex(root, "nftables", &items) ||
	    !json_object_is_type(items, json_type_array))
		r = -EBADMSG;
	for (size_t i = 0; r == 0 && i < json_object_array_length(items); i++) {
		struct json_object *c, *name, *pk;
		unsigned long idx;
		char *end;

		if (!json_object_object_get_ex(json_object_array_get_idx(items, i), "counter",
		                               &c) ||
		    !json_object_object_get_ex(c, "name", &name) ||
		    !json_object_object_get_ex(c, "packets", &pk))
			continue;
		if (strncmp(json_object_get_string(name), "spoof_", 6) != 0)
			continue;
		idx = strtoul(json_object_get_string(name) + 6, &end, 10);
		if (!*end && idx < n)
			packets[idx] = (uint64_t)json_object_get_int64(pk);
	}
	json_object_put(root);
	return r;
}
