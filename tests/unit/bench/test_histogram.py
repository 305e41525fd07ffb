"""The log-linear histogram against exact percentiles of random data."""

from __future__ import annotations

import math
import random

import pytest

from harness.bench import LatencyHistogram
from harness.errors import ConfigError


def _exact(values: list[int], percent: float) -> int:
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@pytest.mark.parametrize(
    "distribution",
    ["uniform", "lognormal", "bimodal"],
)
def test_percentiles_within_the_bounded_relative_error(distribution: str) -> None:
    rng = random.Random(8)
    if distribution == "uniform":
        values = [rng.randint(0, 2_000_000) for _ in range(20_000)]
    elif distribution == "lognormal":
        values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20_000)]
    else:
        values = [rng.randint(500, 900) for _ in range(15_000)]
        values += [rng.randint(900_000, 1_100_000) for _ in range(5_000)]
    histogram = LatencyHistogram()
    for value in values:
        histogram.record_us(value)

    bound = 1 / 2**histogram.precision  # one bucket's width at most
    for percent in (50, 90, 95, 99, 99.9):
        exact = _exact(values, percent)
        got = histogram.percentile_us(percent)
        assert abs(got - exact) <= max(1, exact * bound), (percent, exact, got)
    assert histogram.percentile_us(100) == max(values)
    assert histogram.count == len(values)


def test_small_values_are_exact_and_summary_is_in_milliseconds() -> None:
    histogram = LatencyHistogram()
    for micros in (100, 200, 300, 400):
        histogram.record_us(micros)
    assert histogram.percentile_us(50) == 200
    assert histogram.summary_ms() == {
        "p50": 0.2,
        "p90": 0.4,
        "p95": 0.4,
        "p99": 0.4,
        "max": 0.4,
    }


def test_merged_histograms_equal_one_histogram_of_all_values() -> None:
    rng = random.Random(3)
    values = [int(rng.expovariate(1 / 5000)) for _ in range(9000)]
    whole = LatencyHistogram()
    parts = [LatencyHistogram() for _ in range(3)]
    for number, value in enumerate(values):
        whole.record_us(value)
        parts[number % 3].record_us(value)

    merged = LatencyHistogram.merged(
        LatencyHistogram.from_dict(part.to_dict()) for part in parts
    )
    assert merged.summary_ms() == whole.summary_ms()
    assert (merged.count, merged.min_us, merged.max_us) == (
        whole.count,
        whole.min_us,
        whole.max_us,
    )


def test_buckets_cover_the_recorded_values() -> None:
    histogram = LatencyHistogram(precision=4)
    histogram.record(0.25)  # 250 000 us
    ((lower, upper, count),) = list(histogram.buckets())
    assert lower <= 250_000 < upper
    assert (upper - lower) / lower <= 1 / 16
    assert count == 1


def test_merging_different_precisions_is_refused() -> None:
    with pytest.raises(ConfigError, match="precision"):
        LatencyHistogram(5).merge(LatencyHistogram(7))
