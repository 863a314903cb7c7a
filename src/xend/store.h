/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records under state-dir that outlive xend: one JSON file per domain (domains/ID.json,
 * config and runtime) and xend.json (the next domain id).  Every file is written whole or
 * not at all (temporary file, fsync, rename, fsync of the directory), so a crash of xend or
 * of the host leaves the old record or the new one, never a torn one.  Main thread.
 */
#ifndef XEND_STORE_H
#define XEND_STORE_H

#include <stddef.h>

struct json_object;

/* Largest record read back; a bigger file is skipped as corrupt. */
#define STORE_RECORD_MAX (1024 * 1024)

/* Writes len bytes to path atomically (see above), mode 0600.  Returns 0 or -errno. */
int store_write_atomic(const char *path, const char *data, size_t len)
        __attribute__((warn_unused_result));

/* Writes the record of domain id.  Returns 0 or -errno. */
int store_save_domain(const char *state_dir, unsigned int id, struct json_object *record)
        __attribute__((warn_unused_result));

/* Removes the record of domain id and its directory (the VMM's log).  Missing is fine. */
void store_remove_domain(const char *state_dir, unsigned int id);

/*
 * Calls fn for each record under state-dir/domains, in increasing id order.  fn owns
 * nothing: the object is released after the call.  A file that cannot be read or parsed is
 * reported through bad (with the path and -errno) and skipped.  Returns 0 or -errno if the
 * directory itself cannot be read (a missing directory is no records).
 */
int store_load_domains(const char *state_dir,
                       void (*fn)(void *opaque, unsigned int id, struct json_object *record),
                       void (*bad)(void *opaque, const char *path, int err), void *opaque);

/* The next domain id from xend.json; 1 when there is no file.  Returns 0 or -errno. */
int store_load_next_id(const char *state_dir, unsigned int *ret)
        __attribute__((warn_unused_result));
int store_save_next_id(const char *state_dir, unsigned int next)
        __attribute__((warn_unused_result));

#endif
