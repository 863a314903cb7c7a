# SPDX-License-Identifier: GPL-2.0-only
"""xend in a temporary root: its xend.conf, the daemon (foreground or daemonized), an HTTP
client over its UNIX socket, consoles through the API's upgrade, and a teardown that leaves no
VMM behind.

Every xend runs in a network namespace: the "host" namespace of a Topology the test passes
(framework/netns.py), else one of its own made for it and deleted with it, since xend creates
TAPs, routes and nftables tables for its domains.  xend's own commands (`xend start`, ...) and
xm (Xend.xm) run in that namespace too; the HTTP API is a UNIX socket, reachable from anywhere.

Waits are for events with deadlines (an answer on the socket, a console pattern, a state in the
API); the deadlines only stop a hung test from hanging the suite.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import paths
from .netns import Topology
from .vmm import BOOT_TIMEOUT, COMMAND_TIMEOUT, Console

XEND = Path(os.environ.get("XENO_XEND", paths.BUILD / "src" / "xend" / "xend"))
XM = Path(os.environ.get("XENO_XM", paths.BUILD / "src" / "xm" / "xm"))
START_TIMEOUT = 60


class XendError(Exception):
    """An API error: the HTTP status and the JSON error's code and message."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a UNIX socket (the host part of URLs is ignored)."""

    def __init__(self, path, timeout=COMMAND_TIMEOUT):
        super().__init__("xend", timeout=timeout)
        self.path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class XendConsole(Console):
    """A domain's console through GET /v1/domains/DOM/console with Upgrade: xeno-console."""

    def __init__(self, sock, early):
        # Console's reader thread starts from a connected socket; bytes that came with the
        # 101 answer are the console's first output.
        self.sock = sock
        self.sock.settimeout(None)
        self.buf = bytearray(early)
        self.cond = threading.Condition()
        self.closed = False
        self.mark = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


class Xend:
    """One xend with its own run, state and log directories under a short temporary root
    (UNIX socket paths must stay under 108 bytes), in the host namespace of `topology` (a
    netns.Topology, which the caller deletes) or, without one, in a namespace of its own."""

    def __init__(self, conf=None, topology=None):
        self.own_topology = topology is None
        self.topology = Topology(outside=False) if topology is None else topology
        self.netns = self.topology.host
        self.root = Path(tempfile.mkdtemp(prefix="xend-", dir="/tmp"))
        self.socket = self.root / "run" / "xend.sock"
        self.run_dir = self.root / "run"
        self.state_dir = self.root / "state"
        self.log_file = self.root / "log" / "xend.log"
        self.console_log_dir = self.root / "log" / "console"
        self.stderr_file = self.root / "xend.stderr"
        self.conf_path = self.root / "xend.conf"
        settings = {
            "xend-socket": str(self.socket),
            "run-dir": str(self.run_dir),
            "state-dir": str(self.state_dir),
            "log-file": str(self.log_file),
            "console-log-dir": str(self.console_log_dir),
            "vmm-path": str(paths.XENO_VMM),
            "request-timeout": 5,
        }
        settings.update(conf or {})
        self.write_conf(settings)
        self.proc = None
        self.daemonized = False

    def write_conf(self, settings):
        lines = ["# written by tests/integration/framework/xend.py"]
        for key, value in settings.items():
            lines.append(f"{key} = {json.dumps(value) if isinstance(value, str) else value}")
        self.conf_path.write_text("\n".join(lines) + "\n")

    # ---- Process ----

    def xend_prefix(self):
        """What runs xend in its namespace.  `ip netns exec` gives it a sysfs of its own,
        without the cgroup2 mount a host has at /sys/fs/cgroup: mount it again there (in that
        private mount namespace only), so that CPU weights and caps work as on a host."""
        return [*self.netns.prefix(), "sh", "-c",
                "mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup; "
                'exec "$@"', "sh"]

    def command(self, *args, timeout=START_TIMEOUT):
        """Runs `xend --config CONF ARGS...` to completion; returns CompletedProcess."""
        return subprocess.run([*self.xend_prefix(), str(XEND), "--config",
                               str(self.conf_path), *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, daemon=False):
        """Starts xend (in the foreground under this process, or daemonized) and waits until
        its API answers."""
        if daemon:
            done = self.command("start")
            assert done.returncode == 0, f"xend start failed: {done.stderr}{self.log()}"
            self.daemonized = True
        else:
            with open(self.stderr_file, "ab") as err:
                # ip netns exec execs xend: self.proc is xend itself.
                self.proc = subprocess.Popen([*self.xend_prefix(), str(XEND), "-F", "--debug",
                                              "--config", str(self.conf_path)],
                                             stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"xend exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.get("/v1/version")
                return
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise AssertionError(f"xend did not answer within {timeout} s:\n"
                                         f"{self.log()}")
                time.sleep(0.05)

    def pid(self):
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        try:
            return int((self.run_dir / "xend.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self, timeout=START_TIMEOUT):
        """Stops xend as an administrator would (SIGTERM, or `xend stop`); domains stay."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                self.proc.wait(timeout)
            self.proc = None
        elif self.daemonized:
            done = self.command("stop", timeout=timeout)
            assert done.returncode == 0, done.stderr
            self.daemonized = False

    def kill9(self):
        """kill -9 xend: no chance to clean anything up."""
        pid = self.pid()
        assert pid, "xend is not running"
        os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(COMMAND_TIMEOUT)
            self.proc = None
        else:
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        self.daemonized = False

    def env(self):
        """An environment for xm and libxeno that reaches this xend."""
        return dict(os.environ, XENO_XEND_SOCKET=str(self.socket))

    def xm_argv(self, *args):
        """The argv of `xm ARGS...` run in xend's namespace."""
        return [*self.netns.prefix(), str(XM), *args]

    def xm(self, *args, timeout=COMMAND_TIMEOUT, check=False):
        """Runs xm in xend's namespace against this xend; returns CompletedProcess (text).
        check=True asserts that it exits 0."""
        r = subprocess.run(self.xm_argv(*args), env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"xm {' '.join(args)} exited {r.returncode}:\n" \
                                      f"{r.stdout}{r.stderr}"
        return r

    def log(self):
        text = ""
        for f in (self.stderr_file, self.log_file):
            try:
                text += f.read_text(errors="replace")
            except OSError:
                pass
        return text

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, timeout=COMMAND_TIMEOUT):
        """One request; returns (status, headers, parsed JSON or None; the text of a
        text/plain answer).  body may be a dict
        (sent as JSON), bytes or str (sent as is)."""
        conn = UnixHTTPConnection(self.socket, timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            if resp.getheader("Content-Type", "").startswith("text/plain"):
                return resp.status, dict(resp.getheaders()), data.decode()
            obj = json.loads(data) if data.strip() else None
            return resp.status, dict(resp.getheaders()), obj
        finally:
            conn.close()

    def call(self, method, path, body=None, **kw):
        """A request whose answer must be a success; returns the JSON, raises XendError."""
        status, _, obj = self.request(method, path, body, **kw)
        if status >= 400:
            err = (obj or {}).get("error", {})
            raise XendError(status, err.get("code"), err.get("message"))
        return obj

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def domains(self):
        return self.get("/v1/domains")

    def domain(self, dom):
        return self.get(f"/v1/domains/{dom}")

    def create(self, name, memory=128, vcpus=1, cmdline="console=ttyS0 quiet", **config):
        body = {"name": name, "kernel": str(paths.GUEST_KERNEL),
                "ramdisk": str(paths.GUEST_INITRD), "cmdline": cmdline,
                "memory_mib": memory, "vcpus": vcpus}
        body.update(config)
        return self.call("POST", "/v1/domains", body, timeout=BOOT_TIMEOUT)

    def destroy(self, dom):
        return self.call("DELETE", f"/v1/domains/{dom}")

    def pause(self, dom):
        return self.call("POST", f"/v1/domains/{dom}/pause")

    def unpause(self, dom):
        return self.call("POST", f"/v1/domains/{dom}/unpause")

    def shutdown(self, dom, reboot=False, wait=False):
        return self.call("POST", f"/v1/domains/{dom}/shutdown",
                         {"reboot": reboot, "wait": wait}, timeout=BOOT_TIMEOUT)

    def wait_for(self, predicate, what, timeout=BOOT_TIMEOUT):
        """Waits until predicate(list of domain records) is true; returns that list."""
        deadline = time.monotonic() + timeout
        while True:
            doms = self.domains()
            if predicate(doms):
                return doms
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {timeout} s; domains: {doms}")
            time.sleep(0.2)

    def console(self, dom, timeout=COMMAND_TIMEOUT):
        """Attaches to a domain's console; returns a Console (wait_for, send, close)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(self.socket))
        sock.sendall(f"GET /v1/domains/{dom}/console HTTP/1.1\r\nHost: xend\r\n"
                     "Connection: Upgrade\r\nUpgrade: xeno-console\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError(f"console of {dom}: connection closed: {head!r}")
            head += chunk
        head, early = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            sock.close()
            raise AssertionError(f"console of {dom}: {head.decode(errors='replace')} "
                                 f"{early.decode(errors='replace')}")
        return XendConsole(sock, early)

    # ---- Records and teardown ----

    def records(self):
        """The domain records xend keeps under state-dir, parsed."""
        out = []
        for f in sorted((self.state_dir / "domains").glob("*.json")):
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                pass
        return out

    def vmm_pids(self):
        return [r["vmm"]["pid"] for r in self.records() if r.get("vmm", {}).get("pid")]

    def cleanup(self):
        """Destroys every domain (through the API if xend answers, else by killing the VMMs
        named in the records), stops xend, removes the root and, if it made its own, the
        namespace.  The last two always run."""
        try:
            try:
                if self.running():
                    for d in self.domains()[1:]:
                        try:
                            self.destroy(d["id"])
                        except (XendError, OSError, http.client.HTTPException):
                            pass
            except (XendError, OSError, http.client.HTTPException):
                pass
            pids = self.vmm_pids()
            try:
                self.stop()
            except (AssertionError, subprocess.TimeoutExpired, OSError):
                if self.running():
                    os.kill(self.pid(), signal.SIGKILL)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self.own_topology:
                self.topology.delete()
