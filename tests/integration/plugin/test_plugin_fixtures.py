"""Fixtures, options, markers, failure reports and scenario items of the plugin,
seen from an inner pytest run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.spec import load_spec

SYSTEM_TESTS = """
import pytest
from harness.ethereum import Chain, TokenClient
from harness.fabric.sim import SimNetwork
from harness.hsm import Token
from harness.requestmanager import AuditRequest, RequestManager

def test_every_fixture(carbon_system, fabric_network, eth_chain, token_contract,
                       request_manager, hsm_token, fabric_network_factory,
                       eth_chain_factory):
    assert isinstance(fabric_network, SimNetwork)
    assert carbon_system.network is fabric_network
    assert fabric_network_factory.get() is fabric_network
    assert isinstance(eth_chain, Chain) and carbon_system.chain is eth_chain
    assert isinstance(token_contract, TokenClient)
    assert token_contract.roles("emissions_auditor").emissions_auditor
    assert isinstance(request_manager, RequestManager)
    assert isinstance(hsm_token, Token) and hsm_token.generate_key().ski
    assert eth_chain_factory.start() is not eth_chain
    party, uuids = carbon_system.record_emissions(2)
    result = request_manager.audit(AuditRequest("audit-1", tuple(uuids), party_id=party))
    assert result.status == "minted", result
    assert carbon_system.emissions(uuids[0])["tokenId"] == result.token_ref
    assert carbon_system.tokens_minted() == 1

def test_hsm_tokens_are_per_test(hsm_token):
    assert hsm_token.label.startswith("test-") and hsm_token.label != "ForFabric"
"""


def test_fixtures_give_the_whole_system_wired(inner) -> None:
    inner.pytester.makepyfile(test_system=SYSTEM_TESTS)
    result = inner.run("-q")
    result.assert_outcomes(passed=2)
    assert len(inner.network_runs()) == 1  # one shared network for the session
    result.stdout.fnmatch_lines(["*network run folder: *pytest-main*-network-*"])


def test_options_parse_and_are_documented(inner) -> None:
    result = inner.run("--help")
    result.stdout.fnmatch_lines(
        [
            "*--harness-network=SPEC*",
            "*--harness-backend={sim,docker}*",
            "*--harness-keep*",
            "*--harness-reuse*DIR*",
        ]
    )
    bad = inner.run("--harness-backend", "kubernetes")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--harness-backend*invalid choice*kubernetes*"])


def test_markers_are_registered_for_strict_markers(inner) -> None:
    inner.pytester.makepyfile(
        """
        import pytest

        @pytest.mark.harness_network("default")
        @pytest.mark.hsm
        @pytest.mark.docker
        @pytest.mark.slow
        def test_marked():
            pass
        """
    )
    result = inner.run("--strict-markers", "-q")
    result.assert_outcomes(passed=1)
    markers = inner.run("--markers")
    for name in ("harness_network(spec)", "hsm:", "docker:", "slow:"):
        markers.stdout.fnmatch_lines([f"@pytest.mark.{name}*"])


def test_harness_network_marker_and_option_choose_the_spec(inner) -> None:
    source = load_spec("default").source
    spec = inner.pytester.path / "tiny.yaml"
    text = Path(source).read_text().replace("name: default", "name: tiny", 1)
    spec.write_text(text.replace("identities: hsm", "identities: files"))
    inner.pytester.makepyfile(
        f"""
        import pytest

        def test_option(fabric_network):
            assert fabric_network.spec.name == "tiny"

        @pytest.mark.harness_network({source!r})
        def test_marker(fabric_network):
            assert fabric_network.spec.name == "default"
        """
    )
    result = inner.run("-q", "--harness-network", str(spec))
    result.assert_outcomes(passed=2)
    assert len(inner.network_runs()) == 2


def test_docker_backend_skips_with_the_engine_error(inner, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    inner.pytester.makepyfile(
        """
        def test_fabric(fabric_network):
            raise AssertionError("must not run")

        def test_chain_only(eth_chain):
            assert eth_chain.block_number() >= 0
        """
    )
    result = inner.run("-rs", "--harness-backend", "docker")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED*no Docker engine answers at unix:///nonexistent/docker.sock*"]
    )


def test_a_failing_test_reports_every_node_log(inner) -> None:
    inner.pytester.makepyfile(
        """
        def test_passes(carbon_system):
            carbon_system.record_emissions(1)

        def test_fails(carbon_system):
            carbon_system.record_emissions(1)
            assert False, "the check that failed"
        """
    )
    result = inner.run("-q")
    result.assert_outcomes(passed=1, failed=1)
    (run,) = inner.network_runs()
    result.stdout.fnmatch_lines(
        [
            "*harness node logs*",
            f"run folder {run}",
            f"--- orderer0 ({run}/logs/orderer0.log), last 20 lines:",
            "*orderer orderer0 started*",
            f"--- peer0.org1 ({run}/logs/peer0.org1.log), last 20 lines:",
            f"--- peer0.org2 ({run}/logs/peer0.org2.log), last 20 lines:",
            "*- harness -*",
            f"network run folder: {run}",
        ]
    )
    # one section, in the failing test's report only
    assert result.stdout.str().count("harness node logs") == 1


FAILING_SCENARIO = """
name: expects-too-much
network: default
steps:
  - seed
  - record: {as: bills, count: 1}
  - audit: {request: one, records: bills}
checks:
  - tokens-minted: 5
"""


def test_scenario_files_are_items_only_when_named(inner) -> None:
    folder = inner.pytester.mkdir("scenarios")
    (folder / "expects-too-much.yaml").write_text(FAILING_SCENARIO)
    (folder / "bench-load.yaml").write_text("name: bench-load\nworkload: {}\n")
    (folder / "notes.yaml").write_text("just: data\n")
    inner.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")

    unnamed = inner.run("-q", "--collect-only", ".")
    unnamed.stdout.fnmatch_lines(["*1 test collected*"])

    named = inner.run("-q", "scenarios/")
    named.assert_outcomes(failed=1)
    named.stdout.fnmatch_lines(
        [
            "*scenario expects-too-much failed (run folder *)",
            "*check tokens-minted: 1 minted, 5 expected",
        ]
    )
