/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MSI delivery through KVM: each vector gets a GSI whose route carries the MSI message the
 * guest programmed, and an irqfd, so raising it is one eventfd write from any thread and
 * never a trip through a vCPU thread.  KVM_SET_GSI_ROUTING replaces the whole table, so this
 * module keeps it: the default routes of GSIs 0-23 (PIC and IOAPIC pins) plus ours.
 */
#ifndef XENO_DEVICES_MSI_H
#define XENO_DEVICES_MSI_H

#include <stdint.h>

struct msi_routes;

int msi_routes_new(int vm_fd, struct msi_routes **ret) __attribute__((warn_unused_result));
void msi_routes_free(struct msi_routes *routes);

/* A new vector: its GSI and its irqfd (the eventfd to write).  Returns 0 or -errno. */
int msi_vector_alloc(struct msi_routes *routes, unsigned int *ret_gsi, int *ret_efd)
        __attribute__((warn_unused_result));

/* Points gsi at the MSI message (addr, data); takes effect at once.  Returns 0 or -errno. */
int msi_vector_route(struct msi_routes *routes, unsigned int gsi, uint64_t addr, uint32_t data);

/* Raises the vector: writes its irqfd. */
void msi_vector_fire(int efd);

#endif
