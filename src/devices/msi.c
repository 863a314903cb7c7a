// SPDX-License-Identifier: GPL-2.0-only
/*
 * GSI routing for MSI vectors (KVM api.rst: KVM_SET_GSI_ROUTING, KVM_IRQFD).  Called on vCPU
 * threads when the guest programs an MSI-X table entry, and at device creation.
 */
#include "devices/msi.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LEGACY_GSIS  24 /* IOAPIC pins; the first 16 also reach the PICs */
#define MAX_MSI_GSIS 256
#define ROUTES_MAX   (LEGACY_GSIS + 16 + MAX_MSI_GSIS)

struct msi_route {
	unsigned int gsi;
	int efd;
	uint64_t addr;
	uint32_t data;
	int routed; /* the guest has programmed it */
};

struct msi_routes {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned int nr;
	struct msi_route vec[MAX_MSI_GSIS];
};

int msi_routes_new(int vm_fd, struct msi_routes **ret)
{
	struct msi_routes *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	*ret = r;
	return 0;
}

void msi_routes_free(struct msi_routes *routes)
{
	if (!routes)
		return;
	for (unsigned int i = 0; i < routes->nr; i++) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)routes->vec[i].efd,
			                   .gsi = routes->vec[i].gsi,
			                   .flags = KVM_IRQFD_FLAG_DEASSIGN };

		(void)ioctl(routes->vm_fd, KVM_IRQFD, &irqfd);
		close(routes->vec[i].efd);
	}
	pthread_mutex_destroy(&routes->lock);
	free(routes);
}

int msi_vector_alloc(struct msi_routes *routes, unsigned int *ret_gsi, int *ret_efd)
{
	struct kvm_irqfd irqfd = { 0 };
	struct msi_route *v;
	int efd, r = 0;

	pthread_mutex_lock(&routes->lock);
	if (routes->nr == MAX_MSI_GSIS) {
		r = -ENOSPC;
		goto out;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		r = -errno;
		goto out;
	}
	v = &routes->vec[routes->nr];
	*v = (struct msi_route){ .gsi = LEGACY_GSIS + routes->nr, .efd = efd };
	irqfd.fd = (uint32_t)efd;
	irqfd.gsi = v->gsi;
	if (ioctl(routes->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		r = -errno;
		close(efd);
		goto out;
	}
	routes->nr++;
	*ret_gsi = v->gsi;
	*ret_efd = efd;
out:
	pthread_mutex_unlock(&routes->lock);
	return r;
}

/* The routes KVM installs by default (virt/kvm/irqchip.c), which a new table must keep. */
static unsigned int legacy_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (unsigned int gsi = 0; gsi < LEGACY_GSIS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
				                                  : KVM_IRQCHIP_PIC_SLAVE,
				               .pin = gsi % 8 },
			};
	}
	return n;
}

int msi_vector_route(struct msi_routes *routes, unsigned int gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing *table;
	unsigned int n;
	int r = 0;

	table = calloc(1, sizeof(*table) + ROUTES_MAX * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	pthread_mutex_lock(&routes->lock);
	for (unsigned int i = 0; i < routes->nr; i++) {
		if (routes->vec[i].gsi == gsi) {
			routes->vec[i].addr = addr;
			routes->vec[i].data = data;
			routes->vec[i].routed = 1;
		}
	}
	n = legacy_routes(table->entries);
	for (unsigned int i = 0; i < routes->nr; i++) {
		if (!routes->vec[i].routed)
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = routes->vec[i].gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)routes->vec[i].addr,
			           .address_hi = (uint32_t)(routes->vec[i].addr >> 32),
			           .data = routes->vec[i].data },
		};
	}
	table->nr = n;
	if (ioctl(routes->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		r = -errno;
	pthread_mutex_unlock(&routes->lock);
	free(table);
	return r;
}

void msi_vector_fire(int efd)
{
	uint64_t one = 1;

	(void)!write(efd, &one, sizeof(one));
}
