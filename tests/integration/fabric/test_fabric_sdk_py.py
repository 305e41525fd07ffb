"""fabric-sdk-py's own client against the simulator on the wire.

Nothing of the harness's client is used here: ``hfc.fabric.Client`` loads the run's
``connection-profile.json``, builds its user from the profile's key and certificate
files, sends proposals to the peers' Endorser service, broadcasts to the orderer,
and waits for the commit on the peers' Deliver service, all over gRPC on loopback.
:mod:`harness.fabric.sdkcompat` only makes fabric-sdk-py's generated protobuf modules
importable on this protobuf runtime.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.fabric import sdkcompat
from harness.fabric.grpc import PROFILE_NAME, ServedNetwork, serve_network
from harness.fabric.sim import SimNetwork
from harness.runs import RunDir
from harness.spec import load_spec

pytest.importorskip("hfc", reason="fabric-sdk-py is not installed")
pytest.importorskip("aiogrpc", reason="fabric-sdk-py's runtime (aiogrpc) is missing")
sdkcompat.install()

from hfc.fabric import Client  # noqa: E402  (needs the import hook above)

CHANNEL = "utilityemissionchannel"
CHAINCODE = "kvstore"  # the test chaincode in networks/files.yaml
PEERS = ["peer0.org1", "peer0.org2"]  # one per org: MAJORITY of two orgs needs both
EVENT_TIMEOUT_S = 10
T = TypeVar("T")


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNetwork]:
    # Key files, not an HSM: fabric-sdk-py signs only with a PEM key it can read.
    run = RunDir.create("network", tmp_path_factory.mktemp("runs"))
    network = SimNetwork.start(load_spec("files"), run)
    try:
        on_wire = serve_network(network, tls="none")
        try:
            yield on_wire
        finally:
            on_wire.stop()
    finally:
        network.stop()


@pytest.fixture(autouse=True)
def _quiet_sdk() -> Iterator[None]:
    # hfc.fabric.client attaches its own console handler at DEBUG and logs every
    # proposal; keep failure reports readable.
    logger = logging.getLogger("hfc.fabric.client")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def _with_client(
    wire: ServedNetwork, scenario: Callable[[Any, Any], Awaitable[T]]
) -> T:
    """Run ``scenario(client, user)`` in a fresh event loop.

    The client is built inside the loop: aiogrpc binds each channel to the loop that
    is current when the channel is created.
    """
    profile = Path(wire.network.run.path) / PROFILE_NAME

    async def main() -> T:
        client = Client(net_profile=str(profile))
        client.new_channel(CHANNEL)
        user = client.get_user("Org1", "user1")
        assert user is not None, "the profile names Org1's user1 with its key files"
        return await scenario(client, user)

    return asyncio.run(main())


def _key() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


def test_profile_user_is_a_file_key_identity(wire: ServedNetwork) -> None:
    async def scenario(client: Any, user: Any) -> Any:
        return user

    user = _with_client(wire, scenario)

    certificate = Path(wire.network.user("Org1", "user1").msp_dir) / "signcerts"
    assert user.msp_id == "Org1MSP"
    assert user.enrollment.cert in [p.read_bytes() for p in certificate.glob("*.pem")]


def test_invoke_waits_for_the_commit_then_another_org_reads_it(
    wire: ServedNetwork,
) -> None:
    key = _key()

    async def scenario(client: Any, user: Any) -> tuple[str, dict[str, Any], str]:
        result = await client.chaincode_invoke(
            requestor=user,
            channel_name=CHANNEL,
            peers=PEERS,
            cc_name=CHAINCODE,
            fcn="put",
            args=[key, "42"],
            wait_for_event=True,
            wait_for_event_timeout=EVENT_TIMEOUT_S,
        )
        events = client.evts[client.evt_tx_id]
        value = await client.chaincode_query(
            requestor=user,
            channel_name=CHANNEL,
            peers=["peer0.org2"],
            cc_name=CHAINCODE,
            fcn="get",
            args=[key],
        )
        return result, events, value

    result, events, value = _with_client(wire, scenario)

    assert result == ""  # kvstore's put answers an empty payload
    # wait_for_event listened on every endorsing peer's filtered Deliver stream.
    statuses = [event["tx_status"] for event in events["txEvents"]]
    assert statuses == ["VALID", "VALID"]
    assert len({event["block_number"] for event in events["txEvents"]}) == 1
    assert value == "42"


def test_full_block_replay_decodes_with_the_sdks_block_decoder(
    wire: ServedNetwork,
) -> None:
    key = _key()

    async def scenario(client: Any, user: Any) -> tuple[str, list[dict[str, Any]]]:
        await client.chaincode_invoke(
            requestor=user,
            channel_name=CHANNEL,
            peers=PEERS,
            cc_name=CHAINCODE,
            fcn="put",
            args=[key, "v"],
            wait_for_event=True,
            wait_for_event_timeout=EVENT_TIMEOUT_S,
        )
        tx_id = client.evt_tx_id
        channel = client.get_channel(CHANNEL)
        hub = channel.newChannelEventHub(client.get_peer("peer0.org1"), user)
        blocks: list[dict[str, Any]] = []
        hub.registerBlockEvent(
            onEvent=blocks.append, start=0, stop="newest", unregister=False
        )
        stream = hub.connect(filtered=False)
        # The hub cancels its own stream after the newest block; that ends it.
        await asyncio.wait_for(
            asyncio.gather(stream, return_exceptions=True), EVENT_TIMEOUT_S
        )
        return tx_id, blocks

    tx_id, blocks = _with_client(wire, scenario)

    assert [b["header"]["number"] for b in blocks] == list(range(len(blocks)))
    found = [
        (block, index)
        for block in blocks
        for index, tx in enumerate(block["data"]["data"])
        if tx["payload"]["header"]["channel_header"]["tx_id"] == tx_id
    ]
    assert len(found) == 1, f"tx {tx_id} in {len(found)} blocks"
    block, index = found[0]
    assert block["metadata"]["metadata"][2][index] == 0  # TRANSACTIONS_FILTER: VALID
    action = block["data"]["data"][index]["payload"]["data"]["actions"][0]
    endorsed = action["payload"]["action"]
    writes = endorsed["proposal_response_payload"]["extension"]["results"]
    written = [
        (w["key"], w["value"])
        for ns in writes["ns_rwset"]
        if ns["namespace"] == CHAINCODE
        for w in ns["rwset"]["writes"]
    ]
    assert written == [(key, b"v")]
    endorsers = {e["endorser"]["mspid"] for e in endorsed["endorsements"]}
    assert endorsers == {"Org1MSP", "Org2MSP"}


def test_chaincode_errors_reach_the_sdk(wire: ServedNetwork) -> None:
    async def scenario(client: Any, user: Any) -> str:
        with pytest.raises(Exception, match="not a kvstore function"):
            await client.chaincode_query(
                requestor=user,
                channel_name=CHANNEL,
                peers=["peer0.org1"],
                cc_name=CHAINCODE,
                fcn="nosuchfunction",
                args=[],
            )
        # fabric-sdk-py's invoke returns the endorsers' messages instead of raising.
        answer: str = await client.chaincode_invoke(
            requestor=user,
            channel_name=CHANNEL,
            peers=PEERS,
            cc_name=CHAINCODE,
            fcn="nosuchfunction",
            args=[],
            wait_for_event=True,
            wait_for_event_timeout=EVENT_TIMEOUT_S,
        )
        return answer

    answer = _with_client(wire, scenario)

    assert "METHOD_NOT_SUPPORTED" in answer
