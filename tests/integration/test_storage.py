# SPDX-License-Identifier: GPL-2.0-only
"""Storage through xend and xm: images shared read-only between domains and refused writable
while shared (naming the holders), the `w!` override, the rule across a kill -9 of xend, the
VMM's own lock against a VMM started by hand and a second xend, `xm block-list` and its
counters, per-domain qcow2 overlays made from `backing=` that persist across destroy and
create, `xm image-create`, and bad disks refused at create time with nothing left behind.
Each test starts its own xend in a temporary root (framework/xend.py)."""
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT, EXIT_ERROR, ConsoleTimeout
from framework.xend import XendError

MIB = 1 << 20


def boot(console):
    """Waits for the guest's init and its shell prompt on an attached console."""
    console.wait_for(paths.GUEST_READY, timeout=BOOT_TIMEOUT)
    console.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)


def run(console, command, timeout=120):
    """Runs a shell command on a console; returns its output (markers split in the echo).
    A console that stops answering reports the VMMs' own logs (the root goes at teardown)."""
    n = int(time.monotonic() * 1000) % 100000
    console.send(f"echo X''B{n}X; {command}; echo X''E{n}X\n")
    try:
        start = console.wait_for(rf"XB{n}X\r?\n", timeout).end()
        end = console.wait_for(rf"XE{n}X", timeout).start()
    except ConsoleTimeout as e:
        logs = ""
        for pattern in ("xend-*/state/domains/*/vmm.log", "xend-*/log/xend.log",
                        "xend-*/xend.stderr"):
            for log in sorted(Path("/tmp").glob(pattern)):
                logs += f"--- {log}:\n{log.read_text(errors='replace')[-3000:]}\n"
        raise ConsoleTimeout(f"{e}\nlogs:\n{logs}") from None
    return console.text(start)[: end - start].replace("\r\n", "\n").strip()


def digest(path, algo="md5"):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def random_image(path, mib=4):
    with open(path, "wb") as f:
        f.write(os.urandom(mib * MIB))
    return digest(path)


def disk(path, vdev="xvda", **kw):
    return dict({"path": str(path), "vdev": vdev}, **kw)


def names(xend):
    return [d["name"] for d in xend.domains()[1:]]


def refused(xend, name, status, *words, **config):
    """Creating name must fail with status and a message holding every word; no domain
    named name may be left."""
    with pytest.raises(XendError) as e:
        xend.create(name, **config)
    assert e.value.status == status, e.value
    for w in words:
        assert w in e.value.message, e.value.message
    assert name not in names(xend)
    return e.value.message


def test_readers_share_an_image_a_writer_is_refused_until_they_go_and_w_bang_overrides(
        xend_factory, tmp_path):
    img = tmp_path / "shared.img"
    want = random_image(img)
    xend = xend_factory().start()
    for name in ("reader-a", "reader-b"):
        xend.create(name, disks=[disk(img, readonly=True)])
    for name in ("reader-a", "reader-b"):
        con = xend.console(name)
        boot(con)
        assert run(con, "md5sum /dev/vda").split()[0] == want
        assert run(con, "cat /sys/block/vda/ro") == "1"
        con.close()

    refused(xend, "writer", 409, f"disk '{img}' is in use by domain 'reader-a' "
                  "(read-only), domain 'reader-b' (read-only); use 'w!' to share it writable "
                  "anyway", disks=[disk(img)])
    # Another path to the same file is the same image.
    link = tmp_path / "link.img"
    os.symlink(img, link)
    refused(xend, "writer", 409, "'reader-a'", "'reader-b'", disks=[disk(link)])

    # w! is the explicit override: the VMM then takes no lock either.
    xend.create("forced", disks=[disk(img, force=True)])
    con = xend.console("forced")
    boot(con)
    assert run(con, "cat /sys/block/vda/ro") == "0"
    con.close()
    # A writer, even a forced one, keeps new readers out.
    refused(xend, "late-reader", 409, "'forced' (read-write with w!)",
            disks=[disk(img, readonly=True)])

    for name in ("forced", "reader-a", "reader-b"):
        xend.destroy(name)
    xend.create("writer", disks=[disk(img)])
    con = xend.console("writer")
    boot(con)
    run(con, "printf xeno-was-here | dd of=/dev/vda bs=512 conv=sync oflag=direct "
             "2>/dev/null; sync /dev/vda")
    con.close()
    xend.destroy("writer")
    with open(img, "rb") as f:
        assert f.read(13) == b"xeno-was-here"


def test_the_rule_holds_across_kill9_of_xend_and_the_lock_stops_other_vmms(
        xend_factory, vmm_factory, tmp_path):
    img = tmp_path / "owned.img"
    random_image(img)
    xend = xend_factory().start()
    owner = xend.create("owner", disks=[disk(img)])
    con = xend.console("owner")
    boot(con)
    con.close()

    xend.kill9()
    xend.start()
    assert xend.domain("owner")["vmm_pid"] == owner["vmm_pid"]
    refused(xend, "intruder", 409, f"disk '{img}' is in use by domain 'owner' (read-write)",
            disks=[disk(img, readonly=True)])
    refused(xend, "intruder", 409, "domain 'owner' (read-write)", disks=[disk(img)])

    # A VMM started by hand meets the owner's OFD lock.
    hand = vmm_factory(extra_args=["--disk", str(img)]).spawn()
    assert hand.wait_exit() == EXIT_ERROR
    assert "is in use by another process" in hand.log(), hand.log()
    assert f"(pid {owner['vmm_pid']})" in hand.log(), hand.log()

    # So does a second xend, which knows nothing of the first one's domains: its create
    # fails with the VMM's own message, and leaves nothing behind.
    other = xend_factory().start()
    with pytest.raises(XendError) as e:
        other.create("intruder", disks=[disk(img)])
    assert e.value.status == 409, e.value
    assert f"image '{img}' is in use by another process (pid {owner['vmm_pid']})" \
        in e.value.message, e.value.message
    assert names(other) == []


def test_block_list_shows_disks_in_guest_order_and_counters_grow(xend_factory, tmp_path):
    data, scratch = tmp_path / "data.img", tmp_path / "scratch.img"
    random_image(data, 8)
    xend = xend_factory().start()
    made = xend.xm("image-create", str(scratch), "16M")
    assert made.returncode == 0, made.stderr
    assert scratch.stat().st_size == 16 * MIB
    # The config lists xvdb first; the guest sees xvda as vda all the same.
    xend.create("lister", disks=[disk(data, "xvdb", readonly=True), disk(scratch, "xvda")])
    con = xend.console("lister")
    boot(con)
    assert run(con, "cat /sys/block/vda/serial; echo; cat /sys/block/vdb/serial").split() == \
        ["xvda", "xvdb"]
    assert run(con, "cat /sys/block/vdb/size") == str(8 * 2048)

    out = xend.xm("block-list", "lister")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["Vdev", "Dev", "Path", "Format", "Mode", "Rd-reqs",
                                "Rd-bytes", "Wr-reqs", "Wr-bytes"]
    rows = [line.split() for line in lines[1:]]
    assert [r[:5] for r in rows] == [["xvda", "vda", str(scratch), "raw", "w"],
                                     ["xvdb", "vdb", str(data), "raw", "r"]]
    before = xend.get("/v1/domains/lister/block")["disks"]
    run(con, "dd if=/dev/vdb of=/dev/null bs=65536 iflag=direct 2>/dev/null; "
             "dd if=/dev/zero of=/dev/vda bs=65536 count=16 oflag=direct 2>/dev/null")
    after = xend.get("/v1/domains/lister/block")["disks"]
    assert after[1]["read_bytes"] - before[1]["read_bytes"] >= 8 * MIB
    assert after[1]["read_requests"] > before[1]["read_requests"]
    assert after[0]["write_bytes"] - before[0]["write_bytes"] >= 16 * 65536
    assert after[0]["write_requests"] > before[0]["write_requests"]
    # Xen 2.0's name for the command.
    alias = xend.xm("vbd-list", "lister")
    assert alias.returncode == 0 and alias.stdout.splitlines()[0] == lines[0]
    con.close()
    bad = xend.xm("block-list", "nobody")
    assert bad.returncode == 1 and "no such domain" in bad.stderr, bad.stderr


OVERLAY_CFG = """\
name = "{name}"
kernel = "{kernel}"
ramdisk = "{initrd}"
memory = 128
extra = "console=ttyS0 quiet"
disk = [ 'format=qcow2,vdev=xvda,access=rw,backing={base},target={dir}/${{name}}-root.qcow2' ]
"""


def test_backing_makes_a_persistent_overlay_and_leaves_the_base_alone(xend_factory,
                                                                       tmp_path):
    base = tmp_path / "base.img"
    random_image(base, 8)
    base_sum = digest(base, "sha256")
    cfg = tmp_path / "ovl.cfg"
    cfg.write_text(OVERLAY_CFG.format(name="ovl", kernel=paths.GUEST_KERNEL,
                                      initrd=paths.GUEST_INITRD, base=base, dir=tmp_path))
    overlay = tmp_path / "ovl-root.qcow2"
    xend = xend_factory().start()
    for boot_no in (1, 2):
        r = xend.xm("create", str(cfg))
        assert r.returncode == 0, r.stdout + r.stderr
        assert overlay.exists()
        con = xend.console("ovl")
        boot(con)
        # The base shows through the overlay where the domain has not written.
        with open(base, "rb") as f:
            f.seek(4 * MIB)
            want = hashlib.md5(f.read(4096)).hexdigest()
        assert run(con, "dd if=/dev/vda bs=4096 skip=1024 count=1 2>/dev/null | md5sum")\
            .split()[0] == want
        # Short command lines: console input trickles through the UART's receive FIFO.
        if boot_no == 1:
            run(con, "printf overlay-data >/tmp/d")
            run(con, "dd if=/tmp/d of=/dev/vda bs=512 seek=3 conv=sync oflag=direct")
            run(con, "sync /dev/vda")
        assert run(con, "dd if=/dev/vda bs=512 skip=3 count=1 2>/dev/null | head -c 12") == "overlay-data"
        con.close()
        block = xend.get("/v1/domains/ovl/block")["disks"]
        assert (block[0]["format"], block[0]["backing"]) == ("qcow2", str(base))
        # The base is read by the overlay: nobody may write it now.
        refused(xend, "base-writer", 409, f"disk '{base}' is in use by domain 'ovl' "
                "(read-only, the backing file of", disks=[disk(base)])
        xend.destroy("ovl")
        # Destroying the domain keeps its disk.
        assert overlay.exists()
        assert digest(base, "sha256") == base_sum
    if shutil.which("qemu-img"):
        check = subprocess.run(["qemu-img", "check", str(overlay)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_image_create_makes_raw_and_qcow2_images_and_explains_bad_input(xend_factory,
                                                                        tmp_path):
    xend = xend_factory()  # xm image-create needs no xend: it is not started
    raw, q, ovl = tmp_path / "a.raw", tmp_path / "b.qcow2", tmp_path / "c.qcow2"
    assert xend.xm("image-create", str(raw), "1G").returncode == 0
    assert raw.stat().st_size == 1 << 30 and raw.stat().st_blocks == 0
    assert xend.xm("image-create", "-f", "qcow2", str(q), "512M").returncode == 0
    assert xend.xm("image-create", "--backing", str(q), str(ovl)).returncode == 0
    if shutil.which("qemu-img"):
        info = subprocess.run(["qemu-img", "info", str(ovl)], capture_output=True, text=True)
        assert "virtual size: 512 MiB" in info.stdout and str(q) in info.stdout, info.stdout
    for args, words in [
            ((str(raw), "1G"), "File exists"),
            ((str(tmp_path / "d.raw"), "10X"), "size '10X'"),
            ((str(tmp_path / "d.raw"), "1000"), "multiple of 512"),
            ((str(tmp_path / "d.raw"),), "no SIZE"),
            (("--backing", str(tmp_path / "none"), str(tmp_path / "d.qcow2")), "none"),
            (("-f", "raw", "--backing", str(q), str(tmp_path / "d.raw")), "qcow2"),
            (("-f", "vhd", str(tmp_path / "d.vhd"), "1G"), "unknown format 'vhd'")]:
        r = xend.xm("image-create", *args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("xm: image-create: ") and words in r.stderr, r.stderr
    assert not (tmp_path / "d.raw").exists() and not (tmp_path / "d.qcow2").exists()


def test_bad_disks_are_refused_at_create_time_and_leave_no_domain(xend_factory, tmp_path):
    xend = xend_factory().start()
    refused(xend, "missing", 400, f"disk '{tmp_path / 'none.img'}': No such file or directory",
            disks=[disk(tmp_path / "none.img")])
    refused(xend, "directory", 400, f"disk '{tmp_path}'", "expected a file or a block device",
            disks=[disk(tmp_path)])
    truncated = tmp_path / "truncated.qcow2"
    good = tmp_path / "good.qcow2"
    assert xend.xm("image-create", "-f", "qcow2", str(good), "64M").returncode == 0
    truncated.write_bytes(good.read_bytes()[:100])
    # The VMM finds the damage: its message comes back whole.
    refused(xend, "truncated", 500, "did not start", f"qcow2 image '{truncated}'",
            disks=[disk(truncated, format="qcow2")])
    refused(xend, "no-base", 400,
            f"backing file '{tmp_path / 'no-base.img'}': No such file or directory",
            disks=[disk(tmp_path / "new.qcow2", format="qcow2",
                        backing=str(tmp_path / "no-base.img"))])
    assert not (tmp_path / "new.qcow2").exists()
    refused(xend, "badfmt", 400, "'disks[0].format'", disks=[disk(good, format="vhd")])
    refused(xend, "badkey", 400, "unknown field 'script'", disks=[disk(good, script="block")])
    refused(xend, "badcache", 400, "'disks[0].cache'", disks=[disk(good, cache="sometimes")])
    assert names(xend) == []

    # The same mistakes caught by xm before xend sees them: file:line and the expected form.
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(f'name = "bad"\nkernel = "{paths.GUEST_KERNEL}"\n'
                   f"disk = [ '{tmp_path / 'none.img'},xvda,w' ]\n")
    r = xend.xm("create", str(cfg))
    assert r.returncode == 1
    assert re.search(rf"{cfg}:3: disk: .*none\.img': No such file or directory", r.stderr), \
        r.stderr
    cfg.write_text(f'name = "bad"\nkernel = "{paths.GUEST_KERNEL}"\n'
                   f"disk = [ 'backing={good},target={tmp_path}/x.img,vdev=xvda' ]\n")
    r = xend.xm("create", str(cfg))
    assert r.returncode == 1 and "backing= needs a qcow2 target (expected format=qcow2" \
        in r.stderr, r.stderr
    assert names(xend) == []


def test_disk_root_example_keeps_a_domains_files_across_reboot_and_recreate(xend_factory,
                                                                           tmp_path):
    """etc/xeno/examples/disk-root as shipped, but for where the guest is built and where
    the overlays go: each domain boots from its own overlay on root.ext4."""
    example = (paths.REPO / "etc" / "xeno" / "examples" / "disk-root").read_text()
    cfg = tmp_path / "disk-root"
    cfg.write_text(example.replace("/var/cache/xeno/guest", str(paths.GUEST_DIR))
                   .replace("/var/lib/xeno/images", str(tmp_path)))
    base = paths.GUEST_DIR / "root.ext4"
    base_sum = digest(base)
    xend = xend_factory().start()

    def create(vmid):
        r = xend.xm("create", str(cfg), f"vmid={vmid}")
        assert r.returncode == 0, r.stdout + r.stderr
        con = xend.console(f"disk-root-{vmid}")
        boot(con)
        # / is the overlay's ext4, read-write, not the initramfs (whose rootfs stays listed
        # under it: the last mount on / is the one in use).
        assert run(con, "awk '$2 == \"/\" {m = $3 \" \" substr($4, 1, 2)} END {print m}' "
                   "/proc/mounts") == "ext4 rw"
        return con

    con = create(1)
    run(con, "echo kept-$((6*7)) > /root/keep && sync")
    # The guest reboots itself; on_reboot = "restart" boots it again from the same overlay.
    con.send("reboot\n")
    boot(con)
    assert run(con, "cat /root/keep") == "kept-42"
    con.close()
    xend.destroy("disk-root-1")
    con = create(1)
    assert run(con, "cat /root/keep") == "kept-42"
    # A second domain has an overlay of its own: the first one's file is not there.
    other = create(2)
    assert run(other, "cat /root/keep 2>&1 || echo none").endswith("none")
    other.close()
    con.close()
    for vmid in (1, 2):
        xend.destroy(f"disk-root-{vmid}")
        assert (tmp_path / f"disk-root-{vmid}-root.qcow2").exists()
    assert digest(base) == base_sum
