// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend: the xeno control daemon.  `xend start|stop|status|restart`, `xend -F` in the
 * foreground.  This file is the command line, the daemonizing (double fork, new session, log
 * file) and the lock that keeps one xend per run-dir (flock on run-dir/xend.pid); daemon.c is
 * the running daemon.
 *
 * Process model: xend is the only long-lived privileged process.  It starts one xeno-vmm per
 * domain in a session of its own and never ties the VMMs' lives to its own: stopping or
 * killing xend stops no domain, and the next xend adopts them.  Only main() exits, and only
 * before the API is served; bad input to a running xend never ends it.
 */
#include "common/log.h"
#include "xend/conf.h"
#include "xend/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_NOT_RUNNING 3 /* `xend status`, as LSB init scripts expect */
#define STOP_TIMEOUT_S   30

struct opts {
	const char *config;
	bool foreground;
	bool debug;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: xend [--config PATH] [-F] [--debug] [start|stop|status|restart]\n"
	        "\n"
	        "  start      start the daemon in the background (the default with -F: foreground)\n"
	        "  stop       stop the daemon (SIGTERM; domains keep running)\n"
	        "  status     exit 0 if the daemon runs, 3 if not\n"
	        "  restart    stop, then start\n"
	        "\n"
	        "  -c, --config PATH   xend.conf to read (default %s)\n"
	        "  -F, --foreground    stay in the foreground, log to stderr\n"
	        "  -d, --debug         log debug messages too\n"
	        "  -h, --help          show this text\n"
	        "  -V, --version       show the version\n",
	        XEND_CONF_DEFAULT_PATH);
}

static int pid_file_path(const struct xend_conf *conf, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/xend.pid", conf->run_dir) < len ? 0 : -ENAMETOOLONG;
}

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	return (pid_t)atoi(buf);
}

/*
 * Takes the daemon lock and writes our pid.  Returns the fd to keep open for the daemon's
 * life, or -EBUSY with the holder's pid in *ret_holder.
 */
static int take_lock(const struct xend_conf *conf, pid_t *ret_holder)
{
	char path[4096], line[32];
	int fd, r;

	if (pid_file_path(conf, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (mkdir(conf->run_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		*ret_holder = read_pid(fd);
		close(fd);
		return r;
	}
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, strlen(line), 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void drop_lock(const struct xend_conf *conf, int fd)
{
	char path[4096];

	if (pid_file_path(conf, path, sizeof(path)) == 0)
		(void)unlink(path);
	close(fd);
}

/* Is a daemon running?  Returns its pid (> 0), 0 if none, or -errno. */
static pid_t running_pid(const struct xend_conf *conf, int *ret_fd)
{
	char path[4096];
	pid_t pid;
	int fd;

	*ret_fd = -1;
	if (pid_file_path(conf, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	pid = read_pid(fd);
	*ret_fd = fd;
	return pid > 0 ? pid : -EPROTO;
}

static int fail_lock(int r, pid_t holder)
{
	if (r == -EBUSY)
		fprintf(stderr, "xend: already running (pid %d)\n", (int)holder);
	else
		fprintf(stderr, "xend: cannot take the lock in the run directory: %s\n",
		        strerror(-r));
	return 1;
}

static int run_foreground(const struct xend_conf *conf, const struct opts *o)
{
	pid_t holder = 0;
	int lock_fd, status;

	log_setup("xend", o->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	lock_fd = take_lock(conf, &holder);
	if (lock_fd < 0)
		return fail_lock(lock_fd, holder);
	status = daemon_run(conf, true, -1);
	drop_lock(conf, lock_fd);
	return status;
}

static int open_log(const struct xend_conf *conf)
{
	char dir[4096];
	const char *slash = strrchr(conf->log_file, '/');

	if (slash && slash != conf->log_file) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - conf->log_file), conf->log_file);
		(void)mkdir(dir, 0750);
	}
	return open(conf->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* The grandchild: the daemon itself.  Reports to the waiting parent through ready_fd. */
static int daemon_child(const struct xend_conf *conf, const struct opts *o, int ready_fd)
{
	char msg[512];
	pid_t holder = 0;
	int log_fd, lock_fd, null_fd, status;

	umask(022);
	if (chdir("/") < 0)
		return 1;
	log_fd = open_log(conf);
	if (log_fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open the log file '%s': %s\n", conf->log_file,
		         strerror(errno));
		(void)!write(ready_fd, msg, strlen(msg));
		return 1;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		close(null_fd);
	}
	/* Whatever still reaches stderr (a library's complaint) lands in the log too. */
	dup2(log_fd, STDERR_FILENO);
	log_setup("xend", o->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	log_set_fd(log_fd);
	lock_fd = take_lock(conf, &holder);
	if (lock_fd < 0) {
		if (lock_fd == -EBUSY)
			snprintf(msg, sizeof(msg), "already running (pid %d)\n", (int)holder);
		else
			snprintf(msg, sizeof(msg), "cannot take the lock: %s\n",
			         strerror(-lock_fd));
		(void)!write(ready_fd, msg, strlen(msg));
		return 1;
	}
	status = daemon_run(conf, false, ready_fd);
	drop_lock(conf, lock_fd);
	return status;
}

static int start_daemon(const struct xend_conf *conf, const struct opts *o)
{
	char msg[512];
	size_t len = 0;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "xend: pipe: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "xend: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		_exit(daemon_child(conf, o, p[1]));
	}
	close(p[1]);
	waitpid(pid, &status, 0);
	for (;;) {
		ssize_t n = read(p[0], msg + len, sizeof(msg) - 1 - len);

		if (n > 0 && len + (size_t)n < sizeof(msg) - 1) {
			len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(p[0]);
	msg[len] = 0;
	if (strcmp(msg, "ok\n") == 0)
		return 0;
	fprintf(stderr, "xend: %s", len ? msg : "the daemon exited while starting (see its log)\n");
	return 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int cmd_stop(const struct xend_conf *conf, const struct opts *o)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	int fd, r;
	pid_t pid = running_pid(conf, &fd);

	(void)o;
	if (pid < 0) {
		fprintf(stderr, "xend: cannot read the pid file in '%s': %s\n", conf->run_dir,
		        strerror((int)-pid));
		return 1;
	}
	if (pid == 0) {
		printf("xend is not running\n");
		return 0;
	}
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "xend: cannot signal pid %d: %s\n", (int)pid, strerror(errno));
		close(fd);
		return 1;
	}
	/* The daemon's lock goes when it exits: wait for it, with a deadline. */
	sigaction(SIGALRM, &sa, NULL);
	alarm(STOP_TIMEOUT_S);
	r = flock(fd, LOCK_SH);
	alarm(0);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "xend: pid %d did not stop within %d s\n", (int)pid,
		        STOP_TIMEOUT_S);
		return 1;
	}
	return 0;
}

static int cmd_status(const struct xend_conf *conf, const struct opts *o)
{
	int fd;
	pid_t pid = running_pid(conf, &fd);

	(void)o;
	if (fd >= 0)
		close(fd);
	if (pid > 0) {
		printf("xend is running (pid %d)\n", (int)pid);
		return 0;
	}
	printf("xend is not running\n");
	return EXIT_NOT_RUNNING;
}

static int cmd_start(const struct xend_conf *conf, const struct opts *o)
{
	return o->foreground ? run_foreground(conf, o) : start_daemon(conf, o);
}

static int cmd_restart(const struct xend_conf *conf, const struct opts *o)
{
	int r = cmd_stop(conf, o);

	return r ? r : cmd_start(conf, o);
}

static const struct {
	const char *name;
	int (*run)(const struct xend_conf *conf, const struct opts *o);
} commands[] = {
	{ "start", cmd_start },
	{ "stop", cmd_stop },
	{ "status", cmd_status },
	{ "restart", cmd_restart },
};

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { NULL, false, false };
	struct xend_conf conf;
	const char *cmd;
	char *err = NULL;
	int c, status = -1;

	while ((c = getopt_long(argc, argv, "c:FdhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'F':
			o.foreground = true;
			break;
		case 'd':
			o.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("xend %s\n", XENO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind + 1 < argc || (optind == argc && !o.foreground)) {
		usage(stderr);
		return 1;
	}
	cmd = optind < argc ? argv[optind] : "start";
	if (conf_load(o.config, &conf, &err) < 0) {
		fprintf(stderr, "xend: %s\n", err ? err : "cannot read the configuration");
		free(err);
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			status = commands[i].run(&conf, &o);
	if (status < 0) {
		fprintf(stderr,
		        "xend: unknown command '%s' (expected start, stop, status or "
		        "restart)\n",
		        cmd);
		status = 1;
	}
	conf_fini(&conf);
	return status;
}
