// SPDX-License-Identifier: GPL-2.0-only
/* The control protocol's replies, on a VM with no vCPUs (no KVM needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/vm.h"

struct fixture {
	struct vm_config cfg;
	struct vm vm;
	struct evloop *loop;
	struct console *con;
	struct control *ctl;
	char sock[64];
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.cfg = (struct vm_config){ .name = "t1", .mem_mib = 256, .vcpus = 2, .cmdline = "" };
	f.vm.cfg = &f.cfg;
	f.vm.nr_vcpus = 0; /* no vCPU threads: pause returns at once */
	f.vm.stop_reason = VM_STOP_NONE;
	f.vm.stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&f.vm.lock, NULL);
	pthread_cond_init(&f.vm.cond, NULL);
	snprintf(f.sock, sizeof(f.sock), "/tmp/xeno-test-control-%d.sock", (int)getpid());
	assert_int_equal(evloop_new(&f.loop), 0);
	assert_int_equal(console_new(f.loop, f.sock, &f.con), 0);
	assert_int_equal(control_new(f.loop, NULL, &f.vm, f.con, &f.ctl), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	control_free(f->ctl);
	console_free(f->con);
	evloop_free(f->loop);
	close(f->vm.stop_efd);
	return 0;
}

static const char *run(struct fixture *f, const char *line)
{
	static char reply[4096];

	control_execute(f->ctl, line, reply, sizeof(reply));
	return reply;
}

static void test_status_pause_resume(void **state)
{
	struct fixture *f = *state;

	assert_non_null(strstr(run(f, "status"), "\"state\":\"running\""));
	assert_non_null(strstr(run(f, "status"), "\"name\":\"t1\""));
	assert_non_null(strstr(run(f, "status"), "\"memory_mib\":256"));
	assert_non_null(strstr(run(f, "pause"), "{\"ok\":true,\"pause_ns\":"));
	assert_non_null(strstr(run(f, "status"), "\"state\":\"paused\""));
	assert_string_equal(run(f, "resume\r"), "{\"ok\":true}");
	assert_non_null(strstr(run(f, "status"), "\"state\":\"running\""));
}

static void test_unknown_and_empty(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(run(f, "reboot-now"),
	                    "{\"ok\":false,\"error\":\"unknown command (try 'help')\"}");
	assert_string_equal(run(f, ""),
	                    "{\"ok\":false,\"error\":\"unknown command (try 'help')\"}");
	assert_string_equal(run(f, "statusx"),
	                    "{\"ok\":false,\"error\":\"unknown command (try 'help')\"}");
	assert_non_null(strstr(run(f, "help"), "\"power-button\""));
}

static void test_stats_fields(void **state)
{
	struct fixture *f = *state;
	const char *r = run(f, "stats");

	assert_non_null(strstr(r, "\"vcpu_time_ns\":[]"));
	assert_non_null(strstr(r, "\"memory_touched_bytes\":0"));
	assert_non_null(strstr(r, "\"vmm_rss_bytes\":"));
	assert_non_null(strstr(r, "\"devices\":[]"));
}

static void test_quit_requests_host_stop(void **state)
{
	struct fixture *f = *state;
	uint64_t n = 0;

	assert_string_equal(run(f, "quit"), "{\"ok\":true}");
	assert_int_equal(f->vm.stop_reason, VM_STOP_HOST);
	assert_int_equal(read(f->vm.stop_efd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_pause_resume),
		cmocka_unit_test(test_unknown_and_empty),
		cmocka_unit_test(test_stats_fields),
		cmocka_unit_test(test_quit_requests_host_stop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
