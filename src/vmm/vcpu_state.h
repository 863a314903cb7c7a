/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A vCPU's architectural state as KVM holds it, to and from save file sections: registers,
 * segments and control registers, XSAVE (FPU, SSE, AVX...), XCR0, debug registers, the local
 * APIC, pending events, the run state and every MSR KVM saves (TSC and kvmclock among them).
 * The vCPU must not be running (its thread parked or not started).
 */
#ifndef XENO_VMM_VCPU_STATE_H
#define XENO_VMM_VCPU_STATE_H

#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct savefile;
struct savefile_writer;

/* The MSRs KVM can save, once per VM (KVM_GET_MSR_INDEX_LIST).  0 or -errno. */
int vcpu_state_msr_list(int kvm_fd, uint32_t **ret_list, unsigned int *ret_n)
        __attribute__((warn_unused_result));

/* Bytes of KVM's XSAVE area on this host (KVM_CAP_XSAVE2, at least 4 KiB). */
uint32_t vcpu_state_xsave_size(int vm_fd);

/* Adds vcpu's sections to w.  0, or -errno with a message in err. */
int vcpu_state_save(struct vcpu *vcpu, const uint32_t *msrs, unsigned int nr_msrs,
                    uint32_t xsave_size, struct savefile_writer *w, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Loads vcpu's sections from sf into KVM.  0, or -errno with a message in err. */
int vcpu_state_load(struct vcpu *vcpu, const struct savefile *sf, uint32_t xsave_size, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

#endif
