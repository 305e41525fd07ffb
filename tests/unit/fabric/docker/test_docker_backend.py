"""The Docker backend: one clear line without an engine; a live run where one is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import EngineUnavailableError
from harness.fabric.docker import DockerBackend, engine_client, engine_problem
from harness.runs import RunDir
from harness.spec import NETWORKS_DIR, NetworkSpec, parse_spec


def _file_keys_spec() -> NetworkSpec:
    """The default network with file keys (no SoftHSM2 library in the containers)."""
    data = yaml.safe_load((NETWORKS_DIR / "default.yaml").read_text())
    for org in data["orgs"]:
        org["identities"] = "files"
    return parse_spec(data, "default.yaml (file keys)")


def test_missing_engine_is_one_clear_line(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(EngineUnavailableError) as raised:
        engine_client(url)
    message = str(raised.value)
    assert message.startswith(f"no Docker engine answers at {url}: ")
    assert "\n" not in message
    assert raised.value.exit_code == 2


def test_up_without_engine_touches_nothing(tmp_path: Path) -> None:
    run = RunDir.create("network", root=tmp_path / "runs")
    backend = DockerBackend(
        _file_keys_spec(), run, url=f"unix://{tmp_path}/docker.sock"
    )
    with pytest.raises(EngineUnavailableError):
        backend.up()
    assert run.status() == "created"
    assert not (run.path / "crypto").exists()
    assert backend.health() == {}


@pytest.fixture
def docker_engine() -> None:
    problem = engine_problem()
    if problem is not None:
        pytest.skip(problem)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("docker_engine")
def test_live_network_comes_up_healthy_and_goes(tmp_path: Path) -> None:
    run = RunDir.create("network", root=tmp_path / "runs")
    backend = DockerBackend(_file_keys_spec(), run)
    backend.up()
    try:
        health = backend.health()
        assert set(health) == set(backend.spec.node_names)
        assert set(health.values()) == {"OK"}
        assert (run.path / "connection-profile.json").is_file()
    finally:
        backend.collect_logs()
        backend.down()
    client = engine_client()
    left = client.containers.list(
        all=True, filters={"label": f"harness.run={run.run_id}"}
    )
    assert left == []
    assert run.status() == "stopped"
