/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket: a UNIX stream socket on which xend (or a person with socat) sends one
 * command per line and gets one JSON object per line back.  Main thread only.  The protocol
 * is documented in docs/man/xeno-vmm.1.
 */
#ifndef XENO_VMM_CONTROL_H
#define XENO_VMM_CONTROL_H

#include <stddef.h>

#include "common/evloop.h"

struct vm;
struct console;
struct control;

#define CONTROL_BALLOON_MIN_MIB          16   /* the least memory the balloon leaves a guest */
#define CONTROL_BALLOON_STATS_MAX_AGE_MS 1000 /* older guest figures are refreshed */
#define CONTROL_MAX_CLIENTS              16
#define CONTROL_LINE_MAX                 2304 /* save: two paths of up to 1 KiB each */

int control_new(struct evloop *loop, const char *path, struct vm *vm, struct console *con,
                struct control **ret) __attribute__((warn_unused_result));
void control_free(struct control *ctl);

/*
 * Runs one command line and writes the JSON reply (no newline) into out.  Exposed for tests
 * and for the fuzzer; returns the reply's length.
 */
size_t control_execute(struct control *ctl, const char *line, char *out, size_t outlen);

#endif
