// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt lines of KVM's in-kernel irqchip.  KVM_IRQ_LINE is safe to call from any thread.
 */
#include "devices/device.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

void irq_line_set(const struct irq_line *line, bool level)
{
	struct kvm_irq_level irq = { .irq = line->gsi, .level = level ? 1 : 0 };

	(void)ioctl(line->vm_fd, KVM_IRQ_LINE, &irq);
}
