// SPDX-License-Identifier: GPL-2.0-only
/*
 * Building and running one VM.  Set-up is a table of stages run in order; vm_teardown() runs
 * the completed ones backwards, so every exit path undoes exactly what was done.  Main thread
 * only, except vm_request_stop().
 */
#include "vmm/vm.h"
#include "common/log.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/rng.h"
#include "vmm/acpi.h"
#include "vmm/boot_cpu.h"
#include "vmm/cpuid.h"
#include "vmm/layout.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define KVM_API_VERSION_EXPECTED 12

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
	{ KVM_CAP_USER_MEMORY, "user memory regions" },
	{ KVM_CAP_SET_TSS_ADDR, "TSS address" },
	{ KVM_CAP_PIT2, "in-kernel PIT" },
	{ KVM_CAP_IMMEDIATE_EXIT, "immediate exit" },
	{ KVM_CAP_EXT_CPUID, "CPUID2" },
};

static int open_kvm(struct vm *vm)
{
	int v, max_vcpus;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return log_error_errno(-errno, "cannot open /dev/kvm (is KVM available here?)");
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_EXPECTED) {
		log_error("/dev/kvm speaks API version %d, expected %d", v,
		          KVM_API_VERSION_EXPECTED);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			log_error("KVM lacks a capability xeno-vmm needs: %s",
			          required_caps[i].name);
			return -ENOTSUP;
		}
	}
	max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus > 0 && vm->cfg->vcpus > (unsigned int)max_vcpus) {
		log_error("--vcpus %u: this host's KVM allows at most %d", vm->cfg->vcpus,
		          max_vcpus);
		return -EINVAL;
	}
	v = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v <= 0)
		return log_error_errno(-errno, "KVM_GET_VCPU_MMAP_SIZE failed");
	vm->kvm_run_size = (size_t)v;
	return 0;
}

static void close_kvm(struct vm *vm)
{
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->kvm_fd = -1;
}

static int create_vm(struct vm *vm)
{
	uint64_t identity = LAYOUT_IDENTITY_MAP_GPA;

	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return log_error_errno(-errno, "KVM_CREATE_VM failed");
	/* Intel needs these three pages below 4 GiB for real-mode emulation; AMD ignores them. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS_GPA) < 0)
		return log_error_errno(-errno, "KVM_SET_TSS_ADDR failed");
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR failed, ignoring");
	return 0;
}

static void destroy_vm(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->vm_fd = -1;
}

static int setup_memory(struct vm *vm)
{
	uint64_t size = (uint64_t)vm->cfg->mem_mib << 20;
	int r;

	r = guest_mem_init(&vm->mem, size);
	if (r < 0)
		return log_error_errno(r, "cannot reserve %u MiB of guest memory",
		                       vm->cfg->mem_mib);
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_mem_region *reg = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = reg->gpa,
			.memory_size = reg->size,
			.userspace_addr = (uint64_t)(uintptr_t)reg->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return log_error_errno(-errno, "KVM_SET_USER_MEMORY_REGION failed");
	}
	return vm->restore ? snapshot_load_memory(vm) : 0;
}

static void teardown_memory(struct vm *vm)
{
	guest_mem_fini(&vm->mem);
	free(vm->file_pages);
	vm->file_pages = NULL;
}

/* A restore: the file is opened and checked before anything is built from it. */
static int open_savefile(struct vm *vm)
{
	return vm->cfg->restore_path ? snapshot_open(vm) : 0;
}

/* A restore: the devices exist as the command line describes them; now their state. */
static int load_state(struct vm *vm)
{
	return vm->cfg->restore_path ? snapshot_load_state(vm) : 0;
}

static int create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return log_error_errno(-errno, "KVM_CREATE_IRQCHIP failed");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return log_error_errno(-errno, "KVM_CREATE_PIT2 failed");
	return 0;
}

static int write_acpi(struct vm *vm)
{
	uint8_t *tables = guest_mem_ptr(&vm->mem, LAYOUT_ACPI_GPA, LAYOUT_ACPI_SIZE);
	int n;

	if (vm->cfg->restore_path)
		return 0; /* the guest's RAM has its tables */
	if (!tables)
		return -EFAULT;
	n = acpi_build(tables, LAYOUT_ACPI_SIZE, LAYOUT_ACPI_GPA, vm->nr_vcpus);
	if (n < 0)
		return log_error_errno(n, "cannot build ACPI tables");
	return 0;
}

static int load_kernel(struct vm *vm)
{
	struct boot_linux_args args = {
		.kernel_path = vm->cfg->kernel_path,
		.initrd_path = vm->cfg->initrd_path,
		.cmdline = vm->cfg->cmdline,
		.rsdp_gpa = LAYOUT_ACPI_GPA,
	};
	char err[256];
	int r;

	if (vm->cfg->restore_path)
		return 0; /* the kernel is running, in the saved RAM */
	r = boot_linux_load(&vm->mem, &args, &vm->entry, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = boot_cpu_write_tables(&vm->mem);
	if (r < 0)
		return log_error_errno(r, "cannot write boot page tables");
	r = guest_mem_write(&vm->mem, LAYOUT_BIOS_RESET_FLAG_GPA,
	                    &(uint16_t){ BIOS_RESET_FLAG_NONE }, sizeof(uint16_t));
	if (r < 0)
		return log_error_errno(r, "cannot write the BIOS reset flag");
	log_debug("kernel entry %#llx (%s)", (unsigned long long)vm->entry.entry_gpa,
	          vm->entry.mode == BOOT_MODE_PVH32 ? "PVH" : "64-bit boot protocol");
	return 0;
}

static void stopper_request(void *opaque, enum vm_stop_reason reason)
{
	vm_request_stop(opaque, reason);
}

static int register_pio(struct vm *vm, uint64_t base, uint64_t len, const struct io_ops *ops,
                        void *opaque)
{
	int r = bus_register(&vm->pio, base, len, ops, opaque);

	if (r < 0)
		return log_error_errno(r, "cannot register %s at port %#llx", ops->name,
		                       (unsigned long long)base);
	return 0;
}

static int create_devices(struct vm *vm)
{
	struct irq_line com1 = { vm->vm_fd, COM1_IRQ }, sci = { vm->vm_fd, ACPI_SCI_IRQ };
	int r;

	vm->stopper = (struct vm_stopper){ stopper_request, vm };
	r = serial_new(&com1, &vm->serial_host, &vm->serial);
	if (r < 0)
		return log_error_errno(r, "cannot create the serial port");
	r = acpi_pm_new(&sci, &vm->stopper, &vm->pm);
	if (r < 0)
		return log_error_errno(r, "cannot create the ACPI PM device");
	r = register_pio(vm, PORT_COM1, SERIAL_PORT_COUNT, &serial_io_ops, vm->serial);
	if (!r)
		r = register_pio(vm, PORT_PM1A_EVT, PORT_PM1A_EVT_LEN, &acpi_pm_evt_ops, vm->pm);
	if (!r)
		r = register_pio(vm, PORT_PM1A_CNT, PORT_PM1A_CNT_LEN, &acpi_pm_cnt_ops, vm->pm);
	if (!r)
		r = register_pio(vm, PORT_ACPI_RESET, 1, &acpi_pm_reset_ops, vm->pm);
	if (!r)
		r = register_pio(vm, PORT_I8042_DATA, 1, &i8042_data_ops, &vm->stopper);
	if (!r)
		r = register_pio(vm, PORT_I8042_CMD, 1, &i8042_cmd_ops, &vm->stopper);
	if (!r)
		r = register_pio(vm, PORT_PVPANIC, 1, &pvpanic_ops, &vm->stopper);
	return r;
}

static void destroy_devices(struct vm *vm)
{
	acpi_pm_free(vm->pm);
	vm->pm = NULL;
	serial_free(vm->serial);
	vm->serial = NULL;
}

static int create_pci(struct vm *vm)
{
	int r;

	pci_bus_init(&vm->pci);
	r = msi_routes_new(vm->vm_fd, &vm->msi);
	if (r < 0)
		return log_error_errno(r, "cannot set up MSI routing");
	r = register_pio(vm, PORT_PCI_CONFIG, 8, &pci_config_ops, &vm->pci);
	if (r < 0)
		return r;
	r = bus_register(&vm->mmio, LAYOUT_PCI_MMIO_GPA, LAYOUT_PCI_MMIO_SIZE, &pci_mmio_ops,
	                 &vm->pci);
	if (r < 0)
		return log_error_errno(r, "cannot register the PCI MMIO window");
	return 0;
}

static void destroy_pci(struct vm *vm)
{
	msi_routes_free(vm->msi);
	vm->msi = NULL;
	pci_bus_fini(&vm->pci);
}

/* Puts dev behind a virtio-pci function; takes ownership of dev either way. */
static int plug_virtio(struct vm *vm, struct virtio_dev *dev, const char *kind, unsigned int n)
{
	struct virtio_pci_host host = { vm->vm_fd, &vm->mem, &vm->pci, vm->msi };
	char name[32];
	int r;

	snprintf(name, sizeof(name), "%s%u", kind, n);
	r = virtio_pci_new(&host, dev, name, &vm->virtio[vm->nr_virtio]);
	if (r < 0)
		return log_error_errno(r, "%s: cannot create its PCI function", name);
	vm->nr_virtio++;
	return 0;
}

static int create_virtio(struct vm *vm)
{
	struct virtio_dev *dev;
	int r;

	for (unsigned int i = 0; i < vm->cfg->nr_disks; i++) {
		const struct vm_disk_config *d = &vm->cfg->disks[i];
		struct virtio_blk_config bc = {
			.path = d->path,
			.format = d->format,
			.read_only = d->read_only,
			.serial = d->serial[0] ? d->serial : NULL,
			.cache = d->cache,
			.no_lock = d->no_lock,
		};
		char err[BLK_ERR_MAX];

		r = virtio_blk_new(&bc, &dev, err, sizeof(err));
		if (r < 0) {
			log_error("disk %u: %s", i, err);
			return r;
		}
		r = plug_virtio(vm, dev, "virtio-blk", i);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < vm->cfg->nr_nets; i++) {
		struct virtio_net_config nc;
		char err[256];

		r = virtio_net_parse_spec(vm->cfg->nets[i], &nc, err, sizeof(err));
		if (r < 0) {
			log_error("--net '%s': %s", vm->cfg->nets[i], err);
			return r;
		}
		r = virtio_net_new(&nc, &dev);
		if (r < 0)
			return log_error_errno(r, "--net '%s': cannot set up the TAP",
			                       vm->cfg->nets[i]);
		r = plug_virtio(vm, dev, "virtio-net", i);
		if (r < 0)
			return r;
	}
	if (vm->cfg->rng) {
		r = virtio_rng_new(&dev);
		if (r < 0)
			return log_error_errno(r, "cannot create the rng device");
		r = plug_virtio(vm, dev, "virtio-rng", 0);
		if (r < 0)
			return r;
	}
	if (vm->cfg->balloon) {
		struct virtio_balloon_config bc = { .deflate_on_oom =
			                                    vm->cfg->balloon_deflate_on_oom };

		r = virtio_balloon_new(&bc, &dev);
		if (r < 0)
			return log_error_errno(r, "cannot create the balloon device");
		r = plug_virtio(vm, dev, "virtio-balloon", 0);
		if (r < 0)
			return r;
		vm->balloon = dev;
		/* The driver finds the target when it starts, and inflates before much else runs.
		 */
		if (vm->cfg->mem_target_mib && !vm->cfg->restore_path)
			virtio_balloon_set_target(dev, (vm->cfg->mem_mib - vm->cfg->mem_target_mib)
			                                       << 8);
	}
	return 0;
}

static void destroy_virtio(struct vm *vm)
{
	while (vm->nr_virtio > 0)
		virtio_pci_free(vm->virtio[--vm->nr_virtio]);
}

static int create_vcpus(struct vm *vm)
{
	int r = cpuid_get_supported(vm->kvm_fd, &vm->cpuid);

	if (r < 0)
		return log_error_errno(r, "KVM_GET_SUPPORTED_CPUID failed");
	cpuid_host_caps_probe(vm->kvm_fd, &vm->cpuid_caps);
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_init(&vm->vcpus[i], vm, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static void destroy_vcpus(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].vm)
				vcpu_fini(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	free(vm->cpuid);
	vm->cpuid = NULL;
}

/* The set-up order; teardown runs it backwards. */
static const struct {
	const char *name;
	int (*setup)(struct vm *vm);
	void (*teardown)(struct vm *vm);
} stages[] = {
	{ "kvm", open_kvm, close_kvm },           { "savefile", open_savefile, snapshot_close },
	{ "vm", create_vm, destroy_vm },          { "memory", setup_memory, teardown_memory },
	{ "irqchip", create_irqchip, NULL },      { "acpi", write_acpi, NULL },
	{ "kernel", load_kernel, NULL },          { "devices", create_devices, destroy_devices },
	{ "pci", create_pci, destroy_pci },       { "virtio", create_virtio, destroy_virtio },
	{ "vcpus", create_vcpus, destroy_vcpus }, { "state", load_state, NULL },
};

#define STAGE_COUNT (sizeof(stages) / sizeof(stages[0]))

int vm_setup(struct vm *vm, const struct vm_config *cfg)
{
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nr_vcpus = cfg->vcpus;
	vm->stop_reason = VM_STOP_NONE;
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return log_error_errno(-errno, "eventfd failed");

	for (vm->stages_done = 0; vm->stages_done < STAGE_COUNT; vm->stages_done++) {
		int r = stages[vm->stages_done].setup(vm);

		if (r < 0) {
			/* A failed stage may have half-built its part; its teardown copes. */
			if (stages[vm->stages_done].teardown)
				stages[vm->stages_done].teardown(vm);
			log_debug("set-up stage '%s' failed", stages[vm->stages_done].name);
			return r;
		}
	}
	return 0;
}

void vm_teardown(struct vm *vm)
{
	while (vm->stages_done > 0) {
		vm->stages_done--;
		if (stages[vm->stages_done].teardown)
			stages[vm->stages_done].teardown(vm);
	}
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->stop_efd = -1;
	free(vm->frozen_state);
	vm->frozen_state = NULL;
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
}

int vm_start(struct vm *vm, bool paused)
{
	struct timespec ts;
	int r;

	/* The threads park before their first KVM_RUN, so not one guest instruction runs. */
	vm->pause_requested = paused;
	r = vcpu_install_kick_signal();
	if (r < 0)
		return log_error_errno(r, "cannot install the vCPU kick signal");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm->start_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0)
			return log_error_errno(r, "cannot start vcpu%u", i);
	}
	return 0;
}

void vm_stop_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->stopping = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

static unsigned int started_vcpus(const struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		n += vm->vcpus[i].thread_started;
	return n;
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->pause_requested || vm->stopping) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->lock);

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);

	pthread_mutex_lock(&vm->lock);
	while (vm->parked < started_vcpus(vm) && !vm->stopping)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	/* After a checkpoint: the devices go on before the vCPUs do. */
	if (vm->frozen) {
		for (unsigned int i = 0; i < vm->nr_virtio; i++)
			virtio_pci_thaw(vm->virtio[i]);
		vm->frozen = false;
		free(vm->frozen_state);
		vm->frozen_state = NULL;
	}
	pthread_mutex_lock(&vm->lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

bool vm_is_paused(struct vm *vm)
{
	bool paused;

	pthread_mutex_lock(&vm->lock);
	paused = vm->pause_requested;
	pthread_mutex_unlock(&vm->lock);
	return paused;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int expected = VM_STOP_NONE;
	uint64_t one = 1;

	if (__atomic_compare_exchange_n(&vm->stop_reason, &expected, (int)reason, false,
	                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		(void)!write(vm->stop_efd, &one, sizeof(one));
}
