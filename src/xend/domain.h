/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The domain table and each domain's lifecycle: create (spawn a VMM), pause, unpause,
 * shutdown, destroy, the on_poweroff/on_reboot/on_crash actions when a VMM exits, and the
 * adoption of running VMMs when xend starts.  Every function runs on xend's main thread (the
 * API threads reach it through daemon_call), so the table needs no lock.  Each change is
 * written to the domain's record before the function returns.
 */
#ifndef XEND_DOMAIN_H
#define XEND_DOMAIN_H

#include "xend/cgroup.h"
#include "xend/domain_config.h"
#include "xend/events.h"
#include "xend/net_plan.h"
#include "xend/supervise.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evloop;
struct json_object;
struct xend_conf;
struct console;
struct nl_sock;

enum domain_state {
	DOMAIN_RUNNING,
	DOMAIN_PAUSED,
	DOMAIN_SHUTDOWN, /* preserved after a poweroff or reboot: no VMM */
	DOMAIN_CRASHED,  /* preserved after a crash: no VMM */
	DOMAIN_DYING,    /* being destroyed */
	DOMAIN_STATE_COUNT
};

struct domain_table;

struct domain {
	unsigned int id;
	struct domain_config cfg; /* resolved: ${vmid} replaced */
	enum domain_state state;
	double start_time;     /* epoch seconds, when the current VMM started */
	double cpu_time_s;     /* last vCPU time the VMM reported */
	bool blocked;          /* at that time, every vCPU was halted or parked */
	pid_t pid;             /* 0 when no VMM runs */
	uint64_t pid_start;    /* the VMM's start time, clock ticks since boot */
	int pidfd;             /* -1 when no VMM runs; watched by the event loop */
	bool reboot_requested; /* the next poweroff counts as a reboot */
	unsigned int boots;    /* VMMs started for this domain, restarts included */
	long long boot_ms;     /* monotonic time of the last VMM start */
	struct vmm_paths paths;
	struct net_plan net;        /* TAPs, MACs and addresses; kept in the record */
	long long network_setup_us; /* time the last network set-up took */
	bool saving; /* a save runs on an API thread: the VMM is busy, its vCPUs paused */
	struct console *con;
	struct domain_table *table;
	struct domain *next; /* by increasing id */
};

struct domain_table {
	const struct xend_conf *conf;
	struct evloop *loop;
	struct domain *list;
	unsigned int next_id;
	uint64_t seq;               /* bumped on every change of any domain */
	bool nat;                   /* NAT and ssh redirects on (net.c) */
	struct nl_sock *nl;         /* rtnetlink, opened when first needed (net.c) */
	struct event_log events;    /* what GET /v1/events announces */
	struct cgroup_host cgroups; /* CPU weights and caps (cgroup.c) */
	/* Called after each change (the daemon wakes API threads waiting for one). */
	void (*changed)(void *opaque);
	void *changed_opaque;
};

/* Name of a state ("running" ...). */
const char *domain_state_name(enum domain_state state);

/* An empty table.  The event loop watches the VMMs' pidfds and consoles. */
void domain_table_init(struct domain_table *t, const struct xend_conf *conf, struct evloop *loop);

/*
 * Loads every record of state-dir and adopts the VMMs still running (same pid and start
 * time).  A VMM that ended while xend was away gets its on_* action from its status file;
 * a record without a VMM or status is removed.  Returns 0 or -errno (state-dir unreadable).
 */
int domain_table_load(struct domain_table *t) __attribute__((warn_unused_result));

/*
 * Frees the table, leaving every VMM running (xend stops, domains do not) with its network;
 * the shared nftables tables go only when no domain is left.
 */
void domain_table_fini(struct domain_table *t);

/* The domain whose id (all digits) or name is dom; NULL if none. */
struct domain *domain_lookup(struct domain_table *t, const char *dom);
struct domain *domain_lookup_id(struct domain_table *t, unsigned int id);

/*
 * Creates a domain from cfg (copied): next id, ${vmid}, name check, files, the disk
 * sharing rule (disk.h), memory check, the overlays of backing= disks, VMM start.  On
 * success *ret is the new domain.  Returns -EEXIST (name taken), -EBUSY (a disk another
 * domain has, or whose lock another process holds: err names them), -EINVAL (a file is
 * missing, an overlay cannot be made), -ENOMEM (the host would keep less than
 * dom0-min-mem), -EIO (the VMM did not start: err has its reason), or another -errno; err
 * holds a message.  Nothing is left behind on failure, overlays made for it included.
 */
int domain_create(struct domain_table *t, const struct domain_config *cfg, struct domain **ret,
                  char *err, size_t errlen) __attribute__((warn_unused_result));

/* How domain_restore() starts the VMM from a save file instead of booting a kernel. */
struct domain_restore {
	const char *path;           /* the save file, absolute */
	const struct net_plan *net; /* the saved domain's network: its MACs and addresses */
	bool paused;                /* stay paused once restored */
	bool no_verify;             /* skip the memory checksums (xeno-vmm --restore-no-verify) */
	bool copy;                  /* read memory into RAM instead of mapping the file */
	int ready_timeout_ms;       /* how long the VMM may take to load the file */
};

/*
 * Creates a domain from the config of a saved one (cfg, already resolved: no ${vmid}) and
 * starts its VMM with --restore: a new id, create's checks (name, disks and their sharing,
 * CPUs, memory; no kernel is needed) and the saved network with the same MACs and addresses,
 * refused with -EEXIST when another domain holds one.  The "created" event has the reason
 * "restored".  Errors as domain_create(); nothing is left behind on failure.
 */
int domain_restore(struct domain_table *t, const struct domain_config *cfg,
                   const struct domain_restore *rs, struct domain **ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * First step of a save (main thread): dom must have a VMM and no save running; writes its
 * record, as the save file keeps it, to a file in its run directory (path in meta, metalen
 * bytes) and marks dom as saving, which keeps other operations and stats calls off its busy
 * VMM.  0, or -EBUSY / -EIO with err.
 */
int domain_save_begin(struct domain *dom, char *meta, size_t metalen, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Last step of a save of domain id (main thread), after its VMM answered `save` with r (0:
 * the file is complete; was_paused as the VMM said).  Removes meta.  A checkpoint resumes the
 * domain unless it was paused; a plain save ends the VMM and removes the domain with the
 * event "destroyed", reason "saved", without any on_* action.  0, or -errno with err (a
 * failed save leaves the domain as it was; the VMM resumed it).
 */
int domain_save_end(struct domain_table *t, unsigned int id, const char *meta, const char *path,
                    bool checkpoint, bool was_paused, int r, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Destroys dom at once: its VMM gets `quit`, then SIGKILL; the record goes.  If ret_record
 * is not NULL it receives the last record (state "dying").  dom is freed.
 */
void domain_destroy(struct domain *dom, struct json_object **ret_record);

/* Writes dom's record (after a change made outside domain.c). */
void domain_save(struct domain *dom);

/* 0 if dom has a VMM to act on; else -EBUSY with err saying why op cannot be done. */
int domain_need_vmm(struct domain *dom, const char *op, char *err, size_t errlen);

/*
 * The domain's vCPUs as GET /v1/domains/DOM/vcpus shows them: [{"vcpu", "cpu", "state",
 * "time_s", "affinity"}], from its VMM.  NULL with err set when the VMM does not answer.
 */
struct json_object *domain_vcpus_json(struct domain *dom, char *err, size_t errlen);

/* Lets vCPU vcpu run only on the host CPUs of cpus ("all": on any).  0 or -errno, err. */
int domain_vcpu_pin(struct domain *dom, unsigned int vcpu, const char *cpus, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* The RAM the domain's VMM runs with (its --memory), from its status; 0 if unknown. */
unsigned int domain_vmm_ram_mib(struct domain *dom);

/*
 * Sets the domain's maxmem, the most mem-set may give it: down to its current target and
 * memory, up to the RAM its VMM runs with (the maxmem it booted with).  Kept in its config,
 * so it is also the RAM of its next boot.  0 or -errno with err.
 */
int domain_mem_max(struct domain *dom, unsigned int maxmem_mib, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Moves the domain's balloon so that the guest keeps target_mib of its memory (from
 * DOMAIN_MEM_MIB_MIN up to its maxmem_mib); growing must leave Domain-0 its dom0-min-mem.
 * 0 or -errno with err.
 */
int domain_mem_set(struct domain *dom, unsigned int target_mib, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Sets the CPU weight and cap (cgroup.h) at once and in the record.  0 or -errno, err. */
int domain_sched_set(struct domain *dom, unsigned int weight, unsigned int cap, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* Pause and unpause; -EALREADY in that state already, -EBUSY without a VMM. */
int domain_pause(struct domain *dom, char *err, size_t errlen) __attribute__((warn_unused_result));
int domain_unpause(struct domain *dom, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Presses the power button; with reboot, the next poweroff restarts per on_reboot. */
int domain_shutdown(struct domain *dom, bool reboot, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * The API record of dom (docs/api.md "Domain record"); with refresh, asks the VMM for its
 * CPU time first.  NULL if out of memory.
 */
struct json_object *domain_to_json(struct domain *dom, bool refresh);

/* Memory (MiB) that running domains may still take from the host: memory minus RSS. */
uint64_t domain_table_committed_mib(struct domain_table *t);

#endif
