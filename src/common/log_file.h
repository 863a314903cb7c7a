/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An append-only file that rotates itself: when the next write would take it past its size
 * limit, PATH becomes PATH.1 (replacing the previous PATH.1) and a new PATH is started.
 * Used for console logs, which must keep recording whether or not anyone is watching.
 * Not thread-safe: one owner thread.
 */
#ifndef XENO_COMMON_LOG_FILE_H
#define XENO_COMMON_LOG_FILE_H

#include <stddef.h>
#include <stdint.h>

struct log_file;

/* Opens (creating, mode 0640) or appends to path.  Returns 0 or -errno. */
int log_file_open(const char *path, uint64_t max_bytes, struct log_file **ret)
        __attribute__((warn_unused_result));

/* Appends all of buf, rotating first if needed.  Returns 0 or -errno (the data is lost). */
int log_file_write(struct log_file *lf, const void *buf, size_t len);

void log_file_close(struct log_file *lf);

#endif
