/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libxeno's xl.cfg parser, in two layers.
 *
 * The generic layer reads files in xl.cfg(5) syntax (`key = value`, '' and "" strings,
 * integers, `[ ... ]` lists, `#` comments, `;` or a newline between settings) into an ordered
 * set of settings and hands out typed values.  xend reads xend.conf with it.
 *
 * The domain layer checks a parsed file against the table of domain keys (see xeno.cfg(5)),
 * resolves it (${var} substitution, Xen 2.0's variables, the kernel command line) and turns
 * it into the JSON domain config of docs/api.md, which xm sends to xend.
 *
 * Conventions: functions return 0 or a negative errno.  On failure *ret_error (when
 * ret_error is not NULL) receives one malloc'd line "FILE:LINE: message (expected ...)",
 * without the line number when the problem is not tied to a line; FILE is the name given to
 * the parser, or "command line" for a setting made by xeno_cfg_set().  Returned strings are
 * malloc'd and the caller frees them, except where a function says the string is borrowed
 * from the struct xeno_cfg.  Nothing here prints, exits or keeps global state: any thread may
 * call any function, on different objects at once; one object is not locked.
 */
#ifndef XENO_CFG_H
#define XENO_CFG_H

#include <stdbool.h>
#include <stddef.h>

/* Limits of the syntax; each breach is an error, never a truncation. */
#define XENO_CFG_FILE_MAX   (1024 * 1024) /* bytes in one file */
#define XENO_CFG_LINE_MAX   (64 * 1024)   /* bytes in one line, newline excluded */
#define XENO_CFG_LIST_MAX   256           /* items in one list */
#define XENO_CFG_STRING_MAX 4096          /* bytes in one string, after escapes and ${var} */
#define XENO_CFG_KEY_MAX    128           /* bytes in one key name */

/* The smallest domain memory: Debian's cloud kernel runs out of memory in less (MiB). */
#define XENO_CFG_MEMORY_MIN 96

/* A parsed file: its settings in file order, then those added by xeno_cfg_set(). */
struct xeno_cfg;

/* ---- Generic layer: parsing ---- */

/*
 * Reads and parses the file at path (at most XENO_CFG_FILE_MAX bytes).  Messages name the
 * file as path was given.  On success *ret is a new object for xeno_cfg_free().
 * Returns -errno of open/read, -EFBIG, -EINVAL (syntax, duplicate key) or -ENOMEM.
 */
int xeno_cfg_parse_file(const char *path, struct xeno_cfg **ret, char **ret_error);

/*
 * Parses len bytes of text (not necessarily NUL-terminated; NUL bytes are errors).  name is
 * what messages call the text ("web.cfg").  Same returns as xeno_cfg_parse_file().
 */
int xeno_cfg_parse_string(const char *name, const char *text, size_t len, struct xeno_cfg **ret,
                          char **ret_error);

/*
 * Applies one "var=value" from a command line: value is an xl.cfg value ('web', "web", 256,
 * ['a', 'b']) or, when it starts with none of ' " [ and is not an integer, a bare word taken
 * as a string, so memory=256, name=web and disk=['file:/x,xvda,w'] all work.  Sets var, or
 * replaces its value if it is set already (an override is never a duplicate).  Returns
 * -EINVAL for a malformed assignment or value, -ENOMEM.
 */
int xeno_cfg_set(struct xeno_cfg *cfg, const char *assignment, char **ret_error);

/* Frees cfg and everything borrowed from it; NULL is allowed. */
void xeno_cfg_free(struct xeno_cfg *cfg);

/* ---- Generic layer: typed getters ----
 *
 * Each returns 0, -ENOENT when key is not set (*ret_error is then left NULL: absence is not
 * an error, the caller applies its default), or -EINVAL with "FILE:LINE: key: expected ..."
 * when the value has the wrong type or range.  Values are not ${var}-substituted.
 */

/* A string value; *ret is borrowed from cfg (valid until xeno_cfg_free or an override). */
int xeno_cfg_get_string(const struct xeno_cfg *cfg, const char *key, const char **ret,
                        char **ret_error);

/* An integer value in [min, max]. */
int xeno_cfg_get_int(const struct xeno_cfg *cfg, const char *key, long long min, long long max,
                     long long *ret, char **ret_error);

/* A boolean: the integers 0 and 1, or the strings yes/no, true/false, on/off (any case). */
int xeno_cfg_get_bool(const struct xeno_cfg *cfg, const char *key, bool *ret, char **ret_error);

/*
 * The strings of a list (a single string is a list of one).  *ret is a malloc'd array of
 * *ret_count strings plus a NULL terminator: free() the array, not the strings, which are
 * borrowed from cfg.  A list holding an integer is -EINVAL.
 */
int xeno_cfg_get_list(const struct xeno_cfg *cfg, const char *key, const char ***ret,
                      size_t *ret_count, char **ret_error);

/*
 * Checks that every key of cfg is one of keys (a NULL-terminated array): the first unknown
 * one gives -EINVAL and "FILE:LINE: unknown key 'dom0-min-men' (did you mean
 * 'dom0-min-mem'?)".  For files with a fixed vocabulary, such as xend.conf.
 */
int xeno_cfg_check_keys(const struct xeno_cfg *cfg, const char *const *keys, char **ret_error);

/* The line where key is set (0 when it is not, or was set by xeno_cfg_set()). */
unsigned int xeno_cfg_line(const struct xeno_cfg *cfg, const char *key);

/* ---- Domain layer ---- */

/*
 * Resolves cfg as a domain config and returns it as JSON text in the shape of docs/api.md
 * "Domain config" (compact, fields in that document's order).  Every key must be in the
 * domain key table (an unknown key gets a did-you-mean); ${var} in strings is replaced by the
 * value of the setting var (${vmid} stays literal unless vmid is set: xend replaces it);
 * Xen 2.0's variables are folded in (ip/gateway/netmask/hostname/interface/dhcp into the
 * kernel's ip= argument, nfs_server/nfs_root into nfsroot=, restart into on_*, ip lists
 * into ipaddr, nics into vifs); the kernel command line is composed; kernel, ramdisk and
 * disk targets must exist (paths that still hold ${vmid} are not checked).  On success
 * *ret_json is malloc'd.  Returns -EINVAL (a bad or missing value), -ENOENT (a file that does
 * not exist) or another -errno of stat, or -ENOMEM.
 */
int xeno_cfg_domain_json(const struct xeno_cfg *cfg, char **ret_json, char **ret_error);

/*
 * The domain key table, for help texts and documentation checks: the index-th key's name
 * and its one-line description (both static).  Returns 0, or -ENOENT past the last key.
 */
int xeno_cfg_domain_key(size_t index, const char **ret_name, const char **ret_doc);

#endif
