"""World state, simulation read-write sets and MVCC / phantom validation."""

from __future__ import annotations

import pytest

from harness.fabric.sim._keys import (
    InvalidKeyError,
    create_composite_key,
    split_composite_key,
)
from harness.fabric.sim._ledger import (
    MVCC_READ_CONFLICT,
    PHANTOM_READ_CONFLICT,
    VALID,
    VALIDATION_PARAMETER,
    SimulationError,
    TxSimulator,
    WorldState,
    commit_block,
    key_policy,
)
from harness.fabric.sim._rwset import TxRwSet, Version

CC = "cc"
ENDORSEMENT_POLICY_FAILURE = 10


def seeded(**values: str) -> WorldState:
    """A state with ``values`` committed in block 0, one tx each."""
    state = WorldState()
    rwsets = []
    for key, value in values.items():
        sim = TxSimulator(state)
        sim.put_state(CC, key, value.encode())
        rwsets.append(sim.finish())
    commit_block(state, 0, rwsets, [VALID] * len(rwsets))
    return state


def test_composite_key_format() -> None:
    key = create_composite_key("owner~asset", ["alice", "a1"])

    assert key == "\x00owner~asset\x00alice\x00a1\x00"
    assert split_composite_key(key) == ("owner~asset", ["alice", "a1"])


@pytest.mark.parametrize(
    ("object_type", "attrs"),
    [("a\x00b", []), ("t", ["x\U0010ffff"])],
    ids=["nul-in-type", "max-rune-in-attr"],
)
def test_composite_key_rejects_reserved_runes(
    object_type: str, attrs: list[str]
) -> None:
    with pytest.raises(InvalidKeyError):
        create_composite_key(object_type, attrs)


def test_versions_are_block_and_tx_index() -> None:
    state = seeded(a="1", b="2")

    assert state.get(CC, "a").version == Version(0, 0)  # type: ignore[union-attr]
    assert state.get(CC, "b").version == Version(0, 1)  # type: ignore[union-attr]
    assert state.height == 1


def test_no_read_your_own_writes() -> None:
    state = seeded(a="old")
    sim = TxSimulator(state)

    sim.put_state(CC, "a", b"new")

    assert sim.get_state(CC, "a") == b"old"


def test_rwset_records_versions_last_write_and_deletes() -> None:
    state = seeded(a="1", b="2")
    sim = TxSimulator(state)

    sim.get_state(CC, "a")
    sim.get_state(CC, "missing")
    sim.put_state(CC, "c", b"first")
    sim.put_state(CC, "c", b"last")
    sim.delete_state(CC, "b")
    ns = sim.finish().namespaces[CC]

    assert ns.reads == {"a": Version(0, 0), "missing": None}
    assert ns.writes == {"c": b"last", "b": None}


def test_finished_simulation_refuses_more() -> None:
    sim = TxSimulator(WorldState())
    sim.finish()

    with pytest.raises(SimulationError):
        sim.get_state(CC, "a")


def test_range_query_skips_composite_keys_and_honours_end() -> None:
    state = seeded(a="1", b="2", c="3")
    sim = TxSimulator(state)
    sim.put_state(CC, create_composite_key("t", ["x"]), b"{}")
    commit_block(state, 1, [sim.finish()], [VALID])

    keys = [key for key, _ in TxSimulator(state).range(CC, "", "c")]

    assert keys == ["a", "b"]


def test_partial_composite_key_query() -> None:
    state = WorldState()
    sim = TxSimulator(state)
    for owner, asset in [("alice", "1"), ("alice", "2"), ("bob", "3")]:
        sim.put_state(CC, create_composite_key("owner", [owner, asset]), b"x")
    commit_block(state, 0, [sim.finish()], [VALID])

    found = [
        split_composite_key(key)[1]
        for key, _ in TxSimulator(state).partial_composite(CC, "owner", ["alice"])
    ]

    assert found == [["alice", "1"], ["alice", "2"]]


def test_range_info_records_consumed_keys() -> None:
    state = seeded(a="1", b="2", c="3")
    sim = TxSimulator(state)

    iterator = sim.range(CC, "a", "")
    next(iterator)
    iterator.close()
    info = sim.finish().namespaces[CC].range_queries[0]

    assert info.reads == [("a", Version(0, 0))]
    assert not info.exhausted


def test_rwset_proto_round_trip() -> None:
    state = seeded(a="1", b="2")
    sim = TxSimulator(state)
    sim.get_state(CC, "a")
    sim.get_state("other", "nothing")
    list(sim.range(CC, "a", "z"))
    sim.put_state(CC, "x", b"v")
    sim.delete_state(CC, "b")
    sim.set_metadata(CC, "a", VALIDATION_PARAMETER, b"policy")
    rwset = sim.finish()

    again = TxRwSet.from_bytes(rwset.to_bytes())

    assert again == rwset
    assert [ns.namespace for ns in rwset.to_proto().ns_rwset] == ["cc", "other"]


def test_stale_read_is_mvcc_conflict() -> None:
    state = seeded(a="1")
    stale = TxSimulator(state)
    stale.get_state(CC, "a")
    stale.put_state(CC, "a", b"stale")
    writer = TxSimulator(state)
    writer.put_state(CC, "a", b"2")
    commit_block(state, 1, [writer.finish()], [VALID])

    codes = commit_block(state, 2, [stale.finish()], [VALID])

    assert codes == [MVCC_READ_CONFLICT]
    assert state.get(CC, "a").value == b"2"  # type: ignore[union-attr]


def test_read_of_key_written_earlier_in_block_conflicts() -> None:
    state = seeded(lock="free")
    first, second = TxSimulator(state), TxSimulator(state)
    for sim, owner in ((first, b"tx1"), (second, b"tx2")):
        sim.get_state(CC, "lock")
        sim.put_state(CC, "lock", owner)

    codes = commit_block(state, 1, [first.finish(), second.finish()], [VALID, VALID])

    assert codes == [VALID, MVCC_READ_CONFLICT]
    assert state.get(CC, "lock").value == b"tx1"  # type: ignore[union-attr]
    assert state.get(CC, "lock").version == Version(1, 0)  # type: ignore[union-attr]


def test_invalid_earlier_tx_does_not_cause_conflict() -> None:
    state = seeded(k="0")
    rejected, reader = TxSimulator(state), TxSimulator(state)
    rejected.put_state(CC, "k", b"bad")
    reader.get_state(CC, "k")
    reader.put_state(CC, "k", b"good")

    codes = commit_block(
        state,
        1,
        [rejected.finish(), reader.finish()],
        [ENDORSEMENT_POLICY_FAILURE, VALID],
    )

    assert codes == [ENDORSEMENT_POLICY_FAILURE, VALID]
    assert state.get(CC, "k").value == b"good"  # type: ignore[union-attr]


def test_read_of_absent_key_conflicts_once_it_exists() -> None:
    state = WorldState()
    first, second = TxSimulator(state), TxSimulator(state)
    for sim in (first, second):
        if sim.get_state(CC, "new") is None:
            sim.put_state(CC, "new", b"x")

    assert commit_block(state, 0, [first.finish()], [VALID]) == [VALID]
    assert commit_block(state, 1, [second.finish()], [VALID]) == [MVCC_READ_CONFLICT]


@pytest.mark.parametrize(
    ("change", "key"),
    [("insert", "b2"), ("delete", "b"), ("update", "c")],
    ids=["phantom-insert", "phantom-delete", "phantom-update"],
)
def test_range_change_is_phantom(change: str, key: str) -> None:
    state = seeded(a="1", b="2", c="3")
    scanner = TxSimulator(state)
    list(scanner.range(CC, "a", "d"))
    scanner.put_state(CC, "summary", b"3 items")
    other = TxSimulator(state)
    if change == "delete":
        other.delete_state(CC, key)
    else:
        other.put_state(CC, key, b"x")
    commit_block(state, 1, [other.finish()], [VALID])

    assert commit_block(state, 2, [scanner.finish()], [VALID]) == [
        PHANTOM_READ_CONFLICT
    ]


def test_phantom_within_the_same_block() -> None:
    state = seeded(a="1")
    inserter, scanner = TxSimulator(state), TxSimulator(state)
    inserter.put_state(CC, "b", b"2")
    list(scanner.range(CC, "", ""))
    scanner.put_state(CC, "count", b"1")

    codes = commit_block(
        state, 1, [inserter.finish(), scanner.finish()], [VALID, VALID]
    )

    assert codes == [VALID, PHANTOM_READ_CONFLICT]


def test_change_beyond_the_consumed_part_is_no_phantom() -> None:
    state = seeded(a="1", b="2", c="3")
    scanner = TxSimulator(state)
    iterator = scanner.range(CC, "a", "")
    next(iterator)
    iterator.close()
    scanner.put_state(CC, "first", b"a")
    other = TxSimulator(state)
    other.put_state(CC, "c", b"changed")
    commit_block(state, 1, [other.finish()], [VALID])

    assert commit_block(state, 2, [scanner.finish()], [VALID]) == [VALID]


def test_write_keeps_key_policy_and_delete_drops_it() -> None:
    state = seeded(a="1")
    setter = TxSimulator(state)
    setter.set_metadata(CC, "a", VALIDATION_PARAMETER, b"ep")
    commit_block(state, 1, [setter.finish()], [VALID])
    writer = TxSimulator(state)
    writer.put_state(CC, "a", b"2")
    commit_block(state, 2, [writer.finish()], [VALID])

    assert key_policy(state, None, CC, "a") == b"ep"
    assert state.get(CC, "a").version == Version(2, 0)  # type: ignore[union-attr]

    deleter = TxSimulator(state)
    deleter.delete_state(CC, "a")
    commit_block(state, 3, [deleter.finish()], [VALID])
    assert key_policy(state, None, CC, "a") is None


def test_metadata_of_absent_key_is_dropped() -> None:
    state = WorldState()
    sim = TxSimulator(state)
    sim.set_metadata(CC, "ghost", VALIDATION_PARAMETER, b"ep")

    commit_block(state, 0, [sim.finish()], [VALID])

    assert state.get(CC, "ghost") is None


def test_a_rich_query_sees_each_write_and_delete_after_earlier_queries() -> None:
    state = seeded(a='{"class":"rec","n":1}', b='{"class":"rec","n":2}', c="raw")
    query = '{"selector": {"class": "rec"}}'
    assert [key for key, _ in state.query(CC, query)] == ["a", "b"]

    sim = TxSimulator(state)
    sim.put_state(CC, "a", b'{"class":"other"}')
    sim.delete_state(CC, "b")
    sim.put_state(CC, "c", b'{"class":"rec","n":3}')
    commit_block(state, 1, [sim.finish()], [VALID])

    assert state.query(CC, query) == [("c", b'{"class":"rec","n":3}')]
