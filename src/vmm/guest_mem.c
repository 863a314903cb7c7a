// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM.  MAP_NORESERVE keeps a large, mostly idle guest from counting against the host's
 * overcommit limit; pages cost host memory only once the guest touches them.
 */
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guest_mem_layout(struct guest_mem *mem, uint64_t size)
{
	uint64_t low = size < LAYOUT_MMIO_HOLE_GPA ? size : LAYOUT_MMIO_HOLE_GPA;

	mem->size = size;
	mem->nr_regions = 1;
	mem->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .hva = mem->base };
	if (size > low) {
		mem->nr_regions = 2;
		mem->regions[1] = (struct guest_mem_region){
			.gpa = LAYOUT_MMIO_HOLE_END,
			.size = size - low,
			.hva = mem->base ? mem->base + low : NULL,
		};
	}
}

int guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	void *p;

	*mem = (struct guest_mem){ 0 };
	if (size == 0 || size % 4096)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	         -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/*
	 * No MADV_HUGEPAGE: one touched byte would cost 2 MiB of host memory, and a domain
	 * should cost what it uses.
	 */
	/* Guest RAM must not leak into a core dump of the VMM. */
	(void)madvise(p, size, MADV_DONTDUMP);
	mem->base = p;
	guest_mem_layout(mem, size);
	return 0;
}

void guest_mem_fini(struct guest_mem *mem)
{
	if (mem && mem->base) {
		munmap(mem->base, mem->size);
		mem->base = NULL;
	}
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		if (gpa < r->gpa)
			continue;
		if (gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva ? r->hva + (gpa - r->gpa) : NULL;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->regions[0].size;
}

uint64_t guest_mem_resident_bytes(const struct guest_mem *mem)
{
	const size_t page = 4096, chunk_pages = 1 << 16;
	unsigned char *vec;
	uint64_t resident = 0;

	if (!mem->base)
		return 0;
	vec = malloc(chunk_pages);
	if (!vec)
		return 0;
	for (uint64_t off = 0; off < mem->size; off += (uint64_t)chunk_pages * page) {
		uint64_t len = mem->size - off;

		if (len > (uint64_t)chunk_pages * page)
			len = (uint64_t)chunk_pages * page;
		if (mincore(mem->base + off, len, vec) < 0)
			break;
		for (uint64_t i = 0; i < len / page; i++)
			resident += vec[i] & 1;
	}
	free(vec);
	return resident * page;
}
