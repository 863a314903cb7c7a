// SPDX-License-Identifier: GPL-2.0-only
/*
 * xm's output formats (see output.h).  Column layouts follow xl's where xl has one; the
 * `create -n` dump keeps the shape of Xen's create ("VM name            : "...""), so that
 * Xen 2.0 users recognise it.
 *
 * Runs on xm's main thread; never talks to xend.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "output.h"

void output_state_flags(enum xeno_domain_state state, bool blocked, char flags[7])
{
	static const struct {
		enum xeno_domain_state state;
		int pos;
		char flag;
	} table[] = {
		{ XENO_DOMAIN_RUNNING, 0, 'r' },  { XENO_DOMAIN_PAUSED, 2, 'p' },
		{ XENO_DOMAIN_SHUTDOWN, 3, 's' }, { XENO_DOMAIN_CRASHED, 4, 'c' },
		{ XENO_DOMAIN_DYING, 5, 'd' },
	};

	memcpy(flags, "------", 7);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].state == state)
			flags[table[i].pos] = table[i].flag;
	/* xl: r when a vCPU is on a host CPU, b when all wait for an event (an idle guest). */
	if (state == XENO_DOMAIN_RUNNING && blocked)
		memcpy(flags, "-b", 2);
}

/* The width of the Name column: the longest name, at least that of the heading. */
static int name_width(const struct xeno_domain_info *list, size_t count)
{
	size_t w = 8;

	for (size_t i = 0; i < count; i++)
		if (strlen(list[i].name) > w)
			w = strlen(list[i].name);
	return (int)w;
}

void output_domain_list(FILE *f, const struct xeno_domain_info *list, size_t count)
{
	int w = name_width(list, count);
	char flags[7];

	fprintf(f, "%-*s %5s %8s %5s %-6s %9s\n", w, "Name", "ID", "Mem(MiB)", "VCPUs", "State",
	        "Time(s)");
	for (size_t i = 0; i < count; i++) {
		output_state_flags(list[i].state, list[i].blocked, flags);
		fprintf(f, "%-*s %5u %8" PRIu64 " %5u %-6s %9.1f\n", w, list[i].name, list[i].id,
		        list[i].memory_mib, list[i].vcpus, flags, list[i].cpu_time_s);
	}
}

void output_console_list(FILE *f, const struct xeno_domain_info *list, size_t count)
{
	int w = name_width(list, count);
	char port[16];

	fprintf(f, "%-*s %5s %5s  %s\n", w, "Name", "ID", "TCP", "Console log");
	for (size_t i = 0; i < count; i++) {
		if (list[i].id == 0)
			continue; /* Domain-0's console is the host's */
		if (list[i].console_tcp_port > 0)
			snprintf(port, sizeof(port), "%d", list[i].console_tcp_port);
		else
			snprintf(port, sizeof(port), "-");
		fprintf(f, "%-*s %5u %5s  %s\n", w, list[i].name, list[i].id, port,
		        list[i].console_log ? list[i].console_log : "-");
	}
}

static int parse_fail(char **error, const char *what, enum json_tokener_error jerr)
{
	if (error && asprintf(error, "%s is not JSON: %s", what, json_tokener_error_desc(jerr)) < 0)
		*error = NULL;
	return -EINVAL;
}

static int type_fail(char **error, const char *what, const char *expected)
{
	if (error && asprintf(error, "%s is not a JSON %s", what, expected) < 0)
		*error = NULL;
	return -EINVAL;
}

/* Parses text that must be a JSON value of type `type`. */
static int parse_typed(const char *text, const char *what, enum json_type type,
                       struct json_object **ret, char **error)
{
	enum json_tokener_error jerr;
	struct json_object *obj;

	obj = json_tokener_parse_verbose(text, &jerr);
	if (!obj)
		return parse_fail(error, what, jerr);
	if (!json_object_is_type(obj, type)) {
		json_object_put(obj);
		return type_fail(error, what, json_type_to_name(type));
	}
	*ret = obj;
	return 0;
}

/* A member as text: strings as they are, numbers and the rest as JSON; "" if absent. */
static const char *member_text(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* Appends s to a growing buffer with sep before it unless it is the first item. */
static void put_item(FILE *buf, bool *first, const char *sep, const char *s)
{
	if (!*first)
		fputs(sep, buf);
	fputs(s, buf);
	*first = false;
}

/* The domain's addresses: "ipaddr", else every vif's "ip"; "; "-separated. */
static void put_addresses(FILE *buf, struct json_object *config)
{
	struct json_object *list, *vifs, *ips;
	bool first = true;

	if (json_object_object_get_ex(config, "ipaddr", &list) &&
	    json_object_is_type(list, json_type_array) && json_object_array_length(list)) {
		for (size_t i = 0; i < json_object_array_length(list); i++)
			put_item(buf, &first, "; ",
			         json_object_get_string(json_object_array_get_idx(list, i)));
		return;
	}
	if (!json_object_object_get_ex(config, "vifs", &vifs) ||
	    !json_object_is_type(vifs, json_type_array))
		return;
	for (size_t v = 0; v < json_object_array_length(vifs); v++) {
		struct json_object *vif = json_object_array_get_idx(vifs, v);

		if (!json_object_is_type(vif, json_type_object) ||
		    !json_object_object_get_ex(vif, "ip", &ips) ||
		    !json_object_is_type(ips, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(ips); i++)
			put_item(buf, &first, "; ",
			         json_object_get_string(json_object_array_get_idx(ips, i)));
	}
}

/*
 * The disks as xl writes them, "PATH,VDEV,w" ("r" when read-only, "w!" when forced), with
 * the format when it is not raw, devtype= and backing= when set and cache= when not
 * writeback; "; "-separated.
 */
static void put_disks(FILE *buf, struct json_object *config)
{
	struct json_object *disks, *v;
	bool first = true;

	if (!json_object_object_get_ex(config, "disks", &disks) ||
	    !json_object_is_type(disks, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		bool readonly, force;
		const char *format;

		if (!json_object_is_type(d, json_type_object))
			continue;
		readonly =
		        json_object_object_get_ex(d, "readonly", &v) && json_object_get_boolean(v);
		force = json_object_object_get_ex(d, "force", &v) && json_object_get_boolean(v);
		format = json_object_object_get_ex(d, "format", &v) ? member_text(d, "format")
		                                                    : "raw";
		if (!first)
			fputs("; ", buf);
		fprintf(buf, "%s,", member_text(d, "path"));
		if (strcmp(format, "raw"))
			fprintf(buf, "%s,", format);
		fprintf(buf, "%s,%s", member_text(d, "vdev"), readonly ? "r" : force ? "w!" : "w");
		if (json_object_object_get_ex(d, "devtype", &v))
			fprintf(buf, ",devtype=%s", member_text(d, "devtype"));
		if (json_object_object_get_ex(d, "backing", &v))
			fprintf(buf, ",backing=%s", member_text(d, "backing"));
		if (json_object_object_get_ex(d, "cache", &v) &&
		    strcmp(member_text(d, "cache"), "writeback"))
			fprintf(buf, ",cache=%s", member_text(d, "cache"));
		first = false;
	}
}

/* One "VM ... : "value"" line: the labels are padded to Xen's 19 columns. */
static void put_line(FILE *f, const char *label, const char *value)
{
	fprintf(f, "VM %-16s: \"%s\"\n", label, value);
}

int output_dryrun(FILE *f, const char *config_json, char **error)
{
	struct json_object *config;
	char *text = NULL;
	size_t len = 0;
	FILE *buf;
	int r;

	r = parse_typed(config_json, "the domain config", json_type_object, &config, error);
	if (r < 0)
		return r;
	put_line(f, "name", member_text(config, "name"));
	put_line(f, "image", member_text(config, "kernel"));
	put_line(f, "ramdisk", member_text(config, "ramdisk"));
	put_line(f, "memory (MB)", member_text(config, "memory_mib"));
	for (int i = 0; i < 2; i++) {
		buf = open_memstream(&text, &len);
		if (!buf) {
			json_object_put(config);
			if (error)
				*error = strdup("out of memory");
			return -ENOMEM;
		}
		if (i == 0)
			put_addresses(buf, config);
		else
			put_disks(buf, config);
		fclose(buf);
		put_line(f, i == 0 ? "IP address(es)" : "block device(s)", text ? text : "");
		free(text);
		text = NULL;
	}
	put_line(f, "cmdline", member_text(config, "cmdline"));
	json_object_put(config);
	return 0;
}

int output_host_info(FILE *f, const char *host_json, const char *version_json, char **error)
{
	struct json_object *host, *version = NULL;
	int r;

	r = parse_typed(host_json, "xend's host facts", json_type_object, &host, error);
	if (r < 0)
		return r;
	if (version_json) {
		r = parse_typed(version_json, "xend's version", json_type_object, &version, error);
		if (r < 0) {
			json_object_put(host);
			return r;
		}
	}
	json_object_object_foreach(host, key, val)
	{
		(void)val;
		fprintf(f, "%-22s : %s\n", key, member_text(host, key));
	}
	if (version) {
		fprintf(f, "%-22s : %s\n", "xend_version", member_text(version, "version"));
		fprintf(f, "%-22s : %s\n", "xend_api", member_text(version, "api"));
	}
	fprintf(f, "%-22s : %s\n", "xm_version", XENO_VERSION);
	json_object_put(version);
	json_object_put(host);
	return 0;
}

int output_log(FILE *f, const char *log_json, char **error)
{
	struct json_object *log, *lines;
	int r;

	r = parse_typed(log_json, "xend's log", json_type_object, &log, error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(log, "lines", &lines) ||
	    !json_object_is_type(lines, json_type_array)) {
		json_object_put(log);
		return type_fail(error, "xend's \"lines\"", "array");
	}
	for (size_t i = 0; i < json_object_array_length(lines); i++) {
		struct json_object *line = json_object_array_get_idx(lines, i);

		fprintf(f, "%s\n",
		        json_object_is_type(line, json_type_string)
		                ? json_object_get_string(line)
		                : json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(log);
	return 0;
}

int output_json_pretty(FILE *f, const char *json, char **error)
{
	enum json_tokener_error jerr;
	struct json_object *obj;

	obj = json_tokener_parse_verbose(json, &jerr);
	if (!obj && jerr != json_tokener_success)
		return parse_fail(error, "xend's answer", jerr);
	fprintf(f, "%s\n",
	        json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	                                                    JSON_C_TO_STRING_SPACED |
	                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return 0;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "-";
	return json_object_get_string(v);
}

static long long int_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

int output_network_list(FILE *f, const char *net_json, char **error)
{
	struct json_object *net, *ifs;
	int r;

	r = parse_typed(net_json, "the domain's network", json_type_object, &net, error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(net, "interfaces", &ifs) ||
	    !json_object_is_type(ifs, json_type_array)) {
		json_object_put(net);
		return type_fail(error, "xend's \"interfaces\"", "array");
	}
	fprintf(f, "%-3s %-17s %-10s %-32s %10s %10s %13s\n", "Idx", "MAC", "TAP", "Addresses",
	        "RX-pkts", "TX-pkts", "Spoof-dropped");
	for (size_t i = 0; i < json_object_array_length(ifs); i++) {
		struct json_object *vif = json_object_array_get_idx(ifs, i), *addrs;
		char list[512] = "";

		if (json_object_object_get_ex(vif, "addresses", &addrs) &&
		    json_object_is_type(addrs, json_type_array)) {
			for (size_t j = 0; j < json_object_array_length(addrs); j++) {
				size_t len = strlen(list);

				snprintf(list + len, sizeof(list) - len, "%s%s", j ? "," : "",
				         json_object_get_string(
				                 json_object_array_get_idx(addrs, j)));
			}
		}
		if (!list[0])
			snprintf(list, sizeof(list), "-");
		fprintf(f, "%-3lld %-17s %-10s %-32s %10lld %10lld %13lld\n", int_of(vif, "index"),
		        str_of(vif, "mac"), str_of(vif, "tap"), list, int_of(vif, "rx_packets"),
		        int_of(vif, "tx_packets"), int_of(vif, "spoof_dropped"));
	}
	json_object_put(net);
	return 0;
}

int output_block_list(FILE *f, const char *block_json, char **error)
{
	struct json_object *blk, *disks;
	int r;

	r = parse_typed(block_json, "the domain's disks", json_type_object, &blk, error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(blk, "disks", &disks) ||
	    !json_object_is_type(disks, json_type_array)) {
		json_object_put(blk);
		return type_fail(error, "xend's \"disks\"", "array");
	}
	fprintf(f, "%-6s %-4s %-40s %-6s %-4s %10s %12s %10s %12s\n", "Vdev", "Dev", "Path",
	        "Format", "Mode", "Rd-reqs", "Rd-bytes", "Wr-reqs", "Wr-bytes");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);

		fprintf(f, "%-6s %-4s %-40s %-6s %-4s %10lld %12lld %10lld %12lld\n",
		        str_of(d, "vdev"), str_of(d, "guest_device"), str_of(d, "path"),
		        str_of(d, "format"), str_of(d, "mode"), int_of(d, "read_requests"),
		        int_of(d, "read_bytes"), int_of(d, "write_requests"),
		        int_of(d, "write_bytes"));
	}
	json_object_put(blk);
	return 0;
}

int output_nat(FILE *f, const char *nat_json, char **error)
{
	struct json_object *nat, *on, *rd;
	const char *uplink;
	int r;

	r = parse_typed(nat_json, "the NAT state", json_type_object, &nat, error);
	if (r < 0)
		return r;
	uplink = str_of(nat, "uplink");
	fprintf(f, "NAT: %s\n",
	        json_object_object_get_ex(nat, "enabled", &on) && json_object_get_boolean(on)
	                ? "on"
	                : "off");
	fprintf(f, "Uplink: %s\n",
	        uplink[0] && strcmp(uplink, "-") ? uplink : "any interface but the vifs");
	if (json_object_object_get_ex(nat, "redirects", &rd) &&
	    json_object_is_type(rd, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(rd); i++) {
			struct json_object *o = json_object_array_get_idx(rd, i);

			fprintf(f, "%lld -> %s:22 (domain %s)\n", int_of(o, "port"),
			        str_of(o, "address"), str_of(o, "domain"));
		}
	}
	json_object_put(nat);
	return 0;
}

static void event_time(FILE *f, double t)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char buf[16];

	if (!localtime_r(&secs, &tm) || !strftime(buf, sizeof(buf), "%H:%M:%S", &tm))
		snprintf(buf, sizeof(buf), "?");
	fprintf(f, "[%s] ", buf);
}

void output_event(FILE *f, const struct xeno_event *e)
{
	fputc('\n', f);
	event_time(f, e->time);
	if (strcmp(e->event, "lost") == 0) {
		fprintf(f, "events may have been missed (xend restarted?); the domains now:\n");
		return;
	}
	fprintf(f, "%s (id %u): %s", e->name, e->domid, e->event);
	if (e->reason[0])
		fprintf(f, " (%s)", e->reason);
	if (e->state[0])
		fprintf(f, " -> %s", e->state);
	fputc('\n', f);
}

void output_event_gap(FILE *f, const char *why)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fputc('\n', f);
	event_time(f, (double)ts.tv_sec);
	fprintf(f, "%s; retrying every second\n", why);
}
