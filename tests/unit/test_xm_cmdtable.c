// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's command table: every row complete and consistent, every command and alias in xm.1,
 * option parsing built from the rows (options mixed with arguments, "--", unknown options,
 * missing arguments, argument counts, --help) and the help texts made from them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xm/xm.h"

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int c;

	assert_non_null(f);
	out = open_memstream(&text, &len);
	while ((c = fgetc(f)) != EOF)
		fputc(c, out);
	fclose(out);
	fclose(f);
	return text;
}

static void test_rows_complete(void **state)
{
	(void)state;
	assert_true(xm_command_count > 0);
	for (size_t i = 0; i < xm_command_count; i++) {
		const struct xm_command *c = &xm_commands[i];
		int n = 0;

		assert_non_null(c->name);
		assert_non_null(c->run);
		assert_non_null(c->summary);
		assert_non_null(c->usage);
		assert_true(strlen(c->summary) > 0);
		/* xm help adds the period; summaries start with a capital. */
		assert_true(c->summary[strlen(c->summary) - 1] != '.');
		assert_true(c->summary[0] >= 'A' && c->summary[0] <= 'Z');
		assert_true(c->min_args >= 0);
		assert_true(c->max_args == -1 || c->max_args >= c->min_args);
		for (; c->options && c->options[n].key; n++) {
			const struct xm_option *o = &c->options[n];

			assert_non_null(o->help);
			assert_int_not_equal(o->key, 'h'); /* -h is every command's help */
			assert_true(o->long_name == NULL || strcmp(o->long_name, "help"));
			assert_true(o->key < XM_OPT_LONG_ONLY || o->long_name);
			for (int m = 0; m < n; m++) {
				assert_int_not_equal(c->options[m].key, o->key);
				if (o->long_name && c->options[m].long_name)
					assert_string_not_equal(c->options[m].long_name,
					                        o->long_name);
			}
		}
		assert_true(n <= XM_MAX_OPTIONS);
	}
}

static void test_names_unique(void **state)
{
	(void)state;
	for (size_t i = 0; i < xm_command_count; i++) {
		const struct xm_command *c = &xm_commands[i];

		/* Each name and alias finds its own row, so none is shadowed by another. */
		assert_ptr_equal(xm_command_find(c->name), c);
		for (int a = 0; a < XM_MAX_ALIASES && c->aliases[a]; a++)
			assert_ptr_equal(xm_command_find(c->aliases[a]), c);
	}
	assert_null(xm_command_find("no-such-command"));
	assert_null(xm_command_find(""));
	assert_ptr_equal(xm_command_find("log"), xm_command_find("dmesg"));
}

/* The issue's commands are all there. */
static void test_required_commands(void **state)
{
	static const char *const names[] = {
		"create",  "list",  "console", "consoles", "pause", "unpause", "shutdown", "reboot",
		"destroy", "domid", "domname", "info",     "dmesg", "log",     "help",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(xm_command_find(names[i]));
}

/* A man-page line ".It Cm NAME" for each command, and each alias named with Cm. */
static bool man_has(const char *man, const char *prefix, const char *name)
{
	size_t plen = strlen(prefix), nlen = strlen(name);

	for (const char *p = strstr(man, prefix); p; p = strstr(p + 1, prefix)) {
		const char *after = p + plen;

		if (!strncmp(after, name, nlen) &&
		    (after[nlen] == ' ' || after[nlen] == '\n' || after[nlen] == '\0'))
			return true;
	}
	return false;
}

static void test_man_page_lists_every_command(void **state)
{
	char *man = read_text(XM_MAN_PAGE);

	(void)state;
	for (size_t i = 0; i < xm_command_count; i++) {
		const struct xm_command *c = &xm_commands[i];

		if (!man_has(man, "\n.It Cm ", c->name))
			fail_msg("xm.1 has no '.It Cm %s' entry", c->name);
		for (int a = 0; a < XM_MAX_ALIASES && c->aliases[a]; a++)
			if (!man_has(man, "Cm ", c->aliases[a]))
				fail_msg("xm.1 does not name alias '%s'", c->aliases[a]);
		for (int o = 0; c->options && c->options[o].key; o++)
			if (c->options[o].long_name &&
			    !man_has(man, "Fl \\-", c->options[o].long_name))
				fail_msg("xm.1 does not document %s --%s", c->name,
				         c->options[o].long_name);
	}
	free(man);
}

/* Parses a command line given as one string of space-separated words. */
struct parsed {
	char *words[32];
	char buf[512];
	struct xm_args args;
	char error[256];
	int r;
};

static void parse(struct parsed *p, const char *line)
{
	int argc = 0;
	char *save = NULL;

	memset(p, 0, sizeof(*p));
	snprintf(p->buf, sizeof(p->buf), "%s", line);
	for (char *w = strtok_r(p->buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		p->words[argc++] = w;
	p->r = xm_args_parse(xm_command_find(p->words[0]), argc, p->words, &p->args, p->error,
	                     sizeof(p->error));
}

static void test_parse_create(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "create -n memory=256 -f web.cfg --path /a:/b -p name=web");
	assert_int_equal(p.r, 0);
	assert_true(xm_opt(&p.args, 'n'));
	assert_true(xm_opt(&p.args, 'p'));
	assert_false(xm_opt(&p.args, 'c'));
	assert_false(xm_opt(&p.args, 'q'));
	assert_string_equal(xm_optarg(&p.args, 'f'), "web.cfg");
	assert_string_equal(xm_optarg(&p.args, XM_OPT_PATH), "/a:/b");
	assert_null(xm_optarg(&p.args, 'L'));
	assert_int_equal(p.args.argc, 2);
	assert_string_equal(p.args.argv[0], "memory=256");
	assert_string_equal(p.args.argv[1], "name=web");

	parse(&p, "create --dryrun --defconfig=x.cfg -qc");
	assert_int_equal(p.r, 0);
	assert_true(xm_opt(&p.args, 'n'));
	assert_true(xm_opt(&p.args, 'q'));
	assert_true(xm_opt(&p.args, 'c'));
	assert_string_equal(xm_optarg(&p.args, 'f'), "x.cfg");
	assert_int_equal(p.args.argc, 0);

	/* After "--" everything is an argument. */
	parse(&p, "create -n -- -p extra=-x");
	assert_int_equal(p.r, 0);
	assert_false(xm_opt(&p.args, 'p'));
	assert_int_equal(p.args.argc, 2);
	assert_string_equal(p.args.argv[0], "-p");
}

static void test_parse_errors(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "list -x");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.error, "list: unknown option '-x' (see 'xm help list')");

	parse(&p, "list --bogus");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.error, "list: unknown option '--bogus' (see 'xm help list')");

	parse(&p, "create -f");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(
	        p.error, "create: missing the argument of the option '-f' (see 'xm help create')");

	parse(&p, "create --path");
	assert_int_equal(p.r, -EINVAL);
	assert_non_null(strstr(p.error, "'--path'"));

	parse(&p, "pause");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.error, "pause: missing arguments (usage: xm pause DOM)");

	parse(&p, "pause a b");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.error, "pause: too many arguments (usage: xm pause DOM)");

	parse(&p, "info extra");
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.error, "info: too many arguments (usage: xm info)");
}

static void test_parse_mixed_and_help(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "shutdown web -w -R");
	assert_int_equal(p.r, 0);
	assert_true(xm_opt(&p.args, 'w'));
	assert_true(xm_opt(&p.args, 'R'));
	assert_false(xm_opt(&p.args, 'a'));
	assert_int_equal(p.args.argc, 1);
	assert_string_equal(p.args.argv[0], "web");

	parse(&p, "shutdown --help");
	assert_int_equal(p.r, XM_ARGS_HELP);
	parse(&p, "pause -h");
	assert_int_equal(p.r, XM_ARGS_HELP);

	/* A parse starts afresh: getopt's state from the previous one does not leak. */
	parse(&p, "list -l web");
	assert_int_equal(p.r, 0);
	assert_true(xm_opt(&p.args, 'l'));
	assert_int_equal(p.args.argc, 1);

	parse(&p, "log -n 50");
	assert_int_equal(p.r, 0);
	assert_string_equal(p.args.cmd->name, "dmesg");
	assert_string_equal(xm_optarg(&p.args, 'n'), "50");
}

static char *capture_help(const struct xm_command *cmd)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (cmd)
		xm_print_command_help(f, cmd);
	else
		xm_print_usage(f);
	fclose(f);
	return text;
}

static void test_help_from_table(void **state)
{
	char *text;

	(void)state;
	text = capture_help(xm_command_find("shutdown"));
	assert_non_null(strstr(text, "Usage: xm shutdown [-a] [-w] [-H|-R] DOM\n"));
	assert_non_null(strstr(text, "  -a, --all "));
	assert_non_null(strstr(text, "  -R, --reboot "));
	assert_non_null(strstr(text, "  -h, --help "));
	free(text);

	text = capture_help(xm_command_find("create"));
	assert_non_null(strstr(text, "      --path DIRS "));
	assert_non_null(strstr(text, "  -f, --defconfig FILE "));
	free(text);

	text = capture_help(xm_command_find("log"));
	assert_non_null(strstr(text, "Usage: xm dmesg"));
	assert_non_null(strstr(text, "Also called: log\n"));
	free(text);

	text = capture_help(NULL);
	for (size_t i = 0; i < xm_command_count; i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %-10s %s\n", xm_commands[i].name,
		         xm_commands[i].summary);
		assert_non_null(strstr(text, line));
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_complete),
		cmocka_unit_test(test_names_unique),
		cmocka_unit_test(test_required_commands),
		cmocka_unit_test(test_man_page_lists_every_command),
		cmocka_unit_test(test_parse_create),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_mixed_and_help),
		cmocka_unit_test(test_help_from_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
