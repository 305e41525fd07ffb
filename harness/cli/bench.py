"""``harness bench [FILE]``: run a benchmark file, write report.json, CSV and HTML.

(``harness hsm bench`` and ``harness chain bench`` measure one component each.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli._output import add_report_options, emit, progress

DEFAULT_FILE = Path("scenarios") / "bench-request-manager.yaml"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="load benchmark from a file: rate control, percentiles, reports",
        description="Run a benchmark file (scenarios/bench-*.yaml): drive its "
        "workload on its schedule, measure each component's limit alone, and "
        "write report.json, series.csv and report.html into a run folder. One "
        "progress line per second goes to stderr.",
    )
    parser.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=DEFAULT_FILE,
        help=f"benchmark file (default: {DEFAULT_FILE})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="scale the measured phases to S seconds in all",
    )
    parser.add_argument(
        "--warmup", type=float, default=None, metavar="S", help="warm-up seconds"
    )
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="do not measure the component limits",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no per-second progress lines"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the workloads and exit"
    )
    add_report_options(parser)
    parser.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from harness.bench import load_benchmark, run_benchmark_spec
    from harness.errors import ConfigError

    if args.list:
        return _list_workloads()
    spec = load_benchmark(args.file)
    if args.duration is not None:
        if args.duration <= 0:
            raise ConfigError(f"--duration must be above 0, got {args.duration}")
        spec = spec.with_duration(args.duration)
    if args.warmup is not None:
        spec = spec.with_warmup(max(args.warmup, 0.0))
    if args.no_limits:
        spec = _without_limits(spec)
    progress(f"benchmark {spec.name}: {spec.workload}, {spec.schedule.describe()}")
    finished = run_benchmark_spec(
        spec, root=args.run_dir, progress=None if args.quiet else progress
    )
    report = finished.report
    emit(args, report, _summary(report, finished.run.path))
    return 0


def _without_limits(spec: Any) -> Any:
    import dataclasses

    return dataclasses.replace(spec, limits=())


def _summary(report: dict[str, Any], run_dir: Path) -> str:
    latency = report["latency_ms"]
    failed = sum(report["failed"].values())
    ratio = report["ratio_to_limit"]
    lines = [
        f"{report['benchmark']} ({report['workload']}): {report['requests']} requests, "
        f"{report['succeeded']} succeeded, {failed} failed",
        f"  offered {report['offered_rps']:.1f}/s, sent {report['sent_rps']:.1f}/s, "
        f"throughput {report['throughput_rps']:.1f}/s over {report['duration_s']:.1f} s",
        f"  latency p50 {latency['p50']:.1f} ms, p99 {latency['p99']:.1f} ms, "
        f"max {latency['max']:.1f} ms",
    ]
    if report["limits"]:
        limits = ", ".join(f"{k} {v:.1f}/s" for k, v in report["limits"].items())
        slowest = min(report["limits"], key=report["limits"].get)
        samples = report.get("limit_samples", {}).get(slowest, [])
        lines.append(f"  limits alone: {limits}")
        if len(samples) > 1:
            taken = " and ".join(f"{rate:.1f}/s" for rate in samples)
            lines.append(f"  {slowest} measured before and after the load: {taken}")
        lines.append(f"  throughput / slowest limit ({slowest}): {ratio} over the run")
        peak = report.get("peak")
        if peak is not None and len(report["phases"]) > 1:
            lines.append(
                f"  peak phase {peak['phase']}: {peak['throughput_rps']:.1f}/s, "
                f"p99 {peak['p99_ms']:.1f} ms, ratio {peak['ratio_to_limit']}"
            )
    lines.append(f"  reports in {run_dir}")
    return "\n".join(lines)


def _list_workloads() -> int:
    from harness.bench import workload_entry, workload_names

    workload_entry("token-issues")  # loads the built-in registrations
    for name in workload_names():
        entry = workload_entry(name)
        state = "" if entry.factory else f"  [not yet: {entry.unavailable}]"
        print(f"{name}: {entry.description}{state}", file=sys.stdout)
    return 0
