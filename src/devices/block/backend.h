/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Block backends: what a disk image format (raw, later qcow2) gives the virtio-blk model.
 * One `const struct blk_backend_ops` per format, listed in blk.c's format table; adding a
 * format is a new src/devices/block/<fmt>.c and one row there.
 *
 * Offsets and lengths are in bytes of the virtual disk.  Every function returns a negative
 * errno on failure and never logs above debug: the device decides what the guest sees.
 * A backend is used by one thread at a time (its device's I/O thread); open and close run
 * on the main thread.  Backends never see guest addresses, only host iovecs.
 */
#ifndef XENO_DEVICES_BLOCK_BACKEND_H
#define XENO_DEVICES_BLOCK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct blk_backend;

struct blk_backend_ops {
	const char *name; /* the `format=` of a disk spec: "raw" */

	/*
	 * Opens the image at path (O_RDONLY when read_only, always O_CLOEXEC).  Returns 0 and
	 * *ret, or -errno.  The backend is freed by close.
	 */
	int (*open)(const char *path, bool read_only, struct blk_backend **ret);

	/*
	 * One vectored transfer at offset.  Returns the bytes moved, which may be fewer than
	 * asked (0 from preadv: end of image), or -errno; the caller loops over short counts.
	 */
	ssize_t (*preadv)(struct blk_backend *b, const struct iovec *iov, int iovcnt,
	                  uint64_t offset);
	ssize_t (*pwritev)(struct blk_backend *b, const struct iovec *iov, int iovcnt,
	                   uint64_t offset);

	/* Makes every completed write stable (fdatasync).  Returns 0 or -errno. */
	int (*flush)(struct blk_backend *b);

	/*
	 * Deallocates [offset, offset+len); a hint, reads may return old data or zeroes.
	 * Returns 0, -EOPNOTSUPP if the image cannot deallocate, or -errno.
	 */
	int (*discard)(struct blk_backend *b, uint64_t offset, uint64_t len);

	/*
	 * Makes [offset, offset+len) read as zeroes, deallocating it if may_unmap allows and
	 * the image can.  Returns 0 or -errno (no -EOPNOTSUPP: backends fall back to writing).
	 */
	int (*write_zeroes)(struct blk_backend *b, uint64_t offset, uint64_t len, bool may_unmap);

	/* Size of the virtual disk in bytes, fixed at open. */
	uint64_t (*size_bytes)(struct blk_backend *b);

	/* Closes the image and frees b; accepts NULL. */
	void (*close)(struct blk_backend *b);
};

/* What every backend's state starts with; the rest is the format's own. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	bool read_only; /* opened O_RDONLY; writes fail with -EROFS */
};

/* The formats, one file each. */
extern const struct blk_backend_ops blk_raw_ops;

#endif
