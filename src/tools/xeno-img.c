// SPDX-License-Identifier: GPL-2.0-only
/*
 * xeno-img: makes disk images, `xeno-img create [-f raw|qcow2] [-b BASE] PATH [SIZE]`.  A
 * thin front end over image_create(); xm image-create runs it.  Single-threaded, runs as
 * its caller and needs no privilege beyond writing PATH.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/block/backend.h"
#include "devices/block/image_create.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: xeno-img create [-f raw|qcow2] [-b BASE] PATH [SIZE]\n\n"
	             "Creates a disk image.  SIZE is bytes, or a number with K, M, G or T\n"
	             "(powers of 1024); with -b it defaults to BASE's size.  -b makes a qcow2\n"
	             "overlay on BASE (a relative BASE is relative to PATH's directory).\n"
	             "The default format is qcow2 with -b, raw without.\n");
}

/* "10G", "512", "1.5" is refused: integers with an optional binary suffix. */
static int parse_size(const char *s, uint64_t *ret)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		const char *p = strchr(suffixes, *end);

		if (!p || !*p || end[1])
			return -EINVAL;
		for (long i = 0; i <= p - suffixes; i++) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	*ret = v;
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	const char *format = NULL, *backing = NULL, *path;
	char err[BLK_ERR_MAX];
	uint64_t size = 0;
	int i;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "-b") == 0) && i + 1 < argc) {
			*(argv[i][1] == 'f' ? &format : &backing) = argv[i + 1];
			i++;
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (argc - i < 1 || argc - i > 2 || (argc - i == 1 && !backing)) {
		usage(stderr);
		return 1;
	}
	path = argv[i];
	if (argc - i == 2 && parse_size(argv[i + 1], &size) < 0) {
		fprintf(stderr, "xeno-img: size '%s': expected bytes or a number with K, M, G, T\n",
		        argv[i + 1]);
		return 1;
	}
	if (!format)
		format = backing ? "qcow2" : "raw";
	if (image_create(path, format, size, backing, err, sizeof(err)) < 0) {
		fprintf(stderr, "xeno-img: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("xeno-img %s\n", XENO_VERSION);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		usage(stderr);
		return 1;
	}
	return cmd_create(argc - 2, argv + 2);
}
