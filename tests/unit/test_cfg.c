// SPDX-License-Identifier: GPL-2.0-only
/*
 * libxeno's xl.cfg parser: golden files (tests/unit/data/cfg/CASE.cfg with the expected
 * message or resolved JSON in CASE.out), inputs too large or too broken to commit, the
 * generic getters, command-line assignments, and the shipped configs and man page.
 *
 * In the .cfg files, @TMP@ stands for a scratch directory holding vmlinuz, initrd.img,
 * disk1.img, disk2.img and dir/, and a comment line "#@set VAR=VALUE" is applied with
 * xeno_cfg_set() after parsing.  Outputs say @TMP@ too.  XENO_UPDATE_GOLDEN=1 in the
 * environment rewrites the .out files instead of comparing (review the diff).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <xeno/cfg.h>

#ifndef CFG_DATA_DIR
#error "CFG_DATA_DIR must name tests/unit/data/cfg"
#endif
#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must name the source tree"
#endif

static char tmpdir[64];

/* ---- Helpers ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* s with every `from` replaced by `to`, malloc'd. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	out = malloc(strlen(s) + n * tl + 1);
	assert_non_null(out);
	o = out;
	for (const char *p = s;;) {
		const char *hit = strstr(p, from);

		if (!hit) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, to, tl);
		o += tl;
		p = hit + fl;
	}
	return out;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of o with every object's keys in sorted order, so that golden files are stable. */
static struct json_object *sorted_copy(struct json_object *o)
{
	struct json_object *out;
	const char **keys;
	size_t n = 0;

	if (json_object_get_type(o) == json_type_array) {
		out = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_object_array_add(out, sorted_copy(json_object_array_get_idx(o, i)));
		return out;
	}
	if (json_object_get_type(o) != json_type_object)
		return json_object_get(o);
	keys = calloc((size_t)json_object_object_length(o) + 1, sizeof(*keys));
	assert_non_null(keys);
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), compare_strings);
	out = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		json_object_object_add(out, keys[i],
		                       sorted_copy(json_object_object_get(o, keys[i])));
	free(keys);
	return out;
}

static char *pretty_sorted(const char *json)
{
	struct json_object *o = json_tokener_parse(json), *s;
	char *out;

	assert_non_null(o);
	s = sorted_copy(o);
	out = strdup(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY |
	                                                       JSON_C_TO_STRING_SPACED |
	                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(s);
	json_object_put(o);
	return out;
}

/* Parses text, applies sets, resolves: the JSON (sorted, pretty) or the message, with "\n". */
static char *run_case(const char *name, const char *text, size_t len, const char *const *sets,
                      size_t n_sets)
{
	struct xeno_cfg *cfg = NULL;
	char *err = NULL, *json = NULL, *out;
	int r;

	r = xeno_cfg_parse_string(name, text, len, &cfg, &err);
	for (size_t i = 0; r == 0 && i < n_sets; i++)
		r = xeno_cfg_set(cfg, sets[i], &err);
	if (r == 0)
		r = xeno_cfg_domain_json(cfg, &json, &err);
	xeno_cfg_free(cfg);
	if (r == 0) {
		char *pretty;

		assert_null(err);
		pretty = pretty_sorted(json);
		free(json);
		assert_int_not_equal(asprintf(&out, "%s\n", pretty), -1);
		free(pretty);
	} else {
		assert_true(r < 0);
		assert_non_null(err);
		assert_null(strchr(err, '\n'));
		assert_int_not_equal(asprintf(&out, "%s\n", err), -1);
	}
	free(err);
	return out;
}

/* The message for text, which must be refused. */
static char *error_of(const char *text, size_t len)
{
	struct xeno_cfg *cfg = NULL;
	char *err = NULL, *json = NULL;
	int r;

	r = xeno_cfg_parse_string("gen.cfg", text, len, &cfg, &err);
	if (r == 0)
		r = xeno_cfg_domain_json(cfg, &json, &err);
	xeno_cfg_free(cfg);
	free(json);
	assert_true(r < 0);
	assert_non_null(err);
	return err;
}

#define assert_error(text, len, expected)                 \
	do {                                              \
		char *e_ = error_of((text), (len));       \
		if (strcmp(e_, (expected)))               \
			print_error("got      %s\n", e_); \
		assert_string_equal(e_, (expected));      \
		free(e_);                                 \
	} while (0)

/* ---- Golden files ---- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Runs one CASE.cfg; returns whether its output matched CASE.out. */
static bool golden_case(const char *file, bool update)
{
	char path[512], *raw, *text, *got, *expected, *sets[16], *line, *save = NULL, *copy;
	size_t n_sets = 0, len;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", CFG_DATA_DIR, file);
	raw = read_all(path, &len);
	assert_non_null(raw);
	assert_int_equal(strlen(raw), len); /* committed cases are text */
	text = replace_all(raw, "@TMP@", tmpdir);
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "#@set ", 6) && n_sets < 16)
			sets[n_sets++] = line + 6;
	}
	got = run_case(file, text, strlen(text), (const char *const *)sets, n_sets);
	free(copy);
	free(text);
	free(raw);
	raw = got;
	got = replace_all(raw, tmpdir, "@TMP@");
	free(raw);
	strcpy(path + strlen(path) - 4, ".out");
	if (update) {
		write_file(path, got, strlen(got));
		free(got);
		return true;
	}
	expected = read_all(path, NULL);
	ok = expected && !strcmp(got, expected);
	if (!ok)
		print_error("%s:\n  expected: %s  got:      %s", file,
		            expected ? expected : "(no .out file)\n", got);
	free(expected);
	free(got);
	return ok;
}

static void test_golden_files(void **state)
{
	bool update = getenv("XENO_UPDATE_GOLDEN") != NULL;
	size_t n = 0, failed = 0, bad = 0, good = 0;
	struct dirent **list;
	int count;

	(void)state;
	count = scandir(CFG_DATA_DIR, &list, NULL, alphasort);
	assert_true(count > 0);
	for (int i = 0; i < count; i++) {
		if (has_suffix(list[i]->d_name, ".cfg")) {
			n++;
			bad += !strncmp(list[i]->d_name, "bad-", 4);
			good += !strncmp(list[i]->d_name, "good-", 5);
			if (!golden_case(list[i]->d_name, update))
				failed++;
		}
		free(list[i]);
	}
	free(list);
	if (failed)
		print_error("%zu of %zu golden cases differ\n", failed, n);
	assert_int_equal(failed, 0);
	assert_true(bad >= 40);
	assert_true(good >= 8);
}

/* ---- Inputs built here ---- */

static void test_long_line(void **state)
{
	size_t len = 1024 * 1024 - 16;
	char *text = malloc(len);

	(void)state;
	memcpy(text, "extra = \"", 9);
	memset(text + 9, 'a', len - 9);
	assert_error(text, len, "gen.cfg:1: line is 1048560 bytes long (expected at most 65536)");
	/* The limit itself is allowed; then the string is too long. */
	memcpy(text, "name = 'x'\nextra = '", 20);
	memset(text + 20, 'b', 65536 - 10);
	text[20 + 65536 - 10] = '\'';
	assert_error(text, 20 + 65536 - 9,
	             "gen.cfg:2: string is longer than 4096 bytes (expected at most 4096)");
	free(text);
}

static void test_too_large(void **state)
{
	size_t len = XENO_CFG_FILE_MAX + 1;
	char *text = malloc(len), path[128], *err = NULL;
	struct xeno_cfg *cfg = NULL;

	(void)state;
	for (size_t i = 0; i < len; i++)
		text[i] = i % 64 == 63 ? '\n' : '#';
	assert_error(text, len,
	             "gen.cfg: 1048577 bytes is too large for a config file (expected at most "
	             "1048576)");
	snprintf(path, sizeof(path), "%s/big.cfg", tmpdir);
	write_file(path, text, len);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), -EFBIG);
	assert_null(cfg);
	assert_non_null(strstr(err, "/big.cfg: larger than 1048576 bytes"));
	free(err);
	/* One byte less is a file of comments: nothing set. */
	write_file(path, text, len - 1);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), 0);
	assert_null(err);
	xeno_cfg_free(cfg);
	unlink(path);
	free(text);
}

static void test_binary_garbage(void **state)
{
	static const char nul[] = "name = 'web'\nmemory = 1\0002\n";
	static const char elf[] = "\x7f"
	                          "ELF\x02\x01\x01";
	static const char bell[] = "# a comment \a\n";
	static const char cr[] = "name = 'web'\rmemory = 5\n";
	static const char high[] = "name = \xc3\xa9t\xc3\xa9\n";
	static const char bad_utf8[] = "name = 'caf\xe9'\n";
	unsigned int seed = 1;
	char junk[4096];

	(void)state;
	assert_error(nul, sizeof(nul) - 1,
	             "gen.cfg:2: unexpected byte 0x00 (expected text: a config file holds no "
	             "control characters or binary data)");
	assert_error(elf, sizeof(elf) - 1,
	             "gen.cfg:1: unexpected byte 0x7f (expected text: a config file holds no "
	             "control characters or binary data)");
	assert_error(bell, sizeof(bell) - 1,
	             "gen.cfg:1: unexpected byte 0x07 (expected text: a config file holds no "
	             "control characters or binary data)");
	assert_error(cr, sizeof(cr) - 1,
	             "gen.cfg:1: unexpected byte 0x0d (expected text: a config file holds no "
	             "control characters or binary data)");
	assert_error(high, sizeof(high) - 1,
	             "gen.cfg:1: unexpected byte 0xc3 (expected text: a config file holds no "
	             "control characters or binary data)");
	assert_error(bad_utf8, sizeof(bad_utf8) - 1,
	             "gen.cfg:1: string is not valid UTF-8 (expected UTF-8 text)");
	/* Random bytes: refused with a message, never a crash (ASan watches the build). */
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)(rand_r(&seed) & 0xff);
		free(error_of(junk, sizeof(junk)));
	}
}

static void test_list_limit(void **state)
{
	char text[8192], *p = text;

	(void)state;
	p += sprintf(p, "name = 'web'\nipaddr = [\n");
	for (int i = 0; i < XENO_CFG_LIST_MAX + 1; i++)
		p += sprintf(p, "'10.0.%d.%d',\n", i / 256, i % 256);
	p += sprintf(p, "]\n");
	assert_error(text, (size_t)(p - text),
	             "gen.cfg:2: ipaddr: list has more than 256 items (expected at most 256)");
}

static void test_crlf_and_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbfname = 'web'\r\nkernel = '@TMP@/vmlinuz'\r\n"
	                           "memory = 256 # comment\r\n";
	char *t = replace_all(text, "@TMP@", tmpdir), *out;

	(void)state;
	out = run_case("crlf.cfg", t, strlen(t), NULL, 0);
	assert_non_null(strstr(out, "\"memory_mib\": 256"));
	assert_non_null(strstr(out, "\"name\": \"web\""));
	free(out);
	free(t);
}

/* A chain of ${} references and a wide fan-out: bounded work, exact results. */
static void test_substitution_limits(void **state)
{
	char text[16384], *p = text, *out, *t;

	(void)state;
	p += sprintf(p, "name = 'web'\nkernel = '@TMP@/vmlinuz'\nroot = '/dev/xvda1'\n"
	                "hostname = 'h${root}'\nextra = '");
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "${memory}");
	p += sprintf(p, "'\n");
	t = replace_all(text, "@TMP@", tmpdir);
	free(error_of(t, strlen(t))); /* hostname with '/' */
	free(t);
	p = text;
	p += sprintf(p, "name = 'web-domain'\nkernel = '@TMP@/vmlinuz'\nextra = '");
	for (int i = 0; i < 500; i++)
		p += sprintf(p, "${name}");
	p += sprintf(p, "'\n");
	t = replace_all(text, "@TMP@", tmpdir);
	out = error_of(t, strlen(t));
	assert_string_equal(out, "gen.cfg:3: extra: longer than 4096 bytes once ${var} are "
	                         "replaced (expected at most 4096)");
	free(out);
	free(t);
}

/* ---- The generic layer ---- */

static struct xeno_cfg *parse_ok(const char *text)
{
	struct xeno_cfg *cfg = NULL;
	char *err = NULL;

	if (xeno_cfg_parse_string("t.cfg", text, strlen(text), &cfg, &err) < 0)
		print_error("%s\n", err);
	assert_non_null(cfg);
	assert_null(err);
	return cfg;
}

static void test_getters(void **state)
{
	struct xeno_cfg *cfg = parse_ok("s = 'str'; n = 42; neg = -7; hex = 0x1f\n"
	                                "b1 = 'Yes'; b0 = 0; b2 = 'off'; bad = 'maybe'\n"
	                                "l = [ 'a', \"b\", ]; one = 'x'; mixed = ['a', 1]\n"
	                                "empty = []; dash-key = 'xend.conf style'\n");
	const char *s, **list;
	long long n;
	size_t count;
	char *err;
	bool b;

	(void)state;
	assert_int_equal(xeno_cfg_get_string(cfg, "s", &s, &err), 0);
	assert_string_equal(s, "str");
	assert_int_equal(xeno_cfg_get_string(cfg, "dash-key", &s, &err), 0);
	assert_string_equal(s, "xend.conf style");
	assert_int_equal(xeno_cfg_get_string(cfg, "absent", &s, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(xeno_cfg_get_string(cfg, "n", &s, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:1: n: expected a string, got an integer");
	free(err);

	assert_int_equal(xeno_cfg_get_int(cfg, "n", 0, 100, &n, &err), 0);
	assert_int_equal(n, 42);
	assert_int_equal(xeno_cfg_get_int(cfg, "neg", -10, 0, &n, &err), 0);
	assert_int_equal(n, -7);
	assert_int_equal(xeno_cfg_get_int(cfg, "hex", 0, 100, &n, &err), 0);
	assert_int_equal(n, 31);
	assert_int_equal(xeno_cfg_get_int(cfg, "n", 0, 10, &n, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:1: n: 42 is out of range (expected 0 to 10)");
	free(err);
	assert_int_equal(xeno_cfg_get_int(cfg, "s", 0, 10, &n, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:1: s: expected an integer, got a string");
	free(err);
	assert_int_equal(xeno_cfg_get_int(cfg, "absent", 0, 10, &n, &err), -ENOENT);

	assert_int_equal(xeno_cfg_get_bool(cfg, "b1", &b, &err), 0);
	assert_true(b);
	assert_int_equal(xeno_cfg_get_bool(cfg, "b0", &b, &err), 0);
	assert_false(b);
	assert_int_equal(xeno_cfg_get_bool(cfg, "b2", &b, &err), 0);
	assert_false(b);
	assert_int_equal(xeno_cfg_get_bool(cfg, "n", &b, &err), -EINVAL);
	free(err);
	assert_int_equal(xeno_cfg_get_bool(cfg, "bad", &b, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:2: bad: expected a boolean (0 or 1, or 'yes', 'no', "
	                         "'true', 'false', 'on', 'off'), got a string");
	free(err);

	assert_int_equal(xeno_cfg_get_list(cfg, "l", &list, &count, &err), 0);
	assert_int_equal(count, 2);
	assert_string_equal(list[0], "a");
	assert_string_equal(list[1], "b");
	assert_null(list[2]);
	free(list);
	assert_int_equal(xeno_cfg_get_list(cfg, "one", &list, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_string_equal(list[0], "x");
	free(list);
	assert_int_equal(xeno_cfg_get_list(cfg, "empty", &list, &count, &err), 0);
	assert_int_equal(count, 0);
	assert_null(list[0]);
	free(list);
	assert_int_equal(xeno_cfg_get_list(cfg, "mixed", &list, &count, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:3: mixed: item 2: expected a string, got an integer");
	free(err);
	assert_int_equal(xeno_cfg_get_list(cfg, "n", &list, &count, &err), -EINVAL);
	free(err);
	xeno_cfg_free(cfg);
}

static void test_check_keys(void **state)
{
	static const char *const keys[] = { "xend-socket", "dom0-min-mem", "console-tcp", NULL };
	struct xeno_cfg *cfg = parse_ok("xend-socket = '/run/x.sock'\n\ndom0-min-men = 256\n");
	char *err = NULL;

	(void)state;
	assert_int_equal(xeno_cfg_check_keys(cfg, keys, &err), -EINVAL);
	assert_string_equal(err, "t.cfg:3: unknown key 'dom0-min-men' (did you mean "
	                         "'dom0-min-mem'?)");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "dom0-min-men=1", &err), 0);
	assert_int_equal(xeno_cfg_check_keys(cfg, keys, &err), -EINVAL);
	assert_string_equal(err, "command line: unknown key 'dom0-min-men' (did you mean "
	                         "'dom0-min-mem'?)");
	free(err);
	xeno_cfg_free(cfg);
	cfg = parse_ok("console-tcp = 'yes'\n");
	assert_int_equal(xeno_cfg_check_keys(cfg, keys, &err), 0);
	assert_null(err);
	xeno_cfg_free(cfg);
}

static void test_set(void **state)
{
	struct xeno_cfg *cfg = parse_ok("memory = 128\nname = 'web'\n");
	const char *s, **list;
	long long n;
	size_t count;
	char *err = NULL;

	(void)state;
	assert_int_equal(xeno_cfg_set(cfg, "memory=256", &err), 0);
	assert_int_equal(xeno_cfg_get_int(cfg, "memory", 0, 1000, &n, &err), 0);
	assert_int_equal(n, 256);
	assert_int_equal(xeno_cfg_set(cfg, "name=web-2", &err), 0);
	assert_int_equal(xeno_cfg_get_string(cfg, "name", &s, &err), 0);
	assert_string_equal(s, "web-2");
	assert_int_equal(xeno_cfg_set(cfg, "extra=console=ttyS0 quiet", &err), 0);
	assert_int_equal(xeno_cfg_get_string(cfg, "extra", &s, &err), 0);
	assert_string_equal(s, "console=ttyS0 quiet");
	assert_int_equal(xeno_cfg_set(cfg, "disk=['file:/x,xvda,w', 'file:/y,xvdb,r']", &err), 0);
	assert_int_equal(xeno_cfg_get_list(cfg, "disk", &list, &count, &err), 0);
	assert_int_equal(count, 2);
	assert_string_equal(list[1], "file:/y,xvdb,r");
	free(list);
	assert_int_equal(xeno_cfg_set(cfg, " root = \"/dev/xvda1 ro\" ", &err), 0);
	assert_int_equal(xeno_cfg_get_string(cfg, "root", &s, &err), 0);
	assert_string_equal(s, "/dev/xvda1 ro");
	assert_int_equal(xeno_cfg_set(cfg, "empty=", &err), 0);
	assert_int_equal(xeno_cfg_get_string(cfg, "empty", &s, &err), 0);
	assert_string_equal(s, "");
	assert_int_equal(xeno_cfg_set(cfg, "vmid=0x10", &err), 0);
	assert_int_equal(xeno_cfg_get_int(cfg, "vmid", 0, 100, &n, &err), 0);
	assert_int_equal(n, 16);

	assert_int_equal(xeno_cfg_set(cfg, "memory", &err), -EINVAL);
	assert_string_equal(err, "command line: 'memory' is not an assignment (expected "
	                         "VAR=VALUE, VAR a key name)");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "=5", &err), -EINVAL);
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "1x=5", &err), -EINVAL);
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "disk=['a'", &err), -EINVAL);
	assert_string_equal(err, "command line: disk: unterminated list (expected ']' before "
	                         "the end of the file)");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "name='web", &err), -EINVAL);
	assert_string_equal(err, "command line: unterminated string (expected a closing ' "
	                         "before the end of the file)");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "name='a' 'b'", &err), -EINVAL);
	assert_string_equal(err, "command line: name: expected the end of the value, got a "
	                         "string");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "name=a\tb\x01", &err), -EINVAL);
	assert_string_equal(err, "command line: name: unexpected byte 0x01 in the value "
	                         "(expected text)");
	free(err);
	assert_int_equal(xeno_cfg_set(cfg, "name=\xff", &err), -EINVAL);
	free(err);
	/* A failed set leaves the old value. */
	assert_int_equal(xeno_cfg_get_string(cfg, "name", &s, &err), 0);
	assert_string_equal(s, "web-2");
	xeno_cfg_free(cfg);
}

/* The seed's 'phy:cdrom,hdd,r': a device under /dev, read-only, whether or not it exists. */
static void test_seed_cdrom_form(void **state)
{
	struct xeno_cfg *cfg = NULL;
	char text[256], *err = NULL, *json = NULL;
	struct stat st;
	int r;

	(void)state;
	snprintf(text, sizeof(text),
	         "name = 'cd'\nkernel = '%s/vmlinuz'\ndisk = [ 'phy:cdrom,hdd,r' ]\n", tmpdir);
	assert_int_equal(xeno_cfg_parse_string("cd.cfg", text, strlen(text), &cfg, &err), 0);
	r = xeno_cfg_domain_json(cfg, &json, &err);
	if (stat("/dev/cdrom", &st) == 0) {
		assert_int_equal(r, 0);
		assert_non_null(strstr(json, "{\"path\":\"\\/dev\\/cdrom\",\"vdev\":\"hdd\","
		                             "\"readonly\":true"));
	} else {
		assert_int_equal(r, -ENOENT);
		assert_string_equal(err, "cd.cfg:3: disk: '/dev/cdrom': No such file or directory "
		                         "(expected an existing file)");
	}
	free(err);
	free(json);
	xeno_cfg_free(cfg);
}

static void test_parse_file(void **state)
{
	char path[128], *err = NULL;
	struct xeno_cfg *cfg = NULL;
	const char *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.cfg", tmpdir);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), -ENOENT);
	assert_non_null(strstr(err, "/absent.cfg: No such file or directory"));
	free(err);
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), -EISDIR);
	assert_non_null(strstr(err, "/dir: is a directory (expected a file)"));
	free(err);
	snprintf(path, sizeof(path), "%s/ok.cfg", tmpdir);
	write_file(path, "name = 'web'\nbogus\n", 19);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), -EINVAL);
	assert_non_null(strstr(err, "/ok.cfg:2: expected '=' after 'bogus', got the end of "
	                            "the line"));
	assert_non_null(strstr(err, tmpdir));
	free(err);
	write_file(path, "name = 'web'\n", 13);
	assert_int_equal(xeno_cfg_parse_file(path, &cfg, &err), 0);
	assert_int_equal(xeno_cfg_get_string(cfg, "name", &s, &err), 0);
	assert_string_equal(s, "web");
	xeno_cfg_free(cfg);
	unlink(path);
	xeno_cfg_free(NULL);
}

/* ---- Shipped configs and documentation ---- */

static void test_shipped_configs(void **state)
{
	static const char *const files[] = { "defaults", "examples/xmexample1",
		                             "examples/two-disks" };
	char path[512], set[512], *err = NULL, *json = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct xeno_cfg *cfg = NULL;

		snprintf(path, sizeof(path), "%s/etc/xeno/%s", SOURCE_ROOT, files[i]);
		if (xeno_cfg_parse_file(path, &cfg, &err) < 0)
			print_error("%s\n", err);
		assert_non_null(cfg);
		/* Point the files it names at the scratch copies, then resolve. */
		snprintf(set, sizeof(set), "kernel=%s/vmlinuz", tmpdir);
		assert_int_equal(xeno_cfg_set(cfg, set, &err), 0);
		snprintf(set, sizeof(set), "ramdisk=%s/initrd.img", tmpdir);
		assert_int_equal(xeno_cfg_set(cfg, set, &err), 0);
		if (strcmp(files[i], "defaults")) {
			snprintf(set, sizeof(set),
			         "disk=['file:%s/disk1.img,xvda,w', "
			         "'file:%s/disk2.img,xvdb,r']",
			         tmpdir, tmpdir);
			assert_int_equal(xeno_cfg_set(cfg, set, &err), 0);
		}
		if (xeno_cfg_domain_json(cfg, &json, &err) < 0)
			print_error("%s: %s\n", files[i], err);
		assert_non_null(json);
		if (!strcmp(files[i], "defaults")) {
			assert_non_null(strstr(json, "\"name\":\"domain-${vmid}\""));
			assert_non_null(strstr(json, "\"cmdline\":\"console=ttyS0 quiet\""));
			assert_non_null(strstr(json, "\"memory_mib\":128"));
		}
		free(json);
		json = NULL;
		xeno_cfg_free(cfg);
	}
}

/* Every key is in the man page and in at least one good golden case. */
static void test_every_key_documented_and_tested(void **state)
{
	char *man, *goods = calloc(1, 1), path[512];
	const char *name, *doc;
	struct dirent **list;
	int count;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/man/xeno.cfg.5", SOURCE_ROOT);
	man = read_all(path, NULL);
	assert_non_null(man);
	count = scandir(CFG_DATA_DIR, &list, NULL, alphasort);
	for (int i = 0; i < count; i++) {
		if (!strncmp(list[i]->d_name, "good-", 5) && has_suffix(list[i]->d_name, ".cfg")) {
			char *text, *joined;

			snprintf(path, sizeof(path), "%s/%s", CFG_DATA_DIR, list[i]->d_name);
			text = read_all(path, NULL);
			assert_int_not_equal(asprintf(&joined, "%s\n%s", goods, text), -1);
			free(goods);
			free(text);
			goods = joined;
		}
		free(list[i]);
	}
	free(list);
	for (size_t i = 0; xeno_cfg_domain_key(i, &name, &doc) == 0; i++) {
		char item[128], setting[128], override[128];

		assert_true(strlen(doc) > 10);
		snprintf(item, sizeof(item), "\n.It Cm %s ", name);
		if (!strstr(man, item))
			print_error("xeno.cfg.5 lacks '.It Cm %s'\n", name);
		assert_non_null(strstr(man, item));
		snprintf(setting, sizeof(setting), "\n%s =", name);
		snprintf(override, sizeof(override), "#@set %s=", name);
		if (!strstr(goods, setting) && !strstr(goods, override))
			print_error("no good golden case sets '%s'\n", name);
		assert_true(strstr(goods, setting) || strstr(goods, override));
	}
	free(goods);
	free(man);
}

/* ---- Scratch directory ---- */

static int setup(void **state)
{
	static const char *const files[] = { "vmlinuz", "initrd.img", "disk1.img", "disk2.img" };
	char path[128];

	(void)state;
	strcpy(tmpdir, "/tmp/xeno-test-cfg-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		write_file(path, "x", 1);
	}
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	return mkdir(path, 0700);
}

static int teardown(void **state)
{
	/* Also what a failed test may have left behind. */
	static const char *const files[] = { "vmlinuz",   "initrd.img", "disk1.img",
		                             "disk2.img", "big.cfg",    "ok.cfg" };
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	rmdir(path);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_files),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_substitution_limits),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_check_keys),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_seed_cdrom_form),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_shipped_configs),
		cmocka_unit_test(test_every_key_documented_and_tested),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
