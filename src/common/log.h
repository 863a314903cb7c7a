/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging for every xeno program: one line per message, prefixed with the program and, where
 * there is one, the domain ("xeno-vmm[web]: serial: ...").  Thread-safe; callable from any
 * thread.  Parsers, devices' helpers and src/common never log above debug: the caller that
 * decides what happens next logs once.
 */
#ifndef XENO_COMMON_LOG_H
#define XENO_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the prefix ("xeno-vmm[web]") and the threshold; call once from main(). */
void log_setup(const char *prefix, enum log_level max_level);

/* Sends further messages to fd (a log file) instead of stderr; -1 returns to stderr. */
void log_set_fd(int fd);

void log_msg(enum log_level level, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

/*
 * The _errno variants append strerror(-r) and evaluate to r, so that a failure is logged and
 * propagated in one statement: return log_error_errno(r, "cannot open '%s'", path);
 */
#define log_error_errno(r, ...) (log_msg(LOG_LEVEL_ERROR, (r), __VA_ARGS__), (r))
#define log_warn_errno(r, ...)  (log_msg(LOG_LEVEL_WARN, (r), __VA_ARGS__), (r))

/*
 * Guest-triggerable messages go through a rate limit: at most `burst` messages per
 * `interval_ms`; the rest are counted and reported as "suppressed" once the window reopens.
 */
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned int interval_ms;
	unsigned int burst;
	unsigned int printed;
	unsigned int suppressed;
};

#define LOG_RATELIMIT_INIT        \
	{                         \
		0, 5000, 10, 0, 0 \
	}

bool log_ratelimit_allow(struct log_ratelimit *rl);

#define log_warn_ratelimited(rl, ...)          \
	do {                                   \
		if (log_ratelimit_allow(rl))   \
			log_warn(__VA_ARGS__); \
	} while (0)

#endif
