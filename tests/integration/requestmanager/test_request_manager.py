"""The Request Manager through the whole system: Fabric (simulated, reference
chaincodes, client path) and Ethereum (eth-tester, the token contract)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.requestmanager import (
    CRASH_POINTS,
    AuditRequest,
    AuditResult,
    CrashPoint,
    EmissionsDatePolicy,
    NaiveRequestManager,
    OrchestratorCrash,
    RequestManager,
    RequestManagerError,
)
from harness.requestmanager._orchestrator import STAGES

from .conftest import System

pytestmark = pytest.mark.usefixtures("system")


def _manager(system: System, **options: object) -> RequestManager:
    return RequestManager(system.fabric, system.token, **options)  # type: ignore[arg-type]


def _assert_audited(system: System, result: AuditResult, uuids: list[str]) -> None:
    """One token for the records, every record stamped with it, no lock left."""
    assert result.status == "minted", result.reason
    assert sorted(result.uuids) == sorted(uuids)
    for uuid_ in uuids:
        assert system.state("utilityemissions", uuid_)["tokenId"] == result.token_ref
        assert system.lock_holder(uuid_) is None
    details = system.state("datalock", result.request_id)
    assert details["state"] == "FINISHED"


def test_lock_record_mint_over_several_records(
    system: System, request_id: Callable
) -> None:
    party, uuids = system.record(3)
    records = [system.state("utilityemissions", u) for u in uuids]
    tokens_before = system.token.token_count()

    result = _manager(system).audit(
        AuditRequest(request_id("happy"), tuple(uuids), party_id=party)
    )

    _assert_audited(system, result, uuids)
    assert system.token.token_count() == tokens_before + 1
    expected = round(sum(round(r["emissionsAmount"], 3) for r in records) * 1000)
    assert result.quantity == expected
    details = system.token.token_details(result.token_id)
    assert details["token_type_id"] == 3
    assert details["description"] == "Audited Utility Emissions"
    assert sorted(json.loads(details["manifest"])["uuids"]) == sorted(uuids)
    balances = system.token.balances("consumer_1", result.token_id)
    assert (balances.available, balances.retired) == (0, expected)
    assert set(result.stages_ms) >= {"lock", "mint", "record", "unlock"}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_every_stage_boundary_is_resumed_exactly_once(
    system: System, request_id: Callable, point: CrashPoint, tmp_path: Path
) -> None:
    party, uuids = system.record(2)
    request = AuditRequest(request_id(point), tuple(uuids), party_id=party)
    tokens_before = system.token.token_count()

    with pytest.raises(OrchestratorCrash):
        _manager(system, crash_at=point, journal=tmp_path / "journal").audit(request)
    result = _manager(system, journal=tmp_path / "journal").resume(request.request_id)

    _assert_audited(system, result, uuids)
    assert system.token.token_count() == tokens_before + 1
    assert result.resumed


def test_recover_finishes_every_unfinished_request(
    system: System, request_id: Callable, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    requests = []
    for point in ("after-lock", "after-mint"):
        party, uuids = system.record(1)
        request = AuditRequest(request_id(point), tuple(uuids), party_id=party)
        with pytest.raises(OrchestratorCrash):
            _manager(system, crash_at=point, journal=journal).audit(request)
        requests.append(request)
    tokens_before = system.token.token_count()

    results = _manager(system, journal=journal).recover()

    assert sorted(r.request_id for r in results) == sorted(
        r.request_id for r in requests
    )
    assert all(result.status == "minted" for result in results)
    assert (
        system.token.token_count() == tokens_before + 1
    )  # one was minted before the crash


def test_two_auditors_on_overlapping_records_one_token(
    system: System, request_id: Callable
) -> None:
    party, uuids = system.record(3)
    first = AuditRequest(request_id("a"), tuple(uuids[:2]), party_id=party)
    second = AuditRequest(request_id("b"), tuple(uuids[1:]), party_id=party)
    results: dict[str, AuditResult] = {}
    barrier = threading.Barrier(2)
    tokens_before = system.token.token_count()

    def run(request: AuditRequest) -> None:
        barrier.wait()
        results[request.request_id] = _manager(system).audit(request)

    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(r.status for r in results.values())
    assert statuses == ["minted", "refused"]
    refused = next(r for r in results.values() if r.status == "refused")
    assert "already locked" in refused.reason or "MVCC_READ_CONFLICT" in refused.reason
    assert system.token.token_count() == tokens_before + 1
    assert all(system.lock_holder(u) is None for u in uuids)


def test_a_reverting_mint_changes_nothing_and_can_be_retried(
    system: System, request_id: Callable
) -> None:
    party, uuids = system.record(2)
    request = AuditRequest(request_id("revert"), tuple(uuids), party_id=party)
    system.token.unregister_dealer("emissions_auditor", 3)
    try:
        failed = _manager(system).audit(request)
    finally:
        system.token.register_dealer("emissions_auditor", 3)

    assert failed.status == "rolled-back"
    assert "mint reverted" in failed.reason
    for uuid_ in uuids:
        assert system.state("utilityemissions", uuid_)["tokenId"] is None
        assert system.lock_holder(uuid_) is None
    assert system.state("datalock", request.request_id)["state"] == "NOT-PROCESSING"

    retried = _manager(system).resume(request)
    _assert_audited(system, retried, uuids)


def test_emissions_date_policy_refuses_before_locking(
    system: System, request_id: Callable
) -> None:
    policy = EmissionsDatePolicy("06-30")
    party, late = system.record(1, thru="2019-12-31T23:59:59Z")
    _, early = system.record(1, thru="2019-06-01T00:00:00Z")

    refused = _manager(system, policy=policy).audit(
        AuditRequest(request_id("late"), tuple(late), party_id=party)
    )
    allowed = _manager(system, policy=policy).audit(
        AuditRequest(request_id("early"), tuple(early), party_id=party)
    )

    assert refused.status == "refused"
    assert late[0] in refused.reason
    assert system.state("datalock", refused.request_id) is None
    assert system.lock_holder(late[0]) is None
    assert allowed.status == "minted"


def test_a_stored_mint_whose_nonce_was_taken_is_replaced_not_lost(
    system: System, request_id: Callable
) -> None:
    party, uuids = system.record(1)
    request = AuditRequest(request_id("void"), tuple(uuids), party_id=party)
    with pytest.raises(OrchestratorCrash):
        _manager(system, crash_at="after-intent").audit(request)
    other_party, other = system.record(1)
    taken = _manager(system).audit(
        AuditRequest(request_id("taker"), tuple(other), party_id=other_party)
    )
    assert taken.status == "minted"  # it signed with the nonce the crashed one stored
    tokens_before = system.token.token_count()

    result = _manager(system).resume(request)

    _assert_audited(system, result, uuids)
    assert system.token.token_count() == tokens_before + 1


def test_the_naive_orchestrator_double_issues(
    system: System, request_id: Callable
) -> None:
    """The checks above can fail: the 2021-style flow mints twice after a crash."""
    party, uuids = system.record(1)
    request = AuditRequest(request_id("naive"), tuple(uuids), party_id=party)
    tokens_before = system.token.token_count()

    with pytest.raises(OrchestratorCrash):
        NaiveRequestManager(system.fabric, system.token, crash_at="after-mint").audit(
            request
        )
    NaiveRequestManager(system.fabric, system.token).resume(request)

    assert system.token.token_count() == tokens_before + 2


def test_already_minted_records_are_refused(
    system: System, request_id: Callable
) -> None:
    party, uuids = system.record(1)
    first = _manager(system).audit(
        AuditRequest(request_id("once"), tuple(uuids), party_id=party)
    )
    assert first.status == "minted"

    again = _manager(system).audit(
        AuditRequest(request_id("twice"), tuple(uuids), party_id=party)
    )

    assert again.status == "refused"
    assert "unminted" in again.reason


def test_a_rehearsal_makes_an_audit_s_fabric_calls_and_mints_nothing(
    system: System, request_id: Callable[[str], str]
) -> None:
    party, uuids = system.record(2)
    request = AuditRequest(request_id("rehearse"), tuple(uuids), party_id=party)
    intent = json.dumps({"stands_for": "the signed issue()"})
    token_ref = f"{system.token.address}:9999"
    tokens_before = system.token.token_count()

    _manager(system).rehearse_on_fabric(request, intent=intent, token_ref=token_ref)

    for uuid_ in uuids:
        assert system.state("utilityemissions", uuid_)["tokenId"] == token_ref
        assert system.lock_holder(uuid_) is None
    details = system.state("datalock", request.request_id)
    assert details["state"] == "FINISHED"
    assert sorted(details["stage_data"]) == sorted(STAGES)
    stored = details["stage_data"]
    assert stored["PrepareMint"]["storage"] == {"mintTx": intent}
    assert stored["StoreMintedToken"]["storage"] == {"tokenId": token_ref}
    assert system.token.token_count() == tokens_before


def test_a_second_rehearsal_of_one_request_is_refused(
    system: System, request_id: Callable[[str], str]
) -> None:
    party, uuids = system.record(1)
    request = AuditRequest(request_id("twice"), tuple(uuids), party_id=party)
    manager = _manager(system)
    manager.rehearse_on_fabric(request, intent="{}", token_ref="0x0:1")

    with pytest.raises(
        RequestManagerError,
        match=rf"rehearsal {request.request_id}: .*already at finished state",
    ):
        manager.rehearse_on_fabric(request, intent="{}", token_ref="0x0:2")

    assert system.state("utilityemissions", uuids[0])["tokenId"] == "0x0:1"


def test_a_rehearsal_of_an_unknown_record_is_refused_before_it_starts(
    system: System, request_id: Callable[[str], str]
) -> None:
    request = AuditRequest(request_id("unknown"), ("no-such-record",))

    with pytest.raises(RequestManagerError, match="record no-such-record"):
        _manager(system).rehearse_on_fabric(request, intent="{}", token_ref="0x0:1")

    assert system.state("datalock", request.request_id) is None


def test_a_rehearsal_of_records_another_request_holds_is_refused(
    system: System, request_id: Callable[[str], str]
) -> None:
    party, uuids = system.record(1)
    holder = AuditRequest(request_id("holder"), tuple(uuids), party_id=party)
    with pytest.raises(OrchestratorCrash):
        _manager(system, crash_at="after-lock").audit(holder)
    request = AuditRequest(request_id("blocked"), tuple(uuids), party_id=party)

    with pytest.raises(RequestManagerError, match="already locked"):
        _manager(system).rehearse_on_fabric(request, intent="{}", token_ref="0x0:1")

    assert system.lock_holder(uuids[0]) == holder.request_id
    assert system.state("datalock", request.request_id)["state"] == "NOT-PROCESSING"
    assert system.state("utilityemissions", uuids[0])["tokenId"] is None
    assert _manager(system).resume(holder).status == "minted"


def test_a_rehearsal_of_records_already_minted_is_refused_and_ended(
    system: System, request_id: Callable[[str], str]
) -> None:
    party, uuids = system.record(1)
    manager = _manager(system)
    manager.rehearse_on_fabric(
        AuditRequest(request_id("first"), tuple(uuids), party_id=party),
        intent="{}",
        token_ref="0x0:1",
    )
    again = AuditRequest(request_id("again"), tuple(uuids), party_id=party)

    with pytest.raises(RequestManagerError, match=f"rehearsal {again.request_id}"):
        manager.rehearse_on_fabric(again, intent="{}", token_ref="0x0:2")

    assert system.state("datalock", again.request_id)["state"] != "PROCESSING"
    assert system.state("utilityemissions", uuids[0])["tokenId"] == "0x0:1"
