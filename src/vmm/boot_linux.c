// SPDX-License-Identifier: GPL-2.0-only
/*
 * Linux boot: bzImage (boot protocol >= 2.12, 64-bit entry at load address + 0x200) and PVH
 * (ELF note XEN_ELFNOTE_PHYS32_ENTRY, start info per xen/include/public/arch-x86/hvm/start_info.h).
 * The kernel file is mapped read-only and copied into guest RAM; the initrd is read straight
 * into guest RAM.  Nothing here trusts a size or offset from a file without checking it.
 */
#include "vmm/boot_linux.h"
#include "vmm/e820.h"
#include "vmm/layout.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SETUP_HEADER_OFFSET 0x1f1
#define HDRS_MAGIC          0x53726448 /* "HdrS" */
#define BOOT_FLAG           0xaa55
#define XLF_KERNEL_64_FLAG  (1 << 0)
#define LOADER_TYPE_UNKNOWN 0xff
#define ENTRY_64_OFFSET     0x200

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC      0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return r;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *ret)
{
	struct setup_header hdr;
	uint64_t setup_sects;

	if (len < SETUP_HEADER_OFFSET + sizeof(hdr))
		return -ENOEXEC;
	memcpy(&hdr, buf + SETUP_HEADER_OFFSET, sizeof(hdr));
	if (hdr.header != HDRS_MAGIC || hdr.boot_flag != BOOT_FLAG)
		return -ENOEXEC;
	/* 2.12 brought xloadflags, which says whether the 64-bit entry exists. */
	if (hdr.version < 0x020c || !(hdr.xloadflags & XLF_KERNEL_64_FLAG))
		return -ENOEXEC;
	if (!(hdr.loadflags & LOADED_HIGH))
		return -ENOEXEC;
	setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
	ret->payload_offset = (setup_sects + 1) * 512;
	if (ret->payload_offset >= len)
		return -ENOEXEC;
	ret->version = hdr.version;
	ret->payload_size = len - ret->payload_offset;
	ret->pref_address = hdr.pref_address;
	ret->init_size = hdr.init_size;
	ret->initrd_addr_max = hdr.initrd_addr_max;
	ret->cmdline_size = hdr.cmdline_size;
	return 0;
}

/* Walks one PT_NOTE segment looking for Xen's PHYS32_ENTRY; 0 and *ret_entry if found. */
static int find_pvh_note(const uint8_t *notes, uint64_t size, uint64_t *ret_entry)
{
	uint64_t off = 0;

	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, notes + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
		next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
		if (next > size || next <= off)
			return -ENOEXEC;
		if (nh.n_namesz == 4 && memcmp(notes + name_off, "Xen", 4) == 0 &&
		    nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (nh.n_descsz == 4) {
				uint32_t e32;

				memcpy(&e32, notes + desc_off, 4);
				*ret_entry = e32;
			} else if (nh.n_descsz == 8) {
				memcpy(ret_entry, notes + desc_off, 8);
			} else {
				return -ENOEXEC;
			}
			return 0;
		}
		off = next;
	}
	return -ENOENT;
}

static int elf_phdr(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh, unsigned int i,
                    Elf64_Phdr *ret)
{
	uint64_t off = eh->e_phoff + (uint64_t)i * sizeof(Elf64_Phdr);

	if (eh->e_phoff > len || off > len - sizeof(Elf64_Phdr))
		return -ENOEXEC;
	memcpy(ret, buf + off, sizeof(*ret));
	return 0;
}

int pvh_parse(const uint8_t *buf, size_t len, struct pvh_info *ret)
{
	bool have_entry = false;
	uint64_t entry = 0, load_end = 0;
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
		return -ENOEXEC;

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (elf_phdr(buf, len, &eh, i, &ph) < 0)
			return -ENOEXEC;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return -ENOEXEC;
		if (ph.p_type == PT_NOTE && !have_entry) {
			if (find_pvh_note(buf + ph.p_offset, ph.p_filesz, &entry) == 0)
				have_entry = true;
		} else if (ph.p_type == PT_LOAD) {
			if (ph.p_filesz > ph.p_memsz || ph.p_paddr + ph.p_memsz < ph.p_paddr)
				return -ENOEXEC;
			if (ph.p_paddr + ph.p_memsz > load_end)
				load_end = ph.p_paddr + ph.p_memsz;
		}
	}
	if (!have_entry || load_end == 0)
		return -ENOEXEC;
	ret->entry_gpa = entry;
	ret->load_end_gpa = load_end;
	return 0;
}

/* The file, mapped read-only for parsing and copying. */
struct mapped_file {
	void *map;
	const uint8_t *data;
	size_t size;
};

static int map_file(const char *path, struct mapped_file *ret)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		int r = S_ISDIR(st.st_mode) ? -EISDIR : -ENOEXEC;

		close(fd);
		return r;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	ret->map = p;
	ret->data = p;
	ret->size = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->map)
		munmap(f->map, f->size);
	f->map = NULL;
	f->data = NULL;
}

/* Reads the initrd as high as possible below max_end and above min_start. */
static int load_initrd(const struct guest_mem *mem, const char *path, uint64_t min_start,
                       uint64_t max_end, uint64_t *ret_gpa, uint64_t *ret_size, char *errbuf,
                       size_t errlen)
{
	struct stat st;
	uint64_t gpa, size, done = 0;
	uint8_t *dst;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errbuf, errlen, -errno, "initrd '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = fail(errbuf, errlen, -EINVAL, "initrd '%s': not a regular file", path);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (size > max_end || ((max_end - size) & ~0xfffULL) < min_start) {
		r = fail(errbuf, errlen, -E2BIG,
		         "initrd '%s' (%llu MiB) does not fit in guest memory next to the kernel "
		         "(room for %llu MiB); raise --memory",
		         path, (unsigned long long)(size >> 20),
		         (unsigned long long)(max_end > min_start ? (max_end - min_start) >> 20
		                                                  : 0));
		goto out;
	}
	gpa = (max_end - size) & ~0xfffULL;
	dst = guest_mem_ptr(mem, gpa, size);
	if (!dst) {
		r = fail(errbuf, errlen, -EFAULT, "initrd '%s': no RAM at its address", path);
		goto out;
	}
	while (done < size) {
		ssize_t n = pread(fd, dst + done, size - done, (off_t)done);

		if (n <= 0) {
			r = fail(errbuf, errlen, n < 0 ? -errno : -EIO, "initrd '%s': read failed",
			         path);
			goto out;
		}
		done += (uint64_t)n;
	}
	*ret_gpa = gpa;
	*ret_size = size;
out:
	close(fd);
	return r;
}

static int write_cmdline(const struct guest_mem *mem, const char *cmdline, uint64_t max_len,
                         char *errbuf, size_t errlen)
{
	size_t len = strlen(cmdline);

	if (len > max_len || len >= LAYOUT_CMDLINE_MAX)
		return fail(errbuf, errlen, -E2BIG,
		            "command line is %zu bytes; this kernel accepts %llu", len,
		            (unsigned long long)max_len);
	return guest_mem_write(mem, LAYOUT_CMDLINE_GPA, cmdline, len + 1);
}

static uint64_t initrd_ceiling(const struct guest_mem *mem, uint64_t addr_max_inclusive)
{
	uint64_t end = guest_mem_low_end(mem);

	if (addr_max_inclusive && addr_max_inclusive + 1 < end)
		end = addr_max_inclusive + 1;
	return end;
}

static int load_bzimage(const struct guest_mem *mem, const struct boot_linux_args *args,
                        const struct mapped_file *k, const struct bzimage_info *info,
                        struct boot_entry *ret_entry, char *errbuf, size_t errlen)
{
	struct boot_params bp;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t kernel_end, initrd_gpa = 0, initrd_size = 0;
	size_t n;
	int r;

	kernel_end = LAYOUT_HIGH_MEM_GPA + info->payload_size;
	/* The decompressor runs at pref_address (or above) and needs init_size bytes there. */
	if (info->pref_address + info->init_size > kernel_end)
		kernel_end = info->pref_address + info->init_size;
	if (kernel_end > guest_mem_low_end(mem))
		return fail(
		        errbuf, errlen, -E2BIG,
		        "kernel '%s' needs %llu MiB of guest memory to decompress; raise --memory",
		        args->kernel_path, (unsigned long long)((kernel_end + MiB(1) - 1) >> 20));
	r = guest_mem_write(mem, LAYOUT_HIGH_MEM_GPA, k->data + info->payload_offset,
	                    info->payload_size);
	if (r < 0)
		return fail(errbuf, errlen, r, "kernel '%s' does not fit in guest memory",
		            args->kernel_path);

	r = write_cmdline(mem, args->cmdline, info->cmdline_size, errbuf, errlen);
	if (r < 0)
		return r;
	if (args->initrd_path) {
		r = load_initrd(mem, args->initrd_path, kernel_end,
		                initrd_ceiling(mem, info->initrd_addr_max), &initrd_gpa,
		                &initrd_size, errbuf, errlen);
		if (r < 0)
			return r;
	}

	memset(&bp, 0, sizeof(bp));
	memcpy(&bp.hdr, k->data + SETUP_HEADER_OFFSET, sizeof(bp.hdr));
	bp.hdr.type_of_loader = LOADER_TYPE_UNKNOWN;
	bp.hdr.loadflags |= CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = 0xfe00;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE_GPA;
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp.ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	bp.acpi_rsdp_addr = args->rsdp_gpa; /* read by kernels speaking protocol 2.14+ */
	n = e820_build(mem, map);
	for (size_t i = 0; i < n; i++) {
		bp.e820_table[i].addr = map[i].addr;
		bp.e820_table[i].size = map[i].size;
		bp.e820_table[i].type = map[i].type;
	}
	bp.e820_entries = (uint8_t)n;
	r = guest_mem_write(mem, LAYOUT_ZERO_PAGE_GPA, &bp, sizeof(bp));
	if (r < 0)
		return fail(errbuf, errlen, r, "cannot write boot_params");

	*ret_entry = (struct boot_entry){
		.mode = BOOT_MODE_LONG64,
		.entry_gpa = LAYOUT_HIGH_MEM_GPA + ENTRY_64_OFFSET,
		.info_gpa = LAYOUT_ZERO_PAGE_GPA,
	};
	return 0;
}

static int copy_pt_loads(const struct guest_mem *mem, const struct mapped_file *k, const char *path,
                         char *errbuf, size_t errlen)
{
	Elf64_Ehdr eh;

	memcpy(&eh, k->data, sizeof(eh));
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		if (elf_phdr(k->data, k->size, &eh, i, &ph) < 0)
			return fail(errbuf, errlen, -ENOEXEC, "kernel '%s': bad program header",
			            path);
		if (ph.p_type != PT_LOAD)
			continue;
		/* Fresh anonymous memory is already zero, so only p_filesz bytes are copied. */
		dst = guest_mem_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return fail(errbuf, errlen, -E2BIG,
			            "kernel '%s' segment at %#llx (+%llu MiB) is outside guest "
			            "memory; raise --memory",
			            path, (unsigned long long)ph.p_paddr,
			            (unsigned long long)(ph.p_memsz >> 20));
		memcpy(dst, k->data + ph.p_offset, ph.p_filesz);
	}
	return 0;
}

static int load_pvh(const struct guest_mem *mem, const struct boot_linux_args *args,
                    const struct mapped_file *k, const struct pvh_info *info,
                    struct boot_entry *ret_entry, char *errbuf, size_t errlen)
{
	struct {
		struct hvm_start_info si;
		struct hvm_modlist_entry mod;
		struct hvm_memmap_table_entry map[E820_MAX_ENTRIES];
	} pvh;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t initrd_gpa = 0, initrd_size = 0;
	size_t n;
	int r;

	r = copy_pt_loads(mem, k, args->kernel_path, errbuf, errlen);
	if (r < 0)
		return r;
	r = write_cmdline(mem, args->cmdline, LAYOUT_CMDLINE_MAX - 1, errbuf, errlen);
	if (r < 0)
		return r;
	if (args->initrd_path) {
		r = load_initrd(mem, args->initrd_path, info->load_end_gpa, guest_mem_low_end(mem),
		                &initrd_gpa, &initrd_size, errbuf, errlen);
		if (r < 0)
			return r;
	}

	memset(&pvh, 0, sizeof(pvh));
	n = e820_build(mem, map);
	for (size_t i = 0; i < n; i++)
		pvh.map[i] =
		        (struct hvm_memmap_table_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	pvh.si = (struct hvm_start_info){
		.magic = XEN_HVM_START_MAGIC,
		.version = 1,
		.nr_modules = args->initrd_path ? 1 : 0,
		.modlist_paddr = LAYOUT_PVH_INFO_GPA + offsetof(__typeof__(pvh), mod),
		.cmdline_paddr = LAYOUT_CMDLINE_GPA,
		.rsdp_paddr = args->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_INFO_GPA + offsetof(__typeof__(pvh), map),
		.memmap_entries = (uint32_t)n,
	};
	pvh.mod = (struct hvm_modlist_entry){ .paddr = initrd_gpa, .size = initrd_size };
	r = guest_mem_write(mem, LAYOUT_PVH_INFO_GPA, &pvh, sizeof(pvh));
	if (r < 0)
		return fail(errbuf, errlen, r, "cannot write the PVH start info");

	*ret_entry = (struct boot_entry){
		.mode = BOOT_MODE_PVH32,
		.entry_gpa = info->entry_gpa,
		.info_gpa = LAYOUT_PVH_INFO_GPA,
	};
	return 0;
}

int boot_linux_load(const struct guest_mem *mem, const struct boot_linux_args *args,
                    struct boot_entry *ret_entry, char *errbuf, size_t errlen)
{
	struct mapped_file k = { 0 };
	struct bzimage_info bz;
	struct pvh_info pvh;
	int r;

	r = map_file(args->kernel_path, &k);
	if (r == -ENOEXEC)
		return fail(errbuf, errlen, r, "kernel '%s': empty or not a regular file",
		            args->kernel_path);
	if (r < 0)
		return fail(errbuf, errlen, r, "kernel '%s': %s", args->kernel_path, strerror(-r));

	if (bzimage_parse(k.data, k.size, &bz) == 0)
		r = load_bzimage(mem, args, &k, &bz, ret_entry, errbuf, errlen);
	else if (pvh_parse(k.data, k.size, &pvh) == 0)
		r = load_pvh(mem, args, &k, &pvh, ret_entry, errbuf, errlen);
	else
		r = fail(errbuf, errlen, -ENOEXEC,
		         "kernel '%s': neither a 64-bit bzImage (boot protocol 2.12+) nor an ELF "
		         "vmlinux with a PVH entry note",
		         args->kernel_path);
	unmap_file(&k);
	return r;
}
