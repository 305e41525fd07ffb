"""Chain backends: the in-process eth-tester chain and any JSON-RPC node.

Both answer the same small protocol, so :class:`~harness.ethereum.Chain`, the token
client and the benchmarks drive eth-tester, Anvil, Hardhat or Besu with one code
path. Backend-native values carry a ``raw_`` name; third-party exceptions are
translated here.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from eth_hash.auto import keccak

from harness.errors import ConfigError, EthereumError, TransactionRevertedError
from harness.ethereum._abi import revert_reason
from harness.ethereum._accounts import to_checksum
from harness.ethereum._tx import Log, Receipt

log = logging.getLogger(__name__)

BlockId = int | str  # a number, or "latest" / "earliest" / "pending"

# Transactions whose block eth-tester's backend remembers (oldest forgotten first).
RECEIPT_INDEX_SIZE = 100_000


class NonceAlreadyUsed(EthereumError):
    """The node turned a transaction away because its nonce is spent or in its pool.

    The transaction itself may be the one that spent it: callers look its receipt up.
    """


class CallRevertedError(TransactionRevertedError):
    """A call reverted; ``data`` keeps the raw revert bytes for JSON-RPC clients."""

    def __init__(self, reason: str, *, data: bytes | None) -> None:
        super().__init__(reason)
        self.data = data


class ChainBackend(Protocol):
    """What the harness needs from a chain."""

    kind: str
    chain_id: int

    def send_raw(self, raw: bytes) -> Receipt | None:
        """Send; return the receipt when the backend mines synchronously."""

    def send_raw_batch(self, raws: Sequence[bytes]) -> list[EthereumError | None]:
        """Send several; one entry per transaction, None when it was accepted."""

    def receipt(self, tx_hash: str) -> Receipt | None: ...

    def receipts(self, tx_hashes: Sequence[str]) -> list[Receipt | None]: ...

    def call(
        self, sender: bytes | None, to: bytes, data: bytes, block: BlockId = "latest"
    ) -> bytes: ...

    def estimate_gas(self, sender: bytes, to: bytes | None, data: bytes) -> int: ...

    def nonce(self, address: bytes) -> int: ...

    def balance(self, address: bytes) -> int: ...

    def block_number(self) -> int: ...

    def block_timestamp(self) -> int: ...

    def snapshot(self) -> Any: ...

    def revert(self, snapshot: Any) -> None: ...

    def time_travel(self, timestamp: int) -> None: ...

    def mine(self, blocks: int = 1) -> None: ...

    def set_balance(self, address: bytes, wei: int) -> bool:
        """Set a balance where the node allows it; False where it does not."""

    def close(self) -> None: ...


# --------------------------------------------------------------------- eth-tester


class EthTesterBackend:
    """An in-process py-evm chain through eth-tester, mining one block per transaction.

    The hot path decodes and applies a raw transaction on the py-evm chain that
    eth-tester set up, then mines; reads go through eth-tester's normalised API. A
    lock serialises every call, so the JSON-RPC server's threads can share one chain.
    """

    kind = "eth-tester"

    def __init__(self, genesis_balances: dict[bytes, int]) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        from harness.ethereum import _trie_speedups

        _trie_speedups.install()
        state = PyEVMBackend.generate_genesis_state(num_accounts=1)
        for address, wei in genesis_balances.items():
            state[address] = {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
        self.raw_backend = PyEVMBackend(genesis_state=state)
        self.raw_tester = EthereumTester(self.raw_backend)
        self.chain_id = int(self.raw_backend.chain.chain_id)
        self.lock = threading.RLock()
        # Calls without a sender come from a funded account: py-evm checks that
        # the caller could pay for the gas even though a call pays nothing.
        self._default_caller = next(iter(genesis_balances), b"\x00" * 20)
        # tx hash -> number of the block it was mined in. eth-tester looks a
        # transaction up by reading blocks back from the head, one at a time.
        self._mined_in: OrderedDict[bytes, int] = OrderedDict()

    def send_raw(self, raw: bytes) -> Receipt:
        from eth_utils.exceptions import ValidationError as EvmValidationError

        with self.lock:
            chain = self.raw_backend.chain
            try:
                transaction = chain.get_vm().get_transaction_builder().decode(raw)
                _block, raw_receipt, computation = chain.apply_transaction(transaction)
            except EvmValidationError as exc:
                raise _classify_rejection(str(exc)) from exc
            except Exception as exc:  # rlp and signature errors from a bad payload
                raise EthereumError(
                    f"eth-tester rejected the transaction: {exc}"
                ) from exc
            self.raw_backend.mine_blocks()
            block_number = int(chain.get_canonical_head().block_number)
            self._remember(bytes(transaction.hash), block_number)
            return _receipt_from_computation(
                transaction, raw_receipt, computation, block_number
            )

    def send_raw_batch(self, raws: Sequence[bytes]) -> list[EthereumError | None]:
        outcomes: list[EthereumError | None] = []
        for raw in raws:
            try:
                self.send_raw(raw)
                outcomes.append(None)
            except EthereumError as exc:
                outcomes.append(exc)
        return outcomes

    def _remember(self, tx_hash: bytes, block_number: int) -> None:
        self._mined_in[tx_hash] = block_number
        if len(self._mined_in) > RECEIPT_INDEX_SIZE:
            self._mined_in.popitem(last=False)

    def raw_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """eth-tester's normalised receipt of a mined transaction, else None.

        The same dict as ``EthereumTester.get_transaction_receipt``, which reads
        blocks back from the head until it finds the transaction: its cost grows
        with the chain. A transaction sent through :meth:`send_raw` is read from
        the block it went into; a snapshot reverted since then, or a transaction
        sent some other way, takes eth-tester's search.
        """
        from eth_tester.backends.pyevm.serializers import serialize_transaction_receipt
        from eth_tester.exceptions import TransactionNotFound

        with self.lock:
            located = self._locate(tx_hash)
            if located is None:
                try:
                    found = self.raw_tester.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    return None
                return found if found.get("block_number") is not None else None
            chain = self.raw_backend.chain
            block, index = located
            raw = serialize_transaction_receipt(
                block,
                block.get_receipts(chain.chaindb),
                block.transactions[index],
                index,
                False,
                chain.get_vm(),
            )
            return dict(self.raw_tester.normalizer.normalize_outbound_receipt(raw))

    def _locate(self, tx_hash: str) -> tuple[Any, int] | None:
        """The canonical block holding a transaction sent here, and its index."""
        try:
            raw_hash = _hex_bytes(tx_hash)
        except ValueError:
            return None
        number = self._mined_in.get(raw_hash)
        chain = self.raw_backend.chain
        if number is None or number > chain.get_canonical_head().block_number:
            return None
        block = chain.get_canonical_block_by_number(number)
        for index, transaction in enumerate(block.transactions):
            if transaction.hash == raw_hash:
                return block, index
        return None  # reverted, and the block number reused by another block

    def receipt(self, tx_hash: str) -> Receipt | None:
        raw = self.raw_receipt(tx_hash)
        if raw is None:
            return None
        return Receipt(
            tx_hash=tx_hash,
            block_number=int(raw["block_number"]),
            status=int(raw["status"]),
            gas_used=int(raw["gas_used"]),
            logs=tuple(
                Log(
                    address=str(entry["address"]),
                    topics=tuple(_hex_bytes(t) for t in entry["topics"]),
                    data=_hex_bytes(entry["data"]),
                    log_index=int(entry["log_index"]),
                )
                for entry in raw["logs"]
            ),
            contract_address=raw.get("contract_address"),
        )

    def receipts(self, tx_hashes: Sequence[str]) -> list[Receipt | None]:
        return [self.receipt(h) for h in tx_hashes]

    def call(
        self, sender: bytes | None, to: bytes, data: bytes, block: BlockId = "latest"
    ) -> bytes:
        from eth_tester.backends.pyevm.main import (
            EVMSpoofTransaction,
            _execute_and_revert_transaction,
        )
        from eth_utils.exceptions import ValidationError as EvmValidationError

        transaction = {
            "from": sender or self._default_caller,
            "to": to,
            "data": data,
            "gas": 10_000_000,
            "value": 0,
        }
        with self.lock:
            backend = self.raw_backend
            # eth-tester's public call() keeps only a text message; the private
            # helpers below keep the revert bytes, so custom errors decode too.
            # TODO(eth-tester): use a public API if one ever returns revert data.
            unsigned = backend._get_normalized_and_unsigned_evm_transaction(
                transaction, block
            )
            spoof = EVMSpoofTransaction(unsigned, from_=transaction["from"])
            try:
                computation = _execute_and_revert_transaction(
                    backend.chain, spoof, block
                )
            except EvmValidationError as exc:
                raise EthereumError(f"eth-tester refused the call: {exc}") from exc
        if computation.is_error:
            raise CallRevertedError(
                _computation_reason(computation), data=_revert_data(computation)
            )
        return bytes(computation.output)

    def estimate_gas(self, sender: bytes, to: bytes | None, data: bytes) -> int:
        from eth_tester.exceptions import TransactionFailed

        transaction = {"from": to_checksum(sender), "data": "0x" + data.hex()}
        if to:
            transaction["to"] = to_checksum(to)
        with self.lock:
            try:
                return int(self.raw_tester.estimate_gas(transaction))
            except TransactionFailed as exc:
                raise TransactionRevertedError(str(exc)) from exc

    def nonce(self, address: bytes) -> int:
        with self.lock:
            return int(self.raw_backend.get_nonce(address))

    def balance(self, address: bytes) -> int:
        with self.lock:
            return int(self.raw_backend.get_balance(address))

    def block_number(self) -> int:
        with self.lock:
            return int(self.raw_backend.chain.get_canonical_head().block_number)

    def block_timestamp(self) -> int:
        with self.lock:
            return int(self.raw_backend.chain.get_canonical_head().timestamp)

    def snapshot(self) -> int:
        with self.lock:
            return int(self.raw_tester.take_snapshot())

    def revert(self, snapshot: Any) -> None:
        from eth_tester.exceptions import SnapshotNotFound

        with self.lock:
            try:
                self.raw_tester.revert_to_snapshot(snapshot)
            except SnapshotNotFound as exc:
                raise EthereumError(f"no snapshot {snapshot!r} on this chain") from exc

    def time_travel(self, timestamp: int) -> None:
        with self.lock:
            now = self.block_timestamp()
            if timestamp <= now:
                raise EthereumError(
                    f"cannot travel to {timestamp}: the latest block is at {now}",
                    hint="time travel only goes forward",
                )
            # eth-tester's own time_travel() stamps the block a second early.
            chain = self.raw_backend.chain
            chain.header = chain.header.copy(timestamp=timestamp)
            self.raw_backend.mine_blocks()

    def mine(self, blocks: int = 1) -> None:
        with self.lock:
            self.raw_backend.mine_blocks(blocks)

    def set_balance(self, address: bytes, wei: int) -> bool:
        return False  # balances are set in the genesis state

    def close(self) -> None:
        pass


def _receipt_from_computation(
    transaction: Any, raw_receipt: Any, computation: Any, block_number: int
) -> Receipt:
    failed = bool(computation.is_error)
    created = None
    if not transaction.to and not failed:
        created = to_checksum(bytes(computation.msg.storage_address))
    return Receipt(
        tx_hash="0x" + bytes(transaction.hash).hex(),
        block_number=block_number,
        status=0 if failed else 1,
        gas_used=int(raw_receipt.gas_used),
        logs=tuple(
            Log(
                address=to_checksum(bytes(entry.address)),
                topics=tuple(t.to_bytes(32, "big") for t in entry.topics),
                data=bytes(entry.data),
                log_index=index,
            )
            for index, entry in enumerate(raw_receipt.logs)
        ),
        contract_address=created,
        revert_reason=_computation_reason(computation) if failed else None,
    )


def _computation_reason(computation: Any) -> str:
    from eth.exceptions import Revert

    error = computation.error
    if isinstance(error, Revert) and error.args:
        return revert_reason(bytes(error.args[0]))
    return (
        type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"
    )


def _revert_data(computation: Any) -> bytes | None:
    from eth.exceptions import Revert

    error = computation.error
    if isinstance(error, Revert) and error.args:
        return bytes(error.args[0])
    return None


def _classify_rejection(message: str) -> EthereumError:
    lowered = message.lower()
    if "nonce" in lowered and ("expected" in lowered or "too low" in lowered):
        expected, got = _nonce_pair(message)
        if expected is None or got is None or got < expected:
            return NonceAlreadyUsed(f"transaction rejected: {message}")
    if "already known" in lowered or "already imported" in lowered:
        return NonceAlreadyUsed(f"transaction rejected: {message}")
    return EthereumError(f"transaction rejected: {message}")


def _nonce_pair(message: str) -> tuple[int | None, int | None]:
    # py-evm: "Invalid transaction nonce: Expected 3, but got 1"
    numbers = [int(w.strip(",.")) for w in message.split() if w.strip(",.").isdigit()]
    if len(numbers) >= 2:
        return numbers[0], numbers[1]
    return None, None


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


# ----------------------------------------------------------------------- JSON-RPC


class RpcBackend:
    """A JSON-RPC node over HTTP (Anvil, Hardhat, Besu, or ``harness chain serve``).

    Persistent connections, up to ``connections`` of them in use at once (threads
    beyond that wait for one), each reopened when the node drops it. Development
    methods (``evm_snapshot``, ``anvil_setBalance``...) are used where the node has
    them.
    """

    kind = "rpc"

    def __init__(
        self, url: str, *, timeout: float = 30.0, connections: int = 8
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{url!r} is not an HTTP JSON-RPC URL",
                hint="pass something like http://127.0.0.1:8545",
            )
        if connections < 1:
            raise ConfigError(f"connections must be >= 1, got {connections}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._path = parts.path or "/"
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(connections)
        self._idle: list[http.client.HTTPConnection] = []
        self._closed = False
        self.chain_id = int(self.request("eth_chainId", []), 16)

    # -- transport

    def _connect(self, *, fresh: bool = False) -> http.client.HTTPConnection:
        """An idle connection, else (or with ``fresh``) a new one."""
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        factory = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        return factory(self._host, self._port, timeout=self._timeout)

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        with self._slots:
            for attempt in (1, 2):
                # a retry never takes an idle connection: the node may have
                # dropped those too (it closes idle ones after a while)
                connection = self._connect(fresh=attempt == 2)
                try:
                    connection.request("POST", self._path, body, headers)
                    response = connection.getresponse()
                    text = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    if attempt == 2:
                        raise EthereumError(
                            f"JSON-RPC node at {self.url} did not answer: {exc}",
                            hint="is the node running and the URL right?",
                        ) from exc
                    continue
                with self._lock:
                    if self._closed:
                        connection.close()
                    else:
                        self._idle.append(connection)
                break
        if response.status != 200:
            raise EthereumError(
                f"JSON-RPC node at {self.url} answered HTTP {response.status}: "
                f"{text[:200]!r}"
            )
        return json.loads(text)

    def request(self, method: str, params: list[Any]) -> Any:
        reply = self._post(
            {
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": method,
                "params": params,
            }
        )
        if "error" in reply:
            raise _rpc_error(method, reply["error"])
        return reply.get("result")

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One HTTP request for several calls; each result or its EthereumError."""
        if not calls:
            return []
        first = next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
            for i, (m, p) in enumerate(calls)
        ]
        for _ in calls[1:]:
            next(self._ids)
        replies = self._post(payload)
        if not isinstance(replies, list):
            raise EthereumError(f"JSON-RPC node at {self.url} does not take batches")
        by_id = {r.get("id"): r for r in replies}
        results: list[Any] = []
        for i, (method, _params) in enumerate(calls):
            reply = by_id.get(first + i, {"error": {"message": "no reply in batch"}})
            if "error" in reply:
                results.append(_rpc_error(method, reply["error"]))
            else:
                results.append(reply.get("result"))
        return results

    # -- protocol

    def send_raw(self, raw: bytes) -> Receipt | None:
        """Send, and ask for the receipt in the same batch: a node that mines on
        arrival (eth-tester, Anvil without a block time) answers both in one round
        trip; otherwise None, and the caller polls."""
        tx_hash = "0x" + keccak(raw).hex()
        sent, receipt = self.batch(
            [
                ("eth_sendRawTransaction", ["0x" + raw.hex()]),
                ("eth_getTransactionReceipt", [tx_hash]),
            ]
        )
        if isinstance(sent, EthereumError):
            raise sent
        if isinstance(receipt, EthereumError):
            return None
        return _parse_receipt(receipt)

    def send_raw_batch(self, raws: Sequence[bytes]) -> list[EthereumError | None]:
        results = self.batch(
            [("eth_sendRawTransaction", ["0x" + r.hex()]) for r in raws]
        )
        return [r if isinstance(r, EthereumError) else None for r in results]

    def receipt(self, tx_hash: str) -> Receipt | None:
        return _parse_receipt(self.request("eth_getTransactionReceipt", [tx_hash]))

    def receipts(self, tx_hashes: Sequence[str]) -> list[Receipt | None]:
        results = self.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
        out: list[Receipt | None] = []
        for result in results:
            if isinstance(result, EthereumError):
                raise result
            out.append(_parse_receipt(result))
        return out

    def call(
        self, sender: bytes | None, to: bytes, data: bytes, block: BlockId = "latest"
    ) -> bytes:
        request: dict[str, str] = {"to": to_checksum(to), "data": "0x" + data.hex()}
        if sender:
            request["from"] = to_checksum(sender)
        tag = hex(block) if isinstance(block, int) else block
        return _hex_bytes(self.request("eth_call", [request, tag]))

    def estimate_gas(self, sender: bytes, to: bytes | None, data: bytes) -> int:
        request = {"from": to_checksum(sender), "data": "0x" + data.hex()}
        if to:
            request["to"] = to_checksum(to)
        return int(self.request("eth_estimateGas", [request]), 16)

    def nonce(self, address: bytes) -> int:
        # "pending" counts transactions in the node's pool, so local nonces never
        # collide with ones already sent.
        return int(
            self.request("eth_getTransactionCount", [to_checksum(address), "pending"]),
            16,
        )

    def balance(self, address: bytes) -> int:
        return int(self.request("eth_getBalance", [to_checksum(address), "latest"]), 16)

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def block_timestamp(self) -> int:
        block = self.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def snapshot(self) -> Any:
        return self.request("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        if self.request("evm_revert", [snapshot]) is False:
            raise EthereumError(f"the node has no snapshot {snapshot!r}")

    def time_travel(self, timestamp: int) -> None:
        self.request("evm_setNextBlockTimestamp", [hex(timestamp)])
        self.request("evm_mine", [])

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.request("evm_mine", [])

    def set_balance(self, address: bytes, wei: int) -> bool:
        for method in ("anvil_setBalance", "hardhat_setBalance"):
            try:
                self.request(method, [to_checksum(address), hex(wei)])
            except EthereumError:
                continue
            return True
        return False

    def close(self) -> None:
        """Close the idle connections; those in use close when their call ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _rpc_error(method: str, error: Any) -> EthereumError:
    if not isinstance(error, dict):
        return EthereumError(f"{method} failed: {error}")
    message = str(error.get("message", error))
    data = error.get("data")
    if isinstance(data, dict):  # Hardhat nests the revert data
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return TransactionRevertedError(revert_reason(_hex_bytes(data)))
    if "revert" in message.lower():
        reason = (
            message.split("reverted:", 1)[-1].strip()
            if "reverted:" in message
            else message
        )
        return TransactionRevertedError(reason)
    if method == "eth_sendRawTransaction":
        return _classify_rejection(message)
    return EthereumError(f"{method} failed: {message}")


def _parse_receipt(raw: Any) -> Receipt | None:
    if not raw or raw.get("blockNumber") is None:
        return None
    return Receipt(
        tx_hash=str(raw["transactionHash"]),
        block_number=int(raw["blockNumber"], 16),
        status=int(raw.get("status", "0x1"), 16),
        gas_used=int(raw["gasUsed"], 16),
        logs=tuple(
            Log(
                address=to_checksum(_hex_bytes(entry["address"])),
                topics=tuple(_hex_bytes(t) for t in entry["topics"]),
                data=_hex_bytes(entry["data"]),
                log_index=int(entry["logIndex"], 16),
            )
            for entry in raw.get("logs", [])
        ),
        contract_address=raw.get("contractAddress"),
    )


def wait_for_receipt(
    backend: ChainBackend, tx_hash: str, *, timeout: float, poll: float = 0.005
) -> Receipt | None:
    """Poll for a receipt until ``timeout``; None when none came."""
    deadline = time.monotonic() + timeout
    delay = poll
    while True:
        receipt = backend.receipt(tx_hash)
        if receipt is not None or time.monotonic() >= deadline:
            return receipt
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
