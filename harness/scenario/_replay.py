"""A channel's world state and validation codes rebuilt from its blocks alone.

A network served by another process keeps its ledgers there; what a scenario's
checks read of them comes over the wire, as any Fabric client sees it: the blocks a
peer's Deliver hands out, each with its TRANSACTIONS_FILTER. Replaying the write
sets of the valid transactions in order gives the world state the peer holds (the
last valid write of a key wins, a delete removes it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

VALID = 0


@dataclass
class BlockReplay:
    """What the replay of a channel's blocks found."""

    height: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    state: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        """The live keys of ``namespace`` that start with ``prefix``, sorted."""
        found = self.state.get(namespace, {})
        return sorted(key for key in found if key.startswith(prefix))


def replay_blocks(blocks: Iterable[Any]) -> BlockReplay:
    """Count every transaction's validation code and apply the write sets of the
    valid endorser transactions, block by block (``common.Block`` messages)."""
    from harness.fabric.client import code_name
    from harness.fabric.sim._block import tx_filter

    replay = BlockReplay()
    for block in blocks:
        codes = tx_filter(block)
        for index, envelope in enumerate(block.data.data):
            code = codes[index] if index < len(codes) else None
            if code is not None:
                replay.codes[code_name(code)] += 1
            if code == VALID:
                _apply(replay.state, bytes(envelope))
        replay.height = max(replay.height, block.header.number + 1)
    return replay


def _apply(state: dict[str, dict[str, bytes]], envelope: bytes) -> None:
    from harness.fabric._messages import MessageError, parse_envelope
    from harness.fabric.sim._rwset import TxRwSet

    try:
        transaction = parse_envelope(envelope)
    except MessageError:
        return  # a config transaction: it writes no chaincode state
    rwset = TxRwSet.from_bytes(transaction.results)
    for name, ns in rwset.namespaces.items():
        values = state.setdefault(name, {})
        for key, value in ns.writes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
