"""A simulated network kept up in its own process, for ``harness up`` / ``down``.

``harness up`` starts this module detached from the terminal; it brings the network
up, serves it over gRPC, writes ``nodes.json`` and ``control.json`` into the run
folder, sets ``status`` to ``ready`` and then waits. A small control endpoint on
loopback takes faults and a shutdown; SIGTERM shuts down too. Whatever happens, the
run folder's ``status`` ends as ``stopped`` or ``failed``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, ReadinessTimeoutError
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
    """POST /fault {"action", "node", "value"}, /snapshot, /restore {"id"} and
    /down, on loopback."""

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
                    elif self.path == "/snapshot":
                        self._reply(200, {"id": control.snapshot()})
                    elif self.path == "/restore":
                        control.restore(str(body.get("id")))
                        self._reply(200, {"done": "restored"})
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
        self.snapshots: dict[str, Any] = {}
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def snapshot(self) -> str:
        """Take a world-state snapshot (the pytest plugin's per-test isolation)."""
        key = str(len(self.snapshots) + 1)
        self.snapshots[key] = self.network.snapshot()
        return key

    def restore(self, key: str) -> None:
        snapshot = self.snapshots.get(key)
        if snapshot is None:
            raise ConfigError(f"no snapshot {key!r} in this network")
        self.network.restore(snapshot)

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


# --- the daemon seen from outside (the pytest plugin's keep mode and reaper) --------

_PROBE_S = 0.02


def launch(
    run: RunDir, network: str, *, tls: str = "none", timeout: float = 60.0
) -> int:
    """Start the daemon for ``run`` in a session of its own and wait until it is
    ready; its pid. Output goes to ``<run>/logs/daemon.log``."""
    log_path = run.log_path("daemon")
    command = [
        sys.executable, "-m", "harness.fabric._daemon",
        "--run", str(run.path), "--network", network, "--tls", tls,
    ]  # fmt: skip
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.status() == "ready" and run.file("ready.json").exists():
            return process.pid
        if run.status() == "failed" or process.poll() is not None:
            error = run.file("error")
            reason = error.read_text().strip() if error.exists() else "it exited"
            raise HarnessError(
                f"network daemon failed to start: {reason}", hint=f"see {log_path}"
            )
        time.sleep(_PROBE_S)
    os.killpg(process.pid, signal.SIGKILL)
    tail = "; ".join(log_path.read_text().strip().splitlines()[-3:])
    raise ReadinessTimeoutError(
        f"network daemon not ready after {timeout:.0f} s (status {run.status()!r}); "
        f"last log lines: {tail}",
        hint=f"see {log_path}, or raise --timeout",
    )


def daemon_pid(run: RunDir) -> int | None:
    """The pid of ``run``'s daemon while it lives; None when it is gone, or when the
    pid now belongs to some other process (pids are reused)."""
    try:
        pid = int((run.path / PID_FILE).read_text())
    except (OSError, ValueError):
        return None
    return pid if _running(pid, run) else None


def _running(pid: int, run: RunDir) -> bool:
    """Whether ``pid`` is ``run``'s daemon and has not exited (a zombie has)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    ours = b"harness.fabric._daemon" in cmdline and str(run.path).encode() in cmdline
    return ours and state != "Z"


def shutdown(run: RunDir, timeout: float = 20.0) -> bool:
    """Stop ``run``'s daemon: SIGTERM, then SIGKILL of its process group after
    ``timeout``. True when there was a daemon to stop."""
    pid = daemon_pid(run)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    # the process itself, not its pid file: the daemon removes that file before
    # it has finished exiting
    while _running(pid, run) and time.monotonic() < deadline:
        time.sleep(_PROBE_S)
    if _running(pid, run):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        run.set_status("stopped")
        (run.path / PID_FILE).unlink(missing_ok=True)
    log.info("network daemon %s in %s stopped", pid, run.path)
    return True


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
