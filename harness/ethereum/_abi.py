"""Calls, results, events and revert data, encoded and decoded from a contract's ABI.

A thin layer over ``eth_abi``: selectors and types are worked out once per ABI, so
encoding an ``issue()`` call costs one ``eth_abi.encode``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak

from harness.errors import ConfigError, EthereumError

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop from an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


def canonical_type(param: Mapping[str, Any]) -> str:
    """The ABI type string of one input or output, tuples spelled out."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(canonical_type(c) for c in param.get("components", []))
    return f"({inner}){kind[len('tuple') :]}"


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    output_names: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.input_types)})"


@dataclass(frozen=True)
class Event:
    name: str
    topic: bytes
    field_names: tuple[str, ...]
    field_types: tuple[str, ...]
    indexed: tuple[bool, ...]


@dataclass(frozen=True)
class DecodedEvent:
    """One log decoded by its ABI; ``args`` keeps the event's declared field order."""

    name: str
    args: dict[str, Any]
    address: str
    log_index: int


class ContractAbi:
    """A contract's functions, events and errors, indexed for fast encoding."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self.raw_abi = list(abi)
        self.functions: dict[str, Function] = {}
        self.events: dict[str, Event] = {}
        self._events_by_topic: dict[bytes, Event] = {}
        self._errors: dict[bytes, tuple[str, tuple[str, ...]]] = {}
        self.constructor_types: tuple[str, ...] = ()
        for entry in self.raw_abi:
            self._add(entry)

    def _add(self, entry: Mapping[str, Any]) -> None:
        kind = entry.get("type", "function")
        inputs = entry.get("inputs", [])
        types = tuple(canonical_type(p) for p in inputs)
        if kind == "constructor":
            self.constructor_types = types
        elif kind == "function":
            name = str(entry["name"])
            outputs = entry.get("outputs", [])
            function = Function(
                name=name,
                selector=keccak(f"{name}({','.join(types)})".encode())[:4],
                input_types=types,
                output_types=tuple(canonical_type(p) for p in outputs),
                output_names=tuple(str(p.get("name", "")) for p in outputs),
            )
            # Overloads: the first declared keeps the plain name, all keep a signature.
            self.functions.setdefault(name, function)
            self.functions[function.signature] = function
        elif kind == "event":
            name = str(entry["name"])
            event = Event(
                name=name,
                topic=keccak(f"{name}({','.join(types)})".encode()),
                field_names=tuple(str(p["name"]) for p in inputs),
                field_types=types,
                indexed=tuple(bool(p.get("indexed")) for p in inputs),
            )
            self.events[name] = event
            self._events_by_topic[event.topic] = event
        elif kind == "error":
            name = str(entry["name"])
            selector = keccak(f"{name}({','.join(types)})".encode())[:4]
            self._errors[selector] = (name, types)

    def function(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise ConfigError(
                f"the contract ABI has no function {name!r}",
                hint="check that the artifact is the emissions token network contract",
            ) from None

    def encode_call(self, name: str, args: Sequence[Any]) -> bytes:
        function = self.function(name)
        return function.selector + abi_encode(function.input_types, args)

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        if not self.constructor_types:
            return b""
        return abi_encode(self.constructor_types, args)

    def decode_output(self, name: str, data: bytes) -> tuple[Any, ...]:
        function = self.function(name)
        try:
            return tuple(abi_decode(function.output_types, data))
        except Exception as exc:  # eth_abi raises several unrelated types
            raise EthereumError(
                f"cannot decode the result of {function.signature}: {exc}"
            ) from exc

    def decode_log(
        self, address: str, topics: Sequence[bytes], data: bytes, log_index: int
    ) -> DecodedEvent | None:
        """The log decoded, or None when its first topic is none of this ABI's events."""
        if not topics:
            return None
        event = self._events_by_topic.get(bytes(topics[0]))
        if event is None:
            return None
        data_types = [
            t for t, ix in zip(event.field_types, event.indexed, strict=True) if not ix
        ]
        values = iter(abi_decode(data_types, data))
        indexed_topics = iter(topics[1:])
        args: dict[str, Any] = {}
        for name, kind, is_indexed in zip(
            event.field_names, event.field_types, event.indexed, strict=True
        ):
            if is_indexed:
                topic = bytes(next(indexed_topics))
                args[name] = _decode_topic(kind, topic)
            else:
                args[name] = next(values)
        return DecodedEvent(event.name, args, address, log_index)

    def revert_reason(self, data: bytes) -> str:
        """The revert data as text: Error(string), Panic(code) or a custom error."""
        return revert_reason(data, self._errors)


def revert_reason(
    data: bytes, errors: Mapping[bytes, tuple[str, tuple[str, ...]]] | None = None
) -> str:
    if not data:
        return "reverted without a reason"
    selector, body = bytes(data[:4]), bytes(data[4:])
    try:
        if selector == ERROR_SELECTOR:
            return str(abi_decode(["string"], body)[0])
        if selector == PANIC_SELECTOR:
            code = int(abi_decode(["uint256"], body)[0])
            return f"panic 0x{code:02x}: {_PANIC_CODES.get(code, 'unknown panic')}"
        if errors and selector in errors:
            name, types = errors[selector]
            values = abi_decode(types, body)
            return f"{name}({', '.join(repr(v) for v in values)})"
    except Exception:  # undecodable revert data: fall through to hex
        pass
    return f"reverted with data 0x{bytes(data).hex()}"


def _decode_topic(kind: str, topic: bytes) -> Any:
    # Dynamic types are stored as their hash in a topic: keep the hash.
    if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
        return "0x" + topic.hex()
    return abi_decode([kind], topic)[0]
