// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm save and xm restore (and create -L, Xen's other spelling of restore).  FILE is made
 * absolute against xm's directory before xend sees it: xend runs elsewhere.
 *
 * On a terminal, save shows its progress: the libxeno call runs on a second thread (with
 * xm's handle, which the main thread leaves alone meanwhile) while the main thread watches
 * FILE.partial grow, which is where the VMM writes until it renames the finished file.
 *
 * Restore's long part is the check of the memory's checksums (mapping the file takes
 * milliseconds).  On a terminal xm makes that check itself, where it can show how far it
 * has got, and then asks for a restore that does not repeat it; elsewhere the VMM checks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/savefile.h"
#include "xm.h"

#define PROGRESS_MS 200
#define MIB         (1024.0 * 1024.0)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* file against the current directory, unless it is absolute; malloc'd, or NULL. */
static char *absolute(const char *file)
{
	char *cwd, *path = NULL;

	if (file[0] == '/')
		return strdup(file);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	if (asprintf(&path, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", file) < 0)
		path = NULL;
	free(cwd);
	return path;
}

/* ---- save --------------------------------------------------------------------------------- */

struct save_job {
	struct xm *xm;
	const char *dom, *path;
	unsigned int flags;
	struct xeno_save_info info;
	int r;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *save_thread(void *arg)
{
	struct save_job *j = arg;
	int r = xeno_domain_save(j->xm->h, j->dom, j->path, j->flags, &j->info);

	pthread_mutex_lock(&j->lock);
	j->r = r;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* The MiB the guest has touched (its stats): roughly what the file will hold.  0: unknown. */
static uint64_t touched_mib(struct xm *xm, const char *dom)
{
	struct json_object *obj, *v;
	char *esc = xeno_path_escape(dom), *path = NULL, *text = NULL;
	uint64_t mib = 0;

	if (esc && asprintf(&path, "/v1/domains/%s/stats", esc) >= 0 &&
	    xeno_request(xm->h, "GET", path, NULL, &text) == 0) {
		obj = json_tokener_parse(text);
		if (json_object_object_get_ex(obj, "memory_touched_mib", &v))
			mib = (uint64_t)json_object_get_int64(v);
		json_object_put(obj);
	}
	free(text);
	free(path);
	free(esc);
	return mib;
}

static void show_progress(const char *partial, uint64_t total_mib, long long start_ms)
{
	double secs = (double)(now_ms() - start_ms) / 1000.0, mib;
	struct stat st;

	if (stat(partial, &st) < 0)
		return; /* not started yet, or already renamed */
	mib = (double)st.st_size / MIB;
	fprintf(stderr, "\rsaving: %.0f MiB", mib);
	if (total_mib)
		fprintf(stderr, " of about %llu MiB", (unsigned long long)total_mib);
	fprintf(stderr, ", %.0f MiB/s   ", secs > 0 ? mib / secs : 0.0);
}

/* Runs the save on a thread, printing the size of FILE.partial every PROGRESS_MS. */
static int save_with_progress(struct save_job *j, const char *partial, uint64_t total_mib)
{
	long long start = now_ms();
	pthread_t t;
	int r = pthread_create(&t, NULL, save_thread, j);

	if (r)
		return -r;
	pthread_mutex_lock(&j->lock);
	while (!j->done) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PROGRESS_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j->cond, &j->lock, &until);
		if (!j->done)
			show_progress(partial, total_mib, start);
	}
	pthread_mutex_unlock(&j->lock);
	pthread_join(t, NULL);
	fprintf(stderr, "\r\033[K");
	return j->r;
}

static int run_save(struct xm *xm, struct save_job *j)
{
	char *partial = NULL;
	uint64_t total;
	int r;

	if (!isatty(STDERR_FILENO))
		return xeno_domain_save(xm->h, j->dom, j->path, j->flags, &j->info);
	total = touched_mib(xm, j->dom);
	if (asprintf(&partial, "%s.partial", j->path) < 0)
		return -ENOMEM;
	r = save_with_progress(j, partial, total);
	free(partial);
	return r;
}

int xm_cmd_save(struct xm *xm, const struct xm_args *args)
{
	struct save_job j = { .xm = xm, .dom = args->argv[0] };
	char *path = absolute(args->argv[1]);
	double mib;
	int r;

	if (!path)
		return xm_error("save: cannot make '%s' absolute: %s", args->argv[1],
		                strerror(errno));
	j.path = path;
	j.flags = xm_opt(args, 'c') ? XENO_SAVE_CHECKPOINT : 0;
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cond, NULL);
	r = run_save(xm, &j);
	pthread_cond_destroy(&j.cond);
	pthread_mutex_destroy(&j.lock);
	if (r < 0) {
		r = xm_fail(xm, "save", j.dom, r);
		free(path);
		return r;
	}
	mib = (double)j.info.file_bytes / MIB;
	printf("saved %s to %s: %.0f MiB in %llu ms (%.0f MiB/s)\n", j.dom, path, mib,
	       (unsigned long long)j.info.ms, j.info.ms ? mib * 1000.0 / (double)j.info.ms : 0.0);
	free(path);
	return 0;
}

/* ---- restore ------------------------------------------------------------------------------ */

struct verify_progress {
	long long start_ms, shown_ms;
};

static void show_verify_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct verify_progress *p = opaque;
	long long now = now_ms();
	double secs = (double)(now - p->start_ms) / 1000.0, mib = (double)done / MIB;

	/* Every PROGRESS_MS, and at the end, so that even a quick check shows its figures. */
	if (done < total && now - p->shown_ms < PROGRESS_MS)
		return;
	p->shown_ms = now;
	fprintf(stderr, "\rverifying: %.0f MiB of %.0f MiB, %.0f MiB/s   ", mib,
	        (double)total / MIB, secs > 0 ? mib / secs : 0.0);
}

/*
 * Checks path's memory checksums with progress on stderr.  1: checked; 0: not checked
 * here (a file xm cannot open or parse: xend and the VMM give the reason); -errno: damaged,
 * with the reason in err.
 */
static int verify_on_terminal(const char *path, char *err, size_t errlen)
{
	struct verify_progress p = { now_ms(), 0 };
	struct savefile sf;
	int r;

	if (savefile_open(path, &sf, err, errlen) < 0)
		return 0;
	r = savefile_verify_memory(&sf, show_verify_progress, &p, err, errlen);
	savefile_close(&sf);
	fprintf(stderr, "\r\033[K");
	return r < 0 ? r : 1;
}

int xm_restore(struct xm *xm, const char *file, const struct xeno_restore_opts *opts)
{
	struct xeno_restore_opts o = *opts;
	struct xeno_domain_info info;
	char *path = absolute(file), err[512];
	long long start = now_ms();
	int r;

	if (!path)
		return xm_error("restore: cannot make '%s' absolute: %s", file, strerror(errno));
	if (!o.fast && isatty(STDERR_FILENO)) {
		r = verify_on_terminal(path, err, sizeof(err));
		if (r < 0) {
			r = xm_error("restore: %s: %s", path, err);
			free(path);
			return r;
		}
		o.fast = r == 1;
	}
	r = xeno_domain_restore(xm->h, path, &o, &info);
	free(path);
	if (r < 0)
		return xm_fail(xm, "restore", NULL, r);
	printf("restored %s as domain %u in %lld ms%s\n", info.name, info.id, now_ms() - start,
	       opts->paused ? ", paused" : "");
	xeno_domain_info_fini(&info);
	return 0;
}

int xm_cmd_restore(struct xm *xm, const struct xm_args *args)
{
	struct xeno_restore_opts opts = {
		.paused = xm_opt(args, 'p'),
		.fast = xm_opt(args, 'f'),
		.copy = xm_opt(args, XM_OPT_COPY),
		.name = xm_optarg(args, XM_OPT_NAME),
	};

	return xm_restore(xm, args->argv[0], &opts);
}
