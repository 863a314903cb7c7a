// SPDX-License-Identifier: GPL-2.0-only
/* The guest's memory map, below and above the 32-bit MMIO hole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vmm/e820.h"
#include "vmm/layout.h"

static void test_small_guest(void **state)
{
	struct guest_mem mem = { 0 };
	struct e820_entry map[E820_MAX_ENTRIES];
	size_t n;

	(void)state;
	guest_mem_layout(&mem, MiB(128));
	n = e820_build(&mem, map);
	assert_int_equal(n, 4);
	assert_int_equal(map[0].addr, 0);
	assert_int_equal(map[0].size, 0x9fc00);
	assert_int_equal(map[0].type, E820_TYPE_RAM);
	assert_int_equal(map[1].type, E820_TYPE_RESERVED);
	assert_int_equal(map[2].addr, 0xe0000);
	assert_int_equal(map[2].size, 0x20000);
	assert_int_equal(map[2].type, E820_TYPE_RESERVED);
	assert_int_equal(map[3].addr, MiB(1));
	assert_int_equal(map[3].addr + map[3].size, MiB(128));
	assert_int_equal(map[3].type, E820_TYPE_RAM);
}

static void test_guest_crossing_the_hole(void **state)
{
	struct guest_mem mem = { 0 };
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t ram = 0;
	size_t n;

	(void)state;
	guest_mem_layout(&mem, GiB(5));
	n = e820_build(&mem, map);
	assert_int_equal(n, 5);
	assert_int_equal(map[3].addr + map[3].size, GiB(3));
	assert_int_equal(map[4].addr, GiB(4));
	assert_int_equal(map[4].size, GiB(2));
	for (size_t i = 0; i < n; i++) {
		if (map[i].type == E820_TYPE_RAM)
			ram += map[i].size;
		/* Nothing may overlap the hole. */
		assert_false(map[i].addr < GiB(4) && map[i].addr + map[i].size > GiB(3));
	}
	/* All RAM is reported but the EBDA..1 MiB part that the PC layout reserves. */
	assert_int_equal(ram, GiB(5) - (MiB(1) - 0x9fc00));
}

static void test_exactly_three_gib_has_no_high_region(void **state)
{
	struct guest_mem mem = { 0 };
	struct e820_entry map[E820_MAX_ENTRIES];

	(void)state;
	guest_mem_layout(&mem, GiB(3));
	assert_int_equal(e820_build(&mem, map), 4);
	assert_int_equal(mem.nr_regions, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_guest),
		cmocka_unit_test(test_guest_crossing_the_hole),
		cmocka_unit_test(test_exactly_three_gib_has_no_high_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
