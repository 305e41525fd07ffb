"""Read-write sets: what a simulation read and wrote, in Fabric's proto form.

Reads keep the committed version only (no values); writes keep the last value per
key, deletes marked; range queries keep the keys and versions they returned so the
committer can detect phantoms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Version(NamedTuple):
    """Where a value was committed: (block number, transaction index)."""

    block_num: int
    tx_num: int


@dataclass
class RangeQueryInfo:
    start_key: str
    end_key: str
    exhausted: bool = False
    reads: list[tuple[str, Version]] = field(default_factory=list)


@dataclass
class NsRwSet:
    """One chaincode namespace's part of a read-write set."""

    namespace: str
    reads: dict[str, Version | None] = field(default_factory=dict)
    range_queries: list[RangeQueryInfo] = field(default_factory=list)
    writes: dict[str, bytes | None] = field(default_factory=dict)
    metadata_writes: dict[str, dict[str, bytes]] = field(default_factory=dict)

    @property
    def is_read_only(self) -> bool:
        return not self.writes and not self.metadata_writes


@dataclass
class TxRwSet:
    """A transaction's read-write set over every namespace it touched."""

    namespaces: dict[str, NsRwSet] = field(default_factory=dict)

    def ns(self, namespace: str) -> NsRwSet:
        """The namespace's part, created on first use."""
        if namespace not in self.namespaces:
            self.namespaces[namespace] = NsRwSet(namespace)
        return self.namespaces[namespace]

    def to_proto(self) -> Any:
        """Fabric's ``rwset.TxReadWriteSet`` (KV data model), sorted like Fabric's."""
        from fabric_protos.ledger.rwset import rwset_pb2

        message = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
        for name in sorted(self.namespaces):
            kv = _ns_to_kv(self.namespaces[name])
            message.ns_rwset.add(namespace=name, rwset=kv.SerializeToString())
        return message

    def to_bytes(self) -> bytes:
        return bytes(self.to_proto().SerializeToString())

    @classmethod
    def from_proto(cls, message: Any) -> TxRwSet:
        from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

        result = cls()
        for ns in message.ns_rwset:
            kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
            result.namespaces[ns.namespace] = _ns_from_kv(ns.namespace, kv)
        return result

    @classmethod
    def from_bytes(cls, data: bytes) -> TxRwSet:
        from fabric_protos.ledger.rwset import rwset_pb2

        return cls.from_proto(rwset_pb2.TxReadWriteSet.FromString(data))


def _version_proto(version: Version, kv_rwset_pb2: Any) -> Any:
    return kv_rwset_pb2.Version(block_num=version.block_num, tx_num=version.tx_num)


def _ns_to_kv(ns: NsRwSet) -> Any:
    from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

    kv = kv_rwset_pb2.KVRWSet()
    for key in sorted(ns.reads):
        read = kv.reads.add(key=key)
        version = ns.reads[key]
        if version is not None:
            read.version.CopyFrom(_version_proto(version, kv_rwset_pb2))
    for info in ns.range_queries:
        item = kv.range_queries_info.add(
            start_key=info.start_key, end_key=info.end_key, itr_exhausted=info.exhausted
        )
        for key, version in info.reads:
            item.raw_reads.kv_reads.add(
                key=key, version=_version_proto(version, kv_rwset_pb2)
            )
    for key in sorted(ns.writes):
        value = ns.writes[key]
        kv.writes.add(key=key, is_delete=value is None, value=value or b"")
    for key in sorted(ns.metadata_writes):
        write = kv.metadata_writes.add(key=key)
        for name in sorted(ns.metadata_writes[key]):
            write.entries.add(name=name, value=ns.metadata_writes[key][name])
    return kv


def _ns_from_kv(namespace: str, kv: Any) -> NsRwSet:
    ns = NsRwSet(namespace)
    for read in kv.reads:
        has_version = read.HasField("version")
        ns.reads[read.key] = (
            Version(read.version.block_num, read.version.tx_num)
            if has_version
            else None
        )
    for info in kv.range_queries_info:
        reads = [
            (r.key, Version(r.version.block_num, r.version.tx_num))
            for r in info.raw_reads.kv_reads
        ]
        ns.range_queries.append(
            RangeQueryInfo(info.start_key, info.end_key, info.itr_exhausted, reads)
        )
    for write in kv.writes:
        ns.writes[write.key] = None if write.is_delete else bytes(write.value)
    for meta in kv.metadata_writes:
        ns.metadata_writes[meta.key] = {e.name: bytes(e.value) for e in meta.entries}
    return ns
