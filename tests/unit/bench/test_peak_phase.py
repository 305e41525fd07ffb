"""The peak phase: where the report reads the throughput at saturation."""

from __future__ import annotations

from typing import Any

from harness.bench._report import peak_phase


def _phase(name: str, throughput: float, ratio: float | None) -> dict[str, Any]:
    return {
        "phase": name,
        "offered": 10,
        "sent": 10,
        "succeeded": 10,
        "failed": 0,
        "throughput_rps": throughput,
        "p50_ms": 5.0,
        "p99_ms": 9.0,
        "ratio_to_limit": ratio,
    }


def test_the_peak_is_the_phase_with_the_highest_throughput() -> None:
    phases = [
        _phase("4/s for 10 s", 4.0, 0.2),
        _phase("32 in flight for 15 s", 18.5, 0.92),
        _phase("ramp 4->20/s over 10 s", 12.0, 0.6),
    ]

    peak = peak_phase(phases)

    assert peak == {
        "phase": "32 in flight for 15 s",
        "throughput_rps": 18.5,
        "p50_ms": 5.0,
        "p99_ms": 9.0,
        "ratio_to_limit": 0.92,
    }


def test_no_phases_no_peak() -> None:
    assert peak_phase([]) is None


def test_a_peak_without_limits_has_no_ratio() -> None:
    peak = peak_phase([_phase("4/s for 1 s", 4.0, None)])

    assert peak is not None
    assert peak["ratio_to_limit"] is None


def test_the_console_summary_names_the_slowest_limit_and_the_peak() -> None:
    from pathlib import Path

    from harness.cli.bench import _summary

    phases = [_phase("4/s for 10 s", 4.0, 0.2), _phase("32 in flight", 18.5, 0.92)]
    report = {
        "benchmark": "bench-request-manager",
        "workload": "audit-requests",
        "requests": 20,
        "succeeded": 20,
        "failed": {"timeout": 0},
        "offered_rps": 11.0,
        "sent_rps": 11.0,
        "throughput_rps": 11.0,
        "duration_s": 20.0,
        "latency_ms": {"p50": 1.0, "p99": 2.0, "max": 3.0},
        "limits": {"eth_tester_issue": 34.1, "fabric_audit_transactions": 20.2},
        "ratio_to_limit": 0.545,
        "phases": phases,
        "peak": peak_phase(phases),
    }

    text = _summary(report, Path("run"))

    assert "slowest limit (fabric_audit_transactions): 0.545" in text
    assert "peak phase 32 in flight: 18.5/s, p99 9.0 ms, ratio 0.92" in text
