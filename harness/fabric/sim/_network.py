"""A whole simulated Fabric network in this process, built from a network spec.

:meth:`SimNetwork.start` creates the orgs' CAs and identities under
``<run>/crypto`` (keys on a per-run SoftHSM2 token for orgs stored ``hsm``), a Raft
ordering cluster per channel, the peers with their ledgers under
``<run>/peers/<peer>/<channel>/``, joins every channel and defines its chaincodes,
then waits, by probe and with a deadline, until every orderer cluster has a leader
and every committer runs. The run folder gets ``status``, ``spec.yaml`` and
``logs/<node>.log``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import ConfigError, HarnessError, ReadinessTimeoutError
from harness.fabric._messages import serialize_identity
from harness.fabric.sim._faults import (
    apply_node_fault,
    apply_orderer_fault,
    check_fraction,
    check_latency_ms,
)
from harness.fabric.sim._genesis import channel_genesis
from harness.fabric.sim._ledger import StateSnapshot
from harness.fabric.sim._msp import Msp, MspManager
from harness.fabric.sim._orderer import NODE_LOGGER, RaftCluster, ThreadedRuntime
from harness.fabric.sim._ordering import OrderingService
from harness.fabric.sim._peer import ChannelConfig, Peer
from harness.fabric.sim._policy import (
    Policy,
    default_org_policies,
    evaluate,
    parse_policy,
    resolve,
)
from harness.identity import Identity, Organization, OrgKind
from harness.runs import RunDir

if TYPE_CHECKING:  # harness.spec imports the policy module of this package
    from harness.spec import NetworkSpec

log = logging.getLogger(__name__)

RuntimeName = Literal["threaded"]
READY_TIMEOUT_S = 30.0
_PROBE_INTERVAL_S = 0.005
_LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


@dataclass(frozen=True)
class _Member:
    """A peer as a policy sees it (what ``evaluate`` needs)."""

    msp_id: str
    role: str
    id_bytes: bytes


@dataclass(frozen=True)
class NetworkSnapshot:
    """Every peer's world state per channel, and the nodes that ran, at one moment.

    Taken by :meth:`SimNetwork.snapshot`, put back by :meth:`SimNetwork.restore`.
    """

    states: Mapping[tuple[str, str], StateSnapshot]  # (peer, channel) -> state
    heights: Mapping[tuple[str, str], int]
    running: frozenset[str]


class SimNetwork:
    """A running simulated network: peers, ordering services, users and faults."""

    def __init__(self, spec: NetworkSpec, run: RunDir) -> None:
        self.spec = spec
        self.run = run
        self.peers: dict[str, Peer] = {}
        self.orgs: dict[str, Organization] = {}
        self.orderer_identities: dict[str, Identity] = {}
        self._users: dict[tuple[str, str], Identity] = {}
        self._ordering: dict[str, OrderingService] = {}
        self._runtimes: list[ThreadedRuntime] = []
        self._policies: dict[str, dict[str, Policy]] = {}
        self._token: Any | None = None
        self._log_handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._stopped = False
        self._lock = threading.Lock()
        self.ready_s: float | None = None

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        spec: NetworkSpec,
        run: RunDir,
        *,
        runtime: RuntimeName = "threaded",
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> SimNetwork:
        """Bring the network up and return it once it is ready."""
        if runtime != "threaded":
            raise ConfigError(f"runtime {runtime!r} is not supported; use 'threaded'")
        from harness.spec import dump_spec

        started = time.monotonic()
        network = cls(spec, run)
        try:
            run.set_status("starting")
            run.write_text("spec.yaml", dump_spec(spec))
            network._attach_logs()
            network._create_identities()
            network._start_orderers()
            network._start_peers()
            network._wait_ready(ready_timeout)
        except BaseException:
            network.stop()
            raise
        network.ready_s = time.monotonic() - started
        run.set_status("ready")
        log.info(
            "network %s up: %d orgs, %d peers, %d orderers, %d channels in %.2f s",
            spec.name,
            len(spec.orgs),
            len(network.peers),
            len(spec.orderer.nodes),
            len(spec.channels),
            network.ready_s,
        )
        return network

    def __enter__(self) -> SimNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every node, close the token, detach the log files. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for peer in self.peers.values():
            peer.stop()
        for runtime in self._runtimes:
            runtime.close()
        if self._token is not None:
            self._token.close()
            self._token = None
        for logger, handler in self._log_handlers:
            logger.removeHandler(handler)
            handler.close()
        self._log_handlers.clear()
        if self.run.path.exists():
            self.run.set_status("stopped")
        log.info("network %s stopped", self.spec.name)

    # --- what clients use ------------------------------------------------------------

    def orderer(self, channel: str) -> OrderingService:
        """The channel's ordering service (Broadcast, Deliver, height)."""
        service = self._ordering.get(channel)
        if service is None:
            raise ConfigError(
                f"no channel {channel!r} in network {self.spec.name}",
                hint=f"channels: {', '.join(self._ordering)}",
            )
        return service

    def user(self, org: str, name: str) -> Identity:
        """A user of the spec, by org name or MSP id and user name."""
        try:
            org_name = self.spec.org(org).name
        except KeyError:
            raise ConfigError(
                f"no org {org!r} in network {self.spec.name}",
                hint=f"orgs: {', '.join(o.name for o in self.spec.orgs)}",
            ) from None
        identity = self._users.get((org_name, name))
        if identity is None:
            known = [user for (o, user) in self._users if o == org_name]
            raise ConfigError(
                f"no user {name!r} in {org_name}",
                hint=f"users of {org_name}: {', '.join(known) or 'none'}",
            )
        return identity

    def policy(self, channel: str, chaincode: str) -> Policy:
        """A chaincode's endorsement policy on a channel, resolved."""
        policy = self._policies.get(channel, {}).get(chaincode)
        if policy is None:
            raise ConfigError(f"chaincode {chaincode!r} is not defined on {channel!r}")
        return policy

    def endorsers(self, channel: str, chaincode: str) -> list[Peer]:
        """Running peers, at most one per org, that satisfy the chaincode policy."""
        policy = self.policy(channel, chaincode)
        candidates: dict[str, Peer] = {}
        for peer in self.peers.values():
            if peer.running and channel in peer.channels:
                candidates.setdefault(peer.msp_id, peer)
        peers = list(candidates.values())
        for size in range(1, len(peers) + 1):
            for chosen in itertools.combinations(peers, size):
                if evaluate(policy, [_member(peer) for peer in chosen]):
                    return list(chosen)
        raise HarnessError(
            f"no set of running peers satisfies the policy of {chaincode} on {channel}",
            hint="start the stopped peers",
        )

    # --- faults ----------------------------------------------------------------------

    @property
    def node_names(self) -> tuple[str, ...]:
        return self.spec.node_names

    def stop_node(self, name: str) -> None:
        """Crash a peer or an orderer node (its disk state stays)."""
        if name in self.peers:
            self.peers[name].stop()
        elif name in self.spec.orderer.nodes:
            for service in self._ordering.values():
                service.stop_node(name)
        else:
            raise self._unknown_node(name)
        log.info("fault: %s stopped", name)

    def start_node(self, name: str) -> None:
        """Restart a node stopped by :meth:`stop_node`; it catches up."""
        if name in self.peers:
            self.peers[name].start()
        elif name in self.spec.orderer.nodes:
            for service in self._ordering.values():
                service.start_node(name)
        else:
            raise self._unknown_node(name)
        log.info("fault: %s started", name)

    def pause_node(self, name: str) -> None:
        """Freeze a node: a peer's endorser waits then answers UNAVAILABLE and its
        committer stops; an orderer neither ticks nor reads its Raft messages."""
        self._fault(name, "pause")

    def resume_node(self, name: str) -> None:
        """Undo :meth:`pause_node`; buffered work goes on."""
        self._fault(name, "resume")

    def set_latency(self, name: str, ms: float) -> None:
        """Delay a node's messages by ``ms`` (0 removes the latency)."""
        self._fault(name, "latency", check_latency_ms(ms))

    def set_drop(self, name: str, fraction: float, seed: int | None = None) -> None:
        """Drop ``fraction`` (0..1) of a node's messages, from a seeded RNG."""
        self._fault(name, "drop", check_fraction(fraction), seed)

    def _fault(
        self, name: str, action: str, value: float = 0.0, seed: int | None = None
    ) -> None:
        if name in self.peers:
            apply_node_fault(self.peers[name], action, value, seed)
        elif name in self.spec.orderer.nodes:
            for service in self._ordering.values():
                apply_orderer_fault(service, name, action, value, seed)
        else:
            raise self._unknown_node(name)
        log.info("fault: %s %s %s", action, name, f"{value:g}" if value else "")

    def node_states(self) -> dict[str, str]:
        """Every node's state in words, for status output and timeout reports."""
        states: dict[str, str] = {}
        for channel, service in self._ordering.items():
            for name, state in service.node_states().items():
                states[f"{name}/{channel}"] = state
        for name, peer in self.peers.items():
            for channel in peer.channels:
                ledger = peer.ledger(channel)
                running = peer.running and peer.committer_alive(channel)
                word = "running" if running else "stopped"
                states[f"{name}/{channel}"] = f"{word} at height {ledger.height}"
                if peer.faults.describe():
                    states[f"{name}/{channel}"] += f" ({peer.faults.describe()})"
        return states

    # --- isolation -------------------------------------------------------------------

    # Per-test isolation restores world state rather than giving each test a channel
    # or a key prefix of its own: a test then sees exactly the keys the chaincodes
    # write (fixtures and checks need no namespacing), and a restore costs a copy of
    # a few hundred dict entries. Blocks, the tx index and heights are not rolled
    # back: they are history shared with the orderers, a chain cannot fork back, and
    # tx ids are unique anyway. A test that counts blocks or codes reads them from
    # the heights of the snapshot on.

    def snapshot(self, *, timeout: float = READY_TIMEOUT_S) -> NetworkSnapshot:
        """Copy every peer's world state once every peer has caught up with its
        orderers (so all peers hold the same committed point)."""
        self._settle(timeout)
        states: dict[tuple[str, str], StateSnapshot] = {}
        heights: dict[tuple[str, str], int] = {}
        for name, peer in self.peers.items():
            for channel in peer.channels:
                ledger = peer.ledger(channel)
                states[(name, channel)] = ledger.state.snapshot()
                heights[(name, channel)] = ledger.height
        return NetworkSnapshot(states, heights, frozenset(self._running_nodes()))

    def restore(
        self, snapshot: NetworkSnapshot, *, timeout: float = READY_TIMEOUT_S
    ) -> None:
        """Back to ``snapshot``: nodes stopped since are started again, every peer
        catches up, then each peer's world state is put back. Nothing on disk is
        truncated (see the comment above)."""
        stopped = snapshot.running - set(self._running_nodes())
        for name in sorted(stopped):
            self.start_node(name)
        if stopped:
            self._wait_ready(timeout)
        self._settle(timeout)
        for (name, channel), state in snapshot.states.items():
            self.peers[name].ledger(channel).state.restore(state)
        log.debug("network %s restored (%d restarted)", self.spec.name, len(stopped))

    def _running_nodes(self) -> list[str]:
        running = [name for name, peer in self.peers.items() if peer.running]
        for name in self.spec.orderer.nodes:
            services = self._ordering.values()
            if all(name in service.cluster.nodes for service in services):
                running.append(name)
        return running

    def _settle(self, timeout: float) -> None:
        """Wait until every running peer has committed every block its orderers
        have cut, so no commit lands after a snapshot or a restore."""
        deadline = time.monotonic() + timeout
        behind = self._peers_behind()
        for _ in _polls(deadline):
            behind = self._peers_behind()
            if not behind:
                return
        raise ReadinessTimeoutError(
            f"peers of network {self.spec.name} did not catch up with their orderers "
            f"within {timeout:.0f} s: {', '.join(behind)}; "
            f"node states: {self.node_states()}",
            hint=f"see the node logs in {self.run.path / 'logs'}",
        )

    def _peers_behind(self) -> list[str]:
        behind = []
        for name, peer in self.peers.items():
            if not peer.running:
                continue
            for channel in peer.channels:
                target = self._ordering[channel].height
                height = peer.ledger(channel).height
                if height < target:
                    behind.append(f"{name}/{channel} at {height} of {target}")
        return behind

    def _unknown_node(self, name: str) -> ConfigError:
        return ConfigError(
            f"no node {name!r} in network {self.spec.name}",
            hint=f"nodes: {', '.join(self.spec.node_names)}",
        )

    # --- building --------------------------------------------------------------------

    def _attach_logs(self) -> None:
        for node in self.spec.node_names:
            logger = logging.getLogger(f"{NODE_LOGGER}.{node}")
            handler = logging.FileHandler(self.run.log_path(node))
            handler.setFormatter(logging.Formatter(_LOG_FORMAT))
            logger.addHandler(handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            self._log_handlers.append((logger, handler))

    def _open_token(self) -> Any:
        from harness.hsm import SoftHsm, Token

        softhsm = SoftHsm.create(self.run.path / "softhsm")
        # The spec's PIN when it names one, else $HARNESS_HSM_PIN or the default.
        pin = self.spec.hsm.pin
        softhsm.init_token(self.spec.hsm.label, pin=pin)
        self._token = Token(softhsm, self.spec.hsm.label, pin=pin)
        return self._token

    def _create_identities(self) -> None:
        crypto = self.run.path / "crypto"
        token = None
        if any(org.identities == "hsm" for org in self.spec.orgs):
            token = self._open_token()
        orderer_org = self.spec.orderer.org
        for org in self.spec.orgs:
            kind: OrgKind = "orderer" if org.name == orderer_org else "peer"
            created = Organization.create(
                crypto, org.name, msp_id=org.msp_id, kind=kind
            )
            self.orgs[org.name] = created
            key_token = token if org.identities == "hsm" else None
            for peer in org.peers:
                identity = created.enroll(
                    _short(peer, org.name), "peer", token=key_token
                )
                self.peers[peer] = Peer(peer, identity, self.run.path / "peers" / peer)
            if kind == "orderer":
                for node in self.spec.orderer.nodes:
                    identity = created.enroll(node, "orderer", token=key_token)
                    self.orderer_identities[node] = identity
        for user in self.spec.users:
            org_name = self.spec.org(user.org).name
            key_token = token if self.spec.org(user.org).identities == "hsm" else None
            identity = self.orgs[org_name].enroll(user.name, user.role, token=key_token)
            self._users[(org_name, user.name)] = identity

    def _start_orderers(self) -> None:
        for seed, channel in enumerate(self.spec.channels):
            runtime = ThreadedRuntime()
            self._runtimes.append(runtime)
            cluster = RaftCluster(
                self.spec.orderer.nodes,
                channel.batch,
                self.spec.timing.raft,
                self.run.path / "orderers" / channel.name,
                runtime,
                seed=seed,
                genesis=channel_genesis(self.spec, channel.name, self.orgs),
            )
            service = OrderingService(channel.name, cluster, self.orderer_identities)
            self._ordering[channel.name] = service
            cluster.start()

    def _start_peers(self) -> None:
        for channel in self.spec.channels:
            config = self._channel_config(channel.name)
            for org_name in channel.orgs:
                for peer_name in self.spec.org(org_name).peers:
                    self.peers[peer_name].join(config, self._ordering[channel.name])

    def _channel_config(self, channel: str) -> ChannelConfig:
        members = [self.spec.org(name) for name in self.spec.channel(channel).orgs]
        msps = MspManager(
            Msp(
                org.msp_id,
                [self.orgs[org.name].root_ca.certificate],
                self.orgs[org.name].ca.intermediate_certificates,
            )
            for org in members
        )
        org_policies = {org.msp_id: default_org_policies(org.msp_id) for org in members}
        chaincodes = {}
        policies = {}
        for chaincode in self.spec.chaincodes:
            if channel in chaincode.channels:
                chaincodes[chaincode.name] = chaincode.implementation
                policies[chaincode.name] = resolve(
                    parse_policy(chaincode.endorsement_policy), org_policies
                )
        self._policies[channel] = policies
        return ChannelConfig(channel, msps, chaincodes, policies)

    # --- readiness -------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        checks: list[tuple[str, Callable[[], bool]]] = []
        for channel, service in self._ordering.items():
            checks.append((f"a Raft leader for {channel}", service.has_leader))
        for name, peer in self.peers.items():
            for channel in peer.channels:
                checks.append(
                    (
                        f"{name}'s committer on {channel}",
                        _bind(peer.committer_alive, channel),
                    )
                )
        deadline = time.monotonic() + timeout
        for what, probe in checks:
            for _ in _polls(deadline):
                if probe():
                    break
            else:
                raise ReadinessTimeoutError(
                    f"network {self.spec.name} not ready after {timeout:.0f} s: "
                    f"waiting for {what}; node states: {self.node_states()}",
                    hint=f"see the node logs in {self.run.path / 'logs'}",
                )


def _polls(deadline: float) -> Iterator[None]:
    """Yield until ``deadline``, pausing briefly between probes."""
    pause = threading.Event()
    while time.monotonic() < deadline:
        yield
        pause.wait(_PROBE_INTERVAL_S)


def _bind(probe: Callable[[str], bool], channel: str) -> Callable[[], bool]:
    return lambda: probe(channel)


def _member(peer: Peer) -> _Member:
    identity = peer.identity
    return _Member(
        identity.msp_id,
        "peer",
        serialize_identity(identity.msp_id, identity.certificate_pem),
    )


def _short(node: str, org_name: str) -> str:
    """``peer0`` for ``peer0.org1`` in org ``Org1`` (the domain adds the org)."""
    suffix = f".{org_name.lower()}"
    return node[: -len(suffix)] if node.endswith(suffix) else node


def peer_folder(run: Path, peer: str, channel: str) -> Path:
    """Where a peer keeps a channel's blocks in a run folder."""
    return run / "peers" / peer / channel
