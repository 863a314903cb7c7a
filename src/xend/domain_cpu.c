// SPDX-License-Identifier: GPL-2.0-only
/*
 * A domain's CPUs and memory at run time: its vCPUs as the VMM reports them (xm vcpu-list),
 * pinning one (xm vcpu-pin, through the VMM's control socket), its weight and cap (xm
 * sched-credit, through its cgroup), and its balloon (xm mem-set).  Main thread, like the
 * rest of the domain table.
 */
#include "common/cpulist.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "xend/conf.h"
#include "xend/domain.h"
#include "xend/host.h"
#include "xend/vmm_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define VCPU_CONTROL_TIMEOUT_MS 5000

static struct json_object *item(struct json_object *arr, size_t i)
{
	return json_object_is_type(arr, json_type_array) ? json_object_array_get_idx(arr, i) : NULL;
}

struct json_object *domain_vcpus_json(struct domain *dom, char *err, size_t errlen)
{
	struct json_object *reply = NULL, *times = NULL, *running = NULL, *cpus = NULL,
	                   *affinity = NULL, *list;
	char why[256];
	int r = domain_need_vmm(dom, "list the vCPUs of", err, errlen);

	if (r < 0)
		return NULL;
	r = vmm_control_call(dom->paths.control, "stats", VCPU_CONTROL_TIMEOUT_MS, &reply, why,
	                     sizeof(why));
	if (r < 0) {
		errmsg(err, errlen, -EIO, "domain '%s': its VMM did not answer: %s", dom->cfg.name,
		       why);
		return NULL;
	}
	json_object_object_get_ex(reply, "vcpu_time_ns", &times);
	json_object_object_get_ex(reply, "vcpus_running", &running);
	json_object_object_get_ex(reply, "vcpu_cpu", &cpus);
	json_object_object_get_ex(reply, "vcpu_affinity", &affinity);
	list = json_object_new_array();
	for (size_t i = 0; list && i < dom->cfg.vcpus; i++) {
		struct json_object *o = json_object_new_object();
		const char *state = dom->state == DOMAIN_PAUSED                 ? "paused"
		                    : json_object_get_boolean(item(running, i)) ? "running"
		                                                                : "blocked";

		if (!o)
			break;
		json_object_object_add(o, "vcpu", json_object_new_int64((int64_t)i));
		json_object_object_add(
		        o, "cpu",
		        json_object_new_int64(item(cpus, i) ? json_object_get_int64(item(cpus, i))
		                                            : -1));
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(
		        o, "time_s",
		        json_object_new_double(json_object_get_double(item(times, i)) / 1e9));
		json_object_object_add(
		        o, "affinity",
		        json_object_new_string(item(affinity, i)
		                                       ? json_object_get_string(item(affinity, i))
		                                       : ""));
		json_object_array_add(list, o);
	}
	json_object_put(reply);
	if (!list)
		errmsg(err, errlen, -ENOMEM, "out of memory");
	return list;
}

int domain_vcpu_pin(struct domain *dom, unsigned int vcpu, const char *cpus, char *err,
                    size_t errlen)
{
	struct json_object *reply = NULL;
	unsigned int nr = host_cpus(), bad = 0;
	char command[128], why[256];
	cpu_set_t set;
	int r = domain_need_vmm(dom, "pin a vCPU of", err, errlen);

	if (r < 0)
		return r;
	if (vcpu >= dom->cfg.vcpus)
		return errmsg(err, errlen, -EINVAL, "domain '%s' has no vCPU %u (it has %u)",
		              dom->cfg.name, vcpu, dom->cfg.vcpus);
	r = cpulist_parse(cpus, nr, &set, &bad);
	if (r == -ERANGE)
		return errmsg(err, errlen, -EINVAL,
		              "CPU list '%s': this host has no CPU %u (it has 0-%u)", cpus, bad,
		              nr - 1);
	if (r < 0)
		return errmsg(err, errlen, -EINVAL,
		              "'%s' is not a CPU list (expected e.g. 0-3,6 or all)", cpus);
	snprintf(command, sizeof(command), "vcpu-pin %u %s", vcpu, cpus);
	r = vmm_control_call(dom->paths.control, command, VCPU_CONTROL_TIMEOUT_MS, &reply, why,
	                     sizeof(why));
	json_object_put(reply);
	if (r < 0)
		return errmsg(err, errlen, -EIO, "domain '%s': pinning vCPU %u failed: %s",
		              dom->cfg.name, vcpu, why);
	log_info("domain '%s' (id %u): vCPU %u pinned to CPUs %s", dom->cfg.name, dom->id, vcpu,
	         cpus);
	return 0;
}

/* The balloon's target as the VMM has it (MiB the guest keeps); memory_mib if unknown. */
static unsigned int balloon_target(struct domain *dom)
{
	struct json_object *reply = NULL, *b, *t;
	unsigned int target = dom->cfg.memory_mib;
	char why[256];

	if (vmm_control_call(dom->paths.control, "stats", VCPU_CONTROL_TIMEOUT_MS, &reply, why,
	                     sizeof(why)) == 0 &&
	    json_object_object_get_ex(reply, "balloon", &b) &&
	    json_object_object_get_ex(b, "target_mib", &t))
		target = (unsigned int)json_object_get_int64(t);
	json_object_put(reply);
	return target;
}

unsigned int domain_vmm_ram_mib(struct domain *dom)
{
	struct json_object *reply = NULL, *m;
	unsigned int ram = 0;
	char why[256];

	if (vmm_control_call(dom->paths.control, "status", VCPU_CONTROL_TIMEOUT_MS, &reply, why,
	                     sizeof(why)) == 0 &&
	    json_object_object_get_ex(reply, "memory_mib", &m))
		ram = (unsigned int)json_object_get_int64(m);
	json_object_put(reply);
	return ram;
}

int domain_mem_max(struct domain *dom, unsigned int maxmem_mib, char *err, size_t errlen)
{
	unsigned int ram, target;
	int r = domain_need_vmm(dom, "set the maxmem of", err, errlen);

	if (r < 0)
		return r;
	if (maxmem_mib < dom->cfg.memory_mib)
		return errmsg(err, errlen, -EINVAL,
		              "maxmem %u MiB is below the memory of '%s' (%u MiB); lower it with "
		              "mem-set, maxmem stays at least its memory",
		              maxmem_mib, dom->cfg.name, dom->cfg.memory_mib);
	ram = domain_vmm_ram_mib(dom);
	if (!ram)
		return errmsg(err, errlen, -EIO, "domain '%s': its VMM does not say its RAM",
		              dom->cfg.name);
	if (maxmem_mib > ram)
		return errmsg(err, errlen, -EINVAL,
		              "maxmem %u MiB is above the %u MiB of RAM '%s' runs with: a running "
		              "domain's RAM cannot grow (set maxmem in its config and restart it)",
		              maxmem_mib, ram, dom->cfg.name);
	target = balloon_target(dom);
	if (maxmem_mib < target)
		return errmsg(
		        err, errlen, -EINVAL,
		        "maxmem %u MiB is below what '%s' keeps now (%u MiB): mem-set it lower "
		        "first",
		        maxmem_mib, dom->cfg.name, target);
	dom->cfg.maxmem_mib = maxmem_mib;
	domain_save(dom);
	log_info("domain '%s' (id %u): maxmem %u MiB", dom->cfg.name, dom->id, maxmem_mib);
	return 0;
}

int domain_mem_set(struct domain *dom, unsigned int target_mib, char *err, size_t errlen)
{
	struct json_object *reply = NULL;
	unsigned int now;
	struct host_mem mem;
	char command[64], why[256];
	int r = domain_need_vmm(dom, "set the memory of", err, errlen);

	if (r < 0)
		return r;
	if (target_mib < DOMAIN_MEM_MIB_MIN || target_mib > dom->cfg.maxmem_mib)
		return errmsg(err, errlen, -EINVAL,
		              "%u MiB is outside what '%s' can have: %u MiB (the least a domain "
		              "boots with) to %u MiB (its maxmem; see xm mem-max)",
		              target_mib, dom->cfg.name, DOMAIN_MEM_MIB_MIN, dom->cfg.maxmem_mib);
	now = balloon_target(dom);
	if (target_mib > now && host_meminfo(&mem) == 0 &&
	    mem.available_mib < (uint64_t)(target_mib - now) + dom->table->conf->dom0_min_mem_mib)
		return errmsg(err, errlen, -ENOMEM,
		              "growing '%s' by %u MiB would leave Domain-0 less than dom0-min-mem "
		              "(%u MiB; %llu MiB available)",
		              dom->cfg.name, target_mib - now, dom->table->conf->dom0_min_mem_mib,
		              (unsigned long long)mem.available_mib);
	snprintf(command, sizeof(command), "balloon %u", target_mib);
	r = vmm_control_call(dom->paths.control, command, VCPU_CONTROL_TIMEOUT_MS, &reply, why,
	                     sizeof(why));
	json_object_put(reply);
	if (r < 0)
		return errmsg(err, errlen, -EIO, "domain '%s': the balloon did not move: %s",
		              dom->cfg.name, why);
	log_info("domain '%s' (id %u): memory target %u MiB", dom->cfg.name, dom->id, target_mib);
	return 0;
}

/* After a move into a cgroup: the config's CPUs again, for each vCPU (see cgroup.h). */
static void repin(struct domain *dom)
{
	char cpus[64], err[256];

	if (dom->cfg.cpus[0])
		snprintf(cpus, sizeof(cpus), "%s", dom->cfg.cpus);
	else if (dom->cfg.cpu >= 0)
		snprintf(cpus, sizeof(cpus), "%d", dom->cfg.cpu);
	else
		return;
	for (unsigned int v = 0; v < dom->cfg.vcpus; v++)
		if (domain_vcpu_pin(dom, v, cpus, err, sizeof(err)) < 0)
			log_warn("domain '%s': %s", dom->cfg.name, err);
}

int domain_sched_set(struct domain *dom, unsigned int weight, unsigned int cap, char *err,
                     size_t errlen)
{
	int r = domain_need_vmm(dom, "set the scheduling of", err, errlen);

	if (r < 0)
		return r;
	if (cap > 100 * dom->cfg.vcpus)
		return errmsg(err, errlen, -EINVAL,
		              "cap %u%% is more than the %u vCPUs of '%s' can use (at most %u)",
		              cap, dom->cfg.vcpus, dom->cfg.name, 100 * dom->cfg.vcpus);
	if (cgroup_domain_exists(&dom->table->cgroups, dom->id)) {
		r = cgroup_domain_set(&dom->table->cgroups, dom->id, weight, cap, err, errlen);
	} else if (weight != CGROUP_WEIGHT_UNSET || cap != 0) {
		r = cgroup_domain_attach(&dom->table->cgroups, dom->id, dom->pid, weight, cap, err,
		                         errlen);
		if (r == 0)
			repin(dom);
	}
	if (r < 0)
		return r;
	dom->cfg.cpu_weight = weight;
	dom->cfg.cpu_cap = cap;
	domain_save(dom);
	log_info("domain '%s' (id %u): weight %u, cap %u%%", dom->cfg.name, dom->id, weight, cap);
	return 0;
}
