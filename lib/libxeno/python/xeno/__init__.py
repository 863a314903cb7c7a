# SPDX-License-Identifier: GPL-2.0-only
"""xeno: manage xeno domains from Python, through libxeno and xend's API.

    import xeno
    with xeno.Client() as xc:
        web = xc.create_from_file("/etc/xeno/defaults", name="web", memory=256)
        print([(d["name"], d["state"]) for d in xc.domains()])
        xc.destroy("web")

Records are dicts in the shapes of docs/api.md ("Domain record", "Domain config").  DOM is
a domain's name or its id (an int is fine).  Every failure raises xeno.Error: str(e) is
xend's own message for a refused request (libxeno's for anything else) and e.errno the
errno it maps to (ENOENT for an unknown domain, EEXIST for a name in use, ...).  A Client
holds one libxeno handle: use it from one thread at a time, or one Client per thread.
"""
import json
import os
import sys

from ._xeno import Error, Handle, config_json, path_escape

__all__ = ["Client", "Error", "read_config", "run_tool"]


def run_tool(main):
    """Runs a command-line tool's main(): a xeno.Error ends the process with the tool's
    name and the message on stderr, exit status 1, rather than a traceback."""
    try:
        main()
    except Error as e:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {e}")


def read_config(path, **overrides):
    """Reads an xl.cfg domain config file as `xm create` does, with key=value overrides
    (read_config("web.cfg", memory=256)), and returns the domain config dict xend takes."""
    return json.loads(config_json(str(path), [f"{k}={_cfg_value(v)}"
                                              for k, v in overrides.items()]))


def _cfg_value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(json.dumps(str(x)) for x in v) + "]"
    return str(v)


def _dom(dom):
    return path_escape(str(dom))


class Events:
    """The iterator Client.events() returns."""

    def __init__(self, handle, timeout_ms):
        self._h, self._timeout_ms = handle, timeout_ms

    def __iter__(self):
        return self

    def __next__(self):
        event = self._h.events_next(self._timeout_ms)
        if event is None:
            raise StopIteration
        return event


class Client:
    """A connection to xend, at socket_path (default: $XENO_XEND_SOCKET, else
    /run/xeno/xend.sock).  Each call connects anew, so a Client outlives xend restarts."""

    def __init__(self, socket_path=None):
        self._h = Handle(None if socket_path is None else str(socket_path))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Frees the libxeno handle; the Client cannot be used afterwards."""
        self._h.close()

    @property
    def socket_path(self):
        return self._h.socket_path

    def request(self, method, path, body=None):
        """Any route of docs/api.md: body is a dict (sent as JSON) or None; returns the
        answer parsed, or None when xend sent no body."""
        text = self._h.request(method, path, None if body is None else json.dumps(body))
        return json.loads(text) if text else None

    # ---- domains ----

    def domains(self):
        """Every domain record, Domain-0 first."""
        return self.request("GET", "/v1/domains")

    def domain(self, dom):
        """One domain's record."""
        return self.request("GET", f"/v1/domains/{_dom(dom)}")

    def create(self, config, paused=False):
        """Creates a domain from a domain config dict (see read_config()); returns its
        record."""
        config = dict(config, start_paused=bool(paused or config.get("start_paused")))
        return self.request("POST", "/v1/domains", config)

    def create_from_file(self, path, paused=False, **overrides):
        """xm create PATH key=value...: reads the config file, then creates the domain."""
        return self.create(read_config(path, **overrides), paused)

    def pause(self, dom):
        return self.request("POST", f"/v1/domains/{_dom(dom)}/pause")

    def unpause(self, dom):
        return self.request("POST", f"/v1/domains/{_dom(dom)}/unpause")

    def shutdown(self, dom, reboot=False, wait=False):
        """Presses the domain's power button (reboot: and starts it again, same id); with
        wait, returns once it is gone or has restarted."""
        return self.request("POST", f"/v1/domains/{_dom(dom)}/shutdown",
                            {"reboot": bool(reboot), "wait": bool(wait)})

    def reboot(self, dom, wait=False):
        return self.shutdown(dom, reboot=True, wait=wait)

    def destroy(self, dom):
        """Stops the domain at once and forgets it."""
        return self.request("DELETE", f"/v1/domains/{_dom(dom)}")

    def block(self, dom):
        """The domain's disks with their I/O counters, in the guest's order."""
        return self.request("GET", f"/v1/domains/{_dom(dom)}/block")["disks"]

    def network(self, dom):
        """The domain's network interfaces with addresses and counters."""
        return self.request("GET", f"/v1/domains/{_dom(dom)}/network")["interfaces"]

    def console(self, dom):
        """The domain's console as a binary file object (read and write), the last 64 KiB
        of output first; close it to detach."""
        return os.fdopen(self._h.console_open(str(dom)), "r+b", buffering=0)

    # ---- CPUs, memory, figures ----

    def vcpus(self, dom):
        """The domain's vCPUs: host CPU last run on, state, time, affinity."""
        return self.request("GET", f"/v1/domains/{_dom(dom)}/vcpus")["vcpus"]

    def vcpu_pin(self, dom, vcpu, cpus):
        """Lets one vCPU run only on the host CPUs of cpus ("0-3,6" or "all")."""
        return self.request("POST", f"/v1/domains/{_dom(dom)}/vcpu-pin",
                            {"vcpu": int(vcpu), "cpus": str(cpus)})["vcpus"]

    def sched(self, dom, weight=None, cap=None):
        """The domain's credit scheduler weight and cap; with either given, sets it first."""
        if weight is None and cap is None:
            return self.request("GET", f"/v1/domains/{_dom(dom)}/sched")
        body = {k: int(v) for k, v in (("weight", weight), ("cap", cap)) if v is not None}
        return self.request("PUT", f"/v1/domains/{_dom(dom)}/sched", body)

    def mem_set(self, dom, mib):
        """Moves the domain's balloon: the guest keeps mib MiB; returns its stats."""
        return self.request("PUT", f"/v1/domains/{_dom(dom)}/memory",
                            {"target_mib": int(mib)})

    def mem_max(self, dom, mib):
        """Sets the domain's maxmem (the ceiling of mem_set, at most the RAM it booted
        with); returns its stats."""
        return self.request("PUT", f"/v1/domains/{_dom(dom)}/maxmem",
                            {"maxmem_mib": int(mib)})

    # ---- save and restore ----

    def save(self, dom, path, checkpoint=False):
        """xm save: writes the domain's whole state to path, a file on xend's host
        (relative paths are taken from this process's directory), and ends the domain
        (event "destroyed", reason "saved"); with checkpoint, the domain goes on running.
        Returns {"path", "file_bytes", "memory_bytes", "ms"}.  A large domain takes a while:
        the call waits up to 35 minutes."""
        return self._h.save(str(dom), os.path.abspath(path), bool(checkpoint))

    def restore(self, path, paused=False, name=None, fast=False, copy=False):
        """xm restore: brings back the domain saved in path (a new id; its name, or name;
        the same disks, MACs and addresses) and returns its record.  paused leaves it
        paused; fast skips the check of its memory's checksums; copy reads the memory into
        RAM rather than mapping the file.  A bad file, a name, disk or address in use, or
        too little memory raise xeno.Error with xend's reason, and nothing is started."""
        domid = self._h.restore(os.path.abspath(path), bool(paused),
                                None if name is None else str(name), bool(fast), bool(copy))
        return self.domain(domid)

    def stats(self, dom=None):
        """One domain's figures, or every domain's ({"time", "domains"})."""
        if dom is None:
            return self.request("GET", "/v1/stats")
        return self.request("GET", f"/v1/domains/{_dom(dom)}/stats")

    # ---- events ----

    def events(self, timeout=None):
        """The domain events from now on, as dicts in the order they happen: seq, time,
        event ("created", "paused", "unpaused", "shutdown", "crashed", "restarted",
        "destroyed"; or "lost" when events may have been missed, as across an xend
        restart), domid, name, state (right after the event; "" once destroyed) and reason
        ("poweroff" or "reboot" for a shutdown, what happened for a crash).  The watch
        starts when this is called, not at the first next().  With timeout (seconds), the
        iteration ends once that long passes without an event; without, it never ends.
        While xend cannot be reached, next() raises xeno.Error; call next() again to go on
        from the same place."""
        self._h.events_open()
        return Events(self._h, -1 if timeout is None else max(0, int(timeout * 1000)))

    # ---- host ----

    def host(self):
        """Host facts (xm info)."""
        return self.request("GET", "/v1/host")

    def version(self):
        return self.request("GET", "/v1/version")
