"""The load generator on real workloads: rate accuracy, stalls, injected failures."""

from __future__ import annotations

import pytest

from harness.bench import (
    FixedLoad,
    FixedRate,
    RunOptions,
    Schedule,
    create_workload,
    run_benchmark,
)

_NO_LIMITS = RunOptions(workers=8, measure_limits=False, drain_s=3)


def test_fixed_rate_below_saturation_sends_within_two_percent_of_offered() -> None:
    workload = create_workload("calibration-sleep", {"sleep_ms": 1})
    lines: list[str] = []
    result = run_benchmark(
        workload, Schedule.of([FixedRate(200, 3)]), _NO_LIMITS, progress=lines.append
    )

    assert result.offered == 600
    assert result.offered_rps == pytest.approx(200, rel=0.001)
    assert result.totals.sent == 600
    assert abs(result.sent_rps - result.offered_rps) / result.offered_rps < 0.02
    assert result.succeeded == 600
    assert sum(result.failed().values()) == 0
    assert result.throughput_rps == pytest.approx(200, rel=0.02)
    assert lines[:2] == ["setting up the calibration-sleep workload", "  set up in 0 s"]
    ticks = lines[2:]
    assert len(ticks) >= 2  # one progress line a second
    assert all("offered" in line and "p99" in line for line in ticks)
    assert result.nodes["harness"].samples  # CPU and memory of this process


def test_a_stall_shows_in_latency_measured_from_the_intended_send_time() -> None:
    # One client thread; the system stops answering for 1 s at 1.5 s. The calls
    # after the stall are fast, but those meant to go during it waited.
    workload = create_workload(
        "calibration-sleep", {"sleep_ms": 1, "stall_at_s": 1.5, "stall_s": 1.0}
    )
    options = RunOptions(workers=1, measure_limits=False, drain_s=3)
    result = run_benchmark(workload, Schedule.of([FixedRate(100, 4)]), options)

    latency = result.totals.latency
    assert result.succeeded == 400
    assert latency.percentile_ms(99) >= 900
    assert latency.max_us >= 990_000
    # Each call's own service time stayed short, except the one that stalled:
    service = result.totals.stages["service"]
    assert service.percentile_ms(95) < 50
    assert latency.percentile_ms(50) < 50


def test_a_failure_injected_mid_run_lands_in_its_class_and_second() -> None:
    workload = create_workload(
        "calibration-sleep",
        {
            "sleep_ms": 1,
            "fail_from_s": 1.0,
            "fail_for_s": 0.5,
            "fail_class": "mvcc_read_conflict",
        },
    )
    result = run_benchmark(workload, Schedule.of([FixedRate(100, 3)]), _NO_LIMITS)

    failed = result.failed()
    assert 40 <= failed["mvcc_read_conflict"] <= 60
    assert sum(failed.values()) == failed["mvcc_read_conflict"]
    assert result.requests == 300
    by_second = {s: entry.failed for s, entry in result.totals.seconds.items()}
    assert sum(by_second.get(0, {}).values()) == 0
    assert by_second[1].get("mvcc_read_conflict", 0) >= 40
    assert sum(by_second.get(2, {}).values()) == 0


def test_token_issue_reverts_injected_mid_run_are_ethereum_reverts() -> None:
    # A real revert: in the window the issuer is an account that deals nothing.
    workload = create_workload(
        "token-issues", {"revert_from_s": 0.8, "revert_for_s": 0.6}
    )
    result = run_benchmark(workload, Schedule.of([FixedRate(10, 2.5)]), _NO_LIMITS)

    failed = result.failed()
    assert failed["eth_revert"] >= 4
    assert sum(failed.values()) == failed["eth_revert"]
    assert result.succeeded >= 15
    assert set(result.totals.stages) == {"sign", "mint"}


def test_fixed_load_keeps_the_concurrency_and_a_count_stops_the_run() -> None:
    workload = create_workload("calibration-sleep", {"sleep_ms": 20})
    schedule = Schedule.of([FixedLoad(4, 30)], count=60)
    result = run_benchmark(workload, schedule, _NO_LIMITS)

    assert result.requests == 60
    # 4 in flight, 20 ms each: about 200/s, so 60 take about 0.3 s, not 30 s.
    assert result.duration_s < 5
    assert result.throughput_rps > 100


def test_a_run_stops_at_its_deadline_even_if_the_system_hangs() -> None:
    workload = create_workload(
        "calibration-sleep", {"sleep_ms": 1, "stall_at_s": 0.2, "stall_s": 5}
    )
    options = RunOptions(workers=2, measure_limits=False, drain_s=0.5, timeout_s=1)
    result = run_benchmark(workload, Schedule.of([FixedRate(20, 1)]), options)

    assert result.duration_s < 3
    assert result.failed()["timeout"] == result.unsent + result.abandoned > 0
