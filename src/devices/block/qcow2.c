// SPDX-License-Identifier: GPL-2.0-only
/*
 * The qcow2 format (QEMU docs/interop/qcow2.txt): version 3 read and written, version 2 read.
 * Open and close run on the main thread, everything else on the device's I/O thread; one
 * thread at a time, so nothing here locks.
 *
 * What it does: L1/L2 lookup with an LRU cache of L2 tables and refcount blocks; reads of
 * unallocated clusters from the backing file (a chain of read-only images, each locked
 * shared) or as zeroes; allocating writes that append clusters at the end of the file and
 * copy the rest of a partly written cluster from below; zero clusters; discard; reading
 * deflate-compressed clusters.  What it refuses: encryption, internal snapshots, external
 * data files, extended L2 entries, zstd, writing version 2.
 *
 * Crash safety.  Data is written at once; metadata changes stay in the caches (marked
 * dirty) until a flush, which writes them in dependency order with a sync between steps:
 * refcount blocks then the refcount table (a table entry never points at an unwritten
 * block), sync, header (if the table moved), L2 tables (an entry never points at a cluster
 * whose data or refcount is not stable), sync, L1 entries (never at an unwritten L2 table),
 * sync.  A cluster is freed (refcount decremented, hole punched) only after the flush that
 * made its last reference disappear, and freed clusters are never reused (allocation only
 * appends), so a kill -9 or a power cut at any point leaves, at worst, leaked clusters.
 *
 * Every value read from the file is checked before use: a damaged image fails the open
 * with a message, or the one request that meets the damage with -EIO; never a read or write
 * outside the clusters the metadata may name, and never into the image's own metadata.
 */
#include "devices/block/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "devices/block/backend.h"
#include "devices/block/image_file.h"

#define L2_CACHE_BYTES (8u << 20)
#define RB_CACHE_BYTES (2u << 20)
#define CACHE_MIN      4u
#define CACHE_MAX      1024u

/* One cached cluster of metadata: an L2 table or a refcount block, in on-disk byte order. */
struct tentry {
	uint64_t off;  /* host offset; 0: slot empty */
	uint8_t *buf;  /* cluster size, aligned for O_DIRECT */
	uint64_t used; /* LRU tick */
	bool dirty;
};

struct tcache {
	struct tentry *e;
	unsigned int n;
	uint64_t tick;
};

/* A host range whose refcount drops by one after the next complete flush. */
struct pending_free {
	uint64_t off; /* host bytes, any alignment for compressed data */
	uint64_t len;
};

/* The identity of the images opened so far in one chain, to refuse loops. */
struct chain {
	dev_t dev[QCOW2_MAX_CHAIN + 2];
	ino_t ino[QCOW2_MAX_CHAIN + 2];
	unsigned int n;
};

struct qcow2 {
	struct blk_backend b; /* first: blk_backend pointers are qcow2 pointers */
	struct image_file file;
	struct blk_backend *backing; /* NULL: unallocated clusters read as zeroes */
	uint64_t backing_size;

	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cs;      /* cluster size in bytes */
	uint32_t l2_bits; /* log2 of entries per L2 table */
	uint32_t refcount_order;
	uint32_t rb_bits; /* log2 of entries per refcount block */
	uint64_t size;    /* virtual disk bytes */

	uint8_t *hdr;     /* cluster 0 as read (or last written) */
	uint32_t hdr_len; /* header_length: what a header update writes, rounded up */
	bool hdr_dirty;   /* the refcount table moved since the header was written */

	uint64_t *l1; /* host byte order, l1_size entries */
	uint32_t l1_size;
	uint64_t l1_off;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* [lo, hi) entries to write; lo == hi: clean */

	uint64_t *rt; /* refcount table, host byte order */
	uint64_t rt_entries;
	uint64_t rt_off;
	uint32_t rt_clusters;
	uint64_t rt_dirty_lo, rt_dirty_hi;
	uint64_t old_rt_off; /* a replaced table, freed once the header names the new one */
	uint32_t old_rt_clusters;

	struct tcache l2c, rbc;

	uint64_t alloc_end; /* next cluster to allocate: everything from here on is free */
	uint64_t *meta;     /* bitmap by host cluster: header, tables, refcount blocks */
	uint64_t meta_bits;

	struct pending_free *frees;
	size_t nr_frees, cap_frees;

	bool unsynced; /* written since the last sync */
	bool broken;   /* a metadata write failed: the on-disk state is unknown, refuse writes */

	uint8_t *cow;    /* one cluster: copy-on-write and decompression output */
	uint8_t *zin;    /* compressed input, two clusters */
	uint8_t *zeroes; /* one cluster of zeroes, the source of partial write-zeroes */
	z_stream zs;
	bool zs_ready;
	struct iovec *iov; /* scratch for slices of a request's iovec */
	int iov_cap;
};

static struct qcow2 *to_q(struct blk_backend *b)
{
	return (struct qcow2 *)b;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

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

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

/* ---- file I/O that remembers a sync is due ---- */

static int wr(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	int r = image_file_pwrite(&q->file, buf, len, off);

	q->unsynced = true;
	return r;
}

static int sync_file(struct qcow2 *q)
{
	int r;

	if (!q->unsynced)
		return 0;
	r = image_file_sync(&q->file);
	if (r == 0)
		q->unsynced = false;
	return r;
}

/* ---- the metadata map: which host clusters data may never be read from or written to ---- */

static bool meta_test(const struct qcow2 *q, uint64_t host)
{
	uint64_t c = host >> q->cluster_bits;

	return c < q->meta_bits && (q->meta[c / 64] >> (c % 64) & 1);
}

static int meta_set(struct qcow2 *q, uint64_t host, uint64_t clusters)
{
	uint64_t first = host >> q->cluster_bits, end = first + clusters;

	if (end > q->meta_bits) {
		uint64_t bits = round_up(end + end / 2 + 64, 64);
		uint64_t *m = realloc(q->meta, bits / 8);

		if (!m)
			return -ENOMEM;
		memset(m + q->meta_bits / 64, 0, (bits - q->meta_bits) / 8);
		q->meta = m;
		q->meta_bits = bits;
	}
	for (uint64_t c = first; c < end; c++)
		q->meta[c / 64] |= 1ULL << (c % 64);
	return 0;
}

static void meta_clear(struct qcow2 *q, uint64_t host, uint64_t clusters)
{
	for (uint64_t c = host >> q->cluster_bits; clusters-- > 0 && c < q->meta_bits; c++)
		q->meta[c / 64] &= ~(1ULL << (c % 64));
}

/* ---- the table cache ---- */

/* Slots get their buffer when first used: a small image never fills its cache. */
static int tcache_init(struct tcache *c, uint64_t cs, uint32_t budget)
{
	unsigned int n = (unsigned int)(budget / cs);

	n = n < CACHE_MIN ? CACHE_MIN : n > CACHE_MAX ? CACHE_MAX : n;
	c->e = calloc(n, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;
	c->n = n;
	return 0;
}

static void tcache_fini(struct tcache *c)
{
	for (unsigned int i = 0; c->e && i < c->n; i++)
		free(c->e[i].buf);
	free(c->e);
	c->e = NULL;
}

static int flush_all(struct qcow2 *q);

/* Makes slot e free for another table: writes it first if it is dirty. */
static int evict(struct qcow2 *q, struct tcache *c, struct tentry *e)
{
	int r;

	if (e->off && e->dirty) {
		if (c == &q->l2c) {
			/* An L2 table may only reach the disk after what it points to. */
			r = flush_all(q);
		} else {
			/* Refcount blocks hold only increments and completed frees: safe any time.
			 */
			r = wr(q, e->buf, q->cs, e->off);
			if (r == 0)
				e->dirty = false;
		}
		if (r < 0) {
			q->broken = true;
			return r;
		}
	}
	e->off = 0;
	e->dirty = false;
	return 0;
}

/*
 * The cached table at host offset off, read from the file on a miss (or, when fresh, a
 * zeroed slot for a table that does not exist on disk yet).  The pointer is valid until the
 * next tcache_get on the same cache.
 */
static int tcache_get(struct qcow2 *q, struct tcache *c, uint64_t off, bool fresh,
                      struct tentry **ret)
{
	struct tentry *victim = &c->e[0];
	int r;

	for (unsigned int i = 0; i < c->n; i++) {
		if (c->e[i].off == off) {
			c->e[i].used = ++c->tick;
			*ret = &c->e[i];
			return 0;
		}
		if (c->e[i].used < victim->used)
			victim = &c->e[i];
	}
	r = evict(q, c, victim);
	if (r < 0)
		return r;
	if (!victim->buf) {
		victim->buf = image_file_alloc(q->cs);
		if (!victim->buf)
			return -ENOMEM;
	}
	if (fresh) {
		memset(victim->buf, 0, q->cs);
	} else {
		r = image_file_pread(&q->file, victim->buf, q->cs, off);
		if (r < 0)
			return r == -EIO || r == -EINVAL ? -EIO : r;
	}
	victim->off = off;
	victim->used = ++c->tick;
	*ret = victim;
	return 0;
}

/* ---- refcounts ---- */

static uint64_t rb_read(const struct qcow2 *q, const uint8_t *rb, uint64_t i)
{
	switch (q->refcount_order) {
	case 0:
		return rb[i / 8] >> (i % 8) & 1;
	case 1:
		return rb[i / 4] >> (2 * (i % 4)) & 3;
	case 2:
		return rb[i / 2] >> (4 * (i % 2)) & 15;
	case 3:
		return rb[i];
	case 4:
		return (uint64_t)rb[2 * i] << 8 | rb[2 * i + 1];
	case 5:
		return get_be32(rb + 4 * i);
	default:
		return get_be64(rb + 8 * i);
	}
}

static void rb_write(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v)
{
	unsigned int shift;

	switch (q->refcount_order) {
	case 0:
	case 1:
	case 2:
		shift = (unsigned int)(i % (8u >> q->refcount_order)) << q->refcount_order;
		rb[i >> (3 - q->refcount_order)] &=
		        (uint8_t) ~(((1u << (1u << q->refcount_order)) - 1) << shift);
		rb[i >> (3 - q->refcount_order)] |= (uint8_t)(v << shift);
		break;
	case 3:
		rb[i] = (uint8_t)v;
		break;
	case 4:
		rb[2 * i] = (uint8_t)(v >> 8);
		rb[2 * i + 1] = (uint8_t)v;
		break;
	case 5:
		put_be32(rb + 4 * i, (uint32_t)v);
		break;
	default:
		put_be64(rb + 8 * i, v);
		break;
	}
}

/* The refcount block covering host, loaded.  -ENOENT if the table has no block for it. */
static int refblock(struct qcow2 *q, uint64_t host, struct tentry **ret, uint64_t *ret_index)
{
	uint64_t idx = host >> (q->cluster_bits + q->rb_bits);

	if (idx >= q->rt_entries || q->rt[idx] == 0)
		return -ENOENT;
	*ret_index = (host >> q->cluster_bits) & ((1ULL << q->rb_bits) - 1);
	return tcache_get(q, &q->rbc, q->rt[idx], false, ret);
}

static int get_refcount(struct qcow2 *q, uint64_t host, uint64_t *ret)
{
	struct tentry *e;
	uint64_t i;
	int r = refblock(q, host, &e, &i);

	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = rb_read(q, e->buf, i);
	return 0;
}

static int set_refcount(struct qcow2 *q, uint64_t host, uint64_t v)
{
	struct tentry *e;
	uint64_t i;
	int r = refblock(q, host, &e, &i);

	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	rb_write(q, e->buf, i, v);
	e->dirty = true;
	return 0;
}

static void rt_mark(struct qcow2 *q, uint64_t lo, uint64_t hi)
{
	if (q->rt_dirty_lo == q->rt_dirty_hi) {
		q->rt_dirty_lo = lo;
		q->rt_dirty_hi = hi;
		return;
	}
	if (lo < q->rt_dirty_lo)
		q->rt_dirty_lo = lo;
	if (hi > q->rt_dirty_hi)
		q->rt_dirty_hi = hi;
}

static int grow_rt(struct qcow2 *q, uint64_t need);
static int queue_free(struct qcow2 *q, uint64_t off, uint64_t len);

/*
 * Makes sure a refcount block covers host, creating one at the end of the file (which may
 * in turn need a bigger refcount table).  New blocks count themselves.
 */
static int ensure_refblock(struct qcow2 *q, uint64_t host)
{
	uint64_t idx = host >> (q->cluster_bits + q->rb_bits), rb;
	struct tentry *e;
	int r;

	if (idx < q->rt_entries && q->rt[idx])
		return 0;
	if (idx >= q->rt_entries) {
		r = grow_rt(q, idx + 1);
		if (r < 0)
			return r;
		if (q->rt[idx])
			return 0;
	}
	rb = q->alloc_end;
	q->alloc_end += q->cs;
	r = tcache_get(q, &q->rbc, rb, true, &e);
	if (r < 0)
		return r;
	e->dirty = true;
	q->rt[idx] = rb;
	rt_mark(q, idx, idx + 1);
	r = meta_set(q, rb, 1);
	if (r < 0)
		return r;
	r = ensure_refblock(q, rb);
	if (r < 0)
		return r;
	return set_refcount(q, rb, 1);
}

/*
 * Replaces the refcount table with a bigger one at the end of the file, big enough for
 * need entries and for the clusters it and its refcount blocks take.  The old table is freed
 * once the header names the new one.
 */
static int grow_rt(struct qcow2 *q, uint64_t need)
{
	uint64_t per_cluster = q->cs / 8, entries = q->rt_entries * 2, clusters, off, *rt;
	int r;

	for (;;) {
		uint64_t end;

		if (entries < need)
			entries = need;
		entries = round_up(entries, per_cluster);
		clusters = entries / per_cluster;
		/* Room for the table itself, and for a few refcount blocks after it. */
		end = q->alloc_end + (clusters + 8) * q->cs;
		if (((end - 1) >> (q->cluster_bits + q->rb_bits)) < entries)
			break;
		entries = ((end - 1) >> (q->cluster_bits + q->rb_bits)) + 1;
	}
	if (entries * 8 > QCOW2_MAX_RT_BYTES)
		return -EFBIG;
	rt = calloc(entries, 8);
	if (!rt)
		return -ENOMEM;
	memcpy(rt, q->rt, q->rt_entries * 8);
	off = q->alloc_end;
	q->alloc_end += clusters * q->cs;
	if (q->old_rt_clusters == 0) {
		q->old_rt_off = q->rt_off;
		q->old_rt_clusters = q->rt_clusters;
	} else {
		/* A table grown twice before a flush was never on disk: free it after one. */
		meta_clear(q, q->rt_off, q->rt_clusters);
		r = queue_free(q, q->rt_off, (uint64_t)q->rt_clusters * q->cs);
		if (r < 0) {
			free(rt);
			return r;
		}
	}
	free(q->rt);
	q->rt = rt;
	q->rt_entries = entries;
	q->rt_off = off;
	q->rt_clusters = (uint32_t)clusters;
	q->rt_dirty_lo = 0;
	q->rt_dirty_hi = entries;
	q->hdr_dirty = true;
	r = meta_set(q, off, clusters);
	for (uint64_t i = 0; r == 0 && i < clusters; i++) {
		r = ensure_refblock(q, off + i * q->cs);
		if (r == 0)
			r = set_refcount(q, off + i * q->cs, 1);
	}
	return r;
}

/* A new cluster at the end of the file, counted (refcount 1).  Its content is undefined. */
static int alloc_cluster(struct qcow2 *q, uint64_t *ret)
{
	uint64_t off, rc;
	int r;

	for (;;) {
		off = q->alloc_end;
		r = ensure_refblock(q, off);
		if (r < 0)
			return r;
		if (q->alloc_end != off)
			continue; /* the new refcount block took that cluster */
		q->alloc_end += q->cs;
		r = get_refcount(q, off, &rc);
		if (r < 0)
			return r;
		/* Counted clusters past the end of the file are someone's leak: skip them. */
		if (rc == 0)
			break;
	}
	r = set_refcount(q, off, 1);
	if (r == 0)
		*ret = off;
	return r;
}

static int queue_free(struct qcow2 *q, uint64_t off, uint64_t len)
{
	if (q->nr_frees == q->cap_frees) {
		size_t cap = q->cap_frees ? q->cap_frees * 2 : 64;
		struct pending_free *f = realloc(q->frees, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		q->frees = f;
		q->cap_frees = cap;
	}
	q->frees[q->nr_frees++] = (struct pending_free){ off, len };
	return 0;
}

/* Drops one reference from each cluster of a freed range; punches out what reaches 0. */
static int apply_frees(struct qcow2 *q)
{
	for (size_t i = 0; i < q->nr_frees; i++) {
		uint64_t first = q->frees[i].off & ~(q->cs - 1);
		uint64_t end = q->frees[i].off + q->frees[i].len;

		for (uint64_t c = first; c < end; c += q->cs) {
			uint64_t rc;
			int r = get_refcount(q, c, &rc);

			if (r < 0)
				return r;
			if (rc == 0 || meta_test(q, c))
				continue; /* damaged or shared with metadata: leave it alone */
			r = set_refcount(q, c, rc - 1);
			if (r < 0)
				return r;
			if (rc == 1 && !q->file.is_blkdev)
				(void)fallocate(q->file.fd,
				                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				                (off_t)c, (off_t)q->cs);
		}
	}
	q->nr_frees = 0;
	return 0;
}

/* ---- flush: metadata in dependency order ---- */

static int write_dirty(struct qcow2 *q, struct tcache *c)
{
	for (unsigned int i = 0; i < c->n; i++) {
		struct tentry *e = &c->e[i];
		int r;

		if (!e->off || !e->dirty)
			continue;
		r = wr(q, e->buf, q->cs, e->off);
		if (r < 0)
			return r;
		e->dirty = false;
	}
	return 0;
}

static bool any_dirty(const struct tcache *c)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (c->e[i].off && c->e[i].dirty)
			return true;
	return false;
}

/* Entries [lo, hi) of a table of u64 at off, through a big-endian copy in 512-byte units. */
static int write_table(struct qcow2 *q, const uint64_t *t, uint64_t entries, uint64_t off,
                       uint64_t lo, uint64_t hi)
{
	uint64_t first = lo / 64 * 64, last = round_up(hi, 64), n;
	uint8_t *buf;
	int r;

	if (last > round_up(entries, 64))
		last = round_up(entries, 64);
	n = last - first;
	buf = image_file_alloc(n * 8);
	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		put_be64(buf + 8 * i, first + i < entries ? t[first + i] : 0);
	r = wr(q, buf, n * 8, off + first * 8);
	free(buf);
	return r;
}

static int write_header(struct qcow2 *q)
{
	put_be64(q->hdr + QCOW2_H_RT_OFFSET, q->rt_off);
	put_be32(q->hdr + QCOW2_H_RT_CLUSTERS, q->rt_clusters);
	return wr(q, q->hdr, round_up(q->hdr_len, 512) < q->cs ? round_up(q->hdr_len, 512) : q->cs,
	          0);
}

static int flush_refcounts(struct qcow2 *q)
{
	int r = write_dirty(q, &q->rbc);

	if (r == 0 && q->rt_dirty_lo < q->rt_dirty_hi) {
		/* New refcount blocks are stable before the table entries that name them. */
		r = sync_file(q);
		if (r == 0)
			r = write_table(q, q->rt, q->rt_entries, q->rt_off, q->rt_dirty_lo,
			                q->rt_dirty_hi);
		if (r == 0)
			q->rt_dirty_lo = q->rt_dirty_hi = 0;
	}
	if (r < 0 || !q->hdr_dirty)
		return r;
	/* The new table and its blocks are stable before the header names them. */
	r = sync_file(q);
	if (r == 0)
		r = write_header(q);
	if (r == 0)
		r = sync_file(q);
	if (r < 0)
		return r;
	q->hdr_dirty = false;
	if (q->old_rt_clusters) {
		meta_clear(q, q->old_rt_off, q->old_rt_clusters);
		r = queue_free(q, q->old_rt_off, (uint64_t)q->old_rt_clusters * q->cs);
		q->old_rt_clusters = 0;
	}
	return r;
}

static int flush_steps(struct qcow2 *q)
{
	bool l1_dirty = q->l1_dirty_lo < q->l1_dirty_hi;
	int r;

	r = flush_refcounts(q);
	if (r < 0)
		return r;
	if (any_dirty(&q->l2c) || l1_dirty) {
		/* Data and refcounts before the L2 entries that name them. */
		r = sync_file(q);
		if (r == 0)
			r = write_dirty(q, &q->l2c);
		if (r < 0)
			return r;
	}
	if (l1_dirty) {
		/* L2 tables before the L1 entries that name them. */
		r = sync_file(q);
		if (r == 0)
			r = write_table(q, q->l1, q->l1_size, q->l1_off, q->l1_dirty_lo,
			                q->l1_dirty_hi);
		if (r < 0)
			return r;
		q->l1_dirty_lo = q->l1_dirty_hi = 0;
	}
	r = sync_file(q);
	if (r < 0 || q->nr_frees == 0)
		return r;
	/* The references of the queued ranges are gone for good: now they can be freed. */
	r = apply_frees(q);
	if (r == 0)
		r = write_dirty(q, &q->rbc);
	return r;
}

static int flush_all(struct qcow2 *q)
{
	int r;

	if (q->broken)
		return -EIO;
	r = flush_steps(q);
	if (r < 0)
		q->broken = true;
	return r;
}

/* ---- L1/L2 lookup ---- */

enum ctype { C_UNALLOC, C_ZERO, C_NORMAL, C_COMPRESSED };

/* Where one virtual cluster's data is, decoded and checked. */
struct mapping {
	enum ctype type;
	uint64_t host; /* C_NORMAL: cluster offset; C_COMPRESSED: byte offset */
	uint64_t clen; /* C_COMPRESSED: bytes of compressed data */
	bool copied;   /* C_NORMAL: refcount 1, writable in place */
	uint64_t raw;  /* the entry as stored */
};

static int decode_l2(const struct qcow2 *q, uint64_t e, struct mapping *m)
{
	*m = (struct mapping){ .raw = e };
	if (e & QCOW2_OFLAG_COMPRESSED) {
		uint32_t x = 62 - (q->cluster_bits - 8);
		uint64_t sectors = ((e & ~QCOW2_OFLAG_COPIED & ~QCOW2_OFLAG_COMPRESSED) >> x) + 1;

		m->type = C_COMPRESSED;
		m->host = e & ((1ULL << x) - 1);
		m->clen = sectors * 512 - (m->host & 511);
		if (sectors * 512 <= (m->host & 511) || m->clen > 2 * q->cs || m->host < q->cs ||
		    m->host + m->clen > q->alloc_end)
			return -EIO;
		return 0;
	}
	if (e & QCOW2_L2_RESERVED)
		return -EIO;
	m->host = e & QCOW2_OFFSET_MASK;
	m->copied = e & QCOW2_OFLAG_COPIED;
	if (m->host & (q->cs - 1))
		return -EIO;
	if (q->version >= 3 && (e & QCOW2_OFLAG_ZERO)) {
		m->type = C_ZERO;
	} else if (m->host == 0) {
		m->type = C_UNALLOC;
		return 0;
	} else {
		m->type = C_NORMAL;
	}
	if (m->host == 0 || (m->host < q->alloc_end && !meta_test(q, m->host)))
		return 0;
	/* A data cluster in the header, in a table, or past what the file holds is damage. */
	if (m->type == C_NORMAL)
		return -EIO;
	m->host = 0; /* a zero cluster's preallocation we cannot trust: forget it */
	return 0;
}

/*
 * The L2 table for virtual offset voff: *ret NULL if none is allocated and !for_write.  For
 * writes, a missing table is allocated (zeroed, dirty) and named in the L1 table.
 */
static int get_l2(struct qcow2 *q, uint64_t voff, bool for_write, struct tentry **ret)
{
	uint64_t idx = voff >> (q->cluster_bits + q->l2_bits), e, off;
	int r;

	if (idx >= q->l1_size)
		return -EIO;
	e = q->l1[idx];
	off = e & QCOW2_OFFSET_MASK;
	if (off == 0) {
		if (!for_write) {
			*ret = NULL;
			return 0;
		}
		r = alloc_cluster(q, &off);
		if (r < 0)
			return r;
		r = meta_set(q, off, 1);
		if (r == 0)
			r = tcache_get(q, &q->l2c, off, true, ret);
		if (r < 0)
			return r;
		(*ret)->dirty = true;
		q->l1[idx] = off | QCOW2_OFLAG_COPIED;
		if (q->l1_dirty_lo == q->l1_dirty_hi) {
			q->l1_dirty_lo = (uint32_t)idx;
			q->l1_dirty_hi = (uint32_t)idx + 1;
		} else {
			if (idx < q->l1_dirty_lo)
				q->l1_dirty_lo = (uint32_t)idx;
			if (idx + 1 > q->l1_dirty_hi)
				q->l1_dirty_hi = (uint32_t)idx + 1;
		}
		return 0;
	}
	/* A table shared with a snapshot would need copying: we open no such image. */
	if (for_write && !(e & QCOW2_OFLAG_COPIED))
		return -EIO;
	return tcache_get(q, &q->l2c, off, false, ret);
}

static uint64_t l2_index(const struct qcow2 *q, uint64_t voff)
{
	return (voff >> q->cluster_bits) & ((1ULL << q->l2_bits) - 1);
}

static int lookup(struct qcow2 *q, uint64_t voff, struct mapping *m)
{
	struct tentry *t;
	int r = get_l2(q, voff, false, &t);

	if (r < 0)
		return r;
	if (!t) {
		*m = (struct mapping){ .type = C_UNALLOC };
		return 0;
	}
	return decode_l2(q, get_be64(t->buf + 8 * l2_index(q, voff)), m);
}

/*
 * How many bytes from voff (at most max) map like voff does: the same type, and for data
 * clusters consecutive host clusters, within one L2 table.
 */
static uint64_t extent(struct qcow2 *q, uint64_t voff, uint64_t max, const struct mapping *m)
{
	uint64_t len = q->cs - (voff & (q->cs - 1)), next = voff + len;
	struct tentry *t;

	if (m->type == C_COMPRESSED || len >= max)
		return len < max ? len : max;
	if (get_l2(q, voff, false, &t) < 0)
		return len;
	while (len < max && l2_index(q, next) != 0) {
		struct mapping n;

		if (!t) {
			if (m->type != C_UNALLOC)
				break;
		} else if (decode_l2(q, get_be64(t->buf + 8 * l2_index(q, next)), &n) < 0 ||
		           n.type != m->type ||
		           (m->type == C_NORMAL && (n.host != m->host + len || !n.copied))) {
			break;
		}
		len += q->cs;
		next += q->cs;
	}
	return len < max ? len : max;
}

/* ---- iovec helpers ---- */

/* q->iov holds bytes [skip, skip+len) of iov. Returns the count, or -ENOMEM. */
static int slice(struct qcow2 *q, const struct iovec *iov, int cnt, uint64_t skip, uint64_t len)
{
	int n = 0;

	if (cnt > q->iov_cap) {
		struct iovec *v = realloc(q->iov, (size_t)cnt * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->iov = v;
		q->iov_cap = cnt;
	}
	for (int i = 0; i < cnt && len > 0; i++) {
		uint64_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		q->iov[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		q->iov[n].iov_len = take;
		n++;
		len -= take;
		skip = 0;
	}
	return n;
}

static void iov_zero(const struct iovec *iov, int cnt)
{
	for (int i = 0; i < cnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static void iov_copy(const struct iovec *iov, int cnt, uint8_t *buf, bool to_iov)
{
	for (int i = 0; i < cnt; i++) {
		if (to_iov)
			memcpy(iov[i].iov_base, buf, iov[i].iov_len);
		else
			memcpy(buf, iov[i].iov_base, iov[i].iov_len);
		buf += iov[i].iov_len;
	}
}

static size_t iov_len(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Reads all of iov from a host offset; what lies past the end of the file reads as zeroes. */
static int read_host(struct image_file *f, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n = image_file_preadv(f, iov, cnt, off);

		if (n < 0)
			return (int)n;
		if (n == 0) {
			iov_zero(iov, cnt);
			return 0;
		}
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Writes all of iov at a host offset (iov is consumed). */
static int write_host(struct qcow2 *q, struct iovec *iov, int cnt, uint64_t off)
{
	q->unsynced = true;
	while (cnt > 0) {
		ssize_t n = image_file_pwritev(&q->file, iov, cnt, off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Reads iov from the backing image at voff; past its end, zeroes. */
static int read_backing(struct qcow2 *q, struct iovec *iov, int cnt, uint64_t voff)
{
	struct blk_backend *bk = q->backing;

	if (!bk || voff >= q->backing_size) {
		iov_zero(iov, cnt);
		return 0;
	}
	while (cnt > 0) {
		ssize_t n = bk->ops->preadv(bk, iov, cnt, voff);

		if (n < 0)
			return (int)n;
		if (n == 0) {
			iov_zero(iov, cnt);
			return 0;
		}
		voff += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Inflates the compressed cluster m into q->cow. */
static int decompress(struct qcow2 *q, const struct mapping *m)
{
	int r;

	if (!q->zs_ready) {
		q->zin = image_file_alloc(2 * q->cs);
		if (!q->zin || inflateInit2(&q->zs, -15) != Z_OK)
			return -ENOMEM;
		q->zs_ready = true;
	}
	/* QEMU may count sectors past the end of the file for the last cluster: zeroes. */
	r = read_host(&q->file, &(struct iovec){ q->zin, m->clen }, 1, m->host);
	if (r < 0)
		return r;
	if (inflateReset(&q->zs) != Z_OK)
		return -EIO;
	q->zs.next_in = q->zin;
	q->zs.avail_in = (uInt)m->clen;
	q->zs.next_out = q->cow;
	q->zs.avail_out = (uInt)q->cs;
	r = inflate(&q->zs, Z_FINISH);
	/* The sector padding after the stream may leave input; a short output is damage. */
	if ((r != Z_STREAM_END && r != Z_BUF_ERROR) || q->zs.avail_out != 0)
		return -EIO;
	return 0;
}

/* Fills q->cow with what virtual cluster voff (mapped by m) reads as now. */
static int read_cluster(struct qcow2 *q, uint64_t voff, const struct mapping *m)
{
	struct iovec v = { q->cow, q->cs };

	switch (m->type) {
	case C_UNALLOC:
		return read_backing(q, &v, 1, voff & ~(q->cs - 1));
	case C_ZERO:
		memset(q->cow, 0, q->cs);
		return 0;
	case C_NORMAL:
		return read_host(&q->file, &v, 1, m->host);
	case C_COMPRESSED:
		return decompress(q, m);
	}
	return -EIO;
}

/* ---- the backend ---- */

static ssize_t qcow2_preadv(struct blk_backend *b, const struct iovec *iov, int iovcnt,
                            uint64_t offset)
{
	struct qcow2 *q = to_q(b);
	uint64_t len = iov_len(iov, iovcnt), done = 0;

	if (offset >= q->size)
		return 0;
	if (len > q->size - offset)
		len = q->size - offset;
	while (done < len) {
		uint64_t voff = offset + done, n;
		struct mapping m;
		int cnt, r;

		r = lookup(q, voff, &m);
		if (r < 0)
			return r;
		n = extent(q, voff, len - done, &m);
		cnt = slice(q, iov, iovcnt, done, n);
		if (cnt < 0)
			return cnt;
		switch (m.type) {
		case C_UNALLOC:
			r = read_backing(q, q->iov, cnt, voff);
			break;
		case C_ZERO:
			iov_zero(q->iov, cnt);
			break;
		case C_NORMAL:
			r = read_host(&q->file, q->iov, cnt, m.host + (voff & (q->cs - 1)));
			break;
		case C_COMPRESSED:
			r = decompress(q, &m);
			if (r == 0)
				iov_copy(q->iov, cnt, q->cow + (voff & (q->cs - 1)), true);
			break;
		}
		if (r < 0)
			return r;
		done += n;
	}
	return (ssize_t)len;
}

static void set_l2(struct qcow2 *q, struct tentry *t, uint64_t voff, uint64_t entry)
{
	put_be64(t->buf + 8 * l2_index(q, voff), entry);
	t->dirty = true;
}

/* Frees what an L2 entry held once the entry that replaces it is stable. */
static int release(struct qcow2 *q, const struct mapping *m)
{
	if (m->type == C_COMPRESSED)
		return queue_free(q, m->host, m->clen);
	if ((m->type == C_NORMAL || m->type == C_ZERO) && m->host)
		return queue_free(q, m->host, q->cs);
	return 0;
}

/*
 * Writes n bytes at voff (within one cluster) into a new cluster: the rest of the cluster
 * comes from what it reads as now.  Then the L2 entry names the new cluster.
 */
static int write_new_cluster(struct qcow2 *q, const struct iovec *iov, int iovcnt, uint64_t skip,
                             uint64_t voff, uint64_t n)
{
	uint64_t in = voff & (q->cs - 1), host;
	struct mapping m;
	struct tentry *t;
	int cnt, r;

	r = get_l2(q, voff, true, &t);
	if (r < 0)
		return r;
	r = decode_l2(q, get_be64(t->buf + 8 * l2_index(q, voff)), &m);
	if (r < 0)
		return r;
	if (n < q->cs) {
		r = read_cluster(q, voff, &m);
		if (r < 0)
			return r;
	}
	cnt = slice(q, iov, iovcnt, skip, n);
	if (cnt < 0)
		return cnt;
	r = alloc_cluster(q, &host);
	if (r < 0)
		return r;
	if (n < q->cs) {
		iov_copy(q->iov, cnt, q->cow + in, false);
		r = wr(q, q->cow, q->cs, host);
	} else {
		r = write_host(q, q->iov, cnt, host);
	}
	if (r < 0)
		return r; /* the cluster leaks: its refcount is 1 and nothing names it */
	/* alloc_cluster may have evicted t: look the table up again. */
	r = get_l2(q, voff, true, &t);
	if (r < 0)
		return r;
	set_l2(q, t, voff, host | QCOW2_OFLAG_COPIED);
	return release(q, &m);
}

static ssize_t qcow2_pwritev(struct blk_backend *b, const struct iovec *iov, int iovcnt,
                             uint64_t offset)
{
	struct qcow2 *q = to_q(b);
	uint64_t len = iov_len(iov, iovcnt), done = 0;

	if (b->read_only)
		return -EROFS;
	if (q->broken)
		return -EIO;
	if (offset >= q->size || len > q->size - offset)
		return -EIO;
	while (done < len) {
		uint64_t voff = offset + done, n;
		struct mapping m;
		int r;

		r = lookup(q, voff, &m);
		if (r < 0)
			return r;
		if (m.type == C_NORMAL && m.copied) {
			int cnt;

			n = extent(q, voff, len - done, &m);
			cnt = slice(q, iov, iovcnt, done, n);
			if (cnt < 0)
				return cnt;
			r = write_host(q, q->iov, cnt, m.host + (voff & (q->cs - 1)));
			if (r < 0)
				return r;
		} else {
			n = q->cs - (voff & (q->cs - 1));
			if (n > len - done)
				n = len - done;
			r = write_new_cluster(q, iov, iovcnt, done, voff, n);
			if (r < 0)
				return r;
		}
		done += n;
	}
	return (ssize_t)len;
}

static int qcow2_flush(struct blk_backend *b)
{
	if (b->read_only)
		return 0;
	return flush_all(to_q(b));
}

/*
 * Whole clusters of [offset, offset+len) become zero clusters (zero=true) or read from below
 * (discard without zero flag); partial clusters are left to the caller.
 */
static int unmap_clusters(struct qcow2 *q, uint64_t offset, uint64_t len, bool zero, bool keep)
{
	uint64_t first = round_up(offset, q->cs), end = (offset + len) & ~(q->cs - 1);

	for (uint64_t voff = first; voff < end; voff += q->cs) {
		struct mapping m;
		struct tentry *t;
		uint64_t entry;
		int r;

		r = lookup(q, voff, &m);
		if (r < 0)
			return r;
		if (m.type == C_UNALLOC && (!q->backing || !zero))
			continue;
		if (m.type == C_ZERO && (!m.host || keep))
			continue;
		r = get_l2(q, voff, true, &t);
		if (r < 0)
			return r;
		if (keep && m.type == C_NORMAL && m.copied) {
			/* Keep the allocation, as asked, and read zeroes. */
			set_l2(q, t, voff, m.host | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO);
			continue;
		}
		entry = zero ? QCOW2_OFLAG_ZERO : 0;
		set_l2(q, t, voff, entry);
		r = release(q, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Write-zeroes of a partial cluster: an ordinary write of zeroes. */
static int write_zero_bytes(struct qcow2 *q, uint64_t offset, uint64_t len)
{
	if (len && !q->zeroes) {
		q->zeroes = image_file_alloc(q->cs);
		if (!q->zeroes)
			return -ENOMEM;
	}
	while (len > 0) {
		uint64_t n = q->cs - (offset & (q->cs - 1));
		struct iovec v;
		ssize_t w;

		if (n > len)
			n = len;
		v = (struct iovec){ q->zeroes, n };
		w = qcow2_pwritev(&q->b, &v, 1, offset);
		if (w < 0)
			return (int)w;
		offset += n;
		len -= n;
	}
	return 0;
}

static int check_range(struct qcow2 *q, uint64_t offset, uint64_t len)
{
	if (q->b.read_only)
		return -EROFS;
	if (q->broken)
		return -EIO;
	if (offset > q->size || len > q->size - offset)
		return -EIO;
	return 0;
}

static int qcow2_discard(struct blk_backend *b, uint64_t offset, uint64_t len)
{
	struct qcow2 *q = to_q(b);
	int r = check_range(q, offset, len);

	if (r < 0)
		return r;
	/* With a backing file, a discarded cluster must not show the base again: zero it. */
	if (q->version < 3 && q->backing)
		return 0;
	return unmap_clusters(q, offset, len, q->backing != NULL, false);
}

static int qcow2_write_zeroes(struct blk_backend *b, uint64_t offset, uint64_t len, bool may_unmap)
{
	struct qcow2 *q = to_q(b);
	uint64_t first, end;
	int r = check_range(q, offset, len);

	if (r < 0 || len == 0)
		return r;
	if (q->version < 3)
		return write_zero_bytes(q, offset, len);
	first = round_up(offset, q->cs);
	end = (offset + len) & ~(q->cs - 1);
	if (first >= end)
		return write_zero_bytes(q, offset, len);
	r = write_zero_bytes(q, offset, first - offset);
	if (r == 0)
		r = unmap_clusters(q, first, end - first, true, !may_unmap);
	if (r == 0)
		r = write_zero_bytes(q, end, offset + len - end);
	return r;
}

static uint64_t qcow2_size_bytes(struct blk_backend *b)
{
	return to_q(b)->size;
}

static void qcow2_free(struct qcow2 *q)
{
	if (q->backing)
		q->backing->ops->close(q->backing);
	image_file_close(&q->file);
	tcache_fini(&q->l2c);
	tcache_fini(&q->rbc);
	if (q->zs_ready)
		inflateEnd(&q->zs);
	free(q->zin);
	free(q->zeroes);
	free(q->cow);
	free(q->hdr);
	free(q->l1);
	free(q->rt);
	free(q->meta);
	free(q->frees);
	free(q->iov);
	free(q);
}

static void qcow2_close(struct blk_backend *b)
{
	struct qcow2 *q;

	if (!b)
		return;
	q = to_q(b);
	/* Twice: the second writes the refcounts the first one's frees changed. */
	if (!b->read_only && flush_all(q) == 0)
		(void)flush_all(q);
	qcow2_free(q);
}

/* ---- open ---- */

static int bad(char *err, size_t errlen, const char *path, int r, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int bad(char *err, size_t errlen, const char *path, int r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "qcow2 image '%s': %s", path, msg);
	return r;
}

/* Reads the header (cluster 0) and checks every field we depend on. */
static int read_header(struct qcow2 *q, const char *path, char *err, size_t errlen)
{
	uint8_t h[QCOW2_H_V3_LENGTH];
	uint64_t incompat = 0, file_size = q->file.size, l1_need, l2_span;
	uint32_t nb_snapshots, crypt;
	int r;

	if (file_size < QCOW2_H_V2_LENGTH)
		return bad(err, errlen, path, -EINVAL, "truncated: %" PRIu64 " bytes", file_size);
	memset(h, 0, sizeof(h));
	r = image_file_pread(&q->file, h, file_size < sizeof(h) ? QCOW2_H_V2_LENGTH : sizeof(h), 0);
	if (r < 0)
		return bad(err, errlen, path, r, "cannot read the header: %s", strerror(-r));
	if (get_be32(h + QCOW2_H_MAGIC) != BLK_QCOW2_MAGIC)
		return bad(err, errlen, path, -EINVAL, "no qcow2 magic");
	q->version = get_be32(h + QCOW2_H_VERSION);
	if (q->version != 2 && q->version != 3)
		return bad(err, errlen, path, -EINVAL, "version %u (expected 2 or 3)", q->version);
	if (q->version == 2 && !q->b.read_only)
		return bad(err, errlen, path, -EROFS,
		           "version 2 images open read-only here (qemu-img amend -o compat=1.1 "
		           "upgrades them)");
	q->cluster_bits = get_be32(h + QCOW2_H_CLUSTER_BITS);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return bad(err, errlen, path, -EINVAL, "cluster_bits %u (expected 9 to 21)",
		           q->cluster_bits);
	q->cs = 1ULL << q->cluster_bits;
	q->l2_bits = q->cluster_bits - 3;
	q->size = get_be64(h + QCOW2_H_SIZE);
	crypt = get_be32(h + QCOW2_H_CRYPT_METHOD);
	if (crypt)
		return bad(err, errlen, path, -EOPNOTSUPP, "encrypted images are not supported");
	nb_snapshots = get_be32(h + QCOW2_H_NB_SNAPSHOTS);
	if (nb_snapshots)
		return bad(err, errlen, path, -EOPNOTSUPP,
		           "it has %u internal snapshots, which are not supported "
		           "(qemu-img snapshot -d removes them)",
		           nb_snapshots);
	q->refcount_order = 4;
	q->hdr_len = QCOW2_H_V2_LENGTH;
	if (q->version == 3) {
		if (file_size < QCOW2_H_V3_LENGTH)
			return bad(err, errlen, path, -EINVAL, "truncated header");
		incompat = get_be64(h + QCOW2_H_INCOMPATIBLE);
		q->refcount_order = get_be32(h + QCOW2_H_REFCOUNT_ORDER);
		q->hdr_len = get_be32(h + QCOW2_H_HEADER_LENGTH);
		if (q->refcount_order > 6)
			return bad(err, errlen, path, -EINVAL,
			           "refcount_order %u (expected 0 to 6)", q->refcount_order);
		if (q->hdr_len < QCOW2_H_V3_LENGTH || q->hdr_len > q->cs || q->hdr_len % 8)
			return bad(err, errlen, path, -EINVAL, "header_length %u", q->hdr_len);
	}
	if (incompat & QCOW2_INCOMPAT_DATA_FILE)
		return bad(err, errlen, path, -EOPNOTSUPP, "external data files are not supported");
	if (incompat & QCOW2_INCOMPAT_EXTL2)
		return bad(err, errlen, path, -EOPNOTSUPP, "extended L2 entries are not supported");
	if (incompat & QCOW2_INCOMPAT_COMPRESSION)
		return bad(err, errlen, path, -EOPNOTSUPP, "only deflate compression is supported");
	if (incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT))
		return bad(err, errlen, path, -EOPNOTSUPP,
		           "unknown incompatible features %#" PRIx64, incompat);
	if ((incompat & QCOW2_INCOMPAT_CORRUPT) && !q->b.read_only)
		return bad(err, errlen, path, -EIO,
		           "marked corrupt; it opens read-only (qemu-img check -r all repairs it)");
	if ((incompat & QCOW2_INCOMPAT_DIRTY) && !q->b.read_only)
		return bad(err, errlen, path, -EIO,
		           "not closed cleanly with lazy refcounts (qemu-img check -r all repairs "
		           "it)");
	q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
	q->l1_size = get_be32(h + QCOW2_H_L1_SIZE);
	q->l1_off = get_be64(h + QCOW2_H_L1_OFFSET);
	q->rt_off = get_be64(h + QCOW2_H_RT_OFFSET);
	q->rt_clusters = get_be32(h + QCOW2_H_RT_CLUSTERS);
	l2_span = 1ULL << (q->cluster_bits + q->l2_bits);
	if (q->size > (1ULL << 62))
		return bad(err, errlen, path, -EINVAL, "virtual size %" PRIu64 " too large",
		           q->size);
	l1_need = (q->size + l2_span - 1) / l2_span;
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES || q->l1_size < l1_need)
		return bad(err, errlen, path, -EINVAL,
		           "L1 table of %u entries for %" PRIu64 " bytes", q->l1_size, q->size);
	if (q->l1_size && (q->l1_off & (q->cs - 1) || q->l1_off == 0 || q->l1_off > file_size ||
	                   (uint64_t)q->l1_size * 8 > file_size - q->l1_off))
		return bad(err, errlen, path, -EINVAL,
		           "L1 table at %#" PRIx64 " is outside the file or misaligned", q->l1_off);
	if (q->rt_clusters == 0 || (uint64_t)q->rt_clusters * q->cs > QCOW2_MAX_RT_BYTES ||
	    q->rt_off & (q->cs - 1) || q->rt_off == 0 || q->rt_off > round_up(file_size, q->cs) ||
	    (uint64_t)q->rt_clusters * q->cs > round_up(file_size, q->cs) - q->rt_off)
		return bad(err, errlen, path, -EINVAL,
		           "refcount table at %#" PRIx64 " (%u clusters) is outside the file",
		           q->rt_off, q->rt_clusters);
	if (q->version == 3 && q->hdr_len > QCOW2_H_V3_LENGTH &&
	    file_size > QCOW2_H_COMPRESSION_TYPE) {
		uint8_t ct;

		r = image_file_pread(&q->file, &ct, 1, QCOW2_H_COMPRESSION_TYPE);
		if (r < 0 || ct != 0)
			return bad(err, errlen, path, -EOPNOTSUPP, "compression type %u", ct);
	}
	return 0;
}

/* Reads cluster 0 whole: header extensions and the backing file name live there. */
static int read_cluster0(struct qcow2 *q, const char *path, char *err, size_t errlen)
{
	uint64_t n = q->file.size < q->cs ? q->file.size : q->cs;
	int r;

	q->hdr = image_file_alloc(q->cs);
	if (!q->hdr)
		return bad(err, errlen, path, -ENOMEM, "out of memory");
	r = image_file_pread(&q->file, q->hdr, n, 0);
	if (r < 0)
		return bad(err, errlen, path, r, "cannot read the header: %s", strerror(-r));
	return 0;
}

/*
 * The header extensions: the backing format into fmt (empty if none), refusing what we
 * cannot honour.
 */
static int read_extensions(struct qcow2 *q, const char *path, char *fmt, size_t fmtlen, char *err,
                           size_t errlen)
{
	uint64_t off = q->version == 3 ? q->hdr_len : QCOW2_H_V2_LENGTH;
	uint64_t end = q->cs;

	fmt[0] = 0;
	/* With a backing file, the extensions end where its name starts (if that is sooner). */
	if (get_be64(q->hdr + QCOW2_H_BACKING_OFFSET) > off &&
	    get_be64(q->hdr + QCOW2_H_BACKING_OFFSET) < end)
		end = get_be64(q->hdr + QCOW2_H_BACKING_OFFSET);
	while (off + 8 <= end) {
		uint32_t type = get_be32(q->hdr + off), len = get_be32(q->hdr + off + 4);

		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off - 8)
			return bad(err, errlen, path, -EINVAL,
			           "header extension %#x runs past cluster 0", type);
		if (type == QCOW2_EXT_DATA_FILE)
			return bad(err, errlen, path, -EOPNOTSUPP,
			           "external data files are not supported");
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len >= fmtlen)
				return bad(err, errlen, path, -EINVAL,
				           "backing format name too long");
			memcpy(fmt, q->hdr + off + 8, len);
			fmt[len] = 0;
		}
		off += 8 + round_up(len, 8);
	}
	return 0;
}

static int load_table(struct qcow2 *q, uint64_t off, uint64_t entries, uint64_t **ret)
{
	uint64_t bytes = round_up(entries * 8, 512);
	uint8_t *raw = image_file_alloc(bytes ? bytes : 512);
	uint64_t *t = calloc(entries ? entries : 1, 8);
	int r = 0;

	if (!raw || !t) {
		r = -ENOMEM;
		goto out;
	}
	if (entries) {
		r = image_file_pread(&q->file, raw, entries * 8, off);
		if (r < 0)
			goto out;
	}
	for (uint64_t i = 0; i < entries; i++)
		t[i] = get_be64(raw + 8 * i);
	*ret = t;
	t = NULL;
out:
	free(raw);
	free(t);
	return r;
}

/* Loads L1 and the refcount table, checks their entries, and maps all metadata clusters. */
static int load_tables(struct qcow2 *q, const char *path, char *err, size_t errlen)
{
	uint64_t file_end = round_up(q->file.size, q->cs);
	int r;

	r = load_table(q, q->l1_off, q->l1_size, &q->l1);
	if (r == 0)
		r = load_table(q, q->rt_off, (uint64_t)q->rt_clusters * q->cs / 8, &q->rt);
	if (r < 0)
		return bad(err, errlen, path, r, "cannot read its tables: %s", strerror(-r));
	q->rt_entries = (uint64_t)q->rt_clusters * q->cs / 8;
	q->alloc_end = file_end;
	r = meta_set(q, 0, 1);
	if (r == 0 && q->l1_size)
		r = meta_set(q, q->l1_off, round_up((uint64_t)q->l1_size * 8, q->cs) / q->cs);
	if (r == 0)
		r = meta_set(q, q->rt_off, q->rt_clusters);
	for (uint64_t i = 0; r == 0 && i < q->rt_entries; i++) {
		uint64_t o = q->rt[i];

		if (o == 0)
			continue;
		if (o & QCOW2_RT_RESERVED || o & (q->cs - 1) || o + q->cs > file_end)
			return bad(err, errlen, path, -EINVAL,
			           "refcount table entry %" PRIu64 " (%#" PRIx64
			           ") is outside the file",
			           i, o);
		if (meta_test(q, o))
			return bad(err, errlen, path, -EINVAL,
			           "refcount block %" PRIu64 " overlaps other metadata", i);
		r = meta_set(q, o, 1);
	}
	for (uint32_t i = 0; r == 0 && i < q->l1_size; i++) {
		uint64_t o = q->l1[i] & QCOW2_OFFSET_MASK;

		if (q->l1[i] & QCOW2_L1_RESERVED)
			return bad(err, errlen, path, -EINVAL, "L1 entry %u has reserved bits set",
			           i);
		if (o == 0)
			continue;
		if (o + q->cs > file_end)
			return bad(err, errlen, path, -EINVAL,
			           "L1 entry %u points past the end of the file", i);
		if (meta_test(q, o))
			return bad(err, errlen, path, -EINVAL,
			           "L1 entry %u points into the header or another table", i);
		r = meta_set(q, o, 1);
	}
	if (r < 0)
		return bad(err, errlen, path, r, "out of memory");
	return 0;
}

static int open_chain(const char *path, const struct blk_open_opts *opts, struct chain *chain,
                      struct blk_backend **ret, char *err, size_t errlen);

/* The backing file's path: as written if absolute, else relative to the image's directory. */
static int backing_path(struct qcow2 *q, const char *path, char *out, size_t outlen, char *err,
                        size_t errlen)
{
	uint64_t off = get_be64(q->hdr + QCOW2_H_BACKING_OFFSET);
	uint32_t len = get_be32(q->hdr + QCOW2_H_BACKING_SIZE);
	char name[QCOW2_MAX_BACKING_NAME + 1];

	if (len == 0 || len > QCOW2_MAX_BACKING_NAME || off < QCOW2_H_V2_LENGTH || off > q->cs ||
	    len > q->cs - off || off + len > q->file.size)
		return bad(err, errlen, path, -EINVAL,
		           "backing file name at %#" PRIx64
		           " (%u bytes) is outside the header cluster",
		           off, len);
	memcpy(name, q->hdr + off, len);
	name[len] = 0;
	if (strlen(name) != len)
		return bad(err, errlen, path, -EINVAL, "backing file name contains a NUL byte");
	if (qcow2_backing_resolve(path, name, out, outlen) < 0)
		return bad(err, errlen, path, -ENAMETOOLONG, "backing file path too long");
	return 0;
}

int qcow2_backing_resolve(const char *image_path, const char *name, char *out, size_t outlen)
{
	char dir[PATH_MAX];
	int n;

	if (name[0] == '/') {
		n = snprintf(out, outlen, "%s", name);
	} else {
		if ((size_t)snprintf(dir, sizeof(dir), "%s", image_path) >= sizeof(dir))
			return -ENAMETOOLONG;
		n = snprintf(out, outlen, "%s/%s", dirname(dir), name);
	}
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int open_backing(struct qcow2 *q, const char *path, const struct blk_open_opts *opts,
                        struct chain *chain, char *err, size_t errlen)
{
	struct blk_open_opts ro = { .read_only = true,
		                    .cache = opts->cache,
		                    .no_lock = opts->no_lock };
	char fmt[32], bpath[PATH_MAX];
	bool is_qcow2 = false;
	int r;

	r = read_extensions(q, path, fmt, sizeof(fmt), err, errlen);
	if (r < 0 || get_be64(q->hdr + QCOW2_H_BACKING_OFFSET) == 0)
		return r;
	r = backing_path(q, path, bpath, sizeof(bpath), err, errlen);
	if (r < 0)
		return r;
	if (strcmp(fmt, "qcow2") == 0) {
		is_qcow2 = true;
	} else if (fmt[0] && strcmp(fmt, "raw") != 0) {
		return bad(err, errlen, path, -EOPNOTSUPP,
		           "backing file '%s' has format '%s' (expected raw or qcow2)", bpath, fmt);
	} else if (!fmt[0]) {
		r = image_file_probe_qcow2(bpath, &is_qcow2);
		if (r < 0)
			return bad(err, errlen, path, r, "backing file '%s': %s", bpath,
			           strerror(-r));
	}
	if (is_qcow2)
		r = open_chain(bpath, &ro, chain, &q->backing, err, errlen);
	else
		r = blk_raw_ops.open(bpath, &ro, &q->backing, err, errlen);
	if (r < 0)
		return r;
	q->backing_size = q->backing->ops->size_bytes(q->backing);
	return 0;
}

/* A read-write open clears the autoclear bits: what they vouch for (bitmaps) we do not keep. */
static int clear_autoclear(struct qcow2 *q)
{
	int r;

	if (q->b.read_only || q->version < 3 || get_be64(q->hdr + QCOW2_H_AUTOCLEAR) == 0)
		return 0;
	put_be64(q->hdr + QCOW2_H_AUTOCLEAR, 0);
	r = write_header(q);
	return r == 0 ? sync_file(q) : r;
}

static int open_chain(const char *path, const struct blk_open_opts *opts, struct chain *chain,
                      struct blk_backend **ret, char *err, size_t errlen)
{
	struct qcow2 *q;
	struct stat st;
	int r;

	if (chain->n > QCOW2_MAX_CHAIN)
		return bad(err, errlen, path, -ELOOP, "backing chain deeper than %u images",
		           QCOW2_MAX_CHAIN);
	/* Before opening: a loop would otherwise meet our own lock first. */
	if (stat(path, &st) == 0) {
		for (unsigned int i = 0; i < chain->n; i++)
			if (chain->dev[i] == st.st_dev && chain->ino[i] == st.st_ino)
				return bad(err, errlen, path, -ELOOP,
				           "backing chain loops back to this image");
		chain->dev[chain->n] = st.st_dev;
		chain->ino[chain->n] = st.st_ino;
		chain->n++;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return bad(err, errlen, path, -ENOMEM, "out of memory");
	q->b = (struct blk_backend){ .ops = &blk_qcow2_ops, .read_only = opts->read_only };
	r = image_file_open(&q->file, path, opts->read_only, opts, err, errlen);
	if (r < 0) {
		q->file.fd = -1;
		goto err;
	}
	r = read_header(q, path, err, errlen);
	if (r == 0)
		r = read_cluster0(q, path, err, errlen);
	if (r == 0)
		r = load_tables(q, path, err, errlen);
	if (r < 0)
		goto err;
	q->cow = image_file_alloc(q->cs);
	if (!q->cow || tcache_init(&q->l2c, q->cs, L2_CACHE_BYTES) < 0 ||
	    tcache_init(&q->rbc, q->cs, RB_CACHE_BYTES) < 0) {
		r = bad(err, errlen, path, -ENOMEM, "out of memory");
		goto err;
	}
	r = open_backing(q, path, opts, chain, err, errlen);
	if (r < 0)
		goto err;
	r = clear_autoclear(q);
	if (r < 0) {
		r = bad(err, errlen, path, r, "cannot update the header: %s", strerror(-r));
		goto err;
	}
	*ret = &q->b;
	return 0;

err:
	qcow2_free(q);
	return r;
}

static int qcow2_open(const char *path, const struct blk_open_opts *opts, struct blk_backend **ret,
                      char *err, size_t errlen)
{
	struct chain chain = { .n = 0 };

	return open_chain(path, opts, &chain, ret, err, errlen);
}

const struct blk_backend_ops blk_qcow2_ops = {
	.name = "qcow2",
	.open = qcow2_open,
	.preadv = qcow2_preadv,
	.pwritev = qcow2_pwritev,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.size_bytes = qcow2_size_bytes,
	.close = qcow2_close,
};
