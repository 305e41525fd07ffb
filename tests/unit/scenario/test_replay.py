"""The block replay that attached scenarios read the ledgers with: blocks made here,
with write sets and validation codes chosen by the test."""

from __future__ import annotations

from typing import Any

import pytest
from fabric_protos.common import common_pb2

from harness.fabric._messages import (
    new_envelope,
    new_proposal,
    new_proposal_response,
    parse_signed_proposal,
    sign_proposal,
)
from harness.fabric.sim._block import next_block, set_tx_filter
from harness.fabric.sim._rwset import TxRwSet
from harness.identity import Identity, Organization
from harness.scenario import replay_blocks

VALID = 0
MVCC_READ_CONFLICT = 11
LOCK = "utilityemissions::rec-1"
Writes = dict[tuple[str, str], bytes | None]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    org = Organization.create(tmp_path_factory.mktemp("crypto"), "Org1")
    return org.enroll("User1", "client")


def _tx(identity: Identity, writes: Writes) -> bytes:
    """An endorsed transaction whose write set is ``writes`` (None: a delete)."""
    rwset = TxRwSet()
    for (namespace, key), value in writes.items():
        rwset.ns(namespace).writes[key] = value
    proposal, _ = new_proposal(identity, "ch", "datalock", ["lock"])
    view = parse_signed_proposal(sign_proposal(proposal, identity.signer))
    response = new_proposal_response(
        view, status=200, results=rwset.to_bytes(), endorser=identity
    )
    envelope = new_envelope(proposal, [response], identity.signer)
    return bytes(envelope.SerializeToString())


def _config_tx() -> bytes:
    header = common_pb2.ChannelHeader(type=common_pb2.HeaderType.Value("CONFIG"))
    payload = common_pb2.Payload(
        header=common_pb2.Header(channel_header=header.SerializeToString())
    )
    return bytes(
        common_pb2.Envelope(payload=payload.SerializeToString()).SerializeToString()
    )


def _chain(*blocks: list[tuple[bytes, int]]) -> list[Any]:
    """Linked blocks, each a list of (envelope, validation code)."""
    made: list[Any] = []
    for entries in blocks:
        block = next_block(made[-1] if made else None, [e for e, _ in entries])
        set_tx_filter(block, [code for _, code in entries])
        made.append(block)
    return made


def test_a_lock_whose_last_valid_write_is_a_put_is_held(client: Identity) -> None:
    blocks = _chain(
        [(_config_tx(), VALID)],
        [(_tx(client, {("datalock", LOCK): b"tx-a"}), VALID)],
    )

    replay = replay_blocks(blocks)

    assert replay.keys("datalock", "utilityemissions::") == [LOCK]
    assert replay.state["datalock"][LOCK] == b"tx-a"
    assert replay.height == 2


def test_a_valid_delete_releases_the_lock(client: Identity) -> None:
    blocks = _chain(
        [(_tx(client, {("datalock", LOCK): b"tx-a"}), VALID)],
        [(_tx(client, {("datalock", LOCK): None}), VALID)],
    )

    assert replay_blocks(blocks).keys("datalock", "utilityemissions::") == []


def test_writes_of_invalid_transactions_are_not_applied(client: Identity) -> None:
    blocks = _chain(
        [(_tx(client, {("datalock", LOCK): b"tx-a"}), VALID)],
        [
            (_tx(client, {("datalock", LOCK): None}), MVCC_READ_CONFLICT),
            (_tx(client, {("datalock", "utilityemissions::rec-2"): b"b"}), 11),
        ],
    )

    replay = replay_blocks(blocks)

    assert replay.keys("datalock", "utilityemissions::") == [LOCK]
    assert replay.codes == {"VALID": 1, "MVCC_READ_CONFLICT": 2}


def test_keys_filter_by_namespace_and_prefix(client: Identity) -> None:
    writes: Writes = {
        ("datalock", LOCK): b"tx-a",
        ("datalock", "tx-a"): b"{}",
        ("utilityemissions", "rec-1"): b"{}",
    }
    replay = replay_blocks(_chain([(_tx(client, writes), VALID)]))

    assert replay.keys("datalock", "utilityemissions::") == [LOCK]
    assert replay.keys("datalock") == ["tx-a", LOCK]
    assert replay.keys("utilityemissions") == ["rec-1"]
    assert replay.keys("nothing") == []


def test_a_block_not_yet_validated_counts_no_code_and_writes_nothing(
    client: Identity,
) -> None:
    block = next_block(None, [_tx(client, {("datalock", LOCK): b"tx-a"})])

    replay = replay_blocks([block])

    assert replay.codes == {}
    assert replay.state == {}
    assert replay.height == 1
