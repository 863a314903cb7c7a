/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Block backends: what a disk image format (raw, qcow2) gives the virtio-blk model.
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

/* What a flush does and how the image file is opened: the `cache=` of a disk spec. */
enum blk_cache {
	BLK_CACHE_WRITEBACK, /* host page cache; flush is fdatasync (the default) */
	BLK_CACHE_NONE,      /* O_DIRECT; flush is fdatasync */
	BLK_CACHE_UNSAFE,    /* host page cache; flush writes our metadata but never syncs */
	BLK_CACHE_COUNT,
};

struct blk_open_opts {
	bool read_only; /* O_RDONLY and a shared lock; writes fail with -EROFS */
	enum blk_cache cache;
	bool no_lock; /* take no OFD lock (the `w!` override of a disk spec) */
};

/* The longest one-line message an open failure leaves in its err buffer. */
#define BLK_ERR_MAX 512

struct blk_backend_ops {
	const char *name; /* the `format=` of a disk spec: "raw", "qcow2" */

	/*
	 * Opens the image at path (always O_CLOEXEC) as opts says, locking it (and, for
	 * formats with backing files, each file of the chain, shared) unless opts->no_lock.
	 * Returns 0 and *ret, or -errno with a one-line message naming the file in err (e.g.
	 * "image '/a.img' is in use by another process (pid 42)").  Freed by close.
	 */
	int (*open)(const char *path, const struct blk_open_opts *opts, struct blk_backend **ret,
	            char *err, size_t errlen);

	/*
	 * One vectored transfer at offset.  Returns the bytes moved, which may be fewer than
	 * asked (0 from preadv: end of image), or -errno; the caller loops over short counts.
	 */
	ssize_t (*preadv)(struct blk_backend *b, const struct iovec *iov, int iovcnt,
	                  uint64_t offset);
	ssize_t (*pwritev)(struct blk_backend *b, const struct iovec *iov, int iovcnt,
	                   uint64_t offset);

	/*
	 * Makes every completed write stable (fdatasync; with cache=unsafe only written to the
	 * host's page cache).  Returns 0 or -errno.
	 */
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
extern const struct blk_backend_ops blk_qcow2_ops;

/* The first bytes of every qcow2 file ("QFI\xfb"), which format probing looks for. */
#define BLK_QCOW2_MAGIC 0x514649fbu

#endif
