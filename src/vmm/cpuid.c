// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPUID filtering, per the Intel SDM vol. 2A "CPUID" (leaves 1, 4, 0xb, 0x1f) and AMD APM
 * vol. 3 appendix E (0x80000001, 0x80000008, 0x8000001e).  Topology matters: Linux derives
 * its CPU and core numbering from these leaves, and a mismatch with the MADT gives a kernel
 * that refuses or mis-numbers secondary CPUs.
 */
#include "vmm/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_TSC_DEADLINE  (1u << 24)
#define CPUID_1_ECX_HYPERVISOR    (1u << 31)
#define CPUID_1_EDX_HTT           (1u << 28)
#define CPUID_80000001_ECX_CMPLEG (1u << 1)
#define TOPO_LEVEL_SMT            1
#define TOPO_LEVEL_CORE           2

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void cpuid_host_caps_probe(int kvm_fd, struct cpuid_host_caps *ret)
{
	ret->tsc_deadline_timer =
	        ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
}

unsigned int cpuid_id_bits(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned int apic_id, unsigned int nr_vcpus)
{
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | 0;
		break;
	case 1: /* core level: every vCPU a core of one package */
		e->eax = cpuid_id_bits(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = (TOPO_LEVEL_CORE << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
	e->edx = apic_id;
}

void cpuid_filter(struct kvm_cpuid2 *cpuid, const struct cpuid_host_caps *caps,
                  unsigned int apic_id, unsigned int nr_vcpus)
{
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) |
			         ((nr_vcpus & 0xffu) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/*
			 * KVM emulates the TSC-deadline timer but leaves it out of the supported
			 * table (api.rst, KVM_GET_SUPPORTED_CPUID).  Without it Linux calibrates
			 * the LAPIC timer against the PIT, which fails under nested
			 * virtualization and leaves the guest on periodic PIT ticks.
			 */
			if (caps->tsc_deadline_timer)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			if (nr_vcpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4: /* deterministic cache parameters: cores per package - 1 in EAX[31:26] */
			e->eax = (e->eax & 0x03ffffffu) | (((nr_vcpus - 1) & 0x3fu) << 26);
			e->eax &= ~(0xfffu << 14); /* one thread shares each cache level */
			break;
		case 6: /* thermal and power management: not ours to offer */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(e, apic_id, nr_vcpus);
			break;
		case 0x80000001:
			if (nr_vcpus > 1)
				e->ecx |= CPUID_80000001_ECX_CMPLEG;
			else
				e->ecx &= ~CPUID_80000001_ECX_CMPLEG;
			break;
		case 0x80000008: /* AMD: NC = cores - 1, ApicIdCoreIdSize */
			e->ecx = (e->ecx & ~0xf0ffu) | ((nr_vcpus - 1) & 0xffu) |
			         (cpuid_id_bits(nr_vcpus) << 12);
			break;
		case 0x8000001e: /* AMD: extended APIC id, one thread per compute unit */
			e->eax = apic_id;
			e->ebx = apic_id & 0xffu;
			e->ecx = 0;
			break;
		default:
			break;
		}
	}
}
