/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Facts about Domain-0, the host: memory, CPUs, CPU time, boot time, and the memory a
 * process already uses.  Read from /proc on each call; callable from any thread.
 */
#ifndef XEND_HOST_H
#define XEND_HOST_H

#include <stdint.h>
#include <sys/types.h>

struct host_mem {
	uint64_t total_mib;     /* MemTotal */
	uint64_t available_mib; /* MemAvailable */
};

/* Reads /proc/meminfo.  Returns 0 or -errno. */
int host_meminfo(struct host_mem *ret) __attribute__((warn_unused_result));

/* Online CPUs (at least 1). */
unsigned int host_cpus(void);

/* CPU time the host spent outside idle, all CPUs, in seconds (/proc/stat). */
double host_cpu_time_s(void);

/* When the host booted, in seconds since the epoch (/proc/stat btime); 0 if unknown. */
double host_boot_time(void);

/* Resident memory of process pid in MiB (/proc/PID/statm); 0 if unknown. */
uint64_t host_process_rss_mib(pid_t pid);

/* Seconds since the epoch, with sub-second precision. */
double host_now(void);

#endif
