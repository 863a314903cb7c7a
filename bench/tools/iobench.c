// SPDX-License-Identifier: GPL-2.0-only
/*
 * iobench: the one I/O load generator of bench/disk, run in the guest (on /dev/vda) and on the
 * host (on the image file) alike, so that both sides are measured the same way.
 *
 *   iobench seqread|seqwrite|randread PATH [-b BYTES] [-s MiB] [-t SECONDS] [-d]
 *
 *   -b  block size (default 1 MiB for seqread/seqwrite, 4096 for randread)
 *   -s  bytes of PATH used, from offset 0 (default: its whole size)
 *   -t  stop after this many seconds even if -s is not done (default 30)
 *   -d  O_DIRECT; if the file system refuses it (EINVAL: tmpfs before Linux 6.6) the run
 *       falls back to buffered I/O and says so (direct=0 in the result)
 *
 * One request at a time (queue depth 1), one thread.  seqwrite writes a non-zero pattern and
 * ends with fdatasync, inside the timed part.  randread reads block-aligned offsets drawn from
 * a fixed-seed xorshift generator, so every run reads the same sequence.  It prints one line:
 *
 *   iobench: mode=seqread direct=1 bs=1048576 ops=1024 bytes=1073741824 secs=2.345678
 *   mibps=436.6 iops=436.6
 *
 * (on one line) and exits 0, or prints an error and exits 1.  Build: gcc -static -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN 4096u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "iobench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint64_t file_size(int fd)
{
	struct stat st;
	uint64_t size;

	if (fstat(fd, &st) < 0)
		die("fstat");
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		die("BLKGETSIZE64");
	return size;
}

/* Full-block pread/pwrite at off; a short transfer is an error (the image is fixed-size). */
static void xfer(int fd, int writing, void *buf, size_t bs, uint64_t off)
{
	ssize_t n = writing ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);

	if (n < 0)
		die(writing ? "pwrite" : "pread");
	if ((size_t)n != bs) {
		errno = EIO;
		die(writing ? "short pwrite" : "short pread");
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: iobench seqread|seqwrite|randread PATH [-b BYTES] [-s MiB] "
	                "[-t SECONDS] [-d]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t bs = 0, size = 0, off = 0, ops = 0, bytes = 0, seed = 0x9e3779b97f4a7c15ull;
	double limit = 30, t0, t1;
	int direct = 0, writing, random, fd, opt, flags;
	const char *mode, *path;
	unsigned char *buf;

	if (argc < 3)
		usage();
	mode = argv[1];
	path = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "b:s:t:d")) != -1) {
		switch (opt) {
		case 'b':
			bs = strtoull(optarg, NULL, 0);
			break;
		case 's':
			size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 't':
			limit = strtod(optarg, NULL);
			break;
		case 'd':
			direct = 1;
			break;
		default:
			usage();
		}
	}
	writing = strcmp(mode, "seqwrite") == 0;
	random = strcmp(mode, "randread") == 0;
	if (!writing && !random && strcmp(mode, "seqread") != 0)
		usage();
	if (bs == 0)
		bs = random ? 4096 : 1u << 20;
	if (bs % ALIGN)
		usage();

	flags = (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	fd = open(path, flags | (direct ? O_DIRECT : 0));
	if (fd < 0 && direct && errno == EINVAL) {
		direct = 0;
		fd = open(path, flags);
	}
	if (fd < 0)
		die(path);
	if (size == 0 || size > file_size(fd))
		size = file_size(fd);
	size -= size % bs;
	if (size == 0) {
		errno = EINVAL;
		die("file smaller than one block");
	}
	if (posix_memalign((void **)&buf, ALIGN, bs))
		die("posix_memalign");
	for (uint64_t i = 0; i < bs; i++)
		buf[i] = (unsigned char)(i * 131 + 7);

	t0 = now();
	t1 = t0;
	while (bytes < size && t1 - t0 < limit) {
		/* Check the clock every 16 requests: cheap enough, and bounded at 16 requests. */
		for (int k = 0; k < 16 && bytes < size; k++) {
			if (random)
				off = (xorshift64(&seed) % (size / bs)) * bs;
			if (writing)
				memcpy(buf, &off, sizeof(off)); /* every block differs */
			xfer(fd, writing, buf, bs, off);
			off += bs;
			bytes += bs;
			ops++;
		}
		t1 = now();
	}
	if (writing && fdatasync(fd) < 0)
		die("fdatasync");
	t1 = now();
	close(fd);

	printf("iobench: mode=%s direct=%d bs=%llu ops=%llu bytes=%llu secs=%.6f mibps=%.1f "
	       "iops=%.1f\n",
	       mode, direct, (unsigned long long)bs, (unsigned long long)ops,
	       (unsigned long long)bytes, t1 - t0, (double)bytes / (1 << 20) / (t1 - t0),
	       (double)ops / (t1 - t0));
	return 0;
}
