// SPDX-License-Identifier: GPL-2.0-only
/*
 * Domains: the table, each domain's VMM, and what happens when a VMM exits.  Main thread
 * only.  The rule that keeps restarts safe: every change of a domain is written to its record
 * (store.c) before the function that made it returns, so an xend killed at any point finds
 * on disk what it needs to adopt the VMMs or apply their on_* actions.
 */
#include "xend/domain.h"
#include "common/cpulist.h"
#include "common/errmsg.h"
#include "common/evloop.h"
#include "common/log.h"
#include "xend/conf.h"
#include "xend/console.h"
#include "xend/disk.h"
#include "xend/host.h"
#include "xend/net.h"
#include "xend/net_pool.h"
#include "xend/store.h"
#include "xend/vmm_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a new VMM may take to load its kernel and answer on its control socket. */
#define READY_TIMEOUT_MS 60000
/* A VMM asked to quit gets this long before SIGKILL. */
#define STOP_GRACE_MS 3000
/* A domain that crashes sooner than this after starting is not restarted again. */
#define MIN_RESTART_INTERVAL_MS 10000

static const char *const state_names[DOMAIN_STATE_COUNT] = {
	[DOMAIN_RUNNING] = "running", [DOMAIN_PAUSED] = "paused", [DOMAIN_SHUTDOWN] = "shutdown",
	[DOMAIN_CRASHED] = "crashed", [DOMAIN_DYING] = "dying",
};

const char *domain_state_name(enum domain_state state)
{
	return (size_t)state < DOMAIN_STATE_COUNT ? state_names[state] : "dying";
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void domain_table_init(struct domain_table *t, const struct xend_conf *conf, struct evloop *loop)
{
	memset(t, 0, sizeof(*t));
	t->conf = conf;
	t->loop = loop;
	t->next_id = 1;
	event_log_init(&t->events);
	cgroup_host_init(&t->cgroups, CGROUP_ROOT);
}

/* Logs an event for dom in its current state (none for a destroyed one). */
static void announce(struct domain *dom, enum event_type type, const char *reason)
{
	event_log_add(&dom->table->events, type, dom->id, dom->cfg.name,
	              type == EVENT_DESTROYED ? NULL : domain_state_name(dom->state), reason);
}

static void changed(struct domain_table *t)
{
	/* The NAT redirects follow the domains that have a VMM. */
	net_host_sync(t);
	t->seq++;
	if (t->changed)
		t->changed(t->changed_opaque);
}

struct domain *domain_lookup_id(struct domain_table *t, unsigned int id)
{
	for (struct domain *d = t->list; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

struct domain *domain_lookup(struct domain_table *t, const char *dom)
{
	bool digits = *dom != 0 && strlen(dom) <= 9;

	for (const char *p = dom; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	if (digits)
		return domain_lookup_id(t, (unsigned int)strtoul(dom, NULL, 10));
	for (struct domain *d = t->list; d; d = d->next)
		if (strcmp(d->cfg.name, dom) == 0)
			return d;
	return NULL;
}

static void link_domain(struct domain_table *t, struct domain *dom)
{
	struct domain **pp = &t->list;

	while (*pp && (*pp)->id < dom->id)
		pp = &(*pp)->next;
	dom->next = *pp;
	*pp = dom;
	dom->table = t;
}

static void unlink_domain(struct domain_table *t, struct domain *dom)
{
	for (struct domain **pp = &t->list; *pp; pp = &(*pp)->next) {
		if (*pp == dom) {
			*pp = dom->next;
			return;
		}
	}
}

/* ---- Records ---- */

static struct json_object *record_json(const struct domain *dom)
{
	struct json_object *o = json_object_new_object(), *vmm = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(dom->id));
	json_object_object_add(o, "state", json_object_new_string(domain_state_name(dom->state)));
	json_object_object_add(o, "start_time", json_object_new_double(dom->start_time));
	json_object_object_add(o, "cpu_time_s", json_object_new_double(dom->cpu_time_s));
	json_object_object_add(o, "reboot_requested",
	                       json_object_new_boolean(dom->reboot_requested));
	json_object_object_add(o, "boots", json_object_new_int64(dom->boots));
	json_object_object_add(o, "config", domain_config_to_json(&dom->cfg));
	json_object_object_add(o, "network", net_plan_to_json(&dom->net));
	json_object_object_add(o, "network_setup_us", json_object_new_int64(dom->network_setup_us));
	json_object_object_add(vmm, "pid", json_object_new_int64(dom->pid));
	json_object_object_add(vmm, "pid_start", json_object_new_int64((int64_t)dom->pid_start));
	json_object_object_add(vmm, "dir", json_object_new_string(dom->paths.dir));
	json_object_object_add(vmm, "control", json_object_new_string(dom->paths.control));
	json_object_object_add(vmm, "console", json_object_new_string(dom->paths.console));
	json_object_object_add(vmm, "status", json_object_new_string(dom->paths.status));
	json_object_object_add(vmm, "log", json_object_new_string(dom->paths.log));
	json_object_object_add(vmm, "console_log", json_object_new_string(dom->paths.console_log));
	json_object_object_add(o, "vmm", vmm);
	return o;
}

static void save(struct domain *dom)
{
	struct json_object *rec = record_json(dom);
	int r = rec ? store_save_domain(dom->table->conf->state_dir, dom->id, rec) : -ENOMEM;

	json_object_put(rec);
	if (r < 0)
		(void)log_error_errno(r, "domain '%s': cannot write its record", dom->cfg.name);
}

void domain_save(struct domain *dom)
{
	save(dom);
}

static void save_next_id(struct domain_table *t)
{
	int r = store_save_next_id(t->conf->state_dir, t->next_id);

	if (r < 0)
		(void)log_error_errno(r, "cannot write the next domain id");
}

/* ---- Lifecycle helpers ---- */

static void on_pidfd(struct evloop *loop, int fd, uint32_t events, void *opaque);

static void domain_free(struct domain *dom)
{
	if (!dom)
		return;
	if (dom->pidfd >= 0) {
		evloop_remove(dom->table->loop, dom->pidfd);
		close(dom->pidfd);
	}
	console_free(dom->con);
	domain_config_fini(&dom->cfg);
	net_plan_fini(&dom->net);
	free(dom);
}

/* Removes dom for good: record, run directory, table entry.  reason may be NULL. */
static void domain_remove(struct domain *dom, const char *reason)
{
	struct domain_table *t = dom->table;

	announce(dom, EVENT_DESTROYED, reason);
	net_domain_teardown(dom);
	cgroup_domain_remove(&t->cgroups, dom->id);
	store_remove_domain(t->conf->state_dir, dom->id);
	(void)unlink(dom->paths.control);
	(void)unlink(dom->paths.console);
	(void)unlink(dom->paths.status);
	(void)rmdir(dom->paths.dir);
	unlink_domain(t, dom);
	domain_free(dom);
	changed(t);
}

/* The kernel and initrd exist, so that a typo is a 400, not a failed VMM. */
static int check_boot_files(const struct domain_config *cfg, char *err, size_t errlen)
{
	struct stat st;

	if (stat(cfg->kernel, &st) < 0)
		return errmsg(err, errlen, -EINVAL, "kernel '%s': %s", cfg->kernel,
		              strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errmsg(err, errlen, -EINVAL, "kernel '%s': not a regular file", cfg->kernel);
	if (cfg->ramdisk && stat(cfg->ramdisk, &st) < 0)
		return errmsg(err, errlen, -EINVAL, "ramdisk '%s': %s", cfg->ramdisk,
		              strerror(errno));
	if (cfg->ramdisk && !S_ISREG(st.st_mode))
		return errmsg(err, errlen, -EINVAL, "ramdisk '%s': not a regular file",
		              cfg->ramdisk);
	return 0;
}

/*
 * The disks exist (or are overlays disk_prepare() makes, when creating: a restored guest
 * needs the very disk it was saved with).
 */
static int check_disks(const struct domain_config *cfg, bool creating, char *err, size_t errlen)
{
	struct stat st;

	for (size_t i = 0; i < cfg->nr_disks; i++) {
		const char *p = cfg->disks[i].path;

		if (creating && stat(p, &st) < 0 && errno == ENOENT && cfg->disks[i].backing)
			continue;
		if (stat(p, &st) < 0)
			return errmsg(err, errlen, -EINVAL, "disk '%s': %s", p, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return errmsg(err, errlen, -EINVAL,
			              "disk '%s': expected a file or a block device", p);
	}
	return 0;
}

/*
 * The sharing rule (disk.h) between cfg and every other domain that has disks, whether or
 * not its VMM runs now: a preserved domain keeps its disks, as on Xen.
 */
static int check_sharing(struct domain_table *t, const struct domain_config *cfg, char *err,
                         size_t errlen)
{
	struct disk_uses held = { 0 }, want = { 0 };
	int r = 0;

	for (struct domain *d = t->list; d && r == 0; d = d->next) {
		if (d->state != DOMAIN_DYING)
			r = disk_uses_add(&held, &d->cfg, d->cfg.name, false, err, errlen);
	}
	r = r ?: disk_uses_add(&want, cfg, cfg->name, true, err, errlen);
	r = r ?: disk_uses_check(&held, &want, err, errlen);
	disk_uses_fini(&held);
	disk_uses_fini(&want);
	if (r < 0 && r != -EBUSY && r != -ENOMEM)
		r = -EINVAL; /* a disk that cannot be read is the request's fault */
	return r;
}

uint64_t domain_table_committed_mib(struct domain_table *t)
{
	uint64_t sum = 0;

	for (struct domain *d = t->list; d; d = d->next) {
		uint64_t rss;

		if (d->pid <= 0)
			continue;
		rss = host_process_rss_mib(d->pid);
		if (rss < d->cfg.memory_mib)
			sum += d->cfg.memory_mib - rss;
	}
	return sum;
}

/* The CPUs of cpus or cpu exist on this host. */
static int check_cpus(const struct domain_config *cfg, char *err, size_t errlen)
{
	unsigned int nr = host_cpus(), bad = 0;
	cpu_set_t set;

	if (cfg->cpus[0] && cpulist_parse(cfg->cpus, nr, &set, &bad) == -ERANGE)
		return errmsg(err, errlen, -EINVAL,
		              "cpus \"%s\": this host has no CPU %u (it has 0-%u)", cfg->cpus, bad,
		              nr - 1);
	if (cfg->cpu >= 0 && (unsigned int)cfg->cpu >= nr)
		return errmsg(err, errlen, -EINVAL, "cpu %d: this host has CPUs 0-%u", cfg->cpu,
		              nr - 1);
	return 0;
}

static int check_memory(struct domain_table *t, const struct domain_config *cfg, char *err,
                        size_t errlen)
{
	uint64_t committed = domain_table_committed_mib(t), left;
	struct host_mem mem;
	int r = host_meminfo(&mem);

	if (r < 0)
		return errmsg(err, errlen, r, "cannot read /proc/meminfo: %s", strerror(-r));
	left = mem.available_mib > committed + cfg->memory_mib
	               ? mem.available_mib - committed - cfg->memory_mib
	               : 0;
	if (left < t->conf->dom0_min_mem_mib)
		return errmsg(
		        err, errlen, -ENOMEM,
		        "not enough memory for '%s': %u MiB would leave %llu MiB to Domain-0, "
		        "less than dom0-min-mem (%u MiB); the host has %llu MiB available, "
		        "%llu MiB of it promised to running domains",
		        cfg->name, cfg->memory_mib, (unsigned long long)left,
		        t->conf->dom0_min_mem_mib, (unsigned long long)mem.available_mib,
		        (unsigned long long)committed);
	return 0;
}

/* Connects the console relay to the VMM (and opens its TCP port once). */
static void connect_console(struct domain *dom, bool replace_ring)
{
	const struct xend_conf *conf = dom->table->conf;
	unsigned int port;
	int r;

	if (!dom->con && console_new(dom->table->loop, dom->cfg.name, &dom->con) < 0) {
		log_error("domain '%s': no memory for its console", dom->cfg.name);
		return;
	}
	r = console_connect(dom->con, dom->paths.console, replace_ring);
	if (r < 0)
		(void)log_warn_errno(r, "domain '%s': cannot connect to its console '%s'",
		                     dom->cfg.name, dom->paths.console);
	/* A port in the domain's config (Xen 2.0's `console =`) wins over xend.conf's scheme. */
	port = dom->cfg.console_port;
	if (!port && conf->console_tcp && conf->console_tcp_base + dom->id <= 65535)
		port = conf->console_tcp_base + dom->id;
	if (port && !console_tcp_port(dom->con)) {
		r = console_listen_tcp(dom->con, (uint16_t)port);
		if (r < 0)
			(void)log_warn_errno(r, "domain '%s': no console on TCP port %u, skipping",
			                     dom->cfg.name, port);
	}
}

static int watch(struct domain *dom)
{
	int r = evloop_add(dom->table->loop, dom->pidfd, EPOLLIN, on_pidfd, dom);

	if (r < 0)
		(void)log_error_errno(r, "domain '%s': cannot watch its VMM", dom->cfg.name);
	return r;
}

/*
 * Starts a VMM for dom and waits until it answers.  On failure nothing runs and err says
 * why (the VMM's own last error line when it exited).
 */
static int start_vmm(struct domain *dom, bool paused, const struct domain_restore *rs, char *err,
                     size_t errlen)
{
	struct vmm_restore restore = { rs ? rs->path : NULL, rs && rs->no_verify, rs && rs->copy };
	const struct xend_conf *conf = dom->table->conf;
	struct vmm_exit ex;
	char **argv = NULL, tail[512];
	int r, pidfd, fds[NET_VIFS_MAX];
	pid_t pid;

	/* Its cgroup, TAPs, routes and anti-spoofing rules exist before its VMM does. */
	r = cgroup_domain_prepare(&dom->table->cgroups, dom->id, dom->cfg.cpu_weight,
	                          dom->cfg.cpu_cap, dom->paths.cgroup, sizeof(dom->paths.cgroup),
	                          err, errlen);
	if (r < 0)
		return r;
	r = net_domain_setup(dom, fds, err, errlen);
	if (r < 0)
		return r;
	r = supervise_argv(conf, &dom->cfg, &dom->net, &dom->paths, paused, rs ? &restore : NULL,
	                   &argv);
	if (r == 0)
		r = supervise_spawn(argv, &dom->paths, fds, dom->net.nr_vifs, &pid, &pidfd);
	supervise_argv_free(argv);
	/* The VMM holds the TAPs now (or nobody does, and they vanish). */
	net_fds_close(fds, dom->net.nr_vifs);
	if (r < 0) {
		net_domain_teardown(dom);
		return errmsg(err, errlen, r == -ENOMEM ? r : -EIO, "cannot start '%s': %s",
		              conf->vmm_path, strerror(-r));
	}
	/* Recorded before waiting: an xend killed now finds the VMM at its next start. */
	dom->pid = pid;
	if (supervise_start_time(pid, &dom->pid_start) < 0)
		dom->pid_start = 0;
	dom->state = paused ? DOMAIN_PAUSED : DOMAIN_RUNNING;
	save(dom);
	/*
	 * On the main thread, as for create: the API threads wait meanwhile.  A restore may take
	 * longer than a boot (it reads and checks the file first), so it has its own limit.
	 */
	r = supervise_wait_ready(pidfd, &dom->paths, rs ? rs->ready_timeout_ms : READY_TIMEOUT_MS);
	if (r < 0) {
		supervise_stop(pidfd, &dom->paths, STOP_GRACE_MS, &ex);
		close(pidfd);
		dom->pid = 0;
		net_domain_teardown(dom);
		supervise_log_tail(&dom->paths, tail, sizeof(tail));
		/* An image lock held elsewhere is a conflict, as xend's own refusal is. */
		if (r == -ECHILD)
			return errmsg(err, errlen, strstr(tail, "in use by") ? -EBUSY : -EIO,
			              "the VMM of '%s' did not start: %s%s%s", dom->cfg.name,
			              ex.why, tail[0] ? ": " : "", tail);
		return errmsg(err, errlen, r == -ETIMEDOUT ? -ETIMEDOUT : -EIO,
		              "the VMM of '%s' did not answer on '%s': %s", dom->cfg.name,
		              dom->paths.control, strerror(-r));
	}
	dom->pidfd = pidfd;
	dom->start_time = host_now();
	dom->boot_ms = now_ms();
	dom->boots++;
	dom->cpu_time_s = 0;
	dom->state = paused ? DOMAIN_PAUSED : DOMAIN_RUNNING;
	r = watch(dom);
	if (r < 0) {
		errmsg(err, errlen, r, "cannot watch the VMM: %s", strerror(-r));
		supervise_stop(pidfd, &dom->paths, STOP_GRACE_MS, NULL);
		close(pidfd);
		dom->pidfd = -1;
		dom->pid = 0;
		net_domain_teardown(dom);
	}
	return r;
}

static void log_vifs(const struct domain *dom)
{
	for (size_t i = 0; i < dom->net.nr_vifs; i++) {
		const struct net_vif *v = &dom->net.vifs[i];
		char a[16];

		log_info("domain '%s': vif %zu: %s, %s, %s%s%s%zu address%s", dom->cfg.name, i,
		         v->tap, v->mac, v->bridge[0] ? "bridge " : "routed",
		         v->bridge[0] ? v->bridge : "", v->bridge[0] ? ", " : ", ", v->nr_addrs,
		         v->nr_addrs == 1 ? "" : "es");
		if (i == 0 && dom->net.linklocal)
			log_info("domain '%s': link-local %s", dom->cfg.name,
			         net_addr_format(dom->net.linklocal, a));
	}
	if (dom->cfg.nr_vifs && !dom->net.nr_vifs)
		log_info("domain '%s': %zu vif(s) not connected (network = \"none\")",
		         dom->cfg.name, dom->cfg.nr_vifs);
}

/* Create's checks of a new domain before anything is made; restoring, for a saved one. */
static int check_new(struct domain_table *t, struct domain *dom, const struct domain_restore *rs,
                     char *err, size_t errlen)
{
	int r = 0;

	if (domain_lookup(t, dom->cfg.name))
		r = errmsg(err, errlen, -EEXIST, "a domain named '%s' exists already",
		           dom->cfg.name);
	if (r == 0 && !rs)
		r = check_boot_files(&dom->cfg, err, errlen);
	if (r == 0)
		r = check_disks(&dom->cfg, !rs, err, errlen);
	if (r == 0)
		r = check_sharing(t, &dom->cfg, err, errlen);
	if (r == 0)
		r = check_cpus(&dom->cfg, err, errlen);
	if (r == 0)
		r = check_memory(t, &dom->cfg, err, errlen);
	if (r == 0 && supervise_paths(t->conf, dom->id, dom->cfg.name, &dom->paths) < 0)
		r = errmsg(err, errlen, -ENAMETOOLONG,
		           "the paths of domain %u are too long (run-dir, "
		           "state-dir or console-log-dir)",
		           dom->id);
	if (r == 0)
		r = rs ? net_domain_plan_restored(t, dom, rs->net, err, errlen)
		       : net_domain_plan(t, dom, err, errlen);
	return r;
}

static void log_created(const struct domain *dom, bool paused, const struct domain_restore *rs)
{
	log_info("domain '%s' (id %u) %s: pid %d, %u MiB, %u vCPUs%s", dom->cfg.name, dom->id,
	         rs ? "restored" : "created", (int)dom->pid, dom->cfg.memory_mib, dom->cfg.vcpus,
	         paused ? ", paused" : "");
	if (rs)
		log_info("domain '%s': restored from '%s'%s%s", dom->cfg.name, rs->path,
		         rs->no_verify ? ", memory not verified" : "",
		         rs->copy ? ", memory copied" : "");
	log_vifs(dom);
}

/* domain_create() and domain_restore(): rs is NULL for a boot. */
static int create(struct domain_table *t, const struct domain_config *cfg,
                  const struct domain_restore *rs, struct domain **ret, char *err, size_t errlen)
{
	struct domain *dom = calloc(1, sizeof(*dom));
	bool created[DOMAIN_DISKS_MAX] = { false };
	bool paused = rs ? rs->paused : cfg->start_paused;
	int r;

	if (!dom)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	dom->pidfd = -1;
	dom->table = t;
	r = domain_config_copy(&dom->cfg, cfg);
	if (r < 0) {
		free(dom);
		return errmsg(err, errlen, r, "out of memory");
	}
	dom->id = t->next_id;
	/* A saved config was resolved when the domain was created. */
	r = rs ? 0 : domain_config_substitute(&dom->cfg, dom->id, err, errlen);
	r = r ?: check_new(t, dom, rs, err, errlen);
	if (r < 0)
		goto fail;
	/* From here the id is spent, whatever happens: ids are never reused. */
	t->next_id++;
	save_next_id(t);
	/* An overlay created now is the domain's disk from then on: destroy keeps it. */
	r = rs ? 0 : disk_prepare(&dom->cfg, created, err, errlen);
	if (r < 0) {
		r = r == -ENOMEM ? r : -EINVAL;
		goto fail;
	}
	r = start_vmm(dom, paused, rs, err, errlen);
	if (r < 0) {
		if (!rs)
			disk_unprepare(&dom->cfg, created);
		goto fail;
	}
	link_domain(t, dom);
	connect_console(dom, true);
	save(dom);
	log_created(dom, paused, rs);
	announce(dom, EVENT_CREATED, rs ? "restored" : NULL);
	changed(t);
	*ret = dom;
	return 0;
fail:
	if (dom->paths.dir[0]) {
		store_remove_domain(t->conf->state_dir, dom->id);
		/* What a VMM that failed may have left: the run directory goes too. */
		(void)unlink(dom->paths.control);
		(void)unlink(dom->paths.console);
		(void)unlink(dom->paths.status);
		(void)rmdir(dom->paths.dir);
	}
	cgroup_domain_remove(&t->cgroups, dom->id);
	domain_config_fini(&dom->cfg);
	net_plan_fini(&dom->net);
	free(dom);
	return r;
}

int domain_create(struct domain_table *t, const struct domain_config *cfg, struct domain **ret,
                  char *err, size_t errlen)
{
	return create(t, cfg, NULL, ret, err, errlen);
}

int domain_restore(struct domain_table *t, const struct domain_config *cfg,
                   const struct domain_restore *rs, struct domain **ret, char *err, size_t errlen)
{
	return create(t, cfg, rs, ret, err, errlen);
}

/* ---- VMM exits and the on_* actions ---- */

enum exit_kind { EXIT_POWEROFF, EXIT_REBOOT, EXIT_CRASH, EXIT_HOST };

static void restart(struct domain *dom, const char *why)
{
	char err[512];
	int r;

	log_info("domain '%s' (id %u): %s; restarting it", dom->cfg.name, dom->id, why);
	dom->reboot_requested = false;
	r = start_vmm(dom, false, NULL, err, sizeof(err));
	if (r < 0) {
		log_error("domain '%s': restart failed, keeping it as crashed: %s", dom->cfg.name,
		          err);
		dom->state = DOMAIN_CRASHED;
		console_detach_all(dom->con);
		save(dom);
		announce(dom, EVENT_CRASHED, "its restart failed");
		return;
	}
	connect_console(dom, false);
	save(dom);
	announce(dom, EVENT_RESTARTED, why);
}

/* Applies the domain's action for how its VMM ended (the VMM is gone and reaped). */
static void apply_exit(struct domain *dom, enum exit_kind kind, const char *why)
{
	enum domain_action action = dom->cfg.on_crash;
	const char *what = "crashed";
	long long up_ms = now_ms() - dom->boot_ms;

	/* The VMM is gone and its TAPs with it: what remains goes, restart or not. */
	net_domain_teardown(dom);
	if (kind == EXIT_HOST) {
		log_info("domain '%s' (id %u) was stopped by the host (%s); removing it",
		         dom->cfg.name, dom->id, why);
		domain_remove(dom, why);
		return;
	}
	if (kind == EXIT_POWEROFF) {
		action = dom->cfg.on_poweroff;
		what = "powered off";
	} else if (kind == EXIT_REBOOT) {
		action = dom->cfg.on_reboot;
		what = "rebooted";
	}
	if (action == DOMAIN_ACTION_RESTART && kind == EXIT_CRASH && dom->boot_ms &&
	    up_ms < MIN_RESTART_INTERVAL_MS) {
		log_warn("domain '%s' (id %u) crashed %lld ms after it started (%s): not "
		         "restarting it again",
		         dom->cfg.name, dom->id, up_ms, why);
		action = DOMAIN_ACTION_PRESERVE;
	}
	/* How the guest ended; what xend does about it follows as an event of its own. */
	event_log_add(&dom->table->events, kind == EXIT_CRASH ? EVENT_CRASHED : EVENT_SHUTDOWN,
	              dom->id, dom->cfg.name,
	              domain_state_name(kind == EXIT_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTDOWN),
	              kind == EXIT_CRASH    ? why
	              : kind == EXIT_REBOOT ? "reboot"
	                                    : "poweroff");
	switch (action) {
	case DOMAIN_ACTION_RESTART:
		restart(dom, what);
		break;
	case DOMAIN_ACTION_PRESERVE:
		log_info("domain '%s' (id %u) %s (%s); preserved", dom->cfg.name, dom->id, what,
		         why);
		dom->state = kind == EXIT_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTDOWN;
		console_detach_all(dom->con);
		save(dom);
		break;
	case DOMAIN_ACTION_DESTROY:
	default:
		log_info("domain '%s' (id %u) %s (%s); destroying it", dom->cfg.name, dom->id, what,
		         why);
		domain_remove(dom, NULL);
		return;
	}
	changed(dom->table);
}

static enum exit_kind classify(const struct domain *dom, const struct vmm_exit *ex)
{
	switch (ex->status) {
	case VMM_EXIT_POWEROFF:
		return dom->reboot_requested ? EXIT_REBOOT : EXIT_POWEROFF;
	case VMM_EXIT_REBOOT:
		return EXIT_REBOOT;
	case VMM_EXIT_HOST:
		return EXIT_HOST;
	case VMM_EXIT_CRASH:
	case VMM_EXIT_ERROR:
	case VMM_EXIT_UNKNOWN:
	default:
		return EXIT_CRASH;
	}
}

static void log_crash_details(const struct domain *dom, const struct vmm_exit *ex)
{
	char tail[512];

	if (ex->status == VMM_EXIT_POWEROFF || ex->status == VMM_EXIT_REBOOT ||
	    ex->status == VMM_EXIT_HOST)
		return;
	supervise_log_tail(&dom->paths, tail, sizeof(tail));
	if (tail[0])
		log_warn("domain '%s': the VMM's last words: %s", dom->cfg.name, tail);
}

static void on_pidfd(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct domain *dom = opaque;
	struct vmm_exit ex;

	(void)events;
	evloop_remove(loop, fd);
	supervise_collect(fd, &dom->paths, &ex);
	close(fd);
	dom->pidfd = -1;
	dom->pid = 0;
	dom->pid_start = 0;
	console_disconnect(dom->con);
	log_crash_details(dom, &ex);
	apply_exit(dom, classify(dom, &ex), ex.why);
}

/* ---- Operations ---- */

void domain_destroy(struct domain *dom, struct json_object **ret_record)
{
	struct vmm_exit ex;

	dom->state = DOMAIN_DYING;
	save(dom);
	if (dom->pidfd >= 0) {
		evloop_remove(dom->table->loop, dom->pidfd);
		supervise_stop(dom->pidfd, &dom->paths, STOP_GRACE_MS, &ex);
		close(dom->pidfd);
		dom->pidfd = -1;
		log_info("domain '%s' (id %u) destroyed (VMM: %s)", dom->cfg.name, dom->id, ex.why);
	} else {
		log_info("domain '%s' (id %u) destroyed", dom->cfg.name, dom->id);
	}
	dom->pid = 0;
	if (ret_record)
		*ret_record = domain_to_json(dom, false);
	domain_remove(dom, "requested");
}

int domain_need_vmm(struct domain *dom, const char *op, char *err, size_t errlen)
{
	if (dom->pidfd < 0 || dom->state == DOMAIN_DYING)
		return errmsg(err, errlen, -EBUSY,
		              "cannot %s '%s': it is %s (no VMM runs; destroy it)", op,
		              dom->cfg.name, domain_state_name(dom->state));
	if (dom->saving)
		return errmsg(err, errlen, -EBUSY,
		              "cannot %s '%s': it is being saved (wait for the save to end)", op,
		              dom->cfg.name);
	return 0;
}

static int control(struct domain *dom, const char *command, char *err, size_t errlen)
{
	struct json_object *reply = NULL;
	char why[256];
	int r = vmm_control_call(dom->paths.control, command, VMM_CONTROL_TIMEOUT_MS, &reply, why,
	                         sizeof(why));

	json_object_put(reply);
	if (r < 0)
		return errmsg(err, errlen, r == -ETIMEDOUT ? r : -EIO,
		              "'%s' on domain '%s' failed: %s", command, dom->cfg.name,
		              why[0] ? why : strerror(-r));
	return 0;
}

int domain_pause(struct domain *dom, char *err, size_t errlen)
{
	int r = domain_need_vmm(dom, "pause", err, errlen);

	if (r < 0)
		return r;
	if (dom->state == DOMAIN_PAUSED)
		return errmsg(err, errlen, -EALREADY, "domain '%s' is already paused",
		              dom->cfg.name);
	r = control(dom, "pause", err, errlen);
	if (r < 0)
		return r;
	dom->state = DOMAIN_PAUSED;
	save(dom);
	announce(dom, EVENT_PAUSED, NULL);
	changed(dom->table);
	log_info("domain '%s' (id %u) paused", dom->cfg.name, dom->id);
	return 0;
}

int domain_unpause(struct domain *dom, char *err, size_t errlen)
{
	int r = domain_need_vmm(dom, "unpause", err, errlen);

	if (r < 0)
		return r;
	if (dom->state != DOMAIN_PAUSED)
		return errmsg(err, errlen, -EALREADY, "domain '%s' is not paused", dom->cfg.name);
	r = control(dom, "resume", err, errlen);
	if (r < 0)
		return r;
	dom->state = DOMAIN_RUNNING;
	save(dom);
	announce(dom, EVENT_UNPAUSED, NULL);
	changed(dom->table);
	log_info("domain '%s' (id %u) unpaused", dom->cfg.name, dom->id);
	return 0;
}

int domain_shutdown(struct domain *dom, bool reboot, char *err, size_t errlen)
{
	int r = domain_need_vmm(dom, reboot ? "reboot" : "shut down", err, errlen);

	if (r < 0)
		return r;
	/* Recorded first: if xend dies before the guest powers off, the intent survives. */
	dom->reboot_requested = reboot;
	save(dom);
	r = control(dom, "power-button", err, errlen);
	if (r < 0)
		return r;
	log_info("domain '%s' (id %u): %s requested (power button pressed)", dom->cfg.name, dom->id,
	         reboot ? "reboot" : "shutdown");
	return 0;
}

/* ---- Save ---- */

int domain_save_begin(struct domain *dom, char *meta, size_t metalen, char *err, size_t errlen)
{
	struct json_object *rec, *config;
	unsigned int ram;
	const char *text;
	int r = domain_need_vmm(dom, "save", err, errlen);

	if (r < 0)
		return r;
	if (snprintf(meta, metalen, "%s/save-record.json", dom->paths.dir) >= (int)metalen)
		return errmsg(err, errlen, -ENAMETOOLONG, "the run directory's path is too long");
	rec = record_json(dom);
	if (!rec)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	json_object_object_add(rec, "saved_time", json_object_new_double(host_now()));
	/* The file holds the RAM the VMM runs with, which a mem-max may have put above maxmem. */
	ram = domain_vmm_ram_mib(dom);
	if (ram > dom->cfg.maxmem_mib && json_object_object_get_ex(rec, "config", &config))
		json_object_object_add(config, "maxmem_mib", json_object_new_int64(ram));
	text = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
	r = store_write_atomic(meta, text, strlen(text));
	json_object_put(rec);
	if (r < 0)
		return errmsg(err, errlen, -EIO, "cannot write '%s': %s", meta, strerror(-r));
	dom->saving = true;
	changed(dom->table);
	log_info("domain '%s' (id %u): saving", dom->cfg.name, dom->id);
	return 0;
}

/* The end of a plain save: the VMM goes, and the domain with it, as if destroyed. */
static void remove_saved(struct domain *dom, const char *path)
{
	struct vmm_exit ex;

	dom->state = DOMAIN_DYING;
	save(dom);
	evloop_remove(dom->table->loop, dom->pidfd);
	supervise_stop(dom->pidfd, &dom->paths, STOP_GRACE_MS, &ex);
	close(dom->pidfd);
	dom->pidfd = -1;
	dom->pid = 0;
	log_info("domain '%s' (id %u) saved to '%s' (VMM: %s)", dom->cfg.name, dom->id, path,
	         ex.why);
	domain_remove(dom, "saved");
}

/* The end of a checkpoint: the VMM left the vCPUs paused; they go on as they were. */
static int resume_checkpointed(struct domain *dom, bool was_paused, const char *path, char *err,
                               size_t errlen)
{
	char why[512];
	int r = 0;

	if (!was_paused && dom->state == DOMAIN_RUNNING)
		r = control(dom, "resume", why, sizeof(why));
	if (r < 0) {
		dom->state = DOMAIN_PAUSED;
		save(dom);
		announce(dom, EVENT_PAUSED, "its checkpoint could not resume it");
		return errmsg(err, errlen, r, "'%s' was saved to '%s' but stays paused: %s",
		              dom->cfg.name, path, why);
	}
	log_info("domain '%s' (id %u) checkpointed to '%s'", dom->cfg.name, dom->id, path);
	return 0;
}

int domain_save_end(struct domain_table *t, unsigned int id, const char *meta, const char *path,
                    bool checkpoint, bool was_paused, int r, char *err, size_t errlen)
{
	struct domain *dom = domain_lookup_id(t, id);
	char partial[4200];

	(void)unlink(meta);
	if (r < 0 && snprintf(partial, sizeof(partial), "%s.partial", path) < (int)sizeof(partial))
		(void)unlink(partial); /* the VMM's own, unless it was killed mid-way */
	if (!dom || dom->pidfd < 0) {
		char why[512];

		if (dom)
			dom->saving = false;
		snprintf(why, sizeof(why), "%s", err);
		return r < 0 ? errmsg(err, errlen, -EIO, "domain %u ended during its save: %s", id,
		                      why)
		             : 0;
	}
	dom->saving = false;
	if (r < 0) {
		log_warn("domain '%s' (id %u): save failed: %s", dom->cfg.name, dom->id, err);
		changed(t);
		return r;
	}
	if (!checkpoint) {
		remove_saved(dom, path);
		return 0;
	}
	r = resume_checkpointed(dom, was_paused, path, err, errlen);
	changed(t);
	return r;
}

/* vCPU time and whether any vCPU is on a host CPU now (xl's r and b), from the VMM. */
static void refresh_cpu_state(struct domain *dom)
{
	struct json_object *reply = NULL, *times, *running;
	char err[256];
	double ns = 0;

	dom->blocked = false;
	/* A saving VMM answers only once the file is written: keep the last figures. */
	if (dom->pidfd < 0 || dom->saving ||
	    vmm_control_call(dom->paths.control, "stats", 2000, &reply, err, sizeof(err)) < 0)
		return;
	if (json_object_object_get_ex(reply, "vcpu_time_ns", &times) &&
	    json_object_is_type(times, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(times); i++)
			ns += json_object_get_double(json_object_array_get_idx(times, i));
		dom->cpu_time_s = ns / 1e9;
	}
	if (json_object_object_get_ex(reply, "vcpus_running", &running) &&
	    json_object_is_type(running, json_type_array) && json_object_array_length(running)) {
		dom->blocked = true;
		for (size_t i = 0; i < json_object_array_length(running); i++)
			if (json_object_get_boolean(json_object_array_get_idx(running, i)))
				dom->blocked = false;
	}
	json_object_put(reply);
}

struct json_object *domain_to_json(struct domain *dom, bool refresh)
{
	struct json_object *o = json_object_new_object(), *con = json_object_new_object();

	if (!o || !con) {
		json_object_put(o);
		json_object_put(con);
		return NULL;
	}
	if (refresh)
		refresh_cpu_state(dom);
	json_object_object_add(o, "id", json_object_new_int64(dom->id));
	json_object_object_add(o, "name", json_object_new_string(dom->cfg.name));
	json_object_object_add(o, "state", json_object_new_string(domain_state_name(dom->state)));
	json_object_object_add(
	        o, "blocked",
	        json_object_new_boolean(dom->state == DOMAIN_RUNNING && dom->blocked));
	json_object_object_add(o, "memory_mib", json_object_new_int64(dom->cfg.memory_mib));
	json_object_object_add(o, "maxmem_mib", json_object_new_int64(dom->cfg.maxmem_mib));
	json_object_object_add(o, "vcpus", json_object_new_int64(dom->cfg.vcpus));
	json_object_object_add(o, "cpu_time_s", json_object_new_double(dom->cpu_time_s));
	json_object_object_add(o, "start_time", json_object_new_double(dom->start_time));
	json_object_object_add(o, "network_setup_us", json_object_new_int64(dom->network_setup_us));
	if (dom->pid > 0)
		json_object_object_add(o, "vmm_pid", json_object_new_int64(dom->pid));
	if (dom->saving)
		json_object_object_add(o, "saving", json_object_new_boolean(true));
	json_object_object_add(con, "log", json_object_new_string(dom->paths.console_log));
	if (console_tcp_port(dom->con))
		json_object_object_add(con, "tcp_port",
		                       json_object_new_int64(console_tcp_port(dom->con)));
	json_object_object_add(o, "console", con);
	json_object_object_add(o, "config", domain_config_to_json(&dom->cfg));
	return o;
}

/* ---- Start-up: records and adoption ---- */

static int get_str(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= len)
		return -EBADMSG;
	strcpy(buf, json_object_get_string(v));
	return 0;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static double get_double(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static int state_from(const char *s, enum domain_state *ret)
{
	for (int i = 0; i < DOMAIN_STATE_COUNT; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum domain_state)i;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Builds a domain from its record; nothing is adopted yet. */
static int record_load(unsigned int id, struct json_object *rec, struct domain **ret, char *err,
                       size_t errlen)
{
	struct json_object *cfg, *vmm, *rb, *net;
	struct domain *dom = calloc(1, sizeof(*dom));
	char state[32];
	int r;

	if (!dom)
		return -ENOMEM;
	dom->pidfd = -1;
	dom->id = id;
	if (!json_object_object_get_ex(rec, "config", &cfg) ||
	    !json_object_object_get_ex(rec, "vmm", &vmm)) {
		free(dom);
		return errmsg(err, errlen, -EBADMSG, "no config or vmm object");
	}
	r = domain_config_from_json(cfg, &dom->cfg, err, errlen);
	if (r < 0) {
		free(dom);
		return r;
	}
	if (get_str(rec, "state", state, sizeof(state)) < 0 || state_from(state, &dom->state) < 0 ||
	    get_str(vmm, "dir", dom->paths.dir, sizeof(dom->paths.dir)) < 0 ||
	    get_str(vmm, "control", dom->paths.control, sizeof(dom->paths.control)) < 0 ||
	    get_str(vmm, "console", dom->paths.console, sizeof(dom->paths.console)) < 0 ||
	    get_str(vmm, "status", dom->paths.status, sizeof(dom->paths.status)) < 0 ||
	    get_str(vmm, "log", dom->paths.log, sizeof(dom->paths.log)) < 0 ||
	    get_str(vmm, "console_log", dom->paths.console_log, sizeof(dom->paths.console_log)) <
	            0) {
		domain_config_fini(&dom->cfg);
		free(dom);
		return errmsg(err, errlen, -EBADMSG, "a state or path is missing or malformed");
	}
	dom->start_time = get_double(rec, "start_time");
	dom->cpu_time_s = get_double(rec, "cpu_time_s");
	dom->boots = (unsigned int)get_int(rec, "boots");
	dom->pid = (pid_t)get_int(vmm, "pid");
	dom->pid_start = (uint64_t)get_int(vmm, "pid_start");
	dom->reboot_requested = json_object_object_get_ex(rec, "reboot_requested", &rb) &&
	                        json_object_get_boolean(rb);
	dom->network_setup_us = get_int(rec, "network_setup_us");
	if (json_object_object_get_ex(rec, "network", &net) &&
	    net_plan_from_json(net, &dom->net) < 0) {
		domain_config_fini(&dom->cfg);
		free(dom);
		return errmsg(err, errlen, -EBADMSG, "its network is malformed");
	}
	*ret = dom;
	return 0;
}

/* Takes over dom's VMM if it still runs; else applies what its status file says. */
static void adopt(struct domain *dom)
{
	struct json_object *reply = NULL, *st;
	struct vmm_exit ex;
	char err[256];
	int pidfd;

	if (dom->state == DOMAIN_SHUTDOWN || dom->state == DOMAIN_CRASHED) {
		log_info("domain '%s' (id %u) kept as %s", dom->cfg.name, dom->id,
		         domain_state_name(dom->state));
		return;
	}
	pidfd = supervise_adopt(dom->pid, dom->pid_start);
	if (pidfd < 0) {
		dom->pid = 0;
		supervise_read_status(&dom->paths, &ex);
		if (dom->state == DOMAIN_DYING || ex.status == VMM_EXIT_UNKNOWN) {
			log_warn("domain '%s' (id %u): its VMM is gone (%s); removing it",
			         dom->cfg.name, dom->id, ex.why);
			domain_remove(dom, ex.why);
			return;
		}
		log_info("domain '%s' (id %u): its VMM ended while xend was away", dom->cfg.name,
		         dom->id);
		apply_exit(dom, classify(dom, &ex), ex.why);
		return;
	}
	dom->pidfd = pidfd;
	if (dom->state == DOMAIN_DYING) {
		domain_destroy(dom, NULL); /* xend died while destroying it */
		return;
	}
	net_domain_rebuild(dom);
	if (vmm_control_call(dom->paths.control, "status", 5000, &reply, err, sizeof(err)) == 0) {
		if (json_object_object_get_ex(reply, "state", &st))
			dom->state = strcmp(json_object_get_string(st), "paused") == 0
			                     ? DOMAIN_PAUSED
			                     : DOMAIN_RUNNING;
		json_object_put(reply);
	} else {
		log_warn("domain '%s' (id %u): its VMM (pid %d) runs but does not answer on '%s'; "
		         "adopted anyway",
		         dom->cfg.name, dom->id, (int)dom->pid, dom->paths.control);
	}
	dom->boot_ms = now_ms();
	if (watch(dom) < 0)
		return;
	connect_console(dom, true);
	save(dom);
	log_info("domain '%s' (id %u) adopted: pid %d, %s", dom->cfg.name, dom->id, (int)dom->pid,
	         domain_state_name(dom->state));
}

struct load_ctx {
	struct domain_table *t;
	unsigned int max_id;
};

static void on_record(void *opaque, unsigned int id, struct json_object *rec)
{
	struct load_ctx *ctx = opaque;
	struct domain *dom = NULL;
	char err[512];
	int r;

	if (id > ctx->max_id)
		ctx->max_id = id;
	r = record_load(id, rec, &dom, err, sizeof(err));
	if (r < 0) {
		log_error("domain record %u: %s; skipping it", id,
		          r == -ENOMEM ? "no memory" : err);
		return;
	}
	if (domain_lookup(ctx->t, dom->cfg.name)) {
		log_error("domain record %u: the name '%s' is taken; skipping it", id,
		          dom->cfg.name);
		domain_config_fini(&dom->cfg);
		free(dom);
		return;
	}
	link_domain(ctx->t, dom);
	adopt(dom);
}

static void on_bad_record(void *opaque, const char *path, int err)
{
	(void)opaque;
	(void)log_error_errno(err, "cannot read the domain record '%s'; skipping it", path);
}

int domain_table_load(struct domain_table *t)
{
	struct load_ctx ctx = { t, 0 };
	unsigned int next = 1;
	int r;

	net_host_start(t);
	r = store_load_next_id(t->conf->state_dir, &next);
	if (r < 0)
		(void)log_warn_errno(r,
		                     "cannot read the next domain id; counting from the records");
	r = store_load_domains(t->conf->state_dir, on_record, on_bad_record, &ctx);
	if (r < 0)
		return log_error_errno(r, "cannot read the domain records in '%s/domains'",
		                       t->conf->state_dir);
	t->next_id = next > ctx.max_id ? next : ctx.max_id + 1;
	save_next_id(t);
	changed(t);
	return 0;
}

void domain_table_fini(struct domain_table *t)
{
	net_host_stop(t);
	while (t->list) {
		struct domain *dom = t->list;

		t->list = dom->next;
		domain_free(dom);
	}
}
