/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The "fill a caller's error buffer and return an errno" idiom of functions that report
 * why they failed (xend's domain and network set-up).  Any thread.
 */
#ifndef XENO_COMMON_ERRMSG_H
#define XENO_COMMON_ERRMSG_H

#include <stddef.h>

/* Formats fmt into err (errlen bytes, always terminated) and returns r, a negative errno. */
int errmsg(char *err, size_t errlen, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#endif
