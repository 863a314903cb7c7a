#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Restarts every domain that crashed, with the config it ran with.

    examples/restart-crashed.py [--count N]

Restarts the domains already crashed, then waits for xend's domain events.  A domain in
state "crashed" (on_crash = "preserve" keeps it there) is destroyed and created again from
the config in its record; one line per restart.  After an xend restart (a "lost" event)
it looks at the whole list again.  Stops after --count restarts (default: never).
"""
import argparse
import time

import xeno


def restart(xc, dom_id, name):
    config = xc.domain(dom_id)["config"]
    xc.destroy(dom_id)
    new = xc.create(config)
    print(f"{name}: crashed as id {dom_id}, running again as id {new['id']}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--socket", help="xend's socket (default: $XENO_XEND_SOCKET or /run/xeno)")
    args = ap.parse_args()
    restarts = 0
    with xeno.Client(args.socket) as xc:
        # Watch first, then look: a crash between the two is still seen.
        events = xc.events()
        crashed = [(d["id"], d["name"]) for d in xc.domains() if d["state"] == "crashed"]
        while not args.count or restarts < args.count:
            if crashed:
                restart(xc, *crashed.pop(0))
                restarts += 1
                continue
            try:
                e = next(events)
            except xeno.Error:  # xend is away: the watcher keeps its place
                time.sleep(1)
                continue
            if e["event"] == "lost":
                crashed = [(d["id"], d["name"]) for d in xc.domains()
                           if d["state"] == "crashed"]
            elif e["event"] == "crashed" and e["state"] == "crashed":
                crashed.append((e["domid"], e["name"]))


if __name__ == "__main__":
    xeno.run_tool(main)
