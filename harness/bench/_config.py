"""Benchmark files (``scenarios/bench-*.yaml``): load, validate, resolve.

    name: bench-token-issues
    workload:
      name: token-issues             # see harness.bench.workload_names()
      records_per_request: 1         # Fabric workloads: records in one request
      key_space: 1000                # Fabric workloads: keys drawn from (contention)
      options: {quantity: 1000}      # the workload's own options
    warmup_s: 1
    count: 5000                      # optional: stop after this many operations
    phases:                          # one or more, run in order
      - {type: fixed-rate, rps: 20, duration_s: 10}
      - {type: ramp, from_rps: 10, to_rps: 60, duration_s: 10}
      - {type: fixed-load, concurrency: 4, duration_s: 10}
    workers: 16                      # worker threads (fixed-load adds its own)
    timeout_s: 10                    # an operation slower than this is a timeout
    drain_s: 5                       # time after the schedule for the last answers
    limits: [eth_tester_issue]       # components measured alone; default: the
                                     # workload's own; [] for none

Every mistake is one :class:`ConfigError` naming the file, the key path and the
allowed values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml

from harness.bench._runner import BenchResult, Progress, RunOptions, run_benchmark
from harness.bench._schedule import FixedLoad, FixedRate, LinearRamp, Phase, Schedule
from harness.bench._workload import (
    WorkloadUnavailableError,
    create_workload,
    limit_entry,
    limit_probe,
    workload_entry,
)
from harness.errors import ConfigError
from harness.runs import RunDir

_T = TypeVar("_T")

_TOP_KEYS = (
    "name",
    "description",
    "workload",
    "warmup_s",
    "count",
    "phases",
    "workers",
    "timeout_s",
    "drain_s",
    "limits",
)
_WORKLOAD_KEYS = ("name", "records_per_request", "key_space", "options")
_PHASE_KEYS: dict[str, tuple[str, ...]] = {
    "fixed-rate": ("rps", "duration_s"),
    "ramp": ("from_rps", "to_rps", "duration_s"),
    "fixed-load": ("concurrency", "duration_s"),
}


@dataclass(frozen=True)
class BenchmarkSpec:
    """A validated benchmark file."""

    name: str
    path: Path | None
    workload: str
    workload_options: dict[str, Any]
    schedule: Schedule
    options: RunOptions
    # Limit names to measure; None: the workload's own probes.
    limits: tuple[str, ...] | None
    description: str = ""

    def with_duration(self, seconds: float) -> BenchmarkSpec:
        """The same benchmark with its phases scaled to ``seconds`` in all."""
        factor = seconds / self.schedule.measured_s
        phases = tuple(
            dataclasses.replace(p, duration_s=p.duration_s * factor)
            for p in self.schedule.phases
        )
        schedule = Schedule(phases, self.schedule.warmup, self.schedule.count)
        return dataclasses.replace(self, schedule=schedule)

    def with_warmup(self, seconds: float) -> BenchmarkSpec:
        schedule = Schedule.of(
            self.schedule.phases, warmup_s=seconds, count=self.schedule.count
        )
        return dataclasses.replace(self, schedule=schedule)

    def resolved(self) -> dict[str, Any]:
        """What actually runs, for ``spec.yaml`` in the run folder."""
        return {
            "name": self.name,
            "workload": {"name": self.workload, "options": self.workload_options},
            "warmup_s": self.schedule.warmup_s,
            "count": self.schedule.count,
            "phases": [_phase_dict(p) for p in self.schedule.phases],
            "workers": self.options.workers,
            "timeout_s": self.options.timeout_s,
            "drain_s": self.options.drain_s,
            "limits": None if self.limits is None else list(self.limits),
        }


def load_benchmark(path: Path, *, require_available: bool = True) -> BenchmarkSpec:
    """Read and validate a benchmark file.

    With ``require_available``, a workload or limit whose system is not built yet
    is a :class:`WorkloadUnavailableError` (a ConfigError) saying what it needs.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read benchmark file {path}: {exc.strerror}",
            hint="pass a file such as scenarios/bench-token-issues.yaml",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_benchmark(
        data, source=str(path), path=path, require_available=require_available
    )


def parse_benchmark(
    data: Any,
    *,
    source: str = "<benchmark>",
    path: Path | None = None,
    require_available: bool = True,
) -> BenchmarkSpec:
    check = _Checker(source)
    top = check.mapping(data, "", _TOP_KEYS)
    workload = check.mapping(top.get("workload"), "workload", _WORKLOAD_KEYS)
    name = check.text(workload.get("name"), "workload.name")
    entry = _workload(check, name)
    options = dict(check.mapping(workload.get("options", {}), "workload.options", None))
    for key in options:
        if key not in entry.options:
            check.fail(f"workload.options.{key}", "unknown option", entry.options)
    for key in ("records_per_request", "key_space"):
        if key in workload:
            if key not in entry.options:
                check.fail(f"workload.{key}", f"not used by {name}", entry.options)
            options[key] = check.integer(workload[key], f"workload.{key}", 1)
    if require_available and entry.factory is None:
        raise WorkloadUnavailableError(
            f"{source}: workload.name: workload {name!r} is not available yet: "
            f"{entry.unavailable}"
        )
    limits = _limits(check, top.get("limits", True), require_available)
    schedule = _schedule(check, top)
    options_run = _run_options(check, top)
    default_name = path.stem if path is not None else name
    return BenchmarkSpec(
        name=check.text(top.get("name", default_name), "name"),
        path=path,
        workload=name,
        workload_options=options,
        schedule=schedule,
        options=options_run,
        limits=limits,
        description=str(top.get("description", "")),
    )


def _workload(check: _Checker, name: str) -> Any:
    try:
        return workload_entry(name)
    except ConfigError as exc:
        raise ConfigError(f"{check.source}: workload.name: {exc}") from None


def _limits(
    check: _Checker, raw: Any, require_available: bool
) -> tuple[str, ...] | None:
    if raw is True:
        return None
    if raw is False:
        return ()
    if not isinstance(raw, list):
        check.fail("limits", "must be true, false or a list of limit names", None)
    names = []
    for number, item in enumerate(raw):
        where = f"limits[{number}]"
        limit = check.text(item, where)
        try:
            entry = limit_entry(limit)
        except ConfigError as exc:
            raise ConfigError(f"{check.source}: {where}: {exc}") from None
        if require_available and entry.probe is None:
            raise WorkloadUnavailableError(
                f"{check.source}: {where}: limit {limit!r} cannot be measured yet: "
                f"{entry.unavailable}"
            )
        names.append(limit)
    return tuple(names)


def _schedule(check: _Checker, top: Mapping[str, Any]) -> Schedule:
    raw = top.get("phases")
    if not isinstance(raw, list) or not raw:
        check.fail("phases", "must be a list of one or more phases", tuple(_PHASE_KEYS))
    phases = [_phase(check, item, f"phases[{n}]") for n, item in enumerate(raw)]
    warmup = check.number(top.get("warmup_s", 0), "warmup_s", 0)
    count = top.get("count")
    if count is not None:
        count = check.integer(count, "count", 1)
    return _guard(
        check, "phases", lambda: Schedule.of(phases, warmup_s=warmup, count=count)
    )


def _phase(check: _Checker, raw: Any, where: str) -> Phase:
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(kind, str) or kind not in _PHASE_KEYS:
        check.fail(f"{where}.type", f"unknown phase type {kind!r}", tuple(_PHASE_KEYS))
    fields = _PHASE_KEYS[kind]
    phase = check.mapping(raw, where, ("type", *fields))
    for key in fields:
        if key not in phase:
            check.fail(f"{where}.{key}", f"missing (a {kind} phase needs it)", fields)
    if kind == "fixed-load":
        concurrency = check.integer(phase["concurrency"], f"{where}.concurrency", 1)
        duration = check.number(phase["duration_s"], f"{where}.duration_s", 0)
        return _guard(check, where, lambda: FixedLoad(concurrency, duration))
    values = {key: check.number(phase[key], f"{where}.{key}", 0) for key in fields}
    if kind == "ramp":
        return _guard(check, where, lambda: LinearRamp(**values))
    return _guard(check, where, lambda: FixedRate(**values))


def _run_options(check: _Checker, top: Mapping[str, Any]) -> RunOptions:
    defaults = RunOptions()
    workers = check.integer(top.get("workers", defaults.workers), "workers", 1)
    timeout = check.number(top.get("timeout_s", defaults.timeout_s), "timeout_s", 0)
    drain = check.number(top.get("drain_s", defaults.drain_s), "drain_s", 0)
    return _guard(
        check,
        "workers",
        lambda: RunOptions(workers=workers, timeout_s=timeout, drain_s=drain),
    )


def _guard(check: _Checker, where: str, build: Callable[[], _T]) -> _T:
    try:
        return build()
    except ConfigError as exc:
        raise ConfigError(f"{check.source}: {where}: {exc}") from None


def _phase_dict(phase: Phase) -> dict[str, Any]:
    return {"type": phase.kind, **dataclasses.asdict(phase)}


class _Checker:
    """Type checks that fail with the file, the key path and what is allowed."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(
        self, where: str, problem: str, allowed: tuple[str, ...] | None
    ) -> NoReturn:
        hint = f"allowed: {', '.join(allowed)}" if allowed else None
        where = where or "top level"
        raise ConfigError(f"{self.source}: {where}: {problem}", hint=hint)

    def mapping(
        self, raw: Any, where: str, keys: tuple[str, ...] | None
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(where, f"must be a mapping, got {type(raw).__name__}", keys)
        for key in raw:
            if keys is not None and key not in keys:
                path = f"{where}.{key}" if where else str(key)
                self.fail(path, "unknown key", keys)
        return dict(raw)

    def text(self, raw: Any, where: str) -> str:
        if not isinstance(raw, str) or not raw:
            self.fail(where, f"must be a non-empty string, got {raw!r}", None)
        return str(raw)

    def number(self, raw: Any, where: str, minimum: float) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < minimum:
            self.fail(where, f"must be a number >= {minimum:g}, got {raw!r}", None)
        return float(raw)

    def integer(self, raw: Any, where: str, minimum: int) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
            self.fail(where, f"must be a whole number >= {minimum}, got {raw!r}", None)
        return int(raw)


@dataclass(frozen=True)
class BenchmarkRun:
    """A finished benchmark: its run folder, result, report object and files."""

    run: RunDir
    result: BenchResult
    report: dict[str, Any]
    files: dict[str, Path]


def run_benchmark_spec(
    spec: BenchmarkSpec,
    *,
    root: Path | None = None,
    progress: Progress | None = None,
) -> BenchmarkRun:
    """Run a benchmark file's workload into a new run folder with all its reports."""
    from harness.bench._report import report_json, write_reports

    run = RunDir.create("bench", root)
    run.write_text("spec.yaml", yaml.safe_dump(spec.resolved(), sort_keys=False))
    workload = create_workload(spec.workload, spec.workload_options)
    limits = None
    if spec.limits is not None:
        limits = {name: limit_probe(name) for name in spec.limits}
    run.set_status("running")
    try:
        result = run_benchmark(
            workload, spec.schedule, spec.options, progress=progress, limits=limits
        )
    except BaseException:
        run.set_status("failed")
        raise
    files = write_reports(run, result, spec.name)
    run.set_status("done")
    return BenchmarkRun(run, result, report_json(result, spec.name), files)
