"""Scenarios on a network another process serves: the checks read its ledgers over
the wire (queries and Deliver) and agree with what an in-process ledger holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.fabric._daemon import launch, shutdown
from harness.requestmanager import AuditRequest, OrchestratorCrash, RequestManager
from harness.runs import RunDir
from harness.scenario import parse_scenario, replay_blocks, run_scenario
from harness.scenario._system import (
    CHANNEL,
    DATA_CC,
    LOCK_CC,
    AttachedSystem,
    System,
)

LOCK_PREFIX = f"{DATA_CC}::"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunDir]:
    """The ``files`` network kept up by a daemon process, as ``harness up`` does;
    one per test, since locks one test leaves stay in the blocks the next replays
    (a snapshot restore puts back the world state, not the chain)."""
    run = RunDir.create("network", tmp_path / "network-runs")
    launch(run, "files")
    try:
        yield run
    finally:
        shutdown(run)


def _record(system: System, party: str, count: int) -> list[str]:
    uuids = []
    for month in range(1, count + 1):
        done = system.fabric.submit(
            CHANNEL,
            DATA_CC,
            "recordEmissions",
            [
                "USA_EIA_11208",
                party,
                f"2019-{month:02d}-01T00:00:00Z",
                f"2019-{month:02d}-28T23:59:59Z",
                "100",
                "kWh",
                f"https://bills/{party}/{month}",
                "m",
            ],
        )
        done.raise_for_code()
        uuids.append(json.loads(done.payload)["uuid"])
    return uuids


def _crash_after_lock(system: System, party: str) -> list[str]:
    """Two records locked by an orchestrator that dies before releasing them."""
    from harness.chaincode.seed import load_fixtures

    load_fixtures(system.fabric, CHANNEL)
    uuids = _record(system, party, 2)
    manager = RequestManager(system.fabric, system.token, crash_at="after-lock")
    with pytest.raises(OrchestratorCrash):
        manager.audit(AuditRequest(f"req-{party}", tuple(uuids), "consumer_1", party))
    return uuids


def test_replayed_blocks_match_the_in_process_world_state(tmp_path: Path) -> None:
    system = System.start("files", RunDir.create("network", tmp_path))
    try:
        uuids = _crash_after_lock(system, "replay-party")
        for name, peer in system.network.peers.items():
            ledger = peer.ledger(CHANNEL)
            replay = replay_blocks(ledger.block(n) for n in range(ledger.height))

            held = replay.keys(LOCK_CC, LOCK_PREFIX)
            assert held == sorted(system.locks()[name])
            assert held == sorted(LOCK_PREFIX + uuid for uuid in uuids)
            records = ledger.state.range(DATA_CC, "", "")
            assert {k: v.value for k, v in records} == replay.state[DATA_CC]
            assert replay.height == ledger.height
        assert replay.codes == system.tx_codes()
    finally:
        system.stop()


def test_an_attached_system_reads_locks_records_and_codes_over_the_wire(
    served: RunDir,
) -> None:
    system = AttachedSystem.attach(served)
    try:
        uuids = _crash_after_lock(system, "wire-party")

        locks = system.locks()
        assert set(locks) == {"peer0.org1", "peer0.org2"}
        for held in locks.values():
            assert {LOCK_PREFIX + uuid for uuid in uuids} <= set(held)
        record = system.record(uuids[0], peer="peer0.org2")
        assert record is not None
        assert record["uuid"] == uuids[0]
        assert record["tokenId"] is None
        assert system.record("no-such-record") is None
        assert system.tx_codes()["VALID"] >= 4
        assert system.height() >= 5
    finally:
        system.stop()


def test_a_scenario_passes_on_the_attached_network(
    served: RunDir, tmp_path: Path
) -> None:
    report = run_scenario("lock-record-mint", run_root=tmp_path, attach=served.path)

    assert report.passed, report.to_json()
    assert report.backend == "attached"
    assert report.network == "files"
    assert report.fabric["network_run"] == str(served.path)
    assert report.fabric["tx_by_code"]["VALID"] >= 10
    written = json.loads((Path(report.run_dir) / "report.json").read_text())
    assert written["passed"] is True


def test_leftover_locks_fail_no_locks_on_the_attached_network(
    served: RunDir, tmp_path: Path
) -> None:
    scenario = parse_scenario(
        {
            "name": "dies-holding-locks",
            "steps": [
                "seed",
                {"record": {"as": "b", "count": 2}},
                {"crash": {"request": "r", "records": "b", "at": "after-lock"}},
            ],
            "checks": ["no-locks"],
        }
    )

    report = run_scenario(scenario, run_root=tmp_path, attach=served)

    assert not report.passed
    assert report.checks[0].name == "no-locks"
    assert "still holds 2 lock(s)" in report.checks[0].detail


def test_a_network_spec_and_an_attached_run_are_refused_together(
    served: RunDir, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not both"):
        run_scenario("lock-record-mint", run_root=tmp_path, attach=served, network="x")


@pytest.mark.hsm
def test_hsm_identities_are_inspected_through_the_served_token(tmp_path: Path) -> None:
    run = RunDir.create("network", tmp_path / "network-runs")
    launch(run, "default")
    try:
        report = run_scenario("hsm-identities", run_root=tmp_path, attach=run)
    finally:
        shutdown(run)

    assert report.passed, [c.to_json() for c in report.steps + report.checks]
    check = next(c for c in report.checks if c.name == "hsm-identities")
    assert check.detail.startswith("7 HSM identities")
