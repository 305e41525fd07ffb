"""Named accounts, EIP-55 addresses and locally signed transactions."""

from __future__ import annotations

import pytest
from eth_account import Account as EthAccount

from harness.errors import ConfigError
from harness.ethereum import DEFAULT_ACCOUNT_NAMES, Account, Accounts, SignedTransaction
from harness.ethereum._accounts import to_checksum, to_raw_address
from harness.ethereum._tx import contract_address_for, sign_transaction


def test_checksum_matches_eip55_example() -> None:
    raw = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert to_checksum(raw) == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_named_accounts_are_stable_and_distinct() -> None:
    first, second = Accounts.named(), Accounts.named()
    assert list(first) == list(DEFAULT_ACCOUNT_NAMES)
    assert first["admin"].address == second["admin"].address
    assert len({a.address for a in first.values()}) == len(DEFAULT_ACCOUNT_NAMES)
    assert {"admin", "emissions_auditor", "rec_dealer", "offset_dealer"} <= set(first)


def test_unknown_account_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known accounts: admin"):
        Accounts.named()["auditor"]


@pytest.mark.parametrize("bad", ["0x1234", "not hex at all", "0x" + "zz" * 20])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="not an Ethereum address"):
        to_raw_address(bad)


def test_signed_transaction_recovers_to_its_sender() -> None:
    sender = Account.from_name("emissions_auditor")
    signed = sign_transaction(
        sender, chain_id=31337, nonce=7, to=b"\x01" * 20, data=b"\xab\xcd", gas=90_000
    )
    assert EthAccount.recover_transaction(signed.raw_hex) == sender.address
    assert signed.raw[0] == 2  # EIP-1559
    assert (signed.nonce, signed.gas) == (7, 90_000)


def test_signed_transaction_round_trips_through_json() -> None:
    signed = sign_transaction(
        Account.from_name("admin"), chain_id=1, nonce=0, to=None, data=b"\x60", gas=1
    )
    again = SignedTransaction.from_json(signed.to_json())
    assert again == signed


def test_contract_address_for_known_vector() -> None:
    # The first contract deployed by 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0.
    sender = bytes.fromhex("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")
    expected = "cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    assert contract_address_for(sender, 0).hex() == expected
