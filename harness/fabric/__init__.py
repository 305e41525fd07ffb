"""Hyperledger Fabric: the network simulator (``harness.fabric.sim``) and, later, its
gRPC services, the harness's client and the Docker backend."""

__all__: list[str] = []
