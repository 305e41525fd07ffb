"""The simulator on the wire with TLS and mutual TLS, certificates from the org CAs."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc

from harness.fabric.client import FabricClient
from harness.fabric.grpc import (
    EndpointError,
    GrpcPeer,
    ServedNetwork,
    channel_to,
    serve_network,
)
from harness.fabric.sim import SimNetwork
from harness.identity import CertificateAuthority
from harness.runs import RunDir

from .conftest import sim_spec

CHANNEL = "utilityemissionchannel"


@pytest.fixture(scope="module", params=["tls", "mutual"])
def wire(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedNetwork]:
    run = RunDir.create("network", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(sim_spec("default"), run) as network:
        on_wire = serve_network(network, tls=request.param)
        try:
            yield on_wire
        finally:
            on_wire.stop()


def _client(wire: ServedNetwork, org: str) -> FabricClient:
    network = wire.network
    user = network.user(org, "user1")
    peers = [wire.peer_endpoint(name, user) for name in network.peers]
    orderer = wire.orderer_endpoint(network.spec.orderer.nodes[0], user)

    def choose(channel: str, chaincode: str) -> list[str]:
        return [peer.name for peer in network.endorsers(channel, chaincode)]

    return FabricClient(user, peers, orderer, choose_endorsers=choose)


@pytest.mark.parametrize("org", ["Org1", "Org2"])
def test_clients_of_both_orgs_commit_over_tls(wire: ServedNetwork, org: str) -> None:
    client = _client(wire, org)

    result = client.submit(CHANNEL, "kvstore", "put", [f"tls-{org}", wire.tls])

    assert result.code_name == "VALID"
    assert (
        client.evaluate(CHANNEL, "kvstore", "get", [f"tls-{org}"]) == wire.tls.encode()
    )


def test_the_profile_names_the_certificate_host(wire: ServedNetwork) -> None:
    entry = wire.profile["peers"]["peer0.org1"]

    assert (
        entry["grpcOptions"]["grpc.ssl_target_name_override"]
        == "peer0.org1.example.com"
    )
    assert entry["tlsCACerts"]["path"].endswith("ca.crt")


def test_a_client_that_does_not_trust_the_ca_is_refused(wire: ServedNetwork) -> None:
    address = wire.servers["peer0.org1"].address
    stranger = CertificateAuthority.create_root("tlsca.elsewhere", "elsewhere")
    wrong_ca = stranger.certificate.public_bytes(Encoding.PEM)
    channel = channel_to(
        address, tls_ca=wrong_ca, host_override="peer0.org1.example.com"
    )
    gateway = gateway_pb2_grpc.GatewayStub(channel)

    with pytest.raises(grpc.RpcError) as caught:
        gateway.Evaluate(gateway_pb2.EvaluateRequest(channel_id=CHANNEL), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_client_without_a_certificate(wire: ServedNetwork) -> None:
    if wire.tls != "mutual":
        pytest.skip("only mutual TLS asks for a client certificate")
    network = wire.network
    user = network.user("Org1", "user1")
    files_ca = (network.peers["peer0.org1"].identity.tls_dir / "ca.crt").read_bytes()
    bare = channel_to(
        wire.servers["peer0.org1"].address,
        tls_ca=files_ca,
        host_override="peer0.org1.example.com",
    )
    peer = GrpcPeer("peer0.org1", "Org1MSP", bare, user)
    with pytest.raises(EndpointError, match="UNAVAILABLE"):
        peer.wait_for_tx(CHANNEL, "0" * 64, timeout=5)
