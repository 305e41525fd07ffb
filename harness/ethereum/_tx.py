"""Transactions signed locally (EIP-1559, type 2), and the receipts that come back.

A :class:`SignedTransaction` is plain bytes with a hash: a caller can record it
before sending, and resend exactly the same bytes after a crash. Sending it twice
can never execute it twice, because its nonce is spent by the first inclusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rlp
from coincurve import PrivateKey
from eth_hash.auto import keccak

from harness.ethereum._accounts import Account, to_checksum

DYNAMIC_FEE_TX_TYPE = b"\x02"
DEFAULT_MAX_FEE_PER_GAS = 50 * 10**9
DEFAULT_PRIORITY_FEE_PER_GAS = 10**9


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction ready to send: ``raw`` bytes, its ``tx_hash`` and its nonce."""

    raw: bytes = field(repr=False)
    tx_hash: str
    sender: str
    nonce: int
    to: str | None
    gas: int

    @property
    def raw_hex(self) -> str:
        return "0x" + self.raw.hex()

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe record of the transaction, enough to resend it later."""
        return {
            "raw": self.raw_hex,
            "tx_hash": self.tx_hash,
            "sender": self.sender,
            "nonce": self.nonce,
            "to": self.to,
            "gas": self.gas,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> SignedTransaction:
        raw = bytes.fromhex(str(record["raw"]).removeprefix("0x"))
        return cls(
            raw=raw,
            tx_hash="0x" + keccak(raw).hex(),
            sender=str(record["sender"]),
            nonce=int(record["nonce"]),
            to=record.get("to"),
            gas=int(record["gas"]),
        )


@dataclass(frozen=True)
class Log:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    log_index: int


@dataclass(frozen=True)
class Receipt:
    """What a mined transaction left: status, gas, logs, and a created contract."""

    tx_hash: str
    block_number: int
    status: int
    gas_used: int
    logs: tuple[Log, ...]
    contract_address: str | None = None
    revert_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == 1


def sign_transaction(
    sender: Account,
    *,
    chain_id: int,
    nonce: int,
    to: bytes | None,
    data: bytes,
    gas: int,
    value: int = 0,
    max_fee_per_gas: int = DEFAULT_MAX_FEE_PER_GAS,
    max_priority_fee_per_gas: int = DEFAULT_PRIORITY_FEE_PER_GAS,
) -> SignedTransaction:
    """Sign an EIP-1559 transaction with the sender's key (to=None deploys ``data``)."""
    fields: list[Any] = [
        chain_id,
        nonce,
        max_priority_fee_per_gas,
        max_fee_per_gas,
        gas,
        to or b"",
        value,
        data,
        [],
    ]
    digest = keccak(DYNAMIC_FEE_TX_TYPE + rlp.encode(fields))
    signature = PrivateKey(sender.private_key).sign_recoverable(digest, hasher=None)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    y_parity = signature[64]
    raw = DYNAMIC_FEE_TX_TYPE + rlp.encode([*fields, y_parity, r, s])
    return SignedTransaction(
        raw=raw,
        tx_hash="0x" + keccak(raw).hex(),
        sender=sender.address,
        nonce=nonce,
        to=to_checksum(to) if to else None,
        gas=gas,
    )


def contract_address_for(sender: bytes, nonce: int) -> bytes:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    return keccak(rlp.encode([sender, nonce]))[-20:]
