"""The fabric-test HSM regression sample, imported and run on the simulator, with
the assertions the regression skips: keystores empty, each key on the token with
CKA_ID = the certificate's SKI, signatures that verify and are low-S.

The imported spec keeps the sample's channel and batch settings; only its Raft
timing is the test profile's (Fabric's 500 ms ticks would spend seconds electing
the single orderer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2

from harness.fabric._messages import parse_envelope, parse_identity
from harness.fabric.client import FabricClient
from harness.fabric.sim import SimNetwork
from harness.identity import inspect_token, is_low_s
from harness.runs import RunDir
from harness.spec import TEST, NetworkSpec
from harness.spec.fabric_test import import_fabric_test

pytestmark = pytest.mark.hsm

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "fabric-test-hsm"
CHANNEL = "mychannel"


def _on_sim(spec: NetworkSpec) -> NetworkSpec:
    return dataclasses.replace(spec, timing=TEST)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimNetwork]:
    spec = _on_sim(import_fabric_test(SAMPLE).spec)
    run = RunDir.create("fabric-test", tmp_path_factory.mktemp("runs"))
    with SimNetwork.start(spec, run) as started:
        yield started


def _verify(certificate_pem: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography import x509

    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    try:
        public.verify(signature, message, ec.ECDSA(ec.hashes.SHA256()))
    except InvalidSignature:
        return False
    return is_low_s(signature, public.curve)


def test_the_regression_flow_runs_on_the_imported_network(
    network: SimNetwork,
) -> None:
    assert network.spec.channel(CHANNEL).batch.max_message_count == 10
    org1 = FabricClient.in_process(network, network.user("org1", "user1"))
    org2 = FabricClient.in_process(network, network.user("org2", "user1"))

    result = org1.submit(CHANNEL, "basic", "put", ["asset1", "blue"])

    assert result.code_name == "VALID"
    assert result.block == 1  # after the genesis config block
    for peer in network.peers:
        assert org2.evaluate(CHANNEL, "basic", "get", ["asset1"], peer=peer) == b"blue"


def test_every_identity_is_on_the_token_and_none_in_a_keystore(
    network: SimNetwork,
) -> None:
    token = network.user("org1", "user1").signer.token  # type: ignore[attr-defined]

    report = inspect_token(token, crypto_root=network.run.path / "crypto")

    identities = len(network.peers) + len(network.spec.orderer.nodes)
    identities += len(network.spec.users)
    assert len(report.certificates) == identities
    assert report.passed, report.to_json()
    for certificate in report.certificates:
        checks = {check.name: check for check in certificate.checks}
        assert checks["MSP keystore empty"].passed
        assert checks["key on token, CKA_ID matches"].passed
        assert checks["signature is low-S"].passed
    assert {key.cka_id for key in report.keys} >= {
        bytes.fromhex(cert.ski) for cert in report.certificates
    }


def test_committed_signatures_verify_and_are_low_s(network: SimNetwork) -> None:
    org1 = FabricClient.in_process(network, network.user("org1", "user1"))
    result = org1.submit(CHANNEL, "basic", "put", ["asset2", "green"])
    block = network.peers["peer0.org1"].ledger(CHANNEL).block(result.block)
    envelope_bytes = next(
        data for data in block.data.data if parse_envelope(data).tx_id == result.tx_id
    )
    tx = parse_envelope(envelope_bytes)

    _, creator_pem = parse_identity(tx.creator)
    assert _verify(creator_pem, tx.signature, tx.payload_bytes)
    assert len(tx.endorsements) == 2
    for endorsement in tx.endorsements:
        _, endorser_pem = parse_identity(endorsement.endorser)
        message = tx.response_payload + endorsement.endorser
        assert _verify(endorser_pem, endorsement.signature, message)
    metadata = common_pb2.Metadata.FromString(block.metadata.metadata[0])
    assert metadata.signatures  # the orderer signed the block
