/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One domain: the KVM VM, its memory, devices and vCPUs, and the run control that pauses,
 * resumes and stops them.  vm_setup() runs the stage table on the main thread; vCPU threads
 * only call vm_request_stop() and the parking functions in vcpu.c.
 */
#ifndef XENO_VMM_VM_H
#define XENO_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/acpi_pm.h"
#include "devices/msi.h"
#include "devices/pci.h"
#include "devices/device.h"
#include "devices/serial.h"
#include "vmm/boot_linux.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/cpuid.h"
#include "vmm/guest_mem.h"

struct vcpu;
struct virtio_pci;
struct virtio_pci_saved;
struct savefile;

#define VM_MAX_VIRTIO (VM_MAX_DISKS + VM_MAX_NETS + 2)

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct kvm_cpuid2 *cpuid; /* as KVM supports it; each vCPU filters its own copy */
	struct cpuid_host_caps cpuid_caps;
	struct boot_entry entry;
	struct bus pio;
	struct bus mmio;
	struct serial *serial;
	struct acpi_pm *pm;
	struct pci_bus pci;
	struct msi_routes *msi;
	unsigned int nr_virtio;
	struct virtio_pci *virtio[VM_MAX_VIRTIO]; /* disks, then NICs, the rng, the balloon */
	struct virtio_dev *balloon;               /* NULL without --balloon */
	struct vm_stopper stopper;
	struct serial_host serial_host; /* where the UART's output goes; set before vm_setup() */
	size_t kvm_run_size;
	unsigned int nr_vcpus;
	struct vcpu *vcpus;
	unsigned int stages_done; /* how far vm_setup() got; vm_teardown() undoes that much */
	uint64_t start_ns;        /* CLOCK_MONOTONIC when the vCPUs started */

	/* Save and restore (snapshot.c). */
	struct savefile *restore;  /* the file being restored from, during vm_setup() */
	uint64_t restore_start_ms; /* when the restore began */
	uint64_t *file_pages;      /* bit per RAM page mapped from that file, or NULL */
	bool frozen;               /* a save froze the devices; vm_resume() thaws them */
	struct virtio_pci_saved *frozen_state; /* what the freeze recorded, per device */

	/* Run control. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pause_requested; /* protected by lock */
	bool stopping;        /* protected by lock; also read racily as a hint */
	unsigned int parked;  /* vCPUs waiting in vcpu_park(); protected by lock */
	int stop_reason;      /* enum vm_stop_reason; first writer wins (atomic) */
	int stop_efd;         /* eventfd: the main loop learns of stop requests */
};

/* Builds the whole VM from cfg.  Returns 0, or a negative errno after logging why. */
int vm_setup(struct vm *vm, const struct vm_config *cfg) __attribute__((warn_unused_result));
/* Undoes vm_setup(), however far it got; the vCPU threads must have been joined. */
void vm_teardown(struct vm *vm);

/* Starts every vCPU thread; with paused, they wait for vm_resume() before any guest code. */
int vm_start(struct vm *vm, bool paused) __attribute__((warn_unused_result));
/* Stops and joins every vCPU thread (idempotent). */
void vm_stop_vcpus(struct vm *vm);

/* Pauses all vCPUs and returns once none runs guest code; resume undoes it.  Main thread. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* Asks the main loop to end the domain with reason; the first request wins.  Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);

#endif
