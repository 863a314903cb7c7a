/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mkdir -p` for daemons that lay out their run, state and log directories.  Any thread;
 * never logs.
 */
#ifndef XENO_COMMON_MKDIR_P_H
#define XENO_COMMON_MKDIR_P_H

#include <sys/types.h>

/*
 * Creates path and any missing parents: parents with parent_mode, path itself with mode
 * (both before the umask).  Directories that exist are left as they are.  Returns 0 or
 * -errno.
 */
int mkdir_p(const char *path, mode_t parent_mode, mode_t mode);

#endif
