"""The ``harness`` command. Each subcommand calls the library's public functions.

Conventions (DESIGN.md): every reporting subcommand takes ``--json`` (one JSON object
on stdout, the human summary on stderr) and ``--run-dir DIR``; a user's mistake prints
one line and exits 2, a failed check exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from harness.errors import HarnessError

# Subcommand modules; each has ``register(subparsers)``. Heavy imports live inside
# the command functions so that ``harness --help`` stays fast.
_COMMAND_MODULES = (
    "harness.cli.hsm",
    "harness.cli.chain",
    "harness.cli.network",
    "harness.cli.run",
    "harness.cli.seed",
    "harness.cli.importer",
    "harness.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Test harness and network simulator for the carbon accounting system.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-vv: debug)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = handler(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    return code


def _configure_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # the handler's own level matters: node loggers set INFO for their log files
    # and their records reach the root's handlers whatever the root's level
    handler.setLevel(level)
    logging.basicConfig(level=level, handlers=[handler])


if __name__ == "__main__":
    sys.exit(main())
