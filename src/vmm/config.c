// SPDX-License-Identifier: GPL-2.0-only
/*
 * The option table of xeno-vmm: each row is a long option, its argument's name, the line of
 * --help that documents it, and the function that stores it.  Adding an option is one row.
 */
#include "vmm/config.h"
#include "common/cpulist.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct option_row {
	const char *name;
	const char *metavar; /* NULL: the option takes no argument */
	const char *help;
	int (*store)(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen);
	size_t flag; /* options without argument: offset of the bool they set in vm_config */
};

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u32(const char *arg, uint32_t min, uint32_t max, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	if (arg[0] < '0' || arg[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int store_kernel(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg)
		return fail(errbuf, errlen, "--kernel: empty path");
	cfg->kernel_path = arg;
	return 0;
}

static int store_initrd(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg)
		return fail(errbuf, errlen, "--initrd: empty path");
	cfg->initrd_path = arg;
	return 0;
}

static int store_cmdline(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (strlen(arg) > VM_CMDLINE_MAX)
		return fail(errbuf, errlen, "--cmdline: longer than %u bytes", VM_CMDLINE_MAX);
	cfg->cmdline = arg;
	return 0;
}

static int store_memory(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (parse_u32(arg, VM_MEM_MIB_MIN, VM_MEM_MIB_MAX, &cfg->mem_mib) < 0)
		return fail(errbuf, errlen, "--memory '%s': expected MiB from %u to %u", arg,
		            VM_MEM_MIB_MIN, VM_MEM_MIB_MAX);
	return 0;
}

static int store_memory_target(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (parse_u32(arg, VM_MEM_MIB_MIN, VM_MEM_MIB_MAX, &cfg->mem_target_mib) < 0)
		return fail(errbuf, errlen, "--memory-target '%s': expected MiB from %u to %u", arg,
		            VM_MEM_MIB_MIN, VM_MEM_MIB_MAX);
	return 0;
}

static int store_vcpus(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (parse_u32(arg, 1, VM_VCPUS_MAX, &cfg->vcpus) < 0)
		return fail(errbuf, errlen, "--vcpus '%s': expected a count from 1 to %u", arg,
		            VM_VCPUS_MAX);
	return 0;
}

static int store_cpus(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	unsigned int nr = cpulist_host_cpus(), bad = 0;
	int r = cpulist_parse(arg, nr, &cfg->cpus, &bad);

	if (r == -ERANGE)
		return fail(errbuf, errlen, "--cpus '%s': this host has no CPU %u (it has 0-%u)",
		            arg, bad, nr - 1);
	if (r < 0)
		return fail(errbuf, errlen, "--cpus '%s': expected a CPU list such as 0-3,6 or all",
		            arg);
	cfg->has_cpus = true;
	return 0;
}

static int store_cgroup(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (arg[0] != '/' || strlen(arg) >= VM_PATH_MAX)
		return fail(errbuf, errlen, "--cgroup '%s': expected an absolute path", arg);
	cfg->cgroup_dir = arg;
	return 0;
}

static int store_name(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	size_t len = strlen(arg);

	if (len == 0 || len > VM_NAME_MAX ||
	    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return fail(errbuf, errlen,
		            "--name '%s': expected 1 to %u letters, digits, '_', '.' or '-'", arg,
		            VM_NAME_MAX);
	cfg->name = arg;
	return 0;
}

static int store_control(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg || strlen(arg) >= 108)
		return fail(errbuf, errlen, "--control: expected a socket path of 1 to 107 bytes");
	cfg->control_path = arg;
	return 0;
}

static int store_console(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (strcmp(arg, "stdio") == 0) {
		cfg->console_path = NULL;
		return 0;
	}
	if (!*arg || strlen(arg) >= 108)
		return fail(errbuf, errlen,
		            "--console '%s': expected 'stdio' or a socket path of 1 to 107 bytes",
		            arg);
	cfg->console_path = arg;
	return 0;
}

/* --balloon-deflate-on-oom: a balloon, and one the guest may deflate on its own. */
static int store_balloon_deflate(struct vm_config *cfg, const char *arg, char *errbuf,
                                 size_t errlen)
{
	(void)arg;
	(void)errbuf;
	(void)errlen;
	cfg->balloon = cfg->balloon_deflate_on_oom = true;
	return 0;
}

static int store_log(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg)
		return fail(errbuf, errlen, "--log: empty path");
	cfg->log_path = arg;
	return 0;
}

static int store_console_log(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg)
		return fail(errbuf, errlen, "--console-log: empty path");
	cfg->console_log_path = arg;
	return 0;
}

static int store_status_file(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg)
		return fail(errbuf, errlen, "--status-file: empty path");
	cfg->status_path = arg;
	return 0;
}

/*
 * The words of a --disk spec after its path, one row each: `ro`, `rw` alone; the others as
 * key=value.  store returns false for a value it does not accept.
 */
struct disk_word {
	const char *key;    /* with its '=' when it takes a value */
	const char *expect; /* what the message for a bad value says */
	bool (*store)(struct vm_disk_config *d, const char *val, size_t len);
};

static bool word_is(const char *val, size_t len, const char *word)
{
	return strlen(word) == len && strncmp(val, word, len) == 0;
}

static bool disk_ro(struct vm_disk_config *d, const char *val, size_t len)
{
	(void)val;
	(void)len;
	d->read_only = true;
	return true;
}

static bool disk_rw(struct vm_disk_config *d, const char *val, size_t len)
{
	(void)val;
	(void)len;
	d->read_only = false;
	return true;
}

static bool disk_serial(struct vm_disk_config *d, const char *val, size_t len)
{
	if (len == 0 || len > VM_SERIAL_MAX)
		return false;
	memcpy(d->serial, val, len);
	d->serial[len] = 0;
	return true;
}

static bool disk_format(struct vm_disk_config *d, const char *val, size_t len)
{
	static const char *const formats[] = { "raw", "qcow2" };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (word_is(val, len, formats[i])) {
			d->format = formats[i];
			return true;
		}
	}
	return false;
}

static bool disk_cache(struct vm_disk_config *d, const char *val, size_t len)
{
	static const char *const modes[BLK_CACHE_COUNT] = {
		[BLK_CACHE_WRITEBACK] = "writeback",
		[BLK_CACHE_NONE] = "none",
		[BLK_CACHE_UNSAFE] = "unsafe",
	};

	for (int i = 0; i < BLK_CACHE_COUNT; i++) {
		if (word_is(val, len, modes[i])) {
			d->cache = (enum blk_cache)i;
			return true;
		}
	}
	return false;
}

static bool disk_lock(struct vm_disk_config *d, const char *val, size_t len)
{
	if (word_is(val, len, "on"))
		d->no_lock = false;
	else if (word_is(val, len, "off"))
		d->no_lock = true;
	else
		return false;
	return true;
}

static const struct disk_word disk_words[] = {
	{ "ro", NULL, disk_ro },
	{ "rw", NULL, disk_rw },
	{ "serial=", "at most 20 bytes", disk_serial },
	{ "format=", "raw or qcow2", disk_format },
	{ "cache=", "writeback, none or unsafe", disk_cache },
	{ "lock=", "on or off", disk_lock },
};

/* One word of a --disk spec (word[0..len)) against the table. */
static int store_disk_word(struct vm_disk_config *d, const char *arg, const char *word, size_t len,
                           char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < sizeof(disk_words) / sizeof(disk_words[0]); i++) {
		const struct disk_word *w = &disk_words[i];
		size_t klen = strlen(w->key);

		if (!w->expect) {
			if (word_is(word, len, w->key))
				return w->store(d, word, len) ? 0 : -EINVAL;
			continue;
		}
		if (len < klen || strncmp(word, w->key, klen) != 0)
			continue;
		if (!w->store(d, word + klen, len - klen))
			return fail(errbuf, errlen,
			            "--disk '%s': bad %.*s value '%.*s' (expected %s)", arg,
			            (int)klen - 1, w->key, (int)(len - klen), word + klen,
			            w->expect);
		return 0;
	}
	return fail(errbuf, errlen,
	            "--disk '%s': unknown option '%.*s' (expected ro, rw, serial=S, "
	            "format=raw|qcow2, cache=writeback|none|unsafe or lock=on|off)",
	            arg, (int)len, word);
}

/* PATH[,WORD]...: the path is everything before the first comma. */
static int store_disk(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	struct vm_disk_config *d;
	const char *opt = strchr(arg, ',');
	size_t path_len = opt ? (size_t)(opt - arg) : strlen(arg);

	if (cfg->nr_disks == VM_MAX_DISKS)
		return fail(errbuf, errlen, "--disk: at most %u disks", VM_MAX_DISKS);
	if (path_len == 0 || path_len >= VM_PATH_MAX)
		return fail(errbuf, errlen, "--disk '%s': expected PATH[,ro][,serial=S]...", arg);
	d = &cfg->disks[cfg->nr_disks];
	memset(d, 0, sizeof(*d));
	memcpy(d->path, arg, path_len);
	while (opt) {
		const char *word = opt + 1, *next = strchr(word, ',');
		size_t len = next ? (size_t)(next - word) : strlen(word);
		int r = store_disk_word(d, arg, word, len, errbuf, errlen);

		if (r < 0)
			return r;
		opt = next;
	}
	cfg->nr_disks++;
	return 0;
}

static int store_net(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (cfg->nr_nets == VM_MAX_NETS)
		return fail(errbuf, errlen, "--net: at most %u interfaces", VM_MAX_NETS);
	if (!*arg || strlen(arg) >= VM_NET_SPEC_MAX)
		return fail(errbuf, errlen, "--net: expected tap=NAME[,mac=MAC] or fd=N[,mac=MAC]");
	/* The keys are checked by the virtio-net device when it is created. */
	snprintf(cfg->nets[cfg->nr_nets++], VM_NET_SPEC_MAX, "%s", arg);
	return 0;
}

static int store_restore(struct vm_config *cfg, const char *arg, char *errbuf, size_t errlen)
{
	if (!*arg || strlen(arg) >= VM_PATH_MAX)
		return fail(errbuf, errlen, "--restore: expected the path of a save file");
	cfg->restore_path = arg;
	return 0;
}

static const struct option_row option_table[] = {
	{ "kernel", "PATH",
	  "Linux bzImage, or an ELF vmlinux with a PVH entry note (required, but with --restore)",
	  store_kernel },
	{ "initrd", "PATH", "initial ramdisk, loaded high in guest memory", store_initrd },
	{ "cmdline", "STR", "kernel command line", store_cmdline },
	{ "memory", "MiB", "guest memory (default 128)", store_memory },
	{ "memory-target", "MiB",
	  "with --balloon: the memory the guest keeps from the start; the balloon holds the "
	  "rest of --memory (xl's memory below maxmem)",
	  store_memory_target },
	{ "vcpus", "N", "virtual CPUs (default 1)", store_vcpus },
	{ "cpus", "LIST", "host CPUs the vCPU threads may run on, e.g. 0-1,3 (default: any)",
	  store_cpus },
	{ "name", "NAME", "domain name used in logs (default 'xeno')", store_name },
	{ "control", "PATH", "UNIX socket for control commands (see xeno-vmm(1))", store_control },
	{ "console", "stdio|PATH", "serial console on the terminal, or on a UNIX socket",
	  store_console },
	{ "console-log", "PATH", "also append console output to PATH (rotated to PATH.1 at 1 MiB)",
	  store_console_log },
	{ "paused", NULL, "start with the vCPUs paused until the control socket's resume", NULL,
	  offsetof(struct vm_config, start_paused) },
	{ "status-file", "PATH", "write the exit status and its reason to PATH at exit",
	  store_status_file },
	{ "cgroup", "DIR", "join the cgroup at DIR before starting any thread", store_cgroup },
	{ "disk", "PATH[,OPT...]",
	  "virtio-blk disk (repeatable: vda, vdb, ...); OPT: ro, serial=S, format=raw|qcow2, "
	  "cache=writeback|none|unsafe, lock=off",
	  store_disk },
	{ "net", "tap=NAME|fd=N[,mac=MAC]", "virtio-net interface on a TAP (repeatable)",
	  store_net },
	{ "rng", NULL, "virtio-rng device fed by the host's getrandom()", NULL,
	  offsetof(struct vm_config, rng) },
	{ "balloon", NULL,
	  "virtio-balloon device, moved by the control socket's balloon command; it also "
	  "reports the guest's memory figures and returns the pages the guest reports free",
	  NULL, offsetof(struct vm_config, balloon) },
	{ "balloon-deflate-on-oom", NULL,
	  "a balloon the guest deflates under memory pressure (its MemTotal then stays whole)",
	  store_balloon_deflate },
	{ "restore", "PATH",
	  "start the domain saved in PATH (control command save) instead of booting; the "
	  "device options must describe the saved domain",
	  store_restore },
	{ "restore-copy", NULL, "read the saved memory in, instead of mapping the file", NULL,
	  offsetof(struct vm_config, restore_copy) },
	{ "restore-no-verify", NULL, "skip the checksums of the saved memory (faster)", NULL,
	  offsetof(struct vm_config, restore_no_verify) },
	{ "log", "PATH", "append log lines to PATH instead of stderr", store_log },
	{ "debug", NULL, "log debug messages", NULL, offsetof(struct vm_config, debug) },
};

#define OPTION_COUNT (sizeof(option_table) / sizeof(option_table[0]))

void vm_config_usage(FILE *out)
{
	fprintf(out, "usage: xeno-vmm --kernel PATH [options]\n"
	             "       xeno-vmm --restore PATH [options]\n\n"
	             "Runs one domain under KVM until it powers off.\n\noptions:\n");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		char left[48];

		snprintf(left, sizeof(left), "--%s%s%s", option_table[i].name,
		         option_table[i].metavar ? " " : "",
		         option_table[i].metavar ? option_table[i].metavar : "");
		fprintf(out, "  %-32s %s\n", left, option_table[i].help);
	}
	fprintf(out, "  %-32s %s\n  %-32s %s\n\n", "--help", "show this text", "--version",
	        "show the version");
	fprintf(out, "exit status: 0 powered off, 1 error, 2 reboot requested, 3 crashed,\n"
	             "             4 stopped by the host (quit command or signal)\n");
}

static const struct option_row *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < OPTION_COUNT; i++)
		if (strlen(option_table[i].name) == len &&
		    strncmp(option_table[i].name, name, len) == 0)
			return &option_table[i];
	return NULL;
}

/*
 * A hand-rolled loop rather than getopt_long: getopt keeps global state (optind) and prints
 * its own messages, which the unit tests and the fuzzer cannot live with.
 */
int vm_config_parse(int argc, char *const argv[], struct vm_config *cfg, char *errbuf,
                    size_t errlen)
{
	*cfg = (struct vm_config){
		.cmdline = "",
		.name = "xeno",
		.mem_mib = VM_MEM_MIB_DEFAULT,
		.vcpus = 1,
	};

	for (int i = 1; i < argc; i++) {
		const char *word = argv[i], *name, *eq, *arg = NULL;
		const struct option_row *opt;
		size_t name_len;
		int r;

		if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0)
			return VM_CONFIG_HELP;
		if (strcmp(word, "--version") == 0)
			return VM_CONFIG_VERSION;
		if (strncmp(word, "--", 2) != 0 || !word[2])
			return fail(errbuf, errlen,
			            "unexpected argument '%s' (options start with --)", word);
		name = word + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		opt = find_option(name, name_len);
		if (!opt)
			return fail(errbuf, errlen, "unknown option '%s' (see --help)", word);
		if (opt->metavar) {
			if (eq)
				arg = eq + 1;
			else if (i + 1 < argc)
				arg = argv[++i];
			else
				return fail(errbuf, errlen, "--%s needs an argument (%s)",
				            opt->name, opt->metavar);
		} else if (eq) {
			return fail(errbuf, errlen, "--%s takes no argument", opt->name);
		}
		if (!opt->store) {
			*(bool *)((char *)cfg + opt->flag) = true;
			continue;
		}
		r = opt->store(cfg, arg, errbuf, errlen);
		if (r < 0)
			return r;
	}

	if (!cfg->kernel_path && !cfg->restore_path)
		return fail(errbuf, errlen, "--kernel PATH is required");
	if (cfg->mem_target_mib && (!cfg->balloon || cfg->mem_target_mib > cfg->mem_mib))
		return fail(errbuf, errlen,
		            "--memory-target needs --balloon and at most --memory MiB (%u)",
		            cfg->mem_mib);
	if ((cfg->restore_copy || cfg->restore_no_verify) && !cfg->restore_path)
		return fail(errbuf, errlen,
		            "--restore-copy and --restore-no-verify need --restore");
	return VM_CONFIG_RUN;
}
