/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CPU weight and cap of each domain (Xen's credit scheduler parameters), applied through
 * one cgroup per domain, PARENT/dom<ID>, that holds its VMM with all its threads, for the
 * domains given a weight or a cap (the others run as xend does): xend makes it and sets it
 * up, and the VMM joins it (xeno-vmm --cgroup) before it starts any thread.
 * (A process moved in from outside would have its threads' CPU affinity reset to the
 * cgroup's where the cpuset controller is on, undoing the config's cpus.)  Either
 * layout a Linux host may have:
 *  - cgroup v2 (Debian 12's default: the unified hierarchy at ROOT): weight -> cpu.weight,
 *    Xen's 1..65535 (default 256) scaled to 1..10000 (default 100); cap -> cpu.max,
 *    "CAP*1000 100000" (a cap in percent of one CPU per 100 ms period), or "max";
 *  - cgroup v1 (a cpu hierarchy at ROOT/cpu): weight -> cpu.shares, x4 (256 -> 1024, the
 *    default); cap -> cpu.cfs_quota_us over cpu.cfs_period_us = 100000, or -1.
 * With neither, a domain with the default weight and no cap runs as it is, and any other
 * setting is refused.  Main thread only.
 */
#ifndef XEND_CGROUP_H
#define XEND_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CGROUP_ROOT           "/sys/fs/cgroup"
#define CGROUP_PARENT         "xeno"
#define CGROUP_WEIGHT_DEFAULT 256
#define CGROUP_WEIGHT_UNSET   0 /* no weight given: the default, and no cgroup needed */
#define CGROUP_PERIOD_US      100000

enum cgroup_mode { CGROUP_UNKNOWN, CGROUP_NONE, CGROUP_V1, CGROUP_V2 };

struct cgroup_host {
	enum cgroup_mode mode; /* CGROUP_UNKNOWN until the first use */
	char root[256];        /* ROOT */
	char parent[PATH_MAX]; /* the directory of PARENT in the cpu hierarchy */
};

/* Where to look (root: CGROUP_ROOT but for tests); nothing is read or made yet. */
void cgroup_host_init(struct cgroup_host *h, const char *root);

/* "v2", "v1" or "none" (detecting the layout if not done yet). */
const char *cgroup_mode_name(struct cgroup_host *h);

/* Xen's weight as cpu.weight (v2) and cpu.shares (v1). */
unsigned int cgroup_weight_v2(unsigned int weight);
unsigned long long cgroup_shares_v1(unsigned int weight);

/*
 * For a domain about to start: given a weight (CGROUP_WEIGHT_UNSET: none given) or a cap
 * (percent of one CPU, 0: none), makes domain domid's cgroup if missing and sets them;
 * *ret_dir (len bytes) is then its directory, for the VMM to join.  With neither, *ret_dir
 * is "" and the domain runs without a cgroup of its own.  Returns 0, or -errno with err set
 * (-EOPNOTSUPP: no cpu controller).  In every call here, weight may be CGROUP_WEIGHT_UNSET,
 * which sets the default.
 */
int cgroup_domain_prepare(struct cgroup_host *h, unsigned int domid, unsigned int weight,
                          unsigned int cap, char *ret_dir, size_t len, char *err, size_t errlen);

/*
 * For a running domain not in a cgroup of its own: makes it, sets the weight and cap, and
 * moves the VMM (pid, all its threads) into it.  Where the cpuset controller is on, that
 * resets the threads' CPU affinity: the caller pins them again.
 */
int cgroup_domain_attach(struct cgroup_host *h, unsigned int domid, pid_t pid, unsigned int weight,
                         unsigned int cap, char *err, size_t errlen);

/* Whether domain domid has a cgroup of its own. */
bool cgroup_domain_exists(struct cgroup_host *h, unsigned int domid);

/* Changes the weight and cap of a domain's cgroup (which must exist). */
int cgroup_domain_set(struct cgroup_host *h, unsigned int domid, unsigned int weight,
                      unsigned int cap, char *err, size_t errlen);

/* Removes the domain's cgroup once its VMM is gone; a cgroup still in use stays. */
void cgroup_domain_remove(struct cgroup_host *h, unsigned int domid);

#endif
