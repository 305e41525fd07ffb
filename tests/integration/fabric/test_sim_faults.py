"""Faults through the library API, each seen by a client: pause and resume, latency,
dropped messages, on peers and on Raft orderers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from harness.errors import ConfigError, HarnessError
from harness.fabric.client import FabricClient
from harness.fabric.sim import NodeUnavailableError, SimNetwork
from harness.spec import NetworkSpec

CHANNEL = "utilityemissionchannel"
CC = "kvstore"
PEER = "peer0.org1"
OTHER = "peer0.org2"
WAIT_S = 30.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """A probe with a generous deadline, not a timing assertion."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        pause.wait(0.01)


def put(client: FabricClient, key: str) -> int:
    """Submit a write; the block it committed in."""
    result = client.submit(CHANNEL, CC, "put", [key, "v"], timeout=WAIT_S)
    assert result.code_name == "VALID"
    return result.block


@pytest.fixture
def network(
    start_network: Callable[[NetworkSpec], SimNetwork],
    spec_factory: Callable[..., NetworkSpec],
) -> SimNetwork:
    return start_network(spec_factory())


@pytest.fixture
def user(network: SimNetwork) -> FabricClient:
    return FabricClient.in_process(network, network.user("Org1", "user1"))


def test_a_paused_peer_refuses_after_its_deadline_then_recovers(
    network: SimNetwork, user: FabricClient
) -> None:
    network.peers[PEER].paused_answer_s = 0.2
    network.pause_node(PEER)

    with pytest.raises(NodeUnavailableError, match="paused"):
        user.evaluate(CHANNEL, CC, "get", ["k"], peer=PEER)
    assert "paused" in network.node_states()[f"{PEER}/{CHANNEL}"]

    network.resume_node(PEER)
    with pytest.raises(HarnessError, match=r"404|not found"):  # answered
        user.evaluate(CHANNEL, CC, "get", ["never-written"], peer=PEER)


def test_a_proposal_waiting_on_a_paused_peer_is_answered_on_resume(
    network: SimNetwork, user: FabricClient
) -> None:
    put(user, "waited")
    network.peers[PEER].paused_answer_s = WAIT_S
    network.pause_node(PEER)
    answers: list[bytes] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            user.evaluate(CHANNEL, CC, "get", ["waited"], peer=PEER)
        )
    )
    waiting.start()
    try:
        waiting.join(0.2)
        assert not answers  # still held by the pause
    finally:
        network.resume_node(PEER)
        waiting.join(WAIT_S)
    assert answers == [b"v"]


def test_a_paused_peer_stops_committing_and_catches_up(
    network: SimNetwork, user: FabricClient
) -> None:
    paused = network.peers[PEER].ledger(CHANNEL)
    other = network.peers[OTHER].ledger(CHANNEL)
    wait_until(lambda: paused.height == other.height, "equal heights")
    network.pause_node(PEER)

    result = user.submit(
        CHANNEL, CC, "put", ["while-paused", "v"], endorsers=[OTHER], timeout=WAIT_S
    )
    assert result.code_name == "ENDORSEMENT_POLICY_FAILURE"  # one org of two
    assert paused.height <= result.block < other.height

    network.resume_node(PEER)
    wait_until(lambda: paused.height == other.height, "the resumed peer to catch up")
    assert paused.tx_status(result.tx_id) is not None


def test_latency_shows_in_endorsement_time(
    network: SimNetwork, user: FabricClient
) -> None:
    network.set_latency(PEER, 150)

    started = time.monotonic()
    with pytest.raises(HarnessError):
        user.evaluate(CHANNEL, CC, "get", ["absent"], peer=PEER)
    assert time.monotonic() - started >= 0.15  # a lower bound only

    network.set_latency(PEER, 0)
    assert network.peers[PEER].faults.latency_s == 0


def _outcomes(network: SimNetwork, user: FabricClient, count: int) -> list[bool]:
    """Whether each of ``count`` queries to PEER got an answer (a 404 counts)."""
    answered = []
    for _ in range(count):
        try:
            user.evaluate(CHANNEL, CC, "get", ["absent"], peer=PEER)
        except NodeUnavailableError:
            answered.append(False)
        except HarnessError:
            answered.append(True)
        else:
            answered.append(True)
    return answered


def test_drops_fail_a_seeded_fraction_of_proposals(
    network: SimNetwork, user: FabricClient
) -> None:
    network.set_drop(PEER, 0.5, seed=11)
    first = _outcomes(network, user, 60)
    network.set_drop(PEER, 0.5, seed=11)
    second = _outcomes(network, user, 60)

    assert first == second  # the same seed drops the same proposals
    assert 10 < first.count(False) < 50
    network.set_drop(PEER, 1.0)
    assert not any(_outcomes(network, user, 5))
    network.set_drop(PEER, 0.0)
    assert all(_outcomes(network, user, 5))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda n: n.set_drop(PEER, 1.5), "between 0 and 1"),
        (lambda n: n.set_drop(PEER, -0.1), "between 0 and 1"),
        (lambda n: n.set_latency(PEER, -5), ">= 0"),
        (lambda n: n.set_latency(PEER, float("nan")), ">= 0"),
        (lambda n: n.pause_node("peer9"), "no node 'peer9'"),
    ],
    ids=["drop-above-1", "drop-negative", "latency-negative", "latency-nan", "unknown"],
)
def test_fault_values_are_checked(
    network: SimNetwork, call: Callable[[SimNetwork], None], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        call(network)


# --- Raft orderers -------------------------------------------------------------------


@pytest.fixture
def raft3(
    start_network: Callable[[NetworkSpec], SimNetwork],
    spec_factory: Callable[..., NetworkSpec],
) -> SimNetwork:
    return start_network(spec_factory("raft3"))


def test_a_cluster_with_a_paused_follower_still_commits(raft3: SimNetwork) -> None:
    client = FabricClient.in_process(raft3, raft3.user("Org1", "user1"))
    cluster = raft3.orderer(CHANNEL).cluster
    leader = cluster.leader()
    assert leader is not None
    follower = next(name for name in cluster.node_ids if name != leader.id)
    raft3.pause_node(follower)
    frozen = cluster.nodes[follower].height

    block = put(client, "with-a-paused-follower")

    assert cluster.nodes[follower].height == frozen  # it applied nothing
    assert block >= frozen
    raft3.resume_node(follower)
    wait_until(
        lambda: cluster.nodes[follower].height == cluster.nodes[leader.id].height,
        "the follower to catch up",
    )


def test_a_paused_leader_leads_to_a_new_election(raft3: SimNetwork) -> None:
    client = FabricClient.in_process(raft3, raft3.user("Org1", "user1"))
    service = raft3.orderer(CHANNEL)
    cluster = service.cluster
    old = cluster.leader()
    assert old is not None
    raft3.pause_node(old.id)

    wait_until(
        lambda: (
            (new := cluster.leader(reachable=True)) is not None and new.id != old.id
        ),
        "a new leader",
    )
    put(client, "after-the-election")

    raft3.resume_node(old.id)
    wait_until(lambda: not old.is_leader, "the old leader to step down")
    wait_until(service.has_leader, "every node to know the new leader")


def test_latency_and_drops_on_raft_messages_still_commit(raft3: SimNetwork) -> None:
    client = FabricClient.in_process(raft3, raft3.user("Org1", "user1"))
    cluster = raft3.orderer(CHANNEL).cluster
    leader = cluster.leader()
    assert leader is not None
    follower = next(name for name in cluster.node_ids if name != leader.id)
    raft3.set_latency(follower, 20)
    raft3.set_drop(follower, 0.3, seed=5)

    put(client, "through-a-lossy-follower")

    states = raft3.orderer(CHANNEL).node_states()
    assert "latency 20 ms" in states[follower]
    assert "drop 0.3" in states[follower]
