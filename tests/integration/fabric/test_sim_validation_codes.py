"""Each validation code, produced through the client by the situation that gives it
in Fabric; invalid transactions stay in their block and leave state untouched."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.common import common_pb2

from harness.errors import BroadcastError
from harness.fabric._messages import new_envelope, new_proposal
from harness.fabric.client import (
    ChaincodeError,
    EndorsementError,
    FabricClient,
    PreparedTx,
    TransactionInvalidError,
)
from harness.fabric.sim import SimNetwork, TxStatus, to_envelope_bytes, tx_filter
from harness.fabric.sim._policy import parse_policy
from harness.identity import Organization
from harness.identity._signer import curve_order

CHANNEL = "utilityemissionchannel"
CC = "kvstore"
WAIT_S = 20.0  # a deadline for commits, never a timing assertion
ORG1 = ["peer0.org1"]
ORG2 = ["peer0.org2"]


def key(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def value_of(client: FabricClient, name: str, chaincode: str = CC) -> bytes | None:
    try:
        return client.evaluate(CHANNEL, chaincode, "get", [name])
    except ChaincodeError as exc:
        if exc.status != 404:
            raise
        return None


def reenvelope(
    prepared: PreparedTx,
    signer: object,
    *,
    tx_id: str | None = None,
    channel: str | None = None,
) -> PreparedTx:
    """The same transaction with its channel header edited and signed by ``signer``."""
    payload = common_pb2.Payload.FromString(prepared.envelope.payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    if tx_id is not None:
        header.tx_id = tx_id
    if channel is not None:
        header.channel_id = channel
    payload.header.channel_header = header.SerializeToString()
    data = payload.SerializeToString()
    envelope = common_pb2.Envelope(payload=data, signature=signer.sign(data))  # type: ignore[attr-defined]
    return dataclasses.replace(prepared, envelope=envelope, tx_id=header.tx_id)


def next_block(network: SimNetwork, height: int) -> common_pb2.Block:
    block = network.peers["peer0.org1"].ledger(CHANNEL).wait_for_block(height, WAIT_S)
    assert block is not None, f"block {height} never committed"
    return block


def test_a_valid_transaction_commits_and_updates_state(
    client: FabricClient, sim_network: SimNetwork
) -> None:
    name = key("valid")
    result = client.submit(CHANNEL, CC, "put", [name, "v1"])
    assert (result.code, result.code_name) == (0, "VALID")
    assert result.raise_for_code() is result
    assert value_of(client, name) == b"v1"
    for peer in sim_network.peers.values():
        ledger = peer.ledger(CHANNEL)
        block = ledger.wait_for_block(result.block, WAIT_S)
        assert block is not None
        assert ledger.tx_status(result.tx_id) == TxStatus(0, result.block)
        assert tx_filter(block) == [0] * len(block.data.data)


def test_two_writers_of_one_key_in_one_block(paired_network: SimNetwork) -> None:
    client = FabricClient.in_process(
        paired_network, paired_network.user("Org1", "user1")
    )
    name = key("counter")
    first = client.endorse(CHANNEL, "counter", "incr", [name])
    second = client.endorse(CHANNEL, "counter", "incr", [name])
    client.broadcast(first)
    client.broadcast(second)
    results = [client.wait_for_commit(p, timeout=WAIT_S) for p in (first, second)]
    assert [r.code_name for r in results] == ["VALID", "MVCC_READ_CONFLICT"]
    assert results[0].block == results[1].block
    assert client.evaluate(CHANNEL, "counter", "incr", [name]) == b"2"  # one increment
    with pytest.raises(TransactionInvalidError, match="MVCC_READ_CONFLICT"):
        results[1].raise_for_code()


def test_a_range_read_invalidated_by_an_insert_is_a_phantom(
    client: FabricClient,
) -> None:
    prefix = key("range")
    client.submit(CHANNEL, "counter", "incr", [f"{prefix}/a"]).raise_for_code()
    scan = client.endorse(
        CHANNEL, "counter", "scan", [f"{prefix}/", f"{prefix}0", f"{prefix}-mark"]
    )
    client.submit(CHANNEL, "counter", "incr", [f"{prefix}/b"]).raise_for_code()
    result = client.submit_prepared(scan, timeout=WAIT_S)
    assert result.code_name == "PHANTOM_READ_CONFLICT"
    assert value_of(client, f"{prefix}-mark", "counter") is None


def test_one_org_cannot_satisfy_majority_of_two(client: FabricClient) -> None:
    name = key("majority")
    result = client.submit(CHANNEL, CC, "put", [name, "v"], endorsers=ORG1)
    assert result.code_name == "ENDORSEMENT_POLICY_FAILURE"
    assert value_of(client, name) is None  # state untouched


def test_a_key_level_policy_overrides_the_chaincode_policy(
    client: FabricClient,
) -> None:
    name = key("sbe")
    client.submit(CHANNEL, CC, "put", [name, "v0"]).raise_for_code()
    org1_only = to_envelope_bytes(parse_policy("OR('Org1MSP.peer')")).hex()
    client.submit(CHANNEL, CC, "setep", [name, org1_only]).raise_for_code()

    by_org1 = client.submit(CHANNEL, CC, "put", [name, "v1"], endorsers=ORG1)
    by_org2 = client.submit(CHANNEL, CC, "put", [name, "v2"], endorsers=ORG2)
    assert by_org1.code_name == "VALID"  # MAJORITY would have needed both orgs
    assert by_org2.code_name == "ENDORSEMENT_POLICY_FAILURE"
    assert value_of(client, name) == b"v1"


def test_a_high_s_envelope_signature_is_a_bad_creator_signature(
    client: FabricClient,
) -> None:
    name = key("highs")
    prepared = client.endorse(CHANNEL, CC, "put", [name, "v"])
    r, s = decode_dss_signature(prepared.envelope.signature)
    twin = encode_dss_signature(
        r, curve_order(client.identity.signer.public_key.curve) - s
    )
    envelope = common_pb2.Envelope(payload=prepared.envelope.payload, signature=twin)
    result = client.submit_prepared(dataclasses.replace(prepared, envelope=envelope))
    assert result.code_name == "BAD_CREATOR_SIGNATURE"
    assert value_of(client, name) is None


def test_an_envelope_signed_by_someone_else_is_a_bad_creator_signature(
    client: FabricClient, sim_network: SimNetwork
) -> None:
    prepared = client.endorse(CHANNEL, CC, "put", [key("forged"), "v"])
    forger = sim_network.user("Org2", "user1").signer
    forged = reenvelope(prepared, forger)
    assert client.submit_prepared(forged).code_name == "BAD_CREATOR_SIGNATURE"


def test_a_creator_from_an_unknown_ca_is_refused_then_invalid(
    client: FabricClient, sim_network: SimNetwork, tmp_path: Path
) -> None:
    rogue_org = Organization.create(tmp_path / "crypto", "Org1", msp_id="Org1MSP")
    rogue = rogue_org.enroll("user1", "client")
    rogue_client = FabricClient.in_process(sim_network, rogue)
    with pytest.raises(EndorsementError, match="access denied") as refused:
        rogue_client.endorse(CHANNEL, CC, "put", [key("rogue"), "v"])
    assert refused.value.status == 500

    # Endorsements obtained by a member, wrapped in the rogue's own transaction.
    name = key("rogue")
    honest = client.endorse(CHANNEL, CC, "put", [name, "v"])
    proposal, tx_id = new_proposal(rogue, CHANNEL, CC, ["put", name, "v"])
    envelope = new_envelope(proposal, list(honest.responses), rogue.signer)
    smuggled = dataclasses.replace(honest, tx_id=tx_id, envelope=envelope)
    assert client.submit_prepared(smuggled).code_name == "BAD_CREATOR_SIGNATURE"
    assert value_of(client, name) is None


def test_a_replayed_envelope_is_a_duplicate(
    client: FabricClient, sim_network: SimNetwork
) -> None:
    name = key("replay")
    prepared = client.endorse(CHANNEL, "counter", "incr", [name])
    assert client.submit_prepared(prepared).code_name == "VALID"
    height = sim_network.orderer(CHANNEL).height  # the next block is ours
    client.broadcast(prepared)
    block = next_block(sim_network, height)  # on peer0.org1, which gave the status
    assert tx_filter(block) == [9]  # DUPLICATE_TXID
    ledger = sim_network.peers["peer0.org2"].ledger(CHANNEL)
    assert ledger.wait_for_block(height, WAIT_S) is not None
    assert [s.code for s in ledger.tx_statuses(prepared.tx_id)] == [0, 9]
    assert value_of(client, name, "counter") == b"1"  # applied once


def test_the_same_envelope_twice_in_one_block(paired_network: SimNetwork) -> None:
    client = FabricClient.in_process(
        paired_network, paired_network.user("Org2", "user1")
    )
    prepared = client.endorse(CHANNEL, "counter", "incr", [key("twice")])
    ledger = paired_network.peers["peer0.org1"].ledger(CHANNEL)
    client.broadcast(prepared)
    client.broadcast(prepared)
    status = client.wait_for_commit(prepared, timeout=WAIT_S)
    block = ledger.block(status.block)
    assert list(block.data.data) == [prepared.envelope_bytes] * 2
    assert tx_filter(block) == [0, 9]


def test_a_tampered_tx_id_is_a_bad_proposal_txid(client: FabricClient) -> None:
    prepared = client.endorse(CHANNEL, CC, "put", [key("txid"), "v"])
    resigned = reenvelope(prepared, client.identity.signer, tx_id="ab" * 32)
    assert client.submit_prepared(resigned).code_name == "BAD_PROPOSAL_TXID"

    # Tampered but not signed again: the creator's signature check comes first.
    tampered = dataclasses.replace(
        resigned,
        tx_id="cd" * 32,
        envelope=common_pb2.Envelope(
            payload=reenvelope(
                prepared, client.identity.signer, tx_id="cd" * 32
            ).envelope.payload,
            signature=prepared.envelope.signature,
        ),
    )
    assert client.submit_prepared(tampered).code_name == "BAD_CREATOR_SIGNATURE"


def test_an_envelope_for_another_channel(
    client: FabricClient, sim_network: SimNetwork
) -> None:
    prepared = client.endorse(CHANNEL, CC, "put", [key("elsewhere"), "v"])
    moved = reenvelope(prepared, client.identity.signer, channel="otherchannel")
    with pytest.raises(BroadcastError) as refused:
        client.broadcast(moved)  # routed by channel: no such channel
    assert refused.value.status == "NOT_FOUND"

    sim_network.orderer(CHANNEL).broadcast(moved.envelope_bytes)  # slipped in anyway
    status = client.wait_for_commit(moved, timeout=WAIT_S)
    assert status.code_name == "TARGET_CHAIN_NOT_FOUND"


def test_garbage(client: FabricClient, sim_network: SimNetwork) -> None:
    orderer = sim_network.orderer(CHANNEL)
    with pytest.raises(BroadcastError) as refused:
        orderer.broadcast(b"\xff\xff\xff not an envelope")
    assert refused.value.status == "BAD_REQUEST"

    prepared = client.endorse(CHANNEL, CC, "put", [key("garbage"), "v"])
    payload = common_pb2.Payload.FromString(prepared.envelope.payload)
    payload.data = b"\xff\xff garbage where the transaction goes"
    data = payload.SerializeToString()
    envelope = common_pb2.Envelope(
        payload=data, signature=client.identity.signer.sign(data)
    )
    height = sim_network.orderer(CHANNEL).height  # the next block is ours
    orderer.broadcast(envelope.SerializeToString())
    block = next_block(sim_network, height)
    assert list(block.data.data) == [envelope.SerializeToString()]  # kept in the block
    assert tx_filter(block) == [2]  # BAD_PAYLOAD


def test_chaincode_errors_reach_the_client(client: FabricClient) -> None:
    with pytest.raises(ChaincodeError, match="STATE_NOT_FOUND") as raised:
        client.evaluate(CHANNEL, CC, "get", [key("missing")])
    assert raised.value.status == 404
    with pytest.raises(EndorsementError, match="METHOD_NOT_SUPPORTED"):
        client.submit(CHANNEL, CC, "nosuchfunction", [])
    with pytest.raises(EndorsementError, match="chaincode nosuchcc not found"):
        client.submit(CHANNEL, "nosuchcc", "put", ["k", "v"], endorsers=ORG1)
    with pytest.raises(EndorsementError, match="channel 'nochannel' not found"):
        client.submit("nochannel", CC, "put", ["k", "v"], endorsers=ORG1)


def test_invalid_transactions_stay_in_their_block(
    client: FabricClient, sim_network: SimNetwork
) -> None:
    name = key("kept")
    result = client.submit(CHANNEL, CC, "put", [name, "v"], endorsers=ORG2)
    assert result.code_name == "ENDORSEMENT_POLICY_FAILURE"
    for peer in sim_network.peers.values():
        block = peer.ledger(CHANNEL).wait_for_block(result.block, WAIT_S)
        assert block is not None
        index = [
            common_pb2.ChannelHeader.FromString(
                common_pb2.Payload.FromString(
                    common_pb2.Envelope.FromString(data).payload
                ).header.channel_header
            ).tx_id
            for data in block.data.data
        ].index(result.tx_id)
        assert tx_filter(block)[index] == 10
        assert peer.ledger(CHANNEL).state.get(CC, name) is None
