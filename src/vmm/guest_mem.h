/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest RAM: one anonymous mapping, populated lazily by the host kernel, seen by the guest as
 * one or two ranges (below the 32-bit MMIO hole and above 4 GiB).  guest_mem_ptr() is the only
 * code that turns a guest-physical address into a host pointer: every access a guest can
 * influence goes through its bounds check.  Callable from any thread; the mapping does not
 * change while the VM runs.
 */
#ifndef XENO_VMM_GUEST_MEM_H
#define XENO_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_mem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* host-virtual start */
};

struct guest_mem {
	uint8_t *base; /* the whole mapping; NULL before init */
	uint64_t size; /* bytes of guest RAM */
	unsigned int nr_regions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Reserves size bytes (a multiple of 4 KiB) of lazily populated RAM.  Returns 0 or -errno. */
int guest_mem_init(struct guest_mem *mem, uint64_t size) __attribute__((warn_unused_result));
void guest_mem_fini(struct guest_mem *mem);

/* Lays out regions for size bytes without mapping anything (used by init and by tests). */
void guest_mem_layout(struct guest_mem *mem, uint64_t size);

/*
 * Host pointer to [gpa, gpa+len), or NULL if the range is not entirely inside one RAM region
 * (overflow included).  len 0 is allowed and checks gpa alone.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into guest memory; -EFAULT if the range is not RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/* End of RAM below the MMIO hole (exclusive). */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

/* Bytes of guest RAM the host has actually populated (mincore). */
uint64_t guest_mem_resident_bytes(const struct guest_mem *mem);

#endif
