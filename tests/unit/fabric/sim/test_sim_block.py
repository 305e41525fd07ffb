"""Fabric blocks: header hash, data hash, metadata, and the file block store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer.transaction_pb2 import TxValidationCode

from harness.fabric.sim._block import (
    METADATA_SLOTS,
    ChainError,
    block_hash,
    block_header_bytes,
    check_link,
    data_hash,
    next_block,
    set_tx_filter,
    sign_block,
    tx_filter,
)
from harness.fabric.sim._blockstore import BlockStore


def chain(length: int) -> list[common_pb2.Block]:
    blocks: list[common_pb2.Block] = []
    for number in range(length):
        previous = blocks[-1] if blocks else None
        blocks.append(
            next_block(previous, [f"env-{number}-{i}".encode() for i in range(3)])
        )
    return blocks


@pytest.mark.parametrize(
    "number", [0, 1, 127, 128, 255, 256, 65535, 2**40], ids=lambda n: f"n{n}"
)
def test_header_bytes_match_an_independent_der_encoder(number: int) -> None:
    core = pytest.importorskip("asn1crypto.core")

    class Header(core.Sequence):  # type: ignore[misc]
        _fields = [  # noqa: RUF012 (asn1crypto reads a plain list)
            ("number", core.Integer),
            ("previous_hash", core.OctetString),
            ("data_hash", core.OctetString),
        ]

    previous, digest = b"\x01" * 32, b"\xfe" * 32
    expected = Header(
        {"number": number, "previous_hash": previous, "data_hash": digest}
    ).dump()

    assert block_header_bytes(number, previous, digest) == expected


def test_known_header_encoding() -> None:
    assert block_header_bytes(0, b"", b"\xaa") == bytes.fromhex(
        "3008020100040004 01aa".replace(" ", "")
    )


def test_data_hash_is_sha256_of_concatenated_envelopes() -> None:
    assert data_hash([b"ab", b"c"]) == hashlib.sha256(b"abc").digest()


def test_blocks_link_by_header_hash() -> None:
    first, second, third = chain(3)

    assert first.header.previous_hash == b""
    assert second.header.previous_hash == block_hash(first)
    assert third.header.number == 2
    assert len(third.metadata.metadata) == METADATA_SLOTS
    check_link(second, third)


def test_tx_filter_round_trip() -> None:
    block = chain(1)[0]
    codes = [TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT, 254]

    set_tx_filter(block, codes)

    again = common_pb2.Block.FromString(block.SerializeToString())
    assert tx_filter(again) == [0, 11, 254]
    with pytest.raises(ChainError):
        set_tx_filter(block, [0])


class FixedSigner:
    def sign(self, message: bytes) -> bytes:
        return hashlib.sha256(message).digest()


def test_sign_block_fills_signatures_slot() -> None:
    block = chain(1)[0]

    sign_block(block, FixedSigner(), creator=b"orderer", nonce=b"n" * 24)

    metadata = common_pb2.Metadata.FromString(
        block.metadata.metadata[common_pb2.BlockMetadataIndex.SIGNATURES]
    )
    signed = (
        metadata.value
        + metadata.signatures[0].signature_header
        + block_header_bytes(0, b"", block.header.data_hash)
    )
    assert metadata.signatures[0].signature == hashlib.sha256(signed).digest()
    header = common_pb2.SignatureHeader.FromString(
        metadata.signatures[0].signature_header
    )
    assert header.creator == b"orderer"


@pytest.mark.parametrize(
    ("tamper", "words"),
    [("number", "was due"), ("previous", "previous_hash"), ("data", "data_hash")],
    ids=["wrong-number", "wrong-previous-hash", "tampered-data"],
)
def test_store_refuses_blocks_that_do_not_link(
    tmp_path: Path, tamper: str, words: str
) -> None:
    store = BlockStore(tmp_path / "ch")
    first, second = chain(2)
    store.append(first)
    if tamper == "number":
        second.header.number = 5
    elif tamper == "previous":
        second.header.previous_hash = b"\x00" * 32
    else:
        second.data.data[0] = b"forged"

    with pytest.raises(ChainError, match=words):
        store.append(second)
    assert store.height == 1


def test_store_persists_and_verifies(tmp_path: Path) -> None:
    blocks = chain(5)
    store = BlockStore(tmp_path / "ch")
    for block in blocks:
        store.append(block)

    reopened = BlockStore(tmp_path / "ch")

    assert reopened.height == 5
    assert reopened.verify() == 5
    assert reopened.get(3) == blocks[3]
    assert reopened.last_hash == block_hash(blocks[-1])
    with pytest.raises(ChainError, match="no block 5"):
        reopened.get(5)


def test_store_drops_a_torn_last_write(tmp_path: Path) -> None:
    store = BlockStore(tmp_path / "ch")
    for block in chain(3):
        store.append(block)
    size = store.path.stat().st_size
    with open(store.path, "r+b") as handle:
        handle.truncate(size - 10)

    reopened = BlockStore(tmp_path / "ch")

    assert reopened.height == 2
    assert reopened.verify() == 2
    reopened.append(chain(3)[2])
    assert reopened.height == 3


def test_verify_detects_a_corrupted_file(tmp_path: Path) -> None:
    store = BlockStore(tmp_path / "ch")
    for block in chain(3):
        store.append(block)
    data = bytearray(store.path.read_bytes())
    index = data.find(b"env-1-0")
    data[index : index + 7] = b"env-X-0"
    store.path.write_bytes(bytes(data))

    with pytest.raises(ChainError, match="block 1: data_hash"):
        BlockStore(tmp_path / "ch").verify()
