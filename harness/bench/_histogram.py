"""A log-linear latency histogram with a bounded relative error (HDR-style).

Values are recorded in whole microseconds. Below ``2**precision`` microseconds every
value has its own bucket; above, each power of two is split into ``2**precision``
equal buckets, so a bucket is never wider than ``1 / 2**precision`` of its lower
bound. A percentile is the midpoint of its bucket, which puts it within half that
width of the exact value. Histograms with the same precision merge by adding
counts, so threads and Locust workers each keep one and combine them at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from harness.errors import ConfigError

DEFAULT_PRECISION = 7  # 128 sub-buckets: at most 0.4 % off the exact value
PERCENTILES = (50.0, 90.0, 95.0, 99.0)


class LatencyHistogram:
    """Counts of latencies in log-linear buckets; exact count, sum, min and max."""

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        if not 1 <= precision <= 16:
            raise ConfigError(f"precision must be 1..16 bits, got {precision}")
        self.precision = precision
        self._sub = 1 << precision
        self._counts: dict[int, int] = {}
        self.count = 0
        self.total_us = 0
        self.min_us: int | None = None
        self.max_us = 0

    # -- recording

    def record(self, seconds: float) -> None:
        """Add one latency given in seconds (negative values count as zero)."""
        self.record_us(max(0, round(seconds * 1e6)))

    def record_us(self, micros: int, times: int = 1) -> None:
        index = self._index(micros)
        self._counts[index] = self._counts.get(index, 0) + times
        self.count += times
        self.total_us += micros * times
        self.max_us = max(self.max_us, micros)
        self.min_us = micros if self.min_us is None else min(self.min_us, micros)

    def merge(self, other: LatencyHistogram) -> None:
        """Add every count of ``other`` (same precision) into this histogram."""
        if other.precision != self.precision:
            raise ConfigError(
                f"cannot merge histograms of precision {other.precision} "
                f"and {self.precision}"
            )
        for index, count in other._counts.items():
            self._counts[index] = self._counts.get(index, 0) + count
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)
        if other.min_us is not None:
            self.min_us = (
                other.min_us if self.min_us is None else min(self.min_us, other.min_us)
            )

    # -- reading

    def percentile_us(self, percent: float) -> int:
        """The value below which ``percent`` % of the recorded values lie."""
        if not 0 <= percent <= 100:
            raise ConfigError(f"percentile must be within 0..100, got {percent}")
        if self.count == 0:
            return 0
        if percent >= 100:
            return self.max_us
        rank = max(1, math.ceil(percent / 100 * self.count))
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= rank:
                value = self._midpoint(index)
                return min(max(value, self.min_us or 0), self.max_us)
        return self.max_us

    def percentile_ms(self, percent: float) -> float:
        return self.percentile_us(percent) / 1000

    def summary_ms(self) -> dict[str, float]:
        """``{p50, p90, p95, p99, max}`` in milliseconds, rounded to microseconds."""
        summary = {f"p{p:g}": round(self.percentile_ms(p), 3) for p in PERCENTILES}
        summary["max"] = round(self.max_us / 1000, 3)
        return summary

    def mean_ms(self) -> float:
        return self.total_us / self.count / 1000 if self.count else 0.0

    def buckets(self) -> Iterator[tuple[int, int, int]]:
        """``(lower_us, upper_us, count)`` of every non-empty bucket, ascending."""
        for index in sorted(self._counts):
            lower, width = self._bounds(index)
            yield lower, lower + width, self._counts[index]

    # -- transport (Locust workers send theirs to the master)

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "counts": [[i, c] for i, c in sorted(self._counts.items())],
            "total_us": self.total_us,
            "min_us": self.min_us,
            "max_us": self.max_us,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyHistogram:
        histogram = cls(int(data["precision"]))
        for index, count in data["counts"]:
            histogram._counts[int(index)] = int(count)
            histogram.count += int(count)
        histogram.total_us = int(data["total_us"])
        histogram.min_us = None if data["min_us"] is None else int(data["min_us"])
        histogram.max_us = int(data["max_us"])
        return histogram

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        result = cls()
        for histogram in histograms:
            result.merge(histogram)
        return result

    # -- bucket arithmetic

    def _index(self, micros: int) -> int:
        if micros < 2 * self._sub:
            return micros
        shift = micros.bit_length() - self.precision - 1
        top = micros >> shift  # the precision + 1 leading bits: sub .. 2 * sub - 1
        return (shift + 1) * self._sub + (top - self._sub)

    def _bounds(self, index: int) -> tuple[int, int]:
        """The lower bound of bucket ``index`` and its width, in microseconds."""
        if index < 2 * self._sub:
            return index, 1
        shift = index // self._sub - 1
        top = index % self._sub + self._sub
        return top << shift, 1 << shift

    def _midpoint(self, index: int) -> int:
        lower, width = self._bounds(index)
        return lower + (width - 1) // 2
