// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain key table: each key of a domain config with its type, range, validator and
 * one line of documentation (xeno.cfg(5) documents each row; tests/unit/test_cfg.c checks
 * that it does).  Adding a key is one row here and, if it reaches the JSON, a line in
 * cfg_domain.c.  Validators see strings after ${var} substitution; the disk and vif ones
 * also record what they parsed.  Runs in the caller's thread; no global state.
 */
#include "cfg_internal.h"
#include "common/cpulist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW "%.80s" /* how much of a user's string a message repeats */

static int fail_at(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                   const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cfg_fail(d->ret_error, -ENOMEM, s->origin, 0, "out of memory");
	cfg_fail(d->ret_error, -EINVAL, s->origin, line, "%s: %s", s->key, msg);
	free(msg);
	return -EINVAL;
}

static int fail_nomem(struct cfg_dom *d, const struct cfg_setting *s)
{
	return cfg_fail(d->ret_error, -ENOMEM, s->origin, 0, "out of memory");
}

bool cfg_ipv4_valid(const char *s)
{
	struct in_addr a;

	/* inet_pton takes exactly four decimal parts, so "10.1" and "010.0.0.1" fail. */
	return inet_pton(AF_INET, s, &a) == 1;
}

static bool only_chars(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	}
	return true;
}

/* ---- Validators of single strings ---- */

static int check_name(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	static const char vmid[] = "${vmid}";
	size_t len = strlen(text);

	if (len == 0 || len > VM_NAME_MAX)
		return fail_at(d, s, line, "'" SHOW "' is %zu bytes long (expected 1 to %u)", text,
		               len, VM_NAME_MAX);
	for (const char *p = text; *p; p++) {
		/* A literal ${vmid} is allowed: xend replaces it with digits. */
		if (!strncmp(p, vmid, sizeof(vmid) - 1)) {
			p += sizeof(vmid) - 2;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return fail_at(d, s, line,
			               "'" SHOW "' has characters other than letters, digits, '_', "
			               "'.' and '-' (expected a name such as \"web-1\")",
			               text);
	}
	return 0;
}

static int check_path(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	if (text[0] != '/')
		return fail_at(d, s, line,
		               "'" SHOW "' is not an absolute path (expected a path "
		               "starting with '/')",
		               text);
	if (strlen(text) >= VM_PATH_MAX)
		return fail_at(d, s, line, "path is longer than %u bytes (expected at most %u)",
		               VM_PATH_MAX - 1, VM_PATH_MAX - 1);
	return 0;
}

/* Text that goes into the kernel command line: no control characters but tabs. */
static int check_cmdline_text(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                              const char *text)
{
	for (const char *p = text; *p; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return fail_at(d, s, line,
			               "control character 0x%02x (expected printable text for the "
			               "kernel command line)",
			               (unsigned char)*p);
	}
	return 0;
}

static int check_action(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                        const char *text)
{
	if (!strcmp(text, "destroy") || !strcmp(text, "restart") || !strcmp(text, "preserve"))
		return 0;
	return fail_at(d, s, line,
	               "'" SHOW "' is not an action (expected destroy, restart or "
	               "preserve)",
	               text);
}

static int check_restart(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                         const char *text)
{
	if (!strcmp(text, "onreboot") || !strcmp(text, "always") || !strcmp(text, "never"))
		return 0;
	return fail_at(d, s, line,
	               "'" SHOW "' is not a restart policy (expected onreboot, "
	               "always or never)",
	               text);
}

static int check_builder(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                         const char *text)
{
	if (!strcmp(text, "linux"))
		return 0;
	return fail_at(d, s, line, "'" SHOW "' is not supported (expected 'linux')", text);
}

static int check_ipv4(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	if (cfg_ipv4_valid(text))
		return 0;
	return fail_at(d, s, line,
	               "'" SHOW "' is not an IPv4 address (expected a dotted quad "
	               "such as 10.0.0.3)",
	               text);
}

/* cpus: a CPU list; whether the host has those CPUs is xend's to say. */
static int check_cpus(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	cpu_set_t set;

	if (cpulist_parse(text, CPU_SETSIZE, &set, NULL) == 0)
		return 0;
	return fail_at(d, s, line,
	               "'" SHOW "' is not a CPU list (expected e.g. \"0-3,6\" or \"all\")", text);
}

static char *trim_field(char *f);

/* ip: one address, or several separated by commas (Xen 2.0's ip = "a,b"). */
static int check_ip(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                    const char *text)
{
	char *copy, *save = NULL;
	int r = 0;

	if (!strchr(text, ','))
		return check_ipv4(d, s, line, text);
	copy = strdup(text);
	if (!copy)
		return fail_nomem(d, s);
	for (char *a = strtok_r(copy, ",", &save); a && r == 0; a = strtok_r(NULL, ",", &save)) {
		a = trim_field(a);
		if (!cfg_ipv4_valid(a))
			r = fail_at(d, s, line,
			            "'" SHOW "': '" SHOW
			            "' is not an IPv4 address (expected dotted "
			            "quads separated by commas, such as \"10.0.0.3,10.0.0.4\")",
			            text, a);
	}
	free(copy);
	return r;
}

/* root_password: what root's password becomes in the guest (xend keeps only its hash). */
static int check_password(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                          const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > 256)
		return fail_at(d, s, line, "the password is %s (expected 1 to 256 characters)",
		               len ? "too long" : "empty");
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail_at(d, s, line,
			               "the password holds a control character (expected printable "
			               "characters)");
	return 0;
}

/* ssh_authorized_key: one authorized_keys line ("ssh-ed25519 AAAA... comment"). */
static int check_ssh_key(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                         const char *text)
{
	static const char *const types[] = { "ssh-", "ecdsa-", "sk-", NULL };
	const char *space = strchr(text, ' ');
	bool typed = false;

	for (size_t i = 0; types[i]; i++)
		typed = typed || !strncmp(text, types[i], strlen(types[i]));
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			typed = false;
	if (!typed || !space || space[1] == 0 || space[1] == ' ' || strlen(text) > 8192)
		return fail_at(d, s, line,
		               "'%.40s...' is not a public key (expected an authorized_keys line "
		               "such as \"ssh-ed25519 AAAAC3Nza... user@host\")",
		               text);
	return 0;
}

static int check_hostname(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                          const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > 64 || !only_chars(text, ".-") || text[0] == '-' || text[0] == '.')
		return fail_at(d, s, line,
		               "'" SHOW "' is not a host name (expected 1 to 64 letters, digits, "
		               "'-' and '.', such as \"web1.example.org\")",
		               text);
	return 0;
}

static int check_interface(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                           const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > 15 || !only_chars(text, "_.-"))
		return fail_at(d, s, line,
		               "'" SHOW "' is not an interface name (expected 1 to 15 letters, "
		               "digits, '_', '.' and '-', such as eth0)",
		               text);
	return 0;
}

static int check_dhcp(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	if (!strcmp(text, "dhcp") || !strcmp(text, "off"))
		return 0;
	return fail_at(d, s, line, "'" SHOW "' is not a DHCP setting (expected 'dhcp' or 'off')",
	               text);
}

/* ---- disk: 'TARGET,VDEV,ACCESS' and friends ---- */

enum {
	DISK_TARGET,
	DISK_FORMAT,
	DISK_VDEV,
	DISK_ACCESS,
	DISK_DEVTYPE,
	DISK_BACKING,
	DISK_CACHE,
	DISK_KEYS
};

struct disk_spec {
	const char *field[DISK_KEYS];
};

/*
 * xl's keys, then xeno's: backing= (a per-domain qcow2 overlay on a shared base) and cache=
 * (the host page cache's part, as QEMU's -drive cache=).
 */
static const char *const disk_keys[DISK_KEYS] = { "target",  "format",  "vdev", "access",
	                                          "devtype", "backing", "cache" };

/* Positional fields by count: xl's [target, format, vdev, access], Xen 2.0's 3 fields. */
static const int disk_positional[5][4] = {
	{ -1 },
	{ DISK_TARGET, -1 },
	{ DISK_TARGET, DISK_VDEV, -1 },
	{ DISK_TARGET, DISK_VDEV, DISK_ACCESS, -1 },
	{ DISK_TARGET, DISK_FORMAT, DISK_VDEV, DISK_ACCESS },
};

#define DISK_FORM "(expected 'TARGET,VDEV,ACCESS' such as 'file:/srv/web.img,xvda,w')"

static char *trim_field(char *f)
{
	char *end = f + strlen(f);

	while (*f == ' ' || *f == '\t')
		f++;
	while (end > f && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = 0;
	return f;
}

/* Whether f is "word=value" with word in [a-z_]: an option rather than a path. */
static bool is_option(const char *f)
{
	const char *eq = strchr(f, '=');

	if (!eq || eq == f)
		return false;
	for (const char *p = f; p < eq; p++) {
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return false;
	}
	return true;
}

static int disk_split(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text, char *copy, struct disk_spec *spec)
{
	const char *pos[4];
	size_t n_pos = 0;
	char *f, *save = NULL;

	memset(spec, 0, sizeof(*spec));
	for (f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		size_t k;

		f = trim_field(f);
		if (!is_option(f)) {
			if (n_pos == 4)
				return fail_at(d, s, line,
				               "'" SHOW "' has more than 4 positional "
				               "fields (expected TARGET,VDEV,ACCESS)",
				               text);
			pos[n_pos++] = f;
			continue;
		}
		for (k = 0; k < DISK_KEYS; k++) {
			size_t kl = strlen(disk_keys[k]);

			if (!strncmp(f, disk_keys[k], kl) && f[kl] == '=')
				break;
		}
		if (k == DISK_KEYS)
			return fail_at(d, s, line,
			               "'" SHOW "': unknown option '%.*s' (expected target=, "
			               "format=, vdev=, access=, devtype=, backing= or cache=)",
			               text, (int)(strchr(f, '=') - f), f);
		if (spec->field[k])
			return fail_at(d, s, line, "'" SHOW "' gives %s twice (expected it once)",
			               text, disk_keys[k]);
		spec->field[k] = strchr(f, '=') + 1;
	}
	for (size_t i = 0; i < n_pos; i++) {
		int k = disk_positional[n_pos][i];

		if (spec->field[k])
			return fail_at(d, s, line, "'" SHOW "' gives %s twice (expected it once)",
			               text, disk_keys[k]);
		spec->field[k] = pos[i];
	}
	return 0;
}

/* 'file:', 'raw:', 'aio:', 'tap:aio:' name an image; 'phy:' a device, /dev/ implied. */
static int disk_target(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                       const char *text, const char *target, char **ret)
{
	static const char *const image_prefixes[] = { "file:", "raw:", "tap:aio:", "aio:" };
	const char *path = target;
	bool phy = false;

	for (size_t i = 0; i < sizeof(image_prefixes) / sizeof(image_prefixes[0]); i++) {
		if (!strncmp(target, image_prefixes[i], strlen(image_prefixes[i])))
			path = target + strlen(image_prefixes[i]);
	}
	if (!strncmp(target, "phy:", 4)) {
		path = target + 4;
		phy = true;
	}
	if (path == target && strchr(target, ':') && target[0] != '/')
		return fail_at(d, s, line,
		               "'" SHOW "': unknown target prefix in '" SHOW "' (expected file:, "
		               "phy: or raw:, or none)",
		               text, target);
	if (!*path)
		return fail_at(d, s, line, "'" SHOW "' has an empty target (expected a path)",
		               text);
	if (phy && path[0] != '/') {
		if (asprintf(ret, "/dev/%s", path) < 0)
			return fail_nomem(d, s);
	} else {
		if (path[0] != '/')
			return fail_at(d, s, line,
			               "'" SHOW "': target '" SHOW "' is not an absolute path "
			               "(expected a path starting with '/')",
			               text, path);
		*ret = strdup(path);
		if (!*ret)
			return fail_nomem(d, s);
	}
	if (strlen(*ret) >= VM_PATH_MAX) {
		free(*ret);
		*ret = NULL;
		return fail_at(d, s, line,
		               "target path is longer than %u bytes (expected at most "
		               "%u)",
		               VM_PATH_MAX - 1, VM_PATH_MAX - 1);
	}
	return 0;
}

/* xvda, hdb, sdc, vdd, with an optional partition number as Xen 2.0 used (sda1). */
static bool vdev_valid(const char *v)
{
	static const char *const prefixes[] = { "xvd", "hd", "sd", "vd" };
	size_t letters = 0, digits = 0;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (!strncmp(v, prefixes[i], strlen(prefixes[i]))) {
			v += strlen(prefixes[i]);
			for (; *v >= 'a' && *v <= 'z'; v++)
				letters++;
			for (; *v >= '0' && *v <= '9'; v++)
				digits++;
			return !*v && letters >= 1 && letters <= 2 && digits <= 3;
		}
	}
	return false;
}

/*
 * r/ro and w/rw as xl spells them, and `w!`: writable even while another domain has the
 * image, the explicit override of xend's sharing rule (xl's "w!" in the seed's configs).
 * A cdrom is read-only, so only r/ro (or nothing) goes with it.
 */
static int disk_access(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                       const char *text, const char *access, struct cfg_disk *disk)
{
	bool ro = false, force = false;

	if (!access)
		ro = disk->cdrom;
	else if (!strcmp(access, "r") || !strcmp(access, "ro"))
		ro = true;
	else if (!strcmp(access, "w!") || !strcmp(access, "rw!"))
		force = true;
	else if (strcmp(access, "w") && strcmp(access, "rw"))
		return fail_at(d, s, line,
		               "'" SHOW "': access '" SHOW "' (expected r, ro, w, rw or w!)", text,
		               access);
	if (disk->cdrom && !ro)
		return fail_at(d, s, line,
		               "'" SHOW "': access '" SHOW
		               "' on a cdrom (expected r or ro: a cdrom "
		               "is read-only)",
		               text, access);
	disk->readonly = ro;
	disk->force = force;
	return 0;
}

static int disk_format(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                       const char *text, const char *format, struct cfg_disk *disk)
{
	if (!format || !strcmp(format, "raw")) {
		disk->format = "raw";
		return 0;
	}
	if (!strcmp(format, "qcow2")) {
		disk->format = "qcow2";
		return 0;
	}
	return fail_at(d, s, line,
	               "'" SHOW "': format '" SHOW "' is not supported (expected raw or qcow2)",
	               text, format);
}

static int disk_cache(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text, const char *cache, struct cfg_disk *disk)
{
	static const char *const modes[] = { "writeback", "none", "unsafe" };

	disk->cache = modes[0];
	if (!cache)
		return 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(cache, modes[i])) {
			disk->cache = modes[i];
			return 0;
		}
	}
	return fail_at(d, s, line,
	               "'" SHOW "': cache '" SHOW "' (expected writeback, none or unsafe)", text,
	               cache);
}

/*
 * devtype=cdrom, or xl's older "hdc:cdrom" vdev suffix.  *vdev is the name without the
 * suffix, in buf.
 */
static int disk_devtype(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                        const char *text, const struct disk_spec *spec, char *buf, size_t buflen,
                        struct cfg_disk *disk)
{
	const char *devtype = spec->field[DISK_DEVTYPE], *colon;
	const char *vdev = spec->field[DISK_VDEV];

	colon = strchr(vdev, ':');
	if (colon && !strcmp(colon, ":cdrom") && (size_t)(colon - vdev) < buflen) {
		disk->cdrom = true;
		memcpy(buf, vdev, (size_t)(colon - vdev));
		buf[colon - vdev] = 0;
	} else {
		snprintf(buf, buflen, "%s", vdev);
	}
	if (devtype && !strcmp(devtype, "cdrom"))
		disk->cdrom = true;
	else if (devtype && strcmp(devtype, "disk"))
		return fail_at(d, s, line,
		               "'" SHOW "': devtype '" SHOW "' (expected disk or cdrom)", text,
		               devtype);
	return 0;
}

static int disk_backing(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                        const char *text, const char *backing, struct cfg_disk *disk)
{
	if (!backing)
		return 0;
	if (strcmp(disk->format, "qcow2"))
		return fail_at(d, s, line,
		               "'" SHOW "': backing= needs a qcow2 target (expected format=qcow2 "
		               "with backing=)",
		               text);
	if (disk->cdrom || disk->readonly)
		return fail_at(d, s, line,
		               "'" SHOW "': backing= on a read-only disk (expected access=rw: the "
		               "overlay is where the domain writes)",
		               text);
	if (backing[0] != '/' || strlen(backing) >= VM_PATH_MAX)
		return fail_at(d, s, line,
		               "'" SHOW "': backing '" SHOW "' (expected an absolute path shorter "
		               "than %u bytes)",
		               text, backing, VM_PATH_MAX);
	disk->backing = strdup(backing);
	return disk->backing ? 0 : fail_nomem(d, s);
}

static int disk_check_unique(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                             const char *text, const struct cfg_disk *disk)
{
	for (size_t i = 0; i < d->n_disks; i++) {
		const struct cfg_disk *o = &d->disks[i];

		if (!strcmp(o->vdev, disk->vdev))
			return fail_at(d, s, line,
			               "'" SHOW "': vdev %s is already used (expected "
			               "each vdev once)",
			               text, disk->vdev);
		if (!strcmp(o->path, disk->path) && !(o->readonly && disk->readonly))
			return fail_at(d, s, line,
			               "'" SHOW "': '" SHOW "' is already a disk of this domain "
			               "(expected a writable disk to be attached once)",
			               text, disk->path);
	}
	return 0;
}

void cfg_disk_free(struct cfg_disk *disk)
{
	free(disk->path);
	free(disk->vdev);
	free(disk->backing);
	memset(disk, 0, sizeof(*disk));
}

/* Every field of one entry, in an order that lets each message blame the right one. */
static int disk_fields(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                       const char *text, const struct disk_spec *spec, struct cfg_disk *disk)
{
	char vdev[32];
	int r;

	if (!spec->field[DISK_TARGET] || !spec->field[DISK_VDEV])
		return fail_at(d, s, line, "'" SHOW "' lacks a %s " DISK_FORM, text,
		               spec->field[DISK_TARGET] ? "vdev" : "target");
	r = disk_format(d, s, line, text, spec->field[DISK_FORMAT], disk);
	r = r ?: disk_cache(d, s, line, text, spec->field[DISK_CACHE], disk);
	r = r ?: disk_devtype(d, s, line, text, spec, vdev, sizeof(vdev), disk);
	if (r < 0)
		return r;
	if (!vdev_valid(vdev))
		return fail_at(d, s, line,
		               "'" SHOW "': vdev '" SHOW "' (expected a name such as xvda, "
		               "hda, sda or vda)",
		               text, spec->field[DISK_VDEV]);
	r = disk_access(d, s, line, text, spec->field[DISK_ACCESS], disk);
	r = r ?: disk_backing(d, s, line, text, spec->field[DISK_BACKING], disk);
	r = r ?: disk_target(d, s, line, text, spec->field[DISK_TARGET], &disk->path);
	if (r < 0)
		return r;
	disk->vdev = strdup(vdev);
	if (!disk->vdev)
		return fail_nomem(d, s);
	return disk_check_unique(d, s, line, text, disk);
}

static int check_disk(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text)
{
	struct cfg_disk disk = { .s = s, .line = line };
	struct disk_spec spec;
	char *copy;
	int r;

	if (d->n_disks == VM_MAX_DISKS)
		return fail_at(d, s, line, "more than %u disks (expected at most %u)", VM_MAX_DISKS,
		               VM_MAX_DISKS);
	copy = strdup(text);
	if (!copy)
		return fail_nomem(d, s);
	r = disk_split(d, s, line, text, copy, &spec);
	if (r == 0)
		r = disk_fields(d, s, line, text, &spec, &disk);
	free(copy);
	if (r < 0) {
		cfg_disk_free(&disk);
		return r;
	}
	d->disks[d->n_disks++] = disk;
	return 0;
}

/* ---- vif: 'mac=MAC,ip=ADDR ADDR' ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Six bytes "xx:xx:xx:xx:xx:xx" into b; false if mac is anything else. */
static bool parse_mac(const char *mac, unsigned char b[6])
{
	for (int i = 0; i < 6; i++, mac += 3) {
		int hi = hexval(mac[0]), lo = hi < 0 ? -1 : hexval(mac[1]);

		if (lo < 0 || mac[2] != (i == 5 ? 0 : ':'))
			return false;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static int vif_mac(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                   const char *text, const char *mac, struct cfg_vif *vif)
{
	unsigned char b[6], o[6];

	if (!parse_mac(mac, b))
		return fail_at(d, s, line,
		               "'" SHOW "': mac '" SHOW "' (expected six hexadecimal "
		               "bytes such as 00:16:3e:00:00:01)",
		               text, mac);
	if (b[0] & 1)
		return fail_at(d, s, line,
		               "'" SHOW "': mac %s is a multicast address (expected "
		               "a unicast one: the first byte even)",
		               text, mac);
	if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return fail_at(d, s, line,
		               "'" SHOW "': mac %s is all zeroes (expected a unicast "
		               "address such as 00:16:3e:00:00:01)",
		               text, mac);
	for (size_t i = 0; i < d->n_vifs; i++) {
		if (d->vifs[i].mac && parse_mac(d->vifs[i].mac, o) && !memcmp(o, b, sizeof(o)))
			return fail_at(d, s, line,
			               "'" SHOW "': mac %s is already used (expected "
			               "each vif's mac once)",
			               text, mac);
	}
	if (asprintf(&vif->mac, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
	             b[5]) < 0) {
		vif->mac = NULL;
		return fail_nomem(d, s);
	}
	return 0;
}

static int vif_ips(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                   const char *text, char *ips, struct cfg_vif *vif)
{
	char *save = NULL;

	for (char *a = strtok_r(ips, " \t", &save); a; a = strtok_r(NULL, " \t", &save)) {
		char **v;

		if (!cfg_ipv4_valid(a))
			return fail_at(d, s, line,
			               "'" SHOW "': ip '" SHOW "' is not an IPv4 address "
			               "(expected dotted quads separated by spaces)",
			               text, a);
		if (vif->n_ips == XENO_CFG_LIST_MAX)
			return fail_at(d, s, line,
			               "'" SHOW "' has more than %d addresses (expected "
			               "at most %d)",
			               text, XENO_CFG_LIST_MAX, XENO_CFG_LIST_MAX);
		v = realloc(vif->ips, (vif->n_ips + 1) * sizeof(*v));
		if (!v)
			return fail_nomem(d, s);
		vif->ips = v;
		vif->ips[vif->n_ips] = strdup(a);
		if (!vif->ips[vif->n_ips])
			return fail_nomem(d, s);
		vif->n_ips++;
	}
	if (!vif->n_ips)
		return fail_at(d, s, line, "'" SHOW "': ip= is empty (expected IPv4 addresses)",
		               text);
	return 0;
}

void cfg_vif_free(struct cfg_vif *vif)
{
	free(vif->mac);
	free(vif->bridge);
	for (size_t i = 0; i < vif->n_ips; i++)
		free(vif->ips[i]);
	free(vif->ips);
	memset(vif, 0, sizeof(*vif));
}

static bool ifname_valid(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= 15 && only_chars(name, "_.-");
}

static int vif_bridge(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text, const char *bridge, struct cfg_vif *vif)
{
	if (vif->bridge)
		return fail_at(d, s, line, "'" SHOW "' gives bridge twice (expected it once)",
		               text);
	if (!ifname_valid(bridge))
		return fail_at(d, s, line,
		               "'" SHOW "': bridge '" SHOW "' is not an interface name (expected 1 "
		               "to 15 letters, digits, '_', '.' and '-', such as br0)",
		               text, bridge);
	vif->bridge = strdup(bridge);
	return vif->bridge ? 0 : fail_nomem(d, s);
}

static int vif_option(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                      const char *text, char *f, bool *seen_mac, bool *seen_ip, struct cfg_vif *vif)
{
	if (!strncmp(f, "bridge=", 7))
		return vif_bridge(d, s, line, text, trim_field(f + 7), vif);
	if (!strncmp(f, "mac=", 4)) {
		if (*seen_mac)
			return fail_at(d, s, line, "'" SHOW "' gives mac twice (expected it once)",
			               text);
		*seen_mac = true;
		return vif_mac(d, s, line, text, trim_field(f + 4), vif);
	}
	if (!strncmp(f, "ip=", 3)) {
		if (*seen_ip)
			return fail_at(d, s, line, "'" SHOW "' gives ip twice (expected it once)",
			               text);
		*seen_ip = true;
		return vif_ips(d, s, line, text, f + 3, vif);
	}
	if (is_option(f))
		return fail_at(d, s, line,
		               "'" SHOW "': unknown option '%.*s' (expected mac=, ip= or "
		               "bridge=)",
		               text, (int)(strchr(f, '=') - f), f);
	return fail_at(d, s, line,
	               "'" SHOW "': '" SHOW "' is not an option (expected mac=MAC, "
	               "ip=ADDRESSES or bridge=BRIDGE)",
	               text, f);
}

static int check_vif(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
                     const char *text)
{
	struct cfg_vif vif = { NULL, NULL, 0, NULL };
	bool seen_mac = false, seen_ip = false;
	char *copy, *f, *save = NULL;
	int r = 0;

	if (d->n_vifs == VM_MAX_NETS)
		return fail_at(d, s, line, "more than %u interfaces (expected at most %u)",
		               VM_MAX_NETS, VM_MAX_NETS);
	copy = strdup(text);
	if (!copy)
		return fail_nomem(d, s);
	/* An empty entry ('') is an interface with every default, as in xl. */
	for (f = strtok_r(copy, ",", &save); f && r == 0; f = strtok_r(NULL, ",", &save)) {
		f = trim_field(f);
		if (*f)
			r = vif_option(d, s, line, text, f, &seen_mac, &seen_ip, &vif);
	}
	free(copy);
	if (r < 0) {
		cfg_vif_free(&vif);
		return r;
	}
	d->vifs[d->n_vifs++] = vif;
	return 0;
}

/* ---- The table ---- */

#define STRING(n, chk, d)                                               \
	{                                                               \
		.name = n, .kind = KIND_STRING, .check = chk, .doc = d, \
	}
#define LIST(n, chk, d)                                               \
	{                                                             \
		.name = n, .kind = KIND_LIST, .check = chk, .doc = d, \
	}
#define INT(n, lo, hi, why, u, d)                                                                \
	{                                                                                        \
		.name = n, .kind = KIND_INT, .min = lo, .max = hi, .min_reason = why, .unit = u, \
		.doc = d,                                                                        \
	}

const struct cfg_key cfg_keys[K_COUNT] = {
	[K_NAME] = STRING("name", check_name, "the domain's name (required)"),
	[K_KERNEL] = STRING("kernel", check_path,
	                    "the guest kernel, a bzImage or PVH vmlinux (required)"),
	[K_RAMDISK] = STRING("ramdisk", check_path, "the initial ramdisk"),
	[K_CMDLINE] = STRING("cmdline", check_cmdline_text,
	                     "the kernel command line; root and extra are then ignored"),
	[K_EXTRA] =
	        STRING("extra", check_cmdline_text, "arguments added to the kernel command line"),
	[K_ROOT] = STRING("root", check_cmdline_text, "the root device, passed as root="),
	[K_MEMORY] = INT("memory", XENO_CFG_MEMORY_MIN, 1048576,
	                 "the guest kernel does not boot in less", " MiB",
	                 "memory in MiB, 96 to 1048576 (default 128)"),
	[K_MAXMEM] = INT("maxmem", XENO_CFG_MEMORY_MIN, 1048576,
	                 "the guest kernel does not boot in less", " MiB",
	                 "the most memory the domain may have, in MiB (default: memory)"),
	[K_VCPUS] = INT("vcpus", 1, VM_VCPUS_MAX, NULL, "", "virtual CPUs, 1 to 240 (default 1)"),
	[K_DISK] =
	        LIST("disk", check_disk,
	             "disks: 'TARGET,VDEV,ACCESS' or key=value specs (format, devtype, backing)"),
	[K_VIF] = LIST("vif", check_vif,
	               "network interfaces: 'mac=MAC,ip=ADDRESSES,bridge=BRIDGE' specs"),
	[K_ON_POWEROFF] = STRING("on_poweroff", check_action,
	                         "destroy, restart or preserve when the guest powers off"),
	[K_ON_REBOOT] = STRING("on_reboot", check_action,
	                       "destroy, restart or preserve when the guest reboots"),
	[K_ON_CRASH] = STRING("on_crash", check_action,
	                      "destroy, restart or preserve when the guest crashes"),
	[K_IPADDR] = LIST("ipaddr", check_ipv4, "IPv4 addresses routed to the domain"),
	[K_IP] = { .name = "ip",
	           .kind = KIND_STRING_OR_LIST,
	           .check = check_ip,
	           .doc = "the guest's address for ip=; a list (or commas) means ipaddr" },
	[K_GATEWAY] = STRING("gateway", check_ipv4, "the gateway in ip="),
	[K_NETMASK] = STRING("netmask", check_ipv4, "the netmask in ip="),
	[K_HOSTNAME] = STRING("hostname", check_hostname, "the host name in ip="),
	[K_INTERFACE] = STRING("interface", check_interface, "the interface in ip= (default eth0)"),
	[K_DHCP] = STRING("dhcp", check_dhcp, "'dhcp' or 'off': autoconfiguration in ip="),
	[K_NFS_SERVER] = STRING("nfs_server", check_ipv4, "the NFS server for nfsroot= and ip="),
	[K_NFS_ROOT] = STRING("nfs_root", check_path, "the root directory on the NFS server"),
	[K_RESTART] =
	        STRING("restart", check_restart, "onreboot, always or never: the on_* defaults"),
	[K_CPU] = INT("cpu", -1, 1023, NULL, "", "the host CPU to run on, -1 for any (default -1)"),
	[K_CPU_WEIGHT] =
	        INT("cpu_weight", 1, 65535, NULL, "", "scheduler weight, 1 to 65535 (default 256)"),
	[K_CPU_CAP] = INT("cpu_cap", 0, 100 * (long long)VM_VCPUS_MAX, NULL, "",
	                  "CPU cap in percent of one CPU, 0 for none (default 0)"),
	[K_CAP] = INT("cap", 0, 100 * (long long)VM_VCPUS_MAX, NULL, "", "xl's name for cpu_cap"),
	[K_CPUS] = STRING("cpus", check_cpus,
	                  "host CPUs the vCPUs may run on, e.g. \"0-3,6\" (default: any)"),
	[K_CONSOLE] = INT("console", 1, 65535, NULL, "", "the TCP port of the domain's console"),
	[K_NICS] = INT("nics", 0, VM_MAX_NETS, NULL, "", "the number of network interfaces"),
	[K_VMID] = INT("vmid", 1, 2147483647, NULL, "", "the value of ${vmid}"),
	[K_BUILDER] = STRING("builder", check_builder, "the domain builder: only 'linux'"),
	[K_ROOT_PASSWORD] = STRING("root_password", check_password,
	                           "root's password in the guest (xend keeps only its hash)"),
	[K_SSH_KEY] = LIST("ssh_authorized_key", check_ssh_key,
	                   "public keys that may log in as root over ssh"),
	[K_LINKLOCAL] = INT("linklocal", 0, 1, NULL, "",
	                    "1: a link-local address 169.254.x.y on the first vif (default 1)"),
	[K_DEFLATE_ON_OOM] = INT("deflate_on_oom", 0, 1, NULL, "",
	                         "1: the guest may take memory back from its balloon when it runs "
	                         "out (default 0)"),
};

int xeno_cfg_domain_key(size_t index, const char **ret_name, const char **ret_doc)
{
	if (index >= K_COUNT)
		return -ENOENT;
	*ret_name = cfg_keys[index].name;
	*ret_doc = cfg_keys[index].doc;
	return 0;
}
