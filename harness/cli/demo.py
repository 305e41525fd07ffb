"""``harness demo``: the main job. Until the scenario runner exists it runs the HSM
workflow (token, HSM-held identities, checks, a short signing benchmark)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run the main job and print its summary"
    )
    from harness.cli._output import add_report_options

    add_report_options(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.cli.hsm import run_workflow

    return run_workflow(args)
