// SPDX-License-Identifier: GPL-2.0-only
/* CPUID topology: what each vCPU of an N-vCPU domain reports about itself and its package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/cpuid.h"

static struct kvm_cpuid2 *fake_supported(void)
{
	static const struct kvm_cpuid_entry2 entries[] = {
		{ .function = 1, .ebx = 0xff08ffff, .ecx = 0, .edx = 0 },
		{ .function = 6, .eax = 0x77, .ecx = 0x9 },
		{ .function = 0xb, .index = 0 },
		{ .function = 0xb, .index = 1 },
		{ .function = 0xb, .index = 2 },
		{ .function = 0x80000001, .ecx = 0 },
		{ .function = 0x80000008, .ecx = 0x0000f0ff },
		{ .function = 0x8000001e, .eax = 0x99, .ebx = 0x1234, .ecx = 0x55 },
	};
	size_t n = sizeof(entries) / sizeof(entries[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(entries));

	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		c->entries[i] = entries[i];
	return c;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	fail_msg("leaf %#x.%u missing", fn, idx);
	return NULL;
}

static const struct cpuid_host_caps caps = { .tsc_deadline_timer = true }, no_caps = { 0 };

static void test_four_vcpus(void **state)
{
	struct kvm_cpuid2 *c = fake_supported();

	(void)state;
	cpuid_filter(c, &caps, 3, 4);
	assert_int_equal(leaf(c, 1, 0)->ebx >> 24, 3);          /* initial APIC id */
	assert_int_equal((leaf(c, 1, 0)->ebx >> 16) & 0xff, 4); /* logical CPUs per package */
	assert_int_equal(leaf(c, 1, 0)->ebx & 0xffff, 0xffff);  /* the rest is kept */
	assert_true(leaf(c, 1, 0)->ecx & (1u << 31));           /* hypervisor present */
	assert_true(leaf(c, 1, 0)->edx & (1u << 28));           /* HTT: more than one CPU */
	assert_int_equal(leaf(c, 6, 0)->eax, 0);
	/* Leaf 0xb: one thread per core, 4 cores addressed with 2 bits, x2APIC id in EDX. */
	assert_int_equal(leaf(c, 0xb, 0)->ebx, 1);
	assert_int_equal(leaf(c, 0xb, 0)->ecx, 0x100);
	assert_int_equal(leaf(c, 0xb, 1)->eax, 2);
	assert_int_equal(leaf(c, 0xb, 1)->ebx, 4);
	assert_int_equal(leaf(c, 0xb, 1)->ecx, 0x201);
	assert_int_equal(leaf(c, 0xb, 2)->ecx, 2); /* invalid level ends the list */
	assert_int_equal(leaf(c, 0xb, 0)->edx, 3);
	assert_int_equal(leaf(c, 0xb, 2)->edx, 3);
	/* AMD: 4 cores, CmpLegacy, extended APIC id. */
	assert_int_equal(leaf(c, 0x80000008, 0)->ecx & 0xff, 3);
	assert_int_equal((leaf(c, 0x80000008, 0)->ecx >> 12) & 0xf, 2);
	assert_true(leaf(c, 0x80000001, 0)->ecx & 2);
	assert_int_equal(leaf(c, 0x8000001e, 0)->eax, 3);
	free(c);
}

static void test_one_vcpu(void **state)
{
	struct kvm_cpuid2 *c = fake_supported();

	(void)state;
	cpuid_filter(c, &no_caps, 0, 1);
	assert_int_equal(leaf(c, 1, 0)->ebx >> 24, 0);
	assert_int_equal((leaf(c, 1, 0)->ebx >> 16) & 0xff, 1);
	assert_false(leaf(c, 1, 0)->edx & (1u << 28));
	assert_false(leaf(c, 1, 0)->ecx & (1u << 24)); /* not offered when KVM lacks it */
	assert_int_equal(leaf(c, 0xb, 1)->eax, 0);
	assert_int_equal(leaf(c, 0x80000008, 0)->ecx & 0xff, 0);
	assert_false(leaf(c, 0x80000001, 0)->ecx & 2);
	free(c);
}

static void test_id_bits(void **state)
{
	(void)state;
	assert_int_equal(cpuid_id_bits(1), 0);
	assert_int_equal(cpuid_id_bits(2), 1);
	assert_int_equal(cpuid_id_bits(3), 2);
	assert_int_equal(cpuid_id_bits(4), 2);
	assert_int_equal(cpuid_id_bits(5), 3);
	assert_int_equal(cpuid_id_bits(240), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_vcpus),
		cmocka_unit_test(test_one_vcpu),
		cmocka_unit_test(test_id_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
