"""``harness import fabric-test DIR``: a fabric-test HSM regression config folder
turned into a network spec (written with --out, else printed as YAML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli._output import emit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="turn another tool's network config into a network spec"
    )
    kinds = parser.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    fabric_test = kinds.add_parser(
        "fabric-test",
        help="a fabric-test regression/hsm config folder (core, orderer, configtx, CA)",
    )
    fabric_test.add_argument("folder", type=Path, metavar="DIR")
    fabric_test.add_argument(
        "--out", type=Path, metavar="FILE", help="write the spec here (YAML)"
    )
    fabric_test.add_argument(
        "--channel", default="mychannel", help="channel name (default: mychannel)"
    )
    fabric_test.add_argument(
        "--profile", help="configtx.yaml profile of the channel (default: the only one)"
    )
    fabric_test.add_argument("--name", help="network name (default: the folder's)")
    fabric_test.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout (summary on stderr)",
    )
    fabric_test.set_defaults(handler=_fabric_test)


def _fabric_test(args: argparse.Namespace) -> int:
    import yaml

    from harness.spec.fabric_test import import_fabric_test, write_imported

    result = import_fabric_test(
        args.folder, channel=args.channel, profile=args.profile, name=args.name
    )
    spec = result.spec
    summary = (
        f"imported {result.folder}: {len(spec.orgs)} orgs, "
        f"{len(spec.orderer.nodes)} orderer, channel {spec.channels[0].name}, "
        f"identities in token '{spec.hsm.label}'"
        if any(org.identities == "hsm" for org in spec.orgs)
        else f"imported {result.folder}: {len(spec.orgs)} orgs, file keys"
    )
    if args.out is not None:
        write_imported(result, args.out)
        summary += f"; spec written to {args.out}"
    elif not args.json:
        sys.stdout.write(yaml.safe_dump(result.data, sort_keys=False))
        print(summary, file=sys.stderr)
        return 0
    payload = {
        "spec": result.data,
        "out": str(args.out) if args.out is not None else None,
        "profile": result.profile,
        "folder": str(result.folder),
    }
    emit(args, payload, summary)
    return 0
