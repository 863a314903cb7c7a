/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtio-pci transport (virtio 1.2 §4.1, "modern" only): a PCI function whose BAR 0 holds
 * the common configuration, ISR, device configuration, notification area and MSI-X table.
 * It runs one I/O thread per device, on which every call into the device model happens
 * (activate, queue_notify, fd_ready, reset); vCPU threads only touch registers.
 */
#ifndef XENO_DEVICES_VIRTIO_PCI_H
#define XENO_DEVICES_VIRTIO_PCI_H

#include "devices/msi.h"
#include "devices/pci.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtq.h"
#include "vmm/guest_mem.h"

struct virtio_pci;

/* What the transport needs from the VM. */
struct virtio_pci_host {
	int vm_fd;
	const struct guest_mem *mem;
	struct pci_bus *bus;
	struct msi_routes *msi;
};

/*
 * Wraps dev (taking ownership) in a PCI function, plugs it into the bus and starts its I/O
 * thread.  name is used in log lines ("virtio-blk0").  Returns 0 or -errno.
 */
int virtio_pci_new(const struct virtio_pci_host *host, struct virtio_dev *dev, const char *name,
                   struct virtio_pci **ret) __attribute__((warn_unused_result));

/* Stops the I/O thread and frees the transport and its device. */
void virtio_pci_free(struct virtio_pci *vp);

/* The device model behind the transport, and its name ("virtio-blk0"), for statistics. */
struct virtio_dev *virtio_pci_device(struct virtio_pci *vp);
const char *virtio_pci_name(const struct virtio_pci *vp);

/* --- save files (issue 7) ---------------------------------------------------------------- */

struct virtio_pci_saved_queue {
	uint16_t size, vector, enable, last_avail_idx;
	uint64_t desc, driver, device;
	uint16_t used_idx, signalled_used;
	uint8_t signalled_used_valid, reserved[3];
};

struct virtio_pci_saved_vector {
	uint32_t addr_lo, addr_hi, data, ctrl, pending, reserved;
};

/* Everything the driver can observe of one function, and the device model's own state. */
struct virtio_pci_saved {
	uint32_t device_id, num_queues;
	uint64_t offered, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status, config_generation, isr, reserved;
	uint16_t queue_select, config_vector;
	uint32_t nr_vectors, dev_state_len;
	struct virtio_pci_saved_queue q[VIRTIO_MAX_QUEUES];
	struct virtio_pci_saved_vector vec[VIRTIO_MAX_QUEUES + 1];
	uint8_t pci_cfg[PCI_CFG_SPACE_SIZE];
	uint8_t dev_state[VIRTIO_DEV_STATE_MAX];
};

/*
 * Freezes the function (its I/O thread stops touching guest memory and queues) and takes
 * its state; chains a device holds unfinished are left in the ring, to be taken again.
 * The vCPUs must be paused.  virtio_pci_thaw() lets a frozen function go on (a checkpoint,
 * or a save that failed).
 */
void virtio_pci_freeze(struct virtio_pci *vp, struct virtio_pci_saved *ret);
void virtio_pci_thaw(struct virtio_pci *vp);

/*
 * Loads saved into a function built for the same device (before the vCPUs start): its
 * registers, MSI-X table and configuration space, then its queues and device model as the
 * driver left them.  0, or -EINVAL with a message in err.
 */
int virtio_pci_load(struct virtio_pci *vp, const struct virtio_pci_saved *saved, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Queue q's rings and its MSI-X vector, for diagnosing a stall (control socket `stats`). */
struct virtio_pci_queue_state {
	struct virtq_snapshot ring;
	uint16_t vector;   /* VIRTIO_MSI_NO_VECTOR (0xffff) when none */
	bool msix_enabled; /* function-wide MSI-X enable, not masked */
	bool masked;       /* the vector's mask bit */
	bool pending;      /* an interrupt waits for the unmask */
};

/* Fills st for queue q; returns false when q is not one of the device's queues. */
bool virtio_pci_queue_state(struct virtio_pci *vp, unsigned int q,
                            struct virtio_pci_queue_state *st);

#endif
