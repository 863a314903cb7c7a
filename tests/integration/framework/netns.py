# SPDX-License-Identifier: GPL-2.0-only
"""Network namespaces made by a test, and removed after it: network tests never touch the
host's own interfaces, routes or firewall, and send traffic only inside these."""
import itertools
import os
import subprocess

_serial = itertools.count()


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Netns:
    def __init__(self):
        self.name = f"xt{os.getpid()}n{next(_serial)}"
        sh("ip", "netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *args, check=True):
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def popen(self, args, **kwargs):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args], **kwargs)

    def prefix(self):
        """The argv prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def delete(self):
        sh("ip", "netns", "delete", self.name, check=False)
