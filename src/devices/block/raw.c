// SPDX-License-Identifier: GPL-2.0-only
/*
 * The raw format: the virtual disk is the bytes of a regular file or of a host block device,
 * at the same offsets.  No cache of our own: writes go to the host page cache with pwritev
 * (or, with cache=none, to the device with O_DIRECT), so completed writes survive a kill -9
 * of the VMM, and flush (fdatasync) makes them survive a host crash.  image_file.c does the
 * opening, locking and alignment.  Open and close run on the main thread, the rest on the device's
 * I/O thread; nothing here blocks on anything but the image itself.
 */
#include "devices/block/backend.h"
#include "devices/block/image_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fallback of write_zeroes writes this many bytes per call. */
#define ZERO_CHUNK     (64u * 1024)
#define ZERO_CHUNK_IOV 16

struct raw {
	struct blk_backend b; /* first: blk_backend pointers are raw pointers */
	struct image_file file;
	uint64_t size; /* bytes, at open */
};

static struct raw *to_raw(struct blk_backend *b)
{
	return (struct raw *)b;
}

static int raw_open(const char *path, const struct blk_open_opts *opts, struct blk_backend **ret,
                    char *err, size_t errlen)
{
	struct raw *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "image '%s': out of memory", path);
		return -ENOMEM;
	}
	e = image_file_open(&r->file, path, opts->read_only, opts, err, errlen);
	if (e < 0) {
		free(r);
		return e;
	}
	r->b = (struct blk_backend){ .ops = &blk_raw_ops, .read_only = opts->read_only };
	r->size = r->file.size;
	*ret = &r->b;
	return 0;
}

static ssize_t raw_preadv(struct blk_backend *b, const struct iovec *iov, int iovcnt,
                          uint64_t offset)
{
	return image_file_preadv(&to_raw(b)->file, iov, iovcnt, offset);
}

static ssize_t raw_pwritev(struct blk_backend *b, const struct iovec *iov, int iovcnt,
                           uint64_t offset)
{
	if (b->read_only)
		return -EROFS;
	return image_file_pwritev(&to_raw(b)->file, iov, iovcnt, offset);
}

static int raw_flush(struct blk_backend *b)
{
	if (b->read_only)
		return 0;
	return image_file_sync(&to_raw(b)->file);
}

static int punch(struct raw *r, int mode, uint64_t offset, uint64_t len)
{
	int ret;

	if (offset > INT64_MAX || len > INT64_MAX - offset)
		return -EINVAL;
	do
		ret = fallocate(r->file.fd, mode, (off_t)offset, (off_t)len);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

static int raw_discard(struct blk_backend *b, uint64_t offset, uint64_t len)
{
	struct raw *r = to_raw(b);
	uint64_t range[2] = { offset, len };

	if (b->read_only)
		return -EROFS;
	if (len == 0)
		return 0;
	if (!r->file.is_blkdev)
		return punch(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
	if (ioctl(r->file.fd, BLKDISCARD, range) < 0)
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	return 0;
}

/* Writes zeroes over [offset, offset+len) with pwritev, for images that cannot fallocate. */
static int write_zero_bytes(struct raw *r, uint64_t offset, uint64_t len)
{
	static uint8_t zeroes[ZERO_CHUNK] __attribute__((aligned(4096)));
	struct iovec iov[ZERO_CHUNK_IOV];
	ssize_t n;
	int cnt;

	/* Past the end of a file, reads return zeroes already: do not grow the image. */
	if (offset >= r->size)
		return 0;
	if (len > r->size - offset)
		len = r->size - offset;
	while (len > 0) {
		uint64_t left = len;

		for (cnt = 0; cnt < ZERO_CHUNK_IOV && left > 0; cnt++) {
			iov[cnt].iov_base = zeroes;
			iov[cnt].iov_len = left < ZERO_CHUNK ? left : ZERO_CHUNK;
			left -= iov[cnt].iov_len;
		}
		n = raw_pwritev(&r->b, iov, cnt, offset);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int raw_write_zeroes(struct blk_backend *b, uint64_t offset, uint64_t len, bool may_unmap)
{
	struct raw *r = to_raw(b);
	int ret = -EOPNOTSUPP;

	if (b->read_only)
		return -EROFS;
	if (len == 0)
		return 0;
	/*
	 * A hole in a file reads as zeroes, so punching is a valid write-zeroes; on a block
	 * device, fallocate(PUNCH_HOLE) is a zero-out that may unmap (blkdev_fallocate).
	 */
	if (may_unmap)
		ret = punch(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
	if (ret == -EOPNOTSUPP)
		ret = punch(r, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len);
	if (ret == -EOPNOTSUPP || ret == -ENOSYS)
		ret = write_zero_bytes(r, offset, len);
	return ret;
}

static uint64_t raw_size_bytes(struct blk_backend *b)
{
	return to_raw(b)->size;
}

static void raw_close(struct blk_backend *b)
{
	struct raw *r;

	if (!b)
		return;
	r = to_raw(b);
	image_file_close(&r->file);
	free(r);
}

const struct blk_backend_ops blk_raw_ops = {
	.name = "raw",
	.open = raw_open,
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.size_bytes = raw_size_bytes,
	.close = raw_close,
};
