// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk against hand-built rings in real guest memory and a temporary raw image: data
 * lands at the right offsets, flush and GET_ID answer, and every malformed request fails
 * with IOERR (or UNSUPP) or puts the device in NEEDS_RESET, never anything worse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/backend.h"
#include "devices/virtio/blk.h"
#include "fake_transport.h"
#include "ring_builder.h"

#define SECTOR      512u
#define IMG_SECTORS 2048u /* 1 MiB */
#define SERIAL      "xeno-disk-0"

struct fx {
	struct ring ring;
	char path[64];
	int fd; /* the image, O_RDWR, for checking what the device did */
	struct virtio_dev *dev;
};

static char err[BLK_ERR_MAX];

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off ^ (off >> 9) ^ 0x5a);
}

static void write_image(struct fx *f, uint64_t bytes)
{
	static uint8_t buf[65536];

	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		assert_int_equal(pwrite(f->fd, buf, n, (off_t)off), (ssize_t)n);
	}
}

/* Whether the image's bytes [off, off+len) still hold the pattern. */
static bool image_is_pattern(struct fx *f, uint64_t off, size_t len)
{
	uint8_t buf[SECTOR];

	for (size_t done = 0; done < len; done += SECTOR) {
		size_t n = len - done < SECTOR ? len - done : SECTOR;

		assert_int_equal(pread(f->fd, buf, n, (off_t)(off + done)), (ssize_t)n);
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pattern(off + done + i))
				return false;
	}
	return true;
}

static bool image_is_zero(struct fx *f, uint64_t off, size_t len)
{
	uint8_t buf[SECTOR];

	for (size_t done = 0; done < len; done += SECTOR) {
		assert_int_equal(pread(f->fd, buf, SECTOR, (off_t)(off + done)), SECTOR);
		for (size_t i = 0; i < SECTOR; i++)
			if (buf[i])
				return false;
	}
	return true;
}

/*
 * A device over a fresh image, activated as a driver that accepted every offered feature
 * would leave it.
 */
static struct fx *make_fx(bool read_only, uint64_t image_bytes, bool event_idx)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_blk_config cfg = { .read_only = read_only, .serial = SERIAL };

	assert_non_null(f);
	fake_transport_clear();
	assert_int_equal(ring_init(&f->ring, 256), 0);
	snprintf(f->path, sizeof(f->path), "/tmp/xeno-test-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	write_image(f, image_bytes);
	cfg.path = f->path;
	assert_int_equal(virtio_blk_new(&cfg, &f->dev, err, sizeof(err)), 0);
	f->dev->mem = &f->ring.mem;
	f->dev->features = f->dev->ops->features(f->dev) | VIRTIO_F_VERSION_1 |
	                   VIRTIO_F_INDIRECT_DESC | (event_idx ? VIRTIO_F_EVENT_IDX : 0);
	assert_int_equal(ring_setup_vq(&f->ring, &f->dev->queues[0], event_idx, true), 0);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	return f;
}

static int setup_rw(void **state)
{
	*state = make_fx(false, IMG_SECTORS * SECTOR, false);
	return 0;
}

static int setup_ro(void **state)
{
	*state = make_fx(true, IMG_SECTORS * SECTOR, false);
	return 0;
}

static int setup_event_idx(void **state)
{
	*state = make_fx(false, IMG_SECTORS * SECTOR, true);
	return 0;
}

/* An image whose last sector is only 100 bytes long. */
static int setup_odd_size(void **state)
{
	*state = make_fx(false, IMG_SECTORS * SECTOR + 100, false);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->dev->ops->free(f->dev);
	close(f->fd);
	unlink(f->path);
	ring_fini(&f->ring);
	free(f);
	return 0;
}

static uint64_t header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memcpy(h, &t, 4);
	memcpy(h + 8, &s, 8);
	return ring_alloc_copy(&f->ring, h, sizeof(h));
}

static uint64_t segment(struct fx *f, uint64_t sector, uint32_t num_sectors, uint32_t flags)
{
	uint8_t s[16];
	uint64_t sec = htole64(sector);
	uint32_t num = htole32(num_sectors), fl = htole32(flags);

	memcpy(s, &sec, 8);
	memcpy(s + 8, &num, 4);
	memcpy(s + 12, &fl, 4);
	return ring_alloc_copy(&f->ring, s, sizeof(s));
}

/* A status buffer pre-set to a value the device never writes. */
static struct ring_buf status_buf(struct fx *f)
{
	uint64_t gpa = ring_alloc(&f->ring, 1);

	*(uint8_t *)ring_ptr(&f->ring, gpa) = 0xee;
	return (struct ring_buf){ gpa, 1, true };
}

static uint8_t *ptr(struct fx *f, uint64_t gpa)
{
	return ring_ptr(&f->ring, gpa);
}

/* Publishes one chain, runs the device, and returns the status of the used chain. */
static uint8_t run(struct fx *f, const struct ring_buf *bufs, unsigned int n, uint32_t *ret_used)
{
	const struct ring_buf *last = &bufs[n - 1];
	uint16_t head = ring_add_chain(&f->ring, bufs, n);
	uint32_t id, len;

	ring_publish(&f->ring, head);
	f->dev->ops->queue_notify(f->dev, 0);
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_int_equal(id, head);
	if (ret_used)
		*ret_used = len;
	return *ptr(f, last->gpa + last->len - 1);
}

/* A request with nothing but a header and a status. */
static uint8_t run_simple(struct fx *f, uint32_t type, uint64_t sector)
{
	struct ring_buf bufs[] = { { header(f, type, sector), 16, false }, status_buf(f) };

	return run(f, bufs, 2, NULL);
}

static uint8_t run_read(struct fx *f, uint64_t sector, uint32_t len, uint64_t *ret_data)
{
	uint64_t data = ring_alloc(&f->ring, len);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_IN, sector), 16, false },
		{ data, len, true },
		status_buf(f),
	};

	if (ret_data)
		*ret_data = data;
	return run(f, bufs, 3, NULL);
}

static uint8_t run_write(struct fx *f, uint64_t sector, uint32_t len, uint8_t fill)
{
	uint64_t data = ring_alloc(&f->ring, len);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_OUT, sector), 16, false },
		{ data, len, false },
		status_buf(f),
	};

	memset(ptr(f, data), fill, len);
	return run(f, bufs, 3, NULL);
}

static uint8_t run_dwz(struct fx *f, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	struct ring_buf bufs[] = {
		{ header(f, type, 0), 16, false },
		{ segment(f, sector, num, flags), 16, false },
		status_buf(f),
	};

	return run(f, bufs, 3, NULL);
}

static uint32_t cfg32(struct fx *f, uint32_t off)
{
	uint32_t v;

	f->dev->ops->config_read(f->dev, off, &v, 4);
	return le32toh(v);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t cap;
	uint8_t past_end[4] = { 1, 1, 1, 1 };

	assert_string_equal(f->dev->ops->name, "virtio-blk");
	assert_int_equal(f->dev->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(f->dev->ops->pci_class, 0x018000);
	assert_int_equal(f->dev->ops->num_queues, 1);
	assert_int_equal(f->dev->ops->queue_max_size, 256);
	assert_int_equal(f->dev->ops->features(f->dev),
	                 VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
	                         VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES);
	f->dev->ops->config_read(f->dev, 0, &cap, 8);
	assert_int_equal(le64toh(cap), IMG_SECTORS);
	assert_int_equal(cfg32(f, 12), 254); /* seg_max */
	assert_int_equal(cfg32(f, 20), 512); /* blk_size */
	assert_true(cfg32(f, 36) > 0);       /* max_discard_sectors */
	assert_true(cfg32(f, 40) > 0);       /* max_discard_seg */
	assert_true(cfg32(f, 48) > 0);       /* max_write_zeroes_sectors */
	assert_true(cfg32(f, 52) > 0);       /* max_write_zeroes_seg */
	/* Reads past the end are zeroes, never memory beyond the config. */
	f->dev->ops->config_read(f->dev, VIRTIO_BLK_CONFIG_SIZE - 2, past_end, 4);
	assert_int_equal(past_end[2], 0);
	assert_int_equal(past_end[3], 0);
	f->dev->ops->config_read(f->dev, UINT32_MAX, past_end, 4);
	assert_int_equal(past_end[0], 0);
}

static void test_read_lands_at_offset(void **state)
{
	struct fx *f = *state;
	uint64_t d1 = ring_alloc(&f->ring, 700), d2 = ring_alloc(&f->ring, 324);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_IN, 3), 16, false },
		{ d1, 700, true },
		{ d2, 324, true },
		status_buf(f),
	};
	struct virtio_blk_stats st;
	uint32_t used;

	/* Two sectors across buffers that are not sector-sized: only the total counts. */
	assert_int_equal(run(f, bufs, 4, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1024 + 1);
	for (unsigned int i = 0; i < 700; i++)
		assert_int_equal(ptr(f, d1)[i], pattern(3 * SECTOR + i));
	for (unsigned int i = 0; i < 324; i++)
		assert_int_equal(ptr(f, d2)[i], pattern(3 * SECTOR + 700 + i));
	assert_int_equal(fake_transport.notify_calls, 1);
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.read_bytes, 1024);
	assert_int_equal(st.errors, 0);
}

static void test_read_status_shares_last_buffer(void **state)
{
	struct fx *f = *state;
	uint64_t data = ring_alloc(&f->ring, SECTOR + 1);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_IN, 7), 16, false },
		{ data, SECTOR + 1, true },
	};
	uint32_t used;

	assert_int_equal(run(f, bufs, 2, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, SECTOR + 1);
	for (unsigned int i = 0; i < SECTOR; i++)
		assert_int_equal(ptr(f, data)[i], pattern(7 * SECTOR + i));
}

static void test_write_lands_at_offset(void **state)
{
	struct fx *f = *state;
	uint8_t req[16 + 2 * SECTOR];
	uint64_t hdr = header(f, VIRTIO_BLK_T_OUT, 5);
	uint8_t back[2 * SECTOR];
	struct virtio_blk_stats st;
	uint32_t used;

	/* Header and data in one buffer: the device must not assume any framing (§2.6.4). */
	memcpy(req, ptr(f, hdr), 16);
	for (unsigned int i = 0; i < 2 * SECTOR; i++)
		req[16 + i] = (uint8_t)(i * 3);
	{
		struct ring_buf bufs[] = {
			{ ring_alloc_copy(&f->ring, req, sizeof(req)), sizeof(req), false },
			status_buf(f),
		};

		assert_int_equal(run(f, bufs, 2, &used), VIRTIO_BLK_S_OK);
	}
	assert_int_equal(used, 1);
	assert_int_equal(pread(f->fd, back, sizeof(back), 5 * SECTOR), sizeof(back));
	assert_memory_equal(back, req + 16, sizeof(back));
	assert_true(image_is_pattern(f, 4 * SECTOR, SECTOR));
	assert_true(image_is_pattern(f, 7 * SECTOR, SECTOR));
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.write_bytes, 2 * SECTOR);
}

static void test_write_through_indirect_table(void **state)
{
	struct fx *f = *state;
	uint64_t data = ring_alloc(&f->ring, SECTOR);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_OUT, 100), 16, false },
		{ data, SECTOR, false },
		status_buf(f),
	};
	uint16_t head;
	uint32_t id, len;
	uint8_t back[SECTOR];

	memset(ptr(f, data), 0xab, SECTOR);
	head = ring_add_indirect(&f->ring, bufs, 3);
	ring_publish(&f->ring, head);
	f->dev->ops->queue_notify(f->dev, 0);
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(*ptr(f, bufs[2].gpa), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, back, SECTOR, 100 * SECTOR), SECTOR);
	for (unsigned int i = 0; i < SECTOR; i++)
		assert_int_equal(back[i], 0xab);
}

static void test_flush(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_stats st;

	assert_int_equal(run_write(f, 1, SECTOR, 0x11), VIRTIO_BLK_S_OK);
	assert_int_equal(run_simple(f, VIRTIO_BLK_T_FLUSH, 0), VIRTIO_BLK_S_OK);
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.flushes, 1);
}

static void test_get_id(void **state)
{
	struct fx *f = *state;
	uint64_t id = ring_alloc(&f->ring, 20), small = ring_alloc(&f->ring, 4);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ id, 20, true },
		status_buf(f),
	};
	struct ring_buf small_bufs[] = {
		{ header(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ small, 4, true },
		status_buf(f),
	};
	char want[20] = SERIAL;
	uint32_t used;

	memset(ptr(f, id), 0xff, 20);
	assert_int_equal(run(f, bufs, 3, &used), VIRTIO_BLK_S_OK);
	/* NUL padded to 20 bytes (§5.2.6). */
	assert_memory_equal(ptr(f, id), want, 20);
	assert_int_equal(used, 21);
	/* A smaller buffer gets what fits. */
	assert_int_equal(run(f, small_bufs, 3, &used), VIRTIO_BLK_S_OK);
	assert_memory_equal(ptr(f, small), "xeno", 4);
}

/* Whether any descriptor of this process other than skip_fd has path open for writing. */
static bool open_for_writing(const char *path, int skip_fd)
{
	char link[64], target[PATH_MAX], line[128];
	bool found = false;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;
		FILE *info;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0 || fd == skip_fd)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) != 0)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fdinfo/%d", fd);
		info = fopen(link, "r");
		assert_non_null(info);
		while (fgets(line, sizeof(line), info)) {
			unsigned int flags;

			if (sscanf(line, "flags: %o", &flags) == 1 &&
			    (flags & O_ACCMODE) != O_RDONLY)
				found = true;
		}
		fclose(info);
	}
	return found;
}

static void test_read_only_refuses_writes(void **state)
{
	struct fx *f = *state;
	uint64_t features = f->dev->ops->features(f->dev);
	struct virtio_blk_stats st;

	assert_true(features & VIRTIO_BLK_F_RO);
	assert_false(features & (VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(open_for_writing(f->path, f->fd));
	assert_int_equal(run_write(f, 0, SECTOR, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_write(f, 10, 4 * SECTOR, 0xff), VIRTIO_BLK_S_IOERR);
	/* Even when a driver sends them without the features. */
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_true(image_is_pattern(f, 0, IMG_SECTORS * SECTOR));
	/* Reads and flushes still work. */
	assert_int_equal(run_read(f, 0, SECTOR, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(run_simple(f, VIRTIO_BLK_T_FLUSH, 0), VIRTIO_BLK_S_OK);
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.errors, 4);
	assert_int_equal(st.writes, 0);
}

static void test_out_of_range_is_ioerr(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_read(f, IMG_SECTORS - 1, SECTOR, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(run_read(f, IMG_SECTORS, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_read(f, IMG_SECTORS - 1, 2 * SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	/* sector * 512 and sector + length would wrap around. */
	assert_int_equal(run_read(f, UINT64_MAX, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_read(f, UINT64_MAX / SECTOR + 1, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_write(f, IMG_SECTORS, SECTOR, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_write(f, UINT64_MAX - 1, 2 * SECTOR, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, IMG_SECTORS - 4, 8, 0),
	                 VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0),
	                 VIRTIO_BLK_S_IOERR);
	assert_true(image_is_pattern(f, 0, IMG_SECTORS * SECTOR));
}

static void test_short_header(void **state)
{
	struct fx *f = *state;
	uint64_t hdr = header(f, VIRTIO_BLK_T_IN, 2), data = ring_alloc(&f->ring, SECTOR);
	struct ring_buf short_hdr[] = { { hdr, 8, false }, { data, SECTOR, true }, status_buf(f) };
	struct ring_buf split_hdr[] = {
		{ hdr, 8, false },
		{ hdr + 8, 8, false },
		{ data, SECTOR, true },
		status_buf(f),
	};
	struct ring_buf no_hdr[] = { { data, SECTOR, true }, status_buf(f) };

	assert_int_equal(run(f, short_hdr, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, no_hdr, 2, NULL), VIRTIO_BLK_S_IOERR);
	/* A header split over two buffers is still a header. */
	assert_int_equal(run(f, split_hdr, 4, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(ptr(f, data)[0], pattern(2 * SECTOR));
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_missing_status_needs_reset(void **state)
{
	struct fx *f = *state;
	struct ring_buf out_only[] = { { header(f, VIRTIO_BLK_T_FLUSH, 0), 16, false } };
	uint32_t id, len;

	ring_publish(&f->ring, ring_add_chain(&f->ring, out_only, 1));
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	assert_false(ring_pop_used(&f->ring, &id, &len));
	/* Nothing more is served until the driver resets the device. */
	ring_publish(&f->ring, ring_add_chain(&f->ring, out_only, 1));
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	assert_false(ring_pop_used(&f->ring, &id, &len));
	/* After a reset and a new activation the device serves again. */
	f->dev->ops->reset(f->dev);
	f->ring.avail_idx = f->ring.used_seen = f->ring.next_desc = 0;
	assert_int_equal(ring_setup_vq(&f->ring, &f->dev->queues[0], false, true), 0);
	memset(ring_ptr(&f->ring, RING_AVAIL_GPA), 0, 4);
	memset(ring_ptr(&f->ring, RING_USED_GPA), 0, 4);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	assert_int_equal(run_read(f, 0, SECTOR, NULL), VIRTIO_BLK_S_OK);
}

static void test_unaligned_length_is_ioerr(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_read(f, 0, SECTOR + 1, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_read(f, 0, 100, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_write(f, 0, 100, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_write(f, 0, SECTOR - 1, 0), VIRTIO_BLK_S_IOERR);
	assert_true(image_is_pattern(f, 0, 4 * SECTOR));
}

static void test_zero_length_transfers(void **state)
{
	struct fx *f = *state;
	struct ring_buf write0[] = { { header(f, VIRTIO_BLK_T_OUT, 0), 16, false }, status_buf(f) };

	/* No data at all is a valid, empty transfer (Linux never sends one). */
	assert_int_equal(run(f, write0, 2, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(run_simple(f, VIRTIO_BLK_T_IN, IMG_SECTORS), VIRTIO_BLK_S_OK);
	assert_int_equal(run_simple(f, VIRTIO_BLK_T_IN, IMG_SECTORS + 1), VIRTIO_BLK_S_IOERR);
}

static void test_discard_zeroes_the_range(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_stats st;

	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, 16, 16, 0), VIRTIO_BLK_S_OK);
	/* A punched hole in the image reads as zeroes. */
	assert_true(image_is_zero(f, 16 * SECTOR, 16 * SECTOR));
	assert_true(image_is_pattern(f, 15 * SECTOR, SECTOR));
	assert_true(image_is_pattern(f, 32 * SECTOR, SECTOR));
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.discards, 1);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 40, 3, 0), VIRTIO_BLK_S_OK);
	assert_true(image_is_zero(f, 40 * SECTOR, 3 * SECTOR));
	assert_true(image_is_pattern(f, 39 * SECTOR, SECTOR));
	assert_true(image_is_pattern(f, 43 * SECTOR, SECTOR));
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 64, 9, VIRTIO_BLK_WZ_F_UNMAP),
	                 VIRTIO_BLK_S_OK);
	assert_true(image_is_zero(f, 64 * SECTOR, 9 * SECTOR));
	assert_true(image_is_pattern(f, 73 * SECTOR, SECTOR));
}

static void test_discard_bad_segments(void **state)
{
	struct fx *f = *state;
	uint8_t segs[17 * 16] = { 0 };
	struct ring_buf odd[] = {
		{ header(f, VIRTIO_BLK_T_DISCARD, 0), 16, false },
		{ ring_alloc_copy(&f->ring, segs, 15), 15, false },
		status_buf(f),
	};
	struct ring_buf too_many[] = {
		{ header(f, VIRTIO_BLK_T_DISCARD, 0), 16, false },
		{ ring_alloc_copy(&f->ring, segs, sizeof(segs)), sizeof(segs), false },
		status_buf(f),
	};
	struct ring_buf none[] = { { header(f, VIRTIO_BLK_T_DISCARD, 0), 16, false },
		                   status_buf(f) };

	/* Unmap is for write-zeroes only; unknown flags are UNSUPP (§5.2.6.2). */
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WZ_F_UNMAP),
	                 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, 0, UINT32_MAX, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, odd, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, too_many, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, none, 2, NULL), VIRTIO_BLK_S_IOERR);
	assert_true(image_is_pattern(f, 0, 16 * SECTOR));
}

static void test_unnegotiated_feature_is_unsupp(void **state)
{
	struct fx *f = *state;

	f->dev->features &= ~(VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_FLUSH);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	assert_int_equal(run_dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(run_simple(f, VIRTIO_BLK_T_FLUSH, 0), VIRTIO_BLK_S_UNSUPP);
	/* Without FLUSH every write is stable at completion; it must still succeed. */
	assert_int_equal(run_write(f, 3, SECTOR, 0x33), VIRTIO_BLK_S_OK);
	assert_true(image_is_pattern(f, 0, 3 * SECTOR));
	assert_true(image_is_pattern(f, 4 * SECTOR, 4 * SECTOR));
}

static void test_unknown_type_is_unsupp(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_stats st;

	assert_int_equal(run_simple(f, 10, 0), VIRTIO_BLK_S_UNSUPP); /* GET_LIFETIME */
	assert_int_equal(run_simple(f, 14, 0), VIRTIO_BLK_S_UNSUPP); /* SECURE_ERASE */
	assert_int_equal(run_simple(f, 0x80000001u, 0), VIRTIO_BLK_S_UNSUPP);
	virtio_blk_stats(f->dev, &st);
	assert_int_equal(st.unsupported, 3);
	assert_int_equal(st.errors, 0);
}

static void test_data_in_wrong_place_is_ioerr(void **state)
{
	struct fx *f = *state;
	uint64_t data = ring_alloc(&f->ring, SECTOR);
	/* A read with device-readable data after its header. */
	struct ring_buf read_with_out_data[] = {
		{ header(f, VIRTIO_BLK_T_IN, 0), 16, false },
		{ ring_alloc(&f->ring, SECTOR), SECTOR, false },
		{ data, SECTOR, true },
		status_buf(f),
	};
	/* A write whose data is device-writable. */
	struct ring_buf write_with_in_data[] = {
		{ header(f, VIRTIO_BLK_T_OUT, 0), 16, false },
		{ data, SECTOR, true },
		status_buf(f),
	};
	/* A flush carrying data either way. */
	struct ring_buf flush_with_data[] = {
		{ header(f, VIRTIO_BLK_T_FLUSH, 0), 16, false },
		{ data, SECTOR, true },
		status_buf(f),
	};
	uint32_t used;

	memset(ptr(f, data), 0x77, SECTOR);
	assert_int_equal(run(f, read_with_out_data, 4, &used), VIRTIO_BLK_S_IOERR);
	/* Only the status was written, and it does not start the writable part. */
	assert_int_equal(used, 0);
	assert_int_equal(ptr(f, data)[0], 0x77);
	assert_int_equal(run(f, write_with_in_data, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(run(f, flush_with_data, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_true(image_is_pattern(f, 0, SECTOR));
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_malformed_ring_needs_reset(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	/* A chain whose NEXT points outside the table. */
	ring_set_desc(&f->ring, 0, header(f, VIRTIO_BLK_T_IN, 0), 16, VIRTQ_DESC_F_NEXT, 999);
	f->ring.next_desc = 1;
	ring_publish(&f->ring, 0);
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
	assert_false(ring_pop_used(&f->ring, &id, &len));
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 1);
}

/* A driver that sets DRIVER_OK without enabling the queue, then notifies it. */
static void test_notify_on_disabled_queue_is_ignored(void **state)
{
	struct fx *f = *state;

	memset(&f->dev->queues[0], 0, sizeof(f->dev->queues[0]));
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	f->dev->ops->queue_notify(f->dev, 0);
	f->dev->ops->queue_notify(f->dev, 1);
	f->dev->ops->queue_notify(f->dev, UINT32_MAX);
	assert_int_equal(fake_transport.notify_calls, 0);
	assert_int_equal(fake_transport.needs_reset_calls, 0);
}

static void test_partial_last_sector_reads_zeroes(void **state)
{
	struct fx *f = *state;
	uint64_t cap, data = ring_alloc(&f->ring, SECTOR);
	struct ring_buf bufs[] = {
		{ header(f, VIRTIO_BLK_T_IN, IMG_SECTORS), 16, false },
		{ data, SECTOR, true },
		status_buf(f),
	};

	f->dev->ops->config_read(f->dev, 0, &cap, 8);
	assert_int_equal(le64toh(cap), IMG_SECTORS + 1);
	memset(ptr(f, data), 0xff, SECTOR);
	assert_int_equal(run(f, bufs, 3, NULL), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 100; i++)
		assert_int_equal(ptr(f, data)[i], pattern(IMG_SECTORS * SECTOR + i));
	for (unsigned int i = 100; i < SECTOR; i++)
		assert_int_equal(ptr(f, data)[i], 0);
	assert_int_equal(run_read(f, IMG_SECTORS + 1, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
}

/* Several requests, one notification from the driver, one interrupt back. */
static void test_batch_notifies_once(void **state)
{
	struct fx *f = *state;
	uint64_t data[3];
	uint16_t heads[3];
	uint32_t id, len;

	for (unsigned int i = 0; i < 3; i++) {
		struct ring_buf bufs[] = {
			{ header(f, VIRTIO_BLK_T_IN, 10 * i), 16, false },
			{ data[i] = ring_alloc(&f->ring, SECTOR), SECTOR, true },
			status_buf(f),
		};

		heads[i] = ring_add_chain(&f->ring, bufs, 3);
		ring_publish(&f->ring, heads[i]);
	}
	f->dev->ops->queue_notify(f->dev, 0);
	for (unsigned int i = 0; i < 3; i++) {
		assert_true(ring_pop_used(&f->ring, &id, &len));
		assert_int_equal(id, heads[i]);
		assert_int_equal(len, SECTOR + 1);
		assert_int_equal(ptr(f, data[i])[0], pattern(10 * i * SECTOR));
	}
	assert_false(ring_pop_used(&f->ring, &id, &len));
	assert_int_equal(fake_transport.notify_calls, 1);
	assert_int_equal(fake_transport.last_notify_queue, 0);
	/* Notifications were re-enabled for the next batch. */
	if (!(f->dev->features & VIRTIO_F_EVENT_IDX))
		assert_int_equal(ring_used_flags(&f->ring) & VIRTQ_USED_F_NO_NOTIFY, 0);
	/* An empty queue raises no interrupt. */
	f->dev->ops->queue_notify(f->dev, 0);
	assert_int_equal(fake_transport.notify_calls, 1);
}

/* A round's budget spent with requests pending ends the round (the transport re-kicks). */
static void test_spent_budget_ends_the_round(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	for (unsigned int i = 0; i < 3; i++) {
		struct ring_buf bufs[] = {
			{ header(f, VIRTIO_BLK_T_IN, i), 16, false },
			{ ring_alloc(&f->ring, SECTOR), SECTOR, true },
			status_buf(f),
		};

		ring_publish(&f->ring, ring_add_chain(&f->ring, bufs, 3));
	}
	f->dev->queues[0].budget = 1;
	f->dev->queues[0].over_budget = false;
	f->dev->ops->queue_notify(f->dev, 0);
	assert_true(f->dev->queues[0].over_budget);
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_false(ring_pop_used(&f->ring, &id, &len));
	/* The next round serves the rest. */
	f->dev->queues[0].budget = 8;
	f->dev->queues[0].over_budget = false;
	f->dev->ops->queue_notify(f->dev, 0);
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_true(ring_pop_used(&f->ring, &id, &len));
	assert_false(ring_pop_used(&f->ring, &id, &len));
}

static void test_open_errors(void **state)
{
	struct virtio_blk_config missing = { .path = "/nonexistent/xeno-disk" };
	struct virtio_blk_config long_serial = { .path = "/dev/null",
		                                 .serial = "123456789012345678901" };
	struct virtio_blk_config bad_format = { .path = "/dev/null", .format = "vmdk" };
	struct virtio_blk_config not_a_disk = { .path = "/dev/null" };
	struct virtio_dev *dev = NULL;

	(void)state;
	assert_int_equal(virtio_blk_new(&missing, &dev, err, sizeof(err)), -ENOENT);
	assert_int_equal(virtio_blk_new(&long_serial, &dev, err, sizeof(err)), -EINVAL);
	assert_int_equal(virtio_blk_new(&bad_format, &dev, err, sizeof(err)), -EINVAL);
	/* A character device is neither a file nor a block device. */
	assert_int_equal(virtio_blk_new(&not_a_disk, &dev, err, sizeof(err)), -EINVAL);
	assert_null(dev);
}

/*
 * The raw backend on an image that cannot fallocate(ZERO_RANGE) (shmem): write-zeroes falls
 * back to writing, and never grows the image.  Read-only images refuse every write.
 */
static void test_raw_backend_fallbacks(void **state)
{
	const struct blk_open_opts rw_opts = { .read_only = false };
	const struct blk_open_opts ro_opts = { .read_only = true };
	int fd = memfd_create("xeno-test-raw", MFD_CLOEXEC);
	struct blk_backend *rw, *ro;
	uint8_t buf[8192], back[8192];
	struct iovec iov = { buf, sizeof(buf) };
	char path[64];
	struct stat st;

	(void)state;
	assert_true(fd >= 0);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	assert_int_equal(blk_raw_ops.open(path, &rw_opts, &rw, err, sizeof(err)), 0);
	assert_int_equal(rw->ops->size_bytes(rw), sizeof(buf));
	assert_int_equal(rw->ops->write_zeroes(rw, 1000, 3000, false), 0);
	assert_int_equal(rw->ops->write_zeroes(rw, 6000, 4096, false), 0); /* past the end */
	assert_int_equal(pread(fd, back, sizeof(back), 0), sizeof(back));
	for (unsigned int i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], (i >= 1000 && i < 4000) || i >= 6000 ? 0 : pattern(i));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, sizeof(buf));
	assert_int_equal(rw->ops->flush(rw), 0);
	rw->ops->close(rw);

	assert_int_equal(blk_raw_ops.open(path, &ro_opts, &ro, err, sizeof(err)), 0);
	assert_int_equal(ro->ops->pwritev(ro, &iov, 1, 0), -EROFS);
	assert_int_equal(ro->ops->discard(ro, 0, 512), -EROFS);
	assert_int_equal(ro->ops->write_zeroes(ro, 0, 512, true), -EROFS);
	assert_int_equal(ro->ops->preadv(ro, &iov, 1, 0), sizeof(buf));
	ro->ops->close(ro);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_lands_at_offset, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_status_shares_last_buffer, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_write_lands_at_offset, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_indirect_table, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range_is_ioerr, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_short_header, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_missing_status_needs_reset, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_length_is_ioerr, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_transfers, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard_zeroes_the_range, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard_bad_segments, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_unnegotiated_feature_is_unsupp, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_is_unsupp, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_wrong_place_is_ioerr, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_malformed_ring_needs_reset, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_notify_on_disabled_queue_is_ignored, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_partial_last_sector_reads_zeroes,
		                                setup_odd_size, teardown),
		cmocka_unit_test_setup_teardown(test_batch_notifies_once, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_spent_budget_ends_the_round, setup_rw,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spent_budget_ends_the_round, setup_event_idx,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_batch_notifies_once, setup_event_idx,
		                                teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_raw_backend_fallbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
