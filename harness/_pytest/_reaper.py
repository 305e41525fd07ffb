"""Orphans of earlier sessions: network daemons that a killed pytest process, or a
``--harness-keep`` after a failure, left running. They are found by their run
folders under ``<runs>/pytest-*/`` (``daemon.pid`` of a live daemon process whose
command line names that folder) and stopped. Networks that ``harness up`` started
by hand live elsewhere and are never touched."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.runs import RunDir

log = logging.getLogger(__name__)


def orphans(root: Path, *, spare: Path | None = None) -> list[RunDir]:
    """Run folders under ``root``'s plugin bases whose daemon still runs."""
    from harness.fabric._daemon import PID_FILE, daemon_pid

    found = []
    for pid_file in sorted(root.glob(f"pytest-*/*/{PID_FILE}")):
        run = RunDir(pid_file.parent.resolve())
        if spare is not None and run.path == spare.resolve():
            continue
        if daemon_pid(run) is not None:
            found.append(run)
    return found


def reap(root: Path, *, spare: Path | None = None) -> list[str]:
    """Stop every orphan daemon under ``root`` except ``spare``; what was done."""
    from harness.fabric._daemon import shutdown

    done = []
    for run in orphans(root, spare=spare):
        if shutdown(run, timeout=10.0):
            log.info("reaped the network daemon of %s", run.path)
            done.append(f"stopped an orphan network of an earlier session: {run.path}")
    return done
