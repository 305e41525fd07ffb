"""What one pytest process of the plugin owns: its run folders, the networks and
chains it started (shared per spec), and their teardown.

Networks run in this process on the simulator. With ``keep`` they run in a
``harness up``-style daemon instead, reached over gRPC, so one can outlive a failed
session; with ``reuse`` the session attaches to a daemon someone else started and
never stops it.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.ethereum import Chain, TokenClient

log = logging.getLogger(__name__)

Backend = Literal["sim", "docker"]
BACKENDS: tuple[Backend, ...] = ("sim", "docker")
DEFAULT_NETWORK = "default"
LATEST = "latest"
DATA_CHAINCODE = "utilityemissions"


@dataclass(frozen=True)
class Options:
    """The plugin's command-line options, parsed."""

    network: str = DEFAULT_NETWORK
    backend: Backend = "sim"
    keep: bool = False
    reuse: str | None = None  # a run folder, or LATEST


def worker_name() -> str:
    """``gw0``... under pytest-xdist, ``main`` otherwise."""
    return os.environ.get("PYTEST_XDIST_WORKER") or "main"


@dataclass
class _Network:
    """A network the session uses: in process, or a daemon it attached to."""

    network: Any  # SimNetwork or AttachedNetwork
    run: RunDir
    daemon: bool  # served by a daemon this session launched
    owned: bool  # this session stops it (not so for a reused one)
    seeded: bool = False


@dataclass
class HarnessSession:
    """Per pytest process: base run folder, shared networks and chains, cleanup."""

    options: Options
    base: Path
    shared: dict[str, _Network] = field(default_factory=dict)
    extra: list[_Network] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    shared_chain: tuple[Chain, TokenClient] | None = None
    isolation_ms: list[float] = field(default_factory=list)
    failed: bool = False
    kept: list[RunDir] = field(default_factory=list)
    started: list[RunDir] = field(default_factory=list)  # every network run folder
    reaped: list[str] = field(default_factory=list)
    _clients: dict[int, Any] = field(default_factory=dict)
    _hsm_home: Path | None = None
    _token_count: int = 0
    _closed: bool = False

    @classmethod
    def create(cls, options: Options, root: Path) -> HarnessSession:
        return cls(options, root.resolve() / f"pytest-{worker_name()}")

    # --- Fabric ----------------------------------------------------------------------

    def network(self, spec: str | None = None) -> Any:
        """The session's shared network of ``spec`` (started on first use); one
        whose spec runs the utilityemissions chaincode is seeded with the reference
        fixtures, so every test starts from the same seeded state."""
        name = spec or self.options.network
        if name not in self.shared:
            self.shared[name] = self._open(name)
        entry = self.shared[name]
        if not entry.seeded:
            self._seed(entry)
        return entry.network

    def start_network(self, spec: str | None = None) -> Any:
        """A new network of the caller's own, stopped at the end of the session."""
        entry = self._open(spec or self.options.network, reuse=False)
        self.extra.append(entry)
        return entry.network

    def _open(self, spec: str, *, reuse: bool = True) -> _Network:
        if self.options.backend == "docker":
            _skip_docker()
        entry = (
            self._attach_reused()
            if reuse and self.options.reuse is not None
            else self._start(spec)
        )
        self.started.append(entry.run)
        return entry

    def _start(self, spec: str) -> _Network:
        from harness.spec import load_spec

        loaded = load_spec(spec)  # a bad spec fails here, with its own message
        run = RunDir.create("network", self.base)
        if self.options.keep:
            from harness.fabric._daemon import launch
            from harness.fabric._reuse import attach

            launch(run, loaded.source)
            return _Network(attach(run), run, daemon=True, owned=True)
        from harness.fabric.sim import SimNetwork

        network = SimNetwork.start(loaded, run)
        return _Network(network, run, daemon=False, owned=True)

    def _attach_reused(self) -> _Network:
        from harness.fabric._reuse import attach

        run = self.reuse_target()
        assert run is not None
        return _Network(attach(run), run, daemon=True, owned=False)

    def reuse_target(self) -> RunDir | None:
        """The run folder ``--harness-reuse`` names (the latest ``network`` run)."""
        from harness.runs import runs_root

        if self.options.reuse is None:
            return None
        if self.options.reuse == LATEST:
            return RunDir.latest("network", runs_root().resolve(), command="harness up")
        return RunDir.open(Path(self.options.reuse))

    def _seed(self, entry: _Network) -> None:
        from harness.chaincode.seed import load_fixtures

        entry.seeded = True
        spec = entry.network.spec
        if not any(cc.name == DATA_CHAINCODE for cc in spec.chaincodes):
            return
        channel = next(c.name for c in spec.channels if c.name in _cc_channels(spec))
        load_fixtures(self.client(entry.network), channel)

    def client(
        self, network: Any, org: str | None = None, user: str | None = None
    ) -> Any:
        """A FabricClient of ``user`` of ``org`` (default: the first peer org's first
        user) on a shared or attached network."""
        spec = network.spec
        org = org or spec.peer_orgs[0].name
        if user is None:
            org_name = spec.org(org).name
            user = next(u.name for u in spec.users if spec.org(u.org).name == org_name)
        if hasattr(network, "client"):  # attached over gRPC
            return network.client(org, user)
        from harness.fabric.client import FabricClient

        return FabricClient.in_process(network, network.user(org, user))

    def default_client(self, network: Any) -> Any:
        """:meth:`client` with the defaults, made once per network."""
        if id(network) not in self._clients:
            self._clients[id(network)] = self.client(network)
        return self._clients[id(network)]

    def runs(self) -> list[RunDir]:
        """The run folders of the networks open now, shared ones first."""
        return [e.run for e in [*self.shared.values(), *self.extra]]

    # --- Ethereum --------------------------------------------------------------------

    def chain(self) -> tuple[Chain, TokenClient]:
        """The shared eth-tester chain, with the token contract deployed and the
        default roles registered before any test takes a snapshot of it."""
        if self.shared_chain is None:
            from harness.ethereum import TokenClient

            chain = self.start_chain()
            token = TokenClient.deploy(chain)
            token.register_default_roles()
            self.shared_chain = (chain, token)
        return self.shared_chain

    def start_chain(self) -> Chain:
        from harness.ethereum import Chain

        chain = Chain.eth_tester()
        self.chains.append(chain)
        return chain

    # --- SoftHSM2 --------------------------------------------------------------------

    def hsm_home(self) -> Path:
        """The SoftHSM2 home this process may open tokens in: the one an open
        network keeps its identities in (a process serves one home at a time), else
        the session's own."""
        for entry in [*self.shared.values(), *self.extra]:
            home = entry.run.path / "softhsm"
            if home.is_dir():
                return home
        if self._hsm_home is None:
            from harness.hsm import SoftHsm

            self._hsm_home = SoftHsm.create(self.base / "softhsm").home
        return self._hsm_home

    def next_token_label(self) -> str:
        self._token_count += 1
        return f"test-{os.getpid()}-{self._token_count}"

    # --- teardown --------------------------------------------------------------------

    def close(self) -> None:
        """Stop what this session started (idempotent); with ``keep`` and a failure,
        daemon networks stay up and are listed in :attr:`kept`."""
        if self._closed:
            return
        self._closed = True
        for entry in [*self.extra, *self.shared.values()]:
            _quietly(entry.network.close if entry.daemon else entry.network.stop)
            if not (entry.daemon and entry.owned):
                continue
            if self.options.keep and self.failed:
                self.kept.append(entry.run)
                continue
            from harness.fabric._daemon import shutdown

            _quietly(functools.partial(shutdown, entry.run))
        for chain in self.chains:
            _quietly(chain.close)
        self.shared.clear()
        self.extra.clear()
        self._clients.clear()


def _cc_channels(spec: Any) -> set[str]:
    for chaincode in spec.chaincodes:
        if chaincode.name == DATA_CHAINCODE:
            return set(chaincode.channels) or {c.name for c in spec.channels}
    return set()


def _skip_docker() -> None:
    import pytest

    from harness.fabric.docker import engine_problem

    problem = engine_problem()
    if problem is not None:
        pytest.skip(problem)
    # TODO(plugin-docker): run DockerBackend networks behind these fixtures; until
    # then a machine with an engine skips too, saying so.
    pytest.skip("the Docker backend is not wired to the harness fixtures yet")


def _quietly(action: Callable[[], Any]) -> None:
    """Teardown goes on past one part's failure; the failure is logged."""
    try:
        action()
    except (HarnessError, OSError) as exc:
        log.error("harness teardown: %s", exc)


def parse_backend(value: str) -> Backend:
    if value not in BACKENDS:
        raise ConfigError(f"--harness-backend must be one of {', '.join(BACKENDS)}")
    return "docker" if value == "docker" else "sim"
