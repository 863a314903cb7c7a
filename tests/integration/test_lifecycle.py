# SPDX-License-Identifier: GPL-2.0-only
"""Pause and resume through the control socket, stats, and the crash path."""
import json
import re
import struct
import time

from framework import paths
from framework.vmm import BOOT_TIMEOUT, EXIT_CRASH, EXIT_HOST, EXIT_POWEROFF

COUNTER = r"C(\d+)\r?\n"


def last_count(vmm):
    counts = re.findall(COUNTER, vmm.console.text())
    return int(counts[-1]) if counts else None


def test_pause_stops_guest_progress_and_resume_restarts_it(vmm_factory):
    vmm = vmm_factory(vcpus=2).boot()
    vmm.console.send("i=0; while true; do i=$((i+1)); echo C$i; sleep 0.1; done &\n")
    vmm.console.wait_for(r"C3\r?\n")

    reply = vmm.control("pause")
    assert reply["ok"] and reply["pause_ns"] > 0
    assert vmm.control("status")["state"] == "paused"
    frozen = last_count(vmm)
    cpu_before = sum(vmm.control("stats")["vcpu_time_ns"])
    # A paused guest must print nothing and use no CPU, however long we look.
    time.sleep(3)
    assert last_count(vmm) == frozen
    assert sum(vmm.control("stats")["vcpu_time_ns"]) - cpu_before < 50_000_000

    assert vmm.control("resume")["ok"]
    assert vmm.control("status")["state"] == "running"
    vmm.console.wait_for(rf"C{frozen + 3}\r?\n")
    vmm.console.send("kill %1\n")
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF


def test_guest_clock_does_not_run_backwards_across_pause(vmm_factory):
    vmm = vmm_factory().boot()
    before = float(vmm.check("cut -d' ' -f1 /proc/uptime"))
    vmm.control("pause")
    time.sleep(1)
    vmm.control("resume")
    after = float(vmm.check("cut -d' ' -f1 /proc/uptime"))
    assert after >= before


def test_stats_report_touched_memory_and_small_overhead(vmm_factory):
    vmm = vmm_factory(memory=1024).boot()
    stats = vmm.control("stats")
    assert len(stats["vcpu_time_ns"]) == 1 and stats["vcpu_time_ns"][0] > 0
    # A 1 GiB guest idling at its shell has touched far less than 1 GiB of host memory.
    assert 0 < stats["memory_touched_bytes"] < 512 << 20
    assert stats["vmm_rss_bytes"] >= stats["memory_touched_bytes"]


def test_quit_command_stops_the_domain_with_host_status(vmm_factory):
    vmm = vmm_factory().boot()
    assert vmm.control("quit")["ok"]
    assert vmm.wait_exit() == EXIT_HOST


def test_control_socket_survives_garbage(vmm_factory):
    vmm = vmm_factory().start()
    assert vmm.control("no-such-command")["ok"] is False
    assert vmm.control("x" * 100)["ok"] is False
    assert vmm.control("status")["ok"]


def pvh_kernel_that_triple_faults(path):
    """A 'kernel' whose PVH entry executes ud2 with no IDT: #UD, #DF, then a triple fault."""
    entry = 0x100000
    code = b"\x0f\x0b"
    note = struct.pack("<III", 4, 8, 18) + b"Xen\0" + struct.pack("<Q", entry)
    ehdr_size, phdr_size = 64, 56
    note_off = ehdr_size + 2 * phdr_size
    code_off = note_off + len(note)
    ehdr = (b"\x7fELF\x02\x01\x01" + bytes(9) +
            struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehdr_size, 0, 0, ehdr_size,
                        phdr_size, 2, 0, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 7, code_off, entry, entry, len(code), 4096, 4096)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    path.write_bytes(ehdr + load + pnote + note + code)
    return path


def test_guest_crash_exits_with_crash_status_and_logs_registers(vmm_factory, tmp_path):
    kernel = pvh_kernel_that_triple_faults(tmp_path / "crash.elf")
    # It may be over before its sockets are even there: don't wait for them.
    vmm = vmm_factory(kernel=kernel, initrd="", cmdline="").spawn()
    assert vmm.wait_exit() == EXIT_CRASH
    log = vmm.log()
    assert "guest crashed: triple fault" in log
    # On AMD, KVM re-initialises the vCPU when it intercepts the shutdown, so the dump shows
    # the reset state there; the point is that the registers are in the log.
    assert re.search(r"vcpu0: RIP [0-9a-f]{16} RSP [0-9a-f]{16}", log), log
    assert re.search(r"vcpu0: CR0 [0-9a-f]{16} CR2", log), log


def test_paused_start_runs_no_guest_code_until_resume(vmm_factory, tmp_path):
    vmm = vmm_factory(extra_args=["--paused"]).start()
    assert vmm.control("status")["state"] == "paused"
    # Not one instruction ran: no vCPU time, and the console holds nothing.
    assert sum(vmm.control("stats")["vcpu_time_ns"]) < 50_000_000
    assert vmm.console.text() == ""
    assert vmm.control("resume")["ok"]
    vmm.console.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)


def test_status_file_and_console_log_record_the_run(vmm_factory, tmp_path):
    status, log = tmp_path / "status", tmp_path / "console.log"
    vmm = vmm_factory(extra_args=["--status-file", str(status),
                                  "--console-log", str(log)]).boot()
    vmm.check("echo logged-$((6*7))")
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF
    assert json.loads(status.read_text()) == {"exit_status": 0, "reason": "poweroff"}
    # The log has what nobody needed to be attached for, up to the last words.
    text = log.read_text(errors="replace")
    assert "xeno-guest: ready" in text and "logged-42" in text


def test_guest_panic_is_reported_as_crash_through_pvpanic(vmm_factory, tmp_path):
    status = tmp_path / "status"
    # panic=0: the kernel hangs after panicking; only pvpanic can tell the host.
    vmm = vmm_factory(cmdline="console=ttyS0 quiet panic=0",
                      extra_args=["--status-file", str(status)]).boot()
    assert vmm.check("cat /sys/bus/platform/devices/QEMU0001:00/capability") == "3"
    vmm.console.send("echo c > /proc/sysrq-trigger\n")
    assert vmm.wait_exit() == EXIT_CRASH
    assert json.loads(status.read_text())["reason"] == "crash"
