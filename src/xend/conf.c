// SPDX-License-Identifier: GPL-2.0-only
/*
 * xend.conf's key table: each row is a key, its kind (path, number, boolean), where it is
 * stored in struct xend_conf, its default and its range.  main() calls conf_load() once,
 * before it serves anything; nothing here logs.
 */
#include "xend/conf.h"

#include <xeno/cfg.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef XENO_BINDIR
#define XENO_BINDIR "/usr/local/bin"
#endif

enum conf_kind { CONF_PATH, CONF_SOCKET, CONF_UINT, CONF_BOOL, CONF_PROGRAM, CONF_STRING };

struct conf_row {
	const char *key;
	enum conf_kind kind;
	size_t offset;
	const char *def; /* paths: the default; NULL: computed */
	long long def_num, min, max;
	/* CONF_STRING: checks a value; returns false with what was expected in *ret_expected. */
	bool (*check)(const char *value, const char **ret_expected);
};

#define OFF(member) offsetof(struct xend_conf, member)

static bool check_network(const char *v, const char **ret_expected)
{
	*ret_expected = "\"route\" or \"none\"";
	return !strcmp(v, "route") || !strcmp(v, "none");
}

static bool parse_addr(const char *v, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

/* "A.B.C.D/N" with N in 8..30 and no host bits set. */
static bool parse_pool(const char *v, uint32_t *ret_net, unsigned int *ret_prefix)
{
	char addr[INET_ADDRSTRLEN], *end;
	const char *slash = strchr(v, '/');
	unsigned long n;
	uint32_t a, mask;

	if (!slash || (size_t)(slash - v) >= sizeof(addr) || slash[1] < '0' || slash[1] > '9')
		return false;
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = 0;
	n = strtoul(slash + 1, &end, 10);
	if (*end || n < 8 || n > 30 || !parse_addr(addr, &a))
		return false;
	mask = ~0u << (32 - n);
	if (a & ~mask)
		return false;
	*ret_net = a;
	*ret_prefix = (unsigned int)n;
	return true;
}

static bool check_pool(const char *v, const char **ret_expected)
{
	uint32_t net;
	unsigned int prefix;

	*ret_expected = "a network such as \"10.0.0.0/24\", prefix 8 to 30, no host bits";
	return parse_pool(v, &net, &prefix) && (net >> 24) != 127 && (net >> 16) != 0xa9fe &&
	       (net >> 28) < 14;
}

static bool check_address_or_empty(const char *v, const char **ret_expected)
{
	uint32_t a;

	*ret_expected = "an IPv4 address such as \"10.0.0.1\", or \"\" for the pool's first";
	return !v[0] || parse_addr(v, &a);
}

static bool check_linklocal(const char *v, const char **ret_expected)
{
	uint32_t a;

	*ret_expected = "an address in 169.254.0.0/16 such as \"169.254.1.0\"";
	return parse_addr(v, &a) && (a >> 16) == 0xa9fe && (a & 0xffff) < 0xff00;
}

static bool check_ifname_or_empty(const char *v, const char **ret_expected)
{
	size_t len = strlen(v);

	*ret_expected = "an interface name (1 to 15 letters, digits, '_', '.', '-'), or \"\"";
	if (len > 15)
		return false;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

static const struct conf_row rows[] = {
	{ "xend-socket", CONF_SOCKET, OFF(socket_path), "/run/xeno/xend.sock", 0, 0, 0 },
	{ "run-dir", CONF_PATH, OFF(run_dir), "/run/xeno", 0, 0, 0 },
	{ "state-dir", CONF_PATH, OFF(state_dir), "/var/lib/xeno", 0, 0, 0 },
	{ "log-file", CONF_PATH, OFF(log_file), "/var/log/xeno/xend.log", 0, 0, 0 },
	{ "console-log-dir", CONF_PATH, OFF(console_log_dir), "/var/log/xeno/console", 0, 0, 0 },
	{ "vmm-path", CONF_PROGRAM, OFF(vmm_path), NULL, 0, 0, 0 },
	{ "dom0-min-mem", CONF_UINT, OFF(dom0_min_mem_mib), NULL, 256, 0, 1024 * 1024 },
	{ "console-tcp", CONF_BOOL, OFF(console_tcp), NULL, 0, 0, 1 },
	{ "console-tcp-base", CONF_UINT, OFF(console_tcp_base), NULL, 9600, 1024, 65535 - 4096 },
	{ "request-timeout", CONF_UINT, OFF(request_timeout_s), NULL, 30, 1, 3600 },
	{ "max-connections", CONF_UINT, OFF(max_connections), NULL, 64, 4, 4096 },
	{ "network", CONF_STRING, OFF(network), "route", 0, 0, 0, check_network },
	{ "ip-pool", CONF_STRING, OFF(ip_pool), "10.0.0.0/24", 0, 0, 0, check_pool },
	{ "gateway", CONF_STRING, OFF(gateway), "", 0, 0, 0, check_address_or_empty },
	{ "linklocal-base", CONF_STRING, OFF(linklocal_base), "169.254.1.0", 0, 0, 0,
	  check_linklocal },
	{ "nat", CONF_BOOL, OFF(nat), NULL, 0, 0, 1 },
	{ "nat-uplink", CONF_STRING, OFF(nat_uplink), "", 0, 0, 0, check_ifname_or_empty },
	{ "ssh-port-base", CONF_UINT, OFF(ssh_port_base), NULL, 2200, 1, 65535 - 4096 },
};

#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

const char *conf_key_name(size_t index)
{
	return index < ROW_COUNT ? rows[index].key : NULL;
}

static int fail(char **ret_error, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*ret_error = s;
	return r;
}

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* Where xeno-vmm is when vmm-path is not set: beside xend, in the install bindir, in $PATH. */
static char *find_vmm(void)
{
	char exe[PATH_MAX], cand[PATH_MAX + 16];
	const char *path = getenv("PATH");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		char *slash;

		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(cand, sizeof(cand), "%s/xeno-vmm", exe);
			if (executable(cand))
				return strdup(cand);
		}
	}
	if (executable(XENO_BINDIR "/xeno-vmm"))
		return strdup(XENO_BINDIR "/xeno-vmm");
	while (path && *path) {
		size_t len = strcspn(path, ":");

		if (len > 0 && len < PATH_MAX) {
			snprintf(cand, sizeof(cand), "%.*s/xeno-vmm", (int)len, path);
			if (cand[0] == '/' && executable(cand))
				return strdup(cand);
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return NULL;
}

static int load_string(const struct xeno_cfg *cfg, const char *file, const struct conf_row *row,
                       struct xend_conf *conf, char **ret_error)
{
	char **slot = (char **)((char *)conf + row->offset);
	const char *s = row->def;
	int r = -ENOENT;

	if (cfg) {
		r = xeno_cfg_get_string(cfg, row->key, &s, ret_error);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == -ENOENT)
			s = row->def;
	}
	if (!s && row->kind == CONF_PROGRAM) {
		*slot = find_vmm();
		if (!*slot)
			return fail(ret_error, -ENOENT,
			            "%s: no xeno-vmm beside xend, in %s or in $PATH (expected "
			            "vmm-path = '/path/to/xeno-vmm')",
			            file, XENO_BINDIR);
		return 0;
	}
	if (!s || s[0] != '/')
		return fail(ret_error, -EINVAL, "%s: %s: expected an absolute path", file,
		            row->key);
	if (row->kind == CONF_SOCKET && strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(ret_error, -EINVAL,
		            "%s: %s: expected a socket path of at most %zu bytes", file, row->key,
		            sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (row->kind == CONF_PROGRAM && !executable(s))
		return fail(ret_error, -ENOENT, "%s: %s: '%s' is not an executable file", file,
		            row->key, s);
	*slot = strdup(s);
	return *slot ? 0 : -ENOMEM;
}

static int load_text(const struct xeno_cfg *cfg, const char *file, const struct conf_row *row,
                     struct xend_conf *conf, char **ret_error)
{
	char **slot = (char **)((char *)conf + row->offset);
	const char *s = row->def, *expected;
	int r = -ENOENT;

	if (cfg) {
		r = xeno_cfg_get_string(cfg, row->key, &s, ret_error);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == -ENOENT)
			s = row->def;
	}
	if (!row->check(s, &expected))
		return fail(ret_error, -EINVAL, "%s:%u: %s: '%.64s' (expected %s)", file,
		            xeno_cfg_line(cfg, row->key), row->key, s, expected);
	*slot = strdup(s);
	return *slot ? 0 : -ENOMEM;
}

/* What the network keys mean together: the parsed pool, gateway and link-local base. */
static int derive_network(const struct xeno_cfg *cfg, const char *file, struct xend_conf *c,
                          char **ret_error)
{
	uint32_t mask;

	c->net_route = !strcmp(c->network, "route");
	if (!parse_pool(c->ip_pool, &c->pool_net, &c->pool_prefix) ||
	    !parse_addr(c->linklocal_base, &c->linklocal_addr))
		return -EINVAL; /* checked by the rows already */
	mask = ~0u << (32 - c->pool_prefix);
	if (!c->gateway[0]) {
		free(c->gateway);
		c->gateway_addr = c->pool_net + 1;
		if (asprintf(&c->gateway, "%u.%u.%u.%u", c->gateway_addr >> 24,
		             (c->gateway_addr >> 16) & 0xff, (c->gateway_addr >> 8) & 0xff,
		             c->gateway_addr & 0xff) < 0) {
			c->gateway = NULL;
			return -ENOMEM;
		}
	} else if (!parse_addr(c->gateway, &c->gateway_addr)) {
		return -EINVAL;
	}
	if ((c->gateway_addr >> 16) == 0xa9fe || (c->gateway_addr >> 24) == 127 ||
	    c->gateway_addr == c->pool_net || c->gateway_addr == (c->pool_net | ~mask))
		return fail(ret_error, -EINVAL,
		            "%s:%u: gateway: '%s' (expected a host address, not link-local, "
		            "loopback, or ip-pool's network or broadcast address)",
		            file, xeno_cfg_line(cfg, "gateway"), c->gateway);
	return 0;
}

static int load_number(const struct xeno_cfg *cfg, const struct conf_row *row,
                       struct xend_conf *conf, char **ret_error)
{
	long long v = row->def_num;
	bool b = row->def_num != 0;
	int r = -ENOENT;

	if (row->kind == CONF_BOOL) {
		if (cfg)
			r = xeno_cfg_get_bool(cfg, row->key, &b, ret_error);
		if (r < 0 && r != -ENOENT)
			return r;
		*(bool *)((char *)conf + row->offset) = b;
		return 0;
	}
	if (cfg)
		r = xeno_cfg_get_int(cfg, row->key, row->min, row->max, &v, ret_error);
	if (r < 0 && r != -ENOENT)
		return r;
	*(unsigned int *)((char *)conf + row->offset) = (unsigned int)v;
	return 0;
}

int conf_load(const char *path, struct xend_conf *conf, char **ret_error)
{
	const char *file = path ? path : XEND_CONF_DEFAULT_PATH;
	struct xeno_cfg *cfg = NULL;
	const char *keys[ROW_COUNT + 1] = { NULL };
	struct xend_conf c = { 0 };
	int r;

	*ret_error = NULL;
	r = xeno_cfg_parse_file(file, &cfg, ret_error);
	if (r == -ENOENT && !path) {
		free(*ret_error);
		*ret_error = NULL;
		cfg = NULL; /* no xend.conf: every default */
	} else if (r < 0) {
		if (!*ret_error)
			fail(ret_error, r, "%s: %s", file, strerror(-r));
		return r;
	} else {
		for (size_t i = 0; i < ROW_COUNT; i++)
			keys[i] = rows[i].key;
		r = xeno_cfg_check_keys(cfg, keys, ret_error);
		if (r < 0)
			goto out;
		c.path = strdup(file);
		if (!c.path) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < ROW_COUNT; i++) {
		if (rows[i].kind == CONF_UINT || rows[i].kind == CONF_BOOL)
			r = load_number(cfg, &rows[i], &c, ret_error);
		else if (rows[i].kind == CONF_STRING)
			r = load_text(cfg, file, &rows[i], &c, ret_error);
		else
			r = load_string(cfg, file, &rows[i], &c, ret_error);
		if (r < 0)
			goto out;
	}
	r = derive_network(cfg, file, &c, ret_error);
	if (r < 0)
		goto out;
	*conf = c;
	r = 0;
out:
	xeno_cfg_free(cfg);
	if (r < 0) {
		conf_fini(&c);
		if (!*ret_error)
			fail(ret_error, r, "%s: %s", file, strerror(-r));
	}
	return r;
}

void conf_fini(struct xend_conf *conf)
{
	if (!conf)
		return;
	free(conf->path);
	for (size_t i = 0; i < ROW_COUNT; i++)
		if (rows[i].kind != CONF_UINT && rows[i].kind != CONF_BOOL)
			free(*(char **)((char *)conf + rows[i].offset));
	memset(conf, 0, sizeof(*conf));
}
