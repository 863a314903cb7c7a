/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The save file of a domain (xm save / xm restore; docs/DESIGN.md, "Save and restore").
 *
 * Layout, all integers little-endian:
 *   header     one 4 KiB page: magic, version, guest RAM size, vCPUs, the CPU features the
 *              guest state depends on, where the rest lies, and a checksum (XXH3-64) over
 *              the header, the state and the extent table
 *   state      tagged sections: a 24-byte section header (tag, instance, version, length)
 *              and the payload, padded to 8 bytes; one section per vCPU, chip and device,
 *              plus the manager's own ("domain": xend's record of the domain)
 *   extents    the table of guest RAM extents: offset into RAM, length, where in the file,
 *              and an XXH3-64 of the data
 *   memory     the extents' data, each page aligned, so restore can map it (MAP_PRIVATE);
 *              pages that were never touched or are zero are not in the file at all
 *
 * The reader checks everything before anyone acts on it: a truncated file, a bad checksum,
 * another version, a section or extent pointing outside the file, or RAM larger than
 * VM_MEM_MIB_MAX is refused with a message.  The state is parsed from memory
 * (savefile_parse), so the fuzz target runs the same checks.  Any thread; no global state.
 */
#ifndef XENO_COMMON_SAVEFILE_H
#define XENO_COMMON_SAVEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAVEFILE_MAGIC       "XENOSAVE"
#define SAVEFILE_VERSION     1u
#define SAVEFILE_HEADER_SIZE 4096u
#define SAVEFILE_PAGE        4096u
#define SAVEFILE_TAG_MAX     8u              /* tags are up to 8 characters, NUL-padded */
#define SAVEFILE_STATE_MAX   (64u << 20)     /* sections and extent table together */
#define SAVEFILE_MEM_MAX     (1024ULL << 30) /* 1 TiB: xeno-vmm's --mem limit */
#define SAVEFILE_PARTIAL     ".partial"      /* suffix of a file being written */

/* The CPU features the guest's state depends on: restore needs a host offering them all. */
struct savefile_cpu {
	uint32_t leaf1_ecx, leaf1_edx; /* CPUID 1 as the guest saw it */
	uint32_t leaf7_ebx, leaf7_ecx; /* CPUID 7.0 */
	uint32_t leaf7_edx, ext1_ecx;  /* CPUID 7.0 EDX, 0x80000001 ECX */
	uint32_t ext1_edx, xsave_size; /* 0x80000001 EDX; bytes of KVM's XSAVE area */
	uint64_t xcr0;                 /* the XSAVE features the guest enabled */
};

struct savefile_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t file_size; /* the whole file: a shorter one was truncated */
	uint64_t mem_bytes; /* guest RAM */
	uint32_t nr_vcpus;
	uint32_t nr_sections;
	uint64_t state_offset, state_len;
	uint64_t extents_offset, nr_extents;
	uint64_t mem_file_bytes; /* bytes of RAM data in the file */
	struct savefile_cpu cpu;
	uint64_t created_unix_ns; /* when the state was taken (CLOCK_REALTIME) */
	uint64_t checksum;        /* XXH3-64 of the header with this field 0, state, extents */
};

struct savefile_section_hdr {
	char tag[SAVEFILE_TAG_MAX];
	uint32_t instance;
	uint32_t version;
	uint64_t len;
};

struct savefile_extent {
	uint64_t ram_offset; /* from the start of guest RAM (not a guest-physical address) */
	uint64_t len;        /* a multiple of SAVEFILE_PAGE */
	uint64_t file_offset;
	uint64_t checksum; /* XXH3-64 of the data */
};

/* A file opened for restore: its header, a copy of its state and extent table. */
struct savefile {
	int fd; /* -1 when parsed from memory */
	struct savefile_header hdr;
	uint8_t *state; /* state_len bytes, then the extent table */
	const struct savefile_extent *extents;
};

/*
 * Checks buf (len bytes: the file from its start through the extent table, or more) as a
 * save file of file_size bytes and fills sf with copies.  0, or -EINVAL / -EPROTO (bad
 * checksum) / -ENOTSUP (another version) / -E2BIG (too much RAM) with a message in err.
 */
int savefile_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct savefile *sf,
                   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Opens path and parses it (the memory data is not read).  0 or -errno with a message. */
int savefile_open(const char *path, struct savefile *sf, char *err, size_t errlen)
        __attribute__((warn_unused_result));
void savefile_close(struct savefile *sf);

/* Section tag/instance's payload and length; NULL if the file has none. */
const void *savefile_section(const struct savefile *sf, const char *tag, uint32_t instance,
                             uint64_t *ret_len);

/* Called now and then while memory is read or written: bytes done of total. */
typedef void (*savefile_progress_fn)(void *opaque, uint64_t done, uint64_t total);

/* Reads every extent and checks its checksum.  0 or -EPROTO/-EIO with a message. */
int savefile_verify_memory(const struct savefile *sf, savefile_progress_fn progress, void *opaque,
                           char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Puts the file's RAM into [ram, ram + mem_bytes), which must be zero-filled anonymous
 * memory: each extent is mapped over it MAP_PRIVATE|MAP_FIXED (pages come in from the file
 * when the guest touches them; writes stay private), or with copy, read into it.
 * 0 or -errno with a message.
 */
int savefile_load_memory(const struct savefile *sf, uint8_t *ram, bool copy, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* --- writing ------------------------------------------------------------------------------ */

struct savefile_writer;

/* Starts a save file on fd (empty, seekable) for RAM of mem_bytes.  0 or -errno. */
int savefile_writer_new(int fd, uint64_t mem_bytes, uint32_t nr_vcpus,
                        const struct savefile_cpu *cpu, struct savefile_writer **ret)
        __attribute__((warn_unused_result));

/* Adds a section; the payload is copied.  0 or -errno (-E2BIG past SAVEFILE_STATE_MAX). */
int savefile_writer_section(struct savefile_writer *w, const char *tag, uint32_t instance,
                            uint32_t version, const void *data, uint64_t len)
        __attribute__((warn_unused_result));

/*
 * Writes guest RAM: of [ram, ram + mem_bytes), the pages whose bit is set in touched
 * (one bit per page; NULL: every page) and that are not all zero.  Short runs of zero pages
 * between data are kept, so the extents stay few.  0 or -errno.
 */
int savefile_writer_memory(struct savefile_writer *w, const uint8_t *ram, const uint64_t *touched,
                           savefile_progress_fn progress, void *opaque)
        __attribute__((warn_unused_result));

/* Writes the state, the extent table and the header; frees w either way.  0 or -errno. */
int savefile_writer_finish(struct savefile_writer *w, uint64_t *ret_file_bytes,
                           uint64_t *ret_mem_file_bytes) __attribute__((warn_unused_result));
void savefile_writer_free(struct savefile_writer *w);

#endif
