/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A domain's figures for xm top and monitoring: CPU time, memory, and its disks' and network
 * interfaces' counters summed, as GET /v1/domains/DOM/stats and GET /v1/stats give them, and
 * the same for every domain as Prometheus text (GET /metrics).  Counters only: rates (CPU%,
 * bytes/s) are the reader's, from two samples and their "time".  Main thread only.
 */
#ifndef XEND_STATS_H
#define XEND_STATS_H

struct domain;
struct domain_table;
struct json_object;

/* One domain's figures (NULL when out of memory).  Asks its VMM, if it has one. */
struct json_object *stats_domain_json(struct domain *dom);

/* Every domain's (not Domain-0's), by id: {"time": T, "domains": [...]}. */
struct json_object *stats_all_json(struct domain_table *t);

/* The same as Prometheus text exposition (malloc'd; NULL when out of memory). */
char *stats_prometheus(struct domain_table *t);

#endif
