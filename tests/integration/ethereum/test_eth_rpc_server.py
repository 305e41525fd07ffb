"""The JSON-RPC endpoint, driven by plain HTTP requests on loopback."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness.errors import ConfigError, TransactionRevertedError
from harness.ethereum import Chain, TokenClient, TokenType
from harness.ethereum._rpc_server import MAX_BATCH, MAX_BODY_BYTES, RpcServer


@pytest.fixture(scope="module")
def server() -> Iterator[RpcServer]:
    chain = Chain.eth_tester()
    token = TokenClient.deploy(chain)
    token.register_default_roles()
    with RpcServer(chain) as running:
        running.token_address = token.address  # type: ignore[attr-defined]
        yield running


class Http:
    """A bare HTTP/1.1 client: what any JSON-RPC client does underneath."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port)

    def post(self, body: bytes) -> tuple[int, Any]:
        self.connection.request("POST", "/", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def rpc(self, method: str, *params: Any) -> dict[str, Any]:
        request = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
        status, reply = self.post(json.dumps(request).encode())
        assert status == 200
        assert reply["id"] == 7
        return dict(reply)

    def result(self, method: str, *params: Any) -> Any:
        reply = self.rpc(method, *params)
        assert "error" not in reply, reply
        return reply["result"]


@pytest.fixture
def client(server: RpcServer) -> Iterator[Http]:
    http_client = Http(server.url)
    snapshot = http_client.result("evm_snapshot")
    yield http_client
    assert http_client.result("evm_revert", snapshot) is True
    http_client.connection.close()


def _signed_issue(server: RpcServer, nonce: int, quantity: int = 42) -> str:
    token = TokenClient(server.chain, server.token_address)  # type: ignore[attr-defined]
    signed = token.build_issue(
        "emissions_auditor",
        "consumer_1",
        token_type=TokenType.AUDITED_EMISSIONS,
        quantity=quantity,
        from_date=1,
        thru_date=2,
        nonce=nonce,
    )
    return signed.raw_hex


def test_chain_identity(client: Http, server: RpcServer) -> None:
    assert int(client.result("eth_chainId"), 16) == server.chain.chain_id
    assert client.result("net_version") == str(server.chain.chain_id)
    assert client.result("web3_clientVersion").startswith("harness")
    accounts = client.result("eth_accounts")
    assert accounts[0] == server.chain.account("admin").address
    balance = int(client.result("eth_getBalance", accounts[0], "latest"), 16)
    assert balance > 10**23  # funded at genesis, less the deploy's gas


def test_send_raw_issue_then_read_receipt_block_and_logs(
    client: Http, server: RpcServer
) -> None:
    auditor = server.chain.account("emissions_auditor").address
    nonce = int(client.result("eth_getTransactionCount", auditor, "pending"), 16)
    before = int(client.result("eth_blockNumber"), 16)

    tx_hash = client.result("eth_sendRawTransaction", _signed_issue(server, nonce))
    receipt = client.result("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1"
    assert int(receipt["blockNumber"], 16) == before + 1
    assert len(receipt["logsBloom"]) == 2 + 512
    token_created = receipt["logs"][-1]
    assert token_created["address"] == server.token_address  # type: ignore[attr-defined]
    assert token_created["removed"] is False

    block = client.result("eth_getBlockByNumber", receipt["blockNumber"], True)
    assert block["logsBloom"] == receipt["logsBloom"]  # one transaction per block
    assert block["transactions"][0]["hash"] == tx_hash
    assert block["transactions"][0]["input"].startswith("0x")
    transaction = client.result("eth_getTransactionByHash", tx_hash)
    assert int(transaction["nonce"], 16) == nonce
    assert transaction["from"] == auditor

    logs = client.result(
        "eth_getLogs",
        {"fromBlock": receipt["blockNumber"], "toBlock": receipt["blockNumber"]},
    )
    assert [entry["transactionHash"] for entry in logs] == [tx_hash] * 4


def test_resending_a_raw_transaction_is_refused_and_mints_once(
    client: Http, server: RpcServer
) -> None:
    auditor = server.chain.account("emissions_auditor").address
    nonce = int(client.result("eth_getTransactionCount", auditor, "latest"), 16)
    raw = _signed_issue(server, nonce)
    client.result("eth_sendRawTransaction", raw)
    again = client.rpc("eth_sendRawTransaction", raw)
    assert "nonce too low" in again["error"]["message"]
    token = TokenClient(server.chain, server.token_address)  # type: ignore[attr-defined]
    assert token.token_count() == 1


def test_eth_call_revert_carries_the_reason(client: Http, server: RpcServer) -> None:
    token = TokenClient(server.chain, server.token_address)  # type: ignore[attr-defined]
    data = "0x" + token.abi.encode_call("getTokenDetails", [5]).hex()
    reply = client.rpc(
        "eth_call",
        {"to": server.token_address, "data": data},
        "latest",  # type: ignore[attr-defined]
    )
    assert reply["error"]["code"] == 3
    assert reply["error"]["message"] == "execution reverted: token does not exist"
    assert reply["error"]["data"].startswith("0x08c379a0")  # Error(string), for ethers

    count = client.result(
        "eth_call",
        {
            "to": token.address,
            "input": "0x" + token.abi.encode_call("getNumOfUniqueTokens", []).hex(),
        },
        "latest",
    )
    assert int(count, 16) == 0


def test_estimate_gas_and_fees(client: Http, server: RpcServer) -> None:
    admin = server.chain.account("admin").address
    consumer = server.chain.account("consumer_2").address
    gas = client.result(
        "eth_estimateGas", {"from": admin, "to": consumer, "value": "0x1"}
    )
    assert int(gas, 16) == 21000
    assert int(client.result("eth_gasPrice"), 16) > 0


def test_send_transaction_from_a_named_account(client: Http, server: RpcServer) -> None:
    admin = server.chain.account("admin").address
    consumer = server.chain.account("consumer_2").address
    before = int(client.result("eth_getBalance", consumer, "latest"), 16)
    tx_hash = client.result(
        "eth_sendTransaction", {"from": admin, "to": consumer, "value": hex(10**18)}
    )
    assert client.result("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
    after = int(client.result("eth_getBalance", consumer, "latest"), 16)
    assert after - before == 10**18


def test_snapshot_revert_and_time(client: Http) -> None:
    start = int(client.result("eth_blockNumber"), 16)
    snapshot = client.result("evm_snapshot")
    client.result("evm_mine")
    client.result("evm_increaseTime", 120)
    assert int(client.result("eth_blockNumber"), 16) == start + 2
    assert client.result("evm_revert", snapshot) is True
    assert int(client.result("eth_blockNumber"), 16) == start
    assert client.result("evm_revert", "0x999") is False


def test_batch_request(client: Http) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method", "params": []},
        {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},  # notification
    ]
    status, replies = client.post(json.dumps(batch).encode())
    assert status == 200
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[1]["error"]["code"] == -32601


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"{not json", -32700, id="parse"),
        pytest.param(b'{"id": 1}', -32600, id="no-method"),
        pytest.param(b"[]", -32600, id="empty-batch"),
        pytest.param(
            json.dumps(
                [
                    {"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}
                    for i in range(MAX_BATCH + 1)
                ]
            ).encode(),
            -32600,
            id="batch-too-long",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {}}',
            -32602,
            id="params-not-list",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["zz"]}',
            -32602,
            id="not-hex",
        ),
    ],
)
def test_bad_requests_get_json_rpc_errors(client: Http, body: bytes, code: int) -> None:
    status, reply = client.post(body)
    assert status == 200
    assert reply["error"]["code"] == code


def test_http_limits(server: RpcServer) -> None:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    connection.request("GET", "/")
    response = connection.getresponse()
    response.read()
    assert response.status == 405
    # Announce a body over the limit; the server answers before reading any of it.
    connection.putrequest("POST", "/")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    assert response.status == 413
    connection.close()


def test_only_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback only"):
        RpcServer(Chain.eth_tester(), host="0.0.0.0")


def test_chain_connect_drives_the_token_through_the_endpoint(server: RpcServer) -> None:
    snapshot = server.chain.snapshot()
    try:
        with Chain.connect(server.url) as remote:
            token = TokenClient(remote, server.token_address)  # type: ignore[attr-defined]
            signed = token.build_issue(
                "emissions_auditor",
                "consumer_2",
                token_type=TokenType.AUDITED_EMISSIONS,
                quantity=9,
                from_date=1,
                thru_date=2,
            )
            first = token.send_issue(signed)
            assert token.send_issue(signed) == first
            assert token.token_count() == 1
            assert token.balances("consumer_2", first.token_id).retired == 9
            with pytest.raises(
                TransactionRevertedError, match="not an emissions auditor"
            ):
                token.issue(
                    "rec_dealer",
                    "consumer_2",
                    token_type=TokenType.AUDITED_EMISSIONS,
                    quantity=1,
                    from_date=1,
                    thru_date=2,
                )
    finally:
        server.chain.revert(snapshot)
