// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk (virtio 1.2 §5.2).  Model: one request queue; each request is checked against
 * its table row (direction of its data, feature, whether it writes), then served with one
 * synchronous vectored call straight on the guest's buffers, no bounce copies.  Event
 * wiring: queue_notify runs on the device's I/O thread, which is this device's only worker,
 * so a slow image stalls this disk and nothing else; config_read runs on a vCPU thread and
 * only reads bytes fixed at creation.  Saved state: none yet (no request outlives a notify).
 *
 * A guest error never takes the VMM down: a request whose status byte can be written fails
 * with VIRTIO_BLK_S_IOERR (or UNSUPP); one without a writable status byte, or a malformed
 * ring, puts the device in DEVICE_NEEDS_RESET.
 */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/log.h"
#include "devices/block/backend.h"
#include "devices/block/image_file.h"

#define HDR_SIZE              16u /* le32 type, le32 reserved, le64 sector */
#define SEG_SIZE              16u /* le64 sector, le32 num_sectors, le32 flags */
#define DISCARD_ALIGN_SECTORS 8u  /* 4 KiB: the host's page and file system block */

/* Disk formats: one row per src/devices/block/<fmt>.c. */
static const struct blk_backend_ops *const formats[] = {
	&blk_raw_ops,
	&blk_qcow2_ops,
};

/* Where a request's data lives: nowhere, after the header (out), before the status (in). */
enum data_dir { DATA_NONE, DATA_OUT, DATA_IN };

/* The counters of struct virtio_blk_stats, as indexes. */
enum blk_stat {
	STAT_READS,
	STAT_WRITES,
	STAT_FLUSHES,
	STAT_DISCARDS,
	STAT_READ_BYTES,
	STAT_WRITE_BYTES,
	STAT_ERRORS,
	STAT_UNSUPPORTED,
	STAT_COUNT,
	STAT_NONE = STAT_COUNT,
};

struct blk {
	struct virtio_dev dev; /* dev.priv points back here */
	struct blk_backend *backend;
	uint64_t capacity; /* 512-byte sectors */
	bool read_only;
	bool broken;       /* NEEDS_RESET reported; nothing is served until reset */
	bool writethrough; /* FLUSH not negotiated: writes are stable at completion */
	uint64_t features; /* offered */
	char serial[VIRTIO_BLK_SERIAL_MAX];     /* NUL padded, not terminated */
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE]; /* little-endian, fixed at creation */
	uint64_t stats[STAT_COUNT]; /* I/O thread writes, anyone reads (relaxed atomics) */
	struct log_ratelimit rl;
	/* Scratch of the I/O thread, too large for its stack. */
	struct virtq_elem elem;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* One request as the handlers see it: shape already checked against its row. */
struct req {
	const struct virtq_elem *elem;
	uint64_t sector;
	uint64_t data_len; /* bytes of data after the header (out) or before the status (in) */
	uint64_t written;  /* bytes written from the start of the in buffers, status excluded */
};

struct req_type {
	uint32_t type;
	enum data_dir data;
	bool writes;      /* refused on a read-only disk */
	uint64_t feature; /* must have been negotiated; 0 for none */
	uint8_t (*serve)(struct blk *b, struct req *r);
	enum blk_stat stat; /* counted when served with VIRTIO_BLK_S_OK */
};

static void count(struct blk *b, enum blk_stat stat, uint64_t n)
{
	__atomic_fetch_add(&b->stats[stat], n, __ATOMIC_RELAXED);
}

/*
 * iov for `len` bytes of bufs[0..n) starting `skip` bytes in.  The caller has checked that
 * the buffers hold skip + len bytes.  Returns the number of entries.
 */
static int build_iov(struct iovec *iov, const struct virtq_buf *bufs, unsigned int n, uint64_t skip,
                     uint64_t len)
{
	int cnt = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		uint64_t take;

		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		take = bufs[i].len - skip;
		if (take > len)
			take = len;
		iov[cnt].iov_base = bufs[i].hva + skip;
		iov[cnt].iov_len = take;
		cnt++;
		len -= take;
		skip = 0;
	}
	return cnt;
}

/* Drops the first n bytes of an iov array; returns the new start. */
static struct iovec *iov_advance(struct iovec *iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		iov->iov_base = (uint8_t *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

static struct iovec *in_data_iov(struct blk *b, const struct req *r, int *cnt)
{
	const struct virtq_elem *e = r->elem;

	*cnt = build_iov(b->iov, e->bufs + e->nr_out, e->nr_in, 0, r->data_len);
	return b->iov;
}

static struct iovec *out_data_iov(struct blk *b, const struct req *r, int *cnt)
{
	const struct virtq_elem *e = r->elem;

	*cnt = build_iov(b->iov, e->bufs, e->nr_out, HDR_SIZE, r->data_len);
	return b->iov;
}

/* Whether [sector, sector + bytes/512) lies on the disk, without overflow. */
static bool in_range(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t sectors = bytes / VIRTIO_BLK_SECTOR_SIZE;

	return sector <= b->capacity && sectors <= b->capacity - sector;
}

static bool rw_ok(const struct blk *b, const struct req *r)
{
	return r->data_len % VIRTIO_BLK_SECTOR_SIZE == 0 && in_range(b, r->sector, r->data_len);
}

static int make_stable(struct blk *b)
{
	return b->writethrough ? b->backend->ops->flush(b->backend) : 0;
}

static uint8_t io_error(struct blk *b, const char *what, int err)
{
	if (log_ratelimit_allow(&b->rl))
		log_msg(LOG_LEVEL_WARN, err, "virtio-blk: %s failed", what);
	return VIRTIO_BLK_S_IOERR;
}

static uint8_t serve_in(struct blk *b, struct req *r)
{
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR_SIZE, left = r->data_len;
	struct iovec *iov;
	ssize_t n;
	int cnt;

	if (!rw_ok(b, r))
		return VIRTIO_BLK_S_IOERR;
	iov = in_data_iov(b, r, &cnt);
	while (left > 0) {
		n = b->backend->ops->preadv(b->backend, iov, cnt, off);
		if (n < 0)
			return io_error(b, "read", (int)n);
		if (n == 0) {
			/* The image ends inside its last sector: the rest reads as zeroes. */
			for (int i = 0; i < cnt; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			break;
		}
		off += (uint64_t)n;
		left -= (uint64_t)n;
		iov = iov_advance(iov, &cnt, (size_t)n);
	}
	count(b, STAT_READ_BYTES, r->data_len);
	r->written = r->data_len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t serve_out(struct blk *b, struct req *r)
{
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR_SIZE, left = r->data_len;
	struct iovec *iov;
	ssize_t n;
	int cnt;

	if (!rw_ok(b, r))
		return VIRTIO_BLK_S_IOERR;
	iov = out_data_iov(b, r, &cnt);
	while (left > 0) {
		n = b->backend->ops->pwritev(b->backend, iov, cnt, off);
		if (n <= 0)
			return io_error(b, "write", n < 0 ? (int)n : -EIO);
		off += (uint64_t)n;
		left -= (uint64_t)n;
		iov = iov_advance(iov, &cnt, (size_t)n);
	}
	n = make_stable(b);
	if (n < 0)
		return io_error(b, "flush", (int)n);
	count(b, STAT_WRITE_BYTES, r->data_len);
	return VIRTIO_BLK_S_OK;
}

/* Data a guest flushed is on stable storage before it hears so (§5.2.6.2). */
static uint8_t serve_flush(struct blk *b, struct req *r)
{
	int err = b->backend->ops->flush(b->backend);

	(void)r;
	return err < 0 ? io_error(b, "flush", err) : VIRTIO_BLK_S_OK;
}

static uint8_t serve_get_id(struct blk *b, struct req *r)
{
	size_t n = r->data_len < sizeof(b->serial) ? r->data_len : sizeof(b->serial);

	r->written = virtq_elem_write(r->elem, 0, b->serial, n);
	return VIRTIO_BLK_S_OK;
}

struct seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/*
 * Reads and checks every segment of a discard or write-zeroes request before acting on any
 * (§5.2.6).  Returns VIRTIO_BLK_S_OK and the count, or the status to answer.
 */
static uint8_t read_segs(struct blk *b, const struct req *r, bool discard, struct seg *segs,
                         unsigned int *ret_n)
{
	unsigned int n = (unsigned int)(r->data_len / SEG_SIZE);
	uint8_t raw[SEG_SIZE];

	if (r->data_len == 0 || r->data_len % SEG_SIZE || n > VIRTIO_BLK_MAX_DWZ_SEGMENTS)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned int i = 0; i < n; i++) {
		if (virtq_elem_read(r->elem, HDR_SIZE + i * SEG_SIZE, raw, SEG_SIZE) != SEG_SIZE)
			return VIRTIO_BLK_S_IOERR;
		memcpy(&segs[i].sector, raw, 8);
		memcpy(&segs[i].num_sectors, raw + 8, 4);
		memcpy(&segs[i].flags, raw + 12, 4);
		segs[i].sector = le64toh(segs[i].sector);
		segs[i].num_sectors = le32toh(segs[i].num_sectors);
		segs[i].flags = le32toh(segs[i].flags);
		/* Unknown flags, or unmap on a discard, are UNSUPP (§5.2.6.2). */
		if (segs[i].flags & ~(discard ? 0u : VIRTIO_BLK_WZ_F_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (segs[i].num_sectors > VIRTIO_BLK_MAX_DWZ_SECTORS ||
		    !in_range(b, segs[i].sector,
		              (uint64_t)segs[i].num_sectors * VIRTIO_BLK_SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
	}
	*ret_n = n;
	return VIRTIO_BLK_S_OK;
}

static uint8_t serve_dwz(struct blk *b, struct req *r, bool discard)
{
	struct seg segs[VIRTIO_BLK_MAX_DWZ_SEGMENTS];
	unsigned int n = 0;
	uint8_t status;
	int err = 0;

	status = read_segs(b, r, discard, segs, &n);
	if (status != VIRTIO_BLK_S_OK)
		return status;
	for (unsigned int i = 0; i < n && err == 0; i++) {
		uint64_t off = segs[i].sector * VIRTIO_BLK_SECTOR_SIZE;
		uint64_t len = (uint64_t)segs[i].num_sectors * VIRTIO_BLK_SECTOR_SIZE;

		if (discard) {
			err = b->backend->ops->discard(b->backend, off, len);
			/* Discarding is a hint the device MAY ignore (§5.2.6.2). */
			if (err == -EOPNOTSUPP)
				err = 0;
		} else {
			err = b->backend->ops->write_zeroes(b->backend, off, len,
			                                    segs[i].flags & VIRTIO_BLK_WZ_F_UNMAP);
		}
	}
	if (err == 0)
		err = make_stable(b);
	return err < 0 ? io_error(b, discard ? "discard" : "write-zeroes", err) : VIRTIO_BLK_S_OK;
}

static uint8_t serve_discard(struct blk *b, struct req *r)
{
	return serve_dwz(b, r, true);
}

static uint8_t serve_write_zeroes(struct blk *b, struct req *r)
{
	return serve_dwz(b, r, false);
}

/* The requests we serve (§5.2.6); anything else is UNSUPP. */
static const struct req_type req_types[] = {
	{ VIRTIO_BLK_T_IN, DATA_IN, false, 0, serve_in, STAT_READS },
	{ VIRTIO_BLK_T_OUT, DATA_OUT, true, 0, serve_out, STAT_WRITES },
	{ VIRTIO_BLK_T_FLUSH, DATA_NONE, false, VIRTIO_BLK_F_FLUSH, serve_flush, STAT_FLUSHES },
	{ VIRTIO_BLK_T_GET_ID, DATA_IN, false, 0, serve_get_id, STAT_NONE },
	{ VIRTIO_BLK_T_DISCARD, DATA_OUT, true, VIRTIO_BLK_F_DISCARD, serve_discard,
	  STAT_DISCARDS },
	{ VIRTIO_BLK_T_WRITE_ZEROES, DATA_OUT, true, VIRTIO_BLK_F_WRITE_ZEROES, serve_write_zeroes,
	  STAT_DISCARDS },
};

static const struct req_type *find_type(uint32_t type)
{
	for (size_t i = 0; i < sizeof(req_types) / sizeof(req_types[0]); i++)
		if (req_types[i].type == type)
			return &req_types[i];
	return NULL;
}

/*
 * Checks the layout of a request against its row: the header alone in the out buffers for
 * in-data and no-data requests, the status alone in the in buffers for out-data and no-data
 * ones.  Sets r->data_len.
 */
static bool shape_ok(const struct req_type *t, const struct virtq_elem *e, struct req *r)
{
	uint64_t out_extra = e->out_len - HDR_SIZE, in_extra = e->in_len - 1;

	switch (t->data) {
	case DATA_NONE:
		r->data_len = 0;
		return out_extra == 0 && in_extra == 0;
	case DATA_OUT:
		r->data_len = out_extra;
		return in_extra == 0;
	case DATA_IN:
		r->data_len = in_extra;
		return out_extra == 0;
	}
	return false;
}

/* Serves one request whose status byte exists and whose header is readable. */
static uint8_t serve(struct blk *b, const struct virtq_elem *e, struct req *r)
{
	const struct req_type *t;
	uint8_t hdr[HDR_SIZE];
	uint32_t type;
	uint8_t status;

	if (e->out_len < HDR_SIZE || virtq_elem_read(e, 0, hdr, HDR_SIZE) != HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	memcpy(&type, hdr, 4);
	memcpy(&r->sector, hdr + 8, 8);
	type = le32toh(type);
	r->sector = le64toh(r->sector);
	t = find_type(type);
	if (!t) {
		count(b, STAT_UNSUPPORTED, 1);
		return VIRTIO_BLK_S_UNSUPP;
	}
	/* Writes to a read-only disk are IOERR whatever was negotiated (§5.2.6.2). */
	if (t->writes && b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (t->feature && !(b->dev.features & t->feature)) {
		count(b, STAT_UNSUPPORTED, 1);
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (!shape_ok(t, e, r))
		return VIRTIO_BLK_S_IOERR;
	status = t->serve(b, r);
	if (status == VIRTIO_BLK_S_OK && t->stat != STAT_NONE)
		count(b, t->stat, 1);
	return status;
}

/* The status byte: the last byte of the in buffers (§5.2.6), or NULL if there is none. */
static uint8_t *status_byte(const struct virtq_elem *e)
{
	for (unsigned int i = e->nr_out + e->nr_in; i > e->nr_out; i--) {
		const struct virtq_buf *buf = &e->bufs[i - 1];

		if (buf->len > 0)
			return buf->hva + buf->len - 1;
	}
	return NULL;
}

/* Serves and returns one chain.  Returns 0, or -EINVAL if the device must be reset. */
static int handle(struct blk *b, const struct virtq_elem *e)
{
	struct req r = { .elem = e };
	uint8_t *status = status_byte(e);
	uint64_t used;

	if (!status)
		return -EINVAL;
	*status = serve(b, e, &r);
	if (*status == VIRTIO_BLK_S_IOERR)
		count(b, STAT_ERRORS, 1);
	/*
	 * The used length covers the bytes written from the start of the in buffers
	 * (§2.7.8.2): the data, and the status only when it follows the data directly.
	 */
	used = r.written;
	if (r.written + 1 == e->in_len)
		used++;
	virtq_push(&b->dev.queues[0], e, used < UINT32_MAX ? (uint32_t)used : UINT32_MAX);
	return 0;
}

static void blk_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct blk *b = dev->priv;
	struct virtq *vq = &dev->queues[0];
	const char *why = NULL;
	bool pushed = false;
	int r;

	/* A queue the driver never enabled has size 0 and no rings: nothing to serve. */
	if (q != 0 || b->broken || vq->broken || vq->size == 0)
		return;
	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &b->elem)) > 0) {
			if (handle(b, &b->elem) < 0) {
				why = "virtio-blk: request without a writable status byte";
				break;
			}
			pushed = true;
		}
		if (r < 0)
			why = "virtio-blk: malformed descriptor chain or ring";
		if (why) {
			b->broken = true;
			virtio_set_needs_reset(dev, why);
			break;
		}
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_notify_used(dev, 0);
}

static uint64_t blk_features(struct virtio_dev *dev)
{
	return ((struct blk *)dev->priv)->features;
}

static void blk_config_read(struct virtio_dev *dev, uint32_t offset, void *data, uint32_t len)
{
	const struct blk *b = dev->priv;

	memset(data, 0, len);
	if (offset < sizeof(b->config))
		memcpy(data, b->config + offset,
		       len < sizeof(b->config) - offset ? len : sizeof(b->config) - offset);
}

/* Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE, which we do not offer. */
static void blk_config_write(struct virtio_dev *dev, uint32_t offset, const void *data,
                             uint32_t len)
{
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

static int blk_activate(struct virtio_dev *dev)
{
	struct blk *b = dev->priv;

	/*
	 * FLUSH offered but not negotiated: a write is stable once completed (§5.2.6.2, case
	 * 1), so every write is followed by a flush.
	 */
	b->writethrough = !(dev->features & VIRTIO_BLK_F_FLUSH);
	b->broken = false;
	return 0;
}

static void blk_reset(struct virtio_dev *dev)
{
	struct blk *b = dev->priv;

	b->broken = false;
	b->writethrough = false;
}

static void blk_free(struct virtio_dev *dev)
{
	struct blk *b;

	if (!dev)
		return;
	b = dev->priv;
	if (b->backend)
		b->backend->ops->close(b->backend);
	free(b);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* struct virtio_blk_config (§5.2.4); fields of features we do not offer stay 0. */
static void fill_config(struct blk *b)
{
	uint8_t *c = b->config;

	put_le64(c + 0, b->capacity);
	put_le32(c + 12, VIRTIO_BLK_SEG_MAX);
	put_le32(c + 20, VIRTIO_BLK_SECTOR_SIZE); /* blk_size */
	put_le16(c + 34, 1);                      /* num_queues, meaningful with MQ only */
	if (b->read_only)
		return;
	put_le32(c + 36, VIRTIO_BLK_MAX_DWZ_SECTORS); /* max_discard_sectors */
	put_le32(c + 40, VIRTIO_BLK_MAX_DWZ_SEGMENTS);
	put_le32(c + 44, DISCARD_ALIGN_SECTORS);
	put_le32(c + 48, VIRTIO_BLK_MAX_DWZ_SECTORS); /* max_write_zeroes_sectors */
	put_le32(c + 52, VIRTIO_BLK_MAX_DWZ_SEGMENTS);
	c[56] = 1; /* write_zeroes_may_unmap: unmap punches a hole */
}

static const struct blk_backend_ops *find_format(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

/*
 * The format named in cfg, or the one the file's first bytes say.  Probing trusts the file:
 * a guest that writes the qcow2 magic to the start of a raw disk changes how it is opened
 * next time, so whoever knows the format (xend) names it.
 */
static int pick_format(const struct virtio_blk_config *cfg, const struct blk_backend_ops **ret,
                       char *err, size_t errlen)
{
	bool is_qcow2 = false;
	int r;

	if (cfg->format) {
		*ret = find_format(cfg->format);
		if (!*ret) {
			snprintf(err, errlen,
			         "image '%s': unknown format '%s' (expected raw or qcow2)",
			         cfg->path, cfg->format);
			return -EINVAL;
		}
		return 0;
	}
	r = image_file_probe_qcow2(cfg->path, &is_qcow2);
	if (r < 0) {
		snprintf(err, errlen, "image '%s': %s", cfg->path, strerror(-r));
		return r;
	}
	*ret = is_qcow2 ? &blk_qcow2_ops : &blk_raw_ops;
	return 0;
}

int virtio_blk_new(const struct virtio_blk_config *cfg, struct virtio_dev **ret, char *err,
                   size_t errlen)
{
	const struct blk_open_opts opts = {
		.read_only = cfg->read_only,
		.cache = cfg->cache,
		.no_lock = cfg->no_lock,
	};
	size_t serial_len = cfg->serial ? strlen(cfg->serial) : 0;
	const struct blk_backend_ops *fmt;
	struct blk *b;
	int r;

	if (!cfg->path || serial_len > VIRTIO_BLK_SERIAL_MAX || cfg->cache >= BLK_CACHE_COUNT) {
		snprintf(err, errlen, "disk: no path, a serial over %u bytes or a bad cache mode",
		         VIRTIO_BLK_SERIAL_MAX);
		return -EINVAL;
	}
	r = pick_format(cfg, &fmt, err, errlen);
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "image '%s': out of memory", cfg->path);
		return -ENOMEM;
	}
	r = fmt->open(cfg->path, &opts, &b->backend, err, errlen);
	if (r < 0) {
		free(b);
		return r;
	}
	b->dev.ops = &virtio_blk_ops;
	b->dev.priv = b;
	b->read_only = cfg->read_only;
	/* A partial last sector is readable; its missing bytes read as zeroes. */
	b->capacity =
	        (fmt->size_bytes(b->backend) + VIRTIO_BLK_SECTOR_SIZE - 1) / VIRTIO_BLK_SECTOR_SIZE;
	if (serial_len)
		memcpy(b->serial, cfg->serial, serial_len);
	b->features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
	b->features |=
	        cfg->read_only ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
	b->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	fill_config(b);
	*ret = &b->dev;
	return 0;
}

static uint64_t stat_get(const struct blk *b, enum blk_stat which)
{
	return __atomic_load_n(&b->stats[which], __ATOMIC_RELAXED);
}

void virtio_blk_stats(const struct virtio_dev *dev, struct virtio_blk_stats *ret_stats)
{
	const struct blk *b = dev->priv;

	*ret_stats = (struct virtio_blk_stats){
		.reads = stat_get(b, STAT_READS),
		.writes = stat_get(b, STAT_WRITES),
		.flushes = stat_get(b, STAT_FLUSHES),
		.discards = stat_get(b, STAT_DISCARDS),
		.read_bytes = stat_get(b, STAT_READ_BYTES),
		.write_bytes = stat_get(b, STAT_WRITE_BYTES),
		.errors = stat_get(b, STAT_ERRORS),
		.unsupported = stat_get(b, STAT_UNSUPPORTED),
	};
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x018000, /* mass storage, other */
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.features = blk_features,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.free = blk_free,
};
