"""Raft ordering on a deterministic scheduler (virtual time, seeded randomness)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.fabric.sim._block import block_hash
from harness.fabric.sim._orderer import (
    DeterministicRuntime,
    DeterministicScheduler,
    RaftCluster,
    ServiceUnavailableError,
)
from harness.spec import BatchSettings, RaftSettings

BATCH = BatchSettings(
    timeout_s=0.05,
    max_message_count=2,
    absolute_max_bytes=1000,
    preferred_max_bytes=500,
)
RAFT = RaftSettings(tick_interval_s=0.01, election_tick=10, heartbeat_tick=1)


def make(
    tmp_path: Path, size: int, seed: int = 1
) -> tuple[RaftCluster, DeterministicScheduler]:
    scheduler = DeterministicScheduler()
    ids = tuple(f"o{i}" for i in range(size))
    cluster = RaftCluster(
        ids, BATCH, RAFT, tmp_path, DeterministicRuntime(scheduler), seed=seed
    )
    cluster.start()
    assert scheduler.run_until(lambda: everyone_knows_the_leader(cluster), 5.0)
    return cluster, scheduler


def everyone_knows_the_leader(cluster: RaftCluster) -> bool:
    leader = cluster.leader()
    return leader is not None and all(
        node.raft.leader == leader.id for node in cluster.nodes.values()
    )


def chains(cluster: RaftCluster) -> dict[str, list[bytes]]:
    return {
        node_id: [block_hash(b) for b in node.store.blocks()]
        for node_id, node in cluster.nodes.items()
    }


def all_equal_height(cluster: RaftCluster, height: int) -> bool:
    return all(h == height for h in cluster.heights().values())


@pytest.mark.parametrize(
    "size", [1, 3, 5], ids=["one-node", "three-nodes", "five-nodes"]
)
def test_a_leader_is_elected_and_blocks_replicate(tmp_path: Path, size: int) -> None:
    cluster, scheduler = make(tmp_path, size)
    leader = cluster.leader()
    assert leader is not None
    follower = next((n for n in cluster.nodes if n != leader.id), leader.id)

    for i in range(4):
        cluster.broadcast(f"tx{i}".encode(), via=follower)

    assert scheduler.run_until(lambda: all_equal_height(cluster, 2), 2.0)
    blocks = next(iter(cluster.nodes.values())).store.blocks()
    assert [list(b.data.data) for b in blocks] == [[b"tx0", b"tx1"], [b"tx2", b"tx3"]]
    assert len(set(map(tuple, chains(cluster).values()))) == 1


def test_batch_timeout_cuts_a_lone_envelope(tmp_path: Path) -> None:
    cluster, scheduler = make(tmp_path, 3)
    cluster.broadcast(b"alone")

    scheduler.run_for(0.03)
    assert cluster.heights()[cluster.leader().id] == 0  # type: ignore[union-attr]
    assert scheduler.run_until(lambda: all_equal_height(cluster, 1), 1.0)


def test_new_leader_after_leader_crash_and_no_block_lost(tmp_path: Path) -> None:
    cluster, scheduler = make(tmp_path, 3)
    for i in range(4):
        cluster.broadcast(f"a{i}".encode())
    assert scheduler.run_until(lambda: all_equal_height(cluster, 2), 2.0)
    old = cluster.leader()
    assert old is not None
    before = chains(cluster)[old.id]

    cluster.stop(old.id)
    assert scheduler.run_until(lambda: everyone_knows_the_leader(cluster), 5.0)
    for i in range(2):
        cluster.broadcast(f"b{i}".encode())
    assert scheduler.run_until(lambda: all_equal_height(cluster, 3), 2.0)

    for chain in chains(cluster).values():
        assert chain[:2] == before


def test_restarted_node_catches_up(tmp_path: Path) -> None:
    cluster, scheduler = make(tmp_path, 3)
    leader = cluster.leader()
    assert leader is not None
    lagging = next(n for n in cluster.node_ids if n != leader.id)
    cluster.stop(lagging)
    for i in range(6):
        cluster.broadcast(f"tx{i}".encode(), via=leader.id)
    assert scheduler.run_until(lambda: all_equal_height(cluster, 3), 2.0)

    cluster.start(lagging)

    assert scheduler.run_until(lambda: all_equal_height(cluster, 3), 5.0)
    assert len(set(map(tuple, chains(cluster).values()))) == 1
    assert cluster.nodes[lagging].store.verify() == 3


def test_without_a_majority_broadcast_is_service_unavailable(tmp_path: Path) -> None:
    cluster, scheduler = make(tmp_path, 3)
    leader = cluster.leader()
    assert leader is not None
    for node_id in [n for n in cluster.node_ids if n != leader.id]:
        cluster.stop(node_id)

    assert scheduler.run_until(lambda: cluster.leader() is None, 5.0)
    scheduler.run_for(0.5)

    with pytest.raises(ServiceUnavailableError, match="SERVICE_UNAVAILABLE"):
        cluster.broadcast(b"tx")


def test_partitioned_old_leader_loses_its_uncommitted_entries(tmp_path: Path) -> None:
    cluster, scheduler = make(tmp_path, 3)
    runtime = cluster.runtime
    assert isinstance(runtime, DeterministicRuntime)
    old = cluster.leader()
    assert old is not None
    others = [n for n in cluster.node_ids if n != old.id]
    runtime.cut = {frozenset((old.id, other)) for other in others}

    old.broadcast(b"lost-1")
    old.broadcast(b"lost-2")  # cut into a batch the minority leader cannot commit
    assert scheduler.run_until(
        lambda: any(cluster.nodes[n].is_leader for n in others), 5.0
    )
    new = next(cluster.nodes[n] for n in others if cluster.nodes[n].is_leader)
    new.broadcast(b"kept-1")
    new.broadcast(b"kept-2")
    runtime.cut = set()

    assert scheduler.run_until(lambda: all_equal_height(cluster, 1), 5.0)
    for node in cluster.nodes.values():
        assert list(node.store.get(0).data.data) == [b"kept-1", b"kept-2"]
    assert old.height == 1


def test_same_seed_same_history(tmp_path: Path) -> None:
    first, _ = make(tmp_path / "a", 5, seed=7)
    second, _ = make(tmp_path / "b", 5, seed=7)

    assert first.leader().id == second.leader().id  # type: ignore[union-attr]
