"""Where every node of a spec lives: host names, ports, and its MSP and TLS folders.

The names follow the simulator's enrollment (``peer0.org1`` of org ``org1`` becomes
``peer0.org1.example.com``), so one crypto folder serves both backends. Inside a
container the crypto folder is mounted read-only at :data:`CRYPTO_MOUNT`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from harness.spec import NetworkSpec, Org, PortBlock

if TYPE_CHECKING:
    from harness.hsm import Token
    from harness.identity import Organization

log = logging.getLogger(__name__)

NodeKind = Literal["peer", "orderer"]

CRYPTO_MOUNT = PurePosixPath("/etc/hyperledger/crypto")
CONFIG_MOUNT = PurePosixPath("/etc/hyperledger/fabric")
SOFTHSM_MOUNT = PurePosixPath("/etc/hyperledger/softhsm")
SOFTHSM_LIBRARY = PurePosixPath("/usr/lib/softhsm/libsofthsm2.so")
DATA_MOUNT = PurePosixPath("/var/hyperledger/production")

# Ports inside a container; the host side comes from the spec's port block.
PEER_PORT = 7051
CHAINCODE_PORT = 7052
ORDERER_PORT = 7050
ADMIN_PORT = 7053
OPERATIONS_PORT = 9443
PORTS_PER_NODE = 3
ADMIN_USER = "Admin"


@dataclass(frozen=True)
class NodeLayout:
    """One peer or orderer: its names, host ports and folders."""

    name: str
    kind: NodeKind
    org: Org
    host: str
    msp_dir: Path
    tls_dir: Path
    listen_port: int
    operations_port: int
    extra_port: int

    @property
    def address(self) -> str:
        """``host:port`` other containers dial."""
        port = PEER_PORT if self.kind == "peer" else ORDERER_PORT
        return f"{self.host}:{port}"


def domain_of(org: Org) -> str:
    return f"{org.name.lower()}.example.com"


def org_folder(crypto_root: Path, spec: NetworkSpec, org: Org) -> Path:
    kind = "orderer" if org.name == spec.orderer.org else "peer"
    return crypto_root / f"{kind}Organizations" / domain_of(org)


def short_name(node: str, org: Org) -> str:
    """``peer0`` for ``peer0.org1`` of org ``org1`` (the domain adds the org)."""
    suffix = f".{org.name.lower()}"
    return node[: -len(suffix)] if node.endswith(suffix) else node


def in_container(crypto_root: Path, path: Path) -> PurePosixPath:
    """Where a file under ``crypto_root`` appears inside a container."""
    return CRYPTO_MOUNT / path.relative_to(crypto_root).as_posix()


def node_layouts(
    spec: NetworkSpec, crypto_root: Path, ports: PortBlock
) -> dict[str, NodeLayout]:
    """Every node, orderers first, with ports assigned from ``ports``."""
    assigned = ports.assign(spec.node_names, PORTS_PER_NODE)
    layouts: dict[str, NodeLayout] = {}
    orderer_org = spec.org(spec.orderer.org)
    for node in spec.orderer.nodes:
        host = f"{short_name(node, orderer_org)}.{domain_of(orderer_org)}"
        layouts[node] = _layout(
            spec,
            crypto_root,
            node=node,
            kind="orderer",
            org=orderer_org,
            host=host,
            ports=assigned[node],
        )
    for org in spec.orgs:
        for peer in org.peers:
            host = f"{short_name(peer, org)}.{domain_of(org)}"
            layouts[peer] = _layout(
                spec,
                crypto_root,
                node=peer,
                kind="peer",
                org=org,
                host=host,
                ports=assigned[peer],
            )
    return layouts


def _layout(
    spec: NetworkSpec,
    crypto_root: Path,
    *,
    node: str,
    kind: NodeKind,
    org: Org,
    host: str,
    ports: tuple[int, ...],
) -> NodeLayout:
    base = org_folder(crypto_root, spec, org) / f"{kind}s" / host
    return NodeLayout(
        name=node,
        kind=kind,
        org=org,
        host=host,
        msp_dir=base / "msp",
        tls_dir=base / "tls",
        listen_port=ports[0],
        operations_port=ports[1],
        extra_port=ports[2],
    )


def admin_dir(crypto_root: Path, spec: NetworkSpec, org: Org) -> Path:
    """The folder of the org's ``Admin`` user (its ``msp/`` and ``tls/``)."""
    return (
        org_folder(crypto_root, spec, org) / "users" / f"{ADMIN_USER}@{domain_of(org)}"
    )


def create_crypto(
    spec: NetworkSpec, crypto_root: Path, token: Token | None = None
) -> dict[str, Organization]:
    """CAs, node identities, the spec's users and an ``Admin`` per org, on disk.

    Orgs stored ``hsm`` get their keys generated on ``token`` (keystores stay empty);
    a missing token for such an org is a user's mistake.
    """
    from harness.errors import ConfigError
    from harness.identity import Organization

    created: dict[str, Organization] = {}
    for org in spec.orgs:
        if org.identities == "hsm" and token is None:
            raise ConfigError(
                f"org {org.name} keeps its identities in an HSM but no token was given",
                hint="open the run's SoftHSM2 token and pass it",
            )
        key_token = token if org.identities == "hsm" else None
        is_orderer = org.name == spec.orderer.org
        organization = Organization.create(
            crypto_root,
            org.name,
            msp_id=org.msp_id,
            kind="orderer" if is_orderer else "peer",
            domain=domain_of(org),
        )
        created[org.name] = organization
        for peer in org.peers:
            organization.enroll(short_name(peer, org), "peer", token=key_token)
        if is_orderer:
            for node in spec.orderer.nodes:
                organization.enroll(short_name(node, org), "orderer", token=key_token)
        users = [(u.name, u.role) for u in spec.users if u.org == org.name]
        if not any(name == ADMIN_USER for name, _ in users):
            users.append((ADMIN_USER, "admin"))
        for name, role in users:
            organization.enroll(name, role, token=key_token)
    log.info("crypto material for %s in %s", spec.name, crypto_root)
    return created
