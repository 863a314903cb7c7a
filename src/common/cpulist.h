/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CPU lists as Linux and xl write them ("0-3,6", "all"): parsed into a cpu_set_t and
 * printed back.  Shared by the VMM (--cpus, vcpu-pin) and xend (the config's cpus,
 * xm vcpu-pin).  Any thread; never logs.
 */
#ifndef XENO_COMMON_CPULIST_H
#define XENO_COMMON_CPULIST_H

#include <sched.h>
#include <stddef.h>

/*
 * Parses text ("all", or comma-separated CPUs and ranges "A-B") into *ret, allowing CPUs
 * below nr_cpus only.  Returns 0, or -EINVAL (not a CPU list, an empty one, a reversed
 * range) or -ERANGE (a CPU at or above nr_cpus); *ret_bad (if not NULL) is then the
 * first CPU out of range.
 */
int cpulist_parse(const char *text, unsigned int nr_cpus, cpu_set_t *ret, unsigned int *ret_bad);

/* Writes set as "0-3,6" (ranges merged) into buf; "" for an empty set.  Returns buf. */
char *cpulist_format(const cpu_set_t *set, char *buf, size_t len);

/* The CPUs this process may run on, counted as the kernel numbers them (highest + 1). */
unsigned int cpulist_host_cpus(void);

#endif
