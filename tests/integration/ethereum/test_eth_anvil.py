"""Anvil from the npm package behind the same Chain interface, flooded safely."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import (
    HarnessError,
    MissingDependencyError,
    TransactionRevertedError,
)
from harness.ethereum import TokenClient, TokenType
from harness.ethereum._anvil import find_anvil, start_anvil


@pytest.fixture(scope="module")
def anvil_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenClient]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed (npm ci --prefix contracts installs it)")
    log_path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    try:
        chain = start_anvil(log_path=log_path)
    except HarnessError as exc:
        pytest.skip(f"anvil could not start: {exc}")
    with chain:
        token = TokenClient.deploy(chain)
        token.register_default_roles()
        yield token


@pytest.fixture
def token(anvil_token: TokenClient) -> Iterator[TokenClient]:
    snapshot = anvil_token.chain.snapshot()
    yield anvil_token
    anvil_token.chain.revert(snapshot)


def _spec(index: int) -> dict[str, object]:
    return {
        "issuer": "emissions_auditor",
        "issuee": "consumer_1",
        "token_type": TokenType.AUDITED_EMISSIONS,
        "quantity": index + 1,
        "from_date": 1,
        "thru_date": 2,
        "manifest": f"bench-{index}",
    }


def test_anvil_issues_with_revert_reasons(token: TokenClient) -> None:
    assert token.chain.kind == "rpc"
    created = token.issue(**_spec(0))  # type: ignore[arg-type]
    assert (created.token_id, created.retired_balance) == (1, 1)
    with pytest.raises(TransactionRevertedError, match="caller is not a REC dealer"):
        token.issue(
            "offset_dealer",
            "consumer_1",
            token_type=TokenType.RENEWABLE_ENERGY_CERTIFICATE,
            quantity=1,
            from_date=1,
            thru_date=2,
        )


def test_anvil_resend_never_mints_twice(token: TokenClient) -> None:
    signed = token.build_issue(**_spec(0))  # type: ignore[arg-type]
    first = token.send_issue(signed)
    assert token.send_issue(signed) == first
    assert token.token_count() == 1


def test_anvil_flood_loses_nothing(token: TokenClient) -> None:
    """More unconfirmed transactions than a block holds (30M gas, about 60 issues):
    every one still lands exactly once, in order, within the deadline."""
    count = 200
    created = token.issue_many([_spec(i) for i in range(count)], window=count)
    assert [c.token_id for c in created] == list(range(1, count + 1))
    assert token.token_count() == count
    assert [c.retired_balance for c in created] == [i + 1 for i in range(count)]
    assert len({c.block_number for c in created}) > 1


def test_anvil_snapshot_and_revert(token: TokenClient) -> None:
    snapshot = token.chain.snapshot()
    token.issue(**_spec(0))  # type: ignore[arg-type]
    token.chain.revert(snapshot)
    assert token.token_count() == 0
    assert token.issue(**_spec(1)).token_id == 1  # type: ignore[arg-type]


def test_anvil_time_travel(token: TokenClient) -> None:
    target = token.chain.block_timestamp() + 7200
    token.chain.time_travel(target)
    assert token.chain.block_timestamp() == target


def test_missing_anvil_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARNESS_ANVIL", str(tmp_path / "no-anvil-here"))
    with pytest.raises(MissingDependencyError, match="no-anvil-here is not executable"):
        start_anvil(log_path=tmp_path / "never-started.log")


class _PoolDropper:
    """Fault injection on a real Anvil that does not mine by itself: the first
    batch sent is dropped from the node's pool (``anvil_dropAllTransactions``),
    as a stalled node loses what it held; later batches are sent and mined."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send_raw_batch(self, raws: Any) -> Any:
        outcomes = self.inner.send_raw_batch(raws)
        self.batches += 1
        if self.batches == 1:
            self.inner.request("anvil_dropAllTransactions", [])
        else:
            self.inner.request("evm_mine", [])
        return outcomes


def test_transactions_lost_by_the_node_are_resent(tmp_path: Path) -> None:
    if find_anvil() is None:
        pytest.skip("anvil is not installed (npm ci --prefix contracts installs it)")
    with start_anvil(log_path=tmp_path / "anvil.log", block_time=None) as chain:
        token = TokenClient.deploy(chain)
        token.register_default_roles()
        chain.backend.request("evm_setAutomine", [False])  # type: ignore[attr-defined]
        dropper = _PoolDropper(chain.backend)
        chain.backend = dropper
        created = token.issue_many([_spec(i) for i in range(20)], window=20)
    assert dropper.batches == 2  # the whole window was sent again, once
    assert [c.token_id for c in created] == list(range(1, 21))
    assert len({c.block_number for c in created}) == 1
