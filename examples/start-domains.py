#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Starts N domains from one config file and waits until each console shows its shell.

    examples/start-domains.py [--config FILE] [--prefix NAME] [--first-address A.B.C.D] N

Domain i (1..N) is named PREFIX-i; with --first-address, it gets that address plus i-1
(ipaddr=..., routed to it by xend).  Then every console is watched until the guest's init
says it is ready and its shell prompts; the script prints one line per domain with the
seconds that took, and exits 1 if any did not come up within --timeout seconds.
"""
import argparse
import ipaddress
import select
import sys
import time

import xeno


def wait_for_prompt(console, deadline, marks=(b"xeno-guest: ready", b"# ")):
    seen = b""
    for mark in marks:
        while mark not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([console], [], [], left)[0]:
                return False
            chunk = console.read(65536)
            if not chunk:
                return False
            seen += chunk
        seen = seen[seen.index(mark) + len(mark):]
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("count", type=int)
    ap.add_argument("--config", default="/etc/xeno/defaults")
    ap.add_argument("--prefix", default="dom")
    ap.add_argument("--first-address")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--socket", help="xend's socket (default: $XENO_XEND_SOCKET or /run/xeno)")
    args = ap.parse_args()
    ok = True
    with xeno.Client(args.socket) as xc:
        started = []
        for i in range(1, args.count + 1):
            overrides = {"name": f"{args.prefix}-{i}"}
            if args.first_address:
                overrides["ipaddr"] = [str(ipaddress.ip_address(args.first_address) + i - 1)]
            rec = xc.create_from_file(args.config, **overrides)
            # Attach at once: the console replays what the guest printed meanwhile.
            started.append((rec, time.monotonic(), xc.console(rec["name"])))
        deadline = time.monotonic() + args.timeout
        for rec, t0, console in started:
            with console:
                up = wait_for_prompt(console, deadline)
            ok = ok and up
            print(f"{rec['name']} id={rec['id']} "
                  + (f"ready in {time.monotonic() - t0:.1f} s" if up else "NOT READY"),
                  flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    xeno.run_tool(main)
