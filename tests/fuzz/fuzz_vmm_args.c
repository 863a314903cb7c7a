// SPDX-License-Identifier: GPL-2.0-only
/* Fuzzes xeno-vmm's argument parser with NUL-separated argument lists. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[64], err[256];
	struct vm_config cfg;
	int argc = 1;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	argv[0] = "xeno-vmm";
	for (size_t i = 0; i <= size && argc < 63; i++) {
		if (i == 0 || copy[i - 1] == 0)
			argv[argc++] = copy + i;
	}
	argv[argc] = NULL;
	if (vm_config_parse(argc, argv, &cfg, err, sizeof(err)) == VM_CONFIG_RUN &&
	    ((!cfg.kernel_path && !cfg.restore_path) || cfg.vcpus == 0 ||
	     cfg.vcpus > VM_VCPUS_MAX || cfg.mem_mib < VM_MEM_MIB_MIN ||
	     cfg.mem_mib > VM_MEM_MIB_MAX))
		__builtin_trap();
	free(copy);
	return 0;
}
