# SPDX-License-Identifier: GPL-2.0-only
"""Save and restore in xeno-vmm itself (issue 7): the control socket's save and --restore,
without xend.  The guest must carry on where it was: same boot, counters going on, clock
not going backwards, its disk writes continuing, all vCPUs still at work."""
import re
import time

import pytest

COUNTER = ("( i=0; while true; do i=$((i+1)); echo CNT$i; echo $i > /root/cnt; "
           "sleep 0.2; done ) &")
VMM_ARGS = ["--rng", "--balloon"]


def counter_values(text):
    return [int(v) for v in re.findall(r"CNT(\d+)\r?\n", text)]


def save(vmm, path):
    reply = vmm.control(f"save - {path}")
    assert reply["ok"], reply
    assert path.exists() and not path.with_name(path.name + ".partial").exists()
    assert reply["file_bytes"] == path.stat().st_size
    return reply


def restored(vmm_factory, original, path, extra=()):
    """A new VMM for the domain saved in path, with the original's options."""
    return vmm_factory(memory=original.memory, vcpus=original.vcpus,
                       extra_args=[*VMM_ARGS, *extra, "--restore", str(path)]).start()


@pytest.fixture
def booted(vmm_factory):
    def make(memory=256, vcpus=2, extra=()):
        vmm = vmm_factory(memory=memory, vcpus=vcpus, extra_args=[*VMM_ARGS, *extra])
        vmm.memory, vmm.vcpus = memory, vcpus
        return vmm.boot()
    return make


def test_counter_goes_on_after_restore(booted, vmm_factory, tmp_path):
    vmm = booted()
    boot_id = vmm.check("cat /proc/sys/kernel/random/boot_id")
    up_before = float(vmm.check("cut -d' ' -f1 /proc/uptime"))
    vmm.console.send(COUNTER + "\n")
    vmm.console.wait_for(r"CNT5\r?\n", timeout=120)
    path = tmp_path / "dom.save"
    reply = save(vmm, path)
    assert not reply["was_paused"]
    assert vmm.control("status")["state"] == "paused"
    last = max(counter_values(vmm.console.text()))
    assert vmm.control("quit")["ok"]
    vmm.wait_exit()

    new = restored(vmm_factory, vmm, path)
    new.console.wait_for(r"CNT\d+\r?\n", timeout=120)
    new.console.wait_for(r"CNT\d+\r?\n.*CNT\d+\r?\n", timeout=120)
    after = counter_values(new.console.text())
    # It goes on from the saved value: no restart from 1, nothing skipped or repeated
    # beyond the last value printed before the save.
    assert after[0] in (last, last + 1), (last, after)
    assert after == list(range(after[0], after[0] + len(after)))
    assert new.check("cat /proc/sys/kernel/random/boot_id") == boot_id
    assert float(new.check("cut -d' ' -f1 /proc/uptime")) > up_before
    disk_value = int(new.check("cat /root/cnt"))
    assert disk_value >= after[0]
    assert "restored from" in new.log()


def test_checkpoint_keeps_the_domain_running(booted, tmp_path):
    vmm = booted(vcpus=1)
    path = tmp_path / "cp.save"
    save(vmm, path)
    assert vmm.control("resume")["ok"]
    assert vmm.check("echo still-here") == "still-here"


def test_four_busy_vcpus_all_go_on(booted, vmm_factory, tmp_path):
    vmm = booted(vcpus=4)
    for n in range(4):
        vmm.console.send(f"( j=0; while true; do j=$((j+1)); [ $((j % 2000)) = 0 ] && "
                         f"echo $j > /tmp/busy{n}; done ) &\n")
    time.sleep(3)
    path = tmp_path / "busy.save"
    save(vmm, path)
    assert vmm.control("quit")["ok"]
    vmm.wait_exit()
    new = restored(vmm_factory, vmm, path)
    first = new.check("cat /tmp/busy0 /tmp/busy1 /tmp/busy2 /tmp/busy3").split()
    time.sleep(5)
    second = new.check("cat /tmp/busy0 /tmp/busy1 /tmp/busy2 /tmp/busy3").split()
    assert all(int(b) > int(a) for a, b in zip(first, second)), (first, second)
    stats = new.control("stats")
    assert len([t for t in stats["vcpu_time_ns"] if t > 0]) == 4, stats


def test_untouched_memory_costs_nothing(booted, vmm_factory, tmp_path):
    vmm = booted(memory=1024, vcpus=1)
    vmm.check("dd if=/dev/urandom of=/dev/shm/fill bs=1M count=64 2>/dev/null; sync")
    path = tmp_path / "big.save"
    reply = save(vmm, path)
    size = path.stat().st_size
    # 64 MiB written, plus the kernel, its initramfs and page cache: far below 1 GiB.
    assert size < 400 << 20, size
    assert reply["memory_bytes"] >= 64 << 20
    assert vmm.control("quit")["ok"]
    vmm.wait_exit()
    new = restored(vmm_factory, vmm, path, extra=["--restore-no-verify"])
    assert new.check("md5sum /dev/shm/fill | cut -c1-8")


def test_copy_restore_and_saving_a_restored_domain(booted, vmm_factory, tmp_path):
    vmm = booted(vcpus=1)
    vmm.check("echo first > /dev/shm/mark")
    path = tmp_path / "a.save"
    save(vmm, path)
    assert vmm.control("quit")["ok"]
    vmm.wait_exit()
    second = restored(vmm_factory, vmm, path)
    assert second.check("cat /dev/shm/mark") == "first"
    # Saved again while most of its RAM is still mapped from the first file: nothing lost.
    path2 = tmp_path / "b.save"
    save(second, path2)
    assert second.control("quit")["ok"]
    second.wait_exit()
    path.unlink()
    third = restored(vmm_factory, vmm, path2, extra=["--restore-copy"])
    assert third.check("cat /dev/shm/mark") == "first"
    assert third.check("echo alive") == "alive"


def test_restore_refuses_other_options(booted, vmm_factory, tmp_path):
    vmm = booted(vcpus=1)
    path = tmp_path / "opts.save"
    save(vmm, path)
    assert vmm.control("quit")["ok"]
    vmm.wait_exit()
    wrong = vmm_factory(memory=512, vcpus=1,
                        extra_args=[*VMM_ARGS, "--restore", str(path)]).spawn()
    assert wrong.wait_exit() == 1
    assert "restore: the domain in" in wrong.log() and "--memory says 512" in wrong.log()
