"""eth-tester with harness.ethereum._trie_speedups gives the chain that py-trie's
own helpers give: the same state root after every block, the same gas."""

from __future__ import annotations

from typing import Any

from harness.ethereum import Chain, TokenClient, TokenType
from harness.ethereum import _trie_speedups as speedups


def _history(patched: bool) -> tuple[list[bytes], list[int]]:
    chain = Chain.eth_tester()  # installs the speedups
    if not patched:
        speedups.uninstall()
    try:
        # issue() stores the block's time: far ahead of the clock, each block
        # takes its parent's time plus one, the same on both chains.
        chain.time_travel(4_000_000_000)
        token = TokenClient.deploy(chain)
        token.register_default_roles()
        gas = []
        for index in range(12):
            created = token.issue(
                "emissions_auditor",
                "consumer_1",
                token_type=TokenType.AUDITED_EMISSIONS,
                quantity=100 + index,
                from_date=1,
                thru_date=2,
                metadata='{"records": ["' + "x" * (40 * index) + '"]}',
                manifest=f"uuids: trie-{index}",
            )
            gas.append(chain.backend.receipt(created.tx_hash).gas_used)
        backend: Any = chain.backend
        evm = backend.raw_backend.chain
        head = evm.get_canonical_head().block_number
        roots = [
            evm.get_canonical_block_header_by_number(n).state_root
            for n in range(head + 1)
        ]
        return roots, gas
    finally:
        speedups.install()
        chain.close()


def test_state_roots_and_gas_match_py_tries_own_helpers() -> None:
    ours, theirs = _history(patched=True), _history(patched=False)
    assert len(ours[0]) > 12
    assert ours == theirs
    issued = ours[0][-12:]
    assert len(set(issued)) == len(issued)  # every issue changed the state
