"""eth-tester served by ``harness chain serve`` in a child process: the chain over
JSON-RPC, the process's lifetime, and the errors of a child that does not come up."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from harness.errors import EthereumError, ReadinessTimeoutError
from harness.ethereum import Chain, RpcServer, TokenClient, TokenType
from harness.ethereum._served import ChainProcess, serve_eth_tester

NAMES = ("admin", "emissions_auditor", "consumer_1", "extra_auditor")


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_an_extra_account_is_funded_at_genesis_and_issues(tmp_path: Path) -> None:
    with serve_eth_tester(NAMES, log_path=tmp_path / "eth-tester.log") as chain:
        token = TokenClient.deploy(chain)
        token.register_dealer("extra_auditor", TokenType.AUDITED_EMISSIONS)
        token.register_consumer("consumer_1")

        created = token.issue(
            "extra_auditor",
            "consumer_1",
            token_type=TokenType.AUDITED_EMISSIONS,
            quantity=7,
            from_date=1,
            thru_date=2,
        )

        assert chain.kind == "rpc"
        assert list(chain.accounts) == list(NAMES)
        assert created.issuer == chain.account("extra_auditor").address
        assert token.token_count() == 1
        assert token.balances("consumer_1", created.token_id).retired == 7
        # the child funded it: this Chain was told not to (fund=False)
        assert chain.balance(chain.account("extra_auditor")) > 10**23


def test_served_by_is_the_live_child_until_close(tmp_path: Path) -> None:
    log_path = tmp_path / "eth-tester.log"
    chain = serve_eth_tester(NAMES, log_path=log_path)
    try:
        pid = chain.served_by
        assert isinstance(pid, int)
        assert pid != os.getpid()
        assert pid in _children()
        child = psutil.Process(pid)
        assert child.status() != psutil.STATUS_ZOMBIE
        command = child.cmdline()
        assert command[command.index("chain") :][:2] == ["chain", "serve"]
        assert command[-1] == "--account=extra_auditor"
        # A session (hence a scheduling group) of its own, not ours.
        assert os.getsid(pid) == pid
        assert os.getsid(pid) != os.getsid(0)
    finally:
        chain.close()

    assert chain.served_by is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert f"JSON-RPC endpoint {chain.url}" in log_path.read_text()


def test_a_chain_in_this_process_or_only_connected_to_is_served_by_none() -> None:
    in_process = Chain.eth_tester()
    assert in_process.served_by is None
    with RpcServer(in_process) as server, Chain.connect(server.url) as connected:
        assert connected.served_by is None


def test_a_child_that_fails_at_start_is_one_line_naming_its_log(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "eth-tester.log"
    unencodable = "\udcff"  # reaches the child's argv, fails deriving its key
    before = _children()

    with pytest.raises(EthereumError) as caught:
        ChainProcess(log_path, [unencodable]).start()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("harness chain serve exited with code 1 at start: ")
    assert "UnicodeEncodeError" in message  # the last lines of the child's log
    assert message.endswith(f"; see {log_path}")
    assert not isinstance(caught.value, ReadinessTimeoutError)
    assert _children() <= before


def test_no_endpoint_within_the_deadline_stops_the_child(tmp_path: Path) -> None:
    log_path = tmp_path / "eth-tester.log"
    before = _children()
    process = ChainProcess(log_path, NAMES)

    with pytest.raises(ReadinessTimeoutError) as caught:
        process.start(timeout=0)

    assert str(caught.value).startswith(
        "harness chain serve named no endpoint within 0 s"
    )
    assert str(caught.value).endswith(f"; see {log_path}")
    assert process.pid == 0
    assert _children() <= before


def test_an_account_name_starting_with_a_dash_is_served(tmp_path: Path) -> None:
    names = ("admin", "-dash")
    assert list(Chain.eth_tester(names).accounts) == list(names)  # fine in process

    with serve_eth_tester(names, log_path=tmp_path / "eth-tester.log") as chain:
        assert chain.balance(chain.account("-dash")) > 0
