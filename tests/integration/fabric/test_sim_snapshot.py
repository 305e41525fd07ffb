"""SimNetwork.snapshot / restore: world state goes back, history stays, stopped
nodes run again, and the network keeps committing afterwards."""

from __future__ import annotations

from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork

CHANNEL = "utilityemissionchannel"


def _put(client: FabricClient, key: str, value: str) -> int:
    """Commit a write and wait until every peer has it."""
    done = client.submit(CHANNEL, "kvstore", "put", [key, value]).raise_for_code()
    network = client.orderer.network  # type: ignore[attr-defined]
    for peer in network.peers.values():
        assert peer.ledger(CHANNEL).wait_for_tx(done.tx_id, 10) is not None
    return done.block


def _value(network: SimNetwork, peer: str, key: str) -> bytes | None:
    found = network.peers[peer].ledger(CHANNEL).state.get("kvstore", key)
    return None if found is None else found.value


def test_restore_puts_back_every_peers_state_and_keeps_the_blocks(
    sim_network: SimNetwork, client: FabricClient
) -> None:
    _put(client, "kept", "before")
    snapshot = sim_network.snapshot()
    height = sim_network.peers["peer0.org1"].ledger(CHANNEL).height

    _put(client, "kept", "changed")
    _put(client, "new", "value")
    sim_network.restore(snapshot)

    for peer in sim_network.peers:
        assert _value(sim_network, peer, "kept") == b"before"
        assert _value(sim_network, peer, "new") is None
        assert sim_network.peers[peer].ledger(CHANNEL).height == height + 2
    assert snapshot.heights[("peer0.org1", CHANNEL)] == height


def test_a_snapshot_restores_twice_and_the_network_commits_after(
    sim_network: SimNetwork, client: FabricClient
) -> None:
    snapshot = sim_network.snapshot()
    for round_ in range(2):
        _put(client, "twice", str(round_))
        sim_network.restore(snapshot)
        assert _value(sim_network, "peer0.org2", "twice") is None

    block = _put(client, "after", "restore")
    assert block == sim_network.peers["peer0.org2"].ledger(CHANNEL).height - 1
    assert _value(sim_network, "peer0.org2", "after") == b"restore"


def test_restore_starts_the_nodes_stopped_since_the_snapshot(
    sim_network: SimNetwork, client: FabricClient
) -> None:
    snapshot = sim_network.snapshot()
    sim_network.stop_node("peer0.org2")
    sim_network.stop_node("orderer0")

    sim_network.restore(snapshot)

    states = sim_network.node_states()
    assert states[f"peer0.org2/{CHANNEL}"].startswith("running")
    assert states[f"orderer0/{CHANNEL}"].startswith("leader")
    _put(client, "alive", "yes")
    assert _value(sim_network, "peer0.org2", "alive") == b"yes"
