"""Rate control: when each operation is meant to start.

Open-loop phases (a fixed rate, a linear ramp) give every operation an intended
send time decided before the run, whatever the system does; latency is measured
from that time, so a system that stalls cannot hide the wait of the operations
queued behind the stall. A fixed-load phase is closed-loop: a constant number of
operations in flight, each started when one finishes. A schedule is a sequence of
phases, optionally preceded by a warm-up whose results are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.errors import ConfigError

MAX_RATE = 100_000.0
MAX_CONCURRENCY = 512
MAX_DURATION_S = 24 * 3600.0


@dataclass(frozen=True)
class FixedRate:
    """Open loop: ``rps`` operations per second, evenly spaced."""

    rps: float
    duration_s: float
    kind = "fixed-rate"

    def __post_init__(self) -> None:
        _check_duration(self.duration_s)
        _check_rate("rps", self.rps, allow_zero=False)

    def intended_times(self) -> Iterator[float]:
        """Offsets from the phase's start, in seconds, strictly below its end."""
        count = math.ceil(self.rps * self.duration_s - 1e-9)
        for k in range(count):
            yield k / self.rps

    def planned(self) -> int:
        return math.ceil(self.rps * self.duration_s - 1e-9)


@dataclass(frozen=True)
class LinearRamp:
    """Open loop: the rate goes in a straight line from ``from_rps`` to ``to_rps``."""

    from_rps: float
    to_rps: float
    duration_s: float
    kind = "ramp"

    def __post_init__(self) -> None:
        _check_duration(self.duration_s)
        _check_rate("from_rps", self.from_rps, allow_zero=True)
        _check_rate("to_rps", self.to_rps, allow_zero=True)
        if self.from_rps == 0 and self.to_rps == 0:
            raise ConfigError("a ramp needs from_rps or to_rps above zero")

    def intended_times(self) -> Iterator[float]:
        # Operations sent by time t: N(t) = r0 t + (r1 - r0) t^2 / (2 D). Operation k
        # goes at N(t) = k, solved in the form that is stable when r1 == r0.
        r0, d = self.from_rps, self.duration_s
        a = (self.to_rps - r0) / (2 * d)
        k = 0
        while True:
            root = math.sqrt(max(r0 * r0 + 4 * a * k, 0.0))
            if k and r0 + root <= 0:
                return
            t = 2 * k / (r0 + root) if k else 0.0
            if t >= d:
                return
            yield t
            k += 1

    def planned(self) -> int:
        return math.ceil((self.from_rps + self.to_rps) / 2 * self.duration_s - 1e-9)


@dataclass(frozen=True)
class FixedLoad:
    """Closed loop: ``concurrency`` operations in flight for ``duration_s``."""

    concurrency: int
    duration_s: float
    kind = "fixed-load"

    def __post_init__(self) -> None:
        _check_duration(self.duration_s)
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"concurrency must be 1..{MAX_CONCURRENCY}, got {self.concurrency}"
            )


Phase = FixedRate | LinearRamp | FixedLoad


@dataclass(frozen=True)
class Schedule:
    """Phases run one after the other; the warm-up runs first and is not measured."""

    phases: tuple[Phase, ...]
    warmup: Phase | None = None
    # Stop after this many measured operations have been issued (None: no limit).
    count: int | None = None

    def __post_init__(self) -> None:
        if not self.phases:
            raise ConfigError("a schedule needs at least one phase")
        if self.count is not None and self.count < 1:
            raise ConfigError(f"count must be at least 1, got {self.count}")

    @classmethod
    def of(
        cls,
        phases: Sequence[Phase],
        *,
        warmup_s: float = 0.0,
        count: int | None = None,
    ) -> Schedule:
        """A schedule whose warm-up repeats the first phase's load for ``warmup_s``."""
        warmup = warmup_phase(phases[0], warmup_s) if phases and warmup_s > 0 else None
        return cls(tuple(phases), warmup, count)

    @property
    def all_phases(self) -> tuple[Phase, ...]:
        return ((self.warmup,) if self.warmup else ()) + self.phases

    @property
    def warmup_s(self) -> float:
        return self.warmup.duration_s if self.warmup else 0.0

    @property
    def measured_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def total_s(self) -> float:
        return self.warmup_s + self.measured_s

    @property
    def max_concurrency(self) -> int:
        return max(
            (p.concurrency for p in self.all_phases if isinstance(p, FixedLoad)),
            default=0,
        )

    def describe(self) -> str:
        parts = [describe_phase(p) for p in self.phases]
        if self.warmup:
            parts.insert(0, f"warm-up {self.warmup_s:g} s")
        return ", then ".join(parts)


def warmup_phase(first: Phase, seconds: float) -> Phase:
    if isinstance(first, LinearRamp):
        return FixedRate(max(first.from_rps, 1.0), seconds)
    if isinstance(first, FixedRate):
        return FixedRate(first.rps, seconds)
    return FixedLoad(first.concurrency, seconds)


def describe_phase(phase: Phase) -> str:
    if isinstance(phase, FixedRate):
        return f"{phase.rps:g}/s for {phase.duration_s:g} s"
    if isinstance(phase, LinearRamp):
        return (
            f"ramp {phase.from_rps:g}->{phase.to_rps:g}/s over {phase.duration_s:g} s"
        )
    return f"{phase.concurrency} in flight for {phase.duration_s:g} s"


def _check_duration(seconds: float) -> None:
    if not 0 < seconds <= MAX_DURATION_S:
        raise ConfigError(
            f"duration_s must be above 0 and at most {MAX_DURATION_S:g}, got {seconds}"
        )


def _check_rate(name: str, rate: float, *, allow_zero: bool) -> None:
    low_ok = rate >= 0 if allow_zero else rate > 0
    if not low_ok or rate > MAX_RATE:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(
            f"{name} must be {bound} and at most {MAX_RATE:g}, got {rate}"
        )
