"""Fifty tests on ``carbon_system`` that would collide without per-test isolation:
each files the very same emissions record (its uuid is fixed by its fields), mints
token 1 and audits records, and checks it sees nothing of the others. The session
reports the isolation cost per test (snapshot before plus restore after)."""

from __future__ import annotations

import json

import pytest

from harness.fabric._daemon import daemon_pid
from harness.runs import RunDir

FIFTY = """
import pytest
from harness.requestmanager import AuditRequest

SAME = ["USA_EIA_11208", "same-party", "2019-06-01T00:00:00Z", "2019-06-30T23:59:59Z",
        "1000", "kWh", "https://bills/same", "md5"]
ONE_RECORD = 0.21995012469  # tons for 1000 kWh (a second filing is refused)

@pytest.mark.parametrize("n", range(50))
def test_isolated(carbon_system, n):
    system = carbon_system
    assert system.token.token_count() == 0
    assert system.chain.block_number() == START_BLOCK
    done = system.fabric.submit("utilityemissionchannel", "utilityemissions",
                                "recordEmissions", SAME).raise_for_code()
    uuid = json.loads(done.payload)["uuid"]
    record = system.emissions(uuid)
    assert record["tokenId"] is None
    assert abs(float(record["emissionsAmount"]) - ONE_RECORD) < 1e-9, record
    if n % 5 == 0:
        result = system.request_manager().audit(
            AuditRequest(f"audit-{n}", (uuid,), party_id="same-party"))
        assert result.status == "minted" and result.token_id == 1, result
        assert system.emissions(uuid)["tokenId"] == result.token_ref

@pytest.fixture(scope="session", autouse=True)
def _start_block(eth_chain_factory):
    global START_BLOCK
    START_BLOCK = eth_chain_factory.get().block_number()

import json
START_BLOCK = None
"""


def _fifty(inner) -> None:
    inner.pytester.makepyfile(test_fifty=FIFTY)


def test_fifty_tests_isolated_under_50_ms_each(inner, record_property) -> None:
    _fifty(inner)
    result = inner.run("-q")
    result.assert_outcomes(passed=50)
    tests, mean_ms = inner.isolation(result)
    record_property("isolation_mean_ms", mean_ms)
    assert tests == 50
    assert mean_ms < 50, f"per-test isolation costs {mean_ms:.2f} ms"
    print(f"per-test isolation over 50 carbon_system tests: mean {mean_ms:.2f} ms")


@pytest.mark.slow
def test_fifty_tests_on_two_xdist_workers_with_served_networks(inner) -> None:
    """``-n 2 --harness-keep``: each worker serves its own network over gRPC (so
    ports matter), with its own token directory and run folders."""
    _fifty(inner)
    result = inner.run("-q", "-n", "2", "--harness-keep", timeout=400)
    result.assert_outcomes(passed=50)
    tests, mean_ms = inner.isolation(result)
    assert tests == 50
    assert mean_ms < 50
    (run0,) = inner.network_runs("gw0")
    (run1,) = inner.network_runs("gw1")
    assert not set(inner.ports_of(run0)) & set(inner.ports_of(run1))
    assert (run0 / "softhsm").resolve() != (run1 / "softhsm").resolve()
    for run in (run0, run1):
        assert daemon_pid(RunDir(run)) is None  # stopped after a passing session
        nodes = json.loads((run / "nodes.json").read_text())
        assert all(node["address"].startswith("127.0.0.1:") for node in nodes.values())
