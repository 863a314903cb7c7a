// SPDX-License-Identifier: GPL-2.0-only
/*
 * The save file (src/common/savefile.h): RAM and sections written with the writer come
 * back byte for byte through savefile_open, savefile_verify_memory and
 * savefile_load_memory (read, and mapped MAP_PRIVATE); untouched and zero pages cost no
 * space; and every damaged file (empty, truncated, flipped bits, wrong magic, another
 * version, absurd RAM, a section or extent pointing outside the file) is refused with its
 * own errno and a message saying what is wrong.  Files live in a mkdtemp directory.
 *
 * With XENO_WRITE_FUZZ_SEEDS=DIR in the environment the binary writes the seed corpus of
 * tests/fuzz/fuzz_savefile.c into DIR instead of running the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/savefile.h"

#define PAGE     SAVEFILE_PAGE
#define RAM_SIZE (8u << 20)
#define NR_PAGES (RAM_SIZE / PAGE)

/* Pages with data: far apart, so that no two share an extent. */
static const unsigned int data_pages[] = { 1, 700, 1900 };
/* Touched but all zero: must not reach the file. */
#define ZERO_PAGE 1500u
/* Data the touched bitmap does not mention: not saved, reads back as zero. */
#define UNTOUCHED_PAGE 1200u

static char dir[] = "/tmp/xeno-test-savefile-XXXXXX";
static char path[sizeof(dir) + 32];

static const struct savefile_cpu test_cpu = {
	.leaf1_ecx = 0xf7fa3223,
	.leaf1_edx = 0x178bfbff,
	.leaf7_ebx = 0x219c91a9,
	.leaf7_ecx = 0x00400004,
	.leaf7_edx = 0x10,
	.ext1_ecx = 0x75c237ff,
	.ext1_edx = 0x2fd3fbff,
	.xsave_size = 2696,
	.xcr0 = 0x7,
};

/* The sections every test file carries: two vCPUs, an odd-sized device, an empty one. */
static const char domain_json[] = "{\"name\":\"web\",\"memory_mib\":8,\"vcpus\":2}";
static uint8_t vcpu_state[2][600];
static const uint8_t uart_state[13] = { 0x3f, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

struct ram {
	uint8_t *base; /* RAM_SIZE bytes, anonymous */
	uint64_t touched[NR_PAGES / 64];
};

static void *map_zero(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static void set_touched(struct ram *ram, unsigned int page)
{
	ram->touched[page / 64] |= 1ULL << (page % 64);
}

static void ram_init(struct ram *ram)
{
	memset(ram, 0, sizeof(*ram));
	ram->base = map_zero(RAM_SIZE);
	for (size_t i = 0; i < sizeof(data_pages) / sizeof(data_pages[0]); i++) {
		uint8_t *p = ram->base + (size_t)data_pages[i] * PAGE;

		for (unsigned int j = 0; j < PAGE; j++)
			p[j] = (uint8_t)(j * 7 + i * 31 + 1);
		set_touched(ram, data_pages[i]);
	}
	/* A page whose only non-zero byte is its last: not a zero page. */
	ram->base[(size_t)(data_pages[0] + 1) * PAGE - 1] = 0xaa;
	set_touched(ram, ZERO_PAGE);
	for (unsigned int i = 0; i < NR_PAGES; i++)
		vcpu_state[i % 2][i % sizeof(vcpu_state[0])] = (uint8_t)i;
}

/* Writes ram (all of it when touched is NULL) and the test sections to file. */
static void write_file(const char *file, const uint8_t *base, uint64_t mem_bytes,
                       const uint64_t *touched, uint64_t *ret_file_bytes,
                       uint64_t *ret_mem_file_bytes)
{
	struct savefile_writer *w = NULL;
	uint64_t file_bytes = 0, mem_file_bytes = 0;
	struct stat st;
	int fd;

	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(savefile_writer_new(fd, mem_bytes, 2, &test_cpu, &w), 0);
	assert_int_equal(
	        savefile_writer_section(w, "vcpu", 0, 1, vcpu_state[0], sizeof(vcpu_state[0])), 0);
	assert_int_equal(
	        savefile_writer_section(w, "vcpu", 1, 1, vcpu_state[1], sizeof(vcpu_state[1])), 0);
	assert_int_equal(savefile_writer_section(w, "uart", 0, 3, uart_state, sizeof(uart_state)),
	                 0);
	assert_int_equal(savefile_writer_section(w, "empty", 7, 1, NULL, 0), 0);
	assert_int_equal(
	        savefile_writer_section(w, "domain", 0, 1, domain_json, sizeof(domain_json) - 1),
	        0);
	assert_int_equal(savefile_writer_memory(w, base, touched, NULL, NULL), 0);
	assert_int_equal(savefile_writer_finish(w, &file_bytes, &mem_file_bytes), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, file_bytes);
	close(fd);
	if (ret_file_bytes)
		*ret_file_bytes = file_bytes;
	if (ret_mem_file_bytes)
		*ret_mem_file_bytes = mem_file_bytes;
}

static uint64_t allocated_bytes(const char *file)
{
	struct stat st;

	assert_int_equal(stat(file, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void check_sections(const struct savefile *sf)
{
	const void *p;
	uint64_t len = 99;

	p = savefile_section(sf, "vcpu", 0, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(vcpu_state[0]));
	assert_memory_equal(p, vcpu_state[0], len);
	p = savefile_section(sf, "vcpu", 1, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(vcpu_state[1]));
	assert_memory_equal(p, vcpu_state[1], len);
	p = savefile_section(sf, "uart", 0, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(uart_state));
	assert_memory_equal(p, uart_state, len);
	p = savefile_section(sf, "domain", 0, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(domain_json) - 1);
	assert_memory_equal(p, domain_json, len);
	len = 99;
	(void)savefile_section(sf, "empty", 7, &len);
	assert_int_equal(len, 0);
	assert_null(savefile_section(sf, "vcpu", 2, &len));
	assert_null(savefile_section(sf, "uart", 1, &len));
	assert_null(savefile_section(sf, "vcp", 0, &len));
	assert_null(savefile_section(sf, "virtio-blk", 0, &len));
}

struct progress {
	uint64_t calls, last_done, total;
};

static void count_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct progress *pr = opaque;

	assert_true(done <= total);
	assert_true(done >= pr->last_done);
	pr->calls++;
	pr->last_done = done;
	pr->total = total;
}

/* RAM as the restore sees it: saved pages back, everything else (UNTOUCHED_PAGE too) 0. */
static void expect_restored(const struct ram *ram, const uint8_t *restored)
{
	for (unsigned int i = 0; i < NR_PAGES; i++) {
		const uint8_t *want = ram->base + (size_t)i * PAGE,
		              *got = restored + (size_t)i * PAGE;

		if (i == UNTOUCHED_PAGE) {
			for (unsigned int j = 0; j < PAGE; j++)
				assert_int_equal(got[j], 0);
			continue;
		}
		if (memcmp(want, got, PAGE) != 0)
			fail_msg("page %u differs after restore", i);
	}
}

static void test_round_trip(void **state)
{
	struct savefile sf = { .fd = -1 };
	struct progress pr = { 0 };
	struct ram ram;
	char err[256] = "";
	uint64_t file_bytes, mem_file_bytes;
	uint8_t *restored;

	(void)state;
	ram_init(&ram);
	memset(ram.base + (size_t)UNTOUCHED_PAGE * PAGE, 0x5a, PAGE);
	write_file(path, ram.base, RAM_SIZE, ram.touched, &file_bytes, &mem_file_bytes);
	/*
	 * Three data pages of 8 MiB: the zero page and the untouched one cost nothing.  The
	 * writer leaves room for the state before the data (a hole, never written), so the
	 * disk space is what says the file is small.
	 */
	assert_int_equal(mem_file_bytes, 3 * PAGE);
	assert_true(allocated_bytes(path) <= SAVEFILE_HEADER_SIZE + 3 * PAGE + 4 * PAGE);
	assert_true(file_bytes <= SAVEFILE_HEADER_SIZE + 3 * PAGE + (2u << 20));

	assert_int_equal(savefile_open(path, &sf, err, sizeof(err)), 0);
	assert_true(sf.fd >= 0);
	assert_memory_equal(sf.hdr.magic, SAVEFILE_MAGIC, 8);
	assert_int_equal(sf.hdr.version, SAVEFILE_VERSION);
	assert_int_equal(sf.hdr.file_size, file_bytes);
	assert_int_equal(sf.hdr.mem_bytes, RAM_SIZE);
	assert_int_equal(sf.hdr.mem_file_bytes, mem_file_bytes);
	assert_int_equal(sf.hdr.nr_vcpus, 2);
	assert_int_equal(sf.hdr.nr_sections, 5);
	assert_memory_equal(&sf.hdr.cpu, &test_cpu, sizeof(test_cpu));
	assert_true(sf.hdr.created_unix_ns > 0);
	check_sections(&sf);

	assert_int_equal(savefile_verify_memory(&sf, count_progress, &pr, err, sizeof(err)), 0);
	assert_true(pr.calls > 0);
	assert_int_equal(pr.last_done, pr.total);

	restored = map_zero(RAM_SIZE);
	assert_int_equal(savefile_load_memory(&sf, restored, true, err, sizeof(err)), 0);
	expect_restored(&ram, restored);
	munmap(restored, RAM_SIZE);

	restored = map_zero(RAM_SIZE);
	assert_int_equal(savefile_load_memory(&sf, restored, false, err, sizeof(err)), 0);
	expect_restored(&ram, restored);
	/* Mapped MAP_PRIVATE: the guest's writes stay out of the file. */
	memset(restored + (size_t)data_pages[1] * PAGE, 0xee, PAGE);
	memset(restored + (size_t)ZERO_PAGE * PAGE, 0xee, PAGE);
	assert_int_equal(savefile_verify_memory(&sf, NULL, NULL, err, sizeof(err)), 0);
	munmap(restored, RAM_SIZE);
	savefile_close(&sf);
	savefile_close(&sf); /* twice is harmless */
	munmap(ram.base, RAM_SIZE);
}

/* Without a bitmap every page counts, and zero pages are still left out. */
static void test_no_bitmap_skips_zero_pages(void **state)
{
	struct savefile sf = { .fd = -1 };
	struct ram ram;
	char err[256] = "";
	uint64_t file_bytes, mem_file_bytes;
	uint8_t *restored;

	(void)state;
	ram_init(&ram);
	write_file(path, ram.base, RAM_SIZE, NULL, &file_bytes, &mem_file_bytes);
	assert_int_equal(mem_file_bytes, 3 * PAGE);
	assert_int_equal(savefile_open(path, &sf, err, sizeof(err)), 0);
	restored = map_zero(RAM_SIZE);
	assert_int_equal(savefile_load_memory(&sf, restored, true, err, sizeof(err)), 0);
	assert_memory_equal(restored, ram.base, RAM_SIZE);
	munmap(restored, RAM_SIZE);
	savefile_close(&sf);
	munmap(ram.base, RAM_SIZE);
}

/* A run of touched pages comes back whole, whatever the extent boundaries. */
static void test_dense_memory(void **state)
{
	struct savefile sf = { .fd = -1 };
	char err[256] = "";
	uint64_t mem_file_bytes;
	uint8_t *ram, *restored;

	(void)state;
	ram = map_zero(RAM_SIZE);
	/* 2 MiB of data, with zero pages among it, and the last page of RAM. */
	for (size_t i = 0; i < (2u << 20); i++)
		ram[(1u << 20) + i] = (i / PAGE) % 5 == 3 ? 0 : (uint8_t)(i * 13 + (i >> 12));
	memset(ram + RAM_SIZE - PAGE, 0x77, PAGE);
	write_file(path, ram, RAM_SIZE, NULL, NULL, &mem_file_bytes);
	assert_true(mem_file_bytes >= (2u << 20) * 4 / 5 + PAGE);
	assert_true(mem_file_bytes <= (2u << 20) + PAGE);
	assert_int_equal(savefile_open(path, &sf, err, sizeof(err)), 0);
	assert_int_equal(savefile_verify_memory(&sf, NULL, NULL, err, sizeof(err)), 0);
	for (int copy = 0; copy < 2; copy++) {
		restored = map_zero(RAM_SIZE);
		assert_int_equal(savefile_load_memory(&sf, restored, copy, err, sizeof(err)), 0);
		assert_memory_equal(restored, ram, RAM_SIZE);
		munmap(restored, RAM_SIZE);
	}
	savefile_close(&sf);
	munmap(ram, RAM_SIZE);
}

/* The same checks run on a file in memory (what the fuzz target feeds). */
static void test_parse_from_memory(void **state)
{
	struct savefile sf = { .fd = -1 };
	struct ram ram;
	char err[256] = "";
	uint64_t file_bytes;
	uint8_t *buf;
	int fd;

	(void)state;
	ram_init(&ram);
	write_file(path, ram.base, RAM_SIZE, ram.touched, &file_bytes, NULL);
	buf = malloc(file_bytes);
	assert_non_null(buf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(fd, buf, file_bytes, 0), (ssize_t)file_bytes);
	close(fd);
	assert_int_equal(savefile_parse(buf, file_bytes, file_bytes, &sf, err, sizeof(err)), 0);
	assert_int_equal(sf.fd, -1);
	check_sections(&sf);
	savefile_close(&sf);
	/* The reader needs the bytes through the extent table, not the memory data. */
	err[0] = '\0';
	assert_int_equal(
	        savefile_parse(buf, SAVEFILE_HEADER_SIZE / 2, file_bytes, &sf, err, sizeof(err)),
	        -EINVAL);
	assert_true(strlen(err) > 10);
	err[0] = '\0';
	assert_int_equal(savefile_parse(buf, file_bytes, file_bytes - 1, &sf, err, sizeof(err)),
	                 -EINVAL);
	assert_true(strlen(err) > 10);
	free(buf);
	munmap(ram.base, RAM_SIZE);
}

/* --- refusals ----------------------------------------------------------------------------- */

static void write_test_file(uint64_t *ret_file_bytes)
{
	struct ram ram;

	ram_init(&ram);
	write_file(path, ram.base, RAM_SIZE, ram.touched, ret_file_bytes, NULL);
	munmap(ram.base, RAM_SIZE);
}

static struct savefile_header read_header(void)
{
	struct savefile_header hdr;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	close(fd);
	return hdr;
}

static void read_at(uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void patch(uint64_t off, const void *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void flip_bit(uint64_t off, unsigned int bit)
{
	uint8_t b;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= (uint8_t)(1u << bit);
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/*
 * Puts back a valid checksum after an edit, as the writer computes it: XXH3-64 over the
 * header's fields with the checksum 0, then the state and the extent table.  So a test
 * that edits a field sees the check for that field, not the checksum.
 */
static void rechecksum(void)
{
	struct savefile_header hdr = read_header();
	uint64_t tail_len = hdr.extents_offset + hdr.nr_extents * sizeof(struct savefile_extent) -
	                    hdr.state_offset;
	uint8_t *buf = malloc(sizeof(hdr) + tail_len);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && buf);
	assert_int_equal(pread(fd, buf + sizeof(hdr), tail_len, (off_t)hdr.state_offset),
	                 (ssize_t)tail_len);
	close(fd);
	hdr.checksum = 0;
	memcpy(buf, &hdr, sizeof(hdr));
	hdr.checksum = XXH3_64bits(buf, sizeof(hdr) + tail_len);
	patch(offsetof(struct savefile_header, checksum), &hdr.checksum, sizeof(hdr.checksum));
	free(buf);
}

/* savefile_open refuses path with -want and a message naming the problem (word). */
static void expect_open_refused(int want, const char *word)
{
	struct savefile sf = { .fd = -1 };
	char err[256] = "";
	int r = savefile_open(path, &sf, err, sizeof(err));

	if (r != want || strlen(err) < 10 || !strcasestr(err, word))
		fail_msg("savefile_open: %d '%s', expected %d and a message with '%s'", r, err,
		         want, word);
}

static void test_refuses_empty_and_missing(void **state)
{
	int fd;

	(void)state;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	expect_open_refused(-EINVAL, "empty");
	unlink(path);
	expect_open_refused(-ENOENT, path);
}

static void test_refuses_truncated(void **state)
{
	struct savefile_header hdr;
	uint64_t file_bytes;
	/* Inside the header, inside the state, inside the memory data, its last byte. */
	uint64_t cuts[4];

	(void)state;
	write_test_file(&file_bytes);
	hdr = read_header();
	cuts[0] = 100;
	cuts[1] = hdr.state_offset + 30;
	cuts[2] = file_bytes - PAGE - PAGE / 2;
	cuts[3] = file_bytes - 1;
	assert_true(cuts[2] > hdr.extents_offset + hdr.nr_extents * sizeof(struct savefile_extent));
	for (int i = 0; i < 4; i++) {
		write_test_file(NULL);
		assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
		expect_open_refused(-EINVAL, "truncated");
	}
}

static void test_refuses_bit_flips(void **state)
{
	struct savefile sf = { .fd = -1 };
	struct savefile_header hdr;
	char err[256] = "";
	uint64_t last_data;

	(void)state;
	/* The header (a CPU feature, the time), a section's payload, the extent table. */
	write_test_file(NULL);
	flip_bit(offsetof(struct savefile_header, cpu.leaf7_ebx), 3);
	expect_open_refused(-EPROTO, "checksum");
	write_test_file(NULL);
	flip_bit(offsetof(struct savefile_header, created_unix_ns) + 7, 0);
	expect_open_refused(-EPROTO, "checksum");
	write_test_file(NULL);
	hdr = read_header();
	flip_bit(hdr.state_offset + sizeof(struct savefile_section_hdr) + 17, 6);
	expect_open_refused(-EPROTO, "checksum");
	write_test_file(NULL);
	flip_bit(hdr.extents_offset + 8 * 3 + 2, 1); /* the first extent's checksum */
	expect_open_refused(-EPROTO, "checksum");

	/* Memory data is not in the header checksum: the open works, verification fails. */
	write_test_file(NULL);
	last_data = hdr.file_size - PAGE + 123;
	flip_bit(last_data, 2);
	assert_int_equal(savefile_open(path, &sf, err, sizeof(err)), 0);
	assert_int_equal(savefile_verify_memory(&sf, NULL, NULL, err, sizeof(err)), -EPROTO);
	if (strlen(err) < 10 || !strcasestr(err, "checksum"))
		fail_msg("savefile_verify_memory: message '%s'", err);
	savefile_close(&sf);
}

static void test_refuses_wrong_magic(void **state)
{
	(void)state;
	write_test_file(NULL);
	patch(0, "XENOSAVF", 8);
	rechecksum();
	expect_open_refused(-EINVAL, "magic");
	/* Some other file altogether. */
	write_test_file(NULL);
	patch(0,
	      "\x7f"
	      "ELF\x02\x01\x01\x00",
	      8);
	expect_open_refused(-EINVAL, "not a");
}

static void test_refuses_future_version(void **state)
{
	uint32_t version = SAVEFILE_VERSION + 1;

	(void)state;
	write_test_file(NULL);
	patch(offsetof(struct savefile_header, version), &version, sizeof(version));
	rechecksum();
	expect_open_refused(-ENOTSUP, "version");
}

static void test_refuses_huge_memory(void **state)
{
	uint64_t mem[] = { SAVEFILE_MEM_MAX + PAGE, 2 * SAVEFILE_MEM_MAX, UINT64_MAX & ~4095ULL };

	(void)state;
	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
		write_test_file(NULL);
		patch(offsetof(struct savefile_header, mem_bytes), &mem[i], sizeof(mem[i]));
		rechecksum();
		expect_open_refused(-E2BIG, "RAM");
	}
}

static void test_refuses_section_past_end(void **state)
{
	struct savefile_header hdr;
	uint64_t lens[] = { 1ULL << 40, UINT64_MAX, UINT64_MAX - 7 };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		write_test_file(NULL);
		hdr = read_header();
		patch(hdr.state_offset + offsetof(struct savefile_section_hdr, len), &lens[i],
		      sizeof(lens[i]));
		rechecksum();
		expect_open_refused(-EINVAL, "section");
	}
	/* A state that claims more than the limit, or runs past the file. */
	write_test_file(NULL);
	hdr.state_len = (uint64_t)SAVEFILE_STATE_MAX + 8;
	patch(offsetof(struct savefile_header, state_len), &hdr.state_len, sizeof(hdr.state_len));
	rechecksum();
	expect_open_refused(-EINVAL, "state");
}

static void test_refuses_extent_outside(void **state)
{
	static const char *const why[] = { "does not add up", "outside RAM", "page aligned",
		                           "not where the data is" };
	struct savefile_header hdr;
	struct savefile_extent ext;
	uint64_t off;

	(void)state;
	/*
	 * Data past the end of the file, RAM past the end of RAM, an unaligned length, the
	 * second extent's data over the first's.
	 */
	for (int i = 0; i < 4; i++) {
		write_test_file(NULL);
		hdr = read_header();
		off = hdr.extents_offset + (i == 0 ? (hdr.nr_extents - 1) * sizeof(ext) : 0) +
		      (i == 3 ? sizeof(ext) : 0);
		read_at(off, &ext, sizeof(ext));
		if (i == 0) {
			ext.len += PAGE; /* the last extent's data runs past the end of the file */
		} else if (i == 1) {
			ext.ram_offset = hdr.mem_bytes - PAGE;
			ext.len = 2 * PAGE;
		} else if (i == 2) {
			ext.len = PAGE + 512;
		} else {
			ext.file_offset -= PAGE;
		}
		patch(off, &ext, sizeof(ext));
		rechecksum();
		expect_open_refused(-EINVAL, why[i]);
	}
}

/* --- the layout the reader accepts, and the fuzz target's seed corpus ------------------- */

/*
 * Rewrites the file at path with its memory data right after the extent table (page
 * aligned) instead of past the room the writer reserves: still a valid file, and small.
 */
static void compact(void)
{
	struct savefile_header hdr = read_header();
	struct savefile_extent *ext;
	uint64_t table_end = hdr.extents_offset + hdr.nr_extents * sizeof(*ext);
	uint64_t old_data = table_end, new_data = (table_end + PAGE - 1) / PAGE * PAGE;
	uint64_t data_len, shift;
	uint8_t *buf;
	int fd;

	if (hdr.nr_extents) {
		read_at(hdr.extents_offset + offsetof(struct savefile_extent, file_offset),
		        &old_data, sizeof(old_data));
	}
	data_len = hdr.file_size - old_data;
	shift = old_data - new_data;
	buf = calloc(1, new_data + data_len);
	assert_non_null(buf);
	read_at(0, buf, table_end);
	read_at(old_data, buf + new_data, data_len);
	ext = (struct savefile_extent *)(void *)(buf + hdr.extents_offset);
	for (uint64_t i = 0; i < hdr.nr_extents; i++)
		ext[i].file_offset -= shift;
	hdr.file_size = new_data + data_len;
	memcpy(buf, &hdr, sizeof(hdr));
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, hdr.file_size), (ssize_t)hdr.file_size);
	close(fd);
	free(buf);
	rechecksum();
}

/* Memory data need not follow the writer's reserved room: right after the table works. */
static void test_compact_layout(void **state)
{
	struct savefile sf = { .fd = -1 };
	struct ram ram;
	char err[256] = "";
	uint8_t *restored;

	(void)state;
	ram_init(&ram);
	write_file(path, ram.base, RAM_SIZE, ram.touched, NULL, NULL);
	compact();
	assert_int_equal(savefile_open(path, &sf, err, sizeof(err)), 0);
	assert_true(sf.hdr.file_size <= SAVEFILE_HEADER_SIZE + 4 * PAGE);
	check_sections(&sf);
	assert_int_equal(savefile_verify_memory(&sf, NULL, NULL, err, sizeof(err)), 0);
	restored = map_zero(RAM_SIZE);
	assert_int_equal(savefile_load_memory(&sf, restored, false, err, sizeof(err)), 0);
	assert_memory_equal(restored, ram.base, RAM_SIZE);
	munmap(restored, RAM_SIZE);
	savefile_close(&sf);
	munmap(ram.base, RAM_SIZE);
}

static void copy_prefix(const char *seeds, const char *name, uint64_t len)
{
	char to[4096];
	uint8_t *buf = malloc(len);
	int out;

	snprintf(to, sizeof(to), "%s/%s", seeds, name);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(out >= 0 && buf);
	read_at(0, buf, len);
	assert_int_equal(write(out, buf, len), (ssize_t)len);
	close(out);
	free(buf);
}

/* Small files (1 MiB of RAM, compacted) so that fuzzing reaches the memory data too. */
static void write_seeds(void **state)
{
	const char *seeds = getenv("XENO_WRITE_FUZZ_SEEDS");
	uint8_t *ram = map_zero(1u << 20);
	uint64_t size;

	(void)state;
	memset(ram + 3 * PAGE, 0x11, PAGE);
	memset(ram + 4 * PAGE + 100, 0x22, 50);
	memset(ram + 200 * PAGE, 0x33, 2 * PAGE);
	write_file(path, ram, 1u << 20, NULL, NULL, NULL);
	compact();
	size = read_header().file_size;
	copy_prefix(seeds, "valid", size);
	copy_prefix(seeds, "truncated-header", 64);
	copy_prefix(seeds, "truncated-state", read_header().state_offset + 40);
	copy_prefix(seeds, "truncated-memory", size - PAGE / 2);
	memset(ram, 0, 1u << 20);
	write_file(path, ram, 1u << 20, NULL, NULL, NULL);
	copy_prefix(seeds, "no-memory", read_header().file_size);
	munmap(ram, 1u << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_bitmap_skips_zero_pages),
		cmocka_unit_test(test_dense_memory),
		cmocka_unit_test(test_parse_from_memory),
		cmocka_unit_test(test_refuses_empty_and_missing),
		cmocka_unit_test(test_refuses_truncated),
		cmocka_unit_test(test_refuses_bit_flips),
		cmocka_unit_test(test_refuses_wrong_magic),
		cmocka_unit_test(test_refuses_future_version),
		cmocka_unit_test(test_refuses_huge_memory),
		cmocka_unit_test(test_refuses_section_past_end),
		cmocka_unit_test(test_refuses_extent_outside),
		cmocka_unit_test(test_compact_layout),
	};
	const struct CMUnitTest seeds[] = {
		cmocka_unit_test(write_seeds),
	};
	int r;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/domain.save", dir);
	if (getenv("XENO_WRITE_FUZZ_SEEDS"))
		r = cmocka_run_group_tests(seeds, NULL, NULL);
	else
		r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return r;
}
