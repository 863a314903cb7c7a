// SPDX-License-Identifier: GPL-2.0-only
/* Per-domain CPU weight and cap through cgroups v2 or v1 (cgroup.h). */
#include "xend/cgroup.h"
#include "common/errmsg.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cgroup_host_init(struct cgroup_host *h, const char *root)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->root, sizeof(h->root), "%s", root);
}

static bool exists(const char *dir, const char *file)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* Writes text to DIR/FILE (one write, as the cgroup files want).  0 or -errno. */
static int write_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	size_t len = strlen(text);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

static void detect(struct cgroup_host *h)
{
	char dir[sizeof(h->root) + 8];

	if (h->mode != CGROUP_UNKNOWN)
		return;
	h->mode = CGROUP_NONE;
	if (exists(h->root, "cgroup.controllers")) {
		h->mode = CGROUP_V2;
		snprintf(h->parent, sizeof(h->parent), "%s/%s", h->root, CGROUP_PARENT);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/cpu", h->root);
	if (exists(dir, "cpu.shares")) {
		h->mode = CGROUP_V1;
		snprintf(h->parent, sizeof(h->parent), "%s/%s", dir, CGROUP_PARENT);
	}
}

const char *cgroup_mode_name(struct cgroup_host *h)
{
	detect(h);
	return h->mode == CGROUP_V2 ? "v2" : h->mode == CGROUP_V1 ? "v1" : "none";
}

unsigned int cgroup_weight_v2(unsigned int weight)
{
	unsigned long long w = (unsigned long long)weight * 100 / CGROUP_WEIGHT_DEFAULT;

	return w < 1 ? 1 : w > 10000 ? 10000 : (unsigned int)w;
}

unsigned long long cgroup_shares_v1(unsigned int weight)
{
	unsigned long long s = (unsigned long long)weight * 1024 / CGROUP_WEIGHT_DEFAULT;

	return s < 2 ? 2 : s;
}

static void domain_dir(const struct cgroup_host *h, unsigned int domid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/dom%u", h->parent, domid);
}

/* The parent, with the cpu controller handed down to its children (v2). */
static int make_parent(struct cgroup_host *h, char *err, size_t errlen)
{
	int r;

	if (mkdir(h->parent, 0755) < 0 && errno != EEXIST)
		return errmsg(err, errlen, -errno, "cannot make cgroup %s: %s", h->parent,
		              strerror(errno));
	if (h->mode != CGROUP_V2)
		return 0;
	r = write_file(h->root, "cgroup.subtree_control", "+cpu");
	if (r == 0)
		r = write_file(h->parent, "cgroup.subtree_control", "+cpu");
	if (r < 0)
		return errmsg(err, errlen, r,
		              "cannot enable the cpu controller under %s: %s (is it delegated?)",
		              h->parent, strerror(-r));
	return 0;
}

static int set_values(const struct cgroup_host *h, const char *dir, unsigned int weight,
                      unsigned int cap, char *err, size_t errlen)
{
	char text[64];
	const char *file;
	int r;

	if (weight == CGROUP_WEIGHT_UNSET)
		weight = CGROUP_WEIGHT_DEFAULT;
	if (h->mode == CGROUP_V2) {
		file = "cpu.weight";
		snprintf(text, sizeof(text), "%u", cgroup_weight_v2(weight));
		r = write_file(dir, file, text);
		if (r == 0) {
			file = "cpu.max";
			if (cap)
				snprintf(text, sizeof(text), "%llu %u",
				         (unsigned long long)cap * CGROUP_PERIOD_US / 100,
				         CGROUP_PERIOD_US);
			else
				snprintf(text, sizeof(text), "max %u", CGROUP_PERIOD_US);
			r = write_file(dir, file, text);
		}
	} else {
		file = "cpu.shares";
		snprintf(text, sizeof(text), "%llu", cgroup_shares_v1(weight));
		r = write_file(dir, file, text);
		if (r == 0) {
			file = "cpu.cfs_period_us";
			snprintf(text, sizeof(text), "%u", CGROUP_PERIOD_US);
			r = write_file(dir, file, text);
		}
		if (r == 0) {
			file = "cpu.cfs_quota_us";
			if (cap)
				snprintf(text, sizeof(text), "%llu",
				         (unsigned long long)cap * CGROUP_PERIOD_US / 100);
			else
				snprintf(text, sizeof(text), "-1");
			r = write_file(dir, file, text);
		}
	}
	if (r < 0)
		return errmsg(err, errlen, r, "cannot write %s/%s: %s", dir, file, strerror(-r));
	return 0;
}

static int unsupported(unsigned int weight, unsigned int cap, char *err, size_t errlen)
{
	if ((weight == CGROUP_WEIGHT_UNSET || weight == CGROUP_WEIGHT_DEFAULT) && cap == 0)
		return 0;
	return errmsg(err, errlen, -EOPNOTSUPP,
	              "this host has no cpu cgroup controller (neither cgroup v2 at %s nor a v1 "
	              "cpu hierarchy): only the default weight (%d) and no cap are possible",
	              CGROUP_ROOT, CGROUP_WEIGHT_DEFAULT);
}

static int make_domain_cgroup(struct cgroup_host *h, unsigned int domid, unsigned int weight,
                              unsigned int cap, char *ret_dir, size_t len, char *err, size_t errlen)
{
	char dir[PATH_MAX + 16];
	int r = make_parent(h, err, errlen);

	if (r < 0)
		return r;
	domain_dir(h, domid, dir, sizeof(dir));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return errmsg(err, errlen, -errno, "cannot make cgroup %s: %s", dir,
		              strerror(errno));
	r = set_values(h, dir, weight, cap, err, errlen);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret_dir, len, "%s", dir) >= len)
		return errmsg(err, errlen, -ENAMETOOLONG, "cgroup path %s is too long", dir);
	return 0;
}

int cgroup_domain_prepare(struct cgroup_host *h, unsigned int domid, unsigned int weight,
                          unsigned int cap, char *ret_dir, size_t len, char *err, size_t errlen)
{
	int r;

	ret_dir[0] = 0;
	/*
	 * Nothing to enforce: the domain runs where xend runs, as it did before cgroups.  In the
	 * test host, two domains talking to each other from cpu cgroups stalled a guest (its
	 * console stopped mid-line) every time, and ran fine outside them; a domain moves into
	 * a cgroup when it is given a weight (even the default) or a cap
	 * (cgroup_domain_attach()).
	 */
	if (weight == CGROUP_WEIGHT_UNSET && cap == 0)
		return 0;
	detect(h);
	if (h->mode == CGROUP_NONE)
		return unsupported(weight, cap, err, errlen);
	r = make_domain_cgroup(h, domid, weight, cap, ret_dir, len, err, errlen);
	if (r < 0)
		ret_dir[0] = 0;
	return r;
}

int cgroup_domain_attach(struct cgroup_host *h, unsigned int domid, pid_t pid, unsigned int weight,
                         unsigned int cap, char *err, size_t errlen)
{
	char dir[PATH_MAX + 16], text[32];
	int r;

	detect(h);
	if (h->mode == CGROUP_NONE)
		return unsupported(weight, cap, err, errlen);
	r = make_domain_cgroup(h, domid, weight, cap, dir, sizeof(dir), err, errlen);
	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "%d", (int)pid);
	r = write_file(dir, "cgroup.procs", text);
	if (r < 0)
		return errmsg(err, errlen, r, "cannot move the VMM (pid %d) into %s: %s", (int)pid,
		              dir, strerror(-r));
	return 0;
}

bool cgroup_domain_exists(struct cgroup_host *h, unsigned int domid)
{
	char dir[PATH_MAX + 16];
	struct stat st;

	detect(h);
	if (h->mode == CGROUP_NONE)
		return false;
	domain_dir(h, domid, dir, sizeof(dir));
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int cgroup_domain_set(struct cgroup_host *h, unsigned int domid, unsigned int weight,
                      unsigned int cap, char *err, size_t errlen)
{
	char dir[PATH_MAX + 16];

	detect(h);
	if (h->mode == CGROUP_NONE)
		return unsupported(weight, cap, err, errlen);
	domain_dir(h, domid, dir, sizeof(dir));
	return set_values(h, dir, weight, cap, err, errlen);
}

void cgroup_domain_remove(struct cgroup_host *h, unsigned int domid)
{
	char dir[PATH_MAX + 16];

	detect(h);
	if (h->mode == CGROUP_NONE)
		return;
	domain_dir(h, domid, dir, sizeof(dir));
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_debug("cannot remove cgroup %s: %s", dir, strerror(errno));
}
