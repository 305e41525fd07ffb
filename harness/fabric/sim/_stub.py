"""The simulator's side of the shim: a stub over a :class:`TxSimulator`.

:func:`simulate` runs one chaincode invocation (and any chaincode it calls, in the
same transaction, each in its own namespace) and returns the chaincode's response,
the read-write set and the chaincode event, which an endorser then signs.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from harness.chaincode.shim import Chaincode, Response, error
from harness.errors import HarnessError
from harness.fabric.sim._keys import create_composite_key, split_composite_key
from harness.fabric.sim._ledger import VALIDATION_PARAMETER, TxSimulator, WorldState
from harness.fabric.sim._rwset import TxRwSet

log = logging.getLogger(__name__)

MAX_CALL_DEPTH = 16


@dataclass(frozen=True)
class TxContext:
    """What a proposal tells the chaincode about its transaction."""

    tx_id: str
    channel_id: str
    creator: bytes
    timestamp: datetime.datetime
    transient: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ChaincodeEvent:
    chaincode: str
    name: str
    payload: bytes


@dataclass(frozen=True)
class SimulationResult:
    response: Response
    rwset: TxRwSet
    event: ChaincodeEvent | None


class SimStub:
    """One chaincode's view of the running transaction."""

    def __init__(
        self,
        simulator: TxSimulator,
        namespace: str,
        args: list[bytes],
        context: TxContext,
        call: Callable[[str, list[bytes]], Response],
    ) -> None:
        self._sim = simulator
        self._ns = namespace
        self._args = args
        self._context = context
        self._call = call
        self.event: ChaincodeEvent | None = None

    def get_args(self) -> list[bytes]:
        return list(self._args)

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        strings = [arg.decode() for arg in self._args]
        return (strings[0], strings[1:]) if strings else ("", [])

    def get_state(self, key: str) -> bytes | None:
        return self._sim.get_state(self._ns, key)

    def put_state(self, key: str, value: bytes) -> None:
        self._sim.put_state(self._ns, key, value)

    def del_state(self, key: str) -> None:
        self._sim.delete_state(self._ns, key)

    def get_state_by_range(
        self, start_key: str, end_key: str
    ) -> Iterator[tuple[str, bytes]]:
        return self._sim.range(self._ns, start_key, end_key)

    def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str]
    ) -> Iterator[tuple[str, bytes]]:
        return self._sim.partial_composite(self._ns, object_type, attributes)

    def create_composite_key(self, object_type: str, attributes: list[str]) -> str:
        return create_composite_key(object_type, attributes)

    def split_composite_key(self, key: str) -> tuple[str, list[str]]:
        return split_composite_key(key)

    def get_query_result(self, query: str) -> Iterator[tuple[str, bytes]]:
        return iter(self._sim.query(self._ns, query))

    def invoke_chaincode(
        self, name: str, args: list[bytes], channel: str = ""
    ) -> Response:
        if channel and channel != self._context.channel_id:
            # TODO(fabric-3): a call to another channel is read-only in Fabric.
            return error(f"calling chaincode on channel {channel!r} is not simulated")
        return self._call(name, args)

    def set_event(self, name: str, payload: bytes) -> None:
        if not name:
            raise HarnessError("an event needs a name")
        self.event = ChaincodeEvent(self._ns, name, bytes(payload))

    def get_tx_id(self) -> str:
        return self._context.tx_id

    def get_channel_id(self) -> str:
        return self._context.channel_id

    def get_creator(self) -> bytes:
        return self._context.creator

    def get_tx_timestamp(self) -> datetime.datetime:
        return self._context.timestamp

    def get_transient(self) -> Mapping[str, bytes]:
        return dict(self._context.transient)

    def set_state_validation_parameter(self, key: str, policy: bytes) -> None:
        self._sim.set_metadata(self._ns, key, VALIDATION_PARAMETER, policy)

    def get_state_validation_parameter(self, key: str) -> bytes | None:
        return self._sim.get_metadata(self._ns, key).get(VALIDATION_PARAMETER)


def simulate(
    state: WorldState,
    chaincodes: Mapping[str, Chaincode],
    name: str,
    args: list[bytes],
    context: TxContext,
) -> SimulationResult:
    """Run ``name`` with ``args``; the event is the top-level chaincode's, as in Fabric."""
    simulator = TxSimulator(state)
    depth = 0

    def call(target: str, call_args: list[bytes]) -> Response:
        nonlocal depth
        chaincode = chaincodes.get(target)
        if chaincode is None:
            return error(
                f"chaincode {target!r} is not installed on {context.channel_id}"
            )
        if depth >= MAX_CALL_DEPTH:
            return error(f"chaincode calls nest deeper than {MAX_CALL_DEPTH}")
        depth += 1
        try:
            return chaincode.invoke(
                SimStub(simulator, target, call_args, context, call)
            )
        finally:
            depth -= 1

    top = chaincodes.get(name)
    if top is None:
        response = error(f"chaincode {name!r} is not installed on {context.channel_id}")
        return SimulationResult(response, simulator.finish(), None)
    stub = SimStub(simulator, name, args, context, call)
    depth = 1
    response = top.invoke(stub)
    log.debug("tx %s: %s -> %s", context.tx_id, name, response.status)
    return SimulationResult(response, simulator.finish(), stub.event)
