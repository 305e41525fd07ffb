"""gRPC servers for simulator nodes, each with Fabric's operations endpoint.

A node listens on 127.0.0.1 only: its gRPC port serves Fabric's services, its
operations port serves ``GET /healthz`` (200 ``{"status":"OK"}`` or 503 with the
failed checks, as Fabric answers) and ``GET /metrics`` (Prometheus text).
TLS and mutual TLS take the node's files from its MSP's ``tls/`` folder.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import grpc
from fabric_protos.gateway import gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc, peer_pb2_grpc

from harness.errors import ConfigError
from harness.fabric.grpc._services import (
    AtomicBroadcastService,
    EndorserService,
    GatewayService,
    NetworkView,
    OrdererLookup,
    PeerDeliverService,
    PeerNode,
)

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TlsMode = Literal["none", "tls", "mutual"]
HealthCheck = Callable[[], dict[str, str | None]]  # check name -> failure or None
Metrics = Callable[[], list[tuple[str, dict[str, str], float]]]
_WORKERS = 16


@dataclass(frozen=True)
class TlsFiles:
    """A node's TLS key and certificate, its CA, and (for mutual TLS) the PEM bundle
    of every TLS CA whose client certificates it accepts (default: its own CA)."""

    key: Path
    certificate: Path
    ca: Path
    client_roots: bytes | None = None

    @classmethod
    def in_folder(cls, folder: Path, stem: str = "server") -> TlsFiles:
        return cls(folder / f"{stem}.key", folder / f"{stem}.crt", folder / "ca.crt")


class OperationsServer:
    """``/healthz`` and ``/metrics`` over HTTP on loopback."""

    def __init__(self, port: int, health: HealthCheck, metrics: Metrics) -> None:
        handler = _handler(health, metrics)
        try:
            self._http = ThreadingHTTPServer((HOST, port), handler)
        except OSError as exc:
            raise ConfigError(f"operations port {port} is not free: {exc}") from None
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name=f"ops-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _handler(health: HealthCheck, metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                failed = {name: error for name, error in health().items() if error}
                if failed:
                    checks = [{"component": n, "reason": r} for n, r in failed.items()]
                    body = {"status": "Service Unavailable", "failed_checks": checks}
                    self._reply(503, "application/json", json.dumps(body))
                else:
                    self._reply(200, "application/json", json.dumps({"status": "OK"}))
            elif self.path == "/metrics":
                self._reply(200, "text/plain; version=0.0.4", _prometheus(metrics()))
            else:
                self._reply(404, "text/plain", "not found\n")

        def _reply(self, code: int, kind: str, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("ops %s", format % args)

    return Handler


def _prometheus(samples: list[tuple[str, dict[str, str], float]]) -> str:
    lines = []
    for name, labels, value in samples:
        rendered = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines.append(
            f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}"
        )
    return "\n".join(lines) + "\n"


@dataclass
class NodeServer:
    """One node's listeners."""

    name: str
    kind: Literal["peer", "orderer"]
    port: int
    ops: OperationsServer
    grpc_server: Any
    tls: TlsMode

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://{HOST}:{self.ops.port}"

    def stop(self, grace: float = 0.5) -> None:
        self.grpc_server.stop(grace).wait(grace + 1)
        self.ops.stop()


def _grpc_server(port: int, tls: TlsMode, files: TlsFiles | None) -> tuple[Any, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=_WORKERS),
        options=[("grpc.so_reuseport", 0)],
    )
    address = f"{HOST}:{port}"
    if tls == "none":
        bound = server.add_insecure_port(address)
    else:
        if files is None:
            raise ConfigError("TLS was asked for but the node has no TLS files")
        roots = files.client_roots or files.ca.read_bytes()
        credentials = grpc.ssl_server_credentials(
            [(files.key.read_bytes(), files.certificate.read_bytes())],
            root_certificates=roots if tls == "mutual" else None,
            require_client_auth=tls == "mutual",
        )
        bound = server.add_secure_port(address, credentials)
    if bound == 0:
        raise ConfigError(f"gRPC port {port} is not free")
    return server, bound


def serve_peer(
    peer: PeerNode,
    network: NetworkView,
    *,
    port: int,
    ops_port: int,
    health: HealthCheck,
    metrics: Metrics,
    tls: TlsMode = "none",
    tls_files: TlsFiles | None = None,
) -> NodeServer:
    """Endorser, Deliver and Gateway for ``peer`` on ``port``."""
    server, bound = _grpc_server(port, tls, tls_files)
    peer_pb2_grpc.add_EndorserServicer_to_server(EndorserService(peer), server)
    events_pb2_grpc.add_DeliverServicer_to_server(PeerDeliverService(peer), server)
    gateway_pb2_grpc.add_GatewayServicer_to_server(
        GatewayService(peer, network), server
    )
    server.start()
    ops = OperationsServer(ops_port, health, metrics)
    log.info(
        "peer %s serving on %s:%d (ops %d, tls %s)",
        peer.name,
        HOST,
        bound,
        ops.port,
        tls,
    )
    return NodeServer(peer.name, "peer", bound, ops, server, tls)


def serve_orderer(
    name: str,
    orderer: OrdererLookup,
    *,
    port: int,
    ops_port: int,
    health: HealthCheck,
    metrics: Metrics,
    tls: TlsMode = "none",
    tls_files: TlsFiles | None = None,
) -> NodeServer:
    """AtomicBroadcast (Broadcast, Deliver) for orderer ``name`` on ``port``."""
    server, bound = _grpc_server(port, tls, tls_files)
    ab_pb2_grpc.add_AtomicBroadcastServicer_to_server(
        AtomicBroadcastService(orderer), server
    )
    server.start()
    ops = OperationsServer(ops_port, health, metrics)
    log.info(
        "orderer %s serving on %s:%d (ops %d, tls %s)", name, HOST, bound, ops.port, tls
    )
    return NodeServer(name, "orderer", bound, ops, server, tls)
