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
    # TODO(seed-client): needs a FabricClient built from a run folder (its
    # connection profile and a user's key, file or HSM); no such helper exists yet.
    raise ConfigError(
        "loading into a running network needs a client built from the run folder, "
        "which the harness does not provide yet",
        hint="use --dry-run to validate the rows, or call "
        "harness.chaincode.seed.load_fixtures(client) from Python",
    )
