"""``python -m harness.fabric.docker render --network SPEC --run DIR``: the token,
crypto material and rendered configs of a Docker network, for fabric-docker.yml."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.fabric.docker")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="token, crypto and configs of a run")
    render.add_argument("--network", default="default", help="spec name or path")
    render.add_argument("--run", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)

    from harness.fabric.docker import DockerBackend
    from harness.runs import RunDir
    from harness.spec import load_spec

    try:
        args.run.mkdir(parents=True, exist_ok=True)
        run = RunDir(args.run.resolve())
        if not run.file("status").exists():
            run.set_status("created")
        rendered = DockerBackend(load_spec(args.network), run).render()
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(rendered.compose_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
