"""What a benchmark run leaves behind: report.json, series.csv and report.html.

``report.json`` follows DESIGN.md's benchmark contract field for field, plus a few
fields of detail (``benchmark``, ``schedule``, ``nodes``, ``unsent``...) that no
contract reader depends on. All files go into the run folder through a temporary
file and a rename.
"""

from __future__ import annotations

import csv
import io
import math
from html import escape
from pathlib import Path
from typing import Any

from harness.bench._histogram import LatencyHistogram
from harness.bench._runner import BenchResult
from harness.bench._svg import bar_chart, line_chart
from harness.bench._workload import FAILURE_CLASSES
from harness.runs import RunDir

CONTRACT_FIELDS = (
    "workload",
    "offered_rps",
    "sent_rps",
    "requests",
    "succeeded",
    "failed",
    "duration_s",
    "throughput_rps",
    "latency_ms",
    "stages_ms",
    "limits",
    "ratio_to_limit",
)


def report_json(result: BenchResult, benchmark: str | None = None) -> dict[str, Any]:
    """The benchmark report.json object (DESIGN.md's contract, then details)."""
    stages = {
        stage: {
            "p50": round(hist.percentile_ms(50), 3),
            "p95": round(hist.percentile_ms(95), 3),
        }
        for stage, hist in _stage_histograms(result).items()
    }
    ratio = result.ratio_to_limit
    phases = phase_reports(result)
    report: dict[str, Any] = {
        "workload": result.workload,
        "offered_rps": round(result.offered_rps, 3),
        "sent_rps": round(result.sent_rps, 3),
        "requests": result.requests,
        "succeeded": result.succeeded,
        "failed": result.failed(),
        "duration_s": round(result.duration_s, 3),
        "throughput_rps": round(result.throughput_rps, 3),
        "latency_ms": result.totals.latency.summary_ms(),
        "stages_ms": stages,
        "limits": {name: round(rate, 1) for name, rate in result.limits.items()},
        "ratio_to_limit": None if ratio is None else round(ratio, 3),
    }
    report.update(
        benchmark=benchmark or result.workload,
        schedule=result.schedule.describe(),
        warmup_s=result.schedule.warmup_s,
        unsent=result.unsent,
        abandoned=result.abandoned,
        limit_errors=result.limit_errors,
        limit_samples={
            name: [round(rate, 1) for rate in rates]
            for name, rates in result.limit_samples.items()
        },
        phases=phases,
        peak=peak_phase(phases),
        nodes={name: usage.summary() for name, usage in result.nodes.items()},
    )
    return report


def peak_phase(phases: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The phase with the highest throughput: when the schedule drives the system
    to saturation (a fixed load with enough in flight), its ratio to the slowest
    limit is the Request Manager's efficiency at saturation. None without phases."""
    if not phases:
        return None
    best = max(phases, key=lambda entry: entry["throughput_rps"])
    return {
        key: best[key]
        for key in ("phase", "throughput_rps", "p50_ms", "p99_ms", "ratio_to_limit")
    }


def phase_reports(result: BenchResult) -> list[dict[str, Any]]:
    """Per measured phase: its load, throughput over its length, latency, ratio.

    Operations count in the phase that issued them; a backlog that spills into
    the next phase still counts for the phase that offered it.
    """
    from harness.bench._runner import ratio_to_limit
    from harness.bench._schedule import describe_phase

    reports = []
    for number, phase in enumerate(result.schedule.phases):
        stats = result.totals.phases.get(number)
        if stats is None:
            continue
        throughput = stats.succeeded / phase.duration_s
        ratio = ratio_to_limit(throughput, result.limits)
        reports.append(
            {
                "phase": describe_phase(phase),
                "offered": stats.offered,
                "sent": stats.sent,
                "succeeded": stats.succeeded,
                "failed": stats.failed,
                "throughput_rps": round(throughput, 3),
                "p50_ms": round(stats.latency.percentile_ms(50), 3),
                "p99_ms": round(stats.latency.percentile_ms(99), 3),
                "ratio_to_limit": None if ratio is None else round(ratio, 3),
            }
        )
    return reports


def _stage_histograms(result: BenchResult) -> dict[str, LatencyHistogram]:
    ordered = {
        s: result.totals.stages[s] for s in result.stages if s in result.totals.stages
    }
    ordered.update(result.totals.stages)
    return ordered


# -- time series


def series_rows(result: BenchResult) -> list[dict[str, Any]]:
    """One row per second of the measured window."""
    seconds = max(math.ceil(result.duration_s - 1e-9), 1)
    usage = _usage_by_second(result)
    rows = []
    for second in range(seconds):
        entry = result.totals.seconds.get(second)
        row: dict[str, Any] = {"second": second + 1}
        row["offered"] = entry.offered if entry else 0
        row["sent"] = entry.sent if entry else 0
        row["succeeded"] = entry.succeeded if entry else 0
        failed = entry.failed if entry else {}
        row["failed"] = sum(failed.values())
        for name in FAILURE_CLASSES:
            row[f"failed_{name}"] = failed.get(name, 0)
        hist = entry.latency if entry else LatencyHistogram()
        row["p50_ms"] = round(hist.percentile_ms(50), 3)
        row["p99_ms"] = round(hist.percentile_ms(99), 3)
        row["max_ms"] = round(hist.max_us / 1000, 3)
        for node in result.nodes:
            cpu, rss = usage.get((node, second), (None, None))
            row[f"cpu_percent[{node}]"] = cpu
            row[f"rss_mb[{node}]"] = rss
        rows.append(row)
    return rows


def _usage_by_second(result: BenchResult) -> dict[tuple[str, int], tuple[float, float]]:
    usage = {}
    for name, node in result.nodes.items():
        for offset, cpu, rss in node.samples:
            # A sample at t covers the second that ends at t.
            second = max(math.ceil(offset - 1e-6) - 1, 0)
            usage[(name, second)] = (round(cpu, 1), round(rss, 1))
    return usage


def series_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# -- HTML


def report_html(
    report: dict[str, Any], rows: list[dict[str, Any]], result: BenchResult
) -> str:
    """A page a person can read: the numbers, then four plots as inline SVG."""
    title = f"Benchmark {report['benchmark']}: {report['workload']}"
    plots = [
        _throughput_plot(rows),
        _latency_plot(rows),
        _distribution_plot(result.totals.latency),
        _failures_plot(report["failed"]),
    ]
    if result.nodes:
        plots.append(_cpu_plot(rows, list(result.nodes)))
    return _PAGE.format(
        title=escape(title),
        summary=_summary_table(report),
        stages=_stages_table(report["stages_ms"]),
        phases=_phases_table(report["phases"]),
        limits=_limits_table(report),
        nodes=_nodes_table(report["nodes"]),
        plots="\n".join(f"<figure>{plot}</figure>" for plot in plots),
    )


def _throughput_plot(rows: list[dict[str, Any]]) -> str:
    series = {
        name: [(float(r["second"]), float(r[name])) for r in rows]
        for name in ("offered", "sent", "succeeded", "failed")
    }
    return line_chart(
        "throughput",
        "Throughput over time",
        series,
        x_label="second of the measured window",
        y_label="operations per second",
    )


def _latency_plot(rows: list[dict[str, Any]]) -> str:
    series = {
        name: [
            (float(r["second"]), float(r[f"{name}_ms"])) for r in rows if r["succeeded"]
        ]
        for name in ("p50", "p99", "max")
    }
    return line_chart(
        "latency",
        "Latency over time (from the intended send time)",
        series,
        x_label="second of the measured window",
        y_label="milliseconds",
    )


def _distribution_plot(histogram: LatencyHistogram) -> str:
    """Counts in bins of a fifth of a decade, labelled by their upper bound."""
    bins: dict[int, int] = {}
    for lower, upper, count in histogram.buckets():
        middle = max((lower + upper) / 2, 1.0)
        key = math.floor(math.log10(middle) * 5)
        bins[key] = bins.get(key, 0) + count
    bars = []
    if bins:
        for key in range(min(bins), max(bins) + 1):
            upper_ms = 10 ** ((key + 1) / 5) / 1000
            bars.append((f"{upper_ms:.3g}", float(bins.get(key, 0))))
    return bar_chart(
        "distribution",
        "Latency distribution (succeeded operations)",
        bars,
        y_label="operations",
        x_label="latency up to (ms)",
    )


def _failures_plot(failed: dict[str, int]) -> str:
    bars = [(name, float(failed.get(name, 0))) for name in FAILURE_CLASSES]
    return bar_chart("failures", "Failures by class", bars, y_label="operations")


def _cpu_plot(rows: list[dict[str, Any]], nodes: list[str]) -> str:
    series = {
        node: [
            (float(r["second"]), float(r[f"cpu_percent[{node}]"]))
            for r in rows
            if r[f"cpu_percent[{node}]"] is not None
        ]
        for node in nodes
    }
    return line_chart(
        "cpu",
        "CPU of each node",
        series,
        x_label="second of the measured window",
        y_label="CPU % (100 = one core)",
    )


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)


def _summary_table(report: dict[str, Any]) -> str:
    failed = {k: v for k, v in report["failed"].items() if v}
    return _table(
        [
            ("schedule", report["schedule"]),
            ("offered rate (ops/s)", report["offered_rps"]),
            ("achieved send rate (ops/s)", report["sent_rps"]),
            ("throughput, succeeded (ops/s)", report["throughput_rps"]),
            ("requests", report["requests"]),
            ("succeeded", report["succeeded"]),
            ("failed", failed or "none"),
            ("measured window (s)", report["duration_s"]),
            ("latency (ms)", report["latency_ms"]),
        ]
    )


def _stages_table(stages: dict[str, dict[str, float]]) -> str:
    return _table(list(stages.items())) if stages else ""


def _phases_table(phases: list[dict[str, Any]]) -> str:
    rows = [
        (
            entry["phase"],
            {k: v for k, v in entry.items() if k != "phase"},
        )
        for entry in phases
    ]
    return _table(rows)


def _limits_table(report: dict[str, Any]) -> str:
    samples = report.get("limit_samples", {})
    rows: list[tuple[str, Any]] = [
        (f"{name} (ops/s)", _with_samples(rate, samples.get(name, [])))
        for name, rate in report["limits"].items()
    ]
    rows += [
        (f"{name} (not measured)", why) for name, why in report["limit_errors"].items()
    ]
    rows.append(("throughput / slowest limit", report["ratio_to_limit"]))
    peak = report.get("peak")
    if peak is not None:
        rows.append(
            (
                f"peak phase ({peak['phase']}) / slowest limit",
                peak["ratio_to_limit"],
            )
        )
    return _table(rows)


def _with_samples(rate: float, samples: list[float]) -> str:
    if len(samples) < 2:
        return f"{rate}"
    return f"{rate} (mean of {', '.join(str(s) for s in samples)})"


def _nodes_table(nodes: dict[str, dict[str, Any]]) -> str:
    return _table(list(nodes.items()))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
th {{ background: #f2f2f2; font-weight: normal; }}
figure {{ margin: 1em 0; }}
</style></head>
<body>
<h1>{title}</h1>
<h2>Summary</h2>{summary}
<h2>Phases</h2>{phases}
<h2>Stages (ms)</h2>{stages}
<h2>Component limits, each measured alone</h2>{limits}
<h2>Nodes (CPU, memory)</h2>{nodes}
<h2>Plots</h2>
{plots}
</body></html>
"""


def write_reports(
    run: RunDir, result: BenchResult, benchmark: str | None = None
) -> dict[str, Path]:
    """report.json, series.csv and report.html into ``run``; their paths."""
    report = report_json(result, benchmark)
    rows = series_rows(result)
    return {
        "json": run.write_json("report.json", report),
        "csv": run.write_text("series.csv", series_csv(rows)),
        "html": run.write_text("report.html", report_html(report, rows, result)),
    }
