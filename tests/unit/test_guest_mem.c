// SPDX-License-Identifier: GPL-2.0-only
/* The one guest-physical to host-virtual translation, and its bounds checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "vmm/guest_mem.h"
#include "vmm/layout.h"

static void test_translation_and_bounds(void **state)
{
	struct guest_mem mem;
	uint8_t *p;

	(void)state;
	assert_int_equal(guest_mem_init(&mem, MiB(64)), 0);
	p = guest_mem_ptr(&mem, 0x1000, 16);
	assert_ptr_equal(p, mem.base + 0x1000);
	assert_non_null(guest_mem_ptr(&mem, MiB(64) - 1, 1));
	assert_null(guest_mem_ptr(&mem, MiB(64) - 1, 2));
	assert_null(guest_mem_ptr(&mem, MiB(64), 0));
	assert_null(guest_mem_ptr(&mem, UINT64_MAX, 1));
	assert_null(guest_mem_ptr(&mem, 0x1000, UINT64_MAX));
	assert_null(guest_mem_ptr(&mem, 0x1000, UINT64_MAX - 0x800));
	guest_mem_fini(&mem);
}

static void test_high_region(void **state)
{
	struct guest_mem mem;

	(void)state;
	/* Layout only: 4 GiB + 1 MiB of guest RAM needs no host memory to be checked. */
	assert_int_equal(guest_mem_init(&mem, GiB(3) + MiB(2)), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_ptr_equal(guest_mem_ptr(&mem, GiB(4), 1), mem.base + GiB(3));
	assert_non_null(guest_mem_ptr(&mem, GiB(4) + MiB(2) - 1, 1));
	assert_null(guest_mem_ptr(&mem, GiB(4) + MiB(2), 1));
	/* The hole is not RAM, and a range may not span the hole. */
	assert_null(guest_mem_ptr(&mem, GiB(3), 1));
	assert_null(guest_mem_ptr(&mem, GiB(3) - 1, 2));
	guest_mem_fini(&mem);
}

static void test_lazy_population(void **state)
{
	struct guest_mem mem;
	uint8_t *p;

	(void)state;
	assert_int_equal(guest_mem_init(&mem, GiB(1)), 0);
	assert_true(guest_mem_resident_bytes(&mem) < MiB(1));
	p = guest_mem_ptr(&mem, MiB(100), MiB(8));
	memset(p, 1, MiB(8));
	assert_true(guest_mem_resident_bytes(&mem) >= MiB(8));
	assert_true(guest_mem_resident_bytes(&mem) < MiB(12));
	guest_mem_fini(&mem);
}

static void test_write_outside_fails(void **state)
{
	struct guest_mem mem;
	char buf[8] = "abcdefg";

	(void)state;
	assert_int_equal(guest_mem_init(&mem, MiB(16)), 0);
	assert_int_equal(guest_mem_write(&mem, 0x100, buf, 8), 0);
	assert_memory_equal(mem.base + 0x100, buf, 8);
	assert_int_equal(guest_mem_write(&mem, MiB(16) - 4, buf, 8), -EFAULT);
	guest_mem_fini(&mem);
	assert_int_equal(guest_mem_init(&mem, 0), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, 4097), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translation_and_bounds),
		cmocka_unit_test(test_high_region),
		cmocka_unit_test(test_lazy_population),
		cmocka_unit_test(test_write_outside_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
