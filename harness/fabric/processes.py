"""A simulated network as one process per node, started directly or by Ansible.

>>> nodes = start_processes(spec, run)               # or via="ansible"
>>> client = attach(run).client("Org1", "user1")      # gRPC, from the run folder
>>> stop_processes(run)

:func:`prepare_run` writes what every node process reads (``spec.yaml``,
``crypto/``, ``layout.json``) and what clients read (``nodes.json``,
``connection-profile.json``). Every orderer starts first (with several, they
elect a Raft leader among themselves), then the peers; the network is ready when
each node's ``/healthz`` answers 200 and an orderer reports itself Raft leader of
every channel, probed until a deadline. Pids go to ``<run>/pids/``,
where ``playbooks/teardown.yml`` and :func:`stop_processes` find them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import ReadinessTimeoutError
from harness.fabric.node import LAYOUT_FILE
from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.spec import NetworkSpec

log = logging.getLogger(__name__)

Via = Literal["processes", "ansible"]
PIDS_DIR = "pids"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
_PROBE_S = 0.05
_children: dict[int, subprocess.Popen[bytes]] = {}  # reaped when they stop


@dataclass
class _Listener:
    """Where a node listens, as the connection profile needs it."""

    address: str


@dataclass
class _Listening:
    tls: str = "none"
    servers: dict[str, _Listener] = field(default_factory=dict)


def prepare_run(spec: NetworkSpec, run: RunDir) -> dict[str, dict[str, Any]]:
    """Crypto, ports and the files nodes and clients read; the layout."""
    from harness.fabric.grpc import PROFILE_NAME, connection_profile
    from harness.fabric.sim import SimNetwork
    from harness.spec import allocate_ports, dump_spec

    run.write_text("spec.yaml", dump_spec(spec))
    ordered = (*spec.orderer.nodes, *(p for o in spec.orgs for p in o.peers))
    ports = allocate_ports(spec.ports).assign(ordered, 3)
    layout: dict[str, dict[str, Any]] = {
        name: {
            "kind": "orderer" if name in spec.orderer.nodes else "peer",
            "grpc": ports[name][0],
            "ops": ports[name][1],
        }
        for name in ordered
    }
    for name in spec.orderer.nodes:
        layout[name]["cluster"] = ports[name][2]  # Raft messages between orderers
    network = SimNetwork(spec, run)  # only its enrollment: nothing starts
    try:
        network._create_identities()
        listening = _Listening(
            servers={n: _Listener(f"127.0.0.1:{e['grpc']}") for n, e in layout.items()}
        )
        profile = connection_profile(network, listening)  # type: ignore[arg-type]
        run.write_json(PROFILE_NAME, profile)
    finally:
        network.stop()
    run.write_json(LAYOUT_FILE, layout)
    run.write_json("nodes.json", _nodes(layout))
    return layout


def _nodes(layout: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "kind": entry["kind"],
            "address": f"127.0.0.1:{entry['grpc']}",
            "ops": f"http://127.0.0.1:{entry['ops']}",
        }
        for name, entry in layout.items()
    }


def start_processes(
    spec: NetworkSpec,
    run: RunDir,
    *,
    via: Via = "processes",
    timeout: float = READY_TIMEOUT_S,
) -> dict[str, dict[str, Any]]:
    """Start every node in its own process and wait until each is healthy;
    ``{node: {kind, address, ops}}``. On failure every started node is stopped."""
    started = time.monotonic()
    deadline = started + timeout
    run.set_status("starting")
    layout = prepare_run(spec, run)
    run.set_status("starting")
    try:
        if via == "ansible":
            _start_with_ansible(run, layout, timeout)
        else:
            orderers = [n for n, e in layout.items() if e["kind"] == "orderer"]
            for name in orderers:  # all of them: a Raft quorum elects a leader
                _spawn(run, name)
                # One at a time past opening the token: SoftHSM2 fails a token
                # read racing another process's open.
                _wait_healthy(run, name, layout[name]["ops"], deadline, serving=True)
            _wait_leader(run, spec, layout, deadline)
            for name in layout:
                if name not in orderers:  # peers pull blocks from the orderers
                    _spawn(run, name)
        for name, entry in layout.items():
            _wait_healthy(run, name, entry["ops"], deadline)
        _wait_leader(run, spec, layout, deadline)
    except BaseException:
        stop_processes(run)
        run.set_status("failed")
        raise
    ready_s = time.monotonic() - started
    run.write_json("ready.json", {"ready_s": round(ready_s, 3), "via": via})
    run.set_status("ready")
    log.info(
        "network %s up as %d processes (%s) in %.2f s",
        spec.name,
        len(layout),
        via,
        ready_s,
    )
    return _nodes(layout)


def _start_with_ansible(
    run: RunDir, layout: dict[str, dict[str, Any]], timeout: float
) -> None:
    from harness.iac import run_playbook

    nodes = [{"name": n, "operations_port": e["ops"]} for n, e in layout.items()]
    run_playbook(
        "network",
        run,
        extravars={
            "harness_nodes": nodes,
            "node_ready_retries": max(1, int(timeout / 0.5)),
        },
    )


def _spawn(run: RunDir, name: str) -> int:
    command = [
        sys.executable, "-m", "harness.fabric.node",
        "--run", str(run.path), "--node", name,
    ]  # fmt: skip
    (run.path / PIDS_DIR).mkdir(exist_ok=True)
    with open(run.log_path(name), "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[process.pid] = process
    run.write_text(f"{PIDS_DIR}/{name}.pid", f"{process.pid}\n")
    log.debug("node %s started as pid %d", name, process.pid)
    return process.pid


def _wait_healthy(
    run: RunDir, name: str, ops_port: int, deadline: float, *, serving: bool = False
) -> None:
    """Probe ``/healthz`` until 200 (with ``serving``: until it answers at all);
    a report naming the node and its log if not."""
    url = f"http://127.0.0.1:{ops_port}/healthz"
    last = "no answer"
    pause = threading.Event()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if serving:
                return
            last = f"HTTP {exc.code}: {exc.read().decode(errors='replace')}"
        except OSError as exc:
            last = f"unreachable ({exc})"
        if _exited(run, name):
            break
        pause.wait(_PROBE_S)
    log_path = run.log_path(name)
    tail = log_path.read_text().strip().splitlines()[-3:] if log_path.exists() else []
    raise ReadinessTimeoutError(
        f"node {name} not healthy: {last}; last log lines: {' | '.join(tail)}",
        hint=f"see {log_path}",
    )


def _wait_leader(
    run: RunDir,
    spec: NetworkSpec,
    layout: dict[str, dict[str, Any]],
    deadline: float,
) -> None:
    """Probe the orderers until each channel has one reporting itself leader
    and every orderer is healthy (it knows that leader)."""
    orderers = {n: e["ops"] for n, e in layout.items() if e["kind"] == "orderer"}
    for name, ops_port in orderers.items():
        _wait_healthy(run, name, ops_port, deadline)
    channels = {channel.name for channel in spec.channels}
    pause = threading.Event()
    led: dict[str, str] = {}
    while time.monotonic() < deadline:
        led = raft_leaders(orderers)
        if channels <= set(led):
            return
        pause.wait(_PROBE_S)
    raise ReadinessTimeoutError(
        f"no Raft leader for {', '.join(sorted(channels - set(led)))}",
        hint=f"see the orderers' logs in {run.path / 'logs'}",
    )


def raft_leaders(orderers: dict[str, int]) -> dict[str, str]:
    """``{channel: orderer}`` for the orderers (name: operations port) that
    report ``consensus_etcdraft_is_leader 1``; unreachable ones are skipped."""
    leaders = {}
    for name, ops_port in orderers.items():
        url = f"http://127.0.0.1:{ops_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                text = reply.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith('consensus_etcdraft_is_leader{channel="'):
                labels, _, value = line.rpartition(" ")
                if float(value) == 1:
                    leaders[labels.split('"')[1]] = name
    return leaders


def _exited(run: RunDir, name: str) -> bool:
    pid = _pid(run.path / PIDS_DIR / f"{name}.pid")
    return pid is not None and not _alive(pid)


def node_pids(run: RunDir) -> dict[str, int]:
    """``{node: pid}`` of the node processes recorded in the run folder."""
    found = {}
    for path in sorted((run.path / PIDS_DIR).glob("*.pid")):
        pid = _pid(path)
        if pid is not None:
            found[path.stem] = pid
    return found


def stop_processes(run: RunDir, timeout: float = STOP_TIMEOUT_S) -> int:
    """TERM every node process of the run, KILL what outlives ``timeout``; the
    number stopped. The pid files go and ``status`` becomes ``stopped``."""
    pids = node_pids(run)
    for pid in pids.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        pause.wait(_PROBE_S)
    for name, pid in pids.items():
        if _alive(pid):
            log.warning("node %s (pid %d) ignored SIGTERM; killing it", name, pid)
            _signal(pid, signal.SIGKILL)
    for path in (run.path / PIDS_DIR).glob("*.pid"):
        path.unlink(missing_ok=True)
    if run.path.exists():
        run.set_status("stopped")
    return len(pids)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, number)


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not reaped, counts as gone)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def is_process_run(run: RunDir) -> bool:
    """Whether ``run`` is a network of node processes (not one daemon)."""
    return run.file(LAYOUT_FILE).exists()


__all__ = [
    "PIDS_DIR",
    "Via",
    "is_process_run",
    "node_pids",
    "prepare_run",
    "raft_leaders",
    "start_processes",
    "stop_processes",
]
