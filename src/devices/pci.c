// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI configuration space and BAR decoding (PCI Local Bus 3.0 §6).  BAR 0 of each device is
 * a 32-bit, non-prefetchable memory BAR placed at start-up like firmware would; the guest may
 * size it (write all ones, read the mask back) and move it, and it decodes only while the
 * command register's memory-space bit is set.
 */
#include "devices/pci.h"
#include "vmm/layout.h"

#include <errno.h>
#include <string.h>

#define PCI_VENDOR_ID       0x00
#define PCI_DEVICE_ID       0x02
#define PCI_COMMAND         0x04
#define PCI_STATUS          0x06
#define PCI_REVISION        0x08
#define PCI_CLASS_PROG      0x09
#define PCI_HEADER_TYPE     0x0e
#define PCI_BAR0            0x10
#define PCI_SUBSYS_VENDOR   0x2c
#define PCI_SUBSYS_ID       0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE  0x3c

#define PCI_COMMAND_MEMORY       (1u << 1)
#define PCI_COMMAND_MASTER       (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_COMMAND_WRITABLE     (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
#define PCI_STATUS_CAP_LIST      (1u << 4)

#define CONFIG_ENABLE (1u << 31)

static void put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	cfg[off] = (uint8_t)v;
	cfg[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *cfg, unsigned int off, uint32_t v)
{
	put16(cfg, off, (uint16_t)v);
	put16(cfg, off + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *cfg, unsigned int off)
{
	return (uint32_t)cfg[off] | (uint32_t)cfg[off + 1] << 8 | (uint32_t)cfg[off + 2] << 16 |
	       (uint32_t)cfg[off + 3] << 24;
}

static void header(struct pci_dev *pdev, uint16_t vendor, uint16_t device, uint32_t class_code,
                   uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(pdev->cfg, 0, sizeof(pdev->cfg));
	put16(pdev->cfg, PCI_VENDOR_ID, vendor);
	put16(pdev->cfg, PCI_DEVICE_ID, device);
	pdev->cfg[PCI_REVISION] = 1;
	pdev->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	put16(pdev->cfg, PCI_CLASS_PROG + 1, (uint16_t)(class_code >> 8));
	put16(pdev->cfg, PCI_SUBSYS_VENDOR, subsys_vendor);
	put16(pdev->cfg, PCI_SUBSYS_ID, subsys_id);
	pdev->cfg[PCI_INTERRUPT_LINE] = 0xff; /* no INTx: MSI-X only */
}

void pci_bus_init(struct pci_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio_next = LAYOUT_PCI_MMIO_GPA;
	/* Red Hat's generic host bridge ids: no quirk in Linux keys on them. */
	header(&bus->host_bridge, 0x1b36, 0x0008, 0x060000, 0x1af4, 0x1100);
	bus->slots[0] = &bus->host_bridge;
}

void pci_bus_fini(struct pci_bus *bus)
{
	pthread_mutex_destroy(&bus->lock);
}

int pci_dev_init(struct pci_bus *bus, struct pci_dev *pdev, const struct pci_dev_ops *ops,
                 void *opaque, uint16_t vendor, uint16_t device, uint32_t class_code,
                 uint16_t subsys_vendor, uint16_t subsys_id, uint32_t bar0_size)
{
	uint64_t gpa = (bus->mmio_next + bar0_size - 1) & ~((uint64_t)bar0_size - 1);

	if (bar0_size < 4096 || (bar0_size & (bar0_size - 1)) ||
	    gpa + bar0_size > LAYOUT_PCI_MMIO_GPA + LAYOUT_PCI_MMIO_SIZE)
		return -ENOSPC;
	memset(pdev, 0, sizeof(*pdev));
	pdev->ops = ops;
	pdev->opaque = opaque;
	pdev->bar0_size = bar0_size;
	header(pdev, vendor, device, class_code, subsys_vendor, subsys_id);
	put32(pdev->cfg, PCI_BAR0, (uint32_t)gpa);
	/* Firmware leaves devices decoding their BARs; Linux keeps that assignment. */
	put16(pdev->cfg, PCI_COMMAND, PCI_COMMAND_MEMORY);
	pdev->bar0_decoding_gpa = gpa;
	bus->mmio_next = gpa + bar0_size;
	return 0;
}

uint8_t pci_add_cap(struct pci_dev *pdev, const uint8_t *data, uint8_t len, const uint8_t *writable)
{
	unsigned int off = pdev->cap_next_free ? pdev->cap_next_free : PCI_CAP_OFFSET;

	off = (off + 3) & ~3u; /* capabilities are dword aligned */
	if (len < 2 || off + len > PCI_CFG_SPACE_SIZE)
		return 0;
	memcpy(pdev->cfg + off, data, len);
	pdev->cfg[off + 1] = 0; /* end of list */
	if (writable)
		memcpy(pdev->cap_writable + off, writable, len);
	if (pdev->cap_last)
		pdev->cfg[pdev->cap_last + 1] = (uint8_t)off;
	else
		pdev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	put16(pdev->cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
	pdev->cap_last = (uint8_t)off;
	pdev->cap_next_free = (uint16_t)(off + len);
	return (uint8_t)off;
}

int pci_bus_add(struct pci_bus *bus, struct pci_dev *pdev)
{
	for (uint8_t slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		if (!bus->slots[slot]) {
			pdev->slot = slot;
			bus->slots[slot] = pdev;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The address BAR 0 should decode at now, or 0. */
static uint64_t bar0_target(const struct pci_dev *pdev)
{
	uint32_t bar = get32(pdev->cfg, PCI_BAR0) & ~0xfu;

	if (!(get32(pdev->cfg, PCI_COMMAND) & PCI_COMMAND_MEMORY) || pdev->bar0_size == 0)
		return 0;
	/* A BAR left at the sizing pattern, or outside the window, decodes nothing. */
	if (bar < LAYOUT_PCI_MMIO_GPA ||
	    (uint64_t)bar + pdev->bar0_size > LAYOUT_PCI_MMIO_GPA + LAYOUT_PCI_MMIO_SIZE)
		return 0;
	return bar;
}

/* Called with the bus lock held after a write that may move BAR 0. */
static void update_bar0(struct pci_dev *pdev)
{
	uint64_t target = bar0_target(pdev), old = pdev->bar0_decoding_gpa;

	if (target == old)
		return;
	pdev->bar0_decoding_gpa = target;
	if (pdev->ops && pdev->ops->bar0_moved)
		pdev->ops->bar0_moved(pdev, old, target);
}

static void write_header_byte(struct pci_dev *pdev, unsigned int off, uint8_t v)
{
	if (off >= PCI_COMMAND && off < PCI_COMMAND + 2) {
		uint16_t mask = (uint16_t)(PCI_COMMAND_WRITABLE >> (8 * (off - PCI_COMMAND)));

		pdev->cfg[off] = (uint8_t)((pdev->cfg[off] & ~mask) | (v & mask));
	} else if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 && pdev->bar0_size) {
		/* Low bits below the BAR's size read back as zero: that is how sizing works. */
		uint32_t size_mask = ~(pdev->bar0_size - 1);
		uint8_t mask = (uint8_t)(size_mask >> (8 * (off - PCI_BAR0)));

		pdev->cfg[off] = v & mask;
	} else if (off == PCI_INTERRUPT_LINE) {
		pdev->cfg[off] = v;
	}
	/* Everything else in the header (ids, class, other BARs, ROM) is read-only or absent. */
}

static void config_write(struct pci_dev *pdev, unsigned int reg, const uint8_t *data,
                         unsigned int len)
{
	bool in_caps = false;

	for (unsigned int i = 0; i < len; i++) {
		unsigned int off = reg + i;

		if (off < PCI_CAP_OFFSET) {
			write_header_byte(pdev, off, data[i]);
		} else {
			uint8_t mask = pdev->cap_writable[off];

			pdev->cfg[off] = (uint8_t)((pdev->cfg[off] & ~mask) | (data[i] & mask));
			in_caps = true;
		}
	}
	if (reg < PCI_CAP_OFFSET)
		update_bar0(pdev);
	if (in_caps && pdev->ops && pdev->ops->cap_write)
		pdev->ops->cap_write(pdev, reg, len);
}

int pci_dev_load_config(struct pci_bus *bus, struct pci_dev *pdev,
                        const uint8_t cfg[PCI_CFG_SPACE_SIZE])
{
	/* Vendor, device, revision and class must be the ones this function has. */
	if (memcmp(cfg, pdev->cfg, 4) != 0 || memcmp(cfg + 8, pdev->cfg + 8, 4) != 0)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	for (unsigned int off = 0; off < PCI_CAP_OFFSET; off++)
		write_header_byte(pdev, off, cfg[off]);
	for (unsigned int off = PCI_CAP_OFFSET; off < PCI_CFG_SPACE_SIZE; off++) {
		uint8_t mask = pdev->cap_writable[off];

		pdev->cfg[off] = (uint8_t)((pdev->cfg[off] & ~mask) | (cfg[off] & mask));
	}
	update_bar0(pdev);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

static struct pci_dev *addressed_device(struct pci_bus *bus, unsigned int *ret_reg)
{
	uint32_t a = bus->config_address;
	unsigned int busno = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

	if (!(a & CONFIG_ENABLE) || busno != 0 || fn != 0)
		return NULL;
	*ret_reg = a & 0xfc;
	return bus->slots[slot];
}

static void config_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pci_bus *bus = opaque;
	struct pci_dev *pdev;
	unsigned int reg = 0;
	uint8_t *out = data;

	pthread_mutex_lock(&bus->lock);
	if (offset < 4) {
		for (unsigned int i = 0; i < size; i++)
			out[i] = offset + i < 4
			                 ? (uint8_t)(bus->config_address >> (8 * (offset + i)))
			                 : 0xff;
	} else {
		pdev = addressed_device(bus, &reg);
		for (unsigned int i = 0; i < size; i++) {
			unsigned int off = reg + (unsigned int)(offset - 4) + i;

			out[i] = pdev && off < PCI_CFG_SPACE_SIZE ? pdev->cfg[off] : 0xff;
		}
	}
	pthread_mutex_unlock(&bus->lock);
}

static void config_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pci_bus *bus = opaque;
	const uint8_t *in = data;
	struct pci_dev *pdev;
	unsigned int reg = 0;

	pthread_mutex_lock(&bus->lock);
	if (offset == 0 && size == 4) {
		bus->config_address = get32(in, 0);
	} else if (offset >= 4) {
		pdev = addressed_device(bus, &reg);
		reg += (unsigned int)(offset - 4);
		if (pdev && pdev != &bus->host_bridge && reg + size <= PCI_CFG_SPACE_SIZE)
			config_write(pdev, reg, in, size);
	}
	/* Byte and word writes to 0xcf8-0xcfb are not configuration cycles: ignored. */
	pthread_mutex_unlock(&bus->lock);
}

/* The device whose BAR 0 decodes gpa, with the offset into it; bus lock held. */
static struct pci_dev *decode(struct pci_bus *bus, uint64_t gpa, unsigned int size,
                              uint64_t *ret_off)
{
	for (unsigned int slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		struct pci_dev *pdev = bus->slots[slot];

		if (pdev && pdev->bar0_decoding_gpa && gpa >= pdev->bar0_decoding_gpa &&
		    gpa + size <= pdev->bar0_decoding_gpa + pdev->bar0_size) {
			*ret_off = gpa - pdev->bar0_decoding_gpa;
			return pdev;
		}
	}
	return NULL;
}

static void mmio_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pci_bus *bus = opaque;
	struct pci_dev *pdev;
	uint64_t off = 0;

	pthread_mutex_lock(&bus->lock);
	pdev = decode(bus, LAYOUT_PCI_MMIO_GPA + offset, size, &off);
	pthread_mutex_unlock(&bus->lock);
	/*
	 * The device handler runs without the bus lock (it has its own); a BAR moving at the
	 * same moment is a guest race whose result is either address, both harmless.
	 */
	if (pdev && pdev->ops->bar0.read)
		pdev->ops->bar0.read(pdev->opaque, off, data, size);
	else
		memset(data, 0xff, size);
}

static void mmio_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pci_bus *bus = opaque;
	struct pci_dev *pdev;
	uint64_t off = 0;

	pthread_mutex_lock(&bus->lock);
	pdev = decode(bus, LAYOUT_PCI_MMIO_GPA + offset, size, &off);
	pthread_mutex_unlock(&bus->lock);
	if (pdev && pdev->ops->bar0.write)
		pdev->ops->bar0.write(pdev->opaque, off, data, size);
}

const struct io_ops pci_config_ops = { .name = "pci-config",
	                               .read = config_read,
	                               .write = config_io_write };
const struct io_ops pci_mmio_ops = { .name = "pci-mmio", .read = mmio_read, .write = mmio_write };
