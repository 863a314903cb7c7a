# SPDX-License-Identifier: GPL-2.0-only
"""Domain networking through xend (issue 5), with real guests, all inside the namespaces of a
netns.Topology: "host" (xend, its TAPs, routes and nftables) and "outside" (192.0.2.2, behind
the uplink veth).  The guests are the default image (busybox, dropbear, dbclient); the tests
drive them on their consoles and from the namespaces with OpenSSH, tcpdump, nft and ip.

What the domains get (docs/api.md, xend.conf(5)): a pool address of 10.0.0.0/24 routed to
their TAP vif<ID>.0, the link-local 169.254.1.<ID>, dropbear with the test's key and password,
and Domain-0 as gateway (10.0.0.1, 169.254.1.0).
"""
import itertools
import json
import re
import socket
import subprocess
import threading
import time

import pytest

from framework import netns as nets
from framework import paths
from framework.vmm import BOOT_TIMEOUT, COMMAND_TIMEOUT
from framework.xend import XendError

PASSWORD = "xeno-test-pw"
SSH_PORT_BASE = 2200
MEMORY = 128
TEN_MIB = 10 << 20
ROUTE_PROTO = 249  # the route protocol number xend's host routes carry

DOMAIN_CFG = """\
name = "{name}"
kernel = "{kernel}"
ramdisk = "{initrd}"
extra = "console=ttyS0 quiet"
memory = {memory}
vif = {vif}
root_password = "{password}"
ssh_authorized_key = "{key}"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
{extra}"""


# ---- helpers ---------------------------------------------------------------------------------

_commands = itertools.count(1)


class Shell:
    """The root shell on a domain's console (through xend's console upgrade).  Command
    markers are numbered across all consoles: a console attached again replays the output of
    earlier ones."""

    def __init__(self, console):
        self.console = console

    def run(self, command, timeout=COMMAND_TIMEOUT):
        """Runs a shell command; returns (status, output)."""
        n = next(_commands)
        begin, end = f"GB{n}G", f"GE{n}G"
        # Markers split in the typed line, so that only the output matches them; a command
        # ending in & is its own separator.
        sep = "" if command.rstrip().endswith("&") else ";"
        self.console.send(f"echo G''B{n}G; {command}{sep} echo G''E{n}G $?\n")
        start = self.console.wait_for(begin + r"\r?\n", timeout).end()
        m = self.console.wait_for(end + r" (\d+)", timeout)
        out = self.console.text(start)[: m.start() - start]
        # The next prompt: input typed before it can be flushed by the shell's line editor.
        self.console.wait_for(paths.GUEST_PROMPT, timeout)
        return int(m.group(1)), out.replace("\r\n", "\n").rstrip("\n")

    def check(self, command, timeout=COMMAND_TIMEOUT):
        status, out = self.run(command, timeout)
        assert status == 0, f"{command!r} exited {status}: {out}"
        return out


class Domain:
    """A domain created with xm: its id, addresses, TAP and console shell."""

    def __init__(self, xend, name, dom_id):
        self.xend, self.name, self.id = xend, name, dom_id
        self.shell = None
        # What does not change while the domain lives, read once (xend may be down later).
        vif0 = self.network()[0]
        self.tap, self.mac = vif0["tap"], vif0["mac"]
        self.routed = vif0["addresses"][0]  # vif 0's first address (from the pool, or given)

    def network(self):
        return self.xend.get(f"/v1/domains/{self.id}/network")["interfaces"]

    @property
    def linklocal(self):
        return f"169.254.1.{self.id}"

    def spoof_dropped(self):
        return sum(i["spoof_dropped"] for i in self.network())

    def wait_ready(self):
        con = self.xend.console(self.id)
        con.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
        con.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)
        self.shell = Shell(con)
        return self

    def reattach(self):
        """A new console connection (after xend restarted) for the same shell."""
        self.close()
        self.shell = Shell(self.xend.console(self.id))
        return self

    def close(self):
        if self.shell:
            self.shell.console.close()


class Net:
    """A test's xend in the topology's host namespace, its domains, and ways to look at the
    host namespace's network state."""

    def __init__(self, topology, xend_factory, tmp_path, ssh_key, conf=None):
        self.topo = topology
        self.host, self.outside = topology.host, topology.outside
        self.xend = xend_factory(conf=conf or {}, topology=topology).start()
        self.cfg_dir = tmp_path / "cfg"
        self.cfg_dir.mkdir(exist_ok=True)
        self.key, self.pub = ssh_key
        self.domains = []

    def write_cfg(self, name, extra="", vif="[ '' ]", memory=MEMORY):
        path = self.cfg_dir / f"{name}.cfg"
        path.write_text(DOMAIN_CFG.format(name=name, kernel=paths.GUEST_KERNEL,
                                          initrd=paths.GUEST_INITRD, memory=memory, vif=vif,
                                          password=PASSWORD, key=self.pub, extra=extra))
        return path

    def xm(self, *args, **kw):
        return self.xend.xm(*args, **kw)

    def create(self, name, extra=""):
        """xm create NAME (a config with one routed vif, the test's key and password)."""
        self.write_cfg(name, extra)
        r = self.xm("create", "--path", str(self.cfg_dir), "-f", f"{name}.cfg")
        m = re.search(r"^Started domain (\S+) \(id=(\d+)\)", r.stdout, re.M)
        assert r.returncode == 0 and m, f"xm create {name}: {r.stdout}{r.stderr}"
        dom = Domain(self.xend, name, int(m.group(2)))
        self.domains.append(dom)
        return dom

    def create_fails(self, name, extra="", vif="[ '' ]"):
        """xm create that must fail; returns its one line of stderr."""
        self.write_cfg(name, extra, vif)
        r = self.xm("create", "--path", str(self.cfg_dir), "-f", f"{name}.cfg")
        assert r.returncode == 1, f"xm create {name} exited {r.returncode}: {r.stdout}{r.stderr}"
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("xm: "), r.stderr
        return lines[0]

    def close(self):
        for d in self.domains:
            d.close()

    # -- the host namespace's state --

    def vifs(self):
        return sorted(n for n in self.host.links() if n.startswith("vif"))

    def ruleset(self):
        """`nft list ruleset` with counter values blanked (they change with traffic)."""
        text = self.host.run("nft", "list", "ruleset").stdout
        return re.sub(r"packets \d+ bytes \d+", "packets N bytes N", text)

    def tables(self):
        out = self.host.run("nft", "list", "tables").stdout
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def routes(self):
        out = self.host.run("ip", "-4", "route", "show", "table", "all",
                            "proto", str(ROUTE_PROTO)).stdout
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def host_addresses(self):
        out = self.host.run("ip", "-4", "-o", "addr", "show").stdout
        return sorted(" ".join(line.split()[1:4]) for line in out.splitlines())

    def state(self):
        """Everything xend adds to the host namespace, comparable between two moments."""
        return {"vifs": self.vifs(), "tables": self.tables(), "routes": self.routes(),
                "addresses": self.host_addresses(),
                "rules": sorted(self.ruleset().splitlines())}


def ssh_argv(key, port=22, timeout=20):
    return ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}", "-o", "LogLevel=ERROR",
            "-i", str(key), "-p", str(port)]


def ssh_until(ns, key, host, port, command, deadline=120):
    """ssh from namespace ns until it works (dropbear starts with the guest, which may still
    be booting) or deadline seconds pass; returns the last CompletedProcess."""
    end = time.monotonic() + deadline
    while True:
        r = ns.run(*ssh_argv(key, port), f"root@{host}", command, check=False, timeout=90)
        if r.returncode == 0 or time.monotonic() > end:
            return r
        time.sleep(1)


class Listener:
    """A TCP server in a namespace: accepts connections in a thread and records each peer's
    address and what it sent."""

    def __init__(self, ns, addr, port):
        with ns.entered():
            self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(8)
        self.got = []
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            conn.settimeout(30)
            data = b""
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            conn.close()
            with self.cond:
                self.got.append((peer[0], data))
                self.cond.notify_all()

    def wait(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.got) < count and time.monotonic() < deadline:
                self.cond.wait(1)
            return list(self.got)

    def close(self):
        self.sock.close()


class Capture:
    """tcpdump on an interface of a namespace (both directions: libpcap's -Q loses packets on
    veth and TAP devices here), into a file; stop() returns the packets as `tcpdump -r -n`
    lines."""

    def __init__(self, ns, dev, path, link=False):
        self.ns, self.path, self.link = ns, path, link
        self.proc = ns.popen(["tcpdump", "-i", dev, "-n", "-U", "-w", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on DEV" once its socket is open.
        said = ""
        while "listening on" not in said:
            line = self.proc.stderr.readline().decode(errors="replace")
            assert line, f"tcpdump on {dev} exited: {said}"
            said += line

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(30)
        # With link: -e, the MAC addresses too.
        out = self.ns.run("tcpdump", "-r", str(self.path), "-n", *(["-e"] if self.link else []),
                          check=False).stdout
        return [line for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory):
    """A throwaway ed25519 key pair: (private key path, public key line)."""
    d = tmp_path_factory.mktemp("sshkey")
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xeno-test",
                    "-f", str(key)], check=True)
    return key, (d / "id_ed25519.pub").read_text().strip()


@pytest.fixture
def net(topology, xend_factory, tmp_path, ssh_key):
    n = Net(topology, xend_factory, tmp_path, ssh_key)
    yield n
    n.close()


def snmp(shell, proto, field):
    """A counter of the guest's /proc/net/snmp (e.g. Ip InReceives)."""
    out = shell.check(f"grep '^{proto}:' /proc/net/snmp")
    names, values = (line.split()[1:] for line in out.splitlines()[:2])
    return int(dict(zip(names, values))[field])


def ping_received(out):
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


# ---- tests -------------------------------------------------------------------------------------

def test_two_domains_ping_over_linklocal_and_routed_addresses_and_carry_10_mib(net):
    d1, d2 = net.create("d1"), net.create("d2")
    d1.wait_ready(), d2.wait_ready()
    assert d1.routed != d2.routed and d1.routed.startswith("10.0.0.")
    # The guest has what xend told it on its command line.
    addrs = d1.shell.check("ip -4 -o addr show dev eth0")
    assert f"inet {d1.routed}/32" in addrs and f"inet {d1.linklocal}/16" in addrs, addrs
    # Domain-0's side of every vif has Xen's fixed MAC, which a restored domain finds again.
    for d in (d1, d2):
        link = net.host.run("ip", "-o", "link", "show", "dev", d.tap).stdout
        assert "link/ether fe:ff:ff:ff:ff:ff" in link, link

    for a, b in ((d1, d2), (d2, d1)):
        for dest in (b.linklocal, b.routed):
            out = a.shell.check(f"ping -c 3 -W 5 {dest}")
            assert ping_received(out)[1] == 3, out

    # 10 MiB over TCP, routed addresses, busybox nc at both ends; checksums compared.
    d2.shell.check("nc -l -p 5000 > /tmp/recv &")
    d1.shell.check(f"head -c {TEN_MIB} /dev/urandom > /tmp/blk")
    sent = d1.shell.check("sha256sum /tmp/blk").split()[0]
    # The listener may need a moment to open its socket: retry the connect.
    d1.shell.check(f"i=0; until nc {d2.routed} 5000 < /tmp/blk; do i=$((i+1)); "
                   f"[ $i -lt 10 ] || exit 1; sleep 1; done", timeout=600)
    d2.shell.check("wait", timeout=120)
    assert d2.shell.check("wc -c < /tmp/recv").strip() == str(TEN_MIB)
    assert d2.shell.check("sha256sum /tmp/recv").split()[0] == sent

    # ssh between the domains over link-local: dbclient with the password from the config.
    out = d1.shell.check(f"DROPBEAR_PASSWORD='{PASSWORD}' dbclient -y -y "
                         f"root@{d2.linklocal} 'hostname; echo $SSH_CONNECTION' </dev/null",
                         timeout=180)
    name, conn = out.splitlines()[-2:]
    assert name == "d2", out
    assert conn.split()[0] == d1.linklocal and conn.split()[2:] == [d2.linklocal, "22"], out


def test_spoofed_sources_macs_and_arp_replies_reach_nobody_and_are_counted(net):
    attacker, victim = net.create("attacker"), net.create("victim")
    attacker.wait_ready(), victim.wait_ready()
    a, v = attacker.shell, victim.shell
    gw = "10.0.0.1"
    # Control: the attacker's own traffic passes.
    assert ping_received(a.check(f"ping -c 2 -W 5 {gw}"))[1] == 2
    v.check(f"ping -c 1 -W 5 {gw}")  # the victim's ARP entry for the gateway, made now
    dropped0 = attacker.spoof_dropped()
    in0 = snmp(v, "Ip", "InReceives")

    # 1. The victim's address taken: pings to the gateway from it, whose replies would go
    #    to the victim.  A raw capture on the attacker's TAP shows that they were sent.
    cap = Capture(net.host, attacker.tap, net.xend.root / "spoof.pcap", link=True)
    a.check(f"ip addr add {victim.routed}/32 dev eth0")
    out = a.run(f"ping -c 3 -W 2 -I {victim.routed} {gw}", timeout=60)[1]
    assert ping_received(out)[1] == 0, out
    # 2. The victim's MAC as well: frames with a forged source MAC and address.  The
    #    gateway's MAC is pinned once the MAC has changed (the change flushes the neighbour
    #    table): an ARP request with the forged MAC would be dropped and nothing sent.
    gw_mac = re.search(r"lladdr (\S+)", a.check(f"ip neigh show {gw} dev eth0")).group(1)
    a.check(f"ip link set dev eth0 address {victim.mac}")
    a.check(f"arp -i eth0 -s {gw} {gw_mac}")
    out = a.run(f"ping -c 3 -W 2 -I {victim.routed} {gw}", timeout=60)[1]
    assert ping_received(out)[1] == 0, out
    a.check(f"ip link set dev eth0 address {attacker.mac}")
    # 3. ARP replies claiming the victim's address (and its link-local one).
    # (busybox arping's status in these modes says nothing: the capture below counts.)
    a.run(f"arping -A -c 3 -I eth0 -s {victim.routed} {victim.routed}", timeout=60)
    a.check(f"ip addr add {victim.linklocal}/32 dev eth0")
    a.run(f"arping -U -c 3 -I eth0 -s {victim.linklocal} {victim.linklocal}", timeout=60)
    # The last frames may still be on their way through the TAP and tcpdump's buffer.
    time.sleep(2)
    frames = cap.stop()
    forged = [f for f in frames
              if victim.mac in f or re.search(rf"\b({re.escape(victim.routed)}|"
                                              rf"{re.escape(victim.linklocal)})\b", f)]
    # At least the 3 + 3 pings and 3 + 3 ARP frames (arping's last may come after the stop).
    assert len(forged) >= 11, "\n".join(frames)
    assert sum(victim.mac in f and "ICMP echo request" in f for f in forged) >= 3, \
        "\n".join(frames)

    # Nobody saw them: the victim received no IPv4 packet, the host has no neighbour entry
    # tying the victim's addresses to the attacker's TAP, and the counter has them all.
    assert snmp(v, "Ip", "InReceives") == in0
    neigh = net.host.run("ip", "neigh", "show", "dev", attacker.tap).stdout
    assert victim.routed not in neigh and victim.linklocal not in neigh, neigh
    assert attacker.spoof_dropped() - dropped0 >= len(forged)
    listing = net.xm("network-list", "attacker", check=True).stdout
    assert re.search(r"Spoof", listing) and attacker.tap in listing, listing

    # The victim still answers on both of its addresses, from the host and from the attacker.
    a.check(f"ip addr del {victim.routed}/32 dev eth0; ip addr del {victim.linklocal}/32 dev eth0")
    for dest in (victim.routed, victim.linklocal):
        r = net.host.run("busybox", "ping", "-c", "2", "-W", "5", dest, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ping_received(a.check(f"ping -c 2 -W 5 {dest}"))[1] == 2


def test_ssh_from_outside_through_the_port_redirects(net, ssh_key):
    key = ssh_key[0]
    d1, d2 = net.create("d1"), net.create("d2")
    net.xm("nat", "enable", check=True)
    d1.wait_ready(), d2.wait_ready()
    status = net.xm("nat", "status", check=True).stdout
    assert "NAT: on" in status, status
    for d in (d1, d2):
        assert re.search(rf"^{SSH_PORT_BASE + d.id} -> {re.escape(d.linklocal)}:22 "
                         rf"\(domain {d.name}\)$", status, re.M), status

    for d in (d1, d2):
        r = ssh_until(net.outside, key, nets.HOST_UPLINK_IP, SSH_PORT_BASE + d.id, "hostname")
        assert r.returncode == 0 and r.stdout.strip() == d.name, r.stdout + r.stderr

    net.xm("destroy", "d2", check=True)
    status = net.xm("nat", "status", check=True).stdout
    assert f"{SSH_PORT_BASE + d2.id} ->" not in status, status
    assert not re.search(rf"\b{SSH_PORT_BASE + d2.id}\s*:", net.ruleset())
    with net.outside.entered():
        s = socket.socket()
    s.settimeout(10)
    with pytest.raises(OSError):
        s.connect((nets.HOST_UPLINK_IP, SSH_PORT_BASE + d2.id))
    s.close()
    # Domain 1 is still reachable.
    r = ssh_until(net.outside, key, nets.HOST_UPLINK_IP, SSH_PORT_BASE + d1.id, "hostname")
    assert r.stdout.strip() == "d1", r.stdout + r.stderr


def test_nat_on_and_off_for_a_connection_out_and_no_linklocal_on_the_uplink(net):
    d1 = net.create("d1")
    d1.wait_ready()
    server = Listener(net.outside, nets.OUTSIDE_IP, 8080)
    cap = Capture(net.host, nets.HOST_UPLINK, net.xend.root / "uplink.pcap")
    try:
        connect = f"echo hello-$(hostname) | nc -w 10 {nets.OUTSIDE_IP} 8080"
        assert "NAT: off" in net.xm("nat", "status", check=True).stdout
        status, out = d1.shell.run(connect, timeout=120)
        assert server.wait(1, timeout=5) == [], out

        net.xm("nat", "enable", check=True)
        d1.shell.check(connect, timeout=120)
        got = server.wait(1)
        # Masqueraded: the server sees the host's uplink address.
        assert got == [(nets.HOST_UPLINK_IP, b"hello-d1\n")], got

        net.xm("nat", "disable", check=True)
        assert "NAT: off" in net.xm("nat", "status", check=True).stdout
        d1.shell.run(connect, timeout=120)
        assert len(server.wait(2, timeout=5)) == 1

        # With NAT on, link-local sources still never leave: ping out from 169.254.1.ID.
        net.xm("nat", "enable", check=True)
        out = d1.shell.run(f"ping -c 3 -W 2 -I {d1.linklocal} {nets.OUTSIDE_IP}", timeout=60)[1]
        assert ping_received(out)[1] == 0, out
        # Nor do they come in: the outside routes 169.254/16 to the host and pings a domain.
        net.outside.run("ip", "route", "add", "169.254.0.0/16", "via", nets.HOST_UPLINK_IP)
        r = net.outside.run("busybox", "ping", "-c", "2", "-W", "2", d1.linklocal, check=False)
        assert r.returncode != 0, r.stdout
    finally:
        frames = cap.stop()
        server.close()
    # The capture saw the masqueraded connection (it works), and nothing that the host sent
    # out of its uplink came from a link-local address (what the outside sent to one is
    # there, unanswered).
    assert any(f"{nets.HOST_UPLINK_IP}." in f and f"{nets.OUTSIDE_IP}.8080" in f
               for f in frames), "\n".join(frames)
    leaked = [f for f in frames if re.search(r"IP 169\.254\.\S+ >|tell 169\.254\.", f)]
    assert leaked == [], "\n".join(leaked)


def test_xend_restart_keeps_connectivity_and_does_not_duplicate_rules(net, ssh_key):
    d1, d2 = net.create("d1"), net.create("d2")
    net.xm("nat", "enable", check=True)
    d1.wait_ready(), d2.wait_ready()
    before = net.state()
    assert len(before["vifs"]) == 2 and before["routes"], before

    # A ping between the domains that spans the restart: every echo must come back.
    d1.shell.check(f"ping -c 20 -W 2 {d2.routed} > /tmp/ping.out 2>&1 &")
    time.sleep(2)
    net.xend.stop()
    # Without xend, the host still reaches both domains on both kinds of address.
    for d in (d1, d2):
        for dest in (d.routed, d.linklocal):
            r = net.host.run("busybox", "ping", "-c", "2", "-W", "5", dest, check=False)
            assert r.returncode == 0, r.stdout + r.stderr
    net.xend.start()
    d1.reattach(), d2.reattach()
    d1.shell.check("wait", timeout=120)
    out = d1.shell.check("cat /tmp/ping.out")
    assert ping_received(out) == (20, 20), out

    assert net.state() == before
    # A second restart changes nothing either.
    net.xend.stop()
    net.xend.start()
    d1.reattach(), d2.reattach()
    assert net.state() == before
    # And everything still works: link-local between the domains, the ssh redirect.
    assert ping_received(d2.shell.check(f"ping -c 2 -W 5 {d1.linklocal}"))[1] == 2
    r = ssh_until(net.outside, ssh_key[0], nets.HOST_UPLINK_IP, SSH_PORT_BASE + d1.id,
                  "hostname")
    assert r.stdout.strip() == "d1", r.stdout + r.stderr


def test_bad_input_is_refused_and_leaves_nothing_behind(topology, xend_factory, tmp_path,
                                                        ssh_key):
    # A pool of one address: 10.9.0.0/30 has .1 (the gateway) and .2.
    net = Net(topology, xend_factory, tmp_path, ssh_key, conf={"ip-pool": "10.9.0.0/30"})
    empty = net.state()
    assert empty["vifs"] == []

    def nothing_left(expected):
        assert net.state() == expected

    # Refused by xm's config check (file:line), before xend.
    line = net.create_fails("badip", 'ip = "10.0.0.300"\n')
    assert re.search(r"badip\.cfg:\d+: .*10\.0\.0\.300", line), line
    line = net.create_fails("badvif", vif="[ 'mac=00:16:3e:00:00:01,colour=blue' ]")
    assert re.search(r"badvif\.cfg:\d+: .*colour", line), line
    nothing_left(empty)

    # Refused by xend (the API), whatever the client checked.
    base = {"kernel": str(paths.GUEST_KERNEL), "ramdisk": str(paths.GUEST_INITRD),
            "cmdline": "console=ttyS0 quiet", "memory_mib": MEMORY}
    for bad in ({"ipaddr": ["10.0.0.300"]}, {"ipaddr": ["not-an-address"]},
                {"vifs": [{"ip": ["10.1.2"]}]}, {"vifs": [{"colour": "blue"}]},
                {"vifs": [{"bridge": "nosuchbr0"}]}):
        with pytest.raises(XendError) as e:
            net.xend.call("POST", "/v1/domains", {"name": "bad", **base, **bad})
        assert 400 <= e.value.status < 500, (bad, e.value)
        nothing_left(empty)

    # The pool's one address goes to the first domain.
    owner = net.create("owner")
    assert owner.routed == "10.9.0.2"
    with_owner = net.state()
    assert with_owner["vifs"] == [owner.tap]

    # An address another domain holds: 409, naming the owner.
    with pytest.raises(XendError) as e:
        net.xend.call("POST", "/v1/domains",
                      {"name": "thief", **base, "vifs": [{"ip": ["10.9.0.2"]}]})
    assert e.value.status == 409 and "owner" in e.value.message, e.value
    line = net.create_fails("thief2", 'ip = "10.9.0.2"\n')
    assert "owner" in line, line
    nothing_left(with_owner)

    # The pool exhausted.
    with pytest.raises(XendError) as e:
        net.xend.call("POST", "/v1/domains", {"name": "late", **base, "vifs": [{}]})
    assert e.value.status in (409, 507), e.value
    assert "pool 10.9.0.0/30 exhausted" in e.value.message, e.value
    line = net.create_fails("late2")
    assert "pool 10.9.0.0/30 exhausted" in line, line
    nothing_left(with_owner)

    # Once the owner is gone, its TAP, routes and table go with it, and its address is free.
    net.xm("destroy", "owner", check=True)
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while net.state() != empty and time.monotonic() < deadline:
        time.sleep(0.2)
    nothing_left(empty)
    again = net.create("again")
    assert again.routed == "10.9.0.2"
    net.close()


def test_network_list_and_api_show_the_interfaces(net):
    d1 = net.create("d1", "ip = \"10.0.0.50,10.0.0.51\"\n")
    d1.wait_ready()
    ifs = d1.network()
    assert len(ifs) == 1
    vif = ifs[0]
    assert vif["tap"] == f"vif{d1.id}.0" and vif["bridge"] is None
    assert vif["addresses"] == ["10.0.0.50", "10.0.0.51", d1.linklocal]
    # Both addresses answer, and each answers from itself (the guest's policy routing).
    for a in ("10.0.0.50", "10.0.0.51"):
        r = net.host.run("busybox", "ping", "-c", "2", "-W", "5", a, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
    rules = d1.shell.check("ip rule")
    assert "from 10.0.0.51 lookup" in rules, rules
    # Traffic counters as the domain sees them: its pings' replies are its rx.
    before = d1.network()[0]
    d1.shell.check("ping -c 5 -W 5 10.0.0.1")
    after = d1.network()[0]
    assert after["tx_packets"] - before["tx_packets"] >= 5
    assert after["rx_packets"] - before["rx_packets"] >= 5
    lines = net.xm("network-list", "d1", check=True).stdout.splitlines()
    assert lines[0].split() == ["Idx", "MAC", "TAP", "Addresses", "RX-pkts", "TX-pkts",
                                "Spoof-dropped"], lines
    assert lines[1].split()[:3] == ["0", vif["mac"], vif["tap"]], lines
    assert "10.0.0.50" in lines[1] and "10.0.0.51" in lines[1], lines
    # The record keeps the hash of the password, never the password.
    rec = json.dumps(net.xend.domain(d1.id)) + "".join(
        p.read_text() for p in (net.xend.state_dir / "domains").glob("*.json"))
    assert PASSWORD not in rec and "$6$" in rec
    assert net.xend.domain(d1.id)["network_setup_us"] > 0

