# SPDX-License-Identifier: GPL-2.0-only
"""One xeno-vmm process driven through its console and control sockets.

The console is read by a background thread into a buffer; tests wait for patterns in it
(events), never for fixed amounts of time.  Timeouts only stop a hung test from hanging
the suite; they are generous because the test host emulates its CPU.
"""
import itertools
import json
import os
import re
import socket
import subprocess
import threading
import time

from . import paths

# Emulated test host: a boot takes tens of seconds; these bound hangs, they assert nothing.
BOOT_TIMEOUT = float(os.environ.get("XENO_TEST_BOOT_TIMEOUT", "300"))
COMMAND_TIMEOUT = float(os.environ.get("XENO_TEST_COMMAND_TIMEOUT", "120"))

EXIT_POWEROFF, EXIT_ERROR, EXIT_REBOOT, EXIT_CRASH, EXIT_HOST = 0, 1, 2, 3, 4


class ConsoleTimeout(AssertionError):
    pass


class Console:
    """The guest's serial console over xeno-vmm's console socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.closed = False
        self.mark = 0  # where the next wait_for starts looking
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def text(self, start=0):
        with self.cond:
            return self.buf[start:].decode(errors="replace")

    def wait_for(self, pattern, timeout=COMMAND_TIMEOUT, start=None):
        """Waits until regex pattern appears after `start` (default: the mark); returns the match
        and moves the mark past it."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        begin = self.mark if start is None else start
        with self.cond:
            while True:
                m = regex.search(self.buf, begin)
                if m:
                    self.mark = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    tail = self.buf[-2000:].decode(errors="replace")
                    why = "console closed" if self.closed else f"{timeout:.0f} s passed"
                    raise ConsoleTimeout(f"{pattern!r} not seen ({why}); console ends with:\n{tail}")
                self.cond.wait(left)

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Vmm:
    """A domain run by xeno-vmm directly (no xend): start, talk, wait for its exit."""

    _serial = itertools.count()

    def __init__(self, workdir, kernel=None, initrd=None, cmdline="console=ttyS0 quiet",
                 memory=256, vcpus=1, name=None, extra_args=(), netns=None):
        n = next(self._serial)
        self.name = name or f"t{n}"
        self.workdir = workdir
        self.console_path = workdir / f"{self.name}.console.sock"
        self.control_path = workdir / f"{self.name}.control.sock"
        self.log_path = workdir / f"{self.name}.log"
        self.args = [str(paths.XENO_VMM),
                     "--kernel", str(kernel or paths.GUEST_KERNEL),
                     "--cmdline", cmdline,
                     "--memory", str(memory), "--vcpus", str(vcpus),
                     "--name", self.name,
                     "--console", str(self.console_path),
                     "--control", str(self.control_path),
                     "--log", str(self.log_path), *extra_args]
        initrd = paths.GUEST_INITRD if initrd is None else initrd
        if initrd:
            self.args[3:3] = ["--initrd", str(initrd)]
        if netns:
            # ip netns exec execs the VMM, so the process we start is the VMM itself.
            self.args[0:0] = netns.prefix()
        self.proc = None
        self.console = None
        self._commands = itertools.count()

    def spawn(self):
        """Starts the VMM without waiting for anything: for runs that may end at once."""
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def start(self):
        self.spawn()
        # Both sockets exist before the first vCPU runs; wait for them or for an early exit.
        deadline = time.monotonic() + 60
        while not (self.console_path.exists() and self.control_path.exists()):
            if self.proc.poll() is not None:
                raise AssertionError(f"xeno-vmm exited with {self.proc.returncode}: "
                                     f"{self.proc.stdout.read().decode()}{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError("xeno-vmm did not create its sockets")
            time.sleep(0.01)
        self.console = Console(self.console_path)
        return self

    def boot(self):
        """Starts the domain and waits for the guest's init to say it is ready and for its
        shell's prompt."""
        self.start()
        self.console.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
        self.console.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)
        return self

    def log(self):
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def _console_state(self):
        """The UART and vCPU figures of a VMM whose guest stopped answering: input still
        queued with the receive interrupt enabled points at us, vCPUs without progress at
        the guest or the test host."""
        try:
            first = self.control("stats")
            time.sleep(2)
            second = self.control("stats")
        except Exception as e:  # noqa: BLE001  (a report, whatever went wrong)
            return f"stats: unavailable ({e})\n"
        keep = ("console_input_queued_bytes", "uart", "vcpu_time_ns")
        return ("stats 2 s apart:\n" + json.dumps({k: first.get(k) for k in keep}) + "\n" +
                json.dumps({k: second.get(k) for k in keep}) + "\n")

    def run(self, command, timeout=COMMAND_TIMEOUT):
        """Runs a shell command on the console; returns (status, output)."""
        n = next(self._commands)
        begin, end = f"XB{n}X", f"XE{n}X"
        # The markers are split in the echoed command line so only the output matches them.
        self.console.send(f"echo X''B{n}X; {command}; echo X''E{n}X $?\n")
        try:
            start = self.console.wait_for(begin + r"\r?\n", timeout).end()
            m = self.console.wait_for(end + r" (\d+)", timeout)
        except ConsoleTimeout as e:
            # Say whether the VMM is still there, and what it logged: CI keeps nothing else.
            status = self.proc.poll() if self.proc else None
            raise ConsoleTimeout(f"{e}\nxeno-vmm exit status: {status}\n"
                                 f"{self._console_state() if status is None else ''}"
                                 f"xeno-vmm log ends with:\n{self.log()[-3000:]}") from None
        output = self.console.text(start)[: m.start() - start]
        return int(m.group(1)), output.replace("\r\n", "\n").rstrip("\n")

    def check(self, command, timeout=COMMAND_TIMEOUT):
        status, output = self.run(command, timeout)
        assert status == 0, f"{command!r} failed with {status}: {output}"
        return output

    def control(self, command):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(COMMAND_TIMEOUT)
            s.connect(str(self.control_path))
            s.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def wait_exit(self, timeout=BOOT_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"xeno-vmm still running after {timeout} s; console ends with:\n"
                                 f"{self.console.text()[-2000:] if self.console else ''}")

    def output(self):
        """What xeno-vmm printed on stdout/stderr (after it exited)."""
        return self.proc.stdout.read().decode(errors="replace") if self.proc else ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.console:
            self.console.close()


def run_vmm(args, timeout=60):
    """Runs xeno-vmm to completion (for argument errors); returns CompletedProcess."""
    return subprocess.run([str(paths.XENO_VMM), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
