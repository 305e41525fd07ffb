"""A network as one process per node: started by playbooks/network.yml through
ansible-runner or directly by ``harness up --processes``, used by a gRPC client
built from the run folder and by a scenario whose checks read the ledgers over the
wire, and stopped without leaving a process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.fabric._reuse import attach
from harness.fabric.processes import node_pids, start_processes
from harness.iac import run_playbook
from harness.runs import RunDir
from harness.scenario import run_scenario
from harness.spec import load_spec

CHANNEL = "utilityemissionchannel"
GONE_WAIT_S = 20.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_gone(pids: list[int]) -> list[int]:
    """The pids still running after a generous deadline (a probe, not a timing)."""
    deadline = time.monotonic() + GONE_WAIT_S
    pause = threading.Event()
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        pause.wait(0.05)
    return [pid for pid in pids if _alive(pid)]


def _use(run: RunDir) -> None:
    """Submit from Org1 and read back through each peer, over gRPC."""
    with attach(run) as network:
        org1 = network.client("Org1", "user1")
        result = org1.submit(CHANNEL, "kvstore", "put", ["across", "processes"])
        assert result.code_name == "VALID"
        assert result.block >= 1
        org2 = network.client("Org2", "user1")
        for peer in ("peer0.org1", "peer0.org2"):
            got = org2.evaluate(CHANNEL, "kvstore", "get", ["across"], peer=peer)
            assert got == b"processes"


def _scenario(run: RunDir, root: Path) -> None:
    """lock-record-mint on the node processes passes, checks read over the wire."""
    report = run_scenario("lock-record-mint", run_root=root, attach=run)
    assert report.passed, [c.to_json() for c in report.steps + report.checks]
    assert report.backend == "attached"
    assert report.ethereum["tokens_minted"] == 3
    assert report.fabric["tx_by_code"]["VALID"] >= 10
    assert (Path(report.run_dir) / "report.json").is_file()


@pytest.mark.slow
def test_network_playbook_starts_node_processes_and_teardown_stops_them(
    tmp_path: Path,
) -> None:
    run = RunDir.create("network", tmp_path / "runs")
    nodes = start_processes(load_spec("files"), run, via="ansible")
    pids = node_pids(run)
    try:
        assert set(nodes) == {"orderer0", "peer0.org1", "peer0.org2"}
        assert set(pids) == set(nodes)
        assert all(_alive(pid) for pid in pids.values())
        assert len(set(pids.values())) == 3  # three processes, not one
        _use(run)
        _scenario(run, tmp_path / "scenario-runs")
    finally:
        teardown = run_playbook("teardown", run, tags=["processes"])

    assert teardown.rc == 0
    assert _wait_gone(list(pids.values())) == []
    assert node_pids(run) == {}
    assert run.status() == "stopped"


def _harness(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_harness_up_processes_then_down_leaves_no_node(runs_root: Path) -> None:
    env = dict(os.environ) | {"HARNESS_RUNS": str(runs_root)}
    up = _harness("up", "--processes", "--network", "files", "--json", env=env)
    assert up.returncode == 0, up.stderr
    run = RunDir.open(Path(json.loads(up.stdout)["run_dir"]))
    pids = list(node_pids(run).values())
    try:
        assert len(pids) == 3
        status = _harness("status", "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        _use(run)
        _scenario(run, runs_root)
    finally:
        down = _harness("down", "--json", env=env)

    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] == 3
    assert _wait_gone(pids) == []
