/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A domain's configuration as xend holds it: the body of POST /v1/domains (docs/api.md,
 * "Domain config") checked field by field against one table, and turned back into JSON for
 * records and answers.  Pure functions: no file system, no global state, callable from any
 * thread (the API threads parse, the main thread formats).
 */
#ifndef XEND_DOMAIN_CONFIG_H
#define XEND_DOMAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define DOMAIN_NAME_MAX    64u
#define DOMAIN_MEM_MIB_MIN 96u /* Debian's cloud kernel runs out of memory below this */
#define DOMAIN_MEM_MIB_MAX (1024u * 1024u)
#define DOMAIN_VCPUS_MAX   240u
#define DOMAIN_DISKS_MAX   16u
#define DOMAIN_VIFS_MAX    8u
#define DOMAIN_IPS_MAX     256u
#define DOMAIN_PATH_MAX    1024u
#define DOMAIN_CMDLINE_MAX 4095u
#define DOMAIN_STRING_MAX  4096u

/* What to do when the guest powers off, reboots or crashes (xl.cfg(5) on_poweroff ...). */
enum domain_action { DOMAIN_ACTION_DESTROY, DOMAIN_ACTION_RESTART, DOMAIN_ACTION_PRESERVE };

enum domain_disk_format { DOMAIN_DISK_RAW, DOMAIN_DISK_QCOW2 };
/* What the host page cache does for a disk: xeno-vmm's --disk cache= (writeback first). */
enum domain_disk_cache { DOMAIN_CACHE_WRITEBACK, DOMAIN_CACHE_NONE, DOMAIN_CACHE_UNSAFE };

struct domain_disk {
	char *path; /* absolute, no ',' (xeno-vmm's --disk ends the path there) */
	char *vdev; /* the name in the config ("xvda"); the guest sees vda, vdb ... in vdev order */
	enum domain_disk_format format;
	enum domain_disk_cache cache;
	char *backing; /* qcow2: create path as an overlay on this when it does not exist; or NULL
	                */
	bool readonly;
	bool force; /* `w!`: writable even while other domains use the image; no VMM lock */
	bool cdrom; /* devtype "cdrom"; always readonly */
};

/* "raw" or "qcow2"; never NULL. */
const char *domain_disk_format_name(enum domain_disk_format format);
/* "writeback", "none" or "unsafe"; never NULL. */
const char *domain_disk_cache_name(enum domain_disk_cache cache);

struct domain_vif {
	char *mac; /* "00:16:3e:xx:xx:xx", or NULL: xend chooses one from the domain's id */
	char **ip; /* IPv4 addresses routed to this interface */
	size_t nr_ip;
	char *bridge; /* NULL: routed; else the host bridge the TAP joins */
};

struct domain_config {
	char *name;
	char *kernel;  /* absolute path */
	char *ramdisk; /* absolute path or NULL */
	char *cmdline; /* the complete kernel command line, or NULL */
	unsigned int memory_mib;
	unsigned int maxmem_mib;
	unsigned int vcpus;
	struct domain_disk *disks;
	size_t nr_disks;
	struct domain_vif *vifs;
	size_t nr_vifs;
	char **ipaddr;
	size_t nr_ipaddr;
	enum domain_action on_poweroff, on_reboot, on_crash;
	int cpu;                   /* -1: any */
	char cpus[64];             /* host CPUs of every vCPU, "0-3,6"; "": cpu decides */
	unsigned int cpu_weight;   /* credit scheduler weight, 1 .. 65535; 0: not given (256) */
	unsigned int cpu_cap;      /* percent of one CPU, 0: no cap */
	unsigned int console_port; /* loopback TCP port of the console; 0: xend.conf decides */
	bool deflate_on_oom;       /* the guest may deflate its balloon when out of memory */
	bool start_paused;
	char *root_hash; /* crypt(3) hash of root_password (never the password), or NULL */
	char **ssh_keys; /* authorized_keys lines for the guest's root */
	size_t nr_ssh_keys;
	bool linklocal; /* a link-local address on the first vif (default true) */
};

#define DOMAIN_SSH_KEYS_MAX 16u
#define DOMAIN_SSH_KEY_MAX  8192u

/* Name of an action ("destroy" ...); never NULL. */
const char *domain_action_name(enum domain_action action);

/*
 * Fills cfg from a JSON object, with defaults for what is absent.  Every field is checked:
 * unknown fields, wrong types and values out of range give -EINVAL and a message naming the
 * field in err ("field 'memory_mib': expected an integer from 96 to 1048576").  On failure cfg
 * holds nothing to free.  Touches no file: whether the kernel exists is the caller's business.
 */
int domain_config_from_json(struct json_object *obj, struct domain_config *cfg, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

/*
 * Builds the JSON object of cfg (every field, defaults included, but for a weight not given).
 * NULL if out of memory.
 */
struct json_object *domain_config_to_json(const struct domain_config *cfg);

/* The weight the domain is scheduled with: the one given, or Xen's default of 256. */
static inline unsigned int domain_config_cpu_weight(const struct domain_config *cfg)
{
	return cfg->cpu_weight ? cfg->cpu_weight : 256;
}

/*
 * Replaces "${vmid}" in every string of cfg by id, then checks the name is still valid
 * (1 to 64 of [A-Za-z0-9_.-], not all digits, not "Domain-0").  Returns 0, -ENOMEM, or
 * -EINVAL with a message in err.
 */
int domain_config_substitute(struct domain_config *cfg, unsigned int id, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Checks a domain name (see above); true if usable. */
bool domain_name_valid(const char *name);

/* Deep copy; returns 0 or -ENOMEM (dst holds nothing to free then). */
int domain_config_copy(struct domain_config *dst, const struct domain_config *src)
        __attribute__((warn_unused_result));

/* Frees every string and array of cfg and zeroes it; accepts a zeroed cfg. */
void domain_config_fini(struct domain_config *cfg);

#endif
