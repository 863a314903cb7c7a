// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot CPU state, per the Linux x86 boot protocol ("64-bit boot protocol": flat __BOOT_CS
 * 0x10 and __BOOT_DS 0x18, paging on with an identity map, RSI = boot_params) and the PVH
 * boot ABI (xen/include/public/arch-x86/hvm/start_info.h: 32-bit flat segments, paging off,
 * TR a 32-bit TSS, EBX = start info).
 */
#include "vmm/boot_cpu.h"
#include "vmm/layout.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#define SEL_CODE64  0x10
#define SEL_DATA    0x18
#define SEL_CODE32  0x20
#define SEL_TSS     0x28
#define GDT_ENTRIES 6

#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_NE   (1ULL << 5)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_PRESENT (1ULL << 0)
#define PTE_RW      (1ULL << 1)
#define PTE_PS      (1ULL << 7)

static const uint64_t gdt[GDT_ENTRIES] = {
	0,
	0,
	[SEL_CODE64 >> 3] = 0x00af9b000000ffffULL, /* 64-bit code, DPL 0 */
	[SEL_DATA >> 3] = 0x00cf93000000ffffULL,   /* flat read/write data */
	[SEL_CODE32 >> 3] = 0x00cf9b000000ffffULL, /* flat 32-bit code */
	[SEL_TSS >> 3] = 0x00008b0000000067ULL,    /* busy 32-bit TSS at 0, limit 0x67 */
};

int boot_cpu_write_tables(const struct guest_mem *mem)
{
	uint64_t pml4 = LAYOUT_PDPT_GPA | PTE_PRESENT | PTE_RW;
	uint64_t pdpt[4];
	uint64_t *pd;
	int r;

	r = guest_mem_write(mem, LAYOUT_GDT_GPA, gdt, sizeof(gdt));
	if (r < 0)
		return r;
	r = guest_mem_write(mem, LAYOUT_PML4_GPA, &pml4, sizeof(pml4));
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD_GPA + 4096 * i) | PTE_PRESENT | PTE_RW;
	r = guest_mem_write(mem, LAYOUT_PDPT_GPA, pdpt, sizeof(pdpt));
	if (r < 0)
		return r;
	/* Four page directories of 512 2-MiB pages: an identity map of the first 4 GiB. */
	pd = guest_mem_ptr(mem, LAYOUT_PD_GPA, 4 * 4096);
	if (!pd)
		return -EFAULT;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
	return 0;
}

static struct kvm_segment segment(uint16_t selector)
{
	uint64_t d = gdt[selector >> 3];
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = (uint8_t)((d >> 40) & 0xf),
		.present = (uint8_t)((d >> 47) & 1),
		.dpl = (uint8_t)((d >> 45) & 3),
		.db = (uint8_t)((d >> 54) & 1),
		.s = (uint8_t)((d >> 44) & 1),
		.l = (uint8_t)((d >> 53) & 1),
		.g = (uint8_t)((d >> 55) & 1),
	};

	if (selector == SEL_TSS) {
		s.limit = 0x67;
		s.g = 0;
	}
	return s;
}

void boot_cpu_registers(const struct boot_entry *entry, struct kvm_sregs *sregs,
                        struct kvm_regs *regs)
{
	struct kvm_segment data = segment(SEL_DATA);

	sregs->gdt.base = LAYOUT_GDT_GPA;
	sregs->gdt.limit = sizeof(gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment(SEL_TSS);

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2; /* reserved bit 1; interrupts off */
	regs->rip = entry->entry_gpa;

	if (entry->mode == BOOT_MODE_LONG64) {
		sregs->cs = segment(SEL_CODE64);
		sregs->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
		sregs->cr3 = LAYOUT_PML4_GPA;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
		regs->rsi = entry->info_gpa;
		regs->rsp = regs->rbp = LAYOUT_BOOT_STACK_GPA;
	} else {
		sregs->cs = segment(SEL_CODE32);
		sregs->cr0 = CR0_PE | CR0_ET | CR0_NE;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
		regs->rbx = entry->info_gpa;
	}
}

int boot_cpu_setup(int vcpu_fd, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	boot_cpu_registers(entry, &sregs, &regs);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

#define MSR_MTRR_DEF_TYPE    0x2ff
#define MTRR_DEF_TYPE_ENABLE (1ULL << 11)
#define MTRR_TYPE_WRITE_BACK 6

int boot_cpu_setup_msrs(int vcpu_fd)
{
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs = { .hdr = { .nmsrs = 1 } };
	int r;

	msrs.hdr.entries[0] = (struct kvm_msr_entry){
		.index = MSR_MTRR_DEF_TYPE,
		.data = MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRITE_BACK,
	};
	r = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return -errno;
	return r == 1 ? 0 : -EINVAL;
}

#define APIC_LVT0        0x350
#define APIC_LVT1        0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI    0x4

static void set_lvt_mode(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, lapic->regs + reg, 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(lapic->regs + reg, &v, 4);
}

int boot_cpu_setup_lapic(int vcpu_fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	set_lvt_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	set_lvt_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}
