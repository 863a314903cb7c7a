// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-pci, modern transport (virtio 1.2 §4.1).
 *
 * Threads: register accesses arrive on vCPU threads and are handled under vp->lock.  Every
 * call into the device model runs on the device's own I/O thread: queue notifications arrive
 * there through ioeventfds, and the two state changes a driver makes (DRIVER_OK, reset) are
 * handed to it and waited for, so a device model never sees two threads at once.
 * Interrupts go out through irqfds (MSI-X only; there is no INTx pin).
 */
#include "devices/virtio/pci.h"
#include "common/evloop.h"
#include "common/errmsg.h"
#include "common/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* BAR 0 layout. */
#define BAR_COMMON            0x0000
#define BAR_ISR               0x1000
#define BAR_DEVICE            0x2000
#define BAR_NOTIFY            0x3000
#define BAR_MSIX_TABLE        0x4000
#define BAR_MSIX_PBA          0x5000
#define BAR_SIZE              0x8000
#define REGION_SIZE           0x1000
#define NOTIFY_MULTIPLIER     4
#define VIRTIO_PCI_DEVICE_FDS 4 /* fds a device model may have watched (net: one) */

/* Common configuration registers (§4.1.4.3). */
#define COMMON_DFSELECT      0x00
#define COMMON_DF            0x04
#define COMMON_GFSELECT      0x08
#define COMMON_GF            0x0c
#define COMMON_MSIX          0x10
#define COMMON_NUMQ          0x12
#define COMMON_STATUS        0x14
#define COMMON_CFGGENERATION 0x15
#define COMMON_Q_SELECT      0x16
#define COMMON_Q_SIZE        0x18
#define COMMON_Q_MSIX        0x1a
#define COMMON_Q_ENABLE      0x1c
#define COMMON_Q_NOFF        0x1e
#define COMMON_Q_DESCLO      0x20
#define COMMON_Q_DESCHI      0x24
#define COMMON_Q_AVAILLO     0x28
#define COMMON_Q_AVAILHI     0x2c
#define COMMON_Q_USEDLO      0x30
#define COMMON_Q_USEDHI      0x34
#define COMMON_SIZE          0x38

#define STATUS_ACKNOWLEDGE        1
#define STATUS_DRIVER             2
#define STATUS_DRIVER_OK          4
#define STATUS_FEATURES_OK        8
#define STATUS_DEVICE_NEEDS_RESET 64
#define STATUS_FAILED             128

#define NO_VECTOR  0xffff
#define ISR_QUEUE  1
#define ISR_CONFIG 2

/* PCI capabilities. */
#define PCI_CAP_ID_VENDOR         0x09
#define PCI_CAP_ID_MSIX           0x11
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define MSIX_CTRL_ENABLE          (1u << 15)
#define MSIX_CTRL_MASKALL         (1u << 14)
#define MSIX_ENTRY_MASKED         1u

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

#define MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

struct vp_queue {
	uint16_t size, vector, enable;
	uint64_t desc, driver, device;
	int notify_efd;
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
	unsigned int gsi;
	int efd;
	bool pending;
};

struct virtio_pci {
	struct virtio_dev *dev;
	struct virtio_pci_host host;
	struct pci_dev pdev;
	char name[32];
	uint8_t msix_cap; /* config-space offset of the MSI-X capability */

	pthread_mutex_t lock; /* the registers below */
	pthread_cond_t handoff_done;
	uint32_t dfselect, gfselect;
	uint64_t offered, driver_features;
	uint8_t status, config_generation, isr;
	uint16_t queue_select, config_vector;
	struct vp_queue q[VIRTIO_MAX_QUEUES];
	unsigned int nr_vectors;
	struct msix_entry vec[MAX_VECTORS];
	void (*handoff)(struct virtio_pci *vp); /* work for the I/O thread, NULL when done */

	/* I/O thread. */
	struct evloop *loop;
	pthread_t thread;
	bool thread_started;
	int ctl_efd;
	bool active; /* I/O thread only: queues are live */
	bool frozen; /* I/O thread only: a save holds the device still (issue 7) */
	int device_fds[VIRTIO_PCI_DEVICE_FDS]; /* I/O thread only: virtio_watch_fd()'s */
	unsigned int nr_device_fds;
	bool quit; /* protected by lock */
	/* Handed to the I/O thread with the work of a save or a restore. */
	struct virtio_pci_saved *saving;
	const struct virtio_pci_saved *restoring;
	struct log_ratelimit rl;
};

static struct log_ratelimit needs_reset_rl = LOG_RATELIMIT_INIT;

/* --- interrupts ------------------------------------------------------------------------- */

static bool msix_enabled_locked(const struct virtio_pci *vp)
{
	uint16_t ctrl =
	        (uint16_t)(vp->pdev.cfg[vp->msix_cap + 2] | vp->pdev.cfg[vp->msix_cap + 3] << 8);

	return (ctrl & MSIX_CTRL_ENABLE) && !(ctrl & MSIX_CTRL_MASKALL);
}

static void fire_vector_locked(struct virtio_pci *vp, uint16_t vector)
{
	struct msix_entry *e;

	if (vector >= vp->nr_vectors)
		return;
	e = &vp->vec[vector];
	if (!msix_enabled_locked(vp) || (e->ctrl & MSIX_ENTRY_MASKED)) {
		e->pending = true; /* delivered when unmasked (PCI 3.0 §6.8.2.9) */
		return;
	}
	msi_vector_fire(e->efd);
}

static void deliver_pending_locked(struct virtio_pci *vp)
{
	if (!msix_enabled_locked(vp))
		return;
	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		if (vp->vec[i].pending && !(vp->vec[i].ctrl & MSIX_ENTRY_MASKED)) {
			vp->vec[i].pending = false;
			msi_vector_fire(vp->vec[i].efd);
		}
	}
}

void virtio_notify_used(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_pci *vp = dev->transport;

	if (q >= dev->ops->num_queues || !virtq_should_notify(&dev->queues[q]))
		return;
	pthread_mutex_lock(&vp->lock);
	vp->isr |= ISR_QUEUE;
	fire_vector_locked(vp, vp->q[q].vector);
	pthread_mutex_unlock(&vp->lock);
}

static void config_interrupt_locked(struct virtio_pci *vp)
{
	vp->isr |= ISR_CONFIG;
	vp->config_generation++;
	fire_vector_locked(vp, vp->config_vector);
}

void virtio_set_needs_reset(struct virtio_dev *dev, const char *why)
{
	struct virtio_pci *vp = dev->transport;

	if (log_ratelimit_allow(&needs_reset_rl))
		log_warn("%s: %s; device needs reset", vp->name, why);
	/* On the I/O thread: stop processing until the driver resets the device. */
	vp->active = false;
	pthread_mutex_lock(&vp->lock);
	vp->status |= STATUS_DEVICE_NEEDS_RESET;
	config_interrupt_locked(vp);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_config_changed(struct virtio_dev *dev)
{
	struct virtio_pci *vp = dev->transport;

	pthread_mutex_lock(&vp->lock);
	config_interrupt_locked(vp);
	pthread_mutex_unlock(&vp->lock);
}

/* Makes the I/O thread look at a queue (again), as a guest's notification would. */
static void kick(int notify_efd)
{
	uint64_t one = 1;

	(void)!write(notify_efd, &one, sizeof(one));
}

void virtio_queue_kick(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_pci *vp = dev->transport;

	/* The notify eventfds live as long as the function: no lock needed. */
	if (q < dev->ops->num_queues)
		kick(vp->q[q].notify_efd);
}

/* --- the I/O thread ------------------------------------------------------------------------ */

static void on_queue_notify(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_pci *vp = opaque;
	uint64_t counter;

	(void)loop;
	(void)events;
	/* While frozen a notification is dropped: the thaw looks at every queue again. */
	if (read(fd, &counter, sizeof(counter)) != sizeof(counter) || !vp->active || vp->frozen)
		return;
	for (unsigned int q = 0; q < vp->dev->ops->num_queues; q++) {
		/* A queue the driver never enabled has no rings: nothing to look at. */
		if (vp->q[q].notify_efd == fd && vp->dev->queues[q].size &&
		    !vp->dev->queues[q].broken && vp->active) {
			struct virtq *vq = &vp->dev->queues[q];

			/* One queue's worth per round; the rest after the loop's other events. */
			vq->budget = vq->size;
			vq->over_budget = false;
			vp->dev->ops->queue_notify(vp->dev, q);
			if (vq->over_budget)
				kick(fd);
			return;
		}
	}
}

static void on_device_fd(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_pci *vp = opaque;

	(void)loop;
	(void)events;
	if (vp->active && !vp->frozen && vp->dev->ops->fd_ready)
		vp->dev->ops->fd_ready(vp->dev, fd);
}

int virtio_watch_fd(struct virtio_dev *dev, int fd)
{
	struct virtio_pci *vp = dev->transport;

	int r;

	/* Called on the I/O thread (from activate or fd_ready), which owns the loop. */
	if (vp->nr_device_fds == VIRTIO_PCI_DEVICE_FDS)
		return -ENOSPC;
	r = evloop_add(vp->loop, fd, EPOLLIN, on_device_fd, vp);
	if (r == 0)
		vp->device_fds[vp->nr_device_fds++] = fd;
	return r;
}

/* While frozen, the device's own fds (a TAP with frames waiting) must not wake the loop. */
static void watch_device_fds(struct virtio_pci *vp, uint32_t events)
{
	for (unsigned int i = 0; i < vp->nr_device_fds; i++) {
		int r = evloop_modify(vp->loop, vp->device_fds[i], events);

		if (r < 0)
			log_warn("%s: cannot %s fd %d: %s", vp->name,
			         events ? "watch" : "stop watching", vp->device_fds[i],
			         strerror(-r));
	}
}

static void on_control(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_pci *vp = opaque;
	void (*work)(struct virtio_pci * vp);
	uint64_t counter;

	(void)events;
	(void)!read(fd, &counter, sizeof(counter));
	pthread_mutex_lock(&vp->lock);
	work = vp->handoff;
	if (vp->quit)
		evloop_quit(loop);
	pthread_mutex_unlock(&vp->lock);
	if (!work)
		return;
	work(vp);
	pthread_mutex_lock(&vp->lock);
	vp->handoff = NULL;
	pthread_cond_broadcast(&vp->handoff_done);
	pthread_mutex_unlock(&vp->lock);
}

static void *io_thread(void *arg)
{
	struct virtio_pci *vp = arg;
	char name[16];

	snprintf(name, sizeof(name), "%.15s", vp->name);
	pthread_setname_np(pthread_self(), name);
	(void)evloop_run(vp->loop);
	return NULL;
}

/* Runs work on the I/O thread and waits for it; vp->lock held, released while waiting. */
static void handoff_locked(struct virtio_pci *vp, void (*work)(struct virtio_pci *vp))
{
	uint64_t one = 1;

	while (vp->handoff)
		pthread_cond_wait(&vp->handoff_done, &vp->lock);
	vp->handoff = work;
	(void)!write(vp->ctl_efd, &one, sizeof(one));
	while (vp->handoff == work)
		pthread_cond_wait(&vp->handoff_done, &vp->lock);
}

/* I/O thread: DRIVER_OK was set; bring the queues up and let the device start. */
static void do_activate(struct virtio_pci *vp)
{
	struct virtio_dev *dev = vp->dev;
	uint64_t features;
	struct vp_queue q[VIRTIO_MAX_QUEUES];
	int r = 0;

	pthread_mutex_lock(&vp->lock);
	features = vp->driver_features;
	memcpy(q, vp->q, sizeof(q));
	pthread_mutex_unlock(&vp->lock);

	dev->features = features;
	for (unsigned int i = 0; i < dev->ops->num_queues && r == 0; i++) {
		memset(&dev->queues[i], 0, sizeof(dev->queues[i]));
		if (!q[i].enable)
			continue;
		r = virtq_setup(&dev->queues[i], vp->host.mem, q[i].size, q[i].desc, q[i].driver,
		                q[i].device, features & VIRTIO_F_EVENT_IDX,
		                features & VIRTIO_F_INDIRECT_DESC);
		if (r == 0 && vp->restoring) {
			const struct virtio_pci_saved_queue *sq = &vp->restoring->q[i];

			dev->queues[i].last_avail_idx = sq->last_avail_idx;
			dev->queues[i].used_idx = sq->used_idx;
			dev->queues[i].signalled_used = sq->signalled_used;
			dev->queues[i].signalled_used_valid = sq->signalled_used_valid;
		}
	}
	vp->active = true;
	if (r < 0) {
		virtio_set_needs_reset(dev, "invalid queue set-up (size or ring addresses)");
		return;
	}
	r = dev->ops->activate ? dev->ops->activate(dev) : 0;
	if (r < 0) {
		virtio_set_needs_reset(dev, "device failed to activate");
		return;
	}
	/* Pick up anything queued before DRIVER_OK reached us. */
	for (unsigned int i = 0; i < dev->ops->num_queues && vp->active; i++)
		if (dev->queues[i].size && !dev->queues[i].broken)
			dev->ops->queue_notify(dev, i);
}

/* I/O thread: the driver wrote 0 to the status. */
static void do_reset(struct virtio_pci *vp)
{
	vp->active = false;
	if (vp->dev->ops->reset)
		vp->dev->ops->reset(vp->dev);
	memset(vp->dev->queues, 0, sizeof(vp->dev->queues));
	vp->dev->features = 0;
}

/* --- registers ------------------------------------------------------------------------------ */

static void reset_registers_locked(struct virtio_pci *vp)
{
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->isr = 0;
	vp->queue_select = 0;
	vp->config_vector = NO_VECTOR;
	vp->config_generation++;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		int efd = vp->q[i].notify_efd;

		vp->q[i] = (struct vp_queue){ .size = vp->dev->ops->queue_max_size,
			                      .vector = NO_VECTOR,
			                      .notify_efd = efd };
	}
}

static struct vp_queue *selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->dev->ops->num_queues ? &vp->q[vp->queue_select] : NULL;
}

static uint64_t common_read_locked(struct virtio_pci *vp, unsigned int reg)
{
	struct vp_queue *q = selected_queue(vp);

	switch (reg) {
	case COMMON_DFSELECT:
		return vp->dfselect;
	case COMMON_DF:
		return vp->dfselect < 2 ? (uint32_t)(vp->offered >> (32 * vp->dfselect)) : 0;
	case COMMON_GFSELECT:
		return vp->gfselect;
	case COMMON_GF:
		return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect))
		                        : 0;
	case COMMON_MSIX:
		return vp->config_vector;
	case COMMON_NUMQ:
		return vp->dev->ops->num_queues;
	case COMMON_STATUS:
		return vp->status;
	case COMMON_CFGGENERATION:
		return vp->config_generation;
	case COMMON_Q_SELECT:
		return vp->queue_select;
	case COMMON_Q_SIZE:
		return q ? q->size : 0;
	case COMMON_Q_MSIX:
		return q ? q->vector : NO_VECTOR;
	case COMMON_Q_ENABLE:
		return q ? q->enable : 0;
	case COMMON_Q_NOFF:
		return q ? vp->queue_select : 0;
	case COMMON_Q_DESCLO:
		return q ? (uint32_t)q->desc : 0;
	case COMMON_Q_DESCHI:
		return q ? (uint32_t)(q->desc >> 32) : 0;
	case COMMON_Q_AVAILLO:
		return q ? (uint32_t)q->driver : 0;
	case COMMON_Q_AVAILHI:
		return q ? (uint32_t)(q->driver >> 32) : 0;
	case COMMON_Q_USEDLO:
		return q ? (uint32_t)q->device : 0;
	case COMMON_Q_USEDHI:
		return q ? (uint32_t)(q->device >> 32) : 0;
	default:
		return 0;
	}
}

static void set_low(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ULL) | lo;
}

static void set_high(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)hi << 32);
}

static void write_status_locked(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status;

	if (v == 0) {
		handoff_locked(vp, do_reset);
		reset_registers_locked(vp);
		return;
	}
	if ((v & STATUS_FEATURES_OK) && !(old & STATUS_FEATURES_OK)) {
		/* §3.1.1: accept only a subset of what we offered, with VERSION_1 (modern only). */
		if ((vp->driver_features & ~vp->offered) ||
		    !(vp->driver_features & VIRTIO_F_VERSION_1))
			v &= (uint8_t)~STATUS_FEATURES_OK;
	}
	vp->status = (uint8_t)(v | (old & STATUS_DEVICE_NEEDS_RESET));
	if ((v & STATUS_DRIVER_OK) && !(old & STATUS_DRIVER_OK) && (v & STATUS_FEATURES_OK))
		handoff_locked(vp, do_activate);
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	/* §4.1.5.1.2: an unusable vector reads back as NO_VECTOR. */
	return v < vp->nr_vectors ? v : NO_VECTOR;
}

static void common_write_locked(struct virtio_pci *vp, unsigned int reg, uint32_t v)
{
	struct vp_queue *q = selected_queue(vp);
	/* §4.1.4.3.2: queue registers are not to change once the driver is running. */
	bool queue_writable = q && !(vp->status & STATUS_DRIVER_OK);

	switch (reg) {
	case COMMON_DFSELECT:
		vp->dfselect = v;
		break;
	case COMMON_GFSELECT:
		vp->gfselect = v;
		break;
	case COMMON_GF:
		if (vp->gfselect == 0)
			set_low(&vp->driver_features, v);
		else if (vp->gfselect == 1)
			set_high(&vp->driver_features, v);
		break;
	case COMMON_MSIX:
		vp->config_vector = checked_vector(vp, (uint16_t)v);
		break;
	case COMMON_STATUS:
		write_status_locked(vp, (uint8_t)v);
		break;
	case COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		break;
	case COMMON_Q_SIZE:
		if (queue_writable)
			q->size = (uint16_t)v; /* checked when the queue is set up */
		break;
	case COMMON_Q_MSIX:
		if (q)
			q->vector = checked_vector(vp, (uint16_t)v);
		break;
	case COMMON_Q_ENABLE:
		if (queue_writable)
			q->enable = v == 1;
		break;
	case COMMON_Q_DESCLO:
	case COMMON_Q_DESCHI:
	case COMMON_Q_AVAILLO:
	case COMMON_Q_AVAILHI:
	case COMMON_Q_USEDLO:
	case COMMON_Q_USEDHI:
		if (queue_writable) {
			uint64_t *addr = reg < COMMON_Q_AVAILLO  ? &q->desc
			                 : reg < COMMON_Q_USEDLO ? &q->driver
			                                         : &q->device;

			if (reg & 4)
				set_high(addr, v);
			else
				set_low(addr, v);
		}
		break;
	default:
		break; /* read-only or reserved */
	}
}

/* The register holding byte `off` of the common configuration: its start and width. */
static unsigned int common_register(unsigned int off, unsigned int *ret_width)
{
	if (off < COMMON_MSIX || off >= COMMON_Q_DESCLO) {
		*ret_width = 4;
		return off & ~3u;
	}
	if (off == COMMON_STATUS || off == COMMON_CFGGENERATION) {
		*ret_width = 1;
		return off;
	}
	*ret_width = 2;
	return off & ~1u;
}

static void common_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned int size,
                          bool is_write)
{
	/*
	 * Drivers access each field with its own width (§4.1.3.1).  Other accesses are split
	 * at register boundaries; a partial write is merged into the register's current value.
	 */
	for (unsigned int i = 0; i < size;) {
		unsigned int at = (unsigned int)off + i, width, base, n;
		uint64_t cur;

		if (at >= COMMON_SIZE) {
			if (!is_write)
				data[i] = 0;
			i++;
			continue;
		}
		base = common_register(at, &width);
		n = width - (at - base);
		if (n > size - i)
			n = size - i;
		cur = common_read_locked(vp, base);
		if (is_write) {
			for (unsigned int k = 0; k < n; k++) {
				unsigned int shift = 8 * (at - base + k);

				cur = (cur & ~(0xffULL << shift)) |
				      ((uint64_t)data[i + k] << shift);
			}
			common_write_locked(vp, base, (uint32_t)cur);
		} else {
			cur >>= 8 * (at - base);
			memcpy(data + i, &cur, n);
		}
		i += n;
	}
}

/* --- MSI-X table -------------------------------------------------------------------------- */

static void msix_table_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned int size,
                              bool is_write)
{
	for (unsigned int i = 0; i < size; i++) {
		uint64_t o = off + i;
		unsigned int n = (unsigned int)(o / 16), field = (unsigned int)(o % 16) / 4;
		unsigned int shift = 8 * (unsigned int)(o % 4);
		struct msix_entry *e;
		uint32_t *reg;

		if (n >= vp->nr_vectors) {
			if (!is_write)
				data[i] = 0;
			continue;
		}
		e = &vp->vec[n];
		reg = field == 0   ? &e->addr_lo
		      : field == 1 ? &e->addr_hi
		      : field == 2 ? &e->data
		                   : &e->ctrl;
		if (!is_write) {
			data[i] = (uint8_t)(*reg >> shift);
			continue;
		}
		*reg = (*reg & ~(0xffu << shift)) | ((uint32_t)data[i] << shift);
	}
	if (!is_write)
		return;
	/* Re-route every entry the access touched (a guest writes whole dwords in practice). */
	for (uint64_t n = off / 16; n <= (off + size - 1) / 16 && n < vp->nr_vectors; n++) {
		struct msix_entry *e = &vp->vec[n];

		if (msi_vector_route(vp->host.msi, e->gsi, (uint64_t)e->addr_hi << 32 | e->addr_lo,
		                     e->data) < 0)
			log_warn_ratelimited(&vp->rl, "%s: cannot route MSI-X vector %u", vp->name,
			                     (unsigned int)n);
	}
	deliver_pending_locked(vp);
}

static void msix_pba_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned int size)
{
	for (unsigned int i = 0; i < size; i++) {
		uint8_t byte = 0;

		for (unsigned int bit = 0; bit < 8; bit++) {
			uint64_t n = (off + i) * 8 + bit;

			if (n < vp->nr_vectors && vp->vec[n].pending)
				byte |= (uint8_t)(1u << bit);
		}
		data[i] = byte;
	}
}

/* --- BAR 0 dispatch --------------------------------------------------------------------------- */

static void bar_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned int size,
                       bool is_write)
{
	uint64_t region = off & ~(uint64_t)(REGION_SIZE - 1), in = off - region;
	const struct virtio_dev_ops *ops = vp->dev->ops;

	if (in + size > REGION_SIZE) { /* straddles two regions: no such register */
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	switch (region) {
	case BAR_COMMON:
		common_access(vp, in, data, size, is_write);
		break;
	case BAR_ISR:
		if (!is_write) {
			memset(data, 0, size);
			data[0] = vp->isr; /* reading acknowledges (§4.1.4.5) */
			vp->isr = 0;
		}
		break;
	case BAR_DEVICE:
		if (in + size > ops->config_size) {
			if (!is_write)
				memset(data, 0, size);
		} else if (is_write && ops->config_write) {
			ops->config_write(vp->dev, (uint32_t)in, data, size);
		} else if (!is_write && ops->config_read) {
			ops->config_read(vp->dev, (uint32_t)in, data, size);
		}
		break;
	case BAR_NOTIFY:
		/*
		 * Normally an ioeventfd takes these writes before they reach us; one that does
		 * arrive (another width, a BAR being moved) is passed on the same way.
		 */
		if (is_write && in / NOTIFY_MULTIPLIER < ops->num_queues)
			kick(vp->q[in / NOTIFY_MULTIPLIER].notify_efd);
		else if (!is_write)
			memset(data, 0, size);
		break;
	case BAR_MSIX_TABLE:
		msix_table_access(vp, in, data, size, is_write);
		break;
	case BAR_MSIX_PBA:
		if (!is_write)
			msix_pba_read(vp, in, data, size);
		break;
	default:
		if (!is_write)
			memset(data, 0xff, size);
		break;
	}
	pthread_mutex_unlock(&vp->lock);
}

static void bar_read(void *opaque, uint64_t off, void *data, unsigned int size)
{
	bar_access(opaque, off, data, size, false);
}

static void bar_write(void *opaque, uint64_t off, const void *data, unsigned int size)
{
	uint8_t copy[8];

	memcpy(copy, data, size > 8 ? 8 : size);
	bar_access(opaque, off, copy, size > 8 ? 8 : size, true);
}

/* --- save and restore (issue 7) --------------------------------------------------------------- */

/* I/O thread: hold still, and record the queues as a restored device must take them up. */
static void do_freeze(struct virtio_pci *vp)
{
	struct virtio_dev *dev = vp->dev;
	struct virtio_pci_saved *out = vp->saving;

	vp->frozen = true;
	watch_device_fds(vp, 0);
	for (unsigned int i = 0; i < dev->ops->num_queues; i++) {
		const struct virtq *vq = &dev->queues[i];

		out->q[i].last_avail_idx = (uint16_t)(vq->last_avail_idx - vq->inflight);
		out->q[i].used_idx = vq->used_idx;
		out->q[i].signalled_used = vq->signalled_used;
		out->q[i].signalled_used_valid = vq->signalled_used_valid;
	}
	out->dev_state_len = dev->ops->save ? dev->ops->save(dev, out->dev_state) : 0;
}

static void do_thaw(struct virtio_pci *vp)
{
	vp->frozen = false;
	watch_device_fds(vp, EPOLLIN);
	/* Notifications that came meanwhile were dropped: look at every queue. */
	for (unsigned int q = 0; q < vp->dev->ops->num_queues; q++)
		kick(vp->q[q].notify_efd);
}

static void do_load_device(struct virtio_pci *vp)
{
	const struct virtio_pci_saved *in = vp->restoring;

	if (vp->dev->ops->load && vp->dev->ops->load(vp->dev, in->dev_state, in->dev_state_len) < 0)
		vp->restoring = NULL; /* tells the caller */
}

void virtio_pci_freeze(struct virtio_pci *vp, struct virtio_pci_saved *ret)
{
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&vp->host.bus->lock);
	memcpy(ret->pci_cfg, vp->pdev.cfg, sizeof(ret->pci_cfg));
	pthread_mutex_unlock(&vp->host.bus->lock);

	pthread_mutex_lock(&vp->lock);
	ret->device_id = vp->dev->ops->device_id;
	ret->num_queues = vp->dev->ops->num_queues;
	ret->offered = vp->offered;
	ret->driver_features = vp->driver_features;
	ret->dfselect = vp->dfselect;
	ret->gfselect = vp->gfselect;
	ret->status = vp->status;
	ret->config_generation = vp->config_generation;
	ret->isr = vp->isr;
	ret->queue_select = vp->queue_select;
	ret->config_vector = vp->config_vector;
	ret->nr_vectors = vp->nr_vectors;
	for (unsigned int i = 0; i < ret->num_queues; i++)
		ret->q[i] = (struct virtio_pci_saved_queue){
			.size = vp->q[i].size,
			.vector = vp->q[i].vector,
			.enable = vp->q[i].enable,
			.desc = vp->q[i].desc,
			.driver = vp->q[i].driver,
			.device = vp->q[i].device,
		};
	for (unsigned int i = 0; i < vp->nr_vectors; i++)
		ret->vec[i] = (struct virtio_pci_saved_vector){
			.addr_lo = vp->vec[i].addr_lo,
			.addr_hi = vp->vec[i].addr_hi,
			.data = vp->vec[i].data,
			.ctrl = vp->vec[i].ctrl,
			.pending = vp->vec[i].pending,
		};
	vp->saving = ret;
	handoff_locked(vp, do_freeze);
	vp->saving = NULL;
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_thaw(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	handoff_locked(vp, do_thaw);
	pthread_mutex_unlock(&vp->lock);
}

static int check_saved(const struct virtio_pci *vp, const struct virtio_pci_saved *in, char *err,
                       size_t errlen)
{
	if (in->device_id != vp->dev->ops->device_id ||
	    in->num_queues != vp->dev->ops->num_queues || in->nr_vectors != vp->nr_vectors)
		return errmsg(err, errlen, -EINVAL, "%s: the save file has another device here",
		              vp->name);
	if (in->driver_features & ~vp->offered)
		return errmsg(err, errlen, -EINVAL,
		              "%s: the guest uses features this device cannot offer here (%#llx)",
		              vp->name, (unsigned long long)(in->driver_features & ~vp->offered));
	if (in->dev_state_len > VIRTIO_DEV_STATE_MAX)
		return errmsg(err, errlen, -EINVAL, "%s: malformed device state", vp->name);
	for (unsigned int i = 0; i < in->num_queues; i++)
		if (in->q[i].size > vp->dev->ops->queue_max_size)
			return errmsg(err, errlen, -EINVAL, "%s: queue %u is too large", vp->name,
			              i);
	return 0;
}

int virtio_pci_load(struct virtio_pci *vp, const struct virtio_pci_saved *in, char *err,
                    size_t errlen)
{
	const uint8_t live = STATUS_DRIVER_OK | STATUS_FEATURES_OK;
	int r = check_saved(vp, in, err, errlen);

	if (r < 0)
		return r;
	if (pci_dev_load_config(vp->host.bus, &vp->pdev, in->pci_cfg) < 0)
		return errmsg(err, errlen, -EINVAL,
		              "%s: the save file has another PCI function here", vp->name);
	pthread_mutex_lock(&vp->lock);
	vp->driver_features = in->driver_features;
	vp->dfselect = in->dfselect;
	vp->gfselect = in->gfselect;
	vp->status = in->status;
	vp->config_generation = in->config_generation;
	vp->isr = in->isr;
	vp->queue_select = in->queue_select;
	vp->config_vector = checked_vector(vp, in->config_vector);
	for (unsigned int i = 0; i < in->num_queues; i++) {
		vp->q[i].size = in->q[i].size;
		vp->q[i].vector = checked_vector(vp, in->q[i].vector);
		vp->q[i].enable = in->q[i].enable == 1;
		vp->q[i].desc = in->q[i].desc;
		vp->q[i].driver = in->q[i].driver;
		vp->q[i].device = in->q[i].device;
	}
	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		struct msix_entry *e = &vp->vec[i];

		e->addr_lo = in->vec[i].addr_lo;
		e->addr_hi = in->vec[i].addr_hi;
		e->data = in->vec[i].data;
		e->ctrl = in->vec[i].ctrl;
		e->pending = in->vec[i].pending != 0;
		if (msi_vector_route(vp->host.msi, e->gsi, (uint64_t)e->addr_hi << 32 | e->addr_lo,
		                     e->data) < 0)
			log_warn("%s: cannot route MSI-X vector %u", vp->name, i);
	}
	vp->restoring = in;
	handoff_locked(vp, do_load_device);
	if (!vp->restoring) {
		pthread_mutex_unlock(&vp->lock);
		return errmsg(err, errlen, -EINVAL, "%s: malformed device state", vp->name);
	}
	if ((vp->status & live) == live && !(vp->status & STATUS_DEVICE_NEEDS_RESET))
		handoff_locked(vp, do_activate);
	vp->restoring = NULL;
	/* An interrupt on its way at the save may not have reached the guest: send it again. */
	for (unsigned int i = 0; i < in->num_queues; i++)
		if (vp->q[i].enable)
			fire_vector_locked(vp, vp->q[i].vector);
	deliver_pending_locked(vp);
	pthread_mutex_unlock(&vp->lock);
	return 0;
}

/* --- PCI glue ------------------------------------------------------------------------------- */

static int ioeventfd(struct virtio_pci *vp, uint64_t bar_gpa, unsigned int q, bool assign)
{
	struct kvm_ioeventfd ev = {
		.addr = bar_gpa + BAR_NOTIFY + (uint64_t)q * NOTIFY_MULTIPLIER,
		.len = 2, /* the driver writes the 16-bit queue index */
		.fd = vp->q[q].notify_efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vp->host.vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

static void bar0_moved(struct pci_dev *pdev, uint64_t old_gpa, uint64_t new_gpa)
{
	struct virtio_pci *vp = pdev->opaque;

	for (unsigned int q = 0; q < vp->dev->ops->num_queues; q++) {
		if (old_gpa)
			(void)ioeventfd(vp, old_gpa, q, false);
		if (new_gpa && ioeventfd(vp, new_gpa, q, true) < 0)
			log_warn_ratelimited(&vp->rl,
			                     "%s: cannot move the notify area, notifications "
			                     "take the slow path",
			                     vp->name);
	}
}

static void cap_write(struct pci_dev *pdev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *vp = pdev->opaque;

	(void)offset;
	(void)len;
	/* The MSI-X enable or function-mask bits may have opened the way for pending vectors. */
	pthread_mutex_lock(&vp->lock);
	deliver_pending_locked(vp);
	pthread_mutex_unlock(&vp->lock);
}

static const struct pci_dev_ops virtio_pci_dev_ops = {
	.bar0 = { .name = "virtio-pci", .read = bar_read, .write = bar_write },
	.cap_write = cap_write,
	.bar0_moved = bar0_moved,
};

static void add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
                           uint32_t extra, bool has_extra)
{
	uint8_t cap[20] = { PCI_CAP_ID_VENDOR, 0, has_extra ? 20 : 16, type, 0 /* BAR 0 */ };

	memcpy(cap + 8, &offset, 4);
	memcpy(cap + 12, &length, 4);
	if (has_extra)
		memcpy(cap + 16, &extra, 4);
	(void)pci_add_cap(&vp->pdev, cap, cap[2], NULL);
}

static void add_msix_cap(struct virtio_pci *vp)
{
	uint8_t cap[12] = { PCI_CAP_ID_MSIX, 0 }, writable[12] = { 0 };
	uint16_t ctrl = (uint16_t)(vp->nr_vectors - 1);
	uint32_t table = BAR_MSIX_TABLE, pba = BAR_MSIX_PBA; /* BIR 0 in the low bits */

	memcpy(cap + 2, &ctrl, 2);
	memcpy(cap + 4, &table, 4);
	memcpy(cap + 8, &pba, 4);
	writable[3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	vp->msix_cap = pci_add_cap(&vp->pdev, cap, sizeof(cap), writable);
}

static int setup_pci(struct virtio_pci *vp)
{
	const struct virtio_dev_ops *ops = vp->dev->ops;
	int r;

	r = pci_dev_init(vp->host.bus, &vp->pdev, &virtio_pci_dev_ops, vp, VIRTIO_PCI_VENDOR,
	                 (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id), ops->pci_class,
	                 VIRTIO_PCI_VENDOR, ops->device_id, BAR_SIZE);
	if (r < 0)
		return r;
	add_msix_cap(vp);
	add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON, COMMON_SIZE, 0, false);
	add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, BAR_NOTIFY, REGION_SIZE, NOTIFY_MULTIPLIER,
	               true);
	add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 1, 0, false);
	if (ops->config_size)
		add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE, ops->config_size, 0,
		               false);
	for (unsigned int q = 0; q < ops->num_queues; q++) {
		r = ioeventfd(vp, vp->pdev.bar0_decoding_gpa, q, true);
		if (r < 0)
			return r;
	}
	return pci_bus_add(vp->host.bus, &vp->pdev);
}

static int setup_io_thread(struct virtio_pci *vp)
{
	int r;

	r = evloop_new(&vp->loop);
	if (r < 0)
		return r;
	vp->ctl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->ctl_efd < 0)
		return -errno;
	r = evloop_add(vp->loop, vp->ctl_efd, EPOLLIN, on_control, vp);
	for (unsigned int q = 0; q < vp->dev->ops->num_queues && r == 0; q++) {
		vp->q[q].notify_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->q[q].notify_efd < 0)
			return -errno;
		r = evloop_add(vp->loop, vp->q[q].notify_efd, EPOLLIN, on_queue_notify, vp);
	}
	return r;
}

int virtio_pci_new(const struct virtio_pci_host *host, struct virtio_dev *dev, const char *name,
                   struct virtio_pci **ret)
{
	const struct virtio_dev_ops *ops = dev->ops;
	struct virtio_pci *vp;
	int r;

	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
	    ops->queue_max_size > VIRTQ_MAX_SIZE || ops->config_size > REGION_SIZE)
		return -EINVAL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->dev = dev;
	vp->host = *host;
	vp->ctl_efd = -1;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->q[q].notify_efd = -1;
	vp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	pthread_mutex_init(&vp->lock, NULL);
	pthread_cond_init(&vp->handoff_done, NULL);
	dev->transport = vp;
	dev->mem = host->mem;
	vp->offered = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX |
	              (ops->features ? ops->features(dev) : 0);
	vp->nr_vectors = ops->num_queues + 1;
	reset_registers_locked(vp);

	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		vp->vec[i].ctrl = MSIX_ENTRY_MASKED;
		r = msi_vector_alloc(host->msi, &vp->vec[i].gsi, &vp->vec[i].efd);
		if (r < 0)
			goto fail;
	}
	r = setup_io_thread(vp);
	if (r < 0)
		goto fail;
	r = setup_pci(vp);
	if (r < 0)
		goto fail;
	r = -pthread_create(&vp->thread, NULL, io_thread, vp);
	if (r < 0)
		goto fail;
	vp->thread_started = true;
	*ret = vp;
	return 0;
fail:
	virtio_pci_free(vp);
	return r;
}

void virtio_pci_free(struct virtio_pci *vp)
{
	uint64_t one = 1;

	if (!vp)
		return;
	if (vp->thread_started) {
		pthread_mutex_lock(&vp->lock);
		vp->quit = true;
		pthread_mutex_unlock(&vp->lock);
		(void)!write(vp->ctl_efd, &one, sizeof(one));
		pthread_join(vp->thread, NULL);
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vp->q[q].notify_efd >= 0)
			close(vp->q[q].notify_efd);
	if (vp->ctl_efd >= 0)
		close(vp->ctl_efd);
	evloop_free(vp->loop);
	if (vp->dev && vp->dev->ops->free)
		vp->dev->ops->free(vp->dev);
	pthread_cond_destroy(&vp->handoff_done);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

struct virtio_dev *virtio_pci_device(struct virtio_pci *vp)
{
	return vp->dev;
}

bool virtio_pci_queue_state(struct virtio_pci *vp, unsigned int q,
                            struct virtio_pci_queue_state *st)
{
	if (q >= vp->dev->ops->num_queues)
		return false;
	virtq_snapshot(&vp->dev->queues[q], &st->ring);
	pthread_mutex_lock(&vp->lock);
	st->vector = vp->q[q].vector;
	st->msix_enabled = msix_enabled_locked(vp);
	st->masked = st->pending = false;
	if (st->vector < vp->nr_vectors) {
		st->masked = vp->vec[st->vector].ctrl & MSIX_ENTRY_MASKED;
		st->pending = vp->vec[st->vector].pending;
	}
	pthread_mutex_unlock(&vp->lock);
	return true;
}

const char *virtio_pci_name(const struct virtio_pci *vp)
{
	return vp->name;
}
