# SPDX-License-Identifier: GPL-2.0-only
"""Save and restore (issue 7) through xm and xend, with real guests (the default image).

A saved guest must go on where it stopped, not boot again: the tests compare its boot id
(/proc/sys/kernel/random/boot_id) and uptime across the save, and watch loops that were
running (a console counter writing to a disk, four vCPUs busy, a TCP connection from
Domain-0) carry on.  Files: pages the guest never touched stay out (a 1 GiB domain that
touched ~64 MiB).  Refusals: the same file restored twice with a read-write disk, the
addresses of a checkpointed domain that still runs, and damaged files (truncated, bit-flipped,
wrong magic, future version, empty, 1 TiB of RAM claimed), each a clear error from xm with
nothing started and nothing left behind (no VMM, TAP, record or run directory).

Each xend runs in a network namespace of its own (framework/xend.py); Domain-0's side of a
connection is a socket opened in that namespace.
"""
import ctypes
import itertools
import os
import pty
import re
import select
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT, COMMAND_TIMEOUT
from framework.xend import XendError

MIB = 1 << 20
SAVE_TIMEOUT = 900  # a save or restore in the emulated test host, generously
HEADER_SIZE = 4096
CHECKSUM_OFF, HEADER_STRUCT = 128, 136  # struct savefile_header: checksum, sizeof
VERSION_OFF, MEM_BYTES_OFF = 8, 24
CPU_LEAF7_EBX_OFF = 88  # struct savefile_header: cpu.leaf7_ebx

_commands = itertools.count(1)


class Shell:
    """The root shell on a domain's console (xend's console upgrade).  Markers are numbered
    across all consoles of the test: a console attached again may replay earlier output."""

    def __init__(self, console):
        self.console = console

    def run(self, command, timeout=COMMAND_TIMEOUT):
        n = next(_commands)
        sep = "" if command.rstrip().endswith("&") else ";"
        self.console.send(f"echo S''B{n}S; {command}{sep} echo S''E{n}S $?\n")
        start = self.console.wait_for(rf"SB{n}S\r?\n", timeout).end()
        m = self.console.wait_for(rf"SE{n}S (\d+)", timeout)
        out = self.console.text(start)[: m.start() - start]
        self.console.wait_for(paths.GUEST_PROMPT, timeout)
        lines = [ln for ln in out.replace("\r\n", "\n").split("\n")
                 if ln and not ln.startswith("tick ")]
        return int(m.group(1)), "\n".join(lines)

    def check(self, command, timeout=COMMAND_TIMEOUT):
        status, out = self.run(command, timeout)
        assert status == 0, f"{command!r} exited {status}: {out}"
        return out

    def close(self):
        self.console.close()


def attach(xend, dom, fresh_boot=True):
    """A shell on dom's console: after a boot, once the guest is ready; after a restore, at
    once (the guest does not print its prompt again: a newline asks for one)."""
    con = xend.console(dom)
    if fresh_boot:
        con.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
    else:
        con.send("\n")
    con.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)
    return Shell(con)


def xm(xend, *args, timeout=SAVE_TIMEOUT):
    return xend.xm(*args, timeout=timeout)


def save(xend, dom, path, *opts):
    r = xm(xend, "save", *opts, dom, str(path))
    assert r.returncode == 0, f"xm save {dom}: {r.stdout}{r.stderr}"
    m = re.fullmatch(rf"saved {re.escape(dom)} to {re.escape(str(path))}: (\d+) MiB in (\d+) ms "
                     r"\((\d+) MiB/s\)\n", r.stdout)
    assert m, r.stdout
    assert r.stderr == "", r.stderr  # not a terminal: no progress
    return m


def restore(xend, path, *opts):
    """xm restore that must succeed; returns (name, id)."""
    r = xm(xend, "restore", *opts, str(path))
    assert r.returncode == 0, f"xm restore {path}: {r.stdout}{r.stderr}\n{xend.log()[-3000:]}"
    m = re.fullmatch(r"restored (\S+) as domain (\d+) in \d+ ms(, paused)?\n", r.stdout)
    assert m, r.stdout
    return m.group(1), int(m.group(2))


def restore_fails(xend, path, *opts):
    """xm restore that must fail with one line; returns it."""
    r = xm(xend, "restore", *opts, str(path))
    assert r.returncode == 1, f"xm restore {path} exited {r.returncode}: {r.stdout}{r.stderr}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xm: restore: "), r.stderr
    return lines[0]


def names(xend):
    return [d["name"] for d in xend.domains()[1:]]


def vmm_processes():
    out = subprocess.run(["pgrep", "-x", "xeno-vmm"], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def leftovers(xend):
    """What xend and its VMMs leave on the host: domains, VMMs, TAPs, records, run dirs."""
    run = xend.run_dir / "domains"
    return {"domains": names(xend), "vmms": vmm_processes(),
            "taps": sorted(n for n in xend.netns.links() if n.startswith("vif")),
            "records": sorted(p.name for p in (xend.state_dir / "domains").glob("*")),
            "run": sorted(p.name for p in run.glob("*")) if run.exists() else []}


def boot_id_and_uptime(shell):
    boot_id = shell.check("cat /proc/sys/kernel/random/boot_id")
    uptime = float(shell.check("cut -d' ' -f1 /proc/uptime"))
    return boot_id, uptime


def wait_value(shell, command, above, what, timeout=COMMAND_TIMEOUT):
    """Reads an integer with command until it exceeds above; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        out = shell.check(command)
        if out.strip().isdigit() and int(out) > above:
            return int(out)
        assert time.monotonic() < deadline, f"{what}: still {out!r}, not above {above}"
        time.sleep(0.5)


def guest_address(xend, dom):
    return xend.get(f"/v1/domains/{dom}/network")["interfaces"][0]["addresses"][0]


# ---- the guest goes on -------------------------------------------------------------------


def test_counter_loop_and_disk_writes_go_on_after_save_and_restore(xend_factory, tmp_path):
    xend = xend_factory().start()
    img = tmp_path / "disk.img"
    img.write_bytes(bytes(4 * MIB))
    xend.create("counter", disks=[{"path": str(img), "vdev": "xvda"}])
    sh = attach(xend, "counter")
    boot_id, uptime = boot_id_and_uptime(sh)
    # A loop that counts on the console, in /tmp and in the disk's first sector (fsync'd).
    sh.check("(i=0; while :; do i=$((i+1)); echo $i >/tmp/count; echo tick $i; "
             "echo $i | dd of=/dev/xvda bs=512 count=1 conv=fsync 2>/dev/null; "
             "sleep 0.3; done) >/dev/console 2>&1 & echo $! >/tmp/loop.pid")
    before = wait_value(sh, "cat /tmp/count", 3, "the counter")
    stream = xend.get("/v1/events?timeout=0")["stream"]
    sh.close()

    saved = tmp_path / "counter.save"
    save(xend, "counter", saved)
    assert saved.exists() and not Path(f"{saved}.partial").exists()
    assert names(xend) == []
    events = xend.get(f"/v1/events?after=0&stream={stream}&timeout=0")["events"]
    assert any(e["event"] == "destroyed" and e["name"] == "counter" and
               e.get("reason") == "saved" for e in events), events
    on_disk = int(img.read_bytes()[:512].split(b"\n")[0])
    assert on_disk >= before - 1, on_disk

    name, domid = restore(xend, saved)
    assert name == "counter" and names(xend) == ["counter"]
    events = xend.get(f"/v1/events?after=0&stream={stream}&timeout=0")["events"]
    assert any(e["event"] == "created" and e["domid"] == domid and
               e.get("reason") == "restored" for e in events), events
    con = xend.console("counter")
    # The loop goes on, past where it was when saved, on the console too.
    con.wait_for(rf"tick {on_disk + 3}\r?\n", timeout=COMMAND_TIMEOUT)
    sh = Shell(con)
    con.send("\n")
    con.wait_for(paths.GUEST_PROMPT)
    sh.check("kill $(cat /tmp/loop.pid)")
    after = int(sh.check("cat /tmp/count"))
    assert after > on_disk
    boot_id2, uptime2 = boot_id_and_uptime(sh)
    assert boot_id2 == boot_id, "the guest booted again"
    assert uptime2 > uptime
    # Its writes reached the disk through the restored virtio-blk device.
    assert int(img.read_bytes()[:512].split(b"\n")[0]) > on_disk
    sh.close()


def test_four_busy_vcpus_all_run_after_restore(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("busy", vcpus=4)
    sh = attach(xend, "busy")
    assert sh.check("grep -c ^processor /proc/cpuinfo") == "4"
    # One busy loop per vCPU, each pinned to it and counting in a file of its own.
    sh.check("for n in 0 1 2 3; do (i=0; while :; do i=$((i+1)); "
             "[ $((i % 200)) = 0 ] && echo $i >/tmp/c$n; done) & "
             "taskset -p -c $n $! >/dev/null 2>&1; done; true")
    counts = [wait_value(sh, f"cat /tmp/c{n} 2>/dev/null || echo 0", 0, f"vCPU {n}'s loop")
              for n in range(4)]
    sh.close()
    saved = tmp_path / "busy.save"
    save(xend, "busy", saved)
    restore(xend, saved)
    sh = attach(xend, "busy", fresh_boot=False)
    for n in range(4):
        wait_value(sh, f"cat /tmp/c{n}", counts[n], f"vCPU {n}'s loop after restore",
                   timeout=BOOT_TIMEOUT)
    assert sh.check("grep -c ^processor /proc/cpuinfo") == "4"
    sh.close()


def test_tcp_connection_from_domain0_survives_save_and_restore(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("tcp", vifs=[{}])
    addr = guest_address(xend, "tcp")
    mac = xend.get("/v1/domains/tcp/network")["interfaces"][0]["mac"]
    sh = attach(xend, "tcp")
    # nc exits when its input ends: a FIFO held open by sleep keeps it connected.
    sh.check("mkfifo /tmp/in; (sleep 100000 >/tmp/in &); "
             "nc -l -p 5000 </tmp/in >/tmp/got 2>&1 &")
    with xend.netns.entered():
        conn = socket.socket()
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while True:
        try:
            conn.settimeout(10)
            conn.connect((addr, 5000))
            break
        except OSError:
            assert time.monotonic() < deadline, "cannot connect to the guest's nc"
            conn.close()
            with xend.netns.entered():
                conn = socket.socket()
            time.sleep(0.5)
    conn.settimeout(COMMAND_TIMEOUT)
    conn.sendall(b"before\n")
    sh.check("echo pong1 >/tmp/in")
    assert recv_line(conn) == b"pong1\n"
    sh.close()

    saved = tmp_path / "tcp.save"
    save(xend, "tcp", saved)
    restore(xend, saved)
    start = time.monotonic()
    assert guest_address(xend, "tcp") == addr
    assert xend.get("/v1/domains/tcp/network")["interfaces"][0]["mac"] == mac
    conn.sendall(b"after\n")
    sh = attach(xend, "tcp", fresh_boot=False)
    sh.check("echo pong2 >/tmp/in")
    assert recv_line(conn) == b"pong2\n"
    assert time.monotonic() - start < 60
    assert sh.check("cat /tmp/got") == "before\nafter"
    conn.close()
    sh.close()


def recv_line(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        assert chunk, f"the connection was closed after {data!r}"
        data += chunk
    return data


def test_a_1_gib_domain_that_touched_64_mib_saves_to_a_small_file(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("big", memory=1024)
    sh = attach(xend, "big")
    sh.check("dd if=/dev/urandom of=/tmp/fill bs=1M count=64 2>/dev/null")
    digest = sh.check("md5sum /tmp/fill | cut -d' ' -f1")
    sh.close()
    saved = tmp_path / "big.save"
    # On a terminal, xm shows progress on stderr while it saves.
    out = run_in_pty(xend.xm_argv("save", "big", str(saved)), xend.env())
    m = re.search(rf"saved big to {re.escape(str(saved))}: (\d+) MiB in (\d+) ms", out)
    assert m, out
    size = saved.stat().st_size
    assert 64 * MIB < size < 512 * MIB, size
    assert abs(int(m.group(1)) - size / MIB) <= 1, (m.group(1), size)
    if int(m.group(2)) > 1000:
        assert "\rsaving: " in out and "MiB/s" in out, out
    # On a terminal, xm checks the memory's checksums itself and shows how far it has got
    # (the last figure always: all of it); the VMM then maps without checking again.
    out = run_in_pty(xend.xm_argv("restore", "--copy", str(saved)), xend.env())
    shown = re.findall(r"\rverifying: (\d+) MiB of (\d+) MiB, \d+ MiB/s", out)
    assert shown and shown[-1][0] == shown[-1][1] and int(shown[-1][1]) >= 64, out
    assert re.search(r"restored big as domain \d+ in \d+ ms\n", out), out
    sh = attach(xend, "big", fresh_boot=False)
    assert sh.check("md5sum /tmp/fill | cut -d' ' -f1") == digest
    assert int(sh.check("grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2")) > 900_000
    sh.close()


def run_in_pty(argv, env, timeout=SAVE_TIMEOUT, status=0):
    """Runs argv with stdout and stderr on a pseudo-terminal; returns what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(COMMAND_TIMEOUT) == status, out.decode(errors="replace")
    return out.decode(errors="replace").replace("\r\n", "\n")


# ---- checkpoints, paused restores, twice the same file -----------------------------------


def test_checkpoint_keeps_the_domain_running_and_its_addresses_refuse_a_restore(
        xend_factory, tmp_path):
    xend = xend_factory().start()
    dom = xend.create("ckpt", vifs=[{}])
    addr = guest_address(xend, "ckpt")
    sh = attach(xend, "ckpt")
    sh.check("echo one >/tmp/mark")
    saved = tmp_path / "ckpt.save"
    save(xend, "ckpt", saved, "-c")
    # Still there, same id, running, and its guest answers.
    after = xend.domain("ckpt")
    assert after["id"] == dom["id"] and after["state"] == "running"
    assert "saving" not in after
    sh.check("echo two >/tmp/mark")
    # The saved guest's addresses are the running one's: refused, nothing started.
    before = leftovers(xend)
    line = restore_fails(xend, saved, "--name", "ckpt2")
    # The first of its MAC, link-local or routed address that xend checks is named.
    assert "in use by domain 'ckpt'" in line and ("address" in line or "MAC" in line), line
    assert leftovers(xend) == before
    sh.close()
    # Once the original is gone, the checkpoint comes back paused, as it was then.
    xm(xend, "destroy", "ckpt")
    name, domid = restore(xend, saved, "-p")
    assert name == "ckpt" and xend.domain("ckpt")["state"] == "paused"
    xm(xend, "unpause", "ckpt")
    sh = attach(xend, "ckpt", fresh_boot=False)
    assert sh.check("cat /tmp/mark") == "one"
    assert guest_address(xend, "ckpt") == addr
    sh.close()


def test_restoring_twice_refuses_a_read_write_disk_and_allows_read_only_ones(
        xend_factory, tmp_path):
    xend = xend_factory().start()
    rw, ro = tmp_path / "rw.img", tmp_path / "ro.img"
    rw.write_bytes(bytes(2 * MIB))
    ro.write_bytes(bytes(2 * MIB))
    # Read-write: the first restore takes the disk, the second is refused naming it.
    xend.create("writer", disks=[{"path": str(rw), "vdev": "xvda"}])
    attach(xend, "writer").close()
    save(xend, "writer", tmp_path / "writer.save")
    restore(xend, tmp_path / "writer.save")
    before = leftovers(xend)
    line = restore_fails(xend, tmp_path / "writer.save")
    assert "'writer' exists already" in line, line
    line = restore_fails(xend, tmp_path / "writer.save", "-p", "--name", "writer2")
    assert f"disk '{rw}' is in use by domain 'writer'" in line, line
    assert leftovers(xend) == before
    # Read-only: any number of restored copies, each under its own name.
    xend.create("reader", disks=[{"path": str(ro), "vdev": "xvda", "readonly": True}])
    attach(xend, "reader").close()
    save(xend, "reader", tmp_path / "reader.save")
    restore(xend, tmp_path / "reader.save", "-p")
    name, domid = restore(xend, tmp_path / "reader.save", "-p", "--name", "reader2")
    assert name == "reader2"
    states = {d["name"]: d["state"] for d in xend.domains()[1:]}
    assert states["reader"] == "paused" and states["reader2"] == "paused", states
    xm(xend, "unpause", "reader2")
    sh = attach(xend, "reader2", fresh_boot=False)
    assert sh.check("echo alive") == "alive"
    sh.close()


# ---- bad files ---------------------------------------------------------------------------


def xxh3(data):
    lib = ctypes.CDLL("libxxhash.so.0")
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib.XXH3_64bits(data, len(data))


def with_checksum(data):
    """data with its header checksum recomputed, as the writer computes it."""
    hdr = bytearray(data[:HEADER_STRUCT])
    hdr[CHECKSUM_OFF:CHECKSUM_OFF + 8] = bytes(8)
    state_len, = struct.unpack_from("<Q", data, 48)
    nr_extents, = struct.unpack_from("<Q", data, 64)
    end = HEADER_SIZE + state_len + nr_extents * 32
    out = bytearray(data)
    struct.pack_into("<Q", out, CHECKSUM_OFF, xxh3(bytes(hdr) + bytes(data[HEADER_SIZE:end])))
    return bytes(out)


def damaged_files(good, tmp_path):
    """Each bad variant of the save file good: (file, words its refusal must hold)."""
    data = good.read_bytes()
    state_len, = struct.unpack_from("<Q", data, 48)
    variants = {
        "truncated": (data[: len(data) // 2], "truncated"),
        "zero-length": (b"", "empty"),
        "magic": (b"NOTXENO!" + data[8:], "bad magic"),
        "future": (data[:VERSION_OFF] + struct.pack("<I", 2) + data[VERSION_OFF + 4:],
                   "version 2"),
        "state-bitflip": (data[:HEADER_SIZE + state_len // 2] +
                          bytes([data[HEADER_SIZE + state_len // 2] ^ 0x10]) +
                          data[HEADER_SIZE + state_len // 2 + 1:], "damaged"),
        # Caught by the VMM, which checks each extent's checksum before the guest runs.
        "memory-bitflip": (data[:-100] + bytes([data[-100] ^ 0x01]) + data[-99:], "damaged"),
        "1tib": (with_checksum(data[:MEM_BYTES_OFF] + struct.pack("<Q", 1 << 40) +
                               data[MEM_BYTES_OFF + 8:]), "1048576 MiB"),
        "2tib": (data[:MEM_BYTES_OFF] + struct.pack("<Q", 2 << 40) + data[MEM_BYTES_OFF + 8:],
                 "2097152 MiB"),
        # The guest "used" every CPUID 7 EBX feature (AVX-512 among them): this host lacks
        # some, which the VMM finds before it loads any state.
        "cpu": (with_checksum(data[:CPU_LEAF7_EBX_OFF] + struct.pack("<I", 0xffffffff) +
                              data[CPU_LEAF7_EBX_OFF + 4:]), "lacks CPU features"),
    }
    out = []
    for name, (content, words) in variants.items():
        path = tmp_path / f"{name}.save"
        path.write_bytes(content)
        out.append((path, words))
    return out


def test_damaged_files_are_refused_clearly_and_leave_nothing_behind(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("victim", vifs=[{}])
    attach(xend, "victim").close()
    good = tmp_path / "victim.save"
    save(xend, "victim", good)
    empty = leftovers(xend)
    assert empty["domains"] == [] and empty["taps"] == [] and empty["vmms"] == [], empty
    for path, words in damaged_files(good, tmp_path):
        line = restore_fails(xend, path)
        assert words in line, f"{path.name}: {line}"
        assert leftovers(xend) == empty, path.name
    # On a terminal xm checks the memory itself, and refuses damaged memory as clearly.
    flipped = tmp_path / "memory-bitflip.save"
    out = run_in_pty(xend.xm_argv("restore", str(flipped)), xend.env(), status=1)
    assert re.search(rf"xm: restore: {re.escape(str(flipped))}: .*damaged", out), out
    assert leftovers(xend) == empty
    # Missing files, relative paths through the API, and a file that is no save file.
    line = restore_fails(xend, tmp_path / "nosuch.save")
    assert "No such file" in line, line
    (tmp_path / "text.save").write_text("hello\n")
    assert "truncated" in restore_fails(xend, tmp_path / "text.save")
    with pytest.raises(XendError) as e:
        xend.call("POST", "/v1/restore", {"path": "victim.save"})
    assert e.value.status == 400 and "absolute path" in e.value.message
    assert leftovers(xend) == empty
    # The good file still restores after all that.
    restore(xend, good, "-p")
    assert names(xend) == ["victim"]


def test_save_refusals_leave_the_domain_running(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("keep")
    for target, words in ((tmp_path / "no" / "dir" / "x.save", "no directory"),
                          (tmp_path, "is a directory")):
        r = xm(xend, "save", "keep", str(target))
        assert r.returncode == 1 and words in r.stderr, r.stderr
    r = xm(xend, "save", "nosuch", str(tmp_path / "x.save"))
    assert r.returncode == 1 and "no such domain" in r.stderr, r.stderr
    assert xend.domain("keep")["state"] == "running"
    # A relative FILE is xm's directory's.
    r = subprocess.run(xend.xm_argv("save", "-c", "keep", "rel.save"), env=xend.env(),
                       cwd=tmp_path, capture_output=True, text=True, timeout=SAVE_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "rel.save").stat().st_size > 0
    assert xend.domain("keep")["state"] == "running"
