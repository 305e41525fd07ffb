"""Transaction validation codes: Fabric's own enum, re-exported as an IntEnum."""

from __future__ import annotations

import enum

from fabric_protos.peer import transaction_pb2

TxValidationCode = enum.IntEnum(  # type: ignore[misc]
    "TxValidationCode", dict(transaction_pb2.TxValidationCode.items())
)
