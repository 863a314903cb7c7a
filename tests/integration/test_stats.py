# SPDX-License-Identifier: GPL-2.0-only
"""Domain figures (issue 8): GET /v1/domains/DOM/stats and /v1/stats, Prometheus text at
/metrics, and `xm top -b`, whose frames must agree with the stats xend gives before and after
them.  Real guests in the test host: one spinning, one idle."""
import re

from test_xend import boot, run
from test_xm import Xm

TOP_COLUMNS = ["NAME", "ID", "STATE", "CPU(sec)", "CPU(%)", "MEM(MiB)", "MAXMEM(MiB)",
               "TARGET(MiB)", "FREE(MiB)", "VCPUS", "VBDS", "VBD_RD", "VBD_WR", "NETS",
               "NETRX(KiB)", "NETTX(KiB)"]


def frames(text):
    """`xm top -b` output as a list of frames, each {name: row as a dict}."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        assert re.fullmatch(r"xm top - \d\d:\d\d:\d\d  \d+ domains?", lines[0]), lines[0]
        assert lines[1].split() == TOP_COLUMNS, lines[1]
        out.append({f[0]: dict(zip(TOP_COLUMNS, f)) for f in (ln.split() for ln in lines[2:])})
    return out


def test_stats_metrics_and_xm_top_agree(xend_factory, tmp_path):
    xend = xend_factory().start()
    spin = xend.create("spin", memory=160, maxmem_mib=256)
    idle = xend.create("idle", vcpus=2)
    con = xend.console("spin")
    boot(con)
    run(con, "(while :; do :; done >/dev/null 2>&1 &)")
    boot(xend.console("idle"))

    one = xend.get("/v1/domains/spin/stats")
    assert (one["id"], one["name"], one["state"]) == (spin["id"], "spin", "running")
    assert (one["vcpus"], one["memory_mib"], one["maxmem_mib"]) == (1, 160, 256)
    assert one["memory_target_mib"] == 160 and 0 < one["memory_touched_mib"] <= 160
    assert one["vmm_rss_mib"] >= one["memory_touched_mib"]
    assert one["cpu_time_s"] > 0 and one["disks"] == 0
    assert set(one["block"]) == {"read_requests", "read_bytes", "write_requests",
                                 "write_bytes"}
    assert set(one["net"]) == {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
                               "spoof_dropped"}
    assert [d["name"] for d in xend.get("/v1/stats")["domains"]] == ["spin", "idle"]

    status, headers, text = xend.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), headers
    assert f'xeno_domain_vcpus{{domid="{idle["id"]}",name="idle"}} 2\n' in text
    assert f'xeno_domain_memory_mib{{domid="{spin["id"]}",name="spin"}} 160\n' in text
    assert "# TYPE xeno_domain_cpu_seconds_total counter\n" in text
    cpu = re.search(rf'xeno_domain_cpu_seconds_total{{domid="{spin["id"]}",name="spin"}} '
                    r'([\d.e+-]+)\n', text)
    assert cpu and float(cpu.group(1)) > 0, text

    xm = Xm(xend.socket, tmp_path, xend.netns.prefix())
    before = {d["name"]: d for d in xend.get("/v1/stats")["domains"]}
    out = xm.ok("top", "-b", "-i", "2", "-d", "1")
    after = {d["name"]: d for d in xend.get("/v1/stats")["domains"]}
    print(out)
    got = frames(out)
    assert len(got) == 2 and all(set(f) == {"spin", "idle"} for f in got), out
    for name in ("spin", "idle"):
        for f in got:
            row = f[name]
            assert int(row["ID"]) == after[name]["id"]
            assert row["STATE"] == "running"
            for col, key in (("MEM(MiB)", "memory_mib"), ("MAXMEM(MiB)", "maxmem_mib"),
                             ("TARGET(MiB)", "memory_target_mib"), ("VCPUS", "vcpus"),
                             ("VBDS", "disks"), ("NETS", "vifs")):
                assert int(row[col]) == after[name][key], (name, col, row)
            # The guest's free memory, once its balloon driver has sent figures.
            assert row["FREE(MiB)"] == "-" or \
                0 < int(row["FREE(MiB)"]) <= after[name]["memory_mib"], (name, row)
            # CPU time only grows: each frame's lies between the reads around the run.
            assert before[name]["cpu_time_s"] - 0.1 <= float(row["CPU(sec)"]) \
                <= after[name]["cpu_time_s"] + 0.1, (name, row)
    # The first frame has no interval; in the second the spinning domain is busy.
    assert float(got[0]["spin"]["CPU(%)"]) == 0
    assert float(got[1]["spin"]["CPU(%)"]) > 30, got[1]
    assert float(got[1]["spin"]["CPU(%)"]) > float(got[1]["idle"]["CPU(%)"])

    assert "-i '0'" in xm.fails("top", "-b", "-i", "0")
    assert "-d 'x'" in xm.fails("top", "-b", "-d", "x")
