// SPDX-License-Identifier: GPL-2.0-only
/* Domain figures for xm top, GET /v1/stats and /metrics (stats.h). */
#include "xend/stats.h"
#include "xend/disk.h"
#include "xend/domain.h"
#include "xend/host.h"
#include "xend/net.h"
#include "xend/vmm_control.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_TIMEOUT_MS 2000

/* The keys summed over a domain's disks and interfaces. */
static const char *const block_keys[] = { "read_requests", "read_bytes", "write_requests",
	                                  "write_bytes" };
static const char *const net_keys[] = { "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
	                                "spoof_dropped" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int64_t get_i64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* {"key": the sum over list[*].key} for each of keys. */
static struct json_object *sums(struct json_object *holder, const char *list_key,
                                const char *const *keys, size_t nr_keys)
{
	struct json_object *o = json_object_new_object(), *list = NULL;

	if (!o)
		return NULL;
	json_object_object_get_ex(holder, list_key, &list);
	for (size_t k = 0; k < nr_keys; k++) {
		int64_t sum = 0;

		for (size_t i = 0; list && i < json_object_array_length(list); i++)
			sum += get_i64(json_object_array_get_idx(list, i), keys[k]);
		json_object_object_add(o, keys[k], json_object_new_int64(sum));
	}
	return o;
}

static int64_t balloon_mib(struct json_object *vmm, const char *key, unsigned int fallback)
{
	struct json_object *b;

	return vmm && json_object_object_get_ex(vmm, "balloon", &b) ? get_i64(b, key)
	                                                            : (int64_t)fallback;
}

/* The guest's own memory figures, as its balloon driver last sent them: VMM key, our key. */
static const char *const guest_keys[][2] = {
	{ "guest_total_bytes", "memory_guest_total_mib" },
	{ "guest_free_bytes", "memory_guest_free_mib" },
	{ "guest_available_bytes", "memory_guest_available_mib" },
	{ "guest_caches_bytes", "memory_guest_caches_mib" },
};

/* Adds the guest's figures the VMM has (none before the guest's driver sends some). */
static void add_guest_figures(struct json_object *o, struct json_object *vmm)
{
	struct json_object *b, *v;

	if (!vmm || !json_object_object_get_ex(vmm, "balloon", &b))
		return;
	for (size_t i = 0; i < COUNT(guest_keys); i++)
		if (json_object_object_get_ex(b, guest_keys[i][0], &v))
			json_object_object_add(
			        o, guest_keys[i][1],
			        json_object_new_int64(json_object_get_int64(v) >> 20));
}

struct json_object *stats_domain_json(struct domain *dom)
{
	struct json_object *o = json_object_new_object(), *vmm = NULL, *block, *net, *times;
	char err[256];
	/* A saving VMM answers only once its file is written: its last CPU time stands. */
	double cpu_ns = dom->saving ? dom->cpu_time_s * 1e9 : 0;

	if (!o)
		return NULL;
	if (dom->pidfd >= 0 && !dom->saving &&
	    vmm_control_call(dom->paths.control, "stats", STATS_TIMEOUT_MS, &vmm, err,
	                     sizeof(err)) < 0)
		vmm = NULL;
	if (vmm && json_object_object_get_ex(vmm, "vcpu_time_ns", &times))
		for (size_t i = 0; i < json_object_array_length(times); i++)
			cpu_ns += json_object_get_double(json_object_array_get_idx(times, i));
	json_object_object_add(o, "id", json_object_new_int64(dom->id));
	json_object_object_add(o, "name", json_object_new_string(dom->cfg.name));
	json_object_object_add(o, "state", json_object_new_string(domain_state_name(dom->state)));
	json_object_object_add(o, "time", json_object_new_double(host_now()));
	json_object_object_add(o, "cpu_time_s", json_object_new_double(cpu_ns / 1e9));
	json_object_object_add(o, "vcpus", json_object_new_int64(dom->cfg.vcpus));
	json_object_object_add(o, "memory_mib", json_object_new_int64(dom->cfg.memory_mib));
	json_object_object_add(o, "maxmem_mib", json_object_new_int64(dom->cfg.maxmem_mib));
	/* What the balloon lets the guest keep (xm mem-set); memory without a VMM. */
	json_object_object_add(
	        o, "memory_target_mib",
	        json_object_new_int64(balloon_mib(vmm, "target_mib", dom->cfg.memory_mib)));
	json_object_object_add(
	        o, "memory_actual_mib",
	        json_object_new_int64(balloon_mib(vmm, "actual_mib", dom->cfg.memory_mib)));
	add_guest_figures(o, vmm);
	json_object_object_add(o, "memory_touched_mib",
	                       json_object_new_int64(get_i64(vmm, "memory_touched_bytes") >> 20));
	json_object_object_add(o, "vmm_rss_mib",
	                       json_object_new_int64(get_i64(vmm, "vmm_rss_bytes") >> 20));
	block = disk_block_json(&dom->cfg, vmm);
	json_object_object_add(o, "disks", json_object_new_int64((int64_t)dom->cfg.nr_disks));
	json_object_object_add(o, "block", sums(block, "disks", block_keys, COUNT(block_keys)));
	json_object_put(block);
	net = net_domain_json(dom);
	json_object_object_add(o, "vifs", json_object_new_int64((int64_t)dom->net.nr_vifs));
	json_object_object_add(o, "net", sums(net, "interfaces", net_keys, COUNT(net_keys)));
	json_object_put(net);
	json_object_put(vmm);
	return o;
}

struct json_object *stats_all_json(struct domain_table *t)
{
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();

	if (!o || !list) {
		json_object_put(o);
		json_object_put(list);
		return NULL;
	}
	for (struct domain *d = t->list; d; d = d->next)
		json_object_array_add(list, stats_domain_json(d));
	json_object_object_add(o, "time", json_object_new_double(host_now()));
	json_object_object_add(o, "domains", list);
	return o;
}

/* A growing text buffer; on a failed allocation it stays failed (text NULL). */
struct text {
	char *text;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->text ? t->text + t->len : NULL, t->text ? t->cap - t->len : 0, fmt,
		              ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->text && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *p = realloc(t->text, cap);

		if (!p) {
			t->failed = true;
			return;
		}
		t->text = p;
		t->cap = cap;
	}
}

/* One metric family: its help and type lines, then a sample per domain. */
static void family(struct text *t, struct json_object *list, const char *metric, const char *type,
                   const char *help, const char *group, const char *key)
{
	put(t, "# HELP xeno_domain_%s %s\n# TYPE xeno_domain_%s %s\n", metric, help, metric, type);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *d = json_object_array_get_idx(list, i), *src = d, *v;

		if (group)
			json_object_object_get_ex(d, group, &src);
		if (!json_object_object_get_ex(src, key, &v))
			continue;
		put(t, "xeno_domain_%s{domid=\"%lld\",name=\"%s\"} %s\n", metric,
		    (long long)get_i64(d, "id"),
		    json_object_get_string(json_object_object_get(d, "name")),
		    json_object_get_string(v));
	}
}

char *stats_prometheus(struct domain_table *t)
{
	struct json_object *all = stats_all_json(t), *list;
	struct text out = { NULL, 0, 0, false };

	if (!all || !json_object_object_get_ex(all, "domains", &list)) {
		json_object_put(all);
		return NULL;
	}
	family(&out, list, "cpu_seconds_total", "counter", "vCPU time used on host CPUs.", NULL,
	       "cpu_time_s");
	family(&out, list, "vcpus", "gauge", "Virtual CPUs.", NULL, "vcpus");
	family(&out, list, "memory_mib", "gauge", "Memory given to the domain, MiB.", NULL,
	       "memory_mib");
	family(&out, list, "memory_touched_mib", "gauge",
	       "Guest memory the host has populated, MiB.", NULL, "memory_touched_mib");
	family(&out, list, "vmm_rss_mib", "gauge", "Resident memory of the VMM process, MiB.", NULL,
	       "vmm_rss_mib");
	family(&out, list, "memory_guest_free_mib", "gauge",
	       "Memory the guest leaves unused, MiB (its balloon driver's figure).", NULL,
	       "memory_guest_free_mib");
	family(&out, list, "memory_guest_available_mib", "gauge",
	       "Memory available to the guest's new work, MiB (its balloon driver's figure).", NULL,
	       "memory_guest_available_mib");
	for (size_t k = 0; k < COUNT(block_keys); k++) {
		char metric[64], help[96];

		snprintf(metric, sizeof(metric), "block_%s_total", block_keys[k]);
		snprintf(help, sizeof(help), "Disk %s, all disks.", block_keys[k]);
		family(&out, list, metric, "counter", help, "block", block_keys[k]);
	}
	for (size_t k = 0; k < COUNT(net_keys); k++) {
		char metric[64], help[96];

		snprintf(metric, sizeof(metric), "net_%s_total", net_keys[k]);
		snprintf(help, sizeof(help), "Network %s as the domain sees it, all interfaces.",
		         net_keys[k]);
		family(&out, list, metric, "counter", help, "net", net_keys[k]);
	}
	json_object_put(all);
	if (out.failed) {
		free(out.text);
		return NULL;
	}
	return out.text ? out.text : strdup("");
}
