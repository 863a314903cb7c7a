// SPDX-License-Identifier: GPL-2.0-only
/*
 * VMM processes: spawn (posix_spawn into a new session), readiness (inotify on the domain's
 * run directory plus the pidfd), adoption (pidfd_open checked against the start time), and
 * the exit status (waitid on the pidfd, or the status file).  Main thread only.
 */
#include "xend/supervise.h"
#include "common/mkdir_p.h"
#include "xend/conf.h"
#include "xend/disk.h"
#include "xend/domain_config.h"
#include "xend/net.h"
#include "xend/vmm_control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

static int pidfd_open_(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

static int pidfd_kill(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int supervise_paths(const struct xend_conf *conf, unsigned int id, const char *name,
                    struct vmm_paths *p)
{
	int r = 0;

	r |= fmt(p->dir, sizeof(p->dir), "%s/domains/%u", conf->run_dir, id);
	r |= fmt(p->control, sizeof(p->control), "%s/control.sock", p->dir);
	r |= fmt(p->console, sizeof(p->console), "%s/console.sock", p->dir);
	r |= fmt(p->status, sizeof(p->status), "%s/status", p->dir);
	r |= fmt(p->log, sizeof(p->log), "%s/domains/%u/vmm.log", conf->state_dir, id);
	r |= fmt(p->console_log, sizeof(p->console_log), "%s/%s.log", conf->console_log_dir, name);
	/* sun_path holds 108 bytes */
	if (r || strlen(p->control) > 107 || strlen(p->console) > 107)
		return -ENAMETOOLONG;
	return 0;
}

void supervise_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

struct argv_builder {
	char **v;
	size_t n, cap;
	bool failed;
};

static void add(struct argv_builder *b, const char *f, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv_builder *b, const char *f, ...)
{
	va_list ap;
	char *s;

	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 32;
		char **v = realloc(b->v, cap * sizeof(*v));

		if (!v) {
			b->failed = true;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0) {
		b->failed = true;
		s = NULL;
	}
	va_end(ap);
	if (s) {
		b->v[b->n++] = s;
		b->v[b->n] = NULL;
	}
}

static void add_boot(struct argv_builder *b, const struct domain_config *cfg)
{
	add(b, "--kernel");
	add(b, "%s", cfg->kernel);
	if (cfg->ramdisk) {
		add(b, "--initrd");
		add(b, "%s", cfg->ramdisk);
	}
	if (cfg->cmdline) {
		add(b, "--cmdline");
		add(b, "%s", cfg->cmdline);
	}
}

/* The saved guest needs no kernel: it may even be gone from the host since. */
static void add_restore(struct argv_builder *b, const struct vmm_restore *restore)
{
	add(b, "--restore");
	add(b, "%s", restore->path);
	if (restore->no_verify)
		add(b, "--restore-no-verify");
	if (restore->copy)
		add(b, "--restore-copy");
}

int supervise_argv(const struct xend_conf *conf, const struct domain_config *cfg,
                   const struct net_plan *net, const struct vmm_paths *paths, bool paused,
                   const struct vmm_restore *restore, char ***ret)
{
	struct argv_builder b = { 0 };
	size_t order[DOMAIN_DISKS_MAX];

	if (cfg->nr_disks > DOMAIN_DISKS_MAX)
		return -EINVAL;
	add(&b, "%s", conf->vmm_path);
	add(&b, "--name");
	add(&b, "%s", cfg->name);
	if (restore)
		add_restore(&b, restore);
	else
		add_boot(&b, cfg);
	/* The RAM is maxmem; below it, the balloon holds what is beyond memory (xl's way). */
	add(&b, "--memory");
	add(&b, "%u", cfg->maxmem_mib > cfg->memory_mib ? cfg->maxmem_mib : cfg->memory_mib);
	add(&b, "--vcpus");
	add(&b, "%u", cfg->vcpus);
	add(&b, "%s", cfg->deflate_on_oom ? "--balloon-deflate-on-oom" : "--balloon");
	if (!restore && cfg->maxmem_mib > cfg->memory_mib) {
		add(&b, "--memory-target");
		add(&b, "%u", cfg->memory_mib);
	}
	if (paths->cgroup[0]) {
		add(&b, "--cgroup");
		add(&b, "%s", paths->cgroup);
	}
	if (cfg->cpus[0]) {
		add(&b, "--cpus");
		add(&b, "%s", cfg->cpus);
	} else if (cfg->cpu >= 0) {
		add(&b, "--cpus");
		add(&b, "%d", cfg->cpu);
	}
	disk_order(cfg, order);
	for (size_t k = 0; k < cfg->nr_disks; k++) {
		const struct domain_disk *d = &cfg->disks[order[k]];

		add(&b, "--disk");
		/*
		 * Always a format: a probing VMM would take a raw disk whose guest wrote a qcow2
		 * header into it for a qcow2 image, backing file and all, at its next start.  The
		 * serial is the vdev, from which the guest makes its /dev/xvda links; `w!` drops
		 * the VMM's lock, which would refuse what the user chose to share.
		 */
		add(&b, "%s,format=%s,serial=%s%s%s%s%s", d->path,
		    domain_disk_format_name(d->format), d->vdev, d->readonly ? ",ro" : "",
		    d->force ? ",lock=off" : "",
		    d->cache == DOMAIN_CACHE_WRITEBACK ? "" : ",cache=",
		    d->cache == DOMAIN_CACHE_WRITEBACK ? "" : domain_disk_cache_name(d->cache));
	}
	for (size_t i = 0; net && i < net->nr_vifs; i++) {
		add(&b, "--net");
		add(&b, "fd=%zu,mac=%s", NET_VMM_FD_BASE + i, net->vifs[i].mac);
	}
	/* Every domain gets an entropy source: its sshd and TCP stack want one early. */
	add(&b, "--rng");
	add(&b, "--control");
	add(&b, "%s", paths->control);
	add(&b, "--console");
	add(&b, "%s", paths->console);
	add(&b, "--console-log");
	add(&b, "%s", paths->console_log);
	add(&b, "--status-file");
	add(&b, "%s", paths->status);
	add(&b, "--log");
	add(&b, "%s", paths->log);
	if (paused)
		add(&b, "--paused");
	if (b.failed) {
		supervise_argv_free(b.v);
		return -ENOMEM;
	}
	*ret = b.v;
	return 0;
}

static int parent_dir(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, path, (size_t)(slash - path));
	buf[slash - path] = 0;
	return 0;
}

static int prepare_dirs(const struct vmm_paths *paths)
{
	char dir[PATH_MAX];
	int r;

	r = mkdir_p(paths->dir, 0700, 0700);
	if (r == 0)
		r = parent_dir(paths->log, dir, sizeof(dir));
	if (r == 0)
		r = mkdir_p(dir, 0700, 0700);
	if (r == 0)
		r = parent_dir(paths->console_log, dir, sizeof(dir));
	if (r == 0)
		r = mkdir_p(dir, 0750, 0750);
	if (r < 0)
		return r;
	/* What a previous VMM of this domain left: never mistake it for the new one's. */
	(void)unlink(paths->control);
	(void)unlink(paths->console);
	(void)unlink(paths->status);
	return 0;
}

int supervise_spawn(char *const *argv, const struct vmm_paths *paths, const int *fds, size_t nr_fds,
                    pid_t *ret_pid, int *ret_pidfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t pid;
	int r, pidfd;

	r = prepare_dirs(paths);
	if (r < 0)
		return r;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	r = r
	            ?: posix_spawn_file_actions_addopen(&fa, 1, paths->log,
	                                                O_WRONLY | O_APPEND | O_CREAT, 0640);
	r = r ?: posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* Sources are above 3 + nr_fds (net_tap.c), so no dup2 overwrites a later source. */
	for (size_t i = 0; r == 0 && i < nr_fds; i++)
		r = posix_spawn_file_actions_adddup2(&fa, fds[i], NET_VMM_FD_BASE + (int)i);
	r = r ?: posix_spawn_file_actions_addclosefrom_np(&fa, NET_VMM_FD_BASE + (int)nr_fds);
	r = r
	            ?: posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	                                                       POSIX_SPAWN_SETSIGDEF);
	r = r ?: posix_spawnattr_setsigmask(&attr, &none);
	r = r ?: posix_spawnattr_setsigdefault(&attr, &all);
	r = r ?: posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r)
		return -r;
	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		/* Cannot happen for our own unreaped child; do not leave it unsupervised. */
		r = pidfd;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int supervise_wait_ready(int pidfd, const struct vmm_paths *paths, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct json_object *reply = NULL;
	char err[256], ev[4096];
	int ino, r;

	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0)
		return -errno;
	if (inotify_add_watch(ino, paths->dir, IN_CREATE | IN_MOVED_TO) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN },
			               { .fd = ino, .events = POLLIN } };
		long long left = deadline - now_ms();
		int wait_ms;

		if (supervise_exited(pidfd)) {
			r = -ECHILD;
			break;
		}
		r = vmm_control_call(paths->control, "status", (int)(left > 0 ? left : 1), &reply,
		                     err, sizeof(err));
		json_object_put(reply);
		reply = NULL;
		if (r == 0 || r == -ETIMEDOUT)
			break;
		left = deadline - now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		/*
		 * No socket yet: the next inotify event says it may be there.  A socket that
		 * exists but refuses is between bind() and listen(): look again shortly.
		 */
		wait_ms = r == -ENOENT ? (int)left : (int)(left < 10 ? left : 10);
		if (poll(p, 2, wait_ms) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		while (read(ino, ev, sizeof(ev)) > 0)
			;
	}
out:
	close(ino);
	return r;
}

int supervise_start_time(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EPROTO;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EPROTO;
	}
	if (sscanf(p, " %llu", &v) != 1)
		return -EPROTO;
	*ret = v;
	return 0;
}

int supervise_adopt(pid_t pid, uint64_t start_time)
{
	uint64_t now;
	int pidfd;

	if (pid <= 1)
		return -ESRCH;
	pidfd = pidfd_open_(pid);
	if (pidfd < 0)
		return -ESRCH;
	/* Checked after opening: the pidfd is pinned to whatever process had pid then. */
	if (supervise_start_time(pid, &now) < 0 || now != start_time || supervise_exited(pidfd)) {
		close(pidfd);
		return -ESRCH;
	}
	return pidfd;
}

bool supervise_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static const char *const status_words[] = { "poweroff", "error", "reboot", "crash", "host" };

void supervise_read_status(const struct vmm_paths *paths, struct vmm_exit *ret)
{
	struct json_object *obj, *st, *reason;
	char buf[512];
	ssize_t n;
	int fd;

	ret->status = VMM_EXIT_UNKNOWN;
	snprintf(ret->why, sizeof(ret->why),
	         "no exit status: the VMM left no status file (killed?)");
	fd = open(paths->status, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	obj = json_tokener_parse(buf);
	if (json_object_object_get_ex(obj, "exit_status", &st) &&
	    json_object_is_type(st, json_type_int)) {
		int s = json_object_get_int(st);

		json_object_object_get_ex(obj, "reason", &reason);
		ret->status = s >= 0 && s <= 4 ? (enum vmm_exit_status)s : VMM_EXIT_UNKNOWN;
		snprintf(ret->why, sizeof(ret->why), "exit status %d, %s", s,
		         reason ? json_object_get_string(reason) : "?");
	}
	json_object_put(obj);
}

void supervise_collect(int pidfd, const struct vmm_paths *paths, struct vmm_exit *ret)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (pidfd < 0 || waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0) {
		/* Not our child (adopted), or already reaped: the VMM left its status. */
		supervise_read_status(paths, ret);
		return;
	}
	if (si.si_code == CLD_EXITED) {
		int s = si.si_status;

		ret->status = s >= 0 && s <= 4 ? (enum vmm_exit_status)s : VMM_EXIT_UNKNOWN;
		snprintf(ret->why, sizeof(ret->why), "exit status %d, %s", s,
		         s >= 0 && s <= 4 ? status_words[s] : "unknown");
	} else {
		ret->status = VMM_EXIT_UNKNOWN;
		snprintf(ret->why, sizeof(ret->why), "killed by signal %d, %s", si.si_status,
		         strsignal(si.si_status));
	}
}

static bool wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		long long left = deadline - now_ms();
		int n;

		if (left < 0)
			left = 0;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return true;
		if (n == 0 || errno != EINTR)
			return false;
	}
}

void supervise_stop(int pidfd, const struct vmm_paths *paths, int grace_ms, struct vmm_exit *ret)
{
	struct json_object *reply = NULL;
	struct vmm_exit ignored;
	char err[256];

	if (!supervise_exited(pidfd)) {
		if (vmm_control_call(paths->control, "quit", grace_ms, &reply, err, sizeof(err)) ==
		    0)
			json_object_put(reply);
		if (!wait_exit(pidfd, grace_ms)) {
			(void)pidfd_kill(pidfd, SIGKILL);
			(void)wait_exit(pidfd, 10000);
		}
	}
	supervise_collect(pidfd, paths, ret ? ret : &ignored);
}

void supervise_log_tail(const struct vmm_paths *paths, char *buf, size_t max)
{
	char tail[2048], *line = NULL, *p;
	off_t size;
	ssize_t n;
	int fd;

	buf[0] = 0;
	fd = open(paths->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	n = pread(fd, tail, sizeof(tail) - 1,
	          size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = 0;
	/* The last error line, else the last line; without its timestamp. */
	for (p = strtok(tail, "\n"); p; p = strtok(NULL, "\n")) {
		if (!line || !strstr(line, "error:") || strstr(p, "error:"))
			line = p;
	}
	if (!line)
		return;
	if (line[0] >= '0' && line[0] <= '9' && strchr(line, ' '))
		line = strchr(line, ' ') + 1;
	snprintf(buf, max, "%s", line);
}
