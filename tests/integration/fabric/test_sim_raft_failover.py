"""A 3-orderer network loses its Raft leader under client load: every transaction a
client saw committed is in every peer's ledger afterwards, and no peer forks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from harness.errors import HarnessError
from harness.fabric.client import FabricClient, SubmitResult
from harness.fabric.sim import BlockStore, SimNetwork, block_hash
from harness.spec import NetworkSpec

CHANNEL = "utilityemissionchannel"
CC = "kvstore"
WAIT_S = 30.0
CLIENTS = 3


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """A readiness probe with a generous deadline, not a timing assertion."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        pause.wait(0.01)


def test_leader_loss_under_load_keeps_every_committed_tx(
    start_network: Callable[[NetworkSpec], SimNetwork],
    spec_factory: Callable[..., NetworkSpec],
) -> None:
    network = start_network(spec_factory("raft3"))
    service = network.orderer(CHANNEL)
    committed: list[SubmitResult] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop_load = threading.Event()

    def load(worker: int) -> None:
        client = FabricClient.in_process(network, network.user("Org1", "user1"))
        count = 0
        while not stop_load.is_set():
            count += 1
            try:
                result = client.submit(
                    CHANNEL, CC, "put", [f"w{worker}-{count}", "v"], timeout=5
                )
            except HarnessError as exc:  # no leader, or a dropped forward
                with lock:
                    refused.append(type(exc).__name__)
                continue
            with lock:
                committed.append(result)

    def count_committed() -> int:
        with lock:
            return len(committed)

    workers = [threading.Thread(target=load, args=(i,)) for i in range(CLIENTS)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: count_committed() >= 20, "commits before the crash")
        leader = service.cluster.leader()
        assert leader is not None
        network.stop_node(leader.id)
        before = count_committed()
        wait_until(lambda: count_committed() >= before + 20, "commits after the crash")
        new_leader = service.cluster.leader()
        assert new_leader is not None
        assert new_leader.id != leader.id
    finally:
        stop_load.set()
        for worker in workers:
            worker.join()

    assert all(result.code_name == "VALID" for result in committed)
    height = service.height
    for name, peer in network.peers.items():
        ledger = peer.ledger(CHANNEL)
        wait_until(lambda ledger=ledger: ledger.height >= height, f"{name} at {height}")
        for result in committed:
            status = ledger.tx_status(result.tx_id)
            assert status is not None, f"{result.tx_id} missing on {name}"
            assert (status.code, status.block) == (0, result.block)

    # No fork: every peer and every live orderer holds the same chain.
    chains = {
        name: [block_hash(block) for block in BlockStore(folder).blocks()][:height]
        for name, folder in [
            *(
                (name, network.run.path / "peers" / name / CHANNEL)
                for name in network.peers
            ),
            *(
                (node, network.run.path / "orderers" / CHANNEL / node)
                for node in service.cluster.nodes
            ),
        ]
    }
    assert len({tuple(chain) for chain in chains.values()}) == 1, chains.keys()
    for name in network.peers:
        assert (
            BlockStore(network.run.path / "peers" / name / CHANNEL).verify() >= height
        )
