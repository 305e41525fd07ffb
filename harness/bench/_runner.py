"""The load generator: one dispatcher, a bounded pool of workers, a hard deadline.

The dispatcher issues tickets on the schedule: at each intended send time in an
open-loop phase, and whenever a slot frees up in a fixed-load phase. Workers take
tickets from one queue and run the workload's operation. A ticket that waits in
the queue because every worker is busy keeps its intended time, so its latency
includes the wait. Every run stops by itself: at the end of the schedule plus a
drain period, operations still queued count as timeouts (never sent) and those
still running as timeouts (abandoned).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.bench._histogram import LatencyHistogram
from harness.bench._resources import NodeUsage, ResourceSampler
from harness.bench._schedule import FixedLoad, Phase, Schedule, describe_phase
from harness.bench._workload import (
    FAILURE_CLASSES,
    FailureClass,
    LimitProbe,
    Workload,
    classify_failure,
)
from harness.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

MAX_WORKERS = 512
_POLL_S = 0.05


@dataclass(frozen=True)
class RunOptions:
    """Bounds of a run: worker threads, per-operation timeout, drain time, limits."""

    workers: int = 16
    timeout_s: float = 10.0
    drain_s: float = 5.0
    sample_interval_s: float = 1.0
    measure_limits: bool = True
    # measure each limit before the load as well as after it and use the mean, so
    # that a machine whose speed drifts during the run moves both sides alike
    limits_before: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"workers must be 1..{MAX_WORKERS}, got {self.workers}")
        if self.timeout_s <= 0 or self.drain_s < 0:
            raise ConfigError("timeout_s must be above 0 and drain_s at least 0")


@dataclass
class Second:
    """What happened in one second of the measured window."""

    offered: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def merge(self, other: Second) -> None:
        self.offered += other.offered
        self.sent += other.sent
        self.succeeded += other.succeeded
        for name, n in other.failed.items():
            self.failed[name] = self.failed.get(name, 0) + n
        self.latency.merge(other.latency)


@dataclass
class PhaseStats:
    """Totals of the operations issued in one measured phase."""

    offered: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def merge(self, other: PhaseStats) -> None:
        self.offered += other.offered
        self.sent += other.sent
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.latency.merge(other.latency)


@dataclass
class Recorder:
    """One worker's measurements; merged with the others' at the end."""

    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    stages: dict[str, LatencyHistogram] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    seconds: dict[int, Second] = field(default_factory=dict)
    phases: dict[int, PhaseStats] = field(default_factory=dict)
    sent: int = 0
    succeeded: int = 0
    first_send: float | None = None
    last_send: float | None = None
    last_end: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def second(self, offset: float) -> Second:
        key = max(0, int(offset))
        entry = self.seconds.get(key)
        if entry is None:
            entry = self.seconds[key] = Second()
        return entry

    def phase(self, number: int) -> PhaseStats:
        entry = self.phases.get(number)
        if entry is None:
            entry = self.phases[number] = PhaseStats()
        return entry

    def add_failure(self, failure: FailureClass, offset: float) -> None:
        self.failed[failure] = self.failed.get(failure, 0) + 1
        bucket = self.second(offset).failed
        bucket[failure] = bucket.get(failure, 0) + 1

    def merge(self, other: Recorder) -> None:
        self.latency.merge(other.latency)
        for stage, histogram in other.stages.items():
            self.stages.setdefault(stage, LatencyHistogram()).merge(histogram)
        for name, n in other.failed.items():
            self.failed[name] = self.failed.get(name, 0) + n
        for key, second in other.seconds.items():
            self.second(key).merge(second)
        for number, stats in other.phases.items():
            self.phase(number).merge(stats)
        self.sent += other.sent
        self.succeeded += other.succeeded
        self.first_send = _min(self.first_send, other.first_send)
        self.last_send = _max(self.last_send, other.last_send)
        self.last_end = _max(self.last_end, other.last_end)


@dataclass(frozen=True)
class _Ticket:
    index: int
    intended: float  # perf_counter time the operation should start
    phase: int  # number of the measured phase it belongs to; -1: warm-up

    @property
    def measured(self) -> bool:
        return self.phase >= 0

    release: threading.Semaphore | None = None  # a fixed-load slot to give back


@dataclass
class BenchResult:
    """Everything a report is made of. Times are seconds from the measured start."""

    workload: str
    schedule: Schedule
    stages: tuple[str, ...]
    offered: int
    offered_span_s: float
    totals: Recorder
    duration_s: float
    nodes: dict[str, NodeUsage]
    limit_errors: dict[str, str]
    unsent: int
    abandoned: int
    # each limit's measurements in the order taken (before the load, after it)
    limit_samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def limits(self) -> dict[str, float]:
        """Each measured limit: the mean of its samples."""
        return {
            name: sum(rates) / len(rates)
            for name, rates in self.limit_samples.items()
            if rates
        }

    @property
    def requests(self) -> int:
        return self.totals.succeeded + sum(self.totals.failed.values())

    @property
    def succeeded(self) -> int:
        return self.totals.succeeded

    def failed(self) -> dict[str, int]:
        return {name: self.totals.failed.get(name, 0) for name in FAILURE_CLASSES}

    @property
    def offered_rps(self) -> float:
        return _rate(self.offered, self.offered_span_s, self.duration_s)

    @property
    def sent_rps(self) -> float:
        first, last = self.totals.first_send, self.totals.last_send
        span = (last - first) if first is not None and last is not None else 0.0
        return _rate(self.totals.sent, span, self.duration_s)

    @property
    def throughput_rps(self) -> float:
        return self.succeeded / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def ratio_to_limit(self) -> float | None:
        return ratio_to_limit(self.throughput_rps, self.limits)


def ratio_to_limit(throughput: float, limits: dict[str, float]) -> float | None:
    """Throughput over the slowest component limit; None without any limit."""
    rates = [rate for rate in limits.values() if rate > 0]
    if not rates:
        return None
    return throughput / min(rates)


def _rate(count: int, span: float, fallback_s: float) -> float:
    """Events per second over the span from the first to the last event.

    With n evenly spaced events the span holds n - 1 intervals; a single event (or
    none) falls back to the whole window.
    """
    if count >= 2 and span > 0:
        return (count - 1) / span
    return count / fallback_s if fallback_s > 0 else 0.0


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


Progress = Callable[[str], None]


class BenchmarkRunner:
    """Run one workload on one schedule; see :func:`run_benchmark`."""

    def __init__(
        self,
        workload: Workload,
        schedule: Schedule,
        options: RunOptions,
        progress: Progress | None = None,
    ) -> None:
        self.workload = workload
        self.schedule = schedule
        self.options = options
        self.progress = progress
        self.stop_event = threading.Event()
        worker_count = max(options.workers, schedule.max_concurrency)
        if worker_count > MAX_WORKERS:
            raise ConfigError(f"more than {MAX_WORKERS} workers asked for")
        self._recorders = [Recorder() for _ in range(worker_count)]
        self._queue: queue.SimpleQueue[_Ticket] = queue.SimpleQueue()
        self._inflight: dict[int, _Ticket] = {}
        self._inflight_lock = threading.Lock()
        self._offered = 0
        self._offered_first: float | None = None
        self._offered_last: float | None = None
        self._offered_seconds: dict[int, int] = {}
        self._offered_phases: dict[int, int] = {}
        self._unsent = 0
        self._outstanding = 0  # issued and not yet finished or dropped
        self._finished = threading.Event()
        self._dispatch_done = threading.Event()
        self._origin = 0.0  # perf_counter of the run's start (warm-up included)
        self._measure_start = 0.0
        self._deadline = 0.0

    # -- the run

    def run(self) -> BenchResult:
        sampler = ResourceSampler(self.workload.nodes(), self.options.sample_interval_s)
        log.info(
            "benchmark %s: %s, %s workers",
            self.workload.name,
            self.schedule.describe(),
            len(self._recorders),
        )
        self._origin = time.perf_counter() + 0.05
        self._measure_start = self._origin + self.schedule.warmup_s
        self._deadline = self._origin + self.schedule.total_s + self.options.drain_s
        sampler.start(self._measure_start)
        threads = [
            threading.Thread(
                target=self._work, args=(rec,), name=f"bench-worker-{i}", daemon=True
            )
            for i, rec in enumerate(self._recorders)
        ]
        dispatcher = threading.Thread(
            target=self._dispatch, name="bench-dispatcher", daemon=True
        )
        for thread in threads:
            thread.start()
        dispatcher.start()
        try:
            self._watch()
        finally:
            self.stop_event.set()
            self._finished.set()
            nodes = sampler.stop()
        dispatcher.join(timeout=1)
        for thread in threads:
            thread.join(timeout=_POLL_S * 2)
        return self._result(nodes)

    def _watch(self) -> None:
        """Report progress each second until everything issued has finished."""
        next_report = self._measure_start + 1
        last = (0, 0, 0)
        while True:
            now = time.perf_counter()
            if now >= self._deadline or self.stop_event.is_set():
                return
            if self._dispatch_done.is_set() and self._idle():
                return
            if now >= next_report:
                last = self._report_progress(now, last)
                next_report += 1
            time.sleep(min(_POLL_S, max(0.0, next_report - now)))

    def _idle(self) -> bool:
        with self._inflight_lock:
            return self._outstanding == 0

    # -- dispatcher

    def _dispatch(self) -> None:
        try:
            offset = self._origin
            index = 0
            first = -1 if self.schedule.warmup is not None else 0
            for number, phase in enumerate(self.schedule.all_phases, start=first):
                index = self._dispatch_phase(phase, offset, index, number)
                offset += phase.duration_s
                if self.stop_event.is_set() or self._count_reached():
                    break
        except Exception:  # a dispatcher bug must end the run, not hang it
            log.exception("benchmark dispatcher failed")
            self.stop_event.set()
        finally:
            self._dispatch_done.set()

    def _dispatch_phase(
        self, phase: Phase, start: float, index: int, number: int
    ) -> int:
        measured = number >= 0
        log.debug("phase %s from +%.2f s", describe_phase(phase), start - self._origin)
        end = start + phase.duration_s
        if isinstance(phase, FixedLoad):
            slots = threading.Semaphore(phase.concurrency)
            while not self.stop_event.is_set() and not self._count_reached(measured):
                remaining = end - time.perf_counter()
                if remaining <= 0:
                    break
                if slots.acquire(timeout=min(remaining, _POLL_S)):
                    self._issue(index, time.perf_counter(), number, slots)
                    index += 1
            return index
        for at in phase.intended_times():
            if self.stop_event.is_set() or self._count_reached(measured):
                break
            _sleep_until(start + at, self.stop_event)
            self._issue(index, start + at, number, None)
            index += 1
        return index

    def _issue(
        self,
        index: int,
        intended: float,
        phase: int,
        release: threading.Semaphore | None,
    ) -> None:
        if phase >= 0:
            self._offered_phases[phase] = self._offered_phases.get(phase, 0) + 1
            self._offered += 1
            self._offered_first = _min(self._offered_first, intended)
            self._offered_last = intended
            second = max(0, int(intended - self._measure_start))
            self._offered_seconds[second] = self._offered_seconds.get(second, 0) + 1
        with self._inflight_lock:
            self._outstanding += 1
        self._queue.put(_Ticket(index, intended, phase, release))

    def _count_reached(self, measured: bool = True) -> bool:
        limit = self.schedule.count
        return measured and limit is not None and self._offered >= limit

    # -- workers

    def _work(self, recorder: Recorder) -> None:
        while not self._finished.is_set():
            try:
                ticket = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if time.perf_counter() >= self._deadline or self.stop_event.is_set():
                self._drop(ticket)
                continue
            with self._inflight_lock:
                self._inflight[ticket.index] = ticket
            try:
                self._run_one(ticket, recorder)
            finally:
                with self._inflight_lock:
                    self._inflight.pop(ticket.index, None)
                    self._outstanding -= 1
                if ticket.release is not None:
                    ticket.release.release()

    def _run_one(self, ticket: _Ticket, recorder: Recorder) -> None:
        started = time.perf_counter()
        failure: FailureClass | None = None
        stage_times: dict[str, float] = {}
        try:
            stage_times = dict(self.workload.operation(ticket.index))
        except Exception as exc:
            failure = classify_failure(exc, self.workload.classify)
            log.debug("operation %s failed (%s): %s", ticket.index, failure, exc)
        ended = time.perf_counter()
        if failure is None and ended - started > self.options.timeout_s:
            failure = "timeout"
        if not ticket.measured or self._finished.is_set():
            return
        with recorder.lock:
            self._record(recorder, ticket, (started, ended), failure, stage_times)

    def _record(
        self,
        recorder: Recorder,
        ticket: _Ticket,
        span: tuple[float, float],
        failure: FailureClass | None,
        stage_times: dict[str, float],
    ) -> None:
        started, ended = span
        base = self._measure_start
        recorder.sent += 1
        recorder.second(started - base).sent += 1
        recorder.first_send = _min(recorder.first_send, started)
        recorder.last_send = _max(recorder.last_send, started)
        recorder.last_end = _max(recorder.last_end, ended)
        phase = recorder.phase(ticket.phase)
        phase.sent += 1
        if failure is not None:
            phase.failed += 1
            recorder.add_failure(failure, ended - base)
            return
        latency = ended - ticket.intended
        phase.succeeded += 1
        phase.latency.record(latency)
        recorder.succeeded += 1
        recorder.latency.record(latency)
        second = recorder.second(ended - base)
        second.succeeded += 1
        second.latency.record(latency)
        for stage, seconds in stage_times.items():
            recorder.stages.setdefault(stage, LatencyHistogram()).record(seconds)

    def _drop(self, ticket: _Ticket) -> None:
        """A ticket never sent before the deadline: a timeout the system caused."""
        if ticket.release is not None:
            ticket.release.release()
        with self._inflight_lock:
            self._outstanding -= 1
            if ticket.measured:
                self._unsent += 1

    # -- progress and the result

    def _report_progress(
        self, now: float, last: tuple[int, int, int]
    ) -> tuple[int, int, int]:
        sent = succeeded = failed = 0
        window = LatencyHistogram()
        current = int(now - self._measure_start) - 1
        for recorder in self._recorders:
            with recorder.lock:
                sent += recorder.sent
                succeeded += recorder.succeeded
                failed += sum(recorder.failed.values())
                if current in recorder.seconds:
                    window.merge(recorder.seconds[current].latency)
        if self.progress is not None:
            with self._inflight_lock:
                inflight = len(self._inflight)
            offered = self._offered_seconds.get(current, 0)
            self.progress(
                f"[{current + 1:>4} s] offered {offered}/s  sent {sent - last[0]}/s  "
                f"ok {succeeded - last[1]}/s  failed {failed - last[2]}  "
                f"p50 {window.percentile_ms(50):.1f} ms  "
                f"p99 {window.percentile_ms(99):.1f} ms  in flight {inflight}"
            )
        return sent, succeeded, failed

    def _result(self, nodes: dict[str, NodeUsage]) -> BenchResult:
        totals = Recorder()
        for recorder in self._recorders:
            with recorder.lock:
                totals.merge(recorder)
        for second, count in self._offered_seconds.items():
            totals.second(second).offered += count
        for number, count in self._offered_phases.items():
            totals.phase(number).offered += count
        with self._inflight_lock:
            abandoned = sum(1 for t in self._inflight.values() if t.measured)
            unsent = self._unsent + sum(1 for t in _drain(self._queue) if t.measured)
        for _ in range(unsent + abandoned):
            totals.failed["timeout"] = totals.failed.get("timeout", 0) + 1
        if unsent or abandoned:
            log.warning(
                "benchmark stopped at its deadline: %s never sent, %s abandoned",
                unsent,
                abandoned,
            )
        end = totals.last_end if totals.last_end is not None else time.perf_counter()
        if unsent or abandoned:
            end = max(end, min(time.perf_counter(), self._deadline))
        if not self._count_reached():
            # The schedule ran its course: the window is at least its length.
            end = max(end, self._measure_start + self.schedule.measured_s)
        first, last = self._offered_first, self._offered_last
        return BenchResult(
            workload=self.workload.name,
            schedule=self.schedule,
            stages=self.workload.stages,
            offered=self._offered,
            offered_span_s=(last - first)
            if first is not None and last is not None
            else 0.0,
            totals=totals,
            duration_s=max(end - self._measure_start, 1e-9),
            nodes=nodes,
            limit_errors={},
            unsent=unsent,
            abandoned=abandoned,
        )


def _drain(tickets: queue.SimpleQueue[_Ticket]) -> list[_Ticket]:
    drained = []
    while True:
        try:
            drained.append(tickets.get_nowait())
        except queue.Empty:
            return drained


def _sleep_until(at: float, stop: threading.Event) -> None:
    """Sleep until perf_counter reaches ``at``; a stop request ends it early."""
    while True:
        remaining = at - time.perf_counter()
        if remaining <= 0 or stop.is_set():
            return
        time.sleep(min(remaining, _POLL_S))


def measure_limits(
    probes: dict[str, LimitProbe],
    progress: Progress | None = None,
    *,
    when: str = "",
) -> tuple[dict[str, float], dict[str, str]]:
    """Run each probe alone; rates by name, and why a probe could not run."""
    rates: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name, probe in probes.items():
        if progress is not None:
            progress(f"measuring the {name} limit alone{' ' if when else ''}{when}")
        started = time.perf_counter()
        try:
            rate = float(probe())
        except HarnessError as exc:
            log.warning("limit %s not measured: %s", name, exc)
            errors[name] = str(exc)
            continue
        rates[name] = rate
        elapsed = time.perf_counter() - started
        log.info("limit %s: %.1f ops/s", name, rate)
        if progress is not None:
            progress(f"  {name}: {rate:.1f}/s (measured in {elapsed:.0f} s)")
    return rates, errors


def run_benchmark(
    workload: Workload,
    schedule: Schedule,
    options: RunOptions | None = None,
    *,
    progress: Progress | None = None,
    limits: dict[str, LimitProbe] | None = None,
) -> BenchResult:
    """Set up ``workload``, drive it on ``schedule``, tear it down, measure limits.

    ``limits`` defaults to the workload's own probes (when ``options`` asks for
    them); each runs alone after the load, with nothing else going on.
    """
    options = options or RunOptions()
    if limits is None:
        limits = workload.limits() if options.measure_limits else {}
    before: dict[str, float] = {}
    if limits and options.limits_before:
        before, _ = measure_limits(limits, progress, when="before the load")
    if progress is not None:
        progress(f"setting up the {workload.name} workload")
    started = time.perf_counter()
    workload.setup()
    if progress is not None:
        progress(f"  set up in {time.perf_counter() - started:.0f} s")
    try:
        result = BenchmarkRunner(workload, schedule, options, progress).run()
    finally:
        workload.teardown()
    after, result.limit_errors = measure_limits(
        limits, progress, when="after the load" if before else ""
    )
    result.limit_samples = {
        name: [rate for rate in (before.get(name), after[name]) if rate is not None]
        for name in after
    }
    log.info(
        "benchmark %s: %s requests, %.1f/s succeeded, ratio to limit %s",
        result.workload,
        result.requests,
        result.throughput_rps,
        result.ratio_to_limit,
    )
    return result
