"""The whole system in process: the default network running the reference chaincodes
(file keys: HSM identities have their own scenario), eth-tester with the token
contract, and helpers to record emissions and inspect both ledgers."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.chaincode.seed import load_fixtures
from harness.ethereum import Chain, TokenClient
from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork
from harness.runs import RunDir
from harness.spec import NetworkSpec, load_spec

CHANNEL = "utilityemissionchannel"
IMPLEMENTATIONS = {"utilityemissions": "utilityemissions", "datalock": "datalock"}


def system_spec() -> NetworkSpec:
    spec = load_spec("default")
    orgs = tuple(dataclasses.replace(org, identities="files") for org in spec.orgs)  # type: ignore[arg-type]
    chaincodes = tuple(
        dataclasses.replace(cc, implementation=IMPLEMENTATIONS.get(cc.name, cc.name))
        for cc in spec.chaincodes
    )
    return dataclasses.replace(spec, orgs=orgs, chaincodes=chaincodes)


@dataclass
class System:
    network: SimNetwork
    fabric: FabricClient
    chain: Chain
    token: TokenClient

    def record(
        self, count: int, *, thru: str = "2019-03-31T23:59:59Z"
    ) -> tuple[str, list[str]]:
        """``count`` fresh emissions records of one new party; (party id, uuids)."""
        party = f"party-{uuid.uuid4().hex[:10]}"
        uuids = []
        for month in range(1, count + 1):
            start = f"2019-{month:02d}-01T00:00:00Z"
            end = thru if count == 1 else f"2019-{month:02d}-28T23:59:59Z"
            raw = self.fabric.submit(
                CHANNEL,
                "utilityemissions",
                "recordEmissions",
                ["USA_EIA_11208", party, start, end, str(100 * month), "kWh", "u", "m"],
            ).raise_for_code()
            uuids.append(json.loads(raw.payload)["uuid"])
        return party, uuids

    def state(self, namespace: str, key: str) -> Any:
        """A committed value as peer0.org1 holds it (None when absent)."""
        ledger = self.network.peers["peer0.org1"].ledger(CHANNEL)
        found = ledger.state.get(namespace, key)
        return None if found is None else json.loads(found.value)

    def lock_holder(self, uuid_: str) -> str | None:
        ledger = self.network.peers["peer0.org1"].ledger(CHANNEL)
        found = ledger.state.get("datalock", f"utilityemissions::{uuid_}")
        return None if found is None else found.value.decode()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    run = RunDir.create("system", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(system_spec(), run) as network:
        fabric = FabricClient.in_process(network, network.user("Org1", "user1"))
        load_fixtures(fabric)
        chain = Chain.eth_tester()
        token = TokenClient.deploy(chain)
        token.register_default_roles()
        yield System(network, fabric, chain, token)
        chain.close()


@pytest.fixture
def request_id() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
