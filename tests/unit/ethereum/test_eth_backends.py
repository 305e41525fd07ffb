"""Translations at the backend boundary: JSON-RPC shapes, errors, rejections."""

from __future__ import annotations

import socket

import pytest

from harness.errors import ConfigError, EthereumError, TransactionRevertedError
from harness.ethereum import Chain
from harness.ethereum._backends import (
    NonceAlreadyUsed,
    RpcBackend,
    _classify_rejection,
    _rpc_error,
)
from harness.ethereum._rpc_server import _rpc


def test_rpc_shape_of_an_eth_tester_receipt() -> None:
    raw = {
        "transaction_hash": "0xab",
        "block_number": 7,
        "contract_address": None,
        "to": "",
        "status": 1,
        "state_root": b"\x01",
        "logs": [{"type": "mined", "log_index": 0, "topics": []}],
    }
    assert _rpc(raw, kind="receipt") == {
        "transactionHash": "0xab",
        "blockNumber": "0x7",
        "contractAddress": None,
        "to": None,
        "status": "0x1",
        "logs": [{"removed": False, "logIndex": "0x0", "topics": []}],
    }


def test_rpc_shape_of_a_transaction() -> None:
    raw = {"data": "0x01", "gas_price": 10, "r": 1, "y_parity": 0}
    shaped = _rpc(raw, kind="transaction")
    assert shaped["input"] == "0x01"
    assert shaped["gasPrice"] == "0xa"
    assert shaped["r"] == "0x" + "00" * 31 + "01"
    assert shaped["yParity"] == "0x0"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Invalid transaction nonce: Expected 3, but got 1", NonceAlreadyUsed),
        ("nonce too low", NonceAlreadyUsed),
        ("already known", NonceAlreadyUsed),
        ("Invalid transaction nonce: Expected 3, but got 5", EthereumError),
        ("insufficient funds for gas * price + value", EthereumError),
    ],
)
def test_rejections_are_classified(message: str, kind: type[EthereumError]) -> None:
    assert type(_classify_rejection(message)) is kind


def test_revert_errors_from_nodes_carry_the_reason() -> None:
    data = "0x08c379a0" + (
        "0000000000000000000000000000000000000000000000000000000000000020"
        "0000000000000000000000000000000000000000000000000000000000000003"
        "6e6f700000000000000000000000000000000000000000000000000000000000"
    )
    anvil_style = _rpc_error("eth_call", {"code": 3, "message": "x", "data": data})
    assert isinstance(anvil_style, TransactionRevertedError)
    assert anvil_style.reason == "nop"
    hardhat_style = _rpc_error("eth_call", {"message": "x", "data": {"data": data}})
    assert isinstance(hardhat_style, TransactionRevertedError)
    text_only = _rpc_error("eth_call", {"message": "execution reverted: no way"})
    assert isinstance(text_only, TransactionRevertedError)
    assert text_only.reason == "no way"


def test_connect_to_a_bad_url_or_a_silent_port() -> None:
    with pytest.raises(ConfigError, match="not an HTTP JSON-RPC URL"):
        Chain.connect("ws://127.0.0.1:8545")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EthereumError, match="did not answer"):
        Chain.connect(f"http://127.0.0.1:{port}")


@pytest.mark.parametrize("connections", [0, -1], ids=["zero", "negative"])
def test_a_connection_pool_needs_at_least_one_connection(connections: int) -> None:
    with pytest.raises(
        ConfigError, match=f"connections must be >= 1, got {connections}"
    ):
        RpcBackend("http://127.0.0.1:8545", connections=connections)
