"""``harness up | status | fault | down`` as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.hsm


def harness(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(runs_root: Path) -> dict[str, str]:
    return dict(os.environ) | {"HARNESS_RUNS": str(runs_root)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_up_status_fault_down(env: dict[str, str]) -> None:
    up = harness("up", "--json", env=env)
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    run = Path(started["run_dir"])
    pid = int((run / "daemon.pid").read_text())
    try:
        assert set(started["nodes"]) == {"orderer0", "peer0.org1", "peer0.org2"}
        assert started["ready_s"] > 0
        assert (run / "connection-profile.json").is_file()

        status = harness("status", "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert all(
            node["healthy"] for node in json.loads(status.stdout)["nodes"].values()
        )

        assert harness("fault", "stop", "peer0.org2", env=env).returncode == 0
        failing = harness("status", "--json", env=env)
        assert failing.returncode == 1
        nodes = json.loads(failing.stdout)["nodes"]
        assert not nodes["peer0.org2"]["healthy"]
        assert nodes["peer0.org1"]["healthy"]

        unknown = harness("fault", "stop", "peer9", env=env)
        assert unknown.returncode == 2
        assert "no node 'peer9'" in unknown.stderr
        assert harness("fault", "start", "peer0.org2", env=env).returncode == 0
    finally:
        down = harness("down", "--json", env=env)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["status"] == "stopped"
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_up_with_a_bad_spec_is_one_line_and_starts_nothing(
    env: dict[str, str], tmp_path: Path, runs_root: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\norgz: []\n")

    done = harness("up", "--network", str(bad), env=env)

    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "orgz" in done.stderr
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_status_without_a_network_names_the_command(env: dict[str, str]) -> None:
    done = harness("status", env=env)

    assert done.returncode == 2
    assert "no earlier 'network' run" in done.stderr
    assert "run 'harness up' first" in done.stderr


def _endorse(address: str, timeout: float = 10) -> str:
    """An empty proposal to a peer's Endorser: ``answered`` (its 500 refusal) or
    the gRPC status name of the failure."""
    import grpc
    from fabric_protos.peer import peer_pb2_grpc, proposal_pb2

    with grpc.insecure_channel(address) as channel:
        stub = peer_pb2_grpc.EndorserStub(channel)
        try:
            stub.ProcessProposal(proposal_pb2.SignedProposal(), timeout=timeout)
        except grpc.RpcError as exc:
            return str(exc.code().name)
    return "answered"


def test_fault_pause_resume_latency_drop(env: dict[str, str]) -> None:
    up = harness("up", "--json", env=env)
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    address = started["nodes"]["peer0.org1"]["address"]
    try:
        assert _endorse(address) == "answered"

        assert harness("fault", "pause", "peer0.org1", env=env).returncode == 0
        assert _endorse(address, timeout=0.5) == "DEADLINE_EXCEEDED"
        status = json.loads(harness("status", "--json", env=env).stdout)
        assert not status["nodes"]["peer0.org1"]["healthy"]
        assert harness("fault", "resume", "peer0.org1", env=env).returncode == 0
        assert _endorse(address) == "answered"

        latency = harness("fault", "latency", "peer0.org1", "--value", "300", env=env)
        assert latency.returncode == 0, latency.stderr
        assert "latency 300 on peer0.org1" in latency.stdout
        begun = time.monotonic()
        assert _endorse(address) == "answered"
        assert time.monotonic() - begun >= 0.3  # a lower bound only
        harness("fault", "latency", "peer0.org1", "--value", "0", env=env)

        drop = harness("fault", "drop", "peer0.org1", "--value", "1", env=env)
        assert drop.returncode == 0, drop.stderr
        assert _endorse(address) == "UNAVAILABLE"
        harness("fault", "drop", "peer0.org1", "--value", "0", env=env)
        assert _endorse(address) == "answered"

        orderer = harness("fault", "latency", "orderer0", "--value", "5", env=env)
        assert orderer.returncode == 0, orderer.stderr
        bad = harness("fault", "drop", "peer0.org1", "--value", "1.5", env=env)
        assert bad.returncode == 2
        assert "between 0 and 1" in bad.stderr
    finally:
        down = harness("down", env=env)
    assert down.returncode == 0, down.stderr
