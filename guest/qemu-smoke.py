#!/usr/bin/env python3
"""Boot the xeno guest image under QEMU (software emulation) and check it.

    guest/qemu-smoke.py [--dir DIR] [--only NAME,...] [--list]

DIR defaults to ${XENO_CACHE:-/var/cache/xeno}/guest (what guest/build.sh
makes).  Each check boots a fresh VM: QEMU's serial console is on stdio
(pipes), its monitor on a UNIX socket.  Needs qemu-system-x86 only; no KVM.
Prints one line per check and a closing 'N passed, N failed'.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

READY = "xeno-guest: ready"
QEMU = "qemu-system-x86_64"


def _die_with_parent():
    """In the child: get SIGKILL when the test process dies (no stray QEMU)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:  # noqa: BLE001 - best effort
        pass


class Guest:
    """A QEMU VM whose serial console we read and write."""

    def __init__(self, kernel, initrd, append, mem=128, machine="q35",
                 devices=True, disk=None, netdev="user,id=n0", extra=()):
        self.tmp = tempfile.mkdtemp(prefix="xeno-smoke-")
        self.mon_path = os.path.join(self.tmp, "mon.sock")
        cmd = [QEMU, "-accel", "tcg", "-M", machine, "-cpu", "max",
               "-smp", "2", "-m", str(mem), "-nographic", "-no-reboot",
               "-monitor", "unix:%s,server,nowait" % self.mon_path,
               "-kernel", kernel, "-append", append]
        if initrd:
            cmd += ["-initrd", initrd]
        if devices:
            cmd += ["-device", "virtio-net-pci,netdev=n0",
                    "-netdev", netdev,
                    "-device", "virtio-rng-pci",
                    "-device", "virtio-balloon-pci",
                    "-device", "virtio-serial-pci",
                    "-chardev", "null,id=vs0",
                    "-device", "virtserialport,chardev=vs0,name=org.xeno.test"]
            if disk:
                cmd += ["-drive", "file=%s,if=virtio,format=raw" % disk]
        cmd += list(extra)
        self.cmd = cmd
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        self.buf = b""
        self.pos = 0
        self.lock = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 65536)
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.buf += data
                self.lock.notify_all()

    def text(self):
        return self.buf.decode("utf-8", "replace")

    def expect(self, pattern, timeout=60.0):
        """Wait for regex pattern after the last match; return the match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = end - time.monotonic()
                if left <= 0 or getattr(self, "eof", False):
                    raise TimeoutError("no %r in the console output; tail:\n%s"
                                       % (pattern, self.text()[-1500:]))
                self.lock.wait(min(left, 0.5))

    def send(self, s):
        self.proc.stdin.write(s.encode())
        self.proc.stdin.flush()

    def run(self, command, timeout=30.0):
        """Run a shell command on the console; return (status, output)."""
        # The markers as typed ("" inside, $? unexpanded) differ from the
        # markers as printed, so the echo of the command line never matches.
        self.send('echo __XB""__; %s; echo __XS__$?__\n' % command)
        b = self.expect(r"__XB__\r?\n", timeout)
        m = self.expect(r"__XS__(\d+)__", timeout)
        out = self.buf[b.end():m.start()].decode("utf-8", "replace")
        return int(m.group(1)), out.replace("\r", "")

    def monitor(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.mon_path)
        s.settimeout(5)
        s.recv(4096)
        s.sendall(line.encode() + b"\n")
        time.sleep(0.2)
        s.close()

    def wait_exit(self, timeout=60.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError("QEMU still running; tail:\n%s" % self.text()[-1500:])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink(self.mon_path)
        except OSError:
            pass
        os.rmdir(self.tmp)


def boot(args, append="console=ttyS0 quiet", **kw):
    g = Guest(kw.pop("kernel", args.vmlinuz), kw.pop("initrd", args.initrd),
              append, **kw)
    try:
        g.expect(re.escape(READY), args.timeout)
        g.ready_s = time.monotonic() - g.t0
        g.expect(r"# ", 20)
    except Exception:
        g.close()
        raise
    return g


NET = ("ip=10.0.0.2::10.0.0.1:255.255.255.0:g1:eth0:off "
       "LINKLOCAL=169.254.1.2 hostname=g1")


def check_full(args):
    """Devices bind, cmdline network/hostname, nproc, Ctrl-C, job control."""
    disk = os.path.join(args.work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(16 << 20)
    g = boot(args, "console=ttyS0 quiet " + NET, disk=disk)
    notes = ["ready in %.1fs" % g.ready_s]
    try:
        out = g.text()
        assert out.count(READY) == 1, "marker not exactly once"
        st, o = g.run("hostname")
        assert o.strip() == "g1", "hostname: %r" % o
        st, o = g.run("nproc")
        assert o.strip() == "2", "nproc: %r" % o
        st, o = g.run("ip addr show dev eth0")
        assert "inet 10.0.0.2/24" in o, o
        assert "inet 169.254.1.2/16" in o, o
        st, o = g.run("ip route")
        assert "default via 10.0.0.1 dev eth0" in o, o
        assert "169.254.0.0/16 dev eth0" in o, o
        st, o = g.run("ip addr show dev lo")
        assert "inet 127.0.0.1/8" in o, o
        st, o = g.run("ls /dev/vda /dev/hwrng /dev/input/event0 /dev/vport*p1 "
                      "/sys/class/virtio-ports/*/name")
        assert st == 0, o
        st, o = g.run("cat /sys/class/misc/hw_random/rng_current")
        assert o.strip().startswith("virtio_rng"), o
        st, o = g.run("cat /sys/block/vda/size")
        assert o.strip() == str(16 << 11), o
        st, o = g.run("ls /sys/bus/virtio/drivers/virtio_balloon/ | grep -c virtio")
        assert o.strip() == "1", "balloon not bound: %r" % o
        st, o = g.run("lsmod | wc -l")
        notes.append("%d modules" % (int(o.strip()) - 1))
        st, o = g.run("pidof acpid")
        assert st == 0, "acpid not running"
        # job control + Ctrl-C
        g.send("sleep 300\n")
        time.sleep(1.0)
        t = time.monotonic()
        g.send("\x03")
        st, o = g.run("echo after-ctrl-c")
        assert "after-ctrl-c" in o and time.monotonic() - t < 10, "Ctrl-C"
        st, o = g.run("sleep 300 & jobs")
        assert "[1]" in o and "Running" in o, "jobs: %r" % o
        st, o = g.run("kill %1; wait; tty")
        assert "/dev/ttyS0" in o, "tty: %r" % o
        st, o = g.run("dropbear -V 2>&1; dropbearkey -t ed25519 -f /tmp/k >/dev/null && echo key-ok")
        assert "key-ok" in o, "dropbear: %r" % o
        st, o = g.run("free -m | sed -n 2p")
        notes.append("free: " + " ".join(o.split()[1:4]))
        t = time.monotonic()
        g.monitor("system_powerdown")
        rc = g.wait_exit(60)
        notes.append("system_powerdown -> exit %d in %.1fs" % (rc, time.monotonic() - t))
        assert "Kernel panic" not in g.text(), "panic"
    finally:
        g.close()
    return notes


def check_cmd_end(args, command):
    g = boot(args)
    try:
        t = time.monotonic()
        g.send(command + "\n")
        rc = g.wait_exit(60)
        assert "Kernel panic" not in g.text(), g.text()[-800:]
        return ["ready in %.1fs" % g.ready_s,
                "%s -> QEMU exit %d in %.1fs" % (command, rc, time.monotonic() - t)]
    finally:
        g.close()


def check_mem(args, mem):
    g = boot(args, mem=mem)
    try:
        st, o = g.run("free -m | sed -n 2p")
        g.send("poweroff\n")
        g.wait_exit(60)
        return ["%d MiB: ready in %.1fs, free: %s" % (mem, g.ready_s, " ".join(o.split()[1:4]))]
    finally:
        g.close()


def host_tsc_khz():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return int(float(line.split(":")[1]) * 1000)
    except (OSError, ValueError):
        pass
    return 2000000


def check_pvh(args, machine):
    kw = {}
    append = "console=ttyS0 quiet"
    if machine == "microvm":
        # microvm: no PCI; ACPI on, so secondary CPUs and the GED power button work
        machine = "microvm,acpi=on"
        kw["devices"] = False
        # microvm has neither HPET nor ACPI PM timer: under emulation the
        # kernel's PIT calibration of the TSC often fails and the boot hangs
        # (KVM guests have kvmclock instead).  Tell the kernel the TSC rate.
        append += " tsc_early_khz=%d" % host_tsc_khz()
    g = boot(args, append, kernel=args.vmlinux, machine=machine, **kw)
    try:
        st, o = g.run("nproc")
        assert o.strip() == "2", "nproc: %r" % o
        st, o = g.run("pidof acpid")
        assert st == 0, "acpid not running"
        # the ACPI power button: q35's fixed-feature one, microvm's GED one
        g.monitor("system_powerdown")
        rc = g.wait_exit(60)
        return ["%s PVH: ready in %.1fs, nproc 2, system_powerdown -> exit %d"
                % (machine, g.ready_s, rc)]
    finally:
        g.close()


def check_reboot_shell_respawn(args):
    g = boot(args)
    try:
        g.send("exit\n")
        g.expect(r"# ", 20)
        st, o = g.run("echo respawned")
        assert "respawned" in o
        assert g.text().count(READY) == 1, "marker printed again"
        return ["shell respawned after exit, marker once"]
    finally:
        g.close()


def check_net_variants(args):
    """ip= with a /32 address, a gateway off-link, hostname and DNS fields."""
    g = boot(args, "console=ttyS0 quiet "
             "ip=10.1.2.3::10.1.2.1:255.255.255.255:fromip:eth0:none:192.0.2.53")
    try:
        st, o = g.run("hostname; ip addr show dev eth0; ip route; cat /etc/resolv.conf")
        assert o.startswith("fromip\n"), o
        assert "inet 10.1.2.3/32" in o, o
        assert "default via 10.1.2.1 dev eth0" in o, o
        assert "nameserver 192.0.2.53" in o, o
        st, o = g.run("grep fromip /etc/hosts")
        assert st == 0, o
        return ["ready in %.1fs; /32 + off-link gateway + dns ok" % g.ready_s]
    finally:
        g.close()


def check_dhcp(args):
    """ip=dhcp against QEMU's user-mode DHCP server."""
    g = boot(args, "console=ttyS0 quiet ip=dhcp hostname=dh")
    try:
        st, o = g.run("ip addr show dev eth0; ip route; cat /etc/resolv.conf; pidof udhcpc")
        assert "inet 10.0.2.15/24" in o, o
        assert "default via 10.0.2.2 dev eth0" in o, o
        assert "nameserver 10.0.2.3" in o, o
        assert st == 0, "udhcpc not kept running for renewals"
        return ["ready in %.1fs (lease included)" % g.ready_s]
    finally:
        g.close()


def b64url(text):
    import base64
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def check_ssh(args):
    """xeno.ssh_key= and xeno.root_hash= start dropbear: key login (OpenSSH) and password
    login (dbclient) from the host through a loopback hostfwd; without them no dropbear."""
    client = shutil.which("ssh")
    keygen = shutil.which("ssh-keygen")
    dbclient = shutil.which("dbclient")
    openssl = shutil.which("openssl")
    if not client or not keygen or not dbclient or not openssl:
        return ["skipped: no ssh/ssh-keygen/dbclient/openssl on this host"]
    key = os.path.join(args.work, "id_ed25519")
    if not os.path.exists(key):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as f:
        pub = f.read().strip()
    pw_hash = subprocess.run([openssl, "passwd", "-6", "s3cret"], capture_output=True,
                             text=True, check=True).stdout.strip()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    g = boot(args, "console=ttyS0 quiet hostname=sshg "
             "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off "
             "xeno.ssh_key=%s xeno.root_hash=%s" % (b64url(pub), pw_hash),
             netdev="user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22" % port)
    notes = []
    try:
        t = time.monotonic()
        r = subprocess.run([client, "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                            "-o", "ConnectTimeout=60", "-i", key, "-p", str(port),
                            "root@127.0.0.1", "echo ssh-ok $(hostname)"],
                           capture_output=True, text=True, timeout=120)
        assert "ssh-ok sshg" in r.stdout, (r.stdout, r.stderr, g.run("cat /run/dropbear.log"))
        notes.append("key login ok in %.1fs" % (time.monotonic() - t))
        r = subprocess.run([dbclient, "-y", "-y", "-p", str(port), "root@127.0.0.1",
                            "echo pw-ok"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL,
                           env=dict(os.environ, DROPBEAR_PASSWORD="s3cret"))
        assert "pw-ok" in r.stdout, (r.stdout, r.stderr)
        r = subprocess.run([dbclient, "-y", "-y", "-p", str(port), "root@127.0.0.1",
                            "echo pw-ok"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL,
                           env=dict(os.environ, DROPBEAR_PASSWORD="wrong"))
        assert "pw-ok" not in r.stdout and r.returncode != 0, (r.stdout, r.stderr)
        notes.append("password login ok, wrong password refused")
    finally:
        g.close()
    g = boot(args, "console=ttyS0 quiet ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off")
    try:
        st, o = g.run("pidof dropbear")
        assert st != 0, "dropbear runs without credentials: " + o
        notes.append("no credentials, no dropbear")
    finally:
        g.close()
    return notes


def check_addr(args):
    """xeno.addr=: /32 addresses with a policy rule each; iperf3 unpacks and runs."""
    g = boot(args, "console=ttyS0 quiet ip=10.0.0.2::10.0.0.1:255.255.255.255::eth0:off "
             "LINKLOCAL=169.254.1.2 xeno.addr=eth0:10.0.0.9 xeno.addr=eth0:10.0.0.10")
    try:
        st, o = g.run("ip -4 addr show dev eth0; ip rule; ip route show table 102")
        assert st == 0, o
        for want in ("inet 10.0.0.2/32", "inet 169.254.1.2/16", "inet 10.0.0.9/32",
                     "inet 10.0.0.10/32", "from 10.0.0.9 lookup 102",
                     "from 10.0.0.10 lookup 102", "default via 10.0.0.1 dev eth0"):
            assert want in o, (want, o)
        st, o = g.run("iperf3 --version")
        assert st == 0 and "iperf 3" in o, o
        return ["addresses and rules ok; iperf3 runs"]
    finally:
        g.close()


CHECKS = {
    "full": check_full,
    "poweroff": lambda a: check_cmd_end(a, "poweroff"),
    "reboot": lambda a: check_cmd_end(a, "reboot"),
    "respawn": check_reboot_shell_respawn,
    "net-variants": check_net_variants,
    "dhcp": check_dhcp,
    "ssh": check_ssh,
    "addr": check_addr,
    "mem128": lambda a: check_mem(a, 128),
    "mem96": lambda a: check_mem(a, 96),
    "pvh-q35": lambda a: check_pvh(a, "q35"),
    "pvh-microvm": lambda a: check_pvh(a, "microvm"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cache = os.environ.get("XENO_CACHE", "/var/cache/xeno")
    ap.add_argument("--dir", default=os.path.join(cache, "guest"))
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds to wait for the ready marker")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CHECKS))
        return 0
    args.vmlinuz = os.path.join(args.dir, "vmlinuz")
    args.vmlinux = os.path.join(args.dir, "vmlinux")
    args.initrd = os.path.join(args.dir, "initrd.img")
    for f in (args.vmlinuz, args.vmlinux, args.initrd):
        if not os.path.exists(f):
            print("missing %s: run guest/build.sh first" % f, file=sys.stderr)
            return 2
    names = [n for n in args.only.split(",") if n] or list(CHECKS)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="xeno-smoke-") as work:
        args.work = work
        for n in names:
            t = time.monotonic()
            try:
                notes = CHECKS[n](args)
                passed += 1
                print("PASS %-12s %5.1fs  %s" % (n, time.monotonic() - t, "; ".join(notes)),
                      flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                failed += 1
                print("FAIL %-12s %5.1fs  %s" % (n, time.monotonic() - t, e), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
