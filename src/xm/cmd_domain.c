// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's domain commands: create (config file -> libxeno's xl.cfg parser -> POST), list,
 * pause/unpause, shutdown/reboot, destroy, domid, domname.  Each handler turns its
 * arguments into libxeno calls and prints the result; output.c formats.
 *
 * Runs on xm's main thread, except the waits of `shutdown -a -w`: one thread per domain,
 * each with its own libxeno handle.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <xeno/cfg.h>

#include "output.h"
#include "xm.h"

#define CONFIG_PATH_DEFAULT ".:/etc/xeno"
#define CONFIG_FILE_DEFAULT "defaults"

/* ---- create ------------------------------------------------------------------------------- */

/*
 * Finds a config file as Xen's create did: as given if it exists or names a directory part,
 * else in each directory of dirs.  Returns a malloc'd path or NULL (errno ENOENT / ENOMEM).
 */
static char *find_config(const char *file, const char *dirs)
{
	char *copy, *dir, *save = NULL, *path = NULL;

	if (strchr(file, '/') || access(file, F_OK) == 0)
		return strdup(file);
	copy = strdup(dirs);
	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (asprintf(&path, "%s/%s", dir, file) < 0) {
			path = NULL;
			break;
		}
		if (access(path, F_OK) == 0)
			break;
		free(path);
		path = NULL;
	}
	free(copy);
	if (!path)
		errno = ENOENT;
	return path;
}

/* Which config file: -f, else a first argument without '=', else "defaults". */
static int config_file(const struct xm_args *args, const char **ret_file, int *ret_first_var)
{
	const char *file = xm_optarg(args, 'f');
	int first = 0;

	if (!file && args->argc > 0 && !strchr(args->argv[0], '=')) {
		file = args->argv[0];
		first = 1;
	}
	for (int i = first; i < args->argc; i++)
		if (!strchr(args->argv[i], '='))
			return xm_error("create: '%s' is not var=value (one config file at most)",
			                args->argv[i]);
	*ret_file = file ? file : CONFIG_FILE_DEFAULT;
	*ret_first_var = first;
	return 0;
}

/* Parses the config file and the var=value overrides into a domain config (JSON text). */
static int resolve_config(const struct xm_args *args, char **ret_json)
{
	const char *dirs = xm_optarg(args, XM_OPT_PATH), *file = NULL;
	struct xeno_cfg *cfg = NULL;
	char *path, *error = NULL;
	int first = 0, r;

	if (config_file(args, &file, &first))
		return 1;
	if (!dirs)
		dirs = getenv("XENO_CONFIG_PATH");
	if (!dirs || !*dirs)
		dirs = CONFIG_PATH_DEFAULT;
	path = find_config(file, dirs);
	if (!path)
		return errno == ENOMEM ? xm_error("create: out of memory")
		                       : xm_error("create: no config file '%s' in %s", file, dirs);
	if (!xm_opt(args, 'q') || xm_opt(args, 'n'))
		printf("Using config file \"%s\".\n", path);
	r = xeno_cfg_parse_file(path, &cfg, &error);
	for (int i = first; r >= 0 && i < args->argc; i++)
		r = xeno_cfg_set(cfg, args->argv[i], &error);
	if (r >= 0)
		r = xeno_cfg_domain_json(cfg, ret_json, &error);
	xeno_cfg_free(cfg);
	free(path);
	if (r < 0) {
		xm_error("create: %s", error ? error : strerror(-r));
		free(error);
		return 1;
	}
	return 0;
}

/* "Started domain web (id=3)" and how to reach its console. */
static void print_started(const struct xeno_domain_info *info, bool paused)
{
	printf("Started domain %s (id=%u)%s\n", info->name, info->id, paused ? ", paused" : "");
	printf("Attach to its console with: xm console %s\n", info->name);
	if (info->console_tcp_port > 0)
		printf("or over TCP: telnet 127.0.0.1 %d\n", info->console_tcp_port);
}

int xm_cmd_create(struct xm *xm, const struct xm_args *args)
{
	struct xeno_domain_info info;
	char *json = NULL, *error = NULL;
	int r;

	if (xm_opt(args, 'L')) {
		struct xeno_restore_opts opts = { .paused = xm_opt(args, 'p') };

		return xm_restore(xm, xm_optarg(args, 'L'), &opts);
	}
	if (resolve_config(args, &json))
		return 1;
	if (xm_opt(args, 'n')) {
		r = output_dryrun(stdout, json, &error);
		free(json);
		if (r < 0) {
			xm_error("create: %s", error ? error : strerror(-r));
			free(error);
			return 1;
		}
		return 0;
	}
	r = xeno_domain_create(xm->h, json, xm_opt(args, 'p'), &info);
	free(json);
	if (r < 0)
		return xm_fail(xm, "create", NULL, r);
	if (!xm_opt(args, 'q'))
		print_started(&info, xm_opt(args, 'p'));
	if (xm_opt(args, 'c')) {
		char dom[16];

		/* By id: the name could be taken by another domain in between. */
		snprintf(dom, sizeof(dom), "%u", info.id);
		xeno_domain_info_fini(&info);
		fflush(stdout);
		return xm_console_attach(xm, dom);
	}
	xeno_domain_info_fini(&info);
	return 0;
}

/* ---- list --------------------------------------------------------------------------------- */

/* `list -l`: the records as one JSON array (all of them, or those named). */
static int list_long(struct xm *xm, const struct xm_args *args)
{
	struct json_object *arr;
	char *text = NULL, *error = NULL;
	int r;

	if (args->argc == 0) {
		r = xeno_domain_list_json(xm->h, &text);
		if (r < 0)
			return xm_fail(xm, "list", NULL, r);
	} else {
		arr = json_object_new_array();
		for (int i = 0; arr && i < args->argc; i++) {
			r = xeno_domain_get_json(xm->h, args->argv[i], &text);
			if (r < 0) {
				json_object_put(arr);
				return xm_fail(xm, "list", args->argv[i], r);
			}
			json_object_array_add(arr, json_tokener_parse(text));
			free(text);
		}
		text = arr ? strdup(json_object_to_json_string(arr)) : NULL;
		json_object_put(arr);
		if (!text)
			return xm_error("list: out of memory");
	}
	r = output_json_pretty(stdout, text, &error);
	free(text);
	if (r < 0) {
		xm_error("list: %s", error ? error : strerror(-r));
		free(error);
		return 1;
	}
	return 0;
}

/* The table of `xm list`, for every domain or the ones named. */
static int list_table(struct xm *xm, const struct xm_args *args)
{
	struct xeno_domain_info *list;
	size_t count;
	int r;

	if (args->argc == 0) {
		r = xeno_domain_list(xm->h, &list, &count);
		if (r < 0)
			return xm_fail(xm, "list", NULL, r);
	} else {
		list = calloc((size_t)args->argc, sizeof(*list));
		if (!list)
			return xm_error("list: out of memory");
		for (count = 0; count < (size_t)args->argc; count++) {
			r = xeno_domain_get(xm->h, args->argv[count], &list[count]);
			if (r < 0) {
				xm_fail(xm, "list", args->argv[count], r);
				xeno_domain_list_free(list, count);
				return 1;
			}
		}
	}
	output_domain_list(stdout, list, count);
	xeno_domain_list_free(list, count);
	return 0;
}

/* Is the event about one of the domains named on the command line (or are none named)? */
static bool watched(const struct xm_args *args, const struct xeno_event *e)
{
	char id[16];

	if (args->argc == 0 || strcmp(e->event, "lost") == 0)
		return true;
	snprintf(id, sizeof(id), "%u", e->domid);
	for (int i = 0; i < args->argc; i++)
		if (strcmp(args->argv[i], e->name) == 0 || strcmp(args->argv[i], id) == 0)
			return true;
	return false;
}

/*
 * `xm list --watch`: the table, then for each event a line saying what happened and the
 * table again, until interrupted.  While xend cannot be reached it says so once and retries
 * every second; once back, a restarted xend shows as a "lost" event and a fresh table.
 */
static int list_watch(struct xm *xm, const struct xm_args *args)
{
	struct xeno_events *w;
	bool down = false;
	int r;

	/* The watcher first, then the table: no change can fall between the two. */
	r = xeno_events_open(xm->h, &w);
	if (r < 0)
		return xm_fail(xm, "list", NULL, r);
	r = list_table(xm, args);
	if (r != 0) {
		xeno_events_close(w);
		return r;
	}
	for (;;) {
		struct xeno_event e;

		fflush(stdout);
		if (xeno_events_next(w, -1, &e) < 0) {
			if (!down)
				output_event_gap(stdout, xeno_errmsg(xm->h));
			down = true;
			fflush(stdout);
			sleep(1);
			continue;
		}
		down = false;
		if (!watched(args, &e))
			continue;
		output_event(stdout, &e);
		/* A domain named on the command line may be gone now: xm says so and goes on. */
		(void)list_table(xm, args);
	}
}

int xm_cmd_list(struct xm *xm, const struct xm_args *args)
{
	if (xm_opt(args, 'l'))
		return list_long(xm, args);
	if (xm_opt(args, 'w'))
		return list_watch(xm, args);
	return list_table(xm, args);
}

/* ---- pause, unpause, destroy, domid, domname ---------------------------------------------- */

int xm_cmd_pause(struct xm *xm, const struct xm_args *args)
{
	const char *dom = args->argv[0];
	int r;

	if (args->cmd->variant == XM_PAUSE)
		r = xeno_domain_pause(xm->h, dom);
	else
		r = xeno_domain_unpause(xm->h, dom);
	return r < 0 ? xm_fail(xm, args->cmd->name, dom, r) : 0;
}

/* `destroy -R`: the config xend resolved for dom, as a JSON text. */
static int saved_config(struct xm *xm, const char *dom, char **ret_json)
{
	struct json_object *record, *config;
	char *text;
	int r;

	r = xeno_domain_get_json(xm->h, dom, &text);
	if (r < 0)
		return xm_fail(xm, "destroy", dom, r);
	record = json_tokener_parse(text);
	free(text);
	if (!record || !json_object_object_get_ex(record, "config", &config) ||
	    !json_object_is_type(config, json_type_object)) {
		json_object_put(record);
		return xm_error("destroy '%s': xend's record has no config to restart from", dom);
	}
	*ret_json = strdup(json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN));
	json_object_put(record);
	return *ret_json ? 0 : xm_error("destroy: out of memory");
}

int xm_cmd_destroy(struct xm *xm, const struct xm_args *args)
{
	const char *dom = args->argv[0];
	struct xeno_domain_info info;
	char *config = NULL;
	int r;

	if (xm_opt(args, 'R') && saved_config(xm, dom, &config))
		return 1;
	r = xeno_domain_destroy(xm->h, dom);
	if (r < 0) {
		free(config);
		return xm_fail(xm, "destroy", dom, r);
	}
	if (!config)
		return 0;
	r = xeno_domain_create(xm->h, config, false, &info);
	free(config);
	if (r < 0)
		return xm_fail(xm, "destroy -R: create", NULL, r);
	print_started(&info, false);
	xeno_domain_info_fini(&info);
	return 0;
}

int xm_cmd_domid(struct xm *xm, const struct xm_args *args)
{
	struct xeno_domain_info info;
	int r;

	r = xeno_domain_get(xm->h, args->argv[0], &info);
	if (r < 0)
		return xm_fail(xm, "domid", args->argv[0], r);
	printf("%u\n", info.id);
	xeno_domain_info_fini(&info);
	return 0;
}

int xm_cmd_domname(struct xm *xm, const struct xm_args *args)
{
	const char *id = args->argv[0];
	struct xeno_domain_info info;
	int r;

	if (!*id || strspn(id, "0123456789") != strlen(id))
		return xm_error("domname: '%s' is not a domain id (a number)", id);
	r = xeno_domain_get(xm->h, id, &info);
	if (r < 0)
		return xm_fail(xm, "domname", id, r);
	printf("%s\n", info.name);
	xeno_domain_info_fini(&info);
	return 0;
}

/* ---- shutdown, reboot --------------------------------------------------------------------- */

struct shutdown_job {
	const char *socket_path;
	const char *dom;
	bool reboot;
	int r;
	char msg[512];
	pthread_t thread;
	bool started;
};

/* One waiting shutdown on a handle of its own: libxeno handles are one thread's each. */
static void *shutdown_thread(void *arg)
{
	struct shutdown_job *job = arg;
	struct xeno *h;

	job->r = xeno_open(job->socket_path, &h);
	if (job->r < 0) {
		snprintf(job->msg, sizeof(job->msg), "%s", strerror(-job->r));
		return NULL;
	}
	job->r = xeno_domain_shutdown(h, job->dom, job->reboot, true);
	snprintf(job->msg, sizeof(job->msg), "%s", xeno_errmsg(h));
	xeno_close(h);
	return NULL;
}

/* Shuts several domains down; with wait, in parallel so that the slowest sets the pace. */
static int shutdown_many(struct xm *xm, const char *cmd, char **doms, size_t n, bool reboot,
                         bool wait)
{
	struct shutdown_job *jobs;
	int status = 0;

	if (!wait) {
		for (size_t i = 0; i < n; i++) {
			int r = xeno_domain_shutdown(xm->h, doms[i], reboot, false);

			if (r < 0)
				status = xm_fail(xm, cmd, doms[i], r);
		}
		return status;
	}
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!jobs)
		return xm_error("%s: out of memory", cmd);
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct shutdown_job){ .socket_path = xeno_socket_path(xm->h),
			                         .dom = doms[i],
			                         .reboot = reboot };
		jobs[i].started = !pthread_create(&jobs[i].thread, NULL, shutdown_thread, &jobs[i]);
		if (!jobs[i].started)
			shutdown_thread(&jobs[i]); /* no thread: wait for this one here */
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		if (jobs[i].r < 0)
			status = xm_fail_msg(cmd, doms[i], jobs[i].r, jobs[i].msg);
	}
	free(jobs);
	return status;
}

/* `-a`: the names of every domain but Domain-0. */
static int all_domains(struct xm *xm, const char *cmd, char ***ret, size_t *ret_count)
{
	struct xeno_domain_info *list;
	size_t count, n = 0;
	char **names;
	int r;

	r = xeno_domain_list(xm->h, &list, &count);
	if (r < 0)
		return xm_fail(xm, cmd, NULL, r);
	names = calloc(count ? count : 1, sizeof(*names));
	for (size_t i = 0; names && i < count; i++)
		if (list[i].id != 0 && !(names[n++] = strdup(list[i].name)))
			break;
	xeno_domain_list_free(list, count);
	if (!names || (n && !names[n - 1])) {
		for (size_t i = 0; names && i < n; i++)
			free(names[i]);
		free(names);
		return xm_error("%s: out of memory", cmd);
	}
	*ret = names;
	*ret_count = n;
	return 0;
}

int xm_cmd_shutdown(struct xm *xm, const struct xm_args *args)
{
	const char *cmd = args->cmd->name;
	bool all = xm_opt(args, 'a'), reboot;
	char **names = NULL;
	size_t n = 0;
	int status;

	reboot = args->cmd->variant == XM_REBOOT || xm_opt(args, 'R');
	if (xm_opt(args, 'H') && xm_opt(args, 'R'))
		return xm_error("%s: -H and -R contradict each other", cmd);
	if (all == (args->argc == 1))
		return xm_error("%s: %s (usage: xm %s %s)", cmd,
		                all ? "-a and DOM contradict each other" : "missing DOM", cmd,
		                args->cmd->usage);
	if (!all)
		return shutdown_many(xm, cmd, args->argv, 1, reboot, xm_opt(args, 'w'));
	if (all_domains(xm, cmd, &names, &n))
		return 1;
	status = shutdown_many(xm, cmd, names, n, reboot, xm_opt(args, 'w'));
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return status;
}
