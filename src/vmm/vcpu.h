/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One vCPU: its KVM fd, its shared kvm_run page and its thread, which runs KVM_RUN and
 * dispatches the exits to the buses.  A vCPU thread never exits the process: a guest
 * failure becomes a stop request with a crash reason.
 */
#ifndef XENO_VMM_VCPU_H
#define XENO_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int index; /* also its APIC id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	int tid; /* the thread's id, once it runs (atomic: read by the control thread) */
};

/* Creates vCPU index with its CPUID; the boot vCPU (index 0) also gets the boot registers. */
int vcpu_init(struct vcpu *vcpu, struct vm *vm, unsigned int index)
        __attribute__((warn_unused_result));
void vcpu_fini(struct vcpu *vcpu);

/* Installs the signal used to kick vCPUs out of KVM_RUN; once per process. */
int vcpu_install_kick_signal(void) __attribute__((warn_unused_result));

int vcpu_start(struct vcpu *vcpu) __attribute__((warn_unused_result));
/* Makes the vCPU leave KVM_RUN soon and look at the run-control flags. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

/*
 * Whether the vCPU thread is on a host CPU or waiting for one (*ret_running; not when it
 * sleeps: halted in KVM as an idle guest is, parked by a pause, or not started: xm list's
 * r and b flags), and the host
 * CPU it last ran on (*ret_cpu; -1 if unknown), from /proc.  Returns 0 or -errno (-ESRCH:
 * the thread has not started).
 */
int vcpu_sched_state(const struct vcpu *vcpu, bool *ret_running, int *ret_cpu);

/* Sets / reads the host CPUs the vCPU thread may run on.  0 or -errno. */
int vcpu_pin(struct vcpu *vcpu, const cpu_set_t *cpus);
int vcpu_affinity(const struct vcpu *vcpu, cpu_set_t *ret);

/* CPU time the vCPU thread has used, in nanoseconds (0 if it never started). */
uint64_t vcpu_cpu_time_ns(const struct vcpu *vcpu);

#endif
