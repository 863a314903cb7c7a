# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for integration tests: real KVM guests, always torn down."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from framework import paths  # noqa: E402
from framework.netns import Netns  # noqa: E402
from framework.vmm import Vmm  # noqa: E402
from framework.xend import Xend  # noqa: E402  (xend's fixture, below)


def pytest_sessionstart(session):
    """A test that needs KVM and finds none fails loudly: it never passes or skips."""
    problems = []
    if not os.path.exists("/dev/kvm"):
        problems.append("/dev/kvm does not exist (run the suite through tests/host/run)")
    if not paths.XENO_VMM.exists():
        problems.append(f"{paths.XENO_VMM} is not built (run make)")
    for f in (paths.GUEST_KERNEL, paths.GUEST_INITRD):
        if not f.exists():
            problems.append(f"{f} is missing (run guest/build.sh)")
    if problems:
        raise pytest.UsageError("cannot run the integration tests:\n  " + "\n  ".join(problems))


@pytest.fixture
def vmm_factory(tmp_path):
    """Makes Vmm objects; every one still running at the end of the test is killed."""
    made = []

    def make(**kwargs):
        vmm = Vmm(tmp_path, **kwargs)
        made.append(vmm)
        return vmm

    yield make
    for vmm in made:
        vmm.kill()


@pytest.fixture
def netns():
    """A network namespace of the test's own, deleted afterwards with everything in it."""
    ns = Netns()
    yield ns
    ns.delete()


# xend's fixture.
@pytest.fixture
def xend_factory():
    """Makes Xend objects (a temporary root each; start() them); at the end every domain is
    destroyed, every xend stopped and every root removed."""
    made = []

    def make(**kwargs):
        xend = Xend(**kwargs)
        made.append(xend)
        return xend

    yield make
    for xend in made:
        xend.cleanup()
