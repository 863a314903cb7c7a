// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes the qcow2 backend over a hostile image: the input is 16 bytes of operations and
 * then the image file, put in a memfd.  The open parses the header, its extensions, the L1
 * and refcount tables (and refuses or accepts); then eight reads, writes, write-zeroes,
 * discards or flushes at offsets the operation bytes pick walk the L2 tables, refcount
 * blocks and compressed clusters the image names, and the close writes back metadata.
 * Every call must return a length or a negative errno; ASan watches every access.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/block/backend.h"

#define OPS_SIZE 16u
#define BUF_SIZE (64u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int img_fd = -1;
static char img_path[64];
static uint8_t *buf;

static void one_op(struct blk_backend *b, uint8_t op, uint8_t where)
{
	uint64_t vsize = b->ops->size_bytes(b), len = 512u * (1u + op / 5 % 128), off;
	struct iovec iov = { buf, len };
	ssize_t n;

	off = vsize / 256 * where / 512 * 512;
	if (off >= vsize)
		return;
	if (len > vsize - off)
		len = (vsize - off) / 512 * 512;
	if (len == 0)
		return;
	iov.iov_len = len;
	switch (op % 5) {
	case 0:
		n = b->ops->preadv(b, &iov, 1, off);
		break;
	case 1:
		memset(buf, op, len);
		n = b->ops->pwritev(b, &iov, 1, off);
		break;
	case 2:
		n = b->ops->write_zeroes(b, off, len, op & 0x80);
		break;
	case 3:
		n = b->ops->discard(b, off, len);
		break;
	default:
		n = b->ops->flush(b);
		break;
	}
	if (n > (ssize_t)len)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct blk_open_opts opts = { .no_lock = true };
	struct blk_backend *b;
	char err[BLK_ERR_MAX];

	if (img_fd < 0) {
		img_fd = memfd_create("xeno-fuzz-qcow2", MFD_CLOEXEC);
		buf = malloc(BUF_SIZE);
		if (img_fd < 0 || !buf)
			abort();
		snprintf(img_path, sizeof(img_path), "/proc/self/fd/%d", img_fd);
	}
	if (size < OPS_SIZE || ftruncate(img_fd, 0) < 0)
		return 0;
	if (pwrite(img_fd, data + OPS_SIZE, size - OPS_SIZE, 0) != (ssize_t)(size - OPS_SIZE))
		return 0;
	if (blk_qcow2_ops.open(img_path, &opts, &b, err, sizeof(err)) < 0) {
		if (!memchr(err, 0, sizeof(err)) || !err[0])
			__builtin_trap(); /* a failed open always says why */
		return 0;
	}
	for (unsigned int i = 0; i < OPS_SIZE / 2; i++)
		one_op(b, data[2 * i], data[2 * i + 1]);
	b->ops->close(b);
	return 0;
}
