# SPDX-License-Identifier: GPL-2.0-only
"""Bad arguments and bad files: a clear message and a non-zero exit, never a crash."""
import pytest

from framework import paths
from framework.vmm import EXIT_ERROR, run_vmm

KERNEL = str(paths.GUEST_KERNEL)
INITRD = str(paths.GUEST_INITRD)


@pytest.mark.parametrize("args, message", [
    (["--kernel", KERNEL, "--memory", "0"], "--memory '0': expected MiB from 16 to"),
    (["--kernel", KERNEL, "--vcpus", "0"], "--vcpus '0': expected a count from 1 to"),
    (["--kernel", KERNEL, "--vcpus", "1000"], "--vcpus '1000': expected a count from 1 to"),
    (["--memory", "128"], "--kernel PATH is required"),
    (["--kernel", KERNEL, "--bogus"], "unknown option '--bogus'"),
])
def test_bad_arguments(args, message):
    r = run_vmm(args)
    assert r.returncode == EXIT_ERROR
    assert message in r.stderr


def test_missing_kernel():
    r = run_vmm(["--kernel", "/nonexistent/vmlinuz"])
    assert r.returncode == EXIT_ERROR
    assert "kernel '/nonexistent/vmlinuz': No such file or directory" in r.stderr


def test_corrupt_kernel(tmp_path):
    corrupt = tmp_path / "vmlinuz"
    data = bytearray(paths.GUEST_KERNEL.read_bytes()[:1 << 20])
    data[0x202:0x206] = b"XXXX"  # the setup header's "HdrS" magic
    corrupt.write_bytes(bytes(data))
    r = run_vmm(["--kernel", str(corrupt)])
    assert r.returncode == EXIT_ERROR
    assert "neither a 64-bit bzImage" in r.stderr


def test_truncated_kernel(tmp_path):
    truncated = tmp_path / "vmlinuz"
    truncated.write_bytes(paths.GUEST_KERNEL.read_bytes()[:300])
    r = run_vmm(["--kernel", str(truncated)])
    assert r.returncode == EXIT_ERROR
    assert "neither a 64-bit bzImage" in r.stderr


def test_initrd_larger_than_guest_memory(tmp_path):
    big = tmp_path / "big.img"
    with open(big, "wb") as f:
        f.truncate(200 << 20)
    r = run_vmm(["--kernel", KERNEL, "--initrd", str(big), "--memory", "128"])
    assert r.returncode == EXIT_ERROR
    assert "does not fit in guest memory" in r.stderr


def test_memory_too_small_for_kernel():
    r = run_vmm(["--kernel", KERNEL, "--initrd", INITRD, "--memory", "16"])
    assert r.returncode == EXIT_ERROR
    assert "raise --memory" in r.stderr
