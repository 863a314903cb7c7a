// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend's records on disk: atomic writes, the round trip of domain records in id order,
 * corrupt files skipped and reported, the next domain id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xend/store.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/xend-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	unsigned int ids[8];
	size_t n, bad;
};

static void on_record(void *opaque, unsigned int id, struct json_object *rec)
{
	struct seen *s = opaque;
	struct json_object *v;

	assert_true(json_object_object_get_ex(rec, "id", &v));
	assert_int_equal(json_object_get_int(v), id);
	s->ids[s->n++] = id;
}

static void on_bad(void *opaque, const char *path, int err)
{
	struct seen *s = opaque;

	assert_non_null(strstr(path, "/domains/"));
	assert_true(err < 0);
	s->bad++;
}

static void save(unsigned int id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int(id));
	assert_int_equal(store_save_domain(dir, id, o), 0);
	json_object_put(o);
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/domains/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_records_round_trip_in_id_order(void **state)
{
	struct seen s = { .n = 0 };
	char path[128];
	struct stat st;

	(void)state;
	assert_int_equal(store_load_domains(dir, on_record, on_bad, &s), 0); /* no directory */
	assert_int_equal(s.n, 0);
	save(10);
	save(2);
	save(7);
	write_file("5.json", "{\"id\": 5, \"torn"); /* corrupt: reported, skipped */
	write_file("notes.txt", "not a record");    /* not a record name: ignored */
	write_file("08.json", "{\"id\": 8}");       /* not a canonical id: ignored */
	assert_int_equal(store_load_domains(dir, on_record, on_bad, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[0], 2);
	assert_int_equal(s.ids[1], 7);
	assert_int_equal(s.ids[2], 10);
	assert_int_equal(s.bad, 1);
	/* Written with mode 0600 and no temporary file left behind. */
	snprintf(path, sizeof(path), "%s/domains/7.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/domains/7.json.tmp", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	store_remove_domain(dir, 7);
	store_remove_domain(dir, 99); /* missing is fine */
	s.n = s.bad = 0;
	assert_int_equal(store_load_domains(dir, on_record, on_bad, &s), 0);
	assert_int_equal(s.n, 2);
}

static void test_next_id(void **state)
{
	char path[128];
	unsigned int next = 0;
	FILE *f;

	(void)state;
	assert_int_equal(store_load_next_id(dir, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(store_save_next_id(dir, 42), 0);
	assert_int_equal(store_load_next_id(dir, &next), 0);
	assert_int_equal(next, 42);
	snprintf(path, sizeof(path), "%s/xend.json", dir);
	f = fopen(path, "w");
	fputs("{\"next_domid\": \"many\"}", f);
	fclose(f);
	assert_int_equal(store_load_next_id(dir, &next), -EBADMSG);
}

static void test_atomic_write_replaces_whole_files(void **state)
{
	char path[128], buf[64];
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(store_write_atomic(path, "first version, long", 19), 0);
	assert_int_equal(store_write_atomic(path, "second", 6), 0);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "second", 6);
	assert_int_equal(store_write_atomic("/no/such/dir/file", "x", 1), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_round_trip_in_id_order),
		cmocka_unit_test(test_next_id),
		cmocka_unit_test(test_atomic_write_replaces_whole_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
