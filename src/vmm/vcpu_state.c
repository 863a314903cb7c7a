// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPU state to and from a save file.  One section per KVM structure, so a section's length
 * tells a stale or damaged file apart before KVM sees it.  The load order follows what KVM
 * needs (Documentation/virt/kvm/api.rst): segments and control registers before the general
 * registers, the local APIC before the MSRs (the TSC deadline timer only takes a value in
 * deadline mode), events and the run state last.
 */
#include "vmm/vcpu_state.h"
#include "common/errmsg.h"
#include "common/savefile.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define SECTION_VERSION 1u
#define MSR_BATCH       64u

int vcpu_state_msr_list(int kvm_fd, uint32_t **ret_list, unsigned int *ret_n)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	uint32_t *out;

	/* The first call fails with E2BIG and tells how many there are. */
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		int r = -errno;

		free(list);
		return r;
	}
	out = malloc((list->nmsrs ? list->nmsrs : 1) * sizeof(uint32_t));
	if (!out) {
		free(list);
		return -ENOMEM;
	}
	memcpy(out, list->indices, list->nmsrs * sizeof(uint32_t));
	*ret_n = list->nmsrs;
	*ret_list = out;
	free(list);
	return 0;
}

uint32_t vcpu_state_xsave_size(int vm_fd)
{
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return size > (int)sizeof(struct kvm_xsave) ? (uint32_t)size : sizeof(struct kvm_xsave);
}

/*
 * Reads every MSR of the list KVM will give: KVM_GET_MSRS stops at the first it cannot
 * read, which is skipped.  Returns the entries read (malloc'd) or NULL.
 */
static struct kvm_msr_entry *read_msrs(int fd, const uint32_t *msrs, unsigned int n,
                                       unsigned int *ret_n)
{
	struct kvm_msr_entry *out = calloc(n ? n : 1, sizeof(*out));
	struct kvm_msrs *batch = calloc(1, sizeof(*batch) + MSR_BATCH * sizeof(*out));
	unsigned int got = 0;

	if (!out || !batch) {
		free(out);
		free(batch);
		return NULL;
	}
	for (unsigned int i = 0; i < n;) {
		unsigned int want = n - i < MSR_BATCH ? n - i : MSR_BATCH;
		int r;

		batch->nmsrs = want;
		for (unsigned int k = 0; k < want; k++)
			batch->entries[k] = (struct kvm_msr_entry){ .index = msrs[i + k] };
		r = ioctl(fd, KVM_GET_MSRS, batch);
		if (r < 0)
			r = 0;
		memcpy(out + got, batch->entries, (size_t)r * sizeof(*out));
		got += (unsigned int)r;
		i += (unsigned int)r;
		if ((unsigned int)r < want)
			i++; /* the one KVM refused */
	}
	free(batch);
	*ret_n = got;
	return out;
}

/* Writes entries; one KVM refuses is skipped (a host without that MSR), the rest go on. */
static unsigned int write_msrs(int fd, const struct kvm_msr_entry *e, unsigned int n)
{
	struct kvm_msrs *batch = calloc(1, sizeof(*batch) + MSR_BATCH * sizeof(*e));
	unsigned int refused = 0;

	if (!batch)
		return n;
	for (unsigned int i = 0; i < n;) {
		unsigned int want = n - i < MSR_BATCH ? n - i : MSR_BATCH;
		int r;

		batch->nmsrs = want;
		memcpy(batch->entries, e + i, want * sizeof(*e));
		r = ioctl(fd, KVM_SET_MSRS, batch);
		if (r < 0)
			r = 0;
		i += (unsigned int)r;
		if ((unsigned int)r < want) {
			i++;
			refused++;
		}
	}
	free(batch);
	return refused;
}

struct piece {
	const char *tag;
	unsigned long get, set;
	size_t size;
};

/* The fixed-size pieces, in load order (the MSRs come after the APIC, see above). */
static const struct piece pieces[] = {
	{ "sregs", KVM_GET_SREGS, KVM_SET_SREGS, sizeof(struct kvm_sregs) },
	{ "regs", KVM_GET_REGS, KVM_SET_REGS, sizeof(struct kvm_regs) },
	{ "xcrs", KVM_GET_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs) },
	{ "lapic", KVM_GET_LAPIC, KVM_SET_LAPIC, sizeof(struct kvm_lapic_state) },
};

static const struct piece late_pieces[] = {
	{ "dregs", KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, sizeof(struct kvm_debugregs) },
	{ "events", KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, sizeof(struct kvm_vcpu_events) },
	{ "mpstate", KVM_GET_MP_STATE, KVM_SET_MP_STATE, sizeof(struct kvm_mp_state) },
};

static int save_piece(struct vcpu *vcpu, const struct piece *p, struct savefile_writer *w,
                      char *err, size_t errlen)
{
	uint8_t buf[4096];
	int r;

	memset(buf, 0, sizeof(buf));
	if (ioctl(vcpu->fd, p->get, buf) < 0)
		return errmsg(err, errlen, -errno, "vcpu%u: cannot read its %s: %s", vcpu->index,
		              p->tag, strerror(errno));
	r = savefile_writer_section(w, p->tag, vcpu->index, SECTION_VERSION, buf, p->size);
	return r < 0 ? errmsg(err, errlen, r, "vcpu%u: cannot store its %s", vcpu->index, p->tag)
	             : 0;
}

static int save_xsave(struct vcpu *vcpu, uint32_t size, struct savefile_writer *w, char *err,
                      size_t errlen)
{
	void *buf = calloc(1, size);
	unsigned long op = size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	int r;

	if (!buf)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	if (ioctl(vcpu->fd, op, buf) < 0)
		r = errmsg(err, errlen, -errno, "vcpu%u: cannot read its XSAVE state: %s",
		           vcpu->index, strerror(errno));
	else
		r = savefile_writer_section(w, "xsave", vcpu->index, SECTION_VERSION, buf, size);
	free(buf);
	return r;
}

int vcpu_state_save(struct vcpu *vcpu, const uint32_t *msrs, unsigned int nr_msrs,
                    uint32_t xsave_size, struct savefile_writer *w, char *err, size_t errlen)
{
	struct kvm_msr_entry *entries;
	unsigned int n = 0;
	int r = 0;

	_Static_assert(sizeof(struct kvm_lapic_state) <= 4096, "piece buffer too small");
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]) && r == 0; i++)
		r = save_piece(vcpu, &pieces[i], w, err, errlen);
	for (size_t i = 0; i < sizeof(late_pieces) / sizeof(late_pieces[0]) && r == 0; i++)
		r = save_piece(vcpu, &late_pieces[i], w, err, errlen);
	if (r == 0)
		r = save_xsave(vcpu, xsave_size, w, err, errlen);
	if (r < 0)
		return r;
	entries = read_msrs(vcpu->fd, msrs, nr_msrs, &n);
	if (!entries)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	r = savefile_writer_section(w, "msrs", vcpu->index, SECTION_VERSION, entries,
	                            (uint64_t)n * sizeof(*entries));
	free(entries);
	return r < 0 ? errmsg(err, errlen, r, "vcpu%u: cannot store its MSRs", vcpu->index) : 0;
}

static const void *section(const struct savefile *sf, const struct vcpu *vcpu, const char *tag,
                           uint64_t want, char *err, size_t errlen)
{
	uint64_t len;
	const void *p = savefile_section(sf, tag, vcpu->index, &len);

	if (!p)
		errmsg(err, errlen, -EINVAL, "the save file has no %s for vcpu%u", tag,
		       vcpu->index);
	else if (want && len != want)
		errmsg(err, errlen, -EINVAL,
		       "the save file's %s of vcpu%u has %llu bytes, this host's KVM uses %llu",
		       tag, vcpu->index, (unsigned long long)len, (unsigned long long)want);
	return p && (!want || len == want) ? p : NULL;
}

static int load_piece(struct vcpu *vcpu, const struct savefile *sf, const struct piece *p,
                      char *err, size_t errlen)
{
	uint8_t buf[4096];
	const void *data = section(sf, vcpu, p->tag, p->size, err, errlen);

	if (!data)
		return -EINVAL;
	/* A copy: KVM wants the structure aligned, the file gives 8-byte alignment only. */
	memcpy(buf, data, p->size);
	if (!strcmp(p->tag, "events")) {
		struct kvm_vcpu_events *ev = (struct kvm_vcpu_events *)(void *)buf;

		ev->flags &= KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
		ev->flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	}
	if (ioctl(vcpu->fd, p->set, buf) < 0)
		return errmsg(err, errlen, -errno, "vcpu%u: KVM refused its saved %s: %s",
		              vcpu->index, p->tag, strerror(errno));
	return 0;
}

static int load_xsave(struct vcpu *vcpu, const struct savefile *sf, uint32_t size, char *err,
                      size_t errlen)
{
	const void *data = section(sf, vcpu, "xsave", size, err, errlen);
	void *buf;
	int r = 0;

	if (!data)
		return -EINVAL;
	buf = malloc(size);
	if (!buf)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	memcpy(buf, data, size);
	if (ioctl(vcpu->fd, KVM_SET_XSAVE, buf) < 0)
		r = errmsg(err, errlen, -errno, "vcpu%u: KVM refused its saved XSAVE state: %s",
		           vcpu->index, strerror(errno));
	free(buf);
	return r;
}

static int load_msrs(struct vcpu *vcpu, const struct savefile *sf, char *err, size_t errlen)
{
	uint64_t len;
	const void *data = savefile_section(sf, "msrs", vcpu->index, &len);
	struct kvm_msr_entry *e;
	unsigned int n, refused;

	if (!data || len % sizeof(*e) || len / sizeof(*e) > 4096)
		return errmsg(err, errlen, -EINVAL, "the save file's MSRs of vcpu%u are malformed",
		              vcpu->index);
	n = (unsigned int)(len / sizeof(*e));
	e = malloc(len ? len : 1);
	if (!e)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	memcpy(e, data, len);
	refused = write_msrs(vcpu->fd, e, n);
	free(e);
	/* An MSR this host does not have was not one the guest could use here either. */
	(void)refused;
	return 0;
}

int vcpu_state_load(struct vcpu *vcpu, const struct savefile *sf, uint32_t xsave_size, char *err,
                    size_t errlen)
{
	int r = 0;

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]) && r == 0; i++) {
		r = load_piece(vcpu, sf, &pieces[i], err, errlen);
		/* XSAVE after the control registers (CR4.OSXSAVE) and XCR0, before the APIC. */
		if (r == 0 && !strcmp(pieces[i].tag, "xcrs"))
			r = load_xsave(vcpu, sf, xsave_size, err, errlen);
	}
	if (r == 0)
		r = load_msrs(vcpu, sf, err, errlen);
	for (size_t i = 0; i < sizeof(late_pieces) / sizeof(late_pieces[0]) && r == 0; i++)
		r = load_piece(vcpu, sf, &late_pieces[i], err, errlen);
	return r;
}
