// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's storage commands: block-list (a domain's disks and their I/O counters, from xend)
 * and image-create (a new raw or qcow2 image, made here by xm itself with the VMM's
 * image_create(): making a file needs no daemon, and xm runs as the user who will own it).
 *
 * Runs on xm's main thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/block/image_create.h"
#include "output.h"
#include "xm.h"

int xm_cmd_block_list(struct xm *xm, const struct xm_args *args)
{
	const char *dom = args->argv[0];
	char *json = NULL, *error = NULL;
	int r = xeno_domain_block_json(xm->h, dom, &json);

	if (r < 0)
		return xm_fail(xm, args->cmd->name, dom, r);
	r = output_block_list(stdout, json, &error);
	free(json);
	if (r < 0) {
		xm_error("%s: %s", args->cmd->name, error ? error : strerror(-r));
		free(error);
		return 1;
	}
	return 0;
}

int xm_parse_size(const char *text, uint64_t *ret_bytes)
{
	static const struct {
		const char *suffix;
		unsigned int shift;
	} units[] = {
		{ "", 0 },     { "B", 0 },  { "K", 10 },   { "KiB", 10 }, { "M", 20 },
		{ "MiB", 20 }, { "G", 30 }, { "GiB", 30 }, { "T", 40 },   { "TiB", 40 },
	};
	unsigned long long n;
	char *end;

	if (!text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix))
			continue;
		if (n > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*ret_bytes = (uint64_t)n << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

int xm_cmd_image_create(struct xm *xm, const struct xm_args *args)
{
	const char *backing = xm_optarg(args, 'b'), *format = xm_optarg(args, 'f');
	const char *path = args->argv[0];
	uint64_t size = 0;
	char err[512];
	int r;

	(void)xm;
	if (!format)
		format = backing ? "qcow2" : "raw";
	if (strcmp(format, "raw") && strcmp(format, "qcow2"))
		return xm_error("image-create: unknown format '%s' (expected raw or qcow2)",
		                format);
	if (backing && strcmp(format, "qcow2"))
		return xm_error("image-create: --backing needs a qcow2 image (expected -f qcow2 or "
		                "no -f)");
	if (args->argc < 2 && !backing)
		return xm_error("image-create: no SIZE (expected a size such as 10G or 512M, "
		                "optional only with --backing)");
	if (args->argc >= 2) {
		r = xm_parse_size(args->argv[1], &size);
		if (r < 0 || size == 0 || size % 512 || size > IMAGE_CREATE_MAX_BYTES)
			return xm_error("image-create: size '%s' (expected a multiple of 512 bytes "
			                "from 512 to 64T, such as 10G, 512M or 1048576)",
			                args->argv[1]);
	}
	r = image_create(path, format, size, backing, err, sizeof(err));
	if (r < 0)
		return xm_error("image-create: %s", err);
	return 0;
}
