# SPDX-License-Identifier: GPL-2.0-only
"""Memory ballooning (issue 8): a 1 GiB domain that touched 800 MiB gives at least 500 MiB
back to the host (its VMM's RSS) when `xm mem-set` asks it to keep 256, its MemTotal shows
it, and raising the target gives the memory back to the guest; sizes out of range are
refused with nothing changed.  A real guest in the test host (its virtio_balloon driver)."""
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
    # the host keeps it (RSS) until the balloon takes it.
    run(con, "dd if=/dev/zero of=/tmp/a bs=1M count=400 2>/dev/null; "
             "dd if=/dev/zero of=/dev/shm/b bs=1M count=400 2>/dev/null; rm /tmp/a /dev/shm/b",
        timeout=600)
    before = xend.get("/v1/domains/big/stats")
    assert before["memory_touched_mib"] >= 800, before
    assert before["memory_target_mib"] == MEMORY

    xm = Xm(xend.socket, tmp_path, xend.netns.prefix())
    xm.ok("mem-set", "big", "256")
    after = wait_stats(xend, "big", lambda s: s["memory_actual_mib"] <= 256 + 8,
                       "balloon inflated to 256 MiB")
    returned = before["vmm_rss_mib"] - after["vmm_rss_mib"]
    print(f"mem-set 256: VMM RSS {before['vmm_rss_mib']} -> {after['vmm_rss_mib']} MiB "
          f"({returned} MiB back to the host)")
    assert returned >= 500, (before, after)
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
