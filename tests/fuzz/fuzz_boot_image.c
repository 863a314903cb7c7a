// SPDX-License-Identifier: GPL-2.0-only
/* Fuzzes the kernel-file parsers: whatever the bytes, they accept or refuse, never overrun. */
#include <stddef.h>
#include <stdint.h>

#include "vmm/boot_linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info bz;
	struct pvh_info pvh;

	if (bzimage_parse(data, size, &bz) == 0 &&
	    (bz.payload_offset >= size || bz.payload_offset + bz.payload_size != size))
		__builtin_trap();
	(void)pvh_parse(data, size, &pvh);
	return 0;
}
