"""fabric-sdk-py's generated protobuf modules on this runtime, beside the official
bindings: they import, keep the names hfc's code uses, and speak the same bytes."""

from __future__ import annotations

import datetime
import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2 as official_common
from fabric_protos.orderer import ab_pb2 as official_ab
from fabric_protos.peer import proposal_pb2 as official_proposal
from fabric_protos.peer import proposal_response_pb2 as official_response
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.internal import api_implementation

from harness.fabric import sdkcompat
from harness.fabric._messages import parse_signed_proposal

pytest.importorskip("hfc", reason="fabric-sdk-py is not installed")
sdkcompat.install()

from hfc.protos.common import common_pb2  # noqa: E402  (needs the hook)
from hfc.protos.orderer import ab_pb2  # noqa: E402
from hfc.protos.peer import (  # noqa: E402
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)


def test_every_generated_module_loads_beside_the_official_bindings() -> None:
    import hfc.protos

    modules = sdkcompat.proto_modules()
    for name in modules:
        module = importlib.import_module(name)
        assert (
            module.DESCRIPTOR.name
            == name.replace(".", "/").removesuffix("_pb2") + ".proto"
        )
    stubs = [
        info.name
        for info in pkgutil.walk_packages(hfc.protos.__path__, "hfc.protos.")
        if info.name.endswith("_pb2_grpc")
    ]
    for name in stubs:
        importlib.import_module(name)

    assert len(modules) >= 30
    assert len(stubs) == len(modules)


def test_this_process_runs_the_fast_backend() -> None:
    # What the other tests here prove holds for upb, where the old modules alone
    # cannot even be imported (they also pass under the pure-Python backend).
    assert api_implementation.Type() == "upb"


def test_modules_keep_the_names_the_sdk_uses() -> None:
    from hfc.protos.orderer import ab_pb2_grpc
    from hfc.protos.peer import events_pb2_grpc, peer_pb2_grpc

    assert common_pb2.ENDORSER_TRANSACTION == 3
    assert common_pb2.HeaderType.Value("DELIVER_SEEK_INFO") == 5
    assert common_pb2.Status.Name(503) == "SERVICE_UNAVAILABLE"
    assert transaction_pb2.TxValidationCode.Name(11) == "MVCC_READ_CONFLICT"
    assert chaincode_pb2.ChaincodeSpec.Type.Value("GOLANG") == 1
    assert ab_pb2.SeekInfo.SeekBehavior.Value("FAIL_IF_NOT_READY") == 1
    entry = proposal_pb2.ChaincodeProposalPayload.TransientMapEntry
    assert entry.DESCRIPTOR.GetOptions().map_entry
    assert proposal_pb2._PROPOSAL is proposal_pb2.Proposal.DESCRIPTOR
    assert callable(peer_pb2_grpc.EndorserStub)
    assert callable(ab_pb2_grpc.AtomicBroadcastStub)
    assert callable(events_pb2_grpc.DeliverStub)


def test_sdk_types_are_renamed_and_official_ones_untouched() -> None:
    assert common_pb2.Envelope.DESCRIPTOR.full_name == "hfc.common.Envelope"
    assert proposal_pb2.Proposal.DESCRIPTOR.full_name == "hfc.protos.Proposal"
    assert official_common.Envelope.DESCRIPTOR.full_name == "common.Envelope"
    assert official_proposal.Proposal.DESCRIPTOR.full_name == "protos.Proposal"
    assert common_pb2.Envelope is not official_common.Envelope


def test_google_timestamp_goes_into_sdk_messages() -> None:
    # fabric-sdk-py copies a google.protobuf Timestamp into its ChannelHeader; with
    # a private descriptor pool that CopyFrom would be refused as another class.
    stamp = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5)
    header = common_pb2.ChannelHeader(channel_id="ch")
    header.timestamp.CopyFrom(stamp)

    parsed = official_common.ChannelHeader.FromString(header.SerializeToString())

    assert (parsed.timestamp.seconds, parsed.timestamp.nanos) == (1_700_000_000, 5)


def _signed_proposal(m: Any) -> Any:
    header = m["common"].Header(
        channel_header=m["common"]
        .ChannelHeader(type=3, channel_id="ch", tx_id="ab" * 32, epoch=7)
        .SerializeToString(),
        signature_header=m["common"]
        .SignatureHeader(creator=b"creator", nonce=b"n" * 24)
        .SerializeToString(),
    )
    payload = m["proposal"].ChaincodeProposalPayload(
        input=b"spec", TransientMap={"secret": b"\x00\x01"}
    )
    proposal = m["proposal"].Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )
    return m["proposal"].SignedProposal(
        proposal_bytes=proposal.SerializeToString(), signature=b"\x30\x44sig"
    )


def _proposal_response(m: Any) -> Any:
    return m["response"].ProposalResponse(
        version=1,
        response=m["response"].Response(status=500, message="boom", payload=b"p"),
        payload=b"prp",
        endorsement=m["response"].Endorsement(endorser=b"peer", signature=b"s"),
    )


def _envelope(m: Any) -> Any:
    payload = m["common"].Payload(
        header=m["common"].Header(channel_header=b"ch", signature_header=b"sh"),
        data=b"transaction",
    )
    return m["common"].Envelope(payload=payload.SerializeToString(), signature=b"s")


def _block(m: Any) -> Any:
    block = m["common"].Block()
    block.header.number = 9
    block.header.previous_hash = b"\x01" * 32
    block.data.data.extend([b"tx1", b"tx2"])
    block.metadata.metadata.extend([b"", b"", bytes([0, 11])])
    return block


def _seek_info(m: Any) -> Any:
    info = m["ab"].SeekInfo(behavior=1)
    info.start.specified.number = 3
    info.stop.newest.SetInParent()  # a oneof member with no fields
    return info


SDK = {
    "common": common_pb2,
    "proposal": proposal_pb2,
    "response": proposal_response_pb2,
    "ab": ab_pb2,
}
OFFICIAL = {
    "common": official_common,
    "proposal": official_proposal,
    "response": official_response,
    "ab": official_ab,
}
BUILDERS: dict[str, Callable[[Any], Any]] = {
    "SignedProposal": _signed_proposal,
    "ProposalResponse": _proposal_response,
    "Envelope": _envelope,
    "Block": _block,
    "SeekInfo": _seek_info,
}


def _fields(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_sdk_bytes_parse_with_the_official_bindings_and_back(kind: str) -> None:
    build = BUILDERS[kind]
    sdk_message, official_message = build(SDK), build(OFFICIAL)
    sdk_bytes = sdk_message.SerializeToString(deterministic=True)

    parsed = type(official_message).FromString(sdk_bytes)
    back = type(sdk_message).FromString(parsed.SerializeToString(deterministic=True))

    assert parsed == official_message
    assert _fields(parsed) == _fields(sdk_message)
    assert back == sdk_message
    assert official_message.SerializeToString(deterministic=True) == sdk_bytes


def test_nested_bytes_parse_the_same_on_both_sides() -> None:
    signed = _signed_proposal(SDK)
    official = official_proposal.SignedProposal.FromString(signed.SerializeToString())

    proposal = official_proposal.Proposal.FromString(official.proposal_bytes)
    payload = official_proposal.ChaincodeProposalPayload.FromString(proposal.payload)
    header = official_common.Header.FromString(proposal.header)
    channel_header = official_common.ChannelHeader.FromString(header.channel_header)

    assert dict(payload.TransientMap) == {"secret": b"\x00\x01"}
    assert (channel_header.type, channel_header.epoch) == (3, 7)


def _file_user(folder: Path) -> Any:
    from hfc.fabric.user import create_user
    from hfc.util.keyvaluestore import FileKeyValueStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "user1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    store = FileKeyValueStore(str(folder / "store"))
    return create_user("user1", "Org1", store, "Org1MSP", str(key_path), str(cert_path))


def test_sdk_client_signs_a_proposal_the_harness_accepts(tmp_path: Path) -> None:
    from hfc.fabric import Client
    from hfc.fabric.transaction.tx_context import create_tx_context
    from hfc.fabric.transaction.tx_proposal_request import (
        CC_INVOKE,
        create_tx_prop_req,
    )
    from hfc.util import utils

    user = _file_user(tmp_path)
    client = Client()
    channel = client.new_channel("utilityemissionchannel")
    request = create_tx_prop_req(
        prop_type=CC_INVOKE, cc_name="kv", fcn="put", args=["k", "v"]
    )
    context = create_tx_context(user, user.cryptoSuite, request)
    _, proposal, _ = channel.send_tx_proposal(context, [])  # no peer: build only
    signed = utils.sign_proposal(context, proposal)

    view = parse_signed_proposal(
        official_proposal.SignedProposal.FromString(signed.SerializeToString())
    )

    # parse_signed_proposal also checks tx id == SHA-256(nonce || creator).
    assert view.tx_id == context.tx_id
    assert (view.channel, view.chaincode) == ("utilityemissionchannel", "kv")
    assert view.args == [b"put", b"k", b"v"]
    assert view.msp_id == "Org1MSP"
    assert view.certificate_pem == user.enrollment.cert
    public_key = x509.load_pem_x509_certificate(view.certificate_pem).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        view.signature, view.proposal_bytes, ec.ECDSA(hashes.SHA256())
    )  # raises InvalidSignature when hfc signed other bytes


def test_install_is_idempotent_and_uninstall_removes_only_the_hook() -> None:
    sdkcompat.install()
    hooks = [f for f in sys.meta_path if type(f).__name__ == "_Finder"]
    assert len(hooks) == 1

    sdkcompat.uninstall()
    try:
        assert not sdkcompat.is_installed()
        assert "hfc.protos.common.common_pb2" in sys.modules  # built ones stay
    finally:
        sdkcompat.install()

    with sdkcompat.installed():
        assert sdkcompat.is_installed()
    assert sdkcompat.is_installed()  # it was there before the block


def test_module_without_a_descriptor_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "broken_pb2.py"
    source.write_text("DESCRIPTOR = None\n")

    with pytest.raises(sdkcompat.SdkCompatError, match="no serialized descriptor"):
        sdkcompat._read_file_proto(source)
