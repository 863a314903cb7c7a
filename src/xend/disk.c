// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sharing rule for disk images and the preparation of a domain's disks (see disk.h).
 * xend opens no image for a VMM: it only stats files and reads the first bytes of qcow2
 * headers to follow backing chains, bounded as the VMM bounds them.  Main thread.
 */
#include "xend/disk.h"
#include "devices/block/backend.h"
#include "devices/block/image_create.h"
#include "devices/block/qcow2.h"
#include "xend/domain_config.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const mode_names[] = {
	[DISK_MODE_RO] = "read-only",
	[DISK_MODE_RW] = "read-write",
	[DISK_MODE_FORCE] = "read-write with w!",
};

const char *disk_mode_name(enum disk_mode mode)
{
	return (size_t)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode]
	                                                                 : "read-write";
}

/* Whether a use held of an image stands in the way of a new use want of the same image. */
static bool conflicts(enum disk_mode held, enum disk_mode want)
{
	if (want == DISK_MODE_FORCE)
		return false;
	if (want == DISK_MODE_RW)
		return true;
	return held != DISK_MODE_RO;
}

/* Appends to buf at *len, never past size; the text is cut short rather than lost. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size;
}

int disk_share_check(const struct disk_use *held, size_t n_held, const struct disk_use *want,
                     char *err, size_t errlen)
{
	size_t len = 0, n = 0;

	for (size_t i = 0; i < n_held; i++) {
		const struct disk_use *h = &held[i];

		if (h->dev != want->dev || h->ino != want->ino || !conflicts(h->mode, want->mode))
			continue;
		if (n++ == 0) {
			append(err, errlen, &len, "disk '%s'", want->path);
			if (want->via)
				append(err, errlen, &len, " (the backing file of '%s')", want->via);
			append(err, errlen, &len, " is in use by domain");
		} else {
			append(err, errlen, &len, ", domain");
		}
		append(err, errlen, &len, " '%s' (%s", h->domain, disk_mode_name(h->mode));
		if (h->via)
			append(err, errlen, &len, ", the backing file of '%s'", h->via);
		append(err, errlen, &len, ")");
	}
	if (!n)
		return 0;
	if (want->mode == DISK_MODE_RW)
		append(err, errlen, &len, "; use 'w!' to share it writable anyway");
	else
		append(err, errlen, &len,
		       "; an image written by one domain cannot be opened by "
		       "another");
	return -EBUSY;
}

/* ---- Collecting uses ---- */

static int push(struct disk_uses *uses, const struct disk_use *u)
{
	if (uses->n == uses->cap) {
		size_t cap = uses->cap ? 2 * uses->cap : 16;
		struct disk_use *v = realloc(uses->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		uses->v = v;
		uses->cap = cap;
	}
	uses->v[uses->n++] = *u;
	return 0;
}

static int own(struct disk_uses *uses, char *s)
{
	char **v = realloc(uses->owned, (uses->n_owned + 1) * sizeof(*v));

	if (!v) {
		free(s);
		return -ENOMEM;
	}
	uses->owned = v;
	uses->owned[uses->n_owned++] = s;
	return 0;
}

void disk_uses_fini(struct disk_uses *uses)
{
	for (size_t i = 0; i < uses->n_owned; i++)
		free(uses->owned[i]);
	free(uses->owned);
	free(uses->v);
	memset(uses, 0, sizeof(*uses));
}

/*
 * The backing file named in the qcow2 header of path, resolved against path's directory
 * as the VMM resolves it: *ret malloc'd, or NULL when path is not qcow2 or has no backing
 * file.  Returns 0, or -errno when the header cannot be read or is malformed.
 */
static int backing_of(const char *path, char **ret)
{
	unsigned char h[QCOW2_H_BACKING_SIZE + 4];
	char name[QCOW2_MAX_BACKING_NAME + 1], resolved[PATH_MAX], *out = NULL;
	uint64_t off;
	uint32_t magic, size;
	ssize_t got;
	int fd, r = 0;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = pread(fd, h, sizeof(h), 0);
	memcpy(&magic, h + QCOW2_H_MAGIC, 4);
	if (got < (ssize_t)sizeof(h) || be32toh(magic) != BLK_QCOW2_MAGIC)
		goto out; /* not qcow2 (or too short to be): no chain to follow */
	memcpy(&off, h + QCOW2_H_BACKING_OFFSET, 8);
	memcpy(&size, h + QCOW2_H_BACKING_SIZE, 4);
	off = be64toh(off);
	size = be32toh(size);
	if (!off)
		goto out;
	if (!size || size > QCOW2_MAX_BACKING_NAME || off > (uint64_t)INT64_MAX - size) {
		r = -EINVAL;
		goto out;
	}
	got = pread(fd, name, size, (off_t)off);
	if (got != (ssize_t)size || memchr(name, 0, size)) {
		r = got < 0 ? -errno : -EINVAL;
		goto out;
	}
	name[size] = 0;
	r = qcow2_backing_resolve(path, name, resolved, sizeof(resolved));
	if (r < 0)
		goto out;
	out = strdup(resolved);
	if (!out)
		r = -ENOMEM;
	*ret = out;
out:
	close(fd);
	return r;
}

/*
 * Adds the files below path (a qcow2 image, or the base of an overlay) read-only.  A loop
 * or a chain longer than the VMM accepts just ends the walk: the VMM refuses such an image
 * with its own message.
 */
static int add_chain(struct disk_uses *uses, const char *path, const char *via, const char *domain)
{
	const char *cur = path;
	size_t first = uses->n;

	for (unsigned int depth = 0; depth < QCOW2_MAX_CHAIN; depth++) {
		struct disk_use u = { .domain = domain, .via = via, .mode = DISK_MODE_RO };
		struct stat st;
		char *next;
		int r;

		r = backing_of(cur, &next);
		if (r < 0 || !next)
			return r == -ENOMEM ? r : 0;
		r = own(uses, next);
		if (r < 0)
			return r;
		if (stat(next, &st) < 0)
			return 0;
		for (size_t i = first > 0 ? first - 1 : 0; i < uses->n; i++)
			if (uses->v[i].dev == st.st_dev && uses->v[i].ino == st.st_ino)
				return 0; /* a loop */
		u.path = next;
		u.dev = st.st_dev;
		u.ino = st.st_ino;
		r = push(uses, &u);
		if (r < 0)
			return r;
		cur = next;
	}
	return 0;
}

static int add_disk(struct disk_uses *uses, const struct domain_disk *d, const char *domain,
                    bool strict, char *err, size_t errlen)
{
	struct disk_use u = { .domain = domain, .path = d->path };
	struct stat st;
	int r;

	u.mode = d->readonly ? DISK_MODE_RO : d->force ? DISK_MODE_FORCE : DISK_MODE_RW;
	if (stat(d->path, &st) == 0) {
		u.dev = st.st_dev;
		u.ino = st.st_ino;
		r = push(uses, &u);
		if (r == 0 && d->format == DOMAIN_DISK_QCOW2)
			r = add_chain(uses, d->path, d->path, domain);
		return r;
	}
	if (!d->backing || errno != ENOENT) {
		r = -errno;
		if (!strict)
			return 0;
		snprintf(err, errlen, "disk '%s': %s", d->path, strerror(-r));
		return r;
	}
	/* An overlay to be created: its base and the base's chain are what it will read. */
	if (stat(d->backing, &st) < 0) {
		r = -errno;
		if (!strict)
			return 0;
		snprintf(err, errlen, "disk '%s': backing file '%s': %s", d->path, d->backing,
		         strerror(-r));
		return r;
	}
	u.path = d->backing;
	u.via = d->path;
	u.mode = DISK_MODE_RO;
	u.dev = st.st_dev;
	u.ino = st.st_ino;
	r = push(uses, &u);
	return r ?: add_chain(uses, d->backing, d->path, domain);
}

int disk_uses_add(struct disk_uses *uses, const struct domain_config *cfg, const char *domain,
                  bool strict, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nr_disks; i++) {
		int r = add_disk(uses, &cfg->disks[i], domain, strict, err, errlen);

		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		if (r < 0)
			return r;
	}
	return 0;
}

int disk_uses_check(const struct disk_uses *held, const struct disk_uses *want, char *err,
                    size_t errlen)
{
	for (size_t i = 0; i < want->n; i++) {
		int r = disk_share_check(held->v, held->n, &want->v[i], err, errlen);

		/* A domain's own earlier disks count too (two paths to one file). */
		r = r ?: disk_share_check(want->v, i, &want->v[i], err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- Overlays ---- */

int disk_prepare(const struct domain_config *cfg, bool *created, char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < cfg->nr_disks; i++) {
		const struct domain_disk *d = &cfg->disks[i];
		struct stat st;
		int r;

		created[i] = false;
		if (!d->backing || stat(d->path, &st) == 0)
			continue;
		r = image_create(d->path, "qcow2", 0, d->backing, why, sizeof(why));
		if (r < 0) {
			disk_unprepare(cfg, created);
			snprintf(err, errlen, "disk '%s': cannot create an overlay on '%s': %s",
			         d->path, d->backing, why);
			return r;
		}
		created[i] = true;
	}
	return 0;
}

void disk_unprepare(const struct domain_config *cfg, const bool *created)
{
	for (size_t i = 0; i < cfg->nr_disks; i++) {
		if (created[i])
			(void)unlink(cfg->disks[i].path);
	}
}

/* ---- Guest order ---- */

struct vdev_key {
	unsigned long index; /* xl's disk index: a=0 ... z=25, aa=26 ... */
	size_t prefix_len;
	unsigned long part;
};

static struct vdev_key vdev_key(const char *v)
{
	struct vdev_key k = { 0, 0, 0 };
	const char *p = v;

	/* The prefix is xvd, hd, sd or vd: everything up to its final 'd'. */
	while (*p && *p != 'd')
		p++;
	if (*p == 'd')
		p++;
	k.prefix_len = (size_t)(p - v);
	for (; *p >= 'a' && *p <= 'z'; p++)
		k.index = k.index * 26 + (unsigned long)(*p - 'a' + 1);
	for (; *p >= '0' && *p <= '9'; p++)
		k.part = k.part * 10 + (unsigned long)(*p - '0');
	return k;
}

static int vdev_cmp(const char *a, const char *b)
{
	struct vdev_key ka = vdev_key(a), kb = vdev_key(b);
	int c;

	if (ka.index != kb.index)
		return ka.index < kb.index ? -1 : 1;
	c = strncmp(a, b, ka.prefix_len > kb.prefix_len ? ka.prefix_len : kb.prefix_len);
	if (c)
		return c;
	if (ka.part != kb.part)
		return ka.part < kb.part ? -1 : 1;
	return strcmp(a, b);
}

void disk_order(const struct domain_config *cfg, size_t *order)
{
	/* Insertion sort: at most 16 disks, and stable for equal names. */
	for (size_t i = 0; i < cfg->nr_disks; i++) {
		size_t j = i;

		while (j > 0 && vdev_cmp(cfg->disks[order[j - 1]].vdev, cfg->disks[i].vdev) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/* ---- xm block-list ---- */

/* The VMM's counters of the k-th virtio-blk device (the k-th disk in guest order). */
static struct json_object *device_stats(struct json_object *stats, size_t k)
{
	struct json_object *devs, *dev, *name;
	char want[32];

	snprintf(want, sizeof(want), "virtio-blk%zu", k);
	if (!stats || !json_object_object_get_ex(stats, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		dev = json_object_array_get_idx(devs, i);
		if (json_object_object_get_ex(dev, "name", &name) &&
		    json_object_is_type(name, json_type_string) &&
		    !strcmp(json_object_get_string(name), want))
			return dev;
	}
	return NULL;
}

static int64_t counter(struct json_object *dev, const char *key)
{
	struct json_object *v;

	if (!dev || !json_object_object_get_ex(dev, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static struct json_object *block_row(const struct domain_disk *d, size_t k, struct json_object *dev)
{
	/* The VMM's names for its counters, and the API's (reads and writes are requests). */
	static const char *const counters[][2] = {
		{ "reads", "read_requests" },    { "read_bytes", "read_bytes" },
		{ "writes", "write_requests" },  { "write_bytes", "write_bytes" },
		{ "flushes", "flush_requests" }, { "errors", "errors" },
	};
	struct json_object *o = json_object_new_object();
	char guest[16];

	if (!o)
		return NULL;
	snprintf(guest, sizeof(guest), "vd%c", (char)('a' + k));
	json_object_object_add(o, "vdev", json_object_new_string(d->vdev));
	json_object_object_add(o, "guest_device", json_object_new_string(guest));
	json_object_object_add(o, "path", json_object_new_string(d->path));
	json_object_object_add(o, "format",
	                       json_object_new_string(domain_disk_format_name(d->format)));
	json_object_object_add(o, "mode",
	                       json_object_new_string(d->readonly ? "r"
	                                              : d->force  ? "w!"
	                                                          : "w"));
	json_object_object_add(o, "devtype", json_object_new_string(d->cdrom ? "cdrom" : "disk"));
	json_object_object_add(o, "backing",
	                       d->backing ? json_object_new_string(d->backing) : NULL);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(o, counters[i][1],
		                       json_object_new_int64(counter(dev, counters[i][0])));
	return o;
}

struct json_object *disk_block_json(const struct domain_config *cfg, struct json_object *stats)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t order[DOMAIN_DISKS_MAX];

	if (!o || !a || cfg->nr_disks > DOMAIN_DISKS_MAX) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	disk_order(cfg, order);
	for (size_t k = 0; k < cfg->nr_disks; k++) {
		struct json_object *row =
		        block_row(&cfg->disks[order[k]], k, device_stats(stats, k));

		if (!row || json_object_array_add(a, row) < 0) {
			json_object_put(row);
			json_object_put(a);
			json_object_put(o);
			return NULL;
		}
	}
	json_object_object_add(o, "disks", a);
	return o;
}
