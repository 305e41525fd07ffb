"""SimNetwork: run folder, block stores with their hash chain, orderer signatures,
readiness, faults on peers and orderers, and HSM-held identities."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2

from harness.errors import (
    BroadcastError,
    ConfigError,
    HarnessError,
    ReadinessTimeoutError,
)
from harness.fabric.client import FabricClient
from harness.fabric.sim import BlockStore, SimNetwork, block_hash, block_header_bytes
from harness.runs import RunDir
from harness.spec import NetworkSpec

CHANNEL = "utilityemissionchannel"
CC = "kvstore"
WAIT_S = 20.0

StartNetwork = Callable[[NetworkSpec], SimNetwork]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """A readiness probe with a generous deadline, not a timing assertion."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        pause.wait(0.01)


def test_the_run_folder_holds_status_spec_logs_and_block_stores(
    start_network: StartNetwork, spec_factory: Callable[..., NetworkSpec]
) -> None:
    network = start_network(spec_factory())
    client = FabricClient.in_process(network, network.user("Org2MSP", "user1"))
    results = [client.submit(CHANNEL, CC, "put", [f"k{i}", "v"]) for i in range(3)]
    assert [r.code_name for r in results] == ["VALID"] * 3
    run = network.run.path
    assert network.run.status() == "ready"
    assert "name: default" in (run / "spec.yaml").read_text()

    orderer_blocks = network.orderer(CHANNEL).height
    for name, peer in network.peers.items():
        ledger = peer.ledger(CHANNEL)
        wait_until(lambda ledger=ledger: ledger.height == orderer_blocks, f"{name}")
        store = BlockStore(run / "peers" / name / CHANNEL)
        assert store.verify() == orderer_blocks  # numbers, previous and data hashes
        ordered = network.orderer(CHANNEL).block(orderer_blocks - 1)
        assert block_hash(store.get(orderer_blocks - 1)) == block_hash(ordered)

    network.stop()
    network.stop()  # idempotent
    assert network.run.status() == "stopped"
    for node in ("orderer0", "peer0.org1", "peer0.org2"):
        assert (run / "logs" / f"{node}.log").read_text(), node
    assert (
        "joined utilityemissionchannel" in (run / "logs" / "peer0.org1.log").read_text()
    )


def test_blocks_carry_the_orderer_signature(sim_network: SimNetwork) -> None:
    client = FabricClient.in_process(sim_network, sim_network.user("Org1", "user1"))
    result = client.submit(CHANNEL, CC, "put", ["signed", "v"]).raise_for_code()
    block = sim_network.peers["peer0.org1"].ledger(CHANNEL).block(result.block)
    metadata = common_pb2.Metadata.FromString(
        block.metadata.metadata[common_pb2.BlockMetadataIndex.SIGNATURES]
    )
    signature = metadata.signatures[0]
    header = block.header
    signed = (
        metadata.value
        + signature.signature_header
        + block_header_bytes(header.number, header.previous_hash, header.data_hash)
    )
    public = sim_network.orderer_identities["orderer0"].certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(
        signature.signature, signed, ec.ECDSA(hashes.SHA256())
    )  # raises if bad


def test_endorsers_satisfy_the_policy_one_per_org(sim_network: SimNetwork) -> None:
    peers = sim_network.endorsers(CHANNEL, CC)
    assert sorted(peer.msp_id for peer in peers) == ["Org1MSP", "Org2MSP"]
    with pytest.raises(ConfigError, match="not defined"):
        sim_network.endorsers(CHANNEL, "nosuchcc")
    with pytest.raises(ConfigError, match="no user 'nobody'"):
        sim_network.user("Org1", "nobody")


def test_a_stopped_peer_catches_up_when_started(
    start_network: StartNetwork, spec_factory: Callable[..., NetworkSpec]
) -> None:
    network = start_network(spec_factory())
    client = FabricClient.in_process(network, network.user("Org1", "user1"))
    prepared = [client.endorse(CHANNEL, CC, "put", [f"late{i}", "v"]) for i in range(2)]
    network.stop_node("peer0.org2")
    with pytest.raises(HarnessError, match="no set of running peers"):
        client.endorse(CHANNEL, CC, "put", ["x", "v"])
    for tx in prepared:
        result = client.submit_prepared(tx, status_peer="peer0.org1")
        assert result.code_name == "VALID"

    network.start_node("peer0.org2")
    ledger = network.peers["peer0.org2"].ledger(CHANNEL)
    status = ledger.wait_for_tx(prepared[-1].tx_id, WAIT_S)
    assert status is not None
    assert status.code == 0
    assert ledger.state.get(CC, "late1") is not None


def test_without_its_orderer_broadcast_is_unavailable_until_restart(
    start_network: StartNetwork, spec_factory: Callable[..., NetworkSpec]
) -> None:
    network = start_network(spec_factory())
    client = FabricClient.in_process(network, network.user("Org1", "user1"))
    prepared = client.endorse(CHANNEL, CC, "put", ["after-restart", "v"])
    network.stop_node("orderer0")
    with pytest.raises(BroadcastError) as refused:
        client.broadcast(prepared)
    assert refused.value.status == "SERVICE_UNAVAILABLE"
    assert "stopped" in network.node_states()[f"orderer0/{CHANNEL}"]

    network.start_node("orderer0")
    wait_until(network.orderer(CHANNEL).has_leader, "a leader after the restart")
    assert client.submit_prepared(prepared).code_name == "VALID"
    with pytest.raises(ConfigError, match="no node 'orderer9'"):
        network.stop_node("orderer9")


def test_readiness_timeout_names_what_it_awaited(
    tmp_path: Path, spec_factory: Callable[..., NetworkSpec]
) -> None:
    run = RunDir.create("net", tmp_path)
    with pytest.raises(ReadinessTimeoutError, match="Raft leader") as raised:
        SimNetwork.start(spec_factory(), run, ready_timeout=0)
    assert "orderer0/utilityemissionchannel" in str(raised.value)  # node states
    assert run.status() == "stopped"


@pytest.mark.hsm
def test_hsm_identities_endorse_sign_blocks_and_release_the_token(
    start_network: StartNetwork, spec_factory: Callable[..., NetworkSpec]
) -> None:
    network = start_network(spec_factory(identities="hsm"))
    user = network.user("Org1", "user1")
    assert user.in_hsm
    assert not any((user.msp_dir / "keystore").iterdir())
    assert all(peer.identity.in_hsm for peer in network.peers.values())
    client = FabricClient.in_process(network, user)
    assert client.submit(CHANNEL, CC, "put", ["hsm", "v"]).code_name == "VALID"
    assert client.evaluate(CHANNEL, CC, "get", ["hsm"]) == b"v"
    network.stop()
    # The token is closed: another SoftHSM2 home can be served in this process.
    from harness.hsm import SoftHsm, Token

    other = SoftHsm.create(network.run.path.parent / "other-softhsm")
    other.init_token()
    with Token(other) as token:
        assert token.generate_key().ski


@pytest.mark.hsm
@pytest.mark.benchmark
def test_measure_start_of_the_default_network(tmp_path: Path) -> None:
    from harness.spec import load_spec

    run = RunDir.create("net", tmp_path)
    with SimNetwork.start(load_spec("default"), run) as network:
        assert network.ready_s is not None
        print(f"SimNetwork.start on the default spec: {network.ready_s:.3f} s")
