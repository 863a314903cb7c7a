/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Linux loaders: a bzImage through the x86 64-bit boot protocol (boot_params "zero page",
 * Documentation/arch/x86/boot.rst), or an uncompressed ELF vmlinux through its PVH entry point
 * (the Xen PHYS32_ENTRY note, which skips the decompressor).  Runs on the main thread before
 * any vCPU exists.  The parsers take a buffer and its length and check every offset, so a
 * corrupt kernel file gives an error, never a crash.
 */
#ifndef XENO_VMM_BOOT_LINUX_H
#define XENO_VMM_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

enum boot_mode {
	BOOT_MODE_LONG64, /* 64-bit entry, RSI = boot_params */
	BOOT_MODE_PVH32,  /* 32-bit protected mode, paging off, EBX = hvm_start_info */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t entry_gpa;
	uint64_t info_gpa;
};

struct boot_linux_args {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	uint64_t rsdp_gpa;
};

/* What the bzImage setup header says, checked. */
struct bzimage_info {
	uint16_t version;
	uint64_t payload_offset; /* file offset of the protected-mode kernel */
	uint64_t payload_size;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t initrd_addr_max; /* inclusive */
	uint32_t cmdline_size;    /* excluding the NUL */
};

/* What an ELF vmlinux offers for PVH boot, checked. */
struct pvh_info {
	uint64_t entry_gpa;
	uint64_t load_end_gpa; /* end of the highest PT_LOAD segment */
};

/* Returns 0, or -ENOEXEC if buf is not a bzImage we can boot in 64-bit mode. */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *ret);

/* Returns 0, or -ENOEXEC if buf is not an x86-64 ELF with a PVH entry note. */
int pvh_parse(const uint8_t *buf, size_t len, struct pvh_info *ret);

/*
 * Loads kernel, initrd and command line into mem and writes the boot information structure.
 * Returns 0 and *ret_entry, or -errno with a one-line reason in errbuf.
 */
int boot_linux_load(const struct guest_mem *mem, const struct boot_linux_args *args,
                    struct boot_entry *ret_entry, char *errbuf, size_t errlen)
        __attribute__((warn_unused_result));

#endif
