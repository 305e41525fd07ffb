"""``harness chain serve`` and ``harness chain bench`` as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from harness.ethereum import DEFAULT_ACCOUNT_NAMES, Account
from harness.ethereum._accounts import DEFAULT_BALANCE_WEI

HARNESS = [
    sys.executable,
    "-c",
    "import sys; from harness.cli import main; sys.exit(main())",
]


def _post(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_serve_answers_plain_http_until_terminated(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            *HARNESS,
            "chain",
            "serve",
            "--port",
            "0",
            "--json",
            "--run-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, process.stderr.read() if process.stderr else ""
        info = json.loads(first)
        url = info["url"]
        assert url.startswith("http://127.0.0.1:")

        assert int(_post(url, "eth_chainId")["result"], 16) == info["chain_id"]
        accounts = _post(url, "eth_accounts")["result"]
        assert sorted(accounts) == sorted(info["accounts"].values())
        code = _post(url, "eth_getCode", info["token_address"], "latest")["result"]
        assert len(code) > 1000  # the token contract is deployed

        run = Path(info["run_dir"])
        assert (run / "status").read_text().strip() == "running"
        saved = json.loads((run / "ethereum.json").read_text())
        assert set(saved["test_private_keys"]) == set(info["accounts"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0
    assert (run / "status").read_text().strip() == "stopped"


def test_serve_funds_an_extra_account_and_deploys_nothing(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            *HARNESS,
            "chain",
            "serve",
            "--account",
            "extra1",
            "--port",
            "0",
            "--json",
            "--no-deploy",
            "--run-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, process.stderr.read() if process.stderr else ""
        info = json.loads(first)

        assert sorted(info["accounts"]) == sorted([*DEFAULT_ACCOUNT_NAMES, "extra1"])
        extra = info["accounts"]["extra1"]
        assert extra == Account.from_name("extra1").address
        assert info["token_address"] is None
        assert extra in _post(info["url"], "eth_accounts")["result"]
        balance = _post(info["url"], "eth_getBalance", extra, "latest")["result"]
        assert int(balance, 16) == DEFAULT_BALANCE_WEI
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0


def test_serve_refuses_a_public_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HARNESS, "chain", "serve", "--host", "0.0.0.0", "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "harness: error: the JSON-RPC endpoint listens on loopback only, not "
        "'0.0.0.0'; use 127.0.0.1; the chain's test keys are public"
    ]


def test_bench_writes_its_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *HARNESS,
            "chain",
            "bench",
            "--count",
            "5",
            "--rounds",
            "1",
            "--no-anvil",
            "--json",
            "--run-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["count"] == 5
    assert payload["anvil_skipped"] == "not requested"
    for key in ("raw_eth_tester_per_s", "harness_client_per_s", "json_rpc_per_s"):
        assert payload[key] > 0
    report = json.loads((Path(payload["run_dir"]) / "report.json").read_text())
    assert report["client_to_raw_ratio"] == payload["client_to_raw_ratio"]
    assert "issue() per second" in result.stderr


def test_bench_refuses_an_unbounded_count(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HARNESS, "chain", "bench", "--count", "999999", "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "count must be between 1 and" in result.stderr
