"""Real JSON-RPC clients against the eth-tester endpoint: web3.py, and ethers (v6)
when Node.js and the npm packages are installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.ethereum import Chain, TokenType, default_token_artifact
from harness.ethereum._artifacts import CONTRACTS_DIR
from harness.ethereum._rpc_server import RpcServer


@pytest.fixture(scope="module")
def served() -> Iterator[RpcServer]:
    with RpcServer(Chain.eth_tester()) as server:
        yield server


def test_web3py_deploys_issues_reads_events_and_reverts(served: RpcServer) -> None:
    from web3 import Web3
    from web3.exceptions import ContractLogicError

    w3 = Web3(Web3.HTTPProvider(served.url))
    assert w3.is_connected()
    assert w3.eth.chain_id == served.chain.chain_id
    artifact = default_token_artifact()
    admin = served.chain.account("admin")
    auditor = served.chain.account("emissions_auditor")
    consumer = served.chain.account("consumer_1")

    def transact(sender_key: bytes, built: dict[str, object]) -> dict[str, object]:
        signed = w3.eth.account.sign_transaction(built, sender_key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10))

    def params(sender: str) -> dict[str, object]:
        return {"from": sender, "nonce": w3.eth.get_transaction_count(sender)}

    factory = w3.eth.contract(abi=artifact.abi.raw_abi, bytecode=artifact.bytecode)
    deployed = transact(
        admin.private_key,
        factory.constructor().build_transaction(params(admin.address)),
    )
    contract = w3.eth.contract(
        address=deployed["contractAddress"], abi=artifact.abi.raw_abi
    )
    register = contract.functions.registerDealer(auditor.address, 3)
    transact(admin.private_key, register.build_transaction(params(admin.address)))

    issue = contract.functions.issue(
        consumer.address, TokenType.AUDITED_EMISSIONS, 500, 1, 2, 0, "{}", "m", "d"
    )
    receipt = transact(
        auditor.private_key, issue.build_transaction(params(auditor.address))
    )
    from web3.logs import DISCARD

    events = contract.events.TokenCreated().process_receipt(receipt, errors=DISCARD)
    (event,) = events
    assert (event.args.tokenId, event.args.retiredBalance) == (1, 500)
    assert contract.functions.getNumOfUniqueTokens().call() == 1

    with pytest.raises(ContractLogicError, match="caller is not a REC dealer"):
        contract.functions.issue(consumer.address, 1, 1, 1, 2, 0, "", "", "").call(
            {"from": auditor.address}
        )
    logs = w3.eth.get_logs({"fromBlock": 0, "address": contract.address})
    assert len(logs) >= 4


def _ethers_skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not (CONTRACTS_DIR / "node_modules" / "ethers").is_dir():
        return "npm package ethers is missing: run 'npm ci --prefix contracts'"
    return None


@pytest.mark.skipif(
    _ethers_skip_reason() is not None, reason=str(_ethers_skip_reason())
)
def test_ethers_deploys_and_issues(served: RpcServer, tmp_path: Path) -> None:
    accounts = {
        name: "0x" + served.chain.account(name).private_key.hex()
        for name in ("admin", "emissions_auditor", "consumer_1")
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": served.url, "keys": accounts}))
    result = subprocess.run(
        ["node", str(CONTRACTS_DIR / "ethers-check.mjs"), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "chainId": str(served.chain.chain_id),
        "tokenId": "1",
        "retiredBalance": "700",
        "revert": "caller is not an emissions auditor",
    }
