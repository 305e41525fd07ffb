"""Shared option sets and output for subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--run-dir``, which every reporting subcommand accepts."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout (summary on stderr)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="parent folder of run folders (default: $HARNESS_RUNS or .harness/runs)",
    )


def emit(args: argparse.Namespace, payload: dict[str, Any], summary: str) -> None:
    """The human summary, and with ``--json`` the payload as one JSON object on stdout."""
    if getattr(args, "json", False):
        print(summary, file=sys.stderr)
        json.dump(payload, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(summary)


def progress(message: str) -> None:
    """A progress line for long work; always on stderr so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)
