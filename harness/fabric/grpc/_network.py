"""A whole simulated network on the wire: every node served on its own ports, and the
connection profile (the JSON Fabric SDKs load) written into the run folder."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import HarnessError
from harness.fabric.grpc._endpoints import GrpcOrderer, GrpcPeer, channel_to
from harness.fabric.grpc._server import (
    HOST,
    HealthCheck,
    Metrics,
    NodeServer,
    TlsFiles,
    TlsMode,
    serve_orderer,
    serve_peer,
)
from harness.spec import PortBlock, allocate_ports

log = logging.getLogger(__name__)

PROFILE_NAME = "connection-profile.json"
_PORTS_PER_NODE = 2  # gRPC, operations


@dataclass
class ServedNetwork:
    """A network's nodes listening on loopback; ``stop`` closes every listener."""

    network: Any
    servers: dict[str, NodeServer]
    tls: TlsMode
    profile: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        log.info("network %s off the wire", self.network.spec.name)

    def nodes(self) -> dict[str, dict[str, Any]]:
        """``{node: {kind, address, ops}}``: what ``harness up --json`` reports."""
        return {
            name: {"kind": s.kind, "address": s.address, "ops": s.ops_url}
            for name, s in self.servers.items()
        }

    def peer_endpoint(self, name: str, identity: Any) -> GrpcPeer:
        """A gRPC client for peer ``name`` acting as ``identity``."""
        peer = self.network.peers[name]
        return GrpcPeer(
            name, peer.msp_id, self._channel(name, peer, identity), identity
        )

    def orderer_endpoint(self, name: str, identity: Any = None) -> GrpcOrderer:
        """A gRPC client for orderer ``name`` (``identity``'s TLS key for mutual TLS)."""
        return GrpcOrderer(name, self._channel(name, None, identity))

    def _channel(self, name: str, peer: Any, client: Any = None) -> Any:
        server = self.servers[name]
        if self.tls == "none":
            return channel_to(server.address)
        files = _tls_files(self.network, name, peer)
        client_cert = None
        if self.tls == "mutual" and client is not None and client.tls_dir is not None:
            own = TlsFiles.in_folder(Path(client.tls_dir), "client")
            client_cert = (own.key.read_bytes(), own.certificate.read_bytes())
        return channel_to(
            server.address,
            tls_ca=files.ca.read_bytes(),
            client_cert=client_cert,
            host_override=tls_host_name(self.network, name, peer),
        )


def serve_network(
    network: Any, *, ports: PortBlock | None = None, tls: TlsMode = "none"
) -> ServedNetwork:
    """Serve every peer and orderer of ``network`` and write its connection profile."""
    spec = network.spec
    block = ports if ports is not None else allocate_ports(spec.ports)
    assigned = block.assign(spec.node_names, _PORTS_PER_NODE)
    servers: dict[str, NodeServer] = {}
    try:
        for name in spec.orderer.nodes:
            grpc_port, ops_port = assigned[name]
            servers[name] = serve_orderer(
                name,
                network.orderer,
                port=grpc_port,
                ops_port=ops_port,
                health=_orderer_health(network, name),
                metrics=_orderer_metrics(network, name),
                tls=tls,
                tls_files=_tls_files(network, name, None) if tls != "none" else None,
            )
        for name, peer in network.peers.items():
            grpc_port, ops_port = assigned[name]
            servers[name] = serve_peer(
                peer,
                network,
                port=grpc_port,
                ops_port=ops_port,
                health=_peer_health(peer),
                metrics=_peer_metrics(peer),
                tls=tls,
                tls_files=_tls_files(network, name, peer) if tls != "none" else None,
            )
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    served = ServedNetwork(network=network, servers=servers, tls=tls)
    served.profile = connection_profile(network, served)
    network.run.write_json(PROFILE_NAME, served.profile)
    log.info("network %s on the wire: %d nodes", spec.name, len(servers))
    return served


@contextmanager
def served(network: Any, **options: Any) -> Iterator[ServedNetwork]:
    on_wire = serve_network(network, **options)
    try:
        yield on_wire
    finally:
        on_wire.stop()


def _tls_files(network: Any, name: str, peer: Any) -> TlsFiles:
    roots = _client_roots(network)
    if peer is not None:
        files = TlsFiles.in_folder(Path(peer.identity.tls_dir))
        return dataclasses.replace(files, client_roots=roots)
    identity = getattr(network, "orderer_identities", {}).get(name)
    if identity is None or identity.tls_dir is None:
        raise HarnessError(f"orderer {name} has no TLS folder in this network")
    files = TlsFiles.in_folder(Path(identity.tls_dir))
    return dataclasses.replace(files, client_roots=roots)


def _client_roots(network: Any) -> bytes | None:
    """Every org's TLS CA: a mutual-TLS node accepts clients of any org."""
    orgs = getattr(network, "orgs", {})
    pems = [org.tls_ca.certificate.public_bytes(Encoding.PEM) for org in orgs.values()]
    return b"".join(pems) or None


def _peer_health(peer: Any) -> HealthCheck:
    def check() -> dict[str, str | None]:
        if not getattr(peer, "running", True):
            return {"peer": f"peer {peer.name} is stopped"}
        faults = getattr(peer, "faults", None)
        if faults is not None and faults.paused:
            return {"peer": f"peer {peer.name} is paused"}
        alive = getattr(peer, "committer_alive", None)
        result: dict[str, str | None] = {}
        for channel in peer.channels:
            failed = alive is not None and not alive(channel)
            result[f"committer:{channel}"] = (
                "committer is not running" if failed else None
            )
        return result

    return check


def _peer_metrics(peer: Any) -> Metrics:
    def collect() -> list[tuple[str, dict[str, str], float]]:
        return [
            ("ledger_blockchain_height", {"channel": c}, float(peer.ledger(c).height))
            for c in peer.channels
        ]

    return collect


def _orderer_health(network: Any, name: str) -> HealthCheck:
    def check() -> dict[str, str | None]:
        result: dict[str, str | None] = {}
        for channel in network.spec.channels:
            states = network.orderer(channel.name).node_states()
            state = states.get(name, "unknown")
            stopped = state.startswith("stopped") or "paused" in state
            result[f"consensus:{channel.name}"] = (
                f"orderer {state}" if stopped else None
            )
        return result

    return check


def _orderer_metrics(network: Any, name: str) -> Metrics:
    def collect() -> list[tuple[str, dict[str, str], float]]:
        samples = []
        for channel in network.spec.channels:
            orderer = network.orderer(channel.name)
            labels = {"channel": channel.name}
            samples.append(("ledger_blockchain_height", labels, float(orderer.height)))
            changes = getattr(orderer, "leader_changes", None)
            if changes is not None:
                samples.append(
                    ("consensus_etcdraft_leader_changes", labels, float(changes))
                )
        return samples

    return collect


def connection_profile(network: Any, served: ServedNetwork) -> dict[str, Any]:
    """The common connection profile Fabric SDKs load (fabric-sdk-py's keys included)."""
    spec = network.spec
    peers = {
        name: _profile_node(network, served, name, peer)
        for name, peer in network.peers.items()
    }
    orderers = {
        name: _profile_node(network, served, name, None) for name in spec.orderer.nodes
    }
    organizations: dict[str, Any] = {}
    for org in spec.orgs:
        organizations[org.name] = {
            "mspid": org.msp_id,
            "peers": list(org.peers),
            "users": _profile_users(network, org),
        }
    channels = {
        channel.name: {
            "orderers": list(spec.orderer.nodes),
            "peers": {
                peer: {
                    "endorsingPeer": True,
                    "chaincodeQuery": True,
                    "ledgerQuery": True,
                    "eventSource": True,
                }
                for org_name in channel.orgs
                for peer in spec.org(org_name).peers
            },
        }
        for channel in spec.channels
    }
    return {
        "name": spec.name,
        "version": "1.0.0",
        "x-type": "hlfv1",
        "client": {
            "organization": spec.peer_orgs[0].name if spec.peer_orgs else "",
            # fabric-sdk-py keeps its users' state there and cannot start without it.
            "credentialStore": {
                "path": str(Path(network.run.path) / "credential-store")
            },
        },
        "channels": channels,
        "organizations": organizations,
        "orderers": orderers,
        "peers": peers,
        "certificateAuthorities": {},
        "x-harness": {
            "host": HOST,
            "tls": served.tls,
            "run_dir": str(network.run.path),
        },
    }


def _profile_node(
    network: Any, served: ServedNetwork, name: str, peer: Any
) -> dict[str, Any]:
    """A peer's or orderer's entry, in the form fabric-sdk-py reads.

    fabric-sdk-py hands ``url`` to gRPC as the target, so it carries no ``grpc://``
    or ``grpcs://`` scheme (gRPC cannot resolve one), and it opens a TLS channel
    exactly when ``tlsCACerts.path`` is not empty: empty for a plaintext network.
    """
    tls_ca = "" if served.tls == "none" else str(_tls_files(network, name, peer).ca)
    return {
        "url": served.servers[name].address,
        "grpcOptions": {
            "grpc.ssl_target_name_override": tls_host_name(network, name, peer)
        },
        "tlsCACerts": {"path": tls_ca},
    }


def tls_host_name(network: Any, name: str, peer: Any) -> str:
    """The host name a client must expect: one of the node's TLS certificate names
    (its full name, e.g. ``peer0.org1.example.com``), not the spec's short name."""
    identity = peer.identity if peer is not None else None
    if identity is None:
        identity = getattr(network, "orderer_identities", {}).get(name)
    return str(identity.name) if identity is not None else name


def _profile_users(network: Any, org: Any) -> dict[str, Any]:
    """Users with their certificate and, for software keys, their key file."""
    users: dict[str, Any] = {}
    for user in network.spec.users:
        if user.org not in (org.name, org.msp_id):
            continue
        identity = network.user(org.name, user.name)
        signcerts = sorted((Path(identity.msp_dir) / "signcerts").glob("*.pem"))
        keys = sorted((Path(identity.msp_dir) / "keystore").glob("*"))
        users[user.name] = {
            "cert": str(signcerts[0]) if signcerts else "",
            "private_key": str(keys[0]) if keys else "",
            "key_in_hsm": not keys,
        }
    return users
