/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One host file (or block device) under a disk image: how every format opens, locks, reads,
 * writes and syncs it.  It owns the three things all formats share: the cache mode (O_DIRECT
 * with aligned bounce buffers for cache=none, no fdatasync for cache=unsafe), the OFD lock
 * that keeps two processes from writing one image, and retrying EINTR and short transfers.
 *
 * Open and close run on the main thread; the I/O functions on the device's I/O thread.
 * Nothing here logs: failures come back as -errno, and open also gives a one-line message.
 */
#ifndef XENO_DEVICES_BLOCK_IMAGE_FILE_H
#define XENO_DEVICES_BLOCK_IMAGE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/block/backend.h"

struct image_file {
	int fd;         /* -1 when closed */
	bool direct;    /* opened O_DIRECT (cache=none) */
	bool unsafe;    /* cache=unsafe: sync is a no-op */
	bool is_blkdev; /* a host block device, not a regular file */
	uint32_t align; /* O_DIRECT offset, length and memory alignment in bytes; 1 if not direct */
	uint64_t size;  /* bytes at open (files grow through writes; see image_file_size) */
	dev_t dev;      /* st_dev and st_ino: tell the files of a backing chain apart */
	ino_t ino;
};

/*
 * Opens path read-only or read-write with opts' cache mode, and unless opts->lock is false
 * takes an OFD lock on the whole file: shared when read_only, exclusive otherwise.  A lock
 * held by another process fails with -EBUSY and "image PATH is in use by another process
 * (pid N)" in err.  Only regular files and block devices are accepted (-EINVAL otherwise).
 * Returns 0 with f filled in, or -errno with a message in err.
 */
int image_file_open(struct image_file *f, const char *path, bool read_only,
                    const struct blk_open_opts *opts, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Closes the file, which drops its lock; accepts a closed or zeroed-then-fd=-1 struct. */
void image_file_close(struct image_file *f);

/*
 * Vectored transfers at a byte offset, any alignment: with O_DIRECT an unaligned request
 * goes through an aligned bounce buffer (a partial write reads the edge blocks first).
 * Return the bytes moved (short only at end of file for reads) or -errno.
 */
ssize_t image_file_preadv(struct image_file *f, const struct iovec *iov, int iovcnt,
                          uint64_t offset);
ssize_t image_file_pwritev(struct image_file *f, const struct iovec *iov, int iovcnt,
                           uint64_t offset);

/*
 * Whole-buffer transfers for metadata: 0 when all len bytes moved, -EIO on a short read
 * (the file ends early), or -errno.
 */
int image_file_pread(struct image_file *f, void *buf, size_t len, uint64_t offset);
int image_file_pwrite(struct image_file *f, const void *buf, size_t len, uint64_t offset);

/* fdatasync, skipped with cache=unsafe.  Returns 0 or -errno. */
int image_file_sync(struct image_file *f);

/* The file's current size in bytes (fstat, or the device's size).  Returns 0 or -errno. */
int image_file_size(struct image_file *f, uint64_t *ret_size);

/*
 * Whether the file at path starts with the qcow2 magic: sets *ret_is_qcow2 and returns 0, or
 * -errno if it cannot be opened or read (a file shorter than 4 bytes is not qcow2).
 */
int image_file_probe_qcow2(const char *path, bool *ret_is_qcow2)
        __attribute__((warn_unused_result));

/* A buffer of len bytes aligned for O_DIRECT (4 KiB), zeroed; free() it.  NULL if no memory. */
void *image_file_alloc(size_t len);

#endif
