"""A channel's ordering service as clients and peers see it: Broadcast and Deliver.

It wraps the channel's :class:`RaftCluster`: an envelope goes to the leader (or
any live node, which forwards it), and blocks are delivered from any live node
that has them, so a peer's committer fails over when a node stops.

Like Fabric's orderer it refuses an envelope over AbsoluteMaxBytes or one whose
payload header does not parse (BAD_REQUEST), and answers SERVICE_UNAVAILABLE
without a Raft leader. TODO(fabric-3): it does not yet check the channel id or the
channel's Writers policy, so the peers' validation is what rejects such envelopes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from harness.errors import BroadcastError, ConfigError
from harness.fabric._messages import serialize_identity
from harness.fabric.sim._block import sign_block
from harness.fabric.sim._cutter import MessageTooLargeError
from harness.fabric.sim._orderer import (
    OrdererNode,
    RaftCluster,
    ServiceUnavailableError,
)
from harness.identity import Identity

log = logging.getLogger(__name__)

NONCE_BYTES = 24


class OrderingService:
    """Broadcast and Deliver for one channel over its Raft cluster."""

    def __init__(
        self,
        channel: str,
        cluster: RaftCluster,
        signers: dict[str, Identity] | None = None,
    ) -> None:
        self.channel = channel
        self.cluster = cluster
        self._signers = signers or {}
        self._new_block = threading.Condition()
        cluster.on_start.append(self._prepare_node)

    def _prepare_node(self, node: OrdererNode) -> None:
        node.listeners.append(self._on_block)
        identity = self._signers.get(node.id)
        if identity is not None:
            node.signer = _block_signer(identity)

    def _on_block(self, block: Any) -> None:
        with self._new_block:
            self._new_block.notify_all()

    # --- Broadcast -------------------------------------------------------------------

    def broadcast(self, envelope_bytes: bytes) -> None:
        """Hand an envelope to the ordering service; :class:`BroadcastError` if not."""
        _check_envelope(envelope_bytes)
        node = self.cluster.leader(reachable=True) or self._any_node()
        if node is None:
            raise BroadcastError(
                f"no orderer of {self.channel} is running and reachable",
                "SERVICE_UNAVAILABLE",
                hint="start an orderer node",
            )
        try:
            node.broadcast(envelope_bytes)
        except ServiceUnavailableError as exc:
            raise BroadcastError(
                str(exc), "SERVICE_UNAVAILABLE", hint=exc.hint
            ) from None
        except MessageTooLargeError as exc:
            raise BroadcastError(str(exc), "BAD_REQUEST") from None

    def _any_node(self) -> OrdererNode | None:
        return next(iter(self.cluster.reachable()), None)

    # --- Deliver ---------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The highest block height among the running, unpaused nodes."""
        return max((node.height for node in self.cluster.reachable()), default=0)

    def block(self, number: int) -> Any | None:
        """Block ``number`` from any running, unpaused node that has it."""
        for node in self.cluster.reachable():
            if node.height > number:
                return node.store.get(number)
        return None

    def wait_for_block(self, number: int, timeout: float) -> Any | None:
        """Block ``number`` once some running node has it, or None after ``timeout``."""
        with self._new_block:
            self._new_block.wait_for(lambda: self.height > number, timeout)
        return self.block(number)

    # --- nodes -----------------------------------------------------------------------

    def start_node(self, name: str) -> None:
        self._require(name)
        self.cluster.start(name)

    def stop_node(self, name: str) -> None:
        self._require(name)
        self.cluster.stop(name)
        with self._new_block:
            self._new_block.notify_all()

    def pause_node(self, name: str) -> None:
        self.cluster.faults(self._require(name)).pause()

    def resume_node(self, name: str) -> None:
        self.cluster.faults(self._require(name)).resume()
        with self._new_block:
            self._new_block.notify_all()

    def set_latency(self, name: str, ms: float) -> None:
        self.cluster.faults(self._require(name)).set_latency_ms(ms)

    def set_drop(self, name: str, fraction: float, seed: int | None = None) -> None:
        self.cluster.faults(self._require(name)).set_drop(fraction, seed)

    def node_states(self) -> dict[str, str]:
        """Each node: ``leader``, ``follower``/``candidate`` (with its height) or
        ``stopped``, and its faults in brackets."""
        states = {}
        for name in self.cluster.node_ids:
            node = self.cluster.nodes.get(name)
            if node is None:
                states[name] = "stopped"
                continue
            states[name] = f"{node.raft.role} at height {node.height}"
            faults = self.cluster.fault_summary(name)
            if faults:
                states[name] += f" ({faults})"
        return states

    def has_leader(self) -> bool:
        """A leader exists and every running, unpaused node knows it."""
        nodes = self.cluster.reachable()
        leader = self.cluster.leader(reachable=True)
        return leader is not None and all(n.raft.leader == leader.id for n in nodes)

    def knows_leader(self) -> bool:
        """Some node runs, and every running, unpaused node here knows a leader
        (the leader may run elsewhere, in another orderer process)."""
        nodes = self.cluster.reachable()
        return bool(nodes) and all(node.raft.leader is not None for node in nodes)

    def _require(self, name: str) -> str:
        if name not in self.cluster.node_ids:
            raise ConfigError(
                f"{name!r} is not an orderer of {self.channel}",
                hint=f"orderers: {', '.join(self.cluster.node_ids)}",
            )
        return name


def _check_envelope(envelope_bytes: bytes) -> None:
    """Fabric's first broadcast filter: an envelope with a parsable header."""
    try:
        envelope = common_pb2.Envelope.FromString(envelope_bytes)
        payload = common_pb2.Payload.FromString(envelope.payload)
        common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    except DecodeError as exc:
        raise BroadcastError(f"envelope does not parse: {exc}", "BAD_REQUEST") from None
    if not envelope.payload or not payload.HasField("header"):
        raise BroadcastError("envelope has no payload header", "BAD_REQUEST")


def _block_signer(identity: Identity) -> Callable[[Any], None]:
    creator = serialize_identity(identity.msp_id, identity.certificate_pem)

    def sign(block: Any) -> None:
        sign_block(block, identity.signer, creator, os.urandom(NONCE_BYTES))

    return sign
