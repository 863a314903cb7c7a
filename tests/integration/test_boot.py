# SPDX-License-Identifier: GPL-2.0-only
"""xeno-vmm boots Debian's cloud kernel to the guest's init, on 1 and 4 vCPUs, both ways."""
import pytest

from framework import paths
from framework.vmm import EXIT_POWEROFF, EXIT_REBOOT


@pytest.mark.parametrize("vcpus", [1, 4])
def test_boot_sees_all_vcpus(vmm_factory, vcpus):
    vmm = vmm_factory(vcpus=vcpus).boot()
    assert vmm.check("nproc") == str(vcpus)
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF


def test_pvh_boot_of_uncompressed_vmlinux(vmm_factory):
    vmm = vmm_factory(kernel=paths.GUEST_VMLINUX, vcpus=2).boot()
    assert vmm.check("nproc") == "2"
    vmm.console.send("poweroff\n")
    assert vmm.wait_exit() == EXIT_POWEROFF


def test_console_runs_typed_commands(vmm_factory):
    vmm = vmm_factory().boot()
    assert vmm.check("echo $((6 * 7))") == "42"
    status, _ = vmm.run("false")
    assert status == 1
    assert "MemTotal" in vmm.check("cat /proc/meminfo")


# Linux's reboot= picks how it resets: the ACPI reset register (our FADT has one, so that is
# the default), the i8042's reset line, or a triple fault with the BIOS reset flag written.
@pytest.mark.parametrize("method,logged", [
    ("", "asked for a reboot"),
    ("reboot=k", "asked for a reboot"),
    ("reboot=t", "triple fault after the guest asked for a reset"),
])
def test_guest_reboot_exits_with_reboot_status(vmm_factory, method, logged):
    vmm = vmm_factory(cmdline=f"console=ttyS0 quiet {method}".strip()).boot()
    vmm.console.send("reboot\n")
    assert vmm.wait_exit() == EXIT_REBOOT
    log = vmm.log()
    assert "asked for a reboot" in log and logged in log
    assert "crashed" not in log
    # Only reboot=t takes the triple-fault way out.
    assert ("triple fault" in log) == (method == "reboot=t")


def test_power_button_shuts_the_guest_down_cleanly(vmm_factory):
    vmm = vmm_factory().boot()
    assert vmm.control("power-button")["ok"]
    assert vmm.wait_exit() == EXIT_POWEROFF
    assert "powered off" in vmm.log()
