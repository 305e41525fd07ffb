"""A simulated network kept up in its own process, for ``harness up`` / ``down``.

``harness up`` starts this module detached from the terminal; it brings the network
up, serves it over gRPC, writes ``nodes.json`` and ``control.json`` into the run
folder, sets ``status`` to ``ready`` and then waits. A small control endpoint on
loopback takes faults and a shutdown; SIGTERM shuts down too. Whatever happens, the
run folder's ``status`` ends as ``stopped`` or ``failed``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir

log = logging.getLogger(__name__)

PID_FILE = "daemon.pid"
NODES_FILE = "nodes.json"
CONTROL_FILE = "control.json"
FAULT_ACTIONS = ("stop", "start", "pause", "resume", "latency", "drop")


def apply_fault(network: Any, action: str, node: str, value: float = 0.0) -> str:
    """One fault through the network's library API; returns what was done."""
    if action not in FAULT_ACTIONS:
        raise ConfigError(f"fault {action!r} is not one of {', '.join(FAULT_ACTIONS)}")
    method = {
        "stop": "stop_node",
        "start": "start_node",
        "pause": "pause_node",
        "resume": "resume_node",
        "latency": "set_latency",
        "drop": "set_drop",
    }[action]
    handler = getattr(network, method, None)
    if handler is None:
        raise ConfigError(f"this network does not support the fault '{action}'")
    if action in ("latency", "drop"):
        handler(node, value)
        return f"{action} {value:g} on {node}"
    handler(node)
    return f"{action} {node}"


class _Control:
    """POST /fault {"action", "node", "value"} and POST /down, on loopback."""

    def __init__(self, network: Any, stop: threading.Event) -> None:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if self.path == "/down":
                        stop.set()
                        self._reply(200, {"done": "shutting down"})
                    elif self.path == "/fault":
                        done = apply_fault(
                            control.network,
                            str(body.get("action")),
                            str(body.get("node")),
                            float(body.get("value") or 0),
                        )
                        self._reply(200, {"done": done})
                    else:
                        self._reply(404, {"error": f"no such path {self.path}"})
                except (HarnessError, KeyError, ValueError) as exc:
                    self._reply(400, {"error": str(exc)})

            def _reply(self, code: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("control %s", format % args)

        self.network = network
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def serve(run: RunDir, network_spec: str, tls: str) -> int:
    """Bring the network up, serve it, wait for a stop; the process's exit code."""
    from harness.fabric.grpc import serve_network
    from harness.fabric.sim import SimNetwork
    from harness.spec import load_spec

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run.write_text(PID_FILE, f"{os.getpid()}\n")
    started = time.monotonic()
    network = None
    on_wire = None
    control = None
    try:
        spec = load_spec(network_spec)
        network = SimNetwork.start(spec, run)
        on_wire = serve_network(network, tls=tls)  # type: ignore[arg-type]
        control = _Control(network, stop)
        run.write_json(NODES_FILE, on_wire.nodes())
        run.write_json(CONTROL_FILE, {"url": f"http://127.0.0.1:{control.port}"})
        ready_s = time.monotonic() - started
        run.write_json("ready.json", {"ready_s": round(ready_s, 3), "pid": os.getpid()})
        run.set_status("ready")
        log.info("network %s ready in %.2f s", spec.name, ready_s)
        stop.wait()
        return 0
    except HarnessError as exc:
        log.error("network failed: %s", exc)
        run.write_text("error", f"{exc}\n")
        run.set_status("failed")
        return exc.exit_code
    finally:
        _close_all(control, on_wire, network)
        if run.status() != "failed":
            run.set_status("stopped")
        (run.path / PID_FILE).unlink(missing_ok=True)


def _close_all(*parts: Any) -> None:
    """Stop what was started, newest first; one failure does not keep the rest up."""
    for part in parts:
        if part is None:
            continue
        try:
            (part.close if isinstance(part, _Control) else part.stop)()
        except HarnessError as exc:
            log.error("while stopping: %s", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.fabric._daemon")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--network", default="default")
    parser.add_argument("--tls", default="none", choices=("none", "tls", "mutual"))
    args = parser.parse_args(argv)
    run = RunDir.open(args.run)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return serve(run, args.network, args.tls)


if __name__ == "__main__":
    sys.exit(main())
