/* SPDX-License-Identifier: GPL-2.0-only */
/* Listening UNIX stream sockets, owner-only (0600), non-blocking and close-on-exec. */
#ifndef XENO_COMMON_UNIX_SOCKET_H
#define XENO_COMMON_UNIX_SOCKET_H

/* Replaces any stale socket at path.  Returns the listening fd or -errno. */
int unix_listen(const char *path) __attribute__((warn_unused_result));

#endif
