"""An append-only file of Fabric blocks, one folder per channel in a run folder.

The file layout follows Fabric's block files: each block is its protobuf bytes
preceded by their length as a varint. Every append is checked against the chain and
flushed to disk before it returns, so a reader after a crash sees whole blocks.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from harness.fabric.sim._block import ChainError, block_hash, check_link

log = logging.getLogger(__name__)

BLOCK_FILE = "blockfile_000000"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data):
            raise ChainError("the block file ends inside a length prefix")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


class BlockStore:
    """The blocks of one channel as seen by one node, under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / BLOCK_FILE
        self._lock = threading.Lock()
        self._offsets: list[tuple[int, int]] = []  # (start, length) per block
        self._last: Any | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self._load_index()

    def _load_index(self) -> None:
        if not self.path.exists():
            self.path.touch()
            return
        data = self.path.read_bytes()
        offset = 0
        good_end = 0
        while offset < len(data):
            try:
                length, start = _read_varint(data, offset)
            except ChainError:
                break
            if start + length > len(data):
                break  # a torn last write: drop it
            self._offsets.append((start, length))
            offset = good_end = start + length
        if good_end < len(data):
            log.warning(
                "%s: dropping %d bytes of a torn last block",
                self.path,
                len(data) - good_end,
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(good_end)
        if self._offsets:
            self._last = self._read(len(self._offsets) - 1)

    @property
    def height(self) -> int:
        """The number of blocks stored (the next block number)."""
        return len(self._offsets)

    @property
    def last_hash(self) -> bytes:
        return block_hash(self._last) if self._last is not None else b""

    def last(self) -> Any | None:
        return self._last

    def append(self, block: Any) -> None:
        """Add the next block; :class:`ChainError` if it does not link."""
        with self._lock:
            check_link(self._last, block)
            data = block.SerializeToString()
            with open(self.path, "ab") as handle:
                start = handle.tell() + len(_varint(len(data)))
                handle.write(_varint(len(data)) + data)
                handle.flush()
                os.fsync(handle.fileno())
            self._offsets.append((start, len(data)))
            self._last = block
        log.debug("%s: block %s stored", self.folder.name, block.header.number)

    def get(self, number: int) -> Any:
        """Block ``number``; :class:`ChainError` past the height."""
        if not 0 <= number < self.height:
            raise ChainError(f"no block {number}: the store holds 0..{self.height - 1}")
        return self._read(number)

    def _read(self, number: int) -> Any:
        start, length = self._offsets[number]
        with open(self.path, "rb") as handle:
            handle.seek(start)
            data = handle.read(length)
        try:
            return common_pb2.Block.FromString(data)
        except DecodeError as error:
            raise ChainError(
                f"block {number} in {self.path} cannot be parsed"
            ) from error

    def blocks(self, start: int = 0) -> list[Any]:
        return [self._read(number) for number in range(start, self.height)]

    def verify(self) -> int:
        """Re-check numbers, previous hashes and data hashes; the height."""
        previous = None
        for number in range(self.height):
            block = self._read(number)
            check_link(previous, block)
            previous = block
        return self.height
