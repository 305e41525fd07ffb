"""Fabric transaction messages: what the client builds is what a peer can parse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2

from harness.fabric._messages import (
    EndorsementMismatchError,
    MessageError,
    compute_tx_id,
    new_envelope,
    new_proposal,
    new_proposal_response,
    parse_envelope,
    parse_identity,
    parse_signed_proposal,
    serialize_identity,
    sign_proposal,
)
from harness.identity import Identity, Organization


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    crypto: Path = tmp_path_factory.mktemp("crypto")
    org1 = Organization.create(crypto, "Org1")
    org2 = Organization.create(crypto, "Org2")
    return {
        "client": org1.enroll("User1", "client"),
        "peer1": org1.enroll("peer0", "peer"),
        "peer2": org2.enroll("peer0", "peer"),
    }


def _verify(identity_bytes: bytes, signature: bytes, message: bytes) -> None:
    _, pem = parse_identity(identity_bytes)
    cert = x509.load_pem_x509_certificate(pem)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_proposal_round_trip(people: dict[str, Identity]) -> None:
    client = people["client"]
    proposal, tx_id = new_proposal(
        client,
        "utilityemissionchannel",
        "datalock",
        ["getTxDetails", "tx-1"],
        transient={"secret": b"s"},
    )
    signed = sign_proposal(proposal, client.signer)

    view = parse_signed_proposal(signed)

    assert view.tx_id == tx_id
    assert len(view.nonce) == 24
    assert tx_id == hashlib.sha256(view.nonce + view.creator).hexdigest()
    assert (view.channel, view.chaincode, view.function) == (
        "utilityemissionchannel",
        "datalock",
        "getTxDetails",
    )
    assert view.args == [b"getTxDetails", b"tx-1"]
    assert view.transient == {"secret": b"s"}
    assert view.msp_id == "Org1MSP"
    _verify(view.creator, view.signature, view.proposal_bytes)


def test_forged_tx_id_is_bad_proposal_txid(people: dict[str, Identity]) -> None:
    proposal, _ = new_proposal(people["client"], "ch", "cc", ["f"])
    header = common_pb2.Header.FromString(proposal.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    channel_header.tx_id = "0" * 64
    header.channel_header = channel_header.SerializeToString()
    proposal.header = header.SerializeToString()

    with pytest.raises(MessageError) as caught:
        parse_signed_proposal(sign_proposal(proposal, people["client"].signer))
    assert caught.value.code == "BAD_PROPOSAL_TXID"


def test_garbage_proposal_is_bad_payload() -> None:
    with pytest.raises(MessageError) as caught:
        parse_signed_proposal(proposal_pb2.SignedProposal(proposal_bytes=b"\xff\xff"))
    assert caught.value.code == "BAD_PAYLOAD"


def test_proposal_hash_ignores_the_transient_map(people: dict[str, Identity]) -> None:
    client = people["client"]
    nonce = b"n" * 24
    with_secret, _ = new_proposal(
        client, "ch", "cc", ["f"], transient={"k": b"v"}, nonce=nonce, timestamp=1.0
    )
    without, _ = new_proposal(client, "ch", "cc", ["f"], nonce=nonce, timestamp=1.0)

    first = parse_signed_proposal(sign_proposal(with_secret, client.signer))
    second = parse_signed_proposal(sign_proposal(without, client.signer))

    assert first.proposal_hash == second.proposal_hash


def test_endorse_assemble_and_parse_an_envelope(people: dict[str, Identity]) -> None:
    client, peer1, peer2 = people["client"], people["peer1"], people["peer2"]
    proposal, tx_id = new_proposal(
        client, "ch", "cc", ["put", "k", "v"], transient={"t": b"top-secret-transient"}
    )
    view = parse_signed_proposal(sign_proposal(proposal, client.signer))
    responses = [
        new_proposal_response(
            view,
            status=200,
            payload=b"ok",
            results=b"rwset",
            event=("E", b"p"),
            endorser=peer,
        )
        for peer in (peer1, peer2)
    ]
    for response in responses:
        _verify(
            response.endorsement.endorser,
            response.endorsement.signature,
            response.payload + response.endorsement.endorser,
        )

    envelope = new_envelope(proposal, responses, client.signer)
    tx = parse_envelope(envelope.SerializeToString())

    assert tx.tx_id == tx_id
    assert (tx.channel, tx.chaincode, tx.results, tx.response_status) == (
        "ch",
        "cc",
        b"rwset",
        200,
    )
    assert len(tx.endorsements) == 2
    assert (
        b"top-secret-transient" not in envelope.payload
    )  # the transient map never reaches the ledger
    _verify(tx.creator, tx.signature, tx.payload_bytes)


def test_different_results_refuse_to_assemble(people: dict[str, Identity]) -> None:
    client = people["client"]
    proposal, _ = new_proposal(client, "ch", "cc", ["f"])
    view = parse_signed_proposal(sign_proposal(proposal, client.signer))
    one = new_proposal_response(
        view, status=200, results=b"a", endorser=people["peer1"]
    )
    two = new_proposal_response(
        view, status=200, results=b"b", endorser=people["peer2"]
    )

    with pytest.raises(EndorsementMismatchError, match="2 different"):
        new_envelope(proposal, [one, two], client.signer)


def test_failed_chaincode_is_not_endorsed(people: dict[str, Identity]) -> None:
    client = people["client"]
    proposal, _ = new_proposal(client, "ch", "cc", ["f"])
    view = parse_signed_proposal(sign_proposal(proposal, client.signer))
    failed = new_proposal_response(
        view, status=500, message="boom", endorser=people["peer1"]
    )

    assert not failed.HasField("endorsement")
    with pytest.raises(EndorsementMismatchError, match="status 500: boom"):
        new_envelope(proposal, [failed], client.signer)


@pytest.mark.parametrize(
    ("envelope", "code"),
    [
        (b"", "NIL_ENVELOPE"),
        (common_pb2.Envelope(payload=b"\xff").SerializeToString(), "BAD_PAYLOAD"),
    ],
    ids=["empty", "garbage-payload"],
)
def test_malformed_envelopes_carry_their_validation_code(
    envelope: bytes, code: str
) -> None:
    with pytest.raises(MessageError) as caught:
        parse_envelope(envelope)
    assert caught.value.code == code


def test_serialized_identity_round_trip() -> None:
    data = serialize_identity("Org1MSP", b"PEM")
    assert parse_identity(data) == ("Org1MSP", b"PEM")
    assert compute_tx_id(b"n", data) == hashlib.sha256(b"n" + data).hexdigest()
