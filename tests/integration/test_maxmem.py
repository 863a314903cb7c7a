# SPDX-License-Identifier: GPL-2.0-only
"""maxmem above memory (issue 8), as xl has it: the domain boots with maxmem of RAM and the
balloon holding the part beyond memory, so its guest starts with about memory; mem-set gives
it more, up to maxmem, never beyond; mem-max lowers the ceiling (not below what the guest
keeps, not above the RAM it booted with), with nothing changed on a refusal.  A real guest
in the test host."""
from test_memory import mem_total_mib, wait_stats
from test_xend import boot
from test_xm import Xm


def test_maxmem_boots_ballooned_and_mem_set_and_mem_max_move_within_it(xend_factory,
                                                                         tmp_path):
    xend = xend_factory().start()
    xend.create("grow", memory=256, maxmem_mib=768)
    con = xend.console("grow")
    boot(con)
    dom = xend.domain("grow")
    assert (dom["memory_mib"], dom["maxmem_mib"]) == (256, 768)
    stats = wait_stats(xend, "grow", lambda s: s["memory_actual_mib"] <= 256 + 8,
                       "the balloon took what is beyond memory")
    assert stats["memory_target_mib"] == 256
    small = mem_total_mib(con)
    assert small <= 256, small

    xm = Xm(xend.socket, tmp_path, xend.netns.prefix())
    xm.ok("mem-set", "grow", "700")
    wait_stats(xend, "grow", lambda s: s["memory_actual_mib"] >= 700 - 8, "deflated to 700")
    assert mem_total_mib(con) >= small + 700 - 256 - 16

    # Beyond maxmem, or mem-max out of its bounds: refused, nothing changed.
    assert "outside" in xm.fails("mem-set", "grow", "800")
    assert "above the 768 MiB of RAM" in xm.fails("mem-max", "grow", "1024")
    assert "below what 'grow' keeps now" in xm.fails("mem-max", "grow", "512")
    assert "below the memory" in xm.fails("mem-max", "grow", "128")
    assert xend.domain("grow")["maxmem_mib"] == 768

    xm.ok("mem-set", "grow", "300")
    wait_stats(xend, "grow", lambda s: s["memory_actual_mib"] <= 300 + 8, "inflated to 300")
    xm.ok("mem-max", "grow", "400")
    assert xend.domain("grow")["maxmem_mib"] == 400
    assert "outside" in xm.fails("mem-set", "grow", "500")
    xm.ok("mem-set", "grow", "400")
    wait_stats(xend, "grow", lambda s: s["memory_actual_mib"] >= 400 - 8, "deflated to 400")

    # Saved and restored with a maxmem below its RAM: it comes back with the RAM it ran
    # with, and its balloon keeps its target.
    path = tmp_path / "grow.save"
    xm.ok("save", "grow", str(path))
    xm.ok("restore", str(path))
    stats = xend.get("/v1/domains/grow/stats")
    assert stats["memory_target_mib"] == 400, stats
    assert xend.domain("grow")["maxmem_mib"] == 768
