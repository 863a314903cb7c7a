// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rotating append-only files (see log_file.h).  A failed rotation keeps appending to the
 * current file rather than losing output.
 */
#include "common/log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct log_file {
	char *path;
	int fd;
	uint64_t size; /* bytes in the current file */
	uint64_t max_bytes;
};

static int open_append(const char *path, uint64_t *ret_size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_size = (uint64_t)st.st_size;
	return fd;
}

int log_file_open(const char *path, uint64_t max_bytes, struct log_file **ret)
{
	struct log_file *lf = calloc(1, sizeof(*lf));
	int fd;

	if (!lf)
		return -ENOMEM;
	lf->path = strdup(path);
	if (!lf->path) {
		free(lf);
		return -ENOMEM;
	}
	fd = open_append(path, &lf->size);
	if (fd < 0) {
		free(lf->path);
		free(lf);
		return fd;
	}
	lf->fd = fd;
	lf->max_bytes = max_bytes;
	*ret = lf;
	return 0;
}

static void rotate(struct log_file *lf)
{
	char old[4096];
	uint64_t size;
	int fd;

	if ((size_t)snprintf(old, sizeof(old), "%s.1", lf->path) >= sizeof(old))
		return;
	if (rename(lf->path, old) < 0)
		return;
	fd = open_append(lf->path, &size);
	if (fd < 0)
		return;
	close(lf->fd);
	lf->fd = fd;
	lf->size = size;
}

int log_file_write(struct log_file *lf, const void *buf, size_t len)
{
	const char *p = buf;

	if (lf->size && lf->size + len > lf->max_bytes)
		rotate(lf);
	while (len) {
		ssize_t n = write(lf->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		lf->size += (uint64_t)n;
	}
	return 0;
}

void log_file_close(struct log_file *lf)
{
	if (!lf)
		return;
	close(lf->fd);
	free(lf->path);
	free(lf);
}
