"""issue() rates: the harness client keeps at least 0.8 of raw eth-tester's rate."""

from __future__ import annotations

import json

import pytest

from harness.ethereum._bench import run_issue_benchmark


@pytest.mark.benchmark
def test_issue_rates(tmp_path_factory: pytest.TempPathFactory) -> None:
    log_path = tmp_path_factory.mktemp("bench") / "anvil.log"
    report = run_issue_benchmark(200, rounds=2, anvil_log=log_path, progress=print)
    print(json.dumps(report, indent=2, sort_keys=True))
    assert report["raw_eth_tester_per_s"] > 0
    assert report["json_rpc_per_s"] > 0
    assert report["client_to_raw_ratio"] >= 0.8
