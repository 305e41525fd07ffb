"""The chain and the client's sending: named funded accounts, snapshot and revert,
time travel, and resending a signed issue() that never mints twice."""

from __future__ import annotations

import pytest

from harness.errors import EthereumError
from harness.ethereum import (
    DEFAULT_ACCOUNT_NAMES,
    Chain,
    SignedTransaction,
    TokenClient,
    TokenType,
)
from harness.ethereum._accounts import DEFAULT_BALANCE_WEI


def _issue(token: TokenClient, quantity: int = 100) -> SignedTransaction:
    return token.build_issue(
        "emissions_auditor",
        "consumer_1",
        token_type=TokenType.AUDITED_EMISSIONS,
        quantity=quantity,
        from_date=1,
        thru_date=2,
        description="Audited Utility Emissions",
    )


def test_named_accounts_are_funded() -> None:
    chain = Chain.eth_tester()
    assert list(chain.accounts) == list(DEFAULT_ACCOUNT_NAMES)
    for account in chain.accounts.values():
        assert chain.balance(account) == DEFAULT_BALANCE_WEI


def test_snapshot_and_revert_restore_balances_and_token_count(
    token: TokenClient,
) -> None:
    first = token.send_issue(_issue(token, 10))
    snapshot = token.chain.snapshot()

    token.send_issue(_issue(token, 20))
    token.issue(
        "rec_dealer", "consumer_2", token_type=1, quantity=5, from_date=1, thru_date=2
    )
    assert token.token_count() == 3
    admin_wei = token.chain.balance("0x" + token.chain.account("admin").address[2:])

    token.chain.revert(snapshot)
    assert token.token_count() == 1
    assert token.balances("consumer_2", 3).available == 0
    assert token.balances("consumer_1", first.token_id).retired == 10
    assert token.chain.block_number() == snapshot.block_number
    assert token.chain.balance(token.chain.account("admin")) == admin_wei

    # Nonces are re-read after a revert, so the next issue goes through and
    # takes the id the reverted one had.
    assert token.send_issue(_issue(token, 30)).token_id == 2


def test_resending_the_same_signed_issue_never_mints_twice(token: TokenClient) -> None:
    signed = _issue(token)
    first = token.send_issue(signed)
    again = token.send_issue(signed)
    assert again == first
    assert token.token_count() == 1
    assert token.balances("consumer_1", first.token_id).retired == 100


def test_a_recorded_issue_resent_after_a_crash(token: TokenClient) -> None:
    """The Request Manager's case: record, send, crash, then resend from the record."""
    record = _issue(token).to_json()
    token.send_issue(SignedTransaction.from_json(record))

    # A new process: a fresh client and no nonce memory, only the record.
    restarted = TokenClient(token.chain, token.address)
    token.chain.forget_nonces()
    found = restarted.find_issue(record["tx_hash"])
    assert found is not None
    assert restarted.send_issue(SignedTransaction.from_json(record)) == found
    assert restarted.token_count() == 1


def test_a_recorded_issue_sent_only_after_the_crash(token: TokenClient) -> None:
    signed = _issue(token)
    assert token.find_issue(signed.tx_hash) is None  # never sent
    created = token.send_issue(signed)
    assert created.token_id == 1


def test_a_nonce_taken_by_another_transaction_is_reported(token: TokenClient) -> None:
    stale = _issue(token)
    token.chain.forget_nonces()
    token.send_issue(_issue(token, 5))  # same nonce, other content
    with pytest.raises(EthereumError, match="another transaction took it"):
        token.chain.send(stale)  # at once: eth-tester has no pool to wait on
    assert token.token_count() == 1


def test_time_travel_forward_only(token: TokenClient) -> None:
    now = token.chain.block_timestamp()
    token.chain.time_travel(now + 3600)
    assert token.chain.block_timestamp() == now + 3600
    with pytest.raises(EthereumError, match="time travel only goes forward"):
        token.chain.time_travel(now)


def test_revert_to_an_unknown_snapshot(token: TokenClient) -> None:
    from harness.ethereum import Snapshot

    with pytest.raises(EthereumError, match="no snapshot"):
        token.chain.revert(Snapshot(raw_id=999, block_number=0))


def test_user_artifact_deploys_and_issues(tmp_path: pytest.TempPathFactory) -> None:
    """A Hardhat-layout artifact (here a copy of ours) drives the same client."""
    import json
    from pathlib import Path

    from harness.ethereum import load_artifact
    from harness.ethereum._artifacts import FIXTURES_DIR

    source = json.loads((FIXTURES_DIR / "EmissionsTokenNetwork.json").read_text())
    path = Path(str(tmp_path)) / "Mine.json"
    hardhat = {"_format": "hh-sol-artifact-1", "contractName": "Mine"}
    path.write_text(
        json.dumps({**hardhat, **{k: source[k] for k in ("abi", "bytecode")}})
    )
    chain = Chain.eth_tester()
    token = TokenClient.deploy(chain, artifact=load_artifact(path))
    token.register_default_roles()
    assert token.send_issue(_issue(token)).token_id == 1
    assert token.artifact.name == "Mine"
