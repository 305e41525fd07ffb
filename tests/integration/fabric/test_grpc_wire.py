"""The simulator on the wire: Fabric's own gRPC services on loopback, reached by the
harness's client and by a Gateway client built from nothing but the protobuf stubs."""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import proposal_pb2, transaction_pb2

from harness.fabric._messages import new_proposal, serialize_identity, sign_proposal
from harness.fabric.client import FabricClient
from harness.fabric.grpc import ServedNetwork, serve_network
from harness.fabric.grpc._endpoints import EndpointError
from harness.fabric.sim import SimNetwork
from harness.fabric.sim._block import check_link
from harness.runs import RunDir

from .conftest import sim_spec

pytestmark = pytest.mark.hsm

CHANNEL = "utilityemissionchannel"
CHAINCODE = "kvstore"
VALID = transaction_pb2.TxValidationCode.Value("VALID")


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNetwork]:
    run = RunDir.create("network", tmp_path_factory.mktemp("runs"))
    network = SimNetwork.start(sim_spec("default", identities="hsm"), run)
    try:
        on_wire = serve_network(network)
        try:
            yield on_wire
        finally:
            on_wire.stop()
    finally:
        network.stop()


def _client(wire: ServedNetwork) -> FabricClient:
    network = wire.network
    user = network.user("Org1", "user1")
    peers = [wire.peer_endpoint(name, user) for name in network.peers]
    orderer = wire.orderer_endpoint(network.spec.orderer.nodes[0])

    def choose(channel: str, chaincode: str) -> list[str]:
        return [peer.name for peer in network.endorsers(channel, chaincode)]

    return FabricClient(user, peers, orderer, choose_endorsers=choose)


def test_harness_client_over_grpc_commits_and_reads_back(wire: ServedNetwork) -> None:
    client = _client(wire)

    result = client.submit(CHANNEL, CHAINCODE, "put", ["wire-key", "wire-value"])

    assert result.code_name == "VALID"
    assert result.block >= 1  # block 0 is the genesis config block
    assert client.evaluate(CHANNEL, CHAINCODE, "get", ["wire-key"]) == b"wire-value"


def test_gateway_client_from_the_protobuf_stubs_alone(wire: ServedNetwork) -> None:
    user = wire.network.user("Org2", "user1")
    peer = wire.servers["peer0.org2"]
    gateway = gateway_pb2_grpc.GatewayStub(grpc.insecure_channel(peer.address))
    proposal, tx_id = new_proposal(
        user, CHANNEL, CHAINCODE, ["put", "gw-key", "gw-value"]
    )
    signed = sign_proposal(proposal, user.signer)

    endorsed = gateway.Endorse(
        gateway_pb2.EndorseRequest(
            transaction_id=tx_id, channel_id=CHANNEL, proposed_transaction=signed
        ),
        timeout=30,
    )
    envelope = endorsed.prepared_transaction
    envelope.signature = user.signer.sign(envelope.payload)
    gateway.Submit(
        gateway_pb2.SubmitRequest(
            transaction_id=tx_id, channel_id=CHANNEL, prepared_transaction=envelope
        ),
        timeout=30,
    )
    request = gateway_pb2.CommitStatusRequest(
        transaction_id=tx_id,
        channel_id=CHANNEL,
        identity=serialize_identity(user.msp_id, user.certificate_pem),
    ).SerializeToString()
    status = gateway.CommitStatus(
        gateway_pb2.SignedCommitStatusRequest(
            request=request, signature=user.signer.sign(request)
        ),
        timeout=30,
    )

    assert status.result == VALID
    query, _ = new_proposal(user, CHANNEL, CHAINCODE, ["get", "gw-key"])
    answer = gateway.Evaluate(
        gateway_pb2.EvaluateRequest(
            channel_id=CHANNEL, proposed_transaction=sign_proposal(query, user.signer)
        ),
        timeout=30,
    )
    assert answer.result.payload == b"gw-value"


def test_gateway_reports_a_chaincode_error_as_grpc_status(wire: ServedNetwork) -> None:
    user = wire.network.user("Org1", "user1")
    gateway = gateway_pb2_grpc.GatewayStub(
        grpc.insecure_channel(wire.servers["peer0.org1"].address)
    )
    proposal, _ = new_proposal(user, CHANNEL, "no-such-chaincode", ["get", "k"])

    with pytest.raises(grpc.RpcError) as caught:
        gateway.Evaluate(
            gateway_pb2.EvaluateRequest(
                channel_id=CHANNEL,
                proposed_transaction=sign_proposal(proposal, user.signer),
            ),
            timeout=30,
        )
    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    assert "no-such-chaincode" in caught.value.details()


def test_deliver_streams_a_valid_hash_chain_and_filtered_codes(
    wire: ServedNetwork,
) -> None:
    client = _client(wire)
    committed = client.submit(CHANNEL, CHAINCODE, "put", ["chain-key", "v"])
    endpoint = client.peers["peer0.org1"]

    blocks = endpoint.blocks(CHANNEL, 0, committed.block)  # type: ignore[attr-defined]
    filtered = endpoint.blocks(  # type: ignore[attr-defined]
        CHANNEL, committed.block, committed.block, filtered=True
    )

    assert [b.header.number for b in blocks] == list(range(committed.block + 1))
    for previous, block in itertools.pairwise(blocks):
        check_link(previous, block)
    [last] = filtered
    codes = {tx.txid: tx.tx_validation_code for tx in last.filtered_transactions}
    assert codes[committed.tx_id] == VALID


def test_broadcast_answers_bad_request_for_garbage(wire: ServedNetwork) -> None:
    orderer = wire.servers[wire.network.spec.orderer.nodes[0]]
    stub = ab_pb2_grpc.AtomicBroadcastStub(grpc.insecure_channel(orderer.address))

    [reply] = list(
        stub.Broadcast(iter([common_pb2.Envelope(payload=b"\xff")]), timeout=10)
    )

    assert common_pb2.Status.Name(reply.status) == "BAD_REQUEST"


def test_one_broadcast_stream_carries_concurrent_transactions(
    wire: ServedNetwork,
) -> None:
    client = _client(wire)
    client.submit(CHANNEL, CHAINCODE, "put", ["stream-first", "1"])
    stream = client.orderer._stream  # type: ignore[attr-defined]

    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(
                lambda i: client.submit(
                    CHANNEL, CHAINCODE, "put", [f"stream-{i}", "v"]
                ),
                range(48),
            )
        )

    assert {result.code_name for result in results} == {"VALID"}
    assert client.orderer._stream is stream  # type: ignore[attr-defined]


def test_a_refused_envelope_costs_the_others_on_its_stream_nothing(
    wire: ServedNetwork,
) -> None:
    # The orderer ends a Broadcast stream after an answer other than SUCCESS, as
    # Fabric's does; envelopes queued behind the refused one go out again.
    client = _client(wire)
    garbage = common_pb2.Envelope(payload=b"\xff").SerializeToString()
    prepared = [
        client.endorse(CHANNEL, CHAINCODE, "put", [f"refused-{i}", "v"])
        for i in range(40)
    ]

    def send(item: object) -> str:
        envelope = garbage if item is None else item.envelope_bytes  # type: ignore[attr-defined]
        try:
            client.orderer.broadcast(envelope)
        except EndpointError as exc:
            return exc.status
        return "SUCCESS"

    batch: list[object] = []
    for index, tx in enumerate(prepared):
        batch.append(tx)
        if index % 5 == 0:
            batch.append(None)
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, batch))

    pairs = list(zip(statuses, batch, strict=True))
    assert [status for status, item in pairs if item is None] == ["BAD_REQUEST"] * 8
    assert {status for status, item in pairs if item is not None} == {"SUCCESS"}
    for tx in prepared:
        assert client.wait_for_commit(tx).code_name == "VALID"


def test_operations_endpoints(wire: ServedNetwork) -> None:
    peer = wire.servers["peer0.org1"]
    with urllib.request.urlopen(peer.ops_url + "/healthz", timeout=5) as reply:
        assert json.loads(reply.read()) == {"status": "OK"}
    with urllib.request.urlopen(peer.ops_url + "/metrics", timeout=5) as reply:
        metrics = reply.read().decode()
    assert f'ledger_blockchain_height{{channel="{CHANNEL}"}}' in metrics


def test_connection_profile_names_every_node(wire: ServedNetwork) -> None:
    profile_path = Path(wire.network.run.path) / "connection-profile.json"
    profile = json.loads(profile_path.read_text())

    assert set(profile["peers"]) == set(wire.network.peers)
    assert set(profile["orderers"]) == set(wire.network.spec.orderer.nodes)
    url = profile["peers"]["peer0.org1"]["url"]
    assert url == wire.servers["peer0.org1"].address  # fabric-sdk-py: no scheme
    assert profile["organizations"]["Org1"]["mspid"] == "Org1MSP"
    assert proposal_pb2  # the stubs used above are the official bindings
