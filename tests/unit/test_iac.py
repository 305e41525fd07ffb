"""Playbooks through ansible-runner: syntax of each, and the ones that run here."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.iac import playbooks, run_playbook
from harness.runs import RunDir
from harness.spec import PortBlock, load_spec


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir.create("playbook", root=tmp_path / "runs")


def test_the_four_playbooks_ship() -> None:
    assert {"softhsm", "network", "fabric-docker", "teardown"} <= set(playbooks())


@pytest.mark.parametrize("name", playbooks())
def test_syntax_check_passes(name: str, run: RunDir) -> None:
    result = run_playbook(name, run, syntax_check=True)
    assert result.rc == 0
    assert result.status == "successful"
    assert result.artifacts.is_relative_to(run.path / "ansible")
    assert (result.artifacts / "stdout").is_file()
    assert (run.path / f"playbook-{name}.json").is_file()


def test_unknown_playbook_lists_the_known_ones(run: RunDir) -> None:
    with pytest.raises(ConfigError, match=r"playbooks: .*softhsm"):
        run_playbook("softhsm2", run)


def test_network_vars_name_every_node_with_its_health_port() -> None:
    from harness.iac import network_vars

    spec = load_spec("raft3")
    nodes = network_vars(spec, PortBlock(21000, 40))["harness_nodes"]
    assert [node["name"] for node in nodes] == list(spec.node_names)
    assert len({node["operations_port"] for node in nodes}) == len(nodes)


@pytest.mark.hsm
def test_softhsm_playbook_initialises_the_token_once(
    run: RunDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.hsm import DEFAULT_PIN, SoftHsm

    monkeypatch.delenv("HARNESS_HSM_PIN", raising=False)
    for _ in range(2):  # the second run finds the label and changes nothing
        result = run_playbook("softhsm", run, skip_tags=["install"])
        assert result.rc == 0
    assert SoftHsm.open(run.path / "softhsm").labels() == ["ForFabric"]
    assert DEFAULT_PIN not in (result.artifacts / "stdout").read_text()


def test_teardown_leaves_no_process_behind(run: RunDir) -> None:
    process = subprocess.Popen(["sleep", "300"])
    reaper = threading.Thread(target=process.wait, daemon=True)
    reaper.start()
    pids = run.path / "pids"
    pids.mkdir()
    (pids / "peer0.org1.pid").write_text(f"{process.pid}\n")
    try:
        result = run_playbook("teardown", run)
        reaper.join(timeout=5)
        assert result.rc == 0
        assert process.returncode == -15  # stopped by SIGTERM, not left running
        assert not list(pids.glob("*.pid"))
        assert run.status() == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
