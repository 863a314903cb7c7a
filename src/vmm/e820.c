// SPDX-License-Identifier: GPL-2.0-only
/*
 * Builds the guest's e820 map from the RAM regions.  The first MiB follows the PC layout that
 * Linux expects: usable RAM to 0x9fc00, the EBDA, the VGA hole, and the BIOS area
 * 0xe0000-0xfffff reserved, which is where the kernel scans for the ACPI RSDP.
 */
#include "vmm/e820.h"
#include "vmm/layout.h"

size_t e820_build(const struct guest_mem *mem, struct e820_entry out[E820_MAX_ENTRIES])
{
	size_t n = 0;

	out[n++] = (struct e820_entry){ 0, LAYOUT_EBDA_GPA, E820_TYPE_RAM };
	out[n++] = (struct e820_entry){ LAYOUT_EBDA_GPA, LAYOUT_LOW_RAM_END - LAYOUT_EBDA_GPA,
		                        E820_TYPE_RESERVED };
	out[n++] = (struct e820_entry){ LAYOUT_BIOS_GPA, LAYOUT_HIGH_MEM_GPA - LAYOUT_BIOS_GPA,
		                        E820_TYPE_RESERVED };
	out[n++] =
	        (struct e820_entry){ LAYOUT_HIGH_MEM_GPA,
		                     guest_mem_low_end(mem) - LAYOUT_HIGH_MEM_GPA, E820_TYPE_RAM };
	for (unsigned int i = 1; i < mem->nr_regions; i++)
		out[n++] = (struct e820_entry){ mem->regions[i].gpa, mem->regions[i].size,
			                        E820_TYPE_RAM };
	return n;
}
