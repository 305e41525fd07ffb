"""The default network running the reference chaincodes, reached through the
harness's Fabric client (proposal, endorsement by both orgs, ordering, validation)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator

import pytest

from harness.chaincode.seed import SeedReport, load_fixtures
from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork
from harness.runs import RunDir
from harness.spec import NetworkSpec, load_spec

IMPLEMENTATIONS = {"utilityemissions": "utilityemissions", "datalock": "datalock"}


def chaincode_spec() -> NetworkSpec:
    """The default spec with file keys and the reference chaincodes, whatever the
    bundled spec's implementations say."""
    spec = load_spec("default")
    orgs = tuple(
        dataclasses.replace(org, identities="files")  # type: ignore[arg-type]
        for org in spec.orgs
    )
    chaincodes = tuple(
        dataclasses.replace(cc, implementation=IMPLEMENTATIONS.get(cc.name, cc.name))
        for cc in spec.chaincodes
    )
    return dataclasses.replace(spec, orgs=orgs, chaincodes=chaincodes)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimNetwork]:
    run = RunDir.create("net", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(chaincode_spec(), run) as started:
        yield started


@pytest.fixture(scope="module")
def org1(network: SimNetwork) -> FabricClient:
    """Org1's user1."""
    return FabricClient.in_process(network, network.user("Org1", "user1"))


@pytest.fixture(scope="module")
def org2(network: SimNetwork) -> FabricClient:
    """Org2's user1."""
    return FabricClient.in_process(network, network.user("Org2", "user1"))


@pytest.fixture(scope="module")
def seeded(org1: FabricClient) -> SeedReport:
    """The fixture rows, loaded once per module through the chaincode."""
    return load_fixtures(org1)


@pytest.fixture
def fresh() -> Callable[[str], str]:
    """A name no other test of the module uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"
