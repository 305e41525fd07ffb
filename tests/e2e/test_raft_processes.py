"""networks/raft3.yaml as five processes: three orderers exchanging Raft messages
over their cluster ports, and two peers. The leader orderer is SIGKILLed while a
gRPC client submits; every transaction the client saw committed is in every
peer's ledger, the chains are identical, and ``harness down`` stops the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml
from fabric_protos.common import common_pb2

from harness.errors import HarnessError
from harness.fabric._reuse import attach
from harness.fabric.client import FabricClient
from harness.fabric.processes import node_pids, raft_leaders, start_processes
from harness.fabric.sim import BlockStore, block_hash
from harness.runs import RunDir
from harness.spec import NETWORKS_DIR, load_spec

CHANNEL = "utilityemissionchannel"
PEERS = ("peer0.org1", "peer0.org2")
WAIT_S = 60.0
BEFORE, AFTER = 5, 10  # transactions committed before and after the kill


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """A probe with a generous deadline, not a timing assertion."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        pause.wait(0.05)


def raft3_with_kvstore(folder: Path) -> Path:
    """networks/raft3.yaml plus the kvstore chaincode the client writes with."""
    doc = yaml.safe_load((NETWORKS_DIR / "raft3.yaml").read_text())
    doc["chaincodes"].append(
        {
            "name": "kvstore",
            "implementation": "kvstore",
            "endorsement_policy": "MAJORITY Endorsement",
        }
    )
    path = folder / "raft3.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def ops_port(nodes: dict[str, dict[str, str]], name: str) -> int:
    return int(nodes[name]["ops"].rsplit(":", 1)[1])


def peer_height(port: int) -> int:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(f'ledger_blockchain_height{{channel="{CHANNEL}"}}'):
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


def submit_until(client: FabricClient, count: int, prefix: str) -> list[str]:
    """Submit until ``count`` transactions committed VALID; their tx ids (a
    transaction lost with its leader times out and is not counted)."""
    committed: list[str] = []
    attempt = 0
    deadline = time.monotonic() + WAIT_S
    while len(committed) < count:
        assert time.monotonic() < deadline, (
            f"only {len(committed)} of {count} committed"
        )
        attempt += 1
        try:
            result = client.submit(
                CHANNEL, "kvstore", "put", [f"{prefix}{attempt}", "v"], timeout=5
            )
        except HarnessError:
            continue  # no leader yet, or the envelope went down with it
        assert result.code_name == "VALID"
        committed.append(result.tx_id)
    return committed


def tx_ids(block: common_pb2.Block) -> list[str]:
    ids = []
    for raw in block.data.data:
        payload = common_pb2.Payload.FromString(
            common_pb2.Envelope.FromString(raw).payload
        )
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        ids.append(header.tx_id)
    return ids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_killing_the_leader_orderer_process_loses_no_committed_tx(
    runs_root: Path, tmp_path: Path
) -> None:
    run = RunDir.create("network", runs_root)
    nodes = start_processes(load_spec(raft3_with_kvstore(tmp_path)), run)
    pids = node_pids(run)
    orderers = {
        n: ops_port(nodes, n) for n, e in nodes.items() if e["kind"] == "orderer"
    }
    try:
        assert len(set(pids.values())) == 5  # one process per node
        with attach(run) as network:
            client = network.client("Org1", "user1")
            committed = submit_until(client, BEFORE, "before")

            leader = raft_leaders(orderers)[CHANNEL]
            os.kill(pids[leader], signal.SIGKILL)
            wait_until(lambda: not _alive(pids[leader]), f"{leader} to die")
            committed += submit_until(client, AFTER, "after")

            survivors = {n: p for n, p in orderers.items() if n != leader}
            new_leader = raft_leaders(survivors).get(CHANNEL)
            assert new_leader in survivors

        height = max(peer_height(ops_port(nodes, p)) for p in PEERS)
        wait_until(
            lambda: all(peer_height(ops_port(nodes, p)) >= height for p in PEERS),
            "both peers at the same height",
        )
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "harness", "down", "--json"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
            check=False,
        )

    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] == 5
    wait_until(lambda: not any(_alive(pid) for pid in pids.values()), "no process")
    chains = {
        peer: BlockStore(run.path / "peers" / peer / CHANNEL).blocks() for peer in PEERS
    }
    hashes = {peer: [block_hash(b) for b in blocks] for peer, blocks in chains.items()}
    assert hashes["peer0.org1"] == hashes["peer0.org2"]  # no fork
    for peer, blocks in chains.items():
        on_ledger = {tx for block in blocks for tx in tx_ids(block)}
        assert set(committed) <= on_ledger, peer
    for name in survivors:  # the surviving orderers hold the same chain
        store = BlockStore(run.path / "orderers" / CHANNEL / name)
        ordered = [block_hash(b) for b in store.blocks()]
        assert ordered[: len(hashes["peer0.org1"])] == hashes["peer0.org1"]
