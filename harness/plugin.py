"""The harness's pytest plugin (entry point ``pytest11``): the carbon accounting
system as fixtures, isolated per test.

Fixtures (a ``*_factory`` at session scope beside each plain one):

- ``fabric_network`` / ``fabric_network_factory``: the session's simulated network
  of the test's spec (``harness_network`` marker, else ``--harness-network``);
- ``eth_chain`` / ``eth_chain_factory``: the session's eth-tester chain;
- ``token_contract``: the token contract deployed on it, default roles registered;
- ``request_manager``: a Request Manager on the whole system;
- ``carbon_system``: all of them wired together (:class:`CarbonSystem`);
- ``hsm_token``: a fresh, logged-in SoftHSM2 token of the test's own.

Networks and chains start once per session (per xdist worker); every test that
uses them gets a snapshot taken before it and restored after it, so no test sees
another's data. A failing test's report carries the last lines of every node log;
the session ends with a line naming the run folders.

Heavy imports happen inside fixtures and hooks, so ``pytest --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness._pytest._session import (
    BACKENDS,
    LATEST,
    HarnessSession,
    Options,
    parse_backend,
)

if TYPE_CHECKING:
    from harness._pytest._isolation import Isolation
    from harness._pytest._system import CarbonSystem
    from harness.ethereum import Chain, TokenClient
    from harness.hsm import Token
    from harness.requestmanager import RequestManager

__all__ = [
    "MARKERS",
    "EthChainFactory",
    "FabricNetworkFactory",
    "session_of",
]

MARKERS = (
    "harness_network(spec): run the test on a network of this spec (a name under "
    "networks/ or a YAML path) instead of --harness-network",
    "hsm: needs a SoftHSM2 library (skipped with a reason when it is missing)",
    "slow: long-running; run with `tox -e slow`",
    "benchmark: measures speed; run with `tox -e bench`",
    "docker: needs a Docker engine (skipped with a reason when none answers)",
)

_SESSION = pytest.StashKey[HarnessSession]()
_ISOLATION = pytest.StashKey["Isolation"]()


# --- options, markers, session ---------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "carbon accounting harness")
    group.addoption(
        "--harness-network",
        metavar="SPEC",
        default=None,
        help="network spec of the harness fixtures (default: 'default')",
    )
    group.addoption(
        "--harness-backend",
        choices=BACKENDS,
        default="sim",
        help="Fabric backend of the fixtures: the simulator or Docker (default: sim)",
    )
    group.addoption(
        "--harness-keep",
        action="store_true",
        help="run networks in a background process and leave them up when a test "
        "fails; the summary says how to reach them",
    )
    group.addoption(
        "--harness-reuse",
        metavar="DIR",
        nargs="?",
        const=LATEST,
        default=None,
        help="attach to a network that 'harness up' started (its run folder; "
        "default: the latest one)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    from harness.runs import runs_root

    options = Options(
        network=config.getoption("harness_network", None) or "default",
        backend=parse_backend(config.getoption("harness_backend", None) or "sim"),
        keep=bool(config.getoption("harness_keep", False)),
        reuse=config.getoption("harness_reuse", None),
    )
    harness = HarnessSession.create(options, runs_root())
    config.stash[_SESSION] = harness
    config.pluginmanager.register(_CostCollector(harness), "harness-isolation-costs")


def session_of(config: pytest.Config) -> HarnessSession:
    """The plugin's state for this pytest process."""
    return config.stash[_SESSION]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop orphan daemons of earlier sessions, before xdist starts its workers
    (only the controller or a plain session reaps, never a worker)."""
    if hasattr(session.config, "workerinput"):
        return
    harness = session_of(session.config)
    if not harness.base.parent.exists():
        return
    from harness._pytest._reaper import reap

    spare = harness.reuse_target() if harness.options.reuse else None
    harness.reaped = reap(harness.base.parent, spare=spare.path if spare else None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    harness = session_of(session.config)
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        harness.failed = True
    harness.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION in config.stash:
        session_of(config).close()


# --- reports ------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report gets the last lines of every node log it used."""
    report = yield
    if not report.failed:
        return report
    harness = session_of(item.config)
    harness.failed = True
    runs = item.stash.get(_RUNS, None)
    if runs:
        from harness._pytest._logs import log_section

        report.sections.append(("harness node logs", log_section(runs)))
    return report


_RUNS = pytest.StashKey[list[Any]]()


class _CostCollector:
    """Collects each test's isolation cost from its teardown report, so an xdist
    controller sees its workers' tests too."""

    def __init__(self, harness: HarnessSession) -> None:
        self.harness = harness

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == "harness_isolation_ms" and isinstance(value, float | int):
                self.harness.isolation_ms.append(float(value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    harness = session_of(terminalreporter.config)
    lines = list(harness.reaped)
    if harness.isolation_ms:
        costs = sorted(harness.isolation_ms)
        mean = sum(costs) / len(costs)
        lines.append(
            f"per-test isolation: {len(costs)} tests, mean {mean:.2f} ms, "
            f"median {costs[len(costs) // 2]:.2f} ms, max {costs[-1]:.2f} ms"
        )
    for run in harness.started:
        lines.append(f"network run folder: {run.path}")
    for run in harness.kept:
        lines.append(
            f"network left up after the failure: {run.path}\n"
            f"    connection profile: {run.path / 'connection-profile.json'}\n"
            f"    attach: pytest --harness-reuse {run.path}\n"
            f"    stop:   harness down --run {run.path}"
        )
    if lines:
        terminalreporter.write_sep("-", "harness")
        for line in lines:
            terminalreporter.write_line(line)


# --- scenario files -------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from harness._pytest._scenarios import ScenarioFile, named_paths, wanted

    config = parent.config
    named = named_paths(config.args, config.invocation_params.dir)
    if wanted(file_path, named):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


# --- factories ------------------------------------------------------------------------


class FabricNetworkFactory:
    """Networks of the session: :meth:`get` the shared one of a spec (isolated per
    test by the plain fixtures), or :meth:`start` one of your own."""

    def __init__(self, harness: HarnessSession) -> None:
        self._harness = harness

    def get(self, spec: str | None = None) -> Any:
        """The session's shared network of ``spec`` (default: --harness-network)."""
        return self._harness.network(spec)

    def start(self, spec: str | None = None) -> Any:
        """A new network only you use; stopped at the end of the session."""
        return self._harness.start_network(spec)

    def client(
        self, network: Any, org: str | None = None, user: str | None = None
    ) -> Any:
        """A FabricClient of ``user`` of ``org`` (default: the first org's first user)."""
        return self._harness.client(network, org, user)


class EthChainFactory:
    """Chains of the session: :meth:`get` the shared one (with the token contract),
    or :meth:`start` a fresh one of your own."""

    def __init__(self, harness: HarnessSession) -> None:
        self._harness = harness

    def get(self) -> Chain:
        return self._harness.chain()[0]

    def token(self) -> TokenClient:
        """The token contract on the shared chain, default roles registered."""
        return self._harness.chain()[1]

    def start(self) -> Chain:
        """A fresh eth-tester chain, closed at the end of the session."""
        return self._harness.start_chain()


@pytest.fixture(scope="session")
def _harness(request: pytest.FixtureRequest) -> Iterator[HarnessSession]:
    harness = session_of(request.config)
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def fabric_network_factory(_harness: HarnessSession) -> FabricNetworkFactory:
    """Networks of the session (shared per spec, or your own)."""
    return FabricNetworkFactory(_harness)


@pytest.fixture(scope="session")
def eth_chain_factory(_harness: HarnessSession) -> EthChainFactory:
    """eth-tester chains of the session (the shared one, or your own)."""
    return EthChainFactory(_harness)


# --- per-test fixtures ------------------------------------------------------------------


@pytest.fixture
def _harness_isolation(
    request: pytest.FixtureRequest, _harness: HarnessSession
) -> Iterator[Isolation]:
    from harness._pytest._isolation import Isolation

    isolation = Isolation()
    request.node.stash[_ISOLATION] = isolation
    yield isolation
    isolation.restore()
    request.node.user_properties.append(
        ("harness_isolation_ms", round(isolation.seconds * 1000, 3))
    )


def _spec_of(request: pytest.FixtureRequest) -> str | None:
    marker = request.node.get_closest_marker("harness_network")
    if marker is None:
        return None
    spec = marker.args[0] if marker.args else marker.kwargs.get("spec")
    if not isinstance(spec, str):
        raise pytest.UsageError(
            "harness_network needs a spec: harness_network('default')"
        )
    return spec


def _shared_network(request: pytest.FixtureRequest, harness: HarnessSession) -> Any:
    network = harness.network(_spec_of(request))
    runs = request.node.stash.setdefault(_RUNS, [])
    if network.run not in runs:
        runs.append(network.run)
    return network


@pytest.fixture
def fabric_network(
    request: pytest.FixtureRequest,
    _harness: HarnessSession,
    _harness_isolation: Isolation,
) -> Any:
    """The session's network of this test's spec; its world state is put back
    after the test. A ``SimNetwork`` (an ``AttachedNetwork`` with --harness-keep
    or --harness-reuse)."""
    return _harness_isolation.guard(_shared_network(request, _harness))


@pytest.fixture
def eth_chain(_harness: HarnessSession, _harness_isolation: Isolation) -> Chain:
    """The session's eth-tester chain, reverted after the test."""
    chain, _ = _harness.chain()
    return _harness_isolation.guard(chain)  # type: ignore[no-any-return]


@pytest.fixture
def token_contract(eth_chain: Chain, _harness: HarnessSession) -> TokenClient:
    """The token contract on ``eth_chain``, with the default roles registered."""
    return _harness.chain()[1]


@pytest.fixture
def carbon_system(
    request: pytest.FixtureRequest,
    _harness: HarnessSession,
    _harness_isolation: Isolation,
    tmp_path: Path,
) -> CarbonSystem:
    """The whole system: network (seeded), client, chain, token contract."""
    from harness._pytest._system import CarbonSystem

    network = _harness_isolation.guard(_shared_network(request, _harness))
    chain, token = _harness.chain()
    _harness_isolation.guard(chain)
    return CarbonSystem(
        network=network,
        fabric=_harness.default_client(network),
        chain=chain,
        token=token,
        run=network.run,
        journal=tmp_path / "requestmanager" / "journal.jsonl",
        client_factory=lambda org, user: _harness.client(network, org, user),
        baseline_tokens=token.token_count(),
    )


@pytest.fixture
def request_manager(carbon_system: CarbonSystem) -> RequestManager:
    """A Request Manager on ``carbon_system``, journaling into the test's folder."""
    return carbon_system.request_manager()


@pytest.fixture
def hsm_token(_harness: HarnessSession) -> Iterator[Token]:
    """A new token of the test's own (default PINs), logged in, closed after the
    test. It lives in the SoftHSM2 home this process already serves, if a network
    holds its identities in one (a process serves one home at a time)."""
    from harness.errors import MissingDependencyError
    from harness.hsm import SoftHsm, Token, find_library

    try:
        find_library()
    except MissingDependencyError as exc:
        pytest.skip(f"SoftHSM2 is not available: {exc}")
    softhsm = SoftHsm.open(_harness.hsm_home())
    label = softhsm.init_token(_harness.next_token_label())
    with Token(softhsm, label) as token:
        yield token
