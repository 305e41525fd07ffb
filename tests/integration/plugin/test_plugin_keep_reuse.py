"""--harness-keep leaves a failed session's network up and says how to reach it;
--harness-reuse attaches to it; the next plain session reaps it, also after the
pytest process that owned it was killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from harness.fabric._daemon import daemon_pid
from harness.runs import RunDir

KEEP_TESTS = """
def test_writes(carbon_system):
    party, uuids = carbon_system.record_emissions(1, party="kept-party")
    assert carbon_system.emissions(uuids[0]) is not None

def test_fails(carbon_system):
    assert False, "fails on purpose"
"""

REUSE_TESTS = """
from harness.fabric._reuse import AttachedNetwork

def test_attached(carbon_system, fabric_network):
    assert isinstance(fabric_network, AttachedNetwork)
    party, uuids = carbon_system.record_emissions(1, party="reuse-party")
    assert carbon_system.emissions(uuids[0])["partyId"]
    assert carbon_system.tokens_minted() == 0
"""


def test_keep_then_reuse_then_reap(inner) -> None:
    inner.pytester.makepyfile(test_keep=KEEP_TESTS)
    kept = inner.run("-q", "--harness-keep")
    kept.assert_outcomes(passed=1, failed=1)
    (run,) = inner.network_runs()
    kept.stdout.fnmatch_lines(
        [
            f"network left up after the failure: {run}",
            f"    connection profile: {run}/connection-profile.json",
            f"    attach: pytest --harness-reuse {run}",
            f"    stop:   harness down --run {run}",
        ]
    )
    pid = daemon_pid(RunDir(run))
    assert pid is not None
    ports = inner.ports_of(run)
    assert all(inner.listening(port) for port in ports)

    inner.pytester.makepyfile(test_keep="")
    inner.pytester.makepyfile(test_reuse=REUSE_TESTS)
    reused = inner.run("-q", "--harness-reuse", str(run))
    reused.assert_outcomes(passed=1)
    assert daemon_pid(RunDir(run)) == pid  # reuse never stops what it attached to

    plain = inner.run("-q", "-k", "nothing-matches")
    plain.stdout.fnmatch_lines(
        [f"stopped an orphan network of an earlier session: {run}"]
    )
    assert not inner.alive(pid)
    assert not any(inner.listening(port) for port in ports)


def test_keep_on_success_stops_the_network(inner) -> None:
    inner.pytester.makepyfile(test_ok="def test_ok(carbon_system):\n    pass\n")
    result = inner.run("-q", "--harness-keep")
    result.assert_outcomes(passed=1)
    (run,) = inner.network_runs()
    assert daemon_pid(RunDir(run)) is None
    assert "left up" not in result.stdout.str()


SLEEPER = """
import pathlib, time

def test_sleeps(carbon_system):
    pathlib.Path("network-is-up").write_text(str(carbon_system.run.path))
    time.sleep(120)
"""


def test_after_sigkill_the_next_session_leaves_no_orphan(inner) -> None:
    inner.pytester.makepyfile(test_sleeper=SLEEPER)
    marker = inner.pytester.path / "network-is-up"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--harness-keep"],
        cwd=inner.pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the network never came up"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    (run,) = inner.network_runs()
    pid = daemon_pid(RunDir(run))
    assert pid is not None, "SIGKILL should have left the daemon orphaned"
    ports = inner.ports_of(run)

    inner.pytester.makepyfile(test_sleeper="def test_quick():\n    pass\n")
    result = inner.run("-q")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"stopped an orphan network of an earlier session: {run}"]
    )
    assert not inner.alive(pid)
    assert not any(inner.listening(port) for port in ports)
    assert RunDir(run).status() == "stopped"


@pytest.mark.parametrize("pid_text", ["999999", "not-a-pid"])
def test_the_reaper_ignores_stale_pid_files(inner, pid_text: str) -> None:
    stale = inner.base() / "20200101-000000-network-abcdef"
    stale.mkdir(parents=True)
    (stale / "status").write_text("ready\n")
    (stale / "daemon.pid").write_text(pid_text)
    inner.pytester.makepyfile(test_quick="def test_quick():\n    pass\n")
    result = inner.run("-q")
    result.assert_outcomes(passed=1)
    assert "orphan" not in result.stdout.str()
