# SPDX-License-Identifier: GPL-2.0-only
"""The default guest with its root on a disk (guest/README.md, "Root on a disk"), booted by
xeno-vmm alone: the initramfs finds the disk by its Xen vdev name (the virtio serial),
switch_root's into guest/build.sh's root.ext4, and the boot carries on from there.  What the
domain writes persists across its reboot, a poweroff leaves ext4 clean, a qcow2 overlay takes
the writes and leaves its base alone, and a missing root device ends in a message on the
console, not a hang."""
import hashlib
import struct
import subprocess

import pytest

from framework import paths
from framework.vmm import BOOT_TIMEOUT, EXIT_POWEROFF, EXIT_REBOOT

ROOT_IMAGE = paths.GUEST_DIR / "root.ext4"
XENO_IMG = paths.BUILD / "xeno-img"
CMDLINE = "console=ttyS0 quiet"


@pytest.fixture(autouse=True)
def _root_image():
    if not ROOT_IMAGE.exists():
        pytest.fail(f"{ROOT_IMAGE} is missing (run guest/build.sh)")


def copy_root(dst):
    subprocess.run(["cp", "--sparse=always", str(ROOT_IMAGE), str(dst)], check=True)
    return dst


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def root_mount(vmm):
    """(source, type, options, what the source resolves to) of the mount on /: the last
    line for / in /proc/mounts, since the initramfs's rootfs stays underneath."""
    source, _, fstype, options = vmm.check("grep ' / ' /proc/mounts | tail -n 1").split()[:4]
    return source, fstype, options, vmm.check(f"readlink -f {source}")


def fsck_clean(image):
    fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def debugfs_cat(image, path):
    return subprocess.run(["debugfs", "-R", f"cat {path}", str(image)], capture_output=True,
                          check=True).stdout


def test_root_on_a_whole_disk_named_as_a_partition_survives_reboot(vmm_factory, tmp_path):
    image = copy_root(tmp_path / "root.ext4")
    args = dict(cmdline=f"{CMDLINE} root=/dev/xvda1",
                extra_args=["--disk", f"{image},serial=xvda1"])
    vmm = vmm_factory(**args).boot()

    source, fstype, options, real = root_mount(vmm)
    assert (source, fstype, real) == ("/dev/xvda1", "ext4", "/dev/vda")
    assert options.split(",")[0] == "rw"
    # The boot went on from the disk: networking's lo and the console shell are there.
    assert "127.0.0.1" in vmm.check("ip -4 addr show dev lo")
    # busybox sync FILE is fsync.
    vmm.check("echo kept-$((6 * 7)) > /root/marker && sync /root/marker")
    vmm.console.send("reboot\n")
    assert vmm.wait_exit() == EXIT_REBOOT
    # A reboot leaves the file system as clean as a poweroff does.
    fsck_clean(image)

    again = vmm_factory(**args).boot()
    assert again.check("cat /root/marker") == "kept-42"
    assert root_mount(again)[0] == "/dev/xvda1"
    again.console.send("poweroff\n")
    assert again.wait_exit() == EXIT_POWEROFF
    # Shutdown remounted / read-only: nothing for the journal to replay.
    fsck_clean(image)
    assert debugfs_cat(image, "/root/marker") == b"kept-42\n"


def test_root_on_a_qcow2_overlay_writes_the_overlay_and_not_its_base(vmm_factory, tmp_path):
    base = copy_root(tmp_path / "root.ext4")
    base_sum = sha256(base)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run([str(XENO_IMG), "create", "-f", "qcow2", "-b", str(base), str(overlay)],
                   check=True)
    empty_size = overlay.stat().st_size
    vmm = vmm_factory(cmdline=f"{CMDLINE} root=/dev/xvda",
                      extra_args=["--disk", f"{overlay},format=qcow2,serial=xvda"]).boot()

    source, fstype, _, real = root_mount(vmm)
    assert (source, fstype, real) == ("/dev/xvda", "ext4", "/dev/vda")
    md5 = vmm.check("head -c 2097152 /dev/urandom > /root/blob && sync /root/blob && "
                    "md5sum < /root/blob").split()[0]
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF

    assert sha256(base) == base_sum
    assert overlay.stat().st_size >= empty_size + (2 << 20)
    # What the guest wrote, as QEMU reads the overlay and its base.
    flat = tmp_path / "flat.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(overlay), str(flat)], check=True)
    fsck_clean(flat)
    assert hashlib.md5(debugfs_cat(flat, "/root/blob")).hexdigest() == md5


def mbr_with_two_partitions(path, size_mib=16):
    """A raw disk with an MBR: partition 1 at 1 MiB (4 MiB long), partition 2 after it."""
    entries = b""
    for start, sectors in ((2048, 8192), (10240, 8192)):
        entries += struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start, sectors)
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
        f.seek(446)
        f.write(entries + b"\0" * 32 + b"\x55\xaa")
    return path


def test_missing_root_device_times_out_to_a_rescue_shell_and_vdev_links_exist(
        vmm_factory, tmp_path):
    partitioned = mbr_with_two_partitions(tmp_path / "parts.img")
    cd = tmp_path / "cd.img"
    cd.write_bytes(b"\0" * (1 << 20))
    other = tmp_path / "other.img"
    other.write_bytes(b"\0" * (1 << 20))
    vmm = vmm_factory(cmdline=f"{CMDLINE} root=/dev/xvda rootwait=3",
                      extra_args=["--disk", f"{partitioned},serial=xvdb",
                                  "--disk", f"{cd},serial=hdd",
                                  "--disk", f"{other},serial=data"]).start()

    m = vmm.console.wait_for(r"xeno-guest: error: root=/dev/xvda: ([^\r\n]*)\r?\n",
                             timeout=BOOT_TIMEOUT)
    why = m.group(1).decode()
    assert "no such device after 3 s" in why and "staying in the initramfs" in why, why
    assert "vda(serial xvdb)" in why and "vdb(serial hdd)" in why, why
    vmm.console.wait_for(r"xeno-guest: rescue shell", timeout=BOOT_TIMEOUT)
    vmm.console.wait_for(paths.GUEST_PROMPT, timeout=BOOT_TIMEOUT)
    assert paths.GUEST_READY not in vmm.console.text()
    assert vmm.check("grep ' / ' /proc/mounts | tail -n 1").split()[2] in ("rootfs", "tmpfs")

    links = vmm.check("for l in xvdb xvdb1 xvdb2 hdd; do readlink -f /dev/$l; done")
    assert links.split() == ["/dev/vda", "/dev/vda1", "/dev/vda2", "/dev/vdb"]
    # A serial that is no vdev name gets no link, and a vdev without partitions none for them.
    assert vmm.check("ls /dev | grep -cxE 'data|hdd[0-9]+|xvdb3' || true") == "0"
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF


def test_read_only_root_boots_from_a_read_only_disk_and_leaves_it_unchanged(vmm_factory, tmp_path):
    image = copy_root(tmp_path / "root.ext4")
    before = sha256(image)
    vmm = vmm_factory(cmdline=f"{CMDLINE} root=/dev/xvda ro hostname=shared",
                      extra_args=["--disk", f"{image},ro,serial=xvda"]).boot()

    source, fstype, options, _ = root_mount(vmm)
    assert (source, fstype, options.split(",")[0]) == ("/dev/xvda", "ext4", "ro")
    # init wrote /etc/hosts for the host name, and /root takes writes, in memory.
    assert "shared" in vmm.check("cat /etc/hosts")
    vmm.check("echo scratch > /root/note && cat /root/note")
    status, out = vmm.run("touch /on-the-disk")
    assert status != 0 and "Read-only file system" in out, out
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF
    assert sha256(image) == before
