"""Composite keys in Fabric's format and the key-range rules of its shim.

A composite key is U+0000, the object type, then each attribute, each of them
followed by U+0000. Simple keys may not start with U+0000, so a range query over
simple keys never returns a composite one.
"""

from __future__ import annotations

from harness.errors import HarnessError

COMPOSITE_NAMESPACE = "\x00"
MIN_RUNE = "\x00"
MAX_RUNE = "\U0010ffff"
# What an empty start key of a simple range query means: just above U+0000.
EMPTY_KEY_SUBSTITUTE = "\x01"


class InvalidKeyError(HarnessError):
    """A key or key part breaks Fabric's key rules."""


def _check_part(part: str, what: str) -> None:
    if MIN_RUNE in part or MAX_RUNE in part:
        raise InvalidKeyError(
            f"{what} {part!r} contains U+0000 or U+10FFFF, which keys reserve"
        )


def create_composite_key(object_type: str, attributes: list[str]) -> str:
    """Fabric's composite key for ``object_type`` and ``attributes``."""
    _check_part(object_type, "object type")
    key = COMPOSITE_NAMESPACE + object_type + MIN_RUNE
    for attribute in attributes:
        _check_part(attribute, "attribute")
        key += attribute + MIN_RUNE
    return key


def split_composite_key(key: str) -> tuple[str, list[str]]:
    """The object type and attributes of a composite key."""
    if not key.startswith(COMPOSITE_NAMESPACE) or not key.endswith(MIN_RUNE):
        raise InvalidKeyError(f"{key!r} is not a composite key")
    parts = key[1:-1].split(MIN_RUNE)
    return parts[0], parts[1:]


def is_composite(key: str) -> bool:
    return key.startswith(COMPOSITE_NAMESPACE)


def check_simple_key(key: str) -> None:
    """Reject a simple key that could be mistaken for a composite one."""
    if is_composite(key):
        raise InvalidKeyError(f"simple key {key!r} must not start with U+0000")


def partial_key_range(object_type: str, attributes: list[str]) -> tuple[str, str]:
    """The [start, end) range of every composite key with this prefix."""
    start = create_composite_key(object_type, attributes)
    return start, start + MAX_RUNE


def simple_range(start: str, end: str) -> tuple[str, str]:
    """Normalise a simple range query: an empty start skips composite keys."""
    if start:
        check_simple_key(start)
    if end:
        check_simple_key(end)
    return (start or EMPTY_KEY_SUBSTITUTE), end
