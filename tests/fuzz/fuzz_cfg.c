// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes libxeno's xl.cfg parser: the input is a config file; if it parses, its first line is
 * also applied as a command-line assignment, and the result goes through the domain layer
 * (which may stat() paths the input names, nothing more).  Every failure must come with one
 * line of message; ASan checks that nothing leaks or overruns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xeno/cfg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xeno_cfg *cfg = NULL;
	char *err = NULL, *json = NULL, *first;
	const uint8_t *nl;
	int r;

	r = xeno_cfg_parse_string("fuzz.cfg", (const char *)data, size, &cfg, &err);
	if ((r < 0) != (cfg == NULL) || (r < 0 && (!err || strchr(err, '\n'))))
		__builtin_trap();
	free(err);
	err = NULL;
	if (r < 0)
		return 0;
	nl = memchr(data, '\n', size);
	first = strndup((const char *)data, nl ? (size_t)(nl - data) : size);
	if (first && xeno_cfg_set(cfg, first, &err) < 0 && !err)
		__builtin_trap();
	free(first);
	free(err);
	err = NULL;
	r = xeno_cfg_domain_json(cfg, &json, &err);
	if ((r == 0) != (json != NULL) || (r < 0 && (!err || strchr(err, '\n'))))
		__builtin_trap();
	free(json);
	free(err);
	xeno_cfg_free(cfg);
	return 0;
}
