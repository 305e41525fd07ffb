"""Every channel starts with a genesis config block, as on Fabric: block 0 holds one
CONFIG transaction, peers mark it VALID, Deliver serves it, and the first endorser
transaction lands in block 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.msp import msp_config_pb2
from fabric_protos.orderer import configuration_pb2

from harness.fabric.client import FabricClient
from harness.fabric.grpc import ServedNetwork, serve_network
from harness.fabric.sim import SimNetwork, block_hash, tx_filter
from harness.fabric.sim._genesis import channel_genesis, read_config
from harness.runs import RunDir

from .conftest import sim_spec

CHANNEL = "utilityemissionchannel"
CONFIG = common_pb2.HeaderType.Value("CONFIG")


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNetwork]:
    run = RunDir.create("net", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(sim_spec(), run) as network:
        on_wire = serve_network(network)
        try:
            yield on_wire
        finally:
            on_wire.stop()


def _channel_header(block: common_pb2.Block) -> common_pb2.ChannelHeader:
    envelope = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(envelope.payload)
    return common_pb2.ChannelHeader.FromString(payload.header.channel_header)


def test_block_0_is_a_config_block_with_the_orgs_and_batch_settings(
    wire: ServedNetwork,
) -> None:
    network: SimNetwork = wire.network
    block = network.orderer(CHANNEL).block(0)

    assert block is not None
    assert len(block.data.data) == 1
    header = _channel_header(block)
    assert header.type == CONFIG
    assert header.channel_id == CHANNEL
    config = read_config(block)
    application = config.channel_group.groups["Application"].groups
    assert set(application) == {"Org1MSP", "Org2MSP"}
    msp = msp_config_pb2.FabricMSPConfig.FromString(
        msp_config_pb2.MSPConfig.FromString(
            application["Org1MSP"].values["MSP"].value
        ).config
    )
    assert msp.name == "Org1MSP"
    assert msp.root_certs  # the org's root CA, PEM
    batch = configuration_pb2.BatchSize.FromString(
        config.channel_group.groups["Orderer"].values["BatchSize"].value
    )
    spec_batch = network.spec.channel(CHANNEL).batch
    assert batch.max_message_count == spec_batch.max_message_count
    assert batch.preferred_max_bytes == spec_batch.preferred_max_bytes


def test_peers_commit_the_config_block_as_valid_and_the_first_tx_in_block_1(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run = RunDir.create("net", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(sim_spec(), run) as network:
        for peer in network.peers.values():
            genesis = peer.ledger(CHANNEL).block(0)
            assert _channel_header(genesis).type == CONFIG
            assert tx_filter(genesis) == [0]  # VALID

        client = FabricClient.in_process(network, network.user("Org1", "user1"))
        first = client.submit(CHANNEL, "kvstore", "put", ["first", "tx"])

        assert first.code_name == "VALID"
        assert first.block == 1
        ledger = network.peers["peer0.org1"].ledger(CHANNEL)
        assert ledger.block(1).header.previous_hash == block_hash(ledger.block(0))


def test_deliver_serves_block_0(wire: ServedNetwork) -> None:
    network: SimNetwork = wire.network
    user = network.user("Org1", "user1")
    peer = wire.peer_endpoint("peer0.org1", user)
    try:
        blocks = peer.blocks(CHANNEL, 0, 0)
        filtered = peer.blocks(CHANNEL, 0, 0, filtered=True)
    finally:
        peer.close()

    assert [block.header.number for block in blocks] == [0]
    assert _channel_header(blocks[0]).type == CONFIG
    assert filtered[0].filtered_transactions[0].type == CONFIG


def test_the_genesis_block_is_the_same_each_time_it_is_built(
    wire: ServedNetwork,
) -> None:
    network: SimNetwork = wire.network

    again = channel_genesis(network.spec, CHANNEL, network.orgs)

    assert (
        again.SerializeToString()
        == network.orderer(CHANNEL).block(0).SerializeToString()
    )
