"""Raft ordering nodes for one channel, and two ways to run a cluster of them.

Each :class:`OrdererNode` pairs a :class:`RaftNode` with a block cutter and a
block store. The leader cuts batches and proposes them; every node, as it applies
a committed batch, builds the next block from its own chain, so all nodes hold the
same blocks. (etcdraft replicates whole blocks; replicating the batch gives the
same chain, because block building is deterministic.)

:class:`DeterministicScheduler` runs a cluster on virtual time in one thread, for
tests that must not depend on the machine's speed; :class:`ThreadedRuntime` runs one
thread per node on the real clock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fabric_protos.common import common_pb2

from harness.errors import HarnessError
from harness.fabric.sim._block import next_block
from harness.fabric.sim._blockstore import BlockStore
from harness.fabric.sim._cutter import BlockCutter
from harness.fabric.sim._faults import NodeFaults
from harness.fabric.sim._raft import Forward, Message, RaftNode, RaftStorage

if TYPE_CHECKING:
    from harness.spec import BatchSettings, RaftSettings

log = logging.getLogger(__name__)

NODE_LOGGER = "harness.fabric.sim.node"  # per-node loggers: <NODE_LOGGER>.<node>


class ServiceUnavailableError(HarnessError):
    """No Raft leader is known (Broadcast answers SERVICE_UNAVAILABLE)."""

    exit_code = 1


class OrdererNode:
    """One orderer of one channel; every entry point takes the node's lock."""

    def __init__(
        self,
        node_id: str,
        peers: tuple[str, ...],
        *,
        batch: BatchSettings,
        raft: RaftSettings,
        transport: Any,
        clock: Callable[[], float],
        store: BlockStore,
        storage: RaftStorage,
        rng: random.Random,
    ) -> None:
        self.id = node_id
        self.lock = threading.RLock()
        self.clock = clock
        self.store = store
        self.transport = transport
        self.cutter = BlockCutter(batch)
        self.listeners: list[Callable[[Any], None]] = []
        self.signer: Callable[[Any], None] | None = None  # fills SIGNATURES
        self.log = logging.getLogger(f"{NODE_LOGGER}.{node_id}")
        self.raft = RaftNode(
            node_id,
            peers,
            storage,
            transport,
            self._apply,
            election_tick=raft.election_tick,
            heartbeat_tick=raft.heartbeat_tick,
            max_inflight=raft.max_inflight_blocks,
            rng=rng,
        )

    @property
    def is_leader(self) -> bool:
        return self.raft.role == "leader"

    @property
    def height(self) -> int:
        return self.store.height

    def broadcast(self, envelope: bytes) -> None:
        """Accept an envelope for ordering, or say why not."""
        with self.lock:
            self.cutter.check_size(envelope)
            if self.is_leader:
                for batch in self.cutter.ordered(envelope, self.clock()):
                    self._propose(batch)
            elif self.raft.leader is not None:
                self.transport.send(self.id, self.raft.leader, Forward(envelope))
            else:
                raise ServiceUnavailableError(
                    f"orderer {self.id} knows no Raft leader (SERVICE_UNAVAILABLE)",
                    hint="wait for an election or bring a majority of orderers back",
                )

    def tick(self) -> None:
        with self.lock:
            self.raft.tick()
            if self.is_leader:
                batch = self.cutter.due(self.clock())
                if batch:
                    self._propose(batch)
            elif self.cutter.pending and self.raft.leader is not None:
                # Leadership moved while envelopes waited here: hand them on.
                for envelope in self.cutter.cut():
                    self.transport.send(self.id, self.raft.leader, Forward(envelope))

    def receive(self, src: str, message: Message) -> None:
        with self.lock:
            if isinstance(message, Forward):
                try:
                    self.broadcast(message.data)
                except ServiceUnavailableError:
                    self.log.debug(
                        "orderer %s drops a forwarded envelope: no leader", self.id
                    )
                return
            self.raft.step(src, message)

    def _propose(self, batch: list[bytes]) -> None:
        data = common_pb2.BlockData(data=batch).SerializeToString()
        if not self.raft.propose(data):
            self.log.warning(
                "orderer %s lost leadership; %d envelopes dropped", self.id, len(batch)
            )

    def _apply(self, index: int, data: bytes) -> None:
        envelopes = list(common_pb2.BlockData.FromString(data).data)
        block = next_block(self.store.last(), envelopes)
        if self.signer is not None:
            self.signer(block)
        self.store.append(block)
        self.log.debug(
            "orderer %s: block %s from raft index %s",
            self.id,
            block.header.number,
            index,
        )
        for listener in self.listeners:
            try:
                listener(block)
            except Exception:  # a listener's bug must not stop ordering
                self.log.exception("orderer %s: block listener failed", self.id)


# --- runtimes --------------------------------------------------------------------


class DeterministicScheduler:
    """A fake clock with an event queue: time moves only when events run."""

    def __init__(self) -> None:
        self.time = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.time

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.time + delay, next(self._seq), action))

    def run_until(self, done: Callable[[], bool], limit_s: float) -> bool:
        """Run events until ``done()`` or ``limit_s`` of virtual time have passed."""
        deadline = self.time + limit_s
        while not done():
            if not self._queue or self._queue[0][0] > deadline:
                self.time = deadline
                return done()
            self.time, _, action = heapq.heappop(self._queue)
            action()
        return True

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)


class Runtime(Protocol):
    """How a cluster's nodes get ticks and messages."""

    def now(self) -> float: ...

    def add(self, node: OrdererNode, tick_s: float) -> None: ...

    def remove(self, node_id: str) -> None: ...

    def send(self, src: str, dst: str, message: Message) -> None: ...


class DeterministicRuntime:
    """Nodes ticked and messages delivered by a :class:`DeterministicScheduler`."""

    def __init__(
        self, scheduler: DeterministicScheduler, latency_s: float = 0.001
    ) -> None:
        self.scheduler = scheduler
        self.latency_s = latency_s
        self.nodes: dict[str, OrdererNode] = {}
        self.cut: set[frozenset[str]] = set()  # partitioned pairs

    def now(self) -> float:
        return self.scheduler.now()

    def add(self, node: OrdererNode, tick_s: float) -> None:
        self.nodes[node.id] = node

        def tick() -> None:
            if self.nodes.get(node.id) is node:
                node.tick()
                self.scheduler.call_later(tick_s, tick)

        self.scheduler.call_later(tick_s, tick)

    def remove(self, node_id: str) -> None:
        self.nodes.pop(node_id, None)

    def send(self, src: str, dst: str, message: Message) -> None:
        if frozenset((src, dst)) in self.cut:
            return
        target = self.nodes.get(dst)
        if target is None:
            return

        def deliver() -> None:
            if self.nodes.get(dst) is target and frozenset((src, dst)) not in self.cut:
                target.receive(src, message)

        self.scheduler.call_later(self.latency_s, deliver)


_Inbox = queue.Queue[tuple[str, Message | None] | None]
_HOLD_CHECK_S = 0.05  # how often a paused node looks whether it was removed


class ThreadedRuntime:
    """One thread per node: an inbox queue, and a tick every TickInterval.

    Faults act on delivery: a paused node neither ticks nor reads its inbox (its
    messages wait there until it resumes); latency delays every message to or from
    a node; a drop fraction discards that share of them, from a seeded RNG.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, OrdererNode] = {}
        self.inboxes: dict[str, _Inbox] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.faults: dict[str, NodeFaults] = {}
        self._delayed: list[tuple[float, int, str, tuple[str, Message]]] = []
        self._delay = threading.Condition()
        self._seq = itertools.count()
        self._delayer: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        return time.monotonic()

    def node_faults(self, node_id: str) -> NodeFaults:
        """The fault settings of ``node_id`` (they outlive a stop and a start)."""
        return self.faults.setdefault(node_id, NodeFaults(node_id))

    def add(self, node: OrdererNode, tick_s: float) -> None:
        inbox: _Inbox = queue.Queue()
        self.nodes[node.id] = node
        self.inboxes[node.id] = inbox
        thread = threading.Thread(
            target=self._run,
            args=(node, inbox, tick_s, self.node_faults(node.id)),
            name=f"raft-{node.id}",
            daemon=True,
        )
        self.threads[node.id] = thread
        thread.start()

    def _run(
        self, node: OrdererNode, inbox: _Inbox, tick_s: float, faults: NodeFaults
    ) -> None:
        next_tick = time.monotonic() + tick_s
        while True:
            try:
                item = inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = ("", None)
            if item is None:
                return
            if faults.paused:
                if not self._hold(node, faults):
                    return
                next_tick = time.monotonic() + tick_s  # no burst of missed ticks
            src, message = item
            if message is not None:
                node.receive(src, message)
            if time.monotonic() >= next_tick:
                node.tick()
                next_tick = max(next_tick + tick_s, time.monotonic() - tick_s)

    def _hold(self, node: OrdererNode, faults: NodeFaults) -> bool:
        """Wait while paused; False when the node was removed meanwhile."""
        node.log.info("orderer %s paused", node.id)
        while not faults.wait_resumed(_HOLD_CHECK_S):
            if self.nodes.get(node.id) is not node:
                return False
        node.log.info("orderer %s resumed", node.id)
        return self.nodes.get(node.id) is node

    def remove(self, node_id: str) -> None:
        inbox = self.inboxes.pop(node_id, None)
        self.nodes.pop(node_id, None)
        thread = self.threads.pop(node_id, None)
        if inbox is not None:
            inbox.put(None)
        if thread is not None:
            thread.join(timeout=5)

    def send(self, src: str, dst: str, message: Message) -> None:
        delay = 0.0
        for end in (src, dst):
            faults = self.faults.get(end)
            if faults is None:
                continue
            if faults.dropped():
                log.debug("raft message %s -> %s dropped", src, dst)
                return
            delay += faults.latency_s
        if delay > 0:
            self._deliver_later(delay, dst, (src, message))
            return
        self._post(dst, (src, message))

    def _post(self, dst: str, item: tuple[str, Message]) -> None:
        """Hand ``item`` to ``dst``'s inbox; dropped when ``dst`` does not run."""
        inbox = self.inboxes.get(dst)
        if inbox is not None:
            inbox.put(item)

    def _deliver_later(self, delay: float, dst: str, item: tuple[str, Message]) -> None:
        with self._delay:
            due = time.monotonic() + delay
            heapq.heappush(self._delayed, (due, next(self._seq), dst, item))
            if self._delayer is None:
                self._delayer = threading.Thread(
                    target=self._delay_loop, name="raft-latency", daemon=True
                )
                self._delayer.start()
            self._delay.notify()

    def _delay_loop(self) -> None:
        with self._delay:
            while not self._closed:
                if not self._delayed:
                    self._delay.wait()
                    continue
                wait = self._delayed[0][0] - time.monotonic()
                if wait > 0:
                    self._delay.wait(wait)
                    continue
                _, _, dst, item = heapq.heappop(self._delayed)
                self._post(dst, item)

    def close(self) -> None:
        with self._delay:
            self._closed = True
            self._delay.notify_all()
        for node_id in list(self.nodes):
            self.remove(node_id)


class RaftCluster:
    """The orderers of one channel: start, stop and restart nodes, find the leader.

    A stopped node keeps its Raft storage and its block store (a crash, not a wipe)
    and catches up from the leader when it starts again.
    """

    def __init__(
        self,
        node_ids: tuple[str, ...],
        batch: BatchSettings,
        raft: RaftSettings,
        folder: Path,
        runtime: Runtime,
        *,
        seed: int = 0,
        genesis: Any | None = None,
    ) -> None:
        self.node_ids = node_ids
        self.genesis = genesis  # block 0 of every node's chain, when given
        self.batch = batch
        self.raft = raft
        self.folder = folder
        self.runtime = runtime
        self.rng = random.Random(seed)
        self.storage = {node_id: RaftStorage() for node_id in node_ids}
        self.nodes: dict[str, OrdererNode] = {}
        # Called with each new node before it runs (listeners, block signer).
        self.on_start: list[Callable[[OrdererNode], None]] = []

    def start(self, node_id: str | None = None) -> None:
        """Start one node, or every node not yet running."""
        for target in (node_id,) if node_id else self.node_ids:
            if target in self.nodes:
                continue
            store = BlockStore(self.folder / target)
            if store.height == 0 and self.genesis is not None:
                store.append(self.genesis)
            node = OrdererNode(
                target,
                self.node_ids,
                batch=self.batch,
                raft=self.raft,
                transport=self.runtime,
                clock=self.runtime.now,
                store=store,
                storage=self.storage[target],
                rng=random.Random(self.rng.random()),
            )
            for hook in self.on_start:
                hook(node)
            self.nodes[target] = node
            self.runtime.add(node, self.raft.tick_interval_s)
            node.log.info("orderer %s started at height %s", target, node.height)

    def stop(self, node_id: str) -> None:
        """Crash a node: it stops ticking and receiving; its disk state stays."""
        self.runtime.remove(node_id)
        node = self.nodes.pop(node_id, None)
        if node is not None:
            node.log.info("orderer %s stopped", node_id)

    def leader(self, *, reachable: bool = False) -> OrdererNode | None:
        """The running node that leads in the highest term, if any (with
        ``reachable``: among the nodes that are not paused)."""
        nodes = self.reachable() if reachable else list(self.nodes.values())
        leaders = [node for node in nodes if node.is_leader]
        return max(leaders, key=lambda node: node.raft.storage.term, default=None)

    def reachable(self) -> list[OrdererNode]:
        """Running nodes that are not paused."""
        return [node for node in list(self.nodes.values()) if not self.paused(node.id)]

    # --- faults (the runtime must support them, as ThreadedRuntime does) ---------

    def faults(self, node_id: str) -> NodeFaults:
        node_faults = getattr(self.runtime, "node_faults", None)
        if node_faults is None:
            raise HarnessError(
                f"the {type(self.runtime).__name__} of this cluster injects no faults"
            )
        found: NodeFaults = node_faults(node_id)
        return found

    def paused(self, node_id: str) -> bool:
        found = self._set_faults(node_id)
        return found is not None and found.paused

    def fault_summary(self, node_id: str) -> str:
        """The node's faults in words, ``""`` when it has none."""
        found = self._set_faults(node_id)
        return found.describe() if found is not None else ""

    def _set_faults(self, node_id: str) -> NodeFaults | None:
        node_faults = getattr(self.runtime, "faults", None)
        if not isinstance(node_faults, dict):
            return None
        found: NodeFaults | None = node_faults.get(node_id)
        return found

    def broadcast(self, envelope: bytes, via: str | None = None) -> None:
        """Send an envelope through ``via`` (default: any running node)."""
        node = self.nodes[via] if via else next(iter(self.nodes.values()))
        node.broadcast(envelope)

    def storage_blocks(self, node_id: str) -> list[Any]:
        """Every block on a node's disk, whether the node runs or not."""
        return BlockStore(self.folder / node_id).blocks()

    def heights(self) -> dict[str, int]:
        return {node_id: node.height for node_id, node in self.nodes.items()}
