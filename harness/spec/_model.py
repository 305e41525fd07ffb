"""The network spec as typed, immutable values (what the loader returns)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IdentityStore = Literal["hsm", "files"]
Consensus = Literal["etcdraft"]
UserRole = Literal["client", "admin"]
ProfileName = Literal["test", "realistic"]
HashFamily = Literal["SHA2", "SHA3"]

RAFT_SIZES = (1, 3, 5)
HSM_SECURITY_LEVELS = (256, 384)


@dataclass(frozen=True)
class BatchSettings:
    """A channel's block-cutting settings (Fabric's ``Orderer.BatchSize`` et al.)."""

    timeout_s: float
    max_message_count: int
    absolute_max_bytes: int
    preferred_max_bytes: int


@dataclass(frozen=True)
class RaftSettings:
    """etcdraft options; election and heartbeat are counted in ticks."""

    tick_interval_s: float
    election_tick: int
    heartbeat_tick: int
    max_inflight_blocks: int = 5


@dataclass(frozen=True)
class TimingProfile:
    """Every timing knob of a network, under one name the spec states."""

    name: ProfileName
    batch: BatchSettings
    raft: RaftSettings


@dataclass(frozen=True)
class HsmSettings:
    """The per-run SoftHSM2 token that holds identities stored ``hsm``, and the
    BCCSP PKCS11 options a real Fabric node gets for it.

    ``pin`` is None unless a spec names one: the PIN then comes from
    ``$HARNESS_HSM_PIN`` or the SIG's default (see :func:`harness.hsm.resolve_pin`).
    """

    label: str = "ForFabric"
    pin: str | None = None
    hash: HashFamily = "SHA2"
    security: int = 256
    immutable: bool = False


@dataclass(frozen=True)
class Org:
    name: str
    msp_id: str
    ca: str
    identities: IdentityStore
    peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrdererService:
    org: str
    consensus: Consensus
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Channel:
    name: str
    orgs: tuple[str, ...]
    batch: BatchSettings


@dataclass(frozen=True)
class Chaincode:
    name: str
    implementation: str
    endorsement_policy: str
    channels: tuple[str, ...]
    version: str = "1.0"


@dataclass(frozen=True)
class User:
    name: str
    org: str
    role: UserRole


@dataclass(frozen=True)
class PortSettings:
    """Where a run's ports come from; see :func:`harness.spec.allocate_ports`."""

    base: int
    block_size: int
    per_worker: int


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    source: str
    timing: TimingProfile
    hsm: HsmSettings
    orgs: tuple[Org, ...]
    orderer: OrdererService
    channels: tuple[Channel, ...]
    chaincodes: tuple[Chaincode, ...]
    users: tuple[User, ...]
    ports: PortSettings

    def org(self, name: str) -> Org:
        """The org called ``name`` (by org name or MSP id)."""
        for org in self.orgs:
            if name in (org.name, org.msp_id):
                return org
        raise KeyError(name)

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)

    @property
    def peer_orgs(self) -> tuple[Org, ...]:
        return tuple(org for org in self.orgs if org.peers)

    @property
    def node_names(self) -> tuple[str, ...]:
        """Every peer and orderer, orderers first, in spec order."""
        peers = tuple(peer for org in self.orgs for peer in org.peers)
        return self.orderer.nodes + peers
