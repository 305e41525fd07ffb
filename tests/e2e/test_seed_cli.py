"""``harness seed`` into a network that ``harness up`` started, from another process
(its HSM-held users' keys opened through the run's SoftHSM2 token)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hsm


def harness(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip


def test_seed_imports_once_then_skips(runs_root: Path) -> None:
    env = dict(os.environ) | {"HARNESS_RUNS": str(runs_root)}
    up = harness("up", "--json", env=env)
    assert up.returncode == 0, up.stderr
    try:
        first = harness("seed", "--json", env=env)
        again = harness("seed", "--json", env=env)
    finally:
        harness("down", env=env)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["imported"] == 35
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped"] == 35
