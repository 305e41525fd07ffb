"""Raft ordering on real threads: the leader crashes under load, no block is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.fabric.sim._block import block_hash
from harness.fabric.sim._orderer import (
    RaftCluster,
    ServiceUnavailableError,
    ThreadedRuntime,
)
from harness.spec import BatchSettings, RaftSettings

BATCH = BatchSettings(
    timeout_s=0.02,
    max_message_count=5,
    absolute_max_bytes=10_000,
    preferred_max_bytes=5_000,
)
RAFT = RaftSettings(tick_interval_s=0.01, election_tick=10, heartbeat_tick=1)


def wait_for(
    condition: Callable[[], bool], what: str, deadline_s: float = 20.0
) -> None:
    """Poll ``condition``; a readiness probe with a generous deadline, not a timing check."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_leader_stopped_under_load_keeps_every_committed_block(tmp_path: Path) -> None:
    runtime = ThreadedRuntime()
    cluster = RaftCluster(("o0", "o1", "o2"), BATCH, RAFT, tmp_path, runtime, seed=3)
    committed: dict[str, list[bytes]] = {}  # every block hash any node ever applied
    lock = threading.Lock()
    stop_load = threading.Event()

    def record(node_id: str) -> Callable[[object], None]:
        def listener(block: object) -> None:
            with lock:
                committed.setdefault(node_id, []).append(block_hash(block))

        return listener

    cluster.start()
    for node_id, node in cluster.nodes.items():
        node.listeners.append(record(node_id))
    wait_for(lambda: cluster.leader() is not None, "a first leader")

    def load() -> None:
        count = 0
        while not stop_load.is_set():
            try:
                cluster.broadcast(
                    f"tx{count}".encode(), via="o0" if "o0" in cluster.nodes else None
                )
                count += 1
            except (ServiceUnavailableError, KeyError, StopIteration):
                pass
            time.sleep(0.002)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        wait_for(
            lambda: min(cluster.heights().values()) >= 5, "five blocks before the crash"
        )
        old = cluster.leader()
        assert old is not None
        cluster.stop(old.id)
        survivors = [n for n in cluster.node_ids if n != old.id]
        wait_for(
            lambda: cluster.leader() is not None and cluster.leader().id != old.id,  # type: ignore[union-attr]
            "a new leader",
        )
        height_at_crash = old.height
        wait_for(
            lambda: min(cluster.heights().values()) >= height_at_crash + 5,
            "five more blocks after the crash",
        )
    finally:
        stop_load.set()
        loader.join(timeout=5)

    final = max(cluster.heights().values())
    wait_for(lambda: min(cluster.heights().values()) == final, "the survivors to agree")
    runtime.close()

    chains = {n: [block_hash(b) for b in cluster.storage_blocks(n)] for n in survivors}
    assert chains[survivors[0]] == chains[survivors[1]]  # no fork
    survivor_chain = chains[survivors[0]]
    with lock:
        for node_id, applied in committed.items():
            assert applied == survivor_chain[: len(applied)], f"{node_id} diverged"
    for node_id in survivors:
        assert cluster.nodes[node_id].store.verify() == len(survivor_chain)
