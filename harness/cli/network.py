"""``harness up | status | down | fault``: a simulated Fabric network in the background.

harness up [--network SPEC]      start it; prints the run folder when it is ready
harness status [--run DIR]       each node's health
harness fault stop peer0.org1    faults through the running network
harness down [--run DIR]         stop it and wait until every node is gone
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.cli._output import add_report_options, emit, progress
from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir

_KIND = "network"
_READY_TIMEOUT_S = 60.0
_DOWN_TIMEOUT_S = 20.0


def register(subparsers: Any) -> None:
    up = subparsers.add_parser(
        "up", help="start a simulated Fabric network in the background"
    )
    up.add_argument(
        "--network", default="default", help="spec name under networks/ or a YAML path"
    )
    up.add_argument("--tls", default="none", choices=("none", "tls", "mutual"))
    up.add_argument(
        "--processes",
        action="store_true",
        help="one process per node (no TLS, no faults yet)",
    )
    up.add_argument(
        "--via",
        choices=("processes", "ansible"),
        help="start the node processes directly or with playbooks/network.yml "
        "(implies --processes)",
    )
    up.add_argument(
        "--timeout", type=float, default=_READY_TIMEOUT_S, help="readiness deadline (s)"
    )
    add_report_options(up)
    up.set_defaults(handler=_up)

    status = subparsers.add_parser(
        "status", help="health of each node of a running network"
    )
    _run_option(status)
    add_report_options(status)
    status.set_defaults(handler=_status)

    down = subparsers.add_parser("down", help="stop a running network")
    _run_option(down)
    add_report_options(down)
    down.set_defaults(handler=_down)

    fault = subparsers.add_parser("fault", help="inject a fault into a running network")
    fault.add_argument(
        "action", choices=("stop", "start", "pause", "resume", "latency", "drop")
    )
    fault.add_argument("node", help="node name, e.g. peer0.org1 or orderer0")
    fault.add_argument(
        "--value", type=float, default=0.0, help="latency in ms, or drop fraction 0..1"
    )
    _run_option(fault)
    add_report_options(fault)
    fault.set_defaults(handler=_fault)


def _run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", type=Path, metavar="DIR", help="run folder printed by 'harness up'"
    )


def _open_run(args: argparse.Namespace) -> RunDir:
    if args.run is not None:
        return RunDir.open(args.run)
    return RunDir.latest(_KIND, args.run_dir, command="harness up")


def _up(args: argparse.Namespace) -> int:
    from harness.spec import load_spec

    spec = load_spec(args.network)  # a bad spec fails here, before any process starts
    if args.processes or args.via:
        return _up_processes(args, spec)
    from harness.fabric._daemon import launch

    run = RunDir.create(_KIND, args.run_dir)
    run.write_text("network", f"{spec.source}\n")
    started = time.monotonic()
    progress(f"starting network '{spec.name}' in {run.path} ...")
    launch(run, spec.source, tls=args.tls, timeout=args.timeout)
    ready = json.loads(run.file("ready.json").read_text())
    nodes = json.loads(run.file("nodes.json").read_text())
    headline = [
        f"network '{spec.name}' ready in {ready['ready_s']:.2f} s "
        f"({time.monotonic() - started:.2f} s with process start)",
        f"  run folder          {run.path}",
        f"  connection profile  {run.file('connection-profile.json')}",
    ]
    return _report_ready(args, run, ready, nodes, headline)


def _up_processes(args: argparse.Namespace, spec: Any) -> int:
    from harness.fabric.processes import Via, start_processes

    if args.tls != "none":
        raise ConfigError("--processes serves plaintext gRPC only for now; drop --tls")
    run = RunDir.create(_KIND, args.run_dir)
    run.write_text("network", f"{spec.source}\n")
    via: Via = "ansible" if args.via == "ansible" else "processes"
    progress(f"starting network '{spec.name}' as node processes ({via}) ...")
    nodes = start_processes(spec, run, via=via, timeout=args.timeout)
    ready = json.loads(run.file("ready.json").read_text())
    headline = [f"network '{spec.name}' ready in {ready['ready_s']:.2f} s ({via})"]
    return _report_ready(args, run, ready, nodes, headline)


def _report_ready(
    args: argparse.Namespace,
    run: RunDir,
    ready: dict[str, Any],
    nodes: dict[str, Any],
    headline: list[str],
) -> int:
    """What ``harness up`` prints: ``{run_dir, ready_s, nodes}`` and the summary."""
    payload = {"run_dir": str(run.path), "ready_s": ready["ready_s"], "nodes": nodes}
    lines = [*headline]
    lines += [
        f"  {name:<20}{node['address']:<18}ops {node['ops']}"
        for name, node in nodes.items()
    ]
    lines.append("stop it with: harness down --run " + str(run.path))
    emit(args, payload, "\n".join(lines))
    return 0


def _down_processes(args: argparse.Namespace, run: RunDir) -> int:
    from harness.fabric.processes import stop_processes

    started = time.monotonic()
    if run.file("playbook-network.json").exists():
        from harness.iac import run_playbook

        run_playbook("teardown", run, tags=["processes"])
    stopped = stop_processes(run)  # whatever the playbook left, and the status
    seconds = time.monotonic() - started
    payload = {
        "run_dir": str(run.path),
        "status": run.status(),
        "stopped": stopped,
        "seconds": round(seconds, 3),
    }
    emit(args, payload, f"network in {run.path} stopped in {seconds:.2f} s")
    return 0


def _health(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as reply:
            return True, json.loads(reply.read()).get("status", "OK")
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        reasons = [c.get("reason", "") for c in body.get("failed_checks", [])]
        return False, "; ".join(reasons) or f"HTTP {exc.code}"
    except OSError as exc:
        return False, f"unreachable ({exc})"


def _status(args: argparse.Namespace) -> int:
    run = _open_run(args)
    status = run.status()
    nodes: dict[str, Any] = {}
    if status == "ready" and run.file("nodes.json").exists():
        nodes = json.loads(run.file("nodes.json").read_text())
    report = {}
    for name, node in nodes.items():
        healthy, detail = _health(node["ops"])
        report[name] = {**node, "healthy": healthy, "detail": detail}
    payload = {"run_dir": str(run.path), "status": status, "nodes": report}
    lines = [f"network in {run.path}: {status}"]
    for name, node in report.items():
        mark = "ok" if node["healthy"] else "FAILING"
        lines.append(f"  {name:<20}{node['address']:<18}{mark:<9}{node['detail']}")
    emit(args, payload, "\n".join(lines))
    healthy = status == "ready" and all(n["healthy"] for n in report.values())
    return 0 if healthy else 1


def _down(args: argparse.Namespace) -> int:
    from harness.fabric.processes import is_process_run

    run = _open_run(args)
    if is_process_run(run):
        return _down_processes(args, run)
    from harness.fabric._daemon import shutdown

    started = time.monotonic()
    if not shutdown(run, timeout=_DOWN_TIMEOUT_S):
        idle = {"run_dir": str(run.path), "status": run.status()}
        emit(args, idle, "network is not running")
        return 0
    seconds = time.monotonic() - started
    payload: dict[str, Any] = {
        "run_dir": str(run.path),
        "status": run.status(),
        "seconds": round(seconds, 3),
    }
    emit(args, payload, f"network in {run.path} stopped in {seconds:.2f} s")
    return 0


def _fault(args: argparse.Namespace) -> int:
    run = _open_run(args)
    if run.status() != "ready" or not run.file("control.json").exists():
        raise ConfigError(
            f"the network in {run.path} is not running (status {run.status()})"
        )
    control = json.loads(run.file("control.json").read_text())["url"]
    body = json.dumps(
        {"action": args.action, "node": args.node, "value": args.value}
    ).encode()
    request = urllib.request.Request(
        control + "/fault", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            done = json.loads(reply.read())["done"]
    except urllib.error.HTTPError as exc:
        raise ConfigError(
            json.loads(exc.read() or b"{}").get("error", str(exc))
        ) from None
    except OSError as exc:
        raise HarnessError(
            f"cannot reach the network's control endpoint: {exc}"
        ) from None
    emit(args, {"run_dir": str(run.path), "done": done}, f"fault applied: {done}")
    return 0
