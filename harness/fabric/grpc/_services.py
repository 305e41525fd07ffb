"""Fabric's gRPC services over the simulator's nodes.

Peers serve Endorser, Deliver (blocks and filtered blocks) and Gateway; orderers
serve AtomicBroadcast (Broadcast and Deliver). Every message is Fabric's own
protobuf, so fabric-sdk-py, the Fabric Gateway clients and other SDKs can talk to
the simulator as they would to a Fabric 2.5 network.

The services see the nodes only through the small protocols below, which the
simulator's Peer, PeerLedger and ordering service satisfy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NoReturn, Protocol

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2, ab_pb2_grpc
from fabric_protos.peer import (
    chaincode_event_pb2,
    events_pb2,
    events_pb2_grpc,
    peer_pb2_grpc,
    proposal_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError

from harness.errors import HarnessError
from harness.fabric._messages import (
    EndorsementMismatchError,
    MessageError,
    SeekRequest,
    parse_envelope,
    parse_seek_envelope,
    parse_signed_proposal,
    prepare_envelope,
)

log = logging.getLogger(__name__)

_POLL_S = 0.25  # how often a blocked stream looks whether its client went away
_STATUS = common_pb2.Status.Value


class TxStatusLike(Protocol):
    code: int
    block: int


class LedgerView(Protocol):
    """What Deliver, CommitStatus and ChaincodeEvents need of a channel's blocks."""

    @property
    def height(self) -> int: ...

    def wait_for_block(self, number: int, timeout: float) -> Any | None: ...


class PeerLedgerView(LedgerView, Protocol):
    def wait_for_tx(self, tx_id: str, timeout: float) -> TxStatusLike | None: ...


class PeerNode(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def msp_id(self) -> str: ...

    def process_proposal(self, signed: Any) -> Any: ...

    def ledger(self, channel: str) -> PeerLedgerView: ...


class OrdererChannel(LedgerView, Protocol):
    def broadcast(self, envelope: bytes) -> None: ...


class NetworkView(Protocol):
    """What a Gateway needs beyond its own peer: endorsers and the orderer."""

    def endorsers(self, channel: str, chaincode: str) -> list[Any]: ...

    def orderer(self, channel: str) -> OrdererChannel: ...


# --- Deliver, shared by peers and orderers ------------------------------------------


def _stream_blocks(
    ledger: LedgerView, request: SeekRequest, context: grpc.ServicerContext
) -> Iterator[Any]:
    """Blocks ``request.start..stop``; waits for new ones while the client is there."""
    number = request.start
    while number <= request.stop:
        if not context.is_active():
            return
        block = ledger.wait_for_block(
            number, _POLL_S if request.block_until_ready else 0
        )
        if block is None:
            if request.block_until_ready:
                continue
            yield _STATUS("NOT_FOUND")
            return
        yield block
        number += 1
    yield _STATUS("SUCCESS")


def _deliver(
    ledgers: Any,
    envelopes: Iterator[Any],
    context: grpc.ServicerContext,
    filtered: bool,
) -> Iterator[Any]:
    for envelope in envelopes:
        try:
            channel = parse_seek_envelope(envelope, 0).channel
            ledger = ledgers(channel)
            request = parse_seek_envelope(envelope, ledger.height)
        except MessageError as exc:
            log.debug("deliver request refused: %s", exc)
            yield events_pb2.DeliverResponse(status=_STATUS("BAD_REQUEST"))
            continue
        except HarnessError as exc:
            log.debug("deliver request refused: %s", exc)
            yield events_pb2.DeliverResponse(status=_STATUS("NOT_FOUND"))
            continue
        for item in _stream_blocks(ledger, request, context):
            if isinstance(item, int):
                yield events_pb2.DeliverResponse(status=item)
            elif filtered:
                yield events_pb2.DeliverResponse(filtered_block=filtered_block(item))
            else:
                yield events_pb2.DeliverResponse(block=item)


def filtered_block(block: Any) -> Any:
    """Fabric's FilteredBlock: tx ids, types and validation codes only."""
    codes = list(block.metadata.metadata[2]) if len(block.metadata.metadata) > 2 else []
    channel = ""
    transactions = []
    for index, data in enumerate(block.data.data):
        envelope = common_pb2.Envelope.FromString(data)
        payload = common_pb2.Payload.FromString(envelope.payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        channel = header.channel_id
        transactions.append(
            events_pb2.FilteredTransaction(
                txid=header.tx_id,
                type=header.type,
                tx_validation_code=codes[index] if index < len(codes) else 0,
            )
        )
    return events_pb2.FilteredBlock(
        channel_id=channel,
        number=block.header.number,
        filtered_transactions=transactions,
    )


# --- peer services ------------------------------------------------------------------


class EndorserService(peer_pb2_grpc.EndorserServicer):  # type: ignore[misc]
    def __init__(self, peer: PeerNode) -> None:
        self._peer = peer

    def ProcessProposal(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _endorse_or_abort(self._peer, request, context)


def _endorse_or_abort(peer: Any, signed: Any, context: grpc.ServicerContext) -> Any:
    """The peer's answer; a stopped, paused or dropping peer is UNAVAILABLE."""
    try:
        return peer.process_proposal(signed)
    except HarnessError as exc:
        context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        raise AssertionError("context.abort returned") from None  # pragma: no cover


class PeerDeliverService(events_pb2_grpc.DeliverServicer):  # type: ignore[misc]
    def __init__(self, peer: PeerNode) -> None:
        self._peer = peer

    def Deliver(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        return _deliver(self._peer.ledger, request_iterator, context, filtered=False)

    def DeliverFiltered(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        return _deliver(self._peer.ledger, request_iterator, context, filtered=True)


class GatewayService(gateway_pb2_grpc.GatewayServicer):  # type: ignore[misc]
    """Fabric 2.4+'s Gateway on a peer: it endorses, submits and tracks commits for
    the client, which only signs."""

    def __init__(self, peer: PeerNode, network: NetworkView) -> None:
        self._peer = peer
        self._network = network

    def Evaluate(self, request: Any, context: grpc.ServicerContext) -> Any:
        response = _endorse_or_abort(self._peer, request.proposed_transaction, context)
        if response.response.status >= 400:
            self._abort(context, grpc.StatusCode.UNKNOWN, response.response.message)
        return gateway_pb2.EvaluateResponse(result=response.response)

    def Endorse(self, request: Any, context: grpc.ServicerContext) -> Any:
        signed = request.proposed_transaction
        try:
            view = parse_signed_proposal(signed)
        except MessageError as exc:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        peers = self._network.endorsers(view.channel, view.chaincode)
        wanted = set(request.endorsing_organizations)
        if wanted:
            peers = [peer for peer in peers if peer.msp_id in wanted]
        responses = [_endorse_or_abort(peer, signed, context) for peer in peers]
        failed = [
            gateway_pb2.ErrorDetail(
                address=peer.name, msp_id=peer.msp_id, message=r.response.message
            )
            for peer, r in zip(peers, responses, strict=True)
            if r.response.status >= 400
        ]
        if failed:
            message = f"failed to endorse transaction: {failed[0].message}"
            self._abort(context, grpc.StatusCode.ABORTED, message)
        proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
        try:
            prepared = prepare_envelope(proposal, responses)
        except EndorsementMismatchError as exc:
            self._abort(context, grpc.StatusCode.ABORTED, str(exc))
        return gateway_pb2.EndorseResponse(prepared_transaction=prepared)

    def Submit(self, request: Any, context: grpc.ServicerContext) -> Any:
        envelope = request.prepared_transaction
        if not envelope.signature:
            self._abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the transaction is not signed",
            )
        try:
            self._network.orderer(request.channel_id).broadcast(
                envelope.SerializeToString()
            )
        except HarnessError as exc:
            self._abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        return gateway_pb2.SubmitResponse()

    def CommitStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        inner = gateway_pb2.CommitStatusRequest.FromString(request.request)
        ledger = self._ledger(inner.channel_id, context)
        status = None
        while status is None and context.is_active():
            status = ledger.wait_for_tx(inner.transaction_id, _POLL_S)
        if status is None:
            self._abort(context, grpc.StatusCode.CANCELLED, "client went away")
        return gateway_pb2.CommitStatusResponse(
            result=status.code, block_number=status.block
        )

    def ChaincodeEvents(
        self, request: Any, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        inner = gateway_pb2.ChaincodeEventsRequest.FromString(request.request)
        ledger = self._ledger(inner.channel_id, context)
        start = ledger.height
        if inner.start_position.WhichOneof("Type") == "specified":
            start = inner.start_position.specified.number
        elif inner.start_position.WhichOneof("Type") == "oldest":
            start = 0
        number = start
        skipping = bool(inner.after_transaction_id)
        while context.is_active():
            block = ledger.wait_for_block(number, _POLL_S)
            if block is None:
                continue
            events, skipping = _chaincode_events(
                block, inner.chaincode_id, inner.after_transaction_id, skipping
            )
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(
                    events=events, block_number=block.header.number
                )
            number += 1

    def _ledger(self, channel: str, context: grpc.ServicerContext) -> PeerLedgerView:
        try:
            return self._peer.ledger(channel)
        except HarnessError as exc:
            self._abort(context, grpc.StatusCode.NOT_FOUND, str(exc))

    @staticmethod
    def _abort(
        context: grpc.ServicerContext, code: grpc.StatusCode, message: str
    ) -> NoReturn:
        context.abort(code, message)
        raise AssertionError("context.abort returned")  # pragma: no cover


def _chaincode_events(
    block: Any, chaincode: str, after_tx: str, skipping: bool
) -> tuple[list[Any], bool]:
    """Events of ``chaincode`` from the valid transactions of a block."""
    codes = list(block.metadata.metadata[2]) if len(block.metadata.metadata) > 2 else []
    valid = transaction_pb2.TxValidationCode.Value("VALID")
    events = []
    for index, data in enumerate(block.data.data):
        try:
            tx = parse_envelope(data)
        except MessageError:
            continue
        if skipping:
            skipping = tx.tx_id != after_tx
            continue
        if index >= len(codes) or codes[index] != valid or not tx.events:
            continue
        event = chaincode_event_pb2.ChaincodeEvent.FromString(tx.events)
        if event.chaincode_id == chaincode:
            events.append(event)
    return events, skipping


# --- orderer service -----------------------------------------------------------------


class OrdererLookup(Protocol):
    def __call__(self, channel: str) -> OrdererChannel: ...


class AtomicBroadcastService(ab_pb2_grpc.AtomicBroadcastServicer):  # type: ignore[misc]
    """Broadcast answers per envelope with Fabric's status names; Deliver streams the
    orderer's blocks."""

    def __init__(self, orderer: OrdererLookup) -> None:
        self._orderer = orderer

    def Broadcast(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        # Like Fabric's broadcast handler: answer each envelope in order, and end
        # the stream after an answer other than SUCCESS (nothing after it is read).
        for envelope in request_iterator:
            reply = self._broadcast_one(envelope)
            yield reply
            if reply.status != _STATUS("SUCCESS"):
                return

    def _broadcast_one(self, envelope: Any) -> Any:
        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            orderer = self._orderer(header.channel_id)
        except (DecodeError, HarnessError) as exc:
            return ab_pb2.BroadcastResponse(
                status=_STATUS("BAD_REQUEST"), info=str(exc)
            )
        try:
            orderer.broadcast(envelope.SerializeToString())
        except HarnessError as exc:
            status = getattr(exc, "status", "SERVICE_UNAVAILABLE")
            return ab_pb2.BroadcastResponse(status=_STATUS(status), info=str(exc))
        return ab_pb2.BroadcastResponse(status=_STATUS("SUCCESS"))

    def Deliver(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for response in _deliver(
            self._orderer, request_iterator, context, filtered=False
        ):
            if response.WhichOneof("Type") == "block":
                yield ab_pb2.DeliverResponse(block=response.block)
            else:
                yield ab_pb2.DeliverResponse(status=response.status)
