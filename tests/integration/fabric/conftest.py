"""Simulated Fabric networks for the integration tests, and a read-modify-write
test chaincode that the validation tests need (kvstore only writes blindly)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.chaincode.shim import (
    Chaincode,
    ChaincodeStub,
    Response,
    error,
    register,
    success,
)
from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork
from harness.runs import RunDir
from harness.spec import Chaincode as ChaincodeSpec
from harness.spec import NetworkSpec, load_spec

CHANNEL = "utilityemissionchannel"


@register("counter")
class Counter(Chaincode):
    """``incr K`` reads K and writes K+1; ``get K``; ``scan START END MARK`` reads a key range
    and writes MARK (a writer whose range read can turn phantom)."""

    def invoke(self, stub: ChaincodeStub) -> Response:
        function, params = stub.get_function_and_parameters()
        if function == "incr":
            current = int(stub.get_state(params[0]) or b"0")
            stub.put_state(params[0], str(current + 1).encode())
            return success(str(current + 1).encode())
        if function == "get":
            value = stub.get_state(params[0])
            return success(value) if value is not None else error("not found", 404)
        if function == "scan":
            keys = [key for key, _ in stub.get_state_by_range(params[0], params[1])]
            stub.put_state(params[2], ",".join(keys).encode())
            return success(str(len(keys)).encode())
        return error(f"unknown function {function!r}")


def sim_spec(
    name: str = "default",
    *,
    identities: str = "files",
    max_message_count: int | None = None,
    batch_timeout_s: float | None = None,
) -> NetworkSpec:
    """A bundled spec with software keys (unless ``identities='hsm'``), the
    ``counter`` chaincode beside the others, and optionally other batch settings."""
    spec = load_spec(name)
    orgs = tuple(dataclasses.replace(org, identities=identities) for org in spec.orgs)  # type: ignore[arg-type]
    counter, kvstore = (
        ChaincodeSpec(
            name=name,
            implementation=name,
            endorsement_policy="MAJORITY Endorsement",
            channels=(CHANNEL,),
        )
        for name in ("counter", "kvstore")
    )
    channels = spec.channels
    if max_message_count is not None or batch_timeout_s is not None:
        channels = tuple(
            dataclasses.replace(
                channel,
                batch=dataclasses.replace(
                    channel.batch,
                    max_message_count=max_message_count
                    or channel.batch.max_message_count,
                    timeout_s=batch_timeout_s or channel.batch.timeout_s,
                ),
            )
            for channel in spec.channels
        )
    return dataclasses.replace(
        spec,
        orgs=orgs,
        channels=channels,
        chaincodes=(*spec.chaincodes, counter, kvstore),
    )


@pytest.fixture
def spec_factory() -> Callable[..., NetworkSpec]:
    """:func:`sim_spec`: a bundled spec adapted for these tests."""
    return sim_spec


@pytest.fixture
def start_network(tmp_path: Path) -> Iterator[Callable[[NetworkSpec], SimNetwork]]:
    """Start networks for this test only; every one is stopped afterwards."""
    started: list[SimNetwork] = []

    def start(spec: NetworkSpec) -> SimNetwork:
        run = RunDir.create("net", tmp_path / "runs")
        network = SimNetwork.start(spec, run)
        started.append(network)
        return network

    yield start
    for network in started:
        network.stop()


@pytest.fixture(scope="module")
def sim_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimNetwork]:
    """The default network with file keys, shared by a module's tests (each test
    uses keys of its own)."""
    run = RunDir.create("net", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(sim_spec(), run) as network:
        yield network


@pytest.fixture(scope="module")
def paired_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimNetwork]:
    """The default network cutting a block at every second envelope, so a test
    puts exactly two transactions in one block."""
    run = RunDir.create("net", tmp_path_factory.mktemp("runs"))
    spec = sim_spec(max_message_count=2, batch_timeout_s=5.0)
    with SimNetwork.start(spec, run) as network:
        yield network


@pytest.fixture
def client(sim_network: SimNetwork) -> FabricClient:
    """Org1's user1 on the shared network."""
    return FabricClient.in_process(sim_network, sim_network.user("Org1", "user1"))
