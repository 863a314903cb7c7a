# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for integration tests: real KVM guests, always torn down."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from framework import paths  # noqa: E402
from framework.netns import Netns, Topology  # noqa: E402
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


@pytest.fixture
def topology():
    """The networking tests' "host" and "outside" namespaces joined by the uplink veth
    (framework/netns.py), deleted afterwards.  Ask for it before xend_factory, so that it
    is torn down after the xends in it."""
    topo = Topology()
    yield topo
    topo.delete()


@pytest.fixture(autouse=True)
def free_tmp_path(request):
    """Removes a passed test's tmp_path once everything else is torn down.  In the test host
    /tmp is a tmpfs: disk images and save files left by every test (pytest keeps them for
    the whole session) would take the RAM later tests' guests need."""
    yield
    path = request.node.funcargs.get("tmp_path")
    if path is not None and not getattr(request.node, "xeno_failed", False):
        shutil.rmtree(path, ignore_errors=True)


# xend's fixture.
@pytest.fixture
def xend_factory(request):
    """Makes Xend objects (a temporary root each, in a network namespace of its own or in the
    host namespace of topology=...; start() them); at the end every domain is destroyed,
    every xend stopped, every root and every namespace of its own removed."""
    made = []
    request.node.xends = made  # for the failure report below

    def make(**kwargs):
        xend = Xend(**kwargs)
        made.append(xend)
        return xend

    yield make
    for xend in made:
        xend.cleanup()


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"({e.strerror})"
    return "\n".join(text.splitlines()[-lines:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran xend reports xend's log and, for every domain, the end of its
    VMM's log and console log: the evidence is gone once the fixture cleans up."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.xeno_failed = True  # its files stay for a look (free_tmp_path below)
    if report.when != "call" or not report.failed:
        return
    # The test host's kernel log: a VMM that vanished was killed by a signal (segfault,
    # OOM killer), and only the kernel says which.
    dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, check=False)
    report.sections.append(("kernel log (end)",
                            "\n".join((dmesg.stdout + dmesg.stderr).splitlines()[-30:])))
    # The test host's memory, which its /tmp (a tmpfs) shares with the guests.
    mem = subprocess.run(["sh", "-c", "free -m; df -m /tmp"], capture_output=True, text=True,
                         check=False)
    report.sections.append(("test host memory", mem.stdout + mem.stderr))
    for n, xend in enumerate(getattr(item, "xends", [])):
        report.sections.append((f"xend {n} log", tail(xend.log_file, 60)))
        report.sections.append((f"xend {n} stderr", tail(xend.stderr_file, 30)))
        # What each domain is now, and how each VMM that ended says it ended.
        try:
            doms = "\n".join(f"{d['id']} {d['name']} {d['state']} vmm_pid={d.get('vmm_pid')}"
                             for d in xend.domains()) if xend.running() else "xend is down"
        except Exception as e:  # the report must not fail on a broken xend
            doms = f"({e})"
        report.sections.append((f"xend {n} domains", doms))
        for status in sorted(xend.run_dir.glob("domains/*/status")):
            report.sections.append((f"xend {n} {status.parent.name}/status", tail(status)))
        for log in sorted(xend.state_dir.glob("domains/*/vmm.log")):
            report.sections.append((f"xend {n} {log.parent.name}/vmm.log", tail(log)))
        for log in sorted(xend.console_log_dir.glob("*.log")):
            report.sections.append((f"xend {n} console {log.name}", tail(log)))


# ---- Resuming after a test-host fault ----------------------------------------------------
# With XENO_RESUME_FILE set (make check sets it), every test that passed is appended to that
# file, and tests found there are not collected again.  When the emulated test host's own
# kernel faults (docs/DESIGN.md, "Test host"), tests/host/run --retries starts a new one and
# the suite goes on from the test it was in, instead of from the start.
RESUME_FILE = os.environ.get("XENO_RESUME_FILE")
_call_passed = set()
_resumed = []


def pytest_collection_modifyitems(config, items):
    if not RESUME_FILE or not os.path.exists(RESUME_FILE):
        return
    done = set(Path(RESUME_FILE).read_text().splitlines())
    _resumed.extend(i for i in items if i.nodeid in done)
    if _resumed:
        config.hook.pytest_deselected(items=list(_resumed))
        items[:] = [i for i in items if i.nodeid not in done]


def pytest_runtest_logreport(report):
    """A test counts as passed once its teardown passed after a passing call."""
    if not RESUME_FILE:
        return
    if report.when == "call" and report.passed:
        _call_passed.add(report.nodeid)
    elif report.when == "teardown" and report.nodeid in _call_passed:
        _call_passed.discard(report.nodeid)
        if report.passed:
            with open(RESUME_FILE, "a") as f:
                f.write(report.nodeid + "\n")
                f.flush()
                os.fsync(f.fileno())


def pytest_terminal_summary(terminalreporter):
    if _resumed:
        terminalreporter.write_line(
            f"{len(_resumed)} tests passed in an earlier test host (before it faulted) and "
            f"were not run again; they are listed in {RESUME_FILE}")
