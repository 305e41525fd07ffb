"""A crash-tolerant Raft node as a pure state machine, in etcdraft's terms.

The node never sleeps, spawns or reads a clock: its driver calls :meth:`tick` every
TickInterval and :meth:`step` for every message, and the node sends messages through
a :class:`Transport`. That keeps it deterministic under a scheduler in tests, and
lets it run over threads or gRPC later unchanged. Elections use randomised timeouts
in [ElectionTick, 2 x ElectionTick) ticks; a leader that has not heard from a
quorum for an election timeout steps down (etcd's CheckQuorum), so a minority
never believes it has a leader.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

log = logging.getLogger(__name__)

RaftRole = Literal["follower", "candidate", "leader"]


@dataclass(frozen=True)
class Entry:
    term: int
    data: bytes  # b"" marks a leader's no-op entry


@dataclass(frozen=True)
class RequestVote:
    term: int
    last_index: int
    last_term: int


@dataclass(frozen=True)
class VoteReply:
    term: int
    granted: bool


@dataclass(frozen=True)
class Append:
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True)
class AppendReply:
    term: int
    success: bool
    match_index: int  # on failure: the follower's last index, as a hint


@dataclass(frozen=True)
class Forward:
    """A follower hands a proposal to its leader (etcdraft forwards envelopes)."""

    data: bytes


Message: TypeAlias = RequestVote | VoteReply | Append | AppendReply | Forward


class Transport(Protocol):
    """Delivers a message to another node, or drops it if that node is unreachable."""

    def send(self, src: str, dst: str, message: Message) -> None: ...


@dataclass
class RaftStorage:
    """What survives a crash (etcd's WAL): term, vote and log."""

    term: int = 0
    voted_for: str | None = None
    log: list[Entry] = field(default_factory=list)  # index i+1 holds log[i]
    applied: int = 0  # persisted with the block it produced, as etcdraft does

    def term_at(self, index: int) -> int:
        return self.log[index - 1].term if index > 0 else 0

    @property
    def last_index(self) -> int:
        return len(self.log)


class RaftNode:
    """One consenter. Not thread-safe: its driver serialises calls."""

    def __init__(
        self,
        node_id: str,
        peers: tuple[str, ...],
        storage: RaftStorage,
        transport: Transport,
        apply: Callable[[int, bytes], None],
        *,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        max_inflight: int = 5,
        rng: random.Random | None = None,
    ) -> None:
        self.id = node_id
        self.peers = tuple(peer for peer in peers if peer != node_id)
        self.storage = storage
        self.transport = transport
        self.apply_entry = apply
        self.election_tick = election_tick
        self.heartbeat_tick = heartbeat_tick
        self.max_inflight = max_inflight
        self.rng = rng or random.Random()
        self.role: RaftRole = "follower"
        self.leader: str | None = None
        self.commit_index = storage.applied
        self.applied = storage.applied
        self.elapsed = 0
        self.timeout = self._random_timeout()
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.active: set[str] = set()
        self.leader_changes = 0

    @property
    def quorum(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    def _random_timeout(self) -> int:
        return self.election_tick + self.rng.randrange(self.election_tick)

    # --- driver entry points -----------------------------------------------------

    def tick(self) -> None:
        self.elapsed += 1
        if self.role == "leader":
            if self.elapsed % self.heartbeat_tick == 0:
                self._broadcast_append()
            if self.elapsed >= self.election_tick:
                self._check_quorum()
        elif self.elapsed >= self.timeout:
            self._campaign()

    def propose(self, data: bytes) -> bool:
        """Append ``data`` to the log if this node leads; False otherwise."""
        if self.role != "leader":
            return False
        self.storage.log.append(Entry(self.storage.term, data))
        self._broadcast_append()
        self._advance_commit()
        return True

    def step(self, src: str, message: Message) -> None:
        term = getattr(message, "term", None)
        if term is not None and term > self.storage.term:
            leader = src if isinstance(message, Append) else None
            self._become_follower(term, leader)
        if isinstance(message, RequestVote):
            self._on_request_vote(src, message)
        elif isinstance(message, VoteReply):
            self._on_vote_reply(src, message)
        elif isinstance(message, Append):
            self._on_append(src, message)
        elif isinstance(message, AppendReply):
            self._on_append_reply(src, message)

    # --- elections ---------------------------------------------------------------

    def _become_follower(self, term: int, leader: str | None) -> None:
        if term > self.storage.term:
            self.storage.term = term
            self.storage.voted_for = None
        if self.role == "leader":
            log.info("raft %s: stepping down in term %s", self.id, term)
        self.role = "follower"
        self._set_leader(leader)
        self.elapsed = 0
        self.timeout = self._random_timeout()

    def _set_leader(self, leader: str | None) -> None:
        if leader != self.leader and leader is not None:
            self.leader_changes += 1
        self.leader = leader

    def _campaign(self) -> None:
        self.storage.term += 1
        self.storage.voted_for = self.id
        self.role = "candidate"
        self.leader = None
        self.votes = {self.id}
        self.elapsed = 0
        self.timeout = self._random_timeout()
        log.debug("raft %s: campaigning in term %s", self.id, self.storage.term)
        request = RequestVote(
            self.storage.term,
            self.storage.last_index,
            self.storage.term_at(self.storage.last_index),
        )
        for peer in self.peers:
            self.transport.send(self.id, peer, request)
        self._maybe_win()

    def _on_request_vote(self, src: str, message: RequestVote) -> None:
        storage = self.storage
        our_last_term = storage.term_at(storage.last_index)
        up_to_date = (message.last_term, message.last_index) >= (
            our_last_term,
            storage.last_index,
        )
        granted = (
            message.term == storage.term
            and storage.voted_for in (None, src)
            and up_to_date
        )
        if granted:
            storage.voted_for = src
            self.elapsed = 0
        self.transport.send(self.id, src, VoteReply(storage.term, granted))

    def _on_vote_reply(self, src: str, message: VoteReply) -> None:
        if (
            self.role == "candidate"
            and message.term == self.storage.term
            and message.granted
        ):
            self.votes.add(src)
            self._maybe_win()

    def _maybe_win(self) -> None:
        if self.role != "candidate" or len(self.votes) < self.quorum:
            return
        self.role = "leader"
        self._set_leader(self.id)
        self.elapsed = 0
        self.active = set()
        self.next_index = dict.fromkeys(self.peers, self.storage.last_index + 1)
        self.match_index = dict.fromkeys(self.peers, 0)
        log.info("raft %s: leader in term %s", self.id, self.storage.term)
        # A no-op of the new term lets the leader commit entries of earlier terms.
        self.storage.log.append(Entry(self.storage.term, b""))
        self._broadcast_append()
        self._advance_commit()

    def _check_quorum(self) -> None:
        if len(self.active) + 1 < self.quorum:
            log.info("raft %s: lost contact with a quorum; stepping down", self.id)
            self._become_follower(self.storage.term, None)
            return
        self.active = set()
        self.elapsed = 0

    # --- replication -------------------------------------------------------------

    def _broadcast_append(self) -> None:
        for peer in self.peers:
            self._send_append(peer)

    def _send_append(self, peer: str) -> None:
        storage = self.storage
        next_index = self.next_index[peer]
        prev = next_index - 1
        end = min(storage.last_index, prev + self.max_inflight)
        entries = tuple(storage.log[prev:end])
        message = Append(
            storage.term, prev, storage.term_at(prev), entries, self.commit_index
        )
        self.transport.send(self.id, peer, message)

    def _on_append(self, src: str, message: Append) -> None:
        storage = self.storage
        if message.term < storage.term:
            self.transport.send(
                self.id, src, AppendReply(storage.term, False, storage.last_index)
            )
            return
        if self.role != "follower" or self.leader != src:
            self.role = "follower"
            self._set_leader(src)
        self.elapsed = 0
        if message.prev_index > storage.last_index or (
            storage.term_at(message.prev_index) != message.prev_term
        ):
            hint = min(storage.last_index, message.prev_index - 1)
            self.transport.send(self.id, src, AppendReply(storage.term, False, hint))
            return
        index = message.prev_index
        for entry in message.entries:
            index += 1
            if index <= storage.last_index:
                if storage.term_at(index) == entry.term:
                    continue
                del storage.log[index - 1 :]  # a conflicting uncommitted suffix
            storage.log.append(entry)
        last_new = message.prev_index + len(message.entries)
        if message.commit > self.commit_index:
            self.commit_index = min(message.commit, last_new)
            self._apply()
        self.transport.send(self.id, src, AppendReply(storage.term, True, last_new))

    def _on_append_reply(self, src: str, message: AppendReply) -> None:
        if self.role != "leader" or message.term != self.storage.term:
            return
        self.active.add(src)
        if message.success:
            if message.match_index > self.match_index[src]:
                self.match_index[src] = message.match_index
                self.next_index[src] = message.match_index + 1
                self._advance_commit()
            if self.next_index[src] <= self.storage.last_index:
                self._send_append(src)
            return
        self.next_index[src] = max(
            1, min(self.next_index[src] - 1, message.match_index + 1)
        )
        self._send_append(src)

    def _advance_commit(self) -> None:
        storage = self.storage
        for index in range(storage.last_index, self.commit_index, -1):
            if storage.term_at(index) != storage.term:
                break
            replicas = 1 + sum(
                1 for peer in self.peers if self.match_index[peer] >= index
            )
            if replicas >= self.quorum:
                self.commit_index = index
                self._apply()
                for peer in self.peers:  # tell followers the new commit index now
                    self._send_append(peer)
                return

    def _apply(self) -> None:
        while self.applied < self.commit_index:
            index = self.applied + 1
            entry = self.storage.log[index - 1]
            if entry.data:
                self.apply_entry(index, entry.data)
            self.applied = self.storage.applied = index
