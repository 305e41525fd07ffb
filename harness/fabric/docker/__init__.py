"""The real-Fabric backend: Fabric 2.5 configs rendered from a network spec, and
the network run in Docker containers through the Docker SDK.

>>> rendered = render_network(spec, run.path / "docker", crypto, ports)
>>> backend = DockerBackend(spec, run)
>>> backend.up()          # EngineUnavailableError when no Docker engine answers

Rendering needs no engine. A rendered core.yaml / orderer.yaml of an org stored
``hsm`` holds the token PIN (Fabric reads it only from there); such files are
written owner-only and the PIN is never logged.
"""

from harness.fabric.docker._backend import (
    DEFAULT_ENGINE,
    DockerBackend,
    engine_client,
    engine_problem,
    engine_url,
)
from harness.fabric.docker._layout import (
    CONFIG_MOUNT,
    CRYPTO_MOUNT,
    SOFTHSM_LIBRARY,
    NodeLayout,
    admin_dir,
    create_crypto,
    domain_of,
    node_layouts,
)
from harness.fabric.docker._render import (
    COMPOSE_FILE,
    ORDERER_IMAGE,
    PEER_IMAGE,
    RenderedNetwork,
    RenderOptions,
    bccsp_section,
    container_path_to_host,
    render_configtx,
    render_core,
    render_network,
    render_orderer,
)

__all__ = [
    "COMPOSE_FILE",
    "CONFIG_MOUNT",
    "CRYPTO_MOUNT",
    "DEFAULT_ENGINE",
    "ORDERER_IMAGE",
    "PEER_IMAGE",
    "SOFTHSM_LIBRARY",
    "DockerBackend",
    "NodeLayout",
    "RenderOptions",
    "RenderedNetwork",
    "admin_dir",
    "bccsp_section",
    "container_path_to_host",
    "create_crypto",
    "domain_of",
    "engine_client",
    "engine_problem",
    "engine_url",
    "node_layouts",
    "render_configtx",
    "render_core",
    "render_network",
    "render_orderer",
]
