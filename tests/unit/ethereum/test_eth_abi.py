"""The ABI layer: type strings, revert data, event decoding in declared order."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_hash.auto import keccak

from harness.ethereum import ContractAbi, default_token_artifact
from harness.ethereum._abi import canonical_type, revert_reason

# DOMAIN.md section 3, in this order.
TOKEN_CREATED_FIELDS = [
    "availableBalance",
    "retiredBalance",
    "tokenId",
    "tokenTypeId",
    "issuer",
    "issuee",
    "fromDate",
    "thruDate",
    "dateCreated",
    "automaticRetireDate",
    "metadata",
    "manifest",
    "description",
]


def test_canonical_type_spells_out_tuples() -> None:
    param = {
        "type": "tuple[]",
        "components": [
            {"type": "uint256"},
            {"type": "tuple", "components": [{"type": "address"}, {"type": "string"}]},
        ],
    }
    assert canonical_type(param) == "(uint256,(address,string))[]"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            bytes.fromhex("08c379a0") + encode(["string"], ["not allowed"]),
            "not allowed",
            id="error-string",
        ),
        pytest.param(
            bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]),
            "panic 0x11: arithmetic overflow or underflow",
            id="panic",
        ),
        pytest.param(b"", "reverted without a reason", id="empty"),
        pytest.param(b"\x01\x02", "reverted with data 0x0102", id="unknown"),
    ],
)
def test_revert_reason(data: bytes, expected: str) -> None:
    assert revert_reason(data) == expected


def test_custom_error_decodes_by_abi() -> None:
    abi = ContractAbi(
        [
            {
                "type": "error",
                "name": "TooMuch",
                "inputs": [{"name": "wanted", "type": "uint256"}],
            }
        ]
    )
    data = keccak(b"TooMuch(uint256)")[:4] + encode(["uint256"], [7])
    assert abi.revert_reason(data) == "TooMuch(7)"


def test_token_created_fields_in_domain_order_with_issuer_issuee_indexed() -> None:
    event = default_token_artifact().abi.events["TokenCreated"]
    assert list(event.field_names) == TOKEN_CREATED_FIELDS
    indexed = [n for n, ix in zip(event.field_names, event.indexed, strict=True) if ix]
    assert indexed == ["issuer", "issuee"]


def test_decode_log_keeps_declared_order() -> None:
    abi = default_token_artifact().abi
    event = abi.events["TokenRetired"]
    account = bytes(12) + b"\x11" * 20
    log = abi.decode_log(
        "0x" + "22" * 20,
        [event.topic, account],
        encode(["uint256", "uint256"], [5, 9]),
        3,
    )
    assert log is not None
    assert list(log.args) == ["account", "tokenId", "amount"]
    assert log.args["account"] == "0x" + "11" * 20
    assert (log.args["tokenId"], log.args["amount"], log.log_index) == (5, 9, 3)


def test_decode_log_ignores_foreign_events() -> None:
    abi = default_token_artifact().abi
    assert abi.decode_log("0x" + "00" * 20, [b"\x00" * 32], b"", 0) is None
