# SPDX-License-Identifier: GPL-2.0-only
"""virtio-blk end to end: data crosses between guest and image both ways, read-only holds,
fsync'd data survives a SIGKILL of the VMM, and several disks appear in order."""
import os
import signal
import subprocess

from framework.vmm import EXIT_POWEROFF

PATTERN = b"xeno-block-pattern-0123456789abcdef" * 117  # 4095 bytes


def make_image(path, size_mib=64):
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
    return path


def test_guest_writes_reach_the_image_and_host_data_reaches_the_guest(vmm_factory, tmp_path):
    img = make_image(tmp_path / "disk.img")
    with open(img, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"written-by-the-host\n")
    vmm = vmm_factory(extra_args=["--disk", str(img)]).boot()

    assert vmm.check("dd if=/dev/vda bs=4096 skip=256 count=1 2>/dev/null | head -n1") == \
        "written-by-the-host"
    # 8 KiB of a known pattern at 2 MiB, with O_DIRECT so it bypasses the guest's page cache.
    vmm.check("i=0; while [ $i -lt 256 ]; do printf 'xeno%04d-block-data-pattern-----\\n' $i; "
              "i=$((i+1)); done > /tmp/pat")
    vmm.check("dd if=/tmp/pat of=/dev/vda bs=4096 seek=512 oflag=direct 2>/dev/null && sync")
    disk = vmm.control("stats")["devices"][0]
    assert disk["name"] == "virtio-blk0"
    assert disk["writes"] >= 1 and disk["write_bytes"] >= len(b"x" * 8192)
    assert disk["reads"] >= 1 and disk["errors"] == 0
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF
    expected = b"".join(b"xeno%04d-block-data-pattern-----\n" % i for i in range(256))
    with open(img, "rb") as f:
        f.seek(2 << 20)
        assert f.read(len(expected)) == expected


def test_read_only_disk_refuses_writes_and_the_file_is_unchanged(vmm_factory, tmp_path):
    img = make_image(tmp_path / "ro.img")
    with open(img, "r+b") as f:
        f.write(PATTERN)
    before = img.read_bytes()
    vmm = vmm_factory(extra_args=["--disk", f"{img},ro"]).boot()

    assert vmm.check("cat /sys/block/vda/ro") == "1"
    status, out = vmm.run("dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct")
    assert status != 0
    assert "Operation not permitted" in out or "Read-only file system" in out, out
    assert vmm.check("head -c 35 /dev/vda") == PATTERN[:35].decode()
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF
    assert img.read_bytes() == before


def test_fsynced_data_survives_sigkill_of_the_vmm(vmm_factory, tmp_path):
    img = make_image(tmp_path / "fs.img")
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True)
    vmm = vmm_factory(extra_args=["--disk", str(img)]).boot()
    vmm.check("mkdir -p /mnt && mount -t ext4 /dev/vda /mnt")
    vmm.check("i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done > /mnt/data")
    # fsync the file (busybox sync FILE calls fsync) and only then print the marker.
    # The marker is split in the typed line so that the shell's echo of it does not match.
    vmm.console.send("sync /mnt/data && echo FSYNCED''-MARKER\n")
    vmm.console.wait_for("FSYNCED-MARKER\r?\n")
    os.kill(vmm.proc.pid, signal.SIGKILL)
    vmm.proc.wait()

    # What fsync made durable may still be in the journal: replay it (as a mount would), then
    # the file system must check clean.
    replay = subprocess.run(["e2fsck", "-fy", str(img)], capture_output=True, text=True)
    assert replay.returncode in (0, 1), replay.stdout + replay.stderr
    fsck = subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    data = subprocess.run(["debugfs", "-R", "cat /data", str(img)], capture_output=True,
                          text=True, check=True).stdout
    assert data.splitlines() == [f"line-{i}" for i in range(2000)]


def test_disks_appear_in_order_with_their_serials(vmm_factory, tmp_path):
    a = make_image(tmp_path / "a.img", 16)
    b = make_image(tmp_path / "b.img", 32)
    vmm = vmm_factory(extra_args=["--disk", f"{a},serial=first", "--disk", f"{b},serial=second"]
                      ).boot()
    assert vmm.check("for d in vda vdb; do cat /sys/block/$d/serial; echo; done") == \
        "first\nsecond"
    assert vmm.check("cat /sys/block/vda/size /sys/block/vdb/size") == "32768\n65536"


def test_hwrng_gives_bytes(vmm_factory):
    vmm = vmm_factory(extra_args=["--rng"]).boot()
    assert vmm.check("cat /sys/class/misc/hw_random/rng_current") .startswith("virtio_rng")
    out = vmm.check("head -c 64 /dev/hwrng | od -An -v -tx1 | tr -d ' \\n'")
    assert len(out) == 128
    assert len(set(out)) > 4  # not a constant fill


def test_missing_disk_image_is_a_clear_error(vmm_factory, tmp_path):
    vmm = vmm_factory(extra_args=["--disk", str(tmp_path / "nope.img")])
    vmm.proc = subprocess.Popen(vmm.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    assert vmm.wait_exit() == 1
    assert "nope.img" in vmm.log() and "No such file" in vmm.log()
