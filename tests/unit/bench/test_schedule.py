"""Rate control: intended send times of open-loop phases, and schedule bounds."""

from __future__ import annotations

import itertools

import pytest

from harness.bench import FixedLoad, FixedRate, LinearRamp, Schedule
from harness.errors import ConfigError


def test_fixed_rate_spaces_operations_evenly_within_the_phase() -> None:
    times = list(FixedRate(rps=200, duration_s=3).intended_times())
    assert len(times) == 600
    assert times[0] == 0
    assert times[1] == pytest.approx(0.005)
    assert times[-1] == pytest.approx(2.995)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert gaps == {0.005}


def test_linear_ramp_follows_the_integrated_rate() -> None:
    ramp = LinearRamp(from_rps=10, to_rps=50, duration_s=4)
    times = list(ramp.intended_times())
    # N(t) = 10 t + 5 t^2: 120 operations in 4 s.
    assert len(times) == ramp.planned() == 120
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] < 4
    in_first_second = sum(1 for t in times if t < 1)
    in_last_second = sum(1 for t in times if t >= 3)
    assert in_first_second == 15  # N(1) = 15
    assert in_last_second == 120 - 75  # N(4) - N(3)
    # operation k starts where N(t) = k
    for k in (1, 37, 119):
        t = times[k]
        assert 10 * t + 5 * t * t == pytest.approx(k)


def test_ramp_down_and_ramp_from_zero() -> None:
    down = list(LinearRamp(from_rps=40, to_rps=0, duration_s=2).intended_times())
    assert len(down) == 40  # the triangle's area
    up = list(LinearRamp(from_rps=0, to_rps=20, duration_s=2).intended_times())
    assert len(up) == 20
    assert up[1] == pytest.approx((1 / 5) ** 0.5)  # 5 t^2 = 1


def test_warmup_repeats_the_first_phase_and_is_not_measured() -> None:
    schedule = Schedule.of([FixedRate(50, 2), FixedLoad(4, 3)], warmup_s=1.5, count=100)
    assert schedule.warmup == FixedRate(50, 1.5)
    assert schedule.all_phases[1:] == schedule.phases
    assert (schedule.warmup_s, schedule.measured_s, schedule.total_s) == (1.5, 5, 6.5)
    assert schedule.max_concurrency == 4
    assert "warm-up 1.5 s" in schedule.describe()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FixedRate(0, 1), "rps"),
        (lambda: FixedRate(10, 0), "duration_s"),
        (lambda: LinearRamp(0, 0, 1), "ramp"),
        (lambda: FixedLoad(0, 1), "concurrency"),
        (lambda: FixedRate(1e9, 1), "rps"),
        (lambda: Schedule(()), "phase"),
    ],
    ids=["zero-rate", "zero-duration", "flat-zero-ramp", "no-load", "huge", "empty"],
)
def test_bad_phases_are_refused(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()  # type: ignore[operator]
