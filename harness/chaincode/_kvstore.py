"""``kvstore``: a small test chaincode that exercises every part of the shim.

Functions (string arguments): put K V, get K, del K, range START END,
composite TYPE ATTR..., query MANGO, invoke CC FN ARGS..., event NAME PAYLOAD,
setep K POLICY_HEX, getep K, whoami, txinfo. Lists come back as JSON
``[{"Key": k, "Record": v}]``, like the reference chaincodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from harness.chaincode.shim import (
    Chaincode,
    ChaincodeStub,
    Response,
    error,
    register,
    success,
)


def _rows(rows: Iterable[tuple[str, bytes]]) -> bytes:
    return json.dumps([{"Key": k, "Record": v.decode()} for k, v in rows]).encode()


@register("kvstore")
class KvStore(Chaincode):
    """Key-value operations straight onto the stub."""

    def invoke(self, stub: ChaincodeStub) -> Response:
        function, params = stub.get_function_and_parameters()
        handler = getattr(self, f"_fn_{function}", None)
        if handler is None:
            return error(
                f"METHOD_NOT_SUPPORTED : {function!r} is not a kvstore function"
            )
        try:
            result: Response = handler(stub, params)
        except (IndexError, ValueError) as problem:
            return error(f"INVALID_ARGUMENT : {function}: {problem}", 400)
        return result

    def _fn_put(self, stub: ChaincodeStub, params: list[str]) -> Response:
        stub.put_state(params[0], params[1].encode())
        return success()

    def _fn_get(self, stub: ChaincodeStub, params: list[str]) -> Response:
        value = stub.get_state(params[0])
        if value is None:
            return error(f"STATE_NOT_FOUND : {params[0]} does not exist", 404)
        return success(value)

    def _fn_del(self, stub: ChaincodeStub, params: list[str]) -> Response:
        stub.del_state(params[0])
        return success()

    def _fn_range(self, stub: ChaincodeStub, params: list[str]) -> Response:
        return success(_rows(stub.get_state_by_range(params[0], params[1])))

    def _fn_composite(self, stub: ChaincodeStub, params: list[str]) -> Response:
        return success(
            _rows(stub.get_state_by_partial_composite_key(params[0], params[1:]))
        )

    def _fn_putc(self, stub: ChaincodeStub, params: list[str]) -> Response:
        key = stub.create_composite_key(params[0], params[1:-1])
        stub.put_state(key, params[-1].encode())
        return success(key.encode())

    def _fn_query(self, stub: ChaincodeStub, params: list[str]) -> Response:
        return success(_rows(stub.get_query_result(params[0])))

    def _fn_invoke(self, stub: ChaincodeStub, params: list[str]) -> Response:
        return stub.invoke_chaincode(params[0], [p.encode() for p in params[1:]])

    def _fn_event(self, stub: ChaincodeStub, params: list[str]) -> Response:
        stub.set_event(params[0], params[1].encode())
        return success()

    def _fn_setep(self, stub: ChaincodeStub, params: list[str]) -> Response:
        stub.set_state_validation_parameter(params[0], bytes.fromhex(params[1]))
        return success()

    def _fn_getep(self, stub: ChaincodeStub, params: list[str]) -> Response:
        return success(
            (stub.get_state_validation_parameter(params[0]) or b"").hex().encode()
        )

    def _fn_txinfo(self, stub: ChaincodeStub, params: list[str]) -> Response:
        info = {
            "tx_id": stub.get_tx_id(),
            "channel": stub.get_channel_id(),
            "timestamp": stub.get_tx_timestamp().isoformat(),
            "transient": sorted(stub.get_transient()),
            "creator_bytes": len(stub.get_creator()),
        }
        return success(json.dumps(info).encode())
