# SPDX-License-Identifier: GPL-2.0-only
"""The Python bindings (`import xeno`, lib/libxeno/python) against a real xend: a domain made
from a config file, listed, reached on its console, paused, unpaused and destroyed, with its
events received in order; refusals arrive as xeno.Error with xend's message and errno; the
example tools run against real domains."""
import csv
import errno
import io
import itertools
import re
import select
import subprocess
import sys
import time

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT

BINDINGS = paths.BUILD / "lib" / "libxeno" / "python"


@pytest.fixture(scope="module")
def xeno():
    if not (BINDINGS / "xeno" / "__init__.py").exists():
        pytest.fail(f"no Python bindings in {BINDINGS} (python3-dev missing at build time?)")
    sys.path.insert(0, str(BINDINGS))
    import xeno as module
    return module


def read_until(console, text, timeout=BOOT_TIMEOUT):
    """Reads the console (a binary file object) until text appears; returns what came."""
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} not on the console: {seen[-500:]!r}"
        if select.select([console], [], [], left)[0]:
            chunk = console.read(65536)
            assert chunk, f"console closed before {text!r}: {seen[-500:]!r}"
            seen += chunk
    return seen.decode(errors="replace")


def test_bindings_create_list_console_pause_destroy(xeno, xend_factory, tmp_path):
    xend = xend_factory().start()
    cfg = tmp_path / "py.cfg"
    cfg.write_text(f'name = "py"\nkernel = "{paths.GUEST_KERNEL}"\n'
                   f'ramdisk = "{paths.GUEST_INITRD}"\nextra = "console=ttyS0 quiet"\n'
                   "memory = 128\n")
    with xeno.Client(xend.socket) as xc, xeno.Client(xend.socket) as watcher:
        assert xc.socket_path == str(xend.socket)
        events = watcher.events(timeout=30)
        assert xc.domains()[0]["name"] == "Domain-0"
        # The file as `xm create py.cfg memory=160` reads it.
        rec = xc.create_from_file(cfg, memory=160)
        assert (rec["name"], rec["memory_mib"], rec["state"]) == ("py", 160, "running")
        assert [d["name"] for d in xc.domains()] == ["Domain-0", "py"]
        assert xc.domain(rec["id"])["name"] == "py"
        with xc.console("py") as con:
            read_until(con, paths.GUEST_READY)
            read_until(con, "# ")
            con.write(b"echo py-$((6*7))\n")
            read_until(con, "py-42", timeout=60)
            assert xc.pause("py")["state"] == "paused"
            # A paused guest answers nothing.
            con.write(b"echo after-$((40+2))\n")
            assert not select.select([con], [], [], 3)[0] or b"after-42" not in con.read(65536)
            assert xc.unpause("py")["state"] == "running"
            read_until(con, "after-42", timeout=60)

        # CPUs, memory and figures through the bindings.
        assert [v["vcpu"] for v in xc.vcpus("py")] == [0]
        assert xc.vcpu_pin("py", 0, "0")[0]["affinity"] == "0"
        assert xc.sched("py", weight=512)["weight"] == 512
        assert xc.sched("py") == {"weight": 512, "cap": 0, "cgroups": "v2"}
        assert xc.mem_set("py", 128)["memory_target_mib"] == 128
        assert xc.stats("py")["memory_mib"] == 160
        assert [d["name"] for d in xc.stats()["domains"]] == ["py"]

        # Refusals carry xend's message and errno.
        with pytest.raises(xeno.Error) as e:
            xc.create_from_file(cfg)
        assert e.value.errno == errno.EEXIST and "py" in str(e.value)
        with pytest.raises(xeno.Error) as e:
            xc.domain("nosuch")
        assert e.value.errno == errno.ENOENT and "nosuch" in str(e.value)
        with pytest.raises(xeno.Error) as e:
            xeno.read_config(cfg, memroy=3)
        assert "did you mean 'memory'" in str(e.value)

        assert xc.destroy("py")["name"] == "py"
        assert [d["name"] for d in xc.domains()] == ["Domain-0"]

        # Everything that happened, in order, once each (the refused create made none).
        seen = [(e["event"], e["name"], e["domid"], e["state"])
                for e in itertools.islice(events, 4)]
        assert seen == [("created", "py", rec["id"], "running"),
                        ("paused", "py", rec["id"], "paused"),
                        ("unpaused", "py", rec["id"], "running"),
                        ("destroyed", "py", rec["id"], "")], seen
    # A closed client says so rather than crashing.
    with pytest.raises(ValueError):
        xc.domains()


def test_bindings_save_and_restore(xeno, xend_factory, tmp_path):
    """Client.save and Client.restore (issue 9's last calls, over issue 7's save files)."""
    xend = xend_factory().start()
    cfg = tmp_path / "sr.cfg"
    cfg.write_text(f'name = "sr"\nkernel = "{paths.GUEST_KERNEL}"\n'
                   f'ramdisk = "{paths.GUEST_INITRD}"\nextra = "console=ttyS0 quiet"\n'
                   "memory = 128\n")
    path = tmp_path / "sr.save"
    with xeno.Client(xend.socket) as xc:
        xc.create_from_file(cfg)
        with xc.console("sr") as con:
            read_until(con, paths.GUEST_READY)
            read_until(con, "# ")
            con.write(b"echo mark-$((1+1))x > /dev/shm/mark; echo done-$((2+3))\n")
            read_until(con, "done-5", timeout=60)
        info = xc.save("sr", path)
        assert info["file_bytes"] == path.stat().st_size and info["memory_bytes"] > 0, info
        assert [d["name"] for d in xc.domains()] == ["Domain-0"]
        with pytest.raises(xeno.Error) as e:
            xc.restore(tmp_path / "nosuch.save")
        assert e.value.errno == errno.ENOENT and "nosuch.save" in str(e.value)
        rec = xc.restore(path, paused=True)
        assert (rec["name"], rec["state"]) == ("sr", "paused")
        assert xc.unpause("sr")["state"] == "running"
        with xc.console("sr") as con:
            con.write(b"cat /dev/shm/mark; echo $((6*7))-sr\n")
            # The guest's memory came back: the file it wrote before the save is there.
            assert "mark-2x" in read_until(con, "42-sr", timeout=60)
        xc.destroy("sr")


def test_a_client_without_xend_says_how_to_start_it(xeno, tmp_path):
    with pytest.raises(xeno.Error) as e:
        xeno.Client(tmp_path / "none.sock").domains()
    assert "is it running? (xend start)" in str(e.value)
    assert e.value.errno in (errno.ENOENT, errno.ECONNREFUSED)


def run_example(xend, tool, *args, timeout=BOOT_TIMEOUT * 2):
    r = subprocess.run(["/usr/bin/python3", str(paths.REPO / "examples" / tool), *args],
                       env=dict(xend.env(), PYTHONPATH=str(BINDINGS)), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_example_tools_start_domains_print_stats_and_restart_a_crashed_one(xeno,
                                                                          xend_factory,
                                                                          tmp_path):
    xend = xend_factory().start()
    cfg = tmp_path / "ex.cfg"
    cfg.write_text(f'kernel = "{paths.GUEST_KERNEL}"\nramdisk = "{paths.GUEST_INITRD}"\n'
                   'extra = "console=ttyS0 quiet panic=0"\nmemory = 128\n'
                   'on_crash = "preserve"\n')
    out = run_example(xend, "start-domains.py", "--config", str(cfg), "--prefix", "ex", "2")
    assert re.fullmatch(r"ex-1 id=\d+ ready in [\d.]+ s\nex-2 id=\d+ ready in [\d.]+ s\n",
                        out), out

    rows = list(csv.DictReader(io.StringIO(
        run_example(xend, "stats-csv.py", "--interval", "1", "--count", "2"))))
    assert [r["name"] for r in rows] == ["Domain-0", "ex-1", "ex-2"] * 2
    for r in rows:
        assert float(r["cpu_s"]) >= 0 and int(r["memory_mib"]) > 0
    # The second frame has a CPU% for every domain; the guests have no disks: no bytes.
    assert all(r["cpu_pct"] != "" for r in rows[3:])
    assert rows[4]["read_bytes"] == "0" and rows[4]["write_bytes"] == "0"

    with xeno.Client(xend.socket) as xc:
        first = xc.domain("ex-1")
        # restart-crashed.py waits for the crash event: it runs before the crash.
        events = xc.events(timeout=BOOT_TIMEOUT)
        tool = subprocess.Popen(["/usr/bin/python3",
                                 str(paths.REPO / "examples" / "restart-crashed.py"),
                                 "--count", "1"],
                                env=dict(xend.env(), PYTHONPATH=str(BINDINGS)),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(2)  # let it open its watcher (an earlier crash would do as well)
            with xc.console("ex-1") as con:
                read_until(con, "# ")
                con.write(b"echo c > /proc/sysrq-trigger\n")
            out, _ = tool.communicate(timeout=BOOT_TIMEOUT * 2)
        finally:
            tool.kill()
        assert tool.returncode == 0, out
        assert re.fullmatch(rf"ex-1: crashed as id {first['id']}, running again as id \d+\n",
                            out), out
        # The crash, then what the tool did about it.
        mine = itertools.islice((e for e in events if e["name"] == "ex-1"), 3)
        seen = [(e["event"], e["state"], bool(e["reason"])) for e in mine]
        assert seen == [("crashed", "crashed", True), ("destroyed", "", True),
                        ("created", "running", False)], seen
        again = xc.domain("ex-1")
        assert again["state"] == "running" and again["id"] != first["id"]
        with xc.console("ex-1") as con:
            read_until(con, paths.GUEST_READY)
        # Ids only grow: the restarted domain lists last.
        assert [d["name"] for d in xc.domains()] == ["Domain-0", "ex-2", "ex-1"]
