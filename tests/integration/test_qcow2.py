# SPDX-License-Identifier: GPL-2.0-only
"""qcow2 end to end: a guest writes through a thin overlay on a base image, the data is there
after a restart and in QEMU's reading of the image, the base never changes, a kill -9 in the
middle of writing leaves a consistent image with what was fsync'd, and a second VMM cannot
open an image in read-write use.  qemu-img (qemu-utils) is the reference."""
import hashlib
import os
import signal
import subprocess

from framework import paths
from framework.vmm import EXIT_ERROR, EXIT_POWEROFF

MIB = 1 << 20
DISK_MIB = 512
# 200 MiB (issue 6's size) in chunks of 1 MiB, each one dd request at a byte offset (busybox
# dd's skip_bytes/seek_bytes), with O_DIRECT on /dev/vda both ways: every write and every
# read-back reaches the VMM, none stays in the guest's page cache (buffered, 200 MiB of
# dirty pages in a 256 MiB guest went past 12 minutes in a test host that had run for a
# while). XENO_QCOW2_STORM_MIB sets another size.
CHUNKS = int(os.environ.get("XENO_QCOW2_STORM_MIB", "200"))
BASE_WINDOWS = [(0, 8 * MIB), (300 * MIB, 8 * MIB)]  # where the base has data of its own
STORM_TIMEOUT = 1500

XENO_IMG = paths.BUILD / "xeno-img"

# Chunk i goes to a distinct 2 MiB slot, starting at an odd sector inside it (so most
# clusters it touches are written in part and copied from the base first), from a place in a
# 4 MiB random source that differs per chunk.
# Both in bytes.
CHUNK_VARS = "seek=$(( ((i*389%256)*4096 + i*37%128) * 512 )); skip=$(( i*211%6144 * 512 ))"
DD_1MIB = "dd bs=1048576 count=1 iflag=skip_bytes,fullblock"
DD_1MIB_TO_DISK = DD_1MIB + " oflag=seek_bytes,direct"
DD_1MIB_FROM_DISK = "dd bs=1048576 count=1 iflag=skip_bytes,fullblock,direct"


def chunk_seek(i):
    return (i * 389 % 256) * 4096 + i * 37 % 128


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def make_base(path):
    with open(path, "wb") as f:
        f.truncate(DISK_MIB * MIB)
        for start, length in BASE_WINDOWS:
            f.seek(start)
            f.write(os.urandom(length))
    return sha256(path)


def make_overlay(path, base):
    subprocess.run([str(XENO_IMG), "create", "-b", os.path.basename(base), str(path)],
                   check=True)


def qemu_check(path):
    return subprocess.run(["qemu-img", "check", str(path)], capture_output=True, text=True)


def read_chunk_md5s(vmm):
    out = vmm.check(f"i=0; while [ $i -lt {CHUNKS} ]; do {CHUNK_VARS}; "
                    f"{DD_1MIB_FROM_DISK} if=/dev/vda skip=$seek 2>/dev/null | md5sum; "
                    "i=$((i+1)); done", timeout=STORM_TIMEOUT)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_guest_writes_through_an_overlay_survive_restart_and_read_the_same_in_qemu(
        vmm_factory, tmp_path):
    base, overlay = tmp_path / "base.raw", tmp_path / "overlay.qcow2"
    base_sum = make_base(base)
    make_overlay(overlay, base)
    disk = ["--disk", f"{overlay},format=qcow2"]

    vmm = vmm_factory(extra_args=disk).boot()
    assert vmm.check("cat /sys/block/vda/size") == str(DISK_MIB * 2048)
    # The base shows through where nothing was written.
    with open(base, "rb") as f:
        f.seek(300 * MIB + 4096)
        want = hashlib.md5(f.read(4096)).hexdigest()
    assert vmm.check("dd if=/dev/vda bs=4096 skip=76801 count=1 2>/dev/null | md5sum")\
        .split()[0] == want
    vmm.check("head -c 4194304 /dev/urandom > /tmp/src")
    out = vmm.check(f"i=0; while [ $i -lt {CHUNKS} ]; do {CHUNK_VARS}; "
                    f"{DD_1MIB_TO_DISK} if=/tmp/src of=/dev/vda seek=$seek skip=$skip "
                    "2>/dev/null || echo WRITE-FAILED $i; i=$((i+1)); done; sync",
                    timeout=STORM_TIMEOUT)
    assert "WRITE-FAILED" not in out, out
    expected = vmm.check(f"i=0; while [ $i -lt {CHUNKS} ]; do {CHUNK_VARS}; "
                         f"{DD_1MIB} if=/tmp/src skip=$skip 2>/dev/null | md5sum; "
                         "i=$((i+1)); done", timeout=STORM_TIMEOUT)
    expected = [line.split()[0] for line in expected.splitlines() if line.strip()]
    assert len(expected) == CHUNKS
    assert read_chunk_md5s(vmm) == expected
    assert vmm.control("stats")["devices"][0]["errors"] == 0
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF

    # A second VMM on the same overlay, as after a reboot, reads it all back.
    vmm = vmm_factory(extra_args=disk).boot()
    assert read_chunk_md5s(vmm) == expected
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF

    check = qemu_check(overlay)
    assert check.returncode == 0, check.stdout + check.stderr
    assert sha256(base) == base_sum
    converted = tmp_path / "converted.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(overlay), str(converted)],
                   check=True)
    written = []
    with open(converted, "rb") as out:
        for i, md5 in enumerate(expected):
            out.seek(chunk_seek(i) * 512)
            assert hashlib.md5(out.read(MIB)).hexdigest() == md5, f"chunk {i}"
            written.append((chunk_seek(i) * 512, chunk_seek(i) * 512 + MIB))
        # Outside the chunks, QEMU reads the base through the overlay.
        with open(base, "rb") as b:
            for start, length in BASE_WINDOWS:
                out.seek(start)
                b.seek(start)
                got, want = bytearray(out.read(length)), bytearray(b.read(length))
                for lo, hi in written:
                    lo, hi = max(lo, start), min(hi, start + length)
                    if lo < hi:
                        got[lo - start:hi - start] = want[lo - start:hi - start]
                assert got == want, f"base window at {start} differs"


def test_kill_during_a_write_storm_leaves_a_consistent_image_with_the_fsynced_marker(
        vmm_factory, tmp_path):
    base, overlay = tmp_path / "base.raw", tmp_path / "overlay.qcow2"
    base_sum = make_base(base)
    make_overlay(overlay, base)
    vmm = vmm_factory(extra_args=["--disk", f"{overlay},format=qcow2"]).boot()
    # The marker reaches the device with O_DIRECT, and fsync (busybox sync FILE) sends the
    # flush; a plain sync(2) would not: it flushes file systems, and /dev/vda has none.
    vmm.check("printf 'xeno-qcow2-marker' > /tmp/m && dd if=/tmp/m of=/dev/vda bs=512 "
              "seek=1001 conv=sync oflag=direct 2>/dev/null && sync /dev/vda")
    # Direct writes of 64 KiB to many clusters, most new, until the VMM dies.
    vmm.console.send("i=0; while true; do dd if=/dev/urandom of=/dev/vda bs=65536 "
                     "seek=$((i*7919%7000+100)) count=1 oflag=direct 2>/dev/null; "
                     "i=$((i+1)); echo ST''ORM-$i; done\n")
    vmm.console.wait_for(r"STORM-40\r?\n", timeout=STORM_TIMEOUT)
    os.kill(vmm.proc.pid, signal.SIGKILL)
    vmm.proc.wait()

    check = qemu_check(overlay)
    # 0: clean; 3: leaked clusters only, which a crash may leave.
    assert check.returncode in (0, 3), check.stdout + check.stderr
    converted = tmp_path / "converted.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(overlay), str(converted)],
                   check=True)
    with open(converted, "rb") as f:
        f.seek(1001 * 512)
        assert f.read(17) == b"xeno-qcow2-marker"
    assert sha256(base) == base_sum


def test_a_second_vmm_cannot_open_an_image_in_read_write_use(vmm_factory, tmp_path):
    base, overlay = tmp_path / "base.raw", tmp_path / "overlay.qcow2"
    make_base(base)
    make_overlay(overlay, base)
    first = vmm_factory(extra_args=["--disk", str(overlay)]).boot()

    second = vmm_factory(extra_args=["--disk", str(overlay)]).spawn()
    assert second.wait_exit() == EXIT_ERROR
    assert "is in use by another process" in second.log(), second.log()
    assert f"(pid {first.proc.pid})" in second.log(), second.log()
    # The base is the overlay's backing file, locked shared: read-only use is fine, a
    # writer is refused.
    writer = vmm_factory(extra_args=["--disk", str(base)]).spawn()
    assert writer.wait_exit() == EXIT_ERROR
    assert "is in use by another process" in writer.log()
    reader = vmm_factory(extra_args=["--disk", f"{base},ro"]).boot()
    assert reader.check("cat /sys/block/vda/ro") == "1"
    reader.console.send("poweroff\n")
    assert reader.wait_exit() == EXIT_POWEROFF
    first.console.send("poweroff\n")
    assert first.wait_exit() == EXIT_POWEROFF
    # Once the first is gone, the image is free again.
    again = vmm_factory(extra_args=["--disk", str(overlay)]).boot()
    again.console.send("poweroff\n")
    assert again.wait_exit() == EXIT_POWEROFF
