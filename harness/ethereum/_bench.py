"""Benchmark: issue() transactions per second along each path to a chain.

Every rate is measured in the same run on a fresh chain with the contract deployed
and roles registered (set-up not timed), issuing the same audited-emissions token:

- ``raw_eth_tester``: eth-tester's own API with transactions signed beforehand
  (``send_raw_transaction`` with auto-mining, then ``get_transaction_receipt``);
- ``harness_client``: :meth:`TokenClient.issue` in process (build, sign, send,
  decode TokenCreated);
- ``json_rpc``: the same client through ``harness chain serve``'s endpoint;
- ``anvil``: :meth:`TokenClient.issue_many` on Anvil, windowed.

The raw and harness paths run on two chains side by side, alternating every 20
issues, for ``rounds`` rounds; the best round of each is kept. A noisy neighbour
on the machine thus hurts both alike.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.ethereum._chain import Chain
from harness.ethereum._token import (
    AUDITED_EMISSIONS_DESCRIPTION,
    TokenClient,
    TokenCreated,
    TokenType,
)

log = logging.getLogger(__name__)

MAX_COUNT = 5000
_METADATA = json.dumps(
    {
        "org": "harness-bench",
        "type": "Utility Emissions",
        "partyId": ["5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
        "renewable_energy_use_amount": 10.916,
        "nonrenewable_energy_use_amount": 89.084,
        "utilityIds": ["USA_EIA_11208"],
        "factorSource": ["eGrid 2019 NERC_REGION MRO"],
    },
    sort_keys=True,
)


def _issue_args(index: int) -> dict[str, Any]:
    return {
        "issuer": "emissions_auditor",
        "issuee": "consumer_1",
        "token_type": TokenType.AUDITED_EMISSIONS,
        "quantity": 103 + index,
        "from_date": 1_588_846_209,
        "thru_date": 1_591_524_609,
        "metadata": _METADATA,
        "manifest": f"uuids: bench-{index:06d}",
        "description": AUDITED_EMISSIONS_DESCRIPTION,
    }


def _deployed(chain: Chain) -> TokenClient:
    token = TokenClient.deploy(chain)
    token.register_default_roles()
    return token


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def measure_raw_and_client(count: int, chunk: int = 20) -> tuple[float, float]:
    """Raw eth-tester and the harness client, each on its own fresh chain, timed in
    alternating chunks so that both grow alike and share any noise on the machine."""
    raw_token = _deployed(Chain.eth_tester())
    client_token = _deployed(Chain.eth_tester())
    tester = raw_token.chain.backend.raw_tester  # type: ignore[attr-defined]
    # Raw eth-tester gets its transactions signed beforehand: signing is the
    # client's work, and it is timed on the client's side only.
    raws = [raw_token.build_issue(**_issue_args(i)).raw_hex for i in range(count)]
    raw_seconds = client_seconds = 0.0
    for start in range(0, count, chunk):
        indices = range(start, min(start + chunk, count))
        began = time.perf_counter()
        for i in indices:
            tx_hash = tester.send_raw_transaction(raws[i])
            if tester.get_transaction_receipt(tx_hash)["status"] != 1:
                raise HarnessError(f"benchmark issue {tx_hash} failed on eth-tester")
        raw_seconds += time.perf_counter() - began
        began = time.perf_counter()
        for i in indices:
            client_token.issue(**_issue_args(i))
        client_seconds += time.perf_counter() - began
    if client_token.token_count() != count:
        raise HarnessError("the harness client did not mint one token per issue")
    return _rate(count, raw_seconds), _rate(count, client_seconds)


def measure_json_rpc(count: int) -> float:
    from harness.ethereum._rpc_server import RpcServer

    with RpcServer(Chain.eth_tester()) as server, Chain.connect(server.url) as remote:
        token = _deployed(remote)
        return _timed_issues(token, count)


def measure_anvil(count: int, log_path: Path | None = None) -> float:
    from harness.ethereum._anvil import start_anvil

    with start_anvil(log_path=log_path) as chain:
        token = _deployed(chain)
        started = time.perf_counter()
        created = token.issue_many([_issue_args(i) for i in range(count)])
        seconds = time.perf_counter() - started
        _check_ids(created, count)
        return _rate(count, seconds)


def _timed_issues(token: TokenClient, count: int) -> float:
    started = time.perf_counter()
    created = [token.issue(**_issue_args(i)) for i in range(count)]
    seconds = time.perf_counter() - started
    _check_ids(created, count)
    return _rate(count, seconds)


def _check_ids(created: list[TokenCreated], count: int) -> None:
    ids = [c.token_id for c in created]
    if ids != list(range(ids[0], ids[0] + count)):
        raise HarnessError(f"benchmark tokens were not counted in order: {ids[:5]}...")


def run_issue_benchmark(
    count: int = 200,
    *,
    rounds: int = 2,
    anvil: bool = True,
    anvil_log: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure every path; a report dict (rates in issues per second)."""
    if not 1 <= count <= MAX_COUNT:
        from harness.errors import ConfigError

        raise ConfigError(f"count must be between 1 and {MAX_COUNT}, got {count}")
    say = progress or (lambda _message: None)
    raw_rates: list[float] = []
    client_rates: list[float] = []
    for round_no in range(1, rounds + 1):
        say(
            f"round {round_no}/{rounds}: raw eth-tester and harness client, {count} each"
        )
        raw_rate, client_rate = measure_raw_and_client(count)
        raw_rates.append(raw_rate)
        client_rates.append(client_rate)
    say(f"JSON-RPC endpoint, {count} issues")
    rpc_rate = measure_json_rpc(count)
    report: dict[str, Any] = {
        "workload": "issue(type 3, audited emissions)",
        "count": count,
        "rounds": rounds,
        "raw_eth_tester_per_s": max(raw_rates),
        "harness_client_per_s": max(client_rates),
        "raw_eth_tester_rounds": raw_rates,
        "harness_client_rounds": client_rates,
        "json_rpc_per_s": rpc_rate,
        "anvil_per_s": None,
        "anvil_skipped": None,
    }
    report["client_to_raw_ratio"] = round(
        report["harness_client_per_s"] / report["raw_eth_tester_per_s"], 3
    )
    # The fields DESIGN.md's benchmark reports share.
    report["requests"] = count
    report["throughput_rps"] = report["harness_client_per_s"]
    report["limits"] = {"raw_eth_tester": report["raw_eth_tester_per_s"]}
    report["ratio_to_limit"] = report["client_to_raw_ratio"]
    if anvil:
        say(f"Anvil, {count} issues")
        try:
            report["anvil_per_s"] = measure_anvil(count, anvil_log)
        except HarnessError as exc:
            report["anvil_skipped"] = str(exc)
    else:
        report["anvil_skipped"] = "not requested"
    log.info("issue benchmark: %s", report)
    return report
