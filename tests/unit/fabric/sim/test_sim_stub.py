"""Chaincode simulation through the shim: state, queries, calls, events, context."""

from __future__ import annotations

import datetime
import json

import pytest

from harness.chaincode import Chaincode, lookup, registered
from harness.errors import ConfigError
from harness.fabric.sim._ledger import VALID, WorldState, commit_block
from harness.fabric.sim._policy import (
    from_envelope_bytes,
    parse_policy,
    to_envelope_bytes,
)
from harness.fabric.sim._rwset import Version
from harness.fabric.sim._stub import SimulationResult, TxContext, simulate

CONTEXT = TxContext(
    tx_id="ab" * 32,
    channel_id="ch",
    creator=b"creator-bytes",
    timestamp=datetime.datetime(2021, 5, 7, 10, 10, 9, tzinfo=datetime.UTC),
    transient={"secret": b"x"},
)


@pytest.fixture
def chaincodes() -> dict[str, Chaincode]:
    return {"cc": lookup("kvstore"), "other": lookup("kvstore")}


def run(
    state: WorldState, chaincodes: dict[str, Chaincode], *args: str, name: str = "cc"
) -> SimulationResult:
    return simulate(state, chaincodes, name, [a.encode() for a in args], CONTEXT)


def commit(state: WorldState, *results: SimulationResult) -> list[int]:
    return commit_block(
        state, state.height, [r.rwset for r in results], [VALID] * len(results)
    )


def test_put_then_get_after_commit(chaincodes: dict[str, Chaincode]) -> None:
    state = WorldState()
    commit(state, run(state, chaincodes, "put", "k", "v"))

    result = run(state, chaincodes, "get", "k")

    assert result.response.payload == b"v"
    assert result.rwset.namespaces["cc"].reads == {"k": Version(0, 0)}


def test_error_response(chaincodes: dict[str, Chaincode]) -> None:
    result = run(WorldState(), chaincodes, "get", "absent")

    assert result.response.status == 404
    assert result.response.message.startswith("STATE_NOT_FOUND : ")


def test_invoke_other_chaincode_writes_its_namespace(
    chaincodes: dict[str, Chaincode],
) -> None:
    state = WorldState()

    result = run(state, chaincodes, "invoke", "other", "put", "k", "from-cc")

    assert result.response.ok
    assert result.rwset.namespaces["other"].writes == {"k": b"from-cc"}
    assert (
        "cc" not in result.rwset.namespaces or not result.rwset.namespaces["cc"].writes
    )


def test_invoke_missing_chaincode_is_an_error_response(
    chaincodes: dict[str, Chaincode],
) -> None:
    result = run(WorldState(), chaincodes, "invoke", "nope", "get", "k")

    assert not result.response.ok
    assert "not installed" in result.response.message


def test_event_of_top_level_chaincode(chaincodes: dict[str, Chaincode]) -> None:
    result = run(WorldState(), chaincodes, "event", "Minted", "payload")

    assert result.event is not None
    assert (result.event.chaincode, result.event.name, result.event.payload) == (
        "cc",
        "Minted",
        b"payload",
    )


def test_transaction_context(chaincodes: dict[str, Chaincode]) -> None:
    info = json.loads(run(WorldState(), chaincodes, "txinfo").response.payload)

    assert info == {
        "tx_id": CONTEXT.tx_id,
        "channel": "ch",
        "timestamp": "2021-05-07T10:10:09+00:00",
        "transient": ["secret"],
        "creator_bytes": len(b"creator-bytes"),
    }


def test_range_composite_and_rich_queries(chaincodes: dict[str, Chaincode]) -> None:
    state = WorldState()
    commit(
        state,
        run(state, chaincodes, "put", "a", '{"n": 1}'),
        run(state, chaincodes, "put", "b", '{"n": 2}'),
        run(state, chaincodes, "putc", "owner", "alice", "a1", '{"n": 3}'),
    )

    ranged = json.loads(run(state, chaincodes, "range", "", "").response.payload)
    composite = json.loads(
        run(state, chaincodes, "composite", "owner", "alice").response.payload
    )
    rich = run(state, chaincodes, "query", '{"selector": {"n": {"$gte": 2}}}')

    assert [row["Key"] for row in ranged] == ["a", "b"]
    assert [row["Record"] for row in composite] == ['{"n": 3}']
    assert sorted(row["Record"] for row in json.loads(rich.response.payload)) == [
        '{"n":2}',
        '{"n":3}',
    ]
    assert rich.rwset.namespaces["cc"].reads == {}


def test_key_level_policy_round_trip(chaincodes: dict[str, Chaincode]) -> None:
    state = WorldState()
    policy = to_envelope_bytes(parse_policy("AND('Org1MSP.peer', 'Org2MSP.peer')"))
    commit(state, run(state, chaincodes, "put", "k", "v"))
    commit(state, run(state, chaincodes, "setep", "k", policy.hex()))

    stored = bytes.fromhex(
        run(state, chaincodes, "getep", "k").response.payload.decode()
    )

    assert from_envelope_bytes(stored) == parse_policy(
        "AND('Org1MSP.peer', 'Org2MSP.peer')"
    )


def test_unknown_implementation_names_the_registered_ones() -> None:
    assert "kvstore" in registered()
    with pytest.raises(ConfigError, match=r"registered: .*kvstore"):
        lookup("utilityemission")
