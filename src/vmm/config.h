/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xeno-vmm's command line, turned into a struct vm_config.  Pure parsing: no file is opened
 * here, so the parser is unit-tested and fuzzed without KVM.
 */
#ifndef XENO_VMM_CONFIG_H
#define XENO_VMM_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/block/backend.h"

#define VM_MEM_MIB_MIN     16u
#define VM_MEM_MIB_MAX     (1024u * 1024u) /* 1 TiB of guest RAM */
#define VM_MEM_MIB_DEFAULT 128u
#define VM_VCPUS_MAX       240u /* xAPIC ids stay below 0xff; MADT has one byte per id */
#define VM_NAME_MAX        64u
#define VM_CMDLINE_MAX     4095u

#define VM_MAX_DISKS    16u
#define VM_MAX_NETS     8u
#define VM_PATH_MAX     1024u
#define VM_SERIAL_MAX   20u /* virtio-blk GET_ID */
#define VM_NET_SPEC_MAX 128u

struct vm_disk_config {
	char path[VM_PATH_MAX];
	char serial[VM_SERIAL_MAX + 1]; /* empty: none */
	bool read_only;
	const char *format;   /* "raw", "qcow2", or NULL: probe the qcow2 magic */
	enum blk_cache cache; /* cache=, BLK_CACHE_WRITEBACK by default */
	bool no_lock;         /* lock=off: no OFD lock on the image or its backing files */
};

struct vm_config {
	const char *kernel_path;
	const char *initrd_path;      /* NULL: no initrd */
	const char *cmdline;          /* never NULL after parsing */
	const char *name;             /* never NULL after parsing */
	const char *control_path;     /* NULL: no control socket */
	const char *console_path;     /* NULL: the console is stdin/stdout */
	const char *log_path;         /* NULL: log to stderr */
	const char *console_log_path; /* NULL: no console log */
	const char *status_path;      /* NULL: no status file at exit */
	const char *cgroup_dir;       /* NULL: stay in the cgroup we were started in */
	bool start_paused;            /* vCPUs wait for `resume` before running any guest code */
	const char *restore_path;     /* NULL: boot the kernel; else the save file to start */
	bool restore_copy;            /* read the saved RAM in instead of mapping the file */
	bool restore_no_verify;       /* skip the saved RAM's checksums */
	uint32_t mem_mib;
	uint32_t mem_target_mib; /* 0: all of mem_mib; else the balloon holds the rest at boot */
	uint32_t vcpus;
	bool has_cpus;  /* --cpus given: */
	cpu_set_t cpus; /* the host CPUs every vCPU thread may run on */
	bool debug;
	bool rng;     /* a virtio-rng device */
	bool balloon; /* a virtio-balloon device (the control socket's balloon command) */
	bool balloon_deflate_on_oom; /* it offers DEFLATE_ON_OOM (balloon is set too) */
	unsigned int nr_disks;
	struct vm_disk_config disks[VM_MAX_DISKS]; /* become /dev/vda, vdb, ... in order */
	unsigned int nr_nets;
	char nets[VM_MAX_NETS][VM_NET_SPEC_MAX]; /* "tap=NAME[,mac=M]" or "fd=N[,mac=M]" */
};

enum vm_config_result {
	VM_CONFIG_RUN,     /* start a domain with the parsed config */
	VM_CONFIG_HELP,    /* --help was asked for */
	VM_CONFIG_VERSION, /* --version was asked for */
};

/*
 * Parses argv into cfg (which it fills with defaults first).  Returns a non-negative
 * enum vm_config_result, or -EINVAL with a one-line message in errbuf.  Strings in cfg point
 * into argv.
 */
int vm_config_parse(int argc, char *const argv[], struct vm_config *cfg, char *errbuf,
                    size_t errlen);

/* Prints the option table as --help text. */
void vm_config_usage(FILE *out);

#endif
