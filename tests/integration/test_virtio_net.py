# SPDX-License-Identifier: GPL-2.0-only
"""virtio-net over a TAP, inside a network namespace each test creates: the guest reaches the
host side, carries 100 MiB over TCP intact, and several NICs get their MACs."""
import hashlib
import socket
import threading

from framework.vmm import EXIT_POWEROFF

HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"
GUEST_IP_ARG = f"ip={GUEST_IP}::{HOST_IP}:255.255.255.0:g1:eth0:off"
CHUNK = 1 << 20
CHUNKS = 100


def tap_up(netns, name="tap0"):
    netns.run("ip", "addr", "add", f"{HOST_IP}/24", "dev", name)
    netns.run("ip", "link", "set", name, "up")


def boot_with_tap(vmm_factory, netns, extra=()):
    # xeno-vmm creates tap0 in the namespace; we configure the host side once it exists.
    vmm = vmm_factory(netns=netns, cmdline=f"console=ttyS0 quiet {GUEST_IP_ARG}",
                      extra_args=["--net", "tap=tap0,mac=52:54:00:aa:bb:01", *extra]).start()
    vmm.console.wait_for("xeno-guest: ready", timeout=300)
    vmm.console.wait_for("# ")
    tap_up(netns)
    return vmm


def test_guest_pings_the_host_side_of_its_tap(vmm_factory, netns):
    vmm = boot_with_tap(vmm_factory, netns)
    assert vmm.check("cat /sys/class/net/eth0/address") == "52:54:00:aa:bb:01"
    out = vmm.check(f"ping -c 3 -W 5 {HOST_IP}")
    assert "3 packets received" in out, out
    # And the other way round, from the namespace to the guest.
    r = netns.run("busybox", "ping", "-c", "2", "-W", "5", GUEST_IP, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF


def receive_all(netns_name, port, result):
    """Accepts one TCP connection in the namespace and hashes what arrives per 1 MiB chunk."""
    import ctypes
    import os
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns_name}", os.O_RDONLY)
    libc.setns(fd, 0x40000000)  # CLONE_NEWNET, for this thread only
    os.close(fd)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST_IP, port))
    srv.listen(1)
    result["listening"].set()
    conn, _ = srv.accept()
    total, chunks, buf = 0, set(), b""
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        total += len(data)
        buf += data
        while len(buf) >= CHUNK:
            chunks.add(hashlib.sha256(buf[:CHUNK]).hexdigest())
            buf = buf[CHUNK:]
    result.update(total=total, chunks=chunks, tail=len(buf))
    conn.close()
    srv.close()


def test_100_mib_over_tcp_arrive_intact(vmm_factory, netns):
    vmm = boot_with_tap(vmm_factory, netns)
    result = {"listening": threading.Event()}
    t = threading.Thread(target=receive_all, args=(netns.name, 5001, result), daemon=True)
    t.start()
    assert result["listening"].wait(30)
    vmm.check(f"head -c {CHUNK} /dev/urandom > /tmp/block")
    digest = vmm.check("sha256sum /tmp/block | cut -d' ' -f1")
    # Frames the guest sent while the host side of tap0 was still down were refused (EIO)
    # and counted: only drops during the transfer matter here.
    dropped_before = vmm.control("stats")["devices"][0]["tx_dropped"]
    vmm.check(f"i=0; while [ $i -lt {CHUNKS} ]; do cat /tmp/block; i=$((i+1)); done "
              f"| nc {HOST_IP} 5001", timeout=900)
    t.join(120)
    nic = vmm.control("stats")["devices"][0]
    assert nic["name"] == "virtio-net0"
    assert nic["tx_bytes"] >= CHUNK * CHUNKS
    assert nic["tx_dropped"] == dropped_before, vmm.log()
    assert result["total"] == CHUNK * CHUNKS
    assert result["tail"] == 0
    assert result["chunks"] == {digest}


def test_two_disks_and_two_nics_appear_with_their_macs(vmm_factory, netns, tmp_path):
    disks = []
    for name, mib in (("a", 8), ("b", 16)):
        disks += ["--disk", str(tmp_path / f"{name}.img")]
        with open(tmp_path / f"{name}.img", "wb") as f:
            f.truncate(mib << 20)
    vmm = vmm_factory(netns=netns, extra_args=[
        *disks,
        "--net", "tap=tapa,mac=52:54:00:00:00:0a", "--net", "tap=tapb,mac=52:54:00:00:00:0b"]
    ).boot()
    assert vmm.check("cat /sys/class/net/eth0/address /sys/class/net/eth1/address") == \
        "52:54:00:00:00:0a\n52:54:00:00:00:0b"
    assert vmm.check("cat /sys/block/vda/size /sys/block/vdb/size") == "16384\n32768"
    # The TAPs exist in the test's namespace, not on the host.
    assert "tapa" in netns.run("ip", "link").stdout


def test_bad_net_spec_is_a_clear_error(vmm_factory, netns):
    vmm = vmm_factory(netns=netns, extra_args=["--net", "tap=tap0,colour=blue"]).spawn()
    assert vmm.wait_exit() == 1
    assert "colour" in vmm.log()
