"""Benchmarks: load generation with rate control, latency percentiles, failure
classes, component limits and reports; and the HSM signing benchmark.

    spec = load_benchmark(Path("scenarios/bench-token-issues.yaml"))
    finished = run_benchmark_spec(spec)   # report.json, series.csv, report.html
    finished.report["throughput_rps"], finished.report["ratio_to_limit"]

Lower level: :func:`run_benchmark` drives any :class:`Workload` on a
:class:`Schedule` of :class:`FixedRate`, :class:`LinearRamp` and :class:`FixedLoad`
phases. New workloads plug in with :func:`register_workload`; distributed load
comes from Locust through :mod:`harness.bench.locust_user`.
"""

from harness.bench._config import (
    BenchmarkRun,
    BenchmarkSpec,
    load_benchmark,
    parse_benchmark,
    run_benchmark_spec,
)
from harness.bench._histogram import LatencyHistogram
from harness.bench._report import (
    CONTRACT_FIELDS,
    report_html,
    report_json,
    series_csv,
    series_rows,
    write_reports,
)
from harness.bench._runner import (
    BenchmarkRunner,
    BenchResult,
    RunOptions,
    measure_limits,
    ratio_to_limit,
    run_benchmark,
)
from harness.bench._schedule import FixedLoad, FixedRate, LinearRamp, Phase, Schedule
from harness.bench._signing import SigningBenchmark, SigningRun, measure_signing
from harness.bench._workload import (
    FAILURE_CLASSES,
    BaseWorkload,
    FailureClass,
    LimitProbe,
    OperationFailed,
    StageTimes,
    Workload,
    WorkloadError,
    WorkloadUnavailableError,
    available_workloads,
    classify_failure,
    create_workload,
    limit_probe,
    register_limit,
    register_workload,
    workload_entry,
    workload_names,
)

__all__ = [
    "CONTRACT_FIELDS",
    "FAILURE_CLASSES",
    "BaseWorkload",
    "BenchResult",
    "BenchmarkRun",
    "BenchmarkRunner",
    "BenchmarkSpec",
    "FailureClass",
    "FixedLoad",
    "FixedRate",
    "LatencyHistogram",
    "LimitProbe",
    "LinearRamp",
    "OperationFailed",
    "Phase",
    "RunOptions",
    "Schedule",
    "SigningBenchmark",
    "SigningRun",
    "StageTimes",
    "Workload",
    "WorkloadError",
    "WorkloadUnavailableError",
    "available_workloads",
    "classify_failure",
    "create_workload",
    "limit_probe",
    "load_benchmark",
    "measure_limits",
    "measure_signing",
    "parse_benchmark",
    "ratio_to_limit",
    "register_limit",
    "register_workload",
    "report_html",
    "report_json",
    "run_benchmark",
    "run_benchmark_spec",
    "series_csv",
    "series_rows",
    "workload_entry",
    "workload_names",
    "write_reports",
]
