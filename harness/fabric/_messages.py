"""Fabric's transaction messages, built and taken apart with the official protobufs.

The client side builds a signed proposal, checks the endorsements and assembles the
envelope; the peer side parses the proposal and signs its response; the committing
side parses the envelope. Both the simulator and the harness's client use this
module, so a message the client builds is exactly what a real peer receives.

Fabric facts used here:
- tx id = hex SHA-256(nonce || serialized creator); the nonce is 24 random bytes.
- the proposal hash in a response = SHA-256(channel header || signature header ||
  chaincode proposal payload without its transient map);
- an endorsement signs the response payload bytes followed by the endorser's
  serialized identity;
- the envelope's chaincode proposal payload carries no transient map either.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from harness.errors import HarnessError

NONCE_BYTES = 24
ENDORSER_TRANSACTION = common_pb2.HeaderType.Value("ENDORSER_TRANSACTION")
_CHAINCODE_TYPE_GOLANG = 1


class MessageError(HarnessError):
    """A malformed Fabric message; ``code`` is the validation code it earns."""

    def __init__(self, message: str, code: str = "BAD_PAYLOAD") -> None:
        super().__init__(message)
        self.code = code


class EndorsementMismatchError(HarnessError):
    """Endorsing peers returned different results for the same proposal."""


class Creator(Protocol):
    """Who signs: an MSP id, a PEM certificate and a signer (an ``Identity`` fits)."""

    @property
    def msp_id(self) -> str: ...

    @property
    def certificate_pem(self) -> bytes: ...

    @property
    def signer(self) -> Any: ...


def serialize_identity(msp_id: str, certificate_pem: bytes) -> bytes:
    identity = identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=certificate_pem)
    data: bytes = identity.SerializeToString()
    return data


def parse_identity(creator: bytes) -> tuple[str, bytes]:
    """``(msp id, PEM certificate)`` of a serialized identity."""
    identity = identities_pb2.SerializedIdentity()
    try:
        identity.ParseFromString(creator)
    except DecodeError as exc:
        raise MessageError(f"creator is not a serialized identity: {exc}") from None
    return identity.mspid, identity.id_bytes


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    return hashlib.sha256(nonce + creator).hexdigest()


def _timestamp(seconds: float | None = None) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    now = time.time() if seconds is None else seconds
    stamp.seconds = int(now)
    stamp.nanos = int((now - int(now)) * 1e9)
    return stamp


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


@dataclass(frozen=True)
class ProposalView:
    """What a peer needs to know about a signed proposal it received."""

    tx_id: str
    channel: str
    chaincode: str
    args: list[bytes]
    transient: dict[str, bytes]
    creator: bytes
    msp_id: str
    certificate_pem: bytes
    nonce: bytes
    timestamp: float
    proposal_bytes: bytes
    signature: bytes
    header: Any = field(repr=False)
    payload_bytes: bytes = field(repr=False)

    @property
    def function(self) -> str:
        return self.args[0].decode() if self.args else ""

    @property
    def proposal_hash(self) -> bytes:
        return proposal_hash(self.header, self.payload_bytes)


def new_proposal(
    creator: Creator,
    channel: str,
    chaincode: str,
    args: Sequence[str | bytes],
    *,
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes | None = None,
    timestamp: float | None = None,
) -> tuple[Any, str]:
    """An unsigned ``Proposal`` to invoke ``chaincode`` and its tx id."""
    nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
    serialized = serialize_identity(creator.msp_id, creator.certificate_pem)
    tx_id = compute_tx_id(nonce, serialized)
    extension = proposal_pb2.ChaincodeHeaderExtension(
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
    )
    channel_header = common_pb2.ChannelHeader(
        type=ENDORSER_TRANSACTION,
        version=0,
        timestamp=_timestamp(timestamp),
        channel_id=channel,
        tx_id=tx_id,
        epoch=0,
        extension=extension.SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=serialized, nonce=nonce)
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    spec = chaincode_pb2.ChaincodeSpec(
        type=_CHAINCODE_TYPE_GOLANG,
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
        input=chaincode_pb2.ChaincodeInput(args=[_as_bytes(a) for a in args]),
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=chaincode_pb2.ChaincodeInvocationSpec(
            chaincode_spec=spec
        ).SerializeToString(),
        TransientMap=dict(transient or {}),
    )
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )
    return proposal, tx_id


def sign_proposal(proposal: Any, signer: Any) -> Any:
    proposal_bytes = proposal.SerializeToString()
    return proposal_pb2.SignedProposal(
        proposal_bytes=proposal_bytes, signature=signer.sign(proposal_bytes)
    )


def _parse(message: Any, data: bytes, what: str, code: str = "BAD_PAYLOAD") -> Any:
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise MessageError(f"{what} does not parse: {exc}", code) from None
    return message


def parse_signed_proposal(signed: Any) -> ProposalView:
    """Take a ``SignedProposal`` apart; the signature itself is checked by the MSP."""
    proposal = _parse(proposal_pb2.Proposal(), signed.proposal_bytes, "proposal")
    header = _parse(common_pb2.Header(), proposal.header, "proposal header")
    channel_header = _parse(
        common_pb2.ChannelHeader(), header.channel_header, "channel header"
    )
    signature_header = _parse(
        common_pb2.SignatureHeader(), header.signature_header, "signature header"
    )
    if channel_header.type != ENDORSER_TRANSACTION:
        raise MessageError(
            f"proposal header type {channel_header.type} is not ENDORSER_TRANSACTION"
        )
    if not signature_header.nonce or not signature_header.creator:
        raise MessageError("proposal has no nonce or no creator")
    expected = compute_tx_id(signature_header.nonce, signature_header.creator)
    if channel_header.tx_id != expected:
        raise MessageError(
            f"tx id {channel_header.tx_id!r} is not SHA-256(nonce || creator)",
            "BAD_PROPOSAL_TXID",
        )
    payload = _parse(
        proposal_pb2.ChaincodeProposalPayload(), proposal.payload, "payload"
    )
    invocation = _parse(
        chaincode_pb2.ChaincodeInvocationSpec(), payload.input, "chaincode invocation"
    )
    extension = _parse(
        proposal_pb2.ChaincodeHeaderExtension(),
        channel_header.extension,
        "chaincode header extension",
    )
    spec = invocation.chaincode_spec
    chaincode = spec.chaincode_id.name or extension.chaincode_id.name
    msp_id, certificate = parse_identity(signature_header.creator)
    stamp = channel_header.timestamp
    return ProposalView(
        tx_id=channel_header.tx_id,
        channel=channel_header.channel_id,
        chaincode=chaincode,
        args=list(spec.input.args),
        transient=dict(payload.TransientMap),
        creator=signature_header.creator,
        msp_id=msp_id,
        certificate_pem=certificate,
        nonce=signature_header.nonce,
        timestamp=stamp.seconds + stamp.nanos / 1e9,
        proposal_bytes=signed.proposal_bytes,
        signature=signed.signature,
        header=header,
        payload_bytes=proposal.payload,
    )


def _payload_without_transient(payload_bytes: bytes) -> bytes:
    payload = _parse(proposal_pb2.ChaincodeProposalPayload(), payload_bytes, "payload")
    stripped: bytes = proposal_pb2.ChaincodeProposalPayload(
        input=payload.input
    ).SerializeToString()
    return stripped


def proposal_hash(header: Any, payload_bytes: bytes) -> bytes:
    digest = hashlib.sha256()
    digest.update(header.channel_header)
    digest.update(header.signature_header)
    digest.update(_payload_without_transient(payload_bytes))
    return digest.digest()


def new_proposal_response(
    view: ProposalView,
    *,
    status: int,
    message: str = "",
    payload: bytes = b"",
    results: bytes = b"",
    event: tuple[str, bytes] | None = None,
    endorser: Creator | None = None,
) -> Any:
    """The peer's answer; signed (an endorsement) when ``endorser`` is given and the
    chaincode succeeded, as Fabric endorses only status < 400."""
    response = proposal_response_pb2.Response(
        status=status, message=message, payload=payload
    )
    if status >= 400 or endorser is None:
        return proposal_response_pb2.ProposalResponse(version=1, response=response)
    events = b""
    if event is not None:
        events = chaincode_event_pb2.ChaincodeEvent(
            chaincode_id=view.chaincode,
            tx_id=view.tx_id,
            event_name=event[0],
            payload=event[1],
        ).SerializeToString()
    action = proposal_pb2.ChaincodeAction(
        results=results,
        events=events,
        response=response,
        chaincode_id=chaincode_pb2.ChaincodeID(name=view.chaincode),
    )
    response_payload = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=view.proposal_hash, extension=action.SerializeToString()
    ).SerializeToString()
    endorser_bytes = serialize_identity(endorser.msp_id, endorser.certificate_pem)
    endorsement = proposal_response_pb2.Endorsement(
        endorser=endorser_bytes,
        signature=endorser.signer.sign(response_payload + endorser_bytes),
    )
    return proposal_response_pb2.ProposalResponse(
        version=1,
        timestamp=_timestamp(),
        response=response,
        payload=response_payload,
        endorsement=endorsement,
    )


def new_envelope(proposal: Any, responses: Sequence[Any], signer: Any) -> Any:
    """Assemble and sign the transaction the orderer receives."""
    envelope = prepare_envelope(proposal, responses)
    envelope.signature = signer.sign(envelope.payload)
    return envelope


def prepare_envelope(proposal: Any, responses: Sequence[Any]) -> Any:
    """The unsigned transaction (what a Gateway's Endorse returns); every response
    must be a success and all must carry the same payload."""
    if not responses:
        raise EndorsementMismatchError("no endorsements to assemble a transaction from")
    failed = [r.response for r in responses if r.response.status >= 400]
    if failed:
        raise EndorsementMismatchError(
            f"endorsement failed with status {failed[0].status}: {failed[0].message}"
        )
    payloads = {r.payload for r in responses}
    if len(payloads) != 1:
        raise EndorsementMismatchError(
            f"{len(payloads)} different proposal response payloads from "
            f"{len(responses)} endorsers: the peers simulated different results"
        )
    unique: dict[bytes, Any] = {}
    for response in responses:
        unique.setdefault(response.endorsement.endorser, response.endorsement)
    header = _parse(common_pb2.Header(), proposal.header, "proposal header")
    endorsed = transaction_pb2.ChaincodeEndorsedAction(
        proposal_response_payload=responses[0].payload,
        endorsements=list(unique.values()),
    )
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=_payload_without_transient(proposal.payload),
        action=endorsed,
    )
    transaction = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=header.signature_header,
                payload=action_payload.SerializeToString(),
            )
        ]
    )
    payload = common_pb2.Payload(header=header, data=transaction.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString())


@dataclass(frozen=True)
class Endorsement:
    endorser: bytes
    signature: bytes


@dataclass(frozen=True)
class TransactionView:
    """An endorser transaction as the committing peer sees it."""

    tx_id: str
    channel: str
    creator: bytes
    payload_bytes: bytes
    signature: bytes
    response_payload: bytes
    endorsements: list[Endorsement]
    chaincode: str
    results: bytes
    events: bytes
    response_status: int


def parse_envelope(envelope_bytes: bytes) -> TransactionView:
    """Take an envelope apart in Fabric's order; errors carry the validation code."""
    if not envelope_bytes:
        raise MessageError("empty envelope", "NIL_ENVELOPE")
    envelope = _parse(common_pb2.Envelope(), envelope_bytes, "envelope", "NIL_ENVELOPE")
    payload = _parse(common_pb2.Payload(), envelope.payload, "payload")
    if not payload.HasField("header"):
        raise MessageError("payload has no header", "BAD_COMMON_HEADER")
    channel_header = _parse(
        common_pb2.ChannelHeader(),
        payload.header.channel_header,
        "channel header",
        "BAD_CHANNEL_HEADER",
    )
    signature_header = _parse(
        common_pb2.SignatureHeader(),
        payload.header.signature_header,
        "signature header",
        "BAD_COMMON_HEADER",
    )
    if channel_header.type != ENDORSER_TRANSACTION:
        raise MessageError(
            f"header type {channel_header.type} is not supported", "UNKNOWN_TX_TYPE"
        )
    if not signature_header.creator or not signature_header.nonce:
        raise MessageError(
            "signature header lacks creator or nonce", "BAD_COMMON_HEADER"
        )
    if channel_header.tx_id != compute_tx_id(
        signature_header.nonce, signature_header.creator
    ):
        raise MessageError(
            "tx id is not SHA-256(nonce || creator)", "BAD_PROPOSAL_TXID"
        )
    transaction = _parse(transaction_pb2.Transaction(), payload.data, "transaction")
    if len(transaction.actions) != 1:
        raise MessageError(
            f"{len(transaction.actions)} actions, expected 1", "NIL_TXACTION"
        )
    action_payload = _parse(
        transaction_pb2.ChaincodeActionPayload(),
        transaction.actions[0].payload,
        "chaincode action payload",
    )
    endorsed = action_payload.action
    response_payload = _parse(
        proposal_response_pb2.ProposalResponsePayload(),
        endorsed.proposal_response_payload,
        "proposal response payload",
        "BAD_RESPONSE_PAYLOAD",
    )
    chaincode_action = _parse(
        proposal_pb2.ChaincodeAction(),
        response_payload.extension,
        "chaincode action",
        "BAD_RESPONSE_PAYLOAD",
    )
    return TransactionView(
        tx_id=channel_header.tx_id,
        channel=channel_header.channel_id,
        creator=signature_header.creator,
        payload_bytes=envelope.payload,
        signature=envelope.signature,
        response_payload=endorsed.proposal_response_payload,
        endorsements=[
            Endorsement(e.endorser, e.signature) for e in endorsed.endorsements
        ],
        chaincode=chaincode_action.chaincode_id.name,
        results=chaincode_action.results,
        events=chaincode_action.events,
        response_status=chaincode_action.response.status,
    )


# --- Deliver requests -------------------------------------------------------------

DELIVER_SEEK_INFO = common_pb2.HeaderType.Value("DELIVER_SEEK_INFO")
NEWEST = -1
MAX = 2**64 - 1


@dataclass(frozen=True)
class SeekRequest:
    """A parsed Deliver request: blocks ``start..stop`` of ``channel``.

    ``start`` is a block number or ``NEWEST``; ``stop`` a number or ``MAX``.
    """

    channel: str
    creator: bytes
    start: int
    stop: int
    block_until_ready: bool
    payload_bytes: bytes
    signature: bytes


def new_seek_envelope(
    creator: Creator,
    channel: str,
    start: int = NEWEST,
    stop: int = MAX,
    *,
    block_until_ready: bool = True,
) -> Any:
    """A signed Deliver request, as SDKs send to a peer's or orderer's Deliver."""

    def position(number: int) -> Any:
        if number == NEWEST:
            return ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
        return ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=number))

    behavior = ab_pb2.SeekInfo.SeekBehavior.Value(
        "BLOCK_UNTIL_READY" if block_until_ready else "FAIL_IF_NOT_READY"
    )
    seek = ab_pb2.SeekInfo(
        start=position(start), stop=position(stop), behavior=behavior
    )
    nonce = os.urandom(NONCE_BYTES)
    serialized = serialize_identity(creator.msp_id, creator.certificate_pem)
    channel_header = common_pb2.ChannelHeader(
        type=DELIVER_SEEK_INFO,
        channel_id=channel,
        timestamp=_timestamp(),
        tx_id=compute_tx_id(nonce, serialized),
    )
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=common_pb2.SignatureHeader(
            creator=serialized, nonce=nonce
        ).SerializeToString(),
    )
    payload = common_pb2.Payload(header=header, data=seek.SerializeToString())
    payload_bytes = payload.SerializeToString()
    return common_pb2.Envelope(
        payload=payload_bytes, signature=creator.signer.sign(payload_bytes)
    )


def parse_seek_envelope(envelope: Any, height: int) -> SeekRequest:
    """Resolve a Deliver request against a ledger of ``height`` blocks."""
    payload = _parse(common_pb2.Payload(), envelope.payload, "deliver payload")
    channel_header = _parse(
        common_pb2.ChannelHeader(), payload.header.channel_header, "channel header"
    )
    signature_header = _parse(
        common_pb2.SignatureHeader(),
        payload.header.signature_header,
        "signature header",
    )
    seek = _parse(ab_pb2.SeekInfo(), payload.data, "seek info")

    def resolve(position: Any, default: int) -> int:
        kind = position.WhichOneof("Type")
        if kind == "specified":
            return int(position.specified.number)
        if kind == "oldest":
            return 0
        if kind == "newest":
            return max(height - 1, 0)
        if kind == "next_commit":
            return height
        return default

    start = resolve(seek.start, max(height - 1, 0))
    stop = resolve(seek.stop, MAX)
    if stop < start:
        raise MessageError(f"seek stop {stop} is before start {start}", "BAD_REQUEST")
    return SeekRequest(
        channel=channel_header.channel_id,
        creator=signature_header.creator,
        start=start,
        stop=stop,
        block_until_ready=seek.behavior
        == ab_pb2.SeekInfo.SeekBehavior.Value("BLOCK_UNTIL_READY"),
        payload_bytes=envelope.payload,
        signature=envelope.signature,
    )
