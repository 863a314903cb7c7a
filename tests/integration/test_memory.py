# SPDX-License-Identifier: GPL-2.0-only
"""Memory ballooning (issue 8): a 1 GiB domain that touched 800 MiB gives at least 500 MiB
back to the host (its VMM's RSS) when `xm mem-set` asks it to keep 256, its MemTotal shows
it, and raising the target gives the memory back to the guest; sizes out of range are
refused with nothing changed.  The guest's own figures (free, total, available memory) reach
the domain's stats, and memory the guest frees goes back to the host by itself (free page
reporting).  With deflate_on_oom, a guest short of memory takes pages back from its balloon
rather than kill a process.  A real guest in the test host (its virtio_balloon driver)."""
import time

import pytest

from framework.vmm import BOOT_TIMEOUT
from test_xend import boot, run
from test_xm import Xm

MEMORY = 1024


def mem_total_mib(con):
    return int(run(con, "grep MemTotal /proc/meminfo").split()[1]) // 1024


def wait_stats(xend, name, predicate, what, timeout=BOOT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        stats = xend.get(f"/v1/domains/{name}/stats")
        if predicate(stats):
            return stats
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s: {stats}"
        time.sleep(1)


def test_mem_set_returns_memory_to_the_host_and_gives_it_back(xend_factory, tmp_path):
    xend = xend_factory().start()
    xend.create("big", memory=MEMORY)
    con = xend.console("big")
    boot(con)
    total = mem_total_mib(con)
    # 800 MiB touched through two tmpfs (each may hold half of RAM), then freed in the guest:
    # free page reporting may give some back on its own, the balloon takes the rest.
    run(con, "dd if=/dev/zero of=/tmp/a bs=1M count=400 2>/dev/null; "
             "dd if=/dev/zero of=/dev/shm/b bs=1M count=400 2>/dev/null", timeout=600)
    before = xend.get("/v1/domains/big/stats")
    assert before["memory_touched_mib"] >= 800, before
    assert before["memory_target_mib"] == MEMORY
    run(con, "rm /tmp/a /dev/shm/b")

    xm = Xm(xend.socket, tmp_path, xend.netns.prefix())
    xm.ok("mem-set", "big", "256")
    after = wait_stats(xend, "big", lambda s: s["memory_actual_mib"] <= 256 + 8,
                       "balloon inflated to 256 MiB")
    returned = before["vmm_rss_mib"] - after["vmm_rss_mib"]
    print(f"mem-set 256: VMM RSS {before['vmm_rss_mib']} -> {after['vmm_rss_mib']} MiB "
          f"({returned} MiB back to the host)")
    assert returned >= 500, (before, after)
    assert after["memory_touched_mib"] <= 256 + 32, after
    assert after["memory_target_mib"] == 256
    shrunk = mem_total_mib(con)
    assert shrunk <= 256 and total - shrunk >= MEMORY - 256 - 16, (total, shrunk)

    # Out of range: refused, the target stays.
    for mib, words in (("2000", "outside"), ("50", "outside"), ("x", "not a size")):
        assert words in xm.fails("mem-set", "big", mib)
    assert xend.get("/v1/domains/big/stats")["memory_target_mib"] == 256
    with pytest.raises(Exception):
        xend.call("PUT", "/v1/domains/big/memory", {"target_mib": 256, "max": 1})

    xm.ok("mem-set", "big", str(MEMORY))
    wait_stats(xend, "big", lambda s: s["memory_actual_mib"] >= MEMORY - 8,
               "balloon deflated")
    assert mem_total_mib(con) >= total - 8
    # The guest uses it again: 400 MiB fit in a tmpfs once more.
    assert run(con, "dd if=/dev/zero of=/tmp/c bs=1M count=400 2>/dev/null && echo ok; "
                    "rm -f /tmp/c", timeout=600) == "ok"


def test_guest_figures_and_free_page_reporting(xend_factory):
    xend = xend_factory().start()
    xend.create("rep", memory=MEMORY)
    con = xend.console("rep")
    boot(con)
    total = mem_total_mib(con)
    # The driver sends its figures when it starts; the VMM refreshes them when read.
    stats = wait_stats(xend, "rep", lambda s: "memory_guest_total_mib" in s,
                       "the guest's memory figures")
    print(f"guest figures: total {stats['memory_guest_total_mib']} MiB, free "
          f"{stats['memory_guest_free_mib']} MiB, available "
          f"{stats['memory_guest_available_mib']} MiB, MemTotal {total} MiB")
    assert abs(stats["memory_guest_total_mib"] - total) <= 2, (stats, total)
    assert MEMORY * 0.8 <= stats["memory_guest_total_mib"] <= MEMORY, stats
    assert 0 < stats["memory_guest_free_mib"] <= stats["memory_guest_total_mib"], stats
    assert stats["memory_guest_available_mib"] <= stats["memory_guest_total_mib"], stats

    # 200 MiB written to a tmpfs: the host gives the guest that memory (RSS), and the
    # guest's free memory shrinks once its figures are refreshed (at most a second old).
    run(con, "dd if=/dev/zero of=/dev/shm/x bs=1M count=200 2>/dev/null", timeout=600)
    full = wait_stats(xend, "rep",
                      lambda s: s["memory_guest_free_mib"] <=
                      stats["memory_guest_free_mib"] - 150,
                      "the guest's free memory shrank", timeout=30)
    peak = full["vmm_rss_mib"]
    # Freed in the guest: free page reporting hands it back in 2 MiB and larger blocks, a
    # couple of seconds after it is freed, without any balloon target.
    run(con, "rm /dev/shm/x")
    start = time.monotonic()
    after = wait_stats(xend, "rep", lambda s: s["vmm_rss_mib"] <= peak - 120,
                       "memory freed in the guest went back to the host", timeout=60)
    print(f"free page reporting: VMM RSS {peak} -> {after['vmm_rss_mib']} MiB "
          f"({peak - after['vmm_rss_mib']} MiB back) within {time.monotonic() - start:.1f} s; "
          f"guest free {full['memory_guest_free_mib']} -> {after['memory_guest_free_mib']} MiB")
    assert after["memory_target_mib"] == MEMORY
    assert after["memory_actual_mib"] == MEMORY


def test_deflate_on_oom_lets_the_guest_take_memory_back_instead_of_killing(xend_factory,
                                                                            tmp_path):
    xend = xend_factory().start()
    xend.create("oom", memory=512, deflate_on_oom=True)
    con = xend.console("oom")
    boot(con)
    total = mem_total_mib(con)
    xm = Xm(xend.socket, tmp_path, xend.netns.prefix())
    xm.ok("mem-set", "oom", "200")
    held = wait_stats(xend, "oom", lambda s: s["memory_actual_mib"] <= 200 + 8,
                      "balloon inflated to 200 MiB")
    # With this feature the driver counts the balloon as used memory, not less of it.
    assert mem_total_mib(con) >= total - 8
    # 300 MiB in two tmpfs is more than the 200 MiB the balloon leaves: each time the guest
    # runs out, its driver deflates a little instead of killing a process.
    # (The kernel's own lines may come in between on the console: the last line counts.)
    out = run(con, "dd if=/dev/zero of=/tmp/a bs=1M count=150 2>/dev/null && "
                   "dd if=/dev/zero of=/dev/shm/b bs=1M count=150 2>/dev/null && echo ok",
              timeout=600)
    assert out.splitlines()[-1] == "ok", out
    after = xend.get("/v1/domains/oom/stats")
    print(f"deflate on OOM: balloon left the guest {held['memory_actual_mib']} -> "
          f"{after['memory_actual_mib']} MiB for 300 MiB of tmpfs")
    assert after["memory_actual_mib"] > held["memory_actual_mib"] + 50, (held, after)
    assert after["memory_target_mib"] == 200
    out = run(con, "dmesg | grep -c 'Killed process'; true")
    assert out.splitlines()[-1] == "0", out
