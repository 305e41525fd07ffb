"""Fault settings of one node: paused, extra latency, a fraction of dropped messages.

Peers and the Raft runtime both keep a :class:`NodeFaults` per node. Values are
checked here, so ``harness fault`` and the library refuse the same mistakes.
"""

from __future__ import annotations

import math
import random
import threading
import zlib
from typing import Protocol

from harness.errors import ConfigError


def check_latency_ms(ms: float) -> float:
    """Latency in milliseconds: a finite number >= 0."""
    if not isinstance(ms, int | float) or not math.isfinite(ms) or ms < 0:
        raise ConfigError(
            f"latency must be a number of milliseconds >= 0, got {ms!r}",
            hint="e.g. harness fault latency peer0.org1 --value 50",
        )
    return float(ms)


def check_fraction(fraction: float) -> float:
    """A drop fraction between 0 and 1 inclusive."""
    if not isinstance(fraction, int | float) or not 0.0 <= fraction <= 1.0:
        raise ConfigError(
            f"drop fraction must be between 0 and 1, got {fraction!r}",
            hint="e.g. harness fault drop peer0.org1 --value 0.25",
        )
    return float(fraction)


def node_seed(name: str) -> int:
    """The default seed of a node's drop decisions: stable across runs."""
    return zlib.crc32(name.encode())


class NodeFaults:
    """Thread-safe fault state; :meth:`wait_resumed` blocks while paused."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.latency_s = 0.0
        self.drop = 0.0
        self._resumed = threading.Event()
        self._resumed.set()
        self._lock = threading.Lock()
        self._rng = random.Random(node_seed(name))

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def wait_resumed(self, timeout: float | None) -> bool:
        """True once the node runs (at once if it is not paused)."""
        return self._resumed.wait(timeout)

    def set_latency_ms(self, ms: float) -> None:
        self.latency_s = check_latency_ms(ms) / 1000.0

    def set_drop(self, fraction: float, seed: int | None = None) -> None:
        fraction = check_fraction(fraction)
        with self._lock:
            self.drop = fraction
            if seed is not None:
                self._rng = random.Random(seed)

    def dropped(self) -> bool:
        """Whether the next message is dropped (seeded, so a run repeats)."""
        with self._lock:
            if self.drop <= 0.0:
                return False
            return self._rng.random() < self.drop

    def describe(self) -> str:
        """``""`` when healthy, else e.g. ``"paused, latency 50 ms, drop 0.2"``."""
        parts = ["paused"] if self.paused else []
        if self.latency_s:
            parts.append(f"latency {self.latency_s * 1000:g} ms")
        if self.drop:
            parts.append(f"drop {self.drop:g}")
        return ", ".join(parts)


class _FaultyPeer(Protocol):
    faults: NodeFaults

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class _FaultyOrdering(Protocol):
    def pause_node(self, name: str) -> None: ...

    def resume_node(self, name: str) -> None: ...

    def set_latency(self, name: str, ms: float) -> None: ...

    def set_drop(self, name: str, fraction: float, seed: int | None = None) -> None: ...


def apply_node_fault(
    peer: _FaultyPeer, action: str, value: float = 0.0, seed: int | None = None
) -> None:
    """``pause``, ``resume``, ``latency`` (ms) or ``drop`` (fraction) on a peer."""
    if action == "pause":
        peer.pause()
    elif action == "resume":
        peer.resume()
    elif action == "latency":
        peer.faults.set_latency_ms(value)
    elif action == "drop":
        peer.faults.set_drop(value, seed)
    else:
        raise ConfigError(f"unknown fault {action!r}")


def apply_orderer_fault(
    service: _FaultyOrdering,
    name: str,
    action: str,
    value: float = 0.0,
    seed: int | None = None,
) -> None:
    """The same faults on orderer ``name`` of one channel's ordering service."""
    if action == "pause":
        service.pause_node(name)
    elif action == "resume":
        service.resume_node(name)
    elif action == "latency":
        service.set_latency(name, value)
    elif action == "drop":
        service.set_drop(name, value, seed)
    else:
        raise ConfigError(f"unknown fault {action!r}")
