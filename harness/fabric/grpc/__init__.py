"""Fabric's gRPC protocol for the simulator: the services its nodes serve and the
client endpoints that reach them (or a real Fabric network)."""

from harness.fabric.grpc._endpoints import (
    CommitStatus,
    EndpointError,
    GrpcOrderer,
    GrpcPeer,
    channel_to,
)
from harness.fabric.grpc._server import (
    NodeServer,
    OperationsServer,
    TlsFiles,
    TlsMode,
    serve_orderer,
    serve_peer,
)
from harness.fabric.grpc._services import filtered_block

__all__ = [
    "CommitStatus",
    "EndpointError",
    "GrpcOrderer",
    "GrpcPeer",
    "NodeServer",
    "OperationsServer",
    "TlsFiles",
    "TlsMode",
    "channel_to",
    "filtered_block",
    "serve_orderer",
    "serve_peer",
]
