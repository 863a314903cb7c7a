// SPDX-License-Identifier: GPL-2.0-only
/* Rotating log files: appending, rotation at the limit, and reopening an existing file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log_file.h"

static char dir[] = "/tmp/xeno-log-file-XXXXXX";
static char path[128], rotated[160];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/console.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(rotated);
	return rmdir(dir);
}

static long file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void test_appends_and_rotates(void **state)
{
	struct log_file *lf;
	char line[100];

	(void)state;
	memset(line, 'x', sizeof(line));
	assert_int_equal(log_file_open(path, 250, &lf), 0);
	assert_int_equal(log_file_write(lf, line, 100), 0);
	assert_int_equal(log_file_write(lf, line, 100), 0);
	assert_int_equal(file_size(path), 200);
	assert_int_equal(file_size(rotated), -1);
	/* The third write would pass 250 bytes: the first two move to .1 whole. */
	assert_int_equal(log_file_write(lf, line, 100), 0);
	assert_int_equal(file_size(rotated), 200);
	assert_int_equal(file_size(path), 100);
	log_file_close(lf);

	/* Reopening appends and knows the size already there. */
	assert_int_equal(log_file_open(path, 250, &lf), 0);
	assert_int_equal(log_file_write(lf, line, 100), 0);
	assert_int_equal(file_size(path), 200);
	assert_int_equal(log_file_write(lf, line, 100), 0);
	assert_int_equal(file_size(rotated), 200);
	assert_int_equal(file_size(path), 100);
	log_file_close(lf);
}

static void test_write_larger_than_limit_is_kept(void **state)
{
	struct log_file *lf;
	char big[600];

	(void)state;
	memset(big, 'y', sizeof(big));
	unlink(path);
	unlink(rotated);
	assert_int_equal(log_file_open(path, 250, &lf), 0);
	assert_int_equal(log_file_write(lf, big, sizeof(big)), 0);
	assert_int_equal(file_size(path), 600);
	log_file_close(lf);
}

static void test_open_fails_in_missing_directory(void **state)
{
	struct log_file *lf = NULL;

	(void)state;
	assert_int_equal(log_file_open("/nonexistent-xeno/dir/log", 100, &lf), -ENOENT);
	assert_null(lf);
	log_file_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appends_and_rotates),
		cmocka_unit_test(test_write_larger_than_limit_is_kept),
		cmocka_unit_test(test_open_fails_in_missing_directory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
