// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control commands.  One table row per command; the reply is always a single JSON object
 * with "ok": true and the command's fields, or "ok": false and an "error" message.
 */
#include "vmm/control.h"
#include "common/cpulist.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "vmm/console.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	char line[CONTROL_LINE_MAX];
	size_t len;
};

struct control {
	struct evloop *loop;
	struct vm *vm;
	struct console *con;
	const char *path;
	int listen_fd;
	struct client clients[CONTROL_MAX_CLIENTS];
};

/* Appends to a reply buffer, never past its end. */
struct reply {
	char *buf;
	size_t len, cap;
	char error[768]; /* a failed command's message (JSON-escaped when sent) */
};

/* A command fails: the reply becomes {"ok":false,"error":...}.  Returns -EINVAL. */
static int fail(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void emit(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= r->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len = r->len + (size_t)n < r->cap ? r->len + (size_t)n : r->cap - 1;
}

/* Messages may quote paths a client gave: JSON-escape them. */
static void emit_escaped(struct reply *r, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			emit(r, "\\%c", c);
		else if (c < 0x20)
			emit(r, "\\u%04x", c);
		else
			emit(r, "%c", c);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t vmm_rss_bytes(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static int cmd_status(struct control *ctl, const char *args, struct reply *r)
{
	const struct vm *vm = ctl->vm;

	(void)args;
	emit(r, ",\"name\":\"%s\",\"state\":\"%s\",\"vcpus\":%u,\"memory_mib\":%u,\"pid\":%d",
	     vm->cfg->name, vm_is_paused(ctl->vm) ? "paused" : "running", vm->nr_vcpus,
	     vm->cfg->mem_mib, (int)getpid());
	return 0;
}

static int cmd_pause(struct control *ctl, const char *args, struct reply *r)
{
	uint64_t t0 = now_ns();

	(void)args;
	vm_pause(ctl->vm);
	emit(r, ",\"pause_ns\":%llu", (unsigned long long)(now_ns() - t0));
	return 0;
}

static int cmd_resume(struct control *ctl, const char *args, struct reply *r)
{
	(void)args;
	(void)r;
	vm_resume(ctl->vm);
	return 0;
}

static int cmd_power_button(struct control *ctl, const char *args, struct reply *r)
{
	(void)args;
	(void)r;
	acpi_pm_power_button(ctl->vm->pm);
	return 0;
}

static int cmd_quit(struct control *ctl, const char *args, struct reply *r)
{
	(void)args;
	(void)r;
	vm_request_stop(ctl->vm, VM_STOP_HOST);
	return 0;
}

/* Ring positions and interrupt state per queue: what a stalled device is diagnosed from. */
static void emit_queue_states(struct virtio_pci *vp, struct reply *r)
{
	struct virtio_pci_queue_state st;

	emit(r, ",\"queues\":[");
	for (unsigned int q = 0; virtio_pci_queue_state(vp, q, &st); q++)
		emit(r,
		     "%s{\"size\":%u,\"avail_idx\":%u,\"last_avail_idx\":%u,\"used_idx\":%u,"
		     "\"signalled_used\":%u,\"used_event\":%u,\"avail_event\":%u,"
		     "\"avail_flags\":%u,\"used_flags\":%u,\"broken\":%s,\"vector\":%u,"
		     "\"msix_enabled\":%s,\"masked\":%s,\"pending\":%s}",
		     q ? "," : "", st.ring.size, st.ring.avail_idx, st.ring.last_avail_idx,
		     st.ring.used_idx, st.ring.signalled_used, st.ring.used_event,
		     st.ring.avail_event, st.ring.avail_flags, st.ring.used_flags,
		     st.ring.broken ? "true" : "false", st.vector,
		     st.msix_enabled ? "true" : "false", st.masked ? "true" : "false",
		     st.pending ? "true" : "false");
	emit(r, "]");
}

/* Per-device counters: what xm top and the stats API show per disk and NIC. */
static void emit_device_stats(struct control *ctl, struct reply *r)
{
	const struct vm *vm = ctl->vm;

	emit(r, ",\"devices\":[");
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct virtio_dev *dev = virtio_pci_device(vm->virtio[i]);

		emit(r, "%s{\"name\":\"%s\"", i ? "," : "", virtio_pci_name(vm->virtio[i]));
		if (dev->ops->device_id == VIRTIO_ID_BLOCK) {
			struct virtio_blk_stats st;

			virtio_blk_stats(dev, &st);
			emit(r,
			     ",\"reads\":%llu,\"writes\":%llu,\"flushes\":%llu,\"read_bytes\":%llu,"
			     "\"write_bytes\":%llu,\"errors\":%llu",
			     (unsigned long long)st.reads, (unsigned long long)st.writes,
			     (unsigned long long)st.flushes, (unsigned long long)st.read_bytes,
			     (unsigned long long)st.write_bytes, (unsigned long long)st.errors);
		} else if (dev->ops->device_id == VIRTIO_ID_NET) {
			struct virtio_net_stats st;

			virtio_net_stats(dev, &st);
			emit(r,
			     ",\"rx_packets\":%llu,\"rx_bytes\":%llu,\"rx_dropped\":%llu,"
			     "\"tx_packets\":%llu,\"tx_bytes\":%llu,\"tx_dropped\":%llu",
			     (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
			     (unsigned long long)st.rx_dropped, (unsigned long long)st.tx_packets,
			     (unsigned long long)st.tx_bytes, (unsigned long long)st.tx_dropped);
		}
		emit_queue_states(vm->virtio[i], r);
		emit(r, "}");
	}
	emit(r, "]");
}

/* What a stuck console needs to be diagnosed: is input queued, is the guest listening. */
static void emit_uart_state(struct control *ctl, struct reply *r)
{
	struct serial_state st;

	if (!ctl->vm->serial)
		return;
	serial_get_state(ctl->vm->serial, &st);
	emit(r,
	     ",\"console_input_queued_bytes\":%zu,\"uart\":{\"ier\":%u,\"mcr\":%u,"
	     "\"rx_fifo_bytes\":%u,\"irq\":%s,\"thr_interrupt\":%s}",
	     console_input_queued_bytes(ctl->con), st.ier, st.mcr, st.rx_count,
	     st.irq_level ? "true" : "false", st.thr_interrupt ? "true" : "false");
}

/* Each vCPU thread's scheduling: running or asleep, the host CPU it was last on, where it
 * may run. */
static void emit_vcpu_sched(struct vm *vm, struct reply *r)
{
	bool running[VM_VCPUS_MAX];
	int cpu[VM_VCPUS_MAX];

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		(void)vcpu_sched_state(&vm->vcpus[i], &running[i], &cpu[i]);
	emit(r, "],\"vcpus_running\":[");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		emit(r, "%s%s", i ? "," : "", running[i] ? "true" : "false");
	emit(r, "],\"vcpu_cpu\":[");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		emit(r, "%s%d", i ? "," : "", cpu[i]);
	emit(r, "],\"vcpu_affinity\":[");
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		char list[256];
		cpu_set_t set;

		if (vcpu_affinity(&vm->vcpus[i], &set) < 0)
			CPU_ZERO(&set);
		emit(r, "%s\"%s\"", i ? "," : "", cpulist_format(&set, list, sizeof(list)));
	}
	emit(r, "]");
}

/* vcpu-pin N LIST: vCPU N may run only on the host CPUs of LIST ("all": anywhere). */
static int cmd_vcpu_pin(struct control *ctl, const char *args, struct reply *r)
{
	struct vm *vm = ctl->vm;
	unsigned int nr = cpulist_host_cpus(), bad = 0;
	char list[64], *end;
	unsigned long index;
	cpu_set_t set;
	int n, err;

	errno = 0;
	index = strtoul(args, &end, 10);
	if (errno || end == args || (*end != ' ' && *end != '\t'))
		return fail(r, "usage: vcpu-pin VCPU CPULIST");
	if (index >= vm->nr_vcpus)
		return fail(r, "no vCPU %lu (this domain has %u)", index, vm->nr_vcpus);
	n = sscanf(end, " %63s", list);
	if (n != 1)
		return fail(r, "usage: vcpu-pin VCPU CPULIST");
	err = cpulist_parse(list, nr, &set, &bad);
	if (err == -ERANGE)
		return fail(r, "this host has no CPU %u (it has 0-%u)", bad, nr - 1);
	if (err < 0)
		return fail(r, "expected a CPU list such as 0-3,6 or all");
	err = vcpu_pin(&vm->vcpus[index], &set);
	if (err < 0)
		return fail(r, "cannot pin vCPU %lu: %s", index, strerror(-err));
	emit(r, ",\"vcpu\":%lu,\"cpus\":\"%s\"", index, cpulist_format(&set, list, sizeof(list)));
	return 0;
}

/* balloon MIB: the guest should keep MIB of its memory and give the rest back to the host. */
static int cmd_balloon(struct control *ctl, const char *args, struct reply *r)
{
	struct vm *vm = ctl->vm;
	uint32_t mem = vm->cfg->mem_mib;
	unsigned long target;
	char *end;

	if (!vm->balloon)
		return fail(r, "this domain has no balloon (xeno-vmm --balloon)");
	errno = 0;
	target = strtoul(args, &end, 10);
	if (errno || end == args || (*end && *end != '\n' && *end != ' '))
		return fail(r, "usage: balloon MIB (the memory the guest keeps)");
	if (target > mem || target < CONTROL_BALLOON_MIN_MIB)
		return fail(r, "%lu MiB is outside %u to %u MiB (this domain's memory)", target,
		            CONTROL_BALLOON_MIN_MIB, mem);
	virtio_balloon_set_target(vm->balloon, (uint32_t)(mem - target) << 8);
	emit(r, ",\"target_mib\":%lu", target);
	return 0;
}

/* The guest's figures that stats shows, by their statistics tag (virtio 1.2 §5.5.6.3). */
static const struct {
	unsigned int tag;
	const char *key;
} guest_figures[] = {
	{ VIRTIO_BALLOON_S_MEMFREE, "guest_free_bytes" },
	{ VIRTIO_BALLOON_S_MEMTOT, "guest_total_bytes" },
	{ VIRTIO_BALLOON_S_AVAIL, "guest_available_bytes" },
	{ VIRTIO_BALLOON_S_CACHES, "guest_caches_bytes" },
	{ VIRTIO_BALLOON_S_SWAP_IN, "guest_swap_in_bytes" },
	{ VIRTIO_BALLOON_S_SWAP_OUT, "guest_swap_out_bytes" },
	{ VIRTIO_BALLOON_S_MAJFLT, "guest_major_faults" },
	{ VIRTIO_BALLOON_S_MINFLT, "guest_minor_faults" },
};

static void emit_balloon(const struct vm *vm, struct reply *r)
{
	struct virtio_balloon_stats st;

	if (!vm->balloon)
		return;
	/* Figures older than this make the driver send new ones, for the next reader. */
	virtio_balloon_refresh_stats(vm->balloon, CONTROL_BALLOON_STATS_MAX_AGE_MS);
	virtio_balloon_stats(vm->balloon, &st);
	emit(r,
	     ",\"balloon\":{\"target_mib\":%u,\"actual_mib\":%u,\"inflated_pages\":%llu,"
	     "\"deflated_pages\":%llu,\"bad_pfns\":%llu,\"reported_pages\":%llu,"
	     "\"report_partial\":%llu,\"deflate_on_oom\":%s",
	     vm->cfg->mem_mib - (st.target_pages >> 8), vm->cfg->mem_mib - (st.actual_pages >> 8),
	     (unsigned long long)st.inflated, (unsigned long long)st.deflated,
	     (unsigned long long)st.bad_pfns, (unsigned long long)st.reported_pages,
	     (unsigned long long)st.report_partial,
	     st.features & VIRTIO_BALLOON_F_DEFLATE_ON_OOM ? "true" : "false");
	for (size_t i = 0; i < sizeof(guest_figures) / sizeof(guest_figures[0]); i++)
		if (st.guest_valid & (1u << guest_figures[i].tag))
			emit(r, ",\"%s\":%llu", guest_figures[i].key,
			     (unsigned long long)st.guest[guest_figures[i].tag]);
	if (st.guest_valid)
		emit(r, ",\"stats_age_ms\":%llu", (unsigned long long)st.guest_age_ms);
	emit(r, "}");
}

static int cmd_stats(struct control *ctl, const char *args, struct reply *r)
{
	struct vm *vm = ctl->vm;
	uint64_t touched = guest_mem_resident_bytes(&vm->mem), rss = vmm_rss_bytes();

	(void)args;
	emit(r, ",\"uptime_ns\":%llu,\"vcpu_time_ns\":[",
	     (unsigned long long)(now_ns() - vm->start_ns));
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		emit(r, "%s%llu", i ? "," : "",
		     (unsigned long long)vcpu_cpu_time_ns(&vm->vcpus[i]));
	emit_vcpu_sched(vm, r);
	emit(r,
	     ",\"memory_touched_bytes\":%llu,\"vmm_rss_bytes\":%llu,"
	     "\"vmm_overhead_bytes\":%llu,\"console_dropped_bytes\":%llu,"
	     "\"unhandled_pio\":%llu,\"unhandled_mmio\":%llu",
	     (unsigned long long)touched, (unsigned long long)rss,
	     (unsigned long long)(rss > touched ? rss - touched : 0),
	     (unsigned long long)console_dropped_bytes(ctl->con),
	     (unsigned long long)__atomic_load_n(&vm->pio.unhandled, __ATOMIC_RELAXED),
	     (unsigned long long)__atomic_load_n(&vm->mmio.unhandled, __ATOMIC_RELAXED));
	emit_uart_state(ctl, r);
	emit_balloon(vm, r);
	emit_device_stats(ctl, r);
	return 0;
}

/*
 * save META PATH: META is a file whose contents go into the save file for the manager
 * (xend's record of the domain), or "-"; PATH, the rest of the line, is where to save.
 */
static int cmd_save(struct control *ctl, const char *args, struct reply *r)
{
	char meta[VM_PATH_MAX], path[VM_PATH_MAX], err[sizeof(r->error)];
	size_t meta_len = strcspn(args, " \t"), path_len;
	const char *p = args + meta_len + strspn(args + meta_len, " \t");
	struct snapshot_result res;

	path_len = strcspn(p, "\r\n");
	if (meta_len == 0 || meta_len >= sizeof(meta) || path_len == 0 || path_len >= sizeof(path))
		return fail(r, "usage: save META|- PATH");
	memcpy(meta, args, meta_len);
	meta[meta_len] = 0;
	memcpy(path, p, path_len);
	path[path_len] = 0;
	if (snapshot_save(ctl->vm, path, strcmp(meta, "-") ? meta : NULL, &res, err, sizeof(err)) <
	    0)
		return fail(r, "%s", err);
	emit(r, ",\"file_bytes\":%llu,\"memory_bytes\":%llu,\"ms\":%llu,\"was_paused\":%s",
	     (unsigned long long)res.file_bytes, (unsigned long long)res.memory_bytes,
	     (unsigned long long)res.ms, res.was_paused ? "true" : "false");
	return 0;
}

static int cmd_help(struct control *ctl, const char *args, struct reply *r);

static const struct {
	const char *name;
	int (*run)(struct control *ctl, const char *args, struct reply *r);
	const char *help;
} commands[] = {
	{ "status", cmd_status, "name, state, vCPUs, memory" },
	{ "pause", cmd_pause, "stop every vCPU; returns once none runs" },
	{ "resume", cmd_resume, "let the vCPUs run again" },
	{ "power-button", cmd_power_button, "press the ACPI power button" },
	{ "stats", cmd_stats, "vCPU time, memory touched, VMM overhead" },
	{ "vcpu-pin", cmd_vcpu_pin, "vcpu-pin VCPU CPULIST: where that vCPU may run" },
	{ "balloon", cmd_balloon, "balloon MIB: the memory the guest keeps; the rest goes back" },
	{ "save", cmd_save,
	  "save META|- PATH: write the domain's state to PATH and leave it paused (resume goes "
	  "on)" },
	{ "quit", cmd_quit, "end the domain now (exit status 4)" },
	{ "help", cmd_help, "list the commands" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(struct control *ctl, const char *args, struct reply *r)
{
	(void)args;
	(void)ctl;
	emit(r, ",\"commands\":{");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		emit(r, "%s\"%s\":\"%s\"", i ? "," : "", commands[i].name, commands[i].help);
	emit(r, "}");
	return 0;
}

size_t control_execute(struct control *ctl, const char *line, char *out, size_t outlen)
{
	struct reply r = { out, 0, outlen, "" };
	size_t len = strcspn(line, " \t\r\n");

	out[0] = 0;
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strlen(commands[i].name) == len && strncmp(commands[i].name, line, len) == 0) {
			const char *args = line + len + strspn(line + len, " \t");

			emit(&r, "{\"ok\":true");
			if (commands[i].run(ctl, args, &r) < 0) {
				r.len = 0;
				emit(&r, "{\"ok\":false,\"error\":\"");
				emit_escaped(&r, r.error);
				emit(&r, "\"");
			}
			emit(&r, "}");
			return r.len;
		}
	}
	/* Echo no guest- or client-controlled bytes back unescaped: just say what is known. */
	emit(&r, "{\"ok\":false,\"error\":\"unknown command (try 'help')\"}");
	return r.len;
}

static void drop_client(struct control *ctl, struct client *c)
{
	evloop_remove(ctl->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void send_reply(struct client *c, const char *reply, size_t len)
{
	char buf[4096];

	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	memcpy(buf, reply, len);
	buf[len++] = '\n';
	/* Replies are small; a client that does not read them loses them. */
	(void)!send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_client(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	static const char too_long[] = "{\"ok\":false,\"error\":\"line too long\"}";
	struct control *ctl = opaque;
	struct client *c = NULL;
	char reply[16384]; /* stats with every queue of 16 devices */
	ssize_t n;

	(void)loop;
	(void)events;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i].fd == fd)
			c = &ctl->clients[i];
	if (!c)
		return;
	n = read(fd, c->line + c->len, sizeof(c->line) - c->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drop_client(ctl, c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->line, '\n', c->len);
		size_t used;

		if (!nl) {
			if (c->len == sizeof(c->line)) {
				send_reply(c, too_long, sizeof(too_long) - 1);
				drop_client(ctl, c);
			}
			return;
		}
		*nl = 0;
		used = (size_t)(nl - c->line) + 1;
		send_reply(c, reply, control_execute(ctl, c->line, reply, sizeof(reply)));
		memmove(c->line, c->line + used, c->len - used);
		c->len -= used;
	}
}

static void on_accept(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct control *ctl = opaque;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (ctl->clients[i].fd < 0) {
			if (evloop_add(loop, cfd, EPOLLIN, on_client, ctl) < 0)
				break;
			ctl->clients[i].fd = cfd;
			ctl->clients[i].len = 0;
			return;
		}
	}
	log_warn("control: too many clients, refusing one");
	close(cfd);
}

int control_new(struct evloop *loop, const char *path, struct vm *vm, struct console *con,
                struct control **ret)
{
	struct control *ctl;
	int r;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	*ctl = (struct control){
		.loop = loop, .vm = vm, .con = con, .path = path, .listen_fd = -1
	};
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		ctl->clients[i].fd = -1;
	if (!path) {
		*ret = ctl;
		return 0;
	}
	ctl->listen_fd = unix_listen(path);
	if (ctl->listen_fd < 0) {
		r = ctl->listen_fd;
		goto fail;
	}
	r = evloop_add(loop, ctl->listen_fd, EPOLLIN, on_accept, ctl);
	if (r < 0)
		goto fail;
	*ret = ctl;
	return 0;
fail:
	(void)log_error_errno(r, "control: cannot listen on '%s'", path);
	control_free(ctl);
	return r;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i].fd >= 0)
			drop_client(ctl, &ctl->clients[i]);
	if (ctl->listen_fd >= 0) {
		evloop_remove(ctl->loop, ctl->listen_fd);
		close(ctl->listen_fd);
		(void)unlink(ctl->path);
	}
	free(ctl);
}
