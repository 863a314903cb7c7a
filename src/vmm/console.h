/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The domain's serial console on the host side: the terminal (stdio), or a UNIX socket that
 * any number of clients may attach to, with the recent output replayed to each newcomer.
 * Output arrives on vCPU threads and is never allowed to block them: it goes into a ring
 * that the main loop drains, and what does not fit is dropped and counted.
 */
#ifndef XENO_VMM_CONSOLE_H
#define XENO_VMM_CONSOLE_H

#include <stdint.h>

#include "common/evloop.h"
#include "devices/serial.h"

#define CONSOLE_HISTORY_SIZE (64 * 1024)
#define CONSOLE_MAX_CLIENTS  8
#define CONSOLE_ESCAPE       0x1d /* Ctrl-] on a terminal ends the domain */

struct console;

/* socket_path NULL: stdin/stdout.  Returns 0 or -errno (logged). */
int console_new(struct evloop *loop, const char *socket_path, struct console **ret)
        __attribute__((warn_unused_result));
void console_free(struct console *con);

/*
 * Also appends every byte of output to path, rotating it to path.1 at CONSOLE_LOG_MAX_BYTES,
 * so that the log is complete whoever is attached.  Returns 0 or -errno (logged).
 */
#define CONSOLE_LOG_MAX_BYTES (1024 * 1024)
int console_open_log(struct console *con, const char *path) __attribute__((warn_unused_result));

/* The callbacks to give the UART. */
struct serial_host console_serial_host(struct console *con);

/* Where host input goes, and what to call when the user types the escape on a terminal. */
void console_connect(struct console *con, struct serial *serial, void (*on_escape)(void *),
                     void *opaque);

/* Bytes of output dropped because the host side did not keep up. */
uint64_t console_dropped_bytes(struct console *con);

/* Host input waiting for room in the UART's FIFO.  Main thread. */
size_t console_input_queued_bytes(const struct console *con);

#endif
