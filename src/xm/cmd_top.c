// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm top: every domain's figures, refreshed, as xentop shows them.  Full screen (ncurses;
 * q quits, any other key refreshes at once) or, with -b, one frame after another on stdout
 * for scripts.  A frame is one GET /v1/stats; CPU(%) and the I/O rates are the difference
 * with the frame before over the time between them (the first frame shows 0).
 *
 * Runs on xm's main thread.
 */
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "xm.h"

#define TOP_MAX_DOMAINS 1024

/* What a frame keeps of each domain for the next one's differences. */
struct sample {
	long long id;
	double time, cpu_s;
	long long rx, tx, rd, wr;
};

struct top {
	struct sample prev[TOP_MAX_DOMAINS];
	size_t nr_prev;
};

static double dbl(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static long long i64(struct json_object *o, const char *group, const char *key)
{
	struct json_object *g = o, *v;

	if (group && !json_object_object_get_ex(o, group, &g))
		return 0;
	return json_object_object_get_ex(g, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

/* The guest's free memory as its balloon driver reports it, or "-" before it does. */
static const char *guest_free(struct json_object *d, char *buf, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(d, "memory_guest_free_mib", &v))
		return "-";
	snprintf(buf, len, "%lld", (long long)json_object_get_int64(v));
	return buf;
}

static const struct sample *previous(const struct top *t, long long id)
{
	for (size_t i = 0; i < t->nr_prev; i++)
		if (t->prev[i].id == id)
			return &t->prev[i];
	return NULL;
}

/* Writes one frame of text for the stats answer; keeps its samples for the next frame. */
static void render(struct top *t, struct json_object *answer, FILE *f)
{
	struct json_object *list = NULL;
	struct sample next[TOP_MAX_DOMAINS];
	size_t n = 0;
	time_t now = time(NULL);
	struct tm tm;
	char clock[16] = "";

	json_object_object_get_ex(answer, "domains", &list);
	if (localtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	fprintf(f, "xm top - %s  %zu domain%s\n", clock, list ? json_object_array_length(list) : 0,
	        list && json_object_array_length(list) == 1 ? "" : "s");
	fprintf(f, "%-16s %4s %-8s %9s %6s %8s %11s %11s %9s %5s %4s %8s %8s %4s %10s %10s\n",
	        "NAME", "ID", "STATE", "CPU(sec)", "CPU(%)", "MEM(MiB)", "MAXMEM(MiB)",
	        "TARGET(MiB)", "FREE(MiB)", "VCPUS", "VBDS", "VBD_RD", "VBD_WR", "NETS",
	        "NETRX(KiB)", "NETTX(KiB)");
	for (size_t i = 0; list && i < json_object_array_length(list) && n < TOP_MAX_DOMAINS; i++) {
		struct json_object *d = json_object_array_get_idx(list, i);
		struct sample *s = &next[n++];
		const struct sample *p;
		struct json_object *name = NULL, *state = NULL;
		double pct = 0;
		char free_mib[24];

		s->id = i64(d, NULL, "id");
		s->time = dbl(d, "time");
		s->cpu_s = dbl(d, "cpu_time_s");
		s->rx = i64(d, "net", "rx_bytes");
		s->tx = i64(d, "net", "tx_bytes");
		s->rd = i64(d, "block", "read_requests");
		s->wr = i64(d, "block", "write_requests");
		p = previous(t, s->id);
		if (p && s->time > p->time)
			pct = (s->cpu_s - p->cpu_s) / (s->time - p->time) * 100;
		json_object_object_get_ex(d, "name", &name);
		json_object_object_get_ex(d, "state", &state);
		fprintf(f,
		        "%-16.16s %4lld %-8.8s %9.1f %6.1f %8lld %11lld %11lld %9s %5lld %4lld "
		        "%8lld %8lld %4lld %10lld %10lld\n",
		        name ? json_object_get_string(name) : "?", s->id,
		        state ? json_object_get_string(state) : "?", s->cpu_s, pct < 0 ? 0 : pct,
		        i64(d, NULL, "memory_mib"), i64(d, NULL, "maxmem_mib"),
		        i64(d, NULL, "memory_target_mib"),
		        guest_free(d, free_mib, sizeof(free_mib)), i64(d, NULL, "vcpus"),
		        i64(d, NULL, "disks"), s->rd, s->wr, i64(d, NULL, "vifs"), s->rx >> 10,
		        s->tx >> 10);
	}
	memcpy(t->prev, next, n * sizeof(next[0]));
	t->nr_prev = n;
}

/* One frame as text (malloc'd), or NULL after printing why. */
static char *frame(struct xm *xm, struct top *t)
{
	struct json_object *answer;
	char *json = NULL, *text = NULL;
	size_t len = 0;
	FILE *f;
	int r = xeno_request(xm->h, "GET", "/v1/stats", NULL, &json);

	if (r < 0) {
		xm_fail(xm, "top", NULL, r);
		return NULL;
	}
	answer = json_tokener_parse(json);
	free(json);
	f = open_memstream(&text, &len);
	if (!answer || !f) {
		if (f)
			fclose(f);
		free(text);
		json_object_put(answer);
		xm_error("top: %s", answer ? "out of memory" : "xend's stats are not JSON");
		return NULL;
	}
	render(t, answer, f);
	fclose(f);
	json_object_put(answer);
	return text;
}

static int full_screen(struct xm *xm, struct top *t, double delay, long iterations)
{
	int status = 0;

	if (!initscr())
		return xm_error("top: cannot use the terminal (TERM=%s); try -b",
		                getenv("TERM") ? getenv("TERM") : "");
	cbreak();
	noecho();
	curs_set(0);
	timeout((int)(delay * 1000));
	for (long i = 0; iterations <= 0 || i < iterations; i++) {
		char *text = frame(xm, t), *line, *save = NULL;
		int row = 0, key;

		if (!text) {
			status = 1;
			break;
		}
		erase();
		for (line = strtok_r(text, "\n", &save); line && row < LINES;
		     line = strtok_r(NULL, "\n", &save))
			mvaddnstr(row++, 0, line, COLS);
		if (row < LINES)
			mvaddstr(LINES - 1, 0, "q: quit   any other key: refresh now");
		refresh();
		free(text);
		key = getch();
		if (key == 'q' || key == 'Q')
			break;
	}
	endwin();
	return status;
}

int xm_cmd_top(struct xm *xm, const struct xm_args *args)
{
	const char *d = xm_optarg(args, 'd'), *n = xm_optarg(args, 'i');
	double delay = 3;
	long iterations = 0;
	struct top *t;
	char *end;
	int status = 0;

	if (d) {
		errno = 0;
		delay = strtod(d, &end);
		if (errno || end == d || *end || !(delay >= 0.1 && delay <= 3600))
			return xm_error("top: -d '%s': expected seconds from 0.1 to 3600", d);
	}
	if (n) {
		errno = 0;
		iterations = strtol(n, &end, 10);
		if (errno || end == n || *end || iterations < 1)
			return xm_error("top: -i '%s': expected a number of frames, 1 or more", n);
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return xm_error("top: out of memory");
	if (!xm_opt(args, 'b')) {
		status = full_screen(xm, t, delay, iterations);
		free(t);
		return status;
	}
	for (long i = 0; iterations <= 0 || i < iterations; i++) {
		char *text;

		if (i)
			usleep((useconds_t)lround(delay * 1e6));
		text = frame(xm, t);
		if (!text) {
			status = 1;
			break;
		}
		fputs(text, stdout);
		putchar('\n');
		fflush(stdout);
		free(text);
	}
	free(t);
	return status;
}
