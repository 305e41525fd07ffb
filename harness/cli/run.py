"""``harness run [SCENARIO ...]``: the main job. Without a scenario it runs
lock-record-mint on networks/default.yaml.

``harness run [SCENARIO ...] --run DIR`` runs on the network already up in ``DIR``
(a run folder printed by ``harness up``, ``harness up --processes`` or ``harness up
--via ansible``) over gRPC instead of starting a simulated one; the scenario's own
report still goes to a new scenario run folder under ``--run-dir``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli._output import add_report_options, emit, progress

if TYPE_CHECKING:
    from harness.runs import RunDir


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
        "--run",
        type=Path,
        metavar="DIR",
        help="run on the network already up in this run folder (from 'harness up')",
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
    attached = _attached(args)
    reports = []
    for scenario in scenarios:
        progress(f"scenario {scenario.name}: {scenario.description}")
        report = run_scenario(
            scenario,
            run_root=args.run_dir,
            network=args.network,
            orchestrator=args.orchestrator,
            progress=progress,
            attach=attached,
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


def _attached(args: argparse.Namespace) -> RunDir | None:
    """The run folder of ``--run``, checked before any scenario starts."""
    from harness.errors import ConfigError
    from harness.runs import RunDir

    if args.run is None:
        return None
    if args.network is not None:
        raise ConfigError(
            "--network and --run both name the network to run on",
            hint="drop --network: the run folder's network is used",
        )
    run = RunDir.open(args.run)
    if run.status() != "ready":
        raise ConfigError(
            f"the network in {run.path} is not running (status {run.status()})",
            hint="start one with 'harness up' and pass the folder it prints",
        )
    return run
