// SPDX-License-Identifier: GPL-2.0-only
/*
 * The save file (savefile.h).  Writing keeps the state in memory until the end: RAM goes
 * straight to the file, page aligned after room left for the state, and the header, which
 * carries the checksum, is written last, so a file that was cut short never checks out.
 */
#include "common/savefile.h"
#include "common/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define ZERO_GAP_PAGES   16u         /* zero pages between data kept in one extent */
#define EXTENT_MAX_BYTES (64u << 20) /* one extent's data, checksummed and mapped alone */
#define IO_CHUNK         (4u << 20)

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t header_checksum(const struct savefile_header *hdr, const uint8_t *state,
                                uint64_t state_len)
{
	struct savefile_header h = *hdr;
	XXH3_state_t *st = XXH3_createState();
	uint64_t sum;

	if (!st)
		return 0;
	h.checksum = 0;
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, &h, sizeof(h));
	XXH3_64bits_update(st, state, state_len);
	sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return sum;
}

/* --- reading ---------------------------------------------------------------------------- */

static int check_header(const struct savefile_header *h, uint64_t file_size, char *err,
                        size_t errlen)
{
	if (memcmp(h->magic, SAVEFILE_MAGIC, sizeof(h->magic)) != 0)
		return errmsg(err, errlen, -EINVAL, "not a xeno save file (bad magic)");
	if (h->version != SAVEFILE_VERSION)
		return errmsg(err, errlen, -ENOTSUP,
		              "save file format version %u; this xeno reads version %u", h->version,
		              SAVEFILE_VERSION);
	if (h->header_size != SAVEFILE_HEADER_SIZE)
		return errmsg(err, errlen, -EINVAL, "save file header size %u, expected %u",
		              h->header_size, SAVEFILE_HEADER_SIZE);
	if (h->file_size != file_size)
		return errmsg(err, errlen, -EINVAL,
		              "save file is %llu bytes, its header says %llu: truncated or "
		              "extended",
		              (unsigned long long)file_size, (unsigned long long)h->file_size);
	if (h->mem_bytes == 0 || h->mem_bytes % SAVEFILE_PAGE)
		return errmsg(err, errlen, -EINVAL, "save file RAM size %llu is not whole pages",
		              (unsigned long long)h->mem_bytes);
	if (h->mem_bytes > SAVEFILE_MEM_MAX)
		return errmsg(err, errlen, -E2BIG,
		              "save file claims %llu MiB of RAM; at most %llu MiB is possible",
		              (unsigned long long)(h->mem_bytes >> 20),
		              (unsigned long long)(SAVEFILE_MEM_MAX >> 20));
	if (h->nr_vcpus == 0 || h->nr_vcpus > 4096)
		return errmsg(err, errlen, -EINVAL, "save file has %u vCPUs", h->nr_vcpus);
	if (h->state_offset != SAVEFILE_HEADER_SIZE || h->state_len > SAVEFILE_STATE_MAX ||
	    h->state_len % 8)
		return errmsg(err, errlen, -EINVAL, "save file state area is malformed");
	if (h->extents_offset != h->state_offset + h->state_len ||
	    h->nr_extents > SAVEFILE_STATE_MAX / sizeof(struct savefile_extent) ||
	    h->state_len + h->nr_extents * sizeof(struct savefile_extent) > SAVEFILE_STATE_MAX)
		return errmsg(err, errlen, -EINVAL, "save file extent table is malformed");
	if (h->extents_offset + h->nr_extents * sizeof(struct savefile_extent) > file_size)
		return errmsg(err, errlen, -EINVAL, "save file is truncated (state)");
	return 0;
}

static int check_sections(const struct savefile *sf, char *err, size_t errlen)
{
	uint64_t off = 0, n = 0;

	while (off < sf->hdr.state_len) {
		struct savefile_section_hdr sh;

		if (sf->hdr.state_len - off < sizeof(sh))
			return errmsg(err, errlen, -EINVAL, "save file section %llu is cut short",
			              (unsigned long long)n);
		memcpy(&sh, sf->state + off, sizeof(sh));
		off += sizeof(sh);
		if (sh.len > sf->hdr.state_len - off ||
		    align_up(sh.len, 8) > sf->hdr.state_len - off)
			return errmsg(err, errlen, -EINVAL,
			              "save file section %llu (%.8s) runs past the state area",
			              (unsigned long long)n, sh.tag);
		off += align_up(sh.len, 8);
		n++;
	}
	if (n != sf->hdr.nr_sections)
		return errmsg(err, errlen, -EINVAL, "save file has %llu sections, header says %u",
		              (unsigned long long)n, sf->hdr.nr_sections);
	return 0;
}

static int check_extents(const struct savefile *sf, char *err, size_t errlen)
{
	const struct savefile_header *h = &sf->hdr;
	const struct savefile_extent *ext = sf->extents;
	uint64_t table_end = h->extents_offset + h->nr_extents * sizeof(struct savefile_extent);
	uint64_t ram_end = 0, total = 0;
	/* The data follows the table, maybe after a gap (the room the writer reserved). */
	uint64_t file_end = h->nr_extents ? ext[0].file_offset : 0;

	if (h->nr_extents && file_end < table_end)
		return errmsg(err, errlen, -EINVAL, "save file memory data overlaps its state");
	for (uint64_t i = 0; i < h->nr_extents; i++) {
		const struct savefile_extent *e = &ext[i];

		if (e->len == 0 || e->len % SAVEFILE_PAGE || e->ram_offset % SAVEFILE_PAGE ||
		    e->file_offset % SAVEFILE_PAGE)
			return errmsg(err, errlen, -EINVAL,
			              "save file extent %llu is not page aligned",
			              (unsigned long long)i);
		/* In order and apart, so no two mappings overlap and none leaves RAM. */
		if (e->ram_offset < ram_end || e->ram_offset > h->mem_bytes ||
		    e->len > h->mem_bytes - e->ram_offset)
			return errmsg(err, errlen, -EINVAL,
			              "save file extent %llu lies outside RAM",
			              (unsigned long long)i);
		if (e->file_offset != file_end)
			return errmsg(err, errlen, -EINVAL,
			              "save file extent %llu is not where the data is",
			              (unsigned long long)i);
		ram_end = e->ram_offset + e->len;
		file_end += e->len;
		total += e->len;
	}
	if (total != h->mem_file_bytes || (h->nr_extents && file_end != h->file_size) ||
	    (!h->nr_extents && h->file_size != table_end))
		return errmsg(err, errlen, -EINVAL, "save file memory data does not add up");
	return 0;
}

int savefile_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct savefile *sf,
                   char *err, size_t errlen)
{
	uint64_t table_len, need;
	int r;

	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	if (file_size == 0)
		return errmsg(err, errlen, -EINVAL, "save file is empty");
	if (len < sizeof(sf->hdr) || file_size < SAVEFILE_HEADER_SIZE)
		return errmsg(err, errlen, -EINVAL, "save file is truncated (header)");
	memcpy(&sf->hdr, buf, sizeof(sf->hdr));
	r = check_header(&sf->hdr, file_size, err, errlen);
	if (r < 0)
		return r;
	/* The checksum covers the header's fields; the rest of its page must be zero. */
	for (size_t i = sizeof(sf->hdr); i < SAVEFILE_HEADER_SIZE && i < len; i++)
		if (buf[i])
			return errmsg(err, errlen, -EINVAL,
			              "save file header has data past its fields: damaged");
	table_len = sf->hdr.nr_extents * sizeof(struct savefile_extent);
	need = sf->hdr.extents_offset + table_len;
	if (len < need)
		return errmsg(err, errlen, -EINVAL, "save file is truncated (state)");
	if (header_checksum(&sf->hdr, buf + sf->hdr.state_offset, sf->hdr.state_len + table_len) !=
	    sf->hdr.checksum)
		return errmsg(err, errlen, -EPROTO,
		              "save file checksum does not match: the file is damaged");
	sf->state = malloc(sf->hdr.state_len + table_len + 1);
	if (!sf->state)
		return errmsg(err, errlen, -ENOMEM, "out of memory reading the save file");
	memcpy(sf->state, buf + sf->hdr.state_offset, sf->hdr.state_len + table_len);
	sf->extents = (const struct savefile_extent *)(void *)(sf->state + sf->hdr.state_len);
	r = check_sections(sf, err, errlen);
	if (r == 0)
		r = check_extents(sf, err, errlen);
	if (r < 0)
		savefile_close(sf);
	return r;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int savefile_open(const char *path, struct savefile *sf, char *err, size_t errlen)
{
	struct savefile_header h;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t need;
	int fd, r;

	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errmsg(err, errlen, -EINVAL, "%s is not a regular file", path);
	}
	if (st.st_size == 0 || (uint64_t)st.st_size < sizeof(h) ||
	    read_full(fd, &h, sizeof(h), 0) < 0) {
		r = savefile_parse((const uint8_t *)"", 0, (uint64_t)st.st_size, sf, err, errlen);
		close(fd);
		return r;
	}
	r = check_header(&h, (uint64_t)st.st_size, err, errlen);
	if (r < 0)
		goto out;
	need = h.extents_offset + h.nr_extents * sizeof(struct savefile_extent);
	buf = malloc(need);
	r = buf ? read_full(fd, buf, need, 0) : -ENOMEM;
	if (r < 0) {
		r = errmsg(err, errlen, r, "cannot read %s: %s", path, strerror(-r));
		goto out;
	}
	r = savefile_parse(buf, need, (uint64_t)st.st_size, sf, err, errlen);
out:
	free(buf);
	if (r < 0) {
		close(fd);
		return r;
	}
	sf->fd = fd;
	return 0;
}

void savefile_close(struct savefile *sf)
{
	if (sf->fd >= 0)
		close(sf->fd);
	free(sf->state);
	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
}

const void *savefile_section(const struct savefile *sf, const char *tag, uint32_t instance,
                             uint64_t *ret_len)
{
	char want[SAVEFILE_TAG_MAX] = { 0 };

	memcpy(want, tag, strnlen(tag, sizeof(want)));
	for (uint64_t off = 0;
	     sf->state && off + sizeof(struct savefile_section_hdr) <= sf->hdr.state_len;) {
		struct savefile_section_hdr sh;

		memcpy(&sh, sf->state + off, sizeof(sh));
		off += sizeof(sh);
		if (!memcmp(sh.tag, want, sizeof(want)) && sh.instance == instance) {
			*ret_len = sh.len;
			return sf->state + off;
		}
		off += align_up(sh.len, 8);
	}
	*ret_len = 0;
	return NULL;
}

int savefile_verify_memory(const struct savefile *sf, savefile_progress_fn progress, void *opaque,
                           char *err, size_t errlen)
{
	uint64_t done = 0;
	uint8_t *buf;
	int r = 0;

	if (sf->fd < 0)
		return errmsg(err, errlen, -EBADF, "save file is not open");
	buf = malloc(IO_CHUNK);
	if (!buf)
		return errmsg(err, errlen, -ENOMEM, "out of memory verifying the save file");
	(void)posix_fadvise(sf->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (uint64_t i = 0; i < sf->hdr.nr_extents && r == 0; i++) {
		const struct savefile_extent *e = &sf->extents[i];
		XXH3_state_t *st = XXH3_createState();

		if (!st) {
			r = errmsg(err, errlen, -ENOMEM, "out of memory verifying the save file");
			break;
		}
		XXH3_64bits_reset(st);
		for (uint64_t off = 0; off < e->len && r == 0; off += IO_CHUNK) {
			size_t n = e->len - off < IO_CHUNK ? (size_t)(e->len - off) : IO_CHUNK;

			r = read_full(sf->fd, buf, n, e->file_offset + off);
			if (r < 0) {
				r = errmsg(err, errlen, -EIO,
				           "cannot read the save file's memory: %s", strerror(-r));
				break;
			}
			XXH3_64bits_update(st, buf, n);
			done += n;
			if (progress)
				progress(opaque, done, sf->hdr.mem_file_bytes);
		}
		if (r == 0 && XXH3_64bits_digest(st) != e->checksum)
			r = errmsg(
			        err, errlen, -EPROTO,
			        "save file memory checksum does not match (RAM at %llu MiB): the "
			        "file is damaged",
			        (unsigned long long)(e->ram_offset >> 20));
		XXH3_freeState(st);
	}
	free(buf);
	return r;
}

int savefile_load_memory(const struct savefile *sf, uint8_t *ram, bool copy, char *err,
                         size_t errlen)
{
	for (uint64_t i = 0; i < sf->hdr.nr_extents; i++) {
		const struct savefile_extent *e = &sf->extents[i];
		int r;

		if (copy) {
			r = read_full(sf->fd, ram + e->ram_offset, e->len, e->file_offset);
			if (r < 0)
				return errmsg(err, errlen, r,
				              "cannot read the save file's memory: %s",
				              strerror(-r));
			continue;
		}
		if (mmap(ram + e->ram_offset, e->len, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, sf->fd,
		         (off_t)e->file_offset) == MAP_FAILED)
			return errmsg(err, errlen, -errno, "cannot map the save file's memory: %s",
			              strerror(errno));
		(void)madvise(ram + e->ram_offset, e->len, MADV_DONTDUMP);
	}
	return 0;
}

/* --- writing ---------------------------------------------------------------------------- */

struct savefile_writer {
	int fd;
	struct savefile_header hdr;
	uint8_t *state;
	uint64_t state_len, state_cap;
	struct savefile_extent *extents;
	uint64_t nr_extents, extents_cap;
	uint64_t data_start; /* where RAM data begins: past the room reserved for the state */
	uint64_t data_end;
};

/* Room for the state before the RAM data: grown, and the data moved, if it runs out. */
#define STATE_RESERVE (1u << 20)

int savefile_writer_new(int fd, uint64_t mem_bytes, uint32_t nr_vcpus,
                        const struct savefile_cpu *cpu, struct savefile_writer **ret)
{
	struct savefile_writer *w;
	struct timespec ts;

	if (mem_bytes == 0 || mem_bytes % SAVEFILE_PAGE || mem_bytes > SAVEFILE_MEM_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	memcpy(w->hdr.magic, SAVEFILE_MAGIC, sizeof(w->hdr.magic));
	w->hdr.version = SAVEFILE_VERSION;
	w->hdr.header_size = SAVEFILE_HEADER_SIZE;
	w->hdr.mem_bytes = mem_bytes;
	w->hdr.nr_vcpus = nr_vcpus;
	w->hdr.state_offset = SAVEFILE_HEADER_SIZE;
	if (cpu)
		w->hdr.cpu = *cpu;
	clock_gettime(CLOCK_REALTIME, &ts);
	w->hdr.created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	w->data_start = w->data_end = SAVEFILE_HEADER_SIZE + STATE_RESERVE;
	*ret = w;
	return 0;
}

static int grow(void **p, uint64_t *cap, uint64_t need, size_t unit)
{
	uint64_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * unit);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int savefile_writer_section(struct savefile_writer *w, const char *tag, uint32_t instance,
                            uint32_t version, const void *data, uint64_t len)
{
	struct savefile_section_hdr sh = { .instance = instance, .version = version, .len = len };
	uint64_t need = w->state_len + sizeof(sh) + align_up(len, 8);
	int r;

	if (len > SAVEFILE_STATE_MAX || need > SAVEFILE_STATE_MAX)
		return -E2BIG;
	r = grow((void **)&w->state, &w->state_cap, need, 1);
	if (r < 0)
		return r;
	memcpy(sh.tag, tag, strnlen(tag, sizeof(sh.tag)));
	memcpy(w->state + w->state_len, &sh, sizeof(sh));
	if (len)
		memcpy(w->state + w->state_len + sizeof(sh), data, len);
	memset(w->state + w->state_len + sizeof(sh) + len, 0, align_up(len, 8) - len);
	w->state_len = need;
	w->hdr.nr_sections++;
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n =
		        pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;

	for (unsigned int i = 0; i < SAVEFILE_PAGE / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

static bool page_wanted(const uint8_t *ram, const uint64_t *touched, uint64_t page)
{
	if (touched && !(touched[page / 64] & (1ULL << (page % 64))))
		return false;
	return !page_is_zero(ram + page * SAVEFILE_PAGE);
}

static int write_extent(struct savefile_writer *w, const uint8_t *ram, uint64_t first,
                        uint64_t pages)
{
	struct savefile_extent *e;
	uint64_t len = pages * SAVEFILE_PAGE;
	int r;

	r = grow((void **)&w->extents, &w->extents_cap, w->nr_extents + 1, sizeof(*e));
	if (r < 0)
		return r;
	r = write_full(w->fd, ram + first * SAVEFILE_PAGE, len, w->data_end);
	if (r < 0)
		return r;
	e = &w->extents[w->nr_extents++];
	*e = (struct savefile_extent){
		.ram_offset = first * SAVEFILE_PAGE,
		.len = len,
		.file_offset = w->data_end,
		.checksum = XXH3_64bits(ram + first * SAVEFILE_PAGE, len),
	};
	w->data_end += len;
	w->hdr.mem_file_bytes += len;
	return 0;
}

int savefile_writer_memory(struct savefile_writer *w, const uint8_t *ram, const uint64_t *touched,
                           savefile_progress_fn progress, void *opaque)
{
	uint64_t nr_pages = w->hdr.mem_bytes / SAVEFILE_PAGE, page = 0;
	const uint64_t max_pages = EXTENT_MAX_BYTES / SAVEFILE_PAGE;

	while (page < nr_pages) {
		uint64_t first, last, gap = 0;
		int r;

		if (!page_wanted(ram, touched, page)) {
			page++;
			continue;
		}
		/* An extent: data pages, with runs of up to ZERO_GAP_PAGES skipped pages inside. */
		first = last = page++;
		while (page < nr_pages && page - first < max_pages && gap <= ZERO_GAP_PAGES) {
			if (page_wanted(ram, touched, page)) {
				last = page;
				gap = 0;
			} else {
				gap++;
			}
			page++;
		}
		page = last + 1;
		r = write_extent(w, ram, first, last - first + 1);
		if (r < 0)
			return r;
		if (progress)
			progress(opaque, page * SAVEFILE_PAGE, w->hdr.mem_bytes);
	}
	return 0;
}

/* The state outgrew the room left before the RAM data: move the data further out. */
static int make_room(struct savefile_writer *w, uint64_t need_end)
{
	uint64_t shift = align_up(need_end - w->data_start, SAVEFILE_PAGE);
	uint8_t *buf;
	int r = 0;

	if (need_end <= w->data_start)
		return 0;
	buf = malloc(IO_CHUNK);
	if (!buf)
		return -ENOMEM;
	/* From the end backwards, so nothing is overwritten before it is moved. */
	for (uint64_t end = w->data_end; end > w->data_start && r == 0;) {
		uint64_t n = end - w->data_start < IO_CHUNK ? end - w->data_start : IO_CHUNK;

		r = read_full(w->fd, buf, n, end - n);
		if (r == 0)
			r = write_full(w->fd, buf, n, end - n + shift);
		end -= n;
	}
	free(buf);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < w->nr_extents; i++)
		w->extents[i].file_offset += shift;
	w->data_start += shift;
	w->data_end += shift;
	return 0;
}

int savefile_writer_finish(struct savefile_writer *w, uint64_t *ret_file_bytes,
                           uint64_t *ret_mem_file_bytes)
{
	uint64_t table_len = w->nr_extents * sizeof(struct savefile_extent), tail;
	uint8_t *area = NULL;
	int r;

	w->hdr.state_len = w->state_len;
	w->hdr.extents_offset = SAVEFILE_HEADER_SIZE + w->state_len;
	w->hdr.nr_extents = w->nr_extents;
	tail = w->hdr.extents_offset + table_len;
	r = make_room(w, tail);
	if (r < 0)
		goto out;
	area = malloc(w->state_len + table_len + 1);
	if (!area) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(area, w->state, w->state_len);
	if (table_len)
		memcpy(area + w->state_len, w->extents, table_len);
	w->hdr.file_size = w->nr_extents ? w->data_end : tail;
	w->hdr.checksum = header_checksum(&w->hdr, area, w->state_len + table_len);
	r = write_full(w->fd, area, w->state_len + table_len, w->hdr.state_offset);
	if (r == 0 && ftruncate(w->fd, (off_t)w->hdr.file_size) < 0)
		r = -errno;
	if (r == 0) {
		uint8_t page[SAVEFILE_HEADER_SIZE] = { 0 };

		memcpy(page, &w->hdr, sizeof(w->hdr));
		r = write_full(w->fd, page, sizeof(page), 0);
	}
	if (r == 0 && ret_file_bytes)
		*ret_file_bytes = w->hdr.file_size;
	if (r == 0 && ret_mem_file_bytes)
		*ret_mem_file_bytes = w->hdr.mem_file_bytes;
out:
	free(area);
	savefile_writer_free(w);
	return r;
}

void savefile_writer_free(struct savefile_writer *w)
{
	if (!w)
		return;
	free(w->state);
	free(w->extents);
	free(w);
}
