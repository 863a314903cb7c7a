// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain config's field table: each row is a JSON key, its type (a parse and a format
 * function), where it lives in struct domain_config, its range and whether it is required.
 * Parsing and formatting both walk the table, so a field added here is accepted, checked,
 * stored in records and returned in answers.  Nothing here touches a file.
 */
#include "xend/domain_config.h"
#include "common/cpulist.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct field;
typedef int (*field_parse_fn)(const struct field *f, struct json_object *v,
                              struct domain_config *cfg, char *err, size_t errlen);
typedef struct json_object *(*field_format_fn)(const struct field *f,
                                               const struct domain_config *cfg);

struct field {
	const char *key;
	field_parse_fn parse;
	field_format_fn format;
	size_t offset; /* in struct domain_config */
	long long min, max;
	bool required;
	const char *why; /* appended to a range error */
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define AT(cfg, f, type)       ((type *)((char *)(cfg) + (f)->offset))
#define AT_CONST(cfg, f, type) ((type const *)((const char *)(cfg) + (f)->offset))

static const char *const action_names[] = {
	[DOMAIN_ACTION_DESTROY] = "destroy",
	[DOMAIN_ACTION_RESTART] = "restart",
	[DOMAIN_ACTION_PRESERVE] = "preserve",
};

const char *domain_action_name(enum domain_action action)
{
	if ((size_t)action >= sizeof(action_names) / sizeof(action_names[0]))
		return "destroy";
	return action_names[action];
}

static const char *type_name(struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* A JSON string of at most max bytes, without NUL or control characters; malloc'd copy. */
static int take_string(struct json_object *v, const char *field, size_t max, char **ret, char *err,
                       size_t errlen)
{
	const char *s;
	size_t len;
	char *copy;

	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "field '%s': expected a string, not %s", field,
		            type_name(v));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len > max)
		return fail(err, errlen, "field '%s': longer than %zu bytes", field, max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return fail(err, errlen, "field '%s': control character 0x%02x at byte %zu",
			            field, c, i);
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

static int take_path(struct json_object *v, const char *field, char **ret, char *err, size_t errlen)
{
	char *s = NULL;
	int r = take_string(v, field, DOMAIN_PATH_MAX, &s, err, errlen);

	if (r < 0)
		return r;
	if (s[0] != '/') {
		free(s);
		return fail(err, errlen, "field '%s': expected an absolute path", field);
	}
	*ret = s;
	return 0;
}

/* Name check on the string as given: "${vmid}" counts as one digit until substituted. */
static bool name_chars_valid(const char *name, size_t *ret_len)
{
	size_t len = 0;

	for (const char *p = name; *p;) {
		if (strncmp(p, "${vmid}", 7) == 0) {
			p += 7;
			len++;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
		p++;
		len++;
	}
	*ret_len = len;
	return true;
}

bool domain_name_valid(const char *name)
{
	size_t len;
	bool digits = true;

	if (!name || strstr(name, "${") || !name_chars_valid(name, &len))
		return false;
	if (len == 0 || len > DOMAIN_NAME_MAX || strcmp(name, "Domain-0") == 0)
		return false;
	for (const char *p = name; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	return !digits;
}

static int parse_name(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	char *s = NULL;
	size_t len;
	int r = take_string(v, f->key, DOMAIN_STRING_MAX, &s, err, errlen);

	if (r < 0)
		return r;
	if (!name_chars_valid(s, &len) || len == 0 || len > DOMAIN_NAME_MAX) {
		free(s);
		return fail(err, errlen,
		            "field 'name': expected 1 to %u letters, digits, '_', '.' or '-'",
		            DOMAIN_NAME_MAX);
	}
	*AT(cfg, f, char *) = s;
	return 0;
}

static int parse_path(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	return take_path(v, f->key, AT(cfg, f, char *), err, errlen);
}

static int parse_cmdline(const struct field *f, struct json_object *v, struct domain_config *cfg,
                         char *err, size_t errlen)
{
	return take_string(v, f->key, DOMAIN_CMDLINE_MAX, AT(cfg, f, char *), err, errlen);
}

static int parse_cpus(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	char *s = NULL;
	cpu_set_t set;
	int r = take_string(v, f->key, sizeof(cfg->cpus) - 1, &s, err, errlen);

	if (r < 0)
		return r;
	/* The host's CPUs are checked at create time; here only the form. */
	if (cpulist_parse(s, CPU_SETSIZE, &set, NULL) < 0) {
		free(s);
		return fail(err, errlen,
		            "field 'cpus': expected a CPU list such as \"0-3,6\" or "
		            "\"all\"");
	}
	snprintf(cfg->cpus, sizeof(cfg->cpus), "%s", s);
	free(s);
	return 0;
}

static struct json_object *format_cpus(const struct field *f, const struct domain_config *cfg)
{
	(void)f;
	return cfg->cpus[0] ? json_object_new_string(cfg->cpus) : NULL;
}

static struct json_object *format_string(const struct field *f, const struct domain_config *cfg)
{
	const char *s = *AT_CONST(cfg, f, char *);

	return s ? json_object_new_string(s) : NULL;
}

static int take_int(const struct field *f, struct json_object *v, long long *ret, char *err,
                    size_t errlen)
{
	long long n;

	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, "field '%s': expected an integer, not %s", f->key,
		            type_name(v));
	errno = 0;
	n = (long long)json_object_get_int64(v);
	if (errno || n < f->min || n > f->max)
		return fail(err, errlen, "field '%s': expected an integer from %lld to %lld%s",
		            f->key, f->min, f->max, f->why ? f->why : "");
	*ret = n;
	return 0;
}

static int parse_uint(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	long long n;
	int r = take_int(f, v, &n, err, errlen);

	if (r == 0)
		*AT(cfg, f, unsigned int) = (unsigned int)n;
	return r;
}

static struct json_object *format_uint(const struct field *f, const struct domain_config *cfg)
{
	return json_object_new_int64(*AT_CONST(cfg, f, unsigned int));
}

/* A weight nobody gave is left out, so that a saved record keeps it "not given". */
static struct json_object *format_weight(const struct field *f, const struct domain_config *cfg)
{
	return cfg->cpu_weight ? format_uint(f, cfg) : NULL;
}

static int parse_int(const struct field *f, struct json_object *v, struct domain_config *cfg,
                     char *err, size_t errlen)
{
	long long n;
	int r = take_int(f, v, &n, err, errlen);

	if (r == 0)
		*AT(cfg, f, int) = (int)n;
	return r;
}

static struct json_object *format_int(const struct field *f, const struct domain_config *cfg)
{
	return json_object_new_int64(*AT_CONST(cfg, f, int));
}

static int parse_bool(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errlen, "field '%s': expected true or false, not %s", f->key,
		            type_name(v));
	*AT(cfg, f, bool) = json_object_get_boolean(v);
	return 0;
}

static struct json_object *format_bool(const struct field *f, const struct domain_config *cfg)
{
	return json_object_new_boolean(*AT_CONST(cfg, f, bool));
}

static int parse_action(const struct field *f, struct json_object *v, struct domain_config *cfg,
                        char *err, size_t errlen)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	for (size_t i = 0; s && i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*AT(cfg, f, enum domain_action) = (enum domain_action)i;
			return 0;
		}
	}
	return fail(err, errlen, "field '%s': expected \"destroy\", \"restart\" or \"preserve\"",
	            f->key);
}

static struct json_object *format_action(const struct field *f, const struct domain_config *cfg)
{
	return json_object_new_string(domain_action_name(*AT_CONST(cfg, f, enum domain_action)));
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A list of IPv4 addresses. */
static int take_ips(struct json_object *v, const char *field, char ***ret, size_t *ret_n, char *err,
                    size_t errlen)
{
	size_t n;
	char **ips;
	char name[64];
	int r;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "field '%s': expected a list of IPv4 addresses, not %s",
		            field, type_name(v));
	n = json_object_array_length(v);
	if (n > DOMAIN_IPS_MAX)
		return fail(err, errlen, "field '%s': more than %u addresses", field,
		            DOMAIN_IPS_MAX);
	ips = calloc(n ? n : 1, sizeof(*ips));
	if (!ips)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct in_addr a;

		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		r = take_string(json_object_array_get_idx(v, i), name, 64, &ips[i], err, errlen);
		if (r == 0 && inet_pton(AF_INET, ips[i], &a) != 1)
			r = fail(err, errlen, "field '%s': '%s' is not an IPv4 address", name,
			         ips[i]);
		if (r < 0) {
			free_strings(ips, i + 1);
			return r;
		}
	}
	*ret = ips;
	*ret_n = n;
	return 0;
}

static struct json_object *format_ips(char *const *ips, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(ips[i]));
	return a;
}

static int parse_ipaddr(const struct field *f, struct json_object *v, struct domain_config *cfg,
                        char *err, size_t errlen)
{
	(void)f;
	return take_ips(v, "ipaddr", &cfg->ipaddr, &cfg->nr_ipaddr, err, errlen);
}

static struct json_object *format_ipaddr(const struct field *f, const struct domain_config *cfg)
{
	(void)f;
	return format_ips(cfg->ipaddr, cfg->nr_ipaddr);
}

/* Checks each member of an object against the allowed keys; returns the offending key. */
static const char *unknown_key(struct json_object *obj, const char *const *keys)
{
	json_object_object_foreach(obj, key, val)
	{
		bool known = false;

		(void)val;
		for (size_t i = 0; keys[i]; i++)
			known = known || strcmp(key, keys[i]) == 0;
		if (!known)
			return key;
	}
	return NULL;
}

static bool vdev_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 16)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static int disk_bool(struct json_object *v, const char *key, size_t idx, bool *ret, char *err,
                     size_t errlen)
{
	struct json_object *m;

	if (!json_object_object_get_ex(v, key, &m))
		return 0;
	if (!json_object_is_type(m, json_type_boolean))
		return fail(err, errlen, "field 'disks[%zu].%s': expected true or false, not %s",
		            idx, key, type_name(m));
	*ret = json_object_get_boolean(m);
	return 0;
}

const char *domain_disk_format_name(enum domain_disk_format format)
{
	return format == DOMAIN_DISK_QCOW2 ? "qcow2" : "raw";
}

static const char *const cache_names[] = { [DOMAIN_CACHE_WRITEBACK] = "writeback",
	                                   [DOMAIN_CACHE_NONE] = "none",
	                                   [DOMAIN_CACHE_UNSAFE] = "unsafe" };

const char *domain_disk_cache_name(enum domain_disk_cache cache)
{
	return (size_t)cache < sizeof(cache_names) / sizeof(cache_names[0]) ? cache_names[cache]
	                                                                    : cache_names[0];
}

static int parse_disk_cache(struct json_object *v, size_t idx, struct domain_disk *d, char *err,
                            size_t errlen)
{
	struct json_object *m;
	const char *c;

	if (!json_object_object_get_ex(v, "cache", &m))
		return 0;
	c = json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "";
	for (size_t i = 0; i < sizeof(cache_names) / sizeof(cache_names[0]); i++) {
		if (!strcmp(c, cache_names[i])) {
			d->cache = (enum domain_disk_cache)i;
			return 0;
		}
	}
	return fail(err, errlen,
	            "field 'disks[%zu].cache': expected \"writeback\", \"none\" or \"unsafe\"",
	            idx);
}

/* format, devtype, backing and cache: the fields that only some disks have. */
static int parse_disk_kind(struct json_object *v, size_t idx, struct domain_disk *d, char *err,
                           size_t errlen)
{
	struct json_object *m;
	char name[48];

	if (json_object_object_get_ex(v, "format", &m)) {
		const char *f =
		        json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "";

		if (!strcmp(f, "qcow2"))
			d->format = DOMAIN_DISK_QCOW2;
		else if (strcmp(f, "raw"))
			return fail(err, errlen,
			            "field 'disks[%zu].format': expected \"raw\" or \"qcow2\"",
			            idx);
	}
	if (json_object_object_get_ex(v, "devtype", &m)) {
		const char *t =
		        json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "";

		if (!strcmp(t, "cdrom"))
			d->cdrom = true;
		else if (strcmp(t, "disk"))
			return fail(err, errlen,
			            "field 'disks[%zu].devtype': expected \"disk\" or \"cdrom\"",
			            idx);
	}
	if (parse_disk_cache(v, idx, d, err, errlen) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(v, "backing", &m)) {
		snprintf(name, sizeof(name), "disks[%zu].backing", idx);
		return take_path(m, name, &d->backing, err, errlen);
	}
	return 0;
}

/* The rules that tie fields together (libxeno checks them too; the API is public). */
static int check_disk_rules(size_t idx, struct domain_disk *d, bool readonly_given, char *err,
                            size_t errlen)
{
	if (d->cdrom && !d->readonly && readonly_given)
		return fail(err, errlen,
		            "field 'disks[%zu].readonly': a cdrom is read-only (expected true)",
		            idx);
	if (d->cdrom)
		d->readonly = true;
	if (d->force && d->readonly)
		return fail(err, errlen,
		            "field 'disks[%zu].force': only a writable disk can be forced "
		            "(expected readonly false, or no force)",
		            idx);
	if (d->backing && d->format != DOMAIN_DISK_QCOW2)
		return fail(err, errlen,
		            "field 'disks[%zu].backing': needs format \"qcow2\" (an overlay is a "
		            "qcow2 image)",
		            idx);
	if (d->backing && d->readonly)
		return fail(err, errlen,
		            "field 'disks[%zu].backing': needs a writable disk (the overlay is "
		            "where the domain writes)",
		            idx);
	return 0;
}

static int parse_disk(struct json_object *v, size_t idx, struct domain_disk *d, char *err,
                      size_t errlen)
{
	static const char *const keys[] = { "path",    "vdev",    "readonly", "format", "force",
		                            "devtype", "backing", "cache",    NULL };
	struct json_object *m;
	const char *bad;
	char name[48];
	int r;

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, "field 'disks[%zu]': expected an object, not %s", idx,
		            type_name(v));
	bad = unknown_key(v, keys);
	if (bad)
		return fail(err, errlen,
		            "field 'disks[%zu]': unknown field '%.64s' (expected path, vdev, "
		            "readonly, format, force, devtype, backing or cache)",
		            idx, bad);
	snprintf(name, sizeof(name), "disks[%zu].path", idx);
	if (!json_object_object_get_ex(v, "path", &m))
		return fail(err, errlen, "field '%s' is required", name);
	r = take_path(m, name, &d->path, err, errlen);
	if (r < 0)
		return r;
	if (strchr(d->path, ','))
		return fail(err, errlen, "field '%s': a disk path may not contain ','", name);
	if (json_object_object_get_ex(v, "vdev", &m)) {
		snprintf(name, sizeof(name), "disks[%zu].vdev", idx);
		r = take_string(m, name, 16, &d->vdev, err, errlen);
		if (r < 0)
			return r;
		if (!vdev_valid(d->vdev))
			return fail(err, errlen, "field '%s': expected 1 to 16 of [a-z0-9]", name);
	} else {
		if (asprintf(&d->vdev, "xvd%c", (char)('a' + idx)) < 0) {
			d->vdev = NULL;
			return -ENOMEM;
		}
	}
	r = disk_bool(v, "readonly", idx, &d->readonly, err, errlen);
	r = r ?: disk_bool(v, "force", idx, &d->force, err, errlen);
	r = r ?: parse_disk_kind(v, idx, d, err, errlen);
	if (r < 0)
		return r;
	return check_disk_rules(idx, d, json_object_object_get_ex(v, "readonly", NULL), err,
	                        errlen);
}

static void disks_free(struct domain_disk *disks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(disks[i].path);
		free(disks[i].vdev);
		free(disks[i].backing);
	}
	free(disks);
}

static int parse_disks(const struct field *f, struct json_object *v, struct domain_config *cfg,
                       char *err, size_t errlen)
{
	struct domain_disk *disks;
	size_t n;
	int r;

	(void)f;
	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "field 'disks': expected a list, not %s", type_name(v));
	n = json_object_array_length(v);
	if (n > DOMAIN_DISKS_MAX)
		return fail(err, errlen, "field 'disks': more than %u disks", DOMAIN_DISKS_MAX);
	disks = calloc(n ? n : 1, sizeof(*disks));
	if (!disks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = parse_disk(json_object_array_get_idx(v, i), i, &disks[i], err, errlen);
		if (r < 0) {
			disks_free(disks, i + 1);
			return r;
		}
	}
	cfg->disks = disks;
	cfg->nr_disks = n;
	return 0;
}

static struct json_object *format_disks(const struct field *f, const struct domain_config *cfg)
{
	struct json_object *a = json_object_new_array();

	(void)f;
	for (size_t i = 0; a && i < cfg->nr_disks; i++) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "path", json_object_new_string(cfg->disks[i].path));
		json_object_object_add(d, "vdev", json_object_new_string(cfg->disks[i].vdev));
		json_object_object_add(d, "readonly",
		                       json_object_new_boolean(cfg->disks[i].readonly));
		json_object_object_add(
		        d, "format",
		        json_object_new_string(domain_disk_format_name(cfg->disks[i].format)));
		json_object_object_add(d, "force", json_object_new_boolean(cfg->disks[i].force));
		json_object_object_add(
		        d, "devtype",
		        json_object_new_string(cfg->disks[i].cdrom ? "cdrom" : "disk"));
		if (cfg->disks[i].backing)
			json_object_object_add(d, "backing",
			                       json_object_new_string(cfg->disks[i].backing));
		json_object_object_add(
		        d, "cache",
		        json_object_new_string(domain_disk_cache_name(cfg->disks[i].cache)));
		json_object_array_add(a, d);
	}
	return a;
}

static bool mac_valid(const char *s)
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
	                              &b[4], &b[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return false;
	}
	return (b[0] & 1) == 0; /* unicast */
}

static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static int parse_vif(struct json_object *v, size_t idx, struct domain_vif *vif, char *err,
                     size_t errlen)
{
	static const char *const keys[] = { "mac", "ip", "bridge", NULL };
	struct json_object *m;
	const char *bad;
	char name[48];
	int r;

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, "field 'vifs[%zu]': expected an object, not %s", idx,
		            type_name(v));
	bad = unknown_key(v, keys);
	if (bad)
		return fail(err, errlen,
		            "field 'vifs[%zu]': unknown field '%.64s' (expected mac, ip or bridge)",
		            idx, bad);
	if (json_object_object_get_ex(v, "bridge", &m)) {
		snprintf(name, sizeof(name), "vifs[%zu].bridge", idx);
		r = take_string(m, name, 15, &vif->bridge, err, errlen);
		if (r < 0)
			return r;
		if (!ifname_valid(vif->bridge))
			return fail(err, errlen,
			            "field '%s': expected an interface name (1 to 15 letters, "
			            "digits, '_', '.' or '-')",
			            name);
	}
	if (json_object_object_get_ex(v, "mac", &m)) {
		snprintf(name, sizeof(name), "vifs[%zu].mac", idx);
		r = take_string(m, name, 17, &vif->mac, err, errlen);
		if (r < 0)
			return r;
		if (!mac_valid(vif->mac))
			return fail(
			        err, errlen,
			        "field '%s': expected a unicast MAC address like 00:16:3e:00:00:01",
			        name);
	}
	if (json_object_object_get_ex(v, "ip", &m)) {
		snprintf(name, sizeof(name), "vifs[%zu].ip", idx);
		return take_ips(m, name, &vif->ip, &vif->nr_ip, err, errlen);
	}
	return 0;
}

static void vifs_free(struct domain_vif *vifs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vifs[i].mac);
		free(vifs[i].bridge);
		free_strings(vifs[i].ip, vifs[i].nr_ip);
	}
	free(vifs);
}

static int parse_vifs(const struct field *f, struct json_object *v, struct domain_config *cfg,
                      char *err, size_t errlen)
{
	struct domain_vif *vifs;
	size_t n;
	int r;

	(void)f;
	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "field 'vifs': expected a list, not %s", type_name(v));
	n = json_object_array_length(v);
	if (n > DOMAIN_VIFS_MAX)
		return fail(err, errlen, "field 'vifs': more than %u interfaces", DOMAIN_VIFS_MAX);
	vifs = calloc(n ? n : 1, sizeof(*vifs));
	if (!vifs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = parse_vif(json_object_array_get_idx(v, i), i, &vifs[i], err, errlen);
		if (r < 0) {
			vifs_free(vifs, i + 1);
			return r;
		}
	}
	cfg->vifs = vifs;
	cfg->nr_vifs = n;
	return 0;
}

static struct json_object *format_vifs(const struct field *f, const struct domain_config *cfg)
{
	struct json_object *a = json_object_new_array();

	(void)f;
	for (size_t i = 0; a && i < cfg->nr_vifs; i++) {
		struct json_object *o = json_object_new_object();

		if (cfg->vifs[i].mac)
			json_object_object_add(o, "mac", json_object_new_string(cfg->vifs[i].mac));
		json_object_object_add(o, "ip", format_ips(cfg->vifs[i].ip, cfg->vifs[i].nr_ip));
		if (cfg->vifs[i].bridge)
			json_object_object_add(o, "bridge",
			                       json_object_new_string(cfg->vifs[i].bridge));
		json_object_array_add(a, o);
	}
	return a;
}

/*
 * root_password: hashed at once (SHA-512 crypt with a random salt) so that the plaintext
 * never reaches a record, an answer or the guest's command line.
 */
static int parse_root_password(const struct field *f, struct json_object *v,
                               struct domain_config *cfg, char *err, size_t errlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], *pw = NULL, *hash = NULL;
	struct crypt_data *cd;
	int r = take_string(v, f->key, 256, &pw, err, errlen);

	if (r < 0)
		return r;
	if (!pw[0]) {
		free(pw);
		return fail(err, errlen, "field 'root_password': expected 1 to 256 characters");
	}
	cd = calloc(1, sizeof(*cd));
	if (cd && crypt_gensalt_rn("$6$", 0, NULL, 0, setting, sizeof(setting)))
		hash = crypt_r(pw, setting, cd);
	if (hash && hash[0] == '$')
		hash = strdup(hash);
	else
		hash = NULL;
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (cd)
		explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (!hash)
		return -ENOMEM;
	free(cfg->root_hash);
	cfg->root_hash = hash;
	return 0;
}

static struct json_object *format_nothing(const struct field *f, const struct domain_config *cfg)
{
	(void)f;
	(void)cfg;
	return NULL;
}

/* root_hash: a crypt(3) hash as records keep it ("$6$salt$hash"). */
static int parse_root_hash(const struct field *f, struct json_object *v, struct domain_config *cfg,
                           char *err, size_t errlen)
{
	char *s = NULL;
	int r = take_string(v, f->key, 256, &s, err, errlen);

	if (r < 0)
		return r;
	for (const char *p = s; *p && r == 0; p++)
		if (!isalnum((unsigned char)*p) && !strchr("$./=", *p))
			r = -EINVAL;
	if (r < 0 || s[0] != '$') {
		free(s);
		return fail(err, errlen,
		            "field 'root_hash': expected a crypt(3) hash such as "
		            "$6$SALT$HASH");
	}
	free(cfg->root_hash);
	cfg->root_hash = s;
	return 0;
}

static int parse_ssh_keys(const struct field *f, struct json_object *v, struct domain_config *cfg,
                          char *err, size_t errlen)
{
	char name[48], **keys;
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "field '%s': expected a list of strings, not %s", f->key,
		            type_name(v));
	n = json_object_array_length(v);
	if (n > DOMAIN_SSH_KEYS_MAX)
		return fail(err, errlen, "field '%s': more than %u keys", f->key,
		            DOMAIN_SSH_KEYS_MAX);
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", f->key, i);
		r = take_string(json_object_array_get_idx(v, i), name, DOMAIN_SSH_KEY_MAX, &keys[i],
		                err, errlen);
		if (r == 0 && (!keys[i][0] || !strchr(keys[i], ' ')))
			r = fail(
			        err, errlen,
			        "field '%s': expected an authorized_keys line (TYPE KEY [COMMENT])",
			        name);
		if (r < 0) {
			free_strings(keys, i + 1);
			return r;
		}
	}
	cfg->ssh_keys = keys;
	cfg->nr_ssh_keys = n;
	return 0;
}

static struct json_object *format_ssh_keys(const struct field *f, const struct domain_config *cfg)
{
	(void)f;
	return format_ips(cfg->ssh_keys, cfg->nr_ssh_keys);
}

#define OFF(member) offsetof(struct domain_config, member)

static const char memory_why[] = " (the guest kernel does not boot in less than 96 MiB)";

static const struct field fields[] = {
	{ "name", parse_name, format_string, OFF(name), 0, 0, true, NULL },
	{ "kernel", parse_path, format_string, OFF(kernel), 0, 0, true, NULL },
	{ "ramdisk", parse_path, format_string, OFF(ramdisk), 0, 0, false, NULL },
	{ "cmdline", parse_cmdline, format_string, OFF(cmdline), 0, 0, false, NULL },
	{ "memory_mib", parse_uint, format_uint, OFF(memory_mib), DOMAIN_MEM_MIB_MIN,
	  DOMAIN_MEM_MIB_MAX, false, memory_why },
	{ "maxmem_mib", parse_uint, format_uint, OFF(maxmem_mib), DOMAIN_MEM_MIB_MIN,
	  DOMAIN_MEM_MIB_MAX, false, memory_why },
	{ "vcpus", parse_uint, format_uint, OFF(vcpus), 1, DOMAIN_VCPUS_MAX, false, NULL },
	{ "disks", parse_disks, format_disks, 0, 0, 0, false, NULL },
	{ "vifs", parse_vifs, format_vifs, 0, 0, 0, false, NULL },
	{ "ipaddr", parse_ipaddr, format_ipaddr, 0, 0, 0, false, NULL },
	{ "on_poweroff", parse_action, format_action, OFF(on_poweroff), 0, 0, false, NULL },
	{ "on_reboot", parse_action, format_action, OFF(on_reboot), 0, 0, false, NULL },
	{ "on_crash", parse_action, format_action, OFF(on_crash), 0, 0, false, NULL },
	{ "cpu", parse_int, format_int, OFF(cpu), -1, 4095, false, NULL },
	{ "cpus", parse_cpus, format_cpus, 0, 0, 0, false, NULL },
	{ "cpu_weight", parse_uint, format_weight, OFF(cpu_weight), 1, 65535, false, NULL },
	{ "cpu_cap", parse_uint, format_uint, OFF(cpu_cap), 0, 100 * DOMAIN_VCPUS_MAX, false,
	  NULL },
	{ "console_port", parse_uint, format_uint, OFF(console_port), 0, 65535, false, NULL },
	{ "start_paused", parse_bool, format_bool, OFF(start_paused), 0, 0, false, NULL },
	{ "root_password", parse_root_password, format_nothing, 0, 0, 0, false, NULL },
	{ "root_hash", parse_root_hash, format_string, OFF(root_hash), 0, 0, false, NULL },
	{ "ssh_authorized_keys", parse_ssh_keys, format_ssh_keys, 0, 0, 0, false, NULL },
	{ "linklocal", parse_bool, format_bool, OFF(linklocal), 0, 0, false, NULL },
	{ "deflate_on_oom", parse_bool, format_bool, OFF(deflate_on_oom), 0, 0, false, NULL },
};

#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

static const struct field *field_lookup(const char *key)
{
	for (size_t i = 0; i < FIELD_COUNT; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

static void set_defaults(struct domain_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_mib = 128;
	cfg->vcpus = 1;
	cfg->on_poweroff = DOMAIN_ACTION_DESTROY;
	cfg->on_reboot = DOMAIN_ACTION_RESTART;
	cfg->on_crash = DOMAIN_ACTION_DESTROY;
	cfg->cpu = -1;
	cfg->linklocal = true;
}

/* Edit distance of two short strings (longer ones are simply "far"). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], up;

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The known field nearest to a misspelt one ("memroy" -> "memory_mib"), or NULL. */
static const char *suggest(const char *key)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < FIELD_COUNT; i++) {
		char stem[32];
		size_t d, len = strlen(fields[i].key);

		/* "memory" for "memory_mib": compare with the unit suffix off too. */
		snprintf(stem, sizeof(stem), "%s", fields[i].key);
		if (len > 4 && strcmp(stem + len - 4, "_mib") == 0)
			stem[len - 4] = 0;
		d = distance(key, fields[i].key);
		if (distance(key, stem) < d)
			d = distance(key, stem);
		if (d < best_d) {
			best_d = d;
			best = fields[i].key;
		}
	}
	return best;
}

static int parse_fields(struct json_object *obj, struct domain_config *cfg, char *err,
                        size_t errlen)
{
	struct json_object *v;
	int r;

	json_object_object_foreach(obj, key, val)
	{
		const struct field *f = field_lookup(key);

		if (!f) {
			const char *near = suggest(key);

			if (near)
				return fail(err, errlen,
				            "unknown field '%.64s' (did you mean '%s'?)", key,
				            near);
			return fail(err, errlen, "unknown field '%.64s'", key);
		}
		(void)val;
	}
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		if (!json_object_object_get_ex(obj, fields[i].key, &v)) {
			if (fields[i].required)
				return fail(err, errlen, "field '%s' is required", fields[i].key);
			continue;
		}
		r = fields[i].parse(&fields[i], v, cfg, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int domain_config_from_json(struct json_object *obj, struct domain_config *cfg, char *err,
                            size_t errlen)
{
	struct domain_config c;
	bool has_maxmem;
	int r;

	if (!json_object_is_type(obj, json_type_object))
		return fail(err, errlen, "expected a JSON object (the domain config), not %s",
		            type_name(obj));
	set_defaults(&c);
	r = parse_fields(obj, &c, err, errlen);
	if (r < 0)
		goto fail;
	if (json_object_object_get_ex(obj, "root_password", NULL) &&
	    json_object_object_get_ex(obj, "root_hash", NULL)) {
		r = fail(err, errlen,
		         "fields 'root_password' and 'root_hash': expected one of them");
		goto fail;
	}
	has_maxmem = json_object_object_get_ex(obj, "maxmem_mib", NULL);
	if (!has_maxmem)
		c.maxmem_mib = c.memory_mib;
	if (c.maxmem_mib < c.memory_mib) {
		r = fail(err, errlen, "field 'maxmem_mib': %u is less than memory_mib (%u)",
		         c.maxmem_mib, c.memory_mib);
		goto fail;
	}
	if (c.cpu >= 0 && c.cpus[0]) {
		r = fail(err, errlen, "fields 'cpu' and 'cpus' both given: use cpus alone");
		goto fail;
	}
	if (c.cpu_cap > 100 * c.vcpus) {
		r = fail(err, errlen, "field 'cpu_cap': %u%% is more than %u vCPUs can use",
		         c.cpu_cap, c.vcpus);
		goto fail;
	}
	*cfg = c;
	return 0;
fail:
	domain_config_fini(&c);
	return r;
}

struct json_object *domain_config_to_json(const struct domain_config *cfg)
{
	struct json_object *obj = json_object_new_object();

	for (size_t i = 0; obj && i < FIELD_COUNT; i++) {
		struct json_object *v = fields[i].format(&fields[i], cfg);

		if (v)
			json_object_object_add(obj, fields[i].key, v);
	}
	return obj;
}

/* Returns a malloc'd copy of s with every "${vmid}" replaced by id, or NULL (no memory). */
static char *replace_vmid(const char *s, const char *id)
{
	size_t n = 0, idlen = strlen(id);
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, "${vmid}")); p += 7)
		n++;
	out = malloc(strlen(s) + n * idlen + 1);
	if (!out)
		return NULL;
	o = out;
	for (p = s; *p;) {
		if (strncmp(p, "${vmid}", 7) == 0) {
			memcpy(o, id, idlen);
			o += idlen;
			p += 7;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return out;
}

static int subst(char **s, const char *id)
{
	char *n;

	if (!*s || !strstr(*s, "${vmid}"))
		return 0;
	n = replace_vmid(*s, id);
	if (!n)
		return -ENOMEM;
	free(*s);
	*s = n;
	return 0;
}

int domain_config_substitute(struct domain_config *cfg, unsigned int id, char *err, size_t errlen)
{
	char idstr[16];
	int r = 0;

	snprintf(idstr, sizeof(idstr), "%u", id);
	r |= subst(&cfg->name, idstr);
	r |= subst(&cfg->kernel, idstr);
	r |= subst(&cfg->ramdisk, idstr);
	r |= subst(&cfg->cmdline, idstr);
	for (size_t i = 0; i < cfg->nr_disks; i++) {
		r |= subst(&cfg->disks[i].path, idstr);
		r |= subst(&cfg->disks[i].vdev, idstr);
		r |= subst(&cfg->disks[i].backing, idstr);
	}
	if (r)
		return -ENOMEM;
	if (!domain_name_valid(cfg->name))
		return fail(
		        err, errlen,
		        "field 'name': '%s' is not a usable name (1 to %u letters, digits, '_', "
		        "'.' or '-', not all digits, not 'Domain-0')",
		        cfg->name, DOMAIN_NAME_MAX);
	if (cfg->cmdline && strlen(cfg->cmdline) > DOMAIN_CMDLINE_MAX)
		return fail(err, errlen,
		            "field 'cmdline': longer than %u bytes once ${vmid} is "
		            "replaced",
		            DOMAIN_CMDLINE_MAX);
	return 0;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int dup_strings(char ***dst, char *const *src, size_t n)
{
	int r = 0;
	char **v = calloc(n ? n : 1, sizeof(char *));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		r |= dup_str(&v[i], src[i]);
	if (r) {
		free_strings(v, n);
		return -ENOMEM;
	}
	*dst = v;
	return 0;
}

int domain_config_copy(struct domain_config *dst, const struct domain_config *src)
{
	struct domain_config c = *src;
	int r = 0;

	c.name = c.kernel = c.ramdisk = c.cmdline = c.root_hash = NULL;
	c.disks = NULL;
	c.vifs = NULL;
	c.ipaddr = NULL;
	c.ssh_keys = NULL;
	c.nr_disks = c.nr_vifs = c.nr_ipaddr = c.nr_ssh_keys = 0;
	r |= dup_str(&c.name, src->name);
	r |= dup_str(&c.root_hash, src->root_hash);
	if (dup_strings(&c.ssh_keys, src->ssh_keys, src->nr_ssh_keys) == 0)
		c.nr_ssh_keys = src->nr_ssh_keys;
	else
		r = -ENOMEM;
	r |= dup_str(&c.kernel, src->kernel);
	r |= dup_str(&c.ramdisk, src->ramdisk);
	r |= dup_str(&c.cmdline, src->cmdline);
	c.disks = calloc(src->nr_disks ? src->nr_disks : 1, sizeof(*c.disks));
	c.vifs = calloc(src->nr_vifs ? src->nr_vifs : 1, sizeof(*c.vifs));
	if (!c.disks || !c.vifs)
		r = -ENOMEM;
	if (c.disks) {
		c.nr_disks = src->nr_disks;
		for (size_t i = 0; i < src->nr_disks; i++) {
			c.disks[i] = src->disks[i];
			r |= dup_str(&c.disks[i].path, src->disks[i].path);
			r |= dup_str(&c.disks[i].vdev, src->disks[i].vdev);
			r |= dup_str(&c.disks[i].backing, src->disks[i].backing);
		}
	}
	if (c.vifs) {
		c.nr_vifs = src->nr_vifs;
		for (size_t i = 0; i < src->nr_vifs; i++) {
			r |= dup_str(&c.vifs[i].mac, src->vifs[i].mac);
			r |= dup_str(&c.vifs[i].bridge, src->vifs[i].bridge);
			if (dup_strings(&c.vifs[i].ip, src->vifs[i].ip, src->vifs[i].nr_ip) == 0)
				c.vifs[i].nr_ip = src->vifs[i].nr_ip;
			else
				r = -ENOMEM;
		}
	}
	if (dup_strings(&c.ipaddr, src->ipaddr, src->nr_ipaddr) == 0)
		c.nr_ipaddr = src->nr_ipaddr;
	else
		r = -ENOMEM;
	if (r) {
		domain_config_fini(&c);
		return -ENOMEM;
	}
	*dst = c;
	return 0;
}

void domain_config_fini(struct domain_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->cmdline);
	disks_free(cfg->disks, cfg->nr_disks);
	vifs_free(cfg->vifs, cfg->nr_vifs);
	free_strings(cfg->ipaddr, cfg->nr_ipaddr);
	free(cfg->root_hash);
	free_strings(cfg->ssh_keys, cfg->nr_ssh_keys);
	memset(cfg, 0, sizeof(*cfg));
}
