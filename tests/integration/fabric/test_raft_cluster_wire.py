"""Three Raft orderers, each with its own WireRuntime, talking over loopback TCP
as separate orderer processes would: they elect a leader, a follower forwards
envelopes to it, every node builds the same chain, and when the leader stops the
other two elect another and keep ordering."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.fabric.sim._block import block_hash
from harness.fabric.sim._cluster import ClusterEndpoint, ClusterLinks, WireRuntime
from harness.fabric.sim._orderer import OrdererNode, RaftCluster
from harness.spec import BatchSettings, RaftSettings

CHANNEL = "ch"
NODES = ("o0", "o1", "o2")
BATCH = BatchSettings(
    timeout_s=0.02,
    max_message_count=5,
    absolute_max_bytes=10_000,
    preferred_max_bytes=5_000,
)
RAFT = RaftSettings(tick_interval_s=0.01, election_tick=10, heartbeat_tick=1)
WAIT_S = 20.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """A readiness probe with a generous deadline, not a timing assertion."""
    end = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        pause.wait(0.01)


@dataclass
class Process:
    """What one orderer process would hold."""

    endpoint: ClusterEndpoint
    links: ClusterLinks
    runtime: WireRuntime
    cluster: RaftCluster

    @property
    def node(self) -> OrdererNode:
        return self.cluster.nodes[self.endpoint.node_id]

    def stop(self) -> None:
        self.runtime.close()
        self.links.close()
        self.endpoint.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, Process]]:
    endpoints = {name: ClusterEndpoint(name, 0) for name in NODES}
    ports = {name: endpoint.port for name, endpoint in endpoints.items()}
    running: dict[str, Process] = {}
    for seed, name in enumerate(NODES):
        links = ClusterLinks(name, ports)
        runtime = WireRuntime(CHANNEL, endpoints[name], links)
        cluster = RaftCluster(NODES, BATCH, RAFT, tmp_path, runtime, seed=seed)
        cluster.start(name)
        running[name] = Process(endpoints[name], links, runtime, cluster)
    yield running
    for process in running.values():
        process.stop()


def leader(processes: dict[str, Process]) -> str | None:
    leaders = [name for name, p in processes.items() if p.node.is_leader]
    known = {p.node.raft.leader for p in processes.values()}
    return leaders[0] if len(leaders) == 1 and known == set(leaders) else None


def chains(processes: dict[str, Process]) -> dict[str, list[bytes]]:
    return {
        name: [block_hash(block) for block in p.node.store.blocks()]
        for name, p in processes.items()
    }


def test_followers_forward_and_every_node_builds_the_same_chain(
    processes: dict[str, Process],
) -> None:
    wait_for(lambda: leader(processes) is not None, "a leader all nodes know")
    first = leader(processes)
    follower = next(name for name in NODES if name != first)

    for count in range(20):
        processes[follower].node.broadcast(f"tx{count}".encode())

    def all_ordered() -> bool:
        return all(
            sum(len(block.data.data) for block in p.node.store.blocks()) == 20
            for p in processes.values()
        )

    wait_for(all_ordered, "20 envelopes on every node")
    hashes = chains(processes)
    assert hashes["o0"] == hashes["o1"] == hashes["o2"]


def test_the_others_carry_on_when_the_leader_stops(
    processes: dict[str, Process],
) -> None:
    wait_for(lambda: leader(processes) is not None, "a first leader")
    old = leader(processes)
    assert old is not None
    processes.pop(old).stop()  # its port closes: messages to it are dropped

    wait_for(lambda: leader(processes) not in (None, old), "a new leader")
    via = next(iter(processes.values())).node
    for count in range(10):
        via.broadcast(f"after{count}".encode())

    def ordered() -> bool:
        return all(p.node.height >= 2 for p in processes.values()) and all(
            sum(len(b.data.data) for b in p.node.store.blocks()) == 10
            for p in processes.values()
        )

    wait_for(ordered, "10 envelopes on both survivors")
    first, second = chains(processes).values()
    assert first == second
