// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPU threads.  Each loops on KVM_RUN; port and MMIO exits go to the buses, everything the
 * guest does to stop itself becomes vm_request_stop().  Kicking uses a signal whose handler
 * sets kvm_run->immediate_exit, which closes the race between checking the run-control flags
 * and entering KVM_RUN (Documentation/virt/kvm/api.rst, "immediate_exit").
 */
#include "vmm/vcpu.h"
#include "common/log.h"
#include "vmm/boot_cpu.h"
#include "vmm/cpuid.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define KICK_SIGNAL SIGUSR1

static __thread struct kvm_run *current_run;

static void kick_handler(int sig)
{
	(void)sig;
	if (current_run)
		current_run->immediate_exit = 1;
}

int vcpu_install_kick_signal(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must come back with EINTR. */
	return sigaction(KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

static int set_cpuid(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *supported = vcpu->vm->cpuid;
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *mine = malloc(size);
	int r = 0;

	if (!mine)
		return -ENOMEM;
	memcpy(mine, supported, size);
	cpuid_filter(mine, &vcpu->vm->cpuid_caps, vcpu->index, vcpu->vm->nr_vcpus);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, mine) < 0)
		r = -errno;
	free(mine);
	return r;
}

int vcpu_init(struct vcpu *vcpu, struct vm *vm, unsigned int index)
{
	void *run;
	int r;

	*vcpu = (struct vcpu){ .vm = vm, .index = index, .fd = -1 };
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0)
		return log_error_errno(-errno, "vcpu%u: KVM_CREATE_VCPU failed", index);
	run = mmap(NULL, vm->kvm_run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED)
		return log_error_errno(-errno, "vcpu%u: cannot map kvm_run", index);
	vcpu->run = run;

	r = set_cpuid(vcpu);
	if (r < 0)
		return log_error_errno(r, "vcpu%u: KVM_SET_CPUID2 failed", index);
	r = boot_cpu_setup_msrs(vcpu->fd);
	if (r < 0)
		return log_error_errno(r, "vcpu%u: cannot set MSRs", index);
	r = boot_cpu_setup_lapic(vcpu->fd);
	if (r < 0)
		return log_error_errno(r, "vcpu%u: cannot program the local APIC", index);
	/* A restored vCPU gets its registers from the save file instead. */
	if (index == 0 && !vm->cfg->restore_path) {
		r = boot_cpu_setup(vcpu->fd, &vm->entry);
		if (r < 0)
			return log_error_errno(r, "vcpu0: cannot set boot registers");
	}
	return 0;
}

void vcpu_fini(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->kvm_run_size);
	vcpu->run = NULL;
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
}

static void dump_registers(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vcpu%u: cannot read registers", vcpu->index);
		return;
	}
	log_error("vcpu%u: RIP %016llx RSP %016llx RFLAGS %08llx", vcpu->index, r.rip, r.rsp,
	          r.rflags);
	log_error("vcpu%u: RAX %016llx RBX %016llx RCX %016llx RDX %016llx", vcpu->index, r.rax,
	          r.rbx, r.rcx, r.rdx);
	log_error("vcpu%u: RSI %016llx RDI %016llx RBP %016llx", vcpu->index, r.rsi, r.rdi, r.rbp);
	log_error("vcpu%u: CR0 %016llx CR2 %016llx CR3 %016llx CR4 %016llx EFER %016llx",
	          vcpu->index, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	log_error("vcpu%u: CS %04x base %llx l=%u db=%u", vcpu->index, s.cs.selector, s.cs.base,
	          s.cs.l, s.cs.db);
}

static void crash(struct vcpu *vcpu, const char *why)
{
	log_error("vcpu%u: guest crashed: %s", vcpu->index, why);
	dump_registers(vcpu);
	vm_request_stop(vcpu->vm, VM_STOP_CRASH);
}

/* Whether the guest wrote the BIOS reset flag (layout.h) since we set it. */
static bool reset_requested(const struct vcpu *vcpu)
{
	const uint8_t *flag = guest_mem_ptr(&vcpu->vm->mem, LAYOUT_BIOS_RESET_FLAG_GPA, 2);

	return flag && (flag[0] | flag[1] << 8) != BIOS_RESET_FLAG_NONE;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned int len = run->mmio.len > 8 ? 8 : run->mmio.len;

	if (run->mmio.is_write)
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, VM_STOP_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, VM_STOP_REBOOT);
		break;
	default:
		crash(vcpu, "system event");
		break;
	}
}

/* Handles one exit; returns false when this vCPU must not run again. */
static bool handle_exit(struct vcpu *vcpu)
{
	char why[64];

	switch (vcpu->run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(vcpu);
		return false;
	case KVM_EXIT_SHUTDOWN:
		/*
		 * A triple fault: a reboot if Linux wrote the BIOS reset flag on its way here
		 * (reboot=t, or the last resort after ACPI and the i8042), else a crash.  On AMD,
		 * KVM has already re-initialised the VMCB by now, so the register dump shows the
		 * reset state there.
		 */
		if (reset_requested(vcpu)) {
			log_info("vcpu%u: triple fault after the guest asked for a reset",
			         vcpu->index);
			vm_request_stop(vcpu->vm, VM_STOP_REBOOT);
		} else {
			crash(vcpu, "triple fault");
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
		         vcpu->run->internal.suberror);
		crash(vcpu, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason %#llx",
		         (unsigned long long)vcpu->run->fail_entry.hardware_entry_failure_reason);
		crash(vcpu, why);
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled exit reason %u", vcpu->run->exit_reason);
		crash(vcpu, why);
		return false;
	}
}

/*
 * Waits while the VM is paused; returns false if the VM is stopping.  The parked count lets
 * vm_pause() know when no vCPU runs guest code any more.
 */
static bool park_if_asked(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool keep_running, was_paused = false;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_requested && !vm->stopping) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_requested && !vm->stopping)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
		was_paused = true;
	}
	keep_running = !vm->stopping;
	pthread_mutex_unlock(&vm->lock);
	/*
	 * Tell the guest's kvmclock that the host stopped it, so its soft-lockup watchdog does
	 * not take a long pause for a hung CPU.  EINVAL means the guest has no kvmclock yet.
	 */
	if (was_paused && keep_running && ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0) < 0 &&
	    errno != EINVAL)
		log_debug("vcpu%u: KVM_KVMCLOCK_CTRL: %s", vcpu->index, strerror(errno));
	return keep_running;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	current_run = vcpu->run;
	__atomic_store_n(&vcpu->tid, (int)gettid(), __ATOMIC_RELEASE);

	for (;;) {
		if (!park_if_asked(vcpu))
			break;
		vcpu->run->immediate_exit = 0;
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			(void)log_error_errno(-errno, "vcpu%u: KVM_RUN failed", vcpu->index);
			vm_request_stop(vcpu->vm, VM_STOP_CRASH);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	current_run = NULL;
	/* A vCPU that left counts as parked, so a pause never waits for it. */
	pthread_mutex_lock(&vcpu->vm->lock);
	vcpu->vm->parked++;
	pthread_cond_broadcast(&vcpu->vm->cond);
	pthread_mutex_unlock(&vcpu->vm->lock);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	const struct vm_config *cfg = vcpu->vm->cfg;
	pthread_attr_t attr;
	sigset_t all, old;
	int r;

	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	/* Pinned (--cpus) from its first instruction. */
	if (cfg && cfg->has_cpus)
		r = pthread_attr_setaffinity_np(&attr, sizeof(cfg->cpus), &cfg->cpus);
	if (r) {
		pthread_attr_destroy(&attr);
		return -r;
	}
	/* The thread starts with every signal blocked but the kick: signals are the main loop's. */
	sigfillset(&all);
	sigdelset(&all, KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->thread_started = false;
	}
}

uint64_t vcpu_cpu_time_ns(const struct vcpu *vcpu)
{
	struct timespec ts;
	clockid_t clock;

	if (!vcpu->thread_started || pthread_getcpuclockid(vcpu->thread, &clock) != 0 ||
	    clock_gettime(clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vcpu_sched_state(const struct vcpu *vcpu, bool *ret_running, int *ret_cpu)
{
	int tid = __atomic_load_n(&vcpu->tid, __ATOMIC_ACQUIRE);
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	*ret_running = false;
	*ret_cpu = -1;
	if (tid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* "tid (comm) S ...": the comm is ours ("vcpuN"), so the last ')' ends it. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	*ret_running = p[2] == 'R';
	/* The processor is field 39; the state was field 3. */
	p += 2;
	for (int field = 3; field < 39 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		*ret_cpu = atoi(p);
	return 0;
}

int vcpu_pin(struct vcpu *vcpu, const cpu_set_t *cpus)
{
	int tid = __atomic_load_n(&vcpu->tid, __ATOMIC_ACQUIRE);

	if (tid <= 0)
		return -ESRCH;
	return sched_setaffinity(tid, sizeof(*cpus), cpus) < 0 ? -errno : 0;
}

int vcpu_affinity(const struct vcpu *vcpu, cpu_set_t *ret)
{
	int tid = __atomic_load_n(&vcpu->tid, __ATOMIC_ACQUIRE);

	CPU_ZERO(ret);
	if (tid <= 0)
		return -ESRCH;
	return sched_getaffinity(tid, sizeof(*ret), ret) < 0 ? -errno : 0;
}
