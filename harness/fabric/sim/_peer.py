"""A peer: the endorser, and per joined channel a ledger and a committer.

The endorser checks a signed proposal in Fabric's order (well formed, channel
joined, creator a valid member whose signature verifies, tx id not committed,
chaincode defined), simulates it and signs the result. It never raises for a
client's mistake: like Fabric it answers status 500 with a message.

The committer of a channel is a thread that pulls the next block from any live
orderer node, validates every transaction (structure, creator signature, tx id,
duplicates, endorsement policy, then MVCC in block order), writes the codes into
TRANSACTIONS_FILTER, appends the block to the peer's own block store, applies the
valid writes and tells the subscribers.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError

from harness.chaincode.shim import Chaincode, lookup
from harness.errors import ConfigError, HarnessError
from harness.fabric._messages import (
    MessageError,
    ProposalView,
    TransactionView,
    new_proposal_response,
    parse_envelope,
    parse_signed_proposal,
)
from harness.fabric.sim._block import set_tx_filter
from harness.fabric.sim._blockstore import BlockStore
from harness.fabric.sim._faults import NodeFaults
from harness.fabric.sim._genesis import is_config
from harness.fabric.sim._ledger import UpdateBatch, WorldState, validate_tx
from harness.fabric.sim._msp import MspError, MspManager, ValidatedIdentity
from harness.fabric.sim._orderer import NODE_LOGGER
from harness.fabric.sim._policy import Policy, PolicyError
from harness.fabric.sim._rwset import TxRwSet
from harness.fabric.sim._stub import TxContext, simulate
from harness.fabric.sim._validation import endorsement_satisfied
from harness.identity import Identity

log = logging.getLogger(__name__)

_CODES = transaction_pb2.TxValidationCode
VALID: int = _CODES.Value("VALID")
_PULL_WAIT_S = 0.05  # how long a committer waits for a block before re-checking stop
PAUSED_ANSWER_S = 2.0  # a paused endorser answers UNAVAILABLE after this long


def code_value(name: str) -> int:
    """The number of a validation code name such as ``"MVCC_READ_CONFLICT"``."""
    value: int = _CODES.Value(name)
    return value


def code_name(code: int) -> str:
    """The name of a validation code number (``"VALID"`` for 0)."""
    name: str = _CODES.Name(code)
    return name


class NodeUnavailableError(HarnessError):
    """The node is stopped, paused or dropped the request (a fault was injected);
    a real client sees UNAVAILABLE."""

    exit_code = 1


@dataclass(frozen=True)
class TxStatus:
    """Where and how a transaction committed: its validation code and block."""

    code: int
    block: int

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    @property
    def valid(self) -> bool:
        return self.code == VALID


@dataclass(frozen=True)
class ChannelConfig:
    """What a peer knows of a channel: its MSPs, chaincodes and their policies.

    ``chaincodes`` maps a chaincode name to its implementation name in the shim
    registry; ``policies`` holds each chaincode's resolved endorsement policy.
    """

    name: str
    msps: MspManager
    chaincodes: Mapping[str, str]
    policies: Mapping[str, Policy]


class BlockSource(Protocol):
    """Where a committer pulls blocks from (an ordering service of the channel)."""

    def wait_for_block(self, number: int, timeout: float) -> Any | None: ...


BlockListener = Callable[[Any], None]


class PeerLedger:
    """One channel's ledger on one peer: block store, world state and tx index."""

    def __init__(self, channel: str, folder: Path) -> None:
        self.channel = channel
        self.state = WorldState()
        self.store = BlockStore(folder)
        self._changed = threading.Condition()
        self._index: dict[str, list[TxStatus]] = {}
        self._listeners: list[BlockListener] = []

    @property
    def height(self) -> int:
        return self.store.height

    def block(self, number: int) -> Any:
        """Committed block ``number`` with its TRANSACTIONS_FILTER; ChainError past
        the height."""
        return self.store.get(number)

    def wait_for_block(self, number: int, timeout: float) -> Any | None:
        """Block ``number`` once committed, or None after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.height > number, timeout):
                return None
        return self.store.get(number)

    def tx_status(self, tx_id: str) -> TxStatus | None:
        """The status of the first committed transaction with ``tx_id``."""
        with self._changed:
            found = self._index.get(tx_id)
            return found[0] if found else None

    def tx_statuses(self, tx_id: str) -> list[TxStatus]:
        """Every committed occurrence of ``tx_id`` (replays come after the first)."""
        with self._changed:
            return list(self._index.get(tx_id, ()))

    def wait_for_tx(self, tx_id: str, timeout: float) -> TxStatus | None:
        with self._changed:
            self._changed.wait_for(lambda: tx_id in self._index, timeout)
            found = self._index.get(tx_id)
            return found[0] if found else None

    def subscribe(self, listener: BlockListener) -> Callable[[], None]:
        """Call ``listener(block)`` after each commit; returns an unsubscribe."""
        with self._changed:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._changed:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def record(
        self, block: Any, updates: UpdateBatch, tx_ids: list[str], codes: list[int]
    ) -> None:
        """The committer's last step: store the validated block, apply its writes,
        index its tx ids and tell the subscribers."""
        number = block.header.number
        self.store.append(block)
        self.state.apply(updates)
        with self._changed:
            for tx_id, code in zip(tx_ids, codes, strict=True):
                if tx_id:
                    self._index.setdefault(tx_id, []).append(TxStatus(code, number))
            listeners = list(self._listeners)
            self._changed.notify_all()
        for listener in listeners:
            try:
                listener(block)
            except Exception:  # a subscriber's bug must not stop the committer
                log.exception("ledger %s: block listener failed", self.channel)


@dataclass
class _Channel:
    config: ChannelConfig
    ledger: PeerLedger
    chaincodes: dict[str, Chaincode]
    source: BlockSource
    committer: threading.Thread | None = None
    stopping: threading.Event | None = None


class Peer:
    """A peer node: endorses proposals and commits the blocks of its channels."""

    def __init__(self, name: str, identity: Identity, folder: Path) -> None:
        self.name = name
        self.identity = identity
        self.folder = folder
        self.log = logging.getLogger(f"{NODE_LOGGER}.{name}")
        self._channels: dict[str, _Channel] = {}
        self._running = True
        self._lock = threading.Lock()
        self.faults = NodeFaults(name)
        self.paused_answer_s = PAUSED_ANSWER_S

    @property
    def msp_id(self) -> str:
        return self.identity.msp_id

    @property
    def channels(self) -> list[str]:
        return sorted(self._channels)

    @property
    def running(self) -> bool:
        return self._running

    def ledger(self, channel: str) -> PeerLedger:
        joined = self._channels.get(channel)
        if joined is None:
            raise ConfigError(
                f"peer {self.name} has not joined channel {channel!r}",
                hint=f"joined: {', '.join(self.channels) or 'none'}",
            )
        return joined.ledger

    def join(self, config: ChannelConfig, source: BlockSource) -> PeerLedger:
        """Join a channel: a ledger under ``<folder>/<channel>`` and a committer."""
        if config.name in self._channels:
            raise ConfigError(f"peer {self.name} already joined {config.name}")
        ledger = PeerLedger(config.name, self.folder / config.name)
        chaincodes = {name: lookup(impl) for name, impl in config.chaincodes.items()}
        joined = _Channel(config, ledger, chaincodes, source)
        self._channels[config.name] = joined
        if ledger.height == 0:  # join with the genesis block when it is at hand
            genesis = source.wait_for_block(0, 0)
            if genesis is not None:
                self._commit(joined, genesis)
        if self._running:
            self._start_committer(joined)
        self.log.info("peer %s joined %s", self.name, config.name)
        return ledger

    def committer_alive(self, channel: str) -> bool:
        joined = self._channels.get(channel)
        return bool(joined and joined.committer and joined.committer.is_alive())

    # --- faults ----------------------------------------------------------------------

    def stop(self) -> None:
        """Crash the peer: committers end, proposals are refused; ledgers stay."""
        with self._lock:
            self._running = False
            for joined in self._channels.values():
                if joined.stopping is not None:
                    joined.stopping.set()
            for joined in self._channels.values():
                if joined.committer is not None:
                    joined.committer.join(timeout=10)
                    joined.committer = None
        self.log.info("peer %s stopped", self.name)

    def start(self) -> None:
        """Restart after :meth:`stop`; committers catch up from the orderers."""
        with self._lock:
            if self._running:
                return
            self._running = True
            for joined in self._channels.values():
                self._start_committer(joined)
        self.log.info("peer %s started", self.name)

    def pause(self) -> None:
        """Freeze the peer: proposals wait (then fail), committers stop pulling."""
        self.faults.pause()
        self.log.info("peer %s paused", self.name)

    def resume(self) -> None:
        self.faults.resume()
        self.log.info("peer %s resumed", self.name)

    def _start_committer(self, joined: _Channel) -> None:
        joined.stopping = threading.Event()
        joined.committer = threading.Thread(
            target=self._commit_loop,
            args=(joined, joined.stopping),
            name=f"commit-{self.name}-{joined.config.name}",
            daemon=True,
        )
        joined.committer.start()

    # --- endorser --------------------------------------------------------------------

    def process_proposal(self, signed: Any) -> Any:
        """Endorse a ``SignedProposal``; a refusal is a status-500 response."""
        self._endorser_faults()
        try:
            view = parse_signed_proposal(signed)
        except MessageError as exc:
            return self._refuse(f"error validating proposal: {exc}")
        refusal = self._check_proposal(view)
        if refusal is not None:
            return self._refuse(refusal)
        joined = self._channels[view.channel]
        context = TxContext(
            tx_id=view.tx_id,
            channel_id=view.channel,
            creator=view.creator,
            timestamp=datetime.datetime.fromtimestamp(view.timestamp, datetime.UTC),
            transient=view.transient,
        )
        with joined.ledger.state.lock:  # simulations see one committed state
            try:
                result = simulate(
                    joined.ledger.state,
                    joined.chaincodes,
                    view.chaincode,
                    view.args,
                    context,
                )
            except Exception as exc:  # a chaincode's bug is the peer's 500, not a crash
                self.log.exception(
                    "chaincode %s failed on %s", view.chaincode, view.tx_id
                )
                return self._refuse(f"error in simulation: {exc}")
        response = result.response
        if not response.ok:
            self.log.debug("tx %s: chaincode answered %s", view.tx_id, response.status)
            return new_proposal_response(
                view, status=response.status, message=response.message
            )
        event = (result.event.name, result.event.payload) if result.event else None
        return new_proposal_response(
            view,
            status=response.status,
            message=response.message,
            payload=response.payload,
            results=result.rwset.to_bytes(),
            event=event,
            endorser=self.identity,
        )

    def _endorser_faults(self) -> None:
        """Stopped, paused past the deadline, or a dropped request: UNAVAILABLE."""
        if not self._running:
            raise NodeUnavailableError(f"peer {self.name} is stopped")
        if not self.faults.wait_resumed(self.paused_answer_s):
            raise NodeUnavailableError(
                f"peer {self.name} is paused: no answer within "
                f"{self.paused_answer_s:g} s"
            )
        if self.faults.dropped():
            raise NodeUnavailableError(f"peer {self.name} dropped the proposal")
        if self.faults.latency_s:  # every answer of a slow peer comes late
            threading.Event().wait(self.faults.latency_s)

    def _check_proposal(self, view: ProposalView) -> str | None:
        """Fabric's reason to refuse a parsed proposal, or None."""
        joined = self._channels.get(view.channel)
        if joined is None:
            return f"channel '{view.channel}' not found"
        try:
            joined.config.msps.verify(view.creator, view.proposal_bytes, view.signature)
        except MspError as exc:
            self.log.warning("proposal %s refused: %s", view.tx_id, exc)
            return (
                f"access denied: channel [{view.channel}] creator org [{view.msp_id}]"
            )
        if joined.ledger.tx_status(view.tx_id) is not None:
            return (
                f"duplicate transaction found [{view.tx_id}]. "
                f"Creator [{view.creator.hex()}]"
            )
        if view.chaincode not in joined.chaincodes:
            return (
                f"make sure the chaincode {view.chaincode} has been successfully "
                f"defined on channel {view.channel} and try again: "
                f"chaincode {view.chaincode} not found"
            )
        return None

    def _refuse(self, message: str) -> Any:
        self.log.debug("proposal refused: %s", message)
        response = proposal_response_pb2.Response(status=500, message=message)
        return proposal_response_pb2.ProposalResponse(version=1, response=response)

    # --- committer -------------------------------------------------------------------

    def _commit_loop(self, joined: _Channel, stopping: threading.Event) -> None:
        ledger = joined.ledger
        while not stopping.is_set():
            if not self.faults.wait_resumed(_PULL_WAIT_S):
                continue
            try:
                block = joined.source.wait_for_block(ledger.height, _PULL_WAIT_S)
                if block is not None and self.faults.latency_s:
                    stopping.wait(self.faults.latency_s)  # the injected latency
                if block is not None and not stopping.is_set():
                    self._commit(joined, block)
            except Exception:  # keep committing; the next pull retries the block
                self.log.exception(
                    "peer %s failed to commit block %s", self.name, ledger.height
                )
                stopping.wait(_PULL_WAIT_S)

    def _commit(self, joined: _Channel, received: Any) -> None:
        block = common_pb2.Block()
        block.CopyFrom(received)
        number = block.header.number
        state = joined.ledger.state
        tx_ids: list[str] = []
        codes: list[int] = []
        seen: set[str] = set()
        with state.lock:
            updates = UpdateBatch(number)
            for index, envelope in enumerate(block.data.data):
                tx_id, code = self._validate(joined, envelope, index, seen, updates)
                tx_ids.append(tx_id)
                codes.append(code)
            set_tx_filter(block, codes)
            joined.ledger.record(block, updates, tx_ids, codes)
        invalid = sum(code != VALID for code in codes)
        self.log.debug(
            "peer %s committed block %s of %s: %d txs, %d invalid",
            self.name,
            number,
            joined.config.name,
            len(codes),
            invalid,
        )

    def _validate(
        self,
        joined: _Channel,
        envelope: bytes,
        index: int,
        seen: set[str],
        updates: UpdateBatch,
    ) -> tuple[str, int]:
        """One transaction's (tx id, validation code), in Fabric's order."""
        if is_config(envelope):
            # The orderer made and checked the config tx (the genesis block's);
            # TODO(fabric-config): validate config updates once they are simulated.
            return "", VALID
        try:
            view = parse_envelope(envelope)
        except MessageError as exc:
            return _unparsed(joined.config, envelope, exc)
        code = _check_header(joined, view, seen)
        if code == VALID:
            code = _check_writes(joined, view, index, updates)
        return view.tx_id, code


def _check_header(joined: _Channel, view: TransactionView, seen: set[str]) -> int:
    """Creator signature, channel, duplicate tx id, chaincode defined."""
    config = joined.config
    if not _creator_signed(config.msps, view):
        return code_value("BAD_CREATOR_SIGNATURE")
    if view.channel != config.name:
        return code_value("TARGET_CHAIN_NOT_FOUND")
    if view.tx_id in seen or joined.ledger.tx_status(view.tx_id) is not None:
        return code_value("DUPLICATE_TXID")
    seen.add(view.tx_id)
    if view.chaincode not in config.policies:
        return code_value("INVALID_CHAINCODE")
    return VALID


def _check_writes(
    joined: _Channel, view: TransactionView, index: int, updates: UpdateBatch
) -> int:
    """Endorsement policy (chaincode and key-level), then MVCC and phantoms."""
    try:
        rwset = TxRwSet.from_bytes(view.results)
    except (DecodeError, ValueError):
        return code_value("BAD_RWSET")
    try:
        satisfied = endorsement_satisfied(
            joined.ledger.state,
            updates,
            rwset,
            chaincode_policies=joined.config.policies,
            endorsers=_valid_endorsers(joined.config.msps, view),
            invoked=view.chaincode,
        )
    except PolicyError:
        satisfied = False  # a key-level policy that does not parse binds no one
    if not satisfied:
        return code_value("ENDORSEMENT_POLICY_FAILURE")
    return validate_tx(joined.ledger.state, updates, rwset, index)


def _creator_signed(msps: MspManager, view: TransactionView) -> bool:
    try:
        msps.verify(view.creator, view.payload_bytes, view.signature)
    except MspError as exc:
        log.debug("tx %s: bad creator signature: %s", view.tx_id, exc)
        return False
    return True


def _valid_endorsers(
    msps: MspManager, view: TransactionView
) -> list[ValidatedIdentity]:
    """Endorsers whose identity and signature verify; Fabric ignores the others."""
    valid = []
    for endorsement in view.endorsements:
        try:
            valid.append(
                msps.verify(
                    endorsement.endorser,
                    view.response_payload + endorsement.endorser,
                    endorsement.signature,
                )
            )
        except MspError as exc:
            log.debug("tx %s: endorsement ignored: %s", view.tx_id, exc)
    return valid


def _unparsed(
    config: ChannelConfig, envelope: bytes, error: MessageError
) -> tuple[str, int]:
    """The code of an envelope that did not parse.

    A wrong tx id is found while parsing, but Fabric checks the creator's signature
    first: a tampered header that was not re-signed is BAD_CREATOR_SIGNATURE.
    """
    if error.code != "BAD_PROPOSAL_TXID":
        return "", code_value(error.code)
    message = common_pb2.Envelope.FromString(envelope)
    payload = common_pb2.Payload.FromString(message.payload)
    channel_header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(
        payload.header.signature_header
    )
    try:
        config.msps.verify(signature_header.creator, message.payload, message.signature)
    except MspError:
        return channel_header.tx_id, code_value("BAD_CREATOR_SIGNATURE")
    return channel_header.tx_id, code_value("BAD_PROPOSAL_TXID")
