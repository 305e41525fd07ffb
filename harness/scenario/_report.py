"""A scenario's report three ways: report.json (DESIGN.md's contract), report.html for
a person, and the console summary."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.scenario._runner import Outcome, ScenarioReport


def write_reports(run: RunDir, report: ScenarioReport) -> None:
    run.write_json("report.json", report.to_json())
    run.write_text("report.html", render_html(report))


def summary(report: ScenarioReport) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"scenario {report.scenario} on network '{report.network}' "
        f"({report.backend}, {report.orchestrator})",
        f"  run folder {report.run_dir}",
    ]
    if report.error:
        lines.append(f"  stopped: {report.error}")
    lines.append("  steps")
    lines += [_line(outcome) for outcome in report.steps]
    if report.checks:
        lines.append("  checks")
        lines += [_line(outcome) for outcome in report.checks]
    if report.fabric:
        codes = ", ".join(
            f"{k} {v}" for k, v in sorted(report.fabric["tx_by_code"].items())
        )
        lines.append(
            f"  fabric    {report.fabric['blocks']} blocks; transactions: {codes}"
        )
    if report.ethereum:
        lines.append(
            f"  ethereum  {report.ethereum['blocks']} blocks; "
            f"{report.ethereum['tokens_minted']} token(s) minted"
        )
    lines.append(
        f"{verdict} in {report.seconds:.1f} s (report.json, report.html in the run folder)"
    )
    return "\n".join(lines)


def _line(outcome: Outcome) -> str:
    mark = "ok" if outcome.passed else "FAILED"
    detail = (
        outcome.detail if len(outcome.detail) <= 90 else outcome.detail[:87] + "..."
    )
    return f"    {outcome.name:<30}{mark:<8}{outcome.seconds:6.2f}s  {detail}"


def render_html(report: ScenarioReport) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    color = "#1a7f37" if report.passed else "#cf222e"
    codes = report.fabric.get("tx_by_code", {}) if report.fabric else {}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(report.scenario)}: {verdict}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
        ".ok{color:#1a7f37}.bad{color:#cf222e;font-weight:bold}</style></head><body>",
        f"<h1>{_e(report.scenario)} <span style='color:{color}'>{verdict}</span></h1>",
        f"<p>network <b>{_e(report.network)}</b> ({_e(report.backend)}), orchestrator "
        f"<b>{_e(report.orchestrator)}</b>, {report.seconds:.1f} s, run folder "
        f"<code>{_e(report.run_dir)}</code></p>",
    ]
    if report.error:
        parts.append(f"<p class='bad'>stopped: {_e(report.error)}</p>")
    parts.append(_table("Steps", report.steps))
    parts.append(_table("Checks", report.checks))
    if codes:
        rows = "".join(
            f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in sorted(codes.items())
        )
        parts.append(
            f"<h2>Fabric</h2><p>{report.fabric['blocks']} blocks</p>"
            f"<table><tr><th>validation code</th><th>transactions</th></tr>{rows}</table>"
        )
    if report.ethereum:
        parts.append(
            f"<h2>Ethereum</h2><p>{report.ethereum['blocks']} blocks, "
            f"{report.ethereum['tokens_minted']} token(s) minted</p>"
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def _table(title: str, outcomes: list[Outcome]) -> str:
    if not outcomes:
        return ""
    rows = "".join(
        f"<tr><td>{_e(o.name)}</td>"
        f"<td class='{'ok' if o.passed else 'bad'}'>{'ok' if o.passed else 'FAILED'}</td>"
        f"<td>{o.seconds:.2f} s</td><td>{_e(o.detail)}</td></tr>"
        for o in outcomes
    )
    return (
        f"<h2>{title}</h2><table><tr><th>name</th><th>result</th><th>time</th>"
        f"<th>detail</th></tr>{rows}</table>"
    )


def _e(text: str) -> str:
    return html.escape(str(text))
