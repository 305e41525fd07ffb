"""The harness's Fabric client: evaluate, endorse, submit, wait for the commit status.

It speaks to endpoints, not to a particular network: anything with a peer's
``process_proposal`` and ``wait_for_tx`` and an orderer's ``broadcast`` will do, so
the same code drives the in-process simulator (:meth:`FabricClient.in_process`)
and a network reached over gRPC.

>>> client = FabricClient.in_process(network, network.user("Org1", "user1"))
>>> client.submit("utilityemissionchannel", "utilityemissions", "put", ["k", "v"])
SubmitResult(tx_id='...', code=0, code_name='VALID', block=1, payload=b'')

:meth:`FabricClient.endorse` and :meth:`FabricClient.submit_prepared` split
:meth:`FabricClient.submit` in two, so a test can forge, replay or reorder
transactions between endorsement and ordering.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fabric_protos.peer import transaction_pb2

from harness.errors import BroadcastError, HarnessError
from harness.fabric._messages import (
    Creator,
    EndorsementMismatchError,
    new_envelope,
    new_proposal,
    sign_proposal,
)

if TYPE_CHECKING:
    from harness.fabric.sim import Peer, SimNetwork

__all__ = [
    "BroadcastError",
    "ChaincodeError",
    "CommitInfo",
    "CommitTimeoutError",
    "EndorsementError",
    "EndorsementMismatchError",
    "FabricClient",
    "InProcessOrderer",
    "InProcessPeer",
    "OrdererEndpoint",
    "PeerEndpoint",
    "PreparedTx",
    "SubmitResult",
    "TransactionInvalidError",
    "code_name",
]

log = logging.getLogger(__name__)

VALID = 0


def code_name(code: int) -> str:
    """Fabric's name of a validation code (``MVCC_READ_CONFLICT`` for 11)."""
    try:
        name: str = transaction_pb2.TxValidationCode.Name(code)
    except ValueError:
        return f"UNKNOWN_CODE_{code}"
    return name


# --- errors ------------------------------------------------------------------------


class EndorsementError(HarnessError):
    """A peer refused to endorse; ``status`` and ``peer`` say which and why."""

    exit_code = 1

    def __init__(self, message: str, *, status: int, peer: str) -> None:
        super().__init__(message)
        self.status = status
        self.peer = peer


class ChaincodeError(EndorsementError):
    """An evaluation the chaincode answered with an error status (>= 400)."""


class CommitTimeoutError(HarnessError):
    """No commit status for a transaction before the deadline."""

    exit_code = 1


class TransactionInvalidError(HarnessError):
    """A transaction committed with a validation code other than VALID."""

    exit_code = 1

    def __init__(self, message: str, *, code: int, tx_id: str) -> None:
        super().__init__(message)
        self.code = code
        self.tx_id = tx_id


# --- endpoints ---------------------------------------------------------------------


class CommitInfo(Protocol):
    """A transaction's commit status: validation code and block number."""

    @property
    def code(self) -> int: ...

    @property
    def block(self) -> int: ...


class PeerEndpoint(Protocol):
    """What the client needs of a peer, in process or over the wire."""

    @property
    def name(self) -> str: ...

    @property
    def msp_id(self) -> str: ...

    def process_proposal(self, signed: Any) -> Any:
        """Send a ``SignedProposal``; return the ``ProposalResponse``."""
        ...

    def wait_for_tx(
        self, channel: str, tx_id: str, timeout: float
    ) -> CommitInfo | None:
        """The tx's commit status, or None when ``timeout`` seconds pass first."""
        ...


class OrdererEndpoint(Protocol):
    """What the client needs of an orderer: Broadcast, raising BroadcastError."""

    def broadcast(self, envelope_bytes: bytes) -> None: ...


class InProcessPeer:
    """A simulator :class:`~harness.fabric.sim.Peer` as a :class:`PeerEndpoint`."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @property
    def name(self) -> str:
        return self.peer.name

    @property
    def msp_id(self) -> str:
        return self.peer.msp_id

    def process_proposal(self, signed: Any) -> Any:
        return self.peer.process_proposal(signed)

    def wait_for_tx(
        self, channel: str, tx_id: str, timeout: float
    ) -> CommitInfo | None:
        return self.peer.ledger(channel).wait_for_tx(tx_id, timeout)


class InProcessOrderer:
    """A simulated network's ordering services as one :class:`OrdererEndpoint`:
    each envelope goes to the service of the channel its header names."""

    def __init__(self, network: SimNetwork) -> None:
        self.network = network

    def broadcast(self, envelope_bytes: bytes) -> None:
        from fabric_protos.common import common_pb2
        from google.protobuf.message import DecodeError

        try:
            envelope = common_pb2.Envelope.FromString(envelope_bytes)
            payload = common_pb2.Payload.FromString(envelope.payload)
            header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        except DecodeError as exc:
            raise BroadcastError(
                f"envelope does not parse: {exc}", "BAD_REQUEST"
            ) from None
        if header.channel_id not in {c.name for c in self.network.spec.channels}:
            raise BroadcastError(
                f"channel {header.channel_id!r} does not exist", "NOT_FOUND"
            )
        self.network.orderer(header.channel_id).broadcast(envelope_bytes)


# --- results -----------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedTx:
    """An endorsed, signed transaction not yet sent to the orderer."""

    tx_id: str
    channel: str
    chaincode: str
    envelope: Any = field(repr=False)  # common.Envelope
    proposal: Any = field(repr=False)
    responses: tuple[Any, ...] = field(repr=False)
    endorsers: tuple[str, ...]
    payload: bytes  # the chaincode's response payload

    @property
    def envelope_bytes(self) -> bytes:
        data: bytes = self.envelope.SerializeToString()
        return data


@dataclass(frozen=True)
class SubmitResult:
    """How a submitted transaction committed."""

    tx_id: str
    code: int
    code_name: str
    block: int
    payload: bytes

    @property
    def valid(self) -> bool:
        return self.code == VALID

    def raise_for_code(self) -> SubmitResult:
        """Self when VALID; :class:`TransactionInvalidError` otherwise."""
        if self.code != VALID:
            raise TransactionInvalidError(
                f"transaction {self.tx_id} committed in block {self.block} "
                f"as {self.code_name}",
                code=self.code,
                tx_id=self.tx_id,
            )
        return self


# --- the client --------------------------------------------------------------------

EndorserChoice = Callable[[str, str], Sequence[str]]


class FabricClient:
    """One identity's view of a network: its peers, its orderer, its signer."""

    def __init__(
        self,
        identity: Creator,
        peers: Sequence[PeerEndpoint],
        orderer: OrdererEndpoint,
        *,
        choose_endorsers: EndorserChoice | None = None,
    ) -> None:
        if not peers:
            raise HarnessError("a Fabric client needs at least one peer")
        self.identity = identity
        self.peers: dict[str, PeerEndpoint] = {peer.name: peer for peer in peers}
        self.orderer = orderer
        self._choose = choose_endorsers

    @classmethod
    def in_process(cls, network: SimNetwork, identity: Creator) -> FabricClient:
        """A client of a simulated network, without gRPC."""
        peers = [InProcessPeer(peer) for peer in network.peers.values()]

        def choose(channel: str, chaincode: str) -> list[str]:
            return [peer.name for peer in network.endorsers(channel, chaincode)]

        return cls(identity, peers, InProcessOrderer(network), choose_endorsers=choose)

    # --- queries ---------------------------------------------------------------------

    def evaluate(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[str | bytes] = (),
        transient: Mapping[str, bytes] | None = None,
        *,
        peer: str | None = None,
    ) -> bytes:
        """Run a query on one peer (the first, or ``peer``); nothing is ordered."""
        target = self._peer(peer) if peer else self._query_peer(channel, chaincode)
        proposal, _ = new_proposal(
            self.identity, channel, chaincode, [function, *args], transient=transient
        )
        response = target.process_proposal(
            sign_proposal(proposal, self.identity.signer)
        )
        status = response.response.status
        if status >= 400:
            raise ChaincodeError(
                f"{target.name} answered {status}: {response.response.message}",
                status=status,
                peer=target.name,
            )
        log.debug("evaluate %s on %s: %s", function, target.name, status)
        payload: bytes = response.response.payload
        return payload

    # --- transactions ----------------------------------------------------------------

    def submit(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[str | bytes] = (),
        transient: Mapping[str, bytes] | None = None,
        *,
        endorsers: Sequence[str] | None = None,
        timeout: float = 30,
    ) -> SubmitResult:
        """Endorse, order and wait for the commit; a non-VALID code is returned,
        not raised (see :meth:`SubmitResult.raise_for_code`)."""
        prepared = self.endorse(
            channel, chaincode, function, args, transient, endorsers=endorsers
        )
        return self.submit_prepared(prepared, timeout=timeout)

    def endorse(
        self,
        channel: str,
        chaincode: str,
        function: str,
        args: Sequence[str | bytes] = (),
        transient: Mapping[str, bytes] | None = None,
        *,
        endorsers: Sequence[str] | None = None,
    ) -> PreparedTx:
        """Collect endorsements and assemble the signed envelope, without sending it.

        :class:`EndorsementError` when a peer refuses (with its message);
        :class:`EndorsementMismatchError` when the peers' results differ.
        """
        names = (
            list(endorsers)
            if endorsers is not None
            else self._endorsers(channel, chaincode)
        )
        proposal, tx_id = new_proposal(
            self.identity, channel, chaincode, [function, *args], transient=transient
        )
        signed = sign_proposal(proposal, self.identity.signer)
        responses = []
        for name in names:
            peer = self._peer(name)
            response = peer.process_proposal(signed)
            status = response.response.status
            if status >= 400 or not response.endorsement.signature:
                raise EndorsementError(
                    f"{peer.name} refused to endorse {tx_id}: "
                    f"{status} {response.response.message}",
                    status=status,
                    peer=peer.name,
                )
            responses.append(response)
        envelope = new_envelope(proposal, responses, self.identity.signer)
        return PreparedTx(
            tx_id=tx_id,
            channel=channel,
            chaincode=chaincode,
            envelope=envelope,
            proposal=proposal,
            responses=tuple(responses),
            endorsers=tuple(names),
            payload=responses[0].response.payload,
        )

    def submit_prepared(
        self,
        prepared: PreparedTx,
        *,
        timeout: float = 30,
        status_peer: str | None = None,
    ) -> SubmitResult:
        """Broadcast a prepared transaction and wait for its commit status.

        The status comes from ``status_peer`` (default: its first endorser, else the
        first peer). :class:`BroadcastError` when the orderer refuses it,
        :class:`CommitTimeoutError` when no status arrives within ``timeout``.
        """
        self.broadcast(prepared)
        return self.wait_for_commit(prepared, timeout=timeout, status_peer=status_peer)

    def broadcast(self, prepared: PreparedTx) -> None:
        """Only send the envelope to the orderer (to order several at once)."""
        self.orderer.broadcast(prepared.envelope_bytes)
        log.debug("tx %s broadcast", prepared.tx_id)

    def wait_for_commit(
        self,
        prepared: PreparedTx,
        *,
        timeout: float = 30,
        status_peer: str | None = None,
    ) -> SubmitResult:
        """The commit status of a transaction already broadcast.

        It waits until every endorser of the transaction has committed it (the
        SDKs' "all endorsing peers" commit strategy): the next proposal is then
        simulated on peers that have all seen this one, so their answers agree.
        With ``status_peer`` it waits for that peer only (e.g. while an endorser
        is down); the status reported is its, else the first endorser's.
        """
        deadline = time.monotonic() + timeout
        name = status_peer or next(iter(prepared.endorsers), None)
        peer = self._peer(name) if name else next(iter(self.peers.values()))
        others = (
            []
            if status_peer
            else [self._peer(n) for n in prepared.endorsers if n != peer.name]
        )
        status = None
        for target in [peer, *others]:
            seen = target.wait_for_tx(
                prepared.channel, prepared.tx_id, max(deadline - time.monotonic(), 0.0)
            )
            if seen is None:
                raise CommitTimeoutError(
                    f"no commit status for {prepared.tx_id} from {target.name} "
                    f"within {timeout:g} s",
                    hint="check the orderer has a leader and the peer is running",
                )
            status = status or seen
        assert status is not None
        return SubmitResult(
            tx_id=prepared.tx_id,
            code=status.code,
            code_name=code_name(status.code),
            block=status.block,
            payload=prepared.payload,
        )

    # --- helpers ---------------------------------------------------------------------

    def _peer(self, name: str) -> PeerEndpoint:
        peer = self.peers.get(name)
        if peer is None:
            raise HarnessError(
                f"no peer {name!r} known to this client",
                hint=f"peers: {', '.join(self.peers)}",
            )
        return peer

    def _endorsers(self, channel: str, chaincode: str) -> list[str]:
        if self._choose is not None:
            return list(self._choose(channel, chaincode))
        by_org: dict[str, str] = {}
        for peer in self.peers.values():
            by_org.setdefault(peer.msp_id, peer.name)
        return list(by_org.values())

    def _query_peer(self, channel: str, chaincode: str) -> PeerEndpoint:
        names = self._endorsers(channel, chaincode)
        return self._peer(names[0]) if names else next(iter(self.peers.values()))
