"""The client side of the wire: a peer and an orderer reached over gRPC.

They offer what the harness's FabricClient asks of any endpoint, so the same client
code drives an in-process simulator, a simulator served over gRPC and a real Fabric
network. Commit status comes from the peer's Gateway (CommitStatus), which answers
for transactions that committed before the question too.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc, peer_pb2_grpc

from harness.errors import HarnessError
from harness.fabric._messages import Creator, new_seek_envelope, serialize_identity

log = logging.getLogger(__name__)


class EndpointError(HarnessError):
    """A node could not be reached or refused the request; ``status`` names why."""

    exit_code = 1

    def __init__(self, message: str, status: str = "UNAVAILABLE") -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CommitStatus:
    code: int
    block: int


def channel_to(
    address: str,
    *,
    tls_ca: bytes | None = None,
    client_cert: tuple[bytes, bytes] | None = None,
    host_override: str | None = None,
) -> grpc.Channel:
    """A gRPC channel; with ``tls_ca`` TLS, with ``client_cert`` (key, cert) mutual."""
    if tls_ca is None:
        return grpc.insecure_channel(address)
    key, cert = client_cert if client_cert is not None else (None, None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls_ca, private_key=key, certificate_chain=cert
    )
    options = (
        [("grpc.ssl_target_name_override", host_override)] if host_override else []
    )
    return grpc.secure_channel(address, credentials, options=options)


class GrpcPeer:
    """A peer's Endorser, Deliver and Gateway services."""

    def __init__(
        self, name: str, msp_id: str, channel: grpc.Channel, identity: Creator
    ) -> None:
        self.name = name
        self.msp_id = msp_id
        self._channel = channel
        self._identity = identity
        self._endorser = peer_pb2_grpc.EndorserStub(channel)
        self._deliver = events_pb2_grpc.DeliverStub(channel)
        self._gateway = gateway_pb2_grpc.GatewayStub(channel)

    def process_proposal(self, signed: Any, timeout: float = 30) -> Any:
        try:
            return self._endorser.ProcessProposal(signed, timeout=timeout)
        except grpc.RpcError as exc:
            raise _translate(exc, self.name) from None

    def wait_for_tx(
        self, channel: str, tx_id: str, timeout: float
    ) -> CommitStatus | None:
        """The tx's validation code and block, or None when ``timeout`` runs out."""
        request = gateway_pb2.CommitStatusRequest(
            transaction_id=tx_id,
            channel_id=channel,
            identity=serialize_identity(
                self._identity.msp_id, self._identity.certificate_pem
            ),
        ).SerializeToString()
        signed = gateway_pb2.SignedCommitStatusRequest(
            request=request, signature=self._identity.signer.sign(request)
        )
        try:
            reply = self._gateway.CommitStatus(signed, timeout=timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return None
            raise _translate(exc, self.name) from None
        return CommitStatus(code=reply.result, block=reply.block_number)

    def blocks(
        self, channel: str, start: int, stop: int, *, filtered: bool = False
    ) -> list[Any]:
        """Blocks ``start..stop`` through Deliver (waits until they exist)."""
        envelope = new_seek_envelope(self._identity, channel, start, stop)
        call = self._deliver.DeliverFiltered if filtered else self._deliver.Deliver
        found = []
        try:
            for response in call(iter([envelope]), timeout=60):
                kind = response.WhichOneof("Type")
                if kind == "status":
                    if response.status != common_pb2.Status.Value("SUCCESS"):
                        status = common_pb2.Status.Name(response.status)
                        raise EndpointError(
                            f"Deliver from {self.name}: {status}", status
                        )
                    break
                found.append(getattr(response, kind))
        except grpc.RpcError as exc:
            raise _translate(exc, self.name) from None
        return found

    def close(self) -> None:
        self._channel.close()


class GrpcOrderer:
    """An orderer's Broadcast, over one stream that every thread shares.

    Fabric's orderer answers each envelope of a Broadcast stream in order, so one
    long-lived stream carries every transaction, as a Fabric SDK's does, instead
    of a stream (and a client thread to feed it) per transaction. A stream that
    breaks fails the envelopes still waiting on it, and the next broadcast opens
    a new one. The only envelopes sent again here are those the orderer never
    read: the ones queued behind an answer other than SUCCESS, after which
    Fabric's orderer ends the stream. Any other resend is the caller's decision.
    """

    def __init__(self, name: str, channel: grpc.Channel) -> None:
        self.name = name
        self._channel = channel
        self._broadcast = ab_pb2_grpc.AtomicBroadcastStub(channel)
        self._lock = threading.Lock()
        self._stream: _BroadcastStream | None = None
        self._closed = False

    def broadcast(self, envelope: bytes, timeout: float = 30) -> None:
        message = common_pb2.Envelope.FromString(envelope)
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._current_stream().send(
                    message, max(deadline - time.monotonic(), 0.0)
                )
                break
            except _NotRead:
                # Fabric's orderer ends a stream after an answer other than
                # SUCCESS and never reads what came after it: safe to send again
                log.debug("%s did not read an envelope; sending it again", self.name)
        status = common_pb2.Status.Name(reply.status)
        if status != "SUCCESS":
            raise EndpointError(f"orderer {self.name}: {status} {reply.info}", status)

    def _current_stream(self) -> _BroadcastStream:
        with self._lock:
            if self._closed:
                raise EndpointError(f"orderer {self.name}: client closed", "CANCELLED")
            if self._stream is None or self._stream.broken is not None:
                self._stream = _BroadcastStream(self.name, self._broadcast)
            return self._stream

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        self._channel.close()


_END = object()


class _NotRead(EndpointError):
    """The stream ended before the orderer read this envelope."""

    def __init__(self, name: str) -> None:
        super().__init__(f"orderer {name} ended Broadcast before reading an envelope")


class _BroadcastStream:
    """One Broadcast call: envelopes go out in order, and each answer settles the
    oldest envelope still waiting for one."""

    def __init__(self, name: str, stub: Any) -> None:
        self.name = name
        self.broken: EndpointError | None = None
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting: collections.deque[Future[Any]] = collections.deque()
        self._lock = threading.Lock()
        self._call = stub.Broadcast(self._envelopes())
        self._reader = threading.Thread(
            target=self._read, name=f"broadcast-{name}", daemon=True
        )
        self._reader.start()

    def send(self, message: Any, timeout: float) -> Any:
        answer: Future[Any] = Future()
        with self._lock:
            if self.broken is not None:
                raise self.broken
            # queued under the lock, so envelopes and answers keep one order
            self._waiting.append(answer)
            self._outbox.put(message)
        try:
            return answer.result(timeout)
        except FutureTimeout:
            raise EndpointError(
                f"orderer {self.name}: no answer to Broadcast within {timeout:g} s",
                "DEADLINE_EXCEEDED",
            ) from None

    def close(self) -> None:
        self._outbox.put(_END)
        self._call.cancel()

    def _envelopes(self) -> Iterator[Any]:
        while True:
            message = self._outbox.get()
            if message is _END:
                return
            yield message

    def _read(self) -> None:
        refused = False
        try:
            for reply in self._call:
                refused = reply.status != common_pb2.Status.Value("SUCCESS")
                with self._lock:
                    answer = self._waiting.popleft() if self._waiting else None
                if answer is not None:
                    answer.set_result(reply)
            error: EndpointError = (
                _NotRead(self.name)
                if refused
                else EndpointError(
                    f"orderer {self.name} closed Broadcast without an answer"
                )
            )
        except grpc.RpcError as exc:
            error = _translate(exc, self.name)
        with self._lock:
            self.broken = error
            left = list(self._waiting)
            self._waiting.clear()
        self._outbox.put(_END)
        for answer in left:
            answer.set_exception(error)


_FAILOVER_STATUSES = frozenset({"UNAVAILABLE", "SERVICE_UNAVAILABLE"})


class FailoverOrderer:
    """Broadcast through several orderers of one ordering service: the one that
    answered last first, the next when it is unreachable or knows no leader."""

    def __init__(self, orderers: list[GrpcOrderer]) -> None:
        if not orderers:
            raise HarnessError("a failover orderer needs at least one orderer")
        self.orderers = orderers
        self.name = orderers[0].name
        self._current = 0

    def broadcast(self, envelope: bytes, timeout: float = 30) -> None:
        count = len(self.orderers)
        for attempt in range(count):
            index = (self._current + attempt) % count
            orderer = self.orderers[index]
            try:
                orderer.broadcast(envelope, timeout)
            except EndpointError as exc:
                if exc.status not in _FAILOVER_STATUSES or attempt == count - 1:
                    raise
                log.debug(
                    "broadcast via %s failed (%s); trying the next", orderer.name, exc
                )
                continue
            self._current = index
            self.name = orderer.name
            return

    def close(self) -> None:
        for orderer in self.orderers:
            orderer.close()


def _translate(exc: grpc.RpcError, node: str) -> EndpointError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    name = code.name if code is not None else "UNKNOWN"
    return EndpointError(f"{node}: {name}: {details}", name)
