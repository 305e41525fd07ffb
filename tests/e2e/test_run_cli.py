"""``harness run``: the main job as a user runs it."""

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
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def env(runs_root: Path) -> dict[str, str]:
    return dict(os.environ) | {"HARNESS_RUNS": str(runs_root)}


def test_run_without_arguments_is_lock_record_mint(env: dict[str, str]) -> None:
    done = harness("run", env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "scenario lock-record-mint on network 'default'" in done.stdout
    assert "PASSED" in done.stdout
    assert "[7/7] audit initech-2019" in done.stderr  # progress goes to stderr


def test_run_json_prints_the_report_object(env: dict[str, str]) -> None:
    done = harness("run", "contention", "--json", env=env)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["scenario"] == "contention"
    assert report["passed"] is True


def test_failed_checks_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    scenario = tmp_path / "too-many.yaml"
    scenario.write_text(
        "name: too-many\nsteps:\n  - seed\n  - record: {as: b}\n"
        "  - audit: {request: r, records: b}\nchecks:\n  - tokens-minted: 2\n"
    )

    done = harness("run", str(scenario), env=env)

    assert done.returncode == 1
    assert "tokens-minted" in done.stdout
    assert "1 minted, 2 expected" in done.stdout


def test_a_bad_scenario_file_is_one_line_exit_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nsteps:\n  - audti: {request: r, records: b}\n")

    done = harness("run", str(scenario), env=env)

    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "did you mean 'audit'" in done.stderr


def _stop(run: Path, env: dict[str, str]) -> None:
    down = harness("down", "--run", str(run), env=env)
    assert down.returncode == 0, down.stderr


def test_run_on_a_network_harness_up_started(
    env: dict[str, str], runs_root: Path
) -> None:
    up = harness("up", "--json", env=env)
    assert up.returncode == 0, up.stderr
    network = Path(json.loads(up.stdout)["run_dir"])
    try:
        done = harness("run", "lock-record-mint", "--run", str(network), env=env)
    finally:
        _stop(network, env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "(attached, request-manager)" in done.stdout
    assert "PASSED" in done.stdout
    assert f"attaching to the network in {network}" in done.stderr
    report = json.loads((runs_root / "latest-scenario" / "report.json").read_text())
    assert report["passed"] is True
    assert report["backend"] == "attached"
    assert report["fabric"]["network_run"] == str(network)
    assert report["fabric"]["tx_by_code"]["VALID"] >= 10
    assert report["ethereum"]["tokens_minted"] == 3
    assert {c["name"] for c in report["checks"] if c["passed"]} >= {
        "no-locks",
        "records-stamped",
        "quantity-matches",
        "tx-codes",
    }


def test_run_on_a_stopped_network_is_one_line_exit_2(
    env: dict[str, str], runs_root: Path
) -> None:
    stopped = runs_root / "gone"
    stopped.mkdir(parents=True)
    (stopped / "status").write_text("stopped\n")

    done = harness("run", "--run", str(stopped), env=env)

    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "is not running (status stopped)" in done.stderr


def test_run_with_both_network_and_run_is_exit_2(
    env: dict[str, str], runs_root: Path
) -> None:
    folder = runs_root / "up"
    folder.mkdir(parents=True)
    (folder / "status").write_text("ready\n")

    done = harness("run", "--run", str(folder), "--network", "files", env=env)

    assert done.returncode == 2
    assert "--network and --run" in done.stderr
