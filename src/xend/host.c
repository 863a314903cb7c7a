// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc readers for Domain-0's record, `xm info` and the memory check before a create.
 * Each opens, reads and closes its file: nothing is cached, nothing is logged.
 */
#include "xend/host.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int host_meminfo(struct host_mem *ret)
{
	unsigned long long total = 0, avail = 0, v;
	char line[256], key[64];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
			continue;
		if (strcmp(key, "MemTotal") == 0)
			total = v;
		else if (strcmp(key, "MemAvailable") == 0)
			avail = v;
	}
	fclose(f);
	if (!total)
		return -EPROTO;
	ret->total_mib = total / 1024;
	ret->available_mib = avail / 1024;
	return 0;
}

unsigned int host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

double host_cpu_time_s(void)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");
	double t = 0;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
	           &iowait, &irq, &softirq, &steal) == 8 &&
	    hz > 0)
		t = (double)(user + nice + sys + irq + softirq + steal) / (double)hz;
	fclose(f);
	return t;
}

double host_boot_time(void)
{
	unsigned long long btime;
	char line[256];
	double t = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &btime) == 1)
			t = (double)btime;
	fclose(f);
	return t;
}

uint64_t host_process_rss_mib(pid_t pid)
{
	unsigned long long size, resident;
	char path[64];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return resident * (unsigned long long)sysconf(_SC_PAGESIZE) >> 20;
}

double host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
