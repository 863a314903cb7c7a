// SPDX-License-Identifier: GPL-2.0-only
/* CPU lists ("0-3,6", "all"): see cpulist.h. */
#include "common/cpulist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_cpu(const char **p, unsigned long *ret)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	*ret = strtoul(*p, &end, 10);
	if (errno || end - *p > 6)
		return -EINVAL;
	*p = end;
	return 0;
}

int cpulist_parse(const char *text, unsigned int nr_cpus, cpu_set_t *ret, unsigned int *ret_bad)
{
	const char *p = text;

	CPU_ZERO(ret);
	if (!text)
		return -EINVAL;
	if (strcmp(text, "all") == 0) {
		for (unsigned int c = 0; c < nr_cpus && c < CPU_SETSIZE; c++)
			CPU_SET(c, ret);
		return nr_cpus ? 0 : -EINVAL;
	}
	for (;;) {
		unsigned long lo, hi;

		if (parse_cpu(&p, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		if (hi >= nr_cpus || hi >= CPU_SETSIZE) {
			if (ret_bad)
				*ret_bad = (unsigned int)(lo >= nr_cpus ? lo : nr_cpus);
			return -ERANGE;
		}
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, ret);
		if (*p == 0)
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

char *cpulist_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = 0;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		int hi = c;
		int w;

		if (!CPU_ISSET(c, set))
			continue;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		w = hi > c ? snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, hi)
		           : snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
		c = hi;
	}
	return buf;
}

unsigned int cpulist_host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? (unsigned int)n : 1;
}
