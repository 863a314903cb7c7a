// SPDX-License-Identifier: GPL-2.0-only
/*
 * Save and restore of a whole domain.  What a section holds is the KVM or device structure
 * itself, checked for its exact length on load: a save file is read by the same xeno-vmm
 * version that wrote it (the format version changes with any layout change), and a host
 * lacking a CPU feature the guest used is refused before anything runs.
 *
 * RAM: a page goes into the file if the host ever gave it to the guest (present or swapped
 * in /proc/self/pagemap, or mapped from the file this domain was restored from) and is not
 * all zero.  Restore maps the file's extents over the fresh RAM (MAP_PRIVATE), so the
 * domain runs before its memory has been read; writes stay private to the domain.
 */
#include "vmm/snapshot.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "common/savefile.h"
#include "devices/virtio/pci.h"
#include "vmm/cpuid.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_state.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECTION_VERSION 1u
#define META_MAX        (1u << 20)
#define PAGE            4096u
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)

/* CPUID bits that follow the guest's own settings, not the host: not compared. */
#define LEAF1_ECX_OSXSAVE (1u << 27)
#define LEAF7_ECX_OSPKE   (1u << 4)

/* What the file says about the domain as a whole; the rest must match the command line. */
struct vm_saved {
	uint32_t nr_vcpus, nr_virtio;
	uint64_t mem_bytes;
	uint32_t device_ids[VM_MAX_VIRTIO];
	uint32_t pci_config_address, reserved;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the CPU features the state depends on ------------------------------------------------ */

static const struct kvm_cpuid_entry2 *cpuid_entry(const struct kvm_cpuid2 *c, uint32_t fn,
                                                  uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/* The features vCPU 0 is given on this host (the guest of this VMM sees these). */
static int guest_cpu_features(struct vm *vm, struct savefile_cpu *ret)
{
	const struct kvm_cpuid2 *sup = vm->cpuid;
	size_t size = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	const struct kvm_cpuid_entry2 *e;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, size);
	cpuid_filter(c, &vm->cpuid_caps, 0, vm->nr_vcpus);
	memset(ret, 0, sizeof(*ret));
	if ((e = cpuid_entry(c, 1, 0))) {
		ret->leaf1_ecx = e->ecx & ~LEAF1_ECX_OSXSAVE;
		ret->leaf1_edx = e->edx;
	}
	if ((e = cpuid_entry(c, 7, 0))) {
		ret->leaf7_ebx = e->ebx;
		ret->leaf7_ecx = e->ecx & ~LEAF7_ECX_OSPKE;
		ret->leaf7_edx = e->edx;
	}
	if ((e = cpuid_entry(c, 0x80000001, 0))) {
		ret->ext1_ecx = e->ecx;
		ret->ext1_edx = e->edx;
	}
	if ((e = cpuid_entry(c, 0xd, 0)))
		ret->xcr0 = (uint64_t)e->edx << 32 | e->eax; /* what XCR0 may hold here */
	ret->xsave_size = vcpu_state_xsave_size(vm->vm_fd);
	free(c);
	return 0;
}

static int check_cpu(const struct savefile_cpu *saved, const struct savefile_cpu *here, char *err,
                     size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} words[] = {
		{ "CPUID 1 ECX", offsetof(struct savefile_cpu, leaf1_ecx) },
		{ "CPUID 1 EDX", offsetof(struct savefile_cpu, leaf1_edx) },
		{ "CPUID 7 EBX", offsetof(struct savefile_cpu, leaf7_ebx) },
		{ "CPUID 7 ECX", offsetof(struct savefile_cpu, leaf7_ecx) },
		{ "CPUID 7 EDX", offsetof(struct savefile_cpu, leaf7_edx) },
		{ "CPUID 0x80000001 ECX", offsetof(struct savefile_cpu, ext1_ecx) },
		{ "CPUID 0x80000001 EDX", offsetof(struct savefile_cpu, ext1_edx) },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		uint32_t a, b;

		memcpy(&a, (const uint8_t *)saved + words[i].off, 4);
		memcpy(&b, (const uint8_t *)here + words[i].off, 4);
		if (a & ~b)
			return errmsg(
			        err, errlen, -ENOTSUP,
			        "this host lacks CPU features the guest was using (%s bits %#x)",
			        words[i].name, a & ~b);
	}
	if (saved->xcr0 & ~here->xcr0)
		return errmsg(err, errlen, -ENOTSUP,
		              "this host lacks XSAVE features the guest enabled (XCR0 bits %#llx)",
		              (unsigned long long)(saved->xcr0 & ~here->xcr0));
	if (saved->xsave_size != here->xsave_size)
		return errmsg(err, errlen, -ENOTSUP,
		              "the guest's XSAVE area was %u bytes, this host's KVM uses %u",
		              saved->xsave_size, here->xsave_size);
	return 0;
}

/* --- saving -------------------------------------------------------------------------------- */

static int add(struct savefile_writer *w, const char *tag, uint32_t instance, const void *data,
               uint64_t len, char *err, size_t errlen)
{
	int r = savefile_writer_section(w, tag, instance, SECTION_VERSION, data, len);

	return r < 0 ? errmsg(err, errlen, r, "cannot store the %s state", tag) : 0;
}

static int save_chips(struct vm *vm, struct savefile_writer *w, char *err, size_t errlen)
{
	static const char *const chip_tags[] = { "pic", "pic", "ioapic" };
	static const uint32_t chip_instances[] = { 0, 1, 0 };
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int r = 0;

	for (uint32_t id = 0; id < 3 && r == 0; id++) {
		struct kvm_irqchip chip = { .chip_id = id };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return errmsg(err, errlen, -errno,
			              "cannot read interrupt controller %u: %s", id,
			              strerror(errno));
		r = add(w, chip_tags[id], chip_instances[id], &chip, sizeof(chip), err, errlen);
	}
	memset(&pit, 0, sizeof(pit));
	if (r == 0 && ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return errmsg(err, errlen, -errno, "cannot read the PIT: %s", strerror(errno));
	if (r == 0)
		r = add(w, "pit", 0, &pit, sizeof(pit), err, errlen);
	memset(&clock, 0, sizeof(clock));
	if (r == 0 && ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return errmsg(err, errlen, -errno, "cannot read the kvmclock: %s", strerror(errno));
	if (r == 0)
		r = add(w, "clock", 0, &clock, sizeof(clock), err, errlen);
	return r;
}

static int save_devices(struct vm *vm, struct savefile_writer *w, struct virtio_pci_saved *vps,
                        char *err, size_t errlen)
{
	struct vm_saved vs = { .nr_vcpus = vm->nr_vcpus,
		               .nr_virtio = vm->nr_virtio,
		               .mem_bytes = vm->mem.size };
	struct serial_saved ser;
	struct acpi_pm_saved pm;
	int r;

	pthread_mutex_lock(&vm->pci.lock);
	vs.pci_config_address = vm->pci.config_address;
	pthread_mutex_unlock(&vm->pci.lock);
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		vs.device_ids[i] = vps[i].device_id;
		r = add(w, "virtio", i, &vps[i], sizeof(vps[i]), err, errlen);
		if (r < 0)
			return r;
	}
	serial_save(vm->serial, &ser);
	acpi_pm_save(vm->pm, &pm);
	r = add(w, "vm", 0, &vs, sizeof(vs), err, errlen);
	if (r == 0)
		r = add(w, "serial", 0, &ser, sizeof(ser), err, errlen);
	if (r == 0)
		r = add(w, "acpipm", 0, &pm, sizeof(pm), err, errlen);
	return r;
}

static int save_meta(struct savefile_writer *w, const char *meta_path, char *err, size_t errlen)
{
	uint8_t *buf;
	ssize_t n;
	int fd, r;

	if (!meta_path)
		return 0;
	fd = open(meta_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg(err, errlen, -errno, "cannot open %s: %s", meta_path,
		              strerror(errno));
	buf = malloc(META_MAX + 1);
	n = buf ? read(fd, buf, META_MAX + 1) : -1;
	close(fd);
	if (n < 0 || n > (ssize_t)META_MAX) {
		free(buf);
		return errmsg(err, errlen, -EINVAL, "%s: unreadable or larger than 1 MiB",
		              meta_path);
	}
	r = add(w, "domain", 0, buf, (uint64_t)n, err, errlen);
	free(buf);
	return r;
}

/* The pages the guest may have data in: one bit per page, or NULL if pagemap fails. */
static uint64_t *touched_pages(const struct vm *vm)
{
	uint64_t pages = vm->mem.size / PAGE, words = (pages + 63) / 64;
	uint64_t *bits = calloc(words ? words : 1, sizeof(uint64_t));
	uint64_t buf[4096];
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (!bits || fd < 0) {
		free(bits);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (uint64_t p = 0; p < pages;) {
		uint64_t n = pages - p < 4096 ? pages - p : 4096;
		off_t off = (off_t)(((uintptr_t)vm->mem.base / PAGE + p) * sizeof(uint64_t));
		ssize_t got = pread(fd, buf, n * sizeof(uint64_t), off);

		if (got != (ssize_t)(n * sizeof(uint64_t))) {
			free(bits);
			close(fd);
			return NULL;
		}
		for (uint64_t i = 0; i < n; i++)
			if (buf[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED))
				bits[(p + i) / 64] |= 1ULL << ((p + i) % 64);
		p += n;
	}
	close(fd);
	/* Pages still in the file this domain came from are not faulted in, but hold data. */
	if (vm->file_pages)
		for (uint64_t i = 0; i < words; i++)
			bits[i] |= vm->file_pages[i];
	return bits;
}

static int write_state(struct vm *vm, int fd, const char *meta_path, struct virtio_pci_saved *vps,
                       struct snapshot_result *ret, char *err, size_t errlen)
{
	struct savefile_writer *w;
	struct savefile_cpu cpu;
	uint32_t *msrs = NULL;
	unsigned int nr_msrs = 0;
	uint64_t *touched;
	int r;

	r = guest_cpu_features(vm, &cpu);
	if (r == 0)
		r = vcpu_state_msr_list(vm->kvm_fd, &msrs, &nr_msrs);
	if (r < 0)
		return errmsg(err, errlen, r, "cannot list the CPU state to save: %s",
		              strerror(-r));
	r = savefile_writer_new(fd, vm->mem.size, vm->nr_vcpus, &cpu, &w);
	if (r < 0) {
		free(msrs);
		return errmsg(err, errlen, r, "cannot start the save file: %s", strerror(-r));
	}
	for (unsigned int i = 0; i < vm->nr_vcpus && r == 0; i++)
		r = vcpu_state_save(&vm->vcpus[i], msrs, nr_msrs, cpu.xsave_size, w, err, errlen);
	free(msrs);
	if (r == 0)
		r = save_chips(vm, w, err, errlen);
	if (r == 0)
		r = save_devices(vm, w, vps, err, errlen);
	if (r == 0)
		r = save_meta(w, meta_path, err, errlen);
	if (r == 0) {
		touched = touched_pages(vm);
		r = savefile_writer_memory(w, vm->mem.base, touched, NULL, NULL);
		free(touched);
		if (r < 0)
			r = errmsg(err, errlen, r, "cannot write guest memory: %s", strerror(-r));
	}
	if (r < 0) {
		savefile_writer_free(w);
		return r;
	}
	r = savefile_writer_finish(w, &ret->file_bytes, &ret->memory_bytes);
	if (r < 0)
		return errmsg(err, errlen, r, "cannot finish the save file: %s", strerror(-r));
	if (fsync(fd) < 0)
		return errmsg(err, errlen, -errno, "cannot sync the save file: %s",
		              strerror(errno));
	return 0;
}

int snapshot_save(struct vm *vm, const char *path, const char *meta_path,
                  struct snapshot_result *ret, char *err, size_t errlen)
{
	struct virtio_pci_saved *vps;
	char partial[VM_PATH_MAX + sizeof(SAVEFILE_PARTIAL)];
	uint64_t start = now_ms();
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	if (path[0] != '/' || strlen(path) >= VM_PATH_MAX)
		return errmsg(err, errlen, -EINVAL,
		              "save: the path must be absolute, under %u bytes", VM_PATH_MAX);
	snprintf(partial, sizeof(partial), "%s%s", path, SAVEFILE_PARTIAL);
	vps = calloc(VM_MAX_VIRTIO, sizeof(*vps));
	if (!vps)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = errmsg(err, errlen, -errno, "cannot create %s: %s", partial, strerror(errno));
		free(vps);
		return r;
	}
	ret->was_paused = vm_is_paused(vm);
	vm_pause(vm);
	if (!vm->frozen) {
		for (unsigned int i = 0; i < vm->nr_virtio; i++)
			virtio_pci_freeze(vm->virtio[i], &vps[i]);
		vm->frozen = true;
		vm->frozen_state = vps;
		vps = NULL;
	}
	r = write_state(vm, fd, meta_path, vm->frozen_state, ret, err, errlen);
	free(vps);
	if (close(fd) < 0 && r == 0)
		r = errmsg(err, errlen, -errno, "cannot write %s: %s", partial, strerror(errno));
	if (r == 0 && rename(partial, path) < 0)
		r = errmsg(err, errlen, -errno, "cannot rename %s to %s: %s", partial, path,
		           strerror(errno));
	if (r < 0) {
		unlink(partial);
		if (!ret->was_paused)
			vm_resume(vm);
		return r;
	}
	ret->ms = now_ms() - start;
	log_info("saved to %s: %llu MiB of RAM data, %llu bytes in all, in %llu ms", path,
	         (unsigned long long)(ret->memory_bytes >> 20), (unsigned long long)ret->file_bytes,
	         (unsigned long long)ret->ms);
	return 0;
}

/* --- restoring ----------------------------------------------------------------------------- */

int snapshot_open(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	char err[512];
	int r;

	vm->restore = calloc(1, sizeof(*vm->restore));
	if (!vm->restore)
		return -ENOMEM;
	vm->restore_start_ms = now_ms();
	r = savefile_open(cfg->restore_path, vm->restore, err, sizeof(err));
	if (r < 0) {
		free(vm->restore);
		vm->restore = NULL;
		log_error("restore: %s", err);
		return r;
	}
	if (vm->restore->hdr.mem_bytes != (uint64_t)cfg->mem_mib << 20) {
		log_error("restore: the domain in %s has %llu MiB of RAM; --memory says %u",
		          cfg->restore_path, (unsigned long long)(vm->restore->hdr.mem_bytes >> 20),
		          cfg->mem_mib);
		return -EINVAL;
	}
	if (vm->restore->hdr.nr_vcpus != cfg->vcpus) {
		log_error("restore: the domain in %s has %u vCPUs; --vcpus says %u",
		          cfg->restore_path, vm->restore->hdr.nr_vcpus, cfg->vcpus);
		return -EINVAL;
	}
	if (!cfg->restore_no_verify) {
		uint64_t t = now_ms();

		r = savefile_verify_memory(vm->restore, NULL, NULL, err, sizeof(err));
		if (r < 0) {
			log_error("restore: %s", err);
			return r;
		}
		log_debug("restore: memory checksums verified in %llu ms",
		          (unsigned long long)(now_ms() - t));
	}
	return 0;
}

int snapshot_load_memory(struct vm *vm)
{
	const struct savefile *sf = vm->restore;
	uint64_t words = (vm->mem.size / PAGE + 63) / 64;
	char err[512];
	int r;

	r = savefile_load_memory(sf, vm->mem.base, vm->cfg->restore_copy, err, sizeof(err));
	if (r < 0) {
		log_error("restore: %s", err);
		return r;
	}
	if (vm->cfg->restore_copy)
		return 0;
	/* Remember what is mapped from the file: a later save must include it. */
	vm->file_pages = calloc(words ? words : 1, sizeof(uint64_t));
	if (!vm->file_pages)
		return -ENOMEM;
	for (uint64_t i = 0; i < sf->hdr.nr_extents; i++) {
		uint64_t first = sf->extents[i].ram_offset / PAGE;

		for (uint64_t p = first; p < first + sf->extents[i].len / PAGE; p++)
			vm->file_pages[p / 64] |= 1ULL << (p % 64);
	}
	return 0;
}

static const void *need(const struct savefile *sf, const char *tag, uint32_t instance, uint64_t len)
{
	uint64_t got;
	const void *p = savefile_section(sf, tag, instance, &got);

	if (!p || got != len) {
		log_error("restore: the save file's %s %u is %s", tag, instance,
		          p ? "of another size than this xeno-vmm's" : "missing");
		return NULL;
	}
	return p;
}

static int load_chips(struct vm *vm)
{
	static const char *const chip_tags[] = { "pic", "pic", "ioapic" };
	static const uint32_t chip_instances[] = { 0, 1, 0 };
	const struct savefile *sf = vm->restore;
	const void *p;

	for (uint32_t id = 0; id < 3; id++) {
		struct kvm_irqchip chip;

		p = need(sf, chip_tags[id], chip_instances[id], sizeof(chip));
		if (!p)
			return -EINVAL;
		memcpy(&chip, p, sizeof(chip));
		if (chip.chip_id != id || ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return log_error_errno(-EINVAL,
			                       "restore: KVM refused interrupt controller %u", id);
	}
	p = need(sf, "pit", 0, sizeof(struct kvm_pit_state2));
	if (!p)
		return -EINVAL;
	{
		struct kvm_pit_state2 pit;

		memcpy(&pit, p, sizeof(pit));
		if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
			return log_error_errno(-errno, "restore: KVM refused the PIT state");
	}
	return 0;
}

/* The guest's clock goes on from where it was saved: never backwards. */
static int load_clock(struct vm *vm)
{
	const void *p = need(vm->restore, "clock", 0, sizeof(struct kvm_clock_data));
	struct kvm_clock_data saved, clock = { 0 };

	if (!p)
		return -EINVAL;
	memcpy(&saved, p, sizeof(saved));
	clock.clock = saved.clock;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return log_error_errno(-errno, "restore: KVM refused the kvmclock");
	return 0;
}

static int load_devices(struct vm *vm)
{
	const struct savefile *sf = vm->restore;
	const struct vm_saved *vs = need(sf, "vm", 0, sizeof(struct vm_saved));
	const void *p;
	char err[256];

	if (!vs)
		return -EINVAL;
	if (vs->nr_virtio != vm->nr_virtio) {
		log_error("restore: the saved domain had %u virtio devices; the options give %u",
		          vs->nr_virtio, vm->nr_virtio);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct virtio_pci_saved *vps = malloc(sizeof(*vps));
		int r;

		p = need(sf, "virtio", i, sizeof(*vps));
		if (!p || !vps) {
			free(vps);
			return -EINVAL;
		}
		memcpy(vps, p, sizeof(*vps));
		r = virtio_pci_load(vm->virtio[i], vps, err, sizeof(err));
		free(vps);
		if (r < 0) {
			log_error("restore: %s", err);
			return r;
		}
	}
	pthread_mutex_lock(&vm->pci.lock);
	vm->pci.config_address = vs->pci_config_address;
	pthread_mutex_unlock(&vm->pci.lock);
	p = need(sf, "serial", 0, sizeof(struct serial_saved));
	if (!p || serial_load(vm->serial, p) < 0)
		return -EINVAL;
	p = need(sf, "acpipm", 0, sizeof(struct acpi_pm_saved));
	if (!p)
		return -EINVAL;
	acpi_pm_load(vm->pm, p);
	return 0;
}

int snapshot_load_state(struct vm *vm)
{
	struct savefile_cpu here;
	char err[512];
	int r;

	r = guest_cpu_features(vm, &here);
	if (r < 0)
		return r;
	r = check_cpu(&vm->restore->hdr.cpu, &here, err, sizeof(err));
	for (unsigned int i = 0; i < vm->nr_vcpus && r == 0; i++)
		r = vcpu_state_load(&vm->vcpus[i], vm->restore, here.xsave_size, err, sizeof(err));
	if (r < 0) {
		log_error("restore: %s", err);
		return r;
	}
	r = load_chips(vm);
	if (r == 0)
		r = load_devices(vm);
	if (r == 0)
		r = load_clock(vm);
	if (r < 0)
		return r;
	log_info("restored from %s in %llu ms (%llu MiB of RAM data, %s)", vm->cfg->restore_path,
	         (unsigned long long)(now_ms() - vm->restore_start_ms),
	         (unsigned long long)(vm->restore->hdr.mem_file_bytes >> 20),
	         vm->cfg->restore_copy ? "copied" : "mapped");
	snapshot_close(vm);
	return 0;
}

void snapshot_close(struct vm *vm)
{
	if (vm->restore) {
		savefile_close(vm->restore);
		free(vm->restore);
		vm->restore = NULL;
	}
}
