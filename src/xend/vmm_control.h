/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client side of a xeno-vmm's control socket (xeno-vmm(1), CONTROL PROTOCOL): one
 * command per connection, one JSON line back.  Blocking with a deadline; called on xend's
 * main thread, so a VMM that does not answer costs at most the timeout, except for a save,
 * which an API thread waits for.
 */
#ifndef XEND_VMM_CONTROL_H
#define XEND_VMM_CONTROL_H

#include <stddef.h>

struct json_object;

#define VMM_CONTROL_TIMEOUT_MS 10000
#define VMM_CONTROL_REPLY_MAX  (64 * 1024)
#define VMM_CONTROL_LINE_MAX   8192 /* bytes of a command: `save META PATH` holds two paths */

/*
 * Sends command (a word and its arguments, no newline) to the control socket at path and waits up
 * to timeout_ms for the reply.  On success *ret is the reply object ("ok": true), owned by the
 * caller (json_object_put).  Returns -ENOENT/-ECONNREFUSED (no VMM listens), -ETIMEDOUT,
 * -EPROTO (a reply that is not a JSON object), -EIO ("ok": false; its "error" is in err),
 * -EINVAL (a command too long or with a newline), or another -errno of the socket.  Touches
 * no xend state: an API thread may call it for a long command (a save).
 */
int vmm_control_call(const char *path, const char *command, int timeout_ms,
                     struct json_object **ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

#endif
