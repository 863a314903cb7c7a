// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's CPU commands: vcpu-list (each vCPU's host CPU, state, time and affinity), vcpu-pin,
 * and sched-credit (a domain's weight and cap, shown or set).  libxeno calls and a table.
 *
 * Runs on xm's main thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "xm.h"

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static long long num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* text as a decimal number from 0 to max. */
static bool parse_number(const char *text, unsigned long max, unsigned int *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || end == text || *end || n > max)
		return false;
	*ret = (unsigned int)n;
	return true;
}

/* The names (or ids) of the domains a command without DOM acts on: all but Domain-0. */
static int every_domain(struct xm *xm, const char *cmd, struct xeno_domain_info **ret,
                        size_t *ret_count)
{
	int r = xeno_domain_list(xm->h, ret, ret_count);

	return r < 0 ? xm_fail(xm, cmd, NULL, r) : 0;
}

static int vcpu_rows(struct xm *xm, const char *dom)
{
	struct json_object *answer, *vcpus;
	struct xeno_domain_info info;
	char *json = NULL;
	int r = xeno_domain_get(xm->h, dom, &info);

	if (r == 0)
		r = xeno_domain_vcpus_json(xm->h, dom, &json);
	if (r < 0)
		return xm_fail(xm, "vcpu-list", dom, r);
	answer = json_tokener_parse(json);
	free(json);
	if (!answer || !json_object_object_get_ex(answer, "vcpus", &vcpus) ||
	    !json_object_is_type(vcpus, json_type_array)) {
		json_object_put(answer);
		xeno_domain_info_fini(&info);
		return xm_error("vcpu-list '%s': xend's answer has no vcpus", dom);
	}
	for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);
		const char *state = str(v, "state");
		struct json_object *t;
		double secs =
		        json_object_object_get_ex(v, "time_s", &t) ? json_object_get_double(t) : 0;

		printf("%-20s %4u %5lld %5lld %-5s %9.1f %s\n", info.name, info.id, num(v, "vcpu"),
		       num(v, "cpu"),
		       !strcmp(state, "running")   ? "r--"
		       : !strcmp(state, "blocked") ? "-b-"
		                                   : "--p",
		       secs, str(v, "affinity"));
	}
	json_object_put(answer);
	xeno_domain_info_fini(&info);
	return 0;
}

int xm_cmd_vcpu_list(struct xm *xm, const struct xm_args *args)
{
	struct xeno_domain_info *list = NULL;
	size_t count = 0;
	int status = 0;

	if (args->argc == 0 && every_domain(xm, "vcpu-list", &list, &count) != 0)
		return 1;
	printf("%-20s %4s %5s %5s %-5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State", "Time(s)",
	       "Affinity");
	for (int i = 0; i < args->argc; i++)
		status |= vcpu_rows(xm, args->argv[i]);
	for (size_t i = 0; i < count; i++)
		if (list[i].id != 0)
			status |= vcpu_rows(xm, list[i].name);
	xeno_domain_list_free(list, count);
	return status;
}

int xm_cmd_vcpu_pin(struct xm *xm, const struct xm_args *args)
{
	const char *dom = args->argv[0], *vcpu = args->argv[1], *cpus = args->argv[2];
	unsigned int n;
	int r;

	if (!parse_number(vcpu, 239, &n))
		return xm_error("vcpu-pin: '%s' is not a vCPU number (expected 0, 1, ...)", vcpu);
	r = xeno_domain_vcpu_pin(xm->h, dom, n, cpus);
	return r < 0 ? xm_fail(xm, "vcpu-pin", dom, r) : 0;
}

/* mem-set and mem-max: DOM MIB, handed to call. */
static int set_memory(struct xm *xm, const struct xm_args *args, const char *cmd,
                      int (*call)(struct xeno *, const char *, unsigned int))
{
	const char *dom = args->argv[0], *mib = args->argv[1];
	unsigned int n;
	int r;

	if (!parse_number(mib, 1048576, &n))
		return xm_error("%s: '%s' is not a size in MiB", cmd, mib);
	r = call(xm->h, dom, n);
	return r < 0 ? xm_fail(xm, cmd, dom, r) : 0;
}

int xm_cmd_mem_set(struct xm *xm, const struct xm_args *args)
{
	return set_memory(xm, args, "mem-set", xeno_domain_mem_set);
}

int xm_cmd_mem_max(struct xm *xm, const struct xm_args *args)
{
	return set_memory(xm, args, "mem-max", xeno_domain_mem_max);
}

/* What xeno cannot do to a running domain yet, said where a Xen user looks for it. */
int xm_cmd_not_yet(struct xm *xm, const struct xm_args *args)
{
	(void)xm;
	(void)args;
	return xm_error("vcpu-set: a running domain's vCPUs cannot change yet (xeno-vmm has "
	                "no ACPI CPU hotplug); set vcpus in its config and restart it, or "
	                "pin them with vcpu-pin");
}

static int sched_row(struct xm *xm, const char *dom)
{
	struct json_object *answer;
	struct xeno_domain_info info;
	char *json = NULL;
	int r = xeno_domain_get(xm->h, dom, &info);

	if (r == 0)
		r = xeno_domain_sched_json(xm->h, dom, &json);
	if (r < 0)
		return xm_fail(xm, "sched-credit", dom, r);
	answer = json_tokener_parse(json);
	free(json);
	printf("%-20s %4u %6lld %4lld\n", info.name, info.id, num(answer, "weight"),
	       num(answer, "cap"));
	json_object_put(answer);
	xeno_domain_info_fini(&info);
	return 0;
}

/* A number option within [lo, hi], or -1 when absent; -2 after printing an error. */
static long long number_option(const struct xm_args *args, int key, const char *what, long long lo,
                               long long hi)
{
	const char *v = xm_optarg(args, key);
	char *end;
	long long n;

	if (!v)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		xm_error("sched-credit: %s '%s' is not a number from %lld to %lld", what, v, lo,
		         hi);
		return -2;
	}
	return n;
}

int xm_cmd_sched_credit(struct xm *xm, const struct xm_args *args)
{
	const char *dom = xm_optarg(args, 'd');
	long long weight = number_option(args, 'w', "weight", 1, 65535);
	long long cap = number_option(args, 'c', "cap", 0, 24000);
	struct xeno_domain_info *list = NULL;
	size_t count = 0;
	int status = 0, r;

	if (weight == -2 || cap == -2)
		return 1;
	if ((weight >= 0 || cap >= 0) && !dom)
		return xm_error("sched-credit: -w and -c need -d DOM (the domain to change)");
	if (dom && (weight >= 0 || cap >= 0)) {
		r = xeno_domain_sched_set(xm->h, dom, weight > 0 ? (unsigned int)weight : 0,
		                          (int)cap);
		return r < 0 ? xm_fail(xm, "sched-credit", dom, r) : 0;
	}
	if (!dom && every_domain(xm, "sched-credit", &list, &count) != 0)
		return 1;
	printf("%-20s %4s %6s %4s\n", "Name", "ID", "Weight", "Cap");
	if (dom)
		status = sched_row(xm, dom);
	for (size_t i = 0; i < count; i++)
		if (list[i].id != 0)
			status |= sched_row(xm, list[i].name);
	xeno_domain_list_free(list, count);
	return status;
}
