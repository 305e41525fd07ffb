"""One node of a simulated network in its own process.

    python -m harness.fabric.node --run DIR --node NAME

The run folder holds what every node needs, written by
:func:`harness.fabric.processes.prepare_run`: ``spec.yaml``, ``crypto/``,
``softhsm/`` (when identities live in the HSM) and ``layout.json`` (each node's
gRPC and operations ports, and each orderer's cluster port). An orderer serves
AtomicBroadcast for every channel; with several orderers each process runs its own
Raft node per channel and exchanges Raft messages with the others over their
cluster ports (:mod:`harness.fabric.sim._cluster`). A peer pulls blocks through
Deliver from an orderer (the next one when that one is gone) and serves Endorser,
Deliver and Gateway. Everything listens on 127.0.0.1; ``/healthz`` answers 200
once the node is ready (an orderer: it knows a Raft leader of every channel; a
peer: its committers run and hold the genesis block). SIGTERM stops the node.

TODO(fabric-raft-wire): an orderer process keeps its Raft log in memory, so a
restarted orderer of a multi-orderer network would rebuild blocks it already
holds; persisting RaftStorage beside the block store would let it restart.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir

log = logging.getLogger(__name__)

LAYOUT_FILE = "layout.json"
_RECONNECT_S = 0.2


def load_layout(run: RunDir) -> dict[str, dict[str, Any]]:
    """``{node: {kind, grpc, ops}}`` as :func:`prepare_run` wrote it."""
    path = run.file(LAYOUT_FILE)
    if not path.exists():
        raise ConfigError(
            f"{run.path} has no {LAYOUT_FILE}",
            hint="prepare the run with 'harness up --processes'",
        )
    layout: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return layout


class DeliverSource:
    """Blocks of one channel pulled from an orderer's Deliver over one long stream.

    A background thread keeps a Deliver stream open from the next block the peer
    needs and, when the stream breaks, reconnects to the next of ``addresses``
    (the same one when there is one); the committer asks :meth:`wait_for_block`
    as it would ask an in-process ordering service.
    """

    def __init__(
        self, addresses: list[str], channel: str, identity: Any, start: int
    ) -> None:
        from fabric_protos.orderer import ab_pb2_grpc

        self.channel = channel
        self._identity = identity
        self._channels = [grpc.insecure_channel(address) for address in addresses]
        self._stubs = [ab_pb2_grpc.AtomicBroadcastStub(c) for c in self._channels]
        self._blocks: dict[int, Any] = {}
        self._next = start
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._call: Any = None
        self._thread = threading.Thread(
            target=self._pull, name=f"deliver-{channel}", daemon=True
        )
        self._thread.start()

    def wait_for_block(self, number: int, timeout: float) -> Any | None:
        with self._changed:
            self._changed.wait_for(lambda: number in self._blocks, timeout)
            for old in [n for n in self._blocks if n < number]:
                del self._blocks[old]  # committed already
            return self._blocks.get(number)

    def _pull(self) -> None:
        from harness.fabric._messages import new_seek_envelope

        for stub in itertools.cycle(self._stubs):
            if self._stopping.is_set():
                return
            envelope = new_seek_envelope(self._identity, self.channel, self._next)
            try:
                self._call = stub.Deliver(iter([envelope]))
                for response in self._call:
                    if response.WhichOneof("Type") != "block":
                        break
                    with self._changed:
                        self._blocks[response.block.header.number] = response.block
                        self._next = response.block.header.number + 1
                        self._changed.notify_all()
            except grpc.RpcError as exc:
                log.debug("deliver of %s: %s; reconnecting", self.channel, exc)
            self._stopping.wait(_RECONNECT_S)

    def close(self) -> None:
        self._stopping.set()
        if self._call is not None:
            self._call.cancel()
        for channel in self._channels:
            channel.close()
        self._thread.join(timeout=5)


class _RemoteNetwork:
    """What a peer's Gateway asks of the network: endorsers and the orderer."""

    def __init__(
        self, spec: Any, peer: Any, layout: Mapping[str, Mapping[str, Any]]
    ) -> None:
        from harness.fabric.grpc import (
            FailoverOrderer,
            GrpcOrderer,
            GrpcPeer,
            channel_to,
        )

        self.spec = spec
        self._peer = peer
        self._peers: dict[str, Any] = {peer.name: peer}
        for org in spec.orgs:
            for name in org.peers:
                if name != peer.name:
                    address = f"127.0.0.1:{layout[name]['grpc']}"
                    self._peers[name] = GrpcPeer(
                        name, org.msp_id, channel_to(address), peer.identity
                    )
        self._orderer = FailoverOrderer(
            [
                GrpcOrderer(name, channel_to(f"127.0.0.1:{layout[name]['grpc']}"))
                for name in spec.orderer.nodes
            ]
        )
        self.policies: dict[str, dict[str, Any]] = {}

    def endorsers(self, channel: str, chaincode: str) -> list[Any]:
        """One peer per org, fewest first, that satisfy the chaincode's policy."""
        from harness.fabric.sim._policy import evaluate

        policy = self.policies.get(channel, {}).get(chaincode)
        if policy is None:
            raise ConfigError(f"chaincode {chaincode!r} is not defined on {channel!r}")
        by_org: dict[str, Any] = {}
        for peer in self._peers.values():
            by_org.setdefault(peer.msp_id, peer)
        candidates = list(by_org.values())
        for size in range(1, len(candidates) + 1):
            for chosen in itertools.combinations(candidates, size):
                # A policy counts distinct signers; the name tells the peers apart.
                members = [
                    _PolicyMember(peer.msp_id, peer.name.encode()) for peer in chosen
                ]
                if evaluate(policy, members):
                    return list(chosen)
        raise HarnessError(f"no set of peers satisfies {chaincode} on {channel}")

    def orderer(self, channel: str) -> Any:
        return self._orderer

    def close(self) -> None:
        for peer in self._peers.values():
            if peer is not self._peer:
                peer.close()
        self._orderer.close()


class _PolicyMember:
    """A peer as a policy evaluation sees it."""

    role = "peer"

    def __init__(self, msp_id: str, id_bytes: bytes) -> None:
        self.msp_id = msp_id
        self.id_bytes = id_bytes


# --- building a node from the run folder -----------------------------------------


def load_orgs(run: RunDir) -> dict[str, Any]:
    """The run's organisations by name, from ``crypto/*/<org>/org.json``."""
    from harness.identity import Organization

    orgs = {}
    for meta in sorted(run.path.glob("crypto/*Organizations/*/org.json")):
        org = Organization.load(meta.parent)
        orgs[org.name] = org
    return orgs


def open_token(run: RunDir, spec: Any) -> Any | None:
    """The run's SoftHSM2 token when some org keeps its identities there."""
    if not any(org.identities == "hsm" for org in spec.orgs):
        return None
    from harness.hsm import SoftHsm, Token

    return Token(SoftHsm.open(run.path / "softhsm"), spec.hsm.label, pin=spec.hsm.pin)


def channel_config(spec: Any, channel: str, orgs: Mapping[str, Any]) -> Any:
    """What a peer knows of ``channel``: MSPs, chaincodes and resolved policies."""
    from harness.fabric.sim._msp import Msp, MspManager
    from harness.fabric.sim._peer import ChannelConfig
    from harness.fabric.sim._policy import default_org_policies, parse_policy, resolve

    members = [spec.org(name) for name in spec.channel(channel).orgs]
    msps = MspManager(
        Msp(
            org.msp_id,
            [orgs[org.name].root_ca.certificate],
            orgs[org.name].ca.intermediate_certificates,
        )
        for org in members
    )
    org_policies = {org.msp_id: default_org_policies(org.msp_id) for org in members}
    chaincodes = {}
    policies = {}
    for chaincode in spec.chaincodes:
        if channel in chaincode.channels:
            chaincodes[chaincode.name] = chaincode.implementation
            policies[chaincode.name] = resolve(
                parse_policy(chaincode.endorsement_policy), org_policies
            )
    return ChannelConfig(channel, msps, chaincodes, policies)


class NodeProcess:
    """One peer or orderer of the run, served on its ports until :meth:`stop`."""

    def __init__(self, run: RunDir, name: str) -> None:
        from harness.fabric._reuse import _spec_source
        from harness.spec import load_spec

        self.run = run
        self.name = name
        self.spec = load_spec(_spec_source(run))
        self.layout = load_layout(run)
        if name not in self.layout:
            raise ConfigError(
                f"no node {name!r} in {run.path}",
                hint=f"nodes: {', '.join(self.layout)}",
            )
        self.orgs = load_orgs(run)
        self.token = open_token(run, self.spec)
        self._parts: list[Any] = []  # stopped newest first

    def start(self) -> None:
        entry = self.layout[self.name]
        if entry["kind"] == "orderer":
            self._start_orderer(entry["grpc"], entry["ops"])
        else:
            self._start_peer(entry["grpc"], entry["ops"])

    def _org_of(self, node: str) -> Any:
        if node in self.spec.orderer.nodes:
            return self.orgs[self.spec.org(self.spec.orderer.org).name]
        org = next(org for org in self.spec.orgs if node in org.peers)
        return self.orgs[org.name]

    def _identity(self, role: str) -> Any:
        from harness.fabric.sim._network import _short

        org = self._org_of(self.name)
        short = self.name if role == "orderer" else _short(self.name, org.name)
        return org.load_identity(short, role, token=self.token)

    def _start_orderer(self, port: int, ops_port: int) -> None:
        from harness.fabric.grpc import serve_orderer
        from harness.fabric.sim._ordering import OrderingService

        identity = self._identity("orderer")
        runtime_for = self._runtimes()
        services: dict[str, OrderingService] = {}
        for seed, channel in enumerate(self.spec.channels):
            services[channel.name] = self._ordering_service(
                channel, runtime_for(channel.name), identity, seed
            )

        def lookup(channel: str) -> OrderingService:
            found = services.get(channel)
            if found is None:
                raise ConfigError(f"no channel {channel!r} on orderer {self.name}")
            return found

        def health() -> dict[str, str | None]:
            return {
                f"consensus:{name}": None
                if service.knows_leader()
                else "no Raft leader"
                for name, service in services.items()
            }

        def metrics() -> list[tuple[str, dict[str, str], float]]:
            found = []
            for name, service in services.items():
                labels = {"channel": name}
                found.append(
                    ("ledger_blockchain_height", labels, float(service.height))
                )
                leads = service.cluster.leader() is not None
                found.append(("consensus_etcdraft_is_leader", labels, float(leads)))
            return found

        server = serve_orderer(
            self.name,
            lookup,
            port=port,
            ops_port=ops_port,
            health=health,
            metrics=metrics,
        )
        self._parts.append(server)

    def _runtimes(self) -> Callable[[str], Any]:
        """A runtime per channel: threads alone for a single orderer, else over
        this orderer's cluster endpoint and links to the others."""
        from harness.fabric.sim._cluster import (
            ClusterEndpoint,
            ClusterLinks,
            WireRuntime,
        )
        from harness.fabric.sim._orderer import ThreadedRuntime

        orderers = self.spec.orderer.nodes
        if len(orderers) == 1:
            return lambda channel: ThreadedRuntime()
        endpoint = ClusterEndpoint(self.name, self.layout[self.name]["cluster"])
        self._parts.append(endpoint)
        links = ClusterLinks(
            self.name, {name: self.layout[name]["cluster"] for name in orderers}
        )
        self._parts.append(links)
        return lambda channel: WireRuntime(channel, endpoint, links)

    def _ordering_service(
        self, channel: Any, runtime: Any, identity: Any, seed: int
    ) -> Any:
        """This orderer's Raft node of ``channel``, started, behind Broadcast and
        Deliver; the other orderers' nodes run in their own processes."""
        from harness.fabric.sim._blockstore import BlockStore
        from harness.fabric.sim._genesis import channel_genesis
        from harness.fabric.sim._orderer import RaftCluster
        from harness.fabric.sim._ordering import OrderingService

        self._parts.append(runtime)
        folder = self.run.path / "orderers" / channel.name
        if len(self.spec.orderer.nodes) > 1 and BlockStore(folder / self.name).height:
            raise ConfigError(  # TODO(fabric-raft-wire): see the module docstring
                f"orderer {self.name} already holds blocks of {channel.name}, and "
                "its Raft log did not survive its last process",
                hint="start a new run; restarting one orderer process of a "
                "multi-orderer network is not supported yet",
            )
        cluster = RaftCluster(
            self.spec.orderer.nodes,
            channel.batch,
            self.spec.timing.raft,
            folder,
            runtime,
            seed=seed * 100 + self.spec.orderer.nodes.index(self.name),  # own timeouts
            genesis=channel_genesis(self.spec, channel.name, self.orgs),
        )
        service = OrderingService(channel.name, cluster, {self.name: identity})
        cluster.start(self.name)
        return service

    def _start_peer(self, port: int, ops_port: int) -> None:
        from harness.fabric.grpc import serve_peer
        from harness.fabric.sim._peer import Peer

        identity = self._identity("peer")
        peer = Peer(self.name, identity, self.run.path / "peers" / self.name)
        network = _RemoteNetwork(self.spec, peer, self.layout)
        self._parts.append(network)
        orderers = [
            f"127.0.0.1:{self.layout[name]['grpc']}" for name in self.spec.orderer.nodes
        ]
        org = self._org_of(self.name)
        for channel in self.spec.channels:
            if org.name not in channel.orgs:
                continue
            config = channel_config(self.spec, channel.name, self.orgs)
            network.policies[channel.name] = dict(config.policies)
            height = _stored_height(self.run, self.name, channel.name)
            source = DeliverSource(orderers, channel.name, identity, height)
            self._parts.append(source)
            peer.join(config, source)
        self._parts.append(peer)

        def health() -> dict[str, str | None]:
            checks: dict[str, str | None] = {}
            for channel in peer.channels:
                ready = peer.committer_alive(channel) and peer.ledger(channel).height
                checks[f"committer:{channel}"] = (
                    None if ready else "no genesis block from the orderer yet"
                )
            return checks

        def metrics() -> list[tuple[str, dict[str, str], float]]:
            return [
                (
                    "ledger_blockchain_height",
                    {"channel": c},
                    float(peer.ledger(c).height),
                )
                for c in peer.channels
            ]

        served: Any = peer  # PeerLedger satisfies the services' ledger view
        server = serve_peer(
            served,
            network,
            port=port,
            ops_port=ops_port,
            health=health,
            metrics=metrics,
        )
        self._parts.append(server)

    def stop(self) -> None:
        for part in reversed(self._parts):
            try:
                (part.close if hasattr(part, "close") else part.stop)()
            except HarnessError as exc:
                log.error("node %s: while stopping: %s", self.name, exc)
        self._parts.clear()
        if self.token is not None:
            self.token.close()
            self.token = None


def _stored_height(run: RunDir, peer: str, channel: str) -> int:
    from harness.fabric.sim._blockstore import BlockStore

    return BlockStore(run.path / "peers" / peer / channel).height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.fabric.node")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--node", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        node = NodeProcess(RunDir.open(args.run), args.node)
    except HarnessError as exc:
        log.error("node %s cannot start: %s", args.node, exc)
        return exc.exit_code
    try:
        node.start()
        log.info("node %s serving", args.node)
        stop.wait()
        return 0
    except HarnessError as exc:
        log.error("node %s failed: %s", args.node, exc)
        return exc.exit_code
    finally:
        node.stop()
        log.info("node %s stopped", args.node)


if __name__ == "__main__":
    sys.exit(main())
