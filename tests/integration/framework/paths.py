# SPDX-License-Identifier: GPL-2.0-only
"""Where the binaries and the default guest image are (overridable by environment)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("XENO_BUILD_DIR", REPO / "build"))
XENO_VMM = Path(os.environ.get("XENO_VMM", BUILD / "xeno-vmm"))
GUEST_DIR = Path(os.environ.get("XENO_GUEST_DIR",
                                Path(os.environ.get("XENO_CACHE", "/var/cache/xeno")) / "guest"))
GUEST_KERNEL = GUEST_DIR / "vmlinuz"
GUEST_VMLINUX = GUEST_DIR / "vmlinux"
GUEST_INITRD = GUEST_DIR / "initrd.img"
GUEST_READY = "xeno-guest: ready"
# The root shell's prompt (guest/rootfs/etc/profile): typing before it appears can lose input,
# because the shell flushes pending input when it sets up line editing.
GUEST_PROMPT = r"# "
