// SPDX-License-Identifier: GPL-2.0-only
/*
 * New images.  A qcow2 image is laid out as QEMU lays out a new one: cluster 0 the header,
 * its extensions and the backing file name; cluster 1 the refcount table; cluster 2 the
 * one refcount block (64 KiB clusters, 16-bit refcounts: it covers 2 GiB, far more than the
 * L1 table of the largest image needs); then the L1 table, all zeroes.  Runs on the caller's
 * thread; never logs.
 */
#include "devices/block/image_create.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/backend.h"
#include "devices/block/image_file.h"
#include "devices/block/qcow2.h"

#define CLUSTER_BITS 16u
#define CLUSTER_SIZE (1u << CLUSTER_BITS)

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Cluster 0: the version 3 header, the backing format extension, the backing file name. */
static int fill_header(uint8_t *h, uint64_t size, uint32_t l1_size, const char *backing,
                       const char *backing_fmt)
{
	size_t off = QCOW2_H_V3_LENGTH_WITH_CT;

	put_be32(h + QCOW2_H_MAGIC, BLK_QCOW2_MAGIC);
	put_be32(h + QCOW2_H_VERSION, 3);
	put_be32(h + QCOW2_H_CLUSTER_BITS, CLUSTER_BITS);
	put_be64(h + QCOW2_H_SIZE, size);
	put_be32(h + QCOW2_H_L1_SIZE, l1_size);
	put_be64(h + QCOW2_H_L1_OFFSET, 3ULL * CLUSTER_SIZE);
	put_be64(h + QCOW2_H_RT_OFFSET, CLUSTER_SIZE);
	put_be32(h + QCOW2_H_RT_CLUSTERS, 1);
	put_be32(h + QCOW2_H_REFCOUNT_ORDER, 4);
	put_be32(h + QCOW2_H_HEADER_LENGTH, QCOW2_H_V3_LENGTH_WITH_CT);
	if (backing) {
		size_t flen = strlen(backing_fmt), blen = strlen(backing);

		put_be32(h + off, QCOW2_EXT_BACKING_FORMAT);
		put_be32(h + off + 4, (uint32_t)flen);
		memcpy(h + off + 8, backing_fmt, flen);
		off += 8 + (flen + 7) / 8 * 8;
		off += 8; /* the end-of-extensions marker: type 0, length 0 */
		if (blen > QCOW2_MAX_BACKING_NAME || off + blen > CLUSTER_SIZE)
			return -ENAMETOOLONG;
		memcpy(h + off, backing, blen);
		put_be64(h + QCOW2_H_BACKING_OFFSET, off);
		put_be32(h + QCOW2_H_BACKING_SIZE, (uint32_t)blen);
	}
	return 0;
}

static int write_qcow2(int fd, uint64_t size, const char *backing, const char *backing_fmt)
{
	uint64_t l2_span = (uint64_t)CLUSTER_SIZE * (CLUSTER_SIZE / 8);
	uint32_t l1_size = (uint32_t)((size + l2_span - 1) / l2_span);
	uint32_t l1_clusters = (l1_size * 8 + CLUSTER_SIZE - 1) / CLUSTER_SIZE;
	uint32_t clusters = 3 + l1_clusters;
	uint8_t *buf = calloc(1, CLUSTER_SIZE);
	uint8_t rt[8];
	int r;

	if (!buf)
		return -ENOMEM;
	r = fill_header(buf, size, l1_size, backing, backing_fmt);
	if (r == 0 && ftruncate(fd, (off_t)clusters * CLUSTER_SIZE) < 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, buf, CLUSTER_SIZE, 0);
	if (r == 0) {
		put_be64(rt, 2ULL * CLUSTER_SIZE);
		r = write_all(fd, rt, sizeof(rt), CLUSTER_SIZE);
	}
	if (r == 0) {
		/* The refcount block: one reference to each cluster the image has. */
		memset(buf, 0, CLUSTER_SIZE);
		for (uint32_t i = 0; i < clusters; i++) {
			buf[2 * i] = 0;
			buf[2 * i + 1] = 1;
		}
		r = write_all(fd, buf, 2u * clusters, 2 * CLUSTER_SIZE);
	}
	free(buf);
	return r;
}

/* Checks the backing chain and gets its format and size. */
static int inspect_backing(const char *path, const char *backing, const char **ret_fmt,
                           uint64_t *ret_size, char *err, size_t errlen)
{
	const struct blk_open_opts opts = { .read_only = true, .no_lock = true };
	char resolved[PATH_MAX], dir[PATH_MAX];
	const struct blk_backend_ops *ops;
	struct blk_backend *b;
	bool is_qcow2 = false;
	int r;

	if (backing[0] == '/') {
		snprintf(resolved, sizeof(resolved), "%s", backing);
	} else {
		snprintf(dir, sizeof(dir), "%s", path);
		if ((size_t)snprintf(resolved, sizeof(resolved), "%s/%s", dirname(dir), backing) >=
		    sizeof(resolved)) {
			snprintf(err, errlen, "backing file '%s': path too long", backing);
			return -ENAMETOOLONG;
		}
	}
	r = image_file_probe_qcow2(resolved, &is_qcow2);
	if (r < 0) {
		snprintf(err, errlen, "backing file '%s': %s", resolved, strerror(-r));
		return r;
	}
	ops = is_qcow2 ? &blk_qcow2_ops : &blk_raw_ops;
	r = ops->open(resolved, &opts, &b, err, errlen);
	if (r < 0)
		return r;
	*ret_size = ops->size_bytes(b);
	*ret_fmt = ops->name;
	ops->close(b);
	return 0;
}

int image_create(const char *path, const char *format, uint64_t size_bytes, const char *backing,
                 char *err, size_t errlen)
{
	bool qcow2 = format && strcmp(format, "qcow2") == 0;
	const char *backing_fmt = NULL;
	uint64_t backing_size = 0;
	int fd, r;

	if (!qcow2 && (!format || strcmp(format, "raw") != 0)) {
		snprintf(err, errlen, "unknown format '%s' (expected raw or qcow2)",
		         format ? format : "");
		return -EINVAL;
	}
	if (backing && !qcow2) {
		snprintf(err, errlen, "a raw image cannot have a backing file (use qcow2)");
		return -EINVAL;
	}
	if (backing) {
		r = inspect_backing(path, backing, &backing_fmt, &backing_size, err, errlen);
		if (r < 0)
			return r;
		if (size_bytes == 0)
			size_bytes = (backing_size + 511) / 512 * 512;
	}
	if (size_bytes % 512 || size_bytes > IMAGE_CREATE_MAX_BYTES || (!backing && !size_bytes)) {
		snprintf(err, errlen, "size %llu: expected a non-zero multiple of 512 up to 64 TiB",
		         (unsigned long long)size_bytes);
		return -EINVAL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "'%s': %s", path, strerror(-r));
		return r;
	}
	if (qcow2)
		r = write_qcow2(fd, size_bytes, backing, backing_fmt);
	else
		r = ftruncate(fd, (off_t)size_bytes) < 0 ? -errno : 0;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0) {
		unlink(path);
		snprintf(err, errlen, "'%s': %s", path,
		         r == -ENAMETOOLONG ? "backing file name too long" : strerror(-r));
	}
	return r;
}
