// SPDX-License-Identifier: GPL-2.0-only
/*
 * The qcow2 backend, image creation and image locks, against QEMU's qemu-img as the
 * reference: images made by `qemu-img create` and by image_create() take random writes
 * through our backend, read back what a shadow copy says, pass `qemu-img check` and convert
 * with `qemu-img convert -O raw` to the same bytes.  Damaged images fail cleanly.  Needs
 * qemu-img (Debian's qemu-utils) on PATH; no KVM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/block/backend.h"
#include "devices/block/image_create.h"
#include "devices/block/qcow2.h"

static char dir[64];
static char err[BLK_ERR_MAX];
static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64: repeatable runs, no libc state. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *at(const char *name)
{
	static char paths[8][256];
	static unsigned int next;
	char *p = paths[next++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command in the test directory; returns its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[1024], full[1200];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd %s && %s", dir, cmd);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/xeno-test-qcow2-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	rng_state = 0x9e3779b97f4a7c15ULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return sh("cd / && rm -rf %s", dir);
}

static struct blk_backend *open_img(const char *path, bool ro, enum blk_cache cache)
{
	struct blk_open_opts o = { .read_only = ro, .cache = cache };
	struct blk_backend *b = NULL;
	int r = blk_qcow2_ops.open(path, &o, &b, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "open %s: %s\n", path, err);
	assert_int_equal(r, 0);
	return b;
}

static int try_open(const char *path, bool ro)
{
	struct blk_open_opts o = { .read_only = ro };
	struct blk_backend *b = NULL;
	int r;

	err[0] = 0;
	r = blk_qcow2_ops.open(path, &o, &b, err, sizeof(err));
	if (r == 0)
		b->ops->close(b);
	return r;
}

static void write_at(struct blk_backend *b, const uint8_t *buf, size_t len, uint64_t off)
{
	/* Split in uneven pieces, as a guest's scatter list would be. */
	struct iovec iov[3];
	size_t a = len / 3 / 512 * 512, c = len / 5;

	iov[0] = (struct iovec){ (void *)(uintptr_t)buf, a };
	iov[1] = (struct iovec){ (void *)(uintptr_t)(buf + a), len - a - c };
	iov[2] = (struct iovec){ (void *)(uintptr_t)(buf + len - c), c };
	assert_int_equal(b->ops->pwritev(b, iov, 3, off), (ssize_t)len);
}

static void read_at(struct blk_backend *b, uint8_t *buf, size_t len, uint64_t off)
{
	struct iovec iov = { buf, len };

	assert_int_equal(b->ops->preadv(b, &iov, 1, off), (ssize_t)len);
}

/*
 * n random operations on b mirrored in shadow: mostly writes (sector-aligned, up to
 * 256 KiB, across cluster boundaries), some write-zeroes and discards.
 */
static void storm(struct blk_backend *b, uint8_t *shadow, uint64_t size, unsigned int n,
                  bool discards)
{
	uint8_t *buf = malloc(256 * 1024 + 1);

	assert_non_null(buf);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t len = (1 + rnd() % 512) * 512, off, op = rnd() % 10;

		if (len > size)
			len = size;
		off = rnd() % ((size - len) / 512 + 1) * 512;
		if (op < 8 || !discards) {
			for (uint64_t j = 0; j < len; j++)
				buf[j] = (uint8_t)(rnd() >> 32);
			write_at(b, buf, len, off);
			memcpy(shadow + off, buf, len);
		} else if (op == 8) {
			assert_int_equal(b->ops->write_zeroes(b, off, len, rnd() & 1), 0);
			memset(shadow + off, 0, len);
		} else {
			/* A discard may leave old data or zeroes: read back what it left. */
			assert_int_equal(b->ops->discard(b, off, len), 0);
			read_at(b, shadow + off, len, off);
		}
		if (i % 16 == 0)
			assert_int_equal(b->ops->flush(b), 0);
	}
	free(buf);
}

static void verify(struct blk_backend *b, const uint8_t *shadow, uint64_t size)
{
	uint8_t *buf = malloc(size);

	assert_non_null(buf);
	read_at(b, buf, size, 0);
	for (uint64_t i = 0; i < size; i++)
		if (buf[i] != shadow[i])
			fail_msg("byte %llu: %#x, expected %#x", (unsigned long long)i, buf[i],
			         shadow[i]);
	free(buf);
}

/* qemu-img check exits 0 and convert gives the shadow's bytes. */
static void qemu_agrees(const char *name, const uint8_t *shadow, uint64_t size)
{
	uint8_t *buf = malloc(size);
	int fd;

	assert_non_null(buf);
	assert_int_equal(sh("qemu-img check -q %s", name), 0);
	assert_int_equal(sh("rm -f conv.raw && qemu-img convert -O raw %s conv.raw", name), 0);
	fd = open(at("conv.raw"), O_RDONLY);
	assert_true(fd >= 0);
	memset(buf, 0, size);
	assert_true(pread(fd, buf, size, 0) >= 0);
	close(fd);
	assert_memory_equal(buf, shadow, size);
	free(buf);
}

static void roundtrip(const char *name, uint64_t size, unsigned int ops, enum blk_cache cache)
{
	uint8_t *shadow = calloc(1, size);
	struct blk_backend *b;

	assert_non_null(shadow);
	b = open_img(at(name), false, cache);
	assert_int_equal(b->ops->size_bytes(b), size);
	storm(b, shadow, size, ops, true);
	verify(b, shadow, size);
	b->ops->close(b);
	qemu_agrees(name, shadow, size);
	/* Again after a reopen, which finds everything on disk. */
	b = open_img(at(name), false, cache);
	storm(b, shadow, size, ops / 2, true);
	verify(b, shadow, size);
	b->ops->close(b);
	qemu_agrees(name, shadow, size);
	free(shadow);
}

static void test_qemu_made_image(void **state)
{
	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 a.qcow2 24M"), 0);
	roundtrip("a.qcow2", 24 << 20, 300, BLK_CACHE_WRITEBACK);
}

static void test_image_create_qcow2(void **state)
{
	(void)state;
	assert_int_equal(image_create(at("c.qcow2"), "qcow2", 24 << 20, NULL, err, sizeof(err)), 0);
	assert_int_equal(sh("qemu-img check -q c.qcow2"), 0);
	assert_int_equal(sh("qemu-img info c.qcow2 | grep -q 'cluster_size: 65536'"), 0);
	roundtrip("c.qcow2", 24 << 20, 300, BLK_CACHE_WRITEBACK);
}

static void test_image_create_raw_and_errors(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(image_create(at("r.raw"), "raw", 1 << 20, NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(at("r.raw"), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_true(st.st_blocks < 16); /* sparse */
	assert_int_equal(image_create(at("r.raw"), "raw", 1 << 20, NULL, err, sizeof(err)),
	                 -EEXIST);
	assert_int_equal(image_create(at("x"), "vmdk", 1 << 20, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(image_create(at("x"), "raw", 1000, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(image_create(at("x"), "raw", 1 << 20, "r.raw", err, sizeof(err)), -EINVAL);
	assert_int_equal(image_create(at("x"), "qcow2", 0, "nope", err, sizeof(err)), -ENOENT);
	assert_int_equal(access(at("x"), F_OK), -1);
}

static void poke_be64(const char *name, uint64_t off, uint64_t v)
{
	int fd = open(at(name), O_WRONLY);

	v = htobe64(v);
	assert_int_equal(pwrite(fd, &v, 8, (off_t)off), 8);
	close(fd);
}

static uint64_t peek_be64(const char *name, uint64_t off)
{
	int fd = open(at(name), O_RDONLY);
	uint64_t v = 0;

	assert_int_equal(pread(fd, &v, 8, (off_t)off), 8);
	close(fd);
	return be64toh(v);
}

/* Tiny clusters and odd refcount widths make the refcount table grow many times. */
static void test_small_clusters_and_refcount_widths(void **state)
{
	uint64_t rt;

	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=1 "
	                    "s1.qcow2 4M"),
	                 0);
	roundtrip("s1.qcow2", 4 << 20, 120, BLK_CACHE_WRITEBACK);
	/* 512-byte clusters, 64-bit refcounts: one table cluster covers only 2 MiB. */
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 "
	                    "s64.qcow2 6M"),
	                 0);
	rt = peek_be64("s64.qcow2", QCOW2_H_RT_OFFSET);
	roundtrip("s64.qcow2", 6 << 20, 200, BLK_CACHE_WRITEBACK);
	assert_true(peek_be64("s64.qcow2", QCOW2_H_RT_OFFSET) != rt);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o cluster_size=2M,refcount_bits=8 "
	                    "big.qcow2 16M"),
	                 0);
	roundtrip("big.qcow2", 16 << 20, 60, BLK_CACHE_WRITEBACK);
}

static void test_cache_modes(void **state)
{
	uint8_t *buf = malloc(70000), *back = malloc(70000);
	struct blk_backend *b;

	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 n.qcow2 8M"), 0);
	roundtrip("n.qcow2", 8 << 20, 100, BLK_CACHE_NONE);
	/* O_DIRECT from a buffer at an odd address, to an offset inside a cluster. */
	b = open_img(at("n.qcow2"), false, BLK_CACHE_NONE);
	for (int i = 0; i < 70000; i++)
		buf[i] = (uint8_t)(i * 7);
	write_at(b, buf + 1, 65536, 4096 + 512);
	read_at(b, back + 3, 65536, 4096 + 512);
	assert_memory_equal(buf + 1, back + 3, 65536);
	b->ops->close(b);
	assert_int_equal(sh("qemu-img check -q n.qcow2"), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 u.qcow2 8M"), 0);
	roundtrip("u.qcow2", 8 << 20, 100, BLK_CACHE_UNSAFE);
	free(buf);
	free(back);
}

/* Raw with O_DIRECT: unaligned buffers and offsets go through the bounce buffer. */
static void test_raw_cache_none(void **state)
{
	struct blk_open_opts o = { .cache = BLK_CACHE_NONE };
	uint8_t *shadow = calloc(1, 1 << 20), *buf = malloc(300000), *back = malloc(300000);
	struct blk_backend *b;

	(void)state;
	assert_int_equal(image_create(at("d.raw"), "raw", 1 << 20, NULL, err, sizeof(err)), 0);
	assert_int_equal(blk_raw_ops.open(at("d.raw"), &o, &b, err, sizeof(err)), 0);
	for (int i = 0; i < 50; i++) {
		uint64_t len = 1 + rnd() % 200000, off = rnd() % ((1 << 20) - len), mis = rnd() % 7;
		struct iovec r;
		ssize_t n;

		if (i % 2)
			off = off / 512 * 512;
		for (uint64_t j = 0; j < len; j++)
			buf[mis + j] = (uint8_t)rnd();
		for (uint64_t done = 0; done < len; done += (uint64_t)n) {
			struct iovec part = { buf + mis + done, len - done };

			n = b->ops->pwritev(b, &part, 1, off + done);
			assert_true(n > 0);
		}
		memcpy(shadow + off, buf + mis, len);
		for (uint64_t done = 0; done < len; done += (uint64_t)n) {
			r = (struct iovec){ back + 3 + done, len - done };
			n = b->ops->preadv(b, &r, 1, off + done);
			assert_true(n > 0);
		}
		assert_memory_equal(back + 3, shadow + off, len);
	}
	assert_int_equal(b->ops->flush(b), 0);
	b->ops->close(b);
	free(shadow);
	free(buf);
	free(back);
}

static void fill_file(const char *path, uint64_t size, uint8_t *shadow)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	for (uint64_t i = 0; i < size; i++)
		shadow[i] = (uint8_t)(rnd() >> 24);
	assert_int_equal(pwrite(fd, shadow, size, 0), (ssize_t)size);
	close(fd);
}

/* raw base <- qcow2 (qemu-img) <- qcow2 (image_create, relative name): the bases stay. */
static void test_backing_chain(void **state)
{
	uint64_t size = 12 << 20, base_size = 9 << 20;
	uint8_t *shadow = calloc(1, size);
	struct blk_backend *b;

	(void)state;
	fill_file(at("base.raw"), base_size, shadow);
	assert_int_equal(sh("sha256sum base.raw > base.sum"), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 12M"), 0);
	b = open_img(at("mid.qcow2"), false, BLK_CACHE_WRITEBACK);
	storm(b, shadow, size, 60, false);
	b->ops->close(b);
	assert_int_equal(sh("sha256sum mid.qcow2 > mid.sum"), 0);
	assert_int_equal(image_create(at("top.qcow2"), "qcow2", 0, "mid.qcow2", err, sizeof(err)),
	                 0);
	assert_int_equal(sh("qemu-img info top.qcow2 | grep -q 'backing file format: qcow2'"), 0);
	b = open_img(at("top.qcow2"), false, BLK_CACHE_WRITEBACK);
	assert_int_equal(b->ops->size_bytes(b), size);
	verify(b, shadow, size);
	storm(b, shadow, size, 200, true);
	verify(b, shadow, size);
	/* The backing files are locked shared: nobody may write them now. */
	assert_int_equal(try_open(at("mid.qcow2"), false), -EBUSY);
	assert_int_equal(try_open(at("mid.qcow2"), true), 0);
	b->ops->close(b);
	qemu_agrees("top.qcow2", shadow, size);
	assert_int_equal(sh("sha256sum -c --quiet base.sum && sha256sum -c --quiet mid.sum"), 0);
	free(shadow);
}

static void test_compressed_clusters(void **state)
{
	uint64_t size = 4 << 20;
	uint8_t *shadow = calloc(1, size);
	struct blk_backend *b;

	(void)state;
	/* Compressible: runs of one byte. */
	for (uint64_t i = 0; i < size; i++)
		shadow[i] = (uint8_t)(i / 1000 * 13);
	{
		int fd = open(at("plain.raw"), O_WRONLY | O_CREAT, 0644);

		assert_int_equal(pwrite(fd, shadow, size, 0), (ssize_t)size);
		close(fd);
	}
	assert_int_equal(sh("qemu-img convert -c -O qcow2 plain.raw z.qcow2"), 0);
	assert_int_equal(sh("test $(stat -c %%s z.qcow2) -lt 1000000"), 0);
	b = open_img(at("z.qcow2"), false, BLK_CACHE_WRITEBACK);
	verify(b, shadow, size);
	storm(b, shadow, size, 80, true);
	verify(b, shadow, size);
	b->ops->close(b);
	qemu_agrees("z.qcow2", shadow, size);
	free(shadow);
}

static void test_version2_reads_only(void **state)
{
	uint8_t buf[4096];
	struct blk_backend *b;

	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 1M && "
	                    "qemu-io -c 'write -P 0x5a 0 4096' v2.qcow2 >/dev/null"),
	                 0);
	assert_int_equal(try_open(at("v2.qcow2"), false), -EROFS);
	assert_non_null(strstr(err, "version 2"));
	b = open_img(at("v2.qcow2"), true, BLK_CACHE_WRITEBACK);
	read_at(b, buf, sizeof(buf), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x5a);
	b->ops->close(b);
}

/* An image with the first cluster written: L1[0] names an L2 table whose entry 0 is data. */
static void make_written(const char *name)
{
	assert_int_equal(sh("rm -f %s && qemu-img create -q -f qcow2 %s 1M && "
	                    "qemu-io -c 'write -P 0x11 0 64k' %s >/dev/null",
	                    name, name, name),
	                 0);
}

static void expect_open_error(const char *name, const char *what)
{
	assert_true(try_open(at(name), false) < 0);
	if (!strstr(err, what))
		fail_msg("'%s' does not say '%s'", err, what);
}

static void test_damaged_images_fail_cleanly(void **state)
{
	uint8_t buf[65536];
	struct iovec iov = { buf, sizeof(buf) };
	struct blk_backend *b;
	uint64_t l1, l2;

	(void)state;
	make_written("t.qcow2");
	assert_int_equal(truncate(at("t.qcow2"), 50), 0);
	expect_open_error("t.qcow2", "truncated");

	make_written("l1.qcow2");
	poke_be64("l1.qcow2", QCOW2_H_L1_OFFSET, 1ULL << 40);
	expect_open_error("l1.qcow2", "L1 table");

	make_written("l1h.qcow2");
	l1 = peek_be64("l1h.qcow2", QCOW2_H_L1_OFFSET);
	poke_be64("l1h.qcow2", l1, QCOW2_OFLAG_COPIED | 65536); /* the refcount table's cluster */
	expect_open_error("l1h.qcow2", "L1 entry 0");
	poke_be64("l1h.qcow2", l1, QCOW2_OFLAG_COPIED | (1ULL << 40));
	expect_open_error("l1h.qcow2", "past the end");

	/* L2 entries naming the header, or past the end: that request fails, the rest works. */
	make_written("l2.qcow2");
	l1 = peek_be64("l2.qcow2", QCOW2_H_L1_OFFSET);
	l2 = peek_be64("l2.qcow2", l1) & QCOW2_OFFSET_MASK;
	poke_be64("l2.qcow2", l2, QCOW2_OFLAG_COPIED | 65536);
	poke_be64("l2.qcow2", l2 + 8, QCOW2_OFLAG_COPIED | (1ULL << 40));
	poke_be64("l2.qcow2", l2 + 16, 0x1234); /* reserved bits */
	b = open_img(at("l2.qcow2"), false, BLK_CACHE_WRITEBACK);
	for (int c = 0; c < 3; c++) {
		assert_int_equal(b->ops->preadv(b, &iov, 1, (uint64_t)c * 65536), -EIO);
		assert_int_equal(b->ops->pwritev(b, &iov, 1, (uint64_t)c * 65536), -EIO);
	}
	assert_int_equal(b->ops->preadv(b, &iov, 1, 3 * 65536), (ssize_t)sizeof(buf));
	assert_int_equal(b->ops->pwritev(b, &iov, 1, 3 * 65536), (ssize_t)sizeof(buf));
	b->ops->close(b);
	assert_int_equal(peek_be64("l2.qcow2", 0) >> 32, BLK_QCOW2_MAGIC); /* header intact */

	/* Refcount table garbage. */
	make_written("rt.qcow2");
	poke_be64("rt.qcow2", 65536, 0xdeadbeefcafe);
	expect_open_error("rt.qcow2", "refcount table entry 0");
	poke_be64("rt.qcow2", QCOW2_H_RT_OFFSET, 3);
	expect_open_error("rt.qcow2", "refcount table");

	/* Snapshots and encryption are refused by name. */
	make_written("snap.qcow2");
	assert_int_equal(sh("qemu-img snapshot -c s1 snap.qcow2"), 0);
	expect_open_error("snap.qcow2", "snapshot");

	assert_int_equal(sh("echo not-qcow2 > junk"), 0);
	expect_open_error("junk", "truncated");
	assert_int_equal(sh("head -c 4096 /dev/urandom > rnd && printf 'QFI\\373' | "
	                    "dd of=rnd conv=notrunc status=none"),
	                 0);
	assert_true(try_open(at("rnd"), false) < 0);
	assert_int_equal(try_open(at("missing.qcow2"), false), -ENOENT);
	assert_int_equal(mkdir(at("d.qcow2"), 0755), 0);
	assert_true(try_open(at("d.qcow2"), false) < 0);
}

static void test_backing_loops_and_depth(void **state)
{
	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b b.qcow2 -F qcow2 a.qcow2 1M && "
	                    "qemu-img create -q -f qcow2 -u -b a.qcow2 -F qcow2 b.qcow2 1M"),
	                 0);
	expect_open_error("a.qcow2", "loops");
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b self.qcow2 -F qcow2 tmp.qcow2 1M && "
	                    "mv tmp.qcow2 self.qcow2"),
	                 0);
	expect_open_error("self.qcow2", "loops");
	/* 17 backing files below the top: one too many. */
	assert_int_equal(sh("qemu-img create -q -f qcow2 c0.qcow2 1M && for i in $(seq 1 17); do "
	                    "qemu-img create -q -f qcow2 -u -b c$((i-1)).qcow2 -F qcow2 c$i.qcow2 "
	                    "1M || exit 1; done"),
	                 0);
	expect_open_error("c17.qcow2", "deeper");
	assert_int_equal(try_open(at("c16.qcow2"), false), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b gone.raw -F raw orphan.qcow2 1M"),
	                 0);
	expect_open_error("orphan.qcow2", "gone.raw");
}

/* Two opens are two open file descriptions: OFD locks conflict even inside one process. */
static void test_locks(void **state)
{
	struct blk_open_opts rw = { 0 }, ro = { .read_only = true }, off = { .no_lock = true };
	struct blk_backend *a, *b;
	int pipefd[2];
	char msg[64];
	pid_t pid;

	(void)state;
	assert_int_equal(sh("qemu-img create -q -f qcow2 l.qcow2 1M && truncate -s 1M l.raw"), 0);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &rw, &a, err, sizeof(err)), 0);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &rw, &b, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "is in use by another process"));
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &ro, &b, err, sizeof(err)), -EBUSY);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &off, &b, err, sizeof(err)), 0);
	b->ops->close(b);
	a->ops->close(a);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &ro, &a, err, sizeof(err)), 0);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &ro, &b, err, sizeof(err)), 0);
	b->ops->close(b);
	assert_int_equal(blk_qcow2_ops.open(at("l.qcow2"), &rw, &b, err, sizeof(err)), -EBUSY);
	a->ops->close(a);

	/* Raw images lock the same way; a holder in another process is named by its pid. */
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		struct blk_backend *c;

		if (blk_raw_ops.open(at("l.raw"), &rw, &c, err, sizeof(err)) < 0)
			_exit(1);
		(void)!write(pipefd[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], msg, 1), 1);
	assert_int_equal(blk_raw_ops.open(at("l.raw"), &ro, &b, err, sizeof(err)), -EBUSY);
	snprintf(msg, sizeof(msg), "(pid %d)", (int)pid);
	if (!strstr(err, msg))
		fail_msg("'%s' does not name %s", err, msg);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(blk_raw_ops.open(at("l.raw"), &rw, &b, err, sizeof(err)), 0);
	b->ops->close(b);
}

/*
 * A process killed in the middle of writing leaves an image that checks clean (leaks
 * allowed: exit status 3) and holds everything it flushed.
 */
static void test_kill_during_writes(void **state)
{
	uint64_t size = 16 << 20;
	uint8_t *shadow = calloc(1, size), marker[4096];
	struct blk_backend *b;
	int st;
	pid_t pid;

	(void)state;
	memset(marker, 0xab, sizeof(marker));
	assert_int_equal(image_create(at("k.qcow2"), "qcow2", size, NULL, err, sizeof(err)), 0);
	pid = fork();
	if (pid == 0) {
		b = open_img(at("k.qcow2"), false, BLK_CACHE_WRITEBACK);
		write_at(b, marker, sizeof(marker), 5 << 20);
		if (b->ops->flush(b) < 0)
			_exit(1);
		/* The storm stays below the marker's 5 MiB. */
		storm(b, shadow, 4 << 20, 100, true); /* flushes every 16 */
		storm(b, shadow, 4 << 20, 7, false);  /* and these are not flushed */
		kill(getpid(), SIGKILL);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	st = sh("qemu-img check -q k.qcow2");
	assert_true(st == 0 || st == 3);
	b = open_img(at("k.qcow2"), true, BLK_CACHE_WRITEBACK);
	read_at(b, shadow, sizeof(marker), 5 << 20);
	b->ops->close(b);
	assert_memory_equal(shadow, marker, sizeof(marker));
	free(shadow);
	assert_int_equal(sh("qemu-img check -q -r leaks k.qcow2 >/dev/null; qemu-img check -q "
	                    "k.qcow2"),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qemu_made_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_create_qcow2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_create_raw_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_clusters_and_refcount_widths, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_cache_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_cache_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_clusters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version2_reads_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_images_fail_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_loops_and_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_writes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
