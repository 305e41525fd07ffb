"""``datalock``: the Request Manager's lock chaincode (DOMAIN.md section 2).

A transaction record, keyed by a client-chosen ``tx_id``, moves through
PROCESSING, NOT-PROCESSING and FINISHED. ``stageUpdate`` calls data chaincodes
inside the same Fabric transaction and locks (or frees) the keys they name; a lock
is the entry ``<cc>::<dataKey> -> tx_id``. Check-then-lock is safe because both the
check and the lock touch the same key, so Fabric's MVCC validation lets only one of
two racing transactions commit.

Errors carry an HTTP-like status: 400 bad input, 404 not found, 409 conflict,
500 anything else (a data chaincode that answers nonsense).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.chaincode.shim import (
    Chaincode,
    ChaincodeStub,
    Response,
    error,
    register,
    success,
)

PROCESSING = "PROCESSING"
NOT_PROCESSING = "NOT-PROCESSING"
FINISHED = "FINISHED"
LOCK_SEPARATOR = "::"

BAD_INPUT = 400
NOT_FOUND = 404
CONFLICT = 409
UNEXPECTED = 500

Record = dict[str, Any]


class LockRefusal(Exception):
    """A refusal; ``str()`` is the message and ``status`` the error class."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def lock_key(chaincode: str, key: str) -> str:
    """The datalock key that records who holds ``key`` of ``chaincode``."""
    return f"{chaincode}{LOCK_SEPARATOR}{key}"


@dataclass(frozen=True)
class DataCall:
    """One data chaincode's part of a stage: the keys to check and the call."""

    chaincode: str
    keys: list[str]
    params: list[str]


@dataclass(frozen=True)
class StageInput:
    tx_id: str
    name: str
    data_locks: list[DataCall] = field(default_factory=list)
    data_free: list[DataCall] = field(default_factory=list)
    is_last: bool = False
    storage: dict[str, str] = field(default_factory=dict)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LockRefusal(BAD_INPUT, f"{where} must be a list of strings")
    return list(value)


def _calls(value: Any, where: str) -> list[DataCall]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise LockRefusal(BAD_INPUT, f"{where} must map chaincode names to calls")
    calls = []
    for chaincode, call in value.items():
        if not chaincode or not isinstance(call, dict):
            raise LockRefusal(
                BAD_INPUT, f"{where}.{chaincode} must be {{keys, params}}"
            )
        keys = _strings(call.get("keys", []), f"{where}.{chaincode}.keys")
        params = _strings(call.get("params", []), f"{where}.{chaincode}.params")
        if not params:
            raise LockRefusal(
                BAD_INPUT, f"{where}.{chaincode}.params is empty: params[0] is a method"
            )
        calls.append(DataCall(chaincode, keys, params))
    return calls


def _check_tx_id(tx_id: Any) -> str:
    if not isinstance(tx_id, str) or not tx_id:
        raise LockRefusal(BAD_INPUT, "tx_id is missing or empty")
    if LOCK_SEPARATOR in tx_id:
        raise LockRefusal(
            BAD_INPUT, f"tx_id {tx_id!r} contains {LOCK_SEPARATOR!r}, kept for locks"
        )
    return tx_id


def parse_stage_input(raw: str) -> StageInput:
    """Validate a stageUpdate argument: field names and types, nothing else."""
    try:
        data = json.loads(raw)
    except ValueError as problem:
        raise LockRefusal(
            BAD_INPUT, f"stageUpdate input is not JSON: {problem}"
        ) from None
    if not isinstance(data, dict):
        raise LockRefusal(BAD_INPUT, "stageUpdate input must be a JSON object")
    tx_id = _check_tx_id(data.get("tx_id"))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise LockRefusal(BAD_INPUT, f"stage name of {tx_id} is missing or empty")
    is_last = data.get("is_last", False)
    if not isinstance(is_last, bool):
        raise LockRefusal(BAD_INPUT, "is_last must be true or false")
    storage = data.get("storage") or {}
    if not isinstance(storage, dict) or not all(
        isinstance(v, str) for v in storage.values()
    ):
        raise LockRefusal(BAD_INPUT, "storage must map names to strings")
    return StageInput(
        tx_id,
        name,
        _calls(data.get("data_locks"), "data_locks"),
        _calls(data.get("data_free"), "data_free"),
        is_last,
        dict(storage),
    )


@dataclass(frozen=True)
class DataReply:
    """What a data chaincode answers: the keys, and outputs for client and record."""

    keys: list[str]
    output_to_client: str
    output_to_store: dict[str, str]


def parse_data_reply(chaincode: str, payload: bytes) -> DataReply:
    try:
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        keys = _strings(data.get("keys", []), "keys")
        to_client = data.get("output_to_client") or ""
        to_store = data.get("output_to_store") or {}
        if not isinstance(to_client, str) or not isinstance(to_store, dict):
            raise TypeError("outputs have the wrong types")
        store = {str(k): str(v) for k, v in to_store.items()}
    except (ValueError, TypeError, LockRefusal) as problem:
        raise LockRefusal(
            UNEXPECTED, f"invalid response from data chaincode {chaincode} : {problem}"
        ) from None
    return DataReply(keys, to_client, store)


# --- the ledger side ---------------------------------------------------------


def _load(stub: ChaincodeStub, tx_id: str) -> Record | None:
    raw = stub.get_state(tx_id)
    if raw is None:
        return None
    record: Record = json.loads(raw)
    return record


def _save(stub: ChaincodeStub, record: Record) -> bytes:
    payload = json.dumps(record, separators=(",", ":")).encode()
    stub.put_state(record["tx_id"], payload)
    return payload


def _holder(stub: ChaincodeStub, chaincode: str, key: str) -> str | None:
    raw = stub.get_state(lock_key(chaincode, key))
    return raw.decode() if raw is not None else None


def _call(stub: ChaincodeStub, call: DataCall) -> DataReply:
    response = stub.invoke_chaincode(call.chaincode, [p.encode() for p in call.params])
    if not response.ok:
        raise LockRefusal(
            CONFLICT,
            f"failed to execute chaincode {call.chaincode} : {response.message}",
        )
    return parse_data_reply(call.chaincode, response.payload)


def _lock(stub: ChaincodeStub, tx_id: str, call: DataCall) -> DataReply:
    for key in call.keys:
        if _holder(stub, call.chaincode, key) is not None:
            raise LockRefusal(CONFLICT, f"key = {key} already locked")
    reply = _call(stub, call)
    for key in reply.keys:
        if key not in call.keys and _holder(stub, call.chaincode, key) is not None:
            raise LockRefusal(CONFLICT, f"key = {key} already locked")
        stub.put_state(lock_key(call.chaincode, key), tx_id.encode())
    return reply


def _free(stub: ChaincodeStub, tx_id: str, call: DataCall) -> DataReply:
    for key in call.keys:
        if _holder(stub, call.chaincode, key) != tx_id:
            raise LockRefusal(
                CONFLICT, f"data not locked for txID = {tx_id} (key = {key})"
            )
    reply = _call(stub, call)
    for key in reply.keys:
        if key not in call.keys and _holder(stub, call.chaincode, key) != tx_id:
            raise LockRefusal(
                CONFLICT, f"data not locked for txID = {tx_id} (key = {key})"
            )
        stub.del_state(lock_key(call.chaincode, key))
    return reply


def start_transition_process(stub: ChaincodeStub, raw: str) -> bytes:
    tx_id = _check_tx_id(raw)
    record = _load(stub, tx_id)
    if record is None:
        record = {"tx_id": tx_id, "state": PROCESSING, "current_stage": ""}
        record["stage_data"] = {}
        return _save(stub, record)
    if record["state"] == FINISHED:
        raise LockRefusal(CONFLICT, f"transaction {tx_id} is already at finished state")
    if record["state"] != NOT_PROCESSING:
        raise LockRefusal(
            CONFLICT,
            f"transaction {tx_id} is not at non-processing state, "
            f"found at {record['state']}",
        )
    record["state"] = PROCESSING
    return _save(stub, record)


def end_transition_process(stub: ChaincodeStub, raw: str) -> bytes:
    tx_id = _check_tx_id(raw)
    record = _load(stub, tx_id)
    if record is None:
        raise LockRefusal(NOT_FOUND, f"transaction {tx_id} not found")
    if record["state"] == FINISHED:
        return json.dumps(record, separators=(",", ":")).encode()
    if record["state"] != PROCESSING:
        raise LockRefusal(
            CONFLICT,
            f"transaction {tx_id} is not at processing state, found at "
            f"{record['state']}",
        )
    record["state"] = NOT_PROCESSING
    return _save(stub, record)


def stage_update(stub: ChaincodeStub, raw: str) -> bytes:
    stage = parse_stage_input(raw)
    record = _load(stub, stage.tx_id)
    if record is None:
        raise LockRefusal(NOT_FOUND, f"transaction {stage.tx_id} not found")
    if record["state"] != PROCESSING:
        raise LockRefusal(
            CONFLICT,
            f"transaction {stage.tx_id} is not at processing state, found at "
            f"{record['state']}",
        )

    output: dict[str, dict[str, str]] = {}
    to_client: dict[str, dict[str, str]] = {"data_locks": {}, "data_free": {}}
    for call in stage.data_locks:
        reply = _lock(stub, stage.tx_id, call)
        output[call.chaincode] = reply.output_to_store
        to_client["data_locks"][call.chaincode] = reply.output_to_client
    for call in stage.data_free:
        reply = _free(stub, stage.tx_id, call)
        output.setdefault(call.chaincode, {}).update(reply.output_to_store)
        to_client["data_free"][call.chaincode] = reply.output_to_client

    record["stage_data"][stage.name] = {"storage": stage.storage, "output": output}
    record["current_stage"] = stage.name
    if stage.is_last:
        record["state"] = FINISHED
    _save(stub, record)
    return json.dumps(to_client, separators=(",", ":")).encode()


def get_tx_details(stub: ChaincodeStub, raw: str) -> bytes:
    tx_id = _check_tx_id(raw)
    payload = stub.get_state(tx_id)
    if payload is None:
        raise LockRefusal(NOT_FOUND, f"transaction {tx_id} not found")
    return payload


METHODS: Mapping[str, Callable[[ChaincodeStub, str], bytes]] = {
    "startTransitionProcess": start_transition_process,
    "stageUpdate": stage_update,
    "endTransitionProcess": end_transition_process,
    "getTxDetails": get_tx_details,
}


@register("datalock")
class DataLock(Chaincode):
    """The lock chaincode of DOMAIN.md section 2."""

    def invoke(self, stub: ChaincodeStub) -> Response:
        method, params = stub.get_function_and_parameters()
        handler = METHODS.get(method)
        if handler is None:
            return error(f"method {method!r} not supported by datalock", BAD_INPUT)
        if len(params) != 1:
            return error(
                f"{method} requires 1 argument, but got {len(params)}", BAD_INPUT
            )
        try:
            return success(handler(stub, params[0]))
        except LockRefusal as refusal:
            return error(str(refusal), refusal.status)
