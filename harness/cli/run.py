"""``harness run [SCENARIO ...]``: the main job. Without a scenario it runs
lock-record-mint on networks/default.yaml."""

from __future__ import annotations

import argparse
from typing import Any

from harness.cli._output import add_report_options, emit, progress


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run scenarios (default: lock-record-mint on the default network)"
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="names under scenarios/ or YAML paths",
    )
    parser.add_argument(
        "--network", help="run on this network spec instead of the scenario's"
    )
    parser.add_argument(
        "--orchestrator",
        choices=("request-manager", "naive"),
        help="'naive' runs the deliberately broken 2021-style flow (to see checks fail)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the shipped scenarios"
    )
    add_report_options(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.scenario import (
        DEFAULT_SCENARIO,
        list_scenarios,
        load_scenario,
        run_scenario,
        summary,
    )

    if args.list:
        names = list_scenarios()
        emit(args, {"scenarios": names}, "\n".join(names))
        return 0
    scenarios = [load_scenario(name) for name in args.scenarios or [DEFAULT_SCENARIO]]
    reports = []
    for scenario in scenarios:
        progress(f"scenario {scenario.name}: {scenario.description}")
        report = run_scenario(
            scenario,
            run_root=args.run_dir,
            network=args.network,
            orchestrator=args.orchestrator,
            progress=progress,
        )
        reports.append(report)
        if not args.json:
            print(summary(report))
    passed = all(report.passed for report in reports)
    if args.json:
        payload = (
            reports[0].to_json()
            if len(reports) == 1
            else {
                "passed": passed,
                "scenarios": [r.to_json() for r in reports],
            }
        )
        emit(args, payload, "\n".join(summary(r) for r in reports))
    return 0 if passed else 1
