// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one logging module.  A whole line is formatted first and written with a single write(2),
 * so lines from vCPU threads and the main loop never interleave mid-line.
 */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_prefix[64] = "xeno";
static enum log_level log_max_level = LOG_LEVEL_INFO;
static int log_fd = -1;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(const char *prefix, enum log_level max_level)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix);
	log_max_level = max_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error: ",
	[LOG_LEVEL_WARN] = "warning: ",
	[LOG_LEVEL_INFO] = "",
	[LOG_LEVEL_DEBUG] = "debug: ",
};

void log_msg(enum log_level level, int err, const char *fmt, ...)
{
	char line[1024];
	int saved_errno = errno;
	size_t n = 0;
	va_list ap;
	int fd;

	if (level > log_max_level)
		return;

	if (log_fd >= 0) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: %s", log_prefix, level_names[level]);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	if (err && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s",
		                      strerror(err < 0 ? -err : err));
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	fd = log_fd >= 0 ? log_fd : STDERR_FILENO;
	(void)!write(fd, line, n);
	errno = saved_errno;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_ratelimit_allow(struct log_ratelimit *rl)
{
	uint64_t now = now_ms();
	unsigned int suppressed = 0;
	bool allow;

	pthread_mutex_lock(&ratelimit_lock);
	if (now - rl->window_start_ms >= rl->interval_ms) {
		suppressed = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	allow = rl->printed < rl->burst;
	if (allow)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);

	if (suppressed)
		log_warn("%u similar messages suppressed", suppressed);
	return allow;
}
