"""The chaincode shim: all a chaincode may see of the peer that runs it.

It mirrors the Go shim's ``ChaincodeStubInterface`` (in Python names), so the same
chaincode can run in the simulator and, later, behind Fabric's chaincode protocol.
Chaincodes import this module only, never the simulator, and register themselves
by name; a network spec names the implementation.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from harness.errors import ConfigError

OK = 200
ERROR = 500


@dataclass(frozen=True)
class Response:
    """A chaincode's answer: status < 400 is success (Fabric: 200), else an error."""

    status: int
    message: str = ""
    payload: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status < 400


def success(payload: bytes = b"") -> Response:
    return Response(OK, "", payload)


def error(message: str, status: int = ERROR) -> Response:
    return Response(status, message, b"")


class ChaincodeStub(Protocol):
    """The transaction context and state access the peer gives a chaincode."""

    def get_args(self) -> list[bytes]: ...

    def get_function_and_parameters(self) -> tuple[str, list[str]]: ...

    def get_state(self, key: str) -> bytes | None: ...

    def put_state(self, key: str, value: bytes) -> None: ...

    def del_state(self, key: str) -> None: ...

    def get_state_by_range(
        self, start_key: str, end_key: str
    ) -> Iterator[tuple[str, bytes]]:
        """Simple keys in [start_key, end_key); empty strings leave a side open."""
        ...

    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str]
    ) -> Iterator[tuple[str, bytes]]: ...

    def create_composite_key(self, object_type: str, attributes: list[str]) -> str: ...

    def split_composite_key(self, key: str) -> tuple[str, list[str]]: ...

    def get_query_result(self, query: str) -> Iterator[tuple[str, bytes]]:
        """A CouchDB Mango query (JSON string) over this chaincode's JSON values."""
        ...

    def invoke_chaincode(
        self, name: str, args: list[bytes], channel: str = ""
    ) -> Response:
        """Call another chaincode inside this transaction (same channel only)."""
        ...

    def set_event(self, name: str, payload: bytes) -> None: ...

    def get_tx_id(self) -> str: ...

    def get_channel_id(self) -> str: ...

    def get_creator(self) -> bytes:
        """The serialized identity (MSP id + PEM) of the transaction's creator."""
        ...

    def get_tx_timestamp(self) -> datetime.datetime: ...

    def get_transient(self) -> Mapping[str, bytes]: ...

    def set_state_validation_parameter(self, key: str, policy: bytes) -> None:
        """Attach a key-level endorsement policy (a SignaturePolicyEnvelope)."""
        ...

    def get_state_validation_parameter(self, key: str) -> bytes | None: ...


class Chaincode(ABC):
    """Base of every chaincode: ``init`` once per instantiation, ``invoke`` per call."""

    def init(self, stub: ChaincodeStub) -> Response:
        return success()

    @abstractmethod
    def invoke(self, stub: ChaincodeStub) -> Response: ...


_REGISTRY: dict[str, Callable[[], Chaincode]] = {}

C = TypeVar("C", bound=type[Chaincode])


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a chaincode implementation findable by ``name``."""

    def add(cls: C) -> C:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ConfigError(f"chaincode implementation {name!r} is registered twice")
        _REGISTRY[name] = cls
        return cls

    return add


def lookup(name: str) -> Chaincode:
    """A new instance of the implementation registered as ``name``."""
    factory = _REGISTRY.get(name)
    if factory is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"no chaincode implementation named {name!r} (registered: {known})",
            hint="check 'implementation' in the network spec's chaincodes",
        )
    return factory()


def registered() -> list[str]:
    return sorted(_REGISTRY)
