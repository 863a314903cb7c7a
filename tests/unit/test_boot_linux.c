// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Linux loaders against hand-built kernels: a bzImage setup header and a minimal ELF
 * with a PVH note.  Checks what the kernel will read (boot_params, hvm_start_info) and that
 * corrupt files are refused with a message, never loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/boot_linux.h"
#include "vmm/layout.h"

#define BZ_SETUP_SECTS 4
#define BZ_PAYLOAD     (64 * 1024)
#define BZ_SIZE        ((BZ_SETUP_SECTS + 1) * 512 + BZ_PAYLOAD)

static uint8_t bz[BZ_SIZE];
static char err[256];

static void make_bzimage(void)
{
	struct setup_header h = { 0 };

	memset(bz, 0, sizeof(bz));
	h.setup_sects = BZ_SETUP_SECTS;
	h.boot_flag = 0xaa55;
	h.header = 0x53726448;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH;
	h.xloadflags = 1;
	h.pref_address = 0x1000000;
	h.init_size = 0x800000;
	h.initrd_addr_max = 0x7fffffff;
	h.cmdline_size = 2047;
	memcpy(bz + 0x1f1, &h, sizeof(h));
	for (size_t i = 0; i < BZ_PAYLOAD; i++)
		bz[(BZ_SETUP_SECTS + 1) * 512 + i] = (uint8_t)(i * 7);
}

static struct setup_header *hdr(void)
{
	return (struct setup_header *)(bz + 0x1f1);
}

static char *write_temp(const void *data, size_t len)
{
	static int counter;
	char *path = malloc(64);
	FILE *f;

	snprintf(path, 64, "/tmp/xeno-test-boot-%d-%d", (int)getpid(), counter++);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static void test_bzimage_parse(void **state)
{
	struct bzimage_info info;

	(void)state;
	make_bzimage();
	assert_int_equal(bzimage_parse(bz, sizeof(bz), &info), 0);
	assert_int_equal(info.payload_offset, 5 * 512);
	assert_int_equal(info.payload_size, BZ_PAYLOAD);
	assert_int_equal(info.cmdline_size, 2047);

	hdr()->version = 0x020b; /* too old for the 64-bit entry */
	assert_int_equal(bzimage_parse(bz, sizeof(bz), &info), -ENOEXEC);
	make_bzimage();
	hdr()->xloadflags = 0; /* a 32-bit kernel */
	assert_int_equal(bzimage_parse(bz, sizeof(bz), &info), -ENOEXEC);
	make_bzimage();
	hdr()->header = 0;
	assert_int_equal(bzimage_parse(bz, sizeof(bz), &info), -ENOEXEC);
	make_bzimage();
	hdr()->setup_sects = 200; /* payload beyond the end of the file */
	assert_int_equal(bzimage_parse(bz, sizeof(bz), &info), -ENOEXEC);
	make_bzimage();
	assert_int_equal(bzimage_parse(bz, 0x200, &info), -ENOEXEC);
	assert_int_equal(bzimage_parse(bz, 0, &info), -ENOEXEC);
}

static void test_bzimage_load(void **state)
{
	struct guest_mem mem;
	struct boot_entry entry;
	struct boot_params *bp;
	uint8_t initrd[10000];
	char *kpath, *ipath;
	struct boot_linux_args args;
	uint64_t initrd_gpa;

	(void)state;
	make_bzimage();
	memset(initrd, 0x5a, sizeof(initrd));
	kpath = write_temp(bz, sizeof(bz));
	ipath = write_temp(initrd, sizeof(initrd));
	assert_int_equal(guest_mem_init(&mem, MiB(64)), 0);
	args = (struct boot_linux_args){ kpath, ipath, "console=ttyS0 quiet", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), 0);

	assert_int_equal(entry.mode, BOOT_MODE_LONG64);
	assert_int_equal(entry.entry_gpa, MiB(1) + 0x200);
	assert_int_equal(entry.info_gpa, LAYOUT_ZERO_PAGE_GPA);
	assert_memory_equal(guest_mem_ptr(&mem, MiB(1), BZ_PAYLOAD), bz + 5 * 512, BZ_PAYLOAD);

	bp = guest_mem_ptr(&mem, LAYOUT_ZERO_PAGE_GPA, sizeof(*bp));
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE_GPA);
	assert_string_equal(guest_mem_ptr(&mem, LAYOUT_CMDLINE_GPA, 1), "console=ttyS0 quiet");
	assert_int_equal(bp->acpi_rsdp_addr, LAYOUT_ACPI_GPA);
	assert_int_equal(bp->e820_entries, 4);
	assert_int_equal(bp->e820_table[3].addr + bp->e820_table[3].size, MiB(64));
	initrd_gpa = bp->hdr.ramdisk_image;
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(initrd_gpa % 4096, 0);
	assert_true(initrd_gpa + sizeof(initrd) <= MiB(64));
	assert_true(initrd_gpa >= 0x1000000 + 0x800000); /* above the decompressor's room */
	assert_memory_equal(guest_mem_ptr(&mem, initrd_gpa, sizeof(initrd)), initrd,
	                    sizeof(initrd));
	guest_mem_fini(&mem);
	unlink(kpath);
	unlink(ipath);
	free(kpath);
	free(ipath);
}

static void test_bzimage_errors(void **state)
{
	struct guest_mem mem;
	struct boot_entry entry;
	static uint8_t big_initrd[MiB(8)];
	static char long_cmdline[3000];
	char *kpath, *ipath;
	struct boot_linux_args args;

	(void)state;
	make_bzimage();
	kpath = write_temp(bz, sizeof(bz));
	ipath = write_temp(big_initrd, sizeof(big_initrd));

	/* 16 MiB cannot hold a kernel that decompresses at 16 MiB + 8 MiB. */
	assert_int_equal(guest_mem_init(&mem, MiB(16)), 0);
	args = (struct boot_linux_args){ kpath, NULL, "", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "raise --memory"));
	guest_mem_fini(&mem);

	/* An initrd larger than the room left above the kernel. */
	assert_int_equal(guest_mem_init(&mem, MiB(30)), 0);
	args = (struct boot_linux_args){ kpath, ipath, "", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "does not fit in guest memory"));

	/* A command line longer than the kernel's cmdline_size. */
	memset(long_cmdline, 'a', sizeof(long_cmdline) - 1);
	args = (struct boot_linux_args){ kpath, NULL, long_cmdline, LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "command line"));

	/* Missing files and a directory. */
	args = (struct boot_linux_args){ "/nonexistent/vmlinuz", NULL, "", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/vmlinuz"));
	args = (struct boot_linux_args){ "/tmp", NULL, "", LAYOUT_ACPI_GPA };
	assert_true(boot_linux_load(&mem, &args, &entry, err, sizeof(err)) < 0);
	args = (struct boot_linux_args){ kpath, "/nonexistent/initrd", "", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "initrd"));
	guest_mem_fini(&mem);

	/* Not a kernel at all. */
	unlink(kpath);
	free(kpath);
	kpath = write_temp("garbage, not a kernel", 21);
	assert_int_equal(guest_mem_init(&mem, MiB(64)), 0);
	args = (struct boot_linux_args){ kpath, NULL, "", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "neither a 64-bit bzImage"));
	guest_mem_fini(&mem);
	unlink(kpath);
	unlink(ipath);
	free(kpath);
	free(ipath);
}

/* A minimal vmlinux: one PT_LOAD at 16 MiB and one PT_NOTE with Xen's PHYS32_ENTRY. */
struct fake_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint64_t entry;
	uint8_t code[256];
};

static void make_elf(struct fake_elf *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_phoff = offsetof(struct fake_elf, ph);
	e->eh.e_phentsize = sizeof(Elf64_Phdr);
	e->eh.e_phnum = 2;
	e->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
		                 .p_offset = offsetof(struct fake_elf, code),
		                 .p_paddr = MiB(16),
		                 .p_filesz = sizeof(e->code),
		                 .p_memsz = MiB(2) };
	e->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
		                 .p_offset = offsetof(struct fake_elf, nh),
		                 .p_filesz = sizeof(Elf64_Nhdr) + 4 + 8 };
	e->nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 8, .n_type = 18 };
	memcpy(e->name, "Xen", 4);
	e->entry = MiB(16) + 0x40;
	for (size_t i = 0; i < sizeof(e->code); i++)
		e->code[i] = (uint8_t)(0x90 + i);
}

static void test_pvh_parse(void **state)
{
	struct fake_elf e;
	struct pvh_info info;

	(void)state;
	make_elf(&e);
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), 0);
	assert_int_equal(info.entry_gpa, MiB(16) + 0x40);
	assert_int_equal(info.load_end_gpa, MiB(18));

	e.nh.n_type = 17; /* some other Xen note: no PVH entry */
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
	make_elf(&e);
	e.nh.n_namesz = 0xfffffff0; /* note name running off the segment */
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
	make_elf(&e);
	e.eh.e_phoff = 0xffffffffffffff00ULL;
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
	make_elf(&e);
	e.ph[0].p_filesz = 0x100000; /* segment beyond the end of the file */
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
	make_elf(&e);
	e.ph[0].p_paddr = UINT64_MAX - 10; /* address wraps */
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
	make_elf(&e);
	e.eh.e_machine = EM_386;
	assert_int_equal(pvh_parse((uint8_t *)&e, sizeof(e), &info), -ENOEXEC);
}

static void test_pvh_load(void **state)
{
	struct fake_elf e;
	struct guest_mem mem;
	struct boot_entry entry;
	struct boot_linux_args args;
	uint8_t initrd[5000];
	uint32_t *si;
	char *kpath, *ipath;

	(void)state;
	make_elf(&e);
	memset(initrd, 0x33, sizeof(initrd));
	kpath = write_temp(&e, sizeof(e));
	ipath = write_temp(initrd, sizeof(initrd));
	assert_int_equal(guest_mem_init(&mem, MiB(32)), 0);
	args = (struct boot_linux_args){ kpath, ipath, "root=/dev/vda", LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), 0);
	assert_int_equal(entry.mode, BOOT_MODE_PVH32);
	assert_int_equal(entry.entry_gpa, MiB(16) + 0x40);
	assert_memory_equal(guest_mem_ptr(&mem, MiB(16), sizeof(e.code)), e.code, sizeof(e.code));
	si = guest_mem_ptr(&mem, entry.info_gpa, 56);
	assert_int_equal(si[0], 0x336ec578); /* magic */
	assert_int_equal(si[1], 1);          /* version */
	assert_int_equal(si[3], 1);          /* one module: the initrd */
	guest_mem_fini(&mem);

	/* The kernel's segment does not fit in 16 MiB of RAM. */
	assert_int_equal(guest_mem_init(&mem, MiB(16)), 0);
	assert_int_equal(boot_linux_load(&mem, &args, &entry, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "outside guest memory"));
	guest_mem_fini(&mem);
	unlink(kpath);
	unlink(ipath);
	free(kpath);
	free(ipath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_parse),  cmocka_unit_test(test_bzimage_load),
		cmocka_unit_test(test_bzimage_errors), cmocka_unit_test(test_pvh_parse),
		cmocka_unit_test(test_pvh_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
