"""``datalock``: every state transition and refusal, locks taken and freed through
``utilityemissions`` inside the same transaction, and racing lockers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from harness.chaincode.datalock import FINISHED, NOT_PROCESSING, PROCESSING, lock_key
from harness.fabric.sim import TxValidationCode

DL, UE = "datalock", "utilityemissions"
PARTY = "party-1"


@pytest.fixture
def uuids(ledger: Any, rows: Any) -> list[str]:
    """Three emissions records of the check-value utility, none minted."""
    assert ledger.submit(UE, "importUtilityFactor", *rows.MRO_2019).ok
    assert ledger.submit(UE, "importUtilityIdentifier", *rows.MRO_UTILITY).ok
    made = []
    for month in ("01", "02", "03"):
        response = ledger.submit(
            UE,
            "recordEmissions",
            "USA_TEST_MRO",
            PARTY,
            f"2019-{month}-01T00:00:00Z",
            f"2019-{month}-28T00:00:00Z",
            "100",
            "kWh",
            "url",
            "md5",
        )
        made.append(json.loads(response.payload)["uuid"])
    return made


def stage(tx_id: str, name: str, **fields: Any) -> str:
    return json.dumps({"tx_id": tx_id, "name": name, **fields})


def lock_valid(tx_id: str, keys: list[str], name: str = "GetValidEmissions") -> str:
    call = {UE: {"keys": keys, "params": ["getValidEmissions", *keys]}}
    return stage(tx_id, name, data_locks=call)


def free_minted(tx_id: str, keys: list[str], token: str = "0xT:1") -> str:
    call = {
        UE: {
            "keys": keys,
            "params": ["updateEmissionsMintedToken", token, PARTY, *keys],
        }
    }
    return stage(tx_id, "MintedTokenUpdate", data_free=call, is_last=True)


def details(ledger: Any, tx_id: str) -> Any:
    return ledger.json(DL, "getTxDetails", tx_id)


def holder(ledger: Any, key: str) -> str | None:
    entry = ledger.state.get(DL, lock_key(UE, key))
    return entry.value.decode() if entry is not None else None


def refused(response: Any, status: int, text: str) -> None:
    assert not response.ok
    assert response.status == status, response.message
    assert text in response.message, response.message


# --- transitions ---------------------------------------------------------------


def test_start_creates_processing_record(ledger: Any) -> None:
    response = ledger.submit(DL, "startTransitionProcess", "tx-1")

    record = details(ledger, "tx-1")
    assert json.loads(response.payload) == record
    assert record == {
        "tx_id": "tx-1",
        "state": PROCESSING,
        "current_stage": "",
        "stage_data": {},
    }


def test_second_start_while_processing_is_turned_away(ledger: Any) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")

    again = ledger.submit(DL, "startTransitionProcess", "tx-1")

    refused(again, 409, "found at PROCESSING")


def test_end_then_resume(ledger: Any, uuids: list[str]) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids[:2]))

    ended = ledger.submit(DL, "endTransitionProcess", "tx-1")
    held_while_ended = [holder(ledger, u) for u in uuids[:2]]
    resumed = ledger.submit(DL, "startTransitionProcess", "tx-1")

    assert json.loads(ended.payload)["state"] == NOT_PROCESSING
    assert held_while_ended == ["tx-1", "tx-1"]
    record = json.loads(resumed.payload)
    assert record["state"] == PROCESSING
    assert record["current_stage"] == "GetValidEmissions"


def test_end_when_not_processing_is_a_conflict(ledger: Any) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "endTransitionProcess", "tx-1")

    again = ledger.submit(DL, "endTransitionProcess", "tx-1")

    refused(again, 409, "found at NOT-PROCESSING")


def test_end_of_unknown_tx_is_not_found(ledger: Any) -> None:
    refused(ledger.submit(DL, "endTransitionProcess", "ghost"), 404, "ghost not found")


def test_finished_tx(ledger: Any, uuids: list[str]) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids))
    ledger.submit(DL, "stageUpdate", free_minted("tx-1", uuids))
    before = ledger.state.get(DL, "tx-1")

    ended = ledger.submit(DL, "endTransitionProcess", "tx-1")
    restarted = ledger.submit(DL, "startTransitionProcess", "tx-1")
    staged = ledger.submit(DL, "stageUpdate", stage("tx-1", "More"))

    assert ended.ok
    assert json.loads(ended.payload)["state"] == FINISHED
    assert ledger.state.get(DL, "tx-1").version == before.version  # no-op: no write
    refused(restarted, 409, "already at finished state")
    refused(staged, 409, "found at FINISHED")


def test_get_tx_details_of_unknown_tx(ledger: Any) -> None:
    refused(ledger.evaluate(DL, "getTxDetails", "ghost"), 404, "ghost not found")


# --- stageUpdate refusals -----------------------------------------------------


def test_stage_update_needs_a_known_tx(ledger: Any) -> None:
    refused(
        ledger.submit(DL, "stageUpdate", stage("ghost", "S")), 404, "ghost not found"
    )


def test_stage_update_needs_processing(ledger: Any) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "endTransitionProcess", "tx-1")

    response = ledger.submit(DL, "stageUpdate", stage("tx-1", "S"))

    refused(response, 409, "found at NOT-PROCESSING")


@pytest.mark.parametrize(
    ("argument", "text"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        (json.dumps({"name": "S"}), "tx_id"),
        (json.dumps({"tx_id": "tx-1"}), "stage name"),
        (stage("tx-1", "S", is_last="yes"), "is_last"),
        (stage("tx-1", "S", storage={"n": 1}), "storage"),
        (stage("tx-1", "S", data_locks=[]), "data_locks"),
        (stage("tx-1", "S", data_locks={UE: {"keys": "k"}}), "keys"),
        (stage("tx-1", "S", data_free={UE: {"keys": ["k"], "params": []}}), "params"),
        (stage("a::b", "S"), "'::'"),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-tx-id",
        "no-name",
        "is-last-text",
        "storage-number",
        "locks-list",
        "keys-string",
        "empty-params",
        "separator-in-tx-id",
    ],
)
def test_stage_update_bad_input(ledger: Any, argument: str, text: str) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")

    refused(ledger.submit(DL, "stageUpdate", argument), 400, text)


@pytest.mark.parametrize(
    "args",
    [(), ("tx-1", "extra")],
    ids=["none", "two"],
)
@pytest.mark.parametrize(
    "method",
    ["startTransitionProcess", "stageUpdate", "endTransitionProcess", "getTxDetails"],
)
def test_methods_take_one_argument(ledger: Any, method: str, args: tuple[str]) -> None:
    refused(ledger.evaluate(DL, method, *args), 400, "requires 1 argument")


def test_unknown_method(ledger: Any) -> None:
    refused(ledger.evaluate(DL, "unlockEverything", "x"), 400, "not supported")


def test_empty_tx_id(ledger: Any) -> None:
    refused(ledger.submit(DL, "startTransitionProcess", ""), 400, "tx_id")


# --- locking and freeing -----------------------------------------------------------


def test_lock_takes_the_keys_the_data_chaincode_returns(
    ledger: Any, uuids: list[str]
) -> None:
    ledger.submit(UE, "updateEmissionsMintedToken", "0xOld:1", PARTY, uuids[2])
    ledger.submit(DL, "startTransitionProcess", "tx-1")

    response = ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids))

    assert response.ok, response.message
    assert [holder(ledger, u) for u in uuids] == ["tx-1", "tx-1", None]
    to_client = json.loads(response.payload)["data_locks"][UE]
    records = json.loads(base64.b64decode(to_client))
    assert [r["uuid"] for r in records] == uuids[:2]
    record = details(ledger, "tx-1")
    assert record["current_stage"] == "GetValidEmissions"
    stored = record["stage_data"]["GetValidEmissions"]["output"][UE]["validUUIDs"]
    assert json.loads(base64.b64decode(stored)) == uuids[:2]


def test_locked_key_turns_a_second_tx_away(ledger: Any, uuids: list[str]) -> None:
    for tx in ("tx-1", "tx-2"):
        ledger.submit(DL, "startTransitionProcess", tx)
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids[:2]))

    second = ledger.submit(DL, "stageUpdate", lock_valid("tx-2", uuids[1:]))

    refused(second, 409, f"key = {uuids[1]} already locked")
    assert holder(ledger, uuids[2]) is None
    assert details(ledger, "tx-2")["current_stage"] == ""


def test_failing_data_chaincode_locks_nothing(ledger: Any, uuids: list[str]) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")

    response = ledger.submit(DL, "stageUpdate", lock_valid("tx-1", [uuids[0], "gone"]))

    refused(response, 409, "failed to execute chaincode utilityemissions")
    assert "STATE_NOT_FOUND" in response.message
    assert holder(ledger, uuids[0]) is None


def test_data_chaincode_reply_of_the_wrong_shape(ledger: Any, uuids: list[str]) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    call = {UE: {"keys": [], "params": ["getAllUtilityIdentifiers"]}}

    response = ledger.submit(DL, "stageUpdate", stage("tx-1", "S", data_locks=call))

    refused(response, 500, "invalid response from data chaincode utilityemissions")


def test_audit_flow_frees_and_finishes(ledger: Any, uuids: list[str]) -> None:
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids))
    stored = ledger.submit(
        DL, "stageUpdate", stage("tx-1", "StoreMintedToken", storage={"tokenId": "7"})
    )

    freed = ledger.submit(DL, "stageUpdate", free_minted("tx-1", uuids, "0xC:7"))

    assert stored.ok, stored.message
    assert freed.ok, freed.message
    assert [holder(ledger, u) for u in uuids] == [None, None, None]
    record = details(ledger, "tx-1")
    assert record["state"] == FINISHED
    assert record["current_stage"] == "MintedTokenUpdate"
    assert record["stage_data"]["StoreMintedToken"]["storage"] == {"tokenId": "7"}
    assert set(record["stage_data"]) == {
        "GetValidEmissions",
        "StoreMintedToken",
        "MintedTokenUpdate",
    }
    minted = ledger.json(UE, "getEmissionsData", uuids[0])
    assert minted["tokenId"] == "0xC:7"


def test_free_needs_the_lock_of_this_tx(ledger: Any, uuids: list[str]) -> None:
    for tx in ("tx-1", "tx-2"):
        ledger.submit(DL, "startTransitionProcess", tx)
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids[:1]))

    stolen = ledger.submit(DL, "stageUpdate", free_minted("tx-2", uuids[:1]))
    unlocked = ledger.submit(DL, "stageUpdate", free_minted("tx-2", uuids[1:2]))

    refused(stolen, 409, "data not locked for txID = tx-2")
    refused(unlocked, 409, f"key = {uuids[1]}")
    assert holder(ledger, uuids[0]) == "tx-1"
    assert ledger.json(UE, "getEmissionsData", uuids[0])["tokenId"] is None


def test_racing_lockers_one_commits_the_other_conflicts(
    ledger: Any, uuids: list[str]
) -> None:
    for tx in ("tx-1", "tx-2"):
        ledger.submit(DL, "startTransitionProcess", tx)

    results = ledger.race(
        (DL, "stageUpdate", lock_valid("tx-1", uuids[:2])),
        (DL, "stageUpdate", lock_valid("tx-2", uuids[1:])),
    )

    assert [response.ok for response, _ in results] == [True, True]  # both endorsed
    codes = [code for _, code in results]
    assert codes == [TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT]
    assert [holder(ledger, u) for u in uuids] == ["tx-1", "tx-1", None]
    assert details(ledger, "tx-2")["current_stage"] == ""


def test_abandoned_tx_keeps_its_locks(ledger: Any, uuids: list[str]) -> None:
    """The 2021 weakness kept on purpose: nothing ever expires a lock."""
    for tx in ("tx-1", "tx-2"):
        ledger.submit(DL, "startTransitionProcess", tx)
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids[:1]))
    ledger.submit(DL, "endTransitionProcess", "tx-1")

    later = ledger.submit(DL, "stageUpdate", lock_valid("tx-2", uuids[:1]))

    refused(later, 409, "already locked")
    assert holder(ledger, uuids[0]) == "tx-1"


def test_update_emissions_record_bypasses_locks(ledger: Any, uuids: list[str]) -> None:
    """The 2021 weakness kept on purpose: the data chaincode never asks datalock."""
    ledger.submit(DL, "startTransitionProcess", "tx-1")
    ledger.submit(DL, "stageUpdate", lock_valid("tx-1", uuids[:1]))
    record = ledger.json(UE, "getEmissionsData", uuids[0])
    fields = [
        uuids[0],
        record["utilityId"],
        PARTY,
        record["fromDate"],
        record["thruDate"],
        "999",
        "0",
        "100",
        "kWh",
        "tampered",
        "url",
        "md5",
        "",
    ]

    response = ledger.submit(UE, "updateEmissionsRecord", *fields)

    assert response.ok
    assert holder(ledger, uuids[0]) == "tx-1"
    assert ledger.json(UE, "getEmissionsData", uuids[0])["emissionsAmount"] == 999
