"""``harness seed``: load the fixture utilities and emissions factors into a network.

harness seed --dry-run           validate the fixture rows and list them
harness seed --run DIR           import them into the network 'harness up' started
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli._output import add_report_options, emit, progress
from harness.errors import ConfigError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "seed",
        help="load the fixture utilities and emissions factors through the chaincode",
        description="Import fixtures/emissions (utility lookup items, emissions "
        "factors) with importUtilityIdentifier / importUtilityFactor, as a client "
        "would. Rows that already exist are skipped.",
    )
    parser.add_argument(
        "--run", type=Path, metavar="DIR", help="run folder printed by 'harness up'"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only validate the fixture rows and list them; no network needed",
    )
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=None,
        metavar="DIR",
        help="fixtures folder (default: $HARNESS_FIXTURES or the source tree's)",
    )
    parser.add_argument("--org", default="Org1", help="the client's org (default Org1)")
    parser.add_argument(
        "--user", default="user1", help="the client user (default user1)"
    )
    parser.add_argument("--channel", default="utilityemissionchannel")
    parser.add_argument("--chaincode", default="utilityemissions")
    add_report_options(parser)
    parser.set_defaults(handler=_seed)


def _seed(args: argparse.Namespace) -> int:
    from harness.chaincode.seed import read_fixtures

    fixtures = read_fixtures(args.fixtures)
    if args.dry_run:
        rows = [
            {"kind": row.kind, "uuid": row.uuid, "source": row.source}
            for row in fixtures.rows
        ]
        if not args.json:
            for row in fixtures.rows:
                progress(f"{row.kind:8} {row.uuid:32} {row.source}")
        summary = (
            f"{len(fixtures.utilities)} utilities and {len(fixtures.factors)} "
            "emissions factors are valid (dry run: nothing imported)"
        )
        emit(args, {"dry_run": True, "rows": rows}, summary)
        return 0
    return _load_into_network(args, fixtures)


def _load_into_network(args: argparse.Namespace, fixtures: Any) -> int:
    from harness.chaincode.seed import load_fixtures
    from harness.fabric._reuse import attach
    from harness.runs import RunDir

    if args.run is not None:
        run = RunDir.open(args.run)
    else:
        run = RunDir.latest("network", args.run_dir, command="harness up")
    if run.status() != "ready":
        raise ConfigError(
            f"the network in {run.path} is not running (status {run.status()})",
            hint="start one with 'harness up', or use --dry-run",
        )
    with attach(run) as network:
        client = network.client(args.org, args.user)
        report = load_fixtures(
            client,
            args.channel,
            fixtures=fixtures,
            chaincode=args.chaincode,
            progress=None if args.json else _show,
        )
    result = report.as_dict() | {"run_dir": str(run.path)}
    summary = (
        f"{result['imported']} rows imported, {result['skipped']} already there, "
        f"into {args.chaincode} on {args.channel} ({run.path})"
    )
    emit(args, result, summary)
    return 0


def _show(step: Any) -> None:
    progress(
        f"[{step.done}/{step.total}] {step.row.kind} {step.row.uuid}: {step.outcome}"
    )
