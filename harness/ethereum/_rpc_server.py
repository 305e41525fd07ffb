"""A JSON-RPC endpoint over HTTP for an in-process eth-tester chain.

No maintained package serves eth-tester over JSON-RPC, so this is a small one:
loopback only, bounded (body size, batch length, connections), enough of the
``eth_*``, ``net_*``, ``web3_*`` and ``evm_*`` methods for web3.py, ethers and
plain HTTP clients to deploy, transact, read receipts and logs, snapshot and revert.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.errors import ConfigError, EthereumError, TransactionRevertedError
from harness.ethereum._accounts import to_raw_address
from harness.ethereum._backends import EthTesterBackend, NonceAlreadyUsed
from harness.ethereum._chain import Chain

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 100
MAX_CONNECTIONS = 32
IDLE_TIMEOUT_S = 30.0
CLIENT_VERSION = "harness-eth-tester/0.1"

# JSON-RPC error codes (the spec's, and 3 for a revert as geth answers it).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
EXECUTION_REVERTED = 3


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class RpcServer:
    """Serve one eth-tester :class:`Chain` on ``http://127.0.0.1:PORT``."""

    def __init__(self, chain: Chain, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not isinstance(chain.backend, EthTesterBackend):
            raise ConfigError(
                "only an eth-tester chain can be served",
                hint="a JSON-RPC node (Anvil, Hardhat) already has its own endpoint",
            )
        _require_loopback(host)
        self.chain = chain
        self.methods = RpcMethods(chain, chain.backend)
        self._httpd = _BoundedServer((host, port), _Handler)
        self._httpd.rpc = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RpcServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="eth-rpc", daemon=True
        )
        self._thread.start()
        log.info("JSON-RPC endpoint on %s (chain id %s)", self.url, self.chain.chain_id)
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, payload: Any) -> Any:
        """One decoded JSON-RPC request or batch; the reply, or None for notifications."""
        if isinstance(payload, list):
            if not payload:
                return _error_reply(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(payload) > MAX_BATCH:
                error = RpcError(INVALID_REQUEST, f"batch longer than {MAX_BATCH}")
                return _error_reply(None, error)
            replies = [self._one(item) for item in payload]
            return [r for r in replies if r is not None] or None
        return self._one(payload)

    def _one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error_reply(
                None, RpcError(INVALID_REQUEST, "not a JSON-RPC request")
            )
        request_id = request.get("id")
        try:
            result = self._result(request)
        except Exception as exc:  # a bug must not kill the server thread
            return _error_reply(request_id, _as_rpc_error(request["method"], exc))
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _result(self, request: dict[str, Any]) -> Any:
        params = request.get("params", [])
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "params must be a list")
        return self.methods.dispatch(request["method"], params)


def _reverted(exc: TransactionRevertedError) -> RpcError:
    """A revert as geth reports it: code 3, the reason, and the revert bytes."""
    data = getattr(exc, "data", None)
    hex_data = "0x" + data.hex() if data else None
    return RpcError(EXECUTION_REVERTED, f"execution reverted: {exc.reason}", hex_data)


def _as_rpc_error(method: str, exc: Exception) -> RpcError:
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, TransactionRevertedError):
        return _reverted(exc)
    if isinstance(exc, EthereumError | ConfigError):
        return RpcError(SERVER_ERROR, str(exc))
    log.exception("JSON-RPC %s failed", method)
    return RpcError(SERVER_ERROR, f"internal error: {exc}")


def _error_reply(request_id: Any, error: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def _require_loopback(host: str) -> None:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise ConfigError(f"cannot resolve host {host!r}") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ConfigError(
            f"the JSON-RPC endpoint listens on loopback only, not {host!r}",
            hint="use 127.0.0.1; the chain's test keys are public",
        )


class _BoundedServer(ThreadingHTTPServer):
    daemon_threads = True
    rpc: RpcServer

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=IDLE_TIMEOUT_S):
            log.warning("JSON-RPC: %s connections busy, refusing one", MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _BoundedServer

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._reply(
                HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"}
            )
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"}
            )
            return
        body = self.rfile.read(int(length))
        try:
            payload = json.loads(body)
        except ValueError:
            self._reply(
                HTTPStatus.OK, _error_reply(None, RpcError(PARSE_ERROR, "parse error"))
            )
            return
        reply = self.server.rpc.handle(payload)
        if reply is None:
            self._reply(HTTPStatus.NO_CONTENT, None)
        else:
            self._reply(HTTPStatus.OK, reply)

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST JSON-RPC requests"})

    def _reply(self, status: HTTPStatus, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


# ------------------------------------------------------------------------ methods


class RpcMethods:
    """The JSON-RPC methods, each translating to the eth-tester backend."""

    def __init__(self, chain: Chain, backend: EthTesterBackend) -> None:
        self.chain = chain
        self.backend = backend
        self.tester = backend.raw_tester
        self._table: dict[str, Callable[..., Any]] = {
            "web3_clientVersion": lambda: CLIENT_VERSION,
            "net_version": lambda: str(chain.chain_id),
            "net_listening": lambda: True,
            "eth_chainId": lambda: hex(chain.chain_id),
            "eth_syncing": lambda: False,
            "eth_mining": lambda: False,
            "eth_blockNumber": lambda: hex(backend.block_number()),
            "eth_accounts": lambda: [a.address for a in chain.accounts.values()],
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": lambda: hex(10**9),
            "eth_feeHistory": self.fee_history,
            "eth_getBalance": self.get_balance,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_sendTransaction": self.send_transaction,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getLogs": self.get_logs,
            "evm_snapshot": lambda: hex(backend.snapshot()),
            "evm_revert": self.revert,
            "evm_mine": self.mine,
            "evm_increaseTime": self.increase_time,
            "evm_setNextBlockTimestamp": self.set_next_block_timestamp,
        }

    def dispatch(self, method: str, params: list[Any]) -> Any:
        function = self._table.get(method)
        if function is None:
            raise RpcError(METHOD_NOT_FOUND, f"method {method} is not supported")
        try:
            return function(*params)
        except TypeError as exc:
            raise RpcError(INVALID_PARAMS, f"{method}: {exc}") from None

    # -- reads

    def gas_price(self) -> str:
        return hex(int(self.tester.backend.get_base_fee()) + 10**9)

    def fee_history(
        self, count: Any, newest: str = "latest", percentiles: Any = None
    ) -> Any:
        with self.backend.lock:
            history = self.tester.get_fee_history(
                _quantity(count), newest, percentiles or []
            )
        return _rpc(history)

    def get_balance(self, address: str, block: Any = "latest") -> str:
        with self.backend.lock:
            return hex(self.tester.get_balance(address, _block(block)))

    def get_transaction_count(self, address: str, block: Any = "latest") -> str:
        with self.backend.lock:
            return hex(self.tester.get_nonce(address, _block(block)))

    def get_code(self, address: str, block: Any = "latest") -> str:
        with self.backend.lock:
            return str(self.tester.get_code(address, _block(block)))

    def get_storage_at(self, address: str, slot: str, block: Any = "latest") -> str:
        with self.backend.lock:
            value = self.tester.get_storage_at(address, slot, _block(block))
        return str(value)

    def call(self, request: dict[str, Any], block: Any = "latest") -> str:
        sender = request.get("from")
        data = _data(request)
        raw_block = _block(block)
        block_id = raw_block if isinstance(raw_block, int) else "latest"
        try:
            output = self.backend.call(
                to_raw_address(sender) if sender else None,
                to_raw_address(request["to"]),
                data,
                block_id,
            )
        except TransactionRevertedError as exc:
            raise _reverted(exc) from None
        return "0x" + output.hex()

    def estimate_gas(self, request: dict[str, Any], block: Any = "latest") -> str:
        sender = to_raw_address(request.get("from") or self._default_sender())
        to = request.get("to")
        gas = self.backend.estimate_gas(
            sender, to_raw_address(to) if to else None, _data(request)
        )
        return hex(gas)

    def get_transaction_receipt(self, tx_hash: str) -> Any:
        receipt = self.backend.raw_receipt(tx_hash)
        if receipt is None:
            return None
        out = _rpc(receipt, kind="receipt")
        out["logsBloom"] = _receipt_bloom(receipt["logs"])
        return out

    def get_transaction_by_hash(self, tx_hash: str) -> Any:
        from eth_tester.exceptions import TransactionNotFound

        with self.backend.lock:
            try:
                return _rpc(
                    self.tester.get_transaction_by_hash(tx_hash), kind="transaction"
                )
            except TransactionNotFound:
                return None

    def get_block_by_number(self, block: Any, full: bool = False) -> Any:
        from eth_tester.exceptions import BlockNotFound

        with self.backend.lock:
            try:
                return _rpc_block(self.tester.get_block_by_number(_block(block), full))
            except BlockNotFound:
                return None

    def get_block_by_hash(self, block_hash: str, full: bool = False) -> Any:
        from eth_tester.exceptions import BlockNotFound

        with self.backend.lock:
            try:
                return _rpc_block(self.tester.get_block_by_hash(block_hash, full))
            except BlockNotFound:
                return None

    def get_logs(self, query: dict[str, Any]) -> Any:
        if "blockHash" in query:
            raise RpcError(INVALID_PARAMS, "eth_getLogs by blockHash is not supported")
        with self.backend.lock:
            entries = self.tester.get_logs(
                from_block=_block(query.get("fromBlock", "latest")),
                to_block=_block(query.get("toBlock", "latest")),
                address=query.get("address"),
                topics=query.get("topics"),
            )
        return [_rpc(e, kind="log") for e in entries]

    # -- writes

    def send_raw_transaction(self, raw_hex: str) -> str:
        raw = _hex_bytes(raw_hex)
        try:
            receipt = self.backend.send_raw(raw)
        except NonceAlreadyUsed as exc:
            raise RpcError(SERVER_ERROR, f"nonce too low: {exc}") from None
        return receipt.tx_hash

    def send_transaction(self, request: dict[str, Any]) -> str:
        account = self.chain.accounts.by_address(str(request.get("from", "")))
        if account is None:
            raise RpcError(
                SERVER_ERROR, "from is not one of this chain's named accounts"
            )
        to = request.get("to")
        data = _data(request)
        with self.backend.lock:
            gas = request.get("gas")
            if gas is None:
                raw_to = to_raw_address(to) if to else None
                gas_limit = self.backend.estimate_gas(account.raw_address, raw_to, data)
                gas_limit = gas_limit * 12 // 10
            else:
                gas_limit = _quantity(gas)
            signed = self.chain.sign(
                account,
                to=to,
                data=data,
                gas=gas_limit,
                value=_quantity(request.get("value", 0)),
                nonce=self.backend.nonce(account.raw_address),
            )
            return self.send_raw_transaction(signed.raw_hex)

    def revert(self, snapshot_id: Any) -> bool:
        try:
            self.backend.revert(_quantity(snapshot_id))
        except EthereumError:
            return False
        self.chain.forget_nonces()
        return True

    def mine(self, *params: Any) -> str:
        blocks = (
            _quantity(params[0]) if params and not isinstance(params[0], dict) else 1
        )
        self.backend.mine(max(1, blocks))
        return "0x0"

    def increase_time(self, seconds: Any) -> str:
        target = self.backend.block_timestamp() + _quantity(seconds)
        self.backend.time_travel(target)
        return hex(_quantity(seconds))

    def set_next_block_timestamp(self, timestamp: Any) -> None:
        # eth-tester mines the block at once rather than stamping the next one.
        self.backend.time_travel(_quantity(timestamp))

    def _default_sender(self) -> str:
        return next(iter(self.chain.accounts.values())).address


# ------------------------------------------------------------------ formatting

_RENAMES = {
    "transaction": {"data": "input"},
    "block": {"coinbase": "miner"},
}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _rpc(value: Any, kind: str = "") -> Any:
    """eth-tester's normalised output in JSON-RPC's shape: camelCase keys, hex ints."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_rpc(v, kind) for v in value]
    if isinstance(value, dict):
        return _rpc_dict(value, kind)
    return value


def _rpc_dict(value: dict[str, Any], kind: str) -> dict[str, Any]:
    renames = _RENAMES.get(kind, {})
    out: dict[str, Any] = {}
    for key, item in value.items():
        if kind == "receipt" and key == "state_root":
            continue
        if kind == "log" and key == "type":
            out["removed"] = False
            continue
        name = renames.get(key) or _camel(key)
        if key in ("to", "contract_address") and item in ("", b""):
            out[name] = None  # a contract creation has no recipient
        elif key in ("r", "s") and isinstance(item, int):
            out[name] = "0x" + item.to_bytes(32, "big").hex()
        elif key == "logs":
            out[name] = [_rpc(v, "log") for v in item]
        elif key == "transactions" and item and isinstance(item[0], dict):
            out[name] = [_rpc(v, "transaction") for v in item]
        else:
            out[name] = _rpc(item, kind)
    return out


def _rpc_block(block: dict[str, Any]) -> dict[str, Any]:
    out = _rpc(block, kind="block")
    out["logsBloom"] = _bloom(block["logs_bloom"])
    out["prevRandao"] = out.get("mixHash")
    return dict(out)


def _receipt_bloom(logs: list[dict[str, Any]]) -> str:
    from eth_bloom.bloom import BloomFilter

    bloom = BloomFilter()
    for entry in logs:
        bloom.add(_hex_bytes(entry["address"]))
        for topic in entry["topics"]:
            bloom.add(_hex_bytes(topic))
    return _bloom(int(bloom))


def _bloom(value: Any) -> str:
    if isinstance(value, int):
        return "0x" + value.to_bytes(256, "big").hex()
    return str(value)


def _quantity(value: Any) -> int:
    if isinstance(value, bool):
        raise RpcError(INVALID_PARAMS, f"not a quantity: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.startswith("0x") else int(value)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"not a quantity: {value!r}")


def _block(value: Any) -> int | str:
    if value in ("latest", "pending", "safe", "finalized", "earliest"):
        return str(value)
    if isinstance(value, dict):  # EIP-1898 {"blockNumber": ...}
        value = value.get("blockNumber", "latest")
    return _quantity(value)


def _data(request: dict[str, Any]) -> bytes:
    return _hex_bytes(request.get("input") or request.get("data") or "0x")


def _hex_bytes(text: Any) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise RpcError(INVALID_PARAMS, f"not 0x-prefixed hex: {text!r}")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"not hex: {text[:20]!r}") from None
