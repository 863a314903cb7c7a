/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CPUID a vCPU sees: what KVM supports on this host, with the topology of an N-vCPU
 * machine (one socket, N cores, one thread each) and the hypervisor bit, and KVM's paravirt
 * leaves left in place so kvmclock works.
 */
#ifndef XENO_VMM_CPUID_H
#define XENO_VMM_CPUID_H

#include <linux/kvm.h>

#define CPUID_MAX_ENTRIES 256

/* KVM_GET_SUPPORTED_CPUID into a new table; free() it.  Returns 0 or -errno. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret) __attribute__((warn_unused_result));

#include <stdbool.h>

/* What the host's KVM emulates beyond what KVM_GET_SUPPORTED_CPUID lists. */
struct cpuid_host_caps {
	bool tsc_deadline_timer; /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/* Reads the capabilities above from /dev/kvm. */
void cpuid_host_caps_probe(int kvm_fd, struct cpuid_host_caps *ret);

/* Rewrites a copy of the supported table for vCPU apic_id of nr_vcpus.  Pure. */
void cpuid_filter(struct kvm_cpuid2 *cpuid, const struct cpuid_host_caps *caps,
                  unsigned int apic_id, unsigned int nr_vcpus);

/* Number of bits needed to hold ids 0..n-1. */
unsigned int cpuid_id_bits(unsigned int n);

#endif
