"""Faster equivalents of py-trie's hottest helpers, for eth-tester's state tries.

An audit's mint writes 26 storage slots of the token contract. py-evm keeps those
slots in py-trie's ``HexaryTrie``, which took a third of eth-tester's CPU per mint,
much of it in small pure-Python helpers (nibble conversions, node validation,
list/tuple copies, RLP decoding of nodes through rusty-rlp at ~10 us a node,
where a decoder for the flat lists that nodes are takes ~3.5 us). The functions here
return exactly what the originals return, without generators, decorators or
per-item calls, and :func:`install` rebinds py-trie's module names to them. Same
results: the same state roots and gas, block for block (the tests compare
both on random tries and on whole chains). Measured on this repository's
benchmark chain: 15-19 % less CPU per audit-shaped mint.

Only py-trie 4.x is patched; any other version is left alone (and logged).
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Sequence
from itertools import chain
from typing import Any

import rlp
from trie.exceptions import InvalidNibbles, ValidationError

log = logging.getLogger(__name__)

_TERMINATOR = 16  # trie.constants.NIBBLE_TERMINATOR
_NIBBLE_PAIRS = [(byte >> 4, byte & 15) for byte in range(256)]
_BYTE_OF_PAIR = {pair: byte for byte, pair in enumerate(_NIBBLE_PAIRS)}
_ONLY_BYTES = frozenset({bytes})

# module -> names rebound there by install().
_TARGETS: dict[str, tuple[str, ...]] = {
    "trie.utils.nibbles": (
        "bytes_to_nibbles",
        "add_nibbles_terminator",
        "remove_nibbles_terminator",
        "decode_nibbles",
        "encode_nibbles",
    ),
    "trie.utils.nodes": (
        "add_nibbles_terminator",
        "remove_nibbles_terminator",
        "decode_nibbles",
        "encode_nibbles",
        "decode_node",
    ),
    "trie.hexary": (
        "bytes_to_nibbles",
        "decode_nibbles",
        "encode_nibbles",
        "decode_node",
        "validate_is_node",
        "tuplify",
        "listify",
    ),
    "trie.iter": ("bytes_to_nibbles",),
    "trie.validation": ("validate_is_node",),
}

_lock = threading.Lock()
_originals: dict[tuple[str, str], Any] = {}


def bytes_to_nibbles(value: bytes) -> tuple[int, ...]:
    return tuple(chain.from_iterable(map(_NIBBLE_PAIRS.__getitem__, value)))


def add_nibbles_terminator(nibbles: Sequence[int]) -> tuple[int, ...]:
    nibbles = tuple(nibbles)
    if nibbles and nibbles[-1] == _TERMINATOR:
        return nibbles
    return (*nibbles, _TERMINATOR)


def remove_nibbles_terminator(nibbles: Sequence[int]) -> tuple[int, ...]:
    nibbles = tuple(nibbles)
    if nibbles and nibbles[-1] == _TERMINATOR:
        return nibbles[:-1]
    return nibbles


@functools.lru_cache(8192)  # a few MB at most: keys are up to 33 bytes
def _decode_nibbles(value: bytes) -> tuple[int, ...]:
    nibbles = bytes_to_nibbles(value)
    flag = nibbles[0]  # IndexError on b"", as the original
    raw = nibbles[1:] if flag in (1, 3) else nibbles[2:]
    return (*raw, _TERMINATOR) if flag in (2, 3) else raw


def decode_nibbles(value: bytes) -> tuple[int, ...]:
    """The inverse of the hex-prefix encoding (a node's key path)."""
    return _decode_nibbles(bytes(value))


def encode_nibbles(nibbles: Sequence[int]) -> bytes:
    """The hex-prefix encoding of a key path."""
    nibbles = tuple(nibbles)
    flag = 0
    if nibbles and nibbles[-1] == _TERMINATOR:
        flag, nibbles = 2, nibbles[:-1]
    flagged = (flag + 1, *nibbles) if len(nibbles) % 2 else (flag, 0, *nibbles)
    try:
        return bytes(
            _BYTE_OF_PAIR[flagged[i], flagged[i + 1]] for i in range(0, len(flagged), 2)
        )
    except (KeyError, TypeError):
        raise InvalidNibbles(
            "Nibbles contained invalid value.  Must be constrained between [0, 15]"
        ) from None


def _not_bytes(value: Any) -> Exception:
    return ValidationError(f"Value is not of type `bytes`: got {type(value)!r}")


def validate_is_node(node: Any) -> None:
    """Raise trie's ValidationError unless ``node`` is a blank, leaf, extension or
    branch node (the checks and messages of trie.validation, inlined)."""
    if node == b"":
        return
    size = len(node)
    if size == 2:
        key, value = node
        if not isinstance(key, bytes):
            raise _not_bytes(key)
        if isinstance(value, list):
            validate_is_node(value)
        elif not isinstance(value, bytes):
            raise _not_bytes(value)
    elif size == 17:
        if not isinstance(node[16], bytes):
            raise _not_bytes(node[16])
        for sub_node in node[:16]:
            _validate_child(sub_node)
    else:
        raise ValidationError(f"Invalid Node: {node!r}")


def _validate_child(sub_node: Any) -> None:
    """One of a branch node's sixteen children: blank, embedded, or a hash."""
    if sub_node == b"":
        return
    if isinstance(sub_node, list):
        validate_is_node(sub_node)
    elif not isinstance(sub_node, bytes):
        raise _not_bytes(sub_node)
    elif len(sub_node) != 32:
        raise ValidationError(f"Value is of length {len(sub_node)}.  Must be 32")


def tuplify(node: Any) -> tuple[Any, ...]:
    if set(map(type, node)) <= _ONLY_BYTES:
        return tuple(node)
    return tuple(tuplify(sub) if isinstance(sub, list) else sub for sub in node)


def listify(node: Any) -> list[Any]:
    if set(map(type, node)) <= _ONLY_BYTES:
        return list(node)
    return [listify(sub) if isinstance(sub, tuple) else sub for sub in node]


def _flat_list(encoded: bytes) -> list[bytes] | None:
    """The items of a canonical RLP list of short strings (how branch, leaf and
    extension nodes of a storage trie are encoded), else None."""
    first = encoded[0]
    if first < 0xC0:
        return None
    if first <= 0xF7:
        position, end = 1, first - 0xBF
    else:
        width = first - 0xF7
        position = 1 + width
        end = position + int.from_bytes(encoded[1:position], "big")
        if end - position < 56 or encoded[1] == 0:
            return None  # a long length where a short one fits: not canonical
    if end != len(encoded):
        return None
    items: list[bytes] = []
    append = items.append
    while position < end:
        prefix = encoded[position]
        if prefix < 0x80:
            append(encoded[position : position + 1])
            position += 1
        elif prefix <= 0xB7:
            following = position + prefix - 0x7F
            if following > end or (prefix == 0x81 and encoded[position + 1] < 0x80):
                return None
            append(encoded[position + 1 : following])
            position = following
        else:
            return None  # a long string or a nested list: the general decoder
    return items


def decode_node(encoded_node_or_hash: Any) -> Any:
    """A trie node from its RLP encoding (blank and already decoded nodes pass
    through); what trie.utils.nodes.decode_node returns, faster for flat lists."""
    if encoded_node_or_hash == b"":
        return b""
    if isinstance(encoded_node_or_hash, list):
        return encoded_node_or_hash
    if type(encoded_node_or_hash) is bytes:
        items = _flat_list(encoded_node_or_hash)
        if items is not None:
            return items
    return rlp.decode(encoded_node_or_hash)


def install() -> bool:
    """Rebind py-trie's helpers to the functions above (once per process); False
    when py-trie is not a 4.x release, which is then left as it is."""
    with _lock:
        if _originals:
            return True
        if not _supported():
            return False
        for module_name, names in _TARGETS.items():
            module = importlib.import_module(module_name)
            for name in names:
                _originals[module_name, name] = getattr(module, name)
                setattr(module, name, globals()[name])
        return True


@functools.cache
def _supported() -> bool:
    """py-trie is a 4.x release (read once: every eth-tester chain asks)."""
    from importlib.metadata import version

    found = version("trie")
    if not found.startswith("4."):
        log.info("py-trie %s is not 4.x: its helpers are left unpatched", found)
    return found.startswith("4.")


def uninstall() -> None:
    """Put py-trie's own helpers back (the tests compare both)."""
    with _lock:
        for (module_name, name), original in _originals.items():
            setattr(importlib.import_module(module_name), name, original)
        _originals.clear()


def original(module_name: str, name: str) -> Any:
    """py-trie's own function behind a patched name (installed or not)."""
    saved = _originals.get((module_name, name))
    if saved is not None:
        return saved
    return getattr(importlib.import_module(module_name), name)
