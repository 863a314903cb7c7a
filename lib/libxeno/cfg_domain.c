// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain layer of <xeno/cfg.h>: a parsed file to the JSON domain config of docs/api.md.
 * In order: every key must be in the table (cfg_keys.c); each value is type-checked,
 * ${var}-substituted and validated in file order; then the settings that depend on each
 * other are checked together, Xen 2.0's variables are folded in, the kernel command line is
 * composed as Xen 2.0's create.py did, the files named are looked for, and json-c writes the
 * result.  Runs in the caller's thread; no global state.
 */
#include "cfg_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#define MEMORY_DEFAULT_MIB 128

static int fail(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

/* "ORIGIN:LINE: KEY: message", or "FILE: message" when no setting is to blame. */
static int fail(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line, const char *fmt,
                ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cfg_fail(d->ret_error, -ENOMEM, d->cfg->name, 0, "out of memory");
	if (s)
		cfg_fail(d->ret_error, -EINVAL, s->origin, line, "%s: %s", s->key, msg);
	else
		cfg_fail(d->ret_error, -EINVAL, d->cfg->name, 0, "%s", msg);
	free(msg);
	return -EINVAL;
}

static int fail_nomem(struct cfg_dom *d)
{
	return cfg_fail(d->ret_error, -ENOMEM, d->cfg->name, 0, "out of memory");
}

/* ---- ${var} substitution ---- */

struct buf {
	char *s;
	size_t len;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	char *p;

	if (b->len + n > XENO_CFG_STRING_MAX)
		return -E2BIG;
	p = realloc(b->s, b->len + n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + b->len, s, n);
	b->len += n;
	p[b->len] = 0;
	b->s = p;
	return 0;
}

static int subst_setting(struct cfg_dom *d, const struct cfg_setting *ref, const char **ret);

/* The text ${name} stands for, from the setting name; *ret is borrowed. */
static int subst_var(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                     const char *name, char *num, size_t num_len, const char **ret)
{
	const struct cfg_setting *ref;

	if (!cfg_key_valid(name, strlen(name)))
		return fail(d, s, line,
		            "${%.64s} is not a variable (expected ${NAME} with NAME a "
		            "key name)",
		            name);
	ref = cfg_find(d->cfg, name);
	if (!ref && !strcmp(name, "vmid")) {
		*ret = "${vmid}"; /* xend gives the id */
		return 0;
	}
	if (!ref)
		return fail(d, s, line,
		            "${%s}: no such setting (expected the name of a setting of "
		            "this config, or vmid)",
		            name);
	if (ref->value.type == CFG_NUMBER) {
		snprintf(num, num_len, "%lld", ref->value.num);
		*ret = num;
		return 0;
	}
	if (ref->value.type == CFG_LIST)
		return fail(d, s, line, "${%s} is a list (expected a string or integer setting)",
		            name);
	return subst_setting(d, ref, ret);
}

/* text with each ${var} replaced, into *ret (malloc'd). */
static int subst(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                 const char *text, char **ret)
{
	struct buf b = { NULL, 0 };
	const char *p = text;
	int r = 0;

	while (r == 0) {
		const char *dollar = strstr(p, "${"), *close, *val;
		char name[XENO_CFG_KEY_MAX + 1], num[32];

		r = buf_add(&b, p, dollar ? (size_t)(dollar - p) : strlen(p));
		if (r < 0 || !dollar)
			break;
		close = strchr(dollar + 2, '}');
		if (!close) {
			r = fail(d, s, line, "unterminated ${ in '%.80s' (expected ${NAME})", text);
			break;
		}
		if ((size_t)(close - dollar - 2) > XENO_CFG_KEY_MAX) {
			r = fail(d, s, line,
			         "${%.40s...} is not a variable (expected ${NAME} with "
			         "NAME a key name)",
			         dollar + 2);
			break;
		}
		memcpy(name, dollar + 2, (size_t)(close - dollar - 2));
		name[close - dollar - 2] = 0;
		r = subst_var(d, s, line, name, num, sizeof(num), &val);
		if (r == 0)
			r = buf_add(&b, val, strlen(val));
		p = close + 1;
	}
	if (r == 0 && !b.s && !(b.s = strdup("")))
		r = -ENOMEM;
	if (r == -E2BIG)
		r = fail(d, s, line,
		         "longer than %d bytes once ${var} are replaced (expected at "
		         "most %d)",
		         XENO_CFG_STRING_MAX, XENO_CFG_STRING_MAX);
	else if (r == -ENOMEM)
		r = fail_nomem(d);
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s;
	return 0;
}

/* A string setting's substituted text, computed once; a loop of references is an error. */
static int subst_setting(struct cfg_dom *d, const struct cfg_setting *ref, const char **ret)
{
	size_t i = (size_t)(ref - d->cfg->settings);
	int r;

	if (!d->subst[i]) {
		if (d->subst_busy[i])
			return fail(d, ref, ref->line,
			            "its ${var} references lead back to %s (expected settings that "
			            "do not refer to each other in a loop)",
			            ref->key);
		d->subst_busy[i] = 1;
		r = subst(d, ref, ref->value.line, ref->value.str, &d->subst[i]);
		d->subst_busy[i] = 0;
		if (r < 0)
			return r;
	}
	*ret = d->subst[i];
	return 0;
}

/* ---- Resolving each setting ---- */

static int find_key(const char *name)
{
	for (int k = 0; k < K_COUNT; k++) {
		if (!strcmp(cfg_keys[k].name, name))
			return k;
	}
	return -1;
}

static int check_keys(struct cfg_dom *d)
{
	const char *names[K_COUNT];

	for (int k = 0; k < K_COUNT; k++)
		names[k] = cfg_keys[k].name;
	for (size_t i = 0; i < d->cfg->n_settings; i++) {
		const struct cfg_setting *s = &d->cfg->settings[i];
		int k = find_key(s->key);

		if (k < 0)
			return cfg_fail_unknown_key(d->ret_error, s, names, K_COUNT);
		d->v[k].s = s;
	}
	return 0;
}

static int resolve_int(struct cfg_dom *d, const struct cfg_key *key, const struct cfg_setting *s,
                       struct cfg_dom_value *v)
{
	long long n = s->value.num;

	if (s->value.type != CFG_NUMBER)
		return fail(d, s, s->line, "expected an integer, got %s",
		            cfg_value_kind(&s->value));
	if (n < key->min && key->min_reason)
		return fail(d, s, s->line,
		            "%lld%s is too small: %s than %lld%s (expected %lld to %lld%s)", n,
		            key->unit, key->min_reason, key->min, key->unit, key->min, key->max,
		            key->unit);
	if (n < key->min || n > key->max)
		return fail(d, s, s->line, "%lld%s is out of range (expected %lld to %lld%s)", n,
		            key->unit, key->min, key->max, key->unit);
	v->num = n;
	return 0;
}

static int resolve_string(struct cfg_dom *d, const struct cfg_key *key, const struct cfg_setting *s,
                          struct cfg_dom_value *v)
{
	const char *text;
	int r;

	r = subst_setting(d, s, &text);
	if (r < 0)
		return r;
	v->str = strdup(text);
	if (!v->str)
		return fail_nomem(d);
	return key->check ? key->check(d, s, s->value.line, v->str) : 0;
}

static int resolve_list(struct cfg_dom *d, const struct cfg_key *key, const struct cfg_setting *s,
                        struct cfg_dom_value *v)
{
	const struct cfg_value *items = &s->value;
	size_t n = 1;
	int r;

	if (s->value.type == CFG_NUMBER)
		return fail(d, s, s->line, "expected a list of strings or a string, got %s",
		            cfg_value_kind(&s->value));
	if (s->value.type == CFG_LIST) {
		items = s->value.items;
		n = s->value.n_items;
	}
	v->list = calloc(n + 1, sizeof(*v->list));
	if (!v->list)
		return fail_nomem(d);
	for (size_t i = 0; i < n; i++) {
		const char *text;

		if (items[i].type != CFG_STRING)
			return fail(d, s, items[i].line, "item %zu: expected a string, got %s",
			            i + 1, cfg_value_kind(&items[i]));
		if (s->value.type == CFG_STRING) {
			/* One string is a list of one; it may be ${}-referenced, so memoized. */
			r = subst_setting(d, s, &text);
			if (r == 0 && !(v->list[i] = strdup(text)))
				r = fail_nomem(d);
		} else {
			r = subst(d, s, items[i].line, items[i].str, &v->list[i]);
		}
		if (r < 0)
			return r;
		v->n++;
		if (key->check) {
			r = key->check(d, s, items[i].line, v->list[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ip = "a,b" (Xen 2.0's form of a list): the string becomes a list of its parts. */
static int split_commas(struct cfg_dom *d, struct cfg_dom_value *v)
{
	char *save = NULL;
	size_t n = 1;

	for (const char *p = v->str; *p; p++)
		n += *p == ',';
	v->list = calloc(n + 1, sizeof(*v->list));
	if (!v->list)
		return fail_nomem(d);
	for (char *a = strtok_r(v->str, ", \t", &save); a; a = strtok_r(NULL, ", \t", &save)) {
		v->list[v->n] = strdup(a);
		if (!v->list[v->n])
			return fail_nomem(d);
		v->n++;
	}
	v->is_list = true;
	return 0;
}

static int resolve(struct cfg_dom *d, const struct cfg_setting *s)
{
	int k = find_key(s->key);
	const struct cfg_key *key = &cfg_keys[k];
	struct cfg_dom_value *v = &d->v[k];
	int r;

	if (key->kind == KIND_INT)
		return resolve_int(d, key, s, v);
	if (key->kind == KIND_LIST)
		return resolve_list(d, key, s, v);
	if (key->kind == KIND_STRING_OR_LIST && s->value.type == CFG_LIST) {
		v->is_list = true;
		return resolve_list(d, key, s, v);
	}
	if (s->value.type != CFG_STRING)
		return fail(d, s, s->line, "expected %s, got %s",
		            key->kind == KIND_STRING ? "a string" : "a string or a list of strings",
		            cfg_value_kind(&s->value));
	r = resolve_string(d, key, s, v);
	if (r == 0 && key->kind == KIND_STRING_OR_LIST && strchr(v->str, ','))
		r = split_commas(d, v);
	return r;
}

/* ---- Settings checked together ---- */

static bool has(const struct cfg_dom *d, enum cfg_key_id k)
{
	return d->v[k].s != NULL;
}

static long long num_or(const struct cfg_dom *d, enum cfg_key_id k, long long def)
{
	return has(d, k) ? d->v[k].num : def;
}

static int check_required(struct cfg_dom *d)
{
	if (!has(d, K_NAME))
		return fail(d, NULL, 0, "name is not set (expected name = \"NAME\")");
	if (!has(d, K_KERNEL))
		return fail(d, NULL, 0,
		            "kernel is not set (expected kernel = \"/path/to/vmlinuz\")");
	return 0;
}

static int check_together(struct cfg_dom *d)
{
	long long memory = num_or(d, K_MEMORY, MEMORY_DEFAULT_MIB);
	long long vcpus = num_or(d, K_VCPUS, 1);

	if (has(d, K_MAXMEM) && d->v[K_MAXMEM].num < memory)
		return fail(d, d->v[K_MAXMEM].s, d->v[K_MAXMEM].s->line,
		            "%lld MiB is less than memory, %lld MiB (expected maxmem >= memory)",
		            d->v[K_MAXMEM].num, memory);
	if (has(d, K_CPU_CAP) && has(d, K_CAP))
		return fail(d, d->v[K_CAP].s, d->v[K_CAP].s->line,
		            "cap and cpu_cap are the same setting (expected one of them)");
	if (has(d, K_CPU) && has(d, K_CPUS))
		return fail(d, d->v[K_CPUS].s, d->v[K_CPUS].s->line,
		            "cpu and cpus both given (expected cpus alone)");
	for (size_t i = 0; i < 2; i++) {
		int k = i ? K_CAP : K_CPU_CAP;

		if (has(d, k) && d->v[k].num > 100 * vcpus)
			return fail(d, d->v[k].s, d->v[k].s->line,
			            "%lld%% is more than %lld vCPU(s) can use (expected 0 to %lld)",
			            d->v[k].num, vcpus, 100 * vcpus);
	}
	if (has(d, K_NFS_ROOT) && !has(d, K_NFS_SERVER))
		return fail(d, d->v[K_NFS_ROOT].s, d->v[K_NFS_ROOT].s->line,
		            "no nfs_server (expected nfs_server = \"ADDRESS\" with nfs_root)");
	if (has(d, K_IP) && d->v[K_IP].is_list && has(d, K_IPADDR))
		return fail(d, d->v[K_IP].s, d->v[K_IP].s->line,
		            "a list of addresses means ipaddr, which is set too (expected only one "
		            "of them)");
	return 0;
}

/* ---- Xen 2.0's variables and the kernel command line ---- */

/* The addresses routed to the domain: ipaddr, or ip as a list, or ip's one address. */
static void routed_addresses(const struct cfg_dom *d, char *const **ret, size_t *n)
{
	static char *const none[] = { NULL };
	const struct cfg_dom_value *ip = &d->v[K_IP];

	*ret = none;
	*n = 0;
	if (has(d, K_IPADDR)) {
		*ret = d->v[K_IPADDR].list;
		*n = d->v[K_IPADDR].n;
	} else if (ip->s && ip->is_list) {
		*ret = ip->list;
		*n = ip->n;
	} else if (ip->s) {
		*ret = &ip->str;
		*n = 1;
	}
}

static const char *str_or(const struct cfg_dom *d, enum cfg_key_id k, const char *def)
{
	return has(d, k) ? d->v[k].str : def;
}

/*
 * Linux's ip=IP:SERVER:GW:MASK:HOST:IFACE:AUTOCONF, when a part of it other than the address
 * is set.  An address alone is left to xend, which knows the gateway of its routed network
 * and writes the ip= word itself.
 */
static int compose_ip(const struct cfg_dom *d, char **ret)
{
	const char *addr = "";
	char *const *routed;
	size_t n;

	*ret = NULL;
	if (!has(d, K_GATEWAY) && !has(d, K_NETMASK) && !has(d, K_HOSTNAME) &&
	    !has(d, K_INTERFACE) && !has(d, K_DHCP))
		return 0;
	routed_addresses(d, &routed, &n);
	if (n)
		addr = routed[0];
	if (asprintf(ret, "ip=%s:%s:%s:%s:%s:%s:%s", addr, str_or(d, K_NFS_SERVER, ""),
	             str_or(d, K_GATEWAY, ""), str_or(d, K_NETMASK, ""), str_or(d, K_HOSTNAME, ""),
	             str_or(d, K_INTERFACE, "eth0"),
	             !strcmp(str_or(d, K_DHCP, "off"), "dhcp") ? "dhcp" : "off") < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int add_word(struct buf *b, const char *word)
{
	int r = 0;

	if (!word || !*word)
		return 0;
	if (b->len)
		r = buf_add(b, " ", 1);
	return r ?: buf_add(b, word, strlen(word));
}

/*
 * cmdline if set, else "root=ROOT EXTRA" (root=/dev/nfs for an NFS root); then ip= and
 * nfsroot= from Xen 2.0's variables.
 */
static int compose_cmdline(struct cfg_dom *d, char **ret)
{
	char *root = NULL, *ip = NULL, *nfs = NULL;
	struct buf b = { NULL, 0 };
	const char *r_text = str_or(d, K_ROOT, has(d, K_NFS_ROOT) ? "/dev/nfs" : NULL);
	int r;

	if (r_text && !strncmp(r_text, "root=", 5))
		r_text += 5; /* Xen 2.0 took root = "root=/dev/sda1" as well */
	r = compose_ip(d, &ip);
	if (r == 0 && r_text && asprintf(&root, "root=%s", r_text) < 0) {
		root = NULL;
		r = -ENOMEM;
	}
	if (r == 0 && has(d, K_NFS_ROOT) &&
	    asprintf(&nfs, "nfsroot=%s:%s", d->v[K_NFS_SERVER].str, d->v[K_NFS_ROOT].str) < 0) {
		nfs = NULL;
		r = -ENOMEM;
	}
	if (r == 0 && has(d, K_CMDLINE))
		r = add_word(&b, d->v[K_CMDLINE].str);
	else if (r == 0)
		r = add_word(&b, root) ?: add_word(&b, str_or(d, K_EXTRA, NULL));
	if (r == 0)
		r = add_word(&b, ip) ?: add_word(&b, nfs);
	free(root);
	free(ip);
	free(nfs);
	if (r == -E2BIG || (r == 0 && b.len > VM_CMDLINE_MAX))
		r = fail(d, NULL, 0,
		         "the kernel command line is longer than %u bytes (expected at "
		         "most %u)",
		         VM_CMDLINE_MAX, VM_CMDLINE_MAX);
	else if (r < 0)
		r = fail_nomem(d);
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s ? b.s : strdup("");
	return *ret ? 0 : fail_nomem(d);
}

/* restart = onreboot|always|never gives the on_* actions their defaults. */
static const char *action(const struct cfg_dom *d, enum cfg_key_id k)
{
	const char *restart = str_or(d, K_RESTART, NULL);

	if (has(d, k))
		return d->v[k].str;
	if (restart && !strcmp(restart, "always"))
		return "restart";
	if (restart && !strcmp(restart, "never"))
		return "destroy";
	return k == K_ON_REBOOT ? "restart" : "destroy";
}

/* ---- Files ---- */

static int check_file(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *path, bool block_ok)
{
	struct stat st;

	if (strstr(path, "${vmid}"))
		return 0; /* named after the domain id: xend's to find */
	if (stat(path, &st) < 0) {
		int err = errno;

		fail(d, s, line, "'%s': %s (expected an existing file)", path, strerror(err));
		return -err;
	}
	if (S_ISREG(st.st_mode) || (block_ok && S_ISBLK(st.st_mode)))
		return 0;
	return fail(d, s, line, "'%s' is a %s (expected %s)", path,
	            S_ISDIR(st.st_mode)   ? "directory"
	            : S_ISBLK(st.st_mode) ? "block device"
	            : S_ISCHR(st.st_mode) ? "character device"
	                                  : "special file",
	            block_ok ? "a regular file or a block device" : "a regular file");
}

/*
 * An overlay (backing=) need not exist yet: xend creates it, so a config can name one per
 * domain ("${name}-root.qcow2").  Its base must exist, and so must a target that is there.
 */
static int check_disk_files(struct cfg_dom *d, const struct cfg_disk *disk)
{
	struct stat st;

	if (!disk->backing)
		return check_file(d, disk->s, disk->line, disk->path, true);
	if (stat(disk->path, &st) == 0 || errno != ENOENT) {
		int r = check_file(d, disk->s, disk->line, disk->path, true);

		if (r < 0)
			return r;
	}
	return check_file(d, disk->s, disk->line, disk->backing, true);
}

static int check_files(struct cfg_dom *d)
{
	int r;

	r = check_file(d, d->v[K_KERNEL].s, d->v[K_KERNEL].s->value.line, d->v[K_KERNEL].str,
	               false);
	if (r == 0 && has(d, K_RAMDISK))
		r = check_file(d, d->v[K_RAMDISK].s, d->v[K_RAMDISK].s->value.line,
		               d->v[K_RAMDISK].str, false);
	for (size_t i = 0; r == 0 && i < d->n_disks; i++)
		r = check_disk_files(d, &d->disks[i]);
	return r;
}

/* ---- JSON ---- */

static int put(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *string_array(char *const *list, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		struct json_object *s = json_object_new_string(list[i]);

		if (!s || json_object_array_add(a, s) < 0) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *disk_json(const struct cfg_disk *disk)
{
	struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return NULL;
	r = put(o, "path", json_object_new_string(disk->path));
	r = r ?: put(o, "vdev", json_object_new_string(disk->vdev));
	r = r ?: put(o, "readonly", json_object_new_boolean(disk->readonly));
	r = r ?: put(o, "format", json_object_new_string(disk->format));
	/* Only what differs from the defaults, so that plain disks read as before. */
	if (disk->force)
		r = r ?: put(o, "force", json_object_new_boolean(true));
	if (disk->cdrom)
		r = r ?: put(o, "devtype", json_object_new_string("cdrom"));
	if (disk->backing)
		r = r ?: put(o, "backing", json_object_new_string(disk->backing));
	if (disk->cache && strcmp(disk->cache, "writeback"))
		r = r ?: put(o, "cache", json_object_new_string(disk->cache));
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * The vif entries, then plain ones up to nics.  Without nics, a config that gives addresses
 * or asks for DHCP but no vif gets one interface, as Xen 2.0's nics = 1 default gave it.
 */
static struct json_object *vifs_json(const struct cfg_dom *d)
{
	struct json_object *a = json_object_new_array();
	char *const *routed;
	size_t n_routed, total = d->n_vifs;

	routed_addresses(d, &routed, &n_routed);
	if (has(d, K_NICS) && d->v[K_NICS].num > (long long)total)
		total = (size_t)d->v[K_NICS].num;
	else if (!has(d, K_NICS) && !total && (n_routed || !strcmp(str_or(d, K_DHCP, ""), "dhcp")))
		total = 1;
	for (size_t i = 0; a && i < total; i++) {
		const struct cfg_vif *vif = i < d->n_vifs ? &d->vifs[i] : NULL;
		struct json_object *o = json_object_new_object();

		if (!o ||
		    (vif && vif->mac && put(o, "mac", json_object_new_string(vif->mac)) < 0) ||
		    put(o, "ip", string_array(vif ? vif->ips : NULL, vif ? vif->n_ips : 0)) < 0 ||
		    (vif && vif->bridge &&
		     put(o, "bridge", json_object_new_string(vif->bridge)) < 0) ||
		    json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *disks_json(const struct cfg_dom *d)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < d->n_disks; i++) {
		struct json_object *o = disk_json(&d->disks[i]);

		if (!o || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static int build_json(struct cfg_dom *d, const char *cmdline, char **ret)
{
	long long memory = num_or(d, K_MEMORY, MEMORY_DEFAULT_MIB);
	struct json_object *o = json_object_new_object();
	char *const *routed;
	size_t n_routed;
	int r;

	routed_addresses(d, &routed, &n_routed);
	r = o ? 0 : -ENOMEM;
	r = r ?: put(o, "name", json_object_new_string(d->v[K_NAME].str));
	r = r ?: put(o, "kernel", json_object_new_string(d->v[K_KERNEL].str));
	if (has(d, K_RAMDISK))
		r = r ?: put(o, "ramdisk", json_object_new_string(d->v[K_RAMDISK].str));
	r = r ?: put(o, "cmdline", json_object_new_string(cmdline));
	r = r ?: put(o, "memory_mib", json_object_new_int64(memory));
	r = r ?: put(o, "maxmem_mib", json_object_new_int64(num_or(d, K_MAXMEM, memory)));
	r = r ?: put(o, "vcpus", json_object_new_int64(num_or(d, K_VCPUS, 1)));
	r = r ?: put(o, "disks", disks_json(d));
	r = r ?: put(o, "vifs", vifs_json(d));
	r = r ?: put(o, "ipaddr", string_array(routed, n_routed));
	r = r ?: put(o, "on_poweroff", json_object_new_string(action(d, K_ON_POWEROFF)));
	r = r ?: put(o, "on_reboot", json_object_new_string(action(d, K_ON_REBOOT)));
	r = r ?: put(o, "on_crash", json_object_new_string(action(d, K_ON_CRASH)));
	r = r ?: put(o, "cpu", json_object_new_int64(num_or(d, K_CPU, -1)));
	/* Left out when not given: xend puts a domain given a weight in a cgroup of its own. */
	if (has(d, K_CPU_WEIGHT))
		r = r ?: put(o, "cpu_weight", json_object_new_int64(d->v[K_CPU_WEIGHT].num));
	r = r
	            ?: put(o, "cpu_cap",
	                   json_object_new_int64(num_or(d, K_CPU_CAP, num_or(d, K_CAP, 0))));
	if (has(d, K_CPUS))
		r = r ?: put(o, "cpus", json_object_new_string(d->v[K_CPUS].str));
	if (has(d, K_CONSOLE))
		r = r ?: put(o, "console_port", json_object_new_int64(d->v[K_CONSOLE].num));
	r = r ?: put(o, "start_paused", json_object_new_boolean(false));
	if (has(d, K_ROOT_PASSWORD))
		r = r ?: put(o, "root_password", json_object_new_string(d->v[K_ROOT_PASSWORD].str));
	if (has(d, K_SSH_KEY))
		r = r
		            ?: put(o, "ssh_authorized_keys",
		                   string_array(d->v[K_SSH_KEY].list, d->v[K_SSH_KEY].n));
	if (has(d, K_DEFLATE_ON_OOM))
		r = r
		            ?: put(o, "deflate_on_oom",
		                   json_object_new_boolean(d->v[K_DEFLATE_ON_OOM].num != 0));
	if (has(d, K_LINKLOCAL))
		r = r ?: put(o, "linklocal", json_object_new_boolean(d->v[K_LINKLOCAL].num != 0));
	if (r == 0) {
		const char *text = json_object_to_json_string_ext(
		        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		*ret = text ? strdup(text) : NULL;
		r = *ret ? 0 : -ENOMEM;
	}
	json_object_put(o);
	return r < 0 ? fail_nomem(d) : 0;
}

/* ---- The entry point ---- */

static void dom_free(struct cfg_dom *d)
{
	for (int k = 0; k < K_COUNT; k++) {
		free(d->v[k].str);
		for (size_t i = 0; i < d->v[k].n; i++)
			free(d->v[k].list[i]);
		free(d->v[k].list);
	}
	for (size_t i = 0; d->subst && i < d->cfg->n_settings; i++)
		free(d->subst[i]);
	free(d->subst);
	free(d->subst_busy);
	for (size_t i = 0; i < d->n_disks; i++) {
		cfg_disk_free(&d->disks[i]);
	}
	for (size_t i = 0; i < d->n_vifs; i++)
		cfg_vif_free(&d->vifs[i]);
}

int xeno_cfg_domain_json(const struct xeno_cfg *cfg, char **ret_json, char **ret_error)
{
	struct cfg_dom d;
	char *cmdline = NULL;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!cfg || !ret_json)
		return cfg_fail(ret_error, -EINVAL, "?", 0,
		                "a config and a place for the JSON are "
		                "required");
	*ret_json = NULL;
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.ret_error = ret_error;
	d.subst = calloc(cfg->n_settings + 1, sizeof(*d.subst));
	d.subst_busy = calloc(cfg->n_settings + 1, 1);
	if (!d.subst || !d.subst_busy) {
		r = fail_nomem(&d);
		goto out;
	}
	r = check_keys(&d);
	for (size_t i = 0; r == 0 && i < cfg->n_settings; i++)
		r = resolve(&d, &cfg->settings[i]);
	if (r == 0)
		r = check_required(&d);
	if (r == 0)
		r = check_together(&d);
	if (r == 0)
		r = compose_cmdline(&d, &cmdline);
	if (r == 0)
		r = check_files(&d);
	if (r == 0)
		r = build_json(&d, cmdline, ret_json);
out:
	free(cmdline);
	dom_free(&d);
	return r;
}
