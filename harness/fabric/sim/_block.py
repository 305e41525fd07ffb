"""Fabric blocks: building them, their hash chain, and their metadata.

A block header's hash is SHA-256 over the ASN.1 DER encoding of
``SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }``
and ``data_hash`` is SHA-256 over the concatenated envelope bytes, as in Fabric's
protoutil. Metadata has Fabric's five slots; TRANSACTIONS_FILTER holds one
validation code byte per transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from fabric_protos.common import common_pb2

from harness.errors import HarnessError

METADATA_SLOTS = len(common_pb2.BlockMetadataIndex.keys())
SIGNATURES = common_pb2.BlockMetadataIndex.SIGNATURES
TRANSACTIONS_FILTER = common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER


class ChainError(HarnessError):
    """A block does not fit the chain: wrong number, previous hash or data hash."""

    exit_code = 1


class BlockSigner(Protocol):
    """What signing a block needs (the identity package's signers fit)."""

    def sign(self, message: bytes) -> bytes: ...


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _der_integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("block numbers are never negative")
    body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if body[0] & 0x80:
        body = b"\x00" + body  # keep it positive in two's complement
    return _der(0x02, body)


def block_header_bytes(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """The DER bytes Fabric hashes for a block header."""
    body = _der_integer(number) + _der(0x04, previous_hash) + _der(0x04, data_hash)
    return _der(0x30, body)


def header_hash(header: Any) -> bytes:
    """SHA-256 of a ``common.BlockHeader``."""
    encoded = block_header_bytes(header.number, header.previous_hash, header.data_hash)
    return hashlib.sha256(encoded).digest()


def block_hash(block: Any) -> bytes:
    return header_hash(block.header)


def data_hash(envelopes: Sequence[bytes]) -> bytes:
    """SHA-256 over the concatenation of the block's data entries."""
    return hashlib.sha256(b"".join(envelopes)).digest()


def new_block(number: int, previous_hash: bytes, envelopes: Sequence[bytes]) -> Any:
    """A ``common.Block`` with its header filled in and empty metadata slots."""
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = previous_hash
    block.header.data_hash = data_hash(envelopes)
    block.data.data.extend(envelopes)
    block.metadata.metadata.extend([b""] * METADATA_SLOTS)
    return block


def next_block(previous: Any | None, envelopes: Sequence[bytes]) -> Any:
    """The block after ``previous`` (or the first block when it is None)."""
    if previous is None:
        return new_block(0, b"", envelopes)
    return new_block(previous.header.number + 1, block_hash(previous), envelopes)


def set_tx_filter(block: Any, codes: Sequence[int]) -> None:
    """Store one validation code per transaction in TRANSACTIONS_FILTER."""
    if len(codes) != len(block.data.data):
        raise ChainError(f"{len(codes)} codes for {len(block.data.data)} transactions")
    block.metadata.metadata[TRANSACTIONS_FILTER] = bytes(codes)


def tx_filter(block: Any) -> list[int]:
    """The validation codes of a committed block (empty before validation)."""
    if len(block.metadata.metadata) <= TRANSACTIONS_FILTER:
        return []
    return list(block.metadata.metadata[TRANSACTIONS_FILTER])


def sign_block(block: Any, signer: BlockSigner, creator: bytes, nonce: bytes) -> None:
    """Fill the SIGNATURES slot the way an orderer does (last config 0).

    The signature covers the metadata value, the signature header and the DER header.
    """
    value = common_pb2.OrdererBlockMetadata()
    value.last_config.index = 0
    signature_header = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    value_bytes = value.SerializeToString()
    header_bytes = signature_header.SerializeToString()
    hdr = block.header
    signed = (
        value_bytes
        + header_bytes
        + block_header_bytes(hdr.number, hdr.previous_hash, hdr.data_hash)
    )
    metadata = common_pb2.Metadata(value=value_bytes)
    metadata.signatures.add(
        signature_header=header_bytes, signature=signer.sign(signed)
    )
    block.metadata.metadata[SIGNATURES] = metadata.SerializeToString()


def check_link(previous: Any | None, block: Any) -> None:
    """Raise :class:`ChainError` unless ``block`` may follow ``previous``."""
    header = block.header
    expected_number = 0 if previous is None else previous.header.number + 1
    if header.number != expected_number:
        raise ChainError(f"block {header.number} where block {expected_number} was due")
    expected_previous = b"" if previous is None else block_hash(previous)
    if header.previous_hash != expected_previous:
        raise ChainError(
            f"block {header.number}: previous_hash does not match block {expected_number - 1}"
        )
    if header.data_hash != data_hash(list(block.data.data)):
        raise ChainError(f"block {header.number}: data_hash does not match its data")
