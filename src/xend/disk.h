/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who may open which disk image: the sharing rule xend enforces across all domains, and the
 * preparation of a domain's disks before its VMM starts (the qcow2 overlays of backing=).
 *
 * Images are identified by (st_dev, st_ino), so a symlink or a second path to one file is
 * the same image.  The rule: any number of domains may have an image read-only; a domain
 * may have it read-write only if no other domain has it at all; `w!` (force) overrides the
 * rule for the domain that writes it.  The backing files of qcow2 images count as read-only
 * uses.  The VMM's OFD lock on each file is the second line of defence (a VMM started by
 * hand, a second xend).  disk_share_check() is a pure function; the rest stats files and
 * reads qcow2 headers.  Main thread.
 */
#ifndef XEND_DISK_H
#define XEND_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct domain_config;
struct json_object;

enum disk_mode {
	DISK_MODE_RO,    /* read-only, or a backing file */
	DISK_MODE_RW,    /* read-write: alone */
	DISK_MODE_FORCE, /* read-write with `w!`: whoever else has it */
};

/* One domain's use of one image file. */
struct disk_use {
	const char *domain; /* the domain's name */
	const char *path;   /* the path as configured (or as a qcow2 header names a backing file) */
	const char *via;    /* the disk whose backing chain holds this file, or NULL */
	dev_t dev;
	ino_t ino;
	enum disk_mode mode;
};

/* The uses of one or more domains: an array, and the strings it owns. */
struct disk_uses {
	struct disk_use *v;
	size_t n, cap;
	char **owned; /* paths read from qcow2 headers */
	size_t n_owned;
};

/* "read-only", "read-write" or "read-write (w!)". */
const char *disk_mode_name(enum disk_mode mode);

/*
 * Whether want may be added to the uses in held (the other domains' and the new domain's
 * earlier ones).  Returns 0, or -EBUSY with a message naming the path, every domain in the
 * way and how it holds the image, e.g. "disk '/x.img' is in use by domain 'web'
 * (read-only); use 'w!' to share it writable anyway".  Pure: compares dev/ino only.
 */
int disk_share_check(const struct disk_use *held, size_t n_held, const struct disk_use *want,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Appends the uses of cfg's disks (named domain; both strings are borrowed and must outlive
 * uses) to uses: each existing disk file, and for qcow2 images (or the base of an overlay
 * still to be created) every file of the backing chain, read-only.  With strict, a file
 * that cannot be stat'ed or a chain that cannot be read is an error (-errno and a message);
 * without, it is skipped (other domains' disks: their VMM already opened them).
 */
int disk_uses_add(struct disk_uses *uses, const struct domain_config *cfg, const char *domain,
                  bool strict, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Frees what uses holds and empties it. */
void disk_uses_fini(struct disk_uses *uses);

/*
 * Checks every use in want against held and against want's earlier entries.  Returns 0 or
 * -EBUSY with disk_share_check()'s message.
 */
int disk_uses_check(const struct disk_uses *held, const struct disk_uses *want, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/*
 * Creates, for each disk of cfg with a backing file whose path does not exist yet, a qcow2
 * overlay on it (image_create); created[i] says which were made (for disk_unprepare).
 * Returns 0, or -errno with a message naming the disk (nothing is left created then).
 */
int disk_prepare(const struct domain_config *cfg, bool *created, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Removes the overlays disk_prepare created (a create that failed after it). */
void disk_unprepare(const struct domain_config *cfg, const bool *created);

/*
 * The order in which the guest sees cfg's disks: by vdev name, the disk letters first
 * (xvda and hda before xvdb; xvdz before xvdaa), then the prefix, then the partition.
 * order[k] is the index in cfg->disks of the k-th device.  Pure.
 */
void disk_order(const struct domain_config *cfg, size_t *order);

/*
 * The body of GET /v1/domains/{dom}/block (docs/api.md): cfg's disks in guest order, each
 * with its mode ("r", "w", "w!") and the I/O counters of the matching "virtio-blkN" entry of
 * stats (the reply of the VMM's `stats` command; NULL or missing entries give zeroes).
 * Pure.  NULL if out of memory.
 */
struct json_object *disk_block_json(const struct domain_config *cfg, struct json_object *stats);

#endif
