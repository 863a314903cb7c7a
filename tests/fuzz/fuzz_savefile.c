// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes the save-file reader (src/common/savefile.h) over a hostile file: the input is the
 * whole file, with its header checksum made valid (with_checksum).  savefile_parse checks it in
 * memory; for a file it accepts, every section named in the state is looked up with
 * savefile_section and must lie inside the state, and every extent must lie inside the file and
 * inside RAM, page aligned, apart.  A file of at most 64 MiB of RAM then goes through the file path
 * too (a memfd): savefile_open, savefile_verify_memory and savefile_load_memory, read and mapped,
 * into a mapping of its RAM size.  Seeds: tests/fuzz/corpus/savefile, written by
 * tests/unit/test_savefile with XENO_WRITE_FUZZ_SEEDS=DIR (valid files of 1 MiB of RAM, and cut
 * ones).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/savefile.h"

#define FILE_RAM_MAX (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size);

static int file_fd = -1;
static char file_path[64];

/* Tags are NUL-padded: one with bytes after its first NUL has no name to look up. */
static bool nameable(const char *tag)
{
	for (size_t i = strnlen(tag, SAVEFILE_TAG_MAX); i < SAVEFILE_TAG_MAX; i++)
		if (tag[i])
			return false;
	return true;
}

/* Every section the state names, found by tag and instance, within the state. */
static void walk_sections(const struct savefile *sf)
{
	const uint8_t *end = sf->state + sf->hdr.state_len;
	uint64_t off = 0, n = 0, sum = 0;

	while (off + sizeof(struct savefile_section_hdr) <= sf->hdr.state_len) {
		struct savefile_section_hdr sh;
		char tag[SAVEFILE_TAG_MAX + 1] = { 0 };
		const uint8_t *p;
		uint64_t len;

		memcpy(&sh, sf->state + off, sizeof(sh));
		memcpy(tag, sh.tag, SAVEFILE_TAG_MAX);
		off += sizeof(sh) + (sh.len + 7) / 8 * 8;
		n++;
		/* A tag with bytes after a NUL cannot be named; an earlier twin may be found. */
		if (!nameable(sh.tag))
			continue;
		p = savefile_section(sf, tag, sh.instance, &len);
		if (!p || p < sf->state + sizeof(sh) || p > end || len > (uint64_t)(end - p))
			abort();
		for (uint64_t i = 0; i < len; i++)
			sum += p[i];
	}
	if (off != sf->hdr.state_len || n != sf->hdr.nr_sections)
		abort();
	(void)sum;
}

static void check_extents(const struct savefile *sf, uint64_t file_size)
{
	uint64_t ram_end = 0, total = 0;

	for (uint64_t i = 0; i < sf->hdr.nr_extents; i++) {
		const struct savefile_extent *e = &sf->extents[i];

		if (e->len == 0 || e->len % SAVEFILE_PAGE || e->file_offset % SAVEFILE_PAGE ||
		    e->ram_offset % SAVEFILE_PAGE || e->ram_offset < ram_end ||
		    e->ram_offset > sf->hdr.mem_bytes ||
		    e->len > sf->hdr.mem_bytes - e->ram_offset ||
		    e->file_offset < sf->hdr.extents_offset || e->file_offset > file_size ||
		    e->len > file_size - e->file_offset)
			abort();
		ram_end = e->ram_offset + e->len;
		total += e->len;
	}
	if (total != sf->hdr.mem_file_bytes || sf->hdr.mem_bytes > SAVEFILE_MEM_MAX)
		abort();
}

/* The same bytes as a file: open, verify, load by copy and by mapping. */
static void through_file(const uint8_t *data, size_t size, uint64_t mem_bytes)
{
	struct savefile sf;
	char err[256];
	uint8_t *ram;

	if (ftruncate(file_fd, 0) < 0 || pwrite(file_fd, data, size, 0) != (ssize_t)size)
		abort();
	if (savefile_open(file_path, &sf, err, sizeof(err)) < 0)
		abort(); /* it parsed from memory */
	(void)savefile_verify_memory(&sf, NULL, NULL, err, sizeof(err));
	for (int copy = 0; copy < 2; copy++) {
		ram = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE,
		           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (ram == MAP_FAILED)
			abort();
		if (savefile_load_memory(&sf, ram, copy, err, sizeof(err)) == 0 &&
		    sf.hdr.nr_extents) {
			/* Touch the last page of the last extent: it must be backed. */
			const struct savefile_extent *e = &sf.extents[sf.hdr.nr_extents - 1];
			volatile uint8_t b = ram[e->ram_offset + e->len - 1];

			(void)b;
		}
		munmap(ram, mem_bytes);
	}
	savefile_close(&sf);
}

/*
 * Puts the checksum the writer would compute (XXH3-64 of the header fields with the
 * checksum 0, the state and the extent table) into a copy of the input, when the header
 * locates those inside it: mutations then reach the section and extent checks instead of
 * stopping at the checksum (whose refusals tests/unit/test_savefile.c covers).
 */
static uint8_t *with_checksum(const uint8_t *data, size_t size)
{
	struct savefile_header h;
	uint8_t *copy = malloc(size ? size : 1);
	uint64_t tail_end;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size < sizeof(h))
		return copy;
	memcpy(&h, data, sizeof(h));
	if (h.state_offset < sizeof(h) || h.state_offset > size || h.state_len > size ||
	    h.nr_extents > size / sizeof(struct savefile_extent))
		return copy;
	tail_end = h.state_offset + h.state_len + h.nr_extents * sizeof(struct savefile_extent);
	if (tail_end > size)
		return copy;
	h.checksum = 0;
	memcpy(copy, &h, sizeof(h));
	{
		XXH3_state_t *st = XXH3_createState();

		if (!st)
			abort();
		XXH3_64bits_reset(st);
		XXH3_64bits_update(st, copy, sizeof(h));
		XXH3_64bits_update(st, copy + h.state_offset, tail_end - h.state_offset);
		h.checksum = XXH3_64bits_digest(st);
		XXH3_freeState(st);
	}
	memcpy(copy + offsetof(struct savefile_header, checksum), &h.checksum, sizeof(h.checksum));
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	struct savefile sf;
	char err[256];
	uint8_t *data;
	int r;

	if (file_fd < 0) {
		file_fd = memfd_create("fuzz-savefile", MFD_CLOEXEC);
		if (file_fd < 0)
			abort();
		snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	}
	data = with_checksum(input, size);
	err[0] = '\0';
	r = savefile_parse(data, size, size, &sf, err, sizeof(err));
	if (r < 0) {
		/* A refusal says why, and leaves nothing to free. */
		if (!err[0] || sf.state || sf.fd != -1)
			abort();
		free(data);
		return 0;
	}
	walk_sections(&sf);
	check_extents(&sf, size);
	if (sf.hdr.mem_bytes <= FILE_RAM_MAX) {
		uint64_t mem_bytes = sf.hdr.mem_bytes;

		savefile_close(&sf);
		through_file(data, size, mem_bytes);
	} else {
		savefile_close(&sf);
	}
	free(data);
	return 0;
}
