// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host file under a disk image: open with the cache mode's flags, the OFD lock, and I/O
 * that hides O_DIRECT's alignment rules behind a bounce buffer.  Open and close run on the
 * main thread, I/O on the device's I/O thread.  Never logs; never touches guest addresses
 * beyond the iovecs it is given.
 */
#include "devices/block/image_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM_ALIGN  4096u
#define BOUNCE_MAX (1024u * 1024) /* bytes moved per bounced call; callers loop */

void *image_file_alloc(size_t len)
{
	void *p;

	if (posix_memalign(&p, MEM_ALIGN, len ? len : 1) != 0)
		return NULL;
	memset(p, 0, len);
	return p;
}

/* Whether /proc/PID/fdinfo/FD has a "lock:" line: that open file holds a lock. */
static bool fd_has_lock(const char *pid, const char *fd)
{
	char path[600], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "lock:", 5) == 0;
	fclose(f);
	return found;
}

/*
 * The pid of a process with a locked open file on dev:ino (F_OFD_GETLK and /proc/locks say
 * -1 for OFD locks): found through /proc/PID/fd, whose stat follows the link to the file as
 * ours does (on overlayfs, /proc/locks would show the lower file system's numbers instead).
 * 0 if there is none we may see.
 */
static pid_t lock_holder(dev_t dev, ino_t ino)
{
	char path[600];
	struct dirent *p, *fd;
	pid_t found = 0, self = getpid();
	struct stat st;
	DIR *proc, *fds;

	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]) || atoi(p->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (fd = readdir(fds))) {
			if (fd->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, fd->d_name);
			if (stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino &&
			    fd_has_lock(p->d_name, fd->d_name))
				found = atoi(p->d_name);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

static int take_lock(struct image_file *f, const char *path, bool read_only, char *err,
                     size_t errlen)
{
	struct flock l = { .l_type = read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	pid_t pid;

	if (fcntl(f->fd, F_OFD_SETLK, &l) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES) {
		snprintf(err, errlen, "image '%s': cannot lock it: %s", path, strerror(errno));
		return -errno;
	}
	l = (struct flock){ .l_type = read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	pid = fcntl(f->fd, F_OFD_GETLK, &l) == 0 && l.l_pid > 0 ? l.l_pid : 0;
	if (!pid)
		pid = lock_holder(f->dev, f->ino);
	if (pid)
		snprintf(err, errlen, "image '%s' is in use by another process (pid %d)", path,
		         (int)pid);
	else
		snprintf(err, errlen,
		         "image '%s' is in use by another process (its pid is not visible here)",
		         path);
	return -EBUSY;
}

/* O_DIRECT's alignment: 512 bytes unless the file refuses a 512-byte direct read. */
static uint32_t probe_align(int fd)
{
	void *buf = image_file_alloc(512);
	uint32_t align = 512;

	if (!buf)
		return MEM_ALIGN;
	if (pread(fd, buf, 512, 0) < 0 && errno == EINVAL)
		align = MEM_ALIGN;
	free(buf);
	return align;
}

int image_file_open(struct image_file *f, const char *path, bool read_only,
                    const struct blk_open_opts *opts, char *err, size_t errlen)
{
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int r;

	*f = (struct image_file){ .fd = -1, .align = 1 };
	if (opts->cache == BLK_CACHE_NONE)
		flags |= O_DIRECT;
	f->fd = open(path, flags);
	if (f->fd < 0) {
		r = -errno;
		if (r == -EINVAL && (flags & O_DIRECT))
			snprintf(err, errlen,
			         "image '%s': cache=none needs O_DIRECT, which its "
			         "file system does not support",
			         path);
		else
			snprintf(err, errlen, "image '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(f->fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "image '%s': %s", path, strerror(-r));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "image '%s': not a regular file or a block device", path);
		r = -EINVAL;
		goto err_close;
	}
	f->is_blkdev = S_ISBLK(st.st_mode);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->direct = flags & O_DIRECT;
	f->unsafe = opts->cache == BLK_CACHE_UNSAFE;
	if (f->direct)
		f->align = probe_align(f->fd);
	r = image_file_size(f, &f->size);
	if (r < 0) {
		snprintf(err, errlen, "image '%s': cannot get its size: %s", path, strerror(-r));
		goto err_close;
	}
	if (!opts->no_lock) {
		r = take_lock(f, path, read_only, err, errlen);
		if (r < 0)
			goto err_close;
	}
	return 0;

err_close:
	close(f->fd);
	f->fd = -1;
	return r;
}

void image_file_close(struct image_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int image_file_size(struct image_file *f, uint64_t *ret_size)
{
	struct stat st;
	uint64_t size;

	if (f->is_blkdev) {
		if (ioctl(f->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
		*ret_size = size;
		return 0;
	}
	if (fstat(f->fd, &st) < 0)
		return -errno;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

static bool aligned(const struct image_file *f, const struct iovec *iov, int iovcnt,
                    uint64_t offset)
{
	if (offset % f->align)
		return false;
	for (int i = 0; i < iovcnt; i++)
		if ((uintptr_t)iov[i].iov_base % f->align || iov[i].iov_len % f->align)
			return false;
	return true;
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Copies between a flat buffer and up to len bytes of an iovec array. */
static void copy_iov(const struct iovec *iov, int iovcnt, uint8_t *buf, size_t len, bool to_iov)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_iov)
			memcpy(iov[i].iov_base, buf, n);
		else
			memcpy(buf, iov[i].iov_base, n);
		buf += n;
		len -= n;
	}
}

static ssize_t raw_io(struct image_file *f, const struct iovec *iov, int iovcnt, uint64_t offset,
                      bool write)
{
	ssize_t n;

	if (offset > INT64_MAX)
		return -EINVAL;
	do
		n = write ? pwritev(f->fd, iov, iovcnt, (off_t)offset)
		          : preadv(f->fd, iov, iovcnt, (off_t)offset);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Reads [start, start+len) into buf until done or end of file; zero-fills past the end. */
static ssize_t read_full_zero(struct image_file *f, uint8_t *buf, size_t len, uint64_t start)
{
	size_t done = 0;

	while (done < len) {
		struct iovec v = { buf + done, len - done };
		ssize_t n = raw_io(f, &v, 1, start + done, false);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	memset(buf + done, 0, len - done);
	return (ssize_t)done;
}

/*
 * An O_DIRECT transfer whose offset, lengths or buffers are not aligned: at most BOUNCE_MAX
 * bytes through an aligned buffer covering the aligned blocks around them.
 */
static ssize_t bounce(struct image_file *f, const struct iovec *iov, int iovcnt, uint64_t offset,
                      bool write)
{
	size_t len = iov_total(iov, iovcnt), head, span;
	uint64_t start;
	ssize_t n, got;
	uint8_t *buf;

	if (len > BOUNCE_MAX)
		len = BOUNCE_MAX;
	head = offset % f->align;
	start = offset - head;
	span = (head + len + f->align - 1) / f->align * f->align;
	buf = image_file_alloc(span);
	if (!buf)
		return -ENOMEM;
	got = 0;
	if (!write || head || (head + len) % f->align) {
		/* A write covering part of a block keeps the rest of that block. */
		got = read_full_zero(f, buf, span, start);
		if (got < 0) {
			free(buf);
			return got;
		}
	}
	if (!write) {
		n = got <= (ssize_t)head ? 0 : got - (ssize_t)head;
		if ((size_t)n > len)
			n = (ssize_t)len;
		copy_iov(iov, iovcnt, buf + head, (size_t)n, true);
		free(buf);
		return n;
	}
	copy_iov(iov, iovcnt, buf + head, len, false);
	{
		struct iovec v = { buf, span };

		n = raw_io(f, &v, 1, start, true);
	}
	free(buf);
	if (n < 0)
		return n;
	if ((size_t)n <= head)
		return -EIO;
	n -= (ssize_t)head;
	return n > (ssize_t)len ? (ssize_t)len : n;
}

ssize_t image_file_preadv(struct image_file *f, const struct iovec *iov, int iovcnt,
                          uint64_t offset)
{
	if (f->direct && !aligned(f, iov, iovcnt, offset))
		return bounce(f, iov, iovcnt, offset, false);
	return raw_io(f, iov, iovcnt, offset, false);
}

ssize_t image_file_pwritev(struct image_file *f, const struct iovec *iov, int iovcnt,
                           uint64_t offset)
{
	if (f->direct && !aligned(f, iov, iovcnt, offset))
		return bounce(f, iov, iovcnt, offset, true);
	return raw_io(f, iov, iovcnt, offset, true);
}

static int full(struct image_file *f, void *buf, size_t len, uint64_t offset, bool write)
{
	size_t done = 0;

	while (done < len) {
		struct iovec v = { (uint8_t *)buf + done, len - done };
		ssize_t n = write ? image_file_pwritev(f, &v, 1, offset + done)
		                  : image_file_preadv(f, &v, 1, offset + done);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int image_file_pread(struct image_file *f, void *buf, size_t len, uint64_t offset)
{
	return full(f, buf, len, offset, false);
}

int image_file_pwrite(struct image_file *f, const void *buf, size_t len, uint64_t offset)
{
	return full(f, (void *)(uintptr_t)buf, len, offset, true);
}

int image_file_sync(struct image_file *f)
{
	int r;

	if (f->unsafe)
		return 0;
	do
		r = fdatasync(f->fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int image_file_probe_qcow2(const char *path, bool *ret_is_qcow2)
{
	uint8_t magic[4];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		close(fd);
		/* A directory cannot be read: let the open that follows say what it is. */
		if (n == -EISDIR) {
			*ret_is_qcow2 = false;
			return 0;
		}
		return (int)n;
	}
	close(fd);
	*ret_is_qcow2 =
	        n == sizeof(magic) && ((uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 |
	                               (uint32_t)magic[2] << 8 | magic[3]) == BLK_QCOW2_MAGIC;
	return 0;
}
