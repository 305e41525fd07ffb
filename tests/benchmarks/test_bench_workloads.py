"""Load benchmarks from scenarios/: printed for people, not asserted for speed.

Run with ``tox -e bench`` or ``make bench``. Each run leaves report.json, series.csv
and report.html under ``.harness/runs/<id>/``. The ratio of the throughput at
saturation to the slowest component limit is reported, never asserted: the machine
is shared and noisy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench import WorkloadUnavailableError, load_benchmark, run_benchmark_spec

pytestmark = pytest.mark.benchmark

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(name: str) -> dict[str, object]:
    try:
        spec = load_benchmark(SCENARIOS / name)
    except WorkloadUnavailableError as exc:
        pytest.skip(str(exc))
    finished = run_benchmark_spec(spec, progress=print)
    report = finished.report
    print(f"\n{name}:", json.dumps(report, indent=2))
    assert finished.run.status() == "done"
    for produced in finished.files.values():
        assert produced.stat().st_size > 0
    return report


def test_token_issues_benchmark() -> None:
    report = _run("bench-token-issues.yaml")
    assert report["succeeded"] > 0
    assert "eth_tester_issue" in report["limits"]  # type: ignore[operator]


def test_reference_request_manager_benchmark() -> None:
    report = _run("bench-request-manager.yaml")
    assert report["workload"] == "audit-requests"
