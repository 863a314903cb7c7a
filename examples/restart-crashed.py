#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Restarts every domain that crashed, with the config it ran with.

    examples/restart-crashed.py [--interval SECONDS] [--count N]

Looks at the domain list every --interval seconds (default 1; xend has no event stream
yet).  A domain in state "crashed" (on_crash = "preserve" keeps it there) is destroyed and
created again from the config in its record; one line per restart.  Stops after --count
restarts (default: never).
"""
import argparse
import time

import xeno


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--socket", help="xend's socket (default: $XENO_XEND_SOCKET or /run/xeno)")
    args = ap.parse_args()
    restarts = 0
    with xeno.Client(args.socket) as xc:
        while not args.count or restarts < args.count:
            for dom in xc.domains():
                if dom["state"] != "crashed":
                    continue
                config = xc.domain(dom["id"])["config"]
                xc.destroy(dom["id"])
                new = xc.create(config)
                restarts += 1
                print(f"{dom['name']}: crashed as id {dom['id']}, running again as id "
                      f"{new['id']}", flush=True)
            if not args.count or restarts < args.count:
                time.sleep(args.interval)


if __name__ == "__main__":
    xeno.run_tool(main)
