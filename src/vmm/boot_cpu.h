/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The boot processor's state at the kernel's first instruction: the GDT and identity page
 * tables in guest memory, and the registers for either 64-bit long mode (bzImage) or 32-bit
 * flat protected mode (PVH).  Secondary vCPUs keep KVM's reset state: they wait for the
 * guest's INIT/SIPI.  Runs on the vCPU's own thread before its first KVM_RUN.
 */
#ifndef XENO_VMM_BOOT_CPU_H
#define XENO_VMM_BOOT_CPU_H

#include <linux/kvm.h>

#include "vmm/boot_linux.h"
#include "vmm/guest_mem.h"

/* Writes the GDT and page tables.  Returns 0 or -EFAULT. */
int boot_cpu_write_tables(const struct guest_mem *mem) __attribute__((warn_unused_result));

/* Fills sregs (starting from KVM's values) and regs for entry. */
void boot_cpu_registers(const struct boot_entry *entry, struct kvm_sregs *sregs,
                        struct kvm_regs *regs);

/* Sets up the boot vCPU's registers and FPU through its fd.  Returns 0 or -errno. */
int boot_cpu_setup(int vcpu_fd, const struct boot_entry *entry) __attribute__((warn_unused_result));

/*
 * MSRs every vCPU starts with: MTRRs enabled with write-back as the default type, as firmware
 * leaves them (without it Linux finds MTRRs disabled and skips PAT set-up).
 */
int boot_cpu_setup_msrs(int vcpu_fd) __attribute__((warn_unused_result));

/* Programs LINT0 as ExtINT and LINT1 as NMI, the PC wiring of the local APIC (all vCPUs). */
int boot_cpu_setup_lapic(int vcpu_fd) __attribute__((warn_unused_result));

#endif
