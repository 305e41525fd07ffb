"""Fabric's gRPC protocol for the simulator: the services its nodes serve and the
client endpoints that reach them (or a real Fabric network)."""

from harness.fabric.grpc._endpoints import (
    CommitStatus,
    EndpointError,
    FailoverOrderer,
    GrpcOrderer,
    GrpcPeer,
    channel_to,
)
from harness.fabric.grpc._network import (
    PROFILE_NAME,
    ServedNetwork,
    connection_profile,
    serve_network,
    served,
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
    "PROFILE_NAME",
    "CommitStatus",
    "EndpointError",
    "FailoverOrderer",
    "GrpcOrderer",
    "GrpcPeer",
    "NodeServer",
    "OperationsServer",
    "ServedNetwork",
    "TlsFiles",
    "TlsMode",
    "channel_to",
    "connection_profile",
    "filtered_block",
    "serve_network",
    "serve_orderer",
    "serve_peer",
    "served",
]
