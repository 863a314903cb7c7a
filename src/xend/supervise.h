/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Starting, adopting and reaping xeno-vmm processes.  A VMM runs in a session of its own with
 * no tie to xend's lifetime (never PR_SET_PDEATHSIG): it outlives xend, and a restarted xend
 * adopts it through a pidfd.  Whoever started it, its exit status comes from waitid() when
 * xend is the parent, else from the status file the VMM writes as it exits.  Main thread.
 */
#ifndef XEND_SUPERVISE_H
#define XEND_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct xend_conf;
struct domain_config;
struct net_plan;

/* Files of one domain's VMM (absolute paths). */
struct vmm_paths {
	char dir[1024];         /* run-dir/domains/ID */
	char control[1024];     /* dir/control.sock */
	char console[1024];     /* dir/console.sock */
	char status[1024];      /* dir/status */
	char log[1024];         /* state-dir/domains/ID/vmm.log */
	char console_log[1024]; /* console-log-dir/NAME.log */
	char cgroup[4096];      /* the domain's cgroup (cgroup.h), or "": none */
};

/* The VMM's exit statuses (xeno-vmm(1), EXIT STATUS). */
enum vmm_exit_status {
	VMM_EXIT_POWEROFF = 0,
	VMM_EXIT_ERROR = 1,
	VMM_EXIT_REBOOT = 2,
	VMM_EXIT_CRASH = 3,
	VMM_EXIT_HOST = 4,
	VMM_EXIT_UNKNOWN = -1, /* killed by a signal, or no status file */
};

struct vmm_exit {
	enum vmm_exit_status status;
	char why[160]; /* "exit status 2 (reboot)", "killed by signal 9" ... */
};

/* Fills paths for domain id named name; -ENAMETOOLONG if a path does not fit. */
int supervise_paths(const struct xend_conf *conf, unsigned int id, const char *name,
                    struct vmm_paths *paths) __attribute__((warn_unused_result));

/* A VMM that restores a save file instead of booting (xeno-vmm --restore). */
struct vmm_restore {
	const char *path;
	bool no_verify; /* --restore-no-verify */
	bool copy;      /* --restore-copy */
};

/*
 * Builds xeno-vmm's argument vector for cfg, with `--net fd=N,mac=MAC` for each vif of net
 * (N = 3 + the vif's index, as supervise_spawn() passes them) and `--disk
 * PATH,format=F,serial=VDEV[,ro][,lock=off]` for each disk in vdev order (disk_order())
 (NULL-terminated, malloc'd strings in a malloc'd array: free with supervise_argv_free).
 * With restore (else NULL), `--restore PATH` replaces the kernel, initrd and command line.
 * Returns 0, -EINVAL (more than DOMAIN_DISKS_MAX disks) or -ENOMEM.
 */
int supervise_argv(const struct xend_conf *conf, const struct domain_config *cfg,
                   const struct net_plan *net, const struct vmm_paths *paths, bool paused,
                   const struct vmm_restore *restore, char ***ret)
        __attribute__((warn_unused_result));
void supervise_argv_free(char **argv);

/*
 * Creates the domain's directories, removes what a previous VMM left in dir (sockets, status
 * file), and starts the VMM: new session, stdin /dev/null, stdout and stderr appended to the
 * VMM log, fds[i] as fd 3 + i (TAPs; each must be > 3 + nr_fds), nothing else open, default
 * signal mask and dispositions.  On success *ret_pid and *ret_pidfd are set.
 */
int supervise_spawn(char *const *argv, const struct vmm_paths *paths, const int *fds, size_t nr_fds,
                    pid_t *ret_pid, int *ret_pidfd) __attribute__((warn_unused_result));

/*
 * Waits until the VMM's control socket answers `status` (the VMM has loaded the kernel and
 * its main loop runs), the VMM exits (-ECHILD), or timeout_ms passes (-ETIMEDOUT).
 */
int supervise_wait_ready(int pidfd, const struct vmm_paths *paths, int timeout_ms)
        __attribute__((warn_unused_result));

/* The start time of process pid in clock ticks since boot (/proc/PID/stat field 22). */
int supervise_start_time(pid_t pid, uint64_t *ret) __attribute__((warn_unused_result));

/*
 * Opens a pidfd on pid if it is still the process that started at start_time (a reused pid
 * is a different process).  Returns the pidfd, or -ESRCH.
 */
int supervise_adopt(pid_t pid, uint64_t start_time) __attribute__((warn_unused_result));

/* True once the process behind pidfd has exited (its pidfd is readable). */
bool supervise_exited(int pidfd);

/*
 * Collects the exit of a VMM whose pidfd became readable: waitid() if it is xend's child
 * (which also reaps it), else the status file; fills *ret.
 */
void supervise_collect(int pidfd, const struct vmm_paths *paths, struct vmm_exit *ret);

/* Reads the status file a VMM left as it exited; VMM_EXIT_UNKNOWN if there is none. */
void supervise_read_status(const struct vmm_paths *paths, struct vmm_exit *ret);

/*
 * Ends a VMM: `quit` on its control socket, then SIGKILL if it has not exited after
 * grace_ms; waits for the exit and collects it into *ret (may be NULL).
 */
void supervise_stop(int pidfd, const struct vmm_paths *paths, int grace_ms, struct vmm_exit *ret);

/* The last lines (at most max bytes) of the VMM log, for error messages; "" if none. */
void supervise_log_tail(const struct vmm_paths *paths, char *buf, size_t max);

#endif
