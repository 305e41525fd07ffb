"""eth-tester receipts read from the block a transaction went into, checked against
eth-tester's own search (which reads blocks back from the head)."""

from __future__ import annotations

from typing import Any

from harness.ethereum import TokenClient, TokenType


def _issue(token: TokenClient, quantity: int) -> str:
    return token.issue(
        "emissions_auditor",
        "consumer_1",
        token_type=TokenType.AUDITED_EMISSIONS,
        quantity=quantity,
        from_date=1,
        thru_date=2,
        metadata=f"receipt-{quantity}",
    ).tx_hash


def _backend(token: TokenClient) -> Any:
    return token.chain.backend


def test_receipts_match_eth_testers_own_old_and_new(token: TokenClient) -> None:
    hashes = [_issue(token, q) for q in (11, 12, 13, 14)]
    backend = _backend(token)
    for tx_hash in hashes:
        mine = backend.raw_receipt(tx_hash)
        theirs = backend.raw_tester.get_transaction_receipt(tx_hash)
        assert mine == dict(theirs)
        assert mine["transaction_hash"] == tx_hash
        assert backend._locate(tx_hash) is not None  # read from its block
    numbers = [backend.raw_receipt(h)["block_number"] for h in hashes]
    assert numbers == list(range(numbers[0], numbers[0] + 4))


def test_a_reverted_transaction_has_no_receipt_and_its_block_number_moves_on(
    token: TokenClient,
) -> None:
    backend = _backend(token)
    snapshot = token.chain.snapshot()
    gone = _issue(token, 21)
    number = backend.raw_receipt(gone)["block_number"]
    token.chain.revert(snapshot)

    assert backend.raw_receipt(gone) is None
    assert backend.receipt(gone) is None
    kept = _issue(token, 22)  # mined at the number the reverted one had
    receipt = backend.raw_receipt(kept)
    assert receipt["block_number"] == number
    assert receipt["transaction_hash"] == kept
    assert backend.receipt(kept).status == 1


def test_unknown_hash_has_no_receipt(token: TokenClient) -> None:
    assert _backend(token).raw_receipt("0x" + "ab" * 32) is None
