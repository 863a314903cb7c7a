#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Prints every domain's figures as CSV, once per interval.

    examples/stats-csv.py [--interval SECONDS] [--count N]

One header line, then per interval one row per domain (Domain-0 included): the time, the
domain's name and id, its vCPU time in seconds and the CPU% of one host CPU it used since
the previous row, its memory, and its disks' and network interfaces' byte counters.
"""
import argparse
import csv
import sys
import time

import xeno

FIELDS = ["time", "name", "id", "cpu_s", "cpu_pct", "memory_mib",
          "read_bytes", "write_bytes", "rx_bytes", "tx_bytes"]


def row(xc, dom, now, last):
    r = {"time": f"{now:.1f}", "name": dom["name"], "id": dom["id"],
         "cpu_s": f"{dom['cpu_time_s']:.2f}", "memory_mib": dom["memory_mib"],
         "read_bytes": 0, "write_bytes": 0, "rx_bytes": 0, "tx_bytes": 0}
    prev = last.get(dom["id"])
    r["cpu_pct"] = (f"{100 * (dom['cpu_time_s'] - prev[1]) / (now - prev[0]):.1f}"
                    if prev and now > prev[0] else "")
    last[dom["id"]] = (now, dom["cpu_time_s"])
    if dom["id"]:
        try:
            for d in xc.block(dom["id"]):
                r["read_bytes"] += d["read_bytes"]
                r["write_bytes"] += d["write_bytes"]
            for n in xc.network(dom["id"]):
                r["rx_bytes"] += n["rx_bytes"]
                r["tx_bytes"] += n["tx_bytes"]
        except xeno.Error:
            pass  # gone since the list: its row keeps zeroes
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--count", type=int, default=0, help="intervals (default: forever)")
    ap.add_argument("--socket", help="xend's socket (default: $XENO_XEND_SOCKET or /run/xeno)")
    args = ap.parse_args()
    out = csv.DictWriter(sys.stdout, FIELDS)
    out.writeheader()
    last, n = {}, 0
    with xeno.Client(args.socket) as xc:
        while not args.count or n < args.count:
            now = time.time()
            for dom in xc.domains():
                out.writerow(row(xc, dom, now, last))
            sys.stdout.flush()
            n += 1
            if not args.count or n < args.count:
                time.sleep(args.interval)


if __name__ == "__main__":
    xeno.run_tool(main)
