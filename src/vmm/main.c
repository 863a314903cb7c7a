// SPDX-License-Identifier: GPL-2.0-only
/*
 * xeno-vmm: runs one domain under KVM until it powers off, reboots, crashes or is told to
 * quit, and says which through its exit status.
 *
 * Process model: one process per domain.  The main thread owns the event loop (control
 * socket, console, signals, stop requests); each vCPU has its own thread.  Everything this
 * process needs from the host (the kernel, the initrd, later TAP fds and disk images) is named
 * on the command line or passed in by xend, so it needs no privilege beyond /dev/kvm.
 * Only main() exits; nothing below it does, whatever the guest does.
 */
#include "common/evloop.h"
#include "common/log.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <limits.h>
#include <unistd.h>

#ifndef XENO_VERSION
#define XENO_VERSION "0"
#endif

struct vmm {
	struct vm vm;
	struct evloop *loop;
	struct console *console;
	struct control *control;
	int signal_fd;
};

static void on_stop_request(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t counter;

	(void)fd;
	(void)events;
	(void)opaque;
	(void)!read(fd, &counter, sizeof(counter));
	evloop_quit(loop);
}

static void on_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vmm *vmm = opaque;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u received, stopping the domain", si.ssi_signo);
	vm_request_stop(&vmm->vm, VM_STOP_HOST);
}

static void on_console_escape(void *opaque)
{
	struct vmm *vmm = opaque;

	vm_request_stop(&vmm->vm, VM_STOP_HOST);
}

static int setup_signals(struct vmm *vmm)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	vmm->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vmm->signal_fd < 0)
		return -errno;
	return evloop_add(vmm->loop, vmm->signal_fd, EPOLLIN, on_signal, vmm);
}

static const struct {
	const char *word; /* the status file's "reason" */
	const char *text; /* the log line's */
} stop_names[] = {
	[VM_STOP_POWEROFF] = { "poweroff", "powered off" },
	[VM_STOP_ERROR] = { "error", "failed" },
	[VM_STOP_REBOOT] = { "reboot", "asked for a reboot" },
	[VM_STOP_CRASH] = { "crash", "crashed" },
	[VM_STOP_HOST] = { "host", "stopped by the host" },
};

/*
 * The supervisor may not be our parent (xend adopts VMMs after its own restart), so the exit
 * status is also left in a file, written whole or not at all.
 */
static void write_status_file(const char *path, int status)
{
	char tmp[4096], line[96];
	int fd, len;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return;
	len = snprintf(line, sizeof(line), "{\"exit_status\": %d, \"reason\": \"%s\"}\n", status,
	               stop_names[status].word);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, line, (size_t)len) != len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_warn("cannot write the status file '%s': %s", path, strerror(errno));
		(void)unlink(tmp); /* no half-written file left behind */
	}
	if (fd >= 0)
		close(fd);
}

static int run(struct vmm *vmm, const struct vm_config *cfg)
{
	int r;

	r = evloop_new(&vmm->loop);
	if (r < 0)
		return log_error_errno(r, "cannot create the event loop");
	r = setup_signals(vmm);
	if (r < 0)
		return log_error_errno(r, "cannot set up signal handling");
	r = console_new(vmm->loop, cfg->console_path, &vmm->console);
	if (r < 0)
		return r;
	if (cfg->console_log_path) {
		r = console_open_log(vmm->console, cfg->console_log_path);
		if (r < 0)
			return r;
	}
	vmm->vm.serial_host = console_serial_host(vmm->console);
	r = vm_setup(&vmm->vm, cfg);
	if (r < 0)
		return r;
	console_connect(vmm->console, vmm->vm.serial, on_console_escape, vmm);
	r = control_new(vmm->loop, cfg->control_path, &vmm->vm, vmm->console, &vmm->control);
	if (r < 0)
		return r;
	r = evloop_add(vmm->loop, vmm->vm.stop_efd, EPOLLIN, on_stop_request, vmm);
	if (r < 0)
		return log_error_errno(r, "cannot watch stop requests");
	r = vm_start(&vmm->vm, cfg->start_paused);
	if (r < 0) {
		vm_stop_vcpus(&vmm->vm);
		return r;
	}
	log_debug("domain '%s' running: %u vCPUs, %u MiB", cfg->name, cfg->vcpus, cfg->mem_mib);
	r = evloop_run(vmm->loop);
	vm_stop_vcpus(&vmm->vm);
	if (r < 0)
		return log_error_errno(r, "event loop failed");
	return 0;
}

static void cleanup(struct vmm *vmm)
{
	control_free(vmm->control);
	/* The console goes before the VM: its last flush reads nothing from the devices. */
	console_free(vmm->console);
	vm_teardown(&vmm->vm);
	if (vmm->signal_fd >= 0)
		close(vmm->signal_fd);
	evloop_free(vmm->loop);
}

/* Moves this process into the cgroup at dir (xend's per-domain one, for CPU weights). */
static int join_cgroup(const char *dir)
{
	char path[PATH_MAX];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		r = log_error_errno(-errno, "cannot join cgroup %s", dir);
	if (fd >= 0)
		close(fd);
	return r;
}

int main(int argc, char *argv[])
{
	static struct vmm vmm = { .signal_fd = -1,
		                  .vm = { .kvm_fd = -1, .vm_fd = -1, .stop_efd = -1 } };
	struct vm_config cfg;
	char err[256], prefix[96];
	int r, status;

	r = vm_config_parse(argc, argv, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "xeno-vmm: %s\n", err);
		return VM_STOP_ERROR;
	}
	if (r == VM_CONFIG_HELP) {
		vm_config_usage(stdout);
		return 0;
	}
	if (r == VM_CONFIG_VERSION) {
		printf("xeno-vmm %s\n", XENO_VERSION);
		return 0;
	}

	snprintf(prefix, sizeof(prefix), "xeno-vmm[%s]", cfg.name);
	log_setup(prefix, cfg.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (cfg.log_path) {
		int fd = open(cfg.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

		if (fd < 0) {
			fprintf(stderr, "xeno-vmm: cannot open log '%s': %s\n", cfg.log_path,
			        strerror(errno));
			return VM_STOP_ERROR;
		}
		log_set_fd(fd);
	}

	/* Before any thread exists: every thread made later is in the cgroup from its start. */
	if (cfg.cgroup_dir && join_cgroup(cfg.cgroup_dir) < 0) {
		if (cfg.status_path)
			write_status_file(cfg.status_path, VM_STOP_ERROR);
		return VM_STOP_ERROR;
	}
	r = run(&vmm, &cfg);
	if (r < 0)
		status = VM_STOP_ERROR;
	else
		status = vmm.vm.stop_reason == VM_STOP_NONE ? VM_STOP_HOST : vmm.vm.stop_reason;
	cleanup(&vmm);
	if (r >= 0)
		log_info("domain %s (exit status %d)", stop_names[status].text, status);
	if (cfg.status_path)
		write_status_file(cfg.status_path, status);
	return status;
}
