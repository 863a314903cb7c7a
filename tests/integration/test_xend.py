# SPDX-License-Identifier: GPL-2.0-only
"""xend against real guests: domains created through the API, listed, consoled, paused,
shut down, destroyed, rebooted, crashed; xend killed with -9 and started again; malformed
requests.  Each test starts its own xend in a temporary root (framework/xend.py)."""
import json
import os
import re
import socket
import threading
import time

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT
from framework.xend import XendError

TICK = r"T(\d+)\r?\n"


def boot(console):
    """Waits for the guest's init and its shell prompt on an attached console."""
    console.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
    console.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)


def run(console, command, timeout=120):
    """Runs a shell command on a console; returns its output (markers split in the echo)."""
    n = int(time.monotonic() * 1000) % 100000
    console.send(f"echo X''B{n}X; {command}; echo X''E{n}X\n")
    start = console.wait_for(rf"XB{n}X\r?\n", timeout).end()
    end = console.wait_for(rf"XE{n}X", timeout).start()
    return console.text(start)[: end - start].replace("\r\n", "\n").strip()


def test_two_domains_are_listed_and_their_consoles_answer(xend_factory):
    xend = xend_factory().start()
    a = xend.create("alpha")
    b = xend.create("beta-${vmid}")
    assert (a["id"], b["id"]) == (1, 2)
    assert b["name"] == "beta-2" and b["config"]["name"] == "beta-2"
    assert a["state"] == "running" and a["vmm_pid"] > 0
    doms = xend.domains()
    assert [d["name"] for d in doms] == ["Domain-0", "alpha", "beta-2"]
    assert doms[0]["id"] == 0 and doms[0]["memory_mib"] > 0 and "vmm_pid" not in doms[0]
    assert xend.domain("2")["name"] == "beta-2"

    for dom in ("alpha", "beta-2"):
        con = xend.console(dom)
        boot(con)
        con.send("echo hi-$((6*7))\n")
        con.wait_for(r"hi-42")
        con.close()
    assert doms[1]["console"]["log"].endswith("/alpha.log")


def ticks(console):
    return [int(t) for t in re.findall(TICK, console.text())]


def test_pause_stops_the_guest_and_unpause_resumes_it(xend_factory):
    xend = xend_factory().start()
    xend.create("ticker")
    con = xend.console("ticker")
    boot(con)
    con.send("while true; do echo T$(date +%s); sleep 1; done &\n")
    con.wait_for(TICK)
    con.wait_for(TICK)

    assert xend.pause("ticker")["state"] == "paused"
    assert xend.domain("ticker")["state"] == "paused"
    with pytest.raises(XendError) as e:
        xend.pause("ticker")
    assert e.value.status == 409
    frozen = len(ticks(con))
    # A paused guest prints nothing, however long we look (a negative: it takes time).
    time.sleep(3)
    assert len(ticks(con)) == frozen

    assert xend.unpause("ticker")["state"] == "running"
    con.wait_for(TICK, start=len(con.buf))
    # The clock kept real time across the pause: the next tick jumps.
    assert ticks(con)[-1] >= ticks(con)[frozen - 1] + 3
    with pytest.raises(XendError) as e:
        xend.unpause("ticker")
    assert e.value.status == 409


def test_shutdown_powers_off_and_on_poweroff_destroy_removes_the_domain(xend_factory):
    xend = xend_factory().start()
    xend.create("quitter")
    con = xend.console("quitter")
    boot(con)
    pid = xend.domain("quitter")["vmm_pid"]
    last = xend.shutdown("quitter", wait=True)
    assert last["name"] == "quitter" and last["state"] == "shutdown"
    assert [d["name"] for d in xend.domains()] == ["Domain-0"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(XendError) as e:
        xend.domain("quitter")
    assert e.value.status == 404 and e.value.code == "ENOENT"
    assert "powered off" in xend.log() and "destroying it" in xend.log()
    assert xend.records() == []


def test_destroy_ends_the_vmm_at_once(xend_factory):
    xend = xend_factory().start()
    dom = xend.create("victim")
    last = xend.destroy("victim")
    assert last["id"] == dom["id"] and last["state"] == "dying"
    with pytest.raises(ProcessLookupError):
        os.kill(dom["vmm_pid"], 0)
    assert [d["name"] for d in xend.domains()] == ["Domain-0"]
    assert xend.records() == []
    # Ids are never reused: the next domain gets the next one.
    assert xend.create("next")["id"] == dom["id"] + 1


def test_reboot_with_on_reboot_restart_keeps_the_id_and_boots_again(xend_factory):
    xend = xend_factory().start()
    first = xend.create("phoenix", on_reboot="restart")
    con = xend.console("phoenix")
    boot(con)
    # The guest reboots itself: the VMM exits with 2, xend starts a new one, same id.
    con.send("reboot\n")
    boot(con)  # the console stays attached across the restart
    second = xend.domain("phoenix")
    assert second["id"] == first["id"] and second["state"] == "running"
    assert second["vmm_pid"] != first["vmm_pid"]
    # And through the API: power button with reboot, answered once the new VMM runs.
    third = xend.call("POST", "/v1/domains/phoenix/reboot", {"wait": True},
                      timeout=BOOT_TIMEOUT)
    assert third["id"] == first["id"] and third["vmm_pid"] not in (first["vmm_pid"],
                                                                   second["vmm_pid"])
    boot(con)
    log = (xend.console_log_dir / "phoenix.log").read_text(errors="replace")
    assert log.count(paths.GUEST_READY) == 3


def test_crash_with_on_crash_preserve_keeps_the_record(xend_factory):
    xend = xend_factory().start()
    xend.create("fragile", on_crash="preserve",
                cmdline="console=ttyS0 quiet panic=0")
    con = xend.console("fragile")
    boot(con)
    con.send("echo c > /proc/sysrq-trigger\n")
    doms = xend.wait_for(lambda ds: any(d["name"] == "fragile" and d["state"] == "crashed"
                                        for d in ds), "the domain crashed")
    assert "vmm_pid" not in doms[1]
    with pytest.raises(XendError) as e:
        xend.pause("fragile")
    assert e.value.status == 409
    assert "crashed" in xend.log()
    xend.destroy("fragile")
    assert xend.records() == []


def test_kill9_of_xend_loses_no_domain_and_no_console_output(xend_factory):
    xend = xend_factory().start()
    a = xend.create("steady")
    b = xend.create("calm")
    con_a, con_b = xend.console("steady"), xend.console("calm")
    boot(con_a)
    boot(con_b)
    con_a.send("i=0; while true; do i=$((i+1)); echo L$i; sleep 0.2; done &\n")
    con_a.wait_for(r"L5\r?\n")
    xend.kill9()
    con_a.close()
    con_b.close()

    # While xend is down the VMM keeps the log itself: wait until it grew well past L5.
    log = xend.console_log_dir / "steady.log"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not re.search(r"L40\r?\n", log.read_text(errors="replace")):
        assert time.monotonic() < deadline, "the console log stopped growing without xend"
        time.sleep(0.2)

    xend.start()
    doms = xend.domains()
    assert [(d["id"], d["name"], d["vmm_pid"]) for d in doms[1:]] == [
        (a["id"], "steady", a["vmm_pid"]), (b["id"], "calm", b["vmm_pid"])]
    assert "adopted" in xend.log()
    for name in ("steady", "calm"):
        con = xend.console(name)
        # The ring came back from the VMM's own history: recent output is replayed.
        if name == "steady":
            con.wait_for(r"L\d+\r?\n", start=0)
        con.send("echo hi-$((6*7))\n")
        con.wait_for(r"hi-42")
        if name == "steady":
            con.send("kill %1\n")
        con.close()
    text = log.read_text(errors="replace")
    # A line may follow the shell's prompt ("# L2"): match the end of lines only.
    seen = [int(n) for n in re.findall(r"L(\d+)\r?$", text, re.M)]
    assert seen[:1] == [1] and seen == list(range(1, len(seen) + 1)), \
        "a line of the console log is missing"
    assert len(seen) > 40


def test_start_paused_and_vmid_substitution(xend_factory):
    xend = xend_factory().start()
    dom = xend.create("held-${vmid}", start_paused=True,
                      cmdline="console=ttyS0 quiet xeno.id=${vmid}")
    assert dom["name"] == "held-1" and dom["state"] == "paused"
    assert dom["config"]["cmdline"].endswith("xeno.id=1")
    con = xend.console("held-1")
    xend.unpause("held-1")
    boot(con)
    assert run(con, "cat /proc/cmdline").endswith("xeno.id=1")


def test_console_on_a_tcp_port(xend_factory):
    xend = xend_factory(conf={"console-tcp": "yes", "console-tcp-base": 19600}).start()
    dom = xend.create("telnet")
    assert dom["console"]["tcp_port"] == 19600 + dom["id"]
    # xend listens in its network namespace.
    with xend.netns.entered():
        s = socket.create_connection(("127.0.0.1", dom["console"]["tcp_port"]), 30)
    with s:
        s.settimeout(BOOT_TIMEOUT)
        data = b""
        while paths.GUEST_READY.encode() not in data:
            chunk = s.recv(65536)
            assert chunk, "the TCP console closed"
            data += chunk


def test_memory_beyond_the_host_is_refused_with_both_numbers(xend_factory):
    xend = xend_factory(conf={"dom0-min-mem": 256}).start()
    with pytest.raises(XendError) as e:
        xend.create("huge", memory=1048576)
    assert e.value.status == 507 and e.value.code == "ENOMEM"
    assert "dom0-min-mem (256 MiB)" in e.value.message
    assert re.search(r"\d+ MiB available", e.value.message)
    assert xend.domains()[1:] == []


def test_daemon_start_status_stop(xend_factory):
    xend = xend_factory()
    assert xend.command("status").returncode == 3
    xend.start(daemon=True)
    status = xend.command("status")
    assert status.returncode == 0 and f"pid {xend.pid()}" in status.stdout
    again = xend.command("start")
    assert again.returncode == 1 and "already running" in again.stderr
    assert xend.get("/v1/host")["xend_pid"] == xend.pid()
    assert "started" in xend.log_file.read_text()
    lines = xend.get("/v1/log?lines=1")["lines"]
    assert len(lines) == 1 and "started" in lines[0]
    assert xend.get("/v1/log")["lines"][0] == xend.log_file.read_text().splitlines()[0]
    xend.stop()
    assert xend.command("status").returncode == 3
    assert not xend.socket.exists()


def test_bad_xend_conf_is_refused_with_file_and_line(xend_factory):
    xend = xend_factory(conf={"dom0-min-men": 1})
    done = xend.command("-F")
    assert done.returncode == 1
    assert re.search(r"xend\.conf:\d+: unknown key 'dom0-min-men'", done.stderr), done.stderr
    assert "dom0-min-mem" in done.stderr


K = str(paths.GUEST_KERNEL)
UPGRADE = {"Connection": "Upgrade", "Upgrade": "xeno-console"}
JSON = {"Content-Type": "application/json"}

# (method, path, body, headers, status, code, words in the message)
BAD_REQUESTS = [
    ("POST", "/v1/domains", "{", JSON, 400, "EINVAL", "ends early"),
    ("POST", "/v1/domains", "not json", JSON, 400, "EINVAL", "malformed JSON"),
    ("POST", "/v1/domains", "[]", JSON, 400, "EINVAL", "expected a JSON object"),
    ("POST", "/v1/domains", "{} x", JSON, 400, "EINVAL", "trailing data"),
    ("POST", "/v1/domains", b'{"name": "a"}\x00', JSON, 400, "EINVAL", "NUL"),
    ("POST", "/v1/domains", b'{"name": "\xff"}', JSON, 400, "EINVAL", "utf-8"),
    ("POST", "/v1/domains", "[" * 100 + "]" * 100, JSON, 400, "EINVAL", "JSON"),
    ("POST", "/v1/domains", {"name": 5, "kernel": K}, None, 400, "EINVAL", "'name'"),
    ("POST", "/v1/domains", {"name": "a"}, None, 400, "EINVAL", "'kernel' is required"),
    ("POST", "/v1/domains", {"name": "a", "kernel": "vmlinuz"}, None, 400, "EINVAL",
     "absolute path"),
    ("POST", "/v1/domains", {"name": "a", "kernel": "/no/such/kernel"}, None, 400, "EINVAL",
     "No such file"),
    ("POST", "/v1/domains", {"name": "a b", "kernel": K}, None, 400, "EINVAL", "'name'"),
    ("POST", "/v1/domains", {"name": "Domain-0", "kernel": K}, None, 400, "EINVAL", "Domain-0"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "memory_mib": "128"}, None, 400,
     "EINVAL", "'memory_mib': expected an integer"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "memory_mib": 0}, None, 400, "EINVAL",
     "96"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "memory_mib": 1.5}, None, 400,
     "EINVAL", "integer"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "vcpus": 241}, None, 400, "EINVAL",
     "'vcpus'"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "memroy": 128}, None, 400, "EINVAL",
     "did you mean 'memory_mib'"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "on_crash": "explode"}, None, 400,
     "EINVAL", "'on_crash'"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "disks": "/x"}, None, 400, "EINVAL",
     "'disks'"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "disks": [{"path": "/x", "ro": 1}]},
     None, 400, "EINVAL", "'ro'"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K, "vifs": [{"mac": "zz"}]}, None, 400,
     "EINVAL", "MAC"),
    ("POST", "/v1/domains", {"name": "a", "kernel": K}, {"Content-Type": "text/plain"}, 415,
     "EMEDIUMTYPE", "application/json"),
    ("GET", "/v1/domains/nosuch", None, None, 404, "ENOENT", "nosuch"),
    ("DELETE", "/v1/domains/nosuch", None, None, 404, "ENOENT", "nosuch"),
    ("POST", "/v1/domains/nosuch/pause", None, None, 404, "ENOENT", "nosuch"),
    ("POST", "/v1/domains/nosuch/shutdown", {"reboot": "yes"}, None, 400, "EINVAL", "reboot"),
    ("POST", "/v1/domains/nosuch/pause", {"force": True}, None, 400, "EINVAL", "force"),
    ("POST", "/v1/domains/0/pause", None, None, 403, "EPERM", "Domain-0"),
    ("DELETE", "/v1/domains/Domain-0", None, None, 403, "EPERM", "Domain-0"),
    ("POST", "/v1/domains/0/shutdown", None, None, 403, "EPERM", "Domain-0"),
    ("GET", "/v1/domains/0/console", None, UPGRADE, 403, "EPERM", "Domain-0"),
    ("GET", "/v1/domains/x/console", None, None, 400, "EINVAL", "Upgrade"),
    ("GET", "/v1/nope", None, None, 404, "ENOENT", "no route"),
    ("GET", "/v2/domains", None, None, 404, "ENOENT", "no route"),
    ("GET", "/", None, None, 404, "ENOENT", "no route"),
    ("PUT", "/v1/domains", None, None, 405, "EOPNOTSUPP", "GET, POST"),
    ("BREW", "/v1/version", None, None, 405, "EOPNOTSUPP", "GET"),
    ("GET", "/v1/log?lines=0", None, None, 400, "EINVAL", "lines"),
    ("GET", "/v1/version?verbose=1", None, None, 400, "EINVAL", "verbose"),
]


def raw_request(xend, data, timeout=30):
    """Sends raw bytes; returns (status, parsed body) of the answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(xend.socket))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # xend answered and closed before taking it all: read the answer
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(65536)
            assert chunk, f"no answer: {reply!r}"
            reply += chunk
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
        while len(body) < length:
            chunk = s.recv(65536)
            assert chunk
            body += chunk
        return int(head.split()[1]), json.loads(body)


def assert_serving(xend):
    assert xend.get("/v1/version")["api"] == 1


def test_malformed_requests_get_json_errors_and_xend_keeps_serving(xend_factory):
    xend = xend_factory(conf={"request-timeout": 2}).start()
    for method, path, body, headers, status, code, words in BAD_REQUESTS:
        got, hdrs, obj = xend.request(method, path, body, headers)
        where = f"{method} {path} {body!r}"
        assert got == status, f"{where}: {got} {obj}"
        assert obj["error"]["code"] == code, f"{where}: {obj}"
        assert words in obj["error"]["message"], f"{where}: {obj}"
        if status == 405:
            assert hdrs.get("Allow"), where
        assert_serving(xend)

    # A body announced over 1 MiB is refused before it is read.
    status, obj = raw_request(xend, b"POST /v1/domains HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: 2000000\r\n\r\n" + b"{" * 65536)
    assert (status, obj["error"]["code"]) == (413, "EMSGSIZE")
    assert_serving(xend)
    # A chunked body that grows over 1 MiB too.
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    status, obj = raw_request(xend, b"POST /v1/domains HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 +
                              b"0\r\n\r\n")
    assert (status, obj["error"]["code"]) == (413, "EMSGSIZE")
    assert_serving(xend)
    # A create without a length.
    status, obj = raw_request(xend, b"POST /v1/domains HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, obj["error"]["code"]) == (411, "ENODATA")
    assert_serving(xend)

    # Slowloris: half a request line, then nothing.  xend serves others meanwhile and drops
    # the slow one after request-timeout.
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(str(xend.socket))
    slow.sendall(b"GET /v1/ver")
    slow_body = socket.socket(socket.AF_UNIX)
    slow_body.connect(str(xend.socket))
    slow_body.sendall(b"POST /v1/domains HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                      b"Content-Type: application/json\r\n\r\n{\"na")
    assert_serving(xend)
    for s in (slow, slow_body):
        s.settimeout(30)
        t0 = time.monotonic()
        assert s.recv(4096) == b"", "xend kept a stalled connection"
        assert time.monotonic() - t0 < 20
        s.close()
    assert_serving(xend)

    # Many connections at once, each stalled: xend still answers once they are cut.
    stalled = []
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(xend.socket))
        s.sendall(b"GET")
        stalled.append(s)
    threads = [threading.Thread(target=assert_serving, args=(xend,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stalled:
        s.close()
    assert_serving(xend)
    assert xend.running()


def test_restart_of_xend_keeps_domains_and_their_pending_reboot(xend_factory):
    xend = xend_factory().start(daemon=True)
    first = xend.create("patient")
    con = xend.console("patient")
    boot(con)
    xend.pause("patient")
    # A reboot requested while paused waits for the guest; xend stops meanwhile.
    answers = []

    def reboot_and_wait():
        try:
            answers.append(xend.request("POST", "/v1/domains/patient/reboot", {"wait": True},
                                        timeout=BOOT_TIMEOUT)[0])
        except (OSError, ConnectionError) as e:
            answers.append(e)

    waiter = threading.Thread(target=reboot_and_wait)
    waiter.start()
    deadline = time.monotonic() + 60
    while not any(r["reboot_requested"] for r in xend.records()):
        assert time.monotonic() < deadline, "the reboot request was not recorded"
        time.sleep(0.05)
    done = xend.command("restart")
    assert done.returncode == 0, done.stderr + xend.log()
    waiter.join(60)
    # The waiting request was answered (503) or cut, not left hanging.
    assert answers and (answers[0] == 503 or isinstance(answers[0], Exception)), answers
    # The old xend closed the console on its way out.
    with con.cond:
        assert con.cond.wait_for(lambda: con.closed, 30), "the console stayed open"

    # The new xend adopted the paused VMM and remembers the pending reboot.
    dom = xend.domain("patient")
    assert (dom["id"], dom["vmm_pid"], dom["state"]) == (first["id"], first["vmm_pid"],
                                                          "paused")
    con = xend.console("patient")
    xend.unpause("patient")
    con.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT, start=len(con.buf))
    dom = xend.domain("patient")
    assert dom["id"] == first["id"] and dom["vmm_pid"] != first["vmm_pid"]


def test_a_vmm_that_cannot_start_gives_500_with_its_reason(xend_factory, tmp_path):
    xend = xend_factory().start()
    not_a_kernel = tmp_path / "not-a-kernel"
    not_a_kernel.write_bytes(b"\0" * 4096)
    with pytest.raises(XendError) as e:
        xend.create("broken", kernel=str(not_a_kernel))
    assert e.value.status == 500 and e.value.code == "EIO"
    assert "did not start: exit status 1" in e.value.message
    assert "xeno-vmm[broken]" in e.value.message, e.value.message
    assert xend.domains()[1:] == [] and xend.records() == []
    # The id was spent all the same: ids are never reused.
    assert xend.get("/v1/host")["next_domid"] == 2
