"""Versioned world state, transaction simulation and MVCC validation.

The state maps (namespace, key) to a value, its version (the block and transaction
that wrote it) and its metadata (e.g. a key-level endorsement policy). A
:class:`TxSimulator` reads committed state only (Fabric has no read-your-own-writes)
and records a :class:`TxRwSet`. :func:`validate_mvcc` then checks a block's read-write
sets in block order and returns the codes and the updates to commit.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fabric_protos.peer.transaction_pb2 import TxValidationCode

from harness.errors import HarnessError
from harness.fabric.sim._keys import partial_key_range, simple_range
from harness.fabric.sim._mango import as_document, parse_query, select
from harness.fabric.sim._rwset import NsRwSet, RangeQueryInfo, TxRwSet, Version

log = logging.getLogger(__name__)

VALID: int = TxValidationCode.VALID
MVCC_READ_CONFLICT: int = TxValidationCode.MVCC_READ_CONFLICT
PHANTOM_READ_CONFLICT: int = TxValidationCode.PHANTOM_READ_CONFLICT

VALIDATION_PARAMETER = "VALIDATION_PARAMETER"  # Fabric's metadata key for key policies
_EMPTY: Mapping[str, bytes] = MappingProxyType({})


class SimulationError(HarnessError):
    """A simulation asked for something the ledger refuses (e.g. after it ended)."""


@dataclass(frozen=True)
class VersionedValue:
    value: bytes
    version: Version
    metadata: Mapping[str, bytes] = field(default_factory=lambda: _EMPTY)


class _Namespace:
    """One namespace's keys: a dict plus a sorted key list for range scans, and
    the parsed JSON of the values rich queries have read (CouchDB keeps documents
    parsed; parsing every value on every query made a query cost a full parse)."""

    def __init__(self) -> None:
        self.values: dict[str, VersionedValue] = {}
        self.keys: list[str] = []
        self._documents: dict[str, tuple[bytes, Mapping[str, Any] | None]] = {}

    def put(self, key: str, value: VersionedValue) -> None:
        if key not in self.values:
            bisect.insort(self.keys, key)
        self.values[key] = value

    def delete(self, key: str) -> None:
        if self.values.pop(key, None) is not None:
            del self.keys[bisect.bisect_left(self.keys, key)]
        self._documents.pop(key, None)

    def documents(self) -> list[tuple[str, Mapping[str, Any] | None]]:
        """Every key in order with its value's document (see ``as_document``),
        parsed once per value written."""
        rows = []
        cache = self._documents
        for key in self.keys:
            value = self.values[key].value
            cached = cache.get(key)
            if cached is None or cached[0] is not value:
                cached = (value, as_document(key, value))
                cache[key] = cached
            rows.append((key, cached[1]))
        return rows

    def scan(self, start: str, end: str) -> list[tuple[str, VersionedValue]]:
        low = bisect.bisect_left(self.keys, start)
        high = bisect.bisect_left(self.keys, end) if end else len(self.keys)
        return [(key, self.values[key]) for key in self.keys[low:high]]

    def copy(self) -> _Namespace:
        """An independent copy; the values themselves are immutable and shared."""
        twin = _Namespace()
        twin.values = dict(self.values)
        twin.keys = list(self.keys)
        return twin


@dataclass(frozen=True)
class StateSnapshot:
    """A world state's namespaces at one moment (see :meth:`WorldState.snapshot`)."""

    namespaces: Mapping[str, _Namespace]
    height: int


class WorldState:
    """The committed state of one channel, guarded by one lock."""

    def __init__(self) -> None:
        self._namespaces: dict[str, _Namespace] = {}
        self.lock = threading.RLock()
        self.height = 0  # blocks committed

    def _ns(self, namespace: str) -> _Namespace:
        if namespace not in self._namespaces:
            self._namespaces[namespace] = _Namespace()
        return self._namespaces[namespace]

    def get(self, namespace: str, key: str) -> VersionedValue | None:
        with self.lock:
            return self._ns(namespace).values.get(key)

    def range(
        self, namespace: str, start: str, end: str
    ) -> list[tuple[str, VersionedValue]]:
        """Keys in [start, end) in key order; an empty ``end`` means no upper bound."""
        with self.lock:
            return self._ns(namespace).scan(start, end)

    def query(self, namespace: str, query: str) -> list[tuple[str, bytes]]:
        """A Mango rich query over the namespace's JSON values."""
        parsed = parse_query(query)
        with self.lock:
            documents = self._ns(namespace).documents()
        return select(parsed, documents)

    def snapshot(self) -> StateSnapshot:
        """Copy every namespace, for :meth:`restore`.

        A copy of the dicts and sorted key lists, not copy-on-write: the state of a
        test network holds hundreds of keys, so a copy costs microseconds, and the
        read and commit paths stay exactly as they are. VersionedValue is frozen, so
        the values are shared, not copied.
        """
        with self.lock:
            copied = {name: ns.copy() for name, ns in self._namespaces.items()}
            return StateSnapshot(MappingProxyType(copied), self.height)

    def restore(self, snapshot: StateSnapshot) -> None:
        """Put back the namespaces of ``snapshot`` (it stays usable for another
        restore). The height is not touched: blocks are history and stay on disk,
        and the next block must still apply at the store's height."""
        with self.lock:
            self._namespaces = {
                name: ns.copy() for name, ns in snapshot.namespaces.items()
            }

    def apply(self, updates: UpdateBatch) -> None:
        """Commit a validated block's updates and advance the height."""
        with self.lock:
            for (namespace, key), update in updates.items.items():
                ns = self._ns(namespace)
                if update.value is None:
                    ns.delete(key)
                    continue
                ns.put(
                    key, VersionedValue(update.value, update.version, update.metadata)
                )
            self.height = max(self.height, updates.block_num + 1)


@dataclass
class KeyUpdate:
    value: bytes | None  # None: delete
    version: Version
    metadata: Mapping[str, bytes] = field(default_factory=lambda: _EMPTY)


@dataclass
class UpdateBatch:
    """The writes of a block's valid transactions, not yet applied."""

    block_num: int
    items: dict[tuple[str, str], KeyUpdate] = field(default_factory=dict)

    def get(self, namespace: str, key: str) -> KeyUpdate | None:
        return self.items.get((namespace, key))


# --- simulation ------------------------------------------------------------------


class RangeIterator(Iterator[tuple[str, bytes]]):
    """Results of a range query; what the chaincode consumes is recorded."""

    def __init__(
        self, rows: list[tuple[str, VersionedValue]], info: RangeQueryInfo
    ) -> None:
        self._rows = rows
        self._index = 0
        self._info = info
        if not rows:
            info.exhausted = True

    def __next__(self) -> tuple[str, bytes]:
        if self._index >= len(self._rows):
            self._info.exhausted = True
            raise StopIteration
        key, value = self._rows[self._index]
        self._index += 1
        self._info.reads.append((key, value.version))
        if self._index == len(self._rows):
            self._info.exhausted = True
        return key, value.value

    def close(self) -> None:
        """Stop early; the range stays recorded up to the last key consumed."""
        self._index = len(self._rows)


class TxSimulator:
    """Runs one transaction's reads and writes against committed state."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        self.rwset = TxRwSet()
        self.done = False

    def _ns(self, namespace: str) -> NsRwSet:
        if self.done:
            raise SimulationError("the simulation has ended")
        return self.rwset.ns(namespace)

    def _record_read(self, namespace: str, key: str) -> VersionedValue | None:
        ns = self._ns(namespace)
        current = self.state.get(namespace, key)
        if key not in ns.reads:
            ns.reads[key] = current.version if current is not None else None
        return current

    def get_state(self, namespace: str, key: str) -> bytes | None:
        """The committed value (never this transaction's own write)."""
        current = self._record_read(namespace, key)
        return current.value if current is not None else None

    def get_metadata(self, namespace: str, key: str) -> Mapping[str, bytes]:
        current = self._record_read(namespace, key)
        return current.metadata if current is not None else _EMPTY

    def put_state(self, namespace: str, key: str, value: bytes) -> None:
        if not key:
            raise SimulationError("an empty key cannot be written")
        self._ns(namespace).writes[key] = bytes(value)

    def delete_state(self, namespace: str, key: str) -> None:
        self._ns(namespace).writes[key] = None

    def set_metadata(self, namespace: str, key: str, name: str, value: bytes) -> None:
        """Set one metadata entry; the key's other entries are kept at commit."""
        self._ns(namespace).metadata_writes.setdefault(key, {})[name] = bytes(value)

    def range(self, namespace: str, start: str, end: str) -> RangeIterator:
        """A simple-key range query [start, end)."""
        start, end = simple_range(start, end)
        return self._range(namespace, start, end)

    def partial_composite(
        self, namespace: str, object_type: str, attrs: list[str]
    ) -> RangeIterator:
        """Every composite key that starts with ``object_type`` and ``attrs``."""
        start, end = partial_key_range(object_type, attrs)
        return self._range(namespace, start, end)

    def _range(self, namespace: str, start: str, end: str) -> RangeIterator:
        info = RangeQueryInfo(start, end)
        self._ns(namespace).range_queries.append(info)
        return RangeIterator(self.state.range(namespace, start, end), info)

    def query(self, namespace: str, query: str) -> list[tuple[str, bytes]]:
        """A rich query; like Fabric, it is not recorded and not re-checked at commit."""
        self._ns(namespace)
        return self.state.query(namespace, query)

    def finish(self) -> TxRwSet:
        """End the simulation and hand over its read-write set."""
        self.done = True
        return self.rwset


# --- validation ------------------------------------------------------------------


def validate_mvcc(
    state: WorldState,
    block_num: int,
    rwsets: Sequence[TxRwSet | None],
    codes: Sequence[int],
) -> tuple[list[int], UpdateBatch]:
    """MVCC and phantom checks in block order for the txs whose code is still VALID.

    Returns the final codes and the updates of the valid transactions, each write
    versioned (block_num, tx index).
    """
    final = list(codes)
    updates = UpdateBatch(block_num)
    with state.lock:
        for index, rwset in enumerate(rwsets):
            if final[index] != VALID or rwset is None:
                continue
            final[index] = validate_tx(state, updates, rwset, index)
    return final, updates


def validate_tx(
    state: WorldState, updates: UpdateBatch, rwset: TxRwSet, index: int
) -> int:
    """MVCC and phantom checks of one transaction against committed state and the
    earlier valid transactions of its block; a valid one's writes join ``updates``
    with version (block, ``index``). The caller holds ``state.lock``."""
    code = _check_tx(state, updates, rwset)
    if code == VALID:
        _add_updates(state, updates, rwset, Version(updates.block_num, index))
    else:
        log.debug("block %s tx %s: code %s", updates.block_num, index, code)
    return code


def _check_tx(state: WorldState, updates: UpdateBatch, rwset: TxRwSet) -> int:
    for ns in rwset.namespaces.values():
        for key, version in ns.reads.items():
            if updates.get(ns.namespace, key) is not None:
                return MVCC_READ_CONFLICT
            current = state.get(ns.namespace, key)
            if (current.version if current is not None else None) != version:
                return MVCC_READ_CONFLICT
    for ns in rwset.namespaces.values():
        for info in ns.range_queries:
            if not _range_unchanged(state, updates, ns.namespace, info):
                return PHANTOM_READ_CONFLICT
    return VALID


def _range_unchanged(
    state: WorldState, updates: UpdateBatch, namespace: str, info: RangeQueryInfo
) -> bool:
    """Re-run the range over committed state plus earlier valid txs of the block."""
    current = {
        key: value.version
        for key, value in state.range(namespace, info.start_key, info.end_key)
    }
    for (ns, key), update in updates.items.items():
        in_range = key >= info.start_key and (not info.end_key or key < info.end_key)
        if ns != namespace or not in_range:
            continue
        if update.value is None:
            current.pop(key, None)
        else:
            current[key] = update.version
    results = sorted(current.items())
    if info.exhausted:
        return results == info.reads
    return results[: len(info.reads)] == info.reads


def _add_updates(
    state: WorldState, updates: UpdateBatch, rwset: TxRwSet, version: Version
) -> None:
    for ns in rwset.namespaces.values():
        for key in sorted(set(ns.writes) | set(ns.metadata_writes)):
            base_value, base_metadata = _current(state, updates, ns.namespace, key)
            value = ns.writes.get(key, base_value)
            if value is None and key not in ns.writes:
                continue  # metadata for a key that does not exist is dropped
            metadata: Mapping[str, bytes] = _EMPTY
            if value is not None:
                merged = {**base_metadata, **ns.metadata_writes.get(key, {})}
                metadata = MappingProxyType(merged) if merged else _EMPTY
            updates.items[(ns.namespace, key)] = KeyUpdate(value, version, metadata)


def _current(
    state: WorldState, updates: UpdateBatch, namespace: str, key: str
) -> tuple[bytes | None, Mapping[str, bytes]]:
    """A key's value and metadata after the earlier valid txs of the block."""
    pending = updates.get(namespace, key)
    if pending is not None:
        return pending.value, pending.metadata
    committed = state.get(namespace, key)
    if committed is None:
        return None, _EMPTY
    return committed.value, committed.metadata


def commit_block(
    state: WorldState,
    block_num: int,
    rwsets: Sequence[TxRwSet | None],
    codes: Sequence[int],
) -> list[int]:
    """Validate (MVCC, phantoms) and apply one block; the final codes."""
    final, updates = validate_mvcc(state, block_num, rwsets, codes)
    state.apply(updates)
    log.debug("block %s committed: %d updates", block_num, len(updates.items))
    return final


def key_policy(
    state: WorldState, updates: UpdateBatch | None, namespace: str, key: str
) -> bytes | None:
    """The key-level endorsement policy in force for a key, if it has one."""
    if updates is not None:
        pending = updates.get(namespace, key)
        if pending is not None:
            return pending.metadata.get(VALIDATION_PARAMETER)
    committed = state.get(namespace, key)
    if committed is None:
        return None
    return committed.metadata.get(VALIDATION_PARAMETER)
