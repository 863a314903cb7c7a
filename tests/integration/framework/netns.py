# SPDX-License-Identifier: GPL-2.0-only
"""Network namespaces made by a test, and removed after it: network tests never touch the
host's own interfaces, routes or firewall, and send traffic only inside these.

Netns is one namespace; Topology is the networking tests' pair (docs: the issue 5 contract):
"host" (`xh-<id>`), where xend runs, and "outside" (`xo-<id>`), joined by a veth pair
`uplink0` (host side, 192.0.2.1/24) <-> `eth0` (outside, 192.0.2.2/24).  The outside has no
default route: what a domain sends out comes back only through the host's NAT.

Deletion always runs: fixtures call delete() in their teardown, and every namespace this
process made and did not delete yet is deleted at exit (atexit), so an interrupted run leaves
none behind.  Runs in the test process (pytest's main thread; entered() in any thread).
"""
import atexit
import contextlib
import ctypes
import itertools
import os
import subprocess

_serial = itertools.count()
_live = set()  # names of the namespaces made here and not deleted yet
CLONE_NEWNET = 0x40000000

HOST_UPLINK = "uplink0"
HOST_UPLINK_IP = "192.0.2.1"
OUTSIDE_DEV = "eth0"
OUTSIDE_IP = "192.0.2.2"
UPLINK_PREFIX = 24


def sh(*args, check=True, timeout=60):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def _setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def unique_id():
    """A short id for names made by this process (pid + serial)."""
    return f"{os.getpid()}n{next(_serial)}"


class Netns:
    """One network namespace with lo up; `name` defaults to xt<pid>n<serial>."""

    def __init__(self, name=None):
        self.name = name or f"xt{unique_id()}"
        sh("ip", "netns", "add", self.name)
        _live.add(self.name)
        try:
            self.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def run(self, *args, check=True, timeout=60):
        """Runs a command in the namespace to completion; returns CompletedProcess (text).
        check=True raises AssertionError with its stderr when it fails."""
        return sh("ip", "netns", "exec", self.name, *args, check=check, timeout=timeout)

    def popen(self, args, **kwargs):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args], **kwargs)

    def prefix(self):
        """The argv prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    @contextlib.contextmanager
    def entered(self):
        """Moves the calling thread into the namespace for the with block: sockets made in
        it belong to the namespace (and stay there after the block)."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            try:
                yield self
            finally:
                _setns(home)
        finally:
            os.close(home)

    def links(self):
        """Names of the interfaces in the namespace."""
        out = self.run("ip", "-o", "link", "show").stdout
        return [line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line]

    def delete(self):
        """Deletes the namespace (what runs in it keeps it alive until it exits)."""
        if self.name in _live:
            sh("ip", "netns", "delete", self.name, check=False)
            _live.discard(self.name)


class Topology:
    """The networking tests' namespaces: `host` (xend runs there) and, unless outside=False,
    `outside` joined to it by the uplink veth pair."""

    def __init__(self, outside=True):
        tag = unique_id()
        self.host = Netns(f"xh-{tag}")
        self.outside = None
        try:
            if outside:
                self.outside = Netns(f"xo-{tag}")
                self.host.run("ip", "link", "add", HOST_UPLINK, "type", "veth",
                              "peer", "name", OUTSIDE_DEV, "netns", self.outside.name)
                self.host.run("ip", "addr", "add", f"{HOST_UPLINK_IP}/{UPLINK_PREFIX}",
                              "dev", HOST_UPLINK)
                self.host.run("ip", "link", "set", HOST_UPLINK, "up")
                self.outside.run("ip", "addr", "add", f"{OUTSIDE_IP}/{UPLINK_PREFIX}",
                                 "dev", OUTSIDE_DEV)
                self.outside.run("ip", "link", "set", OUTSIDE_DEV, "up")
        except BaseException:
            self.delete()
            raise

    def delete(self):
        if self.outside is not None:
            self.outside.delete()
        self.host.delete()


@atexit.register
def _delete_leftovers():
    for name in list(_live):
        sh("ip", "netns", "delete", name, check=False)
        _live.discard(name)
