"""``harness bench FILE`` as a user runs it, and Locust with a master and two workers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
HARNESS = [
    sys.executable,
    "-c",
    "import sys; from harness.cli import main; sys.exit(main())",
]
LOCUST = [sys.executable, "-m", "locust", "-f", str(SCENARIOS / "locustfile.py")]


def _harness(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def test_bench_token_issues_writes_the_three_reports(tmp_path: Path) -> None:
    done = _harness(
        "bench",
        str(SCENARIOS / "bench-token-issues.yaml"),
        "--duration",
        "2",
        "--warmup",
        "0",
        "--no-limits",
        "--json",
        "--run-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["workload"] == "token-issues"
    assert report["succeeded"] > 10
    assert report["limits"] == {}
    assert report["ratio_to_limit"] is None
    assert "[   1 s] offered" in done.stderr  # live progress, one line a second
    run = (tmp_path / "latest-bench").resolve()
    assert json.loads((run / "report.json").read_text()) == report
    assert (run / "series.csv").read_text().startswith("second,offered,sent,")
    assert "<svg" in (run / "report.html").read_text()
    assert (run / "status").read_text().strip() == "done"


@pytest.mark.slow
@pytest.mark.hsm
def test_reference_benchmark_runs_briefly(tmp_path: Path) -> None:
    path = SCENARIOS / "bench-request-manager.yaml"
    done = _harness(
        "bench", str(path), "--duration", "5", "--json", "--run-dir", str(tmp_path),
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["workload"] == "audit-requests"
    assert report["succeeded"] > 0
    assert set(report["stages_ms"]) == {"lock", "mint", "record", "unlock"}


def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workload: {name: token-issues}\nphases: [{type: burst}]\n")
    done = _harness("bench", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "phases[0].type" in done.stderr
    assert "allowed: fixed-rate, ramp, fixed-load" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _locust_run(tmp_path: Path, workload: list[str], users: int) -> dict[str, Any]:
    """One master and two workers on loopback, headless, for a few seconds."""
    port = str(_free_port())
    report = tmp_path / "locust-report.json"
    master = subprocess.Popen(
        [
            *LOCUST,
            "--master",
            "--headless",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "60",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            "4s",
            "--only-summary",
            "--harness-report",
            str(report),
            *workload,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    workers = [
        subprocess.Popen(
            [
                *LOCUST,
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                port,
                *workload,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=120)
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert master.returncode == 0, output[-3000:]
    return dict(json.loads(report.read_text()))


def test_locust_master_and_two_workers_drive_the_calibration_workload(
    tmp_path: Path,
) -> None:
    report = _locust_run(
        tmp_path,
        [
            "--harness-workload",
            "calibration-sleep",
            "--harness-options",
            '{"sleep_ms": 2}',
            "--harness-rps-per-user",
            "50",
        ],
        users=4,
    )
    assert len(report["workers"]) == 2
    for worker in report["workers"].values():
        assert worker["requests"] > 50  # both workers counted requests
    # 4 users paced at 50/s for about 4 s
    assert 300 < report["requests"] < 1000
    assert report["latency_ms"]["p50"] >= 2


@pytest.mark.slow
def test_locust_master_and_two_workers_drive_token_issues(tmp_path: Path) -> None:
    report = _locust_run(
        tmp_path,
        ["--harness-bench", str(SCENARIOS / "bench-token-issues.yaml")],
        users=2,
    )
    assert len(report["workers"]) == 2
    for worker in report["workers"].values():
        assert worker["succeeded"] > 5  # each worker issued on its own chain
    assert sum(report["failed"].values()) == 0
    assert report["latency_ms"]["p50"] > 1  # a real EVM transaction, not a no-op
