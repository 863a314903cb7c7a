# SPDX-License-Identifier: GPL-2.0-only
"""xm against a real xend, inside the test host: the issue's list driven through the command
line a user types.  Config files with var=value overrides and the `-n` dump, two domains in
`xm list`, a console driven through a pipe, pause/unpause, shutdown -w, reboot, destroy,
configs and requests that must be refused with one clear line, and xm with xend down.

xm finds xend through $XENO_XEND_SOCKET and its configs through --path, both pointing into
the test's temporary root.  Waits are for events (console output, xm's exit), bounded only
so that a hang fails instead of hanging the suite.
"""
import json
import os
import pty
import re
import select
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT, COMMAND_TIMEOUT, ConsoleTimeout

XM = Path(os.environ.get("XENO_XM", paths.BUILD / "src" / "xm" / "xm"))

DOMAIN_CFG = """\
# A domain of the xm tests: the default guest image.
name = "{name}"
kernel = "{kernel}"
ramdisk = "{initrd}"
memory = 128
vcpus = 1
extra = "console=ttyS0 quiet"
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
"""


class XmConsole:
    """`xm console DOM` (or `xm create -c ...`) with its stdin and stdout as pipes, read by a
    thread into a buffer."""

    def __init__(self, xm, args):
        self.proc = subprocess.Popen([*xm.prefix, str(XM), *args], env=xm.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.closed = False
        self.mark = 0
        self._commands = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            data = self.proc.stdout.read1(65536)
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def text(self):
        with self.cond:
            return self.buf.decode(errors="replace")

    def wait_for(self, pattern, timeout=COMMAND_TIMEOUT):
        """Waits for regex pattern after the mark; moves the mark past it."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = regex.search(self.buf, self.mark)
                if m:
                    self.mark = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    why = "xm console ended" if self.closed else f"{timeout:.0f} s passed"
                    tail = self.buf[-2000:].decode(errors="replace")
                    raise ConsoleTimeout(f"{pattern!r} not seen ({why}); output ends with:\n{tail}")
                self.cond.wait(left)

    def wait_ready(self):
        self.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
        self.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)
        return self

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, command, timeout=COMMAND_TIMEOUT):
        """Runs a shell command in the guest; returns its output."""
        n = self._commands
        self._commands += 1
        # The markers are split in the echoed command line so only the output matches them.
        self.send(f"echo X''B{n}X; {command}; echo X''E{n}X\n")
        start = self.wait_for(rf"XB{n}X\r?\n", timeout).end()
        end = self.wait_for(rf"XE{n}X", timeout).start()
        with self.cond:
            return self.buf[start:end].decode(errors="replace").replace("\r\n", "\n").strip()

    def detach(self, timeout=COMMAND_TIMEOUT):
        """Ends the input, as a script does: xm detaches and exits 0."""
        self.proc.stdin.close()
        return self.proc.wait(timeout)

    def wait_end(self, timeout=BOOT_TIMEOUT):
        """Waits for xm console to end by itself (the console ended)."""
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Xm:
    """Runs xm against one xend, with the config search path of the test, in xend's network
    namespace (prefix: its `ip netns exec NAME`; empty when there is no xend)."""

    def __init__(self, socket, cfg_dir, prefix=()):
        self.env = dict(os.environ, XENO_XEND_SOCKET=str(socket))
        self.prefix = list(prefix)
        self.cfg_dir = cfg_dir
        self.consoles = []

    def run(self, *args, timeout=COMMAND_TIMEOUT):
        return subprocess.run([*self.prefix, str(XM), *args], env=self.env,
                              stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args, timeout=COMMAND_TIMEOUT):
        """Runs xm, which must succeed and print nothing on stderr; returns its stdout."""
        r = self.run(*args, timeout=timeout)
        assert r.returncode == 0 and r.stderr == "", \
            f"xm {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}"
        return r.stdout

    def fails(self, *args):
        """Runs xm, which must fail with status 1 and exactly one line on stderr; returns it."""
        r = self.run(*args)
        assert r.returncode == 1, f"xm {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}"
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("xm: "), f"stderr: {r.stderr!r}"
        return lines[0]

    def write_cfg(self, name, text=None):
        path = self.cfg_dir / f"{name}.cfg"
        path.write_text(text if text is not None else DOMAIN_CFG.format(
            name=name, kernel=paths.GUEST_KERNEL, initrd=paths.GUEST_INITRD))
        return path

    def create(self, name, *args):
        """xm create NAME.cfg (written if missing) from the test's config directory."""
        if not (self.cfg_dir / f"{name}.cfg").exists():
            self.write_cfg(name)
        return self.ok("create", "--path", str(self.cfg_dir), "-f", f"{name}.cfg", *args)

    def list(self):
        """`xm list` as {name: (id, mem_mib, vcpus, state)}, checking the heading."""
        lines = self.ok("list").splitlines()
        assert lines[0].split() == ["Name", "ID", "Mem(MiB)", "VCPUs", "State", "Time(s)"]
        rows = {}
        for line in lines[1:]:
            name, dom_id, mem, vcpus, state, cpu_time = line.split()
            assert re.fullmatch(r"[r-][b-][p-][s-][c-][d-]", state), line
            float(cpu_time)
            rows[name] = (int(dom_id), int(mem), int(vcpus), state)
        return rows

    def console(self, dom, args=None):
        con = XmConsole(self, args or ["console", dom])
        self.consoles.append(con)
        return con

    def close(self):
        for con in self.consoles:
            con.kill()


@pytest.fixture
def xm(xend_factory, tmp_path):
    """A running xend in a temporary root, and xm pointed at it."""
    xend = xend_factory().start()
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    x = Xm(xend.socket, cfg_dir, xend.netns.prefix())
    x.xend = xend
    yield x
    x.close()


# xl's flags for a running domain: r when a vCPU is on a host CPU, b when all are halted.
RUNNING_FLAGS = ("r-----", "-b----")


def wait_until(predicate, what, timeout=COMMAND_TIMEOUT):
    """For state that xm can only poll (xend's record): checks often, fails after timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s"
        time.sleep(0.2)


# ---- create -n: no xend needed, golden output ----------------------------------------------

def test_create_dryrun_prints_resolved_config_with_overrides(tmp_path):
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    x = Xm(tmp_path / "no-xend.sock", cfg_dir)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    x.write_cfg("web", DOMAIN_CFG.format(name="web", kernel=paths.GUEST_KERNEL,
                                         initrd=paths.GUEST_INITRD)
                + f'disk = [ "file:{disk},xvda,w" ]\n')
    out = x.ok("create", "-n", "--path", f"/nonexistent:{cfg_dir}", "-f", "web.cfg",
               "memory=256", "name=db", "ipaddr=['10.0.0.3', '10.0.0.4']")
    assert out == (
        f'Using config file "{cfg_dir}/web.cfg".\n'
        'VM name            : "db"\n'
        f'VM image           : "{paths.GUEST_KERNEL}"\n'
        f'VM ramdisk         : "{paths.GUEST_INITRD}"\n'
        'VM memory (MB)     : "256"\n'
        'VM IP address(es)  : "10.0.0.3; 10.0.0.4"\n'
        f'VM block device(s) : "{disk},xvda,w"\n'
        'VM cmdline         : "console=ttyS0 quiet"\n')


def test_create_dryrun_finds_file_as_given_then_in_path(tmp_path):
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    x = Xm(tmp_path / "no-xend.sock", cfg_dir)
    x.write_cfg("web")
    # A first argument without '=' is the file; with no -f and no such argument, "defaults".
    out = x.ok("create", "-n", "--path", str(cfg_dir), "web.cfg", "vcpus=2")
    assert out.splitlines()[0] == f'Using config file "{cfg_dir}/web.cfg".'
    (cfg_dir / "defaults").write_text((cfg_dir / "web.cfg").read_text())
    out = x.ok("create", "-n", "--path", str(cfg_dir))
    assert out.splitlines()[0] == f'Using config file "{cfg_dir}/defaults".'
    line = x.fails("create", "-n", "--path", str(tmp_path / "empty"), "-f", "nosuch.cfg")
    assert line == f"xm: create: no config file 'nosuch.cfg' in {tmp_path / 'empty'}"


# ---- domains through xend ------------------------------------------------------------------

def test_two_domains_are_listed_and_a_console_answers(xm):
    out = xm.create("web")
    m = re.match(r"Using config file \".*web\.cfg\"\.\nStarted domain web \(id=(\d+)\)\n"
                 r"Attach to its console with: xm console web\n", out)
    assert m, out
    web_id = int(m.group(1))
    xm.create("db", "memory=160")

    rows = xm.list()
    assert list(rows)[0] == "Domain-0" and rows["Domain-0"][0] == 0
    assert rows["web"][:3] == (web_id, 128, 1)
    assert rows["db"][1] == 160
    assert rows["db"][0] != web_id
    assert rows["web"][3] in RUNNING_FLAGS
    # DOM is a name or an id everywhere.
    assert xm.ok("domid", "web") == f"{web_id}\n"
    assert xm.ok("domname", str(web_id)) == "web\n"
    assert xm.ok("list", str(web_id)).splitlines()[1].split()[0] == "web"
    records = json.loads(xm.ok("list", "-l", "web", "db"))
    assert [r["name"] for r in records] == ["web", "db"]
    assert records[1]["config"]["memory_mib"] == 160

    web = xm.console("web").wait_ready()
    assert web.run("echo hi-$((6*7))") == "hi-42"
    db = xm.console("db").wait_ready()
    assert db.run("cat /proc/meminfo | head -1 | tr -s ' '").startswith("MemTotal:")
    assert web.detach() == 0
    assert db.detach() == 0

    console_on_a_terminal(xm, "web")

    consoles = xm.ok("consoles")
    assert re.search(rf"^web +{web_id} +\S+ +/\S+web\.log$", consoles, re.M), consoles
    assert "Domain-0" not in consoles


def console_on_a_terminal(xm, dom):
    """`xm console` on a pseudo-terminal: raw mode, a command answered, Ctrl-] detaches and
    the terminal's settings come back as they were."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([*xm.prefix, str(XM), "console", dom], env=xm.env, stdin=slave,
                            stdout=slave, stderr=slave, close_fds=True)
    out = b""
    try:
        def read_until(pattern):
            nonlocal out
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while not re.search(pattern, out):
                left = deadline - time.monotonic()
                assert left > 0, f"{pattern!r} not seen on the terminal: {out[-2000:]!r}"
                if select.select([master], [], [], left)[0]:
                    out += os.read(master, 65536)

        read_until(rb"Ctrl-\] detaches")
        os.write(master, b"echo tty-$((2*21))\r")
        read_until(rb"tty-42")
        os.write(master, b"\x1d")
        assert proc.wait(COMMAND_TIMEOUT) == 0
        assert termios.tcgetattr(slave) == before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)


def test_pause_stops_the_guest_and_unpause_resumes_it(xm):
    xm.create("web")
    con = xm.console("web").wait_ready()
    xm.ok("pause", "web")
    assert xm.list()["web"][3] == "--p---"
    assert xm.fails("pause", "web").startswith("xm: pause 'web': ")
    # A paused guest runs nothing: what is typed stays unanswered, however long we look.
    con.send("echo after-$((40+2))\n")
    with pytest.raises(ConsoleTimeout):
        con.wait_for(r"after-42", timeout=3)
    xm.ok("unpause", "web")
    con.wait_for(r"after-42")
    assert xm.list()["web"][3] in RUNNING_FLAGS
    assert xm.fails("unpause", "web").startswith("xm: unpause 'web': ")


def test_list_watch_prints_each_event_and_the_list_and_outlives_an_xend_restart(xm):
    watch = xm.console(None, ["list", "--watch"])
    watch.wait_for(r"\nDomain-0 +0 ")
    xm.create("web", "-p")
    m = watch.wait_for(r"\] web \(id (\d+)\): created -> paused\n")
    web_id = m.group(1).decode()
    watch.wait_for(rf"\nweb +{web_id} +128 +1 +--p--- ")
    xm.ok("unpause", "web")
    watch.wait_for(rf"\] web \(id {web_id}\): unpaused -> running\n")
    xm.ok("destroy", "web")
    watch.wait_for(rf"\] web \(id {web_id}\): destroyed \(requested\)\n"
                   r"Name +ID .*\nDomain-0 +0 [^\n]*\n")
    assert watch.proc.poll() is None
    # xend goes away: said once; it comes back: events may have been missed, the list again.
    xm.xend.stop()
    watch.wait_for(r"\] [^\n]*retrying every second\n")
    xm.xend.start()
    watch.wait_for(r"\] events may have been missed [^\n]*\nName +ID .*\nDomain-0 +0 ")
    xm.create("db")
    watch.wait_for(r"\] db \(id \d+\): created -> running\n")
    assert watch.text().count("retrying every second") == 1
    assert watch.proc.poll() is None


def test_list_tells_a_busy_domain_r_from_an_idle_one_b(xm):
    xm.create("web")
    con = xm.console("web").wait_ready()
    # An idle guest's one vCPU is halted in KVM nearly all the time; a timer tick may wake
    # it just when xend looks, so a few looks are allowed.
    wait_until(lambda: xm.list()["web"][3] == "-b----", "idle web shown blocked")
    con.run("while :; do :; done >/dev/null 2>&1 & echo $! > /tmp/spin")
    # Spinning, its vCPU is always runnable: every look says r.
    for _ in range(5):
        assert xm.list()["web"][3] == "r-----"
    con.run("kill $(cat /tmp/spin)")
    wait_until(lambda: xm.list()["web"][3] == "-b----", "web idle again")
    assert xm.list()["Domain-0"][3] == "r-----"


def test_create_paused_with_console_attaches_and_waits_for_unpause(xm):
    xm.write_cfg("web")
    con = xm.console("web", ["create", "-p", "-c", "--path", str(xm.cfg_dir), "web.cfg"])
    con.wait_for(r"Started domain web \(id=\d+\), paused\n")
    assert xm.list()["web"][3] == "--p---"
    xm.ok("unpause", "web")
    con.wait_ready()
    assert con.run("echo up-$((1+2))") == "up-3"
    assert con.detach() == 0
    assert xm.list()["web"][3] in RUNNING_FLAGS


def test_shutdown_wait_returns_once_the_domain_is_gone(xm):
    xm.create("web")
    xm.create("db")
    web = xm.console("web").wait_ready()
    db = xm.console("db").wait_ready()
    xm.ok("shutdown", "-w", "web", timeout=BOOT_TIMEOUT)
    assert set(xm.list()) == {"Domain-0", "db"}
    # The console ended with the domain: xm console leaves by itself, successfully.
    assert web.wait_end() == 0
    assert xm.fails("shutdown", "web") == "xm: shutdown 'web': no such domain"
    # -a: every domain but Domain-0, waited for together.
    xm.ok("shutdown", "-a", "-w", timeout=BOOT_TIMEOUT)
    assert set(xm.list()) == {"Domain-0"}
    assert db.wait_end() == 0


def test_reboot_restarts_with_the_same_id(xm):
    xm.create("web")
    con = xm.console("web").wait_ready()
    web_id = xm.list()["web"][0]
    log = Path(json.loads(xm.ok("list", "-l", "web"))[0]["console"]["log"])
    con.detach()
    xm.ok("reboot", "-w", "web", timeout=BOOT_TIMEOUT)
    assert xm.list()["web"][0] == web_id
    # The guest boots a second time: its ready marker is in the console log twice.
    wait_until(lambda: log.read_text(errors="replace").count(paths.GUEST_READY) >= 2,
               "a second boot in the console log", timeout=BOOT_TIMEOUT)
    xm.console("web").wait_for(paths.GUEST_PROMPT)


def test_destroy_removes_the_domain_at_once(xm):
    xm.create("db", "memory=144")
    first_id = xm.list()["db"][0]
    # -R: destroyed, then created again from the config xend recorded (a new id).
    out = xm.ok("destroy", "-R", "db")
    assert re.match(r"Started domain db \(id=(\d+)\)\n", out), out
    assert xm.list()["db"][0] != first_id and xm.list()["db"][1] == 144
    xm.ok("destroy", "db")
    assert "db" not in xm.list()
    assert xm.fails("destroy", "db") == "xm: destroy 'db': no such domain"
    assert xm.fails("console", "db") == "xm: console 'db': no such domain"
    assert xm.fails("domid", "db") == "xm: domid 'db': no such domain"


# ---- refusals: one line, status 1, and xend keeps serving ---------------------------------

BAD_CONFIGS = [
    # (file text, line the message must name)
    ('name = "web\nmemory = 128\n', 1),                              # unterminated string
    ('name = "web"\nkernel = "{kernel}"\nmemroy = 128\n', 3),       # unknown key
    ('name = "web"\nkernel = "{kernel}"\nmemory = 0\n', 3),         # memory=0
    ('name = "web"\nkernel = "{kernel}"\nmemory = "lots"\n', 3),    # wrong type
    ('name = "web"\nkernel = "/nonexistent/vmlinuz"\n', 2),          # missing kernel file
    ('name = "web"\nname = "db"\nkernel = "{kernel}"\n', 2),        # duplicate key
    ('name = "web"\nkernel = "{kernel}"\ndisk = [ "file:/nonexistent.img,xvda,w" ]\n', 3),
    ('name = "web"\nkernel = "{kernel}"\nvif = [ "mac=zz:00" ]\n', 3),
    ('name = "web"\nkernel = "{kernel}"\ndisk = [ "file:/x,xvda,w",\n', 3),  # open list
    ('name = "web"\nkernel = "{kernel}"\nvcpus = 100000\n', 3),
    ('name = "web"\n\x01\x02\x03garbage\n', 2),                       # binary garbage
    ('name = "a b c"\nkernel = "{kernel}"\n', 1),                     # bad name
]


@pytest.mark.parametrize("text,line", BAD_CONFIGS)
def test_bad_config_gives_file_line_error_and_xend_keeps_serving(xm, text, line):
    path = xm.write_cfg("bad", text.replace("{kernel}", str(paths.GUEST_KERNEL)))
    err = xm.fails("create", "--path", str(xm.cfg_dir), "-f", "bad.cfg")
    assert err.startswith(f"xm: create: {path}:{line}: "), err
    assert "Domain-0" in xm.list()


def test_requests_xend_refuses_give_one_line(xm):
    xm.create("web")
    # The name is taken; the memory is more than the host has.
    assert xm.fails("create", "--path", str(xm.cfg_dir), "-f", "web.cfg") \
        .startswith("xm: create: ")
    assert xm.fails("create", "--path", str(xm.cfg_dir), "-f", "web.cfg", "name=huge",
                    "memory=1048576").startswith("xm: create: ")
    # Domain-0 is listed but not to be touched.
    assert xm.fails("pause", "0").startswith("xm: pause '0': ")
    assert xm.fails("destroy", "Domain-0").startswith("xm: destroy 'Domain-0': ")
    assert xm.fails("domname", "99999") == "xm: domname '99999': no such domain"
    assert xm.fails("domname", "web") == "xm: domname: 'web' is not a domain id (a number)"
    assert xm.fails("shutdown", "-H", "-R", "web").startswith("xm: shutdown: ")
    # create -L restores (issue 7): a file that is not there is said so.
    err = xm.fails("create", "-L", "saved")
    assert err.startswith("xm: restore: ") and "No such file" in err, err
    assert set(xm.list()) == {"Domain-0", "web"}


def test_host_commands(xm):
    info = xm.ok("info")
    fields = dict(line.split(" : ", 1) for line in info.splitlines())
    fields = {k.strip(): v for k, v in fields.items()}
    assert fields["xend_version"] and fields["xm_version"]
    assert int(fields["cpus"]) >= 1
    # xend -F logs to stderr, so its log file may hold nothing: only the call is checked.
    xm.ok("dmesg")
    xm.ok("log")
    assert len(xm.ok("dmesg", "-n", "5").splitlines()) <= 5
    assert xm.fails("dmesg", "-n", "zero").startswith("xm: dmesg: -n 'zero': ")


def test_usage_and_help(xm):
    r = xm.run()
    assert r.returncode == 1 and r.stdout == "" and "Usage: xm COMMAND" in r.stderr
    assert "create " in xm.ok("help")
    assert xm.ok("help", "shutdown") == xm.ok("shutdown", "--help")
    assert xm.ok("help", "log").startswith("Usage: xm dmesg")
    assert xm.fails("frobnicate") == "xm: 'frobnicate' is not an xm command (see 'xm help')"


def test_xm_with_xend_down_says_how_to_start_it(tmp_path):
    x = Xm(tmp_path / "xend.sock", tmp_path)
    for args in (["list"], ["pause", "web"], ["info"], ["console", "web"]):
        assert x.fails(*args) == (f"xm: cannot reach xend at {tmp_path / 'xend.sock'}: "
                                  "is it running? (xend start)")
