// SPDX-License-Identifier: GPL-2.0-only
/*
 * Durable records: atomic whole-file writes and the directory scan at start-up.  The format
 * of a domain record belongs to domain.c; this file only moves JSON objects to and from disk.
 */
#include "xend/store.h"
#include "common/mkdir_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash == path ? 1 : slash - path] = 0;
	if (slash == path)
		dir[0] = '/';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int store_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len && r == 0) {
		ssize_t n = write(fd, data, len);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EINTR) {
			r = -errno;
		}
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return fsync_dir_of(path);
}

static int save_json(const char *dir, const char *path, struct json_object *obj)
{
	const char *text;
	int r = mkdir_p(dir, 0700, 0700);

	if (r < 0)
		return r;
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	return store_write_atomic(path, text, strlen(text));
}

int store_save_domain(const char *state_dir, unsigned int id, struct json_object *record)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/domains", state_dir) >= sizeof(dir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%u.json", dir, id) >= sizeof(path))
		return -ENAMETOOLONG;
	return save_json(dir, path, record);
}

static void remove_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}

void store_remove_domain(const char *state_dir, unsigned int id)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/domains/%u.json", state_dir, id) <
	    sizeof(path)) {
		(void)unlink(path);
		(void)fsync_dir_of(path);
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/domains/%u", state_dir, id) < sizeof(path))
		remove_tree(path);
}

/* Reads and parses a JSON object file of at most STORE_RECORD_MAX bytes. */
static int load_json(const char *path, struct json_object **ret)
{
	struct json_object *obj;
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STORE_RECORD_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return n < 0 ? -errno : -EIO;
	}
	buf[n] = 0;
	obj = json_tokener_parse(buf);
	free(buf);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return -EBADMSG;
	}
	*ret = obj;
	return r;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* Ids of the files named ID.json in dir, sorted. */
static int list_ids(const char *dir, unsigned int **ret, size_t *ret_n)
{
	unsigned int *ids = NULL, *grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		unsigned int id;
		char tail[8];

		if (sscanf(de->d_name, "%u%7s", &id, tail) != 2 || strcmp(tail, ".json") != 0 ||
		    de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(ids, cap * sizeof(*ids));
			if (!grown) {
				free(ids);
				closedir(d);
				return -ENOMEM;
			}
			ids = grown;
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_uint);
	*ret = ids;
	*ret_n = n;
	return 0;
}

int store_load_domains(const char *state_dir,
                       void (*fn)(void *opaque, unsigned int id, struct json_object *record),
                       void (*bad)(void *opaque, const char *path, int err), void *opaque)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned int *ids = NULL;
	size_t n = 0;
	int r;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/domains", state_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	r = list_ids(dir, &ids, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct json_object *obj = NULL;

		if ((size_t)snprintf(path, sizeof(path), "%s/%u.json", dir, ids[i]) >= sizeof(path))
			continue;
		r = load_json(path, &obj);
		if (r < 0) {
			bad(opaque, path, r);
			continue;
		}
		fn(opaque, ids[i], obj);
		json_object_put(obj);
	}
	free(ids);
	return 0;
}

int store_load_next_id(const char *state_dir, unsigned int *ret)
{
	struct json_object *obj = NULL, *v;
	char path[PATH_MAX];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/xend.json", state_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	r = load_json(path, &obj);
	if (r == -ENOENT) {
		*ret = 1;
		return 0;
	}
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(obj, "next_domid", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
	    json_object_get_int64(v) > 0x7fffffff) {
		json_object_put(obj);
		return -EBADMSG;
	}
	*ret = (unsigned int)json_object_get_int64(v);
	json_object_put(obj);
	return 0;
}

int store_save_next_id(const char *state_dir, unsigned int next)
{
	struct json_object *obj = json_object_new_object();
	char path[PATH_MAX];
	int r;

	if (!obj)
		return -ENOMEM;
	json_object_object_add(obj, "next_domid", json_object_new_int64(next));
	if ((size_t)snprintf(path, sizeof(path), "%s/xend.json", state_dir) >= sizeof(path))
		r = -ENAMETOOLONG;
	else
		r = save_json(state_dir, path, obj);
	json_object_put(obj);
	return r;
}
