/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PCI bus 0: configuration mechanism #1 (ports 0xcf8/0xcfc), a host bridge at 00:00.0, and
 * up to 31 single-function endpoint devices.  The bus owns each device's standard header
 * (command, BARs with sizing and relocation, capability list pointer); a device supplies its
 * BAR handlers and a hook for writes to its capabilities.  Config and BAR accesses arrive on
 * vCPU threads; the bus lock serialises them with BAR moves.
 */
#ifndef XENO_DEVICES_PCI_H
#define XENO_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

#define PCI_MAX_SLOTS      32
#define PCI_CFG_SPACE_SIZE 256
#define PCI_CAP_OFFSET     0x40 /* first capability; the header ends at 0x40 */

struct pci_dev;

struct pci_dev_ops {
	/* Memory BAR 0 accesses (offset within the BAR). */
	struct io_ops bar0;
	/* A config write at or above PCI_CAP_OFFSET, after the bus stored it. */
	void (*cap_write)(struct pci_dev *pdev, uint32_t offset, uint32_t len);
	/* BAR 0 decodes at a new address (or stopped decoding: gpa 0). */
	void (*bar0_moved)(struct pci_dev *pdev, uint64_t old_gpa, uint64_t new_gpa);
};

struct pci_dev {
	const struct pci_dev_ops *ops;
	void *opaque;
	uint8_t slot;
	uint32_t bar0_size;                       /* power of two, >= 4 KiB */
	uint8_t cfg[PCI_CFG_SPACE_SIZE];          /* protected by the bus lock */
	uint8_t cap_writable[PCI_CFG_SPACE_SIZE]; /* write masks for the capability area */
	uint64_t bar0_decoding_gpa;               /* 0 when not decoding */
	uint16_t cap_next_free;                   /* where pci_add_cap puts the next one */
	uint8_t cap_last;                         /* the last capability, 0 if none */
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t config_address; /* the 0xcf8 register */
	struct pci_dev host_bridge;
	struct pci_dev *slots[PCI_MAX_SLOTS];
	uint64_t mmio_next; /* BAR allocator within the PCI MMIO window */
};

void pci_bus_init(struct pci_bus *bus);
void pci_bus_fini(struct pci_bus *bus);

/*
 * Fills pdev's header (ids, class) and places BAR 0 in the MMIO window; the caller then adds
 * capabilities with pci_add_cap() and plugs it with pci_bus_add().  Returns 0 or -ENOSPC.
 */
int pci_dev_init(struct pci_bus *bus, struct pci_dev *pdev, const struct pci_dev_ops *ops,
                 void *opaque, uint16_t vendor, uint16_t device, uint32_t class_code,
                 uint16_t subsys_vendor, uint16_t subsys_id, uint32_t bar0_size)
        __attribute__((warn_unused_result));

/*
 * Appends a capability of len bytes (data[0] is its id; the next pointer is filled in) and
 * returns its config-space offset, or 0 if it does not fit.  writable is a per-byte write
 * mask for the guest (NULL: read-only).
 */
uint8_t pci_add_cap(struct pci_dev *pdev, const uint8_t *data, uint8_t len,
                    const uint8_t *writable);

/* Plugs pdev into the next free slot.  Returns 0 or -ENOSPC. */
int pci_bus_add(struct pci_bus *bus, struct pci_dev *pdev) __attribute__((warn_unused_result));

/*
 * A saved function's configuration space (issue 7): copies cfg in, keeping the ids and the
 * read-only bits this VMM built (the file must describe the same device), then decodes
 * BAR 0 where the guest had put it.  Returns 0, or -EINVAL for another device.
 */
int pci_dev_load_config(struct pci_bus *bus, struct pci_dev *pdev,
                        const uint8_t cfg[PCI_CFG_SPACE_SIZE]) __attribute__((warn_unused_result));

/* Register these on the port bus at PORT_PCI_CONFIG (8 ports) and the MMIO bus window. */
extern const struct io_ops pci_config_ops;
extern const struct io_ops pci_mmio_ops;

#endif
